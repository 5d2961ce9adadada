/*
 * The `sql:` and `until:` steps (runctx.h contract). `sql:` runs SQL
 * straight on the scenario's database through the direct path, bypassing
 * the event path, to set up or check state (in --mode both on each path's
 * database, unless its body says `database: event|direct`); `until:` polls
 * one child step (sql or an operation) until its expectation holds or the
 * step's deadline passes. Waiting between polls is what `until:` is for, so it sleeps for
 * its interval, never past the deadline.
 */
#include "scenario/runctx.h"

#include "parity/direct.h"
#include "scenario/expect.h"
#include "repro/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNTIL_DEFAULT_INTERVAL_MS 50

static void show(char *buf, size_t size, const json_t *value)
{
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(buf, size, "%s", text ? text : "");
    if (text && strlen(text) >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    free(text);
}

/* A copy of value with ${...} substituted; NULL value stays NULL. */
static int substitute(runctx_t *ctx, const json_t *value, json_t **out, char *errstr, size_t size)
{
    *out = NULL;
    if (!value)
        return 0;
    if (!ctx->vars) {
        *out = json_deep_copy(value);
    } else {
        *out = vars_substitute(ctx->vars, value, errstr, size);
        if (!*out)
            return -1;
    }
    if (!*out)
        return dbev_seterr(errstr, size, "out of memory");
    return 0;
}

/* The connections a sql step runs on. In --mode both each path has its own
 * database, and set-up and checks apply to both unless the body says
 * `database: event` (e.g. the adapter's own tables) or `database: direct`. */
static int sql_targets(const runctx_t *ctx, const json_t *body, PGconn **conns, const char **labels,
                       char *errstr, size_t size)
{
    bool both = ctx->opts && ctx->opts->mode == RUN_MODE_BOTH && ctx->direct_twin;
    const json_t *which = json_is_object(body) ? json_object_get(body, "database") : NULL;
    /* An event-only scenario (runctx.h) writes through the event path alone,
     * so its set-up and checks belong to the event path's database. */
    const char *w = which ? json_string_value(which) : ctx->event_only ? "event" : "both";
    if (!w || (strcmp(w, "both") != 0 && strcmp(w, "event") != 0 && strcmp(w, "direct") != 0))
        return dbev_seterr(errstr, size, "sql: database must be both, event or direct");
    if (!both) {
        conns[0] = ctx->direct;
        labels[0] = "";
        return 1;
    }
    int n = 0;
    if (strcmp(w, "direct") != 0) {
        conns[n] = ctx->direct;
        labels[n++] = "event path's database: ";
    }
    if (strcmp(w, "event") != 0) {
        conns[n] = ctx->direct_twin;
        labels[n++] = "direct path's database: ";
    }
    return n;
}

/* Runs one sql step with an optional statement timeout; in --mode both on
 * each database it names, judged on each. The outcome kept is the first's. */
static int run_sql(runctx_t *ctx, const step_t *step, int64_t timeout_ms, step_result_t *res)
{
    char errstr[512];
    json_t *body = NULL, *expect = NULL;
    PGconn *conns[2];
    const char *labels[2];
    int n = -1;
    if (substitute(ctx, step->body, &body, errstr, sizeof(errstr)) ||
        substitute(ctx, step->expect, &expect, errstr, sizeof(errstr)) ||
        (n = sql_targets(ctx, body, conns, labels, errstr, sizeof(errstr))) < 0) {
        json_decref(body);
        json_decref(expect);
        return step_fail(res, DBEV_REPORT_ERROR, "%s: %s", step->where, errstr);
    }
    direct_opts_t opts = {.timeout_ms = timeout_ms};
    json_t *none = expect ? NULL : json_object();
    json_decref(res->outcome);
    res->outcome = NULL;
    res->status = DBEV_REPORT_PASS;
    res->message[0] = '\0';
    res->latency_ms = 0;
    for (int i = 0; i < n && res->status == DBEV_REPORT_PASS; i++) {
        /* The trace replays it on the event path's database. */
        if (conns[i] == ctx->direct)
            trace_note_sql(ctx, body);
        int64_t t0 = dbev_mono_us();
        /* EXECUTE: the SQL text runs with the simple protocol (several
         * statements allowed), with params through the extended one; rows
         * come back. */
        json_t *outcome =
            direct_run_opts(conns[i], DBEV_OP_EXECUTE, body, &opts, errstr, sizeof(errstr));
        double ms = (double)(dbev_mono_us() - t0) / 1000.0;
        if (ms > res->latency_ms)
            res->latency_ms = ms;
        if (!outcome) {
            step_fail(res, DBEV_REPORT_ERROR, "sql: %s%s", labels[i], errstr);
            break;
        }
        char diff[1024];
        if (expectation_check(expect ? expect : none, outcome, diff, sizeof(diff)) != 0) {
            step_fail(res, DBEV_REPORT_FAIL, "%s%s", labels[i], diff);
            show(res->expected, sizeof(res->expected), expect ? expect : none);
            show(res->actual, sizeof(res->actual), outcome);
        } else if (step->max_latency_ms > 0 && ms > step->max_latency_ms) {
            step_fail(res, DBEV_REPORT_FAIL, "%slatency %.1f ms above latency_ms_max %.1f ms",
                      labels[i], ms, step->max_latency_ms);
        }
        if (!res->outcome || res->status != DBEV_REPORT_PASS) {
            json_decref(res->outcome);
            res->outcome = outcome; /* the first's, or the one that failed */
        } else {
            json_decref(outcome);
        }
    }
    json_decref(none);
    json_decref(body);
    json_decref(expect);
    return 0;
}

int step_run_sql(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    return run_sql(ctx, step, step->timeout_ms, res);
}

/* Sleeps ms milliseconds (bounded by the caller's deadline). */
static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int step_run_until(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    if (step->n_children != 1 || !step->children)
        return step_fail(res, DBEV_REPORT_ERROR, "until: needs exactly one step to poll");
    const json_t *interval = json_object_get(step->body, "interval_ms");
    int64_t interval_ms = json_is_integer(interval) && json_integer_value(interval) > 0
                              ? json_integer_value(interval)
                              : UNTIL_DEFAULT_INTERVAL_MS;
    int64_t timeout_ms = step->timeout_ms > 0 ? step->timeout_ms : 10000;
    int64_t start = dbev_mono_us();
    int64_t deadline = start + timeout_ms * 1000;
    /* The polled step: its expectation (or the until step's own), and never
     * a timeout that reaches past the deadline. */
    step_t child = step->children[0];
    if (!child.expect)
        child.expect = step->expect;
    step_result_t last;
    char last_message[sizeof(res->message)] = "";
    int attempts = 0;
    for (;;) {
        int64_t left_ms = (deadline - dbev_mono_us()) / 1000;
        if (left_ms < 1)
            left_ms = 1;
        child.timeout_ms = left_ms;
        memset(&last, 0, sizeof(last));
        last.report_step = res->report_step;
        int rc = child.kind == STEP_SQL        ? run_sql(ctx, &child, left_ms, &last)
                 : child.kind == STEP_REGISTRY ? step_run_registry(ctx, &child, &last)
                                               : step_run_operation(ctx, &child, &last);
        attempts++;
        if (rc != 0 || last.status == DBEV_REPORT_ERROR || last.status == DBEV_REPORT_SKIP ||
            last.status == DBEV_REPORT_PASS) {
            /* Done: held, or the harness broke (no point in polling on). */
            json_decref(res->outcome);
            *res = last;
            res->latency_ms = (double)(dbev_mono_us() - start) / 1000.0;
            return rc;
        }
        snprintf(last_message, sizeof(last_message), "%s", last.message);
        int64_t now = dbev_mono_us();
        if (now >= deadline) {
            json_decref(res->outcome);
            res->outcome = last.outcome;
            memcpy(res->expected, last.expected, sizeof(res->expected));
            memcpy(res->actual, last.actual, sizeof(res->actual));
            res->latency_ms = (double)(now - start) / 1000.0;
            return step_fail(res, DBEV_REPORT_FAIL,
                             "until: not met within %lld ms (%d attempts); last: %.1800s",
                             (long long)timeout_ms, attempts, last_message);
        }
        json_decref(last.outcome);
        int64_t wait = (deadline - now) / 1000;
        sleep_ms(wait < interval_ms ? (wait > 0 ? wait : 1) : interval_ms);
    }
}
