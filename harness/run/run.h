/*
 * The run: brings the environment up once (throwaway PostgreSQL or
 * --pg-dsn, mock cluster or --kafka-bootstrap), runs the selected scenarios
 * (each on its own database and topics, with its own adapter(s) and client),
 * prints one line per step, and writes the reports.
 */
#ifndef HARNESS_RUN_H
#define HARNESS_RUN_H

#include "scenario/runctx.h"
#include "scenario/scenario.h"

#include <stddef.h>

/*
 * Partitions per topic for runs, unless --partitions says otherwise. More
 * than the mock cluster's default of 3 because librdkafka's mock broker finds
 * a fetch offset by walking the partition's list of message sets: at 1,000
 * requests/s a 3-partition topic slows every fetch down within ~15 s (p99
 * 26 ms -> 600 ms), an artefact of the test double, not of the path under
 * test. With 12 the same 30 s load stays flat (p99 34 ms); measured with
 * scenarios/load_throughput.yaml on this 2-core machine.
 *
 * The walk is paid per fetch that returns data, and the harness's 1 ms
 * fetch wait (kprofile.h) makes that about one fetch per message: with 12
 * partitions the 30 s load's p99 climbed again, second by second, from
 * 7 ms to 400 ms on a slow hour, a quarter of the run's CPU in that one loop
 * (perf: rd_kafka_mock_msgset_find). A scenario with a load step therefore
 * gets RUN_LOAD_PARTITIONS (unless --partitions is given): the walk is 4x
 * shorter. Not every scenario: placing 48 partitions' leaders costs
 * ~100 ms more per scenario.
 */
#define RUN_DEFAULT_PARTITIONS 12
#define RUN_LOAD_PARTITIONS    48

/** Where the environment comes from (the command line's --pg-* and --kafka-* options). */
typedef struct run_env_opts {
    const char *pg_bin;
    const char *pg_dsn;
    const char *kafka_bootstrap;
    int brokers;
    int partitions;
    int jobs;                 /* scenarios at once (-j) */
    const char *rerun_prefix; /* how to rerun one scenario: argv[0] and the env options */
    /* The process exits right after (the CLI): leave the mock cluster to the
     * exit instead of shutting it down (mockenv_abandon: up to 1 s saved). */
    bool exiting;
} run_env_opts_t;

/**
 * Called after the scenarios ran and before the reports are written, with
 * the run's metrics (below) and the scenarios that were SKIPPED, as
 * [{"scenario": file name, "name": title, "reason": why}]; it may add
 * criteria and a verdict to the report. status is what run_scenarios()
 * would return; the callback's return value is returned instead.
 */
typedef int (*run_judge_fn)(dbev_report_t *report, const json_t *metrics, const json_t *skipped,
                            int status, void *opaque);

/**
 * @brief Runs scenarios and writes the reports (and metrics.json) into
 *        opts->out_dir.
 * @param judge may be NULL.
 * @returns 0 when every scenario passed or was skipped, 1 when any failed,
 *          2 when the harness could not run them (environment, reports);
 *          with judge, what judge returned. When the environment does not
 *          come up the judge is not called and -1 is returned.
 *
 * Metrics (one flat JSON object, numbers only; latencies in ms):
 *   latency.<op>.{count,errors,p50_ms,p95_ms,p99_ms}   single event-path operations
 *   direct.latency.<op>.{...}                         the same on the direct path
 *   roundtrip.{count,p50_ms,p95_ms,p99_ms}            every event-path operation
 *   service.<op>.{count,p50_ms,p95_ms,p99_ms}          the adapter's service time, from the
 *                                                     answers' metadata.service_ms (single
 *                                                     operations and loads; docs/latency.md)
 *   transport.{p50_ms,p99_ms,round_trips}             the Kafka cluster's transport floor:
 *                                                     a two-hop echo without the adapter
 *                                                     (transport.h), measured at the start
 *   ratio.<op>.p95                                    event p95 / direct p95 (--mode both)
 *   probe.<op>.{count,p50_ms,p95_ms,p99_ms}            the latency probe (scenarios tagged
 *   probe.direct.<op>.{...}                           perf, their repeat: steps; event and
 *   probe.<op>.ratio_p50                              direct path in turn), and the ratio
 *                                                     of its event p50 to its direct p50
 *   probe[.direct].<op>.{best_p50_ms,blocks}          the lowest median of the probe's
 *                                                     repeated steps (blocks) of op
 *   probe.service.<op>.{...,best_p50_ms}              the probe's answers' service time,
 *                                                     and its lowest block median
 *   probe.cpu.<op>.{best_us,median_us,blocks}         CPU time per event-path request of
 *                                                     the probe's blocks on an adapter
 *                                                     process: its dbev- threads and
 *                                                     backends (cpuwork.h)
 *   load.<scenario>.<step>.<figure>                   each load step's figures
 *   load.throughput_max, load.<op>.throughput_max     best sustained rate (per op) of
 *                                                     the loads at a fixed rate (no climb)
 *   load.p95_ms_max, load.p99_ms_max                  worst load percentile
 *   load.error_rate_max                               worst load error rate
 *   errors.rate                                       failed / all requests of loads
 *   loss.{unanswered,answered_twice,answered_late,unknown_ids,writes_lost,writes_doubled}
 *   parity.mismatches                                 --mode both differences
 *   harness.rss_mb                                    peak resident memory of the harness
 *   client.rss_mb                                     (a gate naming it) the client's peak
 *                                                     memory with 1,000 requests in flight,
 *                                                     measured by bench_client_memory
 *   scenarios.{passed,failed,skipped,errors}
 * op is the operation's lower-case name: query, insert, update, ...
 * latency.* and roundtrip.* take the successful single operations and the
 * load steps (each request measured from its intended send time) of every
 * scenario but those that inject faults or are tagged validation or timeout:
 * a request retried through an injected broker error, or refused on purpose,
 * measures the fault, not the path. Failures are counted in .errors.
 */
int run_scenarios(const run_opts_t *opts, const run_env_opts_t *env_opts,
                  scenario_t *const *scenarios, size_t n, run_judge_fn judge, void *opaque);

/**
 * Whether a scenario must have the machine to itself: a fault on the shared
 * PostgreSQL server or Kafka cluster, a load step, or the perf tag. With -j
 * these run one at a time after the others (the exclusive pass), the perf
 * ones first.
 */
bool run_runs_alone(const scenario_t *sc);

#endif
