/*
 * YAML to jansson with source positions. libyaml's event parser drives a
 * small stack of open containers; every value created is recorded with its
 * start mark in a table that yamlj_where() searches by pointer.
 */
#include "scenario/yamlj.h"

#include "dbev_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct position {
    const json_t *value;
    int line, column;
} position_t;

struct yamlj_doc {
    char *name;
    json_t *root;
    position_t *positions;
    size_t n_positions, cap_positions;
    int sorted;
};

#define MAX_DEPTH 64

typedef struct frame {
    json_t *container;
    char *pending_key; /* mappings: the key waiting for its value */
} frame_t;

static int record_position(yamlj_doc_t *doc, const json_t *value, yaml_mark_t mark)
{
    if (doc->n_positions == doc->cap_positions) {
        size_t cap = doc->cap_positions ? doc->cap_positions * 2 : 64;
        position_t *grown = realloc(doc->positions, cap * sizeof(*grown));
        if (!grown)
            return -1;
        doc->positions = grown;
        doc->cap_positions = cap;
    }
    doc->positions[doc->n_positions++] =
        (position_t){value, (int)mark.line + 1, (int)mark.column + 1};
    return 0;
}

static int is_plain_null(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* YAML 1.2 core schema for plain scalars; anything else stays a string. */
static json_t *plain_scalar(const char *s)
{
    if (is_plain_null(s))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    long long ll = strtoll(s, &end, 10);
    if (*end == '\0' && errno == 0 && (s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
        return json_integer(ll);
    errno = 0;
    double d = strtod(s, &end);
    if (*end == '\0' && errno == 0 &&
        (s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
        return json_real(d);
    return json_string(s);
}

/* Attaches value (stolen) to the innermost open container, or makes it the root. */
static int attach(yamlj_doc_t *doc, frame_t *stack, int depth, json_t *value, char *errstr,
                  size_t size, yaml_mark_t mark)
{
    if (depth == 0) {
        doc->root = value;
        return 0;
    }
    frame_t *top = &stack[depth - 1];
    if (json_is_array(top->container))
        return json_array_append_new(top->container, value);
    if (!top->pending_key) {
        /* A mapping key: only scalars make sense as keys in scenario files. */
        if (!json_is_string(value) && !json_is_integer(value)) {
            json_decref(value);
            return dbev_seterr(errstr, size, "%s:%zu:%zu: mapping keys must be plain text",
                               doc->name, mark.line + 1, mark.column + 1);
        }
        char buf[32];
        const char *key = json_is_string(value) ? json_string_value(value) : buf;
        if (json_is_integer(value))
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(value));
        top->pending_key = strdup(key);
        json_decref(value);
        return top->pending_key ? 0 : -1;
    }
    if (json_object_get(top->container, top->pending_key)) {
        dbev_seterr(errstr, size, "%s:%zu:%zu: key '%s' appears twice in this mapping", doc->name,
                    mark.line + 1, mark.column + 1, top->pending_key);
        json_decref(value);
        return -1;
    }
    int rc = json_object_set_new(top->container, top->pending_key, value);
    free(top->pending_key);
    top->pending_key = NULL;
    return rc;
}

static yamlj_doc_t *parse(yamlj_doc_t *doc, yaml_parser_t *parser, char *errstr, size_t size)
{
    frame_t stack[MAX_DEPTH];
    int depth = 0, done = 0, failed = 0;
    memset(stack, 0, sizeof(stack));
    while (!done && !failed) {
        yaml_event_t event;
        if (!yaml_parser_parse(parser, &event)) {
            dbev_seterr(errstr, size, "%s:%zu:%zu: %s%s%s", doc->name,
                        parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                        parser->problem ? parser->problem : "invalid YAML",
                        parser->context ? " " : "", parser->context ? parser->context : "");
            failed = 1;
            break;
        }
        json_t *value = NULL;
        int opens = 0;
        switch (event.type) {
        case YAML_STREAM_END_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            done = event.type == YAML_STREAM_END_EVENT || doc->root != NULL;
            break;
        case YAML_ALIAS_EVENT:
            dbev_seterr(errstr, size,
                        "%s:%zu:%zu: aliases (*name) are not supported; repeat the "
                        "value instead",
                        doc->name, event.start_mark.line + 1, event.start_mark.column + 1);
            failed = 1;
            break;
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)event.data.scalar.value;
            value = event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(text)
                                                                       : json_string(text);
            if (!value) {
                dbev_seterr(errstr, size, "%s:%zu:%zu: text is not valid UTF-8", doc->name,
                            event.start_mark.line + 1, event.start_mark.column + 1);
                failed = 1;
            }
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
            value = json_array();
            opens = 1;
            break;
        case YAML_MAPPING_START_EVENT:
            value = json_object();
            opens = 1;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        if (value && !failed) {
            int is_key = depth > 0 && json_is_object(stack[depth - 1].container) &&
                         !stack[depth - 1].pending_key;
            /* true/false/null are shared singletons in jansson: no position of their own. */
            int singleton = json_is_boolean(value) || json_is_null(value);
            if (!is_key && !singleton && record_position(doc, value, event.start_mark) != 0)
                failed = 1;
            if (opens && depth >= MAX_DEPTH) {
                dbev_seterr(errstr, size, "%s:%zu:%zu: nested deeper than %d levels", doc->name,
                            event.start_mark.line + 1, event.start_mark.column + 1, MAX_DEPTH);
                json_decref(value);
                failed = 1;
            } else if (!failed) {
                if (opens)
                    json_incref(value); /* the stack frame keeps a reference too */
                if (attach(doc, stack, depth, value, errstr, size, event.start_mark) != 0) {
                    if (opens)
                        json_decref(value);
                    failed = 1;
                } else if (opens) {
                    stack[depth].container = value;
                    stack[depth].pending_key = NULL;
                    depth++;
                }
            }
        }
        if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT) {
            json_decref(stack[depth].container);
            free(stack[depth].pending_key);
            stack[depth].container = NULL;
            stack[depth].pending_key = NULL;
        }
        yaml_event_delete(&event);
    }
    for (int i = 0; i < depth; i++) {
        json_decref(stack[i].container);
        free(stack[i].pending_key);
    }
    if (failed) {
        yamlj_doc_destroy(doc);
        return NULL;
    }
    if (!doc->root)
        doc->root = json_null();
    return doc;
}

static yamlj_doc_t *doc_new(const char *name)
{
    yamlj_doc_t *doc = calloc(1, sizeof(*doc));
    if (doc && !(doc->name = strdup(name))) {
        free(doc);
        return NULL;
    }
    return doc;
}

yamlj_doc_t *yamlj_load_buffer(const char *name, const char *buf, size_t len, char *errstr,
                               size_t size)
{
    yamlj_doc_t *doc = doc_new(name);
    if (!doc) {
        dbev_seterr(errstr, size, "%s: out of memory", name);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    doc = parse(doc, &parser, errstr, size);
    yaml_parser_delete(&parser);
    return doc;
}

yamlj_doc_t *yamlj_load_file(const char *path, char *errstr, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dbev_seterr(errstr, size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    yamlj_doc_t *doc = doc_new(path);
    if (!doc) {
        fclose(f);
        dbev_seterr(errstr, size, "%s: out of memory", path);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    doc = parse(doc, &parser, errstr, size);
    yaml_parser_delete(&parser);
    fclose(f);
    return doc;
}

void yamlj_doc_destroy(yamlj_doc_t *doc)
{
    if (!doc)
        return;
    json_decref(doc->root);
    free(doc->positions);
    free(doc->name);
    free(doc);
}

json_t *yamlj_root(const yamlj_doc_t *doc)
{
    return doc->root;
}

static int compare_positions(const void *a, const void *b)
{
    const json_t *x = ((const position_t *)a)->value, *y = ((const position_t *)b)->value;
    return x < y ? -1 : x > y;
}

const char *yamlj_where(const yamlj_doc_t *doc, const json_t *value, char *buf, size_t size)
{
    yamlj_doc_t *mutable_doc = (yamlj_doc_t *)doc;
    if (!doc->sorted) {
        /* Sorting is a cache of the lookup order; the positions do not change. */
        qsort(mutable_doc->positions, doc->n_positions, sizeof(position_t), compare_positions);
        mutable_doc->sorted = 1;
    }
    position_t key = {value, 0, 0};
    const position_t *hit =
        bsearch(&key, doc->positions, doc->n_positions, sizeof(position_t), compare_positions);
    if (hit)
        snprintf(buf, size, "%s:%d:%d", doc->name, hit->line, hit->column);
    else
        snprintf(buf, size, "%s", doc->name);
    return buf;
}

int yamlj_fail_at(const yamlj_doc_t *doc, const json_t *at, char *errstr, size_t size,
                  const char *fmt, ...)
{
    char where[256], message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    return dbev_seterr(errstr, size, "%s: %s", yamlj_where(doc, at, where, sizeof(where)), message);
}
