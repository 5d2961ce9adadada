/* Unit tests of yamlj: YAML to jansson with file:line:column positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "scenario/yamlj.h"

#include <string.h>

static yamlj_doc_t *load(const char *text, char *errstr, size_t size)
{
    return yamlj_load_buffer("t.yaml", text, strlen(text), errstr, size);
}

static void test_scalars_take_core_schema_types(void **state)
{
    char err[256];
    yamlj_doc_t *doc =
        load("a: 1\nb: 2.5\nc: true\nd: ~\ne: '1'\nf: text\ng: -3\n", err, sizeof(err));
    assert_non_null(doc);
    json_t *root = yamlj_root(doc);
    assert_true(json_is_integer(json_object_get(root, "a")));
    assert_true(json_is_real(json_object_get(root, "b")));
    assert_true(json_is_true(json_object_get(root, "c")));
    assert_true(json_is_null(json_object_get(root, "d")));
    assert_string_equal(json_string_value(json_object_get(root, "e")), "1");
    assert_string_equal(json_string_value(json_object_get(root, "f")), "text");
    assert_int_equal(json_integer_value(json_object_get(root, "g")), -3);
    yamlj_doc_destroy(doc);
}

static void test_positions_point_at_values(void **state)
{
    char err[256], where[128];
    yamlj_doc_t *doc = load("name: x\nsteps:\n  - insert: t\n  - bogus: 1\n", err, sizeof(err));
    assert_non_null(doc);
    json_t *steps = json_object_get(yamlj_root(doc), "steps");
    assert_string_equal(yamlj_where(doc, json_array_get(steps, 1), where, sizeof(where)),
                        "t.yaml:4:5");
    assert_string_equal(
        yamlj_where(doc, json_object_get(yamlj_root(doc), "name"), where, sizeof(where)),
        "t.yaml:1:7");
    yamlj_doc_destroy(doc);
}

static void test_syntax_error_names_line_and_column(void **state)
{
    char err[256];
    assert_null(load("a: [1, 2\nb: 3\n", err, sizeof(err)));
    assert_non_null(strstr(err, "t.yaml:"));
    assert_null(load("a: 1\na: 2\n", err, sizeof(err)));
    assert_non_null(strstr(err, "t.yaml:2:"));
    assert_non_null(strstr(err, "'a' appears twice"));
    assert_null(load("x: &a 1\ny: *a\n", err, sizeof(err)));
    assert_non_null(strstr(err, "aliases"));
}

static void test_json_is_accepted(void **state)
{
    char err[256];
    yamlj_doc_t *doc = load("{\"steps\": [{\"sql\": \"SELECT 1\"}], \"n\": 3}", err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(yamlj_root(doc), "n")), 3);
    yamlj_doc_destroy(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_take_core_schema_types),
        cmocka_unit_test(test_positions_point_at_values),
        cmocka_unit_test(test_syntax_error_names_line_and_column),
        cmocka_unit_test(test_json_is_accepted),
    };
    return cmocka_run_group_tests_name("yamlj", tests, NULL, NULL);
}
