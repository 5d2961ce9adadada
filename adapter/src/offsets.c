/*
 * Offsets and commits: a batch's offsets are committed only once the broker
 * has acknowledged every response of it and of every batch before it
 * (commits are cumulative), so a crash redelivers and never loses. At a
 * stop and at a revocation the loop finishes what it holds, waits for the
 * acknowledgements (drain) and commits before letting go.
 */
#include "loop_int.h"

#include <inttypes.h>
#include <unistd.h>

void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
               void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    atomic_fetch_add(&adapter->commit_failures, 1);
    /* Without membership the commit is a "simple" one (no member id), which
     * the broker refuses while group.id has members; librdkafka's mock
     * cluster refuses it once group.id has ever had one. Every commit would
     * fail and a successor would read everything again: say how to fix it. */
    if (adapter->assign_all &&
        (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION))
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL,
                  "offset commit to group %s refused: %s: that group has members that joined "
                  "it (consumer.assignment=group); give a consumer.assignment=all instance a "
                  "group.id of its own, or a successor reads every request again",
                  adapter->group_id, rd_kafka_err2str(err));
    else
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL,
                  "offset commit failed: %s (those requests may be redelivered)",
                  rd_kafka_err2str(err));
}

/* --- batches and commits --- */

static void offsets_merge(rd_kafka_topic_partition_list_t *into,
                          const rd_kafka_topic_partition_list_t *from)
{
    for (int i = 0; i < from->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &from->elems[i];
        rd_kafka_topic_partition_t *q =
            rd_kafka_topic_partition_list_find(into, p->topic, p->partition);
        if (!q)
            rd_kafka_topic_partition_list_add(into, p->topic, p->partition)->offset = p->offset;
        else if (p->offset > q->offset)
            q->offset = p->offset;
    }
}

void batch_free(loop_batch_t *batch)
{
    if (!batch)
        return;
    if (batch->offsets)
        rd_kafka_topic_partition_list_destroy(batch->offsets);
    free(batch);
}

/* Moves the offsets of fully acknowledged batches (in order) into done and
 * commits them. A batch with a lost response stops everything: committing
 * past it would acknowledge the lost response. */
void commit_ready(dbev_adapter_t *adapter, bool sync)
{
    while (adapter->head && adapter->head->pending == 0) {
        loop_batch_t *batch = adapter->head;
        if (batch->lost) {
            if (!atomic_load(&adapter->fatal) && atomic_load(&adapter->stop) != STOP_ABORT)
                dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL,
                          "a response could not be delivered: stopping without committing "
                          "(the requests will be redelivered)");
            atomic_store(&adapter->fatal, true);
            return;
        }
        offsets_merge(adapter->done, batch->offsets);
        adapter->head = batch->next;
        if (!adapter->head)
            adapter->tail = NULL;
        batch_free(batch);
    }
    if (adapter->done->cnt == 0)
        return;
    rd_kafka_resp_err_t err = rd_kafka_commit(adapter->consumer, adapter->done, sync ? 0 : 1);
    atomic_fetch_add(&adapter->commits, 1);
    if (sync && err)
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL, "offset commit failed: %s",
                  rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(adapter->done);
    adapter->done = rd_kafka_topic_partition_list_new(8);
}

/* Serves delivery reports until nothing is in flight or the deadline passes. */
void drain(dbev_adapter_t *adapter, int64_t timeout_ms)
{
    int64_t deadline = dbev_mono_us() + timeout_ms * 1000;
    while (atomic_load(&adapter->in_flight) > 0 && dbev_mono_us() < deadline &&
           atomic_load(&adapter->stop) != STOP_ABORT && !atomic_load(&adapter->fatal))
        serve_deliveries(adapter, 20);
    serve_deliveries(adapter, 0);
    if (atomic_load(&adapter->in_flight) > 0)
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, NULL,
                  "%" PRId64 " responses still unacknowledged: their requests stay uncommitted",
                  (int64_t)atomic_load(&adapter->in_flight));
}

void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    dbev_adapter_t *adapter = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, NULL, "assigned %d partition(s)",
                  partitions->cnt);
        if (adapter->cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, partitions);
            if (e)
                rd_kafka_error_destroy(e);
            atomic_fetch_add(&adapter->assigned, partitions->cnt);
        } else {
            rd_kafka_assign(rk, partitions);
            atomic_store(&adapter->assigned, partitions->cnt);
        }
        return;
    }
    /* Revoked (or lost): answer, acknowledge and commit what we consumed from
     * these partitions before another member takes them over. */
    dbev_logf(&adapter->logger, DBEV_LOG_INFO, NULL, "revoking %d partition(s)", partitions->cnt);
    if (atomic_load(&adapter->stop) != STOP_ABORT && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS &&
        !rd_kafka_assignment_lost(rk)) {
        jobs_finish(adapter);
        drain(adapter, adapter->shutdown_timeout_ms);
        commit_ready(adapter, true);
    }
    if (adapter->cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, partitions);
        if (e)
            rd_kafka_error_destroy(e);
        atomic_fetch_sub(&adapter->assigned, partitions->cnt);
    } else {
        rd_kafka_assign(rk, NULL);
        atomic_store(&adapter->assigned, 0);
    }
}

/* --- taking the request partitions --- */

rd_kafka_resp_err_t consume_as_group(dbev_adapter_t *adapter)
{
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, adapter->topics[T_REQUESTED], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(adapter->consumer, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    return err;
}

/* consumer.assignment=all: every partition of the request topic, without a
 * group. A new group's first join waits out the broker's initial rebalance
 * delay (3 s on librdkafka's mock cluster, group.initial.rebalance.delay.ms
 * on a real one) before anything is consumed; a lone instance gains nothing
 * from membership, so it asks the metadata for the partitions and assigns
 * them itself. RD_KAFKA_OFFSET_INVALID resumes at group.id's committed
 * offsets; those commits are refused while group.id has members (see
 * commit_cb), so such an instance needs a group id of its own. The topic may
 * not exist yet (a harness creates it just before): its metadata is asked
 * again for up to ASSIGN_ALL_WAIT_MS. */
#define ASSIGN_ALL_WAIT_MS 30000
rd_kafka_resp_err_t consume_all_partitions(dbev_adapter_t *adapter)
{
    rd_kafka_topic_t *rkt =
        rd_kafka_topic_new(adapter->consumer, adapter->topics[T_REQUESTED], NULL);
    if (!rkt)
        return rd_kafka_last_error();
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    int64_t deadline = dbev_mono_us() + (int64_t)ASSIGN_ALL_WAIT_MS * 1000;
    int partitions = 0;
    while (!partitions && !atomic_load(&adapter->stop) && dbev_mono_us() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        err = rd_kafka_metadata(adapter->consumer, 0, rkt, &md, 2000);
        if (!err && md->topic_cnt == 1 && !md->topics[0].err)
            partitions = md->topics[0].partition_cnt;
        else if (!err)
            err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (!partitions)
            usleep(100 * 1000); /* the topic is being created: ask again */
    }
    rd_kafka_topic_destroy(rkt);
    if (!partitions)
        return err ? err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(all, adapter->topics[T_REQUESTED], p)->offset =
            RD_KAFKA_OFFSET_INVALID;
    err = rd_kafka_assign(adapter->consumer, all);
    rd_kafka_topic_partition_list_destroy(all);
    if (!err) {
        atomic_store(&adapter->assigned, partitions);
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, NULL,
                  "assigned all %d partition(s) of %s (consumer.assignment=all)", partitions,
                  adapter->topics[T_REQUESTED]);
    }
    return err;
}
