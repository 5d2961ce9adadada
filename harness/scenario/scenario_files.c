/*
 * Finding scenario files for `run` and `gate` (scenario_files.h): a file as
 * given, or a folder's scenario files sorted by name so that runs are in the
 * same order everywhere; and loading them, keeping what the command selects.
 */
#include "scenario/scenario_files.h"

#include "dbev_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *scenario_files_default_dir(void)
{
    const char *dir = getenv("DBEV_SCENARIOS_DIR");
    return dir && *dir ? dir : DBEV_SOURCE_DIR "/scenarios";
}

static bool is_scenario_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' &&
           ((n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 4 && !strcmp(name + n - 4, ".yml")) ||
            (n > 5 && !strcmp(name + n - 5, ".json")));
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int append(char ***files, size_t *n, size_t *cap, char *name)
{
    if (!name)
        return -1;
    if (*n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 16;
        char **grown = realloc(*files, grown_cap * sizeof(char *));
        if (!grown) {
            free(name);
            return -1;
        }
        *files = grown;
        *cap = grown_cap;
    }
    (*files)[(*n)++] = name;
    return 0;
}

int scenario_files_collect(const char *path, char ***files, size_t *n, size_t *cap, char *errstr,
                           size_t size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return dbev_seterr(errstr, size, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return append(files, n, cap, strdup(path)) == 0
                   ? 0
                   : dbev_seterr(errstr, size, "%s: out of memory", path);
    DIR *dir = opendir(path);
    if (!dir)
        return dbev_seterr(errstr, size, "%s: %s", path, strerror(errno));
    size_t first = *n;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (!is_scenario_file(de->d_name))
            continue;
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *name = malloc(len);
        if (name)
            snprintf(name, len, "%s/%s", path, de->d_name);
        if (append(files, n, cap, name) != 0)
            rc = dbev_seterr(errstr, size, "%s: out of memory", path);
    }
    closedir(dir);
    if (*n > first)
        qsort(*files + first, *n - first, sizeof(char *), compare_names);
    return rc;
}

void scenario_files_free(char **files, size_t n)
{
    for (size_t i = 0; files && i < n; i++)
        free(files[i]);
    free(files);
}

int scenario_select(const char *const *paths, size_t npaths, scenario_keep_fn keep,
                    const void *opaque, scenario_selection_t *sel, char *errstr, size_t size)
{
    int rc = 0;
    memset(sel, 0, sizeof(*sel));
    if (npaths == 0)
        rc = scenario_files_collect(scenario_files_default_dir(), &sel->files, &sel->n_files,
                                    &sel->cap, errstr, size);
    for (size_t i = 0; i < npaths && rc == 0; i++)
        rc = scenario_files_collect(paths[i], &sel->files, &sel->n_files, &sel->cap, errstr, size);

    /* Every file is loaded and checked before anything runs. */
    sel->scenarios = calloc(sel->n_files + 1, sizeof(*sel->scenarios));
    for (size_t i = 0; i < sel->n_files && rc == 0; i++) {
        scenario_t *sc = scenario_load(sel->files[i], errstr, size);
        if (!sc)
            rc = -1;
        else if (keep(sc, opaque))
            sel->scenarios[sel->n++] = sc;
        else
            scenario_destroy(sc);
    }
    return rc;
}

void scenario_selection_free(scenario_selection_t *sel)
{
    for (size_t i = 0; i < sel->n; i++)
        scenario_destroy(sel->scenarios[i]);
    free(sel->scenarios);
    scenario_files_free(sel->files, sel->n_files);
    memset(sel, 0, sizeof(*sel));
}
