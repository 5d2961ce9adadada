/*
 * Helpers every part of the reports component shares: growable arrays,
 * string copies that are always valid UTF-8 (jansson refuses anything else,
 * and a JUnit file with a stray byte is rejected by every CI system), XML
 * escaping, and the write-to-temporary-then-rename dance that keeps readers
 * from ever seeing half a report.
 */
#include "report_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const double rep_pcts[REP_NPCT] = {50, 90, 95, 99, 99.9, 100};
const char *rep_pct_keys[REP_NPCT] = {"p50", "p90", "p95", "p99", "p99_9", "max"};
const char *rep_pct_labels[REP_NPCT] = {"p50", "p90", "p95", "p99", "p99.9", "max"};

int rep_grow(void *items, size_t *cap, size_t n, size_t elsize)
{
    void **p = items;
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *grown = realloc(*p, ncap * elsize);
    if (!grown)
        return -1;
    *p = grown;
    *cap = ncap;
    return 0;
}

/* Length of the valid UTF-8 sequence starting at s, or 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

char *rep_strdup(const char *s, int *ok)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1); /* each invalid byte may become 3 bytes */
    if (!out) {
        *ok = 0;
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        size_t len = utf8_len(p);
        if (len == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        } else {
            memcpy(out + o, p, len);
            o += len;
            p += len;
        }
    }
    out[o] = '\0';
    char *shrunk = realloc(out, o + 1);
    return shrunk ? shrunk : out;
}

int rep_setstr(char **dst, const char *s)
{
    int ok = 1;
    char *copy = rep_strdup(s, &ok);
    if (!ok)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

double rep_load_throughput(const dbev_report_load_t *load)
{
    if (!load->has_summary)
        return 0;
    if (load->summary.throughput >= 0)
        return load->summary.throughput;
    if (load->summary.duration_us <= 0)
        return 0;
    return (double)load->summary.answered * 1e6 / (double)load->summary.duration_us;
}

int64_t rep_load_error_total(const dbev_report_load_t *load)
{
    int64_t total = 0;
    for (size_t i = 0; i < load->nerrors; i++)
        total += load->errors[i].n;
    return total;
}

FILE *rep_file_open(const char *path, char **tmp, char *errstr, size_t size)
{
    size_t n = strlen(path) + 5;
    *tmp = malloc(n);
    if (!*tmp) {
        dbev_seterr(errstr, size, "out of memory");
        return NULL;
    }
    snprintf(*tmp, n, "%s.tmp", path);
    FILE *fp = fopen(*tmp, "w");
    if (!fp) {
        dbev_seterr(errstr, size, "cannot create %s: %s", *tmp, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return fp;
}

int rep_file_close(FILE *fp, const char *path, char *tmp, char *errstr, size_t size)
{
    int failed = ferror(fp);
    int saved = errno;
    if (fclose(fp) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        dbev_seterr(errstr, size, "cannot write %s: %s", tmp, strerror(saved));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        dbev_seterr(errstr, size, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static void xml_write(FILE *fp, const char *s, int attr)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", fp);
            break;
        case '<':
            fputs("&lt;", fp);
            break;
        case '>':
            fputs("&gt;", fp);
            break;
        case '"':
            fputs("&quot;", fp);
            break;
        case '\'':
            fputs("&#39;", fp);
            break;
        case '\t':
        case '\n':
        case '\r':
            if (attr)
                fprintf(fp, "&#%d;", *p);
            else
                fputc(*p, fp);
            break;
        default:
            if (*p < 0x20)
                fputs("\xEF\xBF\xBD", fp); /* not allowed in XML 1.0 at all */
            else if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
                fputs("\xEF\xBF\xBD", fp); /* U+FFFE, U+FFFF: not XML characters */
                p += 2;
            } else
                fputc(*p, fp);
        }
    }
}

void rep_xml_puts(FILE *fp, const char *s)
{
    xml_write(fp, s, 0);
}

void rep_xml_attr(FILE *fp, const char *s)
{
    xml_write(fp, s, 1);
}

char *rep_seconds(int64_t us, char *buf, size_t size)
{
    snprintf(buf, size, "%.3f", (double)us / 1e6);
    return buf;
}
