/*
 * fixtures: deterministic seed data (fixtures/NAME.sql) loaded on top of the
 * migrations, and the one call that prepares a database for tests and
 * scenarios (migrations up to the latest, then a fixture set), usable as the
 * prepare callback of pgenv_template(). A fixture file starts with
 * "-- requires: NNN", the migration version it needs; it is loaded in one
 * transaction, statement by statement, so an error names file:line and
 * leaves nothing behind.
 */
#ifndef HARNESS_FIXTURES_H
#define HARNESS_FIXTURES_H

#include <libpq-fe.h>
#include <stddef.h>

/** $DBEV_FIXTURES_DIR if set, else DBEV_SOURCE_DIR "/fixtures". Static storage. */
const char *fixtures_default_dir(void);

/**
 * @brief Loads fixture set name (dir/name.sql) into conn's database in one
 *        transaction. Refuses when the database's migration version is below
 *        the file's "-- requires:" version.
 * @returns 0, or -1 with errstr (file:line for SQL errors).
 */
int fixtures_load(PGconn *conn, const char *dir, const char *name, char *errstr, size_t size);

/** Loads "base,bulk" (comma-separated names) in order, each in its own transaction. */
int fixtures_load_list(PGconn *conn, const char *dir, const char *names, char *errstr, size_t size);

/** What fixtures_prepare() applies. NULL members take the defaults. */
typedef struct fixtures_spec {
    const char *migrations_dir; /* NULL: mig_default_dir() */
    const char *fixtures_dir;   /* NULL: fixtures_default_dir() */
    const char *fixture;        /* set name, or names "base,bulk" loaded in order; NULL: none */
} fixtures_spec_t;

/**
 * @brief Migrates conn's database to the latest version and loads the
 *        fixture set of spec (a const fixtures_spec_t *; NULL: defaults,
 *        migrations only). Has the signature of pgenv_prepare_fn, so it can
 *        prepare a template database:
 *        pgenv_template(env, key, fixtures_prepare, &spec, name, ...).
 */
int fixtures_prepare(PGconn *conn, void *spec, char *errstr, size_t size);

/**
 * @brief Hash key of everything fixtures_prepare(spec) applies: the
 *        migration files and the fixture file. 16 hex digits into key
 *        (at least 17 bytes), fit for a database name.
 * @returns 0, or -1 with errstr when a file cannot be read.
 */
int fixtures_key(const fixtures_spec_t *spec, char *key, size_t key_size, char *errstr,
                 size_t size);

#endif
