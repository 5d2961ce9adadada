/*
 * Scenario variables: `${...}` placeholders substituted anywhere in a step.
 * Thread-safe: parallel steps share one set.
 *   ${uuid}          a new UUID at each use
 *   ${uuid:name}     one UUID per name, stable for the whole scenario
 *   ${seq}           a counter, 1, 2, 3 ... per scenario (load: per request,
 *                    bound with vars_substitute_with())
 *   ${now}           the current time, ISO-8601 UTC
 *   ${rand:LO..HI}   an integer drawn uniformly from [LO, HI] (seeded)
 *   ${repeat:N:TEXT} TEXT N times (huge or deeply nested hostile input);
 *                    at most VARS_REPEAT_MAX bytes
 *   ${name}          a value captured earlier with `save:`
 * A string that is exactly one placeholder takes the value's JSON type (a
 * saved integer stays an integer); inside longer text the value is printed.
 */
#ifndef HARNESS_VARS_H
#define HARNESS_VARS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vars vars_t;

#define VARS_REPEAT_MAX (16 * 1024 * 1024)

/** New variable set; seed drives ${rand} (the run's --seed). Free with vars_destroy(). */
vars_t *vars_new(uint64_t seed);
void vars_destroy(vars_t *vars);

/** Captures value (a new reference is taken) under name for later ${name}. */
int vars_set(vars_t *vars, const char *name, json_t *value);

/** The captured value, borrowed; NULL when not set. */
json_t *vars_get(const vars_t *vars, const char *name);

/**
 * @brief Returns a deep copy of template with every placeholder substituted.
 * @returns a new reference, or NULL with errstr naming the unknown variable
 *          or malformed placeholder.
 */
json_t *vars_substitute(vars_t *vars, const json_t *template_value, char *errstr, size_t size);

/** A value bound to a placeholder name for one substitution. */
typedef struct vars_binding {
    const char *name;    /* the placeholder's body: "seq" binds ${seq} */
    const json_t *value; /* borrowed; the result may share it */
} vars_binding_t;

/**
 * @brief vars_substitute() with names bound for this call only, looked up
 *        before every other placeholder. The one engine for a value drawn
 *        once and shared by every use: a load request binds ${seq} (from
 *        vars_next_seq()) and ${req_uuid}, so its body and its write key
 *        agree. A string that is exactly a bound placeholder takes the
 *        bound value's type, as for any other placeholder.
 * @returns a new reference, or NULL with errstr as vars_substitute().
 */
json_t *vars_substitute_with(vars_t *vars, const json_t *template_value,
                             const vars_binding_t *bindings, size_t n_bindings, char *errstr,
                             size_t size);

/** Draws the scenario's next ${seq} (1, 2, 3 ...), as one use of ${seq} does. */
json_int_t vars_next_seq(vars_t *vars);

/**
 * @brief Looks up a path such as "rows[0].id" or "row_count" in value.
 * @returns the value found (borrowed), or NULL when the path leads nowhere.
 */
json_t *vars_path_get(json_t *value, const char *path);

#endif
