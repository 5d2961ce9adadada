/*
 * What the adapter's integration tests and its benchmark share: a throwaway
 * PostgreSQL (pgenv) with a test database and schema, a mock Kafka cluster
 * (mockenv), a small test producer that sends request events, and a response
 * collector that reads the completed and failed topics and finds answers by
 * correlation id. Everything is torn down by kit_destroy(), also when a test
 * fails half way (the cmocka teardown calls it).
 */
#ifndef TEST_ADAPTER_KIT_H
#define TEST_ADAPTER_KIT_H

#include "dbev_adapter.h"
#include "env/mockenv.h"
#include "env/pgenv.h"

#include <dbev/protocol.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stdbool.h>

typedef struct kit_resp {
    char correlation_id[DBEV_ID_SIZE];
    bool completed;        /* came on the completed topic */
    char *text;            /* the raw event */
    dbev_response_t *resp; /* decoded; NULL if it did not decode */
} kit_resp_t;

typedef struct kit {
    pgenv_t *pg;
    mockenv_t *mk;
    char dbname[64];
    dbev_logger_t logger;
    rd_kafka_t *producer;  /* requests */
    rd_kafka_t *collector; /* completed + failed topics, from the beginning */
    kit_resp_t *resps;
    size_t n_resps, cap_resps;
    size_t *index; /* open addressing: correlation id -> 1 + first response index */
    unsigned *counts;
    size_t index_cap;
    char tmpdir[256];
    rd_kafka_t *offsets_reader; /* reads a group's committed offsets (kit_committed) */
} kit_t;

/** Starts PostgreSQL and the mock cluster, creates database "dbname" with
 *  the schema (SQL run once, may be NULL). Fails the test on error. */
kit_t *kit_new(const char *schema_sql, int partitions);
void kit_destroy(kit_t *kit);

/** A conf for an adapter talking to this kit (env fallbacks off, quiet logs). */
dbev_adapter_conf_t *kit_adapter_conf(kit_t *kit);

/** The setting of a lone adapter ("key=value" for kv below): it takes every
 *  request partition itself instead of joining a consumer group, whose first
 *  join the mock cluster holds 3 s, again at every restart; a restart
 *  resumes from the offsets it committed. For tests where the group proves
 *  nothing (test_adapter_ops and test_adapter_process test the group). */
#define KIT_LONE_ADAPTER "consumer.assignment=all"

/** Starts an embedded adapter with kit_adapter_conf() plus kv ("key=value"
 *  strings ending with NULL; kv NULL: none) and, when wait_ms > 0, waits that
 *  long until it holds a partition. Fails the test on error, leaving no
 *  adapter behind. Returns the running adapter (dbev_adapter_destroy). */
dbev_adapter_t *kit_start_adapter(kit_t *kit, const char *const *kv, int wait_ms);

/** A kit_wait_for() condition: the adapter (arg) holds a partition. */
bool kit_adapter_assigned(void *adapter);

/** The same configuration as -X arguments for the dbev-adapter process;
 *  returns the number of strings written to argv (each to free). */
int kit_adapter_args(kit_t *kit, char **argv, int max);

/** Produces raw bytes to the requests topic (key may be NULL) and waits for the ack. */
void kit_send_raw(kit_t *kit, const void *buf, size_t len, const char *key);

/** Builds a request event around an operation payload given as JSON text, with
 *  fresh ids (written to correlation_id/event_id when not NULL and not given)
 *  and produces it. event_id: NULL for a new one, or one to reuse. Does not flush. */
void kit_send_op(kit_t *kit, const char *payload_json, char *correlation_id,
                 const char *event_id_in, char *event_id_out);
void kit_flush(kit_t *kit);

/** Reads responses for up to timeout_ms (returns early once count responses are held). */
void kit_collect(kit_t *kit, size_t count, int timeout_ms);

/** The first response with this correlation id, waiting up to timeout_ms; NULL if none. */
const kit_resp_t *kit_wait(kit_t *kit, const char *correlation_id, int timeout_ms);

/** How many responses carry this correlation id (no waiting). */
size_t kit_count(kit_t *kit, const char *correlation_id);

/** One integer from a query on the test database (fails the test on error). */
long kit_query_long(kit_t *kit, const char *sql);

/** Runs SQL on the test database (fails the test on error). */
void kit_exec(kit_t *kit, const char *sql);

/** Reads every event of topic from the beginning (all partitions) for up to
 *  timeout_ms, until match(text) returns true; returns the matching text (free
 *  it) or NULL. */
char *kit_read_topic(kit_t *kit, const char *topic, bool (*match)(const char *text, void *arg),
                     void *arg, int timeout_ms);

/** Writes to cid a fresh correlation id whose response (keyed by it, with the
 *  producer's default partitioner) lands on that partition of the completed
 *  and failed topics: lets a test hold the answers of one partition. */
void kit_cid_for_partition(kit_t *kit, int partition, char *cid);

/** Produces a request event (payload as JSON text, correlation id cid) to one
 *  partition of the requests topic, waits for the ack and returns its offset.
 *  Only the test produces requests, so the offset is the partition's last. */
int64_t kit_send_to(kit_t *kit, int partition, const char *payload_json, const char *cid);

/** The committed offset of one partition of the requests topic for the
 *  adapter's consumer group (conf group.id, default "database-adapter-effect"),
 *  read by a client of its own that never joins the group;
 *  RD_KAFKA_OFFSET_INVALID when nothing is committed. Fails the test on error. */
int64_t kit_committed(kit_t *kit, int partition);

/** Holds (hold true) or releases the answers of one partition of the
 *  completed and failed topics by taking away its leader (and giving it back
 *  to broker 1): the adapter's producer keeps them queued, with no error, so
 *  the requests are executed but their answers stay unacknowledged. */
void kit_hold_answers(kit_t *kit, int partition, bool hold);

/** Waits up to timeout_ms until the group's committed offset of the requests
 *  partition passes offset; fails the test if it does not. */
void kit_wait_committed_past(kit_t *kit, int partition, int64_t offset, int timeout_ms);

/** Waits until cond(arg) is true or timeout_ms passes; returns the last value. */
bool kit_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

#endif
