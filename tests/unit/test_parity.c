/*
 * Unit tests of the parity comparison (harness/parity/parity.c): rows as sets or
 * in order, numbers by value, timestamps as instants whatever their zone,
 * jsonb whatever its key order, ignored columns, error class and SQLSTATE,
 * and that every mismatch message shows both sides. (Whether a statement is
 * ordered is sql/'s dbev_sql_is_ordered(): tests/unit/test_sql_statement.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "parity/parity.h"

#include <stdlib.h>
#include <string.h>

/* JSON from text written with single quotes (outcomes hold no quote marks). */
static json_t *J(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t err;
    json_t *v = json_loads(copy, 0, &err);
    if (!v)
        fail_msg("bad test JSON %s: %s", copy, err.text);
    free(copy);
    return v;
}

/* Compares two outcomes written as text; diff receives the message. */
static int cmp_ex(const char *ev, const char *dr, bool ordered, const char *ignore, char *diff,
                  size_t size)
{
    json_t *e = J(ev), *d = J(dr), *ig = ignore ? J(ignore) : NULL;
    diff[0] = '\0';
    int rc = parity_compare_step(e, d, ordered, ig, diff, size);
    json_decref(e);
    json_decref(d);
    json_decref(ig);
    if (rc != 0)
        assert_true(strlen(diff) > 0);
    return rc;
}

static int cmp(const char *ev, const char *dr, bool ordered, char *diff)
{
    return cmp_ex(ev, dr, ordered, NULL, diff, 1024);
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("expected '%s' in: %s", part, text);
}

static void test_set_vs_order(void **state)
{
    (void)state;
    char diff[1024];
    const char *a = "{'ok':true,'row_count':2,'rows':[{'id':1,'n':'a'},{'id':2,'n':'b'}]}";
    const char *b = "{'ok':true,'row_count':2,'rows':[{'id':2,'n':'b'},{'id':1,'n':'a'}]}";
    assert_int_equal(cmp(a, b, false, diff), 0);
    assert_int_equal(cmp(a, a, true, diff), 0);
    assert_int_equal(cmp(a, b, true, diff), -1);
    assert_contains(diff, "index 0");
    assert_contains(diff, "event {\"id\":1,\"n\":\"a\"}");
    assert_contains(diff, "direct {\"id\":2,\"n\":\"b\"}");
}

static void test_multiset_counts_duplicates(void **state)
{
    (void)state;
    char diff[1024];
    const char *a = "{'ok':true,'row_count':3,'rows':[{'x':1},{'x':1},{'x':2}]}";
    const char *b = "{'ok':true,'row_count':3,'rows':[{'x':1},{'x':2},{'x':2}]}";
    assert_int_equal(cmp(a, b, false, diff), -1);
    assert_contains(diff, "1 only on the event path, 1 only on the direct path");
    assert_contains(diff, "event {\"x\":1}");
    assert_contains(diff, "direct {\"x\":2}");
    /* A row missing on one side only. */
    const char *c = "{'ok':true,'row_count':3,'rows':[{'x':1},{'x':2},{'x':3}]}";
    const char *d = "{'ok':true,'row_count':3,'rows':[{'x':3},{'x':1}]}";
    assert_int_equal(cmp(c, d, false, diff), -1);
    assert_contains(diff, "event {\"x\":2}; direct (nothing missing)");
}

static void test_row_count_mismatch(void **state)
{
    (void)state;
    char diff[1024];
    assert_int_equal(cmp("{'ok':true,'row_count':2,'rows':[]}",
                         "{'ok':true,'row_count':3,'rows':[]}", false, diff),
                     -1);
    assert_contains(diff, "row_count: event 2; direct 3");
}

static void test_numbers_by_value(void **state)
{
    (void)state;
    char diff[1024];
    /* 0.95 vs 0.950 (numeric text), 1 vs 1.0, 1e2 vs 100 */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'s':0.95,'n':1,'e':100}]}",
                         "{'ok':true,'row_count':1,'rows':[{'s':'0.950','n':1.0,'e':'1e2'}]}",
                         false, diff),
                     0);
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'s':0.95}]}",
                         "{'ok':true,'row_count':1,'rows':[{'s':0.951}]}", false, diff),
                     -1);
    assert_contains(diff, "0.95");
    assert_contains(diff, "0.951");
    /* Integers beyond double precision are compared exactly. */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'b':9007199254740993}]}",
                         "{'ok':true,'row_count':1,'rows':[{'b':9007199254740992}]}", false, diff),
                     -1);
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'b':9007199254740993}]}",
                         "{'ok':true,'row_count':1,'rows':[{'b':'9007199254740993'}]}", false,
                         diff),
                     0);
    /* Text that is not a number stays text. */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'t':'NaN'}]}",
                         "{'ok':true,'row_count':1,'rows':[{'t':'nan'}]}", false, diff),
                     -1);
}

static void test_timestamps_as_instants(void **state)
{
    (void)state;
    char diff[1024];
    const char *utc = "{'ok':true,'row_count':1,'rows':[{'at':'2025-10-30T10:00:00Z'}]}";
    assert_int_equal(
        cmp(utc, "{'ok':true,'row_count':1,'rows':[{'at':'2025-10-30 12:00:00+02'}]}", false, diff),
        0);
    assert_int_equal(
        cmp(utc, "{'ok':true,'row_count':1,'rows':[{'at':'2025-10-30T15:30:00.000+05:30'}]}", false,
            diff),
        0);
    assert_int_equal(cmp(utc,
                         "{'ok':true,'row_count':1,'rows':[{'at':'2025-10-30T05:00:00-0500'}]}",
                         false, diff),
                     0);
    /* One microsecond apart, and an hour apart, are different instants. */
    assert_int_equal(cmp(utc,
                         "{'ok':true,'row_count':1,'rows':[{'at':'2025-10-30T10:00:00.000001Z'}]}",
                         false, diff),
                     -1);
    assert_int_equal(
        cmp(utc, "{'ok':true,'row_count':1,'rows':[{'at':'2025-10-30 12:00:00+01'}]}", false, diff),
        -1);
    assert_contains(diff, "2025-10-30T10:00:00Z");
    assert_contains(diff, "2025-10-30 12:00:00+01");
    /* Dates and other text are compared as text. */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'d':'2025-10-30'}]}",
                         "{'ok':true,'row_count':1,'rows':[{'d':'2025-10-31'}]}", false, diff),
                     -1);
}

static void test_jsonb_key_order(void **state)
{
    (void)state;
    char diff[1024];
    assert_int_equal(
        cmp("{'ok':true,'row_count':1,'rows':[{'doc':{'a':1,'b':{'x':[1,2],'y':null}},'k':'v'}]}",
            "{'ok':true,'row_count':1,'rows':[{'k':'v','doc':{'b':{'y':null,'x':[1.0,2]},'a':1}}]}",
            false, diff),
        0);
    /* Arrays inside jsonb keep their order. */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'doc':{'x':[1,2]}}]}",
                         "{'ok':true,'row_count':1,'rows':[{'doc':{'x':[2,1]}}]}", false, diff),
                     -1);
    /* A key missing inside. */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'doc':{'a':1,'b':2}}]}",
                         "{'ok':true,'row_count':1,'rows':[{'doc':{'a':1}}]}", false, diff),
                     -1);
}

static void test_ignore_columns_and_volatile_fields(void **state)
{
    (void)state;
    char diff[1024];
    const char *ev = "{'ok':true,'row_count':1,'execution_time_ms':3.5,'correlation_id':'c-1',"
                     "'metadata':{'cached':false,'circuit_breaker_state':'CLOSED'},"
                     "'rows':[{'id':7,'created_at':'2025-10-30T10:00:00Z','name':'a'}]}";
    const char *dr = "{'ok':true,'row_count':1,'execution_time_ms':0.4,'operation_type':'INSERT',"
                     "'metadata':{'truncated':false},"
                     "'rows':[{'id':8,'created_at':'2025-10-30T10:00:01Z','name':'a'}]}";
    assert_int_equal(cmp_ex(ev, dr, false, NULL, diff, sizeof(diff)), -1);
    assert_int_equal(cmp_ex(ev, dr, false, "['id','created_at']", diff, sizeof(diff)), 0);
    assert_int_equal(cmp_ex(ev, dr, false, "['id']", diff, sizeof(diff)), -1);
    assert_contains(diff, "created_at");
    /* A column ignored is still not allowed to change the other columns. */
    const char *dr2 = "{'ok':true,'row_count':1,'rows':[{'id':8,'created_at':'x','name':'b'}]}";
    assert_int_equal(cmp_ex(ev, dr2, false, "['id','created_at']", diff, sizeof(diff)), -1);
}

static void test_error_class_and_sqlstate(void **state)
{
    (void)state;
    char diff[1024];
    const char *ok = "{'ok':true,'row_count':1,'rows':[]}";
    const char *dup = "{'ok':false,'error_code':'DATABASE_OPERATION_FAILED','sqlstate':'23505',"
                      "'message':'duplicate key value violates unique constraint'}";
    const char *dup2 = "{'ok':false,'error_code':'DATABASE_OPERATION_FAILED','sqlstate':'23505',"
                       "'message':'another wording','metadata':{'failed_operation_index':1}}";
    const char *fk = "{'ok':false,'error_code':'DATABASE_OPERATION_FAILED','sqlstate':'23503',"
                     "'message':'violates foreign key constraint'}";
    const char *val = "{'ok':false,'error_code':'VALIDATION_ERROR','sqlstate':null,"
                      "'message':'BEGIN statements are not allowed in EXECUTE'}";
    const char *inv = "{'ok':false,'error_code':'_INVALID_ARG','message':'table is required'}";

    assert_int_equal(cmp(dup, dup2, false, diff), 0); /* messages and metadata are ignored */
    assert_int_equal(cmp(val, inv, false, diff), 0);  /* both refused before execution */

    assert_int_equal(cmp(ok, dup, false, diff), -1);
    assert_contains(diff, "event succeeded");
    assert_contains(diff, "direct failed DATABASE_OPERATION_FAILED [23505]: duplicate key");

    assert_int_equal(cmp(dup, fk, false, diff), -1);
    assert_contains(diff, "sqlstate");
    assert_contains(diff, "[23505]");
    assert_contains(diff, "[23503]");

    assert_int_equal(cmp(val, dup, false, diff), -1);
    assert_contains(diff, "error_code: event failed VALIDATION_ERROR");
    assert_contains(diff, "direct failed DATABASE_OPERATION_FAILED");

    /* A SQLSTATE on one side only. */
    const char *nostate = "{'ok':false,'error_code':'DATABASE_OPERATION_FAILED','sqlstate':null,"
                          "'message':'x'}";
    assert_int_equal(cmp(nostate, dup, false, diff), -1);
    assert_contains(diff, "sqlstate");
}

static void test_health_and_transaction(void **state)
{
    (void)state;
    char diff[1024];
    /* HEALTH: the adapter's pool statistics against the direct path's SELECT 1. */
    assert_int_equal(cmp("{'ok':true,'row_count':1,'rows':[{'status':'HEALTHY','pool_size':5}]}",
                         "{'ok':true,'operation_type':'HEALTH','row_count':1,"
                         "'rows':[{'status':'HEALTHY','database_reachable':true}]}",
                         false, diff),
                     0);
    /* TRANSACTION: each operation's rows are compared too. */
    const char *ev = "{'ok':true,'row_count':2,'rows':[],'results':["
                     "{'row_count':1,'rows':[{'id':1}]},{'row_count':2,'rows':[{'n':1},{'n':2}]}]}";
    const char *same =
        "{'ok':true,'row_count':2,'rows':[],'results':["
        "{'row_count':1,'rows':[{'id':1}]},{'row_count':2,'rows':[{'n':2},{'n':1}]}]}";
    const char *other =
        "{'ok':true,'row_count':2,'rows':[],'results':["
        "{'row_count':1,'rows':[{'id':1}]},{'row_count':2,'rows':[{'n':2},{'n':3}]}]}";
    assert_int_equal(cmp(ev, same, false, diff), 0);
    assert_int_equal(cmp(ev, other, false, diff), -1);
    assert_contains(diff, "results[1].rows");
    assert_contains(diff, "{\"n\":1}");
    assert_contains(diff, "{\"n\":3}");
}

static void test_long_rows_fit_the_message(void **state)
{
    (void)state;
    char big[4000] = "{'ok':true,'row_count':1,'rows':[{'t':'";
    memset(big + strlen(big), 'x', 3000);
    strcat(big, "'}]}");
    char diff[1024];
    assert_int_equal(cmp(big, "{'ok':true,'row_count':1,'rows':[{'t':'y'}]}", false, diff), -1);
    assert_contains(diff, "...");
    assert_contains(diff, "direct {\"t\":\"y\"}"); /* the second side survives the first */
    char small[64];
    assert_int_equal(
        cmp_ex(big, "{'ok':true,'row_count':2,'rows':[]}", false, NULL, small, sizeof(small)), -1);
    assert_true(strlen(small) < sizeof(small));
}

static void test_step_check(void **state)
{
    (void)state;
    char err[256];
    json_t *good = J("{'ignore_columns':['id','created_at']}");
    json_t *bad_key = J("{'ignore':['id']}");
    json_t *bad_list = J("{'ignore_columns':'id'}");
    json_t *bad_item = J("{'ignore_columns':['id',3]}");
    assert_int_equal(parity_step_check(good, err, sizeof(err)), 0);
    assert_int_equal(parity_step_check(bad_key, err, sizeof(err)), -1);
    assert_contains(err, "unknown key 'ignore'");
    assert_int_equal(parity_step_check(bad_list, err, sizeof(err)), -1);
    assert_int_equal(parity_step_check(bad_item, err, sizeof(err)), -1);
    assert_contains(err, "[1]");
    json_decref(good);
    json_decref(bad_key);
    json_decref(bad_list);
    json_decref(bad_item);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_vs_order),
        cmocka_unit_test(test_multiset_counts_duplicates),
        cmocka_unit_test(test_row_count_mismatch),
        cmocka_unit_test(test_numbers_by_value),
        cmocka_unit_test(test_timestamps_as_instants),
        cmocka_unit_test(test_jsonb_key_order),
        cmocka_unit_test(test_ignore_columns_and_volatile_fields),
        cmocka_unit_test(test_error_class_and_sqlstate),
        cmocka_unit_test(test_health_and_transaction),
        cmocka_unit_test(test_long_rows_fit_the_message),
        cmocka_unit_test(test_step_check),
    };
    return cmocka_run_group_tests_name("parity", tests, NULL, NULL);
}
