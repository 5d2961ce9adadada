/*
 * The client's configuration: its property table (name, type, default,
 * range, environment fallback, description) and the rules that concern
 * several keys at once. The engine in common/ (dbev_conf_table.h) does the
 * rest from the table: dbev_conf_set(), dbev_conf_get(), validation at client
 * creation and the Markdown reference written by dbev_conf_properties_show()
 * (docs/client-config.md is its output, and a unit test keeps the two
 * equal). Keys under "kafka." are kept aside and passed to librdkafka when
 * the client is created. Rows are indexed by conf_prop_id_t (client_int.h).
 */
#include "client_int.h"
#include "dbev_conf_table.h"

#include <stdlib.h>
#include <string.h>

static const dbev_prop_t conf_props[CONF__COUNT] = {
    [CONF_BOOTSTRAP_SERVERS] = DBEV_PROP(
        "bootstrap.servers", DBEV_PROP_STR, "", 0, 0, NULL, "KAFKA_BOOTSTRAP_SERVERS", false,
        "Kafka brokers as HOST:PORT[,HOST:PORT...]. Required: dbev_client_new() fails when "
        "neither the property nor the environment variable is set."),
    [CONF_TOPIC_PREFIX] = DBEV_PROP(
        "topic.prefix", DBEV_PROP_STR, "dev", 1, 64, "._-", "DBEV_ENV", false,
        "Environment prefix of the topic names: "
        "<prefix>.omninode-bridge.database.query-requested.v1 and the completed/failed topics; "
        "the adapter's key of the same name."),
    [CONF_SERVICE_NAME] =
        DBEV_PROP("service.name", DBEV_PROP_STR, "dbev-client", 1, 128, NULL, NULL, false,
                  "The `service` field of every request event (who is asking)."),
    [CONF_CONSUMER_GROUP_ID] = DBEV_PROP(
        "consumer.group.id", DBEV_PROP_STR, "", 0, 200, NULL, NULL, false,
        "Consumer group of the response consumer. Empty: a new `dbev-client-<uuid>` per client "
        "instance, so every instance sees every response (responses are matched by correlation "
        "id). Two instances must never share a group."),
    [CONF_REQUEST_TIMEOUT_MS] = DBEV_PROP(
        "request.timeout.ms", DBEV_PROP_INT, "10000", 1, 3600000, NULL, NULL, false,
        "Default timeout of a call (dbev_call_opts_t.timeout_ms overrides it); also sent as "
        "options.timeout_ms. With timeout.mode=total it is the caller's deadline for the whole "
        "call, retries and backoff included; with per_attempt, the wait for each attempt's "
        "answer."),
    [CONF_REQUEST_TIMEOUT_GRACE_MS] = DBEV_PROP(
        "request.timeout.grace.ms", DBEV_PROP_INT, "1000", 0, 600000, NULL, NULL, false,
        "Extra time the client waits beyond an attempt's timeout before giving up locally "
        "(_TIMEOUT). The adapter enforces the same timeout and answers TIMEOUT_ERROR when a "
        "statement or a request's deadline runs out; the grace lets that answer, which says what "
        "timed out, arrive across Kafka instead of racing it."),
    [CONF_TIMEOUT_MODE] = DBEV_PROP(
        "timeout.mode", DBEV_PROP_ENUM, "total", 0, 0, "total,per_attempt", NULL, false,
        "`total`: the timeout is the call's deadline. Each attempt waits for what is left of it, "
        "a retry whose backoff would end past it is not sent, and every attempt carries the "
        "first attempt's envelope timestamp, so the adapter refuses (TIMEOUT_ERROR) work whose "
        "deadline passed; a call returns within timeout + request.timeout.grace.ms. "
        "`per_attempt`: seed 002's literal behaviour, each attempt gets the full timeout and a "
        "fresh timestamp, so with the defaults a call to a stopped adapter blocks about "
        "4 x 11 s + 1 + 2 + 4 s = 51 s."),
    [CONF_STARTUP_TIMEOUT_MS] = DBEV_PROP(
        "startup.timeout.ms", DBEV_PROP_INT, "10000", 100, 600000, NULL, NULL, false,
        "How long dbev_client_new() waits for the response topics' metadata, their assignment "
        "and start offsets before it fails."),
    [CONF_MAX_RETRIES] = DBEV_PROP(
        "max.retries", DBEV_PROP_INT, "3", 0, 100, NULL, NULL, false,
        "Retries after the first attempt, only for retriable failures (timeout, transport, "
        "DATABASE_CONNECTION_FAILED); never for VALIDATION_ERROR or a SQL error. A retry reuses "
        "the event id and the correlation id."),
    [CONF_RETRY_BACKOFF_MS] = DBEV_PROP(
        "retry.backoff.ms", DBEV_PROP_INT, "1000", 1, 600000, NULL, NULL, false,
        "Delay before the first retry; it doubles for each further retry (1 s, 2 s, 4 s, ...) "
        "with +/-20% jitter."),
    [CONF_RETRY_BACKOFF_MAX_MS] =
        DBEV_PROP("retry.backoff.max.ms", DBEV_PROP_INT, "30000", 1, 3600000, NULL, NULL, false,
                  "Upper bound of the retry delay."),
    [CONF_BREAKER_ENABLE] = DBEV_PROP(
        "circuit.breaker.enable", DBEV_PROP_BOOL, "true", 0, 0, NULL, NULL, false,
        "Client-side circuit breaker on timeouts and transport failures: when open, calls fail "
        "at once with CIRCUIT_BREAKER_OPEN."),
    [CONF_BREAKER_THRESHOLD] =
        DBEV_PROP("circuit.breaker.failure.threshold", DBEV_PROP_INT, "5", 1, 10000, NULL, NULL,
                  false, "Consecutive timeouts/transport failures that open the breaker."),
    [CONF_BREAKER_RECOVERY_MS] = DBEV_PROP(
        "circuit.breaker.recovery.ms", DBEV_PROP_INT, "60000", 1, 3600000, NULL, NULL, false,
        "How long the breaker stays open before it lets one probe request through (half-open); "
        "the probe's answer closes it, its failure reopens it."),
};

#define KAFKA_PREFIX "kafka."

static const char *const passthrough_prefixes[] = {KAFKA_PREFIX, NULL};

/* librdkafka checks the kafka.* keys when the client is created. */
static const dbev_conf_table_t table = {
    .component = "client",
    .props = conf_props,
    .n_props = CONF__COUNT,
    .passthrough_prefixes = passthrough_prefixes,
    .help_hint = "dbev --help-config lists them",
};

_Static_assert((int)DBEV_CONF_UNKNOWN == (int)DBEV_PROP_UNKNOWN &&
                   (int)DBEV_CONF_INVALID == (int)DBEV_PROP_INVALID &&
                   (int)DBEV_CONF_OK == (int)DBEV_PROP_OK,
               "the engine's results are the client's");

struct dbev_conf {
    dbev_prop_values_t values; /* its logger forwards to log_cb (conf_log_forward) */
    dbev_log_cb_t *log_cb;
    void *log_opaque;
    int log_level;
};

/* What a NULL conf reads: nothing set, so environment and defaults. */
static char *no_vals[CONF__COUNT];
static const dbev_prop_values_t no_values = {.table = &table, .vals = no_vals};
#define VALUES(conf) ((conf) ? &(conf)->values : &no_values)

/* The engine logs through a dbev_logger_t (deprecated keys); the library
 * never prints, so its lines go to the application's callback or nowhere. */
static void conf_log_forward(void *opaque, dbev_log_level_t level, const char *component,
                             const char *correlation_id, const char *message)
{
    const dbev_conf_t *conf = opaque;
    if (conf->log_cb)
        conf->log_cb(conf->log_opaque, (int)level, correlation_id, message);
}

static void conf_logger_sync(dbev_conf_t *conf)
{
    conf->values.logger.cb = conf_log_forward;
    conf->values.logger.opaque = conf;
    conf->values.logger.level = (dbev_log_level_t)conf->log_level;
}

dbev_conf_t *dbev_conf_new(void)
{
    dbev_conf_t *conf = calloc(1, sizeof(*conf));
    if (!conf)
        return NULL;
    if (dbev_prop_values_init(&conf->values, &table)) {
        dbev_conf_destroy(conf);
        return NULL;
    }
    conf->log_level = DBEV_LOG_LEVEL_INFO;
    conf_logger_sync(conf);
    return conf;
}

void dbev_conf_destroy(dbev_conf_t *conf)
{
    if (!conf)
        return;
    dbev_prop_values_clear(&conf->values);
    free(conf);
}

dbev_conf_t *dbev_conf_dup(const dbev_conf_t *conf)
{
    dbev_conf_t *copy = dbev_conf_new();
    if (!copy || !conf)
        return copy;
    if (dbev_prop_values_copy(&copy->values, &conf->values)) {
        dbev_conf_destroy(copy);
        return NULL;
    }
    copy->log_cb = conf->log_cb;
    copy->log_opaque = conf->log_opaque;
    copy->log_level = conf->log_level;
    conf_logger_sync(copy);
    return copy;
}

dbev_conf_res_t dbev_conf_set(dbev_conf_t *conf, const char *name, const char *value, char *errstr,
                              size_t size)
{
    if (!conf || !name) {
        dbev_seterr(errstr, size, "conf and name are required");
        return DBEV_CONF_INVALID;
    }
    return (dbev_conf_res_t)dbev_prop_values_set(&conf->values, name, value, errstr, size);
}

const char *conf_str(const dbev_conf_t *conf, conf_prop_id_t id)
{
    return dbev_prop_values_value(VALUES(conf), id);
}

int64_t conf_int(const dbev_conf_t *conf, conf_prop_id_t id)
{
    return dbev_prop_values_int(VALUES(conf), id);
}

dbev_conf_res_t dbev_conf_get(const dbev_conf_t *conf, const char *name, char *dest,
                              size_t *dest_size)
{
    if (!name || !dest_size)
        return DBEV_CONF_UNKNOWN;
    const char *value = dbev_prop_values_get(VALUES(conf), name);
    if (!value)
        return DBEV_CONF_UNKNOWN;
    size_t need = strlen(value) + 1;
    if (dest && *dest_size > 0)
        snprintf(dest, *dest_size, "%s", value);
    *dest_size = need;
    return DBEV_CONF_OK;
}

int conf_validate(const dbev_conf_t *conf, char *errstr, size_t size)
{
    if (dbev_prop_values_validate(VALUES(conf), errstr, size))
        return -1;
    if (!*conf_str(conf, CONF_BOOTSTRAP_SERVERS))
        return dbev_seterr(errstr, size,
                           "bootstrap.servers is not set: set it or the environment variable "
                           "KAFKA_BOOTSTRAP_SERVERS (e.g. 127.0.0.1:9092)");
    if (conf_int(conf, CONF_RETRY_BACKOFF_MAX_MS) < conf_int(conf, CONF_RETRY_BACKOFF_MS))
        return dbev_seterr(errstr, size,
                           "retry.backoff.max.ms (%lld) is below retry.backoff.ms (%lld): raise "
                           "retry.backoff.max.ms or lower retry.backoff.ms",
                           (long long)conf_int(conf, CONF_RETRY_BACKOFF_MAX_MS),
                           (long long)conf_int(conf, CONF_RETRY_BACKOFF_MS));
    return 0;
}

size_t conf_kafka_count(const dbev_conf_t *conf)
{
    return conf ? conf->values.n_pt : 0;
}

void conf_kafka_entry(const dbev_conf_t *conf, size_t i, const char **name, const char **value)
{
    const dbev_prop_kv_t *kv = dbev_prop_values_passthrough(&conf->values, i);
    *name = kv->key + strlen(KAFKA_PREFIX);
    *value = kv->value;
}

void dbev_conf_set_log_cb(dbev_conf_t *conf, dbev_log_cb_t *cb, void *opaque, int level)
{
    if (!conf)
        return;
    conf->log_cb = cb;
    conf->log_opaque = opaque;
    conf->log_level = level;
    conf_logger_sync(conf);
}

void conf_log_cb(const dbev_conf_t *conf, dbev_log_cb_t **cb, void **opaque, int *level)
{
    *cb = conf->log_cb;
    *opaque = conf->log_opaque;
    *level = conf->log_level;
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
                "the consumer; `kafka.consumer.` and `kafka.producer.` keys to that one "
                "only (e.g. `kafka.consumer.fetch.wait.max.ms=1`). The client's own "
                "librdkafka defaults, which these override: `fetch.wait.max.ms=10` and "
                "`fetch.error.backoff.ms=10` (consumer), `linger.ms=1` (producer), "
                "`socket.nagle.disable=true` (both); why, and the settings the harness uses "
                "on its mock cluster: docs/latency.md.\n\n");
    dbev_conf_table_markdown(&table, fp);
    fprintf(fp, "| `kafka.*` | string | | | | Passed to librdkafka as the property after "
                "`kafka.`; checked by librdkafka when the client is created. |\n");
}
