# The event protocol (protocol/src): seed 002's examples, round trips of every
# operation, malformed requests refused with precise messages, responses,
# error codes, and a deterministic mutation fuzz loop over the decoders.
dbev_add_test(test_protocol SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_protocol.c
              LIBS dbev_protocol LABELS unit)
dbev_add_test(test_protocol_malformed
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_protocol_malformed.c
              LIBS dbev_protocol LABELS unit)
dbev_add_test(test_protocol_fuzz SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_protocol_fuzz.c
              LIBS dbev_protocol LABELS unit)
# The request decoder's fast JSON path must build what jansson builds, or give up.
dbev_add_test(test_json_fast SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_json_fast.c
              LIBS dbev_protocol_internal LABELS unit)
