/*
 * The sandbox (sandbox.h): its supervisor, and the commands that find it
 * again by its state directory. The supervisor is the one process that must
 * outlive `env up --stack --detach`, so detaching is the classic double
 * fork: the first child calls setsid() (no terminal, no job-control signals
 * from the user's shell), the second is the supervisor (not a session
 * leader, so it can never acquire a terminal), with stdin on /dev/null,
 * stdout and stderr on supervisor.log and every other inherited descriptor
 * closed: the shell's `$(...)` reads until every writer of its pipe is
 * gone, so a supervisor that kept it would hang the user's eval. The
 * supervisor reports "ready" (or why not) through a pipe of its own to the
 * process the user started, which prints the settings and exits.
 */
#include "env/sandbox.h"

#include "env/adapters.h"
#include "migrate/fixtures.h"
#include "env/mockenv.h"
#include "env/pgenv.h"
#include "util/util.h"

#include <dbev/dbev.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bring-up on a warm cache takes about a second and the adapters' group
 * join a few more; initdb on a cold one a few seconds more again. */
#define SANDBOX_READY_TIMEOUT_MS  120000
#define SANDBOX_HEALTH_TIMEOUT_MS 30000
/* How often the supervisor looks for its state directory. */
#define SANDBOX_WATCH_MS 500
/* env down: the supervisor's teardown stops the adapters (up to 15 s each
 * if one hangs) and PostgreSQL. */
#define SANDBOX_DOWN_TIMEOUT_MS 60000

const char *sandbox_dir(char *buf, size_t size)
{
    const char *d = getenv("DBEV_SANDBOX_DIR");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (d && *d)
        snprintf(buf, size, "%s", d);
    else if (xdg && *xdg)
        snprintf(buf, size, "%s/dbev-sandbox", xdg);
    else
        snprintf(buf, size, "/tmp/dbev-sandbox-%d", (int)getuid());
    return buf;
}

/* The adapter's DSN: its own role (migration 007, PGENV_APP_ROLE), never
 * the superuser, whose DSN is exported apart as DBEV_PG_ADMIN_DSN for
 * setup. The one place that chooses. */
static const char *app_dsn(const pgenv_t *pg, const char *dbname, char *buf, size_t size)
{
    return pgenv_dsn_as(pg, dbname, PGENV_APP_ROLE, buf, size);
}

static void path_in(const char *dir, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

/* ---- the settings ------------------------------------------------------- */

void sandbox_put_export(FILE *f, const char *name, const char *value)
{
    fprintf(f, "export %s='", name);
    for (const char *p = value; p && *p; p++)
        fputs(*p == '\'' ? "'\\''" : (char[2]){*p, 0}, f);
    fputs("'\n", f);
}

static const char *conninfo_value(PQconninfoOption *opts, const char *key)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
            return o->val;
    return NULL;
}

void sandbox_put_pg_exports(FILE *f, const char *dsn)
{
    PQconninfoOption *parsed = PQconninfoParse(dsn, NULL);
    static const char *const keys[][3] = {{"host", "PGHOST", "POSTGRES_HOST"},
                                          {"port", "PGPORT", "POSTGRES_PORT"},
                                          {"user", "PGUSER", "POSTGRES_USER"},
                                          {"dbname", "PGDATABASE", "POSTGRES_DATABASE"}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = conninfo_value(parsed, keys[i][0]);
        if (v) {
            sandbox_put_export(f, keys[i][1], v);
            sandbox_put_export(f, keys[i][2], v);
        }
    }
    PQconninfoFree(parsed);
}

/*
 * What a shell needs to reach the stack:
 *   DBEV_SANDBOX                      this state directory (replay --against, env status)
 *   KAFKA_BOOTSTRAP_SERVERS           the CLI, the adapter, kcat -b
 *   DBEV_ENV                          the topic prefix (the CLI's topic.prefix fallback)
 *   DBEV_TOPIC_REQUESTED/_COMPLETED/_FAILED   full topic names, for kcat -t
 *   PGHOST PGPORT PGUSER PGDATABASE   psql, as the adapter's role
 *   POSTGRES_HOST/_PORT/_USER/_DATABASE       the adapter's own fallbacks
 *   DBEV_PG_DSN                       the adapter's DSN
 *   DBEV_PG_ADMIN_DSN                 the superuser's, for setup (migrate, fixtures)
 */
static int write_settings(const char *dir, const json_t *state, char *errstr, size_t size)
{
    char path[1100], tmp[1200];
    path_in(dir, "settings.env", path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dbev_seterr(errstr, size, "cannot write %s: %s", tmp, strerror(errno));
    const json_t *pg = json_object_get(state, "postgres");
    const char *dsn = json_string_value(json_object_get(pg, "dsn"));
    const char *env = json_string_value(json_object_get(state, "topic_env"));
    fprintf(f, "# dbev sandbox (dbev-harness env up --stack): %s\n", dir);
    sandbox_put_export(f, "DBEV_SANDBOX", dir);
    sandbox_put_export(
        f, "KAFKA_BOOTSTRAP_SERVERS",
        json_string_value(json_object_get(json_object_get(state, "kafka"), "bootstrap")));
    sandbox_put_export(f, "DBEV_ENV", env);
    static const struct {
        const char *name;
        dbev_topic_t topic;
    } topics[] = {{"DBEV_TOPIC_REQUESTED", DBEV_TOPIC_REQUESTED},
                  {"DBEV_TOPIC_COMPLETED", DBEV_TOPIC_COMPLETED},
                  {"DBEV_TOPIC_FAILED", DBEV_TOPIC_FAILED}};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        char name[256];
        sandbox_put_export(f, topics[i].name,
                           dbev_topic_name(env, topics[i].topic, name, sizeof(name)));
    }
    sandbox_put_pg_exports(f, dsn);
    sandbox_put_export(f, "DBEV_PG_DSN", dsn);
    sandbox_put_export(f, "DBEV_PG_ADMIN_DSN", json_string_value(json_object_get(pg, "admin_dsn")));
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return dbev_seterr(errstr, size, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int write_json(const char *dir, const char *name, const json_t *value, char *errstr,
                      size_t size)
{
    char path[1100], tmp[1200];
    path_in(dir, name, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(value, tmp, JSON_INDENT(2)) != 0 || rename(tmp, path) != 0)
        return dbev_seterr(errstr, size, "cannot write %s", path);
    return 0;
}

/* ---- the supervisor ----------------------------------------------------- */

typedef struct stack {
    const sandbox_opts_t *opts;
    const char *dir;
    dbev_logger_t logger;
    mockenv_t *kafka;
    pgenv_t *pg;
    adapters_t *adapters;
    json_t *state;
} sandbox_stack_t;

/* One HEALTH round trip through a client: an adapter is consuming and
 * PostgreSQL answers. Any answer counts (UNHEALTHY still proves the path). */
static int wait_health(sandbox_stack_t *s, char *errstr, size_t size)
{
    dbev_conf_t *conf = dbev_conf_new();
    dbev_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(s->kafka), NULL, 0);
    dbev_conf_set(conf, "topic.prefix", mockenv_env_name(s->kafka), NULL, 0);
    dbev_conf_set(conf, "service.name", "dbev-harness-sandbox", NULL, 0);
    dbev_client_t *client = dbev_client_new(conf, errstr, size);
    if (!client) {
        dbev_conf_destroy(conf);
        return -1;
    }
    dbev_call_opts_t call = {0};
    call.timeout_ms = SANDBOX_HEALTH_TIMEOUT_MS;
    call.max_retries = -1;
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_err_t err = dbev_health_check(client, &call, &result, &error);
    int rc = 0;
    if (err != DBEV_ERR_NO_ERROR &&
        (!error || err == DBEV_ERR__TIMEOUT || err == DBEV_ERR__TRANSPORT))
        rc =
            dbev_seterr(errstr, size, "no adapter answered a HEALTH request within %d ms (%s)",
                        SANDBOX_HEALTH_TIMEOUT_MS, error ? dbev_error_message(error) : "no answer");
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    dbev_client_destroy(client);
    return rc;
}

static void stack_down(sandbox_stack_t *s)
{
    adapters_destroy(s->adapters);
    s->adapters = NULL;
    pgenv_destroy(s->pg);
    s->pg = NULL;
    mockenv_destroy(s->kafka);
    s->kafka = NULL;
}

static int stack_up(sandbox_stack_t *s, char *errstr, size_t size)
{
    const sandbox_opts_t *o = s->opts;
    mockenv_opts_t kopts = {.brokers = o->brokers,
                            .partitions = o->partitions,
                            .env = o->env_name,
                            .logger = &s->logger};
    s->kafka = mockenv_new(&kopts, errstr, size);
    if (!s->kafka)
        return -1;
    pgenv_opts_t popts = {.pg_bin = o->pg_bin, .tcp = o->tcp, .quiet = true, .logger = &s->logger};
    s->pg = pgenv_new(&popts, errstr, size);
    if (!s->pg)
        return -1;
    const char *fixtures = o->fixtures ? o->fixtures : SANDBOX_DEFAULT_FIXTURES;
    fixtures_spec_t spec = {NULL, NULL, *fixtures ? fixtures : NULL};
    char key[32], tpl[128];
    if (fixtures_key(&spec, key, sizeof(key), errstr, size) != 0 ||
        pgenv_template(s->pg, key, fixtures_prepare, &spec, tpl, sizeof(tpl), errstr, size) != 0 ||
        pgenv_create_database(s->pg, SANDBOX_DATABASE, tpl, errstr, size) != 0)
        return -1;
    char dsn[1024], admin[1024], log_path[1100];
    app_dsn(s->pg, SANDBOX_DATABASE, dsn, sizeof(dsn));
    pgenv_dsn(s->pg, SANDBOX_DATABASE, admin, sizeof(admin));
    path_in(s->dir, "adapter.log", log_path, sizeof(log_path));
    adapters_opts_t aopts = {
        .mode = ADAPTER_PROCESS,
        .count = o->adapters > 0 ? o->adapters : 1,
        .bootstrap = mockenv_bootstrap(s->kafka),
        .topic_env = mockenv_env_name(s->kafka),
        .conninfo = dsn,
        .log_path = log_path,
        .logger = &s->logger,
    };
    s->adapters = adapters_new(&aopts, errstr, size);
    if (!s->adapters)
        return -1;
    if (wait_health(s, errstr, size) != 0)
        return -1;

    json_t *pids = json_array();
    for (int i = 0; i < adapters_count(s->adapters); i++)
        json_array_append_new(pids, json_integer(adapters_pid(s->adapters, i)));
    char started[DBEV_ISO8601_SIZE];
    s->state = json_pack(
        "{s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:s, s:s, s:s?}, s:{s:s, s:b, s:i, "
        "s:i}, s:{s:o, s:s}}",
        "supervisor_pid", (int)getpid(), "started_wall_us", (json_int_t)dbev_wall_us(), "started",
        dbev_iso8601(dbev_wall_us(), started, sizeof(started)), "state_dir", s->dir, "topic_env",
        mockenv_env_name(s->kafka), "fixtures", fixtures, "database", SANDBOX_DATABASE, "postgres",
        "pid", (int)pgenv_server_pid(s->pg), "version", pgenv_server_version(s->pg), "dsn", dsn,
        "admin_dsn", admin, "data_dir", pgenv_data_dir(s->pg), "kafka", "bootstrap",
        mockenv_bootstrap(s->kafka), "mock", mockenv_is_mock(s->kafka), "brokers",
        mockenv_broker_count(s->kafka), "partitions", mockenv_partitions(s->kafka), "adapters",
        "pids", pids, "log", log_path);
    if (!s->state)
        return dbev_seterr(errstr, size, "out of memory");
    if (write_settings(s->dir, s->state, errstr, size) != 0)
        return -1;
    /* state.json last: its presence means "ready" to env status and down. */
    return write_json(s->dir, "state.json", s->state, errstr, size);
}

static bool state_present(const char *dir)
{
    char path[1100];
    struct stat st;
    path_in(dir, "state.json", path, sizeof(path));
    return stat(path, &st) == 0;
}

static void remove_state(const char *dir)
{
    static const char *const files[] = {"state.json", "settings.env", "supervisor.pid",
                                        "supervisor.log", "adapter.log"};
    char path[1100];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        path_in(dir, files[i], path, sizeof(path));
        unlink(path);
    }
    rmdir(dir);
}

static void print_file(const char *dir, const char *name, FILE *out)
{
    char path[1100], line[4096];
    path_in(dir, name, path, sizeof(path));
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        fputs(line, out);
    if (f)
        fclose(f);
    fflush(out);
}

/* Brings the stack up, reports on ready_fd (or prints the settings when
 * there is none), holds until a signal or the state directory goes, tears
 * down. Runs in the supervisor. */
static int serve(const sandbox_opts_t *o, const char *dir, int ready_fd)
{
    sigset_t set;
    harness_block_stop_signals(&set);

    sandbox_stack_t s = {.opts = o, .dir = dir};
    s.logger = (dbev_logger_t){dbev_log_stderr, NULL, (dbev_log_level_t)o->log_level, "sandbox"};
    char errstr[1024], path[1100];
    path_in(dir, "supervisor.pid", path, sizeof(path));
    FILE *pidf = fopen(path, "w");
    if (pidf) {
        fprintf(pidf, "%d\n", (int)getpid());
        fclose(pidf);
    }
    int64_t t0 = dbev_mono_us();
    if (stack_up(&s, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "dbev-harness env up --stack: %s\n", errstr);
        stack_down(&s);
        json_decref(s.state);
        if (ready_fd >= 0) {
            dprintf(ready_fd, "ERROR %s\n", errstr);
            close(ready_fd);
        }
        remove_state(dir);
        return 1;
    }
    dbev_logf(&s.logger, DBEV_LOG_INFO, NULL, "sandbox ready in %.0f ms: %s",
              (double)(dbev_mono_us() - t0) / 1000.0, dir);
    if (ready_fd >= 0) {
        dprintf(ready_fd, "OK\n");
        close(ready_fd);
    } else {
        print_file(dir, "settings.env", stdout);
        if (!o->quiet)
            fprintf(stderr,
                    "sandbox ready in %.0f ms; Ctrl-C (or `dbev-harness env down`) "
                    "tears it down\n",
                    (double)(dbev_mono_us() - t0) / 1000.0);
    }

    const char *why = "state directory removed";
    for (;;) {
        struct timespec ts = {SANDBOX_WATCH_MS / 1000, (SANDBOX_WATCH_MS % 1000) * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0) {
            why = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP";
            break;
        }
        if (!state_present(dir))
            break;
    }
    fprintf(stderr, "dbev-harness sandbox: %s: tearing down\n", why);
    int64_t t1 = dbev_mono_us();
    stack_down(&s);
    json_decref(s.state);
    fprintf(stderr, "dbev-harness sandbox: torn down in %.0f ms\n",
            (double)(dbev_mono_us() - t1) / 1000.0);
    remove_state(dir);
    return 0;
}

static bool pid_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    /* A zombie is gone as far as we care (its parent reaps it). */
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')');
    return !(close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
}

static pid_t read_pid(const char *dir)
{
    char path[1100];
    path_in(dir, "supervisor.pid", path, sizeof(path));
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

int sandbox_up(const sandbox_opts_t *o)
{
    char dirbuf[1024];
    const char *dir = o->dir ? o->dir : sandbox_dir(dirbuf, sizeof(dirbuf));
    char absdir[1024];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "dbev-harness env up --stack: cannot create %s: %s\n", dir,
                strerror(errno));
        return 1;
    }
    char *resolved = realpath(dir, NULL);
    if (!resolved || strlen(resolved) >= sizeof(absdir)) {
        fprintf(stderr, "dbev-harness env up --stack: %s: %s\n", dir,
                resolved ? "path too long" : strerror(errno));
        free(resolved);
        return 1;
    }
    memcpy(absdir, resolved, strlen(resolved) + 1);
    free(resolved);
    pid_t running = read_pid(absdir);
    if (pid_alive(running)) {
        fprintf(stderr,
                "dbev-harness env up --stack: a sandbox already runs in %s (supervisor pid %d): "
                "`dbev-harness env status` shows it, `dbev-harness env down` stops it\n",
                absdir, (int)running);
        return 1;
    }
    remove_state(absdir); /* a dead one's files */
    mkdir(absdir, 0700);
    if (!o->detach)
        return serve(o, absdir, -1);

    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        fprintf(stderr, "dbev-harness env up --stack: pipe: %s\n", strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "dbev-harness env up --stack: fork: %s\n", strerror(errno));
        return 1;
    }
    if (child == 0) {
        close(ready[0]);
        setsid();
        pid_t supervisor = fork();
        if (supervisor != 0)
            _exit(supervisor < 0 ? 1 : 0);
        umask(022);
        if (chdir("/") != 0)
            _exit(1);
        char log_path[1100];
        path_in(absdir, "supervisor.log", log_path, sizeof(log_path));
        int null_fd = open("/dev/null", O_RDONLY);
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (null_fd < 0 || log_fd < 0)
            _exit(1);
        dup2(null_fd, STDIN_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        /* Nothing of the caller's stays open: not its `$(...)` pipe, not
         * anything else it handed down. The ready pipe is moved to fd 3. */
        if (dup2(ready[1], 3) < 0)
            _exit(1);
        close_range(4, ~0U, 0);
        _exit(serve(o, absdir, 3));
    }
    close(ready[1]);
    waitpid(child, NULL, 0);
    char msg[2048] = "";
    size_t len = 0;
    int64_t deadline = dbev_mono_us() + (int64_t)SANDBOX_READY_TIMEOUT_MS * 1000;
    for (;;) {
        int left = (int)((deadline - dbev_mono_us()) / 1000);
        struct pollfd pfd = {ready[0], POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            break;
        ssize_t n = read(ready[0], msg + len, sizeof(msg) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    msg[len] = '\0';
    close(ready[0]);
    if (strncmp(msg, "OK", 2) == 0) {
        print_file(absdir, "settings.env", stdout);
        if (!o->quiet)
            fprintf(stderr,
                    "dbev-harness env up: sandbox ready (supervisor pid %d, %s); "
                    "`dbev-harness env down` tears it down\n",
                    (int)read_pid(absdir), absdir);
        return 0;
    }
    msg[strcspn(msg, "\n")] = '\0';
    fprintf(stderr, "dbev-harness env up --stack: %s\n",
            msg[0] ? msg + (strncmp(msg, "ERROR ", 6) == 0 ? 6 : 0)
                   : "the supervisor did not report ready in time");
    if (!msg[0]) {
        pid_t pid = read_pid(absdir);
        if (pid_alive(pid))
            kill(pid, SIGTERM);
        fprintf(stderr, "  its log: %s/supervisor.log\n", absdir);
    }
    return 1;
}

json_t *sandbox_state(const char *dir, char *errstr, size_t size)
{
    char dirbuf[1024], path[1100];
    if (!dir)
        dir = sandbox_dir(dirbuf, sizeof(dirbuf));
    path_in(dir, "state.json", path, sizeof(path));
    json_t *state = json_load_file(path, 0, NULL);
    if (!state) {
        dbev_seterr(errstr, size, "no sandbox in %s (start one: dbev-harness env up --stack)", dir);
        return NULL;
    }
    pid_t pid = (pid_t)json_integer_value(json_object_get(state, "supervisor_pid"));
    if (!pid_alive(pid)) {
        json_decref(state);
        dbev_seterr(errstr, size,
                    "the sandbox in %s is dead (supervisor %d gone): "
                    "`dbev-harness env down` clears it",
                    dir, (int)pid);
        return NULL;
    }
    return state;
}

int sandbox_status(const char *dir)
{
    char dirbuf[1024], errstr[1200];
    if (!dir)
        dir = sandbox_dir(dirbuf, sizeof(dirbuf));
    json_t *state = sandbox_state(dir, errstr, sizeof(errstr));
    if (!state) {
        fprintf(stderr, "dbev-harness env status: %s\n", errstr);
        return 1;
    }
    const json_t *pg = json_object_get(state, "postgres"), *k = json_object_get(state, "kafka");
    int64_t up_s =
        (dbev_wall_us() - json_integer_value(json_object_get(state, "started_wall_us"))) / 1000000;
    printf("sandbox %s\n", dir);
    printf("  supervisor   pid %d, up %lldh%02lldm%02llds (since %s)\n",
           (int)json_integer_value(json_object_get(state, "supervisor_pid")),
           (long long)(up_s / 3600), (long long)(up_s / 60 % 60), (long long)(up_s % 60),
           json_string_value(json_object_get(state, "started")));
    pid_t pg_pid = (pid_t)json_integer_value(json_object_get(pg, "pid"));
    printf("  PostgreSQL   %d, pid %d (%s), database %s, fixtures %s\n",
           (int)json_integer_value(json_object_get(pg, "version")) / 10000, (int)pg_pid,
           pid_alive(pg_pid) ? "running" : "GONE",
           json_string_value(json_object_get(state, "database")),
           json_string_value(json_object_get(state, "fixtures")));
    printf("               DSN       %s\n", json_string_value(json_object_get(pg, "dsn")));
    printf("               admin DSN %s\n", json_string_value(json_object_get(pg, "admin_dsn")));
    printf("  Kafka        %s, %d brokers at %s, %d partitions, topics %s.omninode-bridge.*\n",
           json_is_true(json_object_get(k, "mock")) ? "mock cluster in the supervisor" : "external",
           (int)json_integer_value(json_object_get(k, "brokers")),
           json_string_value(json_object_get(k, "bootstrap")),
           (int)json_integer_value(json_object_get(k, "partitions")),
           json_string_value(json_object_get(state, "topic_env")));
    const json_t *adapters = json_object_get(state, "adapters");
    size_t i;
    json_t *pid;
    json_array_foreach(json_object_get(adapters, "pids"), i, pid)
    {
        pid_t p = (pid_t)json_integer_value(pid);
        printf("  adapter %zu    pid %d (%s)\n", i, (int)p, pid_alive(p) ? "running" : "GONE");
    }
    printf("  logs         %s, %s/supervisor.log\n",
           json_string_value(json_object_get(adapters, "log")), dir);
    printf("  settings     %s/settings.env (eval \"$(cat ...)\" or source it)\n", dir);
    json_decref(state);
    return 0;
}

int sandbox_down(const char *dir, bool quiet)
{
    char dirbuf[1024], path[1100];
    if (!dir)
        dir = sandbox_dir(dirbuf, sizeof(dirbuf));
    path_in(dir, "state.json", path, sizeof(path));
    json_t *state = json_load_file(path, 0, NULL);
    pid_t supervisor = read_pid(dir);
    if (!state && !pid_alive(supervisor)) {
        fprintf(stderr, "dbev-harness env down: no sandbox in %s\n", dir);
        remove_state(dir);
        return 1;
    }
    /* Every process the sandbox runs: down waits for all of them. */
    pid_t pids[2 + ADAPTERS_MAX];
    int n = 0;
    pids[n++] = supervisor;
    pids[n++] =
        (pid_t)json_integer_value(json_object_get(json_object_get(state, "postgres"), "pid"));
    size_t i;
    json_t *pid;
    json_array_foreach(json_object_get(json_object_get(state, "adapters"), "pids"), i, pid)
    {
        if (n < (int)(sizeof(pids) / sizeof(pids[0])))
            pids[n++] = (pid_t)json_integer_value(pid);
    }
    json_decref(state);
    int64_t t0 = dbev_mono_us();
    if (pid_alive(supervisor))
        kill(supervisor, SIGTERM);
    int64_t deadline = t0 + (int64_t)SANDBOX_DOWN_TIMEOUT_MS * 1000;
    bool alive = true;
    while (alive && dbev_mono_us() < deadline) {
        alive = false;
        for (int j = 0; j < n; j++)
            alive |= pid_alive(pids[j]);
        if (alive) {
            struct pollfd none;
            poll(&none, 0,
                 20); /* polling the pids: no one to notify us, they are not our children */
        }
    }
    if (alive) {
        fprintf(stderr, "dbev-harness env down: the sandbox in %s did not go within %d s\n", dir,
                SANDBOX_DOWN_TIMEOUT_MS / 1000);
        return 1;
    }
    /* A supervisor that was killed left its server: the reaper stops it. */
    pgenv_reap_leftovers(NULL);
    remove_state(dir);
    if (!quiet)
        fprintf(stderr, "dbev-harness env down: torn down in %.0f ms\n",
                (double)(dbev_mono_us() - t0) / 1000.0);
    return 0;
}
