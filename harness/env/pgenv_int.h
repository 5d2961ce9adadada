/*
 * pgenv internals shared by its files: finding the PostgreSQL binaries
 * (pgenv_bin.c), running them as the right account and handling directory
 * trees (pgenv_proc.c), the process-wide registry of live servers with its
 * exit and signal teardown plus the leftover reaper (pgenv_reap.c), and the
 * template-cluster cache (pgenv_cache.c); and the handle itself, which
 * pgenv.c and pgenv_db.c (its databases) share. Not part of the harness API.
 */
#ifndef HARNESS_PGENV_INT_H
#define HARNESS_PGENV_INT_H

#include "dbev_common.h"
#include "env/pgenv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PGENV_DIR_PREFIX   "dbev-pg-"
#define PGENV_BUILD_PREFIX "pgenv-build-"
#define PGENV_MARKER       "dbev-pgenv.marker"
#define PGENV_SUPERUSER    "postgres"
#define PGENV_OS_ACCOUNT   "postgres"
#define PGENV_PATH_SIZE    4096

/* Who runs initdb and the server: ourselves, or (as root) the postgres account. */
typedef struct pgenv_cred {
    bool switch_user; /* setgid/setuid in the child before exec */
    uid_t uid;
    gid_t gid;
} pgenv_cred_t;

/* ---- pgenv.c and pgenv_db.c ---- */

/* The handle behind pgenv_t: pgenv.c brings it up and down, pgenv_db.c
 * makes and drops its databases. */
struct pgenv {
    bool external;
    bool keep;
    bool tcp;
    bool warm;
    int slot; /* registry slot, -1 for external */
    int port;
    int server_version;
    pid_t pid;
    double startup_ms;
    pgenv_cred_t cred;
    dbev_logger_t own_logger;
    const dbev_logger_t *logger;
    char user[64];
    char dbname[64];
    char keep_dbname[64]; /* pgenv_keep_dbname(): what the keep message's psql opens */
    char ext_dsn[2048];
    char bindir[PGENV_PATH_SIZE];
    char dir[PGENV_PATH_SIZE];
    char data_dir[PGENV_PATH_SIZE];
    char log_path[PGENV_PATH_SIZE];
};

/* Sleeps ms milliseconds, resuming after signals. */
void pgenv_sleep_ms(int ms);

/* ---- pgenv_bin.c ---- */

/*
 * Finds a directory holding initdb, pg_ctl and postgres (pg_bin only, when
 * given). Writes it to dir. Returns 0, or -1 with a one-line errstr naming
 * the Debian package to install.
 */
int pgenv_bin_find(const char *pg_bin, char *dir, size_t dir_size, char *errstr, size_t size);

/* "postgres (PostgreSQL) 15.14 (Debian ...)" of bindir/postgres --version, newline removed. */
int pgenv_bin_version(const char *bindir, char *out, size_t out_size, char *errstr, size_t size);

/* ---- pgenv_proc.c ---- */

/* Writes dir/name to out. Returns 0, or -1 when it does not fit (out is then cut). */
int pgenv_path(char *out, size_t size, const char *dir, const char *name);

/* Fills cred: as root, the postgres account (-1 with errstr when missing). */
int pgenv_cred_get(pgenv_cred_t *cred, char *errstr, size_t size);

/*
 * Starts argv[0] (an absolute path) with cred, cwd, stdin from /dev/null and
 * stdout/stderr appended to out_path (NULL: /dev/null). new_session: setsid()
 * so terminal signals do not reach it. Other descriptors are closed.
 * Returns the pid, or -1 with errstr (also when exec fails).
 */
pid_t pgenv_spawn(char *const argv[], const pgenv_cred_t *cred, const char *cwd,
                  const char *out_path, bool new_session, char *errstr, size_t size);

/*
 * pgenv_spawn + wait; returns the exit status (0 success), -1 on spawn
 * failure. While it runs, the process is the registry slot's helper (slot -1:
 * none), so a teardown by signal kills it too.
 */
int pgenv_run(char *const argv[], const pgenv_cred_t *cred, const char *cwd, const char *out_path,
              int slot, char *errstr, size_t size);

/* Runs argv and captures up to out_size-1 bytes of its stdout. Returns the exit status or -1. */
int pgenv_capture(char *const argv[], char *out, size_t out_size);

/*
 * The most telling line of a server or initdb log for an error message: the
 * last FATAL/PANIC/"error:" line from byte offset from on, else the last
 * non-empty one ("" if none). addr_in_use (may be NULL): whether those lines
 * say a port was taken.
 */
void pgenv_log_problem(const char *path, long from, char *out, size_t out_size, bool *addr_in_use);

/*
 * Removes a directory tree. Async-signal-safe (raw syscalls only), so the
 * signal handler can use it. Returns 0 (also when path is already gone) or -1.
 */
int pgenv_rm_rf(const char *path);

/* Copies a tree preserving modes (and owners when root). Returns 0 or -1 with errstr. */
int pgenv_copy_tree(const char *from, const char *to, char *errstr, size_t size);

/* chown -R; returns 0 or -1 with errstr. */
int pgenv_chown_tree(const char *path, uid_t uid, gid_t gid, char *errstr, size_t size);

/* mkdir -p with mode 0755; returns 0 or -1 (errno set). */
int pgenv_mkdir_p(const char *path);

/* True while pid runs (a zombie counts as gone). Async-signal-safe. */
bool pgenv_pid_alive(pid_t pid);

/*
 * Sends sig to pid and waits until it is gone, reaping it when it is our
 * child; after timeout_ms sends SIGKILL and waits again. Async-signal-safe.
 * Returns 0 when gone, -1 when it survived SIGKILL too.
 */
int pgenv_kill_wait(pid_t pid, int sig, int timeout_ms);

/* Start time of pid in clock ticks since boot (/proc/pid/stat field 22); 0 if unknown. */
unsigned long long pgenv_pid_starttime(pid_t pid);

/* Writes the marker file into dir: our pid and start time, plus "keep" when asked. */
int pgenv_marker_write(const char *dir, bool keep);

/* ---- pgenv_reap.c ---- */

/*
 * The registry of live throwaway servers of this process. Teardown on
 * exit() and on SIGINT/SIGTERM/SIGHUP walks it: stops each postmaster
 * (immediate shutdown), removes its directory, then the signal is re-raised.
 * Entries created by another process (before a fork) are ignored.
 */
int pgenv_reg_add(const char *dir, char *errstr, size_t size); /* slot or -1 */
void pgenv_reg_set_pid(int slot, pid_t pid);
/* A short-lived helper (initdb) working in the entry's directory; 0 when none. */
void pgenv_reg_set_helper(int slot, pid_t pid);
/* Marks the entry kept: teardown leaves the server and writes msg to stderr. */
void pgenv_reg_set_keep(int slot, const char *msg);
void pgenv_reg_remove(int slot);
/* Installs the atexit handler and, where their disposition is the default,
 * the signal handlers. Idempotent. */
void pgenv_reg_install(void);

/* The default parent of server directories: $TMPDIR, else a roomy tmpfs /dev/shm, else /tmp. */
const char *pgenv_default_tmp_dir(void);

/* Removes unfinished template-cluster builds (pgenv-build-*) of dead runs in cache_dir. */
int pgenv_reap_builds(const char *cache_dir);

/* ---- pgenv_cache.c ---- */

/*
 * Fills data_dir (which must not exist) with an initdb'ed cluster carrying
 * conf_text: copied from the template cluster in cache_dir when one exists
 * for key (warm), else made by initdb_argv and then stored there atomically
 * (cold). cache_dir NULL or unusable: always cold (a warning is logged).
 */
struct dbev_logger;
int pgenv_cache_fill(const char *cache_dir, const char *key, char *const initdb_argv[],
                     const char *conf_text, const pgenv_cred_t *cred, const char *work_dir,
                     int slot, const char *data_dir, bool *warm, const struct dbev_logger *logger,
                     char *errstr, size_t size);

/* 64-bit FNV-1a as 16 hex digits. */
void pgenv_hash_hex(const char *text, char out[17]);

#endif
