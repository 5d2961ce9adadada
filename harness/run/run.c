/*
 * The run (see run.h). One environment for the whole run; per scenario a
 * fresh database cloned from a template that already holds the migrations
 * and fixtures, its own topics, adapter(s) and client, so scenarios cannot
 * see each other and can run side by side (-j). Terminal lines go to stdout
 * (buffered per scenario when several run at once); structured logs to
 * stderr; reports to files. This file is the whole run; one scenario's life
 * is run_scenario.c's (run_int.h).
 */
#include "run/run.h"

#include "env/kprofile.h"
#include "env/transport.h"
#include "guard/guard.h"
#include "run/costs.h"
#include "run/metrics.h"
#include "run/run_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* -j workers take the scenarios that share nothing; those that must have
 * the machine to themselves (run_runs_alone()) run one at a time afterwards
 * (exclusive pass), the latency probe (tag perf) first: after the loads the
 * server is still busy with what they wrote (a gate's probe, behind the
 * stress climb and the 30 s load, measured p50 3.6 ms where phase 1's, with
 * no load before it, measured 2.7 ms). */
typedef struct pass {
    run_t *run;
    bool exclusive;
    int perf; /* 1: only scenarios tagged perf, -1: only the others, 0: any */
} pass_t;

static void *worker(void *arg)
{
    pass_t *pass = arg;
    run_t *run = pass->run;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        size_t place = run->next++;
        bool stop = run->opts->fail_fast && run->worst > 0;
        pthread_mutex_unlock(&run->lock);
        if (place >= run->n || stop)
            return NULL;
        /* The shared pass the costliest first; what runs alone, in file
         * order, as it was measured for the baselines. */
        size_t index = pass->exclusive ? place : run->order[place];
        const scenario_t *sc = run->scenarios[index];
        bool perf_ok = !pass->perf || scenario_has_tag(sc, "perf") == (pass->perf > 0);
        if (run_runs_alone(sc) == pass->exclusive && perf_ok)
            run_one(run, index);
    }
}

static void run_pass(run_t *run, int jobs, bool exclusive, int perf)
{
    pass_t pass = {run, exclusive, perf};
    pthread_t threads[16];
    int started = 0;
    run->next = 0;
    for (; jobs > 1 && started < jobs && started < 16; started++)
        if (pthread_create(&threads[started], NULL, worker, &pass) != 0)
            break;
    if (started == 0)
        worker(&pass);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

/* The harness's template databases (dbev_tpl_*) on the server, as a set. */
static json_t *list_templates(run_t *run)
{
    char errstr[512];
    json_t *names = json_object();
    PGconn *conn = pgenv_connect(run->pg, NULL, errstr, sizeof(errstr));
    PGresult *res =
        conn ? PQexec(conn, "SELECT datname FROM pg_database WHERE datname LIKE 'dbev\\_tpl\\_%'")
             : NULL;
    for (int i = 0; res && PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++)
        json_object_set_new(names, PQgetvalue(res, i, 0), json_true());
    PQclear(res);
    PQfinish(conn);
    return names;
}

/* --keep: the databases worth opening are those of the scenarios that did
 * not pass, not the server's default one; the server's own keep message
 * (pgenv_destroy()) then names the first of them too. */
static void keep_summary(run_t *run)
{
    if (!run->opts->keep || !run->pg || json_array_size(run->failed_dbs) == 0)
        return;
    size_t i;
    json_t *db;
    printf("kept for inspection (scenarios that did not pass):\n");
    json_array_foreach(run->failed_dbs, i, db)
    {
        char dsn[1024];
        pgenv_dsn(run->pg, json_string_value(db), dsn, sizeof(dsn));
        printf("  psql \"%s\"\n", dsn);
    }
    fflush(stdout);
    pgenv_keep_dbname(run->pg, json_string_value(json_array_get(run->failed_dbs, 0)));
}

/* A user's server (--pg-dsn) is left as found: the template databases this
 * run created are dropped (those it found are someone else's and stay).
 * The scenario databases are dropped at each scenario's teardown. */
static void drop_own_templates(run_t *run)
{
    if (!run->env_opts->pg_dsn || run->opts->keep || !run->pg)
        return;
    const char *label;
    json_t *name;
    json_object_foreach(run->templates, label, name)
    {
        const char *tpl = json_string_value(name);
        char errstr[512];
        if (json_object_get(run->templates_before, tpl))
            continue;
        if (pgenv_drop_database(run->pg, tpl, errstr, sizeof(errstr)) != 0)
            dbev_logf(&run->logger, DBEV_LOG_WARN, NULL, "%s", errstr);
    }
}

/* The transport floor of this run's Kafka (transport.h): printed, among the
 * report's figures, and in metrics.json (transport.*), so a reader sees
 * which part of the latencies is the broker's. A failure to measure it is
 * said, not fatal. Its clients are set up and warmed in a thread of their
 * own while PostgreSQL comes up and the templates are built; the timed
 * echoes wait for floor_release(), so they run with nothing else (beside a
 * PostgreSQL start-up, the floor's p99 was ~1.4 ms higher). */
typedef struct floor_job {
    run_t *run;
    char line[512];
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool go;     /* released: the timed echoes may start */
    bool wanted; /* false: the run ends without them (its environment failed) */
} floor_job_t;

static bool floor_wait_go(void *arg)
{
    floor_job_t *job = arg;
    pthread_mutex_lock(&job->lock);
    while (!job->go)
        pthread_cond_wait(&job->cond, &job->lock);
    bool wanted = job->wanted;
    pthread_mutex_unlock(&job->lock);
    return wanted;
}

/* Lets the floor's timed echoes start (nothing else of the run is busy), or
 * end without them (!wanted). */
static void floor_release(floor_job_t *job, bool wanted)
{
    pthread_mutex_lock(&job->lock);
    job->go = true;
    job->wanted = wanted;
    pthread_cond_broadcast(&job->cond);
    pthread_mutex_unlock(&job->lock);
}

static void *measure_transport(void *arg)
{
    floor_job_t *job = arg;
    run_t *run = job->run;
    char env[64], a[256], b[256], errstr[512];
    char *line = job->line;
    snprintf(env, sizeof(env), "dbev%dtransport", (int)getpid());
    transport_floor_t f;
    transport_opts_t o = {.bootstrap = mockenv_bootstrap(run->kafka),
                          .topic_a = dbev_topic_name(env, DBEV_TOPIC_REQUESTED, a, sizeof(a)),
                          .topic_b = dbev_topic_name(env, DBEV_TOPIC_COMPLETED, b, sizeof(b)),
                          .mock = mockenv_is_mock(run->kafka),
                          .before_timed = floor_wait_go,
                          .before_timed_arg = job};
    if (mockenv_create_topics(run->kafka, env, errstr, sizeof(errstr)) != 0 ||
        transport_measure(&o, &f, errstr, sizeof(errstr)) != 0) {
        snprintf(line, sizeof(job->line), "not measured: %.400s", errstr);
    } else {
        pthread_mutex_lock(&run->lock);
        run_metrics_set(run->metrics, "transport.p50_ms", f.p50_ms);
        run_metrics_set(run->metrics, "transport.p99_ms", f.p99_ms);
        run_metrics_set(run->metrics, "transport.round_trips", f.received);
        pthread_mutex_unlock(&run->lock);
        snprintf(line, sizeof(job->line),
                 "p50 %.2f ms, p99 %.2f ms over %d round trips (two hops, no adapter; %s fetch "
                 "profile; %.2f s)",
                 f.p50_ms, f.p99_ms, f.received, kprofile_name(o.mock), f.wall_s);
    }
    return NULL;
}

/* Kafka first, so that the floor's clients are set up (floor's thread)
 * while PostgreSQL comes up; the caller releases and joins it
 * (floor_finish). */
static int env_up(run_t *run, floor_job_t *floor, char *errstr, size_t size)
{
    if (run->opts->mode != RUN_MODE_DIRECT) {
        mockenv_opts_t k_opts = {0};
        k_opts.bootstrap = run->env_opts->kafka_bootstrap;
        k_opts.brokers = run->env_opts->brokers;
        k_opts.partitions =
            run->env_opts->partitions > 0 ? run->env_opts->partitions : RUN_DEFAULT_PARTITIONS;
        k_opts.logger = &run->logger;
        run->kafka = mockenv_new(&k_opts, errstr, size);
        if (!run->kafka)
            return -1;
        floor->run = run;
        pthread_mutex_init(&floor->lock, NULL);
        pthread_cond_init(&floor->cond, NULL);
        floor->started = pthread_create(&floor->thread, NULL, measure_transport, floor) == 0;
        if (!floor->started)
            snprintf(floor->line, sizeof(floor->line), "not measured: no thread for it");
    }
    pgenv_opts_t pg_opts = {0};
    pg_opts.pg_bin = run->env_opts->pg_bin;
    pg_opts.pg_dsn = run->env_opts->pg_dsn;
    pg_opts.keep = run->opts->keep;
    pg_opts.quiet = true;
    pg_opts.logger = &run->logger;
    run->pg = pgenv_new(&pg_opts, errstr, size);
    if (!run->pg)
        return -1;
    if (run->env_opts->pg_dsn)
        run->templates_before = list_templates(run);
    return 0;
}

/* Releases and waits for the floor's thread (if any); with report, its
 * timed echoes run and the floor is said, without, they are skipped (the
 * environment did not come up). */
static void floor_finish(run_t *run, floor_job_t *floor, bool report)
{
    if (floor->started) {
        floor_release(floor, report);
        pthread_join(floor->thread, NULL);
    }
    if (floor->run) {
        pthread_cond_destroy(&floor->cond);
        pthread_mutex_destroy(&floor->lock);
    }
    floor->started = false;
    if (!report || !floor->line[0])
        return;
    printf("transport floor: %s\n", floor->line);
    dbev_report_set_figure(run->report, "transport floor", floor->line);
}

static void fill_environment(run_t *run)
{
    dbev_report_set_seed(run->report, run->opts->seed);
    dbev_report_fill_host(run->report);
    dbev_report_set_version(run->report, "dbev", DBEV_VERSION_STRING);
    dbev_report_set_version(run->report, "libdbev", dbev_version_str());
    char buf[64];
    snprintf(buf, sizeof(buf), "%d", pgenv_server_version(run->pg));
    dbev_report_set_version(run->report, "postgresql", buf);
    dbev_report_set_version(run->report, "librdkafka", rd_kafka_version_str());
    static const char *const modes[] = {"event", "direct", "both"};
    static const char *const adapters[] = {"thread", "process", "external"};
    dbev_report_set_env(run->report, "mode", modes[run->opts->mode]);
    dbev_report_set_env(run->report, "adapter", adapters[run->opts->adapter_mode]);
    if (run->kafka)
        dbev_report_set_env(run->report, "kafka",
                            mockenv_is_mock(run->kafka) ? "librdkafka mock cluster"
                                                        : mockenv_bootstrap(run->kafka));
    dbev_report_set_env(run->report, "postgresql",
                        run->env_opts->pg_dsn ? "external (--pg-dsn)" : "throwaway (initdb)");
    FILE *git = popen("git -C '" DBEV_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", "r");
    if (git) {
        if (fgets(buf, sizeof(buf), git)) {
            buf[strcspn(buf, "\n")] = '\0';
            dbev_report_set_git_commit(run->report, buf);
        }
        pclose(git);
    }
}

/* Peak resident memory of this process (client, harness and, with
 * --adapter thread, the adapters), from /proc/self/status. */
static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb / 1024.0;
}

/*
 * The client's own memory, seed 000's "< 50 MB with 1,000 requests in
 * flight": measured in a process of its own (bench_client_memory: one client,
 * 1,000 requests held in flight by a fake responder on a mock broker), since
 * the harness process also holds adapters, a mock cluster and every
 * scenario's state. It takes about a second (2.6 s before --memory-only),
 * nearly all of it waiting, so it runs beside the scenarios that share the
 * machine, never beside one that must run alone (client_memory_start(),
 * client_memory_finish()).
 */
static FILE *client_memory_start(void)
{
    return popen(DBEV_BUILD_DIR "/bin/bench_client_memory 1000 --memory-only 2>/dev/null", "r");
}

/* The peak RSS in MB that the measurement printed, or -1 when it could not
 * run. */
static double client_memory_finish(FILE *p)
{
    char line[256];
    double mb = -1, v;
    int answered = -1, n = -1;
    while (p && fgets(line, sizeof(line), p)) {
        if (mb < 0 && sscanf(line, " peak rss (VmHWM) %lf MB", &v) == 1)
            mb = v;
        sscanf(line, " answered %d of %d", &answered, &n);
    }
    /* Exit 1 is also the bench's own verdict on its 50 MB target: the gate
     * judges that bound itself, so a figure over it still counts (dropping it
     * left the gate with "no scenario produced client.rss_mb"). It counts
     * only if every request was answered: a partial run under-measures. */
    int status = p ? pclose(p) : -1;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) > 1 || answered <= 0 ||
        answered != n)
        mb = -1;
    return mb;
}

/* Whether any selected scenario runs in the shared pass. */
static bool has_shared(const run_t *run)
{
    for (size_t i = 0; i < run->n; i++)
        if (!run_runs_alone(run->scenarios[i]))
            return true;
    return false;
}

/* The adapter's service time beside the end-to-end latency, per operation,
 * from the metrics: printed and among the report's figures. */
static void service_figure(run_t *run, const json_t *metrics)
{
    char text[2048] = "", key[96], op[32];
    size_t len = 0;
    for (int o = 0; o < DBEV_OP__COUNT && len < sizeof(text) - 200; o++) {
        run_metrics_op_key((dbev_op_t)o, op, sizeof(op));
        double v[4];
        static const char *const kinds[] = {"service", "service", "latency", "latency"};
        static const char *const pcts[] = {"p50_ms", "p99_ms", "p50_ms", "p99_ms"};
        bool have = true;
        for (int i = 0; i < 4 && have; i++) {
            snprintf(key, sizeof(key), "%s.%s.%s", kinds[i], op, pcts[i]);
            const json_t *n = json_object_get(metrics, key);
            have = json_is_number(n);
            v[i] = json_number_value(n);
        }
        if (have)
            len += (size_t)snprintf(text + len, sizeof(text) - len,
                                    "%s%s: service p50 %.2f / p99 %.2f ms, end to end p50 %.2f "
                                    "/ p99 %.2f ms",
                                    len ? "; " : "", op, v[0], v[1], v[2], v[3]);
    }
    if (!len)
        return;
    printf("adapter service time: %s\n", text);
    dbev_report_set_figure(run->report, "adapter service time", text);
}

static int write_metrics(const json_t *metrics, const char *dir, char *errstr, size_t size)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s/metrics.json", dir);
    if (json_dump_file(metrics, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        return dbev_seterr(errstr, size, "cannot write %s", path);
    return 0;
}

int run_scenarios(const run_opts_t *opts, const run_env_opts_t *env_opts,
                  scenario_t *const *scenarios, size_t n, run_judge_fn judge, void *opaque)
{
    run_t run;
    memset(&run, 0, sizeof(run));
    run.opts = opts;
    run.env_opts = env_opts;
    run.scenarios = scenarios;
    run.n = n;
    /* The shared pass takes the costliest first: it then ends with short
     * scenarios rather than a long one running alone (costs.h). */
    run.order = calloc(n ? n : 1, sizeof(*run.order));
    run.took_s = calloc(n ? n : 1, sizeof(*run.took_s));
    if (!run.order || !run.took_s) {
        free(run.order);
        free(run.took_s);
        fprintf(stderr, "dbev-harness run: out of memory\n");
        return 2;
    }
    costs_order(COSTS_PATH, scenarios, n, run.order);
    for (size_t i = 0; i < n; i++)
        run.took_s[i] = -1;
    run.logger = (dbev_logger_t){dbev_log_stderr, NULL, DBEV_LOG_WARN, "harness"};
    run.templates = json_object();
    run.skipped = json_array();
    run.failed_dbs = json_array();
    run.report = dbev_report_new("dbev-harness run");
    run.metrics = run_metrics_new();
    json_t *metrics = NULL;
    pthread_mutex_init(&run.lock, NULL);
    int64_t started_wall = dbev_wall_us(), t0 = dbev_mono_us();
    run.started_wall_us = started_wall;

    char errstr[1024];
    int rc = -1; /* the environment did not come up */
    floor_job_t floor = {0};
    if (env_up(&run, &floor, errstr, sizeof(errstr)) != 0) {
        floor_finish(&run, &floor, false);
        fprintf(stderr, "dbev-harness run: %s\n", errstr);
        goto done;
    }
    fill_environment(&run);
    printf("environment: PostgreSQL %s in %.0f ms%s, Kafka %s; seed %llu\n",
           env_opts->pg_dsn ? "(--pg-dsn)" : "throwaway", pgenv_startup_ms(run.pg),
           pgenv_was_warm(run.pg) ? " (warm)" : "",
           run.kafka ? mockenv_bootstrap(run.kafka) : "(not used: --mode direct)",
           (unsigned long long)opts->seed);
    int64_t t_env = dbev_mono_us();
    run_prepare_templates(&run);
    int64_t t_templates = dbev_mono_us();
    floor_finish(&run, &floor, true); /* its line, or none with --mode direct */
    printf("\n");
    fflush(stdout);

    int64_t t_floor = dbev_mono_us();
    /* client.rss_mb, when judged: beside the shared pass when there is one,
     * and read before anything runs alone. */
    bool client_memory = judge && opts->client_memory;
    FILE *memory = client_memory && has_shared(&run) ? client_memory_start() : NULL;
    run_pass(&run, env_opts->jobs, false, 0);
    double client_mb = -1;
    if (client_memory)
        client_mb = client_memory_finish(memory ? memory : client_memory_start());
    run_pass(&run, 1, true, 1);
    run_pass(&run, 1, true, -1);
    int64_t t_scenarios = dbev_mono_us();

    dbev_report_set_times(run.report, started_wall, dbev_mono_us() - t0);
    dbev_report_totals_t totals;
    dbev_report_totals(run.report, &totals);
    printf("%d scenarios: %d passed, %d failed, %d skipped, %d errors (%.1f s)\n",
           totals.scenario_count, totals.scenarios[DBEV_REPORT_PASS],
           totals.scenarios[DBEV_REPORT_FAIL], totals.scenarios[DBEV_REPORT_SKIP],
           totals.scenarios[DBEV_REPORT_ERROR], (double)(dbev_mono_us() - t0) / 1e6);
    run_metrics_set(run.metrics, "scenarios.passed", totals.scenarios[DBEV_REPORT_PASS]);
    run_metrics_set(run.metrics, "scenarios.failed", totals.scenarios[DBEV_REPORT_FAIL]);
    run_metrics_set(run.metrics, "scenarios.skipped", totals.scenarios[DBEV_REPORT_SKIP]);
    run_metrics_set(run.metrics, "scenarios.errors", totals.scenarios[DBEV_REPORT_ERROR]);
    run_metrics_set(run.metrics, "harness.rss_mb", peak_rss_mb());
    if (client_mb >= 0) /* measured where it means something */
        run_metrics_set(run.metrics, "client.rss_mb", client_mb);
    metrics = run_metrics_json(run.metrics);
    service_figure(&run, metrics);
    char hostile[512];
    guards_summary(metrics, hostile, sizeof(hostile));
    if (hostile[0]) {
        printf("hostile requests: %s\n", hostile);
        dbev_report_set_figure(run.report, "hostile requests", hostile);
    }
    rc = run.worst;
    if (judge)
        rc = judge(run.report, metrics, run.skipped, rc, opaque);
    if (write_metrics(metrics, opts->out_dir, errstr, sizeof(errstr)) != 0 ||
        dbev_report_write_all(run.report, opts->out_dir, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "dbev-harness run: cannot write reports: %s\n", errstr);
        rc = judge ? rc : 2;
        goto done;
    }
    printf("reports: %s/report.html (also report.xml, report.json, summary.md, metrics.json)\n",
           opts->out_dir);
    if (opts->timings)
        printf("timings: environment %.0f ms (PostgreSQL %.0f ms), templates %.0f ms, transport "
               "floor %.0f ms more, scenarios %.0f ms, figures and reports %.0f ms\n",
               (double)(t_env - t0) / 1000.0, pgenv_startup_ms(run.pg),
               (double)(t_templates - t_env) / 1000.0, (double)(t_floor - t_templates) / 1000.0,
               (double)(t_scenarios - t_floor) / 1000.0,
               (double)(dbev_mono_us() - t_scenarios) / 1000.0);
done:
    costs_record(COSTS_PATH, scenarios, n, run.took_s);
    free(run.order);
    free(run.took_s);
    drop_own_templates(&run);
    keep_summary(&run);
    json_decref(metrics);
    run_metrics_destroy(run.metrics);
    if (env_opts->exiting)
        mockenv_abandon(run.kafka);
    else
        mockenv_destroy(run.kafka);
    pgenv_destroy(run.pg);
    dbev_report_destroy(run.report);
    json_decref(run.templates);
    json_decref(run.skipped);
    json_decref(run.templates_before);
    json_decref(run.failed_dbs);
    pthread_mutex_destroy(&run.lock);
    return rc;
}
