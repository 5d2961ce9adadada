# Tests of the harness's load step (issue 6): the pure parts (spec, schedule,
# stress stepping, write classification, judging) and a short load through the
# real adapter on a throwaway PostgreSQL and the mock cluster.
dbev_add_test(test_load SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_load.c
              LIBS dbev_harness_core LABELS unit)

# A short load through the real adapter (embedded), a throwaway PostgreSQL and
# the mock cluster, set up with the adapter tests' kit.
dbev_add_test(test_load_adapter
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_load.c
                      ${CMAKE_CURRENT_LIST_DIR}/integration/test_adapter_kit.c
              LIBS dbev_harness_core dbev dbev_adapter_core LABELS integration TIMEOUT 180)
# Its loads are light (at most 640/s of 10 ms sleeps on four connections)
# and its bounds loose (a stall is judged from below, the stress knee's p99
# bound is 500 ms): it runs beside other tests, in one slot (in two it
# started last, when two were free at once, and ended alone).
