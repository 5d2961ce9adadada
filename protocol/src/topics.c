/*
 * Topic names: `<env>.omninode-bridge.<area>.<event>.v1`, as seed 002 spells
 * them for env "dev". The environment prefix is configurable so several
 * suites (or a staging and a dev adapter) can share one cluster.
 */
#include <dbev/protocol.h>

#include <stdio.h>

static const char *const topic_suffix[DBEV_TOPIC__COUNT] = {
    [DBEV_TOPIC_REQUESTED] = "database.query-requested.v1",
    [DBEV_TOPIC_COMPLETED] = "database.query-completed.v1",
    [DBEV_TOPIC_FAILED] = "database.query-failed.v1",
    [DBEV_TOPIC_REGISTRY] = "registry.service-registered.v1",
    [DBEV_TOPIC_HEARTBEAT] = "registry.heartbeat.v1",
};

const char *dbev_topic_name(const char *env, dbev_topic_t topic, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    if ((int)topic < 0 || topic >= DBEV_TOPIC__COUNT) {
        buf[0] = '\0';
        return buf;
    }
    if (!env || !*env)
        env = "dev";
    snprintf(buf, size, "%s.omninode-bridge.%s", env, topic_suffix[topic]);
    return buf;
}
