/*
 * mockenv: the Kafka side of the harness environment. By default an
 * in-process librdkafka mock cluster (rdkafka_mock.h) with N brokers listening
 * on real 127.0.0.1 sockets, so other processes (the adapter as a subprocess,
 * kcat) can use it through mockenv_bootstrap(); with opts->bootstrap set, a
 * handle on an existing Kafka/Redpanda cluster whose reachability is checked
 * up front. Either way it knows the protocol topic names for one environment
 * prefix and, for the mock cluster, creates them and exposes the fault
 * controls scenarios use (broker down/up, round-trip time, request errors,
 * leader change).
 *
 * Topics: every dbev_topic_t of the protocol module (dbev_topic_name()), i.e.
 * seed 002's three plus the two dbev's adapter announces itself on:
 *   <env>.omninode-bridge.database.query-requested.v1
 *   <env>.omninode-bridge.database.query-completed.v1
 *   <env>.omninode-bridge.database.query-failed.v1
 *   <env>.omninode-bridge.registry.service-registered.v1
 *   <env>.omninode-bridge.registry.heartbeat.v1
 * In the mock cluster, partition p of every topic is led by broker
 * (p % brokers) + 1, so a topic with several partitions spreads its leaders
 * over the brokers deterministically.
 *
 * Thread safety: the accessors only read immutable state and may be called
 * from any thread; the fault controls may be called from any thread too
 * (librdkafka serialises them on the mock cluster's own thread). Create and
 * destroy from one thread. librdkafka's own log lines go to opts->logger at
 * debug level, from librdkafka's threads.
 */
#ifndef HARNESS_MOCKENV_H
#define HARNESS_MOCKENV_H

#include "dbev_common.h"

#include <dbev/protocol.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mockenv mockenv_t;

#define MOCKENV_DEFAULT_BROKERS    3
#define MOCKENV_MAX_BROKERS        16
#define MOCKENV_DEFAULT_PARTITIONS 3
#define MOCKENV_MAX_PARTITIONS     256
#define MOCKENV_DEFAULT_ENV        "dev"
#define MOCKENV_MAX_ENV_LEN        64
#define MOCKENV_DEFAULT_TIMEOUT_MS 5000

typedef struct mockenv_opts {
    const char *bootstrap;       /* HOST:PORT[,…] of an existing cluster; NULL: mock cluster */
    int brokers;                 /* mock brokers; 0: MOCKENV_DEFAULT_BROKERS */
    int partitions;              /* partitions per topic; 0: MOCKENV_DEFAULT_PARTITIONS */
    const char *env;             /* topic prefix; NULL: MOCKENV_DEFAULT_ENV */
    int timeout_ms;              /* reachability check (external mode); 0: default */
    const dbev_logger_t *logger; /* borrowed, must outlive the handle; NULL: no logs */
} mockenv_opts_t;

/**
 * @brief Validates opts (NULL: all defaults) without starting anything.
 * @returns 0, or -1 with errstr naming the bad value and the allowed range.
 */
int mockenv_opts_check(const mockenv_opts_t *opts, char *errstr, size_t size);

/**
 * @brief Starts the mock cluster and creates the topics, or (opts->bootstrap)
 *        checks that the external cluster answers a metadata request within
 *        opts->timeout_ms.
 * @returns the handle, to be freed with mockenv_destroy(), or NULL with errstr
 *          set to one line naming the problem and the fix. Nothing is left
 *          running on failure.
 */
mockenv_t *mockenv_new(const mockenv_opts_t *opts, char *errstr, size_t size);

/** For a process about to exit: stops and frees nothing, so that the exit
 *  reclaims the cluster's threads, sockets and memory at once. Shutting the
 *  mock cluster down (mockenv_destroy) takes up to one second in
 *  librdkafka 2.0.2 (an internal broker thread notices its termination only
 *  when its one-second wait ends), which was half of a one-scenario run.
 *  The handle stays reachable from a static, so leak checkers see memory in
 *  use, not lost. NULL is a no-op. */
void mockenv_abandon(mockenv_t *env);

/** Stops the mock cluster (closing its sockets). NULL is a no-op. */
void mockenv_destroy(mockenv_t *env);

/** Comma-separated HOST:PORT list for bootstrap.servers; lives as long as env. */
const char *mockenv_bootstrap(const mockenv_t *env);

/** True for the in-process mock cluster, false with --kafka-bootstrap. */
bool mockenv_is_mock(const mockenv_t *env);

/** Number of brokers (mock: as configured; external: as seen in metadata). */
int mockenv_broker_count(const mockenv_t *env);

/** Partitions per topic as configured (external: as requested, maybe not applied). */
int mockenv_partitions(const mockenv_t *env);

/** The environment prefix ("dev"); lives as long as env. */
const char *mockenv_env_name(const mockenv_t *env);

/** Full name of one protocol topic; lives as long as env. NULL for a bad kind. */
const char *mockenv_topic(const mockenv_t *env, dbev_topic_t topic);

/** Milliseconds mockenv_new() took. */
double mockenv_startup_ms(const mockenv_t *env);

/**
 * @brief Creates the protocol topics for another prefix env_name (e.g. one per
 *        scenario, so that scenarios never see each other's requests). On an
 *        external cluster, missing topics are created where it allows it.
 * @returns 0, or -1 with errstr.
 * @remark Thread-safe with respect to the fault controls.
 */
int mockenv_create_topics(mockenv_t *env, const char *env_name, char *errstr, size_t size);

/**
 * @brief mockenv_create_topics() with `partitions` per topic on the mock
 *        cluster (0: the env's count); an external cluster's topics get its
 *        defaults either way.
 */
int mockenv_create_topics_n(mockenv_t *env, const char *env_name, int partitions, char *errstr,
                            size_t size);

/*
 * Fault controls (mock cluster only: -1 with "not available with
 * --kafka-bootstrap" otherwise). Broker ids run from 1 to the broker count.
 * Each returns 0, or -1 with errstr.
 */

/** Closes the broker's connections and refuses new ones until mockenv_broker_up(). */
int mockenv_broker_down(mockenv_t *env, int32_t broker_id, char *errstr, size_t size);
int mockenv_broker_up(mockenv_t *env, int32_t broker_id, char *errstr, size_t size);

/** Delays every response of the broker by rtt_ms (0 restores). */
int mockenv_broker_rtt(mockenv_t *env, int32_t broker_id, int rtt_ms, char *errstr, size_t size);

/**
 * The next cnt requests of protocol request type api_key (e.g. 0 Produce,
 * 1 Fetch, 3 Metadata), on any broker, fail with errors[0], errors[1], ...
 * RD_KAFKA_RESP_ERR__TRANSPORT makes the broker drop the connection instead.
 */
int mockenv_push_request_errors(mockenv_t *env, int16_t api_key, size_t cnt,
                                const rd_kafka_resp_err_t *errors, char *errstr, size_t size);

/** Forgets errors pushed for api_key that have not fired yet. */
int mockenv_clear_request_errors(mockenv_t *env, int16_t api_key, char *errstr, size_t size);

/** Moves the leadership of topic/partition to broker_id (-1: leaderless). */
int mockenv_partition_leader(mockenv_t *env, const char *topic, int32_t partition,
                             int32_t broker_id, char *errstr, size_t size);

#endif
