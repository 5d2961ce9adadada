# The runner driven as a user would, on small scenario files.
dbev_add_test(test_run_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_run_cli.c
              ${CMAKE_CURRENT_LIST_DIR}/integration/cli_run.c
              LIBS dbev_common LABELS integration TIMEOUT 300)
add_dependencies(test_run_cli dbev-harness)

# The scenario suite itself, on the embedded defaults, less the long loads
# (those belong to `make run` and bench/); the runner starts the adapter
# processes the kill scenarios require. It loads both cores, so ctest runs
# it alone (PROCESSORS 2).
add_test(NAME scenario_suite
         COMMAND dbev-harness run --skip-tag long -j 2 --seed 1
                 --out ${CMAKE_BINARY_DIR}/reports/ctest-suite)
set_tests_properties(scenario_suite PROPERTIES TIMEOUT 600 LABELS "integration;scenarios"
                     PROCESSORS 2)
