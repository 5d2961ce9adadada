/*
 * The database fingerprint of a scenario (`fingerprint:` in
 * docs/scenarios.md): what a hostile request could have changed, taken
 * before the first step and after the last, so that "the database is
 * unchanged except for what the request was allowed to do" is checked, not
 * assumed. It is one JSON object, item -> short text, over:
 *   table:SCHEMA.NAME          rows and an md5 of every row's text, sorted
 *   schema:NAME                each user schema (its owner)
 *   relation:SCHEMA.NAME       views, sequences, indexes, ... (kind, owner)
 *   function:SCHEMA.NAME(ARGS) owner and an md5 of its definition
 *   role:NAME                  rolsuper, rolcreaterole, rolcreatedb, login,
 *                              bypassrls, replication, memberships (global)
 *   large_object:OID           owner and an md5 of its contents
 * for every schema but pg_catalog, information_schema, pg_toast and the
 * temporary ones. Left out by design: dbev_adapter.* (the adapter's own
 * bookkeeping, written by every request) and public.dbev_canary (the
 * canary's writes). It is taken on the harness's superuser connection (the
 * one `sql:` steps use), which sees everything.
 *
 * fingerprint_diff() is pure and unit-tested (tests/unit/test_fingerprint.c).
 */
#ifndef HARNESS_FINGERPRINT_H
#define HARNESS_FINGERPRINT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

/**
 * @brief Takes the fingerprint of the database conn is connected to.
 * @returns a new object (item -> text), or NULL with errstr.
 */
json_t *fingerprint_take(PGconn *conn, char *errstr, size_t size);

/**
 * @brief Whether item is covered by one of the allow patterns (fnmatch(3)
 *        globs; a pattern without a "kind:" prefix names a table, so
 *        "public.agent_actions" is "table:public.agent_actions").
 */
int fingerprint_allowed(const char *item, const json_t *allow);

/**
 * @brief Compares two fingerprints.
 * @param allow array of patterns (fingerprint_allowed), or NULL.
 * @returns the number of changes not allowed (0: unchanged), with a
 *          readable list of them in diff ("changed table:public.t: rows 12
 *          md5 1a2b... -> rows 0 md5 d41d...; added role:evil: super ...").
 */
int fingerprint_diff(const json_t *before, const json_t *after, const json_t *allow, char *diff,
                     size_t size);

#endif
