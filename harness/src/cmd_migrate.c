/* dbev-harness migrate: placeholder until its component lands. */
#include "commands.h"

#include <stdio.h>

static int cmd_main(int argc, char **argv)
{
    fprintf(stderr, "dbev-harness migrate: not implemented yet\n");
    return 2;
}

const harness_cmd_t harness_cmd_migrate = {"migrate", "(not implemented yet)", cmd_main};
