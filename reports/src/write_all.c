/*
 * Writes every format of a report into one directory, the layout the
 * harness's --out option promises: report.xml, report.json, summary.md,
 * report.html. The directory and its parents are created when missing.
 */
#include "report_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p: creates dir and every missing parent. */
static int make_dirs(const char *dir, char *errstr, size_t size)
{
    char *path = strdup(dir);
    if (!path)
        return dbev_seterr(errstr, size, "out of memory");
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            dbev_seterr(errstr, size, "cannot create directory %s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);
    return 0;
}

int dbev_report_write_all(const dbev_report_t *report, const char *dir, char *errstr, size_t size)
{
    static const struct {
        const char *name;
        int (*write)(const dbev_report_t *, const char *, char *, size_t);
    } outputs[] = {
        {"report.xml", dbev_report_write_junit},
        {"report.json", dbev_report_write_json},
        {"summary.md", dbev_report_write_markdown},
        {"report.html", dbev_report_write_html},
    };
    if (!dir || !*dir)
        return dbev_seterr(errstr, size, "no report directory given");
    if (make_dirs(dir, errstr, size) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
        size_t n = strlen(dir) + strlen(outputs[i].name) + 2;
        char *path = malloc(n);
        if (!path)
            return dbev_seterr(errstr, size, "out of memory");
        snprintf(path, n, "%s/%s", dir, outputs[i].name);
        int rc = outputs[i].write(report, path, errstr, size);
        free(path);
        if (rc != 0)
            return -1;
    }
    return 0;
}
