/* Unit tests of scenario loading: shape checks and file:line:column errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "scenario/scenario.h"

#include <string.h>

static const char *good = "name: insert then read\n"
                          "proves: an inserted row can be read back through the event path\n"
                          "tags: [crud, insert]\n"
                          "phase: 1\n"
                          "steps:\n"
                          "  - name: insert one\n"
                          "    insert: {table: t, data: {id: '${uuid:a}'}, returning: id}\n"
                          "    expect: {row_count: 1, latency_ms_max: 500}\n"
                          "    save: {row: 'rows[0]'}\n"
                          "  - query: SELECT 1 AS one\n"
                          "    repeat: 50\n"
                          "    expect: {rows: [{one: 1}]}\n"
                          "  - until:\n"
                          "      sql: SELECT count(*) AS n FROM t\n"
                          "      expect: {rows: [{n: 1}]}\n"
                          "      timeout_ms: 2000\n"
                          "  - fault: {postgres: stop}\n"
                          "  - parallel:\n"
                          "      - health: {}\n"
                          "      - sql: SELECT 2\n"
                          "        start_after_ms: 1500\n";

static void test_good_scenario_loads(void **state)
{
    char err[512];
    scenario_t *sc = scenario_load_buffer("good.yaml", good, err, sizeof(err));
    if (!sc)
        fail_msg("%s", err);
    assert_string_equal(sc->name, "insert then read");
    assert_int_equal(sc->phase, 1);
    assert_true(scenario_has_tag(sc, "crud"));
    assert_false(scenario_has_tag(sc, "load"));
    assert_int_equal(sc->n_steps, 5);
    assert_int_equal(sc->steps[0].kind, STEP_OPERATION);
    assert_int_equal(sc->steps[0].op, DBEV_OP_INSERT);
    assert_int_equal((int)sc->steps[0].max_latency_ms, 500);
    assert_string_equal(sc->steps[0].where, "good.yaml:6:5");
    assert_int_equal(sc->steps[1].op, DBEV_OP_SELECT);
    assert_int_equal(sc->steps[1].repeat, 50);
    assert_int_equal(sc->steps[0].repeat, 1);
    assert_int_equal(sc->steps[2].kind, STEP_UNTIL);
    assert_int_equal(sc->steps[2].timeout_ms, 2000);
    assert_int_equal(sc->steps[2].children[0].kind, STEP_SQL);
    assert_int_equal(sc->steps[4].n_children, 2);
    assert_int_equal(sc->steps[4].children[0].start_after_ms, 0);
    assert_int_equal(sc->steps[4].children[1].start_after_ms, 1500);
    assert_int_equal(scenario_count_steps(sc), 7);
    scenario_destroy(sc);
}

static void expect_error(const char *text, const char *where, const char *needle)
{
    char err[512];
    scenario_t *sc = scenario_load_buffer("bad.yaml", text, err, sizeof(err));
    if (sc) {
        scenario_destroy(sc);
        fail_msg("expected an error containing '%s'", needle);
    }
    if (!strstr(err, where) || !strstr(err, needle))
        fail_msg("error '%s' lacks '%s' or '%s'", err, where, needle);
}

static void test_mistakes_are_pointed_at(void **state)
{
    expect_error("name: x\nproves: y\nsteps:\n  - bogus: 1\n", "bad.yaml:4:12",
                 "unknown step key 'bogus'");
    expect_error("name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n    insert: {table: t}\n",
                 "bad.yaml:4:5", "one kind");
    expect_error("name: x\nproves: y\nsteps: []\n", "bad.yaml:3:8", "non-empty");
    expect_error("name: x\nsteps:\n  - sql: SELECT 1\n", "bad.yaml:1:1", "proves is required");
    expect_error("name: x\nproves: y\nphase: 7\nsteps:\n  - sql: SELECT 1\n", "bad.yaml:3:8",
                 "phase must be");
    expect_error("name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n    expect: {rowz: 1}\n",
                 "bad.yaml:5:20", "unknown expectation 'rowz'");
    expect_error("name: x\nproves: y\nsteps:\n  - until: {sql: SELECT 1}\n", "bad.yaml:4:12",
                 "timeout_ms");
    expect_error("name: x\nproves: y\nsteps:\n  - fault: {disk: full}\n", "bad.yaml:4:12",
                 "exactly one of kafka");
    expect_error("name: x\nproves: y\nsteps:\n  - load: {rate: 10, query: SELECT 1}\n",
                 "bad.yaml:4:11", "duration_s, count or stress");
    expect_error("name: x\nproves: y\nsteps:\n  - insert: just text\n", "bad.yaml:4:13",
                 "mapping of the operation");
    expect_error("name: x\nproves: y\nfoo: 1\nsteps:\n  - sql: SELECT 1\n", "bad.yaml:3:6",
                 "unknown scenario key 'foo'");
    expect_error("name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n    repeat: 3\n", "bad.yaml:5:13",
                 "only an operation step repeats");
    expect_error("name: x\nproves: y\nsteps:\n  - query: SELECT 1\n    repeat: 0\n",
                 "bad.yaml:5:13", "repeat must be a whole number");
    expect_error("name: [x\n", "bad.yaml:", "");
}

/* rounds: {count, steps}: the steps copied count times in order, each copy
 * named and placed by its round (the latency probe's interleaving). */
/* start_after_ms delays a branch of a parallel step; anywhere else a list
 * already runs in order, and a delay there would only be a sleep. */
static void test_start_after_only_in_a_branch(void **state)
{
    expect_error("name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n    start_after_ms: 10\n",
                 "bad.yaml:5:21", "only a branch of a parallel step");
    expect_error("name: x\nproves: y\nsteps:\n  - parallel:\n      - until:\n"
                 "          sql: SELECT 1\n          timeout_ms: 100\n"
                 "          start_after_ms: 10\n",
                 "bad.yaml:8:27", "only a branch of a parallel step");
    expect_error("name: x\nproves: y\nsteps:\n  - parallel:\n      - sql: SELECT 1\n"
                 "        start_after_ms: -1\n",
                 "bad.yaml:6:25", "from 0 to 600000");
}

static void test_rounds_expand_in_order(void **state)
{
    (void)state;
    char err[512];
    scenario_t *sc = scenario_load_buffer("rounds.yaml",
                                          "name: x\nproves: y\nsteps:\n"
                                          "  - sql: SELECT 0\n"
                                          "  - rounds:\n"
                                          "      count: 3\n"
                                          "      steps:\n"
                                          "        - name: q\n"
                                          "          query: SELECT 1\n"
                                          "          repeat: 4\n"
                                          "        - name: i\n"
                                          "          insert: {table: t, data: {k: 1}}\n"
                                          "  - sql: SELECT 9\n",
                                          err, sizeof(err));
    if (!sc)
        fail_msg("%s", err);
    assert_int_equal(sc->n_steps, 8);
    const char *names[] = {
        "1-sql",           "round 1 of 3: q", "round 1 of 3: i", "round 2 of 3: q",
        "round 2 of 3: i", "round 3 of 3: q", "round 3 of 3: i", "3-sql"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(sc->steps[i].name, names[i]);
    assert_int_equal(sc->steps[5].op, DBEV_OP_SELECT);
    assert_int_equal(sc->steps[5].repeat, 4);
    assert_int_equal(sc->steps[6].op, DBEV_OP_INSERT);
    assert_string_equal(sc->steps[1].where, "rounds.yaml:8:11 (round 1)");
    assert_string_equal(sc->steps[5].where, "rounds.yaml:8:11 (round 3)");
    scenario_destroy(sc);

    expect_error("name: x\nproves: y\nsteps:\n  - rounds: {count: 0, steps: [{sql: S}]}\n",
                 "bad.yaml:4:21", "count must be a whole number from 1 to 1000");
    expect_error("name: x\nproves: y\nsteps:\n  - rounds: {count: 2}\n", "bad.yaml:4:13",
                 "steps must be a non-empty list");
    expect_error("name: x\nproves: y\nsteps:\n  - rounds: {count: 2, steps: [{fault: "
                 "{postgres: stop}}]}\n",
                 "bad.yaml:4:32", "only operation and sql steps");
    expect_error("name: x\nproves: y\nsteps:\n  - rounds: {count: 2, steps: [{sql: S}]}\n"
                 "    name: r\n",
                 "bad.yaml:5:11", "move 'name' into");
}

/* The security keys (issue 11): canary, fingerprint, teardown_sql, hostile. */
static void test_guard_keys_load(void **state)
{
    (void)state;
    char err[512];
    scenario_t *sc = scenario_load_buffer(
        "guards.yaml",
        "name: x\nproves: y\ntags: [security]\nteardown_sql: DROP ROLE IF EXISTS r\n"
        "canary: {rate: 20, max_latency_ms: 500, insert: {table: t, data: {k: '${uuid}'}}}\n"
        "fingerprint: {allow: [public.t, 'role:*']}\n"
        "steps:\n  - sql: SELECT 1\n    hostile: true\n  - sql: SELECT 2\n",
        err, sizeof(err));
    assert_non_null(sc);
    assert_true(sc->canary.on);
    assert_true(sc->canary.rate == 20);
    assert_true(sc->canary.max_latency_ms == 500);
    assert_int_equal(sc->canary.timeout_ms, CANARY_DEFAULT_TIMEOUT_MS);
    assert_int_equal(sc->canary.op, DBEV_OP_INSERT);
    assert_non_null(sc->canary.body);
    assert_true(sc->fingerprint.on);
    assert_int_equal(json_array_size(sc->fingerprint.allow), 2);
    assert_string_equal(sc->teardown_sql, "DROP ROLE IF EXISTS r");
    assert_true(sc->steps[0].hostile);
    assert_false(sc->steps[1].hostile);
    assert_int_equal(scenario_count_hostile(sc), 1);
    scenario_destroy(sc);

    sc = scenario_load_buffer("defaults.yaml",
                              "name: x\nproves: y\ncanary: true\nfingerprint: true\n"
                              "steps:\n  - sql: SELECT 1\n",
                              err, sizeof(err));
    assert_non_null(sc);
    assert_true(sc->canary.on);
    assert_true(sc->canary.rate == CANARY_DEFAULT_RATE);
    assert_true(sc->canary.max_latency_ms == CANARY_DEFAULT_MAX_LATENCY_MS);
    assert_null(sc->canary.body);
    assert_true(sc->fingerprint.on);
    assert_null(sc->fingerprint.allow);
    scenario_destroy(sc);
}

static void test_guard_key_mistakes(void **state)
{
    (void)state;
    expect_error("name: x\nproves: y\ncanary: {rate: -1}\nsteps:\n  - sql: SELECT 1\n",
                 "bad.yaml:3:16", "canary.rate");
    expect_error("name: x\nproves: y\ncanary: {bogus: 1}\nsteps:\n  - sql: SELECT 1\n",
                 "bad.yaml:3:17", "unknown canary key 'bogus'");
    expect_error("name: x\nproves: y\ncanary: {max_latency_ms: 9000, timeout_ms: 1000}\n"
                 "steps:\n  - sql: SELECT 1\n",
                 "bad.yaml:3:9", "below max_latency_ms");
    expect_error("name: x\nproves: y\ncanary: {query: SELECT 1, insert: {table: t}}\n"
                 "steps:\n  - sql: SELECT 1\n",
                 "bad.yaml:", "one operation only");
    expect_error("name: x\nproves: y\nfingerprint: {allow: public.t}\n"
                 "steps:\n  - sql: SELECT 1\n",
                 "bad.yaml:3:22", "list of patterns");
    expect_error("name: x\nproves: y\nfingerprint: {ignore: [t]}\n"
                 "steps:\n  - sql: SELECT 1\n",
                 "bad.yaml:3:14", "fingerprint: true, or {allow");
    expect_error("name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n    hostile: yes please\n",
                 "bad.yaml:5:14", "hostile must be true or false");
    expect_error("name: x\nproves: y\nteardown_sql: [x]\nsteps:\n  - sql: SELECT 1\n",
                 "bad.yaml:3:15", "teardown_sql must be SQL text");
    /* A security scenario without its guards proves only the answer. */
    expect_error("name: x\nproves: y\ntags: [security]\nsteps:\n  - sql: SELECT 1\n",
                 "bad.yaml:1:1", "canary and the fingerprint");
    expect_error("name: x\nproves: y\ntags: [security]\ncanary: true\nfingerprint: true\n"
                 "steps:\n  - sql: SELECT 1\n",
                 "bad.yaml:7:3", "hostile: true");
    expect_error("name: x\nproves: y\nsteps:\n  - sql: SELECT 1\n    expect: {error_typ: X}\n",
                 "bad.yaml:5:", "unknown expectation 'error_typ'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_scenario_loads),
        cmocka_unit_test(test_mistakes_are_pointed_at),
        cmocka_unit_test(test_start_after_only_in_a_branch),
        cmocka_unit_test(test_rounds_expand_in_order),
        cmocka_unit_test(test_guard_keys_load),
        cmocka_unit_test(test_guard_key_mistakes),
    };
    return cmocka_run_group_tests_name("scenario", tests, NULL, NULL);
}
