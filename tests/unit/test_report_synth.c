/*
 * The synthetic report behind the writer tests (see test_report_synth.h).
 * Figures are shaped like a real run: a 30 s load at 1000 requests/s with a
 * lognormal latency around 4 ms and a 2 s stall at t = 17 s, the breaker
 * opening and closing again while PostgreSQL is stopped, and a skipped
 * scenario that needs process faults.
 */
#include "test_report_synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t synth_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double unit(uint64_t *state)
{
    return ((double)(synth_rand(state) >> 11) + 0.5) / 9007199254740992.0;
}

double synth_lognormal(uint64_t *state, double median, double sigma)
{
    double u1 = unit(state), u2 = unit(state);
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    return median * exp(sigma * z);
}

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "synth_report: out of memory\n");
        abort();
    }
    return p;
}

dbev_report_t *synth_report(dbev_hist_t **load_hist)
{
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    dbev_report_t *report = must(dbev_report_new("dbev-harness run (synthetic)"));
    dbev_report_set_times(report, 1763892000000000LL, 61500000);
    dbev_report_set_seed(report, 42);
    dbev_report_set_git_commit(report, "0123456789abcdef0123456789abcdef01234567");
    dbev_report_set_version(report, "dbev", "0.1.0");
    dbev_report_set_version(report, "postgresql", "15.8");
    dbev_report_set_version(report, "librdkafka", "2.0.2");
    dbev_report_fill_host(report);
    dbev_report_set_env(report, "adapter", "thread");
    dbev_report_set_env(report, "kafka", "mock cluster, 3 brokers");

    /* 1: passing CRUD scenario with a step latency histogram. */
    dbev_report_scenario_t *s =
        must(dbev_report_add_scenario(report, "crud/insert-select", "scenarios/crud_insert.yaml"));
    dbev_report_scenario_add_tag(s, "crud");
    dbev_report_scenario_add_tag(s, "smoke");
    dbev_report_scenario_set_phase(s, 1);
    dbev_report_scenario_set_duration(s, 1250000);
    dbev_report_step_t *st = must(dbev_report_scenario_add_step(s, "insert agent", "op"));
    dbev_report_step_set_duration(st, 8200);
    dbev_hist_t *h = must(dbev_hist_new());
    for (int i = 0; i < 200; i++)
        dbev_hist_record(h, (int64_t)synth_lognormal(&rng, 2500, 0.4));
    dbev_report_step_set_hist(st, h);
    dbev_hist_destroy(h);
    st = must(dbev_report_scenario_add_step(s, "select it back", "op"));
    dbev_report_step_set_duration(st, 3100);
    st = must(dbev_report_scenario_add_step(s, "row is in postgres", "sql"));
    dbev_report_step_set_duration(st, 900);

    /* 2: failing breaker scenario, hostile names, breaker timeline. */
    s = must(dbev_report_add_scenario(report, "breaker/pg-stop <&\"'>", "scenarios/breaker.yaml"));
    dbev_report_scenario_add_tag(s, "breaker");
    dbev_report_scenario_set_phase(s, 2);
    dbev_report_scenario_set_status(s, DBEV_REPORT_FAIL, "step 3 failed");
    dbev_report_scenario_set_duration(s, 14300000);
    dbev_report_scenario_set_rerun(s, "dbev-harness run scenarios/breaker.yaml --seed 42 --keep");
    st = must(dbev_report_scenario_add_step(s, "stop postgres", "fault"));
    dbev_report_step_set_duration(st, 410000);
    st = must(dbev_report_scenario_add_step(s, "five failures open the breaker", "until"));
    dbev_report_step_set_duration(st, 5100000);
    st = must(dbev_report_scenario_add_step(s, SYNTH_NASTY_STEP, "op"));
    dbev_report_step_set_duration(st, 30500);
    dbev_report_step_set_status(st, DBEV_REPORT_FAIL, "rows differ: \"id\" 1 <> 2 & more");
    dbev_report_step_set_mismatch(st, "{\"rows\":[{\"id\":1,\"name\":\"a<b\"}]}",
                                  SYNTH_NASTY_ACTUAL);
    st = must(dbev_report_scenario_add_step(s, "start postgres", "fault"));
    dbev_report_step_set_status(st, DBEV_REPORT_SKIP, "skipped after a failure");
    dbev_report_add_breaker(report, 3200000, "breaker/pg-stop", "CLOSED", "OPEN");
    dbev_report_add_breaker(report, 8200000, "breaker/pg-stop", "OPEN", "HALF_OPEN");
    dbev_report_add_breaker(report, 8300000, "breaker/pg-stop", "HALF_OPEN", "OPEN");
    dbev_report_add_breaker(report, 13300000, "breaker/pg-stop", "OPEN", "HALF_OPEN");
    dbev_report_add_breaker(report, 13400000, "breaker/pg-stop", "HALF_OPEN", "CLOSED");

    /* 3: skipped scenario, no steps. */
    s = must(dbev_report_add_scenario(report, "idempotency/adapter-kill",
                                      "scenarios/adapter_kill.yaml"));
    dbev_report_scenario_add_tag(s, "faults");
    dbev_report_scenario_set_status(s, DBEV_REPORT_SKIP,
                                    "needs --adapter process (SIGKILL of the adapter)");

    /* 4: a load, 30 s at 1000/s, a stall at 17..19 s. */
    s = must(dbev_report_add_scenario(report, "throughput/1000rps", "scenarios/throughput.yaml"));
    dbev_report_scenario_add_tag(s, "load");
    dbev_report_scenario_set_phase(s, 3);
    dbev_report_scenario_set_duration(s, 31200000);
    st = must(dbev_report_scenario_add_step(s, "1000 inserts/s for 30 s", "load"));
    dbev_report_step_set_duration(st, 31000000);
    dbev_report_load_t *load = must(dbev_report_step_load(st));
    dbev_hist_t *all = must(dbev_hist_new());
    dbev_hist_t *second = must(dbev_hist_new());
    int64_t errors_total = 0;
    for (int sec = 0; sec < 30; sec++) {
        dbev_hist_reset(second);
        int64_t errors = 0;
        for (int i = 0; i < SYNTH_LOAD_COUNT / 30; i++) {
            double v = synth_lognormal(&rng, 4000, 0.5);
            if (sec == 17) /* a stall: latency from intended send time */
                v += (double)(1000 - i) * 600.0;
            dbev_hist_record(second, (int64_t)v);
            if (synth_rand(&rng) % 2000 == 0)
                errors++;
        }
        dbev_hist_merge(all, second);
        errors_total += errors;
        dbev_report_load_add_point(load, (int64_t)(sec + 1) * 1000000,
                                   sec == 17   ? 410.0
                                   : sec == 18 ? 1590.0
                                               : 1000.0 - (double)errors,
                                   dbev_hist_percentile(second, 99), errors);
    }
    dbev_report_load_set_hist(load, all);
    dbev_report_load_summary_t sum = {1000.0, 30400000, SYNTH_LOAD_COUNT, SYNTH_LOAD_COUNT, -1};
    dbev_report_load_set_summary(load, &sum);
    dbev_report_load_add_errors(load, "TIMEOUT", errors_total - 3);
    dbev_report_load_add_errors(load, "DB_ERROR", 2);
    dbev_report_load_add_errors(load, "DB_ERROR", 1);
    dbev_report_checker_t checker = {SYNTH_LOAD_COUNT - 1, 1, 0, 0, 0, 1, 20000, 0, 0};
    dbev_report_load_set_checker(load, &checker);

    double p95 = (double)dbev_hist_percentile(all, 95);
    dbev_report_criterion_t c1 = {"p95 latency",
                                  "throughput/1000rps.p95_us",
                                  p95,
                                  100000,
                                  "<=",
                                  "us",
                                  p95 <= 100000 ? DBEV_VERDICT_PASS : DBEV_VERDICT_FAIL};
    dbev_report_criterion_t c2 = {
        "no loss", "checker.unanswered", 1, 0, "==", NULL, DBEV_VERDICT_ROLLBACK};
    dbev_report_add_criterion(report, &c1);
    dbev_report_add_criterion(report, &c2);
    dbev_report_set_verdict(report, DBEV_VERDICT_ROLLBACK, "one request went unanswered");

    if (load_hist)
        *load_hist = all;
    else
        dbev_hist_destroy(all);
    dbev_hist_destroy(second);
    return report;
}
