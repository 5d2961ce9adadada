/*
 * Unit tests of the adapter's configuration (adapter/src/conf.c): the
 * property table's defaults, types and ranges, unknown keys, the kafka.* and
 * pg.* pass-throughs and the keys refused to protect delivery guarantees,
 * environment fallbacks and their order, config files with line numbers,
 * secrets masked, the libpq connection string built from the keys, the old
 * key name topic.env (still working, with one warning), and the generated
 * reference docs/adapter-config.md kept in step with the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adapter_loop.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *get(dbev_adapter_conf_t *conf, const char *key)
{
    static char buf[1024];
    return dbev_adapter_conf_get(conf, key, buf, sizeof(buf));
}

static void test_defaults(void **state)
{
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_non_null(conf);
    assert_string_equal(get(conf, "env.fallback"), "true");
    assert_int_equal(dbev_adapter_conf_set(conf, "env.fallback", "false", NULL, 0),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "topic.prefix"), "dev");
    assert_string_equal(get(conf, "group.id"), "database-adapter-effect");
    assert_string_equal(get(conf, "pool.min"), "5");
    assert_string_equal(get(conf, "pool.max"), "20");
    assert_string_equal(get(conf, "breaker.failure.threshold"), "5");
    assert_string_equal(get(conf, "breaker.recovery.timeout.ms"), "60000");
    assert_string_equal(get(conf, "breaker.success.threshold"), "3");
    assert_null(get(conf, "no.such.key"));
    dbev_adapter_conf_destroy(conf);
    dbev_adapter_conf_destroy(NULL);
}

static void test_set_validates(void **state)
{
    char err[512];
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_int_equal(dbev_adapter_conf_set(conf, "batch.max", "64", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "batch.max"), "64");
    assert_int_equal(dbev_adapter_conf_set(conf, "batch.max", "0", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_non_null(strstr(err, "batch.max"));
    assert_non_null(strstr(err, "1..100000"));
    assert_int_equal(dbev_adapter_conf_set(conf, "pool.max", "many", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_non_null(strstr(err, "not an integer"));
    assert_int_equal(dbev_adapter_conf_set(conf, "log.level", "loud", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_non_null(strstr(err, "debug,info,warn,error"));
    assert_int_equal(dbev_adapter_conf_set(conf, "env.fallback", "maybe", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_int_equal(dbev_adapter_conf_set(conf, "topic.prefix", "a b", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_int_equal(dbev_adapter_conf_set(conf, "pool.mx", "3", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_UNKNOWN);
    assert_non_null(strstr(err, "pool.mx"));
    /* the value stays what it was after a refused set */
    assert_string_equal(get(conf, "batch.max"), "64");
    /* NULL resets to the default */
    assert_int_equal(dbev_adapter_conf_set(conf, "batch.max", NULL, err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "batch.max"), "500");
    assert_int_equal(dbev_adapter_conf_set_kv(conf, " batch.max = 7 ", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "batch.max"), "7");
    assert_int_equal(dbev_adapter_conf_set_kv(conf, "batch.max", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    dbev_adapter_conf_destroy(conf);
}

static void test_passthrough(void **state)
{
    char err[512];
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_int_equal(dbev_adapter_conf_set(conf, "kafka.linger.ms", "3", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "kafka.linger.ms"), "3");
    assert_int_equal(
        dbev_adapter_conf_set(conf, "kafka.consumer.session.timeout.ms", "7000", err, sizeof(err)),
        DBEV_ADAPTER_CONF_OK);
    assert_int_equal(dbev_adapter_conf_set(conf, "kafka.no.such.thing", "1", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_UNKNOWN);
    assert_int_equal(dbev_adapter_conf_set(conf, "kafka.linger.ms", "soon", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    /* keys that would break at-least-once delivery are refused */
    assert_int_equal(
        dbev_adapter_conf_set(conf, "kafka.enable.auto.commit", "true", err, sizeof(err)),
        DBEV_ADAPTER_CONF_INVALID);
    assert_non_null(strstr(err, "delivery guarantees"));
    assert_int_equal(dbev_adapter_conf_set(conf, "kafka.producer.acks", "1", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_int_equal(dbev_adapter_conf_set(conf, "pg.sslmode", "disable", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_int_equal(dbev_adapter_conf_set(conf, "pg.nonsense", "1", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_UNKNOWN);
    const char *key, *value;
    size_t n = 0;
    for (size_t i = 0; aconf_passthrough(conf, i, &key, &value); i++)
        n++;
    assert_int_equal(n, 3);
    dbev_adapter_conf_destroy(conf);
}

static void test_env_fallback(void **state)
{
    char err[512];
    setenv("POSTGRES_POOL_MAX_SIZE", "15", 1);
    setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092", 1);
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_string_equal(get(conf, "pool.max"), "15");
    assert_string_equal(get(conf, "bootstrap.servers"), "127.0.0.1:19092");
    assert_int_equal(aconf_validate(conf, err, sizeof(err)), 0);
    /* explicit wins over the environment */
    assert_int_equal(dbev_adapter_conf_set(conf, "pool.max", "12", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "pool.max"), "12");
    /* env.fallback=false: defaults only */
    assert_int_equal(dbev_adapter_conf_set(conf, "env.fallback", "false", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "bootstrap.servers"), "127.0.0.1:9092");
    assert_int_equal(dbev_adapter_conf_set(conf, "env.fallback", "true", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    /* a bad environment value is caught when the whole configuration is checked */
    setenv("POSTGRES_POOL_MIN_SIZE", "lots", 1);
    assert_int_equal(aconf_validate(conf, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "POSTGRES_POOL_MIN_SIZE"));
    setenv("POSTGRES_POOL_MIN_SIZE", "13", 1);
    assert_int_equal(aconf_validate(conf, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "pool.min"));
    assert_non_null(strstr(err, "pool.max"));
    unsetenv("POSTGRES_POOL_MIN_SIZE");
    /* each executor lane holds a connection: more lanes than pool.max is refused */
    assert_int_equal(dbev_adapter_conf_set(conf, "exec.lanes", "13", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_int_equal(aconf_validate(conf, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exec.lanes (13) is larger than pool.max (12)"));
    assert_int_equal(dbev_adapter_conf_set(conf, "exec.lanes", "12", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_int_equal(aconf_validate(conf, err, sizeof(err)), 0);
    unsetenv("POSTGRES_POOL_MAX_SIZE");
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    dbev_adapter_conf_destroy(conf);
}

static void test_file(void **state)
{
    char path[] = "/tmp/dbev-adapter-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "# comment\n\nbatch.max = 32\ntopic.prefix=staging\nbreaker.failure.threshold=x\n");
    fclose(fp);
    char err[512];
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_int_equal(dbev_adapter_conf_load_file(conf, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":5:"));
    assert_non_null(strstr(err, "breaker.failure.threshold"));
    assert_string_equal(get(conf, "batch.max"), "32");
    assert_string_equal(get(conf, "topic.prefix"), "staging");
    unlink(path);
    assert_int_equal(dbev_adapter_conf_load_file(conf, path, err, sizeof(err)), -1);
    dbev_adapter_conf_destroy(conf);
}

static void test_secrets_masked(void **state)
{
    char err[512];
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    assert_int_equal(dbev_adapter_conf_set(conf, "pg.password", "hunter2", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_int_equal(
        dbev_adapter_conf_set(conf, "pg.conninfo", "password=sw0rdfish", err, sizeof(err)),
        DBEV_ADAPTER_CONF_OK);
    assert_int_equal(
        dbev_adapter_conf_set(conf, "kafka.sasl.password", "opensesame", err, sizeof(err)),
        DBEV_ADAPTER_CONF_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    dbev_adapter_conf_dump(conf, fp);
    fclose(fp);
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "sw0rdfish"));
    assert_null(strstr(text, "opensesame"));
    assert_non_null(strstr(text, "pg.password=***"));
    free(text);
    /* the password does reach the connection string */
    char *ci = aconf_conninfo(conf, err, sizeof(err));
    assert_non_null(ci);
    assert_non_null(strstr(ci, "password='hunter2'"));
    free(ci);
    /* a bad conninfo is reported without echoing it */
    assert_int_equal(
        dbev_adapter_conf_set(conf, "pg.conninfo", "password='unterminated", err, sizeof(err)),
        DBEV_ADAPTER_CONF_OK);
    assert_null(aconf_conninfo(conf, err, sizeof(err)));
    assert_null(strstr(err, "unterminated"));
    dbev_adapter_conf_destroy(conf);
}

static void test_conninfo(void **state)
{
    char err[512];
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    dbev_adapter_conf_set(conf, "env.fallback", "false", err, sizeof(err));
    dbev_adapter_conf_set(conf, "pg.conninfo", "host=/tmp port=5555 dbname=x", err, sizeof(err));
    dbev_adapter_conf_set(conf, "pg.port", "6000", err, sizeof(err));
    dbev_adapter_conf_set(conf, "pg.user", "o'brien", err, sizeof(err));
    dbev_adapter_conf_set(conf, "pg.connect_timeout", "3", err, sizeof(err));
    char *ci = aconf_conninfo(conf, err, sizeof(err));
    assert_non_null(ci);
    assert_non_null(strstr(ci, "host='/tmp'"));
    assert_non_null(strstr(ci, "port='6000'"));
    assert_null(strstr(ci, "5555"));
    assert_non_null(strstr(ci, "user='o\\'brien'"));
    assert_non_null(strstr(ci, "connect_timeout='3'"));
    assert_non_null(strstr(ci, "application_name='dbev-adapter'"));
    /* libpq accepts what we built */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(ci, &perr);
    assert_non_null(opts);
    PQconninfoFree(opts);
    free(ci);
    dbev_adapter_conf_destroy(conf);

    char **v = aconf_strv(" a , b.c,,d ");
    assert_non_null(v);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b.c");
    assert_string_equal(v[2], "d");
    assert_null(v[3]);
    aconf_strv_free(v);
    assert_null(aconf_strv(""));
}

typedef struct captured {
    int n;
    dbev_log_level_t level;
    char component[32];
    char message[512];
} captured_t;

static void capture(void *opaque, dbev_log_level_t level, const char *component,
                    const char *correlation_id, const char *message)
{
    captured_t *c = opaque;
    c->n++;
    c->level = level;
    snprintf(c->component, sizeof(c->component), "%s", component);
    snprintf(c->message, sizeof(c->message), "%s", message);
}

/* topic.env was the adapter's name of the client's topic.prefix: it still
 * sets topic.prefix, with one warning naming both keys and the fix. */
static void test_renamed_topic_env(void **state)
{
    char err[512];
    captured_t log = {0};
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    dbev_adapter_conf_set_log_cb(conf, capture, &log);
    assert_int_equal(dbev_adapter_conf_set(conf, "topic.env", "staging", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "topic.prefix"), "staging");
    assert_string_equal(aconf_value(conf, "topic.prefix"), "staging");
    assert_string_equal(get(conf, "topic.env"), "staging");
    assert_int_equal(log.n, 1);
    assert_int_equal(log.level, DBEV_LOG_WARN);
    assert_string_equal(log.component, "adapter");
    assert_non_null(strstr(log.message, "topic.env"));
    assert_non_null(strstr(log.message, "deprecated"));
    assert_non_null(strstr(log.message, "set topic.prefix instead"));
    /* one warning per conf, however often the old name is used */
    assert_int_equal(dbev_adapter_conf_set_kv(conf, "topic.env=prod", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "topic.prefix"), "prod");
    assert_int_equal(log.n, 1);
    /* checked like the new key; the message names the key the caller used */
    assert_int_equal(dbev_adapter_conf_set(conf, "topic.env", "a b", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_INVALID);
    assert_non_null(strstr(err, "topic.env (now topic.prefix)"));
    assert_string_equal(get(conf, "topic.prefix"), "prod");
    /* the dump and the docs know only the new name */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    dbev_adapter_conf_dump(conf, fp);
    fclose(fp);
    assert_non_null(strstr(text, "topic.prefix=prod\n"));
    assert_null(strstr(text, "topic.env"));
    free(text);
    /* NULL through the old name resets the new key */
    assert_int_equal(dbev_adapter_conf_set(conf, "topic.env", NULL, err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_string_equal(get(conf, "topic.prefix"), "dev");
    dbev_adapter_conf_destroy(conf);

    /* below log.level=error the warning is not logged */
    log.n = 0;
    conf = dbev_adapter_conf_new();
    dbev_adapter_conf_set_log_cb(conf, capture, &log);
    dbev_adapter_conf_set(conf, "log.level", "error", err, sizeof(err));
    assert_int_equal(dbev_adapter_conf_set(conf, "topic.env", "x", err, sizeof(err)),
                     DBEV_ADAPTER_CONF_OK);
    assert_int_equal(log.n, 0);
    dbev_adapter_conf_destroy(conf);
}

/* docs/adapter-config.md is generated from the table: it must be current. */
static void test_doc_current(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    dbev_adapter_conf_help(fp, true);
    fclose(fp);
    FILE *doc = fopen(DBEV_SOURCE_DIR "/docs/adapter-config.md", "r");
    assert_non_null(doc);
    char *want = calloc(1, len + 2);
    size_t got = fread(want, 1, len + 1, doc);
    fclose(doc);
    if (got != len || memcmp(want, text, len) != 0)
        fail_msg("docs/adapter-config.md is stale: regenerate it with "
                 "build/bin/dbev-adapter --help-markdown > docs/adapter-config.md");
    free(want);
    free(text);
    /* the plain help names every key with its environment variable */
    text = NULL;
    fp = open_memstream(&text, &len);
    dbev_adapter_conf_help(fp, false);
    fclose(fp);
    assert_non_null(strstr(text, "POSTGRES_POOL_MIN_SIZE"));
    assert_non_null(strstr(text, "breaker.recovery.timeout.ms"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_set_validates),
        cmocka_unit_test(test_passthrough), cmocka_unit_test(test_env_fallback),
        cmocka_unit_test(test_file),        cmocka_unit_test(test_secrets_masked),
        cmocka_unit_test(test_conninfo),    cmocka_unit_test(test_renamed_topic_env),
        cmocka_unit_test(test_doc_current),
    };
    /* The environment must not leak into the defaults under test. */
    unsetenv("KAFKA_BOOTSTRAP_SERVERS");
    unsetenv("POSTGRES_POOL_MIN_SIZE");
    unsetenv("POSTGRES_POOL_MAX_SIZE");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
