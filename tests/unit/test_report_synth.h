/*
 * A synthetic run report shared by the report writer tests and the headless
 * Chromium check: every part of the model filled, with a failing step, a
 * skipped scenario, a load with a latency stall, breaker transitions, a
 * verdict, and names full of characters that need escaping.
 */
#ifndef TEST_REPORT_SYNTH_H
#define TEST_REPORT_SYNTH_H

#include "dbev/report.h"

/* The hostile strings the writers must escape. */
#define SYNTH_NASTY_STEP   "check <&\"'> row"
#define SYNTH_NASTY_ACTUAL "error DB_ERROR <&\"'> | `x`"
#define SYNTH_LOAD_COUNT   30000

/* Builds the report; free with dbev_report_destroy. Aborts when out of memory.
 * *load_hist (may be NULL) receives a copy of the load's histogram, freed by
 * the caller with dbev_hist_destroy. */
dbev_report_t *synth_report(dbev_hist_t **load_hist);

/* Deterministic 64-bit generator (xorshift64*), and a lognormal draw. */
uint64_t synth_rand(uint64_t *state);
double synth_lognormal(uint64_t *state, double median, double sigma);

#endif
