/*
 * `fault:` steps on Kafka (the mock cluster) and PostgreSQL (the throwaway
 * server), with an embedded adapter answering raw requests around them:
 * round-trip time shows in the answer's latency, request errors pushed on
 * Produce make a publish fail until cleared, leader changes and broker
 * down/up apply and are reverted by faults_revert(); PostgreSQL stop makes the
 * adapter answer DATABASE_CONNECTION_FAILED and start/restart bring it back
 * (the runner's direct connection re-opened), terminate_backends counts the
 * backends it ended, `slow` holds a table lock for its duration; faults the
 * environment cannot do are SKIPPED, bad parameters are step errors; faults
 * left applied are reverted (faults_revert(), or adapters_destroy()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_faults_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    *state = fk_new(2);
    fk_adapters(*state, ADAPTER_THREAD, 1);
    return 0;
}

static int teardown(void **state)
{
    fk_destroy(*state);
    return 0;
}

#define INSERT_STEP(note, expect)                                                                  \
    "raw:\n      json: {event_id: \"${uuid}\", event_type: DATABASE_QUERY_REQUESTED, "             \
    "correlation_id: \"${uuid}\", timestamp: \"${now}\", service: test, payload: "                 \
    "{operation_type: INSERT, table: items, data: {note: " note "}}}\n    timeout_ms: 20000\n"     \
    "    expect: " expect

static double raw_latency(fk_t *fk, const char *step)
{
    step_result_t res;
    fk_run(fk, step, &res);
    if (res.status != DBEV_REPORT_PASS)
        fail_msg("%s: %s", step, res.message);
    double ms = res.latency_ms;
    fk_result_free(&res);
    return ms;
}

static void test_kafka_faults(void **state)
{
    fk_t *fk = *state;
    fk_expect(fk, INSERT_STEP("k-1", "{row_count: 1}"), DBEV_REPORT_PASS); /* group joined */

    /* Round-trip time on every broker shows in the answer. */
    fk_expect(fk, "fault: {kafka: rtt, ms: 250}", DBEV_REPORT_PASS);
    double slow = raw_latency(fk, INSERT_STEP("k-2", "{row_count: 1}"));
    assert_true(slow >= 250.0);
    fk_expect(fk, "fault: {kafka: rtt, ms: 0}", DBEV_REPORT_PASS);

    /* A non-retriable error pushed on Produce fails the publish; cleared, it
     * works. (Enough of them: the adapter's producer takes its share.) */
    step_result_t res;
    fk_run(fk,
           "fault: {kafka: request_errors, api: Produce, error: TOPIC_AUTHORIZATION_FAILED, count: "
           "50}",
           &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_string_equal(json_string_value(json_object_get(res.outcome, "error")),
                        "TOPIC_AUTHORIZATION_FAILED");
    fk_result_free(&res);
    fk_run(fk, INSERT_STEP("k-3", "{row_count: 1}"), &res);
    assert_int_equal(res.status, DBEV_REPORT_ERROR);
    assert_non_null(strstr(res.message, "publishing"));
    fk_result_free(&res);
    fk_expect(fk, "fault: {kafka: request_errors, api: 0, error: 29, count: 5}", DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {kafka: clear_request_errors, api: produce}", DBEV_REPORT_PASS);
    fk_expect(fk, INSERT_STEP("k-4", "{row_count: 1}"), DBEV_REPORT_PASS);

    /* Leadership moves (short and full topic names); a broker goes down and
     * faults_revert() brings it back. */
    fk_run(fk, "fault: {kafka: leader_change, topic: completed, partition: 1, broker: 1}", &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_string_equal(json_string_value(json_object_get(res.outcome, "topic")),
                        "faults.omninode-bridge.database.query-completed.v1");
    fk_result_free(&res);
    fk_expect(
        fk,
        "fault: {kafka: leader_change, topic: faults.omninode-bridge.database.query-requested.v1, "
        "partition: 1, broker: 1}",
        DBEV_REPORT_PASS);
    /* (No request while it is down: broker 2 may be the group's coordinator.) */
    fk_expect(fk, "fault: {kafka: broker_down, broker: 2}", DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {kafka: broker_up, broker: 2}", DBEV_REPORT_PASS);
    fk_expect(fk, INSERT_STEP("k-5", "{row_count: 1}"), DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {kafka: broker_down, broker: 2}", DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {kafka: rtt, broker: 1, ms: 3000}", DBEV_REPORT_PASS);
    faults_revert(&fk->ctx);
    fk_expect(fk, "fault: {kafka: leader_change, topic: requests, partition: 1, broker: 2}",
              DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {kafka: leader_change, topic: completed, partition: 1, broker: 2}",
              DBEV_REPORT_PASS);
    /* The first answer may still queue behind responses delayed before the revert. */
    fk_expect(fk, INSERT_STEP("k-6", "{row_count: 1}"), DBEV_REPORT_PASS);
    double fast =
        raw_latency(fk, "raw: {json: {correlation_id: \"${uuid}\"}, key: k6}\n"
                        "    expect: {error_code: VALIDATION_ERROR}\n    timeout_ms: 20000");
    /* Bounded against the faults, not against the machine: an RTT left in
     * place costs at least 6 s (3 s each way); reconnect and NOT_LEADER
     * backoffs on a loaded machine may take a good part of a second. */
    assert_true(fast < 2500.0);

    /* Mistakes are step errors, with the reason. */
    fk_run(fk, "fault: {kafka: broker_down, broker: 3}", &res);
    assert_int_equal(res.status, DBEV_REPORT_ERROR);
    assert_non_null(strstr(res.message, "1..2"));
    fk_result_free(&res);
    fk_expect(fk, "fault: {kafka: rtt}", DBEV_REPORT_ERROR);
    fk_expect(fk, "fault: {kafka: request_errors, api: Frobnicate, error: 1}", DBEV_REPORT_ERROR);
    fk_expect(fk, "fault: {kafka: request_errors, api: Fetch, error: NO_SUCH_ERROR}",
              DBEV_REPORT_ERROR);
    fk_expect(fk, "fault: {kafka: leader_change, partition: 0}", DBEV_REPORT_ERROR);
    fk_expect(fk, "fault: {kafka: explode}", DBEV_REPORT_ERROR);

    /* Without the mock cluster: SKIPPED, and the feature says why. */
    mockenv_t *mk = fk->ctx.kafka;
    fk->ctx.kafka = NULL;
    fk_run(fk, "fault: {kafka: broker_down, broker: 1}", &res);
    fk->ctx.kafka = mk;
    assert_int_equal(res.status, DBEV_REPORT_SKIP);
    assert_non_null(strstr(res.message, "--kafka-bootstrap"));
    fk_result_free(&res);
}

static PGresult *direct_exec(fk_t *fk, const char *sql)
{
    return PQexec(fk->ctx.direct, sql);
}

static void test_postgres_faults(void **state)
{
    fk_t *fk = *state;
    fk_expect(fk, INSERT_STEP("p-1", "{row_count: 1}"), DBEV_REPORT_PASS);

    /* slow: statements on the table wait for the lock's duration. */
    fk_expect(fk, "fault: {postgres: slow, table: items, ms: 1200}", DBEV_REPORT_PASS);
    assert_true(raw_latency(fk, INSERT_STEP("p-2", "{row_count: 1}")) >= 900.0);
    fk_expect(fk, "fault: {postgres: slow, table: public.items, ms: 100}", DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {postgres: slow, table: no_such_table, ms: 100}", DBEV_REPORT_ERROR);
    fk_expect(fk, "fault: {postgres: slow, table: items}", DBEV_REPORT_ERROR);

    /* terminate_backends: the adapter's pool connection and the runner's; the
     * runner's is re-opened. */
    step_result_t res;
    fk_run(fk, "fault: {postgres: terminate_backends}", &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_true(json_integer_value(json_object_get(res.outcome, "terminated")) >= 2);
    fk_result_free(&res);
    PGresult *r = direct_exec(fk, "SELECT 1");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);

    /* stop: the adapter answers DATABASE_CONNECTION_FAILED; start: back. */
    fk_expect(fk, "fault: {postgres: stop}", DBEV_REPORT_PASS);
    assert_int_equal(PQping(fk->ctx.conninfo), PQPING_NO_RESPONSE);
    fk_expect(fk, INSERT_STEP("p-3", "{error_code: DATABASE_CONNECTION_FAILED}"), DBEV_REPORT_PASS);
    fk_expect(fk, "fault: {postgres: start}", DBEV_REPORT_PASS);
    r = direct_exec(fk, "SELECT 1");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    fk_expect(fk, "fault: {postgres: restart}", DBEV_REPORT_PASS);
    r = direct_exec(fk, "SELECT 1");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);

    /* A server left stopped is started by faults_revert(). */
    fk_expect(fk, "fault: {postgres: stop}", DBEV_REPORT_PASS);
    faults_revert(&fk->ctx);
    assert_int_equal(PQping(fk->ctx.conninfo), PQPING_OK);
    fk_expect(fk, "fault: {postgres: vacuum}", DBEV_REPORT_ERROR);

    /* --pg-dsn: the server is not the harness's to stop (SKIP), the feature says why. */
    char err[512], why[256];
    pgenv_opts_t popts = {0};
    popts.quiet = true;
    popts.pg_dsn = fk->ctx.conninfo;
    pgenv_t *ext = pgenv_new(&popts, err, sizeof(err));
    if (!ext)
        fail_msg("pgenv_new(dsn): %s", err);
    pgenv_t *own = fk->ctx.pg;
    fk->ctx.pg = ext;
    fk_run(fk, "fault: {postgres: stop}", &res);
    bool has = runctx_has_feature(&fk->ctx, "local_postgres", why, sizeof(why));
    fk->ctx.pg = own;
    pgenv_destroy(ext);
    assert_int_equal(res.status, DBEV_REPORT_SKIP);
    assert_non_null(strstr(res.message, "--pg-dsn"));
    fk_result_free(&res);
    assert_false(has);
    assert_non_null(strstr(why, "--pg-dsn"));

    fk_expect(fk, INSERT_STEP("p-4", "{row_count: 1}"), DBEV_REPORT_PASS);
    assert_int_equal(fk_query_long(fk, "SELECT count(*) FROM items WHERE note LIKE 'p-%'"), 3);

    /* The safety net: a runner that forgets faults_revert() still gets the
     * server back when it destroys the scenario's adapters. */
    fk_expect(fk, "fault: {postgres: stop}", DBEV_REPORT_PASS);
    adapters_destroy(fk->ctx.adapters);
    fk->ctx.adapters = NULL;
    assert_int_equal(PQping(fk->ctx.conninfo), PQPING_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kafka_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_postgres_faults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
