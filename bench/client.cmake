# libdbev: resident memory with 1,000 requests in flight (seed 000: < 50 MB).
add_executable(bench_client_memory ${CMAKE_CURRENT_LIST_DIR}/bench_client_memory.c)
target_link_libraries(bench_client_memory PRIVATE dbev)
# dbev-harness gate measures client.rss_mb with this program: build it with the harness.
add_dependencies(dbev-harness bench_client_memory)
# libdbev's registry view: discovery time and lookup latency (seed 001: < 100 ms).
add_executable(bench_registry ${CMAKE_CURRENT_LIST_DIR}/bench_registry.c)
target_link_libraries(bench_registry PRIVATE dbev PkgConfig::RDKAFKA)
