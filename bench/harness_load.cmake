# The load step end to end (throwaway PostgreSQL, mock Kafka, embedded adapter,
# libdbev) at issue 6's throughput target, or a stress climb to the knee.
# Usage: bench_load [rate [duration_s]] | bench_load stress [p99_ms [max_s]]
add_executable(bench_load ${CMAKE_CURRENT_SOURCE_DIR}/bench_load.c
                          ${CMAKE_CURRENT_SOURCE_DIR}/cpu_split.c)
target_link_libraries(bench_load PRIVATE dbev_harness_core dbev dbev_adapter_core)
