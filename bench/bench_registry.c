/*
 * Seed 001's registry target: "a lookup answers in under 100 ms". Publishes
 * INSTANCES announcements and a heartbeat each on an in-process mock cluster,
 * starts a libdbev registry view, waits until it caught up (the time to
 * discover them all), then times LOOKUPS lookups by service name and type
 * and prints the latency percentiles. A lookup reads memory only, so the
 * figure is microseconds; the view's start is what costs.
 *
 *   bench_registry [INSTANCES] [LOOKUPS]     (defaults 1000, 10000)
 */
#include <dbev/dbev.h>
#include <dbev/protocol.h>

#include "dbev_common.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void produce(rd_kafka_t *p, const char *topic, json_t *event, const char *key)
{
    char *text = dbev_event_dumps(event);
    json_decref(event);
    while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                             RD_KAFKA_V_VALUE(text, strlen(text)),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p, 10);
}

int main(int argc, char **argv)
{
    int instances = argc > 1 ? atoi(argv[1]) : 1000;
    int lookups = argc > 2 ? atoi(argv[2]) : 10000;
    if (instances < 1 || lookups < 1) {
        fprintf(stderr, "usage: bench_registry [INSTANCES] [LOOKUPS]\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *mc = rd_kafka_conf_new();
    rd_kafka_conf_set(mc, "log_level", "0", err, sizeof(err));
    rd_kafka_t *mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, err, sizeof(err));
    rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(mock_rk, 1);
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mcluster);
    char topics[2][256];
    dbev_topic_name("bench", DBEV_TOPIC_REGISTRY, topics[0], sizeof(topics[0]));
    dbev_topic_name("bench", DBEV_TOPIC_HEARTBEAT, topics[1], sizeof(topics[1]));
    for (int t = 0; t < 2; t++)
        rd_kafka_mock_topic_create(mcluster, topics[t], 3, 1);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(pc, "log_level", "0", err, sizeof(err));
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    for (int i = 0; i < instances; i++) {
        char id[40];
        dbev_uuid_new(id);
        /* a tenth are other services, so the filter has work to do */
        const char *name = i % 10 ? "database-adapter-effect" : "other-service";
        json_t *ann =
            json_pack("{s:s, s:s, s:s, s:s, s:i}", "service_name", name, "service_type", "effect",
                      "instance_id", id, "status", "up", "heartbeat_interval_ms", 60000);
        produce(producer, topics[0], dbev_envelope_new("SERVICE_REGISTERED", id, id, name, 0, ann),
                id);
        json_t *hb = json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:s}}", "service_name", name,
                               "service_type", "effect", "instance_id", id, "status", "healthy",
                               "heartbeat_interval_ms", 60000, "health", "status", "HEALTHY");
        produce(producer, topics[1], dbev_envelope_new("SERVICE_HEARTBEAT", id, id, name, 0, hb),
                id);
    }
    rd_kafka_flush(producer, 30000);

    dbev_conf_t *conf = dbev_conf_new();
    dbev_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    dbev_conf_set(conf, "topic.prefix", "bench", err, sizeof(err));
    dbev_conf_set(conf, "kafka.log_level", "0", err, sizeof(err));
    int64_t t0 = dbev_mono_us();
    dbev_registry_t *reg = dbev_registry_new(conf, err, sizeof(err));
    dbev_conf_destroy(conf);
    if (!reg || dbev_registry_sync(reg, 60000) < 0) {
        fprintf(stderr, "bench_registry: the view did not start: %s\n", reg ? "sync timeout" : err);
        return 1;
    }
    double start_ms = (double)(dbev_mono_us() - t0) / 1000.0;

    int64_t *us = calloc((size_t)lookups, sizeof(*us));
    size_t found = 0;
    for (int i = 0; i < lookups; i++) {
        int64_t a = dbev_mono_us();
        json_t *list = dbev_registry_lookup(reg, "database-adapter-effect", "effect", NULL);
        us[i] = dbev_mono_us() - a;
        found = json_array_size(list);
        json_decref(list);
    }
    qsort(us, (size_t)lookups, sizeof(*us), cmp_i64);
    printf("registry view: %d instances (%zu matching) discovered in %.1f ms (new + sync)\n",
           instances, found, start_ms);
    printf("lookup by name and type, %d lookups: p50 %.3f ms, p99 %.3f ms, max %.3f ms "
           "(seed 001 target: < 100 ms, judged on p99)\n",
           lookups, us[lookups / 2] / 1000.0, us[lookups * 99 / 100] / 1000.0,
           us[lookups - 1] / 1000.0);
    /* p99, not max: one preemption on a shared 2-core machine is not the view's latency */
    int rc = us[lookups * 99 / 100] < 100000 && found == (size_t)(instances - (instances + 9) / 10)
                 ? 0
                 : 1;
    free(us);
    dbev_registry_destroy(reg);
    rd_kafka_destroy(producer);
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(mock_rk);
    return rc;
}
