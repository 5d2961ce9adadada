/*
 * trace: the reproduction bundle's record of every event a scenario
 * exchanged. At teardown the scenario's request, completed and failed topics
 * are read back from the cluster (they hold everything the scenario sent and
 * every answer) and written as JSON lines, one per event, in time order:
 *   {"t_ms": ..., "topic": "requested", "partition": 2, "offset": 17,
 *    "correlation_id": "...", "event": {...}}   (or "bytes": "..." when the
 *    event is not JSON, as bad-input scenarios send; a request that is JSON
 *    but whose bytes its compact form does not give back has both;
 *    "bytes_hex" instead of "bytes" when they are not UTF-8)
 * The first line is the header, {"header": {...}}: what replay needs to
 * rebuild the scenario's world (trace_header() in run.c writes it: scenario
 * path and name, seed, fixtures, the migrations' key, setup_sql, the
 * adapters' count and settings, topic prefix, database, Kafka settings).
 * The sql: steps run on the scenario's database are lines too, in order:
 *   {"t_ms": ..., "t_us": ..., "topic": "sql", "step": {"sql": ..., "params": [...]}}
 * so that a replay sets up the same state at the same point.
 * The breaker states the adapter reported in its answers give the run's
 * breaker timeline. A scenario with a load step that passed is not traced
 * (run_scenario.c says why), so its answers are not in that timeline.
 */
#ifndef HARNESS_TRACE_H
#define HARNESS_TRACE_H

#include "scenario/runctx.h"

#include <stddef.h>

/**
 * @brief Writes the scenario's events to path and adds the adapter's breaker
 *        transitions (as its answers reported them) to the run's report.
 * @param run_started_wall_us wall clock of the run's start, for the timeline.
 * @returns the number of events written, or -1 with errstr.
 */
long trace_dump(runctx_t *ctx, const char *bootstrap, const json_t *header, const char *path,
                int64_t run_started_wall_us, char *errstr, size_t size);

/** Notes a sql: step's body (variables substituted) run on ctx's own
 *  database, for the trace. Thread-safe (parallel branches). */
void trace_note_sql(runctx_t *ctx, const json_t *body);

#endif
