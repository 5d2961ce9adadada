/*
 * Internals shared by the adapter's Kafka side: the configuration accessors
 * (conf.c) used by the loop (loop.c) and the registry/heartbeat events
 * (registry.c). Not installed, not exported: the public API is
 * include/dbev_adapter.h.
 */
#ifndef ADAPTER_LOOP_H
#define ADAPTER_LOOP_H

#include "dbev_adapter.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* --- conf.c --- */

/** Effective value of a key of the property table (never NULL for a known key). */
const char *aconf_value(const dbev_adapter_conf_t *conf, const char *key);
int64_t aconf_int(const dbev_adapter_conf_t *conf, const char *key);
bool aconf_bool(const dbev_adapter_conf_t *conf, const char *key);

/**
 * Validates the effective configuration as a whole: environment fallbacks
 * (their values have not been checked by dbev_adapter_conf_set()) and
 * cross-key rules (pool.min <= pool.max). Returns 0 or -1 with errstr.
 */
int aconf_validate(const dbev_adapter_conf_t *conf, char *errstr, size_t size);

/** The producer's message.max.bytes unless a kafka. key sets it: librdkafka's
 *  own default (1000000) made explicit, below the brokers' default (1048588). */
#define ACONF_MESSAGE_MAX_BYTES 1000000
/** Room an answer's envelope takes around its payload on the wire: event id,
 *  type, correlation id (at most DBEV_ID_SIZE, also the message key),
 *  timestamp, service, and the Kafka record's own overhead. */
#define ACONF_ENVELOPE_BYTES 1024

/** The producer's effective message.max.bytes (ACONF_MESSAGE_MAX_BYTES or a kafka. key). */
int64_t aconf_producer_message_max_bytes(const dbev_adapter_conf_t *conf);

/** Pass-through pairs: i-th key (with its prefix) and value; false past the end. */
bool aconf_passthrough(const dbev_adapter_conf_t *conf, size_t i, const char **key,
                       const char **value);

/** The log sink configured with dbev_adapter_conf_set_log_cb(). */
void aconf_log_sink(const dbev_adapter_conf_t *conf, dbev_log_cb **cb, void **opaque);

/**
 * Builds the libpq connection string: pg.conninfo, then pg.host/port/dbname/
 * user/password where set (explicitly or by environment), then pg.* pass-
 * throughs. Returns a string to free with free(), or NULL with errstr.
 */
char *aconf_conninfo(const dbev_adapter_conf_t *conf, char *errstr, size_t size);

/** The comma-separated tables.allowlist as a NULL-terminated array (NULL when empty);
 *  free with aconf_strv_free(). */
char **aconf_strv(const char *csv);
void aconf_strv_free(char **strv);

/* --- registry.c --- */

typedef struct registry_info {
    const char *instance_id;
    const char *group_id;
    const char *topics[5]; /* requested, completed, failed, registry, heartbeat */
    int64_t started_us;    /* wall clock */
    int64_t heartbeat_interval_ms;
} registry_info_t;

/**
 * The registry announcement event (status "up" at start, "down" at a
 * graceful stop). Returns a new reference.
 */
json_t *registry_announcement(const registry_info_t *info, const char *status);

/**
 * A heartbeat event carrying health (stolen: the executor's health) and the
 * adapter's counters. Returns a new reference.
 */
json_t *registry_heartbeat(const registry_info_t *info, json_t *health,
                           const dbev_adapter_stats_t *stats);

#endif
