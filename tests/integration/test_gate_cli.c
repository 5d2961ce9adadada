/*
 * dbev-harness gate, driven as CI drives it: the real binary on tiny
 * phase-tagged scenario files (tests/fixtures/gate/scenarios/) with gates
 * files written for the test. Direct mode keeps it fast and independent of
 * Kafka. Checks the exit codes (0 pass, 1 fail, 2 rollback, 3 a criterion on
 * a metric no scenario produced), the phase selection (earlier phases
 * included, long and phase-less scenarios left out), the verdict in
 * report.json, report.xml and summary.md, the benchmark JSON, the history
 * file, a baseline stored by two runs and judged by the next, a baseline
 * refused from a failing run, and a slowed run flagged against a recorded
 * baseline (and not judged against another machine's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_run.h"

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS    DBEV_BUILD_DIR "/bin/dbev-harness"
#define FIXTURES   DBEV_SOURCE_DIR "/tests/fixtures/gate"
#define DEADLINE_S 120

typedef cli_result_t run_result_t;

static void run(run_result_t *r, char *const argv[])
{
    cli_run(r, argv, DEADLINE_S);
}

typedef struct fixture {
    char dir[64];
    char out[128];
    char history[128];
    char baseline[128];
    run_result_t r;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/dbev-test-gate-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
    snprintf(f->history, sizeof(f->history), "%s/history.jsonl", f->dir);
    snprintf(f->baseline, sizeof(f->baseline), "%s/baseline.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* gate --phase PHASE --mode direct with the test's gates file, history and out dir. */
/* Runs the gate on scenarios (NULL: the fixture folder) with the extra
 * options that follow, up to a NULL. */
static void gate(fixture_t *f, const char *phase, const char *gates, const char *scenarios, ...)
{
    char gates_path[512];
    snprintf(gates_path, sizeof(gates_path), FIXTURES "/%s", gates);
    char *argv[24];
    int n = 0;
    argv[n++] = HARNESS;
    argv[n++] = "gate";
    argv[n++] = "--phase";
    argv[n++] = (char *)phase;
    argv[n++] = "--mode";
    argv[n++] = "direct";
    argv[n++] = "--seed";
    argv[n++] = "5";
    argv[n++] = "--gates";
    argv[n++] = gates_path;
    argv[n++] = "--out";
    argv[n++] = f->out;
    argv[n++] = "--history";
    argv[n++] = f->history;
    va_list ap;
    va_start(ap, scenarios);
    for (const char *extra; (extra = va_arg(ap, const char *)) != NULL && n < 21;)
        argv[n++] = (char *)extra;
    va_end(ap);
    argv[n++] = (char *)(scenarios ? scenarios : FIXTURES "/scenarios");
    argv[n] = NULL;
    run(&f->r, argv);
}

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("%s missing", path);
    char *buf = calloc(1, 1 << 18);
    size_t n = fread(buf, 1, (1 << 18) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s: %s", path, err.text);
    return j;
}

static void expect_status(fixture_t *f, int status)
{
    if (f->r.status != status)
        fail_msg("exit %d, expected %d:\n%s", f->r.status, status, f->r.out);
}

static void test_pass_writes_verdict_everywhere(void **state)
{
    fixture_t *f = *state;
    gate(f, "2", "gates_pass.yaml", NULL, "--update-baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 0);
    /* Phase 2 runs phases 1 and 2; not 3, not long (--without-long), not phase-less. */
    assert_non_null(strstr(f->r.out, "gate fixture, phase 1, a direct query"));
    assert_non_null(strstr(f->r.out, "gate fixture, phase 2, a direct update"));
    assert_null(strstr(f->r.out, "phase 3, another query"));
    assert_null(strstr(f->r.out, "but long"));
    assert_null(strstr(f->r.out, "without a phase"));
    assert_non_null(strstr(f->r.out, "verdict: PASS"));
    assert_non_null(strstr(f->r.out, "direct.latency.query.p95_ms"));

    json_t *report = load_json(f->out, "report.json");
    json_t *verdict = json_object_get(report, "verdict");
    assert_string_equal(json_string_value(json_object_get(verdict, "outcome")), "pass");
    json_t *criteria = json_object_get(verdict, "criteria");
    assert_true(json_array_size(criteria) >= 4);
    bool seen = false;
    size_t i;
    json_t *c;
    json_array_foreach(criteria, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "metric")),
                   "direct.latency.query.p95_ms") == 0 &&
            strcmp(json_string_value(json_object_get(c, "name")), "direct query p95 under 10 s") ==
                0) {
            seen = true;
            assert_true(json_number_value(json_object_get(c, "figure")) > 0);
            assert_true(json_number_value(json_object_get(c, "bound")) == 10000);
            assert_string_equal(json_string_value(json_object_get(c, "comparison")), "<");
            assert_string_equal(json_string_value(json_object_get(c, "outcome")), "pass");
        }
    }
    assert_true(seen);
    json_decref(report);

    char *xml = slurp(f->out, "report.xml");
    assert_non_null(strstr(xml, "gate phase 2"));
    assert_non_null(strstr(xml, "direct query p95 under 10 s"));
    free(xml);
    char *md = slurp(f->out, "summary.md");
    assert_non_null(strstr(md, "Verdict: pass"));
    assert_non_null(strstr(md, "direct query p95 under 10 s"));
    free(md);

    json_t *smaller = load_json(f->out, "benchmark-smaller.json");
    assert_true(json_array_size(smaller) > 0);
    json_decref(smaller);
    json_decref(load_json(f->out, "benchmark-bigger.json"));
    json_t *bmf = load_json(f->out, "bencher.json");
    assert_non_null(json_object_get(json_object_get(bmf, "direct.latency.query"), "latency"));
    json_decref(bmf);
    json_t *metrics = load_json(f->out, "metrics.json");
    assert_true(json_number_value(json_object_get(metrics, "direct.latency.query.count")) >= 1);
    json_decref(metrics);

    char *history = slurp(f->dir, "history.jsonl");
    json_t *line = json_loads(history, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "phase")), "2");
    assert_string_equal(json_string_value(json_object_get(line, "verdict")), "PASS");
    assert_non_null(json_object_get(json_object_get(line, "metrics"), "parity.mismatches"));
    json_decref(line);
    free(history);

    assert_non_null(strstr(f->r.out, "now holds 1 run(s) (a new entry: no entry yet)"));
    /* One run has no spread: the test needs min_runs (2) and says so. */
    gate(f, "2", "gates_pass.yaml", NULL, "--baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 3);
    assert_non_null(strstr(f->r.out, "the baseline has 1 run(s)"));
    /* A second run at the same commit joins the entry. */
    gate(f, "2", "gates_pass.yaml", NULL, "--update-baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 0);
    assert_non_null(strstr(f->r.out, "now holds 2 run(s)\n"));

    /* The stored baseline is judged by the next run: same counts, a pass. */
    gate(f, "2", "gates_pass.yaml", NULL, "--baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 0);
    assert_non_null(strstr(f->r.out, "direct.latency.query.count against the baseline"));
    assert_non_null(strstr(f->r.out, "baseline 1 (sd 0, 2 runs), +0.0 %"));
    /* The history of this phase (two runs now) is plotted as a trend. */
    json_t *second = load_json(f->out, "report.json");
    size_t points = 0, k;
    json_t *p;
    json_array_foreach(
        json_object_get(second, "trend"), k,
        p) if (!strcmp(json_string_value(json_object_get(p, "metric")), "client.rss_mb")) points++;
    assert_int_equal(points, 4);
    json_decref(second);
    char *html = slurp(f->out, "report.html");
    assert_non_null(strstr(html, "Trend: client.rss_mb"));
    free(html);
    /* A baseline with half the queries: the run is 100 % worse, past the
     * 50 % degradation trigger: ROLLBACK. */
    json_t *b = json_load_file(f->baseline, 0, NULL);
    assert_non_null(b);
    json_t *m = json_object_get(json_object_get(json_object_get(b, "phases"), "2"), "samples");
    json_t *counts = json_object_get(m, "direct.latency.query.count");
    for (size_t j = 0; j < json_array_size(counts); j++)
        json_array_set_new(counts, j, json_real(json_number_value(json_array_get(counts, j)) / 2));
    assert_int_equal(json_dump_file(b, f->baseline, 0), 0);
    json_decref(b);
    gate(f, "2", "gates_pass.yaml", NULL, "--baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 2);
    assert_non_null(strstr(f->r.out, "ROLLBACK  degradation over 50 %"));
    /* No entry for phase 1 in the baseline: a harness error, not a quiet skip. */
    gate(f, "1", "gates_pass.yaml", NULL, "--baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 3);
    assert_non_null(strstr(f->r.out, "no entry for phase 1"));
}

/* A baseline is what later runs must match: never recorded from a red run. */
static void test_baseline_refused_from_a_failing_run(void **state)
{
    fixture_t *f = *state;
    gate(f, "1", "gates_fail.yaml", NULL, "--update-baseline", f->baseline, "--without-long", NULL);
    expect_status(f, 1);
    assert_non_null(strstr(f->r.out, "not stored: a baseline can only be recorded from a passing "
                                     "run, and this one's verdict is FAIL"));
    struct stat st;
    assert_int_not_equal(stat(f->baseline, &st), 0);
}

/* Two recorded runs of a direct query; then the same file with the query
 * 300 ms slower in PostgreSQL: far past any noise, so the outcome is not
 * luck. The same slow run against a baseline from another CPU is not
 * judged (SKIP, and says why) unless --baseline-any-machine. */
static void test_slowed_run_flagged_against_recorded_baseline(void **state)
{
    fixture_t *f = *state;
    const char *fast = FIXTURES "/scenarios/p1_query.yaml", *slow = FIXTURES "/slow/p1_query.yaml";
    for (int i = 0; i < 2; i++) {
        gate(f, "1", "gates_stats.yaml", fast, "--update-baseline", f->baseline, NULL);
        expect_status(f, 0);
    }
    gate(f, "1", "gates_stats.yaml", fast, "--baseline", f->baseline, NULL);
    expect_status(f, 0);
    assert_non_null(strstr(f->r.out, "PASS      direct.latency.query.p50_ms against the baseline"));
    gate(f, "1", "gates_stats.yaml", slow, "--baseline", f->baseline, NULL);
    expect_status(f, 1);
    assert_non_null(strstr(f->r.out, "FAIL      direct.latency.query.p50_ms against the baseline"));
    assert_non_null(strstr(f->r.out, "2 runs)"));

    json_t *b = json_load_file(f->baseline, 0, NULL);
    assert_non_null(b);
    json_t *machine =
        json_object_get(json_object_get(json_object_get(b, "phases"), "1"), "machine");
    assert_non_null(json_string_value(json_object_get(machine, "cpu_model")));
    json_object_set_new(machine, "cpu_model", json_string("Another CPU 9000"));
    assert_int_equal(json_dump_file(b, f->baseline, 0), 0);
    json_decref(b);
    gate(f, "1", "gates_stats.yaml", slow, "--baseline", f->baseline, NULL);
    expect_status(f, 0);
    assert_non_null(strstr(f->r.out, "SKIP      direct.latency.query.p50_ms against the baseline"));
    assert_non_null(strstr(f->r.out, "Another CPU 9000"));
    gate(f, "1", "gates_stats.yaml", slow, "--baseline", f->baseline, "--baseline-any-machine",
         NULL);
    expect_status(f, 1);
    assert_non_null(strstr(f->r.out, "judged with --baseline-any-machine"));
}

/* A partial run (--baseline-only PREFIX) adds only its metrics' samples to
 * the entry of full runs, and is listed apart; without --update-baseline
 * the option is refused. */
static void test_partial_run_adds_only_its_metrics(void **state)
{
    fixture_t *f = *state;
    const char *fast = FIXTURES "/scenarios/p1_query.yaml";
    gate(f, "1", "gates_stats.yaml", fast, "--baseline-only", "direct.", NULL);
    expect_status(f, 3);
    assert_non_null(strstr(f->r.out, "needs --update-baseline FILE"));
    gate(f, "1", "gates_stats.yaml", fast, "--update-baseline", f->baseline, "--baseline-only",
         "direct.", NULL);
    expect_status(f, 3); /* no entry of full runs yet */
    assert_non_null(strstr(f->r.out, "record full runs first"));
    for (int i = 0; i < 2; i++) {
        gate(f, "1", "gates_stats.yaml", fast, "--update-baseline", f->baseline, NULL);
        expect_status(f, 0);
    }
    gate(f, "1", "gates_stats.yaml", fast, "--update-baseline", f->baseline, "--baseline-only",
         "direct.", NULL);
    expect_status(f, 0);
    assert_non_null(strstr(f->r.out, "holds 2 run(s), and this partial run's direct.* metrics"));
    /* No rule of gates_stats.yaml names client.rss_mb: its ~2.7 s
     * measurement is left out. */
    json_t *metrics = load_json(f->out, "metrics.json");
    assert_null(json_object_get(metrics, "client.rss_mb"));
    json_decref(metrics);
    json_t *b = json_load_file(f->baseline, 0, NULL);
    assert_non_null(b);
    json_t *entry = json_object_get(json_object_get(b, "phases"), "1");
    json_t *samples = json_object_get(entry, "samples");
    assert_int_equal(json_array_size(json_object_get(samples, "direct.latency.query.p50_ms")), 3);
    assert_int_equal(json_array_size(json_object_get(samples, "scenarios.passed")), 2);
    assert_int_equal(json_array_size(json_object_get(entry, "partial_runs")), 1);
    json_decref(b);
}

static void test_failing_criterion_exits_1(void **state)
{
    fixture_t *f = *state;
    gate(f, "1", "gates_fail.yaml", NULL, NULL);
    expect_status(f, 1);
    /* By default a gate runs the long scenarios of its phases too. */
    assert_non_null(strstr(f->r.out, "gate fixture, phase 1 but long"));
    assert_non_null(strstr(f->r.out, "FAIL      direct query p95 under a nanosecond"));
    assert_non_null(strstr(f->r.out, "verdict: FAIL"));
    json_t *report = load_json(f->out, "report.json");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(report, "verdict"), "outcome")), "fail");
    json_decref(report);
    char *xml = slurp(f->out, "report.xml");
    assert_non_null(strstr(xml, "<failure"));
    free(xml);
}

static void test_rollback_trigger_exits_2(void **state)
{
    fixture_t *f = *state;
    gate(f, "all", "gates_rollback.yaml", NULL, NULL);
    expect_status(f, 2);
    assert_non_null(strstr(f->r.out, "ROLLBACK  any query at all"));
    assert_non_null(strstr(f->r.out, "phase 3, another query")); /* all: every phase */
    json_t *report = load_json(f->out, "report.json");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(report, "verdict"), "outcome")),
        "rollback");
    json_decref(report);
    char *md = slurp(f->out, "summary.md");
    assert_non_null(strstr(md, "Verdict: rollback"));
    free(md);
}

static void test_missing_metric_exits_3(void **state)
{
    fixture_t *f = *state;
    gate(f, "1", "gates_missing.yaml", NULL, NULL);
    expect_status(f, 3);
    assert_non_null(strstr(f->r.out, "ERROR     event query p95 under 100 ms"));
    assert_non_null(strstr(f->r.out, "no scenario produced latency.query.p95_ms"));
    assert_non_null(strstr(f->r.out, "gates_missing.yaml:6:5")); /* where the rule is */
}

static void test_failed_scenario_fails_the_gate(void **state)
{
    fixture_t *f = *state;
    gate(f, "1", "gates_pass.yaml", FIXTURES "/failing", NULL);
    expect_status(f, 1);
    assert_non_null(strstr(f->r.out, "FAIL      every scenario passed"));
}

static void test_bad_gates_file_and_options_exit_3(void **state)
{
    fixture_t *f = *state;
    /* A scenario file stands in for a broken gates file: unknown keys at line 1. */
    gate(f, "1", "scenarios/p1_query.yaml", NULL, NULL);
    expect_status(f, 3);
    assert_non_null(strstr(f->r.out, "p1_query.yaml:1:7: unknown key 'name'"));
    char *argv[] = {HARNESS, "gate", "--phase", "4", NULL};
    run(&f->r, argv);
    expect_status(f, 3);
    char *no_phase[] = {HARNESS, "gate", NULL};
    run(&f->r, no_phase);
    expect_status(f, 3);
    assert_non_null(strstr(f->r.out, "--phase is required"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pass_writes_verdict_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_run_adds_only_its_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_criterion_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_trigger_exits_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_metric_exits_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_scenario_fails_the_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_gates_file_and_options_exit_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_baseline_refused_from_a_failing_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slowed_run_flagged_against_recorded_baseline, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
