/*
 * Reads a scenario's topics back from the cluster and writes them as JSON
 * lines (see trace.h). A plain consumer with manual assignment from offset 0
 * to each partition's high watermark: no consumer group, nothing committed,
 * so reading the trace changes nothing for anyone.
 */
#include "repro/trace.h"

#include "env/kprofile.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_TIMEOUT_MS 5000

/* Lines sort on a microsecond key. Kafka stamps events in milliseconds,
 * sql: steps are stamped in microseconds; within one millisecond an answer
 * counts from its start and a request from its end, so that a sql: step run
 * right after an answer sorts after it, and one run right before a request
 * sorts before it: the order replay must keep. The price: an answer in the
 * same millisecond as its own request is listed before it; replay.c knows
 * (by correlation id) that it came after. */
typedef struct event {
    int64_t key_us;
    json_t *line; /* owned */
} event_t;

typedef struct events {
    event_t *items;
    size_t n, cap;
} events_t;

static int push(events_t *ev, int64_t key_us, json_t *line)
{
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 256;
        event_t *grown = realloc(ev->items, cap * sizeof(*grown));
        if (!grown) {
            json_decref(line);
            return -1;
        }
        ev->items = grown;
        ev->cap = cap;
    }
    ev->items[ev->n++] = (event_t){key_us, line};
    return 0;
}

static int by_time(const void *a, const void *b)
{
    int64_t x = ((const event_t *)a)->key_us, y = ((const event_t *)b)->key_us;
    return x < y ? -1 : x > y;
}

/* "bytes": the payload as a JSON string when it is UTF-8 (NULs allowed);
 * "bytes_hex" when it is not (a JSON text cannot hold it, and a line that
 * does not encode would be lost). */
static void set_bytes(json_t *line, const void *payload, size_t len)
{
    json_t *text = json_stringn(payload, len);
    if (text) {
        json_object_set_new(line, "bytes", text);
        return;
    }
    char *hex = malloc(len * 2 + 1);
    for (size_t i = 0; hex && i < len; i++)
        snprintf(hex + i * 2, 3, "%02x", ((const unsigned char *)payload)[i]);
    if (hex) {
        hex[len * 2] = '\0';
        json_object_set_new(line, "bytes_hex", json_string(hex));
    }
    free(hex);
}

static json_t *line_for(const rd_kafka_message_t *m, const char *label)
{
    json_error_t jerr;
    json_t *event = json_loadb(m->payload, m->len, 0, &jerr);
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    json_t *line = json_pack("{s:I, s:s, s:i, s:I}", "t_ms", (json_int_t)ts, "topic", label,
                             "partition", (int)m->partition, "offset", (json_int_t)m->offset);
    if (m->key)
        json_object_set_new(line, "key", json_stringn(m->key, m->key_len));
    const char *corr = json_string_value(json_object_get(event, "correlation_id"));
    if (corr)
        json_object_set_new(line, "correlation_id", json_string(corr));
    if (event) {
        /* A request whose bytes the parsed event does not give back (spacing,
         * a duplicate key, escapes) keeps them too: replay sends those. */
        char *again = strcmp(label, "requested") == 0 ? json_dumps(event, JSON_COMPACT) : NULL;
        if (again && (strlen(again) != m->len || memcmp(again, m->payload, m->len) != 0))
            set_bytes(line, m->payload, m->len);
        free(again);
        json_object_set_new(line, "event", event);
    } else if (strcmp(label, "requested") == 0) {
        /* not JSON (a bad-input scenario sent it on purpose): all of it, replay sends it */
        set_bytes(line, m->payload, m->len);
    } else { /* an answer that is not JSON: keep the bytes, cut */
        json_object_set_new(line, "bytes",
                            json_stringn_nocheck(m->payload, m->len < 4096 ? m->len : 4096));
    }
    return line;
}

/* Reads one topic's partitions from 0 to their high watermarks. */
static int read_topic(rd_kafka_t *rk, const char *topic, const char *label, events_t *ev,
                      char *errstr, size_t size)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, TRACE_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err)
        return dbev_seterr(errstr, size, "trace: metadata of %s: %s", topic, rd_kafka_err2str(err));
    int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(partitions);
    int64_t *high = calloc((size_t)partitions + 1, sizeof(*high));
    int64_t remaining = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, TRACE_TIMEOUT_MS) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi > lo) {
            rd_kafka_topic_partition_list_add(assign, topic, p)->offset = lo;
            high[p] = hi;
            remaining += hi - lo;
        }
    }
    int rc = 0;
    if (remaining > 0 && rd_kafka_assign(rk, assign) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int64_t deadline = dbev_mono_us() + (int64_t)TRACE_TIMEOUT_MS * 1000;
        while (remaining > 0 && dbev_mono_us() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (!m)
                continue;
            if (!m->err && m->partition < partitions && m->offset < high[m->partition]) {
                rd_kafka_timestamp_type_t tstype;
                int64_t key_us = rd_kafka_message_timestamp(m, &tstype) * 1000 +
                                 (strcmp(label, "requested") == 0 ? 999 : 0);
                if (push(ev, key_us, line_for(m, label)) != 0)
                    rc = dbev_seterr(errstr, size, "trace: out of memory");
                remaining--;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(rk, NULL);
        if (remaining > 0 && rc == 0)
            rc = dbev_seterr(errstr, size, "trace: %lld events of %s not read back within %d ms",
                             (long long)remaining, topic, TRACE_TIMEOUT_MS);
    }
    free(high);
    rd_kafka_topic_partition_list_destroy(assign);
    return rc;
}

/* The adapter reports its breaker state in every answer's metadata; a change
 * between two answers in time order is a transition. */
static void breaker_timeline(runctx_t *ctx, const events_t *ev, int64_t run_started_wall_us)
{
    const char *last = "CLOSED";
    for (size_t i = 0; i < ev->n; i++) {
        const json_t *event = json_object_get(ev->items[i].line, "event");
        const char *state = json_string_value(
            json_object_get(json_object_get(json_object_get(event, "payload"), "metadata"),
                            "circuit_breaker_state"));
        if (!state || !strcmp(state, last))
            continue;
        int64_t t_us = ev->items[i].key_us / 1000 * 1000 - run_started_wall_us;
        dbev_report_add_breaker(ctx->report, t_us > 0 ? t_us : 0, ctx->scenario->name, last, state);
        last = state;
    }
}

static pthread_mutex_t sql_lock = PTHREAD_MUTEX_INITIALIZER;

void trace_note_sql(runctx_t *ctx, const json_t *body)
{
    if (!ctx->client)
        return; /* no event path: no trace is written (run.c), so nothing to note */
    int64_t now_us = dbev_wall_us();
    json_t *line = json_pack("{s:I, s:I, s:s, s:O}", "t_ms", (json_int_t)(now_us / 1000), "t_us",
                             (json_int_t)now_us, "topic", "sql", "step", body);
    if (!line)
        return;
    json_object_del(json_object_get(line, "step"), "database");
    pthread_mutex_lock(&sql_lock);
    if (!ctx->trace_sql)
        ctx->trace_sql = json_array();
    json_array_append_new(ctx->trace_sql, line);
    pthread_mutex_unlock(&sql_lock);
}

long trace_dump(runctx_t *ctx, const char *bootstrap, const json_t *header, const char *path,
                int64_t run_started_wall_us, char *errstr, size_t size)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "dbev-harness-trace", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    kprofile_apply(conf, mockenv_is_mock(ctx->kafka), KPROFILE_CONSUMER);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return dbev_seterr(errstr, size, "trace: %s", err);
    }
    static const struct {
        dbev_topic_t topic;
        const char *label;
    } topics[] = {{DBEV_TOPIC_REQUESTED, "requested"},
                  {DBEV_TOPIC_COMPLETED, "completed"},
                  {DBEV_TOPIC_FAILED, "failed"}};
    events_t ev = {0};
    int rc = 0;
    for (size_t t = 0; t < 3 && rc == 0; t++) {
        char name[256];
        dbev_topic_name(ctx->topic_env, topics[t].topic, name, sizeof(name));
        rc = read_topic(rk, name, topics[t].label, &ev, errstr, size);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    long written = -1;
    size_t sql_index;
    json_t *sql;
    json_array_foreach(ctx->trace_sql, sql_index, sql)
    {
        if (rc == 0 &&
            push(&ev, json_integer_value(json_object_get(sql, "t_us")), json_incref(sql)) != 0)
            rc = dbev_seterr(errstr, size, "trace: out of memory");
    }
    if (rc == 0) {
        qsort(ev.items, ev.n, sizeof(event_t), by_time);
        breaker_timeline(ctx, &ev, run_started_wall_us);
        FILE *f = fopen(path, "w");
        if (!f) {
            dbev_seterr(errstr, size, "trace: cannot write %s", path);
        } else {
            if (header) {
                json_t *first = json_pack("{s:O}", "header", header);
                char *text = first ? json_dumps(first, JSON_COMPACT) : NULL;
                if (text)
                    fprintf(f, "%s\n", text);
                free(text);
                json_decref(first);
            }
            for (size_t i = 0; i < ev.n; i++) {
                char *text = json_dumps(ev.items[i].line, JSON_COMPACT);
                if (text)
                    fprintf(f, "%s\n", text);
                free(text);
            }
            written = fclose(f) == 0 ? (long)ev.n : -1;
        }
    }
    for (size_t i = 0; i < ev.n; i++)
        json_decref(ev.items[i].line);
    free(ev.items);
    return written;
}
