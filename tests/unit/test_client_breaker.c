/*
 * Unit tests of the client's circuit breaker with a clock the test drives:
 * opens after the threshold of consecutive failures, refuses while open,
 * admits exactly one probe after the recovery time, closes on the probe's
 * success and reopens (with a fresh recovery period) on its failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client_int.h"

#define MS 1000 /* the breaker's clock is in microseconds */

static void test_opens_at_threshold(void **state)
{
    cbrk_t b;
    cbrk_init(&b, 3, 1000 * MS);
    int64_t now = 5000 * MS;
    assert_true(cbrk_allow(&b, now));
    assert_false(cbrk_failure(&b, now));
    assert_false(cbrk_failure(&b, now));
    cbrk_success(&b); /* a success resets the count: failures must be consecutive */
    assert_false(cbrk_failure(&b, now));
    assert_false(cbrk_failure(&b, now));
    assert_int_equal(cbrk_state(&b, now), DBEV_BREAKER_CLOSED);
    assert_true(cbrk_failure(&b, now));
    assert_int_equal(cbrk_state(&b, now), DBEV_BREAKER_OPEN);
    assert_int_equal(b.opened, 1);
    assert_false(cbrk_allow(&b, now));
    assert_false(cbrk_allow(&b, now + 999 * MS));
    /* failures of requests sent before it opened do not extend the open period */
    assert_false(cbrk_failure(&b, now + 500 * MS));
    assert_int_equal(cbrk_state(&b, now + 1000 * MS), DBEV_BREAKER_HALF_OPEN);
}

static void test_probe_success_closes(void **state)
{
    cbrk_t b;
    cbrk_init(&b, 1, 1000 * MS);
    int64_t now = 0;
    assert_true(cbrk_failure(&b, now));
    now += 1000 * MS;
    assert_true(cbrk_allow(&b, now)); /* the probe */
    assert_int_equal(b.state, DBEV_BREAKER_HALF_OPEN);
    assert_false(cbrk_allow(&b, now)); /* only one probe at a time */
    assert_false(cbrk_allow(&b, now + 5000 * MS));
    cbrk_success(&b);
    assert_int_equal(cbrk_state(&b, now), DBEV_BREAKER_CLOSED);
    assert_true(cbrk_allow(&b, now));
    assert_true(cbrk_allow(&b, now));
}

static void test_probe_failure_reopens(void **state)
{
    cbrk_t b;
    cbrk_init(&b, 2, 1000 * MS);
    int64_t now = 100 * MS;
    cbrk_failure(&b, now);
    assert_true(cbrk_failure(&b, now));
    now += 1500 * MS;
    assert_true(cbrk_allow(&b, now));
    assert_true(cbrk_failure(&b, now)); /* one failure in HALF_OPEN reopens */
    assert_int_equal(b.opened, 2);
    assert_int_equal(cbrk_state(&b, now), DBEV_BREAKER_OPEN);
    assert_false(cbrk_allow(&b, now + 999 * MS)); /* a fresh recovery period */
    assert_true(cbrk_allow(&b, now + 1000 * MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_at_threshold),
        cmocka_unit_test(test_probe_success_closes),
        cmocka_unit_test(test_probe_failure_reopens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
