/*
 * Scenario guards: what watches a scenario's steps from outside them -- the
 * canary (canary.h), the database fingerprint (fingerprint.h) and
 * teardown_sql -- and the run's hostile-request figures. The runner calls
 * guards_begin() once the scenario's environment is up and before its first
 * step, and guards_end() after its last step, pass or fail; the guards'
 * verdicts become report steps of their own ("canary", "fingerprint") and
 * can fail a scenario whose steps all passed.
 *
 * Figures added to the run's metrics (run.h):
 *   security.hostile_declared  steps marked hostile: true in the scenarios run
 *   security.hostile_sent      of those, the ones that ran
 *   security.hostile_answered  the ones that got an answer (the adapter's, or
 *                              the client's refusal before sending)
 *   security.hostile_expected  the ones whose answer was the one expected
 *   canary.scenarios, canary.sent, canary.failures (failed, slow, answered
 *   twice or unanswered), canary.max_ms, adapters.down (instances not
 *   running when a canary ended)
 */
#ifndef HARNESS_GUARD_H
#define HARNESS_GUARD_H

#include "guard/canary.h"
#include "scenario/runctx.h"

#include <stdio.h>

typedef struct guards {
    canary_t *canary;
    json_t *fingerprint; /* before the first step, or NULL */
    char problem[512];   /* guards_begin: why a guard could not start */
} guards_t;

/**
 * @brief Creates the canary's table, takes the fingerprint and starts the
 *        canary, as the scenario asks.
 * @returns 0, or -1 with errstr (the scenario is then an ERROR; call
 *          guards_end() all the same).
 */
int guards_begin(runctx_t *ctx, guards_t *g, char *errstr, size_t size);

/**
 * @brief Stops the canary, compares the fingerprint, runs teardown_sql,
 *        adds the report steps and scenario properties, prints their lines.
 * @param status the steps' verdict; returned, or FAIL/ERROR when a guard saw
 *        a problem and the steps had passed (reason then says which).
 */
dbev_report_status_t guards_end(runctx_t *ctx, guards_t *g, FILE *out, dbev_report_status_t status,
                                char *reason, size_t reason_size);

/** Counts a step marked hostile: true in the run's figures, after it ran. */
void guards_count_hostile(runctx_t *ctx, const step_t *step, const step_result_t *res);

/** The run's hostile-request summary line from its metrics, or "" when no
 *  scenario declared a hostile request. */
void guards_summary(const json_t *metrics, char *buf, size_t size);

#endif
