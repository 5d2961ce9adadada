/*
 * Decoding of request events: bytes to a validated dbev_request_t. The order
 * matters: first what makes the bytes unsafe or unparseable (size, NUL bytes,
 * JSON syntax, depth), then recovery of the ids and the operation so a
 * refusal can still be answered on the failed topic with the right
 * correlation id, then the envelope, then the payload. The first problem
 * found is reported, with its field path.
 */
#include "proto_int.h"

#include <dbev_common.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Beyond this we do not even parse to recover ids (the limit is refused anyway). */
#define PROTO_RECOVER_MAX_BYTES (16 * DBEV_MAX_EVENT_BYTES)
#define PROTO_SERVICE_MAX       255

static void recover(const json_t *root, dbev_decode_error_t *err)
{
    const char *names[2] = {"event_id", "correlation_id"};
    char *dst[2] = {err->event_id, err->correlation_id};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, names[i]);
        if (json_is_string(v) && json_string_length(v) > 0 &&
            json_string_length(v) < DBEV_ID_SIZE &&
            strlen(json_string_value(v)) == json_string_length(v))
            memcpy(dst[i], json_string_value(v), json_string_length(v) + 1);
    }
    json_t *payload = json_object_get(root, "payload");
    dbev_op_t op;
    if (json_is_object(payload) &&
        dbev_op_parse(json_string_value(json_object_get(payload, "operation_type")), &op) == 0)
        err->op = (int)op;
}

static int id_check(const json_t *root, const char *key, const char **out, char *errstr,
                    size_t size)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return dbev_seterr(errstr, size, "%s: missing; every event carries a non-empty %s", key,
                           key);
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "%s: must be a string, got %s", key, proto_json_type(v));
    size_t len = json_string_length(v);
    if (len == 0)
        return dbev_seterr(errstr, size, "%s: empty; use a UUID", key);
    if (len >= DBEV_ID_SIZE)
        return dbev_seterr(errstr, size, "%s: %zu bytes long, at most %d allowed; use a UUID", key,
                           len, DBEV_ID_SIZE - 1);
    if (strlen(json_string_value(v)) != len)
        return dbev_seterr(errstr, size, "%s: contains a NUL character", key);
    *out = json_string_value(v);
    return 0;
}

static int envelope_check(dbev_request_t *req, char *errstr, size_t size)
{
    json_t *root = req->root;
    if (id_check(root, "event_id", &req->event_id, errstr, size) < 0)
        return -1;
    json_t *v = json_object_get(root, "event_type");
    if (!v)
        return dbev_seterr(errstr, size, "event_type: missing; a request has \"%s\"",
                           DBEV_EVENT_REQUESTED);
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "event_type: must be the string \"%s\", got %s",
                           DBEV_EVENT_REQUESTED, proto_json_type(v));
    if (strcmp(json_string_value(v), DBEV_EVENT_REQUESTED) != 0)
        return dbev_seterr(errstr, size,
                           "event_type: \"%.64s\" is not a request; requests have \"%s\"",
                           json_string_value(v), DBEV_EVENT_REQUESTED);
    req->event_type = json_string_value(v);
    if (id_check(root, "correlation_id", &req->correlation_id, errstr, size) < 0)
        return -1;
    v = json_object_get(root, "timestamp");
    if (!v)
        return dbev_seterr(errstr, size,
                           "timestamp: missing; give the time the request was made, ISO-8601 "
                           "such as \"2025-10-30T10:00:00.000Z\"");
    if (!json_is_string(v))
        return dbev_seterr(errstr, size,
                           "timestamp: must be an ISO-8601 string such as "
                           "\"2025-10-30T10:00:00.000Z\", got %s",
                           proto_json_type(v));
    const char *ts = json_string_value(v);
    if (!proto_iso8601_shape_ok(ts) || dbev_parse_iso8601(ts, &req->timestamp_us) < 0)
        return dbev_seterr(errstr, size,
                           "timestamp: \"%.40s\" is not an ISO-8601 time such as "
                           "\"2025-10-30T10:00:00.000Z\"",
                           ts);
    req->has_timestamp = true;
    v = json_object_get(root, "service");
    if (!v)
        return dbev_seterr(errstr, size, "service: missing; name the sending service");
    if (!json_is_string(v))
        return dbev_seterr(errstr, size, "service: must be a string, got %s", proto_json_type(v));
    if (json_string_length(v) == 0)
        return dbev_seterr(errstr, size, "service: empty; name the sending service");
    if (json_string_length(v) > PROTO_SERVICE_MAX)
        return dbev_seterr(errstr, size, "service: %zu bytes long, at most %d allowed",
                           json_string_length(v), PROTO_SERVICE_MAX);
    req->service = json_string_value(v);
    v = json_object_get(root, "payload");
    if (!v)
        return dbev_seterr(errstr, size,
                           "payload: missing; give the operation, e.g. {\"operation_type\": "
                           "\"SELECT\", \"sql\": \"SELECT 1\"}");
    if (!json_is_object(v))
        return dbev_seterr(errstr, size, "payload: must be an object, got %s", proto_json_type(v));
    return 0;
}

int dbev_request_decode(const void *buf, size_t len, dbev_request_t **out, dbev_decode_error_t *err)
{
    dbev_decode_error_t local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof(*err));
    err->op = -1;
    if (out)
        *out = NULL;
    char *msg = err->message;
    size_t msize = sizeof(err->message);

    if (!out)
        return dbev_seterr(msg, msize, "event: no output pointer given");
    if (!buf || len == 0)
        return dbev_seterr(msg, msize, "event: empty message; expected a JSON object");
    if (len > PROTO_RECOVER_MAX_BYTES)
        return dbev_seterr(msg, msize, "event: %zu bytes, larger than the limit of %d bytes", len,
                           DBEV_MAX_EVENT_BYTES);
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return dbev_seterr(msg, msize,
                           "event: contains a NUL byte at offset %zu; send the JSON text "
                           "without terminator or padding",
                           (size_t)(nul - (const char *)buf));

    json_error_t jerr;
    /* The fast path builds the same tree; anything it is unsure of (every
     * error included) is parsed by jansson, whose messages are the ones sent. */
    json_t *root = proto_json_fast_loadb(buf, len);
    if (!root)
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return dbev_seterr(msg, msize, "event: not valid JSON: %s (line %d, column %d, byte %d)",
                           jerr.text, jerr.line, jerr.column, jerr.position);
    if (!json_is_object(root)) {
        int rc =
            dbev_seterr(msg, msize, "event: must be a JSON object, got %s", proto_json_type(root));
        json_decref(root);
        return rc;
    }
    recover(root, err);
    if (len > DBEV_MAX_EVENT_BYTES) {
        json_decref(root);
        return dbev_seterr(msg, msize,
                           "event: %zu bytes, larger than the limit of %d bytes; split the work "
                           "(e.g. several BATCH_INSERTs)",
                           len, DBEV_MAX_EVENT_BYTES);
    }
    int depth = proto_json_depth(root);
    if (depth > DBEV_MAX_JSON_DEPTH) {
        json_decref(root);
        return dbev_seterr(msg, msize, "event: nested %d levels deep; at most %d allowed", depth,
                           DBEV_MAX_JSON_DEPTH);
    }

    dbev_request_t *req = calloc(1, sizeof(*req));
    if (!req) {
        json_decref(root);
        return dbev_seterr(msg, msize, "event: out of memory");
    }
    req->root = root;
    if (envelope_check(req, msg, msize) < 0 ||
        proto_operation_decode(json_object_get(root, "payload"), "payload", false, &req->op, msg,
                               msize) < 0) {
        dbev_request_destroy(req);
        return -1;
    }
    *out = req;
    return 0;
}

void dbev_request_destroy(dbev_request_t *req)
{
    if (!req)
        return;
    proto_operation_clear(&req->op);
    json_decref(req->root);
    free(req);
}
