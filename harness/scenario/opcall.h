/*
 * opcall: one scenario operation through the client's public API, and its
 * answer as an outcome (see expect.h). The body of an operation step is the
 * wire payload without operation_type (docs/protocol.md), so a scenario
 * author writes exactly what travels; this module picks the matching
 * libdbev call, in blocking or asynchronous form.
 */
#ifndef HARNESS_OPCALL_H
#define HARNESS_OPCALL_H

#include <dbev/dbev.h>
#include <dbev/protocol.h>
#include <jansson.h>

/**
 * @brief Turns a client answer into an outcome object; takes ownership of
 *        result and error (one of them is non-NULL) and frees them.
 * @returns a new reference: {"ok":true,"rows":[...],"row_count":N,
 *          "metadata":{...},"results":[...],"correlation_id":"...",
 *          "execution_time_ms":x} or {"ok":false,"error_code":"...",
 *          "sqlstate":...,"message":"...","metadata":{...}}.
 */
json_t *opcall_outcome(dbev_result_t *result, dbev_error_t *error);

/**
 * @brief Runs op with body through client, blocking.
 * @param body the payload fields (borrowed); for SELECT/EXECUTE a string is
 *        taken as the SQL.
 * @returns the outcome (new reference). Arguments the client refuses at once
 *          come back as an outcome with their error code too, so a scenario can
 *          expect them.
 */
json_t *opcall_run(dbev_client_t *client, dbev_op_t op, const json_t *body,
                   const dbev_call_opts_t *opts);

/**
 * @brief Starts op asynchronously; cb runs in dbev_client_poll().
 * @returns DBEV_ERR_NO_ERROR when accepted; otherwise the code, *errorp set,
 *          and cb never runs.
 */
dbev_err_t opcall_start(dbev_client_t *client, dbev_op_t op, const json_t *body,
                        const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                        dbev_error_t **errorp);

#endif
