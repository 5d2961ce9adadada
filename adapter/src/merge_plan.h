/*
 * Merge planning, the decision alone: which consecutive requests of a group
 * of structured writes may be sent as ONE multi-row INSERT, and which must
 * not (merge_plan.c says why merging pays). Plain inputs, no job, no
 * connection: a pure function, unit-tested on its own
 * (tests/unit/test_merge_plan.c). plan_build() (exec_int.h) applies it to a
 * group's jobs and builds the merged statements.
 */
#ifndef ADAPTER_MERGE_PLAN_H
#define ADAPTER_MERGE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What the planner needs to know of one request of the group. */
typedef struct merge_item {
    bool plain_insert;  /* an INSERT without RETURNING: its answer is known (row_count 1) */
    size_t nstmts;      /* its statements */
    int64_t timeout_ms; /* its statement timeout */
    const char *sql;    /* its first statement's SQL (names the table and columns); NULL: none */
    int nparams;        /* that statement's parameters */
} merge_item_t;

/** How much one merged statement may carry. */
typedef struct merge_limits {
    int max_params;  /* parameters of one statement (DBEV_SQL_MAX_PARAMS) */
    size_t max_rows; /* rows of one INSERT (DBEV_SQL_MAX_BATCH_ROWS) */
} merge_limits_t;

/** One statement of the plan: the requests it carries. */
typedef struct merge_span {
    size_t first; /* its first request */
    size_t count; /* 1, or more: items[first..first+count) merged into one INSERT */
} merge_span_t;

/**
 * @brief How many requests, from items[i] on, one statement carries: 1, or
 *        more when items[i] and the ones right after it are plain INSERTs of
 *        one statement each, with the same SQL and the same timeout, up to
 *        the limits.
 * @returns at least 1 (i < n).
 */
size_t merge_span_len(const merge_item_t *items, size_t n, size_t i, const merge_limits_t *limits);

/**
 * @brief The plan of a group of n requests: its statements in order, each
 *        covering the next span of requests (merge_span_len()), so the
 *        spans cover items[0..n) in order, each request once.
 * @param spans room for n spans.
 * @returns the number of spans written.
 */
size_t merge_plan(const merge_item_t *items, size_t n, const merge_limits_t *limits,
                  merge_span_t *spans);

#endif
