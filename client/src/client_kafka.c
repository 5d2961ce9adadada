/*
 * The client's two Kafka handles and its start-up: the producer of request
 * events and the consumer of the completed and failed topics, their
 * settings (brokers, latency settings, kafka.* pass-through), librdkafka's
 * log lines routed to the client's sink, and the start-up that learns the
 * request topic's partitions and assigns every response partition at its
 * high watermark (client.c, top: why assign() and not subscribe()).
 */
#include "client_int.h"

#include "dbev_conf_table.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* librdkafka's own lines: never printed, passed on at a matching level. */
static void cli_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    dbev_client_t *client = rd_kafka_opaque(rk);
    if (!client || !client->logger.cb)
        return;
    dbev_log_level_t l = level <= 3   ? DBEV_LOG_ERROR
                         : level == 4 ? DBEV_LOG_WARN
                         : level <= 6 ? DBEV_LOG_INFO
                                      : DBEV_LOG_DEBUG;
    dbev_logf(&client->logger, l, NULL, "rdkafka %s: %s", fac, buf);
}

static void cli_rdkafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    dbev_client_t *client = opaque;
    dbev_logf(&client->logger, DBEV_LOG_WARN, NULL, "kafka: %s: %s",
              rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* ---- creation ------------------------------------------------------------ */

static int cli_rdconf_set(rd_kafka_conf_t *rdconf, const char *name, const char *value,
                          const char *origin, char *errstr, size_t size)
{
    char why[256];
    if (rd_kafka_conf_set(rdconf, name, value, why, sizeof(why)) != RD_KAFKA_CONF_OK)
        return dbev_seterr(errstr, size, "%s%s: %s", origin, name, why);
    return 0;
}

/* The settings both handles share: brokers, logging, and kafka.* pass-through. */
static rd_kafka_conf_t *cli_rdconf_new(dbev_client_t *client, char *errstr, size_t size)
{
    rd_kafka_conf_t *rdconf = rd_kafka_conf_new();
    /* Nagle off: a small request could otherwise wait for a delayed ACK
     * (docs/latency.md); kafka.socket.nagle.disable=false restores it. */
    if (cli_rdconf_set(rdconf, "bootstrap.servers", conf_str(client->conf, CONF_BOOTSTRAP_SERVERS),
                       "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "client.id", client->service, "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "socket.nagle.disable", "true", "", errstr, size) < 0)
        goto fail;
    rd_kafka_conf_set_log_cb(rdconf, cli_rdkafka_log);
    rd_kafka_conf_set_error_cb(rdconf, cli_rdkafka_error);
    rd_kafka_conf_set_opaque(rdconf, client);
    return rdconf;
fail:
    rd_kafka_conf_destroy(rdconf);
    return NULL;
}

/* kafka.* onto one handle: kafka.consumer.* and kafka.producer.* only onto
 * that one (without librdkafka's warning that the other ignores it). */
static int cli_rdconf_passthrough(dbev_client_t *client, rd_kafka_conf_t *rdconf, bool consumer,
                                  char *errstr, size_t size)
{
    for (size_t i = 0; i < conf_kafka_count(client->conf); i++) {
        const char *name, *value;
        conf_kafka_entry(client->conf, i, &name, &value);
        const char *property = dbev_kafka_property_for(name, consumer);
        if (!property)
            continue;
        const char *origin = property == name ? "kafka."
                             : consumer       ? "kafka.consumer."
                                              : "kafka.producer.";
        if (cli_rdconf_set(rdconf, property, value, origin, errstr, size) < 0)
            return -1;
    }
    return 0;
}

int cli_make_producer(dbev_client_t *client, char *errstr, size_t size)
{
    char timeout[32];
    rd_kafka_conf_t *rdconf = cli_rdconf_new(client, errstr, size);
    if (!rdconf)
        return -1;
    /* A request that cannot be delivered within its timeout is useless (and
     * harmful if delivered much later): let librdkafka give up as well. */
    snprintf(timeout, sizeof(timeout), "%d", client->timeout_ms);
    if (cli_rdconf_set(rdconf, "message.timeout.ms", timeout, "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "linger.ms", "1", "", errstr, size) < 0 ||
        cli_rdconf_passthrough(client, rdconf, false, errstr, size) < 0) {
        rd_kafka_conf_destroy(rdconf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(rdconf, cli_dr_cb);
    char why[512];
    client->producer = rd_kafka_new(RD_KAFKA_PRODUCER, rdconf, why, sizeof(why));
    if (!client->producer) {
        rd_kafka_conf_destroy(rdconf);
        return dbev_seterr(errstr, size, "cannot create the Kafka producer: %s", why);
    }
    return 0;
}

int cli_make_consumer(dbev_client_t *client, char *errstr, size_t size)
{
    rd_kafka_conf_t *rdconf = cli_rdconf_new(client, errstr, size);
    if (!rdconf)
        return -1;
    if (cli_rdconf_set(rdconf, "group.id", client->group_id, "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "enable.auto.commit", "false", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "enable.auto.offset.store", "false", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "auto.offset.reset", "latest", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "fetch.wait.max.ms", "10", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "fetch.error.backoff.ms", "10", "", errstr, size) < 0 ||
        cli_rdconf_passthrough(client, rdconf, true, errstr, size) < 0) {
        rd_kafka_conf_destroy(rdconf);
        return -1;
    }
    char why[512];
    client->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, rdconf, why, sizeof(why));
    if (!client->consumer) {
        rd_kafka_conf_destroy(rdconf);
        return dbev_seterr(errstr, size, "cannot create the Kafka consumer: %s", why);
    }
    rd_kafka_poll_set_consumer(client->consumer);
    client->cq = rd_kafka_queue_get_consumer(client->consumer);
    return 0;
}

static int64_t cli_remaining_ms(int64_t deadline_us)
{
    int64_t left = (deadline_us - dbev_mono_us()) / 1000;
    return left < 1 ? 1 : left;
}

static void cli_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Looks up the partitions of topic (retrying until the deadline: the topic
 * may be being created) and adds each at its current high watermark.
 */
static int cli_add_topic(dbev_client_t *client, const char *topic, int64_t deadline_us,
                         rd_kafka_topic_partition_list_t *parts, char *errstr, size_t size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(client->consumer, topic, NULL);
    const char *why = "no metadata";
    int partition_cnt = 0;
    if (!rkt)
        return dbev_seterr(errstr, size, "cannot use topic %s", topic);
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(client->consumer, 0, rkt, &md, (int)cli_remaining_ms(deadline_us));
        if (err) {
            why = rd_kafka_err2str(err);
        } else if (md->topic_cnt != 1 || md->topics[0].err) {
            why = md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "topic not listed";
        } else if (md->topics[0].partition_cnt > 0) {
            partition_cnt = md->topics[0].partition_cnt;
        } else {
            why = "topic has no partitions";
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (partition_cnt > 0 || dbev_mono_us() >= deadline_us)
            break;
        cli_nap_ms(50); /* the topic may be being created: ask again shortly */
    }
    rd_kafka_topic_destroy(rkt);
    if (partition_cnt == 0)
        return dbev_seterr(errstr, size,
                           "response topic %s not available within startup.timeout.ms=%lld: %s "
                           "(bootstrap.servers=%s)",
                           topic, (long long)conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS), why,
                           conf_str(client->conf, CONF_BOOTSTRAP_SERVERS));
    for (int p = 0; p < partition_cnt; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        while (dbev_mono_us() < deadline_us) {
            err = rd_kafka_query_watermark_offsets(client->consumer, topic, p, &lo, &hi,
                                                   (int)cli_remaining_ms(deadline_us));
            if (!err)
                break;
            cli_nap_ms(50);
        }
        if (err)
            return dbev_seterr(errstr, size,
                               "cannot read the start offset of %s [%d] within "
                               "startup.timeout.ms=%lld: %s",
                               topic, p, (long long)conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS),
                               rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = hi;
    }
    return 0;
}

/*
 * The producer learns the request topic's partitions and connects to their
 * leaders now, not on the first request (which would otherwise wait for a
 * metadata round trip plus a connection: about a second on the mock cluster).
 */
static int cli_warm_producer(dbev_client_t *client, int64_t deadline_us, char *errstr, size_t size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(client->producer, client->topic_req, NULL);
    const char *why = "no metadata";
    bool ok = false;
    if (!rkt)
        return dbev_seterr(errstr, size, "cannot use topic %s", client->topic_req);
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(client->producer, 0, rkt, &md, (int)cli_remaining_ms(deadline_us));
        if (err)
            why = rd_kafka_err2str(err);
        else if (md->topic_cnt != 1 || md->topics[0].err)
            why = md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "topic not listed";
        else
            ok = md->topics[0].partition_cnt > 0;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok || dbev_mono_us() >= deadline_us)
            break;
        cli_nap_ms(50);
    }
    rd_kafka_topic_destroy(rkt);
    if (!ok)
        return dbev_seterr(errstr, size,
                           "request topic %s not available within startup.timeout.ms=%lld: %s "
                           "(bootstrap.servers=%s)",
                           client->topic_req,
                           (long long)conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS), why,
                           conf_str(client->conf, CONF_BOOTSTRAP_SERVERS));
    return 0;
}

int cli_assign(dbev_client_t *client, char *errstr, size_t size)
{
    int64_t deadline_us = dbev_mono_us() + conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS) * 1000;
    if (cli_warm_producer(client, deadline_us, errstr, size) < 0)
        return -1;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = cli_add_topic(client, client->topic_resp[i], deadline_us, parts, errstr, size);
    if (rc == 0) {
        rd_kafka_resp_err_t err = rd_kafka_assign(client->consumer, parts);
        if (err)
            rc = dbev_seterr(errstr, size, "cannot assign the response topics: %s",
                             rd_kafka_err2str(err));
    }
    if (rc == 0)
        dbev_logf(&client->logger, DBEV_LOG_INFO, NULL,
                  "client started: group %s, %d response partitions assigned at their end",
                  client->group_id, parts->cnt);
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}
