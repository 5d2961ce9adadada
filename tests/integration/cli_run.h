/*
 * Runs a dbev command as a user would, for the CLI tests: stdout and stderr
 * captured together, the exit status kept, and the child killed if it
 * outlives its deadline (a hung command fails its test instead of hanging
 * the suite).
 */
#ifndef TESTS_CLI_RUN_H
#define TESTS_CLI_RUN_H

typedef struct cli_result {
    int status; /* exit code, or 128 + signal */
    char out[65536];
} cli_result_t;

/** Runs argv (argv[0] a path) with a deadline in seconds; fails the test on setup errors. */
void cli_run(cli_result_t *r, char *const argv[], int deadline_s);

#endif
