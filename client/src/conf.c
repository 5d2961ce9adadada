/*
 * The client's configuration: one static property table (name, type,
 * default, range, environment fallback, description) drives dbev_conf_set(),
 * dbev_conf_get(), validation at client creation and the Markdown reference
 * written by dbev_conf_properties_show() (docs/client-config.md is its
 * output, and a unit test keeps the two equal). Keys under "kafka." are kept
 * aside and passed to librdkafka when the client is created.
 */
#include "client_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum conf_type {
    CONF_T_STR,
    CONF_T_INT,
    CONF_T_BOOL,
} conf_type_t;

typedef struct conf_prop {
    const char *name;
    conf_type_t type;
    const char *def; /* default as text; "" for none */
    int64_t min, max;
    const char *env; /* environment fallback, or NULL */
    const char *desc;
} conf_prop_t;

static const conf_prop_t conf_props[CONF__COUNT] = {
    [CONF_BOOTSTRAP_SERVERS] = {"bootstrap.servers", CONF_T_STR, "", 0, 0,
                                "KAFKA_BOOTSTRAP_SERVERS",
                                "Kafka brokers as HOST:PORT[,HOST:PORT...]. Required: "
                                "dbev_client_new() fails when neither the property nor the "
                                "environment variable is set."},
    [CONF_TOPIC_PREFIX] = {"topic.prefix", CONF_T_STR, "dev", 0, 0, "DBEV_ENV",
                           "Environment prefix of the topic names: "
                           "<prefix>.omninode-bridge.database.query-requested.v1 and the "
                           "completed/failed topics. Letters, digits, '.', '_', '-'; at most "
                           "64 characters."},
    [CONF_SERVICE_NAME] = {"service.name", CONF_T_STR, "dbev-client", 0, 0, NULL,
                           "The `service` field of every request event (who is asking). At "
                           "most 128 characters."},
    [CONF_CONSUMER_GROUP_ID] = {"consumer.group.id", CONF_T_STR, "", 0, 0, NULL,
                                "Consumer group of the response consumer. Empty: a new "
                                "`dbev-client-<uuid>` per client instance, so every instance "
                                "sees every response (responses are matched by correlation "
                                "id). Two instances must never share a group."},
    [CONF_REQUEST_TIMEOUT_MS] = {"request.timeout.ms", CONF_T_INT, "10000", 1, 3600000, NULL,
                                 "Default timeout of a call (dbev_call_opts_t.timeout_ms "
                                 "overrides it); also sent as options.timeout_ms. With "
                                 "timeout.mode=total it is the caller's deadline for the whole "
                                 "call, retries and backoff included; with per_attempt, the "
                                 "wait for each attempt's answer."},
    [CONF_REQUEST_TIMEOUT_GRACE_MS] = {"request.timeout.grace.ms", CONF_T_INT, "1000", 0, 600000,
                                       NULL,
                                       "Extra time the client waits beyond an attempt's timeout "
                                       "before giving up locally (_TIMEOUT). The adapter "
                                       "enforces the same timeout and answers TIMEOUT_ERROR when "
                                       "a statement or a request's deadline runs out; the grace "
                                       "lets that answer, which says what timed out, arrive "
                                       "across Kafka instead of racing it."},
    [CONF_TIMEOUT_MODE] = {"timeout.mode", CONF_T_STR, "total", 0, 0, NULL,
                           "`total`: the timeout is the call's deadline. Each attempt waits "
                           "for what is left of it, a retry whose backoff would end past it "
                           "is not sent, and every attempt carries the first attempt's "
                           "envelope timestamp, so the adapter refuses (TIMEOUT_ERROR) work "
                           "whose deadline passed; a call returns within timeout + "
                           "request.timeout.grace.ms. `per_attempt`: seed 002's literal "
                           "behaviour, each attempt gets the full timeout and a fresh "
                           "timestamp, so with the defaults a call to a stopped adapter "
                           "blocks about 4 x 11 s + 1 + 2 + 4 s = 51 s."},
    [CONF_STARTUP_TIMEOUT_MS] = {"startup.timeout.ms", CONF_T_INT, "10000", 100, 600000, NULL,
                                 "How long dbev_client_new() waits for the response topics' "
                                 "metadata, their assignment and start offsets before it "
                                 "fails."},
    [CONF_MAX_RETRIES] = {"max.retries", CONF_T_INT, "3", 0, 100, NULL,
                          "Retries after the first attempt, only for retriable failures "
                          "(timeout, transport, DATABASE_CONNECTION_FAILED); never for "
                          "VALIDATION_ERROR or a SQL error. A retry reuses the event id and "
                          "the correlation id."},
    [CONF_RETRY_BACKOFF_MS] = {"retry.backoff.ms", CONF_T_INT, "1000", 1, 600000, NULL,
                               "Delay before the first retry; it doubles for each further "
                               "retry (1 s, 2 s, 4 s, ...) with +/-20% jitter."},
    [CONF_RETRY_BACKOFF_MAX_MS] = {"retry.backoff.max.ms", CONF_T_INT, "30000", 1, 3600000, NULL,
                                   "Upper bound of the retry delay."},
    [CONF_BREAKER_ENABLE] = {"circuit.breaker.enable", CONF_T_BOOL, "true", 0, 1, NULL,
                             "Client-side circuit breaker on timeouts and transport "
                             "failures: when open, calls fail at once with "
                             "CIRCUIT_BREAKER_OPEN."},
    [CONF_BREAKER_THRESHOLD] = {"circuit.breaker.failure.threshold", CONF_T_INT, "5", 1, 10000,
                                NULL,
                                "Consecutive timeouts/transport failures that open the "
                                "breaker."},
    [CONF_BREAKER_RECOVERY_MS] = {"circuit.breaker.recovery.ms", CONF_T_INT, "60000", 1, 3600000,
                                  NULL,
                                  "How long the breaker stays open before it lets one probe "
                                  "request through (half-open); the probe's answer closes it, "
                                  "its failure reopens it."},
};

typedef struct conf_kv {
    char *name; /* without "kafka." */
    char *value;
} conf_kv_t;

struct dbev_conf {
    char *values[CONF__COUNT]; /* NULL: not set */
    conf_kv_t *kafka;
    size_t n_kafka;
    dbev_log_cb_t *log_cb;
    void *log_opaque;
    int log_level;
};

#define KAFKA_PREFIX "kafka."

static int conf_find(const char *name)
{
    for (int i = 0; i < CONF__COUNT; i++)
        if (strcmp(conf_props[i].name, name) == 0)
            return i;
    return -1;
}

dbev_conf_t *dbev_conf_new(void)
{
    dbev_conf_t *conf = calloc(1, sizeof(*conf));
    if (conf)
        conf->log_level = DBEV_LOG_LEVEL_INFO;
    return conf;
}

void dbev_conf_destroy(dbev_conf_t *conf)
{
    if (!conf)
        return;
    for (int i = 0; i < CONF__COUNT; i++)
        free(conf->values[i]);
    for (size_t i = 0; i < conf->n_kafka; i++) {
        free(conf->kafka[i].name);
        free(conf->kafka[i].value);
    }
    free(conf->kafka);
    free(conf);
}

dbev_conf_t *dbev_conf_dup(const dbev_conf_t *conf)
{
    dbev_conf_t *copy = dbev_conf_new();
    if (!copy || !conf)
        return copy;
    for (int i = 0; i < CONF__COUNT; i++)
        if (conf->values[i] && !(copy->values[i] = strdup(conf->values[i])))
            goto oom;
    for (size_t i = 0; i < conf->n_kafka; i++) {
        char full[512];
        snprintf(full, sizeof(full), KAFKA_PREFIX "%s", conf->kafka[i].name);
        if (dbev_conf_set(copy, full, conf->kafka[i].value, NULL, 0) != DBEV_CONF_OK)
            goto oom;
    }
    copy->log_cb = conf->log_cb;
    copy->log_opaque = conf->log_opaque;
    copy->log_level = conf->log_level;
    return copy;
oom:
    dbev_conf_destroy(copy);
    return NULL;
}

/* Parses a decimal integer within [min, max]; -1 with errstr otherwise. */
static int conf_parse_int(const conf_prop_t *p, const char *value, int64_t *out, char *errstr,
                          size_t size)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end != '\0')
        return dbev_seterr(errstr, size, "%s: \"%s\" is not an integer", p->name, value);
    if (v < p->min || v > p->max)
        return dbev_seterr(errstr, size, "%s: %lld is out of range [%lld..%lld]", p->name, v,
                           (long long)p->min, (long long)p->max);
    *out = v;
    return 0;
}

static int conf_parse_bool(const conf_prop_t *p, const char *value, int64_t *out, char *errstr,
                           size_t size)
{
    if (!strcmp(value, "true") || !strcmp(value, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(value, "false") || !strcmp(value, "0")) {
        *out = 0;
        return 0;
    }
    return dbev_seterr(errstr, size, "%s: \"%s\" is not a boolean (true or false)", p->name, value);
}

/* Checks a value of property id: type, range and the string rules. */
static int conf_check(conf_prop_id_t id, const char *value, char *errstr, size_t size)
{
    const conf_prop_t *p = &conf_props[id];
    int64_t v;
    switch (p->type) {
    case CONF_T_INT:
        return conf_parse_int(p, value, &v, errstr, size);
    case CONF_T_BOOL:
        return conf_parse_bool(p, value, &v, errstr, size);
    case CONF_T_STR:
        break;
    }
    size_t len = strlen(value);
    switch (id) {
    case CONF_TOPIC_PREFIX:
        if (len == 0 || len > 64)
            return dbev_seterr(errstr, size, "%s: must be 1 to 64 characters", p->name);
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)value[i]) && !strchr("._-", value[i]))
                return dbev_seterr(errstr, size,
                                   "%s: \"%s\" may only contain letters, digits, '.', '_', '-'",
                                   p->name, value);
        return 0;
    case CONF_SERVICE_NAME:
        if (len == 0 || len > 128)
            return dbev_seterr(errstr, size, "%s: must be 1 to 128 characters", p->name);
        return 0;
    case CONF_TIMEOUT_MODE:
        if (strcmp(value, "total") != 0 && strcmp(value, "per_attempt") != 0)
            return dbev_seterr(errstr, size, "%s: \"%s\" is neither total nor per_attempt", p->name,
                               value);
        return 0;
    case CONF_CONSUMER_GROUP_ID:
        if (len > 200)
            return dbev_seterr(errstr, size, "%s: at most 200 characters", p->name);
        return 0;
    default:
        return 0;
    }
}

static dbev_conf_res_t conf_set_kafka(dbev_conf_t *conf, const char *name, const char *value,
                                      char *errstr, size_t size)
{
    const char *key = name + strlen(KAFKA_PREFIX);
    if (!*key) {
        dbev_seterr(errstr, size, "%s: a librdkafka property name must follow \"kafka.\"", name);
        return DBEV_CONF_INVALID;
    }
    for (size_t i = 0; i < conf->n_kafka; i++) {
        if (strcmp(conf->kafka[i].name, key) != 0)
            continue;
        if (!value) { /* unset: move the last entry here */
            free(conf->kafka[i].name);
            free(conf->kafka[i].value);
            conf->kafka[i] = conf->kafka[--conf->n_kafka];
            return DBEV_CONF_OK;
        }
        char *v = strdup(value);
        if (!v)
            goto oom;
        free(conf->kafka[i].value);
        conf->kafka[i].value = v;
        return DBEV_CONF_OK;
    }
    if (!value)
        return DBEV_CONF_OK;
    conf_kv_t *grown = realloc(conf->kafka, (conf->n_kafka + 1) * sizeof(*grown));
    if (!grown)
        goto oom;
    conf->kafka = grown;
    char *n = strdup(key), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        goto oom;
    }
    conf->kafka[conf->n_kafka++] = (conf_kv_t){n, v};
    return DBEV_CONF_OK;
oom:
    dbev_seterr(errstr, size, "%s: out of memory", name);
    return DBEV_CONF_INVALID;
}

dbev_conf_res_t dbev_conf_set(dbev_conf_t *conf, const char *name, const char *value, char *errstr,
                              size_t size)
{
    if (!conf || !name) {
        dbev_seterr(errstr, size, "conf and name are required");
        return DBEV_CONF_INVALID;
    }
    if (strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0)
        return conf_set_kafka(conf, name, value, errstr, size);
    int id = conf_find(name);
    if (id < 0) {
        dbev_seterr(errstr, size, "unknown configuration property \"%s\" (see dbev --help-config)",
                    name);
        return DBEV_CONF_UNKNOWN;
    }
    if (value && conf_check((conf_prop_id_t)id, value, errstr, size) < 0)
        return DBEV_CONF_INVALID;
    char *copy = NULL;
    if (value && !(copy = strdup(value))) {
        dbev_seterr(errstr, size, "%s: out of memory", name);
        return DBEV_CONF_INVALID;
    }
    free(conf->values[id]);
    conf->values[id] = copy;
    return DBEV_CONF_OK;
}

const char *conf_str(const dbev_conf_t *conf, conf_prop_id_t id)
{
    if (conf && conf->values[id])
        return conf->values[id];
    if (conf_props[id].env) {
        const char *env = getenv(conf_props[id].env);
        if (env && *env)
            return env;
    }
    return conf_props[id].def;
}

int64_t conf_int(const dbev_conf_t *conf, conf_prop_id_t id)
{
    const char *text = conf_str(conf, id);
    int64_t v = 0;
    if (conf_props[id].type == CONF_T_BOOL) {
        if (conf_parse_bool(&conf_props[id], text, &v, NULL, 0) < 0)
            conf_parse_bool(&conf_props[id], conf_props[id].def, &v, NULL, 0);
    } else if (conf_parse_int(&conf_props[id], text, &v, NULL, 0) < 0) {
        conf_parse_int(&conf_props[id], conf_props[id].def, &v, NULL, 0);
    }
    return v;
}

dbev_conf_res_t dbev_conf_get(const dbev_conf_t *conf, const char *name, char *dest,
                              size_t *dest_size)
{
    const char *value = NULL;
    if (!name || !dest_size)
        return DBEV_CONF_UNKNOWN;
    if (strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0) {
        for (size_t i = 0; conf && i < conf->n_kafka; i++)
            if (!strcmp(conf->kafka[i].name, name + strlen(KAFKA_PREFIX)))
                value = conf->kafka[i].value;
        if (!value)
            return DBEV_CONF_UNKNOWN;
    } else {
        int id = conf_find(name);
        if (id < 0)
            return DBEV_CONF_UNKNOWN;
        value = conf_str(conf, (conf_prop_id_t)id);
    }
    size_t need = strlen(value) + 1;
    if (dest && *dest_size > 0)
        snprintf(dest, *dest_size, "%s", value);
    *dest_size = need;
    return DBEV_CONF_OK;
}

int conf_validate(const dbev_conf_t *conf, char *errstr, size_t size)
{
    for (int i = 0; i < CONF__COUNT; i++) {
        const char *value = conf_str(conf, (conf_prop_id_t)i);
        char why[256];
        if (conf_check((conf_prop_id_t)i, value, why, sizeof(why)) < 0) {
            if (!(conf && conf->values[i]) && conf_props[i].env && getenv(conf_props[i].env))
                return dbev_seterr(errstr, size, "%s (from environment variable %s)", why,
                                   conf_props[i].env);
            return dbev_seterr(errstr, size, "%s", why);
        }
    }
    if (!*conf_str(conf, CONF_BOOTSTRAP_SERVERS))
        return dbev_seterr(errstr, size,
                           "bootstrap.servers is not set: set it or the environment variable "
                           "KAFKA_BOOTSTRAP_SERVERS (e.g. 127.0.0.1:9092)");
    if (conf_int(conf, CONF_RETRY_BACKOFF_MAX_MS) < conf_int(conf, CONF_RETRY_BACKOFF_MS))
        return dbev_seterr(errstr, size,
                           "retry.backoff.max.ms (%lld) is below retry.backoff.ms (%lld)",
                           (long long)conf_int(conf, CONF_RETRY_BACKOFF_MAX_MS),
                           (long long)conf_int(conf, CONF_RETRY_BACKOFF_MS));
    return 0;
}

size_t conf_kafka_count(const dbev_conf_t *conf)
{
    return conf ? conf->n_kafka : 0;
}

void conf_kafka_entry(const dbev_conf_t *conf, size_t i, const char **name, const char **value)
{
    *name = conf->kafka[i].name;
    *value = conf->kafka[i].value;
}

void dbev_conf_set_log_cb(dbev_conf_t *conf, dbev_log_cb_t *cb, void *opaque, int level)
{
    if (!conf)
        return;
    conf->log_cb = cb;
    conf->log_opaque = opaque;
    conf->log_level = level;
}

void conf_log_cb(const dbev_conf_t *conf, dbev_log_cb_t **cb, void **opaque, int *level)
{
    *cb = conf->log_cb;
    *opaque = conf->log_opaque;
    *level = conf->log_level;
}

static const char *conf_type_name(conf_type_t type)
{
    switch (type) {
    case CONF_T_INT:
        return "integer";
    case CONF_T_BOOL:
        return "boolean";
    case CONF_T_STR:
        break;
    }
    return "string";
}

void dbev_conf_properties_show(FILE *fp)
{
    fprintf(fp, "# Client configuration\n\n"
                "<!-- Generated by `dbev --help-config` from the property table in "
                "client/src/conf.c; do not edit by hand. -->\n\n"
                "Set with `dbev_conf_set(conf, name, value, errstr, size)`. A property that "
                "is not set takes its environment variable when that is set and non-empty, "
                "else its default. Keys starting with `kafka.` are passed to librdkafka "
                "without the prefix (e.g. `kafka.debug=broker`), to both the producer and "
                "the consumer.\n\n"
                "| property | type | default | range | environment | description |\n"
                "|---|---|---|---|---|---|\n");
    for (int i = 0; i < CONF__COUNT; i++) {
        const conf_prop_t *p = &conf_props[i];
        char range[64] = "";
        if (p->type == CONF_T_INT)
            snprintf(range, sizeof(range), "%lld .. %lld", (long long)p->min, (long long)p->max);
        else if (p->type == CONF_T_BOOL)
            snprintf(range, sizeof(range), "true, false");
        fprintf(fp, "| `%s` | %s | %s%s%s | %s | %s%s%s | %s |\n", p->name, conf_type_name(p->type),
                *p->def ? "`" : "", *p->def ? p->def : "(none)", *p->def ? "`" : "", range,
                p->env ? "`" : "", p->env ? p->env : "", p->env ? "`" : "", p->desc);
    }
    fprintf(fp, "| `kafka.*` | string | | | | Passed to librdkafka as the property after "
                "`kafka.`; checked by librdkafka when the client is created. |\n");
}
