/*
 * How a job is split among the executor lanes (adapter/src/job_split.h,
 * job_split.c), without Kafka, threads or a database: a job under
 * LOOP_SPLIT_MIN requests runs whole on lane 0; a larger one goes by
 * partition, p on lane p % lanes; a job split unlike the one submitted
 * before it (whole after split, split after whole) is a barrier, the first
 * job and one split like the one before are not. Then job_split() on a
 * job: each lane's share holds its requests in consumption order, with
 * their places in the job.
 */
#include "job_split.h"
#include "loop_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#define NPART 12 /* partitions of the requests' topic */

/* Partitions of a job of n requests: 0, 1, ..., NPART-1, 0, 1, ... */
static int32_t *partitions(size_t n)
{
    int32_t *p = calloc(n ? n : 1, sizeof(*p));
    assert_non_null(p);
    for (size_t r = 0; r < n; r++)
        p[r] = (int32_t)(r % NPART);
    return p;
}

static void test_small_job_whole_on_lane_0(void **state)
{
    (void)state;
    size_t n = LOOP_SPLIT_MIN - 1;
    int32_t *p = partitions(n);
    for (int nlanes = 1; nlanes <= 4; nlanes++) {
        split_plan_t plan = split_plan(p, n, nlanes, true, false);
        assert_true(plan.whole);
        assert_int_equal(plan.count[0], n);
        for (int l = 1; l < LOOP_MAX_LANES; l++)
            assert_int_equal(plan.count[l], 0);
    }
    for (int32_t part = 0; part < NPART; part++)
        assert_int_equal(split_lane(true, part, 2), 0);
    /* every message undecodable: no request, nothing to split */
    split_plan_t none = split_plan(p, 0, 2, true, false);
    assert_true(none.whole);
    assert_int_equal(none.count[0], 0);
    free(p);
}

static void test_large_job_split_by_partition(void **state)
{
    (void)state;
    size_t n = LOOP_SPLIT_MIN; /* 64 requests: 6 of partitions 0-3, 5 of 4-11 */
    int32_t *p = partitions(n);
    for (int32_t part = 0; part < NPART; part++)
        for (int nlanes = 1; nlanes <= LOOP_MAX_LANES; nlanes++)
            assert_int_equal(split_lane(false, part, nlanes), part % nlanes);

    split_plan_t two = split_plan(p, n, 2, true, false);
    assert_false(two.whole);
    assert_int_equal(two.count[0], 6 + 6 + 5 + 5 + 5 + 5); /* partitions 0 2 4 6 8 10 */
    assert_int_equal(two.count[1], 6 + 6 + 5 + 5 + 5 + 5); /* 1 3 5 7 9 11 */

    split_plan_t five = split_plan(p, n, 5, true, false);
    assert_int_equal(five.count[0], 6 + 5 + 5); /* partitions 0 5 10 */
    assert_int_equal(five.count[1], 6 + 5 + 5); /* 1 6 11 */
    assert_int_equal(five.count[2], 6 + 5);     /* 2 7 */
    assert_int_equal(five.count[3], 6 + 5);     /* 3 8 */
    assert_int_equal(five.count[4], 5 + 5);     /* 4 9 */
    assert_int_equal(five.count[5], 0);

    /* more lanes than partitions: the lanes past them get nothing */
    split_plan_t sixteen = split_plan(p, n, LOOP_MAX_LANES, true, false);
    for (int l = 0; l < LOOP_MAX_LANES; l++)
        assert_int_equal(sixteen.count[l], l < 4 ? 6 : l < NPART ? 5 : 0);

    split_plan_t one = split_plan(p, n, 1, true, false);
    assert_false(one.whole);
    assert_int_equal(one.count[0], n);
    free(p);
}

/* Barriers over a run of jobs, as the loop submits them: the first job
 * never waits; a job waits for every earlier one exactly when it is split
 * unlike the job before it. */
static void test_barrier_when_the_split_changes(void **state)
{
    (void)state;
    static const size_t sizes[] = {10, 100, 100, 5, 5, 70, 63, 64, 64, 1};
    static const bool whole[] = {true, false, false, true, true, false, true, false, false, true};
    static const bool barrier[] = {false, true, false, true, false, true, true, true, false, true};
    int32_t *p = partitions(100);
    bool last_whole = false;
    for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
        split_plan_t plan = split_plan(p, sizes[j], 2, j == 0, last_whole);
        assert_int_equal(plan.whole, whole[j]);
        assert_int_equal(plan.barrier, barrier[j]);
        last_whole = plan.whole;
    }
    /* the first job, split or whole, has nothing to wait for */
    assert_false(split_plan(p, 100, 2, true, true).barrier);
    assert_false(split_plan(p, 100, 2, true, false).barrier);
    assert_false(split_plan(p, 10, 2, true, false).barrier);
    free(p);
}

/* A job of n requests as job_new() leaves it, enough for job_split(). */
static loop_job_t *make_job(size_t n, dbev_request_t *fake)
{
    loop_job_t *job = calloc(1, sizeof(*job));
    assert_non_null(job);
    job->nreq = n;
    job->reqs = calloc(n ? n : 1, sizeof(*job->reqs));
    job->partition = partitions(n);
    assert_non_null(job->reqs);
    for (size_t r = 0; r < n; r++) {
        job->reqs[r] = &fake[r];
        job->partition[r] = (int32_t)((r * 7) % NPART); /* partitions interleaved */
    }
    return job;
}

static void test_job_split_shares_keep_order(void **state)
{
    (void)state;
    static dbev_request_t fake[100];
    loop_job_t *job = make_job(100, fake);
    assert_int_equal(job_split(job, 3, false, true), 0);
    assert_false(job->whole);
    assert_true(job->barrier); /* split after a job that ran whole */
    assert_int_equal(job->shares_left, 3);
    size_t total = 0;
    for (int l = 0; l < 3; l++) {
        const struct loop_share *sh = &job->share[l];
        total += sh->n;
        for (size_t i = 0; i < sh->n; i++) {
            size_t r = sh->index[i];
            assert_ptr_equal(sh->reqs[i], job->reqs[r]);
            assert_int_equal(job->partition[r] % 3, l);
            if (i > 0)
                assert_true(sh->index[i - 1] < r); /* consumption order */
        }
    }
    assert_int_equal(total, 100);
    job_free(job);
}

static void test_job_split_small_job_on_lane_0(void **state)
{
    (void)state;
    static dbev_request_t fake[10];
    loop_job_t *job = make_job(10, fake);
    assert_int_equal(job_split(job, 2, false, true), 0);
    assert_true(job->whole);
    assert_false(job->barrier); /* whole after whole */
    assert_int_equal(job->shares_left, 2);
    assert_int_equal(job->share[0].n, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(job->share[0].index[i], i);
        assert_ptr_equal(job->share[0].reqs[i], &fake[i]);
    }
    assert_int_equal(job->share[1].n, 0);
    assert_null(job->share[1].reqs);
    job_free(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_job_whole_on_lane_0),
        cmocka_unit_test(test_large_job_split_by_partition),
        cmocka_unit_test(test_barrier_when_the_split_changes),
        cmocka_unit_test(test_job_split_shares_keep_order),
        cmocka_unit_test(test_job_split_small_job_on_lane_0),
    };
    return cmocka_run_group_tests_name("job_split", tests, NULL, NULL);
}
