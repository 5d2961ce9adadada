/*
 * Integration tests of libdbev against the REAL adapter (embedded as a
 * thread), a throwaway PostgreSQL (pgenv) and the mock Kafka cluster
 * (mockenv), set up with the adapter tests' kit: every call in its blocking
 * and its asynchronous form, with the database state checked directly;
 * correlation ids round-trip (also on the wire); SQL errors carry SQLSTATE
 * and are not retried; a timeout while the adapter is stopped; retries
 * across an adapter outage reuse the event id and the write happens once;
 * the client's breaker opens while the adapter is down and recovers after.
 * Every wait is on a condition with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dbev/dbev.h"
#include "test_adapter_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define WAIT_MS 30000

static const char *schema =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL, qty integer);";

typedef struct fixture {
    kit_t *kit;
    dbev_adapter_t *adapter;
    dbev_client_t *client;
} fixture_t;

/* One adapter at a time, and what is tested is the client. */
static const char *const lone_adapter[] = {KIT_LONE_ADAPTER, NULL};

static void start_adapter(fixture_t *f)
{
    f->adapter = kit_start_adapter(f->kit, lone_adapter, 0);
}

static void stop_adapter(fixture_t *f)
{
    dbev_adapter_destroy(f->adapter);
    f->adapter = NULL;
}

static dbev_client_t *new_client3(fixture_t *f, const char *k1, const char *v1, const char *k2,
                                  const char *v2, const char *k3, const char *v3)
{
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", mockenv_bootstrap(f->kit->mk)},
                           {"topic.prefix", mockenv_env_name(f->kit->mk)},
                           {"kafka.log_level", "0"},
                           {"service.name", "client-test"},
                           {k1, v1},
                           {k2, v2},
                           {k3, v3}};
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (kv[i][0] && dbev_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)))
            fail_msg("conf %s: %s", kv[i][0], errstr);
    dbev_client_t *client = dbev_client_new(conf, errstr, sizeof(errstr));
    if (!client) {
        dbev_conf_destroy(conf);
        fail_msg("dbev_client_new: %s", errstr);
    }
    return client;
}

static dbev_client_t *new_client(fixture_t *f, const char *k1, const char *v1, const char *k2,
                                 const char *v2)
{
    return new_client3(f, k1, v1, k2, v2, NULL, NULL);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    f->kit = kit_new(schema, 3);
    f->adapter = kit_start_adapter(f->kit, lone_adapter, WAIT_MS);
    /* One retry at most: a broken adapter shows as one clear failure, not a cascade. */
    f->client = new_client(f, "max.retries", "1", NULL, NULL);
    dbev_result_t *r = NULL;
    dbev_error_t *e = NULL;
    dbev_call_opts_t opts = {.timeout_ms = 15000, .max_retries = -1};
    if (dbev_health_check(f->client, &opts, &r, &e) != DBEV_ERR_NO_ERROR)
        fail_msg("the adapter does not answer a health check: %s", dbev_error_message(e));
    dbev_result_destroy(r);
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f)
        return 0;
    dbev_client_destroy(f->client);
    dbev_adapter_destroy(f->adapter);
    kit_destroy(f->kit);
    free(f);
    return 0;
}

/* ---- the calls ---------------------------------------------------------------- */

typedef struct outcome {
    int calls;
    dbev_result_t *result;
    dbev_error_t *error;
} outcome_t;

static void on_done(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error, void *opaque)
{
    outcome_t *o = opaque;
    o->calls++;
    o->result = result;
    o->error = error;
}

static void wait_outcome(dbev_client_t *client, outcome_t *o)
{
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    while (!o->calls && dbev_mono_us() < deadline)
        dbev_client_poll(client, 100);
    if (!o->calls)
        fail_msg("no completion before the deadline");
}

/*
 * Runs one call in the form asked for; the answer lands in *resultp (or the
 * test fails with the error). `async` selects dbev_X_async + poll.
 */
typedef enum {
    OP_QUERY,
    OP_EXECUTE,
    OP_INSERT,
    OP_UPDATE,
    OP_DELETE,
    OP_UPSERT,
    OP_BATCH,
    OP_TXN,
    OP_HEALTH
} call_t;

typedef struct call_args {
    const char *sql;
    const char *table;
    json_t *params, *data, *where, *rows, *ops;
    const char *returning, *conflict, *update;
    dbev_on_conflict_t on_conflict;
    const char *correlation_id;
} call_args_t;

static dbev_err_t run_call(fixture_t *f, call_t op, const call_args_t *a, bool async,
                           dbev_result_t **resultp, dbev_error_t **errorp)
{
    dbev_client_t *c = f->client;
    dbev_call_opts_t opts = {.correlation_id = a->correlation_id};
    *resultp = NULL;
    *errorp = NULL;
    if (!async) {
        switch (op) {
        case OP_QUERY:
            return dbev_query(c, a->sql, a->params, &opts, resultp, errorp);
        case OP_EXECUTE:
            return dbev_execute(c, a->sql, a->params, &opts, resultp, errorp);
        case OP_INSERT:
            return dbev_insert(c, a->table, a->data, a->returning, &opts, resultp, errorp);
        case OP_UPDATE:
            return dbev_update(c, a->table, a->data, a->where, a->returning, &opts, resultp,
                               errorp);
        case OP_DELETE:
            return dbev_delete(c, a->table, a->where, NULL, &opts, resultp, errorp);
        case OP_UPSERT:
            return dbev_upsert(c, a->table, a->data, a->conflict, a->update, a->returning, &opts,
                               resultp, errorp);
        case OP_BATCH:
            return dbev_batch_insert(c, a->table, a->rows, a->on_conflict, a->conflict, a->update,
                                     NULL, &opts, resultp, errorp);
        case OP_TXN:
            return dbev_transaction(c, a->ops, &opts, resultp, errorp);
        case OP_HEALTH:
            return dbev_health_check(c, &opts, resultp, errorp);
        }
    }
    outcome_t o = {0};
    dbev_err_t err = DBEV_ERR__INVALID_ARG;
    switch (op) {
    case OP_QUERY:
        err = dbev_query_async(c, a->sql, a->params, &opts, on_done, &o, errorp);
        break;
    case OP_EXECUTE:
        err = dbev_execute_async(c, a->sql, a->params, &opts, on_done, &o, errorp);
        break;
    case OP_INSERT:
        err = dbev_insert_async(c, a->table, a->data, a->returning, &opts, on_done, &o, errorp);
        break;
    case OP_UPDATE:
        err = dbev_update_async(c, a->table, a->data, a->where, a->returning, &opts, on_done, &o,
                                errorp);
        break;
    case OP_DELETE:
        err = dbev_delete_async(c, a->table, a->where, NULL, &opts, on_done, &o, errorp);
        break;
    case OP_UPSERT:
        err = dbev_upsert_async(c, a->table, a->data, a->conflict, a->update, a->returning, &opts,
                                on_done, &o, errorp);
        break;
    case OP_BATCH:
        err = dbev_batch_insert_async(c, a->table, a->rows, a->on_conflict, a->conflict, a->update,
                                      NULL, &opts, on_done, &o, errorp);
        break;
    case OP_TXN:
        err = dbev_transaction_async(c, a->ops, &opts, on_done, &o, errorp);
        break;
    case OP_HEALTH:
        err = dbev_health_check_async(c, &opts, on_done, &o, errorp);
        break;
    }
    if (err)
        return err;
    wait_outcome(c, &o);
    assert_int_equal(o.calls, 1);
    *resultp = o.result;
    *errorp = o.error;
    return o.error ? dbev_error_code(o.error) : DBEV_ERR_NO_ERROR;
}

static dbev_result_t *ok_call(fixture_t *f, call_t op, const call_args_t *a, bool async)
{
    dbev_result_t *result;
    dbev_error_t *error;
    dbev_err_t err = run_call(f, op, a, async, &result, &error);
    if (err)
        fail_msg("call %d (%s) failed: %s: %s", (int)op, async ? "async" : "blocking",
                 dbev_err2name(err), error ? dbev_error_message(error) : "");
    assert_non_null(result);
    return result;
}

static json_t *row0(dbev_result_t *result)
{
    json_t *row = json_array_get(dbev_result_rows(result), 0);
    if (!row)
        fail_msg("no rows");
    return row;
}

static void every_call(fixture_t *f, bool async)
{
    const char *p = async ? "a" : "b"; /* row names unique per form */
    char name1[32], name2[32], name3[32], sql[256];
    snprintf(name1, sizeof(name1), "%s-one", p);
    snprintf(name2, sizeof(name2), "%s-two", p);
    snprintf(name3, sizeof(name3), "%s-three", p);
    dbev_result_t *r;

    /* insert with RETURNING */
    call_args_t a = {.table = "items", .returning = "id, name, qty"};
    a.data = json_pack("{s:s, s:i}", "name", name1, "qty", 1);
    r = ok_call(f, OP_INSERT, &a, async);
    assert_int_equal(dbev_result_row_count(r), 1);
    assert_string_equal(json_string_value(json_object_get(row0(r), "name")), name1);
    assert_true(json_integer_value(json_object_get(row0(r), "id")) > 0);
    dbev_result_destroy(r);
    json_decref(a.data);

    /* query with a parameter */
    a = (call_args_t){.sql = "SELECT name, qty FROM items WHERE name = $1"};
    a.params = json_pack("[s]", name1);
    r = ok_call(f, OP_QUERY, &a, async);
    assert_int_equal(dbev_result_row_count(r), 1);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "qty")), 1);
    assert_true(dbev_result_execution_time_ms(r) >= 0);
    assert_true(json_is_object(dbev_result_metadata(r)));
    dbev_result_destroy(r);
    json_decref(a.params);

    /* update */
    a = (call_args_t){.table = "items", .returning = "qty"};
    a.data = json_pack("{s:i}", "qty", 5);
    a.where = json_pack("{s:s}", "name", name1);
    r = ok_call(f, OP_UPDATE, &a, async);
    assert_int_equal(dbev_result_row_count(r), 1);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "qty")), 5);
    dbev_result_destroy(r);
    json_decref(a.data);
    json_decref(a.where);

    /* upsert (conflict on name: updates qty) */
    a = (call_args_t){.table = "items", .conflict = "name", .update = "qty", .returning = "qty"};
    a.data = json_pack("{s:s, s:i}", "name", name1, "qty", 7);
    r = ok_call(f, OP_UPSERT, &a, async);
    assert_int_equal(json_integer_value(json_object_get(row0(r), "qty")), 7);
    dbev_result_destroy(r);
    json_decref(a.data);

    /* batch insert, duplicates skipped */
    a = (call_args_t){
        .table = "items", .on_conflict = DBEV_ON_CONFLICT_DO_NOTHING, .conflict = "name"};
    a.rows = json_pack("[{s:s, s:i}, {s:s, s:i}, {s:s, s:i}]", "name", name2, "qty", 2, "name",
                       name3, "qty", 3, "name", name1, "qty", 0);
    r = ok_call(f, OP_BATCH, &a, async);
    assert_int_equal(dbev_result_row_count(r), 2);
    dbev_result_destroy(r);
    json_decref(a.rows);

    /* execute */
    a = (call_args_t){.sql = "UPDATE items SET qty = qty + 1 WHERE name = $1 OR name = $2"};
    a.params = json_pack("[s, s]", name2, name3);
    r = ok_call(f, OP_EXECUTE, &a, async);
    assert_int_equal(dbev_result_row_count(r), 2);
    dbev_result_destroy(r);
    json_decref(a.params);

    /* transaction: both operations or none */
    a = (call_args_t){0};
    a.ops = json_pack("[{s:s, s:s, s:{s:i}, s:{s:s}}, {s:s, s:s, s:{s:i}, s:{s:s}}]",
                      "operation_type", "UPDATE", "table", "items", "data", "qty", 20, "where",
                      "name", name2, "operation_type", "UPDATE", "table", "items", "data", "qty",
                      30, "where", "name", name3);
    r = ok_call(f, OP_TXN, &a, async);
    assert_non_null(dbev_result_op_results(r));
    assert_int_equal(json_array_size(dbev_result_op_results(r)), 2);
    dbev_result_destroy(r);
    json_decref(a.ops);
    snprintf(sql, sizeof(sql), "SELECT qty FROM items WHERE name = '%s'", name3);
    assert_int_equal(kit_query_long(f->kit, sql), 30);

    /* delete */
    a = (call_args_t){.table = "items"};
    a.where = json_pack("{s:{s:[s, s]}}", "name", "$in", name2, name3);
    r = ok_call(f, OP_DELETE, &a, async);
    assert_int_equal(dbev_result_row_count(r), 2);
    dbev_result_destroy(r);
    json_decref(a.where);

    /* health */
    a = (call_args_t){0};
    r = ok_call(f, OP_HEALTH, &a, async);
    dbev_result_destroy(r);

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM items WHERE name LIKE '%s-%%'", p);
    assert_int_equal(kit_query_long(f->kit, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT qty FROM items WHERE name = '%s'", name1);
    assert_int_equal(kit_query_long(f->kit, sql), 7);
}

static void test_every_call_blocking(void **state)
{
    every_call(*state, false);
}

static void test_every_call_async(void **state)
{
    every_call(*state, true);
}

/* The caller's correlation id comes back on the result and travels on the wire. */
static void test_correlation_ids_round_trip(void **state)
{
    fixture_t *f = *state;
    for (int async = 0; async <= 1; async++) {
        char corr[64];
        snprintf(corr, sizeof(corr), "corr-round-trip-%d", async);
        call_args_t a = {.sql = "SELECT 1 AS one", .correlation_id = corr};
        dbev_result_t *r = ok_call(f, OP_QUERY, &a, async);
        assert_string_equal(dbev_result_correlation_id(r), corr);
        assert_int_equal(dbev_result_attempts(r), 1);
        dbev_result_destroy(r);
        const kit_resp_t *wire = kit_wait(f->kit, corr, WAIT_MS);
        assert_non_null(wire);
        assert_string_equal(wire->resp->correlation_id, corr);
    }
    /* generated ones too */
    call_args_t a = {.sql = "SELECT 1 AS one"};
    dbev_result_t *r = ok_call(f, OP_QUERY, &a, false);
    assert_int_equal(strlen(dbev_result_correlation_id(r)), 36);
    assert_non_null(kit_wait(f->kit, dbev_result_correlation_id(r), WAIT_MS));
    dbev_result_destroy(r);
}

/* SQL errors carry SQLSTATE, are not retried, and are not the client's fault. */
static void test_sql_errors(void **state)
{
    fixture_t *f = *state;
    for (int async = 0; async <= 1; async++) {
        call_args_t a = {.sql = "SELECT * FROM no_such_table"};
        dbev_result_t *r;
        dbev_error_t *e;
        assert_int_equal(run_call(f, OP_QUERY, &a, async, &r, &e),
                         DBEV_ERR_DATABASE_OPERATION_FAILED);
        assert_null(r);
        assert_string_equal(dbev_error_sqlstate(e), "42P01");
        assert_int_equal(dbev_error_attempts(e), 1);
        assert_false(dbev_error_is_retriable(e));
        dbev_error_destroy(e);
    }
    assert_string_equal(dbev_client_breaker_state(f->client), "CLOSED");
}

typedef struct attempts_seen {
    int want, n;
    char event_ids[128][DBEV_ID_SIZE];
} attempts_seen_t;

/* Collects the event ids of the request events with correlation id "retry-w". */
static bool collect_attempts(const char *text, void *arg)
{
    attempts_seen_t *seen = arg;
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    if (dbev_request_decode(text, strlen(text), &req, &derr) == 0) {
        if (!strcmp(req->correlation_id, "retry-w") && seen->n < 128)
            snprintf(seen->event_ids[seen->n++], DBEV_ID_SIZE, "%s", req->event_id);
        dbev_request_destroy(req);
    }
    return seen->n >= seen->want;
}

/* Runs the dbev CLI against this environment; returns its exit code, stdout in out. */
static int run_cli(fixture_t *f, char *out, size_t size, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "%s/bin/dbev -b %s --env %s --retries 0 --timeout 15000 %s 2>/dev/null",
             DBEV_BUILD_DIR, mockenv_bootstrap(f->kit->mk), mockenv_env_name(f->kit->mk), args);
    FILE *fp = popen(cmd, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, size - 1, fp);
    out[n] = '\0';
    int status = pclose(fp);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The CLI against the real adapter: writes, reads, SQL errors and their exit codes. */
static void test_cli(void **state)
{
    fixture_t *f = *state;
    char out[8192];
    assert_int_equal(run_cli(f, out, sizeof(out),
                             "insert items --data '{\"name\":\"cli-row\",\"qty\":3}' "
                             "--returning id,qty --correlation-id cli-insert"),
                     0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "correlation_id")), "cli-insert");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(doc, "rows"), 0), "qty")),
        3);
    json_decref(doc);
    assert_int_equal(kit_query_long(f->kit, "SELECT qty FROM items WHERE name = 'cli-row'"), 3);
    assert_int_equal(run_cli(f, out, sizeof(out),
                             "update items --data '{\"qty\":4}' --where '{\"name\":\"cli-row\"}'"),
                     0);
    assert_int_equal(run_cli(f, out, sizeof(out),
                             "upsert items --data '{\"name\":\"cli-row\",\"qty\":5}' "
                             "--conflict name --update qty"),
                     0);
    assert_int_equal(
        run_cli(f, out, sizeof(out), "query 'SELECT qty FROM items WHERE name = $1' -p cli-row"),
        0);
    assert_non_null(strstr(out, "\"qty\": 5"));
    assert_int_equal(run_cli(f, out, sizeof(out),
                             "execute 'UPDATE items SET qty = $1 WHERE name = $2' -p 6 -p cli-row"),
                     0);
    assert_non_null(strstr(out, "\"row_count\": 1"));
    assert_int_equal(run_cli(f, out, sizeof(out), "delete items --where '{\"name\":\"cli-row\"}'"),
                     0);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM items WHERE name = 'cli-row'"),
                     0);
    assert_int_equal(run_cli(f, out, sizeof(out), "health"), 0);
    /* discovery: the adapter announced itself on the registry topic */
    assert_int_equal(
        run_cli(f, out, sizeof(out), "instances --name database-adapter-effect --type effect"), 0);
    json_t *list = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "service_name")),
                        "database-adapter-effect");
    json_decref(list);
    assert_int_equal(run_cli(f, out, sizeof(out), "instances --type orchestrator"), 0);
    assert_string_equal(out, "[]\n");
    /* a SQL error: exit 1, SQLSTATE in the JSON */
    assert_int_equal(run_cli(f, out, sizeof(out), "query 'SELECT * FROM no_such_table'"), 1);
    assert_non_null(strstr(out, "42P01"));
    /* a unique violation */
    assert_int_equal(run_cli(f, out, sizeof(out), "insert items --data '{\"name\":\"dup-cli\"}'"),
                     0);
    assert_int_equal(run_cli(f, out, sizeof(out), "insert items --data '{\"name\":\"dup-cli\"}'"),
                     1);
    assert_non_null(strstr(out, "23505"));
}

static bool late_seen(void *arg)
{
    dbev_client_stats_t st;
    dbev_client_stats(arg, &st);
    return st.late > 0 || st.duplicate > 0;
}

/*
 * With the adapter stopped: a call times out; another call keeps retrying
 * (same event id) until the adapter is back, then succeeds, and the row is
 * written once although the adapter received the request several times.
 */
static void test_adapter_down_timeout_and_retries(void **state)
{
    fixture_t *f = *state;
    stop_adapter(f);

    dbev_result_t *r = NULL;
    dbev_error_t *e = NULL;
    dbev_call_opts_t opts = {.timeout_ms = 300, .max_retries = -1, .correlation_id = "down-1"};
    assert_int_equal(dbev_query(f->client, "SELECT 1", NULL, &opts, &r, &e), DBEV_ERR__TIMEOUT);
    assert_int_equal(dbev_error_code(e), DBEV_ERR__TIMEOUT);
    assert_int_equal(dbev_error_attempts(e), 1);
    assert_true(dbev_error_is_retriable(e));
    dbev_error_destroy(e);

    /* A second client with fast retries and no breaker, so the outage is ridden
     * out; per attempt, since each attempt's 500 ms must not share one budget. */
    dbev_client_t *retrier = new_client3(f, "retry.backoff.ms", "200", "circuit.breaker.enable",
                                         "false", "timeout.mode", "per_attempt");
    outcome_t o = {0};
    json_t *data = json_pack("{s:s, s:i}", "name", "retried-once", "qty", 1);
    dbev_call_opts_t ropts = {.timeout_ms = 500, .max_retries = 60, .correlation_id = "retry-w"};
    assert_int_equal(dbev_insert_async(retrier, "items", data, "id", &ropts, on_done, &o, NULL), 0);
    json_decref(data);
    /* let a few attempts time out before the adapter comes back */
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    dbev_client_stats_t st = {0};
    while (st.retries < 2 && dbev_mono_us() < deadline) {
        dbev_client_poll(retrier, 50);
        dbev_client_stats(retrier, &st);
    }
    assert_true(st.retries >= 2);

    start_adapter(f);
    wait_outcome(retrier, &o);
    if (o.error)
        fail_msg("retried insert failed: %s", dbev_error_message(o.error));
    assert_true(dbev_result_attempts(o.result) >= 3);
    const char *event_id = dbev_result_event_id(o.result);
    assert_int_equal(strlen(event_id), 36);
    assert_int_equal(
        kit_query_long(f->kit, "SELECT count(*) FROM items WHERE name = 'retried-once'"), 1);
    /* on the wire, every attempt was the same event */
    attempts_seen_t seen = {.want = dbev_result_attempts(o.result)};
    char *last = kit_read_topic(f->kit, mockenv_topic(f->kit->mk, DBEV_TOPIC_REQUESTED),
                                collect_attempts, &seen, WAIT_MS);
    assert_non_null(last);
    free(last);
    assert_int_equal(seen.n, dbev_result_attempts(o.result));
    for (int i = 0; i < seen.n; i++)
        assert_string_equal(seen.event_ids[i], event_id);
    /* (st.unknown is not checked: this second client also sees the answers to
     * the fixture client's requests, which are unknown to it) */
    dbev_client_stats(retrier, &st);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.failed, 0);
    dbev_result_destroy(o.result);
    dbev_client_destroy(retrier);

    /* the timed-out "down-1" request is answered now that the adapter runs: late */
    assert_true(kit_wait_for(late_seen, f->client, WAIT_MS));
    dbev_client_stats(f->client, &st);
    assert_true(st.late >= 1);
}

static bool breaker_half_open(void *arg)
{
    return strcmp(dbev_client_breaker_state(arg), "HALF_OPEN") == 0;
}

/* The breaker opens on timeouts while the adapter is down and closes after it is back. */
static void test_breaker_opens_and_recovers(void **state)
{
    fixture_t *f = *state;
    dbev_client_t *c = new_client(f, "circuit.breaker.failure.threshold", "2",
                                  "circuit.breaker.recovery.ms", "2000");
    stop_adapter(f);
    dbev_call_opts_t opts = {.timeout_ms = 200, .max_retries = -1};
    dbev_result_t *r = NULL;
    for (int i = 0; i < 2; i++)
        assert_int_equal(dbev_query(c, "SELECT 1", NULL, &opts, &r, NULL), DBEV_ERR__TIMEOUT);
    assert_string_equal(dbev_client_breaker_state(c), "OPEN");
    dbev_error_t *e = NULL;
    assert_int_equal(dbev_query(c, "SELECT 1", NULL, &opts, &r, &e), DBEV_ERR_CIRCUIT_BREAKER_OPEN);
    assert_int_equal(dbev_error_attempts(e), 0); /* refused without sending */
    dbev_error_destroy(e);

    start_adapter(f);
    assert_true(kit_wait_for(kit_adapter_assigned, f->adapter, WAIT_MS));
    assert_true(kit_wait_for(breaker_half_open, c, WAIT_MS));
    dbev_call_opts_t probe = {.timeout_ms = 15000, .max_retries = -1};
    assert_int_equal(dbev_query(c, "SELECT 1 AS one", NULL, &probe, &r, NULL), 0);
    dbev_result_destroy(r);
    assert_string_equal(dbev_client_breaker_state(c), "CLOSED");
    dbev_client_stats_t st;
    dbev_client_stats(c, &st);
    assert_int_equal(st.breaker_opened, 1);
    assert_int_equal(st.breaker_refused, 1);
    dbev_client_destroy(c);
}

/* Seed 000's query(limit=, offset=) and seed 002's update() answering its first row. */
static void test_seed_api_closures(void **state)
{
    fixture_t *f = *state;
    dbev_result_t *r = NULL;
    dbev_error_t *e = NULL;
    dbev_call_opts_t opts = {.limit = 3, .offset = 2};
    json_t *params = json_pack("[i]", 10);
    /* the caller's ORDER BY and a trailing line comment survive the paging */
    assert_int_equal(dbev_query(f->client,
                                "SELECT g AS n FROM generate_series(1, $1::int) g ORDER BY g "
                                "-- the whole series;",
                                params, &opts, &r, &e),
                     0);
    json_t *rows = dbev_result_rows(r);
    assert_int_equal(json_array_size(rows), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 2), "n")), 5);
    dbev_result_destroy(r);
    json_decref(params);
    opts = (dbev_call_opts_t){.limit = -1};
    assert_int_equal(dbev_query(f->client, "SELECT 1", NULL, &opts, &r, &e), DBEV_ERR__INVALID_ARG);
    dbev_error_destroy(e);
    opts = (dbev_call_opts_t){.limit = 1};
    assert_int_equal(dbev_execute(f->client, "SELECT 1", NULL, &opts, &r, &e),
                     DBEV_ERR__INVALID_ARG);
    dbev_error_destroy(e);

    json_t *data = json_pack("{s:s, s:i}", "name", "first-row", "qty", 1);
    assert_int_equal(dbev_insert(f->client, "items", data, "id", NULL, &r, NULL), 0);
    assert_non_null(json_object_get(dbev_result_first_row(r), "id"));
    dbev_result_destroy(r);
    json_decref(data);
    json_t *set = json_pack("{s:i}", "qty", 7), *where = json_pack("{s:s}", "name", "first-row");
    assert_int_equal(dbev_update(f->client, "items", set, where, "qty", NULL, &r, NULL), 0);
    assert_int_equal(json_integer_value(json_object_get(dbev_result_first_row(r), "qty")), 7);
    dbev_result_destroy(r);
    assert_int_equal(dbev_update(f->client, "items", set, where, NULL, NULL, &r, NULL), 0);
    assert_null(dbev_result_first_row(r)); /* no returning: None, as the seed says */
    dbev_result_destroy(r);
    json_decref(set);
    json_decref(where);
}

static bool health_ok(void *arg)
{
    dbev_result_t *r = NULL;
    dbev_call_opts_t opts = {.timeout_ms = 5000, .max_retries = -1};
    dbev_err_t err = dbev_health_check(arg, &opts, &r, NULL);
    dbev_result_destroy(r);
    return err == DBEV_ERR_NO_ERROR;
}

/*
 * Seed 002's fallback (`if await client.health_check(): ... else: direct
 * path`) with PostgreSQL stopped: the adapter still answers, but the call
 * says unhealthy (DBEV_ERR__UNHEALTHY, database_reachable false) and `dbev
 * health` exits 7; with PostgreSQL back both say healthy again.
 */
static void test_health_postgres_stopped(void **state)
{
    fixture_t *f = *state;
    char out[8192], err[512];
    assert_true(health_ok(f->client));
    assert_int_equal(pgenv_stop_server(f->kit->pg, err, sizeof(err)), 0);

    dbev_result_t *r = NULL;
    dbev_error_t *e = NULL;
    dbev_call_opts_t opts = {.timeout_ms = 15000, .max_retries = -1};
    assert_int_equal(dbev_health_check(f->client, &opts, &r, &e), DBEV_ERR__UNHEALTHY);
    assert_null(r);
    json_t *h = dbev_error_health(e);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "status")), "UNHEALTHY");
    assert_true(json_is_false(json_object_get(h, "database_reachable")));
    assert_non_null(strstr(dbev_error_message(e), "database unreachable"));
    dbev_error_destroy(e);

    assert_int_equal(run_cli(f, out, sizeof(out), "health"), 7);
    assert_non_null(strstr(out, "_UNHEALTHY"));
    assert_non_null(strstr(out, "\"database_reachable\": false"));

    assert_int_equal(pgenv_start_server(f->kit->pg, err, sizeof(err)), 0);
    assert_true(kit_wait_for(health_ok, f->client, WAIT_MS));
    assert_int_equal(run_cli(f, out, sizeof(out), "health"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call_blocking),
        cmocka_unit_test(test_every_call_async),
        cmocka_unit_test(test_correlation_ids_round_trip),
        cmocka_unit_test(test_sql_errors),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_seed_api_closures),
        cmocka_unit_test(test_adapter_down_timeout_and_retries),
        cmocka_unit_test(test_breaker_opens_and_recovers),
        cmocka_unit_test(test_health_postgres_stopped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
