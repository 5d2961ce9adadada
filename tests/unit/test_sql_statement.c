/*
 * The SQL rules' reading of statement texts (sql/src/lexer.c,
 * statement.c, refusals.c, params.c): first keywords behind every kind of
 * prefix PostgreSQL skips, the refusal table, one statement per request,
 * the $n placeholder scan, which must not count what sits in strings,
 * comments, quoted identifiers or dollar quotes, and the top-level ORDER BY
 * that parity mode compares rows in order for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dbev/sql.h>

#include <stdio.h>
#include <string.h>

static void assert_keyword(const char *sql, const char *kw)
{
    dbev_sql_stmt_t st;
    dbev_sql_inspect(sql, &st);
    if (strcmp(st.keyword, kw) != 0)
        fail_msg("%s: keyword \"%s\", expected \"%s\"", sql, st.keyword, kw);
    char out[DBEV_SQL_KEYWORD_SIZE];
    dbev_sql_first_keyword(sql, out, sizeof(out));
    if (strcmp(out, kw) != 0)
        fail_msg("%s: first_keyword \"%s\", expected \"%s\"", sql, out, kw);
}

static void assert_refused(const char *sql, const char *op, const char *fragment)
{
    char err[512] = "";
    if (dbev_sql_check(sql, op, err, sizeof(err)) == 0)
        fail_msg("%s: accepted, expected a refusal with \"%s\"", sql, fragment);
    if (!strstr(err, fragment))
        fail_msg("%s: \"%s\" lacks \"%s\"", sql, err, fragment);
}

static void assert_accepted(const char *sql)
{
    char err[512] = "";
    if (dbev_sql_check(sql, "EXECUTE", err, sizeof(err)) != 0)
        fail_msg("%s: refused: %s", sql, err);
}

static long max_param(const char *sql)
{
    dbev_sql_stmt_t st;
    dbev_sql_inspect(sql, &st);
    return st.max_param;
}

static void test_first_keyword_prefixes(void **state)
{
    (void)state;
    assert_keyword("SELECT 1", "SELECT");
    assert_keyword("  \n\tselect 1", "SELECT");
    assert_keyword("-- c\nLISTEN x", "LISTEN");
    /* A -- comment ends at a carriage return too (scan.l's newline). */
    assert_keyword("-- c\rLISTEN x", "LISTEN");
    assert_keyword("/* c */ begin", "BEGIN");
    /* Nested comments: the inner close does not end the outer one. */
    assert_keyword("/* /* */ SELECT 1 */ LISTEN x", "LISTEN");
    assert_keyword("/* a /* b /* c */ d */ e */listen x", "LISTEN");
    assert_keyword("/*/ still comment */ SET x = 1", "SET");
    assert_keyword("/**/LOAD 'x'", "LOAD");
    /* Empty statements in front are skipped by the grammar. */
    assert_keyword("; LISTEN x", "LISTEN");
    assert_keyword(";;\n;  /* */ ; discard all", "DISCARD");
    /* Parenthesised queries. */
    assert_keyword("((SELECT 1))", "SELECT");
    assert_keyword("( /* c */ ( VALUES (1)))", "VALUES");
    /* \v and \f are blanks. */
    assert_keyword("\v\fRESET ALL", "RESET");
    /* Whole words only: these are identifiers, not the keywords. */
    assert_keyword("LISTEN_x", "LISTEN_X");
    assert_keyword("set$1 = 2", "SET$1");
    /* Not a word: a quoted identifier, a string, nothing. */
    assert_keyword("\"LISTEN\" x", "");
    assert_keyword("'x'", "");
    assert_keyword("   ", "");
    assert_keyword("/* unterminated LISTEN", "");
    assert_keyword(NULL, "");
}

static void test_second_keyword(void **state)
{
    (void)state;
    dbev_sql_stmt_t st;
    dbev_sql_inspect("set /* x */ local statement_timeout = 5", &st);
    assert_string_equal(st.keyword, "SET");
    assert_string_equal(st.keyword2, "LOCAL");
    char kw[DBEV_SQL_KEYWORD_SIZE];
    const char *rest = dbev_sql_first_keyword("prepare transaction 'x'", kw, sizeof(kw));
    dbev_sql_first_keyword(rest, kw, sizeof(kw));
    assert_string_equal(kw, "TRANSACTION");
}

static void test_refusals(void **state)
{
    (void)state;
    static const char *const tx[] = {"BEGIN",
                                     "begin isolation level serializable",
                                     "START TRANSACTION",
                                     "COMMIT",
                                     "COMMIT PREPARED 'x'",
                                     "END",
                                     "ROLLBACK",
                                     "ROLLBACK PREPARED 'x'",
                                     "ABORT",
                                     "SAVEPOINT a",
                                     "RELEASE SAVEPOINT a",
                                     "PREPARE TRANSACTION 'x'",
                                     "/* /* */ SELECT 1 */ begin"};
    for (size_t i = 0; i < sizeof(tx) / sizeof(tx[0]); i++)
        assert_refused(tx[i], "EXECUTE", "transaction control");
    static const char *const session[] = {"SET search_path = evil",
                                          "SET SESSION AUTHORIZATION x",
                                          "set transaction isolation level serializable",
                                          "SET CONSTRAINTS ALL DEFERRED",
                                          "RESET ALL",
                                          "DISCARD ALL",
                                          "LISTEN x",
                                          "/* /* */ SELECT 1 */ LISTEN x",
                                          "; LISTEN x",
                                          "-- c\rLISTEN x",
                                          "UNLISTEN *",
                                          "PREPARE p AS SELECT 1",
                                          "DEALLOCATE ALL",
                                          "LOAD 'auto_explain'",
                                          "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
                                          "COPY items FROM STDIN",
                                          "copy (select 1) to stdout"};
    for (size_t i = 0; i < sizeof(session) / sizeof(session[0]); i++)
        assert_refused(session[i], "EXECUTE", "");
    assert_refused("LISTEN x", "EXECUTE", "LISTEN changes the session of a pooled connection");
    assert_refused("BEGIN", "SELECT", "transaction control (BEGIN) is not allowed in SELECT");
    assert_refused("PREPARE p AS SELECT 1", "EXECUTE", "PREPARE makes a prepared statement");
    assert_refused("DECLARE c CURSOR WITH HOLD FOR SELECT 1", "EXECUTE", "WITH HOLD");
    assert_refused("COPY t TO STDOUT", "EXECUTE", "SELECT the rows instead");

    assert_accepted("SET LOCAL statement_timeout = 5");
    assert_accepted("set local search_path = x");
    assert_accepted("SELECT 1");
    assert_accepted("SELECT 1;");
    assert_accepted("SELECT 1; -- trailing\n ;;");
    assert_accepted("NOTIFY ch, 'x'");
    assert_accepted("DECLARE c CURSOR WITHOUT HOLD FOR SELECT hold FROM t");
    assert_accepted("COPY t TO '/tmp/x'");
    assert_accepted("WITH x AS (SELECT 1) SELECT * FROM x");
    assert_accepted("SELECT 'BEGIN; LISTEN x'");
    /* The keyword is not a refused one: PostgreSQL decides (a syntax error). */
    assert_accepted("LISTENER x");
    assert_accepted("\"BEGIN\"");

    dbev_sql_stmt_t st;
    dbev_sql_inspect("LISTEN x", &st);
    assert_int_equal(st.category, DBEV_SQL_CAT_SESSION);
    dbev_sql_inspect("START TRANSACTION", &st);
    assert_int_equal(st.category, DBEV_SQL_CAT_TRANSACTION);
    dbev_sql_inspect("SET LOCAL x = 1", &st);
    assert_null(st.refusal);
    assert_int_equal(st.category, DBEV_SQL_CAT_OTHER);
    dbev_sql_inspect("(TABLE t)", &st);
    assert_int_equal(st.category, DBEV_SQL_CAT_QUERY);
    dbev_sql_inspect("delete from t", &st);
    assert_int_equal(st.category, DBEV_SQL_CAT_DML);
    dbev_sql_inspect("-- nothing", &st);
    assert_int_equal(st.category, DBEV_SQL_CAT_NONE);
    assert_string_equal(dbev_sql_category_name(DBEV_SQL_CAT_QUERY), "QUERY");
}

static void test_empty_and_statements(void **state)
{
    (void)state;
    assert_refused("  \n", "SELECT", "empty");
    assert_refused("", "SELECT", "empty");
    assert_refused("-- just a comment", "SELECT", "no statement");
    assert_refused(" ; ; ", "SELECT", "no statement");
    assert_refused("SELECT 1; SELECT 2", "SELECT", "holds 2 statements");
    assert_refused("SELECT 1; LISTEN x", "EXECUTE", "holds 2 statements");
    dbev_sql_stmt_t st;
    /* ; inside strings, comments, quotes, parentheses does not split. */
    dbev_sql_inspect("SELECT ';', \";\", $$;$$, E'\\';' /* ; */ -- ;\n", &st);
    assert_int_equal(st.statements, 1);
    dbev_sql_inspect("SELECT (1;2)", &st);
    assert_int_equal(st.statements, 1);
    /* BEGIN ATOMIC bodies (psql's heuristic). */
    dbev_sql_inspect("CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC "
                     "SELECT CASE WHEN true THEN 1 END; SELECT 2; END",
                     &st);
    assert_int_equal(st.statements, 1);
    dbev_sql_inspect("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); "
                     "END; SELECT 1",
                     &st);
    assert_int_equal(st.statements, 2);
    /* Not a routine: BEGIN does not hold the ;. */
    dbev_sql_inspect("SELECT begin FROM t; SELECT 1", &st);
    assert_int_equal(st.statements, 2);
}

static void test_placeholders(void **state)
{
    (void)state;
    assert_int_equal(max_param("SELECT 1"), 0);
    assert_int_equal(max_param("SELECT $1, $3, $2"), 3);
    assert_int_equal(max_param("SELECT $1::int + $12"), 12);
    /* Not placeholders: strings, comments, identifiers, dollar quotes. */
    assert_int_equal(max_param("SELECT '$5', \"$6\", a$7, E'\\'$8', U&'$9' -- $10\n"), 0);
    assert_int_equal(max_param("SELECT 1 /* $4 /* $5 */ $6 */ + $1"), 1);
    assert_int_equal(max_param("SELECT $$ $2 $$, $tag$ $3 $$ $4 $tag$, $1"), 1);
    assert_int_equal(max_param("SELECT $a$ $b$ $3 $b$ $a$"), 0);
    assert_int_equal(max_param("SELECT 'it''s $2', $1"), 1);
    /* E'' with backslash escapes: \' does not end it; '' doubles too. */
    assert_int_equal(max_param("SELECT E'\\'', $2"), 2);
    assert_int_equal(max_param("SELECT E'\\\\', $2"), 2);
    assert_int_equal(max_param("SELECT e'a''b $3', $1"), 1);
    /* A standard string: the backslash is a character, the quote ends it. */
    assert_int_equal(max_param("SELECT '\\', $2"), 2);
    /* The tag grammar: $1$ is no tag (a tag cannot start with a digit). */
    assert_int_equal(max_param("SELECT $1$"), 1);
    assert_int_equal(max_param("SELECT $_x1$ $5 $_x1$"), 0);
    /* Unterminated: runs to the end. */
    assert_int_equal(max_param("SELECT $1, '$2"), 1);
    assert_int_equal(max_param("SELECT $1, $q$ $2"), 1);
    /* Huge numbers are capped. */
    assert_int_equal(max_param("SELECT $99999999999999999999"), DBEV_SQL_MAX_PARAMS + 1);
}

static void test_params_check(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(dbev_sql_params_check("SELECT $1, $2", 2, err, sizeof(err)), 0);
    assert_int_equal(dbev_sql_params_check("SELECT 1", 0, err, sizeof(err)), 0);
    assert_int_equal(dbev_sql_params_check("SELECT '$1'", 0, err, sizeof(err)), 0);
    assert_int_equal(dbev_sql_params_check("SELECT $3", 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "sql uses $3 but params has 2 values"));
    assert_int_equal(dbev_sql_params_check("SELECT $1", 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "params has 3 values but sql uses at most $1"));
    assert_int_equal(dbev_sql_params_check("SELECT 1", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "params has 1 value but sql uses no $n placeholder"));
    assert_int_equal(dbev_sql_params_check("SELECT $70000", 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "above $65535"));
}

/* Whether a statement orders its rows (what parity mode compares in order). */
static void test_is_ordered(void **state)
{
    (void)state;
    assert_true(dbev_sql_is_ordered("SELECT * FROM t ORDER BY id"));
    assert_true(dbev_sql_is_ordered("select a from t order\n  by a desc limit 3"));
    assert_true(dbev_sql_is_ordered("SELECT a FROM t ORDER /* why */ BY a"));
    assert_true(dbev_sql_is_ordered("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1"));
    assert_true(
        dbev_sql_is_ordered("WITH x AS (SELECT a FROM t ORDER BY a) SELECT * FROM x ORDER BY a"));
    assert_true(dbev_sql_is_ordered("SELECT 'it''s' AS s FROM t ORDER BY s"));
    assert_true(dbev_sql_is_ordered("SELECT $1::text FROM t ORDER BY 1"));

    assert_false(dbev_sql_is_ordered(NULL));
    assert_false(dbev_sql_is_ordered("SELECT * FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT * FROM (SELECT * FROM t ORDER BY id) s"));
    assert_false(dbev_sql_is_ordered("WITH x AS (SELECT a FROM t ORDER BY a) SELECT * FROM x"));
    assert_false(dbev_sql_is_ordered("SELECT a, row_number() OVER (ORDER BY a) FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT string_agg(a, ',' ORDER BY a) FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT 'ORDER BY a' FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT 'x'' ORDER BY a' FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT E'\\' ORDER BY a' FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT \"ORDER BY\" FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT a FROM t -- ORDER BY a"));
    assert_false(dbev_sql_is_ordered("SELECT a FROM t /* ORDER /* nested */ BY a */"));
    assert_false(dbev_sql_is_ordered("SELECT $$ ORDER BY $$ FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT $q$ it's ORDER BY $q$ FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT border by_x FROM t"));
    assert_false(dbev_sql_is_ordered("SELECT a AS order_ FROM t WHERE b = 'by'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_keyword_prefixes),
        cmocka_unit_test(test_second_keyword),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_empty_and_statements),
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_params_check),
        cmocka_unit_test(test_is_ordered),
    };
    return cmocka_run_group_tests_name("sql_statement", tests, NULL, NULL);
}
