/*
 * Private declarations shared by the files of libdbev: the configuration's
 * property indexes, the backoff schedule, the client-side circuit breaker,
 * the correlation table, the result/error constructors and the client
 * internals that request.c needs. Nothing here is exported: the symbols have
 * module prefixes (conf_, backoff_, cbrk_, corrtab_, res_, cli_) and hidden
 * visibility. Unit tests link the static library and include this header.
 */
#ifndef DBEV_CLIENT_INT_H
#define DBEV_CLIENT_INT_H

#include "dbev/dbev.h"
#include "dbev/protocol.h"
#include "dbev_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- configuration (conf.c) ------------------------------------------- */

/** Indexes into the property table; the order of conf.c's table. */
typedef enum conf_prop_id {
    CONF_BOOTSTRAP_SERVERS = 0,
    CONF_TOPIC_PREFIX,
    CONF_SERVICE_NAME,
    CONF_CONSUMER_GROUP_ID,
    CONF_REQUEST_TIMEOUT_MS,
    CONF_REQUEST_TIMEOUT_GRACE_MS,
    CONF_TIMEOUT_MODE,
    CONF_STARTUP_TIMEOUT_MS,
    CONF_MAX_RETRIES,
    CONF_RETRY_BACKOFF_MS,
    CONF_RETRY_BACKOFF_MAX_MS,
    CONF_BREAKER_ENABLE,
    CONF_BREAKER_THRESHOLD,
    CONF_BREAKER_RECOVERY_MS,
    CONF__COUNT
} conf_prop_id_t;

/** Effective string value (set, else env fallback, else default); borrowed. */
const char *conf_str(const dbev_conf_t *conf, conf_prop_id_t id);
/** Effective integer/boolean value (booleans as 0/1). */
int64_t conf_int(const dbev_conf_t *conf, conf_prop_id_t id);
/** Checks every effective value (including environment fallbacks); -1 with errstr. */
int conf_validate(const dbev_conf_t *conf, char *errstr, size_t size);
/** Number of kafka.* pass-through entries, and entry i (name without "kafka."). */
size_t conf_kafka_count(const dbev_conf_t *conf);
void conf_kafka_entry(const dbev_conf_t *conf, size_t i, const char **name, const char **value);
/** The log callback configured (cb may be NULL). */
void conf_log_cb(const dbev_conf_t *conf, dbev_log_cb_t **cb, void **opaque, int *level);

/* ---- backoff schedule (backoff.c) ------------------------------------- */

/**
 * Delay before retry number `retry` (1 for the first retry): base * 2^(retry-1),
 * capped at max_ms, then scaled by a jitter factor in [0.8, 1.2) drawn from
 * rand01 in [0, 1) and capped again at max_ms.
 */
int64_t backoff_delay_ms(int64_t base_ms, int64_t max_ms, int retry, double rand01);

/** A uniformly distributed number in [0, 1) from a per-thread generator. */
double backoff_rand01(void);

/* ---- client circuit breaker (breaker.c) ------------------------------- */

/**
 * Counts consecutive timeouts/transport failures; opens at `threshold`,
 * refuses while open, lets one probe through after `recovery_us`, closes on
 * the probe's success and reopens on its failure. The clock is an argument,
 * so the unit test drives it; the client passes dbev_mono_us(). Not
 * thread-safe: the client calls it under its lock.
 */
typedef struct cbrk {
    dbev_breaker_state_t state;
    int threshold;
    int64_t recovery_us;
    int failures;        /* consecutive, while CLOSED */
    int64_t opened_us;   /* when it last opened */
    bool probe_inflight; /* HALF_OPEN: the one probe is out */
    uint64_t opened;     /* times it opened */
} cbrk_t;

void cbrk_init(cbrk_t *b, int threshold, int64_t recovery_us);
/** May a request go out now? HALF_OPEN admits one probe at a time. */
bool cbrk_allow(cbrk_t *b, int64_t now_us);
/** A request got an answer (any answer: the path works). */
void cbrk_success(cbrk_t *b);
/** A request timed out or could not be produced; returns true when this opened it. */
bool cbrk_failure(cbrk_t *b, int64_t now_us);
/** The state as of now (OPEN turns HALF_OPEN for display once recovery elapsed). */
dbev_breaker_state_t cbrk_state(const cbrk_t *b, int64_t now_us);

/* ---- correlation table (corrtab.c) ------------------------------------ */

/** A hash table from correlation id (string, copied) to a pointer. Not thread-safe. */
typedef struct corrtab corrtab_t;

corrtab_t *corrtab_new(size_t initial);
void corrtab_destroy(corrtab_t *t);
/** Adds key -> val; -1 if key is present already (nothing changes) or out of memory. */
int corrtab_put(corrtab_t *t, const char *key, void *val);
/** The value for key, or NULL. */
void *corrtab_get(const corrtab_t *t, const char *key);
/** Removes key and returns its value, or NULL when absent. */
void *corrtab_del(corrtab_t *t, const char *key);
size_t corrtab_count(const corrtab_t *t);
/** Calls fn for every entry (do not modify the table from fn). */
void corrtab_foreach(const corrtab_t *t, void (*fn)(const char *key, void *val, void *arg),
                     void *arg);

/**
 * Remembers the fate of the last `capacity` finished correlation ids, so that
 * a response arriving afterwards can be classified as late (the request had
 * timed out or was cancelled) or duplicate (it had been answered).
 */
typedef enum recent_kind {
    RECENT_NONE = 0,
    RECENT_ANSWERED,
    RECENT_EXPIRED, /* timed out, cancelled or given up */
} recent_kind_t;

typedef struct recent recent_t;
recent_t *recent_new(size_t capacity);
void recent_destroy(recent_t *r);
void recent_add(recent_t *r, const char *corr, recent_kind_t kind);
recent_kind_t recent_get(const recent_t *r, const char *corr);
/** Forgets corr (a new request reuses it). */
void recent_forget(recent_t *r, const char *corr);

/* ---- results and errors (result.c) ------------------------------------ */

/** A result from a decoded completed response (takes references, not the response). */
dbev_result_t *res_result_from_response(const dbev_response_t *resp);
/** An error from a decoded failed response. */
dbev_error_t *res_error_from_response(const dbev_response_t *resp);
/** A local error; message is printf-style. */
dbev_error_t *res_error_new(dbev_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** Fills the request bookkeeping fields (ids may be NULL). */
void res_result_set_request(dbev_result_t *result, const char *corr, const char *event_id,
                            int attempts, double latency_ms);
void res_error_set_request(dbev_error_t *error, const char *corr, const char *event_id,
                           int attempts);
/** NULL when a HEALTH result says HEALTHY, else a DBEV_ERR__UNHEALTHY error carrying the
 *  adapter's health object (the result stays the caller's). */
dbev_error_t *res_health_verdict(const dbev_result_t *result);
/** Parses "a, b,c" / "*" into a JSON array of names; NULL for NULL or on error (errstr). */
json_t *res_columns_parse(const char *text, const char *what, char *errstr, size_t size,
                          int *failed);

/* ---- the client (client.c), used by request.c ------------------------- */

/**
 * Hands a validated operation payload to the client.
 * @param payload stolen.
 * @param sync non-NULL for a blocking call: filled and signalled on completion.
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code with *errorp set
 *          (the payload is freed either way on failure).
 */
typedef struct cli_sync cli_sync_t;
dbev_err_t cli_submit(dbev_client_t *client, dbev_op_t op, json_t *payload,
                      const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                      cli_sync_t *sync, dbev_error_t **errorp);
/** Runs a blocking call: submit, then wait for the completion. */
dbev_err_t cli_call_sync(dbev_client_t *client, dbev_op_t op, json_t *payload,
                         const dbev_call_opts_t *opts, dbev_result_t **resultp,
                         dbev_error_t **errorp);
/** The effective per-attempt timeout for opts. */
int cli_timeout_ms(const dbev_client_t *client, const dbev_call_opts_t *opts);

#endif
