/*
 * The adapter tests' environment: pgenv + mockenv + a request producer + a
 * response collector (see test_adapter_kit.h). Failures inside the kit fail
 * the calling test through cmocka's fail_msg, so tests stay short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_adapter_kit.h"
#include "test_timeout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void kit_log(void *opaque, dbev_log_level_t level, const char *component,
                    const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE") || level >= DBEV_LOG_ERROR)
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

static rd_kafka_t *new_client(kit_t *kit, rd_kafka_type_t type)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(kit->mk), err, sizeof(err));
    if (type == RD_KAFKA_PRODUCER) {
        rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof(err));
        rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err));
    } else {
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", err, sizeof(err));
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err));
        rd_kafka_conf_set(conf, "group.id", "dbev-test-collector", err, sizeof(err));
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk)
        fail_msg("rd_kafka_new: %s", err);
    return rk;
}

/* Assigns every partition of the given topics, from the beginning. */
static void assign_all(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    for (size_t t = 0; t < n; t++)
        for (int p = 0; p < partitions; p++)
            rd_kafka_topic_partition_list_add(parts, topics[t], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
}

kit_t *kit_new(const char *schema_sql, int partitions)
{
    char err[512];
    kit_t *kit = calloc(1, sizeof(*kit));
    assert_non_null(kit);
    kit->logger.cb = kit_log;
    kit->logger.level = DBEV_LOG_DEBUG;
    kit->logger.component = "test";
    snprintf(kit->tmpdir, sizeof(kit->tmpdir), "/tmp/dbev-adapter-test-XXXXXX");
    if (!mkdtemp(kit->tmpdir))
        fail_msg("mkdtemp failed");
    chmod(kit->tmpdir, 0755);

    pgenv_opts_t popts = {0};
    popts.quiet = true;
    kit->pg = pgenv_new(&popts, err, sizeof(err));
    if (!kit->pg) {
        kit_destroy(kit);
        fail_msg("pgenv_new: %s", err);
    }
    snprintf(kit->dbname, sizeof(kit->dbname), "adapter_test");
    if (pgenv_create_database(kit->pg, kit->dbname, NULL, err, sizeof(err))) {
        kit_destroy(kit);
        fail_msg("create database: %s", err);
    }
    if (schema_sql)
        kit_exec(kit, schema_sql);

    mockenv_opts_t mopts = {0};
    mopts.brokers = 1;
    mopts.partitions = partitions;
    mopts.env = "test";
    kit->mk = mockenv_new(&mopts, err, sizeof(err));
    if (!kit->mk) {
        kit_destroy(kit);
        fail_msg("mockenv_new: %s", err);
    }
    kit->producer = new_client(kit, RD_KAFKA_PRODUCER);
    kit->collector = new_client(kit, RD_KAFKA_CONSUMER);
    const char *topics[2] = {mockenv_topic(kit->mk, DBEV_TOPIC_COMPLETED),
                             mockenv_topic(kit->mk, DBEV_TOPIC_FAILED)};
    assign_all(kit->collector, topics, 2, mockenv_partitions(kit->mk));
    return kit;
}

void kit_destroy(kit_t *kit)
{
    if (!kit)
        return;
    if (kit->producer) {
        rd_kafka_flush(kit->producer, 5000);
        rd_kafka_destroy(kit->producer);
    }
    if (kit->offsets_reader)
        rd_kafka_destroy(kit->offsets_reader);
    if (kit->collector) {
        rd_kafka_consumer_close(kit->collector);
        rd_kafka_destroy(kit->collector);
    }
    for (size_t i = 0; i < kit->n_resps; i++) {
        free(kit->resps[i].text);
        dbev_response_destroy(kit->resps[i].resp);
    }
    free(kit->resps);
    free(kit->index);
    free(kit->counts);
    mockenv_destroy(kit->mk);
    pgenv_destroy(kit->pg);
    if (kit->tmpdir[0])
        rmdir(kit->tmpdir);
    free(kit);
}

dbev_adapter_conf_t *kit_adapter_conf(kit_t *kit)
{
    char *args[32];
    int n = kit_adapter_args(kit, args, 32);
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_non_null(conf);
    char err[512];
    for (int i = 0; i < n; i++) {
        if (dbev_adapter_conf_set_kv(conf, args[i], err, sizeof(err)) != DBEV_ADAPTER_CONF_OK)
            fail_msg("conf %s: %s", args[i], err);
        free(args[i]);
    }
    dbev_adapter_conf_set_log_cb(conf, kit_log, NULL);
    return conf;
}

dbev_adapter_t *kit_start_adapter(kit_t *kit, const char *const *kv, int wait_ms)
{
    dbev_adapter_conf_t *conf = kit_adapter_conf(kit);
    char err[512];
    for (size_t i = 0; kv && kv[i]; i++)
        if (dbev_adapter_conf_set_kv(conf, kv[i], err, sizeof(err)) != DBEV_ADAPTER_CONF_OK) {
            dbev_adapter_conf_destroy(conf);
            fail_msg("conf %s: %s", kv[i], err);
        }
    dbev_adapter_t *adapter = dbev_adapter_new(conf, err, sizeof(err));
    if (!adapter) {
        dbev_adapter_conf_destroy(conf);
        fail_msg("dbev_adapter_new: %s", err);
    }
    if (dbev_adapter_start(adapter, err, sizeof(err))) {
        dbev_adapter_destroy(adapter);
        fail_msg("dbev_adapter_start: %s", err);
    }
    if (wait_ms > 0 && !kit_wait_for(kit_adapter_assigned, adapter, wait_ms)) {
        dbev_adapter_destroy(adapter);
        fail_msg("the adapter got no partitions within %d ms", wait_ms);
    }
    return adapter;
}

bool kit_adapter_assigned(void *adapter)
{
    dbev_adapter_stats_t st;
    dbev_adapter_stats(adapter, &st);
    return st.assigned > 0;
}

int kit_adapter_args(kit_t *kit, char **argv, int max)
{
    char buf[600];
    int n = 0;
#define ARG(...)                                                                                   \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), __VA_ARGS__);                                                   \
        if (n < max)                                                                               \
            argv[n++] = strdup(buf);                                                               \
    } while (0)
    ARG("env.fallback=false");
    ARG("bootstrap.servers=%s", mockenv_bootstrap(kit->mk));
    ARG("topic.prefix=%s", mockenv_env_name(kit->mk));
    ARG("pg.host=%s", pgenv_host(kit->pg));
    ARG("pg.port=%d", pgenv_port(kit->pg));
    ARG("pg.user=%s", pgenv_user(kit->pg));
    ARG("pg.dbname=%s", kit->dbname);
    /* The kit's database has no migrations and its adapters connect as the
     * superuser, which then applies migration 007 itself
     * (test_exec_privilege runs the adapter as dbev_app). */
    ARG("pg.allow.superuser=true");
    ARG("pool.min=2");
    ARG("pool.max=4");
    ARG("heartbeat.interval.ms=500");
    ARG("log.level=%s", getenv("DBEV_TEST_VERBOSE") ? "debug" : "warn");
    ARG("kafka.consumer.fetch.wait.max.ms=10");
    ARG("kafka.consumer.session.timeout.ms=3000");
    ARG("kafka.consumer.heartbeat.interval.ms=500");
#undef ARG
    return n;
}

static void dr_wait(kit_t *kit)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(kit->producer, 10000);
    if (err)
        fail_msg("flush: %s", rd_kafka_err2str(err));
}

void kit_send_raw(kit_t *kit, const void *buf, size_t len, const char *key)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        kit->producer, RD_KAFKA_V_TOPIC(mockenv_topic(kit->mk, DBEV_TOPIC_REQUESTED)),
        RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err)
        fail_msg("produce: %s", rd_kafka_err2str(err));
    dr_wait(kit);
}

void kit_send_op(kit_t *kit, const char *payload_json, char *correlation_id,
                 const char *event_id_in, char *event_id_out)
{
    json_error_t jerr;
    json_t *payload = json_loads(payload_json, 0, &jerr);
    if (!payload)
        fail_msg("bad payload in test: %s: %s", jerr.text, payload_json);
    char cid[40], eid[40];
    if (correlation_id && correlation_id[0])
        snprintf(cid, sizeof(cid), "%s", correlation_id);
    else
        dbev_uuid_new(cid);
    if (event_id_in)
        snprintf(eid, sizeof(eid), "%s", event_id_in);
    else
        dbev_uuid_new(eid);
    json_t *event = dbev_envelope_new(DBEV_EVENT_REQUESTED, eid, cid, "dbev-test", 0, payload);
    char *text = dbev_event_dumps(event);
    json_decref(event);
    assert_non_null(text);
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                kit->producer, RD_KAFKA_V_TOPIC(mockenv_topic(kit->mk, DBEV_TOPIC_REQUESTED)),
                RD_KAFKA_V_VALUE(text, strlen(text)), RD_KAFKA_V_KEY(cid, strlen(cid)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(kit->producer, 10);
    if (err)
        fail_msg("produce: %s", rd_kafka_err2str(err));
    rd_kafka_poll(kit->producer, 0);
    if (correlation_id && !correlation_id[0])
        strcpy(correlation_id, cid);
    if (event_id_out)
        strcpy(event_id_out, eid);
}

void kit_flush(kit_t *kit)
{
    dr_wait(kit);
}

static size_t hash_id(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot of correlation_id in the index: its entry, or the empty slot where it goes. */
static size_t slot_of(const kit_t *kit, const char *correlation_id)
{
    size_t mask = kit->index_cap - 1;
    for (size_t i = hash_id(correlation_id) & mask;; i = (i + 1) & mask)
        if (!kit->index[i] || !strcmp(kit->resps[kit->index[i] - 1].correlation_id, correlation_id))
            return i;
}

static void index_add(kit_t *kit, size_t resp)
{
    if (kit->n_resps * 2 >= kit->index_cap) {
        size_t old_cap = kit->index_cap;
        size_t *old_index = kit->index;
        unsigned *old_counts = kit->counts;
        kit->index_cap = old_cap ? old_cap * 2 : 1024;
        kit->index = calloc(kit->index_cap, sizeof(*kit->index));
        kit->counts = calloc(kit->index_cap, sizeof(*kit->counts));
        assert_non_null(kit->index);
        assert_non_null(kit->counts);
        for (size_t i = 0; i < old_cap; i++)
            if (old_index[i]) {
                size_t s = slot_of(kit, kit->resps[old_index[i] - 1].correlation_id);
                kit->index[s] = old_index[i];
                kit->counts[s] = old_counts[i];
            }
        free(old_index);
        free(old_counts);
    }
    size_t s = slot_of(kit, kit->resps[resp].correlation_id);
    if (!kit->index[s])
        kit->index[s] = resp + 1;
    kit->counts[s]++;
}

static void store(kit_t *kit, const rd_kafka_message_t *msg)
{
    if (kit->n_resps == kit->cap_resps) {
        kit->cap_resps = kit->cap_resps ? kit->cap_resps * 2 : 256;
        kit->resps = realloc(kit->resps, kit->cap_resps * sizeof(*kit->resps));
        assert_non_null(kit->resps);
    }
    kit_resp_t *r = &kit->resps[kit->n_resps++];
    memset(r, 0, sizeof(*r));
    r->completed =
        !strcmp(rd_kafka_topic_name(msg->rkt), mockenv_topic(kit->mk, DBEV_TOPIC_COMPLETED));
    r->text = strndup(msg->payload, msg->len);
    char err[256];
    if (dbev_response_decode(msg->payload, msg->len, &r->resp, err, sizeof(err)) == 0)
        snprintf(r->correlation_id, sizeof(r->correlation_id), "%s", r->resp->correlation_id);
    else
        fail_msg("undecodable response (%s): %s", err, r->text);
    /* The key is the correlation id. */
    if (msg->key_len != strlen(r->correlation_id) ||
        memcmp(msg->key, r->correlation_id, msg->key_len) != 0)
        fail_msg("response keyed %.*s, correlation id %s", (int)msg->key_len,
                 (const char *)msg->key, r->correlation_id);
    index_add(kit, kit->n_resps - 1);
}

void kit_collect(kit_t *kit, size_t count, int timeout_ms)
{
    int64_t deadline = dbev_mono_us() + (int64_t)test_ms(timeout_ms) * 1000;
    while (kit->n_resps < count && dbev_mono_us() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(kit->collector, 50);
        if (!msg)
            continue;
        if (!msg->err)
            store(kit, msg);
        rd_kafka_message_destroy(msg);
    }
}

size_t kit_count(kit_t *kit, const char *correlation_id)
{
    if (!kit->index_cap)
        return 0;
    size_t s = slot_of(kit, correlation_id);
    return kit->index[s] ? kit->counts[s] : 0;
}

const kit_resp_t *kit_wait(kit_t *kit, const char *correlation_id, int timeout_ms)
{
    int64_t deadline = dbev_mono_us() + (int64_t)test_ms(timeout_ms) * 1000;
    for (;;) {
        if (kit->index_cap) {
            size_t s = slot_of(kit, correlation_id);
            if (kit->index[s])
                return &kit->resps[kit->index[s] - 1];
        }
        if (dbev_mono_us() >= deadline)
            return NULL;
        kit_collect(kit, kit->n_resps + 1, 100);
    }
}

static PGresult *run_sql(kit_t *kit, const char *sql)
{
    char err[512];
    PGconn *conn = pgenv_connect(kit->pg, kit->dbname, err, sizeof(err));
    if (!conn)
        fail_msg("connect: %s", err);
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(conn);
        fail_msg("%s: %s", sql, msg);
    }
    PQfinish(conn);
    return res;
}

void kit_exec(kit_t *kit, const char *sql)
{
    PQclear(run_sql(kit, sql));
}

long kit_query_long(kit_t *kit, const char *sql)
{
    PGresult *res = run_sql(kit, sql);
    long v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? atol(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return v;
}

char *kit_read_topic(kit_t *kit, const char *topic, bool (*match)(const char *text, void *arg),
                     void *arg, int timeout_ms)
{
    rd_kafka_t *rk = new_client(kit, RD_KAFKA_CONSUMER);
    /* The topic may have been created by its first producer: ask for its partitions. */
    int partitions = 0;
    int64_t deadline = dbev_mono_us() + (int64_t)test_ms(timeout_ms) * 1000;
    while (partitions == 0 && dbev_mono_us() < deadline) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const rd_kafka_metadata_t *md = NULL;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
        if (!partitions)
            usleep(50 * 1000); /* polling interval while waiting for a condition */
    }
    char *found = NULL;
    if (partitions) {
        assign_all(rk, &topic, 1, partitions);
        while (!found && dbev_mono_us() < deadline) {
            rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 50);
            if (!msg)
                continue;
            if (!msg->err) {
                char *text = strndup(msg->payload, msg->len);
                if (match(text, arg))
                    found = text;
                else
                    free(text);
            }
            rd_kafka_message_destroy(msg);
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return found;
}

bool kit_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = dbev_mono_us() + (int64_t)test_ms(timeout_ms) * 1000;
    while (!cond(arg)) {
        if (dbev_mono_us() >= deadline)
            return cond(arg);
        usleep(10 * 1000); /* polling interval while waiting for a condition */
    }
    return true;
}

void kit_cid_for_partition(kit_t *kit, int partition, char *cid)
{
    rd_kafka_topic_t *rkt =
        rd_kafka_topic_new(kit->producer, mockenv_topic(kit->mk, DBEV_TOPIC_COMPLETED), NULL);
    assert_non_null(rkt);
    do
        dbev_uuid_new(cid);
    while (rd_kafka_msg_partitioner_consistent_random(
               rkt, cid, strlen(cid), mockenv_partitions(kit->mk), NULL, NULL) != partition);
    rd_kafka_topic_destroy(rkt);
}

int64_t kit_send_to(kit_t *kit, int partition, const char *payload_json, const char *cid)
{
    char eid[40];
    dbev_uuid_new(eid);
    size_t size = strlen(payload_json) + 512;
    char *text = malloc(size);
    assert_non_null(text);
    snprintf(text, size,
             "{\"event_id\":\"%s\",\"event_type\":\"DATABASE_QUERY_REQUESTED\","
             "\"correlation_id\":\"%s\",\"timestamp\":\"2030-01-01T00:00:00.000Z\","
             "\"service\":\"dbev-test\",\"payload\":%s}",
             eid, cid, payload_json);
    const char *topic = mockenv_topic(kit->mk, DBEV_TOPIC_REQUESTED);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(kit->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_VALUE(text, strlen(text)), RD_KAFKA_V_KEY(cid, strlen(cid)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
    if (err) {
        free(text);
        fail_msg("produce: %s", rd_kafka_err2str(err));
    }
    dr_wait(kit);
    int64_t low = 0, high = 0;
    err = rd_kafka_query_watermark_offsets(kit->producer, topic, partition, &low, &high, 10000);
    if (err)
        fail_msg("watermarks of %s [%d]: %s", topic, partition, rd_kafka_err2str(err));
    return high - 1;
}

int64_t kit_committed(kit_t *kit, int partition)
{
    char err[512];
    if (!kit->offsets_reader) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(kit->mk), err, sizeof(err));
        rd_kafka_conf_set(conf, "group.id", "database-adapter-effect", err, sizeof(err));
        kit->offsets_reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!kit->offsets_reader)
            fail_msg("rd_kafka_new: %s", err);
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, mockenv_topic(kit->mk, DBEV_TOPIC_REQUESTED),
                                      partition);
    rd_kafka_resp_err_t e = rd_kafka_committed(kit->offsets_reader, parts, 10000);
    int64_t offset = parts->elems[0].offset;
    rd_kafka_resp_err_t pe = parts->elems[0].err;
    rd_kafka_topic_partition_list_destroy(parts);
    if (e || pe)
        fail_msg("committed offset of partition %d: %s", partition, rd_kafka_err2str(e ? e : pe));
    return offset;
}

void kit_hold_answers(kit_t *kit, int partition, bool hold)
{
    char err[512];
    const dbev_topic_t topics[] = {DBEV_TOPIC_COMPLETED, DBEV_TOPIC_FAILED};
    for (int t = 0; t < 2; t++)
        if (mockenv_partition_leader(kit->mk, mockenv_topic(kit->mk, topics[t]), partition,
                                     hold ? -1 : 1, err, sizeof(err)))
            fail_msg("%s answers: %s", hold ? "holding" : "releasing", err);
}

void kit_wait_committed_past(kit_t *kit, int partition, int64_t offset, int timeout_ms)
{
    int64_t committed = RD_KAFKA_OFFSET_INVALID;
    int64_t deadline = dbev_mono_us() + (int64_t)timeout_ms * 1000;
    while ((committed = kit_committed(kit, partition)) <= offset && dbev_mono_us() < deadline)
        kit_collect(kit, kit->n_resps + 1, 50); /* polling interval */
    if (committed <= offset)
        fail_msg("the group's offset of partition %d stayed at %lld after the answer to the "
                 "request at %lld was acknowledged",
                 partition, (long long)committed, (long long)offset);
}
