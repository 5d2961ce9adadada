/*
 * Unit tests of the gates (harness/src/gate*.c): reading a gates file
 * (mistakes at file:line:column), judging metrics (pass, fail, rollback, a
 * missing metric is an error, skips say why), baseline comparison with the
 * default and a per-metric tolerance, baseline files, the benchmark JSON
 * shapes, the history file and the verdict in the report. Also checks that
 * the committed ci/gates.yaml loads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const GATES = "version: 1\n"
                                 "criteria:\n"
                                 "  - name: query p95\n"
                                 "    metric: latency.query.p95_ms\n"
                                 "    pass: \"< 100\"\n"
                                 "    unit: ms\n"
                                 "  - name: throughput\n"
                                 "    metric: load.throughput_max\n"
                                 "    pass: \">= 1000\"\n"
                                 "    phases: [3]\n"
                                 "    with_long: true\n"
                                 "  - name: no loss\n"
                                 "    metric: loss.*\n"
                                 "    pass: \"== 0\"\n"
                                 "    phases: [3]\n"
                                 "rollback:\n"
                                 "  - name: query p95 over 200 ms\n"
                                 "    metric: latency.query.p95_ms\n"
                                 "    trigger: \"> 200\"\n"
                                 "  - name: degradation\n"
                                 "    degradation: 0.5\n"
                                 "baseline:\n"
                                 "  tolerance: 0.10\n"
                                 "  metrics:\n"
                                 "    - metric: ratio.query.p95\n"
                                 "      better: smaller\n"
                                 "    - metric: load.insert.throughput_max\n"
                                 "      better: bigger\n"
                                 "      tolerance: 0.25\n";

static gate_spec_t *load_ok(const char *text)
{
    char err[512];
    gate_spec_t *spec = gate_spec_load_buffer("g.yaml", text, err, sizeof(err));
    if (!spec)
        fail_msg("gates did not load: %s", err);
    return spec;
}

static void expect_error(const char *text, const char *where, const char *words)
{
    char err[512];
    gate_spec_t *spec = gate_spec_load_buffer("g.yaml", text, err, sizeof(err));
    if (spec) {
        gate_spec_destroy(spec);
        fail_msg("expected an error at %s", where);
    }
    if (!strstr(err, where) || !strstr(err, words))
        fail_msg("error '%s' lacks '%s' or '%s'", err, where, words);
}

static void test_spec_reads_rules(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    assert_int_equal(spec->n_rules, 7);
    const gate_rule_t *q = &spec->rules[0];
    assert_int_equal(q->kind, GATE_RULE_CRITERION);
    assert_string_equal(q->metric, "latency.query.p95_ms");
    assert_int_equal(q->cmp, GATE_LT);
    assert_true(q->bound == 100);
    assert_string_equal(q->unit, "ms");
    assert_int_equal(q->phases, GATE_PHASES_ALL);
    assert_string_equal(q->where, "g.yaml:3:5");
    assert_int_equal(spec->rules[1].phases, 1u << 3);
    assert_true(spec->rules[1].with_long);
    assert_int_equal(spec->rules[3].kind, GATE_RULE_ROLLBACK);
    assert_int_equal(spec->rules[3].cmp, GATE_GT);
    assert_null(spec->rules[4].metric); /* the degradation trigger */
    assert_true(spec->rules[4].degradation == 0.5);
    assert_int_equal(spec->rules[5].kind, GATE_RULE_REGRESSION);
    assert_true(fabs(spec->rules[5].tolerance - 0.10) < 1e-12); /* the default */
    assert_true(fabs(spec->rules[6].tolerance - 0.25) < 1e-12); /* its own */
    assert_true(spec->rules[6].bigger_better);
    gate_spec_destroy(spec);
}

static void test_spec_errors_point_at_the_mistake(void **state)
{
    (void)state;
    expect_error("criteria:\n  - name: a\n    metric: m\n    pass: \"< 1\"\n    bogus: 2\n",
                 "g.yaml:5:12", "unknown key 'bogus'");
    expect_error("criteria:\n  - name: a\n    metric: m\n    pass: \"about 5\"\n", "g.yaml:4:11",
                 "OPERATOR NUMBER");
    expect_error("criteria:\n  - name: a\n    metric: m\n    pass: \"< lots\"\n", "g.yaml:4:11",
                 "expected a number");
    expect_error("criteria:\n  - name: a\n    metric: m\n    pass: \"< 1\"\n    phases: [1, 4]\n",
                 "g.yaml:5:17", "phases are 1, 2 and 3");
    expect_error("criteria:\n  - name: a\n    pass: \"< 1\"\n", "g.yaml:2:5", "missing 'metric'");
    expect_error("rollback:\n  - name: r\n    metric: m\n", "g.yaml:2:5", "missing 'trigger'");
    expect_error("baseline:\n  metrics:\n    - metric: m\n      better: faster\n", "g.yaml:4:15",
                 "better: expected smaller");
    expect_error("baseline:\n  tolerance: -1\n", "g.yaml:2:14", "fraction");
    expect_error("criteria: []\n", "g.yaml:1:1", "no criteria");
    expect_error("criteria:\n  - name: a\n   metric: m\n", "g.yaml:3:", ""); /* YAML syntax */
    expect_error("version: 2\ncriteria: []\n", "g.yaml:1:10", "version 1");
    expect_error("rollback:\n  - name: d\n    degradation: 0.5\n    watch: [nope]\n"
                 "baseline:\n  metrics:\n    - {metric: m, better: bigger}\n",
                 "g.yaml:4:13", "nope is not a metric of baseline.metrics");
}

static void test_committed_gates_file_loads(void **state)
{
    (void)state;
    char err[512];
    gate_spec_t *spec = gate_spec_load(DBEV_SOURCE_DIR "/ci/gates.yaml", err, sizeof(err));
    if (!spec)
        fail_msg("ci/gates.yaml: %s", err);
    bool rollback = false, regression = false;
    for (size_t i = 0; i < spec->n_rules; i++) {
        rollback |= spec->rules[i].kind == GATE_RULE_ROLLBACK;
        regression |= spec->rules[i].kind == GATE_RULE_REGRESSION;
    }
    assert_true(rollback && regression);
    gate_spec_destroy(spec);
}

static json_t *good_metrics(void)
{
    return json_pack("{s:f, s:f, s:i, s:i, s:f, s:f, s:i, s:i}", "latency.query.p95_ms", 20.0,
                     "ratio.query.p95", 4.0, "loss.unanswered", 0, "loss.writes_lost", 0,
                     "load.throughput_max", 1200.0, "load.insert.throughput_max", 1000.0,
                     "scenarios.failed", 0, "scenarios.errors", 0);
}

static const gate_row_t *row_for(const gate_result_t *res, const char *name)
{
    for (size_t i = 0; i < res->n_rows; i++)
        if (strcmp(res->rows[i].name, name) == 0)
            return &res->rows[i];
    fail_msg("no row '%s'", name);
    return NULL;
}

static gate_result_t *judge(const gate_spec_t *spec, int phase, bool with_long,
                            const json_t *metrics, const json_t *baseline)
{
    gate_input_t in = {.phase = phase,
                       .with_long = with_long,
                       .metrics = metrics,
                       .baseline = baseline,
                       .baseline_note = "no --baseline given"};
    gate_result_t *res = gate_judge(spec, &in);
    assert_non_null(res);
    return res;
}

static void test_judge_pass(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    json_t *m = good_metrics();
    gate_result_t *res = judge(spec, 3, true, m, NULL);
    assert_int_equal(res->verdict, GATE_PASS);
    assert_int_equal(gate_outcome_exit(res->verdict), 0);
    const gate_row_t *q = row_for(res, "query p95");
    assert_true(q->figure == 20.0 && q->bound == 100.0);
    assert_int_equal(q->outcome, GATE_PASS);
    /* loss.* is judged metric by metric. */
    assert_int_equal(row_for(res, "no loss: loss.unanswered")->outcome, GATE_PASS);
    assert_int_equal(row_for(res, "no loss: loss.writes_lost")->outcome, GATE_PASS);
    /* The rollback row shows what must hold to stay. */
    const gate_row_t *rb = row_for(res, "query p95 over 200 ms");
    assert_int_equal(rb->cmp, GATE_LE);
    assert_int_equal(rb->outcome, GATE_PASS);
    /* No baseline: the regressions are skipped and say why. */
    const gate_row_t *reg = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(reg->outcome, GATE_SKIP);
    assert_non_null(strstr(reg->note, "no --baseline"));
    gate_result_destroy(res);

    /* Phase 1: the phase-3 rules do not apply at all. */
    res = judge(spec, 1, false, m, NULL);
    for (size_t i = 0; i < res->n_rows; i++)
        assert_null(strstr(res->rows[i].name, "loss"));
    gate_result_destroy(res);
    json_decref(m);
    gate_spec_destroy(spec);
}

static void test_judge_fail_and_rollback(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    json_t *m = good_metrics();
    json_object_set_new(m, "latency.query.p95_ms", json_real(150));
    gate_result_t *res = judge(spec, 3, true, m, NULL);
    assert_int_equal(res->verdict, GATE_FAIL);
    assert_int_equal(gate_outcome_exit(res->verdict), 1);
    assert_int_equal(row_for(res, "query p95")->outcome, GATE_FAIL);
    assert_int_equal(row_for(res, "query p95 over 200 ms")->outcome, GATE_PASS);
    gate_result_destroy(res);

    json_object_set_new(m, "latency.query.p95_ms", json_real(250));
    res = judge(spec, 3, true, m, NULL);
    assert_int_equal(res->verdict, GATE_ROLLBACK);
    assert_int_equal(gate_outcome_exit(res->verdict), 2);
    assert_int_equal(row_for(res, "query p95 over 200 ms")->outcome, GATE_ROLLBACK);
    gate_result_destroy(res);

    /* A failed scenario fails the gate even when every figure holds. */
    json_object_set_new(m, "latency.query.p95_ms", json_real(20));
    gate_input_t in = {.phase = 3, .with_long = true, .metrics = m, .scenarios_failed = 2};
    res = gate_judge(spec, &in);
    assert_int_equal(res->verdict, GATE_FAIL);
    assert_int_equal(row_for(res, "every scenario passed")->outcome, GATE_FAIL);
    gate_result_destroy(res);
    json_decref(m);
    gate_spec_destroy(spec);
}

/* A skipped scenario fails the gate unless the gates file allows it by name,
 * and an allowed one is listed with its reason. */
static void test_skipped_scenario_fails_unless_allowed(void **state)
{
    (void)state;
    char text[4096];
    snprintf(text, sizeof(text),
             "%sallowed_skips:\n  - scenario: needs_gpu.yaml\n    reason: no GPU on CI\n", GATES);
    gate_spec_t *spec = load_ok(text);
    json_t *m = good_metrics();
    json_t *skipped = json_pack("[{s:s, s:s}]", "scenario", "idem_adapter_kill_restart.yaml",
                                "reason", "requires process_adapter: external adapter");
    gate_input_t in = {.phase = 3, .with_long = true, .metrics = m, .skipped = skipped};
    gate_result_t *res = gate_judge(spec, &in);
    assert_int_equal(res->verdict, GATE_FAIL);
    const gate_row_t *row = row_for(res, "scenario idem_adapter_kill_restart.yaml ran");
    assert_int_equal(row->outcome, GATE_FAIL);
    assert_non_null(strstr(row->note, "requires process_adapter"));
    assert_non_null(strstr(row->note, "allowed_skips"));
    gate_result_destroy(res);

    json_array_append_new(
        skipped, json_pack("{s:s, s:s}", "scenario", "needs_gpu.yaml", "reason", "requires gpu"));
    json_array_remove(skipped, 0);
    res = gate_judge(spec, &in);
    assert_int_equal(res->verdict, GATE_PASS);
    row = row_for(res, "scenario needs_gpu.yaml ran");
    assert_int_equal(row->outcome, GATE_SKIP);
    assert_non_null(strstr(row->note, "no GPU on CI"));
    gate_result_destroy(res);
    json_decref(skipped);
    json_decref(m);
    gate_spec_destroy(spec);

    /* An allowed skip without a reason is a mistake in the file. */
    char err[512];
    snprintf(text, sizeof(text), "%sallowed_skips:\n  - scenario: x.yaml\n", GATES);
    assert_null(gate_spec_load_buffer("g.yaml", text, err, sizeof(err)));
    assert_non_null(strstr(err, "reason"));
}

static void test_missing_metric_is_an_error_not_a_pass(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    json_t *m = good_metrics();
    json_object_del(m, "loss.unanswered");
    json_object_del(m, "loss.writes_lost");
    gate_result_t *res = judge(spec, 3, true, m, NULL);
    assert_int_equal(res->verdict, GATE_ERROR);
    assert_int_equal(gate_outcome_exit(res->verdict), 3);
    const gate_row_t *r = row_for(res, "no loss");
    assert_int_equal(r->outcome, GATE_ERROR);
    assert_true(isnan(r->figure));
    assert_non_null(strstr(r->note, "no scenario produced loss.*"));
    gate_result_destroy(res);

    /* With --without-long, the long-only rule is skipped (and says so), not an error. */
    json_object_del(m, "load.throughput_max");
    json_object_set_new(m, "loss.unanswered", json_integer(0));
    res = judge(spec, 3, false, m, NULL);
    assert_int_equal(res->verdict, GATE_PASS);
    assert_int_equal(row_for(res, "throughput")->outcome, GATE_SKIP);
    assert_non_null(strstr(row_for(res, "throughput")->note, "--without-long"));
    gate_result_destroy(res);
    /* With it, the same missing metric is an error. */
    res = judge(spec, 3, true, m, NULL);
    assert_int_equal(row_for(res, "throughput")->outcome, GATE_ERROR);
    assert_int_equal(res->verdict, GATE_ERROR);
    gate_result_destroy(res);
    json_decref(m);
    gate_spec_destroy(spec);
}

static void test_baseline_tolerance_and_override(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    json_t *m = good_metrics();
    json_t *base =
        json_pack("{s:f, s:f}", "ratio.query.p95", 3.8, "load.insert.throughput_max", 1250.0);
    /* ratio 4.0 vs 3.8: +5.3 % within 10 %; throughput 1000 vs 1250: -20 %
     * within its own 25 %. */
    gate_result_t *res = judge(spec, 3, true, m, base);
    const gate_row_t *r = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(r->outcome, GATE_PASS);
    assert_true(fabs(r->bound - 3.8 * 1.1) < 1e-9);
    assert_int_equal(r->cmp, GATE_LE);
    const gate_row_t *t = row_for(res, "load.insert.throughput_max against the baseline");
    assert_int_equal(t->outcome, GATE_PASS);
    assert_int_equal(t->cmp, GATE_GE);
    assert_true(fabs(t->bound - 1250 * 0.75) < 1e-9);
    assert_int_equal(row_for(res, "degradation")->outcome, GATE_PASS);
    assert_int_equal(res->verdict, GATE_PASS);
    gate_result_destroy(res);

    /* +15 % on the ratio: past the default 10 %. */
    json_object_set_new(base, "ratio.query.p95", json_real(4.0 / 1.15));
    res = judge(spec, 3, true, m, base);
    assert_int_equal(row_for(res, "ratio.query.p95 against the baseline")->outcome, GATE_FAIL);
    assert_int_equal(res->verdict, GATE_FAIL);
    gate_result_destroy(res);

    /* Throughput halved and more: a regression and the degradation trigger. */
    json_object_set_new(base, "ratio.query.p95", json_real(4.0));
    json_object_set_new(m, "load.insert.throughput_max", json_real(400));
    res = judge(spec, 3, true, m, base);
    assert_int_equal(row_for(res, "load.insert.throughput_max against the baseline")->outcome,
                     GATE_FAIL);
    const gate_row_t *d = row_for(res, "degradation");
    assert_int_equal(d->outcome, GATE_ROLLBACK);
    assert_string_equal(d->metric, "load.insert.throughput_max");
    assert_true(fabs(d->figure - 68.0) < 1e-9); /* (1250 - 400) / 1250 */
    assert_int_equal(res->verdict, GATE_ROLLBACK);
    gate_result_destroy(res);

    /* A baseline without the metric: refresh it, an error. */
    json_object_del(base, "ratio.query.p95");
    json_object_set_new(m, "load.insert.throughput_max", json_real(1250));
    res = judge(spec, 3, true, m, base);
    r = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(r->outcome, GATE_ERROR);
    assert_non_null(strstr(r->note, "refresh"));
    gate_result_destroy(res);
    json_decref(base);
    json_decref(m);
    gate_spec_destroy(spec);
}

static void test_degradation_watches_only_its_metrics(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok("rollback:\n"
                                "  - name: degradation\n"
                                "    degradation: 0.5\n"
                                "    watch: [load.insert.throughput_max]\n"
                                "baseline:\n"
                                "  metrics:\n"
                                "    - {metric: ratio.query.p95, better: smaller, tolerance: 3}\n"
                                "    - {metric: load.insert.throughput_max, better: bigger}\n");
    json_t *m = good_metrics();
    /* The noisy ratio tripled (within its own tolerance): not a rollback,
     * as the trigger does not watch it. */
    json_t *base =
        json_pack("{s:f, s:f}", "ratio.query.p95", 4.0 / 3, "load.insert.throughput_max", 1000.0);
    gate_result_t *res = judge(spec, 3, false, m, base);
    const gate_row_t *d = row_for(res, "degradation");
    assert_int_equal(d->outcome, GATE_PASS);
    assert_string_equal(d->metric, "load.insert.throughput_max");
    assert_int_equal(res->verdict, GATE_PASS);
    gate_result_destroy(res);
    json_decref(base);
    json_decref(m);
    gate_spec_destroy(spec);
}

static void test_baseline_file_keeps_other_phases(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbev-test-gate-XXXXXX", path[256], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub/baseline.json", dir);
    json_t *m1 = json_pack("{s:f}", "ratio.query.p95", 3.0);
    json_t *m3 = json_pack("{s:f}", "ratio.query.p95", 5.0);
    json_t *facts = json_pack("{s:s}", "git_commit", "abc");
    assert_int_equal(gate_baseline_store(path, "1", m1, facts, err, sizeof(err)), 0);
    assert_int_equal(gate_baseline_store(path, "3", m3, NULL, err, sizeof(err)), 0);
    json_t *got = gate_baseline_load(path, "1", err, sizeof(err));
    assert_non_null(got);
    assert_true(json_equal(got, m1));
    json_decref(got);
    got = gate_baseline_load(path, "3", err, sizeof(err));
    assert_true(json_equal(got, m3));
    json_decref(got);
    assert_null(gate_baseline_load(path, "2", err, sizeof(err)));
    assert_non_null(strstr(err, "no metrics for phase 2"));
    json_t *root = json_load_file(path, 0, NULL);
    const json_t *entry = json_object_get(json_object_get(root, "phases"), "1");
    assert_string_equal(json_string_value(json_object_get(entry, "git_commit")), "abc");
    json_decref(root);
    /* A file that is not JSON is not overwritten. */
    FILE *f = fopen(path, "w");
    fputs("{broken", f);
    fclose(f);
    assert_int_equal(gate_baseline_store(path, "1", m1, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not overwriting"));
    json_decref(m1);
    json_decref(m3);
    json_decref(facts);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static const json_t *entry_named(const json_t *array, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(array, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return e;
    }
    return NULL;
}

static void test_benchmark_json_shapes(void **state)
{
    (void)state;
    json_t *m = json_pack("{s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:f}", "latency.query.p50_ms", 10.0,
                          "latency.query.p95_ms", 20.0, "latency.query.p99_ms", 30.0,
                          "latency.query.count", 7, "ratio.query.p95", 4.0, "load.throughput_max",
                          900.0, "client.rss_mb", 26.5, "errors.rate", 0.001);
    json_t *smaller = gate_bench_smaller(m);
    assert_true(json_is_array(smaller));
    const json_t *e = entry_named(smaller, "latency.query.p95_ms");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "unit")), "ms");
    assert_true(json_number_value(json_object_get(e, "value")) == 20.0);
    assert_non_null(entry_named(smaller, "ratio.query.p95"));
    assert_non_null(entry_named(smaller, "client.rss_mb"));
    assert_null(entry_named(smaller, "latency.query.count"));
    assert_null(entry_named(smaller, "load.throughput_max"));
    json_t *bigger = gate_bench_bigger(m);
    assert_int_equal(json_array_size(bigger), 1);
    e = entry_named(bigger, "load.throughput_max");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "unit")), "events/s");
    json_t *bmf = gate_bench_bencher(m);
    const json_t *lat = json_object_get(json_object_get(bmf, "latency.query"), "latency");
    assert_non_null(lat);
    assert_true(json_number_value(json_object_get(lat, "value")) == 20.0e6); /* ns */
    assert_true(json_number_value(json_object_get(lat, "lower_value")) == 10.0e6);
    assert_true(json_number_value(json_object_get(lat, "upper_value")) == 30.0e6);
    assert_true(json_number_value(json_object_get(
                    json_object_get(json_object_get(bmf, "load.throughput_max"), "throughput"),
                    "value")) == 900.0);
    json_decref(smaller);
    json_decref(bigger);
    json_decref(bmf);

    char dir[] = "/tmp/dbev-test-gate-XXXXXX", path[256], err[512];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(gate_bench_write(m, dir, err, sizeof(err)), 0);
    static const char *const files[] = {"benchmark-smaller.json", "benchmark-bigger.json",
                                        "bencher.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        json_t *j = json_load_file(path, 0, NULL);
        assert_non_null(j);
        json_decref(j);
    }
    /* The history file takes one line per call. */
    snprintf(path, sizeof(path), "%s/h/history.jsonl", dir);
    json_t *line = json_pack("{s:s, s:O}", "phase", "1", "metrics", m);
    assert_int_equal(gate_history_append(path, line, err, sizeof(err)), 0);
    assert_int_equal(gate_history_append(path, line, err, sizeof(err)), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[4096];
    int lines = 0;
    while (fgets(buf, sizeof(buf), f)) {
        json_t *j = json_loads(buf, 0, NULL);
        assert_non_null(j);
        json_decref(j);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 2);
    json_decref(line);
    json_decref(m);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_verdict_goes_into_the_report(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    json_t *m = good_metrics();
    json_object_set_new(m, "latency.query.p95_ms", json_real(250));
    gate_result_t *res = judge(spec, 3, true, m, NULL);
    dbev_report_t *report = dbev_report_new("t");
    assert_int_equal(gate_result_to_report(res, "gate phase 3", report), 0);
    char dir[] = "/tmp/dbev-test-gate-XXXXXX", path[256], err[512];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(dbev_report_write_all(report, dir, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/report.json", dir);
    json_t *j = json_load_file(path, 0, NULL);
    assert_non_null(j);
    const json_t *verdict = json_object_get(j, "verdict");
    assert_string_equal(json_string_value(json_object_get(verdict, "outcome")), "rollback");
    assert_true(json_array_size(json_object_get(verdict, "criteria")) == res->n_rows);
    json_decref(j);
    /* JUnit: the rollback row is a failing test case of the gate suite. */
    snprintf(path, sizeof(path), "%s/report.xml", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *xml = calloc(1, 1 << 16);
    size_t n = fread(xml, 1, (1 << 16) - 1, f);
    fclose(f);
    assert_true(n > 0);
    assert_non_null(strstr(xml, "gate phase 3"));
    assert_non_null(strstr(xml, "ROLLBACK latency.query.p95_ms"));
    free(xml);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    dbev_report_destroy(report);
    gate_result_destroy(res);
    json_decref(m);
    gate_spec_destroy(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_reads_rules),
        cmocka_unit_test(test_spec_errors_point_at_the_mistake),
        cmocka_unit_test(test_committed_gates_file_loads),
        cmocka_unit_test(test_judge_pass),
        cmocka_unit_test(test_judge_fail_and_rollback),
        cmocka_unit_test(test_skipped_scenario_fails_unless_allowed),
        cmocka_unit_test(test_missing_metric_is_an_error_not_a_pass),
        cmocka_unit_test(test_baseline_tolerance_and_override),
        cmocka_unit_test(test_degradation_watches_only_its_metrics),
        cmocka_unit_test(test_baseline_file_keeps_other_phases),
        cmocka_unit_test(test_benchmark_json_shapes),
        cmocka_unit_test(test_verdict_goes_into_the_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
