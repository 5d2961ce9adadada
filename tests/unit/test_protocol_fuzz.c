/*
 * A small deterministic fuzz loop over the decoders: valid events (seed 002's
 * fixtures and one of every operation) are mutated at random (bytes flipped,
 * inserted, deleted, duplicated, truncated, JSON punctuation sprinkled) with a
 * fixed seed, and each result is decoded. The decoders must never crash and
 * must either accept or refuse with a non-empty message; an accepted request
 * must also pass dbev_operation_validate and survive a re-encode unchanged,
 * so the decoder and the encoder agree on every input the fuzzer finds.
 * A second loop mutates the JSON tree instead of the bytes (a node replaced,
 * deleted or added, with values chosen to hit the validation rules), which
 * gets past the parser far more often.
 * DBEV_FUZZ_ITERATIONS overrides the iteration count (default 20000).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dbev/protocol.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES DBEV_SOURCE_DIR "/tests/fixtures/protocol/"
#define ENV_HEAD                                                                                   \
    "{\"event_id\":\"e-1\",\"event_type\":\"DATABASE_QUERY_REQUESTED\",\"correlation_id\":"        \
    "\"c-1\",\"timestamp\":\"2025-10-30T10:00:00.000Z\",\"service\":\"fuzz\",\"payload\":"

static const char *const generated[] = {
    ENV_HEAD
    "{\"operation_type\":\"SELECT\",\"sql\":\"SELECT $1, $2, $3\",\"params\":[1,\"a\",{\"k\":[]}],"
    "\"options\":{\"timeout_ms\":10,\"max_rows\":5}}}",
    ENV_HEAD "{\"operation_type\":\"INSERT\",\"table\":\"s.t\",\"data\":{\"a\":1,\"b\":null},"
             "\"returning\":\"a, b\"}}",
    ENV_HEAD "{\"operation_type\":\"UPDATE\",\"table\":\"t\",\"data\":{\"a\":true},\"where\":"
             "{\"id\":{\"$in\":[1,2]},\"n\":{\"$like\":\"x%\"},\"z\":null}}}",
    ENV_HEAD "{\"operation_type\":\"DELETE\",\"table\":\"t\",\"where\":{\"s\":{\"$lt\":0.5},"
             "\"d\":{\"$is_null\":false}}}}",
    ENV_HEAD "{\"operation_type\":\"UPSERT\",\"table\":\"t\",\"data\":{\"a\":1,\"b\":2},"
             "\"conflict_columns\":[\"a\"],\"update_columns\":[\"b\"],\"returning\":[\"a\"]}}",
    ENV_HEAD "{\"operation_type\":\"EXECUTE\",\"sql\":\"DELETE FROM t WHERE a=$1\",\"params\":"
             "[3]}}",
    ENV_HEAD "{\"operation_type\":\"TRANSACTION\",\"operations\":[{\"operation_type\":\"INSERT\","
             "\"table\":\"t\",\"data\":{\"a\":1}},{\"operation_type\":\"DELETE\",\"table\":\"t\","
             "\"where\":{\"a\":2}}],\"options\":{\"timeout_ms\":100}}}",
    ENV_HEAD "{\"operation_type\":\"BATCH_INSERT\",\"table\":\"t\",\"rows\":[{\"a\":1,\"b\":2},"
             "{\"a\":3,\"b\":4}],\"on_conflict\":{\"columns\":[\"a\"],\"action\":\"update\","
             "\"update_columns\":[\"b\"]},\"returning\":\"*\"}}",
    ENV_HEAD "{\"operation_type\":\"HEALTH\"}}",
};

static const char *const fixture_names[] = {
    "seed002_select_request.json",  "seed002_insert_request.json", "seed002_update_request.json",
    "seed002_query_completed.json", "seed002_query_failed.json",
};

typedef struct corpus {
    char *text[32];
    size_t len[32];
    size_t n;
} corpus_t;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic across runs and platforms */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void corpus_load(corpus_t *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < sizeof(generated) / sizeof(generated[0]); i++) {
        c->text[c->n] = strdup(generated[i]);
        c->len[c->n++] = strlen(generated[i]);
    }
    for (size_t i = 0; i < sizeof(fixture_names) / sizeof(fixture_names[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s%s", FIXTURES, fixture_names[i]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char *buf = malloc(65536);
        size_t len = fread(buf, 1, 65536, f);
        fclose(f);
        c->text[c->n] = buf;
        c->len[c->n++] = len;
    }
}

static void corpus_free(corpus_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->text[i]);
}

/* Mutates buf (len bytes, capacity cap) in place; returns the new length. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
    static const char punct[] = "{}[]\":,\\0-1e.tfn \x01\xff\xc3";
    int rounds = 1 + (int)rnd_below(4);
    for (int r = 0; r < rounds && len > 0; r++) {
        size_t pos = rnd_below(len);
        switch (rnd_below(7)) {
        case 0: /* flip bits */
            buf[pos] ^= (char)(1u << rnd_below(8));
            break;
        case 1: /* replace with punctuation */
            buf[pos] = punct[rnd_below(sizeof(punct) - 1)];
            break;
        case 2: /* insert a byte */
            if (len + 1 < cap) {
                memmove(buf + pos + 1, buf + pos, len - pos);
                buf[pos] = (char)(rnd() & 0xff);
                len++;
            }
            break;
        case 3: { /* delete a range */
            size_t n = 1 + rnd_below(16);
            if (pos + n > len)
                n = len - pos;
            memmove(buf + pos, buf + pos + n, len - pos - n);
            len -= n;
            break;
        }
        case 4: { /* duplicate a range */
            size_t n = 1 + rnd_below(32);
            if (pos + n > len)
                n = len - pos;
            if (len + n < cap) {
                memmove(buf + pos + n, buf + pos, len - pos);
                len += n;
            }
            break;
        }
        case 5: /* truncate */
            len = pos;
            break;
        default: /* replace a byte with a digit or a quote: breaks types */
            buf[pos] = "0123456789\"x"[rnd_below(12)];
            break;
        }
    }
    return len;
}

static void check_request(const char *buf, size_t len, size_t *accepted)
{
    dbev_request_t *req = (dbev_request_t *)1;
    dbev_decode_error_t err;
    int rc = dbev_request_decode(buf, len, &req, &err);
    if (rc == 0) {
        assert_non_null(req);
        assert_non_null(req->event_id);
        assert_non_null(req->correlation_id);
        assert_non_null(req->service);
        assert_true(req->op.type < DBEV_OP__COUNT);
        char errstr[512];
        if (dbev_operation_validate(&req->op, errstr, sizeof(errstr)) != 0)
            fail_msg("decoded but not valid: %s: %.*s", errstr, (int)len, buf);
        /* re-encode and decode again: same operation */
        json_t *event = dbev_envelope_new(NULL, req->event_id, req->correlation_id, req->service,
                                          req->timestamp_us, dbev_operation_to_json(&req->op));
        assert_non_null(event);
        char *text = dbev_event_dumps(event);
        json_decref(event);
        dbev_request_t *again = NULL;
        if (dbev_request_decode(text, strlen(text), &again, &err) != 0)
            fail_msg("re-encoded event refused: %s: %s", err.message, text);
        json_t *a = dbev_operation_to_json(&req->op), *b = dbev_operation_to_json(&again->op);
        assert_true(json_equal(a, b));
        json_decref(a);
        json_decref(b);
        free(text);
        dbev_request_destroy(again);
        dbev_request_destroy(req);
        (*accepted)++;
    } else {
        assert_int_equal(rc, -1);
        assert_null(req);
        assert_true(err.message[0] != '\0');
        assert_true(strlen(err.event_id) < DBEV_ID_SIZE);
        assert_true(strlen(err.correlation_id) < DBEV_ID_SIZE);
        assert_true(err.op >= -1 && err.op < DBEV_OP__COUNT);
    }
}

static void check_response(const char *buf, size_t len)
{
    dbev_response_t *resp = (dbev_response_t *)1;
    char errstr[256] = "";
    int rc = dbev_response_decode(buf, len, &resp, errstr, sizeof(errstr));
    if (rc == 0) {
        assert_non_null(resp);
        assert_non_null(resp->correlation_id);
        assert_true(json_is_object(resp->metadata));
        if (resp->completed)
            assert_true(json_is_array(resp->rows));
        else
            assert_true(dbev_err_is_wire(resp->error_code));
        dbev_response_destroy(resp);
    } else {
        assert_null(resp);
        assert_true(errstr[0] != '\0');
    }
}

static void test_fuzz(void **state)
{
    corpus_t corpus;
    corpus_load(&corpus);
    long iterations = 20000;
    const char *env = getenv("DBEV_FUZZ_ITERATIONS");
    if (env && atol(env) > 0)
        iterations = atol(env);
    size_t cap = 1 << 17;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t accepted = 0, seeds_accepted = 0;
    for (size_t i = 0; i < corpus.n; i++)
        check_request(corpus.text[i], corpus.len[i], &seeds_accepted);
    /* the 9 generated events and the 3 request fixtures are valid */
    assert_int_equal(seeds_accepted, 12);
    for (long it = 0; it < iterations; it++) {
        size_t k = rnd_below(corpus.n);
        size_t len = corpus.len[k];
        memcpy(buf, corpus.text[k], len);
        len = mutate(buf, len, cap);
        check_request(buf, len, &accepted);
        check_response(buf, len);
    }
    print_message("fuzz: %ld mutated events, %zu accepted as requests\n", iterations, accepted);
    /* Mutations that keep an event valid exist (a digit changed in a value):
     * the loop must see both outcomes, or it is not exercising the decoder. */
    assert_true(accepted > 0);
    assert_true(accepted < (size_t)iterations);
    free(buf);
    corpus_free(&corpus);
}

/* --- structure-aware mutations: replace, delete or add one JSON node ------- */

static json_t *random_value(void)
{
    static const char *const texts[] = {"null",
                                        "0",
                                        "-1",
                                        "1",
                                        "1.5",
                                        "true",
                                        "\"\"",
                                        "\"x\"",
                                        "\"*\"",
                                        "\"id, name\"",
                                        "\"users; DROP TABLE x\"",
                                        "\"SELECT 1\"",
                                        "\"BEGIN\"",
                                        "\"$in\"",
                                        "[]",
                                        "{}",
                                        "[1]",
                                        "[\"a\"]",
                                        "{\"a\":1}",
                                        "{\"$in\":[]}",
                                        "{\"$lt\":0.5}",
                                        "{\"$is_null\":true}",
                                        "[{\"a\":1}]",
                                        "{\"operation_type\":\"HEALTH\"}",
                                        "{\"columns\":[\"a\"],\"action\":\"nothing\"}",
                                        "\"2025-10-30T10:00:00Z\"",
                                        "\"DATABASE_QUERY_REQUESTED\"",
                                        "\"TRANSACTION\"",
                                        "\"BATCH_INSERT\"",
                                        "\"UPSERT\"",
                                        "2147483648",
                                        "9223372036854775807"};
    return json_loads(texts[rnd_below(sizeof(texts) / sizeof(texts[0]))], JSON_DECODE_ANY, NULL);
}

static const char *const random_keys[] = {"operation_type",
                                          "sql",
                                          "params",
                                          "table",
                                          "data",
                                          "where",
                                          "returning",
                                          "options",
                                          "timeout_ms",
                                          "max_rows",
                                          "conflict_columns",
                                          "update_columns",
                                          "operations",
                                          "rows",
                                          "on_conflict",
                                          "columns",
                                          "action",
                                          "event_id",
                                          "correlation_id",
                                          "payload",
                                          "x"};

/* Picks a random container node (object or array) of v, walking down at random. */
static json_t *random_container(json_t *v)
{
    json_t *cur = v;
    for (int depth = 0; depth < 8; depth++) {
        json_t *next = NULL;
        if (json_is_object(cur) && json_object_size(cur) > 0) {
            size_t k = rnd_below(json_object_size(cur)), i = 0;
            const char *key;
            json_t *child;
            json_object_foreach(cur, key, child)
            {
                if (i++ == k)
                    next = child;
            }
        } else if (json_is_array(cur) && json_array_size(cur) > 0) {
            next = json_array_get(cur, rnd_below(json_array_size(cur)));
        }
        if (!next || !(json_is_object(next) || json_is_array(next)) || rnd_below(3) == 0)
            break;
        cur = next;
    }
    return cur;
}

static void mutate_tree(json_t *root)
{
    json_t *c = random_container(root);
    if (json_is_object(c)) {
        const char *key = random_keys[rnd_below(sizeof(random_keys) / sizeof(random_keys[0]))];
        if (rnd_below(3) == 0)
            json_object_del(c, key);
        else
            json_object_set_new(c, key, random_value());
    } else if (json_is_array(c)) {
        size_t n = json_array_size(c);
        switch (rnd_below(3)) {
        case 0:
            if (n)
                json_array_remove(c, rnd_below(n));
            break;
        case 1:
            json_array_append_new(c, random_value());
            break;
        default:
            if (n)
                json_array_set_new(c, rnd_below(n), random_value());
            break;
        }
    }
}

static void test_fuzz_structure(void **state)
{
    corpus_t corpus;
    corpus_load(&corpus);
    long iterations = 20000;
    const char *env = getenv("DBEV_FUZZ_ITERATIONS");
    if (env && atol(env) > 0)
        iterations = atol(env);
    size_t accepted = 0;
    for (long it = 0; it < iterations; it++) {
        size_t k = rnd_below(corpus.n);
        json_t *root = json_loadb(corpus.text[k], corpus.len[k], 0, NULL);
        assert_non_null(root);
        int rounds = 1 + (int)rnd_below(3);
        for (int r = 0; r < rounds; r++)
            mutate_tree(root);
        char *text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        assert_non_null(text);
        check_request(text, strlen(text), &accepted);
        check_response(text, strlen(text));
        free(text);
    }
    print_message("fuzz (structure): %ld mutated events, %zu accepted as requests\n", iterations,
                  accepted);
    assert_true(accepted > 0);
    assert_true(accepted < (size_t)iterations);
    corpus_free(&corpus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_fuzz_structure),
    };
    return cmocka_run_group_tests_name("protocol_fuzz", tests, NULL, NULL);
}
