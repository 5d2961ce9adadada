/*
 * Integration tests of the throwaway PostgreSQL (harness/env/pgenv*.c): a
 * real server started, queried and torn down; the root path (servers run as
 * the postgres account); teardown on exit() and SIGTERM; leftovers of a
 * SIGKILLed run reaped by the next start; template databases and concurrent
 * clones; --pg-dsn mode; the server faults; and bad input that must fail with
 * one clear line and leave nothing behind. Every server lives under a private
 * root directory that the group teardown removes, killing anything left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "env/pgenv.h"
#include "env/pgenv_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[256];

static pgenv_opts_t base_opts(void)
{
    pgenv_opts_t opts = {0};
    opts.tmp_dir = root;
    opts.quiet = true;
    return opts;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* How many processes have their working directory inside dir. */
static int processes_in(const char *dir)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int count = 0;
    size_t len = strlen(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char link[300], cwd[PGENV_PATH_SIZE];
        snprintf(link, sizeof(link), "/proc/%s/cwd", de->d_name);
        ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
        if (n < 0)
            continue;
        cwd[n] = '\0';
        if (strncmp(cwd, dir, len) == 0 && pgenv_pid_alive(atoi(de->d_name)))
            count++;
    }
    closedir(d);
    return count;
}

/* Entries of root whose name starts with prefix. */
static int entries_named(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            count++;
    closedir(d);
    return count;
}

static long long query_ll(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    long long v = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

static pgenv_t *start(pgenv_opts_t *opts)
{
    char err[512] = "";
    pgenv_t *env = pgenv_new(opts, err, sizeof(err));
    if (!env)
        fail_msg("pgenv_new: %s", err);
    return env;
}

static int group_setup(void **state)
{
    /* Under the default temp dir (a tmpfs when there is one): fast, like real runs. */
    snprintf(root, sizeof(root), "%s/dbev-test-pg-XXXXXX", pgenv_default_tmp_dir());
    if (!mkdtemp(root))
        return -1;
    /* As root, the postgres account must reach the servers' directories. */
    chmod(root, 0755);
    return 0;
}

static int group_teardown(void **state)
{
    /* Anything a failed test left: stop servers, then remove the tree. */
    DIR *d = opendir(root);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, PGENV_DIR_PREFIX, strlen(PGENV_DIR_PREFIX)) != 0)
                continue;
            char pidfile[PGENV_PATH_SIZE];
            snprintf(pidfile, sizeof(pidfile), "%s/%s/data/postmaster.pid", root, de->d_name);
            FILE *f = fopen(pidfile, "r");
            int pid = 0;
            if (f) {
                if (fscanf(f, "%d", &pid) != 1)
                    pid = 0;
                fclose(f);
            }
            if (pid > 0)
                pgenv_kill_wait(pid, SIGQUIT, 5000);
        }
        closedir(d);
    }
    int left = processes_in(root);
    pgenv_rm_rf(root);
    return left == 0 && !path_exists(root) ? 0 : -1;
}

/* ---- lifecycle ---- */

static void test_start_query_stop(void **state)
{
    pgenv_opts_t opts = base_opts();
    pgenv_t *env = start(&opts);
    char dir[PGENV_PATH_SIZE], marker[PGENV_PATH_SIZE];
    snprintf(dir, sizeof(dir), "%s", pgenv_host(env));
    pgenv_path(marker, sizeof(marker), dir, PGENV_MARKER);
    pid_t pid = pgenv_server_pid(env);
    assert_true(pid > 0);
    assert_true(path_exists(marker));
    assert_true(pgenv_server_version(env) >= 100000);
    assert_string_equal(pgenv_user(env), "postgres");
    assert_true(pgenv_startup_ms(env) > 0);

    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    assert_non_null(conn);
    assert_int_equal(query_ll(conn, "SELECT 1"), 1);
    /* Unix socket only, in the private directory. */
    PGresult *res = PQexec(conn, "SHOW listen_addresses");
    assert_string_equal(PQgetvalue(res, 0, 0), "");
    PQclear(res);
    res = PQexec(conn, "SHOW fsync");
    assert_string_equal(PQgetvalue(res, 0, 0), "off");
    PQclear(res);
    assert_true(query_ll(conn, "SHOW max_connections") >= 200);
    PQfinish(conn);

    pgenv_destroy(env);
    assert_false(path_exists(dir));
    assert_false(pgenv_pid_alive(pid));
    assert_int_equal(processes_in(dir), 0);
    pgenv_destroy(NULL);
}

static void test_root_path(void **state)
{
    if (geteuid() != 0)
        skip(); /* only root takes this path; CI runs as root */
    struct passwd *pw = getpwnam("postgres");
    assert_non_null(pw);
    pgenv_opts_t opts = base_opts();
    pgenv_t *env = start(&opts);
    pid_t pid = pgenv_server_pid(env);

    /* The postmaster runs as the postgres account, which owns the data. */
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int uid = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Uid: %d", &uid) == 1)
            break;
    fclose(f);
    assert_int_equal(uid, (int)pw->pw_uid);
    struct stat st;
    assert_int_equal(stat(pgenv_data_dir(env), &st), 0);
    assert_int_equal(st.st_uid, pw->pw_uid);

    /* We, root, connect over the socket as the database superuser postgres. */
    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    assert_non_null(conn);
    PGresult *res = PQexec(conn, "SELECT current_user");
    assert_string_equal(PQgetvalue(res, 0, 0), "postgres");
    PQclear(res);
    PQfinish(conn);
    pgenv_destroy(env);
}

/* As root, a temp dir the postgres account cannot reach fails clearly. */
static void test_root_unreachable_tmp_dir(void **state)
{
    if (geteuid() != 0)
        skip();
    char private_dir[PGENV_PATH_SIZE];
    pgenv_path(private_dir, sizeof(private_dir), root, "root-only");
    assert_int_equal(mkdir(private_dir, 0700), 0);
    pgenv_opts_t opts = base_opts();
    opts.tmp_dir = private_dir;
    char err[512] = "";
    assert_null(pgenv_new(&opts, err, sizeof(err)));
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, "Permission denied"));
    assert_non_null(strstr(err, "--tmp-dir"));
    assert_int_equal(entries_named(private_dir, ""), 2); /* only . and .. */
    assert_int_equal(rmdir(private_dir), 0);
}

static void test_cache_warm(void **state)
{
    char cache[PGENV_PATH_SIZE];
    snprintf(cache, sizeof(cache), "%s/cache", root);
    pgenv_opts_t opts = base_opts();
    opts.cache_dir = cache;
    pgenv_t *env = start(&opts);
    assert_false(pgenv_was_warm(env)); /* fresh cache: initdb */
    pgenv_destroy(env);
    assert_int_equal(entries_named(cache, "pgenv-"), 1);
    assert_int_equal(entries_named(cache, PGENV_BUILD_PREFIX), 0);

    env = start(&opts);
    assert_true(pgenv_was_warm(env));
    assert_true(pgenv_startup_ms(env) > 0);
    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    assert_non_null(conn);
    assert_int_equal(query_ll(conn, "SELECT 1"), 1);
    PQfinish(conn);
    pgenv_destroy(env);
    pgenv_rm_rf(cache);
}

/* Two runs filling one empty cache at once: both start, one entry is kept. */
static void test_cache_concurrent_fill(void **state)
{
    char cache[PGENV_PATH_SIZE];
    pgenv_path(cache, sizeof(cache), root, "cache-race");
    pid_t children[2];
    for (int i = 0; i < 2; i++) {
        children[i] = fork();
        assert_true(children[i] >= 0);
        if (children[i] == 0) {
            pgenv_opts_t opts = base_opts();
            opts.cache_dir = cache;
            char err[512];
            pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
            if (!env) {
                fprintf(stderr, "child %d: %s\n", i, err);
                _exit(1);
            }
            PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
            int ok = conn && PQstatus(conn) == CONNECTION_OK;
            PQfinish(conn);
            pgenv_destroy(env);
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(children[i], &status, 0), children[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(entries_named(cache, "pgenv-"), 1);
    assert_int_equal(entries_named(cache, PGENV_BUILD_PREFIX), 0);
    pgenv_opts_t opts = base_opts();
    opts.cache_dir = cache;
    pgenv_t *env = start(&opts);
    assert_true(pgenv_was_warm(env));
    pgenv_destroy(env);
    pgenv_rm_rf(cache);
}

static void test_tcp(void **state)
{
    pgenv_opts_t opts = base_opts();
    opts.tcp = true;
    pgenv_t *env = start(&opts);
    assert_true(pgenv_port(env) > 0);
    char dsn[256];
    snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%d user=postgres dbname=postgres",
             pgenv_port(env));
    PGconn *conn = PQconnectdb(dsn);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    assert_int_equal(query_ll(conn, "SELECT 1"), 1);
    PQfinish(conn);
    pgenv_destroy(env);
}

/* ---- teardown paths ---- */

typedef struct child_info {
    pid_t postmaster;
    char dir[PGENV_PATH_SIZE];
} child_info_t;

typedef enum { CHILD_WAIT, CHILD_EXIT } child_mode_t;

/*
 * Forks a child that starts a server, reports it through a pipe, then
 * either waits to be signalled or calls exit(3) without pgenv_destroy().
 */
static pid_t fork_server_child(child_mode_t mode, child_info_t *info)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        pgenv_opts_t opts = base_opts();
        char err[512];
        pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
        child_info_t out = {0};
        if (env) {
            out.postmaster = pgenv_server_pid(env);
            snprintf(out.dir, sizeof(out.dir), "%s", pgenv_host(env));
        }
        if (write(fds[1], &out, sizeof(out)) != (ssize_t)sizeof(out) || !env)
            _exit(1);
        if (mode == CHILD_EXIT)
            exit(3);
        for (;;)
            pause();
    }
    close(fds[1]);
    ssize_t n = read(fds[0], info, sizeof(*info));
    close(fds[0]);
    assert_int_equal(n, sizeof(*info));
    assert_true(info->postmaster > 0);
    return child;
}

static void test_signals_tear_down(void **state)
{
    const int signals[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        child_info_t info;
        pid_t child = fork_server_child(CHILD_WAIT, &info);
        assert_true(path_exists(info.dir));
        assert_true(pgenv_pid_alive(info.postmaster));
        kill(child, signals[i]);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), signals[i]); /* the signal was re-raised */
        assert_false(path_exists(info.dir));
        assert_false(pgenv_pid_alive(info.postmaster));
        assert_int_equal(processes_in(info.dir), 0);
    }
}

static void test_exit_tears_down(void **state)
{
    child_info_t info;
    pid_t child = fork_server_child(CHILD_EXIT, &info);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_false(path_exists(info.dir));
    assert_false(pgenv_pid_alive(info.postmaster));
}

static void test_sigkill_leftovers_reaped(void **state)
{
    child_info_t info;
    pid_t child = fork_server_child(CHILD_WAIT, &info);
    kill(child, SIGKILL);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    /* Nobody cleaned up: the directory and the server are still there. */
    assert_true(path_exists(info.dir));
    assert_true(pgenv_pid_alive(info.postmaster));

    /* A live server of ours in the same temp dir must survive the reaping. */
    pgenv_opts_t opts = base_opts();
    pgenv_t *live = start(&opts); /* pgenv_new reaps too; count them ourselves */
    int reaped = pgenv_reap_leftovers(root);
    assert_false(path_exists(info.dir));
    assert_false(pgenv_pid_alive(info.postmaster));
    assert_int_equal(processes_in(info.dir), 0);
    assert_true(reaped == 0 || reaped == 1); /* 0 when pgenv_new already did it */
    assert_true(path_exists(pgenv_host(live)));
    char err[512];
    PGconn *conn = pgenv_connect(live, NULL, err, sizeof(err));
    assert_non_null(conn);
    PQfinish(conn);
    pgenv_destroy(live);
}

static void test_sigkill_leftovers_reap_count(void **state)
{
    child_info_t info;
    pid_t child = fork_server_child(CHILD_WAIT, &info);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_int_equal(pgenv_reap_leftovers(root), 1);
    assert_false(path_exists(info.dir));
    assert_false(pgenv_pid_alive(info.postmaster));
    assert_int_equal(pgenv_reap_leftovers(root), 0);
}

static void test_keep(void **state)
{
    /* A child starts a kept server, destroys the handle and exits. */
    char out_path[PGENV_PATH_SIZE];
    snprintf(out_path, sizeof(out_path), "%s/keep.out", root);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || dup2(out, 2) < 0)
            _exit(1);
        pgenv_opts_t opts = base_opts();
        opts.keep = true;
        char err[512];
        pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
        child_info_t info = {0};
        if (env) {
            info.postmaster = pgenv_server_pid(env);
            snprintf(info.dir, sizeof(info.dir), "%s", pgenv_host(env));
        }
        pgenv_destroy(env);
        if (write(fds[1], &info, sizeof(info)) != (ssize_t)sizeof(info))
            _exit(1);
        _exit(env ? 0 : 1);
    }
    close(fds[1]);
    child_info_t info = {0};
    assert_int_equal(read(fds[0], &info, sizeof(info)), sizeof(info));
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* It printed the psql command with the DSN, which works. */
    char text[4096] = "";
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    unlink(out_path);
    text[n] = '\0';
    char *psql = strstr(text, "psql \"");
    assert_non_null(psql);
    char dsn[1024];
    snprintf(dsn, sizeof(dsn), "%s", psql + strlen("psql \""));
    dsn[strcspn(dsn, "\"")] = '\0';
    assert_non_null(strstr(dsn, info.dir));
    assert_non_null(strstr(text, "DSN: "));
    PGconn *conn = PQconnectdb(dsn);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    PQfinish(conn);

    /* Its owner is gone, but a kept server is not a leftover while it runs. */
    assert_int_equal(pgenv_reap_leftovers(root), 0);
    assert_true(path_exists(info.dir));
    assert_true(pgenv_pid_alive(info.postmaster));

    /* Once its server is stopped by hand, the directory is fair game. */
    assert_int_equal(pgenv_kill_wait(info.postmaster, SIGINT, 10000), 0);
    assert_int_equal(pgenv_reap_leftovers(root), 1);
    assert_false(path_exists(info.dir));
}

/* ---- template databases ---- */

static int prepare_calls;

static int prepare_table(PGconn *conn, void *opaque, char *errstr, size_t size)
{
    prepare_calls++;
    PGresult *res = PQexec(conn, "CREATE TABLE t (v int); INSERT INTO t VALUES (0)");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        snprintf(errstr, size, "%s", PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

static int prepare_fails(PGconn *conn, void *opaque, char *errstr, size_t size)
{
    snprintf(errstr, size, "migration 003 is broken");
    return -1;
}

static void test_template_isolation(void **state)
{
    pgenv_opts_t opts = base_opts();
    pgenv_t *env = start(&opts);
    char tpl[64], tpl2[64], err[512];
    prepare_calls = 0;
    assert_int_equal(
        pgenv_template(env, "Iso-Key", prepare_table, NULL, tpl, sizeof(tpl), err, sizeof(err)), 0);
    assert_string_equal(tpl, "dbev_tpl_iso_key");
    assert_int_equal(prepare_calls, 1);
    /* Reused, not prepared again. */
    assert_int_equal(
        pgenv_template(env, "Iso-Key", prepare_table, NULL, tpl2, sizeof(tpl2), err, sizeof(err)),
        0);
    assert_string_equal(tpl2, tpl);
    assert_int_equal(prepare_calls, 1);
    /* Sealed: nobody can connect to it. */
    assert_null(pgenv_connect(env, tpl, err, sizeof(err)));

    assert_int_equal(pgenv_create_database(env, "scenario_a", tpl, err, sizeof(err)), 0);
    assert_int_equal(pgenv_create_database(env, "scenario_b", tpl, err, sizeof(err)), 0);
    PGconn *a = pgenv_connect(env, "scenario_a", err, sizeof(err));
    PGconn *b = pgenv_connect(env, "scenario_b", err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    exec_ok(a, "INSERT INTO t VALUES (1), (2)");
    exec_ok(b, "INSERT INTO t VALUES (10)");
    assert_int_equal(query_ll(a, "SELECT count(*) FROM t"), 3);
    assert_int_equal(query_ll(b, "SELECT count(*) FROM t"), 2);
    assert_int_equal(query_ll(a, "SELECT count(*) FROM t WHERE v = 10"), 0);
    assert_int_equal(query_ll(b, "SELECT count(*) FROM t WHERE v IN (1, 2)"), 0);
    PQfinish(a);
    PQfinish(b);

    /* A failing prepare: clear error, and no half-built database left. */
    assert_int_equal(
        pgenv_template(env, "broken", prepare_fails, NULL, tpl2, sizeof(tpl2), err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "migration 003 is broken"));
    PGconn *admin = pgenv_connect(env, NULL, err, sizeof(err));
    assert_int_equal(
        query_ll(admin, "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbev_tpl%'"), 1);

    /* Drop works also on an open session and on the template itself. */
    PGconn *open_a = pgenv_connect(env, "scenario_a", err, sizeof(err));
    assert_int_equal(pgenv_drop_database(env, "scenario_a", err, sizeof(err)), 0);
    assert_int_equal(pgenv_drop_database(env, "scenario_b", err, sizeof(err)), 0);
    assert_int_equal(pgenv_drop_database(env, tpl, err, sizeof(err)), 0);
    assert_int_equal(pgenv_drop_database(env, "never_existed", err, sizeof(err)), 0);
    assert_int_equal(query_ll(admin, "SELECT count(*) FROM pg_database WHERE datname LIKE "
                                     "'scenario_%' OR datname LIKE 'dbev_tpl%'"),
                     0);
    PQfinish(open_a);
    PQfinish(admin);
    pgenv_destroy(env);
}

typedef struct clone_job {
    pgenv_t *env;
    const char *tpl;
    int id;
    int failures;
    char err[512];
} clone_job_t;

#define CLONES_PER_THREAD 4

static void *clone_thread(void *arg)
{
    clone_job_t *job = arg;
    for (int i = 0; i < CLONES_PER_THREAD; i++) {
        char name[64];
        snprintf(name, sizeof(name), "clone_%d_%d", job->id, i);
        if (pgenv_create_database(job->env, name, job->tpl, job->err, sizeof(job->err)) < 0)
            job->failures++;
    }
    return NULL;
}

static void test_concurrent_clones(void **state)
{
    pgenv_opts_t opts = base_opts();
    pgenv_t *env = start(&opts);
    char tpl[64], err[512];
    assert_int_equal(
        pgenv_template(env, "clones", prepare_table, NULL, tpl, sizeof(tpl), err, sizeof(err)), 0);
    clone_job_t jobs[2] = {{env, tpl, 0, 0, ""}, {env, tpl, 1, 0, ""}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, clone_thread, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++)
        if (jobs[i].failures)
            fail_msg("thread %d: %d clone(s) failed: %s", i, jobs[i].failures, jobs[i].err);
    PGconn *admin = pgenv_connect(env, NULL, err, sizeof(err));
    assert_int_equal(
        query_ll(admin, "SELECT count(*) FROM pg_database WHERE datname LIKE 'clone\\_%'"),
        2 * CLONES_PER_THREAD);
    PQfinish(admin);
    PGconn *c = pgenv_connect(env, "clone_1_3", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(query_ll(c, "SELECT count(*) FROM t"), 1);
    PQfinish(c);
    pgenv_destroy(env);
}

/* ---- --pg-dsn ---- */

static void test_external_dsn(void **state)
{
    pgenv_opts_t opts = base_opts();
    pgenv_t *server = start(&opts);
    char dsn[1024], err[512];
    pgenv_dsn(server, NULL, dsn, sizeof(dsn));

    pgenv_opts_t ext_opts = base_opts();
    ext_opts.pg_dsn = dsn;
    pgenv_t *ext = start(&ext_opts);
    assert_null(pgenv_host(ext));
    assert_null(pgenv_data_dir(ext));
    assert_string_equal(pgenv_user(ext), "postgres");
    assert_int_equal(pgenv_server_version(ext), pgenv_server_version(server));

    char tpl[64];
    assert_int_equal(
        pgenv_template(ext, "ext", prepare_table, NULL, tpl, sizeof(tpl), err, sizeof(err)), 0);
    assert_int_equal(pgenv_create_database(ext, "ext_scenario", tpl, err, sizeof(err)), 0);
    PGconn *c = pgenv_connect(ext, "ext_scenario", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(query_ll(c, "SELECT count(*) FROM t"), 1);
    PQfinish(c);
    assert_int_equal(pgenv_drop_database(ext, "ext_scenario", err, sizeof(err)), 0);

    /* Faults are refused: the server is not ours. */
    assert_int_equal(pgenv_stop_server(ext, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not available with --pg-dsn"));
    assert_int_equal(pgenv_start_server(ext, err, sizeof(err)), -1);
    assert_int_equal(pgenv_restart_server(ext, err, sizeof(err)), -1);
    assert_int_equal(pgenv_terminate_backends(ext, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not available with --pg-dsn"));

    pgenv_destroy(ext);
    /* The server is untouched by destroying the external handle. */
    PGconn *still = pgenv_connect(server, NULL, err, sizeof(err));
    assert_non_null(still);
    PQfinish(still);
    pgenv_destroy(server);
}

/* ---- faults ---- */

static void test_stop_start_faults(void **state)
{
    pgenv_opts_t opts = base_opts();
    pgenv_t *env = start(&opts);
    char err[512], host[PGENV_PATH_SIZE];
    snprintf(host, sizeof(host), "%s", pgenv_host(env));
    int port = pgenv_port(env);

    assert_int_equal(pgenv_stop_server(env, err, sizeof(err)), 0);
    assert_int_equal(pgenv_server_pid(env), 0);
    assert_null(pgenv_connect(env, NULL, err, sizeof(err)));
    assert_int_equal(pgenv_start_server(env, err, sizeof(err)), 0);
    assert_string_equal(pgenv_host(env), host);
    assert_int_equal(pgenv_port(env), port);
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    assert_non_null(conn);
    assert_int_equal(query_ll(conn, "SELECT 1"), 1);
    PQfinish(conn);

    assert_int_equal(pgenv_restart_server(env, err, sizeof(err)), 0);
    conn = pgenv_connect(env, NULL, err, sizeof(err));
    assert_non_null(conn);
    PQfinish(conn);

    /* Terminated backends: the victim's next query fails, a new one works. */
    assert_int_equal(pgenv_create_database(env, "victim", NULL, err, sizeof(err)), 0);
    PGconn *victim = pgenv_connect(env, "victim", err, sizeof(err));
    assert_non_null(victim);
    assert_int_equal(pgenv_terminate_backends(env, "victim", err, sizeof(err)), 1);
    PGresult *res = PQexec(victim, "SELECT 1");
    assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    PQfinish(victim);
    victim = pgenv_connect(env, "victim", err, sizeof(err));
    assert_non_null(victim);
    PQfinish(victim);
    pgenv_destroy(env);
}

/* A server that cannot start says why, in one line, and can start once fixed. */
static void test_start_failure_explained(void **state)
{
    pgenv_opts_t opts = base_opts();
    pgenv_t *env = start(&opts);
    char err[512] = "", conf[PGENV_PATH_SIZE];
    pgenv_path(conf, sizeof(conf), pgenv_data_dir(env), "dbev_instance.conf");
    assert_int_equal(pgenv_stop_server(env, err, sizeof(err)), 0);
    FILE *f = fopen(conf, "a");
    assert_non_null(f);
    fputs("shared_buffers = 'bogus'\n", f);
    fclose(f);
    assert_int_equal(pgenv_start_server(env, err, sizeof(err)), -1);
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, "postgres exited during start-up"));
    assert_non_null(strstr(err, "dbev_instance.conf"));
    assert_int_equal(pgenv_server_pid(env), 0);

    /* Drop the bad line again (the file is the port and socket lines plus it). */
    char text[4096];
    f = fopen(conf, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char *bad = strstr(text, "shared_buffers");
    assert_non_null(bad);
    *bad = '\0';
    f = fopen(conf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(pgenv_start_server(env, err, sizeof(err)), 0);
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    assert_non_null(conn);
    PQfinish(conn);
    pgenv_destroy(env);
}

/* ---- bad input ---- */

static void assert_one_line(const char *err)
{
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
}

static void test_missing_binaries(void **state)
{
    char bin[PGENV_PATH_SIZE];
    snprintf(bin, sizeof(bin), "%s/emptybin", root);
    assert_int_equal(mkdir(bin, 0755), 0);
    int before = entries_named(root, PGENV_DIR_PREFIX);
    pgenv_opts_t opts = base_opts();
    opts.pg_bin = bin;
    char err[512] = "";
    assert_null(pgenv_new(&opts, err, sizeof(err)));
    assert_one_line(err);
    assert_non_null(strstr(err, "initdb"));
    assert_non_null(strstr(err, "postgresql"));
    assert_int_equal(entries_named(root, PGENV_DIR_PREFIX), before);
    rmdir(bin);
}

static void test_unwritable_tmp_dir(void **state)
{
    /* Root may write anywhere, but nobody can create a directory under a file. */
    char file[PGENV_PATH_SIZE], tmp[PGENV_PATH_SIZE];
    snprintf(file, sizeof(file), "%s/a-file", root);
    pgenv_path(tmp, sizeof(tmp), file, "sub");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    pgenv_opts_t opts = base_opts();
    opts.tmp_dir = tmp;
    char err[512] = "";
    assert_null(pgenv_new(&opts, err, sizeof(err)));
    assert_one_line(err);
    assert_non_null(strstr(err, tmp));
    assert_non_null(strstr(err, "--tmp-dir"));
    unlink(file);
}

static void test_invalid_dsn(void **state)
{
    pgenv_opts_t opts = base_opts();
    char err[512] = "";
    opts.pg_dsn = "this is = not a dsn";
    assert_null(pgenv_new(&opts, err, sizeof(err)));
    assert_one_line(err);
    assert_non_null(strstr(err, "invalid --pg-dsn"));

    opts.pg_dsn = "host=/nonexistent-dbev-socket-dir port=1 dbname=x connect_timeout=2";
    err[0] = '\0';
    assert_null(pgenv_new(&opts, err, sizeof(err)));
    assert_one_line(err);
    assert_non_null(strstr(err, "--pg-dsn"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_query_stop),
        cmocka_unit_test(test_root_path),
        cmocka_unit_test(test_root_unreachable_tmp_dir),
        cmocka_unit_test(test_cache_warm),
        cmocka_unit_test(test_cache_concurrent_fill),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_signals_tear_down),
        cmocka_unit_test(test_exit_tears_down),
        cmocka_unit_test(test_sigkill_leftovers_reaped),
        cmocka_unit_test(test_sigkill_leftovers_reap_count),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_template_isolation),
        cmocka_unit_test(test_concurrent_clones),
        cmocka_unit_test(test_external_dsn),
        cmocka_unit_test(test_stop_start_faults),
        cmocka_unit_test(test_start_failure_explained),
        cmocka_unit_test(test_missing_binaries),
        cmocka_unit_test(test_unwritable_tmp_dir),
        cmocka_unit_test(test_invalid_dsn),
    };
    return cmocka_run_group_tests_name("pgenv", tests, group_setup, group_teardown);
}
