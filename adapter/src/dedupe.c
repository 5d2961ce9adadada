/*
 * Idempotency records (see dedupe.h): the check (and, for a superuser
 * adapter, the set-up) of migration 007's objects, request fingerprints,
 * lookup, retention and the cached answer. The claim, store and record calls
 * are sent by the executor inside its pipelines, so they only exist here as
 * SQL text.
 */
#include "dedupe.h"

#include "pool.h"
#include "sqlbuild.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The objects of migration 007 the executor calls, by signature. */
static const char *const required[] = {
    "dbev_adapter.claim(text,text,text,text)",
    "dbev_adapter.store(text,text,json)",
    "dbev_adapter.record(text[],text[],text[],text[],json)",
    "dbev_adapter.lookup(text[],text[])",
    "dbev_adapter.retention(bigint,bigint)",
};
#define N_REQUIRED (sizeof(required) / sizeof(required[0]))

/* Lists in missing (comma-separated) what is not there; returns how many, or
 * -1 when the query failed (errstr). */
static int find_missing(PGconn *conn, int64_t deadline_us, char *missing, size_t msize,
                        char *errstr, size_t size)
{
    const char *sql = "SELECT f FROM unnest($1::text[]) AS f WHERE to_regprocedure(f) IS NULL";
    char lit[512] = "{";
    for (size_t i = 0; i < N_REQUIRED; i++) {
        size_t len = strlen(lit);
        snprintf(lit + len, sizeof(lit) - len, "%s\"%s\"", i ? "," : "", required[i]);
    }
    strncat(lit, "}", sizeof(lit) - strlen(lit) - 1);
    const char *values[] = {lit};
    PGresult *res = pool_exec(conn, sql, 1, values, deadline_us, errstr, size);
    if (!res)
        return -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "cannot check for the adapter's records: %s",
                    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    missing[0] = '\0';
    for (int r = 0; r < n; r++) {
        size_t len = strlen(missing);
        snprintf(missing + len, msize - len, "%s%s", r ? ", " : "", PQgetvalue(res, r, 0));
    }
    PQclear(res);
    return n;
}

/* Runs the migration's text in one simple query: one implicit transaction,
 * all of it or nothing. */
static int install(PGconn *conn, int64_t deadline_us, char *errstr, size_t size)
{
    if (!PQsendQuery(conn, dedupe_install_sql)) {
        dbev_seterr(errstr, size, "cannot send to PostgreSQL: %s", PQerrorMessage(conn));
        return -1;
    }
    int rc = 0;
    for (;;) {
        PGresult *res;
        if (pool_get_result(conn, deadline_us, &res, errstr, size))
            return -1;
        if (!res)
            break;
        ExecStatusType s = PQresultStatus(res);
        if (rc == 0 && s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            dbev_seterr(errstr, size, "applying migration 007 failed: %s",
                        PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

int dedupe_prepare(PGconn *conn, bool may_install, int64_t deadline_us, char *errstr, size_t size)
{
    char missing[512];
    int n = find_missing(conn, deadline_us, missing, sizeof(missing), errstr, size);
    if (n <= 0)
        return n;
    if (!may_install) {
        dbev_seterr(errstr, size,
                    "the adapter's idempotency records are not set up in database \"%s\" "
                    "(missing: %s): apply migration 007 (migrations/007_adapter_roles.up.sql) as "
                    "a superuser, e.g. dbev-harness migrate up --pg-dsn SUPERUSER_DSN",
                    PQdb(conn), missing);
        return -1;
    }
    /* Two adapters starting together may both try; a loser finds the
     * winner's objects on the next look. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (install(conn, deadline_us, errstr, size) == 0)
            return 0;
        if (PQstatus(conn) != CONNECTION_OK)
            return -1;
        char again[512];
        if (find_missing(conn, deadline_us, again, sizeof(again), errstr, size) == 0)
            return 0;
    }
    return -1;
}

int dedupe_fingerprint(const dbev_request_t *req, char fp[DEDUPE_FP_SIZE])
{
    json_t *payload = json_object_get(req->root, "payload");
    json_t *options = json_object_get(payload, "options");
    json_t *copy = NULL;
    if (json_object_get(options, "timeout_ms")) {
        /* a shallow copy of the payload with its own options, less the
         * timeout (and no options at all when that was the only one) */
        copy = json_copy(payload);
        json_t *opts = copy ? json_copy(options) : NULL;
        int rc = !opts || json_object_del(opts, "timeout_ms");
        if (!rc && json_object_size(opts) > 0) {
            rc = json_object_set_new(copy, "options", opts);
            opts = NULL;
        } else if (!rc) {
            rc = json_object_del(copy, "options");
        }
        json_decref(opts);
        if (rc) {
            json_decref(copy);
            return -1;
        }
        payload = copy;
    }
    char *text = json_dumps(payload, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(copy);
    if (!text)
        return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    free(text);
    if (!ok || mdlen != 32)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        fp[2 * i] = hex[md[i] >> 4];
        fp[2 * i + 1] = hex[md[i] & 15];
    }
    fp[2 * mdlen] = '\0';
    return 0;
}

int64_t dedupe_apply_retention(PGconn *conn, int64_t retention_ms, int64_t limit,
                               int64_t deadline_us, char *errstr, size_t size)
{
    char ms[32], lim[32];
    snprintf(ms, sizeof(ms), "%lld", (long long)retention_ms);
    snprintf(lim, sizeof(lim), "%lld", (long long)limit);
    const char *values[] = {ms, lim};
    PGresult *res = pool_exec(conn, "SELECT dbev_adapter.retention($1::bigint, $2::bigint)", 2,
                              values, deadline_us, errstr, size);
    if (!res)
        return -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        dbev_seterr(errstr, size, "retention of processed events failed: %s",
                    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        PQclear(res);
        return -1;
    }
    int64_t n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

json_t *dedupe_lookup(PGconn *conn, const char *const *event_ids, const char *const *fingerprints,
                      size_t n, int64_t deadline_us, bool *conn_failed, char *errstr, size_t size)
{
    *conn_failed = false;
    bool oom;
    char *ids = sqlb_text_array(event_ids, n, &oom);
    char *fps = sqlb_text_array(fingerprints, n, &oom);
    if (!ids || !fps) {
        free(ids);
        free(fps);
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    const char *values[] = {ids, fps};
    PGresult *res = pool_exec(conn, DEDUPE_LOOKUP_SQL, 2, values, deadline_us, errstr, size);
    free(ids);
    free(fps);
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
    json_t *found = json_array();
    for (size_t i = 0; found && i < n; i++)
        json_array_append_new(found, json_null());
    for (int r = 0; found && r < PQntuples(res); r++) {
        long long idx = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        json_t *resp = NULL;
        if (idx < 1 || (size_t)idx > n)
            continue;
        if (PQgetvalue(res, r, 1)[0] == 't')
            resp = json_false();
        else if (!PQgetisnull(res, r, 3))
            resp = json_loads(PQgetvalue(res, r, 3), 0, NULL);
        else if (strcmp(PQgetvalue(res, r, 2), "INSERT") == 0)
            resp = dbev_completed_payload_new(DBEV_OP_INSERT, json_array(), 1, 0.0,
                                              DBEV_BREAKER_CLOSED, false, false, NULL);
        if (resp)
            json_array_set_new(found, (size_t)idx - 1, resp);
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
