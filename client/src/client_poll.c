/*
 * The caller's side of a client: completions of asynchronous calls served
 * by dbev_client_poll() on the caller's thread (the eventfd says when some
 * wait), and what a caller may ask of a running client: requests
 * outstanding, the counters, the breaker's state, the consumer group.
 */
#include "client_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int cli_serve(dbev_client_t *client, creq_t *list)
{
    int n = 0;
    while (list) {
        creq_t *next = list->qnext;
        list->cb(client, list->result, list->error, list->opaque);
        free(list);
        list = next;
        n++;
    }
    return n;
}

/* Takes the done queue (under lock). */
creq_t *cli_take_done(dbev_client_t *client)
{
    creq_t *list = client->qhead;
    client->qhead = client->qtail = NULL;
    client->qlen = 0;
    uint64_t v;
    ssize_t n = read(client->efd, &v, sizeof(v));
    (void)n;
    return list;
}

/* ---- polling and introspection -------------------------------------------- */

int dbev_client_poll(dbev_client_t *client, int timeout_ms)
{
    pthread_mutex_lock(&client->lock);
    if (!client->qhead && timeout_ms != 0) {
        if (timeout_ms < 0) {
            while (!client->qhead)
                pthread_cond_wait(&client->done_cond, &client->lock);
        } else {
            struct timespec ts;
            dbev_mono_deadline(timeout_ms, &ts);
            while (!client->qhead)
                if (pthread_cond_timedwait(&client->done_cond, &client->lock, &ts) == ETIMEDOUT)
                    break;
        }
    }
    creq_t *list = cli_take_done(client);
    pthread_mutex_unlock(&client->lock);
    return cli_serve(client, list);
}

int dbev_client_fd(dbev_client_t *client)
{
    return client->efd;
}

int dbev_client_outq_len(dbev_client_t *client)
{
    pthread_mutex_lock(&client->lock);
    int n = (int)corrtab_count(client->pending) + client->qlen;
    pthread_mutex_unlock(&client->lock);
    return n;
}

void dbev_client_stats(dbev_client_t *client, dbev_client_stats_t *stats)
{
    pthread_mutex_lock(&client->lock);
    *stats = client->stats;
    stats->breaker_opened = client->breaker.opened;
    pthread_mutex_unlock(&client->lock);
}

const char *dbev_client_breaker_state(dbev_client_t *client)
{
    if (!client->breaker_enabled)
        return "DISABLED";
    pthread_mutex_lock(&client->lock);
    dbev_breaker_state_t state = cbrk_state(&client->breaker, dbev_mono_us());
    pthread_mutex_unlock(&client->lock);
    return dbev_breaker_state_name(state);
}

const char *dbev_client_group_id(dbev_client_t *client)
{
    return client->group_id;
}
