# Cost of the event protocol per request: decode+validate, encode, response
# build and decode. Usage: bench_protocol [iterations]
add_executable(bench_protocol ${CMAKE_CURRENT_SOURCE_DIR}/bench_protocol.c)
target_link_libraries(bench_protocol PRIVATE dbev_protocol)
