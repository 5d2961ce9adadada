/*
 * The adapter supervisor: the dbev adapters a scenario runs against, and the
 * adapter faults scenarios inject into them. One adapters_t per scenario
 * holds `count` instances of one consumer group on the scenario's topics:
 *   thread   - embedded dbev_adapter_t instances (dbev_adapter_start());
 *   process  - children running DBEV_BUILD_DIR/bin/dbev-adapter (or
 *              $DBEV_ADAPTER_BIN) with -X settings, killed with the harness
 *              (PR_SET_PDEATHSIG) and at teardown; the kill/stop/restart
 *              faults need this mode;
 *   external - nothing started: an adapter already listens on the Kafka
 *              cluster (e.g. the original service); faults are refused.
 * Several instances share one consumer group, and a restarted one joins it
 * again, so the group rebalances as it would in production. A lone
 * instance takes every partition without joining (consumer.assignment=all,
 * committing to the scenario's own group id; DBEV_FAST_ASSIGN=0: the group
 * join instead). The adapter reads requests without a committed offset
 * from the earliest, so requests produced before an instance started are
 * answered.
 *
 * Also here: the scenario features `requires:` names (features.c) and the
 * reverting of faults a scenario left applied (step_fault.c).
 *
 * Thread safety: one adapters_t may be driven from several threads (a fault
 * in a parallel branch); its calls serialise on an internal lock. Children
 * are forked from a thread the supervisor owns, so a child outlives the
 * thread that asked for it (PR_SET_PDEATHSIG follows the forking thread).
 */
#ifndef HARNESS_ADAPTERS_H
#define HARNESS_ADAPTERS_H

#include "scenario/runctx.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ADAPTERS_MAX 16

typedef struct adapters_opts {
    adapter_mode_t mode;         /* runctx.h */
    int count;                   /* instances, one consumer group; 1..ADAPTERS_MAX */
    const char *bootstrap;       /* Kafka bootstrap */
    const char *topic_env;       /* topic prefix of the scenario */
    const char *conninfo;        /* libpq connection string of the scenario database */
    int breaker_recovery_ms;     /* 0: adapter default */
    const char *log_path;        /* process mode: children's stderr appended here; NULL: inherit */
    const char *const *extra;    /* NULL-terminated "key=value" adapter settings, or NULL */
    const dbev_logger_t *logger; /* thread mode: the adapters' log sink; borrowed, outlives a */
    bool mock;                   /* the mock cluster: its low-latency fetch profile (kprofile.h) */
} adapters_opts_t;

/**
 * @brief Starts the adapters (external mode: starts nothing). The settings
 *        given to each instance, in order (a later one wins):
 *        env.fallback=false, bootstrap.servers, topic.prefix, pg.conninfo,
 *        group.id=dbev-harness-<topic_env>, instance.id=<topic_env>-<index>,
 *        pool.min=1, shutdown.timeout.ms=10000, fast group membership
 *        (kafka.consumer.session.timeout.ms=3000, heartbeat 500 ms), the
 *        consumer fetch profile of opts->mock (kprofile.h), log.level from logger,
 *        breaker.recovery.timeout.ms when set, then opts->extra. The settings
 *        are checked here with the adapter's own table before anything starts.
 * @returns the supervisor for adapters_destroy(), or NULL with errstr; nothing
 *          is left running on failure.
 */
adapters_t *adapters_new(const adapters_opts_t *opts, char *errstr, size_t size);

/** Graceful stop (SIGTERM / dbev_adapter_stop), then reap; an instance that has
 *  not exited 15 s later is killed. Never leaves a child. NULL is a no-op.
 *  Also, as a safety net, reverts the faults of the runctx whose adapters
 *  these are when the runner has not called faults_revert() (that runctx
 *  must still be alive). */
void adapters_destroy(adapters_t *a);

/** Instances (running or not); 0 in external mode. */
int adapters_count(const adapters_t *a);

/** True in process mode: SIGKILL/SIGSTOP/SIGCONT/restart are real. */
bool adapters_supports_process_faults(const adapters_t *a);

/** The child's pid (process mode, while it has not been reaped), else 0. */
pid_t adapters_pid(const adapters_t *a, int index);

/** Whether instance index is running (process mode: not exited; stopped counts;
 *  thread mode: its loop has not returned). */
bool adapters_running(const adapters_t *a, int index);

/**
 * @brief Signals instance index. Process mode: SIGKILL waits until the child
 *        is dead and reaped; SIGTERM until it exited (SIGKILL after 15 s);
 *        SIGSTOP until it is stopped; SIGCONT resumes it. Thread mode: SIGKILL
 *        is dbev_adapter_abort() (a crash as far as Kafka and the database
 *        can tell), SIGTERM a graceful stop, both joined; SIGSTOP/SIGCONT are
 *        refused.
 * @returns 0, or -1 with errstr (external mode, bad index, not running,
 *          unsupported signal).
 */
int adapters_signal(adapters_t *a, int index, int sig, char *errstr, size_t size);

/**
 * @brief Starts instance index again with the same settings (same group,
 *        same instance id). One still running is first stopped gracefully
 *        (as with SIGTERM), so restart is also "restart a live adapter".
 * @returns 0, or -1 with errstr.
 */
int adapters_restart(adapters_t *a, int index, char *errstr, size_t size);

/**
 * @brief Sets ctx->adapter_mode and ctx->adapter_count for ctx's scenario:
 *        the run's options, raised to what the scenario requires (adapters
 *        as processes for process_adapter, two of them for multi_adapter),
 *        so that no scenario is skipped for lack of what the harness can
 *        start itself. An external adapter or the direct path stays as it
 *        is: those the harness cannot change.
 */
void runctx_plan_adapters(runctx_t *ctx);

/**
 * @brief Whether the environment of ctx has feature (a scenario's requires:).
 *        Call runctx_plan_adapters() first.
 *        Known features: process_adapter (--adapter process), mock_kafka
 *        (the in-process mock cluster, not --kafka-bootstrap), local_postgres
 *        (a throwaway server, not --pg-dsn), event_path (not --mode direct),
 *        own_adapter (thread or process: not external), multi_adapter
 *        (--adapters 2 or more).
 * @returns true, or false with why set to the reason (also for an unknown
 *          feature name, listing the known ones).
 */
bool runctx_has_feature(const runctx_t *ctx, const char *feature, char *why, size_t size);

/**
 * @brief Reverts what fault steps of ctx's scenario left applied: brokers
 *        up, round-trip times back to 0, pending request errors cleared,
 *        PostgreSQL started again (ctx->direct re-opened), table locks of
 *        `slow` released. The runner calls it at the end of every scenario
 *        (the mock cluster and the server are shared by the run), before
 *        adapters_destroy() and while ctx->direct is still open. A no-op when
 *        the scenario injected nothing.
 */
void faults_revert(runctx_t *ctx);

#endif
