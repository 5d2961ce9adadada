/*
 * Caller isolation through the pool, against a throwaway PostgreSQL (pgenv):
 * a request that changes its session (settings incl. default_transaction_*,
 * search_path, statement_timeout and role, an advisory lock, LISTEN, a temp
 * table, a prepared statement, a holdable cursor, a sequence's currval)
 * leaves nothing of it to the next request on the same connection. The pool
 * has exactly one connection (pool_min = pool_max = 1), so the next request
 * surely gets it; each check also shows the backend is the same one (the
 * session was reset, not replaced). Every leak is looked at three ways: a
 * structured write of "another caller" that the leaked state would break,
 * the server seen from outside (pg_locks, pg_class), and the session seen
 * from inside by a SELECT.
 *
 * Also the deadline of item 7: an envelope timestamp at or before the epoch
 * is subject to the deadline like any other.
 *
 * The executor runs without a default timeout so that no SET LOCAL
 * statement_timeout hides the session's own value from the probe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exec.h"
#include "pg_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pg_kit_t *pg;
static char default_search_path[256], default_user[128];
static PGconn *direct;
static adapter_exec_t *ex;

static void quiet_log(void *opaque, dbev_log_level_t level, const char *component,
                      const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE"))
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

static const dbev_logger_t logger = {
    .cb = quiet_log, .level = DBEV_LOG_DEBUG, .component = "exec_session"};

static const char *schema_sql =
    "CREATE TABLE items (id serial PRIMARY KEY, name text);"
    "CREATE SEQUENCE counter;"
    "CREATE SCHEMA elsewhere;"
    "CREATE ROLE dbev_session_low NOLOGIN;"
    /* LISTEN and PREPARE are refused as statements of a request; a function
     * reaches them anyway, which is what this test needs */
    "CREATE FUNCTION listen_now() RETURNS int LANGUAGE plpgsql AS"
    " $$ BEGIN EXECUTE 'LISTEN dbev_session_chan'; RETURN pg_backend_pid(); END $$;"
    "CREATE FUNCTION prepare_now() RETURNS int LANGUAGE plpgsql AS"
    " $$ BEGIN EXECUTE 'PREPARE callers_own AS SELECT 1'; RETURN pg_backend_pid(); END $$;";

/* What the probe shows of a clean session (the adapter's settings and the
 * server's defaults). */
static const char *probe_sql =
    "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS search_path,"
    " current_setting('default_transaction_read_only') AS read_only,"
    " current_setting('statement_timeout') AS statement_timeout, current_user AS who,"
    " current_setting('DateStyle') AS datestyle, current_setting('TimeZone') AS timezone,"
    " current_setting('IntervalStyle') AS intervalstyle,"
    " current_setting('extra_float_digits') AS extra_float_digits,"
    " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    "  AND pid = pg_backend_pid()) AS advisory_locks,"
    " (SELECT count(*) FROM pg_listening_channels()) AS listening,"
    " (SELECT count(*) FROM pg_prepared_statements) AS prepared,"
    " (SELECT count(*) FROM pg_cursors WHERE name <> '') AS cursors,"
    " (SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temp_tables";

static void exec_sql(const char *sql)
{
    pg_kit_exec(direct, sql);
}

static long count_sql(const char *sql)
{
    return pg_kit_count(direct, sql);
}

static int group_teardown(void **state);

static int group_setup(void **state)
{
    char err[512];
    pg = pg_kit_new("exec-session", "session_test", schema_sql, &direct, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    PGresult *res = PQexec(direct, "SELECT current_setting('search_path'), current_user");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "defaults: %s\n", PQerrorMessage(direct));
        PQclear(res);
        group_teardown(state);
        return -1;
    }
    snprintf(default_search_path, sizeof(default_search_path), "%s", PQgetvalue(res, 0, 0));
    snprintf(default_user, sizeof(default_user), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    adapter_exec_conf_t conf = {.conninfo = pg->dsn,
                                .pool_min = 1,
                                .pool_max = 1,
                                .breaker_failure_threshold = 1000,
                                .breaker_recovery_ms = 60000,
                                .breaker_success_threshold = 1,
                                .default_timeout_ms = 0,
                                .dedupe_retention_ms = 24 * 3600 * 1000LL,
                                .logger = &logger};
    ex = adapter_exec_new(&conf, err, sizeof(err));
    if (!ex) {
        fprintf(stderr, "adapter_exec_new: %s\n", err);
        group_teardown(state);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    adapter_exec_destroy(ex);
    ex = NULL;
    PQfinish(direct);
    direct = NULL;
    pg_kit_destroy(pg);
    pg = NULL;
    return 0;
}

/* A decoded request for payload (JSON text) stamped ts (NULL: now). */
static dbev_request_t *request_at(const char *payload, const char *ts)
{
    char now[DBEV_ISO8601_SIZE], id[64], corr[64];
    dbev_uuid_new(id);
    dbev_uuid_new(corr);
    if (!ts)
        ts = dbev_iso8601(dbev_wall_us(), now, sizeof(now));
    size_t size = strlen(payload) + 512;
    char *text = malloc(size);
    assert_non_null(text);
    snprintf(text, size,
             "{\"event_id\": \"%s\", \"event_type\": \"DATABASE_QUERY_REQUESTED\", "
             "\"correlation_id\": \"%s\", \"timestamp\": \"%s\", \"service\": \"test\", "
             "\"payload\": %s}",
             id, corr, ts, payload);
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    int rc = dbev_request_decode(text, strlen(text), &req, &derr);
    free(text);
    if (rc != 0)
        fail_msg("decode %s: %s", payload, derr.message);
    return req;
}

/* Runs payloads[0..n) as ONE batch; each must end as want[i]; payloads out. */
static void run_batch(const char *const *payloads, const bool *want, size_t n, json_t **out)
{
    dbev_request_t *reqs[8];
    adapter_outcome_t res[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        reqs[i] = request_at(payloads[i], NULL);
    adapter_exec_batch(ex, reqs, n, res);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(res[i].payload);
        if (res[i].completed != want[i]) {
            char *s = json_dumps(res[i].payload, JSON_COMPACT);
            fail_msg("%s: expected %s, got %s", payloads[i], want[i] ? "completed" : "failed", s);
        }
        out[i] = res[i].payload;
        dbev_request_destroy(reqs[i]);
    }
}

static json_t *run1(const char *payload, bool want_completed)
{
    json_t *p;
    run_batch(&payload, &want_completed, 1, &p);
    return p;
}

static json_t *row0(const json_t *p)
{
    return json_array_get(json_object_get(p, "rows"), 0);
}

static json_int_t int_field(const json_t *row, const char *name)
{
    json_t *v = json_object_get(row, name);
    if (!json_is_integer(v))
        fail_msg("%s: not an integer", name);
    return json_integer_value(v);
}

/* Caller-written SQL as an EXECUTE request (SQL without double quotes). */
static char *execute_payload(const char *sql)
{
    char *p = NULL;
    if (asprintf(&p, "{\"operation_type\": \"EXECUTE\", \"sql\": \"%s\"}", sql) < 0)
        fail_msg("out of memory");
    return p;
}

static char *select_payload(const char *sql)
{
    char *p = NULL;
    if (asprintf(&p, "{\"operation_type\": \"SELECT\", \"sql\": \"%s\"}", sql) < 0)
        fail_msg("out of memory");
    return p;
}

/* Runs caller SQL that changes the session and returns the backend pid it
 * ran on (its column "pid"). */
static json_int_t run_change(const char *payload)
{
    json_t *p = run1(payload, true);
    json_int_t pid = int_field(row0(p), "pid");
    json_decref(p);
    return pid;
}

/* The structured write of another caller: must succeed on a clean session. */
static void other_callers_write(void)
{
    json_t *p = run1("{\"operation_type\": \"INSERT\", \"table\": \"items\", \"data\": "
                     "{\"name\": \"another caller\"}, \"returning\": [\"id\"]}",
                     true);
    json_decref(p);
}

/* The backend of the pool's one connection, as a request sees it. */
static json_int_t backend_pid(void)
{
    return run_change(
        "{\"operation_type\": \"SELECT\", \"sql\": \"SELECT pg_backend_pid() AS pid\"}");
}

/* What nobody outside the session should still see of it. */
static void assert_clean_outside(json_int_t pid)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %lld",
             (long long)pid);
    assert_int_equal(count_sql(sql), 0);
    assert_int_equal(count_sql("SELECT count(*) FROM pg_class WHERE relpersistence = 't'"), 0);
    /* the lock another session could not take while it leaked */
    assert_int_equal(count_sql("SELECT count(*) FROM (SELECT pg_try_advisory_lock(4242) AS got) t"
                               " WHERE got"),
                     1);
    exec_sql("SELECT pg_advisory_unlock_all()");
}

/* The session seen from inside, on the same backend as pid. */
static void assert_clean_inside(json_int_t pid)
{
    char *payload = select_payload(probe_sql);
    json_t *p = run1(payload, true);
    free(payload);
    json_t *r = row0(p);
    char *s = json_dumps(r, JSON_COMPACT);
    if (int_field(r, "pid") != pid)
        fail_msg("another backend (the session was replaced, not reset): %s", s);
    struct {
        const char *name, *want;
    } text[] = {{"search_path", default_search_path},
                {"read_only", "off"},
                {"statement_timeout", "0"},
                {"who", default_user},
                {"datestyle", "ISO, MDY"},
                {"timezone", "UTC"},
                {"intervalstyle", "iso_8601"},
                {"extra_float_digits", "1"}};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        const char *got = json_string_value(json_object_get(r, text[i].name));
        if (!got || strcmp(got, text[i].want) != 0)
            fail_msg("%s is %s, expected %s: %s", text[i].name, got ? got : "(null)", text[i].want,
                     s);
    }
    const char *counts[] = {"advisory_locks", "listening", "prepared", "cursors", "temp_tables"};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (int_field(r, counts[i]) != 0)
            fail_msg("%s left over: %s", counts[i], s);
    free(s);
    json_decref(p);
}

/* One leak: request A changes its session, then the others see none of it. */
static void leak_case(const char *payload_a)
{
    json_int_t pid = run_change(payload_a);
    assert_clean_outside(pid);
    other_callers_write();
    assert_clean_inside(pid);
}

static void test_settings_do_not_leak(void **state)
{
    (void)state;
    /* the reproduction: a SELECT, read-only as it is, sets a default.
     * (The role is changed by a SELECT too: an EXECUTE is a write, and its
     * record, written after its statement, is refused to that role.) */
    char *p =
        select_payload("SELECT pg_backend_pid() AS pid, set_config('default_transaction_read_only',"
                       " 'on', false)");
    leak_case(p);
    free(p);
    p = execute_payload(
        "SELECT pg_backend_pid() AS pid, set_config('search_path', 'elsewhere', false)");
    leak_case(p);
    free(p);
    p = select_payload(
        "SELECT pg_backend_pid() AS pid, set_config('statement_timeout', '4711', false)");
    leak_case(p);
    free(p);
    p = select_payload(
        "SELECT pg_backend_pid() AS pid, set_config('role', 'dbev_session_low', false)");
    leak_case(p);
    free(p);
    p = execute_payload(
        "SELECT pg_backend_pid() AS pid, set_config('TimeZone', 'Asia/Tokyo', false),"
        " set_config('DateStyle', 'German', false)");
    leak_case(p);
    free(p);
}

static void test_session_objects_do_not_leak(void **state)
{
    (void)state;
    char *p = select_payload("SELECT pg_backend_pid() AS pid, pg_advisory_lock(4242)");
    leak_case(p);
    free(p);
    p = execute_payload("SELECT listen_now() AS pid");
    leak_case(p);
    free(p);
    p = execute_payload("SELECT prepare_now() AS pid");
    leak_case(p);
    free(p);

    /* statements without a result of their own: the pid from the probe.
     * (DECLARE ... WITH HOLD, the other way to leave a cursor behind, is
     * refused by the SQL rules before it runs: tests/unit/test_sql_statement.c.) */
    json_int_t pid = backend_pid();
    const char *changes[] = {"CREATE TEMP TABLE scratch (x int)"};
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        p = execute_payload(changes[i]);
        json_decref(run1(p, true));
        free(p);
        assert_clean_outside(pid);
        other_callers_write();
        assert_clean_inside(pid);
    }
}

/* currval: set by the caller's nextval, and by a structured INSERT's serial
 * default; the next caller's SQL finds it undefined either way. */
static void test_currval_does_not_leak(void **state)
{
    (void)state;
    const char *checks[] = {
        "{\"operation_type\": \"SELECT\", \"sql\": \"SELECT currval('counter')\"}",
        "{\"operation_type\": \"SELECT\", \"sql\": \"SELECT currval('items_id_seq')\"}"};
    char *p = execute_payload("SELECT pg_backend_pid() AS pid, nextval('counter')");
    json_int_t pid = run_change(p);
    free(p);
    for (size_t i = 0; i < 2; i++) {
        other_callers_write(); /* its serial default sets items_id_seq's currval */
        json_t *r = run1(checks[i], false);
        assert_string_equal(json_string_value(json_object_get(r, "error_code")),
                            "DATABASE_OPERATION_FAILED");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r, "metadata"), "sqlstate")),
            "55000");
        json_decref(r);
    }
    assert_clean_inside(pid);
}

/* Within one batch the connection is the same for every request: each
 * caller still gets a clean session. */
static void test_clean_within_a_batch(void **state)
{
    (void)state;
    const char *payloads[] = {
        "{\"operation_type\": \"SELECT\", \"sql\": \"SELECT set_config("
        "'default_transaction_read_only', 'on', false)\"}",
        "{\"operation_type\": \"INSERT\", \"table\": \"items\", \"data\": {\"name\": \"b1\"}}",
        "{\"operation_type\": \"EXECUTE\", \"sql\": \"SELECT set_config('search_path', "
        "'elsewhere', false), pg_advisory_lock(4242)\"}",
        "{\"operation_type\": \"INSERT\", \"table\": \"items\", \"data\": {\"name\": \"b2\"}}",
        "{\"operation_type\": \"UPDATE\", \"table\": \"items\", \"data\": {\"name\": \"b3\"}, "
        "\"where\": {\"name\": \"b2\"}}",
        "{\"operation_type\": \"TRANSACTION\", \"operations\": [{\"operation_type\": "
        "\"SELECT\", \"sql\": \"SELECT set_config('TimeZone', 'Asia/Tokyo', false)\"}]}",
        "{\"operation_type\": \"DELETE\", \"table\": \"items\", \"where\": {\"name\": \"b3\"}}",
    };
    bool want[] = {true, true, true, true, true, true, true};
    json_t *out[7];
    run_batch(payloads, want, 7, out);
    for (size_t i = 0; i < 7; i++)
        json_decref(out[i]);
    assert_int_equal(count_sql("SELECT count(*) FROM items WHERE name IN ('b1', 'b2', 'b3')"), 1);
    json_int_t pid = backend_pid();
    assert_clean_outside(pid);
    assert_clean_inside(pid);
}

/* DISCARD ALL drops the adapter's prepared statements too: the pool's cache
 * of them must forget them, or the next group's statements fail (26000). */
static void test_prepared_cache_after_reset(void **state)
{
    (void)state;
    const char *group[] = {
        "{\"operation_type\": \"INSERT\", \"table\": \"items\", \"data\": {\"name\": \"g\"}, "
        "\"returning\": [\"id\"]}",
        "{\"operation_type\": \"INSERT\", \"table\": \"items\", \"data\": {\"name\": \"g\"}, "
        "\"returning\": [\"id\"]}",
        "{\"operation_type\": \"UPDATE\", \"table\": \"items\", \"data\": {\"name\": \"h\"}, "
        "\"where\": {\"name\": \"g\"}}"};
    bool want[] = {true, true, true};
    json_t *out[3];
    for (int round = 0; round < 3; round++) {
        run_batch(group, want, 3, out);
        for (size_t i = 0; i < 3; i++)
            json_decref(out[i]);
        json_decref(run1("{\"operation_type\": \"SELECT\", \"sql\": \"SELECT 1\"}", true));
    }
    assert_int_equal(count_sql("SELECT count(*) FROM items WHERE name = 'h'"), 6);
}

/* Item 7: the deadline applies to an envelope stamped at or before 1970
 * (it passed long ago): answered TIMEOUT_ERROR and not executed. */
static void test_deadline_at_and_before_epoch(void **state)
{
    (void)state;
    const char *stamps[] = {"1970-01-01T00:00:00.000Z", "1969-12-31T23:59:59.000Z",
                            "1969-12-31T23:59:59.999Z", "1900-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++) {
        dbev_request_t *req =
            request_at("{\"operation_type\": \"INSERT\", \"table\": \"items\", \"data\": "
                       "{\"name\": \"too late\"}, \"options\": {\"timeout_ms\": 5000}}",
                       stamps[i]);
        assert_true(req->has_timestamp);
        adapter_outcome_t out;
        adapter_exec_batch(ex, &req, 1, &out);
        assert_non_null(out.payload);
        const char *code = json_string_value(json_object_get(out.payload, "error_code"));
        if (out.completed || !code || strcmp(code, "TIMEOUT_ERROR") != 0) {
            char *s = json_dumps(out.payload, JSON_COMPACT);
            fail_msg("stamped %s: expected TIMEOUT_ERROR, got %s", stamps[i], s);
        }
        json_decref(out.payload);
        dbev_request_destroy(req);
    }
    assert_int_equal(count_sql("SELECT count(*) FROM items WHERE name = 'too late'"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_do_not_leak),
        cmocka_unit_test(test_session_objects_do_not_leak),
        cmocka_unit_test(test_currval_does_not_leak),
        cmocka_unit_test(test_clean_within_a_batch),
        cmocka_unit_test(test_prepared_cache_after_reset),
        cmocka_unit_test(test_deadline_at_and_before_epoch),
    };
    return cmocka_run_group_tests_name("exec_session", tests, group_setup, group_teardown);
}
