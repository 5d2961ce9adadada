/*
 * A fresh stack for a replay (replay.h): a database cloned from the template
 * of the trace header's fixtures, its setup_sql, the topics of a new prefix
 * and the header's adapters (count and settings) embedded as threads, for
 * `dbev-harness replay --against fresh` and `run --replay-check`. What
 * differs from the recording's world is said in the log (migrations or
 * fixtures changed since), not hidden.
 */
#include "repro/replay.h"

#include "env/adapters.h"
#include "migrate/fixtures.h"

#include <stdlib.h>
#include <string.h>

struct replay_stack {
    pgenv_t *pg;
    char dbname[64];
    char topic_env[64];
    char conninfo[1024];
    PGconn *conn;
    adapters_t *adapters;
    replay_target_t target;
};

replay_stack_t *replay_stack_new(pgenv_t *pg, mockenv_t *kafka, const json_t *header,
                                 const char *topic_env, const char *dbname,
                                 const dbev_logger_t *logger, char *errstr, size_t size)
{
    replay_stack_t *s = calloc(1, sizeof(*s));
    if (!s) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    s->pg = pg;
    snprintf(s->dbname, sizeof(s->dbname), "%s", dbname);
    snprintf(s->topic_env, sizeof(s->topic_env), "%s", topic_env);
    const char *fixtures = json_string_value(json_object_get(header, "fixtures"));
    fixtures_spec_t spec = {NULL, NULL, fixtures && *fixtures ? fixtures : NULL};
    char key[32], tpl[128];
    if (fixtures_key(&spec, key, sizeof(key), errstr, size) != 0 ||
        pgenv_template(pg, key, fixtures_prepare, &spec, tpl, sizeof(tpl), errstr, size) != 0 ||
        pgenv_create_database(pg, s->dbname, tpl, errstr, size) != 0)
        goto fail;
    const char *recorded_key = json_string_value(json_object_get(header, "template_key"));
    if (recorded_key && *recorded_key && strcmp(recorded_key, key) != 0)
        dbev_logf(logger, DBEV_LOG_WARN, NULL,
                  "replay: the migrations or fixtures changed since the trace was recorded "
                  "(template %s, recorded %s)",
                  key, recorded_key);
    s->conn = pgenv_connect(pg, s->dbname, errstr, size);
    if (!s->conn)
        goto fail;
    const char *setup = json_string_value(json_object_get(header, "setup_sql"));
    if (setup) {
        PGresult *res = PQexec(s->conn, setup);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!ok)
            dbev_seterr(errstr, size, "setup_sql: %s", PQresultErrorMessage(res));
        PQclear(res);
        if (!ok)
            goto fail;
    }
    if (mockenv_create_topics(kafka, s->topic_env, errstr, size) != 0)
        goto fail;
    /* The adapters run as their own role, as in the run (runctx.h). */
    pgenv_dsn_as(pg, s->dbname, PGENV_APP_ROLE, s->conninfo, sizeof(s->conninfo));
    /* The scenario's adapter: settings, as "key=value". */
    const json_t *conf = json_object_get(header, "adapter_conf");
    size_t n = json_object_size(conf), i = 0;
    char **extra = calloc(n + 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)conf, k, v)
    {
        char *text =
            json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_ENCODE_ANY);
        size_t len = strlen(k) + (text ? strlen(text) : 0) + 2;
        if (extra && (extra[i] = malloc(len)) != NULL)
            snprintf(extra[i++], len, "%s=%s", k, text ? text : "");
        free(text);
    }
    json_int_t count = json_integer_value(json_object_get(header, "adapters"));
    json_int_t recovery = json_integer_value(json_object_get(header, "breaker_recovery_ms"));
    adapters_opts_t aopts = {
        .mode = ADAPTER_THREAD,
        .count = count > 0 && count <= ADAPTERS_MAX ? (int)count : 1,
        .bootstrap = mockenv_bootstrap(kafka),
        .topic_env = s->topic_env,
        .conninfo = s->conninfo,
        .breaker_recovery_ms = recovery > 0 ? (int)recovery : 2000,
        .extra = (const char *const *)extra,
        .logger = logger,
        .mock = mockenv_is_mock(kafka), /* the fetch profile of the run (kprofile.h) */
    };
    s->adapters = adapters_new(&aopts, errstr, size);
    for (size_t j = 0; extra && extra[j]; j++)
        free(extra[j]);
    free(extra);
    if (!s->adapters)
        goto fail;
    s->target = (replay_target_t){mockenv_bootstrap(kafka), s->topic_env, s->conn, logger};
    return s;
fail:
    replay_stack_destroy(s, false);
    return NULL;
}

const replay_target_t *replay_stack_target(const replay_stack_t *s)
{
    return &s->target;
}

void replay_stack_destroy(replay_stack_t *s, bool keep)
{
    if (!s)
        return;
    adapters_destroy(s->adapters);
    PQfinish(s->conn);
    char errstr[256];
    if (!keep && s->dbname[0])
        pgenv_drop_database(s->pg, s->dbname, errstr, sizeof(errstr));
    free(s);
}
