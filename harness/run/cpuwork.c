/*
 * CPU time of the adapter's threads and its PostgreSQL backends, from
 * /proc (cpuwork.h says why the probe measures it).
 */
#include "run/cpuwork.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first field of a schedstat file: ns on the CPU; -1 when unreadable. */
static int64_t schedstat_ns(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long ns = -1;
    if (fscanf(f, "%lld", &ns) != 1)
        ns = -1;
    fclose(f);
    return ns;
}

static int64_t adapter_threads_ns(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[400], comm[64] = "";
        snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread ended while we looked */
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = '\0';
        fclose(f);
        if (strncmp(comm, "dbev-", 5) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s/schedstat", dir, e->d_name);
        int64_t ns = schedstat_ns(path);
        if (ns > 0)
            sum += ns;
    }
    closedir(d);
    return sum;
}

int cpuwork_read(pid_t adapter_pid, PGconn *conn, const char *appname, cpuwork_snap_t *out)
{
    memset(out, 0, sizeof(*out));
    if ((out->adapter_ns = adapter_threads_ns(adapter_pid)) < 0)
        return -1;
    const char *params[] = {appname};
    PGresult *res = PQexecParams(conn,
                                 "SELECT pid FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND application_name = $1",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < PQntuples(res) && out->n_backends < CPUWORK_MAX_BACKENDS; i++) {
        pid_t pid = (pid_t)atoi(PQgetvalue(res, i, 0));
        char path[64], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof(comm), f))
                comm[0] = '\0';
            fclose(f);
        }
        /* Not a local postgres: the server is another machine's (--pg-dsn)
         * and this pid some other process of ours, or the backend is gone. */
        if (strncmp(comm, "postgres", 8) != 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
        int64_t ns = schedstat_ns(path);
        if (ns < 0)
            continue;
        out->backends[out->n_backends].pid = pid;
        out->backends[out->n_backends].ns = ns;
        out->n_backends++;
    }
    PQclear(res);
    return 0;
}

int64_t cpuwork_delta_ns(const cpuwork_snap_t *before, const cpuwork_snap_t *after)
{
    int64_t sum = after->adapter_ns - before->adapter_ns;

    for (int i = 0; i < after->n_backends; i++) {
        int64_t was = 0;
        for (int j = 0; j < before->n_backends; j++)
            if (before->backends[j].pid == after->backends[i].pid)
                was = before->backends[j].ns;
        sum += after->backends[i].ns - was;
    }
    return sum;
}
