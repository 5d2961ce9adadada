/*
 * Idempotency records (see dedupe.h): table creation, lookup, retention and
 * the cached answer. The claim, store and record statements are sent by the executor
 * inside its pipelines, so they only exist here as SQL text.
 */
#include "dedupe.h"

#include "pool.h"
#include "sqlbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ensure_sql[] = {
    "CREATE SCHEMA IF NOT EXISTS dbev_adapter",
    "CREATE TABLE IF NOT EXISTS dbev_adapter.processed_events ("
    " event_id text COLLATE \"C\" PRIMARY KEY,"
    " correlation_id text,"
    " operation text,"
    " response json,"
    " created_at timestamptz NOT NULL DEFAULT now())",
    /* BRIN: rows arrive in created_at order, and a BRIN index costs next to
     * nothing per insert, which matters at 20,000 writes per second. */
    "CREATE INDEX IF NOT EXISTS processed_events_created_at_brin"
    " ON dbev_adapter.processed_events USING brin (created_at)",
};

/* Whether the table is there already (the adapter's role may lack the right
 * to create schemas, yet have been given the table by a DBA). */
static bool table_exists(PGconn *conn, int64_t deadline_us)
{
    char err[256];
    PGresult *res =
        pool_exec(conn, "SELECT to_regclass('dbev_adapter.processed_events') IS NOT NULL", 0, NULL,
                  deadline_us, err, sizeof(err));
    bool yes = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
               PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return yes;
}

int dedupe_ensure_table(PGconn *conn, int64_t deadline_us, char *errstr, size_t size)
{
    if (table_exists(conn, deadline_us))
        return 0;
    for (size_t i = 0; i < sizeof(ensure_sql) / sizeof(ensure_sql[0]); i++) {
        /* Two adapters starting together can both pass IF NOT EXISTS and one
         * then hits a unique violation in the catalog: try again once. */
        for (int attempt = 0; attempt < 2; attempt++) {
            PGresult *res = pool_exec(conn, ensure_sql[i], 0, NULL, deadline_us, errstr, size);
            if (!res)
                return -1;
            if (PQresultStatus(res) == PGRES_COMMAND_OK) {
                PQclear(res);
                break;
            }
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            bool race = state && (strcmp(state, "23505") == 0 || strcmp(state, "42P07") == 0 ||
                                  strcmp(state, "42P06") == 0);
            dbev_seterr(errstr, size, "cannot create dbev_adapter.processed_events: %s",
                        PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
            PQclear(res);
            if (!race || attempt == 1)
                return -1;
        }
    }
    return 0;
}

int64_t dedupe_apply_retention(PGconn *conn, int64_t retention_ms, int64_t limit,
                               int64_t deadline_us, char *errstr, size_t size)
{
    char secs[32], lim[32];
    snprintf(secs, sizeof(secs), "%.3f", (double)retention_ms / 1000.0);
    snprintf(lim, sizeof(lim), "%lld", (long long)limit);
    const char *values[] = {secs, lim};
    PGresult *res = pool_exec(conn,
                              "DELETE FROM dbev_adapter.processed_events WHERE ctid = ANY(ARRAY("
                              "SELECT ctid FROM dbev_adapter.processed_events"
                              " WHERE created_at < now() - make_interval(secs => $1::float8)"
                              " LIMIT $2::bigint))",
                              2, values, deadline_us, errstr, size);
    if (!res)
        return -1;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        dbev_seterr(errstr, size, "retention of processed events failed: %s",
                    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(res);
        return -1;
    }
    int64_t n = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return n;
}

json_t *dedupe_lookup(PGconn *conn, const char *const *event_ids, size_t n, int64_t deadline_us,
                      bool *conn_failed, char *errstr, size_t size)
{
    *conn_failed = false;
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(event_ids[i]));
    bool oom;
    char *lit = sqlb_param_text(ids, true, &oom);
    json_decref(ids);
    if (!lit) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    const char *values[] = {lit};
    PGresult *res = pool_exec(conn, DEDUPE_LOOKUP_SQL, 1, values, deadline_us, errstr, size);
    free(lit);
    if (!res) {
        *conn_failed = true;
        return NULL;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "looking up processed events failed: %s",
                    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        *conn_failed = PQstatus(conn) != CONNECTION_OK;
        PQclear(res);
        return NULL;
    }
    json_t *found = json_object();
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *resp = NULL;
        if (!PQgetisnull(res, r, 2))
            resp = json_loads(PQgetvalue(res, r, 2), 0, NULL);
        else if (strcmp(PQgetvalue(res, r, 1), "INSERT") == 0)
            resp = dbev_completed_payload_new(DBEV_OP_INSERT, json_array(), 1, 0.0,
                                              DBEV_BREAKER_CLOSED, false, false, NULL);
        if (resp)
            json_object_set_new(found, PQgetvalue(res, r, 0), resp);
    }
    PQclear(res);
    return found;
}

json_t *dedupe_cached_copy(const json_t *stored, dbev_breaker_state_t state)
{
    json_t *copy = json_deep_copy(stored);
    if (!copy)
        return NULL;
    json_t *meta = json_object_get(copy, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(copy, "metadata", meta);
    }
    json_object_set_new(meta, "cached", json_true());
    json_object_set_new(meta, "circuit_breaker_state", json_string(dbev_breaker_state_name(state)));
    return copy;
}
