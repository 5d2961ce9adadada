/*
 * Parity (differential) comparison: the outcome of one operation on the event
 * path (client, Kafka, adapter) against its outcome on the direct path
 * (libpq, as the services do today), each run on its own twin database.
 * docs/parity.md is the reference; in short, compared are:
 *   - the class of the answer: success or failure, and for failures the
 *     error_code (VALIDATION_ERROR and the client's local _INVALID_ARG are one
 *     class: both mean "refused before execution") and the SQLSTATE;
 *   - for successes, row_count and the rows: as a multiset unless the query
 *     orders them at top level, each value by meaning: numbers by value
 *     (1 == 1.0, numeric text "0.950" == 0.95), timestamps as instants
 *     ("2025-10-30 12:00:00+02" == "2025-10-30T10:00:00Z"), JSON objects
 *     whatever their key order; for TRANSACTION also each operation's
 *     results (rows as multisets);
 * and ignored: messages, execution_time_ms, metadata, correlation ids, and
 * the columns a step names volatile (parity: {ignore_columns: [id]}).
 * A HEALTH outcome (operation_type "HEALTH" on either side) is compared by
 * class only: the adapter reports its pool, the direct path has none.
 */
#ifndef HARNESS_PARITY_H
#define HARNESS_PARITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/**
 * @brief Compares an event-path outcome with a direct-path outcome.
 * @param ordered compare rows in order (the SQL has a top-level ORDER BY,
 *        see dbev_sql_is_ordered() in <dbev/sql.h>); otherwise as multisets.
 * @returns 0 when they agree; -1 with diff naming the first difference and
 *          showing both sides ("event: ...; direct: ...").
 */
int parity_compare(const json_t *event_outcome, const json_t *direct_outcome, bool ordered,
                   char *diff, size_t size);

/**
 * @brief parity_compare() leaving out the columns a step marks volatile.
 * @param ignore_columns a JSON array of column names (borrowed), or NULL.
 */
int parity_compare_step(const json_t *event_outcome, const json_t *direct_outcome, bool ordered,
                        const json_t *ignore_columns, char *diff, size_t size);

/**
 * @brief Checks a step's `parity:` mapping ({ignore_columns: [names]}).
 * @returns 0, or -1 with errstr naming the problem (for the scenario loader).
 */
int parity_step_check(const json_t *parity, char *errstr, size_t size);

#endif
