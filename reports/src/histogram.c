/*
 * The latency histogram: log-linear buckets (HdrHistogram's layout with 7
 * sub-bucket bits). Values 0..255 each have their own bucket; above, every
 * power of two [2^e, 2^(e+1)) is cut into 128 equal buckets of width
 * 2^(e-7), so a bucket is never wider than 1/128 of its lower bound and its
 * midpoint is within 1/256 (0.4%) of anything in it. Up to 2^36 µs that is
 * 256 + 28 * 128 = 3840 counters, 30 KB.
 *
 * Mean and standard deviation come from the exact sum and sum of squares,
 * kept as 128-bit integers: no division on the record path (Welford's
 * update costs two, and they chain from one record to the next), no
 * cancellation (the variance's numerator n*sumsq - sum^2 is computed
 * exactly), and merging is addition.
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
    unsigned __int128 sum;
    unsigned __int128 sumsq;
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
    unsigned __int128 v = (unsigned __int128)value_us;
    hist->sum += v * (unsigned __int128)n;
    hist->sumsq += v * v * (unsigned __int128)n;
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
    dst->sum += src->sum;
    dst->sumsq += src->sumsq;
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
    return hist->count ? (double)((long double)hist->sum / (long double)hist->count) : 0.0;
}

double dbev_hist_stddev(const dbev_hist_t *hist)
{
    if (hist->count < 2)
        return 0.0;
    unsigned __int128 n = (unsigned __int128)hist->count;
    long double var;
    if (hist->sumsq <= ~(unsigned __int128)0 / n) {
        /* n*sumsq >= sum^2 always (Cauchy-Schwarz), and sum^2 <= n*sumsq fits */
        unsigned __int128 num = n * hist->sumsq - hist->sum * hist->sum;
        var = (long double)num / ((long double)n * (long double)n);
    } else { /* astronomically many or large values: long double is plenty */
        long double mean = (long double)hist->sum / (long double)n;
        var = (long double)hist->sumsq / (long double)n - mean * mean;
    }
    return var > 0 ? (double)sqrtl(var) : 0.0;
}

int64_t dbev_hist_percentile(const dbev_hist_t *hist, double p)
{
    if (hist->count == 0)
        return 0;
    if (!(p > 0)) /* also NaN */
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
