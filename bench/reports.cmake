# Cost of the latency histogram: ns per record (one and two threads),
# percentile, merge, reset, memory. Usage: bench_histogram [records_millions]
add_executable(bench_histogram ${CMAKE_CURRENT_SOURCE_DIR}/bench_histogram.c)
target_link_libraries(bench_histogram PRIVATE dbev_reports Threads::Threads m)
