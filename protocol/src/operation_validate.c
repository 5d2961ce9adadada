/*
 * Decoding and validation of one operation payload: the heart of the
 * protocol's "say precisely what is wrong". Each operation has a fixed set of
 * fields (anything else is refused by name), each field has a type and rules,
 * and every message starts with the field's path ("payload.options.max_rows",
 * "payload.operations[2].table") and, where there is one, says how to fix it.
 * dbev_operation_validate reuses the same code on an operation built in memory
 * by encoding it first, so the client and the adapter can never disagree.
 */
#include "proto_int.h"

#include <dbev/sql.h>
#include <dbev_common.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound for options.timeout_ms and options.max_rows (PostgreSQL's
 * statement_timeout is an int of milliseconds). */
#define PROTO_OPTION_MAX 2147483647LL

#define OP_LIST "SELECT, INSERT, UPDATE, DELETE, UPSERT, EXECUTE, TRANSACTION, BATCH_INSERT, HEALTH"

/* The fields each operation accepts, besides operation_type and options. */
static const char *const op_fields[DBEV_OP__COUNT][6] = {
    [DBEV_OP_SELECT] = {"sql", "params", NULL},
    [DBEV_OP_INSERT] = {"table", "data", "returning", NULL},
    [DBEV_OP_UPDATE] = {"table", "data", "where", "returning", NULL},
    [DBEV_OP_DELETE] = {"table", "where", "returning", NULL},
    [DBEV_OP_UPSERT] = {"table", "data", "conflict_columns", "update_columns", "returning", NULL},
    [DBEV_OP_EXECUTE] = {"sql", "params", NULL},
    [DBEV_OP_TRANSACTION] = {"operations", NULL},
    [DBEV_OP_BATCH_INSERT] = {"table", "rows", "on_conflict", "returning", NULL},
    [DBEV_OP_HEALTH] = {NULL},
};

static bool field_allowed(dbev_op_t type, const char *key)
{
    if (strcmp(key, "operation_type") == 0 || strcmp(key, "options") == 0)
        return true;
    for (int i = 0; op_fields[type][i]; i++)
        if (strcmp(op_fields[type][i], key) == 0)
            return true;
    return false;
}

static void field_list(dbev_op_t type, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; op_fields[type][i] && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s, ", op_fields[type][i]);
    if (off < size)
        proto_pathf(buf + off, size - off, "options");
}

/* A field, with null treated as absent (Python clients send None). */
static json_t *field_get(json_t *payload, const char *key)
{
    json_t *v = json_object_get(payload, key);
    return json_is_null(v) ? NULL : v;
}

/* A string field without NUL characters; *out NULL when absent. */
static int string_field(json_t *payload, const char *key, bool required, const char *path,
                        const char *example, const char **out, char *errstr, size_t size)
{
    json_t *v = field_get(payload, key);
    *out = NULL;
    if (!v) {
        if (required)
            return dbev_seterr(errstr, size, "%s.%s: missing; %s", path, key, example);
        return 0;
    }
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "%s.%s: must be a string, got %s", path, key,
                           proto_json_type(v));
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return dbev_seterr(errstr, size, "%s.%s: contains a NUL character", path, key);
    *out = s;
    return 0;
}

/* The statement rules (empty, one statement, refused keywords) are the SQL
 * rules' (sql/src/refusals.c has the table and the reason of each): the
 * executor asks the same functions, so the two cannot disagree. */
static int sql_check(dbev_op_t type, const char *sql, const char *path, char *errstr, size_t size)
{
    char why[400];
    if (dbev_sql_check(sql, dbev_op_name(type), why, sizeof(why)) < 0)
        return dbev_seterr(errstr, size, "%s.sql: %s", path, why);
    return 0;
}

static int params_check(json_t *payload, const char *path, json_t **out, char *errstr, size_t size)
{
    json_t *v = field_get(payload, "params");
    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return dbev_seterr(errstr, size,
                           "%s.params: must be an array of values for $1, $2, ..., got %s", path,
                           proto_json_type(v));
    if (json_array_size(v) > PROTO_MAX_PARAMS)
        return dbev_seterr(errstr, size, "%s.params: %zu values, PostgreSQL accepts at most %d",
                           path, json_array_size(v), PROTO_MAX_PARAMS);
    *out = v;
    return 0;
}

/* PostgreSQL binds exactly as many values as the highest $n; a mismatch
 * would come back as 08P01, a "protocol violation" that reads like a broken
 * connection. Said here, it is what it is: the request's mistake. */
static int placeholders_check(const char *sql, const json_t *params, const char *path, char *errstr,
                              size_t size)
{
    char why[200];
    if (dbev_sql_params_check(sql, params ? json_array_size(params) : 0, why, sizeof(why)) < 0)
        return dbev_seterr(errstr, size, "%s.params: %s", path, why);
    return 0;
}

static int positive_option(json_t *options, const char *key, const char *path, int64_t *out,
                           char *errstr, size_t size)
{
    json_t *v = field_get(options, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return dbev_seterr(errstr, size, "%s.options.%s: must be a positive integer, got %s%s",
                           path, key, proto_json_type(v),
                           json_is_real(v) ? " (no fraction allowed)" : "");
    json_int_t n = json_integer_value(v);
    if (n <= 0)
        return dbev_seterr(errstr, size, "%s.options.%s: must be a positive integer, got %lld%s",
                           path, key, (long long)n,
                           strcmp(key, "timeout_ms") == 0
                               ? "; omit it for the adapter's default timeout"
                               : "; omit it for the default of 1000");
    if (n > PROTO_OPTION_MAX)
        return dbev_seterr(errstr, size, "%s.options.%s: %lld is too large (at most %lld)", path,
                           key, (long long)n, PROTO_OPTION_MAX);
    *out = n;
    return 0;
}

static int options_check(json_t *payload, const char *path, bool nested, dbev_operation_t *op,
                         char *errstr, size_t size)
{
    json_t *options = field_get(payload, "options");
    if (!options)
        return 0;
    if (!json_is_object(options))
        return dbev_seterr(errstr, size,
                           "%s.options: must be an object such as {\"timeout_ms\": 5000, "
                           "\"max_rows\": 100}, got %s",
                           path, proto_json_type(options));
    const char *key;
    json_t *v;
    json_object_foreach(options, key, v)
    {
        if (strcmp(key, "timeout_ms") != 0 && strcmp(key, "max_rows") != 0)
            return dbev_seterr(errstr, size,
                               "%s.options.%.64s: unknown option; allowed: timeout_ms, max_rows",
                               path, key);
    }
    if (nested && field_get(options, "timeout_ms"))
        return dbev_seterr(errstr, size,
                           "%s.options.timeout_ms: not allowed inside a TRANSACTION; set "
                           "options.timeout_ms on the TRANSACTION payload (it bounds the whole "
                           "transaction)",
                           path);
    if (positive_option(options, "timeout_ms", path, &op->timeout_ms, errstr, size) < 0)
        return -1;
    return positive_option(options, "max_rows", path, &op->max_rows, errstr, size);
}

static int table_check(json_t *payload, const char *path, const char **out, char *errstr,
                       size_t size)
{
    char fpath[PROTO_PATH_SIZE];
    if (string_field(payload, "table", true, path,
                     "name the table, e.g. \"agent_execution_logs\" or \"schema.table\"", out,
                     errstr, size) < 0)
        return -1;
    proto_pathf(fpath, sizeof(fpath), "%s.table", path);
    return proto_ident_check(*out, true, fpath, errstr, size);
}

/* A non-empty object of column -> value (data, one row of BATCH_INSERT). */
static int columns_object_check(json_t *obj, const char *fpath, char *errstr, size_t size)
{
    char cpath[PROTO_PATH_SIZE];
    if (!json_is_object(obj))
        return dbev_seterr(errstr, size,
                           "%s: must be an object of column -> value, got %s; e.g. {\"status\": "
                           "\"success\"}",
                           fpath, proto_json_type(obj));
    if (json_object_size(obj) == 0)
        return dbev_seterr(errstr, size, "%s: empty object; give at least one column -> value",
                           fpath);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        proto_pathf(cpath, sizeof(cpath), "%s.%.64s", fpath, key);
        if (proto_ident_check(key, false, cpath, errstr, size) < 0)
            return -1;
    }
    return 0;
}

static int data_check(json_t *payload, const char *path, json_t **out, char *errstr, size_t size)
{
    char fpath[PROTO_PATH_SIZE];
    json_t *v = field_get(payload, "data");
    proto_pathf(fpath, sizeof(fpath), "%s.data", path);
    if (!v)
        return dbev_seterr(errstr, size, "%s: missing; give the columns as {\"column\": value}",
                           fpath);
    if (columns_object_check(v, fpath, errstr, size) < 0)
        return -1;
    *out = v;
    return 0;
}

static int where_field(json_t *payload, dbev_op_t type, const char *path, json_t **out,
                       char *errstr, size_t size)
{
    char fpath[PROTO_PATH_SIZE];
    json_t *v = field_get(payload, "where");
    proto_pathf(fpath, sizeof(fpath), "%s.where", path);
    if (!v)
        return dbev_seterr(errstr, size,
                           "%s: missing; %s needs a filter such as {\"id\": 42}; to %s every "
                           "row use EXECUTE with explicit SQL",
                           fpath, dbev_op_name(type), type == DBEV_OP_DELETE ? "delete" : "update");
    if (json_is_object(v) && json_object_size(v) == 0)
        return dbev_seterr(errstr, size,
                           "%s: empty filter would %s every row; refused. Give at least one "
                           "condition, or use EXECUTE with explicit SQL for a whole-table %s",
                           fpath, type == DBEV_OP_DELETE ? "delete" : "update",
                           type == DBEV_OP_DELETE ? "delete" : "update");
    if (proto_where_check(v, fpath, errstr, size) < 0)
        return -1;
    *out = v;
    return 0;
}

static int returning_field(json_t *payload, const char *path, json_t **out, char *errstr,
                           size_t size)
{
    char fpath[PROTO_PATH_SIZE];
    json_t *v = field_get(payload, "returning");
    *out = NULL;
    if (!v)
        return 0;
    proto_pathf(fpath, sizeof(fpath), "%s.returning", path);
    json_t *names;
    if (proto_returning_normalise(v, fpath, &names, errstr, size) < 0)
        return -1;
    /* Keep the normalised array in the document, so it is borrowed like the
     * rest and lives as long as the request. */
    if (json_object_set_new(payload, "returning", names) < 0)
        return dbev_seterr(errstr, size, "%s: out of memory", fpath);
    *out = names;
    return 0;
}

/* update_columns must name columns being inserted; when absent, some
 * non-conflict column must exist to be updated. */
static int update_columns_check(json_t *update_columns, json_t *conflict_columns, json_t *columns,
                                const char *upath, const char *cpath, const char *columns_name,
                                char *errstr, size_t size)
{
    if (update_columns) {
        size_t i;
        json_t *v;
        json_array_foreach(update_columns, i, v)
        {
            if (!json_object_get(columns, json_string_value(v)))
                return dbev_seterr(errstr, size,
                                   "%s[%zu]: \"%s\" is not a column of %s, so there is no new "
                                   "value to update it with",
                                   upath, i, json_string_value(v), columns_name);
        }
        return 0;
    }
    const char *key;
    json_t *v;
    json_object_foreach(columns, key, v)
    {
        bool is_conflict = false;
        size_t i;
        json_t *c;
        json_array_foreach(conflict_columns, i, c)
        {
            if (strcmp(json_string_value(c), key) == 0)
                is_conflict = true;
        }
        if (!is_conflict)
            return 0;
    }
    return dbev_seterr(errstr, size,
                       "%s: every column of %s is a conflict column, so a conflict has nothing "
                       "to update; list update_columns, or skip duplicates with BATCH_INSERT "
                       "on_conflict action \"nothing\"",
                       cpath, columns_name);
}

static int upsert_check(json_t *payload, const char *path, dbev_operation_t *op, char *errstr,
                        size_t size)
{
    char cpath[PROTO_PATH_SIZE], upath[PROTO_PATH_SIZE];
    proto_pathf(cpath, sizeof(cpath), "%s.conflict_columns", path);
    proto_pathf(upath, sizeof(upath), "%s.update_columns", path);
    json_t *cc = field_get(payload, "conflict_columns");
    if (!cc)
        return dbev_seterr(errstr, size,
                           "%s: missing; name the unique columns that detect a conflict, e.g. "
                           "[\"id\"]",
                           cpath);
    if (proto_column_list_check(cc, cpath, errstr, size) < 0)
        return -1;
    json_t *uc = field_get(payload, "update_columns");
    if (uc && proto_column_list_check(uc, upath, errstr, size) < 0)
        return -1;
    if (update_columns_check(uc, cc, op->data, upath, cpath, "data", errstr, size) < 0)
        return -1;
    op->conflict = DBEV_CONFLICT_DO_UPDATE;
    op->conflict_columns = cc;
    op->update_columns = uc;
    return 0;
}

static int rows_check(json_t *payload, const char *path, json_t **out, char *errstr, size_t size)
{
    char fpath[PROTO_PATH_SIZE], rpath[PROTO_PATH_SIZE];
    json_t *rows = field_get(payload, "rows");
    proto_pathf(fpath, sizeof(fpath), "%s.rows", path);
    if (!rows)
        return dbev_seterr(
            errstr, size, "%s: missing; give an array of row objects with the same columns", fpath);
    if (!json_is_array(rows))
        return dbev_seterr(errstr, size, "%s: must be an array of row objects, got %s", fpath,
                           proto_json_type(rows));
    if (json_array_size(rows) == 0)
        return dbev_seterr(errstr, size, "%s: empty array; give at least one row", fpath);
    json_t *first = json_array_get(rows, 0);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        proto_pathf(rpath, sizeof(rpath), "%s[%zu]", fpath, i);
        if (i == 0) {
            if (columns_object_check(row, rpath, errstr, size) < 0)
                return -1;
            continue;
        }
        if (!json_is_object(row))
            return dbev_seterr(errstr, size, "%s: must be a row object, got %s", rpath,
                               proto_json_type(row));
        const char *key;
        json_t *v;
        json_object_foreach(first, key, v)
        {
            if (!json_object_get(row, key))
                return dbev_seterr(errstr, size,
                                   "%s: lacks column \"%s\" of rows[0]; every row must have the "
                                   "same columns (use null for no value)",
                                   rpath, key);
        }
        json_object_foreach(row, key, v)
        {
            if (!json_object_get(first, key))
                return dbev_seterr(errstr, size,
                                   "%s: has column \"%.64s\" that rows[0] lacks; every row must "
                                   "have the same columns",
                                   rpath, key);
        }
    }
    *out = rows;
    return 0;
}

static int on_conflict_check(json_t *payload, const char *path, dbev_operation_t *op, char *errstr,
                             size_t size)
{
    char fpath[PROTO_PATH_SIZE], cpath[PROTO_PATH_SIZE], upath[PROTO_PATH_SIZE];
    json_t *oc = field_get(payload, "on_conflict");
    if (!oc)
        return 0;
    proto_pathf(fpath, sizeof(fpath), "%s.on_conflict", path);
    proto_pathf(cpath, sizeof(cpath), "%s.on_conflict.columns", path);
    proto_pathf(upath, sizeof(upath), "%s.on_conflict.update_columns", path);
    if (!json_is_object(oc))
        return dbev_seterr(errstr, size,
                           "%s: must be an object such as {\"columns\": [\"id\"], \"action\": "
                           "\"nothing\"}, got %s",
                           fpath, proto_json_type(oc));
    const char *key;
    json_t *v;
    json_object_foreach(oc, key, v)
    {
        if (strcmp(key, "columns") != 0 && strcmp(key, "action") != 0 &&
            strcmp(key, "update_columns") != 0)
            return dbev_seterr(errstr, size,
                               "%s.%.64s: unknown field; allowed: columns, action, "
                               "update_columns",
                               fpath, key);
    }
    json_t *cols = field_get(oc, "columns");
    if (!cols)
        return dbev_seterr(errstr, size,
                           "%s: missing; name the unique columns that detect a conflict, e.g. "
                           "[\"id\"]",
                           cpath);
    if (proto_column_list_check(cols, cpath, errstr, size) < 0)
        return -1;
    json_t *action = field_get(oc, "action");
    if (!action)
        return dbev_seterr(errstr, size, "%s.action: missing; \"nothing\" or \"update\"", fpath);
    if (!json_is_string(action))
        return dbev_seterr(errstr, size, "%s.action: must be \"nothing\" or \"update\", got %s",
                           fpath, proto_json_type(action));
    json_t *uc = field_get(oc, "update_columns");
    if (strcmp(json_string_value(action), "nothing") == 0) {
        if (uc)
            return dbev_seterr(errstr, size,
                               "%s: only with action \"update\" (\"nothing\" skips duplicates)",
                               upath);
        op->conflict = DBEV_CONFLICT_DO_NOTHING;
    } else if (strcmp(json_string_value(action), "update") == 0) {
        if (uc && proto_column_list_check(uc, upath, errstr, size) < 0)
            return -1;
        if (update_columns_check(uc, cols, json_array_get(op->rows, 0), upath, cpath, "rows",
                                 errstr, size) < 0)
            return -1;
        op->conflict = DBEV_CONFLICT_DO_UPDATE;
        op->update_columns = uc;
    } else {
        return dbev_seterr(errstr, size,
                           "%s.action: must be \"nothing\" or \"update\", not "
                           "\"%.32s\"",
                           fpath, json_string_value(action));
    }
    op->conflict_columns = cols;
    return 0;
}

static int transaction_check(json_t *payload, const char *path, dbev_operation_t *op, char *errstr,
                             size_t size)
{
    char fpath[PROTO_PATH_SIZE], ipath[PROTO_PATH_SIZE];
    json_t *ops = field_get(payload, "operations");
    proto_pathf(fpath, sizeof(fpath), "%s.operations", path);
    if (!ops)
        return dbev_seterr(errstr, size,
                           "%s: missing; give an array of operation payloads to run atomically",
                           fpath);
    if (!json_is_array(ops))
        return dbev_seterr(errstr, size, "%s: must be an array of operation payloads, got %s",
                           fpath, proto_json_type(ops));
    size_t n = json_array_size(ops);
    if (n == 0)
        return dbev_seterr(errstr, size, "%s: empty array; give at least one operation", fpath);
    op->ops = calloc(n, sizeof(*op->ops));
    if (!op->ops)
        return dbev_seterr(errstr, size, "%s: out of memory", fpath);
    op->n_ops = n;
    for (size_t i = 0; i < n; i++) {
        proto_pathf(ipath, sizeof(ipath), "%s[%zu]", fpath, i);
        if (proto_operation_decode(json_array_get(ops, i), ipath, true, &op->ops[i], errstr, size) <
            0)
            return -1;
    }
    return 0;
}

static int operation_decode(json_t *payload, const char *path, bool nested, dbev_operation_t *op,
                            char *errstr, size_t size)
{
    char allowed[160];
    if (!json_is_object(payload))
        return dbev_seterr(errstr, size, "%s: must be an object, got %s", path,
                           proto_json_type(payload));
    json_t *ot = json_object_get(payload, "operation_type");
    if (!ot || json_is_null(ot))
        return dbev_seterr(errstr, size, "%s.operation_type: missing; one of %s", path, OP_LIST);
    if (!json_is_string(ot))
        return dbev_seterr(errstr, size, "%s.operation_type: must be a string (one of %s), got %s",
                           path, OP_LIST, proto_json_type(ot));
    dbev_op_t type;
    if (dbev_op_parse(json_string_value(ot), &type) < 0)
        return dbev_seterr(errstr, size,
                           "%s.operation_type: unknown operation \"%.32s\"; one of %s", path,
                           json_string_value(ot), OP_LIST);
    op->type = type;
    op->max_rows = DBEV_DEFAULT_MAX_ROWS;
    if (nested && (type == DBEV_OP_TRANSACTION || type == DBEV_OP_HEALTH))
        return dbev_seterr(errstr, size, "%s.operation_type: %s cannot run inside a TRANSACTION%s",
                           path, dbev_op_name(type),
                           type == DBEV_OP_TRANSACTION
                               ? "; put its operations in the outer operations list"
                               : "; send HEALTH as a request of its own");

    const char *key;
    json_t *v;
    json_object_foreach(payload, key, v)
    {
        if (!field_allowed(type, key)) {
            field_list(type, allowed, sizeof(allowed));
            return dbev_seterr(errstr, size, "%s.%.64s: unknown field for %s; allowed: %s", path,
                               key, dbev_op_name(type), allowed);
        }
    }
    if (options_check(payload, path, nested, op, errstr, size) < 0)
        return -1;

    switch (type) {
    case DBEV_OP_SELECT:
    case DBEV_OP_EXECUTE:
        if (string_field(payload, "sql", true, path,
                         "give the statement, with $1, $2, ... for params", &op->sql, errstr,
                         size) < 0 ||
            sql_check(type, op->sql, path, errstr, size) < 0 ||
            params_check(payload, path, &op->params, errstr, size) < 0)
            return -1;
        return placeholders_check(op->sql, op->params, path, errstr, size);
    case DBEV_OP_INSERT:
        if (table_check(payload, path, &op->table, errstr, size) < 0 ||
            data_check(payload, path, &op->data, errstr, size) < 0)
            return -1;
        return returning_field(payload, path, &op->returning, errstr, size);
    case DBEV_OP_UPDATE:
        if (table_check(payload, path, &op->table, errstr, size) < 0 ||
            data_check(payload, path, &op->data, errstr, size) < 0 ||
            where_field(payload, type, path, &op->where, errstr, size) < 0)
            return -1;
        return returning_field(payload, path, &op->returning, errstr, size);
    case DBEV_OP_DELETE:
        if (table_check(payload, path, &op->table, errstr, size) < 0 ||
            where_field(payload, type, path, &op->where, errstr, size) < 0)
            return -1;
        return returning_field(payload, path, &op->returning, errstr, size);
    case DBEV_OP_UPSERT:
        if (table_check(payload, path, &op->table, errstr, size) < 0 ||
            data_check(payload, path, &op->data, errstr, size) < 0 ||
            upsert_check(payload, path, op, errstr, size) < 0)
            return -1;
        return returning_field(payload, path, &op->returning, errstr, size);
    case DBEV_OP_BATCH_INSERT:
        if (table_check(payload, path, &op->table, errstr, size) < 0 ||
            rows_check(payload, path, &op->rows, errstr, size) < 0 ||
            on_conflict_check(payload, path, op, errstr, size) < 0)
            return -1;
        return returning_field(payload, path, &op->returning, errstr, size);
    case DBEV_OP_TRANSACTION:
        return transaction_check(payload, path, op, errstr, size);
    case DBEV_OP_HEALTH:
    case DBEV_OP__COUNT:
        break;
    }
    return 0;
}

int proto_operation_decode(json_t *payload, const char *path, bool nested, dbev_operation_t *op,
                           char *errstr, size_t size)
{
    memset(op, 0, sizeof(*op));
    if (operation_decode(payload, path, nested, op, errstr, size) < 0) {
        proto_operation_clear(op);
        return -1;
    }
    return 0;
}

void proto_operation_clear(dbev_operation_t *op)
{
    if (!op)
        return;
    if (op->ops) {
        for (size_t i = 0; i < op->n_ops; i++)
            proto_operation_clear(&op->ops[i]);
        free(op->ops);
    }
    memset(op, 0, sizeof(*op));
}

int dbev_operation_validate(const dbev_operation_t *op, char *errstr, size_t size)
{
    if (!op)
        return dbev_seterr(errstr, size, "payload: no operation given");
    if ((int)op->type < 0 || op->type >= DBEV_OP__COUNT)
        return dbev_seterr(errstr, size, "payload.operation_type: %d is not an operation",
                           (int)op->type);
    if (op->type == DBEV_OP_UPSERT && op->conflict == DBEV_CONFLICT_DO_NOTHING)
        return dbev_seterr(errstr, size,
                           "payload.conflict: UPSERT always updates on conflict; to skip "
                           "duplicates use BATCH_INSERT with on_conflict action \"nothing\"");
    if (op->type == DBEV_OP_TRANSACTION && op->n_ops > 0 && !op->ops)
        return dbev_seterr(errstr, size, "payload.operations: n_ops is %zu but ops is NULL",
                           op->n_ops);
    /* Same rules as the decoder, by construction: encode, then decode. */
    json_t *payload = dbev_operation_to_json(op);
    if (!payload)
        return dbev_seterr(errstr, size, "payload: out of memory");
    dbev_operation_t decoded;
    int rc = proto_operation_decode(payload, "payload", false, &decoded, errstr, size);
    if (rc == 0) {
        int depth = proto_json_depth(payload) + 1; /* + the envelope */
        if (depth > DBEV_MAX_JSON_DEPTH)
            rc = dbev_seterr(errstr, size,
                             "payload: nested %d levels deep; events may nest at most %d", depth,
                             DBEV_MAX_JSON_DEPTH);
    }
    proto_operation_clear(&decoded);
    json_decref(payload);
    return rc;
}
