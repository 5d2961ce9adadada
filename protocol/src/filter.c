/*
 * Validation of `where` filters (UPDATE, DELETE): an object whose keys are
 * column names, combined with AND. A value is either a scalar or null
 * (equality; null means IS NULL) or an object holding exactly one operator:
 * $eq $ne $lt $lte $gt $gte (scalar operand), $in (non-empty array of
 * scalars), $like (string), $is_null (boolean). Seed 002 shows {"$lt": 0.5}.
 */
#include "proto_int.h"

#include <dbev_common.h>

#include <stdio.h>
#include <string.h>

#define OPERATOR_LIST "$eq $ne $lt $lte $gt $gte $in $like $is_null"

static bool is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int operator_check(const char *op, const json_t *operand, const char *path, char *errstr,
                          size_t size)
{
    if (strcmp(op, "$eq") == 0 || strcmp(op, "$ne") == 0 || strcmp(op, "$lt") == 0 ||
        strcmp(op, "$lte") == 0 || strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0) {
        if (json_is_null(operand))
            return dbev_seterr(errstr, size,
                               "%s: %s needs a value, got null; use {\"$is_null\": true} (or "
                               "false) to test for NULL",
                               path, op);
        if (!is_scalar(operand))
            return dbev_seterr(errstr, size, "%s: %s needs a string, number or boolean, got %s",
                               path, op, proto_json_type(operand));
        return 0;
    }
    if (strcmp(op, "$in") == 0) {
        if (!json_is_array(operand))
            return dbev_seterr(errstr, size,
                               "%s: $in needs an array of values, got %s; e.g. {\"$in\": [1, 2]}",
                               path, proto_json_type(operand));
        if (json_array_size(operand) == 0)
            return dbev_seterr(errstr, size,
                               "%s: $in needs at least one value (an empty list matches nothing)",
                               path);
        size_t i;
        json_t *v;
        json_array_foreach(operand, i, v)
        {
            if (!is_scalar(v))
                return dbev_seterr(errstr, size,
                                   "%s.$in[%zu]: must be a string, number or boolean, got %s%s",
                                   path, i, proto_json_type(v),
                                   json_is_null(v) ? " (NULL never matches IN; use $is_null)" : "");
        }
        return 0;
    }
    if (strcmp(op, "$like") == 0) {
        if (!json_is_string(operand))
            return dbev_seterr(errstr, size, "%s: $like needs a pattern string, got %s", path,
                               proto_json_type(operand));
        return 0;
    }
    if (strcmp(op, "$is_null") == 0) {
        if (!json_is_boolean(operand))
            return dbev_seterr(errstr, size, "%s: $is_null needs true or false, got %s", path,
                               proto_json_type(operand));
        return 0;
    }
    return dbev_seterr(errstr, size, "%s: unknown filter operator \"%.32s\"; use one of %s", path,
                       op, OPERATOR_LIST);
}

int proto_where_check(const json_t *where, const char *path, char *errstr, size_t size)
{
    char cpath[PROTO_PATH_SIZE];
    if (!json_is_object(where))
        return dbev_seterr(errstr, size,
                           "%s: must be an object of column filters, got %s; e.g. {\"id\": 42}",
                           path, proto_json_type(where));
    const char *column;
    json_t *value;
    json_object_foreach((json_t *)where, column, value)
    {
        proto_pathf(cpath, sizeof(cpath), "%s.%.64s", path, column);
        if (column[0] == '$')
            return dbev_seterr(errstr, size,
                               "%s: operators go inside a column's filter, e.g. {\"score\": "
                               "{\"$lt\": 0.5}}; conditions on different columns are ANDed, and "
                               "$and/$or are not supported (use SELECT or EXECUTE with SQL)",
                               cpath);
        if (proto_ident_check(column, false, cpath, errstr, size) < 0)
            return -1;
        if (json_is_null(value) || is_scalar(value))
            continue;
        if (json_is_array(value))
            return dbev_seterr(errstr, size,
                               "%s: an array is not a filter; for membership use {\"$in\": "
                               "[...]}",
                               cpath);
        /* an object: exactly one operator */
        size_t n = json_object_size(value);
        if (n != 1)
            return dbev_seterr(errstr, size,
                               "%s: a filter object must hold exactly one operator (one of %s), "
                               "got %zu keys; combine conditions on different columns",
                               cpath, OPERATOR_LIST, n);
        const char *op;
        json_t *operand;
        json_object_foreach(value, op, operand)
        {
            if (operator_check(op, operand, cpath, errstr, size) < 0)
                return -1;
        }
    }
    return 0;
}
