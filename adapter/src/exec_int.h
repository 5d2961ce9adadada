/*
 * The executor's private declarations, shared by its files (exec.c lists
 * them and says how a batch runs): the executor's state, a request being
 * executed (job_t), an error answer in the making, a pipelined step and its
 * outcome, a group's plan of statements, and the functions one file offers
 * the others. Not installed: the executor's interface is exec.h.
 *
 * The functions keep the names they had as exec.c's statics (the split
 * moved code, nothing else); they are hidden like every internal symbol
 * (-fvisibility=hidden) and never part of the library's interface.
 */
#ifndef ADAPTER_EXEC_INT_H
#define ADAPTER_EXEC_INT_H

#include "exec.h"

#include "breaker.h"
#include "dedupe.h"
#include "pool.h"
#include <dbev/sql_build.h>

#include <dbev/sql.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct adapter_exec {
    adapter_exec_conf_t conf;
    adapter_exec_t *primary; /* a lane: borrows the primary's pool, breaker and strings */
    char *conninfo;
    char **allowlist; /* NULL-terminated copy, or NULL */
    const dbev_logger_t *logger;
    pool_t *pool;
    breaker_t *breaker;
    json_t *coltypes; /* {table: {column: true when array-typed}} */
    bool table_ready; /* dedupe table ensured on this server */
    int64_t started_us;
    int64_t last_retention_us;
    int64_t last_maintain_us;
    bool retention_backlog; /* the last retention chunk was full */
    /* per batch */
    int64_t pool_wait_us; /* spent getting connections from the pool */
    pool_conn_t *pc;
    bool conn_failed;
    char conn_err[512];
};

/* An error answer in the making. */
typedef struct dberr {
    dbev_err_t code;
    const char *type;
    char sqlstate[6];
    char message[1024];
    bool conn;   /* the connection failed: retried on a fresh one */
    bool counts; /* the database's failure: counts for the breaker (conn, or SERVER) */
} dberr_t;

/* One request being executed. */
typedef struct job {
    const dbev_request_t *req;
    adapter_outcome_t *out;
    dbev_sql_query_t *qs; /* its statements (TRANSACTION: all ops' statements) */
    size_t nq;
    size_t *op_first; /* TRANSACTION: first statement of op k; op_first[n_ops] = nq */
    int *row_limit;   /* per statement: rows run_step keeps (0: all; NULL: all) */
    int64_t timeout_ms;
    int64_t t0_us;
    char fp[DEDUPE_FP_SIZE]; /* the request's fingerprint, when it dedupes */
} job_t;

/* run_step stops keeping a statement's rows once their text is over this
 * many times response.max.bytes: their JSON cannot fit then (it is at
 * least the text, except where re-encoding drops padding: jsonb's spaces, a
 * numeric's trailing zeros; eight times covers all but the absurd). */
#define HELD_BYTES_FACTOR 8

/* What one pipelined step sends, in order. */
typedef struct step {
    bool begin, read_only;
    /* NULL: none. A single write's claim (after BEGIN), or a group's record
     * INSERT (in its commit step, before COMMIT). */
    const char *claim_sql;
    int claim_nparams;
    const char *const *claim_values;
    job_t *jobs; /* statements of these jobs */
    size_t njobs;
    /* a single write's commit step: its response to record, a primary-key
     * UPDATE of its claim */
    const char *const *store_ids;
    const char *const *store_fps;
    char *const *store_texts;
    size_t nstore;
    bool commit;
} step_t;

/* Outcome of a step. */
typedef struct step_result {
    int status;       /* 0 ok, 1 SQL error (transaction aborted), -1 connection failed */
    long fail_job;    /* index in jobs of the failing statement's job; -1: not a job's */
    size_t fail_stmt; /* statement index within that job */
    bool fail_claim;  /* the claim or record INSERT failed (a duplicate in flight) */
    dberr_t err;
    PGresult **res;  /* per statement of all jobs, in order (owned; NULL when not kept) */
    int64_t *tuples; /* per statement: its row count (PQcmdTuples), also of rows not kept */
    bool *overflow;  /* per statement: its rows outgrew HELD_BYTES_FACTOR x response.max.bytes */
    size_t nres;
} step_result_t;

/* A group's plan of statements (merge_plan.c). */
typedef struct plan {
    job_t *send; /* send jobs: originals, or synthetic ones holding a merged statement */
    size_t nsend;
    size_t *first;            /* first job covered by send job s */
    size_t *count;            /* jobs covered (1, or more when merged) */
    dbev_sql_query_t *merged; /* merged statements; their values are borrowed */
    size_t nmerged;
} plan_t;

/* exec_conn.c: the batch's connection and its session */
int64_t io_deadline(int64_t timeout_ms);
bool conn_is_superuser(PGconn *conn);
int refuse_superuser(const adapter_exec_t *ex, PGconn *conn, char *errstr, size_t size);
pool_conn_t *get_conn(adapter_exec_t *ex);
void conn_lost(adapter_exec_t *ex, const char *why);
pool_conn_t *get_fresh_conn(adapter_exec_t *ex);
bool runs_caller_sql(const dbev_operation_t *op);
int reset_session(adapter_exec_t *ex);
pool_conn_t *get_clean_conn(adapter_exec_t *ex, bool fresh);

/* exec_catalog.c: column kinds (an dbev_sql_colkind_fn; opaque is the executor) */
dbev_sql_colkind_t colkind_cb(void *opaque, const char *table, const char *column);

/* exec_build.c: requests to statements */
int check_op(const adapter_exec_t *ex, const dbev_operation_t *op, char *errstr, size_t size);
int build_job(adapter_exec_t *ex, job_t *job, char *errstr, size_t size);
void job_free_stmts(job_t *job);

/* exec_steps.c: the pipelined step engine */
int rollback(pool_conn_t *pc, int64_t deadline);
int run_step(adapter_exec_t *ex, pool_conn_t *pc, const step_t *st, int64_t deadline,
             step_result_t *sr);
void step_result_clear(step_result_t *sr);

/* exec_single.c: a request alone; what a job's record holds */
bool predictable(const job_t *job);
bool row_count_is_one(const json_t *payload);
bool has_event_id(const job_t *job);
bool dedupes(const adapter_exec_t *ex, const job_t *job);
int try_single(adapter_exec_t *ex, pool_conn_t *pc, job_t *job);
void run_single(adapter_exec_t *ex, job_t *job);

/* exec_group.c: a group of structured writes */
void run_group(adapter_exec_t *ex, job_t *jobs, size_t n);

/* merge_plan.c: the statements a group sends */
int plan_build(job_t *jobs, size_t n, bool merge, plan_t *pl);
void plan_free(plan_t *pl);

/* exec_answer.c: errors, answers, payloads */
double elapsed_ms(const job_t *job);
void err_set(dberr_t *e, dbev_err_t code, const char *type, const char *sqlstate,
             const char *prefix, const char *msg);
void err_conn(dberr_t *e, const char *msg);
void err_from_result(PGconn *conn, const PGresult *res, dberr_t *e);
void answer_fail(adapter_exec_t *ex, job_t *job, const dberr_t *e, json_t *metadata);
void answer_simple(adapter_exec_t *ex, job_t *job, dbev_err_t code, const char *type,
                   const char *msg);
void answer_ok(adapter_exec_t *ex, job_t *job, json_t *payload);
void answer_cached(adapter_exec_t *ex, job_t *job, const json_t *stored);
json_t *job_payload(adapter_exec_t *ex, job_t *job, PGresult *const *res, const int64_t *tuples,
                    size_t *bound);
bool too_large(const adapter_exec_t *ex, const json_t *payload, size_t bound, const bool *overflow,
               size_t nstmts, size_t *size);
void answer_too_large(adapter_exec_t *ex, job_t *job, size_t size);

/* exec_health.c: the HEALTH operation */
void run_health(adapter_exec_t *ex, job_t *job);

#endif
