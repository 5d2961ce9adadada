/*
 * The adapter supervisor in process mode (dbev-adapter children) through
 * `fault:` steps: SIGKILL (reaped when the step returns; the survivor of the
 * group answers after the rebalance), restart (a new child in the same
 * group), SIGSTOP/SIGCONT, SIGTERM (graceful) and restart, with requests
 * answered after each; a child left stopped is still stopped and reaped by
 * adapters_destroy(); no child is left behind. And when the harness itself
 * is killed (SIGKILL, no teardown at all), its adapter children die with it
 * (PR_SET_PDEATHSIG).
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
#include <sys/prctl.h>
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
    step_result_t res;
    fk_run(fk, "fault: {adapter: kill, index: 0}", &res);
    assert_int_equal(res.status, DBEV_REPORT_ERROR);
    assert_non_null(strstr(res.message, "not running (killed by signal 9"));
    fk_result_free(&res);
    fk_expect(fk, "fault: {adapter: kill, index: 5}", DBEV_REPORT_ERROR);
    fk_expect(fk, INSERT_STEP("proc-2"), DBEV_REPORT_PASS);

    /* Restart: a new child in the same group. */
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

/* A "harness" (a forked child of the test) starts an adapter process and is
 * SIGKILLed: the adapter must die too. The test is a subreaper meanwhile, so
 * the orphaned adapter becomes its child and its end can be waited for. */
static void test_harness_death(void **state)
{
    fk_t *fk = *state;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t harness = fork();
    assert_true(harness >= 0);
    if (harness == 0) {
        close(fds[0]);
        char err[512];
        adapters_opts_t aopts = {.mode = ADAPTER_PROCESS,
                                 .count = 1,
                                 .bootstrap = mockenv_bootstrap(fk->mk),
                                 .topic_env = "faultsdeath",
                                 .conninfo = fk->ctx.conninfo,
                                 .log_path = fk->log_path};
        adapters_t *a = adapters_new(&aopts, err, sizeof(err));
        pid_t pid = a ? adapters_pid(a, 0) : -1;
        ssize_t w = write(fds[1], &pid, sizeof(pid));
        (void)w;
        for (;;)
            pause(); /* until the SIGKILL */
    }
    close(fds[1]);
    pid_t adapter = -1;
    ssize_t r = read(fds[0], &adapter, sizeof(adapter));
    close(fds[0]);
    kill(harness, SIGKILL);
    waitpid(harness, NULL, 0);
    int status = 0;
    pid_t got = 0;
    int64_t deadline = dbev_mono_us() + 10 * 1000000;
    while (adapter > 0 && got == 0 && dbev_mono_us() < deadline) {
        got = waitpid(adapter, &status, WNOHANG);
        if (got == 0)
            usleep(10 * 1000); /* polling interval for the orphan's exit */
    }
    if (got == 0 && adapter > 0) {
        kill(adapter, SIGKILL); /* do not leave it behind, then fail */
        waitpid(adapter, NULL, 0);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    assert_int_equal(r, (ssize_t)sizeof(adapter));
    assert_true(adapter > 0);
    assert_int_equal(got, adapter);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_process_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_harness_death, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
