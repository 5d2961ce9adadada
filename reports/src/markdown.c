/*
 * The Markdown summary, sized for a CI step summary or a pull-request
 * comment: the result line first, then the scenario table, the failures with
 * expected vs actual and the command that reruns each, load figures, breaker
 * transitions and the gate verdict. Everything taken from the run is escaped
 * so a hostile step name cannot break a table or inject HTML.
 */
#include "report_int.h"

#include <string.h>

/* Writes s as inline Markdown text: punctuation that means something is
 * backslash-escaped, HTML's specials become entities, newlines spaces. */
static void md_text(FILE *fp, const char *s)
{
    if (!s)
        return;
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", fp);
            break;
        case '>':
            fputs("&gt;", fp);
            break;
        case '&':
            fputs("&amp;", fp);
            break;
        case '\n':
        case '\r':
        case '\t':
            fputc(' ', fp);
            break;
        case '\\':
        case '`':
        case '*':
        case '_':
        case '[':
        case ']':
        case '|':
        case '#':
        case '~':
            fputc('\\', fp);
            fputc(*s, fp);
            break;
        default:
            fputc(*s, fp);
        }
    }
}

/* Writes s inside a fenced code block whose fence is longer than any run of
 * backticks in s, so the content cannot close it. */
static void md_code_block(FILE *fp, const char *label, const char *s, const char *indent)
{
    int run = 0, longest = 0;
    for (const char *p = s; *p; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    int fence = longest < 3 ? 3 : longest + 1;
    fprintf(fp, "%s%s\n%s", indent, label, indent);
    for (int i = 0; i < fence; i++)
        fputc('`', fp);
    fprintf(fp, "\n%s", indent);
    for (const char *p = s; *p; p++) {
        fputc(*p, fp);
        if (*p == '\n' && p[1])
            fputs(indent, fp);
    }
    fprintf(fp, "\n%s", indent);
    for (int i = 0; i < fence; i++)
        fputc('`', fp);
    fputc('\n', fp);
}

static const char *status_word(dbev_report_status_t status)
{
    switch (status) {
    case DBEV_REPORT_PASS:
        return "pass";
    case DBEV_REPORT_FAIL:
        return "**FAIL**";
    case DBEV_REPORT_SKIP:
        return "skip";
    case DBEV_REPORT_ERROR:
        return "**ERROR**";
    }
    return "?";
}

static void write_header(FILE *fp, const dbev_report_t *report)
{
    dbev_report_totals_t t;
    dbev_report_totals(report, &t);
    int failed = t.scenarios[DBEV_REPORT_FAIL] + t.scenarios[DBEV_REPORT_ERROR];
    fputs("## ", fp);
    md_text(fp, report->title);
    fprintf(fp, ": %s\n\n", t.scenario_count == 0 ? "NO SCENARIO RAN" : failed ? "FAIL" : "PASS");
    fprintf(fp,
            "Scenarios: %d (%d passed, %d failed, %d skipped, %d errors). "
            "Steps: %d (%d passed, %d failed, %d skipped, %d errors). Duration %.1f s.",
            t.scenario_count, t.scenarios[0], t.scenarios[1], t.scenarios[2], t.scenarios[3],
            t.step_count, t.steps[0], t.steps[1], t.steps[2], t.steps[3],
            (double)report->duration_us / 1e6);
    if (report->has_seed)
        fprintf(fp, " Seed %llu.", (unsigned long long)report->seed);
    if (report->git_commit) {
        fputs(" Commit `", fp);
        for (const char *p = report->git_commit; *p && p - report->git_commit < 12; p++)
            if (*p != '`')
                fputc(*p, fp);
        fputs("`.", fp);
    }
    fputs("\n\n", fp);
}

static void write_figures(FILE *fp, const dbev_report_t *report)
{
    for (size_t i = 0; i < report->figures.n; i++) {
        fputs("- ", fp);
        md_text(fp, report->figures.items[i].key);
        fputs(": ", fp);
        md_text(fp, report->figures.items[i].value);
        fputc('\n', fp);
    }
    if (report->figures.n)
        fputc('\n', fp);
}

static void write_scenarios(FILE *fp, const dbev_report_t *report)
{
    if (report->nscenarios == 0)
        return;
    fputs("### Scenarios\n\n| scenario | status | steps | duration | reason |\n"
          "|---|---|---:|---:|---|\n",
          fp);
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *s = report->scenarios[i];
        size_t passed = 0;
        for (size_t j = 0; j < s->nsteps; j++)
            passed += s->steps[j]->status == DBEV_REPORT_PASS;
        fputs("| ", fp);
        md_text(fp, s->name);
        fprintf(fp, " | %s | %zu/%zu | %.2f s | ", status_word(s->status), passed, s->nsteps,
                (double)s->duration_us / 1e6);
        md_text(fp, s->reason);
        fputs(" |\n", fp);
    }
    fputs("\n", fp);
}

static void write_failures(FILE *fp, const dbev_report_t *report)
{
    int header = 0;
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *s = report->scenarios[i];
        if (s->status != DBEV_REPORT_FAIL && s->status != DBEV_REPORT_ERROR)
            continue;
        if (!header++)
            fputs("### Failures\n\n", fp);
        fputs("- **", fp);
        md_text(fp, s->name);
        fputs("**", fp);
        if (s->reason) {
            fputs(": ", fp);
            md_text(fp, s->reason);
        }
        fputc('\n', fp);
        for (size_t j = 0; j < s->nsteps; j++) {
            const dbev_report_step_t *step = s->steps[j];
            if (step->status != DBEV_REPORT_FAIL && step->status != DBEV_REPORT_ERROR)
                continue;
            fputs("  - step *", fp);
            md_text(fp, step->name);
            fputs("* (", fp);
            md_text(fp, step->kind);
            fprintf(fp, ") %s", dbev_report_status_name(step->status));
            if (step->reason) {
                fputs(": ", fp);
                md_text(fp, step->reason);
            }
            fputc('\n', fp);
            if (step->expected)
                md_code_block(fp, "expected:", step->expected, "    ");
            if (step->actual)
                md_code_block(fp, "actual:", step->actual, "    ");
        }
        if (s->rerun)
            md_code_block(fp, "rerun:", s->rerun, "  ");
    }
    if (header)
        fputc('\n', fp);
}

static void write_checker(FILE *fp, const dbev_report_load_t *load)
{
    if (!load->has_checker) {
        fputs("n/a", fp);
        return;
    }
    const dbev_report_checker_t *c = &load->checker;
    int clean = c->unanswered == 0 && c->answered_twice == 0 && c->answered_late == 0 &&
                c->unknown_ids == 0 && c->writes_lost == 0 && c->writes_doubled == 0;
    fprintf(fp, "%s: %lld once", clean ? "clean" : "**LOSS**", (long long)c->answered_once);
    if (c->unanswered)
        fprintf(fp, ", %lld unanswered", (long long)c->unanswered);
    if (c->answered_twice)
        fprintf(fp, ", %lld twice", (long long)c->answered_twice);
    if (c->answered_late)
        fprintf(fp, ", %lld late", (long long)c->answered_late);
    if (c->unknown_ids)
        fprintf(fp, ", %lld unknown ids", (long long)c->unknown_ids);
    if (c->writes_checked)
        fprintf(fp, "; writes %lld present, %lld lost, %lld doubled",
                (long long)c->writes_present_once, (long long)c->writes_lost,
                (long long)c->writes_doubled);
}

static void write_loads(FILE *fp, const dbev_report_t *report)
{
    int header = 0;
    char buf[32];
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *s = report->scenarios[i];
        for (size_t j = 0; j < s->nsteps; j++) {
            const dbev_report_load_t *load = s->steps[j]->load;
            if (!load)
                continue;
            if (!header++) {
                fputs("### Loads\n\n| load | rate | sent | throughput |", fp);
                for (int k = 0; k < REP_NPCT; k++)
                    fprintf(fp, " %s |", rep_pct_labels[k]);
                fputs(" errors | checker |\n|---|---:|---:|---:|", fp);
                for (int k = 0; k < REP_NPCT; k++)
                    fputs("---:|", fp);
                fputs("---|---|\n", fp);
            }
            fputs("| ", fp);
            md_text(fp, s->name);
            fputs(" / ", fp);
            md_text(fp, s->steps[j]->name);
            fprintf(fp, " | %.0f/s | %lld | %.1f/s |", load->summary.target_rate,
                    (long long)load->summary.sent, rep_load_throughput(load));
            for (int k = 0; k < REP_NPCT; k++)
                fprintf(fp, " %s |",
                        load->hist
                            ? dbev_hist_format_us(dbev_hist_percentile(load->hist, rep_pcts[k]),
                                                  buf, sizeof(buf))
                            : "");
            int64_t errors = rep_load_error_total(load);
            fprintf(fp, " %lld", (long long)errors);
            if (errors > 0 && load->summary.answered > 0)
                fprintf(fp, " (%.2f%%)", 100.0 * (double)errors / (double)load->summary.answered);
            for (size_t k = 0; k < load->nerrors; k++) {
                fputs(k == 0 ? ": " : ", ", fp);
                md_text(fp, load->errors[k].code);
                fprintf(fp, " %lld", (long long)load->errors[k].n);
            }
            fputs(" | ", fp);
            write_checker(fp, load);
            fputs(" |\n", fp);
        }
    }
    if (header)
        fputc('\n', fp);
}

static void write_breaker(FILE *fp, const dbev_report_t *report)
{
    if (report->nbreaker == 0)
        return;
    fputs("### Circuit breaker\n\n| t | scenario | transition |\n|---:|---|---|\n", fp);
    for (size_t i = 0; i < report->nbreaker; i++) {
        const rep_breaker_t *b = &report->breaker[i];
        fprintf(fp, "| %.3f s | ", (double)b->t_us / 1e6);
        md_text(fp, b->scenario);
        fputs(" | ", fp);
        md_text(fp, b->from);
        fputs(" &rarr; ", fp);
        md_text(fp, b->to);
        fputs(" |\n", fp);
    }
    fputc('\n', fp);
}

static void write_verdict(FILE *fp, const dbev_report_t *report)
{
    if (report->verdict == DBEV_VERDICT_NONE && report->ncriteria == 0)
        return;
    fprintf(fp, "### Verdict: %s\n\n", dbev_report_verdict_name(report->verdict));
    if (report->verdict_summary) {
        md_text(fp, report->verdict_summary);
        fputs("\n\n", fp);
    }
    if (report->ncriteria == 0)
        return;
    fputs("| criterion | metric | figure | bound | outcome |\n|---|---|---:|---:|---|\n", fp);
    for (size_t i = 0; i < report->ncriteria; i++) {
        const rep_criterion_t *c = &report->criteria[i];
        fputs("| ", fp);
        md_text(fp, c->name);
        fputs(" | ", fp);
        md_text(fp, c->metric);
        fprintf(fp, " | %g", c->figure);
        if (c->unit) {
            fputc(' ', fp);
            md_text(fp, c->unit);
        }
        fputs(" | ", fp);
        md_text(fp, c->comparison);
        fprintf(fp, " %g", c->bound);
        if (c->unit) {
            fputc(' ', fp);
            md_text(fp, c->unit);
        }
        fprintf(fp, " | %s |\n", dbev_report_verdict_name(c->outcome));
    }
    fputc('\n', fp);
}

int dbev_report_write_markdown(const dbev_report_t *report, const char *path, char *errstr,
                               size_t size)
{
    char *tmp;
    FILE *fp = rep_file_open(path, &tmp, errstr, size);
    if (!fp)
        return -1;
    write_header(fp, report);
    write_figures(fp, report);
    write_verdict(fp, report);
    write_scenarios(fp, report);
    write_failures(fp, report);
    write_loads(fp, report);
    write_breaker(fp, report);
    return rep_file_close(fp, path, tmp, errstr, size);
}
