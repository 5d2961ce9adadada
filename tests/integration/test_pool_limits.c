/*
 * The connection pool's limits of seeds 003 and 004 against a throwaway
 * PostgreSQL (pgenv): a connection is replaced after pool.max.queries
 * requests (its backend pid changes), an idle connection is closed after
 * pool.idle.timeout.ms, a server that never answers the startup packet is
 * given up after pool.connect.timeout.ms, pool.command.timeout.ms bounds a
 * statement that has no timeout of its own (and survives a session reset),
 * reconnecting after a failure counts as recovery_attempts, and HEALTH
 * reports the configured saturation threshold and DEGRADED at it.
 *
 * Waits are on conditions with deadlines; the only time bounds asserted are
 * upper bounds with a wide margin.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "exec.h"
#include "pg_kit.h"
#include "pool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 15000

static pg_kit_t *pg;
static const char *dsn; /* pg's */

static void quiet_log(void *opaque, dbev_log_level_t level, const char *component,
                      const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE"))
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

static const dbev_logger_t logger = {.cb = quiet_log, .level = DBEV_LOG_DEBUG, .component = "pool"};

static int group_setup(void **state)
{
    (void)state;
    char err[512];
    pg = pg_kit_new("pool-test", "pool_test", NULL, NULL, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    dsn = pg->dsn;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pg_kit_destroy(pg);
    return 0;
}

static pool_t *new_pool(pool_conf_t conf)
{
    if (!conf.conninfo)
        conf.conninfo = dsn;
    conf.logger = &logger;
    pool_t *pool = pool_new(&conf);
    assert_non_null(pool);
    return pool;
}

/* Acquires, counts one request against the connection, returns its backend pid. */
static int one_request(pool_t *pool)
{
    char err[512];
    pool_conn_t *pc = pool_acquire(pool, err, sizeof(err));
    if (!pc)
        fail_msg("pool_acquire: %s", err);
    int pid = PQbackendPID(pc->conn);
    pool_record(pool, 1, 0, 100, NULL);
    pool_release(pool, pc, false);
    return pid;
}

/* pool.max.queries=3: three requests on one backend, the fourth on a new one. */
static void test_replaced_after_max_queries(void **state)
{
    (void)state;
    pool_t *pool = new_pool((pool_conf_t){.min = 1, .max = 2, .max_queries = 3});
    int pid = one_request(pool);
    assert_int_equal(one_request(pool), pid);
    assert_int_equal(one_request(pool), pid);
    int next = one_request(pool);
    assert_int_not_equal(next, pid);
    pool_stats_t st;
    pool_stats(pool, &st);
    assert_int_equal(st.retired, 1);
    assert_int_equal(st.queries, 4);
    pool_destroy(pool);

    /* 0: no limit */
    pool = new_pool((pool_conf_t){.min = 1, .max = 2});
    pid = one_request(pool);
    for (int i = 0; i < 10; i++)
        assert_int_equal(one_request(pool), pid);
    pool_destroy(pool);
}

/* pool.idle.timeout.ms: an idle connection is kept a while, then closed. */
static void test_idle_connection_closed(void **state)
{
    (void)state;
    pool_t *pool = new_pool((pool_conf_t){.min = 0, .max = 2, .idle_timeout_ms = 300});
    one_request(pool);
    pool_stats_t st;
    pool_maintain(pool);
    pool_stats(pool, &st);
    assert_int_equal(st.size, 1); /* just released: not idle long enough */
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    do {
        poll(NULL, 0, 50);
        pool_maintain(pool);
        pool_stats(pool, &st);
    } while (st.size > 0 && dbev_mono_us() < deadline);
    assert_int_equal(st.size, 0);
    assert_int_equal(st.retired, 1);
    pool_destroy(pool);

    /* with pool.min=1 the idle connection is replaced by a fresh one */
    pool = new_pool((pool_conf_t){.min = 1, .max = 2, .idle_timeout_ms = 300});
    int pid = one_request(pool);
    deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    do {
        poll(NULL, 0, 50);
        pool_maintain(pool);
        pool_stats(pool, &st);
    } while (st.retired == 0 && dbev_mono_us() < deadline);
    assert_int_equal(st.retired, 1);
    assert_int_equal(st.size, 1);
    assert_int_not_equal(one_request(pool), pid);
    pool_destroy(pool);
}

/* A server that accepts TCP but never answers: connect gives up in time. */
static void test_connect_timeout(void **state)
{
    (void)state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 8), 0); /* never accept()ed: the kernel completes the handshake */
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &len), 0);
    char conninfo[256];
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d dbname=x user=x sslmode=disable",
             ntohs(sa.sin_port));
    pool_t *pool = new_pool(
        (pool_conf_t){.conninfo = conninfo, .min = 0, .max = 1, .connect_timeout_ms = 2000});
    char err[512];
    int64_t t0 = dbev_mono_us();
    assert_null(pool_acquire(pool, err, sizeof(err)));
    int64_t ms = (dbev_mono_us() - t0) / 1000;
    if (ms > 2000 + 5000)
        fail_msg("a 2 s connect timeout gave up after %lld ms: %s", (long long)ms, err);
    if (!strstr(err, "timeout"))
        fail_msg("not a timeout: %s", err);
    pool_destroy(pool);
    close(ls);
}

static char *show(PGconn *conn, const char *sql)
{
    char err[256];
    PGresult *res = pool_exec(conn, sql, 0, NULL, dbev_mono_us() + WAIT_MS * 1000LL, err, 256);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, res ? PQresultErrorMessage(res) : err);
    char *v = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

/* pool.command.timeout.ms is every pooled session's statement_timeout. */
static void test_command_timeout(void **state)
{
    (void)state;
    pool_t *pool = new_pool((pool_conf_t){.min = 0, .max = 1, .command_timeout_ms = 300});
    char err[512];
    pool_conn_t *pc = pool_acquire(pool, err, sizeof(err));
    assert_non_null(pc);
    char *v = show(pc->conn, "SHOW statement_timeout");
    assert_string_equal(v, "300ms");
    free(v);
    PGresult *res = pool_exec(pc->conn, "SELECT pg_sleep(10)", 0, NULL,
                              dbev_mono_us() + WAIT_MS * 1000LL, err, sizeof(err));
    assert_non_null(res);
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "57014");
    PQclear(res);
    /* a session reset (DISCARD ALL) puts it back */
    assert_int_equal(pool_reset_session(pc, dbev_mono_us() + WAIT_MS * 1000LL, err, sizeof(err)),
                     0);
    v = show(pc->conn, "SHOW statement_timeout");
    assert_string_equal(v, "300ms");
    free(v);
    pool_release(pool, pc, false);
    pool_destroy(pool);

    /* 0: the server's default */
    pool = new_pool((pool_conf_t){.min = 0, .max = 1});
    pc = pool_acquire(pool, err, sizeof(err));
    assert_non_null(pc);
    v = show(pc->conn, "SHOW statement_timeout");
    assert_string_equal(v, "0");
    free(v);
    pool_release(pool, pc, false);
    pool_destroy(pool);
}

/* Connecting again after a failed attempt is a recovery attempt. */
static void test_recovery_attempts(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    char conninfo[256]; /* a bound port nobody listens on: refused at once */
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d dbname=x user=x",
             ntohs(sa.sin_port));
    pool_t *pool = new_pool((pool_conf_t){.conninfo = conninfo, .min = 0, .max = 1});
    char err[512];
    for (int i = 0; i < 3; i++)
        assert_null(pool_acquire(pool, err, sizeof(err)));
    pool_stats_t st;
    pool_stats(pool, &st);
    assert_int_equal(st.connect_failures, 3);
    assert_int_equal(st.recovery_attempts, 2);
    pool_destroy(pool);
    close(s);
}

static json_t *health_of(double saturation_pct, int pool_max)
{
    adapter_exec_conf_t conf = {.conninfo = dsn,
                                .pool_min = 1,
                                .pool_max = pool_max,
                                .breaker_failure_threshold = 5,
                                .breaker_recovery_ms = 60000,
                                .breaker_success_threshold = 3,
                                .default_timeout_ms = 10000,
                                .dedupe_retention_ms = 3600 * 1000LL,
                                .saturation_pct = saturation_pct,
                                .logger = &logger};
    char err[512];
    adapter_exec_t *ex = adapter_exec_new(&conf, err, sizeof(err));
    if (!ex)
        fail_msg("adapter_exec_new: %s", err);
    json_t *h = adapter_exec_health(ex);
    adapter_exec_destroy(ex);
    return h;
}

/* The saturation threshold comes from health.saturation.pct; recovery_attempts is reported. */
static void test_health_threshold_configured(void **state)
{
    (void)state;
    json_t *h = health_of(0, 4); /* not configured: seed 004's 80 */
    assert_true(json_real_value(json_object_get(h, "saturation_threshold_pct")) == 80.0);
    assert_true(json_is_integer(json_object_get(h, "recovery_attempts")));
    assert_string_equal(json_string_value(json_object_get(h, "status")), "HEALTHY");
    json_decref(h);
    h = health_of(35, 4);
    assert_true(json_real_value(json_object_get(h, "saturation_threshold_pct")) == 35.0);
    json_decref(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replaced_after_max_queries),
        cmocka_unit_test(test_idle_connection_closed),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_recovery_attempts),
        cmocka_unit_test(test_health_threshold_configured),
    };
    return cmocka_run_group_tests_name("pool_limits", tests, group_setup, group_teardown);
}
