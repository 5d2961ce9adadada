/*
 * The adapter's configuration: its property table (name, type, default,
 * range, environment fallback, description) and the rules that concern
 * several keys at once. The engine in common/ (dbev_conf_table.h) does the
 * rest from the table: set and its validation, get with the fallback order
 * (explicit > environment > default), the dump with secrets masked, --help
 * and the Markdown reference docs/adapter-config.md. Adding a key means
 * adding one row here. Keys starting with "kafka." are checked against
 * librdkafka and passed through to it; other "pg." keys are checked against
 * libpq's keywords and passed through to the connection string.
 */
#include "adapter_loop.h"
#include "dbev_conf_table.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

/* The property table. Keep it sorted by topic, not alphabetically: the help
 * output and the doc follow this order. */
static const dbev_prop_t props[] = {
    DBEV_PROP("bootstrap.servers", DBEV_PROP_STR, "127.0.0.1:9092", 1, 0, NULL,
              "KAFKA_BOOTSTRAP_SERVERS", false, "Kafka brokers, HOST:PORT[,HOST:PORT...]."),
    DBEV_PROP("topic.prefix", DBEV_PROP_STR, "dev", 1, 64, "._-", NULL, false,
              "Environment prefix of the topic names (dev: dev.omninode-bridge.database."
              "query-requested.v1 ...); the client's key of the same name."),
    DBEV_PROP("group.id", DBEV_PROP_STR, "database-adapter-effect", 1, 0, NULL, NULL, false,
              "Consumer group of the adapter instances; instances of one group share the request "
              "partitions."),
    DBEV_PROP("consumer.assignment", DBEV_PROP_ENUM, "group", 0, 0, "group,all", NULL, false,
              "How the request partitions are taken. group: join group.id and share the "
              "partitions with the other instances (rebalances move them). all: read every "
              "partition of the request topic without joining (no rebalance wait at start); "
              "offsets are committed to group.id and a successor resumes from them. Give it a "
              "group.id no member joins: the broker refuses commits without membership while "
              "the group has members (librdkafka's mock cluster: once it ever had one), logged "
              "and counted as commit_failures. For a single instance only, as two would both "
              "answer every request."),
    DBEV_PROP("instance.id", DBEV_PROP_STR, "", 0, 0, NULL, NULL, false,
              "Instance id announced on the registry topic; empty: a new UUID at each start."),
    DBEV_PROP("batch.max", DBEV_PROP_INT, "500", 1, 100000, NULL, NULL, false,
              "Most requests consumed and executed as one batch."),
    DBEV_PROP("inflight.max", DBEV_PROP_INT, "20000", 1, 1000000, NULL, NULL, false,
              "Most responses produced but not yet acknowledged by the broker; consumption pauses "
              "above it."),
    DBEV_PROP("exec.lanes", DBEV_PROP_INT, "2", 1, 16, NULL, NULL, false,
              "Executor threads, each running its share of a batch on its own pooled connection: "
              "partition p goes to lane p % exec.lanes, so each partition keeps its order. At most "
              "pool.max."),
    DBEV_PROP(
        "heartbeat.interval.ms", DBEV_PROP_INT, "10000", 100, 3600000, NULL, NULL, false,
        "Interval between heartbeats (health: pool, breaker, counters) on the heartbeat topic."),
    DBEV_PROP("shutdown.timeout.ms", DBEV_PROP_INT, "30000", 0, 3600000, NULL, NULL, false,
              "On stop, how long to wait for the broker to acknowledge the last responses before "
              "leaving without committing them (they are then redelivered)."),
    DBEV_PROP("log.level", DBEV_PROP_ENUM, "info", 0, 0, "debug,info,warn,error", NULL, false,
              "Least severe level logged (one JSON line per event on stderr)."),
    DBEV_PROP(
        "env.fallback", DBEV_PROP_BOOL, "true", 0, 0, NULL, NULL, false,
        "Read the environment fallbacks (KAFKA_BOOTSTRAP_SERVERS, POSTGRES_*) for keys not set "
        "explicitly. Embedders that want isolation set it to false."),
    DBEV_PROP("pg.conninfo", DBEV_PROP_STR, "", 0, 0, NULL, NULL, true,
              "libpq connection string or URI; the pg.* keys below override its fields."),
    DBEV_PROP("pg.host", DBEV_PROP_STR, "", 0, 0, NULL, "POSTGRES_HOST", false,
              "PostgreSQL host name or unix socket directory; empty: libpq's default."),
    DBEV_PROP("pg.port", DBEV_PROP_INT, "", 1, 65535, NULL, "POSTGRES_PORT", false,
              "PostgreSQL port; empty: libpq's default."),
    DBEV_PROP("pg.dbname", DBEV_PROP_STR, "", 0, 0, NULL, "POSTGRES_DATABASE", false,
              "Database name; empty: libpq's default."),
    DBEV_PROP("pg.user", DBEV_PROP_STR, "", 0, 0, NULL, "POSTGRES_USER", false,
              "Database user; empty: libpq's default."),
    DBEV_PROP("pg.password", DBEV_PROP_STR, "", 0, 0, NULL, "POSTGRES_PASSWORD", true,
              "Database password. Never logged or dumped."),
    DBEV_PROP(
        "pg.allow.superuser", DBEV_PROP_BOOL, "false", 0, 0, NULL, NULL, false,
        "Start even when connected as a PostgreSQL superuser (a warning is logged). Callers' "
        "SELECT and EXECUTE run as the adapter's role, so a superuser adapter lets any caller "
        "read the server's files, run programs and create roles: connect as dbev_app (migration "
        "007) instead. For tests and benches on throwaway servers; there the adapter also "
        "applies migration 007 itself when its records are missing."),
    DBEV_PROP("pool.min", DBEV_PROP_INT, "5", 0, 1000, NULL, "POSTGRES_POOL_MIN_SIZE", false,
              "Connections opened at start and kept open."),
    DBEV_PROP("pool.max", DBEV_PROP_INT, "20", 1, 1000, NULL, "POSTGRES_POOL_MAX_SIZE", false,
              "Most connections open at once."),
    DBEV_PROP("pool.max.age.ms", DBEV_PROP_INT, "3600000", 0, DBEV_PROP_NO_MAX, NULL, NULL, false,
              "Connections older than this are replaced when returned to the pool; 0: never."),
    DBEV_PROP("pool.max.queries", DBEV_PROP_INT, "50000", 0, DBEV_PROP_NO_MAX, NULL,
              "POSTGRES_MAX_QUERIES_PER_CONNECTION", false,
              "Requests a connection serves before it is closed and replaced (seed 003: 50,000); "
              "0: no limit."),
    DBEV_PROP("pool.idle.timeout.ms", DBEV_PROP_INT, "300000", 0, DBEV_PROP_NO_MAX, NULL, NULL,
              false,
              "An idle connection unused for this long is closed (the pool then reopens up to "
              "pool.min); seed 003's idle connection lifetime, 5 minutes. 0: never."),
    DBEV_PROP("pool.connect.timeout.ms", DBEV_PROP_INT, "5000", 1, 600000, NULL, NULL, false,
              "How long opening a connection may take (libpq connect_timeout, in whole seconds, at "
              "least 2). Seed 003 used 60 s; shorter here because an executor lane waits while it "
              "connects. A connect_timeout in pg.conninfo wins."),
    DBEV_PROP(
        "pool.command.timeout.ms", DBEV_PROP_INT, "0", 0, 86400000, NULL, NULL, false,
        "Session statement_timeout of every pooled connection: the bound of statements that "
        "run without a timeout of their own (a request with options.timeout_ms, or "
        "request.timeout.default.ms, sets its own). Seed 003: 60000. 0: the server's default."),
    DBEV_PROP("health.saturation.pct", DBEV_PROP_INT, "80", 1, 100, NULL, NULL, false,
              "Pool utilization (connections in use / pool.max, percent) at which HEALTH answers "
              "DEGRADED (seed 004's POSTGRES_POOL_EXHAUSTION_THRESHOLD)."),
    DBEV_PROP("breaker.failure.threshold", DBEV_PROP_INT, "5", 1, 1000000, NULL, NULL, false,
              "Consecutive connection-class failures that open the circuit breaker."),
    DBEV_PROP("breaker.recovery.timeout.ms", DBEV_PROP_INT, "60000", 1, 86400000, NULL, NULL, false,
              "How long the breaker stays OPEN before trying again (HALF_OPEN)."),
    DBEV_PROP("breaker.success.threshold", DBEV_PROP_INT, "3", 1, 1000000, NULL, NULL, false,
              "Successes in HALF_OPEN that close the breaker."),
    DBEV_PROP("request.timeout.default.ms", DBEV_PROP_INT, "30000", 0, 86400000, NULL, NULL, false,
              "Statement timeout for requests that name none (options.timeout_ms); 0: none."),
    DBEV_PROP(
        "response.max.bytes", DBEV_PROP_INT, "900000", 1024, 1000000000, NULL, NULL, false,
        "Largest answer (its payload, JSON-encoded) the adapter publishes. A larger one is "
        "replaced by a failed answer, VALIDATION_ERROR `ResponseTooLarge`, saying how to ask for "
        "less (options.max_rows, fewer returning columns, paging); a write is then rolled back, "
        "never applied unanswered. Must be below the producer's `message.max.bytes` (the adapter "
        "sets 1000000; `kafka.message.max.bytes` or `kafka.producer.message.max.bytes` changes it) "
        "minus 1024 bytes for the envelope."),
    DBEV_PROP(
        "tables.allowlist", DBEV_PROP_STR, "", 0, 0, NULL, NULL, false,
        "Comma-separated tables (schema-qualified where needed) requests may name; empty: all."),
    DBEV_PROP(
        "dedupe.retention.ms", DBEV_PROP_INT, "604800000", 1000, DBEV_PROP_NO_MAX, NULL, NULL,
        false,
        "How long processed event ids (and their responses) are kept to answer redeliveries. The "
        "database keeps every record for at least an hour whatever this says (migration 007), so "
        "that no caller can erase the records of recent writes."),
    /* Old names: each still works, with one warning. */
    DBEV_PROP_RENAMED("topic.env", "topic.prefix"),
};
#define N_PROPS (sizeof(props) / sizeof(props[0]))

/* Properties that would break the delivery guarantees if passed through. */
static const char *const kafka_refused[] = {
    "enable.auto.commit", "enable.auto.offset.store", "enable.idempotence", "acks",
    "group.id",           "bootstrap.servers",
};

static dbev_prop_passthrough_cb check_passthrough;

static const char *const passthrough_prefixes[] = {"kafka.", "pg.", NULL};

static const dbev_conf_table_t table = {
    .component = "adapter",
    .props = props,
    .n_props = N_PROPS,
    .env_switch = "env.fallback",
    .passthrough_prefixes = passthrough_prefixes,
    .passthrough_check = check_passthrough,
    .help_hint = "dbev-adapter --help lists them",
};

_Static_assert((int)DBEV_ADAPTER_CONF_UNKNOWN == (int)DBEV_PROP_UNKNOWN &&
                   (int)DBEV_ADAPTER_CONF_INVALID == (int)DBEV_PROP_INVALID &&
                   (int)DBEV_ADAPTER_CONF_OK == (int)DBEV_PROP_OK,
               "the engine's results are the adapter's");

struct dbev_adapter_conf {
    dbev_prop_values_t values; /* its logger is the sink of dbev_adapter_conf_set_log_cb() */
};

/* A "kafka." key: refused when it would break the delivery guarantees,
 * unknown when librdkafka has no such property, invalid when librdkafka
 * refuses the value. */
static dbev_prop_res_t check_kafka_key(const char *key, const char *value, char *errstr,
                                       size_t size)
{
    const char *name = key + strlen("kafka.");
    if (!strncmp(name, "consumer.", 9))
        name += 9;
    else if (!strncmp(name, "producer.", 9))
        name += 9;
    for (size_t i = 0; i < sizeof(kafka_refused) / sizeof(kafka_refused[0]); i++)
        if (!strcmp(name, kafka_refused[i])) {
            dbev_seterr(errstr, size,
                        "%s: not settable: the adapter sets it to keep its delivery "
                        "guarantees (use the adapter's own key if there is one)",
                        key);
            return DBEV_PROP_INVALID;
        }
    if (!value)
        return DBEV_PROP_OK;
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char kerr[256];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(kconf, name, value, kerr, sizeof(kerr));
    rd_kafka_conf_destroy(kconf);
    if (res == RD_KAFKA_CONF_UNKNOWN) {
        dbev_seterr(errstr, size,
                    "%s: librdkafka has no property \"%s\" (its CONFIGURATION.md lists them)", key,
                    name);
        return DBEV_PROP_UNKNOWN;
    }
    if (res != RD_KAFKA_CONF_OK) {
        dbev_seterr(errstr, size, "%s: %s", key, kerr);
        return DBEV_PROP_INVALID;
    }
    return DBEV_PROP_OK;
}

/* A "pg." key not in the table: must be one of libpq's connection keywords. */
static dbev_prop_res_t check_pg_key(const char *key, char *errstr, size_t size)
{
    const char *name = key + strlen("pg.");
    PQconninfoOption *opts = PQconndefaults();
    bool found = false;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, name))
            found = true;
    PQconninfoFree(opts);
    if (!found) {
        dbev_seterr(errstr, size,
                    "%s: libpq has no connection keyword \"%s\" (see libpq's \"Parameter Key "
                    "Words\")",
                    key, name);
        return DBEV_PROP_UNKNOWN;
    }
    return DBEV_PROP_OK;
}

static dbev_prop_res_t check_passthrough(const char *key, const char *value, char *errstr,
                                         size_t size)
{
    if (!strncmp(key, "kafka.", 6))
        return check_kafka_key(key, value, errstr, size);
    return check_pg_key(key, errstr, size);
}

dbev_adapter_conf_t *dbev_adapter_conf_new(void)
{
    dbev_adapter_conf_t *conf = calloc(1, sizeof(*conf));
    if (!conf)
        return NULL;
    if (dbev_prop_values_init(&conf->values, &table)) {
        dbev_adapter_conf_destroy(conf);
        return NULL;
    }
    conf->values.logger.cb = dbev_log_stderr;
    return conf;
}

void dbev_adapter_conf_destroy(dbev_adapter_conf_t *conf)
{
    if (!conf)
        return;
    dbev_prop_values_clear(&conf->values);
    free(conf);
}

dbev_adapter_conf_res_t dbev_adapter_conf_set(dbev_adapter_conf_t *conf, const char *key,
                                              const char *value, char *errstr, size_t size)
{
    if (!conf || !key) {
        dbev_seterr(errstr, size, "no conf or key");
        return DBEV_ADAPTER_CONF_INVALID;
    }
    /* A deprecation warning honours the log.level set so far. */
    int level = dbev_log_level_parse(aconf_value(conf, "log.level"));
    conf->values.logger.level = level < 0 ? DBEV_LOG_INFO : (dbev_log_level_t)level;
    return (dbev_adapter_conf_res_t)dbev_prop_values_set(&conf->values, key, value, errstr, size);
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

const char *dbev_adapter_conf_get(const dbev_adapter_conf_t *conf, const char *key, char *buf,
                                  size_t size)
{
    if (!conf || !key || !buf || !size)
        return NULL;
    const char *v = dbev_prop_values_get(&conf->values, key);
    if (!v)
        return NULL;
    snprintf(buf, size, "%s", v);
    return buf;
}

void dbev_adapter_conf_set_log_cb(dbev_adapter_conf_t *conf, dbev_log_cb *cb, void *opaque)
{
    conf->values.logger.cb = cb;
    conf->values.logger.opaque = opaque;
}

void dbev_adapter_conf_dump(const dbev_adapter_conf_t *conf, FILE *fp)
{
    dbev_prop_values_dump(&conf->values, fp);
}

void dbev_adapter_conf_help(FILE *fp, bool markdown)
{
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
                    "these cannot be overridden. Its librdkafka defaults, which `kafka.*` "
                    "overrides: `fetch.wait.max.ms=10` (consumer), `linger.ms=1` (producer), "
                    "`socket.nagle.disable=true` and `reconnect.backoff.ms=100` (both). A real "
                    "broker answers a fetch as soon as data arrives, so the fetch wait only "
                    "paces idle fetches; librdkafka's mock cluster holds an empty fetch for the "
                    "whole wait, and the harness gives its adapters a low-latency profile there "
                    "(`kafka.consumer.fetch.wait.max.ms=1`, `kafka.producer.linger.ms=0`): "
                    "figures and reasons in docs/latency.md.\n\n");
        dbev_conf_table_markdown(&table, fp);
        return;
    }
    fprintf(fp, "Configuration keys (-X key=value, or key=value lines in --conf FILE):\n\n");
    dbev_conf_table_help(&table, fp);
    fprintf(fp, "\n  kafka.<property>              passed to librdkafka (kafka.consumer.* / "
                "kafka.producer.* to one client)\n"
                "  pg.<keyword>                  passed to libpq (e.g. pg.sslmode)\n");
}

/* --- internal accessors --- */

const char *aconf_value(const dbev_adapter_conf_t *conf, const char *key)
{
    size_t idx;
    if (!dbev_conf_table_find(&table, key, &idx, NULL))
        return "";
    return dbev_prop_values_value(&conf->values, idx);
}

int64_t aconf_int(const dbev_adapter_conf_t *conf, const char *key)
{
    size_t idx;
    if (!dbev_conf_table_find(&table, key, &idx, NULL))
        return 0;
    return dbev_prop_values_int(&conf->values, idx);
}

bool aconf_bool(const dbev_adapter_conf_t *conf, const char *key)
{
    size_t idx;
    if (!dbev_conf_table_find(&table, key, &idx, NULL))
        return false;
    return dbev_prop_values_bool(&conf->values, idx);
}

int aconf_validate(const dbev_adapter_conf_t *conf, char *errstr, size_t size)
{
    if (dbev_prop_values_validate(&conf->values, errstr, size))
        return -1;
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
    /* kafka_conf() (loop.c) sets the pass-throughs in order: the last one wins.
     * librdkafka checked the value when it was set: it is a number. */
    int64_t v = ACONF_MESSAGE_MAX_BYTES;
    const dbev_prop_kv_t *kv;
    for (size_t i = 0; (kv = dbev_prop_values_passthrough(&conf->values, i)); i++)
        if (!strcmp(kv->key, "kafka.message.max.bytes") ||
            !strcmp(kv->key, "kafka.producer.message.max.bytes"))
            v = strtoll(kv->value, NULL, 10);
    return v;
}

bool aconf_passthrough(const dbev_adapter_conf_t *conf, size_t i, const char **key,
                       const char **value)
{
    const dbev_prop_kv_t *kv = dbev_prop_values_passthrough(&conf->values, i);
    if (!kv)
        return false;
    *key = kv->key;
    *value = kv->value;
    return true;
}

void aconf_log_sink(const dbev_adapter_conf_t *conf, dbev_log_cb **cb, void **opaque)
{
    *cb = conf->values.logger.cb;
    *opaque = conf->values.logger.opaque;
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
    const dbev_prop_kv_t *kv;
    for (size_t i = 0; (kv = dbev_prop_values_passthrough(&conf->values, i)); i++)
        if (!strncmp(kv->key, "pg.", 3))
            ci_override(kws, vals, n, kv->key + 3, kv->value);
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
