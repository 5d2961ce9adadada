# The runner driven as a user would, on small scenario files.
dbev_add_test(test_run_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_run_cli.c
              LIBS dbev_common LABELS integration TIMEOUT 300)
add_dependencies(test_run_cli dbev-harness)
