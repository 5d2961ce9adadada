/*
 * The harness's Kafka client profiles (kprofile.h): the figures behind the
 * choice are in docs/adapter-config.md ("Fetch settings and latency").
 */
#include "kprofile.h"

#include <stdio.h>

static const kprofile_setting_t mock_consumer[] = {
    {"fetch.wait.max.ms", "1"},
    {"fetch.error.backoff.ms", "10"},
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

static const kprofile_setting_t mock_producer[] = {
    {"linger.ms", "0"},
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

/* What the adapter and the client use standalone. */
static const kprofile_setting_t broker_consumer[] = {
    {"fetch.wait.max.ms", "10"},
    {"fetch.error.backoff.ms", "10"},
    {NULL, NULL},
};

static const kprofile_setting_t broker_producer[] = {
    {NULL, NULL},
};

const kprofile_setting_t *kprofile_settings(bool mock, bool consumer)
{
    if (mock)
        return consumer ? mock_consumer : mock_producer;
    return consumer ? broker_consumer : broker_producer;
}

int kprofile_apply(rd_kafka_conf_t *conf, bool mock, bool consumer)
{
    char err[256];
    for (const kprofile_setting_t *s = kprofile_settings(mock, consumer); s->key; s++)
        if (rd_kafka_conf_set(conf, s->key, s->value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
            return -1;
    return 0;
}

void kprofile_client(dbev_conf_t *conf, bool mock)
{
    char key[128];
    for (int c = 0; c < 2; c++)
        for (const kprofile_setting_t *s = kprofile_settings(mock, c == 0); s->key; s++) {
            snprintf(key, sizeof(key), "kafka.%s.%s", c == 0 ? "consumer" : "producer", s->key);
            dbev_conf_set(conf, key, s->value, NULL, 0);
        }
}

bool kprofile_adapter_setting(bool mock, int i, char *buf, size_t size)
{
    for (int c = 0; c < 2; c++) {
        const kprofile_setting_t *s = kprofile_settings(mock, c == 0);
        for (; s->key; s++)
            if (i-- == 0) {
                snprintf(buf, size, "kafka.%s.%s=%s", c == 0 ? "consumer" : "producer", s->key,
                         s->value);
                return true;
            }
    }
    return false;
}
