/*
 * The template-cluster cache that makes bring-up fast. initdb takes a second
 * or more; copying an initdb'ed cluster takes a few tens of milliseconds. The
 * first run for a given key (server version, binaries, account, initdb
 * arguments, settings) runs initdb in its private directory and then stores
 * a copy as <cache>/pgenv-<key>/data; later runs copy that. The store is
 * atomic: the copy is built in <cache>/pgenv-build-XXXXXX (with a marker, so
 * a killed run's half-built copy is reaped) and renamed into place; when two
 * runs race, the loser's rename fails and it drops its copy. A stored entry
 * is never modified, so readers need no lock.
 */
#include "env/pgenv_int.h"

#include "dbev_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void pgenv_hash_hex(const char *text, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int append_conf(const char *data_dir, const char *conf_text, char *errstr, size_t size)
{
    char path[PGENV_PATH_SIZE];
    pgenv_path(path, sizeof(path), data_dir, "postgresql.conf");
    FILE *f = fopen(path, "a");
    if (!f)
        return dbev_seterr(errstr, size, "cannot append to %s: %s", path, strerror(errno));
    fputs(conf_text, f);
    if (fclose(f) != 0)
        return dbev_seterr(errstr, size, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Stores data_dir as the cache entry; failures only cost speed, so they are warnings. */
static void store(const char *cache_dir, const char *entry, const char *data_dir,
                  const dbev_logger_t *logger)
{
    char err[512] = "";
    if (pgenv_mkdir_p(cache_dir) < 0) {
        dbev_logf(logger, DBEV_LOG_WARN, NULL,
                  "cannot create cache dir %s (%s): every bring-up will run initdb; set "
                  "DBEV_CACHE_DIR to a writable directory",
                  cache_dir, strerror(errno));
        return;
    }
    pgenv_reap_builds(cache_dir);
    char build[PGENV_PATH_SIZE], build_data[PGENV_PATH_SIZE];
    snprintf(build, sizeof(build), "%s/" PGENV_BUILD_PREFIX "XXXXXX", cache_dir);
    if (!mkdtemp(build)) {
        dbev_logf(logger, DBEV_LOG_WARN, NULL, "cannot create a directory in cache dir %s: %s",
                  cache_dir, strerror(errno));
        return;
    }
    pgenv_path(build_data, sizeof(build_data), build, "data");
    if (pgenv_marker_write(build, false) < 0 ||
        pgenv_copy_tree(data_dir, build_data, err, sizeof(err)) < 0) {
        dbev_logf(logger, DBEV_LOG_WARN, NULL, "cannot store the template cluster in %s: %s",
                  cache_dir, err[0] ? err : strerror(errno));
        pgenv_rm_rf(build);
        return;
    }
    char marker[PGENV_PATH_SIZE];
    pgenv_path(marker, sizeof(marker), build, PGENV_MARKER);
    unlink(marker);
    if (rename(build, entry) < 0) {
        /* Another run stored the same entry first: theirs is as good as ours. */
        if (errno != EEXIST && errno != ENOTEMPTY)
            dbev_logf(logger, DBEV_LOG_WARN, NULL, "cannot store the template cluster as %s: %s",
                      entry, strerror(errno));
        pgenv_rm_rf(build);
        return;
    }
    dbev_logf(logger, DBEV_LOG_INFO, NULL, "stored template cluster %s", entry);
}

int pgenv_cache_fill(const char *cache_dir, const char *key, char *const initdb_argv[],
                     const char *conf_text, const pgenv_cred_t *cred, const char *work_dir,
                     int slot, const char *data_dir, bool *warm, const dbev_logger_t *logger,
                     char *errstr, size_t size)
{
    *warm = false;
    char entry[PGENV_PATH_SIZE] = "", entry_data[PGENV_PATH_SIZE] = "";
    if (cache_dir) {
        snprintf(entry, sizeof(entry), "%s/pgenv-%s", cache_dir, key);
        pgenv_path(entry_data, sizeof(entry_data), entry, "data");
        struct stat st;
        if (stat(entry_data, &st) == 0) {
            char err[512] = "";
            if (pgenv_copy_tree(entry_data, data_dir, err, sizeof(err)) == 0) {
                *warm = true;
                return 0;
            }
            dbev_logf(logger, DBEV_LOG_WARN, NULL,
                      "cannot copy the cached template cluster (%s): running initdb", err);
            pgenv_rm_rf(data_dir);
        }
    }

    char log_path[PGENV_PATH_SIZE];
    pgenv_path(log_path, sizeof(log_path), work_dir, "initdb.log");
    dbev_logf(logger, DBEV_LOG_INFO, NULL, "running initdb (no cached template cluster yet)");
    char err[512] = "";
    int rc = pgenv_run(initdb_argv, cred, work_dir, log_path, slot, err, sizeof(err));
    if (rc < 0)
        return dbev_seterr(errstr, size, "%s", err);
    if (rc != 0) {
        char last[512];
        pgenv_log_problem(log_path, 0, last, sizeof(last), NULL);
        return dbev_seterr(errstr, size, "initdb failed (exit %d): %s%s", rc,
                           last[0] ? last : "no output",
                           cred->switch_user ? " (running as root: the postgres account must be "
                                               "able to reach and write the temp dir)"
                                             : "");
    }
    if (append_conf(data_dir, conf_text, errstr, size) < 0)
        return -1;
    if (cache_dir)
        store(cache_dir, entry, data_dir, logger);
    return 0;
}
