/*
 * The database fingerprint's pure part (harness/guard/fingerprint.c): which
 * changes between two fingerprints are reported, which the allow patterns
 * cover, and that the report names what changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "guard/fingerprint.h"

#include <string.h>

static json_t *fp(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    return v;
}

static void test_unchanged_is_zero(void **state)
{
    (void)state;
    json_t *a = fp("{\"table:public.t\": \"rows 1 md5 aa\", \"role:app\": \"LOGIN\"}");
    char diff[256];
    assert_int_equal(fingerprint_diff(a, a, NULL, diff, sizeof(diff)), 0);
    assert_string_equal(diff, "");
    json_decref(a);
}

static void test_changes_are_named(void **state)
{
    (void)state;
    json_t *a = fp("{\"table:public.t\": \"rows 1 md5 aa\", \"table:public.gone\": \"rows 0\","
                   " \"role:app\": \"LOGIN\"}");
    json_t *b = fp("{\"table:public.t\": \"rows 0 md5 bb\", \"role:app\": \"LOGIN\","
                   " \"role:evil\": \"SUPERUSER LOGIN\", \"large_object:42\": \"owner app\"}");
    char diff[512];
    assert_int_equal(fingerprint_diff(a, b, NULL, diff, sizeof(diff)), 4);
    assert_non_null(strstr(diff, "changed table:public.t: rows 1 md5 aa -> rows 0 md5 bb"));
    assert_non_null(strstr(diff, "removed table:public.gone"));
    assert_non_null(strstr(diff, "added role:evil: SUPERUSER LOGIN"));
    assert_non_null(strstr(diff, "added large_object:42"));

    /* A bare name is a table; kind: prefixes and globs cover the rest. */
    json_t *allow = fp("[\"public.t\", \"table:public.g*\", \"role:*\"]");
    assert_int_equal(fingerprint_diff(a, b, allow, diff, sizeof(diff)), 1);
    assert_non_null(strstr(diff, "large_object:42"));
    assert_null(strstr(diff, "role:evil"));
    json_decref(allow);

    /* A tiny buffer still holds a terminated, cut message. */
    char small[16];
    assert_int_equal(fingerprint_diff(a, b, NULL, small, sizeof(small)), 4);
    assert_true(strlen(small) < sizeof(small));
    json_decref(a);
    json_decref(b);
}

static void test_allowed_patterns(void **state)
{
    (void)state;
    json_t *allow = fp("[\"public.scratch\", \"role:dbev_*\"]");
    assert_true(fingerprint_allowed("table:public.scratch", allow));
    assert_false(fingerprint_allowed("table:public.scratch2", allow));
    assert_false(fingerprint_allowed("relation:public.scratch", allow));
    assert_true(fingerprint_allowed("role:dbev_app", allow));
    assert_false(fingerprint_allowed("role:postgres", allow));
    assert_false(fingerprint_allowed("table:public.scratch", NULL));
    json_decref(allow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unchanged_is_zero),
        cmocka_unit_test(test_changes_are_named),
        cmocka_unit_test(test_allowed_patterns),
    };
    return cmocka_run_group_tests_name("fingerprint", tests, NULL, NULL);
}
