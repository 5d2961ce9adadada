/*
 * The adapter's own timing in its answers (docs/protocol.md): every answer's
 * metadata carries service_ms (consumption to the answer handed to the
 * producer), and within it pool_wait_ms (getting a connection) and db_ms
 * (on the connection). Checked here: the figures are there and hold their
 * relations (0 <= db_ms, pool_wait_ms; db_ms + pool_wait_ms <= service_ms);
 * a request sleeping 200 ms in PostgreSQL has db_ms >= 200; pool_wait_ms
 * grows when the pool has no connection ready (pool.max.queries=1: every
 * request waits for a connection of its own to be opened).
 * The adapter runs embedded (a thread) against a throwaway PostgreSQL and the
 * mock Kafka cluster (test_adapter_kit.h).
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

#define WAIT_MS 20000

typedef struct fixture {
    kit_t *kit;
    dbev_adapter_t *adapter;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->kit = kit_new("CREATE TABLE marks (id serial PRIMARY KEY, n integer NOT NULL);", 3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    dbev_adapter_destroy(f->adapter);
    kit_destroy(f->kit);
    free(f);
    return 0;
}

/* Starts a lone adapter (KIT_LONE_ADAPTER) with the kit's settings plus
 * settings (NULL-terminated "key=value"); teardown destroys it, also after a
 * failed assertion. */
static void start(fixture_t *f, const char *const *settings)
{
    dbev_adapter_conf_t *conf = kit_adapter_conf(f->kit);
    char err[512];
    if (dbev_adapter_conf_set_kv(conf, KIT_LONE_ADAPTER, err, sizeof(err)))
        fail_msg("%s: %s", KIT_LONE_ADAPTER, err);
    for (size_t i = 0; settings && settings[i]; i++)
        if (dbev_adapter_conf_set_kv(conf, settings[i], err, sizeof(err)))
            fail_msg("%s: %s", settings[i], err);
    f->adapter = dbev_adapter_new(conf, err, sizeof(err));
    if (!f->adapter) {
        dbev_adapter_conf_destroy(conf);
        fail_msg("adapter: %s", err);
    }
    if (dbev_adapter_start(f->adapter, err, sizeof(err)))
        fail_msg("adapter start: %s", err);
}

typedef struct timing {
    double service_ms, pool_wait_ms, db_ms;
} timing_t;

/* Sends one operation, waits for its answer and reads its timing; fails the
 * test when the answer lacks one of the three figures. */
static timing_t call(fixture_t *f, const char *payload)
{
    char cid[DBEV_ID_SIZE] = "";
    kit_send_op(f->kit, payload, cid, NULL, NULL);
    kit_flush(f->kit);
    const kit_resp_t *r = kit_wait(f->kit, cid, WAIT_MS);
    if (!r || !r->resp)
        fail_msg("no answer to %s", payload);
    static const char *const names[] = {"service_ms", "pool_wait_ms", "db_ms"};
    double v[3];
    for (int i = 0; i < 3; i++) {
        const json_t *n = json_object_get(r->resp->metadata, names[i]);
        if (!json_is_number(n))
            fail_msg("metadata.%s missing from %s", names[i], r->text);
        v[i] = json_number_value(n);
    }
    return (timing_t){v[0], v[1], v[2]};
}

/* The relations every answer's figures hold. */
static void check_relations(timing_t t, const char *what)
{
    if (!(t.db_ms >= 0 && t.pool_wait_ms >= 0 && t.db_ms <= t.service_ms &&
          t.db_ms + t.pool_wait_ms <= t.service_ms + 0.001))
        fail_msg("%s: service_ms %.3f, pool_wait_ms %.3f, db_ms %.3f do not hold "
                 "0 <= db_ms, pool_wait_ms and db_ms + pool_wait_ms <= service_ms",
                 what, t.service_ms, t.pool_wait_ms, t.db_ms);
}

static void test_relations(void **state)
{
    fixture_t *f = *state;
    start(f, NULL);
    static const char *const ops[] = {
        "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 1 AS one\"}",
        "{\"operation_type\":\"INSERT\",\"table\":\"marks\",\"data\":{\"n\":1}}",
        "{\"operation_type\":\"INSERT\",\"table\":\"marks\",\"data\":{\"n\":2},"
        "\"returning\":[\"id\"]}",
        /* refused before the database: no db time, the relations still hold */
        "{\"operation_type\":\"INSERT\",\"table\":\"no_such_table\",\"data\":{\"n\":3}}",
    };
    for (int round = 0; round < 5; round++)
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            check_relations(call(f, ops[i]), ops[i]);
}

static void test_db_time_of_a_sleep(void **state)
{
    fixture_t *f = *state;
    start(f, NULL);
    timing_t t = call(f, "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT pg_sleep(0.2) IS NULL "
                         "AS slept\"}");
    check_relations(t, "pg_sleep(0.2)");
    if (t.db_ms < 200.0)
        fail_msg("a request sleeping 200 ms in PostgreSQL has db_ms %.3f", t.db_ms);
    if (t.service_ms < t.db_ms)
        fail_msg("service_ms %.3f < db_ms %.3f", t.service_ms, t.db_ms);
}

/* The median pool wait of n SELECTs, each after the previous one's answer. */
static double median_pool_wait(fixture_t *f, int n)
{
    double w[32];
    for (int i = 0; i < n; i++) {
        timing_t t = call(f, "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 1 AS one\"}");
        check_relations(t, "SELECT 1");
        w[i] = t.pool_wait_ms;
    }
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && w[j] < w[j - 1]; j--) {
            double x = w[j];
            w[j] = w[j - 1];
            w[j - 1] = x;
        }
    return w[n / 2];
}

/* A pool that has no connection ready makes every request wait while one is
 * opened (PostgreSQL forks a backend and authenticates it: milliseconds); a
 * pool with idle connections hands one over in microseconds. */
static void test_pool_wait_grows(void **state)
{
    fixture_t *f = *state;
    static const char *const reuse[] = {"exec.lanes=1", "pool.min=1", NULL};
    start(f, reuse);
    double ready = median_pool_wait(f, 9);
    dbev_adapter_destroy(f->adapter);
    f->adapter = NULL;
    static const char *const exhausted[] = {"exec.lanes=1", "pool.min=1", "pool.max.queries=1",
                                            NULL};
    start(f, exhausted);
    double opened = median_pool_wait(f, 9);
    print_message("median pool_wait_ms: %.3f with a connection ready, %.3f opening one each "
                  "time\n",
                  ready, opened);
    if (!(opened > 0.3 && opened > 3 * ready))
        fail_msg("pool_wait_ms did not grow with no connection ready: median %.3f ms ready, "
                 "%.3f ms opening one each time",
                 ready, opened);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_time_of_a_sleep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_wait_grows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
