/*
 * The adapter supervisor and the `raw:` step, against a throwaway
 * PostgreSQL and the mock cluster: adapters as threads and as dbev-adapter
 * processes answer raw requests (valid, invalid JSON answered
 * VALIDATION_ERROR, a duplicate answered from the dedupe record); in process
 * mode SIGKILL, SIGSTOP/SIGCONT, SIGTERM and restart through `fault:` steps,
 * with requests still answered after each; thread mode refuses process
 * faults (SKIP); no child is left after teardown.
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

    /* Nothing answers an event published on the completed topic. */
    fk_expect(fk,
              "raw: {json: {correlation_id: \"${uuid}\"}, topic: completed, expect_no_answer: "
              "true}\n    timeout_ms: 500",
              DBEV_REPORT_PASS);

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

static void test_process_mode(void **state)
{
    fk_t *fk = *state;
    fk_adapters(fk, ADAPTER_PROCESS, 2);
    adapters_t *a = fk->ctx.adapters;
    pid_t p0 = adapters_pid(a, 0), p1 = adapters_pid(a, 1);
    assert_true(p0 > 0 && p1 > 0 && p0 != p1);
    assert_true(fk_pid_alive(p0) && fk_pid_alive(p1));
    char why[256];
    assert_true(runctx_has_feature(&fk->ctx, "process_adapter", why, sizeof(why)));
    assert_true(runctx_has_feature(&fk->ctx, "multi_adapter", why, sizeof(why)));

    fk_expect(fk, INSERT_STEP("proc-1"), DBEV_REPORT_PASS);

    /* SIGKILL: reaped when the step returns; the survivor takes the partitions. */
    fk_expect(fk, "fault: {adapter: kill, index: 0}", DBEV_REPORT_PASS);
    assert_false(fk_pid_alive(p0));
    assert_int_equal(adapters_pid(a, 0), 0);
    assert_false(adapters_running(a, 0));
    fk_expect(fk, "fault: {adapter: kill, index: 0}", DBEV_REPORT_ERROR); /* not running */
    fk_expect(fk, "fault: {adapter: kill, index: 5}", DBEV_REPORT_ERROR);
    fk_expect(fk, INSERT_STEP("proc-2"), DBEV_REPORT_PASS);

    /* Restart: a new child in the same group. */
    step_result_t res;
    fk_run(fk, "fault: {adapter: restart, index: 0}", &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    pid_t p0b = (pid_t)json_integer_value(json_object_get(res.outcome, "new_pid"));
    fk_result_free(&res);
    assert_true(p0b > 0 && p0b != p0);
    assert_int_equal(adapters_pid(a, 0), p0b);

    /* SIGSTOP on one, then SIGCONT; the other keeps answering meanwhile or
     * after the rebalance. */
    fk_expect(fk, "fault: {adapter: stop, index: 1}", DBEV_REPORT_PASS);
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)p1);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_non_null(strstr(buf, ") T"));
    fk_expect(fk, "fault: {adapter: cont, index: 1}", DBEV_REPORT_PASS);
    fk_expect(fk, INSERT_STEP("proc-3"), DBEV_REPORT_PASS);

    /* SIGTERM: a graceful exit (status 0), then restart. */
    fk_expect(fk, "fault: {adapter: terminate, index: 1}", DBEV_REPORT_PASS);
    assert_false(fk_pid_alive(p1));
    fk_expect(fk, "fault: {adapter: restart, index: 1}", DBEV_REPORT_PASS);
    pid_t p1b = adapters_pid(a, 1);
    assert_true(p1b > 0);
    /* A stopped child is still stopped at teardown: destroy must not hang. */
    fk_expect(fk, "fault: {adapter: stop, index: 1}", DBEV_REPORT_PASS);
    fk_expect(fk, INSERT_STEP("proc-4"), DBEV_REPORT_PASS);

    assert_int_equal(fk_query_long(fk, "SELECT count(*) FROM items WHERE note LIKE 'proc-%'"), 4);
    int64_t t0 = dbev_mono_us();
    adapters_destroy(a);
    fk->ctx.adapters = NULL;
    assert_true(dbev_mono_us() - t0 < 16000000);
    assert_false(fk_pid_alive(p0b));
    assert_false(fk_pid_alive(p1b));
    /* Every child was reaped: nothing left to wait for. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_thread_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_mode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
