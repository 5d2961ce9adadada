/*
 * The transport floor's two-hop echo (transport.h). The payload of each
 * message is its send time (monotonic µs), so the reader needs no table.
 */
#include "env/transport.h"

#include "dbev_common.h"
#include "env/kprofile.h"

#include <dbev/histogram.h>

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long the last answers may take after the last send (a broker that
 * loses one must not hold the run up). */
#define TRANSPORT_TAIL_MS 1000
/* Echoes sent and awaited before the measured ones: the first produce of
 * each producer looks up metadata (the idempotent one also gets a producer
 * id), which is start-up, not the floor. */
#define TRANSPORT_WARMUP    5
#define TRANSPORT_WARMUP_MS 2000

typedef struct echo {
    rd_kafka_t *in;  /* consumer of A, the adapter's settings */
    rd_kafka_t *out; /* producer to B, the adapter's settings */
    rd_kafka_topic_t *b;
    atomic_bool quit;
} echo_t;

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int set_all(rd_kafka_conf_t *conf, const char *const *kv, char *errstr, size_t size)
{
    char err[256];
    for (size_t i = 0; kv && kv[i]; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq)
            return dbev_seterr(errstr, size, "transport: setting %s has no '='", kv[i]);
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - kv[i]), kv[i]);
        if (rd_kafka_conf_set(conf, key, eq + 1, err, sizeof(err)) != RD_KAFKA_CONF_OK)
            return dbev_seterr(errstr, size, "transport: %s: %s", key, err);
    }
    return 0;
}

static rd_kafka_t *make(const transport_opts_t *o, kprofile_role_t role, const char *const *own,
                        char *errstr, size_t size)
{
    bool consumer = role == KPROFILE_CONSUMER;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *base[] = {"log_level=0", "reconnect.backoff.ms=100", NULL};
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, err, sizeof(err)) ||
        set_all(conf, base, errstr, size) || set_all(conf, own, errstr, size) ||
        kprofile_apply(conf, o->mock, role) ||
        set_all(conf, consumer ? o->extra : o->extra_producer, errstr, size)) {
        if (!errstr[0])
            dbev_seterr(errstr, size, "transport: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk =
        rd_kafka_new(consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        dbev_seterr(errstr, size, "transport: %s", err);
    }
    return rk;
}

/* Assigns partition 0 of topic at its current end. */
static int assign_end(rd_kafka_t *rk, const char *topic, char *errstr, size_t size)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 5000);
    if (err)
        return dbev_seterr(errstr, size, "transport: %s: %s", topic, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = hi;
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err)
        return dbev_seterr(errstr, size, "transport: assign %s: %s", topic, rd_kafka_err2str(err));
    return 0;
}

/* The adapter's hop: consume, re-produce, as its loop does. */
static void *echo_main(void *arg)
{
    echo_t *e = arg;
    while (!atomic_load(&e->quit)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(e->in, 100);
        if (m && !m->err)
            rd_kafka_produce(e->b, 0, RD_KAFKA_MSG_F_COPY, m->payload, m->len, NULL, 0, NULL);
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_poll(e->out, 0);
    }
    return NULL;
}

/* Sends TRANSPORT_WARMUP echoes (stamped 0) and waits for them all. */
static int warm_up(rd_kafka_t *send, rd_kafka_t *recv, rd_kafka_topic_t *a, char *errstr,
                   size_t size)
{
    int64_t zero = 0, deadline = dbev_mono_us() + TRANSPORT_WARMUP_MS * 1000;
    for (int i = 0; i < TRANSPORT_WARMUP; i++)
        rd_kafka_produce(a, 0, RD_KAFKA_MSG_F_COPY, &zero, sizeof(zero), NULL, 0, NULL);
    int back = 0;
    while (back < TRANSPORT_WARMUP && dbev_mono_us() < deadline) {
        rd_kafka_poll(send, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(recv, 10);
        back += m && !m->err;
        if (m)
            rd_kafka_message_destroy(m);
    }
    if (back < TRANSPORT_WARMUP)
        return dbev_seterr(errstr, size, "transport: %d of %d warm-up echoes came back in %d ms",
                           back, TRANSPORT_WARMUP, TRANSPORT_WARMUP_MS);
    return 0;
}

int transport_measure(const transport_opts_t *o, transport_floor_t *out, char *errstr, size_t size)
{
    memset(out, 0, sizeof(*out));
    errstr[0] = '\0';
    int trips = o->round_trips > 0 ? o->round_trips : TRANSPORT_DEFAULT_TRIPS;
    double rate = o->rate > 0 ? o->rate : TRANSPORT_DEFAULT_RATE;
    int64_t t0 = dbev_mono_us();
    char group[64];
    snprintf(group, sizeof(group), "group.id=dbev-transport-%" PRId64, t0);
    const char *const consumer_own[] = {group, "enable.auto.commit=false",
                                        "enable.partition.eof=false", NULL};
    const char *const client_producer[] = {"linger.ms=1", NULL};
    const char *const adapter_producer[] = {"linger.ms=1", "enable.idempotence=true", "acks=all",
                                            NULL};
    echo_t e = {0};
    rd_kafka_t *send = make(o, KPROFILE_CLIENT_PRODUCER, client_producer, errstr, size);
    rd_kafka_t *recv = send ? make(o, KPROFILE_CONSUMER, consumer_own, errstr, size) : NULL;
    e.in = recv ? make(o, KPROFILE_CONSUMER, consumer_own, errstr, size) : NULL;
    e.out = e.in ? make(o, KPROFILE_ADAPTER_PRODUCER, adapter_producer, errstr, size) : NULL;
    rd_kafka_topic_t *a = e.out ? rd_kafka_topic_new(send, o->topic_a, NULL) : NULL;
    e.b = a ? rd_kafka_topic_new(e.out, o->topic_b, NULL) : NULL;
    dbev_hist_t *hist = dbev_hist_new();
    pthread_t thread;
    bool started = false;
    int rc = -1;
    if (!e.b || !hist) {
        if (!errstr[0])
            dbev_seterr(errstr, size, "transport: out of memory");
        goto out;
    }
    if (assign_end(e.in, o->topic_a, errstr, size) || assign_end(recv, o->topic_b, errstr, size))
        goto out;
    if (pthread_create(&thread, NULL, echo_main, &e) != 0) {
        dbev_seterr(errstr, size, "transport: cannot start the echo thread");
        goto out;
    }
    started = true;
    if (warm_up(send, recv, a, errstr, size))
        goto out;
    if (o->before_timed && !o->before_timed(o->before_timed_arg)) {
        dbev_seterr(errstr, size, "transport: cancelled before the timed echoes");
        goto out;
    }

    double cpu0 = cpu_seconds();
    int64_t start = dbev_mono_us(), gap_us = (int64_t)(1e6 / rate);
    int64_t last_send = start + (int64_t)(trips - 1) * gap_us;
    int64_t deadline = last_send + TRANSPORT_TAIL_MS * 1000;
    int64_t now;
    while (out->received < trips && (now = dbev_mono_us()) < deadline) {
        int64_t due = start + (int64_t)out->sent * gap_us;
        if (out->sent < trips && now >= due) {
            int64_t stamp = now;
            if (rd_kafka_produce(a, 0, RD_KAFKA_MSG_F_COPY, &stamp, sizeof(stamp), NULL, 0, NULL) ==
                0)
                out->sent++;
            rd_kafka_poll(send, 0);
            continue;
        }
        int64_t wait_us = out->sent < trips ? due - now : deadline - now;
        /* Rounded up: a send up to 1 ms late costs nothing (its stamp is
         * taken when it goes), spinning would cost a core. */
        int wait_ms = (int)((wait_us + 999) / 1000);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(recv, wait_ms > 0 ? wait_ms : 0);
        if (m && !m->err && m->len == sizeof(int64_t)) {
            int64_t sent_at;
            memcpy(&sent_at, m->payload, sizeof(sent_at));
            dbev_hist_record(hist, dbev_mono_us() - sent_at);
            out->received++;
        }
        if (m)
            rd_kafka_message_destroy(m);
        else if (wait_ms <= 0)
            rd_kafka_poll(send, 0);
    }
    out->echo_cpu_s = cpu_seconds() - cpu0;
    if (out->received == 0) {
        dbev_seterr(errstr, size, "transport: none of %d echoes came back within %d ms", out->sent,
                    TRANSPORT_TAIL_MS);
        goto out;
    }
    out->p50_ms = (double)dbev_hist_percentile(hist, 50) / 1000.0;
    out->p99_ms = (double)dbev_hist_percentile(hist, 99) / 1000.0;
    out->max_ms = (double)dbev_hist_percentile(hist, 100) / 1000.0;
    rc = 0;
out:
    if (started) {
        atomic_store(&e.quit, true);
        pthread_join(thread, NULL);
    }
    dbev_hist_destroy(hist);
    if (a)
        rd_kafka_topic_destroy(a);
    if (e.b)
        rd_kafka_topic_destroy(e.b);
    if (e.out)
        rd_kafka_destroy(e.out);
    if (e.in) {
        rd_kafka_consumer_close(e.in);
        rd_kafka_destroy(e.in);
    }
    if (recv) {
        rd_kafka_consumer_close(recv);
        rd_kafka_destroy(recv);
    }
    if (send)
        rd_kafka_destroy(send);
    out->wall_s = (double)(dbev_mono_us() - t0) / 1e6;
    return rc;
}
