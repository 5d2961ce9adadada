/*
 * The canary (`canary:` in docs/scenarios.md): proof that one caller's
 * request never harms another's. While a scenario's steps run, another
 * caller -- its own libdbev client, its own service name and correlation ids
 * (canary-<hex>-<n>) -- sends one ordinary request at a steady rate through
 * the real Kafka path and adapter, open loop (request i is due at
 * start + i/rate, its latency counted from then). The canary fails when any
 * of its requests fails, times out, is answered twice, or waits longer than
 * max_latency_ms; and when an adapter instance is no longer running at the
 * end.
 *
 * Its requests carry random correlation ids, which the client uses as the
 * message key, so at 50/s every partition of the requests topic sees a
 * canary request every ~0.25 s (12 partitions): they share the partitions of
 * the hostile requests, and a hostile request that stalls its partition (a
 * poison pill, a lock, a dead consumer) delays the canary requests queued
 * behind it past the bound.
 *
 * The default request is an INSERT of one row into public.dbev_canary, a
 * table the harness creates on the scenario's database (granted to PUBLIC,
 * so whatever role the adapter runs as may write it; left out of the
 * fingerprint): a write, so that a session left read-only or with a
 * search_path that hides public breaks it.
 */
#ifndef HARNESS_CANARY_H
#define HARNESS_CANARY_H

#include "scenario/runctx.h"

#include <stdint.h>

typedef struct canary canary_t;

/** What the canary saw (canary_stop). */
typedef struct canary_figures {
    int64_t sent;       /* requests issued */
    int64_t answered;   /* answers from the adapter (completed or failed) */
    int64_t failed;     /* any failure the caller saw: adapter error, timeout, refusal */
    int64_t slow;       /* answered, but later than max_latency_ms */
    int64_t duplicates; /* second answers for a request already answered */
    int64_t unfinished; /* still waiting when the canary gave up on them */
    int adapters_down;  /* adapter instances not running at the end */
    double p50_ms, p99_ms, max_ms;
    char first_problem[512]; /* the first failure or slow answer, for the message */
} canary_figures_t;

/** The SQL that creates the default canary's table (run on the superuser connection). */
extern const char *const canary_table_sql;

/**
 * @brief Starts the canary of ctx's scenario on a thread of its own: creates
 *        its client, makes one HEALTH round trip (not counted), then sends.
 * @returns the canary for canary_stop(), or NULL with errstr.
 */
canary_t *canary_start(runctx_t *ctx, const scenario_canary_t *spec, char *errstr, size_t size);

/**
 * @brief Stops sending, waits (bounded by the request timeout) for the
 *        requests in flight, watches 200 ms more for duplicate answers, and
 *        frees everything.
 * @returns 0 when the canary is clean, -1 when it saw a problem; fig filled
 *          either way.
 */
int canary_stop(canary_t *canary, canary_figures_t *fig);

/** A one-line account of fig ("canary: 812 sent, 812 answered, 0 failed, ..."). */
void canary_describe(const canary_figures_t *fig, double max_latency_ms, char *buf, size_t size);

#endif
