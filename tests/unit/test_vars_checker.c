/* Unit tests of scenario variables (vars.c) and the request/reply checker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "load/checker.h"
#include "scenario/vars.h"

#include <string.h>

static json_t *sub(vars_t *vars, const char *json_text)
{
    char err[256];
    json_t *template_value = json_loads(json_text, JSON_DECODE_ANY, NULL);
    assert_non_null(template_value);
    json_t *out = vars_substitute(vars, template_value, err, sizeof(err));
    json_decref(template_value);
    return out;
}

static void test_whole_placeholder_keeps_type(void **state)
{
    vars_t *vars = vars_new(1);
    json_t *row = json_pack("{s:i}", "id", 42);
    vars_set(vars, "row", row); /* takes its own reference */
    json_decref(row);
    json_t *out = sub(vars, "{\"a\": \"${row.id}\", \"b\": \"id=${row.id}!\"}");
    assert_non_null(out);
    assert_int_equal(json_integer_value(json_object_get(out, "a")), 42);
    assert_string_equal(json_string_value(json_object_get(out, "b")), "id=42!");
    json_decref(out);
    vars_destroy(vars);
}

static void test_named_uuid_is_stable_and_plain_uuid_is_not(void **state)
{
    vars_t *vars = vars_new(1);
    json_t *out = sub(vars, "[\"${uuid:a}\", \"${uuid:a}\", \"${uuid}\", \"${uuid}\"]");
    assert_non_null(out);
    assert_string_equal(json_string_value(json_array_get(out, 0)),
                        json_string_value(json_array_get(out, 1)));
    assert_string_not_equal(json_string_value(json_array_get(out, 2)),
                            json_string_value(json_array_get(out, 3)));
    assert_int_equal(strlen(json_string_value(json_array_get(out, 0))), 36);
    json_decref(out);
    vars_destroy(vars);
}

static void test_seq_and_seeded_rand(void **state)
{
    vars_t *a = vars_new(7), *b = vars_new(7);
    json_t *x = sub(a, "[\"${seq}\", \"${seq}\", \"${rand:1..6}\", \"${rand:1..6}\"]");
    json_t *y = sub(b, "[\"${seq}\", \"${seq}\", \"${rand:1..6}\", \"${rand:1..6}\"]");
    assert_int_equal(json_integer_value(json_array_get(x, 1)), 2);
    assert_true(json_equal(x, y)); /* same seed, same values: replayable */
    json_int_t r = json_integer_value(json_array_get(x, 2));
    assert_true(r >= 1 && r <= 6);
    json_decref(x);
    json_decref(y);
    vars_destroy(a);
    vars_destroy(b);
}

static void test_unknown_variable_is_named(void **state)
{
    vars_t *vars = vars_new(1);
    char err[256];
    json_t *t = json_string("${missing}");
    assert_null(vars_substitute(vars, t, err, sizeof(err)));
    assert_non_null(strstr(err, "missing"));
    assert_non_null(strstr(err, "save:"));
    json_decref(t);
    t = json_string("${rand:9..1}");
    assert_null(vars_substitute(vars, t, err, sizeof(err)));
    json_decref(t);
    vars_destroy(vars);
}

/* A load request's scope (vars_substitute_with): ${seq} and ${req_uuid} bound
 * once are shared by every use, an exact placeholder keeps the bound type,
 * the bindings shadow the built-in counter, and the rest resolves as usual. */
static void test_bindings_are_shared_by_every_use(void **state)
{
    vars_t *vars = vars_new(1);
    json_int_t seq = vars_next_seq(vars);
    assert_int_equal(seq, 1);
    json_t *jseq = json_integer(seq), *uuid = json_string("0f0e0d0c-0b0a-4908-8706-050403020100");
    const vars_binding_t scope[] = {{"seq", jseq}, {"req_uuid", uuid}};
    json_t *t = json_loads("{\"n\": \"${seq}\", \"name\": \"a-${seq}-${req_uuid}\", "
                           "\"id\": \"${req_uuid}\", \"again\": \"${seq}${seq}\", "
                           "\"rand\": \"${rand:5..5}\"}",
                           0, NULL);
    char err[256];
    json_t *out = vars_substitute_with(vars, t, scope, 2, err, sizeof(err));
    assert_non_null(out);
    assert_true(json_is_integer(json_object_get(out, "n")));
    assert_int_equal(json_integer_value(json_object_get(out, "n")), 1);
    assert_string_equal(json_string_value(json_object_get(out, "name")),
                        "a-1-0f0e0d0c-0b0a-4908-8706-050403020100");
    assert_string_equal(json_string_value(json_object_get(out, "id")),
                        "0f0e0d0c-0b0a-4908-8706-050403020100");
    assert_string_equal(json_string_value(json_object_get(out, "again")), "11");
    assert_int_equal(json_integer_value(json_object_get(out, "rand")), 5);
    json_decref(out);
    /* the bound ${seq} drew from the counter once; an unbound one draws the next */
    json_t *next = sub(vars, "\"${seq}\"");
    assert_int_equal(json_integer_value(next), 2);
    json_decref(next);
    /* ${req_uuid} means nothing outside a scope that binds it */
    json_t *bare = json_string("${req_uuid}");
    assert_null(vars_substitute(vars, bare, err, sizeof(err)));
    json_decref(bare);
    json_decref(t);
    json_decref(jseq);
    json_decref(uuid);
    vars_destroy(vars);
}

static void test_path_get(void **state)
{
    json_t *v = json_loads("{\"rows\": [{\"id\": 1}, {\"id\": 2}]}", 0, NULL);
    assert_int_equal(json_integer_value(vars_path_get(v, "rows[1].id")), 2);
    assert_null(vars_path_get(v, "rows[5].id"));
    assert_null(vars_path_get(v, "nope"));
    json_decref(v);
}

static void test_checker_classifies_every_request(void **state)
{
    checker_t *c = checker_new();
    assert_int_equal(checker_sent(c, "once", 1000, "k1"), 0);
    assert_int_equal(checker_sent(c, "twice", 1000, "k2"), 0);
    assert_int_equal(checker_sent(c, "late", 1000, NULL), 0);
    assert_int_equal(checker_sent(c, "never", 1000, "k4"), 0);
    assert_int_equal(checker_sent(c, "failed", 1000, "k5"), 0);
    assert_int_equal(checker_sent(c, "once", 1000, NULL), -1); /* duplicate send refused */
    checker_answered(c, "once", 10, true);
    checker_answered(c, "twice", 10, true);
    checker_answered(c, "twice", 20, true);
    checker_answered(c, "late", 2000, true);
    checker_answered(c, "failed", 10, false);
    checker_answered(c, "stranger", 10, true);
    checker_summary_t s;
    checker_summarize(c, &s);
    assert_int_equal(s.sent, 5);
    assert_int_equal(s.answered_once, 2); /* once, failed */
    assert_int_equal(s.answered_twice, 1);
    assert_int_equal(s.answered_late, 1);
    assert_int_equal(s.unanswered, 1);
    assert_int_equal(s.unknown_ids, 1);
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.acked_writes, 2); /* k1, k2: k5 failed, k4 unanswered */
    assert_false(checker_summary_clean(&s));
    checker_destroy(c);
}

static int count_keys(const char *key, void *opaque)
{
    (*(int *)opaque)++;
    return 0;
}

static void test_checker_clean_run(void **state)
{
    checker_t *c = checker_new();
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        checker_sent(c, id, 100, id);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        checker_answered(c, id, 50, true);
    }
    checker_summary_t s;
    checker_summarize(c, &s);
    assert_true(checker_summary_clean(&s));
    int n = 0;
    checker_foreach_acked_write(c, count_keys, &n);
    assert_int_equal(n, 5000);
    checker_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_placeholder_keeps_type),
        cmocka_unit_test(test_named_uuid_is_stable_and_plain_uuid_is_not),
        cmocka_unit_test(test_seq_and_seeded_rand),
        cmocka_unit_test(test_unknown_variable_is_named),
        cmocka_unit_test(test_bindings_are_shared_by_every_use),
        cmocka_unit_test(test_path_get),
        cmocka_unit_test(test_checker_classifies_every_request),
        cmocka_unit_test(test_checker_clean_run),
    };
    return cmocka_run_group_tests_name("vars_checker", tests, NULL, NULL);
}
