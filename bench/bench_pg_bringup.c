/*
 * Bring-up time of the throwaway PostgreSQL: cold (empty template-cluster
 * cache, so initdb runs) and warm (cluster copied from the cache), each from
 * pgenv_new() until SELECT 1 answers. Also the teardown time and, for warm
 * runs, the time to clone a scenario database from a sealed template.
 * Prints min/median/max in ms. Usage:
 *   bench_pg_bringup [warm_runs] [cold_runs] [tmp_dir]
 * (defaults 20, 3 and pgenv's default temp dir). Uses a private cache, so it
 * measures cold honestly and leaves the build's cache alone.
 */
#include "env/pgenv.h"
#include "env/pgenv_int.h"

#include "dbev_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n)
{
    if (n == 0)
        return;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    printf("%-28s runs=%-3d min=%8.1f ms  median=%8.1f ms  mean=%8.1f ms  max=%8.1f ms\n", what, n,
           v[0], v[n / 2], sum / n, v[n - 1]);
}

int main(int argc, char **argv)
{
    int warm_runs = argc > 1 ? atoi(argv[1]) : 20;
    int cold_runs = argc > 2 ? atoi(argv[2]) : 3;
    if (warm_runs < 1 || cold_runs < 1 || warm_runs > 1000 || cold_runs > 1000) {
        fprintf(stderr,
                "usage: bench_pg_bringup [warm_runs 1..1000] [cold_runs 1..1000] [tmp_dir]\n");
        return 2;
    }
    char root[] = "/tmp/dbev-bench-pg-XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    chmod(root, 0755);
    char cache[PGENV_PATH_SIZE];
    double *cold = calloc((size_t)cold_runs, sizeof(double));
    double *warm = calloc((size_t)warm_runs, sizeof(double));
    double *down = calloc((size_t)warm_runs, sizeof(double));
    double *clone = calloc((size_t)warm_runs, sizeof(double));
    int rc = 0;
    char err[512];
    const char *tmp_dir = argc > 3 ? argv[3] : NULL;
    pgenv_opts_t opts = {.tmp_dir = tmp_dir, .quiet = true, .cache_dir = cache};

    for (int i = 0; i < cold_runs && rc == 0; i++) {
        snprintf(cache, sizeof(cache), "%s/cache-cold-%d", root, i);
        pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
        if (!env || pgenv_was_warm(env)) {
            fprintf(stderr, "cold run %d: %s\n", i, env ? "unexpectedly warm" : err);
            rc = 1;
        } else {
            cold[i] = pgenv_startup_ms(env);
        }
        pgenv_destroy(env);
        pgenv_rm_rf(cache);
    }
    snprintf(cache, sizeof(cache), "%s/cache-warm", root);
    pgenv_destroy(pgenv_new(&opts, err, sizeof(err))); /* fills the cache */
    for (int i = 0; i < warm_runs && rc == 0; i++) {
        pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
        if (!env || !pgenv_was_warm(env)) {
            fprintf(stderr, "warm run %d: %s\n", i, env ? "unexpectedly cold" : err);
            pgenv_destroy(env);
            rc = 1;
            break;
        }
        warm[i] = pgenv_startup_ms(env);
        char tpl[64];
        if (pgenv_template(env, "bench", NULL, NULL, tpl, sizeof(tpl), err, sizeof(err)) < 0) {
            fprintf(stderr, "template: %s\n", err);
            rc = 1;
        }
        int64_t t0 = dbev_mono_us();
        if (rc == 0 && pgenv_create_database(env, "scenario", tpl, err, sizeof(err)) < 0) {
            fprintf(stderr, "clone: %s\n", err);
            rc = 1;
        }
        clone[i] = (double)(dbev_mono_us() - t0) / 1000.0;
        t0 = dbev_mono_us();
        pgenv_destroy(env);
        down[i] = (double)(dbev_mono_us() - t0) / 1000.0;
    }
    if (rc == 0) {
        printf("bench_pg_bringup: throwaway PostgreSQL under %s, pgenv_new() until SELECT 1 "
               "answers\n",
               tmp_dir ? tmp_dir : pgenv_default_tmp_dir());
        report("cold bring-up (initdb)", cold, cold_runs);
        report("warm bring-up (cached)", warm, warm_runs);
        report("clone from template", clone, warm_runs);
        report("teardown", down, warm_runs);
    }
    pgenv_rm_rf(root);
    free(cold);
    free(warm);
    free(down);
    free(clone);
    return rc;
}
