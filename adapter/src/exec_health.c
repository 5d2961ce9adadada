/*
 * Health: adapter_exec_health() (seed 004's metrics: the pool, its
 * queries, the breaker) for heartbeats and the embedding API, and the HEALTH
 * operation, which adds whether PostgreSQL answers right now.
 */
#include "exec_int.h"

/* ---- health -------------------------------------------------------------- */

/* The saturation threshold (health.saturation.pct; seed 004's
 * POSTGRES_POOL_EXHAUSTION_THRESHOLD, 80 by default). */
static double saturation_pct(const adapter_exec_t *ex)
{
    return ex->conf.saturation_pct > 0 ? ex->conf.saturation_pct : 80.0;
}

static const char *health_status(const adapter_exec_t *ex, const pool_stats_t *st,
                                 dbev_breaker_state_t b)
{
    if (b == DBEV_BREAKER_OPEN)
        return "UNHEALTHY";
    if (b == DBEV_BREAKER_HALF_OPEN)
        return "RECOVERING";
    if (st->utilization_pct >= saturation_pct(ex) || (st->size == 0 && st->connect_failures > 0))
        return "DEGRADED";
    return "HEALTHY";
}

json_t *adapter_exec_health(adapter_exec_t *ex)
{
    pool_stats_t st;
    char ts[DBEV_ISO8601_SIZE];
    pool_stats(ex->pool, &st);
    dbev_breaker_state_t b = breaker_state(ex->breaker);
    json_t *h = json_object();
    json_object_set_new(h, "status", json_string(health_status(ex, &st, b)));
    json_object_set_new(h, "pool_size", json_integer(st.size));
    json_object_set_new(h, "pool_free", json_integer(st.free));
    json_object_set_new(h, "pool_in_use", json_integer(st.in_use));
    json_object_set_new(h, "pool_min", json_integer(st.min));
    json_object_set_new(h, "pool_max", json_integer(st.max));
    json_object_set_new(h, "pool_utilization_pct", json_real(st.utilization_pct));
    json_object_set_new(h, "saturation_threshold_pct", json_real(saturation_pct(ex)));
    json_object_set_new(h, "total_queries", json_integer((json_int_t)st.queries));
    json_object_set_new(h, "failed_queries", json_integer((json_int_t)st.failures));
    json_object_set_new(h, "avg_query_time_ms", json_real(st.avg_query_ms));
    json_object_set_new(h, "connects", json_integer((json_int_t)st.connects));
    json_object_set_new(h, "connect_failures", json_integer((json_int_t)st.connect_failures));
    json_object_set_new(h, "recovery_attempts", json_integer((json_int_t)st.recovery_attempts));
    json_object_set_new(h, "connections_retired", json_integer((json_int_t)st.retired));
    json_object_set_new(h, "circuit_state", json_string(dbev_breaker_state_name(b)));
    json_object_set_new(h, "circuit_opened_count",
                        json_integer((json_int_t)breaker_open_count(ex->breaker)));
    json_object_set_new(h, "last_error",
                        st.last_error[0] ? json_string(st.last_error) : json_null());
    json_object_set_new(h, "last_error_time",
                        st.last_error_wall_us
                            ? json_string(dbev_iso8601(st.last_error_wall_us, ts, sizeof(ts)))
                            : json_null());
    json_object_set_new(h, "uptime_seconds",
                        json_real((double)(dbev_mono_us() - ex->started_us) / 1e6));
    return h;
}

void run_health(adapter_exec_t *ex, job_t *job)
{
    json_t *h = adapter_exec_health(ex);
    json_t *reachable = json_null();
    if (breaker_state(ex->breaker) != DBEV_BREAKER_OPEN) {
        pool_conn_t *pc = get_conn(ex);
        char err[256];
        PGresult *res =
            pc ? pool_exec(pc->conn, "SELECT 1", 0, NULL, io_deadline(5000), err, sizeof(err))
               : NULL;
        bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (pc && !ok)
            conn_lost(ex, err);
        reachable = json_boolean(ok);
        /* A database the adapter cannot reach is UNHEALTHY whatever the
         * breaker says yet (it opens only after several failures). */
        if (!ok) {
            json_object_set_new(h, "status", json_string("UNHEALTHY"));
            if (!pc)
                json_object_set_new(
                    h, "last_error",
                    json_string(ex->conn_err[0] ? ex->conn_err : "cannot reach PostgreSQL"));
        }
    }
    json_object_set_new(h, "database_reachable", reachable);
    json_t *rows = json_array();
    json_array_append_new(rows, h);
    job->out->completed = true;
    job->out->payload = dbev_completed_payload_new(DBEV_OP_HEALTH, rows, 1, elapsed_ms(job),
                                                   breaker_state(ex->breaker), false, false, NULL);
}
