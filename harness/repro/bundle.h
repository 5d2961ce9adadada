/*
 * bundle: what a failed scenario leaves in the run folder so that anyone,
 * on another machine, can reproduce it with one command
 * (`dbev-harness run --from-bundle DIR`). DIR is <out>/bundle-sN/:
 *   bundle.json    seed, the run's options, the exact rerun command, the
 *                  scenario's origin, fixtures, the mock cluster's settings,
 *                  PostgreSQL's version
 *   scenario.yaml  the scenario file as it ran
 *   trace.jsonl    every event it exchanged (trace.h), for `replay`
 *   adapter.log    the adapters' logs (--adapter process)
 *   dump.sql       pg_dump of the scenario's database at the failure
 *   README.txt     these lines, and the commands
 */
#ifndef HARNESS_BUNDLE_H
#define HARNESS_BUNDLE_H

#include "run/run.h"

#include <jansson.h>
#include <stddef.h>

/**
 * @brief Writes ctx's bundle into dir (created). trace_path and log_path
 *        may name files that do not exist (then they are left out).
 * @returns 0, or -1 with errstr (what was written stays).
 */
int bundle_write(const char *dir, const runctx_t *ctx, const run_env_opts_t *env, const char *rerun,
                 const char *trace_path, const char *log_path, char *errstr, size_t size);

/**
 * @brief Reads DIR/bundle.json into run and env (options, seed) and the
 *        scenario's path (DIR/scenario.yaml) into scenario (size bytes).
 *        The strings env points to live in *owned: json_decref() it after
 *        the run.
 * @returns 0, or -1 with errstr.
 */
int bundle_read(const char *dir, run_opts_t *run, run_env_opts_t *env, char *scenario,
                size_t scenario_size, json_t **owned, char *errstr, size_t size);

#endif
