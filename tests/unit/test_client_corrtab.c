/*
 * Unit tests of the correlation table (put/get/del, refusing a key twice,
 * growth to many thousands of entries) and of the memory of finished ids
 * that classifies late and duplicate responses (kinds, ring eviction, reuse).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client_int.h"

#include <stdio.h>

static void count_cb(const char *key, void *val, void *arg)
{
    (*(size_t *)arg)++;
}

static void test_basic(void **state)
{
    corrtab_t *t = corrtab_new(0);
    int a = 1, b = 2;
    assert_int_equal(corrtab_put(t, "a", &a), 0);
    assert_int_equal(corrtab_put(t, "b", &b), 0);
    assert_int_equal(corrtab_put(t, "a", &b), -1); /* present: refused, unchanged */
    assert_ptr_equal(corrtab_get(t, "a"), &a);
    assert_ptr_equal(corrtab_get(t, "b"), &b);
    assert_null(corrtab_get(t, "c"));
    assert_int_equal(corrtab_count(t), 2);
    assert_ptr_equal(corrtab_del(t, "a"), &a);
    assert_null(corrtab_del(t, "a"));
    assert_null(corrtab_get(t, "a"));
    assert_int_equal(corrtab_count(t), 1);
    corrtab_destroy(t);
    corrtab_destroy(NULL);
}

static void test_many(void **state)
{
    enum { N = 20000 };
    corrtab_t *t = corrtab_new(16);
    char key[64];
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "%08lx-corr-%lu", (unsigned long)i * 2654435761u,
                 (unsigned long)i);
        assert_int_equal(corrtab_put(t, key, (void *)(i + 1)), 0);
    }
    assert_int_equal(corrtab_count(t), N);
    size_t seen = 0;
    corrtab_foreach(t, count_cb, &seen);
    assert_int_equal(seen, N);
    for (uintptr_t i = 0; i < N; i += 2) {
        snprintf(key, sizeof(key), "%08lx-corr-%lu", (unsigned long)i * 2654435761u,
                 (unsigned long)i);
        assert_ptr_equal(corrtab_del(t, key), (void *)(i + 1));
    }
    for (uintptr_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "%08lx-corr-%lu", (unsigned long)i * 2654435761u,
                 (unsigned long)i);
        void *expect = i % 2 ? (void *)(i + 1) : NULL;
        assert_ptr_equal(corrtab_get(t, key), expect);
    }
    assert_int_equal(corrtab_count(t), N / 2);
    corrtab_destroy(t);
}

static void test_recent(void **state)
{
    recent_t *r = recent_new(3);
    assert_int_equal(recent_get(r, "x"), RECENT_NONE);
    recent_add(r, "a", RECENT_ANSWERED);
    recent_add(r, "b", RECENT_EXPIRED);
    assert_int_equal(recent_get(r, "a"), RECENT_ANSWERED);
    assert_int_equal(recent_get(r, "b"), RECENT_EXPIRED);
    /* an id finishing again (reused by the caller) takes its latest fate */
    recent_add(r, "a", RECENT_EXPIRED);
    assert_int_equal(recent_get(r, "a"), RECENT_EXPIRED);
    /* capacity 3: adding c evicts the oldest slot (the first "a"), which no
     * longer owns the entry, so "a" survives */
    recent_add(r, "c", RECENT_ANSWERED);
    assert_int_equal(recent_get(r, "a"), RECENT_EXPIRED);
    assert_int_equal(recent_get(r, "b"), RECENT_EXPIRED);
    recent_add(r, "d", RECENT_ANSWERED); /* evicts b */
    assert_int_equal(recent_get(r, "b"), RECENT_NONE);
    assert_int_equal(recent_get(r, "c"), RECENT_ANSWERED);
    recent_forget(r, "c");
    assert_int_equal(recent_get(r, "c"), RECENT_NONE);
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        recent_add(r, k, RECENT_ANSWERED);
    }
    assert_int_equal(recent_get(r, "k99"), RECENT_ANSWERED);
    assert_int_equal(recent_get(r, "k96"), RECENT_NONE);
    assert_int_equal(recent_get(r, "a"), RECENT_NONE);
    recent_destroy(r);
    recent_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
