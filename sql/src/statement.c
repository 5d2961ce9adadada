/*
 * Reading a statement text as a whole: its first keyword (what PostgreSQL
 * will execute), how many statements it holds, the highest $n, whether
 * the rules refuse it (dbev_sql_check), and whether it orders its rows
 * (dbev_sql_is_ordered, for the harness's parity comparison). The first keyword is found after
 * whitespace, comments, empty statements and leading parentheses, which PostgreSQL skips too: `;
 * LISTEN x`, a LISTEN after a nested comment holding a SELECT, and `-- c` followed by a carriage
 * return and LISTEN are all LISTEN to the server, and so they are here.
 */
#include "sql_int.h"

#include <dbev/sql.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The first token of the first statement: past empty statements and the
 * opening parentheses of a parenthesised query. *after is the text after it. */
static void first_token(const char *sql, sql_tok_t *tok, const char **after)
{
    const char *p = sql;
    int depth = 0;
    for (;;) {
        sql_lex_next(&p, tok);
        if (tok->kind == SQL_TOK_SEMICOLON && depth == 0)
            continue;
        if (tok->kind == SQL_TOK_LPAREN) {
            depth++;
            continue;
        }
        *after = p;
        return;
    }
}

const char *dbev_sql_first_keyword(const char *sql, char *out, size_t size)
{
    sql_tok_t tok;
    const char *after;
    if (size > 0)
        out[0] = '\0';
    if (!sql)
        return "";
    first_token(sql, &tok, &after);
    if (tok.kind == SQL_TOK_WORD)
        sql_tok_upper(&tok, out, size);
    return after;
}

/*
 * Whether a word keeps a `;` from ending the statement: psql's heuristic
 * (psqlscan.l) for the bodies of CREATE [OR REPLACE] FUNCTION/PROCEDURE ...
 * BEGIN ATOMIC ... END, whose inner statements end with `;`. ids holds the
 * initials of the statement's first words when they are create, function,
 * procedure, or, replace.
 */
typedef struct atomic_state {
    char ids[4];
    size_t nwords;
    int begin_depth;
} atomic_state_t;

static void atomic_word(atomic_state_t *as, const sql_tok_t *tok, int paren_depth)
{
    static const char *const starters[] = {"CREATE", "FUNCTION", "PROCEDURE", "OR", "REPLACE"};
    for (size_t i = 0; i < sizeof(starters) / sizeof(starters[0]); i++)
        if (as->nwords < sizeof(as->ids) && sql_tok_is(tok, starters[i]))
            as->ids[as->nwords] = (char)(starters[i][0] - 'A' + 'a');
    as->nwords++;
    const char *ids = as->ids;
    bool routine =
        ids[0] == 'c' && (ids[1] == 'f' || ids[1] == 'p' ||
                          (ids[1] == 'o' && ids[2] == 'r' && (ids[3] == 'f' || ids[3] == 'p')));
    if (!routine || paren_depth != 0)
        return;
    if (sql_tok_is(tok, "BEGIN"))
        as->begin_depth++;
    else if (sql_tok_is(tok, "CASE") && as->begin_depth >= 1)
        as->begin_depth++;
    else if (sql_tok_is(tok, "END") && as->begin_depth > 0)
        as->begin_depth--;
}

void dbev_sql_inspect(const char *sql, dbev_sql_stmt_t *stmt)
{
    memset(stmt, 0, sizeof(*stmt));
    if (!sql)
        sql = "";

    sql_tok_t tok;
    const char *after;
    first_token(sql, &tok, &after);
    if (tok.kind != SQL_TOK_END) {
        stmt->keyword_offset = (size_t)(tok.start - sql);
        if (tok.kind == SQL_TOK_WORD) {
            sql_tok_t next;
            const char *q = after;
            sql_tok_upper(&tok, stmt->keyword, sizeof(stmt->keyword));
            sql_lex_next(&q, &next);
            if (next.kind == SQL_TOK_WORD)
                sql_tok_upper(&next, stmt->keyword2, sizeof(stmt->keyword2));
        }
        stmt->refusal = sql_refusal(stmt->keyword, stmt->keyword2, after, &stmt->category);
    }

    /* The whole text: statements and placeholders. */
    const char *p = sql;
    bool in_statement = false;
    int depth = 0;
    atomic_state_t as = {{0}, 0, 0};
    for (;;) {
        sql_lex_next(&p, &tok);
        if (tok.kind == SQL_TOK_END)
            break;
        if (tok.kind == SQL_TOK_SEMICOLON && depth == 0 && as.begin_depth == 0) {
            in_statement = false;
            memset(&as, 0, sizeof(as));
            continue;
        }
        if (!in_statement) {
            in_statement = true;
            stmt->statements++;
        }
        switch (tok.kind) {
        case SQL_TOK_PARAM:
            if (tok.param > stmt->max_param)
                stmt->max_param = tok.param;
            break;
        case SQL_TOK_LPAREN:
            depth++;
            break;
        case SQL_TOK_RPAREN:
            if (depth > 0)
                depth--;
            break;
        case SQL_TOK_WORD:
            atomic_word(&as, &tok, depth);
            break;
        default:
            break;
        }
    }
    if (stmt->statements == 0)
        stmt->category = DBEV_SQL_CAT_NONE;
    else if (stmt->category == DBEV_SQL_CAT_NONE)
        stmt->category = DBEV_SQL_CAT_OTHER; /* only parentheses: "(" */
}

const char *dbev_sql_category_name(dbev_sql_category_t category)
{
    switch (category) {
    case DBEV_SQL_CAT_NONE:
        return "NONE";
    case DBEV_SQL_CAT_QUERY:
        return "QUERY";
    case DBEV_SQL_CAT_DML:
        return "DML";
    case DBEV_SQL_CAT_DDL:
        return "DDL";
    case DBEV_SQL_CAT_TRANSACTION:
        return "TRANSACTION";
    case DBEV_SQL_CAT_SESSION:
        return "SESSION";
    case DBEV_SQL_CAT_OTHER:
        return "OTHER";
    }
    return "UNKNOWN";
}

int sql_seterr(char *errstr, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errstr && size > 0)
        vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
    return -1;
}

int dbev_sql_check(const char *sql, const char *op_name, char *errstr, size_t size)
{
    dbev_sql_stmt_t stmt;
    dbev_sql_inspect(sql, &stmt);
    if (stmt.statements == 0) {
        if (!sql || sql[strspn(sql, " \t\r\n\f\v")] == '\0')
            return sql_seterr(errstr, size, "empty; give the statement to run");
        return sql_seterr(errstr, size,
                          "holds no statement, only comments or ';'; give the statement to run");
    }
    if (stmt.refusal && stmt.category == DBEV_SQL_CAT_TRANSACTION)
        return sql_seterr(errstr, size, "transaction control (%s) is not allowed in %s: %s",
                          stmt.keyword, op_name, stmt.refusal);
    if (stmt.refusal)
        return sql_seterr(errstr, size, "%s %s", stmt.keyword, stmt.refusal);
    if (stmt.statements > 1)
        return sql_seterr(errstr, size,
                          "holds %zu statements; %s runs one (PostgreSQL's extended protocol "
                          "refuses more in one request): send one per request, or several as one "
                          "TRANSACTION operation",
                          stmt.statements, op_name);
    return 0;
}

bool dbev_sql_is_ordered(const char *sql)
{
    if (!sql)
        return false;
    const char *p = sql;
    int depth = 0;
    bool after_order = false;
    sql_tok_t tok;
    for (sql_lex_next(&p, &tok); tok.kind != SQL_TOK_END; sql_lex_next(&p, &tok)) {
        if (tok.kind == SQL_TOK_WORD) {
            if (depth == 0 && after_order && sql_tok_is(&tok, "BY"))
                return true;
            after_order = depth == 0 && sql_tok_is(&tok, "ORDER");
            continue;
        }
        if (tok.kind == SQL_TOK_LPAREN)
            depth++;
        else if (tok.kind == SQL_TOK_RPAREN && depth > 0)
            depth--;
        after_order = false;
    }
    return false;
}
