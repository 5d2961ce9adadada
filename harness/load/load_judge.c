/*
 * Judging a load's figures against its `expect:` mapping (see load.h). Each
 * expectation that broke is named with the number that broke it and the
 * bound, e.g. "p95 142.3 ms > bound 100 ms", so a failed CI run says what
 * to look at without opening the report. Also what else the figures become:
 * the report's checker line, the stress knee's sentence, the run's metrics.
 */
#include "load/load.h"

#include "dbev_common.h"
#include "run/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct judge {
    load_verdict_t *v;
    bool failed, errored;
    bool warned; /* a timing bound missed under DBEV_TIMING_ADVISORY: say so, even in a pass */
} judge_t;

static void append(char *buf, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void append(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t len = strlen(buf);
    if (len + 3 >= size)
        return;
    if (len) {
        memcpy(buf + len, "; ", 3);
        len += 2;
    }
    vsnprintf(buf + len, size - len, fmt, ap);
}

static void note(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(buf, size, fmt, ap);
    va_end(ap);
}

/* An expectation that could not be judged as written: the step is an ERROR. */
static void misuse(judge_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void misuse(judge_t *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(j->v->message, sizeof(j->v->message), fmt, ap);
    va_end(ap);
    j->errored = true;
}

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

/* "DB_ERROR 3, _TIMEOUT 1" from a code -> count object, restricted to codes
 * outside allowed when allowed is not NULL. Returns how many were listed. */
static int64_t codes_text(const json_t *by_code, const json_t *allowed, char *buf, size_t size)
{
    buf[0] = '\0';
    int64_t total = 0;
    size_t len = 0;
    const char *code;
    json_t *n;
    json_object_foreach((json_t *)by_code, code, n)
    {
        if (allowed) {
            bool ok = false;
            size_t i;
            json_t *a;
            json_array_foreach(allowed, i, a) ok =
                ok || (json_is_string(a) && !strcmp(json_string_value(a), code));
            if (ok)
                continue;
        }
        total += json_integer_value(n);
        if (len + 2 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s %lld", len ? ", " : "", code,
                                    (long long)json_integer_value(n));
        if (len >= size)
            len = size - 1;
    }
    return total;
}

static const load_phase_t *knee_held(const load_figures_t *f, const load_phase_t **broke)
{
    const load_phase_t *held = NULL;
    *broke = NULL;
    for (size_t i = 0; i < f->n_phases; i++) {
        if (!f->phases[i].held) {
            *broke = &f->phases[i];
            break;
        }
        held = &f->phases[i];
    }
    return held;
}

/*
 * Whether latency and throughput bounds only warn. A sanitizer build runs
 * every request 2-3 times slower, so there a bound judges the
 * instrumentation, not dbev: the scenario suites of a SANITIZE build set
 * DBEV_TIMING_ADVISORY=1 (tests/CMakeLists.txt), and a missed bound is then
 * named in the message without failing the step, as librdkafka's
 * TIMING_ASSERT only warns under valgrind. Losses, doubles and error rates
 * are judged as always.
 */
static bool timing_advisory(void)
{
    const char *s = getenv("DBEV_TIMING_ADVISORY");
    return s && *s && strcmp(s, "0") != 0;
}

static void timing_missed(judge_t *j)
{
    if (timing_advisory()) {
        note(j->v->message, sizeof(j->v->message), "%s",
             "not failing: DBEV_TIMING_ADVISORY (sanitizer build)");
        j->warned = true;
    } else
        j->failed = true;
}

static void judge_percentile(judge_t *j, const json_t *expect, const char *key, const char *label,
                             int64_t actual_us, bool stress)
{
    const json_t *v = json_object_get(expect, key);
    if (!v)
        return;
    if (stress) {
        misuse(j, "expect.%s does not apply to a stress run; its bound is stress.p99_ms", key);
        return;
    }
    if (!json_is_number(v) || json_number_value(v) <= 0) {
        misuse(j, "expect.%s must be a positive number of milliseconds", key);
        return;
    }
    double bound = json_number_value(v);
    note(j->v->expected, sizeof(j->v->expected), "%s <= %g ms", label, bound);
    note(j->v->actual, sizeof(j->v->actual), "%s %.1f ms", label, ms(actual_us));
    if (ms(actual_us) > bound) {
        note(j->v->message, sizeof(j->v->message), "%s %.1f ms > bound %g ms", label, ms(actual_us),
             bound);
        timing_missed(j);
    }
}

static bool is_fraction(const json_t *v)
{
    return json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1;
}

/* One error-rate bound: code NULL for all errors together. */
static void judge_one_rate(judge_t *j, const load_figures_t *f, const char *code, double bound)
{
    load_verdict_t *verdict = j->v;
    const json_t *n = code ? json_object_get(f->errors_by_code, code) : NULL;
    int64_t errors = code ? (n ? json_integer_value(n) : 0) : f->errors;
    double rate = f->requests ? (double)errors / (double)f->requests : 0;
    const char *label = code ? code : "error";
    note(verdict->expected, sizeof(verdict->expected), "%s rate <= %g%%", label, bound * 100);
    note(verdict->actual, sizeof(verdict->actual), "%s rate %.2f%%", label, rate * 100);
    if (rate <= bound)
        return;
    if (code) {
        note(verdict->message, sizeof(verdict->message), "%s rate %.2f%% (%lld of %lld) > max %g%%",
             code, rate * 100, (long long)errors, (long long)f->requests, bound * 100);
    } else {
        char codes[512];
        codes_text(f->errors_by_code, NULL, codes, sizeof(codes));
        note(verdict->message, sizeof(verdict->message),
             "error rate %.2f%% (%lld of %lld: %s) > max %g%%", rate * 100, (long long)errors,
             (long long)f->requests, codes, bound * 100);
    }
    j->failed = true;
}

/* max_error_rate: a fraction for all errors together, or a mapping of error
 * code to fraction (the key "all" bounds them together). */
static void judge_error_rate(judge_t *j, const json_t *v, const load_figures_t *f)
{
    if (is_fraction(v)) {
        judge_one_rate(j, f, NULL, json_number_value(v));
        return;
    }
    bool ok = json_is_object(v) && json_object_size(v) > 0;
    const char *code;
    json_t *bound;
    json_object_foreach((json_t *)v, code, bound) ok = ok && is_fraction(bound);
    if (!ok) {
        misuse(j, "expect.max_error_rate must be a fraction between 0 and 1 (0.01 is 1%%), or a "
                  "mapping of error code to fraction such as {TIMEOUT_ERROR: 0.01, all: 0.02}");
        return;
    }
    json_object_foreach((json_t *)v, code, bound)
        judge_one_rate(j, f, strcmp(code, "all") ? code : NULL, json_number_value(bound));
}

void load_judge(const json_t *expect, const load_figures_t *f, bool stress, load_verdict_t *verdict)
{
    memset(verdict, 0, sizeof(*verdict));
    judge_t j = {verdict, false, false, false};
    if (expect && !json_is_object(expect)) {
        misuse(&j, "expect must be a mapping");
        expect = NULL;
    }
    if (expect) {
        const json_t *v = json_object_get(expect, "min_throughput");
        if (v && (!json_is_number(v) || json_number_value(v) <= 0)) {
            misuse(&j, "expect.min_throughput must be a positive number of requests per second");
        } else if (v && stress) {
            const load_phase_t *broke, *held = knee_held(f, &broke);
            double bound = json_number_value(v), rate = held ? held->rate : 0;
            note(verdict->expected, sizeof(verdict->expected), "knee >= %g/s", bound);
            note(verdict->actual, sizeof(verdict->actual), "knee %.0f/s", rate);
            if (rate < bound) {
                note(verdict->message, sizeof(verdict->message),
                     "the highest rate that held is %.0f/s < min_throughput %g/s", rate, bound);
                timing_missed(&j);
            }
        } else if (v) {
            double bound = json_number_value(v);
            note(verdict->expected, sizeof(verdict->expected), "throughput >= %g/s", bound);
            note(verdict->actual, sizeof(verdict->actual), "throughput %.1f/s", f->throughput);
            if (f->throughput < bound) {
                note(verdict->message, sizeof(verdict->message),
                     "throughput %.1f/s < min_throughput %g/s (%lld answers in %.2f s)",
                     f->throughput, bound, (long long)f->answered, (double)f->duration_us / 1e6);
                timing_missed(&j);
            }
        }
        judge_percentile(&j, expect, "p50_ms", "p50", f->p50_us, stress);
        judge_percentile(&j, expect, "p90_ms", "p90", f->p90_us, stress);
        judge_percentile(&j, expect, "p95_ms", "p95", f->p95_us, stress);
        judge_percentile(&j, expect, "p99_ms", "p99", f->p99_us, stress);

        /* A lower bound: a scenario that injects a fault during the load
         * (a kill, a rebalance) says the fault must show in the latencies.
         * Without it, a fault that missed the load passes unseen: the kill
         * scenario's kill once landed before the load's first request and
         * every answer took under 11 ms. Never advisory: a slower build
         * only makes it easier to meet. */
        v = json_object_get(expect, "slowest_ms_at_least");
        if (v && (!json_is_number(v) || json_number_value(v) <= 0)) {
            misuse(&j, "expect.slowest_ms_at_least must be a positive number of milliseconds");
        } else if (v) {
            double bound = json_number_value(v);
            note(verdict->expected, sizeof(verdict->expected), "slowest >= %g ms", bound);
            note(verdict->actual, sizeof(verdict->actual), "slowest %.1f ms", ms(f->max_us));
            if (ms(f->max_us) < bound) {
                note(verdict->message, sizeof(verdict->message),
                     "the slowest answer took %.1f ms < slowest_ms_at_least %g ms: what the "
                     "scenario meant to slow the load (a fault during it) did not reach it",
                     ms(f->max_us), bound);
                j.failed = true;
            }
        }

        v = json_object_get(expect, "max_error_rate");
        if (v && stress)
            misuse(&j, "expect.max_error_rate does not apply to a stress run; use "
                       "stress.max_error_rate");
        else if (v)
            judge_error_rate(&j, v, f);

        v = json_object_get(expect, "error_codes");
        bool codes_ok = json_is_array(v);
        for (size_t i = 0; codes_ok && i < json_array_size(v); i++)
            codes_ok = json_is_string(json_array_get(v, i));
        if (v && !codes_ok) {
            misuse(&j, "expect.error_codes must be a list of error code names, e.g. "
                       "[TIMEOUT_ERROR, _TIMEOUT]");
        } else if (v && f->errors_by_code) {
            char codes[512];
            int64_t n = codes_text(f->errors_by_code, v, codes, sizeof(codes));
            note(verdict->expected, sizeof(verdict->expected), "only allowed error codes");
            note(verdict->actual, sizeof(verdict->actual), "%s", n ? codes : "none other");
            if (n) {
                note(verdict->message, sizeof(verdict->message),
                     "errors with codes not allowed: %s", codes);
                j.failed = true;
            }
        }

        v = json_object_get(expect, "no_loss");
        if (v && !json_is_boolean(v)) {
            misuse(&j, "expect.no_loss must be true or false");
        } else if (json_is_true(v)) {
            dbev_report_checker_t c;
            load_report_checker(f, &c);
            bool clean = c.unanswered == 0 && c.answered_twice == 0 && c.answered_late == 0 &&
                         c.unknown_ids == 0 && c.answered_once == (int64_t)f->checker.sent;
            bool writes_ok = !f->writes_checked || (c.writes_lost == 0 && c.writes_doubled == 0);
            note(verdict->expected, sizeof(verdict->expected), "every request answered once%s",
                 f->writes_checked ? ", every acknowledged write present once" : "");
            note(verdict->actual, sizeof(verdict->actual),
                 "%lld of %zu answered once, %lld unanswered, %lld twice, %lld late, %lld "
                 "unknown ids, %lld redelivered answers dropped by the client",
                 (long long)c.answered_once, f->checker.sent, (long long)c.unanswered,
                 (long long)c.answered_twice, (long long)c.answered_late, (long long)c.unknown_ids,
                 (long long)f->duplicate);
            if (f->writes_checked)
                note(verdict->actual, sizeof(verdict->actual),
                     "writes: %lld present once, %lld lost, %lld doubled",
                     (long long)c.writes_present_once, (long long)c.writes_lost,
                     (long long)c.writes_doubled);
            if (!clean) {
                note(verdict->message, sizeof(verdict->message),
                     "requests not answered exactly once: %lld unanswered, %lld answered twice, "
                     "%lld answered late, %lld answers for unknown ids (of %zu sent)",
                     (long long)c.unanswered, (long long)c.answered_twice,
                     (long long)c.answered_late, (long long)c.unknown_ids, f->checker.sent);
                j.failed = true;
            }
            if (!writes_ok) {
                note(verdict->message, sizeof(verdict->message),
                     "acknowledged writes: %lld lost%s%s%s, %lld doubled%s%s%s",
                     (long long)c.writes_lost, f->writes.lost ? " (e.g. " : "",
                     f->writes.lost ? f->writes.first_lost : "", f->writes.lost ? ")" : "",
                     (long long)c.writes_doubled, f->writes.doubled ? " (e.g. " : "",
                     f->writes.doubled ? f->writes.first_doubled : "",
                     f->writes.doubled ? ")" : "");
                j.failed = true;
            }
        }
    }
    if (j.errored) {
        verdict->status = DBEV_REPORT_ERROR;
        verdict->expected[0] = verdict->actual[0] = '\0';
    } else if (j.failed) {
        verdict->status = DBEV_REPORT_FAIL;
    } else {
        verdict->status = DBEV_REPORT_PASS;
        if (!j.warned)
            verdict->message[0] = verdict->expected[0] = verdict->actual[0] = '\0';
    }
}

void load_report_checker(const load_figures_t *f, dbev_report_checker_t *out)
{
    memset(out, 0, sizeof(*out));
    /* The client hands a request that timed out to its callback as _TIMEOUT and
     * counts an answer arriving afterwards as late, so that one comes from its
     * counters. A second response event for a request already answered is a
     * redelivery (at-least-once: an adapter that took over a partition answers
     * again from its record): the client drops it, no caller sees it, so it is
     * not "answered twice" here; the caller-side count is the checker's own,
     * and the dropped ones are reported as wire_duplicates. */
    int64_t unanswered = (int64_t)f->checker.unanswered - f->late;
    out->answered_once = (int64_t)f->checker.answered_once;
    out->unanswered = unanswered > 0 ? unanswered : 0;
    out->answered_twice = (int64_t)f->checker.answered_twice;
    out->answered_late = (int64_t)f->checker.answered_late + f->late;
    out->unknown_ids = (int64_t)f->checker.unknown_ids + f->unknown;
    out->writes_checked = f->writes_checked;
    out->writes_present_once = f->writes.present_once;
    out->writes_lost = f->writes.lost;
    out->writes_doubled = f->writes.doubled;
}

void load_knee_text(const load_figures_t *f, const load_stress_t *stress, char *buf, size_t size)
{
    const load_phase_t *broke, *held = knee_held(f, &broke);
    char why[160] = "";
    if (broke) {
        double err = broke->sent ? (double)broke->errors / (double)broke->sent : 0;
        if (ms(broke->p99_us) > stress->p99_ms)
            snprintf(why, sizeof(why), "p99 %.1f ms > %g ms", ms(broke->p99_us), stress->p99_ms);
        else
            snprintf(why, sizeof(why), "errors %.2f%% > %g%%", err * 100,
                     stress->max_error_rate * 100);
    }
    if (!f->n_phases)
        snprintf(buf, size, "stress: no step ran");
    else if (!broke)
        snprintf(buf, size,
                 "stress: no knee within %g s: every rate held, up to %.0f/s (p99 %.1f ms <= %g "
                 "ms)",
                 stress->max_duration_s, held->rate, ms(held->p99_us), stress->p99_ms);
    else if (!held)
        snprintf(buf, size, "stress: knee below the start rate: %.0f/s already broke (%s)",
                 broke->rate, why);
    else
        snprintf(buf, size, "stress: knee: held %.0f/s (p99 %.1f ms), broke at %.0f/s (%s)",
                 held->rate, ms(held->p99_us), broke->rate, why);
}

/* The figures the run's metrics take from a load (runctx.h, run.h). The
 * checker's caller-side classification and the write lookups are the loss
 * figures; the client's wire-level duplicates (redeliveries answered again
 * from the adapter's record) are reported apart, as they reach no caller. */
json_t *load_metrics(const load_figures_t *f, const load_spec_t *spec, const dbev_hist_t *service)
{
    char op[32];
    run_metrics_op_key(spec->op, op, sizeof(op));
    double sent = (double)f->requests;
    json_t *out = json_pack(
        "{s:s, s:b, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I,"
        " s:I, s:I, s:I}",
        "op", op, "climb", spec->stress.on, "rate", spec->rate, "throughput", f->throughput,
        "p50_ms", (double)f->p50_us / 1000.0, "p95_ms", (double)f->p95_us / 1000.0, "p99_ms",
        (double)f->p99_us / 1000.0, "max_ms", (double)f->max_us / 1000.0, "sent", sent, "errors",
        (double)f->errors, "error_rate", sent > 0 ? (double)f->errors / sent : 0.0, "unanswered",
        (json_int_t)f->checker.unanswered, "answered_twice", (json_int_t)f->checker.answered_twice,
        "answered_late", (json_int_t)f->checker.answered_late, "unknown_ids",
        (json_int_t)f->checker.unknown_ids, "writes_lost", (json_int_t)f->writes.lost,
        "writes_doubled", (json_int_t)f->writes.doubled, "wire_duplicates",
        (json_int_t)f->duplicate, "late_responses", (json_int_t)f->late);
    /* The adapter's share beside the end-to-end figures above. */
    if (out && dbev_hist_count(service)) {
        static const double ps[] = {50, 95, 99};
        static const char *const names[] = {"service_p50_ms", "service_p95_ms", "service_p99_ms"};
        for (int i = 0; i < 3; i++)
            json_object_set_new(out, names[i],
                                json_real((double)dbev_hist_percentile(service, ps[i]) / 1000.0));
    }
    return out;
}
