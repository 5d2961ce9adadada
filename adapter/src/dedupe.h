/*
 * Idempotency records: the adapter's own table
 * dbev_adapter.processed_events(event_id primary key, correlation_id,
 * operation, response json, created_at, fingerprint), written in the same transaction
 * as the write it records, so both commit or neither does. A single write
 * claims its event id FIRST (a concurrent duplicate waits on the primary key,
 * then conflicts), runs, then stores its response. A group of writes runs
 * its statements first, without looking anything up, and records every
 * event id with its response in ONE statement before COMMIT: a duplicate
 * (redelivered, or in flight elsewhere) then conflicts at that insert, or
 * earlier at a unique key of its own write, the whole transaction rolls
 * back, and the executor looks the group up, answers from the committed
 * records what they cover and runs the rest again (as a group, or request
 * by request for an event twice in it). Either way a redelivered event finds
 * the committed row and is answered with the stored response. Rows older than the retention are
 * deleted periodically.
 *
 * A record is keyed on the event id and holds the fingerprint of the request
 * it answers: the same id with the same request (a redelivery, a client's
 * retry) is answered from it; the same id with a different request is
 * refused (EventIdReused), never run and never given another's answer.
 *
 * This file holds the SQL and the parameter encodings; the executor sends
 * them inside its own pipelines. Migration 007 makes the schema, the table
 * and the functions; the adapter checks that they are there at start.
 */
#ifndef ADAPTER_DEDUPE_H
#define ADAPTER_DEDUPE_H

#include <dbev/protocol.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * A record's response is NULL for a plain INSERT (no RETURNING): its answer
 * is always the same (row_count 1, no rows), so the claim (or the group's
 * record call) alone records it and no response document is written (at 20,000 INSERTs per second
 * that is most of the record's cost). dedupe_lookup() rebuilds that answer.
 *
 * The records belong to the role dbev_bookkeeper; the adapter's role may only
 * call these SECURITY DEFINER functions of migration 007 (callers' raw SQL
 * runs as the same role, so each function is written to be harmless in a
 * caller's hands: docs/protocol.md, "What a caller's SQL can and cannot
 * reach"). Same statements, same round trips as the INSERTs they replace.
 */
/* One event, before its write: $1 event_id, $2 correlation_id, $3 operation,
 * $4 fingerprint. A used id fails with unique_violation (23505). */
#define DEDUPE_CLAIM_SQL "SELECT dbev_adapter.claim($1, $2, $3, $4)"
/* Many events, recorded whole: $1..$4 text[] literals of event ids,
 * correlation ids, operations and fingerprints; $5 one JSON array of their
 * responses (null: the predictable answer of a plain INSERT). A used id
 * fails the call with unique_violation. */
#define DEDUPE_RECORD_MANY_SQL                                                                     \
    "SELECT dbev_adapter.record($1::text[], $2::text[], $3::text[], $4::text[], $5::json)"
/* One event claimed in this transaction: $1 event_id, $2 fingerprint, $3 response JSON. */
#define DEDUPE_STORE_SQL "SELECT dbev_adapter.store($1, $2, $3::json)"
/* $1, $2 text[] literals of event ids and their fingerprints: a row per
 * recorded id (its position in $1 from 1, reused, operation, response; see
 * dedupe_lookup). */
#define DEDUPE_LOOKUP_SQL                                                                          \
    "SELECT idx, reused, operation, response FROM dbev_adapter.lookup($1::text[], $2::text[])"

/* The migration that makes the roles, records and functions (generated from
 * migrations/007_adapter_roles.up.sql at build time). */
extern const char dedupe_install_sql[];

/* A request's fingerprint: SHA-256 in lowercase hex, and its NUL. */
#define DEDUPE_FP_SIZE 65

/**
 * @brief The fingerprint of a request: SHA-256 of its operation payload in
 *        a canonical encoding (object keys sorted; dedupe.c), without options.timeout_ms,
 *        which a client may change between retries of the same request
 *        (how long to wait is not what to do). The envelope (ids, times) is
 *        not part of it.
 * @returns 0 with fp filled, or -1 when out of memory.
 */
int dedupe_fingerprint(const dbev_request_t *req, char fp[DEDUPE_FP_SIZE]);

/**
 * @brief Checks that the records and their functions (migration 007) are in
 *        the database. When they are not and may_install (the adapter is
 *        connected as a superuser, allowed explicitly), applies that
 *        migration's text itself (safe to race with another adapter).
 * @returns 0 when ready, or -1 with errstr naming what is missing and the
 *          migration to run.
 */
int dedupe_prepare(PGconn *conn, bool may_install, int64_t deadline_us, char *errstr, size_t size);

/**
 * @brief Deletes at most limit records older than retention_ms (the
 *        function keeps every record younger than an hour whatever it is
 *        asked; bounded, so a backlog never stalls a batch for long; call
 *        again soon when the answer is limit).
 * @returns rows deleted, or -1 with errstr.
 */
int64_t dedupe_apply_retention(PGconn *conn, int64_t retention_ms, int64_t limit,
                               int64_t deadline_us, char *errstr, size_t size);

/**
 * @brief Looks up the records of event ids, each with the fingerprint of the
 *        request that carries it now (one id may come twice, with two
 *        different requests).
 * @returns a new JSON array of n answers in the order asked: the stored
 *          response when the record is of this same request (a plain
 *          INSERT's answer rebuilt from its NULL response), JSON false when
 *          the id was used by a DIFFERENT request (dedupe_is_reused()), JSON
 *          null when the id is not recorded (dedupe_is_recorded() false).
 *          NULL with errstr when the query failed; *conn_failed tells
 *          whether the connection itself failed.
 */
json_t *dedupe_lookup(PGconn *conn, const char *const *event_ids, const char *const *fingerprints,
                      size_t n, int64_t deadline_us, bool *conn_failed, char *errstr, size_t size);

/** Whether a dedupe_lookup() answer says the id is recorded (for this request or another). */
static inline bool dedupe_is_recorded(const json_t *answer)
{
    return answer && !json_is_null(answer);
}

/** Whether a dedupe_lookup() answer says the id belongs to another request. */
static inline bool dedupe_is_reused(const json_t *answer)
{
    return json_is_false(answer);
}

/**
 * @brief A stored response as a duplicate's answer: a deep copy with
 *        metadata.cached = true and the breaker's current state.
 * @returns a new reference, or NULL when out of memory.
 */
json_t *dedupe_cached_copy(const json_t *stored, dbev_breaker_state_t state);

#endif
