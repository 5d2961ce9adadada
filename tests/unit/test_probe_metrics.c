/* Unit tests of the latency probe's ratio figures (harness/run/metrics.c):
 * probe.service.<op>.per_rtt and probe.service.insert.per_query, computed
 * round by round and kept to the middle half of the rounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run/metrics.h"

#include <math.h>
#include <stdio.h>

/* Round r of a probe: 5 direct point queries of rtt_ms, 5 service times of
 * a point query (query_ms) and of an insert (insert_ms), as step_op.c
 * records them (each round its own block). */
static void round_of(run_metrics_t *m, int r, double rtt_ms, double query_ms, double insert_ms)
{
    char q[64], i[64];
    snprintf(q, sizeof(q), "probe.yaml:8:11 (round %d)", r);
    snprintf(i, sizeof(i), "probe.yaml:14:11 (round %d)", r);
    for (int k = 0; k < 5; k++) {
        run_metrics_probe(m, q, "event", DBEV_OP_SELECT, 3.0, true);
        run_metrics_probe(m, q, "direct", DBEV_OP_SELECT, rtt_ms, true);
        run_metrics_service(m, DBEV_OP_SELECT, query_ms, q);
        run_metrics_probe(m, i, "event", DBEV_OP_INSERT, 3.0, true);
        run_metrics_probe(m, i, "direct", DBEV_OP_INSERT, 0.3, true);
        run_metrics_service(m, DBEV_OP_INSERT, insert_ms, i);
    }
}

static double figure(const json_t *metrics, const char *name)
{
    const json_t *v = json_object_get(metrics, name);
    return v ? json_number_value(v) : NAN;
}

/* Each round's ratio is taken in its own round: a machine twice as slow in
 * half the rounds (every figure doubled) leaves the ratios as they were. */
static void test_ratios_cancel_a_drifting_machine(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    for (int r = 1; r <= 8; r++) {
        double slow = r % 2 ? 1.0 : 2.0;
        round_of(m, r, 0.2 * slow, 0.5 * slow, 1.0 * slow);
    }
    json_t *out = run_metrics_json(m);
    assert_float_equal(figure(out, "probe.service.insert.per_rtt"), 5.0, 0.15);
    assert_float_equal(figure(out, "probe.service.query.per_rtt"), 2.5, 0.08);
    assert_float_equal(figure(out, "probe.service.insert.per_query"), 2.0, 0.06);
    assert_true(isnan(figure(out, "probe.service.query.per_query")));
    json_decref(out);
    run_metrics_destroy(m);
}

/* The mean of the middle half: two rounds hit by a burst of other work (ten
 * times the service time) out of eight do not move the figure. */
static void test_a_burst_in_a_round_does_not_move_it(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    for (int r = 1; r <= 8; r++)
        round_of(m, r, 0.2, 0.5, r == 3 || r == 6 ? 10.0 : 1.0);
    json_t *out = run_metrics_json(m);
    assert_float_equal(figure(out, "probe.service.insert.per_rtt"), 5.0, 0.15);
    json_decref(out);
    run_metrics_destroy(m);
}

/* A round whose service times are too few to give a median (3 of the 5
 * needed) drops out with its own reference, not its neighbour's: the
 * machine alternates between fast and slow rounds, so pairing a round with
 * the next one's reference would halve or double every later ratio. */
static void test_a_thin_round_leaves_the_pairs_aligned(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    for (int r = 1; r <= 8; r++) {
        double slow = r % 2 ? 1.0 : 2.0;
        char q[64], i[64];
        snprintf(q, sizeof(q), "probe.yaml:8:11 (round %d)", r);
        snprintf(i, sizeof(i), "probe.yaml:14:11 (round %d)", r);
        for (int k = 0; k < 5; k++) {
            run_metrics_probe(m, q, "direct", DBEV_OP_SELECT, 0.2 * slow, true);
            run_metrics_service(m, DBEV_OP_SELECT, 0.5 * slow, q);
            if (r != 2 || k < 3)
                run_metrics_service(m, DBEV_OP_INSERT, 1.0 * slow, i);
        }
    }
    json_t *out = run_metrics_json(m);
    assert_float_equal(figure(out, "probe.service.insert.per_rtt"), 5.0, 0.15);
    assert_float_equal(figure(out, "probe.service.insert.per_query"), 2.0, 0.06);
    json_decref(out);
    run_metrics_destroy(m);
}

/* Fewer than four rounds: no ratio (one round's median is no yardstick). */
static void test_too_few_rounds_give_no_ratio(void **state)
{
    (void)state;
    run_metrics_t *m = run_metrics_new();
    for (int r = 1; r <= 3; r++)
        round_of(m, r, 0.2, 0.5, 1.0);
    json_t *out = run_metrics_json(m);
    assert_null(json_object_get(out, "probe.service.insert.per_rtt"));
    assert_null(json_object_get(out, "probe.service.insert.per_query"));
    json_decref(out);
    run_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratios_cancel_a_drifting_machine),
        cmocka_unit_test(test_a_burst_in_a_round_does_not_move_it),
        cmocka_unit_test(test_a_thin_round_leaves_the_pairs_aligned),
        cmocka_unit_test(test_too_few_rounds_give_no_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
