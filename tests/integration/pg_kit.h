/*
 * pg_kit: the throwaway PostgreSQL that the database-side integration tests
 * share: a private parent directory (mkdtemp under /tmp), a pgenv server in
 * it, one database with the test's schema applied, and that database's
 * superuser DSN. One call brings it all up and one takes it all down, so a
 * test's group setup and teardown are a few lines and a failure half way
 * leaves nothing behind.
 *
 * pg_kit_new() reports errors as errstr, since group setups report by
 * returning -1; the query helpers fail the running cmocka test. It links
 * with either pgenv library (dbev_adb_pgenv or dbev_harness_core) as one
 * more source of the test.
 */
#ifndef TEST_PG_KIT_H
#define TEST_PG_KIT_H

#include "env/pgenv.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct pg_kit {
    pgenv_t *env;     /* the server; lives until pg_kit_destroy() */
    char dbname[64];  /* the test database */
    char dsn[1024];   /* its superuser DSN */
    char tmpdir[256]; /* the server's parent directory (0755: the server may
                         run as the OS account postgres); tests may put files
                         there, which they remove themselves */
} pg_kit_t;

/**
 * @brief Starts a throwaway server under /tmp/dbev-<tag>-XXXXXX, creates
 *        database dbname and runs schema_sql on it (NULL: none).
 * @param conn when not NULL, receives a superuser connection to dbname, owned
 *        by the caller (PQfinish); the kit's own connection for the schema
 *        is closed before pg_kit_new() returns.
 * @returns the kit, to be freed with pg_kit_destroy(), or NULL with errstr
 *          naming the step that failed; nothing is left behind then.
 */
pg_kit_t *pg_kit_new(const char *tag, const char *dbname, const char *schema_sql, PGconn **conn,
                     char *errstr, size_t size);

/** Stops the server and removes its directory and the parent. NULL is a no-op. */
void pg_kit_destroy(pg_kit_t *kit);

/** Runs sql on conn; fails the test unless it completes. */
void pg_kit_exec(PGconn *conn, const char *sql);

/** The first column of the first row of sql as a number (a count(*));
 *  fails the test when sql fails or is not a query. */
long pg_kit_count(PGconn *conn, const char *sql);

#endif
