/*
 * dbev-harness gate --phase 1|2|3|all: the migration gate of issue 7. Runs
 * the phase's scenarios and those of every earlier phase (all: every
 * phase-tagged scenario), in parity mode unless told otherwise, then judges
 * the criteria, rollback triggers and baseline regressions of the gates file
 * (ci/gates.yaml; docs/gates.md) against the run's metrics, prints the
 * verdict table, puts the verdict into every report format, writes the
 * benchmark JSON, appends to the history file and, when asked, stores the
 * run as the phase's baseline.
 *
 * Exit codes: 0 pass, 1 fail (a criterion, a regression or a scenario),
 * 2 rollback (a trigger of seed 000 fired), 3 harness error (a bad gates or
 * scenario file, a criterion on a metric no scenario produced, a scenario
 * that could not run, an environment that did not come up, bad options).
 */
#include "cli/commands.h"
#include "gate/gate.h"
#include "env/mockenv.h"
#include "run/run.h"
#include "cli/run_cli.h"
#include "scenario/scenario_files.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GATE_EXIT_ERROR 3

typedef struct gate_args {
    run_opts_t run;
    run_env_opts_t env;
    int phase; /* 1..3, 0 for all */
    bool with_long;
    bool list;
    const char *gates;
    const char *baseline;
    const char *update_baseline;
    bool baseline_restart;     /* --baseline-restart: the run starts its phase's entry over */
    bool any_machine;          /* --baseline-any-machine: judge against another machine's */
    int baseline_runs;         /* --baseline-runs: runs an entry keeps (newest) */
    const char *baseline_only; /* --baseline-only: a partial run adds these metrics only */
    const char *history;
    char out_dir[1024];
} gate_args_t;

/* What the judge callback needs. */
typedef struct gate_ctx {
    const gate_args_t *args;
    const gate_spec_t *spec;
    json_t *baseline; /* this phase's baseline metrics, or NULL */
    char baseline_note[1200];
    char title[128];
    size_t n_scenarios;
    scenario_t *const *scenarios;
    json_t *machine; /* this machine (gate_machine_facts) */
} gate_ctx_t;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: dbev-harness gate --phase 1|2|3|all [options] [PATH...]\n"
        "\n"
        "Runs the migration phase's scenarios and those of the earlier phases (all: every\n"
        "scenario with a phase), then judges the criteria, rollback triggers and baseline\n"
        "regressions of the gates file (docs/gates.md). PATH is a scenario file or folder\n"
        "(default: scenarios/).\n"
        "\n"
        "gate:\n"
        "  --phase P            1, 2, 3 or all (required)\n"
        "  --gates FILE         criteria (default: ci/gates.yaml of the source tree)\n"
        "  --baseline FILE      compare with this baseline (reports/baselines/baseline.json)\n"
        "  --update-baseline FILE  add this run to the phase's baseline in FILE (a passing\n"
        "                       run only; a new commit, machine or settings start the\n"
        "                       entry over)\n"
        "  --baseline-restart   with --update-baseline: start the entry over with this run\n"
        "  --baseline-runs N    runs a baseline entry keeps, the newest (default 10)\n"
        "  --baseline-only PREFIX  with --update-baseline: add only the metrics named\n"
        "                       PREFIX* to the entry's full runs at this commit, e.g. a\n"
        "                       probe-only run (probe.) to deepen the probe's samples\n"
        "  --baseline-any-machine  judge against a baseline from another CPU model or core\n"
        "                       count (default: those rows are SKIP, with the reason)\n"
        "  --history FILE       append one JSON line per run (default:\n"
        "                       <build>/reports/history.jsonl); --history none: do not\n"
        "  --without-long       leave out the scenarios tagged long (the sustained loads)\n"
        "                       and the criteria that need them: a quicker local look,\n"
        "                       never a verdict CI should trust (default: run them)\n"
        "  --list               print the selected scenarios and the rules, and exit\n"
        "  --out DIR            reports folder (default <build>/reports/gate-P-<time>)\n"
        "\n"
        "run (as `dbev-harness run`):\n"
        "  --mode M             both (default: parity of event and direct path), event, direct\n"
        "  -j N                 scenarios at once (default 4; the latency probe, the loads\n"
        "                       and shared faults run alone after the others)\n"
        "  --seed N, --adapter A, --adapters N, --breaker-recovery-ms N, --keep,\n"
        "  --fail-fast, --timings\n"
        "\n"
        "environment:\n"
        "  --pg-bin DIR, --pg-dsn DSN, --kafka-bootstrap HOST:PORT, --brokers N (default %d),\n"
        "  --partitions N (default %d; %d for a scenario with a load step)\n"
        "  -h, --help           this text\n"
        "\n"
        "exit status: 0 pass, 1 fail, 2 rollback, 3 harness error (a criterion on a metric\n"
        "no scenario produced, a scenario that could not run, a bad file or option)\n",
        MOCKENV_DEFAULT_BROKERS, RUN_DEFAULT_PARTITIONS, RUN_LOAD_PARTITIONS);
}

/* 0 parsed, 1 help printed, 2 usage error (printed). */
static int parse_args(int argc, char **argv, gate_args_t *a)
{
    static const struct option longopts[] = {
        {"phase", required_argument, NULL, 'P'},
        {"gates", required_argument, NULL, 'g'},
        {"baseline", required_argument, NULL, 'B'},
        {"update-baseline", required_argument, NULL, 'U'},
        {"baseline-restart", no_argument, NULL, 'R'},
        {"baseline-runs", required_argument, NULL, 'N'},
        {"baseline-only", required_argument, NULL, 'O'},
        {"baseline-any-machine", no_argument, NULL, 'A'},
        {"history", required_argument, NULL, 'H'},
        {"with-long", no_argument, NULL, 'W'}, /* the default; kept for old scripts */
        {"without-long", no_argument, NULL, 'w'},
        {"list", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        RUN_CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    run_cli_defaults(&a->run, &a->env);
    a->run.mode = RUN_MODE_BOTH;
    /* Four at a time: the functional scenarios mostly wait (those of a
     * gate took 16.8 s at -j 3, 14.9-15.2 s at -j 4, 14.5 s at -j 5, the CPU
     * 10-25 % idle at -j 3); the probe, the loads and the shared faults run
     * alone after them (run_runs_alone). */
    a->env.jobs = 4;
    a->phase = -1;
    a->baseline_runs = 10;
    a->with_long = true; /* a gate judges sustained load (seed 000) unless told not to */
    a->gates = DBEV_SOURCE_DIR "/ci/gates.yaml";
    a->history = DBEV_BUILD_DIR "/reports/history.jsonl";
    optind = 1;
    opterr = 0;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, ":h" RUN_CLI_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 'P':
            if (!strcmp(optarg, "all"))
                a->phase = 0;
            else if (run_cli_number("gate", "--phase", optarg, 1, 3, &v))
                return 2;
            else
                a->phase = (int)v;
            break;
        case 'g':
            a->gates = optarg;
            break;
        case 'B':
            a->baseline = optarg;
            break;
        case 'U':
            a->update_baseline = optarg;
            break;
        case 'R':
            a->baseline_restart = true;
            break;
        case 'A':
            a->any_machine = true;
            break;
        case 'O':
            if (!optarg[0]) {
                fprintf(stderr, "dbev-harness gate: --baseline-only: give a metric name prefix, "
                                "e.g. probe.\n");
                return 2;
            }
            a->baseline_only = optarg;
            break;
        case 'N':
            if (run_cli_number("gate", "--baseline-runs", optarg, 2, 1000, &v))
                return 2;
            a->baseline_runs = (int)v;
            break;
        case 'H':
            a->history = strcmp(optarg, "none") ? optarg : NULL;
            break;
        case 'W':
            a->with_long = true;
            break;
        case 'w':
            a->with_long = false;
            break;
        case 'L':
            a->list = true;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            if (run_cli_other("gate", c, argv, &a->run, &a->env, a->out_dir, sizeof(a->out_dir)))
                return 2;
        }
    }
    if (a->phase < 0)
        return run_cli_usage_error("gate", "--phase is required: 1, 2, 3 or all");
    if (a->baseline_only && (!a->update_baseline || a->baseline_restart))
        return run_cli_usage_error("gate", "--baseline-only adds a partial run to an entry: it "
                                           "needs --update-baseline FILE and not "
                                           "--baseline-restart");
    return run_cli_check("gate", &a->run, &a->env);
}

/* Whether a rule of the gates file names metric (a trailing '*' matches a
 * prefix): the run measures what costs time (client.rss_mb) only then. */
static bool spec_names(const gate_spec_t *spec, const char *metric)
{
    for (size_t i = 0; i < spec->n_rules; i++) {
        const char *m = spec->rules[i].metric;
        size_t n = m ? strlen(m) : 0;
        if (n && (m[n - 1] == '*' ? strncmp(metric, m, n - 1) == 0 : strcmp(metric, m) == 0))
            return true;
    }
    return false;
}

/* A phase's gate runs its own scenarios and those of every earlier phase. */
static bool selected(const scenario_t *sc, const void *opaque)
{
    const gate_args_t *a = opaque;
    if (sc->phase < 1 || (a->phase && sc->phase > a->phase))
        return false;
    return a->with_long || !scenario_has_tag(sc, "long");
}

static const char *phase_key(int phase)
{
    static const char *const keys[] = {"all", "1", "2", "3"};
    return keys[phase >= 0 && phase <= 3 ? phase : 0];
}

static void git_commit(char *buf, size_t size)
{
    buf[0] = '\0';
    const char *env[] = {"GITHUB_SHA", "CI_COMMIT_SHA"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(env[i]);
        if (v && *v) {
            snprintf(buf, size, "%s", v);
            return;
        }
    }
    FILE *git = popen("git -C '" DBEV_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", "r");
    if (git) {
        if (fgets(buf, (int)size, git))
            buf[strcspn(buf, "\n")] = '\0';
        pclose(git);
    }
}

/* Facts stored with a baseline entry and a history line: the run, the
 * machine it ran on and the settings that shape its figures. */
static json_t *run_facts(const gate_ctx_t *g, const gate_result_t *result)
{
    static const char *const modes[] = {"event", "direct", "both"};
    char commit[128], stamp[64];
    git_commit(commit, sizeof(commit));
    dbev_iso8601(dbev_wall_us(), stamp, sizeof(stamp));
    json_t *names = json_array();
    for (size_t i = 0; i < g->n_scenarios; i++) {
        const char *base = strrchr(g->scenarios[i]->path, '/');
        json_array_append_new(names, json_string(base ? base + 1 : g->scenarios[i]->path));
    }
    const char *gates = strrchr(g->spec->path, '/');
    json_t *settings =
        json_pack("{s:s, s:I, s:s, s:b, s:o}", "mode", modes[g->args->run.mode], "seed",
                  (json_int_t)g->args->run.seed, "gates", gates ? gates + 1 : g->spec->path,
                  "with_long", g->args->with_long, "scenarios", names);
    const json_t *m = g->machine;
    return json_pack("{s:s, s:s, s:s, s:O, s:s, s:I, s:s, s:s, s:b, s:I, s:s, s:O, s:O, s:o}",
                     "time", stamp, "git_commit", commit, "phase", phase_key(g->args->phase),
                     "host", json_object_get(m, "host"), "mode", modes[g->args->run.mode], "seed",
                     (json_int_t)g->args->run.seed, "verdict", gate_outcome_name(result->verdict),
                     "summary", result->summary, "with_long", g->args->with_long, "scenarios",
                     (json_int_t)g->n_scenarios, "gates", g->spec->path, "cpus",
                     json_object_get(m, "cpus"), "machine", m, "settings", settings);
}

/* The HTML report's trend: the key figures of this phase's earlier gate runs
 * (the history file), this run last. At most TREND_RUNS runs are shown. */
#define TREND_RUNS 30
static void add_trends(dbev_report_t *report, const char *history, const char *phase)
{
    static const char *const keys[] = {"load.throughput_max",   "load.query.throughput_max",
                                       "roundtrip.p95_ms",      "latency.query.p95_ms",
                                       "latency.insert.p95_ms", "ratio.query.p95",
                                       "client.rss_mb"};
    FILE *f = fopen(history, "r");
    if (!f)
        return;
    json_t *runs = json_array();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *run = json_loads(line, 0, NULL);
        const char *run_phase = json_string_value(json_object_get(run, "phase"));
        if (run_phase && !strcmp(run_phase, phase))
            json_array_append(runs, run);
        json_decref(run);
        if (json_array_size(runs) > TREND_RUNS)
            json_array_remove(runs, 0);
    }
    free(line);
    fclose(f);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        size_t i;
        json_t *run;
        json_array_foreach(runs, i, run)
        {
            json_t *value = json_object_get(json_object_get(run, "metrics"), keys[k]);
            int64_t when = 0;
            const char *stamp = json_string_value(json_object_get(run, "time"));
            if (json_is_number(value) && (!stamp || dbev_parse_iso8601(stamp, &when) == 0))
                dbev_report_add_trend(report, keys[k], when, json_number_value(value));
        }
    }
    json_decref(runs);
}

static int judge(dbev_report_t *report, const json_t *metrics, const json_t *skipped, int status,
                 void *opaque)
{
    gate_ctx_t *g = opaque;
    (void)status; /* the scenario counts in the metrics say the same, per scenario */
    gate_input_t in = {
        .phase = g->args->phase,
        .with_long = g->args->with_long,
        .metrics = metrics,
        .baseline = g->baseline,
        .baseline_note = g->baseline_note,
        .machine = g->machine,
        .any_machine = g->args->any_machine,
        .scenarios_failed = (int)json_number_value(json_object_get(metrics, "scenarios.failed")),
        .scenarios_errors = (int)json_number_value(json_object_get(metrics, "scenarios.errors")),
        .skipped = skipped,
    };
    gate_result_t *result = gate_judge(g->spec, &in);
    if (!result) {
        fprintf(stderr, "dbev-harness gate: out of memory\n");
        return GATE_EXIT_ERROR;
    }
    int rc = gate_outcome_exit(result->verdict);
    if (gate_result_to_report(result, g->title, report) != 0) {
        fprintf(stderr, "dbev-harness gate: out of memory\n");
        rc = GATE_EXIT_ERROR;
    }
    gate_result_print(result, g->title, stdout);

    char errstr[1200];
    if (gate_bench_write(metrics, g->args->out_dir, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "dbev-harness gate: %s\n", errstr);
        rc = GATE_EXIT_ERROR;
    }
    json_t *facts = run_facts(g, result);
    if (g->args->history) {
        json_t *line = json_deep_copy(facts);
        json_object_set(line, "metrics", (json_t *)metrics);
        if (gate_history_append(g->args->history, line, errstr, sizeof(errstr)) != 0) {
            fprintf(stderr, "dbev-harness gate: %s\n", errstr);
            rc = GATE_EXIT_ERROR;
        } else {
            printf("history: appended to %s\n", g->args->history);
            add_trends(report, g->args->history, phase_key(g->args->phase));
        }
        json_decref(line);
    }
    if (g->args->update_baseline && result->verdict != GATE_PASS) {
        /* A baseline is what later runs must match: one recorded from a red
         * run would make its failures the standard. */
        fprintf(stderr,
                "dbev-harness gate: --update-baseline: not stored: a baseline can only be "
                "recorded from a passing run, and this one's verdict is %s (%s)\n",
                gate_outcome_name(result->verdict), result->summary);
        if (rc == 0)
            rc = GATE_EXIT_ERROR;
    } else if (g->args->update_baseline) {
        int runs = 0;
        char why[400];
        if (gate_baseline_store(g->args->update_baseline, phase_key(g->args->phase), metrics, facts,
                                g->args->baseline_restart, g->args->baseline_only,
                                g->args->baseline_runs, &runs, why, sizeof(why), errstr,
                                sizeof(errstr)) != 0) {
            fprintf(stderr, "dbev-harness gate: %s\n", errstr);
            rc = GATE_EXIT_ERROR;
        } else {
            char partial[160] = "";
            if (g->args->baseline_only)
                snprintf(partial, sizeof(partial), ", and this partial run's %s* metrics",
                         g->args->baseline_only);
            printf("baseline: phase %s in %s now holds %d run(s)%s%s%s%s\n",
                   phase_key(g->args->phase), g->args->update_baseline, runs, partial,
                   why[0] ? " (a new entry: " : "", why, why[0] ? ")" : "");
        }
    }
    printf("benchmark JSON: %s/benchmark-smaller.json, benchmark-bigger.json, bencher.json\n",
           g->args->out_dir);
    json_decref(facts);
    gate_result_destroy(result);
    fflush(stdout);
    return rc;
}

static void list_selection(const gate_args_t *a, const gate_spec_t *spec,
                           scenario_t *const *scenarios, size_t n)
{
    printf("gate phase %s: %zu scenarios\n", phase_key(a->phase), n);
    for (size_t i = 0; i < n; i++)
        printf("  phase %d  %-44s %s\n", scenarios[i]->phase, scenarios[i]->path,
               scenarios[i]->name);
    printf("rules of %s that apply:\n", spec->path);
    static const char *const kinds[] = {"criterion", "rollback", "regression"};
    for (size_t i = 0; i < spec->n_rules; i++) {
        const gate_rule_t *r = &spec->rules[i];
        if (a->phase ? !(r->phases & (1u << a->phase)) : !r->phases)
            continue;
        printf("  %-10s %-46s %s%s\n", kinds[r->kind], r->name, r->metric ? r->metric : "",
               r->with_long ? " (long scenarios)" : "");
    }
}

static int cmd_main(int argc, char **argv)
{
    gate_args_t a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 1 ? 0 : GATE_EXIT_ERROR;

    char errstr[1200];
    gate_spec_t *spec = gate_spec_load(a.gates, errstr, sizeof(errstr));
    if (!spec) {
        fprintf(stderr, "dbev-harness gate: %s\n", errstr);
        return GATE_EXIT_ERROR;
    }
    gate_ctx_t g = {.args = &a, .spec = spec, .machine = gate_machine_facts()};
    a.run.client_memory = spec_names(spec, "client.rss_mb");
    snprintf(g.title, sizeof(g.title), "gate phase %s (%s)", phase_key(a.phase),
             a.phase == 0   ? "every phase-tagged scenario"
             : a.phase == 1 ? "phase 1 scenarios"
             : a.phase == 2 ? "phases 1-2 scenarios"
                            : "phases 1-3 scenarios");
    if (a.baseline) {
        g.baseline = gate_baseline_load(a.baseline, phase_key(a.phase), errstr, sizeof(errstr));
        if (!g.baseline) {
            /* A baseline asked for but unreadable is the harness's problem,
             * not a reason to skip the comparison quietly. */
            fprintf(stderr, "dbev-harness gate: --baseline: %s\n", errstr);
            json_decref(g.machine);
            gate_spec_destroy(spec);
            return GATE_EXIT_ERROR;
        }
    } else {
        snprintf(g.baseline_note, sizeof(g.baseline_note), "no --baseline given");
    }

    scenario_selection_t sel;
    rc = scenario_select((const char *const *)argv + optind, (size_t)(argc - optind), selected, &a,
                         &sel, errstr, sizeof(errstr));
    if (rc != 0)
        fprintf(stderr, "dbev-harness gate: %s\n", errstr);
    g.n_scenarios = sel.n;
    g.scenarios = sel.scenarios;
    if (rc == 0 && sel.n == 0) {
        fprintf(stderr,
                "dbev-harness gate: no scenario of phase %s%s among %zu files; a gate that runs "
                "nothing is an error, not a pass\n",
                a.phase ? phase_key(a.phase) : "1-3", a.phase > 1 ? " or earlier" : "",
                sel.n_files);
        rc = -1;
    }
    if (rc == 0 && a.list) {
        list_selection(&a, spec, sel.scenarios, sel.n);
    } else if (rc == 0) {
        char label[32];
        snprintf(label, sizeof(label), "gate-%s-", phase_key(a.phase));
        rc = run_cli_out_dir("gate", label, &a.run, a.out_dir, sizeof(a.out_dir));
        if (rc == 0) {
            printf("%s: %zu scenarios, mode %s%s, gates %s\n", g.title, sel.n,
                   a.run.mode == RUN_MODE_BOTH     ? "both (parity)"
                   : a.run.mode == RUN_MODE_DIRECT ? "direct"
                                                   : "event",
                   a.with_long ? ", long scenarios included" : "", spec->path);
            fflush(stdout);
            rc = run_cli_run(&a.run, &a.env, sel.scenarios, sel.n, judge, &g);
            if (rc < 0) {
                fprintf(stderr, "dbev-harness gate: the environment did not come up: no verdict "
                                "(harness error)\n");
                rc = -1;
            }
        }
    }
    scenario_selection_free(&sel);
    json_decref(g.baseline);
    json_decref(g.machine);
    gate_spec_destroy(spec);
    return rc < 0 ? GATE_EXIT_ERROR : rc;
}

const harness_cmd_t harness_cmd_gate = {
    "gate", "run a migration phase's scenarios and judge its gates (exit 0/1/2/3)", cmd_main};
