/*
 * Unit tests of the configuration engine (common/src/conf_table.c) on a small
 * table of its own, independent of the adapter's and the client's keys:
 * every type with its range or allowed values, errstr naming the key, the
 * problem and the fix, the fallback order (explicit > environment >
 * default) and its switch, validation of environment values, secrets masked
 * in dumps and errors, renamed keys with their one warning, pass-through
 * prefixes and their hook, copies, and the generated Markdown and help.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "dbev_conf_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_PORT "DBEV_TEST_CONF_PORT"
#define ENV_PASS "DBEV_TEST_CONF_PASSWORD"

static const dbev_prop_t rows[] = {
    DBEV_PROP("name", DBEV_PROP_STR, "dev", 1, 8, "._-", NULL, false, "A short name."),
    DBEV_PROP("servers", DBEV_PROP_STR, "localhost", 1, 0, NULL, NULL, false, "Not empty."),
    DBEV_PROP("note", DBEV_PROP_STR, "", 0, 0, NULL, NULL, false, "Any text."),
    DBEV_PROP("count", DBEV_PROP_INT, "10", 1, 100, NULL, NULL, false, "A bounded number."),
    DBEV_PROP("age.ms", DBEV_PROP_INT, "0", 0, DBEV_PROP_NO_MAX, NULL, NULL, false, "Unbounded."),
    DBEV_PROP("port", DBEV_PROP_INT, "", 1, 65535, NULL, ENV_PORT, false, "Unset by default."),
    DBEV_PROP("flag", DBEV_PROP_BOOL, "false", 0, 0, NULL, NULL, false, "A switch."),
    DBEV_PROP("level", DBEV_PROP_ENUM, "info", 0, 0, "debug,info,warn", NULL, false, "A level."),
    DBEV_PROP("password", DBEV_PROP_STR, "", 0, 0, NULL, ENV_PASS, true, "A secret."),
    DBEV_PROP("env.fallback", DBEV_PROP_BOOL, "true", 0, 0, NULL, NULL, false, "Read env."),
    DBEV_PROP_RENAMED("old.name", "name"),
};

/* The pass-through hook: "ext.bad" is unknown, "ext.num" must be a number. */
static dbev_prop_res_t check_ext(const char *key, const char *value, char *errstr, size_t size)
{
    if (!strcmp(key, "ext.bad")) {
        dbev_seterr(errstr, size, "%s: no such thing", key);
        return DBEV_PROP_UNKNOWN;
    }
    if (value && !strcmp(key, "ext.num") && strspn(value, "0123456789") != strlen(value)) {
        dbev_seterr(errstr, size, "%s: not a number", key);
        return DBEV_PROP_INVALID;
    }
    return DBEV_PROP_OK;
}

static const char *const prefixes[] = {"ext.", NULL};

static const dbev_conf_table_t table = {
    .component = "test",
    .props = rows,
    .n_props = sizeof(rows) / sizeof(rows[0]),
    .env_switch = "env.fallback",
    .passthrough_prefixes = prefixes,
    .passthrough_check = check_ext,
    .help_hint = "the test table lists them",
};

static int setup(void **state)
{
    dbev_prop_values_t *v = calloc(1, sizeof(*v));
    if (!v || dbev_prop_values_init(v, &table))
        return -1;
    unsetenv(ENV_PORT);
    unsetenv(ENV_PASS);
    *state = v;
    return 0;
}

static int teardown(void **state)
{
    dbev_prop_values_clear(*state);
    free(*state);
    unsetenv(ENV_PORT);
    unsetenv(ENV_PASS);
    return 0;
}

static size_t row(const char *key)
{
    size_t idx = 0;
    assert_non_null(dbev_conf_table_find(&table, key, &idx, NULL));
    return idx;
}

static dbev_prop_res_t set(dbev_prop_values_t *v, const char *key, const char *value, char *err)
{
    err[0] = '\0';
    return dbev_prop_values_set(v, key, value, err, 512);
}

static void test_types_and_ranges(void **state)
{
    dbev_prop_values_t *v = *state;
    char err[512];
    /* integers: range with the fix, not-a-number, unbounded max */
    assert_int_equal(set(v, "count", "42", err), DBEV_PROP_OK);
    assert_int_equal(dbev_prop_values_int(v, row("count")), 42);
    assert_int_equal(set(v, "count", "0", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "count"));
    assert_non_null(strstr(err, "out of range"));
    assert_non_null(strstr(err, "1..100"));
    assert_int_equal(set(v, "count", "12x", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "\"12x\" is not an integer"));
    assert_int_equal(set(v, "count", "", err), DBEV_PROP_INVALID);
    assert_int_equal(dbev_prop_values_int(v, row("count")), 42); /* refused: unchanged */
    assert_int_equal(set(v, "age.ms", "9000000000000", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "age.ms", "-1", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "at least 0"));
    /* an integer whose default is unset accepts "" (unset) */
    assert_int_equal(set(v, "port", "", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "port", "70000", err), DBEV_PROP_INVALID);
    /* booleans */
    assert_int_equal(set(v, "flag", "true", err), DBEV_PROP_OK);
    assert_true(dbev_prop_values_bool(v, row("flag")));
    assert_int_equal(dbev_prop_values_int(v, row("flag")), 1);
    assert_int_equal(set(v, "flag", "off", err), DBEV_PROP_OK);
    assert_false(dbev_prop_values_bool(v, row("flag")));
    assert_int_equal(set(v, "flag", "maybe", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "flag: \"maybe\" is not a boolean; give true or false"));
    /* enums */
    assert_int_equal(set(v, "level", "warn", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "level", "war", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "give one of debug,info,warn"));
    /* strings: length and characters */
    assert_int_equal(set(v, "name", "a.b_c-9", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "name", "", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "name: must not be empty"));
    assert_int_equal(set(v, "name", "waytoolong", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "give 1 to 8 characters"));
    assert_int_equal(set(v, "name", "a b", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "' '"));
    assert_int_equal(set(v, "servers", "", err), DBEV_PROP_INVALID);
    assert_int_equal(set(v, "note", "", err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_get(v, "name"), "a.b_c-9");
    /* unknown keys, with a suggestion when close */
    assert_int_equal(set(v, "cuont", "1", err), DBEV_PROP_UNKNOWN);
    assert_non_null(strstr(err, "cuont: unknown configuration key; did you mean count?"));
    assert_non_null(strstr(err, "the test table lists them"));
    assert_int_equal(set(v, "zzzzzzzzzz", "1", err), DBEV_PROP_UNKNOWN);
    assert_null(strstr(err, "did you mean"));
    assert_null(dbev_prop_values_get(v, "zzzzzzzzzz"));
    /* NULL unsets: the default again */
    assert_int_equal(set(v, "count", NULL, err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_get(v, "count"), "10");
}

/* Every row of the test table, and its default, passes its own check. */
static void test_defaults_valid(void **state)
{
    dbev_prop_values_t *v = *state;
    char err[512];
    assert_int_equal(dbev_prop_values_validate(v, err, sizeof(err)), 0);
}

static void test_env_fallback_order(void **state)
{
    dbev_prop_values_t *v = *state;
    char err[512];
    size_t port = row("port");
    assert_string_equal(dbev_prop_values_value(v, port), ""); /* default: unset */
    setenv(ENV_PORT, "", 1);
    assert_string_equal(dbev_prop_values_value(v, port), ""); /* empty does not count */
    setenv(ENV_PORT, "5433", 1);
    assert_string_equal(dbev_prop_values_value(v, port), "5433");
    assert_int_equal(dbev_prop_values_int(v, port), 5433);
    assert_int_equal(set(v, "port", "6000", err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_value(v, port), "6000"); /* explicit wins */
    assert_int_equal(set(v, "port", NULL, err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_value(v, port), "5433"); /* env again */
    /* the switch turns every fallback off */
    assert_int_equal(set(v, "env.fallback", "false", err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_value(v, port), "");
    assert_int_equal(set(v, "env.fallback", NULL, err), DBEV_PROP_OK);
    /* an environment value is checked at validate time, naming the variable */
    setenv(ENV_PORT, "lots", 1);
    assert_int_equal(dbev_prop_values_validate(v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "port (from environment variable " ENV_PORT ")"));
    assert_non_null(strstr(err, "not an integer"));
    /* an unusable value reads as the default's */
    assert_int_equal(dbev_prop_values_int(v, port), 0);
    unsetenv(ENV_PORT);
    assert_int_equal(dbev_prop_values_validate(v, err, sizeof(err)), 0);
}

static void test_secret_masking(void **state)
{
    dbev_prop_values_t *v = *state;
    char err[512];
    assert_int_equal(set(v, "password", "hunter2", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "ext.sasl.password", "opensesame", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "ext.plain", "visible", err), DBEV_PROP_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    dbev_prop_values_dump(v, fp);
    fclose(fp);
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "opensesame"));
    assert_non_null(strstr(text, "password=***\n"));
    assert_non_null(strstr(text, "ext.sasl.password=***\n"));
    assert_non_null(strstr(text, "ext.plain=visible\n"));
    assert_non_null(strstr(text, "count=10\n"));
    assert_null(strstr(text, "old.name")); /* renamed keys are not dumped */
    free(text);
    /* get returns the secret itself (for the connection string) */
    assert_string_equal(dbev_prop_values_get(v, "password"), "hunter2");
    /* an unset secret dumps as empty, not as *** */
    assert_int_equal(set(v, "password", NULL, err), DBEV_PROP_OK);
    text = NULL;
    fp = open_memstream(&text, &len);
    dbev_prop_values_dump(v, fp);
    fclose(fp);
    assert_non_null(strstr(text, "password=\n"));
    free(text);
    /* a bad secret from the environment is refused without echoing it */
    static const dbev_prop_t secret_int =
        DBEV_PROP("pin", DBEV_PROP_INT, "1", 0, 9, NULL, NULL, true, "A secret number.");
    assert_int_equal(dbev_conf_table_check(&secret_int, "pin", "s3cr3t", err, sizeof(err)), -1);
    assert_null(strstr(err, "s3cr3t"));
    assert_non_null(strstr(err, "***"));
}

typedef struct captured {
    int n;
    dbev_log_level_t level;
    char message[512];
} captured_t;

static void capture(void *opaque, dbev_log_level_t level, const char *component,
                    const char *correlation_id, const char *message)
{
    captured_t *c = opaque;
    c->n++;
    c->level = level;
    snprintf(c->message, sizeof(c->message), "%s: %s", component, message);
}

static void test_renamed_warns_once(void **state)
{
    dbev_prop_values_t *v = *state;
    char err[512];
    captured_t log = {0};
    v->logger.cb = capture;
    v->logger.opaque = &log;
    const dbev_prop_t *renamed;
    size_t idx;
    const dbev_prop_t *p = dbev_conf_table_find(&table, "old.name", &idx, &renamed);
    assert_non_null(p);
    assert_string_equal(p->name, "name");
    assert_non_null(renamed);
    assert_string_equal(renamed->name, "old.name");
    assert_int_equal(set(v, "old.name", "stage", err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_get(v, "name"), "stage");
    assert_string_equal(dbev_prop_values_get(v, "old.name"), "stage");
    assert_int_equal(log.n, 1);
    assert_int_equal(log.level, DBEV_LOG_WARN);
    assert_non_null(strstr(log.message, "test: configuration key old.name is deprecated"));
    assert_non_null(strstr(log.message, "set name instead"));
    assert_int_equal(set(v, "old.name", "again", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "old.name", "a b", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "old.name (now name)"));
    assert_int_equal(log.n, 1);
    /* the new name never warns */
    assert_int_equal(set(v, "name", "x", err), DBEV_PROP_OK);
    assert_int_equal(log.n, 1);
    /* a copy remembers the warning was given */
    dbev_prop_values_t copy;
    assert_int_equal(dbev_prop_values_init(&copy, &table), 0);
    assert_int_equal(dbev_prop_values_copy(&copy, v), 0);
    assert_int_equal(set(&copy, "old.name", "y", err), DBEV_PROP_OK);
    assert_int_equal(log.n, 1);
    dbev_prop_values_clear(&copy);
    /* the level filters it like any log line */
    dbev_prop_values_t quiet;
    assert_int_equal(dbev_prop_values_init(&quiet, &table), 0);
    quiet.logger = (dbev_logger_t){capture, &log, DBEV_LOG_ERROR, "test"};
    assert_int_equal(set(&quiet, "old.name", "z", err), DBEV_PROP_OK);
    assert_int_equal(log.n, 1);
    dbev_prop_values_clear(&quiet);
    /* a misspelt old name suggests the new one */
    assert_int_equal(set(v, "old.nam", "z", err), DBEV_PROP_UNKNOWN);
    assert_non_null(strstr(err, "did you mean name?"));
}

static void test_passthrough(void **state)
{
    dbev_prop_values_t *v = *state;
    char err[512];
    assert_int_equal(set(v, "ext.a", "1", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "ext.num", "12", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "ext.b", "2", err), DBEV_PROP_OK);
    assert_int_equal(set(v, "ext.num", "x", err), DBEV_PROP_INVALID);
    assert_string_equal(err, "ext.num: not a number");
    assert_int_equal(set(v, "ext.bad", "1", err), DBEV_PROP_UNKNOWN);
    assert_int_equal(set(v, "ext.", "1", err), DBEV_PROP_INVALID);
    assert_non_null(strstr(err, "a property name must follow \"ext.\""));
    assert_int_equal(set(v, "ext.a", "3", err), DBEV_PROP_OK); /* replaced in place */
    assert_string_equal(dbev_prop_values_get(v, "ext.a"), "3");
    assert_null(dbev_prop_values_get(v, "ext.unset"));
    /* unsetting keeps the order of the others */
    assert_int_equal(set(v, "ext.a", NULL, err), DBEV_PROP_OK);
    assert_int_equal(set(v, "ext.never.set", NULL, err), DBEV_PROP_OK);
    assert_string_equal(dbev_prop_values_passthrough(v, 0)->key, "ext.num");
    assert_string_equal(dbev_prop_values_passthrough(v, 1)->key, "ext.b");
    assert_null(dbev_prop_values_passthrough(v, 2));

    dbev_prop_values_t copy;
    assert_int_equal(dbev_prop_values_init(&copy, &table), 0);
    assert_int_equal(set(v, "count", "77", err), DBEV_PROP_OK);
    assert_int_equal(dbev_prop_values_copy(&copy, v), 0);
    assert_string_equal(dbev_prop_values_get(&copy, "count"), "77");
    assert_string_equal(dbev_prop_values_get(&copy, "ext.b"), "2");
    assert_string_equal(dbev_prop_values_passthrough(&copy, 0)->key, "ext.num");
    dbev_prop_values_clear(&copy);
    dbev_prop_values_clear(&copy); /* cleared twice: a no-op */
}

/* kafka.consumer.X to the consumer only, kafka.producer.X to the producer
 * only, kafka.X to both: the adapter's and the client's one routing rule. */
static void test_kafka_property_for(void **state)
{
    (void)state;
    assert_string_equal(dbev_kafka_property_for("consumer.fetch.wait.max.ms", true),
                        "fetch.wait.max.ms");
    assert_null(dbev_kafka_property_for("consumer.fetch.wait.max.ms", false));
    assert_string_equal(dbev_kafka_property_for("producer.linger.ms", false), "linger.ms");
    assert_null(dbev_kafka_property_for("producer.linger.ms", true));
    assert_string_equal(dbev_kafka_property_for("socket.nagle.disable", true),
                        "socket.nagle.disable");
    assert_string_equal(dbev_kafka_property_for("socket.nagle.disable", false),
                        "socket.nagle.disable");
    /* a prefix only when followed by its dot */
    assert_string_equal(dbev_kafka_property_for("consumerx", true), "consumerx");
}

static void test_docs(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    dbev_conf_table_markdown(&table, fp);
    fclose(fp);
    assert_non_null(strstr(text, "| key | type | default | range | environment | description |"));
    assert_non_null(strstr(text, "| `count` | integer | `10` | 1..100 |  | A bounded number. |"));
    assert_non_null(strstr(text, "| `age.ms` | integer | `0` | 0.. |"));
    assert_non_null(strstr(text, "| `port` | integer | (unset) | 1..65535 | `" ENV_PORT "` |"));
    assert_non_null(strstr(text, "| `level` | enum | `info` | debug,info,warn |"));
    assert_non_null(strstr(text, "| `name` | string | `dev` | 1..8 characters; letters, digits, "
                                 "`._-` |"));
    assert_non_null(strstr(text, "| `servers` | string | `localhost` | not empty |"));
    assert_non_null(strstr(text, "| `old.name` | | | | | Deprecated: renamed to `name`"));
    /* renamed rows come after the keys */
    assert_true(strstr(text, "`old.name`") > strstr(text, "`env.fallback`"));
    free(text);

    text = NULL;
    fp = open_memstream(&text, &len);
    dbev_conf_table_help(&table, fp);
    fclose(fp);
    assert_non_null(strstr(text, "integer, default (unset), range 1..65535, env " ENV_PORT));
    assert_non_null(strstr(text, "deprecated: renamed to name"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_types_and_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_fallback_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_masking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renamed_warns_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passthrough, setup, teardown),
        cmocka_unit_test(test_kafka_property_for),
        cmocka_unit_test(test_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
