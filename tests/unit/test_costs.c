/* Unit tests of the scenario costs (harness/run/costs.h): the costliest
 * first, unknown ones after in file order, and a record that keeps what it
 * does not replace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "run/costs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static scenario_t *load(const char *name)
{
    char err[512];
    scenario_t *sc = scenario_load_buffer(name, "name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n",
                                          err, sizeof(err));
    if (!sc)
        fail_msg("%s", err);
    return sc;
}

static void test_costliest_first_unknown_after(void **state)
{
    (void)state;
    char path[] = "/tmp/dbev-test-costs-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"b.yaml\": 5.5, \"c.yaml\": 0.4, \"e.yaml\": 2.0}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    scenario_t *sc[5] = {load("a.yaml"), load("b.yaml"), load("c.yaml"), load("d.yaml"),
                         load("e.yaml")};
    size_t order[5];
    costs_order(path, sc, 5, order);
    const size_t want[5] = {1, 4, 2, 0, 3}; /* b 5.5, e 2.0, c 0.4, then a and d as listed */
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], want[i]);

    /* a ran 9 s; d did not run (-1): d stays unknown, b keeps its 5.5 */
    const double took[5] = {9.0, -1, 0.4, -1, 2.0};
    costs_record(path, sc, 5, took);
    costs_order(path, sc, 5, order);
    const size_t again[5] = {0, 1, 4, 2, 3};
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], again[i]);
    for (int i = 0; i < 5; i++)
        scenario_destroy(sc[i]);
    unlink(path);
}

static void test_missing_or_broken_file_keeps_file_order(void **state)
{
    (void)state;
    scenario_t *sc[3] = {load("a.yaml"), load("b.yaml"), load("c.yaml")};
    size_t order[3];
    costs_order("/nonexistent/dbev-costs.json", sc, 3, order);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(order[i], i);
    char path[] = "/tmp/dbev-test-costs-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{not json", 9), 9);
    close(fd);
    costs_order(path, sc, 3, order);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(order[i], i);
    unlink(path);
    for (int i = 0; i < 3; i++)
        scenario_destroy(sc[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_costliest_first_unknown_after),
        cmocka_unit_test(test_missing_or_broken_file_keeps_file_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
