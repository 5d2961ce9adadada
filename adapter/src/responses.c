/*
 * Responses: each request's answer wrapped in an envelope with its timing
 * and produced, a job's in consumption order, counted pending on its batch
 * until the broker acknowledges it (delivery reports, served on the loop
 * thread). A failed delivery is produced again, never skipped; one the
 * same bytes cannot cure is replaced by a small failed answer.
 */
#include "loop_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A response failing with a per-message permanent error (too large, an
 * invalid record) is produced this many more times before it is replaced:
 * the broker's error may have been passing (test_delivery_failure_resent). */
#define LOOP_RESEND_MAX 2

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

void retry_free(loop_retry_t *r)
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

void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
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
void serve_deliveries(dbev_adapter_t *adapter, int timeout_ms)
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

/* Produces the responses of an executed job, in consumption order, and queues
 * its offsets to be committed once they are all acknowledged. Frees the job. */
void job_publish(dbev_adapter_t *adapter, loop_job_t *job)
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
