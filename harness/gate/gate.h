/*
 * Gates (issue 7): the success criteria, rollback triggers and regression
 * limits of seeds 000, 001 and 002, kept in ci/gates.yaml so a team can tune
 * them (docs/gates.md), judged against one run's metrics (the flat object
 * run.h describes) and, for regressions, against a stored baseline.
 *
 *   gate_spec.c   reads and checks gates.yaml (mistakes at file:line:column)
 *   gate_judge.c  judges: one row per criterion with figure, bound, outcome
 *   gate_stats.c  the regression test: a run against the baseline's runs
 *   gate_out.c    baseline files, benchmark JSON (github-action-benchmark,
 *                 Bencher), the history file, the verdict in the report
 *   cli/cmd_gate.c `dbev-harness gate`: selects, runs, judges, exits 0/1/2/3
 *
 * Nothing here prints except gate_result_print(); errors come back in
 * errstr buffers.
 */
#ifndef HARNESS_GATE_H
#define HARNESS_GATE_H

#include <dbev/report.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** What a comparison means: "figure CMP bound". */
typedef enum gate_cmp { GATE_LT = 0, GATE_LE, GATE_GT, GATE_GE, GATE_EQ, GATE_NE } gate_cmp_t;

const char *gate_cmp_str(gate_cmp_t cmp);
bool gate_cmp_holds(gate_cmp_t cmp, double figure, double bound);

typedef enum gate_kind {
    GATE_RULE_CRITERION = 0, /* must hold, else FAIL */
    GATE_RULE_ROLLBACK,      /* when it holds, ROLLBACK */
    GATE_RULE_REGRESSION,    /* against the baseline's runs (a t test), else FAIL */
} gate_kind_t;

/** Every phase (1, 2 and 3): a rule without `phases:`. */
#define GATE_PHASES_ALL 0x0eu

/** One rule of gates.yaml. Strings are owned by the spec. */
typedef struct gate_rule {
    gate_kind_t kind;
    char *name;
    /* The metric (run.h's names). A trailing '*' means every metric with
     * that prefix ("loss.*"); each one is judged. NULL for the degradation
     * trigger, which looks at every regression rule's metric. */
    char *metric;
    gate_cmp_t cmp; /* criterion: passes when figure cmp bound; rollback: triggers when */
    double bound;
    char *unit;         /* "ms", "events/s", ... or NULL */
    unsigned phases;    /* bit p set: applies to phase p's gate (1..3) */
    bool with_long;     /* judged only when the run included long scenarios */
    bool bigger_better; /* regression: a throughput; else a latency or a ratio */
    double confidence;  /* regression: one-sided confidence of the t test, e.g. 0.99 */
    double min_effect;  /* regression: a change under this fraction is never flagged */
    double degradation; /* rollback on degradation: trigger above this fraction */
    char **watch;       /* degradation: the baseline metrics it watches (all when n_watch 0) */
    size_t n_watch;
    char where[256]; /* file:line:column of the rule */
} gate_rule_t;

/** A scenario a gate may see SKIPPED without failing (allowed_skips:). */
typedef struct gate_allowed_skip {
    char *scenario; /* its file name, e.g. "idem_adapter_kill_restart.yaml" */
    char *reason;   /* why the team accepts it, printed in every verdict */
} gate_allowed_skip_t;

typedef struct gate_spec {
    char *path;
    /* baseline: the defaults of regression rules, and the fewest baseline
     * runs a statistical comparison accepts */
    double confidence;
    double min_effect;
    int min_runs;
    gate_rule_t *rules;
    size_t n_rules;
    gate_allowed_skip_t *allowed_skips;
    size_t n_allowed_skips;
} gate_spec_t;

/**
 * @brief Reads and checks a gates file.
 * @returns a spec for gate_spec_destroy(), or NULL with errstr set to
 *          "file:line:column: problem".
 */
gate_spec_t *gate_spec_load(const char *path, char *errstr, size_t size);
/** Same, from memory (tests); name stands for the file in messages. */
gate_spec_t *gate_spec_load_buffer(const char *name, const char *text, char *errstr, size_t size);
void gate_spec_destroy(gate_spec_t *spec);

/** Outcome of one row, and of the gate (the worst row). */
typedef enum gate_outcome {
    GATE_PASS = 0,
    GATE_SKIP,     /* not judged; the row says why (no baseline, no long scenarios) */
    GATE_FAIL,     /* a criterion or a regression limit did not hold */
    GATE_ERROR,    /* could not be judged: a metric nobody produced, a harness error */
    GATE_ROLLBACK, /* a rollback trigger fired */
} gate_outcome_t;

/** "PASS", "SKIP", "FAIL", "ERROR", "ROLLBACK". */
const char *gate_outcome_name(gate_outcome_t outcome);
/** The process exit code of an outcome: 0 pass (and skip), 1 fail, 2 rollback, 3 error. */
int gate_outcome_exit(gate_outcome_t outcome);

typedef struct gate_row {
    gate_kind_t kind;
    char name[256];
    char metric[256];
    double figure; /* NAN when there is none */
    double bound;
    gate_cmp_t cmp; /* what must hold for the row to pass (rollback: the negation) */
    char unit[32];
    gate_outcome_t outcome;
    char note[512]; /* why it failed, errored or was skipped; the baseline value */
    char where[256];
} gate_row_t;

/** What the judge needs to know about the run. */
typedef struct gate_input {
    int phase;             /* 1..3, or 0 for all */
    bool with_long;        /* long scenarios were allowed */
    const json_t *metrics; /* the run's flat metrics */
    /* The baseline's entry for this phase (gate_baseline_load: samples,
     * machine, settings), or NULL. */
    const json_t *baseline;
    const char *baseline_note; /* why there is none ("no --baseline", "no entry for phase 2") */
    /* This run's machine ({cpus, cpu_model, kernel}, gate_machine_facts);
     * a baseline from another CPU model or core count is not judged
     * (SKIP) unless any_machine. NULL: not checked. */
    const json_t *machine;
    bool any_machine;
    int scenarios_failed; /* scenarios that failed */
    int scenarios_errors; /* scenarios that could not run */
    /* [{"scenario": file name, "reason": why}] of the scenarios that were
     * SKIPPED; NULL: none. Each fails the gate unless allowed by name. */
    const json_t *skipped;
} gate_input_t;

typedef struct gate_result {
    gate_row_t *rows;
    size_t n_rows;
    gate_outcome_t verdict;
    int count[GATE_ROLLBACK + 1]; /* rows by outcome */
    char summary[512];
} gate_result_t;

/**
 * @brief Judges every rule of spec that applies to in->phase.
 * @returns a result to free with gate_result_destroy(), NULL when out of memory.
 * @remark The verdict is the worst row: ROLLBACK, then ERROR, then FAIL.
 *         Failed scenarios are a FAIL row of their own; scenarios that could
 *         not run an ERROR row.
 */
gate_result_t *gate_judge(const gate_spec_t *spec, const gate_input_t *in);
void gate_result_destroy(gate_result_t *result);

/** The verdict table for a terminal. */
void gate_result_print(const gate_result_t *result, const char *title, FILE *out);

/**
 * @brief Puts the verdict into a report: dbev_report_set_verdict, one
 *        criterion per row, and a "gate" scenario with one step per row, so
 *        that JUnit readers see failing criteria as failing test cases.
 * @returns 0, or -1 when out of memory.
 */
int gate_result_to_report(const gate_result_t *result, const char *title, dbev_report_t *report);

/* ---------------------------------------------------------- gate_stats.c */

/** What the regression test found (gate_stat_test). */
typedef struct gate_stat {
    size_t n;      /* baseline runs */
    double mean;   /* of the baseline's runs */
    double sd;     /* their sample standard deviation */
    double tq;     /* t(confidence, n - 1) */
    double bound;  /* a figure beyond it is flagged: the farther of the t bound and min_effect's */
    double t;      /* (figure - mean) / (sd * sqrt(1 + 1/n)) */
    double change; /* (figure - mean) / mean */
    bool flagged;  /* worse beyond bound */
} gate_stat_t;

/** Student's t distribution with df degrees of freedom: P(T <= t). */
double gate_t_cdf(double t, double df);
/** Its quantile: the t with P(T <= t) = p (0 < p < 1). */
double gate_t_quantile(double p, double df);

/**
 * @brief One-sided test of one new figure against n baseline runs: flagged
 *        when it lies beyond the prediction bound mean +- t(confidence,
 *        n-1) * sd * sqrt(1 + 1/n) on the worse side AND beyond
 *        mean * (1 +- min_effect).
 * @param bigger_better a throughput (worse is smaller); else worse is bigger.
 * @returns 0, or -1 when n < 2 or figure is NAN (out says nothing then).
 */
int gate_stat_test(const double *base, size_t n, double figure, bool bigger_better,
                   double confidence, double min_effect, gate_stat_t *out);

/* ------------------------------------------------------------ gate_out.c */

/** Baseline entries written now: schema_version 2 (docs/gates.md). */
#define GATE_BASELINE_SCHEMA 2

/**
 * @brief This machine: {cpus, cpu_model (/proc/cpuinfo), kernel (uname -r),
 *        host}. A new object.
 */
json_t *gate_machine_facts(void);

/**
 * @brief Whether two machines differ as far as timings go (CPU model or core
 *        count); why says how ("baseline: 4 cores of X; this run: 2 of Y").
 */
bool gate_machine_differs(const json_t *baseline, const json_t *run, char *why, size_t size);

/**
 * @brief Reads a baseline file and returns phase key's entry ("1", "2",
 *        "3", "all"): {git_commit, machine, settings, runs, samples:
 *        {metric: [one value per run]}}.
 * @returns a new reference, or NULL with errstr saying why (missing file,
 *          bad JSON, no entry for the phase, an entry of the old one-run
 *          format that no test can judge).
 */
json_t *gate_baseline_load(const char *path, const char *key, char *errstr, size_t size);

/**
 * @brief Adds one run to phase key's entry of the baseline file (created
 *        when missing; the other phases' entries kept). The run joins the
 *        entry when commit, machine and settings are the entry's and
 *        restart is false; otherwise it starts the entry over. At most
 *        max_runs runs are kept, the newest (per metric: max_runs samples).
 *
 *        With only_prefix, a partial run: only the metrics whose names start
 *        with it are added, to an entry that must already hold full runs at
 *        this commit on this machine in this mode (its scenarios may be a
 *        subset: a probe-only run deepens the probe's samples cheaply). It is
 *        listed under "partial_runs" and never starts the entry over.
 * @param facts borrowed: {git_commit, machine, settings, time, verdict}.
 * @param runs set to the entry's number of (full) runs afterwards.
 * @param why set to why the entry was started over ("" when the run joined).
 * @returns 0, or -1 with errstr set (a partial run that cannot join).
 */
int gate_baseline_store(const char *path, const char *key, const json_t *metrics,
                        const json_t *facts, bool restart, const char *only_prefix, int max_runs,
                        int *runs, char *why, size_t why_size, char *errstr, size_t size);

/** github-action-benchmark's customSmallerIsBetter entries (latencies, ratios, memory): new array.
 */
json_t *gate_bench_smaller(const json_t *metrics);
/** github-action-benchmark's customBiggerIsBetter entries (throughputs): new array. */
json_t *gate_bench_bigger(const json_t *metrics);
/** Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}: new object. */
json_t *gate_bench_bencher(const json_t *metrics);

/**
 * @brief Writes benchmark-smaller.json, benchmark-bigger.json and
 *        bencher.json into dir.
 * @returns 0, or -1 with errstr set.
 */
int gate_bench_write(const json_t *metrics, const char *dir, char *errstr, size_t size);

/**
 * @brief Appends one line (one JSON object) to a JSONL history file,
 *        creating it and its folder when missing.
 * @param line borrowed.
 * @returns 0, or -1 with errstr set.
 */
int gate_history_append(const char *path, const json_t *line, char *errstr, size_t size);

#endif
