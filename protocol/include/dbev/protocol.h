/*
 * The dbev event protocol: envelopes, operations and responses as seed 002
 * defines them, plus TRANSACTION, BATCH_INSERT and HEALTH (docs/protocol.md).
 * Decoding validates everything and says precisely what is wrong; encoding
 * produces what the decoder accepts. No I/O: bytes in, structures out.
 *
 * Shared by the adapter, the client and the harness; not part of the
 * client's public API. All functions are thread-safe (no shared state).
 *
 * Ownership: a decoded request or response owns its parsed JSON document
 * (`root`); every `const char *` and `json_t *` field inside it is borrowed
 * from that document and lives until the request/response is destroyed.
 */
#ifndef DBEV_PROTOCOL_H
#define DBEV_PROTOCOL_H

#include <dbev/errors.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DBEV_EVENT_REQUESTED "DATABASE_QUERY_REQUESTED"
#define DBEV_EVENT_COMPLETED "DATABASE_QUERY_COMPLETED"
#define DBEV_EVENT_FAILED    "DATABASE_QUERY_FAILED"

#define DBEV_DEFAULT_MAX_ROWS 1000
/** Largest request event the decoder accepts (bytes); larger is VALIDATION_ERROR. */
#define DBEV_MAX_EVENT_BYTES (1024 * 1024)
#define DBEV_ID_SIZE         128 /* room for a correlation/event id plus NUL */
/** Deepest nesting of objects/arrays a request event may have (the envelope is 1). */
#define DBEV_MAX_JSON_DEPTH 32

typedef enum dbev_op {
    DBEV_OP_SELECT = 0,
    DBEV_OP_INSERT,
    DBEV_OP_UPDATE,
    DBEV_OP_DELETE,
    DBEV_OP_UPSERT,
    DBEV_OP_EXECUTE,
    DBEV_OP_TRANSACTION,
    DBEV_OP_BATCH_INSERT,
    DBEV_OP_HEALTH,
    DBEV_OP__COUNT
} dbev_op_t;

/** "SELECT", "INSERT", ...; NULL for an out-of-range value. */
const char *dbev_op_name(dbev_op_t op);
/** Parses an operation name (exact, upper case); -1 if unknown. */
int dbev_op_parse(const char *name, dbev_op_t *op);
/** Whether the operation may write (everything but SELECT and HEALTH). */
bool dbev_op_is_write(dbev_op_t op);

typedef enum dbev_topic {
    DBEV_TOPIC_REQUESTED = 0, /* <env>.omninode-bridge.database.query-requested.v1 */
    DBEV_TOPIC_COMPLETED,     /* <env>.omninode-bridge.database.query-completed.v1 */
    DBEV_TOPIC_FAILED,        /* <env>.omninode-bridge.database.query-failed.v1 */
    DBEV_TOPIC_REGISTRY,      /* <env>.omninode-bridge.registry.service-registered.v1 */
    DBEV_TOPIC_HEARTBEAT,     /* <env>.omninode-bridge.registry.heartbeat.v1 */
    DBEV_TOPIC__COUNT
} dbev_topic_t;

/** Writes the topic name for environment prefix env (e.g. "dev") into buf; returns buf. */
const char *dbev_topic_name(const char *env, dbev_topic_t topic, char *buf, size_t size);

/** BATCH_INSERT / UPSERT conflict handling. */
typedef enum dbev_conflict {
    DBEV_CONFLICT_NONE = 0,   /* no ON CONFLICT clause: a conflict is an error */
    DBEV_CONFLICT_DO_NOTHING, /* ON CONFLICT (cols) DO NOTHING: duplicates skipped */
    DBEV_CONFLICT_DO_UPDATE,  /* ON CONFLICT (cols) DO UPDATE SET update_columns */
} dbev_conflict_t;

/**
 * One operation: the payload of a request event, or one element of a
 * TRANSACTION's `operations`. Which fields are set depends on `type`;
 * the others are NULL/0. json_t pointers are borrowed (see file comment).
 */
typedef struct dbev_operation {
    dbev_op_t type;
    const char *sql;            /* SELECT, EXECUTE */
    json_t *params;             /* SELECT, EXECUTE: array or NULL */
    const char *table;          /* INSERT, UPDATE, DELETE, UPSERT, BATCH_INSERT */
    json_t *data;               /* INSERT, UPDATE, UPSERT: non-empty object */
    json_t *rows;               /* BATCH_INSERT: non-empty array of objects, same keys */
    json_t *where;              /* UPDATE, DELETE: non-empty object of filters */
    json_t *returning;          /* array of column names, ["*"] for all, or NULL */
    dbev_conflict_t conflict;   /* UPSERT (always DO_UPDATE), BATCH_INSERT */
    json_t *conflict_columns;   /* array of column names when conflict != NONE */
    json_t *update_columns;     /* DO_UPDATE: array; NULL means all non-conflict columns */
    struct dbev_operation *ops; /* TRANSACTION: owned array of n_ops operations */
    size_t n_ops;
    int64_t timeout_ms; /* options.timeout_ms; 0: the adapter's default */
    int64_t max_rows;   /* options.max_rows; DBEV_DEFAULT_MAX_ROWS when absent */
} dbev_operation_t;

/** A decoded request event. */
typedef struct dbev_request {
    json_t *root; /* owned: the whole parsed event */
    const char *event_id;
    const char *event_type;
    const char *correlation_id;
    const char *service;
    int64_t timestamp_us; /* wall clock, epoch microseconds (negative before 1970) */
    /* The decoder sets it: timestamp_us holds the envelope's time. A request
     * built in memory may leave it false (no deadline from its timestamp);
     * 0 is a time like any other (1970-01-01T00:00:00Z), never "absent". */
    bool has_timestamp;
    dbev_operation_t op;
} dbev_request_t;

/**
 * What the decoder could recover from an event it refused, so the adapter can
 * still answer VALIDATION_ERROR on the failed topic with the right ids.
 */
typedef struct dbev_decode_error {
    char message[512];                 /* precise: names the field and the problem */
    char event_id[DBEV_ID_SIZE];       /* "" when not recoverable */
    char correlation_id[DBEV_ID_SIZE]; /* "" when not recoverable */
    int op;                            /* dbev_op_t, or -1 when not recoverable */
} dbev_decode_error_t;

/**
 * @brief Decodes and validates a request event.
 * @returns 0 and a request to free with dbev_request_destroy(), or -1 with
 *          err filled (the event is refused: answer VALIDATION_ERROR).
 * @remark Never crashes on any input: arbitrary bytes, wrong types, huge sizes.
 */
int dbev_request_decode(const void *buf, size_t len, dbev_request_t **out,
                        dbev_decode_error_t *err);

/** Frees a request; NULL is a no-op. */
void dbev_request_destroy(dbev_request_t *req);

/**
 * @brief Validates an operation built in memory (what the client sends),
 *        with the same rules as the decoder.
 * @returns 0, or -1 with a precise message in errstr.
 */
int dbev_operation_validate(const dbev_operation_t *op, char *errstr, size_t size);

/**
 * @brief Encodes an operation as a payload object.
 * @returns a new reference (json_decref it), or NULL on allocation failure
 *          or a string field (sql, table) that is not valid UTF-8.
 */
json_t *dbev_operation_to_json(const dbev_operation_t *op);

/**
 * @brief Wraps a payload in an envelope.
 * @param payload stolen (its reference passes to the envelope).
 * @param timestamp_us 0: now.
 * @returns a new reference, or NULL on allocation failure.
 */
json_t *dbev_envelope_new(const char *event_type, const char *event_id, const char *correlation_id,
                          const char *service, int64_t timestamp_us, json_t *payload);

/**
 * @brief Serialises an event compactly.
 * @returns a string to free with free(), or NULL.
 */
char *dbev_event_dumps(const json_t *event);

/**
 * @brief The bytes of dbev_event_dumps(dbev_envelope_new(...)) without
 *        building the envelope: the payload is dumped once, the envelope's
 *        strings are written around it (what the adapter does for every
 *        response).
 * @param payload borrowed.
 * @returns a string to free with free(), or NULL on allocation failure or a
 *          string that is not valid UTF-8.
 */
char *dbev_envelope_dumps(const char *event_type, const char *event_id, const char *correlation_id,
                          const char *service, int64_t timestamp_us, const json_t *payload);

/** Writes a new random (v4) UUID in canonical text form into buf (>= 37 bytes). */
void dbev_uuid_new(char *buf);

/** Breaker states as they appear in metadata.circuit_breaker_state. */
typedef enum dbev_breaker_state {
    DBEV_BREAKER_CLOSED = 0,
    DBEV_BREAKER_OPEN,
    DBEV_BREAKER_HALF_OPEN,
} dbev_breaker_state_t;

/** "CLOSED", "OPEN", "HALF_OPEN". */
const char *dbev_breaker_state_name(dbev_breaker_state_t state);

/**
 * @brief Builds a completed payload.
 * @param rows stolen; an array of row objects (NULL: empty array).
 * @param metadata stolen; extra metadata fields (NULL: none). `cached`,
 *        `circuit_breaker_state` and `truncated` are always set from the
 *        arguments.
 * @returns a new reference.
 */
json_t *dbev_completed_payload_new(dbev_op_t op, json_t *rows, int64_t row_count,
                                   double execution_time_ms, dbev_breaker_state_t breaker,
                                   bool cached, bool truncated, json_t *metadata);

/**
 * @brief Builds a failed payload.
 * @param error_type e.g. "PostgresError", "ValidationError", "TimeoutError".
 * @param sqlstate NULL when none; goes to metadata.sqlstate.
 * @param metadata stolen; extra metadata fields (NULL: none). `operation`,
 *        `circuit_breaker_state` and `sqlstate` are set from the arguments.
 * @returns a new reference.
 */
json_t *dbev_failed_payload_new(dbev_op_t op, dbev_err_t code, const char *message,
                                const char *error_type, const char *sqlstate,
                                dbev_breaker_state_t breaker, json_t *metadata);

/** A decoded response event (completed or failed). */
typedef struct dbev_response {
    json_t *root;   /* owned */
    bool completed; /* true: DATABASE_QUERY_COMPLETED, false: FAILED */
    const char *event_id;
    const char *correlation_id;
    const char *service;
    int64_t timestamp_us;
    int op; /* dbev_op_t, or -1 when the adapter could not tell */
    /* completed */
    json_t *rows; /* array */
    int64_t row_count;
    double execution_time_ms;
    json_t *results; /* TRANSACTION: array of per-operation completed payloads, else NULL */
    /* failed */
    dbev_err_t error_code;
    const char *error_message;
    const char *error_type;
    const char *sqlstate; /* NULL when none */
    /* both */
    json_t *metadata; /* object */
    bool cached;
    bool truncated;
    const char *circuit_breaker_state; /* NULL when absent */
} dbev_response_t;

/**
 * @brief Decodes a completed or failed event.
 * @returns 0 and a response to free with dbev_response_destroy(), or -1 with errstr.
 */
int dbev_response_decode(const void *buf, size_t len, dbev_response_t **out, char *errstr,
                         size_t size);

/** Frees a response; NULL is a no-op. */
void dbev_response_destroy(dbev_response_t *resp);

#ifdef __cplusplus
}
#endif
#endif
