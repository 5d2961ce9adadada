/*
 * The CPU time a request costs, read from /proc: the adapter process's own
 * threads (those named "dbev-", not librdkafka's "rdk:" ones, whose polling
 * costs time whether or not a request is in flight) and the PostgreSQL
 * backends that serve it. The latency probe records this work per request
 * (probe.cpu.*) beside its wall-clock figures. It is not judged: on a shared
 * 2-core virtual machine it drifts with the machine as the wall clock does
 * (+40-58 % on unchanged runs within ten minutes, docs/gates.md), likely
 * because much of a request's CPU time is waking threads on other CPUs.
 *
 * Times are nanoseconds on the CPU (/proc/<pid>/task/<tid>/schedstat, first
 * field), so they exclude time waiting for a core.
 */
#ifndef HARNESS_CPUWORK_H
#define HARNESS_CPUWORK_H

#include <libpq-fe.h>
#include <stdint.h>
#include <sys/types.h>

#define CPUWORK_MAX_BACKENDS 64

/** A reading: the adapter's threads and each backend's time so far. */
typedef struct cpuwork_snap {
    int64_t adapter_ns;
    int n_backends;
    struct {
        pid_t pid;
        int64_t ns;
    } backends[CPUWORK_MAX_BACKENDS];
} cpuwork_snap_t;

/**
 * @brief Reads the CPU time of adapter_pid's "dbev-" threads and of the
 *        backends of conn's database whose application_name is appname.
 * @param conn a connection to the database the adapter uses, as a role that
 *        sees every session's pid (the harness's superuser connection)
 * @returns 0, or -1 when /proc or pg_stat_activity could not be read.
 */
int cpuwork_read(pid_t adapter_pid, PGconn *conn, const char *appname, cpuwork_snap_t *out);

/** The CPU time spent between two readings, ns: the adapter's threads plus
 *  every backend of `after` (a backend absent from `before` counts from its
 *  start; one that ended between the two is lost, a rare pool change). */
int64_t cpuwork_delta_ns(const cpuwork_snap_t *before, const cpuwork_snap_t *after);

#endif
