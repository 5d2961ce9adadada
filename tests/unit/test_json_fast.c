/*
 * The request decoder's fast JSON path (protocol/src/json_fast.c) against
 * jansson itself: whenever the fast parser returns a tree, jansson must
 * accept the same bytes with the same flags and build an equal tree (same
 * types, same key order); when jansson refuses, the fast parser must give
 * up. Checked on hand-picked edge cases (numbers, escapes, UTF-8, duplicate
 * keys, nesting), on the fuzz corpus and seed 002's fixtures, and on a fixed-
 * seed mutation loop over them. Likewise the fast dumper against
 * json_dumps(JSON_COMPACT): the same bytes, or it gives up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "proto_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

static long accepted_fast, accepted_jansson;

static long dumped_fast;

/* The fast dumper writes json_dumps(v, JSON_COMPACT)'s bytes, or gives up. */
static void dump_agrees(const json_t *v)
{
    char stack[64];
    proto_buf_t b;
    proto_buf_init(&b, stack, sizeof(stack));
    if (proto_json_fast_dump(v, &b) == 0) {
        char *ref = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(ref);
        if (strlen(ref) != b.len || memcmp(ref, b.p, b.len) != 0)
            fail_msg("dumps differ: %.*s vs %s", (int)b.len, b.p, ref);
        free(ref);
        dumped_fast++;
    }
    proto_buf_release(&b);
}

/* The fast path agrees with jansson on buf. */
static void agree(const char *buf, size_t len)
{
    json_t *fast = proto_json_fast_loadb(buf, len);
    json_t *ref = json_loadb(buf, len, FLAGS, NULL);
    accepted_fast += fast != NULL;
    accepted_jansson += ref != NULL;
    if (fast) {
        if (!ref)
            fail_msg("fast path accepted what jansson refuses: %.*s", (int)len, buf);
        char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
        assert_non_null(a);
        assert_non_null(b);
        if (!json_equal(fast, ref) || strcmp(a, b) != 0)
            fail_msg("trees differ for %.*s: %s vs %s", (int)len, buf, a, b);
        free(a);
        free(b);
    }
    if (ref)
        dump_agrees(ref);
    json_decref(fast);
    json_decref(ref);
}

static void agree_str(const char *s)
{
    agree(s, strlen(s));
}

static const char *const cases[] = {
    "{}",
    "[]",
    "1",
    "-0",
    "0",
    "01",
    "-",
    "-a",
    "1.",
    "1.5",
    ".5",
    "1e5",
    "1E+5",
    "1e-5",
    "1e",
    "1e+",
    "-1.25e-3",
    "1e400",
    "-1e400",
    "1e-400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "true",
    "false",
    "null",
    "truex",
    "nul",
    "tru",
    " true ",
    "\"a\"",
    "\"\"",
    "\"a\\\"b\"",
    "\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\u0041\"",
    "\"\\u0000\"",
    "\"\\ud83d\\ude00\"",
    "\"\\x\"",
    "\"a\tb\"",
    "\"a\nb\"",
    "\"\xc3\xa9\"",
    "\"\xc3\"",
    "\"\xc0\x80\"",
    "\"\xe0\x80\x80\"",
    "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"",
    "\"\xf0\x9f\x98\x80\"",
    "\"\xff\"",
    "\xc3\xa9",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"b\":{\"a\":2}}",
    "{\"a\\n\":1,\"a\\n\":2}",
    "{\"a\\n\":1,\"b\":\"x\\ty\"}",
    "{\"a\":1,}",
    "{,}",
    "[1,]",
    "[1 2]",
    "{\"a\" 1}",
    "{\"a\":}",
    "{1:2}",
    "{\"a\":1}x",
    "{\"a\":1} ",
    "\t\r\n{\"a\" : [ 1 , 2 ] }\n",
    "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
    "{\"\":0}",
    "[\"a\",{\"b\":[null,true,false,-1,2.5]}]",
    "\"unterminated",
    "[",
    "{",
    "{\"a\":1",
    "{\"a\":[1,{\"b\":2}]}]",
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        agree_str(cases[i]);
    /* deep nesting beyond the fast path's limit, and beyond jansson's */
    for (int depth = 60; depth <= 70; depth += 5) {
        char buf[256];
        int n = 0;
        for (int i = 0; i < depth; i++)
            buf[n++] = '[';
        for (int i = 0; i < depth; i++)
            buf[n++] = ']';
        agree(buf, (size_t)n);
    }
    /* a long escaped string (past the unescape buffer) */
    char *big = malloc(5000);
    assert_non_null(big);
    big[0] = '"';
    for (int i = 1; i < 4998; i++)
        big[i] = i % 7 == 0 ? '\\' : (i % 7 == 1 ? 'n' : 'x');
    big[4998] = '"';
    agree(big, 4999);
    free(big);
}

static void test_dump_reals_and_strings(void **state)
{
    (void)state;
    static const double reals[] = {0.0,   -0.0,     1.0,
                                   -1.0,  0.1,      1.5,
                                   1e17,  1e16,     123456789012345678.0,
                                   1e-5,  1e-7,     1.25e-300,
                                   1e300, 5e-324,   1.7976931348623157e308,
                                   0.001, 12.345,   -3.5e21,
                                   100.0, 2.0 / 3.0};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        json_t *r = json_real(reals[i]);
        dump_agrees(r);
        json_decref(r);
    }
    unsigned long long seed = 7;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        long long us = (long long)(seed >> 40);
        json_t *r = json_real((double)us / (i % 2 ? 1000.0 : 7.0));
        dump_agrees(r);
        json_decref(r);
        json_t *n = json_integer((json_int_t)(seed ^ (seed << 7)));
        dump_agrees(n);
        json_decref(n);
    }
    /* %.17g by the 128-bit path against snprintf: random bit patterns in
     * and around its range, and ties (values with few binary digits) */
    for (int i = 0; i < 300000; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned long long bits = seed;
        int exp = 1023 - 16 + (int)((seed >> 11) % 70); /* about 1.5e-5 .. 1.5e16 */
        bits = (bits & 0x800FFFFFFFFFFFFFULL) | ((unsigned long long)exp << 52);
        if (i % 4 == 0)
            bits &= ~((1ULL << (20 + i % 30)) - 1); /* short mantissas: exact ties */
        double d;
        memcpy(&d, &bits, sizeof(d));
        json_t *r = json_real(d);
        dump_agrees(r);
        json_decref(r);
    }
    for (long long k = -20000; k <= 20000; k++) {
        json_t *r = json_real((double)k / 1000.0);
        dump_agrees(r);
        json_decref(r);
        r = json_real((double)k * 1e10 + 0.5);
        dump_agrees(r);
        json_decref(r);
    }
    json_t *n = json_integer(INT64_MIN);
    dump_agrees(n);
    json_decref(n);
    char all[128];
    for (int c = 0; c < 128; c++)
        all[c] = (char)c;
    json_t *s = json_stringn(all, sizeof(all));
    json_t *o = json_object();
    json_object_setn_new(o, all, sizeof(all), json_pack("[s,i,f,b,n,{}]", "x", 1, 0.5, 1));
    json_object_set_new(o, "s", s);
    json_object_set_new(o, "u", json_string("\xc3\xa9"));
    dump_agrees(o);
    json_object_del(o, "u");
    long before = dumped_fast;
    dump_agrees(o);
    assert_true(dumped_fast == before + 1);
    json_decref(o);
}

typedef struct corpus {
    char **text;
    size_t *len, n;
} corpus_t;

static void corpus_dir(corpus_t *c, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char *buf = malloc(1 << 20);
        size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        if (!buf)
            continue;
        c->text = realloc(c->text, (c->n + 1) * sizeof(*c->text));
        c->len = realloc(c->len, (c->n + 1) * sizeof(*c->len));
        assert_non_null(c->text);
        assert_non_null(c->len);
        c->text[c->n] = buf;
        c->len[c->n++] = len;
    }
    closedir(d);
}

static void test_corpus_and_mutations(void **state)
{
    (void)state;
    corpus_t c = {0};
    corpus_dir(&c, DBEV_SOURCE_DIR "/fuzz/corpus/request_decode");
    corpus_dir(&c, DBEV_SOURCE_DIR "/tests/fixtures/protocol");
    assert_true(c.n > 0);
    for (size_t i = 0; i < c.n; i++)
        agree(c.text[i], c.len[i]);
    static const char sprinkle[] = "{}[],:\"\\ \t0123456789.eE+-tfnu\xc3\xa9\x80\xff";
    unsigned long long seed = 16;
    char *buf = malloc((1 << 20) + 16);
    assert_non_null(buf);
    for (int it = 0; it < 30000; it++) {
        size_t k = (size_t)it % c.n;
        size_t len = c.len[k];
        if (len == 0 || len > (1 << 20))
            continue;
        memcpy(buf, c.text[k], len);
        int edits = 1 + it % 3;
        for (int e = 0; e < edits; e++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(seed >> 33) % len;
            char ch = sprinkle[(seed >> 20) % (sizeof(sprinkle) - 1)];
            switch ((seed >> 10) % 3) {
            case 0:
                buf[pos] = ch;
                break;
            case 1:
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = ch;
                len++;
                break;
            default:
                if (len > 1) {
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                }
                break;
            }
        }
        agree(buf, len);
    }
    free(buf);
    for (size_t i = 0; i < c.n; i++)
        free(c.text[i]);
    free(c.text);
    free(c.len);
    /* the fast path must take (nearly) everything jansson takes here */
    print_message("fast path accepted %ld, jansson %ld\n", accepted_fast, accepted_jansson);
    assert_true(accepted_fast > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_corpus_and_mutations),
        cmocka_unit_test(test_dump_reals_and_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
