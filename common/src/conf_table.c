/*
 * The configuration engine (dbev_conf_table.h): everything the adapter's and
 * the client's configurations do with their property tables, written once.
 * Values are kept as the text they were set with and parsed when read, so
 * get returns exactly what was set and an environment value is checked by the
 * same code as an explicit one (at validate time: the environment may change
 * between set and use).
 */
#include "dbev_conf_table.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* --- parsing ------------------------------------------------------------ */

/* A decimal int64; the whole text must be the number (spaces before it are
 * allowed, as strtoll does). */
static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

/* Whether value is one of the comma-separated words of list. */
static bool list_has(const char *list, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* --- the table ---------------------------------------------------------- */

static bool is_renamed(const dbev_prop_t *p)
{
    return p->renamed_to != NULL;
}

static const dbev_prop_t *find_row(const dbev_conf_table_t *table, const char *key, size_t *idx)
{
    for (size_t i = 0; i < table->n_props; i++)
        if (strcmp(table->props[i].name, key) == 0) {
            if (idx)
                *idx = i;
            return &table->props[i];
        }
    return NULL;
}

const dbev_prop_t *dbev_conf_table_find(const dbev_conf_table_t *table, const char *key,
                                        size_t *idx, const dbev_prop_t **renamed)
{
    const dbev_prop_t *p = find_row(table, key, idx);
    if (renamed)
        *renamed = NULL;
    if (p && is_renamed(p)) {
        if (renamed)
            *renamed = p;
        /* A renamed row pointing at another renamed row, or nowhere, is a
         * table bug; the engine's unit test walks every table's rows. */
        p = find_row(table, p->renamed_to, idx);
        if (p && is_renamed(p))
            p = NULL;
    }
    return p;
}

/* The range a row allows, as the docs show it (markdown: code in backticks). */
static void range_text(const dbev_prop_t *p, bool markdown, char *buf, size_t size)
{
    buf[0] = '\0';
    switch (p->type) {
    case DBEV_PROP_INT:
        if (p->max == DBEV_PROP_NO_MAX)
            snprintf(buf, size, "%" PRId64 "..", p->min);
        else
            snprintf(buf, size, "%" PRId64 "..%" PRId64, p->min, p->max);
        break;
    case DBEV_PROP_BOOL:
        snprintf(buf, size, "true,false");
        break;
    case DBEV_PROP_ENUM:
        snprintf(buf, size, "%s", p->allowed);
        break;
    case DBEV_PROP_STR: {
        size_t len = 0;
        if (p->max > 0 && p->min > 0)
            len =
                (size_t)snprintf(buf, size, "%" PRId64 "..%" PRId64 " characters", p->min, p->max);
        else if (p->max > 0)
            len = (size_t)snprintf(buf, size, "at most %" PRId64 " characters", p->max);
        else if (p->min > 0)
            len = (size_t)snprintf(buf, size, "not empty");
        if (p->allowed && len < size)
            snprintf(buf + len, size - len, "%sletters, digits, %s%s%s", len ? "; " : "",
                     markdown ? "`" : "", p->allowed, markdown ? "`" : "");
        break;
    }
    }
}

static const char *type_name(const dbev_prop_t *p)
{
    switch (p->type) {
    case DBEV_PROP_INT:
        return "integer";
    case DBEV_PROP_BOOL:
        return "boolean";
    case DBEV_PROP_ENUM:
        return "enum";
    case DBEV_PROP_STR:
        break;
    }
    return "string";
}

int dbev_conf_table_check(const dbev_prop_t *p, const char *label, const char *value, char *errstr,
                          size_t size)
{
    const char *shown = p->secret ? "***" : value;
    switch (p->type) {
    case DBEV_PROP_INT: {
        int64_t v;
        if (!*value && !*p->def)
            return 0; /* unset: the underlying library's default */
        if (parse_i64(value, &v)) {
            if (p->max == DBEV_PROP_NO_MAX)
                return dbev_seterr(errstr, size,
                                   "%s: \"%s\" is not an integer; give a whole number of at "
                                   "least %" PRId64,
                                   label, shown, p->min);
            return dbev_seterr(errstr, size,
                               "%s: \"%s\" is not an integer; give a whole number in %" PRId64
                               "..%" PRId64,
                               label, shown, p->min, p->max);
        }
        if (v < p->min || v > p->max) {
            if (p->max == DBEV_PROP_NO_MAX)
                return dbev_seterr(errstr, size,
                                   "%s: %s is out of range; give a value of at least %" PRId64,
                                   label, p->secret ? "***" : value, p->min);
            return dbev_seterr(errstr, size,
                               "%s: %s is out of range; give a value in %" PRId64 "..%" PRId64,
                               label, p->secret ? "***" : value, p->min, p->max);
        }
        return 0;
    }
    case DBEV_PROP_BOOL: {
        bool b;
        if (parse_bool(value, &b))
            return dbev_seterr(errstr, size, "%s: \"%s\" is not a boolean; give true or false",
                               label, shown);
        return 0;
    }
    case DBEV_PROP_ENUM:
        if (!list_has(p->allowed, value))
            return dbev_seterr(errstr, size, "%s: \"%s\" is not allowed; give one of %s", label,
                               shown, p->allowed);
        return 0;
    case DBEV_PROP_STR:
        break;
    }
    size_t len = strlen(value);
    if (!len && p->min > 0)
        return dbev_seterr(errstr, size, "%s: must not be empty; give a value", label);
    if (p->max == 0 && (int64_t)len < p->min)
        return dbev_seterr(errstr, size,
                           "%s: is %zu characters long; give at least %" PRId64 " characters",
                           label, len, p->min);
    if (p->max > 0 && ((int64_t)len < p->min || (int64_t)len > p->max))
        return dbev_seterr(errstr, size,
                           "%s: is %zu characters long; give %" PRId64 " to %" PRId64 " characters",
                           label, len, p->min, p->max);
    if (p->allowed)
        for (const char *c = value; *c; c++)
            if (!isalnum((unsigned char)*c) && !strchr(p->allowed, *c))
                return dbev_seterr(errstr, size,
                                   "%s: \"%s\" holds '%c'; use only letters, digits and "
                                   "\"%s\"",
                                   label, shown, p->secret ? '*' : *c, p->allowed);
    return 0;
}

void dbev_conf_table_markdown(const dbev_conf_table_t *table, FILE *fp)
{
    char range[192];
    fprintf(fp, "| key | type | default | range | environment | description |\n"
                "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < table->n_props; i++) {
        const dbev_prop_t *p = &table->props[i];
        if (is_renamed(p))
            continue;
        range_text(p, true, range, sizeof(range));
        bool def = *p->def != '\0';
        fprintf(fp, "| `%s` | %s | %s%s%s | %s | %s%s%s | %s |\n", p->name, type_name(p),
                def ? "`" : "", def ? p->def : "(unset)", def ? "`" : "", range, p->env ? "`" : "",
                p->env ? p->env : "", p->env ? "`" : "", p->desc);
    }
    for (size_t i = 0; i < table->n_props; i++) {
        const dbev_prop_t *p = &table->props[i];
        if (is_renamed(p))
            fprintf(fp,
                    "| `%s` | | | | | Deprecated: renamed to `%s`; set that instead (the old "
                    "name still works and logs a warning). |\n",
                    p->name, p->renamed_to);
    }
}

void dbev_conf_table_help(const dbev_conf_table_t *table, FILE *fp)
{
    char range[192];
    for (size_t i = 0; i < table->n_props; i++) {
        const dbev_prop_t *p = &table->props[i];
        if (is_renamed(p))
            continue;
        range_text(p, false, range, sizeof(range));
        fprintf(fp, "  %-28s %s, default %s%s%s%s%s\n      %s\n", p->name, type_name(p),
                *p->def ? p->def : "(unset)", *range ? ", range " : "", range,
                p->env ? ", env " : "", p->env ? p->env : "", p->desc);
    }
    for (size_t i = 0; i < table->n_props; i++) {
        const dbev_prop_t *p = &table->props[i];
        if (is_renamed(p))
            fprintf(fp, "  %-28s deprecated: renamed to %s\n", p->name, p->renamed_to);
    }
}

/* --- values ------------------------------------------------------------- */

int dbev_prop_values_init(dbev_prop_values_t *values, const dbev_conf_table_t *table)
{
    memset(values, 0, sizeof(*values));
    values->table = table;
    values->logger.component = table->component;
    values->logger.level = DBEV_LOG_DEBUG;
    values->vals = calloc(table->n_props ? table->n_props : 1, sizeof(*values->vals));
    values->warned = calloc(table->n_props ? table->n_props : 1, sizeof(*values->warned));
    return values->vals && values->warned ? 0 : -1;
}

void dbev_prop_values_clear(dbev_prop_values_t *values)
{
    if (!values || !values->table)
        return;
    for (size_t i = 0; values->vals && i < values->table->n_props; i++)
        free(values->vals[i]);
    for (size_t i = 0; i < values->n_pt; i++) {
        free(values->pt[i].key);
        free(values->pt[i].value);
    }
    free(values->vals);
    free(values->warned);
    free(values->pt);
    memset(values, 0, sizeof(*values));
}

/* Adds, replaces or (value NULL) removes a pass-through entry. Removal keeps
 * the order of the others: the component applies them in order, and where
 * two entries reach the same library property the later one wins. */
static int passthrough_put(dbev_prop_values_t *values, const char *key, const char *value)
{
    for (size_t i = 0; i < values->n_pt; i++) {
        if (strcmp(values->pt[i].key, key) != 0)
            continue;
        if (!value) {
            free(values->pt[i].key);
            free(values->pt[i].value);
            memmove(&values->pt[i], &values->pt[i + 1],
                    (values->n_pt - i - 1) * sizeof(values->pt[0]));
            values->n_pt--;
            return 0;
        }
        char *v = strdup(value);
        if (!v)
            return -1;
        free(values->pt[i].value);
        values->pt[i].value = v;
        return 0;
    }
    if (!value)
        return 0;
    dbev_prop_kv_t *grown = realloc(values->pt, (values->n_pt + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    values->pt = grown;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    values->pt[values->n_pt++] = (dbev_prop_kv_t){k, v};
    return 0;
}

int dbev_prop_values_copy(dbev_prop_values_t *dst, const dbev_prop_values_t *src)
{
    for (size_t i = 0; i < src->table->n_props; i++) {
        dst->warned[i] = src->warned[i];
        if (src->vals[i] && !(dst->vals[i] = strdup(src->vals[i])))
            return -1;
    }
    for (size_t i = 0; i < src->n_pt; i++)
        if (passthrough_put(dst, src->pt[i].key, src->pt[i].value))
            return -1;
    dst->logger = src->logger;
    return 0;
}

/* The key of the table closest to key by edit distance, if it is close
 * enough to be a typo (at most 2 edits); NULL otherwise. */
static const char *closest_key(const dbev_conf_table_t *table, const char *key)
{
    enum { MAXLEN = 64 };
    size_t n = strlen(key);
    if (n >= MAXLEN)
        return NULL;
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t r = 0; r < table->n_props; r++) {
        const char *name = table->props[r].name;
        size_t m = strlen(name);
        if (m >= MAXLEN || (m > n ? m - n : n - m) >= best_d)
            continue;
        size_t prev[MAXLEN + 1], cur[MAXLEN + 1];
        for (size_t j = 0; j <= m; j++)
            prev[j] = j;
        for (size_t i = 1; i <= n; i++) {
            cur[0] = i;
            for (size_t j = 1; j <= m; j++) {
                size_t sub = prev[j - 1] + (key[i - 1] != name[j - 1]);
                size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            }
            memcpy(prev, cur, sizeof(prev));
        }
        if (prev[m] < best_d) {
            best_d = prev[m];
            best = table->props[r].renamed_to ? table->props[r].renamed_to : name;
        }
    }
    return best;
}

dbev_prop_res_t dbev_prop_values_set(dbev_prop_values_t *values, const char *key, const char *value,
                                     char *errstr, size_t size)
{
    const dbev_conf_table_t *table = values->table;
    const dbev_prop_t *renamed;
    size_t idx;
    const dbev_prop_t *p = dbev_conf_table_find(table, key, &idx, &renamed);
    if (p) {
        char label[160];
        if (renamed) {
            size_t r = (size_t)(renamed - table->props);
            if (!values->warned[r]) {
                values->warned[r] = true;
                dbev_logf(&values->logger, DBEV_LOG_WARN, NULL,
                          "configuration key %s is deprecated: it was renamed to %s; set %s "
                          "instead (%s still works for now)",
                          renamed->name, p->name, p->name, renamed->name);
            }
            snprintf(label, sizeof(label), "%s (now %s)", renamed->name, p->name);
        } else {
            snprintf(label, sizeof(label), "%s", p->name);
        }
        if (value && dbev_conf_table_check(p, label, value, errstr, size))
            return DBEV_PROP_INVALID;
        char *copy = NULL;
        if (value && !(copy = strdup(value))) {
            dbev_seterr(errstr, size, "%s: out of memory", label);
            return DBEV_PROP_INVALID;
        }
        free(values->vals[idx]);
        values->vals[idx] = copy;
        return DBEV_PROP_OK;
    }
    for (const char *const *pre = table->passthrough_prefixes; pre && *pre; pre++) {
        if (!has_prefix(key, *pre))
            continue;
        if (!key[strlen(*pre)]) {
            dbev_seterr(errstr, size, "%s: a property name must follow \"%s\" (e.g. %sNAME)", key,
                        *pre, *pre);
            return DBEV_PROP_INVALID;
        }
        if (table->passthrough_check) {
            dbev_prop_res_t res = table->passthrough_check(key, value, errstr, size);
            if (res != DBEV_PROP_OK)
                return res;
        }
        if (passthrough_put(values, key, value)) {
            dbev_seterr(errstr, size, "%s: out of memory", key);
            return DBEV_PROP_INVALID;
        }
        return DBEV_PROP_OK;
    }
    const char *near = closest_key(table, key);
    if (near)
        dbev_seterr(errstr, size, "%s: unknown configuration key; did you mean %s? (%s)", key, near,
                    table->help_hint);
    else
        dbev_seterr(errstr, size, "%s: unknown configuration key (%s)", key, table->help_hint);
    return DBEV_PROP_UNKNOWN;
}

static bool env_enabled(const dbev_prop_values_t *values)
{
    size_t sw;
    const dbev_prop_t *p;
    if (!values->table->env_switch ||
        !(p = find_row(values->table, values->table->env_switch, &sw)))
        return true;
    bool on = true;
    if (!values->vals[sw] || parse_bool(values->vals[sw], &on))
        parse_bool(p->def, &on);
    return on;
}

/* The environment value of row idx when it applies (not set explicitly,
 * fallbacks enabled, variable set and not empty), else NULL. */
static const char *env_value(const dbev_prop_values_t *values, size_t idx)
{
    const dbev_prop_t *p = &values->table->props[idx];
    if (values->vals[idx] || !p->env || !env_enabled(values))
        return NULL;
    const char *e = getenv(p->env);
    return e && *e ? e : NULL;
}

const char *dbev_prop_values_value(const dbev_prop_values_t *values, size_t idx)
{
    if (values->vals[idx])
        return values->vals[idx];
    const char *e = env_value(values, idx);
    return e ? e : values->table->props[idx].def;
}

const char *dbev_prop_values_get(const dbev_prop_values_t *values, const char *key)
{
    size_t idx;
    if (dbev_conf_table_find(values->table, key, &idx, NULL))
        return dbev_prop_values_value(values, idx);
    for (size_t i = 0; i < values->n_pt; i++)
        if (!strcmp(values->pt[i].key, key))
            return values->pt[i].value;
    return NULL;
}

int64_t dbev_prop_values_int(const dbev_prop_values_t *values, size_t idx)
{
    const dbev_prop_t *p = &values->table->props[idx];
    if (p->type == DBEV_PROP_BOOL)
        return dbev_prop_values_bool(values, idx) ? 1 : 0;
    int64_t v = 0;
    if (parse_i64(dbev_prop_values_value(values, idx), &v) && parse_i64(p->def, &v))
        v = 0;
    return v;
}

bool dbev_prop_values_bool(const dbev_prop_values_t *values, size_t idx)
{
    bool b = false;
    if (parse_bool(dbev_prop_values_value(values, idx), &b) &&
        parse_bool(values->table->props[idx].def, &b))
        b = false;
    return b;
}

int dbev_prop_values_validate(const dbev_prop_values_t *values, char *errstr, size_t size)
{
    const dbev_conf_table_t *table = values->table;
    for (size_t i = 0; i < table->n_props; i++) {
        const dbev_prop_t *p = &table->props[i];
        if (is_renamed(p) || values->vals[i])
            continue;
        const char *e = env_value(values, i);
        char label[160];
        if (e)
            snprintf(label, sizeof(label), "%s (from environment variable %s)", p->name, p->env);
        else
            snprintf(label, sizeof(label), "%s (its default)", p->name);
        if (dbev_conf_table_check(p, label, e ? e : p->def, errstr, size))
            return -1;
    }
    return 0;
}

/* Pass-through keys are not in the table; these words mark the secret ones
 * (kafka.sasl.password, kafka.ssl.key.password, pg.password, ...). */
static bool passthrough_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "sasl") ||
           strstr(key, "ssl.key");
}

void dbev_prop_values_dump(const dbev_prop_values_t *values, FILE *fp)
{
    for (size_t i = 0; i < values->table->n_props; i++) {
        const dbev_prop_t *p = &values->table->props[i];
        if (is_renamed(p))
            continue;
        const char *v = dbev_prop_values_value(values, i);
        fprintf(fp, "%s=%s\n", p->name, p->secret && *v ? "***" : v);
    }
    for (size_t i = 0; i < values->n_pt; i++)
        fprintf(fp, "%s=%s\n", values->pt[i].key,
                passthrough_is_secret(values->pt[i].key) ? "***" : values->pt[i].value);
}

const dbev_prop_kv_t *dbev_prop_values_passthrough(const dbev_prop_values_t *values, size_t i)
{
    return i < values->n_pt ? &values->pt[i] : NULL;
}

const char *dbev_kafka_property_for(const char *name, bool consumer)
{
    if (!strncmp(name, "consumer.", 9))
        return consumer ? name + 9 : NULL;
    if (!strncmp(name, "producer.", 9))
        return consumer ? NULL : name + 9;
    return name;
}
