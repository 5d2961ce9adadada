/*
 * Tests of the event protocol's good paths: seed 002's five JSON examples
 * decode verbatim (they are kept as fixtures in tests/fixtures/protocol/),
 * every operation survives encode -> envelope -> dumps -> decode unchanged,
 * in-memory operations are validated with the decoder's rules, responses are
 * built and decoded, and the error-code and name tables hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dbev/protocol.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURES DBEV_SOURCE_DIR "/tests/fixtures/protocol/"

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s", FIXTURES, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(*len > 0);
    return buf;
}

static dbev_request_t *decode_ok(const char *text, size_t len)
{
    dbev_request_t *req = NULL;
    dbev_decode_error_t err;
    int rc = dbev_request_decode(text, len, &req, &err);
    if (rc != 0)
        fail_msg("decode refused: %s", err.message);
    assert_non_null(req);
    return req;
}

static void test_seed_select(void **state)
{
    size_t len;
    const char *text = read_fixture("seed002_select_request.json", &len);
    dbev_request_t *req = decode_ok(text, len);
    assert_string_equal(req->event_id, "uuid");
    assert_string_equal(req->correlation_id, "uuid");
    assert_string_equal(req->event_type, DBEV_EVENT_REQUESTED);
    assert_string_equal(req->service, "omniclaude");
    assert_int_equal(req->timestamp_us, 1761818400000000LL); /* 2025-10-30T10:00:00Z */
    assert_int_equal(req->op.type, DBEV_OP_SELECT);
    assert_string_equal(req->op.sql, "SELECT * FROM agent_execution_logs WHERE agent_name = $1");
    assert_int_equal(json_array_size(req->op.params), 1);
    assert_string_equal(json_string_value(json_array_get(req->op.params, 0)), "agent-researcher");
    assert_int_equal(req->op.timeout_ms, 10000);
    assert_int_equal(req->op.max_rows, 1000);
    assert_null(req->op.table);
    assert_null(req->op.returning);
    dbev_request_destroy(req);
}

static void test_seed_insert(void **state)
{
    size_t len;
    const char *text = read_fixture("seed002_insert_request.json", &len);
    dbev_request_t *req = decode_ok(text, len);
    assert_int_equal(req->op.type, DBEV_OP_INSERT);
    assert_string_equal(req->op.table, "agent_execution_logs");
    assert_int_equal(json_object_size(req->op.data), 3);
    assert_string_equal(json_string_value(json_object_get(req->op.data, "status")), "in_progress");
    /* "returning": "execution_id" is normalised to an array of names. */
    assert_true(json_is_array(req->op.returning));
    assert_int_equal(json_array_size(req->op.returning), 1);
    assert_string_equal(json_string_value(json_array_get(req->op.returning, 0)), "execution_id");
    assert_int_equal(req->op.timeout_ms, 5000);
    assert_int_equal(req->op.max_rows, DBEV_DEFAULT_MAX_ROWS);
    dbev_request_destroy(req);
}

static void test_seed_update(void **state)
{
    size_t len;
    const char *text = read_fixture("seed002_update_request.json", &len);
    dbev_request_t *req = decode_ok(text, len);
    assert_int_equal(req->op.type, DBEV_OP_UPDATE);
    assert_string_equal(req->op.table, "agent_execution_logs");
    assert_int_equal(json_object_size(req->op.data), 2);
    assert_true(json_is_real(json_object_get(req->op.data, "quality_score")));
    assert_string_equal(json_string_value(json_object_get(req->op.where, "execution_id")), "uuid");
    assert_int_equal(json_array_size(req->op.returning), 1);
    assert_string_equal(json_string_value(json_array_get(req->op.returning, 0)), "*");
    dbev_request_destroy(req);
}

static void test_seed_completed(void **state)
{
    size_t len;
    const char *text = read_fixture("seed002_query_completed.json", &len);
    dbev_response_t *resp = NULL;
    char errstr[256];
    assert_int_equal(dbev_response_decode(text, len, &resp, errstr, sizeof(errstr)), 0);
    assert_true(resp->completed);
    assert_string_equal(resp->correlation_id, "uuid");
    assert_string_equal(resp->service, "database-adapter-effect");
    assert_int_equal(resp->op, DBEV_OP_SELECT);
    assert_int_equal(resp->row_count, 1);
    assert_int_equal(json_array_size(resp->rows), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(resp->rows, 0), "agent_name")),
        "agent-researcher");
    assert_true(resp->execution_time_ms == 15.0);
    assert_false(resp->cached);
    assert_false(resp->truncated);
    assert_string_equal(resp->circuit_breaker_state, "CLOSED");
    assert_null(resp->results);
    assert_int_equal(resp->timestamp_us, 1761818400500000LL);
    dbev_response_destroy(resp);
    /* A response is not a request. */
    dbev_request_t *req = NULL;
    dbev_decode_error_t err;
    assert_int_equal(dbev_request_decode(text, len, &req, &err), -1);
    assert_null(req);
    assert_non_null(strstr(err.message, "event_type"));
    assert_string_equal(err.correlation_id, "uuid");
}

static void test_seed_failed(void **state)
{
    size_t len;
    const char *text = read_fixture("seed002_query_failed.json", &len);
    dbev_response_t *resp = NULL;
    char errstr[256];
    assert_int_equal(dbev_response_decode(text, len, &resp, errstr, sizeof(errstr)), 0);
    assert_false(resp->completed);
    assert_int_equal(resp->op, DBEV_OP_SELECT);
    assert_int_equal(resp->error_code, DBEV_ERR_DATABASE_OPERATION_FAILED);
    assert_string_equal(resp->error_message, "syntax error at or near \"SELET\"");
    assert_string_equal(resp->error_type, "PostgresError");
    assert_null(resp->sqlstate);
    assert_string_equal(resp->circuit_breaker_state, "CLOSED");
    /* extra metadata of the seed is kept */
    assert_string_equal(json_string_value(json_object_get(resp->metadata, "sql")),
                        "SELET * FROM agent_execution_logs");
    dbev_response_destroy(resp);
}

/* --- round trips ---------------------------------------------------------- */

static bool json_eq(const json_t *a, const json_t *b)
{
    if (!a || !b)
        return a == b;
    return json_equal(a, b);
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool op_equal(const dbev_operation_t *a, const dbev_operation_t *b)
{
    if (a->type != b->type || !str_eq(a->sql, b->sql) || !json_eq(a->params, b->params) ||
        !str_eq(a->table, b->table) || !json_eq(a->data, b->data) || !json_eq(a->rows, b->rows) ||
        !json_eq(a->where, b->where) || !json_eq(a->returning, b->returning) ||
        a->conflict != b->conflict || !json_eq(a->conflict_columns, b->conflict_columns) ||
        !json_eq(a->update_columns, b->update_columns) || a->n_ops != b->n_ops ||
        a->timeout_ms != b->timeout_ms || a->max_rows != b->max_rows)
        return false;
    for (size_t i = 0; i < a->n_ops; i++)
        if (!op_equal(&a->ops[i], &b->ops[i]))
            return false;
    return true;
}

/* encode -> envelope -> dumps -> decode, and compare */
static void round_trip(const dbev_operation_t *op)
{
    char errstr[512];
    if (dbev_operation_validate(op, errstr, sizeof(errstr)) != 0)
        fail_msg("validate refused %s: %s", dbev_op_name(op->type), errstr);
    json_t *payload = dbev_operation_to_json(op);
    assert_non_null(payload);
    json_t *event = dbev_envelope_new(DBEV_EVENT_REQUESTED, NULL, "corr-1", "test", 0, payload);
    assert_non_null(event);
    char *text = dbev_event_dumps(event);
    assert_non_null(text);
    dbev_request_t *req = decode_ok(text, strlen(text));
    assert_string_equal(req->correlation_id, "corr-1");
    assert_int_equal(strlen(req->event_id), 36);
    if (!op_equal(op, &req->op))
        fail_msg("round trip changed the operation: %s", text);
    dbev_request_destroy(req);
    free(text);
    json_decref(event);
}

static dbev_operation_t op_new(dbev_op_t type)
{
    dbev_operation_t op;
    memset(&op, 0, sizeof(op));
    op.type = type;
    op.max_rows = DBEV_DEFAULT_MAX_ROWS;
    return op;
}

static void test_round_trip_every_operation(void **state)
{
    dbev_operation_t sel = op_new(DBEV_OP_SELECT);
    sel.sql = "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3";
    sel.params = json_pack("[s, i, {s: [i, i]}]", "x", 42, "k", 1, 2);
    sel.timeout_ms = 2500;
    sel.max_rows = 10;
    round_trip(&sel);

    dbev_operation_t ins = op_new(DBEV_OP_INSERT);
    ins.table = "agent_observability.trace_events";
    ins.data = json_pack("{s:s, s:f, s:b, s:n, s:{s:[i]}}", "name", "a", "score", 0.5, "ok", 1,
                         "gone", "meta", "tags", 7);
    ins.returning = json_pack("[s, s]", "id", "created_at");
    round_trip(&ins);

    dbev_operation_t upd = op_new(DBEV_OP_UPDATE);
    upd.table = "agent_execution_logs";
    upd.data = json_pack("{s:s}", "status", "success");
    upd.where = json_pack("{s:s, s:{s:f}, s:{s:[i,i]}, s:{s:b}, s:n, s:{s:s}}", "execution_id",
                          "abc", "quality_score", "$lt", 0.5, "n", "$in", 1, 2, "deleted_at",
                          "$is_null", 1, "x", "name", "$like", "agent-%");
    upd.returning = json_pack("[s]", "*");
    upd.timeout_ms = 5000;
    round_trip(&upd);

    dbev_operation_t del = op_new(DBEV_OP_DELETE);
    del.table = "agent_routing_decisions";
    del.where = json_pack("{s:{s:f}, s:{s:s}}", "confidence_score", "$lt", 0.5, "created_at", "$lt",
                          "2025-01-01");
    round_trip(&del);

    dbev_operation_t ups = op_new(DBEV_OP_UPSERT);
    ups.table = "patterns";
    ups.data = json_pack("{s:s, s:i}", "name", "p", "count", 3);
    ups.conflict = DBEV_CONFLICT_DO_UPDATE;
    ups.conflict_columns = json_pack("[s]", "name");
    ups.update_columns = json_pack("[s]", "count");
    ups.returning = json_pack("[s]", "id");
    round_trip(&ups);

    dbev_operation_t ups_all = op_new(DBEV_OP_UPSERT); /* update_columns NULL: all others */
    ups_all.table = "patterns";
    ups_all.data = json_pack("{s:s, s:i}", "name", "p", "count", 3);
    ups_all.conflict = DBEV_CONFLICT_DO_UPDATE;
    ups_all.conflict_columns = json_pack("[s]", "name");
    round_trip(&ups_all);

    dbev_operation_t exe = op_new(DBEV_OP_EXECUTE);
    exe.sql = "UPDATE agent_execution_logs SET processed = TRUE WHERE status = $1";
    exe.params = json_pack("[s]", "success");
    round_trip(&exe);

    dbev_operation_t bat = op_new(DBEV_OP_BATCH_INSERT);
    bat.table = "events";
    bat.rows = json_pack("[{s:i, s:s}, {s:i, s:n}]", "id", 1, "v", "a", "id", 2, "v");
    bat.conflict = DBEV_CONFLICT_DO_NOTHING;
    bat.conflict_columns = json_pack("[s]", "id");
    bat.returning = json_pack("[s]", "id");
    round_trip(&bat);

    dbev_operation_t bat_up = op_new(DBEV_OP_BATCH_INSERT);
    bat_up.table = "events";
    bat_up.rows = json_pack("[{s:i, s:s}]", "id", 1, "v", "a");
    bat_up.conflict = DBEV_CONFLICT_DO_UPDATE;
    bat_up.conflict_columns = json_pack("[s]", "id");
    bat_up.update_columns = json_pack("[s]", "v");
    round_trip(&bat_up);

    dbev_operation_t bat_plain = op_new(DBEV_OP_BATCH_INSERT);
    bat_plain.table = "events";
    bat_plain.rows = json_pack("[{s:i}]", "id", 1);
    round_trip(&bat_plain);

    dbev_operation_t health = op_new(DBEV_OP_HEALTH);
    round_trip(&health);

    dbev_operation_t tx = op_new(DBEV_OP_TRANSACTION);
    dbev_operation_t inner[4] = {ins, upd, del, sel};
    inner[3].timeout_ms = 0; /* nested ops may not carry their own timeout */
    inner[1].timeout_ms = 0;
    tx.ops = inner;
    tx.n_ops = 4;
    tx.timeout_ms = 30000;
    round_trip(&tx);

    dbev_operation_t *all[] = {&sel,     &ins, &upd, &del,    &ups,
                               &ups_all, &exe, &bat, &bat_up, &bat_plain};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        json_decref(all[i]->params);
        json_decref(all[i]->data);
        json_decref(all[i]->rows);
        json_decref(all[i]->where);
        json_decref(all[i]->returning);
        json_decref(all[i]->conflict_columns);
        json_decref(all[i]->update_columns);
    }
}

static void test_returning_forms(void **state)
{
    const char *forms[][2] = {
        {"\"id\"", "[\"id\"]"},
        {"\"a, b\"", "[\"a\", \"b\"]"},
        {"\" a ,b,c \"", "[\"a\", \"b\", \"c\"]"},
        {"\"*\"", "[\"*\"]"},
        {"[\"x\", \"y\"]", "[\"x\", \"y\"]"},
        {"null", "null"},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"event_id\":\"e\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
                 "\"correlation_id\":\"c\",\"timestamp\":\"2025-10-30T10:00:00Z\","
                 "\"service\":\"s\",\"payload\":{\"operation_type\":\"INSERT\",\"table\":\"t\","
                 "\"data\":{\"a\":1},\"returning\":%s}}",
                 forms[i][0]);
        dbev_request_t *req = decode_ok(text, strlen(text));
        json_t *want = json_loads(forms[i][1], JSON_DECODE_ANY, NULL);
        assert_non_null(want);
        if (json_is_null(want))
            assert_null(req->op.returning);
        else
            assert_true(json_equal(req->op.returning, want));
        /* the normalised array lives in the document */
        if (req->op.returning)
            assert_ptr_equal(req->op.returning,
                             json_object_get(json_object_get(req->root, "payload"), "returning"));
        json_decref(want);
        dbev_request_destroy(req);
    }
}

static void test_timestamp_forms(void **state)
{
    const char *forms[] = {"2025-10-30T10:00:00Z", "2025-10-30T10:00:00.000Z",
                           "2025-10-30T12:00:00+02:00", "2025-10-30T10:00:00.000000",
                           "2025-10-30T10:00:00"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"event_id\":\"e\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
                 "\"correlation_id\":\"c\",\"timestamp\":\"%s\",\"service\":\"s\","
                 "\"payload\":{\"operation_type\":\"HEALTH\"}}",
                 forms[i]);
        dbev_request_t *req = decode_ok(text, strlen(text));
        assert_int_equal(req->timestamp_us, 1761818400000000LL);
        assert_int_equal(req->op.type, DBEV_OP_HEALTH);
        dbev_request_destroy(req);
    }
}

/* Times before, at and after the epoch go through the envelope encoder and
 * the decoder unchanged (to the millisecond the format keeps), and the
 * decoder says the request has a timestamp even when it is 0 (1970) or
 * negative: the adapter's deadline check depends on that. */
static void test_timestamp_around_epoch(void **state)
{
    const int64_t times[] = {
        -2208988800000000LL, -31536000000000LL, -1000000, -999000, -1000, 0, 1000, 1000000,
        1761818400500000LL};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        dbev_operation_t op = op_new(DBEV_OP_HEALTH);
        json_t *payload = dbev_operation_to_json(&op);
        assert_non_null(payload);
        /* dbev_envelope_new takes 0 as "now": that one is written by hand */
        char *text;
        if (times[i] == 0) {
            const char *ts = "1970-01-01T00:00:00.000Z";
            char *body = json_dumps(payload, JSON_COMPACT);
            assert_non_null(body);
            size_t size = strlen(body) + 256;
            text = malloc(size);
            snprintf(text, size,
                     "{\"event_id\":\"e\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
                     "\"correlation_id\":\"c\",\"timestamp\":\"%s\",\"service\":\"s\","
                     "\"payload\":%s}",
                     ts, body);
            free(body);
            json_decref(payload);
        } else {
            json_t *event =
                dbev_envelope_new(DBEV_EVENT_REQUESTED, "e", "c", "s", times[i], payload);
            text = dbev_event_dumps(event);
            json_decref(event);
        }
        assert_non_null(text);
        dbev_request_t *req = decode_ok(text, strlen(text));
        assert_true(req->has_timestamp);
        if (req->timestamp_us != times[i])
            fail_msg("%s decodes as %lld, expected %lld", text, (long long)req->timestamp_us,
                     (long long)times[i]);
        dbev_request_destroy(req);
        free(text);
    }
}

static void test_validate_in_memory(void **state)
{
    char errstr[512];
    dbev_operation_t op = op_new(DBEV_OP_INSERT);
    assert_int_equal(dbev_operation_validate(&op, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "payload.table: missing"));

    op.table = "users; DROP TABLE x";
    op.data = json_pack("{s:i}", "a", 1);
    assert_int_equal(dbev_operation_validate(&op, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "payload.table"));

    op.table = "users";
    op.sql = "SELECT 1"; /* does not belong to INSERT */
    assert_int_equal(dbev_operation_validate(&op, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "payload.sql: unknown field for INSERT"));
    op.sql = NULL;

    op.max_rows = -3;
    assert_int_equal(dbev_operation_validate(&op, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "payload.options.max_rows"));
    op.max_rows = 0; /* 0: default */
    assert_int_equal(dbev_operation_validate(&op, errstr, sizeof(errstr)), 0);
    json_decref(op.data);

    dbev_operation_t ups = op_new(DBEV_OP_UPSERT);
    ups.table = "t";
    ups.data = json_pack("{s:i, s:i}", "a", 1, "b", 2);
    ups.conflict_columns = json_pack("[s]", "a");
    ups.conflict = DBEV_CONFLICT_DO_NOTHING;
    assert_int_equal(dbev_operation_validate(&ups, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "BATCH_INSERT"));
    ups.conflict = DBEV_CONFLICT_NONE; /* left unset by a caller: UPSERT means DO_UPDATE */
    assert_int_equal(dbev_operation_validate(&ups, errstr, sizeof(errstr)), 0);
    json_decref(ups.data);
    json_decref(ups.conflict_columns);

    dbev_operation_t bad = op_new((dbev_op_t)42);
    assert_int_equal(dbev_operation_validate(&bad, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "operation_type"));

    dbev_operation_t tx = op_new(DBEV_OP_TRANSACTION);
    dbev_operation_t inner[2] = {op_new(DBEV_OP_SELECT), op_new(DBEV_OP_DELETE)};
    inner[0].sql = "SELECT 1";
    inner[1].table = "t";
    tx.ops = inner;
    tx.n_ops = 2;
    assert_int_equal(dbev_operation_validate(&tx, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "payload.operations[1].where: missing"));

    assert_int_equal(dbev_operation_validate(NULL, errstr, sizeof(errstr)), -1);
}

/* --- responses ------------------------------------------------------------ */

static dbev_response_t *response_round_trip(json_t *payload, const char *event_type)
{
    json_t *event =
        dbev_envelope_new(event_type, NULL, "corr-9", "database-adapter-effect", 0, payload);
    assert_non_null(event);
    char *text = dbev_event_dumps(event);
    json_decref(event);
    dbev_response_t *resp = NULL;
    char errstr[256];
    if (dbev_response_decode(text, strlen(text), &resp, errstr, sizeof(errstr)) != 0)
        fail_msg("response refused: %s (%s)", errstr, text);
    free(text);
    assert_string_equal(resp->correlation_id, "corr-9");
    return resp;
}

static void test_completed_payload(void **state)
{
    json_t *rows = json_pack("[{s:i}, {s:i}]", "id", 1, "id", 2);
    json_t *extra = json_pack("{s:i}", "skipped", 3);
    json_t *payload = dbev_completed_payload_new(DBEV_OP_BATCH_INSERT, rows, 2, 1.5,
                                                 DBEV_BREAKER_HALF_OPEN, true, true, extra);
    json_t *md = json_object_get(payload, "metadata");
    assert_true(json_is_true(json_object_get(md, "cached")));
    assert_true(json_is_true(json_object_get(md, "truncated")));
    assert_string_equal(json_string_value(json_object_get(md, "circuit_breaker_state")),
                        "HALF_OPEN");
    assert_string_equal(json_string_value(json_object_get(payload, "operation_type")),
                        "BATCH_INSERT");
    dbev_response_t *resp = response_round_trip(payload, DBEV_EVENT_COMPLETED);
    assert_true(resp->completed);
    assert_int_equal(resp->op, DBEV_OP_BATCH_INSERT);
    assert_int_equal(resp->row_count, 2);
    assert_int_equal(json_array_size(resp->rows), 2);
    assert_true(resp->execution_time_ms == 1.5);
    assert_true(resp->cached);
    assert_true(resp->truncated);
    assert_string_equal(resp->circuit_breaker_state, "HALF_OPEN");
    assert_int_equal(json_integer_value(json_object_get(resp->metadata, "skipped")), 3);
    dbev_response_destroy(resp);

    /* NULL rows: an empty array; TRANSACTION results are carried */
    payload = dbev_completed_payload_new(DBEV_OP_TRANSACTION, NULL, 0, 0, DBEV_BREAKER_CLOSED,
                                         false, false, NULL);
    assert_true(json_is_array(json_object_get(payload, "rows")));
    json_object_set_new(
        payload, "results",
        json_pack("[o]", dbev_completed_payload_new(DBEV_OP_DELETE, NULL, 4, 0.2,
                                                    DBEV_BREAKER_CLOSED, false, false, NULL)));
    resp = response_round_trip(payload, DBEV_EVENT_COMPLETED);
    assert_int_equal(resp->op, DBEV_OP_TRANSACTION);
    assert_int_equal(json_array_size(resp->results), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(resp->results, 0), "row_count")), 4);
    assert_false(resp->cached);
    dbev_response_destroy(resp);
}

static void test_failed_payload(void **state)
{
    json_t *payload = dbev_failed_payload_new(DBEV_OP_INSERT, DBEV_ERR_DATABASE_OPERATION_FAILED,
                                              "duplicate key value violates unique constraint",
                                              NULL, "23505", DBEV_BREAKER_CLOSED,
                                              json_pack("{s:i}", "failed_operation_index", 1));
    json_t *md = json_object_get(payload, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "operation")), "INSERT");
    assert_string_equal(json_string_value(json_object_get(md, "sqlstate")), "23505");
    assert_string_equal(json_string_value(json_object_get(payload, "error_type")), "PostgresError");
    dbev_response_t *resp = response_round_trip(payload, DBEV_EVENT_FAILED);
    assert_false(resp->completed);
    assert_int_equal(resp->op, DBEV_OP_INSERT);
    assert_int_equal(resp->error_code, DBEV_ERR_DATABASE_OPERATION_FAILED);
    assert_string_equal(resp->sqlstate, "23505");
    assert_string_equal(resp->error_type, "PostgresError");
    assert_string_equal(resp->circuit_breaker_state, "CLOSED");
    assert_int_equal(json_integer_value(json_object_get(resp->metadata, "failed_operation_index")),
                     1);
    dbev_response_destroy(resp);

    /* no sqlstate: metadata.sqlstate is null; an unknown operation is null too */
    payload = dbev_failed_payload_new((dbev_op_t)-1, DBEV_ERR_VALIDATION_ERROR,
                                      "event: not valid JSON", NULL, NULL, DBEV_BREAKER_OPEN, NULL);
    md = json_object_get(payload, "metadata");
    assert_true(json_is_null(json_object_get(md, "sqlstate")));
    assert_true(json_is_null(json_object_get(md, "operation")));
    assert_true(json_is_null(json_object_get(payload, "operation_type")));
    resp = response_round_trip(payload, DBEV_EVENT_FAILED);
    assert_int_equal(resp->op, -1);
    assert_int_equal(resp->error_code, DBEV_ERR_VALIDATION_ERROR);
    assert_null(resp->sqlstate);
    assert_string_equal(resp->error_type, "ValidationError");
    assert_string_equal(resp->circuit_breaker_state, "OPEN");
    dbev_response_destroy(resp);

    /* a message that is not UTF-8 still makes a valid payload */
    payload =
        dbev_failed_payload_new(DBEV_OP_SELECT, DBEV_ERR_DATABASE_OPERATION_FAILED, "bad \xff byte",
                                "PostgresError", NULL, DBEV_BREAKER_CLOSED, NULL);
    assert_string_equal(json_string_value(json_object_get(payload, "error_message")), "bad ? byte");
    json_decref(payload);
}

static void test_response_refusals(void **state)
{
    const char *bad[][2] = {
        {"nope", "not valid JSON"},
        {"{\"event_type\":\"DATABASE_QUERY_REQUESTED\",\"correlation_id\":\"c\",\"payload\":{}}",
         "event_type"},
        {"{\"event_type\":\"DATABASE_QUERY_COMPLETED\",\"payload\":{}}", "correlation_id"},
        {"{\"event_type\":\"DATABASE_QUERY_COMPLETED\",\"correlation_id\":\"c\"}", "payload"},
        {"{\"event_type\":\"DATABASE_QUERY_COMPLETED\",\"correlation_id\":\"c\","
         "\"payload\":{\"rows\":{}}}",
         "payload.rows"},
        {"{\"event_type\":\"DATABASE_QUERY_FAILED\",\"correlation_id\":\"c\","
         "\"payload\":{\"error_code\":\"OOPS\",\"error_message\":\"x\"}}",
         "payload.error_code"},
        {"{\"event_type\":\"DATABASE_QUERY_FAILED\",\"correlation_id\":\"c\","
         "\"payload\":{\"error_code\":\"TIMEOUT_ERROR\"}}",
         "payload.error_message"},
        {"{\"event_type\":\"DATABASE_QUERY_COMPLETED\",\"correlation_id\":\"c\","
         "\"payload\":{\"metadata\":{\"cached\":\"no\"}}}",
         "payload.metadata.cached"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dbev_response_t *resp = (dbev_response_t *)1;
        char errstr[256] = "";
        assert_int_equal(
            dbev_response_decode(bad[i][0], strlen(bad[i][0]), &resp, errstr, sizeof(errstr)), -1);
        assert_null(resp);
        if (!strstr(errstr, bad[i][1]))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, errstr, bad[i][1]);
    }
}

/* --- names and tables ----------------------------------------------------- */

static void test_error_names(void **state)
{
    const struct {
        dbev_err_t err;
        const char *name;
        bool retriable;
        bool wire;
    } table[] = {
        {DBEV_ERR_DATABASE_CONNECTION_FAILED, "DATABASE_CONNECTION_FAILED", true, true},
        {DBEV_ERR_DATABASE_OPERATION_FAILED, "DATABASE_OPERATION_FAILED", false, true},
        {DBEV_ERR_VALIDATION_ERROR, "VALIDATION_ERROR", false, true},
        {DBEV_ERR_TIMEOUT_ERROR, "TIMEOUT_ERROR", true, true},
        {DBEV_ERR_CIRCUIT_BREAKER_OPEN, "CIRCUIT_BREAKER_OPEN", false, true},
        {DBEV_ERR__TIMEOUT, "_TIMEOUT", true, false},
        {DBEV_ERR__TRANSPORT, "_TRANSPORT", true, false},
        {DBEV_ERR__CANCELLED, "_CANCELLED", false, false},
        {DBEV_ERR__INVALID_ARG, "_INVALID_ARG", false, false},
        {DBEV_ERR__BAD_RESPONSE, "_BAD_RESPONSE", false, false},
        {DBEV_ERR__UNHEALTHY, "_UNHEALTHY", false, false},
        {DBEV_ERR_NO_ERROR, "NO_ERROR", false, false},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        assert_string_equal(dbev_err2name(table[i].err), table[i].name);
        assert_true(strlen(dbev_err2str(table[i].err)) > 0);
        assert_int_equal(dbev_err_is_retriable(table[i].err), table[i].retriable);
        assert_int_equal(dbev_err_is_wire(table[i].err), table[i].wire);
        dbev_err_t parsed = DBEV_ERR_NO_ERROR;
        if (table[i].wire) {
            assert_int_equal(dbev_err_from_name(table[i].name, &parsed), 0);
            assert_int_equal(parsed, table[i].err);
        } else {
            assert_int_equal(dbev_err_from_name(table[i].name, &parsed), -1);
        }
    }
    assert_int_equal(dbev_err_from_name("validation_error", NULL), -1);
    assert_int_equal(dbev_err_from_name(NULL, NULL), -1);
    assert_string_equal(dbev_err2name((dbev_err_t)77), "_UNKNOWN");
}

static void test_op_and_topic_names(void **state)
{
    const char *names[] = {"SELECT",  "INSERT",      "UPDATE",       "DELETE", "UPSERT",
                           "EXECUTE", "TRANSACTION", "BATCH_INSERT", "HEALTH"};
    for (int i = 0; i < DBEV_OP__COUNT; i++) {
        assert_string_equal(dbev_op_name((dbev_op_t)i), names[i]);
        dbev_op_t op;
        assert_int_equal(dbev_op_parse(names[i], &op), 0);
        assert_int_equal(op, i);
    }
    assert_null(dbev_op_name(DBEV_OP__COUNT));
    assert_int_equal(dbev_op_parse("select", NULL), -1);
    assert_false(dbev_op_is_write(DBEV_OP_SELECT));
    assert_false(dbev_op_is_write(DBEV_OP_HEALTH));
    assert_true(dbev_op_is_write(DBEV_OP_INSERT));
    assert_true(dbev_op_is_write(DBEV_OP_TRANSACTION));
    assert_true(dbev_op_is_write(DBEV_OP_EXECUTE));

    char buf[128];
    assert_string_equal(dbev_topic_name("dev", DBEV_TOPIC_REQUESTED, buf, sizeof(buf)),
                        "dev.omninode-bridge.database.query-requested.v1");
    assert_string_equal(dbev_topic_name("dev", DBEV_TOPIC_COMPLETED, buf, sizeof(buf)),
                        "dev.omninode-bridge.database.query-completed.v1");
    assert_string_equal(dbev_topic_name("staging", DBEV_TOPIC_FAILED, buf, sizeof(buf)),
                        "staging.omninode-bridge.database.query-failed.v1");
    assert_string_equal(dbev_topic_name(NULL, DBEV_TOPIC_REGISTRY, buf, sizeof(buf)),
                        "dev.omninode-bridge.registry.service-registered.v1");
    assert_string_equal(dbev_topic_name("dev", DBEV_TOPIC_HEARTBEAT, buf, sizeof(buf)),
                        "dev.omninode-bridge.registry.heartbeat.v1");
    assert_string_equal(dbev_breaker_state_name(DBEV_BREAKER_HALF_OPEN), "HALF_OPEN");
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Version 4, RFC 4122 variant, all distinct over several refills of the
 * per-thread buffer; a forked child does not repeat its parent's next ones. */
static void test_uuid(void **state)
{
    (void)state;
    enum { N = 2000 }; /* 31 refills of 64 */
    char(*ids)[37] = calloc(N, 37);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        dbev_uuid_new(ids[i]);
        assert_int_equal(strlen(ids[i]), 36);
        assert_int_equal(ids[i][8], '-');
        assert_int_equal(ids[i][14], '4');           /* version 4 */
        assert_non_null(strchr("89ab", ids[i][19])); /* RFC 4122 variant */
    }
    qsort(ids, N, 37, cmp_ids);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char child[37];
        dbev_uuid_new(child);
        ssize_t w = write(fds[1], child, 37);
        _exit(w == 37 ? 0 : 1);
    }
    char parent[37], child[37];
    dbev_uuid_new(parent);
    assert_int_equal(read(fds[0], child, 37), 37);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_not_equal(parent, child);
    close(fds[0]);
    close(fds[1]);
}

/* dbev_envelope_dumps writes the bytes dbev_event_dumps(dbev_envelope_new())
 * does, whatever the strings hold; and refuses what jansson refuses. */
static void test_envelope_dumps(void **state)
{
    (void)state;
    const char *ids[] = {"c0ffee00-0000-4000-8000-000000000000",
                         "quote \" and back\\slash",
                         "tab\tnew\nline",
                         "ctl \x01 del \x7f",
                         "caf\xc3\xa9 \xe2\x82\xac",
                         "",
                         "/slash/"};
    json_t *payload =
        json_pack("{s:s, s:[{s:i, s:s}], s:i, s:f, s:{s:b, s:s}}", "operation_type", "INSERT",
                  "rows", "id", 7, "name", "x\"y", "row_count", 1, "execution_time_ms", 1.25,
                  "metadata", "cached", 0, "circuit_breaker_state", "CLOSED");
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char *fast = dbev_envelope_dumps(DBEV_EVENT_COMPLETED, "e-1", ids[i], ids[i],
                                         1761818400000000, payload);
        json_t *event = dbev_envelope_new(DBEV_EVENT_COMPLETED, "e-1", ids[i], ids[i],
                                          1761818400000000, json_incref(payload));
        char *slow = dbev_event_dumps(event);
        assert_non_null(fast);
        assert_non_null(slow);
        assert_string_equal(fast, slow);
        free(fast);
        free(slow);
        json_decref(event);
    }
    /* not UTF-8: no event, as with the envelope object */
    assert_null(dbev_envelope_dumps(DBEV_EVENT_FAILED, "e-2", "bad \xff", "svc", 0, payload));
    assert_null(dbev_envelope_dumps(DBEV_EVENT_FAILED, "e-2", "c", "svc", 0, NULL));
    /* defaults: a new event id, the time now */
    char *text = dbev_envelope_dumps(DBEV_EVENT_FAILED, NULL, "c", NULL, 0, payload);
    json_t *back = json_loads(text, 0, NULL);
    assert_non_null(back);
    assert_int_equal(strlen(json_string_value(json_object_get(back, "event_id"))), 36);
    assert_string_equal(json_string_value(json_object_get(back, "service")), "dbev");
    assert_true(json_equal(json_object_get(back, "payload"), payload));
    json_decref(back);
    free(text);
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_select),
        cmocka_unit_test(test_seed_insert),
        cmocka_unit_test(test_seed_update),
        cmocka_unit_test(test_seed_completed),
        cmocka_unit_test(test_seed_failed),
        cmocka_unit_test(test_round_trip_every_operation),
        cmocka_unit_test(test_returning_forms),
        cmocka_unit_test(test_timestamp_forms),
        cmocka_unit_test(test_timestamp_around_epoch),
        cmocka_unit_test(test_validate_in_memory),
        cmocka_unit_test(test_completed_payload),
        cmocka_unit_test(test_failed_payload),
        cmocka_unit_test(test_response_refusals),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_op_and_topic_names),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_envelope_dumps),
    };
    return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
