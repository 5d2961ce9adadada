/*
 * Merge planning (adapter/src/merge_plan.h, merge_plan.c) without a
 * database: consecutive plain INSERTs of one table and column list with the
 * same timeout share one multi-row INSERT; anything else (RETURNING, another
 * table or columns, another timeout, more than one statement) is sent
 * alone or starts a new statement; a statement never carries more than the
 * parameter and row limits allow; the plan covers every request once, in
 * order. Then plan_build() on jobs: the merged statement's text and its
 * borrowed values, and the unmerged plan a failed merge falls back to.
 */
#include "exec_int.h"
#include "merge_plan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#define SQL_T  "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2)"
#define SQL_T2 "INSERT INTO \"t\" (\"a\") VALUES ($1)"
#define SQL_U  "INSERT INTO \"u\" (\"a\", \"b\") VALUES ($1, $2)"

static const merge_limits_t real_limits = {.max_params = DBEV_SQL_MAX_PARAMS,
                                           .max_rows = DBEV_SQL_MAX_BATCH_ROWS};

static merge_item_t plain(const char *sql, int nparams, int64_t timeout_ms)
{
    merge_item_t item = {.plain_insert = true,
                         .nstmts = 1,
                         .timeout_ms = timeout_ms,
                         .sql = sql,
                         .nparams = nparams};
    return item;
}

/* The plan as "first+count first+count ...", and a check that it covers
 * items[0..n) in order, each once. */
static const char *plan_text(const merge_item_t *items, size_t n, const merge_limits_t *limits)
{
    static char text[4096];
    merge_span_t spans[64];
    assert_true(n <= 64);
    size_t nspans = merge_plan(items, n, limits, spans);
    size_t next = 0, len = 0;
    text[0] = '\0';
    for (size_t s = 0; s < nspans; s++) {
        assert_int_equal(spans[s].first, next);
        assert_true(spans[s].count >= 1);
        next += spans[s].count;
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%zu+%zu", s ? " " : "",
                                spans[s].first, spans[s].count);
    }
    assert_int_equal(next, n);
    return text;
}

static void test_same_insert_shares_a_statement(void **state)
{
    (void)state;
    merge_item_t items[] = {plain(SQL_T, 2, 0), plain(SQL_T, 2, 0), plain(SQL_T, 2, 0)};
    assert_string_equal(plan_text(items, 3, &real_limits), "0+3");
    merge_item_t one[] = {plain(SQL_T, 2, 0)};
    assert_string_equal(plan_text(one, 1, &real_limits), "0+1");
    assert_int_equal(merge_plan(items, 0, &real_limits, NULL), 0);
}

/* Another table, or the same table with other columns: another statement.
 * Only neighbours merge: an INSERT like an earlier one but after another
 * statement starts a statement of its own, so the order is kept. */
static void test_other_table_or_columns_start_a_new_statement(void **state)
{
    (void)state;
    merge_item_t items[] = {plain(SQL_T, 2, 0), plain(SQL_T, 2, 0), plain(SQL_U, 2, 0),
                            plain(SQL_U, 2, 0), plain(SQL_T, 2, 0), plain(SQL_T2, 1, 0),
                            plain(SQL_T, 2, 0)};
    assert_string_equal(plan_text(items, 7, &real_limits), "0+2 2+2 4+1 5+1 6+1");
}

/* Each statement runs under one statement_timeout. */
static void test_other_timeout_starts_a_new_statement(void **state)
{
    (void)state;
    merge_item_t items[] = {plain(SQL_T, 2, 0), plain(SQL_T, 2, 0), plain(SQL_T, 2, 500),
                            plain(SQL_T, 2, 500), plain(SQL_T, 2, 0)};
    assert_string_equal(plan_text(items, 5, &real_limits), "0+2 2+2 4+1");
}

/* Only a plain INSERT's answer is known without its own statement's result:
 * RETURNING (or any other write) is sent alone, even with the same SQL
 * text, and it separates the INSERTs around it. So is a request of several
 * statements (a BATCH_INSERT in chunks), even flagged plain. */
static void test_returning_and_others_are_sent_alone(void **state)
{
    (void)state;
    merge_item_t returning = plain(SQL_T, 2, 0);
    returning.plain_insert = false;
    merge_item_t chunks = plain(SQL_T, 2, 0);
    chunks.nstmts = 2;
    merge_item_t none = {.plain_insert = true, .nstmts = 0};
    merge_item_t items[] = {plain(SQL_T, 2, 0), returning, returning,          plain(SQL_T, 2, 0),
                            plain(SQL_T, 2, 0), chunks,    plain(SQL_T, 2, 0), none,
                            plain(SQL_T, 2, 0)};
    assert_string_equal(plan_text(items, 9, &real_limits), "0+1 1+1 2+1 3+2 5+1 6+1 7+1 8+1");
}

/* A statement carries at most max_params parameters and max_rows rows. */
static void test_limits_cut_a_run(void **state)
{
    (void)state;
    merge_item_t items[7];
    for (size_t i = 0; i < 7; i++)
        items[i] = plain(SQL_T, 3, 0);
    merge_limits_t params = {.max_params = 10, .max_rows = 1000}; /* 3 rows of 3 */
    assert_string_equal(plan_text(items, 7, &params), "0+3 3+3 6+1");
    merge_limits_t rows = {.max_params = 65535, .max_rows = 2};
    assert_string_equal(plan_text(items, 7, &rows), "0+2 2+2 4+2 6+1");
    merge_limits_t tight = {.max_params = 2, .max_rows = 1000}; /* not even one row of 3 */
    assert_string_equal(plan_text(items, 7, &tight), "0+1 1+1 2+1 3+1 4+1 5+1 6+1");
    /* an INSERT without parameters counts as one per row */
    merge_item_t bare[5];
    for (size_t i = 0; i < 5; i++)
        bare[i] = plain("INSERT INTO \"t\" DEFAULT VALUES", 0, 0);
    merge_limits_t two = {.max_params = 2, .max_rows = 1000};
    assert_string_equal(plan_text(bare, 5, &two), "0+2 2+2 4+1");
}

/* The adapter's own limits: 1,000 rows, or fewer when 65,535 parameters
 * run out first. */
static void test_real_limits(void **state)
{
    (void)state;
    static merge_item_t items[2500];
    for (size_t i = 0; i < 2500; i++)
        items[i] = plain(SQL_T2, 1, 0);
    assert_int_equal(merge_span_len(items, 2500, 0, &real_limits), DBEV_SQL_MAX_BATCH_ROWS);
    assert_int_equal(merge_span_len(items, 2500, 2000, &real_limits), 500);
    for (size_t i = 0; i < 2500; i++)
        items[i] = plain(SQL_T, 100, 0);
    assert_int_equal(merge_span_len(items, 2500, 0, &real_limits), DBEV_SQL_MAX_PARAMS / 100);
    /* from any request on, not only the first of a run */
    assert_int_equal(merge_span_len(items, 2500, 2499, &real_limits), 1);
}

/* --- plan_build() on jobs --- */

typedef struct fixture {
    dbev_request_t reqs[8];
    dbev_sql_query_t qs[8];
    char *values[8][2];
    job_t jobs[8];
    json_t *returning;
} fixture_t;

/* Job i: an INSERT of SQL_T with values "a<i>", "b<i>" (the second NULL for
 * job 2); with RETURNING when returning. */
static void make_job(fixture_t *f, size_t i, bool returning)
{
    static char texts[8][2][8];
    snprintf(texts[i][0], sizeof(texts[i][0]), "a%zu", i);
    snprintf(texts[i][1], sizeof(texts[i][1]), "b%zu", i);
    f->values[i][0] = texts[i][0];
    f->values[i][1] = i == 2 ? NULL : texts[i][1];
    f->reqs[i].op.type = DBEV_OP_INSERT;
    f->reqs[i].op.returning = returning ? f->returning : NULL;
    f->qs[i] = (dbev_sql_query_t){.sql = (char *)SQL_T, .values = f->values[i], .nparams = 2};
    f->jobs[i] = (job_t){.req = &f->reqs[i], .qs = &f->qs[i], .nq = 1};
}

static void fixture_init(fixture_t *f, size_t n, long returning_job)
{
    memset(f, 0, sizeof(*f));
    f->returning = json_pack("[s]", "id");
    for (size_t i = 0; i < n; i++)
        make_job(f, i, (long)i == returning_job);
}

static void test_plan_build_merges_plain_inserts(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 6, 3); /* 0 1 2 plain, 3 RETURNING, 4 5 plain */
    plan_t pl;
    assert_int_equal(plan_build(f.jobs, 6, true, &pl), 0);
    assert_int_equal(pl.nsend, 3);
    assert_int_equal(pl.nmerged, 2);

    assert_int_equal(pl.first[0], 0);
    assert_int_equal(pl.count[0], 3);
    const dbev_sql_query_t *q = pl.send[0].qs;
    assert_int_equal(pl.send[0].nq, 1);
    assert_null(pl.send[0].row_limit);
    assert_string_equal(q->sql,
                        "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2),($3, $4),($5, $6)");
    assert_int_equal(q->nparams, 6);
    assert_int_equal(q->nrows, 3);
    /* the values are the jobs' own strings, in order: borrowed, not copied */
    assert_ptr_equal(q->values[0], f.values[0][0]);
    assert_ptr_equal(q->values[3], f.values[1][1]);
    assert_ptr_equal(q->values[4], f.values[2][0]);
    assert_null(q->values[5]);

    assert_int_equal(pl.first[1], 3); /* RETURNING: its own statement, untouched */
    assert_int_equal(pl.count[1], 1);
    assert_ptr_equal(pl.send[1].qs, &f.qs[3]);
    assert_ptr_equal(pl.send[1].req, &f.reqs[3]);

    assert_int_equal(pl.first[2], 4);
    assert_int_equal(pl.count[2], 2);
    assert_string_equal(pl.send[2].qs->sql,
                        "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2),($3, $4)");
    assert_ptr_equal(pl.send[2].qs->values[2], f.values[5][0]);
    plan_free(&pl);
    assert_null(pl.send);
    json_decref(f.returning);
}

/* merge = false (after a merged statement failed): one statement per job,
 * each the job's own. */
static void test_plan_build_unmerged(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f, 4, -1);
    plan_t pl;
    assert_int_equal(plan_build(f.jobs, 4, false, &pl), 0);
    assert_int_equal(pl.nsend, 4);
    assert_int_equal(pl.nmerged, 0);
    for (size_t s = 0; s < 4; s++) {
        assert_int_equal(pl.first[s], s);
        assert_int_equal(pl.count[s], 1);
        assert_ptr_equal(pl.send[s].qs, &f.qs[s]);
    }
    plan_free(&pl);
    json_decref(f.returning);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_insert_shares_a_statement),
        cmocka_unit_test(test_other_table_or_columns_start_a_new_statement),
        cmocka_unit_test(test_other_timeout_starts_a_new_statement),
        cmocka_unit_test(test_returning_and_others_are_sent_alone),
        cmocka_unit_test(test_limits_cut_a_run),
        cmocka_unit_test(test_real_limits),
        cmocka_unit_test(test_plan_build_merges_plain_inserts),
        cmocka_unit_test(test_plan_build_unmerged),
    };
    return cmocka_run_group_tests_name("merge_plan", tests, NULL, NULL);
}
