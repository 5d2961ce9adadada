/*
 * The names of operations and circuit-breaker states as they appear on the
 * wire, and which operations may write (the adapter uses it for idempotency
 * records and READ ONLY transactions).
 */
#include <dbev/protocol.h>

#include <string.h>

static const char *const op_names[DBEV_OP__COUNT] = {
    [DBEV_OP_SELECT] = "SELECT",           [DBEV_OP_INSERT] = "INSERT",
    [DBEV_OP_UPDATE] = "UPDATE",           [DBEV_OP_DELETE] = "DELETE",
    [DBEV_OP_UPSERT] = "UPSERT",           [DBEV_OP_EXECUTE] = "EXECUTE",
    [DBEV_OP_TRANSACTION] = "TRANSACTION", [DBEV_OP_BATCH_INSERT] = "BATCH_INSERT",
    [DBEV_OP_HEALTH] = "HEALTH",
};

const char *dbev_op_name(dbev_op_t op)
{
    if ((int)op < 0 || op >= DBEV_OP__COUNT)
        return NULL;
    return op_names[op];
}

int dbev_op_parse(const char *name, dbev_op_t *op)
{
    if (!name)
        return -1;
    for (int i = 0; i < DBEV_OP__COUNT; i++) {
        if (strcmp(op_names[i], name) == 0) {
            if (op)
                *op = (dbev_op_t)i;
            return 0;
        }
    }
    return -1;
}

bool dbev_op_is_write(dbev_op_t op)
{
    return op != DBEV_OP_SELECT && op != DBEV_OP_HEALTH && (int)op >= 0 && op < DBEV_OP__COUNT;
}

const char *dbev_breaker_state_name(dbev_breaker_state_t state)
{
    switch (state) {
    case DBEV_BREAKER_CLOSED:
        return "CLOSED";
    case DBEV_BREAKER_OPEN:
        return "OPEN";
    case DBEV_BREAKER_HALF_OPEN:
        return "HALF_OPEN";
    }
    return "UNKNOWN";
}
