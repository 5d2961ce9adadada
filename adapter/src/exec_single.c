/*
 * A request alone in its own transaction (SELECT, EXECUTE, TRANSACTION, and
 * a structured write split out of a group): a write is looked up in the
 * dedupe records first and claims its event id after BEGIN; anything but a
 * SELECT has its answer measured before COMMIT; a lost deadlock runs it
 * once more; a connection that fails is replaced once by a fresh one.
 * Also what decides whether a job's record holds its response
 * (predictable, dedupes), shared with groups.
 */
#include "exec_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- running requests ---------------------------------------------------- */

/*
 * Whether a job's answer is known before it runs: a plain INSERT (no
 * RETURNING) that succeeds always answers row_count 1 and no rows. Its
 * record holds no response document (NULL, see dedupe.h): alone, its claim
 * is its record; in a group, its row of the record INSERT stays small. That
 * is the throughput case.
 */
bool predictable(const job_t *job)
{
    return job->req->op.type == DBEV_OP_INSERT && !job->req->op.returning;
}

/* A predictable job's record holds no response only when it did answer one
 * row (a trigger may have skipped it: then the real answer is stored). */
bool row_count_is_one(const json_t *payload)
{
    return json_integer_value(json_object_get(payload, "row_count")) == 1;
}

bool has_event_id(const job_t *job)
{
    return job->req->event_id && job->req->event_id[0];
}

/* Whether this job's event id and response are recorded (dedupe.h). */
bool dedupes(const adapter_exec_t *ex, const job_t *job)
{
    return ex->table_ready && has_event_id(job) && dbev_op_is_write(job->req->op.type);
}

/* A failure that rolled the whole transaction back for reasons of timing
 * (deadlock victim, serialization failure): running it again is safe. */
static bool retriable_sqlstate(const char *sqlstate)
{
    return dbev_sql_sqlstate_class(sqlstate, false) == DBEV_SQL_FAULT_TRANSIENT;
}

/*
 * Runs one job in its own transaction. Returns 0 when answered, -1 when the
 * connection failed before an answer could be had (the caller may retry),
 * 2 when it lost a deadlock or a serialization conflict and nothing of it
 * committed (unanswered; the caller runs it again).
 */
static int try_single_once(adapter_exec_t *ex, pool_conn_t *pc, job_t *job, bool last_try)
{
    const dbev_operation_t *op = &job->req->op;
    bool write = dbev_op_is_write(op->type) && has_event_id(job) && ex->table_ready;
    int64_t deadline = io_deadline(job->timeout_ms);
    if (job->out->payload)
        return 0; /* answered before a retry */
    char err[512];
    const char *ids[] = {job->req->event_id};
    const char *fps[] = {job->fp};
    if (write) {
        bool cf;
        json_t *found = dedupe_lookup(pc->conn, ids, fps, 1, deadline, &cf, err, sizeof(err));
        if (!found && cf)
            return -1;
        json_t *stored = json_array_get(found, 0);
        if (dedupe_is_recorded(stored)) {
            answer_cached(ex, job, stored);
            json_decref(found);
            return 0;
        }
        json_decref(found);
    }
    const char *claim[4] = {job->req->event_id, job->req->correlation_id, dbev_op_name(op->type),
                            job->fp};
    step_t st = {.begin = true,
                 .read_only = op->type == DBEV_OP_SELECT,
                 .claim_sql = write ? DEDUPE_CLAIM_SQL : NULL,
                 .claim_nparams = 4,
                 .claim_values = claim,
                 .jobs = job,
                 .njobs = 1,
                 /* Only a SELECT commits at once: anything else may write, so
                  * its answer is measured before COMMIT (too_large()). */
                 .commit = op->type == DBEV_OP_SELECT && !write};
    step_result_t sr;
    int rc = run_step(ex, pc, &st, deadline, &sr);
    if (rc < 0) {
        step_result_clear(&sr);
        return -1;
    }
    if (rc > 0) {
        if (sr.fail_claim && strcmp(sr.err.sqlstate, "23505") == 0) {
            /* The same event is being (or was just) processed elsewhere. */
            step_result_clear(&sr);
            bool cf;
            json_t *found = dedupe_lookup(pc->conn, ids, fps, 1, deadline, &cf, err, sizeof(err));
            if (!found && cf)
                return -1;
            json_t *stored = json_array_get(found, 0);
            if (dedupe_is_recorded(stored)) {
                answer_cached(ex, job, stored);
            } else {
                dberr_t e;
                err_set(&e, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", "23505",
                        "event being processed concurrently, try again: ", job->req->event_id);
                answer_fail(ex, job, &e, NULL);
            }
            json_decref(found);
            return 0;
        }
        if (!last_try && retriable_sqlstate(sr.err.sqlstate)) {
            step_result_clear(&sr);
            return 2;
        }
        json_t *meta = NULL;
        if (op->type == DBEV_OP_TRANSACTION && sr.fail_job == 0) {
            size_t k = 0;
            while (k + 1 < op->n_ops && job->op_first[k + 1] <= sr.fail_stmt)
                k++;
            meta = json_object();
            json_object_set_new(meta, "failed_operation_index", json_integer((json_int_t)k));
        }
        answer_fail(ex, job, &sr.err, meta);
        step_result_clear(&sr);
        return 0;
    }
    size_t bound, size;
    json_t *payload = job_payload(ex, job, sr.res, sr.tuples, &bound);
    bool oversized = too_large(ex, payload, bound, sr.overflow, job->nq, &size);
    step_result_clear(&sr);
    if (oversized) {
        /* Never applied without being answered: roll back, answer that. */
        json_decref(payload);
        if (rollback(pc, deadline))
            return -1;
        answer_too_large(ex, job, size);
        return 0;
    }
    if (!st.commit) {
        char *text = !write || (predictable(job) && row_count_is_one(payload))
                         ? NULL
                         : json_dumps(payload, JSON_COMPACT);
        step_t commit = {.store_ids = ids,
                         .store_fps = fps,
                         .store_texts = &text,
                         .nstore = text ? 1 : 0,
                         .commit = true};
        rc = run_step(ex, pc, &commit, deadline, &sr);
        free(text);
        step_result_clear(&sr);
        if (rc < 0) {
            /* The commit may or may not have happened; the retry's lookup will tell. */
            json_decref(payload);
            return -1;
        }
        if (rc > 0) {
            json_decref(payload);
            if (!last_try && retriable_sqlstate(sr.err.sqlstate))
                return 2;
            answer_fail(ex, job, &sr.err, NULL);
            return 0;
        }
    }
    answer_ok(ex, job, payload);
    return 0;
}

/*
 * try_single_once, again when it lost a deadlock. A group records its event
 * ids after its statements while a single request claims first, so a single
 * redelivery and a group holding the same event can wait on each other's
 * rows; PostgreSQL aborts one of them. When the single one loses, its run
 * again starts with the lookup and finds the group's committed record
 * (answered from it) or runs anew (nothing of the first try committed).
 */
int try_single(adapter_exec_t *ex, pool_conn_t *pc, job_t *job)
{
    int rc = try_single_once(ex, pc, job, false);
    return rc == 2 ? try_single_once(ex, pc, job, true) : rc;
}

void run_single(adapter_exec_t *ex, job_t *job)
{
    bool caller_sql = runs_caller_sql(&job->req->op);
    for (int attempt = 0; attempt < 2; attempt++) {
        pool_conn_t *pc = caller_sql     ? get_clean_conn(ex, attempt > 0)
                          : attempt == 0 ? get_conn(ex)
                                         : get_fresh_conn(ex);
        if (!pc)
            break;
        bool reused = pc->reused;
        pc->used = true;
        pc->dirty = pc->dirty || caller_sql;
        if (try_single(ex, pc, job) == 0) {
            if (caller_sql)
                reset_session(ex);
            return;
        }
        conn_lost(ex, PQerrorMessage(pc->conn));
        if (!reused)
            break;
    }
    dberr_t e;
    err_conn(&e, ex->conn_err[0] ? ex->conn_err : "cannot reach PostgreSQL");
    answer_fail(ex, job, &e, NULL);
}
