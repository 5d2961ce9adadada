# End-to-end throughput of the adapter: single-row INSERT requests through
# the mock Kafka cluster, the embedded adapter and a throwaway PostgreSQL,
# with the direct-libpq figures beside it (issue 4's target: 20,000/s).
# Usage: bench_adapter [requests] [batch.max] [partitions] [window]
add_executable(bench_adapter ${CMAKE_CURRENT_SOURCE_DIR}/bench_adapter.c
                             ${CMAKE_CURRENT_SOURCE_DIR}/cpu_split.c)
target_link_libraries(bench_adapter PRIVATE dbev_adapter_core dbev_harness_core)
