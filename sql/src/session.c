/*
 * The session settings (see dbev/sql_build.h): what a connection must be set
 * to before its results go through the type mapping. One list, in the two
 * shapes the callers send it: one statement at a time (the adapter's pool,
 * in a pipeline, where the extended protocol takes one statement per
 * message) and as one text (the direct path, through the simple protocol).
 */
#include <dbev/sql_build.h>

#include <string.h>

/* typemap.c reads timestamps and dates in ISO form and turns the UTC offset
 * "+00" into "Z"; float output with the fewest digits that read back
 * exactly; intervals in ISO 8601 ("P1DT2H"), not "1 day 02:00:00". */
#define SET_DATESTYLE     "SET DateStyle = 'ISO, MDY'"
#define SET_TIMEZONE      "SET TimeZone = 'UTC'"
#define SET_FLOAT_DIGITS  "SET extra_float_digits = 1"
#define SET_INTERVALSTYLE "SET IntervalStyle = 'iso_8601'"

static const char *const settings[] = {SET_DATESTYLE, SET_TIMEZONE, SET_FLOAT_DIGITS,
                                       SET_INTERVALSTYLE};

static const char settings_text[] =
    SET_DATESTYLE "; " SET_TIMEZONE "; " SET_FLOAT_DIGITS "; " SET_INTERVALSTYLE;

const char *dbev_sql_session_setting(size_t i)
{
    return i < sizeof(settings) / sizeof(settings[0]) ? settings[i] : NULL;
}

const char *dbev_sql_session_settings_text(void)
{
    return settings_text;
}

bool dbev_sql_session_ready(const PGconn *conn)
{
    const char *ds = PQparameterStatus(conn, "DateStyle");
    const char *tz = PQparameterStatus(conn, "TimeZone");
    const char *is = PQparameterStatus(conn, "IntervalStyle");
    return ds && strncmp(ds, "ISO", 3) == 0 && tz && strcmp(tz, "UTC") == 0 && is &&
           strcmp(is, "iso_8601") == 0;
}
