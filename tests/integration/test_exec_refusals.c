/*
 * Every SQL keyword dbev refuses in EXECUTE and SELECT, at every layer that
 * claims to refuse it, in every spelling that PostgreSQL would still read as
 * that statement: case, blanks, comments (nested ones too) and comments that
 * hold quote or dollar-quote characters.
 *
 * Three layers claim the refusals: the shared SQL rules (dbev_sql_check,
 * sql/); the protocol decoder (dbev_request_decode), which applies them to
 * every request it decodes; and the executor (adapter_exec_batch,
 * adapter/src/exec_build.c check_op), which applies them again because it must not
 * rely on being handed only decoded requests. The executor's requests are
 * built here without the decoder (a harmless request decoded, its sql then
 * replaced), as tests/integration/test_exec.c does.
 *
 * A refusal must answer VALIDATION_ERROR with a message naming the keyword
 * (whole messages are not asserted: they are being reworded), and the
 * database must not have run the statement: the test database logs every
 * statement (log_statement = all) and the server log must not hold the
 * refused statement's marker (a trailing comment), while a control statement
 * run after all of them must be there; each refusal is also tried inside a
 * TRANSACTION between two inserts, which must both be absent (a COMMIT run
 * there would have kept the first, a ROLLBACK the second); and no connection
 * may be left inside a transaction.
 *
 * A case that passes a layer is marked as a known gap (the gap column of a
 * spelling, or a row of gaps[]) and then reported (# known gap) rather than
 * failed, and reported as # NOW REFUSED once it is refused, the sign to remove
 * its mark. Before the shared SQL rules, the decoder let nested comments
 * through and the executor a PREPARE TRANSACTION in mixed case, and the
 * executor did not claim LISTEN, UNLISTEN, PREPARE, DEALLOCATE and LOAD: all
 * refused now, the marks removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exec.h"
#include "pg_kit.h"

#include <ctype.h>
#include <dbev/protocol.h>
#include <dbev/sql.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DBNAME  "refusal_test"
#define WAIT_MS 20000

typedef enum {
    AT_DECODER = 1 << 0,
    AT_EXECUTOR = 1 << 1,
    AT_SQL_RULES = 1 << 2,
} layer_t;
#define AT_ALL (AT_DECODER | AT_EXECUTOR | AT_SQL_RULES)

/* One refused statement in its plain spelling. */
typedef struct statement {
    const char *keyword; /* what the refusal message must name */
    const char *sql;
    unsigned claimed; /* layers that claim to refuse it */
} statement_t;

static const statement_t statements[] = {
    /* transaction control: a pooled connection cannot hold a transaction
     * across requests */
    {"BEGIN", "BEGIN", AT_ALL},
    {"BEGIN", "BEGIN ISOLATION LEVEL SERIALIZABLE", AT_ALL},
    {"BEGIN", "BEGIN WORK", AT_ALL},
    {"START", "START TRANSACTION", AT_ALL},
    {"START", "START TRANSACTION READ ONLY", AT_ALL},
    {"COMMIT", "COMMIT", AT_ALL},
    {"COMMIT", "COMMIT WORK", AT_ALL},
    {"COMMIT", "COMMIT AND CHAIN", AT_ALL},
    {"COMMIT", "COMMIT PREPARED 'dbev_gid'", AT_ALL},
    {"END", "END", AT_ALL},
    {"END", "END TRANSACTION", AT_ALL},
    {"ROLLBACK", "ROLLBACK", AT_ALL},
    {"ROLLBACK", "ROLLBACK TO SAVEPOINT dbev_sp", AT_ALL},
    {"ROLLBACK", "ROLLBACK PREPARED 'dbev_gid'", AT_ALL},
    {"ABORT", "ABORT", AT_ALL},
    {"ABORT", "ABORT WORK", AT_ALL},
    {"SAVEPOINT", "SAVEPOINT dbev_sp", AT_ALL},
    {"RELEASE", "RELEASE SAVEPOINT dbev_sp", AT_ALL},
    {"RELEASE", "RELEASE dbev_sp", AT_ALL},
    {"PREPARE", "PREPARE TRANSACTION 'dbev_gid'", AT_ALL},
    /* session state: it would outlive the request on a pooled connection */
    {"SET", "SET search_path = dbev_evil", AT_ALL},
    {"SET", "SET SESSION work_mem = '1MB'", AT_ALL},
    {"SET", "SET TIME ZONE 'UTC'", AT_ALL},
    {"SET", "SET SESSION AUTHORIZATION DEFAULT", AT_ALL},
    {"RESET", "RESET ALL", AT_ALL},
    {"RESET", "RESET search_path", AT_ALL},
    {"DISCARD", "DISCARD ALL", AT_ALL},
    {"DISCARD", "DISCARD PLANS", AT_ALL},
    {"LISTEN", "LISTEN dbev_channel", AT_ALL},
    {"UNLISTEN", "UNLISTEN *", AT_ALL},
    {"PREPARE", "PREPARE dbev_plan AS SELECT 1", AT_ALL},
    {"DEALLOCATE", "DEALLOCATE ALL", AT_ALL},
    {"LOAD", "LOAD 'auto_explain'", AT_ALL},
};
#define N_STATEMENTS (sizeof(statements) / sizeof(statements[0]))

typedef enum { CASE_AS_IS, CASE_LOWER, CASE_MIXED } case_t;

/* One way of writing a statement that PostgreSQL reads the same. PostgreSQL
 * takes none of these statements in parentheses ("(COMMIT)" is a syntax
 * error), so there is no parenthesised spelling; dollar quoting cannot start
 * a statement either, so it comes in through comments that hold "$$" or
 * "$tag$" (a scanner taking them for a quote would miss the keyword). */
typedef struct spelling {
    const char *name;
    const char *prefix, *suffix; /* written around the statement */
    case_t letter_case;
    bool spread; /* the statement's own spaces become " \t\n " */
    unsigned gap;
} spelling_t;

static const spelling_t spellings[] = {
    {"plain", "", "", CASE_AS_IS, false, 0},
    {"lower case", "", "", CASE_LOWER, false, 0},
    {"mixed case", "", "", CASE_MIXED, false, 0},
    {"leading spaces", "   ", "", CASE_AS_IS, false, 0},
    {"leading tab", "\t", "", CASE_AS_IS, false, 0},
    {"leading newline", "\n", "", CASE_AS_IS, false, 0},
    {"leading CR LF and form feed", "\r\n\f ", "", CASE_AS_IS, false, 0},
    {"blanks inside", "", "", CASE_AS_IS, true, 0},
    {"trailing semicolon", "", ";", CASE_AS_IS, false, 0},
    {"block comment", "/* x */ ", "", CASE_AS_IS, false, 0},
    {"empty block comment, no blank", "/**/", "", CASE_LOWER, false, 0},
    {"line comment", "-- x\n", "", CASE_AS_IS, false, 0},
    {"line comment, CR LF", "-- x\r\n", "", CASE_MIXED, false, 0},
    {"comments of both kinds", "/* a */ -- b\n\t/* c */", "", CASE_AS_IS, false, 0},
    {"dollar quote in a block comment", "/* $$ */ ", "", CASE_AS_IS, false, 0},
    {"dollar tag in a line comment", "-- $tag$\n", "", CASE_AS_IS, false, 0},
    {"quotes in a block comment", "/* ' \" */ ", "", CASE_AS_IS, false, 0},
    /* PostgreSQL nests block comments: this is one comment, then the
     * statement (the decoder used to end it at the first closing mark) */
    {"nested block comment", "/* /* */ */ ", "", CASE_AS_IS, false, 0},
    {"nested block comments, two deep", "/* /* /* */ x */ */", "", CASE_LOWER, false, 0},
};
#define N_SPELLINGS (sizeof(spellings) / sizeof(spellings[0]))

/* Gaps of one statement in one spelling, beyond the spelling's own. */
typedef struct gap {
    const char *sql;
    const char *spelling;
    unsigned gap;
} gap_t;

static const gap_t gaps[] = {
    /* {statement, spelling, layers}: none known today. (The executor once
     * refused PREPARE only when the text held "TRANSACTION" or
     * "transaction": {"PREPARE TRANSACTION 'dbev_gid'", "mixed case",
     * AT_EXECUTOR} marked that.) */
    {NULL, NULL, 0},
};

static pg_kit_t *pg;
static PGconn *direct;
static char log_path[1024];
static adapter_exec_t *ex;
static int known_gaps, now_refused;

static void quiet_log(void *opaque, dbev_log_level_t level, const char *component,
                      const char *correlation_id, const char *message)
{
    if (getenv("DBEV_TEST_VERBOSE"))
        dbev_log_stderr(opaque, level, component, correlation_id, message);
}

static const dbev_logger_t logger = {
    .cb = quiet_log, .level = DBEV_LOG_DEBUG, .component = "refusals"};

static long count_sql(const char *sql)
{
    return pg_kit_count(direct, sql);
}

static int group_teardown(void **state);

static int group_setup(void **state)
{
    char err[512];
    /* Every statement of the test database is logged, by connections opened
     * from now on: the executor's. */
    pg = pg_kit_new("refusals-test", DBNAME,
                    "ALTER DATABASE " DBNAME " SET log_statement = 'all';"
                    "CREATE TABLE marks (name text PRIMARY KEY);",
                    &direct, err, sizeof(err));
    if (!pg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* The server's log sits beside its data directory (pgenv.c). */
    char data_dir[1024];
    snprintf(data_dir, sizeof(data_dir), "%s", pgenv_data_dir(pg->env));
    snprintf(log_path, sizeof(log_path), "%s/postgres.log", dirname(data_dir));
    adapter_exec_conf_t conf = {.conninfo = pg->dsn,
                                .pool_min = 2,
                                .pool_max = 4,
                                .breaker_failure_threshold = 1000,
                                .breaker_recovery_ms = 1000,
                                .breaker_success_threshold = 1,
                                .default_timeout_ms = 10000,
                                .dedupe_retention_ms = 24 * 3600 * 1000LL,
                                .logger = &logger};
    ex = adapter_exec_new(&conf, err, sizeof(err));
    if (!ex) {
        fprintf(stderr, "adapter_exec_new: %s\n", err);
        group_teardown(state);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    adapter_exec_destroy(ex);
    ex = NULL;
    PQfinish(direct);
    direct = NULL;
    pg_kit_destroy(pg);
    pg = NULL;
    return 0;
}

/* The statement written in one spelling, with a trailing marker comment. */
static char *spell(const statement_t *st, const spelling_t *sp, const char *marker)
{
    char body[256];
    size_t n = 0;
    for (const char *p = st->sql; *p && n + 8 < sizeof(body); p++) {
        if (sp->spread && *p == ' ') {
            memcpy(body + n, " \t\n ", 4);
            n += 4;
            continue;
        }
        char c = *p;
        if (sp->letter_case == CASE_LOWER)
            c = (char)tolower((unsigned char)c);
        else if (sp->letter_case == CASE_MIXED && isalpha((unsigned char)c))
            c = (char)(n % 2 ? tolower((unsigned char)c) : toupper((unsigned char)c));
        body[n++] = c;
    }
    body[n] = '\0';
    size_t size = strlen(sp->prefix) + n + strlen(sp->suffix) + strlen(marker) + 8;
    char *sql = malloc(size);
    assert_non_null(sql);
    snprintf(sql, size, "%s%s%s /* %s */", sp->prefix, body, sp->suffix, marker);
    return sql;
}

static unsigned gap_of(const statement_t *st, const spelling_t *sp)
{
    unsigned gap = sp->gap;
    for (size_t i = 0; gaps[i].sql; i++)
        if (!strcmp(gaps[i].sql, st->sql) && !strcmp(gaps[i].spelling, sp->name))
            gap |= gaps[i].gap;
    return gap;
}

/* True when message names keyword as a word of its own. */
static bool names_keyword(const char *message, const char *keyword)
{
    size_t len = strlen(keyword);
    for (const char *p = message; message && (p = strstr(p, keyword)); p += len) {
        bool start = p == message || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool end = !(isalnum((unsigned char)p[len]) || p[len] == '_');
        if (start && end)
            return true;
    }
    return false;
}

/* One case: where a refusal was asked of a layer, and what happened. */
typedef struct outcome {
    bool refused;      /* answered VALIDATION_ERROR */
    char message[512]; /* the refusal's (or the failure's) message */
} outcome_t;

/* Judges one outcome: a claimed layer must refuse (VALIDATION_ERROR, naming
 * the keyword) unless the case is a known gap, which is only reported. */
static void judge(const char *layer, const char *form, const statement_t *st, const spelling_t *sp,
                  bool gap, const char *sql, const outcome_t *o)
{
    if (gap) {
        if (o->refused) {
            now_refused++;
            fprintf(stderr, "# NOW REFUSED by the %s (%s): %s, %s: remove its known-gap mark\n",
                    layer, form, st->sql, sp->name);
        } else {
            known_gaps++;
            if (!strcmp(form, "EXECUTE") || getenv("DBEV_TEST_VERBOSE"))
                fprintf(stderr, "# known gap, %s (%s%s): %s, %s\n", layer, form,
                        getenv("DBEV_TEST_VERBOSE") ? "" : ", SELECT and TRANSACTION alike",
                        st->sql, sp->name);
        }
        return;
    }
    if (!o->refused)
        fail_msg("the %s did not refuse %s %s (%s): %s", layer, form, st->keyword, sp->name,
                 o->message);
    if (!names_keyword(o->message, st->keyword))
        fail_msg("the %s refused %s (%s, %s) without naming %s: %s", layer, sql, form, sp->name,
                 st->keyword, o->message);
}

/* ---- the shared SQL rules ------------------------------------------------ */

static void test_sql_rules(void **state)
{
    (void)state;
    int cases = 0;
    for (size_t s = 0; s < N_STATEMENTS; s++) {
        const statement_t *st = &statements[s];
        if (!(st->claimed & AT_SQL_RULES))
            continue;
        for (size_t k = 0; k < N_SPELLINGS; k++) {
            const spelling_t *sp = &spellings[k];
            bool gap = gap_of(st, sp) & AT_SQL_RULES;
            char *sql = spell(st, sp, "sql rules");
            const char *ops[] = {"EXECUTE", "SELECT"};
            for (int i = 0; i < 2; i++) {
                outcome_t o;
                /* a refusal here is answered VALIDATION_ERROR by its callers */
                o.refused = dbev_sql_check(sql, ops[i], o.message, sizeof(o.message)) != 0;
                if (!o.refused)
                    snprintf(o.message, sizeof(o.message), "accepted");
                judge("SQL rules", ops[i], st, sp, gap, sql, &o);
                cases++;
            }
            free(sql);
        }
    }
    fprintf(stderr, "# SQL rules: %d cases\n", cases);
}

/* ---- the decoder ---------------------------------------------------------- */

static void decode(json_t *payload, outcome_t *o)
{
    char eid[40], cid[40];
    dbev_uuid_new(eid);
    dbev_uuid_new(cid);
    json_t *event = dbev_envelope_new(DBEV_EVENT_REQUESTED, eid, cid, "dbev-test", 0, payload);
    char *text = dbev_event_dumps(event);
    json_decref(event);
    assert_non_null(text);
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    /* A decoder refusal is answered VALIDATION_ERROR (protocol.h). */
    o->refused = dbev_request_decode(text, strlen(text), &req, &derr) != 0;
    snprintf(o->message, sizeof(o->message), "%s", o->refused ? derr.message : "decoded");
    dbev_request_destroy(req);
    free(text);
}

static void test_decoder(void **state)
{
    (void)state;
    int cases = 0;
    for (size_t s = 0; s < N_STATEMENTS; s++) {
        const statement_t *st = &statements[s];
        if (!(st->claimed & AT_DECODER))
            continue;
        for (size_t k = 0; k < N_SPELLINGS; k++) {
            const spelling_t *sp = &spellings[k];
            bool gap = gap_of(st, sp) & AT_DECODER;
            char *sql = spell(st, sp, "decoder");
            outcome_t o;
            const char *ops[] = {"EXECUTE", "SELECT"};
            for (int i = 0; i < 2; i++) {
                decode(json_pack("{s:s,s:s}", "operation_type", ops[i], "sql", sql), &o);
                judge("decoder", ops[i], st, sp, gap, sql, &o);
            }
            decode(json_pack("{s:s,s:[{s:s,s:s,s:{s:s}},{s:s,s:s},{s:s,s:s,s:{s:s}}]}",
                             "operation_type", "TRANSACTION", "operations", "operation_type",
                             "INSERT", "table", "marks", "data", "name", "a", "operation_type",
                             "EXECUTE", "sql", sql, "operation_type", "INSERT", "table", "marks",
                             "data", "name", "b"),
                   &o);
            judge("decoder", "TRANSACTION", st, sp, gap, sql, &o);
            free(sql);
            cases += 3;
        }
    }
    fprintf(stderr, "# decoder: %d cases\n", cases);
}

/* ---- the executor --------------------------------------------------------- */

/* A request decoded from a harmless payload; the caller then puts the
 * refused SQL in place, past the decoder. */
static dbev_request_t *request(const char *payload)
{
    char ts[DBEV_ISO8601_SIZE], eid[40], cid[40];
    dbev_uuid_new(eid);
    dbev_uuid_new(cid);
    dbev_iso8601(dbev_wall_us(), ts, sizeof(ts));
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"event_id\": \"%s\", \"event_type\": \"DATABASE_QUERY_REQUESTED\", "
             "\"correlation_id\": \"%s\", \"timestamp\": \"%s\", \"service\": \"test\", "
             "\"payload\": %s}",
             eid, cid, ts, payload);
    dbev_request_t *req = NULL;
    dbev_decode_error_t derr;
    if (dbev_request_decode(text, strlen(text), &req, &derr) != 0)
        fail_msg("decode %s: %s", text, derr.message);
    return req;
}

static void execute(dbev_request_t *req, outcome_t *o)
{
    adapter_outcome_t out = {0};
    adapter_exec_batch(ex, &req, 1, &out);
    assert_non_null(out.payload);
    const char *code = json_string_value(json_object_get(out.payload, "error_code"));
    const char *message = json_string_value(json_object_get(out.payload, "error_message"));
    o->refused = !out.completed && code && !strcmp(code, "VALIDATION_ERROR");
    snprintf(o->message, sizeof(o->message), "%s%s%s", out.completed ? "completed" : code,
             message ? ": " : "", message ? message : "");
    json_decref(out.payload);
    dbev_request_destroy(req);
}

/* Whether the server log holds text (the log is read whole: it is small). */
static bool logged(const char *text)
{
    FILE *fp = fopen(log_path, "r");
    if (!fp)
        fail_msg("cannot read the server log %s", log_path);
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof(line), fp))
        found = strstr(line, text) != NULL;
    fclose(fp);
    return found;
}

static void test_executor(void **state)
{
    (void)state;
    int cases = 0, markers = 0;
    char(*ran)[80] = calloc(N_STATEMENTS * N_SPELLINGS * 3, 80); /* markers of refused cases */
    assert_non_null(ran);
    for (size_t s = 0; s < N_STATEMENTS; s++) {
        const statement_t *st = &statements[s];
        if (!(st->claimed & AT_EXECUTOR))
            continue;
        for (size_t k = 0; k < N_SPELLINGS; k++) {
            const spelling_t *sp = &spellings[k];
            bool gap = gap_of(st, sp) & AT_EXECUTOR;
            const char *ops[] = {"EXECUTE", "SELECT"};
            outcome_t o;
            for (int i = 0; i < 3; i++) {
                char marker[64];
                snprintf(marker, sizeof(marker), "dbev-refusal-%zu-%zu-%d", s, k, i);
                char *sql = spell(st, sp, marker);
                if (i < 2) {
                    char payload[128];
                    snprintf(payload, sizeof(payload),
                             "{\"operation_type\": \"%s\", \"sql\": \"SELECT 1\"}", ops[i]);
                    dbev_request_t *req = request(payload);
                    req->op.sql = sql;
                    execute(req, &o);
                    judge("executor", ops[i], st, sp, gap, sql, &o);
                } else {
                    /* Between two inserts of one TRANSACTION: a COMMIT that
                     * ran would keep mark a, a ROLLBACK would let b in. */
                    dbev_request_t *req =
                        request("{\"operation_type\": \"TRANSACTION\", \"operations\": ["
                                "{\"operation_type\": \"INSERT\", \"table\": \"marks\", \"data\": "
                                "{\"name\": \"a\"}},"
                                "{\"operation_type\": \"EXECUTE\", \"sql\": \"SELECT 1\"},"
                                "{\"operation_type\": \"INSERT\", \"table\": \"marks\", \"data\": "
                                "{\"name\": \"b\"}}]}");
                    req->op.ops[1].sql = sql;
                    execute(req, &o);
                    judge("executor", "TRANSACTION", st, sp, gap, sql, &o);
                    if (count_sql("SELECT count(*) FROM marks") != 0)
                        fail_msg("%s (%s) in a TRANSACTION between two inserts: %ld of them "
                                 "were kept (%s)",
                                 st->sql, sp->name, count_sql("SELECT count(*) FROM marks"),
                                 o.message);
                }
                if (o.refused)
                    snprintf(ran[markers++], 80, "/* %s */", marker);
                free(sql);
                cases++;
            }
        }
    }
    /* The log shows what ran: a control statement after all of them is
     * there, and none of the refused ones. */
    dbev_request_t *req = request("{\"operation_type\": \"SELECT\", \"sql\": \"SELECT 1\"}");
    req->op.sql = "SELECT 1 AS one /* dbev-refusal-control */";
    outcome_t o;
    execute(req, &o);
    assert_false(o.refused);
    int64_t deadline = dbev_mono_us() + WAIT_MS * 1000LL;
    while (!logged("dbev-refusal-control") && dbev_mono_us() < deadline)
        usleep(10 * 1000); /* polling interval while waiting for the log line */
    if (!logged("dbev-refusal-control"))
        fail_msg("the control statement is not in the server log %s: is log_statement on?",
                 log_path);
    for (int i = 0; i < markers; i++)
        if (logged(ran[i]))
            fail_msg("refused, yet run by PostgreSQL (%s in %s)", ran[i], log_path);
    free(ran);
    /* No connection of the executor left inside a transaction (BEGIN, START). */
    assert_int_equal(count_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = '" DBNAME
                               "' AND state LIKE 'idle in transaction%'"),
                     0);
    assert_int_equal(count_sql("SELECT count(*) FROM pg_prepared_xacts"), 0);
    fprintf(stderr, "# executor: %d cases, %d refusals not in the server log\n", cases, markers);
}

/* Transaction control inside a dollar-quoted body (a DO block) is no
 * statement of its own: neither layer refuses DO. It must still end nothing,
 * because the executor runs every request inside its own transaction, where
 * PostgreSQL refuses a COMMIT or ROLLBACK from PL/pgSQL. */
static void test_dollar_quoted_bodies(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "DO $$ BEGIN INSERT INTO marks VALUES ('c'); COMMIT; END $$",
        "DO $body$ BEGIN INSERT INTO marks VALUES ('c'); ROLLBACK; END $body$",
        "DO $$ BEGIN INSERT INTO marks VALUES ('c'); EXECUTE 'COMMIT'; END $$",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        outcome_t o;
        dbev_request_t *req = request("{\"operation_type\": \"EXECUTE\", \"sql\": \"SELECT 1\"}");
        req->op.sql = bodies[i];
        execute(req, &o);
        if (strncmp(o.message, "DATABASE_OPERATION_FAILED", 25) != 0)
            fail_msg("%s: %s", bodies[i], o.message);
        req = request("{\"operation_type\": \"TRANSACTION\", \"operations\": ["
                      "{\"operation_type\": \"INSERT\", \"table\": \"marks\", \"data\": "
                      "{\"name\": \"a\"}},"
                      "{\"operation_type\": \"EXECUTE\", \"sql\": \"SELECT 1\"},"
                      "{\"operation_type\": \"INSERT\", \"table\": \"marks\", \"data\": "
                      "{\"name\": \"b\"}}]}");
        req->op.ops[1].sql = bodies[i];
        execute(req, &o);
        if (strncmp(o.message, "DATABASE_OPERATION_FAILED", 25) != 0)
            fail_msg("TRANSACTION with %s: %s", bodies[i], o.message);
        assert_int_equal(count_sql("SELECT count(*) FROM marks"), 0);
    }
    assert_int_equal(count_sql("SELECT count(*) FROM pg_stat_activity WHERE datname = '" DBNAME
                               "' AND state LIKE 'idle in transaction%'"),
                     0);
}

static void test_summary(void **state)
{
    (void)state;
    fprintf(stderr, "# %d known gaps, %d of the marked cases now refused\n", known_gaps,
            now_refused);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sql_rules), cmocka_unit_test(test_decoder),
        cmocka_unit_test(test_executor),  cmocka_unit_test(test_dollar_quoted_bodies),
        cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests_name("refusals", tests, group_setup, group_teardown);
}
