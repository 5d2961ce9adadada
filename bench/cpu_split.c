/*
 * Per-thread and per-child CPU from /proc (see cpu_split.h). The children's
 * entry also holds the parent's own CPU and what it counted for the children
 * it reaped (cutime + cstime): a PostgreSQL backend or autovacuum worker that
 * ends between the snapshots moves its seconds from the live children's sum
 * to the postmaster's, instead of taking them out of the figure. Without it
 * PostgreSQL's share of a 100,000-request bench_adapter run read 36-39 % of
 * a core against 72-74 % for 50,000.
 */
#include "cpu_split.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* utime+stime of a /proc/.../stat file in seconds; its name and parent too,
 * and (reaped != NULL) the CPU of its children it has waited for. */
static int read_stat(const char *path, char *name, size_t size, pid_t *ppid, double *seconds,
                     double *reaped)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char buf[1024];
    size_t len = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    /* the name is in parentheses and may hold spaces: fields follow the last ')' */
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open)
        return -1;
    size_t nlen = (size_t)(close - open - 1);
    if (nlen >= size)
        nlen = size - 1;
    memcpy(name, open + 1, nlen);
    name[nlen] = '\0';
    char state;
    int parent;
    unsigned long utime, stime;
    long cutime, cstime;
    if (sscanf(close + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &state,
               &parent, &utime, &stime, &cutime, &cstime) != 6)
        return -1;
    double tick = (double)sysconf(_SC_CLK_TCK);
    *ppid = parent;
    *seconds = (double)(utime + stime) / tick;
    if (reaped)
        *reaped = (double)(cutime + cstime) / tick;
    return 0;
}

static void add(cpu_split_t *snap, const char *name, double seconds)
{
    for (int i = 0; i < snap->n; i++)
        if (!strcmp(snap->name[i], name)) {
            snap->seconds[i] += seconds;
            return;
        }
    if (snap->n == CPU_SPLIT_MAX)
        return;
    snprintf(snap->name[snap->n], sizeof(snap->name[0]), "%s", name);
    snap->seconds[snap->n++] = seconds;
}

void cpu_split_take(cpu_split_t *snap, pid_t parent, const char *child_label)
{
    memset(snap, 0, sizeof(*snap));
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], name[64];
        pid_t ppid;
        double s;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        if (!read_stat(path, name, sizeof(name), &ppid, &s, NULL))
            add(snap, name, s);
    }
    if (d)
        closedir(d);
    if (parent <= 0)
        return;
    char parent_stat[64], parent_name[64];
    pid_t grandparent;
    double own, reaped;
    snprintf(parent_stat, sizeof(parent_stat), "/proc/%d/stat", (int)parent);
    if (!read_stat(parent_stat, parent_name, sizeof(parent_name), &grandparent, &own, &reaped))
        add(snap, child_label, own + reaped);
    d = opendir("/proc");
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], name[64];
        pid_t ppid;
        double s;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        if (!read_stat(path, name, sizeof(name), &ppid, &s, NULL) && ppid == parent)
            add(snap, child_label, s);
    }
    if (d)
        closedir(d);
}

double cpu_split_total(const cpu_split_t *before, const cpu_split_t *after)
{
    /* Entry by entry, as cpu_split_print reads them: a thread that ended
     * between the snapshots is missing from after, and its seconds are not
     * taken from the others. */
    double total = 0;
    for (int i = 0; i < after->n; i++) {
        double was = 0;
        for (int j = 0; j < before->n; j++)
            if (!strcmp(before->name[j], after->name[i]))
                was = before->seconds[j];
        if (after->seconds[i] > was)
            total += after->seconds[i] - was;
    }
    return total;
}

void cpu_split_print(FILE *out, const char *prefix, const cpu_split_t *before,
                     const cpu_split_t *after, double wall_s)
{
    double share[CPU_SPLIT_MAX];
    int order[CPU_SPLIT_MAX];
    for (int i = 0; i < after->n; i++) {
        double was = 0;
        for (int j = 0; j < before->n; j++)
            if (!strcmp(before->name[j], after->name[i]))
                was = before->seconds[j];
        share[i] = wall_s > 0 ? (after->seconds[i] - was) * 100 / wall_s : 0;
        order[i] = i;
    }
    for (int i = 1; i < after->n; i++) /* insertion sort, busiest first */
        for (int j = i; j > 0 && share[order[j]] > share[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fputs(prefix, out);
    for (int k = 0; k < after->n; k++)
        if (share[order[k]] >= 0.5)
            fprintf(out, "%s %s %.0f%%", k ? "," : "", after->name[order[k]], share[order[k]]);
    fputc('\n', out);
}
