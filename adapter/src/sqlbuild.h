/*
 * SQL builder: turns a structured operation (INSERT, UPDATE, DELETE, UPSERT,
 * BATCH_INSERT) into SQL text plus positional parameters. Identifiers are
 * validated by the SQL rules (<dbev/sql.h>: plain names, one optional schema
 * qualifier, no system schema) and always double-quoted; values are never spliced into
 * the text, they travel as $n parameters in text format. JSON objects become
 * their JSON text (PostgreSQL infers json/jsonb from the target column); JSON
 * arrays become PostgreSQL array literals for array-typed columns and JSON
 * text otherwise, which is why the builder asks the caller for a column's
 * kind (a cached catalog lookup in the executor).
 *
 * Also home of the JSON-value-to-parameter conversion shared with SELECT and
 * EXECUTE parameters. No I/O.
 */
#ifndef ADAPTER_SQLBUILD_H
#define ADAPTER_SQLBUILD_H

#include <dbev/protocol.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/** What the builder needs to know about a column to send an array value. */
typedef enum sqlb_colkind {
    SQLB_COL_SCALAR = 0, /* anything but an array type: arrays go as JSON text */
    SQLB_COL_ARRAY,      /* an array type (text[], int[]...): arrays go as {...} literals */
} sqlb_colkind_t;

/**
 * Answers a column's kind; called only for columns that receive a JSON array.
 * table is the validated name as the request gave it (maybe schema-qualified).
 */
typedef sqlb_colkind_t (*sqlb_colkind_fn)(void *opaque, const char *table, const char *column);

/** One statement: SQL text and its parameters (text format, NULL for SQL NULL). */
typedef struct sqlb_query {
    char *sql;     /* owned */
    char **values; /* owned array of nparams owned strings (or NULL) */
    int nparams;
    int cap;
    int nrows; /* BATCH_INSERT: rows this statement inserts; else 0 */
} sqlb_query_t;

/** Frees what a query holds and zeroes it; NULL is a no-op. */
void sqlb_query_clear(sqlb_query_t *q);

/** Frees an array from sqlb_build() and its queries; NULL is a no-op. */
void sqlb_queries_free(sqlb_query_t *qs, size_t n);

/** Most parameters one statement may carry (the protocol's limit is 65535). */
#define SQLB_MAX_PARAMS 65535
/** Most rows in one multi-row INSERT of a BATCH_INSERT. */
#define SQLB_MAX_BATCH_ROWS 1000

/**
 * @brief Builds the statement(s) for an INSERT, UPDATE, DELETE, UPSERT or
 *        BATCH_INSERT operation (BATCH_INSERT may need several statements).
 * @param colkind may be NULL: every column is then SQLB_COL_SCALAR.
 * @returns 0 with *out (free with sqlb_queries_free()) and *nout, or -1 with
 *          errstr naming the problem (a VALIDATION_ERROR for the request).
 */
int sqlb_build(const dbev_operation_t *op, sqlb_colkind_fn colkind, void *opaque,
               sqlb_query_t **out, size_t *nout, char *errstr, size_t size);

/**
 * @brief Converts a JSON value to a text-format parameter.
 * @param as_array for JSON arrays: true gives a PostgreSQL array literal,
 *        false the JSON text.
 * @returns a string to free with free(), or NULL for JSON null (SQL NULL).
 *          *oom is set when allocation failed.
 */
char *sqlb_param_text(const json_t *value, bool as_array, bool *oom);

/**
 * @brief A PostgreSQL text[] literal of n strings (NULL items: SQL NULL
 *        elements), every element quoted.
 * @returns a string to free with free(), or NULL with *oom set.
 */
char *sqlb_text_array(const char *const *items, size_t n, bool *oom);

/**
 * @brief One JSON array of n values, each dumped compactly straight into it
 *        (NULL values: null).
 * @returns a string to free with free(), or NULL with *oom set.
 */
char *sqlb_json_array(const json_t *const *values, size_t n, bool *oom);

/**
 * @brief Formats a double with the fewest digits that read back exactly
 *        (0.95 stays "0.95"). buf at least 32 bytes.
 */
void sqlb_format_double(double d, char *buf, size_t size);

#endif
