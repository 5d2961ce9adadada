/*
 * dbev-harness run [PATH...]: selects scenario files (by path, --tag,
 * --phase), checks every one of them before anything starts, then hands them
 * to the run (run.c). Exit codes: 0 all passed (or skipped with a reason),
 * 1 a scenario failed, 2 harness error: bad options, a scenario file that
 * does not load, no scenario selected, an environment that does not come up.
 */
#include "repro/bundle.h"
#include "cli/commands.h"
#include "env/mockenv.h"
#include "run/run.h"
#include "cli/run_cli.h"
#include "scenario/scenario_files.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TAGS 32

typedef struct args {
    run_opts_t run;
    run_env_opts_t env;
    const char *tags[MAX_TAGS];
    int n_tags;
    const char *skip_tags[MAX_TAGS];
    int n_skip_tags;
    int phase;
    int alone; /* --only-alone 1, --skip-alone -1, 0 both kinds */
    bool list;
    char out_dir[1024];
    const char *from_bundle; /* --from-bundle DIR */
    char bundle_scenario[1200];
    json_t *bundle; /* owns the strings env points to after --from-bundle */
} args_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: dbev-harness run [options] [PATH...]\n"
            "\n"
            "Runs scenario files (YAML or JSON; docs/scenarios.md) against the real adapter\n"
            "and client, on a throwaway PostgreSQL and a Kafka mock cluster unless told\n"
            "otherwise. PATH is a scenario file or a folder of them (default: scenarios/).\n"
            "\n"
            "selection:\n"
            "  --tag T              scenarios tagged T (repeatable: any of them)\n"
            "  --skip-tag T         leave out scenarios tagged T (repeatable), e.g. long\n"
            "  --phase N            scenarios of migration phase N (1, 2 or 3)\n"
            "  --skip-alone         leave out the scenarios that must run alone (see -j)\n"
            "  --only-alone         only those: a caller may run the rest beside other work\n"
            "  --list               print the selected scenarios and exit\n"
            "\n"
            "run:\n"
            "  --seed N             seed of ${rand} and of the run (default: from the clock;\n"
            "                       printed, and reused by the rerun command of a failure)\n"
            "  --mode M             event (client, Kafka, adapter; default), direct (libpq,\n"
            "                       as the services do today) or both (compare the two)\n"
            "  --adapter A          thread (in-process; default), process (dbev-adapter\n"
            "                       children: kill faults need this) or external (already\n"
            "                       listening on --kafka-bootstrap)\n"
            "  --adapters N         adapter instances per scenario, one consumer group\n"
            "  --breaker-recovery-ms N  adapter breaker recovery time (default 2000)\n"
            "  -j N                 scenarios at once, each on its own database (default 1);\n"
            "                       those with a load, a fault on the shared PostgreSQL server\n"
            "                       or Kafka cluster, or the perf tag (the latency probe) run\n"
            "                       alone after\n"
            "  --fail-fast          start no new scenario after a failure\n"
            "  --timings            print where each scenario's time went (database,\n"
            "                       topics, adapters, client, ready, steps, after,\n"
            "                       teardown) and the environment's own start-up\n"
            "  --keep               leave PostgreSQL and the scenario databases in place\n"
            "  --out DIR            reports folder (default build/reports/<timestamp>)\n"
            "  --from-bundle DIR    rerun a failure from its bundle (<out>/bundle-sN: scenario,\n"
            "                       seed and options as they were), with --keep\n"
            "  --replay-check       replay the trace of each passing scenario without faults\n"
            "                       or loads on a fresh database; a different answer fails it\n"
            "\n"
            "environment:\n"
            "  --pg-bin DIR         directory with initdb, pg_ctl, postgres\n"
            "  --pg-dsn DSN         use this PostgreSQL server instead of a throwaway one\n"
            "  --kafka-bootstrap HOST:PORT  use this Kafka cluster instead of the mock one\n"
            "  --brokers N          mock cluster brokers (default %d)\n"
            "  --partitions N       partitions per topic (default %d; %d for a scenario\n"
            "                       with a load step: run.h says why)\n"
            "  -h, --help           this text\n"
            "\n"
            "exit status: 0 all passed or skipped, 1 a scenario failed, 2 harness error\n",
            MOCKENV_DEFAULT_BROKERS, RUN_DEFAULT_PARTITIONS, RUN_LOAD_PARTITIONS);
}

/* 0 parsed, 1 help printed, 2 usage error (printed). */
static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option longopts[] = {
        {"tag", required_argument, NULL, 't'},
        {"skip-tag", required_argument, NULL, 'T'},
        {"phase", required_argument, NULL, 'P'},
        {"list", no_argument, NULL, 'L'},
        {"skip-alone", no_argument, NULL, 'S'},
        {"only-alone", no_argument, NULL, 'O'},
        {"replay-check", no_argument, NULL, 'R'},
        {"from-bundle", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        RUN_CLI_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    run_cli_defaults(&a->run, &a->env);
    optind = 1;
    opterr = 0;
    int c;
    long long v;
    while ((c = getopt_long(argc, argv, ":h" RUN_CLI_SHORTOPTS, longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (a->n_tags == MAX_TAGS)
                return run_cli_usage_error("run", "at most %d --tag options", MAX_TAGS);
            a->tags[a->n_tags++] = optarg;
            break;
        case 'T':
            if (a->n_skip_tags == MAX_TAGS)
                return run_cli_usage_error("run", "at most %d --skip-tag options", MAX_TAGS);
            a->skip_tags[a->n_skip_tags++] = optarg;
            break;
        case 'P':
            if (run_cli_number("run", "--phase", optarg, 1, 3, &v))
                return 2;
            a->phase = (int)v;
            break;
        case 'L':
            a->list = true;
            break;
        case 'S':
        case 'O':
            if (a->alone && a->alone != (c == 'O' ? 1 : -1))
                return run_cli_usage_error("run", "--skip-alone and --only-alone exclude each "
                                                  "other: give one, or neither for every scenario");
            a->alone = c == 'O' ? 1 : -1;
            break;
        case 'R':
            a->run.replay_check = true;
            break;
        case 'B':
            a->from_bundle = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            if (run_cli_other("run", c, argv, &a->run, &a->env, a->out_dir, sizeof(a->out_dir)))
                return 2;
        }
    }
    if (a->from_bundle) {
        /* The bundle's options and seed are the run's; --keep, so the
         * failure stays there to look at; --out and -j may still be given. */
        if (optind < argc || a->n_tags || a->n_skip_tags || a->phase || a->alone)
            return run_cli_usage_error("run", "--from-bundle runs the bundle's scenario: no PATH, "
                                              "--tag, --phase or --*-alone with it");
        char errstr[1024];
        if (bundle_read(a->from_bundle, &a->run, &a->env, a->bundle_scenario,
                        sizeof(a->bundle_scenario), &a->bundle, errstr, sizeof(errstr)) != 0) {
            fprintf(stderr, "dbev-harness run: %s\n", errstr);
            return 2;
        }
        a->run.keep = true;
    }
    return run_cli_check("run", &a->run, &a->env);
}

static bool selected(const scenario_t *sc, const void *opaque)
{
    const args_t *a = opaque;
    if (a->phase && sc->phase != a->phase)
        return false;
    if (a->alone && run_runs_alone(sc) != (a->alone > 0))
        return false;
    for (int i = 0; i < a->n_skip_tags; i++)
        if (scenario_has_tag(sc, a->skip_tags[i]))
            return false;
    if (a->n_tags == 0)
        return true;
    for (int i = 0; i < a->n_tags; i++)
        if (scenario_has_tag(sc, a->tags[i]))
            return true;
    return false;
}

static void list_scenarios(scenario_t *const *scenarios, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const scenario_t *sc = scenarios[i];
        printf("%-44s phase %d  %s\n", sc->path, sc->phase, sc->name);
        char *tags = json_dumps(sc->tags, JSON_COMPACT);
        printf("    tags %s, %zu steps: %.*s\n", tags ? tags : "[]", scenario_count_steps(sc),
               (int)strcspn(sc->proves, "\n"), sc->proves);
        free(tags);
    }
}

static int cmd_main(int argc, char **argv)
{
    args_t a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        json_decref(a.bundle);
        return rc == 1 ? 0 : 2;
    }

    char errstr[1024];
    const char *bundle_path = a.bundle_scenario;
    const char *const *paths = a.from_bundle ? &bundle_path : (const char *const *)argv + optind;
    size_t npaths = a.from_bundle ? 1 : (size_t)(argc - optind);
    scenario_selection_t sel;
    rc = scenario_select(paths, npaths, selected, &a, &sel, errstr, sizeof(errstr));
    if (rc != 0)
        fprintf(stderr, "dbev-harness run: %s\n", errstr);
    if (rc == 0 && sel.n == 0) {
        fprintf(stderr,
                "dbev-harness run: no scenario selected (%zu files read%s%s%s); a run that "
                "runs nothing is an error, not a pass\n",
                sel.n_files, a.n_tags ? ", --tag given" : "", a.phase ? ", --phase given" : "",
                a.alone > 0   ? ", --only-alone given"
                : a.alone < 0 ? ", --skip-alone given"
                              : "");
        rc = -1;
    }
    if (rc == 0 && a.list) {
        list_scenarios(sel.scenarios, sel.n);
    } else if (rc == 0) {
        rc = run_cli_out_dir("run", "", &a.run, a.out_dir, sizeof(a.out_dir));
        if (rc == 0) {
            rc = run_cli_run(&a.run, &a.env, sel.scenarios, sel.n, NULL, NULL);
            if (rc < 0)
                rc = 2;
        }
    }
    scenario_selection_free(&sel);
    json_decref(a.bundle);
    return rc < 0 ? 2 : rc;
}

const harness_cmd_t harness_cmd_run = {"run", "run scenario files and write reports", cmd_main};
