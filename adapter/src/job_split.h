/*
 * How a job (one consumed batch) is split among the executor lanes, the
 * decision alone: which lane runs each request, and whether the job is a
 * barrier. Plain inputs, no job, no threads: a pure function, unit-tested
 * on its own (tests/unit/test_job_split.c). job_split() (loop_int.h)
 * applies it to a job's shares; loop.c (top) says why the lanes keep each
 * partition's order.
 */
#ifndef ADAPTER_JOB_SPLIT_H
#define ADAPTER_JOB_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most executor lanes (exec.lanes). */
#define LOOP_MAX_LANES 16
/* A job this small runs whole on lane 0: split, each lane would pay a
 * transaction of its own for a few requests, and at 1,000 requests/s (jobs
 * of a few requests) those extra transactions cost so much CPU that the
 * Kafka clients fell behind: p99 went from 43 to 190-330 ms
 * (scenarios/load_throughput.yaml). */
#define LOOP_SPLIT_MIN 64

/** How a job goes to the lanes. */
typedef struct split_plan {
    bool whole;                   /* fewer than LOOP_SPLIT_MIN requests: every one on lane 0 */
    bool barrier;                 /* split unlike the job submitted before it: no lane may start it
                                     before every earlier job is done, or a partition's requests
                                     could pass each other between lanes */
    size_t count[LOOP_MAX_LANES]; /* requests per lane */
} split_plan_t;

/**
 * @brief Plans how a job of nreq decoded requests goes to nlanes lanes
 *        (1..LOOP_MAX_LANES): a small job whole on lane 0, any other the
 *        request of partition p on lane p % nlanes (split_lane()).
 * @param partition  each request's partition, in consumption order
 * @param first      true when no job was submitted before this one
 * @param last_whole whether the job submitted just before it ran whole
 */
split_plan_t split_plan(const int32_t *partition, size_t nreq, int nlanes, bool first,
                        bool last_whole);

/** The lane of a request on partition p, in a job that runs whole or not. */
int split_lane(bool whole, int32_t partition, int nlanes);

#endif
