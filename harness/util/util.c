/*
 * The helpers of util.h, and step_fail() of runctx.h: each was copied into
 * the files that needed it under a new name; one copy now, here, in a file
 * that links against nothing else of the harness.
 */
#include "util/util.h"

#include "scenario/runctx.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

int harness_make_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

void harness_block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static char *to_hex(const unsigned char *digest, unsigned int len,
                    char hex[HARNESS_SHA256_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    if (len != 32)
        return NULL;
    for (unsigned int i = 0; i < len; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * len] = '\0';
    return hex;
}

char *harness_sha256_hex(const void *data, size_t len, char hex[HARNESS_SHA256_HEX_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL))
        return NULL;
    return to_hex(digest, n, hex);
}

char *harness_sha256_final_hex(EVP_MD_CTX *ctx, char hex[HARNESS_SHA256_HEX_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_DigestFinal_ex(ctx, digest, &n))
        return NULL;
    return to_hex(digest, n, hex);
}

int step_fail(step_result_t *res, dbev_report_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    res->status = status;
    return 0;
}
