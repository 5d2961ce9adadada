/*
 * dbev-adapter: the database adapter as a daemon. A thin shell over the
 * public embedding API (dbev_adapter.h), the same code the harness runs in a
 * thread: parse options into a conf, create the adapter, run it on the main
 * thread until SIGTERM/SIGINT, exit 0 after a graceful stop.
 *
 * Exit status: 0 graceful stop, 1 runtime failure, 2 bad usage or
 * configuration (one line on stderr saying what is wrong).
 */
#include "dbev_adapter.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dbev_adapter_t *volatile g_adapter;
static volatile sig_atomic_t g_stop;

/* SIGTERM/SIGINT: a graceful stop, also when it arrives during start-up. */
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_adapter)
        dbev_adapter_stop(g_adapter);
}

static void usage(FILE *fp)
{
    fprintf(fp, "Usage: dbev-adapter [--conf FILE] [-X key=value]... [--dump-conf]\n"
                "       dbev-adapter --help | --help-markdown | --version\n\n"
                "Consumes database request events from Kafka, executes them on PostgreSQL and\n"
                "publishes completed/failed events. SIGTERM or SIGINT stops it gracefully.\n"
                "Options are applied in order; a later one overrides an earlier one.\n\n");
}

int main(int argc, char **argv)
{
    char errstr[512];
    dbev_adapter_conf_t *conf = dbev_adapter_conf_new();
    bool dump = false;
    if (!conf) {
        fprintf(stderr, "dbev-adapter: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            dbev_adapter_conf_help(stdout, false);
            dbev_adapter_conf_destroy(conf);
            return 0;
        }
        if (!strcmp(arg, "--help-markdown")) {
            dbev_adapter_conf_help(stdout, true);
            dbev_adapter_conf_destroy(conf);
            return 0;
        }
        if (!strcmp(arg, "--version")) {
            printf("dbev-adapter %s\n", dbev_adapter_version());
            dbev_adapter_conf_destroy(conf);
            return 0;
        }
        if (!strcmp(arg, "--dump-conf")) {
            dump = true;
            continue;
        }
        const char *val = NULL;
        bool is_conf = false;
        if (!strcmp(arg, "--conf") || !strcmp(arg, "-X")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "dbev-adapter: %s needs an argument (see --help)\n", arg);
                dbev_adapter_conf_destroy(conf);
                return 2;
            }
            is_conf = !strcmp(arg, "--conf");
            val = argv[++i];
        } else if (!strncmp(arg, "--conf=", 7)) {
            is_conf = true;
            val = arg + 7;
        } else if (!strncmp(arg, "-X", 2)) {
            val = arg + 2;
        } else {
            fprintf(stderr, "dbev-adapter: unknown option %s (see --help)\n", arg);
            dbev_adapter_conf_destroy(conf);
            return 2;
        }
        int bad = is_conf ? dbev_adapter_conf_load_file(conf, val, errstr, sizeof(errstr))
                          : dbev_adapter_conf_set_kv(conf, val, errstr, sizeof(errstr));
        if (bad) {
            fprintf(stderr, "dbev-adapter: %s\n", errstr);
            dbev_adapter_conf_destroy(conf);
            return 2;
        }
    }
    if (dump) {
        dbev_adapter_conf_dump(conf, stdout);
        dbev_adapter_conf_destroy(conf);
        return 0;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    dbev_adapter_t *adapter = dbev_adapter_new(conf, errstr, sizeof(errstr));
    if (!adapter) {
        fprintf(stderr, "dbev-adapter: %s\n", errstr);
        dbev_adapter_conf_destroy(conf);
        return 2;
    }
    g_adapter = adapter;
    if (g_stop)
        dbev_adapter_stop(adapter);

    int rc = dbev_adapter_run(adapter);
    g_adapter = NULL;
    dbev_adapter_destroy(adapter);
    return rc == 0 ? 0 : 1;
}
