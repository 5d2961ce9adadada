/*
 * A job from consumed messages: each decoded into a request (protocol), or
 * answered VALIDATION_ERROR at once when it cannot be, with whatever ids
 * can be recovered; the offsets to commit once the job is answered. And a
 * job freed, whatever state it is in.
 */
#include "loop_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void job_free(loop_job_t *job)
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
loop_job_t *job_new(dbev_adapter_t *adapter, rd_kafka_message_t **msgs, size_t n)
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
