/*
 * The request/reply checker: the property the whole suite defends is that
 * every request gets exactly one answer and every acknowledged write is in
 * the database exactly once. The checker is told what was sent and what came
 * back, keyed by correlation id (in the spirit of Jepsen's set checkers), and
 * classifies every request:
 *   answered once, unanswered, answered twice (or more), answered late
 *   (after its deadline), and answers for ids that were never sent.
 * Acknowledged writes are listed so the caller can look each one up in
 * PostgreSQL and report it present once, lost, or doubled.
 *
 * Not thread-safe: feed it from one thread (the load generator's).
 */
#ifndef HARNESS_CHECKER_H
#define HARNESS_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct checker checker_t;

typedef struct checker_summary {
    size_t sent;
    size_t answered_once;  /* exactly one answer, in time */
    size_t unanswered;     /* no answer at all */
    size_t answered_twice; /* two or more answers */
    size_t answered_late;  /* first answer after the deadline */
    size_t unknown_ids;    /* answers whose correlation id was never sent */
    size_t acked_writes;   /* writes answered completed */
    size_t failed;         /* answered with a failure (counted in answered_* too) */
} checker_summary_t;

checker_t *checker_new(void);
void checker_destroy(checker_t *checker);

/**
 * @brief Records a sent request.
 * @param write_key for a write, what identifies its row (e.g. the value of a
 *        unique column) so that it can be looked up later; NULL for reads.
 * @returns 0, or -1 when the correlation id was already sent (a harness bug).
 */
int checker_sent(checker_t *checker, const char *correlation_id, int64_t deadline_us,
                 const char *write_key);

/** Records an answer that arrived at at_us; completed says which topic it came on. */
void checker_answered(checker_t *checker, const char *correlation_id, int64_t at_us,
                      bool completed);

void checker_summarize(const checker_t *checker, checker_summary_t *summary);

/** Whether the summary shows no loss: everything answered once, nothing unknown. */
bool checker_summary_clean(const checker_summary_t *summary);

/**
 * Calls fn for every acknowledged write (completed answer), with its
 * write_key; stops early when fn returns non-zero and returns that value.
 */
int checker_foreach_acked_write(const checker_t *checker,
                                int (*fn)(const char *write_key, void *opaque), void *opaque);

#endif
