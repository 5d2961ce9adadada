/*
 * The client's background thread: it consumes the completed and failed
 * topics, matches each response to its pending request by correlation id
 * (or counts it late, duplicate or unknown), turns undelivered requests
 * (delivery reports) into failed attempts, and runs the timer list (expired
 * attempts, due retries) at least every CLI_MAX_WAIT_MS. Everything it
 * touches in the handle is under the client's lock.
 */
#include "client_int.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define CLI_MAX_WAIT_MS    100  /* the background thread re-checks timers at least this often */
#define CLI_DRAIN_MESSAGES 1000 /* messages consumed per loop before timers are checked */

static void cli_handle_response(dbev_client_t *client, const rd_kafka_message_t *rkm)
{
    dbev_response_t *resp = NULL;
    char errstr[256];
    if (dbev_response_decode(rkm->payload, rkm->len, &resp, errstr, sizeof(errstr)) < 0) {
        pthread_mutex_lock(&client->lock);
        client->stats.responses++;
        client->stats.bad_response++;
        pthread_mutex_unlock(&client->lock);
        dbev_logf(&client->logger, DBEV_LOG_WARN, NULL,
                  "undecodable response on %s [%d] @%lld dropped: %s",
                  rd_kafka_topic_name(rkm->rkt), (int)rkm->partition, (long long)rkm->offset,
                  errstr);
        return;
    }
    /* Build the answer before taking the lock; most responses match. */
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    if (resp->completed)
        result = res_result_from_response(resp);
    else
        error = res_error_from_response(resp);

    int64_t now_us = dbev_mono_us();
    pthread_mutex_lock(&client->lock);
    client->stats.responses++;
    creq_t *r = corrtab_get(client->pending, resp->correlation_id);
    if (!r) {
        recent_kind_t kind = recent_get(client->recent, resp->correlation_id);
        const char *what = kind == RECENT_EXPIRED    ? "late"
                           : kind == RECENT_ANSWERED ? "duplicate"
                                                     : "unknown";
        if (kind == RECENT_EXPIRED)
            client->stats.late++;
        else if (kind == RECENT_ANSWERED)
            client->stats.duplicate++;
        else
            client->stats.unknown++;
        pthread_mutex_unlock(&client->lock);
        dbev_logf(&client->logger, DBEV_LOG_DEBUG, resp->correlation_id,
                  "%s response dropped (event %s)", what, resp->event_id);
        goto done;
    }
    if (client->breaker_enabled)
        cbrk_success(&client->breaker);
    if (error && cli_should_retry(dbev_error_code(error))) {
        if (r->state == CREQ_BACKOFF) {
            /* The answer to an earlier attempt; the retry is scheduled already. */
            pthread_mutex_unlock(&client->lock);
            goto done;
        }
        if (r->attempts <= r->max_retries && cli_schedule_retry(client, r, now_us)) {
            pthread_mutex_unlock(&client->lock);
            goto done;
        }
    }
    if (result && r->op == DBEV_OP_HEALTH) {
        /* An answer proves the path, not the database: the verdict decides. */
        dbev_error_t *verdict = res_health_verdict(result);
        if (verdict) {
            dbev_result_destroy(result);
            result = NULL;
            error = verdict;
        }
    }
    cli_finish(client, r, result, error, true);
    result = NULL;
    error = NULL;
    pthread_mutex_unlock(&client->lock);
done:
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    dbev_response_destroy(resp);
}

static void cli_handle_message(dbev_client_t *client, const rd_kafka_message_t *rkm)
{
    if (!rkm->err) {
        cli_handle_response(client, rkm);
        return;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    dbev_logf(&client->logger, DBEV_LOG_WARN, NULL, "consumer: %s", rd_kafka_message_errstr(rkm));
}

/* Delivery reports: a request that could not be delivered failed its attempt. */
void cli_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    dbev_client_t *client = opaque;
    if (!rkm->err || !rkm->key || rkm->key_len >= DBEV_ID_SIZE)
        return;
    char corr[DBEV_ID_SIZE];
    memcpy(corr, rkm->key, rkm->key_len);
    corr[rkm->key_len] = '\0';
    int attempt = (int)(intptr_t)rkm->_private;
    pthread_mutex_lock(&client->lock);
    creq_t *r = corrtab_get(client->pending, corr);
    if (r && r->state == CREQ_INFLIGHT && r->attempts == attempt) {
        char why[256];
        snprintf(why, sizeof(why), "request not delivered: %s", rd_kafka_err2str(rkm->err));
        cli_attempt_failed(client, r, dbev_mono_us(), DBEV_ERR__TRANSPORT, why);
    }
    pthread_mutex_unlock(&client->lock);
}

void *cli_thread_main(void *arg)
{
    dbev_client_t *client = arg;
    while (!atomic_load(&client->terminate)) {
        int64_t now_us = dbev_mono_us();
        pthread_mutex_lock(&client->lock);
        int64_t wake_us = now_us + CLI_MAX_WAIT_MS * 1000;
        if (client->thead && client->thead->due_us < wake_us)
            wake_us = client->thead->due_us;
        client->bg_wake_us = wake_us;
        pthread_mutex_unlock(&client->lock);
        int wait_ms = wake_us <= now_us ? 0 : (int)((wake_us - now_us + 999) / 1000);

        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(client->consumer, wait_ms);
        for (int n = 0; rkm; n++) {
            cli_handle_message(client, rkm);
            rd_kafka_message_destroy(rkm);
            rkm = n < CLI_DRAIN_MESSAGES ? rd_kafka_consumer_poll(client->consumer, 0) : NULL;
        }
        rd_kafka_poll(client->producer, 0);

        pthread_mutex_lock(&client->lock);
        cli_run_timers(client, dbev_mono_us());
        pthread_mutex_unlock(&client->lock);
    }
    return NULL;
}
