/*
 * dbev-harness run, driven as a user would: the real binary on small
 * scenario files (tests/fixtures/run/). Direct mode keeps these fast and
 * independent of Kafka; the event path is covered by the suite itself
 * (scenarios/, run by the suite test in tests/harness_run.cmake).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_run.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS    DBEV_BUILD_DIR "/bin/dbev-harness"
#define FIXTURES   DBEV_SOURCE_DIR "/tests/fixtures/run"
#define DEADLINE_S 120

typedef cli_result_t run_result_t;

static void run(run_result_t *r, char *const argv[])
{
    cli_run(r, argv, DEADLINE_S);
}

static int file_size(const char *dir, const char *name)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (int)st.st_size : -1;
}

static void remove_tree(const char *dir)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_passing_scenario_writes_reports(void **state)
{
    char out[] = "/tmp/dbev-test-out-XXXXXX";
    assert_non_null(mkdtemp(out));
    run_result_t *r = malloc(sizeof(*r));
    char *argv[] = {HARNESS,  "run",    "--mode",
                    "direct", "--seed", "7",
                    "--out",  out,      FIXTURES "/pass_direct.yaml",
                    NULL};
    run(r, argv);
    if (r->status != 0)
        fail_msg("exit %d:\n%s", r->status, r->out);
    assert_non_null(strstr(r->out, "PASS sql and direct operations pass"));
    assert_non_null(strstr(r->out, "1 scenarios: 1 passed, 0 failed"));
    assert_true(file_size(out, "report.xml") > 0);
    assert_true(file_size(out, "report.json") > 0);
    assert_true(file_size(out, "summary.md") > 0);
    assert_true(file_size(out, "report.html") > 0);
    remove_tree(out);
    free(r);
}

static void test_failing_scenario_exits_1_with_rerun(void **state)
{
    char out[] = "/tmp/dbev-test-out-XXXXXX";
    assert_non_null(mkdtemp(out));
    run_result_t *r = malloc(sizeof(*r));
    char *argv[] = {HARNESS,  "run",    "--mode",
                    "direct", "--seed", "9",
                    "--out",  out,      FIXTURES "/fail_direct.yaml",
                    NULL};
    run(r, argv);
    assert_int_equal(r->status, 1);
    assert_non_null(strstr(r->out, "rows: no row matches {\"answer\":42}"));
    assert_non_null(strstr(r->out, "fail_direct.yaml:4:5")); /* where the step is */
    assert_non_null(strstr(r->out, "rerun: "));
    assert_non_null(strstr(r->out, "fail_direct.yaml --seed 9 --keep"));
    /* The second step never ran: recorded as skipped in JUnit. */
    char path[1100], *xml = calloc(1, 65536);
    snprintf(path, sizeof(path), "%s/report.xml", out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(xml, 1, 65535, f);
    fclose(f);
    assert_true(n > 0);
    assert_non_null(strstr(xml, "<failure"));
    assert_non_null(strstr(xml, "<skipped"));
    free(xml);
    remove_tree(out);
    free(r);
}

static void test_broken_file_and_empty_selection_are_harness_errors(void **state)
{
    run_result_t *r = malloc(sizeof(*r));
    char *broken[] = {HARNESS, "run", "--mode", "direct", FIXTURES "/broken.yaml", NULL};
    run(r, broken);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->out, "broken.yaml:5:"));
    assert_non_null(strstr(r->out, "unknown expectation 'rowz'"));
    char *none[] = {HARNESS, "run", "--tag", "no-such-tag", FIXTURES "/pass_direct.yaml", NULL};
    run(r, none);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->out, "no scenario selected"));
    char *bad[] = {HARNESS, "run", "--mode", "sideways", NULL};
    run(r, bad);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->out, "--mode 'sideways'"));
    free(r);
}

static void test_missing_feature_is_skipped_with_reason(void **state)
{
    char out[] = "/tmp/dbev-test-out-XXXXXX";
    assert_non_null(mkdtemp(out));
    run_result_t *r = malloc(sizeof(*r));
    char *argv[] = {
        HARNESS, "run", "--mode", "direct", "--out", out, FIXTURES "/needs_process.yaml", NULL};
    run(r, argv);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "SKIP needs a process adapter"));
    assert_non_null(strstr(r->out, "requires process_adapter"));
    remove_tree(out);
    free(r);
}

static void test_parallel_branches_in_parity_mode(void **state)
{
    char out[] = "/tmp/dbev-test-out-XXXXXX";
    assert_non_null(mkdtemp(out));
    run_result_t *r = malloc(sizeof(*r));
    char *argv[] = {HARNESS, "run", "--mode", "both", "--out", out, FIXTURES "/parallel_both.yaml",
                    NULL};
    run(r, argv);
    if (r->status != 0)
        fail_msg("exit %d:\n%s", r->status, r->out);
    assert_non_null(strstr(r->out, "PASS parallel operations in parity mode"));
    /* the reproduction bundle: every event exchanged, requests and answers */
    char path[1100];
    snprintf(path, sizeof(path), "%s/trace-s1.jsonl", out);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[65536];
    int requested = 0, completed = 0;
    while (fgets(line, sizeof(line), f)) {
        requested += strstr(line, "\"topic\":\"requested\"") != NULL;
        completed += strstr(line, "\"topic\":\"completed\"") != NULL;
    }
    fclose(f);
    assert_int_equal(requested, 9); /* the readiness HEALTH and eight queries */
    assert_int_equal(completed, 9);
    remove_tree(out);
    free(r);
}

/* The whole text of dir/name (free it), or NULL. */
static char *slurp(const char *dir, const char *name)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *text = malloc((size_t)n + 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        text = NULL;
    }
    if (text)
        text[n] = '\0';
    fclose(f);
    return text;
}

/* An event-path run measures the transport floor of its Kafka at the start
 * and reports the adapter's service time beside the end-to-end latencies:
 * printed, in metrics.json, report.json and summary.md. */
static void test_event_run_reports_service_and_transport(void **state)
{
    char out[] = "/tmp/dbev-test-out-XXXXXX";
    assert_non_null(mkdtemp(out));
    run_result_t *r = malloc(sizeof(*r));
    char *argv[] = {HARNESS, "run", "--mode", "event", "--out", out, FIXTURES "/event_service.yaml",
                    NULL};
    run(r, argv);
    if (r->status != 0)
        fail_msg("exit %d:\n%s", r->status, r->out);
    if (!strstr(r->out, "transport floor: p50 ") || !strstr(r->out, "adapter service time: "))
        fail_msg("no transport floor or service time printed:\n%s", r->out);
    char *metrics = slurp(out, "metrics.json");
    assert_non_null(metrics);
    static const char *const keys[] = {"\"transport.p50_ms\"", "\"transport.p99_ms\"",
                                       "\"service.insert.p50_ms\"", "\"service.insert.p99_ms\"",
                                       "service_p50_ms\""};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strstr(metrics, keys[i]))
            fail_msg("metrics.json lacks %s:\n%s", keys[i], metrics);
    char *report = slurp(out, "report.json");
    char *summary = slurp(out, "summary.md");
    assert_non_null(report);
    assert_non_null(summary);
    assert_non_null(strstr(report, "\"service_percentiles_us\": {"));
    assert_non_null(strstr(report, "transport floor"));
    assert_non_null(strstr(summary, "transport floor"));
    assert_non_null(strstr(summary, "service p50 / p99"));
    /* It passed and has a load step: no trace (run_scenario.c says why). */
    char trace[1100];
    snprintf(trace, sizeof(trace), "%s/trace-s1.jsonl", out);
    assert_int_equal(access(trace, F_OK), -1);
    free(metrics);
    free(report);
    free(summary);
    remove_tree(out);
    free(r);
}

static void test_list_shows_what_each_proves(void **state)
{
    run_result_t *r = malloc(sizeof(*r));
    char *argv[] = {HARNESS, "run", "--list", FIXTURES "/pass_direct.yaml", NULL};
    run(r, argv);
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "the runner executes sql steps"));
    free(r);
}

/* Runs `run --list OPTION scenarios/` and checks that each of want is
 * listed and none of unwanted is. */
static void expect_listing(run_result_t *r, const char *option, const char *const *want,
                           size_t n_want, const char *const *unwanted, size_t n_unwanted)
{
    char *argv[] = {HARNESS, "run", "--list", (char *)option, DBEV_SOURCE_DIR "/scenarios", NULL};
    run(r, argv);
    assert_int_equal(r->status, 0);
    for (size_t i = 0; i < n_want; i++)
        if (!strstr(r->out, want[i]))
            fail_msg("%s left out %s:\n%s", option, want[i], r->out);
    for (size_t i = 0; i < n_unwanted; i++)
        if (strstr(r->out, unwanted[i]))
            fail_msg("%s listed %s:\n%s", option, unwanted[i], r->out);
}

/* Which of the suite's scenarios must run alone (run_runs_alone): loads,
 * faults on the shared server or cluster, the latency probe; a table lock
 * and terminating the scenario's own backends do not. --only-alone and
 * --skip-alone split the suite along that line, and exclude each other. */
static void test_alone_selection_splits_the_suite(void **state)
{
    (void)state;
    static const char *const alone[] = {"/load_short.yaml", "/idem_adapter_kill_rebalance.yaml",
                                        "/breaker_postgres_outage.yaml",
                                        "/fault_kafka_transient_errors.yaml", "/perf_probe.yaml"};
    static const char *const shared[] = {"/timeout_slow_statement.yaml",
                                         "/fault_pg_backends_terminated.yaml", "/crud_delete.yaml"};
    const size_t n_alone = sizeof(alone) / sizeof(alone[0]);
    const size_t n_shared = sizeof(shared) / sizeof(shared[0]);
    run_result_t *r = malloc(sizeof(*r));
    expect_listing(r, "--only-alone", alone, n_alone, shared, n_shared);
    expect_listing(r, "--skip-alone", shared, n_shared, alone, n_alone);
    char *both[] = {HARNESS, "run", "--list", "--skip-alone", "--only-alone", NULL};
    run(r, both);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->out, "--skip-alone and --only-alone exclude each other"));
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passing_scenario_writes_reports),
        cmocka_unit_test(test_failing_scenario_exits_1_with_rerun),
        cmocka_unit_test(test_broken_file_and_empty_selection_are_harness_errors),
        cmocka_unit_test(test_missing_feature_is_skipped_with_reason),
        cmocka_unit_test(test_parallel_branches_in_parity_mode),
        cmocka_unit_test(test_event_run_reports_service_and_transport),
        cmocka_unit_test(test_list_shows_what_each_proves),
        cmocka_unit_test(test_alone_selection_splits_the_suite),
    };
    return cmocka_run_group_tests_name("run_cli", tests, NULL, NULL);
}
