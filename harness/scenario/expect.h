/*
 * Expectations of a scenario step, judged against an outcome. Both are JSON,
 * so the event path (client) and the direct path (libpq) are judged by the
 * same code once each has turned its answer into an outcome:
 *   {"ok": true,  "rows": [...], "row_count": N, "metadata": {...}}
 *   {"ok": false, "error_code": "VALIDATION_ERROR", "sqlstate": "23505",
 *    "message": "..."}
 * Expectation keys (all optional):
 *   rows           the rows, in any order; each expected row names the columns
 *                  it checks (unnamed columns are not compared)
 *   rows_ordered   the same, in this order
 *   rows_include   rows that must be among the result (a subset)
 *   row_count      the row_count the operation reported
 *   error_code     the failure expected (a wire or local code name)
 *   sqlstate       the SQLSTATE of the failure
 *   error_contains text the error message must contain
 *   error_type     the failed answer's error_type (e.g. EventIdReused); only
 *                  raw: steps see it (the client does not expose it)
 *   metadata       fields the response metadata must have (a subset)
 * Without error_code the step expects success.
 */
#ifndef HARNESS_EXPECT_H
#define HARNESS_EXPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** Keys expectation_check() understands; anything else in an expectation is refused. */
bool expectation_key_known(const char *key);

/**
 * @brief Judges outcome against expectation.
 * @returns 0 when every expectation holds; -1 with a message in diff that
 *          names the first expectation that failed and shows expected and
 *          actual values.
 */
int expectation_check(const json_t *expectation, const json_t *outcome, char *diff, size_t size);

/** Whether two JSON values are equal the way scenarios mean it (1 == 1.0). */
bool expectation_values_equal(const json_t *expected, const json_t *actual);

#endif
