/*
 * `dbev send --raw`: request events published as written, answers printed
 * (send_raw.c says how and why it goes around libdbev).
 */
#ifndef DBEV_CLI_SEND_RAW_H
#define DBEV_CLI_SEND_RAW_H

/**
 * @brief Publishes each line of file ("-": stdin) to env's request topic and
 *        prints every answer on stdout, one JSON object per line.
 * @returns the exit code: 0 every event answered on the completed topic,
 *          1 one answered on the failed topic, 4 one unanswered within
 *          timeout_ms, 2 nothing to send, 5 Kafka unreachable.
 */
int dbev_cli_send_raw(const char *file, const char *bootstrap, const char *env, int timeout_ms,
                      const char *progname);

#endif
