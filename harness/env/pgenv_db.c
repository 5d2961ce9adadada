/*
 * The throwaway server's databases (pgenv.h): a scenario's database created
 * from a template and dropped again, and the template databases themselves,
 * built under a private name and sealed (IS_TEMPLATE, no connections) by a
 * rename, so a run that races another for the same template either finds it
 * finished or uses the other's. Statements that meet a database still being
 * left by a closed session (55006) are retried for a while.
 */
#include "env/pgenv.h"

#include "env/pgenv_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_uint name_counter;

/* Runs one command; on failure copies the SQLSTATE (when given) and sets errstr. */
static int exec_sql(PGconn *conn, const char *sql, char sqlstate[6], char *errstr, size_t size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return 0;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (sqlstate)
        snprintf(sqlstate, 6, "%s", state ? state : "");
    char line[512];
    snprintf(line, sizeof(line), "%s", PQerrorMessage(conn));
    line[strcspn(line, "\n")] = '\0';
    dbev_seterr(errstr, size, "%s", line);
    PQclear(res);
    return -1;
}

/*
 * Like exec_sql, but retries for a while when the database is still being
 * accessed (55006): a session just closed takes a moment to leave.
 */
static int exec_retry_busy(PGconn *conn, const char *sql, char sqlstate[6], char *errstr,
                           size_t size)
{
    char state[6] = "";
    int64_t deadline = dbev_mono_us() + 10 * 1000000;
    for (;;) {
        if (exec_sql(conn, sql, state, errstr, size) == 0)
            return 0;
        if (strcmp(state, "55006") != 0 || dbev_mono_us() > deadline)
            break;
        pgenv_sleep_ms(10);
    }
    if (sqlstate)
        snprintf(sqlstate, 6, "%s", state);
    return -1;
}

static char *quote_ident(PGconn *conn, const char *name)
{
    return PQescapeIdentifier(conn, name, strlen(name));
}

static int db_exists(PGconn *conn, const char *name, bool *exists, bool *is_template, char *errstr,
                     size_t size)
{
    const char *params[1] = {name};
    PGresult *res = PQexecParams(conn, "SELECT datistemplate FROM pg_database WHERE datname = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char line[512];
        snprintf(line, sizeof(line), "%s", PQerrorMessage(conn));
        line[strcspn(line, "\n")] = '\0';
        PQclear(res);
        return dbev_seterr(errstr, size, "%s", line);
    }
    *exists = PQntuples(res) == 1;
    if (is_template)
        *is_template = *exists && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return 0;
}

static int drop_db(const pgenv_t *env, PGconn *conn, const char *name, char *errstr, size_t size)
{
    bool exists, is_template;
    if (db_exists(conn, name, &exists, &is_template, errstr, size) < 0)
        return -1;
    if (!exists)
        return 0;
    char *q = quote_ident(conn, name);
    if (!q)
        return dbev_seterr(errstr, size, "%s", PQerrorMessage(conn));
    char sql[512];
    int rc = 0;
    if (is_template) {
        snprintf(sql, sizeof(sql), "ALTER DATABASE %s WITH IS_TEMPLATE false", q);
        rc = exec_sql(conn, sql, NULL, errstr, size);
    }
    if (rc == 0) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s%s", q,
                 env->server_version >= 130000 ? " WITH (FORCE)" : "");
        rc = exec_retry_busy(conn, sql, NULL, errstr, size);
    }
    PQfreemem(q);
    return rc;
}

static bool valid_name(const char *name)
{
    return name && *name && strlen(name) <= 63;
}

int pgenv_create_database(pgenv_t *env, const char *name, const char *template_name, char *errstr,
                          size_t size)
{
    if (!valid_name(name) || (template_name && !valid_name(template_name)))
        return dbev_seterr(errstr, size, "database names must be 1 to 63 bytes long");
    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    if (!conn)
        return dbev_seterr(errstr, size, "cannot create database %s: %s", name, err);
    char *qn = quote_ident(conn, name);
    char *qt = template_name ? quote_ident(conn, template_name) : NULL;
    int rc;
    if (!qn || (template_name && !qt)) {
        rc = dbev_seterr(errstr, size, "%s", PQerrorMessage(conn));
    } else {
        char sql[512];
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s%s%s", qn, qt ? " TEMPLATE " : "",
                 qt ? qt : "");
        rc = exec_retry_busy(conn, sql, NULL, err, sizeof(err));
        if (rc < 0)
            dbev_seterr(errstr, size, "cannot create database %s%s%s: %s", name,
                        template_name ? " from template " : "", template_name ? template_name : "",
                        err);
    }
    PQfreemem(qn);
    PQfreemem(qt);
    PQfinish(conn);
    return rc;
}

int pgenv_drop_database(pgenv_t *env, const char *name, char *errstr, size_t size)
{
    if (!valid_name(name))
        return dbev_seterr(errstr, size, "database names must be 1 to 63 bytes long");
    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    if (!conn)
        return dbev_seterr(errstr, size, "cannot drop database %s: %s", name, err);
    int rc = drop_db(env, conn, name, err, sizeof(err));
    if (rc < 0)
        dbev_seterr(errstr, size, "cannot drop database %s: %s", name, err);
    PQfinish(conn);
    return rc;
}

int pgenv_template(pgenv_t *env, const char *key, pgenv_prepare_fn prepare, void *opaque,
                   char *name_out, size_t name_size, char *errstr, size_t size)
{
    if (!key || !*key)
        return dbev_seterr(errstr, size, "pgenv_template: empty key");
    char name[64];
    int len = snprintf(name, sizeof(name), "dbev_tpl_");
    for (const char *p = key; *p && len < 63; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            c = '_';
        name[len++] = c;
    }
    name[len] = '\0';
    if (name_size <= (size_t)len)
        return dbev_seterr(errstr, size, "pgenv_template: name buffer too small");

    char err[512];
    PGconn *conn = pgenv_connect(env, NULL, err, sizeof(err));
    if (!conn)
        return dbev_seterr(errstr, size, "cannot prepare template %s: %s", name, err);
    bool exists;
    int rc = db_exists(conn, name, &exists, NULL, err, sizeof(err));
    if (rc == 0 && exists) {
        dbev_logf(env->logger, DBEV_LOG_DEBUG, NULL, "reusing template database %s", name);
        snprintf(name_out, name_size, "%s", name);
        PQfinish(conn);
        return 0;
    }
    if (rc < 0) {
        PQfinish(conn);
        return dbev_seterr(errstr, size, "cannot prepare template %s: %s", name, err);
    }

    /* Build under a private name; only the sealed result gets the real name. */
    int64_t t0 = dbev_mono_us();
    char build[64];
    snprintf(build, sizeof(build), "dbev_tplbuild_%d_%u_%u", (int)getpid(),
             atomic_fetch_add(&name_counter, 1), (unsigned)(dbev_wall_us() % 100000));
    rc = pgenv_create_database(env, build, NULL, err, sizeof(err));
    if (rc == 0 && prepare) {
        PGconn *tconn = pgenv_connect(env, build, err, sizeof(err));
        rc = tconn ? prepare(tconn, opaque, err, sizeof(err)) : -1;
        PQfinish(tconn);
    }
    char sql[512];
    char state[6] = "";
    if (rc == 0) {
        snprintf(sql, sizeof(sql),
                 "ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true", build);
        rc = exec_sql(conn, sql, NULL, err, sizeof(err));
    }
    if (rc == 0) {
        snprintf(sql, sizeof(sql), "ALTER DATABASE \"%s\" RENAME TO \"%s\"", build, name);
        rc = exec_retry_busy(conn, sql, state, err, sizeof(err));
        if (rc < 0 && strcmp(state, "42P04") == 0) {
            /* Another run sealed the same template first: use theirs. */
            char ignored[256];
            drop_db(env, conn, build, ignored, sizeof(ignored));
            rc = 0;
        }
    }
    if (rc < 0) {
        char ignored[256];
        drop_db(env, conn, build, ignored, sizeof(ignored));
        PQfinish(conn);
        return dbev_seterr(errstr, size, "cannot prepare template %s: %s", name, err);
    }
    PQfinish(conn);
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "template database %s ready in %.1f ms", name,
              (double)(dbev_mono_us() - t0) / 1000.0);
    snprintf(name_out, name_size, "%s", name);
    return 0;
}
