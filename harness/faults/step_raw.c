/*
 * The `raw:` step: publishes exactly the given bytes (sent as they are, may
 * be invalid JSON) or JSON value to a topic, bypassing the client, and
 * awaits the adapter's answer on the scenario's completed and failed topics:
 * bad input, hostile payloads and duplicate events, as the seeds' consumers
 * would produce them.
 *
 *   - raw:
 *       bytes: '{"event_type": "DATABASE_QUERY_REQUESTED", '   # or json: {...}
 *       key: bad-1                  # optional message key
 *       topic: requests             # requests/completed/failed or a full name
 *       count: 2                    # publish it N times (duplicates)
 *       expect_correlation_id: x    # which answer to await
 *       expect_no_answer: false     # true: assert nothing answers within the timeout
 *     expect: {error_code: VALIDATION_ERROR}
 *
 * The answer awaited carries expect_correlation_id, else the correlation_id
 * inside the JSON (json:, or bytes that parse), else the key; with none of
 * those a fresh UUID is sent as the key, since the adapter answers input it
 * cannot decode under the message key. The key defaults to that id, so the
 * copies of `count` land on one partition, in order.
 *
 * A dedicated consumer is assigned to every partition of the response topics
 * at their current end (high watermark, queried) before anything is
 * published, so the answer cannot be missed; a dedicated producer publishes.
 * Both live for the step only.
 */
#include "env/adapters.h"
#include "scenario/expect.h"
#include "faults/faults_int.h"
#include "env/kprofile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_DEFAULT_TIMEOUT_MS 10000
#define RAW_MAX_COUNT          10000
#define RAW_META_TIMEOUT_MS    5000
#define RAW_PUBLISH_TIMEOUT_MS 10000
#define RAW_OFFSETS_TIMEOUT_MS 2000

typedef struct raw_answer {
    json_t *outcome;
    int64_t at_us;
} raw_answer_t;

static void raw_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const dbev_logger_t *logger = rd_kafka_opaque(rk);
    (void)level;
    dbev_logf(logger, DBEV_LOG_DEBUG, NULL, "librdkafka %s: %s", fac, buf);
}

static void raw_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    int *errors = msg->_private;
    if (msg->err && errors)
        (*errors)++;
}

static rd_kafka_t *raw_client(runctx_t *ctx, rd_kafka_type_t type, int timeout_ms, char *errstr,
                              size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%d", timeout_ms < 1000 ? 1000 : timeout_ms);
    struct {
        const char *k, *v;
    } common[] =
        {
            {"bootstrap.servers", mockenv_bootstrap(ctx->kafka)},
            {"client.id", "dbev-harness-raw"},
            {"reconnect.backoff.ms", "100"},
        },
      producer[] =
          {
              {"acks", "all"},
              {"linger.ms", "0"},
              /* Oversized events are a scenario's point: let the broker judge them. */
              {"message.max.bytes", "67108864"},
              {"message.timeout.ms", timeout},
          },
      consumer[] = {
          {"group.id", "dbev-harness-raw"}, /* assign() only: never joins, never commits */
          {"enable.auto.commit", "false"},
          {"enable.partition.eof", "false"},
      };
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        if (rd_kafka_conf_set(conf, common[i].k, common[i].v, errstr, size) != RD_KAFKA_CONF_OK)
            goto fail;
    if (type == RD_KAFKA_PRODUCER) {
        for (size_t i = 0; i < sizeof(producer) / sizeof(producer[0]); i++)
            if (rd_kafka_conf_set(conf, producer[i].k, producer[i].v, errstr, size))
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(conf, raw_dr_cb);
    } else {
        for (size_t i = 0; i < sizeof(consumer) / sizeof(consumer[0]); i++)
            if (rd_kafka_conf_set(conf, consumer[i].k, consumer[i].v, errstr, size))
                goto fail;
        if (kprofile_apply(conf, mockenv_is_mock(ctx->kafka), KPROFILE_CONSUMER))
            goto fail;
    }
    rd_kafka_conf_set_opaque(conf, (void *)ctx->logger);
    rd_kafka_conf_set_log_cb(conf, raw_log_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, size);
    if (rk)
        return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Assigns every partition of the completed and failed topics at their
 * current end. A topic that does not exist yet starts at its beginning (the
 * first answer will create it). The ends come from one ListOffsets round
 * (offsets_for_times with "latest") bounded by a timeout, since the
 * per-partition watermark query waits without bound for a leader that is
 * down; a partition whose end is not known in time (its broker down) starts
 * at the logical end, which librdkafka resolves once the broker is back. */
static int raw_assign(runctx_t *ctx, rd_kafka_t *consumer, char *errstr, size_t size)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    rd_kafka_topic_partition_list_t *ends = rd_kafka_topic_partition_list_new(16);
    const dbev_topic_t topics[2] = {DBEV_TOPIC_COMPLETED, DBEV_TOPIC_FAILED};
    for (int t = 0; t < 2; t++) {
        char name[256];
        dbev_topic_name(faults_topic_env(ctx), topics[t], name, sizeof(name));
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(consumer, name, NULL);
        const rd_kafka_metadata_t *md = NULL;
        int partitions = 0;
        if (rkt && rd_kafka_metadata(consumer, 0, rkt, &md, RAW_META_TIMEOUT_MS) == 0 && md &&
            md->topic_cnt == 1 && !md->topics[0].err)
            partitions = md->topics[0].partition_cnt;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
        if (partitions <= 0) {
            int n = mockenv_partitions(ctx->kafka);
            for (int p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(parts, name, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
            continue;
        }
        for (int p = 0; p < partitions; p++)
            rd_kafka_topic_partition_list_add(ends, name, p)->offset = RD_KAFKA_OFFSET_END;
    }
    if (ends->cnt) {
        rd_kafka_resp_err_t err =
            rd_kafka_offsets_for_times(consumer, ends, RAW_OFFSETS_TIMEOUT_MS);
        for (int i = 0; i < ends->cnt; i++) {
            rd_kafka_topic_partition_t *e = &ends->elems[i];
            bool known = !e->err && e->offset >= 0; /* err: some, maybe not all, unknown */
            if (!known)
                dbev_logf(ctx->logger, DBEV_LOG_WARN, NULL,
                          "raw: end of %s [%d] unknown (%s): reading from its logical end",
                          e->topic, (int)e->partition, rd_kafka_err2str(err ? err : e->err));
            rd_kafka_topic_partition_list_add(parts, e->topic, e->partition)->offset =
                known ? e->offset : RD_KAFKA_OFFSET_END;
        }
    }
    rd_kafka_topic_partition_list_destroy(ends);
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err)
        return dbev_seterr(errstr, size, "assign the response topics: %s", rd_kafka_err2str(err));
    return 0;
}

/* The outcome (expect.h) of an answer event. */
static json_t *raw_outcome(const rd_kafka_message_t *msg, const char *cid, bool on_completed)
{
    dbev_response_t *r = NULL;
    char err[256];
    json_t *o = json_object();
    json_object_set_new(o, "correlation_id", json_string(cid));
    json_object_set_new(o, "topic", json_string(on_completed ? "completed" : "failed"));
    if (dbev_response_decode(msg->payload, msg->len, &r, err, sizeof(err)) != 0) {
        json_object_set_new(o, "ok", json_false());
        json_object_set_new(o, "error_code", json_string("_BAD_RESPONSE"));
        json_object_set_new(o, "message", json_string(err));
        json_object_set_new(o, "sqlstate", json_null());
        json_object_set_new(o, "metadata", json_object());
        return o;
    }
    json_object_set_new(o, "ok", json_boolean(r->completed));
    if (r->completed) {
        json_object_set(o, "rows", r->rows ? r->rows : json_array());
        json_object_set_new(o, "row_count", json_integer(r->row_count));
        json_object_set_new(o, "execution_time_ms", json_real(r->execution_time_ms));
        if (r->results)
            json_object_set(o, "results", r->results);
    } else {
        json_object_set_new(o, "error_code", json_string(dbev_err2name(r->error_code)));
        json_object_set_new(o, "message", json_string(r->error_message ? r->error_message : ""));
        json_object_set_new(o, "error_type", json_string(r->error_type ? r->error_type : ""));
        json_object_set_new(o, "sqlstate", r->sqlstate ? json_string(r->sqlstate) : json_null());
    }
    json_object_set(o, "metadata", r->metadata ? r->metadata : json_object());
    json_object_set_new(o, "cached", json_boolean(r->cached));
    dbev_response_destroy(r);
    return o;
}

/* Decodes every \xNN of buf in place (bytes: with escapes: true), so a
 * scenario can send what YAML and JSON cannot hold: invalid UTF-8, a NUL.
 * Returns the new length, or -1 at a \x not followed by two hex digits. */
static long raw_unescape(char *buf, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\\' || i + 1 >= len || buf[i + 1] != 'x') {
            buf[out++] = buf[i];
            continue;
        }
        if (i + 3 >= len || !isxdigit((unsigned char)buf[i + 2]) ||
            !isxdigit((unsigned char)buf[i + 3]))
            return -1;
        char hex[3] = {buf[i + 2], buf[i + 3], '\0'};
        buf[out++] = (char)strtol(hex, NULL, 16);
        i += 3;
    }
    buf[out] = '\0';
    return (long)out;
}

/* The correlation id of an event's text, when it parses. */
static const char *raw_text_cid(const void *buf, size_t len, char *out, size_t size)
{
    json_t *doc = json_loadb(buf, len, 0, NULL);
    const char *cid = json_string_value(json_object_get(doc, "correlation_id"));
    if (cid)
        snprintf(out, size, "%s", cid);
    json_decref(doc);
    return cid ? out : NULL;
}

typedef struct raw_req {
    char *payload;
    size_t len;
    char topic[256];
    char key[256];
    char cid[256];
    int64_t count;
    bool no_answer;
    const json_t *expect;
    int timeout_ms;
} raw_req_t;

static int raw_parse(runctx_t *ctx, const step_t *step, const json_t *body, raw_req_t *rq,
                     step_result_t *res)
{
    char err[512];
    const json_t *bytes = json_object_get(body, "bytes"), *js = json_object_get(body, "json");
    if (bytes && js)
        return step_fail(res, DBEV_REPORT_ERROR, "raw: give bytes or json, not both");
    if (bytes) {
        if (!json_is_string(bytes))
            return step_fail(res, DBEV_REPORT_ERROR,
                             "raw: bytes must be text (sent as it is); use json: for a "
                             "value");
        rq->len = json_string_length(bytes);
        rq->payload = malloc(rq->len + 1);
        if (rq->payload)
            memcpy(rq->payload, json_string_value(bytes), rq->len + 1);
    } else {
        rq->payload = json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT);
        rq->len = rq->payload ? strlen(rq->payload) : 0;
    }
    if (!rq->payload)
        return step_fail(res, DBEV_REPORT_ERROR, "raw: out of memory");
    const json_t *escapes = json_object_get(body, "escapes");
    if (escapes && (!json_is_boolean(escapes) || (json_is_true(escapes) && !bytes)))
        return step_fail(res, DBEV_REPORT_ERROR,
                         "raw: escapes is true or false, and only with bytes:");
    if (json_is_true(escapes)) {
        long n = raw_unescape(rq->payload, rq->len);
        if (n < 0)
            return step_fail(res, DBEV_REPORT_ERROR,
                             "raw: with escapes: true, write a byte as \\xNN (two hex "
                             "digits)");
        rq->len = (size_t)n;
    }
    const json_t *topic = json_object_get(body, "topic");
    if (topic && !json_is_string(topic))
        return step_fail(res, DBEV_REPORT_ERROR,
                         "raw: topic must be requests, completed, failed or a full name");
    faults_topic_name(ctx, topic ? json_string_value(topic) : "requests", rq->topic,
                      sizeof(rq->topic));
    if (faults_param_int(body, "count", 1, 1, RAW_MAX_COUNT, &rq->count, err, sizeof(err)))
        return step_fail(res, DBEV_REPORT_ERROR, "raw: %s", err);
    const json_t *no_answer = json_object_get(body, "expect_no_answer");
    if (no_answer && !json_is_boolean(no_answer))
        return step_fail(res, DBEV_REPORT_ERROR,
                         "raw: expect_no_answer must be true or "
                         "false");
    rq->no_answer = json_is_true(no_answer);
    const json_t *key = json_object_get(body, "key");
    if (key && !json_is_string(key))
        return step_fail(res, DBEV_REPORT_ERROR, "raw: key must be text");
    const json_t *want = json_object_get(body, "expect_correlation_id");
    if (want && !json_is_string(want))
        return step_fail(res, DBEV_REPORT_ERROR,
                         "raw: expect_correlation_id must be "
                         "text");
    if (want)
        snprintf(rq->cid, sizeof(rq->cid), "%s", json_string_value(want));
    else if (js && json_is_string(json_object_get(js, "correlation_id")))
        snprintf(rq->cid, sizeof(rq->cid), "%s",
                 json_string_value(json_object_get(js, "correlation_id")));
    else if (bytes && raw_text_cid(rq->payload, rq->len, rq->cid, sizeof(rq->cid)))
        ;
    else if (key)
        snprintf(rq->cid, sizeof(rq->cid), "%s", json_string_value(key));
    else
        dbev_uuid_new(rq->cid);
    snprintf(rq->key, sizeof(rq->key), "%s", key ? json_string_value(key) : rq->cid);
    rq->expect = json_object_get(body, "expect");
    if (!rq->expect)
        rq->expect = step->expect;
    if (rq->expect && !json_is_object(rq->expect))
        return step_fail(res, DBEV_REPORT_ERROR, "raw: expect must be a mapping");
    rq->timeout_ms = step->timeout_ms > 0 ? (int)step->timeout_ms : RAW_DEFAULT_TIMEOUT_MS;
    return 0;
}

/* Publishes and collects; answers is filled with at most cap outcomes. */
static void raw_exchange(runctx_t *ctx, raw_req_t *rq, raw_answer_t *answers, size_t cap,
                         size_t *n_answers, int64_t *sent_us, step_result_t *res)
{
    char err[512];
    int publish_ms =
        rq->timeout_ms > RAW_PUBLISH_TIMEOUT_MS ? rq->timeout_ms : RAW_PUBLISH_TIMEOUT_MS;
    rd_kafka_t *consumer = raw_client(ctx, RD_KAFKA_CONSUMER, publish_ms, err, sizeof(err));
    rd_kafka_t *producer =
        consumer ? raw_client(ctx, RD_KAFKA_PRODUCER, publish_ms, err, sizeof(err)) : NULL;
    if (!producer) {
        step_fail(res, DBEV_REPORT_ERROR, "raw: Kafka client: %s", err);
        goto out;
    }
    if (raw_assign(ctx, consumer, err, sizeof(err))) {
        step_fail(res, DBEV_REPORT_ERROR, "raw: %s", err);
        goto out;
    }
    /* Learn the target topic's leaders now: a producer that meets a topic at
     * its first produce waits for its next topic scan (up to a second), which
     * would show as latency of the adapter. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, rq->topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    if (rkt && rd_kafka_metadata(producer, 0, rkt, &md, RAW_META_TIMEOUT_MS) == 0)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    int delivery_errors = 0;
    *sent_us = dbev_mono_us();
    for (int64_t i = 0; i < rq->count; i++) {
        rd_kafka_resp_err_t perr = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(rq->topic), RD_KAFKA_V_VALUE(rq->payload, rq->len),
            RD_KAFKA_V_KEY(rq->key, strlen(rq->key)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(&delivery_errors), RD_KAFKA_V_END);
        if (perr) {
            step_fail(res, DBEV_REPORT_ERROR, "raw: produce to %s: %s", rq->topic,
                      rd_kafka_err2str(perr));
            goto out;
        }
    }
    /* Publishing has its own budget: a short timeout_ms bounds the wait for
     * the answer (expect_no_answer), not the broker's acknowledgement. */
    rd_kafka_resp_err_t ferr = rd_kafka_flush(producer, publish_ms);
    if (ferr || delivery_errors) {
        step_fail(res, DBEV_REPORT_ERROR,
                  "raw: %s publishing to %s within %d ms (%d of %lld not delivered)",
                  ferr ? rd_kafka_err2str(ferr) : "delivery failed", rq->topic, publish_ms,
                  ferr ? (int)rq->count : delivery_errors, (long long)rq->count);
        goto out;
    }
    dbev_logf(ctx->logger, DBEV_LOG_DEBUG, rq->cid, "raw: %lld event(s) published to %s in %.1f ms",
              (long long)rq->count, rq->topic, (double)(dbev_mono_us() - *sent_us) / 1000.0);
    int64_t deadline = dbev_mono_us() + (int64_t)rq->timeout_ms * 1000;
    char completed[256], failed[256];
    dbev_topic_name(faults_topic_env(ctx), DBEV_TOPIC_COMPLETED, completed, sizeof(completed));
    dbev_topic_name(faults_topic_env(ctx), DBEV_TOPIC_FAILED, failed, sizeof(failed));
    /* Published onto a response topic (a stray or forged answer), our own
     * copies come back through the consumer: they are not answers. */
    int64_t own_copies =
        !strcmp(rq->topic, completed) || !strcmp(rq->topic, failed) ? rq->count : 0;
    while (dbev_mono_us() < deadline && (rq->no_answer || *n_answers < (size_t)rq->count)) {
        int64_t left_ms = (deadline - dbev_mono_us()) / 1000;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(
            consumer, (int)(left_ms < 100 ? (left_ms > 0 ? left_ms : 1) : 100));
        if (!msg)
            continue;
        if (!msg->err && msg->payload && own_copies > 0 && msg->len == rq->len &&
            !strcmp(rd_kafka_topic_name(msg->rkt), rq->topic) &&
            !memcmp(msg->payload, rq->payload, rq->len)) {
            own_copies--;
        } else if (!msg->err && msg->payload) {
            char cid[256];
            if (raw_text_cid(msg->payload, msg->len, cid, sizeof(cid)) && !strcmp(cid, rq->cid) &&
                *n_answers < cap) {
                bool on_completed = !strcmp(rd_kafka_topic_name(msg->rkt), completed);
                answers[*n_answers].outcome = raw_outcome(msg, cid, on_completed);
                answers[*n_answers].at_us = dbev_mono_us();
                (*n_answers)++;
            }
        }
        rd_kafka_message_destroy(msg);
    }
out:
    if (producer)
        rd_kafka_destroy(producer);
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
}

static void raw_show(const json_t *value, char *buf, size_t size)
{
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(buf, size, "%s", text ? text : "?");
    free(text);
}

int step_run_raw(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    if (ctx->opts && ctx->opts->mode == RUN_MODE_DIRECT)
        return step_fail(res, DBEV_REPORT_SKIP,
                         "raw: publishes to Kafka, and this run uses the direct path only "
                         "(requires: [event_path])");
    if (!ctx->kafka)
        return step_fail(res, DBEV_REPORT_ERROR, "raw: no Kafka environment");
    char err[512];
    json_t *body = ctx->vars ? vars_substitute(ctx->vars, step->body, err, sizeof(err))
                             : json_incref((json_t *)step->body);
    if (!body)
        return step_fail(res, DBEV_REPORT_ERROR, "raw: %s", err);
    raw_req_t rq;
    memset(&rq, 0, sizeof(rq));
    res->status = DBEV_REPORT_PASS;
    raw_answer_t *answers = NULL;
    size_t n = 0, cap = 0;
    int64_t sent_us = 0;
    if (raw_parse(ctx, step, body, &rq, res) || res->status != DBEV_REPORT_PASS)
        goto out;
    cap = (size_t)rq.count;
    answers = calloc(cap, sizeof(*answers));
    if (!answers) {
        step_fail(res, DBEV_REPORT_ERROR, "raw: out of memory");
        goto out;
    }
    raw_exchange(ctx, &rq, answers, cap, &n, &sent_us, res);
    if (res->status != DBEV_REPORT_PASS)
        goto out;

    if (rq.no_answer) {
        if (n)
            step_fail(res, DBEV_REPORT_FAIL,
                      "raw: expected no answer for correlation id %s within %d ms, got %zu", rq.cid,
                      rq.timeout_ms, n);
        if (n) {
            snprintf(res->expected, sizeof(res->expected), "no answer");
            raw_show(answers[0].outcome, res->actual, sizeof(res->actual));
        }
        json_t *outcome = json_object();
        json_object_set_new(outcome, "correlation_id", json_string(rq.cid));
        json_object_set_new(outcome, "answers", json_integer((json_int_t)n));
        json_decref(res->outcome);
        res->outcome = outcome;
        goto out;
    }
    if (n < (size_t)rq.count) {
        step_fail(res, DBEV_REPORT_FAIL,
                  "raw: %zu of %lld answer%s for correlation id %s within %d ms on %s.*", n,
                  (long long)rq.count, rq.count == 1 ? "" : "s", rq.cid, rq.timeout_ms,
                  faults_topic_env(ctx));
        snprintf(res->expected, sizeof(res->expected), "%lld answer%s", (long long)rq.count,
                 rq.count == 1 ? "" : "s");
        snprintf(res->actual, sizeof(res->actual), "%zu", n);
        if (!n)
            goto out;
    }
    res->latency_ms = (double)(answers[0].at_us - sent_us) / 1000.0;
    json_t *outcome = json_deep_copy(answers[n - 1].outcome);
    json_object_set_new(outcome, "answers", json_integer((json_int_t)n));
    json_object_set_new(outcome, "latency_ms", json_real(res->latency_ms));
    if (n > 1) {
        json_t *all = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(all, answers[i].outcome);
        json_object_set_new(outcome, "outcomes", all);
    }
    json_decref(res->outcome);
    res->outcome = outcome;
    if (res->status != DBEV_REPORT_PASS)
        goto out;
    /* expect judges the last answer: with count 2, the duplicate's. */
    json_t *empty = json_object();
    char diff[1024];
    if (expectation_check(rq.expect ? rq.expect : empty, answers[n - 1].outcome, diff,
                          sizeof(diff)) != 0) {
        step_fail(res, DBEV_REPORT_FAIL, "raw: %s", diff);
        raw_show(rq.expect ? rq.expect : empty, res->expected, sizeof(res->expected));
        raw_show(answers[n - 1].outcome, res->actual, sizeof(res->actual));
    } else if (step->max_latency_ms > 0 && res->latency_ms > step->max_latency_ms) {
        step_fail(res, DBEV_REPORT_FAIL, "raw: answered in %.1f ms, bound %.1f ms", res->latency_ms,
                  step->max_latency_ms);
    }
    json_decref(empty);
out:
    for (size_t i = 0; i < n; i++)
        json_decref(answers[i].outcome);
    free(answers);
    free(rq.payload);
    json_decref(body);
    return 0;
}
