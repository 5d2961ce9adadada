/*
 * dbev: the command-line face of libdbev. One database call per run, sent
 * through Kafka to the dbev adapter exactly as a service would send it, so a
 * person can reproduce by hand what a scenario or a service did (with the
 * harness's `env up` providing PostgreSQL, the mock cluster and the adapter).
 *
 * It uses only the public header <dbev/dbev.h>. Output is an aligned table
 * when stdout is a terminal, JSON otherwise (or with --json). The exit code
 * tells apart success, usage errors, database errors, validation errors,
 * timeouts and connection errors (see usage() and client/README.md).
 */
#include "send_raw.h"

#include <dbev/dbev.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    EXIT_OK = 0,
    EXIT_DATABASE = 1,   /* DATABASE_OPERATION_FAILED: the SQL failed (see SQLSTATE) */
    EXIT_USAGE = 2,      /* bad command line or arguments refused by the client */
    EXIT_VALIDATION = 3, /* VALIDATION_ERROR: the adapter refused the request */
    EXIT_TIMEOUT = 4,    /* no answer in time (client _TIMEOUT or TIMEOUT_ERROR) */
    EXIT_CONNECTION = 5, /* Kafka unreachable, DATABASE_CONNECTION_FAILED, breaker open */
    EXIT_OTHER = 6,      /* anything else (undecodable response, cancelled) */
    EXIT_UNHEALTHY = 7,  /* health: the adapter answered DEGRADED, RECOVERING or UNHEALTHY */
};

#define MAX_PARAMS 256

typedef struct cli_args {
    const char *command;
    const char *positional; /* SQL or TABLE */
    const char *bootstrap;
    const char *env;
    const char *correlation_id;
    const char *data;
    const char *where;
    const char *returning;
    const char *conflict;
    const char *update;
    const char *inst_name, *inst_type, *inst_status; /* instances: filters */
    const char *raw;                                 /* send --raw FILE */
    const char *params[MAX_PARAMS];
    int n_params;
    int timeout_ms;
    int retries; /* -1: library default */
    int verbose;
    int json;
    const char *conf_kv[64];
    int n_conf;
} cli_args_t;

typedef struct cli_command {
    const char *name;
    const char *synopsis;
    const char *summary;
    const char *positional; /* NULL: takes none */
    unsigned opts;          /* CMD_* */
} cli_command_t;

#define CMD_P         0x01u
#define CMD_DATA      0x02u
#define CMD_WHERE     0x04u
#define CMD_RETURNING 0x08u
#define CMD_CONFLICT  0x10u
#define CMD_UPDATE    0x20u
#define CMD_REGISTRY  0x40u /* reads the registry topics, no request */
#define CMD_RAW       0x80u

static const cli_command_t commands[] = {
    {"query", "query \"SELECT ...\" [-p VALUE]...", "run a SELECT and print its rows", "SQL",
     CMD_P},
    {"execute", "execute \"SQL\" [-p VALUE]...", "run a statement; prints the rows affected", "SQL",
     CMD_P},
    {"insert", "insert TABLE --data JSON [--returning COLS]", "insert one row", "TABLE",
     CMD_DATA | CMD_RETURNING},
    {"update", "update TABLE --data JSON --where JSON [--returning COLS]",
     "update the rows matching --where", "TABLE", CMD_DATA | CMD_WHERE | CMD_RETURNING},
    {"delete", "delete TABLE --where JSON [--returning COLS]", "delete the rows matching --where",
     "TABLE", CMD_WHERE | CMD_RETURNING},
    {"upsert", "upsert TABLE --data JSON --conflict COLS [--update COLS] [--returning COLS]",
     "insert, or update on conflict", "TABLE",
     CMD_DATA | CMD_CONFLICT | CMD_UPDATE | CMD_RETURNING},
    {"health", "health", "round trip through Kafka, the adapter and PostgreSQL", NULL, 0},
    {"instances", "instances [--name SERVICE] [--type TYPE] [--status healthy|degraded|unhealthy]",
     "list the live service instances announced on the registry topics", NULL, CMD_REGISTRY},
    {"send", "send --raw FILE|-",
     "publish request events as written (one JSON a line) and print the answers", NULL, CMD_RAW},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *progname = "dbev";

static void usage_global(FILE *fp)
{
    fprintf(fp,
            "usage: %s [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Sends one database request through Kafka to the dbev adapter and prints the "
            "answer.\n"
            "\n"
            "commands:\n",
            progname);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n"
                "options (anywhere on the line):\n"
                "  -b, --bootstrap HOST:PORT  Kafka brokers (default: $KAFKA_BOOTSTRAP_SERVERS)\n"
                "      --env PREFIX           topic prefix (default: $DBEV_ENV, else dev)\n"
                "      --timeout MS           the call's deadline (default 10000; per attempt "
                "with -X timeout.mode=per_attempt)\n"
                "      --retries N            retries on timeout/transport/connection failure "
                "(default 3)\n"
                "      --correlation-id ID    use ID instead of a new UUID\n"
                "      --json                 print JSON even on a terminal\n"
                "  -X, --set KEY=VALUE        any client property (dbev --help-config)\n"
                "  -v, --verbose              client log lines on stderr\n"
                "  -h, --help                 this help; `dbev COMMAND --help` for a command\n"
                "      --help-config          the client configuration reference (Markdown)\n"
                "      --version              print the library version\n"
                "\n"
                "output: an aligned table when stdout is a terminal, JSON otherwise or with "
                "--json.\n"
                "\n"
                "exit codes:\n"
                "  0  success\n"
                "  1  database error (DATABASE_OPERATION_FAILED; SQLSTATE on stderr)\n"
                "  2  usage error or arguments refused by the client\n"
                "  3  validation error (VALIDATION_ERROR from the adapter)\n"
                "  4  timeout (no answer in time, or TIMEOUT_ERROR from the adapter)\n"
                "  5  connection error (Kafka unreachable, DATABASE_CONNECTION_FAILED, "
                "CIRCUIT_BREAKER_OPEN)\n"
                "  6  other failure (undecodable response, cancelled)\n"
                "  7  health: the adapter answered, but not HEALTHY (status and reason on "
                "stderr)\n");
}

static void usage_command(FILE *fp, const cli_command_t *cmd)
{
    fprintf(fp, "usage: %s %s\n\n%s.\n", progname, cmd->synopsis, cmd->summary);
    if (cmd->opts & CMD_P)
        fprintf(fp, "\n  -p, --param VALUE   a $N parameter, in order; parsed as JSON when it "
                    "is valid JSON\n                      (42, true, null, \"text\"), else "
                    "taken as a string\n");
    if (cmd->opts & CMD_DATA)
        fprintf(fp, "  --data JSON         column values, e.g. '{\"name\":\"x\",\"n\":1}'\n");
    if (cmd->opts & CMD_WHERE)
        fprintf(fp, "  --where JSON        filters, AND-combined, e.g. '{\"id\":7}'\n");
    if (cmd->opts & CMD_CONFLICT)
        fprintf(fp, "  --conflict COLS     conflict target columns, comma-separated\n");
    if (cmd->opts & CMD_UPDATE)
        fprintf(fp, "  --update COLS       columns to update on conflict (default: all "
                    "others)\n");
    if (cmd->opts & CMD_RETURNING)
        fprintf(fp, "  --returning COLS    columns to return, comma-separated, or '*'\n");
    if (cmd->opts & CMD_RAW)
        fprintf(fp,
                "\n  --raw FILE|-        request events, one JSON object a line, published as\n"
                "                      they are (keyed by correlation_id); each answer is\n"
                "                      printed as one JSON line. --timeout applies per event.\n"
                "                      Exit 0 all completed, 1 one failed, 4 one unanswered.\n");
    fprintf(fp, "\nGlobal options and exit codes: %s --help\n", progname);
}

/* One clear line on stderr, exit 2. */
static void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad_usage(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", progname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try %s --help)\n", progname);
    exit(EXIT_USAGE);
}

static int parse_int(const char *opt, const char *value, int min, int max)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max)
        bad_usage("%s: \"%s\" is not an integer in [%d..%d]", opt, value, min, max);
    return (int)v;
}

static const cli_command_t *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* Matches "--name VALUE" and "--name=VALUE"; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *shortname,
                             const char *longname)
{
    const char *arg = argv[*i];
    size_t n = strlen(longname);
    if (!strncmp(arg, longname, n) && arg[n] == '=')
        return arg + n + 1;
    if (strcmp(arg, longname) != 0 && !(shortname && !strcmp(arg, shortname)))
        return NULL;
    if (*i + 1 >= argc)
        bad_usage("%s needs a value", arg);
    return argv[++*i];
}

static void registry_only(const cli_command_t *cmd, const char *arg)
{
    if (!cmd || !(cmd->opts & CMD_REGISTRY))
        bad_usage("%s is only valid after instances", arg);
}

static void parse_args(int argc, char **argv, cli_args_t *a)
{
    const cli_command_t *cmd = NULL;
    int want_help = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            want_help = 1;
        } else if (!strcmp(arg, "--help-config")) {
            dbev_conf_properties_show(stdout);
            exit(EXIT_OK);
        } else if (!strcmp(arg, "--version")) {
            printf("dbev %s (libdbev 0x%08x)\n", dbev_version_str(), dbev_version());
            exit(EXIT_OK);
        } else if (!strcmp(arg, "--json")) {
            a->json = 1;
        } else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            a->verbose++;
        } else if ((v = opt_value(argc, argv, &i, "-b", "--bootstrap"))) {
            a->bootstrap = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--env"))) {
            a->env = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--timeout"))) {
            a->timeout_ms = parse_int("--timeout", v, 1, 3600000);
        } else if ((v = opt_value(argc, argv, &i, NULL, "--retries"))) {
            a->retries = parse_int("--retries", v, 0, 100);
        } else if ((v = opt_value(argc, argv, &i, NULL, "--correlation-id"))) {
            a->correlation_id = v;
        } else if ((v = opt_value(argc, argv, &i, "-X", "--set"))) {
            if (a->n_conf >= 64)
                bad_usage("too many -X options");
            if (!strchr(v, '='))
                bad_usage("-X %s: expected KEY=VALUE", v);
            a->conf_kv[a->n_conf++] = v;
        } else if ((v = opt_value(argc, argv, &i, "-p", "--param"))) {
            if (!cmd || !(cmd->opts & CMD_P))
                bad_usage("-p is only valid after query or execute");
            if (a->n_params >= MAX_PARAMS)
                bad_usage("more than %d parameters", MAX_PARAMS);
            a->params[a->n_params++] = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--data"))) {
            if (!cmd || !(cmd->opts & CMD_DATA))
                bad_usage("--data is only valid after insert, update or upsert");
            a->data = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--where"))) {
            if (!cmd || !(cmd->opts & CMD_WHERE))
                bad_usage("--where is only valid after update or delete");
            a->where = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--returning"))) {
            if (!cmd || !(cmd->opts & CMD_RETURNING))
                bad_usage("--returning is only valid after insert, update, delete or upsert");
            a->returning = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--conflict"))) {
            if (!cmd || !(cmd->opts & CMD_CONFLICT))
                bad_usage("--conflict is only valid after upsert");
            a->conflict = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--raw"))) {
            if (!cmd || !(cmd->opts & CMD_RAW))
                bad_usage("--raw is only valid after send");
            a->raw = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--update"))) {
            if (!cmd || !(cmd->opts & CMD_UPDATE))
                bad_usage("--update is only valid after upsert");
            a->update = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--name"))) {
            registry_only(cmd, arg);
            a->inst_name = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--type"))) {
            registry_only(cmd, arg);
            a->inst_type = v;
        } else if ((v = opt_value(argc, argv, &i, NULL, "--status"))) {
            registry_only(cmd, arg);
            a->inst_status = v;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            bad_usage("unknown option %s", arg);
        } else if (!cmd) {
            if (!(cmd = find_command(arg)))
                bad_usage("unknown command \"%s\"", arg);
            a->command = cmd->name;
        } else if (cmd->positional && !a->positional) {
            a->positional = arg;
        } else {
            bad_usage("%s: unexpected argument \"%s\"", cmd->name, arg);
        }
    }
    if (want_help) {
        if (cmd)
            usage_command(stdout, cmd);
        else
            usage_global(stdout);
        exit(EXIT_OK);
    }
    if (!cmd)
        bad_usage("no command given");
    if (cmd->positional && !a->positional)
        bad_usage("%s: %s is required", cmd->name, cmd->positional);
    if ((cmd->opts & CMD_DATA) && !a->data)
        bad_usage("%s: --data is required", cmd->name);
    if ((cmd->opts & CMD_WHERE) && !a->where)
        bad_usage("%s: --where is required", cmd->name);
    if ((cmd->opts & CMD_CONFLICT) && !a->conflict)
        bad_usage("%s: --conflict is required", cmd->name);
    if ((cmd->opts & CMD_RAW) && !a->raw)
        bad_usage("%s: --raw FILE is required", cmd->name);
}

/* A JSON object from an option, or exit 2 naming the option and the position. */
static json_t *parse_object(const char *opt, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        bad_usage("%s: invalid JSON at column %d: %s", opt, jerr.column, jerr.text);
    if (!json_is_object(v)) {
        json_decref(v); /* bad_usage exits: nothing else would free it */
        bad_usage("%s: expected a JSON object like '{\"id\":1}'", opt);
    }
    return v;
}

static json_t *parse_params(const cli_args_t *a)
{
    if (a->n_params == 0)
        return NULL;
    json_t *params = json_array();
    for (int i = 0; i < a->n_params; i++) {
        json_t *v = json_loads(a->params[i], JSON_DECODE_ANY, NULL);
        json_array_append_new(params, v ? v : json_string(a->params[i]));
    }
    return params;
}

static void log_stderr(void *opaque, int level, const char *correlation_id, const char *message)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    fprintf(stderr, "%s: [%s]%s%s %s\n", progname, level >= 0 && level <= 3 ? names[level] : "?",
            correlation_id ? " " : "", correlation_id ? correlation_id : "", message);
}

/* The configuration from the command line (exit 2 on a bad value). */
static dbev_conf_t *make_conf(const cli_args_t *a)
{
    char errstr[512];
    dbev_conf_t *conf = dbev_conf_new();
    struct {
        const char *key, *value;
    } sets[4] = {{"bootstrap.servers", a->bootstrap}, {"topic.prefix", a->env}};
    char timeout[32], retries[32];
    int n = 2;
    if (a->timeout_ms > 0) {
        snprintf(timeout, sizeof(timeout), "%d", a->timeout_ms);
        sets[n].key = "request.timeout.ms";
        sets[n++].value = timeout;
    }
    if (a->retries >= 0) {
        snprintf(retries, sizeof(retries), "%d", a->retries);
        sets[n].key = "max.retries";
        sets[n++].value = retries;
    }
    for (int i = 0; i < n; i++)
        if (sets[i].value &&
            dbev_conf_set(conf, sets[i].key, sets[i].value, errstr, sizeof(errstr)) != DBEV_CONF_OK)
            bad_usage("%s", errstr);
    for (int i = 0; i < a->n_conf; i++) {
        char key[256];
        const char *eq = strchr(a->conf_kv[i], '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - a->conf_kv[i]), a->conf_kv[i]);
        if (dbev_conf_set(conf, key, eq + 1, errstr, sizeof(errstr)) != DBEV_CONF_OK)
            bad_usage("-X %s", errstr);
    }
    if (a->verbose)
        dbev_conf_set_log_cb(conf, log_stderr, NULL,
                             a->verbose > 1 ? DBEV_LOG_LEVEL_DEBUG : DBEV_LOG_LEVEL_INFO);
    return conf;
}

static dbev_client_t *make_client(const cli_args_t *a)
{
    char errstr[512];
    dbev_conf_t *conf = make_conf(a);
    dbev_client_t *client = dbev_client_new(conf, errstr, sizeof(errstr));
    if (!client) {
        dbev_conf_destroy(conf);
        fprintf(stderr, "%s: cannot start the client: %s\n", progname, errstr);
        if (strstr(errstr, "bootstrap.servers is not set"))
            exit(EXIT_USAGE);
        exit(EXIT_CONNECTION);
    }
    return client;
}

/* ---- output ----------------------------------------------------------------- */

/* A cell's text: strings as they are, NULL as empty, everything else as JSON. */
static char *cell_text(json_t *v)
{
    if (!v || json_is_null(v))
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static void print_table(json_t *rows, int64_t row_count)
{
    json_t *cols = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *key;
        json_t *v;
        json_object_foreach(row, key, v)
        {
            size_t j;
            json_t *c;
            int seen = 0;
            json_array_foreach(cols, j, c) seen |= !strcmp(json_string_value(c), key);
            if (!seen)
                json_array_append_new(cols, json_string(key));
        }
    }
    size_t ncols = json_array_size(cols);
    if (ncols > 0) {
        size_t *width = calloc(ncols, sizeof(*width));
        for (size_t c = 0; c < ncols; c++) {
            width[c] = strlen(json_string_value(json_array_get(cols, c)));
            json_array_foreach(rows, i, row)
            {
                char *t =
                    cell_text(json_object_get(row, json_string_value(json_array_get(cols, c))));
                if (strlen(t) > width[c])
                    width[c] = strlen(t);
                free(t);
            }
        }
        for (size_t c = 0; c < ncols; c++)
            printf("%s %-*s ", c ? "|" : "", (int)width[c],
                   json_string_value(json_array_get(cols, c)));
        printf("\n");
        for (size_t c = 0; c < ncols; c++) {
            printf("%s", c ? "+" : "");
            for (size_t k = 0; k < width[c] + 2; k++)
                putchar('-');
        }
        printf("\n");
        json_array_foreach(rows, i, row)
        {
            for (size_t c = 0; c < ncols; c++) {
                json_t *v = json_object_get(row, json_string_value(json_array_get(cols, c)));
                char *t = cell_text(v);
                int right = json_is_number(v);
                printf("%s %*s ", c ? "|" : "", right ? (int)width[c] : -(int)width[c], t);
                free(t);
            }
            printf("\n");
        }
        free(width);
        printf("(%zu row%s)\n", json_array_size(rows), json_array_size(rows) == 1 ? "" : "s");
    } else {
        printf("%lld row%s\n", (long long)row_count, row_count == 1 ? "" : "s");
    }
    json_decref(cols);
}

static void print_result(const cli_args_t *a, dbev_result_t *result, int as_json)
{
    if (as_json) {
        json_t *out =
            json_pack("{s:s, s:s, s:I, s:f, s:f, s:i, s:O, s:O}", "correlation_id",
                      dbev_result_correlation_id(result), "event_id", dbev_result_event_id(result),
                      "row_count", (json_int_t)dbev_result_row_count(result), "execution_time_ms",
                      dbev_result_execution_time_ms(result), "latency_ms",
                      dbev_result_latency_ms(result), "attempts", dbev_result_attempts(result),
                      "rows", dbev_result_rows(result), "metadata", dbev_result_metadata(result));
        if (out && dbev_result_op_results(result))
            json_object_set(out, "results", dbev_result_op_results(result));
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
        json_decref(out);
        return;
    }
    if (!strcmp(a->command, "health")) {
        /* dbev_health_check() succeeds only on a HEALTHY answer: row 0 is its detail. */
        char *md = json_dumps(json_array_get(dbev_result_rows(result), 0),
                              JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("healthy (%.1f ms round trip) %s\n", dbev_result_latency_ms(result), md ? md : "");
        free(md);
    } else {
        print_table(dbev_result_rows(result), dbev_result_row_count(result));
    }
    fprintf(stderr, "correlation id %s, %.1f ms\n", dbev_result_correlation_id(result),
            dbev_result_latency_ms(result));
}

static int exit_code_for(dbev_err_t code)
{
    switch (code) {
    case DBEV_ERR_NO_ERROR:
        return EXIT_OK;
    case DBEV_ERR_DATABASE_OPERATION_FAILED:
        return EXIT_DATABASE;
    case DBEV_ERR__INVALID_ARG:
        return EXIT_USAGE;
    case DBEV_ERR_VALIDATION_ERROR:
        return EXIT_VALIDATION;
    case DBEV_ERR__TIMEOUT:
    case DBEV_ERR_TIMEOUT_ERROR:
        return EXIT_TIMEOUT;
    case DBEV_ERR__TRANSPORT:
    case DBEV_ERR_DATABASE_CONNECTION_FAILED:
    case DBEV_ERR_CIRCUIT_BREAKER_OPEN:
        return EXIT_CONNECTION;
    case DBEV_ERR__UNHEALTHY:
        return EXIT_UNHEALTHY;
    default:
        return EXIT_OTHER;
    }
}

static void print_error(dbev_err_t code, dbev_error_t *error, int as_json)
{
    const char *sqlstate = error ? dbev_error_sqlstate(error) : NULL;
    const char *corr = error ? dbev_error_correlation_id(error) : NULL;
    fprintf(stderr, "%s: %s: %s%s%s%s\n", progname, dbev_err2name(code),
            error ? dbev_error_message(error) : dbev_err2str(code), sqlstate ? " (SQLSTATE " : "",
            sqlstate ? sqlstate : "", sqlstate ? ")" : "");
    if (corr)
        fprintf(stderr, "%s: correlation id %s, %d attempt(s)\n", progname, corr,
                dbev_error_attempts(error));
    if (as_json) {
        json_t *out =
            json_pack("{s:{s:s, s:s, s:s?, s:s?, s:b, s:i}}", "error", "code", dbev_err2name(code),
                      "message", error ? dbev_error_message(error) : dbev_err2str(code), "sqlstate",
                      sqlstate, "correlation_id", corr, "retriable", dbev_err_is_retriable(code),
                      "attempts", error ? dbev_error_attempts(error) : 0);
        if (out && error && dbev_error_health(error))
            json_object_set(json_object_get(out, "error"), "health", dbev_error_health(error));
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
        json_decref(out);
    }
}

/*
 * `dbev instances`: reads the registry topics (no request is sent), waits
 * until it has caught up with them (--timeout, default 10 s), and prints the
 * live instances. Exit 0 with the list (maybe empty), 5 when the topics could
 * not be read in time (no adapter ever ran with this --env, or no Kafka).
 */
static int run_instances(const cli_args_t *a, int as_json)
{
    char errstr[512];
    dbev_conf_t *conf = make_conf(a);
    dbev_registry_t *reg = dbev_registry_new(conf, errstr, sizeof(errstr));
    dbev_conf_destroy(conf);
    if (!reg) {
        fprintf(stderr, "%s: cannot read the registry: %s\n", progname, errstr);
        return EXIT_CONNECTION;
    }
    int timeout = a->timeout_ms > 0 ? a->timeout_ms : 10000;
    if (dbev_registry_sync(reg, timeout) < 0) {
        fprintf(stderr,
                "%s: the registry topics could not be read within %d ms (has an adapter run "
                "with this --env? is Kafka up?)\n",
                progname, timeout);
        dbev_registry_destroy(reg);
        return EXIT_CONNECTION;
    }
    json_t *list = dbev_registry_lookup(reg, a->inst_name, a->inst_type, a->inst_status);
    dbev_registry_destroy(reg);
    if (as_json) {
        json_dumpf(list, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
    } else {
        static const char *const cols[] = {"instance_id", "service_name", "service_type", "status",
                                           "version",     "host",         "pid",          "age_ms"};
        json_t *rows = json_array();
        size_t i;
        json_t *inst;
        json_array_foreach(list, i, inst)
        {
            json_t *row = json_object();
            for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
                json_object_set(row, cols[c], json_object_get(inst, cols[c]));
            json_array_append_new(rows, row);
        }
        print_table(rows, (int64_t)json_array_size(rows));
        json_decref(rows);
    }
    json_decref(list);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    cli_args_t a = {.retries = -1};
    parse_args(argc, argv, &a);
    if (a.raw) {
        const char *bootstrap = a.bootstrap ? a.bootstrap : getenv("KAFKA_BOOTSTRAP_SERVERS");
        const char *env = a.env ? a.env : getenv("DBEV_ENV");
        if (!bootstrap || !*bootstrap)
            bad_usage("send: no Kafka: give --bootstrap or set KAFKA_BOOTSTRAP_SERVERS");
        return dbev_cli_send_raw(a.raw, bootstrap, env && *env ? env : "dev",
                                 a.timeout_ms > 0 ? a.timeout_ms : 10000, progname);
    }
    int as_json = a.json || !isatty(STDOUT_FILENO);
    if (!strcmp(a.command, "instances"))
        return run_instances(&a, as_json);

    /* Parse everything before connecting: bad input never costs a round trip. */
    json_t *data = a.data ? parse_object("--data", a.data) : NULL;
    json_t *where = a.where ? parse_object("--where", a.where) : NULL;
    json_t *params = parse_params(&a);

    dbev_client_t *client = make_client(&a);
    dbev_call_opts_t opts = {.correlation_id = a.correlation_id};
    dbev_result_t *result = NULL;
    dbev_error_t *error = NULL;
    dbev_err_t err;
    const char *t = a.positional;
    if (!strcmp(a.command, "query"))
        err = dbev_query(client, t, params, &opts, &result, &error);
    else if (!strcmp(a.command, "execute"))
        err = dbev_execute(client, t, params, &opts, &result, &error);
    else if (!strcmp(a.command, "insert"))
        err = dbev_insert(client, t, data, a.returning, &opts, &result, &error);
    else if (!strcmp(a.command, "update"))
        err = dbev_update(client, t, data, where, a.returning, &opts, &result, &error);
    else if (!strcmp(a.command, "delete"))
        err = dbev_delete(client, t, where, a.returning, &opts, &result, &error);
    else if (!strcmp(a.command, "upsert"))
        err =
            dbev_upsert(client, t, data, a.conflict, a.update, a.returning, &opts, &result, &error);
    else
        err = dbev_health_check(client, &opts, &result, &error);

    if (err == DBEV_ERR_NO_ERROR)
        print_result(&a, result, as_json);
    else
        print_error(err, error, as_json);
    dbev_result_destroy(result);
    dbev_error_destroy(error);
    dbev_client_destroy(client);
    json_decref(data);
    json_decref(where);
    json_decref(params);
    return exit_code_for(err);
}
