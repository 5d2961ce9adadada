/*
 * Reading ci/gates.yaml (gate.h, docs/gates.md). The file is a team's to
 * tune, so every mistake is reported where it is (file:line:column, through
 * yamlj) with what was expected, and nothing is guessed: an unknown key, a
 * bound that is not a number or a phase outside 1..3 stops the gate before
 * any scenario runs.
 */
#include "gate/gate.h"

#include "dbev_common.h"
#include "scenario/yamlj.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
    yamlj_doc_t *doc;
    gate_spec_t *spec;
    char *errstr;
    size_t size;
} loader_t;

/* Errors point at the value's file:line:column (yamlj_fail_at()). */
#define fail_at(ld, at, ...) yamlj_fail_at((ld)->doc, (at), (ld)->errstr, (ld)->size, __VA_ARGS__)

const char *gate_cmp_str(gate_cmp_t cmp)
{
    static const char *const names[] = {"<", "<=", ">", ">=", "==", "!="};
    return (int)cmp >= 0 && cmp <= GATE_NE ? names[cmp] : "?";
}

bool gate_cmp_holds(gate_cmp_t cmp, double figure, double bound)
{
    if (isnan(figure) || isnan(bound))
        return false;
    switch (cmp) {
    case GATE_LT:
        return figure < bound;
    case GATE_LE:
        return figure <= bound;
    case GATE_GT:
        return figure > bound;
    case GATE_GE:
        return figure >= bound;
    case GATE_EQ:
        return figure == bound;
    case GATE_NE:
        return figure != bound;
    }
    return false;
}

/* "< 100", "<=0.01", "== 0": an operator and a number. */
static int parse_condition(loader_t *ld, const json_t *value, const char *key, gate_cmp_t *cmp,
                           double *bound)
{
    const char *text = json_string_value(value);
    if (!text)
        return fail_at(ld, value,
                       "%s: expected a quoted \"OPERATOR NUMBER\" such as \"< 100\" "
                       "(operators < <= > >= == !=)",
                       key);
    static const struct {
        const char *op;
        gate_cmp_t cmp;
    } ops[] = {{"<=", GATE_LE}, {">=", GATE_GE}, {"==", GATE_EQ},
               {"!=", GATE_NE}, {"<", GATE_LT},  {">", GATE_GT}};
    const char *p = text + strspn(text, " ");
    size_t i = 0;
    for (; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strncmp(p, ops[i].op, strlen(ops[i].op)) == 0)
            break;
    if (i == sizeof(ops) / sizeof(ops[0]))
        return fail_at(ld, value,
                       "%s '%s': expected \"OPERATOR NUMBER\" such as \"< 100\" (operators "
                       "< <= > >= == !=; quote it: a bare > starts a YAML folded block)",
                       key, text);
    p += strlen(ops[i].op);
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || end[strspn(end, " ")] != '\0')
        return fail_at(ld, value, "%s '%s': expected a number after '%s'", key, text, ops[i].op);
    *cmp = ops[i].cmp;
    *bound = v;
    return 0;
}

static int check_keys(loader_t *ld, const json_t *obj, const char *what, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char list[512] = "";
            for (size_t i = 0; allowed[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
            }
            return fail_at(ld, value, "unknown key '%s' in %s; known: %s", key, what, list);
        }
    }
    return 0;
}

static int get_string(loader_t *ld, const json_t *obj, const char *key, bool required, char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return fail_at(ld, obj, "missing '%s'", key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail_at(ld, v, "%s: expected a non-empty string", key);
    *out = strdup(json_string_value(v));
    return *out ? 0 : fail_at(ld, v, "out of memory");
}

static int get_fraction(loader_t *ld, const json_t *obj, const char *key, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v)))
        return fail_at(ld, v, "%s: expected a fraction such as 0.10 (10 %%), 0 or more", key);
    *out = json_number_value(v);
    return 0;
}

static int get_phases(loader_t *ld, const json_t *obj, unsigned *out)
{
    const json_t *v = json_object_get(obj, "phases");
    *out = GATE_PHASES_ALL;
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fail_at(ld, v, "phases: expected a list of phases such as [1, 2, 3]");
    *out = 0;
    size_t i;
    const json_t *p;
    json_array_foreach(v, i, p)
    {
        json_int_t n = json_is_integer(p) ? json_integer_value(p) : 0;
        if (n < 1 || n > 3)
            return fail_at(ld, p, "phases: %s is not a phase; phases are 1, 2 and 3",
                           json_is_string(p) ? json_string_value(p) : "this");
        *out |= 1u << n;
    }
    return 0;
}

static int get_bool(loader_t *ld, const json_t *obj, const char *key, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fail_at(ld, v, "%s: expected true or false", key);
    *out = json_is_true(v);
    return 0;
}

static gate_rule_t *new_rule(loader_t *ld, const json_t *node, gate_kind_t kind)
{
    gate_spec_t *spec = ld->spec;
    gate_rule_t *grown = realloc(spec->rules, (spec->n_rules + 1) * sizeof(*grown));
    if (!grown) {
        fail_at(ld, node, "out of memory");
        return NULL;
    }
    spec->rules = grown;
    gate_rule_t *r = &spec->rules[spec->n_rules++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->bound = NAN;
    r->confidence = -1;
    r->min_effect = -1;
    yamlj_where(ld->doc, node, r->where, sizeof(r->where));
    return r;
}

/* watch: [metric, ...] of a degradation trigger; checked against the
 * baseline section once it is read (check_watch). */
static int load_watch(loader_t *ld, gate_rule_t *r, const json_t *watch)
{
    if (!watch)
        return 0;
    if (!json_is_array(watch) || json_array_size(watch) == 0)
        return fail_at(ld, watch, "watch: expected a list of metrics of baseline.metrics");
    r->watch = calloc(json_array_size(watch), sizeof(char *));
    if (!r->watch)
        return fail_at(ld, watch, "out of memory");
    size_t i;
    const json_t *m;
    json_array_foreach(watch, i, m)
    {
        if (!json_is_string(m))
            return fail_at(ld, m, "watch: expected metric names");
        r->watch[r->n_watch++] = strdup(json_string_value(m));
    }
    return 0;
}

/* Every watched metric must be one the baseline section compares. */
static int check_watch(loader_t *ld, const json_t *root)
{
    const json_t *list = json_object_get(root, "rollback");
    size_t i, j;
    const json_t *node, *m;
    json_array_foreach(list, i, node)
    {
        json_array_foreach(json_object_get(node, "watch"), j, m)
        {
            bool found = false;
            for (size_t k = 0; k < ld->spec->n_rules && !found; k++)
                found = ld->spec->rules[k].kind == GATE_RULE_REGRESSION &&
                        strcmp(ld->spec->rules[k].metric, json_string_value(m)) == 0;
            if (!found)
                return fail_at(ld, m, "watch: %s is not a metric of baseline.metrics",
                               json_string_value(m));
        }
    }
    return 0;
}

static int load_criterion(loader_t *ld, const json_t *node, gate_kind_t kind)
{
    static const char *const crit_keys[] = {"name",   "metric",    "pass",   "unit",
                                            "phases", "with_long", "source", NULL};
    static const char *const rb_keys[] = {"name",      "metric",      "trigger", "unit",   "phases",
                                          "with_long", "degradation", "watch",   "source", NULL};
    const char *what = kind == GATE_RULE_CRITERION ? "a criterion" : "a rollback trigger";
    if (!json_is_object(node))
        return fail_at(ld, node, "%s: expected a mapping with name, metric and %s", what,
                       kind == GATE_RULE_CRITERION ? "pass" : "trigger");
    if (check_keys(ld, node, what, kind == GATE_RULE_CRITERION ? crit_keys : rb_keys))
        return -1;
    gate_rule_t *r = new_rule(ld, node, kind);
    if (!r)
        return -1;
    if (get_string(ld, node, "name", true, &r->name) ||
        get_string(ld, node, "unit", false, &r->unit) || get_phases(ld, node, &r->phases) ||
        get_bool(ld, node, "with_long", &r->with_long))
        return -1;
    const json_t *degradation = json_object_get(node, "degradation");
    if (kind == GATE_RULE_ROLLBACK && degradation) {
        /* Degradation against the baseline: no metric of its own. */
        if (json_object_get(node, "metric") || json_object_get(node, "trigger"))
            return fail_at(ld, node,
                           "a degradation trigger takes no metric or trigger: it watches every "
                           "metric of baseline.metrics");
        r->degradation = -1;
        if (get_fraction(ld, node, "degradation", &r->degradation))
            return -1;
        r->cmp = GATE_GT;
        r->bound = r->degradation;
        return load_watch(ld, r, json_object_get(node, "watch"));
    }
    if (json_object_get(node, "watch"))
        return fail_at(ld, json_object_get(node, "watch"),
                       "watch: only a degradation trigger watches baseline metrics");
    if (get_string(ld, node, "metric", true, &r->metric))
        return -1;
    const char *key = kind == GATE_RULE_CRITERION ? "pass" : "trigger";
    const json_t *cond = json_object_get(node, key);
    if (!cond)
        return fail_at(ld, node, "missing '%s' (such as %s)", key,
                       kind == GATE_RULE_CRITERION ? "pass: \"< 100\"" : "trigger: \"> 200\"");
    return parse_condition(ld, cond, key, &r->cmp, &r->bound);
}

/* The one-run baseline's `tolerance` (a fixed band around one figure) gave
 * way to a test against the baseline's runs: say what replaces it, not
 * merely that the key is unknown. */
static int no_tolerance(loader_t *ld, const json_t *obj)
{
    const json_t *v = json_object_get(obj, "tolerance");
    if (!v)
        return 0;
    return fail_at(ld, v,
                   "tolerance is gone: a regression is now judged by a one-sided t test "
                   "against the baseline's runs; give confidence (e.g. 0.99) and min_effect "
                   "(e.g. 0.05: smaller changes are never flagged) instead (docs/gates.md)");
}

/* confidence: a probability strictly between 0.5 and 1. */
static int get_confidence(loader_t *ld, const json_t *obj, double *out)
{
    const json_t *v = json_object_get(obj, "confidence");
    if (!v)
        return 0;
    double c = json_number_value(v);
    if (!json_is_number(v) || !(c > 0.5 && c < 1))
        return fail_at(ld, v,
                       "confidence: expected a probability such as 0.99 (above 0.5, below 1)");
    *out = c;
    return 0;
}

static int load_regression(loader_t *ld, const json_t *node)
{
    static const char *const keys[] = {"name", "metric", "better",    "confidence", "min_effect",
                                       "unit", "phases", "with_long", "source",     NULL};
    if (!json_is_object(node))
        return fail_at(ld, node, "a baseline metric: expected a mapping with metric and better");
    if (no_tolerance(ld, node) || check_keys(ld, node, "a baseline metric", keys))
        return -1;
    gate_rule_t *r = new_rule(ld, node, GATE_RULE_REGRESSION);
    if (!r)
        return -1;
    if (get_string(ld, node, "metric", true, &r->metric) ||
        get_string(ld, node, "name", false, &r->name) ||
        get_string(ld, node, "unit", false, &r->unit) || get_phases(ld, node, &r->phases) ||
        get_bool(ld, node, "with_long", &r->with_long) ||
        get_confidence(ld, node, &r->confidence) ||
        get_fraction(ld, node, "min_effect", &r->min_effect))
        return -1;
    if (strchr(r->metric, '*'))
        return fail_at(ld, json_object_get(node, "metric"),
                       "metric: a baseline metric names one metric (no '*')");
    const json_t *better = json_object_get(node, "better");
    const char *b = json_string_value(better);
    if (!b || (strcmp(b, "smaller") && strcmp(b, "bigger")))
        return fail_at(ld, better ? better : node,
                       "better: expected smaller (latencies, ratios) or bigger (throughputs)");
    r->bigger_better = strcmp(b, "bigger") == 0;
    if (!r->name) {
        char name[300];
        snprintf(name, sizeof(name), "%s against the baseline", r->metric);
        r->name = strdup(name);
    }
    return 0;
}

static int load_list(loader_t *ld, const json_t *root, const char *key, gate_kind_t kind)
{
    const json_t *list = json_object_get(root, key);
    if (!list)
        return 0;
    if (!json_is_array(list))
        return fail_at(ld, list, "%s: expected a list", key);
    size_t i;
    const json_t *node;
    json_array_foreach(list, i, node)
    {
        if (load_criterion(ld, node, kind))
            return -1;
    }
    return 0;
}

static int load_baseline(loader_t *ld, const json_t *root)
{
    const json_t *b = json_object_get(root, "baseline");
    if (!b)
        return 0;
    static const char *const keys[] = {"confidence", "min_effect", "min_runs", "metrics", NULL};
    if (!json_is_object(b))
        return fail_at(ld, b,
                       "baseline: expected a mapping with confidence, min_effect and metrics");
    if (no_tolerance(ld, b) || check_keys(ld, b, "baseline", keys) ||
        get_confidence(ld, b, &ld->spec->confidence) ||
        get_fraction(ld, b, "min_effect", &ld->spec->min_effect))
        return -1;
    const json_t *min_runs = json_object_get(b, "min_runs");
    if (min_runs) {
        if (!json_is_integer(min_runs) || json_integer_value(min_runs) < 2 ||
            json_integer_value(min_runs) > 1000)
            return fail_at(ld, min_runs,
                           "min_runs: expected a whole number of baseline runs, 2 or more (a "
                           "spread needs two)");
        ld->spec->min_runs = (int)json_integer_value(min_runs);
    }
    const json_t *metrics = json_object_get(b, "metrics");
    if (!metrics)
        return 0;
    if (!json_is_array(metrics))
        return fail_at(ld, metrics, "baseline.metrics: expected a list");
    size_t i;
    const json_t *node;
    json_array_foreach(metrics, i, node)
    {
        if (load_regression(ld, node))
            return -1;
    }
    return 0;
}

/* allowed_skips: [{scenario: file.yaml, reason: text}]. A gate runs every
 * scenario; a skip it accepts is named here with its reason, so that
 * accepting one is a reviewed change of this file, never a default. */
static int load_allowed_skips(loader_t *ld, const json_t *root)
{
    const json_t *list = json_object_get(root, "allowed_skips");
    if (!list)
        return 0;
    if (!json_is_array(list))
        return fail_at(ld, list, "allowed_skips: expected a list of {scenario, reason}");
    gate_spec_t *spec = ld->spec;
    spec->allowed_skips = calloc(json_array_size(list) + 1, sizeof(*spec->allowed_skips));
    if (!spec->allowed_skips)
        return dbev_seterr(ld->errstr, ld->size, "out of memory");
    static const char *const keys[] = {"scenario", "reason", NULL};
    size_t i;
    const json_t *node;
    json_array_foreach(list, i, node)
    {
        gate_allowed_skip_t *skip = &spec->allowed_skips[spec->n_allowed_skips];
        if (!json_is_object(node))
            return fail_at(ld, node, "allowed_skips: expected {scenario: FILE, reason: TEXT}");
        if (check_keys(ld, node, "an allowed skip", keys) ||
            get_string(ld, node, "scenario", true, &skip->scenario) ||
            get_string(ld, node, "reason", true, &skip->reason)) {
            spec->n_allowed_skips++; /* owns whatever was read */
            return -1;
        }
        spec->n_allowed_skips++;
    }
    return 0;
}

static gate_spec_t *load_doc(const char *path, yamlj_doc_t *doc, char *errstr, size_t size)
{
    gate_spec_t *spec = calloc(1, sizeof(*spec));
    if (!spec) {
        dbev_seterr(errstr, size, "out of memory");
        yamlj_doc_destroy(doc);
        return NULL;
    }
    spec->path = strdup(path);
    /* Bencher's default t test threshold (99 %), and 5 %: seed 001 accepts
     * ±10 %, half of it is where a change starts to matter. */
    spec->confidence = 0.99;
    spec->min_effect = 0.05;
    spec->min_runs = 3;
    loader_t ld = {doc, spec, errstr, size};
    const json_t *root = yamlj_root(doc);
    static const char *const keys[] = {"version",  "criteria",      "rollback",
                                       "baseline", "allowed_skips", NULL};
    int rc = 0;
    if (!json_is_object(root))
        rc = fail_at(&ld, root, "expected a mapping with criteria, rollback and baseline");
    if (rc == 0)
        rc = check_keys(&ld, root, "the gates file", keys);
    const json_t *version = json_object_get(root, "version");
    if (rc == 0 && version && !(json_is_integer(version) && json_integer_value(version) == 1))
        rc = fail_at(&ld, version, "version: this harness reads version 1");
    if (rc == 0)
        rc = load_list(&ld, root, "criteria", GATE_RULE_CRITERION);
    if (rc == 0)
        rc = load_list(&ld, root, "rollback", GATE_RULE_ROLLBACK);
    if (rc == 0)
        rc = load_baseline(&ld, root);
    if (rc == 0)
        rc = check_watch(&ld, root);
    if (rc == 0)
        rc = load_allowed_skips(&ld, root);
    for (size_t i = 0; rc == 0 && i < spec->n_rules; i++)
        if (spec->rules[i].kind == GATE_RULE_REGRESSION) {
            if (spec->rules[i].confidence < 0)
                spec->rules[i].confidence = spec->confidence;
            if (spec->rules[i].min_effect < 0)
                spec->rules[i].min_effect = spec->min_effect;
        }
    if (rc == 0 && spec->n_rules == 0)
        rc = fail_at(&ld, root, "no criteria: a gate that judges nothing would always pass");
    yamlj_doc_destroy(doc);
    if (rc != 0) {
        gate_spec_destroy(spec);
        return NULL;
    }
    return spec;
}

gate_spec_t *gate_spec_load(const char *path, char *errstr, size_t size)
{
    yamlj_doc_t *doc = yamlj_load_file(path, errstr, size);
    return doc ? load_doc(path, doc, errstr, size) : NULL;
}

gate_spec_t *gate_spec_load_buffer(const char *name, const char *text, char *errstr, size_t size)
{
    yamlj_doc_t *doc = yamlj_load_buffer(name, text, strlen(text), errstr, size);
    return doc ? load_doc(name, doc, errstr, size) : NULL;
}

void gate_spec_destroy(gate_spec_t *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_rules; i++) {
        free(spec->rules[i].name);
        free(spec->rules[i].metric);
        free(spec->rules[i].unit);
        for (size_t w = 0; w < spec->rules[i].n_watch; w++)
            free(spec->rules[i].watch[w]);
        free(spec->rules[i].watch);
    }
    free(spec->rules);
    for (size_t i = 0; i < spec->n_allowed_skips; i++) {
        free(spec->allowed_skips[i].scenario);
        free(spec->allowed_skips[i].reason);
    }
    free(spec->allowed_skips);
    free(spec->path);
    free(spec);
}
