/*
 * Loading and checking scenario files (see scenario.h, docs/scenarios.md).
 * Every check names the place in the file and, where there is one, the fix;
 * the first problem stops the load, so an author fixes one thing at a time.
 */
#include "scenario/scenario.h"

#include "dbev_common.h"
#include "scenario/expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[STEP__COUNT] = {"operation", "sql",  "until",    "fault",
                                                    "raw",       "load", "parallel", "registry"};

const char *step_kind_name(step_kind_t kind)
{
    return kind < STEP__COUNT ? kind_names[kind] : "unknown";
}

/* Step keys naming a protocol operation; "query" is seed 002's name for SELECT. */
static const struct {
    const char *key;
    dbev_op_t op;
} operation_keys[] = {
    {"query", DBEV_OP_SELECT},
    {"select", DBEV_OP_SELECT},
    {"insert", DBEV_OP_INSERT},
    {"update", DBEV_OP_UPDATE},
    {"delete", DBEV_OP_DELETE},
    {"upsert", DBEV_OP_UPSERT},
    {"execute", DBEV_OP_EXECUTE},
    {"transaction", DBEV_OP_TRANSACTION},
    {"batch_insert", DBEV_OP_BATCH_INSERT},
    {"health", DBEV_OP_HEALTH},
};
#define N_OPERATION_KEYS (sizeof(operation_keys) / sizeof(operation_keys[0]))

/* Keys a step may carry besides its kind. */
static const char *const step_keys[] = {"name",           "expect", "save",    "timeout_ms",
                                        "interval_ms",    "parity", "hostile", "repeat",
                                        "start_after_ms", NULL};

static const char *const load_expect_keys[] = {"min_throughput",
                                               "p50_ms",
                                               "p90_ms",
                                               "p95_ms",
                                               "p99_ms",
                                               "max_error_rate",
                                               "no_loss",
                                               "error_codes",
                                               "slowest_ms_at_least",
                                               NULL};

typedef struct loader {
    const yamlj_doc_t *doc;
    char *errstr;
    size_t size;
} loader_t;

/* Errors point at the value's file:line:column (yamlj_fail_at()). */
#define fail_at(ld, at, ...) yamlj_fail_at((ld)->doc, (at), (ld)->errstr, (ld)->size, __VA_ARGS__)

static bool in_list(const char *key, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(key, list[i]) == 0)
            return true;
    return false;
}

int scenario_operation_key(const char *key, dbev_op_t *op)
{
    for (size_t i = 0; i < N_OPERATION_KEYS; i++)
        if (strcmp(key, operation_keys[i].key) == 0) {
            *op = operation_keys[i].op;
            return 0;
        }
    return -1;
}

/* branch: the step is one of a parallel step's branches (start_after_ms). */
static int load_step(loader_t *ld, const json_t *node, size_t index, bool branch, step_t *step);

/* rounds: {count: N, steps: [...]}: N copies of those steps in order, each
 * copy its own step (its name and place say which round). A latency probe
 * interleaves its kinds of request in many short rounds so that each is
 * measured in the same seconds as the others (scenarios/perf_probe.yaml),
 * without N copies in the file. The steps inside are operation and sql
 * steps: a copy shares its document nodes, and nothing it owns but its name. */
#define ROUNDS_MAX 1000
static int rounds_count(loader_t *ld, const json_t *node, const json_t **steps)
{
    const json_t *body = json_object_get(node, "rounds");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)node, key, value)
    {
        if (strcmp(key, "rounds") != 0)
            return fail_at(ld, value,
                           "a rounds step has only its rounds key: move '%s' into "
                           "one of its steps",
                           key);
    }
    json_object_foreach((json_t *)body, key, value)
    {
        if (strcmp(key, "count") != 0 && strcmp(key, "steps") != 0)
            return fail_at(ld, value, "rounds takes count and steps, not '%s'", key);
    }
    const json_t *count = json_object_get(body, "count");
    *steps = json_object_get(body, "steps");
    if (!json_is_integer(count) || json_integer_value(count) < 1 ||
        json_integer_value(count) > ROUNDS_MAX)
        return fail_at(ld, count ? count : body,
                       "rounds: count must be a whole number from 1 to %d", ROUNDS_MAX);
    if (!json_is_array(*steps) || json_array_size(*steps) == 0)
        return fail_at(ld, *steps ? *steps : body, "rounds: steps must be a non-empty list");
    return (int)json_integer_value(count);
}

/* branches: the steps are a parallel step's, not a list run in order. */
static int load_steps(loader_t *ld, const json_t *array, bool branches, step_t **out, size_t *n_out)
{
    if (!json_is_array(array) || json_array_size(array) == 0)
        return fail_at(ld, array, "steps must be a non-empty list");
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(array); i++) {
        const json_t *node = json_array_get(array, i), *inner;
        int rounds = 1;
        if (json_is_object(node) && json_object_get(node, "rounds") &&
            (rounds = rounds_count(ld, node, &inner)) < 0)
            return -1;
        n += json_is_object(node) && json_object_get(node, "rounds")
                 ? (size_t)rounds * json_array_size(inner)
                 : 1;
    }
    step_t *steps = calloc(n, sizeof(*steps));
    if (!steps)
        return fail_at(ld, array, "out of memory");
    *out = steps;
    *n_out = 0;
    for (size_t i = 0; i < json_array_size(array); i++) {
        const json_t *node = json_array_get(array, i), *inner;
        if (!json_is_object(node) || !json_object_get(node, "rounds")) {
            if (load_step(ld, node, i, branches, &steps[*n_out]) != 0)
                return -1;
            (*n_out)++;
            continue;
        }
        int rounds = rounds_count(ld, node, &inner);
        size_t first = *n_out;
        for (size_t j = 0; j < json_array_size(inner); j++) {
            step_t *step = &steps[(*n_out)++];
            if (load_step(ld, json_array_get(inner, j), j, false, step) != 0)
                return -1;
            if (step->kind != STEP_OPERATION && step->kind != STEP_SQL)
                return fail_at(ld, json_array_get(inner, j),
                               "rounds: only operation and sql steps repeat in rounds");
        }
        /* Copies first, from the steps as loaded; the originals become
         * round 1 last, so every copy is named from the plain name. A copy
         * owns its name alone, so a failure halfway frees each name once. */
        size_t per_round = *n_out - first;
        *n_out = first + (size_t)rounds * per_round;
        for (int r = rounds; r >= 1; r--) {
            for (size_t j = 0; j < per_round; j++) {
                const step_t *plain = &steps[first + j];
                char *name = NULL, where[sizeof(plain->where)];
                if (asprintf(&name, "round %d of %d: %s", r, rounds, plain->name) < 0)
                    return fail_at(ld, node, "out of memory");
                snprintf(where, sizeof(where), "%.200s (round %d)", plain->where, r);
                step_t *step = &steps[first + (size_t)(r - 1) * per_round + j];
                if (r > 1)
                    *step = *plain;
                else
                    free(step->name);
                step->name = name;
                memcpy(step->where, where, sizeof(where));
            }
        }
    }
    return 0;
}

static int check_expect(loader_t *ld, step_t *step, const json_t *expect)
{
    if (!json_is_object(expect))
        return fail_at(ld, expect, "expect must be a mapping of expectations");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)expect, key, value)
    {
        if (step->kind == STEP_LOAD) {
            if (!in_list(key, load_expect_keys))
                return fail_at(ld, value,
                               "unknown load expectation '%s'; known: min_throughput, p50_ms, "
                               "p90_ms, p95_ms, p99_ms, max_error_rate, no_loss, error_codes",
                               key);
            continue;
        }
        if (strcmp(key, "latency_ms_max") == 0) {
            if (!json_is_number(value) || json_number_value(value) <= 0)
                return fail_at(ld, value, "latency_ms_max must be a positive number");
            step->max_latency_ms = json_number_value(value);
        } else if (!expectation_key_known(key)) {
            return fail_at(ld, value,
                           "unknown expectation '%s'; known: rows, rows_ordered, rows_include, "
                           "row_count, error_code, sqlstate, error_contains, error_type, "
                           "metadata, latency_ms_max",
                           key);
        }
    }
    return 0;
}

/* The body of an operation step: a mapping of payload fields, or for query and
 * execute just the SQL text. */
static int check_operation_body(loader_t *ld, const step_t *step, const char *key)
{
    if (step->op == DBEV_OP_HEALTH && (json_is_null(step->body) || json_is_object(step->body)))
        return 0;
    if ((step->op == DBEV_OP_SELECT || step->op == DBEV_OP_EXECUTE) && json_is_string(step->body))
        return 0;
    if (!json_is_object(step->body))
        return fail_at(ld, step->body, "%s: expected a mapping of the operation's fields%s", key,
                       step->op == DBEV_OP_SELECT || step->op == DBEV_OP_EXECUTE
                           ? " (or just the SQL text)"
                           : "");
    if (json_object_get(step->body, "operation_type"))
        return fail_at(ld, step->body, "%s: leave out operation_type, the step key sets it", key);
    return 0;
}

static int check_fault(loader_t *ld, const json_t *body)
{
    if (!json_is_object(body))
        return fail_at(ld, body, "fault: expected a mapping such as {postgres: stop}");
    int targets = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value)
    {
        if (!strcmp(key, "kafka") || !strcmp(key, "postgres") || !strcmp(key, "adapter")) {
            targets++;
            if (!json_is_string(value))
                return fail_at(ld, value, "fault %s: the action must be text, e.g. %s: %s", key,
                               key, !strcmp(key, "kafka") ? "broker_down" : "stop");
        }
    }
    if (targets != 1)
        return fail_at(ld, body, "fault: name exactly one of kafka, postgres or adapter");
    return 0;
}

static int load_step(loader_t *ld, const json_t *node, size_t index, bool branch, step_t *step)
{
    if (!json_is_object(node))
        return fail_at(ld, node, "a step must be a mapping with one kind key (sql, insert, ...)");
    int kinds = 0;
    const char *kind_key = NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)node, key, value)
    {
        dbev_op_t op;
        int is_kind = 1;
        if (scenario_operation_key(key, &op) == 0) {
            step->kind = STEP_OPERATION;
            step->op = op;
        } else if (!strcmp(key, "sql")) {
            step->kind = STEP_SQL;
        } else if (!strcmp(key, "until")) {
            step->kind = STEP_UNTIL;
        } else if (!strcmp(key, "fault")) {
            step->kind = STEP_FAULT;
        } else if (!strcmp(key, "raw")) {
            step->kind = STEP_RAW;
        } else if (!strcmp(key, "load")) {
            step->kind = STEP_LOAD;
        } else if (!strcmp(key, "parallel")) {
            step->kind = STEP_PARALLEL;
        } else if (!strcmp(key, "registry")) {
            step->kind = STEP_REGISTRY;
        } else if (in_list(key, step_keys)) {
            is_kind = 0;
        } else {
            return fail_at(ld, value,
                           "unknown step key '%s'; a step is one of query, insert, update, "
                           "delete, upsert, execute, transaction, batch_insert, health, sql, "
                           "until, fault, raw, load, parallel, registry",
                           key);
        }
        if (is_kind) {
            kinds++;
            kind_key = key;
            step->body = value;
        }
    }
    yamlj_where(ld->doc, node, step->where, sizeof(step->where));
    if (kinds != 1)
        return fail_at(ld, node,
                       kinds ? "a step has one kind; this one has %d (split it)"
                             : "this step has no kind key (sql, insert, ...)%.0d",
                       kinds);
    const json_t *name = json_object_get(node, "name");
    char made[64];
    snprintf(made, sizeof(made), "%zu-%s", index + 1, kind_key);
    step->name = strdup(json_is_string(name) ? json_string_value(name) : made);
    step->expect = json_object_get(node, "expect");
    step->save = json_object_get(node, "save");
    step->parity = json_object_get(node, "parity");
    if (step->parity && !json_is_object(step->parity))
        return fail_at(ld, step->parity, "parity must be a mapping, e.g. {ignore_columns: [id]}");
    const json_t *timeout = json_object_get(node, "timeout_ms");
    if (timeout) {
        if (!json_is_integer(timeout) || json_integer_value(timeout) <= 0)
            return fail_at(ld, timeout, "timeout_ms must be a positive whole number");
        step->timeout_ms = json_integer_value(timeout);
    }
    const json_t *hostile = json_object_get(node, "hostile");
    if (hostile && !json_is_boolean(hostile))
        return fail_at(ld, hostile,
                       "hostile must be true or false (true: counted as a hostile request)");
    step->hostile = json_is_true(hostile);
    /* repeat: N runs an operation N times in a row (a latency probe's
     * samples, scenarios/perf_probe.yaml) without N copies of the step. */
    const json_t *repeat = json_object_get(node, "repeat");
    step->repeat = 1;
    if (repeat) {
        if (!json_is_integer(repeat) || json_integer_value(repeat) < 1 ||
            json_integer_value(repeat) > 100000)
            return fail_at(ld, repeat, "repeat must be a whole number from 1 to 100000");
        if (step->kind != STEP_OPERATION)
            return fail_at(ld, repeat, "repeat: only an operation step repeats");
        step->repeat = (int)json_integer_value(repeat);
    }
    /* start_after_ms: a branch of a parallel step starts that much later
     * than its siblings, e.g. a fault in the middle of a load rather than
     * before the load's first request. */
    const json_t *after = json_object_get(node, "start_after_ms");
    if (after) {
        if (!branch)
            return fail_at(ld, after,
                           "start_after_ms: only a branch of a parallel step starts later "
                           "(steps in a list run one after the other)");
        if (!json_is_integer(after) || json_integer_value(after) < 0 ||
            json_integer_value(after) > 600000)
            return fail_at(ld, after, "start_after_ms must be a whole number from 0 to 600000");
        step->start_after_ms = json_integer_value(after);
    }
    if (step->save && !json_is_object(step->save))
        return fail_at(ld, step->save,
                       "save must map variable names to paths, e.g. {id: rows[0].id}");
    if (step->expect && check_expect(ld, step, step->expect) != 0)
        return -1;

    switch (step->kind) {
    case STEP_OPERATION:
        return check_operation_body(ld, step, kind_key);
    case STEP_SQL:
        if (json_is_string(step->body) ||
            (json_is_object(step->body) && json_is_string(json_object_get(step->body, "sql"))))
            return 0;
        return fail_at(ld, step->body, "sql: expected the SQL text, or {sql: ..., params: [...]}");
    case STEP_UNTIL: {
        /* until: {sql: ... | query: ..., expect: ..., timeout_ms: N, interval_ms: N} */
        if (!json_is_object(step->body))
            return fail_at(ld, step->body,
                           "until: expected a mapping with sql (or an "
                           "operation), expect and timeout_ms");
        const json_t *deadline = json_object_get(step->body, "timeout_ms");
        if (!json_is_integer(deadline) || json_integer_value(deadline) <= 0)
            return fail_at(ld, step->body,
                           "until: timeout_ms (a positive whole number) is "
                           "required: a condition is never waited on forever");
        step->timeout_ms = json_integer_value(deadline);
        /* The polled step is the until mapping itself: its kind key, expect and save. */
        step->children = calloc(1, sizeof(step_t));
        if (!step->children)
            return fail_at(ld, step->body, "out of memory");
        step->n_children = 1;
        if (load_step(ld, step->body, 0, false, &step->children[0]) != 0)
            return -1;
        if (step->children[0].kind != STEP_SQL && step->children[0].kind != STEP_OPERATION &&
            step->children[0].kind != STEP_REGISTRY)
            return fail_at(ld, step->body,
                           "until: the polled step must be sql, an operation or registry");
        return 0;
    }
    case STEP_FAULT:
        return check_fault(ld, step->body);
    case STEP_RAW:
        if (!json_is_object(step->body) ||
            (!json_object_get(step->body, "bytes") && !json_object_get(step->body, "json")))
            return fail_at(ld, step->body,
                           "raw: expected {bytes: \"...\"} or {json: {...}}, "
                           "optionally topic and expect");
        return 0;
    case STEP_LOAD:
        if (!json_is_object(step->body))
            return fail_at(ld, step->body,
                           "load: expected a mapping with rate, duration_s or "
                           "count, and an operation");
        if (!json_is_number(json_object_get(step->body, "rate")))
            return fail_at(ld, step->body, "load: rate (requests per second) is required");
        if (!json_object_get(step->body, "duration_s") && !json_object_get(step->body, "count") &&
            !json_object_get(step->body, "stress"))
            return fail_at(ld, step->body,
                           "load: give duration_s, count or stress (bounded by its "
                           "max_duration_s), so the load ends");
        return 0;
    case STEP_PARALLEL:
        return load_steps(ld, step->body, true, &step->children, &step->n_children);
    case STEP_REGISTRY: {
        /* registry: {service_name: N, service_type: T, status: S}, each optional */
        if (!json_is_object(step->body))
            return fail_at(ld, step->body,
                           "registry: expected a mapping (service_name, service_type, status; "
                           "each optional), e.g. registry: {service_name: "
                           "database-adapter-effect}");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)step->body, k, v)
        {
            if (strcmp(k, "service_name") && strcmp(k, "service_type") && strcmp(k, "status"))
                return fail_at(ld, v,
                               "registry: unknown key '%s' (service_name, service_type, "
                               "status)",
                               k);
            if (!json_is_string(v))
                return fail_at(ld, v, "registry: %s must be text", k);
        }
        return 0;
    }
    default:
        return 0;
    }
}

static void free_steps(step_t *steps, size_t n)
{
    for (size_t i = 0; steps && i < n; i++) {
        free(steps[i].name);
        free_steps(steps[i].children, steps[i].n_children);
    }
    free(steps);
}

void scenario_destroy(scenario_t *scenario)
{
    if (!scenario)
        return;
    free_steps(scenario->steps, scenario->n_steps);
    yamlj_doc_destroy(scenario->doc);
    free(scenario->path);
    free(scenario);
}

static const char *const header_keys[] = {
    "name",        "proves", "tags",    "phase", "fixtures",     "requires", "setup_sql",   "steps",
    "description", "client", "adapter", "paths", "teardown_sql", "canary",   "fingerprint", NULL};

/* canary: true, or {rate, max_latency_ms, timeout_ms, one operation}. */
static int load_canary(loader_t *ld, const json_t *node, scenario_canary_t *canary)
{
    canary->rate = CANARY_DEFAULT_RATE;
    canary->max_latency_ms = CANARY_DEFAULT_MAX_LATENCY_MS;
    canary->timeout_ms = CANARY_DEFAULT_TIMEOUT_MS;
    if (json_is_boolean(node)) {
        canary->on = json_is_true(node);
        return 0;
    }
    if (!json_is_object(node))
        return fail_at(ld, node,
                       "canary: true, or a mapping with rate, max_latency_ms, timeout_ms and "
                       "optionally one operation (insert: {...}, query: ...)");
    canary->on = true;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)node, key, value)
    {
        dbev_op_t op;
        if (!strcmp(key, "rate") || !strcmp(key, "max_latency_ms")) {
            double v = json_number_value(value);
            if (!json_is_number(value) || v <= 0 || (!strcmp(key, "rate") && v > 1000))
                return fail_at(ld, value, "canary.%s: a positive number%s", key,
                               !strcmp(key, "rate") ? " of requests per second, at most 1000"
                                                    : " of milliseconds");
            *(!strcmp(key, "rate") ? &canary->rate : &canary->max_latency_ms) = v;
        } else if (!strcmp(key, "timeout_ms")) {
            if (!json_is_integer(value) || json_integer_value(value) <= 0 ||
                json_integer_value(value) > 600000)
                return fail_at(ld, value, "canary.timeout_ms: a whole number of ms, 1..600000");
            canary->timeout_ms = (int)json_integer_value(value);
        } else if (scenario_operation_key(key, &op) == 0) {
            if (canary->body)
                return fail_at(ld, value, "canary: one operation only");
            if (!json_is_object(value) && !json_is_string(value))
                return fail_at(ld, value,
                               "canary.%s: the operation's fields as in a step (or the SQL text)",
                               key);
            canary->op = op;
            canary->body = value;
        } else {
            return fail_at(ld, value,
                           "unknown canary key '%s'; known: rate, max_latency_ms, timeout_ms and "
                           "one operation (insert, query, ...)",
                           key);
        }
    }
    if (canary->timeout_ms < canary->max_latency_ms)
        return fail_at(ld, node,
                       "canary: timeout_ms (%d) below max_latency_ms (%.0f): a slow answer "
                       "would show as a timeout, not as its latency",
                       canary->timeout_ms, canary->max_latency_ms);
    return 0;
}

/* fingerprint: true, or {allow: [patterns]}. */
static int load_fingerprint(loader_t *ld, const json_t *node, scenario_fingerprint_t *fp)
{
    if (json_is_boolean(node)) {
        fp->on = json_is_true(node);
        return 0;
    }
    const json_t *allow = json_object_get(node, "allow");
    if (!json_is_object(node) || json_object_size(node) != (allow ? 1u : 0u))
        return fail_at(ld, node,
                       "fingerprint: true, or {allow: [...]} listing what may change "
                       "(public.t, table:public.*, role:NAME, large_object:*, ...)");
    size_t i;
    json_t *item;
    if (!json_is_array(allow))
        return fail_at(ld, allow, "fingerprint.allow: a list of patterns");
    json_array_foreach((json_t *)allow, i, item) if (!json_is_string(item)) return fail_at(
        ld, item, "fingerprint.allow: each pattern is text, e.g. public.agent_actions");
    fp->on = true;
    fp->allow = allow;
    return 0;
}

static scenario_t *load_doc(const char *path, yamlj_doc_t *doc, char *errstr, size_t size)
{
    loader_t ld = {.doc = doc, .errstr = errstr, .size = size};
    scenario_t *sc = calloc(1, sizeof(*sc));
    if (!sc) {
        yamlj_doc_destroy(doc);
        dbev_seterr(errstr, size, "%s: out of memory", path);
        return NULL;
    }
    sc->doc = doc;
    sc->path = strdup(path);
    json_t *root = yamlj_root(doc);
    if (!json_is_object(root)) {
        fail_at(&ld, root, "a scenario is a mapping with name, proves and steps");
        goto fail;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (!in_list(key, header_keys)) {
            fail_at(&ld, value,
                    "unknown scenario key '%s'; known: name, proves, tags, phase, "
                    "fixtures, requires, setup_sql, teardown_sql, client, adapter, paths, "
                    "canary, fingerprint, steps",
                    key);
            goto fail;
        }
    }
    sc->name = json_string_value(json_object_get(root, "name"));
    sc->proves = json_string_value(json_object_get(root, "proves"));
    if (!sc->name || !*sc->name) {
        fail_at(&ld, root, "name is required: a short title for reports");
        goto fail;
    }
    if (!sc->proves) {
        fail_at(&ld, root, "proves is required: say in a sentence what this scenario proves");
        goto fail;
    }
    static const char *const lists[] = {"tags", "fixtures", "requires"};
    const json_t **targets[] = {&sc->tags, &sc->fixtures, &sc->requires};
    for (int i = 0; i < 3; i++) {
        const json_t *list = json_object_get(root, lists[i]);
        if (!list) {
            json_object_set_new(root, lists[i], json_array());
            list = json_object_get(root, lists[i]);
        }
        size_t j;
        json_t *item;
        if (!json_is_array(list)) {
            fail_at(&ld, list, "%s must be a list of names", lists[i]);
            goto fail;
        }
        json_array_foreach((json_t *)list, j, item) if (!json_is_string(item))
        {
            fail_at(&ld, item, "%s must be a list of names", lists[i]);
            goto fail;
        }
        *targets[i] = list;
    }
    const json_t *phase = json_object_get(root, "phase");
    if (phase) {
        if (!json_is_integer(phase) || json_integer_value(phase) < 1 ||
            json_integer_value(phase) > 3) {
            fail_at(&ld, phase, "phase must be 1, 2 or 3 (the migration phase)");
            goto fail;
        }
        sc->phase = (int)json_integer_value(phase);
    }
    const json_t *setup = json_object_get(root, "setup_sql");
    if (setup && !json_is_string(setup)) {
        fail_at(&ld, setup, "setup_sql must be SQL text");
        goto fail;
    }
    sc->setup_sql = json_string_value(setup);
    const json_t *teardown = json_object_get(root, "teardown_sql");
    if (teardown && !json_is_string(teardown)) {
        fail_at(&ld, teardown, "teardown_sql must be SQL text");
        goto fail;
    }
    sc->teardown_sql = json_string_value(teardown);
    const json_t *canary = json_object_get(root, "canary");
    if (canary && load_canary(&ld, canary, &sc->canary) != 0)
        goto fail;
    const json_t *fingerprint = json_object_get(root, "fingerprint");
    if (fingerprint && load_fingerprint(&ld, fingerprint, &sc->fingerprint) != 0)
        goto fail;
    const json_t *paths = json_object_get(root, "paths");
    if (paths) {
        const char *p = json_string_value(paths);
        if (!p || (strcmp(p, "event") != 0 && strcmp(p, "both") != 0)) {
            fail_at(&ld, paths,
                    "paths must be event (the event path's own behaviour: --mode "
                    "both runs it on the event path only) or both (the default)");
            goto fail;
        }
        sc->event_only = strcmp(p, "event") == 0;
    }
    static const char *const confs[] = {"client", "adapter"};
    const json_t **conf_targets[] = {&sc->client_conf, &sc->adapter_conf};
    for (int i = 0; i < 2; i++) {
        const json_t *conf = json_object_get(root, confs[i]);
        if (!conf)
            continue;
        if (!json_is_object(conf)) {
            fail_at(&ld, conf, "%s must map setting names to values, e.g. {%s}", confs[i],
                    i ? "breaker.recovery.timeout.ms: 2000" : "max.retries: 0");
            goto fail;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)conf, k, v) if (json_is_object(v) || json_is_array(v))
        {
            fail_at(&ld, v, "%s.%s: a setting takes one value, not a list or mapping", confs[i], k);
            goto fail;
        }
        *conf_targets[i] = conf;
    }
    const json_t *steps = json_object_get(root, "steps");
    if (!steps) {
        fail_at(&ld, root, "steps is required: a scenario that runs nothing proves nothing");
        goto fail;
    }
    if (load_steps(&ld, steps, false, &sc->steps, &sc->n_steps) != 0)
        goto fail;
    /* A security scenario proves that a hostile request harms no one else:
     * without the canary and the fingerprint it would prove only the answer. */
    if (scenario_has_tag(sc, "security")) {
        if (!sc->canary.on || !sc->fingerprint.on) {
            fail_at(&ld, root,
                    "a scenario tagged security runs with the canary and the fingerprint on: "
                    "add canary: true and fingerprint: true (or {allow: [...]})");
            goto fail;
        }
        if (scenario_count_hostile(sc) == 0) {
            fail_at(&ld, steps,
                    "a scenario tagged security marks its hostile requests with hostile: true");
            goto fail;
        }
    }
    return sc;
fail:
    scenario_destroy(sc);
    return NULL;
}

scenario_t *scenario_load(const char *path, char *errstr, size_t size)
{
    yamlj_doc_t *doc = yamlj_load_file(path, errstr, size);
    return doc ? load_doc(path, doc, errstr, size) : NULL;
}

scenario_t *scenario_load_buffer(const char *name, const char *text, char *errstr, size_t size)
{
    yamlj_doc_t *doc = yamlj_load_buffer(name, text, strlen(text), errstr, size);
    return doc ? load_doc(name, doc, errstr, size) : NULL;
}

bool scenario_has_tag(const scenario_t *scenario, const char *tag)
{
    size_t i;
    json_t *item;
    json_array_foreach((json_t *)scenario->tags, i,
                       item) if (!strcmp(json_string_value(item), tag)) return true;
    return false;
}

static size_t count(const step_t *steps, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 1 + (steps[i].kind == STEP_PARALLEL ? count(steps[i].children, steps[i].n_children)
                                                     : 0);
    return total;
}

size_t scenario_count_hostile(const scenario_t *scenario)
{
    size_t total = 0;
    for (size_t i = 0; i < scenario->n_steps; i++)
        total += scenario->steps[i].hostile ? 1 : 0;
    return total;
}

size_t scenario_count_steps(const scenario_t *scenario)
{
    return count(scenario->steps, scenario->n_steps);
}
