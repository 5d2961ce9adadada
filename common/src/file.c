/*
 * Reading a whole file into memory, for the tools that take a file as
 * input (the CLI's `send --raw FILE|-`, the harness's migrations and
 * fixtures): one reader, so growth, errors and stdin are handled once.
 */
#include "dbev_common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dbev_read_file(const char *path, size_t *len_out, char *errstr, size_t size)
{
    bool from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        dbev_seterr(errstr, size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 4096 + 1 > cap) {
            char *nbuf = realloc(buf, cap * 2);
            if (!nbuf) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nbuf;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    int err = ferror(f);
    if (!from_stdin)
        fclose(f);
    if (!buf || err) {
        free(buf);
        dbev_seterr(errstr, size, "%s: read failed", path);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}
