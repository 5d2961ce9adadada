/*
 * The fault tests' environment (test_faults_kit.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_faults_kit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fk_log(void *opaque, dbev_log_level_t level, const char *component,
                   const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE") || level >= DBEV_LOG_ERROR)
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

fk_t *fk_new(int brokers)
{
    char err[512];
    fk_t *fk = calloc(1, sizeof(*fk));
    assert_non_null(fk);
    fk->logger.cb = fk_log;
    fk->logger.level = getenv("DBEV_TEST_VERBOSE") ? DBEV_LOG_DEBUG : DBEV_LOG_WARN;
    fk->logger.component = "test";
    pgenv_opts_t popts = {0};
    popts.quiet = true;
    fk->pg = pgenv_new(&popts, err, sizeof(err));
    if (!fk->pg) {
        fk_destroy(fk);
        fail_msg("pgenv_new: %s", err);
    }
    runctx_t *ctx = &fk->ctx;
    snprintf(ctx->dbname, sizeof(ctx->dbname), "faults");
    if (pgenv_create_database(fk->pg, ctx->dbname, NULL, err, sizeof(err))) {
        fk_destroy(fk);
        fail_msg("create database: %s", err);
    }
    pgenv_dsn(fk->pg, ctx->dbname, ctx->conninfo, sizeof(ctx->conninfo));
    ctx->direct = pgenv_connect(fk->pg, ctx->dbname, err, sizeof(err));
    if (!ctx->direct) {
        fk_destroy(fk);
        fail_msg("connect: %s", err);
    }
    PGresult *r = PQexec(ctx->direct, "CREATE TABLE items (id serial PRIMARY KEY, note text)");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);

    mockenv_opts_t mopts = {0};
    mopts.brokers = brokers;
    mopts.partitions = 2;
    mopts.env = "faults";
    mopts.logger = &fk->logger;
    fk->mk = mockenv_new(&mopts, err, sizeof(err));
    if (!fk->mk) {
        fk_destroy(fk);
        fail_msg("mockenv_new: %s", err);
    }
    fk->opts.seed = 1;
    fk->opts.adapters = 1;
    ctx->opts = &fk->opts;
    ctx->pg = fk->pg;
    ctx->kafka = fk->mk;
    ctx->logger = &fk->logger;
    snprintf(ctx->topic_env, sizeof(ctx->topic_env), "%s", mockenv_env_name(fk->mk));
    ctx->vars = vars_new(1);
    ctx->started_us = dbev_mono_us();
    snprintf(fk->log_path, sizeof(fk->log_path), "/tmp/dbev-faults-test-%d.log", (int)getpid());
    return fk;
}

void fk_destroy(fk_t *fk)
{
    if (!fk)
        return;
    faults_revert(&fk->ctx);
    adapters_destroy(fk->ctx.adapters);
    if (fk->ctx.direct)
        PQfinish(fk->ctx.direct);
    vars_destroy(fk->ctx.vars);
    scenario_destroy(fk->scenario);
    mockenv_destroy(fk->mk);
    pgenv_destroy(fk->pg);
    if (getenv("DBEV_TEST_VERBOSE")) {
        FILE *fp = fopen(fk->log_path, "r");
        char line[2048];
        while (fp && fgets(line, sizeof(line), fp))
            fputs(line, stderr);
        if (fp)
            fclose(fp);
    }
    if (fk->log_path[0])
        unlink(fk->log_path);
    free(fk);
}

void fk_adapters(fk_t *fk, adapter_mode_t mode, int count)
{
    char err[512];
    fk->opts.adapter_mode = mode;
    fk->opts.adapters = count;
    /* A shorter session than the supervisor's default: a killed member is
     * noticed 3 s sooner, which keeps the kill test short. */
    /* A database without migrations, reached as the superuser: the adapters
     * apply migration 007 themselves. */
    const char *const extra[] = {"pool.max=4",
                                 "heartbeat.interval.ms=500",
                                 "kafka.consumer.session.timeout.ms=3000",
                                 "kafka.consumer.heartbeat.interval.ms=300",
                                 "pg.allow.superuser=true",
                                 NULL};
    adapters_opts_t aopts = {
        .mode = mode,
        .count = count,
        .bootstrap = mockenv_bootstrap(fk->mk),
        .topic_env = fk->ctx.topic_env,
        .conninfo = fk->ctx.conninfo,
        .breaker_recovery_ms = 1000,
        .log_path = fk->log_path,
        .extra = extra,
        .logger = &fk->logger,
    };
    fk->ctx.adapters = adapters_new(&aopts, err, sizeof(err));
    if (!fk->ctx.adapters)
        fail_msg("adapters_new: %s", err);
}

void fk_run(fk_t *fk, const char *step_yaml, step_result_t *res)
{
    char text[4096], err[512];
    snprintf(text, sizeof(text), "name: t\nproves: a fault test step\nsteps:\n  - %s\n", step_yaml);
    scenario_destroy(fk->scenario);
    fk->scenario = scenario_load_buffer("test.yaml", text, err, sizeof(err));
    if (!fk->scenario)
        fail_msg("step does not load: %s\n%s", err, text);
    memset(res, 0, sizeof(*res));
    const step_t *step = &fk->scenario->steps[0];
    int rc = step->kind == STEP_FAULT ? step_run_fault(&fk->ctx, step, res)
                                      : step_run_raw(&fk->ctx, step, res);
    assert_int_equal(rc, 0);
    if (getenv("DBEV_TEST_VERBOSE")) {
        char *o = res->outcome ? json_dumps(res->outcome, JSON_COMPACT) : NULL;
        fprintf(stderr, "step %s: %s in %.1f ms %s %s\n", step->name,
                dbev_report_status_name(res->status), res->latency_ms, res->message, o ? o : "");
        free(o);
    }
}

void fk_result_free(step_result_t *res)
{
    json_decref(res->outcome);
    res->outcome = NULL;
}

void fk_expect(fk_t *fk, const char *step_yaml, dbev_report_status_t want)
{
    step_result_t res;
    fk_run(fk, step_yaml, &res);
    if (res.status != want) {
        char *o = res.outcome ? json_dumps(res.outcome, JSON_COMPACT) : NULL;
        fail_msg("%s: status %s, wanted %s: %s (outcome %s)", step_yaml,
                 dbev_report_status_name(res.status), dbev_report_status_name(want), res.message,
                 o ? o : "none");
    }
    fk_result_free(&res);
}

long fk_query_long(fk_t *fk, const char *sql)
{
    char err[512];
    PGconn *conn = pgenv_connect(fk->pg, fk->ctx.dbname, err, sizeof(err));
    if (!conn)
        fail_msg("connect: %s", err);
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(conn);
        fail_msg("%s: %s", sql, msg);
    }
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(conn);
    return v;
}

bool fk_pid_alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}
