/*
 * The growing string buffer the SQL builder writes into (see sql_int.h):
 * appends that remember an allocation failure instead of reporting each one,
 * so a builder checks `oom` once at the end; and the double-quoted
 * identifier, the only way a name enters a statement.
 */
#include "sql_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_putn(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sb_puts(sbuf_t *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_putc(sbuf_t *b, char c)
{
    sb_putn(b, &c, 1);
}

void sb_int(sbuf_t *b, long long v)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%lld", v);
    sb_puts(b, tmp);
}

/* ---- identifiers --------------------------------------------------------- */

/* The grammar is the SQL rules' (dbev_sql_ident_check); the protocol's
 * decoder has refused a bad name already, the builder does not rely on it. */

/* Appends a validated identifier, quoted; "schema.table" becomes "schema"."table". */
void sb_ident(sbuf_t *b, const char *s)
{
    const char *dot = strchr(s, '.');
    sb_putc(b, '"');
    if (dot) {
        sb_putn(b, s, (size_t)(dot - s));
        sb_puts(b, "\".\"");
        sb_puts(b, dot + 1);
    } else {
        sb_puts(b, s);
    }
    sb_putc(b, '"');
}
