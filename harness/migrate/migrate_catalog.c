/*
 * Catalog snapshots: the schema of a live database read from pg_catalog into
 * a flat, sorted list of (object path, attribute, value), the same list read
 * from or written to the expected-schema manifest (YAML, libyaml), and the
 * diff of two such lists. One flat form for both sides keeps verify, the
 * round-trip test and the per-step "down restores the catalog" test the same
 * code: compare two sorted lists.
 *
 * Object paths: schemas/S, extensions/E, tables/S.T, tables/S.T/columns/C,
 * tables/S.T/indexes/I, tables/S.T/constraints/K, tables/S.T/triggers/G,
 * views/S.V, sequences/S.Q, functions/S.F(argtypes). Every object has at
 * least one attribute, so an object exists exactly when it has entries.
 */
#include "migrate/migrate.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Schemas the snapshot covers, and the runner's own table it leaves out. */
#define USER_SCHEMAS     "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
#define NOT_RUNNER_TABLE "NOT (n.nspname = 'public' AND c.relname = '" MIG_TABLE "')"

void mig_catalog_destroy(mig_catalog_t *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->count; i++) {
        free(cat->entries[i].object);
        free(cat->entries[i].attr);
        free(cat->entries[i].value);
    }
    free(cat->entries);
    free(cat);
}

static int cat_add(mig_catalog_t *cat, const char *object, const char *attr, const char *value)
{
    if (cat->count == cat->cap) {
        size_t ncap = cat->cap ? cat->cap * 2 : 256;
        mig_entry_t *ne = realloc(cat->entries, ncap * sizeof(*ne));
        if (!ne)
            return -1;
        cat->entries = ne;
        cat->cap = ncap;
    }
    mig_entry_t *e = &cat->entries[cat->count];
    e->object = strdup(object);
    e->attr = strdup(attr);
    e->value = strdup(value ? value : "");
    if (!e->object || !e->attr || !e->value) {
        free(e->object);
        free(e->attr);
        free(e->value);
        return -1;
    }
    cat->count++;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const mig_entry_t *x = a, *y = b;
    int c = strcmp(x->object, y->object);
    return c ? c : strcmp(x->attr, y->attr);
}

static void cat_sort(mig_catalog_t *cat)
{
    qsort(cat->entries, cat->count, sizeof(*cat->entries), cmp_entry);
}

/* ---- live snapshot ------------------------------------------------------------ */

typedef struct query {
    const char *sql;
    /* Columns: 0 = object path; then (attribute name, column) pairs. An
     * attribute whose value is NULL is left out (optional attribute). */
    const char *attrs[10];
} query_t;

static const query_t queries[] = {
    {"SELECT 'schemas/' || n.nspname, coalesce(obj_description(n.oid, 'pg_namespace'), '')"
     " FROM pg_namespace n WHERE " USER_SCHEMAS,
     {"comment"}},
    {"SELECT 'extensions/' || e.extname, n.nspname FROM pg_extension e"
     " JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'",
     {"schema"}},
    {"SELECT 'tables/' || n.nspname || '.' || c.relname,"
     " CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END,"
     " coalesce(obj_description(c.oid, 'pg_class'), '')"
     " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
     " WHERE c.relkind IN ('r', 'p') AND " USER_SCHEMAS " AND " NOT_RUNNER_TABLE,
     {"kind", "comment"}},
    {"SELECT 'tables/' || n.nspname || '.' || c.relname || '/columns/' || a.attname,"
     " row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),"
     " format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'false' ELSE 'true' END,"
     " pg_get_expr(d.adbin, d.adrelid),"
     " CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,"
     " CASE a.attgenerated WHEN 's' THEN 'stored' END"
     " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
     " JOIN pg_namespace n ON n.oid = c.relnamespace"
     " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
     " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')"
     " AND " USER_SCHEMAS " AND " NOT_RUNNER_TABLE,
     {"position", "type", "nullable", "default", "identity", "generated"}},
    {"SELECT 'tables/' || n.nspname || '.' || c.relname || '/indexes/' || ic.relname,"
     " am.amname, CASE WHEN i.indisunique THEN 'true' ELSE 'false' END,"
     " CASE WHEN i.indisprimary THEN 'true' END,"
     " (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true)"
     "    || CASE WHEN i.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END"
     "    || CASE WHEN (i.indoption[k - 1] & 2 = 2) = (i.indoption[k - 1] & 1 = 1) THEN ''"
     "            WHEN i.indoption[k - 1] & 2 = 2 THEN ' NULLS FIRST' ELSE ' NULLS LAST' END,"
     "    ', ' ORDER BY k) FROM generate_series(1, i.indnkeyatts) k),"
     " pg_get_expr(i.indpred, i.indrelid)"
     " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
     " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
     " JOIN pg_am am ON am.oid = ic.relam"
     " WHERE " USER_SCHEMAS " AND " NOT_RUNNER_TABLE,
     {"method", "unique", "primary", "columns", "predicate"}},
    {"SELECT 'tables/' || n.nspname || '.' || c.relname || '/constraints/' || co.conname,"
     " CASE co.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'"
     "   WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion'"
     "   ELSE co.contype::text END,"
     " pg_get_constraintdef(co.oid, true),"
     " (SELECT fn.nspname || '.' || fc.relname FROM pg_class fc"
     "    JOIN pg_namespace fn ON fn.oid = fc.relnamespace WHERE fc.oid = co.confrelid)"
     " FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid"
     " JOIN pg_namespace n ON n.oid = c.relnamespace"
     " WHERE " USER_SCHEMAS " AND " NOT_RUNNER_TABLE,
     {"type", "definition", "references"}},
    {"SELECT 'tables/' || n.nspname || '.' || c.relname || '/triggers/' || t.tgname,"
     " CASE WHEN t.tgtype & 64 <> 0 THEN 'INSTEAD OF' WHEN t.tgtype & 2 <> 0 THEN 'BEFORE'"
     "   ELSE 'AFTER' END,"
     " array_to_string(ARRAY[CASE WHEN t.tgtype & 4 <> 0 THEN 'INSERT' END,"
     "   CASE WHEN t.tgtype & 16 <> 0 THEN 'UPDATE' END, CASE WHEN t.tgtype & 8 <> 0 THEN 'DELETE' "
     "END,"
     "   CASE WHEN t.tgtype & 32 <> 0 THEN 'TRUNCATE' END], ' OR '),"
     " CASE WHEN t.tgtype & 1 <> 0 THEN 'ROW' ELSE 'STATEMENT' END,"
     " pn.nspname || '.' || p.proname || '()',"
     " CASE t.tgenabled WHEN 'D' THEN 'disabled' WHEN 'O' THEN 'enabled' ELSE t.tgenabled::text END"
     " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
     " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid"
     " JOIN pg_namespace pn ON pn.oid = p.pronamespace"
     " WHERE NOT t.tgisinternal AND " USER_SCHEMAS " AND " NOT_RUNNER_TABLE,
     {"timing", "events", "level", "function", "enabled"}},
    {"SELECT 'views/' || n.nspname || '.' || c.relname,"
     " CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,"
     " pg_get_viewdef(c.oid, true)"
     " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
     " WHERE c.relkind IN ('v', 'm') AND " USER_SCHEMAS,
     {"kind", "definition"}},
    {"SELECT 'sequences/' || n.nspname || '.' || c.relname, format_type(s.seqtypid, NULL),"
     " (SELECT tn.nspname || '.' || tc.relname || '.' || ta.attname FROM pg_depend d"
     "    JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace"
     "    JOIN pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid"
     "   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')"
     "   LIMIT 1)"
     " FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid"
     " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " USER_SCHEMAS,
     {"type", "owned_by"}},
    {"SELECT 'functions/' || n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) "
     "|| ')',"
     " CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window'"
     "   ELSE 'function' END,"
     " pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), l.lanname,"
     " CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,"
     " left(encode(sha256(convert_to(coalesce(p.prosrc, ''), 'UTF8')), 'hex'), 16)"
     " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
     " JOIN pg_language l ON l.oid = p.prolang"
     " WHERE " USER_SCHEMAS " AND NOT EXISTS (SELECT 1 FROM pg_depend d"
     "   WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')",
     {"kind", "arguments", "returns", "language", "volatility", "body_sha256"}},
};

mig_catalog_t *mig_catalog_snapshot(PGconn *conn, char *errstr, size_t size)
{
    mig_catalog_t *cat = calloc(1, sizeof(*cat));
    if (!cat) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    if (mig_current_version(conn, &cat->version, errstr, size) < 0) {
        mig_catalog_destroy(cat);
        return NULL;
    }
    /* One snapshot, one view of the catalog; inside the caller's transaction
     * when there is one (never commit it for them). */
    bool own_tx = PQtransactionStatus(conn) == PQTRANS_IDLE;
    if (own_tx)
        PQclear(PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    int rc = 0;
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]) && rc == 0; q++) {
        PGresult *res = PQexec(conn, queries[q].sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = dbev_seterr(errstr, size, "catalog query %zu: %s", q, PQerrorMessage(conn));
            PQclear(res);
            break;
        }
        for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
            const char *object = PQgetvalue(res, r, 0);
            for (int a = 0; a < 10 && queries[q].attrs[a] && rc == 0; a++) {
                if (PQgetisnull(res, r, a + 1))
                    continue;
                if (cat_add(cat, object, queries[q].attrs[a], PQgetvalue(res, r, a + 1)) < 0)
                    rc = dbev_seterr(errstr, size, "out of memory");
            }
        }
        PQclear(res);
    }
    if (own_tx)
        PQclear(PQexec(conn, "COMMIT"));
    if (rc < 0) {
        mig_catalog_destroy(cat);
        return NULL;
    }
    cat_sort(cat);
    return cat;
}

/* ---- diff ------------------------------------------------------------------------ */

typedef struct strbuf {
    char *buf;
    size_t len, cap;
} strbuf_t;

static void sb_printf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (sb->len + (size_t)n + 1 > sb->cap) {
        size_t ncap = (sb->cap ? sb->cap * 2 : 1024) + (size_t)n;
        char *nb = realloc(sb->buf, ncap);
        if (!nb)
            return;
        sb->buf = nb;
        sb->cap = ncap;
    }
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

/* "tables/public.t/indexes/idx" -> "index public.t.idx". */
static void describe(const char *object, char *out, size_t size)
{
    char kind[64] = "object";
    char name[512] = "";
    size_t nlen = 0;
    const char *p = object;
    int field = 0;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (field % 2 == 0) {
            snprintf(kind, sizeof(kind), "%.*s", (int)len, p);
            size_t kl = strlen(kind);
            if (strcmp(kind, "indexes") == 0)
                snprintf(kind, sizeof(kind), "index");
            else if (kl > 1 && kind[kl - 1] == 's')
                kind[kl - 1] = '\0';
        } else if (nlen < sizeof(name)) {
            nlen += (size_t)snprintf(name + nlen, sizeof(name) - nlen, "%s%.*s", nlen ? "." : "",
                                     (int)len, p);
        }
        field++;
        p = slash ? slash + 1 : p + len;
    }
    snprintf(out, size, "%s %s", kind, name);
}

/* Index just past the entries of the object starting at i. */
static size_t object_end(const mig_catalog_t *cat, size_t i)
{
    size_t j = i + 1;
    while (j < cat->count && strcmp(cat->entries[j].object, cat->entries[i].object) == 0)
        j++;
    return j;
}

static bool under(const char *object, const char *parent)
{
    size_t n = strlen(parent);
    return n > 0 && strncmp(object, parent, n) == 0 && object[n] == '/';
}

size_t mig_catalog_diff(const mig_catalog_t *expected, const mig_catalog_t *actual, char **text)
{
    strbuf_t sb = {0};
    size_t ndiff = 0;
    size_t i = 0, j = 0;
    const char *missing_parent = "", *extra_parent = "";
    char what[600];
    while (i < expected->count || j < actual->count) {
        int c;
        if (i >= expected->count)
            c = 1;
        else if (j >= actual->count)
            c = -1;
        else
            c = strcmp(expected->entries[i].object, actual->entries[j].object);
        if (c < 0) {
            const char *obj = expected->entries[i].object;
            if (!under(obj, missing_parent)) {
                describe(obj, what, sizeof(what));
                sb_printf(&sb, "missing %s\n", what);
                ndiff++;
                missing_parent = obj;
            }
            i = object_end(expected, i);
        } else if (c > 0) {
            const char *obj = actual->entries[j].object;
            if (!under(obj, extra_parent)) {
                describe(obj, what, sizeof(what));
                sb_printf(&sb, "extra %s\n", what);
                ndiff++;
                extra_parent = obj;
            }
            j = object_end(actual, j);
        } else {
            size_t ie = object_end(expected, i), je = object_end(actual, j);
            bool first = true;
            describe(expected->entries[i].object, what, sizeof(what));
            while (i < ie || j < je) {
                int a = i >= ie   ? 1
                        : j >= je ? -1
                                  : strcmp(expected->entries[i].attr, actual->entries[j].attr);
                const char *attr = a <= 0 ? expected->entries[i].attr : actual->entries[j].attr;
                const char *ev = a <= 0 ? expected->entries[i].value : NULL;
                const char *av = a >= 0 ? actual->entries[j].value : NULL;
                if (!ev || !av || strcmp(ev, av) != 0) {
                    sb_printf(&sb, "%s%s%s%s expected %s%s%s, found %s%s%s",
                              first ? "different " : "; ", first ? what : "", first ? ": " : "",
                              attr, ev ? "\"" : "", ev ? ev : "(none)", ev ? "\"" : "",
                              av ? "\"" : "", av ? av : "(none)", av ? "\"" : "");
                    first = false;
                }
                if (a <= 0)
                    i++;
                if (a >= 0)
                    j++;
            }
            if (!first) {
                sb_printf(&sb, "\n");
                ndiff++;
            }
        }
    }
    *text = sb.buf;
    if (ndiff == 0) {
        free(sb.buf);
        *text = NULL;
    }
    return ndiff;
}

/* ---- YAML -------------------------------------------------------------------------- */

const char *mig_manifest_path(const char *dir, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", dir, MIG_MANIFEST_FILE);
    return buf;
}

static bool plain_null(const yaml_node_t *node)
{
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)node->data.scalar.value;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static int load_mapping(mig_catalog_t *cat, yaml_document_t *doc, yaml_node_t *map,
                        const char *path, const char *file, char *errstr, size_t size)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        yaml_node_t *key = yaml_document_get_node(doc, pair->key);
        yaml_node_t *val = yaml_document_get_node(doc, pair->value);
        if (!key || key->type != YAML_SCALAR_NODE || !val)
            return dbev_seterr(errstr, size, "%s:%zu: keys must be scalars", file,
                               key ? key->start_mark.line + 1 : 0);
        const char *k = (const char *)key->data.scalar.value;
        if (!*path && strcmp(k, "migration_version") == 0) {
            if (val->type == YAML_SCALAR_NODE)
                cat->version = atoi((const char *)val->data.scalar.value);
            continue;
        }
        if (val->type == YAML_SCALAR_NODE) {
            if (!*path)
                return dbev_seterr(errstr, size, "%s:%zu: unknown top-level key %s", file,
                                   key->start_mark.line + 1, k);
            if (!plain_null(val) && cat_add(cat, path, k, (const char *)val->data.scalar.value) < 0)
                return dbev_seterr(errstr, size, "out of memory");
        } else if (val->type == YAML_SEQUENCE_NODE) {
            /* A list of scalars reads as "a, b" (index columns written as a list). */
            strbuf_t sb = {0};
            for (yaml_node_item_t *it = val->data.sequence.items.start;
                 it < val->data.sequence.items.top; it++) {
                yaml_node_t *item = yaml_document_get_node(doc, *it);
                if (item && item->type == YAML_SCALAR_NODE)
                    sb_printf(&sb, "%s%s", sb.len ? ", " : "",
                              (const char *)item->data.scalar.value);
            }
            int rc = cat_add(cat, path, k, sb.buf ? sb.buf : "");
            free(sb.buf);
            if (rc < 0)
                return dbev_seterr(errstr, size, "out of memory");
        } else {
            size_t n = strlen(path) + strlen(k) + 2;
            char *sub = malloc(n);
            if (!sub)
                return dbev_seterr(errstr, size, "out of memory");
            snprintf(sub, n, "%s%s%s", path, *path ? "/" : "", k);
            int rc = load_mapping(cat, doc, val, sub, file, errstr, size);
            free(sub);
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

mig_catalog_t *mig_catalog_load_yaml(const char *path, char *errstr, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dbev_seterr(errstr, size, "%s: cannot open", path);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    mig_catalog_t *cat = NULL;
    if (!yaml_parser_load(&parser, &doc)) {
        dbev_seterr(errstr, size, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "YAML error");
        yaml_parser_delete(&parser);
        fclose(f);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cat = calloc(1, sizeof(*cat));
    if (!cat) {
        dbev_seterr(errstr, size, "out of memory");
    } else if (!root || root->type != YAML_MAPPING_NODE) {
        dbev_seterr(errstr, size, "%s: the manifest must be a mapping", path);
        mig_catalog_destroy(cat);
        cat = NULL;
    } else if (load_mapping(cat, &doc, root, "", path, errstr, size) < 0) {
        mig_catalog_destroy(cat);
        cat = NULL;
    } else {
        cat_sort(cat);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(f);
    return cat;
}

/* A tree rebuilt from the flat list, for writing nested YAML. */
typedef struct tnode {
    char *name;
    char *value; /* leaf when non-NULL */
    struct tnode **kids;
    size_t nkids, cap;
} tnode_t;

static void tnode_free(tnode_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        tnode_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
    free(n);
}

static tnode_t *tnode_child(tnode_t *n, const char *name, size_t len)
{
    /* Entries arrive sorted, so a matching child is usually the last one. */
    for (size_t i = n->nkids; i-- > 0;)
        if (!n->kids[i]->value && strlen(n->kids[i]->name) == len &&
            strncmp(n->kids[i]->name, name, len) == 0)
            return n->kids[i];
    if (n->nkids == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 8;
        tnode_t **nk = realloc(n->kids, ncap * sizeof(*nk));
        if (!nk)
            return NULL;
        n->kids = nk;
        n->cap = ncap;
    }
    tnode_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strndup(name, len))) {
        free(c);
        return NULL;
    }
    n->kids[n->nkids++] = c;
    return c;
}

static int emit(yaml_emitter_t *em, yaml_event_t *ev)
{
    return yaml_emitter_emit(em, ev) ? 0 : -1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s)
{
    yaml_event_t ev;
    bool quote = !*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 quote ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
    return emit(em, &ev);
}

/* The "position" attribute of a column node, 0 when it has none. */
static long position_of(const tnode_t *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->value && strcmp(n->kids[i]->name, "position") == 0)
            return atol(n->kids[i]->value);
    return 0;
}

static int cmp_position(const void *a, const void *b)
{
    long x = position_of(*(tnode_t *const *)a), y = position_of(*(tnode_t *const *)b);
    return (x > y) - (x < y);
}

static int emit_node(yaml_emitter_t *em, const tnode_t *n, int depth)
{
    bool all_leaves = n->nkids > 0;
    for (size_t i = 0; i < n->nkids; i++)
        if (!n->kids[i]->value)
            all_leaves = false;
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                        all_leaves && depth >= 5 ? YAML_FLOW_MAPPING_STYLE
                                                                 : YAML_BLOCK_MAPPING_STYLE);
    if (emit(em, &ev) < 0)
        return -1;
    /* Attributes first, then nested objects; columns in table order. */
    tnode_t **kids = malloc((n->nkids ? n->nkids : 1) * sizeof(*kids));
    if (!kids)
        return -1;
    memcpy(kids, n->kids, n->nkids * sizeof(*kids));
    if (strcmp(n->name, "columns") == 0)
        qsort(kids, n->nkids, sizeof(*kids), cmp_position);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n->nkids; i++) {
            const tnode_t *k = kids[i];
            if ((pass == 0) != (k->value != NULL))
                continue;
            if (emit_scalar(em, k->name) < 0)
                return -1;
            if (k->value ? emit_scalar(em, k->value) < 0 : emit_node(em, k, depth + 1) < 0) {
                free(kids);
                return -1;
            }
        }
    }
    free(kids);
    yaml_mapping_end_event_initialize(&ev);
    return emit(em, &ev);
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
    return fwrite(buffer, 1, size, (FILE *)data) == size;
}

int mig_catalog_write_yaml(const mig_catalog_t *cat, FILE *out, const char *header, char *errstr,
                           size_t size)
{
    tnode_t *root = calloc(1, sizeof(*root));
    int rc = root ? 0 : -1;
    for (size_t i = 0; i < cat->count && rc == 0; i++) {
        tnode_t *n = root;
        const char *p = cat->entries[i].object;
        while (n && *p) {
            const char *slash = strchr(p, '/');
            size_t len = slash ? (size_t)(slash - p) : strlen(p);
            n = tnode_child(n, p, len);
            p += len + (slash ? 1 : 0);
        }
        tnode_t *leaf = n ? calloc(1, sizeof(*leaf)) : NULL;
        if (!leaf || !(leaf->name = strdup(cat->entries[i].attr)) ||
            !(leaf->value = strdup(cat->entries[i].value))) {
            tnode_free(leaf);
            rc = -1;
            break;
        }
        if (n->nkids == n->cap) {
            size_t ncap = n->cap ? n->cap * 2 : 8;
            tnode_t **nk = realloc(n->kids, ncap * sizeof(*nk));
            if (!nk) {
                tnode_free(leaf);
                rc = -1;
                break;
            }
            n->kids = nk;
            n->cap = ncap;
        }
        n->kids[n->nkids++] = leaf;
    }
    if (rc < 0) {
        tnode_free(root);
        return dbev_seterr(errstr, size, "out of memory");
    }
    if (header)
        fputs(header, out);
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_handler, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* long definitions stay on one line */
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    rc = emit(&em, &ev);
    if (rc == 0) {
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        rc = emit(&em, &ev);
    }
    if (rc == 0) {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        rc = emit(&em, &ev);
    }
    char version[16];
    snprintf(version, sizeof(version), "%d", cat->version);
    if (rc == 0)
        rc = emit_scalar(&em, "migration_version") < 0 || emit_scalar(&em, version) < 0 ? -1 : 0;
    for (size_t i = 0; i < root->nkids && rc == 0; i++) {
        const tnode_t *k = root->kids[i];
        if (emit_scalar(&em, k->name) < 0 ||
            (k->value ? emit_scalar(&em, k->value) : emit_node(&em, k, 2)) < 0)
            rc = -1;
    }
    if (rc == 0) {
        yaml_mapping_end_event_initialize(&ev);
        rc = emit(&em, &ev);
    }
    if (rc == 0) {
        yaml_document_end_event_initialize(&ev, 1);
        rc = emit(&em, &ev);
    }
    if (rc == 0) {
        yaml_stream_end_event_initialize(&ev);
        rc = emit(&em, &ev);
    }
    if (rc < 0)
        dbev_seterr(errstr, size, "writing YAML: %s", em.problem ? em.problem : "emitter error");
    yaml_emitter_delete(&em);
    tnode_free(root);
    return rc;
}
