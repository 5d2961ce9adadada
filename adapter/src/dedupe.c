/*
 * Idempotency records (see dedupe.h): the check (and, for a superuser
 * adapter, the set-up) of migration 007's objects, request fingerprints,
 * lookup, retention and the cached answer. The claim, store and record calls
 * are sent by the executor inside its pipelines, so they only exist here as
 * SQL text.
 */
#include "dedupe.h"

#include "pool.h"

#include <dbev/sql_build.h>

#include <openssl/evp.h>
#include <pthread.h>
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

/*
 * The fingerprint hashes a canonical encoding of the payload, fed to SHA-256
 * as the JSON tree is walked: each value a type tag and its content (lengths
 * before bytes, so no two trees encode alike), object keys in byte order.
 * json_dumps(JSON_SORT_KEYS) into SHA-256 said the same at twice the cost:
 * 9 us a request, most of it jansson's dump (a tenth of the adapter's CPU
 * at 20,000 writes a second).
 */
typedef struct fp_hash {
    EVP_MD_CTX *ctx;
    unsigned char buf[512]; /* small pieces gathered: one EVP call per 512 bytes */
    size_t used;
    bool failed;
} fp_hash_t;

static void fp_put(fp_hash_t *h, const void *data, size_t len)
{
    if (h->used + len > sizeof(h->buf)) {
        if (h->used && !EVP_DigestUpdate(h->ctx, h->buf, h->used))
            h->failed = true;
        h->used = 0;
        if (len > sizeof(h->buf)) {
            if (!EVP_DigestUpdate(h->ctx, data, len))
                h->failed = true;
            return;
        }
    }
    memcpy(h->buf + h->used, data, len);
    h->used += len;
}

static void fp_put_len(fp_hash_t *h, char tag, uint64_t len)
{
    fp_put(h, &tag, 1);
    fp_put(h, &len, sizeof(len));
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* skip: a key of this object left out (NULL: none). */
static void fp_value(fp_hash_t *h, const json_t *v, const char *skip, int depth)
{
    if (depth > 64) { /* the decoder bounds depth well below; a guard only */
        h->failed = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *stack[16];
        size_t n = json_object_size(v), k = 0;
        const char **keys = n <= 16 ? stack : malloc(n * sizeof(*keys));
        if (!keys) {
            h->failed = true;
            return;
        }
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
        {
            if (!skip || strcmp(key, skip) != 0)
                keys[k++] = key;
        }
        qsort(keys, k, sizeof(*keys), key_cmp);
        fp_put_len(h, 'o', k);
        for (size_t i = 0; i < k; i++) {
            size_t klen = strlen(keys[i]);
            fp_put_len(h, 'k', klen);
            fp_put(h, keys[i], klen);
            fp_value(h, json_object_get(v, keys[i]), NULL, depth + 1);
        }
        if (keys != stack)
            free(keys);
        break;
    }
    case JSON_ARRAY:
        fp_put_len(h, 'a', json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++)
            fp_value(h, json_array_get(v, i), NULL, depth + 1);
        break;
    case JSON_STRING:
        fp_put_len(h, 's', json_string_length(v));
        fp_put(h, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        int64_t i = json_integer_value(v);
        fp_put(h, "i", 1);
        fp_put(h, &i, sizeof(i));
        break;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        fp_put(h, "r", 1);
        fp_put(h, &d, sizeof(d));
        break;
    }
    case JSON_TRUE:
        fp_put(h, "t", 1);
        break;
    case JSON_FALSE:
        fp_put(h, "f", 1);
        break;
    default:
        fp_put(h, "n", 1);
        break;
    }
}

static EVP_MD *sha256_md;
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL); /* once: the implicit fetch costs a lock */
}

int dedupe_fingerprint(const dbev_request_t *req, char fp[DEDUPE_FP_SIZE])
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sha256_fetch);
    fp_hash_t h = {.ctx = EVP_MD_CTX_new()};
    if (!h.ctx || !sha256_md || !EVP_DigestInit_ex2(h.ctx, sha256_md, NULL)) {
        EVP_MD_CTX_free(h.ctx);
        return -1;
    }
    /* The payload, without options.timeout_ms (and without options when
     * that was all of them). */
    const json_t *payload = json_object_get(req->root, "payload");
    const json_t *options = json_object_get(payload, "options");
    bool timeout = json_object_get(options, "timeout_ms") != NULL;
    bool drop_options = timeout && json_object_size(options) == 1;
    if (!json_is_object(payload) || (!timeout)) {
        fp_value(&h, payload, NULL, 0);
    } else {
        const char *stack[16];
        size_t n = json_object_size(payload), k = 0;
        const char **keys = n <= 16 ? stack : malloc(n * sizeof(*keys));
        const char *key;
        json_t *item;
        if (!keys)
            h.failed = true;
        json_object_foreach((json_t *)payload, key, item)
        {
            if (keys && !(drop_options && strcmp(key, "options") == 0))
                keys[k++] = key;
        }
        if (keys) {
            qsort(keys, k, sizeof(*keys), key_cmp);
            fp_put_len(&h, 'o', k);
            for (size_t i = 0; i < k; i++) {
                size_t klen = strlen(keys[i]);
                fp_put_len(&h, 'k', klen);
                fp_put(&h, keys[i], klen);
                bool opts = strcmp(keys[i], "options") == 0;
                fp_value(&h, json_object_get(payload, keys[i]), opts ? "timeout_ms" : NULL, 1);
            }
            if (keys != stack)
                free(keys);
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if ((h.used && !EVP_DigestUpdate(h.ctx, h.buf, h.used)) ||
        !EVP_DigestFinal_ex(h.ctx, md, &mdlen) || mdlen != 32)
        h.failed = true;
    EVP_MD_CTX_free(h.ctx);
    if (h.failed)
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
    char *ids = dbev_sql_text_array(event_ids, n, &oom);
    char *fps = dbev_sql_text_array(fingerprints, n, &oom);
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
