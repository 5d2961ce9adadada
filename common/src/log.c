/*
 * Structured logging: one JSON object per line, written with a single
 * write(2) so that lines from several threads or processes sharing stderr
 * never interleave. Also the errstr helper used across components.
 */
#include "dbev_common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *level_names[] = {"debug", "info", "warn", "error"};

const char *dbev_log_level_name(dbev_log_level_t level)
{
    if ((int)level < 0 || level > DBEV_LOG_ERROR)
        return "unknown";
    return level_names[level];
}

int dbev_log_level_parse(const char *name)
{
    for (int i = 0; i <= DBEV_LOG_ERROR; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* Appends s to buf as the inside of a JSON string. Returns the new length,
 * never past size-1; a line that does not fit is cut, never overflowed. */
static size_t append_json_escaped(char *buf, size_t len, size_t size, const char *s)
{
    for (; *s && len + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c == '\n') {
            buf[len++] = '\\';
            buf[len++] = 'n';
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, size - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    buf[len] = '\0';
    return len;
}

static size_t append_raw(char *buf, size_t len, size_t size, const char *s)
{
    while (*s && len + 1 < size)
        buf[len++] = *s++;
    buf[len] = '\0';
    return len;
}

void dbev_log_stderr(void *opaque, dbev_log_level_t level, const char *component,
                     const char *correlation_id, const char *message)
{
    char line[4096];
    char ts[DBEV_ISO8601_SIZE];
    size_t len = 0;
    len = append_raw(line, len, sizeof(line), "{\"ts\":\"");
    len = append_raw(line, len, sizeof(line), dbev_iso8601(dbev_wall_us(), ts, sizeof(ts)));
    len = append_raw(line, len, sizeof(line), "\",\"level\":\"");
    len = append_raw(line, len, sizeof(line), dbev_log_level_name(level));
    len = append_raw(line, len, sizeof(line), "\",\"component\":\"");
    len = append_json_escaped(line, len, sizeof(line), component ? component : "dbev");
    if (correlation_id) {
        len = append_raw(line, len, sizeof(line), "\",\"correlation_id\":\"");
        len = append_json_escaped(line, len, sizeof(line), correlation_id);
    }
    len = append_raw(line, len, sizeof(line), "\",\"msg\":\"");
    len = append_json_escaped(line, len, sizeof(line) - 3, message);
    len = append_raw(line, len, sizeof(line), "\"}\n");
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

void dbev_logf(const dbev_logger_t *logger, dbev_log_level_t level, const char *correlation_id,
               const char *fmt, ...)
{
    if (!logger || !logger->cb || level < logger->level)
        return;
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    logger->cb(logger->opaque, level, logger->component, correlation_id, message);
}

int dbev_seterr(char *errstr, size_t size, const char *fmt, ...)
{
    if (errstr && size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, size, fmt, ap);
        va_end(ap);
    }
    return -1;
}
