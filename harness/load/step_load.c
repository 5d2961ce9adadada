/*
 * The `load:` step: an open-loop, constant-arrival-rate load in the manner of
 * wrk2. Request i of a load at rate R is due at start + i/R whatever happened
 * to the requests before it, and its latency is measured from that intended
 * time to its answer, so a stall in the system under test shows up as the
 * latency every queued request really suffered (coordinated omission
 * corrected) instead of as a pause in sending.
 *
 * One thread (the runner's) sends and serves completions: it issues every
 * request that is due through opcall_start(), then waits in poll(2) on the
 * client's descriptor until the next request is due or a completion arrives,
 * and serves completions with dbev_client_poll(). Every answer goes into the
 * latency histogram, the per-second time series, the errors by code and the
 * request/reply checker (keyed by the correlation ids the load sets itself).
 * After the last send the load waits, with a deadline, for stragglers so that
 * late and duplicate answers are counted, then looks every acknowledged write
 * up in PostgreSQL. Stress mode runs the same engine over a staircase of
 * rates and reports the knee. The pure parts live in load_spec.c and
 * load_judge.c (load.h), the write lookup in load_writes.c.
 */
#include "load/checker.h"
#include "dbev_common.h"
#include "load/load.h"
#include "load/load_writes.h"
#include "run/metrics.h"
#include "scenario/opcall.h"
#include "scenario/runctx.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DRAIN_MARGIN_MS 2000 /* beyond the request timeout, for the client's timers */
#define SETTLE_MS       200  /* how long to watch for duplicates after the last answer */
#define PROGRESS_US     250000

typedef struct phase {
    load_phase_t fig;
    int64_t start_us; /* intended time of its first request */
    int64_t count;    /* requests it sends */
    int64_t done;     /* requests finished (answered, failed, refused) */
    int64_t over;     /* stress: finished with a latency above stress.p99_ms */
    bool warmup;      /* warm-up requests: checked, but kept out of the latency figures */
    dbev_hist_t *hist;
} phase_t;

/* Everything a completion callback touches, under lock: callbacks run in
 * dbev_client_poll() on whichever thread polls the client, which is another
 * load's when two loads share a client (a parallel: group). The run is
 * freed by the last of its owner and its pending requests (refs); once the
 * load gives up on requests still pending, it is marked abandoned and their
 * callbacks only drop their reference. */
typedef struct run {
    pthread_mutex_t lock;
    int64_t refs; /* the owner + every request in flight */
    bool abandoned;
    int64_t in_flight;

    const load_spec_t *spec;
    checker_t *checker;
    dbev_hist_t *hist;     /* every latency */
    dbev_hist_t *hist_sec; /* latencies of the current second */
    dbev_hist_t *service;  /* the adapter's service times (metadata.service_ms), warm-up apart */
    json_t *errors;        /* code -> count */
    dbev_report_load_t *rload;
    phase_t *phases;
    size_t n_phases, cap_phases;

    int64_t start_us;
    int64_t last_done_us;
    int64_t requests, answered, errors_n, timeouts, cap_waits;
    int64_t sec_index, sec_answers, sec_errors;
} run_t;

typedef struct req {
    run_t *run;
    int64_t intended_us;
    size_t phase;
    char cid[64];
} req_t;

static void count_error(run_t *run, const char *code)
{
    json_t *n = json_object_get(run->errors, code);
    json_object_set_new(run->errors, code, json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* An answer's service time (metadata.service_ms: the adapter's share of
 * its latency) into the service histogram, beside the end-to-end one. */
static void record_service(run_t *run, const req_t *req, const json_t *metadata)
{
    const json_t *ms = json_object_get(metadata, "service_ms");
    if (json_is_number(ms) && json_number_value(ms) >= 0 && !run->phases[req->phase].warmup)
        dbev_hist_record(run->service, (int64_t)(json_number_value(ms) * 1000.0));
}

/* A request is finished: answered, failed, timed out or refused at once. */
static void finish(run_t *run, const req_t *req, int64_t now, bool failed)
{
    int64_t latency = now - req->intended_us;
    if (latency < 0)
        latency = 0;
    phase_t *phase = &run->phases[req->phase];
    dbev_hist_record(run->hist_sec, latency); /* the time series shows the warm-up too */
    if (!phase->warmup) {
        dbev_hist_record(run->hist, latency);
        dbev_hist_record(phase->hist, latency);
    }
    phase->done++;
    const load_stress_t *stress = &run->spec->stress;
    if (stress->on && !phase->warmup && (double)latency > stress->p99_ms * 1000.0)
        phase->over++;
    if (failed) {
        run->errors_n++;
        run->sec_errors++;
        phase->fig.errors++;
    }
    if (now > run->last_done_us)
        run->last_done_us = now;
}

static void on_done(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error, void *opaque)
{
    (void)client;
    req_t *req = opaque;
    run_t *run = req->run;
    pthread_mutex_lock(&run->lock);
    run->in_flight--;
    if (run->abandoned) {
        bool last = --run->refs == 0;
        pthread_mutex_unlock(&run->lock);
        if (last) {
            pthread_mutex_destroy(&run->lock);
            free(run);
        }
        goto out;
    }
    run->refs--; /* the owner's reference is still held: the run stays */
    int64_t now = dbev_mono_us();
    if (result) {
        checker_answered(run->checker, req->cid, now, true);
        run->answered++;
        run->sec_answers++;
        record_service(run, req, dbev_result_metadata(result));
        finish(run, req, now, false);
    } else {
        dbev_err_t code = dbev_error_code(error);
        count_error(run, dbev_error_name(error));
        if (code == DBEV_ERR__TIMEOUT)
            run->timeouts++;
        /* Local codes (negative: _TIMEOUT, _TRANSPORT, ...) are the client's
         * verdict, not an answer from the adapter. */
        if (code >= 0) {
            checker_answered(run->checker, req->cid, now, false);
            run->answered++;
            run->sec_answers++;
            record_service(run, req, dbev_error_metadata(error));
        }
        finish(run, req, now, true);
    }
    pthread_mutex_unlock(&run->lock);
out:
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    free(req);
}

/* ---- per-request substitution ------------------------------------------------- */

/* The request's body (and write key, when the load declares one), through
 * vars' one engine: ${seq} (drawn from the scenario's counter) and
 * ${req_uuid} are drawn once and bound for the request, so every use in its
 * template and its key shares them; every other placeholder as anywhere. */
static json_t *make_body(vars_t *vars, const load_spec_t *spec, char *key, size_t key_size,
                         char *errstr, size_t size)
{
    char uuid[40];
    json_t *seq = json_integer(vars_next_seq(vars));
    dbev_uuid_new(uuid);
    json_t *req_uuid = json_string(uuid);
    const vars_binding_t per_request[] = {{"seq", seq}, {"req_uuid", req_uuid}};

    json_t *pair = json_object();
    json_object_set(pair, "body", (json_t *)spec->tmpl);
    if (spec->key_value)
        json_object_set(pair, "key", (json_t *)spec->key_value);
    json_t *done = vars_substitute_with(vars, pair, per_request, 2, errstr, size);
    json_decref(pair);
    json_decref(seq);
    json_decref(req_uuid);
    if (!done)
        return NULL;
    json_t *body = json_incref(json_object_get(done, "body"));
    const json_t *k = json_object_get(done, "key");
    key[0] = '\0';
    if (json_is_string(k)) {
        snprintf(key, key_size, "%s", json_string_value(k));
    } else if (json_is_integer(k)) {
        snprintf(key, key_size, "%lld", (long long)json_integer_value(k));
    } else if (k) {
        char *text = json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(key, key_size, "%s", text ? text : "");
        free(text);
    }
    json_decref(done);
    return body;
}

/* ---- the engine --------------------------------------------------------------- */

static phase_t *add_phase(run_t *run, double rate, int64_t start_us, int64_t count)
{
    if (run->n_phases == run->cap_phases) {
        size_t cap = run->cap_phases ? run->cap_phases * 2 : 8;
        phase_t *grown = realloc(run->phases, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        run->phases = grown;
        run->cap_phases = cap;
    }
    phase_t *phase = &run->phases[run->n_phases];
    memset(phase, 0, sizeof(*phase));
    if (!(phase->hist = dbev_hist_new()))
        return NULL;
    phase->fig.rate = rate;
    phase->start_us = start_us;
    phase->count = count;
    run->n_phases++;
    return phase;
}

/* Emits one time-series point per whole second that ended by now. */
static void flush_seconds(run_t *run, int64_t now)
{
    while (now >= run->start_us + (run->sec_index + 1) * 1000000) {
        run->sec_index++;
        if (run->rload)
            dbev_report_load_add_point(run->rload, run->sec_index * 1000000,
                                       (double)run->sec_answers,
                                       dbev_hist_percentile(run->hist_sec, 99), run->sec_errors);
        dbev_hist_reset(run->hist_sec);
        run->sec_answers = run->sec_errors = 0;
    }
}

/* The partial last second, scaled to a rate. */
static void flush_tail(run_t *run, int64_t end_us)
{
    flush_seconds(run, end_us);
    int64_t t = end_us - run->start_us;
    int64_t part = t - run->sec_index * 1000000;
    if (part > 0 && run->rload && (run->sec_answers || run->sec_errors))
        dbev_report_load_add_point(run->rload, t, (double)run->sec_answers * 1e6 / (double)part,
                                   dbev_hist_percentile(run->hist_sec, 99), run->sec_errors);
}

/* Whether a stress phase has broken already, before all its requests are
 * finished: more than 1% of its requests above the p99 bound, or more errors
 * than its error budget. Ending the climb there saves the time the overloaded
 * requests would need to time out. */
static bool phase_broken_early(const load_stress_t *stress, const phase_t *phase)
{
    return (double)phase->over > 0.01 * (double)phase->count ||
           (double)phase->fig.errors > stress->max_error_rate * (double)phase->count;
}

/* Judges a phase (finished, or broken early): whether it held its bounds. */
static bool phase_holds(const load_stress_t *stress, phase_t *phase)
{
    phase->fig.p99_us = dbev_hist_percentile(phase->hist, 99);
    double err = phase->fig.sent ? (double)phase->fig.errors / (double)phase->fig.sent : 0;
    phase->fig.held = !phase_broken_early(stress, phase) &&
                      (double)phase->fig.p99_us <= stress->p99_ms * 1000.0 &&
                      err <= stress->max_error_rate;
    return phase->fig.held;
}

/* Judges stress phases in order, as far as they can be judged: a phase once
 * all its requests finished, or as soon as it broke. The first that broke is
 * the knee; the phases after it were cut short and are left out. Any phase
 * known broken stops the sending. */
static void judge_phases(run_t *run, size_t *judged, bool *broke, bool *sending)
{
    const load_stress_t *stress = &run->spec->stress;
    for (size_t p = *judged; *sending && p < run->n_phases; p++)
        if (!run->phases[p].warmup && phase_broken_early(stress, &run->phases[p]))
            *sending = false;
    while (!*broke && *judged < run->n_phases) {
        phase_t *phase = &run->phases[*judged];
        if (phase->warmup) {
            (*judged)++;
            continue;
        }
        bool fully_sent = *judged + 1 < run->n_phases || !*sending;
        bool finished = fully_sent && phase->done >= phase->fig.sent;
        if (!finished && !phase_broken_early(stress, phase))
            break;
        (*judged)++;
        if (!phase_holds(stress, phase)) {
            *broke = true;
            *sending = false;
        }
    }
}

static void progress(const runctx_t *ctx, const run_t *run, const step_t *step, int64_t now,
                     double rate, int64_t end_us, bool clear)
{
    if (!ctx->opts || !ctx->opts->progress)
        return;
    if (clear) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        return;
    }
    double elapsed = (double)(now - run->start_us) / 1e6;
    double left = end_us > now ? (double)(end_us - now) / 1e6 : 0;
    bool warmup = run->n_phases && run->phases[run->n_phases - 1].warmup;
    fprintf(stderr,
            "\r\033[K  load %.40s: %s%.0f/s  in flight %lld  answered %lld  errors %lld  %.1f s, "
            "%.1f s left",
            step->name ? step->name : "", warmup ? "warm-up " : "", rate, (long long)run->in_flight,
            (long long)run->answered, (long long)run->errors_n, elapsed, left);
    fflush(stderr);
}

typedef struct engine {
    runctx_t *ctx;
    const step_t *step;
    const load_spec_t *spec;
    run_t *run;
    vars_t *vars;
    char cid_prefix[16];
    size_t n_judged; /* stress: phases judged (the staircase) */
    int64_t last_send_us;
    char errstr[512];
} engine_t;

/* Issues request i of the current phase. Returns 0, or -1 when the harness
 * could not build it (a variable that does not resolve: the step is an ERROR). */
static int send_one(engine_t *e, size_t phase_index, int64_t intended_us, int64_t i)
{
    run_t *run = e->run;
    char key[256];
    json_t *body = make_body(e->vars, e->spec, key, sizeof(key), e->errstr, sizeof(e->errstr));
    if (!body)
        return -1;
    req_t *req = calloc(1, sizeof(*req));
    if (!req) {
        json_decref(body);
        return dbev_seterr(e->errstr, sizeof(e->errstr), "out of memory");
    }
    req->run = run;
    req->intended_us = intended_us;
    req->phase = phase_index;
    snprintf(req->cid, sizeof(req->cid), "%s-%lld", e->cid_prefix, (long long)i);

    dbev_call_opts_t opts = {0};
    opts.timeout_ms = e->spec->timeout_ms;
    opts.correlation_id = req->cid;
    opts.max_retries = e->spec->max_retries;
    dbev_error_t *error = NULL;
    int64_t now = dbev_mono_us();
    int attempts = e->spec->max_retries > 0 ? e->spec->max_retries + 1 : 1;
    int64_t deadline =
        now + (int64_t)attempts * e->spec->timeout_ms * 1000 + DRAIN_MARGIN_MS * 1000;
    if (checker_sent(run->checker, req->cid, deadline, e->spec->key_value ? key : NULL)) {
        dbev_seterr(e->errstr, sizeof(e->errstr), "correlation id %s used twice (harness bug)",
                    req->cid);
        json_decref(body);
        free(req);
        return -1;
    }
    run->requests++;
    run->phases[phase_index].fig.sent++;
    run->in_flight++;
    run->refs++;
    e->last_send_us = now;
    dbev_err_t err = opcall_start(e->ctx->client, e->spec->op, body, &opts, on_done, req, &error);
    json_decref(body);
    if (err != DBEV_ERR_NO_ERROR) {
        /* Refused at once (the client's breaker is open, ...): the caller saw
         * a failure, never a request on the wire. */
        run->in_flight--;
        run->refs--;
        count_error(run, error ? dbev_error_name(error) : dbev_err2name(err));
        finish(run, req, dbev_mono_us(), true);
        dbev_error_destroy(error);
        free(req);
    }
    return 0;
}

/* Runs the schedule: one phase (a plain load) or a staircase (stress). */
static int run_schedule(engine_t *e)
{
    const load_spec_t *spec = e->spec;
    const load_stress_t *stress = &spec->stress;
    run_t *run = e->run;
    int fd = dbev_client_fd(e->ctx->client);
    int64_t limit_us = run->start_us + (int64_t)(spec->duration_s * 1e6);
    double rate = spec->rate;
    int64_t count = stress->on ? load_count_for(rate, stress->step_duration_s, 0) : spec->count;
    int64_t main_start = run->start_us;
    if (spec->warmup_s > 0) {
        /* Warm-up at the load's (start) rate, on the same schedule. */
        int64_t n = load_count_for(rate, spec->warmup_s, 0);
        phase_t *warm = add_phase(run, rate, run->start_us, n);
        if (!warm)
            return dbev_seterr(e->errstr, sizeof(e->errstr), "out of memory");
        warm->warmup = true;
        main_start = load_intended_us(run->start_us, n, rate);
    } else if (!add_phase(run, rate, main_start, count)) {
        return dbev_seterr(e->errstr, sizeof(e->errstr), "out of memory");
    }
    int64_t end_us = stress->on ? limit_us : load_intended_us(main_start, count, rate);
    int64_t i = 0, global = 0, next_progress = run->start_us;
    size_t judged = 0;
    bool sending = true, waiting_cap = false, broke = false;

    /* The run's state is locked except while waiting and serving callbacks. */
    pthread_mutex_lock(&run->lock);
    while (sending || run->in_flight > 0) {
        int64_t now = dbev_mono_us();
        flush_seconds(run, now);
        while (sending) {
            phase_t *phase = &run->phases[run->n_phases - 1];
            int64_t due = load_intended_us(phase->start_us, i, phase->fig.rate);
            if (now < due)
                break;
            if (run->in_flight >= spec->max_in_flight) {
                if (!waiting_cap)
                    run->cap_waits++;
                waiting_cap = true;
                break;
            }
            waiting_cap = false;
            if (send_one(e, run->n_phases - 1, due, global++))
                goto fail;
            if (++i < phase->count)
                continue;
            /* The phase is fully sent: after the warm-up the load proper
             * starts, a plain load ends, stress climbs on if the next step
             * still fits in its time bound. */
            int64_t next_start = load_intended_us(phase->start_us, phase->count, phase->fig.rate);
            i = 0;
            if (phase->warmup) {
                if (!add_phase(run, rate, next_start, count))
                    goto oom;
                continue;
            }
            double next_rate = load_rate_next(phase->fig.rate, &stress->step);
            if (!stress->on ||
                next_start + (int64_t)(stress->step_duration_s * 1e6) > limit_us + 1000) {
                sending = false;
                break;
            }
            if (!add_phase(run, next_rate, next_start,
                           load_count_for(next_rate, stress->step_duration_s, 0)))
                goto oom;
        }
        if (stress->on)
            judge_phases(run, &judged, &broke, &sending);
        if (now >= next_progress) {
            progress(e->ctx, run, e->step, now, run->phases[run->n_phases - 1].fig.rate, end_us,
                     false);
            next_progress = now + PROGRESS_US;
        }
        if (!sending && run->in_flight == 0)
            break;
        if (!sending &&
            now > e->last_send_us + ((int64_t)(spec->max_retries > 0 ? spec->max_retries + 1 : 1) *
                                         spec->timeout_ms +
                                     DRAIN_MARGIN_MS) *
                                        1000)
            break; /* the client never called back: give up on the rest */

        /* Waits to the microsecond (ppoll): poll's whole milliseconds made
         * every send up to 1 ms late, and lateness counts as latency. */
        int64_t timeout_us = 100000;
        if (sending && !waiting_cap) {
            phase_t *phase = &run->phases[run->n_phases - 1];
            int64_t wait = load_intended_us(phase->start_us, i, phase->fig.rate) - dbev_mono_us();
            timeout_us = wait < 0 ? 0 : wait > 100000 ? 100000 : wait;
        }
        pthread_mutex_unlock(&run->lock);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        struct timespec ts = {0, (long)timeout_us * 1000L};
        ppoll(&pfd, 1, &ts, NULL);
        dbev_client_poll(e->ctx->client, 0);
        pthread_mutex_lock(&run->lock);
    }
    /* Phases finished after the last pass of the loop (or abandoned). */
    if (stress->on) {
        judge_phases(run, &judged, &broke, &sending);
        for (; !broke && judged < run->n_phases; judged++)
            broke = !run->phases[judged].warmup && !phase_holds(stress, &run->phases[judged]);
        e->n_judged = judged;
    }
    /* Requests still pending now are given up on: their callbacks, whenever
     * they come, touch nothing but the reference count. */
    run->abandoned = run->in_flight > 0;
    pthread_mutex_unlock(&run->lock);
    progress(e->ctx, run, e->step, 0, 0, 0, true);
    return 0;
oom:
    dbev_seterr(e->errstr, sizeof(e->errstr), "out of memory");
fail:
    run->abandoned = run->in_flight > 0;
    pthread_mutex_unlock(&run->lock);
    progress(e->ctx, run, e->step, 0, 0, 0, true);
    return -1;
}

/* After the last answer: watch for second answers (duplicates) for a short
 * while, and when requests timed out, for their answers arriving late, until
 * each has come or the request timeout plus a margin has passed since the
 * last send. The client counts both; nothing here needs the callbacks. */
static void settle(engine_t *e, const dbev_client_stats_t *before)
{
    int fd = dbev_client_fd(e->ctx->client);
    int64_t start = dbev_mono_us(), now;
    int64_t min_end = start + SETTLE_MS * 1000, deadline = min_end;
    if (e->run->timeouts) {
        int attempts = e->spec->max_retries > 0 ? e->spec->max_retries + 1 : 1;
        int64_t late_end =
            e->last_send_us + ((int64_t)attempts * e->spec->timeout_ms + DRAIN_MARGIN_MS) * 1000;
        if (late_end > deadline)
            deadline = late_end;
    }
    while ((now = dbev_mono_us()) < deadline) {
        dbev_client_stats_t st;
        dbev_client_stats(e->ctx->client, &st);
        if (now >= min_end && (int64_t)(st.late - before->late) >= e->run->timeouts)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = (deadline - now + 999) / 1000;
        poll(&pfd, 1, left > 50 ? 50 : (int)left);
        dbev_client_poll(e->ctx->client, 0);
    }
}

/* Before the first request: one HEALTH round trip through Kafka, the adapter
 * and PostgreSQL, so that the load measures a path that is up rather than
 * consumer-group start-up (which a scenario's first step may otherwise meet).
 * One attempt, kept out of every figure; its failure is logged and the load
 * runs anyway, so a path that is really down is measured as such. */
#define READY_TIMEOUT_MS 10000
static void wait_ready(runctx_t *ctx, const load_spec_t *spec)
{
    dbev_call_opts_t opts = {0};
    opts.timeout_ms = spec->timeout_ms > READY_TIMEOUT_MS ? spec->timeout_ms : READY_TIMEOUT_MS;
    opts.max_retries = -1;
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    int64_t t0 = dbev_mono_us();
    dbev_err_t err = dbev_health_check(ctx->client, &opts, &result, &error);
    double ms = (double)(dbev_mono_us() - t0) / 1000.0;
    if (err == DBEV_ERR_NO_ERROR || err == DBEV_ERR__UNHEALTHY ||
        (error && dbev_error_code(error) >= 0))
        dbev_logf(ctx->logger, DBEV_LOG_DEBUG, NULL, "load: the path answered in %.1f ms", ms);
    else
        dbev_logf(ctx->logger, DBEV_LOG_WARN, NULL,
                  "load: no answer to a health check in %.0f ms (%s); starting anyway", ms,
                  error ? dbev_error_message(error) : dbev_err2name(err));
    dbev_result_destroy(result);
    dbev_error_destroy(error);
}

/* ---- the step ---------------------------------------------------------------- */

/* A run with its lock and the owner's reference; NULL when out of memory. */
static run_t *run_new(void)
{
    run_t *run = calloc(1, sizeof(*run));
    if (!run)
        return NULL;
    pthread_mutex_init(&run->lock, NULL);
    run->refs = 1;
    if (!(run->checker = checker_new()) || !(run->hist = dbev_hist_new()) ||
        !(run->hist_sec = dbev_hist_new()) || !(run->service = dbev_hist_new()) ||
        !(run->errors = json_object())) {
        checker_destroy(run->checker);
        dbev_hist_destroy(run->hist);
        dbev_hist_destroy(run->hist_sec);
        dbev_hist_destroy(run->service);
        pthread_mutex_destroy(&run->lock);
        free(run);
        return NULL;
    }
    return run;
}

/* Drops the owner's reference: frees the figures, and the run itself unless
 * requests are still pending (their last callback frees it). */
static void run_free(run_t *run)
{
    if (!run)
        return;
    pthread_mutex_lock(&run->lock);
    run->abandoned = true;
    checker_destroy(run->checker);
    dbev_hist_destroy(run->hist);
    dbev_hist_destroy(run->hist_sec);
    dbev_hist_destroy(run->service);
    json_decref(run->errors);
    for (size_t p = 0; p < run->n_phases; p++)
        dbev_hist_destroy(run->phases[p].hist);
    free(run->phases);
    run->checker = NULL;
    run->hist = run->hist_sec = run->service = NULL;
    run->errors = NULL;
    run->phases = NULL;
    run->n_phases = 0;
    bool last = --run->refs == 0;
    pthread_mutex_unlock(&run->lock);
    if (last) {
        pthread_mutex_destroy(&run->lock);
        free(run);
    }
}

static void fill_report(run_t *run, const load_figures_t *f)
{
    if (!run->rload)
        return;
    dbev_report_load_set_hist(run->rload, run->hist);
    if (dbev_hist_count(run->service))
        dbev_report_load_set_service_hist(run->rload, run->service);
    dbev_report_load_summary_t summary = {
        .target_rate = f->target_rate,
        .duration_us = f->duration_us,
        .sent = f->requests,
        .answered = f->answered,
        .throughput = f->throughput,
    };
    dbev_report_load_set_summary(run->rload, &summary);
    dbev_report_checker_t checker;
    load_report_checker(f, &checker);
    dbev_report_load_set_checker(run->rload, &checker);
    const char *code;
    json_t *n;
    json_object_foreach(run->errors, code, n)
        dbev_report_load_add_errors(run->rload, code, json_integer_value(n));
}

int step_run_load(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    load_spec_t spec;
    char errstr[512];
    if (load_spec_parse(step->body, &spec, errstr, sizeof(errstr)))
        return step_fail(res, DBEV_REPORT_ERROR, "%s: %s", step->where, errstr);
    if (!ctx->client)
        return step_fail(res, DBEV_REPORT_SKIP,
                         "load steps run on the event path; this run has no client "
                         "(--mode direct)");

    vars_t *own_vars = NULL;
    vars_t *vars = ctx->vars;
    if (!vars && !(vars = own_vars = vars_new(ctx->opts ? ctx->opts->seed : 0)))
        return step_fail(res, DBEV_REPORT_ERROR, "out of memory");

    run_t *run = run_new();
    if (!run) {
        vars_destroy(own_vars);
        return step_fail(res, DBEV_REPORT_ERROR, "out of memory");
    }
    run->spec = &spec;
    run->rload = res->report_step ? dbev_report_step_load(res->report_step) : NULL;

    engine_t e = {.ctx = ctx, .step = step, .spec = &spec, .run = run, .vars = vars};
    char uuid[40];
    dbev_uuid_new(uuid);
    snprintf(e.cid_prefix, sizeof(e.cid_prefix), "load-%.8s", uuid);

    wait_ready(ctx, &spec);
    dbev_client_stats_t before, after;
    dbev_client_stats(ctx->client, &before);
    run->start_us = dbev_mono_us();
    run->last_done_us = run->start_us;
    int rc = run_schedule(&e);
    if (rc) {
        step_fail(res, DBEV_REPORT_ERROR, "%s: load: %s", step->where, e.errstr);
        run_free(run);
        vars_destroy(own_vars);
        return 0;
    }
    settle(&e, &before);
    dbev_client_stats(ctx->client, &after);
    flush_tail(run, run->last_done_us);

    load_figures_t f = {0};
    f.target_rate = spec.stress.on ? 0 : spec.rate;
    f.duration_us = run->last_done_us - run->start_us;
    f.requests = run->requests;
    f.answered = run->answered;
    f.errors = run->errors_n;
    f.throughput = f.duration_us > 0 ? (double)f.answered * 1e6 / (double)f.duration_us : 0;
    f.p50_us = dbev_hist_percentile(run->hist, 50);
    f.p90_us = dbev_hist_percentile(run->hist, 90);
    f.p95_us = dbev_hist_percentile(run->hist, 95);
    f.p99_us = dbev_hist_percentile(run->hist, 99);
    f.p999_us = dbev_hist_percentile(run->hist, 99.9);
    f.max_us = dbev_hist_max(run->hist);
    f.errors_by_code = run->errors;
    f.cap_waits = run->cap_waits;
    checker_summarize(run->checker, &f.checker);
    f.late = (int64_t)(after.late - before.late);
    f.duplicate = (int64_t)(after.duplicate - before.duplicate);
    f.unknown = (int64_t)(after.unknown - before.unknown);
    load_phase_t *phases = NULL;
    if (spec.stress.on) {
        phases = calloc(e.n_judged ? e.n_judged : 1, sizeof(*phases));
        size_t n = 0;
        for (size_t p = 0; phases && p < e.n_judged; p++)
            if (!run->phases[p].warmup)
                phases[n++] = run->phases[p].fig;
        f.phases = phases;
        f.n_phases = n;
        const load_phase_t *held = NULL;
        for (size_t p = 0; p < f.n_phases && phases[p].held; p++)
            held = &phases[p];
        f.target_rate = held ? held->rate : 0;
    }

    bool want_writes = spec.key_value != NULL;
    if (want_writes) {
        if (load_check_writes(ctx, &spec, run->checker, &f.writes, errstr, sizeof(errstr))) {
            step_fail(res, DBEV_REPORT_ERROR, "%s: %s", step->where, errstr);
            fill_report(run, &f);
            free(phases);
            run_free(run);
            vars_destroy(own_vars);
            return 0;
        }
        f.writes_checked = true;
    }
    fill_report(run, &f);

    res->metrics = load_metrics(&f, &spec, run->service);

    load_verdict_t verdict;
    load_judge(step->expect, &f, spec.stress.on, &verdict);
    res->status = verdict.status;
    snprintf(res->expected, sizeof(res->expected), "%s", verdict.expected);
    snprintf(res->actual, sizeof(res->actual), "%s", verdict.actual);
    if (spec.stress.on) {
        /* The knee is the stress step's finding: it goes in the message also on a pass. */
        char knee[512];
        load_knee_text(&f, &spec.stress, knee, sizeof(knee));
        snprintf(res->message, sizeof(res->message), "%.500s%s%.1500s", knee,
                 verdict.message[0] ? "; " : "", verdict.message);
        if (ctx->report && ctx->scenario) {
            char key[300];
            snprintf(key, sizeof(key), "stress knee: %s / %s", ctx->scenario->name,
                     step->name ? step->name : "");
            dbev_report_set_env(ctx->report, key, knee);
        }
    } else {
        snprintf(res->message, sizeof(res->message), "%s", verdict.message);
    }
    if (verdict.status == DBEV_REPORT_FAIL && run->cap_waits)
        snprintf(res->message + strlen(res->message), sizeof(res->message) - strlen(res->message),
                 " (max_in_flight %d was reached %lld times)", spec.max_in_flight,
                 (long long)run->cap_waits);
    dbev_logf(ctx->logger, DBEV_LOG_INFO, NULL,
              "load %s: %lld requests %s %.0f/s, %lld answered, %lld errors, p50 %.1f ms p99 %.1f "
              "ms max %.1f ms, %.1f/s, max_in_flight reached %lld times",
              step->name ? step->name : "", (long long)f.requests,
              spec.stress.on ? "in a stress climb from" : "at", spec.rate, (long long)f.answered,
              (long long)f.errors, (double)f.p50_us / 1000, (double)f.p99_us / 1000,
              (double)f.max_us / 1000, f.throughput, (long long)f.cap_waits);
    free(phases);
    run_free(run);
    vars_destroy(own_vars);
    return 0;
}
