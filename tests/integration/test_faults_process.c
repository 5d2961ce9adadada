/*
 * The adapter supervisor in process mode (dbev-adapter children) through
 * `fault:` steps: SIGKILL (reaped when the step returns; the survivor of the
 * group answers after the rebalance), restart (a new child in the same
 * group), SIGSTOP/SIGCONT, SIGTERM (graceful) and restart, with requests
 * answered after each; a child left stopped is still stopped and reaped by
 * adapters_destroy(); no child is left behind.
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
    fk_expect(fk, INSERT_STEP("proc-4"), DBEV_REPORT_PASS);
    assert_int_equal(fk_query_long(fk, "SELECT count(*) FROM items WHERE note LIKE 'proc-%'"), 4);
    /* A child still stopped at teardown: destroy must neither hang nor leave it. */
    fk_expect(fk, "fault: {adapter: stop, index: 1}", DBEV_REPORT_PASS);
    int64_t t0 = dbev_mono_us();
    adapters_destroy(a);
    fk->ctx.adapters = NULL;
    assert_true(dbev_mono_us() - t0 < 16000000);
    assert_false(fk_pid_alive(p0b));
    assert_false(fk_pid_alive(p1b));
    /* Reaped, not zombies: the pids are no longer ours to wait for. */
    assert_int_equal(waitpid(p0b, NULL, WNOHANG), -1);
    assert_int_equal(waitpid(p1b, NULL, WNOHANG), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_process_mode, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
