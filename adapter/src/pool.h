/*
 * Connection pool for the executor: between pool_min and pool_max libpq
 * connections, each set up the same way (non-blocking, the session
 * settings of dbev/sql_build.h so the type mapping can rely on the output
 * formats). Broken connections are closed on release and replaced on
 * demand; connections older than max_age, that served max_queries requests,
 * or that sat idle longer than idle_timeout are replaced (seeds 003 and 004:
 * "max queries per connection", "idle connection lifetime"). Each
 * connection keeps a cache of named prepared statements keyed by SQL text.
 *
 * Sessions: a connection that ran a caller's own SQL is marked dirty, and
 * its session is reset (pool_reset_session: DISCARD ALL, then the settings
 * above again) before it serves anyone else; pool_release does it at the
 * latest. See adapter/src/exec_conn.c ("Sessions") for who marks what and why.
 *
 * Also the small non-blocking I/O helpers the executor drives pipelines with
 * (flush while reading, so a long pipeline never deadlocks on full socket
 * buffers), and the statistics of seed 004's health metrics.
 *
 * Thread safety: every function may be called from any thread (the
 * executor's lanes share one pool); a connection, once acquired, belongs to
 * its thread until released.
 */
#ifndef ADAPTER_POOL_H
#define ADAPTER_POOL_H

#include "dbev_common.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pool pool_t;

#define POOL_STMT_CACHE 256

typedef struct pool_stmt {
    char *sql; /* owned */
    char name[16];
} pool_stmt_t;

typedef struct pool_conn {
    PGconn *conn;
    int64_t created_us;    /* monotonic */
    int64_t idle_since_us; /* monotonic: when it was last released (or opened) */
    uint64_t queries;      /* requests it served (pool_record while acquired) */
    bool reused;           /* false on its first acquire after connecting */
    bool reset_stmts;      /* a cached plan went stale: DEALLOCATE ALL before reuse */
    bool used;             /* ran a request since its session was opened or last reset */
    bool dirty;            /* ran caller-written SQL since: reset before it serves anyone else */
    int64_t command_timeout_ms; /* the session's statement_timeout (0: server default) */
    pool_stmt_t stmts[POOL_STMT_CACHE];
    int nstmts;
    int next_stmt_id;
} pool_conn_t;

typedef struct pool_conf {
    const char *conninfo;
    int min, max;
    int64_t max_age_ms;      /* 0: never */
    uint64_t max_queries;    /* requests a connection serves before it is replaced; 0: no limit */
    int64_t idle_timeout_ms; /* an idle connection older than this (idle) is closed; 0: never */
    int64_t connect_timeout_ms; /* libpq connect_timeout (whole seconds, at least 2); 0: 5000 */
    int64_t command_timeout_ms; /* session statement_timeout (requests without one); 0: none */
    const dbev_logger_t *logger;
} pool_conf_t;

typedef struct pool_stats {
    int size, free, in_use, min, max;
    double utilization_pct;
    uint64_t queries, failures, connects, connect_failures;
    uint64_t recovery_attempts; /* connection attempts made while the database was lost */
    uint64_t retired;           /* connections closed by max_queries, idle or age limits */
    double avg_query_ms;
    char last_error[256];
    int64_t last_error_wall_us; /* 0: none */
} pool_stats_t;

/** Opens conf->min connections (failures are logged, not fatal). NULL only on OOM. */
pool_t *pool_new(const pool_conf_t *conf);

/** Closes every connection. NULL is a no-op. */
void pool_destroy(pool_t *pool);

/**
 * @brief An idle connection, or a new one when none is idle and size < max.
 * @returns NULL with errstr when no connection could be made.
 */
pool_conn_t *pool_acquire(pool_t *pool, char *errstr, size_t size);

/**
 * @brief Gives a connection back; broken (or not idle in a transaction):
 *        closed. A dirty one is reset first (pool_reset_session) and closed
 *        when that fails, so no idle connection holds a caller's session.
 */
void pool_release(pool_t *pool, pool_conn_t *pc, bool broken);

/**
 * @brief Housekeeping between batches: closes idle connections past their
 *        age and opens new ones until the pool holds min again (stopping at
 *        the first failure, which is logged).
 */
void pool_maintain(pool_t *pool);

/** Closes every idle connection (after a connection failure: they are likely dead too). */
void pool_drop_idle(pool_t *pool);

/**
 * Records finished requests for the statistics. Called on the thread that
 * holds the connection the requests ran on (if any), so they also count
 * towards that connection's max_queries (see pool.c: a thread-local).
 */
void pool_record(pool_t *pool, uint64_t queries, uint64_t failures, int64_t total_us,
                 const char *error);

/** A snapshot of the statistics; thread-safe. */
void pool_stats(pool_t *pool, pool_stats_t *st);

/**
 * @brief Puts the session back as a new connection has it: DISCARD ALL
 *        (settings incl. role and search_path, advisory locks, LISTEN, temp
 *        tables, prepared statements, cursors, sequences' currval) and then
 *        the adapter's own settings again, in one pipelined round trip. The
 *        statement cache is emptied (DISCARD ALL dropped its statements);
 *        used and dirty are cleared.
 * @returns 0, or -1 (errstr) when the session could not be reset: the
 *          caller must not use the connection further (release it broken).
 */
int pool_reset_session(pool_conn_t *pc, int64_t deadline_us, char *errstr, size_t size);

/**
 * @brief Looks up the prepared statement name for sql on this connection.
 * @returns the name, or NULL when sql is not prepared here.
 */
const char *pool_stmt_lookup(pool_conn_t *pc, const char *sql);

/**
 * @brief Prepares the statements of sqls[0..n) not yet prepared on this
 *        connection, in one pipelined round trip, as long as the cache has
 *        room. A statement that fails to prepare is simply not cached.
 * @returns 0, or -1 when the connection failed (errstr).
 */
int pool_stmt_prepare(pool_conn_t *pc, const char *const *sqls, size_t n, int64_t deadline_us,
                      char *errstr, size_t size);

/**
 * @brief Waits for the next result of a non-blocking connection, flushing
 *        pending output meanwhile. deadline_us: monotonic, 0 for none.
 * @returns 0 with *res (NULL at the end of one query's results), or -1 when
 *          the connection failed or the deadline passed (errstr).
 */
int pool_get_result(PGconn *conn, int64_t deadline_us, PGresult **res, char *errstr, size_t size);

/**
 * @brief Runs one statement outside any pipeline and returns its result
 *        (PQexecParams, but non-blocking-safe with a deadline).
 * @returns the result (PQclear it) or NULL with errstr when the connection failed.
 */
PGresult *pool_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
                    int64_t deadline_us, char *errstr, size_t size);

#endif
