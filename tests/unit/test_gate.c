/*
 * Unit tests of the gates (harness/gate/gate*.c): reading a gates file
 * (mistakes at file:line:column), judging metrics (pass, fail, rollback, a
 * missing metric is an error, skips say why), the statistics of the
 * regression test (t quantiles; a 20 % shift of a known distribution
 * flagged, the same distribution not), baseline comparison against several
 * runs, another machine's baseline, baseline files (runs appended, the old
 * one-run format refused), the benchmark JSON
 * shapes, the history file and the verdict in the report. Also checks that
 * the committed ci/gates.yaml loads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "gate/gate.h"

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
                                 "  confidence: 0.99\n"
                                 "  metrics:\n"
                                 "    - metric: ratio.query.p95\n"
                                 "      better: smaller\n"
                                 "    - metric: load.insert.throughput_max\n"
                                 "      better: bigger\n"
                                 "      min_effect: 0.25\n"
                                 "      confidence: 0.95\n";

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
    assert_true(fabs(spec->rules[5].confidence - 0.99) < 1e-12); /* the section's */
    assert_true(fabs(spec->rules[5].min_effect - 0.05) < 1e-12); /* the default */
    assert_true(fabs(spec->rules[6].confidence - 0.95) < 1e-12); /* its own */
    assert_true(fabs(spec->rules[6].min_effect - 0.25) < 1e-12);
    assert_int_equal(spec->min_runs, 3);
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
    expect_error("baseline:\n  min_effect: -1\n", "g.yaml:2:15", "fraction");
    /* The old band around one run: replaced, and the error names what by. */
    expect_error("baseline:\n  tolerance: 0.10\n", "g.yaml:2:14",
                 "give confidence (e.g. 0.99) and min_effect");
    expect_error("baseline:\n  metrics:\n    - {metric: m, better: bigger, tolerance: 1.5}\n",
                 "g.yaml:3:46", "tolerance is gone");
    expect_error("baseline:\n  confidence: 1.5\n", "g.yaml:2:15", "above 0.5, below 1");
    expect_error("baseline:\n  min_runs: 1\n", "g.yaml:2:13", "a spread needs two");
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

static json_t *machine(int cpus, const char *model)
{
    return json_pack("{s:i, s:s, s:s}", "cpus", cpus, "cpu_model", model, "kernel", "6.1");
}

/* A baseline entry recorded on machine(2, "cpu A"), without samples yet. */
static json_t *entry(void)
{
    return json_pack("{s:o, s:{}}", "machine", machine(2, "cpu A"), "samples");
}

/* Adds n runs' values of metric to an entry. */
static void add_samples(json_t *e, const char *metric, size_t n, const double *values)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_real(values[i]));
    json_object_set_new(json_object_get(e, "samples"), metric, list);
}

static gate_result_t *judge_on(const gate_spec_t *spec, int phase, bool with_long,
                               const json_t *metrics, const json_t *baseline, const json_t *mach,
                               bool any_machine)
{
    gate_input_t in = {.phase = phase,
                       .with_long = with_long,
                       .metrics = metrics,
                       .baseline = baseline,
                       .baseline_note = "no --baseline given",
                       .machine = mach,
                       .any_machine = any_machine};
    gate_result_t *res = gate_judge(spec, &in);
    assert_non_null(res);
    return res;
}

static gate_result_t *judge(const gate_spec_t *spec, int phase, bool with_long,
                            const json_t *metrics, const json_t *baseline)
{
    json_t *here = machine(2, "cpu A");
    gate_input_t in = {.phase = phase,
                       .with_long = with_long,
                       .metrics = metrics,
                       .baseline = baseline,
                       .baseline_note = "no --baseline given",
                       .machine = here};
    gate_result_t *res = gate_judge(spec, &in);
    json_decref(here);
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

/* Student's t quantiles against published tables. */
static void test_t_quantiles(void **state)
{
    (void)state;
    assert_true(fabs(gate_t_quantile(0.99, 4) - 3.747) < 1e-3);
    assert_true(fabs(gate_t_quantile(0.95, 9) - 1.833) < 1e-3);
    assert_true(fabs(gate_t_quantile(0.99, 29) - 2.462) < 1e-3);
    assert_true(fabs(gate_t_quantile(0.975, 1) - 12.706) < 1e-3);
    assert_true(fabs(gate_t_quantile(0.999, 2) - 22.327) < 1e-2);
    assert_true(fabs(gate_t_quantile(0.99, 1e6) - 2.326) < 1e-3); /* the normal's */
    assert_true(fabs(gate_t_cdf(0, 5) - 0.5) < 1e-12);
    assert_true(fabs(gate_t_quantile(0.01, 4) + 3.747) < 1e-3);
    assert_true(isnan(gate_t_quantile(1.0, 4)));
}

/* Fixed data of one distribution, about N(100, 2.4^2): ten values for the
 * baseline's runs (mean 99.83, sd 2.40) and twenty fresh ones (mean 99.89,
 * sd 2.34; the largest 1.75 sd above the baseline's mean), written out so
 * that the test never depends on a generator. */
static const double BASE_RUNS[10] = {101.93, 97.42, 100.86, 103.51, 98.77,
                                     99.64,  95.80, 102.29, 100.12, 97.95};
static const double FRESH[20] = {99.11,  102.87, 96.63,  100.48, 104.02, 98.25,  101.37,
                                 97.08,  100.95, 99.72,  103.16, 95.94,  101.81, 98.69,
                                 100.21, 96.98,  102.44, 99.37,  97.71,  101.06};

static void test_stats_flag_a_shift_not_noise(void **state)
{
    (void)state;
    gate_stat_t st;
    /* The same distribution: never flagged at 99 % (a one-in-a-hundred
     * draw could be; these twenty are not). */
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(gate_stat_test(BASE_RUNS, 10, FRESH[i], false, 0.99, 0.05, &st), 0);
        if (st.flagged)
            fail_msg("fresh draw %zu (%.2f) flagged, bound %.2f", i, FRESH[i], st.bound);
    }
    /* Shifted by 20 %: every one flagged. */
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(gate_stat_test(BASE_RUNS, 10, FRESH[i] * 1.2, false, 0.99, 0.05, &st), 0);
        if (!st.flagged)
            fail_msg("shifted draw %zu (%.2f) not flagged, bound %.2f", i, FRESH[i] * 1.2,
                     st.bound);
    }
    /* The bound is the prediction interval's: mean + t(0.99, 9) sd sqrt(1 + 1/10). */
    gate_stat_test(BASE_RUNS, 10, 100, false, 0.99, 0.05, &st);
    assert_true(fabs(st.mean - 99.829) < 1e-9);
    assert_true(fabs(st.bound - (st.mean + gate_t_quantile(0.99, 9) * st.sd * sqrt(1.1))) < 1e-9);
    /* A throughput: worse is smaller, a 20 % drop flagged, +20 % not. */
    assert_int_equal(gate_stat_test(BASE_RUNS, 10, 80, true, 0.99, 0.05, &st), 0);
    assert_true(st.flagged);
    gate_stat_test(BASE_RUNS, 10, 120, true, 0.99, 0.05, &st);
    assert_false(st.flagged);
    /* A steady baseline: the minimum effect decides (+4 % passes, +6 % fails). */
    const double steady[3] = {1000, 1000.5, 999.5};
    gate_stat_test(steady, 3, 1040, false, 0.99, 0.05, &st);
    assert_false(st.flagged);
    assert_true(fabs(st.bound - 1050) < 1e-9);
    gate_stat_test(steady, 3, 1060, false, 0.99, 0.05, &st);
    assert_true(st.flagged);
    /* One run has no spread: no test. */
    assert_int_equal(gate_stat_test(steady, 1, 1000, false, 0.99, 0.05, &st), -1);
}

static void test_baseline_runs_judge_the_run(void **state)
{
    (void)state;
    gate_spec_t *spec = load_ok(GATES);
    json_t *m = good_metrics();
    json_t *base = entry();
    const double ratios[5] = {3.9, 4.1, 4.0, 3.95, 4.05};
    const double rates[5] = {1010, 1000, 990, 1005, 995};
    add_samples(base, "ratio.query.p95", 5, ratios);
    add_samples(base, "load.insert.throughput_max", 5, rates);
    /* ratio 4.0 and throughput 1000: the baseline's own. */
    gate_result_t *res = judge(spec, 3, true, m, base);
    const gate_row_t *r = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(r->outcome, GATE_PASS);
    assert_int_equal(r->cmp, GATE_LE);
    assert_non_null(strstr(r->note, "5 runs"));
    const gate_row_t *t = row_for(res, "load.insert.throughput_max against the baseline");
    assert_int_equal(t->outcome, GATE_PASS);
    assert_int_equal(t->cmp, GATE_GE);
    assert_true(fabs(t->bound - 750) < 1e-9); /* its own min_effect of 25 % decides */
    assert_int_equal(row_for(res, "degradation")->outcome, GATE_PASS);
    assert_int_equal(res->verdict, GATE_PASS);
    gate_result_destroy(res);

    /* +20 % on the ratio: flagged. */
    json_object_set_new(m, "ratio.query.p95", json_real(4.8));
    res = judge(spec, 3, true, m, base);
    assert_int_equal(row_for(res, "ratio.query.p95 against the baseline")->outcome, GATE_FAIL);
    assert_int_equal(res->verdict, GATE_FAIL);
    gate_result_destroy(res);

    /* Throughput halved and more: a regression and the degradation trigger. */
    json_object_set_new(m, "ratio.query.p95", json_real(4.0));
    json_object_set_new(m, "load.insert.throughput_max", json_real(400));
    res = judge(spec, 3, true, m, base);
    assert_int_equal(row_for(res, "load.insert.throughput_max against the baseline")->outcome,
                     GATE_FAIL);
    const gate_row_t *d = row_for(res, "degradation");
    assert_int_equal(d->outcome, GATE_ROLLBACK);
    assert_string_equal(d->metric, "load.insert.throughput_max");
    assert_true(fabs(d->figure - 60.0) < 1e-9); /* (1000 - 400) / 1000, against the mean */
    assert_int_equal(res->verdict, GATE_ROLLBACK);
    gate_result_destroy(res);

    /* Another machine: not compared, and says why; judged when asked. */
    json_object_set_new(m, "load.insert.throughput_max", json_real(1000));
    json_object_set_new(m, "ratio.query.p95", json_real(4.8));
    json_t *other = machine(8, "cpu B");
    res = judge_on(spec, 3, true, m, base, other, false);
    r = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(r->outcome, GATE_SKIP);
    assert_non_null(strstr(r->note, "another machine"));
    assert_non_null(strstr(r->note, "8 of cpu B"));
    assert_int_equal(row_for(res, "degradation")->outcome, GATE_SKIP);
    assert_int_equal(res->verdict, GATE_PASS);
    gate_result_destroy(res);
    res = judge_on(spec, 3, true, m, base, other, true);
    r = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(r->outcome, GATE_FAIL);
    assert_non_null(strstr(r->note, "--baseline-any-machine"));
    gate_result_destroy(res);
    json_decref(other);

    /* Two runs are fewer than min_runs (3): an error, not a pass. */
    add_samples(base, "ratio.query.p95", 2, ratios);
    res = judge(spec, 3, true, m, base);
    r = row_for(res, "ratio.query.p95 against the baseline");
    assert_int_equal(r->outcome, GATE_ERROR);
    assert_non_null(strstr(r->note, "needs 3"));
    gate_result_destroy(res);

    /* A baseline without the metric: refresh it, an error. */
    json_object_del(json_object_get(base, "samples"), "ratio.query.p95");
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
                                "    - {metric: ratio.query.p95, better: smaller}\n"
                                "    - {metric: load.insert.throughput_max, better: bigger}\n");
    json_t *m = good_metrics();
    /* The ratio tripled: a regression, but not a rollback, as the trigger
     * does not watch it. */
    json_t *base = entry();
    const double ratios[3] = {4.0 / 3, 4.1 / 3, 3.9 / 3};
    const double rates[3] = {1000, 1001, 999};
    add_samples(base, "ratio.query.p95", 3, ratios);
    add_samples(base, "load.insert.throughput_max", 3, rates);
    gate_result_t *res = judge(spec, 3, false, m, base);
    const gate_row_t *d = row_for(res, "degradation");
    assert_int_equal(d->outcome, GATE_PASS);
    assert_string_equal(d->metric, "load.insert.throughput_max");
    assert_int_equal(res->verdict, GATE_FAIL);
    gate_result_destroy(res);
    json_decref(base);
    json_decref(m);
    gate_spec_destroy(spec);
}

/* Removes a test's temporary directory (mkdtemp), asserting it went. */
static void remove_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static json_t *facts(const char *commit, int cpus)
{
    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:s}", "git_commit", commit, "machine",
                     machine(cpus, "cpu A"), "settings", "mode", "both", "with_long", true, "time",
                     "2025-01-01T00:00:00Z", "verdict", "PASS");
}

static int store(const char *path, const char *key, const json_t *m, const json_t *f, bool restart,
                 int *runs, char *why)
{
    char err[512];
    int rc =
        gate_baseline_store(path, key, m, f, restart, NULL, 3, runs, why, 200, err, sizeof(err));
    if (rc != 0)
        fail_msg("store: %s", err);
    return rc;
}

static size_t n_samples(const char *path, const char *key, const char *metric)
{
    char err[512];
    json_t *e = gate_baseline_load(path, key, err, sizeof(err));
    if (!e)
        fail_msg("load: %s", err);
    size_t n = json_array_size(json_object_get(json_object_get(e, "samples"), metric));
    json_decref(e);
    return n;
}

static void test_baseline_file_keeps_runs_and_other_phases(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbev-test-gate-XXXXXX", path[256], err[512], why[200];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub/baseline.json", dir);
    json_t *m1 = json_pack("{s:f, s:s}", "probe.query.p50_ms", 3.0, "not", "a number");
    json_t *m3 = json_pack("{s:f}", "probe.query.p50_ms", 5.0);
    json_t *fa = facts("abc", 2), *fb = facts("def", 2), *fc = facts("def", 4);
    int runs = 0;
    store(path, "1", m1, fa, false, &runs, why);
    assert_int_equal(runs, 1);
    assert_non_null(strstr(why, "no entry yet"));
    store(path, "1", m1, fa, false, &runs, why); /* same commit, machine, settings: joins */
    assert_int_equal(runs, 2);
    assert_string_equal(why, "");
    store(path, "3", m3, fa, false, &runs, why);
    assert_int_equal(n_samples(path, "1", "probe.query.p50_ms"), 2);
    assert_int_equal(n_samples(path, "3", "probe.query.p50_ms"), 1);
    assert_int_equal(n_samples(path, "1", "not"), 0); /* numbers only */
    /* At most max_runs (3), the newest. */
    store(path, "1", m1, fa, false, &runs, why);
    store(path, "1", m1, fa, false, &runs, why);
    assert_int_equal(runs, 3);
    assert_int_equal(n_samples(path, "1", "probe.query.p50_ms"), 3);
    /* A new commit, another machine, or asked to: the entry starts over. */
    store(path, "1", m1, fb, false, &runs, why);
    assert_int_equal(runs, 1);
    assert_non_null(strstr(why, "commit abc"));
    store(path, "1", m1, fc, false, &runs, why);
    assert_int_equal(runs, 1);
    assert_non_null(strstr(why, "machine differs"));
    store(path, "1", m1, fc, true, &runs, why);
    assert_int_equal(runs, 1);
    assert_non_null(strstr(why, "asked"));
    json_t *e = gate_baseline_load(path, "1", err, sizeof(err));
    assert_string_equal(json_string_value(json_object_get(e, "git_commit")), "def");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "machine"), "cpus")), 4);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "settings"), "mode")),
                        "both");
    json_decref(e);
    assert_null(gate_baseline_load(path, "2", err, sizeof(err)));
    assert_non_null(strstr(err, "no entry for phase 2"));

    /* The old one-run format: refused with what to do, never judged. */
    FILE *f = fopen(path, "w");
    fputs("{\"schema_version\": 1, \"phases\": {\"1\": {\"metrics\": {\"a\": 1}}}}", f);
    fclose(f);
    assert_null(gate_baseline_load(path, "1", err, sizeof(err)));
    assert_non_null(strstr(err, "old one-run format"));
    assert_non_null(strstr(err, "ci/gate --refresh-baseline"));
    /* ... and storing into it starts that phase over in the new format. */
    store(path, "1", m1, fa, false, &runs, why);
    assert_non_null(strstr(why, "old one-run format"));
    assert_int_equal(n_samples(path, "1", "probe.query.p50_ms"), 1);

    /* A file that is not JSON is not overwritten. */
    f = fopen(path, "w");
    fputs("{broken", f);
    fclose(f);
    assert_int_equal(gate_baseline_store(path, "1", m1, fa, false, NULL, 3, &runs, why, sizeof(why),
                                         err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "not overwriting"));
    json_decref(m1);
    json_decref(m3);
    json_decref(fa);
    json_decref(fb);
    json_decref(fc);
    remove_tree(dir);
}

/* A partial run (--baseline-only probe.) adds the probe's samples to an
 * entry of full runs at the same commit and machine, whatever its
 * scenarios; it never starts an entry, and the other metrics keep the full
 * runs' samples. */
static void test_baseline_partial_runs(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbev-test-gate-XXXXXX", path[256], err[512], why[200];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/baseline.json", dir);
    json_t *full = json_pack("{s:f, s:f}", "probe.query.p50_ms", 3.0, "latency.query.p95_ms", 9.0);
    json_t *fa = facts("abc", 2), *fb = facts("def", 2);
    json_t *probe_only = facts("abc", 2);
    json_object_set_new(json_object_get(probe_only, "settings"), "scenarios",
                        json_pack("[s]", "perf_probe.yaml"));
    int runs = 0;
    /* No entry yet: refused, with the fix. */
    assert_int_equal(gate_baseline_store(path, "1", full, probe_only, false, "probe.", 4, &runs,
                                         why, sizeof(why), err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "record full runs first"));
    store(path, "1", full, fa, false, &runs, why);
    store(path, "1", full, fa, false, &runs, why);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gate_baseline_store(path, "1", full, probe_only, false, "probe.", 4, &runs,
                                             why, sizeof(why), err, sizeof(err)),
                         0);
    assert_int_equal(runs, 2);                                         /* full runs */
    assert_int_equal(n_samples(path, "1", "probe.query.p50_ms"), 4);   /* max_runs, newest */
    assert_int_equal(n_samples(path, "1", "latency.query.p95_ms"), 2); /* full runs only */
    json_t *e = gate_baseline_load(path, "1", err, sizeof(err));
    assert_int_equal(json_array_size(json_object_get(e, "partial_runs")), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(e, "partial_runs"), 0), "only")),
                        "probe.");
    json_decref(e);
    /* Another commit: refused, the entry kept. */
    assert_int_equal(gate_baseline_store(path, "1", full, fb, false, "probe.", 4, &runs, why,
                                         sizeof(why), err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "commit abc"));
    /* Another mode (its figures are another path's): refused too. */
    json_t *event_mode = facts("abc", 2);
    json_object_set_new(json_object_get(event_mode, "settings"), "mode", json_string("event"));
    assert_int_equal(gate_baseline_store(path, "1", full, event_mode, false, "probe.", 4, &runs,
                                         why, sizeof(why), err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "the mode differs"));
    json_decref(event_mode);
    assert_int_equal(n_samples(path, "1", "latency.query.p95_ms"), 2);
    json_decref(full);
    json_decref(fa);
    json_decref(fb);
    json_decref(probe_only);
    remove_tree(dir);
}

static void test_machine_facts(void **state)
{
    (void)state;
    json_t *m = gate_machine_facts();
    assert_true(json_integer_value(json_object_get(m, "cpus")) >= 1);
    assert_non_null(json_string_value(json_object_get(m, "cpu_model")));
    assert_non_null(json_string_value(json_object_get(m, "kernel")));
    char why[200];
    assert_false(gate_machine_differs(m, m, why, sizeof(why)));
    json_t *other = machine(64, "cpu Z");
    assert_true(gate_machine_differs(other, m, why, sizeof(why)));
    assert_non_null(strstr(why, "64 cores of cpu Z"));
    json_decref(other);
    json_decref(m);
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
    remove_tree(dir);
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
    remove_tree(dir);
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
        cmocka_unit_test(test_t_quantiles),
        cmocka_unit_test(test_stats_flag_a_shift_not_noise),
        cmocka_unit_test(test_baseline_runs_judge_the_run),
        cmocka_unit_test(test_degradation_watches_only_its_metrics),
        cmocka_unit_test(test_baseline_file_keeps_runs_and_other_phases),
        cmocka_unit_test(test_baseline_partial_runs),
        cmocka_unit_test(test_machine_facts),
        cmocka_unit_test(test_benchmark_json_shapes),
        cmocka_unit_test(test_verdict_goes_into_the_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
