/*
 * What the run's files share; internal to them (run.h is the run's API):
 *   run.c           the whole run: the environment brought up once, the
 *                   passes (-j workers, then the scenarios that run alone),
 *                   the run's own figures, metrics.json and the reports;
 *   run_scenario.c  one scenario in a world of its own: its database cloned
 *                   from a template, topics, adapters and client, its steps
 *                   and guards, trace, replay check and bundle, teardown.
 */
#ifndef HARNESS_RUN_INT_H
#define HARNESS_RUN_INT_H

#include "run/metrics.h"
#include "run/run.h"

#include <pthread.h>

typedef struct run {
    const run_opts_t *opts;
    const run_env_opts_t *env_opts;
    scenario_t *const *scenarios;
    size_t n;
    dbev_logger_t logger;
    pgenv_t *pg;
    mockenv_t *kafka;
    dbev_report_t *report;
    run_metrics_t *metrics;
    pthread_mutex_t lock; /* templates, stdout, next scenario */
    json_t *templates;    /* fixture set name -> template database name */
    size_t next;          /* next place in order to take (-j workers take from here) */
    size_t *order;        /* indexes of scenarios, the costliest first (costs.h) */
    double *took_s;       /* each scenario's seconds, -1 until it ran */
    int64_t started_wall_us;
    int worst;                /* 0 pass, 1 fail, 2 error */
    json_t *skipped;          /* [{scenario, name, reason}] of SKIPPED scenarios (run_judge_fn) */
    json_t *templates_before; /* --pg-dsn: template databases that were there before the run */
    json_t *failed_dbs;       /* --keep: databases of the scenarios that did not pass */
} run_t;

/** Runs scenario index from setup to teardown, prints its lines and records
 *  its outcome in run; -j workers call it side by side. */
void run_one(run_t *run, size_t index);

/** Builds (or finds) the template database of every scenario's fixture
 *  sets ahead of the scenarios, while the transport floor's clients are set
 *  up (its timed echoes wait until this is done). A failure is left for the
 *  scenario that needs the template to report. */
void run_prepare_templates(run_t *run);

#endif
