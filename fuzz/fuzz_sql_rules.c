/*
 * libFuzzer target for the SQL rules (sql/): on any input the rules never
 * crash or read out of bounds, and their answers hold invariants that
 * follow from how PostgreSQL reads SQL: what the server skips in front of a
 * statement (whitespace, comments, nested comments, empty statements)
 * changes neither the first keyword nor the refusal nor the placeholders;
 * a $n inside a comment appended to any text is never counted; the two
 * ways to ask for the first keyword agree. Agreement with PostgreSQL itself
 * is tests/integration/test_sql_pg.c's. Build (fuzz/ has the make target):
 *   clang -g -fsanitize=fuzzer,address,undefined -Isql/include -Isql/src \
 *         sql/src/ *.c fuzz/fuzz_sql_rules.c -o fuzz_sql_rules
 */
#include <dbev/sql.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 4096

static void same(const dbev_sql_stmt_t *a, const dbev_sql_stmt_t *b, const char *what,
                 const char *text)
{
    if (strcmp(a->keyword, b->keyword) != 0 || a->refusal != b->refusal ||
        a->max_param != b->max_param || a->category != b->category ||
        a->statements != b->statements) {
        fprintf(stderr, "%s changed the reading of [%s]: %s/%s/$%ld/%zu vs %s/%s/$%ld/%zu\n", what,
                text, a->keyword, a->refusal ? "refused" : "ok", a->max_param, a->statements,
                b->keyword, b->refusal ? "refused" : "ok", b->max_param, b->statements);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const prefixes[] = {
        " ", "\n\t\f", "-- c\n", "-- c\r", "/**/", "/* c */", "/* a /* b */ c */", ";", " ; ;\n"};
    static const char suffix[] = "\n/* $65000 */ -- $65001\n";
    static char text[MAX_INPUT + 1], buf[MAX_INPUT + 64];
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    memcpy(text, data, size);
    text[size] = '\0'; /* PostgreSQL's query string ends at the first NUL too */

    dbev_sql_stmt_t st, other;
    dbev_sql_inspect(text, &st);
    if (st.max_param < 0 || st.max_param > DBEV_SQL_MAX_PARAMS + 1)
        abort();
    if (st.refusal && st.category != DBEV_SQL_CAT_TRANSACTION &&
        st.category != DBEV_SQL_CAT_SESSION)
        abort();
    if ((st.statements == 0) != (st.category == DBEV_SQL_CAT_NONE))
        abort();

    char kw[DBEV_SQL_KEYWORD_SIZE];
    dbev_sql_first_keyword(text, kw, sizeof(kw));
    if (strcmp(kw, st.keyword) != 0)
        abort();

    char err[512];
    int rc = dbev_sql_check(text, "EXECUTE", err, sizeof(err));
    if ((rc == 0) != (st.statements == 1 && !st.refusal))
        abort();
    rc = dbev_sql_params_check(text, (size_t)st.max_param, err, sizeof(err));
    if ((rc == 0) != (st.max_param <= DBEV_SQL_MAX_PARAMS))
        abort();

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", prefixes[i], text);
        dbev_sql_inspect(buf, &other);
        same(&st, &other, prefixes[i], text);
    }
    snprintf(buf, sizeof(buf), "%s%s", text, suffix);
    dbev_sql_inspect(buf, &other);
    same(&st, &other, "a comment appended", text);

    dbev_sql_ident_check(text, DBEV_SQL_IDENT_TABLE, err, sizeof(err));
    dbev_sql_ident_check(text, DBEV_SQL_IDENT_COLUMN, err, sizeof(err));
    dbev_sql_fault_t f = dbev_sql_sqlstate_class(text, false);
    if (f > DBEV_SQL_FAULT_SERVER)
        abort();
    return 0;
}
