dbev_add_test(test_common SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_common.c
              LIBS dbev_common LABELS unit)
dbev_add_test(test_conf_table SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_conf_table.c
              LIBS dbev_common LABELS unit)
