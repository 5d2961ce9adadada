# Throughput of the adapter's database side (single-row INSERT requests
# through adapter_exec_batch) beside direct libpq, on a throwaway PostgreSQL.
# Usage: bench_exec [requests] [batch]
add_executable(bench_exec ${CMAKE_CURRENT_SOURCE_DIR}/bench_exec.c)
target_link_libraries(bench_exec PRIVATE dbev_adapter_internal dbev_adb_pgenv)
