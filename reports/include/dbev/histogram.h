/*
 * A latency histogram in the spirit of HdrHistogram: log-linear buckets whose
 * width is at most 1/128 of their lower bound, so any value read back (a
 * bucket's midpoint, clamped to the exact minimum and maximum) is within
 * 0.4% of a value that was recorded, from 1 µs to far past 1 h. Values are
 * microseconds as int64_t. Values below 256 µs are kept exactly.
 *
 * Constant memory (about 30 KB, one allocation), O(1) record, no locks: a
 * histogram belongs to one thread. Several threads each record into their
 * own and the owner merges them at the end (dbev_hist_merge), which gives
 * the same counts, percentiles, minimum and maximum as recording everything
 * into one.
 */
#ifndef DBEV_HISTOGRAM_H
#define DBEV_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest value kept apart from its neighbours (2^36-1 µs, about 19 h);
 *  larger values are counted in the top bucket (min/max stay exact). */
#define DBEV_HIST_MAX_VALUE ((int64_t)((1LL << 36) - 1))

typedef struct dbev_hist dbev_hist_t;

/**
 * @brief Creates an empty histogram.
 * @returns a histogram to free with dbev_hist_destroy, or NULL when out of memory.
 */
dbev_hist_t *dbev_hist_new(void);

/** Frees a histogram; NULL is a no-op. */
void dbev_hist_destroy(dbev_hist_t *hist);

/**
 * @brief Creates a copy of a histogram.
 * @returns a histogram to free with dbev_hist_destroy, or NULL when out of memory.
 */
dbev_hist_t *dbev_hist_dup(const dbev_hist_t *hist);

/**
 * @brief Records one value.
 * @param value_us latency in microseconds; values above DBEV_HIST_MAX_VALUE
 *        land in the top bucket.
 * @returns 0, or -1 for a negative value, which is not recorded (a negative
 *          latency is a clock bug the caller should see, not a zero).
 */
int dbev_hist_record(dbev_hist_t *hist, int64_t value_us);

/** Records the same value n times (n >= 1) in O(1); same returns as dbev_hist_record. */
int dbev_hist_record_n(dbev_hist_t *hist, int64_t value_us, int64_t n);

/**
 * @brief Adds every value recorded in src to dst; src is unchanged.
 * @remark Neither histogram may be written by another thread meanwhile.
 */
void dbev_hist_merge(dbev_hist_t *dst, const dbev_hist_t *src);

/** Forgets every value; the histogram is as new. */
void dbev_hist_reset(dbev_hist_t *hist);

/** Number of values recorded. */
int64_t dbev_hist_count(const dbev_hist_t *hist);

/** Exact smallest value recorded; 0 when empty. */
int64_t dbev_hist_min(const dbev_hist_t *hist);

/** Exact largest value recorded; 0 when empty. */
int64_t dbev_hist_max(const dbev_hist_t *hist);

/** Mean of the values recorded (exact up to double rounding); 0 when empty. */
double dbev_hist_mean(const dbev_hist_t *hist);

/** Population standard deviation of the values recorded; 0 when empty. */
double dbev_hist_stddev(const dbev_hist_t *hist);

/**
 * @brief The value at percentile p, by nearest rank: the value v such that
 *        rank = ceil(p/100 * count) values are <= v (rank at least 1).
 * @param p 0..100; p <= 0 gives the minimum, p >= 100 the maximum.
 * @returns the midpoint of the bucket holding that rank, clamped to
 *          [min, max]; within 0.4% of the exact value. 0 when empty.
 */
int64_t dbev_hist_percentile(const dbev_hist_t *hist, double p);

/** One non-empty bucket, for plots and JSON. */
typedef struct dbev_hist_bucket {
    int64_t lo_us;      /* smallest value the bucket holds */
    int64_t hi_us;      /* largest value the bucket holds (inclusive) */
    int64_t count;      /* values recorded in it */
    int64_t cumulative; /* values recorded in it and every bucket below */
} dbev_hist_bucket_t;

/**
 * @brief Walks the non-empty buckets in increasing order.
 * @param cursor set to 0 before the first call; the function advances it.
 * @returns 1 with *bucket filled, 0 when there are no more buckets.
 * @code
 *   int cursor = 0; dbev_hist_bucket_t b;
 *   while (dbev_hist_next_bucket(hist, &cursor, &b)) use(b.lo_us, b.count);
 * @endcode
 * @remark cumulative is computed as the walk goes, so start from cursor 0.
 */
int dbev_hist_next_bucket(const dbev_hist_t *hist, int *cursor, dbev_hist_bucket_t *bucket);

/**
 * @brief Draws the histogram in plain ASCII for a terminal or a CI log: two
 *        summary lines (count, min, max, mean; p50, p90, p99, p99.9) and rows of '#' bars
 *        over log-spaced latency ranges, e.g.
 *        "  1.02ms -   1.45ms |#########            | 4211  14.0%".
 * @param width total line width in columns (at least 40 is used).
 * @returns 0, or -1 when writing to out failed.
 */
int dbev_hist_ascii(const dbev_hist_t *hist, FILE *out, int width);

/**
 * @brief Formats a latency for people: "850us", "1.25ms", "2.50s", "1h02m".
 * @returns buf (always NUL-terminated).
 */
char *dbev_hist_format_us(int64_t value_us, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
