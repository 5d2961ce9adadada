# The gates of issue 7: gates.yaml parsing, judging, baselines and benchmark
# JSON (unit), and `dbev-harness gate` on tiny phase-tagged scenario files
# with its exit codes and the verdict in the reports (integration).
dbev_add_test(test_gate SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_gate.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_gate_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_gate_cli.c
              ${CMAKE_CURRENT_LIST_DIR}/integration/cli_run.c
              LIBS dbev_common PkgConfig::JANSSON LABELS integration TIMEOUT 300)
add_dependencies(test_gate_cli dbev-harness)
