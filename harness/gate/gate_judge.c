/*
 * Judging a run (gate.h): every rule of the gates file that applies to the
 * phase becomes one row with its figure, its bound and an outcome. A rule
 * naming a metric the run did not produce is an ERROR row, never a pass: a
 * gate that cannot see a figure has not checked it. The same rows then go
 * to the terminal (a verdict table) and into the report (verdict, criteria
 * and a "gate" scenario whose steps JUnit shows as test cases).
 */
#include "gate/gate.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *gate_outcome_name(gate_outcome_t outcome)
{
    static const char *const names[] = {"PASS", "SKIP", "FAIL", "ERROR", "ROLLBACK"};
    return (int)outcome >= 0 && outcome <= GATE_ROLLBACK ? names[outcome] : "?";
}

int gate_outcome_exit(gate_outcome_t outcome)
{
    switch (outcome) {
    case GATE_PASS:
    case GATE_SKIP:
        return 0;
    case GATE_FAIL:
        return 1;
    case GATE_ROLLBACK:
        return 2;
    case GATE_ERROR:
        break;
    }
    return 3;
}

static gate_cmp_t negate(gate_cmp_t cmp)
{
    switch (cmp) {
    case GATE_LT:
        return GATE_GE;
    case GATE_LE:
        return GATE_GT;
    case GATE_GT:
        return GATE_LE;
    case GATE_GE:
        return GATE_LT;
    case GATE_EQ:
        return GATE_NE;
    case GATE_NE:
        return GATE_EQ;
    }
    return cmp;
}

static gate_row_t *add_row(gate_result_t *res, const gate_rule_t *rule, const char *name,
                           const char *metric)
{
    gate_row_t *grown = realloc(res->rows, (res->n_rows + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    res->rows = grown;
    gate_row_t *row = &res->rows[res->n_rows++];
    memset(row, 0, sizeof(*row));
    row->kind = rule ? rule->kind : GATE_RULE_CRITERION;
    snprintf(row->name, sizeof(row->name), "%s", name);
    snprintf(row->metric, sizeof(row->metric), "%s", metric ? metric : "");
    row->figure = NAN;
    row->bound = rule ? rule->bound : NAN;
    row->cmp = rule ? rule->cmp : GATE_EQ;
    if (rule && rule->unit)
        snprintf(row->unit, sizeof(row->unit), "%s", rule->unit);
    if (rule)
        snprintf(row->where, sizeof(row->where), "%s", rule->where);
    return row;
}

static void note(gate_row_t *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(gate_row_t *row, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(row->note, sizeof(row->note), fmt, ap);
    va_end(ap);
}

static bool applies(const gate_rule_t *rule, int phase)
{
    return phase == 0 ? rule->phases != 0 : (rule->phases & (1u << phase)) != 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The metric names a rule names: itself, or every name with its prefix
 * when it ends in '*', sorted. Returns how many; *names must be freed. */
static size_t expand(const json_t *metrics, const char *pattern, const char ***names)
{
    size_t len = strlen(pattern), n = 0;
    bool prefix = len > 0 && pattern[len - 1] == '*';
    *names = calloc(json_object_size(metrics) + 1, sizeof(char *));
    if (!*names)
        return 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)metrics, key, value)
    {
        if (prefix ? strncmp(key, pattern, len - 1) == 0 : strcmp(key, pattern) == 0)
            (*names)[n++] = key;
    }
    qsort(*names, n, sizeof(char *), compare_strings);
    return n;
}

static const char *missing_hint(const char *metric)
{
    if (strncmp(metric, "load.", 5) == 0 || strncmp(metric, "loss.", 5) == 0 ||
        strcmp(metric, "errors.rate") == 0)
        return "only load steps produce it: select a scenario with a load step for this phase, "
               "or change the rule's phases";
    if (strncmp(metric, "ratio.", 6) == 0 || strncmp(metric, "direct.", 7) == 0)
        return "ratios and direct-path figures need --mode both and an operation of that kind";
    return "no selected scenario ran an operation that records it";
}

static void judge_metric_rule(gate_result_t *res, const gate_rule_t *rule, const json_t *metrics)
{
    const char **names = NULL;
    size_t n = expand(metrics, rule->metric, &names);
    if (n == 0) {
        gate_row_t *row = add_row(res, rule, rule->name, rule->metric);
        if (row) {
            row->outcome = GATE_ERROR;
            if (rule->kind == GATE_RULE_ROLLBACK)
                row->cmp = negate(rule->cmp);
            note(row, "no scenario produced %s (%s)", rule->metric, missing_hint(rule->metric));
        }
    }
    for (size_t i = 0; i < n; i++) {
        char name[300];
        if (n > 1)
            snprintf(name, sizeof(name), "%s: %s", rule->name, names[i]);
        else
            snprintf(name, sizeof(name), "%s", rule->name);
        gate_row_t *row = add_row(res, rule, name, names[i]);
        if (!row)
            break;
        const json_t *v = json_object_get(metrics, names[i]);
        if (!json_is_number(v)) {
            row->outcome = GATE_ERROR;
            note(row, "%s is not a number in the run's metrics", names[i]);
            continue;
        }
        row->figure = json_number_value(v);
        if (rule->kind == GATE_RULE_CRITERION) {
            row->outcome =
                gate_cmp_holds(rule->cmp, row->figure, rule->bound) ? GATE_PASS : GATE_FAIL;
        } else {
            /* The row shows what must hold to stay: the trigger's negation. */
            row->cmp = negate(rule->cmp);
            row->outcome =
                gate_cmp_holds(rule->cmp, row->figure, rule->bound) ? GATE_ROLLBACK : GATE_PASS;
            if (row->outcome == GATE_ROLLBACK)
                note(row, "rollback trigger: %s %s %g", names[i], gate_cmp_str(rule->cmp),
                     rule->bound);
        }
    }
    free(names);
}

/* How much worse than the baseline, as a fraction of it (negative: better). */
static double degradation(const gate_rule_t *rule, double figure, double base)
{
    if (base == 0)
        return figure == 0 ? 0 : (rule->bigger_better ? -INFINITY : INFINITY);
    return rule->bigger_better ? (base - figure) / fabs(base) : (figure - base) / fabs(base);
}

/* The baseline's runs of a metric (its samples): how many, in *values
 * (to be freed). 0 when it has none. */
static size_t baseline_values(const json_t *entry, const char *metric, double **values)
{
    const json_t *list = json_object_get(json_object_get(entry, "samples"), metric);
    *values = NULL;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return 0;
    *values = calloc(json_array_size(list), sizeof(double));
    size_t n = 0, i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        if (*values && json_is_number(v))
            (*values)[n++] = json_number_value(v);
    }
    return n;
}

static double mean_of(const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return n ? sum / (double)n : NAN;
}

/* Whether the baseline was recorded on another machine; why says how. */
static bool other_machine(const gate_input_t *in, char *why, size_t size)
{
    why[0] = '\0';
    return in->baseline && in->machine &&
           gate_machine_differs(json_object_get(in->baseline, "machine"), in->machine, why, size);
}

static void judge_regression(gate_result_t *res, const gate_spec_t *spec, const gate_rule_t *rule,
                             const gate_input_t *in)
{
    gate_row_t *row = add_row(res, rule, rule->name, rule->metric);
    if (!row)
        return;
    row->cmp = rule->bigger_better ? GATE_GE : GATE_LE;
    if (!in->baseline) {
        row->outcome = GATE_SKIP;
        note(row, "not compared: %s", in->baseline_note ? in->baseline_note : "no baseline");
        return;
    }
    char machine[300];
    bool elsewhere = other_machine(in, machine, sizeof(machine));
    if (elsewhere && !in->any_machine) {
        /* Absolute times of one machine say nothing about another's. */
        row->outcome = GATE_SKIP;
        note(row,
             "not compared: the baseline comes from another machine (%.200s); record one on "
             "this machine, or judge anyway with --baseline-any-machine",
             machine);
        return;
    }
    const json_t *v = json_object_get(in->metrics, rule->metric);
    if (!json_is_number(v)) {
        row->outcome = GATE_ERROR;
        note(row, "no scenario produced %s (%s)", rule->metric, missing_hint(rule->metric));
        return;
    }
    row->figure = json_number_value(v);
    double *base = NULL;
    size_t n = baseline_values(in->baseline, rule->metric, &base);
    if (n == 0) {
        row->outcome = GATE_ERROR;
        note(row, "the baseline has no %s: refresh it (reports/baselines/README.md)", rule->metric);
    } else if ((int)n < spec->min_runs) {
        row->outcome = GATE_ERROR;
        note(row,
             "the baseline has %zu run(s) of %s; the test needs %d (baseline.min_runs): record "
             "more runs with --update-baseline (reports/baselines/README.md)",
             n, rule->metric, spec->min_runs);
    } else {
        gate_stat_t st;
        gate_stat_test(base, n, row->figure, rule->bigger_better, rule->confidence,
                       rule->min_effect, &st);
        row->bound = st.bound;
        row->outcome = st.flagged ? GATE_FAIL : GATE_PASS;
        note(row,
             "%s%.200s%sbaseline %.4g (sd %.2g, %zu runs), %+.1f %%, t = %+.2f; flagged beyond "
             "the farther of t(%.3g, %zu) = %.2f and %.0f %%",
             elsewhere ? "baseline from another machine (" : "", elsewhere ? machine : "",
             elsewhere ? "), judged with --baseline-any-machine; " : "", st.mean, st.sd, n,
             st.change * 100, st.t, rule->confidence, n - 1, st.tq, rule->min_effect * 100);
    }
    free(base);
}

static bool watched(const gate_rule_t *trigger, const char *metric)
{
    for (size_t i = 0; i < trigger->n_watch; i++)
        if (strcmp(trigger->watch[i], metric) == 0)
            return true;
    return trigger->n_watch == 0;
}

static void judge_degradation(gate_result_t *res, const gate_spec_t *spec, const gate_rule_t *rule,
                              const gate_input_t *in)
{
    gate_row_t *row = add_row(res, rule, rule->name, "");
    if (!row)
        return;
    row->cmp = GATE_LE;
    row->bound = rule->degradation * 100;
    snprintf(row->unit, sizeof(row->unit), "%%");
    if (!in->baseline) {
        row->outcome = GATE_SKIP;
        note(row, "not judged: %s", in->baseline_note ? in->baseline_note : "no baseline");
        return;
    }
    char machine[300];
    if (other_machine(in, machine, sizeof(machine)) && !in->any_machine) {
        row->outcome = GATE_SKIP;
        note(row, "not judged: the baseline comes from another machine (%.200s)", machine);
        return;
    }
    double worst = -INFINITY;
    const char *worst_metric = NULL;
    for (size_t i = 0; i < spec->n_rules; i++) {
        const gate_rule_t *r = &spec->rules[i];
        if (r->kind != GATE_RULE_REGRESSION || !applies(r, in->phase) ||
            (r->with_long && !in->with_long) || !watched(rule, r->metric))
            continue;
        const json_t *v = json_object_get(in->metrics, r->metric);
        double *base = NULL;
        size_t n = baseline_values(in->baseline, r->metric, &base);
        double b = mean_of(base, n);
        free(base);
        if (!json_is_number(v) || n == 0)
            continue; /* the regression row of that metric is an ERROR already */
        double d = degradation(r, json_number_value(v), b);
        if (d > worst) {
            worst = d;
            worst_metric = r->metric;
        }
    }
    if (!worst_metric) {
        row->outcome = GATE_SKIP;
        note(row, "not judged: no baseline metric applies to this phase");
        return;
    }
    snprintf(row->metric, sizeof(row->metric), "%s", worst_metric);
    row->figure = worst * 100;
    row->outcome = worst > rule->degradation ? GATE_ROLLBACK : GATE_PASS;
    note(row, "the worst change against the baseline's mean is %s (%+.1f %%)", worst_metric,
         worst * 100);
}

static void scenario_rows(gate_result_t *res, const gate_input_t *in)
{
    gate_row_t *row = add_row(res, NULL, "every scenario passed", "scenarios.failed");
    if (row) {
        row->figure = in->scenarios_failed;
        row->bound = 0;
        row->outcome = in->scenarios_failed == 0 ? GATE_PASS : GATE_FAIL;
        if (in->scenarios_failed)
            note(row, "%d scenario(s) failed: see the run's report", in->scenarios_failed);
    }
    row = add_row(res, NULL, "every scenario could run", "scenarios.errors");
    if (row) {
        row->figure = in->scenarios_errors;
        row->bound = 0;
        row->outcome = in->scenarios_errors == 0 ? GATE_PASS : GATE_ERROR;
        if (in->scenarios_errors)
            note(row, "%d scenario(s) could not run as written (harness or environment error)",
                 in->scenarios_errors);
    }
}

static const gate_allowed_skip_t *allowed_skip(const gate_spec_t *spec, const char *scenario)
{
    for (size_t i = 0; i < spec->n_allowed_skips; i++)
        if (strcmp(spec->allowed_skips[i].scenario, scenario) == 0)
            return &spec->allowed_skips[i];
    return NULL;
}

/* A row per skipped scenario: a gate that passes without running a scenario
 * would certify what it never checked, so a skip FAILs unless the gates
 * file allows that scenario by name; an allowed one is listed with its
 * reason (SKIP), so every verdict shows what it did not check. */
static void skip_rows(gate_result_t *res, const gate_spec_t *spec, const gate_input_t *in)
{
    size_t i;
    const json_t *skipped;
    json_array_foreach(in->skipped, i, skipped)
    {
        const char *file = json_string_value(json_object_get(skipped, "scenario"));
        const char *why = json_string_value(json_object_get(skipped, "reason"));
        char name[256];
        snprintf(name, sizeof(name), "scenario %s ran", file ? file : "?");
        gate_row_t *row = add_row(res, NULL, name, "scenarios.skipped");
        if (!row)
            return;
        row->figure = 1;
        row->bound = 0;
        const gate_allowed_skip_t *allowed = file ? allowed_skip(spec, file) : NULL;
        if (allowed) {
            row->outcome = GATE_SKIP;
            note(row, "skipped (%.150s); allowed by %.100s: %.200s", why ? why : "?", spec->path,
                 allowed->reason);
        } else {
            row->outcome = GATE_FAIL;
            note(row,
                 "skipped (%.200s): a gate runs every scenario; make it runnable here, or allow it "
                 "by name with a reason under allowed_skips in %.100s",
                 why ? why : "?", spec->path);
        }
    }
}

gate_result_t *gate_judge(const gate_spec_t *spec, const gate_input_t *in)
{
    gate_result_t *res = calloc(1, sizeof(*res));
    if (!res)
        return NULL;
    scenario_rows(res, in);
    skip_rows(res, spec, in);
    /* Criteria, then rollback triggers, then regressions: the file's order within each. */
    static const gate_kind_t order[] = {GATE_RULE_CRITERION, GATE_RULE_ROLLBACK,
                                        GATE_RULE_REGRESSION};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < spec->n_rules; i++) {
            const gate_rule_t *rule = &spec->rules[i];
            if (rule->kind != order[k] || !applies(rule, in->phase))
                continue;
            if (rule->with_long && !in->with_long) {
                gate_row_t *row = add_row(res, rule, rule->name, rule->metric);
                if (row) {
                    row->outcome = GATE_SKIP;
                    if (rule->kind == GATE_RULE_ROLLBACK)
                        row->cmp = negate(rule->cmp);
                    note(row, "not judged: needs the long scenarios (the run had --without-long)");
                }
            } else if (rule->kind == GATE_RULE_REGRESSION) {
                judge_regression(res, spec, rule, in);
            } else if (!rule->metric) {
                judge_degradation(res, spec, rule, in);
            } else {
                judge_metric_rule(res, rule, in->metrics);
            }
        }
    }
    res->verdict = GATE_PASS;
    for (size_t i = 0; i < res->n_rows; i++) {
        gate_outcome_t o = res->rows[i].outcome;
        res->count[o]++;
        if (o != GATE_SKIP && o > res->verdict)
            res->verdict = o;
    }
    snprintf(res->summary, sizeof(res->summary),
             "%s: %d of %zu rows pass, %d fail, %d rollback trigger(s) fired, %d could not be "
             "judged (error), %d not judged (skip)",
             gate_outcome_name(res->verdict), res->count[GATE_PASS], res->n_rows,
             res->count[GATE_FAIL], res->count[GATE_ROLLBACK], res->count[GATE_ERROR],
             res->count[GATE_SKIP]);
    return res;
}

void gate_result_destroy(gate_result_t *result)
{
    if (!result)
        return;
    free(result->rows);
    free(result);
}

static void format_number(char *buf, size_t size, double v, const char *unit)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else if (fabs(v) >= 1000)
        snprintf(buf, size, "%.0f%s%s", v, unit && *unit ? " " : "", unit ? unit : "");
    else
        snprintf(buf, size, "%.4g%s%s", v, unit && *unit ? " " : "", unit ? unit : "");
}

void gate_result_print(const gate_result_t *result, const char *title, FILE *out)
{
    fprintf(out, "\n%s\n", title);
    fprintf(out, "  %-8s  %-52s  %-30s  %12s  %-16s\n", "outcome", "criterion", "metric", "figure",
            "must be");
    for (size_t i = 0; i < result->n_rows; i++) {
        const gate_row_t *row = &result->rows[i];
        char figure[64], bound[64], must[80];
        format_number(figure, sizeof(figure), row->figure, row->unit);
        format_number(bound, sizeof(bound), row->bound, row->unit);
        snprintf(must, sizeof(must), "%s %s", gate_cmp_str(row->cmp), bound);
        fprintf(out, "  %-8s  %-52.52s  %-30.30s  %12s  %-16s\n", gate_outcome_name(row->outcome),
                row->name, row->metric, figure, must);
        if (row->note[0] && row->outcome != GATE_PASS)
            fprintf(out, "  %-8s    %s%s%s\n", "", row->note, row->where[0] ? "; rule at " : "",
                    row->where);
        else if (row->note[0])
            fprintf(out, "  %-8s    %s\n", "", row->note);
    }
    fprintf(out, "verdict: %s\n", result->summary);
}

static dbev_report_verdict_t report_outcome(gate_outcome_t o)
{
    switch (o) {
    case GATE_PASS:
        return DBEV_VERDICT_PASS;
    case GATE_FAIL:
        return DBEV_VERDICT_FAIL;
    case GATE_ROLLBACK:
        return DBEV_VERDICT_ROLLBACK;
    case GATE_SKIP:
    case GATE_ERROR:
        break;
    }
    return DBEV_VERDICT_NONE;
}

int gate_result_to_report(const gate_result_t *result, const char *title, dbev_report_t *report)
{
    /* The report has no ERROR verdict: a gate that could not judge fails,
     * and the summary says it was an error. */
    dbev_report_verdict_t verdict =
        result->verdict == GATE_ERROR ? DBEV_VERDICT_FAIL : report_outcome(result->verdict);
    char summary[800];
    snprintf(summary, sizeof(summary), "%s: %s%s", title, result->summary,
             result->verdict == GATE_ERROR ? " (harness error: exit 3)" : "");
    if (dbev_report_set_verdict(report, verdict, summary) != 0)
        return -1;
    dbev_report_scenario_t *sc = dbev_report_add_scenario(report, title, NULL);
    if (!sc || dbev_report_scenario_add_tag(sc, "gate") != 0)
        return -1;
    dbev_report_status_t worst = DBEV_REPORT_PASS;
    for (size_t i = 0; i < result->n_rows; i++) {
        const gate_row_t *row = &result->rows[i];
        char name[800];
        if (row->outcome == GATE_SKIP || row->outcome == GATE_ERROR)
            snprintf(name, sizeof(name), "%s (%s: %.200s)", row->name,
                     gate_outcome_name(row->outcome), row->note);
        else
            snprintf(name, sizeof(name), "%s", row->name);
        dbev_report_criterion_t c = {name,
                                     row->metric,
                                     row->figure,
                                     row->bound,
                                     gate_cmp_str(row->cmp),
                                     row->unit[0] ? row->unit : NULL,
                                     report_outcome(row->outcome)};
        if (dbev_report_add_criterion(report, &c) != 0)
            return -1;

        static const char *const kinds[] = {"criterion", "rollback", "regression"};
        dbev_report_step_t *step = dbev_report_scenario_add_step(sc, row->name, kinds[row->kind]);
        if (!step)
            return -1;
        dbev_report_status_t st = row->outcome == GATE_PASS   ? DBEV_REPORT_PASS
                                  : row->outcome == GATE_SKIP ? DBEV_REPORT_SKIP
                                  : row->outcome == GATE_ERROR
                                      ? DBEV_REPORT_ERROR
                                      : DBEV_REPORT_FAIL; /* FAIL and ROLLBACK */
        char reason[1200], expected[400], actual[400], figure[64], bound[64];
        format_number(figure, sizeof(figure), row->figure, row->unit);
        format_number(bound, sizeof(bound), row->bound, row->unit);
        snprintf(reason, sizeof(reason), "%s%s: %s, must be %s %s%s%s",
                 row->outcome == GATE_ROLLBACK ? "ROLLBACK " : "", row->metric, figure,
                 gate_cmp_str(row->cmp), bound, row->note[0] ? "; " : "", row->note);
        snprintf(expected, sizeof(expected), "%s %s %s", row->metric, gate_cmp_str(row->cmp),
                 bound);
        snprintf(actual, sizeof(actual), "%s = %s", row->metric, figure);
        if (dbev_report_step_set_status(step, st, st == DBEV_REPORT_PASS ? NULL : reason) != 0)
            return -1;
        if (st == DBEV_REPORT_FAIL && dbev_report_step_set_mismatch(step, expected, actual) != 0)
            return -1;
        if (st != DBEV_REPORT_SKIP && st > worst)
            worst = st;
    }
    return dbev_report_scenario_set_status(sc, worst,
                                           worst == DBEV_REPORT_PASS ? NULL : result->summary);
}
