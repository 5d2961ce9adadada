# Fault injection and raw events (harness/env/adapters.c, features.c,
# harness/faults/step_fault.c, step_raw.c): the adapter supervisor in thread and process
# mode, `fault:` steps against the mock cluster, the throwaway PostgreSQL and
# the adapter processes, and `raw:` steps answered by a real adapter.
set(FAULTS_KIT ${CMAKE_CURRENT_LIST_DIR}/integration/test_faults_kit.c)
foreach(t adapters process env)
    dbev_add_test(test_faults_${t}
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_faults_${t}.c ${FAULTS_KIT}
                  LIBS dbev_harness_core LABELS integration TIMEOUT 120)
    target_include_directories(test_faults_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR}/integration)
    add_dependencies(test_faults_${t} dbev-adapter)
endforeach()
