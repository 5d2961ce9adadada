/*
 * A job split into the executor lanes' shares: partition p on lane
 * p % lanes, a small job whole on lane 0, and a job split unlike the one
 * before it marked a barrier. The decision is split_plan(), a pure function
 * (job_split.h); job_split() applies it to a job.
 */
#include "job_split.h"
#include "loop_int.h"

#include <stdlib.h>

int split_lane(bool whole, int32_t partition, int nlanes)
{
    return whole ? 0 : partition % nlanes;
}

split_plan_t split_plan(const int32_t *partition, size_t nreq, int nlanes, bool first,
                        bool last_whole)
{
    split_plan_t plan = {.whole = nreq < LOOP_SPLIT_MIN};
    plan.barrier = !first && plan.whole != last_whole;
    for (size_t r = 0; r < nreq; r++)
        plan.count[split_lane(plan.whole, partition[r], nlanes)]++;
    return plan;
}

/* The lane of a job's r-th decoded request. */
static int lane_of(const loop_job_t *job, size_t r, int nlanes)
{
    return split_lane(job->whole, job->partition[r], nlanes);
}

/* Splits the decoded requests of a job into the lanes' shares (a small job:
 * all on lane 0) as split_plan() says, which also says whether it is a
 * barrier. -1 when out of memory. */
int job_split(loop_job_t *job, int nlanes, bool first, bool last_whole)
{
    split_plan_t plan = split_plan(job->partition, job->nreq, nlanes, first, last_whole);
    job->whole = plan.whole;
    job->barrier = plan.barrier;
    for (int l = 0; l < nlanes; l++) {
        struct loop_share *sh = &job->share[l];
        sh->n = plan.count[l];
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
