/*
 * Throughput of the adapter's database side: N single-row INSERT requests
 * (decoded beforehand) through adapter_exec_batch in batches, against a
 * throwaway PostgreSQL (pgenv), next to the same rows written with plain
 * libpq, once one INSERT per round trip and once pipelined per batch. Also
 * the same executor run with the request decode and the response
 * serialisation included, the adapter's whole CPU cost per request short of
 * Kafka. Then two figures for caller-written SQL, which runs each request
 * alone and leaves its connection's session to be reset before anything else
 * uses it: SELECT requests only (one key each, n/5 of them), and a mix of
 * nine INSERTs to one SELECT (n/5), where every SELECT also costs the
 * INSERTs after it their prepared statements. Prints one line per figure,
 * then a JSON line with all of them.
 *
 * Usage: bench_exec [requests] [batch]   (default 100000 and 500)
 */
#include "exec.h"
#include "env/pgenv.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const dbev_logger_t logger = {
    .cb = dbev_log_stderr, .level = DBEV_LOG_WARN, .component = "bench_exec"};

static double rate(long n, int64_t us)
{
    return us > 0 ? (double)n * 1e6 / (double)us : 0;
}

/*
 * CPU time (microseconds) of the server under dir: its postmaster (found by
 * its -D argument) and the postmaster's children. The machine is shared, so
 * wall-clock rates vary with the neighbours; CPU per request does not.
 */
static int64_t proc_cpu_us(int pid, int *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long utime = 0, stime = 0;
    int pp = 0;
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
     */
    if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &pp, &utime, &stime) !=
        3)
        return -1;
    if (ppid)
        *ppid = pp;
    return (int64_t)(utime + stime) * 1000000 / sysconf(_SC_CLK_TCK);
}

static int find_postmaster(const char *dir)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int found = 0;
    while (d && (de = readdir(d)) && !found) {
        int pid = atoi(de->d_name);
        if (pid <= 0)
            continue;
        char path[64], cmd[4096];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
        fclose(f);
        for (size_t i = 0; i < n; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[n] = '\0';
        if (strstr(cmd, "-D ") && strstr(cmd, dir))
            found = pid;
    }
    if (d)
        closedir(d);
    return found;
}

static int64_t server_cpu_us(int postmaster)
{
    int64_t total = proc_cpu_us(postmaster, NULL);
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        int pid = atoi(de->d_name), ppid = 0;
        if (pid <= 0 || pid == postmaster)
            continue;
        int64_t us = proc_cpu_us(pid, &ppid);
        if (us > 0 && ppid == postmaster)
            total += us;
    }
    if (d)
        closedir(d);
    return total;
}

static int64_t self_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
           (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

typedef struct cpu {
    int postmaster;
    int64_t self_us, server_us;
} cpu_t;

static cpu_t cpu_now(int postmaster)
{
    cpu_t c = {postmaster, self_cpu_us(), postmaster ? server_cpu_us(postmaster) : 0};
    return c;
}

/* Prints CPU microseconds per request of the adapter side and the server since a. */
static void cpu_line(const char *what, cpu_t a, cpu_t b, long n, double *self_per,
                     double *server_per)
{
    *self_per = (double)(b.self_us - a.self_us) / (double)n;
    *server_per = (double)(b.server_us - a.server_us) / (double)n;
    printf("  %-32s CPU per request: client/adapter %6.1f us, postgres %6.1f us -> %7.0f req/s "
           "on 2 cores\n",
           what, *self_per, *server_per, 2e6 / (*self_per + *server_per));
}

static void must(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
        exit(1);
    }
    PQclear(res);
}

/* A request event around payload (JSON text): fresh ids, stamped now. */
static char *request_text(const char *payload)
{
    char id[40], corr[40], ts[DBEV_ISO8601_SIZE];
    dbev_uuid_new(id);
    dbev_uuid_new(corr);
    dbev_iso8601(dbev_wall_us(), ts, sizeof(ts));
    char *text = NULL;
    if (asprintf(&text,
                 "{\"event_id\":\"%s\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
                 "\"correlation_id\":\"%s\",\"timestamp\":\"%s\",\"service\":\"bench\","
                 "\"payload\":%s}",
                 id, corr, ts, payload) < 0)
        exit(1);
    return text;
}

/* The request event of row i (prefix keeps the runs' keys apart). */
static char *event_text(const char *prefix, long i)
{
    char payload[512];
    snprintf(payload, sizeof(payload),
             "{\"operation_type\":\"INSERT\",\"table\":\"bench_rows\","
             "\"data\":{\"id\":\"%s-%ld\",\"agent_name\":\"agent-researcher\","
             "\"status\":\"in_progress\",\"score\":0.95},\"options\":{\"timeout_ms\":"
             "60000}}",
             prefix, i);
    return request_text(payload);
}

/* A SELECT request for the row written as prefix-i. */
static char *select_text(const char *prefix, long i)
{
    char payload[512];
    snprintf(payload, sizeof(payload),
             "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT id, score FROM "
             "bench_rows WHERE id = $1\",\"params\":[\"%s-%ld\"],\"options\":{\"timeout_ms\":"
             "60000}}",
             prefix, i);
    return request_text(payload);
}

static dbev_request_t *decode(const char *text)
{
    dbev_request_t *req = NULL;
    dbev_decode_error_t err;
    if (dbev_request_decode(text, strlen(text), &req, &err)) {
        fprintf(stderr, "decode: %s\n", err.message);
        exit(1);
    }
    return req;
}

static int cpu_postmaster;
static cpu_t cpu_mark, cpu_end;

/* Runs n requests through the executor in batches; returns microseconds. */
/* select_every: every so many requests a SELECT (of row "exec-i") instead
 * of an INSERT; 1: only SELECTs, 0: none. */
static int64_t run_exec_mix(adapter_exec_t *ex, const char *prefix, long n, long batch, bool full,
                            long select_every, long *failed)
{
    char **texts = calloc((size_t)n, sizeof(*texts));
    dbev_request_t **reqs = calloc((size_t)n, sizeof(*reqs));
    adapter_outcome_t *out = calloc((size_t)batch, sizeof(*out));
    for (long i = 0; i < n; i++) {
        texts[i] = select_every > 0 && i % select_every == 0 ? select_text("exec", i)
                                                             : event_text(prefix, i);
        if (!full)
            reqs[i] = decode(texts[i]);
    }
    *failed = 0;
    cpu_mark = cpu_now(cpu_postmaster);
    int64_t t0 = dbev_mono_us();
    for (long i = 0; i < n; i += batch) {
        long k = n - i < batch ? n - i : batch;
        if (full)
            for (long j = 0; j < k; j++)
                reqs[i + j] = decode(texts[i + j]);
        adapter_exec_batch(ex, reqs + i, (size_t)k, out);
        for (long j = 0; j < k; j++) {
            if (!out[j].completed) {
                if (*failed == 0 && strcmp(prefix, "split") != 0) {
                    char *s = json_dumps(out[j].payload, JSON_COMPACT);
                    fprintf(stderr, "failed: %s\n", s);
                    free(s);
                }
                (*failed)++;
            }
            if (full) {
                json_t *ev =
                    dbev_envelope_new(DBEV_EVENT_COMPLETED, "x", reqs[i + j]->correlation_id,
                                      "database-adapter-effect", 0, out[j].payload);
                char *s = dbev_event_dumps(ev);
                free(s);
                json_decref(ev);
            } else {
                json_decref(out[j].payload);
            }
        }
    }
    int64_t us = dbev_mono_us() - t0;
    cpu_end = cpu_now(cpu_postmaster);
    for (long i = 0; i < n; i++) {
        dbev_request_destroy(reqs[i]);
        free(texts[i]);
    }
    free(texts);
    free(reqs);
    free(out);
    return us;
}

static int64_t run_exec(adapter_exec_t *ex, const char *prefix, long n, long batch, bool full,
                        long *failed)
{
    return run_exec_mix(ex, prefix, n, batch, full, 0, failed);
}

static const char insert_sql[] =
    "INSERT INTO bench_rows (id, agent_name, status, score) VALUES ($1, $2, $3, $4)";

static int64_t run_direct(PGconn *conn, const char *prefix, long n)
{
    char id[64];
    const char *values[4] = {id, "agent-researcher", "in_progress", "0.95"};
    int64_t t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%ld", prefix, i);
        PGresult *res = PQexecParams(conn, insert_sql, 4, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "direct insert: %s", PQerrorMessage(conn));
            exit(1);
        }
        PQclear(res);
    }
    return dbev_mono_us() - t0;
}

static int64_t run_pipelined(PGconn *conn, const char *prefix, long n, long batch)
{
    char ids[1000][64];
    if (batch > 1000)
        batch = 1000;
    int64_t t0 = dbev_mono_us();
    for (long i = 0; i < n; i += batch) {
        long k = n - i < batch ? n - i : batch;
        PQenterPipelineMode(conn);
        for (long j = 0; j < k; j++) {
            snprintf(ids[j], sizeof(ids[j]), "%s-%ld", prefix, i + j);
            const char *values[4] = {ids[j], "agent-researcher", "in_progress", "0.95"};
            if (!PQsendQueryParams(conn, insert_sql, 4, NULL, values, NULL, NULL, 0)) {
                fprintf(stderr, "send: %s", PQerrorMessage(conn));
                exit(1);
            }
        }
        PQpipelineSync(conn);
        for (long j = 0; j < k; j++) {
            PGresult *res = PQgetResult(conn);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                fprintf(stderr, "pipelined insert: %s", PQerrorMessage(conn));
                exit(1);
            }
            PQclear(res);
            PQclear(PQgetResult(conn)); /* NULL */
        }
        PQclear(PQgetResult(conn)); /* sync */
        PQexitPipelineMode(conn);
    }
    return dbev_mono_us() - t0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    long batch = argc > 2 ? atol(argv[2]) : 500;
    if (n <= 0)
        n = 100000;
    if (batch <= 0)
        batch = 500;
    char err[512], dsn[1024];
    /* pgenv's default place: a tmpfs when there is one, as real runs use. */
    pgenv_opts_t opts = {.quiet = true};
    pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
    if (!env) {
        fprintf(stderr, "pgenv: %s\n", err);
        return 1;
    }
    if (pgenv_create_database(env, "bench", NULL, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        pgenv_destroy(env);
        return 1;
    }
    PGconn *conn = pgenv_connect(env, "bench", err, sizeof(err));
    must(conn, "CREATE TABLE bench_rows (id text PRIMARY KEY, agent_name text, status text,"
               " score float8, created_at timestamptz DEFAULT now())");
    pgenv_dsn(env, "bench", dsn, sizeof(dsn));

    adapter_exec_conf_t conf = {.conninfo = dsn,
                                .pool_min = 2,
                                .pool_max = 4,
                                .breaker_failure_threshold = 5,
                                .breaker_recovery_ms = 60000,
                                .breaker_success_threshold = 3,
                                .default_timeout_ms = 30000,
                                .dedupe_retention_ms = 24 * 3600 * 1000LL,
                                .logger = &logger};
    adapter_exec_t *ex = adapter_exec_new(&conf, err, sizeof(err));
    if (!ex) {
        fprintf(stderr, "exec: %s\n", err);
        return 1;
    }
    cpu_postmaster = find_postmaster(pgenv_host(env));
    long failed = 0, failed_full = 0, failed_split = 0;
    double ex_self, ex_srv, full_self, full_srv, d_self, d_srv, p_self, p_srv;
    run_exec(ex, "warm", batch * 4, batch, false, &failed);
    int64_t exec_us = run_exec(ex, "exec", n, batch, false, &failed);
    cpu_t exec_a = cpu_mark, exec_b = cpu_end;
    int64_t full_us = run_exec(ex, "full", n, batch, true, &failed_full);
    cpu_t full_a = cpu_mark, full_b = cpu_end;
    long n_direct = n / 5 > 0 ? n / 5 : 1;
    cpu_t d_a = cpu_now(cpu_postmaster);
    int64_t direct_us = run_direct(conn, "direct", n_direct);
    cpu_t d_b = cpu_now(cpu_postmaster);
    int64_t piped_us = run_pipelined(conn, "piped", n, batch);
    cpu_t p_b = cpu_now(cpu_postmaster);
    /* One batch with a failing request in the middle: the cost of the split. */
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT INTO bench_rows (id) VALUES ('split-%ld')", batch / 2);
    must(conn, sql);
    int64_t split_us = run_exec(ex, "split", batch, batch, false, &failed_split);
    long n_sql = n / 5 > 0 ? n / 5 : 1, failed_select = 0, failed_mixed = 0;
    int64_t select_us = run_exec_mix(ex, "select", n_sql, batch, false, 1, &failed_select);
    cpu_t sel_a = cpu_mark, sel_b = cpu_end;
    int64_t mixed_us = run_exec_mix(ex, "mixed", n_sql, batch, false, 10, &failed_mixed);
    cpu_t mix_a = cpu_mark, mix_b = cpu_end;
    double sel_self, sel_srv, mix_self, mix_srv;

    printf("exec_batch (dedupe, 1 txn/batch): %9.0f req/s  (%ld requests, batch %ld, %ld failed)\n",
           rate(n, exec_us), n, batch, failed);
    cpu_line("", exec_a, exec_b, n, &ex_self, &ex_srv);
    printf("exec_batch + decode + response:   %9.0f req/s\n", rate(n, full_us));
    cpu_line("", full_a, full_b, n, &full_self, &full_srv);
    printf("direct libpq, 1 round trip/row:   %9.0f rows/s  (%ld rows)\n",
           rate(n_direct, direct_us), n_direct);
    cpu_line("", d_a, d_b, n_direct, &d_self, &d_srv);
    printf("direct libpq, pipelined/batch:    %9.0f rows/s\n", rate(n, piped_us));
    cpu_line("", d_b, p_b, n, &p_self, &p_srv);
    printf("one batch of %ld with request %ld failing: %.1f ms (%ld failed)\n", batch, batch / 2,
           (double)split_us / 1000.0, failed_split);
    printf("exec_batch, SELECT only:          %9.0f req/s  (%ld requests, %ld failed)\n",
           rate(n_sql, select_us), n_sql, failed_select);
    cpu_line("", sel_a, sel_b, n_sql, &sel_self, &sel_srv);
    printf("exec_batch, 9 INSERTs : 1 SELECT: %9.0f req/s  (%ld requests, %ld failed)\n",
           rate(n_sql, mixed_us), n_sql, failed_mixed);
    cpu_line("", mix_a, mix_b, n_sql, &mix_self, &mix_srv);
    printf("{\"bench\":\"exec\",\"requests\":%ld,\"batch\":%ld,\"exec_req_per_s\":%.0f,"
           "\"exec_cpu_us\":{\"adapter\":%.1f,\"postgres\":%.1f},\"exec_full_req_per_s\":%.0f,"
           "\"exec_full_cpu_us\":{\"adapter\":%.1f,\"postgres\":%.1f},"
           "\"direct_rows_per_s\":%.0f,\"direct_cpu_us\":{\"client\":%.1f,\"postgres\":%.1f},"
           "\"pipelined_rows_per_s\":%.0f,\"pipelined_cpu_us\":{\"client\":%.1f,\"postgres\":%.1f},"
           "\"split_batch_ms\":%.1f,\"select_req_per_s\":%.0f,"
           "\"select_cpu_us\":{\"adapter\":%.1f,\"postgres\":%.1f},\"mixed_req_per_s\":%.0f,"
           "\"mixed_cpu_us\":{\"adapter\":%.1f,\"postgres\":%.1f}}\n",
           n, batch, rate(n, exec_us), ex_self, ex_srv, rate(n, full_us), full_self, full_srv,
           rate(n_direct, direct_us), d_self, d_srv, rate(n, piped_us), p_self, p_srv,
           (double)split_us / 1000.0, rate(n_sql, select_us), sel_self, sel_srv,
           rate(n_sql, mixed_us), mix_self, mix_srv);
    adapter_exec_destroy(ex);
    PQfinish(conn);
    pgenv_destroy(env);
    return failed || failed_select || failed_mixed ? 1 : 0;
}
