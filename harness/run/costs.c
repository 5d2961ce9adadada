/* Scenario costs (see costs.h): a JSON object, scenario file -> seconds. */
#include "run/costs.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A scenario's key: its file's real path, the same whichever directory a
 * run names it from. */
static void key_of(const scenario_t *sc, char *buf, size_t size)
{
    char real[PATH_MAX];
    snprintf(buf, size, "%s", realpath(sc->path, real) ? real : sc->path);
}

typedef struct ranked {
    size_t index;
    double cost; /* < 0: unknown */
} ranked_t;

static int by_cost(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? 1 : -1; /* costliest first, unknown (-1) last */
    return x->index < y->index ? -1 : x->index > y->index;
}

void costs_order(const char *path, scenario_t *const *scenarios, size_t n, size_t *order)
{
    json_t *costs = json_load_file(path, 0, NULL);
    ranked_t *ranked = calloc(n ? n : 1, sizeof(*ranked));
    for (size_t i = 0; i < n; i++) {
        char key[PATH_MAX];
        key_of(scenarios[i], key, sizeof(key));
        const json_t *v = json_object_get(costs, key);
        ranked[i] = (ranked_t){i, json_is_number(v) ? json_number_value(v) : -1};
    }
    if (ranked)
        qsort(ranked, n, sizeof(*ranked), by_cost);
    for (size_t i = 0; i < n; i++)
        order[i] = ranked ? ranked[i].index : i;
    free(ranked);
    json_decref(costs);
}

void costs_record(const char *path, scenario_t *const *scenarios, size_t n, const double *took_s)
{
    json_t *costs = json_load_file(path, 0, NULL);
    if (!json_is_object(costs)) {
        json_decref(costs);
        costs = json_object();
    }
    for (size_t i = 0; i < n; i++) {
        if (took_s[i] < 0)
            continue;
        char key[PATH_MAX];
        key_of(scenarios[i], key, sizeof(key));
        json_object_set_new(costs, key, json_real(took_s[i]));
    }
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    if (json_dump_file(costs, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) == 0 && rename(tmp, path) != 0)
        unlink(tmp);
    json_decref(costs);
}
