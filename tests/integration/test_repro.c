/*
 * Integration tests of local reproduction, through the built binaries as a
 * user runs them: a recorded scenario's trace replays to the same answers
 * and a tampered one exits 1 naming the field; a failed scenario's bundle
 * holds what it must and `run --from-bundle` fails the same way again, with
 * every run option in its rerun command and the failed database in its psql
 * line; `dbev send --raw` against a sandbox's real adapter; and the README's
 * reproduction recipe, extracted from README.md and run word for word in
 * bash, answers its query and leaves no process behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cli_run.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HARNESS  DBEV_BUILD_DIR "/bin/dbev-harness"
#define CLI      DBEV_BUILD_DIR "/bin/dbev"
#define FIXTURES DBEV_SOURCE_DIR "/tests/fixtures/repro"
#define DEADLINE 240

static void remove_tree(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (buf)
        buf[got] = '\0';
    return buf;
}

static bool exists(const char *dir, const char *name)
{
    char path[1400];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* A run left with --keep: stop its server with the line it printed. */
static void stop_kept_server(const char *out)
{
    const char *at = strstr(out, "stop and remove it: ");
    if (!at)
        return;
    at += strlen("stop and remove it: ");
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%.*s -m immediate >/dev/null", (int)strcspn(at, "\n"), at);
    /* "pg_ctl -D DIR stop && rm -rf DIR": -m goes before the && */
    char *and = strstr(cmd, " && ");
    if (and) {
        char tail[1024];
        snprintf(tail, sizeof(tail), "%s", and);
        tail[strcspn(tail, ">")] = '\0';
        snprintf(and, sizeof(cmd) - (size_t)(and-cmd), " -m immediate >/dev/null%s", tail);
    }
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the kept server: %s\n", cmd);
}

/* ---- replay ------------------------------------------------------------- */

static void test_replay_round_trip_and_a_tampered_trace(void **state)
{
    (void)state;
    char out[] = "/tmp/dbev-test-repro-XXXXXX";
    assert_non_null(mkdtemp(out));
    cli_result_t *r = malloc(sizeof(*r));
    char *record[] = {HARNESS, "run", "--seed", "3", "--out", out, FIXTURES "/replay_me.yaml",
                      NULL};
    cli_run(r, record, DEADLINE);
    if (r->status != 0) {
        remove_tree(out);
        fail_msg("recording run exit %d:\n%s", r->status, r->out);
    }
    char trace[1200];
    snprintf(trace, sizeof(trace), "%s/trace-s1.jsonl", out);
    char *replay[] = {HARNESS, "replay", trace, "--against", "fresh", NULL};
    cli_run(r, replay, DEADLINE);
    if (r->status != 0) {
        remove_tree(out);
        fail_msg("replay exit %d:\n%s", r->status, r->out);
    }
    assert_non_null(strstr(r->out, "every answer as recorded"));

    /* Tampered: the recorded count says 4 where the database will say 3. */
    char *text = slurp(trace);
    assert_non_null(text);
    char *at = strstr(text, "\"rows\":[{\"n\":3}]");
    assert_non_null(at);
    at[strlen("\"rows\":[{\"n\":")] = '4';
    FILE *f = fopen(trace, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    char *fast[] = {HARNESS, "replay", trace, "--against", "fresh", "--as-fast-as-possible", NULL};
    cli_run(r, fast, DEADLINE);
    if (r->status != 1 || !strstr(r->out, "payload.rows[0].n: recorded 4, replayed 3")) {
        remove_tree(out);
        fail_msg("tampered replay: exit %d:\n%s", r->status, r->out);
    }
    assert_non_null(strstr(r->out, "SELECT count(*)::int AS n FROM agent_execution_logs"));
    remove_tree(out);
    free(r);
}

/* ---- bundles ------------------------------------------------------------ */

static void test_a_failure_bundle_reruns_it(void **state)
{
    (void)state;
    char out[] = "/tmp/dbev-test-repro-XXXXXX";
    assert_non_null(mkdtemp(out));
    cli_result_t *r = malloc(sizeof(*r));
    char *first[] = {HARNESS,
                     "run",
                     "--seed",
                     "11",
                     "--adapters",
                     "2",
                     "--partitions",
                     "6",
                     "--breaker-recovery-ms",
                     "1500",
                     "--out",
                     out,
                     FIXTURES "/fail_event.yaml",
                     NULL};
    cli_run(r, first, DEADLINE);
    if (r->status != 1) {
        remove_tree(out);
        fail_msg("exit %d, expected the scenario to fail:\n%s", r->status, r->out);
    }
    /* The rerun command carries every option that shaped the run. */
    const char *rerun = strstr(r->out, "\n  rerun: ");
    assert_non_null(rerun);
    rerun++;
    char line[2048];
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(rerun, "\n"), rerun);
    if (!strstr(line, " --adapters 2") || !strstr(line, " --partitions 6") ||
        !strstr(line, " --breaker-recovery-ms 1500") || !strstr(line, " --seed 11 --keep"))
        fail_msg("the rerun command lacks an option of the run: %s", line);

    char bundle[1200];
    snprintf(bundle, sizeof(bundle), "%s/bundle-s1", out);
    static const char *const files[] = {"bundle.json", "scenario.yaml", "trace.jsonl", "dump.sql",
                                        "README.txt"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (!exists(bundle, files[i])) {
            remove_tree(out);
            fail_msg("the bundle lacks %s", files[i]);
        }
    char path[1300];
    snprintf(path, sizeof(path), "%s/dump.sql", bundle);
    char *dump = slurp(path);
    assert_non_null(strstr(dump, "COPY public.agent_execution_logs"));
    free(dump);
    snprintf(path, sizeof(path), "%s/bundle.json", bundle);
    char *meta = slurp(path);
    assert_non_null(strstr(meta, "\"seed\": 11"));
    assert_non_null(strstr(meta, "\"partitions\": 6"));
    free(meta);

    /* One command reruns it, from the bundle alone, and fails the same way. */
    char out2[1300];
    snprintf(out2, sizeof(out2), "%s/rerun", out);
    char *again[] = {HARNESS, "run", "--from-bundle", bundle, "--out", out2, NULL};
    cli_run(r, again, DEADLINE);
    stop_kept_server(r->out); /* --from-bundle keeps the failure for inspection */
    if (r->status != 1 || !strstr(r->out, "rows were [{\"n\":3}]")) {
        remove_tree(out);
        fail_msg("rerun from the bundle: exit %d:\n%s", r->status, r->out);
    }
    /* --keep's psql line opens the failed scenario's own database. */
    assert_non_null(strstr(r->out, "kept for inspection"));
    const char *psql = strstr(r->out, "psql \"");
    assert_non_null(psql);
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(psql, "\n"), psql);
    assert_non_null(strstr(line, "dbname='dbev_run"));
    remove_tree(out);
    free(r);
}

/* ---- the sandbox: send --raw and the README's recipe -------------------- */

typedef struct sandbox_fixture {
    char dir[64]; /* everything of the test: state dir, TMPDIR, files */
    char marker[96];
} sandbox_fixture_t;

static int sandbox_setup(void **state)
{
    sandbox_fixture_t *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/dbev-test-sandbox-XXXXXX");
    if (!mkdtemp(f->dir) || chmod(f->dir, 0755) != 0) /* the postgres account enters it */
        return -1;
    char path[160];
    snprintf(path, sizeof(path), "%s/state", f->dir);
    setenv("DBEV_SANDBOX_DIR", path, 1);
    snprintf(path, sizeof(path), "%s/tmp", f->dir);
    mkdir(path, 0755);
    setenv("TMPDIR", path, 1);
    /* Every process the sandbox starts inherits it: how "none left" is seen. */
    snprintf(f->marker, sizeof(f->marker), "DBEV_TEST_MARKER=%s", f->dir);
    setenv("DBEV_TEST_MARKER", f->dir, 1);
    *state = f;
    return 0;
}

/* Processes (other than zombies) whose environment holds the marker. */
static int processes_with_marker(const char *marker)
{
    DIR *proc = opendir("/proc");
    struct dirent *de;
    int count = 0;
    while (proc && (de = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid == getpid())
            continue;
        char path[64], env[65536];
        snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue;
        size_t n = fread(env, 1, sizeof(env) - 1, fp);
        fclose(fp);
        for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
            env[n] = '\0';
            if (strcmp(env + i, marker) == 0) {
                count++;
                break;
            }
        }
    }
    if (proc)
        closedir(proc);
    return count;
}

static int sandbox_teardown(void **state)
{
    sandbox_fixture_t *f = *state;
    cli_result_t *r = malloc(sizeof(*r));
    char *down[] = {HARNESS, "env", "down", "--quiet", NULL};
    cli_run(r, down, 90); /* on failure paths: nothing may stay up */
    free(r);
    remove_tree(f->dir);
    unsetenv("DBEV_SANDBOX_DIR");
    unsetenv("TMPDIR");
    unsetenv("DBEV_TEST_MARKER");
    free(f);
    return 0;
}

static void test_send_raw_against_a_real_adapter(void **state)
{
    sandbox_fixture_t *f = *state;
    cli_result_t *r = malloc(sizeof(*r));
    char *up[] = {HARNESS, "env", "up", "--stack", "--detach", "--quiet", NULL};
    cli_run(r, up, DEADLINE);
    if (r->status != 0)
        fail_msg("env up --stack --detach: exit %d:\n%s", r->status, r->out);
    const char *b = strstr(r->out, "export KAFKA_BOOTSTRAP_SERVERS='");
    assert_non_null(b);
    b += strlen("export KAFKA_BOOTSTRAP_SERVERS='");
    char bootstrap[512];
    snprintf(bootstrap, sizeof(bootstrap), "%.*s", (int)strcspn(b, "'"), b);

    char ok_path[160], mixed_path[160];
    snprintf(ok_path, sizeof(ok_path), "%s/ok.jsonl", f->dir);
    snprintf(mixed_path, sizeof(mixed_path), "%s/mixed.jsonl", f->dir);
    const char *select =
        "{\"event_id\":\"7f1b2c3d-0000-4000-8000-000000000001\",\"event_type\":"
        "\"DATABASE_QUERY_REQUESTED\",\"correlation_id\":\"7f1b2c3d-0000-4000-8000-"
        "0000000000c1\",\"timestamp\":\"2030-01-01T00:00:00Z\",\"service\":\"test\","
        "\"payload\":{\"operation_type\":\"SELECT\",\"sql\":\"SELECT count(*)::int AS n FROM "
        "agent_execution_logs\"}}\n";
    FILE *fp = fopen(ok_path, "w");
    fputs(select, fp);
    fclose(fp);
    fp = fopen(mixed_path, "w");
    fputs(select, fp);
    fputs("this is not an event\n", fp);
    fclose(fp);

    char *ok[] = {CLI, "send", "--raw", ok_path, "-b", bootstrap, "--timeout", "20000", NULL};
    cli_run(r, ok, 60);
    if (r->status != 0 || !strstr(r->out, "\"rows\":[{\"n\":10}]") ||
        !strstr(r->out, "\"correlation_id\":\"7f1b2c3d-0000-4000-8000-0000000000c1\""))
        fail_msg("send --raw (one SELECT): exit %d:\n%s", r->status, r->out);
    char *mixed[] = {CLI, "send", "--raw", mixed_path, "-b", bootstrap, NULL};
    cli_run(r, mixed, 60);
    if (r->status != 1 || !strstr(r->out, "DATABASE_QUERY_FAILED") ||
        !strstr(r->out, "not valid JSON"))
        fail_msg("send --raw (with a line that is no event): exit %d:\n%s", r->status, r->out);

    char *down[] = {HARNESS, "env", "down", NULL};
    cli_run(r, down, 90);
    assert_int_equal(r->status, 0);
    assert_int_equal(processes_with_marker(f->marker), 0);
    char *status[] = {HARNESS, "env", "status", NULL};
    cli_run(r, status, 30);
    assert_int_equal(r->status, 1);
    free(r);
}

/* The first ```sh block after the line "### Reproducing by hand". */
static char *readme_recipe(void)
{
    char *readme = slurp(DBEV_SOURCE_DIR "/README.md");
    assert_non_null(readme);
    const char *section = strstr(readme, "\n### Reproducing by hand");
    assert_non_null(section);
    const char *start = strstr(section, "\n```sh\n");
    assert_non_null(start);
    start += strlen("\n```sh\n");
    const char *end = strstr(start, "\n```");
    assert_non_null(end);
    char *block = strndup(start, (size_t)(end - start) + 1);
    free(readme);
    return block;
}

static void test_the_readme_recipe_word_for_word(void **state)
{
    sandbox_fixture_t *f = *state;
    char *recipe = readme_recipe();
    assert_non_null(strstr(recipe, "env up --stack --detach"));
    /* The recipe's paths are the checkout's (build/bin/...): a folder whose
     * build is this build. */
    char work[160], link[200];
    snprintf(work, sizeof(work), "%s/checkout", f->dir);
    mkdir(work, 0755);
    snprintf(link, sizeof(link), "%s/build", work);
    assert_int_equal(symlink(DBEV_BUILD_DIR, link), 0);
    size_t size = strlen(recipe) + 512;
    char *script = malloc(size);
    snprintf(script, size, "cd '%s' || exit 99\n%s", work, recipe);
    char *argv[] = {"/bin/bash", "-c", script, NULL};
    cli_result_t *r = malloc(sizeof(*r));
    cli_run(r, argv, DEADLINE);
    if (r->status != 0)
        fail_msg("the README's recipe exited %d:\n%s", r->status, r->out);
    /* the CLI query answered with the seeded rows, psql and kcat reached the stack */
    assert_non_null(strstr(r->out, "\"status\": \"success\""));
    assert_non_null(strstr(r->out, "(1 row)")); /* psql's count */
    assert_non_null(strstr(r->out, "DATABASE_QUERY_COMPLETED"));
    assert_non_null(strstr(r->out, "torn down"));
    /* env down left nothing running: no process carries the test's marker */
    assert_int_equal(processes_with_marker(f->marker), 0);
    free(r);
    free(script);
    free(recipe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_round_trip_and_a_tampered_trace),
        cmocka_unit_test(test_a_failure_bundle_reruns_it),
        cmocka_unit_test_setup_teardown(test_send_raw_against_a_real_adapter, sandbox_setup,
                                        sandbox_teardown),
        cmocka_unit_test_setup_teardown(test_the_readme_recipe_word_for_word, sandbox_setup,
                                        sandbox_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
