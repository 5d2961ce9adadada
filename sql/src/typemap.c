/*
 * Type mapping (see dbev/sql_build.h). Results come in text format; each value is
 * converted by its column's type OID. The array-literal parser follows
 * PostgreSQL's array_out rules: elements are separated by ',', quoted with
 * '"' when they contain special characters (backslash escapes inside
 * quotes), an unquoted NULL is SQL NULL, and nested braces are
 * sub-arrays.
 */
#include <dbev/sql_build.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    unsigned array, elem;
} array_types[] = {
    {1000, DBEV_SQL_OID_BOOL},    {1005, DBEV_SQL_OID_INT2},      {1007, DBEV_SQL_OID_INT4},
    {1016, DBEV_SQL_OID_INT8},    {1009, DBEV_SQL_OID_TEXT},      {1015, DBEV_SQL_OID_VARCHAR},
    {1014, DBEV_SQL_OID_BPCHAR},  {1021, DBEV_SQL_OID_FLOAT4},    {1022, DBEV_SQL_OID_FLOAT8},
    {1231, DBEV_SQL_OID_NUMERIC}, {2951, DBEV_SQL_OID_UUID},      {199, DBEV_SQL_OID_JSON},
    {3807, DBEV_SQL_OID_JSONB},   {1115, DBEV_SQL_OID_TIMESTAMP}, {1185, DBEV_SQL_OID_TIMESTAMPTZ},
    {1182, DBEV_SQL_OID_DATE},    {1028, DBEV_SQL_OID_OID},       {1003, 19 /* name */},
};

unsigned dbev_sql_type_array_elem(unsigned oid)
{
    for (size_t i = 0; i < sizeof(array_types) / sizeof(array_types[0]); i++)
        if (array_types[i].array == oid)
            return array_types[i].elem;
    return 0;
}

/* A numeric's text as JSON: an integer when it is integral and fits in 64
 * bits, a real otherwise; "NaN"/"Infinity" stay strings. */
static json_t *numeric_json(const char *text)
{
    const char *p = text;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return json_string(text); /* NaN, Infinity, -Infinity */
    bool integral =
        strchr(text, '.') == NULL && strchr(text, 'e') == NULL && strchr(text, 'E') == NULL;
    if (!integral) {
        /* "12.000" is still integral. */
        const char *dot = strchr(text, '.');
        if (dot && !strpbrk(text, "eE")) {
            const char *q = dot + 1;
            while (*q == '0')
                q++;
            if (*q == '\0')
                integral = true;
        }
    }
    if (integral) {
        errno = 0;
        char *end;
        long long v = strtoll(text, &end, 10);
        if (errno == 0 && (*end == '\0' || *end == '.'))
            return json_integer(v);
    }
    return json_real(strtod(text, NULL));
}

/* Rewrites PostgreSQL's ISO timestamp output as ISO-8601:
 * "2025-10-30 10:00:00.5+00" -> "2025-10-30T10:00:00.5Z", "... +05:30"
 * stays an offset ("+05:30"); "infinity" unchanged. out at least len + 8
 * bytes. */
static void timestamp_iso(const char *text, char *out, size_t size)
{
    size_t n = 0;
    const char *p = text;
    if (size == 0)
        return;
    /* Only rewrite what looks like "YYYY-MM-DD HH:MM:SS..." */
    if (strlen(text) < 19 || text[10] != ' ' || !isdigit((unsigned char)text[0])) {
        snprintf(out, size, "%s", text);
        return;
    }
    while (*p && n + 1 < size) {
        if (p == text + 10) {
            out[n++] = 'T';
            p++;
            continue;
        }
        if (p > text + 18 && (*p == '+' || *p == '-')) {
            /* Zone offset: +00 -> Z; +05 -> +05:00; +05:30 and +05:30:15 stay. */
            char zone[16];
            size_t zl = strcspn(p, " ");
            snprintf(zone, sizeof(zone), "%.*s", (int)(zl < 15 ? zl : 15), p);
            if (strcmp(zone + 1, "00") == 0 || strcmp(zone + 1, "00:00") == 0)
                n += (size_t)snprintf(out + n, size - n, "Z");
            else if (strlen(zone) == 3)
                n += (size_t)snprintf(out + n, size - n, "%s:00", zone);
            else
                n += (size_t)snprintf(out + n, size - n, "%s", zone);
            if (n >= size)
                n = size - 1;
            p += zl;
            break;
        }
        if (*p == ' ') /* " BC" suffix: keep as is */
            break;
        out[n++] = *p++;
    }
    if (*p == ' ')
        n += (size_t)snprintf(out + n, size - n, "%s", p);
    if (n >= size)
        n = size - 1;
    out[n] = '\0';
}

static json_t *parse_array(const char *text, unsigned elem_oid);

json_t *dbev_sql_value_to_json(unsigned oid, const char *text, size_t len)
{
    unsigned elem;
    switch (oid) {
    case DBEV_SQL_OID_INT2:
    case DBEV_SQL_OID_INT4:
    case DBEV_SQL_OID_INT8:
    case DBEV_SQL_OID_OID:
        return json_integer(strtoll(text, NULL, 10));
    case DBEV_SQL_OID_FLOAT4:
    case DBEV_SQL_OID_FLOAT8: {
        char *end;
        double d = strtod(text, &end);
        if (end == text || *end || d != d)
            return json_string(text); /* NaN, Infinity: JSON has no such numbers */
        if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308)
            return json_string(text);
        return json_real(d);
    }
    case DBEV_SQL_OID_NUMERIC:
        return numeric_json(text);
    case DBEV_SQL_OID_BOOL:
        return json_boolean(text[0] == 't');
    case DBEV_SQL_OID_JSON:
    case DBEV_SQL_OID_JSONB: {
        json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        return v ? v : json_stringn(text, len);
    }
    case DBEV_SQL_OID_TIMESTAMP:
    case DBEV_SQL_OID_TIMESTAMPTZ: {
        char buf[96];
        if (len + 8 > sizeof(buf))
            return json_stringn(text, len);
        timestamp_iso(text, buf, sizeof(buf));
        return json_string(buf);
    }
    default:
        elem = dbev_sql_type_array_elem(oid);
        if (elem) {
            json_t *arr = parse_array(text, elem);
            if (arr)
                return arr;
        }
        return json_stringn(text, len);
    }
}

/* Parses one "{...}" level starting at *pp (which points at '{'). */
static json_t *parse_level(const char **pp, unsigned elem, int depth)
{
    const char *p = *pp;
    if (*p != '{' || depth > 6)
        return NULL;
    p++;
    json_t *arr = json_array();
    char *buf = NULL;
    size_t cap = 0;
    if (!arr)
        return NULL;
    if (*p == '}') {
        *pp = p + 1;
        return arr;
    }
    for (;;) {
        json_t *v = NULL;
        if (*p == '{') {
            v = parse_level(&p, elem, depth + 1);
            if (!v)
                goto bad;
        } else {
            size_t n = 0;
            bool quoted = false;
            if (*p == '"') {
                quoted = true;
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1])
                        p++;
                    if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 64;
                        char *nb = realloc(buf, cap);
                        if (!nb)
                            goto bad;
                        buf = nb;
                    }
                    buf[n++] = *p++;
                }
                if (*p != '"')
                    goto bad;
                p++;
            } else {
                while (*p && *p != ',' && *p != '}') {
                    if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 64;
                        char *nb = realloc(buf, cap);
                        if (!nb)
                            goto bad;
                        buf = nb;
                    }
                    buf[n++] = *p++;
                }
            }
            if (!buf) {
                buf = malloc(1);
                if (!buf)
                    goto bad;
                cap = 1;
            }
            buf[n] = '\0';
            if (!quoted && strcmp(buf, "NULL") == 0)
                v = json_null();
            else
                v = dbev_sql_value_to_json(elem, buf, n);
            if (!v)
                goto bad;
        }
        json_array_append_new(arr, v);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}') {
            p++;
            break;
        }
        goto bad;
    }
    free(buf);
    *pp = p;
    return arr;
bad:
    free(buf);
    json_decref(arr);
    return NULL;
}

/* Parses a PostgreSQL array literal ("{1,2,NULL}", "{{a,b},{c,d}}",
 * "[0:1]={x,y}") converting each element with dbev_sql_value_to_json(elem_oid);
 * NULL when the text is not an array literal. */
static json_t *parse_array(const char *text, unsigned elem_oid)
{
    const char *p = text;
    if (*p == '[') { /* explicit bounds: "[0:1]={...}" */
        p = strchr(p, '=');
        if (!p)
            return NULL;
        p++;
    }
    json_t *arr = parse_level(&p, elem_oid, 0);
    if (arr && *p != '\0') {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *dbev_sql_rows_to_json(const PGresult *res, int64_t max_rows, bool *truncated)
{
    int nrows = PQntuples(res);
    int ncols = PQnfields(res);
    *truncated = false;
    if (max_rows > 0 && nrows > max_rows) {
        nrows = (int)max_rows;
        *truncated = true;
    }
    json_t *rows = json_array();
    if (!rows)
        return NULL;
    for (int r = 0; r < nrows; r++) {
        json_t *row = json_object();
        if (!row || json_array_append_new(rows, row)) {
            json_decref(rows);
            return NULL;
        }
        for (int c = 0; c < ncols; c++) {
            json_t *v;
            if (PQgetisnull(res, r, c))
                v = json_null();
            else
                v = dbev_sql_value_to_json(PQftype(res, c), PQgetvalue(res, r, c),
                                           (size_t)PQgetlength(res, r, c));
            if (!v || json_object_set_new(row, PQfname(res, c), v)) {
                json_decref(rows);
                return NULL;
            }
        }
    }
    return rows;
}
