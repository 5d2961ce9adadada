# The adapter's Kafka side and daemon: configuration (unit), and integration
# tests that run the adapter (embedded as a thread, or as the dbev-adapter
# process) against a throwaway PostgreSQL (pgenv) and the mock Kafka cluster
# (mockenv). The database side's own unit tests register elsewhere.
# test_adapter_conf reads the loop's configuration (adapter_loop.h), a
# private header: dbev_adapter_internal.
dbev_add_test(test_adapter_conf SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_adapter_conf.c
              LIBS dbev_adapter_internal LABELS unit)
# The split of a job among the executor lanes (job_split.h), without the loop.
dbev_add_test(test_job_split SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_job_split.c
              LIBS dbev_adapter_internal LABELS unit)
set(ADAPTER_KIT ${CMAKE_CURRENT_LIST_DIR}/integration/test_adapter_kit.c)
foreach(t ops pgrestart process isolation timing)
    dbev_add_test(test_adapter_${t}
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_adapter_${t}.c ${ADAPTER_KIT}
                  LIBS dbev_adapter_core dbev_harness_core LABELS integration TIMEOUT 300)
endforeach()
# Seed 002's request examples, verbatim and re-stamped (issue 13).
dbev_add_test(test_seed_examples
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_seed_examples.c ${ADAPTER_KIT}
              LIBS dbev_adapter_core dbev_harness_core LABELS integration TIMEOUT 300)
# The process tests run the daemon binary.
add_dependencies(test_adapter_process dbev-adapter)
