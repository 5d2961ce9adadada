/*
 * The `fault:` step: one fault injected into Kafka (the mock cluster),
 * PostgreSQL (the throwaway server) or the adapter (its processes), with its
 * parameters in the same mapping, e.g.
 *   - fault: {kafka: broker_down, broker: 1}
 *   - fault: {postgres: slow, table: orders, ms: 3000}
 *   - fault: {adapter: kill, index: 1}
 * docs/scenarios.md lists every action. A fault the environment cannot
 * inject (an external cluster or server, adapters that are not processes) is
 * SKIPPED with the reason, which marks the scenario skipped; the scenario's
 * `requires:` normally says so first.
 *
 * The mock cluster and the server are shared by every scenario of a run, so
 * each fault that stays applied is remembered per scenario (a small registry
 * keyed by the runctx) and faults_revert() undoes what the scenario left
 * behind: brokers down, round-trip times, request errors not yet fired, a
 * stopped server, table locks of `slow`.
 */
#include "env/adapters.h"
#include "faults/faults_int.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LOCKS 16

/* ------------------------------------------------------------ shared helpers */

const char *faults_topic_env(const runctx_t *ctx)
{
    if (ctx->topic_env[0])
        return ctx->topic_env;
    return ctx->kafka ? mockenv_env_name(ctx->kafka) : MOCKENV_DEFAULT_ENV;
}

const char *faults_topic_name(const runctx_t *ctx, const char *name, char *buf, size_t size)
{
    static const struct {
        const char *name;
        dbev_topic_t topic;
    } shorts[] = {
        {"requests", DBEV_TOPIC_REQUESTED},  {"requested", DBEV_TOPIC_REQUESTED},
        {"completed", DBEV_TOPIC_COMPLETED}, {"failed", DBEV_TOPIC_FAILED},
        {"registry", DBEV_TOPIC_REGISTRY},   {"heartbeat", DBEV_TOPIC_HEARTBEAT},
    };
    for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
        if (strcmp(name, shorts[i].name) == 0)
            return dbev_topic_name(faults_topic_env(ctx), shorts[i].topic, buf, size);
    snprintf(buf, size, "%s", name);
    return buf;
}

int faults_param_int(const json_t *body, const char *key, int64_t def, int64_t lo, int64_t hi,
                     int64_t *out, char *errstr, size_t size)
{
    const json_t *v = json_object_get(body, key);
    if (!v) {
        *out = def;
        return 0;
    }
    int64_t n;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        char *end;
        n = strtoll(json_string_value(v), &end, 10);
        if (end == json_string_value(v) || *end)
            return dbev_seterr(errstr, size, "%s must be a whole number, not \"%s\"", key,
                               json_string_value(v));
    } else {
        return dbev_seterr(errstr, size, "%s must be a whole number", key);
    }
    if (n < lo || n > hi)
        return dbev_seterr(errstr, size, "%s must be in %lld..%lld, not %lld", key, (long long)lo,
                           (long long)hi, (long long)n);
    *out = n;
    return 0;
}

/* ------------------------------------------------------------ applied faults */

typedef struct applied {
    const runctx_t *ctx;
    const adapters_t *adapters; /* ctx->adapters when a fault was applied (never dereferenced) */
    bool broker_down[MOCKENV_MAX_BROKERS + 1];
    bool broker_rtt[MOCKENV_MAX_BROKERS + 1];
    bool api_errors[128]; /* api keys with errors pushed */
    bool pg_stopped;
    PGconn *locks[MAX_LOCKS]; /* `slow`: connections holding a table lock */
    struct applied *next;
} applied_t;

static pthread_mutex_t applied_lock = PTHREAD_MUTEX_INITIALIZER;
static applied_t *applied_list;

/* The record of ctx, created on first use; called with applied_lock held. */
static applied_t *applied_get(const runctx_t *ctx)
{
    for (applied_t *a = applied_list; a; a = a->next)
        if (a->ctx == ctx)
            return a;
    applied_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->ctx = ctx;
    a->adapters = ctx->adapters;
    a->next = applied_list;
    applied_list = a;
    return a;
}

void faults_revert_adapters(const adapters_t *a)
{
    if (!a)
        return;
    runctx_t *ctx = NULL;
    pthread_mutex_lock(&applied_lock);
    for (applied_t *ap = applied_list; ap; ap = ap->next)
        if (ap->adapters == a)
            ctx = (runctx_t *)ap->ctx;
    pthread_mutex_unlock(&applied_lock);
    if (ctx)
        faults_revert(ctx);
}

/* Ends a `slow` lock: cancels the sleeping statement (its transaction rolls
 * back and the lock goes with it) and closes the connection. */
static void lock_release(PGconn *conn)
{
    if (!conn)
        return;
    if (PQconsumeInput(conn) && PQisBusy(conn)) {
        PGcancel *cancel = PQgetCancel(conn);
        char err[256];
        if (cancel) {
            PQcancel(cancel, err, sizeof(err));
            PQfreeCancel(cancel);
        }
    }
    PQfinish(conn);
}

/* Re-opens the runner's direct connections after the server restarted or
 * their backends were terminated; sql: steps after the fault need them. */
static void reset_direct(runctx_t *ctx)
{
    /* Always: a terminated backend shows only at the next query. */
    if (ctx->direct)
        PQreset(ctx->direct);
    if (ctx->direct_twin)
        PQreset(ctx->direct_twin);
    if (ctx->direct_op)
        PQreset(ctx->direct_op);
    if (ctx->direct_twin_op)
        PQreset(ctx->direct_twin_op);
}

void faults_revert(runctx_t *ctx)
{
    pthread_mutex_lock(&applied_lock);
    applied_t **pp = &applied_list, *a = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->ctx == ctx) {
            a = *pp;
            *pp = a->next;
            break;
        }
    pthread_mutex_unlock(&applied_lock);
    if (!a)
        return;
    char err[512];
    for (int i = 0; i < MAX_LOCKS; i++)
        lock_release(a->locks[i]);
    if (ctx->kafka && mockenv_is_mock(ctx->kafka)) {
        for (int b = 1; b <= MOCKENV_MAX_BROKERS; b++) {
            if (a->broker_down[b] && mockenv_broker_up(ctx->kafka, b, err, sizeof(err)))
                dbev_logf(ctx->logger, DBEV_LOG_WARN, NULL, "revert broker %d down: %s", b, err);
            if (a->broker_rtt[b] && mockenv_broker_rtt(ctx->kafka, b, 0, err, sizeof(err)))
                dbev_logf(ctx->logger, DBEV_LOG_WARN, NULL, "revert broker %d rtt: %s", b, err);
        }
        for (int k = 0; k < 128; k++)
            if (a->api_errors[k])
                mockenv_clear_request_errors(ctx->kafka, (int16_t)k, err, sizeof(err));
    }
    if (a->pg_stopped && ctx->pg) {
        if (pgenv_start_server(ctx->pg, err, sizeof(err)))
            dbev_logf(ctx->logger, DBEV_LOG_WARN, NULL, "revert postgres stop: %s", err);
        else
            reset_direct(ctx);
    }
    free(a);
}

/* ------------------------------------------------------------ kafka */

static const struct {
    const char *name;
    int16_t key;
} apis[] = {
    {"Produce", 0},      {"Fetch", 1},         {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8}, {"OffsetFetch", 9},   {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},   {"LeaveGroup", 13},   {"SyncGroup", 14},       {"DescribeGroups", 15},
    {"ApiVersions", 18}, {"CreateTopics", 19}, {"InitProducerId", 22},
};
#define N_APIS (sizeof(apis) / sizeof(apis[0]))

static int parse_api(const json_t *v, int16_t *key, char *errstr, size_t size)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 128) {
        *key = (int16_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v))
        for (size_t i = 0; i < N_APIS; i++)
            if (strcasecmp(json_string_value(v), apis[i].name) == 0) {
                *key = apis[i].key;
                return 0;
            }
    return dbev_seterr(errstr, size,
                       "api: a Kafka request type by name (Produce, Fetch, ListOffsets, Metadata, "
                       "OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, "
                       "LeaveGroup, SyncGroup, ApiVersions, InitProducerId, ...) or number 0..127");
}

static int parse_kafka_error(const json_t *v, rd_kafka_resp_err_t *err, char *errstr, size_t size)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    rd_kafka_get_err_descs(&descs, &cnt);
    if (json_is_integer(v)) {
        for (size_t i = 0; i < cnt; i++)
            if (descs[i].name && descs[i].code == json_integer_value(v)) {
                *err = descs[i].code;
                return 0;
            }
    } else if (json_is_string(v)) {
        const char *name = json_string_value(v);
        if (strncasecmp(name, "RD_KAFKA_RESP_ERR_", 18) == 0)
            name += 18;
        for (size_t i = 0; i < cnt; i++)
            if (descs[i].name && strcasecmp(descs[i].name, name) == 0) {
                *err = descs[i].code;
                return 0;
            }
    }
    return dbev_seterr(errstr, size,
                       "error: a Kafka error by name (NOT_LEADER_FOR_PARTITION, "
                       "REQUEST_TIMED_OUT, _TRANSPORT, ...) or code");
}

static int kafka_fault(runctx_t *ctx, const char *action, const json_t *body, json_t *outcome,
                       step_result_t *res)
{
    if (!ctx->kafka || !mockenv_is_mock(ctx->kafka))
        return step_fail(res, DBEV_REPORT_SKIP,
                         "fault kafka %s: Kafka faults need the in-process mock cluster "
                         "(not available with --kafka-bootstrap; requires: [mock_kafka])",
                         action);
    char err[512];
    int brokers = mockenv_broker_count(ctx->kafka);
    int64_t broker, ms, count, partition;
    int rc = 0;
    bool all_brokers = !json_object_get(body, "broker");
    if (faults_param_int(body, "broker", 1, 1, brokers, &broker, err, sizeof(err)))
        return step_fail(res, DBEV_REPORT_ERROR, "fault kafka %s: %s (brokers 1..%d)", action, err,
                         brokers);
    pthread_mutex_lock(&applied_lock);
    applied_t *ap = applied_get(ctx);
    pthread_mutex_unlock(&applied_lock);
    if (!ap)
        return step_fail(res, DBEV_REPORT_ERROR, "out of memory");

    if (!strcmp(action, "broker_down") || !strcmp(action, "broker_up")) {
        bool down = !strcmp(action, "broker_down");
        rc = down ? mockenv_broker_down(ctx->kafka, (int32_t)broker, err, sizeof(err))
                  : mockenv_broker_up(ctx->kafka, (int32_t)broker, err, sizeof(err));
        if (!rc)
            ap->broker_down[broker] = down;
        json_object_set_new(outcome, "broker", json_integer(broker));
    } else if (!strcmp(action, "rtt")) {
        if (!json_object_get(body, "ms"))
            return step_fail(res, DBEV_REPORT_ERROR,
                             "fault kafka rtt: ms is required (0 restores)");
        if (faults_param_int(body, "ms", 0, 0, 600000, &ms, err, sizeof(err)))
            return step_fail(res, DBEV_REPORT_ERROR, "fault kafka rtt: %s", err);
        /* Without broker: every broker, so the whole cluster is slow. */
        for (int b = all_brokers ? 1 : (int)broker; !rc && b <= (all_brokers ? brokers : broker);
             b++) {
            rc = mockenv_broker_rtt(ctx->kafka, b, (int)ms, err, sizeof(err));
            if (!rc)
                ap->broker_rtt[b] = ms > 0;
        }
        json_object_set_new(outcome, "ms", json_integer(ms));
    } else if (!strcmp(action, "request_errors") || !strcmp(action, "clear_request_errors")) {
        int16_t api = 0;
        const json_t *api_v = json_object_get(body, "api");
        if (!api_v || parse_api(api_v, &api, err, sizeof(err)))
            return step_fail(res, DBEV_REPORT_ERROR, "fault kafka %s: %s", action,
                             api_v ? err : "api is required (e.g. api: Produce)");
        json_object_set_new(outcome, "api", json_integer(api));
        if (!strcmp(action, "clear_request_errors")) {
            rc = mockenv_clear_request_errors(ctx->kafka, api, err, sizeof(err));
            if (!rc)
                ap->api_errors[api] = false;
        } else {
            rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
            const json_t *err_v = json_object_get(body, "error");
            if (!err_v || parse_kafka_error(err_v, &kerr, err, sizeof(err)))
                return step_fail(res, DBEV_REPORT_ERROR, "fault kafka %s: %s", action,
                                 err_v ? err
                                       : "error is required (e.g. error: "
                                         "NOT_LEADER_FOR_PARTITION)");
            if (faults_param_int(body, "count", 1, 1, 100000, &count, err, sizeof(err)))
                return step_fail(res, DBEV_REPORT_ERROR, "fault kafka %s: %s", action, err);
            rd_kafka_resp_err_t *errs = malloc(sizeof(*errs) * (size_t)count);
            if (!errs)
                return step_fail(res, DBEV_REPORT_ERROR, "out of memory");
            for (int64_t i = 0; i < count; i++)
                errs[i] = kerr;
            rc =
                mockenv_push_request_errors(ctx->kafka, api, (size_t)count, errs, err, sizeof(err));
            free(errs);
            if (!rc)
                ap->api_errors[api] = true;
            json_object_set_new(outcome, "error", json_string(rd_kafka_err2name(kerr)));
            json_object_set_new(outcome, "count", json_integer(count));
        }
    } else if (!strcmp(action, "leader_change")) {
        const json_t *topic_v = json_object_get(body, "topic");
        char topic[256];
        faults_topic_name(ctx, json_is_string(topic_v) ? json_string_value(topic_v) : "requests",
                          topic, sizeof(topic));
        int64_t leader;
        if (faults_param_int(body, "partition", 0, 0, MOCKENV_MAX_PARTITIONS - 1, &partition, err,
                             sizeof(err)) ||
            faults_param_int(body, "broker", -1, -1, brokers, &leader, err, sizeof(err)))
            return step_fail(res, DBEV_REPORT_ERROR, "fault kafka leader_change: %s", err);
        if (!json_object_get(body, "broker"))
            return step_fail(res, DBEV_REPORT_ERROR,
                             "fault kafka leader_change: broker is required (1..%d, or "
                             "-1 for no leader)",
                             brokers);
        rc = mockenv_partition_leader(ctx->kafka, topic, (int32_t)partition, (int32_t)leader, err,
                                      sizeof(err));
        json_object_set_new(outcome, "topic", json_string(topic));
        json_object_set_new(outcome, "partition", json_integer(partition));
        json_object_set_new(outcome, "broker", json_integer(leader));
    } else {
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault kafka: unknown action '%s'; known: broker_down, broker_up, "
                         "rtt, request_errors, clear_request_errors, leader_change",
                         action);
    }
    if (rc)
        return step_fail(res, DBEV_REPORT_ERROR, "fault kafka %s: %s", action, err);
    return 0;
}

/* ------------------------------------------------------------ postgres */

/* `slow`: a connection that takes an ACCESS EXCLUSIVE lock on table and
 * keeps it for ms (pg_sleep inside the same transaction), so every statement
 * touching the table waits: a slow statement as the adapter sees it, without
 * changing the scenario's SQL. Returns once the lock is held. */
static int pg_slow(runctx_t *ctx, applied_t *ap, const json_t *body, json_t *outcome,
                   step_result_t *res)
{
    char err[512];
    int64_t ms;
    const json_t *table_v = json_object_get(body, "table");
    if (!json_is_string(table_v))
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault postgres slow: table is required (the table every "
                         "statement on which will wait)");
    if (!json_object_get(body, "ms") ||
        faults_param_int(body, "ms", 0, 1, 3600000, &ms, err, sizeof(err)))
        return step_fail(res, DBEV_REPORT_ERROR, "fault postgres slow: %s",
                         json_object_get(body, "ms") ? err : "ms is required (how long)");
    int slot = -1;
    for (int i = 0; i < MAX_LOCKS; i++) {
        if (ap->locks[i] && PQconsumeInput(ap->locks[i]) && !PQisBusy(ap->locks[i])) {
            PQfinish(ap->locks[i]); /* its sleep ended: the lock is gone */
            ap->locks[i] = NULL;
        }
        if (!ap->locks[i] && slot < 0)
            slot = i;
    }
    if (slot < 0)
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault postgres slow: at most %d table locks at once", MAX_LOCKS);
    PGconn *conn = PQconnectdb(ctx->conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        step_fail(res, DBEV_REPORT_ERROR, "fault postgres slow: connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 0;
    }
    /* Quote each part of a schema-qualified name. */
    char sql[1024] = "";
    const char *name = json_string_value(table_v);
    size_t used = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        char *q = PQescapeIdentifier(conn, name, len);
        if (!q)
            break;
        used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s%s", used ? "." : "", q);
        PQfreemem(q);
        name += len + (dot ? 1 : 0);
        if (used >= sizeof(sql) / 2)
            break;
    }
    char lock_sql[1200];
    snprintf(lock_sql, sizeof(lock_sql), "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", sql);
    const char *steps[] = {"SET statement_timeout = 0", "SET lock_timeout = 10000", "BEGIN",
                           lock_sql};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        PGresult *r = PQexec(conn, steps[i]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            step_fail(res, DBEV_REPORT_ERROR, "fault postgres slow: %s: %s", steps[i],
                      PQresultErrorMessage(r));
            PQclear(r);
            PQfinish(conn);
            return 0;
        }
        PQclear(r);
    }
    char sleep_sql[128];
    snprintf(sleep_sql, sizeof(sleep_sql), "SELECT pg_sleep(%.3f); COMMIT", (double)ms / 1000.0);
    if (!PQsendQuery(conn, sleep_sql)) {
        step_fail(res, DBEV_REPORT_ERROR, "fault postgres slow: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 0;
    }
    ap->locks[slot] = conn;
    json_object_set_new(outcome, "table", json_string(json_string_value(table_v)));
    json_object_set_new(outcome, "ms", json_integer(ms));
    return 0;
}

static int postgres_fault(runctx_t *ctx, const char *action, const json_t *body, json_t *outcome,
                          step_result_t *res)
{
    pthread_mutex_lock(&applied_lock);
    applied_t *ap = applied_get(ctx);
    pthread_mutex_unlock(&applied_lock);
    if (!ap)
        return step_fail(res, DBEV_REPORT_ERROR, "out of memory");
    if (!strcmp(action, "slow"))
        return pg_slow(ctx, ap, body, outcome, res);
    bool known = !strcmp(action, "stop") || !strcmp(action, "start") ||
                 !strcmp(action, "restart") || !strcmp(action, "terminate_backends");
    if (!known)
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault postgres: unknown action '%s'; known: stop, start, "
                         "restart, terminate_backends, slow",
                         action);
    if (!ctx->pg || !pgenv_data_dir(ctx->pg))
        return step_fail(res, DBEV_REPORT_SKIP,
                         "fault postgres %s: needs the harness's own server (not "
                         "available with --pg-dsn; requires: [local_postgres])",
                         action);
    char err[512];
    int rc;
    if (!strcmp(action, "stop")) {
        rc = pgenv_stop_server(ctx->pg, err, sizeof(err));
        if (!rc)
            ap->pg_stopped = true;
    } else if (!strcmp(action, "start")) {
        rc = pgenv_start_server(ctx->pg, err, sizeof(err));
        if (!rc) {
            ap->pg_stopped = false;
            reset_direct(ctx);
        }
    } else if (!strcmp(action, "restart")) {
        rc = pgenv_restart_server(ctx->pg, err, sizeof(err));
        if (!rc) {
            ap->pg_stopped = false;
            reset_direct(ctx);
        }
    } else {
        bool all = json_is_true(json_object_get(body, "all"));
        int n = pgenv_terminate_backends(ctx->pg, all ? NULL : ctx->dbname, err, sizeof(err));
        rc = n < 0 ? -1 : 0;
        if (n >= 0) {
            json_object_set_new(outcome, "terminated", json_integer(n));
            reset_direct(ctx);
        }
    }
    if (rc)
        return step_fail(res, DBEV_REPORT_ERROR, "fault postgres %s: %s", action, err);
    return 0;
}

/* ------------------------------------------------------------ adapter */

static int adapter_fault(runctx_t *ctx, const char *action, const json_t *body, json_t *outcome,
                         step_result_t *res)
{
    static const struct {
        const char *name;
        int sig; /* 0: restart */
    } actions[] = {{"kill", SIGKILL},
                   {"stop", SIGSTOP},
                   {"cont", SIGCONT},
                   {"terminate", SIGTERM},
                   {"restart", 0}};
    int sig = -1;
    for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (!strcmp(action, actions[i].name))
            sig = actions[i].sig;
    if (sig < 0)
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault adapter: unknown action '%s'; known: kill, stop, cont, "
                         "terminate, restart",
                         action);
    if (!adapters_supports_process_faults(ctx->adapters))
        return step_fail(
            res, DBEV_REPORT_SKIP,
            "fault adapter %s: needs adapters in processes (--adapter process); here they are %s "
            "(requires: [process_adapter])",
            action, !ctx->adapters ? "absent or external" : "threads");
    char err[512];
    int64_t index;
    int count = adapters_count(ctx->adapters);
    if (faults_param_int(body, "index", 0, 0, count - 1, &index, err, sizeof(err)))
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault adapter %s: %s (%d instance%s; --adapters N for more)", action, err,
                         count, count == 1 ? "" : "s");
    pid_t pid = adapters_pid(ctx->adapters, (int)index);
    int rc = sig ? adapters_signal(ctx->adapters, (int)index, sig, err, sizeof(err))
                 : adapters_restart(ctx->adapters, (int)index, err, sizeof(err));
    if (rc)
        return step_fail(res, DBEV_REPORT_ERROR, "fault adapter %s: %s", action, err);
    json_object_set_new(outcome, "index", json_integer(index));
    json_object_set_new(outcome, "pid", json_integer(pid));
    if (!sig)
        json_object_set_new(outcome, "new_pid",
                            json_integer(adapters_pid(ctx->adapters, (int)index)));
    return 0;
}

/* ------------------------------------------------------------ the step */

int step_run_fault(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    char err[512];
    int64_t t0 = dbev_mono_us();
    json_t *body = ctx->vars ? vars_substitute(ctx->vars, step->body, err, sizeof(err))
                             : json_incref((json_t *)step->body);
    if (!body)
        return step_fail(res, DBEV_REPORT_ERROR, "fault: %s", err);
    const char *family = NULL, *action = NULL;
    static const char *const families[] = {"kafka", "postgres", "adapter"};
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_object_get(body, families[i]);
        if (json_is_string(v)) {
            family = families[i];
            action = json_string_value(v);
        }
    }
    if (!family) {
        json_decref(body);
        return step_fail(res, DBEV_REPORT_ERROR,
                         "fault: name one of kafka, postgres or adapter with an action");
    }
    res->status = DBEV_REPORT_PASS;
    json_t *outcome = json_object();
    json_object_set_new(outcome, "fault", json_string(family));
    json_object_set_new(outcome, "action", json_string(action));
    if (!strcmp(family, "kafka"))
        kafka_fault(ctx, action, body, outcome, res);
    else if (!strcmp(family, "postgres"))
        postgres_fault(ctx, action, body, outcome, res);
    else
        adapter_fault(ctx, action, body, outcome, res);
    res->latency_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    dbev_logf(ctx->logger, res->status == DBEV_REPORT_PASS ? DBEV_LOG_INFO : DBEV_LOG_WARN, NULL,
              "fault %s %s: %s%s%s", family, action, dbev_report_status_name(res->status),
              res->message[0] ? ": " : "", res->message);
    /* Only now: `action` points into body. */
    json_decref(body);
    json_decref(res->outcome);
    res->outcome = outcome;
    return 0;
}
