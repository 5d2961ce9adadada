/*
 * dbev_adapter: the database adapter as a library. The `dbev-adapter` daemon
 * (adapter/src/main.c) and the harness, which embeds the adapter as a thread,
 * use exactly this API, so both run the same code.
 *
 * The adapter consumes request events from
 * <env>.omninode-bridge.database.query-requested.v1 as a member of a consumer
 * group, executes them on PostgreSQL and publishes one completed or failed
 * event per request (same correlation id). Offsets are committed only once
 * every response of a batch has been acknowledged by the broker: delivery is
 * at least once, and redelivered writes are not applied twice (dedupe).
 *
 * Configuration is one property table (see dbev_adapter_conf_help() and
 * docs/adapter-config.md): string keys, each with a type, a default, a range,
 * an optional environment-variable fallback and a description. Keys starting
 * with "kafka." pass through to librdkafka, other "pg." keys to libpq.
 *
 * Thread safety: a conf object belongs to one thread at a time.
 * dbev_adapter_stop() and dbev_adapter_stats() may be called from any thread
 * (dbev_adapter_stop() also from a signal handler); everything else from the
 * thread that owns the adapter.
 */
#ifndef DBEV_ADAPTER_H
#define DBEV_ADAPTER_H

#include "dbev_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Service name used in envelopes, the registry and heartbeats. */
#define DBEV_ADAPTER_SERVICE "database-adapter-effect"
/** Service type announced on the registry topic. */
#define DBEV_ADAPTER_SERVICE_TYPE "effect"

typedef struct dbev_adapter_conf dbev_adapter_conf_t;
typedef struct dbev_adapter dbev_adapter_t;

/** Results of dbev_adapter_conf_set(), as librdkafka's rd_kafka_conf_res_t. */
typedef enum dbev_adapter_conf_res {
    DBEV_ADAPTER_CONF_UNKNOWN = -2, /**< no such key */
    DBEV_ADAPTER_CONF_INVALID = -1, /**< the value is out of range or of the wrong type */
    DBEV_ADAPTER_CONF_OK = 0,
} dbev_adapter_conf_res_t;

/**
 * @brief A configuration with every key at its default (environment
 *        fallbacks are read when the adapter is created, for keys not set).
 * @returns a conf to free with dbev_adapter_conf_destroy() or to hand to
 *          dbev_adapter_new(); NULL on allocation failure.
 */
dbev_adapter_conf_t *dbev_adapter_conf_new(void);

/** Frees a conf. NULL is a no-op. */
void dbev_adapter_conf_destroy(dbev_adapter_conf_t *conf);

/**
 * @brief Sets key to value after checking its type and range.
 * @param value NULL resets the key to its default (and re-enables its
 *        environment fallback).
 * @returns DBEV_ADAPTER_CONF_OK, or UNKNOWN/INVALID with one line in errstr
 *          naming the key, the problem and the allowed values. Values of
 *          secret keys (passwords) never appear in errstr.
 */
dbev_adapter_conf_res_t dbev_adapter_conf_set(dbev_adapter_conf_t *conf, const char *key,
                                              const char *value, char *errstr, size_t size);

/**
 * @brief Applies one "key=value" assignment (as given to -X).
 * @returns as dbev_adapter_conf_set(); INVALID when there is no '='.
 */
dbev_adapter_conf_res_t dbev_adapter_conf_set_kv(dbev_adapter_conf_t *conf, const char *kv,
                                                 char *errstr, size_t size);

/**
 * @brief Reads "key=value" lines from a file; blank lines and lines
 *        starting with '#' are skipped, spaces around key and value trimmed.
 * @returns 0, or -1 with errstr naming the file, the line and the problem.
 */
int dbev_adapter_conf_load_file(dbev_adapter_conf_t *conf, const char *path, char *errstr,
                                size_t size);

/**
 * @brief The effective value of key: set explicitly, else the environment
 *        fallback (when env.fallback is true), else the default.
 * @returns buf, or NULL for an unknown key. Secret values are returned as
 *          they are: never log them (dbev_adapter_conf_dump() masks them).
 */
const char *dbev_adapter_conf_get(const dbev_adapter_conf_t *conf, const char *key, char *buf,
                                  size_t size);

/**
 * @brief Sets the log sink (default: dbev_log_stderr). The level comes from
 *        the log.level key.
 * @param opaque passed to cb; borrowed, must outlive the adapter.
 */
void dbev_adapter_conf_set_log_cb(dbev_adapter_conf_t *conf, dbev_log_cb *cb, void *opaque);

/**
 * @brief Writes the effective configuration, one "key=value" line per key,
 *        secrets shown as "***".
 */
void dbev_adapter_conf_dump(const dbev_adapter_conf_t *conf, FILE *fp);

/**
 * @brief Writes the property table: as plain text for --help (markdown
 *        false), or as the Markdown reference of docs/adapter-config.md.
 */
void dbev_adapter_conf_help(FILE *fp, bool markdown);

/**
 * @brief Creates the adapter: checks the configuration, connects the
 *        executor to PostgreSQL (an unreachable database is not fatal: the
 *        circuit breaker decides) and creates the Kafka consumer and producer.
 * @param conf taken over on success (freed by dbev_adapter_destroy()); left
 *        to the caller on failure.
 * @returns an adapter to free with dbev_adapter_destroy(), or NULL with one
 *          line in errstr.
 */
dbev_adapter_t *dbev_adapter_new(dbev_adapter_conf_t *conf, char *errstr, size_t size);

/**
 * @brief Runs the adapter on the calling thread until dbev_adapter_stop():
 *        announces it on the registry topic, consumes, executes, answers,
 *        commits, sends heartbeats; on stop finishes the batch in hand, waits
 *        for every response to be acknowledged, commits and leaves the group.
 * @returns 0 after a graceful stop, -1 on a fatal error (logged; nothing
 *          unanswered was committed, so a restart redelivers).
 */
int dbev_adapter_run(dbev_adapter_t *adapter);

/**
 * @brief Runs dbev_adapter_run() on a new thread.
 * @returns 0, or -1 with errstr (thread creation failed, or already started).
 */
int dbev_adapter_start(dbev_adapter_t *adapter, char *errstr, size_t size);

/**
 * @brief Asks the adapter to stop gracefully; returns at once.
 * @remark Async-signal-safe, and safe from any thread.
 */
void dbev_adapter_stop(dbev_adapter_t *adapter);

/**
 * @brief Asks the adapter to stop at once, as a crash would: no draining,
 *        unacknowledged responses are purged and nothing more is committed.
 *        For fault injection in the harness; returns at once.
 */
void dbev_adapter_abort(dbev_adapter_t *adapter);

/**
 * @brief Waits for the thread of dbev_adapter_start() to end.
 * @returns what dbev_adapter_run() returned, or -1 if not started.
 */
int dbev_adapter_join(dbev_adapter_t *adapter);

/**
 * @brief Stops (gracefully) and joins a started adapter, then frees it and
 *        its conf. NULL is a no-op.
 */
void dbev_adapter_destroy(dbev_adapter_t *adapter);

/** Counters since the adapter was created. */
typedef struct dbev_adapter_stats {
    uint64_t consumed;        /* request messages consumed */
    uint64_t invalid;         /* of which could not be decoded (answered VALIDATION_ERROR) */
    uint64_t completed;       /* responses published on the completed topic */
    uint64_t failed;          /* responses published on the failed topic */
    uint64_t delivered;       /* responses acknowledged by the broker */
    uint64_t delivery_errors; /* delivery reports with an error (the response is re-sent) */
    uint64_t batches;         /* batches executed */
    uint64_t commits;         /* offset commits issued */
    uint64_t commit_failures; /* commits the broker refused (those requests may be redelivered) */
    uint64_t heartbeats;      /* heartbeats published */
    int64_t in_flight;        /* responses produced, not yet acknowledged */
    int32_t assigned;         /* partitions currently assigned */
    bool running;             /* from dbev_adapter_start() (or run()) until run() returns */
    bool registered;          /* the registry announcement was acknowledged */
    int breaker_state;        /* dbev_breaker_state_t: 0 CLOSED, 1 OPEN, 2 HALF_OPEN */
} dbev_adapter_stats_t;

/** Fills stats; safe from any thread. */
void dbev_adapter_stats(dbev_adapter_t *adapter, dbev_adapter_stats_t *stats);

/**
 * @brief Health as JSON text: the executor's health (pool, breaker) and the
 *        counters, as published in heartbeats.
 * @returns a string to free with free(), or NULL.
 */
char *dbev_adapter_health_json(dbev_adapter_t *adapter);

/** The instance id announced on the registry topic; lives as long as adapter. */
const char *dbev_adapter_instance_id(const dbev_adapter_t *adapter);

/** Version as a string ("0.1.0"). */
const char *dbev_adapter_version(void);

#ifdef __cplusplus
}
#endif
#endif
