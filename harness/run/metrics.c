/*
 * Run metrics (see metrics.h, run.h). Latencies of single operations go into
 * one HDR histogram per path and operation; load figures arrive already
 * summarised by the load step and are folded into maxima and sums here.
 */
#include "run/metrics.h"

#include "scenario/runctx.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PATH_EVENT = 0, PATH_DIRECT = 1, N_PATHS = 2 };
/* The probe's blocks of the adapter's service time, beside its two paths. */
enum { PROBE_SERVICE = N_PATHS };

struct run_metrics {
    pthread_mutex_t lock;
    dbev_hist_t *latency[N_PATHS][DBEV_OP__COUNT];
    long errors[N_PATHS][DBEV_OP__COUNT];
    dbev_hist_t *roundtrip;
    /* The latency probe's own (tag perf, repeat:), per path and operation,
     * and the adapter's service time answers carry (metadata.service_ms):
     * every measured answer's, and the probe's. */
    dbev_hist_t *probe[N_PATHS][DBEV_OP__COUNT];
    dbev_hist_t *service[DBEV_OP__COUNT];
    dbev_hist_t *probe_service[DBEV_OP__COUNT];
    /* The probe's CPU time per request, one value a block (cpuwork.h). */
    dbev_hist_t *probe_cpu[DBEV_OP__COUNT];
    /* The probe's blocks (one per repeated step): the best block median
     * is the figure a burst of other work on the machine cannot inflate. */
    struct probe_block {
        char key[256]; /* the step's file:line:column */
        int path;
        dbev_op_t op;
        dbev_hist_t *hist;
    } * blocks;
    size_t n_blocks;
    long parity_mismatches;
    json_t *figures; /* name -> number: loads, aggregates, plain figures */
    double load_sent, load_errors;
};

run_metrics_t *run_metrics_new(void)
{
    run_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->figures = json_object();
    m->roundtrip = dbev_hist_new();
    for (int p = 0; p < N_PATHS; p++)
        for (int o = 0; o < DBEV_OP__COUNT; o++) {
            m->latency[p][o] = dbev_hist_new();
            m->probe[p][o] = dbev_hist_new();
        }
    for (int o = 0; o < DBEV_OP__COUNT; o++) {
        m->service[o] = dbev_hist_new();
        m->probe_service[o] = dbev_hist_new();
        m->probe_cpu[o] = dbev_hist_new();
    }
    return m;
}

void run_metrics_destroy(run_metrics_t *m)
{
    if (!m)
        return;
    for (int p = 0; p < N_PATHS; p++)
        for (int o = 0; o < DBEV_OP__COUNT; o++) {
            dbev_hist_destroy(m->latency[p][o]);
            dbev_hist_destroy(m->probe[p][o]);
        }
    for (int o = 0; o < DBEV_OP__COUNT; o++) {
        dbev_hist_destroy(m->service[o]);
        dbev_hist_destroy(m->probe_service[o]);
        dbev_hist_destroy(m->probe_cpu[o]);
    }
    for (size_t i = 0; i < m->n_blocks; i++)
        dbev_hist_destroy(m->blocks[i].hist);
    free(m->blocks);
    dbev_hist_destroy(m->roundtrip);
    json_decref(m->figures);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* "SELECT" is called query in metric names, as seed 002 calls the call. */
void run_metrics_op_key(dbev_op_t op, char *buf, size_t size)
{
    const char *name = op == DBEV_OP_SELECT ? "query" : dbev_op_name(op);
    size_t i = 0;
    for (; name && name[i] && i + 1 < size; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
}

void run_metrics_latency(run_metrics_t *m, const char *path, dbev_op_t op, double latency_ms,
                         bool ok)
{
    if (!m || op >= DBEV_OP__COUNT)
        return;
    int p = strcmp(path, "direct") == 0 ? PATH_DIRECT : PATH_EVENT;
    pthread_mutex_lock(&m->lock);
    /* A failure's latency measures the failure (a timeout, a refusal), not
     * the path: failures are counted, successes are the samples. */
    int64_t us = (int64_t)(latency_ms * 1000.0);
    if (ok) {
        dbev_hist_record(m->latency[p][op], us);
        if (p == PATH_EVENT)
            dbev_hist_record(m->roundtrip, us);
    } else {
        m->errors[p][op]++;
    }
    pthread_mutex_unlock(&m->lock);
}

/* The block of key on path, added when new; NULL when out of memory. Locked. */
static dbev_hist_t *block_of(run_metrics_t *m, const char *key, int path, dbev_op_t op)
{
    for (size_t i = 0; i < m->n_blocks; i++)
        if (strcmp(m->blocks[i].key, key) == 0 && m->blocks[i].path == path)
            return m->blocks[i].hist;
    struct probe_block *grown = realloc(m->blocks, (m->n_blocks + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    m->blocks = grown;
    dbev_hist_t *hist = dbev_hist_new();
    if (hist) {
        struct probe_block *b = &m->blocks[m->n_blocks++];
        snprintf(b->key, sizeof(b->key), "%s", key);
        b->path = path;
        b->op = op;
        b->hist = hist;
    }
    return hist;
}

void run_metrics_probe(run_metrics_t *m, const char *block, const char *path, dbev_op_t op,
                       double latency_ms, bool ok)
{
    if (!m || op >= DBEV_OP__COUNT || !ok)
        return; /* a failed probe request fails its step: the scenario says so */
    int p = strcmp(path, "direct") == 0 ? PATH_DIRECT : PATH_EVENT;
    int64_t us = (int64_t)(latency_ms * 1000.0);
    pthread_mutex_lock(&m->lock);
    dbev_hist_record(m->probe[p][op], us);
    dbev_hist_t *b = block_of(m, block, p, op);
    if (b)
        dbev_hist_record(b, us);
    pthread_mutex_unlock(&m->lock);
}

/* The lowest median of path's blocks of op with at least PROBE_BLOCK_MIN
 * samples, in ms, and how many blocks there were; NAN when none. */
#define PROBE_BLOCK_MIN 5
static double best_block(const run_metrics_t *m, int path, dbev_op_t op, int *n)
{
    double best = NAN;
    *n = 0;
    for (size_t i = 0; i < m->n_blocks; i++) {
        const struct probe_block *b = &m->blocks[i];
        if (b->path != path || b->op != op || dbev_hist_count(b->hist) < PROBE_BLOCK_MIN)
            continue;
        double p50 = (double)dbev_hist_percentile(b->hist, 50) / 1000.0;
        (*n)++;
        if (isnan(best) || p50 < best)
            best = p50;
    }
    return best;
}

void run_metrics_service(run_metrics_t *m, dbev_op_t op, double service_ms, const char *probe_block)
{
    if (!m || op >= DBEV_OP__COUNT || !(service_ms >= 0))
        return;
    int64_t us = (int64_t)(service_ms * 1000.0);
    pthread_mutex_lock(&m->lock);
    dbev_hist_record(m->service[op], us);
    if (probe_block) {
        dbev_hist_record(m->probe_service[op], us);
        dbev_hist_t *b = block_of(m, probe_block, PROBE_SERVICE, op);
        if (b)
            dbev_hist_record(b, us);
    }
    pthread_mutex_unlock(&m->lock);
}

void run_metrics_probe_cpu(run_metrics_t *m, const char *block, dbev_op_t op, double cpu_us)
{
    (void)block; /* one value a block: the histogram of blocks is the figure */
    if (!m || op >= DBEV_OP__COUNT || !(cpu_us >= 0))
        return;
    pthread_mutex_lock(&m->lock);
    dbev_hist_record(m->probe_cpu[op], (int64_t)(cpu_us + 0.5));
    pthread_mutex_unlock(&m->lock);
}

void run_metrics_merge_service(run_metrics_t *m, dbev_op_t op, const dbev_hist_t *hist)
{
    if (!m || !hist || op >= DBEV_OP__COUNT)
        return;
    pthread_mutex_lock(&m->lock);
    dbev_hist_merge(m->service[op], hist);
    pthread_mutex_unlock(&m->lock);
}

void run_metrics_merge(run_metrics_t *m, dbev_op_t op, const dbev_hist_t *hist)
{
    if (!m || !hist || op >= DBEV_OP__COUNT)
        return;
    pthread_mutex_lock(&m->lock);
    dbev_hist_merge(m->latency[PATH_EVENT][op], hist);
    dbev_hist_merge(m->roundtrip, hist);
    pthread_mutex_unlock(&m->lock);
}

void run_metrics_parity_mismatch(run_metrics_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->parity_mismatches++;
    pthread_mutex_unlock(&m->lock);
}

static void set_locked(run_metrics_t *m, const char *name, double value)
{
    json_object_set_new(m->figures, name, json_real(value));
}

void run_metrics_set(run_metrics_t *m, const char *name, double value)
{
    pthread_mutex_lock(&m->lock);
    set_locked(m, name, value);
    pthread_mutex_unlock(&m->lock);
}

static double figure(const json_t *figures, const char *name)
{
    return json_number_value(json_object_get(figures, name));
}

/* Keeps the larger (or the sum, for counts) of an aggregate. */
static void fold(run_metrics_t *m, const char *name, double value, bool sum)
{
    json_t *old = json_object_get(m->figures, name);
    if (!old)
        set_locked(m, name, value);
    else if (sum)
        set_locked(m, name, json_number_value(old) + value);
    else if (value > json_number_value(old))
        set_locked(m, name, value);
}

void run_metrics_fold(run_metrics_t *m, const char *name, double value, bool sum)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    fold(m, name, value, sum);
    pthread_mutex_unlock(&m->lock);
}

/* Metric names are dotted paths: keep a scenario's or step's name to
 * letters, digits, '-' and '_'. */
static void slug(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; *in && i + 1 < size; in++)
        out[i++] =
            isalnum((unsigned char)*in) || *in == '-' ? (char)tolower((unsigned char)*in) : '_';
    out[i] = '\0';
}

void run_metrics_add_load(run_metrics_t *m, const char *scenario, const char *step,
                          const json_t *figures)
{
    if (!m || !json_is_object(figures))
        return;
    char s1[96], s2[96], name[256];
    slug(scenario, s1, sizeof(s1));
    slug(step, s2, sizeof(s2));
    pthread_mutex_lock(&m->lock);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)figures, key, value)
    {
        if (!json_is_number(value))
            continue;
        snprintf(name, sizeof(name), "load.%s.%s.%s", s1, s2, key);
        set_locked(m, name, json_number_value(value));
    }
    /* A stress climb's throughput is its average over rising rates: it moves
     * with where the knee falls (1,099 -> 1,801 events/s when its steps went
     * from 3 to 2 s), and a figure the gate compares with a baseline of
     * fixed-rate loads must not take it. Its own figures stay above. */
    if (!json_is_true(json_object_get(figures, "climb"))) {
        double throughput = figure(figures, "throughput");
        fold(m, "load.throughput_max", throughput, false);
        const char *op = json_string_value(json_object_get(figures, "op"));
        if (op) {
            snprintf(name, sizeof(name), "load.%s.throughput_max", op);
            fold(m, name, throughput, false);
        }
    }
    fold(m, "load.p95_ms_max", figure(figures, "p95_ms"), false);
    fold(m, "load.p99_ms_max", figure(figures, "p99_ms"), false);
    fold(m, "load.error_rate_max", figure(figures, "error_rate"), false);
    static const char *const losses[] = {"unanswered",  "answered_twice", "answered_late",
                                         "unknown_ids", "writes_lost",    "writes_doubled"};
    for (size_t i = 0; i < sizeof(losses) / sizeof(losses[0]); i++) {
        snprintf(name, sizeof(name), "loss.%s", losses[i]);
        fold(m, name, figure(figures, losses[i]), true);
    }
    m->load_sent += figure(figures, "sent");
    m->load_errors += figure(figures, "errors");
    pthread_mutex_unlock(&m->lock);
}

static void put_hist(json_t *out, const char *prefix, const dbev_hist_t *hist, long errors)
{
    char name[128];
    snprintf(name, sizeof(name), "%s.count", prefix);
    json_object_set_new(out, name, json_integer(dbev_hist_count(hist)));
    if (errors >= 0) {
        snprintf(name, sizeof(name), "%s.errors", prefix);
        json_object_set_new(out, name, json_integer(errors));
    }
    static const double ps[] = {50, 95, 99};
    static const char *const names[] = {"p50_ms", "p95_ms", "p99_ms"};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "%s.%s", prefix, names[i]);
        json_object_set_new(out, name,
                            json_real((double)dbev_hist_percentile(hist, ps[i]) / 1000.0));
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The adapter's service time for op against a reference measured in the
 * same rounds (the k-th round of each, within ~50 ms of each other): round
 * by round the service median over the reference's median, and of those
 * ratios the mean of the middle half. On a shared VM the cost of a wake-up
 * drifts by a third from one run to the next and moves both; the ratio
 * keeps what the reference does not share (docs/gates.md, "The power of the
 * detector"). ref_path is PATH_DIRECT (the direct path's point query: the
 * machine's own round trip to PostgreSQL) or PROBE_SERVICE (the adapter's
 * service time of a point query: everything but op's statement). NAN
 * without at least 4 rounds of each. Locked. */
#define PER_REF_ROUNDS_MAX 1024
static double service_per_ref(const run_metrics_t *m, dbev_op_t op, int ref_path)
{
    const dbev_hist_t *service[PER_REF_ROUNDS_MAX], *ref[PER_REF_ROUNDS_MAX];
    double ratio[PER_REF_ROUNDS_MAX];
    size_t ns = 0, nr = 0;
    for (size_t i = 0; i < m->n_blocks; i++) {
        const struct probe_block *b = &m->blocks[i];
        if (b->path == PROBE_SERVICE && b->op == op && ns < PER_REF_ROUNDS_MAX)
            service[ns++] = b->hist;
        if (b->path == ref_path && b->op == DBEV_OP_SELECT && nr < PER_REF_ROUNDS_MAX)
            ref[nr++] = b->hist;
    }
    /* Paired by round before any is left out, so a thin round drops its
     * pair and never shifts the later rounds onto their neighbours. */
    size_t n = 0;
    for (size_t k = 0; k < ns && k < nr; k++) {
        if (dbev_hist_count(service[k]) < PROBE_BLOCK_MIN ||
            dbev_hist_count(ref[k]) < PROBE_BLOCK_MIN || dbev_hist_percentile(ref[k], 50) <= 0)
            continue;
        ratio[n++] =
            (double)dbev_hist_percentile(service[k], 50) / (double)dbev_hist_percentile(ref[k], 50);
    }
    if (n < 4)
        return NAN;
    qsort(ratio, n, sizeof(ratio[0]), cmp_double);
    double sum = 0;
    size_t kept = 0;
    for (size_t k = n / 4; k < n - n / 4; k++, kept++)
        sum += ratio[k];
    return sum / (double)kept;
}

json_t *run_metrics_json(run_metrics_t *m)
{
    pthread_mutex_lock(&m->lock);
    json_t *out = json_deep_copy(m->figures);
    char prefix[96], op[32];
    for (int o = 0; o < DBEV_OP__COUNT; o++) {
        run_metrics_op_key((dbev_op_t)o, op, sizeof(op));
        for (int p = 0; p < N_PATHS; p++) {
            if (dbev_hist_count(m->latency[p][o]) == 0 && m->errors[p][o] == 0)
                continue;
            snprintf(prefix, sizeof(prefix), "%slatency.%s", p == PATH_DIRECT ? "direct." : "", op);
            put_hist(out, prefix, m->latency[p][o], m->errors[p][o]);
        }
        if (dbev_hist_count(m->latency[PATH_EVENT][o]) &&
            dbev_hist_count(m->latency[PATH_DIRECT][o])) {
            double e = (double)dbev_hist_percentile(m->latency[PATH_EVENT][o], 95);
            double d = (double)dbev_hist_percentile(m->latency[PATH_DIRECT][o], 95);
            snprintf(prefix, sizeof(prefix), "ratio.%s.p95", op);
            json_object_set_new(out, prefix, json_real(d > 0 ? e / d : 0));
        }
    }
    for (int o = 0; o < DBEV_OP__COUNT; o++) {
        run_metrics_op_key((dbev_op_t)o, op, sizeof(op));
        const dbev_hist_t *ev = m->probe[PATH_EVENT][o], *di = m->probe[PATH_DIRECT][o];
        if (dbev_hist_count(ev)) {
            snprintf(prefix, sizeof(prefix), "probe.%s", op);
            put_hist(out, prefix, ev, -1);
        }
        if (dbev_hist_count(di)) {
            snprintf(prefix, sizeof(prefix), "probe.direct.%s", op);
            put_hist(out, prefix, di, -1);
        }
        for (int p = 0; p < N_PATHS; p++) {
            int n;
            double best = best_block(m, p, (dbev_op_t)o, &n);
            if (n < 2)
                continue; /* one block: its median is p50_ms already */
            snprintf(prefix, sizeof(prefix), "probe.%s%s.best_p50_ms", p ? "direct." : "", op);
            json_object_set_new(out, prefix, json_real(best));
            snprintf(prefix, sizeof(prefix), "probe.%s%s.blocks", p ? "direct." : "", op);
            json_object_set_new(out, prefix, json_integer(n));
        }
        /* The same run's direct path: how fast this machine and its
         * PostgreSQL were while the event path was measured. */
        if (dbev_hist_count(ev) && dbev_hist_count(di) && dbev_hist_percentile(di, 50) > 0) {
            snprintf(prefix, sizeof(prefix), "probe.%s.ratio_p50", op);
            json_object_set_new(out, prefix,
                                json_real((double)dbev_hist_percentile(ev, 50) /
                                          (double)dbev_hist_percentile(di, 50)));
        }
        if (dbev_hist_count(m->service[o])) {
            snprintf(prefix, sizeof(prefix), "service.%s", op);
            put_hist(out, prefix, m->service[o], -1);
        }
        if (dbev_hist_count(m->probe_service[o])) {
            snprintf(prefix, sizeof(prefix), "probe.service.%s", op);
            put_hist(out, prefix, m->probe_service[o], -1);
            int n;
            double best = best_block(m, PROBE_SERVICE, (dbev_op_t)o, &n);
            if (n >= 2) {
                snprintf(prefix, sizeof(prefix), "probe.service.%s.best_p50_ms", op);
                json_object_set_new(out, prefix, json_real(best));
            }
        }
        double per_rtt = service_per_ref(m, (dbev_op_t)o, PATH_DIRECT);
        if (!isnan(per_rtt)) {
            snprintf(prefix, sizeof(prefix), "probe.service.%s.per_rtt", op);
            json_object_set_new(out, prefix, json_real(per_rtt));
        }
        double per_query =
            o == DBEV_OP_SELECT ? NAN : service_per_ref(m, (dbev_op_t)o, PROBE_SERVICE);
        if (!isnan(per_query)) {
            snprintf(prefix, sizeof(prefix), "probe.service.%s.per_query", op);
            json_object_set_new(out, prefix, json_real(per_query));
        }
    }
    for (int o = 0; o < DBEV_OP__COUNT; o++) {
        const dbev_hist_t *cpu = m->probe_cpu[o];
        if (dbev_hist_count(cpu) < 2)
            continue; /* one block: not a probe */
        run_metrics_op_key((dbev_op_t)o, op, sizeof(op));
        snprintf(prefix, sizeof(prefix), "probe.cpu.%s.best_us", op);
        json_object_set_new(out, prefix, json_real((double)dbev_hist_min(cpu)));
        snprintf(prefix, sizeof(prefix), "probe.cpu.%s.median_us", op);
        json_object_set_new(out, prefix, json_real((double)dbev_hist_percentile(cpu, 50)));
        snprintf(prefix, sizeof(prefix), "probe.cpu.%s.blocks", op);
        json_object_set_new(out, prefix, json_integer(dbev_hist_count(cpu)));
    }
    if (dbev_hist_count(m->roundtrip))
        put_hist(out, "roundtrip", m->roundtrip, -1);
    json_object_set_new(out, "parity.mismatches", json_integer(m->parity_mismatches));
    if (m->load_sent > 0)
        json_object_set_new(out, "errors.rate", json_real(m->load_errors / m->load_sent));
    pthread_mutex_unlock(&m->lock);
    return out;
}
