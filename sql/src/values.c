/*
 * JSON values as the text of $n parameters (see dbev/sql_build.h): numbers
 * that read back exactly, PostgreSQL array literals for array-typed columns,
 * `text[]` and JSON array literals for the adapter's idempotency records,
 * and the parameters of a caller's own SQL (SELECT/EXECUTE), whose arrays
 * go as literals or JSON text by the statement's parameter types.
 */
#include <dbev/sql_build.h>

#include "dbev_common.h"
#include "sql_int.h"

#include <dbev/sql.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameter values ---------------------------------------------------- */

/* Formats a double with the fewest digits that read back exactly (0.95
 * stays "0.95"). buf at least 32 bytes. */
static void format_double(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* Appends one array-literal element: quoted, with " and \ escaped. The runs
 * between them are copied whole: this quotes every idempotency record. */
static void sb_array_elem_quoted(sbuf_t *b, const char *s)
{
    sb_putc(b, '"');
    for (;;) {
        size_t run = strcspn(s, "\"\\");
        sb_putn(b, s, run);
        s += run;
        if (!*s)
            break;
        sb_putc(b, '\\');
        sb_putc(b, *s++);
    }
    sb_putc(b, '"');
}

static void sb_array_literal(sbuf_t *b, const json_t *arr)
{
    size_t i;
    const json_t *v;
    char num[40];
    sb_putc(b, '{');
    json_array_foreach(arr, i, v)
    {
        if (i)
            sb_putc(b, ',');
        switch (json_typeof(v)) {
        case JSON_NULL:
            sb_puts(b, "NULL");
            break;
        case JSON_TRUE:
            sb_puts(b, "true");
            break;
        case JSON_FALSE:
            sb_puts(b, "false");
            break;
        case JSON_INTEGER:
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            sb_puts(b, num);
            break;
        case JSON_REAL:
            format_double(json_real_value(v), num, sizeof(num));
            sb_puts(b, num);
            break;
        case JSON_STRING:
            sb_array_elem_quoted(b, json_string_value(v));
            break;
        case JSON_ARRAY:
            sb_array_literal(b, v);
            break;
        case JSON_OBJECT: {
            char *text = json_dumps(v, JSON_COMPACT);
            if (!text) {
                b->oom = true;
                return;
            }
            sb_array_elem_quoted(b, text);
            free(text);
            break;
        }
        }
    }
    sb_putc(b, '}');
}

char *dbev_sql_text_array(const char *const *items, size_t n, bool *oom)
{
    sbuf_t b = {0};
    sb_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_putc(&b, ',');
        if (items[i])
            sb_array_elem_quoted(&b, items[i]);
        else
            sb_puts(&b, "NULL");
    }
    sb_putc(&b, '}');
    *oom = b.oom;
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* json_dump_callback() into an sbuf. */
static int sb_dump(const char *p, size_t n, void *data)
{
    sbuf_t *b = data;
    sb_putn(b, p, n);
    return b->oom ? -1 : 0;
}

char *dbev_sql_json_array(const json_t *const *values, size_t n, bool *oom)
{
    sbuf_t b = {0};
    sb_putc(&b, '[');
    for (size_t i = 0; i < n && !b.oom; i++) {
        if (i)
            sb_putc(&b, ',');
        if (!values[i])
            sb_puts(&b, "null");
        else if (json_dump_callback(values[i], sb_dump, &b, JSON_COMPACT | JSON_ENCODE_ANY))
            b.oom = true;
    }
    sb_putc(&b, ']');
    *oom = b.oom;
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

char *dbev_sql_param_text(const json_t *value, bool as_array, bool *oom)
{
    char num[40];
    char *out = NULL;
    *oom = false;
    switch (json_typeof(value)) {
    case JSON_NULL:
        return NULL;
    case JSON_TRUE:
        out = strdup("true");
        break;
    case JSON_FALSE:
        out = strdup("false");
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        out = strdup(num);
        break;
    case JSON_REAL:
        format_double(json_real_value(value), num, sizeof(num));
        out = strdup(num);
        break;
    case JSON_STRING:
        out = strndup(json_string_value(value), json_string_length(value));
        break;
    case JSON_ARRAY:
        if (as_array) {
            sbuf_t b = {0};
            sb_array_literal(&b, value);
            if (b.oom || !b.s) {
                free(b.s);
                *oom = true;
                return NULL;
            }
            return b.s;
        }
        out = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    case JSON_OBJECT:
        out = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        break;
    }
    if (!out)
        *oom = true;
    return out;
}

/* ---- a caller's SQL ------------------------------------------------------- */

/* Parameters whose type is asked: the first DESCRIBE_MAX; a JSON array
 * further on goes as JSON text. */
#define DESCRIBE_MAX 256

int dbev_sql_build_params(const char *sql, const json_t *params, dbev_sql_describe_fn describe,
                          void *opaque, dbev_sql_query_t *q, bool *oom, char *errstr, size_t size)
{
    size_t n = json_is_array(params) ? json_array_size(params) : 0;
    unsigned types[DESCRIBE_MAX];
    int ntypes = -1;
    memset(q, 0, sizeof(*q));
    if (oom)
        *oom = false;
    if (n > DBEV_SQL_MAX_PARAMS)
        return dbev_seterr(errstr, size, "too many parameters (%zu)", n);
    /* A round trip only when a JSON array needs it: its type decides
     * between an array literal and JSON text. */
    for (size_t i = 0; i < n && describe; i++) {
        if (json_is_array(json_array_get(params, i))) {
            ntypes = describe(opaque, sql, types, DESCRIBE_MAX);
            break;
        }
    }
    q->sql = strdup(sql);
    q->values = calloc(n ? n : 1, sizeof(char *));
    if (!q->sql || !q->values)
        goto oom;
    q->cap = (int)n;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(params, i);
        bool as_array = json_is_array(v) && (int)i < ntypes && i < DESCRIBE_MAX &&
                        dbev_sql_type_array_elem(types[i]) != 0;
        bool failed;
        q->values[i] = dbev_sql_param_text(v, as_array, &failed);
        q->nparams = (int)i + 1;
        if (failed)
            goto oom;
    }
    return 0;
oom:
    dbev_sql_query_clear(q);
    if (oom)
        *oom = true;
    return dbev_seterr(errstr, size, "out of memory");
}
