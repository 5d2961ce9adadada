/*
 * Reading a `load:` mapping (see load.h and docs/scenarios.md), the open-loop
 * schedule, stress rate stepping and write classification: the parts of the
 * load step that are arithmetic and bookkeeping, kept apart from the event
 * loop so they can be tested without Kafka or PostgreSQL.
 */
#include "load/load.h"

#include "dbev_common.h"

#include "scenario/scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plain_keys[] = {"rate",       "duration_s", "count",    "max_in_flight",
                                         "timeout_ms", "retries",    "warmup_s", "key",
                                         "stress",     NULL};

#define DEFAULT_MAX_IN_FLIGHT 1000
#define DEFAULT_TIMEOUT_MS    5000

static bool is_plain_key(const char *key)
{
    for (size_t i = 0; plain_keys[i]; i++)
        if (!strcmp(plain_keys[i], key))
            return true;
    return false;
}

/* A positive number under key, or def when absent; -1 with errstr when not a number > 0. */
static int positive(const json_t *obj, const char *key, double def, double *out, const char *what,
                    char *errstr, size_t size)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0))
        return dbev_seterr(errstr, size, "%s%s must be a number above 0", what, key), -1;
    *out = json_number_value(v);
    return 0;
}

static int parse_key(const json_t *key, load_spec_t *spec, char *errstr, size_t size)
{
    if (!json_is_object(key))
        return dbev_seterr(errstr, size,
                           "load: key must be {table: T, column: C, value: \"${...}\"}, naming "
                           "the unique column that identifies each written row"),
               -1;
    const json_t *table = json_object_get(key, "table");
    const json_t *column = json_object_get(key, "column");
    const json_t *value = json_object_get(key, "value");
    if (!json_is_string(table) || !json_is_string(column) || !value ||
        !(json_is_string(value) || json_is_integer(value)))
        return dbev_seterr(errstr, size,
                           "load: key needs table and column (strings) and value (a template "
                           "such as \"item-${seq}\" that gives each request its own row)"),
               -1;
    if (json_object_size(key) != 3)
        return dbev_seterr(errstr, size, "load: key takes only table, column and value"), -1;
    spec->key_table = json_string_value(table);
    spec->key_column = json_string_value(column);
    spec->key_value = value;
    return 0;
}

static int parse_stress(const json_t *stress, const json_t *body, load_spec_t *spec, char *errstr,
                        size_t size)
{
    static const char *const keys[] = {
        "start_rate",     "step", "step_duration_s", "max_duration_s", "p99_ms",
        "max_error_rate", NULL};
    if (!json_is_object(stress))
        return dbev_seterr(errstr, size,
                           "load: stress must be a mapping such as {start_rate: 200, step: x1.5, "
                           "step_duration_s: 5, max_duration_s: 60, p99_ms: 100}"),
               -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)stress, k, v)
    {
        bool known = false;
        for (size_t i = 0; keys[i]; i++)
            known = known || !strcmp(keys[i], k);
        if (!known)
            return dbev_seterr(errstr, size,
                               "load: unknown stress key '%s'; known: start_rate, step, "
                               "step_duration_s, max_duration_s, p99_ms, max_error_rate",
                               k),
                   -1;
    }
    if (json_object_get(body, "count"))
        return dbev_seterr(errstr, size,
                           "load: stress runs for a time, not a count; give duration_s (or "
                           "stress.max_duration_s) instead of count"),
               -1;
    load_stress_t *s = &spec->stress;
    s->on = true;
    double bound = spec->duration_s > 0 ? spec->duration_s : LOAD_STRESS_MAX_S;
    if (positive(stress, "start_rate", spec->rate, &s->start_rate, "load: stress.", errstr, size) ||
        positive(stress, "step_duration_s", 5, &s->step_duration_s, "load: stress.", errstr,
                 size) ||
        positive(stress, "max_duration_s", bound, &s->max_duration_s, "load: stress.", errstr,
                 size) ||
        positive(stress, "p99_ms", 0, &s->p99_ms, "load: stress.", errstr, size) ||
        positive(stress, "max_error_rate", 0.01, &s->max_error_rate, "load: stress.", errstr, size))
        return -1;
    if (!json_object_get(stress, "p99_ms"))
        return dbev_seterr(errstr, size,
                           "load: stress.p99_ms is required: the bound whose break is the knee"),
               -1;
    if (s->max_duration_s > LOAD_STRESS_MAX_S)
        return dbev_seterr(errstr, size,
                           "load: a stress run is bounded to %.0f s; max_duration_s (or "
                           "duration_s) is %g",
                           LOAD_STRESS_MAX_S, s->max_duration_s),
               -1;
    if (s->step_duration_s + spec->warmup_s > s->max_duration_s)
        return dbev_seterr(errstr, size,
                           "load: stress.step_duration_s (%g) and warmup_s (%g) are longer than "
                           "the whole stress run (%g s)",
                           s->step_duration_s, spec->warmup_s, s->max_duration_s),
               -1;
    const json_t *step = json_object_get(stress, "step");
    if (!step) {
        s->step.multiply = true;
        s->step.by = 1.5;
    } else if (load_rate_step_parse(step, &s->step)) {
        return dbev_seterr(errstr, size,
                           "load: stress.step must raise the rate: \"x1.5\" multiplies, "
                           "\"+200\" adds"),
               -1;
    }
    spec->rate = s->start_rate;
    spec->duration_s = s->max_duration_s;
    spec->count = 0;
    return 0;
}

int load_spec_parse(const json_t *body, load_spec_t *spec, char *errstr, size_t size)
{
    memset(spec, 0, sizeof(*spec));
    if (!json_is_object(body))
        return dbev_seterr(errstr, size, "load: expected a mapping"), -1;
    const char *k;
    json_t *v;
    int ops = 0;
    json_object_foreach((json_t *)body, k, v)
    {
        dbev_op_t op;
        if (scenario_operation_key(k, &op) == 0) {
            ops++;
            spec->op = op;
            spec->op_key = k;
            spec->tmpl = v;
        } else if (!is_plain_key(k)) {
            return dbev_seterr(errstr, size,
                               "load: unknown key '%s'; known: rate, duration_s, count, "
                               "max_in_flight, timeout_ms, retries, warmup_s, key, stress, and one "
                               "operation (insert, query, ...)",
                               k),
                   -1;
        }
    }
    if (ops != 1)
        return dbev_seterr(errstr, size,
                           "load: give exactly one operation template (insert:, query:, ...); "
                           "found %d",
                           ops),
               -1;
    if (spec->op == DBEV_OP_HEALTH ? !(json_is_null(spec->tmpl) || json_is_object(spec->tmpl))
        : (spec->op == DBEV_OP_SELECT || spec->op == DBEV_OP_EXECUTE)
            ? !(json_is_object(spec->tmpl) || json_is_string(spec->tmpl))
            : !json_is_object(spec->tmpl))
        return dbev_seterr(errstr, size, "load: %s: expected a mapping of the operation's fields",
                           spec->op_key),
               -1;
    double count = 0, in_flight, timeout, retries;
    if (positive(body, "rate", 0, &spec->rate, "load: ", errstr, size) ||
        positive(body, "duration_s", 0, &spec->duration_s, "load: ", errstr, size) ||
        positive(body, "count", 0, &count, "load: ", errstr, size) ||
        positive(body, "max_in_flight", DEFAULT_MAX_IN_FLIGHT, &in_flight, "load: ", errstr,
                 size) ||
        positive(body, "timeout_ms", DEFAULT_TIMEOUT_MS, &timeout, "load: ", errstr, size))
        return -1;
    if (!(spec->rate > 0))
        return dbev_seterr(errstr, size, "load: rate (requests per second) is required"), -1;
    const json_t *jw = json_object_get(body, "warmup_s");
    if (jw && (!json_is_number(jw) || json_number_value(jw) < 0))
        return dbev_seterr(errstr, size, "load: warmup_s must be a number of seconds >= 0"), -1;
    spec->warmup_s = jw ? json_number_value(jw) : 0;
    const json_t *jr = json_object_get(body, "retries");
    if (jr && (!json_is_integer(jr) || json_integer_value(jr) < 0))
        return dbev_seterr(errstr, size, "load: retries must be an integer >= 0"), -1;
    retries = jr ? (double)json_integer_value(jr) : 0;
    spec->count = (int64_t)count;
    spec->max_in_flight = in_flight > 1e6 ? 1000000 : (int)in_flight;
    spec->timeout_ms = timeout > 3600000 ? 3600000 : (int)timeout;
    spec->max_retries = retries > 0 ? (int)retries : -1;
    if (json_object_get(body, "key") && parse_key(json_object_get(body, "key"), spec, errstr, size))
        return -1;
    if (json_object_get(body, "stress"))
        return parse_stress(json_object_get(body, "stress"), body, spec, errstr, size);
    if (spec->count == 0 && spec->duration_s == 0)
        return dbev_seterr(errstr, size, "load: give duration_s or count, so the load ends"), -1;
    spec->count = load_count_for(spec->rate, spec->duration_s, spec->count);
    return 0;
}

int64_t load_count_for(double rate, double duration_s, int64_t count)
{
    if (count > 0)
        return count;
    double n = floor(rate * duration_s + 1e-9);
    return n < 1 ? 1 : (int64_t)n;
}

int64_t load_intended_us(int64_t start_us, int64_t i, double rate)
{
    /* Computed from i each time (not by adding 1/rate up), so rounding never
     * accumulates over a long load. */
    return start_us + (int64_t)llround((double)i * 1e6 / rate);
}

int load_rate_step_parse(const json_t *value, load_rate_step_t *step)
{
    if (json_is_number(value)) {
        step->multiply = false;
        step->by = json_number_value(value);
        return step->by > 0 ? 0 : -1;
    }
    if (!json_is_string(value))
        return -1;
    const char *s = json_string_value(value);
    if (*s == 'x' || *s == 'X' || *s == '*')
        step->multiply = true;
    else if (*s == '+')
        step->multiply = false;
    else
        return -1;
    char *end;
    step->by = strtod(s + 1, &end);
    if (end == s + 1 || *end)
        return -1;
    return step->multiply ? (step->by > 1 ? 0 : -1) : (step->by > 0 ? 0 : -1);
}

double load_rate_next(double rate, const load_rate_step_t *step)
{
    return step->multiply ? rate * step->by : rate + step->by;
}

void load_writes_add(load_writes_t *writes, const char *key, int64_t rows)
{
    if (rows == 1) {
        writes->present_once++;
    } else if (rows <= 0) {
        if (!writes->lost++)
            snprintf(writes->first_lost, sizeof(writes->first_lost), "%s", key);
    } else {
        if (!writes->doubled++)
            snprintf(writes->first_doubled, sizeof(writes->first_doubled), "%s", key);
    }
}
