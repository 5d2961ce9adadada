/*
 * The transport floor of a Kafka cluster: what a request/answer round trip
 * costs with no adapter at all, so a report can tell the broker's share of
 * the end-to-end latency from the adapter's (its service time).
 *
 * A two-hop echo: a producer with the client's settings sends to topic A;
 * an echo thread's consumer with the adapter's settings reads it and its
 * producer (the adapter's: idempotent, acks=all) re-produces it to topic B;
 * a consumer with the client's settings reads it there. Every client gets
 * the harness's profile for the cluster (kprofile.h), as the adapters and
 * clients of the run do. Both
 * consumers are assigned partition 0 at its end (no group join), so the
 * measurement takes well under a second.
 */
#ifndef HARNESS_TRANSPORT_H
#define HARNESS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct transport_opts {
    const char *bootstrap;             /* the cluster */
    const char *topic_a;               /* first hop (existing topic) */
    const char *topic_b;               /* second hop (existing topic) */
    bool mock;                         /* kprofile_settings(mock, ...) for every client */
    const char *const *extra;          /* NULL-terminated "key=value" consumer settings after the
                                          profile (benchmarks trying others), or NULL */
    const char *const *extra_producer; /* the same for both producers */
    int round_trips;                   /* 0: TRANSPORT_DEFAULT_TRIPS */
    double rate; /* round trips started per second; 0: TRANSPORT_DEFAULT_RATE */
    /* Called once the clients are connected and warmed up, just before the
     * timed echoes, or NULL. It may block: a caller that sets the clients up
     * while it does other work holds the measurement here until nothing
     * else runs, since a busy machine inflates the floor (its p99 by ~1.4
     * ms beside a PostgreSQL start-up on the 2-core machine). Returning
     * false ends the measurement there (-1, "cancelled"): the caller no
     * longer wants it. */
    bool (*before_timed)(void *arg);
    void *before_timed_arg;
} transport_opts_t;

/* 200 round trips at 1,000/s: the rate the load criteria are set at, in
 * about 0.2 s after a set-up of ~0.1 s (300 at 600/s took 0.6 s, most of a
 * one-scenario run). */
#define TRANSPORT_DEFAULT_TRIPS 200
#define TRANSPORT_DEFAULT_RATE  1000

typedef struct transport_floor {
    int sent, received;
    double p50_ms, p99_ms, max_ms;
    double echo_cpu_s; /* CPU of this process's threads during the echo (user + system) */
    double wall_s;     /* the whole measurement, setup included */
} transport_floor_t;

/**
 * @brief Measures the transport floor (transport.h's comment).
 * @returns 0 with *out filled, or -1 with errstr (nothing came back, a
 *          client could not be made).
 */
int transport_measure(const transport_opts_t *opts, transport_floor_t *out, char *errstr,
                      size_t size);

#endif
