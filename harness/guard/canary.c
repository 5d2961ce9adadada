/*
 * The canary (see canary.h): one thread, one client of its own, an open-loop
 * schedule. The thread issues every request that is due, then waits in
 * poll(2) on the client's descriptor until the next one is due or an answer
 * arrives, and serves answers with dbev_client_poll(); all the canary's
 * state is touched on that thread only, except the stop flag.
 */
#include "guard/canary.h"

#include "env/adapters.h"
#include "env/kprofile.h"
#include "scenario/opcall.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANARY_READY_TIMEOUT_MS 10000
#define CANARY_SETTLE_MS        200 /* watching for duplicate answers after the last one */
#define CANARY_MAX_SAMPLES      (1 << 20)

const char *const canary_table_sql =
    "CREATE TABLE IF NOT EXISTS public.dbev_canary (key text PRIMARY KEY, "
    "at timestamptz NOT NULL DEFAULT now()); "
    "GRANT SELECT, INSERT ON public.dbev_canary TO PUBLIC";

struct canary {
    runctx_t *ctx;
    scenario_canary_t spec;
    dbev_client_t *client;
    pthread_t thread;
    atomic_bool stop;
    char prefix[24];
    /* the thread's own */
    int64_t start_us;
    int64_t in_flight;
    double *samples; /* latencies in ms of answered requests */
    size_t n_samples, cap_samples;
    canary_figures_t fig;
};

typedef struct canary_req {
    canary_t *canary;
    int64_t intended_us;
    char cid[64];
} canary_req_t;

static void problem(canary_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(canary_t *c, const char *fmt, ...)
{
    if (c->fig.first_problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->fig.first_problem, sizeof(c->fig.first_problem), fmt, ap);
    va_end(ap);
}

static void on_done(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error, void *opaque)
{
    (void)client;
    canary_req_t *req = opaque;
    canary_t *c = req->canary;
    double ms = (double)(dbev_mono_us() - req->intended_us) / 1000.0;
    c->in_flight--;
    if (result || dbev_error_code(error) >= 0)
        c->fig.answered++; /* negative codes are the client's own verdicts */
    if (!result) {
        c->fig.failed++;
        problem(c, "%s: %s %s (after %.0f ms)", req->cid, dbev_error_name(error),
                dbev_error_message(error) ? dbev_error_message(error) : "", ms);
    } else if (ms > c->spec.max_latency_ms) {
        c->fig.slow++;
        problem(c, "%s: answered after %.1f ms, bound %.0f ms", req->cid, ms,
                c->spec.max_latency_ms);
    }
    if (result && c->n_samples < CANARY_MAX_SAMPLES) {
        if (c->n_samples == c->cap_samples) {
            size_t cap = c->cap_samples ? c->cap_samples * 2 : 1024;
            double *grown = realloc(c->samples, cap * sizeof(*grown));
            if (grown) {
                c->samples = grown;
                c->cap_samples = cap;
            }
        }
        if (c->n_samples < c->cap_samples)
            c->samples[c->n_samples++] = ms;
    }
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    free(req);
}

/* The request's body: the scenario's template with placeholders substituted,
 * or the default insert of one row keyed by the correlation id. */
static json_t *request_body(canary_t *c, const char *cid, dbev_op_t *op)
{
    char errstr[256];
    if (c->spec.body) {
        *op = c->spec.op;
        json_t *body = vars_substitute(c->ctx->vars, c->spec.body, errstr, sizeof(errstr));
        if (!body)
            problem(c, "canary request: %s", errstr);
        return body;
    }
    *op = DBEV_OP_INSERT;
    return json_pack("{s:s, s:{s:s}}", "table", "dbev_canary", "data", "key", cid);
}

static void send_one(canary_t *c, int64_t i, int64_t intended_us)
{
    canary_req_t *req = calloc(1, sizeof(*req));
    if (!req)
        return;
    req->canary = c;
    req->intended_us = intended_us;
    snprintf(req->cid, sizeof(req->cid), "%s-%lld", c->prefix, (long long)i);
    dbev_op_t op;
    json_t *body = request_body(c, req->cid, &op);
    c->fig.sent++;
    if (!body) {
        c->fig.failed++;
        free(req);
        return;
    }
    dbev_call_opts_t opts = {0};
    opts.timeout_ms = c->spec.timeout_ms;
    opts.correlation_id = req->cid;
    opts.max_retries = -1; /* a failure must be seen, not retried away */
    dbev_error_t *error = NULL;
    c->in_flight++;
    dbev_err_t err = opcall_start(c->client, op, body, &opts, on_done, req, &error);
    json_decref(body);
    if (err != DBEV_ERR_NO_ERROR) {
        c->in_flight--;
        c->fig.failed++;
        problem(c, "%s: refused by the client: %s", req->cid,
                error && dbev_error_message(error) ? dbev_error_message(error)
                                                   : dbev_err2name(err));
        dbev_error_destroy(error);
        free(req);
    }
}

/* Waits for answers up to until_us (monotonic), serving them. */
static void serve_until(canary_t *c, int64_t until_us)
{
    int64_t left_us = until_us - dbev_mono_us();
    int ms = left_us > 0 ? (int)((left_us + 999) / 1000) : 0;
    struct pollfd pfd = {.fd = dbev_client_fd(c->client), .events = POLLIN};
    if (ms > 0)
        poll(&pfd, 1, ms > 100 ? 100 : ms);
    dbev_client_poll(c->client, 0);
}

static void *canary_main(void *arg)
{
    canary_t *c = arg;
    c->start_us = dbev_mono_us();
    for (int64_t i = 0; !atomic_load(&c->stop); i++) {
        int64_t due = c->start_us + (int64_t)llround((double)i * 1e6 / c->spec.rate);
        while (!atomic_load(&c->stop) && dbev_mono_us() < due)
            serve_until(c, due);
        if (atomic_load(&c->stop))
            break;
        send_one(c, i, due);
        dbev_client_poll(c->client, 0);
    }
    /* Stragglers: a request still in flight gets its timeout and a margin. */
    int64_t deadline = dbev_mono_us() + ((int64_t)c->spec.timeout_ms + 2000) * 1000;
    while (c->in_flight > 0 && dbev_mono_us() < deadline)
        serve_until(c, deadline);
    c->fig.unfinished = c->in_flight;
    int64_t settle = dbev_mono_us() + CANARY_SETTLE_MS * 1000;
    while (dbev_mono_us() < settle)
        serve_until(c, settle);
    return NULL;
}

static dbev_client_t *canary_client(runctx_t *ctx, char *errstr, size_t size)
{
    dbev_conf_t *conf = dbev_conf_new();
    char name[96];
    snprintf(name, sizeof(name), "canary-%s", ctx->topic_env);
    if (!conf ||
        dbev_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(ctx->kafka), errstr, size) ||
        dbev_conf_set(conf, "topic.prefix", ctx->topic_env, errstr, size) ||
        dbev_conf_set(conf, "service.name", name, errstr, size) ||
        dbev_conf_set(conf, "max.retries", "0", errstr, size)) {
        dbev_conf_destroy(conf);
        return NULL;
    }
    kprofile_client(conf, mockenv_is_mock(ctx->kafka));
    dbev_client_t *client = dbev_client_new(conf, errstr, size);
    if (!client)
        dbev_conf_destroy(conf);
    return client;
}

canary_t *canary_start(runctx_t *ctx, const scenario_canary_t *spec, char *errstr, size_t size)
{
    if (!ctx->kafka) {
        dbev_seterr(errstr, size, "canary: no Kafka environment (--mode direct)");
        return NULL;
    }
    canary_t *c = calloc(1, sizeof(*c));
    if (!c) {
        dbev_seterr(errstr, size, "canary: out of memory");
        return NULL;
    }
    c->ctx = ctx;
    c->spec = *spec;
    char uuid[40];
    dbev_uuid_new(uuid);
    snprintf(c->prefix, sizeof(c->prefix), "canary-%.8s", uuid);
    c->client = canary_client(ctx, errstr, size);
    if (!c->client)
        goto fail;
    /* Its own path up first (consumer assigned, leaders known), not counted. */
    dbev_call_opts_t opts = {.timeout_ms = CANARY_READY_TIMEOUT_MS, .max_retries = -1};
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_health_check(c->client, &opts, &result, &error);
    bool answered =
        result ||
        (error && (dbev_error_code(error) >= 0 || dbev_error_code(error) == DBEV_ERR__UNHEALTHY));
    if (!answered)
        dbev_seterr(errstr, size, "canary: its HEALTH request got no answer within %d ms (%s)",
                    CANARY_READY_TIMEOUT_MS,
                    error && dbev_error_message(error) ? dbev_error_message(error) : "?");
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    if (!answered)
        goto fail;
    if (pthread_create(&c->thread, NULL, canary_main, c) != 0) {
        dbev_seterr(errstr, size, "canary: cannot start its thread");
        goto fail;
    }
    return c;
fail:
    dbev_client_destroy(c->client);
    free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, size_t n, double pct)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)ceil(pct / 100.0 * (double)n);
    return sorted[i ? i - 1 : 0];
}

int canary_stop(canary_t *c, canary_figures_t *fig)
{
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    dbev_client_stats_t stats;
    dbev_client_stats(c->client, &stats);
    c->fig.duplicates = (int64_t)stats.duplicate;
    if (c->fig.duplicates)
        problem(c, "%lld answer(s) for canary requests already answered",
                (long long)c->fig.duplicates);
    if (c->fig.unfinished)
        problem(c, "%lld canary request(s) still unanswered after their timeout",
                (long long)c->fig.unfinished);
    for (int i = 0; i < adapters_count(c->ctx->adapters); i++)
        if (!adapters_running(c->ctx->adapters, i)) {
            c->fig.adapters_down++;
            problem(c, "adapter instance %d is not running", i);
        }
    qsort(c->samples, c->n_samples, sizeof(double), cmp_double);
    c->fig.p50_ms = percentile(c->samples, c->n_samples, 50);
    c->fig.p99_ms = percentile(c->samples, c->n_samples, 99);
    c->fig.max_ms = c->n_samples ? c->samples[c->n_samples - 1] : 0;
    *fig = c->fig;
    dbev_client_destroy(c->client);
    free(c->samples);
    free(c);
    return fig->failed || fig->slow || fig->duplicates || fig->unfinished || fig->adapters_down ||
                   fig->sent == 0
               ? -1
               : 0;
}

void canary_describe(const canary_figures_t *fig, double max_latency_ms, char *buf, size_t size)
{
    snprintf(buf, size,
             "canary: %lld sent, %lld answered, %lld failed, %lld over %.0f ms, %lld answered "
             "twice, %lld unanswered; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms%s%s",
             (long long)fig->sent, (long long)fig->answered, (long long)fig->failed,
             (long long)fig->slow, max_latency_ms, (long long)fig->duplicates,
             (long long)fig->unfinished, fig->p50_ms, fig->p99_ms, fig->max_ms,
             fig->first_problem[0] ? "; first problem: " : "", fig->first_problem);
}
