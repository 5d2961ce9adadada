/*
 * The run: brings the environment up once (throwaway PostgreSQL or
 * --pg-dsn, mock cluster or --kafka-bootstrap), runs the selected scenarios
 * (each on its own database and topics, with its own adapter(s) and client),
 * prints one line per step, and writes the reports.
 */
#ifndef HARNESS_RUN_H
#define HARNESS_RUN_H

#include "runctx.h"
#include "scenario.h"

#include <stddef.h>

/** Where the environment comes from (the command line's --pg-* and --kafka-* options). */
typedef struct run_env_opts {
    const char *pg_bin;
    const char *pg_dsn;
    const char *kafka_bootstrap;
    int brokers;
    int partitions;
    int jobs;                 /* scenarios at once (-j) */
    const char *rerun_prefix; /* how to rerun one scenario: argv[0] and the env options */
} run_env_opts_t;

/**
 * @brief Runs scenarios and writes the reports into opts->out_dir.
 * @returns 0 when every scenario passed or was skipped, 1 when any failed,
 *          2 when the harness could not run them (environment, reports).
 */
int run_scenarios(const run_opts_t *opts, const run_env_opts_t *env_opts,
                  scenario_t *const *scenarios, size_t n);

#endif
