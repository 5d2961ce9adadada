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
 */
#include "client_int.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CLI_MAX_WAIT_MS    100  /* the background thread re-checks timers at least this often */
#define CLI_RECENT_IDS     8192 /* finished ids remembered for late/duplicate accounting */
#define CLI_DRAIN_MESSAGES 1000 /* messages consumed per loop before timers are checked */

struct cli_sync {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    dbev_result_t *result;
    dbev_error_t *error;
};

typedef enum creq_state {
    CREQ_INFLIGHT, /* sent; due_us is the response deadline */
    CREQ_BACKOFF,  /* waiting to be sent again; due_us is the send time */
} creq_state_t;

typedef struct creq {
    struct creq *tprev, *tnext; /* timer list */
    struct creq *qnext;         /* done queue */
    char corr[DBEV_ID_SIZE];
    char event_id[DBEV_ID_SIZE];
    dbev_op_t op;
    json_t *payload; /* the operation payload, re-wrapped on each attempt */
    int attempts;
    int max_retries;
    int timeout_ms;
    int64_t start_us;
    int64_t deadline_us;  /* timeout.mode=total: start + timeout (monotonic); 0: per attempt */
    int64_t sent_wall_us; /* the first attempt's envelope timestamp (total mode keeps it) */
    int64_t due_us;
    creq_state_t state;
    dbev_done_cb_t *cb;
    void *opaque;
    cli_sync_t *sync;
    dbev_result_t *result; /* set when queued for poll */
    dbev_error_t *error;
} creq_t;

struct dbev_client {
    dbev_conf_t *conf;
    dbev_log_cb_t *log_cb;
    void *log_opaque;
    dbev_logger_t logger;
    char topic_req[256];
    char topic_resp[2][256];
    char group_id[256];
    const char *service; /* borrowed from conf */
    int timeout_ms;
    int timeout_grace_ms; /* waited beyond an attempt's timeout for the adapter's own answer */
    bool timeout_total;   /* timeout.mode=total: timeout_ms bounds the whole call */
    int max_retries;
    int64_t backoff_base_ms, backoff_max_ms;

    rd_kafka_t *producer;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *cq; /* the consumer queue, to wake the background thread */
    pthread_t thread;
    bool thread_started;
    atomic_bool terminate;

    pthread_mutex_t lock; /* everything below */
    pthread_cond_t done_cond;
    bool closing;
    corrtab_t *pending;
    recent_t *recent;
    creq_t *thead, *ttail;
    creq_t *qhead, *qtail;
    int qlen;
    int efd;
    bool breaker_enabled;
    cbrk_t breaker;
    int64_t bg_wake_us; /* when the background thread plans to look at timers next */
    dbev_client_stats_t stats;
};

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

/* librdkafka's own lines: never printed, passed on at a matching level. */
static void cli_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    dbev_client_t *client = rd_kafka_opaque(rk);
    if (!client || !client->logger.cb)
        return;
    dbev_log_level_t l = level <= 3   ? DBEV_LOG_ERROR
                         : level == 4 ? DBEV_LOG_WARN
                         : level <= 6 ? DBEV_LOG_INFO
                                      : DBEV_LOG_DEBUG;
    dbev_logf(&client->logger, l, NULL, "rdkafka %s: %s", fac, buf);
}

static void cli_rdkafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    dbev_client_t *client = opaque;
    dbev_logf(&client->logger, DBEV_LOG_WARN, NULL, "kafka: %s: %s",
              rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

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
static void cli_finish(dbev_client_t *client, creq_t *r, dbev_result_t *result, dbev_error_t *error,
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

static void cli_finish_error(dbev_client_t *client, creq_t *r, dbev_err_t code, bool answered,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void cli_finish_error(dbev_client_t *client, creq_t *r, dbev_err_t code, bool answered,
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
static bool cli_should_retry(dbev_err_t code)
{
    return code == DBEV_ERR__TIMEOUT || code == DBEV_ERR__TRANSPORT ||
           code == DBEV_ERR_DATABASE_CONNECTION_FAILED || code == DBEV_ERR_TIMEOUT_ERROR;
}

/*
 * Schedules the next attempt after its backoff; false (nothing scheduled)
 * when, in total mode, that attempt could not start before the caller's
 * deadline: sending it would only make the call overrun its budget.
 */
static bool cli_schedule_retry(dbev_client_t *client, creq_t *r, int64_t now_us)
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
static void cli_attempt_failed(dbev_client_t *client, creq_t *r, int64_t now_us, dbev_err_t code,
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
static void cli_run_timers(dbev_client_t *client, int64_t now_us)
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

/* ---- the background thread ---------------------------------------------- */

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
static void cli_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
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

static void *cli_thread_main(void *arg)
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

/* ---- creation ------------------------------------------------------------ */

static int cli_rdconf_set(rd_kafka_conf_t *rdconf, const char *name, const char *value,
                          const char *origin, char *errstr, size_t size)
{
    char why[256];
    if (rd_kafka_conf_set(rdconf, name, value, why, sizeof(why)) != RD_KAFKA_CONF_OK)
        return dbev_seterr(errstr, size, "%s%s: %s", origin, name, why);
    return 0;
}

/* The settings both handles share: brokers, logging, and kafka.* pass-through. */
static rd_kafka_conf_t *cli_rdconf_new(dbev_client_t *client, char *errstr, size_t size)
{
    rd_kafka_conf_t *rdconf = rd_kafka_conf_new();
    /* Nagle off: a small request could otherwise wait for a delayed ACK
     * (docs/latency.md); kafka.socket.nagle.disable=false restores it. */
    if (cli_rdconf_set(rdconf, "bootstrap.servers", conf_str(client->conf, CONF_BOOTSTRAP_SERVERS),
                       "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "client.id", client->service, "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "socket.nagle.disable", "true", "", errstr, size) < 0)
        goto fail;
    rd_kafka_conf_set_log_cb(rdconf, cli_rdkafka_log);
    rd_kafka_conf_set_error_cb(rdconf, cli_rdkafka_error);
    rd_kafka_conf_set_opaque(rdconf, client);
    return rdconf;
fail:
    rd_kafka_conf_destroy(rdconf);
    return NULL;
}

/* kafka.* onto one handle: kafka.consumer.* and kafka.producer.* only onto
 * that one (without librdkafka's warning that the other ignores it). */
static int cli_rdconf_passthrough(dbev_client_t *client, rd_kafka_conf_t *rdconf, bool consumer,
                                  char *errstr, size_t size)
{
    for (size_t i = 0; i < conf_kafka_count(client->conf); i++) {
        const char *name, *value;
        conf_kafka_entry(client->conf, i, &name, &value);
        const char *origin = "kafka.";
        if (!strncmp(name, "consumer.", 9) || !strncmp(name, "producer.", 9)) {
            if ((name[0] == 'c') != consumer)
                continue;
            origin = consumer ? "kafka.consumer." : "kafka.producer.";
            name += 9;
        }
        if (cli_rdconf_set(rdconf, name, value, origin, errstr, size) < 0)
            return -1;
    }
    return 0;
}

static int cli_make_producer(dbev_client_t *client, char *errstr, size_t size)
{
    char timeout[32];
    rd_kafka_conf_t *rdconf = cli_rdconf_new(client, errstr, size);
    if (!rdconf)
        return -1;
    /* A request that cannot be delivered within its timeout is useless (and
     * harmful if delivered much later): let librdkafka give up as well. */
    snprintf(timeout, sizeof(timeout), "%d", client->timeout_ms);
    if (cli_rdconf_set(rdconf, "message.timeout.ms", timeout, "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "linger.ms", "1", "", errstr, size) < 0 ||
        cli_rdconf_passthrough(client, rdconf, false, errstr, size) < 0) {
        rd_kafka_conf_destroy(rdconf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(rdconf, cli_dr_cb);
    char why[512];
    client->producer = rd_kafka_new(RD_KAFKA_PRODUCER, rdconf, why, sizeof(why));
    if (!client->producer) {
        rd_kafka_conf_destroy(rdconf);
        return dbev_seterr(errstr, size, "cannot create the Kafka producer: %s", why);
    }
    return 0;
}

static int cli_make_consumer(dbev_client_t *client, char *errstr, size_t size)
{
    rd_kafka_conf_t *rdconf = cli_rdconf_new(client, errstr, size);
    if (!rdconf)
        return -1;
    if (cli_rdconf_set(rdconf, "group.id", client->group_id, "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "enable.auto.commit", "false", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "enable.auto.offset.store", "false", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "auto.offset.reset", "latest", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "fetch.wait.max.ms", "10", "", errstr, size) < 0 ||
        cli_rdconf_set(rdconf, "fetch.error.backoff.ms", "10", "", errstr, size) < 0 ||
        cli_rdconf_passthrough(client, rdconf, true, errstr, size) < 0) {
        rd_kafka_conf_destroy(rdconf);
        return -1;
    }
    char why[512];
    client->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, rdconf, why, sizeof(why));
    if (!client->consumer) {
        rd_kafka_conf_destroy(rdconf);
        return dbev_seterr(errstr, size, "cannot create the Kafka consumer: %s", why);
    }
    rd_kafka_poll_set_consumer(client->consumer);
    client->cq = rd_kafka_queue_get_consumer(client->consumer);
    return 0;
}

static int64_t cli_remaining_ms(int64_t deadline_us)
{
    int64_t left = (deadline_us - dbev_mono_us()) / 1000;
    return left < 1 ? 1 : left;
}

static void cli_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Looks up the partitions of topic (retrying until the deadline: the topic
 * may be being created) and adds each at its current high watermark.
 */
static int cli_add_topic(dbev_client_t *client, const char *topic, int64_t deadline_us,
                         rd_kafka_topic_partition_list_t *parts, char *errstr, size_t size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(client->consumer, topic, NULL);
    const char *why = "no metadata";
    int partition_cnt = 0;
    if (!rkt)
        return dbev_seterr(errstr, size, "cannot use topic %s", topic);
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(client->consumer, 0, rkt, &md, (int)cli_remaining_ms(deadline_us));
        if (err) {
            why = rd_kafka_err2str(err);
        } else if (md->topic_cnt != 1 || md->topics[0].err) {
            why = md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "topic not listed";
        } else if (md->topics[0].partition_cnt > 0) {
            partition_cnt = md->topics[0].partition_cnt;
        } else {
            why = "topic has no partitions";
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (partition_cnt > 0 || dbev_mono_us() >= deadline_us)
            break;
        cli_nap_ms(50); /* the topic may be being created: ask again shortly */
    }
    rd_kafka_topic_destroy(rkt);
    if (partition_cnt == 0)
        return dbev_seterr(errstr, size,
                           "response topic %s not available within startup.timeout.ms=%lld: %s "
                           "(bootstrap.servers=%s)",
                           topic, (long long)conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS), why,
                           conf_str(client->conf, CONF_BOOTSTRAP_SERVERS));
    for (int p = 0; p < partition_cnt; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        while (dbev_mono_us() < deadline_us) {
            err = rd_kafka_query_watermark_offsets(client->consumer, topic, p, &lo, &hi,
                                                   (int)cli_remaining_ms(deadline_us));
            if (!err)
                break;
            cli_nap_ms(50);
        }
        if (err)
            return dbev_seterr(errstr, size,
                               "cannot read the start offset of %s [%d] within "
                               "startup.timeout.ms=%lld: %s",
                               topic, p, (long long)conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS),
                               rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = hi;
    }
    return 0;
}

/*
 * The producer learns the request topic's partitions and connects to their
 * leaders now, not on the first request (which would otherwise wait for a
 * metadata round trip plus a connection: about a second on the mock cluster).
 */
static int cli_warm_producer(dbev_client_t *client, int64_t deadline_us, char *errstr, size_t size)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(client->producer, client->topic_req, NULL);
    const char *why = "no metadata";
    bool ok = false;
    if (!rkt)
        return dbev_seterr(errstr, size, "cannot use topic %s", client->topic_req);
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(client->producer, 0, rkt, &md, (int)cli_remaining_ms(deadline_us));
        if (err)
            why = rd_kafka_err2str(err);
        else if (md->topic_cnt != 1 || md->topics[0].err)
            why = md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "topic not listed";
        else
            ok = md->topics[0].partition_cnt > 0;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok || dbev_mono_us() >= deadline_us)
            break;
        cli_nap_ms(50);
    }
    rd_kafka_topic_destroy(rkt);
    if (!ok)
        return dbev_seterr(errstr, size,
                           "request topic %s not available within startup.timeout.ms=%lld: %s "
                           "(bootstrap.servers=%s)",
                           client->topic_req,
                           (long long)conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS), why,
                           conf_str(client->conf, CONF_BOOTSTRAP_SERVERS));
    return 0;
}

static int cli_assign(dbev_client_t *client, char *errstr, size_t size)
{
    int64_t deadline_us = dbev_mono_us() + conf_int(client->conf, CONF_STARTUP_TIMEOUT_MS) * 1000;
    if (cli_warm_producer(client, deadline_us, errstr, size) < 0)
        return -1;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = cli_add_topic(client, client->topic_resp[i], deadline_us, parts, errstr, size);
    if (rc == 0) {
        rd_kafka_resp_err_t err = rd_kafka_assign(client->consumer, parts);
        if (err)
            rc = dbev_seterr(errstr, size, "cannot assign the response topics: %s",
                             rd_kafka_err2str(err));
    }
    if (rc == 0)
        dbev_logf(&client->logger, DBEV_LOG_INFO, NULL,
                  "client started: group %s, %d response partitions assigned at their end",
                  client->group_id, parts->cnt);
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

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

static int cli_serve(dbev_client_t *client, creq_t *list)
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
static creq_t *cli_take_done(dbev_client_t *client)
{
    creq_t *list = client->qhead;
    client->qhead = client->qtail = NULL;
    client->qlen = 0;
    uint64_t v;
    ssize_t n = read(client->efd, &v, sizeof(v));
    (void)n;
    return list;
}

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
