/*
 * Maps a step's wire payload onto libdbev's calls (see opcall.h). Only the
 * public client API is used: the harness drives the client exactly as a
 * service would.
 */
#include "scenario/opcall.h"

#include <stdlib.h>
#include <string.h>

/* Sets key to value (borrowed; a new reference is taken) or to fallback
 * (stolen) when value is NULL. */
static void set_or(json_t *object, const char *key, json_t *value, json_t *fallback)
{
    if (value) {
        json_object_set(object, key, value);
        json_decref(fallback);
    } else {
        json_object_set_new(object, key, fallback);
    }
}

json_t *opcall_outcome(dbev_result_t *result, dbev_error_t *error)
{
    json_t *outcome = json_object();
    if (result) {
        json_object_set_new(outcome, "ok", json_true());
        set_or(outcome, "rows", dbev_result_rows(result), json_array());
        json_object_set_new(outcome, "row_count",
                            json_integer((json_int_t)dbev_result_row_count(result)));
        json_object_set_new(outcome, "execution_time_ms",
                            json_real(dbev_result_execution_time_ms(result)));
        set_or(outcome, "metadata", dbev_result_metadata(result), json_object());
        if (dbev_result_op_results(result))
            json_object_set(outcome, "results", dbev_result_op_results(result));
        if (dbev_result_correlation_id(result))
            json_object_set_new(outcome, "correlation_id",
                                json_string(dbev_result_correlation_id(result)));
        dbev_result_destroy(result);
        dbev_error_destroy(error);
        return outcome;
    }
    json_object_set_new(outcome, "ok", json_false());
    if (!error) {
        json_object_set_new(outcome, "error_code", json_string("_BAD_RESPONSE"));
        json_object_set_new(outcome, "message", json_string("the client returned no answer"));
        return outcome;
    }
    json_object_set_new(outcome, "error_code", json_string(dbev_error_name(error)));
    json_object_set_new(outcome, "message",
                        json_string(dbev_error_message(error) ? dbev_error_message(error) : ""));
    set_or(outcome, "sqlstate", NULL,
           dbev_error_sqlstate(error) ? json_string(dbev_error_sqlstate(error)) : json_null());
    json_object_set_new(outcome, "retriable", json_boolean(dbev_error_is_retriable(error)));
    set_or(outcome, "metadata", dbev_error_metadata(error), json_object());
    if (dbev_error_health(error)) {
        /* _UNHEALTHY: the adapter did answer; its health row stays checkable. */
        json_object_set_new(outcome, "rows", json_pack("[O]", dbev_error_health(error)));
        json_object_set_new(outcome, "row_count", json_integer(1));
    }
    if (dbev_error_correlation_id(error))
        json_object_set_new(outcome, "correlation_id",
                            json_string(dbev_error_correlation_id(error)));
    dbev_error_destroy(error);
    return outcome;
}

/* "returning" may be written as text or as a list of names; the client
 * takes comma-separated text. Returns a string to free, or NULL. */
static char *names_text(const json_t *names)
{
    if (!names || json_is_null(names))
        return NULL;
    if (json_is_string(names))
        return strdup(json_string_value(names));
    if (!json_is_array(names))
        return strdup(""); /* refused by the client with a clear error */
    size_t len = 1, i;
    json_t *item;
    json_array_foreach(names, i, item) len +=
        (json_is_string(item) ? json_string_length(item) : 0) + 1;
    char *text = calloc(1, len);
    if (!text)
        return NULL;
    json_array_foreach(names, i, item)
    {
        if (i)
            strcat(text, ",");
        if (json_is_string(item))
            strcat(text, json_string_value(item));
    }
    return text;
}

static const char *field_string(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

/* What a call needs, gathered from the body once for both forms. */
typedef struct call {
    const char *sql, *table;
    json_t *params, *data, *where, *rows, *operations;
    char *returning, *conflict, *update;
    dbev_on_conflict_t on_conflict;
    dbev_call_opts_t opts;
} call_t;

static void call_init(call_t *call, dbev_op_t op, const json_t *body, const dbev_call_opts_t *opts)
{
    memset(call, 0, sizeof(*call));
    if (opts)
        call->opts = *opts;
    if (json_is_string(body)) {
        call->sql = json_string_value(body);
        return;
    }
    call->sql = field_string(body, "sql");
    call->table = field_string(body, "table");
    call->params = json_object_get(body, "params");
    call->data = json_object_get(body, "data");
    call->where = json_object_get(body, "where");
    call->rows = json_object_get(body, "rows");
    call->operations = json_object_get(body, "operations");
    call->returning = names_text(json_object_get(body, "returning"));
    const json_t *options = json_object_get(body, "options");
    if (json_is_integer(json_object_get(options, "timeout_ms")) && !call->opts.timeout_ms)
        call->opts.timeout_ms = (int)json_integer_value(json_object_get(options, "timeout_ms"));
    if (json_is_integer(json_object_get(options, "max_rows")))
        call->opts.max_rows = (int)json_integer_value(json_object_get(options, "max_rows"));
    if (op == DBEV_OP_UPSERT) {
        call->conflict = names_text(json_object_get(body, "conflict_columns"));
        call->update = names_text(json_object_get(body, "update_columns"));
    } else if (op == DBEV_OP_BATCH_INSERT) {
        const json_t *oc = json_object_get(body, "on_conflict");
        if (oc) {
            const char *action = field_string(oc, "action");
            call->on_conflict = action && !strcmp(action, "update") ? DBEV_ON_CONFLICT_DO_UPDATE
                                                                    : DBEV_ON_CONFLICT_DO_NOTHING;
            call->conflict = names_text(json_object_get(oc, "columns"));
            call->update = names_text(json_object_get(oc, "update_columns"));
        }
    }
}

static void call_clear(call_t *call)
{
    free(call->returning);
    free(call->conflict);
    free(call->update);
}

json_t *opcall_run(dbev_client_t *client, dbev_op_t op, const json_t *body,
                   const dbev_call_opts_t *opts)
{
    call_t c;
    call_init(&c, op, body, opts);
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    switch (op) {
    case DBEV_OP_SELECT:
        dbev_query(client, c.sql, c.params, &c.opts, &result, &error);
        break;
    case DBEV_OP_EXECUTE:
        dbev_execute(client, c.sql, c.params, &c.opts, &result, &error);
        break;
    case DBEV_OP_INSERT:
        dbev_insert(client, c.table, c.data, c.returning, &c.opts, &result, &error);
        break;
    case DBEV_OP_UPDATE:
        dbev_update(client, c.table, c.data, c.where, c.returning, &c.opts, &result, &error);
        break;
    case DBEV_OP_DELETE:
        dbev_delete(client, c.table, c.where, c.returning, &c.opts, &result, &error);
        break;
    case DBEV_OP_UPSERT:
        dbev_upsert(client, c.table, c.data, c.conflict, c.update, c.returning, &c.opts, &result,
                    &error);
        break;
    case DBEV_OP_BATCH_INSERT:
        dbev_batch_insert(client, c.table, c.rows, c.on_conflict, c.conflict, c.update, c.returning,
                          &c.opts, &result, &error);
        break;
    case DBEV_OP_TRANSACTION:
        dbev_transaction(client, c.operations, &c.opts, &result, &error);
        break;
    case DBEV_OP_HEALTH:
    default:
        dbev_health_check(client, &c.opts, &result, &error);
        break;
    }
    call_clear(&c);
    return opcall_outcome(result, error);
}

dbev_err_t opcall_start(dbev_client_t *client, dbev_op_t op, const json_t *body,
                        const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                        dbev_error_t **errorp)
{
    call_t c;
    call_init(&c, op, body, opts);
    dbev_err_t err;
    switch (op) {
    case DBEV_OP_SELECT:
        err = dbev_query_async(client, c.sql, c.params, &c.opts, cb, opaque, errorp);
        break;
    case DBEV_OP_EXECUTE:
        err = dbev_execute_async(client, c.sql, c.params, &c.opts, cb, opaque, errorp);
        break;
    case DBEV_OP_INSERT:
        err = dbev_insert_async(client, c.table, c.data, c.returning, &c.opts, cb, opaque, errorp);
        break;
    case DBEV_OP_UPDATE:
        err = dbev_update_async(client, c.table, c.data, c.where, c.returning, &c.opts, cb, opaque,
                                errorp);
        break;
    case DBEV_OP_DELETE:
        err = dbev_delete_async(client, c.table, c.where, c.returning, &c.opts, cb, opaque, errorp);
        break;
    case DBEV_OP_UPSERT:
        err = dbev_upsert_async(client, c.table, c.data, c.conflict, c.update, c.returning, &c.opts,
                                cb, opaque, errorp);
        break;
    case DBEV_OP_BATCH_INSERT:
        err = dbev_batch_insert_async(client, c.table, c.rows, c.on_conflict, c.conflict, c.update,
                                      c.returning, &c.opts, cb, opaque, errorp);
        break;
    case DBEV_OP_TRANSACTION:
        err = dbev_transaction_async(client, c.operations, &c.opts, cb, opaque, errorp);
        break;
    case DBEV_OP_HEALTH:
    default:
        err = dbev_health_check_async(client, &c.opts, cb, opaque, errorp);
        break;
    }
    call_clear(&c);
    return err;
}
