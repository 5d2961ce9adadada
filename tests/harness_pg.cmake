# Throwaway PostgreSQL (harness/env/pgenv*.c): lifecycle, the root path,
# leftovers of killed runs, template databases, faults and bad input.
dbev_add_test(test_pgenv SOURCES integration/test_pgenv.c LIBS dbev_harness_core
              LABELS integration TIMEOUT 300)
