/*
 * The HTML report: one self-contained page (inline CSS, inline SVG, no
 * script, no external resource) that a CI artifact viewer or a browser opens
 * from disk. It reads top to bottom the way an engineer asks: did it pass,
 * what failed and how to rerun it, how fast and how lossless were the loads,
 * what did the circuit breaker do, and on what environment.
 */
#include "report_int.h"

#include <string.h>

static const char *css =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#111827;"
    "margin:24px auto;max-width:1180px;padding:0 12px;background:#f9fafb}"
    "h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px "
    "solid #e5e7eb;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}"
    "table{border-collapse:collapse;background:#fff;margin:6px 0 10px;width:100%}"
    "th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f4f6;font-weight:600}td.num{text-align:right;font-variant-numeric:"
    "tabular-nums}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:"
    "12px;color:#fff}.pass{background:#16a34a}.fail,.rollback{background:#dc2626}.skip,.none{"
    "background:#6b7280}.error{background:#9333ea}"
    ".summary{font-size:15px}.muted{color:#6b7280}"
    "pre{background:#111827;color:#f9fafb;padding:8px 10px;border-radius:4px;overflow-x:auto;"
    "white-space:pre-wrap;margin:4px 0}"
    "details{background:#fff;border:1px solid #e5e7eb;border-radius:4px;margin:6px 0;padding:"
    "4px 10px}summary{cursor:pointer;font-weight:600}"
    ".plots{display:flex;flex-wrap:wrap;gap:16px}svg.plot{max-width:100%;height:auto;"
    "border:1px solid #e5e7eb;border-radius:4px}"
    "svg text{font:11px system-ui,sans-serif;fill:#374151}svg text.title{font-size:13px;"
    "font-weight:600;fill:#111827}svg .grid{stroke:#e5e7eb}svg .frame{fill:none;stroke:#9ca3af}"
    "svg .bg{fill:#fff}";

static void h(FILE *fp, const char *s)
{
    rep_xml_puts(fp, s);
}

static void badge(FILE *fp, const char *name)
{
    fprintf(fp, "<span class=\"badge %s\">%s</span>", name, name);
}

static void write_head(FILE *fp, const dbev_report_t *report)
{
    dbev_report_totals_t t;
    dbev_report_totals(report, &t);
    int failed = t.scenarios[DBEV_REPORT_FAIL] + t.scenarios[DBEV_REPORT_ERROR];
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"/><title>",
          fp);
    h(fp, report->title);
    fprintf(fp, "</title>\n<style>%s</style></head>\n<body>\n<h1>", css);
    h(fp, report->title);
    fputs(" ", fp);
    badge(fp, t.scenario_count == 0 ? "error" : failed ? "fail" : "pass");
    fputs("</h1>\n<p class=\"summary\">", fp);
    fprintf(fp,
            "%d scenarios: %d passed, %d failed, %d skipped, %d errors &#183; "
            "%d steps: %d passed, %d failed, %d skipped, %d errors &#183; %.1f s",
            t.scenario_count, t.scenarios[0], t.scenarios[1], t.scenarios[2], t.scenarios[3],
            t.step_count, t.steps[0], t.steps[1], t.steps[2], t.steps[3],
            (double)report->duration_us / 1e6);
    fputs("</p>\n<p class=\"muted\">", fp);
    if (report->started_wall_us > 0) {
        char iso[DBEV_ISO8601_SIZE];
        fprintf(fp, "started %s &#183; ", dbev_iso8601(report->started_wall_us, iso, sizeof(iso)));
    }
    if (report->has_seed)
        fprintf(fp, "seed %llu &#183; ", (unsigned long long)report->seed);
    if (report->git_commit) {
        fputs("commit <code>", fp);
        h(fp, report->git_commit);
        fputs("</code> &#183; ", fp);
    }
    fputs("dbev " DBEV_VERSION_STRING "</p>\n", fp);
}

static void write_verdict(FILE *fp, const dbev_report_t *report)
{
    if (report->verdict == DBEV_VERDICT_NONE && report->ncriteria == 0)
        return;
    fputs("<h2 id=\"verdict\">Verdict ", fp);
    badge(fp, dbev_report_verdict_name(report->verdict));
    fputs("</h2>\n", fp);
    if (report->verdict_summary) {
        fputs("<p>", fp);
        h(fp, report->verdict_summary);
        fputs("</p>\n", fp);
    }
    if (report->ncriteria == 0)
        return;
    fputs("<table><tr><th>criterion</th><th>metric</th><th>figure</th><th>bound</th>"
          "<th>outcome</th></tr>\n",
          fp);
    for (size_t i = 0; i < report->ncriteria; i++) {
        const rep_criterion_t *c = &report->criteria[i];
        fputs("<tr><td>", fp);
        h(fp, c->name);
        fputs("</td><td><code>", fp);
        h(fp, c->metric);
        fprintf(fp, "</code></td><td class=\"num\">%g ", c->figure);
        h(fp, c->unit);
        fputs("</td><td class=\"num\">", fp);
        h(fp, c->comparison);
        fprintf(fp, " %g ", c->bound);
        h(fp, c->unit);
        fputs("</td><td>", fp);
        badge(fp, dbev_report_verdict_name(c->outcome));
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

static void write_steps(FILE *fp, const dbev_report_scenario_t *s)
{
    int open = s->status == DBEV_REPORT_FAIL || s->status == DBEV_REPORT_ERROR;
    fprintf(fp, "<details%s><summary>", open ? " open=\"open\"" : "");
    h(fp, s->name);
    fputs(" ", fp);
    badge(fp, dbev_report_status_name(s->status));
    fputs("</summary>\n", fp);
    if (s->file) {
        fputs("<p class=\"muted\">", fp);
        h(fp, s->file);
        fputs("</p>\n", fp);
    }
    if (s->reason) {
        fputs("<p>", fp);
        h(fp, s->reason);
        fputs("</p>\n", fp);
    }
    if (s->nsteps) {
        fputs("<table><tr><th>#</th><th>step</th><th>kind</th><th>status</th><th>duration</th>"
              "<th>detail</th></tr>\n",
              fp);
        for (size_t i = 0; i < s->nsteps; i++) {
            const dbev_report_step_t *step = s->steps[i];
            fprintf(fp, "<tr><td class=\"num\">%zu</td><td>", i + 1);
            h(fp, step->name);
            fputs("</td><td>", fp);
            h(fp, step->kind);
            fputs("</td><td>", fp);
            badge(fp, dbev_report_status_name(step->status));
            fprintf(fp, "</td><td class=\"num\">%.3f s", (double)step->duration_us / 1e6);
            if (step->service_us >= 0) /* the adapter's share (its answer's service_ms) */
                fprintf(fp, "<div class=\"muted\">adapter %.2f ms</div>",
                        (double)step->service_us / 1000.0);
            fputs("</td><td>", fp);
            h(fp, step->reason);
            if (step->expected) {
                fputs("<div>expected:</div><pre>", fp);
                h(fp, step->expected);
                fputs("</pre>", fp);
            }
            if (step->actual) {
                fputs("<div>actual:</div><pre>", fp);
                h(fp, step->actual);
                fputs("</pre>", fp);
            }
            fputs("</td></tr>\n", fp);
        }
        fputs("</table>\n", fp);
    }
    if (s->rerun && s->status != DBEV_REPORT_PASS && s->status != DBEV_REPORT_SKIP) {
        fputs("<div>rerun:</div><pre>", fp);
        h(fp, s->rerun);
        fputs("</pre>\n", fp);
    }
    fputs("</details>\n", fp);
}

static void write_scenarios(FILE *fp, const dbev_report_t *report)
{
    fputs("<h2 id=\"scenarios\">Scenarios</h2>\n", fp);
    if (report->nscenarios == 0) {
        fputs("<p>No scenario ran.</p>\n", fp);
        return;
    }
    fputs("<table class=\"scenarios\"><tr><th>scenario</th><th>status</th><th>tags</th>"
          "<th>phase</th><th>steps passed</th><th>duration</th><th>reason</th></tr>\n",
          fp);
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *s = report->scenarios[i];
        size_t passed = 0;
        for (size_t j = 0; j < s->nsteps; j++)
            passed += s->steps[j]->status == DBEV_REPORT_PASS;
        fputs("<tr><td>", fp);
        h(fp, s->name);
        fputs("</td><td>", fp);
        badge(fp, dbev_report_status_name(s->status));
        fputs("</td><td>", fp);
        for (size_t j = 0; j < s->ntags; j++) {
            if (j)
                fputs(", ", fp);
            h(fp, s->tags[j]);
        }
        fputs("</td><td class=\"num\">", fp);
        if (s->phase >= 0)
            fprintf(fp, "%d", s->phase);
        fprintf(fp, "</td><td class=\"num\">%zu/%zu</td><td class=\"num\">%.2f s</td><td>", passed,
                s->nsteps, (double)s->duration_us / 1e6);
        h(fp, s->reason);
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n<h3>Steps</h3>\n", fp);
    for (size_t i = 0; i < report->nscenarios; i++)
        write_steps(fp, report->scenarios[i]);
}

static void write_load(FILE *fp, const dbev_report_scenario_t *s, const dbev_report_step_t *step)
{
    const dbev_report_load_t *load = step->load;
    char buf[32], title[512];
    fputs("<h3>", fp);
    h(fp, s->name);
    fputs(" / ", fp);
    h(fp, step->name);
    fputs("</h3>\n<table class=\"load\"><tr><th>target rate</th><th>sent</th><th>answered</th>"
          "<th>throughput</th>",
          fp);
    for (int k = 0; k < REP_NPCT; k++)
        fprintf(fp, "<th>%s</th>", rep_pct_labels[k]);
    fprintf(fp,
            "<th>errors</th></tr>\n<tr><td class=\"num\">%.0f/s</td><td class=\"num\">%lld</td>"
            "<td class=\"num\">%lld</td><td class=\"num\">%.1f/s</td>",
            load->summary.target_rate, (long long)load->summary.sent,
            (long long)load->summary.answered, rep_load_throughput(load));
    for (int k = 0; k < REP_NPCT; k++)
        fprintf(fp, "<td class=\"num\">%s</td>",
                load->hist ? dbev_hist_format_us(dbev_hist_percentile(load->hist, rep_pcts[k]), buf,
                                                 sizeof(buf))
                           : "");
    fprintf(fp, "<td>%lld", (long long)rep_load_error_total(load));
    for (size_t k = 0; k < load->nerrors; k++) {
        fputs(k ? ", " : ": ", fp);
        h(fp, load->errors[k].code);
        fprintf(fp, " %lld", (long long)load->errors[k].n);
    }
    fputs("</td></tr>\n", fp);
    /* The adapter's share of those latencies (its answers' service_ms). */
    if (load->service) {
        fputs("<tr><td colspan=\"4\">service time (adapter)</td>", fp);
        for (int k = 0; k < REP_NPCT; k++)
            fprintf(fp, "<td class=\"num\">%s</td>",
                    dbev_hist_format_us(dbev_hist_percentile(load->service, rep_pcts[k]), buf,
                                        sizeof(buf)));
        fputs("<td></td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
    if (load->has_checker) {
        const dbev_report_checker_t *c = &load->checker;
        fprintf(fp,
                "<table class=\"checker\"><tr><th>answered once</th><th>unanswered</th>"
                "<th>answered twice</th><th>answered late</th><th>unknown ids</th>"
                "<th>writes present once</th><th>writes lost</th><th>writes doubled</th></tr>\n"
                "<tr><td class=\"num\">%lld</td><td class=\"num\">%lld</td><td class=\"num\">%lld"
                "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>",
                (long long)c->answered_once, (long long)c->unanswered, (long long)c->answered_twice,
                (long long)c->answered_late, (long long)c->unknown_ids);
        if (c->writes_checked)
            fprintf(fp,
                    "<td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
                    "<td class=\"num\">%lld</td></tr></table>\n",
                    (long long)c->writes_present_once, (long long)c->writes_lost,
                    (long long)c->writes_doubled);
        else
            fputs("<td colspan=\"3\">not checked</td></tr></table>\n", fp);
    }
    fputs("<div class=\"plots\">\n", fp);
    snprintf(title, sizeof(title), "Latency histogram: %s", step->name);
    rep_svg_histogram(fp, load->hist, title);
    snprintf(title, sizeof(title), "Percentile spectrum: %s", step->name);
    rep_svg_spectrum(fp, load->hist, title);
    snprintf(title, sizeof(title), "Latency over time: %s", step->name);
    rep_svg_latency_time(fp, load, title);
    snprintf(title, sizeof(title), "Throughput over time: %s", step->name);
    rep_svg_throughput_time(fp, load, title);
    fputs("</div>\n", fp);
}

static void write_loads(FILE *fp, const dbev_report_t *report)
{
    int header = 0;
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *s = report->scenarios[i];
        for (size_t j = 0; j < s->nsteps; j++) {
            const dbev_report_step_t *step = s->steps[j];
            if (!step->load)
                continue;
            if (!header++)
                fputs("<h2 id=\"loads\">Loads</h2>\n", fp);
            write_load(fp, s, step);
        }
    }
    header = 0;
    for (size_t i = 0; i < report->nscenarios; i++) {
        const dbev_report_scenario_t *s = report->scenarios[i];
        for (size_t j = 0; j < s->nsteps; j++) {
            const dbev_report_step_t *step = s->steps[j];
            char title[512];
            if (!step->hist || step->load)
                continue;
            if (!header++)
                fputs("<h2 id=\"step-latency\">Step latencies</h2>\n", fp);
            fputs("<h3>", fp);
            h(fp, s->name);
            fputs(" / ", fp);
            h(fp, step->name);
            fputs("</h3>\n<div class=\"plots\">\n", fp);
            snprintf(title, sizeof(title), "Latency histogram: %s", step->name);
            rep_svg_histogram(fp, step->hist, title);
            snprintf(title, sizeof(title), "Percentile spectrum: %s", step->name);
            rep_svg_spectrum(fp, step->hist, title);
            fputs("</div>\n", fp);
        }
    }
}

/* One plot per metric that has a history (gate runs feed it from the
 * history file), in the order the metrics first appear. */
static void write_trend(FILE *fp, const dbev_report_t *report)
{
    if (report->ntrend == 0)
        return;
    fputs("<h2 id=\"trend\">Trend</h2>\n", fp);
    for (size_t i = 0; i < report->ntrend; i++) {
        const char *metric = report->trend[i].metric;
        size_t j = 0;
        while (j < i && strcmp(report->trend[j].metric, metric) != 0)
            j++;
        if (j < i)
            continue; /* plotted with its first point */
        char title[300];
        snprintf(title, sizeof(title), "Trend: %s", metric);
        rep_svg_trend(fp, report, metric, title);
    }
}

static void write_breaker(FILE *fp, const dbev_report_t *report)
{
    if (report->nbreaker == 0)
        return;
    fputs("<h2 id=\"breaker\">Circuit breaker</h2>\n", fp);
    rep_svg_breaker(fp, report, "Breaker state over time");
    fputs("<table><tr><th>t</th><th>scenario</th><th>from</th><th>to</th></tr>\n", fp);
    for (size_t i = 0; i < report->nbreaker; i++) {
        const rep_breaker_t *b = &report->breaker[i];
        fprintf(fp, "<tr><td class=\"num\">%.3f s</td><td>", (double)b->t_us / 1e6);
        h(fp, b->scenario);
        fputs("</td><td>", fp);
        h(fp, b->from);
        fputs("</td><td>", fp);
        h(fp, b->to);
        fputs("</td></tr>\n", fp);
    }
    fputs("</table>\n", fp);
}

static void write_kv(FILE *fp, const char *title, const rep_kvlist_t *list)
{
    if (list->n == 0)
        return;
    fputs("<h3>", fp);
    h(fp, title);
    fputs("</h3>\n<table class=\"kv\">", fp);
    for (size_t i = 0; i < list->n; i++) {
        fputs("<tr><th>", fp);
        h(fp, list->items[i].key);
        fputs("</th><td>", fp);
        h(fp, list->items[i].value);
        fputs("</td></tr>", fp);
    }
    fputs("</table>\n", fp);
}

static void write_environment(FILE *fp, const dbev_report_t *report)
{
    fputs("<h2 id=\"environment\">Environment</h2>\n", fp);
    write_kv(fp, "Versions", &report->versions);
    write_kv(fp, "Host", &report->host);
    write_kv(fp, "Run", &report->env);
}

int dbev_report_write_html(const dbev_report_t *report, const char *path, char *errstr, size_t size)
{
    char *tmp;
    FILE *fp = rep_file_open(path, &tmp, errstr, size);
    if (!fp)
        return -1;
    write_head(fp, report);
    /* The run's figures (the transport floor, the adapter's service time,
     * ...) on top, as in summary.md: they say how to read every latency below. */
    write_kv(fp, "Figures", &report->figures);
    write_verdict(fp, report);
    write_scenarios(fp, report);
    write_loads(fp, report);
    write_breaker(fp, report);
    write_trend(fp, report);
    write_environment(fp, report);
    fputs("<p class=\"muted\">Written by dbev " DBEV_VERSION_STRING
          " reports (schema version 1).</p>\n</body></html>\n",
          fp);
    return rep_file_close(fp, path, tmp, errstr, size);
}
