/*
 * The Kafka side's private declarations, shared by its files (loop.c lists
 * them and says how the loop works): the adapter handle, a job (one
 * consumed batch on its way through the lanes), a batch whose responses are
 * in flight, a response to produce again, and the functions one file offers
 * the others. Not installed: the public API is include/dbev_adapter.h.
 *
 * The functions keep the names they had as loop.c's statics (the split
 * moved code, nothing else); they are hidden like every internal symbol
 * (-fvisibility=hidden) and never part of the library's interface.
 */
#ifndef ADAPTER_LOOP_INT_H
#define ADAPTER_LOOP_INT_H

#include "adapter_loop.h"
#include "exec.h"
#include "job_split.h"

#include <dbev/protocol.h>

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { STOP_NONE = 0, STOP_GRACEFUL = 1, STOP_ABORT = 2 };

enum { T_REQUESTED, T_COMPLETED, T_FAILED, T_REGISTRY, T_HEARTBEAT, T_COUNT };

/* What a response's msg_opaque points to (its first member): its batch, or,
 * once its delivery failed, the resend, which knows its batch. */
enum { OPAQUE_BATCH = 1, OPAQUE_RESEND };

/* A batch whose responses are on their way to the broker. */
typedef struct loop_batch {
    int kind; /* OPAQUE_BATCH */
    struct loop_batch *next;
    size_t pending;                           /* responses not yet acknowledged */
    bool lost;                                /* a response could not be delivered */
    rd_kafka_topic_partition_list_t *offsets; /* next offset to consume, per partition */
} loop_batch_t;

/* A response whose delivery failed, to be produced again: on the retries
 * list until produced, then the message's opaque (its payload, produced
 * without a copy, lives here until the delivery report). */
typedef struct loop_retry {
    int kind; /* OPAQUE_RESEND */
    struct loop_retry *next;
    rd_kafka_topic_t *rkt;
    char *key;
    char *payload;
    size_t len;
    struct loop_batch *batch;
    int attempts;     /* failed with a per-message permanent error so many times */
    bool replacement; /* payload is the failed answer replacing the response */
} loop_retry_t;

struct dbev_adapter {
    dbev_adapter_conf_t *conf;
    dbev_logger_t logger;
    char instance_id[64];
    char group_id[256];
    char topics[T_COUNT][256];
    registry_info_t reg;

    adapter_exec_t *exec;
    char *conninfo;
    char **allowlist;

    rd_kafka_t *consumer;
    rd_kafka_queue_t *consumer_q; /* to wake the loop thread's consumer poll */
    rd_kafka_t *producer;
    rd_kafka_topic_t *rkt[T_COUNT]; /* producer topic handles (not T_REQUESTED) */
    int reg_sentinel;               /* msg_opaque of the registry announcement */

    size_t batch_max;
    int64_t inflight_max;
    int64_t heartbeat_ms;
    int64_t shutdown_timeout_ms;
    int64_t message_max_bytes; /* the producer's */

    /* Loop thread only. */
    loop_batch_t *head, *tail;
    rd_kafka_topic_partition_list_t *done; /* highest acknowledged offsets, not yet committed */
    bool cooperative;
    bool assign_all; /* consumer.assignment=all: every partition, no group membership */
    bool in_run;
    int jobs_outstanding;  /* submitted, not yet published */
    loop_retry_t *retries; /* failed deliveries to produce again */

    /* The executor lanes and their queues (under jobs_lock). */
    int nlanes;
    struct loop_lane {
        dbev_adapter_t *adapter;
        int index;
        adapter_exec_t *exec; /* lane 0: adapter->exec; others: its lanes */
        pthread_t thread;
        bool started;
        struct loop_job *todo_head, *todo_tail;
    } lanes[LOOP_MAX_LANES];
    pthread_mutex_t jobs_lock;
    pthread_cond_t todo_cond, done_cond;
    struct loop_job *done_head, *done_tail;
    uint64_t jobs_done; /* jobs every lane has run its share of */
    bool worker_quit;
    /* Loop thread only. */
    uint64_t jobs_submitted;
    bool last_whole; /* how the last submitted job was split */

    atomic_int stop;
    atomic_bool fatal;
    pthread_t thread;
    bool started, joined;
    int run_rc;

    /* Counters, read by dbev_adapter_stats() from any thread. */
    atomic_uint_fast64_t consumed, invalid, completed, failed, delivered, delivery_errors, batches,
        commits, commit_failures, heartbeats;
    atomic_int_fast64_t in_flight;
    atomic_int assigned;
    atomic_bool running, registered;
};

/*
 * A job: one consumed batch on its way through the pipeline. The loop thread
 * decodes it (job_new) and splits it into the lanes' shares (job_split),
 * each executor lane runs its share on PostgreSQL (exec_worker), the loop
 * thread publishes its responses (job_publish). Each lane runs its shares
 * in consumption order, so the order of each partition is kept, while the
 * loop thread decodes the next batches and encodes the finished ones'
 * responses in parallel.
 */
typedef struct loop_job {
    struct loop_job *next;
    size_t n;                  /* messages */
    dbev_request_t **slot;     /* per message: decoded request, or NULL */
    json_t **invalid;          /* per message: the answer to an undecodable one */
    char (*ids)[DBEV_ID_SIZE]; /* per message: correlation id, or "" */
    dbev_request_t **reqs;     /* the decoded requests, in order */
    size_t nreq;
    adapter_outcome_t *outs;                  /* per decoded request, filled by the executor */
    rd_kafka_topic_partition_list_t *offsets; /* next offset to consume, per partition */
    int32_t *partition;                       /* per decoded request */
    int64_t consumed_us; /* when the consumer poll handed over its first message */
    struct loop_share {
        struct loop_job *next; /* the lane's next job */
        size_t n;
        dbev_request_t **reqs;
        adapter_outcome_t *outs;
        size_t *index; /* into the job's reqs and outs */
    } share[LOOP_MAX_LANES];
    int shares_left; /* lanes that have not run their share yet */
    uint64_t seq;    /* submission number */
    bool whole;      /* not split: every request on lane 0 */
    bool barrier;    /* split unlike the job before: no lane starts it before every
                        earlier job is done, or a partition's requests could pass
                        each other between lanes */
    bool dropped;    /* workers_stop(): on its list of jobs to free */
} loop_job_t;

/* kafka_io.c: the Kafka clients */
rd_kafka_conf_t *kafka_conf(dbev_adapter_t *adapter, bool consumer, char *errstr, size_t size);
rd_kafka_resp_err_t produce(dbev_adapter_t *adapter, rd_kafka_topic_t *rkt, const char *key,
                            char *payload, size_t len, int msgflags, void *opaque);
size_t gather(dbev_adapter_t *adapter, rd_kafka_message_t **msgs, size_t max, int timeout_ms,
              int64_t *first_us);
void publish_event(dbev_adapter_t *adapter, int topic, json_t *event, void *opaque);

/* decode.c: a job from consumed messages */
loop_job_t *job_new(dbev_adapter_t *adapter, rd_kafka_message_t **msgs, size_t n);
void job_free(loop_job_t *job);

/* job_split.c: a job into the lanes' shares (first, last_whole: split_plan()) */
int job_split(loop_job_t *job, int nlanes, bool first, bool last_whole);

/* lanes.c: the executor lanes */
int workers_start(dbev_adapter_t *adapter);
void workers_stop(dbev_adapter_t *adapter);
void job_submit(dbev_adapter_t *adapter, loop_job_t *job);
void jobs_collect(dbev_adapter_t *adapter, int timeout_ms);
void jobs_finish(dbev_adapter_t *adapter);

/* responses.c: answers produced, delivery reports */
void job_publish(dbev_adapter_t *adapter, loop_job_t *job);
void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
void serve_deliveries(dbev_adapter_t *adapter, int timeout_ms);
void retry_free(loop_retry_t *r);

/* offsets.c: commits */
void commit_ready(dbev_adapter_t *adapter, bool sync);
/* The request partitions: as a member of group.id (subscribe; the rebalance
 * callback assigns), or every one of them at once (consumer.assignment=all). */
rd_kafka_resp_err_t consume_as_group(dbev_adapter_t *adapter);
rd_kafka_resp_err_t consume_all_partitions(dbev_adapter_t *adapter);
void drain(dbev_adapter_t *adapter, int64_t timeout_ms);
void batch_free(loop_batch_t *batch);
void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
               void *opaque);
void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t *partitions, void *opaque);

#endif
