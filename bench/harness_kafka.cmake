# Warm bring-up of the test environment (Kafka mock cluster + throwaway
# PostgreSQL), the figure behind "well under one second" in issue 2.
# Usage: bench_env_bringup [runs]
add_executable(bench_env_bringup ${CMAKE_CURRENT_SOURCE_DIR}/bench_env_bringup.c)
target_link_libraries(bench_env_bringup PRIVATE dbev_harness_core)
# The transport floor (two-hop echo, no adapter) of the mock cluster under a
# consumer fetch profile, with the process's CPU: the figures behind
# harness/env/kprofile.c. Usage: bench_transport [--broker] [-X k=v]... [trips [rate]]
add_executable(bench_transport ${CMAKE_CURRENT_SOURCE_DIR}/bench_transport.c)
target_link_libraries(bench_transport PRIVATE dbev_harness_core)
