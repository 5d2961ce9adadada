/*
 * The pipelined step engine: run_step() sends what one step_t holds (BEGIN,
 * SET LOCAL statement_timeout where it changes, a claim or a record INSERT,
 * the jobs' statements, prepared where their shape repeats, records,
 * COMMIT) in one pipeline, one round trip, and reads every result back in
 * order into a step_result_t: which statement failed and why, each
 * statement's rows (at most its row_limit, and not past what could still
 * make an answer) and row count. A step that fails rolls its transaction
 * back, or says the connection failed (status -1: not to be used further).
 */
#include "exec_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pipelined transactions ---------------------------------------------- */

/* Ends whatever transaction the connection is in. -1 when it is still in one
 * afterwards (the connection failed): the caller must not use it further. */
int rollback(pool_conn_t *pc, int64_t deadline)
{
    if (PQtransactionStatus(pc->conn) == PQTRANS_IDLE)
        return 0;
    char err[512];
    PQclear(pool_exec(pc->conn, "ROLLBACK", 0, NULL, deadline, err, sizeof(err)));
    return PQtransactionStatus(pc->conn) == PQTRANS_IDLE ? 0 : -1;
}

void step_result_clear(step_result_t *sr)
{
    for (size_t i = 0; i < sr->nres; i++)
        PQclear(sr->res[i]);
    free(sr->res);
    free(sr->tuples);
    free(sr->overflow);
    sr->res = NULL;
    sr->tuples = NULL;
    sr->overflow = NULL;
    sr->nres = 0;
}

/* Kinds of things sent, to read their results back in order. */
enum { SENT_BEGIN, SENT_SET, SENT_CLAIM, SENT_STMT, SENT_STORE, SENT_COMMIT };

typedef struct sent {
    int kind;
    long job;
    size_t stmt;
    size_t res_index;
} sent_t;

static bool send_stmt(pool_conn_t *pc, const dbev_sql_query_t *q)
{
    const char *name = pool_stmt_lookup(pc, q->sql);
    if (name)
        return PQsendQueryPrepared(pc->conn, name, q->nparams, (const char *const *)q->values, NULL,
                                   NULL, 0);
    return PQsendQueryParams(pc->conn, q->sql, q->nparams, NULL, (const char *const *)q->values,
                             NULL, NULL, 0);
}

int run_step(adapter_exec_t *ex, pool_conn_t *pc, const step_t *st, int64_t deadline,
             step_result_t *sr)
{
    char err[512];
    size_t total = 0, nsent = 0;
    memset(sr, 0, sizeof(*sr));
    sr->fail_job = -1;
    for (size_t j = 0; j < st->njobs; j++)
        total += st->jobs[j].nq;
    sent_t *sent = calloc(total * 2 + st->nstore + 8, sizeof(*sent));
    sr->res = calloc(total + 1, sizeof(PGresult *));
    sr->tuples = calloc(total + 1, sizeof(*sr->tuples));
    sr->overflow = calloc(total + 1, sizeof(*sr->overflow));
    if (!sent || !sr->res || !sr->tuples || !sr->overflow) {
        free(sent);
        err_set(&sr->err, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", NULL, "",
                "out of memory");
        /* a commit step finds its transaction open: nothing of it may commit later */
        sr->status = rollback(pc, deadline) ? -1 : 1;
        return sr->status;
    }
    sr->nres = total;

    /* Prepared statements for shapes that repeat (single-row writes mostly). */
    if (total > 1) {
        const char **sqls = calloc(total, sizeof(*sqls));
        size_t n = 0;
        for (size_t j = 0; sqls && j < st->njobs; j++)
            for (size_t k = 0; k < st->jobs[j].nq; k++)
                if (st->jobs[j].qs[k].nrows <= 1)
                    sqls[n++] = st->jobs[j].qs[k].sql;
        if (sqls && n > 0 && pool_stmt_prepare(pc, sqls, n, deadline, err, sizeof(err))) {
            free(sqls);
            free(sent);
            err_conn(&sr->err, err);
            sr->status = -1;
            return -1;
        }
        free(sqls);
    }

    if (!PQenterPipelineMode(pc->conn))
        goto send_failed;
    if (st->begin) {
        if (!PQsendQueryParams(pc->conn, st->read_only ? "BEGIN TRANSACTION READ ONLY" : "BEGIN", 0,
                               NULL, NULL, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_BEGIN};
    }
    /* Statement timeouts: SET LOCAL whenever the next job's differs (0: the
     * server's default). A single write's is set before its claim, which
     * may wait on a concurrent duplicate. */
    int64_t current_timeout = 0;
    if (st->begin && st->claim_sql && st->njobs > 0 && st->jobs[0].timeout_ms > 0) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %" PRId64,
                 st->jobs[0].timeout_ms);
        if (!PQsendQueryParams(pc->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_SET};
        current_timeout = st->jobs[0].timeout_ms;
    }
    if (st->claim_sql) {
        if (!PQsendQueryParams(pc->conn, st->claim_sql, st->claim_nparams, NULL, st->claim_values,
                               NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_CLAIM};
    }
    size_t ri = 0;
    for (size_t j = 0; j < st->njobs; j++) {
        job_t *job = &st->jobs[j];
        int64_t want = job->timeout_ms > 0 ? job->timeout_ms : 0;
        if (want != current_timeout && st->begin) {
            char sql[64];
            if (want > 0)
                snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %" PRId64, want);
            else
                snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout TO DEFAULT");
            if (!PQsendQueryParams(pc->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
                goto send_failed;
            sent[nsent++] = (sent_t){.kind = SENT_SET};
            current_timeout = want;
        }
        for (size_t k = 0; k < job->nq; k++) {
            if (!send_stmt(pc, &job->qs[k]))
                goto send_failed;
            sent[nsent++] =
                (sent_t){.kind = SENT_STMT, .job = (long)j, .stmt = k, .res_index = ri++};
        }
    }
    for (size_t k = 0; k < st->nstore; k++) {
        const char *values[3] = {st->store_ids[k], st->store_fps[k], st->store_texts[k]};
        if (!PQsendQueryParams(pc->conn, DEDUPE_STORE_SQL, 3, NULL, values, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_STORE};
    }
    if (st->commit) {
        if (!PQsendQueryParams(pc->conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
            goto send_failed;
        sent[nsent++] = (sent_t){.kind = SENT_COMMIT};
    }
    if (!PQpipelineSync(pc->conn))
        goto send_failed;

    for (size_t i = 0; i < nsent; i++) {
        PGresult *res, *last = NULL, *acc = NULL;
        /* Rows come one by one and at most the statement's row_limit are
         * kept, so a huge result never sits in memory (max_rows is enforced
         * here, for every operation that returns rows). */
        const job_t *sj = sent[i].kind == SENT_STMT ? &st->jobs[sent[i].job] : NULL;
        int row_limit = sj && sj->row_limit ? sj->row_limit[sent[i].stmt] : 0;
        bool single = row_limit > 0 && PQsetSingleRowMode(pc->conn);
        int kept = 0;
        /* Nor do its bytes, past what could still make an answer. */
        size_t held = 0, held_max = ex->conf.response_max_bytes > 0
                                        ? (size_t)ex->conf.response_max_bytes * HELD_BYTES_FACTOR
                                        : SIZE_MAX;
        bool overflow = false;
        for (;;) {
            if (pool_get_result(pc->conn, deadline, &res, err, sizeof(err))) {
                PQclear(last);
                PQclear(acc);
                goto io_failed;
            }
            if (!res)
                break;
            if (single && PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
                if (!acc)
                    acc = PQcopyResult(res, PG_COPYRES_ATTRS);
                size_t bytes = 0;
                for (int c = 0; c < PQnfields(res); c++)
                    bytes += (size_t)PQgetlength(res, 0, c);
                if (held + bytes > held_max)
                    overflow = true;
                if (acc && kept < row_limit && !overflow) {
                    for (int c = 0; c < PQnfields(res); c++)
                        PQsetvalue(acc, kept, c, PQgetvalue(res, 0, c),
                                   PQgetisnull(res, 0, c) ? -1 : PQgetlength(res, 0, c));
                    kept++;
                    held += bytes;
                }
                PQclear(res);
                continue;
            }
            PQclear(last);
            last = res;
        }
        if (sent[i].kind == SENT_STMT && last) {
            sr->tuples[sent[i].res_index] = strtoll(PQcmdTuples(last), NULL, 10);
            sr->overflow[sent[i].res_index] = overflow;
        }
        if (acc && last && PQresultStatus(last) == PGRES_TUPLES_OK) {
            PQclear(last);
            last = acc;
        } else {
            PQclear(acc);
        }
        ExecStatusType s = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
        bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
        if (!ok && s != PGRES_PIPELINE_ABORTED && sr->status == 0) {
            err_from_result(pc->conn, last, &sr->err);
            sr->status = sr->err.conn ? -1 : 1;
            if (sent[i].kind == SENT_STMT) {
                sr->fail_job = sent[i].job;
                sr->fail_stmt = sent[i].stmt;
                const char *state = PQresultErrorField(last, PG_DIAG_SQLSTATE);
                if (state && strcmp(state, "0A000") == 0)
                    pc->reset_stmts = true; /* cached plan must not change result type */
                if (state && strncmp(state, "42", 2) == 0)
                    json_object_clear(ex->coltypes); /* the schema may have changed */
            }
            if (sent[i].kind == SENT_CLAIM)
                sr->fail_claim = true;
        }
        if (sent[i].kind == SENT_STMT && ok) {
            sr->res[sent[i].res_index] = last;
            last = NULL;
        }
        PQclear(last);
        if (sr->status < 0 && PQstatus(pc->conn) != CONNECTION_OK)
            goto io_failed_noerr;
    }
    {
        PGresult *res;
        if (pool_get_result(pc->conn, deadline, &res, err, sizeof(err)))
            goto io_failed;
        bool synced = res && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (!synced) {
            snprintf(err, sizeof(err), "pipeline out of step");
            goto io_failed;
        }
    }
    PQexitPipelineMode(pc->conn);
    free(sent);
    if (sr->status != 0 && rollback(pc, deadline)) {
        err_conn(&sr->err, PQerrorMessage(pc->conn));
        sr->status = -1;
    }
    return sr->status;

send_failed:
    snprintf(err, sizeof(err), "cannot send to PostgreSQL: %s", PQerrorMessage(pc->conn));
io_failed:
    err_conn(&sr->err, err);
io_failed_noerr:
    sr->status = -1;
    free(sent);
    return -1;
}
