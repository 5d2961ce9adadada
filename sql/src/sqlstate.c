/*
 * Whose fault a failed statement was, by SQLSTATE: the caller's (the
 * request is wrong, and sending it again or backing off from the server
 * would not help), or the database's (the connection or the server is
 * failing, which is what the circuit breaker is for). A caller must never
 * be able to open the breaker for everyone else with requests of its own
 * making, so a code belongs to the database only when no request can cause
 * it on a healthy server, or when the server is short of something every
 * caller needs (memory, disk). docs/protocol.md, "Which failures count
 * toward the circuit breaker", is this table in prose.
 *
 * Rows are matched by the longest prefix: a code's own row, else its class
 * (the first two characters). A class not in the table is the caller's: the
 * server answered and the session lives on, and a failing server is still
 * seen by the breaker through the connection failures it causes.
 */
#include "sql_int.h"

#include <string.h>

typedef struct fault_row {
    const char *prefix;
    dbev_sql_fault_t fault;
} fault_row_t;

static const fault_row_t rows[] = {
    /* Codes of their own. */
    {"57014", DBEV_SQL_FAULT_TIMEOUT},   /* query_canceled: the request's statement_timeout
                                            (an administrator's cancel too: not a failure) */
    {"40001", DBEV_SQL_FAULT_TRANSIENT}, /* serialization_failure */
    {"40P01", DBEV_SQL_FAULT_TRANSIENT}, /* deadlock_detected */
    {"53400", DBEV_SQL_FAULT_CALLER},    /* configuration_limit_exceeded: temp_file_limit
                                            and the like, reached by the request's size */
    {"58P01", DBEV_SQL_FAULT_CALLER},    /* undefined_file: a file the request named */
    {"58P02", DBEV_SQL_FAULT_CALLER},    /* duplicate_file: likewise */
    /* Classes. */
    {"08", DBEV_SQL_FAULT_CALLER},     /* connection_exception: answered as an ERROR with the
                                          session alive, it is about a message of the request
                                          (08P01: Bind with the wrong number of values) or a
                                          connection the request opened (dblink, postgres_fdw);
                                          when our session ended, session_ended decides */
    {"53", DBEV_SQL_FAULT_SERVER},     /* insufficient_resources: disk full, out of memory,
                                          too many connections */
    {"57", DBEV_SQL_FAULT_CONNECTION}, /* operator_intervention: admin/crash shutdown,
                                          cannot connect now, database dropped, idle
                                          session timeout: the session is over */
    {"58", DBEV_SQL_FAULT_SERVER},     /* system_error: I/O errors of the server */
    {"XX", DBEV_SQL_FAULT_SERVER},     /* internal_error, data_corrupted, index_corrupted */
    {"F0", DBEV_SQL_FAULT_SERVER},     /* config_file_error */
    /* The caller's classes, named so the table reads whole: 0A feature not
     * supported, 0B invalid transaction initiation, 0L/0P invalid grantor/role,
     * 20 case not found, 21 cardinality, 22 data exception, 23 integrity
     * constraint, 24 cursor state, 25 invalid transaction state (25006 a write
     * in a READ ONLY SELECT), 26 statement name, 27 triggered data change,
     * 28 authorization (SET ROLE...), 2B/2D/2F, 34 cursor name, 38/39
     * external routine, 3B savepoint, 3D/3F catalog/schema name, 40 (other
     * than the races above: 40002 integrity at commit), 42 syntax error or
     * access rule violation (permission denied), 44 WITH CHECK OPTION, 54
     * program limit exceeded, 55 object not in prerequisite state (55P03 lock
     * not available: the request's NOWAIT or lock_timeout), HV foreign data
     * wrapper, P0 PL/pgSQL RAISE, 72 snapshot too old. */
    {"0A", DBEV_SQL_FAULT_CALLER},
    {"22", DBEV_SQL_FAULT_CALLER},
    {"23", DBEV_SQL_FAULT_CALLER},
    {"25", DBEV_SQL_FAULT_CALLER},
    {"40", DBEV_SQL_FAULT_CALLER},
    {"42", DBEV_SQL_FAULT_CALLER},
    {"55", DBEV_SQL_FAULT_CALLER},
    {"P0", DBEV_SQL_FAULT_CALLER},
};

dbev_sql_fault_t dbev_sql_sqlstate_class(const char *sqlstate, bool session_ended)
{
    if (session_ended)
        return DBEV_SQL_FAULT_CONNECTION;
    if (!sqlstate || strlen(sqlstate) != 5)
        return DBEV_SQL_FAULT_CALLER; /* libpq's own, on a live connection */
    const fault_row_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t n = strlen(rows[i].prefix);
        if (n > best_len && strncmp(sqlstate, rows[i].prefix, n) == 0) {
            best = &rows[i];
            best_len = n;
        }
    }
    return best ? best->fault : DBEV_SQL_FAULT_CALLER;
}

const char *dbev_sql_fault_name(dbev_sql_fault_t fault)
{
    switch (fault) {
    case DBEV_SQL_FAULT_CALLER:
        return "CALLER";
    case DBEV_SQL_FAULT_TIMEOUT:
        return "TIMEOUT";
    case DBEV_SQL_FAULT_TRANSIENT:
        return "TRANSIENT";
    case DBEV_SQL_FAULT_CONNECTION:
        return "CONNECTION";
    case DBEV_SQL_FAULT_SERVER:
        return "SERVER";
    }
    return "UNKNOWN";
}

bool dbev_sql_fault_counts(dbev_sql_fault_t fault)
{
    return fault == DBEV_SQL_FAULT_CONNECTION || fault == DBEV_SQL_FAULT_SERVER;
}
