/*
 * The direct path (see direct.h): an operation straight on PostgreSQL with
 * blocking libpq calls, as the services of seed 000 run them over asyncpg.
 *
 * A call goes in three stages, like the adapter's executor: the request is
 * turned into a dbev_operation_t (structured operations and TRANSACTION
 * through the protocol's decoder, so a request the event path refuses is
 * refused here with the same message; SELECT and EXECUTE taken as asyncpg
 * takes them, unscreened), the statements are built (dbev_sql_build(), or
 * dbev_sql_build_params() for SQL and its parameters: the adapter's
 * functions, dbev/sql_build.h), and only then is anything sent, so a
 * TRANSACTION with a bad third operation touches nothing. Results are
 * counted the way the adapter counts them (rows returned for SELECT, the
 * command's count otherwise, summed over the statements of a BATCH_INSERT)
 * and mapped to JSON by dbev_sql_rows_to_json().
 */
#include "parity/direct.h"

#include "dbev_common.h"

#include <dbev/sql_build.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failure in the making. */
typedef struct derr {
    dbev_err_t code;
    char sqlstate[6];
    char message[1024];
    long failed_index; /* TRANSACTION: the failing operation; -1: none */
} derr_t;

/* One call's state. */
typedef struct dcall {
    PGconn *conn;
    json_t *coltypes; /* {table: {column: true when array-typed}} of this call */
    derr_t err;
    bool oom;
} dcall_t;

/* One operation ready to run: its statements and how to count its rows. */
typedef struct dop {
    dbev_op_t type;
    dbev_sql_query_t *qs;
    size_t nq;
    bool simple;       /* EXECUTE without parameters: simple query protocol */
    int64_t max_rows;  /* explicit options.max_rows; 0: no cap */
    int64_t batch_len; /* BATCH_INSERT: rows asked for */
} dop_t;

/* Rows and counts of one operation, gathered over its statements. */
typedef struct acc {
    json_t *rows;
    int64_t row_count;
    bool truncated;
} acc_t;

/* ---- errors --------------------------------------------------------------- */

static void err_set(derr_t *e, dbev_err_t code, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void err_set(derr_t *e, dbev_err_t code, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate ? sqlstate : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    size_t n = strlen(e->message); /* libpq messages end with a newline */
    while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        e->message[--n] = '\0';
}

/* Classifies a failed statement: the protocol's codes by SQLSTATE class. */
static void err_from(PGconn *conn, const PGresult *res, derr_t *e)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = PQerrorMessage(conn);
    dbev_err_t code = DBEV_ERR_DATABASE_OPERATION_FAILED;
    if (state && strcmp(state, "57014") == 0)
        code = DBEV_ERR_TIMEOUT_ERROR;
    else if ((state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)) ||
             (!state && PQstatus(conn) != CONNECTION_OK))
        code = DBEV_ERR_DATABASE_CONNECTION_FAILED;
    err_set(e, code, state, "%s", msg && *msg ? msg : "no answer from the server");
}

/* ---- connection ----------------------------------------------------------- */

/* A broken connection is reset, as a pool would hand out a fresh one. */
static int conn_prepare(dcall_t *dc)
{
    if (!dc->conn) {
        err_set(&dc->err, DBEV_ERR_DATABASE_CONNECTION_FAILED, NULL, "no direct connection");
        return -1;
    }
    if (PQstatus(dc->conn) != CONNECTION_OK) {
        PQreset(dc->conn);
        if (PQstatus(dc->conn) != CONNECTION_OK) {
            err_set(&dc->err, DBEV_ERR_DATABASE_CONNECTION_FAILED, NULL, "%s",
                    PQerrorMessage(dc->conn));
            return -1;
        }
    }
    /* The session settings of the type mapping, as the adapter's pool sets them. */
    if (dbev_sql_session_ready(dc->conn))
        return 0;
    PGresult *res = PQexec(dc->conn, dbev_sql_session_settings_text());
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        err_from(dc->conn, res, &dc->err);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* A statement without parameters or rows (BEGIN, SET, COMMIT...). */
static int exec_cmd(dcall_t *dc, const char *sql)
{
    PGresult *res = PQexec(dc->conn, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        err_from(dc->conn, res, &dc->err);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* ---- building ------------------------------------------------------------- */

/*
 * Column kinds, cached per connection as the adapter caches them per pool
 * (and asyncpg its type introspection per connection): without the cache an
 * INSERT with an array value would cost one more round trip than the
 * statement itself. The key names the server session (host, port, backend
 * pid, database), so a reset connection starts afresh; only tables found are
 * cached, so a table created later is looked up again. Shared by every
 * thread, hence the lock; bounded, since dead sessions leave their entries.
 */
#define COLKIND_CACHE_MAX 4096
static pthread_mutex_t colkind_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *colkind_cache; /* {"host:port:pid:db:table": {column: is_array}} */

static void colkind_key(PGconn *conn, const char *table, char *key, size_t size)
{
    snprintf(key, size, "%s:%s:%d:%s:%s", PQhost(conn) ? PQhost(conn) : "",
             PQport(conn) ? PQport(conn) : "", PQbackendPID(conn), PQdb(conn) ? PQdb(conn) : "",
             table);
}

/* The cached kinds of table's columns (a new reference), or NULL. */
static json_t *colkind_cached(PGconn *conn, const char *table)
{
    char key[512];
    colkind_key(conn, table, key, sizeof(key));
    pthread_mutex_lock(&colkind_lock);
    json_t *cols = json_incref(json_object_get(colkind_cache, key));
    pthread_mutex_unlock(&colkind_lock);
    return cols;
}

static void colkind_store(PGconn *conn, const char *table, json_t *cols)
{
    char key[512];
    colkind_key(conn, table, key, sizeof(key));
    pthread_mutex_lock(&colkind_lock);
    if (!colkind_cache || json_object_size(colkind_cache) >= COLKIND_CACHE_MAX) {
        json_decref(colkind_cache);
        colkind_cache = json_object();
    }
    json_object_set(colkind_cache, key, cols);
    pthread_mutex_unlock(&colkind_lock);
}

/* Whether a column is array-typed: asked by dbev_sql_build() for array values. */
static dbev_sql_colkind_t colkind_cb(void *opaque, const char *table, const char *column)
{
    dcall_t *dc = opaque;
    json_t *cols = json_object_get(dc->coltypes, table);
    if (!cols && (cols = colkind_cached(dc->conn, table)) != NULL) {
        json_object_set_new(dc->coltypes, table, cols);
    } else if (!cols) {
        char quoted[160];
        dbev_sql_colkind_param(table, quoted, sizeof(quoted));
        const char *values[] = {quoted};
        PGresult *res =
            PQexecParams(dc->conn, dbev_sql_colkind_query(), 1, NULL, values, NULL, NULL, 0);
        cols = dbev_sql_colkinds(res);
        if (json_object_size(cols) > 0)
            colkind_store(dc->conn, table, cols);
        PQclear(res); /* a missing table: the statement itself will say so */
        json_object_set_new(dc->coltypes, table, cols);
    }
    return json_is_true(json_object_get(cols, column)) ? DBEV_SQL_COL_ARRAY : DBEV_SQL_COL_SCALAR;
}

/* Parameter types of sql (to tell array parameters from json ones), or -1
 * when the statement cannot be described (it will fail on its own):
 * dbev_sql_build_params() asks. */
static int describe_params(void *opaque, const char *sql, unsigned *types, int max)
{
    dcall_t *dc = opaque;
    if (!dc->conn)
        return -1;
    PGresult *res = PQprepare(dc->conn, "", sql, 0, NULL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
        return -1;
    res = PQdescribePrepared(dc->conn, "");
    int n = dbev_sql_param_types(res, types, max);
    PQclear(res);
    return n;
}

/* SELECT / EXECUTE: the SQL as given, its parameters as text. */
static int build_sql(dcall_t *dc, const dbev_operation_t *op, bool simple_ok, dop_t *d)
{
    size_t n = json_is_array(op->params) ? json_array_size(op->params) : 0;
    char errstr[128];
    bool no_memory = false;
    d->qs = calloc(1, sizeof(*d->qs));
    if (!d->qs)
        goto oom;
    d->nq = 1;
    d->simple = simple_ok && op->type == DBEV_OP_EXECUTE && n == 0;
    if (dbev_sql_build_params(op->sql, op->params, describe_params, dc, d->qs, &no_memory, errstr,
                              sizeof(errstr)) == 0)
        return 0;
    if (!no_memory) { /* too many parameters */
        err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL, "%s", errstr);
        return -1;
    }
oom:
    dc->oom = true;
    err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL, "out of memory");
    return -1;
}

static int build_op(dcall_t *dc, const dbev_operation_t *op, const json_t *payload, bool simple_ok,
                    dop_t *d)
{
    memset(d, 0, sizeof(*d));
    d->type = op->type;
    const json_t *max_rows = json_object_get(json_object_get(payload, "options"), "max_rows");
    d->max_rows = json_is_integer(max_rows) ? json_integer_value(max_rows) : 0;
    if (op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE)
        return build_sql(dc, op, simple_ok, d);
    if (op->type == DBEV_OP_BATCH_INSERT)
        d->batch_len = (int64_t)json_array_size(op->rows);
    char errstr[512];
    if (dbev_sql_build(op, colkind_cb, dc, &d->qs, &d->nq, errstr, sizeof(errstr)) != 0) {
        err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL, "%s", errstr);
        return -1;
    }
    return 0;
}

static void dop_clear(dop_t *d)
{
    dbev_sql_queries_free(d->qs, d->nq);
    d->qs = NULL;
    d->nq = 0;
}

/* ---- running -------------------------------------------------------------- */

static void acc_add(dcall_t *dc, const dop_t *d, acc_t *a, const PGresult *res)
{
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) > 0) {
        int64_t have = (int64_t)json_array_size(a->rows);
        int64_t room = d->max_rows > 0 ? d->max_rows - have : 0;
        if (d->max_rows > 0 && room <= 0) {
            if (PQntuples(res) > 0)
                a->truncated = true;
        } else {
            bool t = false;
            json_t *part = dbev_sql_rows_to_json(res, room, &t);
            if (!part)
                dc->oom = true;
            else
                json_array_extend(a->rows, part);
            json_decref(part);
            a->truncated = a->truncated || t;
        }
    }
    if (d->type != DBEV_OP_SELECT)
        a->row_count += strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY;
}

/* Simple query protocol: what asyncpg's conn.execute() without arguments
 * sends; several statements may run. The first failure is the answer. */
static int run_simple(dcall_t *dc, const dop_t *d, acc_t *a)
{
    if (!PQsendQuery(dc->conn, d->qs[0].sql)) {
        err_from(dc->conn, NULL, &dc->err);
        return -1;
    }
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(dc->conn)) != NULL) {
        if (rc == 0 && !result_ok(res)) {
            err_from(dc->conn, res, &dc->err);
            rc = -1;
        } else if (rc == 0) {
            acc_add(dc, d, a, res);
        }
        PQclear(res);
    }
    return rc;
}

/* Runs an operation's statements in order; the first failure stops it. */
static int run_op(dcall_t *dc, const dop_t *d, acc_t *a)
{
    a->rows = json_array();
    a->row_count = 0;
    a->truncated = false;
    if (d->simple)
        return run_simple(dc, d, a);
    for (size_t i = 0; i < d->nq; i++) {
        const dbev_sql_query_t *q = &d->qs[i];
        PGresult *res = PQexecParams(dc->conn, q->sql, q->nparams, NULL,
                                     (const char *const *)q->values, NULL, NULL, 0);
        if (!result_ok(res)) {
            err_from(dc->conn, res, &dc->err);
            PQclear(res);
            return -1;
        }
        acc_add(dc, d, a, res);
        PQclear(res);
    }
    if (d->type == DBEV_OP_SELECT)
        a->row_count = (int64_t)json_array_size(a->rows);
    return 0;
}

/* The completed payload of one operation (a TRANSACTION's results[k]). */
static json_t *op_payload(const dop_t *d, acc_t *a)
{
    json_t *meta = json_object();
    json_object_set_new(meta, "truncated", json_boolean(a->truncated));
    if (d->type == DBEV_OP_BATCH_INSERT)
        json_object_set_new(
            meta, "skipped",
            json_integer(d->batch_len > a->row_count ? d->batch_len - a->row_count : 0));
    json_t *p = json_object();
    json_object_set_new(p, "operation_type", json_string(dbev_op_name(d->type)));
    json_object_set_new(p, "rows", a->rows);
    a->rows = NULL;
    json_object_set_new(p, "row_count", json_integer(a->row_count));
    json_object_set_new(p, "metadata", meta);
    return p;
}

/* SET (or SET LOCAL inside a transaction) the statement timeout. */
static int set_timeout(dcall_t *dc, int64_t timeout_ms, bool local)
{
    char sql[80];
    snprintf(sql, sizeof(sql), "SET %sstatement_timeout = %" PRId64, local ? "LOCAL " : "",
             timeout_ms);
    return exec_cmd(dc, sql);
}

/* One operation alone; a BATCH_INSERT of several statements runs in a
 * transaction so that it inserts all or nothing, as on the event path. */
static json_t *run_single(dcall_t *dc, const dop_t *d, int64_t timeout_ms)
{
    bool wrap = d->nq > 1;
    acc_t a = {0};
    if (wrap && exec_cmd(dc, "BEGIN"))
        return NULL;
    if (timeout_ms > 0 && set_timeout(dc, timeout_ms, wrap)) {
        if (wrap)
            PQclear(PQexec(dc->conn, "ROLLBACK"));
        return NULL;
    }
    int rc = run_op(dc, d, &a);
    if (wrap) {
        if (rc == 0)
            rc = exec_cmd(dc, "COMMIT");
        else
            PQclear(PQexec(dc->conn, "ROLLBACK"));
    } else if (timeout_ms > 0 && PQstatus(dc->conn) == CONNECTION_OK) {
        /* Back to the server's default (inside a transaction the statement
         * opened, this may fail; the transaction's end undoes it then). */
        PQclear(PQexec(dc->conn, "SET statement_timeout TO DEFAULT"));
    }
    if (rc != 0) {
        json_decref(a.rows);
        return NULL;
    }
    return op_payload(d, &a);
}

/* ---- requests ------------------------------------------------------------- */

/* A structured operation (or TRANSACTION) through the protocol's decoder: the
 * event path's validation, messages included. */
static dbev_request_t *decode(dcall_t *dc, dbev_op_t op, const json_t *body)
{
    if (!json_is_object(body)) {
        err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL,
                "payload: %s expects an object of fields", dbev_op_name(op));
        return NULL;
    }
    json_t *payload = json_deep_copy(body);
    if (!payload)
        goto oom;
    json_object_set_new(payload, "operation_type", json_string(dbev_op_name(op)));
    json_t *event = dbev_envelope_new(DBEV_EVENT_REQUESTED, "direct", "direct",
                                      "dbev-harness-direct", 0, payload);
    char *text = event ? dbev_event_dumps(event) : NULL;
    json_decref(event);
    if (!text)
        goto oom;
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    if (dbev_request_decode(text, strlen(text), &req, &derr) != 0) {
        err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL, "%s", derr.message);
        req = NULL;
    }
    free(text);
    return req;
oom:
    dc->oom = true;
    err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL, "out of memory");
    return NULL;
}

/* SELECT / EXECUTE as asyncpg takes them: the SQL and its arguments. */
static int sql_operation(dcall_t *dc, dbev_op_t op, const json_t *body, dbev_operation_t *out,
                         int64_t *timeout_ms)
{
    memset(out, 0, sizeof(*out));
    out->type = op;
    const json_t *sql = json_is_string(body) ? body : json_object_get(body, "sql");
    if (!json_is_string(sql) || json_string_length(sql) == 0) {
        err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL, "payload.sql: %s needs the SQL text",
                dbev_op_name(op));
        return -1;
    }
    out->sql = json_string_value(sql);
    const json_t *params = json_is_object(body) ? json_object_get(body, "params") : NULL;
    if (params && !json_is_null(params) && !json_is_array(params)) {
        err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL,
                "payload.params: must be an array of values for $1, $2, ...");
        return -1;
    }
    out->params = (json_t *)params;
    const json_t *options = json_is_object(body) ? json_object_get(body, "options") : NULL;
    const char *names[] = {"timeout_ms", "max_rows"};
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(options, names[i]);
        if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) <= 0)) {
            err_set(&dc->err, DBEV_ERR_VALIDATION_ERROR, NULL,
                    "payload.options.%s: must be a positive integer", names[i]);
            return -1;
        }
    }
    const json_t *t = json_object_get(options, "timeout_ms");
    if (json_is_integer(t))
        *timeout_ms = json_integer_value(t);
    return 0;
}

static json_t *run_transaction(dcall_t *dc, const dbev_request_t *req, const json_t *body,
                               int64_t timeout_ms)
{
    const dbev_operation_t *top = &req->op;
    const json_t *payloads = json_object_get(body, "operations");
    dop_t *dops = calloc(top->n_ops ? top->n_ops : 1, sizeof(*dops));
    json_t *results = json_array();
    json_t *answer = NULL;
    size_t built = 0;
    if (!dops || !results) {
        dc->oom = true;
        goto done;
    }
    for (; built < top->n_ops; built++) {
        if (build_op(dc, &top->ops[built], json_array_get(payloads, built), false, &dops[built])) {
            char msg[sizeof(dc->err.message)];
            snprintf(msg, sizeof(msg), "%s", dc->err.message);
            err_set(&dc->err, dc->err.code, NULL, "payload.operations[%zu]: %s", built, msg);
            built++;
            goto done;
        }
    }
    if (exec_cmd(dc, "BEGIN"))
        goto done;
    if (timeout_ms > 0 && set_timeout(dc, timeout_ms, true)) {
        PQclear(PQexec(dc->conn, "ROLLBACK"));
        goto done;
    }
    for (size_t k = 0; k < top->n_ops; k++) {
        acc_t a = {0};
        if (run_op(dc, &dops[k], &a)) {
            json_decref(a.rows);
            dc->err.failed_index = (long)k;
            PQclear(PQexec(dc->conn, "ROLLBACK"));
            goto done;
        }
        json_array_append_new(results, op_payload(&dops[k], &a));
    }
    if (exec_cmd(dc, "COMMIT"))
        goto done;
    answer = json_object();
    json_object_set_new(answer, "rows", json_array());
    json_object_set_new(answer, "row_count", json_integer((json_int_t)top->n_ops));
    json_object_set_new(answer, "metadata", json_object());
    json_object_set(answer, "results", results);
done:
    for (size_t k = 0; k < built; k++)
        dop_clear(&dops[k]);
    free(dops);
    json_decref(results);
    return answer;
}

static json_t *outcome_failed(dbev_op_t op, const derr_t *e, double ms)
{
    json_t *o = json_object();
    json_t *meta = json_object();
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "operation_type", json_string(dbev_op_name(op)));
    json_object_set_new(o, "error_code", json_string(dbev_err2name(e->code)));
    json_object_set_new(o, "sqlstate", e->sqlstate[0] ? json_string(e->sqlstate) : json_null());
    json_object_set_new(o, "message", json_string(e->message));
    json_object_set_new(o, "retriable", json_boolean(dbev_err_is_retriable(e->code)));
    json_object_set_new(meta, "operation", json_string(dbev_op_name(op)));
    json_object_set_new(meta, "sqlstate", e->sqlstate[0] ? json_string(e->sqlstate) : json_null());
    if (e->failed_index >= 0)
        json_object_set_new(meta, "failed_operation_index", json_integer(e->failed_index));
    json_object_set_new(o, "metadata", meta);
    json_object_set_new(o, "execution_time_ms", json_real(ms));
    return o;
}

/* Turns an operation's payload into an outcome (ok, execution_time_ms). */
static json_t *outcome_completed(dbev_op_t op, json_t *payload, double ms)
{
    json_object_set_new(payload, "ok", json_true());
    json_object_set_new(payload, "operation_type", json_string(dbev_op_name(op)));
    json_object_set_new(payload, "execution_time_ms", json_real(ms));
    return payload;
}

json_t *direct_run_opts(PGconn *conn, dbev_op_t op, const json_t *body, const direct_opts_t *opts,
                        char *errstr, size_t size)
{
    int64_t t0 = dbev_mono_us();
    dcall_t dc = {.conn = conn, .coltypes = json_object()};
    dc.err.failed_index = -1;
    int64_t timeout_ms = opts ? opts->timeout_ms : 0;
    json_t *payload = NULL;
    dbev_request_t *req = NULL;
    if (!dc.coltypes) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    if ((unsigned)op >= DBEV_OP__COUNT) {
        err_set(&dc.err, DBEV_ERR_VALIDATION_ERROR, NULL, "unknown operation %d", (int)op);
    } else if (op == DBEV_OP_HEALTH) {
        if (conn_prepare(&dc) == 0 && exec_cmd(&dc, "SELECT 1") == 0) {
            json_t *row = json_pack("{s:s, s:b}", "status", "HEALTHY", "database_reachable", 1);
            payload = json_pack("{s:[o], s:i, s:{}}", "rows", row, "row_count", 1, "metadata");
        }
    } else if (op == DBEV_OP_SELECT || op == DBEV_OP_EXECUTE) {
        dbev_operation_t sqlop;
        dop_t d = {0};
        if (sql_operation(&dc, op, body, &sqlop, &timeout_ms) == 0 && conn_prepare(&dc) == 0 &&
            build_op(&dc, &sqlop, json_is_object(body) ? body : NULL, true, &d) == 0)
            payload = run_single(&dc, &d, timeout_ms);
        dop_clear(&d);
    } else if ((req = decode(&dc, op, body)) != NULL) {
        if (req->op.timeout_ms > 0)
            timeout_ms = req->op.timeout_ms;
        if (conn_prepare(&dc) == 0) {
            if (op == DBEV_OP_TRANSACTION) {
                payload = run_transaction(&dc, req, body, timeout_ms);
            } else {
                dop_t d;
                if (build_op(&dc, &req->op, body, false, &d) == 0)
                    payload = run_single(&dc, &d, timeout_ms);
                dop_clear(&d);
            }
        }
    }
    dbev_request_destroy(req);
    json_decref(dc.coltypes);
    double ms = (double)(dbev_mono_us() - t0) / 1000.0;
    if (dc.oom) {
        json_decref(payload);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    json_t *outcome =
        payload ? outcome_completed(op, payload, ms) : outcome_failed(op, &dc.err, ms);
    if (!outcome)
        dbev_seterr(errstr, size, "out of memory");
    return outcome;
}

json_t *direct_run(PGconn *conn, dbev_op_t op, const json_t *body, char *errstr, size_t size)
{
    return direct_run_opts(conn, op, body, NULL, errstr, size);
}
