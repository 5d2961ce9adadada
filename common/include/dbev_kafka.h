/*
 * librdkafka helpers for the tools that write and read raw events around
 * libdbev rather than through it: the CLI's `send --raw` (client/cli) and
 * the harness's trace replay (harness/repro). Both publish request events
 * exactly as given and read the answers back from the end of the completed
 * and failed topics. They live here, once, because common/ is the one
 * component both may use for it: the CLI reaches libdbev only through its
 * public header, which by design sends only what the library builds and
 * validates itself, and nothing may depend on the harness. A library of
 * its own (dbev_kafka), so dbev_common stays free of librdkafka. Internal:
 * not part of libdbev's API.
 */
#ifndef DBEV_KAFKA_H
#define DBEV_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief A raw-event handle of type: conf (the caller's own settings and
 *        callbacks) plus the brokers and client_id; a producer sends each
 *        event at once and waits for every replica (linger.ms=0, acks=all)
 *        and lets the broker judge oversized events (message.max.bytes=64
 *        MiB); a consumer is for assign() only (group.id = client_id: it
 *        never joins a group or commits) and fetches promptly
 *        (fetch.wait.max.ms=10).
 * @param conf taken, also on failure.
 * @returns the handle (rd_kafka_destroy()), or NULL with errstr.
 */
rd_kafka_t *dbev_kafka_raw_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *bootstrap,
                               const char *client_id, char *errstr, size_t size);

/**
 * @brief Assigns consumer every partition of the n topics at its current end
 *        (the high watermark; the logical end when that cannot be read
 *        within timeout_ms), so it sees everything published from now on.
 * @returns 0, or -1 with errstr: "cannot see topic T: REASON" when a topic
 *          has no partitions (REASON librdkafka's, or "it does not exist"),
 *          or "cannot assign the topics: REASON"; nothing is assigned then.
 */
int dbev_kafka_assign_end(rd_kafka_t *consumer, const char *const *topics, size_t n, int timeout_ms,
                          char *errstr, size_t size);

/**
 * @brief Makes producer learn topic's partitions now: without it the first
 *        event published waits for the metadata librdkafka asks for lazily,
 *        about a second on the mock cluster (a replay of 4 requests took
 *        1.26 s, 0.35 s warmed). Call before the first publish.
 * @returns 0, or -1 with errstr "cannot see topic T: REASON".
 */
int dbev_kafka_warm(rd_kafka_t *producer, const char *topic, int timeout_ms, char *errstr,
                    size_t size);

#ifdef __cplusplus
}
#endif

#endif
