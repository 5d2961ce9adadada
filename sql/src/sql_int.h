/*
 * Private to sql/: the token walker every rule reads the text with
 * (lexer.c), so the first keyword, the statement count and the placeholder
 * scan all see the same tokens PostgreSQL's scanner sees; and the string
 * buffer the builder writes statements into (sbuf.c, dbev_sql_build only).
 */
#ifndef DBEV_SQL_INT_H
#define DBEV_SQL_INT_H

#include <dbev/sql.h>

typedef enum sql_tok_kind {
    SQL_TOK_END = 0,      /* end of text */
    SQL_TOK_WORD,         /* unquoted identifier or keyword */
    SQL_TOK_QUOTED_IDENT, /* "..." or U&"..." */
    SQL_TOK_STRING,       /* '...', E'...', B'...', X'...', N'...', U&'...', $tag$...$tag$ */
    SQL_TOK_PARAM,        /* $n */
    SQL_TOK_SEMICOLON,
    SQL_TOK_LPAREN,
    SQL_TOK_RPAREN,
    SQL_TOK_OTHER, /* one byte of anything else: operators, digits, punctuation */
} sql_tok_kind_t;

typedef struct sql_tok {
    sql_tok_kind_t kind;
    const char *start; /* into the text */
    size_t len;
    long param; /* SQL_TOK_PARAM: n, capped at DBEV_SQL_MAX_PARAMS + 1 */
} sql_tok_t;

/** Reads the token at *p after whitespace and comments; advances *p past it. */
void sql_lex_next(const char **p, sql_tok_t *tok);

/** Whether a WORD token is the keyword kw (upper case), case-insensitively. */
bool sql_tok_is(const sql_tok_t *tok, const char *kw);

/** Copies a WORD token upper-cased (ASCII) into out, cut to size - 1. */
void sql_tok_upper(const sql_tok_t *tok, char *out, size_t size);

/**
 * The refusal of a statement starting with kw, kw2 (upper case; rest is the
 * text after kw), or NULL; *category gets the statement's category.
 */
const char *sql_refusal(const char *kw, const char *kw2, const char *rest,
                        dbev_sql_category_t *category);

/** snprintf into errstr (when given); returns -1. */
int sql_seterr(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the builder's string buffer (sbuf.c) ---------------------------- */

/** A growing NUL-terminated string; oom is set (and further appends are
 *  ignored) once an allocation fails. s is the owner's to free(). */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
} sbuf_t;

void sb_putn(sbuf_t *b, const char *s, size_t n);
void sb_puts(sbuf_t *b, const char *s);
void sb_putc(sbuf_t *b, char c);
void sb_int(sbuf_t *b, long long v);
/** Appends a validated identifier, quoted; "schema.table" becomes "schema"."table". */
void sb_ident(sbuf_t *b, const char *s);

#endif
