/*
 * The run model and its writers. The harness fills a dbev_report_t as a run
 * goes (environment, scenarios and their steps, loads with their latency
 * histograms and checker counts, circuit-breaker transitions, and the gate
 * verdict), then writes it in every format CI and people read:
 *   report.xml   JUnit XML, a testsuite per scenario, a testcase per step;
 *   report.json  everything, machine-readable, with "schema_version": 1;
 *   summary.md   Markdown for CI step summaries and pull-request comments;
 *   report.html  one self-contained page with inline SVG plots.
 *
 * Ownership: the report owns a copy of everything handed to it (strings,
 * histograms, structs); callers keep and free their own. Child handles
 * (scenario, step, load) are owned by the report and live until
 * dbev_report_destroy. Every string is stored as valid UTF-8 (invalid bytes
 * become U+FFFD), so any bytes a failing step produced can be reported.
 *
 * Threads: a report is not thread-safe; fill it from one thread (the
 * harness's runner), after merging per-thread histograms.
 *
 * Times: durations are microseconds. Breaker transitions are microseconds
 * since the run started (dbev_report_set_times); load time-series points are
 * microseconds since the load started.
 */
#ifndef DBEV_REPORT_H
#define DBEV_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "dbev/histogram.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DBEV_REPORT_SCHEMA_VERSION 1

typedef struct dbev_report dbev_report_t;
typedef struct dbev_report_scenario dbev_report_scenario_t;
typedef struct dbev_report_step dbev_report_step_t;
typedef struct dbev_report_load dbev_report_load_t;

/** Outcome of a scenario or a step. */
typedef enum {
    DBEV_REPORT_PASS = 0,
    DBEV_REPORT_FAIL = 1,  /* an expectation did not hold */
    DBEV_REPORT_SKIP = 2,  /* not run; the reason says why */
    DBEV_REPORT_ERROR = 3, /* could not be run as written (harness, environment) */
} dbev_report_status_t;

/** "pass", "fail", "skip", "error" ("unknown" for anything else). */
const char *dbev_report_status_name(dbev_report_status_t status);

/* ------------------------------------------------------------------ run */

/**
 * @brief Creates an empty report.
 * @param title shown on top of the HTML page and the Markdown summary, e.g.
 *        "dbev-harness run"; copied. NULL gives "dbev report".
 * @returns a report to free with dbev_report_destroy, NULL when out of memory.
 */
dbev_report_t *dbev_report_new(const char *title);

/** Frees a report and every handle it gave out; NULL is a no-op. */
void dbev_report_destroy(dbev_report_t *report);

/** When the run started (wall clock, µs since the epoch) and how long it took. */
void dbev_report_set_times(dbev_report_t *report, int64_t started_wall_us, int64_t duration_us);

/* Environment. Keys and values are copied; setting a key again replaces its
 * value. Each returns 0, or -1 when out of memory. */

/** The run's random seed: with it, a rerun generates the same values. */
void dbev_report_set_seed(dbev_report_t *report, uint64_t seed);
/** The git commit the run was built from (e.g. `git rev-parse HEAD`). */
int dbev_report_set_git_commit(dbev_report_t *report, const char *commit);
/** A component's version, e.g. ("postgresql", "15.8"), ("librdkafka", "2.0.2"). */
int dbev_report_set_version(dbev_report_t *report, const char *component, const char *version);
/** A fact about the host, e.g. ("cpus", "2"). */
int dbev_report_set_host(dbev_report_t *report, const char *key, const char *value);
/** Fills host facts from the running machine: hostname, os, kernel, arch, cpus. */
int dbev_report_fill_host(dbev_report_t *report);
/** Any other fact worth keeping with the run (options, DSN without password, ...). */
int dbev_report_set_env(dbev_report_t *report, const char *key, const char *value);

/**
 * @brief Sets a run-wide figure (name and value copied; a second call
 *        replaces it), e.g. "hostile requests" -> "64 sent, 64 answered":
 *        shown in the Markdown summary and the HTML page, and under
 *        "figures" in JSON.
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_set_figure(dbev_report_t *report, const char *name, const char *value);

/* ------------------------------------------------------------ scenarios */

/**
 * @brief Adds a scenario, in run order. Its status starts as pass.
 * @param name copied; file (the scenario's path) copied, may be NULL.
 * @returns a handle owned by the report, or NULL when out of memory.
 */
dbev_report_scenario_t *dbev_report_add_scenario(dbev_report_t *report, const char *name,
                                                 const char *file);
/** Adds a tag (copied). @returns 0, or -1 when out of memory. */
int dbev_report_scenario_add_tag(dbev_report_scenario_t *scenario, const char *tag);
/** The scenario's phase (issue 7's rollout phase); -1, the default, means none. */
void dbev_report_scenario_set_phase(dbev_report_scenario_t *scenario, int phase);
/**
 * @brief Sets the outcome.
 * @param reason why it failed, was skipped or errored (copied; may be NULL).
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_scenario_set_status(dbev_report_scenario_t *scenario, dbev_report_status_t status,
                                    const char *reason);
void dbev_report_scenario_set_duration(dbev_report_scenario_t *scenario, int64_t duration_us);
/**
 * @brief Sets a figure of the scenario as a whole (e.g. "canary.sent" ->
 *        "812"; copied, a second call replaces it): JUnit properties, JSON
 *        "properties".
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_scenario_set_property(dbev_report_scenario_t *scenario, const char *name,
                                      const char *value);
/** The exact command that reruns this scenario alone (copied; shown for failures). */
int dbev_report_scenario_set_rerun(dbev_report_scenario_t *scenario, const char *command);

/* ---------------------------------------------------------------- steps */

/**
 * @brief Adds a step to a scenario, in run order. Its status starts as pass.
 * @param name what the scenario file calls it; kind "op", "sql", "until",
 *        "fault", "raw", "load", "parallel", ...; both copied.
 * @returns a handle owned by the report, or NULL when out of memory.
 */
dbev_report_step_t *dbev_report_scenario_add_step(dbev_report_scenario_t *scenario,
                                                  const char *name, const char *kind);
/** Sets the outcome and its reason (copied; may be NULL). @returns 0 or -1. */
int dbev_report_step_set_status(dbev_report_step_t *step, dbev_report_status_t status,
                                const char *reason);
void dbev_report_step_set_duration(dbev_report_step_t *step, int64_t duration_us);
/** What was expected and what came instead, for a failure (both copied; may be NULL). */
int dbev_report_step_set_mismatch(dbev_report_step_t *step, const char *expected,
                                  const char *actual);
/** Latencies the step measured (copied; replaces any earlier one). @returns 0 or -1. */
int dbev_report_step_set_hist(dbev_report_step_t *step, const dbev_hist_t *hist);
/** The adapter's service time of the step's answer (its metadata.service_ms),
 *  the adapter's share of the step's latency; JSON "service_us". */
void dbev_report_step_set_service(dbev_report_step_t *step, int64_t service_us);

/* ---------------------------------------------------------------- loads */

/**
 * @brief Gives a step a load section (one per step; a second call returns
 *        the same handle).
 * @returns a handle owned by the report, or NULL when out of memory.
 */
dbev_report_load_t *dbev_report_step_load(dbev_report_step_t *step);

/** The load's headline figures. */
typedef struct dbev_report_load_summary {
    double target_rate;  /* requests per second asked for; 0 for as fast as possible */
    int64_t duration_us; /* from the first intended send to the last answer or timeout */
    int64_t sent;        /* requests sent */
    int64_t answered;    /* answers received (completed or failed) */
    double throughput;   /* answers per second; a negative value: computed as
                            answered / duration */
} dbev_report_load_summary_t;

/** The request/reply checker's classification (see harness/load/checker.h). */
typedef struct dbev_report_checker {
    int64_t answered_once;  /* exactly one answer, in time */
    int64_t unanswered;     /* no answer */
    int64_t answered_twice; /* two or more answers */
    int64_t answered_late;  /* first answer after its timeout */
    int64_t unknown_ids;    /* answers for correlation ids never sent */
    int writes_checked;     /* 1 when the acknowledged writes were looked up */
    int64_t writes_present_once;
    int64_t writes_lost;
    int64_t writes_doubled;
} dbev_report_checker_t;

/** Latencies of the load, measured from each request's intended send time (copied). */
int dbev_report_load_set_hist(dbev_report_load_t *load, const dbev_hist_t *hist);
/** The adapter's service times of the load's answers (their metadata.service_ms;
 *  copied), shown beside the end-to-end percentiles. @returns 0 or -1. */
int dbev_report_load_set_service_hist(dbev_report_load_t *load, const dbev_hist_t *hist);
/** Sets the headline figures (copied). */
void dbev_report_load_set_summary(dbev_report_load_t *load,
                                  const dbev_report_load_summary_t *summary);
/** Sets the checker's counts (copied). */
void dbev_report_load_set_checker(dbev_report_load_t *load, const dbev_report_checker_t *checker);
/**
 * @brief Adds n answers with error code (e.g. "TIMEOUT", "DB_ERROR"; copied)
 *        to the load's error counts; adding a code again sums.
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_load_add_errors(dbev_report_load_t *load, const char *code, int64_t n);
/**
 * @brief Appends one point of the load's time series, normally one per second.
 * @param t_us end of the interval, µs since the load started.
 * @param throughput answers per second in the interval.
 * @param p99_us 99th percentile latency of the answers in the interval.
 * @param errors failed answers in the interval.
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_load_add_point(dbev_report_load_t *load, int64_t t_us, double throughput,
                               int64_t p99_us, int64_t errors);
/** The load's histogram (borrowed, lives as long as the report), or NULL. */
const dbev_hist_t *dbev_report_load_hist(const dbev_report_load_t *load);
/** The load's service-time histogram (borrowed), or NULL. */
const dbev_hist_t *dbev_report_load_service_hist(const dbev_report_load_t *load);

/* -------------------------------------------------------------- breaker */

/**
 * @brief Records a circuit-breaker transition on the run's timeline.
 * @param t_us µs since the run started.
 * @param scenario the scenario running at the time (copied; may be NULL).
 * @param from, to states such as "CLOSED", "OPEN", "HALF_OPEN" (copied).
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_add_breaker(dbev_report_t *report, int64_t t_us, const char *scenario,
                            const char *from, const char *to);

/* ---------------------------------------------------------------- trend */

/**
 * @brief Adds one point of a metric's history (earlier runs, then this one),
 *        plotted as a trend in the HTML report and listed in the JSON.
 * @param metric name as in metrics.json (copied).
 * @param wall_us when the run happened (µs since the epoch).
 * @returns 0, or -1 when out of memory.
 */
int dbev_report_add_trend(dbev_report_t *report, const char *metric, int64_t wall_us, double value);

/* -------------------------------------------------------------- verdict */

/** What the gates decide (issue 7). */
typedef enum {
    DBEV_VERDICT_NONE = 0, /* no gate was evaluated */
    DBEV_VERDICT_PASS = 1,
    DBEV_VERDICT_FAIL = 2,
    DBEV_VERDICT_ROLLBACK = 3,
} dbev_report_verdict_t;

/** "none", "pass", "fail", "rollback". */
const char *dbev_report_verdict_name(dbev_report_verdict_t verdict);

/** Sets the overall verdict and a one-line summary (copied; may be NULL). */
int dbev_report_set_verdict(dbev_report_t *report, dbev_report_verdict_t verdict,
                            const char *summary);

/** One gate criterion, e.g. {"p95 latency", "load.p95_us", 41200, 100000, "<=", "us", PASS}. */
typedef struct dbev_report_criterion {
    const char *name;       /* copied */
    const char *metric;     /* what was measured, copied */
    double figure;          /* the measured value */
    double bound;           /* the limit */
    const char *comparison; /* "<=", "<", ">=", ">", "==" (copied) */
    const char *unit;       /* "us", "1/s", "%", ... (copied; may be NULL) */
    dbev_report_verdict_t outcome;
} dbev_report_criterion_t;

/** Appends a criterion (every string copied). @returns 0 or -1. */
int dbev_report_add_criterion(dbev_report_t *report, const dbev_report_criterion_t *criterion);

/* --------------------------------------------------------------- totals */

typedef struct dbev_report_totals {
    int scenarios[4]; /* indexed by dbev_report_status_t */
    int steps[4];
    int scenario_count;
    int step_count;
} dbev_report_totals_t;

/** Counts scenarios and steps by status. */
void dbev_report_totals(const dbev_report_t *report, dbev_report_totals_t *totals);

/* -------------------------------------------------------------- writers */

/* Each writer writes to path.tmp and renames it to path once complete, so a
 * reader never sees half a file. Each returns 0, or -1 with errstr set. */

/** JUnit XML: a testsuite per scenario, a testcase per step. */
int dbev_report_write_junit(const dbev_report_t *report, const char *path, char *errstr,
                            size_t size);
/** JSON with "schema_version": 1; see reports/README.md for the layout. */
int dbev_report_write_json(const dbev_report_t *report, const char *path, char *errstr,
                           size_t size);
/** Markdown summary: scenario table, load figures, failures, verdict. */
int dbev_report_write_markdown(const dbev_report_t *report, const char *path, char *errstr,
                               size_t size);
/** One self-contained HTML page (no external resources) with inline SVG plots. */
int dbev_report_write_html(const dbev_report_t *report, const char *path, char *errstr,
                           size_t size);
/**
 * @brief Writes report.xml, report.json, summary.md and report.html into dir,
 *        creating dir (and its parents) when missing.
 */
int dbev_report_write_all(const dbev_report_t *report, const char *dir, char *errstr, size_t size);

#ifdef __cplusplus
}
#endif
#endif
