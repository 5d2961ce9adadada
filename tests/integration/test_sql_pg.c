/*
 * The SQL rules against the real thing: every statement of
 * sql/tests/corpus.sql is prepared and run by a throwaway PostgreSQL
 * (pgenv) as an unprivileged role, inside BEGIN ... ROLLBACK with a short
 * statement_timeout, through the extended protocol as the adapter sends
 * it. What PostgreSQL reports must agree with what dbev_sql_inspect found:
 * the command tag with the first keyword, the parameter count it inferred
 * with the highest $n, its "cannot insert multiple commands" with a
 * statement count above one. And the fact the fault table rests on: a Bind
 * with the wrong number of values is answered 08P01 at severity ERROR, and
 * the session serves on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_kit.h"

#include <dbev/sql.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pg_kit_t *pg;
static PGconn *conn;

static void must(const char *sql)
{
    pg_kit_exec(conn, sql);
}

static int group_setup(void **state)
{
    (void)state;
    char err[512];
    pg = pg_kit_new("sqlpg-test", "sql_test",
                    "CREATE TABLE corpus_t (a int);"
                    "CREATE ROLE dbev_sqltest NOLOGIN;"
                    "GRANT ALL ON corpus_t TO dbev_sqltest;"
                    "GRANT TEMPORARY ON DATABASE sql_test TO dbev_sqltest;",
                    &conn, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(conn);
    pg_kit_destroy(pg);
    return 0;
}

/* The first word of the command tag a statement starting with kw reports. */
static bool tag_agrees(const char *kw, const char *tag)
{
    char word[64];
    size_t n = strcspn(tag, " ");
    snprintf(word, sizeof(word), "%.*s", (int)n, tag);
    if (strcmp(kw, "WITH") == 0)
        return !strcmp(word, "SELECT") || !strcmp(word, "INSERT") || !strcmp(word, "UPDATE") ||
               !strcmp(word, "DELETE") || !strcmp(word, "MERGE");
    const char *want = kw;
    if (!strcmp(kw, "TABLE") || !strcmp(kw, "VALUES"))
        want = "SELECT";
    else if (!strcmp(kw, "ABORT"))
        want = "ROLLBACK";
    else if (!strcmp(kw, "END"))
        want = "COMMIT";
    return strcmp(word, want) == 0;
}

typedef struct tally {
    int entries, executed, prepared, multi;
} tally_t;

static void check_entry(const char *sql, tally_t *t)
{
    dbev_sql_stmt_t st;
    dbev_sql_inspect(sql, &st);
    t->entries++;
    must("BEGIN; SET LOCAL ROLE dbev_sqltest; SET LOCAL statement_timeout = 2000");
    PGresult *res = PQprepare(conn, "", sql, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        bool multi = msg && strstr(msg, "cannot insert multiple commands");
        if (multi != (st.statements > 1))
            fail_msg("%s: PostgreSQL: %s; the rules count %zu statements", sql, msg ? msg : "?",
                     st.statements);
        t->multi += multi;
        PQclear(res);
        PQclear(PQexec(conn, "ROLLBACK"));
        return;
    }
    PQclear(res);
    if (st.statements != 1)
        fail_msg("%s: PostgreSQL prepared one statement, the rules count %zu", sql, st.statements);
    t->prepared++;
    res = PQdescribePrepared(conn, "");
    int nparams = PQnparams(res);
    PQclear(res);
    if (nparams != st.max_param)
        fail_msg("%s: PostgreSQL infers %d parameters, the rules found $%ld", sql, nparams,
                 st.max_param);
    const char *values[16];
    for (int i = 0; i < nparams && i < 16; i++)
        values[i] = "1";
    res = PQexecPrepared(conn, "", nparams, values, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        t->executed++;
        if (!tag_agrees(st.keyword, PQcmdStatus(res)))
            fail_msg("%s: PostgreSQL ran \"%s\", the rules say %s", sql, PQcmdStatus(res),
                     st.keyword[0] ? st.keyword : "(no keyword)");
    } else if (getenv("DBEV_TEST_VERBOSE")) {
        fprintf(stderr, "not run: %s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
    PQclear(PQexec(conn, "ROLLBACK"));
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_corpus_agrees(void **state)
{
    (void)state;
    char *text = read_file(DBEV_SOURCE_DIR "/sql/tests/corpus.sql");
    assert_non_null(text);
    tally_t t = {0};
    /* Entries follow each line "-- @@"; what precedes the first is the header. */
    const char *sep = "\n-- @@\n";
    char *p = strstr(text, sep);
    while (p) {
        char *entry = p + strlen(sep);
        char *next = strstr(entry, sep);
        if (next)
            *next = '\0';
        size_t len = strlen(entry);
        while (len && entry[len - 1] == '\n')
            entry[--len] = '\0';
        check_entry(entry, &t);
        p = next ? next : NULL;
        if (next)
            *next = '\n';
    }
    /* Bytes a text file keeps poorly. */
    check_entry("-- c\rLISTEN corpus_r", &t);
    check_entry("SELECT 1 -- c\rUNION SELECT $1::int", &t);
    check_entry("\f SELECT 1", &t);
    fprintf(stderr,
            "corpus: %d entries, %d prepared (parameter counts agree), %d executed (tags "
            "agree), %d refused as multiple commands\n",
            t.entries, t.prepared, t.executed, t.multi);
    assert_true(t.executed >= 40);
    assert_true(t.multi >= 2);
    free(text);
}

static void test_bind_mismatch_is_an_error_not_a_desync(void **state)
{
    (void)state;
    const char *values[] = {"1"};
    PGresult *res = PQexecParams(conn, "SELECT $1::int + $2::int", 1, NULL, values, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    const char *state_ = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    assert_string_equal(state_, "08P01");
    assert_string_equal(severity, "ERROR");
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    assert_int_equal(dbev_sql_sqlstate_class(state_, false), DBEV_SQL_FAULT_CALLER);
    PQclear(res);
    /* The same session serves the next statement. */
    res = PQexec(conn, "SELECT 42");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "42");
    PQclear(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_agrees),
        cmocka_unit_test(test_bind_mismatch_is_an_error_not_a_desync),
    };
    return cmocka_run_group_tests_name("sql_pg", tests, group_setup, group_teardown);
}
