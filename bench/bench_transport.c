/*
 * The transport floor of the mock cluster (harness/env/transport.h: a
 * two-hop echo with the adapter's and the client's settings, no adapter)
 * under a fetch profile, with the CPU the process spent meanwhile: the
 * figures behind the harness's consumer fetch profiles (kprofile.h).
 * Usage:
 *   bench_transport [--broker] [--brokers N] [-X key=value]... [-P key=value]...
 *                   [trips [rate]]
 * --broker uses the real-broker profile instead of the mock one; -X adds a
 * consumer setting after the profile (e.g. -X fetch.wait.max.ms=1), -P a
 * setting of both producers (e.g. -P linger.ms=0).
 * Default 2000 round trips at 1000/s on a 3-broker mock cluster.
 */
#include "env/kprofile.h"
#include "env/mockenv.h"
#include "env/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    bool broker = false;
    int brokers = 3, trips = 2000;
    double rate = 1000;
    const char *extra[32] = {0}, *extra_p[32] = {0};
    int n_extra = 0, n_extra_p = 0, pos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--broker"))
            broker = true;
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-X") && i + 1 < argc && n_extra < 31)
            extra[n_extra++] = argv[++i];
        else if (!strcmp(argv[i], "-P") && i + 1 < argc && n_extra_p < 31)
            extra_p[n_extra_p++] = argv[++i];
        else if (pos == 0 && ++pos)
            trips = atoi(argv[i]);
        else
            rate = atof(argv[i]);
    }
    if (trips <= 0 || rate <= 0) {
        fprintf(stderr, "usage: bench_transport [--broker] [--brokers N] [-X key=value]... "
                        "[trips [rate]]\n");
        return 2;
    }
    char err[1024];
    mockenv_opts_t mopts = {.brokers = brokers, .partitions = 3, .env = "bench"};
    mockenv_t *mk = mockenv_new(&mopts, err, sizeof(err));
    if (!mk) {
        fprintf(stderr, "bench_transport: %s\n", err);
        return 1;
    }
    transport_opts_t o = {.bootstrap = mockenv_bootstrap(mk),
                          .topic_a = mockenv_topic(mk, DBEV_TOPIC_REQUESTED),
                          .topic_b = mockenv_topic(mk, DBEV_TOPIC_COMPLETED),
                          .mock = !broker,
                          .extra = extra,
                          .extra_producer = extra_p,
                          .round_trips = trips,
                          .rate = rate};
    transport_floor_t f;
    int rc = transport_measure(&o, &f, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "bench_transport: %s\n", err);
    } else {
        printf("bench_transport: %s profile", kprofile_name(!broker));
        for (int i = 0; i < n_extra; i++)
            printf(" %s", extra[i]);
        for (int i = 0; i < n_extra_p; i++)
            printf(" producer %s", extra_p[i]);
        printf(", %d brokers, %ld CPUs\n", brokers, sysconf(_SC_NPROCESSORS_ONLN));
        double echo_s = (double)trips / rate;
        printf("  %d/%d round trips at %.0f/s: p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", f.received,
               f.sent, rate, f.p50_ms, f.p99_ms, f.max_ms);
        printf("  CPU of the process (mock cluster, 4 clients) %.2f s in %.2f s: %.0f%% of one "
               "core; whole measurement %.2f s\n",
               f.echo_cpu_s, echo_s, 100.0 * f.echo_cpu_s / echo_s, f.wall_s);
    }
    mockenv_destroy(mk);
    return rc ? 1 : 0;
}
