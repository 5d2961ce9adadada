/*
 * Identifier checks with field paths, and the column lists built from
 * identifiers. The grammar (plain names, reserved schemas) is the SQL rules'
 * (sql/src/ident.c); the protocol refuses anything else at decode time, so
 * the client hears of it before sending and the adapter before building.
 * Also the small JSON helpers (type names, depth, timestamp shape).
 */
#include "proto_int.h"

#include <dbev/sql.h>
#include <dbev_common.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void proto_pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

const char *proto_json_type(const json_t *v)
{
    if (!v)
        return "missing";
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/* The grammar itself is the SQL rules' (dbev_sql_ident_check), shared with
 * the adapter's SQL builder; this adds the field path and how to fix it. */
int proto_ident_check(const char *ident, bool qualified, const char *path, char *errstr,
                      size_t size)
{
    const char *hint = qualified ? "a table is `name` or `schema.name`, each part "
                                   "[A-Za-z_][A-Za-z0-9_$]* (at most 63 bytes)"
                                 : "a column is a plain name [A-Za-z_][A-Za-z0-9_$]* "
                                   "(at most 63 bytes)";
    char why[256];
    if (dbev_sql_ident_check(ident, qualified ? DBEV_SQL_IDENT_TABLE : DBEV_SQL_IDENT_COLUMN, why,
                             sizeof(why)) == 0)
        return 0;
    if (strncmp(why, "table ", 6) == 0) /* a reserved schema: the grammar is not the problem */
        return dbev_seterr(errstr, size, "%s: %s", path, why);
    return dbev_seterr(errstr, size, "%s: %s; %s", path, why, hint);
}

static int returning_add(json_t *names, const char *name, size_t len, const char *path,
                         char *errstr, size_t size)
{
    char buf[PROTO_IDENT_MAX + 1];
    if (len > PROTO_IDENT_MAX)
        return dbev_seterr(errstr, size,
                           "%s: invalid identifier \"%.*s...\": it is %zu bytes long, PostgreSQL "
                           "keeps at most %d",
                           path, 32, name, len, PROTO_IDENT_MAX);
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (strcmp(buf, "*") == 0) {
        if (json_array_size(names) > 0)
            return dbev_seterr(errstr, size,
                               "%s: \"*\" must be alone (it already returns every column)", path);
        json_array_append_new(names, json_string("*"));
        return 0;
    }
    if (json_array_size(names) == 1 &&
        strcmp(json_string_value(json_array_get(names, 0)), "*") == 0)
        return dbev_seterr(errstr, size,
                           "%s: \"*\" must be alone (it already returns every column)", path);
    if (proto_ident_check(buf, false, path, errstr, size) < 0)
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (strcmp(json_string_value(v), buf) == 0)
            return dbev_seterr(errstr, size, "%s: column \"%s\" listed twice", path, buf);
    }
    json_array_append_new(names, json_string(buf));
    return 0;
}

int proto_returning_normalise(const json_t *value, const char *path, json_t **out, char *errstr,
                              size_t size)
{
    char ipath[PROTO_PATH_SIZE];
    json_t *names = json_array();
    if (!names)
        return dbev_seterr(errstr, size, "%s: out of memory", path);
    if (json_is_string(value)) {
        const char *s = json_string_value(value);
        size_t slen = json_string_length(value);
        if (strlen(s) != slen) {
            json_decref(names);
            return dbev_seterr(errstr, size, "%s: contains a NUL character", path);
        }
        const char *p = s;
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            const char *start = p;
            while (*p && *p != ',')
                p++;
            const char *end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            if (end == start) {
                json_decref(names);
                if (slen == 0 || strspn(s, " \t") == slen)
                    return dbev_seterr(errstr, size,
                                       "%s: empty; name columns (\"id\", \"a, b\", \"*\") or "
                                       "omit the field for no RETURNING clause",
                                       path);
                return dbev_seterr(errstr, size,
                                   "%s: empty column name in \"%.64s\"; separate names with "
                                   "single commas",
                                   path, s);
            }
            if (returning_add(names, start, (size_t)(end - start), path, errstr, size) < 0) {
                json_decref(names);
                return -1;
            }
            if (*p != ',')
                break;
            p++;
        }
        *out = names;
        return 0;
    }
    if (json_is_array(value)) {
        if (json_array_size(value) == 0) {
            json_decref(names);
            return dbev_seterr(errstr, size,
                               "%s: empty array; name at least one column (or \"*\"), or omit "
                               "the field for no RETURNING clause",
                               path);
        }
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v)
        {
            proto_pathf(ipath, sizeof(ipath), "%s[%zu]", path, i);
            if (!json_is_string(v)) {
                json_decref(names);
                return dbev_seterr(errstr, size, "%s: must be a column name string, got %s", ipath,
                                   proto_json_type(v));
            }
            const char *s = json_string_value(v);
            if (strlen(s) != json_string_length(v)) {
                json_decref(names);
                return dbev_seterr(errstr, size, "%s: contains a NUL character", ipath);
            }
            if (returning_add(names, s, strlen(s), ipath, errstr, size) < 0) {
                json_decref(names);
                return -1;
            }
        }
        *out = names;
        return 0;
    }
    json_decref(names);
    return dbev_seterr(errstr, size,
                       "%s: must be a string (\"id\", \"a, b\", \"*\") or an array of column "
                       "names, got %s",
                       path, proto_json_type(value));
}

int proto_column_list_check(const json_t *value, const char *path, char *errstr, size_t size)
{
    char ipath[PROTO_PATH_SIZE];
    if (!json_is_array(value))
        return dbev_seterr(errstr, size, "%s: must be an array of column names, got %s", path,
                           proto_json_type(value));
    if (json_array_size(value) == 0)
        return dbev_seterr(errstr, size, "%s: empty array; name at least one column", path);
    size_t i;
    json_t *v;
    json_array_foreach(value, i, v)
    {
        proto_pathf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (!json_is_string(v))
            return dbev_seterr(errstr, size, "%s: must be a column name string, got %s", ipath,
                               proto_json_type(v));
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return dbev_seterr(errstr, size, "%s: contains a NUL character", ipath);
        if (proto_ident_check(s, false, ipath, errstr, size) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(value, j)), s) == 0)
                return dbev_seterr(errstr, size, "%s: column \"%s\" listed twice", ipath, s);
    }
    return 0;
}

int proto_json_depth(const json_t *v)
{
    int deepest = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            int d = proto_json_depth(child);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child)
        {
            int d = proto_json_depth(child);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

static bool digits(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

bool proto_iso8601_shape_ok(const char *t)
{
    /* YYYY-MM-DDTHH:MM:SS */
    if (strlen(t) < 19 || !digits(t, 4) || t[4] != '-' || !digits(t + 5, 2) || t[7] != '-' ||
        !digits(t + 8, 2) || t[10] != 'T' || !digits(t + 11, 2) || t[13] != ':' ||
        !digits(t + 14, 2) || t[16] != ':' || !digits(t + 17, 2))
        return false;
    const char *p = t + 19;
    if (*p == '.') {
        p++;
        if (!digits(p, 1))
            return false;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            p++;
            if (++n > 9)
                return false;
        }
    }
    if (*p == '\0')
        return true;
    if (*p == 'Z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-')
        return digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && p[6] == '\0';
    return false;
}
