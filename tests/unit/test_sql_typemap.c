/*
 * Type mapping on strings: every listed type's text form to JSON, the array
 * literal parser (quoting, escapes, NULL, nesting, bounds), numeric
 * precision and timestamp formatting; the session settings it expects.
 */
#include <dbev/sql_build.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Converts and compares the compact JSON text (reals with the fewest digits
 * that read back exactly, so 0.95 is "0.95"). */
static void check(unsigned oid, const char *text, const char *want)
{
    json_t *v = dbev_sql_value_to_json(oid, text, strlen(text));
    assert_non_null(v);
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (strcmp(got, want) != 0)
        fail_msg("oid %u %s: got %s want %s", oid, text, got, want);
    free(got);
    json_decref(v);
}

static void test_scalars(void **state)
{
    (void)state;
    check(DBEV_SQL_OID_INT2, "-7", "-7");
    check(DBEV_SQL_OID_INT4, "2147483647", "2147483647");
    check(DBEV_SQL_OID_INT8, "9223372036854775807", "9223372036854775807");
    check(DBEV_SQL_OID_FLOAT4, "0.5", "0.5");
    check(DBEV_SQL_OID_FLOAT8, "0.95", "0.95");
    check(DBEV_SQL_OID_FLOAT8, "NaN", "\"NaN\"");
    check(DBEV_SQL_OID_FLOAT8, "-Infinity", "\"-Infinity\"");
    check(DBEV_SQL_OID_BOOL, "t", "true");
    check(DBEV_SQL_OID_BOOL, "f", "false");
    check(DBEV_SQL_OID_TEXT, "hello \"x\"", "\"hello \\\"x\\\"\"");
    check(DBEV_SQL_OID_VARCHAR, "v", "\"v\"");
    check(DBEV_SQL_OID_UUID, "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
          "\"a1b2c3d4-e5f6-7890-abcd-ef1234567890\"");
    check(DBEV_SQL_OID_JSONB, "{\"a\": [1, 2]}", "{\"a\":[1,2]}");
    check(DBEV_SQL_OID_JSON, "\"str\"", "\"str\"");
    check(DBEV_SQL_OID_JSONB, "3", "3");
    check(DBEV_SQL_OID_DATE, "2025-10-30", "\"2025-10-30\"");
    check(DBEV_SQL_OID_TIMESTAMPTZ, "2025-10-30 10:00:00.123+00", "\"2025-10-30T10:00:00.123Z\"");
    check(DBEV_SQL_OID_TIMESTAMP, "2025-10-30 10:00:00", "\"2025-10-30T10:00:00\"");
    check(DBEV_SQL_OID_TIMESTAMPTZ, "infinity", "\"infinity\"");
    check(9999, "something else", "\"something else\"");
}

static void test_numeric(void **state)
{
    (void)state;
    check(DBEV_SQL_OID_NUMERIC, "42", "42");
    check(DBEV_SQL_OID_NUMERIC, "-12.000", "-12");
    check(DBEV_SQL_OID_NUMERIC, "0.95", "0.95");
    check(DBEV_SQL_OID_NUMERIC, "NaN", "\"NaN\"");
    /* Beyond 64 bits: still a number (a real), not a string. */
    const char *big = "123456789012345678901234567890";
    json_t *v = dbev_sql_value_to_json(DBEV_SQL_OID_NUMERIC, big, strlen(big));
    assert_true(json_is_real(v));
    json_decref(v);
}

static void test_timestamp_iso(void **state)
{
    (void)state;
    check(DBEV_SQL_OID_TIMESTAMPTZ, "2025-01-02 03:04:05.678901+05:30",
          "\"2025-01-02T03:04:05.678901+05:30\"");
    check(DBEV_SQL_OID_TIMESTAMPTZ, "2025-01-02 03:04:05-08", "\"2025-01-02T03:04:05-08:00\"");
    check(DBEV_SQL_OID_TIMESTAMPTZ, "2025-01-02 03:04:05+00", "\"2025-01-02T03:04:05Z\"");
    check(DBEV_SQL_OID_TIMESTAMPTZ, "0044-03-15 12:00:00+00 BC", "\"0044-03-15T12:00:00Z BC\"");
}

static void test_arrays(void **state)
{
    (void)state;
    check(1009, "{a,\"b c\",NULL,\"NULL\",\"x\\\"y\",\"back\\\\slash\"}",
          "[\"a\",\"b c\",null,\"NULL\",\"x\\\"y\",\"back\\\\slash\"]");
    check(1007, "{1,2,-3}", "[1,2,-3]");
    check(1016, "{{1,2},{3,4}}", "[[1,2],[3,4]]");
    check(1022, "{0.5,NaN}", "[0.5,\"NaN\"]");
    check(1000, "{t,f,NULL}", "[true,false,null]");
    check(1007, "{}", "[]");
    check(1007, "[0:1]={5,6}", "[5,6]");
    check(3807, "{\"{\\\"a\\\": 1}\",\"[1, 2]\"}", "[{\"a\":1},[1,2]]");
    check(1185, "{\"2025-10-30 10:00:00+00\"}", "[\"2025-10-30T10:00:00Z\"]");
    check(2951, "{a1b2c3d4-e5f6-7890-abcd-ef1234567890}",
          "[\"a1b2c3d4-e5f6-7890-abcd-ef1234567890\"]");
    check(1231, "{1.5,2}", "[1.5,2]");
    /* Broken literals fall back to the text. */
    check(1007, "{1,2", "\"{1,2\"");
    check(1009, "{\"unterminated}", "\"{\\\"unterminated}\"");
    check(1007, "{1}x", "\"{1}x\"");
    check(1007, "not an array", "\"not an array\"");
    assert_int_equal(dbev_sql_type_array_elem(1009), DBEV_SQL_OID_TEXT);
    assert_int_equal(dbev_sql_type_array_elem(DBEV_SQL_OID_TEXT), 0);
}

/* The session settings the mapping expects, in their two shapes: one
 * statement each (the adapter's pipeline) and one text (the direct path). */
static void test_session_settings(void **state)
{
    (void)state;
    char joined[512] = "";
    const char *set;
    size_t i;
    for (i = 0; (set = dbev_sql_session_setting(i)) != NULL; i++) {
        assert_non_null(strstr(set, "SET "));
        assert_null(strchr(set, ';'));
        size_t len = strlen(joined);
        snprintf(joined + len, sizeof(joined) - len, "%s%s", i ? "; " : "", set);
    }
    assert_int_equal(i, 4);
    assert_string_equal(joined, dbev_sql_session_settings_text());
    assert_non_null(strstr(joined, "SET DateStyle = 'ISO, MDY'"));
    assert_non_null(strstr(joined, "SET TimeZone = 'UTC'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),          cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_timestamp_iso),    cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_session_settings),
    };
    return cmocka_run_group_tests_name("sql_typemap", tests, NULL, NULL);
}
