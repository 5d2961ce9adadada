/*
 * SHA-256 (FIPS 180-4) for the harness: migration checksums and the hash keys
 * of template databases. Written here from the published algorithm so that
 * the harness needs no crypto library; it is not meant for secrets (no
 * constant-time claims), only for fingerprints of files.
 */
#ifndef HARNESS_SHA256_H
#define HARNESS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define HARNESS_SHA256_HEX_SIZE 65 /* 64 hex digits and the NUL */

typedef struct harness_sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} harness_sha256_t;

void harness_sha256_init(harness_sha256_t *ctx);
void harness_sha256_update(harness_sha256_t *ctx, const void *data, size_t len);
/** Finishes the hash: 32 bytes into digest. ctx must be re-initialised to reuse. */
void harness_sha256_final(harness_sha256_t *ctx, uint8_t digest[32]);
/** Finishes the hash as lower-case hex into hex (HARNESS_SHA256_HEX_SIZE bytes); returns hex. */
char *harness_sha256_final_hex(harness_sha256_t *ctx, char hex[HARNESS_SHA256_HEX_SIZE]);
/** One-shot: hex digest of data. Returns hex. */
char *harness_sha256_hex(const void *data, size_t len, char hex[HARNESS_SHA256_HEX_SIZE]);

#endif
