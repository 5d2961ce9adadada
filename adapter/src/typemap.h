/*
 * Type mapping from PostgreSQL text-format results to JSON, by column type
 * OID: integers as JSON integers, float4/float8/numeric as JSON numbers,
 * booleans, json/jsonb embedded as JSON, uuid/text as strings, timestamps as
 * ISO-8601, arrays (text[], int[], ...) as JSON arrays, NULL as null; any
 * other type as its text. Expects the session settings the pool sets on every
 * connection: DateStyle ISO and TimeZone UTC.
 */
#ifndef ADAPTER_TYPEMAP_H
#define ADAPTER_TYPEMAP_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

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
