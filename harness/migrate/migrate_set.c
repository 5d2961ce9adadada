/*
 * The migrations on disk: reading a directory of NNN_name.{up,down,pre,post}.sql
 * files into a validated set (no gap, no duplicate, up and down for each
 * version), splitting SQL into statements, and running a script statement by
 * statement so that an error can be reported as file:line. Running statement
 * by statement is what makes the line exact: PostgreSQL's error position is
 * relative to the statement sent, and errors without a position (a duplicate
 * table, a failed ASSERT) still belong to one known statement.
 */
#include "migrate/migrate.h"
#include "util/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *mig_default_dir(void)
{
    const char *env = getenv("DBEV_MIGRATIONS_DIR");
    if (env && *env)
        return env;
    return DBEV_SOURCE_DIR "/migrations";
}

char *mig_read_file(const char *path, size_t *len_out, char *errstr, size_t size)
{
    size_t len = 0;
    char *buf = dbev_read_file(path, &len, errstr, size);
    if (buf && strlen(buf) != len) {
        free(buf);
        dbev_seterr(errstr, size, "%s: contains a NUL byte", path);
        return NULL;
    }
    if (buf && len_out)
        *len_out = len;
    return buf;
}

/* Kinds of file a migration has; the order is the hashing order. */
enum { K_UP, K_DOWN, K_PRE, K_POST, K_COUNT };
static const char *const kind_suffix[K_COUNT] = {".up.sql", ".down.sql", ".pre.sql", ".post.sql"};

/* Parses "NNN_name<suffix>"; returns the kind or -1 when it is no migration file. */
static int parse_name(const char *file, int *version, char *name, size_t name_size)
{
    size_t flen = strlen(file);
    int kind = -1;
    size_t slen = 0;
    for (int k = 0; k < K_COUNT; k++) {
        slen = strlen(kind_suffix[k]);
        if (flen > slen && strcmp(file + flen - slen, kind_suffix[k]) == 0) {
            kind = k;
            break;
        }
    }
    if (kind < 0)
        return -1;
    size_t digits = 0;
    while (isdigit((unsigned char)file[digits]))
        digits++;
    if (digits != 3 || file[3] != '_' || flen - slen <= 4)
        return -1;
    *version = atoi(file);
    size_t nlen = flen - slen - 4;
    if (nlen >= name_size)
        nlen = name_size - 1;
    memcpy(name, file + 4, nlen);
    name[nlen] = '\0';
    return kind;
}

static char *path_join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

void mig_set_destroy(mig_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        mig_migration_t *m = &set->items[i];
        free(m->name);
        free(m->up_path);
        free(m->down_path);
        free(m->pre_path);
        free(m->post_path);
        free(m->up_sql);
        free(m->down_sql);
        free(m->pre_sql);
        free(m->post_sql);
    }
    free(set->items);
    free(set->dir);
    free(set);
}

int mig_set_latest(const mig_set_t *set)
{
    return set ? (int)set->count : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mig_set_t *mig_set_load(const char *dir, char *errstr, size_t size)
{
    DIR *d = opendir(dir);
    if (!d) {
        dbev_seterr(errstr, size, "migrations directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    /* Collect and sort the names first so that errors are deterministic. */
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int v;
        char name[256];
        if (parse_name(de->d_name, &v, name, sizeof(name)) < 0)
            continue;
        if (nfiles == cap) {
            cap = cap ? cap * 2 : 32;
            char **nf = realloc(files, cap * sizeof(*files));
            if (!nf)
                break;
            files = nf;
        }
        files[nfiles] = strdup(de->d_name);
        if (files[nfiles])
            nfiles++;
    }
    closedir(d);
    qsort(files, nfiles, sizeof(*files), cmp_str);

    mig_set_t *set = calloc(1, sizeof(*set));
    int rc = 0;
    if (!set || !(set->dir = strdup(dir))) {
        rc = dbev_seterr(errstr, size, "out of memory");
        goto out;
    }
    int maxv = 0;
    for (size_t i = 0; i < nfiles; i++) {
        int v;
        char name[256];
        parse_name(files[i], &v, name, sizeof(name));
        if (v > maxv)
            maxv = v;
    }
    if (maxv > 999) {
        rc = dbev_seterr(errstr, size, "%s: version above 999", dir);
        goto out;
    }
    set->items = calloc(maxv ? (size_t)maxv : 1, sizeof(*set->items));
    if (!set->items) {
        rc = dbev_seterr(errstr, size, "out of memory");
        goto out;
    }
    set->count = (size_t)maxv;
    for (size_t i = 0; i < nfiles && rc == 0; i++) {
        int v;
        char name[256];
        int kind = parse_name(files[i], &v, name, sizeof(name));
        if (v == 0) {
            rc = dbev_seterr(errstr, size, "%s/%s: versions start at 001", dir, files[i]);
            break;
        }
        mig_migration_t *m = &set->items[v - 1];
        m->version = v;
        if (m->name && strcmp(m->name, name) != 0) {
            rc = dbev_seterr(
                errstr, size,
                "duplicate version %03d in %s: %03d_%s and %03d_%s (one name per version)", v, dir,
                v, m->name, v, name);
            break;
        }
        if (!m->name && !(m->name = strdup(name))) {
            rc = dbev_seterr(errstr, size, "out of memory");
            break;
        }
        char **path = kind == K_UP     ? &m->up_path
                      : kind == K_DOWN ? &m->down_path
                      : kind == K_PRE  ? &m->pre_path
                                       : &m->post_path;
        char **sql = kind == K_UP     ? &m->up_sql
                     : kind == K_DOWN ? &m->down_sql
                     : kind == K_PRE  ? &m->pre_sql
                                      : &m->post_sql;
        *path = path_join(dir, files[i]);
        if (!*path) {
            rc = dbev_seterr(errstr, size, "out of memory");
            break;
        }
        size_t len = 0;
        *sql = mig_read_file(*path, &len, errstr, size);
        if (!*sql) {
            rc = -1;
            break;
        }
        if (kind == K_UP && !harness_sha256_hex(*sql, len, m->checksum)) {
            rc = dbev_seterr(errstr, size, "SHA-256: libcrypto failed (out of memory)");
            break;
        }
    }
    for (size_t i = 0; i < set->count && rc == 0; i++) {
        mig_migration_t *m = &set->items[i];
        if (!m->name) {
            rc = dbev_seterr(errstr, size,
                             "version gap in %s: %03zu is missing (versions must run 001..%03zu "
                             "without holes)",
                             dir, i + 1, set->count);
        } else if (!m->up_sql) {
            rc = dbev_seterr(errstr, size, "%s: %03d_%s has no .up.sql file", dir, m->version,
                             m->name);
        } else if (!m->down_sql) {
            rc = dbev_seterr(errstr, size,
                             "%s: %03d_%s has no .down.sql file (every migration must "
                             "be reversible)",
                             dir, m->version, m->name);
        }
    }
out:
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    if (rc != 0) {
        mig_set_destroy(set);
        return NULL;
    }
    return set;
}

void mig_set_hash(const mig_set_t *set, EVP_MD_CTX *ctx)
{
    for (size_t i = 0; i < set->count; i++) {
        const mig_migration_t *m = &set->items[i];
        const char *paths[K_COUNT] = {m->up_path, m->down_path, m->pre_path, m->post_path};
        const char *sqls[K_COUNT] = {m->up_sql, m->down_sql, m->pre_sql, m->post_sql};
        for (int k = 0; k < K_COUNT; k++) {
            if (!sqls[k])
                continue;
            const char *base = strrchr(paths[k], '/');
            base = base ? base + 1 : paths[k];
            EVP_DigestUpdate(ctx, base, strlen(base) + 1);
            EVP_DigestUpdate(ctx, sqls[k], strlen(sqls[k]) + 1);
        }
    }
}

/* ---- statement splitting ----------------------------------------------------- */

/* Length of a dollar-quote tag ("$$" or "$tag$") starting at p, 0 if none. */
static size_t dollar_tag(const char *p)
{
    if (p[0] != '$')
        return 0;
    size_t i = 1;
    if (isdigit((unsigned char)p[1]))
        return 0; /* $1 is a parameter */
    while (isalnum((unsigned char)p[i]) || p[i] == '_' || (unsigned char)p[i] >= 0x80)
        i++;
    return p[i] == '$' ? i + 1 : 0;
}

int mig_sql_split(const char *sql, mig_stmt_t **out, char *errstr, size_t size)
{
    *out = NULL;
    size_t n = 0, cap = 0;
    int line = 1;
    size_t i = 0;
    /* Current statement: where its first significant character is. */
    bool have = false;
    size_t start = 0;
    int start_line = 0, body_line = 0;
    while (sql[i]) {
        char c = sql[i];
        if (c == '\n') {
            line++;
            i++;
            continue;
        }
        if (isspace((unsigned char)c)) {
            i++;
            continue;
        }
        if (c == '-' && sql[i + 1] == '-') {
            while (sql[i] && sql[i] != '\n')
                i++;
            continue;
        }
        if (c == '/' && sql[i + 1] == '*') {
            int depth = 1, open_line = line;
            i += 2;
            while (sql[i] && depth > 0) {
                if (sql[i] == '\n')
                    line++;
                if (sql[i] == '/' && sql[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (sql[i] == '*' && sql[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
            if (depth > 0) {
                free(*out);
                *out = NULL;
                return dbev_seterr(errstr, size, "line %d: unterminated /* comment", open_line);
            }
            continue;
        }
        if (!have) {
            have = true;
            start = i;
            start_line = line;
            body_line = 0;
        }
        if (c == ';') {
            if (n == cap) {
                cap = cap ? cap * 2 : 32;
                mig_stmt_t *ns = realloc(*out, cap * sizeof(**out));
                if (!ns) {
                    free(*out);
                    *out = NULL;
                    return dbev_seterr(errstr, size, "out of memory");
                }
                *out = ns;
            }
            (*out)[n].start = start;
            (*out)[n].len = i + 1 - start;
            (*out)[n].line = start_line;
            (*out)[n].body_line = body_line;
            n++;
            have = false;
            i++;
            continue;
        }
        if (c == '\'' || c == '"') {
            /* E'...' strings allow backslash escapes. */
            bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                           (i < 2 || !isalnum((unsigned char)sql[i - 2]));
            int open_line = line;
            i++;
            for (;;) {
                if (!sql[i]) {
                    free(*out);
                    *out = NULL;
                    return dbev_seterr(errstr, size, "line %d: unterminated %s", open_line,
                                       c == '"' ? "quoted identifier" : "string");
                }
                if (sql[i] == '\n')
                    line++;
                if (escapes && sql[i] == '\\' && sql[i + 1]) {
                    if (sql[i + 1] == '\n')
                        line++;
                    i += 2;
                    continue;
                }
                if (sql[i] == c) {
                    if (sql[i + 1] == c) { /* doubled quote */
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
            continue;
        }
        size_t tag =
            c == '$' && (i == 0 || !(isalnum((unsigned char)sql[i - 1]) || sql[i - 1] == '_'))
                ? dollar_tag(sql + i)
                : 0;
        if (tag > 0) {
            size_t open = i;
            int open_line = line;
            if (!body_line)
                body_line = line;
            i += tag;
            while (sql[i] && strncmp(sql + i, sql + open, tag) != 0) {
                if (sql[i] == '\n')
                    line++;
                i++;
            }
            if (!sql[i]) {
                free(*out);
                *out = NULL;
                return dbev_seterr(errstr, size, "line %d: unterminated dollar quote", open_line);
            }
            i += tag;
            continue;
        }
        i++;
    }
    if (have) {
        /* A last statement without a semicolon. */
        if (n == cap) {
            cap = cap ? cap + 1 : 1;
            mig_stmt_t *ns = realloc(*out, cap * sizeof(**out));
            if (!ns) {
                free(*out);
                *out = NULL;
                return dbev_seterr(errstr, size, "out of memory");
            }
            *out = ns;
        }
        size_t end = strlen(sql);
        while (end > start && isspace((unsigned char)sql[end - 1]))
            end--;
        (*out)[n].start = start;
        (*out)[n].len = end - start;
        (*out)[n].line = start_line;
        (*out)[n].body_line = body_line;
        n++;
    }
    return (int)n;
}

/* ---- running a script ---------------------------------------------------------- */

/* PostgreSQL counts error positions in characters (1-based); the files are
 * UTF-8, so skip continuation bytes when converting to a byte offset. */
static size_t char_to_byte(const char *s, size_t len, long pos)
{
    size_t b = 0;
    long chars = 0;
    while (b < len) {
        if (((unsigned char)s[b] & 0xC0) != 0x80) {
            chars++;
            if (chars == pos)
                return b;
        }
        b++;
    }
    return len;
}

static int error_line(const mig_stmt_t *st, const char *text, const PGresult *res)
{
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    if (pos && atol(pos) > 0) {
        size_t b = char_to_byte(text, st->len, atol(pos));
        int line = st->line;
        for (size_t k = 0; k < b; k++)
            if (text[k] == '\n')
                line++;
        return line;
    }
    /* Errors inside a DO block carry "PL/pgSQL function inline_code_block
     * line N" in their context: N counts from the line of the opening $$. */
    const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
    const char *p = ctx && st->body_line ? strstr(ctx, "inline_code_block line ") : NULL;
    if (p) {
        int n = atoi(p + strlen("inline_code_block line "));
        if (n > 0)
            return st->body_line + n - 1;
    }
    return st->line;
}

/* Transaction control belongs to the runner: a COMMIT inside a migration
 * would make half of it permanent. Returns the keyword, or NULL. */
static const char *transaction_control(const char *stmt, size_t len)
{
    static const char *const words[] = {"BEGIN", "COMMIT", "ROLLBACK",  "END",
                                        "ABORT", "START",  "SAVEPOINT", "RELEASE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);
        if (len >= wl && strncasecmp(stmt, words[i], wl) == 0 &&
            (len == wl || !(isalnum((unsigned char)stmt[wl]) || stmt[wl] == '_')))
            return words[i];
    }
    return NULL;
}

int mig_exec_script(PGconn *conn, const char *path, const char *sql, char *errstr, size_t size)
{
    mig_stmt_t *stmts = NULL;
    char err[256];
    int n = mig_sql_split(sql, &stmts, err, sizeof(err));
    if (n < 0)
        return dbev_seterr(errstr, size, "%s:%s", path, err + strlen("line "));
    for (int i = 0; i < n; i++) {
        const char *word = transaction_control(sql + stmts[i].start, stmts[i].len);
        if (word) {
            int line = stmts[i].line;
            free(stmts);
            return dbev_seterr(errstr, size,
                               "%s:%d: %s is not allowed here: the runner wraps each file in "
                               "one transaction",
                               path, line, word);
        }
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char *text = strndup(sql + stmts[i].start, stmts[i].len);
        if (!text) {
            rc = dbev_seterr(errstr, size, "out of memory");
            break;
        }
        PGresult *res = PQexec(conn, text);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
            const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
            const char *sev = res ? PQresultErrorField(res, PG_DIAG_SEVERITY) : NULL;
            const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
            const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
            char connmsg[256];
            if (!msg) {
                snprintf(connmsg, sizeof(connmsg), "%s", PQerrorMessage(conn));
                connmsg[strcspn(connmsg, "\n")] = '\0';
                msg = connmsg;
            }
            int line = res ? error_line(&stmts[i], text, res) : stmts[i].line;
            rc = dbev_seterr(errstr, size, "%s:%d: %s: %s%s%s (SQLSTATE %s)", path, line,
                             sev ? sev : "ERROR", msg, detail ? "; " : "", detail ? detail : "",
                             state ? state : "none");
        }
        PQclear(res);
        free(text);
    }
    free(stmts);
    return rc;
}
