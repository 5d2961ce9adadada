/*
 * bench_client_memory: resident memory of a process using libdbev with N
 * requests in flight (default 1,000; the target from seed 000 is under
 * 50 MB). One thread issues N asynchronous INSERTs against an in-process
 * librdkafka mock cluster; a responder thread holds every request until all
 * N have arrived (so N really are in flight at once), then answers them all.
 * Prints RSS (VmRSS) after start-up, with N in flight, the peak (VmHWM), and
 * how long answering all N took once released. Then a throughput phase: the
 * responder answers at once and one thread keeps a window of N requests in
 * flight for 20 N requests (at most 100,000): requests per second and round
 * trip percentiles (the mock cluster's fetch wait dominates the latency).
 * --memory-only stops before it: the gate's client.rss_mb needs only the
 * first part (harness/run/run.c), and the second cost it ~1 s a run.
 *
 *   bench_client_memory [N] [--memory-only]
 */
#include "dbev/dbev.h"
#include "dbev/protocol.h"
#include "dbev_common.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_PREFIX "bench"

static char topics[3][256];
static const char *bootstrap;
static atomic_int held_count;
static atomic_bool release, stop;
static atomic_int completed;
static rd_kafka_mock_cluster_t *volatile abandoned_cluster;
static rd_kafka_t *volatile abandoned_handle;

/* VmRSS or VmHWM from /proc/self/status, in kB. */
static long status_kb(const char *field)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(field);
    while (fp && fgets(line, sizeof(line), fp))
        if (!strncmp(line, field, n) && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (fp)
        fclose(fp);
    return kb;
}

static rd_kafka_t *rk_new(rd_kafka_type_t type, const char *group)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    if (group) {
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err));
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    } else {
        rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof(err));
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        exit(1);
    }
    return rk;
}

static void produce(rd_kafka_t *producer, char *text)
{
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topics[1]),
                             RD_KAFKA_V_VALUE(text, strlen(text)),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(producer, 10);
}

/*
 * Holds the first n requests until released, then answers them all, and
 * answers every later request at once (the throughput phase).
 */
static void *responder(void *arg)
{
    int n = *(int *)arg;
    rd_kafka_t *consumer = rk_new(RD_KAFKA_CONSUMER, "bench-responder");
    rd_kafka_t *producer = rk_new(RD_KAFKA_PRODUCER, NULL);
    /* connect the producer now, so the release is not measured with a cold start */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, topics[1], NULL);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topics[0], 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    char **held = calloc((size_t)n, sizeof(*held));
    int count = 0, flushed = 0;
    while (!atomic_load(&stop)) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(consumer, 1);
        for (; rkm; rkm = rd_kafka_consumer_poll(consumer, 0)) {
            dbev_request_t *req = NULL;
            dbev_decode_error_t derr;
            if (!rkm->err && dbev_request_decode(rkm->payload, rkm->len, &req, &derr) == 0) {
                json_t *rows = json_pack("[{s:i}]", "id", count + 1);
                json_t *payload = dbev_completed_payload_new(
                    req->op.type, rows, 1, 0.1, DBEV_BREAKER_CLOSED, false, false, NULL);
                char id[40];
                dbev_uuid_new(id);
                json_t *event = dbev_envelope_new(DBEV_EVENT_COMPLETED, id, req->correlation_id,
                                                  "bench", 0, payload);
                char *text = dbev_event_dumps(event);
                json_decref(event);
                dbev_request_destroy(req);
                if (count < n) {
                    held[count++] = text;
                    atomic_store(&held_count, count);
                } else {
                    produce(producer, text);
                }
            }
            rd_kafka_message_destroy(rkm);
        }
        if (atomic_load(&release))
            for (; flushed < count; flushed++)
                produce(producer, held[flushed]);
        rd_kafka_poll(producer, 0);
    }
    for (int i = flushed; i < count; i++)
        free(held[i]);
    free(held);
    rd_kafka_flush(producer, 1000);
    rd_kafka_destroy(producer);
    rd_kafka_destroy_flags(consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return NULL;
}

static double latencies[200000];
static int n_latencies;

static void on_done_timed(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error,
                          void *opaque)
{
    if (result) {
        atomic_fetch_add(&completed, 1);
        if (n_latencies < (int)(sizeof(latencies) / sizeof(latencies[0])))
            latencies[n_latencies++] = dbev_result_latency_ms(result);
    }
    dbev_result_destroy(result);
    dbev_error_destroy(error);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void on_done(dbev_client_t *client, dbev_result_t *result, dbev_error_t *error, void *opaque)
{
    if (result)
        atomic_fetch_add(&completed, 1);
    dbev_result_destroy(result);
    dbev_error_destroy(error);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    bool memory_only = argc > 2 && !strcmp(argv[2], "--memory-only");
    if (n < 1 || n > 1000000 || argc > 3 || (argc > 2 && !memory_only)) {
        fprintf(stderr, "usage: bench_client_memory [N in 1..1000000] [--memory-only]\n");
        return 2;
    }
    char err[512];
    rd_kafka_t *mock_rk = rk_new(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mock_rk, 1);
    bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    for (int t = 0; t < 3; t++) {
        dbev_topic_name(ENV_PREFIX, (dbev_topic_t)t, topics[t], sizeof(topics[t]));
        rd_kafka_mock_topic_create(mc, topics[t], 1, 1);
    }
    long rss_before = status_kb("VmRSS");

    dbev_conf_t *conf = dbev_conf_new();
    dbev_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err));
    dbev_conf_set(conf, "topic.prefix", ENV_PREFIX, err, sizeof(err));
    dbev_conf_set(conf, "request.timeout.ms", "120000", err, sizeof(err));
    dbev_conf_set(conf, "kafka.log_level", "0", err, sizeof(err));
    dbev_client_t *client = dbev_client_new(conf, err, sizeof(err));
    if (!client) {
        fprintf(stderr, "dbev_client_new: %s\n", err);
        return 1;
    }
    pthread_t thr;
    pthread_create(&thr, NULL, responder, &n);
    long rss_started = status_kb("VmRSS");

    for (int i = 0; i < n; i++) {
        json_t *data = json_pack("{s:s, s:i, s:s, s:f}", "agent_name", "agent-researcher", "seq", i,
                                 "status", "in_progress", "confidence_score", 0.92);
        dbev_error_t *error = NULL;
        if (dbev_insert_async(client, "agent_execution_logs", data, "id", NULL, on_done, NULL,
                              &error)) {
            fprintf(stderr, "insert %d: %s\n", i, dbev_error_message(error));
            return 1;
        }
        json_decref(data);
    }
    /* Wait until the responder holds all N: they are all in flight now. */
    int64_t deadline = dbev_mono_us() + 60 * 1000000LL;
    while (atomic_load(&held_count) < n && dbev_mono_us() < deadline)
        dbev_client_poll(client, 10);
    int in_flight = dbev_client_outq_len(client);
    long rss_inflight = status_kb("VmRSS");

    int64_t t0 = dbev_mono_us();
    atomic_store(&release, true);
    while (atomic_load(&completed) < n && dbev_mono_us() < deadline)
        dbev_client_poll(client, 10);
    double answer_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    long hwm = status_kb("VmHWM");

    printf("bench_client_memory: %d requests\n", n);
    printf("  rss before client      %8.1f MB\n", rss_before / 1024.0);
    printf("  rss client started     %8.1f MB\n", rss_started / 1024.0);
    printf("  rss with %d in flight %8.1f MB (outq %d, held by responder %d)\n", n,
           rss_inflight / 1024.0, in_flight, atomic_load(&held_count));
    printf("  peak rss (VmHWM)       %8.1f MB (target < 50 MB)\n", hwm / 1024.0);
    printf("  answered               %d of %d in %.1f ms after release\n", atomic_load(&completed),
           n, answer_ms);

    /* Throughput: one thread keeps a window of n requests in flight. */
    int total = memory_only ? 0 : 20 * n < 100000 ? 20 * n : 100000;
    int answered_in_flight = atomic_load(&completed);
    atomic_store(&completed, 0);
    int issued = 0, failed = 0;
    int64_t t1 = dbev_mono_us();
    deadline = t1 + 120 * 1000000LL;
    while (atomic_load(&completed) + failed < total && dbev_mono_us() < deadline) {
        while (issued - atomic_load(&completed) < n && issued < total) {
            json_t *data = json_pack("{s:s, s:i}", "agent_name", "agent-researcher", "seq", issued);
            if (dbev_insert_async(client, "agent_execution_logs", data, "id", NULL, on_done_timed,
                                  NULL, NULL))
                failed++;
            json_decref(data);
            issued++;
        }
        dbev_client_poll(client, 5);
    }
    double secs = (double)(dbev_mono_us() - t1) / 1e6;
    qsort(latencies, (size_t)n_latencies, sizeof(double), cmp_double);
    if (!memory_only) {
        printf("  throughput             %d requests, window %d, one thread: %.0f req/s\n",
               atomic_load(&completed), n, atomic_load(&completed) / secs);
        if (n_latencies > 0)
            printf("  round trip (mock)      p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                   latencies[n_latencies / 2], latencies[(int)(n_latencies * 0.99)],
                   latencies[n_latencies - 1]);
        printf("  peak rss (VmHWM)       %8.1f MB after the throughput phase\n",
               status_kb("VmHWM") / 1024.0);
    }

    atomic_store(&stop, true);
    pthread_join(thr, NULL);
    dbev_client_destroy(client);
    /* The mock cluster is left to the exit: shutting it down waits out a
     * one-second timer of librdkafka 2.0.2 (harness/env/mockenv.h,
     * mockenv_abandon), half of a --memory-only run. Reachable from a
     * static, so a leak checker sees it in use. */
    abandoned_cluster = mc;
    abandoned_handle = mock_rk;
    return answered_in_flight == n && atomic_load(&completed) == total && hwm < 50 * 1024 ? 0 : 1;
}
