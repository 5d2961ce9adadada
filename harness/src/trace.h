/*
 * trace: the reproduction bundle's record of every event a scenario
 * exchanged. At teardown the scenario's request, completed and failed topics
 * are read back from the cluster (they hold everything the scenario sent and
 * every answer) and written as JSON lines, one per event, in time order:
 *   {"t_ms": ..., "topic": "requested", "partition": 2, "offset": 17,
 *    "correlation_id": "...", "event": {...}}   (or "bytes": "..." when the
 *    event is not JSON, as bad-input scenarios send)
 * The breaker states the adapter reported in its answers give the run's
 * breaker timeline.
 */
#ifndef HARNESS_TRACE_H
#define HARNESS_TRACE_H

#include "runctx.h"

#include <stddef.h>

/**
 * @brief Writes the scenario's events to path and adds the adapter's breaker
 *        transitions (as its answers reported them) to the run's report.
 * @param run_started_wall_us wall clock of the run's start, for the timeline.
 * @returns the number of events written, or -1 with errstr.
 */
long trace_dump(runctx_t *ctx, const char *bootstrap, const char *path, int64_t run_started_wall_us,
                char *errstr, size_t size);

#endif
