/*
 * A request's attempts, from submission to its end: the checks made before
 * anything is sent (correlation id, size, breaker), sending with the same
 * event id, correlation id and payload on every attempt, the timer list
 * (response deadlines and retry times, sorted by due time), which failures
 * are retried and after which backoff, and the end of a request, handed to
 * its blocking caller or queued for dbev_client_poll(). Called with the
 * client's lock held, except cli_submit() and cli_call_sync(), which take it.
 */
#include "client_int.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- timer list and done queue (under lock) ----------------------------- */

static void cli_timer_remove(dbev_client_t *client, creq_t *r)
{
    if (r->tprev)
        r->tprev->tnext = r->tnext;
    else if (client->thead == r)
        client->thead = r->tnext;
    else
        return; /* not in the list */
    if (r->tnext)
        r->tnext->tprev = r->tprev;
    else
        client->ttail = r->tprev;
    r->tprev = r->tnext = NULL;
}

static void cli_timer_insert(dbev_client_t *client, creq_t *r, int64_t due_us)
{
    cli_timer_remove(client, r);
    r->due_us = due_us;
    creq_t *after = client->ttail;
    while (after && after->due_us > due_us)
        after = after->tprev;
    r->tprev = after;
    r->tnext = after ? after->tnext : client->thead;
    if (r->tnext)
        r->tnext->tprev = r;
    else
        client->ttail = r;
    if (after)
        after->tnext = r;
    else
        client->thead = r;
}

/*
 * Ends a request: exactly one of result/error. `answered` says whether the
 * adapter answered (a later response is then a duplicate) or the client gave
 * up (a later response is late).
 */
void cli_finish(dbev_client_t *client, creq_t *r, dbev_result_t *result, dbev_error_t *error,
                bool answered)
{
    corrtab_del(client->pending, r->corr);
    cli_timer_remove(client, r);
    recent_add(client->recent, r->corr, answered ? RECENT_ANSWERED : RECENT_EXPIRED);
    double latency_ms = (double)(dbev_mono_us() - r->start_us) / 1000.0;
    if (!result && !error)
        error = res_error_new(DBEV_ERR__TRANSPORT, "out of memory");
    if (result) {
        res_result_set_request(result, r->corr, r->event_id, r->attempts, latency_ms);
        client->stats.completed++;
    } else {
        if (error)
            res_error_set_request(error, r->corr, r->event_id, r->attempts);
        client->stats.failed++;
        dbev_logf(&client->logger, DBEV_LOG_DEBUG, r->corr, "%s failed after %d attempt(s): %s",
                  dbev_op_name(r->op), r->attempts,
                  error ? dbev_error_message(error) : "out of memory");
    }
    json_decref(r->payload);
    r->payload = NULL;
    if (r->sync) {
        cli_sync_t *sync = r->sync;
        pthread_mutex_lock(&sync->m);
        sync->result = result;
        sync->error = error;
        sync->done = true;
        pthread_cond_signal(&sync->c);
        pthread_mutex_unlock(&sync->m);
        free(r);
        return;
    }
    r->result = result;
    r->error = error;
    r->qnext = NULL;
    if (client->qtail)
        client->qtail->qnext = r;
    else
        client->qhead = r;
    client->qtail = r;
    if (client->qlen++ == 0) {
        uint64_t one = 1;
        ssize_t n = write(client->efd, &one, sizeof(one));
        (void)n; /* EAGAIN: the counter is already non-zero */
        pthread_cond_broadcast(&client->done_cond);
    }
}

void cli_finish_error(dbev_client_t *client, creq_t *r, dbev_err_t code, bool answered,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_finish(client, r, NULL, res_error_new(code, "%s", msg), answered);
}

/*
 * Only these are worth another attempt: timeouts (ours, or the adapter's
 * TIMEOUT_ERROR, which it also answers for an attempt that waited in Kafka
 * past its deadline and was not executed), transport failures and lost
 * database connections. Never validation or SQL errors. Retrying a write is
 * safe because every attempt carries the same event id and the adapter
 * executes an event id once.
 */
bool cli_should_retry(dbev_err_t code)
{
    return code == DBEV_ERR__TIMEOUT || code == DBEV_ERR__TRANSPORT ||
           code == DBEV_ERR_DATABASE_CONNECTION_FAILED || code == DBEV_ERR_TIMEOUT_ERROR;
}

/*
 * Schedules the next attempt after its backoff; false (nothing scheduled)
 * when, in total mode, that attempt could not start before the caller's
 * deadline: sending it would only make the call overrun its budget.
 */
bool cli_schedule_retry(dbev_client_t *client, creq_t *r, int64_t now_us)
{
    int64_t delay_ms = backoff_delay_ms(client->backoff_base_ms, client->backoff_max_ms,
                                        r->attempts, backoff_rand01());
    if (r->deadline_us && now_us + delay_ms * 1000 >= r->deadline_us)
        return false;
    r->state = CREQ_BACKOFF;
    cli_timer_insert(client, r, now_us + delay_ms * 1000);
    dbev_logf(&client->logger, DBEV_LOG_INFO, r->corr, "%s attempt %d failed; retry in %lld ms",
              dbev_op_name(r->op), r->attempts, (long long)delay_ms);
    return true;
}

/* An attempt timed out or could not be produced: breaker, then retry or give up. */
void cli_attempt_failed(dbev_client_t *client, creq_t *r, int64_t now_us, dbev_err_t code,
                        const char *why)
{
    if (client->breaker_enabled && cbrk_failure(&client->breaker, now_us)) {
        client->stats.breaker_opened++;
        dbev_logf(&client->logger, DBEV_LOG_WARN, r->corr, "client circuit breaker opened after %s",
                  why);
    }
    if (r->attempts <= r->max_retries && cli_schedule_retry(client, r, now_us))
        return;
    if (r->attempts <= r->max_retries)
        cli_finish_error(client, r, code, false,
                         "%s (attempt %d of %d); no time left for another attempt within the "
                         "call's deadline of %d ms (timeout.mode=total)",
                         why, r->attempts, r->max_retries + 1, r->timeout_ms);
    else
        cli_finish_error(client, r, code, false, "%s (attempt %d of %d)", why, r->attempts,
                         r->max_retries + 1);
}

/* How long one attempt waits: its timeout (in total mode what is left of
 * the call's), which the adapter enforces too, plus the grace that lets the
 * adapter's TIMEOUT_ERROR arrive first. */
static int64_t cli_wait_us(const dbev_client_t *client, const creq_t *r, int64_t now_us)
{
    int64_t budget_us = (int64_t)r->timeout_ms * 1000;
    if (r->deadline_us)
        budget_us = r->deadline_us > now_us ? r->deadline_us - now_us : 0;
    return budget_us + (int64_t)client->timeout_grace_ms * 1000;
}

/*
 * Sends (or re-sends) r: same event id, correlation id and payload bytes on
 * every attempt. In total mode the envelope keeps the first attempt's
 * timestamp, so the adapter's deadline (timestamp + options.timeout_ms) is
 * the caller's and a retry that arrives late is refused, not executed; in
 * per-attempt mode each attempt is stamped afresh (it has a full timeout of
 * its own, which the first timestamp would deny it).
 */
static void cli_send(dbev_client_t *client, creq_t *r, int64_t now_us)
{
    r->attempts++;
    if (r->attempts > 1)
        client->stats.retries++;
    if (r->attempts == 1 || !r->deadline_us)
        r->sent_wall_us = dbev_wall_us();
    json_t *event = dbev_envelope_new(DBEV_EVENT_REQUESTED, r->event_id, r->corr, client->service,
                                      r->sent_wall_us, json_incref(r->payload));
    char *buf = event ? dbev_event_dumps(event) : NULL;
    json_decref(event);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FAIL;
    if (buf)
        err = rd_kafka_producev(client->producer, RD_KAFKA_V_TOPIC(client->topic_req),
                                RD_KAFKA_V_KEY(r->corr, strlen(r->corr)),
                                RD_KAFKA_V_VALUE(buf, strlen(buf)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                RD_KAFKA_V_OPAQUE((void *)(intptr_t)r->attempts), RD_KAFKA_V_END);
    if (err) {
        free(buf);
        char why[256];
        snprintf(why, sizeof(why), "could not produce the request: %s", rd_kafka_err2str(err));
        cli_attempt_failed(client, r, now_us, DBEV_ERR__TRANSPORT, why);
        return;
    }
    client->stats.sent++;
    r->state = CREQ_INFLIGHT;
    cli_timer_insert(client, r, now_us + cli_wait_us(client, r, now_us));
}

/* Expired attempts and due retries at the head of the timer list. */
void cli_run_timers(dbev_client_t *client, int64_t now_us)
{
    while (client->thead && client->thead->due_us <= now_us) {
        creq_t *r = client->thead;
        if (r->state == CREQ_INFLIGHT) {
            client->stats.timeouts++;
            char why[128];
            if (r->deadline_us)
                snprintf(why, sizeof(why),
                         "no response within the call's deadline of %d ms (+%d ms grace)",
                         r->timeout_ms, client->timeout_grace_ms);
            else
                snprintf(why, sizeof(why), "no response within %d ms (+%d ms grace)", r->timeout_ms,
                         client->timeout_grace_ms);
            cli_attempt_failed(client, r, now_us, DBEV_ERR__TIMEOUT, why);
        } else if (client->breaker_enabled && !cbrk_allow(&client->breaker, now_us)) {
            client->stats.breaker_refused++;
            cli_finish_error(client, r, DBEV_ERR_CIRCUIT_BREAKER_OPEN, false,
                             "client circuit breaker is open; retry %d not sent", r->attempts);
        } else {
            cli_send(client, r, now_us);
        }
    }
}

/* ---- submission ------------------------------------------------------------ */

int cli_timeout_ms(const dbev_client_t *client, const dbev_call_opts_t *opts)
{
    return opts && opts->timeout_ms > 0 ? opts->timeout_ms : client->timeout_ms;
}

static dbev_err_t cli_fail_now(dbev_error_t **errorp, json_t *payload, dbev_err_t code,
                               const char *corr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static dbev_err_t cli_fail_now(dbev_error_t **errorp, json_t *payload, dbev_err_t code,
                               const char *corr, const char *fmt, ...)
{
    json_decref(payload);
    if (errorp) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        *errorp = res_error_new(code, "%s", msg);
        if (*errorp && corr)
            res_error_set_request(*errorp, corr, NULL, 0);
    }
    return code;
}

dbev_err_t cli_submit(dbev_client_t *client, dbev_op_t op, json_t *payload,
                      const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                      cli_sync_t *sync, dbev_error_t **errorp)
{
    const char *corr = opts ? opts->correlation_id : NULL;
    if (corr && (!*corr || strlen(corr) >= DBEV_ID_SIZE))
        return cli_fail_now(errorp, payload, DBEV_ERR__INVALID_ARG, NULL,
                            "correlation id must be 1 to %d characters", DBEV_ID_SIZE - 1);
    /* An event over the protocol's limit would be refused by the broker or
     * the adapter after a round trip (and retried as a transport failure):
     * refuse it here, where the caller can still split it. The envelope adds
     * well under 1 KiB to the payload. */
    size_t payload_bytes = json_dumpb(payload, NULL, 0, JSON_COMPACT);
    if (payload_bytes + 1024 > DBEV_MAX_EVENT_BYTES)
        return cli_fail_now(errorp, payload, DBEV_ERR__INVALID_ARG, corr,
                            "the request is %zu bytes, over the protocol's limit of %d bytes per "
                            "event; split it (smaller batch_insert batches) or store large values "
                            "elsewhere and send a reference",
                            payload_bytes, DBEV_MAX_EVENT_BYTES);
    creq_t *r = calloc(1, sizeof(*r));
    if (!r)
        return cli_fail_now(errorp, payload, DBEV_ERR__INVALID_ARG, NULL, "out of memory");
    r->op = op;
    r->payload = payload;
    r->cb = cb;
    r->opaque = opaque;
    r->sync = sync;
    r->timeout_ms = cli_timeout_ms(client, opts);
    r->max_retries = !opts || opts->max_retries == 0 ? client->max_retries
                     : opts->max_retries < 0         ? 0
                                                     : opts->max_retries;
    if (corr)
        snprintf(r->corr, sizeof(r->corr), "%s", corr);
    else
        dbev_uuid_new(r->corr);
    dbev_uuid_new(r->event_id);

    int64_t now_us = dbev_mono_us();
    r->start_us = now_us;
    if (client->timeout_total)
        r->deadline_us = now_us + (int64_t)r->timeout_ms * 1000;
    pthread_mutex_lock(&client->lock);
    if (client->closing) {
        pthread_mutex_unlock(&client->lock);
        free(r);
        return cli_fail_now(errorp, payload, DBEV_ERR__CANCELLED, corr,
                            "the client is being destroyed");
    }
    if (corrtab_get(client->pending, r->corr)) {
        pthread_mutex_unlock(&client->lock);
        free(r);
        return cli_fail_now(errorp, payload, DBEV_ERR__INVALID_ARG, corr,
                            "correlation id %s is already in flight on this client", corr);
    }
    if (client->breaker_enabled && !cbrk_allow(&client->breaker, now_us)) {
        client->stats.breaker_refused++;
        int64_t left_ms = (client->breaker.opened_us + client->breaker.recovery_us - now_us) / 1000;
        pthread_mutex_unlock(&client->lock);
        char c[DBEV_ID_SIZE];
        snprintf(c, sizeof(c), "%s", r->corr);
        free(r);
        return cli_fail_now(errorp, payload, DBEV_ERR_CIRCUIT_BREAKER_OPEN, c,
                            "client circuit breaker is open after repeated timeouts/transport "
                            "failures; next probe in %lld ms",
                            (long long)(left_ms > 0 ? left_ms : 0));
    }
    if (corrtab_put(client->pending, r->corr, r) < 0) {
        pthread_mutex_unlock(&client->lock);
        free(r);
        return cli_fail_now(errorp, payload, DBEV_ERR__INVALID_ARG, corr, "out of memory");
    }
    recent_forget(client->recent, r->corr);
    int64_t due_us = now_us + cli_wait_us(client, r, now_us);
    bool wake = due_us < client->bg_wake_us;
    dbev_logf(&client->logger, DBEV_LOG_DEBUG, r->corr, "%s request %s sent", dbev_op_name(op),
              r->event_id);
    cli_send(client, r, now_us); /* r may be finished (and freed) when this returns */
    pthread_mutex_unlock(&client->lock);
    if (wake)
        rd_kafka_queue_yield(client->cq);
    return DBEV_ERR_NO_ERROR;
}

dbev_err_t cli_call_sync(dbev_client_t *client, dbev_op_t op, json_t *payload,
                         const dbev_call_opts_t *opts, dbev_result_t **resultp,
                         dbev_error_t **errorp)
{
    cli_sync_t sync = {.done = false};
    pthread_mutex_init(&sync.m, NULL);
    pthread_cond_init(&sync.c, NULL);
    dbev_err_t err = cli_submit(client, op, payload, opts, NULL, NULL, &sync, errorp);
    if (err == DBEV_ERR_NO_ERROR) {
        pthread_mutex_lock(&sync.m);
        while (!sync.done)
            pthread_cond_wait(&sync.c, &sync.m);
        pthread_mutex_unlock(&sync.m);
        if (sync.result) {
            *resultp = sync.result;
        } else {
            err = sync.error ? dbev_error_code(sync.error) : DBEV_ERR__TRANSPORT;
            if (errorp)
                *errorp = sync.error;
            else
                dbev_error_destroy(sync.error);
        }
    }
    pthread_cond_destroy(&sync.c);
    pthread_mutex_destroy(&sync.m);
    return err;
}
