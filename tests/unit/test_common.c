/* Unit tests of common/: ISO-8601 timestamps and log levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dbev_common.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

static void test_iso8601_round_trip(void **state)
{
    char buf[DBEV_ISO8601_SIZE];
    int64_t us;
    assert_int_equal(dbev_parse_iso8601("2025-10-30T10:00:00.500Z", &us), 0);
    assert_string_equal(dbev_iso8601(us, buf, sizeof(buf)), "2025-10-30T10:00:00.500Z");
    int64_t with_offset;
    assert_int_equal(dbev_parse_iso8601("2025-10-30T12:00:00.500+02:00", &with_offset), 0);
    assert_int_equal(with_offset, us);
    assert_int_equal(dbev_parse_iso8601("2025-10-30T10:00:00", &us), 0); /* no zone: UTC */
}

/* Around the epoch: C's division truncates toward zero, so a time before
 * 1970 once printed as "...T23:59:59.-500Z" (or a second late). Each time
 * formats as expected and parses back to the same microsecond count. */
static void test_iso8601_around_epoch(void **state)
{
    static const struct {
        int64_t us;
        const char *text;
    } cases[] = {
        {-31536000000000LL, "1969-01-01T00:00:00.000Z"},
        {-2208988800000000LL, "1900-01-01T00:00:00.000Z"},
        {-1000000, "1969-12-31T23:59:59.000Z"},
        {-999000, "1969-12-31T23:59:59.001Z"},
        {-500000, "1969-12-31T23:59:59.500Z"},
        {-1000, "1969-12-31T23:59:59.999Z"},
        {0, "1970-01-01T00:00:00.000Z"},
        {1000, "1970-01-01T00:00:00.001Z"},
        {999000, "1970-01-01T00:00:00.999Z"},
        {1000000, "1970-01-01T00:00:01.000Z"},
        {-1262303998999000LL, "1930-01-01T00:00:01.001Z"},
        {1761818400500000LL, "2025-10-30T10:00:00.500Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[DBEV_ISO8601_SIZE];
        int64_t back = 42;
        dbev_iso8601(cases[i].us, buf, sizeof(buf));
        if (strcmp(buf, cases[i].text) != 0)
            fail_msg("%" PRId64 " formats as %s, expected %s", cases[i].us, buf, cases[i].text);
        if (dbev_parse_iso8601(buf, &back) != 0 || back != cases[i].us)
            fail_msg("%s parses as %" PRId64 ", expected %" PRId64, buf, back, cases[i].us);
    }
    /* Sub-millisecond parts are dropped toward the earlier millisecond, as
     * after the epoch: -1 us is 23:59:59.999 (not .000 of the next second). */
    char buf[DBEV_ISO8601_SIZE];
    assert_string_equal(dbev_iso8601(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
    assert_string_equal(dbev_iso8601(1999, buf, sizeof(buf)), "1970-01-01T00:00:00.001Z");
}

static void test_iso8601_refuses_malformed(void **state)
{
    int64_t us;
    const char *bad[] = {"",
                         "2025-10-30",
                         "2025-10-30T10:00:00.Z",
                         "2025-10-30T10:00:00+5:3",
                         "2025-10-30T10:00:00+",
                         "2025-10-30T10:00:00+25:00",
                         "2025-10-30T10:00:00Zjunk",
                         "not a time"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (dbev_parse_iso8601(bad[i], &us) != -1)
            fail_msg("accepted '%s'", bad[i]);
}

/* The deadline is timeout_ms after now on the monotonic clock, its
 * nanoseconds carried into seconds (pthread_cond_timedwait refuses 1e9). */
static void test_mono_deadline(void **state)
{
    (void)state;
    const int64_t timeouts[] = {0, 1, 999, 1000, 1500, 2999, 60000};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        struct timespec before, deadline;
        clock_gettime(CLOCK_MONOTONIC, &before);
        dbev_mono_deadline(timeouts[i], &deadline);
        assert_true(deadline.tv_nsec >= 0 && deadline.tv_nsec < 1000000000L);
        int64_t ahead_us = (int64_t)(deadline.tv_sec - before.tv_sec) * 1000000 +
                           (deadline.tv_nsec - before.tv_nsec) / 1000;
        /* at least the timeout; at most the timeout and a second of scheduling */
        assert_true(ahead_us >= timeouts[i] * 1000);
        assert_true(ahead_us < timeouts[i] * 1000 + 1000000);
    }
}

static void test_log_levels(void **state)
{
    assert_int_equal(dbev_log_level_parse("warn"), DBEV_LOG_WARN);
    assert_int_equal(dbev_log_level_parse("loud"), -1);
    assert_string_equal(dbev_log_level_name(DBEV_LOG_ERROR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso8601_round_trip),
        cmocka_unit_test(test_iso8601_around_epoch),
        cmocka_unit_test(test_iso8601_refuses_malformed),
        cmocka_unit_test(test_mono_deadline),
        cmocka_unit_test(test_log_levels),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
