/*
 * The latency histogram: log-linear buckets (HdrHistogram's layout with 7
 * sub-bucket bits). Values 0..255 each have their own bucket; above, every
 * power of two [2^e, 2^(e+1)) is cut into 128 equal buckets of width
 * 2^(e-7), so a bucket is never wider than 1/128 of its lower bound and its
 * midpoint is within 1/256 (0.4%) of anything in it. Up to 2^36 µs that is
 * 256 + 28 * 128 = 3840 counters, 30 KB.
 *
 * Mean and standard deviation are kept with Welford's running moments, and
 * merged with Chan's pairwise formula, so they are exact up to double
 * rounding rather than estimated from buckets.
 */
#include "dbev/histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SUB_BITS     7
#define SUB_COUNT    (1 << SUB_BITS) /* buckets per power of two */
#define LINEAR_LIMIT (2 * SUB_COUNT) /* values below are exact */
#define TOP_EXP      36              /* first power of two not tracked */
#define NBUCKETS     (LINEAR_LIMIT + (TOP_EXP - (SUB_BITS + 1)) * SUB_COUNT)

struct dbev_hist {
    int64_t count;
    int64_t min;
    int64_t max;
    double mean;
    double m2; /* sum of squared deviations from the mean */
    int64_t counts[NBUCKETS];
};

static int bucket_index(int64_t v)
{
    if (v > DBEV_HIST_MAX_VALUE)
        v = DBEV_HIST_MAX_VALUE;
    if (v < LINEAR_LIMIT)
        return (int)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* >= SUB_BITS + 1 */
    int shift = e - SUB_BITS;
    int sub = (int)(v >> shift); /* SUB_COUNT .. 2*SUB_COUNT-1 */
    return LINEAR_LIMIT + (e - (SUB_BITS + 1)) * SUB_COUNT + (sub - SUB_COUNT);
}

static void bucket_range(int index, int64_t *lo, int64_t *hi)
{
    if (index < LINEAR_LIMIT) {
        *lo = *hi = index;
        return;
    }
    int j = index - LINEAR_LIMIT;
    int e = SUB_BITS + 1 + j / SUB_COUNT;
    int shift = e - SUB_BITS;
    int64_t sub = SUB_COUNT + j % SUB_COUNT;
    *lo = sub << shift;
    *hi = *lo + ((int64_t)1 << shift) - 1;
}

dbev_hist_t *dbev_hist_new(void)
{
    return calloc(1, sizeof(dbev_hist_t));
}

void dbev_hist_destroy(dbev_hist_t *hist)
{
    free(hist);
}

dbev_hist_t *dbev_hist_dup(const dbev_hist_t *hist)
{
    dbev_hist_t *copy = malloc(sizeof(*copy));
    if (copy)
        memcpy(copy, hist, sizeof(*copy));
    return copy;
}

int dbev_hist_record_n(dbev_hist_t *hist, int64_t value_us, int64_t n)
{
    if (value_us < 0 || n < 1)
        return -1;
    hist->counts[bucket_index(value_us)] += n;
    if (hist->count == 0 || value_us < hist->min)
        hist->min = value_us;
    if (hist->count == 0 || value_us > hist->max)
        hist->max = value_us;
    /* Welford, for a batch of n equal values (Chan's merge with m2_b = 0). */
    double before = (double)hist->count;
    double total = before + (double)n;
    double delta = (double)value_us - hist->mean;
    hist->mean += delta * (double)n / total;
    hist->m2 += delta * delta * before * (double)n / total;
    hist->count += n;
    return 0;
}

int dbev_hist_record(dbev_hist_t *hist, int64_t value_us)
{
    return dbev_hist_record_n(hist, value_us, 1);
}

void dbev_hist_merge(dbev_hist_t *dst, const dbev_hist_t *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0) {
        memcpy(dst, src, sizeof(*dst));
        return;
    }
    for (int i = 0; i < NBUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    double na = (double)dst->count, nb = (double)src->count, total = na + nb;
    double delta = src->mean - dst->mean;
    dst->mean += delta * nb / total;
    dst->m2 += src->m2 + delta * delta * na * nb / total;
    dst->count += src->count;
}

void dbev_hist_reset(dbev_hist_t *hist)
{
    memset(hist, 0, sizeof(*hist));
}

int64_t dbev_hist_count(const dbev_hist_t *hist)
{
    return hist->count;
}

int64_t dbev_hist_min(const dbev_hist_t *hist)
{
    return hist->min;
}

int64_t dbev_hist_max(const dbev_hist_t *hist)
{
    return hist->max;
}

double dbev_hist_mean(const dbev_hist_t *hist)
{
    return hist->count ? hist->mean : 0.0;
}

double dbev_hist_stddev(const dbev_hist_t *hist)
{
    if (hist->count == 0 || hist->m2 <= 0)
        return 0.0;
    return sqrt(hist->m2 / (double)hist->count);
}

int64_t dbev_hist_percentile(const dbev_hist_t *hist, double p)
{
    if (hist->count == 0)
        return 0;
    if (p <= 0)
        return hist->min;
    if (p >= 100)
        return hist->max;
    /* Nearest rank. The small slack keeps 99.9% of 100000 at rank 99900
     * when the product rounds to 99900.00000001. */
    double x = p / 100.0 * (double)hist->count;
    int64_t rank = (int64_t)ceil(x - 1e-6);
    if (rank < 1)
        rank = 1;
    if (rank > hist->count)
        rank = hist->count;
    int64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += hist->counts[i];
        if (seen >= rank) {
            int64_t lo, hi;
            bucket_range(i, &lo, &hi);
            int64_t v = lo + (hi - lo) / 2;
            if (v < hist->min)
                v = hist->min;
            if (v > hist->max)
                v = hist->max;
            return v;
        }
    }
    return hist->max;
}

int dbev_hist_next_bucket(const dbev_hist_t *hist, int *cursor, dbev_hist_bucket_t *bucket)
{
    if (*cursor == 0)
        bucket->cumulative = 0;
    for (int i = *cursor; i < NBUCKETS; i++) {
        if (hist->counts[i] == 0)
            continue;
        bucket_range(i, &bucket->lo_us, &bucket->hi_us);
        if (i == NBUCKETS - 1 && hist->max > bucket->hi_us)
            bucket->hi_us = hist->max; /* the top bucket also holds clamped values */
        bucket->count = hist->counts[i];
        bucket->cumulative += hist->counts[i];
        *cursor = i + 1;
        return 1;
    }
    *cursor = NBUCKETS;
    return 0;
}
