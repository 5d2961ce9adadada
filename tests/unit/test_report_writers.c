/*
 * The report writers on a synthetic run (test_report_synth.c): JSON parsed
 * back with jansson and checked field by field; JUnit counts, escaping and,
 * when xmllint is installed, validity and XPath counts; Markdown tables and
 * escaping; the HTML page self-contained, well-formed and carrying its SVG
 * plots; write_all's layout; failures reported through errstr; an empty run;
 * bytes that are not UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbev/report.h"
#include "test_report_synth.h"

static char tmpdir[] = "/tmp/dbev-test-report-XXXXXX";
static dbev_report_t *report;
static dbev_hist_t *load_hist;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmpdir))
        return -1;
    report = synth_report(&load_hist);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    dbev_report_destroy(report);
    dbev_hist_destroy(load_hist);
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static char *path_in(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
    text[n] = '\0';
    fclose(fp);
    return text;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static int have_xmllint(void)
{
    return system("command -v xmllint >/dev/null 2>&1") == 0;
}

/* Runs a shell command and returns its first output line (static buffer). */
static const char *run(const char *cmd)
{
    static char line[1024];
    line[0] = '\0';
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(line, sizeof(line), p))
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    return line;
}

static const char *xpath(const char *file, const char *expr)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "xmllint --xpath '%s' '%s' 2>&1", expr, file);
    return run(cmd);
}

/* ---------------------------------------------------------------- JSON */

static void test_json(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = path_in("report.json");
    assert_int_equal(dbev_report_write_json(report, path, err, sizeof(err)), 0);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        fail_msg("report.json does not parse: %s at %d:%d", jerr.text, jerr.line, jerr.column);
    assert_int_equal(json_integer_value(json_object_get(root, "schema_version")), 1);

    json_t *env = json_object_get(root, "environment");
    assert_int_equal(json_integer_value(json_object_get(env, "seed")), 42);
    assert_string_equal(json_string_value(json_object_get(env, "git_commit")),
                        "0123456789abcdef0123456789abcdef01234567");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(env, "versions"), "postgresql")), "15.8");
    assert_non_null(json_object_get(json_object_get(env, "host"), "cpus"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(env, "extra"), "adapter")), "thread");

    json_t *totals = json_object_get(json_object_get(root, "totals"), "scenarios");
    assert_int_equal(json_integer_value(json_object_get(totals, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(totals, "fail")), 1);
    assert_int_equal(json_integer_value(json_object_get(totals, "skip")), 1);

    json_t *scenarios = json_object_get(root, "scenarios");
    assert_int_equal(json_array_size(scenarios), 4);
    json_t *s2 = json_array_get(scenarios, 1);
    assert_string_equal(json_string_value(json_object_get(s2, "name")), "breaker/pg-stop <&\"'>");
    assert_string_equal(json_string_value(json_object_get(s2, "status")), "fail");
    assert_non_null(strstr(json_string_value(json_object_get(s2, "rerun")), "--seed 42"));
    json_t *failed = json_array_get(json_object_get(s2, "steps"), 2);
    assert_string_equal(json_string_value(json_object_get(failed, "name")), SYNTH_NASTY_STEP);
    assert_string_equal(json_string_value(json_object_get(failed, "status")), "fail");
    assert_string_equal(json_string_value(json_object_get(failed, "actual")), SYNTH_NASTY_ACTUAL);
    assert_non_null(strstr(json_string_value(json_object_get(failed, "expected")), "a<b"));
    json_t *s3 = json_array_get(scenarios, 2);
    assert_string_equal(json_string_value(json_object_get(s3, "status")), "skip");
    assert_non_null(strstr(json_string_value(json_object_get(s3, "reason")), "--adapter process"));
    assert_int_equal(json_array_size(json_object_get(s3, "steps")), 0);
    assert_true(json_is_null(json_object_get(s3, "phase")));

    /* a step latency histogram */
    json_t *s1step = json_array_get(json_object_get(json_array_get(scenarios, 0), "steps"), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s1step, "latency"), "count")), 200);

    /* the load */
    json_t *lstep = json_array_get(json_object_get(json_array_get(scenarios, 3), "steps"), 0);
    json_t *load = json_object_get(lstep, "load");
    assert_true(json_is_object(load));
    assert_int_equal(json_integer_value(json_object_get(load, "sent")), SYNTH_LOAD_COUNT);
    double tput = json_real_value(json_object_get(load, "throughput"));
    assert_true(tput > 986.8 && tput < 986.9); /* 30000 / 30.4 s */
    json_t *pcts = json_object_get(load, "percentiles_us");
    assert_int_equal(json_integer_value(json_object_get(pcts, "p99")),
                     dbev_hist_percentile(load_hist, 99));
    assert_int_equal(json_integer_value(json_object_get(pcts, "p99_9")),
                     dbev_hist_percentile(load_hist, 99.9));
    assert_int_equal(json_integer_value(json_object_get(pcts, "max")), dbev_hist_max(load_hist));
    json_t *errors = json_object_get(load, "errors");
    assert_int_equal(json_integer_value(json_object_get(errors, "DB_ERROR")), 3);
    assert_int_equal(json_integer_value(json_object_get(load, "errors_total")),
                     json_integer_value(json_object_get(errors, "DB_ERROR")) +
                         json_integer_value(json_object_get(errors, "TIMEOUT")));
    json_t *buckets = json_object_get(json_object_get(load, "latency"), "buckets");
    json_int_t sum = 0, prev = -1;
    size_t i;
    json_t *b;
    json_array_foreach(buckets, i, b)
    {
        assert_true(json_integer_value(json_array_get(b, 0)) > prev);
        prev = json_integer_value(json_array_get(b, 1));
        sum += json_integer_value(json_array_get(b, 2));
    }
    assert_int_equal(sum, SYNTH_LOAD_COUNT);
    json_t *series = json_object_get(load, "series");
    assert_int_equal(json_array_size(series), 30);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(series, 29), "t_us")),
                     30000000);
    json_t *checker = json_object_get(load, "checker");
    assert_int_equal(json_integer_value(json_object_get(checker, "unanswered")), 1);
    assert_int_equal(json_integer_value(json_object_get(checker, "writes_present_once")), 20000);
    assert_true(json_is_true(json_object_get(checker, "writes_checked")));

    json_t *breaker = json_object_get(root, "breaker");
    assert_int_equal(json_array_size(breaker), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(breaker, 0), "to")),
                        "OPEN");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(breaker, 4), "t_us")),
                     13400000);

    json_t *verdict = json_object_get(root, "verdict");
    assert_string_equal(json_string_value(json_object_get(verdict, "outcome")), "rollback");
    json_t *criteria = json_object_get(verdict, "criteria");
    assert_int_equal(json_array_size(criteria), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(criteria, 0), "comparison")), "<=");
    assert_true(json_is_null(json_object_get(json_array_get(criteria, 1), "unit")));
    json_decref(root);
}

/* --------------------------------------------------------------- JUnit */

static void test_junit(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = path_in("report.xml");
    assert_int_equal(dbev_report_write_junit(report, path, err, sizeof(err)), 0);
    char *xml = slurp(path);
    /* 3 + 4 steps + "(scenario)" for the skipped one + 1 load step */
    assert_non_null(strstr(xml, "<testsuites name=\"dbev-harness run (synthetic)\" tests=\"9\" "
                                "failures=\"1\" errors=\"0\" skipped=\"2\""));
    assert_int_equal(count(xml, "<testsuite "), 4);
    assert_int_equal(count(xml, "<testcase "), 9);
    assert_int_equal(count(xml, "<failure "), 1);
    assert_int_equal(count(xml, "<skipped "), 2);
    assert_non_null(strstr(xml, "name=\"check &lt;&amp;&quot;&#39;&gt; row\""));
    assert_null(strstr(xml, SYNTH_NASTY_STEP));
    assert_non_null(strstr(xml, "actual: error DB_ERROR &lt;&amp;&quot;&#39;&gt; | `x`"));
    assert_non_null(strstr(xml, "<skipped message=\"needs --adapter process"));
    assert_non_null(strstr(xml, "rerun: dbev-harness run scenarios/breaker.yaml --seed 42"));
    free(xml);
}

static void test_junit_xmllint(void **state)
{
    (void)state;
    if (!have_xmllint()) {
        print_message("SKIP: xmllint not installed (Debian package libxml2-utils)\n");
        skip();
    }
    char err[256] = "", cmd[600];
    const char *path = path_in("report-lint.xml");
    assert_int_equal(dbev_report_write_junit(report, path, err, sizeof(err)), 0);
    snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
    assert_int_equal(system(cmd), 0);
    assert_string_equal(xpath(path, "count(//testcase)"), "9");
    assert_string_equal(xpath(path, "count(//testsuite[@failures=\"1\"])"), "1");
    assert_string_equal(xpath(path, "count(//testcase/skipped)"), "2");
    /* escaping round-trips: the parser gives back the exact step name */
    assert_string_equal(xpath(path, "string(//testcase[failure]/@name)"), SYNTH_NASTY_STEP);
    assert_string_equal(xpath(path, "string(//testcase[failure]/failure/@message)"),
                        "rows differ: \"id\" 1 <> 2 & more");
}

/* ------------------------------------------------------------ Markdown */

static void test_markdown(void **state)
{
    (void)state;
    char err[256] = "", p99[32];
    const char *path = path_in("summary.md");
    assert_int_equal(dbev_report_write_markdown(report, path, err, sizeof(err)), 0);
    char *md = slurp(path);
    assert_non_null(strstr(md, "## dbev-harness run (synthetic): FAIL\n"));
    assert_non_null(strstr(md, "Scenarios: 4 (2 passed, 1 failed, 1 skipped, 0 errors)"));
    assert_non_null(strstr(md, "### Verdict: rollback"));
    assert_non_null(strstr(md, "| scenario | status | steps | duration | reason |"));
    assert_non_null(strstr(md, "| breaker/pg-stop &lt;&amp;\"'&gt; | **FAIL** | 2/4 |"));
    assert_non_null(strstr(md, "| idempotency/adapter-kill | skip | 0/0 |"));
    /* the failing step with expected and actual in fenced blocks */
    assert_non_null(strstr(md, "step *check &lt;&amp;\"'&gt; row* (op) fail"));
    assert_non_null(strstr(md, "actual:\n    ```\n    " SYNTH_NASTY_ACTUAL "\n    ```"));
    assert_non_null(strstr(md, "dbev-harness run scenarios/breaker.yaml --seed 42 --keep"));
    /* load figures */
    assert_non_null(strstr(md, "### Loads"));
    dbev_hist_format_us(dbev_hist_percentile(load_hist, 99), p99, sizeof(p99));
    char row[128];
    snprintf(row, sizeof(row), "| %s |", p99);
    assert_non_null(strstr(md, row));
    assert_non_null(strstr(md, "TIMEOUT"));
    assert_non_null(strstr(md, "**LOSS**: 29999 once, 1 unanswered"));
    assert_non_null(strstr(md, "OPEN &rarr; HALF\\_OPEN"));
    /* HTML specials are escaped outside code blocks, kept as-is inside */
    assert_non_null(strstr(md, "rows differ: \"id\" 1 &lt;&gt; 2 &amp; more"));
    assert_int_equal(count(md, "<&"), 1);
    free(md);
}

/* ---------------------------------------------------------------- HTML */

static void test_html(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = path_in("report.html");
    assert_int_equal(dbev_report_write_html(report, path, err, sizeof(err)), 0);
    char *html = slurp(path);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    /* self-contained: nothing fetched from anywhere */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, " src="));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    assert_int_equal(count(html, "http"), count(html, "http://www.w3.org/2000/svg"));
    /* the plots: load histogram, spectrum, latency and throughput over time,
     * the step's histogram and spectrum, breaker states */
    assert_int_equal(count(html, "<svg "), 7);
    assert_int_equal(count(html, "</svg>"), 7);
    assert_int_equal(count(html, "class=\"plot histogram\""), 2);
    assert_int_equal(count(html, "class=\"plot spectrum\""), 2);
    assert_int_equal(count(html, "class=\"plot latency-time\""), 1);
    assert_int_equal(count(html, "class=\"plot throughput-time\""), 1);
    assert_int_equal(count(html, "class=\"plot breaker\""), 1);
    assert_int_equal(count(html, "<rect class=\"state\""), 6); /* 5 transitions, 6 spans */
    assert_non_null(strstr(html, "99.999%"));                  /* spectrum's last tick */
    assert_non_null(strstr(html, "check &lt;&amp;&quot;&#39;&gt; row"));
    assert_null(strstr(html, SYNTH_NASTY_STEP));
    assert_non_null(strstr(html, "needs --adapter process"));
    free(html);
    if (have_xmllint()) { /* the page is also well-formed XML: escaping is complete */
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
        assert_int_equal(system(cmd), 0);
        assert_string_equal(xpath(path, "count(//*[local-name()=\"svg\"])"), "7");
    } else {
        print_message("note: xmllint not installed; well-formedness not checked\n");
    }
}

/* ------------------------------------------------- layout and failures */

static void test_write_all_and_errors(void **state)
{
    (void)state;
    char err[256] = "";
    const char *dir = path_in("nested/run/2026");
    assert_int_equal(dbev_report_write_all(report, dir, err, sizeof(err)), 0);
    const char *names[] = {"report.xml", "report.json", "summary.md", "report.html"};
    struct stat st;
    char p[600];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_true(st.st_size > 500);
        snprintf(p, sizeof(p), "%s/%s.tmp", dir, names[i]);
        assert_int_not_equal(stat(p, &st), 0); /* no temporary left behind */
    }

    err[0] = '\0';
    assert_int_equal(
        dbev_report_write_json(report, "/nonexistent-dir/x/report.json", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x/report.json"));
    /* a directory path that runs through a regular file */
    snprintf(p, sizeof(p), "%s/report.xml/sub", dir);
    err[0] = '\0';
    assert_int_equal(dbev_report_write_all(report, p, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    err[0] = '\0';
    assert_int_equal(dbev_report_write_all(report, "", err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
}

static void test_empty_report(void **state)
{
    (void)state;
    char err[256] = "";
    dbev_report_t *empty = dbev_report_new(NULL);
    assert_non_null(empty);
    const char *dir = path_in("empty");
    assert_int_equal(dbev_report_write_all(empty, dir, err, sizeof(err)), 0);
    char p[600];
    snprintf(p, sizeof(p), "%s/report.xml", dir);
    char *xml = slurp(p);
    assert_non_null(strstr(xml, "tests=\"0\" failures=\"0\""));
    free(xml);
    snprintf(p, sizeof(p), "%s/summary.md", dir);
    char *md = slurp(p);
    assert_non_null(strstr(md, "NO SCENARIO RAN"));
    free(md);
    snprintf(p, sizeof(p), "%s/report.json", dir);
    json_t *root = json_load_file(p, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_array_size(json_object_get(root, "scenarios")), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(root, "verdict"), "outcome")), "none");
    assert_true(json_is_null(json_object_get(json_object_get(root, "environment"), "seed")));
    json_decref(root);
    dbev_report_totals_t totals;
    dbev_report_totals(empty, &totals);
    assert_int_equal(totals.scenario_count, 0);
    dbev_report_destroy(empty);
    dbev_report_destroy(NULL);
}

static void test_not_utf8(void **state)
{
    (void)state;
    char err[256] = "";
    dbev_report_t *r = dbev_report_new("bytes");
    dbev_report_scenario_t *s = dbev_report_add_scenario(r, "raw\xff\xfe", NULL);
    dbev_report_step_t *st = dbev_report_scenario_add_step(s, "ok \xc3\xa9 \xe2\x82", "raw");
    dbev_report_step_set_status(st, DBEV_REPORT_ERROR, "ctl \x01\x1f end");
    dbev_report_set_seed(r, UINT64_MAX);
    const char *dir = path_in("bytes");
    assert_int_equal(dbev_report_write_all(r, dir, err, sizeof(err)), 0);
    char p[600];
    snprintf(p, sizeof(p), "%s/report.json", dir);
    json_t *root = json_load_file(p, 0, NULL);
    assert_non_null(root);
    json_t *js = json_array_get(json_object_get(root, "scenarios"), 0);
    assert_string_equal(json_string_value(json_object_get(js, "name")),
                        "raw\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(js, "steps"), 0), "name")),
        "ok \xc3\xa9 \xEF\xBF\xBD\xEF\xBF\xBD");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(root, "environment"), "seed")),
        "18446744073709551615");
    json_decref(root);
    if (have_xmllint()) { /* control characters must not reach the XML */
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "xmllint --noout '%s/report.xml' '%s/report.html'", dir, dir);
        assert_int_equal(system(cmd), 0);
    }
    dbev_report_totals_t totals;
    dbev_report_totals(r, &totals);
    assert_int_equal(totals.steps[DBEV_REPORT_ERROR], 1);
    dbev_report_destroy(r);
}

/* A run where the harness filled little: a scenario that errored before any
 * step, a load step with no figures at all, one breaker transition at t=0
 * in a run of no duration, a criterion whose figure is not a number. */
static void test_sparse_report(void **state)
{
    (void)state;
    char err[256] = "";
    dbev_report_t *r = dbev_report_new("sparse");
    dbev_report_scenario_t *s = dbev_report_add_scenario(r, "broken", "scenarios/broken.yaml");
    dbev_report_scenario_set_status(s, DBEV_REPORT_ERROR, "broken.yaml:3:7: unknown step kind");
    s = dbev_report_add_scenario(r, "bare load", NULL);
    dbev_report_step_t *st = dbev_report_scenario_add_step(s, "load", "load");
    dbev_report_load_t *load = dbev_report_step_load(st);
    assert_non_null(load);
    assert_ptr_equal(dbev_report_step_load(st), load);
    assert_null(dbev_report_load_hist(load));
    dbev_report_add_breaker(r, 0, NULL, "CLOSED", "OPEN");
    dbev_report_criterion_t c = {"ratio", "x", 0.0 / 0.0, 1, "<", NULL, DBEV_VERDICT_FAIL};
    dbev_report_add_criterion(r, &c);
    const char *dir = path_in("sparse");
    assert_int_equal(dbev_report_write_all(r, dir, err, sizeof(err)), 0);
    char p[600];
    snprintf(p, sizeof(p), "%s/report.xml", dir);
    char *xml = slurp(p);
    assert_non_null(strstr(xml, "tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"0\""));
    assert_non_null(strstr(xml, "<testcase name=\"(scenario)\" classname=\"broken\""));
    assert_non_null(strstr(xml, "<error message=\"broken.yaml:3:7: unknown step kind\""));
    free(xml);
    snprintf(p, sizeof(p), "%s/report.json", dir);
    json_t *root = json_load_file(p, 0, NULL);
    assert_non_null(root);
    json_t *jl = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(root, "scenarios"), 1), "steps"), 0),
        "load");
    assert_true(json_is_null(json_object_get(jl, "latency")));
    assert_true(json_is_null(json_object_get(jl, "checker")));
    assert_true(json_is_null(json_object_get(
        json_array_get(json_object_get(json_object_get(root, "verdict"), "criteria"), 0),
        "figure")));
    json_decref(root);
    snprintf(p, sizeof(p), "%s/report.html", dir);
    char *html = slurp(p);
    assert_non_null(strstr(html, "no latencies recorded"));
    assert_non_null(strstr(html, "no time series recorded"));
    assert_int_equal(count(html, "class=\"plot breaker\""), 1);
    free(html);
    if (have_xmllint()) {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "xmllint --noout '%s/report.xml' '%s/report.html'", dir, dir);
        assert_int_equal(system(cmd), 0);
    }
    dbev_report_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),          cmocka_unit_test(test_junit),
        cmocka_unit_test(test_junit_xmllint), cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_html),          cmocka_unit_test(test_write_all_and_errors),
        cmocka_unit_test(test_empty_report),  cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_sparse_report),
    };
    return cmocka_run_group_tests_name("report_writers", tests, group_setup, group_teardown);
}
