/* Unit tests of expectation matching (expect.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "scenario/expect.h"

#include <string.h>

static int judge(const char *expectation, const char *outcome, char *diff, size_t size)
{
    json_t *e = json_loads(expectation, 0, NULL), *o = json_loads(outcome, 0, NULL);
    assert_non_null(e);
    assert_non_null(o);
    int rc = expectation_check(e, o, diff, size);
    json_decref(e);
    json_decref(o);
    return rc;
}

static const char *ok_outcome =
    "{\"ok\": true, \"row_count\": 2, \"metadata\": {\"cached\": false, \"circuit_breaker_state\": "
    "\"CLOSED\"}, \"rows\": [{\"id\": 1, \"score\": 0.5, \"name\": \"a\"}, {\"id\": 2, \"score\": "
    "1.0, \"name\": \"b\"}]}";

static void test_rows_any_order_and_partial_columns(void **state)
{
    char diff[1024];
    assert_int_equal(judge("{\"rows\": [{\"id\": 2}, {\"id\": 1, \"score\": 0.5}]}", ok_outcome,
                           diff, sizeof(diff)),
                     0);
    assert_int_equal(judge("{\"rows\": [{\"id\": 2, \"score\": 1}, {\"id\": 1}]}", ok_outcome, diff,
                           sizeof(diff)),
                     0); /* 1 == 1.0 */
    assert_int_equal(judge("{\"rows\": [{\"id\": 2}]}", ok_outcome, diff, sizeof(diff)), -1);
    assert_non_null(strstr(diff, "expected 1 rows, got 2"));
}

static void test_rows_ordered_and_include(void **state)
{
    char diff[1024];
    assert_int_equal(
        judge("{\"rows_ordered\": [{\"id\": 2}, {\"id\": 1}]}", ok_outcome, diff, sizeof(diff)),
        -1);
    assert_non_null(strstr(diff, "rows_ordered[0]"));
    assert_int_equal(
        judge("{\"rows_include\": [{\"name\": \"b\"}]}", ok_outcome, diff, sizeof(diff)), 0);
    assert_int_equal(
        judge("{\"rows_include\": [{\"name\": \"zz\"}]}", ok_outcome, diff, sizeof(diff)), -1);
    assert_non_null(strstr(diff, "no row matches"));
}

static void test_errors_and_counts(void **state)
{
    char diff[1024];
    const char *failed = "{\"ok\": false, \"error_code\": \"DATABASE_OPERATION_FAILED\", "
                         "\"sqlstate\": \"23505\", \"message\": \"duplicate key value\"}";
    assert_int_equal(judge("{\"error_code\": \"DATABASE_OPERATION_FAILED\", \"sqlstate\": "
                           "\"23505\", \"error_contains\": \"duplicate\"}",
                           failed, diff, sizeof(diff)),
                     0);
    assert_int_equal(judge("{\"error_code\": \"VALIDATION_ERROR\"}", failed, diff, sizeof(diff)),
                     -1);
    assert_non_null(strstr(diff, "VALIDATION_ERROR"));
    assert_int_equal(judge("{}", failed, diff, sizeof(diff)), -1);
    assert_non_null(strstr(diff, "expected success"));
    assert_int_equal(judge("{\"error_code\": \"TIMEOUT_ERROR\"}", ok_outcome, diff, sizeof(diff)),
                     -1);
    assert_int_equal(judge("{\"row_count\": 3}", ok_outcome, diff, sizeof(diff)), -1);
    assert_non_null(strstr(diff, "row_count: expected 3, got 2"));
    assert_int_equal(judge("{\"metadata\": {\"circuit_breaker_state\": \"CLOSED\"}}", ok_outcome,
                           diff, sizeof(diff)),
                     0);
    assert_int_equal(judge("{\"metadata\": {\"cached\": true}}", ok_outcome, diff, sizeof(diff)),
                     -1);
}

static void test_known_keys(void **state)
{
    assert_true(expectation_key_known("rows_include"));
    assert_false(expectation_key_known("rowz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_any_order_and_partial_columns),
        cmocka_unit_test(test_rows_ordered_and_include),
        cmocka_unit_test(test_errors_and_counts),
        cmocka_unit_test(test_known_keys),
    };
    return cmocka_run_group_tests_name("expect", tests, NULL, NULL);
}
