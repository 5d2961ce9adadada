/*
 * The one table of statements a pooled connection refuses, with the reason
 * of each, and the categories of the statements it accepts. Every refusal
 * is about the pool: a request runs in a transaction of its own on a
 * connection that serves another caller next, so it may neither steer that
 * transaction nor leave anything behind in the session. The header
 * (dbev/sql.h) says where this table came from and what was added.
 */
#include "sql_int.h"

#include <string.h>

#define TX_REASON                                                                                  \
    "each request runs on a pooled connection, so a transaction cannot span requests; send the "   \
    "statements as one TRANSACTION operation"
#define SESSION_REASON                                                                             \
    "changes the session of a pooled connection, and whichever request uses that connection "      \
    "next would inherit it; use options.timeout_ms for timeouts, SET LOCAL for settings of one "   \
    "request"

/* A statement starting with keyword [second] is refused when it also holds
 * the word sequence `holding` (NULL: always); the first matching row wins.
 * A reason reads after the keyword ("LISTEN changes the session ..."), for
 * transaction control after "transaction control (BEGIN) is not allowed in
 * EXECUTE: ". */
typedef struct refusal {
    const char *keyword;
    const char *second; /* NULL: any second word */
    const char *holding[2];
    dbev_sql_category_t category;
    const char *reason;
} refusal_t;

static const refusal_t refusals[] = {
    {"BEGIN", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"START", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    /* also COMMIT PREPARED / ROLLBACK PREPARED of a two-phase transaction */
    {"COMMIT", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"END", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"ROLLBACK", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"ABORT", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"SAVEPOINT", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"RELEASE", NULL, {NULL}, DBEV_SQL_CAT_TRANSACTION, TX_REASON},
    {"PREPARE",
     "TRANSACTION",
     {NULL},
     DBEV_SQL_CAT_TRANSACTION,
     "PREPARE TRANSACTION would hand the request's transaction to a later COMMIT PREPARED; "
     "each request's transaction ends with the request"},
    /* SET LOCAL is scoped to the request's own transaction (and is how
     * settings of one request are made); everything else SET changes
     * outlives it, SET TRANSACTION and SET CONSTRAINTS included (refused
     * by the executor before these rules were shared). */
    {"SET", "LOCAL", {NULL}, DBEV_SQL_CAT_OTHER, NULL},
    {"SET", NULL, {NULL}, DBEV_SQL_CAT_SESSION, SESSION_REASON},
    {"RESET", NULL, {NULL}, DBEV_SQL_CAT_SESSION, SESSION_REASON},
    {"DISCARD", NULL, {NULL}, DBEV_SQL_CAT_SESSION, SESSION_REASON},
    {"LISTEN", NULL, {NULL}, DBEV_SQL_CAT_SESSION, SESSION_REASON},
    {"UNLISTEN", NULL, {NULL}, DBEV_SQL_CAT_SESSION, SESSION_REASON},
    {"PREPARE",
     NULL,
     {NULL},
     DBEV_SQL_CAT_SESSION,
     "makes a prepared statement that outlives the request on the pooled connection; send "
     "the statement itself with $1, $2, ... and params (the adapter prepares repeated statements "
     "itself)"},
    {"DEALLOCATE", NULL, {NULL}, DBEV_SQL_CAT_SESSION, SESSION_REASON},
    {"LOAD",
     NULL,
     {NULL},
     DBEV_SQL_CAT_SESSION,
     "puts a shared library into the session of a pooled connection, for every later "
     "request on it"},
    {"DECLARE",
     NULL,
     {"WITH", "HOLD"},
     DBEV_SQL_CAT_SESSION,
     "... WITH HOLD makes a cursor that outlives the request's transaction on the pooled "
     "connection; declare it without HOLD inside a TRANSACTION operation"},
    {"COPY",
     NULL,
     {"STDIN"},
     DBEV_SQL_CAT_SESSION,
     "... FROM STDIN needs a data channel the adapter does not have; send the rows with "
     "BATCH_INSERT"},
    {"COPY",
     NULL,
     {"STDOUT"},
     DBEV_SQL_CAT_SESSION,
     "... TO STDOUT needs a data channel the adapter does not have; SELECT the rows instead"},
};

/* Categories of accepted statements by first keyword. */
static const struct {
    const char *keyword;
    dbev_sql_category_t category;
} categories[] = {
    {"SELECT", DBEV_SQL_CAT_QUERY}, {"WITH", DBEV_SQL_CAT_QUERY},   {"VALUES", DBEV_SQL_CAT_QUERY},
    {"TABLE", DBEV_SQL_CAT_QUERY},  {"SHOW", DBEV_SQL_CAT_QUERY},   {"EXPLAIN", DBEV_SQL_CAT_QUERY},
    {"FETCH", DBEV_SQL_CAT_QUERY},  {"MOVE", DBEV_SQL_CAT_QUERY},   {"INSERT", DBEV_SQL_CAT_DML},
    {"UPDATE", DBEV_SQL_CAT_DML},   {"DELETE", DBEV_SQL_CAT_DML},   {"MERGE", DBEV_SQL_CAT_DML},
    {"COPY", DBEV_SQL_CAT_DML},     {"CALL", DBEV_SQL_CAT_DML},     {"DO", DBEV_SQL_CAT_DML},
    {"LOCK", DBEV_SQL_CAT_DML},     {"DECLARE", DBEV_SQL_CAT_DML},  {"CLOSE", DBEV_SQL_CAT_DML},
    {"NOTIFY", DBEV_SQL_CAT_DML},   {"CREATE", DBEV_SQL_CAT_DDL},   {"ALTER", DBEV_SQL_CAT_DDL},
    {"DROP", DBEV_SQL_CAT_DDL},     {"TRUNCATE", DBEV_SQL_CAT_DDL}, {"GRANT", DBEV_SQL_CAT_DDL},
    {"REVOKE", DBEV_SQL_CAT_DDL},   {"COMMENT", DBEV_SQL_CAT_DDL},  {"SECURITY", DBEV_SQL_CAT_DDL},
    {"REINDEX", DBEV_SQL_CAT_DDL},  {"CLUSTER", DBEV_SQL_CAT_DDL},  {"REFRESH", DBEV_SQL_CAT_DDL},
    {"IMPORT", DBEV_SQL_CAT_DDL},   {"REASSIGN", DBEV_SQL_CAT_DDL}, {"ANALYZE", DBEV_SQL_CAT_DDL},
    {"ANALYSE", DBEV_SQL_CAT_DDL},  {"VACUUM", DBEV_SQL_CAT_DDL},
};

/* Whether the statement after the first keyword holds the word sequence. */
static bool holds(const char *rest, const char *const seq[2])
{
    const char *p = rest;
    sql_tok_t tok;
    int depth = 0;
    bool prev_matched = false;
    for (;;) {
        sql_lex_next(&p, &tok);
        if (tok.kind == SQL_TOK_END || (tok.kind == SQL_TOK_SEMICOLON && depth == 0))
            return false;
        if (tok.kind == SQL_TOK_LPAREN)
            depth++;
        else if (tok.kind == SQL_TOK_RPAREN && depth > 0)
            depth--;
        if (!seq[1]) {
            if (sql_tok_is(&tok, seq[0]))
                return true;
            continue;
        }
        if (prev_matched && sql_tok_is(&tok, seq[1]))
            return true;
        prev_matched = sql_tok_is(&tok, seq[0]);
    }
}

const char *sql_refusal(const char *kw, const char *kw2, const char *rest,
                        dbev_sql_category_t *category)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const refusal_t *r = &refusals[i];
        if (strcmp(kw, r->keyword) != 0 || (r->second && strcmp(kw2, r->second) != 0))
            continue;
        if (r->holding[0] && !holds(rest, r->holding))
            continue;
        if (r->reason) {
            *category = r->category;
            return r->reason;
        }
        break; /* an exception (SET LOCAL): accepted */
    }
    *category = DBEV_SQL_CAT_OTHER;
    for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++)
        if (strcmp(kw, categories[i].keyword) == 0)
            *category = categories[i].category;
    return NULL;
}
