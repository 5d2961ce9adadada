/*
 * libdbev: the client side of the event-driven database path. A caller hands
 * a database operation to the client; the client publishes it as a request
 * event on Kafka, the dbev adapter executes it on PostgreSQL and publishes a
 * completed or failed event with the same correlation id, and the client
 * matches that answer to the caller. This is the C counterpart of the
 * DatabaseEventClient of seed 002, shaped after librdkafka: a configuration
 * object set by string keys, an opaque client handle, and for every call a
 * blocking form and an asynchronous form whose completion callback is served
 * by dbev_client_poll() on the caller's thread.
 *
 * This is the only public header of the library. Error codes come from
 * <dbev/errors.h> (included below): the protocol's wire codes plus the local
 * codes DBEV_ERR__TIMEOUT, DBEV_ERR__TRANSPORT, DBEV_ERR__CANCELLED,
 * DBEV_ERR__INVALID_ARG, DBEV_ERR__BAD_RESPONSE and DBEV_ERR__UNHEALTHY.
 *
 * Ownership: every function that allocates names its destroy function;
 * every destroy function accepts NULL. JSON values are jansson values; a
 * parameter documented "borrowed" is not kept after the call returns.
 *
 * Threads: a dbev_conf_t is not thread-safe (configure it from one thread).
 * A dbev_client_t is thread-safe: any thread may issue calls, poll and read
 * statistics concurrently. Completion callbacks of asynchronous calls run
 * only inside dbev_client_poll(), on the thread that called it.
 */
#ifndef DBEV_DBEV_H
#define DBEV_DBEV_H

#include <dbev/errors.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* DBEV_API, which marks the exported functions, comes from <dbev/errors.h>. */

/** Library version as 0xMMmmrrxx (major, minor, revision, 0xff for a release).
 *  The one place the version is written: CMakeLists.txt reads it from here. */
#define DBEV_VERSION 0x000100ff

/**
 * @brief The version of the library actually linked.
 * @returns the DBEV_VERSION the library was built with.
 * @remark Thread-safe.
 */
DBEV_API int dbev_version(void);

/**
 * @brief The linked library's version as text, e.g. "0.1.0".
 * @returns a static string.
 * @remark Thread-safe.
 */
DBEV_API const char *dbev_version_str(void);

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

/** Result of dbev_conf_set(). */
typedef enum dbev_conf_res {
    DBEV_CONF_UNKNOWN = -2, /**< no such property */
    DBEV_CONF_INVALID = -1, /**< the value is out of range or of the wrong type */
    DBEV_CONF_OK = 0,
} dbev_conf_res_t;

/** A configuration: string keys, string values (see docs/client-config.md). */
typedef struct dbev_conf dbev_conf_t;

/** Log levels passed to a log callback (same order as the rest of dbev). */
#define DBEV_LOG_LEVEL_DEBUG 0
#define DBEV_LOG_LEVEL_INFO  1
#define DBEV_LOG_LEVEL_WARN  2
#define DBEV_LOG_LEVEL_ERROR 3

/**
 * A log sink. The library never prints: without a callback its log lines are
 * dropped.
 * @param level one of DBEV_LOG_LEVEL_*.
 * @param correlation_id the request the line is about, or NULL.
 * @param message one line, no trailing newline; borrowed for the call.
 * @remark Called from the client's background thread or from the thread that
 *         issued a call; must be thread-safe and must not block.
 */
typedef void(dbev_log_cb_t)(void *opaque, int level, const char *correlation_id,
                            const char *message);

/**
 * @brief Creates a configuration with every property at its default.
 * @returns a configuration to free with dbev_conf_destroy() (or to hand to
 *          dbev_client_new()), or NULL when out of memory.
 * @remark Thread-safe.
 */
DBEV_API dbev_conf_t *dbev_conf_new(void);

/**
 * @brief Frees a configuration. NULL is a no-op.
 * @param conf the configuration (not one owned by a client).
 * @remark Not thread-safe for the same conf.
 */
DBEV_API void dbev_conf_destroy(dbev_conf_t *conf);

/**
 * @brief Copies a configuration.
 * @param conf the configuration to copy.
 * @returns a new configuration to free with dbev_conf_destroy(), or NULL.
 * @remark Not thread-safe for the same conf.
 */
DBEV_API dbev_conf_t *dbev_conf_dup(const dbev_conf_t *conf);

/**
 * @brief Sets a property by name. Keys starting with "kafka." are passed to
 *        librdkafka without the prefix (checked when the client is created).
 * @param conf the configuration.
 * @param name property name, e.g. "request.timeout.ms".
 * @param value text value: integers in decimal, booleans as true/false.
 *        NULL restores the default (and re-enables the environment fallback).
 * @param errstr buffer for a one-line explanation on failure (may be NULL).
 * @param size size of errstr.
 * @returns DBEV_CONF_OK, DBEV_CONF_UNKNOWN or DBEV_CONF_INVALID.
 * @remark Not thread-safe for the same conf.
 */
DBEV_API dbev_conf_res_t dbev_conf_set(dbev_conf_t *conf, const char *name, const char *value,
                                       char *errstr, size_t size);

/**
 * @brief Reads the effective value of a property: the value set, else the
 *        environment fallback when that variable is set and non-empty, else
 *        the default.
 * @param conf the configuration.
 * @param name property name.
 * @param dest buffer receiving the NUL-terminated value (may be NULL to ask
 *        for the size only).
 * @param dest_size in: size of dest; out: size needed including the NUL.
 * @returns DBEV_CONF_OK, or DBEV_CONF_UNKNOWN for an unknown name.
 * @remark Not thread-safe for the same conf.
 */
DBEV_API dbev_conf_res_t dbev_conf_get(const dbev_conf_t *conf, const char *name, char *dest,
                                       size_t *dest_size);

/**
 * @brief Sets the log callback of clients created from this configuration.
 * @param conf the configuration.
 * @param cb the sink, or NULL to drop log lines (the default).
 * @param opaque passed to cb unchanged.
 * @param level the lowest level passed on (DBEV_LOG_LEVEL_*).
 * @remark Not thread-safe for the same conf.
 */
DBEV_API void dbev_conf_set_log_cb(dbev_conf_t *conf, dbev_log_cb_t *cb, void *opaque, int level);

/**
 * @brief Writes the property table (name, type, default, range, environment
 *        fallback, description) as a Markdown document; docs/client-config.md
 *        is this output.
 * @param fp the stream to write to.
 * @remark Thread-safe.
 */
DBEV_API void dbev_conf_properties_show(FILE *fp);

/* ------------------------------------------------------------------------ */
/* Results and errors                                                       */
/* ------------------------------------------------------------------------ */

/** The answer to a successful call. */
typedef struct dbev_result dbev_result_t;

/** Why a call failed. */
typedef struct dbev_error dbev_error_t;

/**
 * @brief Frees a result. NULL is a no-op.
 * @param result the result, or NULL.
 * @remark Thread-safe for distinct results.
 */
DBEV_API void dbev_result_destroy(dbev_result_t *result);

/**
 * @brief The rows returned (SELECT, or any operation with RETURNING).
 * @param result the result.
 * @returns a JSON array of objects, borrowed: it lives as long as the result
 *          (json_incref it to keep it longer). Never NULL (maybe empty).
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API json_t *dbev_result_rows(const dbev_result_t *result);

/**
 * @brief The first row returned, as seed 002's insert()/update() answer
 *        ("first row with returned columns, or None").
 * @param result the result.
 * @returns row 0 of dbev_result_rows() (borrowed, lives as long as the
 *          result), or NULL when no row was returned.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API json_t *dbev_result_first_row(const dbev_result_t *result);

/**
 * @brief Rows returned or affected, as the adapter reported them.
 * @param result the result.
 * @returns the row count (affected rows for writes without RETURNING).
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API int64_t dbev_result_row_count(const dbev_result_t *result);

/**
 * @brief Execution time on the adapter.
 * @param result the result.
 * @returns milliseconds the adapter spent executing.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API double dbev_result_execution_time_ms(const dbev_result_t *result);

/**
 * @brief The response's metadata object (cached, circuit_breaker_state, ...).
 * @param result the result.
 * @returns a borrowed JSON object living as long as the result. Never NULL.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API json_t *dbev_result_metadata(const dbev_result_t *result);

/**
 * @brief Per-operation results of a TRANSACTION.
 * @param result the result.
 * @returns a borrowed JSON array of completed payloads (one per operation, in
 *          order), or NULL for other operations.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API json_t *dbev_result_op_results(const dbev_result_t *result);

/**
 * @brief The request's correlation id.
 * @param result the result.
 * @returns a string living as long as the result.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_result_correlation_id(const dbev_result_t *result);

/**
 * @brief The request's event id (the same on every retry).
 * @param result the result.
 * @returns a string living as long as the result.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_result_event_id(const dbev_result_t *result);

/**
 * @brief How many times the request was sent.
 * @param result the result.
 * @returns 1 without retries, more when it was retried.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API int dbev_result_attempts(const dbev_result_t *result);

/**
 * @brief Time from the call to the answer, measured by the client.
 * @param result the result.
 * @returns milliseconds, retries and backoff included.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API double dbev_result_latency_ms(const dbev_result_t *result);

/**
 * @brief Frees an error. NULL is a no-op.
 * @param error the error, or NULL.
 * @remark Thread-safe for distinct errors.
 */
DBEV_API void dbev_error_destroy(dbev_error_t *error);

/**
 * @brief The error code (wire or local, see <dbev/errors.h>).
 * @param error the error.
 * @returns the code.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API dbev_err_t dbev_error_code(const dbev_error_t *error);

/**
 * @brief The code's name, e.g. "VALIDATION_ERROR" or "_TIMEOUT".
 * @param error the error.
 * @returns a static string.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_error_name(const dbev_error_t *error);

/**
 * @brief A human message (the adapter's, or the client's).
 * @param error the error.
 * @returns a string living as long as the error; never NULL.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_error_message(const dbev_error_t *error);

/**
 * @brief The PostgreSQL SQLSTATE of a failed statement.
 * @param error the error.
 * @returns a five-character code living as long as the error, or NULL when there is none.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_error_sqlstate(const dbev_error_t *error);

/**
 * @brief Whether trying again may succeed.
 * @param error the error.
 * @returns dbev_err_is_retriable() of the code.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API bool dbev_error_is_retriable(const dbev_error_t *error);

/**
 * @brief The request's correlation id.
 * @param error the error.
 * @returns a string living as long as the error, or NULL when the call failed before one existed.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_error_correlation_id(const dbev_error_t *error);

/**
 * @brief The request's event id.
 * @param error the error.
 * @returns a string living as long as the error, or NULL when the request was never sent.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API const char *dbev_error_event_id(const dbev_error_t *error);

/**
 * @brief How many times the request was sent.
 * @param error the error.
 * @returns 0 when it never was (refused at once), else the attempts made.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API int dbev_error_attempts(const dbev_error_t *error);

/**
 * @brief The adapter's health answer behind a DBEV_ERR__UNHEALTHY error of
 *        dbev_health_check(): status (HEALTHY, DEGRADED, RECOVERING,
 *        UNHEALTHY), database_reachable, circuit_state, pool_* figures,
 *        saturation_threshold_pct, recovery_attempts, last_error, ...
 *        (docs/protocol.md, HEALTH). A HEALTHY answer is row 0 of
 *        dbev_result_rows() instead.
 * @param error the error.
 * @returns a borrowed JSON object living as long as the error, or NULL for
 *          any other error.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API json_t *dbev_error_health(const dbev_error_t *error);

/**
 * @brief The failed event's metadata, when the adapter answered.
 * @param error the error.
 * @returns a borrowed JSON object living as long as the error, or NULL.
 * @remark Thread-safe: results and errors are immutable once handed out.
 */
DBEV_API json_t *dbev_error_metadata(const dbev_error_t *error);

/* ------------------------------------------------------------------------ */
/* Client                                                                   */
/* ------------------------------------------------------------------------ */

/** A client: one producer, one consumer of the response topics, one background thread. */
typedef struct dbev_client dbev_client_t;

/**
 * @brief Creates a client, connects to Kafka and waits (at most
 *        startup.timeout.ms) until the response topics are assigned and the
 *        consumer's start positions are known, so that a response produced
 *        after this returns is never missed.
 * @param conf the configuration. On success the client owns it (do not use
 *        or destroy it afterwards); on failure it stays the caller's. NULL:
 *        all defaults (environment fallbacks apply).
 * @param errstr buffer for a one-line reason on failure (may be NULL).
 * @param size size of errstr.
 * @returns a client to free with dbev_client_destroy(), or NULL.
 * @remark Thread-safe.
 */
DBEV_API dbev_client_t *dbev_client_new(dbev_conf_t *conf, char *errstr, size_t size);

/**
 * @brief Destroys a client. Every request still pending fails with
 *        DBEV_ERR__CANCELLED exactly once: blocking callers return, and the
 *        callbacks of asynchronous calls (pending or already answered but not
 *        yet served) run inside this function on the calling thread.
 *        NULL is a no-op.
 * @param client the client, or NULL.
 * @remark Call once, from one thread, after other threads stopped issuing
 *         calls and polling; never from a completion callback.
 */
DBEV_API void dbev_client_destroy(dbev_client_t *client);

/**
 * Per-call options. Zero-initialise (`dbev_call_opts_t opts = {0};`) and set
 * what you need; NULL means all defaults. Fields may be added at the end.
 */
typedef struct dbev_call_opts {
    int timeout_ms;             /**< the call's deadline (timeout.mode=total, the default) or
                                     each attempt's timeout (per_attempt); 0: request.timeout.ms */
    const char *correlation_id; /**< 0 < length < 128; NULL: a new UUID */
    int max_retries;            /**< 0: max.retries; > 0: that many; < 0: no retries */
    int max_rows;               /**< 0: the adapter's default (1000) */
    /** dbev_query() only (seed 000's query(limit=, offset=)): the statement
     *  runs as SELECT * FROM (sql) LIMIT limit OFFSET offset. 0: no LIMIT / no
     *  OFFSET; negative: _INVALID_ARG. */
    int64_t limit;
    int64_t offset;
} dbev_call_opts_t;

/**
 * Completion callback of an asynchronous call. Exactly one of result and
 * error is non-NULL; the callback owns it and must free it with
 * dbev_result_destroy() / dbev_error_destroy().
 * @remark Runs inside dbev_client_poll() (or dbev_client_destroy()) on the
 *         polling thread; may issue new calls but must not destroy the client.
 */
typedef void(dbev_done_cb_t)(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error,
                             void *opaque);

/**
 * @brief Serves completion callbacks of asynchronous calls.
 * @param client the client.
 * @param timeout_ms how long to wait for a first completion: 0 does not wait,
 *        -1 waits forever.
 * @returns the number of callbacks served.
 * @remark Thread-safe, but callbacks run on the polling thread, so poll from
 *         one thread if callbacks share state.
 */
DBEV_API int dbev_client_poll(dbev_client_t *client, int timeout_ms);

/**
 * @brief A file descriptor that is readable while completions wait to be
 *        served, for poll(2)/epoll integration; dbev_client_poll() drains it.
 * @param client the client.
 * @returns the descriptor (owned by the client; do not close it).
 * @remark Thread-safe.
 */
DBEV_API int dbev_client_fd(dbev_client_t *client);

/**
 * @brief Requests pending on the client (sent, waiting for an answer or a
 *        retry) plus completions not yet served.
 * @param client the client.
 * @remark Thread-safe.
 */
DBEV_API int dbev_client_outq_len(dbev_client_t *client);

/** Counters of one client since it was created. */
typedef struct dbev_client_stats {
    uint64_t sent;            /**< request events produced (every attempt) */
    uint64_t retries;         /**< attempts after the first */
    uint64_t completed;       /**< calls answered with a result */
    uint64_t failed;          /**< calls answered with an error (any code) */
    uint64_t timeouts;        /**< attempts that timed out */
    uint64_t responses;       /**< response events consumed (all, matched or not) */
    uint64_t late;            /**< responses for a request that had already timed out */
    uint64_t duplicate;       /**< responses for a request already answered */
    uint64_t unknown;         /**< responses for a correlation id this client never sent */
    uint64_t bad_response;    /**< response events that could not be decoded */
    uint64_t breaker_opened;  /**< times the client's circuit breaker opened */
    uint64_t breaker_refused; /**< calls refused with CIRCUIT_BREAKER_OPEN by the client */
} dbev_client_stats_t;

/**
 * @brief Copies the client's counters.
 * @param client the client.
 * @param stats receives a copy of the counters.
 * @remark Thread-safe.
 */
DBEV_API void dbev_client_stats(dbev_client_t *client, dbev_client_stats_t *stats);

/**
 * @brief The client's circuit breaker state: "CLOSED", "OPEN" or "HALF_OPEN"
 *        ("DISABLED" when circuit.breaker.enable is false).
 * @param client the client.
 * @returns a static string.
 * @remark Thread-safe.
 */
DBEV_API const char *dbev_client_breaker_state(dbev_client_t *client);

/**
 * @brief The consumer group id in use (configured or generated).
 * @param client the client.
 * @returns a string living as long as the client.
 * @remark Thread-safe.
 */
DBEV_API const char *dbev_client_group_id(dbev_client_t *client);

/* ------------------------------------------------------------------------ */
/* Calls                                                                    */
/* ------------------------------------------------------------------------ */
/*
 * Every call comes in two forms.
 *
 * Blocking: returns DBEV_ERR_NO_ERROR and a result in *resultp (free it with
 * dbev_result_destroy()), or the error code and, when errorp is not NULL, an
 * error object in *errorp (free it with dbev_error_destroy()). Retries and
 * timeouts are handled inside; the call returns after the last attempt.
 *
 * Asynchronous (`_async`): returns DBEV_ERR_NO_ERROR when the request was
 * accepted; cb then runs exactly once, inside dbev_client_poll(). A call that
 * fails at once (invalid arguments, correlation id already in flight, client
 * breaker open) returns the code and an error in *errorp, and never fires cb.
 *
 * JSON arguments are borrowed. All calls are thread-safe.
 */

/** Conflict handling of dbev_batch_insert(). */
typedef enum dbev_on_conflict {
    DBEV_ON_CONFLICT_ERROR = 0,  /**< no ON CONFLICT clause: a conflict fails the call */
    DBEV_ON_CONFLICT_DO_NOTHING, /**< ON CONFLICT (cols) DO NOTHING */
    DBEV_ON_CONFLICT_DO_UPDATE,  /**< ON CONFLICT (cols) DO UPDATE SET update columns */
} dbev_on_conflict_t;

/**
 * @brief SELECT: runs a query and returns its rows.
 * @param client the client.
 * @param sql the statement, with $1, $2, ... placeholders.
 * @param params JSON array of parameter values, or NULL.
 * @param opts per-call options, or NULL.
 * @param resultp receives the result on success.
 * @param errorp receives the error on failure (may be NULL).
 * @returns DBEV_ERR_NO_ERROR or the error code.
 * @remark Thread-safe; blocks up to the timeout plus request.timeout.grace.ms
 *         (timeout.mode=per_attempt: up to (max.retries+1) timeouts plus backoff).
 */
DBEV_API dbev_err_t dbev_query(dbev_client_t *client, const char *sql, json_t *params,
                               const dbev_call_opts_t *opts, dbev_result_t **resultp,
                               dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_query().
 * @param cb completion callback (required). @param opaque passed to cb.
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_query_async(dbev_client_t *client, const char *sql, json_t *params,
                                     const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                                     dbev_error_t **errorp);

/**
 * @brief EXECUTE: runs a statement (DML/DDL) and returns the rows affected
 *        in dbev_result_row_count().
 * @param sql the statement; @param params JSON array or NULL.
 * @returns see dbev_query(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_execute(dbev_client_t *client, const char *sql, json_t *params,
                                 const dbev_call_opts_t *opts, dbev_result_t **resultp,
                                 dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_execute().
 * @param client, ... the arguments of dbev_execute() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_execute_async(dbev_client_t *client, const char *sql, json_t *params,
                                       const dbev_call_opts_t *opts, dbev_done_cb_t *cb,
                                       void *opaque, dbev_error_t **errorp);

/**
 * @brief INSERT one row.
 * @param table table name (schema-qualified allowed).
 * @param data JSON object column -> value (non-empty).
 * @param returning comma-separated columns to return, "*" for all, or NULL.
 * @returns see dbev_query(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_insert(dbev_client_t *client, const char *table, json_t *data,
                                const char *returning, const dbev_call_opts_t *opts,
                                dbev_result_t **resultp, dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_insert().
 * @param client, ... the arguments of dbev_insert() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_insert_async(dbev_client_t *client, const char *table, json_t *data,
                                      const char *returning, const dbev_call_opts_t *opts,
                                      dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp);

/**
 * @brief UPDATE the rows matching where.
 * @param data JSON object of columns to set; @param where JSON object of
 *        filters (AND-combined; see docs/protocol.md for operators).
 * @param returning comma-separated columns, "*", or NULL.
 * @returns see dbev_query(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_update(dbev_client_t *client, const char *table, json_t *data,
                                json_t *where, const char *returning, const dbev_call_opts_t *opts,
                                dbev_result_t **resultp, dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_update().
 * @param client, ... the arguments of dbev_update() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_update_async(dbev_client_t *client, const char *table, json_t *data,
                                      json_t *where, const char *returning,
                                      const dbev_call_opts_t *opts, dbev_done_cb_t *cb,
                                      void *opaque, dbev_error_t **errorp);

/**
 * @brief DELETE the rows matching where; the count is dbev_result_row_count().
 * @param where JSON object of filters (non-empty).
 * @param returning comma-separated columns of the deleted rows, "*", or NULL.
 * @returns see dbev_query(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_delete(dbev_client_t *client, const char *table, json_t *where,
                                const char *returning, const dbev_call_opts_t *opts,
                                dbev_result_t **resultp, dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_delete().
 * @param client, ... the arguments of dbev_delete() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_delete_async(dbev_client_t *client, const char *table, json_t *where,
                                      const char *returning, const dbev_call_opts_t *opts,
                                      dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp);

/**
 * @brief UPSERT: INSERT ... ON CONFLICT (conflict) DO UPDATE.
 * @param data JSON object (non-empty).
 * @param conflict comma-separated conflict columns (required).
 * @param update comma-separated columns to update, or NULL for every
 *        non-conflict column of data.
 * @param returning comma-separated columns, "*", or NULL.
 * @returns see dbev_query(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_upsert(dbev_client_t *client, const char *table, json_t *data,
                                const char *conflict, const char *update, const char *returning,
                                const dbev_call_opts_t *opts, dbev_result_t **resultp,
                                dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_upsert().
 * @param client, ... the arguments of dbev_upsert() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_upsert_async(dbev_client_t *client, const char *table, json_t *data,
                                      const char *conflict, const char *update,
                                      const char *returning, const dbev_call_opts_t *opts,
                                      dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp);

/**
 * @brief BATCH_INSERT: many rows in one statement.
 * @param rows JSON array of objects with the same keys (non-empty).
 * @param on_conflict what a conflict does.
 * @param conflict comma-separated conflict columns (required unless
 *        on_conflict is DBEV_ON_CONFLICT_ERROR).
 * @param update DO_UPDATE: comma-separated columns, or NULL for all others.
 * @param returning comma-separated columns of the rows inserted (or
 *        updated), "*", or NULL; rows skipped by DO NOTHING return nothing.
 * @returns see dbev_query(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_batch_insert(dbev_client_t *client, const char *table, json_t *rows,
                                      dbev_on_conflict_t on_conflict, const char *conflict,
                                      const char *update, const char *returning,
                                      const dbev_call_opts_t *opts, dbev_result_t **resultp,
                                      dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_batch_insert().
 * @param client, ... the arguments of dbev_batch_insert() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_batch_insert_async(dbev_client_t *client, const char *table, json_t *rows,
                                            dbev_on_conflict_t on_conflict, const char *conflict,
                                            const char *update, const char *returning,
                                            const dbev_call_opts_t *opts, dbev_done_cb_t *cb,
                                            void *opaque, dbev_error_t **errorp);

/**
 * @brief TRANSACTION: several operations executed atomically by the adapter.
 * @param operations JSON array of operation payloads in the wire format
 *        (docs/protocol.md), e.g.
 *        [{"operation_type":"INSERT","table":"t","data":{"a":1}},
 *         {"operation_type":"EXECUTE","sql":"UPDATE t SET a=$1","params":[2]}].
 * @returns see dbev_query(); per-operation results in
 *          dbev_result_op_results(). @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_transaction(dbev_client_t *client, json_t *operations,
                                     const dbev_call_opts_t *opts, dbev_result_t **resultp,
                                     dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_transaction().
 * @param client, ... the arguments of dbev_transaction() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_transaction_async(dbev_client_t *client, json_t *operations,
                                           const dbev_call_opts_t *opts, dbev_done_cb_t *cb,
                                           void *opaque, dbev_error_t **errorp);

/**
 * @brief HEALTH: a round trip through Kafka, the adapter and PostgreSQL,
 *        answering seed 002's `health_check() -> bool` as a code a caller
 *        can branch on: `if (dbev_health_check(...) == DBEV_ERR_NO_ERROR)
 *        use the event path; else fall back`.
 * @returns DBEV_ERR_NO_ERROR only when the adapter answered HEALTHY and found
 *          the database reachable (its health object is row 0 of
 *          dbev_result_rows()); DBEV_ERR__UNHEALTHY when it answered
 *          anything else (DEGRADED: pool saturated past its threshold or no
 *          connection; RECOVERING: breaker half-open; UNHEALTHY: breaker
 *          open or database unreachable), with the reason in
 *          dbev_error_message() and the health object in
 *          dbev_error_health(); or the code of a call that got no answer
 *          (_TIMEOUT, _TRANSPORT, CIRCUIT_BREAKER_OPEN, ...). Never retried
 *          on _UNHEALTHY. @remark Thread-safe; blocks.
 */
DBEV_API dbev_err_t dbev_health_check(dbev_client_t *client, const dbev_call_opts_t *opts,
                                      dbev_result_t **resultp, dbev_error_t **errorp);
/**
 * @brief Asynchronous dbev_health_check().
 * @param client, ... the arguments of dbev_health_check() but resultp.
 * @param cb completion callback (required); runs exactly once, inside dbev_client_poll().
 * @param opaque passed to cb.
 * @param errorp receives the error when the call fails at once (may be NULL).
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code (cb never runs).
 * @remark Thread-safe; does not block.
 */
DBEV_API dbev_err_t dbev_health_check_async(dbev_client_t *client, const dbev_call_opts_t *opts,
                                            dbev_done_cb_t *cb, void *opaque,
                                            dbev_error_t **errorp);

/* ------------------------------------------------------------------------ */
/* Registry: discovering adapters (seed 001, phase 4)                       */
/* ------------------------------------------------------------------------ */
/*
 * Adapters announce themselves on <prefix>.omninode-bridge.registry.
 * service-registered.v1 and send heartbeats on <prefix>.omninode-bridge.
 * registry.heartbeat.v1 (docs/protocol.md). A registry view consumes both in
 * a background thread and answers lookups from memory.
 */

/** Heartbeats an instance may miss before a view drops it (seed 001's TTL). */
#define DBEV_REGISTRY_MISSED_HEARTBEATS 3

/** A live view of the registry topics. */
typedef struct dbev_registry dbev_registry_t;

/**
 * @brief Creates a view and starts reading the registry topics: the last
 *        1,000 events of each partition, then everything new. Topics that do
 *        not exist yet are looked for again every 500 ms.
 * @param conf borrowed (not kept); bootstrap.servers, topic.prefix and
 *        kafka.* are used. NULL: all defaults (environment fallbacks apply).
 * @param errstr buffer for a one-line reason on failure (may be NULL).
 * @param size size of errstr.
 * @returns a view to free with dbev_registry_destroy(), or NULL.
 * @remark Thread-safe.
 */
DBEV_API dbev_registry_t *dbev_registry_new(const dbev_conf_t *conf, char *errstr, size_t size);

/**
 * @brief Stops reading and frees the view. NULL is a no-op.
 * @param reg the view.
 * @remark Call once, after other threads stopped using the view.
 */
DBEV_API void dbev_registry_destroy(dbev_registry_t *reg);

/**
 * @brief Waits until both topics are assigned and the view has read up to
 *        where they ended when it started, so that a lookup sees every
 *        instance that was alive then.
 * @param reg the view.
 * @param timeout_ms the longest wait.
 * @returns 0 when caught up, -1 when timeout_ms passed first (lookups still
 *          work, on what was read so far).
 * @remark Thread-safe.
 */
DBEV_API int dbev_registry_sync(dbev_registry_t *reg, int timeout_ms);

/**
 * @brief The live instances matching the filters, from memory (no Kafka
 *        round trip; seed 001's target is under 100 ms, bench_registry
 *        measures it). An instance whose last event is older than
 *        DBEV_REGISTRY_MISSED_HEARTBEATS times its heartbeat_interval_ms,
 *        judged by the events' own timestamps, or that announced "down", is
 *        gone.
 * @param reg the view.
 * @param service_name e.g. "database-adapter-effect", or NULL for any.
 * @param service_type e.g. "effect", or NULL for any.
 * @param status "healthy", "degraded", "unhealthy" (the last heartbeat's
 *        verdict), or NULL for any.
 * @returns a new JSON array (json_decref it) of objects: instance_id,
 *          service_name, service_type, status, version, endpoint (topic
 *          names), host, pid, heartbeat_interval_ms, health (the adapter's
 *          HEALTH object), last_seen, age_ms, expires_in_ms; NULL when out of
 *          memory.
 * @remark Thread-safe.
 */
DBEV_API json_t *dbev_registry_lookup(dbev_registry_t *reg, const char *service_name,
                                      const char *service_type, const char *status);

#ifdef __cplusplus
}
#endif
#endif
