/*
 * The identifier grammar of structured operations (sql/src/ident.c): plain
 * names of at most 63 bytes, an optional schema for tables, and the
 * schemas no caller may name (PostgreSQL's own and the adapter's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dbev/sql.h>

#include <string.h>

static void assert_ident_err(const char *ident, dbev_sql_ident_kind_t kind, const char *fragment)
{
    char err[256] = "";
    if (dbev_sql_ident_check(ident, kind, err, sizeof(err)) == 0)
        fail_msg("%s: accepted, expected \"%s\"", ident, fragment);
    if (!strstr(err, fragment))
        fail_msg("%s: \"%s\" lacks \"%s\"", ident, err, fragment);
    assert_false(dbev_sql_ident_valid(ident, kind));
}

static void test_grammar(void **state)
{
    (void)state;
    assert_true(dbev_sql_ident_valid("agent_execution_logs", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_ident_valid("agent_observability.trace_events", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_ident_valid("_x$1", DBEV_SQL_IDENT_COLUMN));
    assert_true(dbev_sql_ident_valid("col$1", DBEV_SQL_IDENT_COLUMN));
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    assert_true(dbev_sql_ident_valid(longest, DBEV_SQL_IDENT_COLUMN));
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    assert_ident_err(too_long, DBEV_SQL_IDENT_COLUMN,
                     "is 64 bytes long, PostgreSQL keeps at most 63");

    assert_ident_err("", DBEV_SQL_IDENT_COLUMN, "identifier is empty");
    assert_ident_err(NULL, DBEV_SQL_IDENT_COLUMN, "missing");
    assert_ident_err("a.b", DBEV_SQL_IDENT_COLUMN, "contains '.' at offset 1");
    assert_ident_err("a.b.c", DBEV_SQL_IDENT_TABLE, "name contains '.'");
    assert_ident_err(".b", DBEV_SQL_IDENT_TABLE, "schema is empty");
    assert_ident_err("a.", DBEV_SQL_IDENT_TABLE, "name is empty");
    assert_ident_err("1users", DBEV_SQL_IDENT_TABLE, "it must start with a letter or '_', not '1'");
    assert_ident_err("users; DROP TABLE x", DBEV_SQL_IDENT_TABLE, "contains ';' at offset 5");
    assert_ident_err("\"quoted\"", DBEV_SQL_IDENT_TABLE, "not '\"'");
    assert_ident_err("caf\xc3\xa9", DBEV_SQL_IDENT_COLUMN, "contains byte 0xc3 at offset 3");
    assert_ident_err("$1", DBEV_SQL_IDENT_COLUMN, "must start with a letter");
}

static void test_reserved_schemas(void **state)
{
    (void)state;
    assert_ident_err("pg_catalog.pg_authid", DBEV_SQL_IDENT_TABLE,
                     "is in schema pg_catalog, which is PostgreSQL's own");
    assert_ident_err("PG_CATALOG.pg_class", DBEV_SQL_IDENT_TABLE, "PostgreSQL's own");
    assert_ident_err("information_schema.tables", DBEV_SQL_IDENT_TABLE, "PostgreSQL's own");
    assert_ident_err("pg_toast.pg_toast_1", DBEV_SQL_IDENT_TABLE, "PostgreSQL's own");
    assert_ident_err("pg_temp.t", DBEV_SQL_IDENT_TABLE, "PostgreSQL's own");
    assert_ident_err("pg_temp_3.t", DBEV_SQL_IDENT_TABLE, "PostgreSQL's own");
    assert_ident_err("pg_toast_temp_3.t", DBEV_SQL_IDENT_TABLE, "PostgreSQL's own");
    assert_ident_err("dbev_adapter.processed_events", DBEV_SQL_IDENT_TABLE,
                     "the adapter's own bookkeeping");
    assert_ident_err("DBEV_Adapter.processed_events", DBEV_SQL_IDENT_TABLE, "adapter's own");
    /* Near misses are application schemas. */
    assert_true(dbev_sql_ident_valid("pg.t", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_ident_valid("pgx_catalog.t", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_ident_valid("dbev_adapter2.t", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_ident_valid("information_schema2.t", DBEV_SQL_IDENT_TABLE));
    /* Unqualified names resolve at run time (documented in dbev/sql.h). */
    assert_true(dbev_sql_ident_valid("pg_class", DBEV_SQL_IDENT_TABLE));
    assert_true(dbev_sql_schema_reserved("pg_x", 4));
    assert_false(dbev_sql_schema_reserved("pg", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar),
        cmocka_unit_test(test_reserved_schemas),
    };
    return cmocka_run_group_tests_name("sql_ident", tests, NULL, NULL);
}
