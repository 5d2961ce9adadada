/*
 * Finding and loading scenario files: the part of selecting scenarios that
 * `run` and `gate` share. A path is a scenario file or a folder whose
 * *.yaml, *.yml and *.json files are taken in name order; without a path,
 * the default folder is $DBEV_SCENARIOS_DIR or the source tree's
 * scenarios/. Each command keeps only its own rule of which scenarios to
 * take (tags, phases).
 */
#ifndef HARNESS_SCENARIO_FILES_H
#define HARNESS_SCENARIO_FILES_H

#include "scenario/scenario.h"

#include <stdbool.h>
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

/** The scenarios a command selected, and the files it read to find them. */
typedef struct scenario_selection {
    char **files; /* every scenario file found */
    size_t n_files, cap;
    scenario_t **scenarios; /* the selected ones, loaded */
    size_t n;
} scenario_selection_t;

/** Whether a command takes a loaded scenario. */
typedef bool (*scenario_keep_fn)(const scenario_t *sc, const void *opaque);

/**
 * @brief Collects the scenario files of paths (the default folder when
 *        npaths is 0), loads every one of them, and keeps the scenarios
 *        keep() takes. Every file must load: a suite half read runs nothing.
 * @returns 0 (maybe with nothing selected), or -1 with errstr naming the
 *          path or file. *sel is filled either way: free it with
 *          scenario_selection_free().
 */
int scenario_select(const char *const *paths, size_t npaths, scenario_keep_fn keep,
                    const void *opaque, scenario_selection_t *sel, char *errstr, size_t size);

/** Frees what scenario_select() filled in; the struct itself is the caller's. */
void scenario_selection_free(scenario_selection_t *sel);

#endif
