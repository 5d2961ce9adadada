/*
 * Integration tests of libdbev against a FAKE responder: a thread in this
 * test consumes the request topic of an in-process librdkafka mock cluster
 * and answers the way a test needs (promptly, late, twice, never, for an id
 * nobody sent, with a given error). They prove what the real adapter will
 * not do on demand: a late response after a timeout, a duplicate response
 * and a response for an unknown correlation id never reach the wrong caller;
 * retries reuse the event id; destroying the client with requests pending
 * answers each with DBEV_ERR__CANCELLED exactly once; the breaker opens and
 * recovers; one thread keeps thousands of requests in flight.
 *
 * The responder's behaviour is chosen by the correlation id's prefix (the
 * tests set correlation ids through dbev_call_opts_t). Every wait is on a
 * condition with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dbev/dbev.h"
#include "dbev/protocol.h"
#include "dbev_common.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_PREFIX  "fake"
#define PARTITIONS  3
#define DEADLINE_MS 20000

/* ---- the mock cluster and the fake responder ----------------------------- */

typedef struct seen {
    char corr[DBEV_ID_SIZE];
    char event_id[DBEV_ID_SIZE];
    int64_t timestamp_us; /* the envelope's */
    char *payload;        /* the request payload as sent (compact, keys sorted); owned */
} seen_t;

typedef struct delayed {
    struct delayed *next;
    int64_t due_us;
    char *payload;
    char key[DBEV_ID_SIZE];
    int failed; /* topic: completed or failed */
} delayed_t;

static struct {
    rd_kafka_t *mock_rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    const char *bootstrap;
    char topic[3][256];
    pthread_t thread;
    atomic_bool stop;
    rd_kafka_t *consumer, *producer;
    pthread_mutex_t m;
    seen_t *seen;
    int n_seen;
    delayed_t *delayed;
} R;

static const char *json_str(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static bool prefixed(const char *corr, const char *prefix)
{
    return strncmp(corr, prefix, strlen(prefix)) == 0;
}

static char *completed_event(const dbev_request_t *req, const char *corr, int attempt)
{
    json_t *row =
        json_pack("{s:s, s:O?, s:i}", "corr", corr, "params", req->op.params, "attempt", attempt);
    if (req->op.type == DBEV_OP_HEALTH) {
        /* "sick-": the adapter answers, but its database is gone */
        bool sick = prefixed(corr, "sick-");
        json_object_set_new(row, "status", json_string(sick ? "UNHEALTHY" : "HEALTHY"));
        json_object_set_new(row, "database_reachable", json_boolean(!sick));
        json_object_set_new(row, "circuit_state", json_string("CLOSED"));
        json_object_set_new(row, "pool_utilization_pct", json_real(0));
        json_object_set_new(row, "saturation_threshold_pct", json_real(80));
    }
    json_t *rows = json_pack("[o]", row);
    json_t *payload = dbev_completed_payload_new(req->op.type, rows, 1, 0.5, DBEV_BREAKER_CLOSED,
                                                 false, false, NULL);
    char id[40];
    dbev_uuid_new(id);
    json_t *event = dbev_envelope_new(DBEV_EVENT_COMPLETED, id, corr, "fake-responder", 0, payload);
    char *text = dbev_event_dumps(event);
    json_decref(event);
    return text;
}

static char *failed_event(const dbev_request_t *req, dbev_err_t code, const char *sqlstate)
{
    json_t *payload = dbev_failed_payload_new(req->op.type, code, "fake failure", "FakeError",
                                              sqlstate, DBEV_BREAKER_CLOSED, NULL);
    char id[40];
    dbev_uuid_new(id);
    json_t *event =
        dbev_envelope_new(DBEV_EVENT_FAILED, id, req->correlation_id, "fake-responder", 0, payload);
    char *text = dbev_event_dumps(event);
    json_decref(event);
    return text;
}

static void send_now(const char *key, char *text, int failed)
{
    rd_kafka_resp_err_t err =
        rd_kafka_producev(R.producer, RD_KAFKA_V_TOPIC(R.topic[failed ? 2 : 1]),
                          RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(text, strlen(text)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
    if (err)
        free(text);
}

static void send_later(const char *key, char *text, int failed, int delay_ms)
{
    delayed_t *d = calloc(1, sizeof(*d));
    d->due_us = dbev_mono_us() + (int64_t)delay_ms * 1000;
    d->payload = text;
    d->failed = failed;
    snprintf(d->key, sizeof(d->key), "%s", key);
    d->next = R.delayed;
    R.delayed = d;
}

/* How many times (corr, any event id) was seen; fills event_id of the first. */
static int seen_count(const char *corr, char *event_id, int *distinct_event_ids)
{
    int n = 0, distinct = 0;
    pthread_mutex_lock(&R.m);
    for (int i = 0; i < R.n_seen; i++) {
        if (strcmp(R.seen[i].corr, corr) != 0)
            continue;
        if (n == 0 && event_id)
            strcpy(event_id, R.seen[i].event_id);
        if (n == 0 || (event_id && strcmp(event_id, R.seen[i].event_id) != 0))
            distinct++;
        n++;
    }
    pthread_mutex_unlock(&R.m);
    if (distinct_event_ids)
        *distinct_event_ids = distinct;
    return n;
}

/* The behaviour table: what the responder does with each request. */
static void respond(const dbev_request_t *req)
{
    const char *corr = req->correlation_id;
    int attempt = seen_count(corr, NULL, NULL);
    if (prefixed(corr, "hold-") || prefixed(corr, "dead-"))
        return; /* never answered */
    if (prefixed(corr, "late-")) {
        send_later(corr, completed_event(req, corr, attempt), 0, 700);
        return;
    }
    if (prefixed(corr, "dup-")) {
        send_now(corr, completed_event(req, corr, attempt), 0);
        send_now(corr, completed_event(req, corr, attempt), 0);
        return;
    }
    if (prefixed(corr, "unk-")) {
        char other[64];
        dbev_uuid_new(other);
        send_now(other, completed_event(req, other, attempt), 0);
        send_now(corr, completed_event(req, corr, attempt), 0);
        return;
    }
    if (prefixed(corr, "retry-") && attempt == 1)
        return; /* the first attempt is lost */
    if (prefixed(corr, "val-")) {
        send_now(corr, failed_event(req, DBEV_ERR_VALIDATION_ERROR, NULL), 1);
        return;
    }
    if (prefixed(corr, "sql-")) {
        send_now(corr, failed_event(req, DBEV_ERR_DATABASE_OPERATION_FAILED, "42601"), 1);
        return;
    }
    if (prefixed(corr, "conn-") && attempt == 1) {
        send_now(corr, failed_event(req, DBEV_ERR_DATABASE_CONNECTION_FAILED, NULL), 1);
        return;
    }
    send_now(corr, completed_event(req, corr, attempt), 0);
}

static void *responder_main(void *arg)
{
    while (!atomic_load(&R.stop)) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(R.consumer, 10);
        for (; rkm; rkm = rd_kafka_consumer_poll(R.consumer, 0)) {
            dbev_request_t *req = NULL;
            dbev_decode_error_t derr;
            if (!rkm->err && dbev_request_decode(rkm->payload, rkm->len, &req, &derr) == 0) {
                pthread_mutex_lock(&R.m);
                seen_t *s = &R.seen[R.n_seen++];
                snprintf(s->corr, sizeof(s->corr), "%s", req->correlation_id);
                snprintf(s->event_id, sizeof(s->event_id), "%s", req->event_id);
                s->timestamp_us = req->has_timestamp ? req->timestamp_us : 0;
                json_t *doc = json_loadb(rkm->payload, rkm->len, 0, NULL);
                s->payload =
                    json_dumps(json_object_get(doc, "payload"), JSON_COMPACT | JSON_SORT_KEYS);
                json_decref(doc);
                pthread_mutex_unlock(&R.m);
                respond(req);
                dbev_request_destroy(req);
            }
            rd_kafka_message_destroy(rkm);
        }
        int64_t now = dbev_mono_us();
        for (delayed_t **pp = &R.delayed; *pp;) {
            delayed_t *d = *pp;
            if (d->due_us > now) {
                pp = &d->next;
                continue;
            }
            *pp = d->next;
            send_now(d->key, d->payload, d->failed);
            free(d);
        }
        rd_kafka_poll(R.producer, 0);
    }
    return NULL;
}

static rd_kafka_conf_t *rdconf(void)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", R.bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    return conf;
}

static int setup_cluster(void **state)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    R.mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(R.mock_rk);
    R.mcluster = rd_kafka_mock_cluster_new(R.mock_rk, 1);
    assert_non_null(R.mcluster);
    R.bootstrap = rd_kafka_mock_cluster_bootstraps(R.mcluster);
    dbev_topic_name(ENV_PREFIX, DBEV_TOPIC_REQUESTED, R.topic[0], sizeof(R.topic[0]));
    dbev_topic_name(ENV_PREFIX, DBEV_TOPIC_COMPLETED, R.topic[1], sizeof(R.topic[1]));
    dbev_topic_name(ENV_PREFIX, DBEV_TOPIC_FAILED, R.topic[2], sizeof(R.topic[2]));
    for (int i = 0; i < 3; i++)
        assert_int_equal(rd_kafka_mock_topic_create(R.mcluster, R.topic[i], PARTITIONS, 1), 0);

    pthread_mutex_init(&R.m, NULL);
    R.seen = calloc(100000, sizeof(*R.seen));
    conf = rdconf();
    rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err));
    R.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(R.producer);
    conf = rdconf();
    rd_kafka_conf_set(conf, "group.id", "fake-responder", err, sizeof(err));
    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    R.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(R.consumer);
    rd_kafka_poll_set_consumer(R.consumer);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, R.topic[0], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(R.consumer, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    assert_int_equal(pthread_create(&R.thread, NULL, responder_main, NULL), 0);
    return 0;
}

static int teardown_cluster(void **state)
{
    atomic_store(&R.stop, true);
    pthread_join(R.thread, NULL);
    while (R.delayed) {
        delayed_t *d = R.delayed;
        R.delayed = d->next;
        free(d->payload);
        free(d);
    }
    rd_kafka_destroy_flags(R.consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    rd_kafka_flush(R.producer, 1000);
    rd_kafka_destroy(R.producer);
    rd_kafka_mock_cluster_destroy(R.mcluster);
    rd_kafka_destroy(R.mock_rk);
    for (int i = 0; i < R.n_seen; i++)
        free(R.seen[i].payload);
    free(R.seen);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

static dbev_client_t *client_with(const char *k1, const char *v1, ...)
{
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    assert_int_equal(dbev_conf_set(conf, "bootstrap.servers", R.bootstrap, errstr, 512), 0);
    assert_int_equal(dbev_conf_set(conf, "topic.prefix", ENV_PREFIX, errstr, 512), 0);
    assert_int_equal(dbev_conf_set(conf, "kafka.log_level", "0", errstr, 512), 0);
    /* The fake responder enforces no timeout of its own, so these tests time
     * the client's own timer: no grace for an adapter's TIMEOUT_ERROR. */
    assert_int_equal(dbev_conf_set(conf, "request.timeout.grace.ms", "0", errstr, 512), 0);
    va_list ap;
    va_start(ap, v1);
    for (const char *k = k1, *v = v1; k;
         k = va_arg(ap, const char *), v = k ? va_arg(ap, const char *) : NULL)
        assert_int_equal(dbev_conf_set(conf, k, v, errstr, sizeof(errstr)), DBEV_CONF_OK);
    va_end(ap);
    dbev_client_t *client = dbev_client_new(conf, errstr, sizeof(errstr));
    if (!client)
        fail_msg("dbev_client_new: %s", errstr);
    return client;
}

typedef struct outcome {
    int calls; /* callbacks received for this request */
    dbev_err_t code;
    char corr[DBEV_ID_SIZE];
    char row_corr[DBEV_ID_SIZE]; /* the corr the responder echoed in the row */
    json_int_t echoed_param;
    int attempts;
    char event_id[DBEV_ID_SIZE];
} outcome_t;

static void record(outcome_t *o, dbev_result_t *result, dbev_error_t *error)
{
    o->calls++;
    if (result) {
        o->code = DBEV_ERR_NO_ERROR;
        snprintf(o->corr, sizeof(o->corr), "%s", dbev_result_correlation_id(result));
        snprintf(o->event_id, sizeof(o->event_id), "%s", dbev_result_event_id(result));
        o->attempts = dbev_result_attempts(result);
        json_t *row = json_array_get(dbev_result_rows(result), 0);
        snprintf(o->row_corr, sizeof(o->row_corr), "%s", json_str(json_object_get(row, "corr")));
        o->echoed_param = json_integer_value(json_array_get(json_object_get(row, "params"), 0));
    } else {
        o->code = dbev_error_code(error);
        snprintf(o->corr, sizeof(o->corr), "%s",
                 dbev_error_correlation_id(error) ? dbev_error_correlation_id(error) : "");
        o->attempts = dbev_error_attempts(error);
    }
}

static void on_done(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error, void *opaque)
{
    record(opaque, result, error);
    dbev_result_destroy(result);
    dbev_error_destroy(error);
}

static dbev_err_t send_query(dbev_client_t *client, const char *corr, int param, int timeout_ms,
                             int retries, outcome_t *o)
{
    dbev_call_opts_t opts = {
        .correlation_id = corr, .timeout_ms = timeout_ms, .max_retries = retries};
    json_t *params = json_pack("[i]", param);
    dbev_error_t *error = NULL;
    dbev_err_t err = dbev_query_async(client, "SELECT $1", params, &opts, on_done, o, &error);
    json_decref(params);
    dbev_error_destroy(error);
    return err;
}

/* Polls until every outcome has a callback, or fails at the deadline. */
static void wait_outcomes(dbev_client_t *client, outcome_t *o, int n)
{
    int64_t deadline = dbev_mono_us() + DEADLINE_MS * 1000LL;
    for (;;) {
        int done = 0;
        for (int i = 0; i < n; i++)
            done += o[i].calls > 0;
        if (done == n)
            return;
        if (dbev_mono_us() > deadline)
            fail_msg("only %d of %d requests completed before the deadline", done, n);
        dbev_client_poll(client, 100);
    }
}

static dbev_client_stats_t stats_when(dbev_client_t *client, size_t offset, uint64_t want)
{
    dbev_client_stats_t st;
    int64_t deadline = dbev_mono_us() + DEADLINE_MS * 1000LL;
    for (;;) {
        dbev_client_stats(client, &st);
        if (*(uint64_t *)((char *)&st + offset) >= want || dbev_mono_us() > deadline)
            return st;
        dbev_client_poll(client, 20);
    }
}
#define WAIT_STAT(client, field, want)                                                             \
    stats_when((client), offsetof(dbev_client_stats_t, field), (want))

/* ---- tests ------------------------------------------------------------------- */

/* One thread, 2,000 requests in flight, each answered with its own echo. */
static void test_many_in_flight_one_thread(void **state)
{
    enum { N = 2000 };
    dbev_client_t *client = client_with(NULL, NULL);
    outcome_t *o = calloc(N, sizeof(*o));
    char corr[64];
    for (int i = 0; i < N; i++) {
        snprintf(corr, sizeof(corr), "many-%d", i);
        assert_int_equal(send_query(client, corr, i, 15000, 0, &o[i]), DBEV_ERR_NO_ERROR);
    }
    assert_true(dbev_client_outq_len(client) > 0);
    wait_outcomes(client, o, N);
    for (int i = 0; i < N; i++) {
        snprintf(corr, sizeof(corr), "many-%d", i);
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].code, DBEV_ERR_NO_ERROR);
        assert_string_equal(o[i].corr, corr);
        assert_string_equal(o[i].row_corr, corr);
        assert_int_equal(o[i].echoed_param, i);
    }
    dbev_client_stats_t st;
    dbev_client_stats(client, &st);
    assert_int_equal(st.completed, N);
    assert_int_equal(st.sent, N);
    assert_int_equal(st.late + st.duplicate + st.unknown, 0);
    assert_int_equal(dbev_client_outq_len(client), 0);
    dbev_client_destroy(client);
    free(o);
}

/* The answer to a timed-out request arrives later: dropped, counted as late,
 * and not given to the request sent after it. */
static void test_late_response(void **state)
{
    dbev_client_t *client = client_with("max.retries", "0", NULL);
    outcome_t o[2] = {{0}};
    assert_int_equal(send_query(client, "late-1", 1, 200, 0, &o[0]), 0);
    wait_outcomes(client, &o[0], 1);
    assert_int_equal(o[0].code, DBEV_ERR__TIMEOUT);
    assert_string_equal(o[0].corr, "late-1");
    /* a later request is in flight while the late answer arrives */
    assert_int_equal(send_query(client, "next-after-late", 2, 5000, 0, &o[1]), 0);
    dbev_client_stats_t st = WAIT_STAT(client, late, 1);
    assert_int_equal(st.late, 1);
    wait_outcomes(client, &o[1], 1);
    assert_int_equal(o[0].calls, 1); /* the timed-out caller heard nothing more */
    assert_int_equal(o[1].calls, 1);
    assert_int_equal(o[1].code, DBEV_ERR_NO_ERROR);
    assert_string_equal(o[1].row_corr, "next-after-late");
    assert_int_equal(o[1].echoed_param, 2);
    dbev_client_stats(client, &st);
    assert_int_equal(st.timeouts, 1);
    assert_int_equal(st.duplicate + st.unknown, 0);
    dbev_client_destroy(client);
}

/* A request over the protocol's 1 MiB event limit fails at once, before
 * anything is produced, and names the limit. */
static void test_oversized_request_refused_at_once(void **state)
{
    dbev_client_t *client = client_with("max.retries", "0", NULL);
    size_t n = DBEV_MAX_EVENT_BYTES;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    json_t *data = json_pack("{s:s}", "body", big);
    free(big);
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_err_t err = dbev_insert(client, "t", data, NULL, NULL, &result, &error);
    assert_int_equal(err, DBEV_ERR__INVALID_ARG);
    assert_null(result);
    assert_non_null(strstr(dbev_error_message(error), "limit of 1048576 bytes"));
    dbev_error_destroy(error);
    json_decref(data);
    dbev_client_stats_t st;
    dbev_client_stats(client, &st);
    assert_int_equal(st.sent, 0);
    dbev_client_destroy(client);
}

/* An answer delivered twice reaches its caller once; the second is counted. */
static void test_duplicate_response(void **state)
{
    dbev_client_t *client = client_with(NULL, NULL);
    outcome_t o[2] = {{0}};
    assert_int_equal(send_query(client, "dup-1", 7, 5000, 0, &o[0]), 0);
    wait_outcomes(client, &o[0], 1);
    dbev_client_stats_t st = WAIT_STAT(client, duplicate, 1);
    assert_int_equal(st.duplicate, 1);
    /* the duplicate did not go to a request sent afterwards either */
    assert_int_equal(send_query(client, "after-dup", 8, 5000, 0, &o[1]), 0);
    wait_outcomes(client, &o[1], 1);
    dbev_client_poll(client, 0);
    assert_int_equal(o[0].calls, 1);
    assert_string_equal(o[0].row_corr, "dup-1");
    assert_int_equal(o[1].calls, 1);
    assert_string_equal(o[1].row_corr, "after-dup");
    dbev_client_stats(client, &st);
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.duplicate, 1);
    assert_int_equal(st.late + st.unknown, 0);
    dbev_client_destroy(client);
}

/* A response for a correlation id this client never sent is dropped and counted. */
static void test_unknown_response(void **state)
{
    dbev_client_t *client = client_with(NULL, NULL);
    outcome_t o = {0};
    assert_int_equal(send_query(client, "unk-1", 3, 5000, 0, &o), 0);
    wait_outcomes(client, &o, 1);
    dbev_client_stats_t st = WAIT_STAT(client, unknown, 1);
    assert_int_equal(st.unknown, 1);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.code, DBEV_ERR_NO_ERROR);
    assert_string_equal(o.row_corr, "unk-1");
    assert_int_equal(st.late + st.duplicate, 0);
    dbev_client_destroy(client);
}

/* The first attempt is lost: the retry carries the same event id. */
static void test_retry_reuses_event_id(void **state)
{
    /* per attempt: the dropped first attempt times out after its own 1 s and
     * the retry still gets a full second (in total mode nothing would be left) */
    dbev_client_t *client =
        client_with("retry.backoff.ms", "50", "timeout.mode", "per_attempt", NULL);
    outcome_t o = {0};
    /* generous per-attempt timeout: only the dropped first attempt may time out,
     * even on a slow machine */
    assert_int_equal(send_query(client, "retry-1", 5, 1000, 5, &o), 0);
    wait_outcomes(client, &o, 1);
    assert_int_equal(o.code, DBEV_ERR_NO_ERROR);
    assert_true(o.attempts >= 2);
    /* the responder saw every attempt, all with one event id */
    int64_t deadline = dbev_mono_us() + DEADLINE_MS * 1000LL;
    while (seen_count("retry-1", NULL, NULL) < o.attempts && dbev_mono_us() < deadline)
        dbev_client_poll(client, 10);
    char event_id[DBEV_ID_SIZE] = "";
    int distinct = 0;
    assert_int_equal(seen_count("retry-1", event_id, &distinct), o.attempts);
    assert_int_equal(distinct, 1);
    assert_string_equal(event_id, o.event_id);
    dbev_client_stats_t st;
    dbev_client_stats(client, &st);
    assert_int_equal(st.retries, (uint64_t)o.attempts - 1);
    assert_true(st.timeouts >= 1);
    dbev_client_destroy(client);
}

/* Retries happen for DATABASE_CONNECTION_FAILED, never for validation or SQL errors. */
static void test_retry_policy(void **state)
{
    dbev_client_t *client = client_with("retry.backoff.ms", "20", NULL);
    outcome_t o[3] = {{0}};
    assert_int_equal(send_query(client, "val-1", 1, 5000, 3, &o[0]), 0);
    assert_int_equal(send_query(client, "sql-1", 1, 5000, 3, &o[1]), 0);
    assert_int_equal(send_query(client, "conn-1", 1, 5000, 3, &o[2]), 0);
    wait_outcomes(client, o, 3);
    assert_int_equal(o[0].code, DBEV_ERR_VALIDATION_ERROR);
    assert_int_equal(o[0].attempts, 1);
    assert_int_equal(o[1].code, DBEV_ERR_DATABASE_OPERATION_FAILED);
    assert_int_equal(o[1].attempts, 1);
    assert_int_equal(o[2].code, DBEV_ERR_NO_ERROR);
    assert_int_equal(o[2].attempts, 2);
    assert_int_equal(seen_count("val-1", NULL, NULL), 1);
    assert_int_equal(seen_count("sql-1", NULL, NULL), 1);
    assert_int_equal(seen_count("conn-1", NULL, NULL), 2);

    /* the blocking form carries SQLSTATE and the retriable flag */
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_call_opts_t opts = {.correlation_id = "sql-2"};
    assert_int_equal(dbev_query(client, "SELECT 1", NULL, &opts, &result, &error),
                     DBEV_ERR_DATABASE_OPERATION_FAILED);
    assert_null(result);
    assert_non_null(error);
    assert_string_equal(dbev_error_sqlstate(error), "42601");
    assert_string_equal(dbev_error_name(error), "DATABASE_OPERATION_FAILED");
    assert_false(dbev_error_is_retriable(error));
    assert_string_equal(dbev_error_message(error), "fake failure");
    dbev_error_destroy(error);
    dbev_client_destroy(client);
}

typedef struct blocking_arg {
    dbev_client_t *client;
    dbev_err_t err;
    int returned;
} blocking_arg_t;

static void *blocking_hold(void *p)
{
    blocking_arg_t *a = p;
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_call_opts_t opts = {.correlation_id = "hold-blocking", .max_retries = -1};
    a->err = dbev_query(a->client, "SELECT 1", NULL, &opts, &result, &error);
    a->returned++;
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    return NULL;
}

/* Destroy with requests pending: every one answered CANCELLED exactly once. */
static void test_destroy_cancels(void **state)
{
    enum { N = 100 };
    dbev_client_t *client = client_with(NULL, NULL);
    outcome_t *o = calloc(N, sizeof(*o));
    char corr[64];
    for (int i = 0; i < N; i++) {
        snprintf(corr, sizeof(corr), "hold-%d", i);
        assert_int_equal(send_query(client, corr, i, 60000, 0, &o[i]), 0);
    }
    blocking_arg_t b = {.client = client};
    pthread_t t;
    pthread_create(&t, NULL, blocking_hold, &b);
    int64_t deadline = dbev_mono_us() + DEADLINE_MS * 1000LL;
    while (dbev_client_outq_len(client) < N + 1 && dbev_mono_us() < deadline)
        dbev_client_poll(client, 10);
    assert_int_equal(dbev_client_outq_len(client), N + 1);
    dbev_client_destroy(client);
    pthread_join(t, NULL);
    assert_int_equal(b.returned, 1);
    assert_int_equal(b.err, DBEV_ERR__CANCELLED);
    for (int i = 0; i < N; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].code, DBEV_ERR__CANCELLED);
    }
    free(o);
}

/* Timeouts open the breaker; calls then fail at once; after the recovery
 * time a probe goes through and closes it. */
static void test_breaker_opens_and_recovers(void **state)
{
    dbev_client_t *client =
        client_with("circuit.breaker.failure.threshold", "2", "circuit.breaker.recovery.ms", "1500",
                    "max.retries", "0", NULL);
    outcome_t o[2] = {{0}};
    assert_string_equal(dbev_client_breaker_state(client), "CLOSED");
    assert_int_equal(send_query(client, "dead-1", 1, 100, 0, &o[0]), 0);
    assert_int_equal(send_query(client, "dead-2", 1, 100, 0, &o[1]), 0);
    wait_outcomes(client, o, 2);
    assert_int_equal(o[0].code, DBEV_ERR__TIMEOUT);
    assert_string_equal(dbev_client_breaker_state(client), "OPEN");

    /* fails at once, and its callback never fires */
    outcome_t refused = {0};
    dbev_error_t *error = NULL;
    dbev_call_opts_t opts = {.correlation_id = "refused-1"};
    assert_int_equal(dbev_query_async(client, "SELECT 1", NULL, &opts, on_done, &refused, &error),
                     DBEV_ERR_CIRCUIT_BREAKER_OPEN);
    assert_non_null(error);
    assert_int_equal(dbev_error_code(error), DBEV_ERR_CIRCUIT_BREAKER_OPEN);
    dbev_error_destroy(error);
    assert_int_equal(seen_count("refused-1", NULL, NULL), 0);

    /* wait for the recovery time to pass (a condition on the breaker's state) */
    int64_t deadline = dbev_mono_us() + DEADLINE_MS * 1000LL;
    while (strcmp(dbev_client_breaker_state(client), "HALF_OPEN") != 0 && dbev_mono_us() < deadline)
        dbev_client_poll(client, 20);
    assert_string_equal(dbev_client_breaker_state(client), "HALF_OPEN");
    outcome_t probe = {0};
    assert_int_equal(send_query(client, "probe-1", 9, 5000, 0, &probe), 0);
    wait_outcomes(client, &probe, 1);
    assert_int_equal(probe.code, DBEV_ERR_NO_ERROR);
    assert_string_equal(dbev_client_breaker_state(client), "CLOSED");
    dbev_client_poll(client, 0);
    assert_int_equal(refused.calls, 0);
    dbev_client_stats_t st;
    dbev_client_stats(client, &st);
    assert_int_equal(st.breaker_opened, 1);
    assert_int_equal(st.breaker_refused, 1);
    dbev_client_destroy(client);
}

/* Calls that fail at once return the error and never fire their callback. */
static void test_immediate_failures(void **state)
{
    dbev_client_t *client = client_with(NULL, NULL);
    outcome_t o = {0}, held = {0};
    dbev_error_t *error = NULL;
    assert_int_equal(dbev_query_async(client, NULL, NULL, NULL, on_done, &o, &error),
                     DBEV_ERR__INVALID_ARG);
    assert_non_null(error);
    assert_int_equal(dbev_error_code(error), DBEV_ERR__INVALID_ARG);
    dbev_error_destroy(error);
    json_t *not_object = json_array();
    assert_int_equal(dbev_insert_async(client, "t", not_object, NULL, NULL, on_done, &o, &error),
                     DBEV_ERR__INVALID_ARG);
    dbev_error_destroy(error);
    assert_int_equal(dbev_insert_async(client, "t", NULL, "a,,b", NULL, on_done, &o, NULL),
                     DBEV_ERR__INVALID_ARG);
    json_decref(not_object);
    /* a correlation id already in flight is refused */
    assert_int_equal(send_query(client, "hold-dupid", 1, 60000, 0, &held), 0);
    assert_int_equal(send_query(client, "hold-dupid", 1, 60000, 0, &o), DBEV_ERR__INVALID_ARG);
    assert_int_equal(dbev_query_async(client, "SELECT 1", NULL, NULL, NULL, NULL, NULL),
                     DBEV_ERR__INVALID_ARG);
    dbev_client_poll(client, 50);
    assert_int_equal(o.calls, 0);
    assert_int_equal(seen_count("hold-dupid", NULL, NULL) <= 1, 1);
    dbev_client_destroy(client);
    assert_int_equal(o.calls, 0);
    assert_int_equal(held.calls, 1);
    assert_int_equal(held.code, DBEV_ERR__CANCELLED);
}

/* Generated correlation ids are UUIDs and round-trip; the fd signals completions. */
static void test_generated_ids_and_fd(void **state)
{
    dbev_client_t *client = client_with(NULL, NULL);
    dbev_result_t *result = NULL;
    assert_int_equal(dbev_query(client, "SELECT 1", NULL, NULL, &result, NULL), 0);
    assert_int_equal(strlen(dbev_result_correlation_id(result)), 36);

    json_t *row = json_array_get(dbev_result_rows(result), 0);
    assert_string_equal(json_str(json_object_get(row, "corr")), dbev_result_correlation_id(result));
    assert_int_equal(dbev_result_row_count(result), 1);
    dbev_result_destroy(result);

    outcome_t o = {0};
    dbev_error_t *error = NULL;
    assert_int_equal(dbev_query_async(client, "SELECT 1", NULL, NULL, on_done, &o, &error), 0);
    struct pollfd pfd = {.fd = dbev_client_fd(client), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, DEADLINE_MS), 1);
    assert_int_equal(dbev_client_poll(client, 0), 1);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.code, DBEV_ERR_NO_ERROR);
    assert_int_equal(strlen(o.corr), 36);
    assert_string_equal(o.row_corr, o.corr);
    pfd.revents = 0;
    assert_int_equal(poll(&pfd, 1, 0), 0); /* drained */
    dbev_client_destroy(client);
}

typedef struct worker {
    dbev_client_t *client;
    int id;
    int ok;
} worker_t;

static void *worker_main(void *p)
{
    worker_t *w = p;
    for (int i = 0; i < 50; i++) {
        char corr[64];
        snprintf(corr, sizeof(corr), "thr-%d-%d", w->id, i);
        dbev_call_opts_t opts = {.correlation_id = corr};
        json_t *params = json_pack("[i]", w->id * 1000 + i);
        dbev_result_t *result = NULL;
        if (dbev_query(w->client, "SELECT $1", params, &opts, &result, NULL) == 0) {
            json_t *row = json_array_get(dbev_result_rows(result), 0);
            json_int_t echoed =
                json_integer_value(json_array_get(json_object_get(row, "params"), 0));
            if (echoed == w->id * 1000 + i && !strcmp(json_str(json_object_get(row, "corr")), corr))
                w->ok++;
        }
        dbev_result_destroy(result);
        json_decref(params);
    }
    return NULL;
}

/* Blocking calls from several threads at once, each gets its own answers. */
static void test_blocking_from_threads(void **state)
{
    dbev_client_t *client = client_with(NULL, NULL);
    worker_t w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.client = client, .id = i};
        pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 50);
    }
    dbev_client_destroy(client);
}

/* A response produced right after dbev_client_new() returns is consumed (here:
 * counted as unknown, since this client did not send it), on every partition. */
static void test_no_response_missed_after_start(void **state)
{
    for (int round = 0; round < 3; round++) {
        dbev_client_t *client = client_with(NULL, NULL);
        for (int p = 0; p < PARTITIONS; p++) {
            char corr[64];
            snprintf(corr, sizeof(corr), "after-start-%d-%d", round, p);
            dbev_request_t req = {.correlation_id = corr, .op = {.type = DBEV_OP_SELECT}};
            char *text = completed_event(&req, corr, 1);
            assert_int_equal(
                rd_kafka_producev(R.producer, RD_KAFKA_V_TOPIC(R.topic[1]), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_VALUE(text, strlen(text)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END),
                0);
        }
        dbev_client_stats_t st = WAIT_STAT(client, unknown, PARTITIONS);
        assert_int_equal(st.unknown, PARTITIONS);
        assert_int_equal(st.responses, PARTITIONS);
        dbev_client_destroy(client);
    }
}

typedef struct log_capture {
    pthread_mutex_t m;
    int lines;
    int with_corr; /* lines naming the correlation id "log-timeout" */
} log_capture_t;

static void capture_log(void *opaque, int level, const char *correlation_id, const char *message)
{
    log_capture_t *cap = opaque;
    pthread_mutex_lock(&cap->m);
    cap->lines++;
    if (correlation_id && !strcmp(correlation_id, "log-timeout"))
        cap->with_corr++;
    pthread_mutex_unlock(&cap->m);
}

/* The library never prints: its lines (and librdkafka's) go to the log
 * callback, with the correlation id; stderr stays empty. */
static void test_logs_go_to_callback_only(void **state)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    dup2(fileno(tmp), 2);

    log_capture_t cap = {.m = PTHREAD_MUTEX_INITIALIZER};
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    dbev_conf_set(conf, "bootstrap.servers", R.bootstrap, errstr, sizeof(errstr));
    dbev_conf_set(conf, "topic.prefix", ENV_PREFIX, errstr, sizeof(errstr));
    dbev_conf_set(conf, "max.retries", "0", errstr, sizeof(errstr));
    dbev_conf_set_log_cb(conf, capture_log, &cap, DBEV_LOG_LEVEL_DEBUG);
    dbev_client_t *client = dbev_client_new(conf, errstr, sizeof(errstr));
    outcome_t o = {0};
    if (client) {
        send_query(client, "hold-log-timeout", 1, 100, 0, &o);
        dbev_call_opts_t opts = {.correlation_id = "log-timeout", .timeout_ms = 100};
        dbev_result_t *r = NULL;
        /* "log-timeout" is answered by the responder: the debug line names it */
        dbev_query(client, "SELECT 1", NULL, &opts, &r, NULL);
        dbev_result_destroy(r);
        wait_outcomes(client, &o, 1);
        dbev_client_destroy(client);
    }
    /* an unreachable broker makes librdkafka log; that must not reach stderr either */
    dbev_conf_t *bad = dbev_conf_new();
    dbev_conf_set(bad, "bootstrap.servers", "127.0.0.1:1", errstr, sizeof(errstr));
    dbev_conf_set(bad, "startup.timeout.ms", "300", errstr, sizeof(errstr));
    dbev_conf_set_log_cb(bad, capture_log, &cap, DBEV_LOG_LEVEL_DEBUG);
    assert_null(dbev_client_new(bad, errstr, sizeof(errstr)));
    dbev_conf_destroy(bad);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long printed = ftell(tmp);
    fclose(tmp);
    assert_non_null(client);
    assert_int_equal(printed, 0);
    assert_true(cap.lines > 0);
    assert_true(cap.with_corr > 0);
}

/* A kafka.* property librdkafka does not know fails creation with its name. */
static void test_kafka_passthrough_checked(void **state)
{
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    dbev_conf_set(conf, "bootstrap.servers", R.bootstrap, errstr, sizeof(errstr));
    assert_int_equal(dbev_conf_set(conf, "kafka.no.such.property", "1", errstr, sizeof(errstr)),
                     DBEV_CONF_OK);
    assert_null(dbev_client_new(conf, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "kafka.no.such.property"));
    dbev_conf_destroy(conf);
}

/* Start-up fails with one clear line when the response topics do not exist. */
static void test_startup_timeout(void **state)
{
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    /* nothing listens on port 1 of the loopback address */
    dbev_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", errstr, 512);
    dbev_conf_set(conf, "topic.prefix", "nosuchenv", errstr, 512);
    dbev_conf_set(conf, "startup.timeout.ms", "500", errstr, 512);
    dbev_conf_set(conf, "kafka.log_level", "0", errstr, 512);
    dbev_client_t *client = dbev_client_new(conf, errstr, sizeof(errstr));
    assert_null(client);
    assert_non_null(strstr(errstr, "nosuchenv.omninode-bridge.database.query-requested.v1"));
    assert_non_null(strstr(errstr, "startup.timeout.ms"));
    dbev_conf_destroy(conf); /* still ours after a failure */
}

/* Runs the dbev CLI against the fake responder; returns its exit code, stdout in out. */
static int run_cli(char *out, size_t size, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s/bin/dbev -b %s --env %s %s 2>/dev/null", DBEV_BUILD_DIR,
             R.bootstrap, ENV_PREFIX, args);
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, size - 1, fp);
    out[n] = '\0';
    int status = pclose(fp);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Seed 002's `if await client.health_check(): ... else: fallback`: only a
 * HEALTHY answer is success; an UNHEALTHY one is DBEV_ERR__UNHEALTHY with the
 * adapter's details, and is not retried. */
static void test_health_verdict(void **state)
{
    dbev_client_t *client = client_with(NULL, NULL);
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_call_opts_t opts = {.correlation_id = "well-1"};
    assert_int_equal(dbev_health_check(client, &opts, &result, &error), DBEV_ERR_NO_ERROR);
    json_t *h = json_array_get(dbev_result_rows(result), 0);
    assert_string_equal(json_str(json_object_get(h, "status")), "HEALTHY");
    dbev_result_destroy(result);

    opts.correlation_id = "sick-1";
    assert_int_equal(dbev_health_check(client, &opts, &result, &error), DBEV_ERR__UNHEALTHY);
    assert_null(result);
    assert_non_null(error);
    assert_string_equal(dbev_error_name(error), "_UNHEALTHY");
    assert_int_equal(dbev_error_attempts(error), 1);
    assert_false(dbev_error_is_retriable(error));
    h = dbev_error_health(error);
    assert_non_null(h);
    assert_string_equal(json_str(json_object_get(h, "status")), "UNHEALTHY");
    if (!strstr(dbev_error_message(error), "UNHEALTHY") ||
        !strstr(dbev_error_message(error), "database unreachable"))
        fail_msg("message does not say why: %s", dbev_error_message(error));
    dbev_error_destroy(error);
    assert_int_equal(seen_count("sick-1", NULL, NULL), 1);
    dbev_client_destroy(client);
}

/*
 * timeout.mode=total (the default): timeout_ms is the caller's deadline. A
 * call nobody answers returns _TIMEOUT within its deadline (+ grace, 0 here)
 * instead of after (retries+1) timeouts plus backoff; per_attempt keeps seed
 * 002's literal behaviour. Upper bounds only, with a wide margin.
 */
static void test_timeout_is_total_deadline(void **state)
{
    dbev_client_t *client = client_with("retry.backoff.ms", "100", NULL);
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_call_opts_t opts = {.correlation_id = "dead-total", .timeout_ms = 1500, .max_retries = 3};
    int64_t t0 = dbev_mono_us();
    assert_int_equal(dbev_query(client, "SELECT 1", NULL, &opts, &result, &error),
                     DBEV_ERR__TIMEOUT);
    int64_t elapsed_ms = (dbev_mono_us() - t0) / 1000;
    if (elapsed_ms > 1500 + 1000)
        fail_msg("a 1500 ms deadline returned after %lld ms", (long long)elapsed_ms);
    assert_non_null(strstr(dbev_error_message(error), "deadline"));
    dbev_error_destroy(error);
    dbev_client_destroy(client);

    client = client_with("retry.backoff.ms", "20", "timeout.mode", "per_attempt", NULL);
    opts = (dbev_call_opts_t){.correlation_id = "dead-each", .timeout_ms = 200, .max_retries = 2};
    assert_int_equal(dbev_query(client, "SELECT 1", NULL, &opts, &result, &error),
                     DBEV_ERR__TIMEOUT);
    assert_int_equal(dbev_error_attempts(error), 3);
    dbev_error_destroy(error);
    dbev_client_destroy(client);
}

/* Retries in total mode carry the first attempt's timestamp (the adapter's
 * deadline is the caller's) and byte-identical payloads (the idempotency
 * fingerprint is over the payload). */
static void test_retry_keeps_timestamp_and_payload(void **state)
{
    dbev_client_t *client = client_with("retry.backoff.ms", "20", NULL);
    outcome_t o = {0};
    assert_int_equal(send_query(client, "conn-ts", 9, 10000, 3, &o), 0);
    wait_outcomes(client, &o, 1);
    assert_int_equal(o.code, DBEV_ERR_NO_ERROR);
    assert_int_equal(o.attempts, 2);
    pthread_mutex_lock(&R.m);
    const seen_t *first = NULL;
    int n = 0;
    for (int i = 0; i < R.n_seen; i++) {
        if (strcmp(R.seen[i].corr, "conn-ts") != 0)
            continue;
        n++;
        if (!first) {
            first = &R.seen[i];
            assert_true(first->timestamp_us > 0);
            assert_non_null(first->payload);
            continue;
        }
        assert_true(R.seen[i].timestamp_us == first->timestamp_us);
        assert_string_equal(R.seen[i].payload, first->payload);
    }
    pthread_mutex_unlock(&R.m);
    assert_int_equal(n, 2);
    dbev_client_destroy(client);
}

/* The CLI's output and exit codes tell the outcomes apart. */
static void test_cli_exit_codes(void **state)
{
    char out[8192];
    assert_int_equal(
        run_cli(out, sizeof(out), "--json --correlation-id cli-ok query 'SELECT $1' -p 42"), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_str(json_object_get(doc, "correlation_id")), "cli-ok");
    json_t *row = json_array_get(json_object_get(doc, "rows"), 0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(row, "params"), 0)), 42);
    json_decref(doc);
    /* not a terminal: JSON without --json as well */
    assert_int_equal(run_cli(out, sizeof(out), "--correlation-id cli-ok2 health"), 0);
    assert_non_null(strstr(out, "\"correlation_id\": \"cli-ok2\""));
    /* an unhealthy adapter: exit 7, the verdict and its reason in the output */
    assert_int_equal(run_cli(out, sizeof(out), "--correlation-id sick-cli health"), 7);
    assert_non_null(strstr(out, "_UNHEALTHY"));
    assert_non_null(strstr(out, "database unreachable"));

    /* on a terminal (script(1) gives it a pty): an aligned table */
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "script -qec \"%s/bin/dbev -b %s --env %s --correlation-id cli-tty query "
             "'SELECT \\$1' -p 7\" /dev/null 2>/dev/null",
             DBEV_BUILD_DIR, R.bootstrap, ENV_PREFIX);
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, sizeof(out) - 1, fp);
    out[n] = '\0';
    pclose(fp);
    if (!strstr(out, " corr    | params | attempt ") || !strstr(out, "---------+") ||
        !strstr(out, " cli-tty | [7]    |       1 ") || !strstr(out, "(1 row)"))
        fail_msg("no aligned table on a terminal:\n%s", out);
    if (getenv("DBEV_TEST_VERBOSE"))
        fprintf(stderr, "%s", out);

    assert_int_equal(run_cli(out, sizeof(out), "--correlation-id sql-cli query 'SELEC 1'"), 1);
    assert_non_null(strstr(out, "42601"));
    assert_int_equal(run_cli(out, sizeof(out), "--correlation-id val-cli query 'SELECT 1'"), 3);
    assert_int_equal(
        run_cli(out, sizeof(out), "--timeout 200 --retries 0 --correlation-id hold-cli health"), 4);
    assert_non_null(strstr(out, "_TIMEOUT"));
    /* bad input: exit 2 before any network traffic */
    assert_int_equal(run_cli(out, sizeof(out), "insert items"), 2);
    assert_int_equal(run_cli(out, sizeof(out), "insert items --data '{bad json'"), 2);
    assert_int_equal(run_cli(out, sizeof(out), "update items --data '[1]' --where '{}'"), 2);
    assert_int_equal(run_cli(out, sizeof(out), "frobnicate"), 2);
    assert_int_equal(run_cli(out, sizeof(out), "query 'SELECT 1' --timeout abc"), 2);
    assert_int_equal(run_cli(out, sizeof(out), "query --help"), 0);
    assert_non_null(strstr(out, "usage: dbev query"));
    assert_int_equal(run_cli(out, sizeof(out), "--help"), 0);
    assert_non_null(strstr(out, "exit codes"));
    /* nothing listens: connection error */
    snprintf(cmd, sizeof(cmd),
             "%s/bin/dbev -b 127.0.0.1:1 -X startup.timeout.ms=300 health >/dev/null 2>&1",
             DBEV_BUILD_DIR);
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_in_flight_one_thread),
        cmocka_unit_test(test_late_response),
        cmocka_unit_test(test_oversized_request_refused_at_once),
        cmocka_unit_test(test_duplicate_response),
        cmocka_unit_test(test_unknown_response),
        cmocka_unit_test(test_retry_reuses_event_id),
        cmocka_unit_test(test_retry_policy),
        cmocka_unit_test(test_destroy_cancels),
        cmocka_unit_test(test_breaker_opens_and_recovers),
        cmocka_unit_test(test_immediate_failures),
        cmocka_unit_test(test_generated_ids_and_fd),
        cmocka_unit_test(test_blocking_from_threads),
        cmocka_unit_test(test_no_response_missed_after_start),
        cmocka_unit_test(test_logs_go_to_callback_only),
        cmocka_unit_test(test_kafka_passthrough_checked),
        cmocka_unit_test(test_startup_timeout),
        cmocka_unit_test(test_health_verdict),
        cmocka_unit_test(test_timeout_is_total_deadline),
        cmocka_unit_test(test_retry_keeps_timestamp_and_payload),
        cmocka_unit_test(test_cli_exit_codes),
    };
    return cmocka_run_group_tests(tests, setup_cluster, teardown_cluster);
}
