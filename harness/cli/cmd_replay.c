/*
 * dbev-harness replay TRACE: re-publishes the requests of a trace-sN.jsonl
 * (trace.h) and diffs the answers with the recorded ones (replay.h says how
 * order, timing, ids and volatile fields are handled). Against a running
 * sandbox (`env up --stack`: its topics, adapters and database) or a fresh
 * stack of its own, built from the trace's header (same fixtures,
 * setup_sql, adapters). Exit codes: 0 the answers match, 1 they differ (the
 * diff on stdout), 2 usage or harness error.
 */
#include "cli/commands.h"
#include "cli/run_cli.h"
#include "env/mockenv.h"
#include "env/pgenv.h"
#include "repro/replay.h"
#include "env/sandbox.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dbev-harness replay TRACE [--speed X | --as-fast-as-possible]\n"
            "                           [--against SANDBOX | fresh] [--keep-ids]\n"
            "\n"
            "Re-publishes the requests recorded in TRACE (a run's trace-sN.jsonl) in their\n"
            "order and timing, collects the answers and compares them with the recorded\n"
            "ones, ignoring volatile fields (ids, times, durations, the HEALTH counters;\n"
            "docs/scenarios.md lists them).\n"
            "\n"
            "  --speed X               X times the recorded pace (default 1)\n"
            "  --as-fast-as-possible   no waiting between requests; what happened before an\n"
            "                          answer in the recording still waits for it\n"
            "  --against SANDBOX       a sandbox's state directory (env up --stack); the\n"
            "                          default is $DBEV_SANDBOX when set, else fresh\n"
            "  --against fresh         a throwaway PostgreSQL, mock cluster and adapters of\n"
            "                          its own, with the trace's fixtures and setup_sql\n"
            "  --keep-ids              publish the recorded event and correlation ids (a\n"
            "                          sandbox then answers a second replay from its\n"
            "                          duplicate records)\n"
            "  --quiet                 only the diff and errors\n"
            "  -h, --help              this text\n"
            "\n"
            "exit status: 0 same answers, 1 a difference (printed), 2 usage or harness error\n");
}

typedef struct args {
    const char *trace;
    const char *against;
    replay_opts_t opts;
    bool quiet;
} args_t;

static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option longopts[] = {
        {"speed", required_argument, NULL, 's'},
        {"as-fast-as-possible", no_argument, NULL, 'f'},
        {"against", required_argument, NULL, 'a'},
        {"keep-ids", no_argument, NULL, 'k'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof(*a));
    a->opts.speed = 1;
    optind = 1;
    opterr = 0;
    int c;
    bool speed = false, fast = false;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's':
            a->opts.speed = strtod(optarg, &end);
            if (*end || !(a->opts.speed > 0) || a->opts.speed > 1000)
                return run_cli_usage_error(
                    "replay", "--speed expects a number above 0, up to 1000: %s", optarg);
            speed = true;
            break;
        case 'f':
            a->opts.speed = 0;
            fast = true;
            break;
        case 'a':
            a->against = optarg;
            break;
        case 'k':
            a->opts.keep_ids = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            return run_cli_usage_error("replay", "option needs a value: %s", argv[optind - 1]);
        default:
            return run_cli_usage_error("replay", "unknown option %s", argv[optind - 1]);
        }
    }
    if (speed && fast)
        return run_cli_usage_error("replay",
                                   "--speed and --as-fast-as-possible exclude each other");
    if (optind >= argc)
        return run_cli_usage_error("replay", "missing TRACE (a trace-sN.jsonl of a run folder)");
    a->trace = argv[optind];
    if (optind + 1 < argc)
        return run_cli_usage_error("replay", "unexpected argument %s", argv[optind + 1]);
    if (!a->against) {
        const char *sb = getenv("DBEV_SANDBOX");
        a->against = sb && *sb ? sb : "fresh";
    }
    return 0;
}

/* Replays on a throwaway stack of this process. */
static long against_fresh(const args_t *a, const replay_trace_t *trace, const dbev_logger_t *logger,
                          char *errstr, size_t size)
{
    const json_t *header = replay_trace_header(trace);
    const json_t *kafka = json_object_get(header, "kafka");
    mockenv_opts_t kopts = {
        .brokers = (int)json_integer_value(json_object_get(kafka, "brokers")),
        .partitions = (int)json_integer_value(json_object_get(kafka, "partitions")),
        .logger = logger,
    };
    if (!json_is_true(json_object_get(kafka, "mock")))
        kopts.brokers = 0; /* recorded on a real cluster: the mock's default size */
    pgenv_opts_t popts = {.quiet = true, .logger = logger};
    mockenv_t *k = mockenv_new(&kopts, errstr, size);
    pgenv_t *pg = k ? pgenv_new(&popts, errstr, size) : NULL;
    long diffs = -1;
    if (pg) {
        char topic_env[64], dbname[64];
        snprintf(topic_env, sizeof(topic_env), "replay%d", (int)getpid());
        snprintf(dbname, sizeof(dbname), "dbev_replay%d", (int)getpid());
        replay_stack_t *stack =
            replay_stack_new(pg, k, header, topic_env, dbname, logger, errstr, size);
        if (stack) {
            if (!a->quiet)
                fprintf(stderr, "replaying %zu requests on a fresh stack (fixtures %s) ...\n",
                        replay_trace_requests(trace),
                        json_string_value(json_object_get(header, "fixtures")));
            /* PostgreSQL names the database in some messages: ours is not
             * the recorded one. */
            replay_opts_t opts = a->opts;
            opts.rename_from = json_string_value(json_object_get(header, "database"));
            opts.rename_to = dbname;
            diffs = replay_run(trace, replay_stack_target(stack), &opts, stdout, errstr, size);
        }
        replay_stack_destroy(stack, false);
    }
    pgenv_destroy(pg);
    mockenv_destroy(k);
    return diffs;
}

static long against_sandbox(const args_t *a, const replay_trace_t *trace,
                            const dbev_logger_t *logger, char *errstr, size_t size)
{
    json_t *state = sandbox_state(a->against, errstr, size);
    if (!state)
        return -1;
    const json_t *header = replay_trace_header(trace);
    const char *want = json_string_value(json_object_get(header, "fixtures"));
    const char *have = json_string_value(json_object_get(state, "fixtures"));
    if (want && have && strcmp(want, have) != 0)
        fprintf(stderr,
                "dbev-harness replay: warning: the trace was recorded on fixtures '%s', the "
                "sandbox has '%s': answers may differ for that reason alone\n",
                want, have);
    /* sql: lines are set-up: the superuser's connection, as the run has it. */
    PGconn *conn = PQconnectdb(
        json_string_value(json_object_get(json_object_get(state, "postgres"), "admin_dsn")));
    long diffs = -1;
    if (PQstatus(conn) != CONNECTION_OK) {
        dbev_seterr(errstr, size, "cannot connect to the sandbox's database: %s",
                    PQerrorMessage(conn));
    } else {
        replay_target_t target = {
            json_string_value(json_object_get(json_object_get(state, "kafka"), "bootstrap")),
            json_string_value(json_object_get(state, "topic_env")), conn, logger};
        if (!a->quiet)
            fprintf(stderr, "replaying %zu requests on the sandbox %s ...\n",
                    replay_trace_requests(trace), a->against);
        replay_opts_t opts = a->opts;
        opts.rename_from = json_string_value(json_object_get(header, "database"));
        opts.rename_to = PQdb(conn);
        diffs = replay_run(trace, &target, &opts, stdout, errstr, size);
    }
    PQfinish(conn);
    json_decref(state);
    return diffs;
}

static int cmd_main(int argc, char **argv)
{
    args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 1 ? 0 : 2;
    dbev_logger_t logger = {dbev_log_stderr, NULL, DBEV_LOG_WARN, "replay"};
    char errstr[1024];
    replay_trace_t *trace = replay_trace_load(a.trace, errstr, sizeof(errstr));
    if (!trace) {
        fprintf(stderr, "dbev-harness replay: %s\n", errstr);
        return 2;
    }
    if (!replay_trace_header(trace) && strcmp(a.against, "fresh") == 0) {
        fprintf(stderr,
                "dbev-harness replay: %s has no header (written before traces recorded "
                "their fixtures): replay it against a sandbox\n",
                a.trace);
        replay_trace_destroy(trace);
        return 2;
    }
    int64_t t0 = dbev_mono_us();
    long diffs = strcmp(a.against, "fresh") == 0
                     ? against_fresh(&a, trace, &logger, errstr, sizeof(errstr))
                     : against_sandbox(&a, trace, &logger, errstr, sizeof(errstr));
    double s = (double)(dbev_mono_us() - t0) / 1e6;
    if (diffs < 0) {
        fprintf(stderr, "dbev-harness replay: %s\n", errstr);
        rc = 2;
    } else if (diffs > 0) {
        printf("replay: %ld difference%s from the recording (%zu requests, %.1f s)\n", diffs,
               diffs == 1 ? "" : "s", replay_trace_requests(trace), s);
        rc = 1;
    } else {
        if (!a.quiet)
            printf("replay: %zu requests, every answer as recorded (%.1f s)\n",
                   replay_trace_requests(trace), s);
        rc = 0;
    }
    fflush(stdout);
    replay_trace_destroy(trace);
    return rc;
}

const harness_cmd_t harness_cmd_replay = {
    "replay", "re-publish a trace's requests and diff the answers with the recorded ones",
    cmd_main};
