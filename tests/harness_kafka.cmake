# Tests of the harness's Kafka side (mockenv: the in-process mock cluster and
# the --kafka-bootstrap mode) and of the `dbev-harness env` command.
dbev_add_test(test_mockenv
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_mockenv.c
    LIBS dbev_harness_core
    LABELS integration)
