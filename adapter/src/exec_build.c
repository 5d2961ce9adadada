/*
 * Requests to statements: the refusals that need no database (check_op:
 * the SQL rules, $n against params, the allowlist, TRANSACTION's shape),
 * SELECT and EXECUTE with their parameters converted, structured operations
 * through the SQL builder (dbev/sql_build.h), and how many rows of each statement
 * run_step keeps (max_rows). A job's statements are freed with
 * job_free_stmts().
 */
#include "exec_int.h"

#include <stdlib.h>
#include <string.h>

void job_free_stmts(job_t *job)
{
    dbev_sql_queries_free(job->qs, job->nq);
    free(job->op_first);
    free(job->row_limit);
    job->qs = NULL;
    job->nq = 0;
    job->op_first = NULL;
    job->row_limit = NULL;
}

/* ---- building statements ------------------------------------------------- */

/* Parameter types of sql, when some parameter is a JSON array (to tell array
 * columns from json ones): dbev_sql_build_params() asks. Returns the number
 * of types written, or -1. */
static int describe_params(void *opaque, const char *sql, unsigned *types, int max)
{
    adapter_exec_t *ex = opaque;
    pool_conn_t *pc = get_conn(ex);
    char err[256];
    if (!pc)
        return -1;
    PGresult *res = NULL;
    int n = -1;
    if (!PQsendPrepare(pc->conn, "", sql, 0, NULL))
        return -1;
    for (;;) {
        if (pool_get_result(pc->conn, io_deadline(30000), &res, err, sizeof(err)))
            return -1;
        if (!res)
            break;
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            n = -2;
    }
    if (n == -2)
        return -1;
    if (!PQsendDescribePrepared(pc->conn, ""))
        return -1;
    for (;;) {
        if (pool_get_result(pc->conn, io_deadline(30000), &res, err, sizeof(err)))
            return -1;
        if (!res)
            break;
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            n = dbev_sql_param_types(res, types, max);
        PQclear(res);
    }
    return n;
}

/* Refusals that need no database: the SQL rules (dbev/sql.h; the decoder
 * applies the same ones, the executor does not rely on it), $n against
 * params, the allowlist. */
int check_op(const adapter_exec_t *ex, const dbev_operation_t *op, char *errstr, size_t size)
{
    if (op->type == DBEV_OP_EXECUTE || op->type == DBEV_OP_SELECT) {
        if (!op->sql)
            return dbev_seterr(errstr, size, "%s needs sql", dbev_op_name(op->type));
        if (dbev_sql_check(op->sql, dbev_op_name(op->type), errstr, size) ||
            dbev_sql_params_check(op->sql, op->params ? json_array_size(op->params) : 0, errstr,
                                  size))
            return -1;
    }
    if (op->table && ex->allowlist) {
        bool ok = false;
        for (int i = 0; ex->allowlist[i]; i++)
            if (strcmp(ex->allowlist[i], op->table) == 0)
                ok = true;
        if (!ok)
            return dbev_seterr(errstr, size, "table \"%s\" is not in the adapter's allowlist",
                               op->table);
    }
    if (op->type == DBEV_OP_TRANSACTION) {
        if (op->n_ops == 0)
            return dbev_seterr(errstr, size, "TRANSACTION needs at least one operation");
        for (size_t k = 0; k < op->n_ops; k++) {
            const dbev_operation_t *sub = &op->ops[k];
            if (sub->type == DBEV_OP_TRANSACTION || sub->type == DBEV_OP_HEALTH)
                return dbev_seterr(errstr, size,
                                   "operations[%zu]: %s cannot be nested in a "
                                   "TRANSACTION",
                                   k, dbev_op_name(sub->type));
            char sub_err[400];
            if (check_op(ex, sub, sub_err, sizeof(sub_err)))
                return dbev_seterr(errstr, size, "operations[%zu]: %s", k, sub_err);
        }
    }
    return 0;
}

/* Statements of one (non-TRANSACTION) operation, appended to job->qs. */
static int build_one(adapter_exec_t *ex, job_t *job, const dbev_operation_t *op, char *errstr,
                     size_t size)
{
    dbev_sql_query_t *qs = NULL;
    size_t nq = 0;
    if (op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE) {
        qs = calloc(1, sizeof(*qs));
        if (!qs)
            return dbev_seterr(errstr, size, "out of memory");
        if (dbev_sql_build_params(op->sql, op->params, describe_params, ex, qs, NULL, errstr,
                                  size)) {
            free(qs);
            return -1;
        }
        nq = 1;
    } else if (dbev_sql_build(op, colkind_cb, ex, &qs, &nq, errstr, size)) {
        return -1;
    }
    dbev_sql_query_t *all = realloc(job->qs, (job->nq + nq) * sizeof(*all));
    if (!all) {
        dbev_sql_queries_free(qs, nq);
        return dbev_seterr(errstr, size, "out of memory");
    }
    memcpy(all + job->nq, qs, nq * sizeof(*qs));
    free(qs);
    job->qs = all;
    job->nq += nq;
    return 0;
}

/*
 * The rows run_step keeps of a statement of op: max_rows and one more, to
 * tell that the answer was truncated; the rest are read one by one and
 * dropped, never held. 0 (keep all, no single-row mode) when the statement
 * returns no rows or never more than that: a single-row INSERT or UPSERT
 * with RETURNING returns at most one, a BATCH_INSERT chunk one per row.
 */
static int stmt_row_limit(const dbev_operation_t *op, const dbev_sql_query_t *q)
{
    bool rows = op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE ||
                (op->returning && json_array_size(op->returning) > 0);
    if (!rows)
        return 0;
    int64_t max_rows = op->max_rows > 0 ? op->max_rows : DBEV_DEFAULT_MAX_ROWS;
    int64_t keep = max_rows < INT32_MAX - 1 ? max_rows + 1 : INT32_MAX;
    int64_t most = op->type == DBEV_OP_INSERT || op->type == DBEV_OP_UPSERT ? 1
                   : op->type == DBEV_OP_BATCH_INSERT                       ? q->nrows
                                                                            : -1;
    return most >= 0 && most < keep ? 0 : (int)keep;
}

int build_job(adapter_exec_t *ex, job_t *job, char *errstr, size_t size)
{
    const dbev_operation_t *op = &job->req->op;
    if (op->type != DBEV_OP_TRANSACTION) {
        if (build_one(ex, job, op, errstr, size))
            return -1;
    } else {
        job->op_first = calloc(op->n_ops + 1, sizeof(size_t));
        if (!job->op_first)
            return dbev_seterr(errstr, size, "out of memory");
        for (size_t k = 0; k < op->n_ops; k++) {
            char sub_err[400];
            job->op_first[k] = job->nq;
            if (build_one(ex, job, &op->ops[k], sub_err, sizeof(sub_err)))
                return dbev_seterr(errstr, size, "operations[%zu]: %s", k, sub_err);
        }
        job->op_first[op->n_ops] = job->nq;
    }
    job->row_limit = calloc(job->nq ? job->nq : 1, sizeof(*job->row_limit));
    if (!job->row_limit)
        return dbev_seterr(errstr, size, "out of memory");
    for (size_t k = 0, o = 0; k < job->nq; k++) {
        const dbev_operation_t *sub = op;
        if (op->type == DBEV_OP_TRANSACTION) {
            while (o + 1 < op->n_ops && job->op_first[o + 1] <= k)
                o++;
            sub = &op->ops[o];
        }
        job->row_limit[k] = stmt_row_limit(sub, &job->qs[k]);
    }
    return 0;
}
