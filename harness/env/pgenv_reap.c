/*
 * Making sure no throwaway server outlives the run that started it. A fixed
 * process-wide registry lists the live servers; an atexit handler and
 * handlers for SIGINT, SIGTERM and SIGHUP stop each postmaster (immediate
 * shutdown: the data is thrown away anyway) and remove its directory, and the
 * signal is then re-raised with its default action so the exit status still
 * says what happened. The signal path uses async-signal-safe calls only.
 *
 * A run killed by SIGKILL cannot clean up; pgenv_reap_leftovers() does it on
 * the next start: it looks at dbev-pg-* directories carrying our marker
 * file, and removes those whose owner process is gone (pid dead, or reused by
 * a process with another start time), after stopping their postmaster. The
 * postmaster pid comes from data/postmaster.pid and is trusted only when the
 * process's working directory is that data directory, so a reused pid is
 * never killed.
 */
#include "env/pgenv.h"
#include "env/pgenv_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* /dev/shm is used by default only with at least this much room. */
#define PGENV_SHM_MIN_FREE (1024ULL * 1024 * 1024)

#define REG_SLOTS 64

typedef struct reg_entry {
    volatile sig_atomic_t used;
    volatile sig_atomic_t keep;
    volatile pid_t owner;      /* getpid() of the process that started the server */
    volatile pid_t postmaster; /* 0 while not running */
    volatile pid_t helper;     /* initdb while it runs, else 0 */
    char dir[PGENV_PATH_SIZE];
    char keep_msg[2048];
} reg_entry_t;

static reg_entry_t reg[REG_SLOTS];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static const int reg_signals[] = {SIGINT, SIGTERM, SIGHUP};

int pgenv_reg_add(const char *dir, char *errstr, size_t size)
{
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < REG_SLOTS; i++) {
        if (reg[i].used)
            continue;
        snprintf(reg[i].dir, sizeof(reg[i].dir), "%s", dir);
        reg[i].keep_msg[0] = '\0';
        reg[i].keep = 0;
        reg[i].postmaster = 0;
        reg[i].helper = 0;
        reg[i].owner = getpid();
        __atomic_store_n(&reg[i].used, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&reg_lock);
        return i;
    }
    pthread_mutex_unlock(&reg_lock);
    snprintf(errstr, size, "more than %d throwaway PostgreSQL servers in one process", REG_SLOTS);
    return -1;
}

void pgenv_reg_set_pid(int slot, pid_t pid)
{
    if (slot >= 0)
        reg[slot].postmaster = pid;
}

void pgenv_reg_set_helper(int slot, pid_t pid)
{
    if (slot >= 0)
        reg[slot].helper = pid;
}

void pgenv_reg_set_keep(int slot, const char *msg)
{
    if (slot < 0)
        return;
    snprintf(reg[slot].keep_msg, sizeof(reg[slot].keep_msg), "%s", msg);
    reg[slot].keep = 1;
}

void pgenv_reg_remove(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    __atomic_store_n(&reg[slot].used, 0, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&reg_lock);
}

/* Stops and removes every live server of this process. Async-signal-safe. */
static void teardown_all(void)
{
    pid_t self = getpid();
    for (int i = 0; i < REG_SLOTS; i++) {
        reg_entry_t *e = &reg[i];
        if (!e->used || e->owner != self)
            continue;
        if (e->keep) {
            ssize_t ignored = write(STDERR_FILENO, e->keep_msg, strlen(e->keep_msg));
            (void)ignored;
        } else {
            if (e->helper > 0)
                pgenv_kill_wait(e->helper, SIGKILL, 5000);
            if (e->postmaster > 0)
                pgenv_kill_wait(e->postmaster, SIGQUIT, 5000);
            pgenv_rm_rf(e->dir);
        }
        e->used = 0;
    }
}

static void on_exit_teardown(void)
{
    teardown_all();
}

static void on_signal(int sig)
{
    int saved = errno;
    teardown_all();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    errno = saved;
}

static void install_once(void)
{
    atexit(on_exit_teardown);
    for (size_t i = 0; i < sizeof(reg_signals) / sizeof(reg_signals[0]); i++) {
        struct sigaction old;
        /* An application that handles the signal itself tears down through
         * pgenv_destroy(); we only take signals nobody else wanted. */
        if (sigaction(reg_signals[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigfillset(&sa.sa_mask);
        sigaction(reg_signals[i], &sa, NULL);
    }
}

void pgenv_reg_install(void)
{
    pthread_once(&reg_once, install_once);
}

/* ---- leftovers ---- */

typedef struct marker {
    pid_t pid;
    unsigned long long start;
    bool keep;
} marker_t;

static int marker_read(const char *dir, marker_t *m)
{
    char path[PGENV_PATH_SIZE];
    pgenv_path(path, sizeof(path), dir, PGENV_MARKER);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    bool magic = false;
    memset(m, 0, sizeof(*m));
    while (fgets(line, sizeof(line), f)) {
        int pid;
        unsigned long long start;
        if (strcmp(line, "dbev-pgenv\n") == 0)
            magic = true;
        else if (sscanf(line, "pid=%d", &pid) == 1)
            m->pid = pid;
        else if (sscanf(line, "start=%llu", &start) == 1)
            m->start = start;
        else if (strcmp(line, "keep\n") == 0)
            m->keep = true;
    }
    fclose(f);
    return magic && m->pid > 0 ? 0 : -1;
}

static bool owner_alive(const marker_t *m)
{
    if (!pgenv_pid_alive(m->pid))
        return false;
    unsigned long long start = pgenv_pid_starttime(m->pid);
    return m->start == 0 || start == 0 || start == m->start;
}

/* The postmaster of data_dir when it still runs, else 0. */
static pid_t live_postmaster(const char *data_dir)
{
    char path[PGENV_PATH_SIZE];
    pgenv_path(path, sizeof(path), data_dir, "postmaster.pid");
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 0 || !pgenv_pid_alive(pid))
        return 0;
    char cwd_link[64], cwd[PGENV_PATH_SIZE], real_data[PGENV_PATH_SIZE];
    snprintf(cwd_link, sizeof(cwd_link), "/proc/%d/cwd", pid);
    ssize_t n = readlink(cwd_link, cwd, sizeof(cwd) - 1);
    if (n < 0 || !realpath(data_dir, real_data))
        return 0;
    cwd[n] = '\0';
    return strcmp(cwd, real_data) == 0 ? pid : 0;
}

/* Removes dir when its marker names a dead owner. Returns 1 when removed. */
static int reap_dir(const char *dir)
{
    marker_t m;
    if (marker_read(dir, &m) < 0 || owner_alive(&m))
        return 0;
    char data_dir[PGENV_PATH_SIZE];
    pgenv_path(data_dir, sizeof(data_dir), dir, "data");
    pid_t pm = live_postmaster(data_dir);
    if (pm > 0) {
        if (m.keep)
            return 0; /* kept for a human to explore: left until its server stops */
        pgenv_kill_wait(pm, SIGQUIT, 5000);
    }
    return pgenv_rm_rf(dir) == 0 ? 1 : 0;
}

/* Reaps entries of parent whose names start with prefix. */
static int reap_under(const char *parent, const char *prefix)
{
    DIR *d = opendir(parent);
    if (!d)
        return 0;
    int removed = 0;
    size_t plen = strlen(prefix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        char dir[PGENV_PATH_SIZE];
        struct stat st;
        snprintf(dir, sizeof(dir), "%s/%s", parent, de->d_name);
        if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            removed += reap_dir(dir);
    }
    closedir(d);
    return removed;
}

/*
 * Where servers live by default. Creating a file costs far more on some
 * disks than on a tmpfs (about 1 ms against 10 us on the CI machine), and a
 * cluster is about a thousand files, so a roomy tmpfs at /dev/shm wins
 * unless TMPDIR says otherwise. The data is thrown away anyway.
 */
const char *pgenv_default_tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    if (t && *t)
        return t;
    struct statfs sfs;
    struct statvfs svfs;
    if (statfs("/dev/shm", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC &&
        statvfs("/dev/shm", &svfs) == 0 &&
        (unsigned long long)svfs.f_bavail * svfs.f_frsize >= PGENV_SHM_MIN_FREE &&
        access("/dev/shm", W_OK | X_OK) == 0)
        return "/dev/shm";
    return "/tmp";
}

int pgenv_reap_leftovers(const char *tmp_dir)
{
    if (tmp_dir)
        return reap_under(tmp_dir, PGENV_DIR_PREFIX);
    /* Every place a default run may have used. */
    const char *t = getenv("TMPDIR");
    int removed = 0;
    if (t && *t)
        removed += reap_under(t, PGENV_DIR_PREFIX);
    removed += reap_under("/dev/shm", PGENV_DIR_PREFIX);
    removed += reap_under("/tmp", PGENV_DIR_PREFIX);
    return removed;
}

int pgenv_reap_builds(const char *cache_dir)
{
    return reap_under(cache_dir, PGENV_BUILD_PREFIX);
}
