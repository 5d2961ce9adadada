/*
 * The subcommands of dbev-harness. Each lives in its own cmd_<name>.c and is
 * listed once in main.c's table; a subcommand parses its own options and
 * returns the process exit code (0 ok, 1 failed check, 2 usage or harness
 * error unless the command documents otherwise).
 */
#ifndef HARNESS_COMMANDS_H
#define HARNESS_COMMANDS_H

typedef struct harness_cmd {
    const char *name;
    const char *summary;                /* one line for `dbev-harness --help` */
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand name */
} harness_cmd_t;

extern const harness_cmd_t harness_cmd_env;
extern const harness_cmd_t harness_cmd_migrate;
extern const harness_cmd_t harness_cmd_fixtures;
extern const harness_cmd_t harness_cmd_run;
extern const harness_cmd_t harness_cmd_gate;
extern const harness_cmd_t harness_cmd_replay;

#endif
