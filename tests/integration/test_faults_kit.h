/*
 * What the fault and raw step tests share: a throwaway PostgreSQL (pgenv)
 * with one database, a mock Kafka cluster (mockenv) and a runctx_t built by
 * hand around them, as cmd_run.c builds one per scenario; steps come from
 * YAML text through the scenario loader, so the tests drive exactly what a
 * scenario file would. fk_destroy() tears everything down, also when a test
 * failed half way (cmocka teardown).
 */
#ifndef TEST_FAULTS_KIT_H
#define TEST_FAULTS_KIT_H

#include "env/adapters.h"
#include "scenario/runctx.h"

typedef struct fk {
    pgenv_t *pg;
    mockenv_t *mk;
    run_opts_t opts;
    dbev_logger_t logger;
    runctx_t ctx;
    scenario_t *scenario; /* the last one loaded by fk_run */
    char log_path[256];
} fk_t;

/** Starts PostgreSQL (database "faults" with a table items(id serial, note
 *  text)) and a mock cluster with `brokers` brokers and 2 partitions per
 *  topic. Fails the test on error. */
fk_t *fk_new(int brokers);
void fk_destroy(fk_t *fk);

/** Starts count adapters in mode on the kit's topics (ctx.adapters). */
void fk_adapters(fk_t *fk, adapter_mode_t mode, int count);

/** Runs one step given as the YAML of a step mapping (e.g. "raw: {bytes: x}")
 *  and returns its result (outcome owned by res: free with fk_result_free). */
void fk_run(fk_t *fk, const char *step_yaml, step_result_t *res);
void fk_result_free(step_result_t *res);

/** Runs a step and fails the test unless its status is want. */
void fk_expect(fk_t *fk, const char *step_yaml, dbev_report_status_t want);

/** One integer from SQL on the kit's database (a fresh connection). */
long fk_query_long(fk_t *fk, const char *sql);

/** Whether a process exists (kill(pid, 0)). */
bool fk_pid_alive(pid_t pid);

#endif
