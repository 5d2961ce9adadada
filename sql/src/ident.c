/*
 * The identifier grammar of structured operations (INSERT, UPDATE, DELETE,
 * UPSERT, BATCH_INSERT): tables and columns are plain names, the builder
 * double-quotes every one it puts into SQL, and anything that is not a
 * plain name (`users; DROP TABLE x`, `"quoted"`, `a.b.c`) is refused before
 * it gets that far: it is a bug or an attack, and saying so early is better
 * than letting a quoted oddity reach the database. A table may be
 * schema-qualified, but not into the schemas callers have no business in.
 */
#include "sql_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool ident_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool ident_char(unsigned char c)
{
    return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static bool printable(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

/* One part [start, start + len): NULL when fine, else what is wrong with it
 * (why is the buffer for a formatted answer). */
static const char *part_problem(const char *start, size_t len, char *why, size_t size)
{
    if (len == 0)
        return "is empty";
    if (len > DBEV_SQL_IDENT_MAX) {
        snprintf(why, size, "is %zu bytes long, PostgreSQL keeps at most %d", len,
                 DBEV_SQL_IDENT_MAX);
        return why;
    }
    if (!ident_start((unsigned char)start[0])) {
        snprintf(why, size, "must start with a letter or '_', not '%c'",
                 printable((unsigned char)start[0]) ? start[0] : '?');
        return why;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)start[i];
        if (ident_char(c))
            continue;
        if (printable(c))
            snprintf(why, size, "contains '%c' at offset %zu", c, i);
        else
            snprintf(why, size, "contains byte 0x%02x at offset %zu", c, i);
        return why;
    }
    return NULL;
}

bool dbev_sql_schema_reserved(const char *schema, size_t len)
{
    static const char *const named[] = {"information_schema", DBEV_SQL_ADAPTER_SCHEMA};
    /* PostgreSQL refuses to create a schema named pg_*: they are its own
     * (pg_catalog, pg_toast, pg_temp_N, pg_toast_temp_N). */
    if (len >= 3 && strncasecmp(schema, "pg_", 3) == 0)
        return true;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (len == strlen(named[i]) && strncasecmp(schema, named[i], len) == 0)
            return true;
    return false;
}

int dbev_sql_ident_check(const char *ident, dbev_sql_ident_kind_t kind, char *errstr, size_t size)
{
    char why[96];
    const char *problem;
    if (!ident)
        return sql_seterr(errstr, size, "identifier is missing");
    size_t len = strlen(ident);
    if (len == 0)
        return sql_seterr(errstr, size, "identifier is empty");
    const char *dot = kind == DBEV_SQL_IDENT_TABLE ? memchr(ident, '.', len) : NULL;
    if (!dot) {
        problem = part_problem(ident, len, why, sizeof(why));
        if (problem)
            return sql_seterr(errstr, size, "invalid identifier \"%.64s\": it %s", ident, problem);
        return 0;
    }
    size_t slen = (size_t)(dot - ident);
    problem = part_problem(ident, slen, why, sizeof(why));
    if (problem)
        return sql_seterr(errstr, size, "invalid identifier \"%.64s\": schema %s", ident, problem);
    problem = part_problem(dot + 1, len - slen - 1, why, sizeof(why));
    if (problem)
        return sql_seterr(errstr, size, "invalid identifier \"%.64s\": name %s", ident, problem);
    if (dbev_sql_schema_reserved(ident, slen))
        return sql_seterr(errstr, size,
                          "table \"%.64s\" is in schema %.*s, which is %s; structured "
                          "operations reach application tables only",
                          ident, (int)slen, ident,
                          strncasecmp(ident, DBEV_SQL_ADAPTER_SCHEMA, slen) == 0
                              ? "the adapter's own bookkeeping"
                              : "PostgreSQL's own");
    return 0;
}

bool dbev_sql_ident_valid(const char *ident, dbev_sql_ident_kind_t kind)
{
    return dbev_sql_ident_check(ident, kind, NULL, 0) == 0;
}
