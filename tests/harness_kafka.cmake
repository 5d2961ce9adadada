# Tests of the harness's Kafka side (mockenv: the in-process mock cluster and
# the --kafka-bootstrap mode) and of the `dbev-harness env` command.
dbev_add_test(test_mockenv
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_mockenv.c
    LIBS dbev_harness_core
    LABELS integration)
# Runs the built dbev-harness binary (DBEV_BUILD_DIR/bin/dbev-harness).
dbev_add_test(test_env_cli
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_env_cli.c
    LIBS dbev_harness_core
    LABELS integration
    TIMEOUT 300)
add_dependencies(test_env_cli dbev-harness)
