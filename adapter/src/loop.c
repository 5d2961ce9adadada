/*
 * The adapter's Kafka side: the consume -> execute -> produce -> commit loop.
 *
 * The loop thread (dbev_adapter_run) owns both Kafka clients: it polls the
 * consumer for up to batch.max request messages, decodes them (undecodable
 * ones get their VALIDATION_ERROR answer ready at once) and queues the batch
 * as a job for the executor lanes (exec.lanes threads, each with its own
 * connection). A job is split by partition: partition p goes to lane
 * p % lanes, and each lane runs its share of the jobs (adapter_exec_batch,
 * exec.h) one job at a time in consumption order, so each partition's order
 * is kept while the lanes keep PostgreSQL and the executor's own work busy
 * at the same time. A small job (fewer than LOOP_SPLIT_MIN requests) runs
 * whole on lane 0; a job split unlike the one before it is a barrier that no
 * lane starts before every earlier job is done, so a partition's requests
 * never pass each other between lanes. A job is done when every lane has run
 * its share; jobs therefore finish in consumption order. Meanwhile the loop thread decodes
 * the next batches and publishes the finished ones: one response per
 * message, in consumption order, keyed by correlation id, through an
 * idempotent producer (acks=all).
 *
 * A batch's offsets are committed only when the broker has acknowledged every
 * response of that batch and of every batch before it (delivery reports,
 * served on the loop thread by rd_kafka_poll on the producer). A crash
 * therefore redelivers requests, it never loses them; the executor's dedupe
 * keeps redelivered writes from being applied twice. Up to inflight.max
 * responses may be unacknowledged at once.
 *
 * A failed delivery is retried (re-produced) rather than skipped, because a
 * commit is cumulative: skipping one response would acknowledge it. An
 * error that the same bytes cannot cure (too large for the producer or the
 * broker, a record refused as invalid) is the exception: after
 * LOOP_RESEND_MAX tries the response is replaced by a small failed answer
 * for the same correlation id saying why, so one request can never stop a
 * partition (a failed replacement is given up on, logged, and its offset
 * moves on). A stop
 * (dbev_adapter_stop, SIGTERM in the daemon) finishes the jobs in hand, waits
 * up to shutdown.timeout.ms for the last acknowledgements, commits and leaves
 * the group; a revocation does the same for the partitions it takes away;
 * dbev_adapter_abort stops as a crash would.
 *
 * Where each part lives (their private declarations: loop_int.h):
 *   loop.c       this overview; the handle, its construction, the run loop
 *   kafka_io.c   the Kafka clients: configuration, log and error callbacks,
 *                consume (gather), produce
 *   decode.c     consumed messages decoded into a job; a job freed
 *   job_split.c  a job split into the lanes' shares; the barrier
 *   lanes.c      the executor lanes, their job queues, the done queue
 *   responses.c  answers produced in consumption order; delivery reports,
 *                resends and replacements
 *   offsets.c    commits: once a batch's responses and every earlier
 *                batch's are acknowledged; at a stop; at a revocation
 */
#include "loop_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Jobs between consumption and publication: one executing, two decoded and
 * waiting, so a lane that finishes its share early always finds the next. */
#define LOOP_MAX_JOBS 3

const char *dbev_adapter_version(void)
{
    return DBEV_VERSION_STRING;
}

const char *dbev_adapter_instance_id(const dbev_adapter_t *adapter)
{
    return adapter->instance_id;
}

static void heartbeat(dbev_adapter_t *adapter)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(adapter, &stats);
    publish_event(adapter, T_HEARTBEAT,
                  registry_heartbeat(&adapter->reg, adapter_exec_health(adapter->exec), &stats),
                  NULL);
    atomic_fetch_add(&adapter->heartbeats, 1);
}

int dbev_adapter_run(dbev_adapter_t *adapter)
{
    if (adapter->in_run)
        return -1;
    adapter->in_run = true;
    atomic_store(&adapter->running, true);
    rd_kafka_message_t **msgs = calloc(adapter->batch_max, sizeof(*msgs));
    rd_kafka_resp_err_t err =
        adapter->assign_all ? consume_all_partitions(adapter) : consume_as_group(adapter);
    if (!msgs || err) {
        dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL, "cannot subscribe to %s: %s",
                  adapter->topics[T_REQUESTED], rd_kafka_err2str(err));
        free(msgs);
        atomic_store(&adapter->running, false);
        return -1;
    }
    adapter->cooperative = !strcmp(rd_kafka_rebalance_protocol(adapter->consumer), "COOPERATIVE");
    dbev_logf(&adapter->logger, DBEV_LOG_INFO, adapter->instance_id,
              "dbev-adapter %s started: consuming %s %s %s", dbev_adapter_version(),
              adapter->topics[T_REQUESTED],
              adapter->assign_all ? "(every partition, offsets of)" : "as group",
              adapter->group_id);
    if (workers_start(adapter)) {
        free(msgs);
        rd_kafka_consumer_close(adapter->consumer);
        atomic_store(&adapter->running, false);
        return -1;
    }
    publish_event(adapter, T_REGISTRY, registry_announcement(&adapter->reg, "up"),
                  &adapter->reg_sentinel);
    int64_t next_heartbeat = dbev_mono_us();

    while (!atomic_load(&adapter->stop) && !atomic_load(&adapter->fatal)) {
        int64_t now = dbev_mono_us();
        if (now >= next_heartbeat) {
            heartbeat(adapter);
            next_heartbeat = now + adapter->heartbeat_ms * 1000;
        }
        serve_deliveries(adapter, 0);
        jobs_collect(adapter, 0);
        commit_ready(adapter, false);
        if (atomic_load(&adapter->in_flight) >= adapter->inflight_max) {
            serve_deliveries(adapter, 10);
            continue;
        }
        if (adapter->jobs_outstanding >= LOOP_MAX_JOBS) {
            /* the lanes have enough in hand: wait for the first job to finish */
            jobs_collect(adapter, 5);
            continue;
        }
        int timeout = atomic_load(&adapter->in_flight) > 0 || adapter->jobs_outstanding ? 1 : 100;
        int64_t to_hb = (next_heartbeat - now) / 1000;
        if (to_hb < timeout)
            timeout = to_hb < 0 ? 0 : (int)to_hb;
        int64_t consumed_us;
        size_t n = gather(adapter, msgs, adapter->batch_max, timeout, &consumed_us);
        if (n) {
            loop_job_t *job = job_new(adapter, msgs, n);
            if (job)
                job->consumed_us = consumed_us;
            if (job && job_split(job, adapter->nlanes, adapter->jobs_submitted == 0,
                                 adapter->last_whole)) {
                job_free(job);
                job = NULL;
            }
            if (!job) {
                dbev_logf(&adapter->logger, DBEV_LOG_ERROR, NULL,
                          "out of memory for a batch of %zu: stopping uncommitted", n);
                atomic_store(&adapter->fatal, true);
                break;
            }
            job_submit(adapter, job);
        }
    }

    int stop = atomic_load(&adapter->stop);
    bool fatal = atomic_load(&adapter->fatal);
    /* What the executor was given is answered on a graceful stop, dropped otherwise. */
    if (stop != STOP_ABORT && !fatal)
        jobs_finish(adapter);
    workers_stop(adapter);
    if (stop == STOP_ABORT) {
        dbev_logf(&adapter->logger, DBEV_LOG_WARN, adapter->instance_id,
                  "aborting: %" PRId64 " unacknowledged responses purged, nothing committed",
                  (int64_t)atomic_load(&adapter->in_flight));
        rd_kafka_purge(adapter->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        serve_deliveries(adapter, 0);
    } else if (!fatal) {
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, adapter->instance_id,
                  "stopping: waiting for %" PRId64 " responses to be acknowledged",
                  (int64_t)atomic_load(&adapter->in_flight));
        drain(adapter, adapter->shutdown_timeout_ms);
        commit_ready(adapter, true);
        publish_event(adapter, T_REGISTRY, registry_announcement(&adapter->reg, "down"), NULL);
        rd_kafka_flush(adapter->producer, 2000);
    }
    /* Leaves the group; the revoke callback commits what is left (not after an abort). */
    rd_kafka_consumer_close(adapter->consumer);
    free(msgs);
    fatal = atomic_load(&adapter->fatal);
    dbev_logf(&adapter->logger, fatal ? DBEV_LOG_ERROR : DBEV_LOG_INFO, adapter->instance_id,
              "stopped%s: consumed %" PRIu64 ", completed %" PRIu64 ", failed %" PRIu64
              ", invalid %" PRIu64,
              fatal ? " on a fatal error" : "", (uint64_t)atomic_load(&adapter->consumed),
              (uint64_t)atomic_load(&adapter->completed), (uint64_t)atomic_load(&adapter->failed),
              (uint64_t)atomic_load(&adapter->invalid));
    atomic_store(&adapter->running, false);
    return fatal ? -1 : 0;
}

/* --- construction --- */

static void adapter_free(dbev_adapter_t *adapter)
{
    if (adapter->producer) {
        rd_kafka_purge(adapter->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(adapter->producer, 0);
    }
    for (int t = 0; t < T_COUNT; t++)
        if (adapter->rkt[t])
            rd_kafka_topic_destroy(adapter->rkt[t]);
    if (adapter->producer)
        rd_kafka_destroy(adapter->producer);
    if (adapter->consumer_q)
        rd_kafka_queue_destroy(adapter->consumer_q);
    if (adapter->consumer) {
        if (!adapter->in_run)
            rd_kafka_consumer_close(adapter->consumer);
        rd_kafka_destroy(adapter->consumer);
    }
    while (adapter->retries) {
        loop_retry_t *next = adapter->retries->next;
        retry_free(adapter->retries);
        adapter->retries = next;
    }
    while (adapter->head) {
        loop_batch_t *next = adapter->head->next;
        batch_free(adapter->head);
        adapter->head = next;
    }
    if (adapter->done)
        rd_kafka_topic_partition_list_destroy(adapter->done);
    for (int l = 1; l < adapter->nlanes; l++)
        adapter_exec_destroy(adapter->lanes[l].exec);
    adapter_exec_destroy(adapter->exec);
    pthread_mutex_destroy(&adapter->jobs_lock);
    pthread_cond_destroy(&adapter->todo_cond);
    pthread_cond_destroy(&adapter->done_cond);
    aconf_strv_free(adapter->allowlist);
    free(adapter->conninfo);
    free(adapter);
}

dbev_adapter_t *dbev_adapter_new(dbev_adapter_conf_t *conf, char *errstr, size_t size)
{
    if (!conf) {
        dbev_seterr(errstr, size, "no configuration");
        return NULL;
    }
    if (aconf_validate(conf, errstr, size))
        return NULL;
    dbev_adapter_t *adapter = calloc(1, sizeof(*adapter));
    if (!adapter) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    adapter->conf = conf;
    dbev_log_cb *cb;
    void *opaque;
    aconf_log_sink(conf, &cb, &opaque);
    adapter->logger.cb = cb;
    adapter->logger.opaque = opaque;
    adapter->logger.level = (dbev_log_level_t)dbev_log_level_parse(aconf_value(conf, "log.level"));
    adapter->logger.component = "adapter";
    adapter->batch_max = (size_t)aconf_int(conf, "batch.max");
    adapter->inflight_max = aconf_int(conf, "inflight.max");
    adapter->heartbeat_ms = aconf_int(conf, "heartbeat.interval.ms");
    adapter->shutdown_timeout_ms = aconf_int(conf, "shutdown.timeout.ms");
    adapter->message_max_bytes = aconf_producer_message_max_bytes(conf);
    adapter->done = rd_kafka_topic_partition_list_new(8);
    pthread_mutex_init(&adapter->jobs_lock, NULL);
    pthread_cond_init(&adapter->todo_cond, NULL);
    pthread_cond_init(&adapter->done_cond, NULL);

    const char *iid = aconf_value(conf, "instance.id");
    if (*iid)
        snprintf(adapter->instance_id, sizeof(adapter->instance_id), "%s", iid);
    else
        dbev_uuid_new(adapter->instance_id);
    snprintf(adapter->group_id, sizeof(adapter->group_id), "%s", aconf_value(conf, "group.id"));
    adapter->assign_all = !strcmp(aconf_value(conf, "consumer.assignment"), "all");
    static const dbev_topic_t kinds[T_COUNT] = {DBEV_TOPIC_REQUESTED, DBEV_TOPIC_COMPLETED,
                                                DBEV_TOPIC_FAILED, DBEV_TOPIC_REGISTRY,
                                                DBEV_TOPIC_HEARTBEAT};
    for (int t = 0; t < T_COUNT; t++) {
        dbev_topic_name(aconf_value(conf, "topic.prefix"), kinds[t], adapter->topics[t],
                        sizeof(adapter->topics[t]));
        adapter->reg.topics[t] = adapter->topics[t];
    }
    adapter->reg.instance_id = adapter->instance_id;
    adapter->reg.group_id = adapter->group_id;
    adapter->reg.started_us = dbev_wall_us();
    adapter->reg.heartbeat_interval_ms = adapter->heartbeat_ms;

    char kerr[512];
    rd_kafka_conf_t *pconf = kafka_conf(adapter, false, kerr, sizeof(kerr));
    if (!pconf ||
        !(adapter->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, kerr, sizeof(kerr)))) {
        if (pconf)
            rd_kafka_conf_destroy(pconf);
        dbev_seterr(errstr, size, "Kafka producer: %s", kerr);
        goto fail;
    }
    for (int t = T_COMPLETED; t < T_COUNT; t++)
        adapter->rkt[t] = rd_kafka_topic_new(adapter->producer, adapter->topics[t], NULL);
    rd_kafka_conf_t *cconf = kafka_conf(adapter, true, kerr, sizeof(kerr));
    if (!cconf ||
        !(adapter->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, kerr, sizeof(kerr)))) {
        if (cconf)
            rd_kafka_conf_destroy(cconf);
        dbev_seterr(errstr, size, "Kafka consumer: %s", kerr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(adapter->consumer);
    adapter->consumer_q = rd_kafka_queue_get_consumer(adapter->consumer);

    if (!(adapter->conninfo = aconf_conninfo(conf, errstr, size)))
        goto fail;
    adapter->allowlist = aconf_strv(aconf_value(conf, "tables.allowlist"));
    adapter_exec_conf_t econf = {
        .conninfo = adapter->conninfo,
        .pool_min = (int)aconf_int(conf, "pool.min"),
        .pool_max = (int)aconf_int(conf, "pool.max"),
        .max_conn_age_ms = aconf_int(conf, "pool.max.age.ms"),
        .pool_max_queries = aconf_int(conf, "pool.max.queries"),
        .pool_idle_timeout_ms = aconf_int(conf, "pool.idle.timeout.ms"),
        .pool_connect_timeout_ms = aconf_int(conf, "pool.connect.timeout.ms"),
        .pool_command_timeout_ms = aconf_int(conf, "pool.command.timeout.ms"),
        .saturation_pct = (double)aconf_int(conf, "health.saturation.pct"),
        .breaker_failure_threshold = (int)aconf_int(conf, "breaker.failure.threshold"),
        .breaker_recovery_ms = aconf_int(conf, "breaker.recovery.timeout.ms"),
        .breaker_success_threshold = (int)aconf_int(conf, "breaker.success.threshold"),
        .default_timeout_ms = aconf_int(conf, "request.timeout.default.ms"),
        .response_max_bytes = aconf_int(conf, "response.max.bytes"),
        .table_allowlist = (const char *const *)adapter->allowlist,
        .dedupe_retention_ms = aconf_int(conf, "dedupe.retention.ms"),
        .refuse_superuser = !aconf_bool(conf, "pg.allow.superuser"),
        .logger = &adapter->logger,
    };
    char eerr[512];
    if (!(adapter->exec = adapter_exec_new(&econf, eerr, sizeof(eerr)))) {
        dbev_seterr(errstr, size, "executor: %s", eerr);
        goto fail;
    }
    adapter->nlanes = (int)aconf_int(conf, "exec.lanes");
    for (int l = 0; l < adapter->nlanes; l++) {
        struct loop_lane *lane = &adapter->lanes[l];
        lane->adapter = adapter;
        lane->index = l;
        lane->exec =
            l == 0 ? adapter->exec : adapter_exec_new_lane(adapter->exec, eerr, sizeof(eerr));
        if (!lane->exec) {
            dbev_seterr(errstr, size, "executor lane %d: %s", l, eerr);
            goto fail;
        }
    }

    /* One line with the effective configuration, secrets masked. */
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *fp = open_memstream(&dump, &dump_len);
    if (fp) {
        dbev_adapter_conf_dump(conf, fp);
        fclose(fp);
        for (char *p = dump; p && *p; p++)
            if (*p == '\n')
                *p = ' ';
        dbev_logf(&adapter->logger, DBEV_LOG_INFO, adapter->instance_id, "configuration: %s",
                  dump ? dump : "");
        free(dump);
    }
    return adapter;
fail:
    adapter->conf = NULL; /* stays the caller's on failure */
    adapter_free(adapter);
    return NULL;
}

static void *run_thread(void *arg)
{
    dbev_adapter_t *adapter = arg;
    pthread_setname_np(pthread_self(), "dbev-loop");
    adapter->run_rc = dbev_adapter_run(adapter);
    return NULL;
}

int dbev_adapter_start(dbev_adapter_t *adapter, char *errstr, size_t size)
{
    if (adapter->started || adapter->in_run)
        return dbev_seterr(errstr, size, "the adapter is already running");
    /* The loop thread must not take the process's signals (the daemon's
     * SIGTERM handling belongs to the thread that installed it). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* Running from here, not from when the new thread gets going: a caller
     * that asks right after the start must not see a dead adapter. */
    atomic_store(&adapter->running, true);
    int rc = pthread_create(&adapter->thread, NULL, run_thread, adapter);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        atomic_store(&adapter->running, false);
        return dbev_seterr(errstr, size, "cannot start the adapter thread: %s", strerror(rc));
    }
    adapter->started = true;
    return 0;
}

void dbev_adapter_stop(dbev_adapter_t *adapter)
{
    int expected = STOP_NONE;
    atomic_compare_exchange_strong(&adapter->stop, &expected, STOP_GRACEFUL);
}

void dbev_adapter_abort(dbev_adapter_t *adapter)
{
    atomic_store(&adapter->stop, STOP_ABORT);
}

int dbev_adapter_join(dbev_adapter_t *adapter)
{
    if (!adapter->started)
        return -1;
    if (!adapter->joined) {
        pthread_join(adapter->thread, NULL);
        adapter->joined = true;
    }
    return adapter->run_rc;
}

void dbev_adapter_destroy(dbev_adapter_t *adapter)
{
    if (!adapter)
        return;
    if (adapter->started) {
        dbev_adapter_stop(adapter);
        dbev_adapter_join(adapter);
    }
    dbev_adapter_conf_t *conf = adapter->conf;
    adapter_free(adapter);
    dbev_adapter_conf_destroy(conf);
}

void dbev_adapter_stats(dbev_adapter_t *adapter, dbev_adapter_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    stats->consumed = atomic_load(&adapter->consumed);
    stats->invalid = atomic_load(&adapter->invalid);
    stats->completed = atomic_load(&adapter->completed);
    stats->failed = atomic_load(&adapter->failed);
    stats->delivered = atomic_load(&adapter->delivered);
    stats->delivery_errors = atomic_load(&adapter->delivery_errors);
    stats->batches = atomic_load(&adapter->batches);
    stats->commits = atomic_load(&adapter->commits);
    stats->commit_failures = atomic_load(&adapter->commit_failures);
    stats->heartbeats = atomic_load(&adapter->heartbeats);
    stats->in_flight = atomic_load(&adapter->in_flight);
    stats->assigned = atomic_load(&adapter->assigned);
    stats->running = atomic_load(&adapter->running);
    stats->registered = atomic_load(&adapter->registered);
    stats->breaker_state = (int)adapter_exec_breaker_state(adapter->exec);
}

char *dbev_adapter_health_json(dbev_adapter_t *adapter)
{
    dbev_adapter_stats_t stats;
    dbev_adapter_stats(adapter, &stats);
    json_t *event = registry_heartbeat(&adapter->reg, adapter_exec_health(adapter->exec), &stats);
    json_t *payload = json_object_get(event, "payload");
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(event);
    return text;
}
