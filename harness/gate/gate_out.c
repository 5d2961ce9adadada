/*
 * What a gate leaves behind besides the report (gate.h): the baseline file
 * (one entry of metrics per phase, committed under reports/baselines/), the
 * benchmark JSON that CI trend tools read (github-action-benchmark's custom
 * smaller/bigger-is-better arrays and Bencher's Metric Format), and one JSON
 * line per run appended to a history file.
 */
#include "gate/gate.h"

#include "dbev_common.h"
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static int make_parent(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return harness_make_dirs(dir);
}

/* Writes path.tmp and renames it, so a reader never sees half a file. */
static int dump_atomic(const json_t *value, const char *path, size_t flags, char *errstr,
                       size_t size)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (make_parent(path) != 0)
        return dbev_seterr(errstr, size, "%s: cannot create its folder: %s", path, strerror(errno));
    if (json_dump_file(value, tmp, flags) != 0 || rename(tmp, path) != 0) {
        int saved = errno;
        unlink(tmp);
        return dbev_seterr(errstr, size, "cannot write %s: %s", path, strerror(saved));
    }
    return 0;
}

json_t *gate_machine_facts(void)
{
    char model[256] = "unknown", host[256] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            /* "model name\t: Intel(R) ..." (x86); other architectures name it otherwise. */
            if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
                const char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof(model), "%s", colon + 1 + strspn(colon + 1, " \t"));
                    model[strcspn(model, "\n")] = '\0';
                    break;
                }
            }
        }
        fclose(f);
    }
    struct utsname u;
    const char *kernel = uname(&u) == 0 ? u.release : "unknown";
    gethostname(host, sizeof(host) - 1);
    return json_pack("{s:I, s:s, s:s, s:s}", "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                     "cpu_model", model, "kernel", kernel, "host", host);
}

bool gate_machine_differs(const json_t *baseline, const json_t *run, char *why, size_t size)
{
    json_int_t bc = json_integer_value(json_object_get(baseline, "cpus"));
    json_int_t rc = json_integer_value(json_object_get(run, "cpus"));
    const char *bm = json_string_value(json_object_get(baseline, "cpu_model"));
    const char *rm = json_string_value(json_object_get(run, "cpu_model"));
    bool differs = bc != rc || !bm || !rm || strcmp(bm, rm) != 0;
    if (differs)
        snprintf(why, size, "baseline: %lld cores of %.80s; this run: %lld of %.80s", (long long)bc,
                 bm ? bm : "an unrecorded CPU", (long long)rc, rm ? rm : "?");
    return differs;
}

json_t *gate_baseline_load(const char *path, const char *key, char *errstr, size_t size)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        dbev_seterr(errstr, size, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    json_t *entry = json_object_get(json_object_get(root, "phases"), key);
    if (!json_is_object(entry)) {
        dbev_seterr(errstr, size,
                    "%s has no entry for phase %s: record one with `dbev-harness gate --phase %s "
                    "--update-baseline %s` (reports/baselines/README.md)",
                    path, key, key, path);
        json_decref(root);
        return NULL;
    }
    if (!json_is_object(json_object_get(entry, "samples"))) {
        /* Schema 1 kept one run's metrics: no spread, so no test can judge
         * against it. No migration: one run cannot become several. */
        dbev_seterr(errstr, size,
                    "%s: phase %s's entry is in the old one-run format (schema 1: \"metrics\", no "
                    "\"samples\"); a statistical comparison needs several runs: re-record it with "
                    "ci/gate --refresh-baseline (reports/baselines/README.md)",
                    path, key);
        json_decref(root);
        return NULL;
    }
    json_incref(entry);
    json_decref(root);
    return entry;
}

/* The settings that shape the figures: the first n of mode, gates file,
 * with_long and scenarios (a partial run compares the mode only: its
 * scenarios and gates file differ by design). The seed is recorded, not
 * compared: a run draws a new one unless told, and it only picks test
 * values. */
static bool same_settings(const json_t *a, const json_t *b, size_t n)
{
    static const char *const keys[] = {"mode", "gates", "with_long", "scenarios"};
    if (!a || !b)
        return false;
    for (size_t i = 0; i < n && i < sizeof(keys) / sizeof(keys[0]); i++) {
        const json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
        if ((x || y) && !json_equal(x, y)) /* json_equal(NULL, NULL) is false */
            return false;
    }
    return true;
}

/* Why a run cannot join an entry ("" when it can). */
static void join_check(const json_t *entry, const json_t *facts, bool partial, char *why,
                       size_t size)
{
    why[0] = '\0';
    const json_t *machine = json_object_get(facts, "machine");
    const json_t *old_machine = json_object_get(entry, "machine");
    if (!json_is_object(json_object_get(entry, "samples")))
        snprintf(why, size, "the entry was in the old one-run format");
    else if (!json_equal(json_object_get(entry, "git_commit"),
                         json_object_get(facts, "git_commit")))
        snprintf(why, size, "the entry was recorded at commit %.12s, this run is %.12s",
                 json_string_value(json_object_get(entry, "git_commit")),
                 json_string_value(json_object_get(facts, "git_commit")));
    else if (gate_machine_differs(old_machine, machine, why, size) ||
             !json_equal(json_object_get(old_machine, "kernel"),
                         json_object_get(machine, "kernel")))
        snprintf(why + strlen(why), size - strlen(why), "%sthe machine differs",
                 why[0] ? ": " : "");
    else if (!same_settings(json_object_get(entry, "settings"), json_object_get(facts, "settings"),
                            partial ? 1 : 4))
        snprintf(why, size, "%s",
                 partial ? "the mode differs"
                         : "the settings differ (mode, gates file, with_long "
                           "or scenarios)");
}

int gate_baseline_store(const char *path, const char *key, const json_t *metrics,
                        const json_t *facts, bool restart, const char *only_prefix, int max_runs,
                        int *runs, char *why, size_t why_size, char *errstr, size_t size)
{
    json_t *root = NULL;
    struct stat st;
    if (stat(path, &st) == 0) {
        json_error_t jerr;
        root = json_load_file(path, 0, &jerr);
        if (!root || !json_is_object(root)) {
            dbev_seterr(errstr, size, "%s:%d:%d: %s; not overwriting it: fix or remove the file",
                        path, jerr.line, jerr.column, root ? "not a JSON object" : jerr.text);
            json_decref(root);
            return -1;
        }
    } else {
        root = json_object();
    }
    json_object_set_new(root, "schema_version", json_integer(GATE_BASELINE_SCHEMA));
    json_object_set_new(root, "about",
                        json_string("dbev-harness gate baseline: per phase, several passing runs "
                                    "at one commit on one machine (samples: one value per run "
                                    "and metric); refresh with ci/gate --refresh-baseline "
                                    "(reports/baselines/README.md)"));
    json_t *phases = json_object_get(root, "phases");
    if (!json_is_object(phases)) {
        phases = json_object();
        json_object_set_new(root, "phases", phases);
    }
    json_t *entry = json_object_get(phases, key);
    why[0] = '\0';
    if (!entry)
        snprintf(why, why_size, "no entry yet");
    else if (restart)
        snprintf(why, why_size, "started over (asked to)");
    else
        join_check(entry, facts, only_prefix != NULL, why, why_size);
    if (why[0] && only_prefix) {
        /* Samples of a few metrics cannot stand for a run of the phase. */
        dbev_seterr(errstr, size,
                    "%s: a partial run (only %s*) adds to phase %s's entry of full runs, but %s; "
                    "record full runs first (ci/gate --refresh-baseline)",
                    path, only_prefix, key, why);
        json_decref(root);
        return -1;
    }
    if (why[0]) {
        entry = json_object();
        static const char *const keep[] = {"git_commit", "machine", "settings"};
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
            json_object_set(entry, keep[i], json_object_get(facts, keep[i]));
        json_object_set_new(entry, "runs", json_array());
        json_object_set_new(entry, "samples", json_object());
        json_object_set_new(phases, key, entry);
    }
    const char *list_key = only_prefix ? "partial_runs" : "runs";
    json_t *list = json_object_get(entry, list_key);
    if (!list) {
        list = json_array();
        json_object_set_new(entry, list_key, list);
    }
    json_array_append_new(list, json_pack("{s:O?, s:O?, s:O?, s:s?}", "time",
                                          json_object_get(facts, "time"), "verdict",
                                          json_object_get(facts, "verdict"), "summary",
                                          json_object_get(facts, "summary"), "only", only_prefix));
    /* One value per run and metric; a metric a run lacked has fewer. */
    json_t *samples = json_object_get(entry, "samples");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)metrics, name, value)
    {
        if (!json_is_number(value) ||
            (only_prefix && strncmp(name, only_prefix, strlen(only_prefix)) != 0))
            continue;
        json_t *arr = json_object_get(samples, name);
        if (!arr) {
            arr = json_array();
            json_object_set_new(samples, name, arr);
        }
        json_array_append_new(arr, json_real(json_number_value(value)));
    }
    /* Keep the newest max_runs. */
    if (max_runs > 0) {
        while (json_array_size(list) > (size_t)max_runs)
            json_array_remove(list, 0);
        json_object_foreach(samples, name, value)
        {
            while (json_array_size(value) > (size_t)max_runs)
                json_array_remove(value, 0);
        }
    }
    *runs = (int)json_array_size(json_object_get(entry, "runs"));
    int rc = dump_atomic(root, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10),
                         errstr, size);
    json_decref(root);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static json_t *bench_entry(const char *name, const char *unit, double value, const char *extra)
{
    json_t *e = json_pack("{s:s, s:s, s:f}", "name", name, "unit", unit, "value", value);
    if (e && extra)
        json_object_set_new(e, "extra", json_string(extra));
    return e;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The metric names in sorted order (stable output); free the array only. */
static const char **sorted_keys(const json_t *metrics, size_t *n)
{
    const char **keys = calloc(json_object_size(metrics) + 1, sizeof(char *));
    *n = 0;
    if (!keys)
        return NULL;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)metrics, key, value)
    {
        if (json_is_number(value))
            keys[(*n)++] = key;
    }
    qsort(keys, *n, sizeof(char *), compare_keys);
    return keys;
}

json_t *gate_bench_smaller(const json_t *metrics)
{
    json_t *out = json_array();
    size_t n;
    const char **keys = sorted_keys(metrics, &n);
    for (size_t i = 0; keys && i < n; i++) {
        double v = json_number_value(json_object_get(metrics, keys[i]));
        if (ends_with(keys[i], "_ms") || strstr(keys[i], "_ms_"))
            json_array_append_new(out, bench_entry(keys[i], "ms", v, NULL));
        else if (strncmp(keys[i], "ratio.", 6) == 0)
            json_array_append_new(
                out, bench_entry(keys[i], "x", v, "event-path p95 / direct-path p95, same run"));
        else if (strcmp(keys[i], "client.rss_mb") == 0)
            json_array_append_new(out, bench_entry(keys[i], "MB", v, "peak RSS of the harness"));
    }
    free(keys);
    return out;
}

json_t *gate_bench_bigger(const json_t *metrics)
{
    json_t *out = json_array();
    size_t n;
    const char **keys = sorted_keys(metrics, &n);
    for (size_t i = 0; keys && i < n; i++)
        if (strstr(keys[i], "throughput"))
            json_array_append_new(
                out, bench_entry(keys[i], "events/s",
                                 json_number_value(json_object_get(metrics, keys[i])), NULL));
    free(keys);
    return out;
}

json_t *gate_bench_bencher(const json_t *metrics)
{
    json_t *out = json_object();
    size_t n;
    const char **keys = sorted_keys(metrics, &n);
    char name[300];
    for (size_t i = 0; keys && i < n; i++) {
        const char *key = keys[i];
        double v = json_number_value(json_object_get(metrics, key));
        if (ends_with(key, ".p95_ms")) {
            /* Bencher's built-in latency measure is in nanoseconds; p50 and
             * p99 become the bounds of the p95. */
            size_t stem = strlen(key) - strlen(".p95_ms");
            json_t *m = json_pack("{s:f}", "value", v * 1e6);
            snprintf(name, sizeof(name), "%.*s.p50_ms", (int)stem, key);
            const json_t *lo = json_object_get(metrics, name);
            snprintf(name, sizeof(name), "%.*s.p99_ms", (int)stem, key);
            const json_t *hi = json_object_get(metrics, name);
            if (json_is_number(lo) && json_is_number(hi)) {
                json_object_set_new(m, "lower_value", json_real(json_number_value(lo) * 1e6));
                json_object_set_new(m, "upper_value", json_real(json_number_value(hi) * 1e6));
            }
            snprintf(name, sizeof(name), "%.*s", (int)stem, key);
            json_object_set_new(out, name, json_pack("{s:o}", "latency", m));
        } else if (strstr(key, "throughput")) {
            json_object_set_new(out, key, json_pack("{s:{s:f}}", "throughput", "value", v));
        } else if (strncmp(key, "ratio.", 6) == 0) {
            json_object_set_new(out, key, json_pack("{s:{s:f}}", "ratio", "value", v));
        } else if (strcmp(key, "client.rss_mb") == 0) {
            json_object_set_new(out, "client.rss", json_pack("{s:{s:f}}", "megabytes", "value", v));
        }
    }
    free(keys);
    return out;
}

int gate_bench_write(const json_t *metrics, const char *dir, char *errstr, size_t size)
{
    struct {
        const char *file;
        json_t *(*make)(const json_t *);
    } outputs[] = {{"benchmark-smaller.json", gate_bench_smaller},
                   {"benchmark-bigger.json", gate_bench_bigger},
                   {"bencher.json", gate_bench_bencher}};
    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
        char path[1100];
        snprintf(path, sizeof(path), "%s/%s", dir, outputs[i].file);
        json_t *value = outputs[i].make(metrics);
        int rc =
            value ? dump_atomic(value, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10), errstr, size)
                  : dbev_seterr(errstr, size, "out of memory");
        json_decref(value);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int gate_history_append(const char *path, const json_t *line, char *errstr, size_t size)
{
    if (make_parent(path) != 0)
        return dbev_seterr(errstr, size, "%s: cannot create its folder: %s", path, strerror(errno));
    char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    if (!text)
        return dbev_seterr(errstr, size, "out of memory");
    FILE *f = fopen(path, "a");
    if (!f) {
        int saved = errno;
        free(text);
        return dbev_seterr(errstr, size, "cannot open %s: %s", path, strerror(saved));
    }
    /* One write of the whole line: concurrent appenders do not interleave. */
    size_t len = strlen(text);
    text[len] = '\n';
    bool ok = fwrite(text, 1, len + 1, f) == len + 1;
    ok = fclose(f) == 0 && ok;
    free(text);
    return ok ? 0 : dbev_seterr(errstr, size, "cannot append to %s", path);
}
