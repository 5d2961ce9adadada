/*
 * The database fingerprint (see fingerprint.h): a handful of catalogue
 * queries and one query per user table, on the harness's superuser
 * connection, into one JSON object that two points in time can be diffed on.
 */
#include "guard/fingerprint.h"

#include "dbev_common.h"

#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The schemas a caller's request may touch; the catalogues, the temporary
 * schemas of other sessions and the adapter's own bookkeeping (written by
 * every request, by design) are not part of the fingerprint. */
#define USER_SCHEMA(nsp)                                                                           \
    nsp " NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'dbev_adapter') AND " nsp        \
        " NOT LIKE 'pg\\_temp\\_%' AND " nsp " NOT LIKE 'pg\\_toast\\_temp\\_%'"

static const struct {
    const char *prefix;
    const char *sql; /* columns: the item's name, then its text in parts */
} catalogue[] = {
    {"schema:",
     "SELECT nspname, 'owner ' || pg_get_userbyid(nspowner) FROM pg_namespace n WHERE " USER_SCHEMA(
         "n.nspname")},
    {"relation:",
     "SELECT n.nspname || '.' || c.relname, 'kind ' || c.relkind::text || ' owner ' || "
     "pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
     "WHERE c.relkind NOT IN ('r', 't') AND " USER_SCHEMA("n.nspname")},
    {"function:",
     "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || "
     "')', 'owner ' || pg_get_userbyid(p.proowner) || CASE WHEN p.prosecdef THEN ' security "
     "definer' ELSE '' END || ' md5 ' || md5(coalesce(p.prosrc, '')) FROM pg_proc p JOIN "
     "pg_namespace n ON n.oid = p.pronamespace WHERE " USER_SCHEMA("n.nspname")},
    {"role:",
     "SELECT r.rolname, concat_ws(' ', CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN "
     "r.rolcreaterole THEN 'CREATEROLE' END, CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, CASE "
     "WHEN r.rolcanlogin THEN 'LOGIN' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END, CASE "
     "WHEN r.rolreplication THEN 'REPLICATION' END, 'member of [' || coalesce((SELECT "
     "string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_authid g ON "
     "g.oid = m.roleid WHERE m.member = r.oid), '') || ']', 'password md5 ' || "
     "left(md5(coalesce(r.rolpassword, '')), 8)) FROM pg_authid r"},
    {"large_object:",
     "SELECT m.oid::text, 'owner ' || pg_get_userbyid(m.lomowner) || ' md5 ' || "
     "md5(coalesce((SELECT string_agg(l.data, ''::bytea ORDER BY l.pageno) FROM pg_largeobject l "
     "WHERE l.loid = m.oid), ''::bytea)) FROM pg_largeobject_metadata m"},
};

static const char *const tables_sql =
    "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) FROM pg_class c JOIN "
    "pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND " USER_SCHEMA(
        "n.nspname") " AND NOT (n.nspname = 'public' AND c.relname = 'dbev_canary') ORDER BY 1, 2";

/* A hostile step may have terminated this connection (pg_terminate_backend
 * as a superuser): reconnect once, the way the fault steps do. */
static int ensure_connected(PGconn *conn, char *errstr, size_t size)
{
    PGresult *r = PQexec(conn, "SELECT 1");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (ok)
        return 0;
    PQreset(conn);
    if (PQstatus(conn) != CONNECTION_OK)
        return dbev_seterr(errstr, size, "fingerprint: cannot reconnect: %s", PQerrorMessage(conn));
    return 0;
}

static int add_rows(PGconn *conn, json_t *fp, const char *prefix, const char *sql, char *errstr,
                    size_t size)
{
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "fingerprint (%s): %s", prefix, PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        char item[512];
        snprintf(item, sizeof(item), "%s%s", prefix, PQgetvalue(r, i, 0));
        json_object_set_new(fp, item, json_string(PQgetvalue(r, i, 1)));
    }
    PQclear(r);
    return 0;
}

/* One table's contents: its rows, sorted by their text, hashed. */
static int add_table(PGconn *conn, json_t *fp, const char *schema, const char *table,
                     const char *owner)
{
    char *s = PQescapeIdentifier(conn, schema, strlen(schema));
    char *t = PQescapeIdentifier(conn, table, strlen(table));
    char sql[1024], item[512], text[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*), md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) "
             "FROM ONLY %s.%s x",
             s ? s : "", t ? t : "");
    PQfreemem(s);
    PQfreemem(t);
    snprintf(item, sizeof(item), "table:%s.%s", schema, table);
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        snprintf(text, sizeof(text), "rows %s md5 %.12s owner %s", PQgetvalue(r, 0, 0),
                 PQgetvalue(r, 0, 1), owner);
    else /* an unpopulated materialised view: that state is its fingerprint */
        snprintf(text, sizeof(text), "unreadable (SQLSTATE %.5s) owner %s",
                 PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                                         : "?",
                 owner);
    PQclear(r);
    return json_object_set_new(fp, item, json_string(text));
}

json_t *fingerprint_take(PGconn *conn, char *errstr, size_t size)
{
    if (ensure_connected(conn, errstr, size) != 0)
        return NULL;
    json_t *fp = json_object();
    for (size_t i = 0; i < sizeof(catalogue) / sizeof(catalogue[0]); i++)
        if (add_rows(conn, fp, catalogue[i].prefix, catalogue[i].sql, errstr, size) != 0)
            goto fail;
    PGresult *r = PQexec(conn, tables_sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "fingerprint (tables): %s", PQresultErrorMessage(r));
        PQclear(r);
        goto fail;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (add_table(conn, fp, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)) !=
            0) {
            PQclear(r);
            dbev_seterr(errstr, size, "fingerprint: out of memory");
            goto fail;
        }
    PQclear(r);
    return fp;
fail:
    json_decref(fp);
    return NULL;
}

int fingerprint_allowed(const char *item, const json_t *allow)
{
    size_t i;
    json_t *pattern;
    json_array_foreach((json_t *)allow, i, pattern)
    {
        const char *p = json_string_value(pattern);
        if (!p)
            continue;
        char full[512];
        if (!strchr(p, ':'))
            snprintf(full, sizeof(full), "table:%s", p);
        else
            snprintf(full, sizeof(full), "%s", p);
        if (fnmatch(full, item, 0) == 0)
            return 1;
    }
    return 0;
}

/* Appends one change to diff ("changed ITEM: OLD -> NEW", "added ITEM: NEW",
 * "removed ITEM (was OLD)"), cut to fit. */
static void append(char *diff, size_t size, const char *item, const char *old, const char *now)
{
    size_t len = strlen(diff);
    if (len + 1 >= size)
        return;
    const char *sep = len ? "; " : "";
    if (old && now)
        snprintf(diff + len, size - len, "%schanged %s: %s -> %s", sep, item, old, now);
    else if (now)
        snprintf(diff + len, size - len, "%sadded %s: %s", sep, item, now);
    else
        snprintf(diff + len, size - len, "%sremoved %s (was %s)", sep, item, old ? old : "");
}

int fingerprint_diff(const json_t *before, const json_t *after, const json_t *allow, char *diff,
                     size_t size)
{
    int changes = 0;
    const char *item;
    json_t *value;
    if (size)
        diff[0] = '\0';
    json_object_foreach((json_t *)before, item, value)
    {
        const json_t *now = json_object_get(after, item);
        if (now && json_equal(value, (json_t *)now))
            continue;
        if (fingerprint_allowed(item, allow))
            continue;
        changes++;
        append(diff, size, item, json_string_value(value), now ? json_string_value(now) : NULL);
    }
    json_object_foreach((json_t *)after, item, value)
    {
        if (json_object_get(before, item) || fingerprint_allowed(item, allow))
            continue;
        changes++;
        append(diff, size, item, NULL, json_string_value(value));
    }
    return changes;
}
