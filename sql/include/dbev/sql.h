/*
 * The SQL rules of dbev, written once: how a caller's SQL text is read
 * (the way PostgreSQL's scanner reads it), which statements a pooled
 * connection refuses, what a structured operation may name as a table or a
 * column, how many parameters a statement uses, and whose fault a failed
 * statement was (by SQLSTATE). The protocol's decoder, the client (through
 * the protocol), the harness and the adapter's executor all ask these
 * functions, so they cannot disagree. No I/O, no allocation, no shared
 * state: every function is thread-safe. Depends on nothing of dbev.
 *
 * Reading the text. The lexer knows whitespace ([ \t\n\r\f\v]), `--`
 * comments (ended by \n or \r), NESTED slash-star comments, single-quoted
 * strings with '' doubling (B'', X'', N'' and U&'' alike), E'' strings with
 * backslash escapes, dollar quotes ($$ and $tag$, tag
 * [A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*), double-quoted identifiers
 * (also U&""), identifiers [A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*,
 * parameters $n, `;` and parentheses. It assumes standard_conforming_strings
 * on (PostgreSQL's default): a request could turn it off with SET LOCAL for
 * a later statement of its TRANSACTION, which changes how that statement's
 * strings end, but never which keyword comes first (a keyword precedes every
 * string), so the refusals hold; only the placeholder count could then be
 * misread, and PostgreSQL refuses the statement itself in that case.
 *
 * Statements. The adapter sends SELECT and EXECUTE through the extended
 * protocol (PQsendQueryParams / PQsendQueryPrepared), whose Parse message
 * PostgreSQL refuses when it holds more than one statement ("cannot insert
 * multiple commands into a prepared statement"), so only the first
 * statement could ever execute. The rules refuse a second statement at once
 * with a message that says so, rather than let it fail as a syntax error.
 * Empty statements (`;` alone, also in front: `; LISTEN x` is LISTEN) are
 * skipped as PostgreSQL's grammar skips them. A `;` inside parentheses or
 * inside CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC ... END does not end a
 * statement (psql's heuristic, psqlscan.l).
 *
 * Refused statements (one table, sql/src/refusals.c, with the reason of
 * each). Transaction control, because each request runs in a transaction of
 * its own on a pooled connection: BEGIN, START, COMMIT (also COMMIT
 * PREPARED), END, ROLLBACK (also ROLLBACK PREPARED), ABORT, SAVEPOINT,
 * RELEASE, PREPARE TRANSACTION. Session changes, because the connection
 * serves other callers next: SET (but SET LOCAL, scoped to the request's own
 * transaction), RESET, DISCARD, LISTEN, UNLISTEN, PREPARE, DEALLOCATE, LOAD.
 * This is the union of what the protocol's validator and the executor
 * refused before they shared these rules (the executor also refused SET
 * TRANSACTION and SET CONSTRAINTS, the validator let them pass; the union
 * refuses them). Added here: DECLARE ... WITH HOLD (a holdable cursor
 * outlives the transaction on the pooled connection) and COPY ... FROM
 * STDIN / TO STDOUT (the adapter's pipeline has no channel for COPY data;
 * COPY to or from a server file is left to PostgreSQL's privileges).
 * NOTIFY is allowed: it is delivered at commit and leaves no session state.
 *
 * SELECT runs in a READ ONLY transaction (the executor); that, not the
 * category reported here, is what keeps a SELECT from writing (a WITH may
 * hold an INSERT). The category is for messages and tests.
 */
#ifndef DBEV_SQL_H
#define DBEV_SQL_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest identifier part PostgreSQL keeps (NAMEDATALEN - 1). */
#define DBEV_SQL_IDENT_MAX 63
/** Most bind parameters one statement may carry (PostgreSQL's wire limit). */
#define DBEV_SQL_MAX_PARAMS 65535
/** Room for a keyword as dbev_sql_stmt_t keeps it (longer words are cut). */
#define DBEV_SQL_KEYWORD_SIZE 32

/** What kind of statement a first keyword starts. */
typedef enum dbev_sql_category {
    DBEV_SQL_CAT_NONE = 0,    /* no statement: only whitespace, comments, `;` */
    DBEV_SQL_CAT_QUERY,       /* SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN, FETCH */
    DBEV_SQL_CAT_DML,         /* INSERT, UPDATE, DELETE, MERGE, COPY, CALL, DO, LOCK... */
    DBEV_SQL_CAT_DDL,         /* CREATE, ALTER, DROP, TRUNCATE, GRANT, REVOKE, COMMENT... */
    DBEV_SQL_CAT_TRANSACTION, /* transaction control: always refused */
    DBEV_SQL_CAT_SESSION,     /* session changes: always refused */
    DBEV_SQL_CAT_OTHER,       /* anything else, also a first token that is not a word */
} dbev_sql_category_t;

/** What the rules found in a statement text. */
typedef struct dbev_sql_stmt {
    /** First keyword of the first statement, upper-cased ("" when its first
     *  token is not a word, e.g. a quoted identifier). */
    char keyword[DBEV_SQL_KEYWORD_SIZE];
    /** The word after it, upper-cased, or "" (SET LOCAL, PREPARE TRANSACTION). */
    char keyword2[DBEV_SQL_KEYWORD_SIZE];
    /** Offset of the first keyword in the text. */
    size_t keyword_offset;
    /** Non-empty statements in the text. */
    size_t statements;
    /** Highest $n used outside strings, comments, quoted identifiers and
     *  dollar quotes; 0 when none. Capped at DBEV_SQL_MAX_PARAMS + 1. */
    long max_param;
    dbev_sql_category_t category;
    /** Why the statement is refused (a sentence without a leading capital),
     *  NULL when it is not. Static storage. */
    const char *refusal;
} dbev_sql_stmt_t;

/**
 * @brief Reads a statement text (NUL-terminated) the way PostgreSQL's
 *        scanner does and fills *stmt.
 * @param sql the text; NULL reads as "".
 * @remark Never fails: an unterminated string or comment simply runs to the
 *         end of the text (PostgreSQL refuses such a text itself).
 */
void dbev_sql_inspect(const char *sql, dbev_sql_stmt_t *stmt);

/**
 * @brief The first keyword of a statement, upper-cased into out, after
 *        whitespace, comments (nested ones too), empty statements and
 *        leading parentheses; "" when the first token is not a word.
 * @param size room in out (DBEV_SQL_KEYWORD_SIZE is enough for any keyword).
 * @returns the text after that token, to read the next keyword from.
 */
const char *dbev_sql_first_keyword(const char *sql, char *out, size_t size);

/**
 * @brief Whether sql orders its result: an ORDER BY at the top level of the
 *        statement, not inside parentheses (a subquery, a window, an
 *        aggregate), a string, a quoted identifier or a comment. Read with
 *        the same token walker as every other rule.
 * @param sql NULL reads as unordered.
 */
bool dbev_sql_is_ordered(const char *sql);

/** "QUERY", "DML", ... for a category. */
const char *dbev_sql_category_name(dbev_sql_category_t category);

/**
 * @brief Checks a SELECT or EXECUTE statement against the rules: not empty,
 *        one statement, not refused.
 * @param op_name the operation's name for messages ("SELECT", "EXECUTE").
 * @returns 0, or -1 with a message in errstr (no field path: the caller
 *          adds its own, e.g. "payload.sql: ").
 */
int dbev_sql_check(const char *sql, const char *op_name, char *errstr, size_t size);

/**
 * @brief Checks that the statement's $n placeholders match nparams values:
 *        PostgreSQL requires exactly as many values as the highest $n (Bind
 *        with fewer or more fails with 08P01), so both directions are
 *        refused, with a message such as "sql uses $3 but params has 2
 *        values".
 * @returns 0, or -1 with a message in errstr (no field path).
 */
int dbev_sql_params_check(const char *sql, size_t nparams, char *errstr, size_t size);

/** What a structured operation names. */
typedef enum dbev_sql_ident_kind {
    DBEV_SQL_IDENT_COLUMN = 0, /* a plain name */
    DBEV_SQL_IDENT_TABLE,      /* name or schema.name, not in a system schema */
} dbev_sql_ident_kind_t;

/**
 * @brief Checks an identifier of a structured operation: each part
 *        [A-Za-z_][A-Za-z0-9_$]* of at most DBEV_SQL_IDENT_MAX bytes (ASCII
 *        only: the builder quotes names, so what passes here is exactly the
 *        name that reaches PostgreSQL); a table may be schema-qualified, but
 *        not in a schema the caller must not reach: any `pg_*` schema
 *        (pg_catalog, pg_toast, pg_temp*; PostgreSQL reserves the prefix),
 *        information_schema, and the adapter's own dbev_adapter, compared
 *        case-insensitively.
 * @remark An unqualified name resolves through search_path at run time:
 *         `pg_class` alone finds pg_catalog.pg_class, which is implicitly
 *         first on every search_path. That is PostgreSQL's privilege
 *         system's to refuse (the adapter's role has no write grant on the
 *         catalogs), not a name rule's: a table of the application may share
 *         a catalog table's name.
 * @returns 0, or -1 with a message in errstr such as `invalid identifier
 *          "1x": it must start with a letter or '_', not '1'` (no path, no
 *          hint: the caller adds its own).
 */
int dbev_sql_ident_check(const char *ident, dbev_sql_ident_kind_t kind, char *errstr, size_t size);

/** Whether ident passes dbev_sql_ident_check (no message). */
bool dbev_sql_ident_valid(const char *ident, dbev_sql_ident_kind_t kind);

/**
 * @brief Whether schema (len bytes) is one a structured operation must not
 *        name: `pg_*`, information_schema, dbev_adapter (case-insensitive).
 */
bool dbev_sql_schema_reserved(const char *schema, size_t len);

/** The adapter's own schema (idempotency records); reserved for callers. */
#define DBEV_SQL_ADAPTER_SCHEMA "dbev_adapter"

/**
 * Whose fault a failed statement was, which decides what the executor does
 * with it. The table by SQLSTATE class is in docs/protocol.md ("Which
 * failures count toward the circuit breaker") and sql/src/sqlstate.c.
 */
typedef enum dbev_sql_fault {
    /** The request is wrong (syntax, data, constraint, permission...): answered
     *  DATABASE_OPERATION_FAILED, never retried, not counted by the breaker. */
    DBEV_SQL_FAULT_CALLER = 0,
    /** The caller's own timeout (57014): answered TIMEOUT_ERROR, not counted. */
    DBEV_SQL_FAULT_TIMEOUT,
    /** Lost a race (40001 serialization, 40P01 deadlock); nothing committed:
     *  run again in a new transaction, not counted. */
    DBEV_SQL_FAULT_TRANSIENT,
    /** The connection is gone: retried once on a fresh connection, then
     *  answered DATABASE_CONNECTION_FAILED and counted by the breaker. */
    DBEV_SQL_FAULT_CONNECTION,
    /** The server answered but is failing (out of memory, disk full, I/O
     *  error, internal error): answered DATABASE_OPERATION_FAILED, not
     *  retried, counted by the breaker. */
    DBEV_SQL_FAULT_SERVER,
} dbev_sql_fault_t;

/**
 * @brief Classifies a failed statement.
 * @param sqlstate the five-character SQLSTATE, or NULL/"" when libpq made
 *        the error itself (no SQLSTATE).
 * @param session_ended true when the session did not survive the error: the
 *        severity was FATAL or PANIC, or libpq reports the connection bad.
 *        Then the fault is CONNECTION whatever the code, and only then: an
 *        ERROR that leaves the session usable is never the connection's
 *        fault. That is why 08P01 "protocol violation" answered as an ERROR
 *        (a Bind with the wrong number of parameters: PostgreSQL refuses the
 *        message, skips to the next Sync and serves on) is the CALLER's,
 *        while a real desync is FATAL ("invalid frontend message type") and
 *        closes the connection.
 */
dbev_sql_fault_t dbev_sql_sqlstate_class(const char *sqlstate, bool session_ended);

/** "CALLER", "TIMEOUT", "TRANSIENT", "CONNECTION", "SERVER". */
const char *dbev_sql_fault_name(dbev_sql_fault_t fault);

/** Whether a fault counts toward the circuit breaker (CONNECTION, SERVER). */
bool dbev_sql_fault_counts(dbev_sql_fault_t fault);

#ifdef __cplusplus
}
#endif

#endif
