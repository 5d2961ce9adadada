/*
 * End-to-end throughput of the adapter: N single-row INSERT requests
 * produced as fast as possible to the requests topic of the in-process mock
 * Kafka cluster, the adapter embedded (a thread, the same code as the
 * dbev-adapter daemon) executing them on a throwaway PostgreSQL, and a
 * collector consuming every response. The figure is requests per second from
 * the first measured request produced to the last response consumed, after
 * a warm-up (a tenth of N, at most 5,000 requests, answered before the clock
 * starts) so that every client's start-up (first fetch, offset lookups,
 * producer id: 0.5 to 1 s here) is not counted as throughput; the figure
 * with the warm-up and start-up is printed beside it. Everything (producer,
 * mock broker, adapter, PostgreSQL, collector) shares this machine's cores;
 * the CPU each thread (and PostgreSQL's backends) used over the run is
 * printed too, which tells where the time went. Beside it, the direct-libpq
 * figures for the same rows: one round trip per INSERT (what services do
 * today) and pipelined (measured before and after the end-to-end run, the
 * mean of the two compared); then the ratio of end to end to pipelined, the CPU
 * each of the two needed per request (every thread and backend counted),
 * and the end-to-end figure this machine's cores would allow at that CPU.
 *
 * The producer keeps at most `window` requests unanswered: the mock cluster
 * keeps only about 5 MB per partition and silently drops older segments, so
 * an unbounded backlog would lose requests instead of queueing them.
 *
 * Usage: bench_adapter [requests] [batch.max] [partitions] [window] [key=value...]
 *        (defaults 100000, 500, 12, 10000). key=value: more adapter settings,
 *        or bench.returning=false (plain INSERTs; by default each asks for
 *        RETURNING execution_id, which the adapter cannot merge into
 *        multi-row statements). Prints one line per figure, then a JSON line.
 */
#include "cpu_split.h"
#include "dbev_adapter.h"
#include "env/mockenv.h"
#include "env/pgenv.h"

#include <dbev/protocol.h>

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Warm-up requests before the clock starts (a tenth of the run, at most this). */
#define WARMUP_MAX 5000

static const char *schema = "CREATE TABLE agent_execution_logs (execution_id uuid PRIMARY KEY,"
                            " correlation_id uuid NOT NULL, agent_name text NOT NULL,"
                            " status text NOT NULL, started_at timestamptz NOT NULL);";

/* bench.returning=false: plain INSERTs, no RETURNING (the adapter merges them
 * into multi-row statements and records no response document). */
static bool returning = true;

typedef struct collector {
    rd_kafka_t *rk;
    long want;
    atomic_long completed, failed;
    atomic_llong last_us;
    atomic_bool quit;
} collector_t;

static void *collect(void *arg)
{
    collector_t *c = arg;
    while (!atomic_load(&c->quit) &&
           atomic_load(&c->completed) + atomic_load(&c->failed) < c->want) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c->rk, 100);
        if (!msg)
            continue;
        if (!msg->err) {
            /* the topic tells completed from failed; the body is not decoded here */
            if (strstr(rd_kafka_topic_name(msg->rkt), "completed"))
                atomic_fetch_add(&c->completed, 1);
            else
                atomic_fetch_add(&c->failed, 1);
            atomic_store(&c->last_us, dbev_mono_us());
        }
        rd_kafka_message_destroy(msg);
    }
    return NULL;
}

static rd_kafka_t *client(mockenv_t *mk, rd_kafka_type_t type)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(mk), err, sizeof(err));
    if (type == RD_KAFKA_PRODUCER) {
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err));
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof(err));
    } else {
        rd_kafka_conf_set(conf, "group.id", "bench-collector", err, sizeof(err));
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_adapter: %s\n", err);
        exit(1);
    }
    return rk;
}

static void quiet_log(void *opaque, dbev_log_level_t level, const char *component,
                      const char *correlation_id, const char *message)
{
    if (level >= DBEV_LOG_WARN)
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static char *request_text(long i)
{
    char eid[40], cid[40], xid[40], ts[DBEV_ISO8601_SIZE];
    dbev_uuid_new(eid);
    dbev_uuid_new(cid);
    dbev_uuid_new(xid);
    dbev_iso8601(dbev_wall_us(), ts, sizeof(ts));
    char *text = NULL;
    if (asprintf(&text,
                 "{\"event_id\":\"%s\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
                 "\"correlation_id\":\"%s\",\"timestamp\":\"%s\",\"service\":\"bench\","
                 "\"payload\":{\"operation_type\":\"INSERT\",\"table\":\"agent_execution_logs\","
                 "\"data\":{\"execution_id\":\"%s\",\"correlation_id\":\"%s\",\"agent_name\":"
                 "\"agent-%ld\",\"status\":\"in_progress\",\"started_at\":\"%s\"},"
                 "%s\"options\":{\"timeout_ms\":60000}}}",
                 eid, cid, ts, xid, cid, i % 100, ts,
                 returning ? "\"returning\":\"execution_id\"," : "") < 0)
        return NULL;
    return text;
}

/* Produces texts[from, to) (each freed by librdkafka), keeping at most
 * window requests unanswered: the mock cluster keeps about 5 MB per
 * partition (librdkafka's mock default) and drops older segments, so a
 * backlog beyond that would be lost, not queued. */
static void produce_range(rd_kafka_t *producer, const char *topic, char **texts, long from, long to,
                          long window, collector_t *col)
{
    for (long i = from; i < to; i++) {
        const char *cid = texts[i] + strlen("{\"event_id\":\"") + 36 +
                          strlen("\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
                                 "\"correlation_id\":\"");
        while (i - (atomic_load(&col->completed) + atomic_load(&col->failed)) >= window)
            rd_kafka_poll(producer, 1);
        rd_kafka_resp_err_t perr;
        while ((perr = rd_kafka_producev(
                    producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(texts[i], strlen(texts[i])),
                    RD_KAFKA_V_KEY(cid, 36), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 5);
        if (perr) {
            fprintf(stderr, "bench_adapter: produce: %s\n", rd_kafka_err2str(perr));
            free(texts[i]);
        }
        texts[i] = NULL;
    }
}

/* Waits (polling the collector's counters, with a deadline) until want
 * responses arrived; returns how many did. */
static long wait_answered(collector_t *col, long want, int64_t timeout_us)
{
    int64_t deadline = dbev_mono_us() + timeout_us;
    long got;
    while ((got = atomic_load(&col->completed) + atomic_load(&col->failed)) < want &&
           dbev_mono_us() < deadline)
        usleep(2 * 1000);
    return got;
}

/* Direct libpq: n single-row INSERTs, one round trip each (autocommit). */
static double direct_round_trips(PGconn *conn, long n)
{
    const char *sql = "INSERT INTO agent_execution_logs VALUES ($1::uuid, $2::uuid, $3, $4, "
                      "$5::timestamptz) RETURNING execution_id";
    int64_t t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        char xid[40], cid[40], name[32], ts[DBEV_ISO8601_SIZE];
        dbev_uuid_new(xid);
        dbev_uuid_new(cid);
        snprintf(name, sizeof(name), "agent-%ld", i % 100);
        dbev_iso8601(dbev_wall_us(), ts, sizeof(ts));
        const char *vals[5] = {xid, cid, name, "in_progress", ts};
        PGresult *res = PQexecParams(conn, sql, 5, NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            fprintf(stderr, "bench_adapter: direct insert: %s", PQresultErrorMessage(res));
            PQclear(res);
            return 0;
        }
        PQclear(res);
    }
    return (double)n * 1e6 / (double)(dbev_mono_us() - t0);
}

/* Direct libpq, pipeline mode: n single-row INSERTs, a sync every 500. */
static double direct_pipelined(PGconn *conn, long n)
{
    const char *sql = "INSERT INTO agent_execution_logs VALUES ($1::uuid, $2::uuid, $3, $4, "
                      "$5::timestamptz) RETURNING execution_id";
    int64_t t0 = dbev_mono_us();
    if (!PQenterPipelineMode(conn))
        return 0;
    long sent = 0;
    while (sent < n) {
        long chunk = n - sent < 500 ? n - sent : 500;
        for (long i = 0; i < chunk; i++) {
            char xid[40], cid[40], ts[DBEV_ISO8601_SIZE];
            dbev_uuid_new(xid);
            dbev_uuid_new(cid);
            dbev_iso8601(dbev_wall_us(), ts, sizeof(ts));
            const char *vals[5] = {xid, cid, "agent-p", "in_progress", ts};
            PQsendQueryParams(conn, sql, 5, NULL, vals, NULL, NULL, 0);
        }
        PQpipelineSync(conn);
        sent += chunk;
        for (;;) {
            PGresult *res = PQgetResult(conn);
            if (!res)
                continue; /* end of one query's results */
            ExecStatusType st = PQresultStatus(res);
            PQclear(res);
            if (st == PGRES_PIPELINE_SYNC)
                break;
            if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
                fprintf(stderr, "bench_adapter: pipelined insert failed\n");
                return 0;
            }
        }
    }
    PQexitPipelineMode(conn);
    return (double)n * 1e6 / (double)(dbev_mono_us() - t0);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    const char *batch = argc > 2 ? argv[2] : "500";
    int partitions = argc > 3 ? atoi(argv[3]) : 12;
    long window = argc > 4 ? atol(argv[4]) : 10000;
    if (n <= 0 || partitions <= 0 || window <= 0) {
        fprintf(stderr, "usage: bench_adapter [requests] [batch.max] [partitions] [window] "
                        "[key=value...]\n");
        return 2;
    }
    char err[512];
    pgenv_opts_t popts = {0};
    popts.quiet = true;
    pgenv_t *pg = pgenv_new(&popts, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "bench_adapter: %s\n", err);
        return 1;
    }
    mockenv_opts_t mopts = {0};
    mopts.brokers = 1;
    mopts.partitions = partitions;
    mopts.env = "bench";
    mockenv_t *mk = mockenv_new(&mopts, err, sizeof(err));
    PGconn *conn = NULL;
    dbev_adapter_t *adapter = NULL;
    int rc = 1;
    if (!mk || pgenv_create_database(pg, "bench", NULL, err, sizeof(err)) ||
        !(conn = pgenv_connect(pg, "bench", err, sizeof(err)))) {
        fprintf(stderr, "bench_adapter: %s\n", err);
        goto out;
    }
    PQclear(PQexec(conn, schema));
    /* The pipelined baseline, first measure: before anything else of the run
     * starts. It is measured again after the end-to-end run, and the ratio
     * is taken against the mean of the two: this VM's speed drifts by a
     * third from one second to the next (pipelined alone 38,800-57,300
     * rows/s in one session), and one measure beside the end-to-end figure
     * moved the ratio with it. */
    cpu_split_t piped0, piped1;
    cpu_split_take(&piped0, pgenv_server_pid(pg), "postgres");
    double piped_before = direct_pipelined(conn, n);
    cpu_split_take(&piped1, pgenv_server_pid(pg), "postgres");
    double piped_cpu_s = cpu_split_total(&piped0, &piped1);
    PQclear(PQexec(conn, "TRUNCATE agent_execution_logs"));

    /* the adapter, embedded */
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    char port[16];
    snprintf(port, sizeof(port), "%d", pgenv_port(pg));
    const char *kv[][2] = {
        {"env.fallback", "false"},
        {"bootstrap.servers", mockenv_bootstrap(mk)},
        {"topic.prefix", "bench"},
        {"pg.host", pgenv_host(pg)},
        {"pg.port", port},
        {"pg.user", pgenv_user(pg)},
        {"pg.dbname", "bench"},
        /* a throwaway server's database without migrations: the superuser
         * adapter applies migration 007 itself */
        {"pg.allow.superuser", "true"},
        {"batch.max", batch},
        {"log.level", "warn"},
        {"kafka.consumer.fetch.wait.max.ms", "10"},
        {"heartbeat.interval.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (dbev_adapter_conf_set(conf, kv[i][0], kv[i][1], err, sizeof(err))) {
            fprintf(stderr, "bench_adapter: %s\n", err);
            dbev_adapter_conf_destroy(conf);
            goto out;
        }
    for (int i = 5; i < argc; i++) /* extra adapter settings, key=value */
        if (!strcmp(argv[i], "bench.returning=false"))
            returning = false;
        else if (dbev_adapter_conf_set_kv(conf, argv[i], err, sizeof(err))) {
            fprintf(stderr, "bench_adapter: %s\n", err);
            dbev_adapter_conf_destroy(conf);
            goto out;
        }
    dbev_adapter_conf_set_log_cb(conf, quiet_log, NULL);
    if (!(adapter = dbev_adapter_new(conf, err, sizeof(err))) ||
        dbev_adapter_start(adapter, err, sizeof(err))) {
        fprintf(stderr, "bench_adapter: %s\n", err);
        if (!adapter)
            dbev_adapter_conf_destroy(conf);
        goto out;
    }
    /* wait until it has joined the group (a condition with a deadline) */
    dbev_adapter_stats_t stats;
    int64_t deadline = dbev_mono_us() + 30 * 1000000LL;
    do {
        dbev_adapter_stats(adapter, &stats);
        if (stats.assigned > 0)
            break;
        usleep(10 * 1000);
    } while (dbev_mono_us() < deadline);
    if (stats.assigned == 0) {
        fprintf(stderr, "bench_adapter: the adapter got no partitions\n");
        goto out;
    }

    /* Requests prepared before the clock starts: a warm-up, then the n measured. */
    long warm = n / 10 < WARMUP_MAX ? n / 10 : WARMUP_MAX;
    long total = warm + n;
    char **texts = calloc((size_t)total, sizeof(char *));
    for (long i = 0; i < total; i++)
        texts[i] = request_text(i);

    collector_t col = {.want = total};
    col.rk = client(mk, RD_KAFKA_CONSUMER);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < partitions; p++) {
        rd_kafka_topic_partition_list_add(parts, mockenv_topic(mk, DBEV_TOPIC_COMPLETED), p)
            ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_topic_partition_list_add(parts, mockenv_topic(mk, DBEV_TOPIC_FAILED), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(col.rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    pthread_t th;
    pthread_create(&th, NULL, collect, &col);
    rd_kafka_t *producer = client(mk, RD_KAFKA_PRODUCER);
    const char *topic = mockenv_topic(mk, DBEV_TOPIC_REQUESTED);

    /* Warm-up: every client's first fetch, offset lookup and producer id
     * happen here, not inside the measured window (they took 0.5 to 1 s of
     * a 2.5 s run, which is start-up, not throughput). */
    int64_t t_warm = dbev_mono_us();
    produce_range(producer, topic, texts, 0, warm, window, &col);
    if (wait_answered(&col, warm, (30 + warm / 1000) * 1000000LL) < warm) {
        fprintf(stderr, "bench_adapter: the warm-up's %ld requests were not all answered\n", warm);
        atomic_store(&col.quit, true);
        pthread_join(th, NULL);
        goto clients;
    }

    cpu_split_t split0, split1;
    cpu_split_take(&split0, pgenv_server_pid(pg), "postgres");
    double cpu0 = cpu_s();
    int64_t t0 = dbev_mono_us();
    produce_range(producer, topic, texts, warm, total, window, &col);
    rd_kafka_flush(producer, 60000);
    int64_t t_produced = dbev_mono_us();
    long got = wait_answered(&col, total, (120 + n / 1000) * 1000000LL) - warm;
    atomic_store(&col.quit, true);
    pthread_join(th, NULL);
    int64_t t1 = atomic_load(&col.last_us);
    double cpu1 = cpu_s();
    cpu_split_take(&split1, pgenv_server_pid(pg), "postgres");
    dbev_adapter_stats(adapter, &stats);
    double e2e = got == n ? (double)n * 1e6 / (double)(t1 - t0) : 0;
    long rows = 0;
    PGresult *res = PQexec(conn, "SELECT count(*) FROM agent_execution_logs");
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        rows = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    printf("end to end (Kafka mock + adapter + PostgreSQL): %8.0f requests/s  (%ld requests after "
           "%ld of warm-up; in all %ld completed, %ld failed, %ld rows; batch.max %s, %d "
           "partitions)\n",
           e2e, n, warm, (long)atomic_load(&col.completed), (long)atomic_load(&col.failed), rows,
           batch, partitions);
    printf("   with the warm-up and every client's start-up: %.0f requests/s (%ld in %.0f ms)\n",
           got == n ? (double)total * 1e6 / (double)(t1 - t_warm) : 0, total,
           (double)(t1 - t_warm) / 1000);
    printf("   produced in %.0f ms, last response after %.0f ms; %.1f requests per batch; "
           "this process's CPU %.1f us/request (PostgreSQL not counted)\n",
           (double)(t_produced - t0) / 1000, (double)(t1 - t0) / 1000,
           stats.batches ? (double)stats.consumed / (double)stats.batches : 0,
           (cpu1 - cpu0) * 1e6 / (double)n);
    cpu_split_print(stdout, "   CPU by thread, % of one core over the run:", &split0, &split1,
                    (double)(t1 - t0) / 1e6);
    long nd = n < 20000 ? n : 20000;
    PQclear(PQexec(conn, "TRUNCATE agent_execution_logs"));
    double direct = direct_round_trips(conn, nd);
    PQclear(PQexec(conn, "TRUNCATE agent_execution_logs"));
    cpu_split_take(&piped0, pgenv_server_pid(pg), "postgres");
    double piped_after = direct_pipelined(conn, n);
    cpu_split_take(&piped1, pgenv_server_pid(pg), "postgres");
    piped_cpu_s += cpu_split_total(&piped0, &piped1);
    double piped = piped_before > 0 && piped_after > 0 ? (piped_before + piped_after) / 2 : 0;
    printf("direct libpq, 1 round trip per INSERT:         %8.0f rows/s      (%ld rows)\n", direct,
           nd);
    printf("direct libpq, pipelined (sync every 500):      %8.0f rows/s      (%ld rows; the mean "
           "of %.0f before the end-to-end run and %.0f after it)\n",
           piped, n, piped_before, piped_after);
    /* The goal (issue 16) is a ratio of these two figures. What bounds it on
     * this machine: the CPU each path needs per request, everything counted
     * (this process's threads, which for the end-to-end run include the
     * mock broker and the producing and collecting clients, and the
     * PostgreSQL backends), against the cores there are. */
    double e2e_cpu_us = cpu_split_total(&split0, &split1) * 1e6 / (double)n;
    double piped_cpu_us = piped_cpu_s * 1e6 / (double)(2 * n);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double ceiling = e2e_cpu_us > 0 ? (double)cores * 1e6 / e2e_cpu_us : 0;
    double ratio = piped > 0 ? e2e / piped : 0;
    printf("end to end / pipelined: %.2f (issue 16's goal: 0.9)\n", ratio);
    printf("   CPU per request, all threads and PostgreSQL's backends: end to end %.1f us, "
           "pipelined %.1f us\n",
           e2e_cpu_us, piped_cpu_us);
    printf("   end to end used %.2f of %ld cores; with all %ld busy it would do at most %.0f "
           "requests/s, %.2f of pipelined\n",
           cpu_split_total(&split0, &split1) * 1e6 / (double)(t1 - t0), cores, cores, ceiling,
           piped > 0 ? ceiling / piped : 0);
    printf("{\"bench\":\"adapter\",\"requests\":%ld,\"returning\":%s,\"batch_max\":%s,"
           "\"partitions\":%d,\"e2e_req_per_s\":%.0f,\"completed\":%ld,\"failed\":%ld,\"direct_"
           "rows_per_s\":%.0f,"
           "\"pipelined_rows_per_s\":%.0f,\"pipelined_before\":%.0f,\"pipelined_after\":%.0f,"
           "\"ratio\":%.3f,\"e2e_cpu_us\":%.1f,"
           "\"pipelined_cpu_us\":%.1f,\"cores\":%ld,\"ceiling_req_per_s\":%.0f,"
           "\"target_req_per_s\":20000}\n",
           n, returning ? "true" : "false", batch, partitions, e2e,
           (long)atomic_load(&col.completed), (long)atomic_load(&col.failed), direct, piped,
           piped_before, piped_after, ratio, e2e_cpu_us, piped_cpu_us, cores, ceiling);
    rc = got == n ? 0 : 1;
    if (got != n)
        fprintf(stderr, "bench_adapter: only %ld of %ld responses arrived\n", got, n);
clients:
    for (long i = 0; i < total; i++)
        free(texts[i]); /* those never produced */
    rd_kafka_destroy(producer);
    rd_kafka_consumer_close(col.rk);
    rd_kafka_destroy(col.rk);
    free(texts);
out:
    dbev_adapter_destroy(adapter);
    PQfinish(conn);
    mockenv_destroy(mk);
    pgenv_destroy(pg);
    return rc;
}
