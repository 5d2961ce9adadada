/*
 * pgenv: a throwaway PostgreSQL server for tests and scenarios, or a handle on
 * an existing one (--pg-dsn). Owns the server process and its directory from
 * start to teardown, including teardown on error exit and on SIGINT/SIGTERM.
 * Scenario isolation: one template database per migration set, cloned into one
 * database per scenario with CREATE DATABASE ... TEMPLATE.
 *
 * Thread safety: a pgenv_t is used from one thread at a time, except
 * pgenv_dsn()/pgenv_conninfo() which only read immutable state.
 */
#ifndef HARNESS_PGENV_H
#define HARNESS_PGENV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct pgenv pgenv_t;

typedef struct pgenv_opts {
    const char *pg_bin;    /* directory with initdb/pg_ctl/postgres; NULL: search */
    const char *pg_dsn;    /* use this existing server instead of starting one */
    const char *tmp_dir;   /* parent of the mkdtemp directory; NULL: $TMPDIR or /tmp */
    const char *cache_dir; /* template clusters; NULL: DBEV_BUILD_DIR/cache */
    bool tcp;              /* also listen on a free loopback TCP port */
    bool keep;             /* leave the server running at destroy and say how to reach it */
    bool quiet;            /* no progress lines on stderr */
} pgenv_opts_t;

/**
 * @brief Starts a throwaway server (or connects to opts->pg_dsn) and checks
 *        that it answers.
 * @returns the handle, to be freed with pgenv_destroy(), or NULL with errstr set
 *          to one line naming the problem and the fix (e.g. the Debian package
 *          to install when initdb is missing). Nothing is left behind on failure.
 */
pgenv_t *pgenv_new(const pgenv_opts_t *opts, char *errstr, size_t size);

/** Stops the server and removes its directory (unless keep). NULL is a no-op. */
void pgenv_destroy(pgenv_t *env);

/**
 * @brief A libpq connection string for database dbname on this server
 *        (NULL: the default database). Written to buf; returns buf.
 */
const char *pgenv_dsn(const pgenv_t *env, const char *dbname, char *buf, size_t size);

/** Opens a connection to dbname (NULL: default); NULL with errstr on failure. */
PGconn *pgenv_connect(const pgenv_t *env, const char *dbname, char *errstr, size_t size);

/** Unix socket directory, port, user; NULL/0 fields for an external server not known. */
const char *pgenv_host(const pgenv_t *env);
int pgenv_port(const pgenv_t *env);
const char *pgenv_user(const pgenv_t *env);
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
 * on it. key should be a hash of everything prepare() applies.
 * @returns 0 and the template name in name_out, or -1 with errstr.
 */
typedef int (*pgenv_prepare_fn)(PGconn *conn, void *opaque, char *errstr, size_t size);
int pgenv_template(pgenv_t *env, const char *key, pgenv_prepare_fn prepare, void *opaque,
                   char *name_out, size_t name_size, char *errstr, size_t size);

/** Creates database name as a copy of template (NULL: an empty database). */
int pgenv_create_database(pgenv_t *env, const char *name, const char *template_name, char *errstr,
                          size_t size);
int pgenv_drop_database(pgenv_t *env, const char *name, char *errstr, size_t size);

/* Faults for scenarios (throwaway servers only; -1 with errstr otherwise). */
int pgenv_stop_server(pgenv_t *env, char *errstr, size_t size);
int pgenv_start_server(pgenv_t *env, char *errstr, size_t size);
int pgenv_restart_server(pgenv_t *env, char *errstr, size_t size);
/** Terminates every backend connected to dbname (NULL: all databases but ours). */
int pgenv_terminate_backends(pgenv_t *env, const char *dbname, char *errstr, size_t size);

/** Removes leftovers of earlier killed runs (marker file + dead pid). Returns how many. */
int pgenv_reap_leftovers(const char *tmp_dir);

#endif
