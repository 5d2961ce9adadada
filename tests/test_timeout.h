/*
 * Deadlines for slower builds. Tests wait on conditions with a deadline; a
 * sanitizer build runs everything 2-3 times slower, so tests/CMakeLists.txt
 * passes DBEV_TEST_TIMEOUT_MULTIPLIER (3 with SANITIZE) in the environment,
 * as librdkafka's test_timeout_multiplier does for valgrind. Scale the waits
 * with test_ms(), not the bounds a test asserts about the product.
 */
#ifndef DBEV_TEST_TIMEOUT_H
#define DBEV_TEST_TIMEOUT_H

#include <stdlib.h>

/** The factor from DBEV_TEST_TIMEOUT_MULTIPLIER (1 when unset or not a positive number). */
static inline int test_timeout_multiplier(void)
{
    const char *s = getenv("DBEV_TEST_TIMEOUT_MULTIPLIER");
    int m = s ? atoi(s) : 1;
    return m > 0 && m <= 100 ? m : 1;
}

/** A wait of ms milliseconds, scaled for the build. */
static inline int test_ms(int ms)
{
    return ms * test_timeout_multiplier();
}

#endif
