# The direct path and parity mode (harness/src/direct.c, parity.c,
# step_sql.c): the comparison rules (unit) and every operation straight on a
# throwaway PostgreSQL, the sql:/until: steps included (integration).
dbev_add_test(test_parity SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_parity.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_direct SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_direct.c ${DBEV_PG_KIT}
              LIBS dbev_harness_core LABELS integration TIMEOUT 300)
