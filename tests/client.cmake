# Tests of libdbev and the dbev CLI (issue 5).
foreach(t conf backoff breaker corrtab)
    dbev_add_test(test_client_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_client_${t}.c
                  LIBS dbev_client_internal LABELS unit)
endforeach()

# Against a fake responder thread on a librdkafka mock cluster.
dbev_add_test(test_client_fake SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_fake.c
              LIBS dbev LABELS integration TIMEOUT 180)

# Against the real adapter (embedded), a throwaway PostgreSQL and the mock
# cluster, set up with the adapter tests' kit.
if(TARGET dbev_adapter_core AND TARGET dbev_harness_core)
    dbev_add_test(test_client_adapter
                  SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_adapter.c
                          ${CMAKE_CURRENT_LIST_DIR}/integration/test_adapter_kit.c
                  LIBS dbev dbev_adapter_core dbev_harness_core LABELS integration TIMEOUT 300)
endif()
# test_client_fake also runs the CLI.
add_dependencies(test_client_fake dbev_cli)
