# Tests of the harness's load step (issue 6): the pure parts (spec, schedule,
# stress stepping, write classification, judging) and a short load through the
# real adapter on a throwaway PostgreSQL and the mock cluster.
dbev_add_test(test_load SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_load.c
              LIBS dbev_harness_core LABELS unit)
