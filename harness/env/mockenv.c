/*
 * mockenv: brings up the Kafka side of the harness environment (see
 * mockenv.h). The mock cluster is hosted by a producer handle that never
 * produces: librdkafka needs an rd_kafka_t for the cluster's bookkeeping and
 * runs the brokers on their own thread, listening on 127.0.0.1. The external
 * mode only proves that the cluster answers and best-effort creates missing
 * topics, since a shared cluster is not ours to reconfigure.
 */
#include "env/mockenv.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ERRBUF 512

struct mockenv {
    rd_kafka_t *rk;                    /* hosts the mock cluster, or probes the external one */
    rd_kafka_mock_cluster_t *mcluster; /* NULL in external mode */
    char *bootstrap;
    char env_name[MOCKENV_MAX_ENV_LEN + 1];
    char *topics[DBEV_TOPIC__COUNT];
    int brokers;
    int partitions;
    double startup_ms;
    const dbev_logger_t *logger;
    /* External mode: the first transport error seen while probing. Only
     * written from rd_kafka_poll() on the creating thread. */
    char probe_err[ERRBUF];
    bool all_down;

    /* The waker (see waker_main): state under lock. */
    pthread_t waker;
    bool waker_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ops_pending;
    bool stopping;
    int ports[MOCKENV_MAX_BROKERS]; /* listener port of broker id i+1 */
    bool down[MOCKENV_MAX_BROKERS];
    unsigned next_poke;
};

/* librdkafka's log lines are about its internals (the mock cluster's
 * listeners, the idle host producer complaining about bootstrap.servers):
 * useful when debugging the harness, noise otherwise. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    mockenv_t *env = rd_kafka_opaque(rk);
    if (env && env->logger)
        dbev_logf(env->logger, DBEV_LOG_DEBUG, NULL, "librdkafka %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    mockenv_t *env = opaque;
    if (!env)
        return;
    if (env->logger)
        dbev_logf(env->logger, DBEV_LOG_DEBUG, NULL, "librdkafka error %s: %s",
                  rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        env->all_down = true;
    else if (!env->probe_err[0])
        snprintf(env->probe_err, sizeof(env->probe_err), "%s", reason);
}

static bool env_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > MOCKENV_MAX_ENV_LEN)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

int mockenv_opts_check(const mockenv_opts_t *opts, char *errstr, size_t size)
{
    if (!opts)
        return 0;
    if (opts->brokers < 0 || opts->brokers > MOCKENV_MAX_BROKERS)
        return dbev_seterr(errstr, size, "invalid broker count %d: expected 1 to %d", opts->brokers,
                           MOCKENV_MAX_BROKERS);
    if (opts->partitions < 0 || opts->partitions > MOCKENV_MAX_PARTITIONS)
        return dbev_seterr(errstr, size, "invalid partition count %d: expected 1 to %d",
                           opts->partitions, MOCKENV_MAX_PARTITIONS);
    if (opts->env && !env_name_ok(opts->env))
        return dbev_seterr(errstr, size,
                           "invalid environment name '%s': expected 1 to %d of "
                           "[A-Za-z0-9._-] (it prefixes Kafka topic names)",
                           opts->env, MOCKENV_MAX_ENV_LEN);
    if (opts->timeout_ms < 0)
        return dbev_seterr(errstr, size, "invalid timeout %d ms", opts->timeout_ms);
    if (opts->bootstrap && !*opts->bootstrap)
        return dbev_seterr(errstr, size, "empty Kafka bootstrap: expected HOST:PORT[,HOST:PORT…]");
    return 0;
}

/* A handle whose log and error callbacks reach env. */
static rd_kafka_t *new_handle(mockenv_t *env, const char *bootstrap, char *errstr, size_t size)
{
    char err[ERRBUF];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, env);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (bootstrap) /* nobody polls the mock cluster's host handle */
        rd_kafka_conf_set_error_cb(conf, error_cb);
    if (rd_kafka_conf_set(conf, "client.id", "dbev-harness-env", err, sizeof(err)) ||
        (bootstrap && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)))) {
        rd_kafka_conf_destroy(conf);
        dbev_seterr(errstr, size, "Kafka configuration: %s", err);
        return NULL;
    }
    /* One connection attempt per probe is enough to tell a dead address. */
    rd_kafka_conf_set(conf, "reconnect.backoff.ms", "100", err, sizeof(err));
    /* The mock cluster's brokers set up the sockets they accept with their
     * host handle's settings: without this their small responses could wait
     * for a delayed ACK (Nagle), 30-45 ms spikes in the echo's p99. */
    rd_kafka_conf_set(conf, "socket.nagle.disable", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        dbev_seterr(errstr, size, "cannot create a Kafka handle: %s", err);
        return NULL;
    }
    return rk;
}

/*
 * The waker. librdkafka 2.0.2's mock cluster thread sleeps in poll() for up
 * to one second and relies on a wake-up byte to notice control operations
 * (topic creation, leader change, broker down/up, cluster destroy). Measured
 * here, that wake-up is lost for a good share of the operations in some runs,
 * and each lost one then costs a full second. The thread serves pending
 * operations after any socket event, so while an operation has been waiting
 * for WAKER_MS, this thread opens and at once closes a connection to a
 * listening broker. Clients never see these connections.
 */
#define WAKER_MS 1

static void poke_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* On loopback the handshake completes inside connect(), even when it
     * reports EINPROGRESS; the accept is what wakes the cluster thread. */
    (void)connect(fd, (struct sockaddr *)&sin, sizeof(sin));
    close(fd);
}

static void *waker_main(void *arg)
{
    mockenv_t *env = arg;
    pthread_mutex_lock(&env->lock);
    while (!env->stopping) {
        if (env->ops_pending == 0) {
            pthread_cond_wait(&env->cond, &env->lock);
            continue;
        }
        struct timespec until;
        dbev_mono_deadline(WAKER_MS, &until);
        pthread_cond_timedwait(&env->cond, &env->lock, &until);
        if (env->stopping || env->ops_pending == 0)
            continue;
        int port = 0;
        for (int i = 0; i < env->brokers && !port; i++) {
            unsigned b = (env->next_poke++) % (unsigned)env->brokers;
            if (!env->down[b])
                port = env->ports[b];
        }
        pthread_mutex_unlock(&env->lock);
        if (port)
            poke_port(port);
        pthread_mutex_lock(&env->lock);
    }
    pthread_mutex_unlock(&env->lock);
    return NULL;
}

static void ops_begin(mockenv_t *env)
{
    pthread_mutex_lock(&env->lock);
    env->ops_pending++;
    pthread_cond_signal(&env->cond);
    pthread_mutex_unlock(&env->lock);
}

static void ops_end(mockenv_t *env)
{
    pthread_mutex_lock(&env->lock);
    env->ops_pending--;
    pthread_mutex_unlock(&env->lock);
}

static int start_waker(mockenv_t *env, char *errstr, size_t size)
{
    /* bootstraps lists the brokers in id order: "127.0.0.1:p1,127.0.0.1:p2" */
    const char *p = env->bootstrap;
    for (int i = 0; i < env->brokers; i++) {
        const char *colon = p ? strchr(p, ':') : NULL;
        if (!colon)
            return dbev_seterr(errstr, size, "unexpected mock bootstrap list '%s'", env->bootstrap);
        env->ports[i] = atoi(colon + 1);
        p = strchr(colon, ',');
        if (p)
            p++;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&env->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&env->waker, NULL, waker_main, env) != 0)
        return dbev_seterr(errstr, size, "cannot start a thread");
    env->waker_started = true;
    return 0;
}

static void stop_waker(mockenv_t *env)
{
    if (!env->waker_started)
        return;
    pthread_mutex_lock(&env->lock);
    env->stopping = true;
    pthread_cond_signal(&env->cond);
    pthread_mutex_unlock(&env->lock);
    pthread_join(env->waker, NULL);
    pthread_cond_destroy(&env->cond);
    env->waker_started = false;
}

/* Creates the protocol topics named in topics[] on the mock cluster, with
 * partition p led by broker (p % N) + 1 so a topic spans every broker. */
static int create_mock_topics(mockenv_t *env, const char *const *topics, int partitions,
                              char *errstr, size_t size)
{
    int replication = env->brokers < 3 ? env->brokers : 3;
    ops_begin(env);
    for (int t = 0; t < DBEV_TOPIC__COUNT; t++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(env->mcluster, topics[t], partitions, replication);
        if (err) {
            ops_end(env);
            return dbev_seterr(errstr, size, "cannot create topic %s in the mock cluster: %s",
                               topics[t], rd_kafka_err2str(err));
        }
        for (int p = 0; p < partitions; p++) {
            err = rd_kafka_mock_partition_set_leader(env->mcluster, topics[t], p,
                                                     (p % env->brokers) + 1);
            if (err) {
                ops_end(env);
                return dbev_seterr(errstr, size, "cannot place leader of %s [%d]: %s", topics[t], p,
                                   rd_kafka_err2str(err));
            }
        }
    }
    ops_end(env);
    return 0;
}

static int start_mock(mockenv_t *env, char *errstr, size_t size)
{
    env->rk = new_handle(env, NULL, errstr, size);
    if (!env->rk)
        return -1;
    env->mcluster = rd_kafka_mock_cluster_new(env->rk, env->brokers);
    if (!env->mcluster)
        return dbev_seterr(errstr, size,
                           "cannot start the Kafka mock cluster (%d brokers on 127.0.0.1): "
                           "librdkafka could not open its listeners",
                           env->brokers);
    env->bootstrap = strdup(rd_kafka_mock_cluster_bootstraps(env->mcluster));
    if (!env->bootstrap)
        return dbev_seterr(errstr, size, "out of memory");
    if (start_waker(env, errstr, size))
        return -1;

    if (create_mock_topics(env, (const char *const *)env->topics, env->partitions, errstr, size) !=
        0)
        return -1;
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL,
              "mock Kafka cluster up: %d brokers at %s, %d topics with %d partitions", env->brokers,
              env->bootstrap, DBEV_TOPIC__COUNT, env->partitions);
    return 0;
}

/* Best effort: a shared cluster may forbid CreateTopics or auto-create on
 * first produce; either way the environment is usable, so failures are
 * warnings. */
static void create_missing_topics(mockenv_t *env, const char *const *topics,
                                  const rd_kafka_metadata_t *md, int timeout_ms)
{
    rd_kafka_NewTopic_t *missing[DBEV_TOPIC__COUNT];
    size_t cnt = 0;
    char err[ERRBUF];
    int replication = md->broker_cnt < 3 ? md->broker_cnt : 3;
    for (int t = 0; t < DBEV_TOPIC__COUNT; t++) {
        bool found = false;
        for (int i = 0; i < md->topic_cnt && !found; i++)
            found = strcmp(md->topics[i].topic, topics[t]) == 0 && !md->topics[i].err;
        if (!found) {
            missing[cnt] = rd_kafka_NewTopic_new(
                topics[t], env->partitions, replication > 0 ? replication : 1, err, sizeof(err));
            if (missing[cnt])
                cnt++;
        }
    }
    if (cnt == 0)
        return;

    rd_kafka_queue_t *queue = rd_kafka_queue_new(env->rk);
    rd_kafka_AdminOptions_t *options =
        rd_kafka_AdminOptions_new(env->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, err, sizeof(err));
    rd_kafka_CreateTopics(env->rk, missing, cnt, options, queue);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    if (!ev) {
        dbev_logf(env->logger, DBEV_LOG_WARN, NULL,
                  "creating %zu topics at %s timed out; relying on auto-creation", cnt,
                  env->bootstrap);
    } else if (rd_kafka_event_error(ev)) {
        dbev_logf(env->logger, DBEV_LOG_WARN, NULL,
                  "cannot create topics at %s (%s); relying on auto-creation", env->bootstrap,
                  rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t n = 0;
        const rd_kafka_topic_result_t **results = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                dbev_logf(env->logger, DBEV_LOG_WARN, NULL, "cannot create topic %s: %s",
                          rd_kafka_topic_result_name(results[i]),
                          rd_kafka_topic_result_error_string(results[i]));
            else
                dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "created topic %s",
                          rd_kafka_topic_result_name(results[i]));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy_array(missing, cnt);
}

/* Asks for metadata in short slices so that a refused connection (reported
 * through error_cb as "all brokers down") ends the wait at once instead of
 * after the whole timeout. */
static int probe_external(mockenv_t *env, const char *bootstrap, int timeout_ms, char *errstr,
                          size_t size)
{
    env->bootstrap = strdup(bootstrap);
    if (!env->bootstrap)
        return dbev_seterr(errstr, size, "out of memory");
    env->rk = new_handle(env, env->bootstrap, errstr, size);
    if (!env->rk)
        return -1;
    int64_t deadline = dbev_mono_us() + (int64_t)timeout_ms * 1000;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        int64_t left_ms = (deadline - dbev_mono_us()) / 1000;
        if (left_ms <= 0)
            break;
        err = rd_kafka_metadata(env->rk, 1, NULL, &md, left_ms < 250 ? (int)left_ms : 250);
        if (!err)
            break;
        rd_kafka_poll(env->rk, 0); /* serves error_cb */
        if (env->all_down)
            break;
    }
    if (err) {
        return dbev_seterr(errstr, size, "cannot reach Kafka at %s: %s; check --kafka-bootstrap",
                           env->bootstrap,
                           env->probe_err[0] ? env->probe_err
                           : env->all_down   ? "all brokers are down"
                                             : rd_kafka_err2str(err));
    }
    env->brokers = md->broker_cnt;
    create_missing_topics(env, (const char *const *)env->topics, md, timeout_ms);
    rd_kafka_metadata_destroy(md);
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "external Kafka at %s answers: %d brokers",
              env->bootstrap, env->brokers);
    return 0;
}

mockenv_t *mockenv_new(const mockenv_opts_t *opts, char *errstr, size_t size)
{
    static const mockenv_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    if (mockenv_opts_check(opts, errstr, size))
        return NULL;
    int64_t t0 = dbev_mono_us();
    mockenv_t *env = calloc(1, sizeof(*env));
    if (!env) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&env->lock, NULL);
    env->logger = opts->logger;
    env->brokers = opts->brokers ? opts->brokers : MOCKENV_DEFAULT_BROKERS;
    env->partitions = opts->partitions ? opts->partitions : MOCKENV_DEFAULT_PARTITIONS;
    snprintf(env->env_name, sizeof(env->env_name), "%s",
             opts->env ? opts->env : MOCKENV_DEFAULT_ENV);
    for (int t = 0; t < DBEV_TOPIC__COUNT; t++) {
        char name[MOCKENV_MAX_ENV_LEN + 128];
        env->topics[t] = strdup(dbev_topic_name(env->env_name, t, name, sizeof(name)));
        if (!env->topics[t]) {
            dbev_seterr(errstr, size, "out of memory");
            mockenv_destroy(env);
            return NULL;
        }
    }

    int rc;
    if (opts->bootstrap) {
        rc = probe_external(env, opts->bootstrap,
                            opts->timeout_ms ? opts->timeout_ms : MOCKENV_DEFAULT_TIMEOUT_MS,
                            errstr, size);
    } else {
        rc = start_mock(env, errstr, size);
    }
    if (rc) {
        mockenv_destroy(env);
        return NULL;
    }
    env->startup_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    return env;
}

void mockenv_destroy(mockenv_t *env)
{
    if (!env)
        return;
    /* The cluster first: it needs its host handle to shut down. In
     * librdkafka 2.0.2 this sometimes takes one second: the cluster thread
     * joins an internal broker thread of the host handle that notices its
     * termination only when its one-second wait ends, out of our reach. */
    if (env->mcluster) {
        ops_begin(env);
        rd_kafka_mock_cluster_destroy(env->mcluster);
        ops_end(env);
    }
    stop_waker(env);
    pthread_mutex_destroy(&env->lock);
    if (env->rk)
        rd_kafka_destroy(env->rk);
    for (int t = 0; t < DBEV_TOPIC__COUNT; t++)
        free(env->topics[t]);
    free(env->bootstrap);
    free(env);
}

/* mockenv_abandon's: reachable to the end, so a leak checker sees it in use. */
static mockenv_t *volatile abandoned;

void mockenv_abandon(mockenv_t *env)
{
    if (env)
        abandoned = env;
}

const char *mockenv_bootstrap(const mockenv_t *env)
{
    return env->bootstrap;
}

bool mockenv_is_mock(const mockenv_t *env)
{
    return env->mcluster != NULL;
}

int mockenv_broker_count(const mockenv_t *env)
{
    return env->brokers;
}

int mockenv_partitions(const mockenv_t *env)
{
    return env->partitions;
}

const char *mockenv_env_name(const mockenv_t *env)
{
    return env->env_name;
}

const char *mockenv_topic(const mockenv_t *env, dbev_topic_t topic)
{
    if ((int)topic < 0 || topic >= DBEV_TOPIC__COUNT)
        return NULL;
    return env->topics[topic];
}

double mockenv_startup_ms(const mockenv_t *env)
{
    return env->startup_ms;
}

static int need_mock(const mockenv_t *env, const char *what, char *errstr, size_t size)
{
    if (!env->mcluster)
        return dbev_seterr(errstr, size, "%s: not available with --kafka-bootstrap", what);
    return 0;
}

static int need_broker(const mockenv_t *env, int32_t broker_id, const char *what, char *errstr,
                       size_t size)
{
    if (need_mock(env, what, errstr, size))
        return -1;
    if (broker_id < 1 || broker_id > env->brokers)
        return dbev_seterr(errstr, size, "%s: no broker %d (brokers are 1 to %d)", what,
                           (int)broker_id, env->brokers);
    return 0;
}

static int mock_result(const mockenv_t *env, rd_kafka_resp_err_t err, const char *what,
                       char *errstr, size_t size)
{
    if (err)
        return dbev_seterr(errstr, size, "%s: %s", what, rd_kafka_err2str(err));
    dbev_logf(env->logger, DBEV_LOG_INFO, NULL, "mock Kafka fault: %s", what);
    return 0;
}

int mockenv_broker_down(mockenv_t *env, int32_t broker_id, char *errstr, size_t size)
{
    char what[64];
    snprintf(what, sizeof(what), "broker %d down", (int)broker_id);
    if (need_broker(env, broker_id, what, errstr, size))
        return -1;
    ops_begin(env);
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(env->mcluster, broker_id);
    ops_end(env);
    if (!err) {
        pthread_mutex_lock(&env->lock);
        env->down[broker_id - 1] = true;
        pthread_mutex_unlock(&env->lock);
    }
    return mock_result(env, err, what, errstr, size);
}

int mockenv_broker_up(mockenv_t *env, int32_t broker_id, char *errstr, size_t size)
{
    char what[64];
    snprintf(what, sizeof(what), "broker %d up", (int)broker_id);
    if (need_broker(env, broker_id, what, errstr, size))
        return -1;
    ops_begin(env);
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(env->mcluster, broker_id);
    ops_end(env);
    if (!err) {
        pthread_mutex_lock(&env->lock);
        env->down[broker_id - 1] = false;
        pthread_mutex_unlock(&env->lock);
    }
    return mock_result(env, err, what, errstr, size);
}

int mockenv_broker_rtt(mockenv_t *env, int32_t broker_id, int rtt_ms, char *errstr, size_t size)
{
    char what[64];
    snprintf(what, sizeof(what), "broker %d rtt %d ms", (int)broker_id, rtt_ms);
    if (need_broker(env, broker_id, what, errstr, size))
        return -1;
    if (rtt_ms < 0)
        return dbev_seterr(errstr, size, "%s: negative round-trip time", what);
    ops_begin(env);
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_rtt(env->mcluster, broker_id, rtt_ms);
    ops_end(env);
    return mock_result(env, err, what, errstr, size);
}

int mockenv_push_request_errors(mockenv_t *env, int16_t api_key, size_t cnt,
                                const rd_kafka_resp_err_t *errors, char *errstr, size_t size)
{
    char what[96];
    snprintf(what, sizeof(what), "%zu request errors for API %d (first: %s)", cnt, (int)api_key,
             cnt && errors ? rd_kafka_err2name(errors[0]) : "none");
    if (need_mock(env, what, errstr, size))
        return -1;
    if (api_key < 0 || cnt == 0 || !errors)
        return dbev_seterr(errstr, size, "%s: need an API key >= 0 and at least one error", what);
    ops_begin(env);
    rd_kafka_mock_push_request_errors_array(env->mcluster, api_key, cnt, errors);
    ops_end(env);
    return mock_result(env, RD_KAFKA_RESP_ERR_NO_ERROR, what, errstr, size);
}

int mockenv_clear_request_errors(mockenv_t *env, int16_t api_key, char *errstr, size_t size)
{
    char what[64];
    snprintf(what, sizeof(what), "clear request errors for API %d", (int)api_key);
    if (need_mock(env, what, errstr, size))
        return -1;
    ops_begin(env);
    rd_kafka_mock_clear_request_errors(env->mcluster, api_key);
    ops_end(env);
    return mock_result(env, RD_KAFKA_RESP_ERR_NO_ERROR, what, errstr, size);
}

int mockenv_partition_leader(mockenv_t *env, const char *topic, int32_t partition,
                             int32_t broker_id, char *errstr, size_t size)
{
    char what[384];
    snprintf(what, sizeof(what), "leader of %s [%d] to broker %d", topic ? topic : "(null)",
             (int)partition, (int)broker_id);
    if (need_mock(env, what, errstr, size))
        return -1;
    if (!topic || partition < 0 || (broker_id != -1 && (broker_id < 1 || broker_id > env->brokers)))
        return dbev_seterr(errstr, size,
                           "%s: need a topic, a partition >= 0 and broker 1 to %d or -1", what,
                           env->brokers);
    ops_begin(env);
    rd_kafka_resp_err_t err =
        rd_kafka_mock_partition_set_leader(env->mcluster, topic, partition, broker_id);
    ops_end(env);
    return mock_result(env, err, what, errstr, size);
}

int mockenv_create_topics(mockenv_t *env, const char *env_name, char *errstr, size_t size)
{
    return mockenv_create_topics_n(env, env_name, 0, errstr, size);
}

int mockenv_create_topics_n(mockenv_t *env, const char *env_name, int partitions, char *errstr,
                            size_t size)
{
    if (!env_name_ok(env_name))
        return dbev_seterr(errstr, size, "topic prefix '%s': use letters, digits, '.', '_' or '-'",
                           env_name);
    char names[DBEV_TOPIC__COUNT][256];
    const char *topics[DBEV_TOPIC__COUNT];
    for (int t = 0; t < DBEV_TOPIC__COUNT; t++)
        topics[t] = dbev_topic_name(env_name, (dbev_topic_t)t, names[t], sizeof(names[t]));
    if (env->mcluster)
        return create_mock_topics(env, topics, partitions > 0 ? partitions : env->partitions,
                                  errstr, size);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(env->rk, 1, NULL, &md, 5000);
    if (err)
        return dbev_seterr(errstr, size, "cannot read metadata from %s: %s", env->bootstrap,
                           rd_kafka_err2str(err));
    create_missing_topics(env, topics, md, 5000);
    rd_kafka_metadata_destroy(md);
    return 0;
}
