/*
 * `dbev send --raw FILE|-`: publishes request events exactly as written,
 * one per line, and prints the answers, for what the typed calls cannot
 * express (a malformed envelope, a reused event id, an operation the client
 * refuses, a trace's request pasted back). By design this bypasses libdbev:
 * the library only sends what it builds and validates itself, so the bytes
 * go through librdkafka directly, as the harness's `raw:` step sends them.
 *
 * Each event is keyed by its correlation_id (a fresh UUID when the line has
 * none or is not JSON: the adapter answers input it cannot decode under the
 * message key). A consumer is assigned to the end of the completed and
 * failed topics before anything is published, so no answer can be missed.
 * Answers are printed as they arrive, one JSON object per line, each event
 * as the adapter wrote it; an event unanswered within its timeout (counted
 * from its own publication) is reported on stderr.
 */
#include "send_raw.h"

#include "dbev_common.h"
#include "dbev_kafka.h"

#include <dbev/protocol.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define RAW_META_TIMEOUT_MS 5000

typedef struct pending {
    char id[256];
    int line;
    int64_t deadline_us;
    int answered; /* 0 waiting, 1 completed, 2 failed, -1 given up */
} pending_t;

/* The handles' settings and the answer topics' assignment are common/'s
 * (dbev_kafka.h), shared with the harness's replay. */
static rd_kafka_t *make(rd_kafka_type_t type, const char *bootstrap, char *errstr, size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, size) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return dbev_kafka_raw_new(type, conf, bootstrap, "dbev-cli-raw", errstr, size);
}

int dbev_cli_send_raw(const char *file, const char *bootstrap, const char *env, int timeout_ms,
                      const char *progname)
{
    size_t len = 0;
    char why[256];
    char *text = dbev_read_file(file, &len, why, sizeof(why));
    if (!text) {
        fprintf(stderr, "%s: send --raw: cannot read %s\n", progname, file);
        return 2;
    }
    size_t cap = 16, n = 0;
    pending_t *pend = calloc(cap, sizeof(*pend));
    char **lines = calloc(cap, sizeof(char *));
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (!l)
            continue;
        if (n == cap) {
            cap *= 2;
            pend = realloc(pend, cap * sizeof(*pend));
            lines = realloc(lines, cap * sizeof(char *));
        }
        memset(&pend[n], 0, sizeof(pend[n]));
        json_t *event = json_loads(line, JSON_DECODE_ANY, NULL);
        const char *corr = json_string_value(json_object_get(event, "correlation_id"));
        if (corr && *corr) {
            snprintf(pend[n].id, sizeof(pend[n].id), "%s", corr);
        } else {
            uuid_t u;
            uuid_generate(u);
            uuid_unparse_lower(u, pend[n].id);
        }
        json_decref(event);
        pend[n].line = lineno;
        lines[n++] = line;
    }
    if (n == 0) {
        fprintf(stderr, "%s: send --raw: no event in %s\n", progname, file);
        free(pend);
        free(lines);
        free(text);
        return 2;
    }
    char errstr[512];
    char topic[256], topic_completed[256], topic_failed[256];
    dbev_topic_name(env, DBEV_TOPIC_REQUESTED, topic, sizeof(topic));
    const char *const answer_topics[2] = {
        dbev_topic_name(env, DBEV_TOPIC_COMPLETED, topic_completed, sizeof(topic_completed)),
        dbev_topic_name(env, DBEV_TOPIC_FAILED, topic_failed, sizeof(topic_failed))};
    rd_kafka_t *consumer = make(RD_KAFKA_CONSUMER, bootstrap, errstr, sizeof(errstr));
    rd_kafka_t *producer =
        consumer ? make(RD_KAFKA_PRODUCER, bootstrap, errstr, sizeof(errstr)) : NULL;
    int rc = 0;
    if (!producer) {
        fprintf(stderr, "%s: send --raw: %s\n", progname, errstr);
        rc = 5;
        goto done;
    }
    /* Every partition of the answer topics, from their current end, before
     * anything is published. */
    if (dbev_kafka_assign_end(consumer, answer_topics, 2, RAW_META_TIMEOUT_MS, errstr,
                              sizeof(errstr)) != 0) {
        fprintf(stderr, "%s: send --raw: %s (is an adapter running?)\n", progname, errstr);
        rc = 5;
        goto done;
    }
    if (dbev_kafka_warm(producer, topic, RAW_META_TIMEOUT_MS, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "%s: send --raw: %s (is an adapter running?)\n", progname, errstr);
        rc = 5;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(pend[i].id, strlen(pend[i].id)),
            RD_KAFKA_V_VALUE(lines[i], strlen(lines[i])), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        pend[i].deadline_us = dbev_mono_us() + (int64_t)timeout_ms * 1000;
        if (err) {
            fprintf(stderr, "%s: line %d: cannot publish: %s\n", progname, pend[i].line,
                    rd_kafka_err2str(err));
            pend[i].answered = -1;
        }
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, timeout_ms);
    size_t open = n;
    for (size_t i = 0; i < n; i++)
        open -= pend[i].answered != 0;
    while (open > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 20);
        if (m && !m->err) {
            json_t *answer = json_loadb(m->payload, m->len, 0, NULL);
            const char *corr = json_string_value(json_object_get(answer, "correlation_id"));
            char key[256] = "";
            if (m->key)
                snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
            bool failed = strstr(rd_kafka_topic_name(m->rkt), "query-failed") != NULL;
            for (size_t i = 0; i < n; i++) {
                if (pend[i].answered != 0 || strcmp(pend[i].id, corr ? corr : key) != 0)
                    continue;
                pend[i].answered = failed ? 2 : 1;
                open--;
                printf("%.*s\n", (int)m->len, (const char *)m->payload);
                fflush(stdout);
                break; /* one answer per event: a second copy answers the next */
            }
            json_decref(answer);
        }
        if (m)
            rd_kafka_message_destroy(m);
        int64_t now = dbev_mono_us();
        for (size_t i = 0; i < n; i++) {
            if (pend[i].answered == 0 && now > pend[i].deadline_us) {
                pend[i].answered = -1;
                open--;
                fprintf(stderr, "%s: line %d (correlation id %s): no answer within %d ms\n",
                        progname, pend[i].line, pend[i].id, timeout_ms);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (pend[i].answered < 0)
            rc = 4;
        else if (pend[i].answered == 2 && rc == 0)
            rc = 1;
    }
done:
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (producer)
        rd_kafka_destroy(producer);
    free(pend);
    free(lines);
    free(text);
    return rc;
}
