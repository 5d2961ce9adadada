# Migrations and their runner (harness/migrate/migrate*.c, fixtures.c, util/util.c):
# the unit part needs no server; the integration part runs one throwaway
# PostgreSQL (pgenv) with one database per test.
dbev_add_test(test_migrate_set SOURCES unit/test_migrate_set.c LIBS dbev_harness_core
              LABELS unit)
dbev_add_test(test_migrate SOURCES integration/test_migrate.c LIBS dbev_harness_core
              LABELS integration TIMEOUT 120)
add_dependencies(test_migrate dbev-harness) # test_command_line runs the binary
