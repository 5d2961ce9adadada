/*
 * Processes and directory trees for pgenv. Starts initdb and postgres as the
 * right account (the postgres account when we are root, since both refuse to
 * run as root), detached from our terminal and with no descriptor of ours
 * but the log; waits for processes to die; removes, copies and chowns the
 * trees the servers live in. pgenv_rm_rf(), pgenv_pid_alive() and
 * pgenv_kill_wait() use raw system calls only, because the signal handler
 * that tears servers down on SIGINT/SIGTERM calls them.
 */
#include "env/pgenv_int.h"

#include "dbev_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int pgenv_path(char *out, size_t size, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    if (size == 0)
        return -1;
    if (dl + 1 + nl >= size) {
        size_t take = dl < size - 1 ? dl : size - 1;
        memcpy(out, dir, take);
        out[take] = '\0';
        return -1;
    }
    memcpy(out, dir, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, name, nl + 1);
    return 0;
}

int pgenv_cred_get(pgenv_cred_t *cred, char *errstr, size_t size)
{
    memset(cred, 0, sizeof(*cred));
    cred->uid = geteuid();
    cred->gid = getegid();
    if (cred->uid != 0)
        return 0;
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(PGENV_OS_ACCOUNT, &pw, buf, sizeof(buf), &found) != 0 || !found)
        return dbev_seterr(errstr, size,
                           "running as root and there is no '%s' account to run PostgreSQL "
                           "(initdb refuses root): install the Debian package postgresql, which "
                           "creates it, or run as an unprivileged user",
                           PGENV_OS_ACCOUNT);
    cred->switch_user = true;
    cred->uid = pw.pw_uid;
    cred->gid = pw.pw_gid;
    return 0;
}

/* Closes every descriptor >= from except keep. Async-signal-safe. */
static void close_from(int from, int keep)
{
#ifdef SYS_close_range
    if ((keep <= from || syscall(SYS_close_range, (unsigned)from, (unsigned)keep - 1, 0) == 0) &&
        syscall(SYS_close_range, (unsigned)(keep >= from ? keep + 1 : from), ~0U, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = from; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

/* What failed in the child before exec, reported through the status pipe. */
enum { STAGE_SETUP = 1, STAGE_USER, STAGE_CWD, STAGE_EXEC };

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(char *const argv[], const pgenv_cred_t *cred, const char *cwd, int out_fd,
                       bool new_session, int err_pipe)
{
    int report[2] = {STAGE_SETUP, 0};
    if (new_session && setsid() < 0)
        report[1] = errno;
    int null_fd = open("/dev/null", O_RDWR);
    if (!report[1] && null_fd < 0)
        report[1] = errno;
    if (!report[1] && (dup2(null_fd, 0) < 0 || dup2(out_fd >= 0 ? out_fd : null_fd, 1) < 0 ||
                       dup2(out_fd >= 0 ? out_fd : null_fd, 2) < 0))
        report[1] = errno;
    if (!report[1] && cred && cred->switch_user) {
        gid_t gid = cred->gid;
        report[0] = STAGE_USER;
        if (setgroups(1, &gid) < 0 || setgid(cred->gid) < 0 || setuid(cred->uid) < 0)
            report[1] = errno;
    }
    if (!report[1] && cwd) {
        report[0] = STAGE_CWD;
        if (chdir(cwd) < 0)
            report[1] = errno;
    }
    if (!report[1]) {
        /* Keep only 0-2 and the exec-status pipe (close-on-exec): a server
         * holding a copy of, say, ctest's output pipe would keep ctest waiting. */
        close_from(3, err_pipe);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            sigaction(sig, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        report[0] = STAGE_EXEC;
        execve(argv[0], argv, environ);
        report[1] = errno;
    }
    ssize_t ignored = write(err_pipe, report, sizeof(report));
    (void)ignored;
    _exit(127);
}

pid_t pgenv_spawn(char *const argv[], const pgenv_cred_t *cred, const char *cwd,
                  const char *out_path, bool new_session, char *errstr, size_t size)
{
    int out_fd = -1;
    if (out_path) {
        out_fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0)
            return dbev_seterr(errstr, size, "cannot open %s: %s", out_path, strerror(errno));
    }
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        if (out_fd >= 0)
            close(out_fd);
        return dbev_seterr(errstr, size, "pipe: %s", strerror(errno));
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        child_exec(argv, cred, cwd, out_fd, new_session, pipefd[1]);
    }
    int fork_errno = errno;
    close(pipefd[1]);
    if (out_fd >= 0)
        close(out_fd);
    if (pid < 0) {
        close(pipefd[0]);
        return dbev_seterr(errstr, size, "fork: %s", strerror(fork_errno));
    }
    int report[2] = {0, 0};
    ssize_t n;
    do {
        n = read(pipefd[0], report, sizeof(report));
    } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n != (ssize_t)sizeof(report))
        return pid; /* the pipe closed on exec: running */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    const char *as = cred && cred->switch_user ? " as " PGENV_OS_ACCOUNT : "";
    bool denied = cred && cred->switch_user && report[1] == EACCES;
    switch (report[0]) {
    case STAGE_USER:
        return dbev_seterr(errstr, size, "cannot switch to the %s account: %s", PGENV_OS_ACCOUNT,
                           strerror(report[1]));
    case STAGE_CWD:
        return dbev_seterr(errstr, size, "cannot enter %s%s: %s%s", cwd, as, strerror(report[1]),
                           denied ? " (running as root: the " PGENV_OS_ACCOUNT
                                    " account must be able to reach it; pass another --tmp-dir)"
                                  : "");
    case STAGE_EXEC:
        return dbev_seterr(errstr, size, "cannot run %s%s: %s%s", argv[0], as, strerror(report[1]),
                           denied ? " (running as root: the " PGENV_OS_ACCOUNT
                                    " account must be able to run it; pass another --pg-bin)"
                                  : "");
    default:
        return dbev_seterr(errstr, size, "cannot start %s: %s", argv[0], strerror(report[1]));
    }
}

int pgenv_run(char *const argv[], const pgenv_cred_t *cred, const char *cwd, const char *out_path,
              int slot, char *errstr, size_t size)
{
    pid_t pid = pgenv_spawn(argv, cred, cwd, out_path, false, errstr, size);
    if (pid < 0)
        return -1;
    pgenv_reg_set_helper(slot, pid);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            pgenv_reg_set_helper(slot, 0);
            return dbev_seterr(errstr, size, "waitpid: %s", strerror(errno));
        }
    }
    pgenv_reg_set_helper(slot, 0);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int pgenv_capture(char *const argv[], char *out, size_t out_size)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        if (null_fd >= 0)
            dup2(null_fd, 0);
        dup2(pipefd[1], 1);
        if (null_fd >= 0)
            dup2(null_fd, 2);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        char buf[512];
        ssize_t n = read(pipefd[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t take = (size_t)n;
        if (out_size > 0 && len + take > out_size - 1)
            take = out_size - 1 - len;
        memcpy(out + len, buf, take);
        len += take;
    }
    if (out_size > 0)
        out[len] = '\0';
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void pgenv_log_problem(const char *path, long from, char *out, size_t out_size, bool *addr_in_use)
{
    out[0] = '\0';
    if (addr_in_use)
        *addr_in_use = false;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (from > 0)
        fseek(f, from, SEEK_SET);
    char line[1024], last[1024] = "";
    bool have_problem = false;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (addr_in_use && strstr(line, "Address already in use"))
            *addr_in_use = true;
        if (strstr(line, "FATAL:") || strstr(line, "PANIC:") || strstr(line, "error:")) {
            snprintf(out, out_size, "%s", line);
            have_problem = true;
        }
        snprintf(last, sizeof(last), "%s", line);
    }
    fclose(f);
    if (!have_problem)
        snprintf(out, out_size, "%s", last);
}

/* ---- async-signal-safe removal ---- */

struct linux_dirent64_ {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static bool is_dot(const char *name)
{
    return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int rm_at(int dirfd, const char *name, int depth)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if ((errno != EISDIR && errno != EPERM) || depth > 64)
        return -1;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    /* Entries are removed while reading, so read again from the start until
     * only . and .. remain, or a pass removes nothing. */
    for (;;) {
        char buf[4096] __attribute__((aligned(8)));
        int removed = 0, remaining = 0;
        if (lseek(fd, 0, SEEK_SET) < 0)
            break;
        for (;;) {
            long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
            if (n <= 0)
                break;
            for (long off = 0; off < n;) {
                struct linux_dirent64_ *de = (struct linux_dirent64_ *)(buf + off);
                off += de->d_reclen;
                if (is_dot(de->d_name))
                    continue;
                if (rm_at(fd, de->d_name, depth + 1) == 0)
                    removed++;
                else
                    remaining++;
            }
        }
        if (remaining == 0 || removed == 0)
            break;
    }
    close(fd);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

int pgenv_rm_rf(const char *path)
{
    return rm_at(AT_FDCWD, path, 0);
}

/* ---- processes ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The state letter of /proc/pid/stat ('Z' zombie), or 0 when unreadable. */
static char proc_state(pid_t pid)
{
    char path[64];
    char buf[512];
    /* snprintf is not async-signal-safe: build the path by hand. */
    char digits[16];
    int nd = 0;
    for (unsigned v = (unsigned)pid; v > 0 && nd < 15; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    size_t len = 0;
    const char *pre = "/proc/";
    while (*pre)
        path[len++] = *pre++;
    while (nd > 0)
        path[len++] = digits[--nd];
    const char *post = "/stat";
    while (*post)
        path[len++] = *post++;
    path[len] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) S ...": comm may hold spaces and parens, take the last ')'. */
    char *rp = NULL;
    for (char *p = buf; *p; p++)
        if (*p == ')')
            rp = p;
    return rp && rp[1] == ' ' ? rp[2] : 0;
}

bool pgenv_pid_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    char state = proc_state(pid);
    return state != 'Z' && state != 'X';
}

/* Waits up to timeout_ms for pid to be gone; reaps it when it is our child. */
static bool wait_gone(pid_t pid, int timeout_ms)
{
    for (int waited = 0;; waited++) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid)
            return true;
        if (!pgenv_pid_alive(pid))
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(1);
    }
}

int pgenv_kill_wait(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, sig) < 0 && errno == ESRCH) {
        waitpid(pid, NULL, WNOHANG);
        return 0;
    }
    if (wait_gone(pid, timeout_ms))
        return 0;
    kill(pid, SIGKILL);
    return wait_gone(pid, 10000) ? 0 : -1;
}

unsigned long long pgenv_pid_starttime(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp)
        return 0;
    /* Fields after comm start with field 3 (state); starttime is field 22. */
    char *p = rp + 2;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

int pgenv_marker_write(const char *dir, bool keep)
{
    char path[PGENV_PATH_SIZE], tmp[PGENV_PATH_SIZE];
    pgenv_path(path, sizeof(path), dir, PGENV_MARKER);
    snprintf(tmp, sizeof(tmp), "%s/" PGENV_MARKER ".tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "dbev-pgenv\npid=%d\nstart=%llu\n%s", (int)getpid(), pgenv_pid_starttime(getpid()),
            keep ? "keep\n" : "");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* ---- trees ---- */

int pgenv_mkdir_p(const char *path)
{
    char buf[PGENV_PATH_SIZE];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int copy_file(const char *from, const char *to, const struct stat *st, char *errstr,
                     size_t size)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return dbev_seterr(errstr, size, "cannot read %s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0) {
        int e = errno;
        close(in);
        return dbev_seterr(errstr, size, "cannot create %s: %s", to, strerror(e));
    }
    off_t left = st->st_size;
    int rc = 0;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
            char buf[65536];
            n = read(in, buf, sizeof(buf));
            if (n > 0 && write(out, buf, (size_t)n) != n)
                n = -1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = dbev_seterr(errstr, size, "cannot copy %s to %s: %s", from, to,
                             n == 0 ? "unexpected end of file" : strerror(errno));
            break;
        }
        left -= n;
    }
    if (rc == 0 && geteuid() == 0 && fchown(out, st->st_uid, st->st_gid) < 0)
        rc = dbev_seterr(errstr, size, "cannot chown %s: %s", to, strerror(errno));
    if (rc == 0 && fchmod(out, st->st_mode & 07777) < 0)
        rc = dbev_seterr(errstr, size, "cannot chmod %s: %s", to, strerror(errno));
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = dbev_seterr(errstr, size, "cannot write %s: %s", to, strerror(errno));
    return rc;
}

int pgenv_copy_tree(const char *from, const char *to, char *errstr, size_t size)
{
    struct stat st;
    if (lstat(from, &st) < 0)
        return dbev_seterr(errstr, size, "cannot read %s: %s", from, strerror(errno));
    if (S_ISLNK(st.st_mode)) {
        char target[PGENV_PATH_SIZE];
        ssize_t n = readlink(from, target, sizeof(target) - 1);
        if (n < 0)
            return dbev_seterr(errstr, size, "cannot read %s: %s", from, strerror(errno));
        target[n] = '\0';
        if (symlink(target, to) < 0)
            return dbev_seterr(errstr, size, "cannot create %s: %s", to, strerror(errno));
        if (geteuid() == 0 && lchown(to, st.st_uid, st.st_gid) < 0)
            return dbev_seterr(errstr, size, "cannot chown %s: %s", to, strerror(errno));
        return 0;
    }
    if (S_ISREG(st.st_mode))
        return copy_file(from, to, &st, errstr, size);
    if (!S_ISDIR(st.st_mode))
        return 0; /* sockets, fifos: nothing a cluster template needs */
    if (mkdir(to, 0700) < 0)
        return dbev_seterr(errstr, size, "cannot create %s: %s", to, strerror(errno));
    DIR *d = opendir(from);
    if (!d)
        return dbev_seterr(errstr, size, "cannot read %s: %s", from, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (is_dot(de->d_name))
            continue;
        char a[PGENV_PATH_SIZE], b[PGENV_PATH_SIZE];
        snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
        rc = pgenv_copy_tree(a, b, errstr, size);
    }
    closedir(d);
    if (rc == 0 && geteuid() == 0 && chown(to, st.st_uid, st.st_gid) < 0)
        rc = dbev_seterr(errstr, size, "cannot chown %s: %s", to, strerror(errno));
    if (rc == 0 && chmod(to, st.st_mode & 07777) < 0)
        rc = dbev_seterr(errstr, size, "cannot chmod %s: %s", to, strerror(errno));
    return rc;
}

int pgenv_chown_tree(const char *path, uid_t uid, gid_t gid, char *errstr, size_t size)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return dbev_seterr(errstr, size, "cannot read %s: %s", path, strerror(errno));
    if (lchown(path, uid, gid) < 0)
        return dbev_seterr(errstr, size, "cannot give %s to uid %d: %s", path, (int)uid,
                           strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return dbev_seterr(errstr, size, "cannot read %s: %s", path, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (is_dot(de->d_name))
            continue;
        char child[PGENV_PATH_SIZE];
        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        rc = pgenv_chown_tree(child, uid, gid, errstr, size);
    }
    closedir(d);
    return rc;
}
