/*
 * The executor (see exec.h): requests in, one outcome per request out.
 *
 * A batch is walked in order. Requests refused before execution (expired
 * deadline, allowlist, EXECUTE of a transaction statement, a hostile
 * identifier, an open breaker) are answered at once. Consecutive structured
 * writes (INSERT, UPDATE, DELETE, UPSERT, BATCH_INSERT) form a group that
 * runs optimistically in ONE transaction, pipelined on one connection:
 *
 *   BEGIN; every statement                          (round trip 1)
 *   record every event id and response; COMMIT     (round trip 2)
 *
 * The record is one INSERT of arrays (dedupe.h): a claim first and an
 * UPDATE per response cost the server twice as much per request, and a
 * lookup of processed events before every group cost a tenth of all the
 * CPU per request (bench_adapter). The record's primary key decides: a
 * duplicate (a redelivery, the same event in flight elsewhere, or twice in
 * the group) conflicts at that INSERT, or earlier at a unique key of its
 * own write, which rolls the group back whole. Only then are the group's
 * event ids looked up: those another delivery committed are answered from
 * their records and the rest runs again as a group (an event twice in the
 * group: each request alone).
 *
 * When a statement of the group fails for any other reason, the transaction
 * is rolled back and the group is split around the failing request: the
 * requests before it run again as a group, the failing one alone (so its
 * outcome is its own), the rest as a group. Order is kept and neighbours
 * never fail for it. Anything else (SELECT, EXECUTE, TRANSACTION) runs alone
 * in its own transaction, also pipelined. SELECT runs READ ONLY.
 *
 * A connection-class failure on a connection that had been used before is
 * retried once on a fresh one (after a server restart every pooled
 * connection is dead; the record's primary key makes the retry safe for
 * writes, should the lost connection have committed). What still fails is
 * answered DATABASE_CONNECTION_FAILED and counted by the breaker. Which
 * failures are the connection's, the server's or the caller's is decided by
 * SQLSTATE and severity (dbev_sql_sqlstate_class): a caller's mistake (a
 * syntax error, a constraint, permission denied, its own timeout, a Bind
 * with the wrong number of values) is never retried and never counted.
 *
 * Every answer must fit the transport (response.max.bytes): one that
 * would not is replaced by a failed ResponseTooLarge answer, measured before
 * COMMIT for anything but a SELECT and rolled back, so a write is never
 * applied unanswered; in a group, the group is split around it as around a
 * failing statement. Rows past max_rows are read one by one and dropped.
 *
 * Design choice for TRANSACTION: the completed payload has `results`, one
 * completed payload per operation, `rows` empty and `row_count` the number of
 * operations. A failing operation rolls back all and the failed payload says
 * which in metadata.failed_operation_index.
 */
#include "exec.h"

#include "breaker.h"
#include "dedupe.h"
#include "pool.h"

#include <dbev/sql.h>
#include <dbev/sql_build.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GROUP_MAX_JOBS   1000
#define GROUP_MAX_PARAMS 30000
#define IO_GRACE_MS      10000

struct adapter_exec {
    adapter_exec_conf_t conf;
    adapter_exec_t *primary; /* a lane: borrows the primary's pool, breaker and strings */
    char *conninfo;
    char **allowlist; /* NULL-terminated copy, or NULL */
    const dbev_logger_t *logger;
    pool_t *pool;
    breaker_t *breaker;
    json_t *coltypes; /* {table: {column: true when array-typed}} */
    bool table_ready; /* dedupe table ensured on this server */
    int64_t started_us;
    int64_t last_retention_us;
    int64_t last_maintain_us;
    bool retention_backlog; /* the last retention chunk was full */
    /* per batch */
    int64_t pool_wait_us; /* spent getting connections from the pool */
    pool_conn_t *pc;
    bool conn_failed;
    char conn_err[512];
};

/* An error answer in the making. */
typedef struct dberr {
    dbev_err_t code;
    const char *type;
    char sqlstate[6];
    char message[1024];
    bool conn;   /* the connection failed: retried on a fresh one */
    bool counts; /* the database's failure: counts for the breaker (conn, or SERVER) */
} dberr_t;

/* One request being executed. */
typedef struct job {
    const dbev_request_t *req;
    adapter_outcome_t *out;
    dbev_sql_query_t *qs; /* its statements (TRANSACTION: all ops' statements) */
    size_t nq;
    size_t *op_first; /* TRANSACTION: first statement of op k; op_first[n_ops] = nq */
    int *row_limit;   /* per statement: rows run_step keeps (0: all; NULL: all) */
    int64_t timeout_ms;
    int64_t t0_us;
    char fp[DEDUPE_FP_SIZE]; /* the request's fingerprint, when it dedupes */
} job_t;

/* ---- small helpers ------------------------------------------------------- */

static int64_t effective_timeout(const adapter_exec_t *ex, const dbev_operation_t *op)
{
    return op->timeout_ms > 0 ? op->timeout_ms : ex->conf.default_timeout_ms;
}

static int64_t io_deadline(int64_t timeout_ms)
{
    if (timeout_ms <= 0)
        return 0;
    return dbev_mono_us() + (timeout_ms + IO_GRACE_MS) * 1000;
}

static const char *corr(const job_t *job)
{
    return job->req->correlation_id;
}

static double elapsed_ms(const job_t *job)
{
    return (double)(dbev_mono_us() - job->t0_us) / 1000.0;
}

static void job_free_stmts(job_t *job)
{
    dbev_sql_queries_free(job->qs, job->nq);
    free(job->op_first);
    free(job->row_limit);
    job->qs = NULL;
    job->nq = 0;
    job->op_first = NULL;
    job->row_limit = NULL;
}

/* message = prefix + msg */
static void err_set(dberr_t *e, dbev_err_t code, const char *type, const char *sqlstate,
                    const char *prefix, const char *msg)
{
    e->code = code;
    e->type = type;
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate ? sqlstate : "");
    snprintf(e->message, sizeof(e->message), "%s%s", prefix, msg ? msg : "");
    e->conn = code == DBEV_ERR_DATABASE_CONNECTION_FAILED;
    e->counts = e->conn;
}

static void err_conn(dberr_t *e, const char *msg)
{
    err_set(e, DBEV_ERR_DATABASE_CONNECTION_FAILED, "ConnectionError", NULL, "", msg);
}

/*
 * Classifies a failed result by whose fault it was (dbev_sql_sqlstate_class,
 * the table in docs/protocol.md): only the database's failures are retried
 * on a fresh connection and counted by the breaker, never a caller's. The
 * session ended when the server said FATAL/PANIC or libpq lost it.
 */
static void err_from_result(PGconn *conn, const PGresult *res, dberr_t *e)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *severity = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
    if (!msg)
        msg = PQerrorMessage(conn);
    bool ended = PQstatus(conn) != CONNECTION_OK ||
                 (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0));
    switch (dbev_sql_sqlstate_class(state, ended)) {
    case DBEV_SQL_FAULT_TIMEOUT:
        err_set(e, DBEV_ERR_TIMEOUT_ERROR, "TimeoutError", state, "statement timeout: ", msg);
        break;
    case DBEV_SQL_FAULT_CONNECTION:
        err_set(e, DBEV_ERR_DATABASE_CONNECTION_FAILED, "ConnectionError", state, "", msg);
        break;
    case DBEV_SQL_FAULT_SERVER:
        err_set(e, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", state, "", msg);
        e->counts = true; /* the server is failing, though the connection lives */
        break;
    case DBEV_SQL_FAULT_CALLER:
    case DBEV_SQL_FAULT_TRANSIENT:
        err_set(e, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", state, "", msg);
        break;
    }
    /* libpq messages end with a newline */
    size_t n = strlen(e->message);
    while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        e->message[--n] = '\0';
}

static void stats_record(adapter_exec_t *ex, const job_t *job, bool failed, const char *error)
{
    pool_record(ex->pool, 1, failed ? 1 : 0, dbev_mono_us() - job->t0_us, error);
}

/* Answers a job with a failure; counts it for the breaker as it deserves. */
static void answer_fail_ex(adapter_exec_t *ex, job_t *job, const dberr_t *e, json_t *metadata,
                           bool touched_db)
{
    const dbev_operation_t *op = &job->req->op;
    bool reached_db = touched_db && (e->code == DBEV_ERR_DATABASE_OPERATION_FAILED ||
                                     e->code == DBEV_ERR_TIMEOUT_ERROR);
    if (e->counts)
        breaker_failure(ex->breaker);
    else if (reached_db)
        breaker_success(ex->breaker);
    if (e->counts || reached_db)
        stats_record(ex, job, true, e->message);
    if (!metadata)
        metadata = json_object();
    if (op->sql && (op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE))
        json_object_set_new(metadata, "sql", json_string(op->sql));
    json_object_set_new(metadata, "execution_time_ms", json_real(elapsed_ms(job)));
    job->out->completed = false;
    job->out->payload = dbev_failed_payload_new(op->type, e->code, e->message, e->type,
                                                e->sqlstate[0] ? e->sqlstate : NULL,
                                                breaker_state(ex->breaker), metadata);
    dbev_logf(ex->logger, e->counts ? DBEV_LOG_WARN : DBEV_LOG_INFO, corr(job), "%s failed: %s: %s",
              dbev_op_name(op->type), dbev_err2name(e->code), e->message);
}

static void answer_fail(adapter_exec_t *ex, job_t *job, const dberr_t *e, json_t *metadata)
{
    answer_fail_ex(ex, job, e, metadata, true);
}

/* A refusal before the database was asked: not counted anywhere. */
static void answer_simple(adapter_exec_t *ex, job_t *job, dbev_err_t code, const char *type,
                          const char *msg)
{
    dberr_t e;
    err_set(&e, code, type, NULL, "", msg);
    answer_fail_ex(ex, job, &e, NULL, false);
}

/* The breaker state a response reports is the one after this request's
 * outcome was counted: the success that closes a HALF_OPEN breaker answers
 * CLOSED. */
static void set_breaker_state(adapter_exec_t *ex, json_t *payload)
{
    json_t *metadata = json_object_get(payload, "metadata");
    if (json_is_object(metadata))
        json_object_set_new(metadata, "circuit_breaker_state",
                            json_string(dbev_breaker_state_name(breaker_state(ex->breaker))));
}

static void answer_ok(adapter_exec_t *ex, job_t *job, json_t *payload)
{
    breaker_success(ex->breaker);
    set_breaker_state(ex, payload);
    stats_record(ex, job, false, NULL);
    job->out->completed = true;
    job->out->payload = payload;
}

/* An event id recorded for another request: refused, neither run nor given
 * that request's answer (dedupe.h). */
static void answer_reused(adapter_exec_t *ex, job_t *job)
{
    char msg[DBEV_ID_SIZE + 160];
    snprintf(msg, sizeof(msg),
             "event_id \"%s\" was already used for a different request; not executed "
             "(a new request needs a new event_id)",
             job->req->event_id);
    answer_simple(ex, job, DBEV_ERR_VALIDATION_ERROR, "EventIdReused", msg);
}

/* Answers a job from a dedupe_lookup() answer: its own stored response, or
 * the refusal of a reused id. */
static void answer_cached(adapter_exec_t *ex, job_t *job, const json_t *stored)
{
    if (dedupe_is_reused(stored)) {
        answer_reused(ex, job);
        return;
    }
    breaker_success(ex->breaker);
    json_t *copy = dedupe_cached_copy(stored, breaker_state(ex->breaker));
    job->out->completed = true;
    job->out->payload = copy;
    dbev_logf(ex->logger, DBEV_LOG_INFO, corr(job), "duplicate event %s answered from its record",
              job->req->event_id);
}

/* ---- connection per batch ------------------------------------------------ */

/* Whether conn is a superuser's session: the server reports is_superuser at
 * connect (and when it changes), so this is a local lookup. */
static bool conn_is_superuser(PGconn *conn)
{
    const char *v = PQparameterStatus(conn, "is_superuser");
    return v && strcmp(v, "on") == 0;
}

/* A superuser's connection, unless pg.allow.superuser: -1 with errstr.
 * Callers' SELECT and EXECUTE run as the adapter's role, so as a superuser
 * they could read the server's files, run programs and create roles. */
static int refuse_superuser(const adapter_exec_t *ex, PGconn *conn, char *errstr, size_t size)
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
static pool_conn_t *get_conn(adapter_exec_t *ex)
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
static void conn_lost(adapter_exec_t *ex, const char *why)
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
static pool_conn_t *get_fresh_conn(adapter_exec_t *ex)
{
    pool_conn_t *pc = get_conn(ex);
    if (pc && pc->reused) {
        conn_lost(ex, "stale connection");
        pc = get_conn(ex);
    }
    return pc;
}

/* ---- column kinds (cached catalog lookup) -------------------------------- */

static dbev_sql_colkind_t colkind_cb(void *opaque, const char *table, const char *column)
{
    adapter_exec_t *ex = opaque;
    json_t *cols = json_object_get(ex->coltypes, table);
    if (!cols) {
        pool_conn_t *pc = get_conn(ex);
        if (!pc)
            return DBEV_SQL_COL_SCALAR;
        char quoted[160], err[256];
        const char *dot = strchr(table, '.');
        if (dot)
            snprintf(quoted, sizeof(quoted), "\"%.*s\".\"%s\"", (int)(dot - table), table, dot + 1);
        else
            snprintf(quoted, sizeof(quoted), "\"%s\"", table);
        const char *values[] = {quoted};
        PGresult *res =
            pool_exec(pc->conn,
                      "SELECT a.attname, t.typcategory = 'A' FROM pg_attribute a"
                      " JOIN pg_type t ON t.oid = a.atttypid"
                      " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                      1, values, io_deadline(30000), err, sizeof(err));
        if (!res)
            return DBEV_SQL_COL_SCALAR; /* the statement itself will meet the failure */
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
            cols = json_object();
            for (int r = 0; r < PQntuples(res); r++)
                json_object_set_new(cols, PQgetvalue(res, r, 0),
                                    json_boolean(PQgetvalue(res, r, 1)[0] == 't'));
            json_object_set_new(ex->coltypes, table, cols);
        }
        PQclear(res);
    }
    return json_is_true(json_object_get(cols, column)) ? DBEV_SQL_COL_ARRAY : DBEV_SQL_COL_SCALAR;
}

/* ---- building statements ------------------------------------------------- */

/* Parameter types of sql, when some parameter is a JSON array (to tell array
 * columns from json ones): dbev_sql_build_params() asks. Returns the number
 * of types written, or -1. */
static int describe_params(void *opaque, const char *sql, unsigned *types, int max)
{
    adapter_exec_t *ex = opaque;
    pool_conn_t *pc = get_conn(ex);
    char err[256];
    if (!pc)
        return -1;
    PGresult *res = NULL;
    int n = -1;
    if (!PQsendPrepare(pc->conn, "", sql, 0, NULL))
        return -1;
    for (;;) {
        if (pool_get_result(pc->conn, io_deadline(30000), &res, err, sizeof(err)))
            return -1;
        if (!res)
            break;
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            n = -2;
    }
    if (n == -2)
        return -1;
    if (!PQsendDescribePrepared(pc->conn, ""))
        return -1;
    for (;;) {
        if (pool_get_result(pc->conn, io_deadline(30000), &res, err, sizeof(err)))
            return -1;
        if (!res)
            break;
        if (PQresultStatus(res) == PGRES_COMMAND_OK) {
            n = PQnparams(res);
            for (int i = 0; i < n && i < max; i++)
                types[i] = PQparamtype(res, i);
        }
        PQclear(res);
    }
    return n;
}

/* Refusals that need no database: the SQL rules (dbev/sql.h; the decoder
 * applies the same ones, the executor does not rely on it), $n against
 * params, the allowlist. */
static int check_op(const adapter_exec_t *ex, const dbev_operation_t *op, char *errstr, size_t size)
{
    if (op->type == DBEV_OP_EXECUTE || op->type == DBEV_OP_SELECT) {
        if (!op->sql)
            return dbev_seterr(errstr, size, "%s needs sql", dbev_op_name(op->type));
        if (dbev_sql_check(op->sql, dbev_op_name(op->type), errstr, size) ||
            dbev_sql_params_check(op->sql, op->params ? json_array_size(op->params) : 0, errstr,
                                  size))
            return -1;
    }
    if (op->table && ex->allowlist) {
        bool ok = false;
        for (int i = 0; ex->allowlist[i]; i++)
            if (strcmp(ex->allowlist[i], op->table) == 0)
                ok = true;
        if (!ok)
            return dbev_seterr(errstr, size, "table \"%s\" is not in the adapter's allowlist",
                               op->table);
    }
    if (op->type == DBEV_OP_TRANSACTION) {
        if (op->n_ops == 0)
            return dbev_seterr(errstr, size, "TRANSACTION needs at least one operation");
        for (size_t k = 0; k < op->n_ops; k++) {
            const dbev_operation_t *sub = &op->ops[k];
            if (sub->type == DBEV_OP_TRANSACTION || sub->type == DBEV_OP_HEALTH)
                return dbev_seterr(errstr, size,
                                   "operations[%zu]: %s cannot be nested in a "
                                   "TRANSACTION",
                                   k, dbev_op_name(sub->type));
            char sub_err[400];
            if (check_op(ex, sub, sub_err, sizeof(sub_err)))
                return dbev_seterr(errstr, size, "operations[%zu]: %s", k, sub_err);
        }
    }
    return 0;
}

/* Statements of one (non-TRANSACTION) operation, appended to job->qs. */
static int build_one(adapter_exec_t *ex, job_t *job, const dbev_operation_t *op, char *errstr,
                     size_t size)
{
    dbev_sql_query_t *qs = NULL;
    size_t nq = 0;
    if (op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE) {
        qs = calloc(1, sizeof(*qs));
        if (!qs)
            return dbev_seterr(errstr, size, "out of memory");
        if (dbev_sql_build_params(op->sql, op->params, describe_params, ex, qs, NULL, errstr,
                                  size)) {
            free(qs);
            return -1;
        }
        nq = 1;
    } else if (dbev_sql_build(op, colkind_cb, ex, &qs, &nq, errstr, size)) {
        return -1;
    }
    dbev_sql_query_t *all = realloc(job->qs, (job->nq + nq) * sizeof(*all));
    if (!all) {
        dbev_sql_queries_free(qs, nq);
        return dbev_seterr(errstr, size, "out of memory");
    }
    memcpy(all + job->nq, qs, nq * sizeof(*qs));
    free(qs);
    job->qs = all;
    job->nq += nq;
    return 0;
}

/*
 * The rows run_step keeps of a statement of op: max_rows and one more, to
 * tell that the answer was truncated; the rest are read one by one and
 * dropped, never held. 0 (keep all, no single-row mode) when the statement
 * returns no rows or never more than that: a single-row INSERT or UPSERT
 * with RETURNING returns at most one, a BATCH_INSERT chunk one per row.
 */
static int stmt_row_limit(const dbev_operation_t *op, const dbev_sql_query_t *q)
{
    bool rows = op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE ||
                (op->returning && json_array_size(op->returning) > 0);
    if (!rows)
        return 0;
    int64_t max_rows = op->max_rows > 0 ? op->max_rows : DBEV_DEFAULT_MAX_ROWS;
    int64_t keep = max_rows < INT32_MAX - 1 ? max_rows + 1 : INT32_MAX;
    int64_t most = op->type == DBEV_OP_INSERT || op->type == DBEV_OP_UPSERT ? 1
                   : op->type == DBEV_OP_BATCH_INSERT                       ? q->nrows
                                                                            : -1;
    return most >= 0 && most < keep ? 0 : (int)keep;
}

static int build_job(adapter_exec_t *ex, job_t *job, char *errstr, size_t size)
{
    const dbev_operation_t *op = &job->req->op;
    if (op->type != DBEV_OP_TRANSACTION) {
        if (build_one(ex, job, op, errstr, size))
            return -1;
    } else {
        job->op_first = calloc(op->n_ops + 1, sizeof(size_t));
        if (!job->op_first)
            return dbev_seterr(errstr, size, "out of memory");
        for (size_t k = 0; k < op->n_ops; k++) {
            char sub_err[400];
            job->op_first[k] = job->nq;
            if (build_one(ex, job, &op->ops[k], sub_err, sizeof(sub_err)))
                return dbev_seterr(errstr, size, "operations[%zu]: %s", k, sub_err);
        }
        job->op_first[op->n_ops] = job->nq;
    }
    job->row_limit = calloc(job->nq ? job->nq : 1, sizeof(*job->row_limit));
    if (!job->row_limit)
        return dbev_seterr(errstr, size, "out of memory");
    for (size_t k = 0, o = 0; k < job->nq; k++) {
        const dbev_operation_t *sub = op;
        if (op->type == DBEV_OP_TRANSACTION) {
            while (o + 1 < op->n_ops && job->op_first[o + 1] <= k)
                o++;
            sub = &op->ops[o];
        }
        job->row_limit[k] = stmt_row_limit(sub, &job->qs[k]);
    }
    return 0;
}

/* ---- results to payloads ------------------------------------------------- */

/*
 * An upper bound of the encoded size of the first nrows rows of res, known
 * without encoding them: JSON escapes a byte into at most 6 (\u00XX), and a
 * number re-encoded from a json column grows at most to %.17g's 24
 * characters; each value also pays its column name, quotes and separators.
 */
static size_t rows_bound(const PGresult *res, int nrows)
{
    int ncols = PQnfields(res);
    size_t per_row = 2, bound = 2;
    for (int c = 0; c < ncols; c++)
        per_row += 6 * strlen(PQfname(res, c)) + 8;
    for (int r = 0; r < nrows; r++) {
        bound += per_row;
        for (int c = 0; c < ncols; c++)
            bound += 8 * (size_t)PQgetlength(res, r, c) + 24;
    }
    return bound;
}

/* What a payload holds besides its rows (operation, counts, metadata). */
#define PAYLOAD_SKELETON_BOUND 1024
/* run_step stops keeping a statement's rows once their text is over this
 * many times response.max.bytes: their JSON cannot fit then (it is at
 * least the text, except where re-encoding drops padding: jsonb's spaces, a
 * numeric's trailing zeros; eight times covers all but the absurd). */
#define HELD_BYTES_FACTOR 8

/* The completed payload of one operation from the results of its statements
 * (tuples: each statement's own row count, which a result read row by row
 * does not carry). *bound grows by an upper bound of its encoded size. */
static json_t *op_payload(adapter_exec_t *ex, const dbev_operation_t *op, PGresult *const *res,
                          const int64_t *tuples, size_t nres, double ms, size_t *bound)
{
    json_t *rows = json_array();
    json_t *meta = json_object();
    int64_t row_count = 0;
    bool truncated = false;
    int64_t max_rows = op->max_rows > 0 ? op->max_rows : DBEV_DEFAULT_MAX_ROWS;
    *bound += PAYLOAD_SKELETON_BOUND;
    for (size_t i = 0; i < nres; i++) {
        if (PQresultStatus(res[i]) == PGRES_TUPLES_OK && PQnfields(res[i]) > 0) {
            int64_t room = max_rows - (int64_t)json_array_size(rows);
            if (room <= 0) {
                truncated = truncated || PQntuples(res[i]) > 0;
            } else {
                bool t = false;
                json_t *part = dbev_sql_rows_to_json(res[i], room, &t);
                *bound += rows_bound(res[i], (int)json_array_size(part));
                json_array_extend(rows, part);
                json_decref(part);
                truncated = truncated || t;
            }
        }
        if (op->type != DBEV_OP_SELECT)
            row_count += tuples[i];
    }
    if (op->type == DBEV_OP_SELECT)
        row_count = (int64_t)json_array_size(rows);
    if (op->type == DBEV_OP_BATCH_INSERT) {
        int64_t total = (int64_t)json_array_size(op->rows);
        json_object_set_new(meta, "skipped",
                            json_integer(total > row_count ? total - row_count : 0));
    }
    return dbev_completed_payload_new(op->type, rows, row_count, ms, breaker_state(ex->breaker),
                                      false, truncated, meta);
}

/* The whole job's payload; res[] and tuples[] have one entry per statement.
 * *bound: an upper bound of its encoded size (see too_large()). */
static json_t *job_payload(adapter_exec_t *ex, job_t *job, PGresult *const *res,
                           const int64_t *tuples, size_t *bound)
{
    const dbev_operation_t *op = &job->req->op;
    double ms = elapsed_ms(job);
    *bound = 0;
    if (op->type != DBEV_OP_TRANSACTION)
        return op_payload(ex, op, res, tuples, job->nq, ms, bound);
    json_t *results = json_array();
    for (size_t k = 0; k < op->n_ops; k++) {
        size_t a = job->op_first[k], b = job->op_first[k + 1];
        json_array_append_new(results,
                              op_payload(ex, &op->ops[k], res + a, tuples + a, b - a, ms, bound));
    }
    *bound += PAYLOAD_SKELETON_BOUND;
    json_t *p = dbev_completed_payload_new(op->type, json_array(), (int64_t)op->n_ops, ms,
                                           breaker_state(ex->breaker), false, false, NULL);
    json_object_set_new(p, "results", results);
    return p;
}

/*
 * Whether a payload is larger than response.max.bytes once encoded (as
 * dbev_envelope_dumps writes it: JSON_COMPACT). Only when the bound is over
 * the limit is the payload measured, by a counting pass that stores
 * nothing: ordinary answers are never encoded twice (once here, once for
 * the wire). *size: the exact size when measured.
 */
static bool too_large(const adapter_exec_t *ex, const json_t *payload, size_t bound,
                      const bool *overflow, size_t nstmts, size_t *size)
{
    int64_t limit = ex->conf.response_max_bytes;
    *size = 0;
    for (size_t k = 0; k < nstmts; k++)
        if (overflow[k])
            return true; /* *size 0: not measured, its rows were not all kept */
    if (limit <= 0 || !payload || bound <= (size_t)limit)
        return false;
    *size = json_dumpb(payload, NULL, 0, JSON_COMPACT);
    return *size > (size_t)limit;
}

/*
 * Answers a job whose answer would not fit the transport: VALIDATION_ERROR
 * "ResponseTooLarge", saying how to ask for less. The caller has rolled its
 * transaction back. A caller's choice, not the database's failure: the
 * breaker does not count it.
 */
static void answer_too_large(adapter_exec_t *ex, job_t *job, size_t size)
{
    const dbev_operation_t *op = &job->req->op;
    char msg[600];
    char what[64];
    if (size)
        snprintf(what, sizeof(what), "%zu bytes", size);
    else /* not built: its rows alone were over HELD_BYTES_FACTOR times the limit */
        snprintf(what, sizeof(what), "over %" PRId64 " bytes",
                 ex->conf.response_max_bytes * HELD_BYTES_FACTOR);
    snprintf(msg, sizeof(msg),
             "the answer would be %s, more than the adapter's response.max.bytes (%" PRId64
             ")%s; ask for less: a smaller options.max_rows, fewer or narrower returning "
             "columns, or page with LIMIT/OFFSET",
             what, ex->conf.response_max_bytes,
             op->type == DBEV_OP_SELECT ? "" : ": rolled back, nothing was written");
    dberr_t e;
    err_set(&e, DBEV_ERR_VALIDATION_ERROR, "ResponseTooLarge", NULL, "", msg);
    json_t *meta = json_object();
    if (size)
        json_object_set_new(meta, "response_bytes", json_integer((json_int_t)size));
    json_object_set_new(meta, "response_max_bytes", json_integer(ex->conf.response_max_bytes));
    answer_fail_ex(ex, job, &e, meta, false);
}

/* ---- pipelined transactions ---------------------------------------------- */

/* Ends whatever transaction the connection is in. -1 when it is still in one
 * afterwards (the connection failed): the caller must not use it further. */
static int rollback(pool_conn_t *pc, int64_t deadline)
{
    if (PQtransactionStatus(pc->conn) == PQTRANS_IDLE)
        return 0;
    char err[512];
    PQclear(pool_exec(pc->conn, "ROLLBACK", 0, NULL, deadline, err, sizeof(err)));
    return PQtransactionStatus(pc->conn) == PQTRANS_IDLE ? 0 : -1;
}

/* What one pipelined step sends, in order. */
typedef struct step {
    bool begin, read_only;
    /* NULL: none. A single write's claim (after BEGIN), or a group's record
     * INSERT (in its commit step, before COMMIT). */
    const char *claim_sql;
    int claim_nparams;
    const char *const *claim_values;
    job_t *jobs; /* statements of these jobs */
    size_t njobs;
    /* a single write's commit step: its response to record, a primary-key
     * UPDATE of its claim */
    const char *const *store_ids;
    const char *const *store_fps;
    char *const *store_texts;
    size_t nstore;
    bool commit;
} step_t;

/* Outcome of a step. */
typedef struct step_result {
    int status;       /* 0 ok, 1 SQL error (transaction aborted), -1 connection failed */
    long fail_job;    /* index in jobs of the failing statement's job; -1: not a job's */
    size_t fail_stmt; /* statement index within that job */
    bool fail_claim;  /* the claim or record INSERT failed (a duplicate in flight) */
    dberr_t err;
    PGresult **res;  /* per statement of all jobs, in order (owned; NULL when not kept) */
    int64_t *tuples; /* per statement: its row count (PQcmdTuples), also of rows not kept */
    bool *overflow;  /* per statement: its rows outgrew HELD_BYTES_FACTOR x response.max.bytes */
    size_t nres;
} step_result_t;

static void step_result_clear(step_result_t *sr)
{
    for (size_t i = 0; i < sr->nres; i++)
        PQclear(sr->res[i]);
    free(sr->res);
    free(sr->tuples);
    free(sr->overflow);
    sr->res = NULL;
    sr->tuples = NULL;
    sr->overflow = NULL;
    sr->nres = 0;
}

/* Kinds of things sent, to read their results back in order. */
enum { SENT_BEGIN, SENT_SET, SENT_CLAIM, SENT_STMT, SENT_STORE, SENT_COMMIT };

typedef struct sent {
    int kind;
    long job;
    size_t stmt;
    size_t res_index;
} sent_t;

static bool send_stmt(pool_conn_t *pc, const dbev_sql_query_t *q)
{
    const char *name = pool_stmt_lookup(pc, q->sql);
    if (name)
        return PQsendQueryPrepared(pc->conn, name, q->nparams, (const char *const *)q->values, NULL,
                                   NULL, 0);
    return PQsendQueryParams(pc->conn, q->sql, q->nparams, NULL, (const char *const *)q->values,
                             NULL, NULL, 0);
}

static int run_step(adapter_exec_t *ex, pool_conn_t *pc, const step_t *st, int64_t deadline,
                    step_result_t *sr)
{
    char err[512];
    size_t total = 0, nsent = 0;
    memset(sr, 0, sizeof(*sr));
    sr->fail_job = -1;
    for (size_t j = 0; j < st->njobs; j++)
        total += st->jobs[j].nq;
    sent_t *sent = calloc(total * 2 + st->nstore + 8, sizeof(*sent));
    sr->res = calloc(total + 1, sizeof(PGresult *));
    sr->tuples = calloc(total + 1, sizeof(*sr->tuples));
    sr->overflow = calloc(total + 1, sizeof(*sr->overflow));
    if (!sent || !sr->res || !sr->tuples || !sr->overflow) {
        free(sent);
        err_set(&sr->err, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", NULL, "",
                "out of memory");
        /* a commit step finds its transaction open: nothing of it may commit later */
        sr->status = rollback(pc, deadline) ? -1 : 1;
        return sr->status;
    }
    sr->nres = total;

    /* Prepared statements for shapes that repeat (single-row writes mostly). */
    if (total > 1) {
        const char **sqls = calloc(total, sizeof(*sqls));
        size_t n = 0;
        for (size_t j = 0; sqls && j < st->njobs; j++)
            for (size_t k = 0; k < st->jobs[j].nq; k++)
                if (st->jobs[j].qs[k].nrows <= 1)
                    sqls[n++] = st->jobs[j].qs[k].sql;
        if (sqls && n > 0 && pool_stmt_prepare(pc, sqls, n, deadline, err, sizeof(err))) {
            free(sqls);
            free(sent);
            err_conn(&sr->err, err);
            sr->status = -1;
            return -1;
        }
        free(sqls);
    }

    if (!PQenterPipelineMode(pc->conn))
        goto send_failed;
    if (st->begin) {
        if (!PQsendQueryParams(pc->conn, st->read_only ? "BEGIN TRANSACTION READ ONLY" : "BEGIN", 0,
                               NULL, NULL, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_BEGIN};
    }
    /* Statement timeouts: SET LOCAL whenever the next job's differs (0: the
     * server's default). A single write's is set before its claim, which
     * may wait on a concurrent duplicate. */
    int64_t current_timeout = 0;
    if (st->begin && st->claim_sql && st->njobs > 0 && st->jobs[0].timeout_ms > 0) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %" PRId64,
                 st->jobs[0].timeout_ms);
        if (!PQsendQueryParams(pc->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_SET};
        current_timeout = st->jobs[0].timeout_ms;
    }
    if (st->claim_sql) {
        if (!PQsendQueryParams(pc->conn, st->claim_sql, st->claim_nparams, NULL, st->claim_values,
                               NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_CLAIM};
    }
    size_t ri = 0;
    for (size_t j = 0; j < st->njobs; j++) {
        job_t *job = &st->jobs[j];
        int64_t want = job->timeout_ms > 0 ? job->timeout_ms : 0;
        if (want != current_timeout && st->begin) {
            char sql[64];
            if (want > 0)
                snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %" PRId64, want);
            else
                snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout TO DEFAULT");
            if (!PQsendQueryParams(pc->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
                goto send_failed;
            sent[nsent++] = (sent_t){.kind = SENT_SET};
            current_timeout = want;
        }
        for (size_t k = 0; k < job->nq; k++) {
            if (!send_stmt(pc, &job->qs[k]))
                goto send_failed;
            sent[nsent++] =
                (sent_t){.kind = SENT_STMT, .job = (long)j, .stmt = k, .res_index = ri++};
        }
    }
    for (size_t k = 0; k < st->nstore; k++) {
        const char *values[3] = {st->store_ids[k], st->store_fps[k], st->store_texts[k]};
        if (!PQsendQueryParams(pc->conn, DEDUPE_STORE_SQL, 3, NULL, values, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_STORE};
    }
    if (st->commit) {
        if (!PQsendQueryParams(pc->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_COMMIT};
    }
    if (!PQpipelineSync(pc->conn))
        goto send_failed;

    for (size_t i = 0; i < nsent; i++) {
        PGresult *res, *last = NULL, *acc = NULL;
        /* Rows come one by one and at most the statement's row_limit are
         * kept, so a huge result never sits in memory (max_rows is enforced
         * here, for every operation that returns rows). */
        const job_t *sj = sent[i].kind == SENT_STMT ? &st->jobs[sent[i].job] : NULL;
        int row_limit = sj && sj->row_limit ? sj->row_limit[sent[i].stmt] : 0;
        bool single = row_limit > 0 && PQsetSingleRowMode(pc->conn);
        int kept = 0;
        /* Nor do its bytes, past what could still make an answer. */
        size_t held = 0, held_max = ex->conf.response_max_bytes > 0
                                        ? (size_t)ex->conf.response_max_bytes * HELD_BYTES_FACTOR
                                        : SIZE_MAX;
        bool overflow = false;
        for (;;) {
            if (pool_get_result(pc->conn, deadline, &res, err, sizeof(err))) {
                PQclear(last);
                PQclear(acc);
                goto io_failed;
            }
            if (!res)
                break;
            if (single && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
                if (!acc)
                    acc = PQcopyResult(res, PG_COPYRES_ATTRS);
                size_t bytes = 0;
                for (int c = 0; c < PQnfields(res); c++)
                    bytes += (size_t)PQgetlength(res, 0, c);
                if (held + bytes > held_max)
                    overflow = true;
                if (acc && kept < row_limit && !overflow) {
                    for (int c = 0; c < PQnfields(res); c++)
                        PQsetvalue(acc, kept, c, PQgetvalue(res, 0, c),
                                   PQgetisnull(res, 0, c) ? -1 : PQgetlength(res, 0, c));
                    kept++;
                    held += bytes;
                }
                PQclear(res);
                continue;
            }
            PQclear(last);
            last = res;
        }
        if (sent[i].kind == SENT_STMT && last) {
            sr->tuples[sent[i].res_index] = strtoll(PQcmdTuples(last), NULL, 10);
            sr->overflow[sent[i].res_index] = overflow;
        }
        if (acc && last && PQresultStatus(last) == PGRES_TUPLES_OK) {
            PQclear(last);
            last = acc;
        } else {
            PQclear(acc);
        }
        ExecStatusType s = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
        bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
        if (!ok && s != PGRES_PIPELINE_ABORTED && sr->status == 0) {
            err_from_result(pc->conn, last, &sr->err);
            sr->status = sr->err.conn ? -1 : 1;
            if (sent[i].kind == SENT_STMT) {
                sr->fail_job = sent[i].job;
                sr->fail_stmt = sent[i].stmt;
                const char *state = PQresultErrorField(last, PG_DIAG_SQLSTATE);
                if (state && strcmp(state, "0A000") == 0)
                    pc->reset_stmts = true; /* cached plan must not change result type */
                if (state && strncmp(state, "42", 2) == 0)
                    json_object_clear(ex->coltypes); /* the schema may have changed */
            }
            if (sent[i].kind == SENT_CLAIM)
                sr->fail_claim = true;
        }
        if (sent[i].kind == SENT_STMT && ok) {
            sr->res[sent[i].res_index] = last;
            last = NULL;
        }
        PQclear(last);
        if (sr->status < 0 && PQstatus(pc->conn) != CONNECTION_OK)
            goto io_failed_noerr;
    }
    {
        PGresult *res;
        if (pool_get_result(pc->conn, deadline, &res, err, sizeof(err)))
            goto io_failed;
        bool synced = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (!synced) {
            snprintf(err, sizeof(err), "pipeline out of step");
            goto io_failed;
        }
    }
    PQexitPipelineMode(pc->conn);
    free(sent);
    if (sr->status != 0 && rollback(pc, deadline)) {
        err_conn(&sr->err, PQerrorMessage(pc->conn));
        sr->status = -1;
    }
    return sr->status;

send_failed:
    snprintf(err, sizeof(err), "cannot send to PostgreSQL: %s", PQerrorMessage(pc->conn));
io_failed:
    err_conn(&sr->err, err);
io_failed_noerr:
    sr->status = -1;
    free(sent);
    return -1;
}

/* ---- running requests ---------------------------------------------------- */

/*
 * Whether a job's answer is known before it runs: a plain INSERT (no
 * RETURNING) that succeeds always answers row_count 1 and no rows. Its
 * record holds no response document (NULL, see dedupe.h): alone, its claim
 * is its record; in a group, its row of the record INSERT stays small. That
 * is the throughput case.
 */
static bool predictable(const job_t *job)
{
    return job->req->op.type == DBEV_OP_INSERT && !job->req->op.returning;
}

/* A predictable job's record holds no response only when it did answer one
 * row (a trigger may have skipped it: then the real answer is stored). */
static bool row_count_is_one(const json_t *payload)
{
    return json_integer_value(json_object_get(payload, "row_count")) == 1;
}

static bool has_event_id(const job_t *job)
{
    return job->req->event_id && job->req->event_id[0];
}

/* Whether this job's event id and response are recorded (dedupe.h). */
static bool dedupes(const adapter_exec_t *ex, const job_t *job)
{
    return ex->table_ready && has_event_id(job) && dbev_op_is_write(job->req->op.type);
}

/* A failure that rolled the whole transaction back for reasons of timing
 * (deadlock victim, serialization failure): running it again is safe. */
static bool retriable_sqlstate(const char *sqlstate)
{
    return dbev_sql_sqlstate_class(sqlstate, false) == DBEV_SQL_FAULT_TRANSIENT;
}

/*
 * Runs one job in its own transaction. Returns 0 when answered, -1 when the
 * connection failed before an answer could be had (the caller may retry),
 * 2 when it lost a deadlock or a serialization conflict and nothing of it
 * committed (unanswered; the caller runs it again).
 */
static int try_single_once(adapter_exec_t *ex, pool_conn_t *pc, job_t *job, bool last_try)
{
    const dbev_operation_t *op = &job->req->op;
    bool write = dbev_op_is_write(op->type) && has_event_id(job) && ex->table_ready;
    int64_t deadline = io_deadline(job->timeout_ms);
    if (job->out->payload)
        return 0; /* answered before a retry */
    char err[512];
    const char *ids[] = {job->req->event_id};
    const char *fps[] = {job->fp};
    if (write) {
        bool cf;
        json_t *found = dedupe_lookup(pc->conn, ids, fps, 1, deadline, &cf, err, sizeof(err));
        if (!found && cf)
            return -1;
        json_t *stored = json_array_get(found, 0);
        if (dedupe_is_recorded(stored)) {
            answer_cached(ex, job, stored);
            json_decref(found);
            return 0;
        }
        json_decref(found);
    }
    const char *claim[4] = {job->req->event_id, job->req->correlation_id, dbev_op_name(op->type),
                            job->fp};
    step_t st = {.begin = true,
                 .read_only = op->type == DBEV_OP_SELECT,
                 .claim_sql = write ? DEDUPE_CLAIM_SQL : NULL,
                 .claim_nparams = 4,
                 .claim_values = claim,
                 .jobs = job,
                 .njobs = 1,
                 /* Only a SELECT commits at once: anything else may write, so
                  * its answer is measured before COMMIT (too_large()). */
                 .commit = op->type == DBEV_OP_SELECT && !write};
    step_result_t sr;
    int rc = run_step(ex, pc, &st, deadline, &sr);
    if (rc < 0) {
        step_result_clear(&sr);
        return -1;
    }
    if (rc > 0) {
        if (sr.fail_claim && strcmp(sr.err.sqlstate, "23505") == 0) {
            /* The same event is being (or was just) processed elsewhere. */
            step_result_clear(&sr);
            bool cf;
            json_t *found = dedupe_lookup(pc->conn, ids, fps, 1, deadline, &cf, err, sizeof(err));
            if (!found && cf)
                return -1;
            json_t *stored = json_array_get(found, 0);
            if (dedupe_is_recorded(stored)) {
                answer_cached(ex, job, stored);
            } else {
                dberr_t e;
                err_set(&e, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", "23505",
                        "event being processed concurrently, try again: ", job->req->event_id);
                answer_fail(ex, job, &e, NULL);
            }
            json_decref(found);
            return 0;
        }
        if (!last_try && retriable_sqlstate(sr.err.sqlstate)) {
            step_result_clear(&sr);
            return 2;
        }
        json_t *meta = NULL;
        if (op->type == DBEV_OP_TRANSACTION && sr.fail_job == 0) {
            size_t k = 0;
            while (k + 1 < op->n_ops && job->op_first[k + 1] <= sr.fail_stmt)
                k++;
            meta = json_object();
            json_object_set_new(meta, "failed_operation_index", json_integer((json_int_t)k));
        }
        answer_fail(ex, job, &sr.err, meta);
        step_result_clear(&sr);
        return 0;
    }
    size_t bound, size;
    json_t *payload = job_payload(ex, job, sr.res, sr.tuples, &bound);
    bool oversized = too_large(ex, payload, bound, sr.overflow, job->nq, &size);
    step_result_clear(&sr);
    if (oversized) {
        /* Never applied without being answered: roll back, answer that. */
        json_decref(payload);
        if (rollback(pc, deadline))
            return -1;
        answer_too_large(ex, job, size);
        return 0;
    }
    if (!st.commit) {
        char *text = !write || (predictable(job) && row_count_is_one(payload))
                         ? NULL
                         : json_dumps(payload, JSON_COMPACT);
        step_t commit = {.store_ids = ids,
                         .store_fps = fps,
                         .store_texts = &text,
                         .nstore = text ? 1 : 0,
                         .commit = true};
        rc = run_step(ex, pc, &commit, deadline, &sr);
        free(text);
        step_result_clear(&sr);
        if (rc < 0) {
            /* The commit may or may not have happened; the retry's lookup will tell. */
            json_decref(payload);
            return -1;
        }
        if (rc > 0) {
            json_decref(payload);
            if (!last_try && retriable_sqlstate(sr.err.sqlstate))
                return 2;
            answer_fail(ex, job, &sr.err, NULL);
            return 0;
        }
    }
    answer_ok(ex, job, payload);
    return 0;
}

/*
 * try_single_once, again when it lost a deadlock. A group records its event
 * ids after its statements while a single request claims first, so a single
 * redelivery and a group holding the same event can wait on each other's
 * rows; PostgreSQL aborts one of them. When the single one loses, its run
 * again starts with the lookup and finds the group's committed record
 * (answered from it) or runs anew (nothing of the first try committed).
 */
static int try_single(adapter_exec_t *ex, pool_conn_t *pc, job_t *job)
{
    int rc = try_single_once(ex, pc, job, false);
    return rc == 2 ? try_single_once(ex, pc, job, true) : rc;
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
static bool runs_caller_sql(const dbev_operation_t *op)
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
static int reset_session(adapter_exec_t *ex)
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
static pool_conn_t *get_clean_conn(adapter_exec_t *ex, bool fresh)
{
    pool_conn_t *pc = fresh ? get_fresh_conn(ex) : get_conn(ex);
    if (pc && pc->used && reset_session(ex))
        pc = get_fresh_conn(ex);
    return pc;
}

static void run_single(adapter_exec_t *ex, job_t *job)
{
    bool caller_sql = runs_caller_sql(&job->req->op);
    for (int attempt = 0; attempt < 2; attempt++) {
        pool_conn_t *pc = caller_sql     ? get_clean_conn(ex, attempt > 0)
                          : attempt == 0 ? get_conn(ex)
                                         : get_fresh_conn(ex);
        if (!pc)
            break;
        bool reused = pc->reused;
        pc->used = true;
        pc->dirty = pc->dirty || caller_sql;
        if (try_single(ex, pc, job) == 0) {
            if (caller_sql)
                reset_session(ex);
            return;
        }
        conn_lost(ex, PQerrorMessage(pc->conn));
        if (!reused)
            break;
    }
    dberr_t e;
    err_conn(&e, ex->conn_err[0] ? ex->conn_err : "cannot reach PostgreSQL");
    answer_fail(ex, job, &e, NULL);
}

/*
 * Runs jobs [0, n) as one transaction (or, after a failure, as the pieces
 * the split makes). Returns 0 when every job is answered, -1 when the
 * connection failed: jobs answered so far keep their answers (a piece that
 * committed), the others are left for the caller's retry on a fresh
 * connection, where the dedupe lookup finds any whose commit went through.
 */
static int try_group(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n);

static int run_group_split(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n, long f)
{
    /* Before the failing job, the failing job alone, the rest: order kept. */
    if (f > 0 && try_group(ex, pc, jobs, (size_t)f) < 0)
        return -1;
    if (try_single(ex, pc, &jobs[f]) < 0)
        return -1;
    if ((size_t)f + 1 < n && try_group(ex, pc, jobs + f + 1, n - (size_t)f - 1) < 0)
        return -1;
    return 0;
}

/*
 * Merging: consecutive plain INSERTs of a group with the same SQL (table and
 * columns) and timeout are sent as ONE multi-row INSERT, which costs the
 * server a fraction of as many single-row statements. Their answers are
 * known (row_count 1 each). The plan maps the statements sent ("send jobs")
 * back to the jobs they cover. When a merged statement fails, nobody knows
 * which row did: the group runs again unmerged, where every statement is one
 * job's and the split below finds the culprit.
 */
typedef struct plan {
    job_t *send; /* send jobs: originals, or synthetic ones holding a merged statement */
    size_t nsend;
    size_t *first;            /* first job covered by send job s */
    size_t *count;            /* jobs covered (1, or more when merged) */
    dbev_sql_query_t *merged; /* merged statements; their values are borrowed */
    size_t nmerged;
} plan_t;

static void plan_free(plan_t *pl)
{
    for (size_t i = 0; i < pl->nmerged; i++) {
        free(pl->merged[i].sql);
        free(pl->merged[i].values); /* the strings belong to the jobs */
    }
    free(pl->merged);
    free(pl->send);
    free(pl->first);
    free(pl->count);
    memset(pl, 0, sizeof(*pl));
}

static bool mergeable(const job_t *a, const job_t *b)
{
    return predictable(a) && predictable(b) && a->nq == 1 && b->nq == 1 &&
           a->timeout_ms == b->timeout_ms && strcmp(a->qs[0].sql, b->qs[0].sql) == 0;
}

/* One multi-row INSERT from jobs[0..k) (all mergeable with jobs[0]). */
static int merge_insert(const job_t *jobs, size_t k, dbev_sql_query_t *q)
{
    const char *sql = jobs[0].qs[0].sql;
    const char *values_kw = strstr(sql, " VALUES (");
    int per = jobs[0].qs[0].nparams;
    memset(q, 0, sizeof(*q));
    if (!values_kw)
        return -1;
    size_t head = (size_t)(values_kw - sql) + strlen(" VALUES ");
    size_t cap = head + k * ((size_t)per * 9 + 4) + 1;
    q->sql = malloc(cap);
    q->values = malloc(k * (size_t)per * sizeof(char *));
    if (!q->sql || !q->values) {
        free(q->sql);
        free(q->values);
        return -1;
    }
    memcpy(q->sql, sql, head);
    size_t len = head;
    int n = 0;
    for (size_t j = 0; j < k; j++) {
        q->sql[len++] = j ? ',' : '(';
        if (j)
            q->sql[len++] = '(';
        for (int c = 0; c < per; c++) {
            len += (size_t)snprintf(q->sql + len, cap - len, c ? ", $%d" : "$%d", n + 1);
            q->values[n++] = jobs[j].qs[0].values[c];
        }
        q->sql[len++] = ')';
    }
    q->sql[len] = '\0';
    q->nparams = n;
    q->cap = n;
    q->nrows = (int)k;
    return 0;
}

static int plan_build(job_t *jobs, size_t n, bool merge, plan_t *pl)
{
    memset(pl, 0, sizeof(*pl));
    pl->send = calloc(n, sizeof(*pl->send));
    pl->first = calloc(n, sizeof(size_t));
    pl->count = calloc(n, sizeof(size_t));
    pl->merged = calloc(n, sizeof(*pl->merged));
    if (!pl->send || !pl->first || !pl->count || !pl->merged) {
        plan_free(pl);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        if (merge && predictable(&jobs[i]) && jobs[i].nq == 1) {
            int per = jobs[i].qs[0].nparams > 0 ? jobs[i].qs[0].nparams : 1;
            size_t max_rows = (size_t)(DBEV_SQL_MAX_PARAMS / per);
            if (max_rows > DBEV_SQL_MAX_BATCH_ROWS)
                max_rows = DBEV_SQL_MAX_BATCH_ROWS;
            while (i + k < n && k < max_rows && mergeable(&jobs[i], &jobs[i + k]))
                k++;
        }
        size_t s = pl->nsend++;
        pl->first[s] = i;
        pl->count[s] = k;
        pl->send[s] = jobs[i];
        if (k > 1) {
            dbev_sql_query_t *q = &pl->merged[pl->nmerged];
            if (merge_insert(jobs + i, k, q) == 0) {
                pl->nmerged++;
                pl->send[s].qs = q;
                pl->send[s].nq = 1;
                pl->send[s].row_limit = NULL; /* plain INSERTs: no rows */
            } else {
                pl->count[s] = k = 1; /* out of memory: send it alone */
            }
        }
        i += k;
    }
    return 0;
}

/* Answers from their committed records the jobs of a group that have one
 * (already processed: a redelivery, or a duplicate committed meanwhile).
 * Returns how many were answered, -1 when the connection failed. */
static int answer_recorded(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n,
                           int64_t deadline)
{
    const char **ids = calloc(n, sizeof(*ids));
    const char **fps = calloc(n, sizeof(*fps));
    if (!ids || !fps) {
        free(ids);
        free(fps);
        return 0; /* out of memory: nothing answered; the record INSERT still guards */
    }
    size_t nids = 0;
    for (size_t i = 0; i < n; i++)
        if (dedupes(ex, &jobs[i])) {
            fps[nids] = jobs[i].fp;
            ids[nids++] = jobs[i].req->event_id;
        }
    int answered = 0;
    if (nids > 0) {
        bool cf;
        char err[512];
        json_t *found = dedupe_lookup(pc->conn, ids, fps, nids, deadline, &cf, err, sizeof(err));
        if (!found && cf)
            answered = -1;
        /* answers in the order asked: the k-th job that dedupes is the k-th */
        for (size_t i = 0, k = 0; found && i < n; i++) {
            if (!dedupes(ex, &jobs[i]))
                continue;
            json_t *stored = json_array_get(found, k++);
            if (dedupe_is_recorded(stored)) {
                answer_cached(ex, &jobs[i], stored);
                answered++;
            }
        }
        json_decref(found);
    }
    free(ids);
    free(fps);
    return answered;
}

/*
 * The five parameters of DEDUPE_RECORD_MANY_SQL for the jobs of a group that
 * dedupe: text[] literals of event ids, correlation ids, operations and
 * fingerprints, and
 * ONE JSON array of the responses, each dumped straight into it (null for a
 * plain INSERT that answered its one row: dedupe_lookup rebuilds that
 * answer). A jsonb[] literal would quote every response again. Returns 1
 * when built, 0 when no job dedupes, -1 when out of memory.
 */
#define RECORD_NPARAMS 5
static int record_texts(const adapter_exec_t *ex, const job_t *jobs, json_t *const *payloads,
                        size_t n, char *texts[RECORD_NPARAMS])
{
    const char **cols[4] = {calloc(n, sizeof(char *)), calloc(n, sizeof(char *)),
                            calloc(n, sizeof(char *)), calloc(n, sizeof(char *))};
    const json_t **responses = calloc(n, sizeof(*responses));
    bool oom = !cols[0] || !cols[1] || !cols[2] || !cols[3] || !responses;
    size_t k = 0;
    for (size_t i = 0; i < n && !oom; i++) {
        if (!dedupes(ex, &jobs[i]))
            continue;
        const dbev_request_t *req = jobs[i].req;
        cols[0][k] = req->event_id;
        cols[1][k] = req->correlation_id;
        cols[2][k] = dbev_op_name(req->op.type);
        cols[3][k] = jobs[i].fp;
        bool plain = predictable(&jobs[i]) && row_count_is_one(payloads[i]);
        responses[k++] = plain ? NULL : payloads[i];
    }
    for (int c = 0; c < RECORD_NPARAMS; c++) {
        texts[c] = NULL;
        if (!oom && k) {
            bool failed;
            texts[c] = c < 4 ? dbev_sql_text_array(cols[c], k, &failed)
                             : dbev_sql_json_array(responses, k, &failed);
            oom = failed;
        }
    }
    for (int c = 0; c < 4; c++)
        free(cols[c]);
    free(responses);
    if (oom || !k) {
        for (int c = 0; c < RECORD_NPARAMS; c++) {
            free(texts[c]);
            texts[c] = NULL;
        }
        return oom ? -1 : 0;
    }
    return 1;
}

static int try_group_ex(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n, bool merge);

static int try_group(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n)
{
    return try_group_ex(ex, pc, jobs, n, true);
}

static int try_group_ex(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n, bool merge)
{
    size_t pending = 0;
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].out->payload)
            pending++;
    if (pending < n) {
        /* Some are answered (refused, cached, or before a retry): run the
         * rest, compacted into a temporary array (job_t is small). */
        if (pending == 0)
            return 0;
        job_t *rest = calloc(pending, sizeof(*rest));
        if (!rest)
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!jobs[i].out->payload)
                rest[k++] = jobs[i];
        int rc = try_group_ex(ex, pc, rest, pending, merge);
        free(rest);
        return rc;
    }
    if (n == 1)
        return try_single(ex, pc, jobs);
    int64_t max_timeout = 0;
    for (size_t i = 0; i < n; i++)
        max_timeout += jobs[i].timeout_ms;
    int64_t deadline = io_deadline(max_timeout);
    /* No lookup of processed events first: redeliveries are rare, and the
     * record INSERT's primary key is what decides anyway. A redelivered
     * event fails the group, at the record or earlier at a unique key of its
     * own write, and the failure paths below look the group up before
     * anything else. */
    plan_t pl;
    if (plan_build(jobs, n, merge, &pl))
        return -1;
    step_t st = {.begin = true, .jobs = pl.send, .njobs = pl.nsend};
    step_result_t sr;
    int rc = run_step(ex, pc, &st, deadline, &sr);
    if (rc < 0) {
        step_result_clear(&sr);
        plan_free(&pl);
        return -1;
    }
    if (rc > 0) {
        long f = sr.fail_job;
        bool merged_failed = f >= 0 && pl.count[f] > 1;
        if (f >= 0)
            f = (long)pl.first[f];
        step_result_clear(&sr);
        plan_free(&pl);
        if (merged_failed)
            return try_group_ex(ex, pc, jobs, n, false);
        /* A redelivered write (its row exists: a unique violation) is answered
         * from its record; the rest runs again, so this ends. */
        int answered = answer_recorded(ex, pc, jobs, n, deadline);
        if (answered < 0)
            return -1;
        if (answered > 0)
            return try_group_ex(ex, pc, jobs, n, merge);
        if (f < 0) {
            /* BEGIN or a SET failed (or memory ran out): each alone sorts it out. */
            for (size_t i = 0; i < n; i++)
                if (try_single(ex, pc, &jobs[i]) < 0)
                    return -1;
            return 0;
        }
        return run_group_split(ex, pc, jobs, n, f);
    }
    /* A merged INSERT that did not insert one row per job (a trigger that
     * skips rows, say): nobody knows whose row is missing, so run unmerged. */
    for (size_t s = 0, base = 0; s < pl.nsend; s++) {
        if (pl.count[s] > 1 &&
            strtoll(PQcmdTuples(sr.res[base]), NULL, 10) != (long long)pl.count[s]) {
            step_result_clear(&sr);
            plan_free(&pl);
            if (rollback(pc, deadline))
                return -1;
            return try_group_ex(ex, pc, jobs, n, false);
        }
        base += pl.count[s] > 1 ? 1 : pl.send[s].nq;
    }
    /* Every statement succeeded: build the answers. */
    json_t **payloads = calloc(n, sizeof(*payloads));
    if (!payloads) {
        step_result_clear(&sr);
        plan_free(&pl);
        rollback(pc, deadline);
        return -1; /* out of memory: nothing committed; handled as a failed connection */
    }
    size_t base = 0;
    long too_big = -1; /* the first job whose answer is over response.max.bytes */
    size_t too_big_size = 0;
    for (size_t s = 0; s < pl.nsend; s++) {
        size_t i = pl.first[s];
        if (pl.count[s] > 1) {
            /* Merged plain INSERTs: one row each, as predicted. */
            for (size_t k = 0; k < pl.count[s]; k++)
                payloads[i + k] = dbev_completed_payload_new(
                    DBEV_OP_INSERT, json_array(), 1, elapsed_ms(&jobs[i + k]),
                    breaker_state(ex->breaker), false, false, NULL);
            base += 1;
            continue;
        }
        size_t bound, size;
        payloads[i] = job_payload(ex, &jobs[i], sr.res + base, sr.tuples + base, &bound);
        if (too_big < 0 &&
            too_large(ex, payloads[i], bound, sr.overflow + base, jobs[i].nq, &size)) {
            too_big = (long)i;
            too_big_size = size;
        }
        base += jobs[i].nq;
    }
    step_result_clear(&sr);
    plan_free(&pl);
    if (too_big >= 0) {
        /* Roll back and split around it, as around a failing statement: it
         * is answered (nothing of it written), its neighbours run again. */
        for (size_t i = 0; i < n; i++)
            json_decref(payloads[i]);
        free(payloads);
        if (rollback(pc, deadline))
            return -1;
        answer_too_large(ex, &jobs[too_big], too_big_size);
        return run_group_split(ex, pc, jobs, n, too_big);
    }
    /* Record every event id with its answer in one statement, then commit. */
    char *record[RECORD_NPARAMS] = {NULL};
    int any_record = record_texts(ex, jobs, payloads, n, record);
    if (any_record < 0) {
        /* Committing unrecorded writes would let a redelivery apply them twice. */
        for (size_t i = 0; i < n; i++)
            json_decref(payloads[i]);
        free(payloads);
        if (rollback(pc, deadline))
            return -1;
        for (size_t i = 0; i < n; i++)
            if (try_single(ex, pc, &jobs[i]) < 0)
                return -1;
        return 0;
    }
    step_t commit = {.claim_sql = any_record ? DEDUPE_RECORD_MANY_SQL : NULL,
                     .claim_nparams = RECORD_NPARAMS,
                     .claim_values = (const char *const *)record,
                     .commit = true};
    rc = run_step(ex, pc, &commit, deadline, &sr);
    for (int k = 0; k < RECORD_NPARAMS; k++)
        free(record[k]);
    step_result_clear(&sr);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            answer_ok(ex, &jobs[i], payloads[i]);
        free(payloads);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        json_decref(payloads[i]);
    free(payloads);
    if (rc < 0)
        return -1;
    /* The record conflicted (the same event in flight elsewhere, or twice in
     * this group) or COMMIT was refused (a deferred constraint): all of it is
     * rolled back. When another delivery committed some of these events
     * meanwhile (a redelivery during a rebalance), those are answered from
     * their records and the rest runs again as a group. Otherwise each
     * alone sorts it out. Every rerun follows at least one answer from a
     * record, so this ends. */
    int answered = answer_recorded(ex, pc, jobs, n, deadline);
    if (answered < 0)
        return -1;
    if (answered > 0)
        return try_group_ex(ex, pc, jobs, n, merge);
    for (size_t i = 0; i < n; i++)
        if (try_single(ex, pc, &jobs[i]) < 0)
            return -1;
    return 0;
}

static void run_group(adapter_exec_t *ex, job_t *jobs, size_t n)
{
    if (n == 0)
        return;
    for (int attempt = 0; attempt < 2; attempt++) {
        pool_conn_t *pc = attempt == 0 ? get_conn(ex) : get_fresh_conn(ex);
        if (!pc)
            break;
        bool reused = pc->reused;
        pc->used = true;
        if (try_group(ex, pc, jobs, n) == 0)
            return;
        conn_lost(ex, PQerrorMessage(pc->conn));
        if (!reused)
            break;
    }
    /* Connection failed: whatever is unanswered fails, one breaker count each. */
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].out->payload)
            continue;
        dberr_t e;
        err_conn(&e, ex->conn_err[0] ? ex->conn_err : "cannot reach PostgreSQL");
        answer_fail(ex, &jobs[i], &e, NULL);
    }
}

/* run_single() and run_group() with their requests' pool wait and database
 * time (adapter_outcome_t): two clock reads per single request or group. A
 * group's requests refused before it ran (answered already) get neither. */
static void timed_single(adapter_exec_t *ex, job_t *job)
{
    int64_t t0 = dbev_mono_us(), waited = ex->pool_wait_us;
    run_single(ex, job);
    waited = ex->pool_wait_us - waited;
    job->out->db_us = dbev_mono_us() - t0 - waited;
    job->out->pool_wait_us = ex->pool_wait_us;
}

static void timed_group(adapter_exec_t *ex, job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].out->payload)
            jobs[i].out->db_us = -1; /* runs in the group */
    int64_t t0 = dbev_mono_us(), waited = ex->pool_wait_us;
    run_group(ex, jobs, n);
    waited = ex->pool_wait_us - waited;
    int64_t db = dbev_mono_us() - t0 - waited;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].out->db_us < 0) {
            jobs[i].out->db_us = db;
            jobs[i].out->pool_wait_us = ex->pool_wait_us;
        }
}

/* ---- health -------------------------------------------------------------- */

/* The saturation threshold (health.saturation.pct; seed 004's
 * POSTGRES_POOL_EXHAUSTION_THRESHOLD, 80 by default). */
static double saturation_pct(const adapter_exec_t *ex)
{
    return ex->conf.saturation_pct > 0 ? ex->conf.saturation_pct : 80.0;
}

static const char *health_status(const adapter_exec_t *ex, const pool_stats_t *st,
                                 dbev_breaker_state_t b)
{
    if (b == DBEV_BREAKER_OPEN)
        return "UNHEALTHY";
    if (b == DBEV_BREAKER_HALF_OPEN)
        return "RECOVERING";
    if (st->utilization_pct >= saturation_pct(ex) || (st->size == 0 && st->connect_failures > 0))
        return "DEGRADED";
    return "HEALTHY";
}

json_t *adapter_exec_health(adapter_exec_t *ex)
{
    pool_stats_t st;
    char ts[DBEV_ISO8601_SIZE];
    pool_stats(ex->pool, &st);
    dbev_breaker_state_t b = breaker_state(ex->breaker);
    json_t *h = json_object();
    json_object_set_new(h, "status", json_string(health_status(ex, &st, b)));
    json_object_set_new(h, "pool_size", json_integer(st.size));
    json_object_set_new(h, "pool_free", json_integer(st.free));
    json_object_set_new(h, "pool_in_use", json_integer(st.in_use));
    json_object_set_new(h, "pool_min", json_integer(st.min));
    json_object_set_new(h, "pool_max", json_integer(st.max));
    json_object_set_new(h, "pool_utilization_pct", json_real(st.utilization_pct));
    json_object_set_new(h, "saturation_threshold_pct", json_real(saturation_pct(ex)));
    json_object_set_new(h, "total_queries", json_integer((json_int_t)st.queries));
    json_object_set_new(h, "failed_queries", json_integer((json_int_t)st.failures));
    json_object_set_new(h, "avg_query_time_ms", json_real(st.avg_query_ms));
    json_object_set_new(h, "connects", json_integer((json_int_t)st.connects));
    json_object_set_new(h, "connect_failures", json_integer((json_int_t)st.connect_failures));
    json_object_set_new(h, "recovery_attempts", json_integer((json_int_t)st.recovery_attempts));
    json_object_set_new(h, "connections_retired", json_integer((json_int_t)st.retired));
    json_object_set_new(h, "circuit_state", json_string(dbev_breaker_state_name(b)));
    json_object_set_new(h, "circuit_opened_count",
                        json_integer((json_int_t)breaker_open_count(ex->breaker)));
    json_object_set_new(h, "last_error",
                        st.last_error[0] ? json_string(st.last_error) : json_null());
    json_object_set_new(h, "last_error_time",
                        st.last_error_wall_us
                            ? json_string(dbev_iso8601(st.last_error_wall_us, ts, sizeof(ts)))
                            : json_null());
    json_object_set_new(h, "uptime_seconds",
                        json_real((double)(dbev_mono_us() - ex->started_us) / 1e6));
    return h;
}

static void run_health(adapter_exec_t *ex, job_t *job)
{
    json_t *h = adapter_exec_health(ex);
    json_t *reachable = json_null();
    if (breaker_state(ex->breaker) != DBEV_BREAKER_OPEN) {
        pool_conn_t *pc = get_conn(ex);
        char err[256];
        PGresult *res =
            pc ? pool_exec(pc->conn, "SELECT 1", 0, NULL, io_deadline(5000), err, sizeof(err))
               : NULL;
        bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (pc && !ok)
            conn_lost(ex, err);
        reachable = json_boolean(ok);
        /* A database the adapter cannot reach is UNHEALTHY whatever the
         * breaker says yet (it opens only after several failures). */
        if (!ok) {
            json_object_set_new(h, "status", json_string("UNHEALTHY"));
            if (!pc)
                json_object_set_new(
                    h, "last_error",
                    json_string(ex->conn_err[0] ? ex->conn_err : "cannot reach PostgreSQL"));
        }
    }
    json_object_set_new(h, "database_reachable", reachable);
    json_t *rows = json_array();
    json_array_append_new(rows, h);
    job->out->completed = true;
    job->out->payload = dbev_completed_payload_new(DBEV_OP_HEALTH, rows, 1, elapsed_ms(job),
                                                   breaker_state(ex->breaker), false, false, NULL);
}

/* ---- the batch ------------------------------------------------------------ */

static bool groupable(const dbev_operation_t *op)
{
    return op->type == DBEV_OP_INSERT || op->type == DBEV_OP_UPDATE || op->type == DBEV_OP_DELETE ||
           op->type == DBEV_OP_UPSERT || op->type == DBEV_OP_BATCH_INSERT;
}

/* Retention of the dedupe records, a bounded chunk at a time: every quarter
 * of the retention (at most a minute), or every second while a backlog lasts. */
#define RETENTION_CHUNK 20000

static void maybe_retention(adapter_exec_t *ex)
{
    if (ex->conf.dedupe_retention_ms <= 0 || !ex->table_ready)
        return;
    int64_t every_us = ex->conf.dedupe_retention_ms * 1000 / 4;
    if (every_us > 60 * 1000000LL)
        every_us = 60 * 1000000LL;
    if (ex->retention_backlog)
        every_us = 1000000;
    int64_t now = dbev_mono_us();
    if (ex->last_retention_us && now - ex->last_retention_us < every_us)
        return;
    ex->last_retention_us = now;
    pool_conn_t *pc = get_conn(ex);
    if (!pc)
        return;
    char err[256];
    int64_t n = dedupe_apply_retention(pc->conn, ex->conf.dedupe_retention_ms, RETENTION_CHUNK,
                                       io_deadline(30000), err, sizeof(err));
    ex->retention_backlog = n >= RETENTION_CHUNK;
    if (n < 0)
        dbev_logf(ex->logger, DBEV_LOG_WARN, NULL, "dedupe: %s", err);
    else if (n > 0)
        dbev_logf(ex->logger, DBEV_LOG_INFO, NULL,
                  "dedupe: retention removed %" PRId64 " processed-event records", n);
}

void adapter_exec_batch(adapter_exec_t *ex, dbev_request_t *const *reqs, size_t n,
                        adapter_outcome_t *out)
{
    job_t *jobs = calloc(n ? n : 1, sizeof(*jobs));
    size_t group_start = 0, group_len = 0;
    size_t group_params = 0;
    ex->conn_failed = false;
    ex->conn_err[0] = '\0';
    ex->pool_wait_us = 0;
    int64_t now_wall = dbev_wall_us();
    if (!jobs) {
        for (size_t i = 0; i < n; i++) {
            out[i].completed = false;
            out[i].payload = dbev_failed_payload_new(
                reqs[i]->op.type, DBEV_ERR_DATABASE_OPERATION_FAILED, "out of memory",
                "PostgresError", NULL, breaker_state(ex->breaker), NULL);
        }
        return;
    }
    if (!ex->primary && breaker_state(ex->breaker) == DBEV_BREAKER_CLOSED)
        maybe_retention(ex);

    for (size_t i = 0; i < n; i++) {
        job_t *job = &jobs[i];
        const dbev_operation_t *op = &reqs[i]->op;
        char err[600];
        job->req = reqs[i];
        job->out = &out[i];
        job->out->completed = false;
        job->out->payload = NULL;
        job->out->pool_wait_us = job->out->db_us = 0;
        job->t0_us = dbev_mono_us();
        job->timeout_ms = effective_timeout(ex, op);

        bool joins_group = groupable(op);
        if (!joins_group && group_len) {
            timed_group(ex, jobs + group_start, group_len);
            group_len = 0;
            group_params = 0;
        }
        if (op->type == DBEV_OP_HEALTH) {
            run_health(ex, job);
            continue;
        }
        if (job->timeout_ms > 0 && reqs[i]->has_timestamp &&
            now_wall > reqs[i]->timestamp_us + job->timeout_ms * 1000) {
            /* Say what expired and what to do: a copied example or a
             * replayed event carries its old timestamp (seed 002's are
             * from 2025), which is the usual cause. */
            char ts[DBEV_ISO8601_SIZE];
            snprintf(err, sizeof(err),
                     "deadline passed before execution, not executed: the request's timestamp "
                     "%s is %" PRId64 " ms old, older than its timeout_ms of %" PRId64
                     " ms (deadline = timestamp + timeout_ms). Stamp the envelope's timestamp "
                     "with the time of sending (UTC, ISO-8601), or raise options.timeout_ms",
                     dbev_iso8601(reqs[i]->timestamp_us, ts, sizeof(ts)),
                     (now_wall - reqs[i]->timestamp_us) / 1000, job->timeout_ms);
            answer_simple(ex, job, DBEV_ERR_TIMEOUT_ERROR, "TimeoutError", err);
            continue;
        }
        if (check_op(ex, op, err, sizeof(err))) {
            answer_simple(ex, job, DBEV_ERR_VALIDATION_ERROR, "ValidationError", err);
            continue;
        }
        if (!breaker_allow(ex->breaker)) {
            answer_simple(ex, job, DBEV_ERR_CIRCUIT_BREAKER_OPEN, "CircuitBreakerOpen",
                          "circuit breaker is open: PostgreSQL is failing; not executed");
            continue;
        }
        if (build_job(ex, job, err, sizeof(err))) {
            answer_simple(ex, job, DBEV_ERR_VALIDATION_ERROR, "ValidationError", err);
            continue;
        }
        if (has_event_id(job) && dbev_op_is_write(op->type) &&
            dedupe_fingerprint(reqs[i], job->fp)) {
            answer_simple(ex, job, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError",
                          "out of memory");
            continue;
        }
        if (!joins_group) {
            timed_single(ex, job);
            continue;
        }
        size_t params = 0;
        for (size_t k = 0; k < job->nq; k++)
            params += (size_t)job->qs[k].nparams;
        if (group_len &&
            (group_len >= GROUP_MAX_JOBS || group_params + params > GROUP_MAX_PARAMS)) {
            timed_group(ex, jobs + group_start, group_len);
            group_len = 0;
            group_params = 0;
        }
        /* The group is a slice of jobs; requests refused in between are
         * answered already and skipped by try_group(). */
        if (group_len == 0)
            group_start = i;
        group_len = i + 1 - group_start;
        group_params += params;
    }
    if (group_len)
        timed_group(ex, jobs + group_start, group_len);

    for (size_t i = 0; i < n; i++) {
        job_free_stmts(&jobs[i]);
        if (!out[i].payload) { /* never: every path answers; a last guard */
            out[i].completed = false;
            out[i].payload = dbev_failed_payload_new(
                reqs[i]->op.type, DBEV_ERR_DATABASE_OPERATION_FAILED, "request not answered",
                "PostgresError", NULL, breaker_state(ex->breaker), NULL);
        }
    }
    free(jobs);
    if (ex->pc)
        pool_release(ex->pool, ex->pc, false);
    ex->pc = NULL;
    /* Back to pool_min after failures, at most once a second, and never
     * while the breaker keeps requests away from the server. */
    int64_t now = dbev_mono_us();
    if (!ex->primary && breaker_state(ex->breaker) == DBEV_BREAKER_CLOSED &&
        now - ex->last_maintain_us > 1000000) {
        ex->last_maintain_us = now;
        pool_maintain(ex->pool);
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

adapter_exec_t *adapter_exec_new(const adapter_exec_conf_t *conf, char *errstr, size_t size)
{
    adapter_exec_t *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    ex->conf = *conf;
    ex->logger = conf->logger;
    ex->started_us = dbev_mono_us();
    ex->conninfo = strdup(conf->conninfo ? conf->conninfo : "");
    ex->coltypes = json_object();
    if (conf->table_allowlist) {
        size_t k = 0;
        while (conf->table_allowlist[k])
            k++;
        ex->allowlist = calloc(k + 1, sizeof(char *));
        for (size_t i = 0; ex->allowlist && i < k; i++)
            ex->allowlist[i] = strdup(conf->table_allowlist[i]);
    }
    ex->conf.conninfo = ex->conninfo;
    ex->conf.table_allowlist = NULL;
    breaker_conf_t bc = {.failure_threshold = conf->breaker_failure_threshold,
                         .recovery_ms = conf->breaker_recovery_ms,
                         .success_threshold = conf->breaker_success_threshold,
                         .logger = conf->logger};
    ex->breaker = breaker_new(&bc);
    pool_conf_t pcf = {.conninfo = ex->conninfo,
                       .min = conf->pool_min,
                       .max = conf->pool_max > 0 ? conf->pool_max : 20,
                       .max_age_ms = conf->max_conn_age_ms,
                       .max_queries = (uint64_t)conf->pool_max_queries,
                       .idle_timeout_ms = conf->pool_idle_timeout_ms,
                       .connect_timeout_ms = conf->pool_connect_timeout_ms,
                       .command_timeout_ms = conf->pool_command_timeout_ms,
                       .logger = conf->logger};
    ex->pool = pool_new(&pcf);
    if (!ex->conninfo || !ex->coltypes || !ex->breaker || !ex->pool ||
        (conf->table_allowlist && !ex->allowlist)) {
        adapter_exec_destroy(ex);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    /* Who we are and the bookkeeping, if the database is there now; else on
     * first use (get_conn). Either refusal stops the start: a superuser
     * adapter hands every caller the server, and writes without their
     * records could run twice. */
    char err[512];
    ex->pc = pool_acquire(ex->pool, err, sizeof(err));
    if (ex->pc) {
        PGconn *conn = ex->pc->conn;
        int rc = refuse_superuser(ex, conn, errstr, size);
        if (rc == 0 && conn_is_superuser(conn))
            dbev_logf(ex->logger, DBEV_LOG_WARN, NULL,
                      "connected to PostgreSQL as the superuser \"%s\" (pg.allow.superuser): "
                      "callers' SQL runs with every privilege; production adapters connect as "
                      "dbev_app",
                      PQuser(conn));
        if (rc == 0) {
            rc =
                dedupe_prepare(conn, conn_is_superuser(conn), io_deadline(30000), err, sizeof(err));
            if (rc)
                dbev_seterr(errstr, size, "%s", err);
        }
        pool_release(ex->pool, ex->pc, rc != 0);
        ex->pc = NULL;
        if (rc) {
            adapter_exec_destroy(ex);
            return NULL;
        }
        ex->table_ready = true;
    } else {
        dbev_logf(ex->logger, DBEV_LOG_WARN, NULL,
                  "PostgreSQL not reachable at start (%s); starting with an empty pool", err);
    }
    return ex;
}

adapter_exec_t *adapter_exec_new_lane(adapter_exec_t *primary, char *errstr, size_t size)
{
    adapter_exec_t *ex = calloc(1, sizeof(*ex));
    if (ex)
        ex->coltypes = json_object();
    if (!ex || !ex->coltypes) {
        free(ex);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    ex->primary = primary;
    ex->conf = primary->conf;
    ex->logger = primary->logger;
    ex->started_us = primary->started_us;
    ex->conninfo = primary->conninfo;
    ex->allowlist = primary->allowlist;
    ex->pool = primary->pool;
    ex->breaker = primary->breaker;
    /* When false (no server at start), get_conn() ensures it on first use. */
    ex->table_ready = primary->table_ready;
    return ex;
}

void adapter_exec_destroy(adapter_exec_t *ex)
{
    if (!ex)
        return;
    if (ex->primary) {
        if (ex->pc)
            pool_release(ex->pool, ex->pc, false);
        json_decref(ex->coltypes);
        free(ex);
        return;
    }
    pool_destroy(ex->pool);
    breaker_destroy(ex->breaker);
    json_decref(ex->coltypes);
    if (ex->allowlist) {
        for (size_t i = 0; ex->allowlist[i]; i++)
            free(ex->allowlist[i]);
        free(ex->allowlist);
    }
    free(ex->conninfo);
    free(ex);
}

dbev_breaker_state_t adapter_exec_breaker_state(adapter_exec_t *ex)
{
    return breaker_state(ex->breaker);
}
