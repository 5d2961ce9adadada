/*
 * The adapter's two Kafka clients: their configuration (the adapter's
 * defaults, the kafka.* pass-throughs, then the delivery guarantees nobody
 * may override), librdkafka's log and error callbacks, the consumer poll
 * that gathers a batch, and produce(), which every message the adapter
 * sends goes through.
 */
#include "loop_int.h"

#include "dbev_conf_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- librdkafka callbacks --- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    dbev_adapter_t *adapter = rd_kafka_opaque(rk);
    dbev_log_level_t lvl = level <= 3   ? DBEV_LOG_ERROR
                           : level == 4 ? DBEV_LOG_WARN
                           : level <= 6 ? DBEV_LOG_INFO
                                        : DBEV_LOG_DEBUG;
    dbev_logf(&adapter->logger, lvl, NULL, "rdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "fatal Kafka error on %s: %s",
                  rd_kafka_name(rk), why);
        atomic_store(&adapter->fatal, true);
        return;
    }
    /* Transport errors are retried by librdkafka: worth a warning, no more. */
    dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL, "Kafka %s: %s: %s", rd_kafka_name(rk),
              rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Produces one message; on a full queue serves delivery reports and retries.
 * With F_FREE, payload is freed by librdkafka on success, by us on failure.
 * Returns 0 or the error. */
rd_kafka_resp_err_t produce(dbev_adapter_t *adapter, rd_kafka_topic_t *rkt, const char *key,
                            char *payload, size_t len, int msgflags, void *opaque)
{
    size_t keylen = key ? strlen(key) : 0;
    for (;;) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, msgflags, payload, len,
                             keylen ? key : NULL, keylen, opaque) == 0)
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&adapter->stop) == STOP_ABORT) {
            dbev_logf(&adapter->logger, DBEV_LOG_ERROR, key, "cannot produce %zu bytes to %s: %s",
                      len, rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
            if (msgflags & RD_KAFKA_MSG_F_FREE)
                free(payload);
            return err ? err : RD_KAFKA_RESP_ERR__FAIL;
        }
        rd_kafka_poll(adapter->producer, 10);
    }
}

/* Polls the consumer: waits up to timeout_ms for the first message, then
 * takes what is already fetched, up to max. *first_us: when the poll handed
 * over the first message (the batch's consumption time). */
size_t gather(dbev_adapter_t *adapter, rd_kafka_message_t **msgs, size_t max, int timeout_ms,
              int64_t *first_us)
{
    size_t n = 0;
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(adapter->consumer, timeout_ms);
    *first_us = msg ? dbev_mono_us() : 0;
    while (msg) {
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL, "consumer: %s",
                          rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
        } else {
            msgs[n++] = msg;
        }
        if (n >= max || atomic_load(&adapter->stop))
            break;
        msg = rd_kafka_consumer_poll(adapter->consumer, 0);
    }
    return n;
}

void publish_event(dbev_adapter_t *adapter, int topic, json_t *event, void *opaque)
{
    char *text = event ? dbev_event_dumps(event) : NULL;
    json_decref(event);
    if (text)
        produce(adapter, adapter->rkt[topic], adapter->instance_id, text, strlen(text),
                RD_KAFKA_MSG_F_FREE, opaque);
}

rd_kafka_conf_t *kafka_conf(dbev_adapter_t *adapter, bool consumer, char *errstr, size_t size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char client_id[128];
    snprintf(client_id, sizeof(client_id), "dbev-adapter-%s-%.8s", consumer ? "c" : "p",
             adapter->instance_id);
    struct {
        const char *k, *v;
    } base[] = {
        {"bootstrap.servers", aconf_value(adapter->conf, "bootstrap.servers")},
        {"client.id", client_id},
        /* defaults the operator may override with kafka.* (docs/latency.md):
         * a real broker answers a fetch when data arrives, so the fetch
         * wait only paces idle fetches (librdkafka's 500 ms would also hold
         * every answer that long on a broker that waits, as the mock does);
         * Nagle off, or a small request may wait for a delayed ACK */
        {consumer ? "auto.offset.reset" : "linger.ms", consumer ? "earliest" : "1"},
        {"socket.nagle.disable", "true"},
        {"reconnect.backoff.ms", "100"},
    };
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        if (rd_kafka_conf_set(kconf, base[i].k, base[i].v, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    if (consumer && rd_kafka_conf_set(kconf, "fetch.wait.max.ms", "10", errstr, size))
        goto fail;
    /* Explicit, so response.max.bytes can be checked against it (aconf_validate). */
    if (!consumer) {
        char mmb[32];
        snprintf(mmb, sizeof(mmb), "%d", ACONF_MESSAGE_MAX_BYTES);
        if (rd_kafka_conf_set(kconf, "message.max.bytes", mmb, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    const char *key, *value;
    for (size_t i = 0; aconf_passthrough(adapter->conf, i, &key, &value); i++) {
        if (strncmp(key, "kafka.", 6))
            continue;
        const char *name = dbev_kafka_property_for(key + 6, consumer);
        if (!name)
            continue;
        if (rd_kafka_conf_set(kconf, name, value, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    /* The delivery guarantees: last, so nothing overrides them. */
    if (consumer) {
        if (rd_kafka_conf_set(kconf, "group.id", adapter->group_id, errstr, size) ||
            rd_kafka_conf_set(kconf, "enable.auto.commit", "false", errstr, size) ||
            rd_kafka_conf_set(kconf, "enable.auto.offset.store", "false", errstr, size) ||
            rd_kafka_conf_set(kconf, "enable.partition.eof", "false", errstr, size))
            goto fail;
        rd_kafka_conf_set_rebalance_cb(kconf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(kconf, commit_cb);
    } else {
        if (rd_kafka_conf_set(kconf, "enable.idempotence", "true", errstr, size) ||
            rd_kafka_conf_set(kconf, "acks", "all", errstr, size))
            goto fail;
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_msg_cb);
    }
    rd_kafka_conf_set_opaque(kconf, adapter);
    rd_kafka_conf_set_log_cb(kconf, log_cb);
    rd_kafka_conf_set_error_cb(kconf, error_cb);
    return kconf;
fail:
    rd_kafka_conf_destroy(kconf);
    return NULL;
}
