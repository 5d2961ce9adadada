/*
 * Integration test of the adapter (embedded) through a PostgreSQL outage:
 * the server is stopped (pgenv_stop_server) while requests keep coming, the
 * circuit breaker opens (answers CIRCUIT_BREAKER_OPEN without trying), the
 * health the heartbeats carry is no longer "healthy", the server comes back
 * (pgenv_start_server), the breaker closes again, and every request of the
 * whole run is answered exactly as it was executed: the rows in the table are
 * exactly the inserts answered as completed.
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
    int completed_inserts;
    int sent;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->kit = kit_new("CREATE TABLE t (id bigserial PRIMARY KEY, n integer NOT NULL);", 3);
    const char *kv[] = {"breaker.failure.threshold=3",
                        "breaker.recovery.timeout.ms=1000",
                        "breaker.success.threshold=2",
                        "pg.connect_timeout=2",
                        KIT_LONE_ADAPTER,
                        NULL};
    f->adapter = kit_start_adapter(f->kit, kv, 0);
    *state = f;
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

/* One INSERT, waited for; returns its answer. */
static const kit_resp_t *insert(fixture_t *f)
{
    char cid[DBEV_ID_SIZE] = "", payload[256];
    snprintf(payload, sizeof(payload),
             "{\"operation_type\":\"INSERT\",\"table\":\"t\",\"data\":{\"n\":%d}}", f->sent++);
    kit_send_op(f->kit, payload, cid, NULL, NULL);
    kit_flush(f->kit);
    const kit_resp_t *r = kit_wait(f->kit, cid, WAIT_MS);
    if (!r)
        fail_msg("request %d unanswered", f->sent - 1);
    if (r->completed)
        f->completed_inserts++;
    return r;
}

static void test_breaker_opens_and_closes(void **state)
{
    fixture_t *f = *state;
    char err[512];
    const kit_resp_t *r = insert(f);
    assert_true(r->completed);
    assert_string_equal(r->resp->circuit_breaker_state, "CLOSED");

    assert_int_equal(pgenv_stop_server(f->kit->pg, err, sizeof(err)), 0);
    bool saw_conn_failed = false, saw_open = false;
    for (int i = 0; i < 30 && !saw_open; i++) {
        r = insert(f);
        assert_false(r->completed);
        if (r->resp->error_code == DBEV_ERR_DATABASE_CONNECTION_FAILED)
            saw_conn_failed = true;
        if (r->resp->error_code == DBEV_ERR_CIRCUIT_BREAKER_OPEN) {
            saw_open = true;
            assert_string_equal(r->resp->circuit_breaker_state, "OPEN");
        }
    }
    assert_true(saw_conn_failed);
    assert_true(saw_open);
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(f->adapter, &stats);
    /* OPEN, or already HALF_OPEN if the recovery timeout has passed meanwhile */
    assert_int_not_equal(stats.breaker_state, DBEV_BREAKER_CLOSED);
    char *health = dbev_adapter_health_json(f->adapter);
    assert_null(strstr(health, "\"status\":\"healthy\""));
    free(health);

    assert_int_equal(pgenv_start_server(f->kit->pg, err, sizeof(err)), 0);
    /* keep asking until answers are completed with the breaker closed again */
    bool closed = false;
    int64_t deadline = dbev_mono_us() + 30 * 1000000LL;
    while (!closed && dbev_mono_us() < deadline) {
        r = insert(f);
        if (r->completed && !strcmp(r->resp->circuit_breaker_state, "CLOSED"))
            closed = true;
    }
    assert_true(closed);
    dbev_adapter_stats(f->adapter, &stats);
    assert_int_equal(stats.breaker_state, DBEV_BREAKER_CLOSED);
    /* every request answered once, and the table holds exactly the completed inserts */
    assert_int_equal(stats.completed + stats.failed, (uint64_t)f->sent);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM t"), f->completed_inserts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker_opens_and_closes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
