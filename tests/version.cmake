# The version, written once in dbev.h and read by CMake, agrees everywhere it
# shows: the library, libdbev.so, and the --version of every program.
dbev_add_test(test_version SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_version.c
              LIBS dbev ${CMAKE_DL_LIBS} LABELS unit)
target_compile_definitions(test_version PRIVATE
    DBEV_TEST_PROJECT_VERSION="${PROJECT_VERSION}"
    DBEV_TEST_SHARED_LIB="$<TARGET_FILE:dbev_shared>"
    DBEV_TEST_CLI="$<TARGET_FILE:dbev_cli>"
    DBEV_TEST_HARNESS="$<TARGET_FILE:dbev-harness>"
    DBEV_TEST_ADAPTER="$<TARGET_FILE:dbev-adapter>")
add_dependencies(test_version dbev_shared dbev_cli dbev-harness dbev-adapter)
