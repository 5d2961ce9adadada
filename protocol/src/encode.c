/*
 * Encoding: an operation built in memory becomes a payload object, a payload
 * becomes an event inside the envelope, an event becomes compact bytes. The
 * output is exactly what dbev_request_decode accepts, so
 * decode(dumps(envelope(to_json(op)))) yields an operation equal to op.
 * Fields that do not belong to the operation's type are encoded too when set,
 * so dbev_operation_validate (encode, then decode) names them.
 */
#include "proto_int.h"

#include <dbev_common.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets key to a borrowed value (incref) when it is not NULL. */
static int set_borrowed(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return 0;
    return json_object_set(obj, key, value);
}

/* Sets key to a string when it is not NULL; -1 for bad UTF-8 or no memory. */
static int set_string(json_t *obj, const char *key, const char *value)
{
    if (!value)
        return 0;
    json_t *s = json_string(value);
    if (!s)
        return -1;
    return json_object_set_new(obj, key, s);
}

static int encode_options(json_t *payload, const dbev_operation_t *op)
{
    if (op->timeout_ms == 0 && (op->max_rows == 0 || op->max_rows == DBEV_DEFAULT_MAX_ROWS))
        return 0;
    json_t *options = json_object();
    if (!options)
        return -1;
    if (op->timeout_ms != 0 &&
        json_object_set_new(options, "timeout_ms", json_integer(op->timeout_ms)) < 0) {
        json_decref(options);
        return -1;
    }
    if (op->max_rows != 0 && op->max_rows != DBEV_DEFAULT_MAX_ROWS &&
        json_object_set_new(options, "max_rows", json_integer(op->max_rows)) < 0) {
        json_decref(options);
        return -1;
    }
    return json_object_set_new(payload, "options", options);
}

static int encode_conflict(json_t *payload, const dbev_operation_t *op)
{
    if (op->type != DBEV_OP_BATCH_INSERT) {
        /* UPSERT carries them at top level; elsewhere they are refused by name. */
        if (set_borrowed(payload, "conflict_columns", op->conflict_columns) < 0 ||
            set_borrowed(payload, "update_columns", op->update_columns) < 0)
            return -1;
        return 0;
    }
    if (op->conflict == DBEV_CONFLICT_NONE && !op->conflict_columns && !op->update_columns)
        return 0;
    json_t *oc = json_object();
    if (!oc)
        return -1;
    int rc = set_borrowed(oc, "columns", op->conflict_columns);
    if (rc == 0 && op->conflict == DBEV_CONFLICT_DO_NOTHING)
        rc = json_object_set_new(oc, "action", json_string("nothing"));
    else if (rc == 0 && op->conflict == DBEV_CONFLICT_DO_UPDATE)
        rc = json_object_set_new(oc, "action", json_string("update"));
    if (rc == 0)
        rc = set_borrowed(oc, "update_columns", op->update_columns);
    if (rc < 0) {
        json_decref(oc);
        return -1;
    }
    return json_object_set_new(payload, "on_conflict", oc);
}

json_t *dbev_operation_to_json(const dbev_operation_t *op)
{
    if (!op)
        return NULL;
    json_t *payload = json_object();
    if (!payload)
        return NULL;
    const char *name = dbev_op_name(op->type);
    int rc = json_object_set_new(payload, "operation_type", name ? json_string(name) : json_null());
    if (rc == 0)
        rc = set_string(payload, "sql", op->sql);
    if (rc == 0)
        rc = set_borrowed(payload, "params", op->params);
    if (rc == 0)
        rc = set_string(payload, "table", op->table);
    if (rc == 0)
        rc = set_borrowed(payload, "data", op->data);
    if (rc == 0)
        rc = set_borrowed(payload, "rows", op->rows);
    if (rc == 0)
        rc = set_borrowed(payload, "where", op->where);
    if (rc == 0)
        rc = encode_conflict(payload, op);
    if (rc == 0)
        rc = set_borrowed(payload, "returning", op->returning);
    if (rc == 0 && (op->type == DBEV_OP_TRANSACTION || op->n_ops > 0)) {
        json_t *ops = json_array();
        rc = ops ? json_object_set_new(payload, "operations", ops) : -1;
        for (size_t i = 0; rc == 0 && op->ops && i < op->n_ops; i++) {
            json_t *nested = dbev_operation_to_json(&op->ops[i]);
            rc = nested ? json_array_append_new(ops, nested) : -1;
        }
    }
    if (rc == 0)
        rc = encode_options(payload, op);
    if (rc < 0) {
        json_decref(payload);
        return NULL;
    }
    return payload;
}

/* An envelope's fields with their defaults filled in: new ids, "dbev", a
 * request, the time now. */
typedef struct envelope_fields {
    const char *event_type, *event_id, *correlation_id, *service;
    char eid[40], cid[40], ts[DBEV_ISO8601_SIZE];
} envelope_fields_t;

static void envelope_fields(envelope_fields_t *f, const char *event_type, const char *event_id,
                            const char *correlation_id, const char *service, int64_t timestamp_us)
{
    f->event_type = event_type ? event_type : DBEV_EVENT_REQUESTED;
    f->service = service ? service : "dbev";
    f->event_id = event_id;
    if (!event_id) {
        dbev_uuid_new(f->eid);
        f->event_id = f->eid;
    }
    f->correlation_id = correlation_id;
    if (!correlation_id) {
        dbev_uuid_new(f->cid);
        f->correlation_id = f->cid;
    }
    dbev_iso8601(timestamp_us ? timestamp_us : dbev_wall_us(), f->ts, sizeof(f->ts));
}

json_t *dbev_envelope_new(const char *event_type, const char *event_id, const char *correlation_id,
                          const char *service, int64_t timestamp_us, json_t *payload)
{
    envelope_fields_t f;
    envelope_fields(&f, event_type, event_id, correlation_id, service, timestamp_us);
    event_type = f.event_type;
    event_id = f.event_id;
    correlation_id = f.correlation_id;
    service = f.service;
    const char *ts = f.ts;
    json_t *event = json_object();
    if (!event || !payload) {
        json_decref(event);
        json_decref(payload);
        return NULL;
    }
    int rc = json_object_set_new(event, "event_id", json_string(event_id));
    if (rc == 0)
        rc = json_object_set_new(event, "event_type", json_string(event_type));
    if (rc == 0)
        rc = json_object_set_new(event, "correlation_id", json_string(correlation_id));
    if (rc == 0)
        rc = json_object_set_new(event, "timestamp", json_string(ts));
    if (rc == 0)
        rc = json_object_set_new(event, "service", json_string(service));
    if (rc == 0)
        rc = json_object_set_new(event, "payload", payload);
    else
        json_decref(payload);
    if (rc < 0) {
        json_decref(event);
        return NULL;
    }
    return event;
}

char *dbev_event_dumps(const json_t *event)
{
    if (!event)
        return NULL;
    return json_dumps(event, JSON_COMPACT);
}

/* s as a JSON string. Ids and names are plain printable ASCII and are quoted
 * as they are; anything else is left to jansson, so the bytes are its own. */
static char *json_quote(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
        p++;
    if (!*p) {
        size_t len = (size_t)(p - (const unsigned char *)s);
        char *out = malloc(len + 3);
        if (out) {
            out[0] = '"';
            memcpy(out + 1, s, len);
            out[len + 1] = '"';
            out[len + 2] = '\0';
        }
        return out;
    }
    json_t *str = json_string(s);
    char *out = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(str);
    return out;
}

/* The envelope written into one buffer, the payload by the fast dumper
 * (json_fast.c): the same bytes as the jansson path below, without its
 * copies and reallocations. NULL when that path must do it (non-ASCII text
 * anywhere, out of memory). */
static char *envelope_dumps_fast(const envelope_fields_t *f, const json_t *payload)
{
    char stack[2048];
    proto_buf_t b;
    proto_buf_init(&b, stack, sizeof(stack));
    const char *names[5] = {"{\"event_id\":", ",\"event_type\":", ",\"correlation_id\":",
                            ",\"timestamp\":", ",\"service\":"};
    const char *values[5] = {f->event_id, f->event_type, f->correlation_id, f->ts, f->service};
    int rc = 0;
    for (int i = 0; rc == 0 && i < 5; i++)
        rc = proto_buf_put(&b, names[i], strlen(names[i])) < 0 ||
                     proto_buf_put_string(&b, values[i], strlen(values[i])) < 0
                 ? -1
                 : 0;
    if (rc == 0)
        rc = proto_buf_put(&b, ",\"payload\":", 11);
    if (rc == 0)
        rc = proto_json_fast_dump(payload, &b);
    if (rc == 0)
        rc = proto_buf_put(&b, "}", 2); /* with the terminator */
    char *out = rc == 0 ? malloc(b.len) : NULL;
    if (out)
        memcpy(out, b.p, b.len);
    proto_buf_release(&b);
    return out;
}

char *dbev_envelope_dumps(const char *event_type, const char *event_id, const char *correlation_id,
                          const char *service, int64_t timestamp_us, const json_t *payload)
{
    if (!payload)
        return NULL;
    envelope_fields_t f;
    envelope_fields(&f, event_type, event_id, correlation_id, service, timestamp_us);
    char *fast = envelope_dumps_fast(&f, payload);
    if (fast)
        return fast;
    const char *ts = f.ts;
    char *q[4] = {json_quote(f.event_id), json_quote(f.event_type), json_quote(f.correlation_id),
                  json_quote(f.service)};
    char *body = json_dumps(payload, JSON_COMPACT);
    char *out = NULL;
    if (q[0] && q[1] && q[2] && q[3] && body &&
        asprintf(&out,
                 "{\"event_id\":%s,\"event_type\":%s,\"correlation_id\":%s,\"timestamp\":\"%s\","
                 "\"service\":%s,\"payload\":%s}",
                 q[0], q[1], q[2], ts, q[3], body) < 0)
        out = NULL;
    for (int i = 0; i < 4; i++)
        free(q[i]);
    free(body);
    return out;
}
