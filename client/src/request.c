/*
 * The calls of the public API: each builds a protocol operation from its
 * arguments, validates it with the protocol's own rules (so a request the
 * adapter would refuse fails at once, locally, with DBEV_ERR__INVALID_ARG
 * and no callback), encodes it as a payload and hands it to the client in
 * its blocking or asynchronous form.
 */
#include "client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything a call needs besides the operation. */
typedef struct req_call {
    dbev_client_t *client;
    const dbev_call_opts_t *opts;
    dbev_done_cb_t *cb; /* NULL: blocking */
    void *opaque;
    dbev_result_t **resultp;
    dbev_error_t **errorp;
    bool async;
} req_call_t;

static dbev_err_t req_fail(const req_call_t *call, const char *msg)
{
    if (call->errorp)
        *call->errorp = res_error_new(DBEV_ERR__INVALID_ARG, "%s", msg);
    return DBEV_ERR__INVALID_ARG;
}

static dbev_err_t req_begin(const req_call_t *call)
{
    if (call->errorp)
        *call->errorp = NULL;
    if (call->resultp)
        *call->resultp = NULL;
    if (!call->client)
        return req_fail(call, "client is NULL");
    if (call->async && !call->cb)
        return req_fail(call, "a completion callback is required");
    if (!call->async && !call->resultp)
        return req_fail(call, "resultp is required");
    return DBEV_ERR_NO_ERROR;
}

/* Validates, encodes and submits op. */
static dbev_err_t req_submit(const req_call_t *call, dbev_operation_t *op)
{
    char errstr[512];
    op->timeout_ms = cli_timeout_ms(call->client, call->opts);
    op->max_rows =
        call->opts && call->opts->max_rows > 0 ? call->opts->max_rows : DBEV_DEFAULT_MAX_ROWS;
    if (dbev_operation_validate(op, errstr, sizeof(errstr)) < 0)
        return req_fail(call, errstr);
    json_t *payload = dbev_operation_to_json(op);
    if (!payload)
        return req_fail(call, "out of memory");
    if (call->async)
        return cli_submit(call->client, op->type, payload, call->opts, call->cb, call->opaque, NULL,
                          call->errorp);
    return cli_call_sync(call->client, op->type, payload, call->opts, call->resultp, call->errorp);
}

/* Parses a column list argument into *out; the caller frees it. */
static int req_columns(const req_call_t *call, const char *text, const char *what, json_t **out)
{
    char errstr[256];
    int failed = 0;
    *out = res_columns_parse(text, what, errstr, sizeof(errstr), &failed);
    if (failed) {
        req_fail(call, errstr);
        return -1;
    }
    return 0;
}

/*
 * Seed 000's query(limit=, offset=): the caller's statement becomes a
 * subquery, so its own ORDER BY, parameters and LIMIT keep their meaning.
 * The newlines keep a trailing -- comment from swallowing the closing
 * parenthesis; trailing semicolons would end the statement early.
 */
static char *req_paged_sql(const char *sql, int64_t limit, int64_t offset)
{
    size_t len = strlen(sql);
    while (len && (sql[len - 1] == ';' || sql[len - 1] == ' ' || sql[len - 1] == '\n' ||
                   sql[len - 1] == '\t' || sql[len - 1] == '\r'))
        len--;
    char tail[96] = "";
    if (limit > 0)
        snprintf(tail, sizeof(tail), " LIMIT %lld", (long long)limit);
    if (offset > 0)
        snprintf(tail + strlen(tail), sizeof(tail) - strlen(tail), " OFFSET %lld",
                 (long long)offset);
    size_t size = len + strlen(tail) + 64;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "SELECT * FROM (\n%.*s\n) AS dbev_page%s", (int)len, sql, tail);
    return out;
}

static dbev_err_t req_sql(const req_call_t *call, dbev_op_t type, const char *sql, json_t *params)
{
    dbev_err_t err = req_begin(call);
    if (err)
        return err;
    const dbev_call_opts_t *o = call->opts;
    if (o && (o->limit < 0 || o->offset < 0))
        return req_fail(call, "limit and offset must not be negative");
    if (o && (o->limit > 0 || o->offset > 0)) {
        if (type != DBEV_OP_SELECT)
            return req_fail(call, "limit and offset apply to dbev_query() only");
        if (!sql)
            return req_fail(call, "sql is NULL");
        char *paged = req_paged_sql(sql, o->limit, o->offset);
        if (!paged)
            return req_fail(call, "out of memory");
        dbev_operation_t op = {.type = type, .sql = paged, .params = params};
        err = req_submit(call, &op);
        free(paged);
        return err;
    }
    dbev_operation_t op = {.type = type, .sql = sql, .params = params};
    return req_submit(call, &op);
}

static dbev_err_t req_table(const req_call_t *call, dbev_op_t type, const char *table, json_t *data,
                            json_t *where, const char *returning)
{
    dbev_err_t err = req_begin(call);
    if (err)
        return err;
    json_t *ret = NULL;
    if (req_columns(call, returning, "returning", &ret) < 0)
        return DBEV_ERR__INVALID_ARG;
    dbev_operation_t op = {
        .type = type, .table = table, .data = data, .where = where, .returning = ret};
    err = req_submit(call, &op);
    json_decref(ret);
    return err;
}

static dbev_err_t req_upsert(const req_call_t *call, const char *table, json_t *data,
                             const char *conflict, const char *update, const char *returning)
{
    dbev_err_t err = req_begin(call);
    if (err)
        return err;
    if (!conflict)
        return req_fail(call, "upsert: the conflict columns are required");
    json_t *ret = NULL, *conf_cols = NULL, *upd_cols = NULL;
    if (req_columns(call, returning, "returning", &ret) < 0 ||
        req_columns(call, conflict, "conflict", &conf_cols) < 0 ||
        req_columns(call, update, "update", &upd_cols) < 0) {
        err = DBEV_ERR__INVALID_ARG;
    } else {
        dbev_operation_t op = {.type = DBEV_OP_UPSERT,
                               .table = table,
                               .data = data,
                               .returning = ret,
                               .conflict = DBEV_CONFLICT_DO_UPDATE,
                               .conflict_columns = conf_cols,
                               .update_columns = upd_cols};
        err = req_submit(call, &op);
    }
    json_decref(ret);
    json_decref(conf_cols);
    json_decref(upd_cols);
    return err;
}

static dbev_err_t req_batch(const req_call_t *call, const char *table, json_t *rows,
                            dbev_on_conflict_t on_conflict, const char *conflict,
                            const char *update, const char *returning)
{
    dbev_err_t err = req_begin(call);
    if (err)
        return err;
    dbev_conflict_t mode;
    switch (on_conflict) {
    case DBEV_ON_CONFLICT_ERROR:
        mode = DBEV_CONFLICT_NONE;
        break;
    case DBEV_ON_CONFLICT_DO_NOTHING:
        mode = DBEV_CONFLICT_DO_NOTHING;
        break;
    case DBEV_ON_CONFLICT_DO_UPDATE:
        mode = DBEV_CONFLICT_DO_UPDATE;
        break;
    default:
        return req_fail(call, "batch_insert: unknown on_conflict value");
    }
    if (mode != DBEV_CONFLICT_NONE && !conflict)
        return req_fail(call, "batch_insert: conflict columns are required with ON CONFLICT");
    json_t *conf_cols = NULL, *upd_cols = NULL, *ret = NULL;
    if (req_columns(call, mode != DBEV_CONFLICT_NONE ? conflict : NULL, "conflict", &conf_cols) <
            0 ||
        req_columns(call, mode == DBEV_CONFLICT_DO_UPDATE ? update : NULL, "update", &upd_cols) <
            0 ||
        req_columns(call, returning, "returning", &ret) < 0) {
        err = DBEV_ERR__INVALID_ARG;
    } else {
        dbev_operation_t op = {.type = DBEV_OP_BATCH_INSERT,
                               .table = table,
                               .rows = rows,
                               .conflict = mode,
                               .conflict_columns = conf_cols,
                               .update_columns = upd_cols,
                               .returning = ret};
        err = req_submit(call, &op);
    }
    json_decref(conf_cols);
    json_decref(upd_cols);
    json_decref(ret);
    return err;
}

/*
 * A transaction's operations arrive in wire form; the protocol's decoder is
 * the one place that turns wire form into operations, so wrap them in a
 * throwaway request event, decode it, and submit the decoded operation.
 */
static dbev_err_t req_transaction(const req_call_t *call, json_t *operations)
{
    dbev_err_t err = req_begin(call);
    if (err)
        return err;
    if (!json_is_array(operations))
        return req_fail(call, "transaction: operations must be a JSON array");
    char uuid[40];
    dbev_uuid_new(uuid);
    json_t *payload =
        json_pack("{s:s, s:O}", "operation_type", "TRANSACTION", "operations", operations);
    json_t *event =
        payload ? dbev_envelope_new(DBEV_EVENT_REQUESTED, uuid, uuid, "dbev-client", 0, payload)
                : NULL;
    char *text = event ? dbev_event_dumps(event) : NULL;
    json_decref(event);
    if (!text)
        return req_fail(call, "out of memory");
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    int rc = dbev_request_decode(text, strlen(text), &req, &derr);
    free(text);
    if (rc < 0)
        return req_fail(call, derr.message);
    err = req_submit(call, &req->op);
    dbev_request_destroy(req);
    return err;
}

#define REQ_SYNC(client, opts, resultp, errorp)                                                    \
    (req_call_t)                                                                                   \
    {                                                                                              \
        (client), (opts), NULL, NULL, (resultp), (errorp), false                                   \
    }
#define REQ_ASYNC(client, opts, cb, opaque, errorp)                                                \
    (req_call_t)                                                                                   \
    {                                                                                              \
        (client), (opts), (cb), (opaque), NULL, (errorp), true                                     \
    }

dbev_err_t dbev_query(dbev_client_t *client, const char *sql, json_t *params,
                      const dbev_call_opts_t *opts, dbev_result_t **resultp, dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_sql(&call, DBEV_OP_SELECT, sql, params);
}

dbev_err_t dbev_query_async(dbev_client_t *client, const char *sql, json_t *params,
                            const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                            dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_sql(&call, DBEV_OP_SELECT, sql, params);
}

dbev_err_t dbev_execute(dbev_client_t *client, const char *sql, json_t *params,
                        const dbev_call_opts_t *opts, dbev_result_t **resultp,
                        dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_sql(&call, DBEV_OP_EXECUTE, sql, params);
}

dbev_err_t dbev_execute_async(dbev_client_t *client, const char *sql, json_t *params,
                              const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                              dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_sql(&call, DBEV_OP_EXECUTE, sql, params);
}

dbev_err_t dbev_insert(dbev_client_t *client, const char *table, json_t *data,
                       const char *returning, const dbev_call_opts_t *opts, dbev_result_t **resultp,
                       dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_table(&call, DBEV_OP_INSERT, table, data, NULL, returning);
}

dbev_err_t dbev_insert_async(dbev_client_t *client, const char *table, json_t *data,
                             const char *returning, const dbev_call_opts_t *opts,
                             dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_table(&call, DBEV_OP_INSERT, table, data, NULL, returning);
}

dbev_err_t dbev_update(dbev_client_t *client, const char *table, json_t *data, json_t *where,
                       const char *returning, const dbev_call_opts_t *opts, dbev_result_t **resultp,
                       dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_table(&call, DBEV_OP_UPDATE, table, data, where, returning);
}

dbev_err_t dbev_update_async(dbev_client_t *client, const char *table, json_t *data, json_t *where,
                             const char *returning, const dbev_call_opts_t *opts,
                             dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_table(&call, DBEV_OP_UPDATE, table, data, where, returning);
}

dbev_err_t dbev_delete(dbev_client_t *client, const char *table, json_t *where,
                       const char *returning, const dbev_call_opts_t *opts, dbev_result_t **resultp,
                       dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_table(&call, DBEV_OP_DELETE, table, NULL, where, returning);
}

dbev_err_t dbev_delete_async(dbev_client_t *client, const char *table, json_t *where,
                             const char *returning, const dbev_call_opts_t *opts,
                             dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_table(&call, DBEV_OP_DELETE, table, NULL, where, returning);
}

dbev_err_t dbev_upsert(dbev_client_t *client, const char *table, json_t *data, const char *conflict,
                       const char *update, const char *returning, const dbev_call_opts_t *opts,
                       dbev_result_t **resultp, dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_upsert(&call, table, data, conflict, update, returning);
}

dbev_err_t dbev_upsert_async(dbev_client_t *client, const char *table, json_t *data,
                             const char *conflict, const char *update, const char *returning,
                             const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                             dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_upsert(&call, table, data, conflict, update, returning);
}

dbev_err_t dbev_batch_insert(dbev_client_t *client, const char *table, json_t *rows,
                             dbev_on_conflict_t on_conflict, const char *conflict,
                             const char *update, const char *returning,
                             const dbev_call_opts_t *opts, dbev_result_t **resultp,
                             dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_batch(&call, table, rows, on_conflict, conflict, update, returning);
}

dbev_err_t dbev_batch_insert_async(dbev_client_t *client, const char *table, json_t *rows,
                                   dbev_on_conflict_t on_conflict, const char *conflict,
                                   const char *update, const char *returning,
                                   const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                                   dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_batch(&call, table, rows, on_conflict, conflict, update, returning);
}

dbev_err_t dbev_transaction(dbev_client_t *client, json_t *operations, const dbev_call_opts_t *opts,
                            dbev_result_t **resultp, dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    return req_transaction(&call, operations);
}

dbev_err_t dbev_transaction_async(dbev_client_t *client, json_t *operations,
                                  const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                                  dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    return req_transaction(&call, operations);
}

dbev_err_t dbev_health_check(dbev_client_t *client, const dbev_call_opts_t *opts,
                             dbev_result_t **resultp, dbev_error_t **errorp)
{
    req_call_t call = REQ_SYNC(client, opts, resultp, errorp);
    dbev_err_t err = req_begin(&call);
    if (err)
        return err;
    dbev_operation_t op = {.type = DBEV_OP_HEALTH};
    return req_submit(&call, &op);
}

dbev_err_t dbev_health_check_async(dbev_client_t *client, const dbev_call_opts_t *opts,
                                   dbev_done_cb_t *cb, void *opaque, dbev_error_t **errorp)
{
    req_call_t call = REQ_ASYNC(client, opts, cb, opaque, errorp);
    dbev_err_t err = req_begin(&call);
    if (err)
        return err;
    dbev_operation_t op = {.type = DBEV_OP_HEALTH};
    return req_submit(&call, &op);
}
