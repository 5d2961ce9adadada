/*
 * pgenv: a throwaway PostgreSQL server for tests and scenarios, or a handle on
 * an existing one (--pg-dsn). Owns the server process and its directory from
 * start to teardown, including teardown on error exit and on SIGINT/SIGTERM.
 * Scenario isolation: one template database per migration set, cloned into one
 * database per scenario with CREATE DATABASE ... TEMPLATE.
 *
 * Thread safety: pgenv_dsn(), pgenv_connect(), the accessors,
 * pgenv_template(), pgenv_create_database() and pgenv_drop_database() may be
 * called from several threads at once (each opens its own connection); the
 * faults and pgenv_destroy() must not run concurrently with anything else on
 * the same handle.
 *
 * Accounts: the database superuser is always "postgres" (initdb -U postgres),
 * whoever runs the harness. When the harness runs as root, initdb and the
 * server run as the OS account "postgres" (created by the Debian package
 * postgresql), which owns the private directory; root clients connect over
 * the unix socket in that directory with trust authentication.
 *
 * Teardown: the first pgenv_new() registers an atexit handler, and handlers
 * for SIGINT, SIGTERM and SIGHUP where their disposition is still the
 * default; they stop every live server of the process (immediate shutdown),
 * remove its directory and re-raise the signal. A program that handles those
 * signals itself (or blocks them for sigwait) must call pgenv_destroy() on
 * its way out; exit() is still covered by the atexit handler.
 *
 * Leftovers: each private directory is named dbev-pg-XXXXXX and holds a marker
 * file (dbev-pgenv.marker) with the owner's pid; pgenv_reap_leftovers()
 * removes those whose owner died without tearing down (SIGKILL, crash).
 */
#ifndef HARNESS_PGENV_H
#define HARNESS_PGENV_H

#include "dbev_common.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct pgenv pgenv_t;

typedef struct pgenv_opts {
    const char *pg_bin; /* directory with initdb/pg_ctl/postgres; NULL: search */
    const char *pg_dsn; /* use this existing server instead of starting one */
    /* parent of the mkdtemp directory; NULL: $TMPDIR, else /dev/shm when it is
     * a tmpfs with 1 GB free (creating files there is much cheaper), else /tmp */
    const char *tmp_dir;
    const char *cache_dir; /* template clusters; NULL: $DBEV_CACHE_DIR, else DBEV_BUILD_DIR/cache */
    bool tcp;              /* also listen on a free loopback TCP port */
    bool keep;             /* leave the server running at destroy and say how to reach it */
    bool quiet;            /* no progress lines (errors still go to errstr) */
    /* progress lines; NULL: JSON lines on stderr (component "pgenv"), info level */
    const dbev_logger_t *logger;
} pgenv_opts_t;

/**
 * @brief Starts a throwaway server (or connects to opts->pg_dsn) and checks
 *        that it answers.
 * @returns the handle, to be freed with pgenv_destroy(), or NULL with errstr set
 *          to one line naming the problem and the fix (e.g. the Debian package
 *          to install when initdb is missing). Nothing is left behind on failure.
 */
pgenv_t *pgenv_new(const pgenv_opts_t *opts, char *errstr, size_t size);

/**
 * With keep: the database the kept server's message (its psql line) opens,
 * e.g. a failed scenario's, instead of the default one. NULL: the default.
 */
void pgenv_keep_dbname(pgenv_t *env, const char *dbname);

/** Directory of the server's binaries (pg_dump, psql); NULL for an external server. */
const char *pgenv_bindir(const pgenv_t *env);

/** Stops the server and removes its directory (unless keep). NULL is a no-op. */
void pgenv_destroy(pgenv_t *env);

/**
 * @brief A libpq connection string for database dbname on this server
 *        (NULL: the default database). Written to buf; returns buf.
 */
const char *pgenv_dsn(const pgenv_t *env, const char *dbname, char *buf, size_t size);

/*
 * The role the adapter connects as (migration 007 creates it: no superuser,
 * DML on the application's tables). The harness runs adapters, and the
 * direct path's operations, as this role; setup (migrations, fixtures, sql:
 * steps, faults) stays with the superuser.
 */
#define PGENV_APP_ROLE "dbev_app"

/**
 * @brief pgenv_dsn() as user instead of the superuser. For an external
 *        server the given DSN's password is left out (the role's own comes
 *        from ~/.pgpass or PGPASSWORD). Written to buf; returns buf.
 */
const char *pgenv_dsn_as(const pgenv_t *env, const char *dbname, const char *user, char *buf,
                         size_t size);

/** Opens a connection to dbname (NULL: default); NULL with errstr on failure. */
PGconn *pgenv_connect(const pgenv_t *env, const char *dbname, char *errstr, size_t size);
/** pgenv_connect() as user (pgenv_dsn_as()). */
PGconn *pgenv_connect_as(const pgenv_t *env, const char *dbname, const char *user, char *errstr,
                         size_t size);

/**
 * @brief Runs SELECT 1 on conn: is the server answering queries?
 * @returns 0, or -1 with errstr ("SELECT 1 failed: <the server's first
 *          line>", or "SELECT 1 returned something other than 1").
 */
int pgenv_select1(PGconn *conn, char *errstr, size_t size);

/** Unix socket directory, port, user; NULL/0 fields for an external server not known. */
const char *pgenv_host(const pgenv_t *env);
int pgenv_port(const pgenv_t *env);
const char *pgenv_user(const pgenv_t *env);
/** The server's data directory; NULL for an external server. */
const char *pgenv_data_dir(const pgenv_t *env);
/** The postmaster's pid; 0 when stopped or external. */
pid_t pgenv_server_pid(const pgenv_t *env);
/** Server version as an integer (e.g. 150018). */
int pgenv_server_version(const pgenv_t *env);
/** Milliseconds the bring-up took (cold or warm) and whether the cache was warm. */
double pgenv_startup_ms(const pgenv_t *env);
bool pgenv_was_warm(const pgenv_t *env);

/**
 * Prepares a template database: when a database named
 * "dbev_tpl_<key>" exists it is reused; otherwise it is created, prepare() is
 * called with a connection to it (apply migrations, fixtures), and it is
 * sealed with ALLOW_CONNECTIONS false so clones never collide with a session
 * on it. key should be a hash of everything prepare() applies; it is
 * lowercased, characters outside [a-z0-9_] become '_', and it is cut to fit
 * PostgreSQL's 63-byte names. The database is built under a temporary name
 * and renamed when sealed, so concurrent runs on a shared server (--pg-dsn)
 * never see a half-prepared template. prepare may be NULL (empty template).
 * @returns 0 and the template name in name_out, or -1 with errstr.
 */
typedef int (*pgenv_prepare_fn)(PGconn *conn, void *opaque, char *errstr, size_t size);
int pgenv_template(pgenv_t *env, const char *key, pgenv_prepare_fn prepare, void *opaque,
                   char *name_out, size_t name_size, char *errstr, size_t size);

/** Creates database name as a copy of template (NULL: an empty database). */
int pgenv_create_database(pgenv_t *env, const char *name, const char *template_name, char *errstr,
                          size_t size);
int pgenv_drop_database(pgenv_t *env, const char *name, char *errstr, size_t size);

/*
 * Faults for scenarios (throwaway servers only; -1 with errstr "not available
 * with --pg-dsn" otherwise). Stop is a fast shutdown; start brings the server
 * back on the same directory, socket and port.
 */
int pgenv_stop_server(pgenv_t *env, char *errstr, size_t size);
int pgenv_start_server(pgenv_t *env, char *errstr, size_t size);
int pgenv_restart_server(pgenv_t *env, char *errstr, size_t size);
/**
 * Terminates every backend connected to dbname (NULL: every client backend of
 * the server but the one issuing the call; throwaway servers only).
 * @returns how many were terminated, or -1 with errstr.
 */
int pgenv_terminate_backends(pgenv_t *env, const char *dbname, char *errstr, size_t size);

/**
 * Removes leftovers of earlier killed runs under tmp_dir (NULL: each place a
 * default run may use: $TMPDIR, /dev/shm, /tmp): dbev-pg-* directories whose marker names a dead
 * owner; their postmaster, if still running, is stopped first. A directory kept with keep is left
 * alone while its server runs. Called by pgenv_new().
 * @returns how many directories were removed.
 */
int pgenv_reap_leftovers(const char *tmp_dir);

#endif
