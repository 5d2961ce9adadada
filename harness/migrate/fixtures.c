/*
 * Fixture loading and database preparation (see fixtures.h). A fixture is
 * plain SQL with fixed ids and timestamps; this file only finds it, checks
 * its required migration version and runs it in one transaction through the
 * migration runner's statement executor (same file:line errors).
 */
#include "migrate/fixtures.h"

#include "migrate/migrate.h"
#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const char *fixtures_default_dir(void)
{
    const char *env = getenv("DBEV_FIXTURES_DIR");
    if (env && *env)
        return env;
    return DBEV_SOURCE_DIR "/fixtures";
}

static int fixture_path(const char *dir, const char *name, char *buf, size_t size, char *errstr,
                        size_t errsize)
{
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return dbev_seterr(errstr, errsize,
                               "fixture name '%s': letters, digits, '_' and '-' only", name);
    snprintf(buf, size, "%s/%s.sql", dir, name);
    return 0;
}

/* The "-- requires: NNN" line among the leading comments; 0 when absent. */
static int required_version(const char *sql)
{
    const char *p = sql;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (strncmp(p, "--", 2) != 0)
            break;
        const char *r = strstr(p, "requires:");
        const char *eol = strchr(p, '\n');
        if (r && (!eol || r < eol))
            return atoi(r + strlen("requires:"));
        p = eol ? eol + 1 : p + strlen(p);
    }
    return 0;
}

int fixtures_load(PGconn *conn, const char *dir, const char *name, char *errstr, size_t size)
{
    char path[1024];
    if (fixture_path(dir ? dir : fixtures_default_dir(), name, path, sizeof(path), errstr, size) <
        0)
        return -1;
    char *sql = mig_read_file(path, NULL, errstr, size);
    if (!sql)
        return -1;
    int need = required_version(sql), have = 0;
    int rc = mig_current_version(conn, &have, errstr, size);
    if (rc == 0 && have < need)
        rc = dbev_seterr(errstr, size, "%s needs migration %03d, the database is at %03d", path,
                         need, have);
    if (rc == 0) {
        PGresult *res = PQexec(conn, "BEGIN");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = dbev_seterr(errstr, size, "BEGIN: %s", PQerrorMessage(conn));
        PQclear(res);
    }
    if (rc == 0) {
        char err[1536];
        if (mig_exec_script(conn, path, sql, err, sizeof(err)) < 0) {
            PQclear(PQexec(conn, "ROLLBACK"));
            rc = dbev_seterr(errstr, size, "fixture %s failed, rolled back: %s", name, err);
        } else {
            PGresult *res = PQexec(conn, "COMMIT");
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                rc = dbev_seterr(errstr, size, "COMMIT of fixture %s: %s", name,
                                 PQerrorMessage(conn));
            PQclear(res);
        }
    }
    free(sql);
    return rc;
}

int fixtures_load_list(PGconn *conn, const char *dir, const char *names, char *errstr, size_t size)
{
    const char *p = names;
    if (!*p)
        return dbev_seterr(errstr, size, "no fixture named");
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[128];
        if (len == 0 || len >= sizeof(name))
            return dbev_seterr(errstr, size, "fixture list '%s': empty or overlong name", names);
        memcpy(name, p, len);
        name[len] = '\0';
        if (fixtures_load(conn, dir, name, errstr, size) < 0)
            return -1;
        p += len + (p[len] == ',' ? 1 : 0);
    }
    return 0;
}

int fixtures_prepare(PGconn *conn, void *opaque, char *errstr, size_t size)
{
    const fixtures_spec_t *spec = opaque;
    const char *mdir = spec && spec->migrations_dir ? spec->migrations_dir : mig_default_dir();
    mig_set_t *set = mig_set_load(mdir, errstr, size);
    if (!set)
        return -1;
    mig_opts_t opts;
    mig_opts_init(&opts);
    mig_result_t res;
    int rc = mig_run(conn, set, MIG_UP, &opts, &res, errstr, size);
    mig_result_clear(&res);
    mig_set_destroy(set);
    if (rc == 0 && spec && spec->fixture)
        rc = fixtures_load_list(conn, spec->fixtures_dir, spec->fixture, errstr, size);
    return rc;
}

int fixtures_key(const fixtures_spec_t *spec, char *key, size_t key_size, char *errstr, size_t size)
{
    const char *mdir = spec && spec->migrations_dir ? spec->migrations_dir : mig_default_dir();
    mig_set_t *set = mig_set_load(mdir, errstr, size);
    if (!set)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        mig_set_destroy(set);
        return dbev_seterr(errstr, size, "SHA-256: libcrypto failed (out of memory)");
    }
    mig_set_hash(set, ctx);
    mig_set_destroy(set);
    int rc = 0;
    const char *p = spec && spec->fixture ? spec->fixture : "";
    while (*p && rc == 0) {
        size_t nlen = strcspn(p, ",");
        char name[128], path[1024];
        if (nlen == 0 || nlen >= sizeof(name)) {
            rc = dbev_seterr(errstr, size, "fixture list '%s': empty or overlong name",
                             spec->fixture);
            break;
        }
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        p += nlen + (p[nlen] == ',' ? 1 : 0);
        const char *fdir = spec->fixtures_dir ? spec->fixtures_dir : fixtures_default_dir();
        if (fixture_path(fdir, name, path, sizeof(path), errstr, size) < 0) {
            rc = -1;
            break;
        }
        size_t len = 0;
        char *sql = mig_read_file(path, &len, errstr, size);
        if (!sql) {
            rc = -1;
            break;
        }
        EVP_DigestUpdate(ctx, name, nlen + 1);
        EVP_DigestUpdate(ctx, sql, len);
        free(sql);
    }
    char hex[HARNESS_SHA256_HEX_SIZE];
    if (rc == 0 && !harness_sha256_final_hex(ctx, hex))
        rc = dbev_seterr(errstr, size, "SHA-256: libcrypto failed (out of memory)");
    EVP_MD_CTX_free(ctx);
    if (rc == 0)
        snprintf(key, key_size, "%.16s", hex);
    return rc;
}
