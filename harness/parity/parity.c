/*
 * Parity comparison (see parity.h, docs/parity.md). Values are compared
 * through a canonical form: each row is rewritten with numbers as their
 * value (an integral real becomes an integer, numeric text a number),
 * timestamps as the instant they name, and then serialised with sorted keys,
 * so that two rows agree exactly when their canonical texts are equal. That
 * makes the multiset comparison a sort and a merge, cheap for thousands of
 * rows, and the same rules apply inside jsonb values and arrays.
 */
#include "parity/parity.h"

#include "dbev_common.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Most characters of one side's value shown in a message. */
#define SHOW_MAX 280

/* ---- canonical values ----------------------------------------------------- */

/* "2025-10-30T10:00:00.5Z", "2025-10-30 12:00:00+02", "...+05:30", no zone:
 * the instant in epoch microseconds. Anything else is not a timestamp. */
static bool parse_instant(const char *s, int64_t *us)
{
    static const char shape[] = "dddd-dd-dd?dd:dd:dd";
    size_t n = strlen(s);
    if (n < 19 || n > 48)
        return false;
    for (size_t i = 0; i < 19; i++) {
        char want = shape[i];
        if (want == 'd'   ? !isdigit((unsigned char)s[i])
            : want == '?' ? (s[i] != 'T' && s[i] != ' ')
                          : s[i] != want)
            return false;
    }
    char buf[64];
    memcpy(buf, s, n + 1);
    buf[10] = 'T';
    size_t p = 19;
    if (buf[p] == '.')
        for (p++; isdigit((unsigned char)buf[p]); p++)
            ;
    if (buf[p] == 'z')
        buf[p] = 'Z';
    if (buf[p] == '+' || buf[p] == '-') {
        const char *z = buf + p + 1;
        size_t zl = strlen(z);
        if (zl == 2 && isdigit((unsigned char)z[0]) && isdigit((unsigned char)z[1])) {
            strcat(buf, ":00"); /* PostgreSQL's "+02" */
        } else if (zl == 4 && strspn(z, "0123456789") == 4) {
            char hhmm[5];
            memcpy(hhmm, z, 4);
            snprintf(buf + p + 1, sizeof(buf) - p - 1, "%.2s:%.2s", hhmm, hhmm + 2);
        }
    }
    return dbev_parse_iso8601(buf, us) == 0;
}

/* Decimal text ("0.950", "-12", "1e3"): its value. Integers that fit in
 * 64 bits are read exactly. */
static json_t *numeric_text(const char *s)
{
    const char *p = s;
    bool integral = true;
    if (*p == '+' || *p == '-')
        p++;
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        integral = false;
        size_t frac = strspn(p + 1, "0123456789");
        p += 1 + frac;
        digits += frac;
    }
    if (digits == 0)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        integral = false;
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return NULL;
        p += exp;
    }
    if (*p != '\0')
        return NULL;
    errno = 0;
    if (integral) {
        long long v = strtoll(s, NULL, 10);
        if (errno == 0)
            return json_integer(v);
    }
    return json_real(strtod(s, NULL));
}

static json_t *canonical_number(double d)
{
    if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* A new reference: value with the comparison's meaning made explicit. */
static json_t *canonical(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        json_t *out = json_object();
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)value, key, v) json_object_set_new(out, key, canonical(v));
        return out;
    }
    case JSON_ARRAY: {
        json_t *out = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(value, i, v) json_array_append_new(out, canonical(v));
        return out;
    }
    case JSON_REAL:
        return canonical_number(json_real_value(value));
    case JSON_STRING: {
        const char *s = json_string_value(value);
        int64_t us;
        if (parse_instant(s, &us)) {
            char text[48];
            snprintf(text, sizeof(text), "\x01instant:%" PRId64, us);
            return json_string(text);
        }
        json_t *num = numeric_text(s);
        if (num) {
            if (json_is_real(num)) {
                json_t *c = canonical_number(json_real_value(num));
                json_decref(num);
                return c;
            }
            return num;
        }
        return json_copy((json_t *)value);
    }
    default:
        return json_copy((json_t *)value);
    }
}

/* The canonical text of a row, without the ignored columns; to free(). */
static char *row_text(const json_t *row, const json_t *ignore)
{
    json_t *c = canonical(row);
    size_t i;
    json_t *name;
    if (json_is_object(c) && json_is_array(ignore))
        json_array_foreach(ignore, i, name) if (json_is_string(name))
            json_object_del(c, json_string_value(name));
    char *text = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(c);
    return text;
}

/* Compact JSON of value for a message, cut with "..." when long. Reals with
 * 15 digits: what a reader expects (0.95, not 0.94999999999999996). */
static const char *show(const json_t *value, char *buf, size_t size)
{
    char *text =
        value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    if (size > SHOW_MAX + 4)
        size = SHOW_MAX + 4;
    snprintf(buf, size, "%s", text ? text : "(absent)");
    if (text && strlen(text) >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    free(text);
    return buf;
}

/* ---- rows ----------------------------------------------------------------- */

typedef struct keyed {
    char *text;
    size_t index;
} keyed_t;

static int keyed_cmp(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static keyed_t *keyed_rows(const json_t *rows, const json_t *ignore, size_t *n)
{
    *n = json_array_size(rows);
    keyed_t *k = calloc(*n ? *n : 1, sizeof(*k));
    for (size_t i = 0; k && i < *n; i++) {
        k[i].text = row_text(json_array_get(rows, i), ignore);
        k[i].index = i;
        if (!k[i].text)
            k[i].text = strdup("");
    }
    return k;
}

static void keyed_free(keyed_t *k, size_t n)
{
    for (size_t i = 0; k && i < n; i++)
        free(k[i].text);
    free(k);
}

/* Rows in order: the first index where they differ. */
static int rows_ordered(const char *what, const json_t *ev, const json_t *dr, const keyed_t *ke,
                        size_t ne, const keyed_t *kd, size_t nd, char *diff, size_t size)
{
    char a[SHOW_MAX + 8], b[SHOW_MAX + 8];
    for (size_t i = 0; i < ne && i < nd; i++)
        if (strcmp(ke[i].text, kd[i].text) != 0)
            return dbev_seterr(diff, size, "%s differ at index %zu (in order): event %s; direct %s",
                               what, i, show(json_array_get(ev, i), a, sizeof(a)),
                               show(json_array_get(dr, i), b, sizeof(b)));
    if (ne != nd) {
        size_t i = ne < nd ? ne : nd;
        return dbev_seterr(diff, size, "%s: event has %zu, direct %zu; first extra: %s %s", what,
                           ne, nd, ne > nd ? "event" : "direct",
                           show(json_array_get(ne > nd ? ev : dr, i), a, sizeof(a)));
    }
    return 0;
}

/* Rows as multisets: sorted canonical texts merged; names what is on one
 * side only. */
static int rows_multiset(const char *what, const json_t *ev, const json_t *dr, keyed_t *ke,
                         size_t ne, keyed_t *kd, size_t nd, char *diff, size_t size)
{
    qsort(ke, ne, sizeof(*ke), keyed_cmp);
    qsort(kd, nd, sizeof(*kd), keyed_cmp);
    size_t i = 0, j = 0, only_e = 0, only_d = 0;
    long first_e = -1, first_d = -1;
    while (i < ne || j < nd) {
        int c = i >= ne ? 1 : j >= nd ? -1 : strcmp(ke[i].text, kd[j].text);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            if (first_e < 0)
                first_e = (long)ke[i].index;
            only_e++;
            i++;
        } else {
            if (first_d < 0)
                first_d = (long)kd[j].index;
            only_d++;
            j++;
        }
    }
    if (only_e == 0 && only_d == 0)
        return 0;
    char a[SHOW_MAX + 8], b[SHOW_MAX + 8];
    return dbev_seterr(diff, size,
                       "%s differ (as a set): %zu only on the event path, %zu only on the direct "
                       "path; event %s; direct %s",
                       what, only_e, only_d,
                       first_e >= 0 ? show(json_array_get(ev, (size_t)first_e), a, sizeof(a))
                                    : "(nothing missing)",
                       first_d >= 0 ? show(json_array_get(dr, (size_t)first_d), b, sizeof(b))
                                    : "(nothing missing)");
}

static int compare_rows(const char *what, const json_t *ev, const json_t *dr, bool ordered,
                        const json_t *ignore, char *diff, size_t size)
{
    char a[SHOW_MAX + 8], b[SHOW_MAX + 8];
    if (!json_is_array(ev) || !json_is_array(dr)) {
        if (json_equal((json_t *)ev, (json_t *)dr))
            return 0;
        return dbev_seterr(diff, size, "%s: event %s; direct %s", what, show(ev, a, sizeof(a)),
                           show(dr, b, sizeof(b)));
    }
    size_t ne, nd;
    keyed_t *ke = keyed_rows(ev, ignore, &ne), *kd = keyed_rows(dr, ignore, &nd);
    int rc;
    if (!ke || !kd)
        rc = dbev_seterr(diff, size, "%s: out of memory", what);
    else if (ordered)
        rc = rows_ordered(what, ev, dr, ke, ne, kd, nd, diff, size);
    else
        rc = rows_multiset(what, ev, dr, ke, ne, kd, nd, diff, size);
    keyed_free(ke, ne);
    keyed_free(kd, nd);
    return rc;
}

/* ---- outcomes ------------------------------------------------------------- */

/* The error class of a code: refusals before execution are one class. */
static const char *error_class(const json_t *code)
{
    const char *s = json_string_value(code);
    if (!s)
        return "";
    if (strcmp(s, "_INVALID_ARG") == 0)
        return "VALIDATION_ERROR";
    return s;
}

/* "CODE [sqlstate] message" of a failed outcome, or "succeeded (N rows)". */
static const char *describe(const json_t *o, char *buf, size_t size)
{
    if (json_is_true(json_object_get(o, "ok"))) {
        snprintf(buf, size, "succeeded (row_count %" JSON_INTEGER_FORMAT ")",
                 json_integer_value(json_object_get(o, "row_count")));
        return buf;
    }
    const char *code = json_string_value(json_object_get(o, "error_code"));
    const char *state = json_string_value(json_object_get(o, "sqlstate"));
    const char *msg = json_string_value(json_object_get(o, "message"));
    snprintf(buf, size, "failed %s%s%s%s: %.200s", code ? code : "(no code)", state ? " [" : "",
             state ? state : "", state ? "]" : "", msg ? msg : "");
    return buf;
}

static bool is_health(const json_t *o)
{
    const char *op = json_string_value(json_object_get(o, "operation_type"));
    return op && strcmp(op, "HEALTH") == 0;
}

static int compare_results(const json_t *ev, const json_t *dr, const json_t *ignore, char *diff,
                           size_t size)
{
    if (!json_is_array(ev) && !json_is_array(dr))
        return 0;
    size_t ne = json_array_size(ev), nd = json_array_size(dr);
    if (ne != nd)
        return dbev_seterr(diff, size, "results: event has %zu operation results, direct %zu", ne,
                           nd);
    for (size_t k = 0; k < ne; k++) {
        const json_t *e = json_array_get(ev, k), *d = json_array_get(dr, k);
        json_int_t ce = json_integer_value(json_object_get(e, "row_count"));
        json_int_t cd = json_integer_value(json_object_get(d, "row_count"));
        if (ce != cd)
            return dbev_seterr(diff, size,
                               "results[%zu].row_count: event %" JSON_INTEGER_FORMAT
                               ", direct %" JSON_INTEGER_FORMAT,
                               k, ce, cd);
        char what[48];
        snprintf(what, sizeof(what), "results[%zu].rows", k);
        if (compare_rows(what, json_object_get(e, "rows"), json_object_get(d, "rows"), false,
                         ignore, diff, size))
            return -1;
    }
    return 0;
}

int parity_compare_step(const json_t *ev, const json_t *dr, bool ordered,
                        const json_t *ignore_columns, char *diff, size_t size)
{
    char a[400], b[400];
    if (!json_is_object(ev) || !json_is_object(dr))
        return dbev_seterr(diff, size, "outcome missing: event %s; direct %s",
                           show(ev, a, sizeof(a)), show(dr, b, sizeof(b)));
    bool ok_e = json_is_true(json_object_get(ev, "ok"));
    bool ok_d = json_is_true(json_object_get(dr, "ok"));
    if (ok_e != ok_d)
        return dbev_seterr(diff, size, "outcome: event %s; direct %s", describe(ev, a, sizeof(a)),
                           describe(dr, b, sizeof(b)));
    if (!ok_e) {
        if (strcmp(error_class(json_object_get(ev, "error_code")),
                   error_class(json_object_get(dr, "error_code"))) != 0)
            return dbev_seterr(diff, size, "error_code: event %s; direct %s",
                               describe(ev, a, sizeof(a)), describe(dr, b, sizeof(b)));
        const json_t *se = json_object_get(ev, "sqlstate"), *sd = json_object_get(dr, "sqlstate");
        const char *te = json_string_value(se), *td = json_string_value(sd);
        if ((te || td) && (!te || !td || strcmp(te, td) != 0))
            return dbev_seterr(diff, size, "sqlstate: event %s; direct %s",
                               describe(ev, a, sizeof(a)), describe(dr, b, sizeof(b)));
        return 0;
    }
    if (is_health(ev) || is_health(dr))
        return 0;
    const json_t *ce = json_object_get(ev, "row_count"), *cd = json_object_get(dr, "row_count");
    if (json_integer_value(ce) != json_integer_value(cd) || !ce != !cd)
        return dbev_seterr(diff, size, "row_count: event %s; direct %s", show(ce, a, sizeof(a)),
                           show(cd, b, sizeof(b)));
    if (compare_rows("rows", json_object_get(ev, "rows"), json_object_get(dr, "rows"), ordered,
                     ignore_columns, diff, size))
        return -1;
    return compare_results(json_object_get(ev, "results"), json_object_get(dr, "results"),
                           ignore_columns, diff, size);
}

int parity_compare(const json_t *event_outcome, const json_t *direct_outcome, bool ordered,
                   char *diff, size_t size)
{
    return parity_compare_step(event_outcome, direct_outcome, ordered, NULL, diff, size);
}

int parity_step_check(const json_t *parity, char *errstr, size_t size)
{
    if (!json_is_object(parity))
        return dbev_seterr(errstr, size, "parity must be a mapping, e.g. {ignore_columns: [id]}");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)parity, key, value)
    {
        if (strcmp(key, "ignore_columns") != 0)
            return dbev_seterr(errstr, size, "parity: unknown key '%s'; known: ignore_columns",
                               key);
        size_t i;
        json_t *name;
        if (!json_is_array(value))
            return dbev_seterr(errstr, size,
                               "parity.ignore_columns must be a list of column names");
        json_array_foreach(value, i, name) if (!json_is_string(name)) return dbev_seterr(
            errstr, size, "parity.ignore_columns[%zu] must be a column name", i);
    }
    return 0;
}
