/*
 * The direct path against a throwaway PostgreSQL (pgenv): every operation
 * through direct_run() gives the outcome the protocol describes (rows typed
 * by the adapter's mapping, row counts, SQLSTATEs of unique violations and
 * missing tables, validation refusals, timeouts, a broken connection reset),
 * a TRANSACTION that fails leaves nothing behind, the by-design differences
 * from the event path hold (SELECT can write, BEGIN and several statements
 * run in EXECUTE), the same requests through the adapter's executor and
 * through the direct path on twin databases agree under parity_compare(),
 * and the sql:/until: steps work with a hand-made runctx.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "parity/direct.h"
#include "exec.h"
#include "scenario/expect.h"
#include "parity/parity.h"
#include "pg_kit.h"
#include "scenario/runctx.h"

#include <dbev/sql.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pg_kit_t *pg;
static pgenv_t *env; /* pg's server */
static PGconn *conn;

static const char *schema_sql =
    "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE NOT NULL, score numeric(5,3),"
    " qty int4 DEFAULT 0, tags text[], doc jsonb, created timestamptz DEFAULT now());"
    "CREATE SCHEMA obs;"
    "CREATE TABLE obs.events (event_id text PRIMARY KEY, kind text, n int8);"
    "INSERT INTO items (name, score, qty, tags, doc, created) VALUES"
    " ('alpha', 0.950, 3, '{a,b}', '{\"k\": 1}', '2025-10-30 12:00:00+02'),"
    " ('beta', 0.5, 0, NULL, NULL, '2025-10-30 10:00:00+00'),"
    " ('gamma', 1.25, 7, '{}', '[1, 2]', '2025-10-31 00:00:00+00');";

/* JSON from text written with single quotes for double ones. */
static json_t *J(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t err;
    json_t *v = json_loads(copy, JSON_DECODE_ANY, &err);
    if (!v)
        fail_msg("bad test JSON %s: %s", copy, err.text);
    free(copy);
    return v;
}

/* Whether v equals the JSON of text (quote-swapped). */
static bool eq(const json_t *v, const char *text)
{
    json_t *want = J(text);
    bool same = json_equal((json_t *)v, want);
    json_decref(want);
    return same;
}

static char *dump(const json_t *v)
{
    static char buf[4096];
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof(buf), "%s", text ? text : "(null)");
    free(text);
    return buf;
}

/* sqlstate: the one expected, NULL for none, "*" for any. */
/* Runs op with body (quote-swapped JSON text) on c; the outcome. */
static json_t *run_on(PGconn *c, dbev_op_t op, const char *body)
{
    char err[256];
    json_t *b = body ? J(body) : NULL;
    json_t *o = direct_run(c, op, b, err, sizeof(err));
    json_decref(b);
    if (!o)
        fail_msg("direct_run: %s", err);
    return o;
}

static json_t *run_ok(dbev_op_t op, const char *body)
{
    json_t *o = run_on(conn, op, body);
    if (!json_is_true(json_object_get(o, "ok")))
        fail_msg("%s %s: expected success, got %s", dbev_op_name(op), body, dump(o));
    return o;
}

static json_t *run_err(dbev_op_t op, const char *body, const char *code, const char *sqlstate)
{
    json_t *o = run_on(conn, op, body);
    const char *got = json_string_value(json_object_get(o, "error_code"));
    const char *state = json_string_value(json_object_get(o, "sqlstate"));
    if (json_is_true(json_object_get(o, "ok")) || !got || strcmp(got, code) != 0 ||
        (sqlstate ? strcmp(sqlstate, "*") != 0 && (!state || strcmp(state, sqlstate) != 0)
                  : state != NULL))
        fail_msg("%s %s: expected %s [%s], got %s", dbev_op_name(op), body, code,
                 sqlstate ? sqlstate : "no sqlstate", dump(o));
    return o;
}

static long count_sql(PGconn *c, const char *sql)
{
    return pg_kit_count(c, sql);
}

static void exec_sql(PGconn *c, const char *sql)
{
    pg_kit_exec(c, sql);
}

static int64_t rc_of(const json_t *o)
{
    return json_integer_value(json_object_get(o, "row_count"));
}

static json_t *row(const json_t *o, size_t i)
{
    return json_array_get(json_object_get(o, "rows"), i);
}

static int group_teardown(void **state);

static int group_setup(void **state)
{
    char err[512];
    /* A template with the schema, and clones: one for most tests, two twins. */
    pg = pg_kit_new("direct-test", "direct_tpl", schema_sql, NULL, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    env = pg->env;
    bool ok = true;
    const char *dbs[] = {"direct_test", "twin_event", "twin_direct"};
    for (int i = 0; i < 3 && ok; i++)
        ok = pgenv_create_database(env, dbs[i], "direct_tpl", err, sizeof(err)) == 0;
    if (ok)
        conn = pgenv_connect(env, "direct_test", err, sizeof(err));
    if (!ok || !conn) {
        fprintf(stderr, "setup: %s\n", err);
        group_teardown(state);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    PQfinish(conn);
    conn = NULL;
    pg_kit_destroy(pg);
    pg = NULL;
    return 0;
}

/* ---- operations ----------------------------------------------------------- */

static void test_select_typed_rows(void **state)
{
    (void)state;
    json_t *o = run_ok(DBEV_OP_SELECT, "{'sql':'SELECT name, score, qty, tags, doc, created FROM "
                                       "items WHERE qty >= $1 ORDER BY name','params':[3]}");
    assert_int_equal(rc_of(o), 2);
    assert_string_equal(json_string_value(json_object_get(o, "operation_type")), "SELECT");
    json_t *a = row(o, 0);
    assert_string_equal(json_string_value(json_object_get(a, "name")), "alpha");
    assert_true(json_number_value(json_object_get(a, "score")) == 0.95);
    assert_int_equal(json_integer_value(json_object_get(a, "qty")), 3);
    assert_true(eq(json_object_get(a, "tags"), "['a','b']"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "doc"), "k")), 1);
    /* timestamptz in UTC, as the adapter's pool session shows it */
    assert_string_equal(json_string_value(json_object_get(a, "created")), "2025-10-30T10:00:00Z");
    assert_true(json_is_real(json_object_get(o, "execution_time_ms")));
    json_decref(o);

    /* Just the SQL text. */
    o = run_ok(DBEV_OP_SELECT, "'SELECT count(*) AS n FROM items'");
    assert_int_equal(json_integer_value(json_object_get(row(o, 0), "n")), 3);
    json_decref(o);

    /* A JSON array parameter: an array literal for text[], JSON for jsonb. */
    o = run_ok(DBEV_OP_SELECT, "{'sql':'SELECT $1::text[] AS t, $2::jsonb AS j',"
                               "'params':[['x','y z'],['x',{'a':1}]]}");
    assert_true(eq(json_object_get(row(o, 0), "t"), "['x','y z']"));
    assert_true(eq(json_object_get(row(o, 0), "j"), "['x',{'a':1}]"));
    json_decref(o);
}

static void test_row_cap_only_when_asked(void **state)
{
    (void)state;
    /* No default cap (asyncpg had none); an explicit max_rows cuts and says so. */
    json_t *o = run_ok(DBEV_OP_SELECT, "'SELECT g FROM generate_series(1, 1500) g'");
    assert_int_equal(rc_of(o), 1500);
    json_decref(o);
    o = run_ok(DBEV_OP_SELECT,
               "{'sql':'SELECT g FROM generate_series(1, 10) g','options':{'max_rows':3}}");
    assert_int_equal(rc_of(o), 3);
    assert_true(json_is_true(json_object_get(json_object_get(o, "metadata"), "truncated")));
    json_decref(o);
}

static void test_insert_update_delete_upsert(void **state)
{
    (void)state;
    json_t *o = run_ok(DBEV_OP_INSERT, "{'table':'items','data':{'name':'delta','score':0.125,"
                                       "'tags':['p','q'],'doc':{'z':[1,{'y':null}]}},"
                                       "'returning':'*'}");
    assert_int_equal(rc_of(o), 1);
    json_t *r = row(o, 0);
    assert_true(eq(json_object_get(r, "tags"), "['p','q']")); /* text[] column */
    assert_true(eq(json_object_get(r, "doc"), "{'z':[1,{'y':null}]}"));
    assert_int_equal(json_integer_value(json_object_get(r, "qty")), 0); /* default */
    assert_non_null(strchr(json_string_value(json_object_get(r, "created")), 'Z'));
    json_decref(o);

    o = run_ok(DBEV_OP_INSERT, "{'table':'obs.events','data':{'event_id':'e1','kind':'k','n':1}}");
    assert_int_equal(rc_of(o), 1);
    assert_int_equal(json_array_size(json_object_get(o, "rows")), 0);
    json_decref(o);

    o = run_ok(DBEV_OP_UPDATE, "{'table':'items','data':{'qty':9},'where':{'name':{'$in':"
                               "['delta','beta']}},'returning':['name','qty']}");
    assert_int_equal(rc_of(o), 2);
    assert_int_equal(json_integer_value(json_object_get(row(o, 0), "qty")), 9);
    json_decref(o);

    o = run_ok(DBEV_OP_UPSERT, "{'table':'items','data':{'name':'delta','qty':11},"
                               "'conflict_columns':['name'],'returning':'qty'}");
    assert_int_equal(rc_of(o), 1);
    assert_int_equal(json_integer_value(json_object_get(row(o, 0), "qty")), 11);
    json_decref(o);
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM items WHERE name = 'delta'"), 1);

    o = run_ok(DBEV_OP_DELETE, "{'table':'items','where':{'name':'delta','qty':{'$gte':10}}}");
    assert_int_equal(rc_of(o), 1);
    json_decref(o);
    o = run_ok(DBEV_OP_DELETE, "{'table':'obs.events','where':{'event_id':'e1'}}");
    assert_int_equal(rc_of(o), 1);
    json_decref(o);
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM items WHERE name = 'delta'"), 0);
    exec_sql(conn, "UPDATE items SET qty = 0 WHERE name = 'beta'");
}

static void test_batch_insert(void **state)
{
    (void)state;
    json_t *o = run_ok(DBEV_OP_BATCH_INSERT,
                       "{'table':'obs.events','rows':[{'event_id':'b1','kind':'x','n':1},"
                       "{'event_id':'b2','kind':'x','n':2}],'returning':'event_id'}");
    assert_int_equal(rc_of(o), 2);
    assert_int_equal(json_array_size(json_object_get(o, "rows")), 2);
    json_decref(o);
    /* Duplicates skipped with on_conflict nothing: counted in metadata.skipped. */
    o = run_ok(DBEV_OP_BATCH_INSERT,
               "{'table':'obs.events','rows':[{'event_id':'b2','kind':'y','n':0},"
               "{'event_id':'b3','kind':'y','n':3}],"
               "'on_conflict':{'columns':['event_id'],'action':'nothing'}}");
    assert_int_equal(rc_of(o), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "metadata"), "skipped")),
                     1);
    json_decref(o);
    /* Without on_conflict a duplicate fails the whole batch: nothing inserted. */
    json_decref(run_err(DBEV_OP_BATCH_INSERT,
                        "{'table':'obs.events','rows':[{'event_id':'b4','kind':'z','n':4},"
                        "{'event_id':'b1','kind':'z','n':1}]}",
                        "DATABASE_OPERATION_FAILED", "23505"));
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM obs.events WHERE event_id = 'b4'"), 0);
    /* More rows than one statement takes: several statements, still atomic. */
    char *big = malloc(200000);
    strcpy(big, "{'table':'obs.events','rows':[");
    for (int i = 0; i < 2500; i++)
        sprintf(big + strlen(big), "%s{'event_id':'m%d','kind':'m','n':%d}", i ? "," : "", i, i);
    strcat(big, ",{'event_id':'b1','kind':'m','n':0}]}");
    json_decref(run_err(DBEV_OP_BATCH_INSERT, big, "DATABASE_OPERATION_FAILED", "23505"));
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM obs.events WHERE kind = 'm'"), 0);
    big[strlen(big) - strlen(",{'event_id':'b1','kind':'m','n':0}]}")] = '\0';
    strcat(big, "]}");
    o = run_ok(DBEV_OP_BATCH_INSERT, big);
    assert_int_equal(rc_of(o), 2500);
    json_decref(o);
    free(big);
    exec_sql(conn, "DELETE FROM obs.events");
}

static void test_errors_with_sqlstate(void **state)
{
    (void)state;
    json_t *o = run_err(DBEV_OP_INSERT, "{'table':'items','data':{'name':'alpha'}}",
                        "DATABASE_OPERATION_FAILED", "23505");
    assert_non_null(strstr(json_string_value(json_object_get(o, "message")), "duplicate key"));
    assert_false(json_is_true(json_object_get(o, "retriable")));
    json_decref(o);
    o = run_err(DBEV_OP_SELECT, "'SELECT * FROM no_such_table'", "DATABASE_OPERATION_FAILED",
                "42P01");
    assert_non_null(strstr(json_string_value(json_object_get(o, "message")), "no_such_table"));
    json_decref(o);
    json_decref(run_err(DBEV_OP_INSERT, "{'table':'no_such_table','data':{'a':1}}",
                        "DATABASE_OPERATION_FAILED", "42P01"));
    json_decref(run_err(DBEV_OP_EXECUTE, "'SELEC 1'", "DATABASE_OPERATION_FAILED", "42601"));
    /* The connection is still good afterwards. */
    json_decref(run_ok(DBEV_OP_HEALTH, NULL));
}

static void test_validation_refusals(void **state)
{
    (void)state;
    json_t *o = run_err(DBEV_OP_INSERT, "{'table':'items; DROP TABLE items','data':{'a':1}}",
                        "VALIDATION_ERROR", NULL);
    assert_non_null(strstr(json_string_value(json_object_get(o, "message")), "payload.table"));
    json_decref(o);
    json_decref(run_err(DBEV_OP_UPDATE, "{'table':'items','data':{'qty':1},'where':{}}",
                        "VALIDATION_ERROR", NULL));
    json_decref(run_err(DBEV_OP_UPDATE, "{'table':'items','data':{'qty':1},'were':{'id':1}}",
                        "VALIDATION_ERROR", NULL));
    json_decref(run_err(DBEV_OP_SELECT, "42", "VALIDATION_ERROR", NULL));
    json_decref(
        run_err(DBEV_OP_SELECT, "{'sql':'SELECT $1','params':'x'}", "VALIDATION_ERROR", NULL));
    json_decref(run_err(DBEV_OP_SELECT, "{'sql':'SELECT 1','options':{'max_rows':0}}",
                        "VALIDATION_ERROR", NULL));
    json_decref(run_err(DBEV_OP_DELETE, "'items'", "VALIDATION_ERROR", NULL));
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM items"), 3);
}

static void test_transaction_commit_and_rollback(void **state)
{
    (void)state;
    json_t *o = run_ok(DBEV_OP_TRANSACTION,
                       "{'operations':["
                       "{'operation_type':'INSERT','table':'items','data':{'name':'t1'},"
                       "'returning':'name'},"
                       "{'operation_type':'UPDATE','table':'items','data':{'qty':5},"
                       "'where':{'name':'t1'}},"
                       "{'operation_type':'SELECT','sql':'SELECT qty FROM items WHERE name = $1',"
                       "'params':['t1']}]}");
    assert_int_equal(rc_of(o), 3);
    json_t *results = json_object_get(o, "results");
    assert_int_equal(json_array_size(results), 3);
    assert_int_equal(rc_of(json_array_get(results, 1)), 1);
    assert_int_equal(json_integer_value(json_object_get(row(json_array_get(results, 2), 0), "qty")),
                     5);
    json_decref(o);

    /* The second operation fails: the first is rolled back with it. */
    o = run_err(DBEV_OP_TRANSACTION,
                "{'operations':["
                "{'operation_type':'INSERT','table':'items','data':{'name':'t2'}},"
                "{'operation_type':'INSERT','table':'items','data':{'name':'alpha'}},"
                "{'operation_type':'INSERT','table':'items','data':{'name':'t3'}}]}",
                "DATABASE_OPERATION_FAILED", "23505");
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(o, "metadata"), "failed_operation_index")),
                     1);
    json_decref(o);
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM items WHERE name IN ('t2', 't3')"), 0);

    /* A bad third operation: refused before anything runs. */
    o = run_err(DBEV_OP_TRANSACTION,
                "{'operations':["
                "{'operation_type':'INSERT','table':'items','data':{'name':'t4'}},"
                "{'operation_type':'DELETE','table':'items','where':{'name':'t1'}},"
                "{'operation_type':'INSERT','table':'bad name','data':{'name':'t5'}}]}",
                "VALIDATION_ERROR", NULL);
    assert_non_null(strstr(json_string_value(json_object_get(o, "message")), "operations[2]"));
    json_decref(o);
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM items WHERE name IN ('t1', 't4')"), 1);

    /* A timeout inside: TIMEOUT_ERROR, rolled back. */
    o = run_err(DBEV_OP_TRANSACTION,
                "{'operations':["
                "{'operation_type':'INSERT','table':'items','data':{'name':'t6'}},"
                "{'operation_type':'SELECT','sql':'SELECT pg_sleep(2)'}],"
                "'options':{'timeout_ms':100}}",
                "TIMEOUT_ERROR", "57014");
    json_decref(o);
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM items WHERE name = 't6'"), 0);
    exec_sql(conn, "DELETE FROM items WHERE name = 't1'");
}

static void test_execute_and_by_design_differences(void **state)
{
    (void)state;
    json_t *o = run_ok(DBEV_OP_EXECUTE,
                       "{'sql':'UPDATE items SET qty = qty + 1 WHERE qty >= $1','params':[3]}");
    assert_int_equal(rc_of(o), 2);
    json_decref(o);
    exec_sql(conn, "UPDATE items SET qty = qty - 1 WHERE qty >= 4");

    /* SELECT is not read-only here (conn.fetch() never was). */
    o = run_ok(DBEV_OP_SELECT, "'WITH x AS (INSERT INTO obs.events (event_id) VALUES (1) "
                               "RETURNING event_id) SELECT * FROM x'");
    assert_int_equal(rc_of(o), 1);
    json_decref(o);
    /* BEGIN / ROLLBACK through EXECUTE run, as over asyncpg. */
    json_decref(run_ok(DBEV_OP_EXECUTE, "'BEGIN'"));
    json_decref(run_ok(DBEV_OP_EXECUTE, "'DELETE FROM obs.events'"));
    json_decref(run_ok(DBEV_OP_EXECUTE, "'ROLLBACK'"));
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM obs.events"), 1);
    /* Several statements in one EXECUTE without parameters (simple protocol). */
    o = run_ok(DBEV_OP_EXECUTE, "'DELETE FROM obs.events; INSERT INTO obs.events (event_id) "
                                "VALUES (2), (3)'");
    assert_int_equal(rc_of(o), 3); /* 1 deleted + 2 inserted, as the adapter sums counts */
    json_decref(o);
    exec_sql(conn, "DELETE FROM obs.events");
}

static void test_timeout_and_broken_connection(void **state)
{
    (void)state;
    json_t *o = run_err(DBEV_OP_SELECT, "{'sql':'SELECT pg_sleep(2)','options':{'timeout_ms':100}}",
                        "TIMEOUT_ERROR", "57014");
    assert_true(json_is_true(json_object_get(o, "retriable")));
    json_decref(o);
    /* The timeout does not outlive the request. */
    json_decref(run_ok(DBEV_OP_SELECT, "'SELECT pg_sleep(0.3)'"));

    /* Backends terminated: the next operation fails as a connection failure,
     * the one after runs on a reset connection. */
    char err[256];
    assert_true(pgenv_terminate_backends(env, "direct_test", err, sizeof(err)) >= 1);
    /* 57P01 when the server's goodbye is read, none when the socket is just closed */
    o = run_err(DBEV_OP_SELECT, "'SELECT 1'", "DATABASE_CONNECTION_FAILED", "*");
    json_decref(o);
    o = run_ok(DBEV_OP_HEALTH, NULL);
    assert_string_equal(json_string_value(json_object_get(row(o, 0), "status")), "HEALTHY");
    json_decref(o);
    o = run_ok(DBEV_OP_SELECT, "'SELECT count(*) AS n FROM items'");
    assert_int_equal(json_integer_value(json_object_get(row(o, 0), "n")), 3);
    json_decref(o);
}

/* ---- parity of the adapter's executor and the direct path ------------------ */

static void quiet_log(void *opaque, dbev_log_level_t level, const char *component,
                      const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE"))
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

/* The executor's payload as an outcome (what opcall makes of the client's answer). */
static json_t *payload_outcome(const adapter_outcome_t *out)
{
    json_t *o = json_object(), *p = out->payload;
    json_object_set_new(o, "ok", json_boolean(out->completed));
    if (out->completed) {
        json_object_set(o, "rows", json_object_get(p, "rows"));
        json_object_set(o, "row_count", json_object_get(p, "row_count"));
        if (json_object_get(p, "results"))
            json_object_set(o, "results", json_object_get(p, "results"));
    } else {
        json_object_set(o, "error_code", json_object_get(p, "error_code"));
        json_object_set(o, "message", json_object_get(p, "error_message"));
        json_t *state = json_object_get(json_object_get(p, "metadata"), "sqlstate");
        json_object_set_new(o, "sqlstate", state ? json_copy(state) : json_null());
    }
    return o;
}

/* Runs one request through the executor (twin_event) and the direct path
 * (twin); the parity verdict. */
static int parity_both(adapter_exec_t *ex, PGconn *twin, dbev_op_t op, const char *body,
                       const json_t *ignore, char *diff, size_t size)
{
    char err[256];
    json_t *payload = J(body);
    json_object_set_new(payload, "operation_type", json_string(dbev_op_name(op)));
    char id[40];
    dbev_uuid_new(id);
    json_t *event =
        dbev_envelope_new(DBEV_EVENT_REQUESTED, id, id, "test", 0, json_deep_copy(payload));
    char *text = dbev_event_dumps(event);
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    adapter_outcome_t out = {0};
    json_t *ev;
    if (dbev_request_decode(text, strlen(text), &req, &derr) == 0) {
        adapter_exec_batch(ex, &req, 1, &out);
        ev = payload_outcome(&out);
        json_decref(out.payload);
    } else { /* the event path refuses it at decoding */
        ev = J("{'ok':false,'error_code':'VALIDATION_ERROR','sqlstate':null}");
    }
    json_object_del(payload, "operation_type");
    json_t *dr = direct_run(twin, op, payload, err, sizeof(err));
    assert_non_null(dr);
    const char *sql = json_string_value(json_object_get(payload, "sql"));
    int rc = parity_compare_step(ev, dr, sql && dbev_sql_is_ordered(sql), ignore, diff, size);
    dbev_request_destroy(req);
    free(text);
    json_decref(event);
    json_decref(payload);
    json_decref(ev);
    json_decref(dr);
    return rc;
}

static void test_parity_with_adapter_executor(void **state)
{
    (void)state;
    static const dbev_logger_t logger = {.cb = quiet_log, .level = DBEV_LOG_DEBUG};
    char dsn[1024], err[512];
    pgenv_dsn(env, "twin_event", dsn, sizeof(dsn));
    adapter_exec_conf_t conf = {.conninfo = dsn,
                                .pool_min = 1,
                                .pool_max = 2,
                                .breaker_failure_threshold = 5,
                                .breaker_recovery_ms = 60000,
                                .breaker_success_threshold = 3,
                                .default_timeout_ms = 10000,
                                .dedupe_retention_ms = 3600 * 1000LL,
                                .logger = &logger};
    adapter_exec_t *ex = adapter_exec_new(&conf, err, sizeof(err));
    assert_non_null(ex);
    PGconn *twin = pgenv_connect(env, "twin_direct", err, sizeof(err));
    assert_non_null(twin);

    /* Each request on both paths, in order; volatile columns ignored. */
    static const struct {
        dbev_op_t op;
        const char *body;
    } reqs[] = {
        {DBEV_OP_SELECT, "{'sql':'SELECT * FROM items'}"},
        {DBEV_OP_SELECT, "{'sql':'SELECT name, score FROM items WHERE qty > $1 ORDER BY name',"
                         "'params':[0]}"},
        {DBEV_OP_INSERT, "{'table':'items','data':{'name':'p1','score':0.25,'tags':['x'],"
                         "'doc':{'a':[1,2]}},'returning':'*'}"},
        {DBEV_OP_INSERT, "{'table':'items','data':{'name':'p1'}}"},
        {DBEV_OP_UPDATE, "{'table':'items','data':{'qty':4},'where':{'score':{'$lt':1}},"
                         "'returning':['name','qty']}"},
        {DBEV_OP_UPSERT, "{'table':'items','data':{'name':'p1','qty':8},"
                         "'conflict_columns':['name'],'returning':'*'}"},
        {DBEV_OP_BATCH_INSERT, "{'table':'obs.events','rows':[{'event_id':'a','kind':'k','n':1},"
                               "{'event_id':'b','kind':'k','n':2}],"
                               "'on_conflict':{'columns':['event_id'],'action':'nothing'}}"},
        {DBEV_OP_BATCH_INSERT, "{'table':'obs.events','rows':[{'event_id':'b','kind':'k','n':9},"
                               "{'event_id':'c','kind':'k','n':3}],"
                               "'on_conflict':{'columns':['event_id'],'action':'nothing'}}"},
        {DBEV_OP_EXECUTE, "{'sql':'UPDATE obs.events SET n = n * 10 WHERE kind = $1',"
                          "'params':['k']}"},
        {DBEV_OP_DELETE, "{'table':'items','where':{'name':'p1'}}"},
        {DBEV_OP_SELECT, "{'sql':'SELECT * FROM no_such_table'}"},
        {DBEV_OP_INSERT, "{'table':'bad name','data':{'a':1}}"},
        {DBEV_OP_TRANSACTION, "{'operations':["
                              "{'operation_type':'INSERT','table':'items','data':{'name':'p2'}},"
                              "{'operation_type':'INSERT','table':'items','data':{'name':'p2'}}]}"},
        {DBEV_OP_TRANSACTION, "{'operations':["
                              "{'operation_type':'INSERT','table':'items','data':{'name':'p3'},"
                              "'returning':'name'},"
                              "{'operation_type':'SELECT','sql':'SELECT count(*) AS n FROM items'}"
                              "]}"},
        {DBEV_OP_SELECT, "{'sql':'SELECT i.name, e.n FROM items i CROSS JOIN obs.events e'}"},
    };
    json_t *ignore = J("['id','created']");
    char diff[1024];
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++)
        if (parity_both(ex, twin, reqs[i].op, reqs[i].body, ignore, diff, sizeof(diff)) != 0)
            fail_msg("request %zu (%s): %s", i, reqs[i].body, diff);
    /* Both databases end in the same state. */
    const char *checks[] = {"SELECT string_agg(name || ':' || qty, ',' ORDER BY name) FROM items",
                            "SELECT string_agg(event_id || ':' || n, ',' ORDER BY event_id) FROM "
                            "obs.events"};
    PGconn *evc = pgenv_connect(env, "twin_event", err, sizeof(err));
    assert_non_null(evc);
    for (int i = 0; i < 2; i++) {
        PGresult *a = PQexec(evc, checks[i]), *b = PQexec(twin, checks[i]);
        assert_int_equal(PQresultStatus(a), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(a, 0, 0), PQgetvalue(b, 0, 0));
        PQclear(a);
        PQclear(b);
    }
    /* The by-design differences of docs/parity.md show up as mismatches. */
    assert_int_equal(parity_both(ex, twin, DBEV_OP_SELECT,
                                 "{'sql':'WITH x AS (INSERT INTO obs.events (event_id) VALUES (42)"
                                 " RETURNING event_id) SELECT * FROM x'}",
                                 NULL, diff, sizeof(diff)),
                     -1);
    assert_non_null(strstr(diff, "event failed DATABASE_OPERATION_FAILED [25006]"));
    assert_non_null(strstr(diff, "direct succeeded"));
    assert_int_equal(
        parity_both(ex, twin, DBEV_OP_EXECUTE, "{'sql':'BEGIN'}", NULL, diff, sizeof(diff)), -1);
    assert_non_null(strstr(diff, "event failed VALIDATION_ERROR"));
    exec_sql(twin, "ROLLBACK");
    assert_int_equal(parity_both(ex, twin, DBEV_OP_EXECUTE,
                                 "{'sql':'UPDATE items SET qty = qty; UPDATE items SET qty = qty'}",
                                 NULL, diff, sizeof(diff)),
                     -1);
    /* two statements: refused by the SQL rules before PostgreSQL sees them */
    assert_non_null(strstr(diff, "event failed VALIDATION_ERROR"));
    assert_int_equal(parity_both(ex, twin, DBEV_OP_SELECT,
                                 "{'sql':'SELECT g FROM generate_series(1, 1500) g'}", NULL, diff,
                                 sizeof(diff)),
                     -1);
    assert_non_null(strstr(diff, "row_count: event 1000; direct 1500"));
    assert_int_equal(parity_both(ex, twin, DBEV_OP_SELECT,
                                 "{'sql':'SELECT g FROM generate_series(1, 1500) g',"
                                 "'options':{'max_rows':1000}}",
                                 NULL, diff, sizeof(diff)),
                     0);

    /* And a real difference is caught: one more row on the direct side. */
    exec_sql(twin, "INSERT INTO items (name) VALUES ('only-direct')");
    json_t *ev = run_on(evc, DBEV_OP_SELECT, "'SELECT name FROM items'");
    json_t *dr = run_on(twin, DBEV_OP_SELECT, "'SELECT name FROM items'");
    assert_int_equal(parity_compare(ev, dr, false, diff, sizeof(diff)), -1);
    assert_non_null(strstr(diff, "row_count"));
    json_decref(ev);
    json_decref(dr);
    json_decref(ignore);
    PQfinish(evc);
    PQfinish(twin);
    adapter_exec_destroy(ex);
}

/* ---- sql: and until: steps ------------------------------------------------ */

/* step_run_operation() belongs to step_op.c; the until: test polls an
 * operation through this stand-in, which runs it on the direct path. */
static int op_calls;
static int64_t op_last_timeout;

int step_run_operation(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    char err[256];
    op_calls++;
    op_last_timeout = step->timeout_ms;
    json_t *o = direct_run(ctx->direct, step->op, step->body, err, sizeof(err));
    if (!o) {
        snprintf(res->message, sizeof(res->message), "%s", err);
        res->status = DBEV_REPORT_ERROR;
        return 0;
    }
    json_t *none = json_object();
    if (expectation_check(step->expect ? step->expect : none, o, res->message,
                          sizeof(res->message)))
        res->status = DBEV_REPORT_FAIL;
    json_decref(none);
    res->outcome = o;
    return 0;
}

typedef struct hand {
    runctx_t ctx;
    run_opts_t opts;
    json_t *doc; /* keeps step bodies alive */
} hand_t;

static void hand_init(hand_t *h)
{
    memset(h, 0, sizeof(*h));
    h->opts.mode = RUN_MODE_DIRECT;
    h->ctx.opts = &h->opts;
    h->ctx.pg = env;
    h->ctx.direct = conn;
    h->ctx.vars = vars_new(7);
    h->doc = json_array();
}

static void hand_clear(hand_t *h)
{
    vars_destroy(h->ctx.vars);
    json_decref(h->doc);
}

/* A step whose body and expect live in h->doc. */
static step_t mkstep(hand_t *h, step_kind_t kind, const char *body, const char *expect)
{
    step_t s;
    memset(&s, 0, sizeof(s));
    s.kind = kind;
    static char name[] = "t";
    s.name = name;
    snprintf(s.where, sizeof(s.where), "test");
    json_t *b = J(body), *e = expect ? J(expect) : NULL;
    json_array_append_new(h->doc, b);
    if (e)
        json_array_append_new(h->doc, e);
    s.body = b;
    s.expect = e;
    return s;
}

static void test_sql_step(void **state)
{
    (void)state;
    hand_t h;
    hand_init(&h);
    step_result_t res;

    step_t s = mkstep(&h, STEP_SQL, "'SELECT count(*) AS n FROM items'", "{'rows':[{'n':3}]}");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(res.outcome, "rows"), 0), "n")),
                     3);
    json_decref(res.outcome);

    /* A wrong expectation fails and shows expected and actual. */
    s = mkstep(&h, STEP_SQL, "'SELECT count(*) AS n FROM items'", "{'rows':[{'n':4}]}");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_FAIL);
    assert_true(strlen(res.message) > 0);
    assert_non_null(strstr(res.expected, "\"n\":4"));
    assert_non_null(strstr(res.actual, "\"n\":3"));
    json_decref(res.outcome);

    /* {sql, params} with a captured variable; several statements as set-up. */
    json_t *who = json_string("beta");
    vars_set(h.ctx.vars, "who", who);
    json_decref(who);
    s = mkstep(&h, STEP_SQL, "{'sql':'SELECT qty FROM items WHERE name = $1','params':['${who}']}",
               "{'rows':[{'qty':0}],'row_count':1}");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    json_decref(res.outcome);
    s = mkstep(&h, STEP_SQL, "'CREATE TABLE scratch (v int); INSERT INTO scratch VALUES (1), (2)'",
               NULL);
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    json_decref(res.outcome);
    assert_int_equal(count_sql(conn, "SELECT count(*) FROM scratch"), 2);
    exec_sql(conn, "DROP TABLE scratch");

    /* An SQL error without an expected error fails the step with it. */
    s = mkstep(&h, STEP_SQL, "'SELECT * FROM no_such_table'", NULL);
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(res.message, "no_such_table"));
    json_decref(res.outcome);
    s = mkstep(&h, STEP_SQL, "'SELECT * FROM no_such_table'",
               "{'error_code':'DATABASE_OPERATION_FAILED','sqlstate':'42P01'}");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    json_decref(res.outcome);

    /* An unknown variable is the scenario's mistake: ERROR, not FAIL. */
    s = mkstep(&h, STEP_SQL, "'SELECT ${nobody}'", NULL);
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_ERROR);
    hand_clear(&h);
}

/* --mode both: sql steps set up and check both paths' databases. */
static void test_sql_step_both_databases(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(pgenv_create_database(env, "both_event", "direct_tpl", err, sizeof(err)), 0);
    assert_int_equal(pgenv_create_database(env, "both_direct", "direct_tpl", err, sizeof(err)), 0);
    PGconn *a = pgenv_connect(env, "both_event", err, sizeof(err));
    PGconn *b = pgenv_connect(env, "both_direct", err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    hand_t h;
    hand_init(&h);
    h.opts.mode = RUN_MODE_BOTH;
    h.ctx.direct = a;
    h.ctx.direct_twin = b;
    step_result_t res;

    step_t s =
        mkstep(&h, STEP_SQL, "'CREATE TABLE s (v int); INSERT INTO s VALUES (1), (2)'", NULL);
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    json_decref(res.outcome);
    assert_int_equal(count_sql(a, "SELECT count(*) FROM s"), 2);
    assert_int_equal(count_sql(b, "SELECT count(*) FROM s"), 2);

    s = mkstep(&h, STEP_SQL, "'SELECT count(*) AS n FROM s'", "{'rows':[{'n':2}]}");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    json_decref(res.outcome);

    /* The twins diverge: the check fails and says on which database. */
    exec_sql(b, "INSERT INTO s VALUES (3)");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(res.message, "direct path's database: "));
    assert_non_null(strstr(res.actual, "\"n\":3"));
    json_decref(res.outcome);

    /* database: event (the adapter's own tables live there only). */
    s = mkstep(&h, STEP_SQL, "{'sql':'DELETE FROM s WHERE v = 1','database':'event'}",
               "{'row_count':1}");
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    json_decref(res.outcome);
    assert_int_equal(count_sql(a, "SELECT count(*) FROM s"), 1);
    assert_int_equal(count_sql(b, "SELECT count(*) FROM s"), 3);
    s = mkstep(&h, STEP_SQL, "{'sql':'SELECT 1','database':'elsewhere'}", NULL);
    memset(&res, 0, sizeof(res));
    assert_int_equal(step_run_sql(&h.ctx, &s, &res), 0);
    assert_int_equal(res.status, DBEV_REPORT_ERROR);
    assert_non_null(strstr(res.message, "database must be"));

    hand_clear(&h);
    PQfinish(a);
    PQfinish(b);
}

/* An until step polling child (kind, body, expect) with the given timing. */
static void run_until(hand_t *h, step_kind_t kind, dbev_op_t op, const char *child_body,
                      const char *expect, int64_t timeout_ms, int64_t interval_ms,
                      step_result_t *res)
{
    static step_t child, until;
    child = mkstep(h, kind, child_body, expect);
    child.op = op;
    child.timeout_ms = timeout_ms;
    char body[64];
    snprintf(body, sizeof(body), "{'timeout_ms':%lld,'interval_ms':%lld}", (long long)timeout_ms,
             (long long)interval_ms);
    until = mkstep(h, STEP_UNTIL, body, NULL);
    until.timeout_ms = timeout_ms;
    until.children = &child;
    until.n_children = 1;
    memset(res, 0, sizeof(*res));
    assert_int_equal(step_run_until(&h->ctx, &until, res), 0);
}

static void test_until_step(void **state)
{
    (void)state;
    hand_t h;
    hand_init(&h);
    step_result_t res;

    /* A condition that becomes true 300 ms from now, on the server's clock. */
    PGresult *r = PQexec(conn, "SELECT (clock_timestamp() + interval '300 ms')::text");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char sql[256];
    snprintf(sql, sizeof(sql), "'SELECT clock_timestamp() >= $1::timestamptz AS done'");
    char body[512];
    snprintf(body, sizeof(body), "{'sql':%s,'params':['%s']}", sql, PQgetvalue(r, 0, 0));
    PQclear(r);
    run_until(&h, STEP_SQL, 0, body, "{'rows':[{'done':true}]}", 5000, 20, &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_true(res.latency_ms >= 250.0);
    assert_true(res.latency_ms < 5000.0);
    assert_non_null(res.outcome);
    json_decref(res.outcome);

    /* Never true: FAIL after the deadline, with the last mismatch. */
    int64_t t0 = dbev_mono_us();
    run_until(&h, STEP_SQL, 0, "'SELECT 1 AS v'", "{'rows':[{'v':2}]}", 300, 50, &res);
    double took = (double)(dbev_mono_us() - t0) / 1000.0;
    assert_int_equal(res.status, DBEV_REPORT_FAIL);
    assert_non_null(strstr(res.message, "not met within 300 ms"));
    assert_non_null(strstr(res.message, "last:"));
    assert_true(took >= 300.0 && took < 3000.0);
    json_decref(res.outcome);

    /* An operation child: polled through step_run_operation, never given a
     * timeout past the deadline. */
    op_calls = 0;
    exec_sql(conn, "CREATE TABLE flag (v int)");
    run_until(&h, STEP_OPERATION, DBEV_OP_SELECT, "'SELECT count(*) AS n FROM flag'",
              "{'rows':[{'n':1}]}", 400, 50, &res);
    assert_int_equal(res.status, DBEV_REPORT_FAIL);
    assert_true(op_calls >= 2);
    assert_true(op_last_timeout >= 1 && op_last_timeout <= 400);
    json_decref(res.outcome);
    exec_sql(conn, "INSERT INTO flag VALUES (1)");
    op_calls = 0;
    run_until(&h, STEP_OPERATION, DBEV_OP_SELECT, "'SELECT count(*) AS n FROM flag'",
              "{'rows':[{'n':1}]}", 400, 50, &res);
    assert_int_equal(res.status, DBEV_REPORT_PASS);
    assert_int_equal(op_calls, 1);
    json_decref(res.outcome);
    exec_sql(conn, "DROP TABLE flag");

    /* A harness error in the child stops the polling at once. */
    run_until(&h, STEP_SQL, 0, "'SELECT ${nobody}'", NULL, 2000, 50, &res);
    assert_int_equal(res.status, DBEV_REPORT_ERROR);
    assert_true(res.latency_ms < 1000.0);
    hand_clear(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_typed_rows),
        cmocka_unit_test(test_row_cap_only_when_asked),
        cmocka_unit_test(test_insert_update_delete_upsert),
        cmocka_unit_test(test_batch_insert),
        cmocka_unit_test(test_errors_with_sqlstate),
        cmocka_unit_test(test_validation_refusals),
        cmocka_unit_test(test_transaction_commit_and_rollback),
        cmocka_unit_test(test_execute_and_by_design_differences),
        cmocka_unit_test(test_timeout_and_broken_connection),
        cmocka_unit_test(test_parity_with_adapter_executor),
        cmocka_unit_test(test_sql_step),
        cmocka_unit_test(test_sql_step_both_databases),
        cmocka_unit_test(test_until_step),
    };
    return cmocka_run_group_tests_name("direct", tests, group_setup, group_teardown);
}
