/*
 * The retry schedule: exponential backoff with jitter (seed 002: 1 s, 2 s,
 * 4 s). Kept apart from the client as a pure function of its inputs so the
 * unit test can check the schedule exactly; the jitter spreads retries of
 * many clients that failed together so they do not arrive as one burst.
 */
#include "client_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

int64_t backoff_delay_ms(int64_t base_ms, int64_t max_ms, int retry, double rand01)
{
    if (retry < 1)
        retry = 1;
    int64_t delay = base_ms;
    for (int i = 1; i < retry && delay < max_ms; i++)
        delay *= 2;
    if (delay > max_ms)
        delay = max_ms;
    if (rand01 < 0)
        rand01 = 0;
    if (rand01 >= 1)
        rand01 = 0.999999;
    int64_t jittered = (int64_t)((double)delay * (0.8 + 0.4 * rand01));
    if (jittered > max_ms)
        jittered = max_ms;
    return jittered < 1 ? 1 : jittered;
}

double backoff_rand01(void)
{
    /* xorshift64*, seeded per thread from the clock and the thread's stack address. */
    static _Thread_local uint64_t state;
    if (!state) {
        state =
            (uint64_t)dbev_mono_us() ^ ((uint64_t)(uintptr_t)&state << 16) ^ 0x9e3779b97f4a7c15ULL;
        if (!state)
            state = 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (double)((state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
