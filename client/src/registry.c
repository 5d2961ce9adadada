/*
 * Discovery (seed 001, phase 4): a live view of the service instances that
 * announce themselves on <prefix>.omninode-bridge.registry.service-registered.v1
 * and send heartbeats on <prefix>.omninode-bridge.registry.heartbeat.v1 (the
 * adapter does, adapter/src/registry.c; docs/protocol.md has the payloads).
 *
 * Seed 001 wanted a registry service; here the registry is the two topics
 * and every reader keeps its own view, so there is no service to run or to
 * lose. A background thread consumes both topics into a table keyed by
 * instance id; lookups read the table under a lock and never touch Kafka,
 * which is what keeps them far under seed 001's 100 ms. An instance is gone
 * when it missed DBEV_REGISTRY_MISSED_HEARTBEATS heartbeats (its last one is
 * older than that many heartbeat intervals) or announced "down".
 *
 * Ages are judged by the events' own envelope timestamps, not by when this
 * reader consumed them, so the history read at start (the last
 * REG_HISTORY events of each partition) counts for what it is: an instance
 * whose last heartbeat is old is already gone.
 */
#include "client_int.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REG_HISTORY         1000   /* events per partition read back at start */
#define REG_POLL_MS         50     /* the thread's longest wait for a message */
#define REG_RETRY_TOPICS_US 500000 /* a topic not there yet is looked for again this often */
#define REG_DEFAULT_HB_MS   10000  /* an instance that never said its interval */
#define REG_MAX_PARTS       256

typedef struct reg_inst {
    char *id;
    json_t *info;    /* the object lookups hand out (copied per lookup) */
    int64_t seen_us; /* wall clock: the newest event's envelope timestamp */
    int64_t interval_ms;
} reg_inst_t;

typedef struct reg_part {
    int topic; /* 0 registry, 1 heartbeat */
    int32_t partition;
    int64_t target; /* high watermark at assignment: synced once consumed up to it */
    int64_t next;   /* the next offset to consume */
} reg_part_t;

struct dbev_registry {
    rd_kafka_t *consumer;
    char topics[2][256];
    bool assigned[2];
    int64_t next_topic_try_us;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    dbev_logger_t logger;

    pthread_mutex_t lock; /* everything below */
    pthread_cond_t cond;  /* signalled when synced or the table changes */
    reg_inst_t *insts;
    size_t n_insts, cap_insts;
    reg_part_t parts[REG_MAX_PARTS];
    int n_parts;
    uint64_t events;
};

static void reg_rdlog(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    dbev_registry_t *reg = rd_kafka_opaque(rk);
    if (reg && reg->logger.cb)
        dbev_logf(&reg->logger, level <= 3 ? DBEV_LOG_ERROR : DBEV_LOG_DEBUG, NULL,
                  "rdkafka %s: %s", fac, buf);
}

/* ---- the table (under lock) --------------------------------------------- */

static reg_inst_t *reg_find(dbev_registry_t *reg, const char *id, size_t *idx)
{
    for (size_t i = 0; i < reg->n_insts; i++)
        if (!strcmp(reg->insts[i].id, id)) {
            if (idx)
                *idx = i;
            return &reg->insts[i];
        }
    return NULL;
}

static void reg_remove(dbev_registry_t *reg, size_t i)
{
    free(reg->insts[i].id);
    json_decref(reg->insts[i].info);
    reg->insts[i] = reg->insts[--reg->n_insts];
}

static int64_t reg_ttl_ms(const reg_inst_t *in)
{
    return in->interval_ms * DBEV_REGISTRY_MISSED_HEARTBEATS;
}

/* Copies the fields an event carries into the instance's info. */
static void reg_merge(json_t *info, json_t *payload, bool heartbeat)
{
    static const char *const keys[] = {"service_name", "service_type",   "version",
                                       "endpoint",     "consumer_group", "host",
                                       "pid",          "started_at",     "heartbeat_interval_ms",
                                       "status",       "uptime_ms",      "health"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *v = json_object_get(payload, keys[k]);
        if (v)
            json_object_set(info, keys[k], v);
    }
    /* an announcement says "up"; the health comes with the heartbeats */
    if (!heartbeat && !json_object_get(info, "health"))
        json_object_set_new(info, "status", json_string("unknown"));
}

static void reg_apply(dbev_registry_t *reg, const rd_kafka_message_t *rkm, int topic)
{
    json_t *ev = json_loadb(rkm->payload, rkm->len, 0, NULL);
    json_t *payload = json_object_get(ev, "payload");
    const char *id = json_string_value(json_object_get(payload, "instance_id"));
    const char *ts = json_string_value(json_object_get(ev, "timestamp"));
    int64_t seen_us = 0;
    if (!id || !ts || dbev_parse_iso8601(ts, &seen_us) < 0) {
        json_decref(ev);
        return; /* not an instance event: not ours to judge */
    }
    const char *status = json_string_value(json_object_get(payload, "status"));
    bool down = topic == 0 && status && !strcmp(status, "down");
    pthread_mutex_lock(&reg->lock);
    reg->events++;
    size_t idx = 0;
    reg_inst_t *in = reg_find(reg, id, &idx);
    if (in && seen_us < in->seen_us) {
        /* older than what we know (partitions interleave): ignore */
    } else if (down) {
        if (in)
            reg_remove(reg, idx);
    } else {
        if (!in && reg->n_insts == reg->cap_insts) {
            size_t cap = reg->cap_insts ? reg->cap_insts * 2 : 16;
            reg_inst_t *grown = realloc(reg->insts, cap * sizeof(*grown));
            if (grown) {
                reg->insts = grown;
                reg->cap_insts = cap;
            }
        }
        if (!in && reg->n_insts < reg->cap_insts) {
            in = &reg->insts[reg->n_insts++];
            in->id = strdup(id);
            in->info = json_pack("{s:s}", "instance_id", id);
            in->interval_ms = REG_DEFAULT_HB_MS;
        }
        if (in && in->id && in->info) {
            reg_merge(in->info, payload, topic == 1);
            json_int_t iv = json_integer_value(json_object_get(payload, "heartbeat_interval_ms"));
            if (iv > 0)
                in->interval_ms = iv;
            in->seen_us = seen_us;
        }
    }
    pthread_cond_broadcast(&reg->cond);
    pthread_mutex_unlock(&reg->lock);
    json_decref(ev);
}

/* ---- Kafka -------------------------------------------------------------- */

/* Assigns every partition of a topic from its last REG_HISTORY events; 0 when
 * done, -1 when the topic is not there (yet). */
static int reg_assign_topic(dbev_registry_t *reg, int t)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(reg->consumer, reg->topics[t], NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(reg->consumer, 0, rkt, &md, 2000);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        if (!err)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_lock(&reg->lock);
    for (int p = 0; p < md->topics[0].partition_cnt && reg->n_parts < REG_MAX_PARTS; p++) {
        int32_t id = md->topics[0].partitions[p].id;
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(reg->consumer, reg->topics[t], id, &lo, &hi, 2000))
            lo = hi = 0;
        int64_t start = hi - REG_HISTORY > lo ? hi - REG_HISTORY : lo;
        reg->parts[reg->n_parts++] =
            (reg_part_t){.topic = t, .partition = id, .target = hi, .next = start};
    }
    /* assign() replaces the assignment: the other topic's partitions go in
     * again at the positions reached */
    for (int i = 0; i < reg->n_parts; i++)
        rd_kafka_topic_partition_list_add(parts, reg->topics[reg->parts[i].topic],
                                          reg->parts[i].partition)
            ->offset = reg->parts[i].next;
    pthread_mutex_unlock(&reg->lock);
    rd_kafka_metadata_destroy(md);
    err = rd_kafka_assign(reg->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err)
        return -1;
    reg->assigned[t] = true;
    return 0;
}

static void reg_assign_missing(dbev_registry_t *reg)
{
    int64_t now = dbev_mono_us();
    if (now < reg->next_topic_try_us)
        return;
    reg->next_topic_try_us = now + REG_RETRY_TOPICS_US;
    for (int t = 0; t < 2; t++)
        if (!reg->assigned[t] && reg_assign_topic(reg, t) == 0)
            dbev_logf(&reg->logger, DBEV_LOG_DEBUG, NULL, "registry: reading %s", reg->topics[t]);
}

static void reg_track(dbev_registry_t *reg, const rd_kafka_message_t *rkm, int t)
{
    pthread_mutex_lock(&reg->lock);
    for (int i = 0; i < reg->n_parts; i++)
        if (reg->parts[i].topic == t && reg->parts[i].partition == rkm->partition &&
            rkm->offset + 1 > reg->parts[i].next)
            reg->parts[i].next = rkm->offset + 1;
    pthread_cond_broadcast(&reg->cond);
    pthread_mutex_unlock(&reg->lock);
}

static void *reg_thread(void *arg)
{
    dbev_registry_t *reg = arg;
    while (!atomic_load(&reg->stop)) {
        if (!reg->assigned[0] || !reg->assigned[1])
            reg_assign_missing(reg);
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(reg->consumer, REG_POLL_MS);
        if (!rkm)
            continue;
        if (!rkm->err) {
            int t = strcmp(rd_kafka_topic_name(rkm->rkt), reg->topics[0]) == 0 ? 0 : 1;
            reg_apply(reg, rkm, t);
            reg_track(reg, rkm, t);
        }
        rd_kafka_message_destroy(rkm);
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------- */

void dbev_registry_destroy(dbev_registry_t *reg)
{
    if (!reg)
        return;
    atomic_store(&reg->stop, true);
    if (reg->thread_started)
        pthread_join(reg->thread, NULL);
    if (reg->consumer)
        rd_kafka_destroy_flags(reg->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    for (size_t i = 0; i < reg->n_insts; i++) {
        free(reg->insts[i].id);
        json_decref(reg->insts[i].info);
    }
    free(reg->insts);
    pthread_cond_destroy(&reg->cond);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static int reg_set(rd_kafka_conf_t *rc, const char *k, const char *v, char *errstr, size_t size)
{
    char why[256];
    if (rd_kafka_conf_set(rc, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK)
        return dbev_seterr(errstr, size, "%s: %s", k, why);
    return 0;
}

dbev_registry_t *dbev_registry_new(const dbev_conf_t *conf, char *errstr, size_t size)
{
    dbev_conf_t *defaults = NULL;
    if (!conf && !(conf = defaults = dbev_conf_new())) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    dbev_registry_t *reg = NULL;
    if (conf_validate(conf, errstr, size) < 0)
        goto out;
    reg = calloc(1, sizeof(*reg));
    if (!reg) {
        dbev_seterr(errstr, size, "out of memory");
        goto out;
    }
    pthread_mutex_init(&reg->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&reg->cond, &attr);
    pthread_condattr_destroy(&attr);
    /* No log sink: the conf is borrowed, and a view has nothing to say that
     * dbev_registry_sync() and the lookups do not show. */
    reg->logger = (dbev_logger_t){.component = "registry"};
    const char *prefix = conf_str(conf, CONF_TOPIC_PREFIX);
    dbev_topic_name(prefix, DBEV_TOPIC_REGISTRY, reg->topics[0], sizeof(reg->topics[0]));
    dbev_topic_name(prefix, DBEV_TOPIC_HEARTBEAT, reg->topics[1], sizeof(reg->topics[1]));

    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    char group[80], uuid[40];
    dbev_uuid_new(uuid);
    snprintf(group, sizeof(group), "dbev-registry-%s", uuid);
    if (reg_set(rc, "bootstrap.servers", conf_str(conf, CONF_BOOTSTRAP_SERVERS), errstr, size) ||
        reg_set(rc, "group.id", group, errstr, size) ||
        reg_set(rc, "enable.auto.commit", "false", errstr, size) ||
        reg_set(rc, "fetch.wait.max.ms", "10", errstr, size) ||
        reg_set(rc, "fetch.error.backoff.ms", "10", errstr, size)) {
        rd_kafka_conf_destroy(rc);
        goto fail;
    }
    for (size_t i = 0; i < conf_kafka_count(conf); i++) {
        const char *k, *v;
        conf_kafka_entry(conf, i, &k, &v);
        if (reg_set(rc, k, v, errstr, size)) {
            rd_kafka_conf_destroy(rc);
            goto fail;
        }
    }
    rd_kafka_conf_set_log_cb(rc, reg_rdlog);
    rd_kafka_conf_set_opaque(rc, reg);
    char why[512];
    reg->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof(why));
    if (!reg->consumer) {
        rd_kafka_conf_destroy(rc);
        dbev_seterr(errstr, size, "cannot create the Kafka consumer: %s", why);
        goto fail;
    }
    rd_kafka_poll_set_consumer(reg->consumer);
    reg_assign_missing(reg);
    if (pthread_create(&reg->thread, NULL, reg_thread, reg) != 0) {
        dbev_seterr(errstr, size, "cannot start the registry thread");
        goto fail;
    }
    reg->thread_started = true;
    goto out;
fail:
    dbev_registry_destroy(reg);
    reg = NULL;
out:
    dbev_conf_destroy(defaults);
    return reg;
}

static bool reg_synced(const dbev_registry_t *reg)
{
    if (!reg->assigned[0] || !reg->assigned[1])
        return false;
    for (int i = 0; i < reg->n_parts; i++)
        if (reg->parts[i].next < reg->parts[i].target)
            return false;
    return true;
}

int dbev_registry_sync(dbev_registry_t *reg, int timeout_ms)
{
    struct timespec ts;
    dbev_mono_deadline(timeout_ms, &ts);
    pthread_mutex_lock(&reg->lock);
    bool ok;
    while (!(ok = reg_synced(reg)))
        if (pthread_cond_timedwait(&reg->cond, &reg->lock, &ts) != 0)
            break;
    ok = reg_synced(reg);
    pthread_mutex_unlock(&reg->lock);
    return ok ? 0 : -1;
}

static bool reg_match(const json_t *info, const char *key, const char *want)
{
    if (!want || !*want)
        return true;
    const char *have = json_string_value(json_object_get(info, key));
    return have && !strcmp(have, want);
}

json_t *dbev_registry_lookup(dbev_registry_t *reg, const char *service_name,
                             const char *service_type, const char *status)
{
    json_t *out = json_array();
    if (!out)
        return NULL;
    char ts[DBEV_ISO8601_SIZE];
    int64_t now = dbev_wall_us();
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->n_insts;) {
        reg_inst_t *in = &reg->insts[i];
        int64_t age_ms = (now - in->seen_us) / 1000;
        if (age_ms > reg_ttl_ms(in)) {
            reg_remove(reg, i); /* missed its heartbeats: gone */
            continue;
        }
        i++;
        if (!reg_match(in->info, "service_name", service_name) ||
            !reg_match(in->info, "service_type", service_type) ||
            !reg_match(in->info, "status", status))
            continue;
        json_t *o = json_copy(in->info);
        if (!o)
            continue;
        json_object_set_new(o, "last_seen", json_string(dbev_iso8601(in->seen_us, ts, sizeof(ts))));
        json_object_set_new(o, "age_ms", json_integer(age_ms > 0 ? age_ms : 0));
        json_object_set_new(o, "expires_in_ms", json_integer(reg_ttl_ms(in) - age_ms));
        json_array_append_new(out, o);
    }
    pthread_mutex_unlock(&reg->lock);
    return out;
}
