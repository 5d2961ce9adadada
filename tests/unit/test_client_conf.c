/*
 * Unit tests of the client's configuration: the property table drives
 * defaults, set/get, range and type checks, environment fallbacks, kafka.*
 * pass-through and the generated reference (docs/client-config.md must be
 * exactly what dbev_conf_properties_show() prints).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *get(const dbev_conf_t *conf, const char *name)
{
    static char buf[512];
    size_t size = sizeof(buf);
    assert_int_equal(dbev_conf_get(conf, name, buf, &size), DBEV_CONF_OK);
    assert_int_equal(size, strlen(buf) + 1);
    return buf;
}

static void test_defaults(void **state)
{
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    unsetenv("DBEV_ENV");
    dbev_conf_t *conf = dbev_conf_new();
    assert_non_null(conf);
    assert_string_equal(get(conf, "request.timeout.ms"), "10000");
    assert_string_equal(get(conf, "max.retries"), "3");
    assert_string_equal(get(conf, "retry.backoff.ms"), "1000");
    assert_string_equal(get(conf, "circuit.breaker.enable"), "true");
    assert_string_equal(get(conf, "topic.prefix"), "dev");
    assert_string_equal(get(conf, "consumer.group.id"), "");
    assert_string_equal(get(conf, "bootstrap.servers"), "");
    assert_int_equal(conf_int(conf, CONF_REQUEST_TIMEOUT_MS), 10000);
    assert_int_equal(conf_int(conf, CONF_BREAKER_ENABLE), 1);
    dbev_conf_destroy(conf);
}

static void test_set_get(void **state)
{
    dbev_conf_t *conf = dbev_conf_new();
    char errstr[256];
    assert_int_equal(dbev_conf_set(conf, "request.timeout.ms", "2500", errstr, sizeof(errstr)),
                     DBEV_CONF_OK);
    assert_string_equal(get(conf, "request.timeout.ms"), "2500");
    assert_int_equal(conf_int(conf, CONF_REQUEST_TIMEOUT_MS), 2500);
    assert_int_equal(dbev_conf_set(conf, "circuit.breaker.enable", "false", errstr, 256),
                     DBEV_CONF_OK);
    assert_int_equal(conf_int(conf, CONF_BREAKER_ENABLE), 0);
    /* NULL restores the default. */
    assert_int_equal(dbev_conf_set(conf, "request.timeout.ms", NULL, errstr, 256), DBEV_CONF_OK);
    assert_string_equal(get(conf, "request.timeout.ms"), "10000");
    /* size query */
    size_t size = 0;
    assert_int_equal(dbev_conf_get(conf, "topic.prefix", NULL, &size), DBEV_CONF_OK);
    assert_int_equal(size, 4);
    dbev_conf_destroy(conf);
}

static void test_invalid(void **state)
{
    dbev_conf_t *conf = dbev_conf_new();
    char errstr[256];
    assert_int_equal(dbev_conf_set(conf, "no.such.key", "1", errstr, sizeof(errstr)),
                     DBEV_CONF_UNKNOWN);
    assert_non_null(strstr(errstr, "no.such.key"));
    assert_int_equal(dbev_conf_set(conf, "request.timeout.ms", "abc", errstr, sizeof(errstr)),
                     DBEV_CONF_INVALID);
    assert_non_null(strstr(errstr, "not an integer"));
    assert_int_equal(dbev_conf_set(conf, "request.timeout.ms", "0", errstr, sizeof(errstr)),
                     DBEV_CONF_INVALID);
    assert_non_null(strstr(errstr, "out of range"));
    assert_int_equal(dbev_conf_set(conf, "max.retries", "101", errstr, sizeof(errstr)),
                     DBEV_CONF_INVALID);
    assert_int_equal(dbev_conf_set(conf, "max.retries", "12x", errstr, sizeof(errstr)),
                     DBEV_CONF_INVALID);
    assert_int_equal(dbev_conf_set(conf, "circuit.breaker.enable", "maybe", errstr, 256),
                     DBEV_CONF_INVALID);
    assert_non_null(strstr(errstr, "boolean"));
    assert_int_equal(dbev_conf_set(conf, "topic.prefix", "a b", errstr, sizeof(errstr)),
                     DBEV_CONF_INVALID);
    assert_int_equal(dbev_conf_set(conf, "topic.prefix", "", errstr, sizeof(errstr)),
                     DBEV_CONF_INVALID);
    assert_int_equal(dbev_conf_set(conf, "kafka.", "x", errstr, sizeof(errstr)), DBEV_CONF_INVALID);
    /* a refused value leaves the old one */
    assert_string_equal(get(conf, "request.timeout.ms"), "10000");
    size_t size = 10;
    char buf[10];
    assert_int_equal(dbev_conf_get(conf, "nope", buf, &size), DBEV_CONF_UNKNOWN);
    dbev_conf_destroy(conf);
}

static void test_env_fallback(void **state)
{
    dbev_conf_t *conf = dbev_conf_new();
    char errstr[256];
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    assert_int_equal(conf_validate(conf, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "KAFKA_BOOTSTRAP_SERVERS"));

    setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092", 1);
    assert_string_equal(get(conf, "bootstrap.servers"), "127.0.0.1:19092");
    assert_int_equal(conf_validate(conf, errstr, sizeof(errstr)), 0);
    /* an explicit value wins over the environment */
    assert_int_equal(dbev_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", errstr, 256),
                     DBEV_CONF_OK);
    assert_string_equal(get(conf, "bootstrap.servers"), "127.0.0.1:1");
    /* an empty variable does not count */
    dbev_conf_set(conf, "bootstrap.servers", NULL, errstr, 256);
    setenv("KAFKA_BOOTSTRAP_SERVERS", "", 1);
    assert_string_equal(get(conf, "bootstrap.servers"), "");

    setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092", 1);
    setenv("DBEV_ENV", "staging", 1);
    assert_string_equal(get(conf, "topic.prefix"), "staging");
    setenv("DBEV_ENV", "bad prefix!", 1);
    assert_int_equal(conf_validate(conf, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "DBEV_ENV"));
    unsetenv("DBEV_ENV");
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    dbev_conf_destroy(conf);
}

static void test_cross_checks(void **state)
{
    dbev_conf_t *conf = dbev_conf_new();
    char errstr[256];
    dbev_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", errstr, 256);
    dbev_conf_set(conf, "retry.backoff.ms", "5000", errstr, 256);
    dbev_conf_set(conf, "retry.backoff.max.ms", "100", errstr, 256);
    assert_int_equal(conf_validate(conf, errstr, sizeof(errstr)), -1);
    assert_non_null(strstr(errstr, "retry.backoff.max.ms"));
    dbev_conf_destroy(conf);
}

static void test_kafka_passthrough_and_dup(void **state)
{
    dbev_conf_t *conf = dbev_conf_new();
    char errstr[256];
    assert_int_equal(dbev_conf_set(conf, "kafka.debug", "broker", errstr, 256), DBEV_CONF_OK);
    assert_int_equal(dbev_conf_set(conf, "kafka.socket.timeout.ms", "1000", errstr, 256),
                     DBEV_CONF_OK);
    assert_int_equal(dbev_conf_set(conf, "kafka.debug", "all", errstr, 256), DBEV_CONF_OK);
    assert_int_equal(conf_kafka_count(conf), 2);
    assert_string_equal(get(conf, "kafka.debug"), "all");
    dbev_conf_set(conf, "max.retries", "7", errstr, 256);

    dbev_conf_t *copy = dbev_conf_dup(conf);
    dbev_conf_destroy(conf);
    assert_string_equal(get(copy, "kafka.debug"), "all");
    assert_string_equal(get(copy, "max.retries"), "7");
    const char *name, *value;
    conf_kafka_entry(copy, 1, &name, &value);
    assert_string_equal(name, "socket.timeout.ms");
    assert_int_equal(dbev_conf_set(copy, "kafka.debug", NULL, errstr, 256), DBEV_CONF_OK);
    assert_int_equal(conf_kafka_count(copy), 1);
    dbev_conf_destroy(copy);
    dbev_conf_destroy(NULL);
}

/* The reference document is generated from the table: keep them equal. */
static void test_doc_is_current(void **state)
{
    char *generated = NULL;
    size_t gen_len = 0;
    FILE *mem = open_memstream(&generated, &gen_len);
    assert_non_null(mem);
    dbev_conf_properties_show(mem);
    fclose(mem);
    assert_non_null(strstr(generated, "`circuit.breaker.failure.threshold`"));
    assert_non_null(strstr(generated, "KAFKA_BOOTSTRAP_SERVERS"));

    FILE *fp = fopen(DBEV_SOURCE_DIR "/docs/client-config.md", "r");
    assert_non_null(fp);
    char *doc = calloc(1, gen_len + 2);
    size_t doc_len = fread(doc, 1, gen_len + 1, fp);
    fclose(fp);
    if (doc_len != gen_len || memcmp(doc, generated, gen_len) != 0)
        fail_msg("docs/client-config.md is stale: regenerate it with "
                 "`build/bin/dbev --help-config > docs/client-config.md`");
    free(doc);
    free(generated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_set_get),
        cmocka_unit_test(test_invalid),        cmocka_unit_test(test_env_fallback),
        cmocka_unit_test(test_cross_checks),   cmocka_unit_test(test_kafka_passthrough_and_dup),
        cmocka_unit_test(test_doc_is_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
