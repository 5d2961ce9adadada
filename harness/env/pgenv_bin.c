/*
 * Finding the PostgreSQL server binaries. The throwaway server needs initdb,
 * pg_ctl and postgres from one installation, so a candidate directory counts
 * only when it holds all three: --pg-bin when given, else each PATH entry,
 * then `pg_config --bindir`, then the newest /usr/lib/postgresql/N/bin (where
 * Debian puts them, off PATH). When none fits, the error names the Debian
 * package to install.
 */
#include "env/pgenv_int.h"

#include "dbev_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const needed[] = {"initdb", "pg_ctl", "postgres"};

/* The first of the needed binaries missing from dir, or NULL when all are there. */
static const char *first_missing(const char *dir)
{
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        char path[PGENV_PATH_SIZE];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, needed[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0)
            return needed[i];
    }
    return NULL;
}

static bool try_dir(const char *dir, char *out, size_t out_size)
{
    if (!dir || !*dir || first_missing(dir))
        return false;
    snprintf(out, out_size, "%s", dir);
    return true;
}

/* The newest /usr/lib/postgresql/<major>/bin holding all three, by major number. */
static bool try_debian_dirs(char *out, size_t out_size)
{
    DIR *d = opendir("/usr/lib/postgresql");
    if (!d)
        return false;
    long best = -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long major = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0' || major <= best)
            continue;
        char dir[PGENV_PATH_SIZE];
        snprintf(dir, sizeof(dir), "/usr/lib/postgresql/%s/bin", de->d_name);
        if (!first_missing(dir)) {
            best = major;
            snprintf(out, out_size, "%s", dir);
        }
    }
    closedir(d);
    return best >= 0;
}

static bool try_pg_config(char *out, size_t out_size)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char copy[PGENV_PATH_SIZE];
    snprintf(copy, sizeof(copy), "%s", path);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char pg_config[PGENV_PATH_SIZE];
        pgenv_path(pg_config, sizeof(pg_config), dir, "pg_config");
        if (access(pg_config, X_OK) != 0)
            continue;
        char bindir[PGENV_PATH_SIZE] = "";
        char *argv[] = {pg_config, "--bindir", NULL};
        if (pgenv_capture(argv, bindir, sizeof(bindir)) != 0)
            return false;
        bindir[strcspn(bindir, "\r\n")] = '\0';
        return try_dir(bindir, out, out_size);
    }
    return false;
}

int pgenv_bin_find(const char *pg_bin, char *dir, size_t dir_size, char *errstr, size_t size)
{
    if (pg_bin) {
        const char *missing = first_missing(pg_bin);
        if (!missing) {
            snprintf(dir, dir_size, "%s", pg_bin);
            return 0;
        }
        return dbev_seterr(errstr, size,
                           "%s not found in %s (--pg-bin): point --pg-bin at PostgreSQL's bin "
                           "directory (e.g. /usr/lib/postgresql/15/bin) or install the Debian "
                           "package postgresql",
                           missing, pg_bin);
    }
    const char *path = getenv("PATH");
    if (path) {
        char copy[PGENV_PATH_SIZE];
        snprintf(copy, sizeof(copy), "%s", path);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            if (try_dir(d, dir, dir_size))
                return 0;
    }
    if (try_pg_config(dir, dir_size) || try_debian_dirs(dir, dir_size))
        return 0;
    return dbev_seterr(errstr, size,
                       "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH, "
                       "pg_config --bindir or /usr/lib/postgresql/*/bin: install the Debian "
                       "package postgresql (apt-get install postgresql) or pass --pg-bin DIR");
}

int pgenv_bin_version(const char *bindir, char *out, size_t out_size, char *errstr, size_t size)
{
    char postgres[PGENV_PATH_SIZE];
    pgenv_path(postgres, sizeof(postgres), bindir, "postgres");
    char *argv[] = {postgres, "--version", NULL};
    out[0] = '\0';
    if (pgenv_capture(argv, out, out_size) != 0 || !strstr(out, "PostgreSQL"))
        return dbev_seterr(errstr, size,
                           "%s --version failed: the installation looks broken; reinstall the "
                           "Debian package postgresql or pass another --pg-bin",
                           postgres);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}
