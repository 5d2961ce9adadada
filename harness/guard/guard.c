/*
 * Scenario guards (see guard.h): the canary, the fingerprint and
 * teardown_sql around a scenario's steps, and the hostile-request figures.
 */
#include "guard/guard.h"

#include "guard/fingerprint.h"
#include "run/metrics.h"

#include "repro/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exec_sql(PGconn *conn, const char *sql, char *errstr, size_t size)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        dbev_seterr(errstr, size, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int guards_begin(runctx_t *ctx, guards_t *g, char *errstr, size_t size)
{
    const scenario_t *sc = ctx->scenario;
    char why[512];
    memset(g, 0, sizeof(*g));
    bool canary = sc->canary.on && ctx->client && ctx->opts->mode != RUN_MODE_DIRECT;
    if (canary && !sc->canary.body && exec_sql(ctx->direct, canary_table_sql, why, sizeof(why)))
        return dbev_seterr(errstr, size, "canary: cannot create public.dbev_canary: %s", why);
    if (canary && !sc->canary.body) { /* a replay of the trace needs the table too */
        json_t *body = json_pack("{s:s}", "sql", canary_table_sql);
        trace_note_sql(ctx, body);
        json_decref(body);
    }
    if (sc->fingerprint.on && !(g->fingerprint = fingerprint_take(ctx->direct, why, sizeof(why))))
        return dbev_seterr(errstr, size, "%s", why);
    if (canary && !(g->canary = canary_start(ctx, &sc->canary, errstr, size)))
        return -1;
    return 0;
}

static void print_line(FILE *out, dbev_report_status_t status, const char *name, const char *msg)
{
    static const char *const words[] = {"PASS", "FAIL", "SKIP", "ERROR"};
    fprintf(out, "  %-5s %-40s %12s%s%s\n", words[status <= DBEV_REPORT_ERROR ? status : 3], name,
            "", msg[0] ? "  " : "", msg);
}

/* A guard's verdict as a report step of its own. */
static void report_step(runctx_t *ctx, FILE *out, const char *name, dbev_report_status_t status,
                        const char *message, const char *expected, const char *actual)
{
    dbev_report_step_t *rs = dbev_report_scenario_add_step(ctx->report_scenario, name, name);
    dbev_report_step_set_status(rs, status, message[0] ? message : NULL);
    if (status == DBEV_REPORT_FAIL)
        dbev_report_step_set_mismatch(rs, expected, actual);
    print_line(out, status, name, message);
}

static void set_prop(runctx_t *ctx, const char *name, double value, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*f", decimals, value);
    dbev_report_scenario_set_property(ctx->report_scenario, name, buf);
}

/* The worse of the steps' verdict and a guard's; the first reason stays. */
static dbev_report_status_t worse(dbev_report_status_t status, dbev_report_status_t guard,
                                  const char *what, const char *message, char *reason,
                                  size_t reason_size)
{
    if (guard == DBEV_REPORT_PASS || guard == DBEV_REPORT_SKIP)
        return status;
    if (status == DBEV_REPORT_PASS || status == DBEV_REPORT_SKIP) {
        snprintf(reason, reason_size, "%s: %.1900s", what, message);
        return guard;
    }
    return status;
}

static dbev_report_status_t end_canary(runctx_t *ctx, guards_t *g, FILE *out,
                                       dbev_report_status_t status, char *reason,
                                       size_t reason_size)
{
    const scenario_canary_t *spec = &ctx->scenario->canary;
    canary_figures_t fig;
    int rc = canary_stop(g->canary, &fig);
    g->canary = NULL;
    char line[1024];
    canary_describe(&fig, spec->max_latency_ms, line, sizeof(line));
    int64_t failures = fig.failed + fig.slow + fig.duplicates + fig.unfinished;
    set_prop(ctx, "canary.sent", (double)fig.sent, 0);
    set_prop(ctx, "canary.answered", (double)fig.answered, 0);
    set_prop(ctx, "canary.failures", (double)failures, 0);
    set_prop(ctx, "canary.answered_twice", (double)fig.duplicates, 0);
    set_prop(ctx, "canary.p50_ms", fig.p50_ms, 1);
    set_prop(ctx, "canary.p99_ms", fig.p99_ms, 1);
    set_prop(ctx, "canary.max_ms", fig.max_ms, 1);
    set_prop(ctx, "canary.bound_ms", spec->max_latency_ms, 0);
    set_prop(ctx, "adapters.down", fig.adapters_down, 0);
    run_metrics_fold(ctx->metrics, "canary.scenarios", 1, true);
    run_metrics_fold(ctx->metrics, "canary.sent", (double)fig.sent, true);
    run_metrics_fold(ctx->metrics, "canary.failures", (double)failures, true);
    run_metrics_fold(ctx->metrics, "canary.max_ms", fig.max_ms, false);
    run_metrics_fold(ctx->metrics, "adapters.down", fig.adapters_down, true);
    dbev_report_status_t verdict = rc == 0 ? DBEV_REPORT_PASS : DBEV_REPORT_FAIL;
    char expected[256];
    snprintf(expected, sizeof(expected),
             "every canary request answered once, completed, within %.0f ms; every adapter "
             "running",
             spec->max_latency_ms);
    report_step(ctx, out, "canary", verdict, line, expected, fig.first_problem);
    return worse(status, verdict, "canary", line, reason, reason_size);
}

static dbev_report_status_t end_fingerprint(runctx_t *ctx, guards_t *g, FILE *out,
                                            dbev_report_status_t status, char *reason,
                                            size_t reason_size)
{
    char why[512], diff[1800], message[2048];
    json_t *after = fingerprint_take(ctx->direct, why, sizeof(why));
    dbev_report_status_t verdict = DBEV_REPORT_PASS;
    message[0] = '\0';
    if (!after) {
        verdict = DBEV_REPORT_ERROR;
        snprintf(message, sizeof(message), "%s", why);
    } else {
        int changes = fingerprint_diff(g->fingerprint, after, ctx->scenario->fingerprint.allow,
                                       diff, sizeof(diff));
        if (changes) {
            verdict = DBEV_REPORT_FAIL;
            snprintf(message, sizeof(message), "%d change%s not allowed: %s", changes,
                     changes == 1 ? "" : "s", diff);
        } else {
            snprintf(message, sizeof(message), "%zu items unchanged (tables, roles, ...)",
                     json_object_size(after));
        }
    }
    report_step(ctx, out, "fingerprint", verdict, message,
                "the database as before, but for fingerprint.allow", diff);
    json_decref(after);
    return worse(status, verdict, "fingerprint", message, reason, reason_size);
}

dbev_report_status_t guards_end(runctx_t *ctx, guards_t *g, FILE *out, dbev_report_status_t status,
                                char *reason, size_t reason_size)
{
    if (g->canary)
        status = end_canary(ctx, g, out, status, reason, reason_size);
    if (g->fingerprint)
        status = end_fingerprint(ctx, g, out, status, reason, reason_size);
    json_decref(g->fingerprint);
    g->fingerprint = NULL;
    const char *teardown = ctx->scenario->teardown_sql;
    char why[512];
    if (teardown && ctx->direct && exec_sql(ctx->direct, teardown, why, sizeof(why)) != 0) {
        char message[600];
        snprintf(message, sizeof(message), "teardown_sql: %s", why);
        report_step(ctx, out, "teardown_sql", DBEV_REPORT_ERROR, message, "", "");
        status = worse(status, DBEV_REPORT_ERROR, "teardown_sql", why, reason, reason_size);
    }
    return status;
}

/* Whether a hostile step's outcome is an answer: the adapter's (completed or
 * failed), or the client's refusal before sending (_INVALID_ARG); a client
 * timeout or a raw step that heard nothing is not. */
static bool answered(const json_t *outcome)
{
    if (!outcome)
        return false;
    if (json_is_true(json_object_get(outcome, "ok")))
        return true;
    const json_t *answers = json_object_get(outcome, "answers");
    if (answers)
        return json_integer_value(answers) > 0;
    const char *code = json_string_value(json_object_get(outcome, "error_code"));
    return code && (code[0] != '_' || !strcmp(code, "_INVALID_ARG"));
}

void guards_count_hostile(runctx_t *ctx, const step_t *step, const step_result_t *res)
{
    if (!step->hostile || res->status == DBEV_REPORT_SKIP)
        return;
    run_metrics_fold(ctx->metrics, "security.hostile_sent", 1, true);
    run_metrics_fold(ctx->metrics, "security.hostile_answered", answered(res->outcome) ? 1 : 0,
                     true);
    run_metrics_fold(ctx->metrics, "security.hostile_expected",
                     res->status == DBEV_REPORT_PASS ? 1 : 0, true);
}

void guards_summary(const json_t *metrics, char *buf, size_t size)
{
#define FIG(name) json_number_value(json_object_get(metrics, name))
    buf[0] = '\0';
    if (FIG("security.hostile_declared") <= 0)
        return;
    snprintf(buf, size,
             "%.0f declared, %.0f sent, %.0f answered, %.0f as expected; canary: %.0f requests "
             "in %.0f scenarios, %.0f failures, max %.1f ms; adapters down: %.0f",
             FIG("security.hostile_declared"), FIG("security.hostile_sent"),
             FIG("security.hostile_answered"), FIG("security.hostile_expected"), FIG("canary.sent"),
             FIG("canary.scenarios"), FIG("canary.failures"), FIG("canary.max_ms"),
             FIG("adapters.down"));
#undef FIG
}
