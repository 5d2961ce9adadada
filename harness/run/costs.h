/*
 * Scenario costs: how long each scenario took the last time this build tree
 * ran it, so that -j workers start the longest first, as ctest does with
 * its CTestCostData.txt. In file order, a gate's longest scenarios (a 5.8 s
 * statement timeout, a 4.7 s registry TTL) started last and ran alone at
 * the end of the shared pass. A hint only: a missing or unreadable file
 * keeps file order, and nothing is judged on it.
 */
#ifndef HARNESS_COSTS_H
#define HARNESS_COSTS_H

#include "scenario/scenario.h"

#include <stddef.h>

/** Where the build tree keeps them: <build>/reports/scenario-costs.json. */
#define COSTS_PATH DBEV_BUILD_DIR "/reports/scenario-costs.json"

/**
 * @brief Fills order[0..n) with the indexes of scenarios, the costliest
 *        first by the file at path (seconds per scenario file); those it
 *        does not know keep their file order, after the known ones.
 */
void costs_order(const char *path, scenario_t *const *scenarios, size_t n, size_t *order);

/**
 * @brief Records took_s[i] (seconds; < 0: did not run) for each scenario in
 *        the file at path, keeping what it knows of others. Written to a
 *        temporary file and renamed, so a concurrent reader sees the old
 *        file or the new one; of two runs ending together one's figures may
 *        be lost, which costs only an ordering hint.
 */
void costs_record(const char *path, scenario_t *const *scenarios, size_t n, const double *took_s);

#endif
