/*
 * Circuit breaker (seed 004: 5 failures / 60 s / 3 successes). CLOSED until
 * failure_threshold consecutive connection-class failures, then OPEN: every
 * request is refused at once. After recovery_ms the next request finds it
 * HALF_OPEN and is let through; success_threshold successes in a row close
 * it, any failure reopens it. Only connection-class failures count: a user's
 * SQL error proves the database answered and counts as a success.
 *
 * The clock is injectable so tests drive time. Every transition is logged
 * (warn for opening, info otherwise) with the time it happened.
 * Thread safety: all functions may be called from any thread (one mutex).
 */
#ifndef ADAPTER_BREAKER_H
#define ADAPTER_BREAKER_H

#include "dbev_common.h"
#include <dbev/protocol.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct breaker breaker_t;

/** A clock in microseconds; only differences matter. */
typedef int64_t (*breaker_clock_fn)(void *opaque);

typedef struct breaker_conf {
    int failure_threshold;  /* <= 0: 5 */
    int64_t recovery_ms;    /* <= 0: 60000 */
    int success_threshold;  /* <= 0: 3 */
    breaker_clock_fn clock; /* NULL: dbev_mono_us */
    void *clock_opaque;
    const dbev_logger_t *logger; /* borrowed; may be NULL */
} breaker_conf_t;

/** @returns a breaker to free with breaker_destroy(), or NULL when out of memory. */
breaker_t *breaker_new(const breaker_conf_t *conf);

/** NULL is a no-op. */
void breaker_destroy(breaker_t *b);

/**
 * @brief Asks whether a request may go to the database now. Moves OPEN to
 *        HALF_OPEN once the recovery time has passed.
 * @returns true to try, false to refuse with CIRCUIT_BREAKER_OPEN.
 */
bool breaker_allow(breaker_t *b);

/** Records a request that reached the database (even if its SQL failed). */
void breaker_success(breaker_t *b);

/** Records a connection-class failure. */
void breaker_failure(breaker_t *b);

/** The current state (without moving it). */
dbev_breaker_state_t breaker_state(breaker_t *b);

/** Transitions so far (for health): times opened. */
uint64_t breaker_open_count(breaker_t *b);

#endif
