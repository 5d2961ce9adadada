/*
 * migrate: the schema migrations of dbev and the runner that applies, undoes
 * and verifies them on any PostgreSQL connection (the embedded throwaway
 * server or an existing one given by DSN).
 *
 * A migrations directory holds, per version NNN (001, 002, ... without gaps):
 *   NNN_name.up.sql     applied by `up`, in one transaction;
 *   NNN_name.down.sql   undoes it exactly (applied by `down`);
 *   NNN_name.pre.sql    optional assertions that hold before up (and after down);
 *   NNN_name.post.sql   optional assertions that hold after up (and before down).
 * Checks run inside the migration's transaction, under a savepoint that is
 * rolled back, so they leave nothing behind; a failing check fails (and rolls
 * back) the migration. The runner records applied versions in
 * public.schema_migrations (version, name, SHA-256 of the up file, applied_at,
 * duration_ms) and serialises runners with a session advisory lock.
 *
 * Checksums are computed here in C (libcrypto's SHA-256, util.h) from the file
 * bytes, so they are known without a connection (dry runs, template keys).
 *
 * Errors: -1 and one line in errstr. Statement errors name the file and line,
 * "path:line: ERROR: message (SQLSTATE xxxxx)".
 * Library code: nothing here prints; the commands print the results.
 */
#ifndef HARNESS_MIGRATE_H
#define HARNESS_MIGRATE_H

#include "dbev_common.h"

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/** The table the runner keeps its records in (public schema). */
#define MIG_TABLE "schema_migrations"

/** One migration as found on disk. Strings are owned by the set. */
typedef struct mig_migration {
    int version;
    char *name;    /* "agent_definitions" for 001_agent_definitions.up.sql */
    char *up_path; /* full paths */
    char *down_path;
    char *pre_path;  /* NULL when absent */
    char *post_path; /* NULL when absent */
    char *up_sql;    /* file contents, NUL-terminated */
    char *down_sql;
    char *pre_sql; /* NULL when absent */
    char *post_sql;
    char checksum[65]; /* SHA-256 of up_sql, hex */
} mig_migration_t;

/** A loaded migrations directory, versions 1..count in order. */
typedef struct mig_set {
    char *dir;
    mig_migration_t *items; /* items[i].version == i + 1 */
    size_t count;
} mig_set_t;

/**
 * @brief The migrations directory to use when none is given: $DBEV_MIGRATIONS_DIR
 *        if set, else DBEV_SOURCE_DIR "/migrations". Static storage.
 */
const char *mig_default_dir(void);

/**
 * @brief Reads and validates a migrations directory: file names, no version
 *        gap, no duplicate version, an up and a down file for each version.
 * @returns the set, to be freed with mig_set_destroy(), or NULL with errstr
 *          naming the offending file(s).
 */
mig_set_t *mig_set_load(const char *dir, char *errstr, size_t size);
void mig_set_destroy(mig_set_t *set);

/** Latest version in the set (0 for an empty set). */
int mig_set_latest(const mig_set_t *set);

/**
 * @brief Feeds everything the set applies (file names and contents of all
 *        migration and check files, in version order) into a digest context
 *        (EVP_DigestInit_ex() with EVP_sha256()). Used for the template
 *        database key.
 */
void mig_set_hash(const mig_set_t *set, EVP_MD_CTX *ctx);

/** Reads a whole SQL file (dbev_read_file()), refusing one that holds a NUL byte;
 *  NULL with errstr. Free with free(). */
char *mig_read_file(const char *path, size_t *len_out, char *errstr, size_t size);

/* ---- SQL scripts ---------------------------------------------------------- */

/** One statement of a script: [start, start+len) of the script text. */
typedef struct mig_stmt {
    size_t start, len;
    int line;      /* file line of the statement's first character */
    int body_line; /* file line of its first dollar quote (function/DO body), 0 if none */
} mig_stmt_t;

/**
 * @brief Splits SQL text into statements at top-level semicolons, aware of
 *        quotes, dollar quotes and comments. Statements that are only
 *        comments are dropped.
 * @returns the count; *out is malloc'ed (free with free()), NULL when 0.
 *          -1 on allocation failure or an unterminated quote/comment (errstr).
 */
int mig_sql_split(const char *sql, mig_stmt_t **out, char *errstr, size_t size);

/**
 * @brief Runs a script statement by statement on conn (inside the caller's
 *        transaction if one is open). Stops at the first error.
 * @param path shown in errors ("path:line: ...").
 * @returns 0, or -1 with errstr "path:line: ERROR: message (SQLSTATE x)".
 */
int mig_exec_script(PGconn *conn, const char *path, const char *sql, char *errstr, size_t size);

/* ---- the runner ----------------------------------------------------------- */

typedef enum { MIG_UP = 0, MIG_DOWN = 1 } mig_direction_t;

typedef struct mig_opts {
    int target;                  /* version to end at; -1: latest for up, 0 for down */
    bool dry_run;                /* plan only: read state, apply nothing, take no lock */
    int lock_timeout_ms;         /* wait this long for another runner; 0: refuse at once */
    bool skip_checks;            /* do not run pre/post checks */
    const dbev_logger_t *logger; /* progress lines; NULL: none */
} mig_opts_t;

/** Defaults: target -1, no dry run, lock timeout 10 s, checks on. */
void mig_opts_init(mig_opts_t *opts);

typedef struct mig_step {
    int version;
    const char *name; /* borrowed from the set */
    mig_direction_t direction;
    double duration_ms; /* 0 for planned steps */
    bool done;          /* applied (false: planned only, or failed) */
} mig_step_t;

/** What a run did. Free with mig_result_clear(). */
typedef struct mig_result {
    mig_step_t *steps;
    size_t nsteps;    /* planned (dry run) or attempted */
    size_t applied;   /* steps done */
    size_t failed;    /* 0 or 1 */
    int from_version; /* version before the run */
    int to_version;   /* version after the run */
    double lock_wait_ms;
} mig_result_t;

void mig_result_clear(mig_result_t *res);

/**
 * @brief Migrates conn's database up or down to opts->target.
 *        Takes the advisory lock (waiting up to lock_timeout_ms), creates
 *        schema_migrations when missing, refuses when an applied migration's
 *        file changed or an applied version has no file, then applies each
 *        step in its own transaction with its checks. A failing step is
 *        rolled back whole and the run stops there.
 * @returns 0 when every planned step was done (or planned, on a dry run);
 *          -1 with errstr otherwise (res says what was done before).
 * @remark conn must be idle (not inside a transaction). res is always
 *         initialised; free it with mig_result_clear().
 */
int mig_run(PGconn *conn, const mig_set_t *set, mig_direction_t direction, const mig_opts_t *opts,
            mig_result_t *res, char *errstr, size_t size);

/** Applied version of conn's database (0 when schema_migrations is missing or empty). */
int mig_current_version(PGconn *conn, int *version, char *errstr, size_t size);

/** One row of the status report. */
typedef struct mig_status_row {
    int version;
    char name[128];
    char state[16];      /* "applied", "pending", "changed", "no file" */
    char applied_at[40]; /* ISO text, empty when pending */
    double duration_ms;  /* as recorded */
} mig_status_row_t;

/** Status of every version in the set and in the table. *rows malloc'ed (free()). */
int mig_status(PGconn *conn, const mig_set_t *set, mig_status_row_t **rows, size_t *nrows,
               char *errstr, size_t size);

/** A table and its total size on disk (with indexes and toast). */
typedef struct mig_table_size {
    char name[160]; /* schema.table */
    long long bytes;
    char pretty[32]; /* pg_size_pretty */
    long long rows;  /* exact count */
} mig_table_size_t;

/** Every user table of conn's database but schema_migrations; *out malloc'ed. */
int mig_table_sizes(PGconn *conn, mig_table_size_t **out, size_t *n, char *errstr, size_t size);

/* ---- catalog snapshots and the expected-schema manifest -------------------- */

/**
 * A catalog as a sorted list of (object, attribute, value). Objects are paths
 * such as "tables/public.agent_definitions/columns/id" and attributes their
 * properties ("type" -> "uuid"). The same form holds a live snapshot and the
 * YAML manifest, so comparing the two is a merge of sorted lists.
 */
typedef struct mig_entry {
    char *object;
    char *attr;
    char *value;
} mig_entry_t;

typedef struct mig_catalog {
    mig_entry_t *entries;
    size_t count, cap;
    int version; /* manifest's migration_version, or the snapshot's applied version */
} mig_catalog_t;

/** Reads the live catalog of conn's database (all non-system schemas, without schema_migrations).
 */
mig_catalog_t *mig_catalog_snapshot(PGconn *conn, char *errstr, size_t size);
/** Reads an expected-schema manifest (YAML). */
mig_catalog_t *mig_catalog_load_yaml(const char *path, char *errstr, size_t size);
/** Writes a catalog as a manifest. header: comment lines ("# ..."), may be NULL. */
int mig_catalog_write_yaml(const mig_catalog_t *cat, FILE *out, const char *header, char *errstr,
                           size_t size);
void mig_catalog_destroy(mig_catalog_t *cat);

/**
 * @brief Differences between an expected and an actual catalog, one line per
 *        difference: "missing index public.t.idx", "extra column public.t.c",
 *        "different column public.t.c: type expected numeric(5,4), found text".
 *        Children of a missing or extra object are not listed again.
 * @returns the number of differences; *text (malloc'ed, free()) holds the
 *          lines, or NULL when there are none.
 */
size_t mig_catalog_diff(const mig_catalog_t *expected, const mig_catalog_t *actual, char **text);

/** Path of the manifest in a migrations directory. Written to buf; returns buf. */
const char *mig_manifest_path(const char *dir, char *buf, size_t size);
#define MIG_MANIFEST_FILE "expected_schema.yaml"

#endif
