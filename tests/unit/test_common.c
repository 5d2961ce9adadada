/* Unit tests of common/: ISO-8601 timestamps and log levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "dbev_common.h"

#include <string.h>

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

/* Found by fuzz/fuzz_request_decode: a time before 1970 came out as
 * "...T10:00:01.-999Z", which the decoder then refused. */
static void test_iso8601_before_1970(void **state)
{
    char buf[40];
    int64_t us;
    assert_string_equal(dbev_iso8601(-1000, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
    assert_int_equal(dbev_parse_iso8601("1012-10-30T10:00:00.0001Z", &us), 0);
    assert_string_equal(dbev_iso8601(us, buf, sizeof(buf)), "1012-10-30T10:00:00.000Z");
    assert_int_equal(dbev_parse_iso8601("1969-07-20T20:17:40.250Z", &us), 0);
    assert_string_equal(dbev_iso8601(us, buf, sizeof(buf)), "1969-07-20T20:17:40.250Z");
    int64_t again;
    assert_int_equal(dbev_parse_iso8601(buf, &again), 0);
    assert_true(again == us);
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
        cmocka_unit_test(test_iso8601_before_1970),
        cmocka_unit_test(test_iso8601_refuses_malformed),
        cmocka_unit_test(test_log_levels),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
