/*
 * The helpers of util.h, and step_fail() of runctx.h: each was copied into
 * the files that needed it under a new name; one copy now, here, in a file
 * that links against nothing else of the harness.
 */
#include "util.h"

#include "runctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

int harness_make_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int step_fail(step_result_t *res, dbev_report_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    res->status = status;
    return 0;
}
