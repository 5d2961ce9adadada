/*
 * What the fault and raw steps (step_fault.c, step_raw.c) share: reading
 * their parameters from a step body and naming the scenario's topics.
 * Internal to the harness.
 */
#ifndef HARNESS_FAULTS_INT_H
#define HARNESS_FAULTS_INT_H

#include "scenario/runctx.h"

#include <stddef.h>
#include <stdint.h>

/**
 * @brief The full name of a topic given as a short name (requests, completed,
 *        failed, registry, heartbeat: the scenario's own, under
 *        ctx->topic_env) or as a full name (returned as it is).
 * @returns buf.
 */
const char *faults_topic_name(const runctx_t *ctx, const char *name, char *buf, size_t size);

/** The scenario's topic prefix: ctx->topic_env, else the mock cluster's. */
const char *faults_topic_env(const runctx_t *ctx);

/**
 * @brief Reads integer parameter key of body (absent: def).
 * @returns 0, or -1 with errstr when present but not a whole number in [lo, hi].
 */
int faults_param_int(const json_t *body, const char *key, int64_t def, int64_t lo, int64_t hi,
                     int64_t *out, char *errstr, size_t size);

/** adapters_destroy()'s safety net: faults_revert() for the runctx whose
 *  adapters a are, if its runner has not reverted its faults yet. */
void faults_revert_adapters(const adapters_t *a);

#endif
