/*
 * Operation steps: one protocol operation on the path the run's mode names.
 * Event mode sends it through the client (and so Kafka and the adapter);
 * direct mode runs it with libpq as the services did; both mode runs it on
 * each path, against twin databases cloned from one template, and fails the
 * step on any difference (parity.c says what counts as one).
 */
#include "scenario/runctx.h"

#include "env/adapters.h"
#include "run/cpuwork.h"
#include "parity/direct.h"
#include "scenario/expect.h"
#include "scenario/opcall.h"
#include "parity/parity.h"

#include <dbev/sql.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a JSON value into a report text field, cut to fit. */
static void show(char *buf, size_t size, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(buf, size, "%s", text ? text : "");
    free(text);
}

/* Judges outcome against the step's expectations (none: success). */
static void judge(const step_t *step, const json_t *outcome, step_result_t *res)
{
    json_t *none = json_object();
    char diff[1024];
    if (expectation_check(step->expect ? step->expect : none, outcome, diff, sizeof(diff)) != 0) {
        step_fail(res, DBEV_REPORT_FAIL, "%s", diff);
        show(res->expected, sizeof(res->expected), step->expect ? step->expect : none);
        show(res->actual, sizeof(res->actual), outcome);
    } else if (step->max_latency_ms > 0 && res->latency_ms > step->max_latency_ms) {
        step_fail(res, DBEV_REPORT_FAIL, "latency %.1f ms above latency_ms_max %.1f ms",
                  res->latency_ms, step->max_latency_ms);
    }
    json_decref(none);
}

static json_t *run_event(runctx_t *ctx, const step_t *step, const json_t *body, double *ms)
{
    dbev_call_opts_t opts = {0};
    opts.timeout_ms = (int)step->timeout_ms;
    int64_t t0 = dbev_mono_us();
    json_t *outcome = opcall_run(ctx->client, step->op, body, &opts);
    *ms = (double)(dbev_mono_us() - t0) / 1000.0;
    return outcome;
}

static json_t *run_direct(PGconn *conn, const step_t *step, const json_t *body, double *ms,
                          step_result_t *res)
{
    char errstr[512];
    int64_t t0 = dbev_mono_us();
    json_t *outcome = direct_run(conn, step->op, body, errstr, sizeof(errstr));
    *ms = (double)(dbev_mono_us() - t0) / 1000.0;
    if (!outcome)
        step_fail(res, DBEV_REPORT_ERROR, "direct path: %s", errstr);
    return outcome;
}

/* Records one operation's latency: into the probe's figures for a repeated
 * step of a perf scenario (kept apart, so the suite's figures stay
 * comparable with their history), else into the run's, unless the scenario
 * measures faults. An answer that carries the adapter's own service time
 * (metadata.service_ms) adds it to the service figures either way. */
static void record(runctx_t *ctx, const step_t *step, const char *path, const json_t *outcome,
                   double ms)
{
    bool ok = json_is_true(json_object_get(outcome, "ok"));
    bool probe = ctx->probe && step->repeat > 1;
    if (probe)
        run_metrics_probe(ctx->metrics, step->where, path, step->op, ms, ok);
    else if (!ctx->metrics_excluded)
        run_metrics_latency(ctx->metrics, path, step->op, ms, ok);
    const json_t *service = json_object_get(json_object_get(outcome, "metadata"), "service_ms");
    if (ok && strcmp(path, "event") == 0 && json_is_number(service) &&
        (probe || !ctx->metrics_excluded))
        run_metrics_service(ctx->metrics, step->op, json_number_value(service),
                            probe ? step->where : NULL);
}

static int run_once(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    char errstr[512];
    json_t *body = vars_substitute(ctx->vars, step->body, errstr, sizeof(errstr));
    if (!body)
        return step_fail(res, DBEV_REPORT_ERROR, "%s: %s", step->where, errstr);

    json_t *outcome = NULL;
    if (ctx->opts->mode == RUN_MODE_DIRECT) {
        outcome = run_direct(ctx->direct_op, step, body, &res->latency_ms, res);
    } else {
        outcome = run_event(ctx, step, body, &res->latency_ms);
        if (ctx->opts->mode == RUN_MODE_BOTH && !ctx->event_only && outcome) {
            double direct_ms;
            json_t *twin = run_direct(ctx->direct_twin_op, step, body, &direct_ms, res);
            const json_t *sql = json_is_string(body) ? body : json_object_get(body, "sql");
            bool ordered = json_is_string(sql) && dbev_sql_is_ordered(json_string_value(sql));
            char diff[1024];
            if (twin)
                record(ctx, step, "direct", twin, direct_ms);
            if (twin && parity_compare_step(outcome, twin, ordered,
                                            json_object_get(step->parity, "ignore_columns"), diff,
                                            sizeof(diff)) != 0) {
                step_fail(res, DBEV_REPORT_FAIL, "parity: %s", diff);
                run_metrics_parity_mismatch(ctx->metrics);
                show(res->expected, sizeof(res->expected), twin);
                show(res->actual, sizeof(res->actual), outcome);
            }
            json_decref(twin);
        }
    }
    json_decref(body);
    if (outcome)
        record(ctx, step, ctx->opts->mode == RUN_MODE_DIRECT ? "direct" : "event", outcome,
               res->latency_ms);
    if (outcome && res->status == DBEV_REPORT_PASS)
        judge(step, outcome, res);
    json_decref(res->outcome);
    res->outcome = outcome;
    return 0;
}

/* A probe block on a dbev-adapter process: the CPU time its requests cost
 * the adapter and its backends (cpuwork.h); false when it cannot be read
 * (thread adapters share the harness's process: no figure then). */
static bool probe_cpu_read(runctx_t *ctx, const step_t *step, cpuwork_snap_t *snap)
{
    if (!ctx->probe || step->repeat < 2 || ctx->opts->mode == RUN_MODE_DIRECT ||
        ctx->adapter_mode != ADAPTER_PROCESS || !ctx->adapters || !ctx->direct)
        return false;
    pid_t pid = adapters_pid(ctx->adapters, 0);
    return pid > 0 && cpuwork_read(pid, ctx->direct, "dbev-adapter", snap) == 0;
}

int step_run_operation(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    /* repeat: N: N runs in a row (each path in turn under --mode both, so a
     * probe's two paths see the same machine); the first failure ends it. */
    int n = step->repeat > 1 ? step->repeat : 1;
    cpuwork_snap_t before, after;
    bool cpu = probe_cpu_read(ctx, step, &before);
    for (int i = 0; i < n; i++) {
        if (run_once(ctx, step, res) != 0)
            return -1;
        if (res->status != DBEV_REPORT_PASS) {
            if (n > 1) {
                char was[sizeof(res->message)];
                snprintf(was, sizeof(was), "%s", res->message);
                snprintf(res->message, sizeof(res->message), "run %d of %d: %.2000s", i + 1, n,
                         was);
            }
            break;
        }
    }
    if (cpu && res->status == DBEV_REPORT_PASS && probe_cpu_read(ctx, step, &after))
        run_metrics_probe_cpu(ctx->metrics, step->where, step->op,
                              (double)cpuwork_delta_ns(&before, &after) / 1000.0 / n);
    return 0;
}
