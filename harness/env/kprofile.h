/*
 * The Kafka client settings the harness gives every consumer and producer it
 * creates or starts (adapters, its clients, the canary, raw steps, traces,
 * the transport floor), in one place so they cannot drift apart.
 *
 * Why two profiles: librdkafka's mock cluster holds a Fetch that finds no
 * data for the whole fetch.wait.max.ms, and a produce does not wake it
 * (rd_kafka_mock_handle_Fetch), so on the mock each consumer hop costs up
 * to that wait: with 10 ms a two-hop echo has p50 ~13-16 ms, the adapter's
 * own share invisible under it. The mock profile waits 1 ms (0 answers an
 * empty fetch at once, but every idle consumer connection then spins with
 * the mock's thread: more than a core on this machine, and bench_adapter
 * lost a third of its throughput); a client's producer sends at once
 * (linger.ms=0: at 1,000/s linger.ms=1 held nearly every message ~1 ms per
 * hop) while the adapter's lingers a fraction of a millisecond (at 0 it sent
 * so many small produce requests that bench_adapter lost ~20%). Nagle is
 * off: with it, a small request could wait for a delayed ACK (a 33 ms p99 in
 * the echo). The figures are in docs/latency.md.
 * A real broker answers a fetch as soon as data arrives, so the broker
 * profile keeps what the adapter and the client use standalone
 * (fetch.wait.max.ms=10, which only paces idle fetches, and linger.ms=1,
 * which batches under load).
 */
#ifndef HARNESS_KPROFILE_H
#define HARNESS_KPROFILE_H

#include <dbev/dbev.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct kprofile_setting {
    const char *key, *value;
} kprofile_setting_t;

/** Whose settings: every consumer's, a client's producer (requests, one at a
 *  time), the adapter's producer (answers, a batch's worth at a time). */
typedef enum {
    KPROFILE_CONSUMER,
    KPROFILE_CLIENT_PRODUCER,
    KPROFILE_ADAPTER_PRODUCER
} kprofile_role_t;

/** The settings of role for the mock cluster (mock) or a real Kafka,
 *  terminated by {NULL, NULL}. Static storage. The environment variable
 *  DBEV_KAFKA_PROFILE=broker gives the broker profile on the mock too. */
const kprofile_setting_t *kprofile_settings(bool mock, kprofile_role_t role);

/** "mock" or "broker": the profile kprofile_settings(mock, ...) gives. */
const char *kprofile_name(bool mock);

/** Applies kprofile_settings(mock, role) to a librdkafka configuration.
 *  Returns 0, or -1 (a setting librdkafka refused: never with the built-in ones). */
int kprofile_apply(rd_kafka_conf_t *conf, bool mock, kprofile_role_t role);

/** Applies the consumer's and the client producer's to a libdbev client
 *  (kafka.consumer.<key>, kafka.producer.<key>). */
void kprofile_client(dbev_conf_t *conf, bool mock);

/** Writes the i-th setting for an adapter ("kafka.consumer.<key>=<value>",
 *  then the adapter producer's "kafka.producer." ones) into buf; false past
 *  the last. */
bool kprofile_adapter_setting(bool mock, int i, char *buf, size_t size);

#endif
