/*
 * The direct path: one scenario operation run straight on PostgreSQL with
 * libpq, the way the services of seed 000 do today with asyncpg, answered as
 * an outcome (expect.h) so that it is judged, and compared with the event
 * path (parity.h), by the same code as opcall's answers.
 *
 * Both paths must mean the same thing by a request, so the direct path
 * reuses the adapter's pieces instead of its own: structured operations are
 * validated by the protocol's decoder and turned into SQL by the builder the
 * adapter's executor uses, and result values become JSON through its type
 * mapping under the same session settings its pool sets (all three in
 * sql/include/dbev/sql_build.h). What differs, differs on purpose, because
 * asyncpg did it that way (docs/parity.md lists it):
 *   - SELECT is not run READ ONLY (conn.fetch() never was);
 *   - SELECT/EXECUTE SQL is not screened: BEGIN, COMMIT, SET ... run as they
 *     did over asyncpg (the event path refuses them with VALIDATION_ERROR);
 *   - EXECUTE without parameters uses the simple query protocol, like
 *     asyncpg's conn.execute(), so several statements separated by ';' run
 *     (the event path takes exactly one statement);
 *   - no default statement timeout and no default row cap: options.timeout_ms
 *     and options.max_rows apply only when the request gives them;
 *   - HEALTH is `SELECT 1`: there is no pool or breaker to report on.
 *
 * Thread safety: a PGconn serves one thread at a time, so one call at a time
 * per connection. A connection found broken is reset (PQreset) before the
 * next operation, as a pool hands out a fresh connection.
 */
#ifndef HARNESS_DIRECT_H
#define HARNESS_DIRECT_H

#include <dbev/protocol.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/** Options of a direct call; all zero means "as the body says". */
typedef struct direct_opts {
    /* statement timeout (ms) when the body's options.timeout_ms is absent; 0: none */
    int64_t timeout_ms;
} direct_opts_t;

/**
 * @brief Runs one operation on conn and returns its outcome.
 * @param body the wire payload's fields without operation_type (borrowed);
 *        for SELECT and EXECUTE a JSON string is taken as the SQL; for HEALTH
 *        it may be NULL.
 * @returns a new reference: {"ok":true,"operation_type":"...","rows":[...],
 *          "row_count":N,"metadata":{...},"execution_time_ms":x} (TRANSACTION
 *          adds "results"), or {"ok":false,"operation_type":"...",
 *          "error_code":"...","sqlstate":"..."|null,"message":"...",
 *          "retriable":b,"metadata":{...}}. Requests the protocol refuses and
 *          database failures are outcomes, not errors: NULL (with errstr)
 *          only when the harness itself failed (out of memory).
 */
json_t *direct_run(PGconn *conn, dbev_op_t op, const json_t *body, char *errstr, size_t size);

/** direct_run() with options (opts may be NULL). */
json_t *direct_run_opts(PGconn *conn, dbev_op_t op, const json_t *body, const direct_opts_t *opts,
                        char *errstr, size_t size);

#endif
