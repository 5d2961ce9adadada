/*
 * The executor (see exec.h): requests in, one outcome per request out.
 *
 * A batch is walked in order. Requests refused before execution (expired
 * deadline, allowlist, EXECUTE of a transaction statement, a hostile
 * identifier, an open breaker) are answered at once. Consecutive structured
 * writes (INSERT, UPDATE, DELETE, UPSERT, BATCH_INSERT) form a group that
 * runs optimistically in ONE transaction, pipelined on one connection:
 *
 *   BEGIN; every statement                          (round trip 1)
 *   record every event id and response; COMMIT     (round trip 2)
 *
 * The record is one INSERT of arrays (dedupe.h): a claim first and an
 * UPDATE per response cost the server twice as much per request, and a
 * lookup of processed events before every group cost a tenth of all the
 * CPU per request (bench_adapter). The record's primary key decides: a
 * duplicate (a redelivery, the same event in flight elsewhere, or twice in
 * the group) conflicts at that INSERT, or earlier at a unique key of its
 * own write, which rolls the group back whole. Only then are the group's
 * event ids looked up: those another delivery committed are answered from
 * their records and the rest runs again as a group (an event twice in the
 * group: each request alone).
 *
 * When a statement of the group fails for any other reason, the transaction
 * is rolled back and the group is split around the failing request: the
 * requests before it run again as a group, the failing one alone (so its
 * outcome is its own), the rest as a group. Order is kept and neighbours
 * never fail for it. Anything else (SELECT, EXECUTE, TRANSACTION) runs alone
 * in its own transaction, also pipelined. SELECT runs READ ONLY.
 *
 * A connection-class failure on a connection that had been used before is
 * retried once on a fresh one (after a server restart every pooled
 * connection is dead; the record's primary key makes the retry safe for
 * writes, should the lost connection have committed). What still fails is
 * answered DATABASE_CONNECTION_FAILED and counted by the breaker. Which
 * failures are the connection's, the server's or the caller's is decided by
 * SQLSTATE and severity (dbev_sql_sqlstate_class): a caller's mistake (a
 * syntax error, a constraint, permission denied, its own timeout, a Bind
 * with the wrong number of values) is never retried and never counted.
 *
 * Every answer must fit the transport (response.max.bytes): one that
 * would not is replaced by a failed ResponseTooLarge answer, measured before
 * COMMIT for anything but a SELECT and rolled back, so a write is never
 * applied unanswered; in a group, the group is split around it as around a
 * failing statement. Rows past max_rows are read one by one and dropped.
 *
 * Design choice for TRANSACTION: the completed payload has `results`, one
 * completed payload per operation, `rows` empty and `row_count` the number of
 * operations. A failing operation rolls back all and the failed payload says
 * which in metadata.failed_operation_index.
 *
 * Where each part lives (their private declarations: exec_int.h):
 *   exec.c          this overview; the batch walk (refusals, groups and
 *                   singles, the requests' timing, housekeeping); lifecycle
 *   exec_conn.c     the batch's connection, its session ("Sessions"), I/O deadlines
 *   exec_catalog.c  column kinds, a cached catalog lookup
 *   exec_build.c    requests to statements; refusals that need no database
 *   exec_steps.c    the pipelined step engine: one round trip each
 *   exec_single.c   a request alone in its transaction
 *   exec_group.c    a group of structured writes in one transaction, split
 *                   around what fails
 *   merge_plan.c    which writes of a group share one multi-row INSERT
 *   exec_answer.c   errors, answers, payloads from results, answers too large
 *   exec_health.c   HEALTH requests and adapter_exec_health()
 */
#include "exec_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_MAX_JOBS   1000
#define GROUP_MAX_PARAMS 30000

static int64_t effective_timeout(const adapter_exec_t *ex, const dbev_operation_t *op)
{
    return op->timeout_ms > 0 ? op->timeout_ms : ex->conf.default_timeout_ms;
}

/* run_single() and run_group() with their requests' pool wait and database
 * time (adapter_outcome_t): two clock reads per single request or group. A
 * group's requests refused before it ran (answered already) get neither. */
static void timed_single(adapter_exec_t *ex, job_t *job)
{
    int64_t t0 = dbev_mono_us(), waited = ex->pool_wait_us;
    run_single(ex, job);
    waited = ex->pool_wait_us - waited;
    job->out->db_us = dbev_mono_us() - t0 - waited;
    job->out->pool_wait_us = ex->pool_wait_us;
}

static void timed_group(adapter_exec_t *ex, job_t *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].out->payload)
            jobs[i].out->db_us = -1; /* runs in the group */
    int64_t t0 = dbev_mono_us(), waited = ex->pool_wait_us;
    run_group(ex, jobs, n);
    waited = ex->pool_wait_us - waited;
    int64_t db = dbev_mono_us() - t0 - waited;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].out->db_us < 0) {
            jobs[i].out->db_us = db;
            jobs[i].out->pool_wait_us = ex->pool_wait_us;
        }
}

/* ---- the batch ------------------------------------------------------------ */

static bool groupable(const dbev_operation_t *op)
{
    return op->type == DBEV_OP_INSERT || op->type == DBEV_OP_UPDATE || op->type == DBEV_OP_DELETE ||
           op->type == DBEV_OP_UPSERT || op->type == DBEV_OP_BATCH_INSERT;
}

/* Retention of the dedupe records, a bounded chunk at a time: every quarter
 * of the retention (at most a minute), or every second while a backlog lasts. */
#define RETENTION_CHUNK 20000

static void maybe_retention(adapter_exec_t *ex)
{
    if (ex->conf.dedupe_retention_ms <= 0 || !ex->table_ready)
        return;
    int64_t every_us = ex->conf.dedupe_retention_ms * 1000 / 4;
    if (every_us > 60 * 1000000LL)
        every_us = 60 * 1000000LL;
    if (ex->retention_backlog)
        every_us = 1000000;
    int64_t now = dbev_mono_us();
    if (ex->last_retention_us && now - ex->last_retention_us < every_us)
        return;
    ex->last_retention_us = now;
    pool_conn_t *pc = get_conn(ex);
    if (!pc)
        return;
    char err[256];
    int64_t n = dedupe_apply_retention(pc->conn, ex->conf.dedupe_retention_ms, RETENTION_CHUNK,
                                       io_deadline(30000), err, sizeof(err));
    ex->retention_backlog = n >= RETENTION_CHUNK;
    if (n < 0)
        dbev_logf(ex->logger, DBEV_LOG_WARN, NULL, "dedupe: %s", err);
    else if (n > 0)
        dbev_logf(ex->logger, DBEV_LOG_INFO, NULL,
                  "dedupe: retention removed %" PRId64 " processed-event records", n);
}

void adapter_exec_batch(adapter_exec_t *ex, dbev_request_t *const *reqs, size_t n,
                        adapter_outcome_t *out)
{
    job_t *jobs = calloc(n ? n : 1, sizeof(*jobs));
    size_t group_start = 0, group_len = 0;
    size_t group_params = 0;
    ex->conn_failed = false;
    ex->conn_err[0] = '\0';
    ex->pool_wait_us = 0;
    int64_t now_wall = dbev_wall_us();
    if (!jobs) {
        for (size_t i = 0; i < n; i++) {
            out[i].completed = false;
            out[i].payload = dbev_failed_payload_new(
                reqs[i]->op.type, DBEV_ERR_DATABASE_OPERATION_FAILED, "out of memory",
                "PostgresError", NULL, breaker_state(ex->breaker), NULL);
        }
        return;
    }
    if (!ex->primary && breaker_state(ex->breaker) == DBEV_BREAKER_CLOSED)
        maybe_retention(ex);

    for (size_t i = 0; i < n; i++) {
        job_t *job = &jobs[i];
        const dbev_operation_t *op = &reqs[i]->op;
        char err[600];
        job->req = reqs[i];
        job->out = &out[i];
        job->out->completed = false;
        job->out->payload = NULL;
        job->out->pool_wait_us = job->out->db_us = 0;
        job->t0_us = dbev_mono_us();
        job->timeout_ms = effective_timeout(ex, op);

        bool joins_group = groupable(op);
        if (!joins_group && group_len) {
            timed_group(ex, jobs + group_start, group_len);
            group_len = 0;
            group_params = 0;
        }
        if (op->type == DBEV_OP_HEALTH) {
            run_health(ex, job);
            continue;
        }
        if (job->timeout_ms > 0 && reqs[i]->has_timestamp &&
            now_wall > reqs[i]->timestamp_us + job->timeout_ms * 1000) {
            /* Say what expired and what to do: a copied example or a
             * replayed event carries its old timestamp (seed 002's are
             * from 2025), which is the usual cause. */
            char ts[DBEV_ISO8601_SIZE];
            snprintf(err, sizeof(err),
                     "deadline passed before execution, not executed: the request's timestamp "
                     "%s is %" PRId64 " ms old, older than its timeout_ms of %" PRId64
                     " ms (deadline = timestamp + timeout_ms). Stamp the envelope's timestamp "
                     "with the time of sending (UTC, ISO-8601), or raise options.timeout_ms",
                     dbev_iso8601(reqs[i]->timestamp_us, ts, sizeof(ts)),
                     (now_wall - reqs[i]->timestamp_us) / 1000, job->timeout_ms);
            answer_simple(ex, job, DBEV_ERR_TIMEOUT_ERROR, "TimeoutError", err);
            continue;
        }
        if (check_op(ex, op, err, sizeof(err))) {
            answer_simple(ex, job, DBEV_ERR_VALIDATION_ERROR, "ValidationError", err);
            continue;
        }
        if (!breaker_allow(ex->breaker)) {
            answer_simple(ex, job, DBEV_ERR_CIRCUIT_BREAKER_OPEN, "CircuitBreakerOpen",
                          "circuit breaker is open: PostgreSQL is failing; not executed");
            continue;
        }
        if (build_job(ex, job, err, sizeof(err))) {
            answer_simple(ex, job, DBEV_ERR_VALIDATION_ERROR, "ValidationError", err);
            continue;
        }
        if (has_event_id(job) && dbev_op_is_write(op->type) &&
            dedupe_fingerprint(reqs[i], job->fp)) {
            answer_simple(ex, job, DBEV_ERR_DATABASE_OPERATION_FAILED, "PostgresError",
                          "out of memory");
            continue;
        }
        if (!joins_group) {
            timed_single(ex, job);
            continue;
        }
        size_t params = 0;
        for (size_t k = 0; k < job->nq; k++)
            params += (size_t)job->qs[k].nparams;
        if (group_len &&
            (group_len >= GROUP_MAX_JOBS || group_params + params > GROUP_MAX_PARAMS)) {
            timed_group(ex, jobs + group_start, group_len);
            group_len = 0;
            group_params = 0;
        }
        /* The group is a slice of jobs; requests refused in between are
         * answered already and skipped by try_group(). */
        if (group_len == 0)
            group_start = i;
        group_len = i + 1 - group_start;
        group_params += params;
    }
    if (group_len)
        timed_group(ex, jobs + group_start, group_len);

    for (size_t i = 0; i < n; i++) {
        job_free_stmts(&jobs[i]);
        if (!out[i].payload) { /* never: every path answers; a last guard */
            out[i].completed = false;
            out[i].payload = dbev_failed_payload_new(
                reqs[i]->op.type, DBEV_ERR_DATABASE_OPERATION_FAILED, "request not answered",
                "PostgresError", NULL, breaker_state(ex->breaker), NULL);
        }
    }
    free(jobs);
    if (ex->pc)
        pool_release(ex->pool, ex->pc, false);
    ex->pc = NULL;
    /* Back to pool_min after failures, at most once a second, and never
     * while the breaker keeps requests away from the server. */
    int64_t now = dbev_mono_us();
    if (!ex->primary && breaker_state(ex->breaker) == DBEV_BREAKER_CLOSED &&
        now - ex->last_maintain_us > 1000000) {
        ex->last_maintain_us = now;
        pool_maintain(ex->pool);
    }
}

/* ---- lifecycle ------------------------------------------------------------ */

adapter_exec_t *adapter_exec_new(const adapter_exec_conf_t *conf, char *errstr, size_t size)
{
    adapter_exec_t *ex = calloc(1, sizeof(*ex));
    if (!ex) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    ex->conf = *conf;
    ex->logger = conf->logger;
    ex->started_us = dbev_mono_us();
    ex->conninfo = strdup(conf->conninfo ? conf->conninfo : "");
    ex->coltypes = json_object();
    if (conf->table_allowlist) {
        size_t k = 0;
        while (conf->table_allowlist[k])
            k++;
        ex->allowlist = calloc(k + 1, sizeof(char *));
        for (size_t i = 0; ex->allowlist && i < k; i++)
            ex->allowlist[i] = strdup(conf->table_allowlist[i]);
    }
    ex->conf.conninfo = ex->conninfo;
    ex->conf.table_allowlist = NULL;
    breaker_conf_t bc = {.failure_threshold = conf->breaker_failure_threshold,
                         .recovery_ms = conf->breaker_recovery_ms,
                         .success_threshold = conf->breaker_success_threshold,
                         .logger = conf->logger};
    ex->breaker = breaker_new(&bc);
    pool_conf_t pcf = {.conninfo = ex->conninfo,
                       .min = conf->pool_min,
                       .max = conf->pool_max > 0 ? conf->pool_max : 20,
                       .max_age_ms = conf->max_conn_age_ms,
                       .max_queries = (uint64_t)conf->pool_max_queries,
                       .idle_timeout_ms = conf->pool_idle_timeout_ms,
                       .connect_timeout_ms = conf->pool_connect_timeout_ms,
                       .command_timeout_ms = conf->pool_command_timeout_ms,
                       .logger = conf->logger};
    ex->pool = pool_new(&pcf);
    if (!ex->conninfo || !ex->coltypes || !ex->breaker || !ex->pool ||
        (conf->table_allowlist && !ex->allowlist)) {
        adapter_exec_destroy(ex);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    /* Who we are and the bookkeeping, if the database is there now; else on
     * first use (get_conn). Either refusal stops the start: a superuser
     * adapter hands every caller the server, and writes without their
     * records could run twice. */
    char err[512];
    ex->pc = pool_acquire(ex->pool, err, sizeof(err));
    if (ex->pc) {
        PGconn *conn = ex->pc->conn;
        int rc = refuse_superuser(ex, conn, errstr, size);
        if (rc == 0 && conn_is_superuser(conn))
            dbev_logf(ex->logger, DBEV_LOG_WARN, NULL,
                      "connected to PostgreSQL as the superuser \"%s\" (pg.allow.superuser): "
                      "callers' SQL runs with every privilege; production adapters connect as "
                      "dbev_app",
                      PQuser(conn));
        if (rc == 0) {
            rc =
                dedupe_prepare(conn, conn_is_superuser(conn), io_deadline(30000), err, sizeof(err));
            if (rc)
                dbev_seterr(errstr, size, "%s", err);
        }
        pool_release(ex->pool, ex->pc, rc != 0);
        ex->pc = NULL;
        if (rc) {
            adapter_exec_destroy(ex);
            return NULL;
        }
        ex->table_ready = true;
    } else {
        dbev_logf(ex->logger, DBEV_LOG_WARN, NULL,
                  "PostgreSQL not reachable at start (%s); starting with an empty pool", err);
    }
    return ex;
}

adapter_exec_t *adapter_exec_new_lane(adapter_exec_t *primary, char *errstr, size_t size)
{
    adapter_exec_t *ex = calloc(1, sizeof(*ex));
    if (ex)
        ex->coltypes = json_object();
    if (!ex || !ex->coltypes) {
        free(ex);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    ex->primary = primary;
    ex->conf = primary->conf;
    ex->logger = primary->logger;
    ex->started_us = primary->started_us;
    ex->conninfo = primary->conninfo;
    ex->allowlist = primary->allowlist;
    ex->pool = primary->pool;
    ex->breaker = primary->breaker;
    /* When false (no server at start), get_conn() ensures it on first use. */
    ex->table_ready = primary->table_ready;
    return ex;
}

void adapter_exec_destroy(adapter_exec_t *ex)
{
    if (!ex)
        return;
    if (ex->primary) {
        if (ex->pc)
            pool_release(ex->pool, ex->pc, false);
        json_decref(ex->coltypes);
        free(ex);
        return;
    }
    pool_destroy(ex->pool);
    breaker_destroy(ex->breaker);
    json_decref(ex->coltypes);
    if (ex->allowlist) {
        for (size_t i = 0; ex->allowlist[i]; i++)
            free(ex->allowlist[i]);
        free(ex->allowlist);
    }
    free(ex->conninfo);
    free(ex);
}

dbev_breaker_state_t adapter_exec_breaker_state(adapter_exec_t *ex)
{
    return breaker_state(ex->breaker);
}
