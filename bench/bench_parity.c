/*
 * Cost of parity mode's own work, beside what it measures: parity_compare()
 * on results of 10, 1000 and 10000 rows (as multisets and in order, the two
 * sides differing in key order and timestamp zone so the canonical form does
 * real work), and direct_run() per operation (SELECT by key, INSERT) on a
 * throwaway PostgreSQL next to the same statement with bare libpq, which is
 * the direct path's overhead (decode, SQL builder, type mapping) per request.
 * Prints one line per figure, then a JSON line with all of them.
 *
 * Usage: bench_parity [operations]   (default 5000)
 */
#include "parity/direct.h"
#include "parity/parity.h"
#include "env/pgenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* n rows; zone_b: timestamps as "+02" offsets and keys in another order. */
static json_t *rows_of(int n, bool zone_b)
{
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        char ts[64], name[32];
        int h = i % 20;
        if (zone_b)
            snprintf(ts, sizeof(ts), "2025-10-30 %02d:00:00.%06d+02", h + 2, i % 1000000);
        else
            snprintf(ts, sizeof(ts), "2025-10-30T%02d:00:00.%06dZ", h, i % 1000000);
        snprintf(name, sizeof(name), "agent-%d", i);
        json_t *doc = zone_b ? json_pack("{s:i, s:s}", "b", i, "a", "x")
                             : json_pack("{s:s, s:i}", "a", "x", "b", i);
        json_t *row = zone_b ? json_pack("{s:o, s:s, s:f, s:s, s:i}", "doc", doc, "created", ts,
                                         "score", 0.5 + i % 7, "name", name, "id", i)
                             : json_pack("{s:i, s:s, s:f, s:s, s:o}", "id", i, "name", name,
                                         "score", 0.5 + i % 7, "created", ts, "doc", doc);
        json_array_append_new(rows, row);
    }
    return rows;
}

static json_t *outcome_of(json_t *rows)
{
    return json_pack("{s:b, s:I, s:o}", "ok", 1, "row_count", (json_int_t)json_array_size(rows),
                     "rows", rows);
}

static void reverse(json_t *rows)
{
    size_t n = json_array_size(rows);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(rows, i));
        json_t *b = json_incref(json_array_get(rows, n - 1 - i));
        json_array_set_new(rows, i, b);
        json_array_set_new(rows, n - 1 - i, a);
    }
}

static double compare_us(int n, bool ordered, int reps)
{
    json_t *a = outcome_of(rows_of(n, false)), *b = outcome_of(rows_of(n, true));
    if (!ordered)
        reverse(json_object_get(b, "rows"));
    char diff[1024];
    int64_t t0 = dbev_mono_us();
    for (int r = 0; r < reps; r++)
        if (parity_compare(a, b, ordered, diff, sizeof(diff)) != 0) {
            fprintf(stderr, "unexpected mismatch: %s\n", diff);
            exit(1);
        }
    double us = (double)(dbev_mono_us() - t0) / reps;
    json_decref(a);
    json_decref(b);
    return us;
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(res);
}

int main(int argc, char **argv)
{
    int ops = argc > 1 ? atoi(argv[1]) : 5000;
    if (ops < 100)
        ops = 100;
    double c10 = compare_us(10, false, 20000), c1k = compare_us(1000, false, 200);
    double c10k = compare_us(10000, false, 20), c1k_ord = compare_us(1000, true, 200);
    printf("parity_compare 10 rows (set):       %8.1f us\n", c10);
    printf("parity_compare 1000 rows (set):     %8.1f us (%.0f rows/s)\n", c1k, 1000 / c1k * 1e6);
    printf("parity_compare 1000 rows (ordered): %8.1f us\n", c1k_ord);
    printf("parity_compare 10000 rows (set):    %8.1f us\n", c10k);

    char tmpdir[] = "/tmp/dbev-bench-parity-XXXXXX", err[512];
    if (!mkdtemp(tmpdir))
        return 1;
    chmod(tmpdir, 0755);
    pgenv_opts_t opts = {.tmp_dir = tmpdir, .quiet = true};
    pgenv_t *env = pgenv_new(&opts, err, sizeof(err));
    if (!env) {
        fprintf(stderr, "pgenv_new: %s\n", err);
        rmdir(tmpdir);
        return 1;
    }
    PGconn *c = pgenv_connect(env, NULL, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "%s\n", err);
        pgenv_destroy(env);
        rmdir(tmpdir);
        return 1;
    }
    exec_or_die(c, "CREATE TABLE logs (id serial PRIMARY KEY, agent text, score float8,"
                   " tags text[], doc jsonb, created timestamptz DEFAULT now())");
    exec_or_die(c, "INSERT INTO logs (agent, score, tags, doc) SELECT 'a' || g, g / 7.0,"
                   " '{x,y}', '{\"k\": 1}' FROM generate_series(1, 1000) g");

    /* Warm the server's caches before timing anything. */
    for (int i = 0; i < 500; i++)
        exec_or_die(c, "SELECT * FROM logs WHERE id = 1");

    /* SELECT by key: direct_run, then the same statement with bare libpq. */
    json_t *body =
        json_pack("{s:s, s:[i]}", "sql", "SELECT * FROM logs WHERE id = $1", "params", 1);
    int64_t t0 = dbev_mono_us();
    for (int i = 0; i < ops; i++) {
        json_array_set_new(json_object_get(body, "params"), 0, json_integer(1 + i % 1000));
        json_t *o = direct_run(c, DBEV_OP_SELECT, body, err, sizeof(err));
        if (!json_is_true(json_object_get(o, "ok"))) {
            fprintf(stderr, "select failed\n");
            return 1;
        }
        json_decref(o);
    }
    double sel_direct = (double)(dbev_mono_us() - t0) / ops;
    t0 = dbev_mono_us();
    for (int i = 0; i < ops; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", 1 + i % 1000);
        const char *values[] = {id};
        PGresult *res =
            PQexecParams(c, "SELECT * FROM logs WHERE id = $1", 1, NULL, values, NULL, NULL, 0);
        PQclear(res);
    }
    double sel_libpq = (double)(dbev_mono_us() - t0) / ops;
    json_decref(body);

    /* INSERT: the builder's statement through direct_run, and bare libpq. */
    body = json_pack("{s:s, s:{s:s, s:f, s:[s,s], s:{s:i}}}", "table", "logs", "data", "agent",
                     "bench", "score", 0.95, "tags", "x", "y", "doc", "k", 1);
    t0 = dbev_mono_us();
    for (int i = 0; i < ops; i++) {
        json_t *o = direct_run(c, DBEV_OP_INSERT, body, err, sizeof(err));
        if (!json_is_true(json_object_get(o, "ok"))) {
            fprintf(stderr, "insert failed\n");
            return 1;
        }
        json_decref(o);
    }
    double ins_direct = (double)(dbev_mono_us() - t0) / ops;
    t0 = dbev_mono_us();
    for (int i = 0; i < ops; i++) {
        const char *values[] = {"bench", "0.95", "{x,y}", "{\"k\": 1}"};
        PGresult *res = PQexecParams(c,
                                     "INSERT INTO \"logs\" (\"agent\", \"score\", \"tags\", "
                                     "\"doc\") VALUES ($1, $2, $3, $4)",
                                     4, NULL, values, NULL, NULL, 0);
        PQclear(res);
    }
    double ins_libpq = (double)(dbev_mono_us() - t0) / ops;
    json_decref(body);
    PQfinish(c);
    pgenv_destroy(env);
    rmdir(tmpdir);

    printf("direct_run SELECT by key:   %6.1f us/op (bare libpq %6.1f us, overhead %5.1f us)\n",
           sel_direct, sel_libpq, sel_direct - sel_libpq);
    printf("direct_run INSERT one row:  %6.1f us/op (bare libpq %6.1f us, overhead %5.1f us)\n",
           ins_direct, ins_libpq, ins_direct - ins_libpq);
    printf("{\"parity_compare_10_us\":%.2f,\"parity_compare_1000_us\":%.1f,"
           "\"parity_compare_1000_ordered_us\":%.1f,\"parity_compare_10000_us\":%.1f,"
           "\"direct_select_us\":%.1f,\"libpq_select_us\":%.1f,"
           "\"direct_insert_us\":%.1f,\"libpq_insert_us\":%.1f,\"operations\":%d}\n",
           c10, c1k, c1k_ord, c10k, sel_direct, sel_libpq, ins_direct, ins_libpq, ops);
    return 0;
}
