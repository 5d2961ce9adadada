/*
 * Circuit breaker state machine with a controllable clock: 5 failures open
 * it, an open breaker refuses at once, HALF_OPEN after the recovery time,
 * CLOSED after 3 successes, a failure in HALF_OPEN reopens, and successes
 * (what a user's SQL error counts as) reset the failure streak.
 */
#include "breaker.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

static int64_t fake_now_us;
static int transitions;
static char last_line[512];

static int64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_now_us;
}

static void capture(void *opaque, dbev_log_level_t level, const char *component,
                    const char *correlation_id, const char *message)
{
    (void)opaque;
    (void)level;
    (void)component;
    (void)correlation_id;
    transitions++;
    strncpy(last_line, message, sizeof(last_line) - 1);
}

static const dbev_logger_t logger = {.cb = capture, .level = DBEV_LOG_DEBUG, .component = "test"};

static breaker_t *make(void)
{
    breaker_conf_t conf = {.failure_threshold = 5,
                           .recovery_ms = 60000,
                           .success_threshold = 3,
                           .clock = fake_clock,
                           .logger = &logger};
    fake_now_us = 1000000;
    transitions = 0;
    return breaker_new(&conf);
}

static void test_opens_after_five(void **state)
{
    (void)state;
    breaker_t *b = make();
    for (int i = 0; i < 4; i++) {
        assert_true(breaker_allow(b));
        breaker_failure(b);
        assert_int_equal(breaker_state(b), DBEV_BREAKER_CLOSED);
    }
    assert_true(breaker_allow(b));
    breaker_failure(b);
    assert_int_equal(breaker_state(b), DBEV_BREAKER_OPEN);
    assert_int_equal(transitions, 1);
    assert_non_null(strstr(last_line, "CLOSED -> OPEN"));
    /* Refused at once, and still refused just before the recovery time. */
    assert_false(breaker_allow(b));
    fake_now_us += 59999 * 1000LL;
    assert_false(breaker_allow(b));
    assert_int_equal(breaker_state(b), DBEV_BREAKER_OPEN);
    breaker_destroy(b);
}

static void test_half_open_then_closed(void **state)
{
    (void)state;
    breaker_t *b = make();
    for (int i = 0; i < 5; i++)
        breaker_failure(b);
    fake_now_us += 60000 * 1000LL;
    assert_true(breaker_allow(b));
    assert_int_equal(breaker_state(b), DBEV_BREAKER_HALF_OPEN);
    breaker_success(b);
    breaker_success(b);
    assert_int_equal(breaker_state(b), DBEV_BREAKER_HALF_OPEN);
    breaker_success(b);
    assert_int_equal(breaker_state(b), DBEV_BREAKER_CLOSED);
    assert_int_equal(transitions, 3);
    assert_int_equal(breaker_open_count(b), 1);
    breaker_destroy(b);
}

static void test_failure_in_half_open_reopens(void **state)
{
    (void)state;
    breaker_t *b = make();
    for (int i = 0; i < 5; i++)
        breaker_failure(b);
    fake_now_us += 61000 * 1000LL;
    assert_true(breaker_allow(b));
    breaker_success(b);
    breaker_failure(b);
    assert_int_equal(breaker_state(b), DBEV_BREAKER_OPEN);
    assert_false(breaker_allow(b)); /* the recovery time starts again */
    fake_now_us += 60000 * 1000LL;
    assert_true(breaker_allow(b));
    assert_int_equal(breaker_open_count(b), 2);
    breaker_destroy(b);
}

static void test_successes_reset_streak(void **state)
{
    (void)state;
    breaker_t *b = make();
    /* SQL errors are recorded as successes: they never open the breaker. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 4; i++)
            breaker_failure(b);
        breaker_success(b);
    }
    assert_int_equal(breaker_state(b), DBEV_BREAKER_CLOSED);
    assert_int_equal(transitions, 0);
    breaker_destroy(b);
}

static void test_defaults(void **state)
{
    (void)state;
    breaker_conf_t conf = {0};
    breaker_t *b = breaker_new(&conf);
    for (int i = 0; i < 4; i++)
        breaker_failure(b);
    assert_int_equal(breaker_state(b), DBEV_BREAKER_CLOSED);
    breaker_failure(b);
    assert_int_equal(breaker_state(b), DBEV_BREAKER_OPEN);
    assert_false(breaker_allow(b)); /* 60 s by default */
    breaker_destroy(b);
    breaker_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_after_five),
        cmocka_unit_test(test_half_open_then_closed),
        cmocka_unit_test(test_failure_in_half_open_reopens),
        cmocka_unit_test(test_successes_reset_streak),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
