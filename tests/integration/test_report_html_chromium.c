/*
 * The HTML report as a browser sees it: the synthetic report written to a
 * temporary directory, loaded from file:// by Debian's headless Chromium,
 * once for a screenshot (it must exist, be 1200x2000 and not be a blank
 * page) and once with --dump-dom (every inline SVG plot must be in the
 * parsed DOM). Skipped, with the reason, when chromium is not installed.
 * Chromium runs under timeout(1) with its own throwaway profile directory,
 * removed with everything else at the end, also when an assertion fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "dbev/report.h"
#include "test_report_synth.h"

static char tmpdir[] = "/tmp/dbev-test-chromium-XXXXXX";
static int have_tmpdir;

static const char *chromium_flags =
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync "
    "--window-size=1200,2000";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmpdir))
        return -1;
    have_tmpdir = 1;
    char err[256];
    dbev_report_t *report = synth_report(NULL);
    int rc = dbev_report_write_all(report, tmpdir, err, sizeof(err));
    dbev_report_destroy(report);
    if (rc != 0) {
        fprintf(stderr, "write_all: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_tmpdir)
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int have_chromium(void)
{
    return system("command -v chromium >/dev/null 2>&1") == 0;
}

/* Runs chromium with the common flags plus extra, output to out_file;
 * returns its exit status. Each run gets a fresh profile directory. */
static int run_chromium(const char *extra, const char *out_file)
{
    static int run_no;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "timeout 120 chromium %s --user-data-dir=%s/profile-%d %s file://%s/report.html "
             ">%s 2>%s/chromium-%d.log",
             chromium_flags, tmpdir, run_no, extra, tmpdir, out_file, tmpdir, run_no);
    run_no++;
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void show_log(int run_no)
{
    char path[512], line[512];
    snprintf(path, sizeof(path), "%s/chromium-%d.log", tmpdir, run_no);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return;
    while (fgets(line, sizeof(line), fp))
        print_message("chromium: %s", line);
    fclose(fp);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_screenshot(void **state)
{
    (void)state;
    if (!have_chromium()) {
        print_message("SKIP: chromium not installed (apt-get install chromium)\n");
        skip();
    }
    char extra[600], shot[512], devnull[] = "/dev/null";
    snprintf(shot, sizeof(shot), "%s/report.png", tmpdir);
    snprintf(extra, sizeof(extra), "--screenshot=%s", shot);
    int rc = run_chromium(extra, devnull);
    if (rc != 0) {
        show_log(0);
        fail_msg("chromium --screenshot exited with %d", rc);
    }
    FILE *fp = fopen(shot, "rb");
    assert_non_null(fp);
    unsigned char head[24];
    assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(head + 12, "IHDR", 4);
    assert_int_equal(be32(head + 16), 1200);
    assert_int_equal(be32(head + 20), 2000);
    /* A blank 1200x2000 page compresses to a few KB; text, tables and plots
     * take far more. */
    print_message("screenshot: %ld bytes\n", size);
    assert_true(size > 60000);
}

static void test_dump_dom(void **state)
{
    (void)state;
    if (!have_chromium()) {
        print_message("SKIP: chromium not installed (apt-get install chromium)\n");
        skip();
    }
    char dom_path[512];
    snprintf(dom_path, sizeof(dom_path), "%s/dom.html", tmpdir);
    int rc = run_chromium("--dump-dom", dom_path);
    if (rc != 0) {
        show_log(1);
        fail_msg("chromium --dump-dom exited with %d", rc);
    }
    FILE *fp = fopen(dom_path, "rb");
    assert_non_null(fp);
    static char dom[1 << 21];
    size_t n = fread(dom, 1, sizeof(dom) - 1, fp);
    fclose(fp);
    dom[n] = '\0';
    int svgs = 0;
    for (const char *p = dom; (p = strstr(p, "<svg ")); p++)
        svgs++;
    assert_int_equal(svgs, 7);
    static const char *plots[] = {"plot histogram", "plot spectrum", "plot latency-time",
                                  "plot throughput-time", "plot breaker"};
    for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]); i++)
        if (!strstr(dom, plots[i]))
            fail_msg("the DOM has no <svg class=\"%s\">", plots[i]);
    assert_non_null(strstr(dom, "<polyline"));
    assert_non_null(strstr(dom, "<rect class=\"state\""));
    assert_non_null(strstr(dom, "dbev-harness run (synthetic)"));
    /* the escaped step name came out of the parser as the text it is */
    assert_non_null(strstr(dom, "check &lt;&amp;\"'&gt; row"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screenshot),
        cmocka_unit_test(test_dump_dom),
    };
    return cmocka_run_group_tests_name("report_html_chromium", tests, setup, teardown);
}
