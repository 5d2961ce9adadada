/*
 * Names, descriptions and classification of dbev's error codes: the five wire
 * codes of seed 002 (spelled exactly as on the wire) and the client's local
 * codes. One table drives err2name, err2str, from_name and the retriable
 * classification, so they cannot disagree.
 */
#include <dbev/errors.h>

#include <stddef.h>
#include <string.h>

typedef struct err_desc {
    dbev_err_t err;
    const char *name;
    const char *desc;
    bool retriable;
} err_desc_t;

/*
 * Retriable: a later attempt may succeed without changing the request.
 * CIRCUIT_BREAKER_OPEN is deliberately not retriable: the breaker refuses
 * until its recovery timeout passes (60 s by default), so retrying at once
 * only adds load; a caller waits for the breaker (or uses a fallback) instead.
 */
static const err_desc_t err_table[] = {
    {DBEV_ERR__TIMEOUT, "_TIMEOUT", "no response within the request timeout", true},
    {DBEV_ERR__TRANSPORT, "_TRANSPORT", "Kafka produce or consume failed", true},
    {DBEV_ERR__CANCELLED, "_CANCELLED", "request cancelled: the client was destroyed", false},
    {DBEV_ERR__INVALID_ARG, "_INVALID_ARG", "invalid argument", false},
    {DBEV_ERR__BAD_RESPONSE, "_BAD_RESPONSE", "a response event could not be decoded", false},
    {DBEV_ERR__UNHEALTHY, "_UNHEALTHY",
     "the adapter answered its health check with a status other than HEALTHY", false},
    {DBEV_ERR_NO_ERROR, "NO_ERROR", "success", false},
    {DBEV_ERR_DATABASE_CONNECTION_FAILED, "DATABASE_CONNECTION_FAILED",
     "PostgreSQL connection failed", true},
    {DBEV_ERR_DATABASE_OPERATION_FAILED, "DATABASE_OPERATION_FAILED", "query execution failed",
     false},
    {DBEV_ERR_VALIDATION_ERROR, "VALIDATION_ERROR", "input validation failed", false},
    {DBEV_ERR_TIMEOUT_ERROR, "TIMEOUT_ERROR", "query exceeded timeout", true},
    {DBEV_ERR_CIRCUIT_BREAKER_OPEN, "CIRCUIT_BREAKER_OPEN", "circuit breaker is open", false},
};

#define ERR_COUNT (sizeof(err_table) / sizeof(err_table[0]))

static const err_desc_t *err_find(dbev_err_t err)
{
    for (size_t i = 0; i < ERR_COUNT; i++)
        if (err_table[i].err == err)
            return &err_table[i];
    return NULL;
}

const char *dbev_err2name(dbev_err_t err)
{
    const err_desc_t *d = err_find(err);
    return d ? d->name : "_UNKNOWN";
}

const char *dbev_err2str(dbev_err_t err)
{
    const err_desc_t *d = err_find(err);
    return d ? d->desc : "unknown error code";
}

int dbev_err_from_name(const char *name, dbev_err_t *err)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < ERR_COUNT; i++) {
        if (dbev_err_is_wire(err_table[i].err) && strcmp(err_table[i].name, name) == 0) {
            if (err)
                *err = err_table[i].err;
            return 0;
        }
    }
    return -1;
}

bool dbev_err_is_retriable(dbev_err_t err)
{
    const err_desc_t *d = err_find(err);
    return d ? d->retriable : false;
}

bool dbev_err_is_wire(dbev_err_t err)
{
    return err >= DBEV_ERR_DATABASE_CONNECTION_FAILED && err <= DBEV_ERR_CIRCUIT_BREAKER_OPEN;
}
