/*
 * The `registry:` step (runctx.h contract): reads the scenario's registry
 * topics through libdbev's registry view (dbev_registry_new, sync, lookup:
 * the discovery of seed 001's phase 4) and judges the live instances with
 * the usual expectations, as rows: `row_count` is how many instances are
 * alive, `rows` matches their fields (instance_id, service_name, status,
 * health, ...). Under `until:` it waits for the registry to change, e.g. for
 * a killed adapter to miss its heartbeats and be dropped.
 *
 *   - registry: {service_name: database-adapter-effect, service_type: effect}
 *     expect: {row_count: 2}
 */
#include "scenario/runctx.h"

#include "scenario/expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_SYNC_MS 10000

static const char *body_str(const json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

int step_run_registry(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    if (!ctx->kafka)
        return step_fail(res, DBEV_REPORT_SKIP, "registry: no Kafka in this mode");
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    if (!conf ||
        dbev_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(ctx->kafka), errstr,
                      sizeof(errstr)) ||
        dbev_conf_set(conf, "topic.prefix", ctx->topic_env, errstr, sizeof(errstr))) {
        dbev_conf_destroy(conf);
        return step_fail(res, DBEV_REPORT_ERROR, "registry: %s", errstr);
    }
    int64_t t0 = dbev_mono_us();
    dbev_registry_t *reg = dbev_registry_new(conf, errstr, sizeof(errstr));
    dbev_conf_destroy(conf);
    if (!reg)
        return step_fail(res, DBEV_REPORT_ERROR, "registry: %s", errstr);
    int64_t sync_ms = step->timeout_ms > 0 && step->timeout_ms < REGISTRY_SYNC_MS
                          ? step->timeout_ms
                          : REGISTRY_SYNC_MS;
    if (dbev_registry_sync(reg, (int)sync_ms) < 0) {
        dbev_registry_destroy(reg);
        return step_fail(res, DBEV_REPORT_FAIL,
                         "registry: the registry topics of %s were not read within %lld ms",
                         ctx->topic_env, (long long)sync_ms);
    }
    json_t *rows =
        dbev_registry_lookup(reg, body_str(step->body, "service_name"),
                             body_str(step->body, "service_type"), body_str(step->body, "status"));
    dbev_registry_destroy(reg);
    res->latency_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    json_t *outcome = json_pack("{s:b, s:I}", "ok", 1, "row_count",
                                (json_int_t)(rows ? json_array_size(rows) : 0));
    json_object_set_new(outcome, "rows", rows ? rows : json_array());
    json_decref(res->outcome);
    res->outcome = outcome;
    json_t *none = json_object();
    char diff[1024];
    if (expectation_check(step->expect ? step->expect : none, outcome, diff, sizeof(diff)) != 0) {
        step_fail(res, DBEV_REPORT_FAIL, "%s", diff);
        char *e = json_dumps(step->expect ? step->expect : none, JSON_COMPACT);
        char *a = json_dumps(outcome, JSON_COMPACT);
        snprintf(res->expected, sizeof(res->expected), "%s", e ? e : "");
        snprintf(res->actual, sizeof(res->actual), "%s", a ? a : "");
        free(e);
        free(a);
    }
    json_decref(none);
    return 0;
}
