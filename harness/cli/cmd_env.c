/*
 * dbev-harness env: the test environment on demand. `env up` brings up a
 * throwaway PostgreSQL and a Kafka mock cluster, prints shell settings to
 * reach them and holds them until SIGINT/SIGTERM (a throwaway server is
 * migrated first, so the adapter's role dbev_app exists and the exported
 * settings name it; the superuser's DSN is exported apart, for setup);
 * `env check` brings both up,
 * proves each works (SELECT 1 through libpq, one message produced and
 * consumed back through Kafka), tears down and prints timings. `env check` is
 * what `make run` runs, so its output speaks to someone who has just cloned
 * the project.
 * Exit codes: 0 ok, 1 the environment could not be brought up or a check
 * failed, 2 usage error.
 */
#include "cli/commands.h"
#include "migrate/fixtures.h"
#include "env/mockenv.h"
#include "env/pgenv.h"
#include "env/sandbox.h"
#include "cli/run_cli.h"
#include "util/util.h"

#include <getopt.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#define ROUND_TRIP_TIMEOUT_MS 15000

typedef struct args {
    const char *action; /* "up" or "check" */
    const char *pg_bin;
    const char *pg_dsn;
    const char *bootstrap;
    int brokers;
    int partitions;
    const char *env_name;
    bool tcp, keep, quiet;
    int log_level;
    /* the sandbox (sandbox.h): up --stack, down, status */
    bool stack, detach;
    const char *fixtures;
    int adapters;
    const char *state_dir;
} args_t;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: dbev-harness env up|check|down|status [options]\n"
        "\n"
        "actions:\n"
        "  up     bring up a throwaway PostgreSQL (migrated to the latest version) and a\n"
        "         Kafka mock cluster, print shell settings (export ...) to reach them as\n"
        "         the adapter's role dbev_app (DBEV_PG_ADMIN_DSN: as the superuser, for\n"
        "         setup), wait for Ctrl-C or SIGTERM, tear down\n"
        "  check  bring both up, run SELECT 1, send one message through Kafka and read\n"
        "         it back, tear down, print timings; exit 0 only if all of it worked\n"
        "  up --stack [--detach]\n"
        "         the sandbox: PostgreSQL with a database 'dbev' migrated and seeded\n"
        "         (--fixtures), the mock cluster and --adapters dbev-adapter processes,\n"
        "         held by one supervisor; prints the settings once an adapter answered\n"
        "         HEALTH. With --detach it returns then (eval \"$(... --detach)\")\n"
        "  down   tear the sandbox down; returns once its processes are gone\n"
        "  status what the sandbox runs (pids, DSNs, bootstrap, uptime); exit 1 if none\n"
        "\n"
        "options:\n"
        "  --stack                     up: the whole sandbox (see above)\n"
        "  --detach                    up --stack: return once ready, supervisor in the\n"
        "                              background (log in the state directory)\n"
        "  --fixtures NAME[,NAME]      up --stack: fixture sets (default base; '' none)\n"
        "  --adapters N                up --stack: adapter processes (default 1)\n"
        "  --state-dir DIR             the sandbox's state directory (default\n"
        "                              $DBEV_SANDBOX_DIR, $XDG_RUNTIME_DIR/dbev-sandbox,\n"
        "                              else /tmp/dbev-sandbox-<uid>)\n"
        "  --pg-bin DIR                directory with initdb, pg_ctl, postgres (default: PATH,\n"
        "                              pg_config --bindir, newest /usr/lib/postgresql/*/bin)\n"
        "  --pg-dsn DSN                use this PostgreSQL server instead of a throwaway one\n"
        "  --kafka-bootstrap HOST:PORT use this Kafka/Redpanda cluster instead of the mock one\n"
        "  --brokers N                 mock cluster brokers, 1 to %d (default %d)\n"
        "  --partitions N              partitions per topic, 1 to %d (default %d)\n"
        "  --env NAME                  topic prefix: NAME.omninode-bridge... (default %s)\n"
        "  --tcp                       PostgreSQL also listens on a free 127.0.0.1 port\n"
        "  --keep                      leave PostgreSQL running at exit, print how to reach it\n"
        "  --quiet                     only results and errors\n"
        "  --log-level LEVEL           debug, info, warn, error (default warn); debug shows\n"
        "                              librdkafka's own lines\n"
        "  -h, --help                  this text\n"
        "\n"
        "exit status: 0 ok, 1 bring-up or check failed, 2 usage error\n",
        MOCKENV_MAX_BROKERS, MOCKENV_DEFAULT_BROKERS, MOCKENV_MAX_PARTITIONS,
        MOCKENV_DEFAULT_PARTITIONS, MOCKENV_DEFAULT_ENV);
}

static int parse_count(const char *opt, const char *text, int max, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 1 || v > max) {
        fprintf(stderr, "dbev-harness env: %s '%s': expected a whole number from 1 to %d\n", opt,
                text, max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* 0 parsed, 1 help printed, 2 usage error (message printed). */
static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option longopts[] = {
        {"pg-bin", required_argument, NULL, 'b'},
        {"pg-dsn", required_argument, NULL, 'd'},
        {"kafka-bootstrap", required_argument, NULL, 'k'},
        {"brokers", required_argument, NULL, 'n'},
        {"partitions", required_argument, NULL, 'p'},
        {"env", required_argument, NULL, 'e'},
        {"tcp", no_argument, NULL, 't'},
        {"keep", no_argument, NULL, 'K'},
        {"quiet", no_argument, NULL, 'q'},
        {"log-level", required_argument, NULL, 'l'},
        {"stack", no_argument, NULL, 'S'},
        {"detach", no_argument, NULL, 'D'},
        {"fixtures", required_argument, NULL, 'F'},
        {"adapters", required_argument, NULL, 'A'},
        {"state-dir", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->log_level = DBEV_LOG_WARN;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            a->pg_bin = optarg;
            break;
        case 'd':
            a->pg_dsn = optarg;
            break;
        case 'k':
            a->bootstrap = optarg;
            break;
        case 'n':
            if (parse_count("--brokers", optarg, MOCKENV_MAX_BROKERS, &a->brokers))
                return 2;
            break;
        case 'p':
            if (parse_count("--partitions", optarg, MOCKENV_MAX_PARTITIONS, &a->partitions))
                return 2;
            break;
        case 'e':
            a->env_name = optarg;
            break;
        case 't':
            a->tcp = true;
            break;
        case 'K':
            a->keep = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'l':
            a->log_level = dbev_log_level_parse(optarg);
            if (a->log_level < 0)
                return run_cli_usage_error(
                    "env", "--log-level '%s': expected debug, info, warn or error", optarg);
            break;
        case 'S':
            a->stack = true;
            break;
        case 'D':
            a->detach = true;
            break;
        case 'F':
            a->fixtures = optarg;
            break;
        case 'A':
            if (parse_count("--adapters", optarg, 16, &a->adapters))
                return 2;
            break;
        case 's':
            a->state_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            return run_cli_usage_error("env", "option %s needs a value", argv[optind - 1]);
        default:
            return run_cli_usage_error("env", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return run_cli_usage_error("env", "%s", "missing action: up, check, down or status");
    a->action = argv[optind];
    if (strcmp(a->action, "up") != 0 && strcmp(a->action, "check") != 0 &&
        strcmp(a->action, "down") != 0 && strcmp(a->action, "status") != 0)
        return run_cli_usage_error("env", "unknown action '%s': expected up, check, down or status",
                                   a->action);
    if (optind + 1 < argc)
        return run_cli_usage_error("env", "unexpected argument '%s'", argv[optind + 1]);
    bool stack_up = a->stack && strcmp(a->action, "up") == 0;
    if (a->stack && !stack_up)
        return run_cli_usage_error("env", "%s", "--stack goes with up");
    if ((a->detach || a->fixtures || a->adapters) && !stack_up)
        return run_cli_usage_error("env", "%s",
                                   "--detach, --fixtures and --adapters go with up --stack");
    if (stack_up && (a->pg_dsn || a->bootstrap || a->keep))
        return run_cli_usage_error("env", "%s",
                                   "the sandbox is throwaway PostgreSQL and the mock cluster: "
                                   "--pg-dsn, --kafka-bootstrap and --keep do not go with --stack");

    if (a->bootstrap && a->brokers)
        return run_cli_usage_error("env", "%s",
                                   "--brokers sizes the mock cluster; it does not go with "
                                   "--kafka-bootstrap");
    if (a->pg_dsn && (a->pg_bin || a->tcp || a->keep))
        return run_cli_usage_error("env", "%s",
                                   "--pg-bin, --tcp and --keep concern the throwaway PostgreSQL; "
                                   "they do not go with --pg-dsn");
    if (a->pg_dsn) {
        char *err = NULL;
        PQconninfoOption *parsed = PQconninfoParse(a->pg_dsn, &err);
        if (!parsed) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", err ? err : "out of memory");
            msg[strcspn(msg, "\n")] = '\0';
            PQfreemem(err);
            return run_cli_usage_error("env", "invalid --pg-dsn: %s", msg);
        }
        PQconninfoFree(parsed);
    }
    mockenv_opts_t kopts = {.bootstrap = a->bootstrap,
                            .brokers = a->brokers,
                            .partitions = a->partitions,
                            .env = a->env_name};
    char errstr[512];
    if (mockenv_opts_check(&kopts, errstr, sizeof(errstr)))
        return run_cli_usage_error("env", "%s", errstr);
    return 0;
}

/* ---- bring-up and teardown --------------------------------------------- */

typedef struct envs {
    pgenv_t *pg;
    mockenv_t *kafka;
    dbev_logger_t logger;
} envs_t;

static void progress(const args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const args_t *a, const char *fmt, ...)
{
    if (a->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

/* Kafka first: a wrong --kafka-bootstrap then fails before any server starts. */
static int bring_up(const args_t *a, envs_t *e, char *errstr, size_t size)
{
    mockenv_opts_t kopts = {.bootstrap = a->bootstrap,
                            .brokers = a->brokers,
                            .partitions = a->partitions,
                            .env = a->env_name,
                            .logger = &e->logger};
    progress(a, "starting %s ...\n", a->bootstrap ? "Kafka (external)" : "the Kafka mock cluster");
    e->kafka = mockenv_new(&kopts, errstr, size);
    if (!e->kafka)
        return -1;
    pgenv_opts_t popts = {.pg_bin = a->pg_bin,
                          .pg_dsn = a->pg_dsn,
                          .tcp = a->tcp,
                          .keep = a->keep,
                          .quiet = a->quiet,
                          .logger = &e->logger};
    progress(a, "starting %s ...\n", a->pg_dsn ? "PostgreSQL (external)" : "PostgreSQL");
    e->pg = pgenv_new(&popts, errstr, size);
    if (!e->pg) {
        mockenv_destroy(e->kafka);
        e->kafka = NULL;
        return -1;
    }
    return 0;
}

/* PostgreSQL first: it owns processes and a directory, the mock cluster only
 * threads and sockets of this process (whose stop can take librdkafka up to a
 * second, see mockenv_destroy()). */
static void tear_down(envs_t *e)
{
    pgenv_destroy(e->pg);
    e->pg = NULL;
    mockenv_destroy(e->kafka);
    e->kafka = NULL;
}

static double ms_since(int64_t t0)
{
    return (double)(dbev_mono_us() - t0) / 1000.0;
}

/* ---- env up ------------------------------------------------------------- */

/* Prints `export NAME='value'` with the value quoted for POSIX shells. */
/* The adapter (POSTGRES_*), the CLI and psql (PG*) connect as the adapter's
 * role; setup (migrate, fixtures) takes DBEV_PG_ADMIN_DSN, the superuser's. */
static void print_settings(const envs_t *e)
{
    char dsn[4096], admin[4096];
    pgenv_dsn_as(e->pg, NULL, PGENV_APP_ROLE, dsn, sizeof(dsn));
    pgenv_dsn(e->pg, NULL, admin, sizeof(admin));
    sandbox_put_export(stdout, "KAFKA_BOOTSTRAP_SERVERS", mockenv_bootstrap(e->kafka));
    sandbox_put_export(stdout, "DBEV_ENV", mockenv_env_name(e->kafka));
    /* libpq's own variables, and the POSTGRES_* ones the seeds' services use. */
    sandbox_put_pg_exports(stdout, dsn);
    sandbox_put_export(stdout, "DBEV_PG_DSN", dsn);
    sandbox_put_export(stdout, "DBEV_PG_ADMIN_DSN", admin);
    fflush(stdout);
}

static int cmd_up(const args_t *a, envs_t *e)
{
    /* Blocked in every thread from here on (threads inherit the mask), so the
     * signals wait for sigwait() below and teardown runs in order. */
    sigset_t set;
    harness_block_stop_signals(&set);

    char errstr[1024];
    if (bring_up(a, e, errstr, sizeof(errstr))) {
        fprintf(stderr, "dbev-harness env up: %s\n", errstr);
        return 1;
    }
    /* A throwaway server is ours: migrate it, which makes the adapter's role
     * (migration 007). An external one is left as it is: migrate it with
     * `dbev-harness migrate up --pg-dsn SUPERUSER_DSN`. */
    if (!a->pg_dsn) {
        progress(a, "migrating the database ...\n");
        PGconn *conn = pgenv_connect(e->pg, NULL, errstr, sizeof(errstr));
        if (!conn || fixtures_prepare(conn, NULL, errstr, sizeof(errstr))) {
            PQfinish(conn);
            fprintf(stderr, "dbev-harness env up: %s\n", errstr);
            tear_down(e);
            return 1;
        }
        PQfinish(conn);
    }
    if (!a->quiet) {
        int brokers = mockenv_broker_count(e->kafka);
        printf("# dbev-harness env up: PostgreSQL %d and %s (%d broker%s) are running.\n"
               "# Paste these lines into another shell; Ctrl-C here tears everything down.\n",
               pgenv_server_version(e->pg) / 10000,
               mockenv_is_mock(e->kafka) ? "a Kafka mock cluster" : "Kafka (external)", brokers,
               brokers == 1 ? "" : "s");
        if (a->tcp)
            printf("# PostgreSQL also listens on TCP: host=127.0.0.1 port=%d\n", pgenv_port(e->pg));
    }
    print_settings(e);
    progress(a, "ready; waiting for Ctrl-C (SIGINT) or SIGTERM\n");

    int sig = 0;
    sigwait(&set, &sig);
    progress(a, "%s received: tearing down\n",
             sig == SIGINT    ? "SIGINT"
             : sig == SIGTERM ? "SIGTERM"
                              : "SIGHUP");
    int64_t t0 = dbev_mono_us();
    tear_down(e);
    progress(a, "torn down in %.1f ms\n", ms_since(t0));
    return 0;
}

/* ---- env check ---------------------------------------------------------- */

static int check_select1(const envs_t *e, double *connect_ms, double *query_ms, char *errstr,
                         size_t size)
{
    int64_t t0 = dbev_mono_us();
    PGconn *conn = pgenv_connect(e->pg, NULL, errstr, size);
    if (!conn)
        return -1;
    *connect_ms = ms_since(t0);
    int64_t t1 = dbev_mono_us();
    int rc = pgenv_select1(conn, errstr, size);
    *query_ms = ms_since(t1);
    PQfinish(conn);
    return rc;
}

typedef struct delivery {
    const dbev_logger_t *logger;
    bool done;
    rd_kafka_resp_err_t err;
    int64_t offset;
} delivery_t;

static void rt_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    delivery_t *d = rd_kafka_opaque(rk);
    if (d)
        dbev_logf(d->logger, DBEV_LOG_DEBUG, NULL, "librdkafka %s: %s", fac, buf);
}

static void rt_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    delivery_t *d = opaque;
    d->done = true;
    d->err = msg->err;
    d->offset = msg->offset;
}

static rd_kafka_t *rt_client(rd_kafka_type_t type, const char *bootstrap, delivery_t *d,
                             char *errstr, size_t size)
{
    char err[512];
    char group[64];
    snprintf(group, sizeof(group), "dbev-harness-env-check-%d", (int)getpid());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, d);
    rd_kafka_conf_set_log_cb(conf, rt_log_cb);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "client.id", "dbev-harness-env-check", err, sizeof(err)) ||
        (type == RD_KAFKA_PRODUCER &&
         (rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "message.timeout.ms", "10000", err, sizeof(err)))) ||
        (type == RD_KAFKA_CONSUMER &&
         (rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
          rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err))))) {
        rd_kafka_conf_destroy(conf);
        dbev_seterr(errstr, size, "Kafka client configuration: %s", err);
        return NULL;
    }
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(conf, rt_dr_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        dbev_seterr(errstr, size, "cannot create a Kafka client: %s", err);
    }
    return rk;
}

/* Produces one message to partition 0 of the request topic and consumes it
 * back from the offset the broker acknowledged. */
static int check_round_trip(const envs_t *e, double *ack_ms, double *rt_ms, char *errstr,
                            size_t size)
{
    const char *topic = mockenv_topic(e->kafka, DBEV_TOPIC_REQUESTED);
    uuid_t uu;
    char id[37], payload[256];
    uuid_generate(uu);
    uuid_unparse_lower(uu, id);
    snprintf(payload, sizeof(payload),
             "{\"event_type\":\"harness.env-check\",\"correlation_id\":\"%s\","
             "\"note\":\"connectivity check by dbev-harness env check, not a database request\"}",
             id);
    delivery_t d = {.logger = &e->logger, .offset = -1};
    int64_t deadline = dbev_mono_us() + (int64_t)ROUND_TRIP_TIMEOUT_MS * 1000;
    int64_t t0 = dbev_mono_us();
    rd_kafka_t *prod = rt_client(RD_KAFKA_PRODUCER, mockenv_bootstrap(e->kafka), &d, errstr, size);
    if (!prod)
        return -1;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(id, strlen(id)),
        RD_KAFKA_V_VALUE(payload, strlen(payload)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_END);
    if (err) {
        rd_kafka_destroy(prod);
        return dbev_seterr(errstr, size, "cannot produce to %s: %s", topic, rd_kafka_err2str(err));
    }
    while (!d.done && dbev_mono_us() < deadline)
        rd_kafka_poll(prod, 50);
    rd_kafka_destroy(prod);
    if (!d.done || d.err)
        return dbev_seterr(errstr, size, "message to %s [0] not acknowledged: %s", topic,
                           d.done ? rd_kafka_err2str(d.err) : "no answer within the deadline");
    *ack_ms = ms_since(t0);

    rd_kafka_t *cons = rt_client(RD_KAFKA_CONSUMER, mockenv_bootstrap(e->kafka), &d, errstr, size);
    if (!cons)
        return -1;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = d.offset;
    err = rd_kafka_assign(cons, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    bool found = false;
    char last_err[256] = "";
    while (!err && !found && dbev_mono_us() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(cons, 50);
        if (!msg)
            continue;
        if (msg->err && msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            snprintf(last_err, sizeof(last_err), "%s", rd_kafka_message_errstr(msg));
        else if (!msg->err && msg->len == strlen(payload) &&
                 memcmp(msg->payload, payload, msg->len) == 0)
            found = true;
        rd_kafka_message_destroy(msg);
    }
    if (found)
        *rt_ms = ms_since(t0);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    if (err)
        return dbev_seterr(errstr, size, "cannot assign %s [0]: %s", topic, rd_kafka_err2str(err));
    if (!found)
        return dbev_seterr(errstr, size, "message produced to %s [0] never came back%s%s", topic,
                           last_err[0] ? ": " : "", last_err);
    return 0;
}

static int check_failed(const char *step, const char *errstr, envs_t *e, int64_t t0)
{
    fprintf(stderr, "dbev-harness env check: FAILED at %s: %s\n", step, errstr);
    tear_down(e);
    fprintf(stderr, "dbev-harness env check: torn down after %.1f ms\n", ms_since(t0));
    return 1;
}

static int cmd_check(const args_t *a, envs_t *e)
{
    char errstr[1024];
    int64_t t0 = dbev_mono_us();
    if (bring_up(a, e, errstr, sizeof(errstr))) {
        fprintf(stderr, "dbev-harness env check: FAILED at bring-up: %s\n", errstr);
        return 1;
    }
    double bringup_ms = ms_since(t0);
    bool quiet = a->quiet;
    if (!quiet) {
        printf("dbev-harness env check\n");
        if (!a->pg_dsn)
            printf("  PostgreSQL %-6d up in %8.1f ms  (%s; socket dir %s, port %d)\n",
                   pgenv_server_version(e->pg) / 10000, pgenv_startup_ms(e->pg),
                   pgenv_was_warm(e->pg) ? "warm: template cluster copied from the cache"
                                         : "cold: initdb, then cached for next time",
                   pgenv_host(e->pg), pgenv_port(e->pg));
        else
            printf("  PostgreSQL %-6d up in %8.1f ms  (external server from --pg-dsn)\n",
                   pgenv_server_version(e->pg) / 10000, pgenv_startup_ms(e->pg));
        printf("  Kafka             up in %8.1f ms  (%s, %d brokers at %s)\n",
               mockenv_startup_ms(e->kafka),
               mockenv_is_mock(e->kafka) ? "in-process mock cluster" : "external cluster",
               mockenv_broker_count(e->kafka), mockenv_bootstrap(e->kafka));
        printf("                                    topics %s.omninode-bridge.*, %d partitions\n",
               mockenv_env_name(e->kafka), mockenv_partitions(e->kafka));
        fflush(stdout);
    }

    double connect_ms = 0, query_ms = 0;
    if (check_select1(e, &connect_ms, &query_ms, errstr, sizeof(errstr)))
        return check_failed("SELECT 1", errstr, e, t0);
    if (!quiet) {
        printf("  SELECT 1          ok in %8.1f ms  (connect %.1f ms, query %.1f ms)\n",
               connect_ms + query_ms, connect_ms, query_ms);
        fflush(stdout);
    }

    double ack_ms = 0, rt_ms = 0;
    if (check_round_trip(e, &ack_ms, &rt_ms, errstr, sizeof(errstr)))
        return check_failed("Kafka round trip", errstr, e, t0);
    if (!quiet) {
        printf("  Kafka round trip  ok in %8.1f ms  (acknowledged after %.1f ms; %s [0])\n", rt_ms,
               ack_ms, mockenv_topic(e->kafka, DBEV_TOPIC_REQUESTED));
        fflush(stdout);
    }

    double pg_ms = pgenv_startup_ms(e->pg);
    bool warm = pgenv_was_warm(e->pg);
    double kafka_ms = mockenv_startup_ms(e->kafka);
    int64_t t1 = dbev_mono_us();
    tear_down(e);
    double teardown_ms = ms_since(t1);
    double total_ms = ms_since(t0);
    if (!quiet)
        printf("  teardown          in    %8.1f ms\n"
               "  total             in    %8.1f ms  (bring-up %.1f ms)\n",
               teardown_ms, total_ms, bringup_ms);
    printf("env check: OK  pg_%s_ms=%.1f kafka_ms=%.1f query_ms=%.1f round_trip_ms=%.1f "
           "total_ms=%.1f\n",
           a->pg_dsn ? "external"
           : warm    ? "warm"
                     : "cold",
           pg_ms, kafka_ms, connect_ms + query_ms, rt_ms, total_ms);
    fflush(stdout);
    return 0;
}

static int cmd_main(int argc, char **argv)
{
    args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (strcmp(a.action, "down") == 0)
        return sandbox_down(a.state_dir, a.quiet);
    if (strcmp(a.action, "status") == 0)
        return sandbox_status(a.state_dir);
    if (a.stack) {
        sandbox_opts_t so = {.dir = a.state_dir,
                             .fixtures = a.fixtures,
                             .adapters = a.adapters,
                             .pg_bin = a.pg_bin,
                             .tcp = a.tcp,
                             .brokers = a.brokers,
                             .partitions = a.partitions,
                             .env_name = a.env_name,
                             .detach = a.detach,
                             .quiet = a.quiet,
                             .log_level = a.log_level};
        return sandbox_up(&so);
    }
    envs_t e = {.logger = {dbev_log_stderr, NULL, (dbev_log_level_t)a.log_level, "env"}};
    if (strcmp(a.action, "up") == 0)
        return cmd_up(&a, &e);
    return cmd_check(&a, &e);
}

const harness_cmd_t harness_cmd_env = {
    "env",
    "bring up PostgreSQL + Kafka (up), the whole sandbox (up --stack, down, status), or check",
    cmd_main};
