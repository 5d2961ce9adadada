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
#ifndef DBEV_SQL_BUILD_H
#define DBEV_SQL_BUILD_H

#include <dbev/protocol.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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


/*
 * Type mapping from PostgreSQL text-format results to JSON, by column type
 * OID: integers as JSON integers, float4/float8/numeric as JSON numbers,
 * booleans, json/jsonb embedded as JSON, uuid/text as strings, timestamps as
 * ISO-8601, arrays (text[], int[], ...) as JSON arrays, NULL as null; any
 * other type as its text. Expects the session settings the pool sets on every
 * connection: DateStyle ISO and TimeZone UTC.
 */
/* Built-in type OIDs (pg_type.dat); stable across PostgreSQL versions. */
#define TM_BOOLOID        16
#define TM_INT8OID        20
#define TM_INT2OID        21
#define TM_INT4OID        23
#define TM_TEXTOID        25
#define TM_OIDOID         26
#define TM_JSONOID        114
#define TM_FLOAT4OID      700
#define TM_FLOAT8OID      701
#define TM_BPCHAROID      1042
#define TM_VARCHAROID     1043
#define TM_DATEOID        1082
#define TM_TIMESTAMPOID   1114
#define TM_TIMESTAMPTZOID 1184
#define TM_NUMERICOID     1700
#define TM_UUIDOID        2950
#define TM_JSONBOID       3802

/** Element type of a built-in array type OID, or 0 when oid is not one. */
unsigned tm_array_elem(unsigned oid);

/**
 * @brief Converts one text-format value of type oid to JSON.
 * @returns a new reference (never NULL unless out of memory).
 */
json_t *tm_value(unsigned oid, const char *text, size_t len);

/**
 * @brief Parses a PostgreSQL array literal ("{1,2,NULL}", "{{a,b},{c,d}}",
 *        "[0:1]={x,y}") converting each element with tm_value(elem_oid).
 * @returns a new JSON array, or NULL when the text is not an array literal.
 */
json_t *tm_parse_array(const char *text, unsigned elem_oid);

/**
 * @brief Rewrites PostgreSQL's ISO timestamp output as ISO-8601:
 *        "2025-10-30 10:00:00.5+00" -> "2025-10-30T10:00:00.5Z",
 *        "... +05:30" stays an offset ("+05:30"); "infinity" unchanged.
 *        out at least len + 8 bytes.
 */
void tm_timestamp_iso(const char *text, char *out, size_t size);

/**
 * @brief A numeric's text as JSON: an integer when it is integral and fits
 *        in 64 bits, a real otherwise; "NaN"/"Infinity" stay strings.
 */
json_t *tm_numeric(const char *text);

/**
 * @brief Converts a result's rows into an array of objects keyed by column
 *        name, at most max_rows of them (max_rows <= 0: no limit).
 * @param truncated set when the result had more rows than max_rows.
 * @returns a new reference, or NULL when out of memory.
 */
json_t *tm_rows(const PGresult *res, int64_t max_rows, bool *truncated);

#endif
