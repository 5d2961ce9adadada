/*
 * Warm bring-up of the whole test environment, the way `dbev-harness env`
 * does it: the Kafka mock cluster (mockenv_new: 3 brokers, the protocol
 * topics, leaders placed) and then the throwaway PostgreSQL (pgenv_new from
 * the cached template cluster, until SELECT 1 answers). The target:
 * well under one second. One unmeasured run first fills the cache. Prints
 * min/median/max in ms for each part, the sum, and the teardown. Usage:
 *   bench_env_bringup [runs]     (default 20)
 */
#include "env/mockenv.h"
#include "env/pgenv.h"

#include "dbev_common.h"

#include <stdio.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    printf("%-34s runs=%-3d min=%8.1f ms  median=%8.1f ms  max=%8.1f ms\n", what, n, v[0], v[n / 2],
           v[n - 1]);
}

static double ms_since(int64_t t0)
{
    return (double)(dbev_mono_us() - t0) / 1000.0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 20;
    if (runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: bench_env_bringup [runs 1..1000]\n");
        return 2;
    }
    double *kafka = calloc((size_t)runs, sizeof(double));
    double *pg = calloc((size_t)runs, sizeof(double));
    double *both = calloc((size_t)runs, sizeof(double));
    double *down = calloc((size_t)runs, sizeof(double));
    char err[1024];
    pgenv_opts_t popts = {.quiet = true};
    int rc = 0;
    pgenv_destroy(pgenv_new(&popts, err, sizeof(err))); /* fills the template cache */
    for (int i = 0; i < runs && rc == 0; i++) {
        int64_t t0 = dbev_mono_us();
        mockenv_t *k = mockenv_new(NULL, err, sizeof(err));
        if (!k) {
            fprintf(stderr, "mock cluster: %s\n", err);
            rc = 1;
            break;
        }
        kafka[i] = ms_since(t0);
        int64_t t1 = dbev_mono_us();
        pgenv_t *p = pgenv_new(&popts, err, sizeof(err));
        if (!p || !pgenv_was_warm(p)) {
            fprintf(stderr, "PostgreSQL run %d: %s\n", i, p ? "unexpectedly cold" : err);
            rc = 1;
        } else {
            pg[i] = ms_since(t1);
            both[i] = ms_since(t0);
        }
        int64_t t2 = dbev_mono_us();
        pgenv_destroy(p);
        mockenv_destroy(k);
        down[i] = ms_since(t2);
    }
    if (rc == 0) {
        printf("bench_env_bringup: warm bring-up of the Kafka mock cluster (3 brokers) and the "
               "throwaway PostgreSQL\n");
        report("Kafka mock cluster (mockenv_new)", kafka, runs);
        report("PostgreSQL warm (pgenv_new)", pg, runs);
        report("both (what `env` waits for)", both, runs);
        report("teardown of both", down, runs);
    }
    free(kafka);
    free(pg);
    free(both);
    free(down);
    return rc;
}
