/*
 * The adapter's database side: turns decoded requests into responses by
 * running them on PostgreSQL through a pool of connections, behind a circuit
 * breaker, with duplicate detection for writes. It knows nothing of Kafka:
 * the consume/produce loop (loop.c) hands it batches and publishes what it
 * returns.
 *
 * Thread safety: one adapter_exec_t is driven by one thread at a time, but
 * an executor and its lanes (adapter_exec_new_lane) run batches at the same
 * time, one thread each; adapter_exec_breaker_state() and
 * adapter_exec_health() may be called from any thread.
 */
#ifndef ADAPTER_EXEC_H
#define ADAPTER_EXEC_H

#include "dbev_common.h"
#include <dbev/protocol.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct adapter_exec adapter_exec_t;

typedef struct adapter_exec_conf {
    const char *conninfo;         /* libpq connection string */
    int pool_min;                 /* seed: 5 */
    int pool_max;                 /* seed: 20 */
    int64_t max_conn_age_ms;      /* reconnect connections older than this; 0: never */
    int64_t pool_max_queries;     /* requests per connection before it is replaced; 0: no limit */
    int64_t pool_idle_timeout_ms; /* close connections idle longer than this; 0: never */
    int64_t pool_connect_timeout_ms;    /* libpq connect timeout; 0: 5000 */
    int64_t pool_command_timeout_ms;    /* session statement_timeout; 0: none */
    double saturation_pct;              /* health: DEGRADED at this pool utilization; 0: 80 */
    int breaker_failure_threshold;      /* consecutive connection-class failures to OPEN (5) */
    int64_t breaker_recovery_ms;        /* OPEN -> HALF_OPEN after this (60000) */
    int breaker_success_threshold;      /* HALF_OPEN -> CLOSED after this many successes (3) */
    int64_t default_timeout_ms;         /* statement timeout when a request names none */
    int64_t response_max_bytes;         /* largest encoded answer payload; 0: no limit */
    const char *const *table_allowlist; /* NULL-terminated; NULL: every table allowed */
    int64_t dedupe_retention_ms;        /* how long processed event ids are remembered */
    /* Refuse a superuser's connections (the adapter's pg.allow.superuser=false,
     * its default). False here, for the executor's own tests and benches:
     * connected as a superuser, it also applies migration 007 where missing. */
    bool refuse_superuser;
    const dbev_logger_t *logger; /* borrowed; must outlive the executor */
} adapter_exec_conf_t;

/** One request's answer: the payload to publish, on the completed or failed topic. */
typedef struct adapter_outcome {
    bool completed;  /* true: completed topic; false: failed topic */
    json_t *payload; /* new reference, owned by the caller */
} adapter_outcome_t;

/**
 * @brief Creates the executor: opens pool_min connections and checks that
 *        it is not connected as a superuser (unless allowed: then it warns)
 *        and that its bookkeeping (migration 007) is there (a superuser
 *        connection applies it where missing).
 * @returns a handle for adapter_exec_destroy(), or NULL with errstr (a
 *          refused superuser, the bookkeeping missing).
 * @remark A database that cannot be reached at start is not fatal: the
 *         executor starts with an empty pool and the breaker decides.
 */
adapter_exec_t *adapter_exec_new(const adapter_exec_conf_t *conf, char *errstr, size_t size);

/**
 * @brief A lane: a second executor sharing primary's pool, breaker and
 *        configuration, for another thread to run batches on its own
 *        connection while the primary (or another lane) runs its own. The
 *        primary alone does the housekeeping (retention, pool maintenance);
 *        its health covers the lanes. Destroy every lane before the primary.
 * @returns a handle for adapter_exec_destroy(), or NULL with errstr.
 */
adapter_exec_t *adapter_exec_new_lane(adapter_exec_t *primary, char *errstr, size_t size);

/** Closes every connection (a lane: releases its own). NULL is a no-op. */
void adapter_exec_destroy(adapter_exec_t *exec);

/**
 * @brief Executes n requests and fills out[0..n-1], one outcome per request,
 *        in the same order. Every request gets exactly one outcome.
 * @remark Requests of one batch may share connections, pipelines and
 *         transactions, but each request's outcome is its own: a failing
 *         request never fails its neighbours. A write that was already
 *         processed (same event_id) is not executed again: its stored
 *         response is returned with metadata.cached = true.
 */
void adapter_exec_batch(adapter_exec_t *exec, dbev_request_t *const *reqs, size_t n,
                        adapter_outcome_t *out);

/** The breaker's current state. */
dbev_breaker_state_t adapter_exec_breaker_state(adapter_exec_t *exec);

/**
 * @brief Health and statistics (seed 004's health metrics): pool size, free,
 *        utilisation, queries, failures, average time, breaker state.
 * @returns a new reference.
 */
json_t *adapter_exec_health(adapter_exec_t *exec);

#endif
