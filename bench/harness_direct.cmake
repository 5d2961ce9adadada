# Parity mode's own cost: parity_compare() on 10..10000 rows, and direct_run()
# per operation beside bare libpq on a throwaway PostgreSQL.
# Usage: bench_parity [operations]
add_executable(bench_parity ${CMAKE_CURRENT_SOURCE_DIR}/bench_parity.c)
target_link_libraries(bench_parity PRIVATE dbev_harness_core)
