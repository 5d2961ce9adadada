/*
 * What the latency histogram costs the load generator: nanoseconds per
 * dbev_hist_record on lognormal latencies (random bucket access, the real
 * pattern) and on one repeated value (the best case), the same with two
 * threads each recording into their own histogram (no shared state, so the
 * figure should not grow), and the price of the calls made once per second
 * or once per run: percentile, merge, reset, and the memory one histogram
 * takes. Usage: bench_histogram [records_millions] (default 20).
 */
#include "dbev/histogram.h"
#include "dbev_common.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NVALUES (1 << 20)

static int64_t *values;
static long records;

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double unit(uint64_t *s)
{
    return ((double)(xorshift(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Records `records` values into hist; returns ns per record. */
static double record_loop(dbev_hist_t *hist, int constant)
{
    int64_t start = dbev_mono_us();
    if (constant)
        for (long i = 0; i < records; i++)
            dbev_hist_record(hist, 4000);
    else
        for (long i = 0; i < records; i++)
            dbev_hist_record(hist, values[i & (NVALUES - 1)]);
    int64_t us = dbev_mono_us() - start;
    return (double)us * 1000.0 / (double)records;
}

typedef struct worker {
    pthread_t thread;
    dbev_hist_t *hist;
    double ns;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->ns = record_loop(w->hist, 0);
    return NULL;
}

int main(int argc, char **argv)
{
    records = (argc > 1 ? atol(argv[1]) : 20) * 1000000L;
    if (records <= 0) {
        fprintf(stderr, "usage: bench_histogram [records_millions]\n");
        return 2;
    }
    values = malloc(NVALUES * sizeof(int64_t));
    uint64_t rng = 42;
    for (int i = 0; i < NVALUES; i++) { /* lognormal around 4 ms */
        double z = sqrt(-2.0 * log(unit(&rng))) * cos(2.0 * M_PI * unit(&rng));
        values[i] = (int64_t)(4000.0 * exp(0.8 * z));
    }

    struct mallinfo2 before = mallinfo2();
    dbev_hist_t *hist = dbev_hist_new();
    struct mallinfo2 after = mallinfo2();
    size_t bytes = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);

    record_loop(hist, 0); /* warm caches and the branch predictor */
    dbev_hist_reset(hist);
    double ns_random = record_loop(hist, 0);
    dbev_hist_reset(hist);
    double ns_const = record_loop(hist, 1);

    worker_t w[2];
    for (int i = 0; i < 2; i++) {
        w[i].hist = dbev_hist_new();
        pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(w[i].thread, NULL);

    /* once-per-second and once-per-run calls */
    dbev_hist_reset(hist);
    record_loop(hist, 0);
    int rounds = 2000;
    volatile int64_t sink = 0;
    int64_t start = dbev_mono_us();
    for (int i = 0; i < rounds; i++)
        sink += dbev_hist_percentile(hist, 99.9);
    double us_pct = (double)(dbev_mono_us() - start) / rounds;
    start = dbev_mono_us();
    for (int i = 0; i < rounds; i++)
        dbev_hist_merge(w[0].hist, w[1].hist);
    double us_merge = (double)(dbev_mono_us() - start) / rounds;
    start = dbev_mono_us();
    for (int i = 0; i < rounds; i++)
        dbev_hist_reset(w[1].hist);
    double us_reset = (double)(dbev_mono_us() - start) / rounds;
    (void)sink;

    printf("bench_histogram: %ld records per run, values lognormal around 4 ms\n", records);
    printf("  record, random values      %6.2f ns/record\n", ns_random);
    printf("  record, one value          %6.2f ns/record\n", ns_const);
    printf("  record, 2 threads (own)    %6.2f / %.2f ns/record\n", w[0].ns, w[1].ns);
    printf("  percentile(99.9)           %6.2f us/call\n", us_pct);
    printf("  merge                      %6.2f us/call\n", us_merge);
    printf("  reset                      %6.2f us/call\n", us_reset);
    printf("  memory per histogram       %zu bytes\n", bytes);
    printf("  check: p50=%lldus p99=%lldus p99.9=%lldus max=%lldus\n",
           (long long)dbev_hist_percentile(hist, 50), (long long)dbev_hist_percentile(hist, 99),
           (long long)dbev_hist_percentile(hist, 99.9), (long long)dbev_hist_max(hist));
    for (int i = 0; i < 2; i++)
        dbev_hist_destroy(w[i].hist);
    dbev_hist_destroy(hist);
    free(values);
    return 0;
}
