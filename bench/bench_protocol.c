/*
 * How much CPU the event protocol costs per request, so the adapter's and the
 * client's throughput budgets (20,000 single-row INSERTs per second end to
 * end on 2 cores) can be checked against it: decode+validate of a request,
 * validation of an operation in memory, encode of a request (payload, envelope, bytes),
 * build+serialise of a completed response, and decode of that response. Prints one line per figure,
 * then a JSON line with all of them. Usage: bench_protocol [iterations] (default 200000)
 */
#include <dbev/protocol.h>
#include <dbev_common.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char insert_event[] =
    "{\"event_id\":\"6f1c2f7e-5f3a-4a51-9d6e-0c2a4b1f9e11\",\"event_type\":"
    "\"DATABASE_QUERY_REQUESTED\",\"correlation_id\":\"88b8fcab-4eb9-4a7d-942b-8894c7f840f8\","
    "\"timestamp\":\"2025-10-30T10:00:00.000Z\",\"service\":\"omniclaude\",\"payload\":{"
    "\"operation_type\":\"INSERT\",\"table\":\"agent_execution_logs\",\"data\":{"
    "\"execution_id\":\"a1b2c3d4-e5f6-7890-abcd-ef1234567890\",\"correlation_id\":"
    "\"88b8fcab-4eb9-4a7d-942b-8894c7f840f8\",\"agent_name\":\"agent-researcher\",\"status\":"
    "\"in_progress\",\"started_at\":\"2025-10-30T10:00:00Z\"},\"returning\":\"execution_id\","
    "\"options\":{\"timeout_ms\":5000}}}";

static double rate(long n, int64_t us)
{
    return us > 0 ? (double)n * 1e6 / (double)us : 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    if (n <= 0)
        n = 200000;
    size_t len = strlen(insert_event);
    volatile size_t sink = 0;

    /* 1. decode + validate a single-row INSERT request */
    int64_t t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        dbev_request_t *req;
        dbev_decode_error_t err;
        if (dbev_request_decode(insert_event, len, &req, &err) != 0) {
            fprintf(stderr, "decode failed: %s\n", err.message);
            return 1;
        }
        sink += req->op.type;
        dbev_request_destroy(req);
    }
    int64_t decode_us = dbev_mono_us() - t0;

    /* 2. validate the operation in memory (what the client does before sending) */
    dbev_request_t *req;
    dbev_decode_error_t err;
    dbev_request_decode(insert_event, len, &req, &err);
    t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        char errstr[256];
        if (dbev_operation_validate(&req->op, errstr, sizeof(errstr)) != 0) {
            fprintf(stderr, "validate failed: %s\n", errstr);
            return 1;
        }
    }
    int64_t validate_us = dbev_mono_us() - t0;

    /* 3. encode the same request (operation -> payload -> envelope -> bytes) */
    t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        json_t *ev = dbev_envelope_new(DBEV_EVENT_REQUESTED, NULL, NULL, "bench", 0,
                                       dbev_operation_to_json(&req->op));
        char *text = dbev_event_dumps(ev);
        sink += strlen(text);
        free(text);
        json_decref(ev);
    }
    int64_t encode_us = dbev_mono_us() - t0;
    dbev_request_destroy(req);

    /* 4. build and serialise a completed response with one returned row */
    char *resp_text = NULL;
    t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        json_t *rows = json_pack("[{s:s}]", "execution_id", "a1b2c3d4-e5f6-7890-abcd-ef1234567890");
        json_t *payload = dbev_completed_payload_new(DBEV_OP_INSERT, rows, 1, 0.42,
                                                     DBEV_BREAKER_CLOSED, false, false, NULL);
        json_t *ev =
            dbev_envelope_new(DBEV_EVENT_COMPLETED, NULL, "88b8fcab-4eb9-4a7d-942b-8894c7f840f8",
                              "database-adapter-effect", 0, payload);
        char *text = dbev_event_dumps(ev);
        json_decref(ev);
        if (i == 0)
            resp_text = text;
        else
            free(text);
    }
    int64_t respond_us = dbev_mono_us() - t0;

    /* 5. decode that response (the client's side) */
    size_t resp_len = strlen(resp_text);
    t0 = dbev_mono_us();
    for (long i = 0; i < n; i++) {
        dbev_response_t *resp;
        char errstr[256];
        if (dbev_response_decode(resp_text, resp_len, &resp, errstr, sizeof(errstr)) != 0) {
            fprintf(stderr, "response decode failed: %s\n", errstr);
            return 1;
        }
        sink += (size_t)resp->row_count;
        dbev_response_destroy(resp);
    }
    int64_t rdecode_us = dbev_mono_us() - t0;
    free(resp_text);

    printf("request decode+validate: %10.0f events/s  %6.2f us/event  (%zu bytes)\n",
           rate(n, decode_us), (double)decode_us / (double)n, len);
    printf("operation validate:      %10.0f ops/s     %6.2f us/op\n", rate(n, validate_us),
           (double)validate_us / (double)n);
    printf("request encode:          %10.0f events/s  %6.2f us/event\n", rate(n, encode_us),
           (double)encode_us / (double)n);
    printf("completed build+dumps:   %10.0f events/s  %6.2f us/event\n", rate(n, respond_us),
           (double)respond_us / (double)n);
    printf("response decode:         %10.0f events/s  %6.2f us/event  (%zu bytes)\n",
           rate(n, rdecode_us), (double)rdecode_us / (double)n, resp_len);
    printf("{\"bench\":\"protocol\",\"iterations\":%ld,\"request_decode_per_s\":%.0f,"
           "\"operation_validate_per_s\":%.0f,\"request_encode_per_s\":%.0f,\"completed_build_per_"
           "s\":%.0f,"
           "\"response_decode_per_s\":%.0f}\n",
           n, rate(n, decode_us), rate(n, validate_us), rate(n, encode_us), rate(n, respond_us),
           rate(n, rdecode_us));
    return sink == 0 ? 1 : 0;
}
