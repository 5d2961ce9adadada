# The SQL rules (sql/): lexer and statement classification with tricky
# inputs, the placeholder scan, identifiers and reserved schemas, SQLSTATE
# faults class by class (unit); and the differential test that asks a real
# PostgreSQL for its command tag and parameter count of every statement of
# sql/tests/corpus.sql (integration).
dbev_add_test(test_sql_statement SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sql_statement.c
              LIBS dbev_sql LABELS unit)
dbev_add_test(test_sql_ident SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sql_ident.c
              LIBS dbev_sql LABELS unit)
dbev_add_test(test_sql_sqlstate SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sql_sqlstate.c
              LIBS dbev_sql LABELS unit)
# The SQL the adapter and the direct path write and read (dbev/sql_build.h):
# the builder's statements and parameters, type mapping of result values.
dbev_add_test(test_sql_build SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sql_build.c
              LIBS dbev_sql_build LABELS unit)
dbev_add_test(test_sql_typemap SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_sql_typemap.c
              LIBS dbev_sql_build LABELS unit)
# dbev_adb_pgenv (pgenv of the harness alone) and DBEV_PG_KIT come from adapter_db.cmake,
# included before this file.
dbev_add_test(test_sql_pg SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_sql_pg.c ${DBEV_PG_KIT}
              LIBS dbev_sql dbev_adb_pgenv LABELS integration TIMEOUT 300)
