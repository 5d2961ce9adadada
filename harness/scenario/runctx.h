/*
 * The context a scenario runs in, and the contract every step kind follows.
 * cmd_run.c builds one runctx_t per scenario (its own database cloned from
 * the template, its own topic prefix, adapter(s), client and direct
 * connection) and hands each step to the function for its kind:
 *
 *   int step_run_<kind>(runctx_t *ctx, const step_t *step, step_result_t *res);
 *
 * A step function fills res (status, message, latencies, outcome) and
 * returns 0; it returns -1 only when the harness itself broke (res says
 * why) and the run must stop. It never prints: the runner reports.
 */
#ifndef HARNESS_RUNCTX_H
#define HARNESS_RUNCTX_H

#include "dbev_common.h"
#include "env/mockenv.h"
#include "env/pgenv.h"
#include "scenario/scenario.h"
#include "scenario/vars.h"

#include <dbev/dbev.h>
#include <dbev/histogram.h>
#include <dbev/report.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct adapters adapters_t;       /* adapter supervisor (adapters.h) */
typedef struct run_metrics run_metrics_t; /* the run's figures (metrics.h) */

/** How requests reach the database: seed 000's feature flag, plus both. */
typedef enum run_mode {
    RUN_MODE_EVENT = 0, /* client -> Kafka -> adapter -> PostgreSQL */
    RUN_MODE_DIRECT,    /* libpq straight to PostgreSQL, as the services do today */
    RUN_MODE_BOTH,      /* each operation on both paths, results compared */
} run_mode_t;

/** Where the adapter runs. */
typedef enum adapter_mode {
    ADAPTER_THREAD = 0, /* embedded in the harness process */
    ADAPTER_PROCESS,    /* build/bin/dbev-adapter children (kill faults need this) */
    ADAPTER_EXTERNAL,   /* one already listening on --kafka-bootstrap */
} adapter_mode_t;

/** Options of a run, from the command line. */
typedef struct run_opts {
    uint64_t seed;
    run_mode_t mode;
    adapter_mode_t adapter_mode;
    int adapters;            /* adapter instances per scenario (one consumer group) */
    int breaker_recovery_ms; /* adapter breaker recovery for scenarios (short) */
    bool keep;
    bool fail_fast;
    bool timings;  /* --timings: where each scenario's wall time went */
    bool progress; /* a terminal: progress bars; CI: plain lines */
    /* after each passing scenario without faults or loads, replay its trace
     * on a fresh database and topics and fail it if an answer differs */
    bool replay_check;
    /* With a judge: measure client.rss_mb (bench_client_memory, ~2.7 s), for
     * a gate whose rules name it. */
    bool client_memory;
    const char *out_dir;
} run_opts_t;

/* The phases of a scenario's wall time, for --timings. */
typedef enum run_phase {
    RUN_PHASE_DATABASE, /* its database(s) cloned from a template, connections */
    RUN_PHASE_TOPICS,   /* its topics created */
    RUN_PHASE_ADAPTERS, /* its adapters started */
    RUN_PHASE_CLIENT,   /* its client created */
    RUN_PHASE_READY,    /* the first HEALTH round trip: the adapters consume */
    RUN_PHASE_STEPS,    /* its steps */
    RUN_PHASE_AFTER,    /* guards' end, the trace read back, a replay check */
    RUN_PHASE_TEARDOWN, /* client and adapters stopped, databases dropped */
    RUN_PHASE__COUNT
} run_phase_t;

typedef struct runctx {
    /* Shared by the whole run; borrowed. */
    const run_opts_t *opts;
    pgenv_t *pg;
    mockenv_t *kafka;
    const dbev_logger_t *logger;
    dbev_report_t *report;

    /* This scenario's; owned by the runner. */
    const scenario_t *scenario;
    dbev_report_scenario_t *report_scenario;
    char dbname[64];        /* the scenario's own database */
    char dbname_direct[80]; /* RUN_MODE_BOTH: the direct path's twin database */
    char topic_env[64];     /* the scenario's topic prefix: its own request/response topics */
    char conninfo[512];     /* libpq connection string of dbname, as the superuser */
    char app_conninfo[512]; /* the same as PGENV_APP_ROLE: the adapters' */
    PGconn *direct;         /* connection to dbname (sql: steps, checks), as the superuser */
    PGconn *direct_twin;    /* RUN_MODE_BOTH: connection to dbname_direct, as the superuser */
    /* The direct path's operations, as PGENV_APP_ROLE like the adapters, so
     * parity compares like with like: to dbname (RUN_MODE_DIRECT) and
     * dbname_direct (RUN_MODE_BOTH); NULL in the other modes. */
    PGconn *direct_op;
    PGconn *direct_twin_op;
    dbev_client_t *client; /* NULL in RUN_MODE_DIRECT */
    adapters_t *adapters;  /* NULL in RUN_MODE_DIRECT */
    /* The adapters this scenario runs on (runctx_plan_adapters): the run's
     * --adapter/--adapters, raised to what its requires: names. */
    adapter_mode_t adapter_mode;
    int adapter_count;
    vars_t *vars;
    int64_t started_us;                 /* monotonic, for timelines */
    int64_t phase_us[RUN_PHASE__COUNT]; /* --timings: time spent in each phase */
    run_metrics_t *metrics; /* the run's figures (metrics.h); steps add through run_metrics_* */
    /* --mode both, for a scenario with `paths: event` (it proves the event
     * path's own behaviour, which the direct path lacks by design):
     * operations run on the event path only, nothing is compared. */
    bool event_only;
    /* A scenario that injects faults: its latencies are not the path's
     * performance, so they stay out of the latency metrics gates judge. */
    bool metrics_excluded;
    /* The sql: steps run on the scenario's database, in order, as trace
     * lines (trace_note_sql()); owned, NULL until the first. */
    json_t *trace_sql;
    /* A latency probe (tag perf): its repeated steps' latencies go to the
     * probe.* figures (run.h), apart from the suite's. */
    bool probe;
} runctx_t;

/** What a step produced. */
typedef struct step_result {
    dbev_report_status_t status; /* PASS, FAIL, SKIP or ERROR */
    char message[2048];          /* why it failed / was skipped; empty on pass */
    char expected[1024];         /* on FAIL: expected vs actual, for the reports */
    char actual[1024];
    double latency_ms; /* single operations */
    json_t *outcome;   /* owned; the last outcome (for save:), or NULL */
    /* owned; figures the step measured, merged into the run's metrics
     * (run.h lists the names), or NULL. A load step sets at least
     * throughput, p50_ms, p95_ms, p99_ms, sent, errors, error_rate,
     * unanswered, answered_twice, answered_late, unknown_ids, writes_lost,
     * writes_doubled, and op (the operation's name). */
    json_t *metrics;
    dbev_report_step_t *report_step; /* borrowed: load steps attach their section here */
} step_result_t;

int step_run_operation(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_sql(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_until(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_fault(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_raw(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_load(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_parallel(runctx_t *ctx, const step_t *step, step_result_t *res);
int step_run_registry(runctx_t *ctx, const step_t *step, step_result_t *res);

/** Records one single operation's latency on a path ("event" or "direct"). Thread-safe. */
void run_metrics_latency(run_metrics_t *metrics, const char *path, dbev_op_t op, double latency_ms,
                         bool ok);
/** Records one latency of a latency probe's repeated step (probe.*); block
 *  names the step (its file:line:column; its samples' median is one
 *  block's). Thread-safe. */
void run_metrics_probe(run_metrics_t *metrics, const char *block, const char *path, dbev_op_t op,
                       double latency_ms, bool ok);
/** Records the adapter's service time an answer carried (metadata.service_ms):
 *  service.<op>.*, and probe.service.<op>.* when probe_block names the
 *  probe's step it came from (NULL: not the probe's). Thread-safe. */
void run_metrics_service(run_metrics_t *metrics, dbev_op_t op, double service_ms,
                         const char *probe_block);
/** Records a probe block's CPU time per event-path request (µs: the
 *  adapter's threads and its backends, cpuwork.h): probe.cpu.<op>.*.
 *  Thread-safe. */
void run_metrics_probe_cpu(run_metrics_t *metrics, const char *block, dbev_op_t op, double cpu_us);
/** Counts one parity mismatch (--mode both). Thread-safe. */
void run_metrics_parity_mismatch(run_metrics_t *metrics);

/** Runs one step of any kind (dispatch on step->kind). */
int step_run(runctx_t *ctx, const step_t *step, step_result_t *res);

/** Sets res to FAIL/ERROR/SKIP with a printf-style message; returns 0 (util.c). */
int step_fail(step_result_t *res, dbev_report_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
