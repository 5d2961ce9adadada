/*
 * Private declarations shared by the files of libdbev: the configuration's
 * property indexes, the backoff schedule, the client-side circuit breaker,
 * the correlation table, the result/error constructors, and the client
 * handle with the functions its files (client.c, client_kafka.c,
 * client_thread.c, client_send.c, client_poll.c) and request.c share.
 * Nothing here is exported: the symbols have
 * module prefixes (conf_, backoff_, cbrk_, corrtab_, res_, cli_) and hidden
 * visibility. Unit tests link the static library and include this header.
 */
#ifndef DBEV_CLIENT_INT_H
#define DBEV_CLIENT_INT_H

#include "dbev/dbev.h"
#include "dbev/protocol.h"
#include "dbev_common.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- the client handle (client*.c) ----------------------------------- */

/* A blocking call's rendezvous: the background thread fills it and signals;
 * the waiter never touches the client after it is woken. */
typedef struct cli_sync cli_sync_t;
struct cli_sync {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
    dbev_result_t *result;
    dbev_error_t *error;
};

typedef enum creq_state {
    CREQ_INFLIGHT, /* sent; due_us is the response deadline */
    CREQ_BACKOFF,  /* waiting to be sent again; due_us is the send time */
} creq_state_t;

typedef struct creq {
    struct creq *tprev, *tnext; /* timer list */
    struct creq *qnext;         /* done queue */
    char corr[DBEV_ID_SIZE];
    char event_id[DBEV_ID_SIZE];
    dbev_op_t op;
    json_t *payload; /* the operation payload, re-wrapped on each attempt */
    int attempts;
    int max_retries;
    int timeout_ms;
    int64_t start_us;
    int64_t deadline_us;  /* timeout.mode=total: start + timeout (monotonic); 0: per attempt */
    int64_t sent_wall_us; /* the first attempt's envelope timestamp (total mode keeps it) */
    int64_t due_us;
    creq_state_t state;
    dbev_done_cb_t *cb;
    void *opaque;
    cli_sync_t *sync;
    dbev_result_t *result; /* set when queued for poll */
    dbev_error_t *error;
} creq_t;

struct dbev_client {
    dbev_conf_t *conf;
    dbev_log_cb_t *log_cb;
    void *log_opaque;
    dbev_logger_t logger;
    char topic_req[256];
    char topic_resp[2][256];
    char group_id[256];
    const char *service; /* borrowed from conf */
    int timeout_ms;
    int timeout_grace_ms; /* waited beyond an attempt's timeout for the adapter's own answer */
    bool timeout_total;   /* timeout.mode=total: timeout_ms bounds the whole call */
    int max_retries;
    int64_t backoff_base_ms, backoff_max_ms;

    rd_kafka_t *producer;
    rd_kafka_t *consumer;
    rd_kafka_queue_t *cq; /* the consumer queue, to wake the background thread */
    pthread_t thread;
    bool thread_started;
    atomic_bool terminate;

    pthread_mutex_t lock; /* everything below */
    pthread_cond_t done_cond;
    bool closing;
    corrtab_t *pending;
    recent_t *recent;
    creq_t *thead, *ttail;
    creq_t *qhead, *qtail;
    int qlen;
    int efd;
    bool breaker_enabled;
    cbrk_t breaker;
    int64_t bg_wake_us; /* when the background thread plans to look at timers next */
    dbev_client_stats_t stats;
};

/**
 * Hands a validated operation payload to the client (client_send.c).
 * @param payload stolen.
 * @param sync non-NULL for a blocking call: filled and signalled on completion.
 * @returns DBEV_ERR_NO_ERROR when accepted, else the code with *errorp set
 *          (the payload is freed either way on failure).
 */
dbev_err_t cli_submit(dbev_client_t *client, dbev_op_t op, json_t *payload,
                      const dbev_call_opts_t *opts, dbev_done_cb_t *cb, void *opaque,
                      cli_sync_t *sync, dbev_error_t **errorp);
/** Runs a blocking call: submit, then wait for the completion. */
dbev_err_t cli_call_sync(dbev_client_t *client, dbev_op_t op, json_t *payload,
                         const dbev_call_opts_t *opts, dbev_result_t **resultp,
                         dbev_error_t **errorp);
/** The effective per-attempt timeout for opts. */
int cli_timeout_ms(const dbev_client_t *client, const dbev_call_opts_t *opts);

/* Attempts and the timer list (client_send.c); all under the client's lock. */

/** Ends a request with exactly one of result/error (both stolen); answered: the
 *  adapter answered (a later response is a duplicate), else the client gave up
 *  (a later response is late). r is freed or queued for poll. */
void cli_finish(dbev_client_t *client, creq_t *r, dbev_result_t *result, dbev_error_t *error,
                bool answered);
/** cli_finish() with a local error of code and a printf-style message. */
void cli_finish_error(dbev_client_t *client, creq_t *r, dbev_err_t code, bool answered,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/** Whether an error code is worth another attempt. */
bool cli_should_retry(dbev_err_t code);
/** Schedules r's next attempt after its backoff; false when the call's deadline
 *  leaves no time for it (nothing scheduled). */
bool cli_schedule_retry(dbev_client_t *client, creq_t *r, int64_t now_us);
/** An attempt timed out or could not be produced: breaker, then retry or give up. */
void cli_attempt_failed(dbev_client_t *client, creq_t *r, int64_t now_us, dbev_err_t code,
                        const char *why);
/** Expires attempts and sends due retries at the head of the timer list. */
void cli_run_timers(dbev_client_t *client, int64_t now_us);

/* The background thread (client_thread.c). */

/** The thread's body: consume responses, match them, run the timers; arg is the client. */
void *cli_thread_main(void *arg);
/** The producer's delivery report callback: an undelivered request failed its attempt. */
void cli_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque);

/* The Kafka handles and start-up (client_kafka.c); each -1 with errstr. */

int cli_make_producer(dbev_client_t *client, char *errstr, size_t size);
int cli_make_consumer(dbev_client_t *client, char *errstr, size_t size);
/** Warms the producer and assigns every response partition at its high watermark,
 *  within startup.timeout.ms. */
int cli_assign(dbev_client_t *client, char *errstr, size_t size);

/* Completions on the caller's thread (client_poll.c). */

/** Takes the done queue and drains the eventfd (under lock). */
creq_t *cli_take_done(dbev_client_t *client);
/** Runs the callbacks of a taken done queue and frees it (not under lock); how many. */
int cli_serve(dbev_client_t *client, creq_t *list);

#endif
