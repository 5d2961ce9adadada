/*
 * dbev-harness migrate: applies, undoes, reports and verifies the schema
 * migrations on the embedded throwaway PostgreSQL (default: started for the
 * command and torn down after it, a smoke check of the migrations) or on any
 * server given with --pg-dsn. Prints what it did and the table summary seed
 * 003's runner prints (applied, failed, tables with sizes).
 * Exit codes: 0 done, 1 refused/failed/differences, 2 usage or harness error.
 */
#include "cli/commands.h"
#include "migrate/migrate.h"
#include "env/pgenv.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct args {
    const char *action;
    const char *dsn;
    const char *dir;
    const char *manifest;
    int target;
    int lock_timeout_ms;
    bool dry_run, keep, no_checks, quiet;
} args_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dbev-harness migrate ACTION [options]\n"
            "\n"
            "actions:\n"
            "  up        apply pending migrations (to the latest, or --to N)\n"
            "  down      undo applied migrations (to 0, or --to N)\n"
            "  status    list every migration: applied, pending, changed, no file\n"
            "  verify    compare the live catalog with the expected-schema manifest\n"
            "  snapshot  print the live catalog as a manifest (regenerates %s)\n"
            "\n"
            "options:\n"
            "  --to N              target version\n"
            "  --dry-run           print the plan and the SQL; apply nothing\n"
            "  --pg-dsn DSN        use this server; default: a throwaway one, torn down after\n"
            "  --migrations DIR    default $DBEV_MIGRATIONS_DIR or %s/migrations\n"
            "  --manifest FILE     default DIR/%s\n"
            "  --lock-timeout MS   wait for another runner this long (default 10000; 0: refuse)\n"
            "  --no-checks         skip the pre/post checks\n"
            "  --keep              leave the throwaway server running and print how to reach it\n"
            "  --quiet             only errors and results\n"
            "\n"
            "Without --pg-dsn, verify and snapshot first migrate the throwaway database up\n"
            "(to --to N if given).\n",
            MIG_MANIFEST_FILE, DBEV_SOURCE_DIR, MIG_MANIFEST_FILE);
}

static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option longopts[] = {
        {"to", required_argument, NULL, 't'},
        {"dry-run", no_argument, NULL, 'n'},
        {"pg-dsn", required_argument, NULL, 'd'},
        {"migrations", required_argument, NULL, 'm'},
        {"manifest", required_argument, NULL, 'f'},
        {"lock-timeout", required_argument, NULL, 'l'},
        {"no-checks", no_argument, NULL, 'c'},
        {"keep", no_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->target = -1;
    a->lock_timeout_ms = 10000;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 't':
            a->target = (int)strtol(optarg, &end, 10);
            if (*end || a->target < 0) {
                fprintf(stderr, "migrate: --to wants a version number, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'n':
            a->dry_run = true;
            break;
        case 'd':
            a->dsn = optarg;
            break;
        case 'm':
            a->dir = optarg;
            break;
        case 'f':
            a->manifest = optarg;
            break;
        case 'l':
            a->lock_timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end || a->lock_timeout_ms < 0) {
                fprintf(stderr, "migrate: --lock-timeout wants milliseconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            a->no_checks = true;
            break;
        case 'k':
            a->keep = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    a->action = argv[optind];
    static const char *const actions[] = {"up", "down", "status", "verify", "snapshot"};
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(a->action, actions[i]) == 0)
            return 0;
    fprintf(stderr, "migrate: unknown action '%s'\n", a->action);
    usage(stderr);
    return 2;
}

static void print_summary(PGconn *conn, const mig_result_t *res)
{
    printf("\nSummary\n");
    printf("  migrations applied: %zu\n", res->applied);
    printf("  migrations failed:  %zu\n", res->failed);
    printf("  version: %03d -> %03d\n", res->from_version, res->to_version);
    mig_table_size_t *tables;
    size_t n;
    char err[512];
    if (mig_table_sizes(conn, &tables, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "migrate: %s\n", err);
        return;
    }
    printf("\nTables (%zu):\n", n);
    size_t width = 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(tables[i].name) > width)
            width = strlen(tables[i].name);
    for (size_t i = 0; i < n; i++)
        printf("  %-*s : %8s  %lld rows\n", (int)width, tables[i].name, tables[i].pretty,
               tables[i].rows);
    free(tables);
}

static int do_run(PGconn *conn, const mig_set_t *set, const args_t *a)
{
    mig_direction_t dir = strcmp(a->action, "down") == 0 ? MIG_DOWN : MIG_UP;
    mig_opts_t opts;
    mig_opts_init(&opts);
    opts.target = a->target;
    opts.dry_run = a->dry_run;
    opts.lock_timeout_ms = a->lock_timeout_ms;
    opts.skip_checks = a->no_checks;
    mig_result_t res;
    char err[2048];
    int rc = mig_run(conn, set, dir, &opts, &res, err, sizeof(err));
    if (a->dry_run) {
        if (rc == 0) {
            printf("-- dry run: %s from %03d, %zu step(s); nothing applied\n", a->action,
                   res.from_version, res.nsteps);
            for (size_t i = 0; i < res.nsteps; i++) {
                const mig_migration_t *m = &set->items[res.steps[i].version - 1];
                printf("\n-- ==== %s ====\n%s", dir == MIG_UP ? m->up_path : m->down_path,
                       dir == MIG_UP ? m->up_sql : m->down_sql);
            }
        } else {
            fprintf(stderr, "migrate %s: %s\n", a->action, err);
        }
        mig_result_clear(&res);
        return rc == 0 ? 0 : 1;
    }
    if (!a->quiet) {
        if (res.lock_wait_ms > 100)
            printf("waited %.0f ms for the migration lock\n", res.lock_wait_ms);
        for (size_t i = 0; i < res.nsteps; i++)
            printf("  %s %03d_%-36s %9.1f ms\n",
                   res.steps[i].done ? (dir == MIG_UP ? "applied " : "reverted") : "FAILED  ",
                   res.steps[i].version, res.steps[i].name, res.steps[i].duration_ms);
        if (res.nsteps == 0 && rc == 0)
            printf("  nothing to do: database at %03d\n", res.from_version);
    }
    if (rc < 0)
        fprintf(stderr, "migrate %s: %s\n", a->action, err);
    if (!a->quiet)
        print_summary(conn, &res);
    mig_result_clear(&res);
    return rc == 0 ? 0 : 1;
}

static int do_status(PGconn *conn, const mig_set_t *set)
{
    mig_status_row_t *rows;
    size_t n;
    char err[1024];
    if (mig_status(conn, set, &rows, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "migrate status: %s\n", err);
        return 2;
    }
    int bad = 0;
    printf("%-7s %-36s %-8s %-25s %s\n", "version", "name", "state", "applied_at", "duration");
    for (size_t i = 0; i < n; i++) {
        printf("%03d     %-36s %-8s %-25s", rows[i].version, rows[i].name, rows[i].state,
               rows[i].applied_at);
        if (rows[i].applied_at[0])
            printf(" %.1f ms", rows[i].duration_ms);
        printf("\n");
        if (strcmp(rows[i].state, "changed") == 0 || strcmp(rows[i].state, "no file") == 0)
            bad = 1;
    }
    free(rows);
    return bad;
}

static int do_verify(PGconn *conn, const args_t *a, const char *dir, bool write_only)
{
    char err[1024], path[1024];
    mig_catalog_t *live = mig_catalog_snapshot(conn, err, sizeof(err));
    if (!live) {
        fprintf(stderr, "migrate: %s\n", err);
        return 2;
    }
    if (write_only) {
        static const char header[] =
            "# Expected schema after every migration in this directory: what\n"
            "# `dbev-harness migrate verify` compares the live catalog with.\n"
            "# Written by `dbev-harness migrate snapshot` and reviewed by hand; per table:\n"
            "# columns (type, nullability, default), indexes (method, unique, columns,\n"
            "# predicate), constraints (primary/foreign/unique/check with definition and\n"
            "# target), triggers; functions by signature (arguments, result, language,\n"
            "# volatility, and a hash of the body).\n";
        int rc = mig_catalog_write_yaml(live, stdout, header, err, sizeof(err));
        mig_catalog_destroy(live);
        if (rc < 0)
            fprintf(stderr, "migrate snapshot: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    if (!a->manifest)
        mig_manifest_path(dir, path, sizeof(path));
    mig_catalog_t *expected =
        mig_catalog_load_yaml(a->manifest ? a->manifest : path, err, sizeof(err));
    if (!expected) {
        mig_catalog_destroy(live);
        fprintf(stderr, "migrate verify: %s\n", err);
        return 2;
    }
    char *text = NULL;
    size_t ndiff = mig_catalog_diff(expected, live, &text);
    const char *mpath = a->manifest ? a->manifest : path;
    if (expected->version != live->version)
        printf("note: the manifest describes version %03d, the database is at %03d\n",
               expected->version, live->version);
    if (ndiff == 0)
        printf("verify: the catalog matches %s (%zu attributes compared)\n", mpath,
               expected->count);
    else
        printf("verify: %zu difference(s) between %s (expected) and the database:\n%s", ndiff,
               mpath, text);
    free(text);
    mig_catalog_destroy(expected);
    mig_catalog_destroy(live);
    return ndiff == 0 ? 0 : 1;
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int cmd_main(int argc, char **argv)
{
    args_t a;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0)
        return prc < 0 ? 0 : prc;
    const char *dir = a.dir ? a.dir : mig_default_dir();
    char err[1024];
    mig_set_t *set = mig_set_load(dir, err, sizeof(err));
    if (!set) {
        fprintf(stderr, "migrate: %s\n", err);
        return 1;
    }
    pgenv_opts_t eopts = {0};
    eopts.pg_dsn = a.dsn;
    eopts.keep = a.keep;
    eopts.quiet = a.quiet;
    pgenv_t *env = pgenv_new(&eopts, err, sizeof(err));
    if (!env) {
        fprintf(stderr, "migrate: %s\n", err);
        mig_set_destroy(set);
        return 2;
    }
    const char *dbname = NULL;
    if (!a.dsn) {
        dbname = "dbev";
        if (pgenv_create_database(env, dbname, NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "migrate: %s\n", err);
            pgenv_destroy(env);
            mig_set_destroy(set);
            return 2;
        }
    }
    PGconn *conn = pgenv_connect(env, dbname, err, sizeof(err));
    if (!conn) {
        fprintf(stderr, "migrate: %s\n", err);
        pgenv_destroy(env);
        mig_set_destroy(set);
        return 2;
    }
    PQsetNoticeProcessor(conn, quiet_notices, NULL);
    int rc;
    if (strcmp(a.action, "up") == 0 || strcmp(a.action, "down") == 0) {
        if (!a.quiet)
            printf("migrate %s on %s (%s)\n", a.action, PQdb(conn),
                   a.dsn ? "--pg-dsn" : "throwaway");
        rc = do_run(conn, set, &a);
    } else if (strcmp(a.action, "status") == 0) {
        rc = do_status(conn, set);
    } else {
        rc = 0;
        if (!a.dsn) {
            /* A fresh throwaway database has nothing to compare: migrate it first. */
            args_t up = a;
            up.action = "up";
            up.quiet = true;
            up.dry_run = false;
            rc = do_run(conn, set, &up);
        }
        if (rc == 0)
            rc = do_verify(conn, &a, dir, strcmp(a.action, "snapshot") == 0);
    }
    PQfinish(conn);
    if (a.keep && !a.dsn) {
        char dsn[512];
        fprintf(stderr, "migrate: server kept running; database: %s\n",
                pgenv_dsn(env, dbname, dsn, sizeof(dsn)));
    }
    pgenv_destroy(env);
    mig_set_destroy(set);
    return rc;
}

const harness_cmd_t harness_cmd_migrate = {
    "migrate", "apply, undo, report and verify the schema migrations", cmd_main};
