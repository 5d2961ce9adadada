/*
 * pg_kit: a throwaway PostgreSQL with one database and schema for a test
 * program (pg_kit.h). Every step's failure unwinds through pg_kit_destroy(),
 * which copes with a kit filled only part way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_kit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs sql on conn; -1 with errstr when it does not complete. */
static int run_sql(PGconn *conn, const char *sql, char *errstr, size_t size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    snprintf(errstr, size, "schema: %s", PQerrorMessage(conn));
    return -1;
}

pg_kit_t *pg_kit_new(const char *tag, const char *dbname, const char *schema_sql, PGconn **conn,
                     char *errstr, size_t size)
{
    char err[512];
    if (conn)
        *conn = NULL;
    pg_kit_t *kit = calloc(1, sizeof(*kit));
    if (!kit) {
        snprintf(errstr, size, "out of memory");
        return NULL;
    }
    snprintf(kit->dbname, sizeof(kit->dbname), "%s", dbname);
    snprintf(kit->tmpdir, sizeof(kit->tmpdir), "/tmp/dbev-%s-XXXXXX", tag);
    if (!mkdtemp(kit->tmpdir)) {
        kit->tmpdir[0] = '\0';
        snprintf(errstr, size, "mkdtemp /tmp/dbev-%s-XXXXXX failed", tag);
        goto fail;
    }
    /* The server runs as postgres when the test runs as root. */
    chmod(kit->tmpdir, 0755);
    pgenv_opts_t opts = {0};
    opts.tmp_dir = kit->tmpdir;
    opts.quiet = true;
    kit->env = pgenv_new(&opts, err, sizeof(err));
    if (!kit->env) {
        snprintf(errstr, size, "pgenv_new: %s", err);
        goto fail;
    }
    if (pgenv_create_database(kit->env, dbname, NULL, err, sizeof(err))) {
        snprintf(errstr, size, "create database %s: %s", dbname, err);
        goto fail;
    }
    pgenv_dsn(kit->env, dbname, kit->dsn, sizeof(kit->dsn));
    if (!schema_sql && !conn)
        return kit;
    PGconn *c = pgenv_connect(kit->env, dbname, err, sizeof(err));
    if (!c) {
        snprintf(errstr, size, "connect %s: %s", dbname, err);
        goto fail;
    }
    if (schema_sql && run_sql(c, schema_sql, errstr, size)) {
        PQfinish(c);
        goto fail;
    }
    if (conn)
        *conn = c;
    else
        PQfinish(c);
    return kit;
fail:
    pg_kit_destroy(kit);
    return NULL;
}

void pg_kit_destroy(pg_kit_t *kit)
{
    if (!kit)
        return;
    pgenv_destroy(kit->env);
    if (kit->tmpdir[0])
        rmdir(kit->tmpdir);
    free(kit);
}

void pg_kit_exec(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

long pg_kit_count(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    long n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return n;
}
