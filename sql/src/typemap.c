/*
 * Type mapping (see typemap.h). Results come in text format; each value is
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
    {1000, TM_BOOLOID},   {1005, TM_INT2OID},      {1007, TM_INT4OID},        {1016, TM_INT8OID},
    {1009, TM_TEXTOID},   {1015, TM_VARCHAROID},   {1014, TM_BPCHAROID},      {1021, TM_FLOAT4OID},
    {1022, TM_FLOAT8OID}, {1231, TM_NUMERICOID},   {2951, TM_UUIDOID},        {199, TM_JSONOID},
    {3807, TM_JSONBOID},  {1115, TM_TIMESTAMPOID}, {1185, TM_TIMESTAMPTZOID}, {1182, TM_DATEOID},
    {1028, TM_OIDOID},    {1003, 19 /* name */},
};

unsigned tm_array_elem(unsigned oid)
{
    for (size_t i = 0; i < sizeof(array_types) / sizeof(array_types[0]); i++)
        if (array_types[i].array == oid)
            return array_types[i].elem;
    return 0;
}

json_t *tm_numeric(const char *text)
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

void tm_timestamp_iso(const char *text, char *out, size_t size)
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

json_t *tm_value(unsigned oid, const char *text, size_t len)
{
    unsigned elem;
    switch (oid) {
    case TM_INT2OID:
    case TM_INT4OID:
    case TM_INT8OID:
    case TM_OIDOID:
        return json_integer(strtoll(text, NULL, 10));
    case TM_FLOAT4OID:
    case TM_FLOAT8OID: {
        char *end;
        double d = strtod(text, &end);
        if (end == text || *end || d != d)
            return json_string(text); /* NaN, Infinity: JSON has no such numbers */
        if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308)
            return json_string(text);
        return json_real(d);
    }
    case TM_NUMERICOID:
        return tm_numeric(text);
    case TM_BOOLOID:
        return json_boolean(text[0] == 't');
    case TM_JSONOID:
    case TM_JSONBOID: {
        json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        return v ? v : json_stringn(text, len);
    }
    case TM_TIMESTAMPOID:
    case TM_TIMESTAMPTZOID: {
        char buf[96];
        if (len + 8 > sizeof(buf))
            return json_stringn(text, len);
        tm_timestamp_iso(text, buf, sizeof(buf));
        return json_string(buf);
    }
    default:
        elem = tm_array_elem(oid);
        if (elem) {
            json_t *arr = tm_parse_array(text, elem);
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
                v = tm_value(elem, buf, n);
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

json_t *tm_parse_array(const char *text, unsigned elem_oid)
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

json_t *tm_rows(const PGresult *res, int64_t max_rows, bool *truncated)
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
                v = tm_value(PQftype(res, c), PQgetvalue(res, r, c),
                             (size_t)PQgetlength(res, r, c));
            if (!v || json_object_set_new(row, PQfname(res, c), v)) {
                json_decref(rows);
                return NULL;
            }
        }
    }
    return rows;
}
