/*
 * Integration tests of the adapter embedded as a thread (dbev_adapter_start),
 * on a throwaway PostgreSQL and the mock Kafka cluster: every operation
 * answered through Kafka on the right topic with the correlation id kept;
 * SQL errors answered on the failed topic with their SQLSTATE; unparseable
 * input answered VALIDATION_ERROR while the adapter keeps going; a duplicate
 * event executed once (the second answer cached); requests of one partition
 * executed in order; the registry announcement and heartbeats published; a
 * graceful stop answering everything consumed; an abort (crash) after which
 * the next instance answers everything without applying a write twice; a
 * second instance joining mid-stream (rebalance); offsets committed only
 * after the broker acknowledged the answers (answers held by taking a
 * partition's leader away, the group's offsets read with rd_kafka_committed);
 * a response refused by the broker produced again, not skipped, and its
 * request not committed before the resent answer is acknowledged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_adapter_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 20000

static const char *schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL, qty integer,"
    "  price numeric(10,2), tags jsonb, created_at timestamptz DEFAULT now());"
    "CREATE TABLE seqlog (id bigserial PRIMARY KEY, n integer NOT NULL, p integer);";

/* Every adapter a test starts is recorded here, so that teardown stops them
 * all even when an assertion fails half way: a leftover instance would stay
 * in the consumer group and take partitions from the next test. */
#define MAX_ADAPTERS 4

typedef struct fixture {
    kit_t *kit;
    dbev_adapter_t *adapter; /* the instance the tests talk to (also in all[]) */
    dbev_adapter_t *all[MAX_ADAPTERS];
} fixture_t;

/* Creates and starts an adapter from conf (taken), recorded in f->all. */
static dbev_adapter_t *start_adapter(fixture_t *f, dbev_adapter_conf_t *conf, char *err,
                                     size_t size)
{
    int slot = 0;
    while (slot < MAX_ADAPTERS && f->all[slot])
        slot++;
    if (slot == MAX_ADAPTERS) {
        dbev_adapter_conf_destroy(conf);
        snprintf(err, size, "more than %d adapters at once", MAX_ADAPTERS);
        return NULL;
    }
    dbev_adapter_t *adapter = dbev_adapter_new(conf, err, size);
    if (!adapter) {
        dbev_adapter_conf_destroy(conf);
        return NULL;
    }
    f->all[slot] = adapter;
    if (dbev_adapter_start(adapter, err, size))
        return NULL; /* recorded: teardown destroys it */
    return adapter;
}

/* Stops and destroys one recorded adapter (NULL: no-op). */
static void stop_adapter(fixture_t *f, dbev_adapter_t *adapter)
{
    if (!adapter)
        return;
    for (int i = 0; i < MAX_ADAPTERS; i++)
        if (f->all[i] == adapter)
            f->all[i] = NULL;
    if (f->adapter == adapter)
        f->adapter = NULL;
    dbev_adapter_destroy(adapter);
}

static dbev_adapter_t *start_main(fixture_t *f)
{
    dbev_adapter_conf_t *conf = kit_adapter_conf(f->kit);
    char err[512];
    dbev_adapter_conf_set(conf, "instance.id", "adapter-under-test", err, sizeof(err));
    f->adapter = start_adapter(f, conf, err, sizeof(err));
    if (!f->adapter)
        fprintf(stderr, "starting the adapter: %s\n", err);
    return f->adapter;
}

static int teardown(void **state);

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    f->kit = kit_new(schema, 3);
    if (!start_main(f)) {
        teardown(state);
        *state = NULL;
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < MAX_ADAPTERS; i++)
        stop_adapter(f, f->all[i]);
    kit_destroy(f->kit);
    free(f);
    return 0;
}

/* After each test, also a failed one: only the main instance keeps running
 * (started again if the test left none) and the faults a test armed are
 * gone, so one failure does not spread. */
static int test_teardown(void **state)
{
    fixture_t *f = *state;
    char err[512];
    mockenv_clear_request_errors(f->kit->mk, 0 /* Produce */, err, sizeof(err));
    for (int p = 0; p < mockenv_partitions(f->kit->mk); p++) {
        mockenv_partition_leader(f->kit->mk, mockenv_topic(f->kit->mk, DBEV_TOPIC_COMPLETED), p, 1,
                                 err, sizeof(err));
        mockenv_partition_leader(f->kit->mk, mockenv_topic(f->kit->mk, DBEV_TOPIC_FAILED), p, 1,
                                 err, sizeof(err));
    }
    for (int i = 0; i < MAX_ADAPTERS; i++)
        if (f->all[i] && f->all[i] != f->adapter)
            stop_adapter(f, f->all[i]);
    return f->adapter || start_main(f) ? 0 : -1;
}

/* Sends one operation and waits for its answer; checks the envelope. */
static const kit_resp_t *call(fixture_t *f, const char *payload, bool want_completed)
{
    char cid[DBEV_ID_SIZE] = "", eid[40];
    kit_send_op(f->kit, payload, cid, NULL, eid);
    kit_flush(f->kit);
    const kit_resp_t *r = kit_wait(f->kit, cid, WAIT_MS);
    if (!r)
        fail_msg("no answer to %s", payload);
    if (r->completed != want_completed)
        fail_msg("%s answered on the %s topic: %s", payload, r->completed ? "completed" : "failed",
                 r->text);
    assert_string_equal(r->resp->correlation_id, cid);
    assert_string_equal(r->resp->service, DBEV_ADAPTER_SERVICE);
    assert_string_not_equal(r->resp->event_id, eid);
    assert_int_equal(r->resp->completed, want_completed);
    return r;
}

static json_t *row0(const kit_resp_t *r)
{
    json_t *row = json_array_get(r->resp->rows, 0);
    if (!row)
        fail_msg("no rows in %s", r->text);
    return row;
}

static void test_every_operation(void **state)
{
    fixture_t *f = *state;
    const kit_resp_t *r;

    r = call(f,
             "{\"operation_type\":\"INSERT\",\"table\":\"items\",\"data\":{\"name\":\"op-a\","
             "\"qty\":1,\"price\":9.5,\"tags\":{\"x\":[1,2]}},\"returning\":[\"id\",\"name\","
             "\"tags\"]}",
             true);
    assert_int_equal(r->resp->op, DBEV_OP_INSERT);
    assert_int_equal(r->resp->row_count, 1);
    assert_string_equal(json_string_value(json_object_get(row0(r), "name")), "op-a");
    assert_true(json_is_object(json_object_get(row0(r), "tags")));
    assert_false(r->resp->cached);
    assert_string_equal(r->resp->circuit_breaker_state, "CLOSED");

    r = call(f,
             "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT name, qty FROM items WHERE name "
             "= $1\",\"params\":[\"op-a\"]}",
             true);
    assert_int_equal(r->resp->op, DBEV_OP_SELECT);
    assert_int_equal(r->resp->row_count, 1);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "qty")), 1);

    r = call(f,
             "{\"operation_type\":\"UPDATE\",\"table\":\"items\",\"data\":{\"qty\":5},"
             "\"where\":{\"name\":\"op-a\"},\"returning\":[\"qty\"]}",
             true);
    assert_int_equal(r->resp->row_count, 1);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "qty")), 5);

    r = call(f,
             "{\"operation_type\":\"UPSERT\",\"table\":\"items\",\"data\":{\"name\":\"op-a\","
             "\"qty\":7},\"conflict_columns\":[\"name\"],\"update_columns\":[\"qty\"],"
             "\"returning\":[\"qty\"]}",
             true);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "qty")), 7);

    r = call(f,
             "{\"operation_type\":\"BATCH_INSERT\",\"table\":\"items\",\"rows\":[{\"name\":"
             "\"op-b\",\"qty\":1},{\"name\":\"op-c\",\"qty\":2},{\"name\":\"op-a\",\"qty\":0}],"
             "\"on_conflict\":{\"columns\":[\"name\"],\"action\":\"nothing\"}}",
             true);
    assert_int_equal(r->resp->op, DBEV_OP_BATCH_INSERT);
    assert_int_equal(r->resp->row_count, 2);

    r = call(f,
             "{\"operation_type\":\"EXECUTE\",\"sql\":\"UPDATE items SET qty = qty + 1 WHERE "
             "name = $1\",\"params\":[\"op-b\"]}",
             true);
    assert_int_equal(r->resp->row_count, 1);

    r = call(f,
             "{\"operation_type\":\"TRANSACTION\",\"operations\":["
             "{\"operation_type\":\"INSERT\",\"table\":\"items\",\"data\":{\"name\":\"op-d\","
             "\"qty\":1}},"
             "{\"operation_type\":\"UPDATE\",\"table\":\"items\",\"data\":{\"qty\":2},"
             "\"where\":{\"name\":\"op-d\"}}]}",
             true);
    assert_int_equal(r->resp->op, DBEV_OP_TRANSACTION);

    r = call(f,
             "{\"operation_type\":\"DELETE\",\"table\":\"items\",\"where\":{\"name\":{\"$in\":"
             "[\"op-b\",\"op-c\"]}}}",
             true);
    assert_int_equal(r->resp->row_count, 2);

    r = call(f, "{\"operation_type\":\"HEALTH\"}", true);
    assert_int_equal(r->resp->op, DBEV_OP_HEALTH);

    /* SQL errors go to the failed topic with their SQLSTATE. */
    r = call(f, "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT * FROM no_such_table\"}", false);
    assert_int_equal(r->resp->error_code, DBEV_ERR_DATABASE_OPERATION_FAILED);
    assert_string_equal(r->resp->sqlstate, "42P01");
    r = call(f, "{\"operation_type\":\"INSERT\",\"table\":\"items\",\"data\":{\"name\":\"op-a\"}}",
             false);
    assert_int_equal(r->resp->error_code, DBEV_ERR_DATABASE_OPERATION_FAILED);
    assert_string_equal(r->resp->sqlstate, "23505");
    /* A SELECT cannot write. */
    r = call(f, "{\"operation_type\":\"SELECT\",\"sql\":\"DELETE FROM items RETURNING id\"}",
             false);

    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM items"), 2);
    assert_int_equal(kit_query_long(f->kit, "SELECT qty FROM items WHERE name = 'op-d'"), 2);
}

static void test_unparseable_input(void **state)
{
    fixture_t *f = *state;
    dbev_adapter_stats_t before, after;
    dbev_adapter_stats(f->adapter, &before);
    static const struct {
        const char *text; /* NULL: an empty (tombstone) message */
        const char *key;
        const char *want_cid; /* the correlation id the answer must carry */
    } cases[] = {
        {"this is not json", "k-notjson", "k-notjson"},
        {"[1,2,3]", "k-array", "k-array"},
        {NULL, "k-empty", "k-empty"},
        {"{\"event_id\":\"e1\",\"correlation_id\":\"c-badop\",\"event_type\":"
         "\"DATABASE_QUERY_REQUESTED\",\"timestamp\":\"2025-10-30T10:00:00.000Z\","
         "\"service\":\"t\",\"payload\":{\"operation_type\":42}}",
         NULL, "c-badop"},
        {"{\"event_id\":\"e2\",\"correlation_id\":\"c-types\",\"event_type\":"
         "\"DATABASE_QUERY_REQUESTED\",\"timestamp\":\"2025-10-30T10:00:00.000Z\","
         "\"service\":\"t\",\"payload\":{\"operation_type\":\"INSERT\",\"table\":\"items\","
         "\"data\":\"name=x\"}}",
         "other-key", "c-types"},
        {"{\"event_id\":\"e3\",\"event_type\":\"DATABASE_QUERY_REQUESTED\",\"payload\":{}}",
         "k-nocid", "k-nocid"},
        {"{\"event_id\":\"e4\",\"correlation_id\":\"c-hostile\",\"event_type\":"
         "\"DATABASE_QUERY_REQUESTED\",\"timestamp\":\"2025-10-30T10:00:00.000Z\","
         "\"service\":\"t\",\"payload\":{\"operation_type\":\"INSERT\",\"table\":"
         "\"items; DROP TABLE items\",\"data\":{\"name\":\"x\"}}}",
         NULL, "c-hostile"},
        {"\xff\xfe\x00garbage", "k-binary", "k-binary"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        size_t len = !cases[i].text ? 0 : i == n - 1 ? 10 : strlen(cases[i].text);
        kit_send_raw(f->kit, cases[i].text, len, cases[i].key);
    }
    for (size_t i = 0; i < n; i++) {
        const kit_resp_t *r = kit_wait(f->kit, cases[i].want_cid, WAIT_MS);
        if (!r)
            fail_msg("case %zu: no answer with correlation id %s", i, cases[i].want_cid);
        assert_false(r->completed);
        assert_int_equal(r->resp->error_code, DBEV_ERR_VALIDATION_ERROR);
        assert_non_null(r->resp->error_message);
    }
    /* the adapter keeps going */
    const kit_resp_t *r =
        call(f, "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 1 AS one\"}", true);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "one")), 1);
    dbev_adapter_stats(f->adapter, &after);
    assert_int_equal(after.invalid - before.invalid, n);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM items WHERE name = 'x'"), 0);
}

static void test_duplicate_executed_once(void **state)
{
    fixture_t *f = *state;
    char cid[DBEV_ID_SIZE] = "", eid[40];
    const char *op = "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-1}}";
    kit_send_op(f->kit, op, cid, NULL, eid);
    kit_flush(f->kit);
    const kit_resp_t *first = kit_wait(f->kit, cid, WAIT_MS);
    assert_non_null(first);
    assert_true(first->completed);
    assert_false(first->resp->cached);
    /* the same event again, as a redelivery would bring it */
    kit_send_op(f->kit, op, cid, eid, NULL);
    kit_flush(f->kit);
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    while (kit_count(f->kit, cid) < 2 && dbev_mono_us() < deadline)
        kit_collect(f->kit, f->kit->n_resps + 1, 100);
    assert_int_equal(kit_count(f->kit, cid), 2);
    /* the second answer in arrival order (first may have moved: the array grows) */
    const kit_resp_t *second = NULL;
    int seen = 0;
    for (size_t i = 0; i < f->kit->n_resps && !second; i++)
        if (!strcmp(f->kit->resps[i].correlation_id, cid) && ++seen == 2)
            second = &f->kit->resps[i];
    assert_non_null(second);
    assert_true(second->completed);
    assert_true(second->resp->cached);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM seqlog WHERE n = -1"), 1);
}

static void send_to(fixture_t *f, int partition, const char *payload, char *cid_out)
{
    char cid[40], eid[40], text[768];
    dbev_uuid_new(cid);
    dbev_uuid_new(eid);
    snprintf(text, sizeof(text),
             "{\"event_id\":\"%s\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
             "\"correlation_id\":\"%s\",\"timestamp\":\"2030-01-01T00:00:00.000Z\","
             "\"service\":\"t\",\"payload\":%s}",
             eid, cid, payload);
    rd_kafka_producev(f->kit->producer,
                      RD_KAFKA_V_TOPIC(mockenv_topic(f->kit->mk, DBEV_TOPIC_REQUESTED)),
                      RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_VALUE(text, strlen(text)),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (cid_out)
        strcpy(cid_out, cid);
}

/* Sends the n-th ordered insert to partition n % 3. */
static void send_seq(fixture_t *f, int n, char *cid_out)
{
    char payload[128];
    snprintf(payload, sizeof(payload),
             "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":%d,\"p\":%d}}", n,
             n % 3);
    send_to(f, n % 3, payload, cid_out);
}

static bool sleeping(void *arg)
{
    return kit_query_long(arg, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                               "'SELECT pg_sleep(0.6)%' AND state = 'active'") > 0;
}

/* Requests of one partition run in the order sent, also with the partitions
 * spread over two executor lanes (exec.lanes defaults to 2). A burst (a
 * large job, split between the lanes: partition 1 on lane 1) holds a 0.6 s
 * statement on partition 1 amid its inserts; while it sleeps, single
 * requests (small jobs, run whole on lane 0) follow on every partition. A
 * small job must wait for the split job before it: else its partition-1
 * insert would pass the burst's. Then more bursts and singles alternate.
 * Per partition the rows' ids (insertion order) grow with the send order. */
static void test_partition_order(void **state)
{
    fixture_t *f = *state;
    char cid[DBEV_ID_SIZE] = "";
    int n = 0;
    for (; n < 120; n++) {
        if (n == 100)
            send_to(f, 1, "{\"operation_type\":\"EXECUTE\",\"sql\":\"SELECT pg_sleep(0.6)\"}",
                    NULL);
        send_seq(f, n, cid);
    }
    kit_flush(f->kit);
    assert_true(kit_wait_for(sleeping, f->kit, WAIT_MS));
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 12; k++, n++) { /* a few at a time: small jobs */
            send_seq(f, n, cid);
            kit_flush(f->kit);
        }
        assert_non_null(kit_wait(f->kit, cid, WAIT_MS));
        for (int k = 0; k < 90; k++, n++) /* a burst */
            send_seq(f, n, cid);
        kit_flush(f->kit);
    }
    assert_non_null(kit_wait(f->kit, cid, WAIT_MS));
    kit_collect(f->kit, f->kit->n_resps, 0);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM seqlog WHERE n >= 0 AND n < %d", n);
    assert_int_equal(kit_query_long(f->kit, sql), n);
    assert_int_equal(kit_query_long(f->kit,
                                    "SELECT count(*) FROM (SELECT n, lag(n) OVER (PARTITION BY p "
                                    "ORDER BY id) AS prev FROM seqlog WHERE n >= 0) s "
                                    "WHERE n < prev"),
                     0);
}

static bool is_announcement(const char *text, void *arg)
{
    return strstr(text, "\"SERVICE_REGISTERED\"") && strstr(text, (const char *)arg) &&
           strstr(text, "\"status\":\"up\"");
}

static bool is_heartbeat(const char *text, void *arg)
{
    return strstr(text, "\"SERVICE_HEARTBEAT\"") && strstr(text, (const char *)arg) &&
           strstr(text, "\"health\"");
}

static void test_registry_and_heartbeat(void **state)
{
    fixture_t *f = *state;
    char topic[256];
    const char *iid = dbev_adapter_instance_id(f->adapter);
    assert_string_equal(iid, "adapter-under-test");
    dbev_topic_name("test", DBEV_TOPIC_REGISTRY, topic, sizeof(topic));
    char *text = kit_read_topic(f->kit, topic, is_announcement, (void *)iid, WAIT_MS);
    assert_non_null(text);
    json_t *event = json_loads(text, 0, NULL);
    json_t *payload = json_object_get(event, "payload");
    assert_string_equal(json_string_value(json_object_get(payload, "service_name")),
                        "database-adapter-effect");
    assert_string_equal(json_string_value(json_object_get(payload, "service_type")), "effect");
    assert_string_equal(json_string_value(json_object_get(payload, "version")),
                        dbev_adapter_version());
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(payload, "endpoint"), "requests")),
        "test.omninode-bridge.database.query-requested.v1");
    json_decref(event);
    free(text);

    dbev_topic_name("test", DBEV_TOPIC_HEARTBEAT, topic, sizeof(topic));
    text = kit_read_topic(f->kit, topic, is_heartbeat, (void *)iid, WAIT_MS);
    assert_non_null(text);
    event = json_loads(text, 0, NULL);
    payload = json_object_get(event, "payload");
    assert_string_equal(json_string_value(json_object_get(payload, "status")), "healthy");
    assert_true(json_is_object(json_object_get(payload, "health")));
    json_decref(event);
    free(text);

    dbev_adapter_stats_t stats;
    dbev_adapter_stats(f->adapter, &stats);
    assert_true(stats.registered);
    assert_true(stats.heartbeats >= 1);
    char *health = dbev_adapter_health_json(f->adapter);
    assert_non_null(health);
    assert_non_null(strstr(health, "\"counters\""));
    free(health);
}

/* A graceful stop answers everything consumed and commits it. */
static void test_graceful_stop(void **state)
{
    fixture_t *f = *state;
    enum { N = 300 };
    char cids[N][DBEV_ID_SIZE];
    for (int i = 0; i < N; i++) {
        cids[i][0] = '\0';
        kit_send_op(f->kit,
                    "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-2}}",
                    cids[i], NULL, NULL);
    }
    kit_flush(f->kit);
    /* stop as soon as some are answered */
    assert_non_null(kit_wait(f->kit, cids[0], WAIT_MS));
    dbev_adapter_stop(f->adapter);
    assert_int_equal(dbev_adapter_join(f->adapter), 0);
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(f->adapter, &stats);
    assert_false(stats.running);
    assert_int_equal(stats.in_flight, 0);
    assert_int_equal(stats.delivered, stats.completed + stats.failed);
    stop_adapter(f, f->adapter);

    /* a second instance of the group takes over the rest: all answered, none twice applied */
    assert_non_null(start_main(f));
    for (int i = 0; i < N; i++)
        if (!kit_wait(f->kit, cids[i], WAIT_MS))
            fail_msg("request %d unanswered", i);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM seqlog WHERE n = -2"), N);
}

/* A conf for consumer.assignment=all (the kit's otherwise). */
/* group_id NULL: the group the fixture's adapters joined. */
static dbev_adapter_conf_t *assign_all_conf(fixture_t *f, const char *group_id)
{
    char err[512];
    dbev_adapter_conf_t *conf = kit_adapter_conf(f->kit);
    assert_int_equal(dbev_adapter_conf_set(conf, "consumer.assignment", "all", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    if (group_id)
        assert_int_equal(dbev_adapter_conf_set(conf, "group.id", group_id, err, sizeof(err)),
                         DBEV_ADAPTER_CONF_OK);
    return conf;
}

/* consumer.assignment=all: an instance takes every request partition at
 * once without joining the group, and a successor resumes from the offsets
 * it committed to its own group id: all answered, no write applied twice,
 * and the successor does not read its predecessor's requests again. The
 * topic also holds the earlier tests' requests (about 2,000), which the
 * first instance, new to its group id, reads from the start: it is stopped
 * only once it has answered its own N (stopped earlier, beside busy tests,
 * it had not yet reached them all, and its successor read 315). */
static void test_assign_all_resumes(void **state)
{
    fixture_t *f = *state;
    stop_adapter(f, f->adapter);
    char err[512];
    dbev_adapter_t *first =
        start_adapter(f, assign_all_conf(f, "dbev-test-assign-all"), err, sizeof(err));
    assert_non_null(first);
    enum { N = 200, M = 20 };
    char cids[N + M][DBEV_ID_SIZE];
    for (int i = 0; i < N; i++) {
        cids[i][0] = '\0';
        kit_send_op(f->kit,
                    "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-11}}",
                    cids[i], NULL, NULL);
    }
    kit_flush(f->kit);
    for (int i = 0; i < N; i++)
        if (!kit_wait(f->kit, cids[i], WAIT_MS))
            fail_msg("request %d unanswered by the first instance", i);
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(first, &stats);
    assert_int_equal(stats.assigned, mockenv_partitions(f->kit->mk)); /* all of them, at once */
    dbev_adapter_stop(first);
    assert_int_equal(dbev_adapter_join(first), 0);
    dbev_adapter_stats(first, &stats);
    uint64_t first_consumed = stats.consumed;
    assert_int_equal(stats.commit_failures, 0);
    stop_adapter(f, first);

    f->adapter = start_adapter(f, assign_all_conf(f, "dbev-test-assign-all"), err, sizeof(err));
    assert_non_null(f->adapter);
    for (int i = N; i < N + M; i++) {
        cids[i][0] = '\0';
        kit_send_op(f->kit,
                    "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-11}}",
                    cids[i], NULL, NULL);
    }
    kit_flush(f->kit);
    for (int i = N; i < N + M; i++)
        if (!kit_wait(f->kit, cids[i], WAIT_MS))
            fail_msg("request %d unanswered by the successor", i);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM seqlog WHERE n = -11"), N + M);
    /* The successor read its M and nothing its predecessor had committed
     * (the broker may redeliver a batch whose commit was in flight at the
     * stop, hence not an equality); from the start it would read them all. */
    dbev_adapter_stats(f->adapter, &stats);
    if (stats.consumed < M || stats.consumed >= N)
        fail_msg("the successor consumed %llu requests after its predecessor's %llu (its own: "
                 "%d): it did not resume from the committed offsets",
                 (unsigned long long)stats.consumed, (unsigned long long)first_consumed, M);
}

static bool commit_refused(void *arg)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(arg, &stats);
    return stats.commit_failures > 0;
}

/* consumer.assignment=all on a group id that members joined (the fixture's
 * adapters, earlier): the broker refuses its commits; they are counted (and
 * logged with the fix), and the requests are still answered. */
static void test_assign_all_shared_group_refused(void **state)
{
    fixture_t *f = *state;
    stop_adapter(f, f->adapter);
    char err[512];
    f->adapter = start_adapter(f, assign_all_conf(f, NULL), err, sizeof(err));
    assert_non_null(f->adapter);
    char cid[DBEV_ID_SIZE] = "";
    kit_send_op(f->kit, "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-12}}",
                cid, NULL, NULL);
    kit_flush(f->kit);
    assert_non_null(kit_wait(f->kit, cid, WAIT_MS));
    assert_true(kit_wait_for(commit_refused, f->adapter, WAIT_MS));
}

/* An abort (a crash, for the harness's faults): nothing more is answered or
 * committed; the next instance answers everything, no write applied twice. */
static void test_abort(void **state)
{
    fixture_t *f = *state;
    enum { N = 300 };
    char cids[N][DBEV_ID_SIZE];
    for (int i = 0; i < N; i++) {
        cids[i][0] = '\0';
        kit_send_op(f->kit,
                    "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-3}}",
                    cids[i], NULL, NULL);
    }
    kit_flush(f->kit);
    assert_non_null(kit_wait(f->kit, cids[0], WAIT_MS));
    dbev_adapter_abort(f->adapter);
    assert_int_equal(dbev_adapter_join(f->adapter), 0);
    stop_adapter(f, f->adapter);

    assert_non_null(start_main(f));
    for (int i = 0; i < N; i++)
        if (!kit_wait(f->kit, cids[i], WAIT_MS))
            fail_msg("request %d unanswered", i);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM seqlog WHERE n = -3"), N);
}

static bool has_partitions(void *arg)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(arg, &stats);
    return stats.assigned > 0;
}

static bool consumed_some(void *arg)
{
    dbev_adapter_stats_t st;
    dbev_adapter_stats(arg, &st);
    return st.consumed > 0;
}

/* A second instance joins the group mid-stream: the first hands over
 * partitions (finishing, acknowledging and committing what it consumed from
 * them), both answer, every request answered, no write applied twice. */
static void test_second_instance_joins(void **state)
{
    fixture_t *f = *state;
    enum { N = 1000 };
    char(*cids)[DBEV_ID_SIZE] = calloc(N, DBEV_ID_SIZE);
    dbev_adapter_t *second = NULL;
    for (int i = 0; i < N; i++) {
        kit_send_op(f->kit,
                    "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-4}}",
                    cids[i], NULL, NULL);
        if (i == N / 4) {
            kit_flush(f->kit);
            char err[512];
            second = start_adapter(f, kit_adapter_conf(f->kit), err, sizeof(err));
            if (!second)
                fail_msg("second instance: %s", err);
        }
    }
    kit_flush(f->kit);
    assert_true(kit_wait_for(has_partitions, second, WAIT_MS));
    for (int i = 0; i < N; i++)
        if (!kit_wait(f->kit, cids[i], WAIT_MS))
            fail_msg("request %d unanswered", i);
    /* requests sent after the join are shared */
    char cid[DBEV_ID_SIZE];
    for (int i = 0; i < 60; i++) {
        cid[0] = '\0';
        kit_send_op(f->kit, "{\"operation_type\":\"HEALTH\"}", cid, NULL, NULL);
    }
    kit_flush(f->kit);
    assert_non_null(kit_wait(f->kit, cid, WAIT_MS));
    /* the last answer may come from the first instance before the second has
     * polled its share: wait for that on a condition */
    assert_true(kit_wait_for(consumed_some, second, WAIT_MS));
    dbev_adapter_stats_t a, b;
    dbev_adapter_stats(f->adapter, &a);
    dbev_adapter_stats(second, &b);
    assert_true(a.assigned > 0);
    assert_true(b.assigned > 0);
    assert_true(b.consumed > 0);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM seqlog WHERE n = -4"), N);
    stop_adapter(f, second);
    free(cids);
}

/* The answers of one partition of the completed and failed topics are held
 * by taking away its leader: the adapter's producer keeps them queued, with
 * no error, until the leader is back. The requests' partition is another. */
#define HELD_PARTITION    0
#define REQUEST_PARTITION 2

static bool has_in_flight(void *arg)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(arg, &stats);
    return stats.in_flight > 0;
}

/* The group's committed offset of the requests partition must not pass the
 * request at offset: committed offsets name the next request to read. */
static void assert_not_committed(fixture_t *f, int64_t offset, const char *when)
{
    int64_t committed = kit_committed(f->kit, REQUEST_PARTITION);
    if (committed > offset)
        fail_msg("%s: the group's offset of partition %d was committed to %lld, past the request "
                 "at %lld whose answer is not acknowledged",
                 when, REQUEST_PARTITION, (long long)committed, (long long)offset);
}

/* Sends a request whose answer is not held and waits until the group's
 * offset passes it: the group is settled (no rebalance under way, in which
 * commits are refused) and the adapter commits, so a wrong commit later
 * cannot hide behind a refused one. */
static void wait_commits_work(fixture_t *f)
{
    char cid[DBEV_ID_SIZE];
    kit_cid_for_partition(f->kit, HELD_PARTITION + 1, cid);
    int64_t off = kit_send_to(f->kit, REQUEST_PARTITION,
                              "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 1\"}", cid);
    if (!kit_wait(f->kit, cid, WAIT_MS))
        fail_msg("no answer to a request before the test");
    kit_wait_committed_past(f->kit, REQUEST_PARTITION, off, WAIT_MS);
}

static bool row_written(void *arg)
{
    return kit_query_long(arg, "SELECT count(*) FROM seqlog WHERE n = -5") == 1;
}

/* Offsets are committed only after the answers are acknowledged, asserted
 * without timing: request B is executed but its answer held by the broker;
 * request E, behind B in the same partition, is answered on another
 * partition, so the adapter has gone round its loop (and had every chance to
 * commit) after publishing B. The group's offset must not pass B until B's
 * answer is acknowledged, and must pass both once it is. */
static void test_commit_waits_for_ack(void **state)
{
    fixture_t *f = *state;
    char cid_b[DBEV_ID_SIZE], cid_e[DBEV_ID_SIZE];
    kit_cid_for_partition(f->kit, HELD_PARTITION, cid_b);
    kit_cid_for_partition(f->kit, HELD_PARTITION + 1, cid_e);
    wait_commits_work(f);
    kit_hold_answers(f->kit, HELD_PARTITION, true);
    int64_t off_b = kit_send_to(
        f->kit, REQUEST_PARTITION,
        "{\"operation_type\":\"INSERT\",\"table\":\"seqlog\",\"data\":{\"n\":-5}}", cid_b);
    assert_true(kit_wait_for(row_written, f->kit, WAIT_MS));
    assert_true(kit_wait_for(has_in_flight, f->adapter, WAIT_MS));
    int64_t off_e =
        kit_send_to(f->kit, REQUEST_PARTITION, "{\"operation_type\":\"HEALTH\"}", cid_e);
    assert_true(off_e > off_b);
    if (!kit_wait(f->kit, cid_e, WAIT_MS))
        fail_msg("no answer to the request behind the held one");
    assert_int_equal(kit_count(f->kit, cid_b), 0);
    assert_not_committed(f, off_b, "answer held by the broker");

    kit_hold_answers(f->kit, HELD_PARTITION, false);
    const kit_resp_t *r = kit_wait(f->kit, cid_b, WAIT_MS);
    if (!r)
        fail_msg("no answer to the held request after its partition got its leader back");
    assert_true(r->completed);
    kit_wait_committed_past(f->kit, REQUEST_PARTITION, off_e, WAIT_MS);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM seqlog WHERE n = -5"), 1);
}

static bool delivery_failed(void *arg)
{
    void **a = arg;
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(a[0], &stats);
    return stats.delivery_errors > *(uint64_t *)a[1];
}

/* A response the broker refuses is produced again, never skipped: the
 * request is answered and its offset committed only after that. The answer
 * is held (leaderless partition) while the fault is armed, so the refusal
 * hits it and nothing else; the resend then meets a few retriable errors, so
 * the adapter has time to commit wrongly between the refusal and the
 * acknowledgement of the resent answer. */
static void test_delivery_failure_resent(void **state)
{
    fixture_t *f = *state;
    stop_adapter(f, f->adapter);
    /* held before the adapter starts: its producer never tries the partition */
    kit_hold_answers(f->kit, HELD_PARTITION, true);
    dbev_adapter_conf_t *conf = kit_adapter_conf(f->kit);
    char err[512];
    /* no heartbeat after the first: the injected errors must hit the response */
    assert_int_equal(
        dbev_adapter_conf_set(conf, "heartbeat.interval.ms", "3600000", err, sizeof(err)),
        DBEV_ADAPTER_CONF_OK);
    f->adapter = start_adapter(f, conf, err, sizeof(err));
    if (!f->adapter)
        fail_msg("adapter: %s", err);
    wait_commits_work(f); /* also: the adapter is up and registered */

    dbev_adapter_stats_t before;
    dbev_adapter_stats(f->adapter, &before);
    char cid[DBEV_ID_SIZE];
    kit_cid_for_partition(f->kit, HELD_PARTITION, cid);
    int64_t off = kit_send_to(f->kit, REQUEST_PARTITION,
                              "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 2 AS two\"}", cid);
    assert_true(kit_wait_for(has_in_flight, f->adapter, WAIT_MS));
    assert_not_committed(f, off, "answer held by the broker");
    const rd_kafka_resp_err_t errors[] = {
        RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,  /* refused: reported, the adapter resends */
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, /* retried by librdkafka after a backoff */
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS};
    assert_int_equal(
        mockenv_push_request_errors(f->kit->mk, 0 /* Produce */, 4, errors, err, sizeof(err)), 0);
    kit_hold_answers(f->kit, HELD_PARTITION, false);
    void *args[2] = {f->adapter, &before.delivery_errors};
    assert_true(kit_wait_for(delivery_failed, args, WAIT_MS));
    assert_not_committed(f, off, "answer refused by the broker, resent");
    const kit_resp_t *r = kit_wait(f->kit, cid, WAIT_MS);
    assert_non_null(r);
    assert_true(r->completed);
    kit_wait_committed_past(f->kit, REQUEST_PARTITION, off, WAIT_MS);
    assert_int_equal(kit_count(f->kit, cid), 1);
    dbev_adapter_stats_t after;
    dbev_adapter_stats(f->adapter, &after);
    assert_int_equal(after.delivery_errors - before.delivery_errors, 1);
    /* and the adapter goes on */
    call(f, "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 3 AS three\"}", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_operation, test_teardown),
        cmocka_unit_test_teardown(test_unparseable_input, test_teardown),
        cmocka_unit_test_teardown(test_duplicate_executed_once, test_teardown),
        cmocka_unit_test_teardown(test_partition_order, test_teardown),
        cmocka_unit_test_teardown(test_registry_and_heartbeat, test_teardown),
        cmocka_unit_test_teardown(test_graceful_stop, test_teardown),
        cmocka_unit_test_teardown(test_abort, test_teardown),
        cmocka_unit_test_teardown(test_second_instance_joins, test_teardown),
        cmocka_unit_test_teardown(test_commit_waits_for_ack, test_teardown),
        cmocka_unit_test_teardown(test_delivery_failure_resent, test_teardown),
        /* last: their instances leave the fixture's group without a member */
        cmocka_unit_test_teardown(test_assign_all_resumes, test_teardown),
        cmocka_unit_test_teardown(test_assign_all_shared_group_refused, test_teardown),
    };
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
