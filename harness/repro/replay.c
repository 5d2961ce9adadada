/*
 * Replays a trace (replay.h): one producer publishes the recorded requests,
 * one consumer assigned to the end of the answer topics before anything is
 * published collects the answers, both driven from this thread; the diff
 * compares the answers per correlation id, in the order each id's answers
 * were recorded. The fresh world a trace is replayed in, when it has no
 * sandbox, is replay_stack.c's.
 */
#include "repro/replay.h"

#include "parity/direct.h"

#include "dbev_kafka.h"

#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define REPLAY_META_TIMEOUT_MS 5000
/* An answer is awaited for the request's own timeout_ms plus this margin
 * (the adapter answers TIMEOUT_ERROR at its deadline, then Kafka carries it). */
#define REPLAY_ANSWER_MARGIN_MS 10000
#define REPLAY_DIFF_LINES_MAX   12
/* A request's timestamp this close to its recorded send time was stamped at
 * sending, and moves with the replay. */
#define REPLAY_STAMP_NEAR_US (3600LL * 1000000)

typedef enum line_kind { LINE_REQUEST, LINE_ANSWER, LINE_SQL } line_kind_t;

typedef struct line {
    line_kind_t kind;
    int64_t t_ms;
    json_t *json; /* the trace line; borrowed from trace->lines */
} line_t;

struct replay_trace {
    json_t *header; /* owned, or NULL */
    json_t *lines;  /* owned: every line but the header */
    line_t *items;
    size_t n, requests;
};

replay_trace_t *replay_trace_load(const char *path, char *errstr, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        dbev_seterr(errstr, size, "cannot read the trace %s", path);
        return NULL;
    }
    replay_trace_t *t = calloc(1, sizeof(*t));
    t->lines = json_array();
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        if (len <= 1)
            continue;
        json_error_t jerr;
        json_t *line = json_loads(buf, JSON_ALLOW_NUL, &jerr);
        if (!json_is_object(line)) {
            rc = dbev_seterr(errstr, size, "%s:%d: not a trace line: %s", path, lineno, jerr.text);
            json_decref(line);
        } else if (json_object_get(line, "header")) {
            t->header = json_incref(json_object_get(line, "header"));
            json_decref(line);
        } else {
            json_array_append_new(t->lines, line);
        }
    }
    free(buf);
    fclose(f);
    t->items = calloc(json_array_size(t->lines) + 1, sizeof(line_t));
    size_t i;
    json_t *line;
    json_array_foreach(t->lines, i, line)
    {
        const char *topic = json_string_value(json_object_get(line, "topic"));
        line_t *it = &t->items[t->n];
        it->json = line;
        it->t_ms = json_integer_value(json_object_get(line, "t_ms"));
        if (topic && !strcmp(topic, "requested"))
            it->kind = LINE_REQUEST, t->requests++;
        else if (topic && (!strcmp(topic, "completed") || !strcmp(topic, "failed")))
            it->kind = LINE_ANSWER;
        else if (topic && !strcmp(topic, "sql"))
            it->kind = LINE_SQL;
        else
            continue;
        t->n++;
    }
    if (rc == 0 && t->requests == 0)
        rc = dbev_seterr(errstr, size, "%s: no request to replay", path);
    if (rc != 0) {
        replay_trace_destroy(t);
        return NULL;
    }
    return t;
}

void replay_trace_destroy(replay_trace_t *t)
{
    if (!t)
        return;
    json_decref(t->header);
    json_decref(t->lines);
    free(t->items);
    free(t);
}

const json_t *replay_trace_header(const replay_trace_t *t)
{
    return t->header;
}

size_t replay_trace_requests(const replay_trace_t *t)
{
    return t->requests;
}

/* ---- ids ---------------------------------------------------------------- */

static bool is_uuid(const char *s)
{
    uuid_t u;
    return s && strlen(s) == 36 && uuid_parse(s, u) == 0;
}

/* old id -> new id, and back. */
typedef struct idmap {
    json_t *forward, *back;
} idmap_t;

static const char *idmap_new(idmap_t *m, const char *old)
{
    json_t *known = json_object_get(m->forward, old);
    if (known)
        return json_string_value(known);
    uuid_t u;
    char id[37];
    uuid_generate(u);
    uuid_unparse_lower(u, id);
    json_object_set_new(m->forward, old, json_string(id));
    json_object_set_new(m->back, id, json_string(old));
    return json_string_value(json_object_get(m->forward, old));
}

/* Every new id inside a string put back to the old one (messages may quote ids). */
static void idmap_restore(const idmap_t *m, json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) idmap_restore(m, x);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) idmap_restore(m, x);
    } else if (json_is_string(v) && json_string_length(v) >= 36) {
        const char *s = json_string_value(v);
        if (!strstr(s, "-"))
            return;
        char *text = strdup(s);
        const char *k;
        json_t *old;
        json_object_foreach(m->back, k, old)
        {
            char *at;
            while (text && (at = strstr(text, k)) != NULL)
                memcpy(at, json_string_value(old), 36);
        }
        if (text && strcmp(text, s) != 0)
            json_string_set(v, text);
        free(text);
    }
}

/* ---- Kafka -------------------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)level;
    dbev_logf(rd_kafka_opaque(rk), DBEV_LOG_DEBUG, NULL, "librdkafka %s: %s", fac, buf);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (msg->err && msg->_private)
        (*(int *)msg->_private)++;
}

/* The handles' settings and the answer topics' assignment are common/'s
 * (dbev_kafka.h), shared with the CLI's `send --raw`. */
static rd_kafka_t *client(rd_kafka_type_t type, const replay_target_t *target, char *errstr,
                          size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, (void *)target->logger);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    return dbev_kafka_raw_new(type, conf, target->bootstrap, "dbev-harness-replay", errstr, size);
}

/* ---- the replay --------------------------------------------------------- */

typedef struct replay {
    const replay_trace_t *trace;
    const replay_target_t *target;
    const replay_opts_t *opts;
    idmap_t ids;
    rd_kafka_t *producer, *consumer;
    json_t *answers; /* old correlation id (or key) -> [{"topic":..., "event":...}] */
    size_t received;
    int delivery_errors;
} replay_t;

/* Takes what has arrived (waiting up to wait_ms for the first message). */
static void collect(replay_t *r, int wait_ms)
{
    rd_kafka_poll(r->producer, 0);
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(r->consumer, wait_ms)) != NULL) {
        wait_ms = 0;
        if (!m->err) {
            const char *topic = rd_kafka_topic_name(m->rkt);
            json_t *event = json_loadb(m->payload, m->len, 0, NULL);
            const char *corr = json_string_value(json_object_get(event, "correlation_id"));
            /* A copy: idmap_restore() below may replace the event's strings. */
            char id[256] = "";
            if (corr)
                snprintf(id, sizeof(id), "%s", corr);
            else if (m->key)
                snprintf(id, sizeof(id), "%.*s", (int)m->key_len, (const char *)m->key);
            json_t *old = json_object_get(r->ids.back, id);
            const char *label = strstr(topic, "query-failed") ? "failed" : "completed";
            if (event) {
                idmap_restore(&r->ids, event);
                const char *oid = old ? json_string_value(old) : id;
                json_t *list = json_object_get(r->answers, oid);
                if (!list) {
                    list = json_array();
                    json_object_set_new(r->answers, oid, list);
                }
                json_array_append_new(list,
                                      json_pack("{s:s, s:o}", "topic", label, "event", event));
                r->received++;
            }
        }
        rd_kafka_message_destroy(m);
    }
}

static int64_t request_timeout_ms(const json_t *line)
{
    json_int_t t = json_integer_value(json_object_get(
        json_object_get(json_object_get(json_object_get(line, "event"), "payload"), "options"),
        "timeout_ms"));
    return (t > 0 ? t : 10000) + REPLAY_ANSWER_MARGIN_MS;
}

/* text with every occurrence of from replaced by to (a copy the caller
 * frees), or NULL when from does not occur (or out of memory). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    size_t lf = strlen(from), lt = strlen(to), n = 0;
    if (lf == 0)
        return NULL;
    for (const char *p = text; (p = strstr(p, from)) != NULL; p += lf)
        n++;
    if (n == 0)
        return NULL;
    char *out = malloc(strlen(text) + n * (lt > lf ? lt - lf : 0) + 1);
    if (!out)
        return NULL;
    char *o = out;
    const char *p = text, *hit;
    while ((hit = strstr(p, from)) != NULL) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, to, lt);
        o += lt;
        p = hit + lf;
    }
    strcpy(o, p);
    return out;
}

/* Replaces every occurrence of "from" (quoted) in *text by "to" (quoted). */
static void replace_quoted(char **text, const char *from, const char *to)
{
    char qf[600], qt[600];
    snprintf(qf, sizeof(qf), "\"%s\"", from);
    snprintf(qt, sizeof(qt), "\"%s\"", to);
    char *out = replace_all(*text, qf, qt);
    if (out) {
        free(*text);
        *text = out;
    }
}

/* The request as it will be published: the recorded bytes, with the ids
 * mapped and the timestamp moved (textually, so that everything else a
 * scenario crafted on purpose, spacing or a duplicate key, stays as it was). */
static int publish(replay_t *r, const line_t *it, const replay_opts_t *opts, char *errstr,
                   size_t size)
{
    const json_t *line = it->json;
    const char *key = json_string_value(json_object_get(line, "key"));
    const json_t *event = json_object_get(line, "event");
    const json_t *bytes = json_object_get(line, "bytes");
    const char *hex = json_string_value(json_object_get(line, "bytes_hex"));
    size_t len = bytes ? json_string_length(bytes) : hex ? strlen(hex) / 2 : 0;
    char *payload = NULL;
    if (bytes && (payload = malloc(len + 1)) != NULL) { /* may hold NUL bytes on purpose */
        memcpy(payload, json_string_value(bytes), len);
        payload[len] = '\0';
    } else if (hex && (payload = malloc(len + 1)) != NULL) { /* not UTF-8, on purpose */
        for (size_t i = 0; i < len; i++) {
            unsigned v = 0;
            sscanf(hex + i * 2, "%2x", &v);
            payload[i] = (char)v;
        }
        payload[len] = '\0';
    } else if (!bytes && !hex) {
        payload = json_dumps(event, JSON_COMPACT);
    }
    char newkey[64];
    if (!payload)
        return dbev_seterr(errstr, size, "out of memory");
    if (event) {
        const char *corr = json_string_value(json_object_get(event, "correlation_id"));
        const char *eid = json_string_value(json_object_get(event, "event_id"));
        if (!opts->keep_ids && is_uuid(eid))
            replace_quoted(&payload, eid, idmap_new(&r->ids, eid));
        if (!opts->keep_ids && is_uuid(corr)) {
            const char *nc = idmap_new(&r->ids, corr);
            if (key && !strcmp(key, corr)) {
                snprintf(newkey, sizeof(newkey), "%s", nc);
                key = newkey;
            }
            replace_quoted(&payload, corr, nc);
        }
        int64_t ts;
        const char *stamp = json_string_value(json_object_get(event, "timestamp"));
        /* Only a timestamp the client stamped at sending moves: one set far
         * from it on purpose (a stale or a future request) stays as it is. */
        if (stamp && dbev_parse_iso8601(stamp, &ts) == 0 &&
            llabs(ts - it->t_ms * 1000) < REPLAY_STAMP_NEAR_US) {
            char iso[DBEV_ISO8601_SIZE];
            ts += dbev_wall_us() - it->t_ms * 1000;
            dbev_iso8601(ts, iso, sizeof(iso)); /* 2025-10-30T10:00:00.000Z */
            /* Same shape as the recorded one (error messages quote columns). */
            if (!strchr(stamp, '.') && strlen(iso) >= 24 && iso[19] == '.')
                memmove(iso + 19, iso + 23, strlen(iso + 23) + 1);
            if (stamp[strlen(stamp) - 1] != 'Z' && !strchr(stamp + 19, '+'))
                iso[strlen(iso) - 1] = '\0';
            replace_quoted(&payload, stamp, iso);
        }
        len = strlen(payload);
    }
    char topic[256];
    dbev_topic_name(r->target->topic_env, DBEV_TOPIC_REQUESTED, topic, sizeof(topic));
    rd_kafka_resp_err_t err = rd_kafka_producev(
        r->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_OPAQUE(&r->delivery_errors), RD_KAFKA_V_END);
    if (err) {
        free(payload);
        return dbev_seterr(errstr, size, "cannot publish to %s: %s", topic, rd_kafka_err2str(err));
    }
    rd_kafka_poll(r->producer, 0);
    return 0;
}

/* Waits (collecting) until `want` answers are in or the deadline passes. */
static void await_answers(replay_t *r, size_t want, int64_t deadline_us)
{
    while (r->received < want && dbev_mono_us() < deadline_us)
        collect(r, 20);
}

static long diff_value(const replay_t *r, const char *path, const json_t *a, const json_t *b,
                       FILE *out, long *shown);

/* response_bytes: an answer's size counts its measured durations (the
 * *_ms keys), whose digits vary from run to run. */
static bool volatile_key(const char *k)
{
    static const char *const keys[] = {"source",
                                       "event_id",
                                       "correlation_id",
                                       "timestamp",
                                       "execution_time_ms",
                                       "service_ms",
                                       "pool_wait_ms",
                                       "db_ms",
                                       "response_bytes",
                                       "uptime_seconds",
                                       "total_queries",
                                       "failed_queries",
                                       "avg_query_time_ms",
                                       "connects",
                                       "connect_failures",
                                       "recovery_attempts",
                                       "connections_retired",
                                       "circuit_opened_count",
                                       "pool_size",
                                       "pool_free",
                                       "pool_in_use",
                                       "pool_utilization_pct",
                                       "last_error",
                                       "last_error_time"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strcmp(k, keys[i]))
            return true;
    return false;
}

static bool is_time(const char *s)
{
    int64_t us;
    return s && strlen(s) >= 19 && isdigit((unsigned char)s[0]) && s[4] == '-' &&
           dbev_parse_iso8601(s, &us) == 0;
}

/* "took 123 ms" and "took 7 ms" compare equal: measured durations; so do
 * "would be 2000177 bytes" and "would be 2000165 bytes": an answer's size
 * counts its measured durations, whose digits vary. */
static void mask_ms(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (const char *p = s; *p && o + 2 < size;) {
        if (isdigit((unsigned char)*p)) {
            const char *q = p;
            while (isdigit((unsigned char)*q) || *q == '.')
                q++;
            if (!strncmp(q, " ms", 3) || !strncmp(q, " bytes", 6)) {
                out[o++] = 'N';
                p = q;
                continue;
            }
            out[o++] = *p++;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static void show_diff(const char *path, const json_t *a, const json_t *b, FILE *out, long *shown)
{
    if (out && (*shown)++ < REPLAY_DIFF_LINES_MAX) {
        char *x = a ? json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("(absent)");
        char *y = b ? json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("(absent)");
        fprintf(out, "    %s: recorded %.300s, replayed %.300s\n", path[0] ? path : "(value)",
                x ? x : "?", y ? y : "?");
        free(x);
        free(y);
    }
}

/* y with every rename_to read as rename_from (a copy the caller frees), or
 * NULL when there is nothing to rename. */
static char *renamed(const replay_t *r, const char *y)
{
    const char *from = r->opts ? r->opts->rename_from : NULL;
    const char *to = r->opts ? r->opts->rename_to : NULL;
    return from && to ? replace_all(y, to, from) : NULL;
}

static long diff_value(const replay_t *r, const char *path, const json_t *a, const json_t *b,
                       FILE *out, long *shown)
{
    char sub[512];
    if (json_is_object(a) && json_is_object(b)) {
        long n = 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v)
        {
            if (volatile_key(k))
                continue;
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
            n += diff_value(r, sub, v, json_object_get(b, k), out, shown);
        }
        json_object_foreach((json_t *)b, k, v)
        {
            if (volatile_key(k) || json_object_get(a, k))
                continue;
            snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
            n += diff_value(r, sub, NULL, v, out, shown);
        }
        return n;
    }
    if (json_is_array(a) && json_is_array(b)) {
        long n = 0;
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < (na > nb ? na : nb); i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            n += diff_value(r, sub, json_array_get(a, i), json_array_get(b, i), out, shown);
        }
        return n;
    }
    if (json_is_string(a) && json_is_string(b)) {
        const char *x = json_string_value(a);
        char *y_renamed = renamed(r, json_string_value(b));
        const char *y = y_renamed ? y_renamed : json_string_value(b);
        bool same = !strcmp(x, y) || (is_uuid(x) && is_uuid(y)) || (is_time(x) && is_time(y));
        if (!same) {
            char mx[2048], my[2048];
            mask_ms(x, mx, sizeof(mx));
            mask_ms(y, my, sizeof(my));
            same = !strcmp(mx, my);
        }
        free(y_renamed);
        if (same)
            return 0;
    } else if (json_is_number(a) && json_is_number(b)) {
        if (json_number_value(a) == json_number_value(b))
            return 0;
    } else if (json_equal(a, b) || (!a && !b)) {
        return 0;
    }
    show_diff(path, a, b, out, shown);
    return 1;
}

/* What a request was, in a few words, for the diff's headings. */
static void describe(const json_t *request, char *buf, size_t size)
{
    const json_t *payload = json_object_get(json_object_get(request, "event"), "payload");
    const char *op = json_string_value(json_object_get(payload, "operation_type"));
    const char *table = json_string_value(json_object_get(payload, "table"));
    const char *sql = json_string_value(json_object_get(payload, "sql"));
    if (!json_object_get(request, "event"))
        snprintf(buf, size, "raw bytes");
    else
        snprintf(buf, size, "%s%s%.60s%s", op ? op : "(no operation_type)", table || sql ? " " : "",
                 table ? table
                 : sql ? sql
                       : "",
                 sql && strlen(sql) > 60 ? "..." : "");
}

static long diff_answers(replay_t *r, FILE *out)
{
    const replay_trace_t *t = r->trace;
    json_t *recorded = json_object(), *request_of = json_object();
    json_t *order = json_array();
    for (size_t i = 0; i < t->n; i++) {
        const json_t *line = t->items[i].json;
        const char *corr = json_string_value(json_object_get(line, "correlation_id"));
        const char *key = json_string_value(json_object_get(line, "key"));
        const char *id = corr ? corr : key ? key : "";
        if (t->items[i].kind == LINE_REQUEST && !json_object_get(request_of, id))
            json_object_set(request_of, id, (json_t *)line);
        if (t->items[i].kind != LINE_ANSWER)
            continue;
        json_t *list = json_object_get(recorded, id);
        if (!list) {
            list = json_array();
            json_object_set_new(recorded, id, list);
            json_array_append_new(order, json_string(id));
        }
        json_array_append_new(list, json_pack("{s:O, s:O}", "topic", json_object_get(line, "topic"),
                                              "event", json_object_get(line, "event")));
    }
    long total = 0;
    size_t i;
    json_t *idv;
    json_array_foreach(order, i, idv)
    {
        const char *id = json_string_value(idv);
        json_t *want = json_object_get(recorded, id), *got = json_object_get(r->answers, id);
        char what[128];
        describe(json_object_get(request_of, id), what, sizeof(what));
        size_t nw = json_array_size(want), ng = json_array_size(got);
        for (size_t k = 0; k < (nw > ng ? nw : ng); k++) {
            json_t *a = json_array_get(want, k), *b = json_array_get(got, k);
            long shown = 0;
            char *section = NULL;
            size_t section_len = 0;
            FILE *sec = out ? open_memstream(&section, &section_len) : NULL;
            long n = 0;
            if (!b) {
                n = 1;
                if (sec)
                    fprintf(sec, "    no answer (recorded: %s)\n",
                            json_string_value(json_object_get(a, "topic")));
            } else if (!a) {
                n = 1;
                if (sec)
                    fprintf(sec, "    an answer the recording does not have (%s)\n",
                            json_string_value(json_object_get(b, "topic")));
            } else {
                n = diff_value(r, "topic", json_object_get(a, "topic"), json_object_get(b, "topic"),
                               sec, &shown) +
                    diff_value(r, "", json_object_get(a, "event"), json_object_get(b, "event"), sec,
                               &shown);
                if (sec && shown > REPLAY_DIFF_LINES_MAX)
                    fprintf(sec, "    ... %ld more\n", shown - REPLAY_DIFF_LINES_MAX);
            }
            if (sec)
                fclose(sec);
            if (n > 0 && out)
                fprintf(out, "answer %zu of %s (%s):\n%s", k + 1, id, what, section ? section : "");
            free(section);
            total += n;
        }
    }
    /* Answers to ids the recording never answered. */
    const char *k;
    json_t *list;
    json_object_foreach(r->answers, k, list)
    {
        if (json_object_get(recorded, k))
            continue;
        total += (long)json_array_size(list);
        if (out)
            fprintf(out, "answer to %s: %zu answer(s) the recording does not have\n", k,
                    json_array_size(list));
    }
    json_decref(recorded);
    json_decref(request_of);
    json_decref(order);
    return total;
}

long replay_run(const replay_trace_t *trace, const replay_target_t *target,
                const replay_opts_t *opts, FILE *diff, char *errstr, size_t size)
{
    replay_t r = {.trace = trace, .target = target, .opts = opts};
    r.ids.forward = json_object();
    r.ids.back = json_object();
    r.answers = json_object();
    /* Within one millisecond the trace lists answers before requests
     * (trace.c: so that sql: steps keep their place), so an answer in the
     * same millisecond as its own request comes first. It happened after
     * that request, not before the lines in between: it is counted once its
     * request is published (waiting for it before sending the request waited
     * out the request's whole timeout). */
    json_t *published = json_object(); /* recorded correlation ids already sent */
    json_t *early = json_object();     /* id -> answers listed before their request */
    long result = -1;
    r.consumer = client(RD_KAFKA_CONSUMER, target, errstr, size);
    r.producer = r.consumer ? client(RD_KAFKA_PRODUCER, target, errstr, size) : NULL;
    if (!r.producer)
        goto done;
    /* Every partition of the answer topics, from their current end. */
    char topic_completed[256], topic_failed[256], assign_why[512];
    const char *const answer_topics[2] = {
        dbev_topic_name(target->topic_env, DBEV_TOPIC_COMPLETED, topic_completed,
                        sizeof(topic_completed)),
        dbev_topic_name(target->topic_env, DBEV_TOPIC_FAILED, topic_failed, sizeof(topic_failed))};
    if (dbev_kafka_assign_end(r.consumer, answer_topics, 2, REPLAY_META_TIMEOUT_MS, assign_why,
                              sizeof(assign_why)) != 0) {
        dbev_seterr(errstr, size, "%s: is an adapter listening on %s?", assign_why,
                    target->topic_env);
        goto done;
    }
    char topic_requested[256];
    dbev_topic_name(target->topic_env, DBEV_TOPIC_REQUESTED, topic_requested,
                    sizeof(topic_requested));
    if (dbev_kafka_warm(r.producer, topic_requested, REPLAY_META_TIMEOUT_MS, assign_why,
                        sizeof(assign_why)) != 0) {
        dbev_seterr(errstr, size, "%s: is an adapter listening on %s?", assign_why,
                    target->topic_env);
        goto done;
    }
    /* The consumer's first fetch sets its position: settle it before publishing. */
    collect(&r, 0);

    size_t answers_before = 0; /* recorded answers before the current line */
    size_t given_up = 0;       /* of those, never answered in the replay */
    int64_t anchor_us = dbev_mono_us(), anchor_ms = trace->n ? trace->items[0].t_ms : 0;
    int64_t last_deadline_us = dbev_mono_us();
    for (size_t i = 0; i < trace->n; i++) {
        const line_t *it = &trace->items[i];
        const char *cid = json_string_value(json_object_get(it->json, "correlation_id"));
        if (it->kind == LINE_ANSWER) {
            if (cid && !json_object_get(published, cid))
                json_object_set_new(
                    early, cid, json_integer(json_integer_value(json_object_get(early, cid)) + 1));
            else
                answers_before++;
            continue;
        }
        /* Happened-before: the answers recorded before this line. */
        if (r.received + given_up < answers_before) {
            await_answers(&r, answers_before - given_up, last_deadline_us);
            /* Those still missing are given up on (the diff reports them): a
             * later line does not wait for them again. */
            if (r.received + given_up < answers_before)
                given_up = answers_before - r.received;
            anchor_us = dbev_mono_us();
            anchor_ms = it->t_ms;
        }
        if (opts->speed > 0) {
            int64_t at =
                anchor_us + (int64_t)((double)(it->t_ms - anchor_ms) * 1000.0 / opts->speed);
            while (dbev_mono_us() < at)
                collect(&r, (int)((at - dbev_mono_us()) / 1000) + 1);
        }
        if (it->kind == LINE_SQL) {
            if (!target->conn) {
                dbev_seterr(errstr, size, "the trace has sql: steps and the target no database");
                goto done;
            }
            direct_opts_t dopts = {0};
            char why[512];
            json_t *outcome =
                direct_run_opts(target->conn, DBEV_OP_EXECUTE, json_object_get(it->json, "step"),
                                &dopts, why, sizeof(why));
            if (!outcome && diff)
                fprintf(diff, "sql step at line %zu failed on replay: %s\n", i + 2, why);
            json_decref(outcome);
            continue;
        }
        if (publish(&r, it, opts, errstr, size) != 0)
            goto done;
        if (cid) {
            json_object_set_new(published, cid, json_true());
            answers_before += (size_t)json_integer_value(json_object_get(early, cid));
            json_object_del(early, cid);
        }
        int64_t deadline = dbev_mono_us() + request_timeout_ms(it->json) * 1000;
        if (deadline > last_deadline_us)
            last_deadline_us = deadline;
    }
    rd_kafka_flush(r.producer, REPLAY_META_TIMEOUT_MS);
    size_t recorded = 0;
    for (size_t i = 0; i < trace->n; i++)
        recorded += trace->items[i].kind == LINE_ANSWER;
    await_answers(&r, recorded, last_deadline_us);
    collect(&r, 0);
    if (r.delivery_errors)
        dbev_logf(target->logger, DBEV_LOG_WARN, NULL, "replay: %d requests not delivered",
                  r.delivery_errors);
    result = diff_answers(&r, diff);
done:
    if (r.consumer) {
        rd_kafka_consumer_close(r.consumer);
        rd_kafka_destroy(r.consumer);
    }
    if (r.producer)
        rd_kafka_destroy(r.producer);
    json_decref(r.ids.forward);
    json_decref(r.ids.back);
    json_decref(r.answers);
    json_decref(published);
    json_decref(early);
    return result;
}
