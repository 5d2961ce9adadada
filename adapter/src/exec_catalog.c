/*
 * Column kinds for the SQL builder (dbev/sql_build.h): whether a column is
 * array-typed, so a JSON array bound to it goes as an array literal and not
 * as JSON text. Looked up in the catalog on the batch's connection once per
 * table and cached in the executor (ex->coltypes; run_step forgets it all
 * when a statement fails with a 42xxx SQLSTATE: the schema may have changed).
 */
#include "exec_int.h"

#include <stdio.h>
#include <string.h>

/* ---- column kinds (cached catalog lookup) -------------------------------- */

dbev_sql_colkind_t colkind_cb(void *opaque, const char *table, const char *column)
{
    adapter_exec_t *ex = opaque;
    json_t *cols = json_object_get(ex->coltypes, table);
    if (!cols) {
        pool_conn_t *pc = get_conn(ex);
        if (!pc)
            return DBEV_SQL_COL_SCALAR;
        char quoted[160], err[256];
        const char *dot = strchr(table, '.');
        if (dot)
            snprintf(quoted, sizeof(quoted), "\"%.*s\".\"%s\"", (int)(dot - table), table, dot + 1);
        else
            snprintf(quoted, sizeof(quoted), "\"%s\"", table);
        const char *values[] = {quoted};
        PGresult *res =
            pool_exec(pc->conn,
                      "SELECT a.attname, t.typcategory = 'A' FROM pg_attribute a"
                      " JOIN pg_type t ON t.oid = a.atttypid"
                      " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                      1, values, io_deadline(30000), err, sizeof(err));
        if (!res)
            return DBEV_SQL_COL_SCALAR; /* the statement itself will meet the failure */
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
            cols = json_object();
            for (int r = 0; r < PQntuples(res); r++)
                json_object_set_new(cols, PQgetvalue(res, r, 0),
                                    json_boolean(PQgetvalue(res, r, 1)[0] == 't'));
            json_object_set_new(ex->coltypes, table, cols);
        }
        PQclear(res);
    }
    return json_is_true(json_object_get(cols, column)) ? DBEV_SQL_COL_ARRAY : DBEV_SQL_COL_SCALAR;
}
