/*
 * Scenario features: what a scenario's `requires:` list may name, and
 * whether the environment of a run has it. A scenario needing a feature the
 * environment lacks is SKIPPED with the reason this file gives, so the
 * reasons are written for the person reading the run's summary.
 */
#include "env/adapters.h"
#include "scenario/scenario.h"

#include <string.h>

typedef struct feature {
    const char *name;
    bool (*has)(const runctx_t *ctx);
    const char *lacking; /* why not, when has() is false */
} feature_t;

static bool scenario_requires(const runctx_t *ctx, const char *feature)
{
    const json_t *requires = ctx->scenario ? ctx->scenario->requires : NULL;
    size_t i;
    const json_t *name;
    json_array_foreach((json_t *) requires, i,
                       name) if (json_is_string(name) &&
                                 strcmp(json_string_value(name), feature) == 0) return true;
    return false;
}

void runctx_plan_adapters(runctx_t *ctx)
{
    ctx->adapter_mode = ctx->opts ? ctx->opts->adapter_mode : ADAPTER_THREAD;
    ctx->adapter_count = ctx->opts && ctx->opts->adapters > 0 ? ctx->opts->adapters : 1;
    if (ctx->adapter_mode == ADAPTER_EXTERNAL || (ctx->opts && ctx->opts->mode == RUN_MODE_DIRECT))
        return;
    if (scenario_requires(ctx, "process_adapter"))
        ctx->adapter_mode = ADAPTER_PROCESS;
    if (scenario_requires(ctx, "multi_adapter") && ctx->adapter_count < 2)
        ctx->adapter_count = 2;
}

static adapter_mode_t adapter_mode(const runctx_t *ctx)
{
    return ctx->adapter_mode;
}

static bool has_process_adapter(const runctx_t *ctx)
{
    if (ctx->adapters)
        return adapters_supports_process_faults(ctx->adapters);
    return adapter_mode(ctx) == ADAPTER_PROCESS &&
           !(ctx->opts && ctx->opts->mode == RUN_MODE_DIRECT);
}

static bool has_mock_kafka(const runctx_t *ctx)
{
    return ctx->kafka && mockenv_is_mock(ctx->kafka);
}

static bool has_local_postgres(const runctx_t *ctx)
{
    return ctx->pg && pgenv_data_dir(ctx->pg) != NULL;
}

static bool has_event_path(const runctx_t *ctx)
{
    return !(ctx->opts && ctx->opts->mode == RUN_MODE_DIRECT);
}

static bool has_own_adapter(const runctx_t *ctx)
{
    return has_event_path(ctx) && adapter_mode(ctx) != ADAPTER_EXTERNAL;
}

static bool has_multi_adapter(const runctx_t *ctx)
{
    if (ctx->adapters)
        return adapters_count(ctx->adapters) >= 2;
    return has_own_adapter(ctx) && ctx->adapter_count >= 2;
}

static const feature_t features[] = {
    {"process_adapter", has_process_adapter,
     "the adapters are not dbev-adapter processes: declare requires: [process_adapter] "
     "and the runner starts them (--adapter process for every scenario), unless the "
     "adapter is external or absent (--adapter external, --mode direct)"},
    {"mock_kafka", has_mock_kafka,
     "Kafka is an external cluster (--kafka-bootstrap); its brokers cannot be faulted"},
    {"local_postgres", has_local_postgres,
     "PostgreSQL is an external server (--pg-dsn); the harness cannot stop or restart it"},
    {"event_path", has_event_path, "the run uses the direct path only (--mode direct)"},
    {"own_adapter", has_own_adapter,
     "the adapter is external or absent (--adapter external, --mode direct)"},
    {"multi_adapter", has_multi_adapter,
     "fewer than two adapters: declare requires: [multi_adapter] and the runner starts "
     "two (--adapters 2 for every scenario), unless the adapter is external or absent "
     "(--adapter external, --mode direct)"},
};
#define N_FEATURES (sizeof(features) / sizeof(features[0]))

bool runctx_has_feature(const runctx_t *ctx, const char *feature, char *why, size_t size)
{
    for (size_t i = 0; i < N_FEATURES; i++) {
        if (strcmp(features[i].name, feature) != 0)
            continue;
        if (features[i].has(ctx))
            return true;
        dbev_seterr(why, size, "%s", features[i].lacking);
        return false;
    }
    char known[256] = "";
    for (size_t i = 0; i < N_FEATURES; i++) {
        strncat(known, i ? ", " : "", sizeof(known) - strlen(known) - 1);
        strncat(known, features[i].name, sizeof(known) - strlen(known) - 1);
    }
    dbev_seterr(why, size, "unknown feature '%s' in requires; known: %s", feature, known);
    return false;
}
