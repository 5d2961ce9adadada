/*
 * dbev-harness fixtures: lists the fixture sets and loads one into a
 * database. Without --pg-dsn it starts a throwaway server, migrates it to the
 * latest version, loads the set, prints the row counts and tears the server
 * down (--keep leaves it running). With --pg-dsn it loads into that database
 * as it is (--migrate applies pending migrations first).
 * Exit codes: 0 loaded, 1 the load failed, 2 usage or harness error.
 */
#include "cli/commands.h"
#include "migrate/fixtures.h"
#include "migrate/migrate.h"
#include "env/pgenv.h"

#include <dirent.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dbev-harness fixtures list [--fixtures DIR]\n"
            "       dbev-harness fixtures load NAME[,NAME...] [options]\n"
            "\n"
            "options:\n"
            "  --pg-dsn DSN        load into this database (default: a throwaway server,\n"
            "                      migrated to the latest version first)\n"
            "  --migrate           with --pg-dsn: apply pending migrations first\n"
            "  --migrations DIR    default $DBEV_MIGRATIONS_DIR or %s/migrations\n"
            "  --fixtures DIR      default $DBEV_FIXTURES_DIR or %s/fixtures\n"
            "  --keep              leave the throwaway server running\n",
            DBEV_SOURCE_DIR, DBEV_SOURCE_DIR);
}

static int list(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fixtures: cannot open %s\n", dir);
        return 2;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".sql") == 0)
            printf("%.*s\n", (int)(n - 4), de->d_name);
    }
    closedir(d);
    return 0;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int cmd_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pg-dsn", required_argument, NULL, 'd'},
        {"migrations", required_argument, NULL, 'm'},
        {"fixtures", required_argument, NULL, 'f'},
        {"migrate", no_argument, NULL, 'M'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dsn = NULL, *mdir = NULL, *fdir = NULL;
    bool migrate = false, keep = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dsn = optarg;
            break;
        case 'm':
            mdir = optarg;
            break;
        case 'f':
            fdir = optarg;
            break;
        case 'M':
            migrate = true;
            break;
        case 'k':
            keep = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!fdir)
        fdir = fixtures_default_dir();
    if (optind < argc && strcmp(argv[optind], "list") == 0 && optind == argc - 1)
        return list(fdir);
    if (optind != argc - 2 || strcmp(argv[optind], "load") != 0) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind + 1];
    char err[2048];
    pgenv_opts_t eopts = {0};
    eopts.pg_dsn = dsn;
    eopts.keep = keep;
    pgenv_t *env = pgenv_new(&eopts, err, sizeof(err));
    if (!env) {
        fprintf(stderr, "fixtures: %s\n", err);
        return 2;
    }
    const char *dbname = dsn ? NULL : "dbev";
    if (dbname && pgenv_create_database(env, dbname, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "fixtures: %s\n", err);
        pgenv_destroy(env);
        return 2;
    }
    PGconn *conn = pgenv_connect(env, dbname, err, sizeof(err));
    if (!conn) {
        fprintf(stderr, "fixtures: %s\n", err);
        pgenv_destroy(env);
        return 2;
    }
    PQsetNoticeProcessor(conn, quiet_notices, NULL);
    int rc = 0;
    int64_t t0 = dbev_mono_us();
    if (!dsn || migrate) {
        fixtures_spec_t spec = {mdir, fdir, NULL};
        if (fixtures_prepare(conn, &spec, err, sizeof(err)) < 0) {
            fprintf(stderr, "fixtures: migrating first: %s\n", err);
            rc = 1;
        }
    }
    int64_t t1 = dbev_mono_us();
    if (rc == 0 && fixtures_load_list(conn, fdir, name, err, sizeof(err)) < 0) {
        fprintf(stderr, "fixtures: %s\n", err);
        rc = 1;
    }
    if (rc == 0) {
        printf("fixtures: loaded %s into %s in %.1f ms\n", name, PQdb(conn),
               (double)(dbev_mono_us() - t1) / 1000.0);
        if (!dsn || migrate)
            printf("  (migrations took %.1f ms)\n", (double)(t1 - t0) / 1000.0);
        mig_table_size_t *tables;
        size_t n;
        if (mig_table_sizes(conn, &tables, &n, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < n; i++)
                printf("  %-45s %6lld rows  %8s\n", tables[i].name, tables[i].rows,
                       tables[i].pretty);
            free(tables);
        }
    }
    PQfinish(conn);
    if (keep && !dsn) {
        char buf[512];
        fprintf(stderr, "fixtures: server kept running; database: %s\n",
                pgenv_dsn(env, dbname, buf, sizeof(buf)));
    }
    pgenv_destroy(env);
    return rc;
}

const harness_cmd_t harness_cmd_fixtures = {"fixtures", "list and load deterministic seed data",
                                            cmd_main};
