/*
 * Column kinds for the SQL builder (dbev/sql_build.h): whether a column is
 * array-typed, so a JSON array bound to it goes as an array literal and not
 * as JSON text. Looked up in the catalog (the query and the reading of its
 * rows are sql/'s, shared with the direct path; the non-blocking I/O under
 * the pool's deadline is ours) on the batch's connection once per
 * table and cached in the executor (ex->coltypes; run_step forgets it all
 * when a statement fails with a 42xxx SQLSTATE: the schema may have changed).
 */
#include "exec_int.h"

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
        dbev_sql_colkind_param(table, quoted, sizeof(quoted));
        const char *values[] = {quoted};
        PGresult *res = pool_exec(pc->conn, dbev_sql_colkind_query(), 1, values, io_deadline(30000),
                                  err, sizeof(err));
        if (!res)
            return DBEV_SQL_COL_SCALAR; /* the statement itself will meet the failure */
        cols = dbev_sql_colkinds(res);
        if (json_object_size(cols) > 0) { /* only tables found are cached */
            json_object_set_new(ex->coltypes, table, cols);
        } else {
            json_decref(cols);
            cols = NULL;
        }
        PQclear(res);
    }
    return json_is_true(json_object_get(cols, column)) ? DBEV_SQL_COL_ARRAY : DBEV_SQL_COL_SCALAR;
}
