/*
 * Shared options of `dbev-harness run` and `dbev-harness gate` (run_cli.h):
 * one parser, so the two commands cannot drift apart in what an option means
 * or how a bad value is reported; and the start of a run both make (the
 * reports folder, the rerun command, the run itself).
 */
#include "cli/run_cli.h"

#include "env/mockenv.h"
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void run_cli_defaults(run_opts_t *run, run_env_opts_t *env)
{
    run->seed = (uint64_t)time(NULL);
    run->adapters = 1;
    run->breaker_recovery_ms = RUN_CLI_BREAKER_RECOVERY_MS;
    env->jobs = 1;
}

int run_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "dbev-harness %s: %s; see `dbev-harness %s --help`\n", cmd, msg, cmd);
    return 2;
}

int run_cli_number(const char *cmd, const char *opt, const char *text, long long lo, long long hi,
                   long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi)
        return run_cli_usage_error(cmd, "%s '%s': expected a whole number from %lld to %lld", opt,
                                   text, lo, hi);
    *out = v;
    return 0;
}

int run_cli_option(const char *cmd, int c, const char *arg, run_opts_t *run, run_env_opts_t *env,
                   char *out_dir, size_t out_size)
{
    long long v;
    switch (c) {
    case 's':
        if (run_cli_number(cmd, "--seed", arg, 0, INT64_MAX, &v))
            return 2;
        run->seed = (uint64_t)v;
        return 1;
    case 'm':
        if (!strcmp(arg, "event"))
            run->mode = RUN_MODE_EVENT;
        else if (!strcmp(arg, "direct"))
            run->mode = RUN_MODE_DIRECT;
        else if (!strcmp(arg, "both"))
            run->mode = RUN_MODE_BOTH;
        else
            return run_cli_usage_error(cmd, "--mode '%s': expected event, direct or both", arg);
        return 1;
    case 'a':
        if (!strcmp(arg, "thread"))
            run->adapter_mode = ADAPTER_THREAD;
        else if (!strcmp(arg, "process"))
            run->adapter_mode = ADAPTER_PROCESS;
        else if (!strcmp(arg, "external"))
            run->adapter_mode = ADAPTER_EXTERNAL;
        else
            return run_cli_usage_error(cmd, "--adapter '%s': expected thread, process or external",
                                       arg);
        return 1;
    case 'A':
        if (run_cli_number(cmd, "--adapters", arg, 1, 16, &v))
            return 2;
        run->adapters = (int)v;
        return 1;
    case 'r':
        if (run_cli_number(cmd, "--breaker-recovery-ms", arg, 1, 3600000, &v))
            return 2;
        run->breaker_recovery_ms = (int)v;
        return 1;
    case 'j':
        if (run_cli_number(cmd, "-j", arg, 1, 16, &v))
            return 2;
        env->jobs = (int)v;
        return 1;
    case 'f':
        run->fail_fast = true;
        return 1;
    case 0x101: /* --timings */
        run->timings = true;
        return 1;
    case 'K':
        run->keep = true;
        return 1;
    case 'o':
        snprintf(out_dir, out_size, "%s", arg);
        return 1;
    case 'b':
        env->pg_bin = arg;
        return 1;
    case 'd':
        env->pg_dsn = arg;
        return 1;
    case 'k':
        env->kafka_bootstrap = arg;
        return 1;
    case 'n':
        if (run_cli_number(cmd, "--brokers", arg, 1, MOCKENV_MAX_BROKERS, &v))
            return 2;
        env->brokers = (int)v;
        return 1;
    case 'p':
        if (run_cli_number(cmd, "--partitions", arg, 1, MOCKENV_MAX_PARTITIONS, &v))
            return 2;
        env->partitions = (int)v;
        return 1;
    default:
        return 0;
    }
}

int run_cli_check(const char *cmd, const run_opts_t *run, const run_env_opts_t *env)
{
    if (run->adapter_mode == ADAPTER_EXTERNAL && !env->kafka_bootstrap)
        return run_cli_usage_error(cmd, "--adapter external needs --kafka-bootstrap: the adapter "
                                        "listens on a Kafka cluster of its own");
    if (run->mode == RUN_MODE_DIRECT && run->adapters > 1)
        return run_cli_usage_error(cmd, "--adapters has no meaning with --mode direct");
    return 0;
}

/* Appends ' value' quoted for a POSIX shell. */
static size_t append_quoted(char *buf, size_t size, size_t len, const char *opt, const char *value)
{
    if (len < size)
        len += (size_t)snprintf(buf + len, size - len, " %s '", opt);
    for (const char *p = value; *p && len < size; p++)
        len += (size_t)snprintf(buf + len, size - len, *p == '\'' ? "'\\''" : "%c", *p);
    if (len < size)
        len += (size_t)snprintf(buf + len, size - len, "'");
    return len;
}

void run_cli_rerun_prefix(const run_opts_t *run, const run_env_opts_t *env, char *buf, size_t size)
{
    static const char *const modes[] = {"", " --mode direct", " --mode both"};
    static const char *const adapters[] = {"", " --adapter process", " --adapter external"};
    size_t len = (size_t)snprintf(buf, size, "%s run%s%s", DBEV_BUILD_DIR "/bin/dbev-harness",
                                  modes[run->mode], adapters[run->adapter_mode]);
#define APPEND(...)                                                                                \
    do {                                                                                           \
        if (len < size)                                                                            \
            len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__);                           \
    } while (0)
    if (run->adapters != 1)
        APPEND(" --adapters %d", run->adapters);
    if (run->breaker_recovery_ms != RUN_CLI_BREAKER_RECOVERY_MS)
        APPEND(" --breaker-recovery-ms %d", run->breaker_recovery_ms);
    if (env->pg_bin)
        len = append_quoted(buf, size, len, "--pg-bin", env->pg_bin);
    if (env->pg_dsn)
        len = append_quoted(buf, size, len, "--pg-dsn", env->pg_dsn);
    if (env->kafka_bootstrap)
        len = append_quoted(buf, size, len, "--kafka-bootstrap", env->kafka_bootstrap);
    if (env->brokers)
        APPEND(" --brokers %d", env->brokers);
    if (env->partitions)
        APPEND(" --partitions %d", env->partitions);
#undef APPEND
}

int run_cli_other(const char *cmd, int c, char **argv, run_opts_t *run, run_env_opts_t *env,
                  char *out_dir, size_t out_size)
{
    if (c == ':')
        return run_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
    int handled = run_cli_option(cmd, c, optarg, run, env, out_dir, out_size);
    if (handled == 2)
        return 2;
    if (!handled)
        return run_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    return 0;
}

int run_cli_out_dir(const char *cmd, const char *label, run_opts_t *run, char *out_dir, size_t size)
{
    if (!out_dir[0]) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        snprintf(out_dir, size, "%s/reports/%s%s-%d", DBEV_BUILD_DIR, label, stamp, (int)getpid());
    }
    run->out_dir = out_dir;
    run->progress = isatty(STDERR_FILENO) && !getenv("CI");
    if (harness_make_dirs(out_dir) != 0) {
        fprintf(stderr, "dbev-harness %s: cannot create --out %s: %s\n", cmd, out_dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

int run_cli_run(const run_opts_t *run, run_env_opts_t *env, scenario_t *const *scenarios, size_t n,
                run_judge_fn judge, void *opaque)
{
    char prefix[2048];
    run_cli_rerun_prefix(run, env, prefix, sizeof(prefix));
    env->rerun_prefix = prefix;
    env->exiting = true; /* the command returns its exit code right after */
    int rc = run_scenarios(run, env, scenarios, n, judge, opaque);
    env->rerun_prefix = NULL; /* it pointed here */
    return rc;
}
