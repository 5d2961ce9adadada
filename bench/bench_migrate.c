/*
 * Migration timings on the throwaway PostgreSQL, against seed 003's targets
 * (whole run < 5 s, each migration < 2 s, rollback < 3 s): full up 0 -> latest,
 * full down latest -> 0, the slowest single step, loading the base fixtures,
 * a catalog snapshot + verify, and preparing a template database once
 * versus cloning it per scenario. Prints min/median/max in ms. Usage:
 *   bench_migrate [runs]   (default 10)
 */
#include "migrate/fixtures.h"
#include "migrate/migrate.h"
#include "env/pgenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n, double target_ms)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    printf("%-30s runs=%-3d min=%8.1f ms  median=%8.1f ms  max=%8.1f ms", what, n, v[0], v[n / 2],
           v[n - 1]);
    if (target_ms > 0)
        printf("  target < %.0f ms: %s", target_ms, v[n - 1] < target_ms ? "ok" : "MISSED");
    printf("\n");
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 10;
    if (runs < 1)
        runs = 1;
    char err[2048];
    pgenv_opts_t opts = {0};
    opts.quiet = true;
    pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
    if (!env) {
        fprintf(stderr, "bench_migrate: %s\n", err);
        return 2;
    }
    mig_set_t *set = mig_set_load(mig_default_dir(), err, sizeof(err));
    if (!set || pgenv_create_database(env, "bench_mig", NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_migrate: %s\n", err);
        pgenv_destroy(env);
        return 2;
    }
    PGconn *conn = pgenv_connect(env, "bench_mig", err, sizeof(err));
    if (!conn) {
        fprintf(stderr, "bench_migrate: %s\n", err);
        pgenv_destroy(env);
        return 2;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    double *up = calloc((size_t)runs, sizeof(double)), *down = calloc((size_t)runs, sizeof(double));
    double *step = calloc((size_t)runs, sizeof(double)),
           *fix = calloc((size_t)runs, sizeof(double));
    double *ver = calloc((size_t)runs, sizeof(double));
    char path[1024];
    mig_catalog_t *manifest =
        mig_catalog_load_yaml(mig_manifest_path(set->dir, path, sizeof(path)), err, sizeof(err));
    int rc = manifest ? 0 : 1;
    for (int r = 0; r < runs && rc == 0; r++) {
        mig_opts_t mo;
        mig_opts_init(&mo);
        mig_result_t res;
        int64_t t0 = dbev_mono_us();
        if (mig_run(conn, set, MIG_UP, &mo, &res, err, sizeof(err)) < 0) {
            rc = 1;
            break;
        }
        up[r] = (double)(dbev_mono_us() - t0) / 1000.0;
        for (size_t i = 0; i < res.nsteps; i++)
            if (res.steps[i].duration_ms > step[r])
                step[r] = res.steps[i].duration_ms;
        mig_result_clear(&res);
        t0 = dbev_mono_us();
        mig_catalog_t *live = mig_catalog_snapshot(conn, err, sizeof(err));
        char *text = NULL;
        size_t nd = live ? mig_catalog_diff(manifest, live, &text) : 1;
        ver[r] = (double)(dbev_mono_us() - t0) / 1000.0;
        free(text);
        mig_catalog_destroy(live);
        if (nd != 0) {
            snprintf(err, sizeof(err), "verify found %zu difference(s)", nd);
            rc = 1;
            break;
        }
        t0 = dbev_mono_us();
        if (fixtures_load(conn, NULL, "base", err, sizeof(err)) < 0) {
            rc = 1;
            break;
        }
        fix[r] = (double)(dbev_mono_us() - t0) / 1000.0;
        mo.target = 0;
        t0 = dbev_mono_us();
        if (mig_run(conn, set, MIG_DOWN, &mo, &res, err, sizeof(err)) < 0) {
            rc = 1;
            break;
        }
        down[r] = (double)(dbev_mono_us() - t0) / 1000.0;
        mig_result_clear(&res);
    }
    double tpl_ms = 0, clone[64];
    int nclone = runs < 64 ? runs : 64;
    if (rc == 0) {
        fixtures_spec_t spec = {NULL, NULL, "base"};
        char key[32], tpl[128];
        int64_t t0 = dbev_mono_us();
        if (fixtures_key(&spec, key, sizeof(key), err, sizeof(err)) < 0 ||
            pgenv_template(env, key, fixtures_prepare, &spec, tpl, sizeof(tpl), err, sizeof(err)) <
                0)
            rc = 1;
        tpl_ms = (double)(dbev_mono_us() - t0) / 1000.0;
        for (int i = 0; i < nclone && rc == 0; i++) {
            char name[64];
            snprintf(name, sizeof(name), "bench_clone_%d", i);
            t0 = dbev_mono_us();
            if (pgenv_create_database(env, name, tpl, err, sizeof(err)) < 0)
                rc = 1;
            clone[i] = (double)(dbev_mono_us() - t0) / 1000.0;
            pgenv_drop_database(env, name, err, sizeof(err));
        }
    }
    if (rc == 0) {
        printf("migrations: %d (%s), PostgreSQL %d\n", mig_set_latest(set), set->dir,
               pgenv_server_version(env));
        report("up 0 -> latest", up, runs, 5000);
        report("slowest single step", step, runs, 2000);
        report("down latest -> 0", down, runs, 3000);
        report("load fixtures base", fix, runs, 0);
        report("snapshot + verify", ver, runs, 0);
        printf("%-30s %.1f ms (migrations + base fixtures, once per content hash)\n",
               "prepare template", tpl_ms);
        report("clone template database", clone, nclone, 0);
    } else {
        fprintf(stderr, "bench_migrate: %s\n", err);
    }
    mig_catalog_destroy(manifest);
    free(up);
    free(down);
    free(step);
    free(fix);
    free(ver);
    PQfinish(conn);
    mig_set_destroy(set);
    pgenv_destroy(env);
    return rc == 0 ? 0 : 1;
}
