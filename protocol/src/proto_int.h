/*
 * Private helpers shared by the protocol's source files: decoding one
 * operation payload (used by the request decoder, by nested TRANSACTION
 * operations and by dbev_operation_validate), identifier and filter checks,
 * and small JSON utilities. Nothing here is exported from the library.
 */
#ifndef DBEV_PROTO_INT_H
#define DBEV_PROTO_INT_H

#include <dbev/protocol.h>

/** Longest identifier part PostgreSQL keeps (NAMEDATALEN - 1). */
#define PROTO_IDENT_MAX 63
/** Most bind parameters one statement may carry (PostgreSQL's wire limit). */
#define PROTO_MAX_PARAMS 65535
/** Longest field path kept in messages ("payload.operations[3].where.x"). */
#define PROTO_PATH_SIZE 160

/** snprintf for field paths (truncation is fine: paths are for messages). */
void proto_pathf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** "object", "array", "string", "integer", "number", "boolean", "null". */
const char *proto_json_type(const json_t *v);

/**
 * Checks an identifier: `name`, or `schema.name` when qualified, each part
 * [A-Za-z_][A-Za-z0-9_$]* of at most PROTO_IDENT_MAX bytes.
 * @returns 0, or -1 with a message naming path in errstr.
 */
int proto_ident_check(const char *ident, bool qualified, const char *path, char *errstr,
                      size_t size);

/**
 * Normalises a `returning` value (string "id", "a, b", "*", or an array of
 * names) into a new array of names (["*"] for all).
 * @returns 0 and a new reference in *out, or -1 with errstr.
 */
int proto_returning_normalise(const json_t *value, const char *path, json_t **out, char *errstr,
                              size_t size);

/** Checks an array of column names: non-empty, identifiers, no duplicates. */
int proto_column_list_check(const json_t *value, const char *path, char *errstr, size_t size);

/** Checks a `where` object (non-empty, identifiers, operators). */
int proto_where_check(const json_t *where, const char *path, char *errstr, size_t size);

/**
 * Decodes and validates one operation payload into op; the json pointers in op
 * are borrowed from payload, which may be modified (a normalised `returning`
 * replaces the original). path prefixes every message ("payload",
 * "payload.operations[2]"); nested is true inside a TRANSACTION.
 * @returns 0, or -1 with errstr; on failure op is cleared.
 */
int proto_operation_decode(json_t *payload, const char *path, bool nested, dbev_operation_t *op,
                           char *errstr, size_t size);

/**
 * Parses buf (len bytes) into the tree json_loadb(buf, len,
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) would build, faster; NULL
 * whenever unsure (any error included): then parse with jansson.
 */
json_t *proto_json_fast_loadb(const char *buf, size_t len);

/** A growing output buffer, starting in caller-given (stack) storage. */
typedef struct proto_buf {
    char *p;
    size_t len, cap;
    bool heap;
} proto_buf_t;

void proto_buf_init(proto_buf_t *b, char *stack, size_t size);
/** Frees the heap storage, if the buffer grew there. */
void proto_buf_release(proto_buf_t *b);
/** Appends n bytes. @returns 0, or -1 when out of memory. */
int proto_buf_put(proto_buf_t *b, const char *s, size_t n);
/** Appends s quoted as jansson quotes it; -1 for non-ASCII (then use jansson). */
int proto_buf_put_string(proto_buf_t *b, const char *s, size_t len);

/**
 * Appends the bytes json_dumps(v, JSON_COMPACT) writes, faster.
 * @returns 0, or -1 when unsure (non-ASCII text, deep nesting, out of
 *          memory): then dump with jansson (b may hold a partial dump).
 */
int proto_json_fast_dump(const json_t *v, proto_buf_t *b);

/** Frees what an operation owns (TRANSACTION's ops, recursively) and zeroes it. */
void proto_operation_clear(dbev_operation_t *op);

/** Deepest nesting of containers in v (a scalar is 0, [] is 1). */
int proto_json_depth(const json_t *v);

/**
 * Checks an ISO-8601 timestamp's shape strictly (what dbev_parse_iso8601 then
 * converts): YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM|-HH:MM].
 */
bool proto_iso8601_shape_ok(const char *text);

#endif
