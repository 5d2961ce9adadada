/*
 * The migration runner: takes the advisory lock, compares what the database
 * says it has applied (schema_migrations) with the files, plans the steps to
 * the target version, and applies each step in its own transaction with its
 * pre/post checks. Refusals (changed file, unknown applied version, another
 * runner holding the lock) happen before anything is applied. Also the status
 * report and the table-size summary the commands print.
 */
#include "migrate/migrate.h"

#include <stdlib.h>
#include <string.h>

/* One advisory lock key for every dbev runner; advisory locks are per
 * database, so runners on different databases never wait for each other. */
#define MIG_LOCK_KEY "7310575183"

void mig_opts_init(mig_opts_t *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->target = -1;
    opts->lock_timeout_ms = 10000;
}

void mig_result_clear(mig_result_t *res)
{
    if (!res)
        return;
    free(res->steps);
    memset(res, 0, sizeof(*res));
}

/* Runs one command; -1 with "what: message" in errstr on failure. */
static int exec_cmd(PGconn *conn, const char *sql, const char *what, char *errstr, size_t size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        rc = dbev_seterr(errstr, size, "%s: %s", what, msg);
    }
    PQclear(res);
    return rc;
}

typedef struct applied {
    int version;
    char name[128];
    char checksum[65];
    char applied_at[40];
    double duration_ms;
} applied_t;

static int table_exists(PGconn *conn, bool *exists, char *errstr, size_t size)
{
    PGresult *res = PQexec(conn, "SELECT to_regclass('public." MIG_TABLE "') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "reading the catalog: %s", PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    *exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return 0;
}

static int load_applied(PGconn *conn, applied_t **rows, size_t *n, char *errstr, size_t size)
{
    *rows = NULL;
    *n = 0;
    bool exists;
    if (table_exists(conn, &exists, errstr, size) < 0)
        return -1;
    if (!exists)
        return 0;
    PGresult *res = PQexec(conn, "SELECT version, name, checksum,"
                                 " to_char(applied_at AT TIME ZONE 'UTC',"
                                 " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), duration_ms"
                                 " FROM public." MIG_TABLE " ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "reading " MIG_TABLE ": %s", PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    int nt = PQntuples(res);
    *rows = calloc(nt ? (size_t)nt : 1, sizeof(**rows));
    if (!*rows) {
        PQclear(res);
        return dbev_seterr(errstr, size, "out of memory");
    }
    for (int i = 0; i < nt; i++) {
        applied_t *a = &(*rows)[i];
        a->version = atoi(PQgetvalue(res, i, 0));
        snprintf(a->name, sizeof(a->name), "%s", PQgetvalue(res, i, 1));
        snprintf(a->checksum, sizeof(a->checksum), "%s", PQgetvalue(res, i, 2));
        snprintf(a->applied_at, sizeof(a->applied_at), "%s", PQgetvalue(res, i, 3));
        a->duration_ms = atof(PQgetvalue(res, i, 4));
    }
    *n = (size_t)nt;
    PQclear(res);
    return 0;
}

/* The database's records must be versions 1..k of this set, unchanged. */
static int check_applied(const mig_set_t *set, const applied_t *rows, size_t n, char *errstr,
                         size_t size)
{
    for (size_t i = 0; i < n; i++) {
        const applied_t *a = &rows[i];
        if (a->version != (int)i + 1)
            return dbev_seterr(errstr, size,
                               "refusing: " MIG_TABLE " has a gap (version %03zu missing before "
                               "%03d); the database was not migrated by this runner",
                               i + 1, a->version);
        if ((size_t)a->version > set->count)
            return dbev_seterr(
                errstr, size,
                "refusing: applied version %03d_%s has no file in %s (the database is "
                "newer than these migrations)",
                a->version, a->name, set->dir);
        const mig_migration_t *m = &set->items[a->version - 1];
        if (strcmp(a->checksum, m->checksum) != 0)
            return dbev_seterr(
                errstr, size,
                "refusing: %s changed after it was applied (checksum recorded %.12s..., "
                "file now %.12s...); add a new migration instead of editing an "
                "applied one",
                m->up_path, a->checksum, m->checksum);
    }
    return 0;
}

int mig_current_version(PGconn *conn, int *version, char *errstr, size_t size)
{
    applied_t *rows;
    size_t n;
    if (load_applied(conn, &rows, &n, errstr, size) < 0)
        return -1;
    *version = n ? rows[n - 1].version : 0;
    free(rows);
    return 0;
}

static int take_lock(PGconn *conn, int timeout_ms, double *waited_ms, char *errstr, size_t size)
{
    int64_t t0 = dbev_mono_us();
    int rc = 0;
    if (timeout_ms <= 0) {
        PGresult *res = PQexec(conn, "SELECT pg_try_advisory_lock(" MIG_LOCK_KEY ")");
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = dbev_seterr(errstr, size, "taking the migration lock: %s", PQerrorMessage(conn));
        else if (PQgetvalue(res, 0, 0)[0] != 't')
            rc = dbev_seterr(errstr, size,
                             "refusing: another runner holds the migration lock of "
                             "database %s",
                             PQdb(conn));
        PQclear(res);
    } else {
        /* A session lock taken inside a transaction outlives its commit;
         * SET LOCAL keeps the caller's own lock_timeout untouched. */
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "BEGIN; SET LOCAL lock_timeout = %d; SELECT pg_advisory_lock(" MIG_LOCK_KEY
                 "); COMMIT",
                 timeout_ms);
        PGresult *res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (state && strcmp(state, "55P03") == 0)
                rc = dbev_seterr(errstr, size,
                                 "refusing: another runner holds the migration lock of database %s "
                                 "(waited %d ms)",
                                 PQdb(conn), timeout_ms);
            else
                rc = dbev_seterr(errstr, size, "taking the migration lock: %s",
                                 PQerrorMessage(conn));
            PQclear(res);
            res = PQexec(conn, "ROLLBACK");
        }
        PQclear(res);
    }
    *waited_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    return rc;
}

static void release_lock(PGconn *conn)
{
    PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIG_LOCK_KEY ")"));
}

static int ensure_table(PGconn *conn, char *errstr, size_t size)
{
    bool exists;
    if (table_exists(conn, &exists, errstr, size) < 0)
        return -1;
    if (exists)
        return 0;
    return exec_cmd(conn,
                    "CREATE TABLE public." MIG_TABLE " ("
                    " version integer PRIMARY KEY,"
                    " name text NOT NULL,"
                    " checksum char(64) NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now(),"
                    " duration_ms double precision NOT NULL);"
                    "COMMENT ON TABLE public." MIG_TABLE " IS"
                    " 'Applied dbev migrations: version, file name, SHA-256 of the up file, when,"
                    " how long'",
                    "creating " MIG_TABLE, errstr, size);
}

/* Runs a check file under a savepoint that is rolled back either way. */
static int run_check(PGconn *conn, const char *path, const char *sql, const char *role,
                     char *errstr, size_t size)
{
    if (!sql)
        return 0;
    char err[1024];
    if (exec_cmd(conn, "SAVEPOINT mig_check", "savepoint", errstr, size) < 0)
        return -1;
    if (mig_exec_script(conn, path, sql, err, sizeof(err)) < 0)
        return dbev_seterr(errstr, size, "%s failed: %s", role, err);
    return exec_cmd(conn, "ROLLBACK TO SAVEPOINT mig_check; RELEASE SAVEPOINT mig_check",
                    "savepoint", errstr, size);
}

static int apply_step(PGconn *conn, const mig_migration_t *m, mig_direction_t dir, bool checks,
                      double *duration_ms, char *errstr, size_t size)
{
    char err[1536];
    int rc = exec_cmd(conn, "BEGIN", "BEGIN", err, sizeof(err));
    if (rc == 0 && checks)
        rc = dir == MIG_UP ? run_check(conn, m->pre_path, m->pre_sql, "pre-check", err, sizeof(err))
                           : run_check(conn, m->post_path, m->post_sql, "post-check (before down)",
                                       err, sizeof(err));
    int64_t t0 = dbev_mono_us();
    if (rc == 0)
        rc = mig_exec_script(conn, dir == MIG_UP ? m->up_path : m->down_path,
                             dir == MIG_UP ? m->up_sql : m->down_sql, err, sizeof(err));
    *duration_ms = (double)(dbev_mono_us() - t0) / 1000.0;
    if (rc == 0 && checks)
        rc = dir == MIG_UP
                 ? run_check(conn, m->post_path, m->post_sql, "post-check", err, sizeof(err))
                 : run_check(conn, m->pre_path, m->pre_sql, "pre-check (after down)", err,
                             sizeof(err));
    if (rc == 0) {
        char version[16], duration[32];
        snprintf(version, sizeof(version), "%d", m->version);
        snprintf(duration, sizeof(duration), "%.3f", *duration_ms);
        const char *params[4] = {version, m->name, m->checksum, duration};
        PGresult *res =
            dir == MIG_UP
                ? PQexecParams(conn,
                               "INSERT INTO public." MIG_TABLE
                               " (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
                               4, NULL, params, NULL, NULL, 0)
                : PQexecParams(conn, "DELETE FROM public." MIG_TABLE " WHERE version = $1", 1, NULL,
                               params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = dbev_seterr(err, sizeof(err), "recording in " MIG_TABLE ": %s",
                             PQerrorMessage(conn));
        PQclear(res);
    }
    if (rc == 0)
        rc = exec_cmd(conn, "COMMIT", "COMMIT", err, sizeof(err));
    if (rc != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return dbev_seterr(errstr, size, "%03d_%s %s failed, rolled back: %s", m->version, m->name,
                           dir == MIG_UP ? "up" : "down", err);
    }
    return 0;
}

int mig_run(PGconn *conn, const mig_set_t *set, mig_direction_t direction, const mig_opts_t *opts,
            mig_result_t *res, char *errstr, size_t size)
{
    mig_opts_t defaults;
    if (!opts) {
        mig_opts_init(&defaults);
        opts = &defaults;
    }
    memset(res, 0, sizeof(*res));
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return dbev_seterr(errstr, size,
                           "the connection is inside a transaction or busy: each "
                           "migration runs in its own transaction");
    bool locked = false;
    applied_t *rows = NULL;
    size_t nrows = 0;
    int rc = 0;

    if (!opts->dry_run) {
        if (take_lock(conn, opts->lock_timeout_ms, &res->lock_wait_ms, errstr, size) < 0)
            return -1;
        locked = true;
        if (ensure_table(conn, errstr, size) < 0) {
            rc = -1;
            goto out;
        }
    }
    /* Read the state only now: a runner that waited sees the other's work. */
    if (load_applied(conn, &rows, &nrows, errstr, size) < 0 ||
        check_applied(set, rows, nrows, errstr, size) < 0) {
        rc = -1;
        goto out;
    }
    int current = nrows ? rows[nrows - 1].version : 0;
    int latest = mig_set_latest(set);
    int target = opts->target >= 0 ? opts->target : direction == MIG_UP ? latest : 0;
    res->from_version = res->to_version = current;
    if (target > latest) {
        rc = dbev_seterr(errstr, size, "no migration %03d in %s (latest is %03d)", target, set->dir,
                         latest);
        goto out;
    }
    if (direction == MIG_UP && target < current) {
        rc = dbev_seterr(errstr, size, "database is at %03d, above --to %03d: use down", current,
                         target);
        goto out;
    }
    if (direction == MIG_DOWN && target > current) {
        rc = dbev_seterr(errstr, size, "database is at %03d, below --to %03d: use up", current,
                         target);
        goto out;
    }
    size_t nsteps = (size_t)(direction == MIG_UP ? target - current : current - target);
    res->steps = calloc(nsteps ? nsteps : 1, sizeof(*res->steps));
    if (!res->steps) {
        rc = dbev_seterr(errstr, size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nsteps; i++) {
        int v = direction == MIG_UP ? current + 1 + (int)i : current - (int)i;
        res->steps[i].version = v;
        res->steps[i].name = set->items[v - 1].name;
        res->steps[i].direction = direction;
    }
    res->nsteps = nsteps;
    if (opts->dry_run)
        goto out;
    for (size_t i = 0; i < nsteps; i++) {
        mig_step_t *step = &res->steps[i];
        const mig_migration_t *m = &set->items[step->version - 1];
        if (apply_step(conn, m, direction, !opts->skip_checks, &step->duration_ms, errstr, size) <
            0) {
            res->failed = 1;
            res->nsteps = i + 1;
            dbev_logf(opts->logger, DBEV_LOG_ERROR, NULL, "%s", errstr);
            rc = -1;
            break;
        }
        step->done = true;
        res->applied++;
        res->to_version = direction == MIG_UP ? step->version : step->version - 1;
        dbev_logf(opts->logger, DBEV_LOG_INFO, NULL, "%s %03d_%s in %.1f ms",
                  direction == MIG_UP ? "applied" : "reverted", m->version, m->name,
                  step->duration_ms);
    }
out:
    if (locked)
        release_lock(conn);
    free(rows);
    return rc;
}

int mig_status(PGconn *conn, const mig_set_t *set, mig_status_row_t **out, size_t *nout,
               char *errstr, size_t size)
{
    applied_t *rows;
    size_t nrows;
    *out = NULL;
    *nout = 0;
    if (load_applied(conn, &rows, &nrows, errstr, size) < 0)
        return -1;
    size_t max = set->count;
    for (size_t i = 0; i < nrows; i++)
        if ((size_t)rows[i].version > max)
            max = (size_t)rows[i].version;
    mig_status_row_t *st = calloc(max ? max : 1, sizeof(*st));
    if (!st) {
        free(rows);
        return dbev_seterr(errstr, size, "out of memory");
    }
    for (size_t v = 1; v <= max; v++) {
        mig_status_row_t *r = &st[v - 1];
        r->version = (int)v;
        const applied_t *a = NULL;
        for (size_t i = 0; i < nrows; i++)
            if (rows[i].version == (int)v)
                a = &rows[i];
        const mig_migration_t *m = v <= set->count ? &set->items[v - 1] : NULL;
        snprintf(r->name, sizeof(r->name), "%s", m ? m->name : a ? a->name : "?");
        if (!a) {
            snprintf(r->state, sizeof(r->state), "pending");
        } else {
            snprintf(r->applied_at, sizeof(r->applied_at), "%s", a->applied_at);
            r->duration_ms = a->duration_ms;
            snprintf(r->state, sizeof(r->state), "%s",
                     !m                                      ? "no file"
                     : strcmp(m->checksum, a->checksum) != 0 ? "changed"
                                                             : "applied");
        }
    }
    free(rows);
    *out = st;
    *nout = max;
    return 0;
}

int mig_table_sizes(PGconn *conn, mig_table_size_t **out, size_t *n, char *errstr, size_t size)
{
    *out = NULL;
    *n = 0;
    PGresult *res = PQexec(conn, "SELECT n.nspname, c.relname, pg_total_relation_size(c.oid),"
                                 " pg_size_pretty(pg_total_relation_size(c.oid))"
                                 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                 " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%'"
                                 " AND n.nspname <> 'information_schema'"
                                 " AND NOT (n.nspname = 'public' AND c.relname = '" MIG_TABLE "')"
                                 " ORDER BY 1, 2");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        dbev_seterr(errstr, size, "table sizes: %s", PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    int nt = PQntuples(res);
    mig_table_size_t *t = calloc(nt ? (size_t)nt : 1, sizeof(*t));
    if (!t) {
        PQclear(res);
        return dbev_seterr(errstr, size, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < nt && rc == 0; i++) {
        snprintf(t[i].name, sizeof(t[i].name), "%s.%s", PQgetvalue(res, i, 0),
                 PQgetvalue(res, i, 1));
        t[i].bytes = atoll(PQgetvalue(res, i, 2));
        snprintf(t[i].pretty, sizeof(t[i].pretty), "%s", PQgetvalue(res, i, 3));
        /* Exact row counts: the summary is for small, freshly migrated databases. */
        char *schema =
            PQescapeIdentifier(conn, PQgetvalue(res, i, 0), strlen(PQgetvalue(res, i, 0)));
        char *table =
            PQescapeIdentifier(conn, PQgetvalue(res, i, 1), strlen(PQgetvalue(res, i, 1)));
        char sql[512];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s", schema ? schema : "",
                 table ? table : "");
        PQfreemem(schema);
        PQfreemem(table);
        PGresult *cr = PQexec(conn, sql);
        if (PQresultStatus(cr) == PGRES_TUPLES_OK)
            t[i].rows = atoll(PQgetvalue(cr, 0, 0));
        else
            rc = dbev_seterr(errstr, size, "counting rows of %s: %s", t[i].name,
                             PQerrorMessage(conn));
        PQclear(cr);
    }
    PQclear(res);
    if (rc < 0) {
        free(t);
        return -1;
    }
    *out = t;
    *n = (size_t)nt;
    return 0;
}
