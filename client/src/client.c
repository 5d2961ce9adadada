/*
 * The client handle: one producer for request events, one consumer of the
 * completed and failed topics, and one background thread that matches
 * responses to pending requests by correlation id, expires attempts, sends
 * retries after their backoff and feeds the circuit breaker.
 *
 * Every pending request sits in two structures under the client's lock: the
 * correlation table (for matching) and a timer list sorted by due time (the
 * response deadline of the attempt in flight, or the time of the next
 * retry). Since most requests share one timeout, inserting from the tail is
 * O(1) in practice, and the background thread only looks at the head.
 *
 * Finished requests go either to their blocking caller (a per-call mutex and
 * condition variable, so the waiter never touches the client after it is
 * woken) or to the done queue that dbev_client_poll() serves on the
 * caller's thread; an eventfd mirrors "the done queue is not empty" for
 * callers with their own event loop.
 *
 * The response consumer uses assign() rather than subscribe(): each client
 * instance wants every partition of both response topics, so a group
 * rebalance would only add a round trip and a window in which responses are
 * missed. Start offsets are the high watermarks read before new() returns,
 * so any response produced after that is seen.
 *
 * This file holds the handle's life: creation (settings read once into the
 * handle) and destruction (pending requests cancelled, each answered once).
 * The rest, by responsibility: client_kafka.c (the two Kafka handles and
 * the start-up assignment), client_thread.c (the background thread),
 * client_send.c (submission, attempts, retries, timers), client_poll.c
 * (completions served on the caller's thread, counters). The handle's
 * struct is in client_int.h.
 */
#include "client_int.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CLI_RECENT_IDS 8192 /* finished ids remembered for late/duplicate accounting */

int dbev_version(void)
{
    return DBEV_VERSION;
}

const char *dbev_version_str(void)
{
    return DBEV_VERSION_STRING;
}

/* ---- logging ------------------------------------------------------------ */

static void cli_log_sink(void *opaque, dbev_log_level_t level, const char *component,
                         const char *correlation_id, const char *message)
{
    dbev_client_t *client = opaque;
    client->log_cb(client->log_opaque, (int)level, correlation_id, message);
}

/* ---- creation ------------------------------------------------------------ */

static void cli_free(dbev_client_t *client)
{
    if (client->cq)
        rd_kafka_queue_destroy(client->cq);
    if (client->consumer)
        rd_kafka_destroy_flags(client->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (client->producer) {
        rd_kafka_purge(client->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(client->producer, 0);
        rd_kafka_destroy(client->producer);
    }
    if (client->efd >= 0)
        close(client->efd);
    corrtab_destroy(client->pending);
    recent_destroy(client->recent);
    pthread_cond_destroy(&client->done_cond);
    pthread_mutex_destroy(&client->lock);
    free(client);
}

dbev_client_t *dbev_client_new(dbev_conf_t *conf, char *errstr, size_t size)
{
    dbev_conf_t *defaults = NULL;
    if (!conf && !(conf = defaults = dbev_conf_new())) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    if (conf_validate(conf, errstr, size) < 0) {
        dbev_conf_destroy(defaults);
        return NULL;
    }
    dbev_client_t *client = calloc(1, sizeof(*client));
    if (!client) {
        dbev_conf_destroy(defaults);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    client->efd = -1;
    client->conf = conf;
    pthread_mutex_init(&client->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&client->done_cond, &attr);
    pthread_condattr_destroy(&attr);

    int level;
    conf_log_cb(conf, &client->log_cb, &client->log_opaque, &level);
    client->logger = (dbev_logger_t){.cb = client->log_cb ? cli_log_sink : NULL,
                                     .opaque = client,
                                     .level = (dbev_log_level_t)level,
                                     .component = "client"};
    const char *prefix = conf_str(conf, CONF_TOPIC_PREFIX);
    dbev_topic_name(prefix, DBEV_TOPIC_REQUESTED, client->topic_req, sizeof(client->topic_req));
    dbev_topic_name(prefix, DBEV_TOPIC_COMPLETED, client->topic_resp[0],
                    sizeof(client->topic_resp[0]));
    dbev_topic_name(prefix, DBEV_TOPIC_FAILED, client->topic_resp[1],
                    sizeof(client->topic_resp[1]));
    const char *group = conf_str(conf, CONF_CONSUMER_GROUP_ID);
    if (*group) {
        snprintf(client->group_id, sizeof(client->group_id), "%s", group);
    } else {
        char uuid[40];
        dbev_uuid_new(uuid);
        snprintf(client->group_id, sizeof(client->group_id), "dbev-client-%s", uuid);
    }
    client->service = conf_str(conf, CONF_SERVICE_NAME);
    client->timeout_ms = (int)conf_int(conf, CONF_REQUEST_TIMEOUT_MS);
    client->timeout_grace_ms = (int)conf_int(conf, CONF_REQUEST_TIMEOUT_GRACE_MS);
    client->timeout_total = strcmp(conf_str(conf, CONF_TIMEOUT_MODE), "per_attempt") != 0;
    client->max_retries = (int)conf_int(conf, CONF_MAX_RETRIES);
    client->backoff_base_ms = conf_int(conf, CONF_RETRY_BACKOFF_MS);
    client->backoff_max_ms = conf_int(conf, CONF_RETRY_BACKOFF_MAX_MS);
    client->breaker_enabled = conf_int(conf, CONF_BREAKER_ENABLE) != 0;
    cbrk_init(&client->breaker, (int)conf_int(conf, CONF_BREAKER_THRESHOLD),
              conf_int(conf, CONF_BREAKER_RECOVERY_MS) * 1000);

    client->pending = corrtab_new(1024);
    client->recent = recent_new(CLI_RECENT_IDS);
    client->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!client->pending || !client->recent || client->efd < 0) {
        dbev_seterr(errstr, size, "out of resources: %s", strerror(errno));
        goto fail;
    }
    if (cli_make_producer(client, errstr, size) < 0 ||
        cli_make_consumer(client, errstr, size) < 0 || cli_assign(client, errstr, size) < 0)
        goto fail;
    if (pthread_create(&client->thread, NULL, cli_thread_main, client) != 0) {
        dbev_seterr(errstr, size, "cannot start the client thread");
        goto fail;
    }
    client->thread_started = true;
    return client;
fail:
    client->conf = NULL; /* stays the caller's on failure */
    dbev_conf_destroy(defaults);
    cli_free(client);
    return NULL;
}

/* ---- destruction ---------------------------------------------------------- */

void dbev_client_destroy(dbev_client_t *client)
{
    if (!client)
        return;
    pthread_mutex_lock(&client->lock);
    client->closing = true;
    pthread_mutex_unlock(&client->lock);
    atomic_store(&client->terminate, true);
    if (client->thread_started) {
        rd_kafka_queue_yield(client->cq);
        pthread_join(client->thread, NULL);
    }
    pthread_mutex_lock(&client->lock);
    size_t cancelled = corrtab_count(client->pending);
    while (client->thead)
        cli_finish_error(client, client->thead, DBEV_ERR__CANCELLED, false,
                         "client destroyed while the request was pending");
    creq_t *list = cli_take_done(client);
    pthread_mutex_unlock(&client->lock);
    if (cancelled)
        dbev_logf(&client->logger, DBEV_LOG_INFO, NULL,
                  "client destroyed: %zu request(s) cancelled", cancelled);
    cli_serve(client, list);
    dbev_conf_t *conf = client->conf;
    cli_free(client);
    dbev_conf_destroy(conf);
}
