/*
 * The result and error objects handed to callers: what the adapter answered
 * (rows, counts, metadata, per-operation results; or code, message,
 * SQLSTATE) plus the client's bookkeeping (correlation id, event id,
 * attempts, latency). They hold their own references to the JSON of the
 * response, so the decoded event can be freed at once.
 */
#include "client_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dbev_result {
    json_t *rows;     /* array, owned reference */
    json_t *metadata; /* object, owned reference */
    json_t *results;  /* TRANSACTION: array, owned reference; else NULL */
    int64_t row_count;
    double execution_time_ms;
    char correlation_id[DBEV_ID_SIZE];
    char event_id[DBEV_ID_SIZE];
    int attempts;
    double latency_ms;
};

struct dbev_error {
    dbev_err_t code;
    char *message;
    char sqlstate[8];
    bool has_sqlstate;
    json_t *metadata; /* owned reference or NULL */
    json_t *health;   /* _UNHEALTHY: the adapter's health object, owned reference; else NULL */
    char correlation_id[DBEV_ID_SIZE];
    char event_id[DBEV_ID_SIZE];
    int attempts;
};

dbev_result_t *res_result_from_response(const dbev_response_t *resp)
{
    dbev_result_t *result = calloc(1, sizeof(*result));
    if (!result)
        return NULL;
    result->rows = resp->rows ? json_incref(resp->rows) : json_array();
    result->metadata = resp->metadata ? json_incref(resp->metadata) : json_object();
    result->results = resp->results ? json_incref(resp->results) : NULL;
    result->row_count = resp->row_count;
    result->execution_time_ms = resp->execution_time_ms;
    if (!result->rows || !result->metadata) {
        dbev_result_destroy(result);
        return NULL;
    }
    return result;
}

void res_result_set_request(dbev_result_t *result, const char *corr, const char *event_id,
                            int attempts, double latency_ms)
{
    snprintf(result->correlation_id, sizeof(result->correlation_id), "%s", corr ? corr : "");
    snprintf(result->event_id, sizeof(result->event_id), "%s", event_id ? event_id : "");
    result->attempts = attempts;
    result->latency_ms = latency_ms;
}

void dbev_result_destroy(dbev_result_t *result)
{
    if (!result)
        return;
    json_decref(result->rows);
    json_decref(result->metadata);
    json_decref(result->results);
    free(result);
}

json_t *dbev_result_rows(const dbev_result_t *result)
{
    return result->rows;
}

json_t *dbev_result_first_row(const dbev_result_t *result)
{
    return json_array_get(result->rows, 0);
}

int64_t dbev_result_row_count(const dbev_result_t *result)
{
    return result->row_count;
}

double dbev_result_execution_time_ms(const dbev_result_t *result)
{
    return result->execution_time_ms;
}

json_t *dbev_result_metadata(const dbev_result_t *result)
{
    return result->metadata;
}

json_t *dbev_result_op_results(const dbev_result_t *result)
{
    return result->results;
}

const char *dbev_result_correlation_id(const dbev_result_t *result)
{
    return result->correlation_id;
}

const char *dbev_result_event_id(const dbev_result_t *result)
{
    return result->event_id;
}

int dbev_result_attempts(const dbev_result_t *result)
{
    return result->attempts;
}

double dbev_result_latency_ms(const dbev_result_t *result)
{
    return result->latency_ms;
}

static dbev_error_t *res_error_alloc(dbev_err_t code, char *message)
{
    dbev_error_t *error = calloc(1, sizeof(*error));
    if (!error) {
        free(message);
        return NULL;
    }
    error->code = code;
    error->message = message ? message : strdup(dbev_err2str(code));
    return error;
}

dbev_error_t *res_error_new(dbev_err_t code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return res_error_alloc(code, strdup(buf));
}

dbev_error_t *res_error_from_response(const dbev_response_t *resp)
{
    dbev_error_t *error =
        res_error_alloc(resp->error_code, resp->error_message ? strdup(resp->error_message) : NULL);
    if (!error)
        return NULL;
    if (resp->sqlstate) {
        snprintf(error->sqlstate, sizeof(error->sqlstate), "%s", resp->sqlstate);
        error->has_sqlstate = true;
    }
    error->metadata = resp->metadata ? json_incref(resp->metadata) : NULL;
    return error;
}

void res_error_set_request(dbev_error_t *error, const char *corr, const char *event_id,
                           int attempts)
{
    snprintf(error->correlation_id, sizeof(error->correlation_id), "%s", corr ? corr : "");
    snprintf(error->event_id, sizeof(error->event_id), "%s", event_id ? event_id : "");
    error->attempts = attempts;
}

void dbev_error_destroy(dbev_error_t *error)
{
    if (!error)
        return;
    free(error->message);
    json_decref(error->metadata);
    json_decref(error->health);
    free(error);
}

dbev_err_t dbev_error_code(const dbev_error_t *error)
{
    return error->code;
}

const char *dbev_error_name(const dbev_error_t *error)
{
    return dbev_err2name(error->code);
}

const char *dbev_error_message(const dbev_error_t *error)
{
    return error->message ? error->message : "";
}

const char *dbev_error_sqlstate(const dbev_error_t *error)
{
    return error->has_sqlstate ? error->sqlstate : NULL;
}

bool dbev_error_is_retriable(const dbev_error_t *error)
{
    return dbev_err_is_retriable(error->code);
}

const char *dbev_error_correlation_id(const dbev_error_t *error)
{
    return error->correlation_id[0] ? error->correlation_id : NULL;
}

const char *dbev_error_event_id(const dbev_error_t *error)
{
    return error->event_id[0] ? error->event_id : NULL;
}

int dbev_error_attempts(const dbev_error_t *error)
{
    return error->attempts;
}

json_t *dbev_error_metadata(const dbev_error_t *error)
{
    return error->metadata;
}

json_t *dbev_error_health(const dbev_error_t *error)
{
    return error->health;
}

/*
 * Seed 002's `if await client.health_check(): ... else: fallback` only works
 * when the call says no for an unhealthy adapter; an answer alone proves the
 * path, not the database. Healthy means exactly: the adapter's status is
 * HEALTHY and it did not find the database unreachable.
 */
dbev_error_t *res_health_verdict(const dbev_result_t *result)
{
    json_t *h = json_array_get(result->rows, 0);
    const char *status = json_string_value(json_object_get(h, "status"));
    json_t *reachable = json_object_get(h, "database_reachable");
    if (status && !strcmp(status, "HEALTHY") && !json_is_false(reachable))
        return NULL;
    const char *circuit = json_string_value(json_object_get(h, "circuit_state"));
    const char *last = json_string_value(json_object_get(h, "last_error"));
    json_t *util = json_object_get(h, "pool_utilization_pct");
    json_t *thr = json_object_get(h, "saturation_threshold_pct");
    char pool[96] = "";
    if (json_is_number(util))
        snprintf(pool, sizeof(pool), ", pool %.0f%% in use%s", json_number_value(util),
                 json_is_number(thr) && json_number_value(util) >= json_number_value(thr)
                     ? " (saturated)"
                     : "");
    dbev_error_t *error = res_error_new(
        DBEV_ERR__UNHEALTHY, "adapter reports %s: database %s, circuit %s%s%s%s",
        status ? status : "no status",
        json_is_true(reachable)    ? "reachable"
        : json_is_false(reachable) ? "unreachable"
                                   : "not probed",
        circuit ? circuit : "unknown", pool, last ? "; last error: " : "", last ? last : "");
    if (error) {
        error->health = h ? json_incref(h) : NULL;
        error->metadata = json_incref(result->metadata);
    }
    return error;
}

json_t *res_columns_parse(const char *text, const char *what, char *errstr, size_t size,
                          int *failed)
{
    *failed = 0;
    if (!text)
        return NULL;
    json_t *cols = json_array();
    const char *p = text;
    while (cols) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        if (end == start) {
            dbev_seterr(errstr, size, "%s: empty column name in \"%s\"", what, text);
            json_decref(cols);
            *failed = 1;
            return NULL;
        }
        json_array_append_new(cols, json_stringn(start, (size_t)(end - start)));
        if (!*p)
            break;
        p++;
    }
    if (!cols) {
        dbev_seterr(errstr, size, "out of memory");
        *failed = 1;
    }
    return cols;
}
