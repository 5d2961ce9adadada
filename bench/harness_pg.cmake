# Bring-up time of the throwaway PostgreSQL, cold (initdb) and warm (cached
# template cluster). Usage: bench_pg_bringup [warm_runs] [cold_runs]
add_executable(bench_pg_bringup ${CMAKE_CURRENT_SOURCE_DIR}/bench_pg_bringup.c)
target_link_libraries(bench_pg_bringup PRIVATE dbev_harness_core)
