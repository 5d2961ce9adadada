/*
 * librdkafka helpers for raw events (see dbev_kafka.h): the settings of a
 * raw publisher and of an answer reader, and the assignment of a reader to
 * the end of its topics. Used by the CLI's `send --raw` and the harness's
 * replay, which had each their own copy.
 */
#include "dbev_kafka.h"

#include "dbev_common.h"

#include <stdio.h>

rd_kafka_t *dbev_kafka_raw_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *bootstrap,
                               const char *client_id, char *errstr, size_t size)
{
    const char *const common[][2] = {{"bootstrap.servers", bootstrap}, {"client.id", client_id}};
    const char *const producer[][2] = {
        {"acks", "all"}, {"linger.ms", "0"}, {"message.max.bytes", "67108864"}};
    const char *const consumer[][2] = {{"group.id", client_id}, /* assign() only */
                                       {"enable.auto.commit", "false"},
                                       {"fetch.wait.max.ms", "10"}};
    rd_kafka_conf_res_t res = RD_KAFKA_CONF_OK;
    for (size_t i = 0; i < 2 && res == RD_KAFKA_CONF_OK; i++)
        res = rd_kafka_conf_set(conf, common[i][0], common[i][1], errstr, size);
    for (size_t i = 0; i < 3 && res == RD_KAFKA_CONF_OK; i++) {
        const char *const *kv = type == RD_KAFKA_PRODUCER ? producer[i] : consumer[i];
        res = rd_kafka_conf_set(conf, kv[0], kv[1], errstr, size);
    }
    rd_kafka_t *rk = res == RD_KAFKA_CONF_OK ? rd_kafka_new(type, conf, errstr, size) : NULL;
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

/* The partition count of topic as rk's metadata says, or 0 with err set. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms,
                            rd_kafka_resp_err_t *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int partitions = 0;
    *err = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) : rd_kafka_last_error();
    if (!*err && md->topic_cnt == 1 && !md->topics[0].err)
        partitions = md->topics[0].partition_cnt;
    else if (!*err)
        *err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return partitions;
}

int dbev_kafka_warm(rd_kafka_t *producer, const char *topic, int timeout_ms, char *errstr,
                    size_t size)
{
    rd_kafka_resp_err_t err;
    if (topic_partitions(producer, topic, timeout_ms, &err) <= 0)
        return dbev_seterr(errstr, size, "cannot see topic %s: %s", topic,
                           err ? rd_kafka_err2str(err) : "it does not exist");
    return 0;
}

int dbev_kafka_assign_end(rd_kafka_t *consumer, const char *const *topics, size_t n, int timeout_ms,
                          char *errstr, size_t size)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(32);
    int rc = 0;
    for (size_t t = 0; t < n && rc == 0; t++) {
        const char *name = topics[t];
        rd_kafka_resp_err_t err;
        int partitions = topic_partitions(consumer, name, timeout_ms, &err);
        if (partitions <= 0)
            rc = dbev_seterr(errstr, size, "cannot see topic %s: %s", name,
                             err ? rd_kafka_err2str(err) : "it does not exist");
        for (int p = 0; p < partitions; p++) {
            int64_t lo = 0, hi = 0;
            if (rd_kafka_query_watermark_offsets(consumer, name, p, &lo, &hi, timeout_ms))
                hi = RD_KAFKA_OFFSET_END;
            rd_kafka_topic_partition_list_add(parts, name, p)->offset = hi;
        }
    }
    if (rc == 0) {
        rd_kafka_resp_err_t err = rd_kafka_assign(consumer, parts);
        if (err)
            rc = dbev_seterr(errstr, size, "cannot assign the topics: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}
