/*
 * A group: consecutive structured writes of a batch run in ONE transaction,
 * two round trips (exec.c, top). When a statement fails or an answer is too
 * large, the group is rolled back and split around that request; when the
 * record INSERT conflicts, the group's event ids are looked up and those
 * another delivery committed are answered from their records. Which
 * statements the group sends (plain INSERTs merged): merge_plan.c.
 */
#include "exec_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Runs jobs [0, n) as one transaction (or, after a failure, as the pieces
 * the split makes). Returns 0 when every job is answered, -1 when the
 * connection failed: jobs answered so far keep their answers (a piece that
 * committed), the others are left for the caller's retry on a fresh
 * connection, where the dedupe lookup finds any whose commit went through.
 */
static int try_group(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n);

static int run_group_split(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n, long f)
{
    /* Before the failing job, the failing job alone, the rest: order kept. */
    if (f > 0 && try_group(ex, pc, jobs, (size_t)f) < 0)
        return -1;
    if (try_single(ex, pc, &jobs[f]) < 0)
        return -1;
    if ((size_t)f + 1 < n && try_group(ex, pc, jobs + f + 1, n - (size_t)f - 1) < 0)
        return -1;
    return 0;
}

/* Answers from their committed records the jobs of a group that have one
 * (already processed: a redelivery, or a duplicate committed meanwhile).
 * Returns how many were answered, -1 when the connection failed. */
static int answer_recorded(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n,
                           int64_t deadline)
{
    const char **ids = calloc(n, sizeof(*ids));
    const char **fps = calloc(n, sizeof(*fps));
    if (!ids || !fps) {
        free(ids);
        free(fps);
        return 0; /* out of memory: nothing answered; the record INSERT still guards */
    }
    size_t nids = 0;
    for (size_t i = 0; i < n; i++)
        if (dedupes(ex, &jobs[i])) {
            fps[nids] = jobs[i].fp;
            ids[nids++] = jobs[i].req->event_id;
        }
    int answered = 0;
    if (nids > 0) {
        bool cf;
        char err[512];
        json_t *found = dedupe_lookup(pc->conn, ids, fps, nids, deadline, &cf, err, sizeof(err));
        if (!found && cf)
            answered = -1;
        /* answers in the order asked: the k-th job that dedupes is the k-th */
        for (size_t i = 0, k = 0; found && i < n; i++) {
            if (!dedupes(ex, &jobs[i]))
                continue;
            json_t *stored = json_array_get(found, k++);
            if (dedupe_is_recorded(stored)) {
                answer_cached(ex, &jobs[i], stored);
                answered++;
            }
        }
        json_decref(found);
    }
    free(ids);
    free(fps);
    return answered;
}

/*
 * The five parameters of DEDUPE_RECORD_MANY_SQL for the jobs of a group that
 * dedupe: text[] literals of event ids, correlation ids, operations and
 * fingerprints, and
 * ONE JSON array of the responses, each dumped straight into it (null for a
 * plain INSERT that answered its one row: dedupe_lookup rebuilds that
 * answer). A jsonb[] literal would quote every response again. Returns 1
 * when built, 0 when no job dedupes, -1 when out of memory.
 */
#define RECORD_NPARAMS 5
static int record_texts(const adapter_exec_t *ex, const job_t *jobs, json_t *const *payloads,
                        size_t n, char *texts[RECORD_NPARAMS])
{
    const char **cols[4] = {calloc(n, sizeof(char *)), calloc(n, sizeof(char *)),
                            calloc(n, sizeof(char *)), calloc(n, sizeof(char *))};
    const json_t **responses = calloc(n, sizeof(*responses));
    bool oom = !cols[0] || !cols[1] || !cols[2] || !cols[3] || !responses;
    size_t k = 0;
    for (size_t i = 0; i < n && !oom; i++) {
        if (!dedupes(ex, &jobs[i]))
            continue;
        const dbev_request_t *req = jobs[i].req;
        cols[0][k] = req->event_id;
        cols[1][k] = req->correlation_id;
        cols[2][k] = dbev_op_name(req->op.type);
        cols[3][k] = jobs[i].fp;
        bool plain = predictable(&jobs[i]) && row_count_is_one(payloads[i]);
        responses[k++] = plain ? NULL : payloads[i];
    }
    for (int c = 0; c < RECORD_NPARAMS; c++) {
        texts[c] = NULL;
        if (!oom && k) {
            bool failed;
            texts[c] = c < 4 ? dbev_sql_text_array(cols[c], k, &failed)
                             : dbev_sql_json_array(responses, k, &failed);
            oom = failed;
        }
    }
    for (int c = 0; c < 4; c++)
        free(cols[c]);
    free(responses);
    if (oom || !k) {
        for (int c = 0; c < RECORD_NPARAMS; c++) {
            free(texts[c]);
            texts[c] = NULL;
        }
        return oom ? -1 : 0;
    }
    return 1;
}

static int try_group_ex(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n, bool merge);

static int try_group(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n)
{
    return try_group_ex(ex, pc, jobs, n, true);
}

static int try_group_ex(adapter_exec_t *ex, pool_conn_t *pc, job_t *jobs, size_t n, bool merge)
{
    size_t pending = 0;
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].out->payload)
            pending++;
    if (pending < n) {
        /* Some are answered (refused, cached, or before a retry): run the
         * rest, compacted into a temporary array (job_t is small). */
        if (pending == 0)
            return 0;
        job_t *rest = calloc(pending, sizeof(*rest));
        if (!rest)
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!jobs[i].out->payload)
                rest[k++] = jobs[i];
        int rc = try_group_ex(ex, pc, rest, pending, merge);
        free(rest);
        return rc;
    }
    if (n == 1)
        return try_single(ex, pc, jobs);
    int64_t max_timeout = 0;
    for (size_t i = 0; i < n; i++)
        max_timeout += jobs[i].timeout_ms;
    int64_t deadline = io_deadline(max_timeout);
    /* No lookup of processed events first: redeliveries are rare, and the
     * record INSERT's primary key is what decides anyway. A redelivered
     * event fails the group, at the record or earlier at a unique key of its
     * own write, and the failure paths below look the group up before
     * anything else. */
    plan_t pl;
    if (plan_build(jobs, n, merge, &pl))
        return -1;
    step_t st = {.begin = true, .jobs = pl.send, .njobs = pl.nsend};
    step_result_t sr;
    int rc = run_step(ex, pc, &st, deadline, &sr);
    if (rc < 0) {
        step_result_clear(&sr);
        plan_free(&pl);
        return -1;
    }
    if (rc > 0) {
        long f = sr.fail_job;
        bool merged_failed = f >= 0 && pl.count[f] > 1;
        if (f >= 0)
            f = (long)pl.first[f];
        step_result_clear(&sr);
        plan_free(&pl);
        if (merged_failed)
            return try_group_ex(ex, pc, jobs, n, false);
        /* A redelivered write (its row exists: a unique violation) is answered
         * from its record; the rest runs again, so this ends. */
        int answered = answer_recorded(ex, pc, jobs, n, deadline);
        if (answered < 0)
            return -1;
        if (answered > 0)
            return try_group_ex(ex, pc, jobs, n, merge);
        if (f < 0) {
            /* BEGIN or a SET failed (or memory ran out): each alone sorts it out. */
            for (size_t i = 0; i < n; i++)
                if (try_single(ex, pc, &jobs[i]) < 0)
                    return -1;
            return 0;
        }
        return run_group_split(ex, pc, jobs, n, f);
    }
    /* A merged INSERT that did not insert one row per job (a trigger that
     * skips rows, say): nobody knows whose row is missing, so run unmerged. */
    for (size_t s = 0, base = 0; s < pl.nsend; s++) {
        if (pl.count[s] > 1 &&
            strtoll(PQcmdTuples(sr.res[base]), NULL, 10) != (long long)pl.count[s]) {
            step_result_clear(&sr);
            plan_free(&pl);
            if (rollback(pc, deadline))
                return -1;
            return try_group_ex(ex, pc, jobs, n, false);
        }
        base += pl.count[s] > 1 ? 1 : pl.send[s].nq;
    }
    /* Every statement succeeded: build the answers. */
    json_t **payloads = calloc(n, sizeof(*payloads));
    if (!payloads) {
        step_result_clear(&sr);
        plan_free(&pl);
        rollback(pc, deadline);
        return -1; /* out of memory: nothing committed; handled as a failed connection */
    }
    size_t base = 0;
    long too_big = -1; /* the first job whose answer is over response.max.bytes */
    size_t too_big_size = 0;
    for (size_t s = 0; s < pl.nsend; s++) {
        size_t i = pl.first[s];
        if (pl.count[s] > 1) {
            /* Merged plain INSERTs: one row each, as predicted. */
            for (size_t k = 0; k < pl.count[s]; k++)
                payloads[i + k] = dbev_completed_payload_new(
                    DBEV_OP_INSERT, json_array(), 1, elapsed_ms(&jobs[i + k]),
                    breaker_state(ex->breaker), false, false, NULL);
            base += 1;
            continue;
        }
        size_t bound, size;
        payloads[i] = job_payload(ex, &jobs[i], sr.res + base, sr.tuples + base, &bound);
        if (too_big < 0 &&
            too_large(ex, payloads[i], bound, sr.overflow + base, jobs[i].nq, &size)) {
            too_big = (long)i;
            too_big_size = size;
        }
        base += jobs[i].nq;
    }
    step_result_clear(&sr);
    plan_free(&pl);
    if (too_big >= 0) {
        /* Roll back and split around it, as around a failing statement: it
         * is answered (nothing of it written), its neighbours run again. */
        for (size_t i = 0; i < n; i++)
            json_decref(payloads[i]);
        free(payloads);
        if (rollback(pc, deadline))
            return -1;
        answer_too_large(ex, &jobs[too_big], too_big_size);
        return run_group_split(ex, pc, jobs, n, too_big);
    }
    /* Record every event id with its answer in one statement, then commit. */
    char *record[RECORD_NPARAMS] = {NULL};
    int any_record = record_texts(ex, jobs, payloads, n, record);
    if (any_record < 0) {
        /* Committing unrecorded writes would let a redelivery apply them twice. */
        for (size_t i = 0; i < n; i++)
            json_decref(payloads[i]);
        free(payloads);
        if (rollback(pc, deadline))
            return -1;
        for (size_t i = 0; i < n; i++)
            if (try_single(ex, pc, &jobs[i]) < 0)
                return -1;
        return 0;
    }
    step_t commit = {.claim_sql = any_record ? DEDUPE_RECORD_MANY_SQL : NULL,
                     .claim_nparams = RECORD_NPARAMS,
                     .claim_values = (const char *const *)record,
                     .commit = true};
    rc = run_step(ex, pc, &commit, deadline, &sr);
    for (int k = 0; k < RECORD_NPARAMS; k++)
        free(record[k]);
    step_result_clear(&sr);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            answer_ok(ex, &jobs[i], payloads[i]);
        free(payloads);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        json_decref(payloads[i]);
    free(payloads);
    if (rc < 0)
        return -1;
    /* The record conflicted (the same event in flight elsewhere, or twice in
     * this group) or COMMIT was refused (a deferred constraint): all of it is
     * rolled back. When another delivery committed some of these events
     * meanwhile (a redelivery during a rebalance), those are answered from
     * their records and the rest runs again as a group. Otherwise each
     * alone sorts it out. Every rerun follows at least one answer from a
     * record, so this ends. */
    int answered = answer_recorded(ex, pc, jobs, n, deadline);
    if (answered < 0)
        return -1;
    if (answered > 0)
        return try_group_ex(ex, pc, jobs, n, merge);
    for (size_t i = 0; i < n; i++)
        if (try_single(ex, pc, &jobs[i]) < 0)
            return -1;
    return 0;
}

void run_group(adapter_exec_t *ex, job_t *jobs, size_t n)
{
    if (n == 0)
        return;
    for (int attempt = 0; attempt < 2; attempt++) {
        pool_conn_t *pc = attempt == 0 ? get_conn(ex) : get_fresh_conn(ex);
        if (!pc)
            break;
        bool reused = pc->reused;
        pc->used = true;
        if (try_group(ex, pc, jobs, n) == 0)
            return;
        conn_lost(ex, PQerrorMessage(pc->conn));
        if (!reused)
            break;
    }
    /* Connection failed: whatever is unanswered fails, one breaker count each. */
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].out->payload)
            continue;
        dberr_t e;
        err_conn(&e, ex->conn_err[0] ? ex->conn_err : "cannot reach PostgreSQL");
        answer_fail(ex, &jobs[i], &e, NULL);
    }
}
