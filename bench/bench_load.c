/*
 * The load step end to end on this machine: a throwaway PostgreSQL, the Kafka
 * mock cluster (one broker), the adapter embedded as a thread and a libdbev
 * client, all in this process, driven by step_run_load exactly as a
 * scenario's `load:` step is. Prints the load's figures (rate, throughput,
 * percentiles from the intended send time, errors, checker and write lookup)
 * and the ASCII histogram the runner shows. Issue 6's throughput target is
 * 1,000 inserts/s for 30 s with p95 under 100 ms and errors under 1%.
 *
 * Its topics have as many partitions as the runner gives a scenario with a
 * load (RUN_LOAD_PARTITIONS, run.h), for the same reason: the mock broker
 * walks a partition's message sets from the oldest on every fetch, and with
 * three partitions a 30 s load at 1,010/s collapsed after ~15 s (p99 from
 * 6 ms to 6 s, 15 % timeouts, rdk:mock at 75 % of a core; docs/latency.md).
 *
 * Usage:
 *   bench_load [rate [duration_s]]          (default 1000 30)
 *   bench_load stress [p99_ms [max_s]]      (default 100 30: the knee of the p99 bound)
 */
#include "cpu_split.h"
#include "env/kprofile.h"
#include "scenario/runctx.h"
#include "env/transport.h"
#include "run/run.h"

#include "dbev_adapter.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *schema = "CREATE TABLE load_events (id uuid PRIMARY KEY, n bigint NOT NULL, "
                            "agent text NOT NULL, payload jsonb NOT NULL DEFAULT '{}', "
                            "created_at timestamptz NOT NULL DEFAULT now())";

static void quiet_log(void *opaque, dbev_log_level_t level, const char *component,
                      const char *correlation_id, const char *message)
{
    if (level >= DBEV_LOG_ERROR || getenv("DBEV_BENCH_VERBOSE"))
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

static int die(const char *what, const char *err)
{
    fprintf(stderr, "bench_load: %s: %s\n", what, err);
    return 1;
}

int main(int argc, char **argv)
{
    bool stress = argc > 1 && !strcmp(argv[1], "stress");
    double a = argc > 1 + stress ? atof(argv[1 + stress]) : (stress ? 100 : 1000);
    double b = argc > 2 + stress ? atof(argv[2 + stress]) : 30;
    if (a <= 0 || b <= 0 || (stress && b > 60)) {
        fprintf(stderr, "usage: bench_load [rate [duration_s]] | bench_load stress [p99_ms "
                        "[max_s <= 60]]\n");
        return 2;
    }
    char err[1024], buf[600];
    int rc = 1;
    pgenv_t *pg = NULL;
    mockenv_t *mk = NULL;
    dbev_adapter_t *adapter = NULL;
    dbev_client_t *client = NULL;
    PGconn *direct = NULL;
    vars_t *vars = vars_new(1);
    dbev_report_t *report = dbev_report_new("bench_load");
    json_t *body = NULL, *expect = NULL;
    dbev_logger_t logger = {.cb = quiet_log, .level = DBEV_LOG_INFO, .component = "bench"};

    pgenv_opts_t popts = {.quiet = true};
    if (!(pg = pgenv_new(&popts, err, sizeof(err)))) {
        rc = die("PostgreSQL", err);
        goto out;
    }
    if (pgenv_create_database(pg, "bench_load", NULL, err, sizeof(err))) {
        rc = die("create database", err);
        goto out;
    }
    direct = PQconnectdb(pgenv_dsn(pg, "bench_load", buf, sizeof(buf)));
    PGresult *r = PQexec(direct, schema);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        rc = die("schema", PQerrorMessage(direct));
        goto out;
    }
    PQclear(r);
    mockenv_opts_t mopts = {.brokers = 1, .partitions = RUN_LOAD_PARTITIONS, .env = "bench"};
    if (!(mk = mockenv_new(&mopts, err, sizeof(err)))) {
        rc = die("mock cluster", err);
        goto out;
    }

    dbev_adapter_conf_t *aconf = dbev_adapter_conf_new();
    /* pg.allow.superuser: a throwaway server's database without migrations */
    const char *fixed[] = {"env.fallback=false", "pool.min=2", "pool.max=4", "log.level=warn",
                           "pg.allow.superuser=true"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        dbev_adapter_conf_set_kv(aconf, fixed[i], err, sizeof(err));
    /* The harness's fetch profile for the mock (kprofile.h), as its runs use;
     * DBEV_KAFKA_PROFILE=broker (kprofile.h) measures the real-broker one instead, and
     * DBEV_BENCH_CONSUMER="key=value,..." adds consumer settings to both
     * consumers (the adapter's and the client's) after it. */
    const char *more = getenv("DBEV_BENCH_CONSUMER");
    bool mock_profile = strcmp(kprofile_name(true), "mock") == 0;
    for (int i = 0; kprofile_adapter_setting(mock_profile, i, buf, sizeof(buf)); i++)
        dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err));
    char extra[512] = "";
    /* DBEV_BENCH_ADAPTER="key=value,...": more adapter settings (e.g.
     * kafka.producer.linger.ms=0.5), after the profile. */
    const char *more_adapter = getenv("DBEV_BENCH_ADAPTER");
    snprintf(extra, sizeof(extra), "%s", more_adapter ? more_adapter : "");
    for (char *save = NULL, *kv = strtok_r(extra, ",", &save); kv; kv = strtok_r(NULL, ",", &save))
        if (dbev_adapter_conf_set_kv(aconf, kv, err, sizeof(err))) {
            dbev_adapter_conf_destroy(aconf);
            rc = die("DBEV_BENCH_ADAPTER", err);
            goto out;
        }
    snprintf(extra, sizeof(extra), "%s", more ? more : "");
    for (char *save = NULL, *kv = strtok_r(extra, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        snprintf(buf, sizeof(buf), "kafka.consumer.%s", kv);
        if (dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err))) {
            dbev_adapter_conf_destroy(aconf);
            rc = die("DBEV_BENCH_CONSUMER", err);
            goto out;
        }
    }
    snprintf(buf, sizeof(buf), "bootstrap.servers=%s", mockenv_bootstrap(mk));
    dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err));
    snprintf(buf, sizeof(buf), "topic.prefix=%s", mockenv_env_name(mk));
    dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err));
    snprintf(buf, sizeof(buf), "pg.host=%s", pgenv_host(pg));
    dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err));
    snprintf(buf, sizeof(buf), "pg.port=%d", pgenv_port(pg));
    dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err));
    snprintf(buf, sizeof(buf), "pg.user=%s", pgenv_user(pg));
    dbev_adapter_conf_set_kv(aconf, buf, err, sizeof(err));
    dbev_adapter_conf_set_kv(aconf, "pg.dbname=bench_load", err, sizeof(err));
    dbev_adapter_conf_set_log_cb(aconf, quiet_log, NULL);
    if (!(adapter = dbev_adapter_new(aconf, err, sizeof(err)))) {
        dbev_adapter_conf_destroy(aconf);
        rc = die("adapter", err);
        goto out;
    }
    if (dbev_adapter_start(adapter, err, sizeof(err))) {
        rc = die("adapter start", err);
        goto out;
    }
    int64_t deadline = dbev_mono_us() + 30000000;
    dbev_adapter_stats_t ast = {0};
    while (ast.assigned == 0 && dbev_mono_us() < deadline) {
        poll(NULL, 0, 50); /* the assignment is polled at 20 Hz, with a deadline */
        dbev_adapter_stats(adapter, &ast);
    }
    if (ast.assigned == 0) {
        rc = die("adapter", "no partitions assigned within 30 s");
        goto out;
    }
    dbev_conf_t *conf = dbev_conf_new();
    dbev_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(mk), err, sizeof(err));
    dbev_conf_set(conf, "topic.prefix", mockenv_env_name(mk), err, sizeof(err));
    dbev_conf_set(conf, "kafka.log_level", "0", err, sizeof(err));
    kprofile_client(conf, mock_profile);
    /* DBEV_BENCH_CLIENT="key=value,...": more client settings (e.g.
     * kafka.consumer.fetch.wait.max.ms=0), after the profile. */
    const char *more_client = getenv("DBEV_BENCH_CLIENT");
    snprintf(extra, sizeof(extra), "%s", more_client ? more_client : "");
    for (char *save = NULL, *kv = strtok_r(extra, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = '\0';
            dbev_conf_set(conf, kv, eq + 1, err, sizeof(err));
        }
    }
    snprintf(extra, sizeof(extra), "%s", more ? more : "");
    for (char *save = NULL, *kv = strtok_r(extra, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        snprintf(buf, sizeof(buf), "kafka.consumer.%s", kv);
        dbev_conf_set(conf, buf, eq + 1, err, sizeof(err));
    }
    if (!(client = dbev_client_new(conf, err, sizeof(err)))) {
        dbev_conf_destroy(conf);
        rc = die("client", err);
        goto out;
    }

    const char *tmpl = "\"insert\": {\"table\": \"load_events\", \"data\": {\"id\": "
                       "\"${req_uuid}\", \"n\": \"${seq}\", \"agent\": \"agent-${rand:1..50}\", "
                       "\"payload\": {\"step\": \"${seq}\", \"at\": \"${now}\"}}}, \"key\": "
                       "{\"table\": \"load_events\", \"column\": \"id\", \"value\": "
                       "\"${req_uuid}\"}";
    char text[1024];
    if (stress)
        snprintf(text, sizeof(text),
                 "{\"rate\": 200, \"duration_s\": %g, \"warmup_s\": 1, \"timeout_ms\": 2000, "
                 "\"max_in_flight\": "
                 "20000, \"stress\": {\"step\": \"x1.5\", \"step_duration_s\": 3, \"p99_ms\": "
                 "%g}, %s}",
                 b, a, tmpl);
    else
        snprintf(text, sizeof(text),
                 "{\"rate\": %g, \"duration_s\": %g, \"warmup_s\": 1, \"timeout_ms\": 5000, "
                 "\"max_in_flight\": "
                 "5000, %s}",
                 a, b, tmpl);
    body = json_loads(text, 0, NULL);
    expect = stress ? json_pack("{sb}", "no_loss", 1)
                    : json_pack("{sf sf sf sb}", "min_throughput", a * 0.99, "p95_ms", 100.0,
                                "max_error_rate", 0.01, "no_loss", 1);
    run_opts_t opts = {.seed = 1, .progress = isatty(2)};
    dbev_report_scenario_t *rs = dbev_report_add_scenario(report, "bench", NULL);
    step_t step = {
        .kind = STEP_LOAD, .name = stress ? "stress" : "load", .body = body, .expect = expect};
    snprintf(step.where, sizeof(step.where), "bench_load");
    runctx_t ctx = {.opts = &opts,
                    .pg = pg,
                    .kafka = mk,
                    .logger = &logger,
                    .report = report,
                    .report_scenario = rs,
                    .direct = direct,
                    .client = client,
                    .vars = vars,
                    .started_us = dbev_mono_us()};
    step_result_t res = {0};
    res.report_step = dbev_report_scenario_add_step(rs, step.name, "load");
    /* The transport floor of this mock cluster under the same profile (the
     * harness's, transport.h), before the load: the broker's part of the
     * latencies below. */
    transport_floor_t floor = {0};
    char floor_err[256] = "";
    mockenv_create_topics(mk, "benchfloor", floor_err, sizeof(floor_err));
    char fa[256], fb[256];
    transport_opts_t fopts = {
        .bootstrap = mockenv_bootstrap(mk),
        .topic_a = dbev_topic_name("benchfloor", DBEV_TOPIC_REQUESTED, fa, sizeof(fa)),
        .topic_b = dbev_topic_name("benchfloor", DBEV_TOPIC_COMPLETED, fb, sizeof(fb)),
        .mock = mock_profile};
    bool have_floor = transport_measure(&fopts, &floor, floor_err, sizeof(floor_err)) == 0;
    int64_t t0 = dbev_mono_us();
    cpu_split_t split0, split1;
    cpu_split_take(&split0, pgenv_server_pid(pg), "postgres");
    if (step_run_load(&ctx, &step, &res) != 0) {
        rc = die("load", res.message);
        goto out;
    }
    double wall = (double)(dbev_mono_us() - t0) / 1e6;
    cpu_split_take(&split1, pgenv_server_pid(pg), "postgres");

    snprintf(buf, sizeof(buf), "%s/bench_load.json", pgenv_data_dir(pg));
    dbev_report_write_json(report, buf, err, sizeof(err));
    json_t *root = json_load_file(buf, 0, NULL);
    json_t *load = vars_path_get(root, "scenarios[0].steps[0].load");
    printf("bench_load: %s through client -> mock Kafka (1 broker, %d partitions) -> embedded "
           "adapter (pool 4) -> PostgreSQL %d, one process, %ld CPUs; %s fetch profile%s%s\n",
           stress ? "stress climb" : "open-loop inserts", RUN_LOAD_PARTITIONS,
           pgenv_server_version(pg), sysconf(_SC_NPROCESSORS_ONLN),
           mock_profile ? "mock" : "broker", more ? " + " : "", more ? more : "");
    char *dump = json_dumps(vars_path_get(load, "percentiles_us"), JSON_COMPACT);
    printf("  target %.0f/s  sent %lld  answered %lld  throughput %.1f/s  in %.2f s (wall %.2f "
           "s)\n",
           json_number_value(json_object_get(load, "target_rate")),
           (long long)json_integer_value(json_object_get(load, "sent")),
           (long long)json_integer_value(json_object_get(load, "answered")),
           json_number_value(json_object_get(load, "throughput")),
           (double)json_integer_value(json_object_get(load, "duration_us")) / 1e6, wall);
    printf("  latency from intended send (us): %s\n", dump);
    free(dump);
    dump = json_dumps(vars_path_get(load, "service_percentiles_us"), JSON_COMPACT);
    printf("  adapter service time (us):       %s\n", dump);
    free(dump);
    if (have_floor)
        printf("  transport floor (two hops, no adapter, %d at %d/s before the load): p50 %.0f us, "
               "p99 %.0f us\n",
               floor.received, TRANSPORT_DEFAULT_RATE, floor.p50_ms * 1000, floor.p99_ms * 1000);
    else
        printf("  transport floor: not measured: %s\n", floor_err);
    dump = json_dumps(json_object_get(load, "errors"), JSON_COMPACT);
    /* Where the CPU went: the consumers' polling shows in rdk:broker* and
     * rdk:mock (the mock cluster's thread answering fetches). */
    cpu_split_print(stdout, "  CPU by thread, % of one core:", &split0, &split1, wall);
    printf("  errors: %s\n", dump);
    free(dump);
    dump = json_dumps(json_object_get(load, "checker"), JSON_COMPACT);
    printf("  checker: %s\n", dump);
    free(dump);
    printf("  per second (answers/s, p99 ms):");
    size_t pi;
    json_t *point;
    json_array_foreach(json_object_get(load, "series"), pi, point)
        printf("%s %.0f/%.0f", pi % 10 ? "" : "\n   ",
               json_number_value(json_object_get(point, "throughput")),
               (double)json_integer_value(json_object_get(point, "p99_us")) / 1000.0);
    printf("\n");
    printf("  verdict: %s%s%s\n", dbev_report_status_name(res.status), res.message[0] ? ": " : "",
           res.message);
    dbev_hist_ascii(dbev_report_load_hist(dbev_report_step_load(res.report_step)), stdout, 100);
    json_decref(root);
    unlink(buf);
    rc = res.status == DBEV_REPORT_PASS ? 0 : 1;
out:
    dbev_client_destroy(client);
    dbev_adapter_destroy(adapter);
    PQfinish(direct);
    mockenv_destroy(mk);
    pgenv_destroy(pg);
    vars_destroy(vars);
    dbev_report_destroy(report);
    json_decref(body);
    json_decref(expect);
    return rc;
}
