/*
 * Scenario files: the harness's user interface. A scenario is a YAML (or
 * JSON) file with a header saying what it proves and a list of steps; this
 * module loads one, checks its shape and turns it into a step tree whose
 * every node knows its file:line:column, so that a mistake in a scenario is
 * reported where it is, before anything runs. docs/scenarios.md is the
 * reference for the format.
 */
#ifndef HARNESS_SCENARIO_H
#define HARNESS_SCENARIO_H

#include "scenario/yamlj.h"

#include <dbev/protocol.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum step_kind {
    STEP_OPERATION = 0, /* a protocol operation through the client (or direct path) */
    STEP_SQL,           /* SQL straight on PostgreSQL */
    STEP_UNTIL,         /* a sql or operation step polled until it holds, with a deadline */
    STEP_FAULT,         /* kafka / postgres / adapter fault */
    STEP_RAW,           /* exact bytes or JSON published to a topic */
    STEP_LOAD,          /* open-loop constant-rate load */
    STEP_PARALLEL,      /* child steps run at once */
    STEP_REGISTRY,      /* the live instances on the registry topics */
    STEP__COUNT
} step_kind_t;

const char *step_kind_name(step_kind_t kind);

typedef struct step {
    step_kind_t kind;
    char *name;             /* owned: the step's name, or one made from its kind and index */
    char where[256];        /* file:line:column of the step */
    dbev_op_t op;           /* STEP_OPERATION: which operation */
    const json_t *body;     /* borrowed from the document: the kind's value */
    const json_t *expect;   /* borrowed; NULL: expect success */
    const json_t *save;     /* borrowed; object name -> path, or NULL */
    const json_t *parity;   /* borrowed; {ignore_columns: [...]} for --mode both, or NULL */
    int64_t timeout_ms;     /* per-step timeout (until: the deadline); 0: default */
    double max_latency_ms;  /* expect.latency_ms_max, 0: none */
    bool hostile;           /* `hostile: true`: counted in the run's hostile-request figures */
    int repeat;             /* operation steps: run this many times in a row (repeat:); 1 */
    int64_t start_after_ms; /* a branch of a parallel step: starts this much later; 0 */
    struct step *children;  /* STEP_PARALLEL, STEP_UNTIL (the polled step): owned */
    size_t n_children;
} step_t;

/*
 * The canary (`canary:`): another caller, with its own client and
 * correlation ids, sending one ordinary request at a steady rate for as long
 * as the steps run; the scenario fails when one of them fails, is answered
 * twice or waits longer than max_latency_ms (canary.h).
 */
typedef struct scenario_canary {
    bool on;
    double rate;           /* requests per second */
    double max_latency_ms; /* bound on each request's latency, from its intended send */
    int timeout_ms;        /* the client's per-request timeout */
    dbev_op_t op;          /* the request's operation (with body) */
    const json_t *body;    /* borrowed: its body, placeholders substituted per request;
                              NULL: the default, an INSERT into the harness's dbev_canary */
} scenario_canary_t;

#define CANARY_DEFAULT_RATE           50
#define CANARY_DEFAULT_MAX_LATENCY_MS 1000
#define CANARY_DEFAULT_TIMEOUT_MS     5000

/*
 * The database fingerprint (`fingerprint:`): every user table's contents,
 * the schemas, relations and functions, the roles and their memberships and
 * the large objects, taken before the first step and after the last one;
 * anything that changed and is not in allow fails the scenario
 * (fingerprint.h).
 */
typedef struct scenario_fingerprint {
    bool on;
    const json_t *allow; /* borrowed: array of patterns ("public.t", "role:*"), or NULL */
} scenario_fingerprint_t;

typedef struct scenario {
    char *path;             /* owned */
    yamlj_doc_t *doc;       /* owned: every borrowed json_t lives in here */
    const char *name;       /* borrowed from doc */
    const char *proves;     /* what the scenario proves, one paragraph */
    const json_t *tags;     /* array of strings (may be empty) */
    int phase;              /* migration phase 1..3, 0 when none */
    const json_t *fixtures; /* array of fixture names */
    const json_t *requires; /* array of feature names the environment must have */
    const char *setup_sql;  /* run on the scenario's database before the steps; NULL */
    bool event_only;        /* paths: event — the event path's own behaviour (docs/parity.md) */
    const json_t *client_conf;  /* client: {key: value} libdbev settings, or NULL */
    const json_t *adapter_conf; /* adapter: {key: value} dbev-adapter settings, or NULL */
    const char *teardown_sql;   /* run on the scenario's database after the steps, pass or
                                   fail (e.g. DROP ROLE a hostile step may have created); NULL */
    scenario_canary_t canary;
    scenario_fingerprint_t fingerprint;
    step_t *steps;
    size_t n_steps;
} scenario_t;

/**
 * @brief Loads and checks a scenario file.
 * @returns the scenario for scenario_destroy(), or NULL with errstr set to
 *          "file:line:column: problem; fix".
 */
scenario_t *scenario_load(const char *path, char *errstr, size_t size);

/** Same, from memory (tests); name stands for the file in messages. */
scenario_t *scenario_load_buffer(const char *name, const char *text, char *errstr, size_t size);

void scenario_destroy(scenario_t *scenario);

/**
 * @brief The operation a step key names ("query" and "select" are SELECT,
 *        "batch_insert" is BATCH_INSERT, ...).
 * @returns 0 and the operation in *op, or -1 when key names none.
 */
int scenario_operation_key(const char *key, dbev_op_t *op);

/** Whether the scenario carries tag. */
bool scenario_has_tag(const scenario_t *scenario, const char *tag);

/** The number of steps, children included (a scenario with none is an error to run). */
size_t scenario_count_steps(const scenario_t *scenario);

/** The top-level steps marked hostile: true (the ones the run counts). */
size_t scenario_count_hostile(const scenario_t *scenario);

#endif
