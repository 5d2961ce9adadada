# libdbev: resident memory with 1,000 requests in flight (seed 000: < 50 MB).
add_executable(bench_client_memory ${CMAKE_CURRENT_LIST_DIR}/bench_client_memory.c)
target_link_libraries(bench_client_memory PRIVATE dbev)
