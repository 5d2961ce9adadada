# The runner driven as a user would, on small scenario files.
dbev_add_test(test_run_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_run_cli.c
              ${CMAKE_CURRENT_LIST_DIR}/integration/cli_run.c
              LIBS dbev_common LABELS integration TIMEOUT 300)
add_dependencies(test_run_cli dbev-harness)

# The scenario suite itself, on the embedded defaults, less the long loads
# (those belong to `make run` and bench/); the runner starts the adapter
# processes the kill scenarios require. In two tests, each in its own
# harness process with its own PostgreSQL server and mock cluster: the
# scenarios that must not share them (loads, faults on the server or the
# cluster, the latency probe: run_runs_alone) run one at a time in
# scenario_suite_alone; the rest, three at a time, in scenario_suite. Both
# run beside other tests (two slots each). The alone ones ran alone
# (RUN_SERIAL) until this was measured: started first, beside the heaviest
# tests, their loads' p95 was 7.1-10.5 ms (5.4-5.8 ms alone) against bounds
# of 100 ms, in two runs; ctest 102 -> 88-92 s.
add_test(NAME scenario_suite
         COMMAND dbev-harness run --skip-tag long --skip-alone -j 3 --seed 1
                 --out ${CMAKE_BINARY_DIR}/reports/ctest-suite)
set_tests_properties(scenario_suite PROPERTIES TIMEOUT 600 LABELS "integration;scenarios"
                     PROCESSORS 2)
add_test(NAME scenario_suite_alone
         COMMAND dbev-harness run --skip-tag long --only-alone --seed 1
                 --out ${CMAKE_BINARY_DIR}/reports/ctest-suite-alone)
set_tests_properties(scenario_suite_alone PROPERTIES TIMEOUT 600 LABELS "integration;scenarios"
                     PROCESSORS 2)

# Local reproduction (issue 14): replay of a recorded trace (and of a
# tampered one), a failure's bundle rerun with one command, `dbev send --raw`
# against a sandbox's adapter, and the README's recipe run word for word.
dbev_add_test(test_repro SOURCES ${CMAKE_CURRENT_LIST_DIR}/integration/test_repro.c
              ${CMAKE_CURRENT_LIST_DIR}/integration/cli_run.c
              LIBS dbev_common LABELS integration TIMEOUT 600)
add_dependencies(test_repro dbev-harness dbev_cli dbev-adapter)

# Replay round trip: a representative subset of the suite (CRUD, queries,
# transactions, validation, idempotency, the canary, an error naming the
# database, answers refused for their size) is run and each trace
# replayed on a fresh database with the same fixtures; every answer must
# match. `make replay-check` does it over the whole suite.
add_test(NAME scenario_replay_check
         COMMAND dbev-harness run --replay-check -j 2 --seed 1
                 --out ${CMAKE_BINARY_DIR}/reports/ctest-replay-check
                 ${PROJECT_SOURCE_DIR}/scenarios/crud_update_filters.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/crud_upsert.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/txn_rollback.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/bad_malformed_json.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/idem_duplicate_event.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/bad_hostile_identifiers.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/security_privileges.yaml
                 ${PROJECT_SOURCE_DIR}/scenarios/security_oversized_answers.yaml)
# Beside other tests, in one slot (its two at a time mostly wait). It ran
# alone while a replay's first request waited about a second for its
# producer's metadata; beside other tests one replay once took 37 s (6 s
# alone). The producer now learns the topic before publishing
# (dbev_kafka_warm): 4.2-4.9 s, alone or not. In two slots it started last
# (ctest finds two free slots at once only at the end) and ended alone.
set_tests_properties(scenario_replay_check PROPERTIES TIMEOUT 300 LABELS "integration;scenarios"
                     COST 5)
