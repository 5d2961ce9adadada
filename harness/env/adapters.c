/*
 * The adapter supervisor (adapters.h): starts a scenario's adapter
 * instances, embedded as threads or as dbev-adapter child processes, signals
 * and restarts them for fault steps, and stops them at teardown without ever
 * leaving a child behind.
 *
 * Children are forked by a thread owned by the supervisor (the "spawner"),
 * never by the caller's thread: PR_SET_PDEATHSIG fires when the *thread*
 * that forked exits, and a restart asked from a short-lived parallel branch
 * must not kill the child when the branch ends. Every child gets
 * PR_SET_PDEATHSIG(SIGKILL), an empty signal mask, default dispositions,
 * stdin from /dev/null, stdout and stderr appended to the log file, and no
 * inherited descriptor besides those.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "env/adapters.h"

#include "dbev_adapter.h"
#include "faults/faults_int.h"
#include "env/kprofile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ADAPTERS_BINARY
#define ADAPTERS_BINARY DBEV_BUILD_DIR "/bin/dbev-adapter"
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MAX_SETTINGS    64
#define STOP_WAIT_MS    15000 /* graceful stop, then SIGKILL */
#define KILL_WAIT_MS    5000  /* a SIGKILLed child is gone well within this */
#define SIGSTOP_WAIT_MS 5000

typedef struct slot {
    pid_t pid;          /* process mode: the child, 0 once reaped */
    bool stopped;       /* SIGSTOPped */
    int exit_status;    /* wait status of the last exit, -1 none yet */
    dbev_adapter_t *ad; /* thread mode */
} slot_t;

struct adapters {
    adapter_mode_t mode;
    int count;
    char topic_env[128];
    char *settings[MAX_SETTINGS]; /* "key=value", shared by every instance */
    int n_settings;
    char *log_path;
    dbev_logger_t logger;
    pthread_mutex_t lock; /* serialises the public calls */
    slot_t slots[ADAPTERS_MAX];

    /* The spawner thread and its one-request mailbox. */
    pthread_t spawner;
    bool spawner_started;
    pthread_mutex_t sp_lock;
    pthread_cond_t sp_cond;
    bool sp_quit;
    int sp_index;     /* request: instance to fork, -1 none */
    bool sp_done;     /* answer ready */
    pid_t sp_pid;     /* answer: the child, or -1 */
    char sp_err[256]; /* answer: why not */
};

/* ------------------------------------------------------------ settings */

static int add_setting(adapters_t *a, char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int add_setting(adapters_t *a, char *errstr, size_t size, const char *fmt, ...)
{
    if (a->n_settings >= MAX_SETTINGS)
        return dbev_seterr(errstr, size, "too many adapter settings (at most %d)", MAX_SETTINGS);
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&a->settings[a->n_settings], fmt, ap);
    va_end(ap);
    if (n < 0) {
        a->settings[a->n_settings] = NULL;
        return dbev_seterr(errstr, size, "out of memory");
    }
    a->n_settings++;
    return 0;
}

static int build_settings(adapters_t *a, const adapters_opts_t *opts, char *errstr, size_t size)
{
    int log_level = opts->logger && opts->logger->cb ? (int)opts->logger->level : DBEV_LOG_WARN;
    /* A child logs to its own file (adapter-sN.log, copied into a failure's
     * bundle), not to the terminal: at info it records its partition
     * assignments and revocations, which a failed kill or rebalance
     * scenario needs to be read (one, with none of 1,500 requests answered
     * in 20 s, could not be at warn). */
    if (opts->mode == ADAPTER_PROCESS && log_level > DBEV_LOG_INFO)
        log_level = DBEV_LOG_INFO;
    const char *level = dbev_log_level_name((dbev_log_level_t)log_level);
    if (add_setting(a, errstr, size, "env.fallback=false") ||
        add_setting(a, errstr, size, "bootstrap.servers=%s", opts->bootstrap) ||
        add_setting(a, errstr, size, "topic.prefix=%s", opts->topic_env) ||
        add_setting(a, errstr, size, "pg.conninfo=%s", opts->conninfo ? opts->conninfo : "") ||
        add_setting(a, errstr, size, "group.id=dbev-harness-%s", opts->topic_env) ||
        add_setting(a, errstr, size, "pool.min=1") ||
        add_setting(a, errstr, size, "shutdown.timeout.ms=10000") ||
        add_setting(a, errstr, size, "kafka.consumer.session.timeout.ms=3000") ||
        add_setting(a, errstr, size, "kafka.consumer.heartbeat.interval.ms=500") ||
        add_setting(a, errstr, size, "log.level=%s", level))
        return -1;
    char fetch[128];
    for (int i = 0; kprofile_adapter_setting(opts->mock, i, fetch, sizeof(fetch)); i++)
        if (add_setting(a, errstr, size, "%s", fetch))
            return -1;
    if (opts->breaker_recovery_ms > 0 &&
        add_setting(a, errstr, size, "breaker.recovery.timeout.ms=%d", opts->breaker_recovery_ms))
        return -1;
    /* A lone instance takes every request partition itself
     * (consumer.assignment=all): a group's first join waits out the mock
     * cluster's 3 s initial rebalance delay, most of a small scenario's
     * time, and one member proves nothing about rebalances. Its group id is
     * the scenario's own and never joined, so its commits are accepted and a
     * restarted instance resumes from them. Several instances share the
     * group as in production; DBEV_FAST_ASSIGN=0 gives a lone one the group
     * too, and a scenario's adapter: settings can ask for it
     * (consumer.assignment: group). */
    const char *fast = getenv("DBEV_FAST_ASSIGN");
    if (opts->count == 1 && !(fast && !strcmp(fast, "0")) &&
        add_setting(a, errstr, size, "consumer.assignment=all"))
        return -1;
    for (int i = 0; opts->extra && opts->extra[i]; i++)
        if (add_setting(a, errstr, size, "%s", opts->extra[i]))
            return -1;
    return 0;
}

/* A conf for instance index from the settings; NULL with errstr naming the
 * setting the adapter refused. */
static dbev_adapter_conf_t *make_conf(const adapters_t *a, int index, char *errstr, size_t size)
{
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    if (!conf) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    char err[512], kv[200];
    snprintf(kv, sizeof(kv), "instance.id=%s-%d", a->topic_env, index);
    for (int i = 0; i <= a->n_settings; i++) {
        const char *s = i < a->n_settings ? a->settings[i] : kv;
        if (dbev_adapter_conf_set_kv(conf, s, err, sizeof(err)) != DBEV_ADAPTER_CONF_OK) {
            const char *eq = strchr(s, '=');
            dbev_seterr(errstr, size, "adapter setting %.*s: %s",
                        eq ? (int)(eq - s) : (int)strlen(s), s, err);
            dbev_adapter_conf_destroy(conf);
            return NULL;
        }
    }
    if (a->logger.cb)
        dbev_adapter_conf_set_log_cb(conf, a->logger.cb, a->logger.opaque);
    return conf;
}

/* ------------------------------------------------------------ processes */

/* Waits until pid has exited (reaping it) or timeout_ms passed. Returns 0 and
 * the wait status, or -1 on timeout. pidfd when the kernel has it, else a
 * short polling interval. */
static int reap_within(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = dbev_mono_us() + (int64_t)timeout_ms * 1000;
    int pidfd = -1;
#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            if (r < 0)
                *status = -1;
            if (pidfd >= 0)
                close(pidfd);
            return 0;
        }
        int64_t left_ms = (deadline - dbev_mono_us()) / 1000;
        if (left_ms <= 0)
            break;
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
            poll(&pfd, 1, (int)(left_ms < 1000 ? left_ms : 1000));
        } else {
            usleep(2000); /* no pidfd: poll the exit every 2 ms */
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return -1;
}

/* Waits until pid is stopped (SIGSTOP delivered). */
static int stopped_within(pid_t pid, int timeout_ms)
{
    int64_t deadline = dbev_mono_us() + (int64_t)timeout_ms * 1000;
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    while (dbev_mono_us() < deadline) {
        FILE *fp = fopen(path, "r");
        if (!fp)
            return -1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')'); /* state follows the command name */
        if (p && (p[2] == 'T' || p[2] == 't'))
            return 0;
        usleep(1000); /* the kernel delivers SIGSTOP within microseconds */
    }
    return -1;
}

/* Runs in the spawner thread: forks and execs dbev-adapter for index.
 * Returns the pid, or -1 with errstr. */
static pid_t fork_child(adapters_t *a, int index, char *errstr, size_t size)
{
    char *argv[2 + 2 * (MAX_SETTINGS + 1) + 1];
    char instance[200];
    int n = 0;
    const char *binary = getenv("DBEV_ADAPTER_BIN");
    if (!binary || !*binary)
        binary = ADAPTERS_BINARY;
    argv[n++] = (char *)binary;
    for (int i = 0; i < a->n_settings; i++) {
        argv[n++] = (char *)"-X";
        argv[n++] = a->settings[i];
    }
    snprintf(instance, sizeof(instance), "instance.id=%s-%d", a->topic_env, index);
    argv[n++] = (char *)"-X";
    argv[n++] = instance;
    argv[n] = NULL;

    if (access(binary, X_OK) != 0)
        return dbev_seterr(errstr, size,
                           "cannot run %s: %s (build the dbev-adapter target, or set "
                           "DBEV_ADAPTER_BIN)",
                           binary, strerror(errno));
    int log_fd = -1;
    if (a->log_path) {
        log_fd = open(a->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
            return dbev_seterr(errstr, size, "cannot open the adapter log %s: %s", a->log_path,
                               strerror(errno));
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int pipefd[2];
    if (null_fd < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        int e = errno;
        if (log_fd >= 0)
            close(log_fd);
        if (null_fd >= 0)
            close(null_fd);
        return dbev_seterr(errstr, size, "cannot prepare the adapter's descriptors: %s",
                           strerror(e));
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: async-signal-safe calls only until execv. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the harness died before prctl took effect */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                sigaction(sig, &dfl, NULL);
        dup2(null_fd, 0);
        if (log_fd >= 0) {
            dup2(log_fd, 1);
            dup2(log_fd, 2);
        }
        /* Everything else closes at exec; the error pipe's write end must
         * stay open until then. */
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 65536; fd++)
                if (fd != pipefd[1])
                    close(fd);
        }
        execv(argv[0], argv);
        int e = errno;
        ssize_t w = write(pipefd[1], &e, sizeof(e));
        (void)w;
        _exit(127);
    }
    int fork_errno = errno;
    close(pipefd[1]);
    close(null_fd);
    if (log_fd >= 0)
        close(log_fd);
    if (pid < 0) {
        close(pipefd[0]);
        return dbev_seterr(errstr, size, "fork failed: %s", strerror(fork_errno));
    }
    /* EOF: exec succeeded (the write end closed with it); an int: it failed. */
    int child_errno = 0;
    ssize_t r;
    do
        r = read(pipefd[0], &child_errno, sizeof(child_errno));
    while (r < 0 && errno == EINTR);
    close(pipefd[0]);
    if (r == (ssize_t)sizeof(child_errno)) {
        int status;
        reap_within(pid, KILL_WAIT_MS, &status);
        return dbev_seterr(errstr, size, "cannot execute %s: %s", binary, strerror(child_errno));
    }
    return pid;
}

static void *spawner_main(void *arg)
{
    adapters_t *a = arg;
    pthread_mutex_lock(&a->sp_lock);
    for (;;) {
        while (!a->sp_quit && a->sp_index < 0)
            pthread_cond_wait(&a->sp_cond, &a->sp_lock);
        if (a->sp_quit)
            break;
        int index = a->sp_index;
        pthread_mutex_unlock(&a->sp_lock);
        char err[256] = "";
        pid_t pid = fork_child(a, index, err, sizeof(err));
        pthread_mutex_lock(&a->sp_lock);
        a->sp_pid = pid;
        snprintf(a->sp_err, sizeof(a->sp_err), "%s", err);
        a->sp_index = -1;
        a->sp_done = true;
        pthread_cond_broadcast(&a->sp_cond);
    }
    pthread_mutex_unlock(&a->sp_lock);
    return NULL;
}

/* Asks the spawner for a child for index (callers hold a->lock, so there is
 * one request at a time). */
static pid_t spawn(adapters_t *a, int index, char *errstr, size_t size)
{
    pthread_mutex_lock(&a->sp_lock);
    a->sp_done = false;
    a->sp_index = index;
    pthread_cond_broadcast(&a->sp_cond);
    while (!a->sp_done)
        pthread_cond_wait(&a->sp_cond, &a->sp_lock);
    pid_t pid = a->sp_pid;
    if (pid < 0)
        dbev_seterr(errstr, size, "%s", a->sp_err);
    pthread_mutex_unlock(&a->sp_lock);
    return pid;
}

/* Notices a child that exited on its own (crash, bad configuration). */
static void refresh(slot_t *s)
{
    int status = -1;
    if (s->pid <= 0)
        return;
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == s->pid || (r < 0 && errno == ECHILD)) { /* ECHILD: reaped by someone else */
        s->pid = 0;
        s->stopped = false;
        s->exit_status = r < 0 ? -1 : status;
    }
}

static void describe_exit(int status, char *buf, size_t size)
{
    if (status < 0)
        snprintf(buf, size, "not started");
    else if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "ended (wait status %d)", status);
}

/* Graceful stop of a child: SIGTERM (and SIGCONT when stopped, or the TERM
 * waits forever), reap within STOP_WAIT_MS, else SIGKILL. */
static void stop_child(adapters_t *a, int index, bool graceful)
{
    slot_t *s = &a->slots[index];
    if (s->pid <= 0)
        return;
    int status = -1;
    if (graceful) {
        kill(s->pid, SIGTERM);
        if (s->stopped)
            kill(s->pid, SIGCONT);
        if (reap_within(s->pid, STOP_WAIT_MS, &status) == 0)
            goto reaped;
        dbev_logf(&a->logger, DBEV_LOG_WARN, NULL,
                  "adapter %d (pid %d) did not stop within %d ms of SIGTERM: killing it", index,
                  (int)s->pid, STOP_WAIT_MS);
    }
    kill(s->pid, SIGKILL);
    if (reap_within(s->pid, KILL_WAIT_MS, &status) != 0) {
        /* Should not happen (SIGKILL); block rather than leave a zombie. */
        waitpid(s->pid, &status, 0);
    }
reaped:
    s->pid = 0;
    s->stopped = false;
    s->exit_status = status;
}

/* ------------------------------------------------------------ instances */

static int start_instance(adapters_t *a, int index, char *errstr, size_t size)
{
    slot_t *s = &a->slots[index];
    if (a->mode == ADAPTER_THREAD) {
        dbev_adapter_conf_t *conf = make_conf(a, index, errstr, size);
        if (!conf)
            return -1;
        char err[512];
        s->ad = dbev_adapter_new(conf, err, sizeof(err));
        if (!s->ad) {
            dbev_adapter_conf_destroy(conf);
            return dbev_seterr(errstr, size, "adapter %d: %s", index, err);
        }
        if (dbev_adapter_start(s->ad, err, sizeof(err)) != 0) {
            dbev_adapter_destroy(s->ad);
            s->ad = NULL;
            return dbev_seterr(errstr, size, "adapter %d: %s", index, err);
        }
        dbev_logf(&a->logger, DBEV_LOG_INFO, NULL, "adapter %d started (thread, %s)", index,
                  dbev_adapter_instance_id(s->ad));
        return 0;
    }
    pid_t pid = spawn(a, index, errstr, size);
    if (pid < 0)
        return -1;
    s->pid = pid;
    s->stopped = false;
    dbev_logf(&a->logger, DBEV_LOG_INFO, NULL, "adapter %d started (pid %d)", index, (int)pid);
    return 0;
}

static void stop_thread_instance(adapters_t *a, int index, bool graceful)
{
    slot_t *s = &a->slots[index];
    if (!s->ad)
        return;
    if (graceful)
        dbev_adapter_stop(s->ad);
    else
        dbev_adapter_abort(s->ad);
    int rc = dbev_adapter_join(s->ad);
    dbev_adapter_destroy(s->ad);
    s->ad = NULL;
    s->exit_status = rc == 0 ? 0 : (1 << 8);
}

adapters_t *adapters_new(const adapters_opts_t *opts, char *errstr, size_t size)
{
    if (!opts || opts->count < 1 || opts->count > ADAPTERS_MAX) {
        dbev_seterr(errstr, size, "adapters: count must be 1..%d, not %d", ADAPTERS_MAX,
                    opts ? opts->count : 0);
        return NULL;
    }
    if (opts->mode != ADAPTER_EXTERNAL && (!opts->bootstrap || !opts->topic_env)) {
        dbev_seterr(errstr, size, "adapters: a Kafka bootstrap and a topic prefix are needed");
        return NULL;
    }
    adapters_t *a = calloc(1, sizeof(*a));
    if (!a) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    a->mode = opts->mode;
    a->count = opts->mode == ADAPTER_EXTERNAL ? 0 : opts->count;
    snprintf(a->topic_env, sizeof(a->topic_env), "%s", opts->topic_env ? opts->topic_env : "");
    if (opts->logger)
        a->logger = *opts->logger;
    a->sp_index = -1;
    for (int i = 0; i < ADAPTERS_MAX; i++)
        a->slots[i].exit_status = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->sp_lock, NULL);
    pthread_cond_init(&a->sp_cond, NULL);
    if (a->mode == ADAPTER_EXTERNAL)
        return a;

    if (opts->log_path && !(a->log_path = strdup(opts->log_path))) {
        dbev_seterr(errstr, size, "out of memory");
        goto fail;
    }
    if (build_settings(a, opts, errstr, size))
        goto fail;
    /* The adapter's own table checks every setting before anything starts, so
     * a child does not die of a typo with the reason only in its log. */
    dbev_adapter_conf_t *probe = make_conf(a, 0, errstr, size);
    if (!probe)
        goto fail;
    dbev_adapter_conf_destroy(probe);

    if (a->mode == ADAPTER_PROCESS) {
        if (pthread_create(&a->spawner, NULL, spawner_main, a) != 0) {
            dbev_seterr(errstr, size, "cannot start the adapter spawner thread");
            goto fail;
        }
        a->spawner_started = true;
    }
    for (int i = 0; i < a->count; i++)
        if (start_instance(a, i, errstr, size))
            goto fail;
    return a;
fail:
    adapters_destroy(a);
    return NULL;
}

void adapters_destroy(adapters_t *a)
{
    if (!a)
        return;
    faults_revert_adapters(a);
    pthread_mutex_lock(&a->lock);
    if (a->mode == ADAPTER_PROCESS) {
        /* Ask them all at once, then wait: teardown takes one stop, not N. */
        for (int i = 0; i < a->count; i++) {
            slot_t *s = &a->slots[i];
            if (s->pid > 0) {
                kill(s->pid, SIGTERM);
                if (s->stopped)
                    kill(s->pid, SIGCONT);
                s->stopped = false;
            }
        }
        for (int i = 0; i < a->count; i++)
            stop_child(a, i, true);
    } else if (a->mode == ADAPTER_THREAD) {
        for (int i = 0; i < a->count; i++)
            if (a->slots[i].ad)
                dbev_adapter_stop(a->slots[i].ad);
        for (int i = 0; i < a->count; i++)
            stop_thread_instance(a, i, true);
    }
    pthread_mutex_unlock(&a->lock);
    if (a->spawner_started) {
        pthread_mutex_lock(&a->sp_lock);
        a->sp_quit = true;
        pthread_cond_broadcast(&a->sp_cond);
        pthread_mutex_unlock(&a->sp_lock);
        pthread_join(a->spawner, NULL);
    }
    for (int i = 0; i < a->n_settings; i++)
        free(a->settings[i]);
    free(a->log_path);
    pthread_cond_destroy(&a->sp_cond);
    pthread_mutex_destroy(&a->sp_lock);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int adapters_count(const adapters_t *a)
{
    return a ? a->count : 0;
}

bool adapters_supports_process_faults(const adapters_t *a)
{
    return a && a->mode == ADAPTER_PROCESS;
}

pid_t adapters_pid(const adapters_t *a, int index)
{
    if (!a || a->mode != ADAPTER_PROCESS || index < 0 || index >= a->count)
        return 0;
    adapters_t *m = (adapters_t *)a; /* reaping a dead child is a read as far as callers see */
    pthread_mutex_lock(&m->lock);
    refresh(&m->slots[index]);
    pid_t pid = m->slots[index].pid;
    pthread_mutex_unlock(&m->lock);
    return pid;
}

bool adapters_running(const adapters_t *a, int index)
{
    if (!a || index < 0 || index >= a->count)
        return false;
    if (a->mode == ADAPTER_THREAD) {
        /* An embedded adapter whose loop returned (a fatal error) is as dead
         * as an exited child, though its handle is still held. */
        if (!a->slots[index].ad)
            return false;
        dbev_adapter_stats_t stats;
        dbev_adapter_stats(a->slots[index].ad, &stats);
        return stats.running;
    }
    return adapters_pid(a, index) > 0;
}

static int check_index(const adapters_t *a, int index, char *errstr, size_t size)
{
    if (!a || a->mode == ADAPTER_EXTERNAL)
        return dbev_seterr(errstr, size,
                           "the adapter is external (--adapter external): the harness cannot "
                           "signal or restart it");
    if (index < 0 || index >= a->count)
        return dbev_seterr(errstr, size, "adapter index %d out of range: %d instance%s (0..%d)",
                           index, a->count, a->count == 1 ? "" : "s", a->count - 1);
    return 0;
}

static int signal_process(adapters_t *a, int index, int sig, char *errstr, size_t size)
{
    slot_t *s = &a->slots[index];
    refresh(s);
    if (s->pid <= 0) {
        char how[128];
        describe_exit(s->exit_status, how, sizeof(how));
        return dbev_seterr(errstr, size, "adapter %d is not running (%s)", index, how);
    }
    pid_t pid = s->pid;
    switch (sig) {
    case SIGKILL:
        stop_child(a, index, false);
        break;
    case SIGTERM:
        stop_child(a, index, true);
        break;
    case SIGSTOP:
        if (kill(pid, SIGSTOP) != 0 || stopped_within(pid, SIGSTOP_WAIT_MS) != 0)
            return dbev_seterr(errstr, size, "adapter %d (pid %d) did not stop", index, (int)pid);
        s->stopped = true;
        break;
    case SIGCONT:
        if (kill(pid, SIGCONT) != 0)
            return dbev_seterr(errstr, size, "SIGCONT to adapter %d: %s", index, strerror(errno));
        s->stopped = false;
        break;
    default:
        return dbev_seterr(errstr, size,
                           "signal %d is not one of SIGKILL, SIGTERM, SIGSTOP, SIGCONT", sig);
    }
    dbev_logf(&a->logger, DBEV_LOG_INFO, NULL, "adapter %d (pid %d): %s", index, (int)pid,
              strsignal(sig));
    return 0;
}

int adapters_signal(adapters_t *a, int index, int sig, char *errstr, size_t size)
{
    if (check_index(a, index, errstr, size))
        return -1;
    pthread_mutex_lock(&a->lock);
    int rc;
    if (a->mode == ADAPTER_PROCESS) {
        rc = signal_process(a, index, sig, errstr, size);
    } else if (sig != SIGKILL && sig != SIGTERM) {
        rc = dbev_seterr(errstr, size,
                         "%s needs adapters in processes (--adapter process); these are threads",
                         strsignal(sig));
    } else if (!a->slots[index].ad) {
        rc = dbev_seterr(errstr, size, "adapter %d is not running", index);
    } else {
        stop_thread_instance(a, index, sig == SIGTERM);
        dbev_logf(&a->logger, DBEV_LOG_INFO, NULL, "adapter %d (thread): %s", index,
                  sig == SIGTERM ? "stopped" : "aborted");
        rc = 0;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int adapters_restart(adapters_t *a, int index, char *errstr, size_t size)
{
    if (check_index(a, index, errstr, size))
        return -1;
    pthread_mutex_lock(&a->lock);
    if (a->mode == ADAPTER_PROCESS) {
        refresh(&a->slots[index]);
        stop_child(a, index, true);
    } else {
        stop_thread_instance(a, index, true);
    }
    int rc = start_instance(a, index, errstr, size);
    pthread_mutex_unlock(&a->lock);
    return rc;
}
