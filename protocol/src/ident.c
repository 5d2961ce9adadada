/*
 * Syntactic checks on identifiers and the column lists built from them.
 * The adapter quotes every identifier it puts into SQL, but the protocol
 * refuses anything that is not a plain name first: a request naming
 * `users; DROP TABLE x` or `"quoted"` is a bug or an attack, and saying so
 * early is better than letting a quoted oddity reach the database.
 * Also the small JSON helpers (type names, depth, timestamp shape).
 */
#include "proto_int.h"

#include <dbev_common.h>

#include <ctype.h>
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

static bool ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* Checks one part [start, end); returns NULL when fine, else the problem. */
static const char *ident_part_problem(const char *start, size_t len, char *why, size_t size)
{
    if (len == 0)
        return "is empty";
    if (len > PROTO_IDENT_MAX) {
        proto_pathf(why, size, "is %zu bytes long, PostgreSQL keeps at most %d", len,
                    PROTO_IDENT_MAX);
        return why;
    }
    if (!ident_start((unsigned char)start[0])) {
        proto_pathf(why, size, "must start with a letter or '_', not '%c'",
                    isprint((unsigned char)start[0]) ? start[0] : '?');
        return why;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)start[i];
        if (!ident_char(c)) {
            if (isprint(c))
                proto_pathf(why, size, "contains '%c' at offset %zu", c, i);
            else
                proto_pathf(why, size, "contains byte 0x%02x at offset %zu", c, i);
            return why;
        }
    }
    return NULL;
}

int proto_ident_check(const char *ident, bool qualified, const char *path, char *errstr,
                      size_t size)
{
    const char *hint = qualified ? "a table is `name` or `schema.name`, each part "
                                   "[A-Za-z_][A-Za-z0-9_$]* (at most 63 bytes)"
                                 : "a column is a plain name [A-Za-z_][A-Za-z0-9_$]* "
                                   "(at most 63 bytes)";
    char why[96];
    const char *problem;
    size_t len = strlen(ident);
    if (len == 0)
        return dbev_seterr(errstr, size, "%s: identifier is empty; %s", path, hint);
    const char *dot = qualified ? memchr(ident, '.', len) : NULL;
    if (dot) {
        problem = ident_part_problem(ident, (size_t)(dot - ident), why, sizeof(why));
        if (problem)
            return dbev_seterr(errstr, size, "%s: invalid identifier \"%.64s\": schema %s; %s",
                               path, ident, problem, hint);
        const char *name = dot + 1;
        problem = ident_part_problem(name, len - (size_t)(name - ident), why, sizeof(why));
        if (problem)
            return dbev_seterr(errstr, size, "%s: invalid identifier \"%.64s\": name %s; %s", path,
                               ident, problem, hint);
        return 0;
    }
    problem = ident_part_problem(ident, len, why, sizeof(why));
    if (problem)
        return dbev_seterr(errstr, size, "%s: invalid identifier \"%.64s\": it %s; %s", path, ident,
                           problem, hint);
    return 0;
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
