/*
 * The executor's connection per batch (exec.c): taken from the pool on first
 * use and kept for the whole batch, checked (never a superuser's unless
 * allowed; the dedupe bookkeeping ensured once), dropped with the idle ones
 * when it fails, replaced by a fresh one for a retry; and its session, reset
 * around caller-written SQL ("Sessions" below). Also the I/O deadline every
 * wait on a connection is bounded by.
 */
#include "exec_int.h"

#include <stdio.h>
#include <string.h>

#define IO_GRACE_MS 10000

int64_t io_deadline(int64_t timeout_ms)
{
    if (timeout_ms <= 0)
        return 0;
    return dbev_mono_us() + (timeout_ms + IO_GRACE_MS) * 1000;
}

/* ---- connection per batch ------------------------------------------------ */

/* Whether conn is a superuser's session: the server reports is_superuser at
 * connect (and when it changes), so this is a local lookup. */
bool conn_is_superuser(PGconn *conn)
{
    const char *v = PQparameterStatus(conn, "is_superuser");
    return v && strcmp(v, "on") == 0;
}

/* A superuser's connection, unless pg.allow.superuser: -1 with errstr.
 * Callers' SELECT and EXECUTE run as the adapter's role, so as a superuser
 * they could read the server's files, run programs and create roles. */
int refuse_superuser(const adapter_exec_t *ex, PGconn *conn, char *errstr, size_t size)
{
    if (!ex->conf.refuse_superuser || !conn_is_superuser(conn))
        return 0;
    dbev_seterr(errstr, size,
                "connected to PostgreSQL as the superuser \"%s\": callers' SQL would run with "
                "every privilege (server files, programs, roles); connect as the adapter's role "
                "(dbev_app, migration 007), or set pg.allow.superuser=true (tests only)",
                PQuser(conn));
    return -1;
}

static pool_conn_t *get_conn_timed(adapter_exec_t *ex, char *err, size_t errsize);

/* The batch's connection; the time it takes counts as the batch's pool wait. */
pool_conn_t *get_conn(adapter_exec_t *ex)
{
    char err[512];
    if (ex->pc)
        return ex->pc;
    if (ex->conn_failed)
        return NULL;
    int64_t t0 = dbev_mono_us();
    pool_conn_t *pc = get_conn_timed(ex, err, sizeof(err));
    ex->pool_wait_us += dbev_mono_us() - t0;
    return pc;
}

/* get_conn()'s work: a connection from the pool, checked (and the dedupe
 * bookkeeping ensured once), or NULL with ex->conn_err. */
static pool_conn_t *get_conn_timed(adapter_exec_t *ex, char *err, size_t errsize)
{
    ex->pc = pool_acquire(ex->pool, err, errsize);
    if (!ex->pc) {
        ex->conn_failed = true;
        snprintf(ex->conn_err, sizeof(ex->conn_err), "%s", err);
        return NULL;
    }
    /* Every connection, new ones after a restart too: a local lookup of what
     * the server reported at connect, so it costs nothing per batch. */
    if (refuse_superuser(ex, ex->pc->conn, err, errsize)) {
        pool_release(ex->pool, ex->pc, true);
        ex->pc = NULL;
        ex->conn_failed = true;
        snprintf(ex->conn_err, sizeof(ex->conn_err), "%s", err);
        dbev_logf(ex->logger, DBEV_LOG_ERROR, NULL, "%s", err);
        return NULL;
    }
    if (!ex->table_ready) {
        if (dedupe_prepare(ex->pc->conn, conn_is_superuser(ex->pc->conn), io_deadline(30000), err,
                           errsize) == 0)
            ex->table_ready = true;
        else
            dbev_logf(ex->logger, DBEV_LOG_ERROR, NULL, "dedupe: %s", err);
    }
    return ex->pc;
}

/* The current connection failed: drop it and the idle ones (likely dead too). */
void conn_lost(adapter_exec_t *ex, const char *why)
{
    /* why may live in the connection (PQerrorMessage): copy it first. */
    char line[sizeof(ex->conn_err)];
    snprintf(line, sizeof(line), "%s", why && why[0] ? why : "connection to PostgreSQL lost");
    line[strcspn(line, "\n")] = '\0';
    if (ex->pc)
        pool_release(ex->pool, ex->pc, true);
    ex->pc = NULL;
    pool_drop_idle(ex->pool);
    memcpy(ex->conn_err, line, sizeof(line));
}

/* Gets a connection for a retry after conn_lost(): a fresh one or nothing. */
pool_conn_t *get_fresh_conn(adapter_exec_t *ex)
{
    pool_conn_t *pc = get_conn(ex);
    if (pc && pc->reused) {
        conn_lost(ex, "stale connection");
        pc = get_conn(ex);
    }
    return pc;
}

/*
 * Sessions. A request must neither see nor leave session state (settings
 * incl. role and search_path, advisory locks, LISTEN, temp tables, prepared
 * statements, cursors, sequences' currval) on the pooled connection the next
 * request gets. DISCARD ALL and the settings again cost a round trip and
 * the connection's prepared statements, so it is paid only around
 * caller-written SQL (SELECT, EXECUTE, a TRANSACTION holding one): before
 * it when the session ran anything since its last reset, after it always.
 * Structured operations (INSERT, UPDATE, DELETE, UPSERT, BATCH_INSERT) run
 * SQL the adapter builds from quoted identifiers and $n parameters, and no
 * caller text reaches the server as SQL; what can still change their
 * session is code in the schema: a column default's nextval() sets currval,
 * and a trigger or a default may call set_config() or take a lock. That
 * code is the database owner's, trusted like the adapter's own settings,
 * so groups of structured writes share a session unreset (the throughput
 * path, bench_adapter); whatever it left is reset before a caller's SQL
 * can look at it. A caller who could create such code (EXECUTE of DDL) is
 * a matter of privileges, not of sessions.
 */
bool runs_caller_sql(const dbev_operation_t *op)
{
    if (op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE)
        return true;
    for (size_t k = 0; op->type == DBEV_OP_TRANSACTION && k < op->n_ops; k++)
        if (runs_caller_sql(&op->ops[k]))
            return true;
    return false;
}

/* Resets the batch's connection's session; when that fails, the connection
 * is closed (ex->pc NULL) rather than serve anyone with a caller's state. */
int reset_session(adapter_exec_t *ex)
{
    char err[512];
    if (!ex->pc || pool_reset_session(ex->pc, io_deadline(30000), err, sizeof(err)) == 0)
        return 0;
    dbev_logf(ex->logger, DBEV_LOG_WARN, NULL,
              "closing a connection whose session could not be reset: %s", err);
    pool_release(ex->pool, ex->pc, true);
    ex->pc = NULL;
    return -1;
}

/* A connection for caller-written SQL: one whose session ran nothing since
 * it was opened or reset. */
pool_conn_t *get_clean_conn(adapter_exec_t *ex, bool fresh)
{
    pool_conn_t *pc = fresh ? get_fresh_conn(ex) : get_conn(ex);
    if (pc && pc->used && reset_session(ex))
        pc = get_fresh_conn(ex);
    return pc;
}
