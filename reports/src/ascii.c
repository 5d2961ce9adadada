/*
 * The terminal view of a latency histogram: what the harness prints after a
 * load step, in a CI log as well as on a terminal, so plain ASCII only. The
 * range from the minimum to the maximum is cut into log-spaced rows (latency
 * spans orders of magnitude; equal-width rows would put everything in the
 * first one), each row a '#' bar scaled to the fullest row.
 */
#include "dbev/histogram.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROWS 16

char *dbev_hist_format_us(int64_t value_us, char *buf, size_t size)
{
    double v = (double)value_us;
    if (value_us < 1000)
        snprintf(buf, size, "%lldus", (long long)value_us);
    else if (value_us < 10000)
        snprintf(buf, size, "%.2fms", v / 1e3);
    else if (value_us < 100000)
        snprintf(buf, size, "%.1fms", v / 1e3);
    else if (value_us < 1000000)
        snprintf(buf, size, "%.0fms", v / 1e3);
    else if (value_us < 10000000)
        snprintf(buf, size, "%.2fs", v / 1e6);
    else if (value_us < 3600000000LL)
        snprintf(buf, size, "%.1fs", v / 1e6);
    else
        snprintf(buf, size, "%lldh%02lldm", (long long)(value_us / 3600000000LL),
                 (long long)(value_us % 3600000000LL / 60000000LL));
    return buf;
}

int dbev_hist_ascii(const dbev_hist_t *hist, FILE *out, int width)
{
    char a[24], b[24], c[24], d[24];
    if (width < 40)
        width = 40;
    int64_t n = dbev_hist_count(hist);
    if (n == 0) {
        fprintf(out, "latency: no values recorded\n");
        return ferror(out) ? -1 : 0;
    }
    int64_t lo = dbev_hist_min(hist), hi = dbev_hist_max(hist);
    fprintf(out, "latency n=%lld min=%s max=%s mean=%s\n", (long long)n,
            dbev_hist_format_us(lo, a, sizeof(a)), dbev_hist_format_us(hi, b, sizeof(b)),
            dbev_hist_format_us((int64_t)dbev_hist_mean(hist), c, sizeof(c)));
    fprintf(out, "p50=%s p90=%s p99=%s p99.9=%s\n",
            dbev_hist_format_us(dbev_hist_percentile(hist, 50), a, sizeof(a)),
            dbev_hist_format_us(dbev_hist_percentile(hist, 90), b, sizeof(b)),
            dbev_hist_format_us(dbev_hist_percentile(hist, 99), c, sizeof(c)),
            dbev_hist_format_us(dbev_hist_percentile(hist, 99.9), d, sizeof(d)));

    /* Row edges: geometric from max(min, 1) to max + 1. */
    double from = lo < 1 ? 1.0 : (double)lo, to = (double)hi + 1.0;
    int rows = MAX_ROWS;
    if (to / from < 1.5)
        rows = 4;
    double edges[MAX_ROWS + 1];
    for (int i = 0; i <= rows; i++)
        edges[i] = from * pow(to / from, (double)i / rows);
    edges[0] = 0; /* the first row also takes values below 1 */
    edges[rows] = INFINITY;
    int64_t counts[MAX_ROWS] = {0};
    int cursor = 0, row = 0;
    dbev_hist_bucket_t bucket;
    while (dbev_hist_next_bucket(hist, &cursor, &bucket)) {
        double mid = (double)bucket.lo_us + (double)(bucket.hi_us - bucket.lo_us) / 2.0;
        while (row < rows - 1 && mid >= edges[row + 1])
            row++;
        counts[row] += bucket.count;
    }
    int64_t peak = 1;
    for (int i = 0; i < rows; i++)
        if (counts[i] > peak)
            peak = counts[i];

    /* "%8s - %8s |" + bar + "| %8lld %5.1f%%" */
    int bar = width - (8 + 3 + 8 + 2) - (2 + 8 + 1 + 6);
    if (bar < 10)
        bar = 10;
    char hashes[512];
    if (bar > (int)sizeof(hashes) - 1)
        bar = (int)sizeof(hashes) - 1;
    for (int i = 0; i < rows; i++) {
        int64_t row_lo = i == 0 ? lo : (int64_t)ceil(edges[i]);
        int64_t row_hi = i == rows - 1 ? hi : (int64_t)ceil(edges[i + 1]) - 1;
        if (row_hi < row_lo) {
            if (counts[i] == 0)
                continue; /* an empty sliver between two integer values */
            row_hi = row_lo;
        }
        int len = (int)((counts[i] * bar + peak - 1) / peak);
        memset(hashes, '#', (size_t)len);
        memset(hashes + len, ' ', (size_t)(bar - len));
        hashes[bar] = '\0';
        fprintf(out, "%8s - %8s |%s| %8lld %5.1f%%\n", dbev_hist_format_us(row_lo, a, sizeof(a)),
                dbev_hist_format_us(row_hi, b, sizeof(b)), hashes, (long long)counts[i],
                100.0 * (double)counts[i] / (double)n);
    }
    return ferror(out) ? -1 : 0;
}
