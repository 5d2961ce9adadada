dbev_add_test(test_yamlj SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_yamlj.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_vars_checker SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_vars_checker.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_expect SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_expect.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_scenario SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_scenario.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_probe_metrics SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_probe_metrics.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_load_metrics SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_load_metrics.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_costs SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_costs.c
              LIBS dbev_harness_core LABELS unit)
dbev_add_test(test_fingerprint SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_fingerprint.c
              LIBS dbev_harness_core LABELS unit)
