/*
 * The token walker: reads SQL text the way PostgreSQL's scanner
 * (src/backend/parser/scan.l) does, as far as the rules need it. What it
 * must get right is where a token starts and ends: a `$1`, a `;` or a
 * keyword inside a string, a comment, a quoted identifier or a dollar quote
 * is not one. It does not need to know operators or numbers, so anything
 * else is one byte of SQL_TOK_OTHER; that is safe because PostgreSQL's
 * operators are cut where a comment starts, exactly as a byte-wise walk
 * finds it.
 *
 * Whitespace includes \v (PostgreSQL 16 added it): treating more as
 * whitespace than the server does can only make a keyword visible that the
 * server would refuse as a syntax error, never hide one.
 */
#include "sql_int.h"

#include <string.h>

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* scan.l: ident_start [A-Za-z\200-\377_], ident_cont adds [0-9\$]. */
static bool word_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static bool word_char(unsigned char c)
{
    return word_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* scan.l: dolq_start [A-Za-z\200-\377_], dolq_cont adds [0-9] (no '$'). */
static bool dolq_char(unsigned char c)
{
    return word_start(c) || (c >= '0' && c <= '9');
}

/* Past whitespace and comments. A `--` comment ends at \n or \r (scan.l's
 * newline is [\n\r]); slash-star comments nest; an unterminated one runs to
 * the end. */
static const char *skip_blank(const char *p)
{
    for (;;) {
        while (is_space((unsigned char)*p))
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += 2;
            while (*p && *p != '\n' && *p != '\r')
                p++;
            continue;
        }
        if (p[0] == '/' && p[1] == '*') {
            int depth = 1;
            p += 2;
            while (*p && depth > 0) {
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (p[0] == '*' && p[1] == '/') {
                    depth--;
                    p += 2;
                } else {
                    p++;
                }
            }
            continue;
        }
        return p;
    }
}

/* Past a quoted run opened at p[0] == q; a doubled q stays inside. With
 * backslash escapes (E''), a backslash takes the next byte with it. */
static const char *skip_quoted(const char *p, char q, bool backslash)
{
    p++;
    while (*p) {
        if (backslash && *p == '\\') {
            p++;
            if (*p)
                p++;
            continue;
        }
        if (*p == q) {
            if (p[1] == q) {
                p += 2;
                continue;
            }
            return p + 1;
        }
        p++;
    }
    return p;
}

/* At '$': the length of a dollar quote's delimiter ("$$", "$tag$"), or 0
 * when none starts here. */
static size_t dollar_delim(const char *p)
{
    size_t n = 1;
    if (p[1] != '$') {
        if (!word_start((unsigned char)p[1]))
            return 0;
        while (dolq_char((unsigned char)p[n]))
            n++;
        if (p[n] != '$')
            return 0;
    }
    return n + 1;
}

void sql_lex_next(const char **pp, sql_tok_t *tok)
{
    const char *p = skip_blank(*pp);
    unsigned char c = (unsigned char)*p;
    memset(tok, 0, sizeof(*tok));
    tok->start = p;
    if (!c) {
        tok->kind = SQL_TOK_END;
        *pp = p;
        return;
    }
    const char *end = p + 1;
    tok->kind = SQL_TOK_OTHER;
    if (c == '\'') {
        tok->kind = SQL_TOK_STRING;
        end = skip_quoted(p, '\'', false);
    } else if (c == '"') {
        tok->kind = SQL_TOK_QUOTED_IDENT;
        end = skip_quoted(p, '"', false);
    } else if ((c == 'E' || c == 'e') && p[1] == '\'') {
        tok->kind = SQL_TOK_STRING;
        end = skip_quoted(p + 1, '\'', true);
    } else if ((c == 'B' || c == 'b' || c == 'X' || c == 'x' || c == 'N' || c == 'n') &&
               p[1] == '\'') {
        tok->kind = SQL_TOK_STRING;
        end = skip_quoted(p + 1, '\'', false);
    } else if ((c == 'U' || c == 'u') && p[1] == '&' && (p[2] == '\'' || p[2] == '"')) {
        tok->kind = p[2] == '"' ? SQL_TOK_QUOTED_IDENT : SQL_TOK_STRING;
        end = skip_quoted(p + 2, p[2], false);
    } else if (word_start(c)) {
        tok->kind = SQL_TOK_WORD;
        while (word_char((unsigned char)*end))
            end++;
    } else if (c == '$' && p[1] >= '0' && p[1] <= '9') {
        long n = 0;
        tok->kind = SQL_TOK_PARAM;
        while (*end >= '0' && *end <= '9') {
            if (n <= DBEV_SQL_MAX_PARAMS)
                n = n * 10 + (*end - '0');
            end++;
        }
        tok->param = n > DBEV_SQL_MAX_PARAMS ? DBEV_SQL_MAX_PARAMS + 1 : n;
    } else if (c == '$') {
        size_t dl = dollar_delim(p);
        if (dl > 0) {
            /* The body ends at the first copy of the same delimiter: every
             * '$' starts a token inside a dollar quote in scan.l, so a
             * plain search finds the same end. */
            tok->kind = SQL_TOK_STRING;
            const char *body = p + dl, *q = body;
            end = NULL;
            while ((q = strchr(q, '$')) != NULL) {
                if (strncmp(q, p, dl) == 0) {
                    end = q + dl;
                    break;
                }
                q++;
            }
            if (!end)
                end = body + strlen(body);
        }
    } else if (c == ';') {
        tok->kind = SQL_TOK_SEMICOLON;
    } else if (c == '(') {
        tok->kind = SQL_TOK_LPAREN;
    } else if (c == ')') {
        tok->kind = SQL_TOK_RPAREN;
    }
    tok->len = (size_t)(end - p);
    *pp = end;
}

bool sql_tok_is(const sql_tok_t *tok, const char *kw)
{
    if (tok->kind != SQL_TOK_WORD || tok->len != strlen(kw))
        return false;
    for (size_t i = 0; i < tok->len; i++) {
        char c = tok->start[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != kw[i])
            return false;
    }
    return true;
}

void sql_tok_upper(const sql_tok_t *tok, char *out, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return;
    for (; n < tok->len && n + 1 < size; n++) {
        char c = tok->start[n];
        out[n] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    out[n] = '\0';
}
