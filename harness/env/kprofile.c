/*
 * The harness's Kafka client profiles (kprofile.h): the figures behind the
 * choice are in docs/latency.md.
 */
#include "env/kprofile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The adapter's producer on the mock: long enough for a batch's answers to
 * share produce requests, short against the fetch wait. */
#define ADAPTER_LINGER "0.2"

static const kprofile_setting_t mock_consumer[] = {
    {"fetch.wait.max.ms", "1"},
    {"fetch.error.backoff.ms", "10"},
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

static const kprofile_setting_t mock_client_producer[] = {
    {"linger.ms", "0"},
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

static const kprofile_setting_t mock_adapter_producer[] = {
    {"linger.ms", ADAPTER_LINGER},
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

/* What the adapter and the client use standalone (linger.ms=1 theirs). */
static const kprofile_setting_t broker_consumer[] = {
    {"fetch.wait.max.ms", "10"},
    {"fetch.error.backoff.ms", "10"},
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

static const kprofile_setting_t broker_producer[] = {
    {"socket.nagle.disable", "true"},
    {NULL, NULL},
};

/* DBEV_KAFKA_PROFILE=broker: the broker profile on the mock too (less CPU
 * while idle, the former latencies). */
static bool effective(bool mock)
{
    const char *forced = getenv("DBEV_KAFKA_PROFILE");
    return mock && !(forced && strcmp(forced, "broker") == 0);
}

const char *kprofile_name(bool mock)
{
    return effective(mock) ? "mock" : "broker";
}

const kprofile_setting_t *kprofile_settings(bool mock, kprofile_role_t role)
{
    mock = effective(mock);
    if (role == KPROFILE_CONSUMER)
        return mock ? mock_consumer : broker_consumer;
    if (!mock)
        return broker_producer;
    return role == KPROFILE_ADAPTER_PRODUCER ? mock_adapter_producer : mock_client_producer;
}

int kprofile_apply(rd_kafka_conf_t *conf, bool mock, kprofile_role_t role)
{
    char err[256];
    for (const kprofile_setting_t *s = kprofile_settings(mock, role); s->key; s++)
        if (rd_kafka_conf_set(conf, s->key, s->value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
            return -1;
    return 0;
}

void kprofile_client(dbev_conf_t *conf, bool mock)
{
    char key[128];
    for (int c = 0; c < 2; c++)
        for (const kprofile_setting_t *s =
                 kprofile_settings(mock, c == 0 ? KPROFILE_CONSUMER : KPROFILE_CLIENT_PRODUCER);
             s->key; s++) {
            snprintf(key, sizeof(key), "kafka.%s.%s", c == 0 ? "consumer" : "producer", s->key);
            dbev_conf_set(conf, key, s->value, NULL, 0);
        }
}

bool kprofile_adapter_setting(bool mock, int i, char *buf, size_t size)
{
    for (int c = 0; c < 2; c++) {
        const kprofile_setting_t *s =
            kprofile_settings(mock, c == 0 ? KPROFILE_CONSUMER : KPROFILE_ADAPTER_PRODUCER);
        for (; s->key; s++)
            if (i-- == 0) {
                snprintf(buf, size, "kafka.%s.%s=%s", c == 0 ? "consumer" : "producer", s->key,
                         s->value);
                return true;
            }
    }
    return false;
}
