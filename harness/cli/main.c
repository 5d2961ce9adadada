/*
 * dbev-harness entry point: finds the subcommand and hands it the rest of the
 * command line. Global behaviour (help, version, unknown command) is here;
 * everything else belongs to the subcommands.
 */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static const harness_cmd_t *const commands[] = {
    &harness_cmd_env, &harness_cmd_migrate, &harness_cmd_fixtures,
    &harness_cmd_run, &harness_cmd_gate,    &harness_cmd_replay,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dbev-harness COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n`dbev-harness COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dbev-harness %s\n", DBEV_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->main(argc - 1, argv + 1);
    fprintf(stderr, "dbev-harness: unknown command '%s'; run `dbev-harness --help` for the list\n",
            argv[1]);
    return 2;
}
