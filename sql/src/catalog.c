/*
 * What the builder must ask the server, written once (see dbev/sql_build.h):
 * the catalog query that tells array-typed columns from the others (for a
 * dbev_sql_colkind_fn) and the reading of its answer, and the reading of a
 * described statement's parameter types (for a dbev_sql_describe_fn). The
 * I/O stays the caller's: the adapter's pool runs these with non-blocking
 * deadlines, the harness's direct path with blocking libpq calls.
 */
#include <dbev/sql_build.h>

#include <stdio.h>
#include <string.h>

const char *dbev_sql_colkind_query(void)
{
    return "SELECT a.attname, t.typcategory = 'A' FROM pg_attribute a"
           " JOIN pg_type t ON t.oid = a.atttypid"
           " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped";
}

void dbev_sql_colkind_param(const char *table, char *buf, size_t size)
{
    const char *dot = strchr(table, '.');
    if (dot)
        snprintf(buf, size, "\"%.*s\".\"%s\"", (int)(dot - table), table, dot + 1);
    else
        snprintf(buf, size, "\"%s\"", table);
}

json_t *dbev_sql_colkinds(const PGresult *res)
{
    json_t *cols = json_object();
    if (cols && PQresultStatus(res) == PGRES_TUPLES_OK)
        for (int r = 0; r < PQntuples(res); r++)
            json_object_set_new(cols, PQgetvalue(res, r, 0),
                                json_boolean(PQgetvalue(res, r, 1)[0] == 't'));
    return cols;
}

int dbev_sql_param_types(const PGresult *res, unsigned *types, int max)
{
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return -1;
    int n = PQnparams(res);
    for (int i = 0; i < n && i < max; i++)
        types[i] = PQparamtype(res, i);
    return n;
}
