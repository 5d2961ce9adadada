# The direct path and parity mode (harness/parity/direct.c, parity.c,
# scenario/step_sql.c): the comparison rules (unit) and every operation
# straight on a throwaway PostgreSQL, the sql:/until: steps included
# (integration). test_direct also runs each operation through the adapter's
# executor (exec.h) to compare: dbev_adapter_internal.
dbev_add_test(test_parity SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_parity.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_direct SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_direct.c ${DBEV_PG_KIT}
              LIBS dbev_harness_core dbev_adapter_internal LABELS integration TIMEOUT 300)
