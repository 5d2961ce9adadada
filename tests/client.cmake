# Tests of libdbev and the dbev CLI (issue 5).
foreach(t conf backoff breaker corrtab)
    dbev_add_test(test_client_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_client_${t}.c
                  LIBS dbev_client_internal LABELS unit)
endforeach()

# Against a fake responder thread on a librdkafka mock cluster.
dbev_add_test(test_client_fake SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_fake.c
              LIBS dbev LABELS integration TIMEOUT 180)
