/*
 * The run model's layout, shared by the builder (model.c) and the writers
 * (junit.c, json.c, markdown.c, html.c), plus the small helpers they share:
 * growable arrays, UTF-8-safe string copies, XML escaping, and files written
 * under a temporary name then renamed. Private to the reports component;
 * every name here has the rep_ prefix and is not exported.
 */
#ifndef REPORTS_REPORT_INT_H
#define REPORTS_REPORT_INT_H

#include <stdio.h>

#include "dbev/report.h"
#include "dbev_common.h"

typedef struct rep_kv {
    char *key;
    char *value;
} rep_kv_t;

typedef struct rep_kvlist {
    rep_kv_t *items;
    size_t n, cap;
} rep_kvlist_t;

typedef struct rep_errcount {
    char *code;
    int64_t n;
} rep_errcount_t;

typedef struct rep_point {
    int64_t t_us;
    double throughput;
    int64_t p99_us;
    int64_t errors;
} rep_point_t;

struct dbev_report_load {
    dbev_hist_t *hist;
    int has_summary;
    dbev_report_load_summary_t summary;
    int has_checker;
    dbev_report_checker_t checker;
    rep_errcount_t *errors;
    size_t nerrors, caperrors;
    rep_point_t *points;
    size_t npoints, cappoints;
};

struct dbev_report_step {
    char *name;
    char *kind;
    dbev_report_status_t status;
    char *reason;
    int64_t duration_us;
    char *expected;
    char *actual;
    dbev_hist_t *hist;
    dbev_report_load_t *load;
};

struct dbev_report_scenario {
    char *name;
    char *file;
    char **tags;
    size_t ntags, captags;
    int phase;
    dbev_report_status_t status;
    char *reason;
    int64_t duration_us;
    char *rerun;
    rep_kvlist_t properties; /* figures of the scenario as a whole (the canary's) */
    dbev_report_step_t **steps;
    size_t nsteps, capsteps;
};

typedef struct rep_breaker {
    int64_t t_us;
    char *scenario;
    char *from;
    char *to;
} rep_breaker_t;

typedef struct rep_trend {
    char *metric;
    int64_t wall_us; /* when that run happened */
    double value;
} rep_trend_t;

typedef struct rep_criterion {
    char *name;
    char *metric;
    double figure;
    double bound;
    char *comparison;
    char *unit;
    dbev_report_verdict_t outcome;
} rep_criterion_t;

struct dbev_report {
    char *title;
    int64_t started_wall_us;
    int64_t duration_us;
    int has_seed;
    uint64_t seed;
    char *git_commit;
    rep_kvlist_t versions;
    rep_kvlist_t host;
    rep_kvlist_t env;
    rep_kvlist_t figures; /* run-wide figures shown in every format (hostile requests) */
    dbev_report_scenario_t **scenarios;
    size_t nscenarios, capscenarios;
    rep_breaker_t *breaker;
    size_t nbreaker, capbreaker;
    rep_trend_t *trend;
    size_t ntrend, captrend;
    dbev_report_verdict_t verdict;
    char *verdict_summary;
    rep_criterion_t *criteria;
    size_t ncriteria, capcriteria;
};

/* Makes room for one more element in *items (n used, *cap allocated).
 * Returns 0, or -1 when out of memory (the array is unchanged). */
int rep_grow(void *items, size_t *cap, size_t n, size_t elsize);

/* Copies s as valid UTF-8 (invalid bytes become U+FFFD). NULL gives NULL;
 * *ok is set to 0 when out of memory. Free with free(). */
char *rep_strdup(const char *s, int *ok);

/* Replaces *dst with a copy of s; returns 0 or -1 (out of memory, *dst kept). */
int rep_setstr(char **dst, const char *s);

/* The percentiles every writer shows, in this order, with their labels. */
#define REP_NPCT 6
extern const double rep_pcts[REP_NPCT];      /* 50, 90, 95, 99, 99.9, 100 */
extern const char *rep_pct_keys[REP_NPCT];   /* "p50" ... "p99_9", "max" */
extern const char *rep_pct_labels[REP_NPCT]; /* "p50" ... "p99.9", "max" */

/* Throughput of a load: the summary's, or answered / duration when negative. */
double rep_load_throughput(const dbev_report_load_t *load);

/* The trend plot of one metric (svg.c): its points in run order. */
void rep_svg_trend(FILE *fp, const dbev_report_t *report, const char *metric, const char *title);

/* Sum of a load's error counts. */
int64_t rep_load_error_total(const dbev_report_load_t *load);

/* Opens path.tmp for writing; *tmp receives its name (free it with
 * rep_file_close). Returns NULL with errstr set on failure. */
FILE *rep_file_open(const char *path, char **tmp, char *errstr, size_t size);

/* Closes fp and renames the temporary file onto path; on any write error
 * removes the temporary file instead. Frees tmp. Returns 0 or -1. */
int rep_file_close(FILE *fp, const char *path, char *tmp, char *errstr, size_t size);

/* Writes s escaped for XML/HTML text and attribute values: & < > " ' become
 * entities, control characters XML 1.0 forbids become U+FFFD. NULL writes
 * nothing. */
void rep_xml_puts(FILE *fp, const char *s);

/* Same for an attribute value: also encodes tab, newline and carriage return
 * so that they survive attribute-value normalisation. */
void rep_xml_attr(FILE *fp, const char *s);

/* Formats microseconds as seconds with 3 decimals (JUnit's time attribute). */
char *rep_seconds(int64_t us, char *buf, size_t size);

/* Inline SVG plots for the HTML page (svg.c). Each writes one <svg> element. */
void rep_svg_histogram(FILE *fp, const dbev_hist_t *hist, const char *title);
void rep_svg_spectrum(FILE *fp, const dbev_hist_t *hist, const char *title);
void rep_svg_latency_time(FILE *fp, const dbev_report_load_t *load, const char *title);
void rep_svg_throughput_time(FILE *fp, const dbev_report_load_t *load, const char *title);
void rep_svg_breaker(FILE *fp, const dbev_report_t *report, const char *title);

#endif
