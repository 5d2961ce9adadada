/*
 * Unit tests of the load step's pure parts (harness/load/load.h): reading a
 * `load:` mapping, the open-loop schedule, stress rate stepping, classifying
 * acknowledged writes, judging figures against `expect:` (with the exact
 * messages a failed CI run shows) and the stress knee sentence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "load/load.h"
#include "scenario/scenario.h"

#include <stdio.h>
#include <string.h>

static json_t *J(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (!v)
        fail_msg("bad JSON in test: %s: %s", err.text, text);
    return v;
}

/* ---- spec --------------------------------------------------------------------- */

static void test_spec_plain(void **state)
{
    (void)state;
    json_t *body = J("{\"rate\": 500, \"count\": 300, \"max_in_flight\": 50, \"timeout_ms\": 2000,"
                     " \"insert\": {\"table\": \"items\", \"data\": {\"name\": \"n-${seq}\"}},"
                     " \"key\": {\"table\": \"items\", \"column\": \"name\", \"value\": "
                     "\"n-${seq}\"}}");
    load_spec_t spec;
    char err[512];
    assert_int_equal(load_spec_parse(body, &spec, err, sizeof(err)), 0);
    assert_true(spec.rate == 500);
    assert_int_equal(spec.count, 300);
    assert_int_equal(spec.max_in_flight, 50);
    assert_int_equal(spec.timeout_ms, 2000);
    assert_int_equal(spec.max_retries, -1);
    assert_int_equal(spec.op, DBEV_OP_INSERT);
    assert_string_equal(spec.op_key, "insert");
    assert_string_equal(spec.key_table, "items");
    assert_string_equal(spec.key_column, "name");
    assert_false(spec.stress.on);
    json_decref(body);

    /* duration gives rate * duration requests; defaults fill the rest */
    body = J("{\"rate\": 1000, \"duration_s\": 30, \"query\": \"SELECT 1\", \"retries\": 2}");
    assert_int_equal(load_spec_parse(body, &spec, err, sizeof(err)), 0);
    assert_int_equal(spec.count, 30000);
    assert_int_equal(spec.max_in_flight, 1000);
    assert_int_equal(spec.timeout_ms, 5000);
    assert_int_equal(spec.max_retries, 2);
    assert_true(spec.warmup_s == 0);
    assert_int_equal(spec.op, DBEV_OP_SELECT);
    assert_null(spec.key_value);
    json_decref(body);
}

static void expect_refused(const char *text, const char *needle)
{
    json_t *body = J(text);
    load_spec_t spec;
    char err[512] = "";
    assert_int_equal(load_spec_parse(body, &spec, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fail_msg("for %s: expected '%s' in '%s'", text, needle, err);
    json_decref(body);
}

static void test_spec_refusals(void **state)
{
    (void)state;
    expect_refused("{\"rate\": 10, \"count\": 5}", "exactly one operation");
    expect_refused("{\"rate\": 10, \"count\": 5, \"query\": \"SELECT 1\", \"health\": {}}",
                   "exactly one operation");
    expect_refused("{\"rate\": 10, \"count\": 5, \"query\": \"SELECT 1\", \"rat\": 1}",
                   "unknown key 'rat'");
    expect_refused("{\"rate\": 0, \"count\": 5, \"query\": \"SELECT 1\"}", "rate must be");
    expect_refused("{\"rate\": 10, \"query\": \"SELECT 1\"}", "duration_s or count");
    expect_refused("{\"rate\": 10, \"count\": 5, \"insert\": \"x\"}", "mapping");
    expect_refused("{\"rate\": 10, \"count\": 5, \"query\": \"SELECT 1\", \"key\": "
                   "{\"table\": \"t\"}}",
                   "key needs table and column");
    expect_refused("{\"rate\": 10, \"count\": 5, \"query\": \"SELECT 1\", \"retries\": -1}",
                   "retries");
    expect_refused("{\"rate\": 10, \"count\": 5, \"query\": \"SELECT 1\", \"warmup_s\": -1}",
                   "warmup_s");
    expect_refused("{\"rate\": 10, \"duration_s\": 10, \"warmup_s\": 6, \"query\": \"SELECT 1\", "
                   "\"stress\": {\"p99_ms\": 50, \"step_duration_s\": 5}}",
                   "longer than the whole stress");
    /* stress */
    expect_refused("{\"rate\": 10, \"duration_s\": 30, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"step\": \"x1.5\"}}",
                   "p99_ms is required");
    expect_refused("{\"rate\": 10, \"duration_s\": 30, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"p99_ms\": 50, \"max_duration_s\": 90}}",
                   "bounded to 60 s");
    expect_refused("{\"rate\": 10, \"duration_s\": 120, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"p99_ms\": 50}}",
                   "bounded to 60 s");
    expect_refused("{\"rate\": 10, \"count\": 30, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"p99_ms\": 50}}",
                   "not a count");
    expect_refused("{\"rate\": 10, \"duration_s\": 30, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"p99_ms\": 50, \"step\": \"x0.5\"}}",
                   "must raise the rate");
    expect_refused("{\"rate\": 10, \"duration_s\": 30, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"p99_ms\": 50, \"step_duration_s\": 40}}",
                   "longer than the whole stress");
    expect_refused("{\"rate\": 10, \"duration_s\": 30, \"query\": \"SELECT 1\", \"stress\": "
                   "{\"p99_ms\": 50, \"knee\": 1}}",
                   "unknown stress key 'knee'");
}

static void test_spec_stress(void **state)
{
    (void)state;
    json_t *body = J("{\"rate\": 100, \"duration_s\": 45, \"query\": \"SELECT 1\", \"stress\": "
                     "{\"start_rate\": 200, \"step\": \"+50\", \"step_duration_s\": 3, "
                     "\"p99_ms\": 20}}");
    load_spec_t spec;
    char err[512];
    assert_int_equal(load_spec_parse(body, &spec, err, sizeof(err)), 0);
    assert_true(spec.stress.on);
    assert_true(spec.stress.start_rate == 200);
    assert_true(spec.rate == 200);
    assert_false(spec.stress.step.multiply);
    assert_true(spec.stress.step.by == 50);
    assert_true(spec.stress.step_duration_s == 3);
    assert_true(spec.stress.max_duration_s == 45); /* from duration_s */
    assert_true(spec.stress.p99_ms == 20);
    assert_true(spec.stress.max_error_rate == 0.01);
    json_decref(body);

    /* defaults: start at rate, x1.5 steps of 5 s */
    body = J("{\"rate\": 100, \"duration_s\": 60, \"query\": \"SELECT 1\", \"stress\": "
             "{\"p99_ms\": 20}}");
    assert_int_equal(load_spec_parse(body, &spec, err, sizeof(err)), 0);
    assert_true(spec.stress.start_rate == 100);
    assert_true(spec.stress.step.multiply);
    assert_true(spec.stress.step.by == 1.5);
    assert_true(spec.stress.step_duration_s == 5);
    json_decref(body);
}

/* ---- schedule ----------------------------------------------------------------- */

static void test_schedule(void **state)
{
    (void)state;
    assert_int_equal(load_count_for(1000, 30, 0), 30000);
    assert_int_equal(load_count_for(500, 0, 300), 300);
    assert_int_equal(load_count_for(0.5, 1, 0), 1); /* at least one request */
    assert_int_equal(load_count_for(3, 0.9999999999, 0), 3);

    int64_t start = 1000000;
    assert_int_equal(load_intended_us(start, 0, 500), start);
    assert_int_equal(load_intended_us(start, 1, 500), start + 2000);
    assert_int_equal(load_intended_us(start, 300, 500), start + 600000);
    /* a rate whose interval is not a whole number of µs does not drift */
    assert_int_equal(load_intended_us(start, 3000000, 3), start + 1000000000000LL);
    assert_int_equal(load_intended_us(start, 1, 3), start + 333333);
    assert_int_equal(load_intended_us(start, 2, 3), start + 666667);
    /* monotonic, evenly spread */
    int64_t prev = start;
    for (int64_t i = 1; i < 10000; i++) {
        int64_t t = load_intended_us(start, i, 7777);
        assert_true(t >= prev);
        assert_true(t - prev <= 129 && t - prev >= 128);
        prev = t;
    }
}

static void test_rate_steps(void **state)
{
    (void)state;
    load_rate_step_t step;
    json_t *v = J("\"x1.5\"");
    assert_int_equal(load_rate_step_parse(v, &step), 0);
    assert_true(step.multiply);
    assert_true(load_rate_next(200, &step) == 300);
    json_decref(v);
    v = J("\"*2\"");
    assert_int_equal(load_rate_step_parse(v, &step), 0);
    assert_true(load_rate_next(200, &step) == 400);
    json_decref(v);
    v = J("\"+250\"");
    assert_int_equal(load_rate_step_parse(v, &step), 0);
    assert_false(step.multiply);
    assert_true(load_rate_next(200, &step) == 450);
    json_decref(v);
    v = J("100");
    assert_int_equal(load_rate_step_parse(v, &step), 0);
    assert_true(load_rate_next(200, &step) == 300);
    json_decref(v);
    const char *bad[] = {"\"x1\"",  "\"x0.5\"",  "\"+0\"", "\"-5\"", "\"x\"",
                         "\"1.5\"", "\"x1.5s\"", "0",      "true"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = J(bad[i]);
        if (load_rate_step_parse(v, &step) != -1)
            fail_msg("step %s accepted", bad[i]);
        json_decref(v);
    }
    /* a staircase from 200 by x1.5 */
    step.multiply = true;
    step.by = 1.5;
    double r = 200;
    const double want[] = {300, 450, 675, 1012.5};
    for (size_t i = 0; i < 4; i++) {
        r = load_rate_next(r, &step);
        assert_true(r == want[i]);
    }
}

/* ---- writes ------------------------------------------------------------------- */

static void test_writes(void **state)
{
    (void)state;
    load_writes_t w = {0};
    load_writes_add(&w, "a", 1);
    load_writes_add(&w, "b", 1);
    load_writes_add(&w, "c", 0);
    load_writes_add(&w, "d", 2);
    load_writes_add(&w, "e", 0);
    load_writes_add(&w, "f", 3);
    assert_int_equal(w.present_once, 2);
    assert_int_equal(w.lost, 2);
    assert_int_equal(w.doubled, 2);
    assert_string_equal(w.first_lost, "c");
    assert_string_equal(w.first_doubled, "d");
}

/* ---- judging ------------------------------------------------------------------ */

static load_figures_t clean_figures(json_t *errors)
{
    load_figures_t f = {0};
    f.target_rate = 1000;
    f.duration_us = 30000000;
    f.requests = 30000;
    f.answered = 30000;
    f.throughput = 1000;
    f.p50_us = 4000;
    f.p90_us = 9000;
    f.p95_us = 142300;
    f.p99_us = 180000;
    f.max_us = 250000;
    f.errors_by_code = errors;
    f.checker.sent = 30000;
    f.checker.answered_once = 30000;
    f.checker.acked_writes = 30000;
    f.writes_checked = true;
    f.writes.present_once = 30000;
    return f;
}

static void judge(const char *expect_text, const load_figures_t *f, bool stress, load_verdict_t *v)
{
    json_t *expect = expect_text ? J(expect_text) : NULL;
    load_judge(expect, f, stress, v);
    json_decref(expect);
}

static void test_judge_pass(void **state)
{
    (void)state;
    json_t *errors = json_object();
    load_figures_t f = clean_figures(errors);
    load_verdict_t v;
    judge(NULL, &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);
    assert_string_equal(v.message, "");
    judge("{\"min_throughput\": 1000, \"p95_ms\": 150, \"p99_ms\": 200, \"max_error_rate\": "
          "0.01, \"error_codes\": [], \"no_loss\": true}",
          &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);
    assert_string_equal(v.message, "");
    assert_string_equal(v.expected, "");
    json_decref(errors);
}

static void test_judge_percentile(void **state)
{
    (void)state;
    json_t *errors = json_object();
    load_figures_t f = clean_figures(errors);
    load_verdict_t v;
    judge("{\"p50_ms\": 10, \"p95_ms\": 100}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message, "p95 142.3 ms > bound 100 ms");
    assert_string_equal(v.expected, "p50 <= 10 ms; p95 <= 100 ms");
    assert_string_equal(v.actual, "p50 4.0 ms; p95 142.3 ms");
    /* every broken expectation is listed */
    judge("{\"p90_ms\": 5, \"p99_ms\": 100, \"min_throughput\": 1200}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(v.message, "throughput 1000.0/s < min_throughput 1200/s"));
    assert_non_null(strstr(v.message, "p90 9.0 ms > bound 5 ms"));
    assert_non_null(strstr(v.message, "p99 180.0 ms > bound 100 ms"));
    /* A sanitizer build's scenario suites: timing bounds only warn, the
     * other expectations still fail. */
    setenv("DBEV_TIMING_ADVISORY", "1", 1);
    judge("{\"p95_ms\": 100, \"min_throughput\": 1200}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);
    assert_non_null(strstr(v.message, "p95 142.3 ms > bound 100 ms"));
    assert_non_null(strstr(v.message, "not failing: DBEV_TIMING_ADVISORY"));
    f.checker.unanswered = 1;
    judge("{\"p95_ms\": 100, \"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    unsetenv("DBEV_TIMING_ADVISORY");
    json_decref(errors);
}

/* slowest_ms_at_least: a fault meant to slow the load must show; it fails
 * even where timing bounds only warn, and a bad value is a misuse. */
static void test_judge_slowest_at_least(void **state)
{
    (void)state;
    json_t *errors = json_object();
    load_figures_t f = clean_figures(errors);
    f.max_us = 10600;
    load_verdict_t v;
    setenv("DBEV_TIMING_ADVISORY", "1", 1);
    judge("{\"slowest_ms_at_least\": 2000}", &f, false, &v);
    unsetenv("DBEV_TIMING_ADVISORY");
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_non_null(
        strstr(v.message, "the slowest answer took 10.6 ms < slowest_ms_at_least 2000"));
    f.max_us = 5890000;
    judge("{\"slowest_ms_at_least\": 2000}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);
    assert_string_equal(v.message, "");
    judge("{\"slowest_ms_at_least\": -1}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);
    json_decref(errors);
}

static void test_judge_errors(void **state)
{
    (void)state;
    json_t *errors = json_object();
    json_object_set_new(errors, "TIMEOUT_ERROR", json_integer(200));
    json_object_set_new(errors, "_TIMEOUT", json_integer(31));
    load_figures_t f = clean_figures(errors);
    f.requests = 10000;
    f.errors = 231;
    load_verdict_t v;
    judge("{\"max_error_rate\": 0.01}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message,
                        "error rate 2.31% (231 of 10000: TIMEOUT_ERROR 200, _TIMEOUT 31) > max 1%");
    judge("{\"max_error_rate\": 0.05}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);

    judge("{\"error_codes\": [\"TIMEOUT_ERROR\"]}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message, "errors with codes not allowed: _TIMEOUT 31");
    judge("{\"error_codes\": [\"TIMEOUT_ERROR\", \"_TIMEOUT\"]}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);

    /* by code: {code: fraction}, "all" for the total */
    judge("{\"max_error_rate\": {\"TIMEOUT_ERROR\": 0.01}}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message, "TIMEOUT_ERROR rate 2.00% (200 of 10000) > max 1%");
    assert_string_equal(v.expected, "TIMEOUT_ERROR rate <= 1%");
    judge("{\"max_error_rate\": {\"TIMEOUT_ERROR\": 0.03, \"_TIMEOUT\": 0.001, "
          "\"DATABASE_OPERATION_FAILED\": 0}}",
          &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message, "_TIMEOUT rate 0.31% (31 of 10000) > max 0.1%");
    judge("{\"max_error_rate\": {\"TIMEOUT_ERROR\": 0.03, \"all\": 0.02}}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(v.message, "error rate 2.31% (231 of 10000: "));
    judge("{\"max_error_rate\": {\"TIMEOUT_ERROR\": 0.03, \"all\": 0.03}}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);
    judge("{\"max_error_rate\": {\"TIMEOUT_ERROR\": 2}}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);
    judge("{\"max_error_rate\": {}}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);

    /* mistakes in the expectation are the scenario's: ERROR, not FAIL */
    judge("{\"max_error_rate\": 5}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);
    judge("{\"error_codes\": \"_TIMEOUT\"}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);
    judge("{\"p99_ms\": \"fast\"}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);
    json_decref(errors);
}

static void test_judge_no_loss(void **state)
{
    (void)state;
    json_t *errors = json_object();
    load_figures_t f = clean_figures(errors);
    load_verdict_t v;
    judge("{\"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);

    /* a timed-out request answered late: not unanswered, but late */
    f.checker.answered_once = 29998;
    f.checker.unanswered = 2;
    f.late = 1;
    f.duplicate = 1;
    dbev_report_checker_t c;
    load_report_checker(&f, &c);
    assert_int_equal(c.answered_once, 29998);
    assert_int_equal(c.unanswered, 1);
    assert_int_equal(c.answered_late, 1);
    /* a redelivered answer the client dropped reached no caller */
    assert_int_equal(c.answered_twice, 0);
    assert_int_equal(c.writes_checked, 1);
    judge("{\"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message, "requests not answered exactly once: 1 unanswered, 0 answered "
                                   "twice, 1 answered late, 0 answers for unknown ids (of 30000 "
                                   "sent)");
    assert_non_null(strstr(v.actual, "1 redelivered answers dropped by the client"));

    /* only redeliveries: every caller still got exactly one answer */
    f = clean_figures(errors);
    f.duplicate = 44;
    judge("{\"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);

    /* a caller that got two answers is a failure */
    f.checker.answered_once -= 1;
    f.checker.answered_twice = 1;
    judge("{\"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    judge("{\"no_loss\": false}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);

    /* writes lost and doubled */
    f = clean_figures(errors);
    f.writes.present_once = 29997;
    load_writes_add(&f.writes, "item-17", 0);
    load_writes_add(&f.writes, "item-18", 0);
    load_writes_add(&f.writes, "item-40", 2);
    judge("{\"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message,
                        "acknowledged writes: 2 lost (e.g. item-17), 1 doubled (e.g. item-40)");
    assert_non_null(strstr(v.actual, "writes: 29997 present once, 2 lost, 1 doubled"));

    /* an answer for an id never sent */
    f = clean_figures(errors);
    f.unknown = 3;
    judge("{\"no_loss\": true}", &f, false, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(v.message, "3 answers for unknown ids"));
    json_decref(errors);
}

static void test_stress_knee(void **state)
{
    (void)state;
    json_t *errors = json_object();
    load_stress_t stress = {
        .on = true, .max_duration_s = 60, .p99_ms = 100, .max_error_rate = 0.01};
    load_phase_t phases[] = {
        {.rate = 200, .sent = 1000, .p99_us = 8000, .held = true},
        {.rate = 300, .sent = 1500, .p99_us = 12500, .held = true},
        {.rate = 450, .sent = 2250, .p99_us = 230100, .held = false},
    };
    load_figures_t f = clean_figures(errors);
    f.phases = phases;
    f.n_phases = 3;
    char text[256];
    load_knee_text(&f, &stress, text, sizeof(text));
    assert_string_equal(text,
                        "stress: knee: held 300/s (p99 12.5 ms), broke at 450/s (p99 230.1 ms > "
                        "100 ms)");
    /* broken by errors */
    phases[2].p99_us = 50000;
    phases[2].errors = 45;
    load_knee_text(&f, &stress, text, sizeof(text));
    assert_string_equal(text,
                        "stress: knee: held 300/s (p99 12.5 ms), broke at 450/s (errors 2.00% > "
                        "1%)");
    /* the first step already broke */
    phases[0].held = false;
    phases[0].p99_us = 150000;
    load_knee_text(&f, &stress, text, sizeof(text));
    assert_string_equal(text, "stress: knee below the start rate: 200/s already broke (p99 "
                              "150.0 ms > 100 ms)");
    /* nothing broke within the bound */
    phases[0].held = phases[2].held = true;
    phases[0].p99_us = 8000;
    phases[2].p99_us = 50000;
    load_knee_text(&f, &stress, text, sizeof(text));
    assert_string_equal(text, "stress: no knee within 60 s: every rate held, up to 450/s (p99 "
                              "50.0 ms <= 100 ms)");

    /* min_throughput judges the knee; percentile bounds belong in stress: */
    phases[2].held = false;
    load_verdict_t v;
    judge("{\"min_throughput\": 250}", &f, true, &v);
    assert_int_equal(v.status, DBEV_REPORT_PASS);
    judge("{\"min_throughput\": 400}", &f, true, &v);
    assert_int_equal(v.status, DBEV_REPORT_FAIL);
    assert_string_equal(v.message, "the highest rate that held is 300/s < min_throughput 400/s");
    judge("{\"p99_ms\": 100}", &f, true, &v);
    assert_int_equal(v.status, DBEV_REPORT_ERROR);
    assert_non_null(strstr(v.message, "stress.p99_ms"));
    json_decref(errors);
}

/* The suite's load scenarios load, and their load steps read as intended. */
static void test_suite_scenarios(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        bool stress;
        int64_t count;
        double rate;
    } files[] = {
        {"load_throughput.yaml", false, 30300, 1010},
        {"load_stress.yaml", true, 0, 1000},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512], err[512];
        snprintf(path, sizeof(path), "%s/scenarios/%s", DBEV_SOURCE_DIR, files[i].file);
        scenario_t *sc = scenario_load(path, err, sizeof(err));
        if (!sc)
            fail_msg("%s", err);
        size_t loads = 0;
        for (size_t s = 0; s < sc->n_steps; s++) {
            if (sc->steps[s].kind != STEP_LOAD)
                continue;
            loads++;
            load_spec_t spec;
            if (load_spec_parse(sc->steps[s].body, &spec, err, sizeof(err)))
                fail_msg("%s: %s", path, err);
            assert_true(spec.stress.on == files[i].stress);
            assert_int_equal(spec.count, files[i].count);
            assert_true(spec.rate == files[i].rate);
            assert_non_null(spec.key_value);
            assert_true(spec.warmup_s > 0);
            if (spec.stress.on)
                assert_true(spec.stress.max_duration_s <= LOAD_STRESS_MAX_S);
            /* the expectations are well-formed: judging clean figures passes */
            json_t *errors = json_object();
            load_figures_t f = {0};
            load_phase_t held = {.rate = 5000, .held = true};
            f.errors_by_code = errors;
            f.throughput = 5000;
            f.phases = &held;
            f.n_phases = 1;
            load_verdict_t v;
            load_judge(sc->steps[s].expect, &f, spec.stress.on, &v);
            if (v.status != DBEV_REPORT_PASS)
                fail_msg("%s: %s", path, v.message);
            json_decref(errors);
        }
        assert_int_equal(loads, 1);
        scenario_destroy(sc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_plain),
        cmocka_unit_test(test_spec_refusals),
        cmocka_unit_test(test_spec_stress),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_rate_steps),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_judge_pass),
        cmocka_unit_test(test_judge_percentile),
        cmocka_unit_test(test_judge_slowest_at_least),
        cmocka_unit_test(test_judge_errors),
        cmocka_unit_test(test_judge_no_loss),
        cmocka_unit_test(test_stress_knee),
        cmocka_unit_test(test_suite_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
