/*
 * Unit tests of the parts of the migration runner that need no server:
 * the SHA-256 hex helpers the checksums use (util.h), and the SQL statement
 * splitter (quotes, dollar quotes, comments, line numbers) that the file:line
 * error reports stand on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "migrate/migrate.h"
#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The helpers around libcrypto: hex as sha256sum prints it, and a digest fed
 * in pieces (the template key's way) equal to the one-shot digest. */
static void test_sha256_hex(void **state)
{
    char hex[HARNESS_SHA256_HEX_SIZE];
    assert_string_equal(harness_sha256_hex("", 0, hex),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(harness_sha256_hex("abc", 3, hex),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    EVP_DigestUpdate(ctx, "a", 1);
    EVP_DigestUpdate(ctx, "bc", 2);
    assert_string_equal(harness_sha256_final_hex(ctx, hex),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EVP_MD_CTX_free(ctx);
}

static char *stmt_text(const char *sql, const mig_stmt_t *st)
{
    return strndup(sql + st->start, st->len);
}

static void test_split_statements(void **state)
{
    const char *sql = "-- header comment; not a statement\n"     /* 1 */
                      "CREATE TABLE a (x text DEFAULT 'a;b');\n" /* 2 */
                      "\n"                                       /* 3 */
                      "/* block; /* nested; */ still */\n"       /* 4 */
                      "CREATE FUNCTION f() RETURNS int\n"        /* 5 */
                      "LANGUAGE plpgsql AS $body$\n"             /* 6 */
                      "BEGIN\n"                                  /* 7 */
                      "  RETURN 1; -- inside\n"                  /* 8 */
                      "END $body$;\n"                            /* 9 */
                      "SELECT E'it\\'s;', \"odd;name\", $1\n"    /* 10 */
                      "  FROM t;  -- trailing\n"                 /* 11 */
                      "SELECT 'it''s' -- last, no semicolon\n";  /* 12 */
    mig_stmt_t *st = NULL;
    char err[256];
    int n = mig_sql_split(sql, &st, err, sizeof(err));
    assert_int_equal(n, 4);
    assert_int_equal(st[0].line, 2);
    assert_int_equal(st[0].body_line, 0);
    char *t0 = stmt_text(sql, &st[0]);
    assert_string_equal(t0, "CREATE TABLE a (x text DEFAULT 'a;b');");
    free(t0);
    assert_int_equal(st[1].line, 5);
    assert_int_equal(st[1].body_line, 6);
    char *t1 = stmt_text(sql, &st[1]);
    assert_non_null(strstr(t1, "END $body$;"));
    free(t1);
    assert_int_equal(st[2].line, 10);
    assert_int_equal(st[3].line, 12);
    char *t3 = stmt_text(sql, &st[3]);
    assert_string_equal(t3, "SELECT 'it''s' -- last, no semicolon");
    free(t3);
    free(st);

    assert_int_equal(mig_sql_split("-- only a comment\n\n", &st, err, sizeof(err)), 0);
    assert_null(st);
    assert_int_equal(mig_sql_split("SELECT 1;\nSELECT 'open\n;\n", &st, err, sizeof(err)), -1);
    assert_string_equal(err, "line 2: unterminated string");
    assert_int_equal(mig_sql_split("DO $$ BEGIN\n", &st, err, sizeof(err)), -1);
    assert_string_equal(err, "line 1: unterminated dollar quote");
}

static void test_real_migrations_split_cleanly(void **state)
{
    char err[512];
    mig_set_t *set = mig_set_load(DBEV_SOURCE_DIR "/migrations", err, sizeof(err));
    assert_non_null(set);
    assert_true(mig_set_latest(set) >= 6);
    for (size_t i = 0; i < set->count; i++) {
        mig_migration_t *m = &set->items[i];
        assert_int_equal(m->version, (int)i + 1);
        assert_int_equal(strlen(m->checksum), 64);
        const char *sqls[] = {m->up_sql, m->down_sql, m->pre_sql, m->post_sql};
        for (int k = 0; k < 4; k++) {
            mig_stmt_t *st = NULL;
            if (!sqls[k])
                continue;
            int n = mig_sql_split(sqls[k], &st, err, sizeof(err));
            assert_true(n > 0);
            /* No migration manages its own transaction: the runner does. */
            for (int s = 0; s < n; s++) {
                assert_true(strncasecmp(sqls[k] + st[s].start, "BEGIN", 5) != 0 || st[s].len > 6);
                assert_true(strncasecmp(sqls[k] + st[s].start, "COMMIT", 6) != 0);
            }
            free(st);
        }
    }
    mig_set_destroy(set);
}

/* Fixtures are deterministic: nothing that differs between two loads. */
static void test_fixtures_deterministic(void **state)
{
    static const char *const names[] = {"base", "bulk"};
    static const char *const banned[] = {
        "now()",        "random(", "gen_random_uuid", "clock_timestamp", "current_timestamp",
        "current_date", "txid_"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[512], err[256];
        snprintf(path, sizeof(path), "%s/fixtures/%s.sql", DBEV_SOURCE_DIR, names[i]);
        char *sql = mig_read_file(path, NULL, err, sizeof(err));
        assert_non_null(sql);
        assert_non_null(strstr(sql, "-- requires: "));
        /* Lower-case, and blank out comments (the header may name what is banned). */
        for (char *p = sql; *p; p++) {
            if (p[0] == '-' && p[1] == '-')
                while (*p && *p != '\n')
                    *p++ = ' ';
            if (!*p)
                break;
            *p = (char)tolower((unsigned char)*p);
        }
        for (size_t b = 0; b < sizeof(banned) / sizeof(banned[0]); b++)
            if (strstr(sql, banned[b]))
                fail_msg("%s uses %s", path, banned[b]);
        free(sql);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_hex),
        cmocka_unit_test(test_split_statements),
        cmocka_unit_test(test_real_migrations_split_cleanly),
        cmocka_unit_test(test_fixtures_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
