/*
 * The reproduction bundle (bundle.h): written by the runner for each
 * scenario that did not pass, read back by `run --from-bundle`. The options
 * are kept as a JSON object rather than as the rerun command's text, so
 * reading them back needs no shell parsing; the command is kept as well,
 * for people.
 */
#include "repro/bundle.h"

#include "env/pgenv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const modes[] = {"event", "direct", "both"};
static const char *const adapter_modes[] = {"thread", "process", "external"};

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    FILE *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int rc = out ? 0 : -1;
    while (out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

/* pg_dump of conninfo's database into path: the server's own pg_dump when
 * the harness started it and it is there (same major version), else the one
 * on PATH. */
static int dump_database(const pgenv_t *pg, const char *conninfo, const char *path, char *errstr,
                         size_t size)
{
    char bin[1100];
    const char *dir = pgenv_bindir(pg);
    snprintf(bin, sizeof(bin), "%s/pg_dump", dir ? dir : "");
    if (!dir || access(bin, X_OK) != 0)
        snprintf(bin, sizeof(bin), "pg_dump");
    pid_t pid = fork();
    if (pid < 0)
        return dbev_seterr(errstr, size, "pg_dump: fork: %s", strerror(errno));
    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0)
            dup2(null_fd, STDOUT_FILENO);
        execlp(bin, "pg_dump", "--no-owner", "--no-privileges", "-f", path, "-d", conninfo,
               (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dbev_seterr(errstr, size, "pg_dump of the scenario's database failed (exit %d)",
                           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

int bundle_write(const char *dir, const runctx_t *ctx, const run_env_opts_t *env, const char *rerun,
                 const char *trace_path, const char *log_path, char *errstr, size_t size)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return dbev_seterr(errstr, size, "cannot create %s: %s", dir, strerror(errno));
    const run_opts_t *o = ctx->opts;
    const scenario_t *sc = ctx->scenario;
    char path[1200];
    int rc = 0;
    snprintf(path, sizeof(path), "%s/scenario.yaml", dir);
    if (copy_file(sc->path, path) != 0)
        rc = dbev_seterr(errstr, size, "cannot copy %s into the bundle", sc->path);
    snprintf(path, sizeof(path), "%s/trace.jsonl", dir);
    bool has_trace = trace_path && copy_file(trace_path, path) == 0;
    snprintf(path, sizeof(path), "%s/adapter.log", dir);
    bool has_log = log_path && access(log_path, R_OK) == 0 && copy_file(log_path, path) == 0;
    snprintf(path, sizeof(path), "%s/dump.sql", dir);
    char why[512] = "";
    bool has_dump = ctx->dbname[0] && ctx->conninfo[0] &&
                    dump_database(ctx->pg, ctx->conninfo, path, why, sizeof(why)) == 0;

    char fixtures[512] = "";
    size_t i;
    json_t *name;
    json_array_foreach((json_t *)sc->fixtures, i, name)
    {
        size_t len = strlen(fixtures);
        snprintf(fixtures + len, sizeof(fixtures) - len, "%s%s", i ? "," : "",
                 json_string_value(name));
    }
    char from_bundle[1400];
    snprintf(from_bundle, sizeof(from_bundle), "%s run --from-bundle '%s'",
             DBEV_BUILD_DIR "/bin/dbev-harness", dir);
    json_t *options = json_pack(
        "{s:s, s:s, s:i, s:i, s:s?, s:s?, s:s?, s:i, s:i}", "mode", modes[o->mode], "adapter",
        adapter_modes[o->adapter_mode], "adapters", o->adapters, "breaker_recovery_ms",
        o->breaker_recovery_ms, "pg_bin", env->pg_bin, "pg_dsn", env->pg_dsn, "kafka_bootstrap",
        env->kafka_bootstrap, "brokers", env->brokers, "partitions", env->partitions);
    json_t *b = json_pack(
        "{s:i, s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:s, s:s, s:{s:s, s:b, s:i, s:i}, s:{s:i}, "
        "s:{s:b, s:b, s:b, s:s}}",
        "version", 1, "scenario", "scenario.yaml", "scenario_origin", sc->path, "name", sc->name,
        "seed", (json_int_t)o->seed, "options", options, "rerun", rerun, "rerun_bundle",
        from_bundle, "fixtures", fixtures, "database", ctx->dbname, "kafka", "bootstrap",
        ctx->kafka ? mockenv_bootstrap(ctx->kafka) : "", "mock",
        ctx->kafka ? mockenv_is_mock(ctx->kafka) : false, "brokers",
        ctx->kafka ? mockenv_broker_count(ctx->kafka) : 0, "partitions",
        ctx->kafka ? mockenv_partitions(ctx->kafka) : 0, "postgres", "version",
        pgenv_server_version(ctx->pg), "files", "trace", has_trace, "adapter_log", has_log, "dump",
        has_dump, "dump_error", why);
    snprintf(path, sizeof(path), "%s/bundle.json", dir);
    if (!b || json_dump_file(b, path, JSON_INDENT(2)) != 0)
        rc = dbev_seterr(errstr, size, "cannot write %s", path);
    json_decref(b);
    snprintf(path, sizeof(path), "%s/README.txt", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f,
                "Reproduction bundle of a scenario that did not pass: %s\n\n"
                "rerun it (same scenario file, seed and options, with --keep):\n"
                "  dbev-harness run --from-bundle <this folder>\n"
                "the same as a command line, from the checkout it ran in:\n"
                "  %s\n"
                "replay its events on a fresh stack and see what answers differ:\n"
                "  dbev-harness replay trace.jsonl --against fresh\n"
                "look at its database as it was at the failure:\n"
                "  createdb x && psql -d x -f dump.sql\n"
                "bundle.json holds the seed, options, fixtures and mock cluster settings.\n",
                sc->name, rerun);
        fclose(f);
    }
    if (rc == 0 && !has_dump && why[0])
        rc = dbev_seterr(errstr, size, "%s", why);
    return rc;
}

static int index_of(const char *const *names, size_t n, const char *value)
{
    for (size_t i = 0; value && i < n; i++)
        if (!strcmp(names[i], value))
            return (int)i;
    return -1;
}

int bundle_read(const char *dir, run_opts_t *run, run_env_opts_t *env, char *scenario,
                size_t scenario_size, json_t **owned, char *errstr, size_t size)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/bundle.json", dir);
    json_error_t jerr;
    json_t *b = json_load_file(path, 0, &jerr);
    if (!b)
        return dbev_seterr(errstr, size, "--from-bundle: cannot read %s: %s", path, jerr.text);
    const json_t *o = json_object_get(b, "options");
    int mode = index_of(modes, 3, json_string_value(json_object_get(o, "mode")));
    int adapter = index_of(adapter_modes, 3, json_string_value(json_object_get(o, "adapter")));
    const char *file = json_string_value(json_object_get(b, "scenario"));
    if (mode < 0 || adapter < 0 || !file || !json_is_integer(json_object_get(b, "seed"))) {
        json_decref(b);
        return dbev_seterr(errstr, size,
                           "--from-bundle: %s lacks the seed, mode, adapter or "
                           "scenario",
                           path);
    }
    run->seed = (uint64_t)json_integer_value(json_object_get(b, "seed"));
    run->mode = (run_mode_t)mode;
    run->adapter_mode = (adapter_mode_t)adapter;
    run->adapters = (int)json_integer_value(json_object_get(o, "adapters"));
    run->breaker_recovery_ms = (int)json_integer_value(json_object_get(o, "breaker_recovery_ms"));
    env->pg_bin = json_string_value(json_object_get(o, "pg_bin"));
    env->pg_dsn = json_string_value(json_object_get(o, "pg_dsn"));
    env->kafka_bootstrap = json_string_value(json_object_get(o, "kafka_bootstrap"));
    env->brokers = (int)json_integer_value(json_object_get(o, "brokers"));
    env->partitions = (int)json_integer_value(json_object_get(o, "partitions"));
    snprintf(scenario, scenario_size, "%s/%s", dir, file);
    *owned = b;
    return 0;
}
