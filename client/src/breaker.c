/*
 * The client-side circuit breaker: when requests keep timing out or cannot
 * be produced, the client stops sending and fails calls at once with
 * CIRCUIT_BREAKER_OPEN, instead of piling thousands of doomed requests onto
 * a broken path. After the recovery time one probe goes through; its answer
 * closes the breaker, its failure reopens it. Any answer from the adapter
 * (even a SQL error) counts as success: the path works. The clock is passed
 * in, so tests control it.
 */
#include "client_int.h"

void cbrk_init(cbrk_t *b, int threshold, int64_t recovery_us)
{
    *b = (cbrk_t){.state = DBEV_BREAKER_CLOSED,
                  .threshold = threshold < 1 ? 1 : threshold,
                  .recovery_us = recovery_us};
}

bool cbrk_allow(cbrk_t *b, int64_t now_us)
{
    switch (b->state) {
    case DBEV_BREAKER_CLOSED:
        return true;
    case DBEV_BREAKER_OPEN:
        if (now_us - b->opened_us < b->recovery_us)
            return false;
        b->state = DBEV_BREAKER_HALF_OPEN;
        b->probe_inflight = true;
        return true;
    case DBEV_BREAKER_HALF_OPEN:
        if (b->probe_inflight)
            return false;
        b->probe_inflight = true;
        return true;
    }
    return false;
}

void cbrk_success(cbrk_t *b)
{
    b->state = DBEV_BREAKER_CLOSED;
    b->failures = 0;
    b->probe_inflight = false;
}

static void cbrk_open(cbrk_t *b, int64_t now_us)
{
    b->state = DBEV_BREAKER_OPEN;
    b->opened_us = now_us;
    b->probe_inflight = false;
    b->failures = 0;
    b->opened++;
}

bool cbrk_failure(cbrk_t *b, int64_t now_us)
{
    switch (b->state) {
    case DBEV_BREAKER_CLOSED:
        if (++b->failures >= b->threshold) {
            cbrk_open(b, now_us);
            return true;
        }
        return false;
    case DBEV_BREAKER_HALF_OPEN:
        cbrk_open(b, now_us);
        return true;
    case DBEV_BREAKER_OPEN:
        /* Requests sent before it opened keep failing; that must not push
         * the recovery further away. */
        return false;
    }
    return false;
}

dbev_breaker_state_t cbrk_state(const cbrk_t *b, int64_t now_us)
{
    if (b->state == DBEV_BREAKER_OPEN && now_us - b->opened_us >= b->recovery_us)
        return DBEV_BREAKER_HALF_OPEN;
    return b->state;
}
