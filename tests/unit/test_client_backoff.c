/*
 * Unit tests of the retry schedule: 1 s, 2 s, 4 s (seed 002) at neutral
 * jitter, the jitter band of +/-20%, the cap, and the random source's range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client_int.h"

static void test_doubling(void **state)
{
    /* rand01 = 0.5 is a factor of exactly 1.0 */
    assert_int_equal(backoff_delay_ms(1000, 30000, 1, 0.5), 1000);
    assert_int_equal(backoff_delay_ms(1000, 30000, 2, 0.5), 2000);
    assert_int_equal(backoff_delay_ms(1000, 30000, 3, 0.5), 4000);
    assert_int_equal(backoff_delay_ms(1000, 30000, 4, 0.5), 8000);
    assert_int_equal(backoff_delay_ms(50, 30000, 3, 0.5), 200);
}

static void test_jitter_band(void **state)
{
    for (int retry = 1; retry <= 4; retry++) {
        int64_t nominal = backoff_delay_ms(1000, 60000, retry, 0.5);
        int64_t lo = backoff_delay_ms(1000, 60000, retry, 0.0);
        int64_t hi = backoff_delay_ms(1000, 60000, retry, 0.999999);
        assert_int_equal(lo, nominal * 8 / 10);
        assert_true(hi >= nominal * 119 / 100 && hi < nominal * 12 / 10);
        /* the next retry never waits less than this one's nominal delay */
        assert_true(backoff_delay_ms(1000, 60000, retry + 1, 0.0) > lo);
    }
}

static void test_cap(void **state)
{
    assert_int_equal(backoff_delay_ms(1000, 5000, 10, 0.5), 5000);
    assert_int_equal(backoff_delay_ms(1000, 5000, 10, 0.99), 5000);
    assert_true(backoff_delay_ms(1000, 5000, 10, 0.0) == 4000);
    assert_int_equal(backoff_delay_ms(1000, 30000, 1000, 0.5), 30000); /* no overflow */
    assert_int_equal(backoff_delay_ms(1, 30000, 1, 0.0), 1);           /* never 0 */
}

static void test_rand_range(void **state)
{
    double min = 1, max = 0;
    for (int i = 0; i < 10000; i++) {
        double r = backoff_rand01();
        assert_true(r >= 0.0 && r < 1.0);
        if (r < min)
            min = r;
        if (r > max)
            max = r;
    }
    assert_true(min < 0.05 && max > 0.95); /* spread over the interval */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubling),
        cmocka_unit_test(test_jitter_band),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_rand_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
