/*
 * The pure parts of the load step (step_load.c): reading a `load:` mapping
 * into a spec, the open-loop schedule (request i is due at start + i/rate),
 * the stress mode's rate stepping, classifying acknowledged writes against
 * what PostgreSQL holds (the lookup itself is load_writes.h), judging a
 * load's figures against its `expect:` and turning them into the run's
 * metrics. Nothing here does I/O, so all of it can be unit-tested
 * (tests/unit/test_load.c).
 * docs/scenarios.md ("Load steps") is the reference for the format.
 */
#ifndef HARNESS_LOAD_H
#define HARNESS_LOAD_H

#include "load/checker.h"

#include <dbev/histogram.h>
#include <dbev/protocol.h>
#include <dbev/report.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** How stress mode raises the rate from one step to the next. */
typedef struct load_rate_step {
    bool multiply; /* true: rate * by; false: rate + by */
    double by;
} load_rate_step_t;

typedef struct load_stress {
    bool on;
    double start_rate;      /* requests/s of the first step */
    load_rate_step_t step;  /* "x1.5" or "+200" */
    double step_duration_s; /* how long each rate is held */
    double max_duration_s;  /* the whole stress, at most LOAD_STRESS_MAX_S */
    double p99_ms;          /* the bound whose break is the knee */
    double max_error_rate;  /* errors / requests above this also break a step */
} load_stress_t;

#define LOAD_STRESS_MAX_S 60.0

/** A load step, read from its `load:` mapping. */
typedef struct load_spec {
    double rate;             /* requests per second (stress: the start rate) */
    int64_t count;           /* requests to send; from count, or rate * duration_s */
    double duration_s;       /* 0 when only count was given */
    double warmup_s;         /* sent first at rate, kept out of the latency figures */
    int max_in_flight;       /* cap on requests waiting for an answer */
    int timeout_ms;          /* per request */
    int max_retries;         /* dbev_call_opts_t.max_retries: -1 (none) by default */
    dbev_op_t op;            /* the template's operation */
    const char *op_key;      /* its key as written ("insert", "query", ...) */
    const json_t *tmpl;      /* borrowed: the operation's body, substituted per request */
    const char *key_table;   /* write key: table (borrowed), NULL when none */
    const char *key_column;  /* write key: unique column */
    const json_t *key_value; /* write key: value template (borrowed) */
    load_stress_t stress;
} load_spec_t;

/**
 * @brief Reads a load step's body into spec; borrowed pointers live as long
 *        as body.
 * @returns 0, or -1 with errstr saying what is wrong and how to fix it.
 */
int load_spec_parse(const json_t *body, load_spec_t *spec, char *errstr, size_t size);

/** Requests a load of duration_s at rate sends (at least 1), or count when count > 0. */
int64_t load_count_for(double rate, double duration_s, int64_t count);

/** When request i (0-based) of a phase started at start_us at rate is due, µs. */
int64_t load_intended_us(int64_t start_us, int64_t i, double rate);

/**
 * @brief Parses a stress step: "x1.5" (or "*1.5") multiplies, "+200" adds, a
 *        bare number adds.
 * @returns 0, or -1 when the text is not one of those or would not raise the rate.
 */
int load_rate_step_parse(const json_t *value, load_rate_step_t *step);

/** The rate after rate under step (always greater than rate). */
double load_rate_next(double rate, const load_rate_step_t *step);

/** Acknowledged writes looked up in PostgreSQL. */
typedef struct load_writes {
    int64_t present_once;
    int64_t lost;
    int64_t doubled;
    char first_lost[128]; /* one example of each, for the message */
    char first_doubled[128];
} load_writes_t;

/**
 * @brief Classifies one acknowledged write key given how many rows PostgreSQL
 *        holds for it (0: lost, 1: present once, more: doubled).
 */
void load_writes_add(load_writes_t *writes, const char *key, int64_t rows);

/** One stress step's outcome. */
typedef struct load_phase {
    double rate;
    int64_t sent;
    int64_t errors;
    int64_t p99_us;
    bool held;
} load_phase_t;

/** Everything a load measured, for judging and for the report. */
typedef struct load_figures {
    double target_rate;
    int64_t duration_us; /* first intended send to last answer (or timeout) */
    int64_t requests;    /* requests the load issued (sent or refused at once) */
    int64_t answered;    /* answers from the adapter, completed or failed */
    int64_t errors;      /* every failure the caller saw, any code */
    double throughput;   /* answered per second of duration_us */
    int64_t p50_us, p90_us, p95_us, p99_us, p999_us, max_us;
    json_t *errors_by_code; /* borrowed: code name -> integer count */
    int64_t cap_waits;      /* requests that waited for max_in_flight */
    checker_summary_t checker;
    int64_t late, duplicate, unknown; /* client counters during the load */
    bool writes_checked;
    load_writes_t writes;
    /* stress mode */
    const load_phase_t *phases;
    size_t n_phases;
} load_figures_t;

/** The checker's classification as the report wants it (late/duplicate from the client). */
void load_report_checker(const load_figures_t *figures, dbev_report_checker_t *out);

/** The knee of a stress run as one sentence, e.g. "knee: held 1500/s (p99 41.0 ms),
 *  broke at 2250/s (p99 230.1 ms > 100 ms)". */
void load_knee_text(const load_figures_t *figures, const load_stress_t *stress, char *buf,
                    size_t size);

/**
 * @brief The figures the run's metrics take from a load (run.h:
 *        load.<scenario>.<step>.<figure>): rates, percentiles, errors, the
 *        loss figures and, when service holds any, the adapter's service time.
 * @returns a new reference (a flat object of numbers and "op").
 */
json_t *load_metrics(const load_figures_t *figures, const load_spec_t *spec,
                     const dbev_hist_t *service);

/** A verdict: status and, on failure, why (each expectation that broke). */
typedef struct load_verdict {
    dbev_report_status_t status;
    char message[2048];
    char expected[1024];
    char actual[1024];
} load_verdict_t;

/**
 * @brief Judges figures against a load step's expect mapping (NULL: no
 *        expectations). Every broken expectation is listed, joined by "; ".
 *        An expectation of the wrong type gives ERROR.
 */
void load_judge(const json_t *expect, const load_figures_t *figures, bool stress,
                load_verdict_t *verdict);

#endif
