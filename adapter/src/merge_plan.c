/*
 * Merge planning: which statements a group sends (plan_build), consecutive
 * plain INSERTs of the same table, columns and timeout merged into one
 * multi-row INSERT (merge_insert), and the plan that maps what was sent
 * back to the group's jobs.
 */
#include "exec_int.h"

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
 * job's and the split below finds the culprit.
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

static bool mergeable(const job_t *a, const job_t *b)
{
    return predictable(a) && predictable(b) && a->nq == 1 && b->nq == 1 &&
           a->timeout_ms == b->timeout_ms && strcmp(a->qs[0].sql, b->qs[0].sql) == 0;
}

/* One multi-row INSERT from jobs[0..k) (all mergeable with jobs[0]). */
static int merge_insert(const job_t *jobs, size_t k, sqlb_query_t *q)
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
    memset(pl, 0, sizeof(*pl));
    pl->send = calloc(n, sizeof(*pl->send));
    pl->first = calloc(n, sizeof(size_t));
    pl->count = calloc(n, sizeof(size_t));
    pl->merged = calloc(n, sizeof(*pl->merged));
    if (!pl->send || !pl->first || !pl->count || !pl->merged) {
        plan_free(pl);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        size_t k = 1;
        if (merge && predictable(&jobs[i]) && jobs[i].nq == 1) {
            int per = jobs[i].qs[0].nparams > 0 ? jobs[i].qs[0].nparams : 1;
            size_t max_rows = (size_t)(SQLB_MAX_PARAMS / per);
            if (max_rows > SQLB_MAX_BATCH_ROWS)
                max_rows = SQLB_MAX_BATCH_ROWS;
            while (i + k < n && k < max_rows && mergeable(&jobs[i], &jobs[i + k]))
                k++;
        }
        size_t s = pl->nsend++;
        pl->first[s] = i;
        pl->count[s] = k;
        pl->send[s] = jobs[i];
        if (k > 1) {
            sqlb_query_t *q = &pl->merged[pl->nmerged];
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
    return 0;
}
