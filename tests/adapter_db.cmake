# The adapter's database side: SQL builder, type mapping, breaker (unit) and
# the executor against a throwaway PostgreSQL (integration).
if(TARGET dbev_adapter_core)
    dbev_add_test(test_sqlbuild SOURCES unit/test_sqlbuild.c LIBS dbev_adapter_core LABELS unit)
    dbev_add_test(test_typemap SOURCES unit/test_typemap.c LIBS dbev_adapter_core LABELS unit)
    dbev_add_test(test_breaker SOURCES unit/test_breaker.c LIBS dbev_adapter_core LABELS unit)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_exec.c)
        dbev_add_test(test_exec SOURCES integration/test_exec.c
                      LIBS dbev_adapter_core dbev_harness_core LABELS integration TIMEOUT 300)
    endif()
endif()
