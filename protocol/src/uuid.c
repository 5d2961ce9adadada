/*
 * Random (version 4) UUIDs for event ids and correlation ids.
 *
 * libuuid's uuid_generate_random() costs about 2 us a call here: every call
 * makes a getrandom() system call, reseeds random() with srandom() (getpid,
 * getuid, gettimeofday) and mixes random() output in. The adapter makes one
 * per response and the client two per request, at 20,000 requests a second.
 * So the random bytes come from getrandom() 1 KiB at a time into a
 * per-thread buffer (64 UUIDs a system call), and libuuid only formats them.
 * A forked child drops its copy of the buffer (pthread_atfork), so parent and
 * child never hand out the same bytes.
 */
#include <dbev/protocol.h>

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#define POOL_BYTES 1024

static _Thread_local unsigned char pool[POOL_BYTES];
static _Thread_local size_t pool_left; /* unused bytes at the end of pool */
static _Thread_local unsigned fork_generation_seen;
static volatile unsigned fork_generation; /* bumped in every forked child */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    fork_generation++;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

/* Fills pool from getrandom(); false when the kernel would not give bytes. */
static bool refill(void)
{
    size_t got = 0;
    while (got < POOL_BYTES) {
        ssize_t n = getrandom(pool + got, POOL_BYTES - got, 0);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    pool_left = POOL_BYTES;
    return true;
}

void dbev_uuid_new(char *buf)
{
    pthread_once(&atfork_once, register_atfork);
    if (fork_generation_seen != fork_generation) {
        fork_generation_seen = fork_generation;
        pool_left = 0;
    }
    uuid_t u;
    if (pool_left < sizeof(u) && !refill()) {
        uuid_generate_random(u); /* libuuid's own sources as the fallback */
    } else {
        memcpy(u, pool + POOL_BYTES - pool_left, sizeof(u));
        memset(pool + POOL_BYTES - pool_left, 0, sizeof(u)); /* never handed out twice */
        pool_left -= sizeof(u);
        u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
        u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    }
    uuid_unparse_lower(u, buf);
}
