/*
 * Clocks and ISO-8601 timestamps. Latencies use the monotonic clock so a
 * wall-clock step never shows up as a negative or huge latency; event
 * timestamps use the wall clock because they cross process boundaries.
 */
#include "dbev_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t dbev_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void dbev_mono_deadline(int64_t timeout_ms, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int64_t dbev_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *dbev_iso8601(int64_t wall_us, char *buf, size_t size)
{
    /* Floor division: before 1970 wall_us is negative and C's division
     * truncates toward zero, which would print "...T10:00:01.-999Z" for a
     * time just before 10:00:01. The second is the one below, the fraction
     * is counted up from it. */
    int64_t rem_us = wall_us % 1000000;
    if (rem_us < 0)
        rem_us += 1000000;
    time_t secs = (time_t)((wall_us - rem_us) / 1000000);
    int millis = (int)(rem_us / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    return buf;
}

int dbev_parse_iso8601(const char *text, int64_t *wall_us)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int64_t scale = 100000;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9') {
            frac_us += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int64_t offset_s = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        /* Exactly "+HH:MM": anything shorter must not move p past the end. */
        const char *o = p + 1;
        for (int i = 0; i < 5; i++)
            if (i == 2 ? o[i] != ':' : (o[i] < '0' || o[i] > '9'))
                return -1;
        int hh = (o[0] - '0') * 10 + (o[1] - '0'), mm = (o[3] - '0') * 10 + (o[4] - '0');
        if (hh > 23 || mm > 59)
            return -1;
        offset_s = sign * (hh * 3600 + mm * 60);
        p += 6;
    }
    /* A timestamp without zone is taken as UTC, as Python's isoformat() of
     * utcnow() produces in the seeds' examples. */
    if (*p != '\0')
        return -1;
    time_t secs = timegm(&tm);
    *wall_us = ((int64_t)secs - offset_s) * 1000000 + frac_us;
    return 0;
}
