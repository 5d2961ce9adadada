/*
 * Seed 002's three request examples (query, insert, update requests of
 * "Event Schemas"), sent to the real adapter (embedded) over the mock
 * cluster:
 *
 * - verbatim: their timestamps are 2025-10-30T10:00:00.000Z, so the deadline
 *   rule (timestamp + options.timeout_ms) refuses them unexecuted with
 *   TIMEOUT_ERROR; the message must say that the timestamp is older than
 *   timeout_ms and how to fix it, since a team copying the examples meets
 *   exactly this;
 * - re-stamped: the same events with the timestamp set to now and the
 *   placeholder "uuid" values made real UUIDs are executed, and each answer
 *   has the shape the seed documents (Query Completed: rows, row_count,
 *   execution_time_ms, metadata.cached and metadata.circuit_breaker_state).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_adapter_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 30000

/* The examples exactly as seed 002 prints them. */
static const char *const seed_query =
    "{\n"
    "  \"event_id\": \"uuid\",\n"
    "  \"event_type\": \"DATABASE_QUERY_REQUESTED\",\n"
    "  \"correlation_id\": \"uuid\",\n"
    "  \"timestamp\": \"2025-10-30T10:00:00.000Z\",\n"
    "  \"service\": \"omniclaude\",\n"
    "  \"payload\": {\n"
    "    \"operation_type\": \"SELECT\",\n"
    "    \"sql\": \"SELECT * FROM agent_execution_logs WHERE agent_name = $1\",\n"
    "    \"params\": [\"agent-researcher\"],\n"
    "    \"options\": {\n"
    "      \"timeout_ms\": 10000,\n"
    "      \"max_rows\": 1000\n"
    "    }\n"
    "  }\n"
    "}";

static const char *const seed_insert = "{\n"
                                       "  \"event_id\": \"uuid\",\n"
                                       "  \"event_type\": \"DATABASE_QUERY_REQUESTED\",\n"
                                       "  \"correlation_id\": \"uuid\",\n"
                                       "  \"timestamp\": \"2025-10-30T10:00:00.000Z\",\n"
                                       "  \"service\": \"omniclaude\",\n"
                                       "  \"payload\": {\n"
                                       "    \"operation_type\": \"INSERT\",\n"
                                       "    \"table\": \"agent_execution_logs\",\n"
                                       "    \"data\": {\n"
                                       "      \"execution_id\": \"uuid\",\n"
                                       "      \"agent_name\": \"agent-researcher\",\n"
                                       "      \"status\": \"in_progress\"\n"
                                       "    },\n"
                                       "    \"returning\": \"execution_id\",\n"
                                       "    \"options\": {\n"
                                       "      \"timeout_ms\": 5000\n"
                                       "    }\n"
                                       "  }\n"
                                       "}";

static const char *const seed_update = "{\n"
                                       "  \"event_id\": \"uuid\",\n"
                                       "  \"event_type\": \"DATABASE_QUERY_REQUESTED\",\n"
                                       "  \"correlation_id\": \"uuid\",\n"
                                       "  \"timestamp\": \"2025-10-30T10:00:00.000Z\",\n"
                                       "  \"service\": \"omniclaude\",\n"
                                       "  \"payload\": {\n"
                                       "    \"operation_type\": \"UPDATE\",\n"
                                       "    \"table\": \"agent_execution_logs\",\n"
                                       "    \"data\": {\n"
                                       "      \"status\": \"success\",\n"
                                       "      \"quality_score\": 0.95\n"
                                       "    },\n"
                                       "    \"where\": {\n"
                                       "      \"execution_id\": \"uuid\"\n"
                                       "    },\n"
                                       "    \"returning\": \"*\",\n"
                                       "    \"options\": {\n"
                                       "      \"timeout_ms\": 5000\n"
                                       "    }\n"
                                       "  }\n"
                                       "}";

/* The columns the examples use, as migrations/005 defines them. */
static const char *const schema =
    "CREATE TABLE agent_execution_logs ("
    " execution_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), correlation_id uuid,"
    " agent_name varchar(255) NOT NULL, status varchar(50) NOT NULL DEFAULT 'in_progress',"
    " quality_score decimal(5,4), created_at timestamptz NOT NULL DEFAULT now());";

typedef struct fixture {
    kit_t *kit;
    dbev_adapter_t *adapter;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    *state = f;
    f->kit = kit_new(schema, 1);
    static const char *const lone[] = {KIT_LONE_ADAPTER, NULL};
    f->adapter = kit_start_adapter(f->kit, lone, WAIT_MS);
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f)
        return 0;
    dbev_adapter_destroy(f->adapter);
    kit_destroy(f->kit);
    free(f);
    return 0;
}

/* Sends text, waits for the answer to corr (the n-th one carrying it). */
static const kit_resp_t *send_and_wait(fixture_t *f, const char *text, const char *corr, size_t n)
{
    kit_send_raw(f->kit, text, strlen(text), corr);
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    while (kit_count(f->kit, corr) < n && dbev_mono_us() < deadline)
        kit_collect(f->kit, f->kit->n_resps + 1, 100);
    size_t seen = 0;
    for (size_t i = 0; i < f->kit->n_resps; i++)
        if (!strcmp(f->kit->resps[i].correlation_id, corr) && ++seen == n)
            return &f->kit->resps[i];
    fail_msg("no answer %zu for correlation id %s within %d ms", n, corr, WAIT_MS);
    return NULL;
}

static json_t *payload_of(const kit_resp_t *r)
{
    json_t *doc = json_loads(r->text, 0, NULL);
    assert_non_null(doc);
    json_t *p = json_incref(json_object_get(doc, "payload"));
    json_decref(doc);
    assert_non_null(p);
    return p;
}

/* Verbatim: refused with TIMEOUT_ERROR, and the message explains the stale timestamp. */
static void test_verbatim_examples_explain_the_stale_timestamp(void **state)
{
    fixture_t *f = *state;
    const char *const examples[] = {seed_query, seed_insert, seed_update};
    for (size_t i = 0; i < 3; i++) {
        const kit_resp_t *r = send_and_wait(f, examples[i], "uuid", i + 1);
        assert_false(r->completed);
        json_t *p = payload_of(r);
        assert_string_equal(json_string_value(json_object_get(p, "error_code")), "TIMEOUT_ERROR");
        const char *msg = json_string_value(json_object_get(p, "error_message"));
        assert_non_null(msg);
        if (!strstr(msg, "2025-10-30T10:00:00") || !strstr(msg, "older than its timeout_ms") ||
            !strstr(msg, "Stamp the envelope's timestamp with the time of sending"))
            fail_msg("the message does not explain the stale timestamp: %s", msg);
        json_decref(p);
    }
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM agent_execution_logs"), 0);
}

/* The example with fresh ids, the timestamp set to now and "uuid" values made real. */
static char *restamped(const char *example, const char *execution_id, char *corr)
{
    json_t *ev = json_loads(example, 0, NULL);
    assert_non_null(ev);
    char id[40], ts[DBEV_ISO8601_SIZE];
    dbev_uuid_new(id);
    dbev_uuid_new(corr);
    json_object_set_new(ev, "event_id", json_string(id));
    json_object_set_new(ev, "correlation_id", json_string(corr));
    json_object_set_new(ev, "timestamp", json_string(dbev_iso8601(dbev_wall_us(), ts, sizeof(ts))));
    json_t *payload = json_object_get(ev, "payload");
    const char *const objects[] = {"data", "where"};
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_object_get(payload, objects[i]);
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            if (json_is_string(v) && !strcmp(json_string_value(v), "uuid"))
                json_object_set_new(o, key, json_string(execution_id));
        }
    }
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return text;
}

/* Query Completed's shape: operation_type, rows, row_count, execution_time_ms, metadata. */
static json_t *completed_shape(const kit_resp_t *r, const char *op)
{
    if (!r->completed)
        fail_msg("%s failed: %s", op, r->text);
    json_t *p = payload_of(r);
    assert_string_equal(json_string_value(json_object_get(p, "operation_type")), op);
    json_t *rows = json_object_get(p, "rows");
    assert_true(json_is_array(rows));
    assert_true(json_is_integer(json_object_get(p, "row_count")));
    assert_int_equal(json_integer_value(json_object_get(p, "row_count")), json_array_size(rows));
    assert_true(json_is_number(json_object_get(p, "execution_time_ms")));
    json_t *md = json_object_get(p, "metadata");
    assert_true(json_is_boolean(json_object_get(md, "cached")));
    assert_string_equal(json_string_value(json_object_get(md, "circuit_breaker_state")), "CLOSED");
    return p;
}

static void test_restamped_examples_answer_as_documented(void **state)
{
    fixture_t *f = *state;
    char execution_id[40], corr[40];
    dbev_uuid_new(execution_id);

    char *text = restamped(seed_insert, execution_id, corr);
    json_t *p = completed_shape(send_and_wait(f, text, corr, 1), "INSERT");
    free(text);
    json_t *row = json_array_get(json_object_get(p, "rows"), 0);
    assert_int_equal(json_object_size(row), 1); /* returning: "execution_id" */
    assert_string_equal(json_string_value(json_object_get(row, "execution_id")), execution_id);
    json_decref(p);

    text = restamped(seed_update, execution_id, corr);
    p = completed_shape(send_and_wait(f, text, corr, 1), "UPDATE");
    free(text);
    row = json_array_get(json_object_get(p, "rows"), 0); /* returning: "*" */
    assert_string_equal(json_string_value(json_object_get(row, "execution_id")), execution_id);
    assert_string_equal(json_string_value(json_object_get(row, "status")), "success");
    assert_non_null(json_object_get(row, "quality_score"));
    assert_non_null(json_object_get(row, "agent_name"));
    json_decref(p);

    text = restamped(seed_query, execution_id, corr);
    p = completed_shape(send_and_wait(f, text, corr, 1), "SELECT");
    free(text);
    assert_int_equal(json_array_size(json_object_get(p, "rows")), 1);
    row = json_array_get(json_object_get(p, "rows"), 0);
    const char *const keys[] = {"execution_id", "agent_name", "status", "quality_score"};
    for (size_t i = 0; i < 4; i++)
        assert_non_null(json_object_get(row, keys[i]));
    assert_string_equal(json_string_value(json_object_get(row, "agent_name")), "agent-researcher");
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbatim_examples_explain_the_stale_timestamp),
        cmocka_unit_test(test_restamped_examples_answer_as_documented),
    };
    return cmocka_run_group_tests_name("seed_examples", tests, setup, teardown);
}
