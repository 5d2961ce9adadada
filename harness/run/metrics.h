/*
 * The run's metrics: the figures gates judge and baselines compare (run.h
 * lists the names). Steps record into it as they go, from any thread; at the
 * end it is flattened into one JSON object of numbers.
 */
#ifndef HARNESS_METRICS_H
#define HARNESS_METRICS_H

#include "scenario/runctx.h"

#include <dbev/protocol.h>
#include <jansson.h>
#include <stdbool.h>

run_metrics_t *run_metrics_new(void);
void run_metrics_destroy(run_metrics_t *metrics);

/**
 * @brief Adds a load step's figures (res->metrics) under
 *        load.<scenario>.<step>.* and folds them into the load aggregates.
 * @param figures borrowed.
 */
void run_metrics_add_load(run_metrics_t *metrics, const char *scenario, const char *step,
                          const json_t *figures);

/**
 * @brief Adds a load step's latencies (measured from each request's intended
 *        send time) to the operation's event-path samples: a load gives the
 *        steady-state figures the few single steps of a suite cannot.
 */
void run_metrics_merge(run_metrics_t *metrics, dbev_op_t op, const dbev_hist_t *hist);

/** Adds a load step's service times (metadata.service_ms of its answers) to
 *  the operation's service.<op>.* figures. */
void run_metrics_merge_service(run_metrics_t *metrics, dbev_op_t op, const dbev_hist_t *hist);

/** An operation's name in metric names: lower case, SELECT as "query" (seed 002's call). */
void run_metrics_op_key(dbev_op_t op, char *buf, size_t size);

/** Sets a plain figure (scenario counts, memory). */
void run_metrics_set(run_metrics_t *metrics, const char *name, double value);

/** Adds value to a figure (sum) or keeps the larger of the two (!sum). Thread-safe. */
void run_metrics_fold(run_metrics_t *metrics, const char *name, double value, bool sum);

/** The flat object of every figure; a new reference. */
json_t *run_metrics_json(run_metrics_t *metrics);

#endif
