/*
 * The I/O half of a load's write check (load_writes.c): after the load, every
 * acknowledged write the checker recorded is looked up in the scenario's
 * database and classified present once, lost or doubled. The pure half,
 * load_writes_add(), is in load.h with the rest of what needs no database.
 * docs/scenarios.md ("Write keys") gives the query.
 */
#ifndef HARNESS_LOAD_WRITES_H
#define HARNESS_LOAD_WRITES_H

#include "load/checker.h"
#include "load/load.h"
#include "scenario/runctx.h"

/**
 * @brief Looks every acknowledged write of checker up on ctx->direct (the
 *        key column of spec's write key) and fills writes.
 * @returns 0, or -1 with errstr (no connection, no such column, a failed query).
 */
int load_check_writes(runctx_t *ctx, const load_spec_t *spec, const checker_t *checker,
                      load_writes_t *writes, char *errstr, size_t size);

#endif
