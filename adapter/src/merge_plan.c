/*
 * Merge planning: which statements a group sends (plan_build), consecutive
 * plain INSERTs of the same table, columns and timeout merged into one
 * multi-row INSERT (merge_insert), and the plan that maps what was sent
 * back to the group's jobs. Which requests may be merged is decided by a
 * pure function of plain inputs (merge_plan.h), unit-tested on its own.
 */
#include "exec_int.h"
#include "merge_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Merging: consecutive plain INSERTs of a group with the same SQL (table and
 * columns) and timeout are sent as ONE multi-row INSERT, which costs the
 * server a fraction of as many single-row statements. Their answers are
 * known (row_count 1 each). The plan maps the statements sent ("send jobs")
 * back to the jobs they cover. When a merged statement fails, nobody knows
 * which row did: the group runs again unmerged, where every statement is one
 * job's and the split (exec_group.c) finds the culprit.
 */

void plan_free(plan_t *pl)
{
    for (size_t i = 0; i < pl->nmerged; i++) {
        free(pl->merged[i].sql);
        free(pl->merged[i].values); /* the strings belong to the jobs */
    }
    free(pl->merged);
    free(pl->send);
    free(pl->first);
    free(pl->count);
    memset(pl, 0, sizeof(*pl));
}

static bool mergeable(const merge_item_t *a, const merge_item_t *b)
{
    return a->plain_insert && b->plain_insert && a->nstmts == 1 && b->nstmts == 1 &&
           a->timeout_ms == b->timeout_ms && strcmp(a->sql, b->sql) == 0;
}

size_t merge_span_len(const merge_item_t *items, size_t n, size_t i, const merge_limits_t *limits)
{
    size_t k = 1;
    if (items[i].plain_insert && items[i].nstmts == 1) {
        int per = items[i].nparams > 0 ? items[i].nparams : 1;
        size_t max_rows = (size_t)(limits->max_params / per);
        if (max_rows > limits->max_rows)
            max_rows = limits->max_rows;
        while (i + k < n && k < max_rows && mergeable(&items[i], &items[i + k]))
            k++;
    }
    return k;
}

size_t merge_plan(const merge_item_t *items, size_t n, const merge_limits_t *limits,
                  merge_span_t *spans)
{
    size_t nspans = 0;
    for (size_t i = 0; i < n;) {
        size_t k = merge_span_len(items, n, i, limits);
        spans[nspans++] = (merge_span_t){.first = i, .count = k};
        i += k;
    }
    return nspans;
}

/* What the planner needs of a job (merge_plan.h). */
static merge_item_t merge_item_of(const job_t *job)
{
    merge_item_t item = {.plain_insert = predictable(job),
                         .nstmts = job->nq,
                         .timeout_ms = job->timeout_ms,
                         .sql = job->nq > 0 ? job->qs[0].sql : NULL,
                         .nparams = job->nq > 0 ? job->qs[0].nparams : 0};
    return item;
}

/* One multi-row INSERT from jobs[0..k) (all mergeable with jobs[0]). */
static int merge_insert(const job_t *jobs, size_t k, dbev_sql_query_t *q)
{
    const char *sql = jobs[0].qs[0].sql;
    const char *values_kw = strstr(sql, " VALUES (");
    int per = jobs[0].qs[0].nparams;
    memset(q, 0, sizeof(*q));
    if (!values_kw)
        return -1;
    size_t head = (size_t)(values_kw - sql) + strlen(" VALUES ");
    size_t cap = head + k * ((size_t)per * 9 + 4) + 1;
    q->sql = malloc(cap);
    q->values = malloc(k * (size_t)per * sizeof(char *));
    if (!q->sql || !q->values) {
        free(q->sql);
        free(q->values);
        return -1;
    }
    memcpy(q->sql, sql, head);
    size_t len = head;
    int n = 0;
    for (size_t j = 0; j < k; j++) {
        q->sql[len++] = j ? ',' : '(';
        if (j)
            q->sql[len++] = '(';
        for (int c = 0; c < per; c++) {
            len += (size_t)snprintf(q->sql + len, cap - len, c ? ", $%d" : "$%d", n + 1);
            q->values[n++] = jobs[j].qs[0].values[c];
        }
        q->sql[len++] = ')';
    }
    q->sql[len] = '\0';
    q->nparams = n;
    q->cap = n;
    q->nrows = (int)k;
    return 0;
}

int plan_build(job_t *jobs, size_t n, bool merge, plan_t *pl)
{
    static const merge_limits_t limits = {.max_params = DBEV_SQL_MAX_PARAMS,
                                          .max_rows = DBEV_SQL_MAX_BATCH_ROWS};
    memset(pl, 0, sizeof(*pl));
    pl->send = calloc(n, sizeof(*pl->send));
    pl->first = calloc(n, sizeof(size_t));
    pl->count = calloc(n, sizeof(size_t));
    pl->merged = calloc(n, sizeof(*pl->merged));
    merge_item_t *items = merge ? calloc(n, sizeof(*items)) : NULL;
    if (!pl->send || !pl->first || !pl->count || !pl->merged || (merge && !items)) {
        free(items);
        plan_free(pl);
        return -1;
    }
    for (size_t i = 0; merge && i < n; i++)
        items[i] = merge_item_of(&jobs[i]);
    /* Span by span rather than merge_plan() at once: after a merge that ran
     * out of memory, the next span starts right after the job sent alone. */
    for (size_t i = 0; i < n;) {
        size_t k = merge ? merge_span_len(items, n, i, &limits) : 1;
        size_t s = pl->nsend++;
        pl->first[s] = i;
        pl->count[s] = k;
        pl->send[s] = jobs[i];
        if (k > 1) {
            dbev_sql_query_t *q = &pl->merged[pl->nmerged];
            if (merge_insert(jobs + i, k, q) == 0) {
                pl->nmerged++;
                pl->send[s].qs = q;
                pl->send[s].nq = 1;
                pl->send[s].row_limit = NULL; /* plain INSERTs: no rows */
            } else {
                pl->count[s] = k = 1; /* out of memory: send it alone */
            }
        }
        i += k;
    }
    free(items);
    return 0;
}
