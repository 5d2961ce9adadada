/*
 * cli_run (cli_run.h): fork/exec with output into an unlinked temp file, and
 * a wait on the child's pidfd with the deadline as poll(2)'s timeout, so the
 * test wakes when the child exits, not on a polling interval.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_run.h"
#include "test_timeout.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void cli_run(cli_result_t *r, char *const argv[], int deadline_s)
{
    char path[] = "/tmp/dbev-test-cli-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    assert_true(pidfd >= 0);
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    if (poll(&pfd, 1, test_ms(deadline_s * 1000)) == 0)
        kill(pid, SIGKILL); /* past its deadline: the test fails on the status */
    close(pidfd);
    int status = 0;
    waitpid(pid, &status, 0);
    ssize_t n = pread(fd, r->out, sizeof(r->out) - 1, 0);
    r->out[n > 0 ? n : 0] = '\0';
    close(fd);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
