/*
 * The command-line options `run` and `gate` share (how scenarios run and
 * where), parsed once: both commands put RUN_CLI_LONGOPTS in their getopt
 * table and hand every option they do not own to run_cli_option(). And the
 * start of a run both make once their scenarios are selected
 * (scenario_select()): run_cli_out_dir(), then run_cli_run().
 */
#ifndef HARNESS_RUN_CLI_H
#define HARNESS_RUN_CLI_H

#include "run/run.h"

#include <getopt.h>
#include <stddef.h>

#define RUN_CLI_LONGOPTS                                                                           \
    {"seed", required_argument, NULL, 's'}, {"mode", required_argument, NULL, 'm'},                \
        {"adapter", required_argument, NULL, 'a'}, {"adapters", required_argument, NULL, 'A'},     \
        {"breaker-recovery-ms", required_argument, NULL, 'r'},                                     \
        {"fail-fast", no_argument, NULL, 'f'}, {"keep", no_argument, NULL, 'K'},                   \
        {"timings", no_argument, NULL, 0x101}, {"out", required_argument, NULL, 'o'},              \
        {"pg-bin", required_argument, NULL, 'b'}, {"pg-dsn", required_argument, NULL, 'd'},        \
        {"kafka-bootstrap", required_argument, NULL, 'k'},                                         \
        {"brokers", required_argument, NULL, 'n'},                                                 \
    {                                                                                              \
        "partitions", required_argument, NULL, 'p'                                                 \
    }

/** The short options of the shared set, for getopt_long's optstring. */
#define RUN_CLI_SHORTOPTS "j:"

/** --breaker-recovery-ms when not given: short, so breaker scenarios recover quickly. */
#define RUN_CLI_BREAKER_RECOVERY_MS 2000

/** Defaults of the shared options (seed from the clock, one adapter, ...). */
void run_cli_defaults(run_opts_t *run, run_env_opts_t *env);

/** Prints "dbev-harness CMD: message; see `dbev-harness CMD --help`"; returns 2. Every
 *  subcommand reports its usage errors with it. */
int run_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Parses a whole number in [lo, hi]; 0, or 2 after printing a usage error. */
int run_cli_number(const char *cmd, const char *opt, const char *text, long long lo, long long hi,
                   long long *out);

/**
 * @brief Handles one option of the shared set.
 * @returns 1 handled, 0 not a shared option, 2 usage error (printed).
 */
int run_cli_option(const char *cmd, int c, const char *arg, run_opts_t *run, run_env_opts_t *env,
                   char *out_dir, size_t out_size);

/**
 * @brief The last case of a command's getopt loop: an option of the shared
 *        set (run_cli_option()), else a usage error for a missing value
 *        (getopt's ':') or an unknown option.
 * @returns 0 handled, 2 usage error (printed).
 */
int run_cli_other(const char *cmd, int c, char **argv, run_opts_t *run, run_env_opts_t *env,
                  char *out_dir, size_t out_size);

/** Checks the shared options together; 0, or 2 after printing a usage error. */
int run_cli_check(const char *cmd, const run_opts_t *run, const run_env_opts_t *env);

/**
 * @brief Renders the command that reruns a scenario with the options of
 *        this run: every option that changes what runs or where (mode,
 *        adapter, --adapters, --breaker-recovery-ms, --pg-bin, --pg-dsn,
 *        --kafka-bootstrap, --brokers, --partitions), values quoted for a
 *        POSIX shell. `run` and `gate` both print it, so it lives once here;
 *        a new option that changes a run belongs in it too. The scenario
 *        path, --seed and --keep are appended by the runner.
 */
void run_cli_rerun_prefix(const run_opts_t *run, const run_env_opts_t *env, char *buf, size_t size);

/**
 * @brief The reports folder of a run: out_dir as given (--out), else
 *        <build>/reports/<label><UTC time>-<pid>; created, and set in run
 *        with the progress line (a terminal, outside CI).
 * @returns 0, or -1 after printing "dbev-harness CMD: cannot create --out ...".
 */
int run_cli_out_dir(const char *cmd, const char *label, run_opts_t *run, char *out_dir,
                    size_t size);

/**
 * @brief run_scenarios() with the rerun command of this run's options
 *        (run_cli_rerun_prefix()) for its failures, for a command that
 *        exits right after (env->exiting: the mock cluster is left to the
 *        exit).
 * @returns what run_scenarios() (or judge) returns.
 */
int run_cli_run(const run_opts_t *run, run_env_opts_t *env, scenario_t *const *scenarios, size_t n,
                run_judge_fn judge, void *opaque);

#endif
