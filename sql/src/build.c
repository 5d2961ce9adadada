/*
 * SQL builder (see dbev/sql_build.h): the statements of structured
 * operations (INSERT, UPDATE, DELETE, UPSERT, BATCH_INSERT). Identifiers
 * validated and quoted, values as $n parameters (their text: values.c),
 * never spliced. Statements are assembled in a growing buffer (sbuf.c);
 * every failure path frees what it built so far.
 */
#include <dbev/sql_build.h>

#include "dbev_common.h"
#include "sql_int.h"

#include <dbev/sql.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements ----------------------------------------------------------- */

typedef struct build {
    sbuf_t sql;
    dbev_sql_query_t *q;
    dbev_sql_colkind_fn colkind;
    void *opaque;
    const char *table;
    char *errstr;
    size_t errsize;
    int failed; /* -1 once an error was set */
} build_t;

void dbev_sql_query_clear(dbev_sql_query_t *q)
{
    if (!q)
        return;
    free(q->sql);
    for (int i = 0; i < q->nparams; i++)
        free(q->values[i]);
    free(q->values);
    memset(q, 0, sizeof(*q));
}

void dbev_sql_queries_free(dbev_sql_query_t *qs, size_t n)
{
    if (!qs)
        return;
    for (size_t i = 0; i < n; i++)
        dbev_sql_query_clear(&qs[i]);
    free(qs);
}

static int fail(build_t *bd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(build_t *bd, const char *fmt, ...)
{
    if (!bd->failed && bd->errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(bd->errstr, bd->errsize, fmt, ap);
        va_end(ap);
    }
    bd->failed = -1;
    return -1;
}

/* Adds a parameter (taking ownership of text) and appends "$n" to the SQL. */
static int add_param_text(build_t *bd, char *text)
{
    dbev_sql_query_t *q = bd->q;
    if (q->nparams >= DBEV_SQL_MAX_PARAMS) {
        free(text);
        return fail(bd, "too many values for one statement (more than %s)", "65535");
    }
    if (q->nparams == q->cap) {
        int cap = q->cap ? q->cap * 2 : 8;
        char **p = realloc(q->values, (size_t)cap * sizeof(*p));
        if (!p) {
            free(text);
            bd->sql.oom = true;
            return -1;
        }
        q->values = p;
        q->cap = cap;
    }
    q->values[q->nparams++] = text;
    sb_putc(&bd->sql, '$');
    sb_int(&bd->sql, q->nparams);
    return 0;
}

/* Adds a JSON value destined for column col as a parameter. */
static int add_param(build_t *bd, const char *col, const json_t *value)
{
    bool as_array = false;
    bool oom;
    if (json_is_array(value) && bd->colkind)
        as_array = bd->colkind(bd->opaque, bd->table, col) == DBEV_SQL_COL_ARRAY;
    char *text = dbev_sql_param_text(value, as_array, &oom);
    if (oom) {
        bd->sql.oom = true;
        return -1;
    }
    return add_param_text(bd, text);
}

static int check_column(build_t *bd, const char *col)
{
    char why[256];
    if (dbev_sql_ident_check(col, DBEV_SQL_IDENT_COLUMN, why, sizeof(why)))
        return fail(bd, "invalid column name: %s", why);
    return 0;
}

/* "col1", "col2" ... from a JSON array of names. */
static int column_list(build_t *bd, const json_t *cols)
{
    size_t i;
    const json_t *c;
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return fail(bd, "%s must be a non-empty array of column names", "column list");
    json_array_foreach(cols, i, c)
    {
        if (!json_is_string(c) || check_column(bd, json_string_value(c)))
            return fail(bd, "invalid column name in %s", "column list");
        if (i)
            sb_puts(&bd->sql, ", ");
        sb_ident(&bd->sql, json_string_value(c));
    }
    return 0;
}

static int returning_clause(build_t *bd, const json_t *returning)
{
    if (!returning)
        return 0;
    if (json_is_string(returning)) { /* tolerated: seed 002 shows a bare string */
        const char *s = json_string_value(returning);
        sb_puts(&bd->sql, " RETURNING ");
        if (strcmp(s, "*") == 0) {
            sb_putc(&bd->sql, '*');
            return 0;
        }
        if (check_column(bd, s))
            return -1;
        sb_ident(&bd->sql, s);
        return 0;
    }
    if (!json_is_array(returning))
        return fail(bd, "%s must be an array of column names", "returning");
    if (json_array_size(returning) == 0)
        return 0;
    if (json_array_size(returning) == 1 && json_is_string(json_array_get(returning, 0)) &&
        strcmp(json_string_value(json_array_get(returning, 0)), "*") == 0) {
        sb_puts(&bd->sql, " RETURNING *");
        return 0;
    }
    sb_puts(&bd->sql, " RETURNING ");
    return column_list(bd, returning);
}

static bool is_operator_object(const json_t *v)
{
    const char *key;
    const json_t *x;
    if (!json_is_object(v) || json_object_size(v) == 0)
        return false;
    json_object_foreach((json_t *)v, key, x)
    {
        if (key[0] != '$')
            return false;
    }
    return true;
}

static int one_filter(build_t *bd, const char *col, const char *opname, const json_t *v,
                      bool *first)
{
    static const struct {
        const char *name, *sql;
    } cmp[] = {{"$eq", " = "},   {"$ne", " <> "}, {"$lt", " < "},
               {"$lte", " <= "}, {"$gt", " > "},  {"$gte", " >= "}};
    if (!*first)
        sb_puts(&bd->sql, " AND ");
    *first = false;
    for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++) {
        if (strcmp(opname, cmp[i].name) != 0)
            continue;
        sb_ident(&bd->sql, col);
        if (json_is_null(v)) {
            if (i == 0 || i == 1) {
                sb_puts(&bd->sql, i == 0 ? " IS NULL" : " IS NOT NULL");
                return 0;
            }
            return fail(bd, "operator %s needs a non-null value", opname);
        }
        sb_puts(&bd->sql, cmp[i].sql);
        return add_param(bd, col, v);
    }
    if (strcmp(opname, "$in") == 0) {
        if (!json_is_array(v))
            return fail(bd, "operator %s needs an array", opname);
        if (json_array_size(v) == 0) {
            sb_puts(&bd->sql, "false");
            return 0;
        }
        sb_ident(&bd->sql, col);
        sb_puts(&bd->sql, " = ANY(");
        bool oom;
        char *text = dbev_sql_param_text(v, true, &oom);
        if (oom) {
            bd->sql.oom = true;
            return -1;
        }
        if (add_param_text(bd, text))
            return -1;
        sb_putc(&bd->sql, ')');
        return 0;
    }
    if (strcmp(opname, "$like") == 0) {
        if (!json_is_string(v))
            return fail(bd, "operator %s needs a string", opname);
        sb_ident(&bd->sql, col);
        sb_puts(&bd->sql, " LIKE ");
        return add_param(bd, col, v);
    }
    if (strcmp(opname, "$is_null") == 0) {
        if (!json_is_boolean(v))
            return fail(bd, "operator %s needs true or false", opname);
        sb_ident(&bd->sql, col);
        sb_puts(&bd->sql, json_is_true(v) ? " IS NULL" : " IS NOT NULL");
        return 0;
    }
    return fail(bd,
                "unknown filter operator \"%s\" (known: $eq $ne $lt $lte $gt $gte $in $like "
                "$is_null)",
                opname);
}

static int where_clause(build_t *bd, const json_t *where)
{
    const char *col;
    const json_t *v;
    bool first = true;
    if (!json_is_object(where) || json_object_size(where) == 0)
        return fail(bd, "%s must be a non-empty object of filters", "where");
    sb_puts(&bd->sql, " WHERE ");
    json_object_foreach((json_t *)where, col, v)
    {
        if (check_column(bd, col))
            return -1;
        if (is_operator_object(v)) {
            const char *opname;
            const json_t *arg;
            json_object_foreach((json_t *)v, opname, arg)
            {
                if (one_filter(bd, col, opname, arg, &first))
                    return -1;
            }
        } else if (one_filter(bd, col, "$eq", v, &first)) {
            return -1;
        }
    }
    return 0;
}

static int begin_query(build_t *bd, dbev_sql_query_t *q)
{
    memset(q, 0, sizeof(*q));
    memset(&bd->sql, 0, sizeof(bd->sql));
    bd->q = q;
    return 0;
}

static int end_query(build_t *bd)
{
    if (bd->sql.oom) {
        free(bd->sql.s);
        bd->sql.s = NULL;
        return fail(bd, "%s", "out of memory building the statement");
    }
    bd->q->sql = bd->sql.s;
    bd->sql.s = NULL;
    return bd->failed;
}

static int data_columns_values(build_t *bd, const json_t *data)
{
    const char *col;
    const json_t *v;
    size_t i = 0;
    if (!json_is_object(data) || json_object_size(data) == 0)
        return fail(bd, "%s must be a non-empty object", "data");
    sb_puts(&bd->sql, " (");
    json_object_foreach((json_t *)data, col, v)
    {
        if (check_column(bd, col))
            return -1;
        if (i++)
            sb_puts(&bd->sql, ", ");
        sb_ident(&bd->sql, col);
    }
    sb_puts(&bd->sql, ") VALUES (");
    i = 0;
    json_object_foreach((json_t *)data, col, v)
    {
        if (i++)
            sb_puts(&bd->sql, ", ");
        if (add_param(bd, col, v))
            return -1;
    }
    sb_putc(&bd->sql, ')');
    return 0;
}

/* ON CONFLICT (cols) DO NOTHING / DO UPDATE SET c = EXCLUDED.c ... */
static int conflict_clause(build_t *bd, dbev_conflict_t conflict, const json_t *conflict_cols,
                           const json_t *update_cols, const json_t *data_cols_from)
{
    if (conflict == DBEV_CONFLICT_NONE)
        return 0;
    sb_puts(&bd->sql, " ON CONFLICT (");
    if (column_list(bd, conflict_cols))
        return -1;
    sb_putc(&bd->sql, ')');
    size_t nset = 0;
    if (conflict == DBEV_CONFLICT_DO_UPDATE) {
        size_t i;
        const json_t *c;
        if (update_cols) {
            if (!json_is_array(update_cols))
                return fail(bd, "%s must be an array of column names", "update_columns");
            json_array_foreach(update_cols, i, c)
            {
                if (!json_is_string(c) || check_column(bd, json_string_value(c)))
                    return fail(bd, "invalid column name in %s", "update_columns");
                sb_puts(&bd->sql, nset++ ? ", " : " DO UPDATE SET ");
                sb_ident(&bd->sql, json_string_value(c));
                sb_puts(&bd->sql, " = EXCLUDED.");
                sb_ident(&bd->sql, json_string_value(c));
            }
        } else {
            const char *col;
            json_object_foreach((json_t *)data_cols_from, col, c)
            {
                bool is_conflict = false;
                const json_t *cc;
                json_array_foreach(conflict_cols, i, cc)
                {
                    if (json_is_string(cc) && strcmp(json_string_value(cc), col) == 0)
                        is_conflict = true;
                }
                if (is_conflict)
                    continue;
                sb_puts(&bd->sql, nset++ ? ", " : " DO UPDATE SET ");
                sb_ident(&bd->sql, col);
                sb_puts(&bd->sql, " = EXCLUDED.");
                sb_ident(&bd->sql, col);
            }
        }
    }
    /* DO_UPDATE with nothing to update degenerates to DO NOTHING. */
    if (nset == 0)
        sb_puts(&bd->sql, " DO NOTHING");
    return 0;
}

static int need_table(build_t *bd, const char *table)
{
    char why[256];
    if (dbev_sql_ident_check(table, DBEV_SQL_IDENT_TABLE, why, sizeof(why)))
        return fail(bd, "invalid table name: %s", why);
    return 0;
}

static int build_single(build_t *bd, const dbev_operation_t *op, dbev_sql_query_t *q)
{
    begin_query(bd, q);
    switch (op->type) {
    case DBEV_OP_INSERT:
    case DBEV_OP_UPSERT:
        sb_puts(&bd->sql, "INSERT INTO ");
        sb_ident(&bd->sql, op->table);
        if (data_columns_values(bd, op->data))
            break;
        if (op->type == DBEV_OP_UPSERT) {
            if (conflict_clause(bd, DBEV_CONFLICT_DO_UPDATE, op->conflict_columns,
                                op->update_columns, op->data))
                break;
        }
        returning_clause(bd, op->returning);
        break;
    case DBEV_OP_UPDATE: {
        const char *col;
        const json_t *v;
        size_t i = 0;
        if (!json_is_object(op->data) || json_object_size(op->data) == 0) {
            fail(bd, "%s must be a non-empty object", "data");
            break;
        }
        sb_puts(&bd->sql, "UPDATE ");
        sb_ident(&bd->sql, op->table);
        sb_puts(&bd->sql, " SET ");
        json_object_foreach(op->data, col, v)
        {
            if (check_column(bd, col))
                break;
            if (i++)
                sb_puts(&bd->sql, ", ");
            sb_ident(&bd->sql, col);
            sb_puts(&bd->sql, " = ");
            if (add_param(bd, col, v))
                break;
        }
        if (bd->failed || where_clause(bd, op->where))
            break;
        returning_clause(bd, op->returning);
        break;
    }
    case DBEV_OP_DELETE:
        sb_puts(&bd->sql, "DELETE FROM ");
        sb_ident(&bd->sql, op->table);
        if (where_clause(bd, op->where))
            break;
        returning_clause(bd, op->returning);
        break;
    default:
        fail(bd, "operation %s has no structured form", dbev_op_name(op->type));
        break;
    }
    return end_query(bd);
}

/* One multi-row INSERT for rows [from, from+count) of a BATCH_INSERT. */
static int build_batch_chunk(build_t *bd, const dbev_operation_t *op, const json_t *cols,
                             size_t from, size_t count, dbev_sql_query_t *q)
{
    size_t i, c;
    const json_t *name;
    begin_query(bd, q);
    q->nrows = (int)count;
    sb_puts(&bd->sql, "INSERT INTO ");
    sb_ident(&bd->sql, op->table);
    sb_puts(&bd->sql, " (");
    json_array_foreach(cols, c, name)
    {
        if (c)
            sb_puts(&bd->sql, ", ");
        sb_ident(&bd->sql, json_string_value(name));
    }
    sb_puts(&bd->sql, ") VALUES ");
    for (i = from; i < from + count && !bd->failed; i++) {
        const json_t *row = json_array_get(op->rows, i);
        if (!json_is_object(row)) {
            fail(bd, "%s must be an array of objects", "rows");
            break;
        }
        if (json_object_size(row) != json_array_size(cols)) {
            fail(bd, "every row of a BATCH_INSERT must have the same columns (%s)",
                 "row with a different column count");
            break;
        }
        sb_puts(&bd->sql, i > from ? ", (" : "(");
        json_array_foreach(cols, c, name)
        {
            const char *col = json_string_value(name);
            const json_t *v = json_object_get(row, col);
            if (!v) {
                fail(bd, "row of a BATCH_INSERT lacks column \"%s\"", col);
                break;
            }
            if (c)
                sb_puts(&bd->sql, ", ");
            if (add_param(bd, col, v))
                break;
        }
        sb_putc(&bd->sql, ')');
    }
    if (!bd->failed && conflict_clause(bd, op->conflict, op->conflict_columns, op->update_columns,
                                       json_array_get(op->rows, 0)) == 0)
        returning_clause(bd, op->returning);
    return end_query(bd);
}

static int build_batch(build_t *bd, const dbev_operation_t *op, dbev_sql_query_t **out,
                       size_t *nout)
{
    const json_t *first = json_array_get(op->rows, 0);
    const char *col;
    const json_t *v;
    if (!json_is_array(op->rows) || !json_is_object(first) || json_object_size(first) == 0)
        return fail(bd, "%s must be a non-empty array of non-empty objects", "rows");
    json_t *cols = json_array();
    if (!cols)
        return fail(bd, "%s", "out of memory");
    json_object_foreach((json_t *)first, col, v)
    {
        if (check_column(bd, col)) {
            json_decref(cols);
            return -1;
        }
        json_array_append_new(cols, json_string(col));
    }
    size_t ncols = json_array_size(cols);
    size_t per = DBEV_SQL_MAX_PARAMS / ncols;
    if (per > DBEV_SQL_MAX_BATCH_ROWS)
        per = DBEV_SQL_MAX_BATCH_ROWS;
    size_t nrows = json_array_size(op->rows);
    size_t nq = (nrows + per - 1) / per;
    dbev_sql_query_t *qs = calloc(nq, sizeof(*qs));
    if (!qs) {
        json_decref(cols);
        return fail(bd, "%s", "out of memory");
    }
    for (size_t k = 0; k < nq; k++) {
        size_t from = k * per;
        size_t count = nrows - from < per ? nrows - from : per;
        if (build_batch_chunk(bd, op, cols, from, count, &qs[k])) {
            dbev_sql_queries_free(qs, nq);
            json_decref(cols);
            return -1;
        }
    }
    json_decref(cols);
    *out = qs;
    *nout = nq;
    return 0;
}

int dbev_sql_build(const dbev_operation_t *op, dbev_sql_colkind_fn colkind, void *opaque,
                   dbev_sql_query_t **out, size_t *nout, char *errstr, size_t size)
{
    build_t bd = {.colkind = colkind, .opaque = opaque, .errstr = errstr, .errsize = size};
    *out = NULL;
    *nout = 0;
    bd.table = op->table;
    if (need_table(&bd, op->table))
        return -1;
    if (op->type == DBEV_OP_BATCH_INSERT)
        return build_batch(&bd, op, out, nout);
    dbev_sql_query_t *q = calloc(1, sizeof(*q));
    if (!q)
        return dbev_seterr(errstr, size, "out of memory");
    if (build_single(&bd, op, q)) {
        free(bd.sql.s);
        dbev_sql_queries_free(q, 1);
        return -1;
    }
    *out = q;
    *nout = 1;
    return 0;
}
