/*
 * The executor's answers: errors classified by whose fault they are
 * (err_from_result), failed and completed answers and what the breaker and
 * the statistics count of them, answers from a dedupe record, completed
 * payloads built from statements' results, and the answer that replaces one
 * too large for the transport (response.max.bytes).
 */
#include "exec_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *corr(const job_t *job)
{
    return job->req->correlation_id;
}

double elapsed_ms(const job_t *job)
{
    return (double)(dbev_mono_us() - job->t0_us) / 1000.0;
}

/* message = prefix + msg */
void err_set(dberr_t *e, dbev_err_t code, const char *type, const char *sqlstate,
             const char *prefix, const char *msg)
{
    e->code = code;
    e->type = type;
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate ? sqlstate : "");
    snprintf(e->message, sizeof(e->message), "%s%s", prefix, msg ? msg : "");
    e->conn = code == DBEV_ERR_DATABASE_CONNECTION_FAILED;
    e->counts = e->conn;
}

void err_conn(dberr_t *e, const char *msg)
{
    err_set(e, DBEV_ERR_DATABASE_CONNECTION_FAILED, "ConnectionError", NULL, "", msg);
}

/*
 * Classifies a failed result by whose fault it was (dbev_sql_sqlstate_class,
 * the table in docs/protocol.md): only the database's failures are retried
 * on a fresh connection and counted by the breaker, never a caller's. The
 * session ended when the server said FATAL/PANIC or libpq lost it.
 */
void err_from_result(PGconn *conn, const PGresult *res, dberr_t *e)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *severity = res ? PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED) : NULL;
    if (!msg)
        msg = PQerrorMessage(conn);
    bool ended = PQstatus(conn) != CONNECTION_OK ||
                 (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0));
    switch (dbev_sql_sqlstate_class(state, ended)) {
    case DBEV_SQL_FAULT_TIMEOUT:
        err_set(e, DBEV_ERR_TIMEOUT_ERROR, "TimeoutError", state, "statement timeout: ", msg);
        break;
    case DBEV_SQL_FAULT_CONNECTION:
        err_set(e, DBEV_ERR_DATABASE_CONNECTION_FAILED, "ConnectionError", state, "", msg);
        break;
    case DBEV_SQL_FAULT_SERVER:
        err_set(e, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", state, "", msg);
        e->counts = true; /* the server is failing, though the connection lives */
        break;
    case DBEV_SQL_FAULT_CALLER:
    case DBEV_SQL_FAULT_TRANSIENT:
        err_set(e, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError", state, "", msg);
        break;
    }
    /* libpq messages end with a newline */
    size_t n = strlen(e->message);
    while (n && (e->message[n - 1] == '\n' || e->message[n - 1] == ' '))
        e->message[--n] = '\0';
}

static void stats_record(adapter_exec_t *ex, const job_t *job, bool failed, const char *error)
{
    pool_record(ex->pool, 1, failed ? 1 : 0, dbev_mono_us() - job->t0_us, error);
}

/* Answers a job with a failure; counts it for the breaker as it deserves. */
static void answer_fail_ex(adapter_exec_t *ex, job_t *job, const dberr_t *e, json_t *metadata,
                           bool touched_db)
{
    const dbev_operation_t *op = &job->req->op;
    bool reached_db = touched_db && (e->code == DBEV_ERR_DATABASE_OPERATION_FAILED ||
                                     e->code == DBEV_ERR_TIMEOUT_ERROR);
    if (e->counts)
        breaker_failure(ex->breaker);
    else if (reached_db)
        breaker_success(ex->breaker);
    if (e->counts || reached_db)
        stats_record(ex, job, true, e->message);
    if (!metadata)
        metadata = json_object();
    if (op->sql && (op->type == DBEV_OP_SELECT || op->type == DBEV_OP_EXECUTE))
        json_object_set_new(metadata, "sql", json_string(op->sql));
    json_object_set_new(metadata, "execution_time_ms", json_real(elapsed_ms(job)));
    job->out->completed = false;
    job->out->payload = dbev_failed_payload_new(op->type, e->code, e->message, e->type,
                                                e->sqlstate[0] ? e->sqlstate : NULL,
                                                breaker_state(ex->breaker), metadata);
    dbev_logf(ex->logger, e->counts ? DBEV_LOG_WARN : DBEV_LOG_INFO, corr(job), "%s failed: %s: %s",
              dbev_op_name(op->type), dbev_err2name(e->code), e->message);
}

void answer_fail(adapter_exec_t *ex, job_t *job, const dberr_t *e, json_t *metadata)
{
    answer_fail_ex(ex, job, e, metadata, true);
}

/* A refusal before the database was asked: not counted anywhere. */
void answer_simple(adapter_exec_t *ex, job_t *job, dbev_err_t code, const char *type,
                   const char *msg)
{
    dberr_t e;
    err_set(&e, code, type, NULL, "", msg);
    answer_fail_ex(ex, job, &e, NULL, false);
}

/* The breaker state a response reports is the one after this request's
 * outcome was counted: the success that closes a HALF_OPEN breaker answers
 * CLOSED. */
static void set_breaker_state(adapter_exec_t *ex, json_t *payload)
{
    json_t *metadata = json_object_get(payload, "metadata");
    if (json_is_object(metadata))
        json_object_set_new(metadata, "circuit_breaker_state",
                            json_string(dbev_breaker_state_name(breaker_state(ex->breaker))));
}

void answer_ok(adapter_exec_t *ex, job_t *job, json_t *payload)
{
    breaker_success(ex->breaker);
    set_breaker_state(ex, payload);
    stats_record(ex, job, false, NULL);
    job->out->completed = true;
    job->out->payload = payload;
}

/* An event id recorded for another request: refused, neither run nor given
 * that request's answer (dedupe.h). */
static void answer_reused(adapter_exec_t *ex, job_t *job)
{
    char msg[DBEV_ID_SIZE + 160];
    snprintf(msg, sizeof(msg),
             "event_id \"%s\" was already used for a different request; not executed "
             "(a new request needs a new event_id)",
             job->req->event_id);
    answer_simple(ex, job, DBEV_ERR_VALIDATION_ERROR, "EventIdReused", msg);
}

/* Answers a job from a dedupe_lookup() answer: its own stored response, or
 * the refusal of a reused id. */
void answer_cached(adapter_exec_t *ex, job_t *job, const json_t *stored)
{
    if (dedupe_is_reused(stored)) {
        answer_reused(ex, job);
        return;
    }
    breaker_success(ex->breaker);
    json_t *copy = dedupe_cached_copy(stored, breaker_state(ex->breaker));
    job->out->completed = true;
    job->out->payload = copy;
    dbev_logf(ex->logger, DBEV_LOG_INFO, corr(job), "duplicate event %s answered from its record",
              job->req->event_id);
}

/* ---- results to payloads ------------------------------------------------- */

/*
 * An upper bound of the encoded size of the first nrows rows of res, known
 * without encoding them: JSON escapes a byte into at most 6 (\u00XX), and a
 * number re-encoded from a json column grows at most to %.17g's 24
 * characters; each value also pays its column name, quotes and separators.
 */
static size_t rows_bound(const PGresult *res, int nrows)
{
    int ncols = PQnfields(res);
    size_t per_row = 2, bound = 2;
    for (int c = 0; c < ncols; c++)
        per_row += 6 * strlen(PQfname(res, c)) + 8;
    for (int r = 0; r < nrows; r++) {
        bound += per_row;
        for (int c = 0; c < ncols; c++)
            bound += 8 * (size_t)PQgetlength(res, r, c) + 24;
    }
    return bound;
}

/* What a payload holds besides its rows (operation, counts, metadata). */
#define PAYLOAD_SKELETON_BOUND 1024

/* The completed payload of one operation from the results of its statements
 * (tuples: each statement's own row count, which a result read row by row
 * does not carry). *bound grows by an upper bound of its encoded size. */
static json_t *op_payload(adapter_exec_t *ex, const dbev_operation_t *op, PGresult *const *res,
                          const int64_t *tuples, size_t nres, double ms, size_t *bound)
{
    json_t *rows = json_array();
    json_t *meta = json_object();
    int64_t row_count = 0;
    bool truncated = false;
    int64_t max_rows = op->max_rows > 0 ? op->max_rows : DBEV_DEFAULT_MAX_ROWS;
    *bound += PAYLOAD_SKELETON_BOUND;
    for (size_t i = 0; i < nres; i++) {
        if (PQresultStatus(res[i]) == PGRES_TUPLES_OK && PQnfields(res[i]) > 0) {
            int64_t room = max_rows - (int64_t)json_array_size(rows);
            if (room <= 0) {
                truncated = truncated || PQntuples(res[i]) > 0;
            } else {
                bool t = false;
                json_t *part = dbev_sql_rows_to_json(res[i], room, &t);
                *bound += rows_bound(res[i], (int)json_array_size(part));
                json_array_extend(rows, part);
                json_decref(part);
                truncated = truncated || t;
            }
        }
        if (op->type != DBEV_OP_SELECT)
            row_count += tuples[i];
    }
    if (op->type == DBEV_OP_SELECT)
        row_count = (int64_t)json_array_size(rows);
    if (op->type == DBEV_OP_BATCH_INSERT) {
        int64_t total = (int64_t)json_array_size(op->rows);
        json_object_set_new(meta, "skipped",
                            json_integer(total > row_count ? total - row_count : 0));
    }
    return dbev_completed_payload_new(op->type, rows, row_count, ms, breaker_state(ex->breaker),
                                      false, truncated, meta);
}

/* The whole job's payload; res[] and tuples[] have one entry per statement.
 * *bound: an upper bound of its encoded size (see too_large()). */
json_t *job_payload(adapter_exec_t *ex, job_t *job, PGresult *const *res, const int64_t *tuples,
                    size_t *bound)
{
    const dbev_operation_t *op = &job->req->op;
    double ms = elapsed_ms(job);
    *bound = 0;
    if (op->type != DBEV_OP_TRANSACTION)
        return op_payload(ex, op, res, tuples, job->nq, ms, bound);
    json_t *results = json_array();
    for (size_t k = 0; k < op->n_ops; k++) {
        size_t a = job->op_first[k], b = job->op_first[k + 1];
        json_array_append_new(results,
                              op_payload(ex, &op->ops[k], res + a, tuples + a, b - a, ms, bound));
    }
    *bound += PAYLOAD_SKELETON_BOUND;
    json_t *p = dbev_completed_payload_new(op->type, json_array(), (int64_t)op->n_ops, ms,
                                           breaker_state(ex->breaker), false, false, NULL);
    json_object_set_new(p, "results", results);
    return p;
}

/*
 * Whether a payload is larger than response.max.bytes once encoded (as
 * dbev_envelope_dumps writes it: JSON_COMPACT). Only when the bound is over
 * the limit is the payload measured, by a counting pass that stores
 * nothing: ordinary answers are never encoded twice (once here, once for
 * the wire). *size: the exact size when measured.
 */
bool too_large(const adapter_exec_t *ex, const json_t *payload, size_t bound, const bool *overflow,
               size_t nstmts, size_t *size)
{
    int64_t limit = ex->conf.response_max_bytes;
    *size = 0;
    for (size_t k = 0; k < nstmts; k++)
        if (overflow[k])
            return true; /* *size 0: not measured, its rows were not all kept */
    if (limit <= 0 || !payload || bound <= (size_t)limit)
        return false;
    *size = json_dumpb(payload, NULL, 0, JSON_COMPACT);
    return *size > (size_t)limit;
}

/*
 * Answers a job whose answer would not fit the transport: VALIDATION_ERROR
 * "ResponseTooLarge", saying how to ask for less. The caller has rolled its
 * transaction back. A caller's choice, not the database's failure: the
 * breaker does not count it.
 */
void answer_too_large(adapter_exec_t *ex, job_t *job, size_t size)
{
    const dbev_operation_t *op = &job->req->op;
    char msg[600];
    char what[64];
    if (size)
        snprintf(what, sizeof(what), "%zu bytes", size);
    else /* not built: its rows alone were over HELD_BYTES_FACTOR times the limit */
        snprintf(what, sizeof(what), "over %" PRId64 " bytes",
                 ex->conf.response_max_bytes * HELD_BYTES_FACTOR);
    snprintf(msg, sizeof(msg),
             "the answer would be %s, more than the adapter's response.max.bytes (%" PRId64
             ")%s; ask for less: a smaller options.max_rows, fewer or narrower returning "
             "columns, or page with LIMIT/OFFSET",
             what, ex->conf.response_max_bytes,
             op->type == DBEV_OP_SELECT ? "" : ": rolled back, nothing was written");
    dberr_t e;
    err_set(&e, DBEV_ERR_VALIDATION_ERROR, "ResponseTooLarge", NULL, "", msg);
    json_t *meta = json_object();
    if (size)
        json_object_set_new(meta, "response_bytes", json_integer((json_int_t)size));
    json_object_set_new(meta, "response_max_bytes", json_integer(ex->conf.response_max_bytes));
    answer_fail_ex(ex, job, &e, meta, false);
}
