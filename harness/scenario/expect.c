/*
 * Expectation matching (see expect.h). Numbers compare by value whatever
 * their JSON type, because PostgreSQL numerics arrive as reals and scenario
 * authors write integers; objects compare on the keys the expectation names.
 */
#include "scenario/expect.h"

#include "dbev_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_keys[] = {
    "rows",     "rows_ordered",   "rows_include", "row_count",  "error_code",
    "sqlstate", "error_contains", "metadata",     "error_type", NULL};

bool expectation_key_known(const char *key)
{
    for (int i = 0; known_keys[i]; i++)
        if (strcmp(key, known_keys[i]) == 0)
            return true;
    return false;
}

bool expectation_values_equal(const json_t *expected, const json_t *actual)
{
    if (json_is_number(expected) && json_is_number(actual)) {
        double a = json_number_value(expected), b = json_number_value(actual);
        return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
    }
    if (json_is_object(expected) && json_is_object(actual)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)expected, key, value)
        {
            json_t *other = json_object_get(actual, key);
            if (!other || !expectation_values_equal(value, other))
                return false;
        }
        return true;
    }
    if (json_is_array(expected) && json_is_array(actual)) {
        if (json_array_size(expected) != json_array_size(actual))
            return false;
        for (size_t i = 0; i < json_array_size(expected); i++)
            if (!expectation_values_equal(json_array_get(expected, i), json_array_get(actual, i)))
                return false;
        return true;
    }
    return json_equal((json_t *)expected, (json_t *)actual);
}

/* Prints value compactly into buf, cut with "..." when long. */
static const char *show(const json_t *value, char *buf, size_t size)
{
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(buf, size, "%s", text ? text : "(absent)");
    if (text && strlen(text) >= size && size > 4)
        strcpy(buf + size - 4, "...");
    free(text);
    return buf;
}

/* Each expected row must match a distinct actual row (greedy, fine for the
 * small result sets scenarios check). ordered: row i against row i. */
static int match_rows(const json_t *expected, const json_t *actual, bool ordered, bool subset,
                      const char *what, char *diff, size_t size)
{
    char e[512], a[512];
    size_t n_expected = json_array_size(expected), n_actual = json_array_size(actual);
    if (!json_is_array(actual))
        return dbev_seterr(diff, size, "%s: expected rows, the outcome has none", what);
    if (!subset && n_expected != n_actual)
        return dbev_seterr(diff, size, "%s: expected %zu rows, got %zu: %s", what, n_expected,
                           n_actual, show(actual, a, sizeof(a)));
    if (ordered) {
        for (size_t i = 0; i < n_expected; i++)
            if (!expectation_values_equal(json_array_get(expected, i), json_array_get(actual, i)))
                return dbev_seterr(diff, size, "%s[%zu]: expected %s, got %s", what, i,
                                   show(json_array_get(expected, i), e, sizeof(e)),
                                   show(json_array_get(actual, i), a, sizeof(a)));
        return 0;
    }
    bool *used = calloc(n_actual + 1, sizeof(bool));
    if (!used)
        return dbev_seterr(diff, size, "out of memory");
    for (size_t i = 0; i < n_expected; i++) {
        const json_t *want = json_array_get(expected, i);
        size_t j;
        for (j = 0; j < n_actual; j++)
            if (!used[j] && expectation_values_equal(want, json_array_get(actual, j)))
                break;
        if (j == n_actual) {
            free(used);
            return dbev_seterr(diff, size, "%s: no row matches %s; rows were %s", what,
                               show(want, e, sizeof(e)), show(actual, a, sizeof(a)));
        }
        used[j] = true;
    }
    free(used);
    return 0;
}

int expectation_check(const json_t *expectation, const json_t *outcome, char *diff, size_t size)
{
    char e[512], a[512];
    bool ok = json_is_true(json_object_get(outcome, "ok"));
    const json_t *want_error = json_object_get(expectation, "error_code");
    if (want_error) {
        if (ok)
            return dbev_seterr(diff, size, "error_code: expected %s, the operation succeeded",
                               show(want_error, e, sizeof(e)));
        if (!expectation_values_equal(want_error, json_object_get(outcome, "error_code")))
            return dbev_seterr(diff, size, "error_code: expected %s, got %s (%s)",
                               show(want_error, e, sizeof(e)),
                               show(json_object_get(outcome, "error_code"), a, sizeof(a)),
                               json_string_value(json_object_get(outcome, "message")));
    } else if (!ok) {
        return dbev_seterr(diff, size, "expected success, got %s: %s",
                           show(json_object_get(outcome, "error_code"), a, sizeof(a)),
                           json_string_value(json_object_get(outcome, "message")));
    }
    const json_t *want = json_object_get(expectation, "sqlstate");
    if (want && !expectation_values_equal(want, json_object_get(outcome, "sqlstate")))
        return dbev_seterr(diff, size, "sqlstate: expected %s, got %s", show(want, e, sizeof(e)),
                           show(json_object_get(outcome, "sqlstate"), a, sizeof(a)));
    want = json_object_get(expectation, "error_type");
    if (want && !expectation_values_equal(want, json_object_get(outcome, "error_type")))
        return dbev_seterr(diff, size, "error_type: expected %s, got %s (%s)",
                           show(want, e, sizeof(e)),
                           show(json_object_get(outcome, "error_type"), a, sizeof(a)),
                           json_string_value(json_object_get(outcome, "message")));
    want = json_object_get(expectation, "error_contains");
    if (want) {
        const char *message = json_string_value(json_object_get(outcome, "message"));
        if (!message || !strstr(message, json_string_value(want)))
            return dbev_seterr(diff, size, "error_contains: expected text %s in %s",
                               show(want, e, sizeof(e)),
                               show(json_object_get(outcome, "message"), a, sizeof(a)));
    }
    want = json_object_get(expectation, "row_count");
    if (want && !expectation_values_equal(want, json_object_get(outcome, "row_count")))
        return dbev_seterr(diff, size, "row_count: expected %s, got %s", show(want, e, sizeof(e)),
                           show(json_object_get(outcome, "row_count"), a, sizeof(a)));
    const json_t *rows = json_object_get(outcome, "rows");
    if ((want = json_object_get(expectation, "rows")) &&
        match_rows(want, rows, false, false, "rows", diff, size))
        return -1;
    if ((want = json_object_get(expectation, "rows_ordered")) &&
        match_rows(want, rows, true, false, "rows_ordered", diff, size))
        return -1;
    if ((want = json_object_get(expectation, "rows_include")) &&
        match_rows(want, rows, false, true, "rows_include", diff, size))
        return -1;
    want = json_object_get(expectation, "metadata");
    if (want && !expectation_values_equal(want, json_object_get(outcome, "metadata")))
        return dbev_seterr(diff, size, "metadata: expected %s, got %s", show(want, e, sizeof(e)),
                           show(json_object_get(outcome, "metadata"), a, sizeof(a)));
    return 0;
}
