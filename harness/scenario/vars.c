/*
 * Placeholder substitution for scenario steps (see vars.h for the syntax).
 * Random values come from a seeded xorshift generator so that a failing run
 * can be replayed exactly with the same --seed.
 */
#include "scenario/vars.h"

#include "dbev_common.h"

#include <dbev/protocol.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vars {
    pthread_mutex_t lock; /* parallel steps share one set */
    json_t *saved;        /* name -> value, captured with save: */
    json_t *uuids;        /* name -> string, for ${uuid:name} */
    int64_t seq;
    uint64_t rng;
};

vars_t *vars_new(uint64_t seed)
{
    vars_t *vars = calloc(1, sizeof(*vars));
    if (!vars)
        return NULL;
    vars->saved = json_object();
    vars->uuids = json_object();
    vars->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    pthread_mutex_init(&vars->lock, NULL);
    return vars;
}

void vars_destroy(vars_t *vars)
{
    if (!vars)
        return;
    json_decref(vars->saved);
    json_decref(vars->uuids);
    pthread_mutex_destroy(&vars->lock);
    free(vars);
}

int vars_set(vars_t *vars, const char *name, json_t *value)
{
    pthread_mutex_lock(&vars->lock);
    int rc = json_object_set(vars->saved, name, value);
    pthread_mutex_unlock(&vars->lock);
    return rc;
}

json_t *vars_get(const vars_t *vars, const char *name)
{
    return json_object_get(vars->saved, name);
}

static uint64_t next_random(vars_t *vars)
{
    uint64_t x = vars->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    vars->rng = x;
    return x;
}

/* The names a vars_substitute_with() call binds; none for vars_substitute(). */
typedef struct scope {
    const vars_binding_t *bindings;
    size_t n;
} scope_t;

/* Resolves one placeholder body (the text between "${" and "}") to a new
 * reference: a name the call binds first, then the built-ins and saved values. */
static json_t *resolve(vars_t *vars, const scope_t *scope, const char *body, char *errstr,
                       size_t size)
{
    for (size_t i = 0; i < scope->n; i++)
        if (strcmp(body, scope->bindings[i].name) == 0)
            return json_incref((json_t *)scope->bindings[i].value);
    char uuid[40];
    if (strcmp(body, "uuid") == 0) {
        dbev_uuid_new(uuid);
        return json_string(uuid);
    }
    if (strncmp(body, "uuid:", 5) == 0) {
        json_t *known = json_object_get(vars->uuids, body + 5);
        if (!known) {
            dbev_uuid_new(uuid);
            known = json_string(uuid);
            json_object_set_new(vars->uuids, body + 5, known);
        }
        return json_incref(known);
    }
    if (strcmp(body, "seq") == 0)
        return json_integer(++vars->seq);
    if (strcmp(body, "now") == 0) {
        char ts[DBEV_ISO8601_SIZE];
        return json_string(dbev_iso8601(dbev_wall_us(), ts, sizeof(ts)));
    }
    if (strncmp(body, "rand:", 5) == 0) {
        long long lo, hi;
        if (sscanf(body + 5, "%lld..%lld", &lo, &hi) != 2 || hi < lo) {
            dbev_seterr(errstr, size, "${%s}: write ${rand:LO..HI} with LO <= HI", body);
            return NULL;
        }
        uint64_t span = (uint64_t)(hi - lo) + 1;
        return json_integer(lo + (long long)(next_random(vars) % span));
    }
    if (strncmp(body, "repeat:", 7) == 0) {
        /* Huge or deeply nested input for hostile scenarios, without a
         * megabyte of YAML: ${repeat:100000:[} is 100,000 '['. */
        char *end;
        long long n = strtoll(body + 7, &end, 10);
        size_t unit = *end == ':' ? strlen(end + 1) : 0;
        if (end == body + 7 || *end != ':' || n < 0 || unit == 0 ||
            (unsigned long long)n * unit > VARS_REPEAT_MAX) {
            dbev_seterr(errstr, size,
                        "${%s}: write ${repeat:N:TEXT} with N >= 0, TEXT not empty and at most "
                        "%d bytes in all",
                        body, VARS_REPEAT_MAX);
            return NULL;
        }
        char *text = malloc((size_t)n * unit + 1);
        if (!text) {
            dbev_seterr(errstr, size, "${%s}: out of memory", body);
            return NULL;
        }
        for (long long i = 0; i < n; i++)
            memcpy(text + (size_t)i * unit, end + 1, unit);
        text[(size_t)n * unit] = '\0';
        json_t *value = json_stringn(text, (size_t)n * unit);
        free(text);
        return value;
    }
    /* A captured value, possibly with a path: ${row.id} or ${rows[0].id}. */
    char name[128];
    size_t n = strcspn(body, ".[");
    if (n == 0 || n >= sizeof(name)) {
        dbev_seterr(errstr, size, "${%s}: not a variable name", body);
        return NULL;
    }
    memcpy(name, body, n);
    name[n] = '\0';
    json_t *value = vars_get(vars, name);
    if (value && body[n])
        value = vars_path_get(value, body[n] == '.' ? body + n + 1 : body + n);
    if (!value) {
        dbev_seterr(errstr, size,
                    "${%s}: no such variable; capture it first with `save:` in an earlier step",
                    body);
        return NULL;
    }
    return json_incref(value);
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t grown = (*cap ? *cap * 2 : 64);
        while (grown < *len + n + 1)
            grown *= 2;
        char *p = realloc(*buf, grown);
        if (!p)
            return -1;
        *buf = p;
        *cap = grown;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static json_t *substitute_string(vars_t *vars, const scope_t *scope, const char *text, char *errstr,
                                 size_t size)
{
    const char *open = strstr(text, "${");
    if (!open)
        return json_string(text); /* substitute() keeps such strings whole (NULs included) */
    const char *close = strchr(open, '}');
    if (open == text && close && close[1] == '\0') {
        /* The whole string is one placeholder: keep the value's type. */
        char body[256];
        size_t n = (size_t)(close - open - 2);
        if (n >= sizeof(body)) {
            dbev_seterr(errstr, size, "placeholder too long in '%s'", text);
            return NULL;
        }
        memcpy(body, open + 2, n);
        body[n] = '\0';
        return resolve(vars, scope, body, errstr, size);
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    const char *p = text;
    while ((open = strstr(p, "${")) != NULL) {
        close = strchr(open, '}');
        if (!close) {
            free(out);
            dbev_seterr(errstr, size, "unterminated ${ in '%s'", text);
            return NULL;
        }
        char body[256];
        size_t n = (size_t)(close - open - 2);
        if (n >= sizeof(body)) {
            free(out);
            dbev_seterr(errstr, size, "placeholder too long in '%s'", text);
            return NULL;
        }
        memcpy(body, open + 2, n);
        body[n] = '\0';
        json_t *value = resolve(vars, scope, body, errstr, size);
        if (!value) {
            free(out);
            return NULL;
        }
        char *printed = json_is_string(value) ? strdup(json_string_value(value))
                                              : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(value);
        append(&out, &len, &cap, p, (size_t)(open - p));
        if (printed)
            append(&out, &len, &cap, printed, strlen(printed));
        free(printed);
        p = close + 1;
    }
    append(&out, &len, &cap, p, strlen(p));
    json_t *result = json_string(out ? out : "");
    free(out);
    return result;
}

static json_t *substitute(vars_t *vars, const scope_t *scope, const json_t *template_value,
                          char *errstr, size_t size);

json_t *vars_substitute(vars_t *vars, const json_t *template_value, char *errstr, size_t size)
{
    return vars_substitute_with(vars, template_value, NULL, 0, errstr, size);
}

json_t *vars_substitute_with(vars_t *vars, const json_t *template_value,
                             const vars_binding_t *bindings, size_t n_bindings, char *errstr,
                             size_t size)
{
    scope_t scope = {bindings, n_bindings};
    pthread_mutex_lock(&vars->lock);
    json_t *out = substitute(vars, &scope, template_value, errstr, size);
    pthread_mutex_unlock(&vars->lock);
    return out;
}

json_int_t vars_next_seq(vars_t *vars)
{
    pthread_mutex_lock(&vars->lock);
    json_int_t seq = ++vars->seq;
    pthread_mutex_unlock(&vars->lock);
    return seq;
}

static json_t *substitute(vars_t *vars, const scope_t *scope, const json_t *template_value,
                          char *errstr, size_t size)
{
    json_t *value = (json_t *)template_value;
    if (json_is_string(value) && !strstr(json_string_value(value), "${"))
        return json_deep_copy(value); /* as it is, even with a NUL inside */
    if (json_is_string(value))
        return substitute_string(vars, scope, json_string_value(value), errstr, size);
    if (json_is_array(value)) {
        json_t *copy = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(value, i, item)
        {
            json_t *sub = substitute(vars, scope, item, errstr, size);
            if (!sub) {
                json_decref(copy);
                return NULL;
            }
            json_array_append_new(copy, sub);
        }
        return copy;
    }
    if (json_is_object(value)) {
        json_t *copy = json_object();
        const char *key;
        json_t *item;
        json_object_foreach(value, key, item)
        {
            json_t *sub = substitute(vars, scope, item, errstr, size);
            if (!sub) {
                json_decref(copy);
                return NULL;
            }
            json_object_set_new(copy, key, sub);
        }
        return copy;
    }
    return json_deep_copy(value);
}

json_t *vars_path_get(json_t *value, const char *path)
{
    const char *p = path;
    while (value && *p) {
        if (*p == '.') {
            p++;
        } else if (*p == '[') {
            char *end;
            long index = strtol(p + 1, &end, 10);
            if (*end != ']' || index < 0)
                return NULL;
            value = json_array_get(value, (size_t)index);
            p = end + 1;
        } else {
            char key[128];
            size_t n = strcspn(p, ".[");
            if (n >= sizeof(key))
                return NULL;
            memcpy(key, p, n);
            key[n] = '\0';
            value = json_object_get(value, key);
            p += n;
        }
    }
    return value;
}
