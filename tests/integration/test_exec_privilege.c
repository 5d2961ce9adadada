/*
 * Least privilege and request-keyed idempotency, against a throwaway
 * PostgreSQL: the executor connected as dbev_app (migration 007) answers a
 * caller's attempts at the server's files and programs, at other backends, at
 * roles and at the adapter's own records with permission denied (42501) and
 * changes nothing; the functions it may call give nothing away; an adapter
 * connected as a superuser refuses to start unless pg.allow.superuser, and
 * warns when allowed; an event id reused for a different request is refused
 * (EventIdReused) and never runs, alone or twice in one group, while the
 * same request again is answered from its record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbev_adapter.h"
#include "dedupe.h"
#include "exec.h"
#include "pg_kit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB "priv_test"

static pg_kit_t *pg;
static PGconn *direct;        /* the superuser's: setup and checks */
static const char *tmpdir;    /* pg's */
static const char *super_dsn; /* pg's */
static char app_dsn[1024];
static adapter_exec_t *ex; /* connected as dbev_app */

/* Warnings logged, to see the superuser warning. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char warnings[4096];

static void record_log(void *opaque, dbev_log_level_t level, const char *component,
                       const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE"))
        dbev_log_stderr(opaque, level, component, correlation_id, message);
    if (level != DBEV_LOG_WARN)
        return;
    pthread_mutex_lock(&log_lock);
    size_t len = strlen(warnings);
    snprintf(warnings + len, sizeof(warnings) - len, "%s\n", message);
    pthread_mutex_unlock(&log_lock);
}

static const dbev_logger_t logger = {
    .cb = record_log, .level = DBEV_LOG_DEBUG, .component = "priv"};

/* The application's tables exist before migration 007, which grants them. */
static const char *schema_sql = "CREATE TABLE notes (id serial PRIMARY KEY, body text);"
                                "CREATE TABLE victim (id int PRIMARY KEY);"
                                "INSERT INTO victim VALUES (1), (2), (3);";

static long count_sql(const char *sql)
{
    return pg_kit_count(direct, sql);
}

static adapter_exec_t *new_exec(const char *dsn, bool refuse_superuser, char *err, size_t size)
{
    adapter_exec_conf_t conf = {.conninfo = dsn,
                                .pool_min = 1,
                                .pool_max = 2,
                                .breaker_failure_threshold = 5,
                                .breaker_recovery_ms = 60000,
                                .breaker_success_threshold = 3,
                                .default_timeout_ms = 10000,
                                .dedupe_retention_ms = 24 * 3600 * 1000LL,
                                .refuse_superuser = refuse_superuser,
                                .logger = &logger};
    return adapter_exec_new(&conf, err, size);
}

static int group_teardown(void **state);

static int group_setup(void **state)
{
    char err[512];
    pg = pg_kit_new("priv-test", DB, schema_sql, &direct, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    tmpdir = pg->tmpdir;
    super_dsn = pg->dsn;
    /* migration 007, the very text the adapter carries */
    PGresult *res = PQexec(direct, dedupe_install_sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        fprintf(stderr, "setup: %s\n", PQerrorMessage(direct));
        group_teardown(state);
        return -1;
    }
    pgenv_dsn_as(pg->env, DB, PGENV_APP_ROLE, app_dsn, sizeof(app_dsn));
    ex = new_exec(app_dsn, true, err, sizeof(err));
    if (!ex) {
        fprintf(stderr, "adapter_exec_new as %s: %s\n", PGENV_APP_ROLE, err);
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

/* A decoded request for payload (JSON text). */
static dbev_request_t *request(const char *event_id, const char *payload)
{
    char ts[DBEV_ISO8601_SIZE], id[64], corr[64];
    if (!event_id) {
        dbev_uuid_new(id);
        event_id = id;
    }
    dbev_uuid_new(corr);
    dbev_iso8601(dbev_wall_us(), ts, sizeof(ts));
    size_t size = strlen(payload) + 512;
    char *text = malloc(size);
    assert_non_null(text);
    snprintf(text, size,
             "{\"event_id\": \"%s\", \"event_type\": \"DATABASE_QUERY_REQUESTED\", "
             "\"correlation_id\": \"%s\", \"timestamp\": \"%s\", \"service\": \"test\", "
             "\"payload\": %s}",
             event_id, corr, ts, payload);
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    if (dbev_request_decode(text, strlen(text), &req, &derr) != 0)
        fail_msg("decode %s: %s", text, derr.message);
    free(text);
    return req;
}

static const char *field(const json_t *p, const char *key)
{
    return json_string_value(json_object_get(p, key));
}

static bool cached(const json_t *p)
{
    return json_is_true(json_object_get(json_object_get(p, "metadata"), "cached"));
}

/* Runs one SELECT or EXECUTE of sql and expects permission denied. */
static void expect_denied(const char *op, const char *sql)
{
    json_t *payload = json_pack("{s:s, s:s}", "operation_type", op, "sql", sql);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    dbev_request_t *req = request(NULL, text);
    adapter_outcome_t out;
    adapter_exec_batch(ex, &req, 1, &out);
    char *answer = json_dumps(out.payload, JSON_COMPACT);
    print_message("%s -> %s\n", text, answer);
    const char *state = field(json_object_get(out.payload, "metadata"), "sqlstate");
    if (out.completed || !state || strcmp(state, "42501") != 0)
        fail_msg("%s: expected permission denied (42501), got %s", text, answer);
    assert_string_equal(field(out.payload, "error_code"), "DATABASE_OPERATION_FAILED");
    free(answer);
    free(text);
    json_decref(out.payload);
    dbev_request_destroy(req);
}

/* One SELECT as the caller; its first row's first value as text. */
static char *select1(const char *sql)
{
    json_t *payload = json_pack("{s:s, s:s}", "operation_type", "SELECT", "sql", sql);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    dbev_request_t *req = request(NULL, text);
    adapter_outcome_t out;
    adapter_exec_batch(ex, &req, 1, &out);
    if (!out.completed)
        fail_msg("%s: %s", text, json_dumps(out.payload, JSON_COMPACT));
    json_t *row = json_array_get(json_object_get(out.payload, "rows"), 0);
    const char *key;
    json_t *v;
    char *value = NULL;
    json_object_foreach(row, key, v)
    {
        value = json_dumps(v, JSON_ENCODE_ANY);
        break;
    }
    free(text);
    json_decref(out.payload);
    dbev_request_destroy(req);
    assert_non_null(value);
    return value;
}

/* One EXECUTE as the caller, expected to complete. */
static void execute1(const char *sql)
{
    json_t *payload = json_pack("{s:s, s:s}", "operation_type", "EXECUTE", "sql", sql);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    dbev_request_t *req = request(NULL, text);
    adapter_outcome_t out;
    adapter_exec_batch(ex, &req, 1, &out);
    if (!out.completed)
        fail_msg("%s: %s", text, json_dumps(out.payload, JSON_COMPACT));
    free(text);
    json_decref(out.payload);
    dbev_request_destroy(req);
}

/* ---- least privilege ----------------------------------------------------- */

static void test_connected_as_app_role(void **state)
{
    (void)state;
    char *who = select1("SELECT current_user || ',' || "
                        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)");
    assert_string_equal(who, "\"dbev_app,false\"");
    free(who);
}

static void test_server_files_programs_backends_roles_denied(void **state)
{
    (void)state;
    char marker[300], sql[600];
    snprintf(marker, sizeof(marker), "%s/copy-to-program-ran", tmpdir);
    long roles = count_sql("SELECT count(*) FROM pg_roles");
    long objects = count_sql("SELECT count(*) FROM pg_largeobject_metadata");
    int super_pid = PQbackendPID(direct);

    expect_denied("SELECT", "SELECT pg_read_file('/etc/passwd')");
    snprintf(sql, sizeof(sql), "COPY (SELECT 1) TO PROGRAM 'touch %s'", marker);
    expect_denied("EXECUTE", sql);
    expect_denied("SELECT", "SELECT lo_import('/etc/passwd')");
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", super_pid);
    expect_denied("SELECT", sql);
    expect_denied("EXECUTE", "CREATE ROLE evil SUPERUSER LOGIN");
    expect_denied("EXECUTE", "ALTER ROLE dbev_app SUPERUSER");
    expect_denied("EXECUTE", "DROP TABLE victim");

    /* nothing changed: no file, no role, no large object, the backend alive */
    assert_int_equal(access(marker, F_OK), -1);
    assert_int_equal(count_sql("SELECT count(*) FROM pg_roles"), roles);
    assert_int_equal(count_sql("SELECT count(*) FROM pg_largeobject_metadata"), objects);
    assert_int_equal(count_sql("SELECT count(*) FROM victim"), 3);
    assert_int_equal(PQbackendPID(direct), super_pid);
    assert_int_equal(count_sql("SELECT 1"), 1); /* still connected */
}

static void test_records_out_of_reach(void **state)
{
    (void)state;
    /* a record of someone else's request */
    dbev_request_t *req =
        request(NULL, "{\"operation_type\": \"INSERT\", \"table\": \"notes\", "
                      "\"data\": {\"body\": \"secret\"}, \"returning\": [\"id\", \"body\"]}");
    adapter_outcome_t out;
    adapter_exec_batch(ex, &req, 1, &out);
    assert_true(out.completed);
    json_decref(out.payload);
    long records = count_sql("SELECT count(*) FROM dbev_adapter.processed_events");
    assert_true(records >= 1);

    expect_denied("SELECT", "SELECT response FROM dbev_adapter.processed_events");
    expect_denied("EXECUTE", "DELETE FROM dbev_adapter.processed_events");
    expect_denied("EXECUTE", "UPDATE dbev_adapter.processed_events SET response = NULL");
    expect_denied("EXECUTE", "TRUNCATE dbev_adapter.processed_events");

    /* The functions the adapter may call, in a caller's hands: a lookup
     * without the request's fingerprint gives nothing but "used"; retention
     * keeps every record younger than an hour; store rewrites nothing it did
     * not claim in its own transaction. */
    char sql[512];
    snprintf(
        sql, sizeof(sql),
        "SELECT coalesce(operation, 'none') || ',' || coalesce(response::text, 'none') || ',' || "
        "reused FROM dbev_adapter.lookup("
        "ARRAY['%s'], ARRAY[repeat('0', 64)])",
        req->event_id);
    char *got = select1(sql);
    assert_string_equal(got, "\"none,none,true\"");
    free(got);
    execute1("SELECT dbev_adapter.retention(0, 1000000)");
    snprintf(sql, sizeof(sql),
             "SELECT dbev_adapter.store('%s', repeat('0', 64), '{\"forged\": true}')",
             req->event_id);
    execute1(sql);
    /* every record kept (and the two EXECUTEs recorded) */
    assert_int_equal(count_sql("SELECT count(*) FROM dbev_adapter.processed_events"), records + 2);
    assert_int_equal(count_sql("SELECT count(*) FROM dbev_adapter.processed_events"
                               " WHERE response::text LIKE '%forged%'"),
                     0);
    dbev_request_destroy(req);
}

/* ---- refusing a superuser -------------------------------------------------- */

static void test_superuser_refused_unless_allowed(void **state)
{
    (void)state;
    char err[512];
    adapter_exec_t *su = new_exec(super_dsn, true, err, sizeof(err));
    assert_null(su);
    print_message("refused: %s\n", err);
    assert_non_null(strstr(err, "superuser"));
    assert_non_null(strstr(err, "pg.allow.superuser=true"));

    /* The adapter's configuration: refused by default, started (with a
     * warning) when allowed. No broker is needed to create one. */
    for (int allow = 0; allow < 2; allow++) {
        dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
        const char *kv[] = {"env.fallback=false", "bootstrap.servers=127.0.0.1:9", "pool.min=1",
                            allow ? "pg.allow.superuser=true" : "pg.allow.superuser=false"};
        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
            assert_int_equal(dbev_adapter_conf_set_kv(conf, kv[i], err, sizeof(err)), 0);
        assert_int_equal(dbev_adapter_conf_set(conf, "pg.conninfo", super_dsn, err, sizeof(err)),
                         0);
        dbev_adapter_conf_set_log_cb(conf, record_log, NULL);
        pthread_mutex_lock(&log_lock);
        warnings[0] = '\0';
        pthread_mutex_unlock(&log_lock);
        dbev_adapter_t *adapter = dbev_adapter_new(conf, err, sizeof(err));
        if (!allow) {
            assert_null(adapter);
            assert_non_null(strstr(err, "pg.allow.superuser"));
            dbev_adapter_conf_destroy(conf);
            continue;
        }
        if (!adapter)
            fail_msg("dbev_adapter_new with pg.allow.superuser=true: %s", err);
        pthread_mutex_lock(&log_lock);
        bool warned = strstr(warnings, "superuser") != NULL;
        pthread_mutex_unlock(&log_lock);
        dbev_adapter_destroy(adapter);
        assert_true(warned);
    }
}

/* ---- idempotency keyed on the request -------------------------------------- */

static const char *insert_a = "{\"operation_type\": \"INSERT\", \"table\": \"notes\", "
                              "\"data\": {\"body\": \"reuse-a\"}, \"returning\": [\"id\"]}";
static const char *insert_b = "{\"operation_type\": \"INSERT\", \"table\": \"notes\", "
                              "\"data\": {\"body\": \"reuse-b\"}, \"returning\": [\"id\"]}";

static void assert_reused(const adapter_outcome_t *o, const char *id)
{
    char *text = json_dumps(o->payload, JSON_COMPACT);
    print_message("reused id -> %s\n", text);
    assert_false(o->completed);
    assert_string_equal(field(o->payload, "error_code"), "VALIDATION_ERROR");
    assert_string_equal(field(o->payload, "error_type"), "EventIdReused");
    assert_non_null(strstr(field(o->payload, "error_message"), id));
    free(text);
}

static void test_reused_id_refused_same_request_cached(void **state)
{
    (void)state;
    char id[64];
    dbev_uuid_new(id);
    dbev_request_t *first = request(id, insert_a);
    dbev_request_t *other = request(id, insert_b);
    dbev_request_t *update = request(id, "{\"operation_type\": \"UPDATE\", \"table\": \"notes\", "
                                         "\"data\": {\"body\": \"x\"}, \"where\": {\"id\": 1}}");
    /* the same request, with another timeout: still the same request */
    dbev_request_t *again =
        request(id, "{\"operation_type\": \"INSERT\", \"table\": \"notes\", \"data\": {\"body\": "
                    "\"reuse-a\"}, \"returning\": [\"id\"], \"options\": {\"timeout_ms\": 7000}}");
    adapter_outcome_t o1, o2, o3, o4;
    adapter_exec_batch(ex, &first, 1, &o1);
    assert_true(o1.completed);
    adapter_exec_batch(ex, &other, 1, &o2);
    assert_reused(&o2, id);
    adapter_exec_batch(ex, &update, 1, &o3);
    assert_reused(&o3, id);
    adapter_exec_batch(ex, &again, 1, &o4);
    assert_true(o4.completed);
    assert_true(cached(o4.payload));
    assert_true(
        json_equal(json_object_get(o1.payload, "rows"), json_object_get(o4.payload, "rows")));
    /* neither different request ran */
    assert_int_equal(count_sql("SELECT count(*) FROM notes WHERE body = 'reuse-a'"), 1);
    assert_int_equal(count_sql("SELECT count(*) FROM notes WHERE body IN ('reuse-b', 'x')"), 0);
    adapter_outcome_t *outs[] = {&o1, &o2, &o3, &o4};
    dbev_request_t *reqs[] = {first, other, update, again};
    for (int i = 0; i < 4; i++) {
        json_decref(outs[i]->payload);
        dbev_request_destroy(reqs[i]);
    }
}

/* Two different requests with one id in one batch: a group whose record
 * conflicts with itself. One runs; the other is refused and never runs. Then
 * both again in one batch: the first answered from its record, the second
 * refused again. */
static void test_reused_id_in_one_group(void **state)
{
    (void)state;
    char id[64];
    dbev_uuid_new(id);
    const char *plain_c = "{\"operation_type\": \"INSERT\", \"table\": \"notes\", "
                          "\"data\": {\"body\": \"group-c\"}}";
    const char *plain_d = "{\"operation_type\": \"INSERT\", \"table\": \"notes\", "
                          "\"data\": {\"body\": \"group-d\"}}";
    const char *neighbour = "{\"operation_type\": \"INSERT\", \"table\": \"notes\", "
                            "\"data\": {\"body\": \"group-n\"}}";
    for (int round = 0; round < 2; round++) {
        dbev_request_t *reqs[3] = {request(id, plain_c), request(NULL, neighbour),
                                   request(id, plain_d)};
        adapter_outcome_t out[3];
        adapter_exec_batch(ex, reqs, 3, out);
        assert_true(out[0].completed);
        assert_int_equal(cached(out[0].payload), round == 1);
        assert_true(out[1].completed);
        assert_false(cached(out[1].payload));
        assert_reused(&out[2], id);
        for (int i = 0; i < 3; i++) {
            json_decref(out[i].payload);
            dbev_request_destroy(reqs[i]);
        }
    }
    assert_int_equal(count_sql("SELECT count(*) FROM notes WHERE body = 'group-c'"), 1);
    assert_int_equal(count_sql("SELECT count(*) FROM notes WHERE body = 'group-d'"), 0);
    assert_int_equal(count_sql("SELECT count(*) FROM notes WHERE body = 'group-n'"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connected_as_app_role),
        cmocka_unit_test(test_server_files_programs_backends_roles_denied),
        cmocka_unit_test(test_records_out_of_reach),
        cmocka_unit_test(test_superuser_refused_unless_allowed),
        cmocka_unit_test(test_reused_id_refused_same_request_cached),
        cmocka_unit_test(test_reused_id_in_one_group),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
