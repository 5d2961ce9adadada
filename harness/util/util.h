/*
 * Small helpers more than one harness file needs, each with its one home
 * here so a fix lands once: creating a directory path, waiting for the
 * stop signals of a process that holds servers up, and SHA-256 hex
 * digests (migration checksums, template keys) from OpenSSL's libcrypto,
 * which the project links already for the adapter. The step status setter
 * every step kind shares, step_fail(), lives in util.c too (declared with
 * the step contract in runctx.h), so a step file links without the others.
 */
#ifndef HARNESS_UTIL_H
#define HARNESS_UTIL_H

#include <openssl/evp.h>
#include <signal.h>
#include <stddef.h>

/** Creates path and its missing parents (mode 0755), like `mkdir -p`. 0 or -1 (errno). */
int harness_make_dirs(const char *path);

/**
 * @brief Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every
 *        thread it starts afterwards (threads inherit the mask), so they
 *        wait for a sigwait(set) and teardown runs in order; and ignores
 *        SIGPIPE, so a closed reader of our output (`env up | head`) fails a
 *        write instead of killing the process with the servers up.
 * @param set filled with the blocked signals, for sigwait().
 */
void harness_block_stop_signals(sigset_t *set);

#define HARNESS_SHA256_HEX_SIZE 65 /* 64 hex digits and the NUL */

/**
 * @brief SHA-256 of data as lower-case hex (the form sha256sum and
 *        PostgreSQL's encode(sha256(...), 'hex') print).
 * @returns hex, or NULL if libcrypto failed (out of memory).
 */
char *harness_sha256_hex(const void *data, size_t len, char hex[HARNESS_SHA256_HEX_SIZE]);

/**
 * @brief Finishes ctx, a digest begun with EVP_DigestInit_ex(ctx,
 *        EVP_sha256(), NULL) and fed with EVP_DigestUpdate(), into hex as
 *        harness_sha256_hex() does. ctx stays the caller's to free.
 * @returns hex, or NULL if libcrypto failed.
 */
char *harness_sha256_final_hex(EVP_MD_CTX *ctx, char hex[HARNESS_SHA256_HEX_SIZE]);

#endif
