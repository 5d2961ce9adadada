/*
 * Integration tests of the migrations and their runner (harness/migrate/migrate*.c,
 * fixtures.c) on a real throwaway PostgreSQL: seed 003's index counts, the
 * full round trip and the per-step "down restores the catalog" property,
 * verify naming a dropped index and a changed column type, refusals (changed
 * checksum, version gap, another runner), two runners at once, a broken
 * migration rolled back whole with file:line, pre-checks, --to both ways,
 * dry runs, data surviving down/up of the latest migration, and template
 * preparation through pgenv. One server for the file, one database per test;
 * the tampering tests work on temp copies of migrations/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "migrate/fixtures.h"
#include "migrate/migrate.h"
#include "env/pgenv.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pgenv_t *env;
static mig_set_t *real_set;

typedef struct tdb {
    char name[64];
    PGconn *conn;
    char tmpdir[256]; /* a temp copy of migrations/, when the test made one */
} tdb_t;

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int group_setup(void **state)
{
    char err[1024];
    pgenv_opts_t opts = {0};
    opts.quiet = true;
    env = pgenv_new(&opts, err, sizeof(err));
    if (!env) {
        fprintf(stderr, "pgenv_new: %s\n", err);
        return -1;
    }
    real_set = mig_set_load(DBEV_SOURCE_DIR "/migrations", err, sizeof(err));
    if (!real_set) {
        fprintf(stderr, "mig_set_load: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    mig_set_destroy(real_set);
    pgenv_destroy(env);
    return 0;
}

static PGconn *connect_db(const char *name)
{
    char err[1024];
    PGconn *conn = pgenv_connect(env, name, err, sizeof(err));
    if (!conn)
        fail_msg("connect %s: %s", name, err);
    PQsetNoticeProcessor(conn, quiet_notices, NULL);
    return conn;
}

/* A fresh empty database per test, named after it. */
static int db_setup(void **state)
{
    static int seq;
    tdb_t *t = calloc(1, sizeof(*t));
    char err[1024];
    snprintf(t->name, sizeof(t->name), "mig_%d_%d", (int)getpid(), ++seq);
    if (pgenv_create_database(env, t->name, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "create database: %s\n", err);
        free(t);
        return -1;
    }
    t->conn = connect_db(t->name);
    *state = t;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int db_teardown(void **state)
{
    tdb_t *t = *state;
    char err[1024];
    PQfinish(t->conn);
    pgenv_drop_database(env, t->name, err, sizeof(err));
    if (t->tmpdir[0])
        nftw(t->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

/* Copies migrations/ into a temp dir owned by the test (removed at teardown). */
static const char *copy_migrations(tdb_t *t)
{
    snprintf(t->tmpdir, sizeof(t->tmpdir), "/tmp/dbev-migtest-XXXXXX");
    assert_non_null(mkdtemp(t->tmpdir));
    DIR *d = opendir(DBEV_SOURCE_DIR "/migrations");
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char src[1024], dst[1024];
        snprintf(src, sizeof(src), "%s/%s", DBEV_SOURCE_DIR "/migrations", de->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", t->tmpdir, de->d_name);
        char err[256];
        size_t len;
        char *data = mig_read_file(src, &len, err, sizeof(err));
        assert_non_null(data);
        FILE *f = fopen(dst, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        fclose(f);
        free(data);
    }
    closedir(d);
    return t->tmpdir;
}

static void write_file(const char *dir, const char *name, const char *text, const char *mode)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int run(PGconn *conn, const mig_set_t *set, mig_direction_t dir, int target,
               mig_result_t *res, char *err, size_t size)
{
    mig_opts_t opts;
    mig_opts_init(&opts);
    opts.target = target;
    mig_result_t local;
    int rc = mig_run(conn, set, dir, &opts, res ? res : &local, err, size);
    if (!res)
        mig_result_clear(&local);
    return rc;
}

static void must_run(PGconn *conn, const mig_set_t *set, mig_direction_t dir, int target)
{
    char err[2048];
    if (run(conn, set, dir, target, NULL, err, sizeof(err)) < 0)
        fail_msg("migrate %s --to %d: %s", dir == MIG_UP ? "up" : "down", target, err);
}

static int version(PGconn *conn)
{
    char err[512];
    int v = -1;
    assert_int_equal(mig_current_version(conn, &v, err, sizeof(err)), 0);
    return v;
}

static long long scalar(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    long long v = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
}

static mig_catalog_t *snap(PGconn *conn)
{
    char err[1024];
    mig_catalog_t *cat = mig_catalog_snapshot(conn, err, sizeof(err));
    if (!cat)
        fail_msg("snapshot: %s", err);
    return cat;
}

/* Fails with the diff when the two catalogs differ. */
static void assert_same_catalog(const mig_catalog_t *a, const mig_catalog_t *b, const char *what)
{
    char *text = NULL;
    size_t n = mig_catalog_diff(a, b, &text);
    if (n != 0) {
        fprintf(stderr, "%s: %zu difference(s):\n%s", what, n, text);
        free(text);
        fail_msg("%s: catalogs differ", what);
    }
}

/* ---- seed 003 --------------------------------------------------------------- */

static void test_seed003_index_counts(void **state)
{
    tdb_t *t = *state;
    must_run(t->conn, real_set, MIG_UP, 3);
    static const char q[] = "SELECT count(*) FROM pg_index WHERE indrelid = '%s'::regclass";
    char sql[1024];
    snprintf(sql, sizeof(sql), q, "agent_definitions");
    assert_int_equal(scalar(t->conn, sql), 11);
    snprintf(sql, sizeof(sql), q, "agent_transformation_events");
    assert_int_equal(scalar(t->conn, sql), 12);
    snprintf(sql, sizeof(sql), q, "router_performance_metrics");
    assert_int_equal(scalar(t->conn, sql), 11);
    const char *tables =
        "indrelid IN ('agent_definitions'::regclass, 'agent_transformation_events'::regclass,"
        " 'router_performance_metrics'::regclass)";
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_index WHERE %s", tables);
    assert_int_equal(scalar(t->conn, sql), 34);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_index WHERE %s AND indisprimary", tables);
    assert_int_equal(scalar(t->conn, sql), 3);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_index WHERE %s AND indpred IS NOT NULL",
             tables);
    assert_int_equal(scalar(t->conn, sql), 6);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
             " JOIN pg_am a ON a.oid = c.relam WHERE %s AND a.amname = 'gin'",
             tables);
    assert_int_equal(scalar(t->conn, sql), 8);
    snprintf(
        sql, sizeof(sql),
        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_am a ON a.oid = c.relam WHERE %s AND a.amname = 'btree' AND NOT indisprimary",
        tables);
    assert_int_equal(scalar(t->conn, sql), 23); /* 20 single-purpose + 3 composite */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_index WHERE %s AND NOT indisunique AND indnkeyatts > 1",
             tables);
    assert_int_equal(scalar(t->conn, sql), 3);
    assert_int_equal(scalar(t->conn,
                            "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE "
                            "'%(success_rate DESC, quality_score DESC, avg_execution_time_ms)'"),
                     1);
}

/* ---- round trip ----------------------------------------------------------------- */

static void test_round_trip(void **state)
{
    tdb_t *t = *state;
    int latest = mig_set_latest(real_set);
    assert_true(latest >= 7);
    mig_catalog_t *empty = snap(t->conn);
    /* Per step: up then down restores exactly the catalog that stood before. */
    for (int v = 1; v <= latest; v++) {
        mig_catalog_t *before = snap(t->conn);
        must_run(t->conn, real_set, MIG_UP, v);
        mig_catalog_t *after = snap(t->conn);
        char *text = NULL;
        assert_true(mig_catalog_diff(before, after, &text) > 0); /* the step did something */
        free(text);
        must_run(t->conn, real_set, MIG_DOWN, v - 1);
        mig_catalog_t *restored = snap(t->conn);
        char what[64];
        snprintf(what, sizeof(what), "down of %03d", v);
        assert_same_catalog(before, restored, what);
        must_run(t->conn, real_set, MIG_UP, v);
        mig_catalog_t *again = snap(t->conn);
        snprintf(what, sizeof(what), "re-up of %03d", v);
        assert_same_catalog(after, again, what);
        mig_catalog_destroy(before);
        mig_catalog_destroy(after);
        mig_catalog_destroy(restored);
        mig_catalog_destroy(again);
    }
    assert_int_equal(version(t->conn), latest);
    /* Whole: latest -> 0 -> latest gives the same catalog, and 0 is empty. */
    mig_catalog_t *s1 = snap(t->conn);
    must_run(t->conn, real_set, MIG_DOWN, 0);
    assert_int_equal(version(t->conn), 0);
    mig_catalog_t *zero = snap(t->conn);
    assert_same_catalog(empty, zero, "down to 0");
    for (size_t i = 0; i < zero->count; i++) /* only the public schema itself */
        assert_string_equal(zero->entries[i].object, "schemas/public");
    must_run(t->conn, real_set, MIG_UP, -1);
    mig_catalog_t *s2 = snap(t->conn);
    assert_same_catalog(s1, s2, "up after down to 0");
    /* And the catalog is what the manifest says. */
    char err[1024], path[1024];
    mig_catalog_t *manifest = mig_catalog_load_yaml(
        mig_manifest_path(DBEV_SOURCE_DIR "/migrations", path, sizeof(path)), err, sizeof(err));
    if (!manifest)
        fail_msg("%s", err);
    assert_int_equal(manifest->version, latest);
    assert_same_catalog(manifest, s2, "manifest vs live");
    mig_catalog_destroy(manifest);
    mig_catalog_destroy(s1);
    mig_catalog_destroy(s2);
    mig_catalog_destroy(zero);
    mig_catalog_destroy(empty);
}

/* ---- verify ------------------------------------------------------------------------ */

static void test_verify_names_dropped_index_and_changed_type(void **state)
{
    tdb_t *t = *state;
    must_run(t->conn, real_set, MIG_UP, -1);
    char err[1024], path[1024];
    mig_catalog_t *manifest = mig_catalog_load_yaml(
        mig_manifest_path(DBEV_SOURCE_DIR "/migrations", path, sizeof(path)), err, sizeof(err));
    assert_non_null(manifest);
    exec_ok(t->conn, "DROP INDEX idx_agent_definitions_triggers");
    exec_ok(t->conn, "ALTER TABLE agent_execution_logs ALTER COLUMN duration_ms TYPE bigint");
    exec_ok(t->conn, "CREATE INDEX idx_extra_one ON agent_actions (duration_ms)");
    mig_catalog_t *live = snap(t->conn);
    char *text = NULL;
    size_t n = mig_catalog_diff(manifest, live, &text);
    assert_non_null(text);
    assert_int_equal(n, 3);
    assert_non_null(
        strstr(text, "missing index public.agent_definitions.idx_agent_definitions_triggers\n"));
    assert_non_null(strstr(text, "different column public.agent_execution_logs.duration_ms: "
                                 "type expected \"integer\", found \"bigint\"\n"));
    assert_non_null(strstr(text, "extra index public.agent_actions.idx_extra_one\n"));
    free(text);
    /* Triggers, constraints (nullability, checks, FK targets) and function bodies are compared too.
     */
    exec_ok(t->conn, "DROP TRIGGER trg_generation_sessions_updated_at ON generation_sessions");
    exec_ok(t->conn, "ALTER TABLE agent_actions ALTER COLUMN agent_name DROP NOT NULL");
    exec_ok(t->conn, "ALTER TABLE agent_actions DROP CONSTRAINT agent_actions_duration_check");
    exec_ok(t->conn,
            "CREATE OR REPLACE FUNCTION get_template_cache_efficiency()"
            " RETURNS TABLE (template_type text, templates bigint, total_hits bigint,"
            " total_misses bigint, hit_rate numeric, avg_load_time_ms numeric)"
            " LANGUAGE sql STABLE AS $$ SELECT NULL::text, 0::bigint, 0::bigint, 0::bigint,"
            " NULL::numeric, NULL::numeric $$");
    mig_catalog_t *live3 = snap(t->conn);
    n = mig_catalog_diff(manifest, live3, &text);
    assert_int_equal(n, 7);
    assert_non_null(strstr(
        text, "missing trigger public.generation_sessions.trg_generation_sessions_updated_at\n"));
    assert_non_null(strstr(
        text, "different column public.agent_actions.agent_name: nullable expected \"false\", "
              "found \"true\"\n"));
    assert_non_null(
        strstr(text, "missing constraint public.agent_actions.agent_actions_duration_check\n"));
    assert_non_null(strstr(
        text, "different function public.get_template_cache_efficiency(): body_sha256 expected"));
    free(text);
    mig_catalog_destroy(live3);
    /* A dropped table is one line, not one per column. */
    exec_ok(t->conn, "DROP TABLE template_cache_metadata");
    mig_catalog_t *live2 = snap(t->conn);
    n = mig_catalog_diff(manifest, live2, &text);
    assert_int_equal(n, 8);
    assert_non_null(strstr(text, "missing table public.template_cache_metadata\n"));
    free(text);
    mig_catalog_destroy(live2);
    mig_catalog_destroy(live);
    mig_catalog_destroy(manifest);
}

/* ---- refusals ------------------------------------------------------------------------ */

static void test_checksum_change_refused(void **state)
{
    tdb_t *t = *state;
    const char *dir = copy_migrations(t);
    char err[2048];
    mig_set_t *set = mig_set_load(dir, err, sizeof(err));
    assert_non_null(set);
    must_run(t->conn, set, MIG_UP, 2);
    mig_set_destroy(set);
    /* Edit an applied migration: even a comment changes the checksum. */
    write_file(dir, "001_agent_definitions.up.sql", "-- an innocent edit\n", "a");
    set = mig_set_load(dir, err, sizeof(err));
    assert_non_null(set);
    mig_result_t res;
    assert_int_equal(run(t->conn, set, MIG_UP, -1, &res, err, sizeof(err)), -1);
    assert_int_equal(res.applied, 0);
    mig_result_clear(&res);
    assert_non_null(strstr(err, "001_agent_definitions.up.sql changed after it was applied"));
    assert_int_equal(run(t->conn, set, MIG_DOWN, 0, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "changed"));
    assert_int_equal(version(t->conn), 2);
    /* status says which one */
    mig_status_row_t *rows;
    size_t n;
    assert_int_equal(mig_status(t->conn, set, &rows, &n, err, sizeof(err)), 0);
    assert_int_equal(n, (size_t)mig_set_latest(set));
    assert_string_equal(rows[0].state, "changed");
    assert_string_equal(rows[1].state, "applied");
    assert_string_equal(rows[2].state, "pending");
    free(rows);
    mig_set_destroy(set);
}

static void test_gap_and_duplicate_refused(void **state)
{
    tdb_t *t = *state;
    const char *dir = copy_migrations(t);
    char err[2048], path[1024];
    /* A gap on disk: 003 removed. */
    static const char *const kinds[] = {"up", "down", "pre", "post"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof(path), "%s/003_router_performance_metrics.%s.sql", dir, kinds[k]);
        assert_int_equal(unlink(path), 0);
    }
    assert_null(mig_set_load(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "version gap"));
    assert_non_null(strstr(err, "003 is missing"));
    /* A duplicate version. */
    write_file(dir, "003_router_performance_metrics.up.sql", "SELECT 1;\n", "w");
    write_file(dir, "003_router_performance_metrics.down.sql", "SELECT 1;\n", "w");
    mig_set_t *ok = mig_set_load(dir, err, sizeof(err));
    assert_non_null(ok);
    mig_set_destroy(ok);
    write_file(dir, "003_other_name.up.sql", "SELECT 1;\n", "w");
    assert_null(mig_set_load(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "duplicate version 003"));
    /* A migration without its down. */
    snprintf(path, sizeof(path), "%s/003_other_name.up.sql", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/003_router_performance_metrics.down.sql", dir);
    unlink(path);
    assert_null(mig_set_load(dir, err, sizeof(err)));
    assert_non_null(strstr(err, "no .down.sql"));
    /* A gap in the database's records is refused too, and nothing runs. */
    must_run(t->conn, real_set, MIG_UP, 2);
    exec_ok(t->conn, "DELETE FROM schema_migrations WHERE version = 1");
    mig_result_t res;
    assert_int_equal(run(t->conn, real_set, MIG_UP, -1, &res, err, sizeof(err)), -1);
    assert_int_equal(res.applied, 0);
    mig_result_clear(&res);
    assert_non_null(strstr(err, "gap"));
    assert_int_equal(
        scalar(t->conn,
               "SELECT count(*) FROM pg_class WHERE relname = 'router_performance_metrics'"),
        0);
}

/* ---- two runners ------------------------------------------------------------------------ */

typedef struct runner {
    const char *db;
    int rc;
    size_t applied;
    char err[1024];
    pthread_barrier_t *barrier;
} runner_t;

static void *runner_main(void *arg)
{
    runner_t *r = arg;
    char err[512];
    PGconn *conn = pgenv_connect(env, r->db, err, sizeof(err));
    if (!conn) {
        snprintf(r->err, sizeof(r->err), "%s", err);
        r->rc = -2;
        pthread_barrier_wait(r->barrier);
        return NULL;
    }
    PQsetNoticeProcessor(conn, quiet_notices, NULL);
    mig_opts_t opts;
    mig_opts_init(&opts);
    opts.lock_timeout_ms = 30000;
    mig_result_t res;
    pthread_barrier_wait(r->barrier);
    r->rc = mig_run(conn, real_set, MIG_UP, &opts, &res, r->err, sizeof(r->err));
    r->applied = res.applied;
    mig_result_clear(&res);
    PQfinish(conn);
    return NULL;
}

static void test_two_runners_never_both_apply(void **state)
{
    tdb_t *t = *state;
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    runner_t r[2] = {{.db = t->name, .barrier = &barrier}, {.db = t->name, .barrier = &barrier}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, runner_main, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    /* Both succeed: one applies everything, the other waits and finds nothing to do. */
    assert_int_equal(r[0].rc, 0);
    assert_int_equal(r[1].rc, 0);
    assert_int_equal(r[0].applied + r[1].applied, (size_t)mig_set_latest(real_set));
    assert_true(r[0].applied == 0 || r[1].applied == 0);
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM schema_migrations"),
                     mig_set_latest(real_set));

    /* A runner that must not wait refuses while another holds the lock. */
    must_run(t->conn, real_set, MIG_DOWN, 4);
    PGconn *holder = connect_db(t->name);
    exec_ok(holder, "SELECT pg_advisory_lock(7310575183)");
    char err[1024];
    mig_opts_t opts;
    mig_opts_init(&opts);
    opts.lock_timeout_ms = 0;
    mig_result_t res;
    assert_int_equal(mig_run(t->conn, real_set, MIG_UP, &opts, &res, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "another runner holds the migration lock"));
    mig_result_clear(&res);
    opts.lock_timeout_ms = 150;
    int64_t t0 = dbev_mono_us();
    assert_int_equal(mig_run(t->conn, real_set, MIG_UP, &opts, &res, err, sizeof(err)), -1);
    assert_true(dbev_mono_us() - t0 >= 140 * 1000); /* it did wait */
    assert_non_null(strstr(err, "waited 150 ms"));
    mig_result_clear(&res);
    assert_int_equal(version(t->conn), 4);
    exec_ok(holder, "SELECT pg_advisory_unlock(7310575183)");
    PQfinish(holder);
    must_run(t->conn, real_set, MIG_UP, -1);
}

/* ---- failures ------------------------------------------------------------------------------ */

static void test_broken_migration_rolled_back_with_file_line(void **state)
{
    tdb_t *t = *state;
    const char *dir = copy_migrations(t);
    write_file(dir, "008_broken.up.sql",
               "-- 008: a migration that fails halfway\n"  /* 1 */
               "CREATE TABLE broken_first (id integer);\n" /* 2 */
               "INSERT INTO broken_first VALUES (1);\n"    /* 3 */
               "\n"                                        /* 4 */
               "CREATE TABLE broken_second (\n"            /* 5 */
               "    id integer,\n"                         /* 6 */
               "    label no_such_type\n"                  /* 7 */
               ");\n",
               "w");
    write_file(dir, "008_broken.down.sql", "DROP TABLE broken_first;\n", "w");
    char err[2048];
    mig_set_t *set = mig_set_load(dir, err, sizeof(err));
    assert_non_null(set);
    must_run(t->conn, set, MIG_UP, 7);
    mig_catalog_t *before = snap(t->conn);
    mig_result_t res;
    assert_int_equal(run(t->conn, set, MIG_UP, -1, &res, err, sizeof(err)), -1);
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.failed, 1);
    assert_int_equal(res.to_version, 7);
    mig_result_clear(&res);
    mig_catalog_t *after = snap(t->conn);
    assert_same_catalog(before, after, "after a failed migration");
    mig_catalog_destroy(after);
    assert_non_null(strstr(err, "008_broken up failed, rolled back"));
    assert_non_null(
        strstr(err, "/008_broken.up.sql:7: ERROR: type \"no_such_type\" does not exist"));
    assert_int_equal(version(t->conn), 7);
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM pg_class WHERE relname LIKE 'broken%'"),
                     0);
    /* An error without a position (a runtime error) names its statement's line. */
    write_file(dir, "008_broken.up.sql",
               "CREATE TABLE broken_first (id integer);\n"
               "\n"
               "INSERT INTO broken_first\n"
               "SELECT 1 / 0;\n",
               "w");
    mig_set_destroy(set);
    set = mig_set_load(dir, err, sizeof(err));
    assert_int_equal(run(t->conn, set, MIG_UP, -1, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/008_broken.up.sql:3: ERROR: division by zero (SQLSTATE 22012)"));
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM pg_class WHERE relname LIKE 'broken%'"),
                     0);
    /* A failing assertion inside a DO block names the line of the ASSERT. */
    write_file(dir, "008_broken.up.sql",
               "CREATE TABLE broken_first (id integer);\n" /* 1 */
               "DO $$\n"                                   /* 2 */
               "BEGIN\n"                                   /* 3 */
               "    ASSERT 1 = 2, 'one is not two';\n"     /* 4 */
               "END $$;\n",
               "w");
    mig_set_destroy(set);
    set = mig_set_load(dir, err, sizeof(err));
    assert_int_equal(run(t->conn, set, MIG_UP, -1, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/008_broken.up.sql:4: ERROR: one is not two"));
    /* Transaction control inside a migration is refused before anything runs. */
    write_file(dir, "008_broken.up.sql",
               "CREATE TABLE broken_first (id integer);\n"
               "COMMIT;\n"
               "CREATE TABLE broken_second (id integer);\n",
               "w");
    mig_set_destroy(set);
    set = mig_set_load(dir, err, sizeof(err));
    assert_int_equal(run(t->conn, set, MIG_UP, -1, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/008_broken.up.sql:2: COMMIT is not allowed here"));
    mig_catalog_t *end = snap(t->conn);
    assert_same_catalog(before, end, "after refused transaction control");
    mig_catalog_destroy(end);
    mig_catalog_destroy(before);
    mig_set_destroy(set);
    assert_int_equal(version(t->conn), 7);
}

static void test_pre_check_failure_applies_nothing(void **state)
{
    tdb_t *t = *state;
    /* Something already occupies the name 001 wants: its pre-check says so. */
    exec_ok(t->conn, "CREATE TABLE agent_definitions (id integer)");
    char err[2048];
    mig_result_t res;
    assert_int_equal(run(t->conn, real_set, MIG_UP, -1, &res, err, sizeof(err)), -1);
    assert_int_equal(res.applied, 0);
    mig_result_clear(&res);
    assert_non_null(strstr(err, "pre-check failed"));
    assert_non_null(
        strstr(err, "001_agent_definitions.pre.sql:3: ERROR: agent_definitions already exists"));
    assert_int_equal(version(t->conn), 0);
    assert_int_equal(
        scalar(t->conn, "SELECT count(*) FROM pg_proc WHERE proname = 'update_updated_at_column'"),
        0);
}

/* ---- --to, --dry-run ------------------------------------------------------------------------ */

static void test_to_both_ways_and_dry_run(void **state)
{
    tdb_t *t = *state;
    char err[1024];
    mig_opts_t opts;
    mig_opts_init(&opts);
    opts.dry_run = true;
    mig_result_t res;
    assert_int_equal(mig_run(t->conn, real_set, MIG_UP, &opts, &res, err, sizeof(err)), 0);
    assert_int_equal(res.nsteps, (size_t)mig_set_latest(real_set));
    assert_int_equal(res.applied, 0);
    assert_int_equal(res.steps[0].version, 1);
    mig_result_clear(&res);
    assert_int_equal(
        scalar(t->conn, "SELECT count(*) FROM pg_class WHERE relname = 'schema_migrations'"), 0);

    must_run(t->conn, real_set, MIG_UP, 3);
    assert_int_equal(version(t->conn), 3);
    assert_int_equal(run(t->conn, real_set, MIG_UP, 2, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "use down"));
    assert_int_equal(run(t->conn, real_set, MIG_UP, 99, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no migration 099"));
    opts.target = 1;
    assert_int_equal(mig_run(t->conn, real_set, MIG_DOWN, &opts, &res, err, sizeof(err)), 0);
    assert_int_equal(res.nsteps, 2);
    assert_int_equal(res.steps[0].version, 3);
    assert_int_equal(res.steps[1].version, 2);
    mig_result_clear(&res);
    assert_int_equal(version(t->conn), 3); /* dry run */
    must_run(t->conn, real_set, MIG_DOWN, 1);
    assert_int_equal(version(t->conn), 1);
    assert_int_equal(run(t->conn, real_set, MIG_DOWN, 2, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "use up"));
    /* Records: version, name, checksum, applied_at, duration. */
    PGresult *r =
        PQexec(t->conn, "SELECT version, name, checksum, applied_at IS NOT NULL, duration_ms >= 0"
                        " FROM schema_migrations");
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 1), "agent_definitions");
    assert_string_equal(PQgetvalue(r, 0, 2), real_set->items[0].checksum);
    assert_string_equal(PQgetvalue(r, 0, 3), "t");
    assert_string_equal(PQgetvalue(r, 0, 4), "t");
    PQclear(r);
    /* The C checksum is PostgreSQL's sha256() of the same bytes. */
    const char *params[1] = {real_set->items[0].up_sql};
    r = PQexecParams(t->conn, "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", 1, NULL,
                     params, NULL, NULL, 0);
    assert_string_equal(PQgetvalue(r, 0, 0), real_set->items[0].checksum);
    PQclear(r);
}

/* ---- data survives ------------------------------------------------------------------------- */

/* md5 of every row of every user table (but schema_migrations), by table. */
static PGresult *table_checksums(PGconn *conn)
{
    exec_ok(conn, "CREATE TEMP TABLE IF NOT EXISTS sums (tbl text, rows bigint, sum text)");
    exec_ok(conn, "TRUNCATE sums");
    exec_ok(
        conn,
        "DO $$ DECLARE r record; BEGIN"
        " FOR r IN SELECT n.nspname, c.relname FROM pg_class c"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE c.relkind = 'r' AND n.nspname IN ('public', 'agent_observability', 'dbev_adapter')"
        "  AND c.relname <> 'schema_migrations' LOOP"
        "  EXECUTE format('INSERT INTO sums SELECT %L, count(*),"
        "   md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text), '''')) FROM %I.%I t',"
        "   r.nspname || '.' || r.relname, r.nspname, r.relname);"
        " END LOOP; END $$");
    PGresult *res = PQexec(conn, "SELECT tbl, rows, sum FROM sums ORDER BY tbl");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    return res;
}

static void test_data_survives_down_up_of_latest(void **state)
{
    tdb_t *t = *state;
    char err[2048];
    fixtures_spec_t spec = {NULL, NULL, "base"};
    if (fixtures_prepare(t->conn, &spec, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    int latest = mig_set_latest(real_set);
    PGresult *before = table_checksums(t->conn);
    must_run(t->conn, real_set, MIG_DOWN, latest - 1);
    PGresult *middle = table_checksums(t->conn); /* the tables the latest does not touch */
    must_run(t->conn, real_set, MIG_UP, latest);
    PGresult *after = table_checksums(t->conn);
    int compared = 0;
    for (int i = 0; i < PQntuples(middle); i++) {
        const char *tbl = PQgetvalue(middle, i, 0);
        for (int j = 0; j < PQntuples(before); j++) {
            if (strcmp(PQgetvalue(before, j, 0), tbl) != 0)
                continue;
            assert_true(atoll(PQgetvalue(before, j, 1)) > 0); /* fixtures fill every table */
            assert_string_equal(PQgetvalue(before, j, 2), PQgetvalue(after, j, 2));
            assert_string_equal(PQgetvalue(before, j, 2), PQgetvalue(middle, i, 2));
            compared++;
        }
    }
    assert_true(compared >= 11);
    assert_int_equal(PQntuples(before), PQntuples(after));
    /* The latest migration's own tables come back empty. */
    assert_true(PQntuples(middle) < PQntuples(before));
    PQclear(before);
    PQclear(middle);
    PQclear(after);
}

/* ---- fixtures and templates -------------------------------------------------------------------
 */

static void test_fixtures_and_template(void **state)
{
    tdb_t *t = *state;
    char err[2048], key[32], key2[32], tpl[128];
    fixtures_spec_t spec = {NULL, NULL, "base"};
    assert_int_equal(fixtures_key(&spec, key, sizeof(key), err, sizeof(err)), 0);
    assert_int_equal(strlen(key), 16);
    fixtures_spec_t bare = {NULL, NULL, NULL};
    assert_int_equal(fixtures_key(&bare, key2, sizeof(key2), err, sizeof(err)), 0);
    assert_string_not_equal(key, key2);
    if (pgenv_template(env, key, fixtures_prepare, &spec, tpl, sizeof(tpl), err, sizeof(err)) < 0)
        fail_msg("template: %s", err);
    char clone[96];
    snprintf(clone, sizeof(clone), "%s_clone", t->name);
    assert_int_equal(pgenv_create_database(env, clone, tpl, err, sizeof(err)), 0);
    PGconn *c = connect_db(clone);
    assert_int_equal(version(c), mig_set_latest(real_set));
    assert_int_equal(scalar(c, "SELECT count(*) FROM agent_definitions"), 5);
    assert_int_equal(
        scalar(c, "SELECT count(*) FROM agent_execution_logs WHERE status = 'success'"), 7);
    assert_int_equal(scalar(c, "SELECT count(*) FROM agent_observability.trace_events"), 20);
    /* update_mixin_compatibility: same id for the same pair, test count incremented. */
    assert_int_equal(scalar(c, "SELECT count(DISTINCT id) FROM (SELECT update_mixin_compatibility("
                               "'MixinRetry', 'MixinCircuitBreaker', 'effect', true) AS id"
                               " UNION ALL SELECT '31000000-0000-4000-8000-000000000001'::uuid) s"),
                     1);
    assert_int_equal(scalar(c, "SELECT test_count FROM mixin_compatibility_matrix"
                               " WHERE id = '31000000-0000-4000-8000-000000000001'"),
                     5);
    PQfinish(c);
    assert_int_equal(pgenv_drop_database(env, clone, err, sizeof(err)), 0);
    /* Loading twice violates the fixed ids: refused whole, file:line named. */
    must_run(t->conn, real_set, MIG_UP, -1);
    assert_int_equal(fixtures_load(t->conn, NULL, "base", err, sizeof(err)), 0);
    assert_int_equal(fixtures_load(t->conn, NULL, "base", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "fixtures/base.sql:"));
    assert_non_null(strstr(err, "duplicate key"));
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM agent_definitions"), 5);
    /* bulk loads on top of base (distinct ids). */
    assert_int_equal(fixtures_load(t->conn, NULL, "bulk", err, sizeof(err)), 0);
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM agent_execution_logs"), 3010);
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM agent_observability.trace_events"),
                     10020);
    /* A fixture needs its migrations. */
    must_run(t->conn, real_set, MIG_DOWN, 5);
    assert_int_equal(fixtures_load(t->conn, NULL, "base", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs migration 006"));
    assert_int_equal(fixtures_load(t->conn, NULL, "../etc/passwd", err, sizeof(err)), -1);
}

/* ---- the command line ----------------------------------------------------------------------- */

/* Runs dbev-harness with args (shell words), output into out; returns the exit code. */
static int harness(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int harness(char *out, size_t size, const char *fmt, ...)
{
    char args[2048], cmd[2400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s/bin/dbev-harness %s 2>&1", DBEV_BUILD_DIR, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, size - 1, p);
    out[len] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_command_line(void **state)
{
    tdb_t *t = *state;
    char dsn[512], quoted[600], out[65536];
    pgenv_dsn(env, t->name, dsn, sizeof(dsn));
    snprintf(quoted, sizeof(quoted), "'%s'", dsn);
    assert_int_equal(harness(out, sizeof(out), "migrate up --dry-run --pg-dsn %s", quoted), 0);
    assert_non_null(strstr(out, "-- dry run: up from 000, 7 step(s)"));
    assert_non_null(strstr(out, "CREATE TABLE agent_definitions"));
    assert_int_equal(version(t->conn), 0);
    assert_int_equal(harness(out, sizeof(out), "migrate up --to 2 --pg-dsn %s", quoted), 0);
    assert_non_null(strstr(out, "migrations applied: 2"));
    assert_non_null(strstr(out, "public.agent_definitions"));
    assert_int_equal(harness(out, sizeof(out), "migrate status --pg-dsn %s", quoted), 0);
    assert_non_null(strstr(out, "002     agent_transformation_events          applied"));
    assert_non_null(strstr(out, "003     router_performance_metrics           pending"));
    assert_int_equal(harness(out, sizeof(out), "migrate up --pg-dsn %s", quoted), 0);
    assert_non_null(strstr(out, "migrations applied: 5"));
    assert_non_null(strstr(out, "version: 002 -> 007"));
    assert_int_equal(harness(out, sizeof(out), "migrate verify --pg-dsn %s", quoted), 0);
    assert_non_null(strstr(out, "the catalog matches"));
    assert_int_equal(harness(out, sizeof(out), "fixtures load base,bulk --pg-dsn %s", quoted), 0);
    assert_non_null(strstr(out, "public.agent_definitions"));
    assert_int_equal(scalar(t->conn, "SELECT count(*) FROM agent_execution_logs"), 3010);
    assert_int_equal(harness(out, sizeof(out), "fixtures load nosuchset --pg-dsn %s", quoted), 1);
    assert_non_null(strstr(out, "nosuchset.sql"));
    exec_ok(t->conn,
            "ALTER TABLE agent_routing_decisions ALTER COLUMN routing_time_ms TYPE bigint");
    assert_int_equal(harness(out, sizeof(out), "migrate verify --pg-dsn %s", quoted), 1);
    assert_non_null(
        strstr(out, "different column public.agent_routing_decisions.routing_time_ms: type"));
    assert_int_equal(harness(out, sizeof(out), "migrate down --to 9 --pg-dsn %s", quoted), 1);
    assert_non_null(strstr(out, "no migration 009"));
    assert_int_equal(harness(out, sizeof(out), "migrate sideways --pg-dsn %s", quoted), 2);
    assert_int_equal(
        harness(out, sizeof(out), "migrate up --migrations /nonexistent --pg-dsn %s", quoted), 1);
    assert_non_null(strstr(out, "/nonexistent"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed003_index_counts, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_verify_names_dropped_index_and_changed_type, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_change_refused, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_gap_and_duplicate_refused, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_two_runners_never_both_apply, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_broken_migration_rolled_back_with_file_line, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_pre_check_failure_applies_nothing, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_to_both_ways_and_dry_run, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_data_survives_down_up_of_latest, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_fixtures_and_template, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_command_line, db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
