/*
 * The SQL text dbev writes and the values it reads back, on top of the SQL
 * rules (<dbev/sql.h>). The adapter's executor and the harness's direct path
 * both use it, so the two send the same statements and answer the same JSON.
 *
 * Building. A structured operation (INSERT, UPDATE, DELETE, UPSERT,
 * BATCH_INSERT) becomes SQL text plus positional parameters. Identifiers are
 * validated by the SQL rules (plain names, one optional schema qualifier, no
 * system schema) and always double-quoted; values are never spliced into
 * the text, they travel as $n parameters in text format. JSON objects
 * become their JSON text (PostgreSQL infers json/jsonb from the target
 * column); JSON arrays become PostgreSQL array literals for array-typed
 * columns and JSON text otherwise, which is why the builder asks the caller
 * for a column's kind (a cached catalog lookup: the caller owns the
 * connection).
 *
 * Type mapping. PostgreSQL's text-format results become JSON by column type
 * OID: integers as JSON integers, float4/float8/numeric as JSON numbers,
 * booleans, json/jsonb embedded as JSON, uuid/text as strings, timestamps as
 * ISO-8601, arrays (text[], int[], ...) as JSON arrays, NULL as null; any
 * other type as its text. It expects the session settings the adapter's
 * pool sets on every connection (DateStyle ISO, TimeZone UTC).
 *
 * No I/O and no shared state: every function is thread-safe. Strings and
 * queries returned are the caller's, freed as each function says.
 */
#ifndef DBEV_SQL_BUILD_H
#define DBEV_SQL_BUILD_H

#include <dbev/protocol.h>
#include <dbev/sql.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- statements ---------------------------------------------------------- */

/** One statement: SQL text and its parameters (text format, NULL for SQL NULL). */
typedef struct dbev_sql_query {
    char *sql;     /* owned */
    char **values; /* owned array of nparams owned strings (or NULL) */
    int nparams;
    int cap;
    int nrows; /* BATCH_INSERT: rows this statement inserts; else 0 */
} dbev_sql_query_t;

/** Frees what a query holds and zeroes it; NULL is a no-op. */
void dbev_sql_query_clear(dbev_sql_query_t *q);

/** Frees an array from dbev_sql_build() and its queries; NULL is a no-op. */
void dbev_sql_queries_free(dbev_sql_query_t *qs, size_t n);

/** Most rows in one multi-row INSERT of a BATCH_INSERT (and at most
 *  DBEV_SQL_MAX_PARAMS values in it). */
#define DBEV_SQL_MAX_BATCH_ROWS 1000

/** What the builder needs to know about a column to send an array value. */
typedef enum dbev_sql_colkind {
    DBEV_SQL_COL_SCALAR = 0, /* anything but an array type: arrays go as JSON text */
    DBEV_SQL_COL_ARRAY,      /* an array type (text[], int[]...): arrays go as {...} literals */
} dbev_sql_colkind_t;

/**
 * Answers a column's kind; called only for columns that receive a JSON array.
 * table is the validated name as the request gave it (maybe schema-qualified).
 */
typedef dbev_sql_colkind_t (*dbev_sql_colkind_fn)(void *opaque, const char *table,
                                                  const char *column);

/**
 * @brief Builds the statement(s) for an INSERT, UPDATE, DELETE, UPSERT or
 *        BATCH_INSERT operation (BATCH_INSERT may need several statements).
 * @param colkind may be NULL: every column is then DBEV_SQL_COL_SCALAR.
 * @returns 0 with *out (free with dbev_sql_queries_free()) and *nout, or -1
 *          with errstr naming the problem (a VALIDATION_ERROR for the request).
 */
int dbev_sql_build(const dbev_operation_t *op, dbev_sql_colkind_fn colkind, void *opaque,
                   dbev_sql_query_t **out, size_t *nout, char *errstr, size_t size);

/* ---- values as parameters ------------------------------------------------ */

/**
 * @brief Converts a JSON value to a text-format parameter: numbers with the
 *        fewest digits that read back exactly (0.95 stays "0.95"), strings
 *        as they are, objects as their JSON text.
 * @param as_array for JSON arrays: true gives a PostgreSQL array literal,
 *        false the JSON text.
 * @returns a string to free with free(), or NULL for JSON null (SQL NULL).
 *          *oom is set when allocation failed.
 */
char *dbev_sql_param_text(const json_t *value, bool as_array, bool *oom);

/**
 * @brief A PostgreSQL text[] literal of n strings (NULL items: SQL NULL
 *        elements), every element quoted: {"a","b\"c",NULL}.
 * @returns a string to free with free(), or NULL with *oom set.
 */
char *dbev_sql_text_array(const char *const *items, size_t n, bool *oom);

/**
 * @brief One JSON array of n values, each dumped compactly straight into it
 *        (NULL values: null).
 * @returns a string to free with free(), or NULL with *oom set.
 */
char *dbev_sql_json_array(const json_t *const *values, size_t n, bool *oom);

/* ---- a caller's SQL ----------------------------------------------------- */

/**
 * Answers the parameter types PostgreSQL infers for sql (Parse and Describe
 * of an unnamed statement: the caller owns the connection and its I/O).
 * @returns the statement's number of parameters, the types of the first max
 *          of them written to types; or -1 when it cannot be described (the
 *          statement then fails on its own when run).
 */
typedef int (*dbev_sql_describe_fn)(void *opaque, const char *sql, unsigned *types, int max);

/**
 * @brief The statement of a SELECT or EXECUTE: the caller's SQL as given,
 *        its params converted with dbev_sql_param_text(). A JSON array goes
 *        as an array literal when PostgreSQL says its parameter is
 *        array-typed, as JSON text otherwise (a json/jsonb parameter), so
 *        describe is called once, and only when some value is a JSON array.
 * @param params a JSON array of values for $1, $2, ...; NULL: none.
 * @param describe may be NULL: JSON arrays then go as JSON text.
 * @param oom may be NULL; set when the failure was allocation.
 * @returns 0 with *q filled (free with dbev_sql_query_clear()), or -1 with
 *          *q empty and errstr: "too many parameters (N)" over
 *          DBEV_SQL_MAX_PARAMS, or "out of memory".
 */
int dbev_sql_build_params(const char *sql, const json_t *params, dbev_sql_describe_fn describe,
                          void *opaque, dbev_sql_query_t *q, bool *oom, char *errstr, size_t size);

/* ---- asking the server (the caller does the I/O) ----------------------- */

/**
 * @brief The catalog query that answers the kinds of a table's columns, for
 *        a dbev_sql_colkind_fn: one parameter, the table as
 *        dbev_sql_colkind_param() writes it; its rows are read with
 *        dbev_sql_colkinds().
 * @returns a static string.
 */
const char *dbev_sql_colkind_query(void);

/**
 * @brief Writes table (a validated name, maybe schema-qualified) as
 *        dbev_sql_colkind_query()'s $1: "table" or "schema"."table".
 */
void dbev_sql_colkind_param(const char *table, char *buf, size_t size);

/**
 * @brief The kinds of a table's columns from dbev_sql_colkind_query()'s
 *        result: {column: true when array-typed}. Empty when res is not a
 *        result with rows (NULL, an error, a table that does not exist).
 * @returns a new reference, or NULL when out of memory.
 */
json_t *dbev_sql_colkinds(const PGresult *res);

/**
 * @brief The parameter types of a described statement (the result of
 *        PQdescribePrepared() or of a PQsendDescribePrepared()): the first
 *        max written to types, for a dbev_sql_describe_fn.
 * @returns the statement's number of parameters, or -1 when res is not a
 *          successful description.
 */
int dbev_sql_param_types(const PGresult *res, unsigned *types, int max);

/* ---- type mapping -------------------------------------------------------- */

/* Built-in type OIDs (pg_type.dat); stable across PostgreSQL versions. */
#define DBEV_SQL_OID_BOOL        16
#define DBEV_SQL_OID_INT8        20
#define DBEV_SQL_OID_INT2        21
#define DBEV_SQL_OID_INT4        23
#define DBEV_SQL_OID_TEXT        25
#define DBEV_SQL_OID_OID         26
#define DBEV_SQL_OID_JSON        114
#define DBEV_SQL_OID_FLOAT4      700
#define DBEV_SQL_OID_FLOAT8      701
#define DBEV_SQL_OID_BPCHAR      1042
#define DBEV_SQL_OID_VARCHAR     1043
#define DBEV_SQL_OID_DATE        1082
#define DBEV_SQL_OID_TIMESTAMP   1114
#define DBEV_SQL_OID_TIMESTAMPTZ 1184
#define DBEV_SQL_OID_NUMERIC     1700
#define DBEV_SQL_OID_UUID        2950
#define DBEV_SQL_OID_JSONB       3802

/** Element type of a built-in array type OID, or 0 when oid is not one. */
unsigned dbev_sql_type_array_elem(unsigned oid);

/**
 * @brief Converts one text-format value of type oid to JSON. Numerics are
 *        integers when integral and within 64 bits, reals otherwise; NaN and
 *        the infinities stay strings (JSON has no such numbers). Timestamps
 *        become ISO-8601 ("2025-10-30 10:00:00.5+00" ->
 *        "2025-10-30T10:00:00.5Z"; "+05:30" stays an offset). Array literals
 *        ("{1,2,NULL}", "{{a,b},{c,d}}", "[0:1]={x,y}") become JSON arrays
 *        of converted elements; a text that is not one stays a string.
 * @returns a new reference (never NULL unless out of memory).
 */
json_t *dbev_sql_value_to_json(unsigned oid, const char *text, size_t len);

/**
 * @brief Converts a result's rows into an array of objects keyed by column
 *        name, at most max_rows of them (max_rows <= 0: no limit).
 * @param truncated set when the result had more rows than max_rows.
 * @returns a new reference, or NULL when out of memory.
 */
json_t *dbev_sql_rows_to_json(const PGresult *res, int64_t max_rows, bool *truncated);

/* ---- session settings ---------------------------------------------------- */

/**
 * @brief The i-th statement of the session settings the type mapping
 *        expects (DateStyle ISO, TimeZone UTC, extra_float_digits 1,
 *        IntervalStyle iso_8601), one SET each, for a pipeline or the
 *        extended protocol, which take one statement per message.
 * @returns a static string, or NULL when i is past the last one.
 */
const char *dbev_sql_session_setting(size_t i);

/**
 * @brief The same settings as one text of statements separated by "; ",
 *        for the simple query protocol (PQexec).
 * @returns a static string.
 */
const char *dbev_sql_session_settings_text(void);

/**
 * @brief Whether conn reports the settings already (the server's
 *        ParameterStatus of DateStyle, TimeZone and IntervalStyle, so no
 *        round trip): false after a connect or a DISCARD ALL that did not
 *        apply them.
 */
bool dbev_sql_session_ready(const PGconn *conn);

#ifdef __cplusplus
}
#endif

#endif
