/*
 * JUnit XML, the format every CI system reads: a testsuite per scenario and
 * a testcase per step. A failed step carries <failure> with the reason as
 * its message and "expected"/"actual" in the body; a skipped one <skipped>
 * with the reason; an errored one <error>. A scenario whose own status is
 * not explained by its steps (skipped before any step ran, or failed in its
 * setup) gets one extra testcase named "(scenario)" carrying that status, so
 * that no outcome is lost on the way to the CI's counters.
 */
#include "report_int.h"

#include <string.h>

typedef struct counts {
    int tests, failures, errors, skipped;
} counts_t;

/* Whether the scenario needs its own "(scenario)" testcase. */
static int needs_scenario_case(const dbev_report_scenario_t *scenario)
{
    if (scenario->status == DBEV_REPORT_PASS)
        return 0;
    for (size_t i = 0; i < scenario->nsteps; i++)
        if (scenario->steps[i]->status == scenario->status)
            return 0;
    return 1;
}

static void count_status(counts_t *c, dbev_report_status_t status)
{
    c->tests++;
    if (status == DBEV_REPORT_FAIL)
        c->failures++;
    else if (status == DBEV_REPORT_ERROR)
        c->errors++;
    else if (status == DBEV_REPORT_SKIP)
        c->skipped++;
}

static counts_t scenario_counts(const dbev_report_scenario_t *scenario)
{
    counts_t c = {0, 0, 0, 0};
    for (size_t i = 0; i < scenario->nsteps; i++)
        count_status(&c, scenario->steps[i]->status);
    if (needs_scenario_case(scenario))
        count_status(&c, scenario->status);
    return c;
}

static void write_outcome(FILE *fp, dbev_report_status_t status, const char *kind,
                          const char *reason, const char *expected, const char *actual,
                          const char *rerun)
{
    const char *element = status == DBEV_REPORT_FAIL    ? "failure"
                          : status == DBEV_REPORT_ERROR ? "error"
                          : status == DBEV_REPORT_SKIP  ? "skipped"
                                                        : NULL;
    if (!element)
        return;
    fprintf(fp, "      <%s message=\"", element);
    rep_xml_attr(fp, reason ? reason : dbev_report_status_name(status));
    fputc('"', fp);
    if (status != DBEV_REPORT_SKIP && kind) {
        fputs(" type=\"", fp);
        rep_xml_attr(fp, kind);
        fputc('"', fp);
    }
    if (!expected && !actual && !rerun && (status == DBEV_REPORT_SKIP || !reason)) {
        fputs("/>\n", fp);
        return;
    }
    fputc('>', fp);
    if (reason && status != DBEV_REPORT_SKIP) {
        rep_xml_puts(fp, reason);
        fputc('\n', fp);
    }
    if (expected) {
        fputs("expected: ", fp);
        rep_xml_puts(fp, expected);
        fputc('\n', fp);
    }
    if (actual) {
        fputs("actual: ", fp);
        rep_xml_puts(fp, actual);
        fputc('\n', fp);
    }
    if (rerun) {
        fputs("rerun: ", fp);
        rep_xml_puts(fp, rerun);
        fputc('\n', fp);
    }
    fprintf(fp, "</%s>\n", element);
}

static void write_property(FILE *fp, const char *name, const char *value)
{
    fputs("      <property name=\"", fp);
    rep_xml_attr(fp, name);
    fputs("\" value=\"", fp);
    rep_xml_attr(fp, value);
    fputs("\"/>\n", fp);
}

static void write_scenario(FILE *fp, const dbev_report_t *report,
                           const dbev_report_scenario_t *scenario)
{
    char secs[32], buf[32];
    counts_t c = scenario_counts(scenario);
    fputs("  <testsuite name=\"", fp);
    rep_xml_attr(fp, scenario->name);
    fprintf(fp, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%s\"", c.tests,
            c.failures, c.errors, c.skipped,
            rep_seconds(scenario->duration_us, secs, sizeof(secs)));
    if (report->started_wall_us > 0) {
        char iso[DBEV_ISO8601_SIZE];
        dbev_iso8601(report->started_wall_us, iso, sizeof(iso));
        iso[19] = '\0'; /* JUnit's timestamp has no fraction and no zone */
        fprintf(fp, " timestamp=\"%s\"", iso);
    }
    if (scenario->file) {
        fputs(" file=\"", fp);
        rep_xml_attr(fp, scenario->file);
        fputc('"', fp);
    }
    fputs(">\n", fp);

    fputs("    <properties>\n", fp);
    write_property(fp, "status", dbev_report_status_name(scenario->status));
    if (scenario->reason)
        write_property(fp, "reason", scenario->reason);
    if (scenario->phase >= 0) {
        snprintf(buf, sizeof(buf), "%d", scenario->phase);
        write_property(fp, "phase", buf);
    }
    for (size_t i = 0; i < scenario->ntags; i++)
        write_property(fp, "tag", scenario->tags[i]);
    if (report->has_seed) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)report->seed);
        write_property(fp, "seed", buf);
    }
    for (size_t i = 0; i < scenario->properties.n; i++)
        write_property(fp, scenario->properties.items[i].key, scenario->properties.items[i].value);
    fputs("    </properties>\n", fp);

    for (size_t i = 0; i < scenario->nsteps; i++) {
        const dbev_report_step_t *step = scenario->steps[i];
        fputs("    <testcase name=\"", fp);
        rep_xml_attr(fp, step->name);
        fputs("\" classname=\"", fp);
        rep_xml_attr(fp, scenario->name);
        fprintf(fp, "\" time=\"%s\"", rep_seconds(step->duration_us, secs, sizeof(secs)));
        if (step->status == DBEV_REPORT_PASS) {
            fputs("/>\n", fp);
            continue;
        }
        fputs(">\n", fp);
        write_outcome(fp, step->status, step->kind, step->reason, step->expected, step->actual,
                      step->status == DBEV_REPORT_SKIP ? NULL : scenario->rerun);
        fputs("    </testcase>\n", fp);
    }
    if (needs_scenario_case(scenario)) {
        fputs("    <testcase name=\"(scenario)\" classname=\"", fp);
        rep_xml_attr(fp, scenario->name);
        fprintf(fp, "\" time=\"%s\">\n", rep_seconds(scenario->duration_us, secs, sizeof(secs)));
        write_outcome(fp, scenario->status, "scenario", scenario->reason, NULL, NULL,
                      scenario->status == DBEV_REPORT_SKIP ? NULL : scenario->rerun);
        fputs("    </testcase>\n", fp);
    }
    fputs("  </testsuite>\n", fp);
}

int dbev_report_write_junit(const dbev_report_t *report, const char *path, char *errstr,
                            size_t size)
{
    char *tmp;
    FILE *fp = rep_file_open(path, &tmp, errstr, size);
    if (!fp)
        return -1;
    counts_t all = {0, 0, 0, 0};
    for (size_t i = 0; i < report->nscenarios; i++) {
        counts_t c = scenario_counts(report->scenarios[i]);
        all.tests += c.tests;
        all.failures += c.failures;
        all.errors += c.errors;
        all.skipped += c.skipped;
    }
    char secs[32];
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", fp);
    rep_xml_attr(fp, report->title);
    fprintf(fp, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%s\">\n",
            all.tests, all.failures, all.errors, all.skipped,
            rep_seconds(report->duration_us, secs, sizeof(secs)));
    for (size_t i = 0; i < report->nscenarios; i++)
        write_scenario(fp, report, report->scenarios[i]);
    fputs("</testsuites>\n", fp);
    return rep_file_close(fp, path, tmp, errstr, size);
}
