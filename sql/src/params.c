/*
 * The parameter placeholder check: PostgreSQL binds exactly as many values
 * as the highest $n of the statement, and refuses a Bind with fewer or more
 * as a protocol violation (08P01), which looks like a broken connection to
 * anyone reading SQLSTATE classes. Counting the $n first (outside strings,
 * comments, quoted identifiers and dollar quotes, as the lexer reads them)
 * lets the request be refused as what it is, the caller's mistake.
 */
#include "sql_int.h"

int dbev_sql_params_check(const char *sql, size_t nparams, char *errstr, size_t size)
{
    dbev_sql_stmt_t stmt;
    dbev_sql_inspect(sql, &stmt);
    if (stmt.max_param > DBEV_SQL_MAX_PARAMS) /* capped: the real $n is larger still */
        return sql_seterr(errstr, size, "sql uses a $n above $%d, the most PostgreSQL accepts",
                          DBEV_SQL_MAX_PARAMS);
    if ((size_t)stmt.max_param == nparams)
        return 0;
    if (stmt.max_param == 0)
        return sql_seterr(errstr, size,
                          "params has %zu value%s but sql uses no $n placeholder; PostgreSQL needs "
                          "exactly one value per $1..$n",
                          nparams, nparams == 1 ? "" : "s");
    if ((size_t)stmt.max_param > nparams)
        return sql_seterr(errstr, size,
                          "sql uses $%ld but params has %zu value%s; give one value for each of "
                          "$1..$%ld",
                          stmt.max_param, nparams, nparams == 1 ? "" : "s", stmt.max_param);
    return sql_seterr(errstr, size,
                      "params has %zu values but sql uses at most $%ld; PostgreSQL needs exactly "
                      "one value per $1..$%ld",
                      nparams, stmt.max_param, stmt.max_param);
}
