# reports: the latency histogram and the report writers (unit), and the HTML
# page checked in headless Chromium (integration; skipped without chromium).
set(REPORTS_SYNTH ${CMAKE_CURRENT_LIST_DIR}/unit/test_report_synth.c)
dbev_add_test(test_histogram
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_histogram.c ${REPORTS_SYNTH}
              LIBS dbev_reports m LABELS unit)
target_include_directories(test_histogram PRIVATE ${CMAKE_CURRENT_LIST_DIR}/unit)
dbev_add_test(test_report_writers
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_report_writers.c ${REPORTS_SYNTH}
              LIBS dbev_reports m LABELS unit)
target_include_directories(test_report_writers PRIVATE ${CMAKE_CURRENT_LIST_DIR}/unit)
dbev_add_test(test_report_html_chromium
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_report_html_chromium.c
                      ${REPORTS_SYNTH}
              LIBS dbev_reports m LABELS integration TIMEOUT 240)
target_include_directories(test_report_html_chromium PRIVATE ${CMAKE_CURRENT_LIST_DIR}/unit)
