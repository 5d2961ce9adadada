/*
 * The run model's builder: the harness calls these as a run goes. Every
 * setter copies what it is given, so the harness can pass stack buffers and
 * free its own histograms; child handles are owned by the report and freed
 * with it. Nothing here writes a file; the writers read the model.
 */
#include "report_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *status_names[] = {"pass", "fail", "skip", "error"};
static const char *verdict_names[] = {"none", "pass", "fail", "rollback"};

const char *dbev_report_status_name(dbev_report_status_t status)
{
    if ((int)status < 0 || status > DBEV_REPORT_ERROR)
        return "unknown";
    return status_names[status];
}

const char *dbev_report_verdict_name(dbev_report_verdict_t verdict)
{
    if ((int)verdict < 0 || verdict > DBEV_VERDICT_ROLLBACK)
        return "unknown";
    return verdict_names[verdict];
}

dbev_report_t *dbev_report_new(const char *title)
{
    dbev_report_t *report = calloc(1, sizeof(*report));
    if (!report)
        return NULL;
    if (rep_setstr(&report->title, title ? title : "dbev report") != 0) {
        free(report);
        return NULL;
    }
    return report;
}

static void kvlist_free(rep_kvlist_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].key);
        free(list->items[i].value);
    }
    free(list->items);
}

static void load_free(dbev_report_load_t *load)
{
    if (!load)
        return;
    dbev_hist_destroy(load->hist);
    for (size_t i = 0; i < load->nerrors; i++)
        free(load->errors[i].code);
    free(load->errors);
    free(load->points);
    free(load);
}

static void step_free(dbev_report_step_t *step)
{
    free(step->name);
    free(step->kind);
    free(step->reason);
    free(step->expected);
    free(step->actual);
    dbev_hist_destroy(step->hist);
    load_free(step->load);
    free(step);
}

static void scenario_free(dbev_report_scenario_t *scenario)
{
    free(scenario->name);
    free(scenario->file);
    for (size_t i = 0; i < scenario->ntags; i++)
        free(scenario->tags[i]);
    free(scenario->tags);
    free(scenario->reason);
    free(scenario->rerun);
    kvlist_free(&scenario->properties);
    for (size_t i = 0; i < scenario->nsteps; i++)
        step_free(scenario->steps[i]);
    free(scenario->steps);
    free(scenario);
}

void dbev_report_destroy(dbev_report_t *report)
{
    if (!report)
        return;
    free(report->title);
    free(report->git_commit);
    kvlist_free(&report->versions);
    kvlist_free(&report->host);
    kvlist_free(&report->env);
    kvlist_free(&report->figures);
    for (size_t i = 0; i < report->nscenarios; i++)
        scenario_free(report->scenarios[i]);
    free(report->scenarios);
    for (size_t i = 0; i < report->nbreaker; i++) {
        free(report->breaker[i].scenario);
        free(report->breaker[i].from);
        free(report->breaker[i].to);
    }
    free(report->breaker);
    for (size_t i = 0; i < report->ntrend; i++)
        free(report->trend[i].metric);
    free(report->trend);
    free(report->verdict_summary);
    for (size_t i = 0; i < report->ncriteria; i++) {
        rep_criterion_t *c = &report->criteria[i];
        free(c->name);
        free(c->metric);
        free(c->comparison);
        free(c->unit);
    }
    free(report->criteria);
    free(report);
}

void dbev_report_set_times(dbev_report_t *report, int64_t started_wall_us, int64_t duration_us)
{
    report->started_wall_us = started_wall_us;
    report->duration_us = duration_us;
}

void dbev_report_set_seed(dbev_report_t *report, uint64_t seed)
{
    report->has_seed = 1;
    report->seed = seed;
}

int dbev_report_set_git_commit(dbev_report_t *report, const char *commit)
{
    return rep_setstr(&report->git_commit, commit);
}

static int kvlist_set(rep_kvlist_t *list, const char *key, const char *value)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i].key, key) == 0)
            return rep_setstr(&list->items[i].value, value ? value : "");
    if (rep_grow(&list->items, &list->cap, list->n, sizeof(rep_kv_t)) != 0)
        return -1;
    rep_kv_t kv = {NULL, NULL};
    if (rep_setstr(&kv.key, key) != 0 || rep_setstr(&kv.value, value ? value : "") != 0) {
        free(kv.key);
        return -1;
    }
    list->items[list->n++] = kv;
    return 0;
}

int dbev_report_set_version(dbev_report_t *report, const char *component, const char *version)
{
    return kvlist_set(&report->versions, component, version);
}

int dbev_report_set_host(dbev_report_t *report, const char *key, const char *value)
{
    return kvlist_set(&report->host, key, value);
}

int dbev_report_set_env(dbev_report_t *report, const char *key, const char *value)
{
    return kvlist_set(&report->env, key, value);
}

int dbev_report_set_figure(dbev_report_t *report, const char *name, const char *value)
{
    return kvlist_set(&report->figures, name, value);
}

int dbev_report_scenario_set_property(dbev_report_scenario_t *scenario, const char *name,
                                      const char *value)
{
    return kvlist_set(&scenario->properties, name, value);
}

int dbev_report_fill_host(dbev_report_t *report)
{
    struct utsname uts;
    char cpus[32];
    int rc = 0;
    if (uname(&uts) == 0) {
        rc |= kvlist_set(&report->host, "hostname", uts.nodename);
        rc |= kvlist_set(&report->host, "os", uts.sysname);
        rc |= kvlist_set(&report->host, "kernel", uts.release);
        rc |= kvlist_set(&report->host, "arch", uts.machine);
    }
    snprintf(cpus, sizeof(cpus), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    rc |= kvlist_set(&report->host, "cpus", cpus);
    return rc ? -1 : 0;
}

dbev_report_scenario_t *dbev_report_add_scenario(dbev_report_t *report, const char *name,
                                                 const char *file)
{
    if (rep_grow(&report->scenarios, &report->capscenarios, report->nscenarios,
                 sizeof(dbev_report_scenario_t *)) != 0)
        return NULL;
    dbev_report_scenario_t *scenario = calloc(1, sizeof(*scenario));
    if (!scenario)
        return NULL;
    scenario->phase = -1;
    if (rep_setstr(&scenario->name, name ? name : "") != 0 ||
        rep_setstr(&scenario->file, file) != 0) {
        scenario_free(scenario);
        return NULL;
    }
    report->scenarios[report->nscenarios++] = scenario;
    return scenario;
}

int dbev_report_scenario_add_tag(dbev_report_scenario_t *scenario, const char *tag)
{
    char *copy = NULL;
    if (!tag || rep_setstr(&copy, tag) != 0)
        return -1;
    if (rep_grow(&scenario->tags, &scenario->captags, scenario->ntags, sizeof(char *)) != 0) {
        free(copy);
        return -1;
    }
    scenario->tags[scenario->ntags++] = copy;
    return 0;
}

void dbev_report_scenario_set_phase(dbev_report_scenario_t *scenario, int phase)
{
    scenario->phase = phase;
}

int dbev_report_scenario_set_status(dbev_report_scenario_t *scenario, dbev_report_status_t status,
                                    const char *reason)
{
    scenario->status = status;
    return rep_setstr(&scenario->reason, reason);
}

void dbev_report_scenario_set_duration(dbev_report_scenario_t *scenario, int64_t duration_us)
{
    scenario->duration_us = duration_us;
}

int dbev_report_scenario_set_rerun(dbev_report_scenario_t *scenario, const char *command)
{
    return rep_setstr(&scenario->rerun, command);
}

dbev_report_step_t *dbev_report_scenario_add_step(dbev_report_scenario_t *scenario,
                                                  const char *name, const char *kind)
{
    if (rep_grow(&scenario->steps, &scenario->capsteps, scenario->nsteps,
                 sizeof(dbev_report_step_t *)) != 0)
        return NULL;
    dbev_report_step_t *step = calloc(1, sizeof(*step));
    if (!step)
        return NULL;
    if (rep_setstr(&step->name, name ? name : "") != 0 ||
        rep_setstr(&step->kind, kind ? kind : "") != 0) {
        step_free(step);
        return NULL;
    }
    scenario->steps[scenario->nsteps++] = step;
    return step;
}

int dbev_report_step_set_status(dbev_report_step_t *step, dbev_report_status_t status,
                                const char *reason)
{
    step->status = status;
    return rep_setstr(&step->reason, reason);
}

void dbev_report_step_set_duration(dbev_report_step_t *step, int64_t duration_us)
{
    step->duration_us = duration_us;
}

int dbev_report_step_set_mismatch(dbev_report_step_t *step, const char *expected,
                                  const char *actual)
{
    if (rep_setstr(&step->expected, expected) != 0)
        return -1;
    return rep_setstr(&step->actual, actual);
}

static int set_hist(dbev_hist_t **dst, const dbev_hist_t *hist)
{
    dbev_hist_t *copy = NULL;
    if (hist && !(copy = dbev_hist_dup(hist)))
        return -1;
    dbev_hist_destroy(*dst);
    *dst = copy;
    return 0;
}

int dbev_report_step_set_hist(dbev_report_step_t *step, const dbev_hist_t *hist)
{
    return set_hist(&step->hist, hist);
}

dbev_report_load_t *dbev_report_step_load(dbev_report_step_t *step)
{
    if (!step->load)
        step->load = calloc(1, sizeof(*step->load));
    return step->load;
}

int dbev_report_load_set_hist(dbev_report_load_t *load, const dbev_hist_t *hist)
{
    return set_hist(&load->hist, hist);
}

void dbev_report_load_set_summary(dbev_report_load_t *load,
                                  const dbev_report_load_summary_t *summary)
{
    load->summary = *summary;
    load->has_summary = 1;
}

void dbev_report_load_set_checker(dbev_report_load_t *load, const dbev_report_checker_t *checker)
{
    load->checker = *checker;
    load->has_checker = 1;
}

int dbev_report_load_add_errors(dbev_report_load_t *load, const char *code, int64_t n)
{
    if (!code)
        return -1;
    for (size_t i = 0; i < load->nerrors; i++)
        if (strcmp(load->errors[i].code, code) == 0) {
            load->errors[i].n += n;
            return 0;
        }
    if (rep_grow(&load->errors, &load->caperrors, load->nerrors, sizeof(rep_errcount_t)) != 0)
        return -1;
    rep_errcount_t e = {NULL, n};
    if (rep_setstr(&e.code, code) != 0)
        return -1;
    load->errors[load->nerrors++] = e;
    return 0;
}

int dbev_report_load_add_point(dbev_report_load_t *load, int64_t t_us, double throughput,
                               int64_t p99_us, int64_t errors)
{
    if (rep_grow(&load->points, &load->cappoints, load->npoints, sizeof(rep_point_t)) != 0)
        return -1;
    load->points[load->npoints++] = (rep_point_t){t_us, throughput, p99_us, errors};
    return 0;
}

const dbev_hist_t *dbev_report_load_hist(const dbev_report_load_t *load)
{
    return load->hist;
}

int dbev_report_add_breaker(dbev_report_t *report, int64_t t_us, const char *scenario,
                            const char *from, const char *to)
{
    if (rep_grow(&report->breaker, &report->capbreaker, report->nbreaker, sizeof(rep_breaker_t)) !=
        0)
        return -1;
    rep_breaker_t b = {t_us, NULL, NULL, NULL};
    if (rep_setstr(&b.scenario, scenario) != 0 || rep_setstr(&b.from, from ? from : "") != 0 ||
        rep_setstr(&b.to, to ? to : "") != 0) {
        free(b.scenario);
        free(b.from);
        return -1;
    }
    report->breaker[report->nbreaker++] = b;
    return 0;
}

int dbev_report_add_trend(dbev_report_t *report, const char *metric, int64_t wall_us, double value)
{
    if (rep_grow(&report->trend, &report->captrend, report->ntrend, sizeof(rep_trend_t)) != 0)
        return -1;
    rep_trend_t t = {NULL, wall_us, value};
    if (rep_setstr(&t.metric, metric) != 0)
        return -1;
    report->trend[report->ntrend++] = t;
    return 0;
}

int dbev_report_set_verdict(dbev_report_t *report, dbev_report_verdict_t verdict,
                            const char *summary)
{
    report->verdict = verdict;
    return rep_setstr(&report->verdict_summary, summary);
}

int dbev_report_add_criterion(dbev_report_t *report, const dbev_report_criterion_t *criterion)
{
    if (rep_grow(&report->criteria, &report->capcriteria, report->ncriteria,
                 sizeof(rep_criterion_t)) != 0)
        return -1;
    rep_criterion_t c = {NULL, NULL, criterion->figure, criterion->bound,
                         NULL, NULL, criterion->outcome};
    if (rep_setstr(&c.name, criterion->name ? criterion->name : "") != 0 ||
        rep_setstr(&c.metric, criterion->metric ? criterion->metric : "") != 0 ||
        rep_setstr(&c.comparison, criterion->comparison ? criterion->comparison : "") != 0 ||
        rep_setstr(&c.unit, criterion->unit) != 0) {
        free(c.name);
        free(c.metric);
        free(c.comparison);
        return -1;
    }
    report->criteria[report->ncriteria++] = c;
    return 0;
}

void dbev_report_totals(const dbev_report_t *report, dbev_report_totals_t *totals)
{
    memset(totals, 0, sizeof(*totals));
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *scenario = report->scenarios[i];
        if ((int)scenario->status >= 0 && scenario->status <= DBEV_REPORT_ERROR)
            totals->scenarios[scenario->status]++;
        totals->scenario_count++;
        for (size_t j = 0; j < scenario->nsteps; j++) {
            const dbev_report_step_t *step = scenario->steps[j];
            if ((int)step->status >= 0 && step->status <= DBEV_REPORT_ERROR)
                totals->steps[step->status]++;
            totals->step_count++;
        }
    }
}
