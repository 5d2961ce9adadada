/*
 * Idempotency records: the adapter's own table
 * dbev_adapter.processed_events(event_id primary key, correlation_id,
 * operation, response json, created_at), written in the same transaction
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
 * This file holds the SQL and the parameter encodings; the executor sends
 * them inside its own pipelines. The schema lives outside public and
 * agent_observability so migration checks never see it.
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
 * record INSERT) alone records it and no response document is written (at 20,000 INSERTs per second
 * that is most of the record's cost). dedupe_lookup() rebuilds that answer.
 */
/* One event: $1 event_id, $2 correlation_id, $3 operation. */
#define DEDUPE_CLAIM_SQL                                                                           \
    "INSERT INTO dbev_adapter.processed_events (event_id, correlation_id, operation) "             \
    "VALUES ($1, $2, $3)"
/* Many events, recorded whole: $1, $2, $3 text[] literals of event ids,
 * correlation ids, operations; $4 one JSON array of their responses (null:
 * the predictable answer of a plain INSERT), zipped by ROWS FROM. json, not
 * jsonb: parsing 20,000 responses a second into jsonb cost PostgreSQL a
 * seventh of its CPU, and they are only ever read back whole. A table made
 * by an older adapter (response jsonb) takes them by assignment cast. */
#define DEDUPE_RECORD_MANY_SQL                                                                     \
    "INSERT INTO dbev_adapter.processed_events (event_id, correlation_id, operation, response) "   \
    "SELECT e, c, o, CASE WHEN json_typeof(r) = 'null' THEN NULL ELSE r END "                      \
    "FROM ROWS FROM (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), "                 \
    "json_array_elements($4::json)) AS t(e, c, o, r)"
/* One event: $1 event_id, $2 response JSON. */
#define DEDUPE_STORE_SQL                                                                           \
    "UPDATE dbev_adapter.processed_events SET response = $2::json WHERE event_id = $1"
/* $1 a text[] literal of event ids. A LATERAL probe per id, so the plan is
 * one primary-key lookup per id whatever the statistics say: "event_id =
 * ANY($1)" or a plain join may be planned as a scan of the whole table
 * (LIMIT 1 keeps the planner from flattening the subquery into a join). */
#define DEDUPE_LOOKUP_SQL                                                                          \
    "SELECT p.event_id, p.operation, p.response FROM unnest($1::text[]) AS k(id) "                 \
    "CROSS JOIN LATERAL (SELECT event_id, operation, response "                                    \
    "FROM dbev_adapter.processed_events WHERE event_id = k.id LIMIT 1) AS p"

/**
 * @brief Creates the schema, table and index if missing (safe to race with
 *        another adapter starting at the same time).
 * @returns 0, or -1 with errstr.
 */
int dedupe_ensure_table(PGconn *conn, int64_t deadline_us, char *errstr, size_t size);

/**
 * @brief Deletes at most limit records older than retention_ms (bounded, so
 *        a backlog never stalls a batch for long; call again soon when the
 *        answer is limit).
 * @returns rows deleted, or -1 with errstr.
 */
int64_t dedupe_apply_retention(PGconn *conn, int64_t retention_ms, int64_t limit,
                               int64_t deadline_us, char *errstr, size_t size);

/**
 * @brief Looks up stored responses for event ids.
 * @returns a new JSON object {event_id: response} (empty when none; a plain
 *          INSERT's answer rebuilt from its NULL response), or NULL
 *          with errstr when the query failed; *conn_failed tells whether the
 *          connection itself failed.
 */
json_t *dedupe_lookup(PGconn *conn, const char *const *event_ids, size_t n, int64_t deadline_us,
                      bool *conn_failed, char *errstr, size_t size);

/**
 * @brief A stored response as a duplicate's answer: a deep copy with
 *        metadata.cached = true and the breaker's current state.
 * @returns a new reference, or NULL when out of memory.
 */
json_t *dedupe_cached_copy(const json_t *stored, dbev_breaker_state_t state);

#endif
