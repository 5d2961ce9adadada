/*
 * A fast path for parsing request events. jansson's json_loadb reads byte by
 * byte through a stream with a UTF-8 check per byte and copies every token
 * through a buffer: it was the largest item of the adapter's loop thread.
 * This parser builds the same jansson tree straight from the bytes, but it
 * never reports an error: whenever it is not sure jansson would accept the
 * input and build the very same tree (any syntax error, a duplicate key, a
 * \u escape, a control character, a number out of range, deep nesting), it
 * gives up and the caller parses with jansson, whose messages stay the only
 * ones a sender ever sees.
 */
#include "proto_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than this is left to jansson (which allows 2048, and the decoder
 * refuses far less anyway). */
#define FAST_MAX_DEPTH 64
/* Longest number token handled here (jansson's own buffer grows). */
#define FAST_NUMBER_MAX 64
/* Strings with escapes are unescaped into a buffer on the stack up to this. */
#define FAST_UNESCAPE_MAX 1024

typedef struct fast {
    const unsigned char *p, *end;
} fast_t;

static void skip_ws(fast_t *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
        f->p++;
}

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at p, as jansson's
 * utf8_check_first/utf8_check_full accept it (no overlong forms, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
        (n == 4 && v < 0x10000))
        return 0;
    return n;
}

/*
 * The string starting after its opening quote: on success *s and *len give
 * its text (in the input, or unescaped into buf) and f is past the closing
 * quote. Returns -1 to give up.
 */
static int scan_string(fast_t *f, const char **s, size_t *len, char *buf)
{
    const unsigned char *start = f->p, *p = f->p;
    size_t out = 0;
    bool escaped = false;
    while (p < f->end) {
        unsigned c = *p;
        if (c == '"') {
            if (escaped) {
                *s = buf;
                *len = out;
            } else {
                *s = (const char *)start;
                *len = (size_t)(p - start);
            }
            f->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            return -1;
        size_t n = 1;
        if (c >= 0x80 && (n = utf8_len(p, f->end)) == 0)
            return -1;
        if (c == '\\') {
            if (!escaped) {
                if ((size_t)(p - start) > FAST_UNESCAPE_MAX)
                    return -1;
                memcpy(buf, start, (size_t)(p - start));
                out = (size_t)(p - start);
                escaped = true;
            }
            if (p + 1 >= f->end || out + 1 > FAST_UNESCAPE_MAX)
                return -1;
            char e;
            switch (p[1]) {
            case '"':
                e = '"';
                break;
            case '\\':
                e = '\\';
                break;
            case '/':
                e = '/';
                break;
            case 'b':
                e = '\b';
                break;
            case 'f':
                e = '\f';
                break;
            case 'n':
                e = '\n';
                break;
            case 'r':
                e = '\r';
                break;
            case 't':
                e = '\t';
                break;
            default:
                return -1; /* \u (and anything invalid): jansson's */
            }
            buf[out++] = e;
            p += 2;
            continue;
        }
        if (escaped) {
            if (out + n > FAST_UNESCAPE_MAX)
                return -1;
            memcpy(buf + out, p, n);
            out += n;
        }
        p += n;
    }
    return -1;
}

static json_t *parse_value(fast_t *f, int depth);

static json_t *parse_number(fast_t *f)
{
    const unsigned char *start = f->p, *p = f->p;
    bool real = false;
    if (p < f->end && *p == '-')
        p++;
    if (p >= f->end || *p < '0' || *p > '9')
        return NULL;
    if (*p == '0') {
        p++;
        if (p < f->end && *p >= '0' && *p <= '9')
            return NULL;
    } else {
        while (p < f->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < f->end && *p == '.') {
        real = true;
        p++;
        if (p >= f->end || *p < '0' || *p > '9')
            return NULL;
        while (p < f->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < f->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < f->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= f->end || *p < '0' || *p > '9')
            return NULL;
        while (p < f->end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - start);
    if (n >= FAST_NUMBER_MAX)
        return NULL;
    char tok[FAST_NUMBER_MAX];
    memcpy(tok, start, n);
    tok[n] = '\0';
    char *end;
    errno = 0;
    json_t *v;
    if (real) {
        double d = strtod(tok, &end);
        if (errno || end != tok + n)
            return NULL;
        v = json_real(d);
    } else {
        long long i = strtoll(tok, &end, 10);
        if (errno || end != tok + n)
            return NULL;
        v = json_integer((json_int_t)i);
    }
    if (v)
        f->p = p;
    return v;
}

static json_t *parse_object(fast_t *f, int depth)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    f->p++; /* '{' */
    skip_ws(f);
    if (f->p < f->end && *f->p == '}') {
        f->p++;
        return obj;
    }
    char buf[FAST_UNESCAPE_MAX];
    for (;;) {
        skip_ws(f);
        if (f->p >= f->end || *f->p != '"')
            break;
        f->p++;
        const char *key;
        size_t klen;
        if (scan_string(f, &key, &klen, buf) < 0)
            break;
        if (json_object_getn(obj, key, klen)) /* a duplicate: jansson says so */
            break;
        /* The key may live in buf, which parse_value may reuse below: copy
         * it out of the way only then (keys with escapes are rare). */
        char *owned = NULL;
        if (key == buf) {
            owned = malloc(klen + 1);
            if (!owned)
                break;
            memcpy(owned, key, klen);
            key = owned;
        }
        skip_ws(f);
        json_t *v = NULL;
        if (f->p < f->end && *f->p == ':') {
            f->p++;
            v = parse_value(f, depth + 1);
        }
        int rc = v ? json_object_setn_new_nocheck(obj, key, klen, v) : -1;
        free(owned);
        if (rc < 0)
            break;
        skip_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == '}') {
            f->p++;
            return obj;
        }
        break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(fast_t *f, int depth)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    f->p++; /* '[' */
    skip_ws(f);
    if (f->p < f->end && *f->p == ']') {
        f->p++;
        return arr;
    }
    for (;;) {
        json_t *v = parse_value(f, depth + 1);
        if (!v || json_array_append_new(arr, v) < 0)
            break;
        skip_ws(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            continue;
        }
        if (f->p < f->end && *f->p == ']') {
            f->p++;
            return arr;
        }
        break;
    }
    json_decref(arr);
    return NULL;
}

/* A literal (true, false, null) not followed by more letters. */
static bool literal(fast_t *f, const char *word, size_t n)
{
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n) != 0)
        return false;
    const unsigned char *q = f->p + n;
    if (q < f->end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
        return false;
    f->p = q;
    return true;
}

static json_t *parse_value(fast_t *f, int depth)
{
    if (depth > FAST_MAX_DEPTH)
        return NULL;
    skip_ws(f);
    if (f->p >= f->end)
        return NULL;
    switch (*f->p) {
    case '{':
        return parse_object(f, depth);
    case '[':
        return parse_array(f, depth);
    case '"': {
        char buf[FAST_UNESCAPE_MAX];
        const char *s;
        size_t len;
        f->p++;
        if (scan_string(f, &s, &len, buf) < 0)
            return NULL;
        return json_stringn_nocheck(s, len);
    }
    case 't':
        return literal(f, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(f, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(f, "null", 4) ? json_null() : NULL;
    default:
        return parse_number(f);
    }
}

json_t *proto_json_fast_loadb(const char *buf, size_t len)
{
    fast_t f = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    json_t *root = parse_value(&f, 1);
    if (!root)
        return NULL;
    skip_ws(&f);
    if (f.p != f.end) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* --- dumping --- */

static int buf_grow(proto_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap * 2;
    while (cap < b->len + more)
        cap *= 2;
    char *p = b->heap ? realloc(b->p, cap) : malloc(cap);
    if (!p)
        return -1;
    if (!b->heap)
        memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
    b->heap = true;
    return 0;
}

void proto_buf_init(proto_buf_t *b, char *stack, size_t size)
{
    b->p = stack;
    b->len = 0;
    b->cap = size;
    b->heap = false;
}

void proto_buf_release(proto_buf_t *b)
{
    if (b->heap)
        free(b->p);
    b->heap = false;
}

int proto_buf_put(proto_buf_t *b, const char *s, size_t n)
{
    if (buf_grow(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* s as jansson's dump_string writes it, ASCII only (else -1: jansson's). */
int proto_buf_put_string(proto_buf_t *b, const char *s, size_t len)
{
    /* worst case: every byte a \u00XX escape */
    if (buf_grow(b, len * 6 + 2) < 0)
        return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            return -1;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            /* jansson: "\\u%04X" */
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789ABCDEF"[c >> 4];
            *o++ = "0123456789ABCDEF"[c & 15];
            break;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return 0;
}

static int put_integer(proto_buf_t *b, json_int_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    return proto_buf_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

/* A real as jansson's jsonp_dtostr writes it with its default precision
 * (17): "%.17g", ".0" added when it would read as an integer, a '+' and
 * leading zeros dropped from the exponent. Anything but plain C-locale
 * digits is left to jansson. */
/*
 * What "%.17g" writes for v when 1e-4 <= |v| < 1e15 (fixed notation): the
 * 17 significant digits are the exact binary value scaled by a power of ten
 * and rounded to nearest, ties to even (as glibc's printf in the default
 * rounding mode), in 128-bit integers: m < 2^53 times 10^k <= 10^22 fits.
 * Trailing fraction zeros dropped (%g). 0 when v is out of that range (then
 * snprintf does it); else the length written to out (>= 40 bytes).
 */
static size_t g17_fixed(double v, char *out)
{
    unsigned long long bits;
    memcpy(&bits, &v, sizeof(bits));
    bool neg = bits >> 63;
    double a = neg ? -v : v;
    if (!(a >= 1e-4 && a < 1e15)) /* normal numbers only, then */
        return 0;
    unsigned long long m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int e = (int)((bits >> 52) & 0x7ff) - 1075; /* a = m * 2^e exactly */
    /* floor(log10(2^(e+52))), at most one below the decimal exponent */
    int x = ((e + 52) * 78913) >> 18;
    static const unsigned long long p10[20] = {1ULL,
                                               10ULL,
                                               100ULL,
                                               1000ULL,
                                               10000ULL,
                                               100000ULL,
                                               1000000ULL,
                                               10000000ULL,
                                               100000000ULL,
                                               1000000000ULL,
                                               10000000000ULL,
                                               100000000000ULL,
                                               1000000000000ULL,
                                               10000000000000ULL,
                                               100000000000000ULL,
                                               1000000000000000ULL,
                                               10000000000000000ULL,
                                               100000000000000000ULL,
                                               1000000000000000000ULL,
                                               10000000000000000000ULL};
    unsigned long long n = 0;
    for (int tries = 0;; tries++) {
        int k = 16 - x;
        if (tries > 3 || k < 0 || k > 22 || e < -120 || e > 0)
            return 0;
        unsigned __int128 num = (unsigned __int128)m;
        if (k > 19)
            num *= (unsigned __int128)p10[19] * p10[k - 19];
        else
            num *= p10[k];
        unsigned __int128 q;
        if (e == 0) {
            q = num;
        } else {
            int s = -e;
            q = num >> s;
            unsigned __int128 r = num - (q << s), half = (unsigned __int128)1 << (s - 1);
            if (r > half || (r == half && (q & 1)))
                q++;
        }
        if (q >= (unsigned __int128)p10[17]) {
            x++;
            continue;
        }
        if (q < (unsigned __int128)p10[16]) {
            x--;
            continue;
        }
        n = (unsigned long long)q;
        break;
    }
    if (x < -4 || x > 14)
        return 0;
    char digits[17];
    for (int i = 16; i >= 0; i--) {
        digits[i] = (char)('0' + n % 10);
        n /= 10;
    }
    int last = 16; /* the last significant digit kept (%g drops trailing zeros) */
    while (last > 0 && digits[last] == '0' && last > x)
        last--;
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    if (x >= 0) {
        memcpy(out + len, digits, (size_t)x + 1);
        len += (size_t)x + 1;
        if (last > x) {
            out[len++] = '.';
            memcpy(out + len, digits + x + 1, (size_t)(last - x));
            len += (size_t)(last - x);
        }
    } else {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -x - 1; i++)
            out[len++] = '0';
        memcpy(out + len, digits, (size_t)last + 1);
        len += (size_t)last + 1;
    }
    return len;
}

static int put_real(proto_buf_t *b, double v)
{
    char tmp[100];
    size_t fast = g17_fixed(v, tmp);
    if (fast) {
        /* jansson adds ".0" where the text would read as an integer */
        if (!memchr(tmp, '.', fast)) {
            tmp[fast++] = '.';
            tmp[fast++] = '0';
        }
        return proto_buf_put(b, tmp, fast);
    }
    int n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    if (n < 0 || (size_t)n >= sizeof(tmp) - 3)
        return -1;
    size_t len = (size_t)n;
    bool dot_or_e = false;
    for (size_t i = 0; i < len; i++) {
        char c = tmp[i];
        if (c == '.' || c == 'e')
            dot_or_e = true;
        else if (!(c >= '0' && c <= '9') && c != '-' && c != '+')
            return -1;
    }
    if (!dot_or_e) {
        tmp[len++] = '.';
        tmp[len++] = '0';
        tmp[len] = '\0';
    }
    char *start = strchr(tmp, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - tmp));
            len -= (size_t)(end - start);
        }
    }
    return proto_buf_put(b, tmp, len);
}

static int dump_value(const json_t *v, proto_buf_t *b, int depth)
{
    if (depth > FAST_MAX_DEPTH)
        return -1;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (proto_buf_put(b, "{", 1) < 0)
            return -1;
        bool first = true;
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first && proto_buf_put(b, ",", 1) < 0)
                return -1;
            first = false;
            if (proto_buf_put_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) <
                    0 ||
                proto_buf_put(b, ":", 1) < 0 ||
                dump_value(json_object_iter_value(it), b, depth + 1) < 0)
                return -1;
        }
        return proto_buf_put(b, "}", 1);
    }
    case JSON_ARRAY: {
        if (proto_buf_put(b, "[", 1) < 0)
            return -1;
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if ((i && proto_buf_put(b, ",", 1) < 0) ||
                dump_value(json_array_get(v, i), b, depth + 1) < 0)
                return -1;
        }
        return proto_buf_put(b, "]", 1);
    }
    case JSON_STRING:
        return proto_buf_put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return put_integer(b, json_integer_value(v));
    case JSON_REAL:
        return put_real(b, json_real_value(v));
    case JSON_TRUE:
        return proto_buf_put(b, "true", 4);
    case JSON_FALSE:
        return proto_buf_put(b, "false", 5);
    case JSON_NULL:
        return proto_buf_put(b, "null", 4);
    }
    return -1;
}

int proto_json_fast_dump(const json_t *v, proto_buf_t *b)
{
    return v ? dump_value(v, b, 1) : -1;
}
