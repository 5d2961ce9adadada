/* dbev-harness fixtures: placeholder until its component lands. */
#include "commands.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    fprintf(stderr, "dbev-harness fixtures: not implemented yet\n");
    return 2;
}

const harness_cmd_t harness_cmd_fixtures = {"fixtures", "(not implemented yet)", cmd_main};
