/*
 * Small pieces every dbev component needs and none owns: clocks, structured
 * log lines, and the errstr convention. Kept in one header so the adapter, the
 * client and the harness agree on time units and on what a log line looks
 * like. No component-specific knowledge lives here.
 */
#ifndef DBEV_COMMON_H
#define DBEV_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Monotonic clock in microseconds; only differences are meaningful. */
int64_t dbev_mono_us(void);

/** Wall clock in microseconds since the Unix epoch. */
int64_t dbev_wall_us(void);

struct timespec;
/**
 * @brief The monotonic time timeout_ms from now, written to ts: the deadline
 *        pthread_cond_timedwait() takes for a condition variable set to
 *        CLOCK_MONOTONIC (pthread_condattr_setclock).
 */
void dbev_mono_deadline(int64_t timeout_ms, struct timespec *ts);

/**
 * @brief Formats a wall-clock time as ISO-8601 UTC with milliseconds,
 *        e.g. "2025-10-30T10:00:00.000Z" (the seeds' timestamp format).
 * @param buf at least DBEV_ISO8601_SIZE bytes.
 * @returns buf.
 */
#define DBEV_ISO8601_SIZE 32
char *dbev_iso8601(int64_t wall_us, char *buf, size_t size);

/**
 * @brief Parses an ISO-8601 timestamp ("2025-10-30T10:00:00.000Z", also
 *        with an offset such as "+00:00" or no fraction) to epoch microseconds.
 * @returns 0 on success, -1 when the text is not such a timestamp.
 */
int dbev_parse_iso8601(const char *text, int64_t *wall_us);

/** Log levels, ordered: a logger drops lines below its level. */
typedef enum {
    DBEV_LOG_DEBUG = 0,
    DBEV_LOG_INFO = 1,
    DBEV_LOG_WARN = 2,
    DBEV_LOG_ERROR = 3,
} dbev_log_level_t;

/** "debug", "info", "warn", "error". */
const char *dbev_log_level_name(dbev_log_level_t level);

/** Parses a level name; returns -1 for an unknown one. */
int dbev_log_level_parse(const char *name);

/**
 * A log sink. Library code never prints: it hands each event to one of these.
 * @param correlation_id may be NULL when the event concerns no request.
 * @param message one line, no trailing newline.
 * @remark Called from whichever thread logged; must not block.
 */
typedef void(dbev_log_cb)(void *opaque, dbev_log_level_t level, const char *component,
                          const char *correlation_id, const char *message);

/**
 * The default sink: one JSON object per line on stderr,
 * {"ts":"…","level":"info","component":"adapter","correlation_id":"…","msg":"…"}.
 * Lines are written with one write(2) so concurrent loggers do not interleave.
 */
void dbev_log_stderr(void *opaque, dbev_log_level_t level, const char *component,
                     const char *correlation_id, const char *message);

/** A logger: sink, its opaque pointer, the minimum level and a component name. */
typedef struct dbev_logger {
    dbev_log_cb *cb; /* NULL: drop everything */
    void *opaque;
    dbev_log_level_t level;
    const char *component; /* borrowed; must outlive the logger */
} dbev_logger_t;

/** printf-style logging through a logger; a NULL logger drops the line. */
void dbev_logf(const dbev_logger_t *logger, dbev_log_level_t level, const char *correlation_id,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Writes printf-style text into errstr (always NUL-terminated); returns -1. */
int dbev_seterr(char *errstr, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * @brief Reads a whole file ("-": standard input) into a NUL-terminated
 *        buffer. The content may hold NUL bytes itself: *len_out says how
 *        much was read.
 * @param len_out may be NULL.
 * @returns a buffer to free(), or NULL with errstr ("PATH: reason").
 */
char *dbev_read_file(const char *path, size_t *len_out, char *errstr, size_t size);

#ifdef __cplusplus
}
#endif
#endif
