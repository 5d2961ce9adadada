# The adapter's database side: breaker and merge planner (unit) and
# the executor against a throwaway PostgreSQL (integration).
#
# The integration test and bench_exec need only pgenv of the harness, so
# they link a small library of just those sources (dbev_adb_pgenv) rather
# than all of dbev_harness_core: the database side's tests then build and run
# whatever state the rest of the harness is in.
#
# DBEV_PG_KIT (a throwaway server + database + schema, pg_kit.h) is one more
# source of each test that wants it, so it links with whichever pgenv
# library that test has (this one or dbev_harness_core); sql.cmake and
# harness_direct.cmake, included after this file, use it too.
set(DBEV_PG_KIT ${CMAKE_CURRENT_LIST_DIR}/integration/pg_kit.c)
dbev_add_test(test_breaker SOURCES unit/test_breaker.c LIBS dbev_adapter_internal LABELS unit)
# which writes of a group share one INSERT (merge_plan.h), without a database
dbev_add_test(test_merge_plan SOURCES unit/test_merge_plan.c LIBS dbev_adapter_internal LABELS unit)

file(GLOB DBEV_ADB_PGENV_SOURCES ${CMAKE_SOURCE_DIR}/harness/env/pgenv*.c)
if(NOT DBEV_ADB_PGENV_SOURCES)
    message(FATAL_ERROR "tests/adapter_db.cmake: no harness/env/pgenv*.c for dbev_adb_pgenv: "
                        "point the glob at where pgenv's sources are now")
endif()
add_library(dbev_adb_pgenv STATIC ${DBEV_ADB_PGENV_SOURCES})
target_include_directories(dbev_adb_pgenv PUBLIC ${CMAKE_SOURCE_DIR}/harness)
target_link_libraries(dbev_adb_pgenv PUBLIC dbev_common PkgConfig::LIBPQ Threads::Threads)
dbev_add_test(test_exec SOURCES integration/test_exec.c ${DBEV_PG_KIT}
              LIBS dbev_adapter_internal dbev_adb_pgenv LABELS integration TIMEOUT 300)
dbev_add_test(test_exec_session SOURCES integration/test_exec_session.c ${DBEV_PG_KIT}
              LIBS dbev_adapter_internal dbev_adb_pgenv LABELS integration TIMEOUT 300)
# every refused keyword, in every spelling, at the decoder and the executor
dbev_add_test(test_exec_refusals SOURCES integration/test_exec_refusals.c ${DBEV_PG_KIT}
              LIBS dbev_adapter_internal dbev_adb_pgenv LABELS integration TIMEOUT 300)
dbev_add_test(test_exec_privilege SOURCES integration/test_exec_privilege.c ${DBEV_PG_KIT}
              LIBS dbev_adapter_internal dbev_adb_pgenv LABELS integration TIMEOUT 300)

# The pool's limits of seeds 003 and 004 (issue 13).
dbev_add_test(test_pool_limits SOURCES integration/test_pool_limits.c ${DBEV_PG_KIT}
              LIBS dbev_adapter_internal dbev_adb_pgenv LABELS integration TIMEOUT 300)
