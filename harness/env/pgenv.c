/*
 * The throwaway PostgreSQL server (or a handle on an existing one): bring-up,
 * teardown, connection strings, and the server faults scenarios inject; its
 * template and scenario databases are pgenv_db.c's. A throwaway server lives
 * in a private mkdtemp directory dbev-pg-XXXXXX under the temp dir:
 *
 *   dbev-pgenv.marker   owner pid, so a later run can reap it if we are killed
 *   data/               the cluster (copied from the template-cluster cache)
 *   .s.PGSQL.<port>     the server's unix socket: the only way in unless tcp
 *   postgres.log        server output, quoted in start-up errors
 *
 * Bring-up copies a cached initdb'ed cluster (pgenv_cache.c), writes the
 * per-instance settings (port, socket directory, TCP) to
 * data/dbev_instance.conf, starts postgres directly (no pg_ctl: we want its
 * pid and to notice at once when it dies) and polls postmaster.pid until it
 * says "ready". Teardown on any exit path is pgenv_reap.c's job.
 */
#include "env/pgenv.h"

#include "env/pgenv_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#ifndef DBEV_BUILD_DIR
#define DBEV_BUILD_DIR "."
#endif

#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS  30000
#define NOT_EXTERNAL_ERR "not available with --pg-dsn (the server is not ours to stop)"

/*
 * Test-only settings, stored in the cached template cluster. Durability is
 * off: a crash may lose or corrupt data, which does not matter for a server
 * thrown away after the run and makes commits and CREATE DATABASE fast.
 */
static const char template_conf[] =
    "\n# ---- dbev pgenv: TEST-ONLY settings, never for data you want to keep ----\n"
    "fsync = off\n"
    "synchronous_commit = off\n"
    "full_page_writes = off\n"
    "# adapters and load tests open connection pools\n"
    "max_connections = 200\n"
    "listen_addresses = ''\n"
    "logging_collector = off\n"
    "# per-instance settings (port, socket directory, TCP), written at each bring-up\n"
    "include_if_exists = 'dbev_instance.conf'\n";

static void keep_message(const pgenv_t *env, char *buf, size_t size);

void pgenv_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- connection strings ---- */

/* Appends key='value' (libpq quoting) to buf. */
static void append_kv(char *buf, size_t size, const char *key, const char *value)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return;
    len += (size_t)snprintf(buf + len, size - len, "%s%s='", len ? " " : "", key);
    for (const char *p = value; *p && len + 3 < size; p++) {
        if (*p == '\'' || *p == '\\')
            buf[len++] = '\\';
        buf[len++] = *p;
    }
    if (len + 2 <= size) {
        buf[len++] = '\'';
        buf[len] = '\0';
    } else {
        buf[size - 1] = '\0';
    }
}

const char *pgenv_dsn(const pgenv_t *env, const char *dbname, char *buf, size_t size)
{
    return pgenv_dsn_as(env, dbname, NULL, buf, size);
}

const char *pgenv_dsn_as(const pgenv_t *env, const char *dbname, const char *user, char *buf,
                         size_t size)
{
    buf[0] = '\0';
    if (!env->external) {
        char port[16];
        snprintf(port, sizeof(port), "%d", env->port);
        append_kv(buf, size, "host", env->dir);
        append_kv(buf, size, "port", port);
        append_kv(buf, size, "user", user ? user : env->user);
        append_kv(buf, size, "dbname", dbname ? dbname : env->dbname);
        return buf;
    }
    /* External: the user's DSN (URI or key=value) with dbname replaced. */
    PQconninfoOption *opts = PQconninfoParse(env->ext_dsn, NULL);
    if (!opts)
        return buf;
    bool have_db = false;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *val = o->val;
        if (strcmp(o->keyword, "dbname") == 0) {
            have_db = true;
            if (dbname)
                val = dbname;
        }
        if (user && (strcmp(o->keyword, "user") == 0 || strcmp(o->keyword, "password") == 0))
            continue;
        if (val && *val)
            append_kv(buf, size, o->keyword, val);
    }
    if (!have_db && dbname)
        append_kv(buf, size, "dbname", dbname);
    if (user)
        append_kv(buf, size, "user", user);
    PQconninfoFree(opts);
    return buf;
}

PGconn *pgenv_connect(const pgenv_t *env, const char *dbname, char *errstr, size_t size)
{
    return pgenv_connect_as(env, dbname, NULL, errstr, size);
}

PGconn *pgenv_connect_as(const pgenv_t *env, const char *dbname, const char *user, char *errstr,
                         size_t size)
{
    char dsn[4096];
    pgenv_dsn_as(env, dbname, user, dsn, sizeof(dsn));
    PGconn *conn = PQconnectdb(dsn);
    if (conn && PQstatus(conn) == CONNECTION_OK)
        return conn;
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    char line[512];
    snprintf(line, sizeof(line), "%s", msg);
    line[strcspn(line, "\n")] = '\0';
    dbev_seterr(errstr, size, "cannot connect to database %s%s%s: %s",
                dbname ? dbname : (env->dbname[0] ? env->dbname : "(default)"), user ? " as " : "",
                user ? user : "", line);
    PQfinish(conn);
    return NULL;
}

int pgenv_select1(PGconn *conn, char *errstr, size_t size)
{
    PGresult *res = PQexec(conn, "SELECT 1");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorMessage(res);
        char line[512];
        snprintf(line, sizeof(line), "%s", *msg ? msg : PQerrorMessage(conn));
        line[strcspn(line, "\n")] = '\0';
        rc = dbev_seterr(errstr, size, "SELECT 1 failed: %s", line);
    } else if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "1") != 0) {
        rc = dbev_seterr(errstr, size, "SELECT 1 returned something other than 1");
    }
    PQclear(res);
    return rc;
}

const char *pgenv_host(const pgenv_t *env)
{
    return env->external ? NULL : env->dir;
}

int pgenv_port(const pgenv_t *env)
{
    return env->external ? 0 : env->port;
}

const char *pgenv_user(const pgenv_t *env)
{
    return env->user[0] ? env->user : NULL;
}

const char *pgenv_data_dir(const pgenv_t *env)
{
    return env->external ? NULL : env->data_dir;
}

pid_t pgenv_server_pid(const pgenv_t *env)
{
    return env->pid;
}

int pgenv_server_version(const pgenv_t *env)
{
    return env->server_version;
}

double pgenv_startup_ms(const pgenv_t *env)
{
    return env->startup_ms;
}

bool pgenv_was_warm(const pgenv_t *env)
{
    return env->warm;
}

/* ---- the server process ---- */

/* port and socket directory of this instance, read by the template's include_if_exists. */
static int write_instance_conf(pgenv_t *env, char *errstr, size_t size)
{
    char path[PGENV_PATH_SIZE];
    pgenv_path(path, sizeof(path), env->data_dir, "dbev_instance.conf");
    FILE *f = fopen(path, "w");
    if (!f)
        return dbev_seterr(errstr, size, "cannot write %s: %s", path, strerror(errno));
    fprintf(f, "port = %d\nunix_socket_directories = '", env->port);
    for (const char *p = env->dir; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    fprintf(f, "'\nlisten_addresses = '%s'\n", env->tcp ? "127.0.0.1" : "");
    if (fclose(f) != 0)
        return dbev_seterr(errstr, size, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* A loopback port nobody listens on right now (the kernel picks it). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* True when postmaster.pid names pid and says the server accepts connections. */
static bool postmaster_ready(const pgenv_t *env, pid_t pid)
{
    char path[PGENV_PATH_SIZE];
    pgenv_path(path, sizeof(path), env->data_dir, "postmaster.pid");
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[PGENV_PATH_SIZE];
    bool ready = false;
    for (int n = 1; fgets(line, sizeof(line), f); n++) {
        if (n == 1 && atoi(line) != (int)pid)
            break;
        if (n == 8) {
            ready = strncmp(line, "ready", 5) == 0;
            break;
        }
    }
    fclose(f);
    return ready;
}

/* Starts postgres on the existing data directory and waits until it is ready. */
static int server_start(pgenv_t *env, bool *addr_in_use, char *errstr, size_t size)
{
    *addr_in_use = false;
    char postgres[PGENV_PATH_SIZE];
    pgenv_path(postgres, sizeof(postgres), env->bindir, "postgres");
    char *argv[] = {postgres, "-D", env->data_dir, NULL};
    /* Only this start's lines count when explaining a failure. */
    struct stat st;
    long log_from = stat(env->log_path, &st) == 0 ? (long)st.st_size : 0;
    pid_t pid = pgenv_spawn(argv, &env->cred, env->data_dir, env->log_path, true, errstr, size);
    if (pid < 0)
        return -1;
    env->pid = pid;
    pgenv_reg_set_pid(env->slot, pid);
    if (env->keep) {
        /* An exit without pgenv_destroy() keeps it too, and says so. */
        char msg[2048];
        keep_message(env, msg, sizeof(msg));
        pgenv_reg_set_keep(env->slot, msg);
    }
    int64_t deadline = dbev_mono_us() + (int64_t)START_TIMEOUT_MS * 1000;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        /* r < 0 (ECHILD): someone else reaped it; then only liveness tells. */
        if (r == pid || (r < 0 && !pgenv_pid_alive(pid))) {
            env->pid = 0;
            pgenv_reg_set_pid(env->slot, 0);
            char last[512];
            pgenv_log_problem(env->log_path, log_from, last, sizeof(last), addr_in_use);
            bool denied = env->cred.switch_user && strstr(last, "ermission denied");
            return dbev_seterr(errstr, size, "postgres exited during start-up (%s %d): %s%s",
                               WIFSIGNALED(status) ? "signal" : "exit",
                               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                               last[0] ? last : "no output",
                               denied ? " (running as root: the " PGENV_OS_ACCOUNT
                                        " account must be able to reach the temp dir; pass "
                                        "another --tmp-dir)"
                                      : "");
        }
        if (postmaster_ready(env, pid))
            return 0;
        if (dbev_mono_us() > deadline) {
            pgenv_kill_wait(pid, SIGQUIT, 5000);
            env->pid = 0;
            pgenv_reg_set_pid(env->slot, 0);
            return dbev_seterr(errstr, size,
                               "postgres did not become ready within %d s (see %s): the machine "
                               "may be overloaded",
                               START_TIMEOUT_MS / 1000, env->log_path);
        }
        pgenv_sleep_ms(1);
    }
}

static int server_stop(pgenv_t *env, int sig, int timeout_ms)
{
    if (env->pid <= 0)
        return 0;
    int rc = pgenv_kill_wait(env->pid, sig, timeout_ms);
    env->pid = 0;
    pgenv_reg_set_pid(env->slot, 0);
    return rc;
}

/* Connects, runs SELECT 1 and records the server version. */
static int check_server(pgenv_t *env, char *errstr, size_t size)
{
    PGconn *conn = pgenv_connect(env, NULL, errstr, size);
    if (!conn)
        return -1;
    int rc = pgenv_select1(conn, errstr, size);
    env->server_version = PQserverVersion(conn);
    if (!env->user[0])
        snprintf(env->user, sizeof(env->user), "%s", PQuser(conn));
    if (!env->dbname[0])
        snprintf(env->dbname, sizeof(env->dbname), "%s", PQdb(conn));
    PQfinish(conn);
    return rc;
}

/* ---- bring-up ---- */

static const char *default_tmp_dir(const pgenv_opts_t *opts)
{
    return opts->tmp_dir ? opts->tmp_dir : pgenv_default_tmp_dir();
}

static const char *default_cache_dir(const pgenv_opts_t *opts)
{
    if (opts->cache_dir)
        return opts->cache_dir;
    const char *c = getenv("DBEV_CACHE_DIR");
    return c && *c ? c : DBEV_BUILD_DIR "/cache";
}

static pgenv_t *new_external(pgenv_t *env, const char *dsn, char *errstr, size_t size)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &err);
    if (!opts) {
        char line[512];
        snprintf(line, sizeof(line), "%s", err ? err : "out of memory");
        line[strcspn(line, "\n")] = '\0';
        /* libpq quotes the whole URI, password included: keep it out of logs. */
        char *uri = strstr(line, " in URI");
        if (uri)
            *uri = '\0';
        dbev_seterr(errstr, size,
                    "invalid --pg-dsn: %s: give a libpq connection string such as "
                    "'host=/run/postgresql dbname=dbev' or 'postgresql://user@localhost/dbev'",
                    line);
        PQfreemem(err);
        free(env);
        return NULL;
    }
    PQconninfoFree(opts);
    if (strlen(dsn) >= sizeof(env->ext_dsn)) {
        dbev_seterr(errstr, size, "--pg-dsn is longer than %zu bytes", sizeof(env->ext_dsn) - 1);
        free(env);
        return NULL;
    }
    env->external = true;
    env->slot = -1;
    snprintf(env->ext_dsn, sizeof(env->ext_dsn), "%s", dsn);
    int64_t t0 = dbev_mono_us();
    char err2[512];
    if (check_server(env, err2, sizeof(err2)) < 0) {
        dbev_seterr(errstr, size,
                    "--pg-dsn server not usable: %s: check the DSN, or drop --pg-dsn to start a "
                    "throwaway server",
                    err2);
        free(env);
        return NULL;
    }
    env->startup_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL,
              "using existing PostgreSQL %d.%d (--pg-dsn) as user %s, database %s",
              env->server_version / 10000, env->server_version % 100, env->user, env->dbname);
    return env;
}

/* Undoes a failed bring-up: nothing is left behind. */
static pgenv_t *fail_throwaway(pgenv_t *env)
{
    server_stop(env, SIGQUIT, 5000);
    if (env->dir[0])
        pgenv_rm_rf(env->dir);
    pgenv_reg_remove(env->slot);
    free(env);
    return NULL;
}

static int major_of(const char *version_string)
{
    const char *p = strstr(version_string, "PostgreSQL) ");
    return p ? atoi(p + strlen("PostgreSQL) ")) : 0;
}

pgenv_t *pgenv_new(const pgenv_opts_t *opts, char *errstr, size_t size)
{
    static const pgenv_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    int64_t t0 = dbev_mono_us();
    pgenv_t *env = calloc(1, sizeof(*env));
    if (!env) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    env->slot = -1;
    env->keep = opts->keep;
    env->tcp = opts->tcp;
    if (opts->logger) {
        env->own_logger = *opts->logger;
    } else {
        env->own_logger.cb = dbev_log_stderr;
        env->own_logger.level = DBEV_LOG_INFO;
        env->own_logger.component = "pgenv";
    }
    if (opts->quiet && env->own_logger.level < DBEV_LOG_WARN)
        env->own_logger.level = DBEV_LOG_WARN;
    env->logger = &env->own_logger;

    if (opts->pg_dsn)
        return new_external(env, opts->pg_dsn, errstr, size);

    pgenv_reg_install();
    const char *tmp_dir = default_tmp_dir(opts);
    int reaped = pgenv_reap_leftovers(opts->tmp_dir);
    if (reaped > 0)
        dbev_logf(env->logger, DBEV_LOG_INFO, NULL,
                  "removed %d leftover server director%s of killed runs", reaped,
                  reaped == 1 ? "y" : "ies");

    char version[256];
    if (pgenv_bin_find(opts->pg_bin, env->bindir, sizeof(env->bindir), errstr, size) < 0 ||
        pgenv_bin_version(env->bindir, version, sizeof(version), errstr, size) < 0 ||
        pgenv_cred_get(&env->cred, errstr, size) < 0) {
        free(env);
        return NULL;
    }

    snprintf(env->dir, sizeof(env->dir), "%s/" PGENV_DIR_PREFIX "XXXXXX", tmp_dir);
    if (!mkdtemp(env->dir)) {
        dbev_seterr(errstr, size,
                    "cannot create a private directory under %s: %s: pass a writable --tmp-dir "
                    "(or set TMPDIR)",
                    tmp_dir, strerror(errno));
        free(env);
        return NULL;
    }
    /* The socket path must fit sockaddr_un.sun_path (108 bytes with the NUL). */
    if (strlen(env->dir) + strlen("/.s.PGSQL.65535") >= 108) {
        dbev_seterr(errstr, size,
                    "temp dir %s is too long for a unix socket path (limit 107 bytes): pass a "
                    "shorter --tmp-dir",
                    tmp_dir);
        rmdir(env->dir);
        free(env);
        return NULL;
    }
    char err[512] = "";
    env->slot = pgenv_reg_add(env->dir, errstr, size);
    if (env->slot < 0) {
        rmdir(env->dir);
        free(env);
        return NULL;
    }
    if (pgenv_marker_write(env->dir, env->keep) < 0) {
        dbev_seterr(errstr, size, "cannot write the marker file in %s: %s", env->dir,
                    strerror(errno));
        return fail_throwaway(env);
    }
    if (env->cred.switch_user &&
        pgenv_chown_tree(env->dir, env->cred.uid, env->cred.gid, errstr, size) < 0)
        return fail_throwaway(env);
    snprintf(env->data_dir, sizeof(env->data_dir), "%s/data", env->dir);
    snprintf(env->log_path, sizeof(env->log_path), "%s/postgres.log", env->dir);
    snprintf(env->user, sizeof(env->user), "%s", PGENV_SUPERUSER);
    snprintf(env->dbname, sizeof(env->dbname), "postgres");

    char initdb[PGENV_PATH_SIZE];
    pgenv_path(initdb, sizeof(initdb), env->bindir, "initdb");
    char *initdb_argv[16];
    int n = 0;
    initdb_argv[n++] = initdb;
    initdb_argv[n++] = "-D";
    initdb_argv[n++] = env->data_dir;
    int first_setting = n;
    initdb_argv[n++] = "-U" PGENV_SUPERUSER;
    initdb_argv[n++] = "--auth=trust";
    initdb_argv[n++] = "--encoding=UTF8";
    initdb_argv[n++] = "--locale=C";
    initdb_argv[n++] = "--no-sync"; /* test-only, like the settings */
    if (major_of(version) >= 14)
        initdb_argv[n++] = "--no-instructions";
    initdb_argv[n] = NULL;

    /* Cache key: everything that shapes the cluster, but not its path. */
    char key_text[8192], key[17];
    int kl = snprintf(key_text, sizeof(key_text), "pgenv-v1\n%s\n%s\nuid=%d gid=%d\n", version,
                      env->bindir, (int)env->cred.uid, (int)env->cred.gid);
    for (int i = first_setting; i < n && kl < (int)sizeof(key_text); i++)
        kl += snprintf(key_text + kl, sizeof(key_text) - (size_t)kl, "%s\n", initdb_argv[i]);
    if (kl < (int)sizeof(key_text))
        snprintf(key_text + kl, sizeof(key_text) - (size_t)kl, "%s", template_conf);
    pgenv_hash_hex(key_text, key);

    if (pgenv_cache_fill(default_cache_dir(opts), key, initdb_argv, template_conf, &env->cred,
                         env->dir, env->slot, env->data_dir, &env->warm, env->logger, errstr,
                         size) < 0)
        return fail_throwaway(env);

    /* Unix socket only: the port only names the socket file, in a private dir. */
    env->port = 5432;
    for (int attempt = 0;; attempt++) {
        if (env->tcp && (env->port = free_port()) < 0) {
            dbev_seterr(errstr, size, "cannot find a free loopback TCP port: %s", strerror(errno));
            return fail_throwaway(env);
        }
        bool in_use;
        if (write_instance_conf(env, errstr, size) < 0)
            return fail_throwaway(env);
        if (server_start(env, &in_use, err, sizeof(err)) == 0)
            break;
        if (!(env->tcp && in_use && attempt < 5)) {
            dbev_seterr(errstr, size, "%s", err);
            return fail_throwaway(env);
        }
    }
    if (check_server(env, errstr, size) < 0)
        return fail_throwaway(env);
    env->startup_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL,
              "PostgreSQL %d.%d up in %.1f ms (%s template cluster): host=%s port=%d user=%s%s",
              env->server_version / 10000, env->server_version % 100, env->startup_ms,
              env->warm ? "warm, cached" : "cold, new", env->dir, env->port, env->user,
              env->tcp ? " tcp=127.0.0.1" : "");
    return env;
}

/* Appends s to buf (NUL-terminated, cut to size). */
static void append_str(char *buf, size_t size, const char *s)
{
    size_t len = strlen(buf);
    while (*s && len + 1 < size)
        buf[len++] = *s++;
    buf[len] = '\0';
}

/* The lines printed when a kept server is left running (cut to size if need be). */
static void keep_message(const pgenv_t *env, char *buf, size_t size)
{
    char dsn[4096], num[32];
    pgenv_dsn(env, env->keep_dbname[0] ? env->keep_dbname : NULL, dsn, sizeof(dsn));
    buf[0] = '\0';
    snprintf(num, sizeof(num), "%d", (int)env->pid);
    append_str(buf, size, "pgenv: kept PostgreSQL running (pid ");
    append_str(buf, size, num);
    append_str(buf, size, ") for you to explore:\n  psql \"");
    append_str(buf, size, dsn);
    append_str(buf, size, "\"\n  DSN: ");
    append_str(buf, size, dsn);
    append_str(buf, size, "\n");
    if (env->tcp) {
        snprintf(num, sizeof(num), "%d", env->port);
        append_str(buf, size, "  TCP: host=127.0.0.1 port=");
        append_str(buf, size, num);
        append_str(buf, size, "\n");
    }
    append_str(buf, size, "  stop and remove it: ");
    if (env->cred.switch_user)
        append_str(buf, size, "runuser -u " PGENV_OS_ACCOUNT " -- ");
    append_str(buf, size, env->bindir);
    append_str(buf, size, "/pg_ctl -D ");
    append_str(buf, size, env->data_dir);
    append_str(buf, size, " stop && rm -rf ");
    append_str(buf, size, env->dir);
    append_str(buf, size, "\n  server log: ");
    append_str(buf, size, env->log_path);
    append_str(buf, size, "\n");
}

void pgenv_keep_dbname(pgenv_t *env, const char *dbname)
{
    if (!env || env->external)
        return;
    snprintf(env->keep_dbname, sizeof(env->keep_dbname), "%s", dbname ? dbname : "");
    if (env->keep) {
        char msg[2048];
        keep_message(env, msg, sizeof(msg));
        pgenv_reg_set_keep(env->slot, msg);
    }
}

const char *pgenv_bindir(const pgenv_t *env)
{
    return env && !env->external && env->bindir[0] ? env->bindir : NULL;
}

void pgenv_destroy(pgenv_t *env)
{
    if (!env)
        return;
    if (env->external) {
        free(env);
        return;
    }
    if (env->keep && env->pid > 0) {
        char msg[2048];
        keep_message(env, msg, sizeof(msg));
        /* Explicitly asked for: printed on stderr as plain lines to copy. */
        fputs(msg, stderr);
        fflush(stderr);
    } else {
        server_stop(env, SIGQUIT, 5000);
        if (pgenv_rm_rf(env->dir) < 0)
            dbev_logf(env->logger, DBEV_LOG_WARN, NULL, "could not remove %s: %s", env->dir,
                      strerror(errno));
    }
    pgenv_reg_remove(env->slot);
    free(env);
}

/* ---- faults ---- */

int pgenv_stop_server(pgenv_t *env, char *errstr, size_t size)
{
    if (env->external)
        return dbev_seterr(errstr, size, "stopping the server is " NOT_EXTERNAL_ERR);
    if (env->pid <= 0)
        return 0;
    /* SIGINT: fast shutdown, what an operator's `pg_ctl stop` does. */
    if (server_stop(env, SIGINT, STOP_TIMEOUT_MS) < 0)
        return dbev_seterr(errstr, size, "the server did not stop");
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "fault: PostgreSQL stopped");
    return 0;
}

int pgenv_start_server(pgenv_t *env, char *errstr, size_t size)
{
    if (env->external)
        return dbev_seterr(errstr, size, "starting the server is " NOT_EXTERNAL_ERR);
    if (env->pid > 0)
        return 0;
    bool in_use;
    int64_t t0 = dbev_mono_us();
    if (server_start(env, &in_use, errstr, size) < 0)
        return -1;
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "fault: PostgreSQL started again in %.1f ms",
              (double)(dbev_mono_us() - t0) / 1000.0);
    return 0;
}

int pgenv_restart_server(pgenv_t *env, char *errstr, size_t size)
{
    if (env->external)
        return dbev_seterr(errstr, size, "restarting the server is " NOT_EXTERNAL_ERR);
    if (pgenv_stop_server(env, errstr, size) < 0)
        return -1;
    return pgenv_start_server(env, errstr, size);
}

int pgenv_terminate_backends(pgenv_t *env, const char *dbname, char *errstr, size_t size)
{
    if (env->external && !dbname)
        return dbev_seterr(errstr, size,
                           "terminating every backend is " NOT_EXTERNAL_ERR "; name the database");
    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    if (!conn)
        return dbev_seterr(errstr, size, "cannot terminate backends: %s", err);
    /* PostgreSQL 14+ can wait until each backend is gone, so the caller's
     * next step sees the connections dead rather than dying. */
    const char *sql = env->server_version >= 140000
                          ? "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
                            "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend' "
                            "AND ($1::text IS NULL OR datname = $1)"
                          : "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                            "FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                            "AND backend_type = 'client backend' "
                            "AND ($1::text IS NULL OR datname = $1)";
    const char *params[1] = {dbname};
    PGresult *res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        rc = atoi(PQgetvalue(res, 0, 0));
        dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "fault: terminated %d backend(s) of %s", rc,
                  dbname ? dbname : "all databases");
    } else {
        char line[512];
        snprintf(line, sizeof(line), "%s", PQerrorMessage(conn));
        line[strcspn(line, "\n")] = '\0';
        rc = dbev_seterr(errstr, size, "cannot terminate backends: %s", line);
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}
