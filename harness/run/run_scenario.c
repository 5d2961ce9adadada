/*
 * One scenario of a run (run_int.h): its world (a database cloned from the
 * template of its fixture sets, setup_sql, its own topics, adapters and
 * client), its steps in order with the guards around them, then what it
 * leaves behind (trace, replay check, reproduction bundle, kept database)
 * and its teardown. Its terminal lines are buffered and printed together
 * when scenarios run side by side.
 */
#include "run/run_int.h"

#include "env/adapters.h"
#include "env/kprofile.h"
#include "guard/guard.h"
#include "migrate/fixtures.h"
#include "repro/bundle.h"
#include "repro/replay.h"
#include "repro/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void client_log(void *opaque, int level, const char *correlation_id, const char *message)
{
    const dbev_logger_t *logger = opaque;
    dbev_logf(logger, (dbev_log_level_t)level, correlation_id, "client: %s", message);
}

/* The template database for a fixture set, prepared once per run. */
static int template_for(run_t *run, const char *fixture, char *name, size_t name_size, char *errstr,
                        size_t size)
{
    const char *label = fixture ? fixture : "";
    pthread_mutex_lock(&run->lock);
    const char *known = json_string_value(json_object_get(run->templates, label));
    int rc = 0;
    if (known) {
        snprintf(name, name_size, "%s", known);
    } else {
        fixtures_spec_t spec = {NULL, NULL, fixture};
        char key[32];
        rc = fixtures_key(&spec, key, sizeof(key), errstr, size);
        if (rc == 0)
            rc = pgenv_template(run->pg, key, fixtures_prepare, &spec, name, name_size, errstr,
                                size);
        if (rc == 0)
            json_object_set_new(run->templates, label, json_string(name));
    }
    pthread_mutex_unlock(&run->lock);
    return rc;
}

static int exec_sql(PGconn *conn, const char *sql, const char *what, char *errstr, size_t size)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        dbev_seterr(errstr, size, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* A scenario's fixture sets as fixtures_load_list() takes them: "base,bulk". */
static void fixtures_label(const scenario_t *sc, char *buf, size_t size)
{
    size_t i;
    json_t *name;
    buf[0] = '\0';
    json_array_foreach((json_t *)sc->fixtures, i, name)
    {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", i ? "," : "", json_string_value(name));
    }
}

/* The trace's header (trace.h): what a replay needs to rebuild the world
 * this scenario ran in, and what a reader needs to know where it came from. */
static json_t *trace_header(run_t *run, const runctx_t *ctx)
{
    const scenario_t *sc = ctx->scenario;
    static const char *const adapter_modes[] = {"thread", "process", "external"};
    char fixtures[512], key[32] = "", errstr[256];
    fixtures_label(sc, fixtures, sizeof(fixtures));
    fixtures_spec_t spec = {NULL, NULL, fixtures[0] ? fixtures : NULL};
    if (fixtures_key(&spec, key, sizeof(key), errstr, sizeof(errstr)) != 0)
        key[0] = '\0';
    json_t *h = json_pack(
        "{s:i, s:s, s:s, s:I, s:s, s:s, s:s?, s:o, s:i, s:s, s:i, s:s, s:s, s:{s:s, s:b, s:i, "
        "s:i}}",
        "version", 1, "scenario", sc->path, "name", sc->name, "seed", (json_int_t)run->opts->seed,
        "fixtures", fixtures, "template_key", key, "setup_sql", sc->setup_sql, "adapter_conf",
        sc->adapter_conf ? json_deep_copy(sc->adapter_conf) : json_object(), "adapters",
        ctx->adapter_count, "adapter_mode", adapter_modes[ctx->adapter_mode], "breaker_recovery_ms",
        run->opts->breaker_recovery_ms, "topic_env", ctx->topic_env, "database", ctx->dbname,
        "kafka", "bootstrap", mockenv_bootstrap(run->kafka), "mock", mockenv_is_mock(run->kafka),
        "brokers", mockenv_broker_count(run->kafka), "partitions", mockenv_partitions(run->kafka));
    return h;
}

void run_prepare_templates(run_t *run)
{
    for (size_t i = 0; i < run->n; i++) {
        char fixtures[512], tpl[128], errstr[512];
        fixtures_label(run->scenarios[i], fixtures, sizeof(fixtures));
        (void)template_for(run, fixtures[0] ? fixtures : NULL, tpl, sizeof(tpl), errstr,
                           sizeof(errstr));
    }
}

/* Clones the scenario's database(s) from the template of its fixture sets
 * ("base,bulk": one template per combination) and runs setup_sql. */
static int setup_database(run_t *run, runctx_t *ctx, const char *dbname, PGconn **conn,
                          char *errstr, size_t size)
{
    const scenario_t *sc = ctx->scenario;
    char fixtures[512];
    fixtures_label(sc, fixtures, sizeof(fixtures));
    char tpl[128];
    if (template_for(run, fixtures[0] ? fixtures : NULL, tpl, sizeof(tpl), errstr, size) != 0)
        return -1;
    if (pgenv_create_database(run->pg, dbname, tpl, errstr, size) != 0)
        return -1;
    *conn = pgenv_connect(run->pg, dbname, errstr, size);
    if (!*conn)
        return -1;
    if (sc->setup_sql && exec_sql(*conn, sc->setup_sql, "setup_sql", errstr, size) != 0)
        return -1;
    return 0;
}

/* "key=value" strings from a scenario's adapter: mapping; NULL-terminated. */
static char **conf_pairs(const json_t *conf)
{
    size_t n = json_object_size(conf), i = 0;
    char **pairs = calloc(n + 1, sizeof(char *));
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)conf, key, value)
    {
        char *text = json_is_string(value) ? strdup(json_string_value(value))
                                           : json_dumps(value, JSON_ENCODE_ANY);
        size_t len = strlen(key) + strlen(text ? text : "") + 2;
        if (pairs && (pairs[i] = malloc(len)) != NULL)
            snprintf(pairs[i++], len, "%s=%s", key, text ? text : "");
        free(text);
    }
    return pairs;
}

static void free_pairs(char **pairs)
{
    for (size_t i = 0; pairs && pairs[i]; i++)
        free(pairs[i]);
    free(pairs);
}

static dbev_client_t *start_client(run_t *run, runctx_t *ctx, char *errstr, size_t size)
{
    dbev_conf_t *conf = dbev_conf_new();
    char value[96];
    dbev_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(run->kafka), NULL, 0);
    dbev_conf_set(conf, "topic.prefix", ctx->topic_env, NULL, 0);
    snprintf(value, sizeof(value), "harness-%s", ctx->topic_env);
    dbev_conf_set(conf, "service.name", value, NULL, 0);
    dbev_conf_set_log_cb(conf, client_log, (void *)&run->logger, DBEV_LOG_LEVEL_WARN);
    /* The fetch profile of this cluster (kprofile.h); a scenario's client: may override it. */
    kprofile_client(conf, mockenv_is_mock(run->kafka));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ctx->scenario->client_conf, key, v)
    {
        char *text =
            json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        dbev_conf_res_t res = dbev_conf_set(conf, key, text, errstr, size);
        free(text);
        if (res != DBEV_CONF_OK) {
            dbev_conf_destroy(conf);
            return NULL;
        }
    }
    dbev_client_t *client = dbev_client_new(conf, errstr, size);
    if (!client)
        dbev_conf_destroy(conf);
    return client;
}

/* One HEALTH round trip before the first step, so that no step measures the
 * adapters' consumer-group start-up (seconds on a fresh group) as its own
 * latency. Kept out of every figure. */
#define READY_TIMEOUT_MS 20000
static int wait_ready(runctx_t *ctx, char *errstr, size_t size)
{
    dbev_call_opts_t opts = {0};
    opts.timeout_ms = READY_TIMEOUT_MS;
    opts.max_retries = -1;
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    int64_t t0 = dbev_mono_us();
    if (dbev_health_check(ctx->client, &opts, &result, &error) == DBEV_ERR_NO_ERROR ||
        (error && dbev_error_code(error) != DBEV_ERR__TIMEOUT &&
         dbev_error_code(error) != DBEV_ERR__TRANSPORT)) {
        /* Any answer from the adapter (even UNHEALTHY) means the path is up. */
        dbev_logf(ctx->logger, DBEV_LOG_INFO, NULL, "%s: adapters ready in %.0f ms", ctx->topic_env,
                  (double)(dbev_mono_us() - t0) / 1000.0);
        dbev_result_destroy(result);
        dbev_error_destroy(error);
        return 0;
    }
    dbev_seterr(errstr, size, "the adapter did not answer a HEALTH request within %d ms (%s)",
                READY_TIMEOUT_MS, error ? dbev_error_message(error) : "no answer");
    dbev_error_destroy(error);
    return -1;
}

/* Adds the time since *mark to phase and moves the mark to now. */
static void phase_end(runctx_t *ctx, run_phase_t phase, int64_t *mark)
{
    int64_t now = dbev_mono_us();
    ctx->phase_us[phase] += now - *mark;
    *mark = now;
}

static bool has_load(const step_t *steps, size_t n); /* below, beside run_runs_alone */

static int scenario_setup(run_t *run, runctx_t *ctx, size_t index, char *errstr, size_t size)
{
    const scenario_t *sc = ctx->scenario;
    int64_t mark = dbev_mono_us();
    snprintf(ctx->dbname, sizeof(ctx->dbname), "dbev_run%d_s%zu", (int)getpid(), index + 1);
    snprintf(ctx->topic_env, sizeof(ctx->topic_env), "dbev%ds%zu", (int)getpid(), index + 1);
    if (setup_database(run, ctx, ctx->dbname, &ctx->direct, errstr, size) != 0)
        return -1;
    pgenv_dsn(run->pg, ctx->dbname, ctx->conninfo, sizeof(ctx->conninfo));
    pgenv_dsn_as(run->pg, ctx->dbname, PGENV_APP_ROLE, ctx->app_conninfo,
                 sizeof(ctx->app_conninfo));
    if (run->opts->mode == RUN_MODE_BOTH) {
        snprintf(ctx->dbname_direct, sizeof(ctx->dbname_direct), "%s_direct", ctx->dbname);
        if (setup_database(run, ctx, ctx->dbname_direct, &ctx->direct_twin, errstr, size) != 0)
            return -1;
    }
    /* The direct path runs operations as the adapters' role (migration 007
     * made it; the templates carry its grants). */
    const char *op_db = run->opts->mode == RUN_MODE_DIRECT ? ctx->dbname
                        : run->opts->mode == RUN_MODE_BOTH ? ctx->dbname_direct
                                                           : NULL;
    if (op_db) {
        PGconn *conn = pgenv_connect_as(run->pg, op_db, PGENV_APP_ROLE, errstr, size);
        if (!conn)
            return -1;
        if (run->opts->mode == RUN_MODE_DIRECT)
            ctx->direct_op = conn;
        else
            ctx->direct_twin_op = conn;
    }
    ctx->vars = vars_new(run->opts->seed);
    phase_end(ctx, RUN_PHASE_DATABASE, &mark);
    if (run->opts->mode == RUN_MODE_DIRECT)
        return 0;
    int partitions =
        !run->env_opts->partitions && has_load(sc->steps, sc->n_steps) ? RUN_LOAD_PARTITIONS : 0;
    if (mockenv_create_topics_n(run->kafka, ctx->topic_env, partitions, errstr, size) != 0)
        return -1;
    phase_end(ctx, RUN_PHASE_TOPICS, &mark);
    char log_path[1024];
    snprintf(log_path, sizeof(log_path), "%s/adapter-s%zu.log", run->opts->out_dir, index + 1);
    /* The log (appended to by each adapter process, across restarts) holds
     * this run's lines only: a report folder reused by a later run (ctest's)
     * kept an earlier run's lines, and a failure's bundle copied them. */
    if (unlink(log_path) != 0 && errno != ENOENT)
        dbev_logf(&run->logger, DBEV_LOG_WARN, NULL, "cannot remove the old %s: %s", log_path,
                  strerror(errno));
    char **extra = conf_pairs(sc->adapter_conf);
    adapters_opts_t aopts = {
        .mode = ctx->adapter_mode,
        .count = ctx->adapter_count,
        .bootstrap = mockenv_bootstrap(run->kafka),
        .topic_env = ctx->topic_env,
        .conninfo = ctx->app_conninfo,
        .breaker_recovery_ms = run->opts->breaker_recovery_ms,
        .log_path = log_path,
        .extra = (const char *const *)extra,
        .logger = &run->logger,
        .mock = mockenv_is_mock(run->kafka),
    };
    ctx->adapters = adapters_new(&aopts, errstr, size);
    free_pairs(extra);
    if (!ctx->adapters)
        return -1;
    phase_end(ctx, RUN_PHASE_ADAPTERS, &mark);
    ctx->client = start_client(run, ctx, errstr, size);
    if (!ctx->client)
        return -1;
    phase_end(ctx, RUN_PHASE_CLIENT, &mark);
    int rc = wait_ready(ctx, errstr, size);
    phase_end(ctx, RUN_PHASE_READY, &mark);
    return rc;
}

/* --timings: one line of where the scenario's wall time went. */
static void print_timings(FILE *out, const runctx_t *ctx)
{
    static const char *const names[RUN_PHASE__COUNT] = {
        "database", "topics", "adapters", "client", "ready", "steps", "after", "teardown"};
    fprintf(out, "  timings:");
    for (int p = 0; p < RUN_PHASE__COUNT; p++)
        fprintf(out, "%s %s %.0f ms", p ? "," : "", names[p], (double)ctx->phase_us[p] / 1000.0);
    fputc('\n', out);
}

static void scenario_teardown(run_t *run, runctx_t *ctx)
{
    char errstr[512];
    /* A scenario that failed with PostgreSQL stopped or a broker down must not
     * leave them so for the next one: the server and cluster are the run's. */
    faults_revert(ctx);
    dbev_client_destroy(ctx->client);
    adapters_destroy(ctx->adapters);
    PQfinish(ctx->direct);
    PQfinish(ctx->direct_twin);
    PQfinish(ctx->direct_op);
    PQfinish(ctx->direct_twin_op);
    vars_destroy(ctx->vars);
    json_decref(ctx->trace_sql);
    /* A run of one scenario on its own throwaway server deletes the whole
     * server next: dropping the database first would only cost time. */
    bool server_goes = run->n == 1 && !run->env_opts->pg_dsn;
    if (!run->opts->keep && !server_goes) {
        if (ctx->dbname[0] && pgenv_drop_database(run->pg, ctx->dbname, errstr, sizeof(errstr)))
            dbev_logf(&run->logger, DBEV_LOG_WARN, NULL, "%s", errstr);
        if (ctx->dbname_direct[0] &&
            pgenv_drop_database(run->pg, ctx->dbname_direct, errstr, sizeof(errstr)))
            dbev_logf(&run->logger, DBEV_LOG_WARN, NULL, "%s", errstr);
    }
}

static const char *status_word(dbev_report_status_t status)
{
    static const char *const words[] = {"PASS", "FAIL", "SKIP", "ERROR"};
    return status <= DBEV_REPORT_ERROR ? words[status] : "?";
}

static int worst_of(dbev_report_status_t status)
{
    return status == DBEV_REPORT_ERROR ? 2 : status == DBEV_REPORT_FAIL ? 1 : 0;
}

/* Runs the steps in order; the first one that does not pass ends the scenario,
 * since later steps build on it. Returns the scenario's status. */
static dbev_report_status_t run_steps(run_t *run, runctx_t *ctx, FILE *out, char *reason,
                                      size_t reason_size, size_t *executed)
{
    const scenario_t *sc = ctx->scenario;
    dbev_report_status_t status = DBEV_REPORT_PASS;
    for (size_t i = 0; i < sc->n_steps; i++) {
        const step_t *step = &sc->steps[i];
        dbev_report_step_t *rstep = dbev_report_scenario_add_step(ctx->report_scenario, step->name,
                                                                  step_kind_name(step->kind));
        if (status != DBEV_REPORT_PASS) {
            dbev_report_step_set_status(rstep, DBEV_REPORT_SKIP,
                                        "not run: an earlier step did "
                                        "not pass");
            continue;
        }
        step_result_t res;
        memset(&res, 0, sizeof(res));
        res.report_step = rstep;
        int64_t t0 = dbev_mono_us();
        int rc = step_run(ctx, step, &res);
        int64_t took = dbev_mono_us() - t0;
        (*executed)++;
        if (rc != 0 && res.status == DBEV_REPORT_PASS)
            step_fail(&res, DBEV_REPORT_ERROR, "the harness could not run this step");
        dbev_report_step_set_status(rstep, res.status, res.message[0] ? res.message : NULL);
        dbev_report_step_set_duration(rstep, took);
        if (res.status == DBEV_REPORT_FAIL)
            dbev_report_step_set_mismatch(rstep, res.expected[0] ? res.expected : NULL,
                                          res.actual[0] ? res.actual : NULL);
        fprintf(out, "  %-5s %-40s %9.1f ms%s%s\n", status_word(res.status), step->name,
                (double)took / 1000.0, res.message[0] ? "  " : "", res.message);
        if (res.status != DBEV_REPORT_PASS)
            fprintf(out, "        at %s\n", step->where);
        if (step->kind == STEP_LOAD) {
            const dbev_hist_t *hist = dbev_report_load_hist(dbev_report_step_load(rstep));
            if (hist && dbev_hist_count(hist) > 0)
                dbev_hist_ascii(hist, out, 60);
        }
        guards_count_hostile(ctx, step, &res);
        /* The adapter's share of the step's latency, when its answer says. */
        const json_t *service =
            json_object_get(json_object_get(res.outcome, "metadata"), "service_ms");
        if (json_is_number(service))
            dbev_report_step_set_service(rstep, (int64_t)(json_number_value(service) * 1000.0));
        json_decref(res.outcome);
        if (res.metrics) {
            char stem[128];
            const char *base = strrchr(sc->path, '/');
            snprintf(stem, sizeof(stem), "%s", base ? base + 1 : sc->path);
            stem[strcspn(stem, ".")] = '\0';
            run_metrics_add_load(run->metrics, stem, step->name, res.metrics);
            dbev_op_t op;
            const char *op_name = json_string_value(json_object_get(res.metrics, "op"));
            if (!ctx->metrics_excluded && op_name && scenario_operation_key(op_name, &op) == 0) {
                run_metrics_merge(run->metrics, op,
                                  dbev_report_load_hist(dbev_report_step_load(rstep)));
                run_metrics_merge_service(
                    run->metrics, op, dbev_report_load_service_hist(dbev_report_step_load(rstep)));
            }
            json_decref(res.metrics);
        }
        if (res.status != DBEV_REPORT_PASS) {
            status = res.status;
            snprintf(reason, reason_size, "%.200s: %.1800s", step->name, res.message);
        }
        if (rc != 0)
            status = DBEV_REPORT_ERROR;
    }
    return status;
}

/* Whether a fault touches what every scenario shares: the PostgreSQL server
 * (stop, start, restart, or terminating every database's backends) or the
 * Kafka cluster. A table lock (`slow`) and terminating the backends of the
 * scenario's own database touch only that database; adapter faults only the
 * scenario's own adapters. */
static bool fault_is_shared(const json_t *body)
{
    if (json_object_get(body, "kafka"))
        return true;
    const char *pg = json_string_value(json_object_get(body, "postgres"));
    if (!pg)
        return json_object_get(body, "postgres") != NULL;
    if (!strcmp(pg, "slow"))
        return false;
    if (!strcmp(pg, "terminate_backends"))
        return json_is_true(json_object_get(body, "all"));
    return true;
}

/* Whether a step (or one inside it) is a fault; with shared_only, one that
 * faults what every scenario shares (fault_is_shared). */
static bool has_fault(const step_t *steps, size_t n, bool shared_only)
{
    for (size_t i = 0; i < n; i++) {
        const step_t *step = &steps[i];
        if (step->kind == STEP_FAULT && (!shared_only || fault_is_shared(step->body)))
            return true;
        if (has_fault(step->children, step->n_children, shared_only))
            return true;
    }
    return false;
}

static bool has_load(const step_t *steps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (steps[i].kind == STEP_LOAD || has_load(steps[i].children, steps[i].n_children))
            return true;
    return false;
}

/* Whether a scenario must have the machine to itself: it stops PostgreSQL or
 * a broker (its neighbours would fail), or it runs a load: a neighbour's work
 * would be measured as its own (1,010 inserts/s held p99 41 ms alone and
 * broke a 100 ms p95 beside the stress climb), and a load judged only on
 * loss is no exception: the kill-rebalance scenario, beside the suite in a
 * ctest -j 6 run, once had none of its 1,500 requests answered within 20 s
 * (docs/scenarios.md, "Running side by side"). */
bool run_runs_alone(const scenario_t *sc)
{
    /* perf: the latency probe measures the adapter, not its neighbours. */
    return has_fault(sc->steps, sc->n_steps, true) || has_load(sc->steps, sc->n_steps) ||
           scenario_has_tag(sc, "perf");
}

/* What --replay-check replays: the event path without faults or loads
 * (a fault's timing and a load's volume are not what a trace reproduces). */
static bool replayable(const run_t *run, const scenario_t *sc)
{
    return run->opts->mode == RUN_MODE_EVENT && !has_fault(sc->steps, sc->n_steps, false) &&
           !has_load(sc->steps, sc->n_steps);
}

/* Replays the trace just written on a database cloned from the same
 * template and topics of its own, with the same adapters; the differences
 * go to replay-sN.diff and fail the scenario. */
static dbev_report_status_t replay_check(run_t *run, runctx_t *ctx, size_t index,
                                         const char *trace_path, FILE *out, char *reason,
                                         size_t reason_size)
{
    char errstr[1024], topic_env[80], dbname[80], diff_path[1100];
    snprintf(topic_env, sizeof(topic_env), "%sr", ctx->topic_env);
    snprintf(dbname, sizeof(dbname), "%s_replay", ctx->dbname);
    snprintf(diff_path, sizeof(diff_path), "%s/replay-s%zu.diff", run->opts->out_dir, index + 1);
    int64_t t0 = dbev_mono_us();
    replay_trace_t *trace = replay_trace_load(trace_path, errstr, sizeof(errstr));
    replay_stack_t *stack =
        trace ? replay_stack_new(run->pg, run->kafka, replay_trace_header(trace), topic_env, dbname,
                                 &run->logger, errstr, sizeof(errstr))
              : NULL;
    long diffs = -1;
    FILE *diff = stack ? fopen(diff_path, "w") : NULL;
    if (diff) {
        replay_opts_t opts = {.speed = 0, .rename_from = ctx->dbname, .rename_to = dbname};
        diffs = replay_run(trace, replay_stack_target(stack), &opts, diff, errstr, sizeof(errstr));
        fclose(diff);
    }
    size_t requests = trace ? replay_trace_requests(trace) : 0;
    replay_stack_destroy(stack, run->opts->keep);
    replay_trace_destroy(trace);
    double ms = (double)(dbev_mono_us() - t0) / 1000.0;
    if (diffs == 0) {
        remove(diff_path);
        fprintf(out, "  replay: %zu requests replayed, answers identical (%.0f ms)\n", requests,
                ms);
        return DBEV_REPORT_PASS;
    }
    if (diffs < 0) {
        snprintf(reason, reason_size, "replay check: %s", errstr);
        fprintf(out, "  replay: could not run: %s\n", errstr);
        return DBEV_REPORT_ERROR;
    }
    snprintf(reason, reason_size, "replay check: %ld answers differ from the recording (%s)", diffs,
             diff_path);
    fprintf(out, "  replay: %ld differences, see %s\n", diffs, diff_path);
    return DBEV_REPORT_FAIL;
}

void run_one(run_t *run, size_t index)
{
    const scenario_t *sc = run->scenarios[index];
    runctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.opts = run->opts;
    ctx.pg = run->pg;
    ctx.kafka = run->kafka;
    ctx.logger = &run->logger;
    ctx.report = run->report;
    ctx.metrics = run->metrics;
    ctx.scenario = sc;
    pthread_mutex_lock(&run->lock);
    ctx.report_scenario = dbev_report_add_scenario(run->report, sc->name, sc->path);
    pthread_mutex_unlock(&run->lock);
    size_t i;
    json_t *tag;
    json_array_foreach((json_t *)sc->tags, i, tag)
        dbev_report_scenario_add_tag(ctx.report_scenario, json_string_value(tag));
    if (sc->phase)
        dbev_report_scenario_set_phase(ctx.report_scenario, sc->phase);
    char rerun[2048];
    snprintf(rerun, sizeof(rerun), "%s %s --seed %llu --keep", run->env_opts->rerun_prefix,
             sc->path, (unsigned long long)run->opts->seed);
    dbev_report_scenario_set_rerun(ctx.report_scenario, rerun);

    /* Several scenarios at once: each one's lines are printed together. */
    char *buffered = NULL;
    size_t buffered_len = 0;
    FILE *out = run->env_opts->jobs > 1 ? open_memstream(&buffered, &buffered_len) : stdout;
    if (!out)
        out = stdout;
    fprintf(out, "%s (%s)\n", sc->name, sc->path);

    char reason[2048] = "";
    dbev_report_status_t status = DBEV_REPORT_PASS;
    size_t executed = 0;
    int64_t t0 = dbev_mono_us();
    ctx.started_us = t0;
    runctx_plan_adapters(&ctx);
    for (i = 0; i < json_array_size(sc->requires) && status == DBEV_REPORT_PASS; i++) {
        const char *feature = json_string_value(json_array_get(sc->requires, i));
        char why[512];
        if (!runctx_has_feature(&ctx, feature, why, sizeof(why))) {
            status = DBEV_REPORT_SKIP;
            snprintf(reason, sizeof(reason), "requires %s: %s", feature, why);
        }
    }
    ctx.event_only = run->opts->mode == RUN_MODE_BOTH && sc->event_only;
    /* Fault, bad-input and timeout scenarios measure failures and refusals,
     * not the path's speed: their latencies stay out of the metrics. */
    ctx.metrics_excluded = has_fault(sc->steps, sc->n_steps, false) ||
                           scenario_has_tag(sc, "validation") || scenario_has_tag(sc, "timeout") ||
                           scenario_has_tag(sc, "security");
    ctx.probe = scenario_has_tag(sc, "perf");
    if (status == DBEV_REPORT_PASS) {
        char errstr[1024];
        guards_t guards;
        memset(&guards, 0, sizeof(guards));
        run_metrics_fold(run->metrics, "security.hostile_declared",
                         (double)scenario_count_hostile(sc), true);
        if (scenario_setup(run, &ctx, index, errstr, sizeof(errstr)) != 0) {
            status = DBEV_REPORT_ERROR;
            snprintf(reason, sizeof(reason), "setup: %s", errstr);
        } else if (guards_begin(&ctx, &guards, errstr, sizeof(errstr)) != 0) {
            status = DBEV_REPORT_ERROR;
            snprintf(reason, sizeof(reason), "setup: %s", errstr);
        } else {
            int64_t mark = dbev_mono_us();
            status = run_steps(run, &ctx, out, reason, sizeof(reason), &executed);
            phase_end(&ctx, RUN_PHASE_STEPS, &mark);
            if (executed == 0 && status == DBEV_REPORT_PASS) {
                status = DBEV_REPORT_ERROR;
                snprintf(reason, sizeof(reason), "no step was executed");
            }
        }
        int64_t after_mark = dbev_mono_us();
        /* The canary, the fingerprint and teardown_sql, pass or fail. */
        status = guards_end(&ctx, &guards, out, status, reason, sizeof(reason));
        /* A load that passed leaves no trace: tens of MB (a 30 s load: 60,000
         * events, 45 MB, 3.5 s to read back and write), not replayable, and
         * its figures are in the report. One that did not pass keeps it, for
         * its bundle. */
        bool traced = status != DBEV_REPORT_PASS || !has_load(sc->steps, sc->n_steps);
        if (ctx.client && traced) {
            /* The reproduction bundle: every event the scenario exchanged. */
            char path[1100], why[512];
            snprintf(path, sizeof(path), "%s/trace-s%zu.jsonl", run->opts->out_dir, index + 1);
            json_t *header = trace_header(run, &ctx);
            long events = trace_dump(&ctx, mockenv_bootstrap(run->kafka), header, path,
                                     run->started_wall_us, why, sizeof(why));
            json_decref(header);
            if (events < 0)
                dbev_logf(&run->logger, DBEV_LOG_WARN, NULL, "%s", why);
            else if (status != DBEV_REPORT_PASS)
                fprintf(out, "  trace: %s (%ld events)\n", path, events);
            else if (run->opts->replay_check && replayable(run, sc))
                status = replay_check(run, &ctx, index, path, out, reason, sizeof(reason));
        }
        if ((status == DBEV_REPORT_FAIL || status == DBEV_REPORT_ERROR) && ctx.dbname[0]) {
            /* Everything to reproduce it elsewhere, before teardown drops the database. */
            char dir[1100], trace_path[1100], log_path[1100], why[1024];
            snprintf(dir, sizeof(dir), "%s/bundle-s%zu", run->opts->out_dir, index + 1);
            snprintf(trace_path, sizeof(trace_path), "%s/trace-s%zu.jsonl", run->opts->out_dir,
                     index + 1);
            snprintf(log_path, sizeof(log_path), "%s/adapter-s%zu.log", run->opts->out_dir,
                     index + 1);
            if (bundle_write(dir, &ctx, run->env_opts, rerun, trace_path, log_path, why,
                             sizeof(why)) != 0)
                dbev_logf(&run->logger, DBEV_LOG_WARN, NULL, "bundle: %s", why);
            fprintf(out, "  bundle: %s (rerun: dbev-harness run --from-bundle %s)\n", dir, dir);
        }
        if (run->opts->keep && ctx.dbname[0]) {
            fprintf(out, "  kept database %s: psql \"%s\"\n", ctx.dbname, ctx.conninfo);
            if (status == DBEV_REPORT_FAIL || status == DBEV_REPORT_ERROR) {
                pthread_mutex_lock(&run->lock);
                json_array_append_new(run->failed_dbs, json_string(ctx.dbname));
                pthread_mutex_unlock(&run->lock);
            }
        }
        phase_end(&ctx, RUN_PHASE_AFTER, &after_mark);
        scenario_teardown(run, &ctx);
        phase_end(&ctx, RUN_PHASE_TEARDOWN, &after_mark);
    }
    int64_t took = dbev_mono_us() - t0;
    if (status != DBEV_REPORT_SKIP) /* a skip costs nothing and says nothing of a run */
        run->took_s[index] = (double)took / 1e6;
    dbev_report_scenario_set_status(ctx.report_scenario, status, reason[0] ? reason : NULL);
    dbev_report_scenario_set_duration(ctx.report_scenario, took);
    fprintf(out, "%s %s (%.2f s)%s%s\n", status_word(status), sc->name, (double)took / 1e6,
            reason[0] && status != DBEV_REPORT_PASS ? ": " : "",
            status != DBEV_REPORT_PASS ? reason : "");
    if (status == DBEV_REPORT_FAIL || status == DBEV_REPORT_ERROR)
        fprintf(out, "  rerun: %s\n", rerun);
    if (run->opts->timings)
        print_timings(out, &ctx);
    fputc('\n', out);

    pthread_mutex_lock(&run->lock);
    if (status == DBEV_REPORT_SKIP) {
        const char *slash = strrchr(sc->path, '/');
        json_array_append_new(run->skipped,
                              json_pack("{s:s, s:s, s:s}", "scenario", slash ? slash + 1 : sc->path,
                                        "name", sc->name, "reason", reason));
    }
    if (out != stdout) {
        fclose(out);
        fwrite(buffered, 1, buffered_len, stdout);
        free(buffered);
    }
    fflush(stdout);
    if (worst_of(status) > run->worst)
        run->worst = worst_of(status);
    pthread_mutex_unlock(&run->lock);
}
