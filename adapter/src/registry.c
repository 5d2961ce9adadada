/*
 * The adapter's self-registration, done with events (seed 001 was blocked on
 * a registry service; here the registry is a topic): an announcement on
 * <env>.omninode-bridge.registry.service-registered.v1 when the adapter starts
 * (status "up") and stops gracefully (status "down"), and heartbeats on
 * <env>.omninode-bridge.registry.heartbeat.v1 with health (pool, breaker) and
 * counters. Both use the protocol's envelope; docs/protocol.md describes the
 * payloads. This file only builds the events; loop.c publishes them.
 */
#include "adapter_loop.h"

#include <dbev/protocol.h>
#include <string.h>
#include <unistd.h>

#define EVENT_REGISTERED "SERVICE_REGISTERED"
#define EVENT_HEARTBEAT  "SERVICE_HEARTBEAT"

static json_t *topics_object(const registry_info_t *info)
{
    static const char *const names[] = {"requests", "completed", "failed", "registry", "heartbeat"};
    json_t *topics = json_object();
    for (size_t i = 0; i < 5; i++)
        json_object_set_new(topics, names[i], json_string(info->topics[i]));
    return topics;
}

json_t *registry_announcement(const registry_info_t *info, const char *status)
{
    char host[256] = "";
    char ts[DBEV_ISO8601_SIZE];
    char event_id[40];
    gethostname(host, sizeof(host) - 1);
    json_t *payload = json_object();
    json_object_set_new(payload, "service_name", json_string(DBEV_ADAPTER_SERVICE));
    json_object_set_new(payload, "service_type", json_string(DBEV_ADAPTER_SERVICE_TYPE));
    json_object_set_new(payload, "instance_id", json_string(info->instance_id));
    json_object_set_new(payload, "version", json_string(dbev_adapter_version()));
    json_object_set_new(payload, "status", json_string(status));
    json_object_set_new(payload, "endpoint", topics_object(info));
    json_object_set_new(payload, "consumer_group", json_string(info->group_id));
    json_object_set_new(payload, "host", json_string(host));
    json_object_set_new(payload, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(payload, "started_at",
                        json_string(dbev_iso8601(info->started_us, ts, sizeof(ts))));
    json_object_set_new(payload, "heartbeat_interval_ms",
                        json_integer((json_int_t)info->heartbeat_interval_ms));
    json_t *ops = json_array();
    for (int op = 0; op < DBEV_OP__COUNT; op++)
        json_array_append_new(ops, json_string(dbev_op_name((dbev_op_t)op)));
    json_object_set_new(payload, "operations", ops);
    dbev_uuid_new(event_id);
    return dbev_envelope_new(EVENT_REGISTERED, event_id, info->instance_id, DBEV_ADAPTER_SERVICE, 0,
                             payload);
}

/*
 * The heartbeat's verdict for discovery (dbev_registry_lookup() filters on
 * it): the HEALTH status when there is one (HEALTHY: healthy; DEGRADED,
 * RECOVERING: degraded; UNHEALTHY: unhealthy), else the breaker's (closed:
 * healthy, half-open: degraded, open: unhealthy).
 */
static const char *status_of(const json_t *health, int breaker_state)
{
    const char *h = json_string_value(json_object_get(health, "status"));
    if (h)
        return !strcmp(h, "HEALTHY")     ? "healthy"
               : !strcmp(h, "UNHEALTHY") ? "unhealthy"
                                         : "degraded";
    switch (breaker_state) {
    case DBEV_BREAKER_CLOSED:
        return "healthy";
    case DBEV_BREAKER_HALF_OPEN:
        return "degraded";
    default:
        return "unhealthy";
    }
}

json_t *registry_heartbeat(const registry_info_t *info, json_t *health,
                           const dbev_adapter_stats_t *stats)
{
    char event_id[40];
    json_t *payload = json_object();
    json_object_set_new(payload, "service_name", json_string(DBEV_ADAPTER_SERVICE));
    json_object_set_new(payload, "service_type", json_string(DBEV_ADAPTER_SERVICE_TYPE));
    json_object_set_new(payload, "instance_id", json_string(info->instance_id));
    json_object_set_new(payload, "version", json_string(dbev_adapter_version()));
    json_object_set_new(payload, "status", json_string(status_of(health, stats->breaker_state)));
    /* what a reader that missed the announcement needs: where, and the TTL */
    json_object_set_new(payload, "endpoint", topics_object(info));
    json_object_set_new(payload, "heartbeat_interval_ms",
                        json_integer((json_int_t)info->heartbeat_interval_ms));
    json_object_set_new(payload, "uptime_ms",
                        json_integer((json_int_t)((dbev_wall_us() - info->started_us) / 1000)));
    json_object_set_new(payload, "health", health ? health : json_object());
    json_t *counters = json_object();
    json_object_set_new(counters, "consumed", json_integer((json_int_t)stats->consumed));
    json_object_set_new(counters, "invalid", json_integer((json_int_t)stats->invalid));
    json_object_set_new(counters, "completed", json_integer((json_int_t)stats->completed));
    json_object_set_new(counters, "failed", json_integer((json_int_t)stats->failed));
    json_object_set_new(counters, "delivered", json_integer((json_int_t)stats->delivered));
    json_object_set_new(counters, "delivery_errors",
                        json_integer((json_int_t)stats->delivery_errors));
    json_object_set_new(counters, "batches", json_integer((json_int_t)stats->batches));
    json_object_set_new(counters, "commits", json_integer((json_int_t)stats->commits));
    json_object_set_new(counters, "commit_failures",
                        json_integer((json_int_t)stats->commit_failures));
    json_object_set_new(counters, "in_flight", json_integer((json_int_t)stats->in_flight));
    json_object_set_new(counters, "assigned_partitions", json_integer((json_int_t)stats->assigned));
    json_object_set_new(payload, "counters", counters);
    dbev_uuid_new(event_id);
    return dbev_envelope_new(EVENT_HEARTBEAT, event_id, info->instance_id, DBEV_ADAPTER_SERVICE, 0,
                             payload);
}
