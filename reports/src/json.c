/*
 * The machine-readable report: everything the model holds, as one JSON
 * document with "schema_version": 1 so that later tools (issue 7's gates,
 * dashboards, comparisons between runs) can tell what they read. The layout
 * is documented in reports/README.md; add fields freely, but renaming or
 * removing one bumps the schema version.
 */
#include "report_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sets obj[key] = value (stolen); clears *ok when anything is NULL. */
static void put(json_t *obj, const char *key, json_t *value, int *ok)
{
    if (!obj || !value || json_object_set_new(obj, key, value) != 0)
        *ok = 0;
}

static void append(json_t *array, json_t *value, int *ok)
{
    if (!array || !value || json_array_append_new(array, value) != 0)
        *ok = 0;
}

/* JSON has no NaN or infinity; jansson refuses them. */
static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *kvlist_json(const rep_kvlist_t *list, int *ok)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < list->n; i++)
        put(obj, list->items[i].key, json_string(list->items[i].value), ok);
    return obj;
}

static json_t *hist_json(const dbev_hist_t *hist, int *ok)
{
    json_t *obj = json_object();
    put(obj, "count", json_integer(dbev_hist_count(hist)), ok);
    put(obj, "min_us", json_integer(dbev_hist_min(hist)), ok);
    put(obj, "max_us", json_integer(dbev_hist_max(hist)), ok);
    put(obj, "mean_us", real_or_null(dbev_hist_mean(hist)), ok);
    put(obj, "stddev_us", real_or_null(dbev_hist_stddev(hist)), ok);
    json_t *pcts = json_object();
    for (int i = 0; i < REP_NPCT; i++)
        put(pcts, rep_pct_keys[i], json_integer(dbev_hist_percentile(hist, rep_pcts[i])), ok);
    put(obj, "percentiles_us", pcts, ok);
    json_t *buckets = json_array();
    int cursor = 0;
    dbev_hist_bucket_t b;
    while (dbev_hist_next_bucket(hist, &cursor, &b))
        append(buckets,
               json_pack("[III]", (json_int_t)b.lo_us, (json_int_t)b.hi_us, (json_int_t)b.count),
               ok);
    put(obj, "buckets", buckets, ok);
    return obj;
}

static json_t *load_json(const dbev_report_load_t *load, int *ok)
{
    json_t *obj = json_object();
    const dbev_report_load_summary_t *s = &load->summary;
    put(obj, "target_rate", real_or_null(s->target_rate), ok);
    put(obj, "duration_us", json_integer(s->duration_us), ok);
    put(obj, "sent", json_integer(s->sent), ok);
    put(obj, "answered", json_integer(s->answered), ok);
    put(obj, "throughput", real_or_null(rep_load_throughput(load)), ok);
    put(obj, "errors_total", json_integer(rep_load_error_total(load)), ok);
    json_t *errors = json_object();
    for (size_t i = 0; i < load->nerrors; i++)
        put(errors, load->errors[i].code, json_integer(load->errors[i].n), ok);
    put(obj, "errors", errors, ok);
    if (load->hist) {
        json_t *pcts = json_object();
        for (int i = 0; i < REP_NPCT; i++)
            put(pcts, rep_pct_keys[i], json_integer(dbev_hist_percentile(load->hist, rep_pcts[i])),
                ok);
        put(obj, "percentiles_us", pcts, ok);
        put(obj, "latency", hist_json(load->hist, ok), ok);
    } else {
        put(obj, "percentiles_us", json_null(), ok);
        put(obj, "latency", json_null(), ok);
    }
    if (load->has_checker) {
        const dbev_report_checker_t *c = &load->checker;
        json_t *checker = json_object();
        put(checker, "answered_once", json_integer(c->answered_once), ok);
        put(checker, "unanswered", json_integer(c->unanswered), ok);
        put(checker, "answered_twice", json_integer(c->answered_twice), ok);
        put(checker, "answered_late", json_integer(c->answered_late), ok);
        put(checker, "unknown_ids", json_integer(c->unknown_ids), ok);
        put(checker, "writes_checked", json_boolean(c->writes_checked), ok);
        put(checker, "writes_present_once", json_integer(c->writes_present_once), ok);
        put(checker, "writes_lost", json_integer(c->writes_lost), ok);
        put(checker, "writes_doubled", json_integer(c->writes_doubled), ok);
        put(obj, "checker", checker, ok);
    } else {
        put(obj, "checker", json_null(), ok);
    }
    json_t *series = json_array();
    for (size_t i = 0; i < load->npoints; i++) {
        const rep_point_t *p = &load->points[i];
        append(series,
               json_pack("{sI sf sI sI}", "t_us", (json_int_t)p->t_us, "throughput",
                         isfinite(p->throughput) ? p->throughput : 0.0, "p99_us",
                         (json_int_t)p->p99_us, "errors", (json_int_t)p->errors),
               ok);
    }
    put(obj, "series", series, ok);
    return obj;
}

static json_t *step_json(const dbev_report_step_t *step, int *ok)
{
    json_t *obj = json_object();
    put(obj, "name", json_string(step->name), ok);
    put(obj, "kind", json_string(step->kind), ok);
    put(obj, "status", json_string(dbev_report_status_name(step->status)), ok);
    put(obj, "reason", str_or_null(step->reason), ok);
    put(obj, "duration_us", json_integer(step->duration_us), ok);
    put(obj, "expected", str_or_null(step->expected), ok);
    put(obj, "actual", str_or_null(step->actual), ok);
    put(obj, "latency", step->hist ? hist_json(step->hist, ok) : json_null(), ok);
    put(obj, "load", step->load ? load_json(step->load, ok) : json_null(), ok);
    return obj;
}

static json_t *scenario_json(const dbev_report_scenario_t *scenario, int *ok)
{
    json_t *obj = json_object();
    put(obj, "name", json_string(scenario->name), ok);
    put(obj, "file", str_or_null(scenario->file), ok);
    json_t *tags = json_array();
    for (size_t i = 0; i < scenario->ntags; i++)
        append(tags, json_string(scenario->tags[i]), ok);
    put(obj, "tags", tags, ok);
    put(obj, "phase", scenario->phase >= 0 ? json_integer(scenario->phase) : json_null(), ok);
    put(obj, "status", json_string(dbev_report_status_name(scenario->status)), ok);
    put(obj, "reason", str_or_null(scenario->reason), ok);
    put(obj, "duration_us", json_integer(scenario->duration_us), ok);
    put(obj, "rerun", str_or_null(scenario->rerun), ok);
    put(obj, "properties", kvlist_json(&scenario->properties, ok), ok);
    json_t *steps = json_array();
    for (size_t i = 0; i < scenario->nsteps; i++)
        append(steps, step_json(scenario->steps[i], ok), ok);
    put(obj, "steps", steps, ok);
    return obj;
}

static json_t *counts_json(const int counts[4], int total, int *ok)
{
    json_t *obj = json_object();
    put(obj, "total", json_integer(total), ok);
    for (int i = 0; i <= DBEV_REPORT_ERROR; i++)
        put(obj, dbev_report_status_name((dbev_report_status_t)i), json_integer(counts[i]), ok);
    return obj;
}

static json_t *report_json(const dbev_report_t *report, int *ok)
{
    json_t *root = json_object();
    put(root, "schema_version", json_integer(DBEV_REPORT_SCHEMA_VERSION), ok);
    put(root, "generator", json_string("dbev " DBEV_VERSION_STRING), ok);
    put(root, "title", json_string(report->title), ok);
    if (report->started_wall_us > 0) {
        char iso[DBEV_ISO8601_SIZE];
        put(root, "started_at",
            json_string(dbev_iso8601(report->started_wall_us, iso, sizeof(iso))), ok);
    } else {
        put(root, "started_at", json_null(), ok);
    }
    put(root, "duration_us", json_integer(report->duration_us), ok);

    json_t *env = json_object();
    if (!report->has_seed)
        put(env, "seed", json_null(), ok);
    else if (report->seed <= (uint64_t)INT64_MAX)
        put(env, "seed", json_integer((json_int_t)report->seed), ok);
    else { /* beyond JSON integers most readers handle: a decimal string */
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)report->seed);
        put(env, "seed", json_string(buf), ok);
    }
    put(env, "git_commit", str_or_null(report->git_commit), ok);
    put(env, "versions", kvlist_json(&report->versions, ok), ok);
    put(env, "host", kvlist_json(&report->host, ok), ok);
    put(env, "extra", kvlist_json(&report->env, ok), ok);
    put(root, "environment", env, ok);

    dbev_report_totals_t totals;
    dbev_report_totals(report, &totals);
    json_t *tot = json_object();
    put(tot, "scenarios", counts_json(totals.scenarios, totals.scenario_count, ok), ok);
    put(tot, "steps", counts_json(totals.steps, totals.step_count, ok), ok);
    put(root, "totals", tot, ok);

    put(root, "figures", kvlist_json(&report->figures, ok), ok);
    json_t *scenarios = json_array();
    for (size_t i = 0; i < report->nscenarios; i++)
        append(scenarios, scenario_json(report->scenarios[i], ok), ok);
    put(root, "scenarios", scenarios, ok);

    json_t *breaker = json_array();
    for (size_t i = 0; i < report->nbreaker; i++) {
        const rep_breaker_t *b = &report->breaker[i];
        json_t *t = json_object();
        put(t, "t_us", json_integer(b->t_us), ok);
        put(t, "scenario", str_or_null(b->scenario), ok);
        put(t, "from", json_string(b->from), ok);
        put(t, "to", json_string(b->to), ok);
        append(breaker, t, ok);
    }
    put(root, "breaker", breaker, ok);

    json_t *trend = json_array();
    for (size_t i = 0; i < report->ntrend; i++) {
        const rep_trend_t *t = &report->trend[i];
        json_t *point = json_object();
        put(point, "metric", json_string(t->metric), ok);
        put(point, "wall_us", json_integer(t->wall_us), ok);
        put(point, "value", json_real(t->value), ok);
        append(trend, point, ok);
    }
    put(root, "trend", trend, ok);

    json_t *verdict = json_object();
    put(verdict, "outcome", json_string(dbev_report_verdict_name(report->verdict)), ok);
    put(verdict, "summary", str_or_null(report->verdict_summary), ok);
    json_t *criteria = json_array();
    for (size_t i = 0; i < report->ncriteria; i++) {
        const rep_criterion_t *c = &report->criteria[i];
        json_t *o = json_object();
        put(o, "name", json_string(c->name), ok);
        put(o, "metric", json_string(c->metric), ok);
        put(o, "figure", real_or_null(c->figure), ok);
        put(o, "bound", real_or_null(c->bound), ok);
        put(o, "comparison", json_string(c->comparison), ok);
        put(o, "unit", str_or_null(c->unit), ok);
        put(o, "outcome", json_string(dbev_report_verdict_name(c->outcome)), ok);
        append(criteria, o, ok);
    }
    put(verdict, "criteria", criteria, ok);
    put(root, "verdict", verdict, ok);
    return root;
}

int dbev_report_write_json(const dbev_report_t *report, const char *path, char *errstr, size_t size)
{
    int ok = 1;
    json_t *root = report_json(report, &ok);
    if (!ok) {
        json_decref(root);
        return dbev_seterr(errstr, size, "cannot build the JSON report: out of memory");
    }
    char *tmp;
    FILE *fp = rep_file_open(path, &tmp, errstr, size);
    if (!fp) {
        json_decref(root);
        return -1;
    }
    int rc = json_dumpf(root, fp, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    json_decref(root);
    fputc('\n', fp);
    if (rc != 0) {
        fclose(fp);
        unlink(tmp);
        free(tmp);
        return dbev_seterr(errstr, size, "cannot write %s", path);
    }
    return rep_file_close(fp, path, tmp, errstr, size);
}
