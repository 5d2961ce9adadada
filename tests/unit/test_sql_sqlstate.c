/*
 * Whose fault a failed statement was (sql/src/sqlstate.c), class by class,
 * as docs/protocol.md's table "Which failures count toward the circuit
 * breaker" says: the caller's classes are never counted nor retried, the
 * races are run again, the connection's and the server's count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dbev/sql.h>

#include <stdio.h>

static void expect(const char *sqlstate, dbev_sql_fault_t want)
{
    dbev_sql_fault_t got = dbev_sql_sqlstate_class(sqlstate, false);
    if (got != want)
        fail_msg("%s: %s, expected %s", sqlstate ? sqlstate : "(null)", dbev_sql_fault_name(got),
                 dbev_sql_fault_name(want));
}

static void test_caller_classes(void **state)
{
    (void)state;
    static const char *const codes[] = {
        "0A000",                                     /* feature not supported */
        "0B000", "0L000", "0P000", "20000", "21000", /* cardinality */
        "22001", "22003", "22012", "22P02",          /* data */
        "23502", "23503", "23505", "23514",          /* integrity */
        "24000", "25001", "25006", "25P02",          /* transaction state, READ ONLY */
        "26000", "27000", "28000", "2B000", "2D000", "2F000", "34000",
        "38000", "39000", "3B000", "3D000", "3F000", "40002", /* integrity at commit */
        "42601", "42501", "42P01", "42703", "42883", "42P18", /* syntax, permission */
        "44000", "54000", "54001", "55000", "55006", "55P03", /* NOWAIT, lock_timeout */
        "HV000", "P0001", "P0002", "72000", "53400",          /* temp_file_limit */
        "58P01", "58P02",                                     /* files the request named */
        "08P01", /* Bind with the wrong number of parameters, session alive */
        "08001", /* a connection the request opened (dblink), session alive */
        "ZZ999", /* unknown class */
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        expect(codes[i], DBEV_SQL_FAULT_CALLER);
        assert_false(dbev_sql_fault_counts(dbev_sql_sqlstate_class(codes[i], false)));
    }
    /* libpq's own errors on a live connection (no SQLSTATE). */
    expect(NULL, DBEV_SQL_FAULT_CALLER);
    expect("", DBEV_SQL_FAULT_CALLER);
    expect("42", DBEV_SQL_FAULT_CALLER);
}

static void test_timeout_and_races(void **state)
{
    (void)state;
    expect("57014", DBEV_SQL_FAULT_TIMEOUT);
    expect("40001", DBEV_SQL_FAULT_TRANSIENT);
    expect("40P01", DBEV_SQL_FAULT_TRANSIENT);
    assert_false(dbev_sql_fault_counts(DBEV_SQL_FAULT_TIMEOUT));
    assert_false(dbev_sql_fault_counts(DBEV_SQL_FAULT_TRANSIENT));
}

static void test_database_classes(void **state)
{
    (void)state;
    static const char *const connection[] = {"57P01", "57P02", "57P03", "57P04", "57P05", "57000"};
    for (size_t i = 0; i < sizeof(connection) / sizeof(connection[0]); i++)
        expect(connection[i], DBEV_SQL_FAULT_CONNECTION);
    static const char *const server[] = {"53000", "53100", "53200", "53300", "58000",
                                         "58030", "XX000", "XX001", "XX002", "F0000"};
    for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++)
        expect(server[i], DBEV_SQL_FAULT_SERVER);
    assert_true(dbev_sql_fault_counts(DBEV_SQL_FAULT_CONNECTION));
    assert_true(dbev_sql_fault_counts(DBEV_SQL_FAULT_SERVER));
}

static void test_session_ended(void **state)
{
    (void)state;
    /* A FATAL error or a dead connection is the connection's, whatever the code. */
    static const char *const codes[] = {"08P01", "08006", "57P01", "25P03", "42601", "", NULL};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        assert_int_equal(dbev_sql_sqlstate_class(codes[i], true), DBEV_SQL_FAULT_CONNECTION);
    assert_string_equal(dbev_sql_fault_name(DBEV_SQL_FAULT_SERVER), "SERVER");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caller_classes),
        cmocka_unit_test(test_timeout_and_races),
        cmocka_unit_test(test_database_classes),
        cmocka_unit_test(test_session_ended),
    };
    return cmocka_run_group_tests_name("sql_sqlstate", tests, NULL, NULL);
}
