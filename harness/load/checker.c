/*
 * Request/reply checker (see checker.h). Entries live in one growing array;
 * a jansson object maps correlation id to array index, which is all the
 * hashing a few hundred thousand requests need.
 */
#include "load/checker.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t deadline_us;
    int64_t first_answer_us;
    unsigned answers;
    bool completed;
    char *write_key;
} entry_t;

struct checker {
    json_t *index; /* correlation id -> integer index into entries */
    entry_t *entries;
    size_t n, cap;
    size_t unknown_ids;
};

checker_t *checker_new(void)
{
    checker_t *checker = calloc(1, sizeof(*checker));
    if (checker && !(checker->index = json_object())) {
        free(checker);
        return NULL;
    }
    return checker;
}

void checker_destroy(checker_t *checker)
{
    if (!checker)
        return;
    for (size_t i = 0; i < checker->n; i++)
        free(checker->entries[i].write_key);
    free(checker->entries);
    json_decref(checker->index);
    free(checker);
}

int checker_sent(checker_t *checker, const char *correlation_id, int64_t deadline_us,
                 const char *write_key)
{
    if (json_object_get(checker->index, correlation_id))
        return -1;
    if (checker->n == checker->cap) {
        size_t cap = checker->cap ? checker->cap * 2 : 1024;
        entry_t *grown = realloc(checker->entries, cap * sizeof(*grown));
        if (!grown)
            return -1;
        checker->entries = grown;
        checker->cap = cap;
    }
    entry_t *entry = &checker->entries[checker->n];
    memset(entry, 0, sizeof(*entry));
    entry->deadline_us = deadline_us;
    entry->write_key = write_key ? strdup(write_key) : NULL;
    if (json_object_set_new(checker->index, correlation_id, json_integer((json_int_t)checker->n)))
        return -1;
    checker->n++;
    return 0;
}

void checker_answered(checker_t *checker, const char *correlation_id, int64_t at_us, bool completed)
{
    json_t *slot = json_object_get(checker->index, correlation_id);
    if (!slot) {
        checker->unknown_ids++;
        return;
    }
    entry_t *entry = &checker->entries[json_integer_value(slot)];
    if (entry->answers++ == 0) {
        entry->first_answer_us = at_us;
        entry->completed = completed;
    }
}

void checker_summarize(const checker_t *checker, checker_summary_t *summary)
{
    memset(summary, 0, sizeof(*summary));
    summary->sent = checker->n;
    summary->unknown_ids = checker->unknown_ids;
    for (size_t i = 0; i < checker->n; i++) {
        const entry_t *entry = &checker->entries[i];
        if (entry->answers == 0) {
            summary->unanswered++;
            continue;
        }
        if (entry->answers > 1)
            summary->answered_twice++;
        else if (entry->deadline_us && entry->first_answer_us > entry->deadline_us)
            summary->answered_late++;
        else
            summary->answered_once++;
        if (!entry->completed)
            summary->failed++;
        else if (entry->write_key)
            summary->acked_writes++;
    }
}

bool checker_summary_clean(const checker_summary_t *summary)
{
    return summary->answered_once == summary->sent && summary->unknown_ids == 0;
}

int checker_foreach_acked_write(const checker_t *checker,
                                int (*fn)(const char *write_key, void *opaque), void *opaque)
{
    for (size_t i = 0; i < checker->n; i++) {
        const entry_t *entry = &checker->entries[i];
        if (entry->answers > 0 && entry->completed && entry->write_key) {
            int rc = fn(entry->write_key, opaque);
            if (rc)
                return rc;
        }
    }
    return 0;
}
