/*
 * Step dispatch and the steps that only combine others: `parallel:` and the
 * `save:` capture every kind shares. Each kind's own work lives in
 * step_<kind>.c behind the contract of runctx.h.
 */
#include "scenario/runctx.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* save: {name: path} captures values of the step's outcome for later steps;
 * a path that leads nowhere fails the step, since later steps would only
 * fail more obscurely. */
static void capture(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    if (!step->save || res->status != DBEV_REPORT_PASS)
        return;
    if (!res->outcome) {
        step_fail(res, DBEV_REPORT_ERROR, "save: this step kind produces no outcome to save from");
        return;
    }
    const char *name;
    json_t *path;
    json_object_foreach((json_t *)step->save, name, path)
    {
        json_t *value =
            json_is_string(path) ? vars_path_get(res->outcome, json_string_value(path)) : NULL;
        if (!value) {
            step_fail(res, DBEV_REPORT_FAIL, "save: %s: path %s not found in the outcome", name,
                      json_is_string(path) ? json_string_value(path) : "(not text)");
            return;
        }
        vars_set(ctx->vars, name, value);
    }
}

static int dispatch(runctx_t *ctx, const step_t *step, step_result_t *res);

/* Expectations may name variables too (`rows: [{id: "${note.id}"}]`): each
 * step runs as a copy whose expect is substituted, and so does the step an
 * until: polls. */
int step_run(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    char errstr[512];
    step_t resolved = *step, child;
    json_t *expect = NULL, *child_expect = NULL;
    if (step->expect &&
        !(expect = vars_substitute(ctx->vars, step->expect, errstr, sizeof(errstr))))
        return step_fail(res, DBEV_REPORT_ERROR, "%s: expect: %s", step->where, errstr);
    resolved.expect = expect;
    if (step->kind == STEP_UNTIL && step->n_children == 1 && step->children[0].expect) {
        child = step->children[0];
        child_expect = vars_substitute(ctx->vars, child.expect, errstr, sizeof(errstr));
        if (!child_expect) {
            json_decref(expect);
            return step_fail(res, DBEV_REPORT_ERROR, "%s: expect: %s", step->where, errstr);
        }
        child.expect = child_expect;
        resolved.children = &child;
    }
    int rc = dispatch(ctx, &resolved, res);
    json_decref(expect);
    json_decref(child_expect);
    return rc;
}

static int dispatch(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    int rc;
    switch (step->kind) {
    case STEP_OPERATION:
        rc = step_run_operation(ctx, step, res);
        break;
    case STEP_SQL:
        rc = step_run_sql(ctx, step, res);
        break;
    case STEP_UNTIL:
        rc = step_run_until(ctx, step, res);
        break;
    case STEP_FAULT:
        rc = step_run_fault(ctx, step, res);
        break;
    case STEP_RAW:
        rc = step_run_raw(ctx, step, res);
        break;
    case STEP_LOAD:
        rc = step_run_load(ctx, step, res);
        break;
    case STEP_PARALLEL:
        rc = step_run_parallel(ctx, step, res);
        break;
    case STEP_REGISTRY:
        rc = step_run_registry(ctx, step, res);
        break;
    default:
        return step_fail(res, DBEV_REPORT_ERROR, "unknown step kind %d", step->kind);
    }
    if (rc == 0)
        capture(ctx, step, res);
    return rc;
}

/* One child of a parallel step: its own context copy, so that it gets its
 * own direct connections (a PGconn serves one thread at a time; --mode both
 * has two). The client and the adapters are shared: both are thread-safe. */
typedef struct branch {
    runctx_t ctx;
    const step_t *step;
    step_result_t res;
    int rc;
    pthread_t thread;
} branch_t;

static void *run_branch(void *arg)
{
    branch_t *b = arg;
    /* start_after_ms: part of what the scenario tests (a fault in the middle
     * of a load), not a wait for a condition. */
    if (b->step->start_after_ms > 0) {
        struct timespec ts = {b->step->start_after_ms / 1000,
                              (long)(b->step->start_after_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    b->rc = step_run(&b->ctx, b->step, &b->res);
    return NULL;
}

int step_run_parallel(runctx_t *ctx, const step_t *step, step_result_t *res)
{
    branch_t *branches = calloc(step->n_children, sizeof(*branches));
    if (!branches)
        return step_fail(res, DBEV_REPORT_ERROR, "out of memory");
    char errstr[512];
    size_t started = 0;
    for (size_t i = 0; i < step->n_children; i++) {
        branch_t *b = &branches[i];
        b->ctx = *ctx;
        b->step = &step->children[i];
        b->res.report_step = res->report_step;
        b->ctx.direct = pgenv_connect(ctx->pg, ctx->dbname, errstr, sizeof(errstr));
        b->ctx.direct_twin = NULL;
        if (b->ctx.direct && ctx->dbname_direct[0])
            b->ctx.direct_twin = pgenv_connect(ctx->pg, ctx->dbname_direct, errstr, sizeof(errstr));
        /* the direct path's operations: the adapters' role, like the runner's */
        b->ctx.direct_op = ctx->direct_op ? pgenv_connect_as(ctx->pg, ctx->dbname, PGENV_APP_ROLE,
                                                             errstr, sizeof(errstr))
                                          : NULL;
        b->ctx.direct_twin_op = ctx->direct_twin_op
                                    ? pgenv_connect_as(ctx->pg, ctx->dbname_direct, PGENV_APP_ROLE,
                                                       errstr, sizeof(errstr))
                                    : NULL;
        if (!b->ctx.direct || (ctx->dbname_direct[0] && !b->ctx.direct_twin) ||
            (ctx->direct_op && !b->ctx.direct_op) ||
            (ctx->direct_twin_op && !b->ctx.direct_twin_op)) {
            PQfinish(b->ctx.direct);
            PQfinish(b->ctx.direct_twin);
            PQfinish(b->ctx.direct_op);
            PQfinish(b->ctx.direct_twin_op);
            step_fail(res, DBEV_REPORT_ERROR, "parallel: %s", errstr);
            break;
        }
        if (pthread_create(&b->thread, NULL, run_branch, b) != 0) {
            PQfinish(b->ctx.direct);
            PQfinish(b->ctx.direct_twin);
            PQfinish(b->ctx.direct_op);
            PQfinish(b->ctx.direct_twin_op);
            step_fail(res, DBEV_REPORT_ERROR, "parallel: cannot start a thread");
            break;
        }
        started++;
    }
    int rc = 0;
    for (size_t i = 0; i < started; i++) {
        branch_t *b = &branches[i];
        pthread_join(b->thread, NULL);
        PQfinish(b->ctx.direct);
        PQfinish(b->ctx.direct_twin);
        PQfinish(b->ctx.direct_op);
        PQfinish(b->ctx.direct_twin_op);
        if (b->rc)
            rc = -1;
        if (b->res.status != DBEV_REPORT_PASS && res->status == DBEV_REPORT_PASS)
            step_fail(res, b->res.status, "%s: %s", b->step->name, b->res.message);
        json_decref(b->res.outcome);
        /* A branch's load figures are in its report section; the run's
         * metrics take only top-level steps' (run.c), so drop them here. */
        json_decref(b->res.metrics);
    }
    free(branches);
    return rc;
}
