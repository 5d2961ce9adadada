# Tests of libdbev and the dbev CLI (issue 5).
foreach(t conf backoff breaker corrtab)
    dbev_add_test(test_client_${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_client_${t}.c
                  LIBS dbev_client_internal LABELS unit)
endforeach()

# Against a fake responder thread on a librdkafka mock cluster.
dbev_add_test(test_client_fake SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_fake.c
              LIBS dbev LABELS integration TIMEOUT 180)

# Against the real adapter (embedded), a throwaway PostgreSQL and the mock
# cluster, set up with the adapter tests' kit.
dbev_add_test(test_client_adapter
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_client_adapter.c
                      ${CMAKE_CURRENT_LIST_DIR}/integration/test_adapter_kit.c
              LIBS dbev dbev_adapter_core dbev_harness_core LABELS integration TIMEOUT 300)
add_dependencies(test_client_adapter dbev_cli)
# test_client_fake also runs the CLI.
add_dependencies(test_client_fake dbev_cli)

# libdbev.so exports exactly the functions its public headers declare
# DBEV_API: those of dbev.h and the error functions of errors.h.
file(WRITE ${CMAKE_BINARY_DIR}/client_exports_check.cmake [=[
set(want "")
foreach(header ${DBEV_HEADER} ${ERRORS_HEADER})
    file(READ ${header} text)
    string(REGEX REPLACE "[\r\n]+" " " text "${text}")
    string(REGEX MATCHALL "DBEV_API [^(;]*[ *](dbev_[a-z0-9_]+)\\(" decls "${text}")
    if(NOT decls)
        message(FATAL_ERROR "${header}: no DBEV_API function found")
    endif()
    foreach(d ${decls})
        string(REGEX MATCH "dbev_[a-z0-9_]+\\($" name "${d}")
        string(REPLACE "(" "" name "${name}")
        list(APPEND want ${name})
    endforeach()
endforeach()
execute_process(COMMAND nm -D --defined-only ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc)
    message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REGEX MATCHALL " [TDBRW] [A-Za-z_][A-Za-z0-9_]*" syms "${out}")
set(have "")
foreach(s ${syms})
    string(REGEX REPLACE "^ [TDBRW] " "" s "${s}")
    list(APPEND have ${s})
endforeach()
list(SORT want)
list(SORT have)
if(NOT want STREQUAL have)
    message(FATAL_ERROR "exported symbols differ from the public API\nwant: ${want}\nhave: ${have}")
endif()
list(LENGTH have n)
message(STATUS "libdbev.so exports the ${n} functions of its public API")
]=])
add_test(NAME test_client_exports
         COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:dbev_shared>
                 -DDBEV_HEADER=${PROJECT_SOURCE_DIR}/client/include/dbev/dbev.h
                 -DERRORS_HEADER=${PROJECT_SOURCE_DIR}/protocol/include/dbev/errors.h
                 -P ${CMAKE_BINARY_DIR}/client_exports_check.cmake)
set_tests_properties(test_client_exports PROPERTIES LABELS unit)
