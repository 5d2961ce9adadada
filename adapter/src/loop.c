/*
 * The adapter's Kafka side: the consume -> execute -> produce -> commit loop.
 *
 * The loop thread (dbev_adapter_run) owns both Kafka clients: it polls the
 * consumer for up to batch.max request messages, decodes them (undecodable
 * ones get their VALIDATION_ERROR answer ready at once) and queues the batch
 * as a job for the executor lanes (exec.lanes threads, each with its own
 * connection). A job is split by partition: partition p goes to lane
 * p % lanes, and each lane runs its share of the jobs (adapter_exec_batch,
 * exec.h) one job at a time in consumption order, so each partition's order
 * is kept while the lanes keep PostgreSQL and the executor's own work busy
 * at the same time. A small job (fewer than LOOP_SPLIT_MIN requests) runs
 * whole on lane 0; a job split unlike the one before it is a barrier that no
 * lane starts before every earlier job is done, so a partition's requests
 * never pass each other between lanes. A job is done when every lane has run
 * its share; jobs therefore finish in consumption order. Meanwhile the loop thread decodes
 * the next batches and publishes the finished ones: one response per
 * message, in consumption order, keyed by correlation id, through an
 * idempotent producer (acks=all).
 *
 * A batch's offsets are committed only when the broker has acknowledged every
 * response of that batch and of every batch before it (delivery reports,
 * served on the loop thread by rd_kafka_poll on the producer). A crash
 * therefore redelivers requests, it never loses them; the executor's dedupe
 * keeps redelivered writes from being applied twice. Up to inflight.max
 * responses may be unacknowledged at once.
 *
 * A failed delivery is retried (re-produced) rather than skipped, because a
 * commit is cumulative: skipping one response would acknowledge it. An
 * error that the same bytes cannot cure (too large for the producer or the
 * broker, a record refused as invalid) is the exception: after
 * LOOP_RESEND_MAX tries the response is replaced by a small failed answer
 * for the same correlation id saying why, so one request can never stop a
 * partition (a failed replacement is given up on, logged, and its offset
 * moves on). A stop
 * (dbev_adapter_stop, SIGTERM in the daemon) finishes the jobs in hand, waits
 * up to shutdown.timeout.ms for the last acknowledgements, commits and leaves
 * the group; a revocation does the same for the partitions it takes away;
 * dbev_adapter_abort stops as a crash would.
 */
#include "adapter_loop.h"
#include "exec.h"

#include <dbev/protocol.h>

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { STOP_NONE = 0, STOP_GRACEFUL = 1, STOP_ABORT = 2 };
/* Jobs between consumption and publication: one executing, two decoded and
 * waiting, so a lane that finishes its share early always finds the next. */
#define LOOP_MAX_JOBS  3
#define LOOP_MAX_LANES 16
/* A job this small runs whole on lane 0: split, each lane would pay a
 * transaction of its own for a few requests, and at 1,000 requests/s (jobs
 * of a few requests) those extra transactions cost so much CPU that the
 * Kafka clients fell behind: p99 went from 43 to 190-330 ms
 * (scenarios/load_throughput.yaml). */
#define LOOP_SPLIT_MIN 64

enum { T_REQUESTED, T_COMPLETED, T_FAILED, T_REGISTRY, T_HEARTBEAT, T_COUNT };

/* A response failing with a per-message permanent error (too large, an
 * invalid record) is produced this many more times before it is replaced:
 * the broker's error may have been passing (test_delivery_failure_resent). */
#define LOOP_RESEND_MAX 2

/* What a response's msg_opaque points to (its first member): its batch, or,
 * once its delivery failed, the resend, which knows its batch. */
enum { OPAQUE_BATCH = 1, OPAQUE_RESEND };

/* A batch whose responses are on their way to the broker. */
typedef struct loop_batch {
    int kind; /* OPAQUE_BATCH */
    struct loop_batch *next;
    size_t pending;                           /* responses not yet acknowledged */
    bool lost;                                /* a response could not be delivered */
    rd_kafka_topic_partition_list_t *offsets; /* next offset to consume, per partition */
} loop_batch_t;

/* A response whose delivery failed, to be produced again: on the retries
 * list until produced, then the message's opaque (its payload, produced
 * without a copy, lives here until the delivery report). */
typedef struct loop_retry {
    int kind; /* OPAQUE_RESEND */
    struct loop_retry *next;
    rd_kafka_topic_t *rkt;
    char *key;
    char *payload;
    size_t len;
    struct loop_batch *batch;
    int attempts;     /* failed with a per-message permanent error so many times */
    bool replacement; /* payload is the failed answer replacing the response */
} loop_retry_t;

struct dbev_adapter {
    dbev_adapter_conf_t *conf;
    dbev_logger_t logger;
    char instance_id[64];
    char group_id[256];
    char topics[T_COUNT][256];
    registry_info_t reg;

    adapter_exec_t *exec;
    char *conninfo;
    char **allowlist;

    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_q; /* to wake the loop thread's consumer poll */
    rd_kafka_t *producer;
    rd_kafka_topic_t *rkt[T_COUNT]; /* producer topic handles (not T_REQUESTED) */
    int reg_sentinel;               /* msg_opaque of the registry announcement */

    size_t batch_max;
    int64_t inflight_max;
    int64_t heartbeat_ms;
    int64_t shutdown_timeout_ms;
    int64_t message_max_bytes; /* the producer's */

    /* Loop thread only. */
    loop_batch_t *head, *tail;
    rd_kafka_topic_partition_list_t *done; /* highest acknowledged offsets, not yet committed */
    bool cooperative;
    bool in_run;
    int jobs_outstanding;  /* submitted, not yet published */
    loop_retry_t *retries; /* failed deliveries to produce again */

    /* The executor lanes and their queues (under jobs_lock). */
    int nlanes;
    struct loop_lane {
        dbev_adapter_t *adapter;
        int index;
        adapter_exec_t *exec; /* lane 0: adapter->exec; others: its lanes */
        pthread_t thread;
        bool started;
        struct loop_job *todo_head, *todo_tail;
    } lanes[LOOP_MAX_LANES];
    pthread_mutex_t jobs_lock;
    pthread_cond_t todo_cond, done_cond;
    struct loop_job *done_head, *done_tail;
    uint64_t jobs_done; /* jobs every lane has run its share of */
    bool worker_quit;
    /* Loop thread only. */
    uint64_t jobs_submitted;
    bool last_whole; /* how the last submitted job was split */

    atomic_int stop;
    atomic_bool fatal;
    pthread_t thread;
    bool started, joined;
    int run_rc;

    /* Counters, read by dbev_adapter_stats() from any thread. */
    atomic_uint_fast64_t consumed, invalid, completed, failed, delivered, delivery_errors, batches,
        commits, heartbeats;
    atomic_int_fast64_t in_flight;
    atomic_int assigned;
    atomic_bool running, registered;
};

const char *dbev_adapter_version(void)
{
    return DBEV_VERSION_STRING;
}

const char *dbev_adapter_instance_id(const dbev_adapter_t *adapter)
{
    return adapter->instance_id;
}

/* --- librdkafka callbacks --- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    dbev_adapter_t *adapter = rd_kafka_opaque(rk);
    dbev_log_level_t lvl = level <= 3   ? DBEV_LOG_ERROR
                           : level == 4 ? DBEV_LOG_WARN
                           : level <= 6 ? DBEV_LOG_INFO
                                        : DBEV_LOG_DEBUG;
    dbev_logf(&adapter->logger, lvl, NULL, "rdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "fatal Kafka error on %s: %s",
                  rd_kafka_name(rk), why);
        atomic_store(&adapter->fatal, true);
        return;
    }
    /* Transport errors are retried by librdkafka: worth a warning, no more. */
    dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL, "Kafka %s: %s: %s", rd_kafka_name(rk),
              rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Produces one message; on a full queue serves delivery reports and retries.
 * With F_FREE, payload is freed by librdkafka on success, by us on failure.
 * Returns 0 or the error. */
static rd_kafka_resp_err_t produce(dbev_adapter_t *adapter, rd_kafka_topic_t *rkt, const char *key,
                                   char *payload, size_t len, int msgflags, void *opaque)
{
    size_t keylen = key ? strlen(key) : 0;
    for (;;) {
        if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, msgflags, payload, len,
                             keylen ? key : NULL, keylen, opaque) == 0)
            return RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&adapter->stop) == STOP_ABORT) {
            dbev_logf(&adapter->logger, DBEV_LOG_ERROR, key, "cannot produce %zu bytes to %s: %s",
                      len, rd_kafka_topic_name(rkt), rd_kafka_err2str(err));
            if (msgflags & RD_KAFKA_MSG_F_FREE)
                free(payload);
            return err ? err : RD_KAFKA_RESP_ERR__FAIL;
        }
        rd_kafka_poll(adapter->producer, 10);
    }
}

/* Errors of one message that producing the same bytes again cannot cure.
 * Anything else (timeouts, a broker away, a topic-wide refusal) is retried. */
static bool permanent_for_message(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
        return true;
    default:
        return false;
    }
}

/*
 * The failed answer that replaces a response which cannot be delivered
 * (original: its event, len bytes): small, same correlation id, saying why.
 * The request did run: a write was applied, and the message says so.
 * Returns the event text to free with free(), or NULL when out of memory.
 */
static char *replacement_text(dbev_adapter_t *adapter, const char *correlation_id,
                              const char *original, size_t len, rd_kafka_resp_err_t err)
{
    int op = -1;
    bool completed = false;
    json_t *event = json_loadb(original, len, 0, NULL);
    json_t *payload = json_object_get(event, "payload");
    const char *name = json_string_value(json_object_get(payload, "operation_type"));
    dbev_op_t parsed;
    if (name && dbev_op_parse(name, &parsed) == 0)
        op = (int)parsed;
    completed = payload && !json_object_get(payload, "error_code");
    json_decref(event);
    bool size = err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
                err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
                err == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE;
    char msg[512];
    snprintf(msg, sizeof(msg), "the %s answer (%zu bytes) could not be delivered: %s%s; %s",
             completed ? "completed" : "failed", len, rd_kafka_err2str(err),
             size ? " (over the producer's or the broker's message.max.bytes)" : "",
             op >= 0 && dbev_op_is_write((dbev_op_t)op) && completed
                 ? "the operation was executed (a write was applied); ask for a smaller answer "
                   "(options.max_rows, fewer returning columns) next time"
                 : "ask for less: a smaller options.max_rows, fewer or narrower columns, or "
                   "page with LIMIT/OFFSET");
    json_t *meta = json_object();
    json_object_set_new(meta, "response_bytes", json_integer((json_int_t)len));
    json_object_set_new(meta, "kafka_error", json_string(rd_kafka_err2name(err)));
    json_t *failed = dbev_failed_payload_new(
        (dbev_op_t)op, size ? DBEV_ERR_VALIDATION_ERROR : DBEV_ERR_DATABASE_OPERATION_FAILED, msg,
        size ? "ResponseTooLarge" : "ResponseUndeliverable", NULL,
        adapter_exec_breaker_state(adapter->exec), meta);
    if (!failed)
        return NULL;
    char event_id[40];
    dbev_uuid_new(event_id);
    char *text = dbev_envelope_dumps(DBEV_EVENT_FAILED, event_id, correlation_id,
                                     DBEV_ADAPTER_SERVICE, 0, failed);
    json_decref(failed);
    dbev_logf(&adapter->logger, DBEV_LOG_ERROR, correlation_id,
              "answer of %zu bytes not deliverable (%s): answering failed instead", len,
              rd_kafka_err2name(err));
    if (completed) {
        atomic_fetch_sub(&adapter->completed, 1);
        atomic_fetch_add(&adapter->failed, 1);
    }
    return text;
}

static void retry_free(loop_retry_t *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->payload);
    free(r);
}

/* A response is done with, delivered or not: its batch may commit past it. */
static void response_done(dbev_adapter_t *adapter, loop_batch_t *batch, bool lost)
{
    batch->pending--;
    if (lost)
        batch->lost = true;
    atomic_fetch_sub(&adapter->in_flight, 1);
}

/*
 * A response failed with err: queues it to be produced again (r: its resend
 * so far, or NULL for a first failure, then copied from payload). A per-
 * message permanent error counts: past LOOP_RESEND_MAX the response is
 * replaced by a failed answer, and a replacement that fails so is given up.
 */
static void resend(dbev_adapter_t *adapter, loop_batch_t *batch, loop_retry_t *r,
                   rd_kafka_topic_t *rkt, const char *key, const void *payload, size_t len,
                   rd_kafka_resp_err_t err)
{
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r || !(r->key = strdup(key)) || !(r->payload = malloc(len + 1))) {
            retry_free(r);
            response_done(adapter, batch, true);
            return;
        }
        r->kind = OPAQUE_RESEND;
        memcpy(r->payload, payload, len);
        r->len = len;
        r->rkt = rkt;
        r->batch = batch;
    }
    if (permanent_for_message(err) && ++r->attempts > LOOP_RESEND_MAX) {
        if (r->replacement) {
            dbev_logf(&adapter->logger, DBEV_LOG_ERROR, r->key,
                      "even the failed answer could not be delivered (%s): the request stays "
                      "unanswered and its offset moves on",
                      rd_kafka_err2str(err));
            retry_free(r);
            response_done(adapter, batch, false);
            return;
        }
        char *text = replacement_text(adapter, r->key, r->payload, r->len, err);
        if (!text) {
            retry_free(r);
            response_done(adapter, batch, true);
            return;
        }
        free(r->payload);
        r->payload = text;
        r->len = strlen(text);
        r->rkt = adapter->rkt[T_FAILED];
        r->replacement = true;
        r->attempts = 0;
    }
    r->next = adapter->retries;
    adapter->retries = r;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (msg->_private == &adapter->reg_sentinel) {
        if (msg->err)
            dbev_logf(&adapter->logger, DBEV_LOG_WARN, adapter->instance_id,
                      "registry announcement not delivered: %s", rd_kafka_err2str(msg->err));
        else
            atomic_store(&adapter->registered, true);
        return;
    }
    if (!msg->_private) { /* heartbeat: best effort */
        if (msg->err)
            dbev_logf(&adapter->logger, DBEV_LOG_DEBUG, adapter->instance_id,
                      "heartbeat not delivered: %s", rd_kafka_err2str(msg->err));
        return;
    }
    loop_retry_t *r = NULL;
    loop_batch_t *batch = msg->_private;
    if (*(const int *)msg->_private == OPAQUE_RESEND) { /* the first member of both */
        r = msg->_private;
        batch = r->batch;
    }
    if (!msg->err) {
        retry_free(r);
        response_done(adapter, batch, false);
        atomic_fetch_add(&adapter->delivered, 1);
        return;
    }
    atomic_fetch_add(&adapter->delivery_errors, 1);
    char key[DBEV_ID_SIZE] = "";
    if (msg->key_len < sizeof(key)) {
        memcpy(key, msg->key, msg->key_len);
        key[msg->key_len] = '\0';
    }
    bool purged =
        msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
    if (!purged && atomic_load(&adapter->stop) != STOP_ABORT && !atomic_load(&adapter->fatal)) {
        /* Send it again (after this poll returns: no producing from inside
         * a callback): skipping it would let a later commit acknowledge it. */
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, key,
                  "response to %s not delivered (%s), resending", rd_kafka_topic_name(msg->rkt),
                  rd_kafka_err2str(msg->err));
        resend(adapter, batch, r, msg->rkt, key, msg->payload, msg->len, msg->err);
        return;
    }
    retry_free(r);
    response_done(adapter, batch, true);
}

/* Serves delivery reports (waiting up to timeout_ms), then produces again
 * the responses whose delivery failed. */
static void serve_deliveries(dbev_adapter_t *adapter, int timeout_ms)
{
    rd_kafka_poll(adapter->producer, timeout_ms);
    while (adapter->retries) {
        loop_retry_t *retries = adapter->retries;
        adapter->retries = NULL;
        while (retries) {
            loop_retry_t *r = retries;
            retries = r->next;
            r->next = NULL;
            if (atomic_load(&adapter->stop) == STOP_ABORT || atomic_load(&adapter->fatal)) {
                response_done(adapter, r->batch, true);
                retry_free(r);
                continue;
            }
            /* No copy: the payload stays r's until the delivery report. */
            rd_kafka_resp_err_t err = produce(adapter, r->rkt, r->key, r->payload, r->len, 0, r);
            if (err && permanent_for_message(err)) {
                resend(adapter, r->batch, r, r->rkt, r->key, r->payload, r->len, err);
            } else if (err) {
                response_done(adapter, r->batch, true);
                retry_free(r);
            }
        }
    }
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL,
                  "offset commit failed: %s (those requests may be redelivered)",
                  rd_kafka_err2str(err));
}

/* --- batches and commits --- */

static void offsets_merge(rd_kafka_topic_partition_list_t *into,
                          const rd_kafka_topic_partition_list_t *from)
{
    for (int i = 0; i < from->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &from->elems[i];
        rd_kafka_topic_partition_t *q =
            rd_kafka_topic_partition_list_find(into, p->topic, p->partition);
        if (!q)
            rd_kafka_topic_partition_list_add(into, p->topic, p->partition)->offset = p->offset;
        else if (p->offset > q->offset)
            q->offset = p->offset;
    }
}

static void batch_free(loop_batch_t *batch)
{
    if (!batch)
        return;
    if (batch->offsets)
        rd_kafka_topic_partition_list_destroy(batch->offsets);
    free(batch);
}

/* Moves the offsets of fully acknowledged batches (in order) into done and
 * commits them. A batch with a lost response stops everything: committing
 * past it would acknowledge the lost response. */
static void commit_ready(dbev_adapter_t *adapter, bool sync)
{
    while (adapter->head && adapter->head->pending == 0) {
        loop_batch_t *batch = adapter->head;
        if (batch->lost) {
            if (!atomic_load(&adapter->fatal) && atomic_load(&adapter->stop) != STOP_ABORT)
                dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL,
                          "a response could not be delivered: stopping without committing "
                          "(the requests will be redelivered)");
            atomic_store(&adapter->fatal, true);
            return;
        }
        offsets_merge(adapter->done, batch->offsets);
        adapter->head = batch->next;
        if (!adapter->head)
            adapter->tail = NULL;
        batch_free(batch);
    }
    if (adapter->done->cnt == 0)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(adapter->consumer, adapter->done, sync ? 0 : 1);
    atomic_fetch_add(&adapter->commits, 1);
    if (sync && err)
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL, "offset commit failed: %s",
                  rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(adapter->done);
    adapter->done = rd_kafka_topic_partition_list_new(8);
}

/* Serves delivery reports until nothing is in flight or the deadline passes. */
static void drain(dbev_adapter_t *adapter, int64_t timeout_ms)
{
    int64_t deadline = dbev_mono_us() + timeout_ms * 1000;
    while (atomic_load(&adapter->in_flight) > 0 && dbev_mono_us() < deadline &&
           atomic_load(&adapter->stop) != STOP_ABORT && !atomic_load(&adapter->fatal))
        serve_deliveries(adapter, 20);
    serve_deliveries(adapter, 0);
    if (atomic_load(&adapter->in_flight) > 0)
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL,
                  "%" PRId64 " responses still unacknowledged: their requests stay uncommitted",
                  (int64_t)atomic_load(&adapter->in_flight));
}

static void jobs_finish(dbev_adapter_t *adapter);

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, NULL, "assigned %d partition(s)",
                  partitions->cnt);
        if (adapter->cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, partitions);
            if (e)
                rd_kafka_error_destroy(e);
            atomic_fetch_add(&adapter->assigned, partitions->cnt);
        } else {
            rd_kafka_assign(rk, partitions);
            atomic_store(&adapter->assigned, partitions->cnt);
        }
        return;
    }
    /* Revoked (or lost): answer, acknowledge and commit what we consumed from
     * these partitions before another member takes them over. */
    dbev_logf(&adapter->logger, DBEV_LOG_INFO, NULL, "revoking %d partition(s)", partitions->cnt);
    if (atomic_load(&adapter->stop) != STOP_ABORT && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS &&
        !rd_kafka_assignment_lost(rk)) {
        jobs_finish(adapter);
        drain(adapter, adapter->shutdown_timeout_ms);
        commit_ready(adapter, true);
    }
    if (adapter->cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, partitions);
        if (e)
            rd_kafka_error_destroy(e);
        atomic_fetch_sub(&adapter->assigned, partitions->cnt);
    } else {
        rd_kafka_assign(rk, NULL);
        atomic_store(&adapter->assigned, 0);
    }
}

/* --- responses --- */

/* Copies a message key usable as a correlation id (printable, fits) into buf. */
static bool key_as_id(const rd_kafka_message_t *msg, char *buf, size_t size)
{
    if (!msg->key || msg->key_len == 0 || msg->key_len >= size)
        return false;
    const unsigned char *k = msg->key;
    for (size_t i = 0; i < msg->key_len; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return false;
    memcpy(buf, msg->key, msg->key_len);
    buf[msg->key_len] = '\0';
    return true;
}

/* The failed payload answering a request that could not be decoded. */
static json_t *invalid_payload(dbev_adapter_t *adapter, const rd_kafka_message_t *msg,
                               const dbev_decode_error_t *derr)
{
    json_t *meta = json_object();
    json_t *src = json_object();
    json_object_set_new(src, "topic", json_string(rd_kafka_topic_name(msg->rkt)));
    json_object_set_new(src, "partition", json_integer(msg->partition));
    json_object_set_new(src, "offset", json_integer(msg->offset));
    json_object_set_new(meta, "source", src);
    if (derr->event_id[0])
        json_object_set_new(meta, "request_event_id", json_string(derr->event_id));
    return dbev_failed_payload_new((dbev_op_t)derr->op, DBEV_ERR_VALIDATION_ERROR, derr->message,
                                   "ValidationError", NULL,
                                   adapter_exec_breaker_state(adapter->exec), meta);
}

/* Puts where a request's time went into its answer's metadata
 * (docs/protocol.md): service_ms from consumption to now (the answer is
 * about to be handed to the producer), and within it pool_wait_ms and
 * db_ms (o; NULL: a request never executed). One clock read. */
static void put_timing(json_t *payload, int64_t consumed_us, const adapter_outcome_t *o)
{
    json_t *meta = json_object_get(payload, "metadata");
    if (!json_is_object(meta))
        return;
    int64_t service = dbev_mono_us() - consumed_us;
    int64_t db = o ? o->db_us : 0, wait = o ? o->pool_wait_us : 0;
    json_object_set_new(meta, "service_ms", json_real((double)service / 1000.0));
    json_object_set_new(meta, "pool_wait_ms", json_real((double)wait / 1000.0));
    json_object_set_new(meta, "db_ms", json_real((double)db / 1000.0));
}

/* Wraps payload (stolen) in an envelope and produces it for batch, with the
 * request's timing (put_timing). */
static void respond(dbev_adapter_t *adapter, loop_batch_t *batch, bool completed,
                    const char *correlation_id, json_t *payload, int64_t consumed_us,
                    const adapter_outcome_t *timing)
{
    char event_id[40];
    dbev_uuid_new(event_id);
    put_timing(payload, consumed_us, timing);
    char *text = dbev_envelope_dumps(completed ? DBEV_EVENT_COMPLETED : DBEV_EVENT_FAILED, event_id,
                                     correlation_id, DBEV_ADAPTER_SERVICE, 0, payload);
    json_decref(payload);
    if (!text) {
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, correlation_id,
                  "cannot encode the response: out of memory");
        batch->lost = true;
        return;
    }
    batch->pending++;
    atomic_fetch_add(&adapter->in_flight, 1);
    atomic_fetch_add(completed ? &adapter->completed : &adapter->failed, 1);
    size_t len = strlen(text);
    /* The copy is kept only for a replacement: produce() frees text on failure. */
    char *copy = NULL;
    if (len > (size_t)adapter->message_max_bytes - ACONF_ENVELOPE_BYTES)
        copy = strdup(text);
    rd_kafka_resp_err_t err = produce(adapter, adapter->rkt[completed ? T_COMPLETED : T_FAILED],
                                      correlation_id, text, len, RD_KAFKA_MSG_F_FREE, batch);
    bool replaced = false;
    if (err && permanent_for_message(err) && copy) {
        /* Too large for the producer (librdkafka checks at once): no
         * resending cures that, answer failed instead. */
        char *failed = replacement_text(adapter, correlation_id, copy, len, err);
        replaced = failed != NULL;
        err = failed ? produce(adapter, adapter->rkt[T_FAILED], correlation_id, failed,
                               strlen(failed), RD_KAFKA_MSG_F_FREE, batch)
                     : RD_KAFKA_RESP_ERR__FAIL;
    }
    free(copy);
    if (err) {
        atomic_fetch_sub(completed && !replaced ? &adapter->completed : &adapter->failed, 1);
        response_done(adapter, batch, true);
    }
}

/*
 * A job: one consumed batch on its way through the pipeline. The loop thread
 * decodes it (job_new) and splits it into the lanes' shares (job_split),
 * each executor lane runs its share on PostgreSQL (exec_worker), the loop
 * thread publishes its responses (job_publish). Each lane runs its shares
 * in consumption order, so the order of each partition is kept, while the
 * loop thread decodes the next batches and encodes the finished ones'
 * responses in parallel.
 */
typedef struct loop_job {
    struct loop_job *next;
    size_t n;                  /* messages */
    dbev_request_t **slot;     /* per message: decoded request, or NULL */
    json_t **invalid;          /* per message: the answer to an undecodable one */
    char (*ids)[DBEV_ID_SIZE]; /* per message: correlation id, or "" */
    dbev_request_t **reqs;     /* the decoded requests, in order */
    size_t nreq;
    adapter_outcome_t *outs;                  /* per decoded request, filled by the executor */
    rd_kafka_topic_partition_list_t *offsets; /* next offset to consume, per partition */
    int32_t *partition;                       /* per decoded request */
    int64_t consumed_us; /* when the consumer poll handed over its first message */
    struct loop_share {
        struct loop_job *next; /* the lane's next job */
        size_t n;
        dbev_request_t **reqs;
        adapter_outcome_t *outs;
        size_t *index; /* into the job's reqs and outs */
    } share[LOOP_MAX_LANES];
    int shares_left; /* lanes that have not run their share yet */
    uint64_t seq;    /* submission number */
    bool whole;      /* not split: every request on lane 0 */
    bool barrier;    /* split unlike the job before: no lane starts it before every
                        earlier job is done, or a partition's requests could pass
                        each other between lanes */
    bool dropped;    /* workers_stop(): on its list of jobs to free */
} loop_job_t;

static void job_free(loop_job_t *job)
{
    if (!job)
        return;
    for (size_t i = 0; i < job->n; i++) {
        if (job->slot)
            dbev_request_destroy(job->slot[i]);
        if (job->invalid)
            json_decref(job->invalid[i]);
        if (job->outs)
            json_decref(job->outs[i].payload);
    }
    if (job->offsets)
        rd_kafka_topic_partition_list_destroy(job->offsets);
    free(job->slot);
    free(job->reqs);
    free(job->outs);
    free(job->partition);
    for (int l = 0; l < LOOP_MAX_LANES; l++) {
        free(job->share[l].reqs);
        free(job->share[l].outs);
        free(job->share[l].index);
    }
    free(job->invalid);
    free(job->ids);
    free(job);
}

/* Decodes n messages into a job (the messages are destroyed). NULL when out of memory. */
static loop_job_t *job_new(dbev_adapter_t *adapter, rd_kafka_message_t **msgs, size_t n)
{
    loop_job_t *job = calloc(1, sizeof(*job));
    if (job) {
        job->n = n;
        job->slot = calloc(n, sizeof(*job->slot));
        job->reqs = calloc(n, sizeof(*job->reqs));
        job->outs = calloc(n, sizeof(*job->outs));
        job->invalid = calloc(n, sizeof(*job->invalid));
        job->ids = calloc(n, DBEV_ID_SIZE);
        job->partition = calloc(n, sizeof(*job->partition));
        job->offsets = rd_kafka_topic_partition_list_new(4);
    }
    if (!job || !job->slot || !job->reqs || !job->outs || !job->invalid || !job->ids ||
        !job->partition) {
        job_free(job);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *msg = msgs[i];
        dbev_decode_error_t derr;
        memset(&derr, 0, sizeof(derr));
        derr.op = -1;
        atomic_fetch_add(&adapter->consumed, 1);
        if (dbev_request_decode(msg->payload ? msg->payload : "", msg->payload ? msg->len : 0,
                                &job->slot[i], &derr) == 0 &&
            job->slot[i]) {
            job->partition[job->nreq] = msg->partition;
            job->reqs[job->nreq++] = job->slot[i];
            snprintf(job->ids[i], DBEV_ID_SIZE, "%s", job->slot[i]->correlation_id);
        } else {
            job->slot[i] = NULL;
            atomic_fetch_add(&adapter->invalid, 1);
            if (derr.correlation_id[0])
                snprintf(job->ids[i], DBEV_ID_SIZE, "%s", derr.correlation_id);
            else if (!key_as_id(msg, job->ids[i], DBEV_ID_SIZE))
                job->ids[i][0] = '\0';
            dbev_logf(&adapter->logger, DBEV_LOG_WARN, job->ids[i][0] ? job->ids[i] : NULL,
                      "refused request at %s [%" PRId32 "] offset %" PRId64 ": %s",
                      rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset, derr.message);
            job->invalid[i] = invalid_payload(adapter, msg, &derr);
        }
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
            job->offsets, rd_kafka_topic_name(msg->rkt), msg->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(job->offsets, rd_kafka_topic_name(msg->rkt),
                                                  msg->partition);
        if (msg->offset + 1 > p->offset)
            p->offset = msg->offset + 1;
        rd_kafka_message_destroy(msg);
    }
    return job;
}

/* The lane of a job's r-th decoded request. */
static int lane_of(const loop_job_t *job, size_t r, int nlanes)
{
    return job->whole ? 0 : job->partition[r] % nlanes;
}

/* Splits the decoded requests of a job into the lanes' shares (a small job:
 * all on lane 0). -1 when out of memory. */
static int job_split(loop_job_t *job, int nlanes)
{
    job->whole = job->nreq < LOOP_SPLIT_MIN;
    for (size_t r = 0; r < job->nreq; r++)
        job->share[lane_of(job, r, nlanes)].n++;
    for (int l = 0; l < nlanes; l++) {
        struct loop_share *sh = &job->share[l];
        if (!sh->n)
            continue;
        sh->reqs = calloc(sh->n, sizeof(*sh->reqs));
        sh->outs = calloc(sh->n, sizeof(*sh->outs));
        sh->index = calloc(sh->n, sizeof(*sh->index));
        if (!sh->reqs || !sh->outs || !sh->index)
            return -1;
        sh->n = 0;
    }
    for (size_t r = 0; r < job->nreq; r++) {
        struct loop_share *sh = &job->share[lane_of(job, r, nlanes)];
        sh->index[sh->n] = r;
        sh->reqs[sh->n++] = job->reqs[r];
    }
    job->shares_left = nlanes;
    return 0;
}

/* Produces the responses of an executed job, in consumption order, and queues
 * its offsets to be committed once they are all acknowledged. Frees the job. */
static void job_publish(dbev_adapter_t *adapter, loop_job_t *job)
{
    loop_batch_t *batch = calloc(1, sizeof(*batch));
    if (batch)
        batch->kind = OPAQUE_BATCH;
    if (!batch) {
        /* Nothing can be answered: stop uncommitted, to be redelivered. */
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "out of memory answering %zu requests",
                  job->n);
        atomic_store(&adapter->fatal, true);
        job_free(job);
        return;
    }
    batch->offsets = job->offsets;
    job->offsets = NULL;
    for (size_t i = 0, r = 0; i < job->n; i++) {
        const char *cid = job->ids[i][0] ? job->ids[i] : NULL;
        if (job->slot[i]) {
            adapter_outcome_t *o = &job->outs[r++];
            dbev_logf(&adapter->logger, DBEV_LOG_DEBUG, cid, "%s %s",
                      dbev_op_name(job->slot[i]->op.type), o->completed ? "completed" : "failed");
            if (!o->payload) { /* the executor broke its contract: answer anyway */
                o->payload = dbev_failed_payload_new(
                    job->slot[i]->op.type, DBEV_ERR_DATABASE_OPERATION_FAILED,
                    "the adapter produced no outcome for this request", "InternalError", NULL,
                    adapter_exec_breaker_state(adapter->exec), NULL);
                o->completed = false;
            }
            respond(adapter, batch, o->completed, cid, o->payload, job->consumed_us, o);
            o->payload = NULL;
        } else {
            respond(adapter, batch, false, cid, job->invalid[i], job->consumed_us, NULL);
            job->invalid[i] = NULL;
        }
    }
    atomic_fetch_add(&adapter->batches, 1);
    if (adapter->tail)
        adapter->tail->next = batch;
    else
        adapter->head = batch;
    adapter->tail = batch;
    job_free(job);
}

/* An executor lane: runs its share of each queued job, one job at a time, in order. */
static void *exec_worker(void *arg)
{
    struct loop_lane *lane = arg;
    dbev_adapter_t *adapter = lane->adapter;
    int l = lane->index;
    pthread_setname_np(pthread_self(), "dbev-exec");
    pthread_mutex_lock(&adapter->jobs_lock);
    for (;;) {
        while ((!lane->todo_head ||
                (lane->todo_head->barrier && adapter->jobs_done < lane->todo_head->seq)) &&
               !adapter->worker_quit)
            pthread_cond_wait(&adapter->todo_cond, &adapter->jobs_lock);
        if (adapter->worker_quit)
            break;
        loop_job_t *job = lane->todo_head;
        struct loop_share *sh = &job->share[l];
        lane->todo_head = sh->next;
        if (!lane->todo_head)
            lane->todo_tail = NULL;
        pthread_mutex_unlock(&adapter->jobs_lock);
        sh->next = NULL;
        if (sh->n && atomic_load(&adapter->stop) != STOP_ABORT) {
            adapter_exec_batch(lane->exec, sh->reqs, sh->n, sh->outs);
            for (size_t i = 0; i < sh->n; i++)
                job->outs[sh->index[i]] = sh->outs[i];
        }
        pthread_mutex_lock(&adapter->jobs_lock);
        /* Each lane takes jobs in order, and a barrier waits for all before
         * it, so they finish in order. */
        if (--job->shares_left == 0) {
            adapter->jobs_done++;
            pthread_cond_broadcast(&adapter->todo_cond); /* a barrier may be passed now */
            if (adapter->done_tail)
                adapter->done_tail->next = job;
            else
                adapter->done_head = job;
            adapter->done_tail = job;
            pthread_cond_signal(&adapter->done_cond);
            /* The loop thread may be waiting in the consumer poll: wake it
             * to publish now, not when its poll times out (up to 1 ms of
             * every answer's service time otherwise). */
            rd_kafka_queue_yield(adapter->consumer_q);
        }
    }
    pthread_mutex_unlock(&adapter->jobs_lock);
    return NULL;
}

static void job_submit(dbev_adapter_t *adapter, loop_job_t *job)
{
    job->seq = adapter->jobs_submitted++;
    job->barrier = job->seq > 0 && job->whole != adapter->last_whole;
    adapter->last_whole = job->whole;
    pthread_mutex_lock(&adapter->jobs_lock);
    for (int l = 0; l < adapter->nlanes; l++) {
        struct loop_lane *lane = &adapter->lanes[l];
        if (lane->todo_tail)
            lane->todo_tail->share[l].next = job;
        else
            lane->todo_head = job;
        lane->todo_tail = job;
    }
    pthread_cond_broadcast(&adapter->todo_cond);
    pthread_mutex_unlock(&adapter->jobs_lock);
    adapter->jobs_outstanding++;
}

/* Publishes the executed jobs, waiting up to timeout_ms for one if none is
 * ready. After an abort, executed jobs are dropped unanswered. */
static void jobs_collect(dbev_adapter_t *adapter, int timeout_ms)
{
    pthread_mutex_lock(&adapter->jobs_lock);
    if (!adapter->done_head && timeout_ms > 0 && adapter->jobs_outstanding > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)timeout_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&adapter->done_cond, &adapter->jobs_lock, &ts);
    }
    loop_job_t *job = adapter->done_head;
    adapter->done_head = adapter->done_tail = NULL;
    pthread_mutex_unlock(&adapter->jobs_lock);
    while (job) {
        loop_job_t *next = job->next;
        adapter->jobs_outstanding--;
        if (atomic_load(&adapter->stop) == STOP_ABORT || atomic_load(&adapter->fatal))
            job_free(job);
        else
            job_publish(adapter, job);
        job = next;
    }
}

/* Waits for every submitted job to be executed and published. */
static void jobs_finish(dbev_adapter_t *adapter)
{
    while (adapter->jobs_outstanding > 0) {
        jobs_collect(adapter, 50);
        serve_deliveries(adapter, 0);
    }
}

/* Polls the consumer: waits up to timeout_ms for the first message, then
 * takes what is already fetched, up to max. *first_us: when the poll handed
 * over the first message (the batch's consumption time). */
static size_t gather(dbev_adapter_t *adapter, rd_kafka_message_t **msgs, size_t max, int timeout_ms,
                     int64_t *first_us)
{
    size_t n = 0;
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(adapter->consumer, timeout_ms);
    *first_us = msg ? dbev_mono_us() : 0;
    while (msg) {
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL, "consumer: %s",
                          rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
        } else {
            msgs[n++] = msg;
        }
        if (n >= max || atomic_load(&adapter->stop))
            break;
        msg = rd_kafka_consumer_poll(adapter->consumer, 0);
    }
    return n;
}

static void publish_event(dbev_adapter_t *adapter, int topic, json_t *event, void *opaque)
{
    char *text = event ? dbev_event_dumps(event) : NULL;
    json_decref(event);
    if (text)
        produce(adapter, adapter->rkt[topic], adapter->instance_id, text, strlen(text),
                RD_KAFKA_MSG_F_FREE, opaque);
}

static void heartbeat(dbev_adapter_t *adapter)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(adapter, &stats);
    publish_event(adapter, T_HEARTBEAT,
                  registry_heartbeat(&adapter->reg, adapter_exec_health(adapter->exec), &stats),
                  NULL);
    atomic_fetch_add(&adapter->heartbeats, 1);
}

static void workers_stop(dbev_adapter_t *adapter);

static int workers_start(dbev_adapter_t *adapter)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (int l = 0; l < adapter->nlanes && !rc; l++) {
        struct loop_lane *lane = &adapter->lanes[l];
        rc = pthread_create(&lane->thread, NULL, exec_worker, lane);
        lane->started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "cannot start the executor threads: %s",
                  strerror(rc));
        workers_stop(adapter);
    }
    return rc ? -1 : 0;
}

/* Stops the executor lanes (after the share in hand) and drops what they did
 * not finish or the loop did not publish. */
static void workers_stop(dbev_adapter_t *adapter)
{
    pthread_mutex_lock(&adapter->jobs_lock);
    adapter->worker_quit = true;
    pthread_cond_broadcast(&adapter->todo_cond);
    pthread_mutex_unlock(&adapter->jobs_lock);
    for (int l = 0; l < adapter->nlanes; l++)
        if (adapter->lanes[l].started) {
            pthread_join(adapter->lanes[l].thread, NULL);
            adapter->lanes[l].started = false;
        }
    /* A job not done is on the queue of every lane that has not run its
     * share: free each once. */
    loop_job_t *unfinished = NULL;
    for (int l = 0; l < adapter->nlanes; l++) {
        for (loop_job_t *j = adapter->lanes[l].todo_head; j; j = j->share[l].next)
            if (!j->dropped) {
                j->dropped = true;
                j->next = unfinished;
                unfinished = j;
            }
        adapter->lanes[l].todo_head = adapter->lanes[l].todo_tail = NULL;
    }
    while (unfinished) {
        loop_job_t *next = unfinished->next;
        job_free(unfinished);
        unfinished = next;
    }
    while (adapter->done_head) {
        loop_job_t *next = adapter->done_head->next;
        job_free(adapter->done_head);
        adapter->done_head = next;
    }
    adapter->done_tail = NULL;
    adapter->jobs_outstanding = 0;
}

int dbev_adapter_run(dbev_adapter_t *adapter)
{
    if (adapter->in_run)
        return -1;
    adapter->in_run = true;
    atomic_store(&adapter->running, true);
    rd_kafka_message_t **msgs = calloc(adapter->batch_max, sizeof(*msgs));
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, adapter->topics[T_REQUESTED], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(adapter->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (!msgs || err) {
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "cannot subscribe to %s: %s",
                  adapter->topics[T_REQUESTED], rd_kafka_err2str(err));
        free(msgs);
        atomic_store(&adapter->running, false);
        return -1;
    }
    adapter->cooperative = !strcmp(rd_kafka_rebalance_protocol(adapter->consumer), "COOPERATIVE");
    dbev_logf(&adapter->logger, DBEV_LOG_INFO, adapter->instance_id,
              "dbev-adapter %s started: consuming %s as group %s", dbev_adapter_version(),
              adapter->topics[T_REQUESTED], adapter->group_id);
    if (workers_start(adapter)) {
        free(msgs);
        rd_kafka_consumer_close(adapter->consumer);
        atomic_store(&adapter->running, false);
        return -1;
    }
    publish_event(adapter, T_REGISTRY, registry_announcement(&adapter->reg, "up"),
                  &adapter->reg_sentinel);
    int64_t next_heartbeat = dbev_mono_us();

    while (!atomic_load(&adapter->stop) && !atomic_load(&adapter->fatal)) {
        int64_t now = dbev_mono_us();
        if (now >= next_heartbeat) {
            heartbeat(adapter);
            next_heartbeat = now + adapter->heartbeat_ms * 1000;
        }
        serve_deliveries(adapter, 0);
        jobs_collect(adapter, 0);
        commit_ready(adapter, false);
        if (atomic_load(&adapter->in_flight) >= adapter->inflight_max) {
            serve_deliveries(adapter, 10);
            continue;
        }
        if (adapter->jobs_outstanding >= LOOP_MAX_JOBS) {
            /* the lanes have enough in hand: wait for the first job to finish */
            jobs_collect(adapter, 5);
            continue;
        }
        int timeout = atomic_load(&adapter->in_flight) > 0 || adapter->jobs_outstanding ? 1 : 100;
        int64_t to_hb = (next_heartbeat - now) / 1000;
        if (to_hb < timeout)
            timeout = to_hb < 0 ? 0 : (int)to_hb;
        int64_t consumed_us;
        size_t n = gather(adapter, msgs, adapter->batch_max, timeout, &consumed_us);
        if (n) {
            loop_job_t *job = job_new(adapter, msgs, n);
            if (job)
                job->consumed_us = consumed_us;
            if (job && job_split(job, adapter->nlanes)) {
                job_free(job);
                job = NULL;
            }
            if (!job) {
                dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL,
                          "out of memory for a batch of %zu: stopping uncommitted", n);
                atomic_store(&adapter->fatal, true);
                break;
            }
            job_submit(adapter, job);
        }
    }

    int stop = atomic_load(&adapter->stop);
    bool fatal = atomic_load(&adapter->fatal);
    /* What the executor was given is answered on a graceful stop, dropped otherwise. */
    if (stop != STOP_ABORT && !fatal)
        jobs_finish(adapter);
    workers_stop(adapter);
    if (stop == STOP_ABORT) {
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, adapter->instance_id,
                  "aborting: %" PRId64 " unacknowledged responses purged, nothing committed",
                  (int64_t)atomic_load(&adapter->in_flight));
        rd_kafka_purge(adapter->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        serve_deliveries(adapter, 0);
    } else if (!fatal) {
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, adapter->instance_id,
                  "stopping: waiting for %" PRId64 " responses to be acknowledged",
                  (int64_t)atomic_load(&adapter->in_flight));
        drain(adapter, adapter->shutdown_timeout_ms);
        commit_ready(adapter, true);
        publish_event(adapter, T_REGISTRY, registry_announcement(&adapter->reg, "down"), NULL);
        rd_kafka_flush(adapter->producer, 2000);
    }
    /* Leaves the group; the revoke callback commits what is left (not after an abort). */
    rd_kafka_consumer_close(adapter->consumer);
    free(msgs);
    fatal = atomic_load(&adapter->fatal);
    dbev_logf(&adapter->logger, fatal ? DBEV_LOG_ERROR : DBEV_LOG_INFO, adapter->instance_id,
              "stopped%s: consumed %" PRIu64 ", completed %" PRIu64 ", failed %" PRIu64
              ", invalid %" PRIu64,
              fatal ? " on a fatal error" : "", (uint64_t)atomic_load(&adapter->consumed),
              (uint64_t)atomic_load(&adapter->completed), (uint64_t)atomic_load(&adapter->failed),
              (uint64_t)atomic_load(&adapter->invalid));
    atomic_store(&adapter->running, false);
    return fatal ? -1 : 0;
}

/* --- construction --- */

static rd_kafka_conf_t *kafka_conf(dbev_adapter_t *adapter, bool consumer, char *errstr,
                                   size_t size)
{
    rd_kafka_conf_t *kconf = rd_kafka_conf_new();
    char client_id[128];
    snprintf(client_id, sizeof(client_id), "dbev-adapter-%s-%.8s", consumer ? "c" : "p",
             adapter->instance_id);
    struct {
        const char *k, *v;
    } base[] = {
        {"bootstrap.servers", aconf_value(adapter->conf, "bootstrap.servers")},
        {"client.id", client_id},
        /* defaults the operator may override with kafka.* (docs/latency.md):
         * a real broker answers a fetch when data arrives, so the fetch
         * wait only paces idle fetches (librdkafka's 500 ms would also hold
         * every answer that long on a broker that waits, as the mock does);
         * Nagle off, or a small request may wait for a delayed ACK */
        {consumer ? "auto.offset.reset" : "linger.ms", consumer ? "earliest" : "1"},
        {"socket.nagle.disable", "true"},
        {"reconnect.backoff.ms", "100"},
    };
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        if (rd_kafka_conf_set(kconf, base[i].k, base[i].v, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    if (consumer && rd_kafka_conf_set(kconf, "fetch.wait.max.ms", "10", errstr, size))
        goto fail;
    /* Explicit, so response.max.bytes can be checked against it (aconf_validate). */
    if (!consumer) {
        char mmb[32];
        snprintf(mmb, sizeof(mmb), "%d", ACONF_MESSAGE_MAX_BYTES);
        if (rd_kafka_conf_set(kconf, "message.max.bytes", mmb, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    const char *key, *value;
    for (size_t i = 0; aconf_passthrough(adapter->conf, i, &key, &value); i++) {
        if (strncmp(key, "kafka.", 6))
            continue;
        const char *name = key + 6;
        if (!strncmp(name, "consumer.", 9)) {
            if (!consumer)
                continue;
            name += 9;
        } else if (!strncmp(name, "producer.", 9)) {
            if (consumer)
                continue;
            name += 9;
        }
        if (rd_kafka_conf_set(kconf, name, value, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    /* The delivery guarantees: last, so nothing overrides them. */
    if (consumer) {
        if (rd_kafka_conf_set(kconf, "group.id", adapter->group_id, errstr, size) ||
            rd_kafka_conf_set(kconf, "enable.auto.commit", "false", errstr, size) ||
            rd_kafka_conf_set(kconf, "enable.auto.offset.store", "false", errstr, size) ||
            rd_kafka_conf_set(kconf, "enable.partition.eof", "false", errstr, size))
            goto fail;
        rd_kafka_conf_set_rebalance_cb(kconf, rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(kconf, commit_cb);
    } else {
        if (rd_kafka_conf_set(kconf, "enable.idempotence", "true", errstr, size) ||
            rd_kafka_conf_set(kconf, "acks", "all", errstr, size))
            goto fail;
        rd_kafka_conf_set_dr_msg_cb(kconf, dr_msg_cb);
    }
    rd_kafka_conf_set_opaque(kconf, adapter);
    rd_kafka_conf_set_log_cb(kconf, log_cb);
    rd_kafka_conf_set_error_cb(kconf, error_cb);
    return kconf;
fail:
    rd_kafka_conf_destroy(kconf);
    return NULL;
}

static void adapter_free(dbev_adapter_t *adapter)
{
    if (adapter->producer) {
        rd_kafka_purge(adapter->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(adapter->producer, 0);
    }
    for (int t = 0; t < T_COUNT; t++)
        if (adapter->rkt[t])
            rd_kafka_topic_destroy(adapter->rkt[t]);
    if (adapter->producer)
        rd_kafka_destroy(adapter->producer);
    if (adapter->consumer_q)
        rd_kafka_queue_destroy(adapter->consumer_q);
    if (adapter->consumer) {
        if (!adapter->in_run)
            rd_kafka_consumer_close(adapter->consumer);
        rd_kafka_destroy(adapter->consumer);
    }
    while (adapter->retries) {
        loop_retry_t *next = adapter->retries->next;
        retry_free(adapter->retries);
        adapter->retries = next;
    }
    while (adapter->head) {
        loop_batch_t *next = adapter->head->next;
        batch_free(adapter->head);
        adapter->head = next;
    }
    if (adapter->done)
        rd_kafka_topic_partition_list_destroy(adapter->done);
    for (int l = 1; l < adapter->nlanes; l++)
        adapter_exec_destroy(adapter->lanes[l].exec);
    adapter_exec_destroy(adapter->exec);
    pthread_mutex_destroy(&adapter->jobs_lock);
    pthread_cond_destroy(&adapter->todo_cond);
    pthread_cond_destroy(&adapter->done_cond);
    aconf_strv_free(adapter->allowlist);
    free(adapter->conninfo);
    free(adapter);
}

dbev_adapter_t *dbev_adapter_new(dbev_adapter_conf_t *conf, char *errstr, size_t size)
{
    if (!conf) {
        dbev_seterr(errstr, size, "no configuration");
        return NULL;
    }
    if (aconf_validate(conf, errstr, size))
        return NULL;
    dbev_adapter_t *adapter = calloc(1, sizeof(*adapter));
    if (!adapter) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    adapter->conf = conf;
    dbev_log_cb *cb;
    void *opaque;
    aconf_log_sink(conf, &cb, &opaque);
    adapter->logger.cb = cb;
    adapter->logger.opaque = opaque;
    adapter->logger.level = (dbev_log_level_t)dbev_log_level_parse(aconf_value(conf, "log.level"));
    adapter->logger.component = "adapter";
    adapter->batch_max = (size_t)aconf_int(conf, "batch.max");
    adapter->inflight_max = aconf_int(conf, "inflight.max");
    adapter->heartbeat_ms = aconf_int(conf, "heartbeat.interval.ms");
    adapter->shutdown_timeout_ms = aconf_int(conf, "shutdown.timeout.ms");
    adapter->message_max_bytes = aconf_producer_message_max_bytes(conf);
    adapter->done = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_init(&adapter->jobs_lock, NULL);
    pthread_cond_init(&adapter->todo_cond, NULL);
    pthread_cond_init(&adapter->done_cond, NULL);

    const char *iid = aconf_value(conf, "instance.id");
    if (*iid)
        snprintf(adapter->instance_id, sizeof(adapter->instance_id), "%s", iid);
    else
        dbev_uuid_new(adapter->instance_id);
    snprintf(adapter->group_id, sizeof(adapter->group_id), "%s", aconf_value(conf, "group.id"));
    static const dbev_topic_t kinds[T_COUNT] = {DBEV_TOPIC_REQUESTED, DBEV_TOPIC_COMPLETED,
                                                DBEV_TOPIC_FAILED, DBEV_TOPIC_REGISTRY,
                                                DBEV_TOPIC_HEARTBEAT};
    for (int t = 0; t < T_COUNT; t++) {
        dbev_topic_name(aconf_value(conf, "topic.prefix"), kinds[t], adapter->topics[t],
                        sizeof(adapter->topics[t]));
        adapter->reg.topics[t] = adapter->topics[t];
    }
    adapter->reg.instance_id = adapter->instance_id;
    adapter->reg.group_id = adapter->group_id;
    adapter->reg.started_us = dbev_wall_us();
    adapter->reg.heartbeat_interval_ms = adapter->heartbeat_ms;

    char kerr[512];
    rd_kafka_conf_t *pconf = kafka_conf(adapter, false, kerr, sizeof(kerr));
    if (!pconf ||
        !(adapter->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, kerr, sizeof(kerr)))) {
        if (pconf)
            rd_kafka_conf_destroy(pconf);
        dbev_seterr(errstr, size, "Kafka producer: %s", kerr);
        goto fail;
    }
    for (int t = T_COMPLETED; t < T_COUNT; t++)
        adapter->rkt[t] = rd_kafka_topic_new(adapter->producer, adapter->topics[t], NULL);
    rd_kafka_conf_t *cconf = kafka_conf(adapter, true, kerr, sizeof(kerr));
    if (!cconf ||
        !(adapter->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, kerr, sizeof(kerr)))) {
        if (cconf)
            rd_kafka_conf_destroy(cconf);
        dbev_seterr(errstr, size, "Kafka consumer: %s", kerr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(adapter->consumer);
    adapter->consumer_q = rd_kafka_queue_get_consumer(adapter->consumer);

    if (!(adapter->conninfo = aconf_conninfo(conf, errstr, size)))
        goto fail;
    adapter->allowlist = aconf_strv(aconf_value(conf, "tables.allowlist"));
    adapter_exec_conf_t econf = {
        .conninfo = adapter->conninfo,
        .pool_min = (int)aconf_int(conf, "pool.min"),
        .pool_max = (int)aconf_int(conf, "pool.max"),
        .max_conn_age_ms = aconf_int(conf, "pool.max.age.ms"),
        .pool_max_queries = aconf_int(conf, "pool.max.queries"),
        .pool_idle_timeout_ms = aconf_int(conf, "pool.idle.timeout.ms"),
        .pool_connect_timeout_ms = aconf_int(conf, "pool.connect.timeout.ms"),
        .pool_command_timeout_ms = aconf_int(conf, "pool.command.timeout.ms"),
        .saturation_pct = (double)aconf_int(conf, "health.saturation.pct"),
        .breaker_failure_threshold = (int)aconf_int(conf, "breaker.failure.threshold"),
        .breaker_recovery_ms = aconf_int(conf, "breaker.recovery.timeout.ms"),
        .breaker_success_threshold = (int)aconf_int(conf, "breaker.success.threshold"),
        .default_timeout_ms = aconf_int(conf, "request.timeout.default.ms"),
        .response_max_bytes = aconf_int(conf, "response.max.bytes"),
        .table_allowlist = (const char *const *)adapter->allowlist,
        .dedupe_retention_ms = aconf_int(conf, "dedupe.retention.ms"),
        .refuse_superuser = !aconf_bool(conf, "pg.allow.superuser"),
        .logger = &adapter->logger,
    };
    char eerr[512];
    if (!(adapter->exec = adapter_exec_new(&econf, eerr, sizeof(eerr)))) {
        dbev_seterr(errstr, size, "executor: %s", eerr);
        goto fail;
    }
    adapter->nlanes = (int)aconf_int(conf, "exec.lanes");
    for (int l = 0; l < adapter->nlanes; l++) {
        struct loop_lane *lane = &adapter->lanes[l];
        lane->adapter = adapter;
        lane->index = l;
        lane->exec =
            l == 0 ? adapter->exec : adapter_exec_new_lane(adapter->exec, eerr, sizeof(eerr));
        if (!lane->exec) {
            dbev_seterr(errstr, size, "executor lane %d: %s", l, eerr);
            goto fail;
        }
    }

    /* One line with the effective configuration, secrets masked. */
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *fp = open_memstream(&dump, &dump_len);
    if (fp) {
        dbev_adapter_conf_dump(conf, fp);
        fclose(fp);
        for (char *p = dump; p && *p; p++)
            if (*p == '\n')
                *p = ' ';
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, adapter->instance_id, "configuration: %s",
                  dump ? dump : "");
        free(dump);
    }
    return adapter;
fail:
    adapter->conf = NULL; /* stays the caller's on failure */
    adapter_free(adapter);
    return NULL;
}

static void *run_thread(void *arg)
{
    dbev_adapter_t *adapter = arg;
    pthread_setname_np(pthread_self(), "dbev-loop");
    adapter->run_rc = dbev_adapter_run(adapter);
    return NULL;
}

int dbev_adapter_start(dbev_adapter_t *adapter, char *errstr, size_t size)
{
    if (adapter->started || adapter->in_run)
        return dbev_seterr(errstr, size, "the adapter is already running");
    /* The loop thread must not take the process's signals (the daemon's
     * SIGTERM handling belongs to the thread that installed it). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* Running from here, not from when the new thread gets going: a caller
     * that asks right after the start must not see a dead adapter. */
    atomic_store(&adapter->running, true);
    int rc = pthread_create(&adapter->thread, NULL, run_thread, adapter);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        atomic_store(&adapter->running, false);
        return dbev_seterr(errstr, size, "cannot start the adapter thread: %s", strerror(rc));
    }
    adapter->started = true;
    return 0;
}

void dbev_adapter_stop(dbev_adapter_t *adapter)
{
    int expected = STOP_NONE;
    atomic_compare_exchange_strong(&adapter->stop, &expected, STOP_GRACEFUL);
}

void dbev_adapter_abort(dbev_adapter_t *adapter)
{
    atomic_store(&adapter->stop, STOP_ABORT);
}

int dbev_adapter_join(dbev_adapter_t *adapter)
{
    if (!adapter->started)
        return -1;
    if (!adapter->joined) {
        pthread_join(adapter->thread, NULL);
        adapter->joined = true;
    }
    return adapter->run_rc;
}

void dbev_adapter_destroy(dbev_adapter_t *adapter)
{
    if (!adapter)
        return;
    if (adapter->started) {
        dbev_adapter_stop(adapter);
        dbev_adapter_join(adapter);
    }
    dbev_adapter_conf_t *conf = adapter->conf;
    adapter_free(adapter);
    dbev_adapter_conf_destroy(conf);
}

void dbev_adapter_stats(dbev_adapter_t *adapter, dbev_adapter_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    stats->consumed = atomic_load(&adapter->consumed);
    stats->invalid = atomic_load(&adapter->invalid);
    stats->completed = atomic_load(&adapter->completed);
    stats->failed = atomic_load(&adapter->failed);
    stats->delivered = atomic_load(&adapter->delivered);
    stats->delivery_errors = atomic_load(&adapter->delivery_errors);
    stats->batches = atomic_load(&adapter->batches);
    stats->commits = atomic_load(&adapter->commits);
    stats->heartbeats = atomic_load(&adapter->heartbeats);
    stats->in_flight = atomic_load(&adapter->in_flight);
    stats->assigned = atomic_load(&adapter->assigned);
    stats->running = atomic_load(&adapter->running);
    stats->registered = atomic_load(&adapter->registered);
    stats->breaker_state = (int)adapter_exec_breaker_state(adapter->exec);
}

char *dbev_adapter_health_json(dbev_adapter_t *adapter)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(adapter, &stats);
    json_t *event = registry_heartbeat(&adapter->reg, adapter_exec_health(adapter->exec), &stats);
    json_t *payload = json_object_get(event, "payload");
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(event);
    return text;
}
