/*
 * yamlj: reads a YAML (or JSON, which is YAML) file into a jansson tree and
 * remembers where in the file each value came from, so that the harness can
 * point at file:line:column both for syntax errors and for a scenario that is
 * well-formed YAML but wrong (an unknown step kind, a missing field).
 *
 * Plain scalars take YAML 1.2 core-schema types (null, ~, true/false,
 * integers, floats); quoted scalars are always strings. Anchors and aliases
 * are refused: scenario files should read top to bottom.
 */
#ifndef HARNESS_YAMLJ_H
#define HARNESS_YAMLJ_H

#include <jansson.h>
#include <stddef.h>

typedef struct yamlj_doc yamlj_doc_t;

/**
 * @brief Loads path.
 * @returns a document to free with yamlj_doc_destroy(), or NULL with errstr
 *          set to "file:line:column: problem".
 */
yamlj_doc_t *yamlj_load_file(const char *path, char *errstr, size_t size);

/** Same, from memory; name is used in messages. */
yamlj_doc_t *yamlj_load_buffer(const char *name, const char *buf, size_t len, char *errstr,
                               size_t size);

void yamlj_doc_destroy(yamlj_doc_t *doc);

/** The root value, borrowed from doc. */
json_t *yamlj_root(const yamlj_doc_t *doc);

/**
 * @brief Writes "file:line:column" of value (1-based) into buf, or "file"
 *        when the value did not come from this document.
 * @returns buf.
 */
const char *yamlj_where(const yamlj_doc_t *doc, const json_t *value, char *buf, size_t size);

/**
 * @brief A loader's error about a value of doc: "file:line:column: message"
 *        (yamlj_where()) into errstr; the one form every file loaded with
 *        yamlj reports its problems in (scenarios, gates files).
 * @returns -1.
 */
int yamlj_fail_at(const yamlj_doc_t *doc, const json_t *at, char *errstr, size_t size,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
