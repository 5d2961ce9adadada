/*
 * The adapter's configuration: one static property table (name, type,
 * default, range, environment fallback, description) drives everything the
 * configuration does: set and its validation, get with the fallback order
 * (explicit > environment > default), the dump with secrets masked, --help
 * and the Markdown reference docs/adapter-config.md. Adding a key means adding
 * one row here. Keys starting with "kafka." are checked against librdkafka
 * and passed through to it; other "pg." keys are checked against libpq's
 * keywords and passed through to the connection string.
 */
#include "adapter_loop.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PT_STR, PT_INT, PT_BOOL, PT_ENUM } prop_type_t;

typedef struct prop {
    const char *name;
    prop_type_t type;
    const char *def;   /* default as text; "" for unset (the library's own default) */
    int64_t min, max;  /* PT_INT range */
    const char *enums; /* PT_ENUM: allowed values, comma-separated */
    const char *env;   /* environment fallback, or NULL */
    bool secret;       /* never logged, dumped or echoed in errors */
    const char *desc;
} prop_t;

#define I64_MAX INT64_MAX

/* The property table. Keep it sorted by topic, not alphabetically: the help
 * output and the doc follow this order. */
static const prop_t props[] = {
    {"bootstrap.servers", PT_STR, "127.0.0.1:9092", 0, 0, NULL, "KAFKA_BOOTSTRAP_SERVERS", false,
     "Kafka brokers, HOST:PORT[,HOST:PORT...]."},
    {"topic.env", PT_STR, "dev", 0, 0, NULL, NULL, false,
     "Environment prefix of the topic names (dev: dev.omninode-bridge.database."
     "query-requested.v1 ...): letters, digits, '.', '_', '-'."},
    {"group.id", PT_STR, "database-adapter-effect", 0, 0, NULL, NULL, false,
     "Consumer group of the adapter instances; instances of one group share the request "
     "partitions."},
    {"instance.id", PT_STR, "", 0, 0, NULL, NULL, false,
     "Instance id announced on the registry topic; empty: a new UUID at each start."},
    {"batch.max", PT_INT, "500", 1, 100000, NULL, NULL, false,
     "Most requests consumed and executed as one batch."},
    {"inflight.max", PT_INT, "20000", 1, 1000000, NULL, NULL, false,
     "Most responses produced but not yet acknowledged by the broker; consumption pauses "
     "above it."},
    {"exec.lanes", PT_INT, "2", 1, 16, NULL, NULL, false,
     "Executor threads, each running its share of a batch on its own pooled connection: "
     "partition p goes to lane p % exec.lanes, so each partition keeps its order. At most "
     "pool.max."},
    {"heartbeat.interval.ms", PT_INT, "10000", 100, 3600000, NULL, NULL, false,
     "Interval between heartbeats (health: pool, breaker, counters) on the heartbeat topic."},
    {"shutdown.timeout.ms", PT_INT, "30000", 0, 3600000, NULL, NULL, false,
     "On stop, how long to wait for the broker to acknowledge the last responses before "
     "leaving without committing them (they are then redelivered)."},
    {"log.level", PT_ENUM, "info", 0, 0, "debug,info,warn,error", NULL, false,
     "Least severe level logged (one JSON line per event on stderr)."},
    {"env.fallback", PT_BOOL, "true", 0, 0, NULL, NULL, false,
     "Read the environment fallbacks (KAFKA_BOOTSTRAP_SERVERS, POSTGRES_*) for keys not set "
     "explicitly. Embedders that want isolation set it to false."},
    {"pg.conninfo", PT_STR, "", 0, 0, NULL, NULL, true,
     "libpq connection string or URI; the pg.* keys below override its fields."},
    {"pg.host", PT_STR, "", 0, 0, NULL, "POSTGRES_HOST", false,
     "PostgreSQL host name or unix socket directory; empty: libpq's default."},
    {"pg.port", PT_INT, "", 1, 65535, NULL, "POSTGRES_PORT", false,
     "PostgreSQL port; empty: libpq's default."},
    {"pg.dbname", PT_STR, "", 0, 0, NULL, "POSTGRES_DATABASE", false,
     "Database name; empty: libpq's default."},
    {"pg.user", PT_STR, "", 0, 0, NULL, "POSTGRES_USER", false,
     "Database user; empty: libpq's default."},
    {"pg.password", PT_STR, "", 0, 0, NULL, "POSTGRES_PASSWORD", true,
     "Database password. Never logged or dumped."},
    {"pg.allow.superuser", PT_BOOL, "false", 0, 0, NULL, NULL, false,
     "Start even when connected as a PostgreSQL superuser (a warning is logged). Callers' SELECT "
     "and EXECUTE run as the adapter's role, so a superuser adapter lets any caller read the "
     "server's files, run programs and create roles: connect as dbev_app (migration 007) "
     "instead. For tests and benches on throwaway servers; there the adapter also applies "
     "migration 007 itself when its records are missing."},
    {"pool.min", PT_INT, "5", 0, 1000, NULL, "POSTGRES_POOL_MIN_SIZE", false,
     "Connections opened at start and kept open."},
    {"pool.max", PT_INT, "20", 1, 1000, NULL, "POSTGRES_POOL_MAX_SIZE", false,
     "Most connections open at once."},
    {"pool.max.age.ms", PT_INT, "3600000", 0, I64_MAX, NULL, NULL, false,
     "Connections older than this are replaced when returned to the pool; 0: never."},
    {"pool.max.queries", PT_INT, "50000", 0, I64_MAX, NULL, "POSTGRES_MAX_QUERIES_PER_CONNECTION",
     false,
     "Requests a connection serves before it is closed and replaced (seed 003: 50,000); "
     "0: no limit."},
    {"pool.idle.timeout.ms", PT_INT, "300000", 0, I64_MAX, NULL, NULL, false,
     "An idle connection unused for this long is closed (the pool then reopens up to "
     "pool.min); seed 003's idle connection lifetime, 5 minutes. 0: never."},
    {"pool.connect.timeout.ms", PT_INT, "5000", 1, 600000, NULL, NULL, false,
     "How long opening a connection may take (libpq connect_timeout, in whole seconds, at "
     "least 2). Seed 003 used 60 s; shorter here because an executor lane waits while it "
     "connects. A connect_timeout in pg.conninfo wins."},
    {"pool.command.timeout.ms", PT_INT, "0", 0, 86400000, NULL, NULL, false,
     "Session statement_timeout of every pooled connection: the bound of statements that "
     "run without a timeout of their own (a request with options.timeout_ms, or "
     "request.timeout.default.ms, sets its own). Seed 003: 60000. 0: the server's default."},
    {"health.saturation.pct", PT_INT, "80", 1, 100, NULL, NULL, false,
     "Pool utilization (connections in use / pool.max, percent) at which HEALTH answers "
     "DEGRADED (seed 004's POSTGRES_POOL_EXHAUSTION_THRESHOLD)."},
    {"breaker.failure.threshold", PT_INT, "5", 1, 1000000, NULL, NULL, false,
     "Consecutive connection-class failures that open the circuit breaker."},
    {"breaker.recovery.timeout.ms", PT_INT, "60000", 1, 86400000, NULL, NULL, false,
     "How long the breaker stays OPEN before trying again (HALF_OPEN)."},
    {"breaker.success.threshold", PT_INT, "3", 1, 1000000, NULL, NULL, false,
     "Successes in HALF_OPEN that close the breaker."},
    {"request.timeout.default.ms", PT_INT, "30000", 0, 86400000, NULL, NULL, false,
     "Statement timeout for requests that name none (options.timeout_ms); 0: none."},
    {"response.max.bytes", PT_INT, "900000", 1024, 1000000000, NULL, NULL, false,
     "Largest answer (its payload, JSON-encoded) the adapter publishes. A larger one is "
     "replaced by a failed answer, VALIDATION_ERROR `ResponseTooLarge`, saying how to ask for "
     "less (options.max_rows, fewer returning columns, paging); a write is then rolled back, "
     "never applied unanswered. Must be below the producer's `message.max.bytes` (the adapter "
     "sets 1000000; `kafka.message.max.bytes` or `kafka.producer.message.max.bytes` changes it) "
     "minus 1024 bytes for the envelope."},
    {"tables.allowlist", PT_STR, "", 0, 0, NULL, NULL, false,
     "Comma-separated tables (schema-qualified where needed) requests may name; empty: all."},
    {"dedupe.retention.ms", PT_INT, "604800000", 1000, I64_MAX, NULL, NULL, false,
     "How long processed event ids (and their responses) are kept to answer redeliveries. The "
     "database keeps every record for at least an hour whatever this says (migration 007), so "
     "that no caller can erase the records of recent writes."},
};
#define N_PROPS (sizeof(props) / sizeof(props[0]))

/* Properties that would break the delivery guarantees if passed through. */
static const char *const kafka_refused[] = {
    "enable.auto.commit", "enable.auto.offset.store", "enable.idempotence", "acks",
    "group.id",           "bootstrap.servers",
};

typedef struct passthrough {
    char *key; /* with its prefix: "kafka.linger.ms", "pg.sslmode" */
    char *value;
} passthrough_t;

struct dbev_adapter_conf {
    char *vals[N_PROPS]; /* explicit values; NULL: unset */
    passthrough_t *pt;
    size_t n_pt;
    dbev_log_cb *log_cb;
    void *log_opaque;
};

static const prop_t *prop_find(const char *key, size_t *idx)
{
    for (size_t i = 0; i < N_PROPS; i++)
        if (strcmp(props[i].name, key) == 0) {
            if (idx)
                *idx = i;
            return &props[i];
        }
    return NULL;
}

dbev_adapter_conf_t *dbev_adapter_conf_new(void)
{
    dbev_adapter_conf_t *conf = calloc(1, sizeof(*conf));
    if (conf)
        conf->log_cb = dbev_log_stderr;
    return conf;
}

void dbev_adapter_conf_destroy(dbev_adapter_conf_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < N_PROPS; i++)
        free(conf->vals[i]);
    for (size_t i = 0; i < conf->n_pt; i++) {
        free(conf->pt[i].key);
        free(conf->pt[i].value);
    }
    free(conf->pt);
    free(conf);
}

/* Parses a decimal int64; the whole text must be a number. */
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

static bool enum_has(const char *enums, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = enums; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}

static bool env_name_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    return true;
}

/* Checks value against the property's type and range. `origin` says where
 * the value came from, for the message. */
static int prop_check(const prop_t *p, const char *value, const char *origin, char *errstr,
                      size_t size)
{
    const char *shown = p->secret ? "***" : value;
    switch (p->type) {
    case PT_INT: {
        int64_t v;
        if (!*value && !*p->def)
            return 0; /* unset: the library's default */
        if (parse_i64(value, &v))
            return dbev_seterr(errstr, size, "%s%s: \"%s\" is not an integer", p->name, origin,
                               shown);
        if (v < p->min || v > p->max)
            return dbev_seterr(errstr, size,
                               "%s%s: %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
                               p->name, origin, v, p->min, p->max);
        return 0;
    }
    case PT_BOOL: {
        bool b;
        if (parse_bool(value, &b))
            return dbev_seterr(errstr, size, "%s%s: \"%s\" is not a boolean (true or false)",
                               p->name, origin, shown);
        return 0;
    }
    case PT_ENUM:
        if (!enum_has(p->enums, value))
            return dbev_seterr(errstr, size, "%s%s: \"%s\" is not one of %s", p->name, origin,
                               shown, p->enums);
        return 0;
    case PT_STR:
        if (!strcmp(p->name, "topic.env") && !env_name_ok(value))
            return dbev_seterr(errstr, size,
                               "%s%s: \"%s\" must be 1..64 letters, digits, '.', '_' or '-'",
                               p->name, origin, value);
        if (!strcmp(p->name, "bootstrap.servers") && !*value)
            return dbev_seterr(errstr, size, "%s%s: must not be empty", p->name, origin);
        if (!strcmp(p->name, "group.id") && !*value)
            return dbev_seterr(errstr, size, "%s%s: must not be empty", p->name, origin);
        return 0;
    }
    return 0;
}

static int check_kafka_key(const char *key, const char *value, char *errstr, size_t size)
{
    const char *name = key + strlen("kafka.");
    if (!strncmp(name, "consumer.", 9))
        name += 9;
    else if (!strncmp(name, "producer.", 9))
        name += 9;
    for (size_t i = 0; i < sizeof(kafka_refused) / sizeof(kafka_refused[0]); i++)
        if (!strcmp(name, kafka_refused[i]))
            return dbev_seterr(errstr, size,
                               "%s: not settable: the adapter sets it to keep its delivery "
                               "guarantees (use the adapter's own key if there is one)",
                               key);
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char kerr[256];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(kconf, name, value, kerr, sizeof(kerr));
    rd_kafka_conf_destroy(kconf);
    if (res == RD_KAFKA_CONF_UNKNOWN)
        return dbev_seterr(errstr, size, "%s: librdkafka has no property \"%s\"", key, name);
    if (res != RD_KAFKA_CONF_OK)
        return dbev_seterr(errstr, size, "%s: %s", key, kerr);
    return 0;
}

static int check_pg_key(const char *key, char *errstr, size_t size)
{
    const char *name = key + strlen("pg.");
    PQconninfoOption *opts = PQconndefaults();
    bool found = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, name))
            found = true;
    PQconninfoFree(opts);
    if (!found)
        return dbev_seterr(errstr, size, "%s: libpq has no connection keyword \"%s\"", key, name);
    return 0;
}

static dbev_adapter_conf_res_t passthrough_set(dbev_adapter_conf_t *conf, const char *key,
                                               const char *value)
{
    for (size_t i = 0; i < conf->n_pt; i++) {
        if (strcmp(conf->pt[i].key, key) != 0)
            continue;
        if (!value) {
            free(conf->pt[i].key);
            free(conf->pt[i].value);
            conf->pt[i] = conf->pt[--conf->n_pt];
            return DBEV_ADAPTER_CONF_OK;
        }
        char *v = strdup(value);
        if (!v)
            return DBEV_ADAPTER_CONF_INVALID;
        free(conf->pt[i].value);
        conf->pt[i].value = v;
        return DBEV_ADAPTER_CONF_OK;
    }
    if (!value)
        return DBEV_ADAPTER_CONF_OK;
    passthrough_t *pt = realloc(conf->pt, (conf->n_pt + 1) * sizeof(*pt));
    if (!pt)
        return DBEV_ADAPTER_CONF_INVALID;
    conf->pt = pt;
    pt[conf->n_pt].key = strdup(key);
    pt[conf->n_pt].value = strdup(value);
    if (!pt[conf->n_pt].key || !pt[conf->n_pt].value) {
        free(pt[conf->n_pt].key);
        free(pt[conf->n_pt].value);
        return DBEV_ADAPTER_CONF_INVALID;
    }
    conf->n_pt++;
    return DBEV_ADAPTER_CONF_OK;
}

dbev_adapter_conf_res_t dbev_adapter_conf_set(dbev_adapter_conf_t *conf, const char *key,
                                              const char *value, char *errstr, size_t size)
{
    size_t idx;
    const prop_t *p;
    if (!conf || !key) {
        dbev_seterr(errstr, size, "no conf or key");
        return DBEV_ADAPTER_CONF_INVALID;
    }
    if ((p = prop_find(key, &idx))) {
        if (value && prop_check(p, value, "", errstr, size))
            return DBEV_ADAPTER_CONF_INVALID;
        char *v = NULL;
        if (value && !(v = strdup(value))) {
            dbev_seterr(errstr, size, "%s: out of memory", key);
            return DBEV_ADAPTER_CONF_INVALID;
        }
        free(conf->vals[idx]);
        conf->vals[idx] = v;
        return DBEV_ADAPTER_CONF_OK;
    }
    if (!strncmp(key, "kafka.", 6) && key[6]) {
        if (value && check_kafka_key(key, value, errstr, size))
            return strstr(errstr, "has no property") ? DBEV_ADAPTER_CONF_UNKNOWN
                                                     : DBEV_ADAPTER_CONF_INVALID;
        return passthrough_set(conf, key, value);
    }
    if (!strncmp(key, "pg.", 3) && key[3]) {
        if (check_pg_key(key, errstr, size))
            return DBEV_ADAPTER_CONF_UNKNOWN;
        return passthrough_set(conf, key, value);
    }
    dbev_seterr(errstr, size, "%s: unknown configuration key (dbev-adapter --help lists them)",
                key);
    return DBEV_ADAPTER_CONF_UNKNOWN;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

dbev_adapter_conf_res_t dbev_adapter_conf_set_kv(dbev_adapter_conf_t *conf, const char *kv,
                                                 char *errstr, size_t size)
{
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq) {
        dbev_seterr(errstr, size, "\"%s\": expected key=value", kv ? kv : "");
        return DBEV_ADAPTER_CONF_INVALID;
    }
    char *copy = strdup(kv);
    if (!copy) {
        dbev_seterr(errstr, size, "out of memory");
        return DBEV_ADAPTER_CONF_INVALID;
    }
    copy[eq - kv] = '\0';
    dbev_adapter_conf_res_t res =
        dbev_adapter_conf_set(conf, trim(copy), trim(copy + (eq - kv) + 1), errstr, size);
    free(copy);
    return res;
}

int dbev_adapter_conf_load_file(dbev_adapter_conf_t *conf, const char *path, char *errstr,
                                size_t size)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return dbev_seterr(errstr, size, "%s: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char err[512];
        if (dbev_adapter_conf_set_kv(conf, s, err, sizeof(err)) != DBEV_ADAPTER_CONF_OK) {
            rc = dbev_seterr(errstr, size, "%s:%d: %s", path, lineno, err);
            break;
        }
    }
    fclose(fp);
    return rc;
}

/* The effective value: explicit, else environment (when allowed), else default. */
static const char *effective(const dbev_adapter_conf_t *conf, size_t idx)
{
    if (conf->vals[idx])
        return conf->vals[idx];
    if (props[idx].env) {
        size_t fb = 0;
        prop_find("env.fallback", &fb);
        bool use_env = true;
        if (conf->vals[fb])
            parse_bool(conf->vals[fb], &use_env);
        const char *e = use_env ? getenv(props[idx].env) : NULL;
        if (e && *e)
            return e;
    }
    return props[idx].def;
}

const char *dbev_adapter_conf_get(const dbev_adapter_conf_t *conf, const char *key, char *buf,
                                  size_t size)
{
    size_t idx;
    if (!conf || !key || !buf || !size)
        return NULL;
    if (prop_find(key, &idx)) {
        snprintf(buf, size, "%s", effective(conf, idx));
        return buf;
    }
    for (size_t i = 0; i < conf->n_pt; i++)
        if (!strcmp(conf->pt[i].key, key)) {
            snprintf(buf, size, "%s", conf->pt[i].value);
            return buf;
        }
    return NULL;
}

void dbev_adapter_conf_set_log_cb(dbev_adapter_conf_t *conf, dbev_log_cb *cb, void *opaque)
{
    conf->log_cb = cb;
    conf->log_opaque = opaque;
}

static bool key_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") || strstr(key, "sasl") ||
           strstr(key, "ssl.key");
}

void dbev_adapter_conf_dump(const dbev_adapter_conf_t *conf, FILE *fp)
{
    for (size_t i = 0; i < N_PROPS; i++) {
        const char *v = effective(conf, i);
        fprintf(fp, "%s=%s\n", props[i].name, props[i].secret && *v ? "***" : v);
    }
    for (size_t i = 0; i < conf->n_pt; i++)
        fprintf(fp, "%s=%s\n", conf->pt[i].key,
                key_is_secret(conf->pt[i].key) ? "***" : conf->pt[i].value);
}

static const char *type_name(const prop_t *p)
{
    switch (p->type) {
    case PT_INT:
        return "integer";
    case PT_BOOL:
        return "boolean";
    case PT_ENUM:
        return "enum";
    case PT_STR:
        break;
    }
    return "string";
}

static void range_text(const prop_t *p, char *buf, size_t size)
{
    if (p->type == PT_INT && p->max == I64_MAX)
        snprintf(buf, size, "%" PRId64 "..", p->min);
    else if (p->type == PT_INT)
        snprintf(buf, size, "%" PRId64 "..%" PRId64, p->min, p->max);
    else if (p->type == PT_ENUM)
        snprintf(buf, size, "%s", p->enums);
    else if (p->type == PT_BOOL)
        snprintf(buf, size, "true,false");
    else
        buf[0] = '\0';
}

void dbev_adapter_conf_help(FILE *fp, bool markdown)
{
    char range[128];
    if (markdown) {
        fprintf(fp, "# dbev-adapter configuration\n\n"
                    "<!-- Generated by `dbev-adapter --help-markdown` from the property table in\n"
                    "     adapter/src/conf.c; do not edit by hand. -->\n\n"
                    "Set keys in a file of `key=value` lines (`--conf FILE`, `#` starts a "
                    "comment), with `-X key=value`, or through `dbev_adapter_conf_set()` when "
                    "embedding. A key that is not set takes its environment variable (when "
                    "`env.fallback` is true), else its default.\n\n"
                    "Keys starting with `kafka.` pass through to librdkafka (`kafka.consumer.` "
                    "and `kafka.producer.` to one client only); other keys starting with `pg.` "
                    "pass through to libpq's connection keywords (e.g. `pg.sslmode`). The "
                    "adapter always sets `enable.auto.commit=false`, "
                    "`enable.auto.offset.store=false`, `enable.idempotence=true` and `acks=all`; "
                    "these cannot be overridden.\n\n"
                    "| key | type | default | range | environment | description |\n"
                    "|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < N_PROPS; i++) {
            const prop_t *p = &props[i];
            range_text(p, range, sizeof(range));
            fprintf(fp, "| `%s` | %s | %s%s%s | %s | %s%s%s | %s |\n", p->name, type_name(p),
                    *p->def ? "`" : "", *p->def ? p->def : "(unset)", *p->def ? "`" : "", range,
                    p->env ? "`" : "", p->env ? p->env : "", p->env ? "`" : "", p->desc);
        }
        return;
    }
    fprintf(fp, "Configuration keys (-X key=value, or key=value lines in --conf FILE):\n\n");
    for (size_t i = 0; i < N_PROPS; i++) {
        const prop_t *p = &props[i];
        range_text(p, range, sizeof(range));
        fprintf(fp, "  %-28s %s, default %s%s%s%s%s\n      %s\n", p->name, type_name(p),
                *p->def ? p->def : "(unset)", *range ? ", range " : "", range,
                p->env ? ", env " : "", p->env ? p->env : "", p->desc);
    }
    fprintf(fp, "\n  kafka.<property>              passed to librdkafka (kafka.consumer.* / "
                "kafka.producer.* to one client)\n"
                "  pg.<keyword>                  passed to libpq (e.g. pg.sslmode)\n");
}

/* --- internal accessors --- */

const char *aconf_value(const dbev_adapter_conf_t *conf, const char *key)
{
    size_t idx;
    if (!prop_find(key, &idx))
        return "";
    return effective(conf, idx);
}

int64_t aconf_int(const dbev_adapter_conf_t *conf, const char *key)
{
    int64_t v = 0;
    if (parse_i64(aconf_value(conf, key), &v))
        return 0;
    return v;
}

bool aconf_bool(const dbev_adapter_conf_t *conf, const char *key)
{
    bool b = false;
    parse_bool(aconf_value(conf, key), &b);
    return b;
}

int aconf_validate(const dbev_adapter_conf_t *conf, char *errstr, size_t size)
{
    for (size_t i = 0; i < N_PROPS; i++) {
        if (conf->vals[i])
            continue; /* checked by set */
        const char *v = effective(conf, i);
        if (v == props[i].def)
            continue;
        char origin[96];
        snprintf(origin, sizeof(origin), " (from environment %s)", props[i].env);
        if (prop_check(&props[i], v, origin, errstr, size))
            return -1;
    }
    if (aconf_int(conf, "pool.min") > aconf_int(conf, "pool.max"))
        return dbev_seterr(errstr, size,
                           "pool.min (%" PRId64 ") is larger than pool.max (%" PRId64 ")",
                           aconf_int(conf, "pool.min"), aconf_int(conf, "pool.max"));
    if (aconf_int(conf, "exec.lanes") > aconf_int(conf, "pool.max"))
        return dbev_seterr(errstr, size,
                           "exec.lanes (%" PRId64 ") is larger than pool.max (%" PRId64
                           "): each lane holds a connection; lower exec.lanes or raise pool.max",
                           aconf_int(conf, "exec.lanes"), aconf_int(conf, "pool.max"));
    int64_t message_max = aconf_producer_message_max_bytes(conf);
    if (aconf_int(conf, "response.max.bytes") >= message_max - ACONF_ENVELOPE_BYTES)
        return dbev_seterr(errstr, size,
                           "response.max.bytes (%" PRId64
                           ") must be less than the producer's message.max.bytes (%" PRId64
                           ") minus %d bytes for the envelope: lower response.max.bytes or "
                           "raise kafka.producer.message.max.bytes",
                           aconf_int(conf, "response.max.bytes"), message_max,
                           ACONF_ENVELOPE_BYTES);
    return 0;
}

int64_t aconf_producer_message_max_bytes(const dbev_adapter_conf_t *conf)
{
    /* kafka_conf() (loop.c) sets the pass-throughs in order: the last one wins. */
    int64_t v = ACONF_MESSAGE_MAX_BYTES;
    for (size_t i = 0; i < conf->n_pt; i++) {
        const char *k = conf->pt[i].key;
        int64_t n;
        if ((!strcmp(k, "kafka.message.max.bytes") ||
             !strcmp(k, "kafka.producer.message.max.bytes")) &&
            !parse_i64(conf->pt[i].value, &n))
            v = n;
    }
    return v;
}

bool aconf_passthrough(const dbev_adapter_conf_t *conf, size_t i, const char **key,
                       const char **value)
{
    if (i >= conf->n_pt)
        return false;
    *key = conf->pt[i].key;
    *value = conf->pt[i].value;
    return true;
}

void aconf_log_sink(const dbev_adapter_conf_t *conf, dbev_log_cb **cb, void **opaque)
{
    *cb = conf->log_cb;
    *opaque = conf->log_opaque;
}

/* Appends " key='value'" with libpq's quoting (backslash and quote escaped). */
static int ci_append(char **buf, size_t *len, size_t *cap, const char *key, const char *value)
{
    size_t need = strlen(key) + 2 * strlen(value) + 8;
    if (*len + need >= *cap) {
        size_t ncap = (*cap + need) * 2;
        char *n = realloc(*buf, ncap);
        if (!n)
            return -1;
        *buf = n;
        *cap = ncap;
    }
    char *p = *buf + *len;
    if (*len)
        *p++ = ' ';
    p += sprintf(p, "%s='", key);
    for (const char *v = value; *v; v++) {
        if (*v == '\'' || *v == '\\')
            *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    *len = (size_t)(p - *buf);
    return 0;
}

/* Sets keyword kw in the option array (parsed from pg.conninfo, or defaults). */
static void ci_override(char **kws, char **vals, size_t n, const char *kw, const char *value)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kws[i], kw)) {
            vals[i] = (char *)value;
            return;
        }
}

char *aconf_conninfo(const dbev_adapter_conf_t *conf, char *errstr, size_t size)
{
    /* Parse pg.conninfo (or nothing) into libpq's full option list, so that
     * later settings replace fields whatever the form of the string. */
    const char *base = aconf_value(conf, "pg.conninfo");
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(base, &perr);
    if (!opts) {
        /* libpq's message may quote the string, which may hold a password. */
        PQfreemem(perr);
        dbev_seterr(errstr, size, "pg.conninfo: not a valid libpq connection string or URI");
        return NULL;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        n++;
    char **kws = calloc(n + 1, sizeof(char *));
    char **vals = calloc(n + 1, sizeof(char *));
    char *out = NULL;
    if (!kws || !vals)
        goto done;
    for (size_t i = 0; i < n; i++) {
        kws[i] = opts[i].keyword;
        vals[i] = opts[i].val;
    }
    static const struct {
        const char *key, *kw;
    } named[] = {{"pg.host", "host"},
                 {"pg.port", "port"},
                 {"pg.dbname", "dbname"},
                 {"pg.user", "user"},
                 {"pg.password", "password"}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        const char *v = aconf_value(conf, named[i].key);
        if (*v)
            ci_override(kws, vals, n, named[i].kw, v);
    }
    for (size_t i = 0; i < conf->n_pt; i++)
        if (!strncmp(conf->pt[i].key, "pg.", 3))
            ci_override(kws, vals, n, conf->pt[i].key + 3, conf->pt[i].value);
    bool has_app = false;
    size_t len = 0, cap = 256;
    out = malloc(cap);
    if (!out)
        goto done;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!vals[i] || !*vals[i])
            continue;
        if (!strcmp(kws[i], "application_name"))
            has_app = true;
        if (ci_append(&out, &len, &cap, kws[i], vals[i])) {
            free(out);
            out = NULL;
            goto done;
        }
    }
    if (!has_app && ci_append(&out, &len, &cap, "application_name", "dbev-adapter")) {
        free(out);
        out = NULL;
    }
done:
    if (!out)
        dbev_seterr(errstr, size, "out of memory building the connection string");
    free(kws);
    free(vals);
    PQconninfoFree(opts);
    return out;
}

char **aconf_strv(const char *csv)
{
    size_t n = 0;
    char **v = NULL;
    char *copy = strdup(csv ? csv : "");
    if (!copy)
        return NULL;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (!*tok)
            continue;
        char **nv = realloc(v, (n + 2) * sizeof(char *));
        if (!nv)
            break;
        v = nv;
        v[n] = strdup(tok);
        if (!v[n])
            break;
        v[++n] = NULL;
    }
    free(copy);
    return v;
}

void aconf_strv_free(char **strv)
{
    if (!strv)
        return;
    for (char **p = strv; *p; p++)
        free(*p);
    free(strv);
}
