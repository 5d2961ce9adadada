/*
 * The adapter supervisor and the `raw:` step, against a throwaway
 * PostgreSQL and the mock cluster: adapters as threads and as dbev-adapter
 * embedded as threads answer raw requests (valid, invalid JSON answered
 * VALIDATION_ERROR, a duplicate answered from the dedupe record, nothing
 * answering an event nobody consumes); thread mode refuses process faults
 * (SKIP) and the features say why; bad settings and external mode; a
 * request published before the adapter joined is answered. The
 * process mode is test_faults_process.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_faults_kit.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int setup(void **state)
{
    *state = fk_new(1);
    return 0;
}

static int teardown(void **state)
{
    fk_destroy(*state);
    return 0;
}

#define INSERT_STEP(note)                                                                          \
    "raw:\n      json: {event_id: \"${uuid}\", event_type: DATABASE_QUERY_REQUESTED, "             \
    "correlation_id: \"${uuid}\", timestamp: \"${now}\", service: test, payload: "                 \
    "{operation_type: INSERT, table: items, data: {note: " note "}}}\n    timeout_ms: 20000\n"     \
    "    expect: {row_count: 1}"

static void test_thread_mode(void **state)
{
    fk_t *fk = *state;
    fk_adapters(fk, ADAPTER_THREAD, 1);
    assert_int_equal(adapters_count(fk->ctx.adapters), 1);
    assert_false(adapters_supports_process_faults(fk->ctx.adapters));
    assert_true(adapters_running(fk->ctx.adapters, 0));

    fk_expect(fk, INSERT_STEP("thread-1"), DBEV_REPORT_PASS);
    assert_int_equal(fk_query_long(fk, "SELECT count(*) FROM items WHERE note = 'thread-1'"), 1);

    /* Not JSON at all: answered VALIDATION_ERROR under the generated key. */
    step_result_t res;
    fk_run(fk, "raw: {bytes: '{\"event_type\": oops'}\n    expect: {error_code: VALIDATION_ERROR}",
           &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_string_equal(json_string_value(json_object_get(res.outcome, "topic")), "failed");
    fk_result_free(&res);
    /* Expecting success of bad input fails the step with the code seen. */
    fk_run(fk, "raw: {bytes: 'not json', key: bad-key-1}", &res);
    assert_int_equal(res.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(res.message, "VALIDATION_ERROR"));
    assert_string_equal(json_string_value(json_object_get(res.outcome, "correlation_id")),
                        "bad-key-1");
    fk_result_free(&res);

    /* The same event twice: two answers, the second from the dedupe record, one row. */
    fk_run(fk,
           "raw:\n      count: 2\n      json: {event_id: \"${uuid:dup}\", event_type: "
           "DATABASE_QUERY_REQUESTED, correlation_id: \"${uuid:dupc}\", timestamp: \"${now}\", "
           "service: test, payload: {operation_type: INSERT, table: items, data: {note: dup}}}\n"
           "    expect: {metadata: {cached: true}}",
           &res);
    if (res.status != DBEV_REPORT_PASS)
        fail_msg("duplicate: %s", res.message);
    assert_int_equal(json_integer_value(json_object_get(res.outcome, "answers")), 2);
    fk_result_free(&res);
    assert_int_equal(fk_query_long(fk, "SELECT count(*) FROM items WHERE note = 'dup'"), 1);

    /* Nothing answers an event on the heartbeat topic, nor a forged answer on
     * the completed topic (the step's own copy is not an answer); a request
     * is answered, which fails expect_no_answer. */
    fk_expect(fk,
              "raw: {json: {correlation_id: \"${uuid}\", event_type: DATABASE_QUERY_COMPLETED}, "
              "topic: completed, expect_no_answer: true}\n    timeout_ms: 300",
              DBEV_REPORT_PASS);
    fk_expect(fk,
              "raw: {json: {correlation_id: \"${uuid}\"}, topic: heartbeat, expect_no_answer: "
              "true}\n    timeout_ms: 500",
              DBEV_REPORT_PASS);
    fk_expect(fk,
              "raw: {json: {event_id: \"${uuid}\", event_type: DATABASE_QUERY_REQUESTED, "
              "correlation_id: \"${uuid}\", timestamp: \"${now}\", service: test, payload: "
              "{operation_type: SELECT, sql: SELECT 1}}, expect_no_answer: true}\n    timeout_ms: "
              "3000",
              DBEV_REPORT_FAIL);

    /* Process faults are refused on threads (SKIP), and the features say so. */
    fk_expect(fk, "fault: {adapter: kill}", DBEV_REPORT_SKIP);
    fk_expect(fk, "fault: {adapter: stop, index: 0}", DBEV_REPORT_SKIP);
    char why[256];
    assert_false(runctx_has_feature(&fk->ctx, "process_adapter", why, sizeof(why)));
    assert_non_null(strstr(why, "--adapter process"));
    assert_true(runctx_has_feature(&fk->ctx, "mock_kafka", why, sizeof(why)));
    assert_true(runctx_has_feature(&fk->ctx, "local_postgres", why, sizeof(why)));
    assert_false(runctx_has_feature(&fk->ctx, "multi_adapter", why, sizeof(why)));
    assert_false(runctx_has_feature(&fk->ctx, "teleport", why, sizeof(why)));
    assert_non_null(strstr(why, "process_adapter"));

    /* The supervisor API itself: a thread adapter can be aborted and restarted. */
    char err[256];
    assert_int_equal(adapters_signal(fk->ctx.adapters, 0, SIGSTOP, err, sizeof(err)), -1);
    assert_int_equal(adapters_signal(fk->ctx.adapters, 0, SIGKILL, err, sizeof(err)), 0);
    assert_false(adapters_running(fk->ctx.adapters, 0));
    assert_int_equal(adapters_signal(fk->ctx.adapters, 3, SIGKILL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(adapters_restart(fk->ctx.adapters, 0, err, sizeof(err)), 0);
    fk_expect(fk, INSERT_STEP("thread-2"), DBEV_REPORT_PASS);
}

/* Requests produced before any adapter joined are answered once one does:
 * a new group reads from the earliest offset. */
static void test_reads_before_join(void **state)
{
    fk_t *fk = *state;
    fk_expect(fk,
              "raw:\n      json: {event_id: \"${uuid}\", event_type: DATABASE_QUERY_REQUESTED, "
              "correlation_id: \"${uuid}\", timestamp: \"${now}\", service: test, payload: "
              "{operation_type: INSERT, table: items, data: {note: early}}}\n      "
              "expect_no_answer: true\n    timeout_ms: 200",
              DBEV_REPORT_PASS);
    fk_adapters(fk, ADAPTER_THREAD, 1);
    int64_t deadline = dbev_mono_us() + 15 * 1000000;
    long n = 0;
    while ((n = fk_query_long(fk, "SELECT count(*) FROM items WHERE note = 'early'")) == 0 &&
           dbev_mono_us() < deadline)
        usleep(50 * 1000); /* polling interval for the row */
    assert_int_equal(n, 1);
}

static void test_bad_settings(void **state)
{
    fk_t *fk = *state;
    char err[512];
    const char *const extra[] = {"pool.max=lots", NULL};
    adapters_opts_t aopts = {.mode = ADAPTER_PROCESS,
                             .count = 1,
                             .bootstrap = mockenv_bootstrap(fk->mk),
                             .topic_env = fk->ctx.topic_env,
                             .conninfo = fk->ctx.conninfo,
                             .extra = extra};
    assert_null(adapters_new(&aopts, err, sizeof(err)));
    assert_non_null(strstr(err, "pool.max"));
    aopts.extra = NULL;
    aopts.count = 0;
    assert_null(adapters_new(&aopts, err, sizeof(err)));
    /* External: nothing started, every fault refused. */
    aopts.mode = ADAPTER_EXTERNAL;
    aopts.count = 1;
    adapters_t *a = adapters_new(&aopts, err, sizeof(err));
    assert_non_null(a);
    assert_int_equal(adapters_count(a), 0);
    assert_int_equal(adapters_signal(a, 0, SIGKILL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "external"));
    adapters_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_before_join, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
