/*
 * A load's acknowledged writes looked up in PostgreSQL (load_writes.h): every
 * key the checker holds for a completed write, a thousand per query on the
 * scenario's direct connection, then classified by load_writes_add().
 */
#include "load/load_writes.h"

#include "dbev_common.h"

#include <dbev/sql_build.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOKUP_BATCH 1000

typedef struct lookup {
    PGconn *conn;
    char sql[1024];
    char **keys;
    size_t n;
    json_t *rows; /* key -> count, from PostgreSQL */
    char errstr[512];
    int failed;
} lookup_t;

static int collect_key(const char *key, void *opaque)
{
    lookup_t *lk = opaque;
    char **grown = realloc(lk->keys, (lk->n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    lk->keys = grown;
    lk->keys[lk->n++] = strdup(key);
    return 0;
}

static int prepare_lookup(lookup_t *lk, const load_spec_t *spec)
{
    const char *params[2] = {spec->key_table, spec->key_column};
    PGresult *r = PQexecParams(lk->conn,
                               "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                               "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 "
                               "AND NOT a.attisdropped",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        dbev_seterr(lk->errstr, sizeof(lk->errstr),
                    PQresultStatus(r) == PGRES_TUPLES_OK ? "load: key: no column %s in table %s"
                                                         : "load: key: cannot look up %s of %s: %s",
                    spec->key_column, spec->key_table, PQerrorMessage(lk->conn));
        PQclear(r);
        return -1;
    }
    char type[256];
    snprintf(type, sizeof(type), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    char *col = PQescapeIdentifier(lk->conn, spec->key_column, strlen(spec->key_column));
    /* The table as written (it resolved through to_regclass above), each
     * dotted part quoted. */
    char table[512] = "";
    char part[256];
    const char *t = spec->key_table;
    while (*t) {
        size_t n = strcspn(t, ".");
        snprintf(part, sizeof(part), "%.*s", (int)n, t);
        char *q = PQescapeIdentifier(lk->conn, part, strlen(part));
        size_t len = strlen(table);
        snprintf(table + len, sizeof(table) - len, "%s%s", len ? "." : "", q ? q : "");
        PQfreemem(q);
        t += n;
        if (*t == '.')
            t++;
    }
    if (!col) {
        dbev_seterr(lk->errstr, sizeof(lk->errstr), "load: key: %s", PQerrorMessage(lk->conn));
        return -1;
    }
    snprintf(lk->sql, sizeof(lk->sql),
             "SELECT %s::text, count(*) FROM %s WHERE %s = ANY($1::%s[]) GROUP BY 1", col, table,
             col, type);
    PQfreemem(col);
    return 0;
}

/* Looks every acknowledged write up, LOOKUP_BATCH keys per query. */
int load_check_writes(runctx_t *ctx, const load_spec_t *spec, const checker_t *checker,
                      load_writes_t *writes, char *errstr, size_t size)
{
    lookup_t lk = {.conn = ctx->direct, .rows = json_object()};
    memset(writes, 0, sizeof(*writes));
    int rc = -1;
    if (!lk.conn || PQstatus(lk.conn) != CONNECTION_OK) {
        dbev_seterr(errstr, size, "load: no direct PostgreSQL connection to look writes up");
        goto out;
    }
    if (checker_foreach_acked_write(checker, collect_key, &lk)) {
        dbev_seterr(errstr, size, "out of memory");
        goto out;
    }
    if (lk.n && prepare_lookup(&lk, spec)) {
        dbev_seterr(errstr, size, "%s", lk.errstr);
        goto out;
    }
    for (size_t from = 0; from < lk.n; from += LOOKUP_BATCH) {
        size_t to = from + LOOKUP_BATCH < lk.n ? from + LOOKUP_BATCH : lk.n;
        bool oom;
        char *arr = dbev_sql_text_array((const char *const *)lk.keys + from, to - from, &oom);
        if (!arr) {
            dbev_seterr(errstr, size, "out of memory");
            goto out;
        }
        const char *params[1] = {arr};
        PGresult *r = PQexecParams(lk.conn, lk.sql, 1, NULL, params, NULL, NULL, 0);
        free(arr);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            dbev_seterr(errstr, size, "load: looking acknowledged writes up: %s",
                        PQresultErrorMessage(r));
            PQclear(r);
            goto out;
        }
        for (int row = 0; row < PQntuples(r); row++)
            json_object_set_new(lk.rows, PQgetvalue(r, row, 0),
                                json_integer(atoll(PQgetvalue(r, row, 1))));
        PQclear(r);
    }
    for (size_t k = 0; k < lk.n; k++) {
        const json_t *n = json_object_get(lk.rows, lk.keys[k]);
        load_writes_add(writes, lk.keys[k], n ? json_integer_value(n) : 0);
    }
    rc = 0;
out:
    for (size_t k = 0; k < lk.n; k++)
        free(lk.keys[k]);
    free(lk.keys);
    json_decref(lk.rows);
    return rc;
}
