/*
 * Integration tests of the dbev-adapter process (build/bin/dbev-adapter):
 * the command line (--help, bad keys and values refused with one line and
 * exit status 2, docs in step); SIGKILL in the middle of a stream of writes
 * and a restart: every request answered at least once and no write applied
 * twice (rows counted in PostgreSQL); SIGTERM: exit status 0, and every
 * request whose offset was committed was answered before the exit, the rest
 * answered by the next instance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_adapter_kit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS     60000
#define ADAPTER     DBEV_BUILD_DIR "/bin/dbev-adapter"
#define CHUNK       100
#define N_CHUNKS    30
#define KILL_RTT_MS 1500

#define MAX_CHILDREN 8

typedef struct fixture {
    kit_t *kit;
    pid_t pid;                    /* the daemon the test talks to (also in children) */
    pid_t children[MAX_CHILDREN]; /* every child not reaped yet */
    int runs;
    char log[300];
} fixture_t;

/* Kills and reaps every child not reaped yet. */
static void kill_children(fixture_t *f)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (f->children[i] <= 0)
            continue;
        kill(f->children[i], SIGKILL);
        waitpid(f->children[i], NULL, 0);
        f->children[i] = 0;
    }
    f->pid = 0;
}

/* After each test, also a failed one: no daemon left, no answers held. */
static int test_teardown(void **state)
{
    fixture_t *f = *state;
    kill_children(f);
    char err[512];
    for (int p = 0; p < mockenv_partitions(f->kit->mk); p++) {
        mockenv_partition_leader(f->kit->mk, mockenv_topic(f->kit->mk, DBEV_TOPIC_COMPLETED), p, 1,
                                 err, sizeof(err));
        mockenv_partition_leader(f->kit->mk, mockenv_topic(f->kit->mk, DBEV_TOPIC_FAILED), p, 1,
                                 err, sizeof(err));
    }
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->kit = kit_new("CREATE TABLE ledger (id bigserial PRIMARY KEY, seq integer NOT NULL);", 3);
    *state = f;
    return 0;
}

static void show_log(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return;
    char line[2048];
    fprintf(stderr, "--- %s ---\n", path);
    while (fgets(line, sizeof(line), fp))
        fputs(line, stderr);
    fclose(fp);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (!f)
        return 0;
    kill_children(f);
    for (int i = 0; i < f->runs; i++) {
        char path[300];
        snprintf(path, sizeof(path), "%s/adapter-%d.log", f->kit->tmpdir, i);
        if (getenv("DBEV_TEST_VERBOSE"))
            show_log(path);
        unlink(path);
    }
    kit_destroy(f->kit);
    free(f);
    return 0;
}

/* Runs dbev-adapter with extra arguments; stdout+stderr to out (NULL: a log
 * file in the kit's directory). Returns the pid. */
static pid_t spawn(fixture_t *f, const char *const *extra, const char *out)
{
    char *args[64];
    int n = 0;
    args[n++] = strdup(ADAPTER);
    char *kv[32];
    int nkv =
        extra && extra[0] && !strcmp(extra[0], "--bare") ? 0 : kit_adapter_args(f->kit, kv, 32);
    for (int i = 0; i < nkv; i++) {
        args[n++] = strdup("-X");
        args[n++] = kv[i];
    }
    for (int i = 0; extra && extra[i]; i++)
        if (strcmp(extra[i], "--bare"))
            args[n++] = strdup(extra[i]);
    args[n] = NULL;
    if (!out) {
        snprintf(f->log, sizeof(f->log), "%s/adapter-%d.log", f->kit->tmpdir, f->runs++);
        out = f->log;
    }
    int slot = 0;
    while (slot < MAX_CHILDREN && f->children[slot] > 0)
        slot++;
    if (slot == MAX_CHILDREN)
        fail_msg("more than %d children at once", MAX_CHILDREN);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* dies with the test process, whatever kills it */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(args[0], args);
        _exit(127);
    }
    f->children[slot] = pid;
    for (int i = 0; i < n; i++)
        free(args[i]);
    return pid;
}

/* Waits for the child pid to exit within timeout_ms; returns its wait
 * status, or -1 (the child stays recorded: teardown kills it). */
static int wait_exit(fixture_t *f, pid_t pid, int timeout_ms)
{
    int64_t deadline = dbev_mono_us() + (int64_t)timeout_ms * 1000;
    int status;
    while (dbev_mono_us() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            for (int i = 0; i < MAX_CHILDREN; i++)
                if (f->children[i] == pid)
                    f->children[i] = 0;
            if (f->pid == pid)
                f->pid = 0;
            return status;
        }
        usleep(10 * 1000); /* polling interval while waiting for the exit */
    }
    return -1;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return strdup("");
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void run_cli(fixture_t *f, const char *const *argv, int want_status, const char *want_text)
{
    char out[300];
    snprintf(out, sizeof(out), "%s/cli.out", f->kit->tmpdir);
    pid_t pid = spawn(f, argv, out);
    int status = wait_exit(f, pid, 10000);
    char *text = slurp(out);
    unlink(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status)
        fail_msg("%s: exit status %d, wanted %d: %s", argv[1], WEXITSTATUS(status), want_status,
                 text);
    if (want_text && !strstr(text, want_text))
        fail_msg("%s: output lacks \"%s\": %s", argv[1], want_text, text);
    if (want_status == 2) {
        /* one clear line */
        char *nl = strchr(text, '\n');
        assert_non_null(nl);
        assert_int_equal(nl[1], '\0');
    }
    free(text);
}

static void test_command_line(void **state)
{
    fixture_t *f = *state;
    run_cli(f, (const char *[]){"--bare", "--help", NULL}, 0, "breaker.failure.threshold");
    run_cli(f, (const char *[]){"--bare", "--help", NULL}, 0, "POSTGRES_POOL_MAX_SIZE");
    run_cli(f, (const char *[]){"--bare", "--version", NULL}, 0, dbev_adapter_version());
    run_cli(f, (const char *[]){"--bare", "-X", "no.such.key=1", NULL}, 2, "no.such.key");
    run_cli(f, (const char *[]){"--bare", "-X", "pool.max=lots", NULL}, 2, "pool.max");
    run_cli(f, (const char *[]){"--bare", "-X", "batch.max=0", NULL}, 2, "1..100000");
    run_cli(f, (const char *[]){"--bare", "--conf", "/nonexistent/adapter.conf", NULL}, 2,
            "/nonexistent/adapter.conf");
    run_cli(f, (const char *[]){"--bare", "--frobnicate", NULL}, 2, "--frobnicate");
    run_cli(f, (const char *[]){"--bare", "-X", "pool.min=30", "-X", "pool.max=10", NULL}, 2,
            "pool.min");
    /* the password never shows in the dump */
    run_cli(f, (const char *[]){"--bare", "-X", "pg.password=hunter2", "--dump-conf", NULL}, 0,
            "pg.password=***");
}

/* Every broker answers rtt_ms late (0: on time again). */
static void set_rtt_all(fixture_t *f, int rtt_ms)
{
    char err[512];
    for (int b = 1; b <= mockenv_broker_count(f->kit->mk); b++)
        if (mockenv_broker_rtt(f->kit->mk, b, rtt_ms, err, sizeof(err)))
            fail_msg("broker %d round-trip time: %s", b, err);
}

/* Sends chunk c: CHUNK inserts with seq c*CHUNK.. ; correlation ids into cids. */
static void send_chunk(fixture_t *f, int c, char (*cids)[DBEV_ID_SIZE])
{
    for (int i = 0; i < CHUNK; i++) {
        int seq = c * CHUNK + i;
        char payload[128];
        snprintf(payload, sizeof(payload),
                 "{\"operation_type\":\"INSERT\",\"table\":\"ledger\",\"data\":{\"seq\":%d}}", seq);
        cids[seq][0] = '\0';
        kit_send_op(f->kit, payload, cids[seq], NULL, NULL);
    }
    kit_flush(f->kit);
}

static size_t answered(fixture_t *f, char (*cids)[DBEV_ID_SIZE], int n)
{
    size_t a = 0;
    for (int i = 0; i < n; i++)
        if (kit_count(f->kit, cids[i]))
            a++;
    return a;
}

/* Waits until the first n requests are answered. */
static void wait_answered(fixture_t *f, char (*cids)[DBEV_ID_SIZE], int n)
{
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    while (answered(f, cids, n) < (size_t)n && dbev_mono_us() < deadline)
        kit_collect(f->kit, f->kit->n_resps + 1, 200);
    size_t a = answered(f, cids, n);
    if (a < (size_t)n) {
        show_log(f->log);
        fail_msg("%zu of %d requests answered", a, n);
    }
}

static void test_sigkill_restart(void **state)
{
    fixture_t *f = *state;
    char(*cids)[DBEV_ID_SIZE] = calloc(CHUNK * N_CHUNKS, DBEV_ID_SIZE);
    const char *small_batches[] = {"-X", "batch.max=40", NULL};
    f->pid = spawn(f, small_batches, NULL);
    for (int c = 0; c < N_CHUNKS; c++) {
        if (c == N_CHUNKS / 2) {
            /* mid-stream, with the kill inside the window between execution
             * and commit. The adapter commits a batch's offsets only after the
             * broker acknowledged its responses; with every broker answering
             * KILL_RTT_MS late, no commit can be sent until KILL_RTT_MS after a
             * write, and the kill follows the first writes of this chunk by a
             * few milliseconds. (A round-trip time on one broker only left the
             * window to chance: its partitions may not hold this chunk.) */
            char sql[128];
            set_rtt_all(f, KILL_RTT_MS);
            send_chunk(f, c, cids);
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM ledger WHERE seq >= %d", c * CHUNK);
            int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
            while (kit_query_long(f->kit, sql) < 10 && dbev_mono_us() < deadline)
                usleep(2000); /* polling interval while waiting for the writes */
            assert_int_equal(kill(f->pid, SIGKILL), 0);
            int status = wait_exit(f, f->pid, 10000);
            assert_true(WIFSIGNALED(status));
            set_rtt_all(f, 0);
            f->pid = spawn(f, small_batches, NULL);
            continue;
        }
        send_chunk(f, c, cids);
        if (c < N_CHUNKS / 2) /* pace the first half: the kill falls mid-stream */
            wait_answered(f, cids, c * CHUNK);
    }
    int n = CHUNK * N_CHUNKS;
    wait_answered(f, cids, n);
    size_t dup = 0;
    for (int i = 0; i < n; i++) {
        size_t k = kit_count(f->kit, cids[i]);
        dup += k > 1 ? k - 1 : 0;
    }
    for (size_t i = 0; i < f->kit->n_resps; i++)
        if (!f->kit->resps[i].completed)
            fail_msg("a write failed: %s", f->kit->resps[i].text);
    size_t cached = 0;
    for (size_t i = 0; i < f->kit->n_resps; i++)
        cached += f->kit->resps[i].resp->cached;
    /* Both counts are reported; only the second is certain. A request written
     * but not committed at the kill is redelivered and answered from its
     * idempotency record (cached). Whether the killed adapter's own answer had
     * reached the topic first (an answer twice, which the client drops) hangs
     * on its producer's linger and stays a matter of timing. */
    fprintf(stderr,
            "# %d requests; after the SIGKILL %zu answered from the idempotency record, "
            "%zu answered twice\n",
            n, cached, dup);
    assert_true(cached > 0);
    /* every write applied exactly once */
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM ledger"), n);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(DISTINCT seq) FROM ledger"), n);

    kill(f->pid, SIGTERM);
    int status = wait_exit(f, f->pid, 30000);
    f->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free(cids);
}

/* The committed offset of each partition of the requests topic, for the adapter's group. */
static rd_kafka_topic_partition_list_t *committed(fixture_t *f)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(f->kit->mk), err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "database-adapter-effect", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < mockenv_partitions(f->kit->mk); p++)
        rd_kafka_topic_partition_list_add(parts, mockenv_topic(f->kit->mk, DBEV_TOPIC_REQUESTED),
                                          p);
    assert_int_equal(rd_kafka_committed(rk, parts, 10000), 0);
    rd_kafka_destroy(rk);
    return parts;
}

/* Every request below the committed offsets carries a correlation id that was answered. */
static size_t check_committed_answered(fixture_t *f, rd_kafka_topic_partition_list_t *offsets)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", mockenv_bootstrap(f->kit->mk), err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "dbev-test-reader", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    rd_kafka_topic_partition_list_t *from = rd_kafka_topic_partition_list_copy(offsets);
    int64_t total = 0;
    for (int i = 0; i < from->cnt; i++) {
        total += from->elems[i].offset > 0 ? from->elems[i].offset : 0;
        from->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk, from);
    rd_kafka_topic_partition_list_destroy(from);
    size_t checked = 0, eofs = 0;
    int64_t deadline = dbev_mono_us() + 20 * 1000000LL;
    while (eofs < (size_t)offsets->cnt && dbev_mono_us() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg)
            continue;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!msg->err) {
            rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
                offsets, rd_kafka_topic_name(msg->rkt), msg->partition);
            if (p && msg->offset < p->offset) {
                json_t *event = json_loadb(msg->payload, msg->len, 0, NULL);
                const char *cid = json_string_value(json_object_get(event, "correlation_id"));
                assert_non_null(cid);
                if (!kit_wait(f->kit, cid, WAIT_MS))
                    fail_msg("request at partition %d offset %lld was committed unanswered",
                             (int)msg->partition, (long long)msg->offset);
                json_decref(event);
                checked++;
            }
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    assert_int_equal(checked, (size_t)total);
    return checked;
}

static void test_sigterm(void **state)
{
    fixture_t *f = *state;
    int base = kit_query_long(f->kit, "SELECT count(*) FROM ledger");
    char(*cids)[DBEV_ID_SIZE] = calloc(CHUNK * N_CHUNKS, DBEV_ID_SIZE);
    const char *info[] = {"-X", "log.level=info", NULL};
    f->pid = spawn(f, info, NULL);
    /* Slow acknowledgements (broker round-trip time), so that the SIGTERM falls
     * while responses of executed requests are still unacknowledged. */
    char err[512];
    assert_int_equal(mockenv_broker_rtt(f->kit->mk, 1, 200, err, sizeof(err)), 0);
    for (int c = 0; c < 10; c++)
        send_chunk(f, c, cids);
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    while (kit_query_long(f->kit, "SELECT count(*) FROM ledger") < base + 10 &&
           dbev_mono_us() < deadline)
        usleep(2000); /* polling interval while waiting for the writes */
    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int status = wait_exit(f, f->pid, 30000);
    f->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        show_log(f->log);
        fail_msg("dbev-adapter did not exit 0 after SIGTERM (status %d)", status);
    }
    assert_int_equal(mockenv_broker_rtt(f->kit->mk, 1, 0, err, sizeof(err)), 0);
    char *log = slurp(f->log);
    assert_non_null(strstr(log, "stopping"));
    free(log);
    /* committed requests must all be answered (each waited for with a deadline) */
    rd_kafka_topic_partition_list_t *offsets = committed(f);
    size_t checked = check_committed_answered(f, offsets);
    rd_kafka_topic_partition_list_destroy(offsets);
    fprintf(stderr, "# SIGTERM: %zu committed requests, all answered\n", checked);

    /* the next instance answers the rest, nothing applied twice */
    f->pid = spawn(f, NULL, NULL);
    wait_answered(f, cids, 10 * CHUNK);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM ledger") - base, 10 * CHUNK);
    kill(f->pid, SIGTERM);
    status = wait_exit(f, f->pid, 30000);
    f->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        show_log(f->log);
        fail_msg("dbev-adapter did not exit 0 after SIGTERM (status %d)", status);
    }
    free(cids);
}

/* The answers of this partition of the completed and failed topics are held
 * (kit_hold_answers); requests go to another one. */
#define HELD_PARTITION    0
#define REQUEST_PARTITION 2

static bool ledger_written(void *arg)
{
    return kit_query_long(arg, "SELECT count(*) FROM ledger WHERE seq = -1") == 1;
}

/* test_sigkill_restart without timing: request B is executed while the
 * broker holds its answer; request E behind it (same partition, answered on
 * another) shows the daemon went on past B. B's offset must not be committed;
 * after a SIGKILL the next instance gets B again and answers it from the
 * idempotency record, once, without writing twice, and commits past both. */
static void test_sigkill_unacknowledged(void **state)
{
    fixture_t *f = *state;
    f->pid = spawn(f, NULL, NULL);
    char cid_a[DBEV_ID_SIZE], cid_b[DBEV_ID_SIZE], cid_e[DBEV_ID_SIZE];
    kit_cid_for_partition(f->kit, HELD_PARTITION + 1, cid_a);
    kit_cid_for_partition(f->kit, HELD_PARTITION, cid_b);
    kit_cid_for_partition(f->kit, HELD_PARTITION + 1, cid_e);
    /* the daemon is in the group and commits */
    int64_t off_a = kit_send_to(f->kit, REQUEST_PARTITION,
                                "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 1\"}", cid_a);
    if (!kit_wait(f->kit, cid_a, WAIT_MS)) {
        show_log(f->log);
        fail_msg("no answer from the daemon");
    }
    kit_wait_committed_past(f->kit, REQUEST_PARTITION, off_a, WAIT_MS);

    kit_hold_answers(f->kit, HELD_PARTITION, true);
    int64_t off_b = kit_send_to(
        f->kit, REQUEST_PARTITION,
        "{\"operation_type\":\"INSERT\",\"table\":\"ledger\",\"data\":{\"seq\":-1}}", cid_b);
    assert_true(kit_wait_for(ledger_written, f->kit, WAIT_MS));
    int64_t off_e = kit_send_to(f->kit, REQUEST_PARTITION,
                                "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT 2\"}", cid_e);
    if (!kit_wait(f->kit, cid_e, WAIT_MS))
        fail_msg("no answer to the request behind the held one");
    assert_int_equal(kit_count(f->kit, cid_b), 0);
    int64_t committed = kit_committed(f->kit, REQUEST_PARTITION);
    if (committed > off_b)
        fail_msg("the group's offset was committed to %lld, past the request at %lld whose answer "
                 "is not acknowledged",
                 (long long)committed, (long long)off_b);

    assert_int_equal(kill(f->pid, SIGKILL), 0);
    assert_true(WIFSIGNALED(wait_exit(f, f->pid, 10000)));
    kit_hold_answers(f->kit, HELD_PARTITION, false);
    f->pid = spawn(f, NULL, NULL);
    const kit_resp_t *r = kit_wait(f->kit, cid_b, WAIT_MS);
    if (!r) {
        show_log(f->log);
        fail_msg("the request whose answer was lost at the SIGKILL was not answered");
    }
    assert_true(r->completed);
    assert_true(r->resp->cached);
    kit_wait_committed_past(f->kit, REQUEST_PARTITION, off_e, WAIT_MS);
    assert_int_equal(kit_count(f->kit, cid_b), 1);
    assert_int_equal(kit_query_long(f->kit, "SELECT count(*) FROM ledger WHERE seq = -1"), 1);

    kill(f->pid, SIGTERM);
    int status = wait_exit(f, f->pid, 30000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_command_line, test_teardown),
        cmocka_unit_test_teardown(test_sigkill_restart, test_teardown),
        cmocka_unit_test_teardown(test_sigterm, test_teardown),
        cmocka_unit_test_teardown(test_sigkill_unacknowledged, test_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
