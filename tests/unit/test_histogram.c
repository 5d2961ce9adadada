/*
 * The latency histogram against exact answers: for random and adversarial
 * data sets, every reported percentile (p50, p90, p95, p99, p99.9, max) is
 * within 1% of the exact nearest-rank percentile of the sorted data; merging
 * per-thread histograms gives exactly what recording everything into one
 * gives; bucket widths hold the 1/128 bound; and the ASCII view renders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbev/histogram.h"
#include "test_report_synth.h"

#define ONE_HOUR_US 3600000000LL

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Exact nearest-rank percentile, in integer arithmetic: p given in
 * thousandths of a percent (99.9% = 99900). */
static int64_t exact_pct(const int64_t *sorted, size_t n, int64_t p_milli)
{
    int64_t rank = ((int64_t)n * p_milli + 99999) / 100000;
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

static void check_against_exact(const char *name, int64_t *values, size_t n)
{
    dbev_hist_t *hist = dbev_hist_new();
    assert_non_null(hist);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(dbev_hist_record(hist, values[i]), 0);
        sum += (double)values[i];
    }
    qsort(values, n, sizeof(int64_t), cmp_i64);
    assert_int_equal(dbev_hist_count(hist), n);
    assert_int_equal(dbev_hist_min(hist), values[0]);
    assert_int_equal(dbev_hist_max(hist), values[n - 1]);

    static const struct {
        double p;
        int64_t milli;
    } pcts[] = {{50, 50000}, {90, 90000}, {95, 95000}, {99, 99000}, {99.9, 99900}, {100, 100000}};
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        int64_t exact = exact_pct(values, n, pcts[i].milli);
        int64_t estimate = dbev_hist_percentile(hist, pcts[i].p);
        double err = fabs((double)(estimate - exact));
        if (err > 0.01 * (double)exact)
            fail_msg("%s: p%g estimate %lld exact %lld (error %.3f%%)", name, pcts[i].p,
                     (long long)estimate, (long long)exact, 100.0 * err / (double)exact);
    }

    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += ((double)values[i] - mean) * ((double)values[i] - mean);
    double stddev = sqrt(ss / (double)n);
    assert_true(fabs(dbev_hist_mean(hist) - mean) <= 1e-9 * fabs(mean) + 1e-9);
    assert_true(fabs(dbev_hist_stddev(hist) - stddev) <= 1e-6 * stddev + 1e-6);
    dbev_hist_destroy(hist);
}

#define N 100000

static void test_random_distributions(void **state)
{
    (void)state;
    int64_t *v = malloc(N * sizeof(int64_t));
    assert_non_null(v);
    uint64_t rng = 12345;

    /* log-uniform over the whole promised range, 1 µs .. 1 h */
    for (size_t i = 0; i < N; i++)
        v[i] = (int64_t)exp(log((double)ONE_HOUR_US) *
                            ((double)(synth_rand(&rng) >> 11) / 9007199254740992.0));
    check_against_exact("log-uniform 1us..1h", v, N);

    /* lognormal around 4 ms, like a healthy load */
    for (size_t i = 0; i < N; i++)
        v[i] = (int64_t)synth_lognormal(&rng, 4000, 0.6) + 1;
    check_against_exact("lognormal 4ms", v, N);

    /* uniform 1 µs .. 1 h */
    for (size_t i = 0; i < N; i++)
        v[i] = 1 + (int64_t)(synth_rand(&rng) % (uint64_t)ONE_HOUR_US);
    check_against_exact("uniform 1us..1h", v, N);

    /* exponential, mean 50 ms, with a Pareto tail */
    for (size_t i = 0; i < N; i++) {
        double u = ((double)(synth_rand(&rng) >> 11) + 0.5) / 9007199254740992.0;
        v[i] = i % 10 ? (int64_t)(-50000.0 * log(u)) + 1 : (int64_t)(1000.0 / pow(u, 1.0 / 1.2));
    }
    check_against_exact("exponential + pareto", v, N);
    free(v);
}

static void test_adversarial_distributions(void **state)
{
    (void)state;
    int64_t *v = malloc(N * sizeof(int64_t));
    assert_non_null(v);
    uint64_t rng = 777;

    /* every value the same */
    for (size_t i = 0; i < N; i++)
        v[i] = 123457;
    check_against_exact("constant", v, N);

    /* bimodal at the two ends of the range, the tail exactly at p99.9 */
    for (size_t i = 0; i < N; i++)
        v[i] = i < N - 100 ? 1 : ONE_HOUR_US;
    check_against_exact("bimodal 1us/1h", v, N);
    for (size_t i = 0; i < N; i++)
        v[i] = i < N - 101 ? 1 : ONE_HOUR_US;
    check_against_exact("bimodal 1us/1h, one more", v, N);

    /* bucket edges: powers of two and their neighbours */
    for (size_t i = 0; i < N; i++) {
        int e = 1 + (int)(synth_rand(&rng) % 31);
        int64_t base = (int64_t)1 << e;
        v[i] = base + (int64_t)(synth_rand(&rng) % 3) - 1;
    }
    check_against_exact("powers of two +-1", v, N);

    /* the top of each sub-bucket: (128+k) * 2^s - 1 */
    for (size_t i = 0; i < N; i++) {
        int s = (int)(synth_rand(&rng) % 24);
        int64_t k = 129 + (int64_t)(synth_rand(&rng) % 127);
        v[i] = (k << s) - 1;
    }
    check_against_exact("sub-bucket tops", v, N);

    /* an ascending run, and the linear/log boundary 250..260 */
    for (size_t i = 0; i < N; i++)
        v[i] = (int64_t)i + 1;
    check_against_exact("1..N", v, N);
    for (size_t i = 0; i < N; i++)
        v[i] = 250 + (int64_t)(i % 11);
    check_against_exact("250..260", v, N);

    /* a few values only */
    int64_t few[] = {ONE_HOUR_US, 1, 999999};
    check_against_exact("three values", few, 3);
    int64_t one[] = {31415926};
    check_against_exact("one value", one, 1);
    free(v);
}

static void test_bucket_bounds(void **state)
{
    (void)state;
    dbev_hist_t *hist = dbev_hist_new();
    assert_non_null(hist);
    uint64_t rng = 99;
    for (int i = 0; i < 200000; i++)
        dbev_hist_record(hist,
                         (int64_t)exp(log((double)DBEV_HIST_MAX_VALUE) *
                                      ((double)(synth_rand(&rng) >> 11) / 9007199254740992.0)));
    int cursor = 0;
    dbev_hist_bucket_t b;
    int64_t total = 0, prev_hi = -1;
    while (dbev_hist_next_bucket(hist, &cursor, &b)) {
        assert_true(b.lo_us > prev_hi);
        assert_true(b.hi_us >= b.lo_us);
        int64_t width = b.hi_us - b.lo_us + 1;
        assert_true(width == 1 || width * 128 <= b.lo_us);
        assert_true(b.count > 0);
        total += b.count;
        assert_int_equal(b.cumulative, total);
        prev_hi = b.hi_us;
    }
    assert_int_equal(total, dbev_hist_count(hist));
    dbev_hist_destroy(hist);
}

static void test_merge_equals_one(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    dbev_hist_t *one = dbev_hist_new(), *parts[THREADS], *merged = dbev_hist_new();
    assert_non_null(one);
    assert_non_null(merged);
    for (int t = 0; t < THREADS; t++)
        assert_non_null(parts[t] = dbev_hist_new());
    uint64_t rng = 4242;
    for (int i = 0; i < 400000; i++) {
        /* each "thread" sees a different distribution, like real workers */
        int t = (int)(synth_rand(&rng) % THREADS);
        int64_t v = (int64_t)synth_lognormal(&rng, 1000.0 * (t + 1) * (t + 1), 0.3 + 0.2 * t);
        dbev_hist_record(one, v);
        dbev_hist_record(parts[t], v);
    }
    for (int t = 0; t < THREADS; t++)
        dbev_hist_merge(merged, parts[t]);
    assert_int_equal(dbev_hist_count(merged), dbev_hist_count(one));
    assert_int_equal(dbev_hist_min(merged), dbev_hist_min(one));
    assert_int_equal(dbev_hist_max(merged), dbev_hist_max(one));
    for (double p = 0; p <= 100.0; p += 0.05)
        assert_int_equal(dbev_hist_percentile(merged, p), dbev_hist_percentile(one, p));
    assert_true(fabs(dbev_hist_mean(merged) - dbev_hist_mean(one)) <= 1e-9 * dbev_hist_mean(one));
    assert_true(fabs(dbev_hist_stddev(merged) - dbev_hist_stddev(one)) <=
                1e-9 * dbev_hist_stddev(one));
    int c1 = 0, c2 = 0;
    dbev_hist_bucket_t a, b;
    while (dbev_hist_next_bucket(one, &c1, &a)) {
        assert_int_equal(dbev_hist_next_bucket(merged, &c2, &b), 1);
        assert_int_equal(a.lo_us, b.lo_us);
        assert_int_equal(a.count, b.count);
    }
    assert_int_equal(dbev_hist_next_bucket(merged, &c2, &b), 0);

    /* merging an empty histogram changes nothing; into an empty one copies */
    dbev_hist_t *empty = dbev_hist_new(), *copy = dbev_hist_new();
    dbev_hist_merge(merged, empty);
    assert_int_equal(dbev_hist_count(merged), dbev_hist_count(one));
    dbev_hist_merge(copy, one);
    assert_int_equal(dbev_hist_percentile(copy, 99.9), dbev_hist_percentile(one, 99.9));
    dbev_hist_destroy(empty);
    dbev_hist_destroy(copy);
    for (int t = 0; t < THREADS; t++)
        dbev_hist_destroy(parts[t]);
    dbev_hist_destroy(one);
    dbev_hist_destroy(merged);
}

static void test_record_n_reset_and_limits(void **state)
{
    (void)state;
    dbev_hist_t *a = dbev_hist_new(), *b = dbev_hist_new();
    assert_int_equal(dbev_hist_percentile(a, 50), 0);
    assert_int_equal(dbev_hist_count(a), 0);
    assert_true(dbev_hist_mean(a) == 0.0);
    assert_int_equal(dbev_hist_record_n(a, 5000, 1000), 0);
    assert_int_equal(dbev_hist_record_n(a, 90000, 10), 0);
    for (int i = 0; i < 1000; i++)
        dbev_hist_record(b, 5000);
    for (int i = 0; i < 10; i++)
        dbev_hist_record(b, 90000);
    for (double p = 0; p <= 100; p += 0.5)
        assert_int_equal(dbev_hist_percentile(a, p), dbev_hist_percentile(b, p));
    assert_true(fabs(dbev_hist_stddev(a) - dbev_hist_stddev(b)) < 1e-6);

    /* negative values are refused, not recorded as 0 */
    assert_int_equal(dbev_hist_record(a, -1), -1);
    assert_int_equal(dbev_hist_record_n(a, 10, 0), -1);
    assert_int_equal(dbev_hist_count(a), 1010);

    /* beyond the tracked range: counted, max stays exact */
    int64_t ten_days = 10LL * 24 * ONE_HOUR_US;
    dbev_hist_record(a, ten_days);
    assert_int_equal(dbev_hist_max(a), ten_days);
    assert_int_equal(dbev_hist_percentile(a, 100), ten_days);
    assert_int_equal(dbev_hist_count(a), 1011);

    dbev_hist_t *dup = dbev_hist_dup(a);
    assert_non_null(dup);
    assert_int_equal(dbev_hist_percentile(dup, 99), dbev_hist_percentile(a, 99));
    dbev_hist_reset(a);
    assert_int_equal(dbev_hist_count(a), 0);
    assert_int_equal(dbev_hist_max(a), 0);
    int cursor = 0;
    dbev_hist_bucket_t bucket;
    assert_int_equal(dbev_hist_next_bucket(a, &cursor, &bucket), 0);
    assert_int_equal(dbev_hist_count(dup), 1011);
    dbev_hist_destroy(dup);
    dbev_hist_destroy(a);
    dbev_hist_destroy(b);
    dbev_hist_destroy(NULL);
}

static void test_ascii(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    dbev_hist_t *hist = dbev_hist_new();
    assert_int_equal(dbev_hist_ascii(hist, out, 80), 0); /* empty: one line */
    uint64_t rng = 5;
    for (int i = 0; i < 10000; i++)
        dbev_hist_record(hist, (int64_t)synth_lognormal(&rng, 3000, 0.7));
    assert_int_equal(dbev_hist_ascii(hist, out, 72), 0);
    fclose(out);
    assert_non_null(strstr(text, "no values recorded"));
    assert_non_null(strstr(text, "n=10000"));
    assert_non_null(strstr(text, "p99.9="));
    int lines = 0, bars = 0;
    int64_t total = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        assert_true(strlen(line) <= 72);
        char *bar = strchr(line, '|');
        if (bar) {
            bars++;
            char *end = strchr(bar + 1, '|');
            assert_non_null(end);
            assert_int_equal(end - bar - 1, 72 - 21 - 17);
            total += strtoll(end + 1, NULL, 10);
        }
    }
    assert_true(bars >= 8);
    assert_int_equal(total, 10000);
    assert_int_equal(lines, bars + 3); /* empty line + 2 summary lines */
    free(text);
    dbev_hist_destroy(hist);

    char buf[32];
    assert_string_equal(dbev_hist_format_us(850, buf, sizeof(buf)), "850us");
    assert_string_equal(dbev_hist_format_us(1250, buf, sizeof(buf)), "1.25ms");
    assert_string_equal(dbev_hist_format_us(2500000, buf, sizeof(buf)), "2.50s");
    assert_string_equal(dbev_hist_format_us(ONE_HOUR_US + 120000000, buf, sizeof(buf)), "1h02m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_distributions),
        cmocka_unit_test(test_adversarial_distributions),
        cmocka_unit_test(test_bucket_bounds),
        cmocka_unit_test(test_merge_equals_one),
        cmocka_unit_test(test_record_n_reset_and_limits),
        cmocka_unit_test(test_ascii),
    };
    return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
