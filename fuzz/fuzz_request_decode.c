/*
 * libFuzzer target: the request decoder with its validator, the one entry
 * point the adapter hands every consumed message to (dbev_request_decode).
 * Invariants, for any bytes:
 *   - it never crashes, leaks or reads out of bounds (ASan, UBSan);
 *   - a refused input yields -1, no request, a non-empty message, ids that fit
 *     their buffers and an operation that is -1 or a known one;
 *   - an accepted request passes dbev_operation_validate (the client's check
 *     of the same rules), and its operation re-encodes into an event that
 *     decodes again to the same operation: encoder and decoder agree.
 * tests/unit/test_protocol_fuzz.c runs the same checks over a fixed random
 * walk in every `make test`; this target lets coverage guide the walk.
 */
#include <dbev/protocol.h>

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: say which, show the input's start, abort (libFuzzer then
 * writes the input out as a crash artifact). */
static void broken(const char *what, const char *detail, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_request_decode: %s: %s\ninput (%zu bytes): %.*s\n", what,
            detail ? detail : "", size, (int)(size > 2000 ? 2000 : size), (const char *)data);
    abort();
}

static void check_refused(const dbev_request_t *req, const dbev_decode_error_t *err,
                          const uint8_t *data, size_t size)
{
    if (req)
        broken("refused but a request was returned", NULL, data, size);
    if (err->message[0] == '\0')
        broken("refused without a message", NULL, data, size);
    if (memchr(err->message, '\0', sizeof(err->message)) == NULL ||
        memchr(err->event_id, '\0', sizeof(err->event_id)) == NULL ||
        memchr(err->correlation_id, '\0', sizeof(err->correlation_id)) == NULL)
        broken("an error field is not terminated", NULL, data, size);
    if (err->op < -1 || err->op >= DBEV_OP__COUNT)
        broken("refused with an unknown operation", NULL, data, size);
}

static void check_accepted(dbev_request_t *req, const uint8_t *data, size_t size)
{
    char errstr[512];
    if (!req || !req->root || !req->event_id || !req->correlation_id || !req->service)
        broken("accepted without its ids", NULL, data, size);
    if ((int)req->op.type < 0 || req->op.type >= DBEV_OP__COUNT)
        broken("accepted an unknown operation", NULL, data, size);
    if (dbev_operation_validate(&req->op, errstr, sizeof(errstr)) != 0)
        broken("decoded but dbev_operation_validate refuses it", errstr, data, size);

    json_t *payload = dbev_operation_to_json(&req->op);
    if (!payload)
        broken("an accepted operation does not encode", NULL, data, size);
    json_t *event = dbev_envelope_new(NULL, req->event_id, req->correlation_id, req->service,
                                      req->timestamp_us, json_incref(payload));
    char *text = event ? dbev_event_dumps(event) : NULL;
    json_decref(event);
    if (!text)
        broken("an accepted request does not re-encode", NULL, data, size);

    dbev_request_t *again = NULL;
    dbev_decode_error_t err;
    if (dbev_request_decode(text, strlen(text), &again, &err) != 0)
        broken("the re-encoded event is refused", err.message, (const uint8_t *)text, strlen(text));
    json_t *payload2 = dbev_operation_to_json(&again->op);
    if (!json_equal(payload, payload2))
        broken("the re-encoded event decodes to another operation", text, data, size);
    if (strcmp(again->event_id, req->event_id) != 0 ||
        strcmp(again->correlation_id, req->correlation_id) != 0)
        broken("the re-encoded event has other ids", text, data, size);
    json_decref(payload2);
    json_decref(payload);
    dbev_request_destroy(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dbev_request_t *req = NULL;
    dbev_decode_error_t err;
    memset(&err, 0x5a, sizeof(err)); /* the decoder must terminate what it fills */
    int rc = dbev_request_decode(data, size, &req, &err);
    if (rc == 0)
        check_accepted(req, data, size);
    else if (rc == -1)
        check_refused(req, &err, data, size);
    else
        broken("dbev_request_decode returned neither 0 nor -1", NULL, data, size);
    dbev_request_destroy(req);
    return 0;
}
