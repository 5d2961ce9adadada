/*
 * A job split into the executor lanes' shares: partition p on lane
 * p % lanes, a small job whole on lane 0.
 */
#include "loop_int.h"

#include <stdlib.h>

/* A job this small runs whole on lane 0: split, each lane would pay a
 * transaction of its own for a few requests, and at 1,000 requests/s (jobs
 * of a few requests) those extra transactions cost so much CPU that the
 * Kafka clients fell behind: p99 went from 43 to 190-330 ms
 * (scenarios/load_throughput.yaml). */
#define LOOP_SPLIT_MIN 64

/* The lane of a job's r-th decoded request. */
static int lane_of(const loop_job_t *job, size_t r, int nlanes)
{
    return job->whole ? 0 : job->partition[r] % nlanes;
}

/* Splits the decoded requests of a job into the lanes' shares (a small job:
 * all on lane 0). -1 when out of memory. */
int job_split(loop_job_t *job, int nlanes)
{
    job->whole = job->nreq < LOOP_SPLIT_MIN;
    for (size_t r = 0; r < job->nreq; r++)
        job->share[lane_of(job, r, nlanes)].n++;
    for (int l = 0; l < nlanes; l++) {
        struct loop_share *sh = &job->share[l];
        if (!sh->n)
            continue;
        sh->reqs = calloc(sh->n, sizeof(*sh->reqs));
        sh->outs = calloc(sh->n, sizeof(*sh->outs));
        sh->index = calloc(sh->n, sizeof(*sh->index));
        if (!sh->reqs || !sh->outs || !sh->index)
            return -1;
        sh->n = 0;
    }
    for (size_t r = 0; r < job->nreq; r++) {
        struct loop_share *sh = &job->share[lane_of(job, r, nlanes)];
        sh->index[sh->n] = r;
        sh->reqs[sh->n++] = job->reqs[r];
    }
    job->shares_left = nlanes;
    return 0;
}
