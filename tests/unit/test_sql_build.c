/*
 * SQL builder: every filter operator, schema-qualified names, hostile
 * identifiers refused, and values never spliced into the SQL text (each
 * test value is a marker string that must appear only among the parameters);
 * a caller's SQL with its parameters (dbev_sql_build_params).
 */
#include <dbev/sql.h>
#include <dbev/sql_build.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

static dbev_sql_query_t *qs;
static size_t nq;
static char err[512];

static int teardown(void **state)
{
    (void)state;
    dbev_sql_queries_free(qs, nq);
    qs = NULL;
    nq = 0;
    return 0;
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return v;
}

static int build(dbev_operation_t *op)
{
    dbev_sql_queries_free(qs, nq);
    qs = NULL;
    nq = 0;
    err[0] = '\0';
    return dbev_sql_build(op, NULL, NULL, &qs, &nq, err, sizeof(err));
}

static void assert_no_value_in_sql(const dbev_sql_query_t *q, const char *value)
{
    if (strstr(q->sql, value))
        fail_msg("value %s spliced into SQL: %s", value, q->sql);
}

static void test_insert_quotes_and_params(void **state)
{
    (void)state;
    json_t *data = J("{\"agent_name\": \"VALUE_ONE\", \"status\": \"VALUE_TWO\", \"score\": 0.95}");
    json_t *ret = J("[\"id\"]");
    dbev_operation_t op = {
        .type = DBEV_OP_INSERT, .table = "agent_execution_logs", .data = data, .returning = ret};
    assert_int_equal(build(&op), 0);
    assert_int_equal(nq, 1);
    assert_string_equal(qs[0].sql, "INSERT INTO \"agent_execution_logs\" (\"agent_name\", "
                                   "\"status\", \"score\") VALUES ($1, $2, $3) RETURNING \"id\"");
    assert_int_equal(qs[0].nparams, 3);
    assert_string_equal(qs[0].values[0], "VALUE_ONE");
    assert_string_equal(qs[0].values[1], "VALUE_TWO");
    assert_string_equal(qs[0].values[2], "0.95");
    assert_no_value_in_sql(&qs[0], "VALUE_");
    json_decref(data);
    json_decref(ret);
}

static void test_schema_qualified(void **state)
{
    (void)state;
    json_t *data = J("{\"trace_id\": \"T1\"}");
    dbev_operation_t op = {
        .type = DBEV_OP_INSERT, .table = "agent_observability.trace_events", .data = data};
    assert_int_equal(build(&op), 0);
    assert_string_equal(qs[0].sql,
                        "INSERT INTO \"agent_observability\".\"trace_events\" (\"trace_id\") "
                        "VALUES ($1)");
    json_decref(data);
}

static void test_hostile_identifiers(void **state)
{
    (void)state;
    const char *tables[] = {"users; DROP TABLE x",
                            "a\"b",
                            "",
                            "a.b.c",
                            ".x",
                            "x.",
                            "1abc",
                            "tab le",
                            "t--",
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                            "x/*",
                            "é",
                            "pg_catalog.pg_authid",
                            "dbev_adapter.processed_events"};
    json_t *data = J("{\"a\": 1}");
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        dbev_operation_t op = {.type = DBEV_OP_INSERT, .table = tables[i], .data = data};
        if (build(&op) == 0)
            fail_msg("table %s accepted: %s", tables[i], qs[0].sql);
        assert_non_null(strstr(err, "invalid table name"));
    }
    json_decref(data);
    const char *cols[] = {"a\"; DROP TABLE t; --", "a b", "", "a.b", "x)", "$a"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        json_t *d = json_object();
        json_object_set_new(d, cols[i], json_integer(1));
        dbev_operation_t op = {.type = DBEV_OP_INSERT, .table = "t", .data = d};
        if (build(&op) == 0)
            fail_msg("column %s accepted: %s", cols[i], qs[0].sql);
        json_t *w = json_object();
        json_object_set_new(w, cols[i], json_integer(1));
        dbev_operation_t del = {.type = DBEV_OP_DELETE, .table = "t", .where = w};
        if (build(&del) == 0)
            fail_msg("where column %s accepted: %s", cols[i], qs[0].sql);
        json_t *r = json_array();
        json_array_append_new(r, json_string(cols[i]));
        json_t *d2 = J("{\"a\": 1}");
        dbev_operation_t ins = {.type = DBEV_OP_INSERT, .table = "t", .data = d2, .returning = r};
        if (build(&ins) == 0)
            fail_msg("returning %s accepted: %s", cols[i], qs[0].sql);
        json_decref(d);
        json_decref(w);
        json_decref(r);
        json_decref(d2);
    }
    assert_true(dbev_sql_ident_valid("agent_observability.trace_events", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_ident_valid("col$1", DBEV_SQL_IDENT_COLUMN));
    assert_false(dbev_sql_ident_valid("a.b", DBEV_SQL_IDENT_COLUMN));
}

static void test_every_filter_operator(void **state)
{
    (void)state;
    json_t *where =
        J("{\"a\": \"V_EQ_PLAIN\", \"b\": {\"$eq\": \"V_EQ\"}, \"c\": {\"$ne\": \"V_NE\"},"
          " \"d\": {\"$lt\": 0.5}, \"e\": {\"$lte\": 7}, \"f\": {\"$gt\": \"V_GT\"},"
          " \"g\": {\"$gte\": \"V_GTE\"}, \"h\": {\"$in\": [\"V_IN1\", \"V_IN2\", 3]},"
          " \"i\": {\"$like\": \"V_LIKE%\"}, \"j\": {\"$is_null\": true},"
          " \"k\": {\"$is_null\": false}, \"l\": null, \"m\": true}");
    dbev_operation_t op = {.type = DBEV_OP_DELETE, .table = "t", .where = where};
    assert_int_equal(build(&op), 0);
    assert_string_equal(qs[0].sql,
                        "DELETE FROM \"t\" WHERE \"a\" = $1 AND \"b\" = $2 AND \"c\" <> $3 AND "
                        "\"d\" < $4 AND \"e\" <= $5 AND \"f\" > $6 AND \"g\" >= $7 AND \"h\" = "
                        "ANY($8) AND \"i\" LIKE $9 AND \"j\" IS NULL AND \"k\" IS NOT NULL AND "
                        "\"l\" IS NULL AND \"m\" = $10");
    assert_int_equal(qs[0].nparams, 10);
    assert_string_equal(qs[0].values[3], "0.5");
    assert_string_equal(qs[0].values[4], "7");
    assert_string_equal(qs[0].values[7], "{\"V_IN1\",\"V_IN2\",3}");
    assert_string_equal(qs[0].values[8], "V_LIKE%");
    assert_string_equal(qs[0].values[9], "true");
    assert_no_value_in_sql(&qs[0], "V_");
    assert_no_value_in_sql(&qs[0], "0.5");
    json_decref(where);

    json_t *bad = J("{\"a\": {\"$regex\": \"x\"}}");
    dbev_operation_t op2 = {.type = DBEV_OP_DELETE, .table = "t", .where = bad};
    assert_int_equal(build(&op2), -1);
    assert_non_null(strstr(err, "$regex"));
    json_decref(bad);
}

static void test_update_upsert(void **state)
{
    (void)state;
    json_t *data = J("{\"status\": \"V_S\", \"meta\": {\"k\": \"V_J\"}, \"tags\": [\"V_A\"]}");
    json_t *where = J("{\"id\": \"V_ID\"}");
    json_t *ret = J("[\"*\"]");
    dbev_operation_t op = {
        .type = DBEV_OP_UPDATE, .table = "t", .data = data, .where = where, .returning = ret};
    assert_int_equal(build(&op), 0);
    assert_string_equal(qs[0].sql, "UPDATE \"t\" SET \"status\" = $1, \"meta\" = $2, \"tags\" = "
                                   "$3 WHERE \"id\" = $4 RETURNING *");
    assert_string_equal(qs[0].values[1], "{\"k\":\"V_J\"}");
    assert_string_equal(qs[0].values[2], "[\"V_A\"]"); /* no column kinds: JSON text */
    assert_no_value_in_sql(&qs[0], "V_");

    json_t *cc = J("[\"id\"]");
    json_t *d2 = J("{\"id\": \"V_ID\", \"a\": 1, \"b\": 2}");
    dbev_operation_t up = {.type = DBEV_OP_UPSERT,
                           .table = "s.t",
                           .data = d2,
                           .conflict = DBEV_CONFLICT_DO_UPDATE,
                           .conflict_columns = cc};
    assert_int_equal(build(&up), 0);
    assert_string_equal(qs[0].sql, "INSERT INTO \"s\".\"t\" (\"id\", \"a\", \"b\") VALUES ($1, "
                                   "$2, $3) ON CONFLICT (\"id\") DO UPDATE SET \"a\" = "
                                   "EXCLUDED.\"a\", \"b\" = EXCLUDED.\"b\"");
    json_t *uc = J("[\"b\"]");
    up.update_columns = uc;
    assert_int_equal(build(&up), 0);
    assert_non_null(strstr(qs[0].sql, "DO UPDATE SET \"b\" = EXCLUDED.\"b\""));
    assert_null(strstr(qs[0].sql, "\"a\" = EXCLUDED"));
    json_decref(data);
    json_decref(where);
    json_decref(ret);
    json_decref(cc);
    json_decref(d2);
    json_decref(uc);
}

static dbev_sql_colkind_t kinds(void *opaque, const char *table, const char *column)
{
    (void)opaque;
    (void)table;
    return strcmp(column, "tags") == 0 ? DBEV_SQL_COL_ARRAY : DBEV_SQL_COL_SCALAR;
}

static void test_array_columns(void **state)
{
    (void)state;
    json_t *data = J("{\"tags\": [\"a\", \"b \\\"q\\\"\", null, \"x\\\\y\"], \"doc\": [1, 2]}");
    dbev_operation_t op = {.type = DBEV_OP_INSERT, .table = "t", .data = data};
    dbev_sql_queries_free(qs, nq);
    assert_int_equal(dbev_sql_build(&op, kinds, NULL, &qs, &nq, err, sizeof(err)), 0);
    assert_string_equal(qs[0].values[0], "{\"a\",\"b \\\"q\\\"\",NULL,\"x\\\\y\"}");
    assert_string_equal(qs[0].values[1], "[1,2]");
    json_decref(data);
}

static void test_batch_insert_chunks(void **state)
{
    (void)state;
    json_t *rows = json_array();
    for (int i = 0; i < 2500; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "id", json_integer(i));
        json_object_set_new(r, "name", json_string("V_NAME"));
        json_array_append_new(rows, r);
    }
    json_t *cc = J("[\"id\"]");
    dbev_operation_t op = {.type = DBEV_OP_BATCH_INSERT,
                           .table = "t",
                           .rows = rows,
                           .conflict = DBEV_CONFLICT_DO_NOTHING,
                           .conflict_columns = cc};
    assert_int_equal(build(&op), 0);
    assert_int_equal(nq, 3); /* 1000 rows per statement */
    assert_int_equal(qs[0].nrows, 1000);
    assert_int_equal(qs[2].nrows, 500);
    assert_int_equal(qs[2].nparams, 1000);
    assert_non_null(strstr(qs[0].sql, "($1999, $2000) ON CONFLICT (\"id\") DO NOTHING"));
    assert_no_value_in_sql(&qs[0], "V_NAME");
    json_t *ret = J("[\"id\"]");
    op.returning = ret;
    assert_int_equal(build(&op), 0);
    assert_non_null(strstr(qs[2].sql, "DO NOTHING RETURNING \"id\""));
    json_decref(ret);
    json_decref(rows);
    json_decref(cc);
}

/* Text arrays from C strings: every element quoted, " and \\ escaped, NULL
 * items as NULL elements, "NULL" as a string. */
static void test_text_array(void **state)
{
    (void)state;
    const char *items[] = {"plain", "say \"hi\"", "back\\slash", NULL, "", "NULL", "{a,b}", "é"};
    bool oom = true;
    char *lit = dbev_sql_text_array(items, sizeof(items) / sizeof(items[0]), &oom);
    assert_false(oom);
    assert_string_equal(lit, "{\"plain\",\"say \\\"hi\\\"\",\"back\\\\slash\",NULL,\"\",\"NULL\","
                             "\"{a,b}\",\"é\"}");
    free(lit);
    lit = dbev_sql_text_array(NULL, 0, &oom);
    assert_false(oom);
    assert_string_equal(lit, "{}");
    free(lit);
}

/* A JSON array of values dumped compactly, NULL as null, strings escaped as
 * JSON (not as an array literal). */
static void test_json_array(void **state)
{
    (void)state;
    json_t *a = json_pack("{s:s, s:[i, f]}", "q", "say \"hi\"\\", "n", 1, 0.5);
    json_t *b = json_string("é");
    const json_t *values[] = {a, NULL, b};
    bool oom = true;
    char *text = dbev_sql_json_array(values, 3, &oom);
    assert_false(oom);
    assert_string_equal(text, "[{\"q\":\"say \\\"hi\\\"\\\\\",\"n\":[1,0.5]},null,\"é\"]");
    free(text);
    text = dbev_sql_json_array(NULL, 0, &oom);
    assert_false(oom);
    assert_string_equal(text, "[]");
    free(text);
    json_decref(a);
    json_decref(b);
}

static void test_params_and_keywords(void **state)
{
    (void)state;
    bool oom;
    char *t;
    json_t *v = J("1.1");
    t = dbev_sql_param_text(v, false, &oom);
    assert_string_equal(t, "1.1");
    free(t);
    json_decref(v);
    v = J("[[1,2],[3,4]]");
    t = dbev_sql_param_text(v, true, &oom);
    assert_string_equal(t, "{{1,2},{3,4}}");
    free(t);
    json_decref(v);
    assert_null(dbev_sql_param_text(json_null(), false, &oom));
    assert_false(oom);

    char kw[32];
    dbev_sql_first_keyword("  -- hi\n /* a /* nested */ c */ begin;", kw, sizeof(kw));
    assert_string_equal(kw, "BEGIN");
    dbev_sql_first_keyword("\n\tStart Transaction", kw, sizeof(kw));
    assert_string_equal(kw, "START");
    dbev_sql_first_keyword("SELECT 1", kw, sizeof(kw));
    assert_string_equal(kw, "SELECT");
    dbev_sql_first_keyword("   ", kw, sizeof(kw));
    assert_string_equal(kw, "");
    const char *rest =
        dbev_sql_first_keyword("set /* x */ local statement_timeout = 5", kw, sizeof(kw));
    assert_string_equal(kw, "SET");
    dbev_sql_first_keyword(rest, kw, sizeof(kw));
    assert_string_equal(kw, "LOCAL");
}

/* A describe callback that answers the types in opaque and counts its calls. */
static int describe_calls;

static int fake_describe(void *opaque, const char *sql, unsigned *types, int max)
{
    const unsigned *answer = opaque;
    describe_calls++;
    assert_string_equal(sql, "SELECT $1, $2, $3");
    for (int i = 0; i < 3 && i < max; i++)
        types[i] = answer[i];
    return 3;
}

/* A caller's SQL: the text as given; a JSON array as an array literal only
 * where the described parameter is array-typed; describe asked only for
 * arrays. */
static void test_build_params(void **state)
{
    (void)state;
    dbev_sql_query_t q;
    bool oom = true;
    unsigned types[3] = {DBEV_SQL_OID_TEXT, 1007 /* int4[] */, DBEV_SQL_OID_JSONB};
    json_t *params = J("[\"a\", [1, 2], [3]]");
    describe_calls = 0;
    assert_int_equal(dbev_sql_build_params("SELECT $1, $2, $3", params, fake_describe, types, &q,
                                           &oom, err, sizeof(err)),
                     0);
    assert_false(oom);
    assert_int_equal(describe_calls, 1);
    assert_string_equal(q.sql, "SELECT $1, $2, $3");
    assert_int_equal(q.nparams, 3);
    assert_string_equal(q.values[0], "a");
    assert_string_equal(q.values[1], "{1,2}");
    assert_string_equal(q.values[2], "[3]");
    dbev_sql_query_clear(&q);
    json_decref(params);

    /* No array: no round trip; null is SQL NULL. */
    params = J("[\"a\", null, 2]");
    assert_int_equal(dbev_sql_build_params("SELECT $1, $2, $3", params, fake_describe, types, &q,
                                           NULL, err, sizeof(err)),
                     0);
    assert_int_equal(describe_calls, 1);
    assert_null(q.values[1]);
    assert_string_equal(q.values[2], "2");
    dbev_sql_query_clear(&q);
    json_decref(params);

    /* No params, no describe callback: arrays go as JSON text. */
    assert_int_equal(
        dbev_sql_build_params("SELECT 1", NULL, NULL, NULL, &q, NULL, err, sizeof(err)), 0);
    assert_int_equal(q.nparams, 0);
    dbev_sql_query_clear(&q);
    params = J("[[1]]");
    assert_int_equal(
        dbev_sql_build_params("SELECT $1", params, NULL, NULL, &q, NULL, err, sizeof(err)), 0);
    assert_string_equal(q.values[0], "[1]");
    dbev_sql_query_clear(&q);
    json_decref(params);

    /* Too many: refused before anything is asked or allocated. */
    params = json_array();
    for (int i = 0; i <= DBEV_SQL_MAX_PARAMS; i++)
        json_array_append_new(params, json_integer(i));
    assert_int_equal(dbev_sql_build_params("SELECT $1", params, fake_describe, types, &q, &oom, err,
                                           sizeof(err)),
                     -1);
    assert_false(oom);
    assert_string_equal(err, "too many parameters (65536)");
    assert_null(q.sql);
    assert_int_equal(describe_calls, 1);
    json_decref(params);
}

/* The catalog questions (catalog.c): the table as the query's $1, its rows as
 * {column: is_array}, and a description's parameter types. The results are
 * made by hand (PQsetResultAttrs/PQsetvalue): no server. */
static void test_catalog_answers(void **state)
{
    (void)state;
    char buf[160];
    dbev_sql_colkind_param("agent_logs", buf, sizeof(buf));
    assert_string_equal(buf, "\"agent_logs\"");
    dbev_sql_colkind_param("app.agent_logs", buf, sizeof(buf));
    assert_string_equal(buf, "\"app\".\"agent_logs\"");
    assert_non_null(strstr(dbev_sql_colkind_query(), "to_regclass($1)"));

    json_t *cols = dbev_sql_colkinds(NULL); /* no answer: nothing known */
    assert_int_equal(json_object_size(cols), 0);
    json_decref(cols);

    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[2] = {{.name = "attname", .format = 0, .typid = DBEV_SQL_OID_TEXT},
                             {.name = "is_array", .format = 0, .typid = DBEV_SQL_OID_BOOL}};
    assert_true(PQsetResultAttrs(res, 2, attrs));
    const char *rows[][2] = {{"tags", "t"}, {"name", "f"}};
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++)
            assert_true(PQsetvalue(res, r, c, (char *)rows[r][c], (int)strlen(rows[r][c])));
    cols = dbev_sql_colkinds(res);
    assert_int_equal(json_object_size(cols), 2);
    assert_true(json_is_true(json_object_get(cols, "tags")));
    assert_true(json_is_false(json_object_get(cols, "name")));
    json_decref(cols);
    PQclear(res);

    unsigned types[4];
    assert_int_equal(dbev_sql_param_types(NULL, types, 4), -1);
    res = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
    assert_int_equal(dbev_sql_param_types(res, types, 4), 0);
    PQclear(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_insert_quotes_and_params, teardown),
        cmocka_unit_test_teardown(test_schema_qualified, teardown),
        cmocka_unit_test_teardown(test_hostile_identifiers, teardown),
        cmocka_unit_test_teardown(test_every_filter_operator, teardown),
        cmocka_unit_test_teardown(test_update_upsert, teardown),
        cmocka_unit_test_teardown(test_array_columns, teardown),
        cmocka_unit_test_teardown(test_batch_insert_chunks, teardown),
        cmocka_unit_test_teardown(test_params_and_keywords, teardown),
        cmocka_unit_test(test_text_array),
        cmocka_unit_test(test_json_array),
        cmocka_unit_test(test_build_params),
        cmocka_unit_test(test_catalog_answers),
    };
    return cmocka_run_group_tests_name("sql_build", tests, NULL, NULL);
}
