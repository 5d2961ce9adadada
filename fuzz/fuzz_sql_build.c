/*
 * libFuzzer target: the SQL builder (dbev_sql_build, sql/src/build.c) that
 * the adapter and the harness's direct path use, the only code that writes
 * SQL text from a caller's structured operation. The input is a JSON request event or a bare
 * payload. It reaches the builder twice:
 *   - as the adapter sees it: wrapped in a fixed envelope, decoded and
 *     validated by dbev_request_decode (a TRANSACTION's operations each);
 *   - raw: the payload's fields put into a dbev_operation_t without any
 *     validation, because the builder checks identifiers itself and must stay
 *     safe if the validator in front of it is ever loosened.
 * Invariants of every statement the builder returns, checked by tokenising it:
 *   - every identifier is double-quoted, and each quoted name is one the
 *     operation gave (the table, its schema, a column) and passes the SQL
 *     rules' identifier grammar (sql/); the table is never in a schema the
 *     rules refuse (pg_*, information_schema, dbev_adapter);
 *   - outside quotes there are only the builder's own keywords, punctuation
 *     and $n placeholders: no literal, so a value never appears in the text;
 *   - the placeholders are exactly $1..$nparams, each once.
 * A refusal must come with a message.
 */
#include <dbev/protocol.h>
#include <dbev/sql.h>
#include <dbev/sql_build.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *cur_data;
static size_t cur_size;

static void broken(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_sql_build: %s\n  %s\ninput (%zu bytes): %.*s\n", what,
            detail ? detail : "", cur_size, (int)(cur_size > 2000 ? 2000 : cur_size),
            (const char *)cur_data);
    abort();
}

/* Words the builder itself writes outside quotes (sql/src/build.c). */
static bool builder_keyword(const char *w, size_t n)
{
    static const char *const words[] = {
        "INSERT", "INTO", "VALUES",   "UPDATE",  "SET",      "DELETE",    "FROM",
        "WHERE",  "AND",  "IS",       "NOT",     "NULL",     "ANY",       "LIKE",
        "ON",     "DO",   "CONFLICT", "NOTHING", "EXCLUDED", "RETURNING", "false",
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && memcmp(words[i], w, n) == 0)
            return true;
    return false;
}

static bool name_in_keys(const json_t *obj, const char *name)
{
    return json_is_object(obj) && json_object_get(obj, name) != NULL;
}

/* Whether name is the string v or one of the array v's strings. */
static bool name_in(const json_t *v, const char *name)
{
    size_t i;
    const json_t *x;
    if (json_is_string(v))
        return strcmp(json_string_value(v), name) == 0;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (name_in(x, name))
                return true;
        }
    }
    return false;
}

/* Whether a quoted name is one of the operation's own: table, schema, column. */
static bool op_has_name(const dbev_operation_t *op, const char *name)
{
    if (op->table) {
        const char *dot = strchr(op->table, '.');
        size_t schema_len = dot ? (size_t)(dot - op->table) : 0;
        if (!strcmp(op->table, name))
            return true;
        if (dot && strlen(name) == schema_len && !strncmp(op->table, name, schema_len))
            return true;
        if (dot && !strcmp(dot + 1, name))
            return true;
    }
    if (name_in_keys(op->data, name) || name_in_keys(op->where, name) ||
        name_in(op->returning, name) || name_in(op->conflict_columns, name) ||
        name_in(op->update_columns, name))
        return true;
    if (json_is_array(op->rows)) {
        size_t i;
        const json_t *row;
        json_array_foreach(op->rows, i, row)
        {
            if (name_in_keys(row, name))
                return true;
        }
    }
    return false;
}

static void check_query(const dbev_operation_t *op, const dbev_sql_query_t *q)
{
    if (!q->sql)
        broken("a built statement without SQL", NULL);
    if (q->nparams < 0 || q->nparams > DBEV_SQL_MAX_PARAMS || (q->nparams > 0 && !q->values))
        broken("a statement with a bad parameter array", q->sql);
    unsigned char *seen = calloc((size_t)q->nparams + 1, 1);
    int placeholders = 0;
    const char *p = q->sql;
    while (*p) {
        char c = *p;
        if (c == ' ' || c == '(' || c == ')' || c == ',' || c == '=' || c == '<' || c == '>' ||
            c == '*' || c == '.') {
            p++;
        } else if (c == '"') {
            const char *end = strchr(p + 1, '"');
            if (!end || end == p + 1)
                broken("an unterminated or empty quoted identifier", q->sql);
            char name[256];
            size_t n = (size_t)(end - p - 1);
            if (n >= sizeof(name))
                broken("a quoted identifier longer than any valid one", q->sql);
            memcpy(name, p + 1, n);
            name[n] = '\0';
            if (!dbev_sql_ident_valid(name, DBEV_SQL_IDENT_COLUMN))
                broken("a quoted identifier outside the identifier grammar", q->sql);
            if (!op_has_name(op, name))
                broken("a quoted identifier the operation did not name", q->sql);
            p = end + 1;
        } else if (c == '$') {
            char *end;
            long n = strtol(p + 1, &end, 10);
            if (end == p + 1 || n < 1 || n > q->nparams)
                broken("a placeholder out of $1..$nparams", q->sql);
            if (seen[n]++)
                broken("a placeholder used twice", q->sql);
            placeholders++;
            p = end;
        } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') {
            const char *w = p;
            while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_')
                p++;
            if (!builder_keyword(w, (size_t)(p - w)))
                broken("a bare word that is no keyword of the builder (unquoted name or inline "
                       "value)",
                       q->sql);
        } else {
            broken("a character the builder never writes (an inline value?)", q->sql);
        }
    }
    if (placeholders != q->nparams)
        broken("the placeholders do not match nparams", q->sql);
    free(seen);
}

/* Column kinds from the name, so both ways of sending arrays are reached. */
static dbev_sql_colkind_t colkind(void *opaque, const char *table, const char *column)
{
    (void)opaque;
    (void)table;
    return column[0] && (column[strlen(column) - 1] & 1) ? DBEV_SQL_COL_ARRAY : DBEV_SQL_COL_SCALAR;
}

static void build_and_check(const dbev_operation_t *op)
{
    dbev_sql_query_t *qs = NULL;
    size_t n = 0;
    char errstr[512] = "";
    if (dbev_sql_build(op, colkind, NULL, &qs, &n, errstr, sizeof(errstr)) != 0) {
        if (qs || n)
            broken("a refused build returned statements", errstr);
        if (!errstr[0])
            broken("a refused build without a message", NULL);
        return;
    }
    if (!qs || n == 0)
        broken("a build without statements", NULL);
    if (!dbev_sql_ident_valid(op->table, DBEV_SQL_IDENT_TABLE))
        broken("built a statement on a table the SQL rules refuse (system schema?)", op->table);
    for (size_t i = 0; i < n; i++)
        check_query(op, &qs[i]);
    dbev_sql_queries_free(qs, n);
}

static bool structured(dbev_op_t t)
{
    return t == DBEV_OP_INSERT || t == DBEV_OP_UPDATE || t == DBEV_OP_DELETE ||
           t == DBEV_OP_UPSERT || t == DBEV_OP_BATCH_INSERT;
}

/* The adapter's path: fixed envelope, decoder and validator, then the builder. */
static void via_decoder(json_t *payload)
{
    json_t *event = dbev_envelope_new(DBEV_EVENT_REQUESTED, "e-fuzz", "c-fuzz", "fuzz",
                                      1761818400000000, json_incref(payload));
    char *text = event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (!text)
        return; /* e.g. a string that is not UTF-8: the encoder refuses it */
    dbev_request_t *req = NULL;
    if (dbev_request_decode(text, strlen(text), &req, NULL) == 0) {
        if (structured(req->op.type))
            build_and_check(&req->op);
        for (size_t i = 0; i < req->op.n_ops; i++)
            if (structured(req->op.ops[i].type))
                build_and_check(&req->op.ops[i]);
    }
    dbev_request_destroy(req);
    free(text);
}

/* No validation at all: the builder alone stands between the input and the SQL. */
static void raw(json_t *payload)
{
    dbev_operation_t op;
    memset(&op, 0, sizeof(op));
    const char *type = json_string_value(json_object_get(payload, "operation_type"));
    if (!type || dbev_op_parse(type, &op.type) != 0 || !structured(op.type))
        return;
    op.table = json_string_value(json_object_get(payload, "table"));
    op.data = json_object_get(payload, "data");
    op.rows = json_object_get(payload, "rows");
    op.where = json_object_get(payload, "where");
    op.returning = json_object_get(payload, "returning");
    op.conflict_columns = json_object_get(payload, "conflict_columns");
    op.update_columns = json_object_get(payload, "update_columns");
    json_t *oc = json_object_get(payload, "on_conflict");
    if (op.type == DBEV_OP_UPSERT) {
        op.conflict = DBEV_CONFLICT_DO_UPDATE;
    } else if (json_is_object(oc)) {
        const char *action = json_string_value(json_object_get(oc, "action"));
        op.conflict = action && !strcmp(action, "update") ? DBEV_CONFLICT_DO_UPDATE
                                                          : DBEV_CONFLICT_DO_NOTHING;
        op.conflict_columns = json_object_get(oc, "columns");
        op.update_columns = json_object_get(oc, "update_columns");
    }
    build_and_check(&op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cur_data = data;
    cur_size = size;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    json_t *payload = json_object_get(doc, "payload");
    if (!json_is_object(payload))
        payload = doc;
    via_decoder(payload);
    raw(payload);
    json_decref(doc);
    return 0;
}
