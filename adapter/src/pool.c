/*
 * Connection pool and non-blocking libpq helpers (see pool.h). The pool is a
 * fixed array of pool_max slots; a slot is empty, idle, in use, or reserved
 * (in use, no connection yet: a thread is connecting into it). Slots change
 * state under the lock; connecting happens outside it, so one lane waiting
 * for a slow server does not hold the others. Connecting is synchronous
 * (libpq's connect_timeout bounds it) because the executor cannot do
 * anything useful without a connection anyway.
 */
#include "pool.h"

#include <dbev/sql_build.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    pool_conn_t *pc; /* NULL: empty */
    bool in_use;
} slot_t;

struct pool {
    pool_conf_t conf;
    char *conninfo;
    slot_t *slots;
    pthread_mutex_t lock; /* guards the slots (several executor threads share the pool) and
                             the statistics */
    uint64_t queries, failures, connects, connect_failures, recovery_attempts, retired;
    bool lost; /* the last connection attempt failed, or the connections were dropped */
    int64_t total_us;
    char last_error[256];
    int64_t last_error_wall_us;
};

/*
 * The connection the calling thread holds, so that pool_record() can count
 * a request against it without the executor passing it along: a connection
 * belongs to one thread between acquire and release (pool.h).
 */
static __thread pool_conn_t *tls_held;

static void conn_free(pool_conn_t *pc)
{
    if (!pc)
        return;
    if (pc->conn)
        PQfinish(pc->conn);
    for (int i = 0; i < pc->nstmts; i++)
        free(pc->stmts[i].sql);
    free(pc);
}

static void set_last_error(pool_t *pool, const char *msg)
{
    snprintf(pool->last_error, sizeof(pool->last_error), "%s", msg);
    pool->last_error_wall_us = dbev_wall_us();
}

/* One line of a libpq error message (they end with a newline). */
static void first_line(const char *msg, char *out, size_t size)
{
    snprintf(out, size, "%s", msg ? msg : "unknown error");
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
}

/* Server notices (NOTICE: relation exists, skipping...) go to the logger,
 * never to stderr: library code does not print. */
static void notice_to_log(void *arg, const char *message)
{
    const pool_t *pool = arg;
    char line[256];
    first_line(message, line, sizeof(line));
    dbev_logf(pool->conf.logger, DBEV_LOG_DEBUG, NULL, "postgres: %s", line);
}

#define SESSION_SETUP_TIMEOUT_US (30 * 1000000LL)

/*
 * [DISCARD ALL, Sync] when discard, then the settings and a Sync: one
 * pipelined round trip. DISCARD ALL refuses to run in a transaction block,
 * and the statements of one pipeline segment share an implicit one, hence
 * its own segment. Every result is read, even after a failure, so the
 * connection is never left mid-pipeline.
 */
static int session_setup(PGconn *conn, bool discard, int64_t command_timeout_ms,
                         int64_t deadline_us, char *errstr, size_t size)
{
    char line[256];
    int syncs = 0;
    bool ok = true;
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return dbev_seterr(errstr, size, "cannot reset the session: a transaction is open");
    if (!PQenterPipelineMode(conn))
        goto send_failed;
    if (discard) {
        if (!PQsendQueryParams(conn, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0) ||
            !PQpipelineSync(conn))
            goto send_failed;
        syncs++;
    }
    /* The type mapping's session settings (dbev/sql_build.h): applied after
     * connecting and again after every DISCARD ALL, which resets them to the
     * server's defaults. */
    const char *set;
    for (size_t i = 0; (set = dbev_sql_session_setting(i)) != NULL; i++)
        if (!PQsendQueryParams(conn, set, 0, NULL, NULL, NULL, NULL, 0))
            goto send_failed;
    /* The session default a request without a timeout of its own runs under
     * (exec.c's SET LOCAL ... TO DEFAULT comes back to it). */
    if (command_timeout_ms > 0) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SET statement_timeout = %lld", (long long)command_timeout_ms);
        if (!PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0))
            goto send_failed;
    }
    if (!PQpipelineSync(conn))
        goto send_failed;
    syncs++;
    while (syncs > 0) {
        PGresult *res;
        if (pool_get_result(conn, deadline_us, &res, errstr, size))
            return -1;
        if (!res)
            continue; /* the end of one statement's results */
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            syncs--;
        } else if (st != PGRES_COMMAND_OK && ok) {
            ok = false;
            first_line(PQresultErrorMessage(res), line, sizeof(line));
            dbev_seterr(errstr, size, "cannot set up the session: %s",
                        line[0] ? line : PQresStatus(st));
        }
        PQclear(res);
    }
    PQexitPipelineMode(conn);
    return ok ? 0 : -1;
send_failed:
    first_line(PQerrorMessage(conn), line, sizeof(line));
    return dbev_seterr(errstr, size, "cannot set up the session: %s", line);
}

static void stmts_forget(pool_conn_t *pc)
{
    for (int k = 0; k < pc->nstmts; k++)
        free(pc->stmts[k].sql);
    pc->nstmts = 0;
}

int pool_reset_session(pool_conn_t *pc, int64_t deadline_us, char *errstr, size_t size)
{
    if (session_setup(pc->conn, true, pc->command_timeout_ms, deadline_us, errstr, size))
        return -1;
    stmts_forget(pc);
    pc->reset_stmts = false;
    pc->used = false;
    pc->dirty = false;
    return 0;
}

static pool_conn_t *conn_open(pool_t *pool, char *errstr, size_t size)
{
    /* Defaults first: the caller's conninfo (expanded at "dbname") overrides them.
     * libpq's connect_timeout is whole seconds and treats 1 as 2. */
    char connect_timeout[24];
    int64_t ct_ms = pool->conf.connect_timeout_ms > 0 ? pool->conf.connect_timeout_ms : 5000;
    snprintf(connect_timeout, sizeof(connect_timeout), "%lld",
             (long long)((ct_ms + 999) / 1000 < 2 ? 2 : (ct_ms + 999) / 1000));
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {connect_timeout, "dbev-adapter", pool->conninfo, NULL};
    pool_conn_t *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    pc->command_timeout_ms = pool->conf.command_timeout_ms;
    pthread_mutex_lock(&pool->lock);
    if (pool->lost)
        pool->recovery_attempts++;
    pthread_mutex_unlock(&pool->lock);
    pc->conn = PQconnectdbParams(keys, vals, 1);
    char line[256];
    if (!pc->conn || PQstatus(pc->conn) != CONNECTION_OK) {
        first_line(pc->conn ? PQerrorMessage(pc->conn) : "out of memory", line, sizeof(line));
        dbev_seterr(errstr, size, "cannot connect to PostgreSQL: %s", line);
        pthread_mutex_lock(&pool->lock);
        pool->connect_failures++;
        pool->lost = true;
        set_last_error(pool, errstr);
        pthread_mutex_unlock(&pool->lock);
        conn_free(pc);
        return NULL;
    }
    PQsetNoticeProcessor(pc->conn, notice_to_log, pool);
    if (PQsetnonblocking(pc->conn, 1) != 0) {
        dbev_seterr(errstr, size, "cannot make the connection non-blocking");
        conn_free(pc);
        return NULL;
    }
    if (session_setup(pc->conn, false, pc->command_timeout_ms,
                      dbev_mono_us() + SESSION_SETUP_TIMEOUT_US, errstr, size)) {
        conn_free(pc);
        return NULL;
    }
    pc->created_us = pc->idle_since_us = dbev_mono_us();
    pthread_mutex_lock(&pool->lock);
    pool->connects++;
    pool->lost = false;
    pthread_mutex_unlock(&pool->lock);
    return pc;
}

pool_t *pool_new(const pool_conf_t *conf)
{
    pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->conf = *conf;
    if (pool->conf.max <= 0)
        pool->conf.max = 20;
    if (pool->conf.min < 0)
        pool->conf.min = 0;
    if (pool->conf.min > pool->conf.max)
        pool->conf.min = pool->conf.max;
    pool->conninfo = strdup(conf->conninfo ? conf->conninfo : "");
    pool->slots = calloc((size_t)pool->conf.max, sizeof(*pool->slots));
    if (!pool->conninfo || !pool->slots) {
        free(pool->conninfo);
        free(pool->slots);
        free(pool);
        return NULL;
    }
    pool->conf.conninfo = pool->conninfo;
    pthread_mutex_init(&pool->lock, NULL);
    for (int i = 0; i < pool->conf.min; i++) {
        char err[512];
        pool_conn_t *pc = conn_open(pool, err, sizeof(err));
        if (!pc) {
            dbev_logf(pool->conf.logger, DBEV_LOG_WARN, NULL, "pool: %s", err);
            break; /* the server is not there: do not try min times */
        }
        pool->slots[i].pc = pc;
    }
    return pool;
}

void pool_destroy(pool_t *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->conf.max; i++)
        conn_free(pool->slots[i].pc);
    pthread_mutex_destroy(&pool->lock);
    free(pool->slots);
    free(pool->conninfo);
    free(pool);
}

static bool too_old(const pool_t *pool, const pool_conn_t *pc)
{
    return pool->conf.max_age_ms > 0 &&
           dbev_mono_us() - pc->created_us > pool->conf.max_age_ms * 1000;
}

/* Limits of an idle connection: its age, its request count, its idle time.
 * Replacing a connection bounds what a long session accumulates on the
 * server (memory of cached plans and catalogs, seed 003's max queries) and
 * lets go of connections a quiet adapter does not need. */
static const char *retire_reason(const pool_t *pool, const pool_conn_t *pc)
{
    if (too_old(pool, pc))
        return "max age";
    if (pool->conf.max_queries > 0 && pc->queries >= pool->conf.max_queries)
        return "max queries";
    if (pool->conf.idle_timeout_ms > 0 &&
        dbev_mono_us() - pc->idle_since_us > pool->conf.idle_timeout_ms * 1000)
        return "idle timeout";
    return NULL;
}

/* Under the lock: takes an idle connection (when take_idle), else reserves
 * an empty slot to connect into (in use, no connection yet); -1 when there
 * is neither. */
static int reserve_slot(pool_t *pool, bool take_idle, bool *idle)
{
    int empty = -1;
    *idle = false;
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->conf.max; i++) {
        slot_t *s = &pool->slots[i];
        if (s->in_use)
            continue;
        if (s->pc && take_idle) {
            s->in_use = true;
            *idle = true;
            pthread_mutex_unlock(&pool->lock);
            return i;
        }
        if (!s->pc && empty < 0)
            empty = i;
    }
    if (empty >= 0)
        pool->slots[empty].in_use = true;
    pthread_mutex_unlock(&pool->lock);
    return empty;
}

/* Connects into a reserved slot without holding the lock (connecting takes
 * long); the slot then holds the connection, in use or idle, or is empty
 * again when connecting failed. */
static pool_conn_t *slot_connect(pool_t *pool, slot_t *s, bool in_use, char *errstr, size_t size)
{
    pool_conn_t *pc = conn_open(pool, errstr, size);
    pthread_mutex_lock(&pool->lock);
    s->pc = pc;
    s->in_use = pc && in_use;
    pthread_mutex_unlock(&pool->lock);
    return pc;
}

/* Empties a reserved slot (its connection, if any, closed). */
static void slot_clear(pool_t *pool, slot_t *s)
{
    pthread_mutex_lock(&pool->lock);
    conn_free(s->pc);
    s->pc = NULL;
    s->in_use = false;
    pthread_mutex_unlock(&pool->lock);
}

pool_conn_t *pool_acquire(pool_t *pool, char *errstr, size_t size)
{
    for (;;) {
        bool idle;
        int i = reserve_slot(pool, true, &idle);
        if (i < 0) {
            dbev_seterr(errstr, size, "connection pool exhausted (%d in use)", pool->conf.max);
            return NULL;
        }
        slot_t *s = &pool->slots[i];
        if (!idle)
            return tls_held = slot_connect(pool, s, true, errstr, size);
        if (PQstatus(s->pc->conn) != CONNECTION_OK || retire_reason(pool, s->pc)) {
            if (PQstatus(s->pc->conn) == CONNECTION_OK) {
                pthread_mutex_lock(&pool->lock);
                pool->retired++;
                pthread_mutex_unlock(&pool->lock);
            }
            slot_clear(pool, s);
            continue; /* the slot is empty now: take the next idle one, or connect */
        }
        if (s->pc->reset_stmts) {
            PGresult *res = pool_exec(s->pc->conn, "DEALLOCATE ALL", 0, NULL, 0, errstr, size);
            PQclear(res);
            stmts_forget(s->pc);
            s->pc->reset_stmts = false;
        }
        s->pc->reused = true;
        tls_held = s->pc;
        return s->pc;
    }
}

void pool_release(pool_t *pool, pool_conn_t *pc, bool broken)
{
    if (!pc)
        return;
    if (tls_held == pc)
        tls_held = NULL;
    pc->idle_since_us = dbev_mono_us();
    if (!broken && pool->conf.max_queries > 0 && pc->queries >= pool->conf.max_queries) {
        dbev_logf(pool->conf.logger, DBEV_LOG_DEBUG, NULL,
                  "pool: replacing a connection after %llu requests (pool.max.queries)",
                  (unsigned long long)pc->queries);
        pthread_mutex_lock(&pool->lock);
        pool->retired++;
        pthread_mutex_unlock(&pool->lock);
        broken = true; /* closed below; pool_maintain or the next acquire opens a new one */
    }
    if (!broken && pc->dirty) {
        char err[512];
        if (pool_reset_session(pc, dbev_mono_us() + SESSION_SETUP_TIMEOUT_US, err, sizeof(err))) {
            dbev_logf(pool->conf.logger, DBEV_LOG_WARN, NULL,
                      "pool: closing a connection whose session could not be reset: %s", err);
            broken = true;
        }
    }
    if (!broken &&
        (PQstatus(pc->conn) != CONNECTION_OK || PQtransactionStatus(pc->conn) != PQTRANS_IDLE ||
         PQpipelineStatus(pc->conn) != PQ_PIPELINE_OFF))
        broken = true;
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->conf.max; i++) {
        slot_t *s = &pool->slots[i];
        if (s->pc != pc)
            continue;
        if (broken) {
            conn_free(pc);
            s->pc = NULL;
        }
        s->in_use = false;
        break;
    }
    pthread_mutex_unlock(&pool->lock);
}

void pool_maintain(pool_t *pool)
{
    int size = 0;
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->conf.max; i++) {
        slot_t *s = &pool->slots[i];
        bool dead = s->pc && PQstatus(s->pc->conn) != CONNECTION_OK;
        if (s->pc && !s->in_use && (dead || retire_reason(pool, s->pc))) {
            if (!dead)
                pool->retired++;
            conn_free(s->pc);
            s->pc = NULL;
        }
        if (s->pc || s->in_use)
            size++;
    }
    pthread_mutex_unlock(&pool->lock);
    while (size < pool->conf.min) {
        bool idle;
        int slot = reserve_slot(pool, false, &idle);
        if (slot < 0)
            return;
        char err[512];
        if (!slot_connect(pool, &pool->slots[slot], false, err, sizeof(err))) {
            dbev_logf(pool->conf.logger, DBEV_LOG_WARN, NULL, "pool: %s", err);
            return;
        }
        size++;
    }
}

void pool_drop_idle(pool_t *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->lost = true; /* reconnecting from here on is recovery */
    for (int i = 0; i < pool->conf.max; i++) {
        slot_t *s = &pool->slots[i];
        if (s->pc && !s->in_use) {
            conn_free(s->pc);
            s->pc = NULL;
        }
    }
    pthread_mutex_unlock(&pool->lock);
}

void pool_record(pool_t *pool, uint64_t queries, uint64_t failures, int64_t total_us,
                 const char *error)
{
    if (tls_held)
        tls_held->queries += queries; /* the holder's thread: no lock needed */
    pthread_mutex_lock(&pool->lock);
    pool->queries += queries;
    pool->failures += failures;
    pool->total_us += total_us;
    if (error)
        set_last_error(pool, error);
    pthread_mutex_unlock(&pool->lock);
}

void pool_stats(pool_t *pool, pool_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->conf.max; i++) {
        if (!pool->slots[i].pc)
            continue;
        st->size++;
        if (pool->slots[i].in_use)
            st->in_use++;
        else
            st->free++;
    }
    st->min = pool->conf.min;
    st->max = pool->conf.max;
    st->utilization_pct = pool->conf.max ? 100.0 * st->in_use / pool->conf.max : 0;
    st->queries = pool->queries;
    st->failures = pool->failures;
    st->connects = pool->connects;
    st->connect_failures = pool->connect_failures;
    st->recovery_attempts = pool->recovery_attempts;
    st->retired = pool->retired;
    st->avg_query_ms = pool->queries ? (double)pool->total_us / 1000.0 / (double)pool->queries : 0;
    snprintf(st->last_error, sizeof(st->last_error), "%s", pool->last_error);
    st->last_error_wall_us = pool->last_error_wall_us;
    pthread_mutex_unlock(&pool->lock);
}

/* ---- non-blocking I/O ---------------------------------------------------- */

int pool_get_result(PGconn *conn, int64_t deadline_us, PGresult **res, char *errstr, size_t size)
{
    char line[256];
    *res = NULL;
    for (;;) {
        int flushed = PQflush(conn);
        if (flushed < 0)
            goto conn_failed;
        if (!PQisBusy(conn)) {
            *res = PQgetResult(conn);
            return 0;
        }
        int timeout = -1;
        if (deadline_us > 0) {
            int64_t left = deadline_us - dbev_mono_us();
            if (left <= 0)
                return dbev_seterr(errstr, size, "no answer from PostgreSQL in time");
            timeout = (int)(left / 1000) + 1;
        }
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        if (pfd.fd < 0)
            goto conn_failed;
        if (flushed == 1)
            pfd.events |= POLLOUT;
        int rc = poll(&pfd, 1, timeout);
        if (rc < 0 && errno != EINTR)
            return dbev_seterr(errstr, size, "poll: %s", strerror(errno));
        if (rc > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn))
            goto conn_failed;
    }
conn_failed:
    first_line(PQerrorMessage(conn), line, sizeof(line));
    return dbev_seterr(errstr, size, "connection to PostgreSQL lost: %s", line);
}

PGresult *pool_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
                    int64_t deadline_us, char *errstr, size_t size)
{
    char line[256];
    if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0)) {
        first_line(PQerrorMessage(conn), line, sizeof(line));
        dbev_seterr(errstr, size, "cannot send to PostgreSQL: %s", line);
        return NULL;
    }
    PGresult *last = NULL, *res;
    for (;;) {
        if (pool_get_result(conn, deadline_us, &res, errstr, size)) {
            PQclear(last);
            return NULL;
        }
        if (!res)
            break;
        PQclear(last);
        last = res;
    }
    if (!last)
        dbev_seterr(errstr, size, "no result from PostgreSQL");
    return last;
}

/* ---- prepared statements -------------------------------------------------- */

const char *pool_stmt_lookup(pool_conn_t *pc, const char *sql)
{
    for (int i = 0; i < pc->nstmts; i++)
        if (strcmp(pc->stmts[i].sql, sql) == 0)
            return pc->stmts[i].name;
    return NULL;
}

int pool_stmt_prepare(pool_conn_t *pc, const char *const *sqls, size_t n, int64_t deadline_us,
                      char *errstr, size_t size)
{
    int pending[POOL_STMT_CACHE];
    int npending = 0;
    for (size_t i = 0; i < n && pc->nstmts + npending < POOL_STMT_CACHE; i++) {
        if (pool_stmt_lookup(pc, sqls[i]))
            continue;
        bool dup = false;
        for (int k = 0; k < npending; k++)
            if (strcmp(pc->stmts[pending[k]].sql, sqls[i]) == 0)
                dup = true;
        if (dup)
            continue;
        int slot = pc->nstmts + npending;
        pc->stmts[slot].sql = strdup(sqls[i]);
        if (!pc->stmts[slot].sql)
            break;
        snprintf(pc->stmts[slot].name, sizeof(pc->stmts[slot].name), "dbev_%d", pc->next_stmt_id++);
        pending[npending++] = slot;
    }
    if (npending == 0)
        return 0;
    /* Not visible to lookups until prepared; they are above nstmts meanwhile. */
    if (!PQenterPipelineMode(pc->conn))
        goto fail_clean;
    for (int k = 0; k < npending; k++) {
        pool_stmt_t *st = &pc->stmts[pending[k]];
        if (!PQsendPrepare(pc->conn, st->name, st->sql, 0, NULL))
            goto fail_clean;
    }
    if (!PQpipelineSync(pc->conn))
        goto fail_clean;
    bool ok[POOL_STMT_CACHE];
    for (int k = 0; k < npending; k++) {
        PGresult *res;
        ok[k] = false;
        if (pool_get_result(pc->conn, deadline_us, &res, errstr, size))
            goto fail_clean_noerr;
        ok[k] = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (pool_get_result(pc->conn, deadline_us, &res, errstr, size))
            goto fail_clean_noerr;
        PQclear(res); /* the NULL ending this query */
    }
    {
        PGresult *res;
        if (pool_get_result(pc->conn, deadline_us, &res, errstr, size))
            goto fail_clean_noerr;
        PQclear(res); /* PGRES_PIPELINE_SYNC */
    }
    PQexitPipelineMode(pc->conn);
    /* Compact: keep the ones that prepared. */
    for (int k = 0; k < npending; k++) {
        pool_stmt_t st = pc->stmts[pending[k]];
        if (ok[k]) {
            pc->stmts[pc->nstmts++] = st;
        } else {
            free(st.sql);
        }
    }
    return 0;
fail_clean:
    dbev_seterr(errstr, size, "cannot prepare statements: %s", PQerrorMessage(pc->conn));
fail_clean_noerr:
    for (int k = 0; k < npending; k++) {
        free(pc->stmts[pending[k]].sql);
        pc->stmts[pending[k]].sql = NULL;
    }
    return -1;
}
