/*
 * sandbox: the whole stack for working by hand, in one command
 * (`dbev-harness env up --stack`): a throwaway PostgreSQL with a database
 * "dbev" migrated and seeded with a fixture set, the Kafka mock cluster, and
 * N dbev-adapter processes listening on the topic prefix. One process, the
 * supervisor, holds all of it: the mock cluster lives inside it (librdkafka's
 * mock cluster is in-process), PostgreSQL and the adapters are its children.
 *
 * The supervisor keeps a state directory (sandbox_dir()):
 *   supervisor.pid   its pid
 *   state.json       what runs: pids, DSNs, bootstrap, topic prefix, fixtures
 *   settings.env     `export NAME='value'` lines for a shell (sandbox.c lists them)
 *   supervisor.log   its own output once detached
 *   adapter.log      the adapters' structured logs
 * It tears everything down on SIGTERM, SIGINT or SIGHUP, and when its state
 * directory (state.json) disappears, so `rm -rf` of the directory is also a
 * way down. `env down` sends SIGTERM and waits until the supervisor, the
 * PostgreSQL server and the adapters are gone.
 */
#ifndef HARNESS_SANDBOX_H
#define HARNESS_SANDBOX_H

#include "dbev_common.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SANDBOX_DEFAULT_FIXTURES "base"
#define SANDBOX_DATABASE         "dbev"

typedef struct sandbox_opts {
    const char *dir;      /* state directory; NULL: sandbox_dir() */
    const char *fixtures; /* fixture set(s) "base,bulk"; NULL: SANDBOX_DEFAULT_FIXTURES; "" none */
    int adapters;         /* dbev-adapter processes; 0: 1 */
    const char *pg_bin;   /* as pgenv_opts_t */
    bool tcp;             /* PostgreSQL also on a loopback TCP port */
    int brokers;          /* 0: default */
    int partitions;       /* 0: default */
    const char *env_name; /* topic prefix; NULL: MOCKENV_DEFAULT_ENV */
    bool detach;          /* return once ready, leaving the supervisor in the background */
    bool quiet;
    int log_level;
} sandbox_opts_t;

/** $DBEV_SANDBOX_DIR, else $XDG_RUNTIME_DIR/dbev-sandbox, else /tmp/dbev-sandbox-<uid>. */
const char *sandbox_dir(char *buf, size_t size);

/**
 * @brief `env up --stack`: brings the sandbox up and prints the settings to
 *        stdout once an adapter answered a HEALTH request. With detach it
 *        then returns, the supervisor running on (setsid, stdio to
 *        supervisor.log); without, it holds until a signal and tears down.
 * @returns the exit code: 0 ok, 1 failed (message on stderr).
 */
int sandbox_up(const sandbox_opts_t *opts);

/** `env down`: 0 torn down, 1 no sandbox there (or it would not go). */
int sandbox_down(const char *dir, bool quiet);

/** `env status`: prints what runs; 0 a live sandbox, 1 none (or a dead one). */
int sandbox_status(const char *dir);

/** Writes `export name='value'` to f, quoted for a POSIX shell (value NULL: ''). */
void sandbox_put_export(FILE *f, const char *name, const char *value);

/**
 * Writes to f the exports of dsn's host, port, user and dbname, each under
 * libpq's name (PGHOST ...) and the seeds' services' (POSTGRES_HOST ...);
 * the ones dsn does not set are left out. Shared by the sandbox's
 * settings.env and `env up`'s printed settings, which must agree.
 */
void sandbox_put_pg_exports(FILE *f, const char *dsn);

/**
 * @brief Reads a live sandbox's state.json (dir NULL: sandbox_dir()).
 * @returns the state (json_decref() it), or NULL with errstr when there is
 *          no sandbox or its supervisor is gone.
 */
json_t *sandbox_state(const char *dir, char *errstr, size_t size);

#endif
