/*
 * replay: re-publishes the requests a trace recorded (trace.h), in their
 * order and timing, on another set of topics, collects the answers and
 * diffs them with the recorded ones. `dbev-harness replay` drives it
 * against a sandbox or a fresh stack; `run --replay-check` against a fresh
 * database and topics of the run's own environment, right after a scenario.
 *
 * Order: a request (or a sql: line) is published only once every answer the
 * recording shows before it has come back, so what happened-before in the
 * recording happens-before in the replay whatever the speed; between those
 * points the recorded gaps are kept (divided by speed), or dropped with
 * speed 0 (as fast as possible).
 *
 * Ids: by default every UUID-shaped event_id and correlation_id is replaced
 * by a fresh one, the same old id always by the same new one (a duplicate
 * stays a duplicate), so a trace can be replayed twice on one sandbox
 * without the adapter's duplicate detection answering from its records; a
 * message key equal to the old correlation id follows it. A request's
 * timestamp within an hour of its recorded sending moves by the time elapsed
 * since, so a deadline (timestamp + timeout_ms) is as far away as it was;
 * one set far off on purpose (a stale or future request) stays as it is.
 *
 * Volatile fields, ignored by the diff (docs/scenarios.md lists them):
 * event_id, correlation_id, timestamp, execution_time_ms, metadata.source
 * (where the request was read: topic, partition, offset), the HEALTH row's
 * counters and times (uptime_seconds, total_queries, failed_queries,
 * avg_query_time_ms, connects, connect_failures, circuit_opened_count,
 * pool_size, pool_free, pool_in_use, pool_utilization_pct, last_error,
 * last_error_time); two strings that are both UUIDs or both ISO-8601 times
 * are equal (ids and times the database generated), and digits followed by
 * " ms" in error messages (measured durations) are compared as "N ms".
 */
#ifndef HARNESS_REPLAY_H
#define HARNESS_REPLAY_H

#include "dbev_common.h"
#include "env/mockenv.h"
#include "env/pgenv.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct replay_trace replay_trace_t;

/** Loads a trace-sN.jsonl; NULL with errstr. Free with replay_trace_destroy(). */
replay_trace_t *replay_trace_load(const char *path, char *errstr, size_t size);
void replay_trace_destroy(replay_trace_t *trace);
/** The trace's header (trace.h), or NULL for a trace written before headers; borrowed. */
const json_t *replay_trace_header(const replay_trace_t *trace);
/** Requests in the trace. */
size_t replay_trace_requests(const replay_trace_t *trace);

/** Where the requests go. */
typedef struct replay_target {
    const char *bootstrap;
    const char *topic_env;       /* topic prefix the adapters listen on */
    PGconn *conn;                /* the database sql: lines run on; NULL: they are refused */
    const dbev_logger_t *logger; /* borrowed */
} replay_target_t;

typedef struct replay_opts {
    double speed;  /* 1: recorded timing; 2: twice as fast; 0: as fast as possible */
    bool keep_ids; /* publish the recorded ids as they are */
    /* A name that differs between the two runs by construction (the replay's
     * database, in PostgreSQL's messages): in a replayed answer, rename_to
     * is read as rename_from. NULL: none. */
    const char *rename_from, *rename_to;
} replay_opts_t;

/**
 * @brief Replays trace on target; writes the differences, readable, to diff
 *        (NULL: not written).
 * @returns the number of differences (0: the answers match), or -1 with
 *          errstr when the replay itself could not run.
 */
long replay_run(const replay_trace_t *trace, const replay_target_t *target,
                const replay_opts_t *opts, FILE *diff, char *errstr, size_t size);

/*
 * A fresh world for a trace on a given environment: a database cloned from
 * the template of the header's fixtures (migrations and fixtures, the same
 * pgenv_template() the run uses), its setup_sql, the topics of topic_env,
 * and the header's adapters (count and settings) embedded as threads.
 */
typedef struct replay_stack replay_stack_t;

replay_stack_t *replay_stack_new(pgenv_t *pg, mockenv_t *kafka, const json_t *header,
                                 const char *topic_env, const char *dbname,
                                 const dbev_logger_t *logger, char *errstr, size_t size);
/** The target to hand replay_run(); lives as long as the stack. */
const replay_target_t *replay_stack_target(const replay_stack_t *stack);
/** Stops the adapters and drops the database (unless keep). NULL is a no-op. */
void replay_stack_destroy(replay_stack_t *stack, bool keep);

#endif
