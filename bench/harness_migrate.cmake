# Migration timings against seed 003's targets (up < 5 s, step < 2 s, down
# < 3 s), fixtures, verify, template prepare vs clone. Usage: bench_migrate [runs]
add_executable(bench_migrate ${CMAKE_CURRENT_SOURCE_DIR}/bench_migrate.c)
target_link_libraries(bench_migrate PRIVATE dbev_harness_core)
