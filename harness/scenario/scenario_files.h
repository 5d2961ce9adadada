/*
 * Finding scenario files: the part of selecting scenarios that `run` and
 * `gate` share. A path is a scenario file or a folder whose *.yaml, *.yml and
 * *.json files are taken in name order; without a path, the default folder
 * is $DBEV_SCENARIOS_DIR or the source tree's scenarios/.
 */
#ifndef HARNESS_SCENARIO_FILES_H
#define HARNESS_SCENARIO_FILES_H

#include <stddef.h>

/** The folder read when no path is given (borrowed: the environment or a constant). */
const char *scenario_files_default_dir(void);

/**
 * @brief Appends the scenario files of path to *files (grown with realloc;
 *        *n entries used of *cap).
 * @returns 0, or -1 with errstr set ("path: reason").
 * @remark Each appended name is malloc'd; free the list with
 *         scenario_files_free().
 */
int scenario_files_collect(const char *path, char ***files, size_t *n, size_t *cap, char *errstr,
                           size_t size);

/** Frees a list filled by scenario_files_collect(); NULL is a no-op. */
void scenario_files_free(char **files, size_t n);

#endif
