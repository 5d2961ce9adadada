/*
 * Response events: building the completed and failed payloads the adapter
 * publishes, and decoding them on the client's side. The builders always set
 * the metadata every response carries (breaker state, and cached/truncated or
 * operation/sqlstate), so a caller cannot forget them. The decoder is lenient
 * where seed 002's examples are (extra metadata such as "sql" is kept) and
 * strict on what the client relies on: the event type, the correlation id,
 * and for failures a wire error code.
 */
#include "proto_int.h"

#include <dbev_common.h>

#include <stdlib.h>
#include <string.h>

/* A JSON string from text that may not be valid UTF-8 (a server message in
 * another encoding): invalid bytes become '?'. */
static json_t *string_lossy(const char *text)
{
    if (!text)
        return json_null();
    json_t *s = json_string(text);
    if (s)
        return s;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
    s = json_string(copy);
    free(copy);
    return s;
}

static json_t *op_name_json(dbev_op_t op)
{
    const char *name = dbev_op_name(op);
    return name ? json_string(name) : json_null();
}

/* Takes metadata (stolen) or makes a new object. */
static json_t *metadata_object(json_t *metadata)
{
    if (json_is_object(metadata))
        return metadata;
    json_decref(metadata);
    return json_object();
}

json_t *dbev_completed_payload_new(dbev_op_t op, json_t *rows, int64_t row_count,
                                   double execution_time_ms, dbev_breaker_state_t breaker,
                                   bool cached, bool truncated, json_t *metadata)
{
    json_t *payload = json_object();
    metadata = metadata_object(metadata);
    if (!rows)
        rows = json_array();
    if (!payload || !metadata || !rows) {
        json_decref(payload);
        json_decref(metadata);
        json_decref(rows);
        return NULL;
    }
    int rc = json_object_set_new(metadata, "cached", json_boolean(cached));
    rc |= json_object_set_new(metadata, "circuit_breaker_state",
                              json_string(dbev_breaker_state_name(breaker)));
    rc |= json_object_set_new(metadata, "truncated", json_boolean(truncated));
    rc |= json_object_set_new(payload, "operation_type", op_name_json(op));
    rc |= json_object_set_new(payload, "rows", rows);
    rc |= json_object_set_new(payload, "row_count", json_integer(row_count));
    rc |= json_object_set_new(payload, "execution_time_ms", json_real(execution_time_ms));
    rc |= json_object_set_new(payload, "metadata", metadata);
    if (rc != 0) {
        json_decref(payload);
        return NULL;
    }
    return payload;
}

static const char *default_error_type(dbev_err_t code)
{
    switch (code) {
    case DBEV_ERR_DATABASE_CONNECTION_FAILED:
        return "ConnectionError";
    case DBEV_ERR_DATABASE_OPERATION_FAILED:
        return "PostgresError";
    case DBEV_ERR_VALIDATION_ERROR:
        return "ValidationError";
    case DBEV_ERR_TIMEOUT_ERROR:
        return "TimeoutError";
    case DBEV_ERR_CIRCUIT_BREAKER_OPEN:
        return "CircuitBreakerOpenError";
    default:
        return "Error";
    }
}

json_t *dbev_failed_payload_new(dbev_op_t op, dbev_err_t code, const char *message,
                                const char *error_type, const char *sqlstate,
                                dbev_breaker_state_t breaker, json_t *metadata)
{
    json_t *payload = json_object();
    metadata = metadata_object(metadata);
    if (!payload || !metadata) {
        json_decref(payload);
        json_decref(metadata);
        return NULL;
    }
    int rc = json_object_set_new(metadata, "operation", op_name_json(op));
    rc |= json_object_set_new(metadata, "circuit_breaker_state",
                              json_string(dbev_breaker_state_name(breaker)));
    rc |= json_object_set_new(metadata, "sqlstate", string_lossy(sqlstate));
    rc |= json_object_set_new(payload, "operation_type", op_name_json(op));
    rc |= json_object_set_new(payload, "error_code", json_string(dbev_err2name(code)));
    rc |= json_object_set_new(payload, "error_message",
                              string_lossy(message ? message : dbev_err2str(code)));
    rc |= json_object_set_new(payload, "error_type",
                              string_lossy(error_type ? error_type : default_error_type(code)));
    rc |= json_object_set_new(payload, "metadata", metadata);
    if (rc != 0) {
        json_decref(payload);
        return NULL;
    }
    return payload;
}

static int opt_string(json_t *obj, const char *key, const char *path, const char **out,
                      char *errstr, size_t size)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "%s%s: must be a string, got %s", path, key,
                           proto_json_type(v));
    *out = json_string_value(v);
    return 0;
}

static int opt_bool(json_t *obj, const char *key, bool *out, char *errstr, size_t size)
{
    json_t *v = json_object_get(obj, key);
    *out = false;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return dbev_seterr(errstr, size, "payload.metadata.%s: must be a boolean, got %s", key,
                           proto_json_type(v));
    *out = json_is_true(v);
    return 0;
}

static int decode_completed(dbev_response_t *resp, json_t *payload, char *errstr, size_t size)
{
    json_t *rows = json_object_get(payload, "rows");
    if (!rows || json_is_null(rows)) {
        rows = json_array();
        if (!rows || json_object_set_new(payload, "rows", rows) < 0)
            return dbev_seterr(errstr, size, "payload.rows: out of memory");
    }
    if (!json_is_array(rows))
        return dbev_seterr(errstr, size, "payload.rows: must be an array of row objects, got %s",
                           proto_json_type(rows));
    resp->rows = rows;
    json_t *v = json_object_get(payload, "row_count");
    if (!v || json_is_null(v)) {
        resp->row_count = (int64_t)json_array_size(rows);
    } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
        resp->row_count = json_integer_value(v);
    } else {
        return dbev_seterr(errstr, size, "payload.row_count: must be a non-negative integer");
    }
    v = json_object_get(payload, "execution_time_ms");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v))
            return dbev_seterr(errstr, size, "payload.execution_time_ms: must be a number, got %s",
                               proto_json_type(v));
        resp->execution_time_ms = json_number_value(v);
    }
    v = json_object_get(payload, "results");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v))
            return dbev_seterr(errstr, size,
                               "payload.results: must be an array of completed payloads, got %s",
                               proto_json_type(v));
        resp->results = v;
    }
    return 0;
}

static int decode_failed(dbev_response_t *resp, json_t *payload, char *errstr, size_t size)
{
    json_t *v = json_object_get(payload, "error_code");
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "payload.error_code: %s; expected a wire error code",
                           v ? "must be a string" : "missing");
    if (dbev_err_from_name(json_string_value(v), &resp->error_code) < 0)
        return dbev_seterr(errstr, size, "payload.error_code: unknown code \"%.64s\"",
                           json_string_value(v));
    v = json_object_get(payload, "error_message");
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "payload.error_message: %s",
                           v ? "must be a string" : "missing");
    resp->error_message = json_string_value(v);
    if (opt_string(payload, "error_type", "payload.", &resp->error_type, errstr, size) < 0)
        return -1;
    return opt_string(resp->metadata, "sqlstate", "payload.metadata.", &resp->sqlstate, errstr,
                      size);
}

static int response_decode(dbev_response_t *resp, char *errstr, size_t size)
{
    json_t *root = resp->root;
    if (!json_is_object(root))
        return dbev_seterr(errstr, size, "event: must be a JSON object, got %s",
                           proto_json_type(root));
    json_t *v = json_object_get(root, "event_type");
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "event_type: %s", v ? "must be a string" : "missing");
    if (strcmp(json_string_value(v), DBEV_EVENT_COMPLETED) == 0)
        resp->completed = true;
    else if (strcmp(json_string_value(v), DBEV_EVENT_FAILED) == 0)
        resp->completed = false;
    else
        return dbev_seterr(errstr, size, "event_type: \"%.64s\" is not %s or %s",
                           json_string_value(v), DBEV_EVENT_COMPLETED, DBEV_EVENT_FAILED);
    if (opt_string(root, "correlation_id", "", &resp->correlation_id, errstr, size) < 0)
        return -1;
    if (!resp->correlation_id || !*resp->correlation_id)
        return dbev_seterr(errstr, size, "correlation_id: missing or empty");
    if (opt_string(root, "event_id", "", &resp->event_id, errstr, size) < 0 ||
        opt_string(root, "service", "", &resp->service, errstr, size) < 0)
        return -1;
    const char *ts;
    if (opt_string(root, "timestamp", "", &ts, errstr, size) < 0)
        return -1;
    if (ts && (!proto_iso8601_shape_ok(ts) || dbev_parse_iso8601(ts, &resp->timestamp_us) < 0))
        return dbev_seterr(errstr, size, "timestamp: \"%.40s\" is not an ISO-8601 time", ts);
    json_t *payload = json_object_get(root, "payload");
    if (!json_is_object(payload))
        return dbev_seterr(errstr, size, "payload: %s", payload ? "must be an object" : "missing");
    dbev_op_t op;
    resp->op =
        dbev_op_parse(json_string_value(json_object_get(payload, "operation_type")), &op) == 0
            ? (int)op
            : -1;
    json_t *metadata = json_object_get(payload, "metadata");
    if (!metadata || json_is_null(metadata)) {
        metadata = json_object();
        if (!metadata || json_object_set_new(payload, "metadata", metadata) < 0)
            return dbev_seterr(errstr, size, "payload.metadata: out of memory");
    }
    if (!json_is_object(metadata))
        return dbev_seterr(errstr, size, "payload.metadata: must be an object, got %s",
                           proto_json_type(metadata));
    resp->metadata = metadata;
    if (opt_bool(metadata, "cached", &resp->cached, errstr, size) < 0 ||
        opt_bool(metadata, "truncated", &resp->truncated, errstr, size) < 0 ||
        opt_string(metadata, "circuit_breaker_state", "payload.metadata.",
                   &resp->circuit_breaker_state, errstr, size) < 0)
        return -1;
    return resp->completed ? decode_completed(resp, payload, errstr, size)
                           : decode_failed(resp, payload, errstr, size);
}

int dbev_response_decode(const void *buf, size_t len, dbev_response_t **out, char *errstr,
                         size_t size)
{
    if (out)
        *out = NULL;
    if (!out)
        return dbev_seterr(errstr, size, "event: no output pointer given");
    if (!buf || len == 0)
        return dbev_seterr(errstr, size, "event: empty message; expected a JSON object");
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return dbev_seterr(errstr, size, "event: contains a NUL byte at offset %zu",
                           (size_t)(nul - (const char *)buf));
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
    if (!root)
        return dbev_seterr(errstr, size, "event: not valid JSON: %s (line %d, column %d)",
                           jerr.text, jerr.line, jerr.column);
    dbev_response_t *resp = calloc(1, sizeof(*resp));
    if (!resp) {
        json_decref(root);
        return dbev_seterr(errstr, size, "event: out of memory");
    }
    resp->root = root;
    resp->op = -1;
    if (response_decode(resp, errstr, size) < 0) {
        dbev_response_destroy(resp);
        return -1;
    }
    *out = resp;
    return 0;
}

void dbev_response_destroy(dbev_response_t *resp)
{
    if (!resp)
        return;
    json_decref(resp->root);
    free(resp);
}
