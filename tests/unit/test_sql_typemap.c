/*
 * Type mapping on strings: every listed type's text form to JSON, the array
 * literal parser (quoting, escapes, NULL, nesting, bounds), numeric
 * precision and timestamp formatting.
 */
#include <dbev/sql_build.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

/* Converts and compares the compact JSON text (reals with the fewest digits
 * that read back exactly, so 0.95 is "0.95"). */
static void check(unsigned oid, const char *text, const char *want)
{
    json_t *v = tm_value(oid, text, strlen(text));
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
    check(TM_INT2OID, "-7", "-7");
    check(TM_INT4OID, "2147483647", "2147483647");
    check(TM_INT8OID, "9223372036854775807", "9223372036854775807");
    check(TM_FLOAT4OID, "0.5", "0.5");
    check(TM_FLOAT8OID, "0.95", "0.95");
    check(TM_FLOAT8OID, "NaN", "\"NaN\"");
    check(TM_FLOAT8OID, "-Infinity", "\"-Infinity\"");
    check(TM_BOOLOID, "t", "true");
    check(TM_BOOLOID, "f", "false");
    check(TM_TEXTOID, "hello \"x\"", "\"hello \\\"x\\\"\"");
    check(TM_VARCHAROID, "v", "\"v\"");
    check(TM_UUIDOID, "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
          "\"a1b2c3d4-e5f6-7890-abcd-ef1234567890\"");
    check(TM_JSONBOID, "{\"a\": [1, 2]}", "{\"a\":[1,2]}");
    check(TM_JSONOID, "\"str\"", "\"str\"");
    check(TM_JSONBOID, "3", "3");
    check(TM_DATEOID, "2025-10-30", "\"2025-10-30\"");
    check(TM_TIMESTAMPTZOID, "2025-10-30 10:00:00.123+00", "\"2025-10-30T10:00:00.123Z\"");
    check(TM_TIMESTAMPOID, "2025-10-30 10:00:00", "\"2025-10-30T10:00:00\"");
    check(TM_TIMESTAMPTZOID, "infinity", "\"infinity\"");
    check(9999, "something else", "\"something else\"");
}

static void test_numeric(void **state)
{
    (void)state;
    check(TM_NUMERICOID, "42", "42");
    check(TM_NUMERICOID, "-12.000", "-12");
    check(TM_NUMERICOID, "0.95", "0.95");
    check(TM_NUMERICOID, "NaN", "\"NaN\"");
    /* Beyond 64 bits: still a number (a real), not a string. */
    json_t *v = tm_numeric("123456789012345678901234567890");
    assert_true(json_is_real(v));
    json_decref(v);
}

static void test_timestamp_iso(void **state)
{
    (void)state;
    char buf[64];
    tm_timestamp_iso("2025-01-02 03:04:05.678901+05:30", buf, sizeof(buf));
    assert_string_equal(buf, "2025-01-02T03:04:05.678901+05:30");
    tm_timestamp_iso("2025-01-02 03:04:05-08", buf, sizeof(buf));
    assert_string_equal(buf, "2025-01-02T03:04:05-08:00");
    tm_timestamp_iso("2025-01-02 03:04:05+00", buf, sizeof(buf));
    assert_string_equal(buf, "2025-01-02T03:04:05Z");
    tm_timestamp_iso("0044-03-15 12:00:00+00 BC", buf, sizeof(buf));
    assert_string_equal(buf, "0044-03-15T12:00:00Z BC");
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
    assert_null(tm_parse_array("{1,2", TM_INT4OID));
    assert_null(tm_parse_array("{\"unterminated}", TM_TEXTOID));
    assert_null(tm_parse_array("{1}x", TM_INT4OID));
    check(1007, "not an array", "\"not an array\"");
    assert_int_equal(tm_array_elem(1009), TM_TEXTOID);
    assert_int_equal(tm_array_elem(TM_TEXTOID), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_timestamp_iso),
        cmocka_unit_test(test_arrays),
    };
    return cmocka_run_group_tests_name("typemap", tests, NULL, NULL);
}
