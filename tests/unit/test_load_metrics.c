/* Unit tests of the load aggregates (harness/run/metrics.c):
 * load.throughput_max and load.<op>.throughput_max take the loads offered at
 * a fixed rate, the rate a phase asks the system to sustain, and not a stress
 * climb's average, which moves with where the climb's knee falls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run/metrics.h"

#include <math.h>

static double figure(const json_t *metrics, const char *name)
{
    const json_t *v = json_object_get(metrics, name);
    return v ? json_number_value(v) : NAN;
}

static void add_load(run_metrics_t *m, const char *scenario, double rate, double throughput,
                     bool climb)
{
    json_t *f = json_pack("{s:s, s:f, s:f, s:b, s:f, s:f, s:I, s:I}", "op", "insert", "rate", rate,
                          "throughput", throughput, "climb", climb, "p95_ms", 7.0, "p99_ms", 9.0,
                          "sent", (json_int_t)1000, "errors", (json_int_t)0);
    assert_non_null(f);
    run_metrics_add_load(m, scenario, "load", f);
    json_decref(f);
}

/* The gate's regression rule reads load.insert.throughput_max against a
 * baseline of the 1,100/s load (about 1,099 events/s). A climb averaging
 * 1,801/s beside it must not replace that figure: a regression halving the
 * fixed-rate load would then pass against a figure it never produced. */
static void test_a_climb_is_not_a_sustained_rate(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    add_load(m, "phase3", 1100, 1099.2, false);
    add_load(m, "stress", 1000, 1801.0, true);
    json_t *out = run_metrics_json(m);
    assert_float_equal(figure(out, "load.insert.throughput_max"), 1099.2, 1e-9);
    assert_float_equal(figure(out, "load.throughput_max"), 1099.2, 1e-9);
    /* Its own figures are still recorded, under its own name. */
    assert_float_equal(figure(out, "load.stress.load.throughput"), 1801.0, 1e-9);
    json_decref(out);
    run_metrics_destroy(m);
}

/* A run whose only load is a climb has no sustained rate: the figure is
 * missing (a rule reading it is an ERROR, never a silent pass), not 0. */
static void test_only_a_climb_gives_no_figure(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    add_load(m, "stress", 1000, 1801.0, true);
    json_t *out = run_metrics_json(m);
    assert_null(json_object_get(out, "load.insert.throughput_max"));
    assert_null(json_object_get(out, "load.throughput_max"));
    json_decref(out);
    run_metrics_destroy(m);
}

/* Its losses still count: a climb that lost a write fails the gate's loss
 * rule like any load. */
static void test_a_climb_still_counts_its_losses(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    json_t *f = json_pack("{s:s, s:f, s:b, s:I}", "op", "insert", "throughput", 1801.0, "climb", 1,
                          "writes_lost", (json_int_t)2);
    run_metrics_add_load(m, "stress", "load", f);
    json_decref(f);
    json_t *out = run_metrics_json(m);
    assert_float_equal(figure(out, "loss.writes_lost"), 2, 1e-9);
    json_decref(out);
    run_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_climb_is_not_a_sustained_rate),
        cmocka_unit_test(test_only_a_climb_gives_no_figure),
        cmocka_unit_test(test_a_climb_still_counts_its_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
