/*
 * The configuration engine of the adapter and the client: a component
 * describes its keys once, as a static table of dbev_prop_t rows (name, type,
 * default, range or allowed values, environment fallback, secret flag,
 * description, or "renamed to"), and this engine does everything a
 * configuration does with it: lookup, typed validation with an errstr that
 * names the key, the problem and the fix, the effective value (explicit >
 * environment > default), the dump with secrets masked, the Markdown
 * reference and the --help text. Before it, each component had its own copy
 * of all this, and their key names drifted apart (topic.env vs topic.prefix).
 *
 * What stays with a component: its table, its cross-key rules (pool.min <=
 * pool.max), and its pass-through prefixes ("kafka.", "pg."), which the table
 * names and a hook checks (librdkafka's and libpq's own key lists).
 *
 * Internal: not part of libdbev's public API. The symbols are prefixed
 * dbev_conf_table_ / dbev_prop_ and hidden (-fvisibility=hidden), so
 * libdbev.so does not export them. A values object belongs to one thread at
 * a time, like the conf that embeds it.
 */
#ifndef DBEV_CONF_TABLE_H
#define DBEV_CONF_TABLE_H

#include "dbev_common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dbev_prop_type {
    DBEV_PROP_STR,  /**< text; optional length range and character set */
    DBEV_PROP_INT,  /**< decimal int64 within [min, max] */
    DBEV_PROP_BOOL, /**< true/false (also 1/0, yes/no, on/off) */
    DBEV_PROP_ENUM, /**< one of the comma-separated `allowed` values */
} dbev_prop_type_t;

/** No upper bound of a DBEV_PROP_INT row (shown as "min.." in the docs). */
#define DBEV_PROP_NO_MAX INT64_MAX

/** One key of a component's configuration. */
typedef struct dbev_prop {
    const char *name;
    dbev_prop_type_t type;
    /** Default as text; "" means unset (the underlying library's default). An
     *  INT row whose default is "" also accepts "". */
    const char *def;
    /** INT: the allowed range. STR: the allowed length, max 0 for no limit
     *  (min 1, max 0: must not be empty). */
    int64_t min, max;
    /** ENUM: the allowed values, comma-separated. STR: NULL for any text,
     *  else the characters allowed besides ASCII letters and digits. */
    const char *allowed;
    /** Environment variable read when the key is not set, or NULL. */
    const char *env;
    /** Never logged, dumped or echoed in an errstr. */
    bool secret;
    const char *desc;
    /** Non-NULL: this row is a deprecated name of the key renamed_to; every
     *  other field but name is unused. Setting it sets that key and logs one
     *  warning per values object. Write it with DBEV_PROP_RENAMED(). */
    const char *renamed_to;
} dbev_prop_t;

/** A key's row, fields in the order of dbev_prop_t. A macro rather than a
 *  bare initializer so that tables need not spell out renamed_to (-Wextra
 *  warns about positional initializers that leave fields out). */
#define DBEV_PROP(name, type, def, min, max, allowed, env, secret, desc)                           \
    {                                                                                              \
        (name), (type), (def), (min), (max), (allowed), (env), (secret), (desc), NULL              \
    }

/** A row saying that key `old` is now called `now`. */
#define DBEV_PROP_RENAMED(old, now)                                                                \
    {                                                                                              \
        .name = (old), .renamed_to = (now)                                                         \
    }

/** Results; the same numbers as dbev_conf_res_t and dbev_adapter_conf_res_t. */
typedef enum dbev_prop_res {
    DBEV_PROP_UNKNOWN = -2, /**< no such key */
    DBEV_PROP_INVALID = -1, /**< wrong type, out of range, not allowed */
    DBEV_PROP_OK = 0,
} dbev_prop_res_t;

/**
 * Checks a pass-through key before it is stored.
 * @param key the full key, prefix included ("kafka.linger.ms"); never just
 *        the prefix (the engine refuses that itself).
 * @param value NULL when the key is being unset.
 * @returns DBEV_PROP_OK to store it, else UNKNOWN/INVALID with errstr.
 */
typedef dbev_prop_res_t(dbev_prop_passthrough_cb)(const char *key, const char *value, char *errstr,
                                                  size_t size);

/** A component's configuration: static, one per component. */
typedef struct dbev_conf_table {
    const char *component; /**< "adapter", "client": names the log lines */
    const dbev_prop_t *props;
    size_t n_props;
    /** A DBEV_PROP_BOOL key that turns every environment fallback off when
     *  false ("env.fallback"), or NULL: fallbacks are always read. */
    const char *env_switch;
    /** NULL-terminated list of pass-through prefixes ("kafka.", "pg."), or NULL. */
    const char *const *passthrough_prefixes;
    /** Checks pass-through keys; NULL accepts every one. */
    dbev_prop_passthrough_cb *passthrough_check;
    /** Where the keys are listed, ending the unknown-key message
     *  ("dbev-adapter --help lists them"). */
    const char *help_hint;
} dbev_conf_table_t;

/** A pass-through entry; key includes its prefix. */
typedef struct dbev_prop_kv {
    char *key;
    char *value;
} dbev_prop_kv_t;

/**
 * The values a configuration holds for one table. Embedded by value in the
 * component's conf object; its fields are the engine's: read them through the
 * functions below.
 */
typedef struct dbev_prop_values {
    const dbev_conf_table_t *table;
    char **vals;  /* n_props explicit values, NULL: not set */
    bool *warned; /* n_props: a renamed row's warning was given */
    dbev_prop_kv_t *pt;
    size_t n_pt;
    /** Where deprecation warnings go; cb NULL drops them. The component keeps
     *  it in step with its own log settings. */
    dbev_logger_t logger;
} dbev_prop_values_t;

/* --- the table ---------------------------------------------------------- */

/**
 * @brief Finds key in the table, following a renamed row to its new key.
 * @param idx receives the row index of the key found (may be NULL).
 * @param renamed receives the renamed row when key is an old name, else NULL
 *        (may be NULL).
 * @returns the row of the key (never a renamed row), or NULL.
 */
const dbev_prop_t *dbev_conf_table_find(const dbev_conf_table_t *table, const char *key,
                                        size_t *idx, const dbev_prop_t **renamed);

/**
 * @brief Checks value against the row's type, range and allowed values.
 * @param label how the key is named in errstr (the key, maybe with where the
 *        value came from).
 * @returns 0, or -1 with errstr naming label, the problem and the fix. A
 *          secret's value never appears in errstr.
 */
int dbev_conf_table_check(const dbev_prop_t *prop, const char *label, const char *value,
                          char *errstr, size_t size);

/**
 * @brief Writes the Markdown reference table: a header row, one row per key
 *        in table order (key, type, default, range, environment,
 *        description), then one row per renamed key. The component writes
 *        its title and prose before, and rows of its own after.
 */
void dbev_conf_table_markdown(const dbev_conf_table_t *table, FILE *fp);

/** @brief Writes the plain --help text of every key, two lines each. */
void dbev_conf_table_help(const dbev_conf_table_t *table, FILE *fp);

/* --- values ------------------------------------------------------------- */

/**
 * @brief Prepares values with every key unset (logger: dropped).
 * @returns 0, or -1 when out of memory (then clear it anyway).
 */
int dbev_prop_values_init(dbev_prop_values_t *values, const dbev_conf_table_t *table);

/** Frees what values holds. A zeroed or cleared values is a no-op. */
void dbev_prop_values_clear(dbev_prop_values_t *values);

/**
 * @brief Copies the explicit values, pass-throughs, warnings given and logger
 *        of src into dst, freshly initialised for the same table.
 * @returns 0, or -1 when out of memory.
 */
int dbev_prop_values_copy(dbev_prop_values_t *dst, const dbev_prop_values_t *src);

/**
 * @brief Sets key to value after checking it: a table key (an old name sets
 *        its new key, with one warning), or a key under a pass-through prefix.
 * @param value NULL unsets the key (its environment fallback and default
 *        apply again; a pass-through entry is removed).
 * @returns DBEV_PROP_OK, or UNKNOWN/INVALID with one line in errstr naming the
 *          key, the problem and the fix. A refused value leaves the old one.
 */
dbev_prop_res_t dbev_prop_values_set(dbev_prop_values_t *values, const char *key, const char *value,
                                     char *errstr, size_t size);

/**
 * @brief The effective value of a table key (old names followed) or the value
 *        of a pass-through entry.
 * @returns a string borrowed from values, the environment or the table (valid
 *          until the key is set again or the variable changes), or NULL when
 *          the key is unknown or the pass-through entry is not set.
 */
const char *dbev_prop_values_get(const dbev_prop_values_t *values, const char *key);

/** The effective value of row idx: explicit, else environment, else default. Never NULL. */
const char *dbev_prop_values_value(const dbev_prop_values_t *values, size_t idx);

/** Row idx as a number (booleans 0/1); an unparsable value gives the default's, else 0. */
int64_t dbev_prop_values_int(const dbev_prop_values_t *values, size_t idx);

/** Row idx as a boolean; an unparsable value gives the default's, else false. */
bool dbev_prop_values_bool(const dbev_prop_values_t *values, size_t idx);

/**
 * @brief Checks the effective value of every key not set explicitly (set()
 *        checked those): environment values and defaults.
 * @returns 0, or -1 with errstr, naming the environment variable when the
 *          value came from one.
 */
int dbev_prop_values_validate(const dbev_prop_values_t *values, char *errstr, size_t size);

/** Writes "key=value" per table key then per pass-through, secrets as "***". */
void dbev_prop_values_dump(const dbev_prop_values_t *values, FILE *fp);

/** The i-th pass-through entry, in the order first set; NULL past the end. */
const dbev_prop_kv_t *dbev_prop_values_passthrough(const dbev_prop_values_t *values, size_t i);

/**
 * @brief The librdkafka property a "kafka." pass-through sets on one handle,
 *        the one rule of the adapter and the client: kafka.consumer.X only on
 *        the consumer, kafka.producer.X only on the producer, kafka.X on both.
 * @param name the key without its "kafka." prefix
 * @param consumer which handle is being configured
 * @returns X (a pointer into name), or NULL when the key is the other
 *          handle's.
 */
const char *dbev_kafka_property_for(const char *name, bool consumer);

#ifdef __cplusplus
}
#endif
#endif
