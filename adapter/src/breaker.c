/*
 * Circuit breaker state machine (see breaker.h). Small enough to keep under
 * one mutex; the executor calls it a few times per batch, not per row.
 */
#include "breaker.h"

#include <pthread.h>
#include <stdlib.h>

struct breaker {
    pthread_mutex_t lock;
    breaker_conf_t conf;
    dbev_breaker_state_t state;
    int failures;  /* consecutive, in CLOSED */
    int successes; /* consecutive, in HALF_OPEN */
    int64_t opened_at_us;
    uint64_t opened_count;
};

static int64_t default_clock(void *opaque)
{
    (void)opaque;
    return dbev_mono_us();
}

breaker_t *breaker_new(const breaker_conf_t *conf)
{
    breaker_t *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->conf = *conf;
    if (b->conf.failure_threshold <= 0)
        b->conf.failure_threshold = 5;
    if (b->conf.recovery_ms <= 0)
        b->conf.recovery_ms = 60000;
    if (b->conf.success_threshold <= 0)
        b->conf.success_threshold = 3;
    if (!b->conf.clock)
        b->conf.clock = default_clock;
    pthread_mutex_init(&b->lock, NULL);
    b->state = DBEV_BREAKER_CLOSED;
    return b;
}

void breaker_destroy(breaker_t *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Called with the lock held. */
static void transition(breaker_t *b, dbev_breaker_state_t to, const char *why)
{
    char ts[DBEV_ISO8601_SIZE];
    dbev_breaker_state_t from = b->state;
    b->state = to;
    if (to == DBEV_BREAKER_OPEN) {
        b->opened_at_us = b->conf.clock(b->conf.clock_opaque);
        b->opened_count++;
    }
    b->failures = 0;
    b->successes = 0;
    dbev_logf(b->conf.logger, to == DBEV_BREAKER_OPEN ? DBEV_LOG_WARN : DBEV_LOG_INFO, NULL,
              "circuit breaker %s -> %s at %s (%s)", dbev_breaker_state_name(from),
              dbev_breaker_state_name(to), dbev_iso8601(dbev_wall_us(), ts, sizeof(ts)), why);
}

bool breaker_allow(breaker_t *b)
{
    bool ok = true;
    pthread_mutex_lock(&b->lock);
    if (b->state == DBEV_BREAKER_OPEN) {
        int64_t now = b->conf.clock(b->conf.clock_opaque);
        if (now - b->opened_at_us >= b->conf.recovery_ms * 1000)
            transition(b, DBEV_BREAKER_HALF_OPEN, "recovery timeout elapsed, probing");
        else
            ok = false;
    }
    pthread_mutex_unlock(&b->lock);
    return ok;
}

void breaker_success(breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == DBEV_BREAKER_CLOSED) {
        b->failures = 0;
    } else if (b->state == DBEV_BREAKER_HALF_OPEN) {
        if (++b->successes >= b->conf.success_threshold)
            transition(b, DBEV_BREAKER_CLOSED, "enough successes while half open");
    }
    pthread_mutex_unlock(&b->lock);
}

void breaker_failure(breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == DBEV_BREAKER_CLOSED) {
        if (++b->failures >= b->conf.failure_threshold)
            transition(b, DBEV_BREAKER_OPEN, "consecutive connection failures");
    } else if (b->state == DBEV_BREAKER_HALF_OPEN) {
        transition(b, DBEV_BREAKER_OPEN, "failure while half open");
    }
    pthread_mutex_unlock(&b->lock);
}

dbev_breaker_state_t breaker_state(breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    dbev_breaker_state_t s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

uint64_t breaker_open_count(breaker_t *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t n = b->opened_count;
    pthread_mutex_unlock(&b->lock);
    return n;
}
