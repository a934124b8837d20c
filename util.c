// util.c: errors, memory, files, atomic writes, JSON, JSON Lines, Buf, Rng, progress.
// See util.h for what each piece is for.
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// errors

char srl_error[1024];

int errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(srl_error, sizeof srl_error, fmt, ap);
    va_end(ap);
    return -1;
}

void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fputs("srl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void warnf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("srl: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// ----------------------------------------------------------------------------
// memory

void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) fatal("out of memory allocating %zu bytes", size);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    size_t total;
    if (size_mul(count, size, &total) < 0) fatal("allocation size overflows: %zu x %zu", count, size);
    void *p = calloc(total ? total : 1, 1);
    if (!p) fatal("out of memory allocating %zu bytes", total);
    return p;
}

void *xrealloc(void *ptr, size_t size) {
    void *p = realloc(ptr, size ? size : 1);
    if (!p) fatal("out of memory allocating %zu bytes", size);
    return p;
}

// Arrays that grow one record at a time double their capacity, so that reading n records
// costs O(n) copies in all; past 2^30 records the count would overflow an int.
int grow_capacity(int cap) {
    if (cap >= (1 << 30)) fatal("too many records (more than %d)", cap);
    return cap < 16 ? 16 : 2 * cap;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n) {
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

int size_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}

// ----------------------------------------------------------------------------
// files

int read_file(const char *path, char **data, size_t *len, size_t max_bytes) {
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errorf("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return errorf("%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return errorf("%s: is a folder, not a file", path);
    }
    size_t size = (size_t)st.st_size;
    if (max_bytes && size > max_bytes) {
        close(fd);
        return errorf("%s: file is %zu bytes, more than the %zu this reader accepts", path, size, max_bytes);
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return errorf("%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            free(buf);
            close(fd);
            return errorf("%s: read failed: %s", path, strerror(errno));
        }
        if (n == 0) break;  // the file shrank while we read it
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    *data = buf;
    *len = got;
    return 0;
}

int map_file(const char *path, MappedFile *mf) {
    mf->data = NULL;
    mf->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errorf("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return errorf("%s: %s", path, S_ISDIR(st.st_mode) ? "is a folder, not a file" : strerror(errno));
    }
    if (st.st_size == 0) {
        close(fd);
        return errorf("%s: file is empty", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return errorf("%s: mmap failed: %s", path, strerror(errno));
    mf->data = p;
    mf->size = (size_t)st.st_size;
    return 0;
}

void unmap_file(MappedFile *mf) {
    if (mf->data) munmap((void *)mf->data, mf->size);
    mf->data = NULL;
    mf->size = 0;
}

int atomic_open(AtomicFile *af, const char *path) {
    af->f = NULL;
    if (strlen(path) >= sizeof af->path) return errorf("%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) return errorf("%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

static void fsync_parent_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int atomic_commit(AtomicFile *af) {
    if (!af->f) return errorf("%s: not open", af->path);
    int bad = ferror(af->f) || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    int saved = errno;
    if (fclose(af->f) != 0) bad = 1;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return errorf("%s: write failed: %s", af->path, strerror(saved ? saved : EIO));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        unlink(af->tmp);
        return errorf("%s: rename failed: %s", af->path, strerror(saved));
    }
    fsync_parent_dir(af->path);
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}

int write_file_atomic(const char *path, const void *data, size_t len) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        atomic_abort(&af);
        return errorf("%s: write failed", path);
    }
    return atomic_commit(&af);
}

int make_dirs(const char *path) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return errorf("%s: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return errorf("%s: cannot create folder: %s", buf, strerror(errno));
            *p = saved;
            if (saved == 0) break;
        }
    }
    if (!dir_exists(path)) return errorf("%s: exists and is not a folder", path);
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t n = a;
    if (a > 0 && dir[a - 1] != '/') p[n++] = '/';
    memcpy(p + n, name, b + 1);
    return p;
}

// ----------------------------------------------------------------------------
// JSON reader: recursive descent over the text, values into an arena of blocks, decoded
// strings into one pool. A decoded string is never longer than its quoted source, so a pool
// of len + 1 bytes holds every string and key with its NUL.

#define JSON_BLOCK_NODES 1024
struct JsonBlock {
    JsonBlock *next;
    int used;
    JsonValue nodes[JSON_BLOCK_NODES];
};

typedef struct {
    const char *text;
    size_t len, pos;
    JsonDoc *doc;
    size_t pool_used;
} JsonParser;

static int json_error(JsonParser *p, const char *what) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->text[i] == '\n') line++, col = 1;
        else col++;
    }
    return errorf("line %zu, column %zu: %s", line, col, what);
}

static JsonValue *json_new_node(JsonParser *p) {
    JsonBlock *b = p->doc->blocks;
    if (!b || b->used == JSON_BLOCK_NODES) {
        b = calloc(1, sizeof *b);
        if (!b) return NULL;
        b->next = p->doc->blocks;
        p->doc->blocks = b;
    }
    JsonValue *v = &b->nodes[b->used++];
    memset(v, 0, sizeof *v);
    return v;
}

static void json_skip_space(JsonParser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') p->pos++;
        else break;
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int json_read_hex4(JsonParser *p, unsigned *out) {
    if (p->pos + 4 > p->len) return json_error(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p->text[p->pos + i]);
        if (h < 0) return json_error(p, "bad hex digit in \\u escape");
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

static size_t utf8_encode(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// Parses a string starting at the opening quote; the decoded bytes go to the pool.
static int json_parse_string(JsonParser *p, const char **out, size_t *out_len) {
    p->pos++;  // opening quote
    char *dst = p->doc->strings + p->pool_used;
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len) return json_error(p, "unterminated string");
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) return json_error(p, "control character inside a string");
        if (n >= JSON_MAX_STRING) return json_error(p, "string too long");
        if (c != '\\') { dst[n++] = (char)c; p->pos++; continue; }
        p->pos++;
        if (p->pos >= p->len) return json_error(p, "unterminated escape");
        char e = p->text[p->pos++];
        switch (e) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (json_read_hex4(p, &cp) < 0) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: a low one should follow
                unsigned lo;
                if (p->pos + 1 < p->len && p->text[p->pos] == '\\' && p->text[p->pos + 1] == 'u') {
                    size_t save = p->pos;
                    p->pos += 2;
                    if (json_read_hex4(p, &lo) < 0) return -1;
                    if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else { cp = 0xFFFD; p->pos = save; }
                } else cp = 0xFFFD;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone low surrogate
            // \uXXXX is 6 source bytes and decodes to at most 3 (or 4 from 12), so the pool bound holds
            n += utf8_encode(cp, dst + n);
            break;
        }
        default: return json_error(p, "unknown escape in string");
        }
    }
    dst[n] = 0;
    p->pool_used += n + 1;
    *out = dst;
    *out_len = n;
    return 0;
}

static int json_parse_number(JsonParser *p, double *out) {
    size_t start = p->pos;
    const char *t = p->text;
    size_t i = p->pos;
    if (i < p->len && t[i] == '-') i++;
    if (i >= p->len) return json_error(p, "truncated number");
    if (t[i] == '0') i++;
    else if (t[i] >= '1' && t[i] <= '9') { while (i < p->len && t[i] >= '0' && t[i] <= '9') i++; }
    else return json_error(p, "bad number");
    if (i < p->len && t[i] == '.') {
        i++;
        if (i >= p->len || t[i] < '0' || t[i] > '9') { p->pos = i; return json_error(p, "bad number: digits must follow '.'"); }
        while (i < p->len && t[i] >= '0' && t[i] <= '9') i++;
    }
    if (i < p->len && (t[i] == 'e' || t[i] == 'E')) {
        i++;
        if (i < p->len && (t[i] == '+' || t[i] == '-')) i++;
        if (i >= p->len || t[i] < '0' || t[i] > '9') { p->pos = i; return json_error(p, "bad number: digits must follow the exponent"); }
        while (i < p->len && t[i] >= '0' && t[i] <= '9') i++;
    }
    char tmp[64];
    if (i - start >= sizeof tmp) return json_error(p, "number too long");
    memcpy(tmp, t + start, i - start);
    tmp[i - start] = 0;
    *out = strtod(tmp, NULL);
    p->pos = i;
    return 0;
}

static int json_parse_value(JsonParser *p, JsonValue *v, int depth);

static int json_parse_container(JsonParser *p, JsonValue *v, int depth, int is_object) {
    char close = is_object ? '}' : ']';
    v->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    p->pos++;
    json_skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == close) { p->pos++; return 0; }
    JsonValue *last = NULL;
    for (;;) {
        JsonValue *child = json_new_node(p);
        if (!child) return json_error(p, "out of memory");
        if (is_object) {
            json_skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != '"') return json_error(p, "expected a string key");
            if (json_parse_string(p, &child->key, &child->key_length) < 0) return -1;
            json_skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != ':') return json_error(p, "expected ':' after a key");
            p->pos++;
        }
        if (json_parse_value(p, child, depth + 1) < 0) return -1;
        if (last) last->next = child;
        else v->child = child;
        last = child;
        if (v->count == 0x7fffffff) return json_error(p, "too many elements");
        v->count++;
        json_skip_space(p);
        if (p->pos >= p->len) return json_error(p, is_object ? "unterminated object" : "unterminated array");
        char c = p->text[p->pos++];
        if (c == close) return 0;
        if (c != ',') { p->pos--; return json_error(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'"); }
    }
}

static int json_match_word(JsonParser *p, const char *word) {
    size_t n = strlen(word);
    if (p->pos + n > p->len || memcmp(p->text + p->pos, word, n) != 0) return json_error(p, "unexpected character");
    p->pos += n;
    return 0;
}

static int json_parse_value(JsonParser *p, JsonValue *v, int depth) {
    if (depth > JSON_MAX_DEPTH) return json_error(p, "nesting too deep");
    json_skip_space(p);
    if (p->pos >= p->len) return json_error(p, "unexpected end of input");
    char c = p->text[p->pos];
    switch (c) {
    case '{': return json_parse_container(p, v, depth, 1);
    case '[': return json_parse_container(p, v, depth, 0);
    case '"': v->type = JSON_STRING; return json_parse_string(p, &v->string, &v->length);
    case 't': v->type = JSON_TRUE; return json_match_word(p, "true");
    case 'f': v->type = JSON_FALSE; return json_match_word(p, "false");
    case 'n': v->type = JSON_NULL; return json_match_word(p, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) { v->type = JSON_NUMBER; return json_parse_number(p, &v->number); }
        return json_error(p, "unexpected character");
    }
}

int json_parse(JsonDoc *doc, const char *text, size_t len) {
    memset(doc, 0, sizeof *doc);
    doc->strings = malloc(len + 1);
    if (!doc->strings) return errorf("out of memory parsing %zu bytes of JSON", len);
    JsonParser p = {text, len, 0, doc, 0};
    JsonValue *root = json_new_node(&p);
    if (!root) { json_free(doc); return errorf("out of memory"); }
    if (json_parse_value(&p, root, 0) < 0) { json_free(doc); return -1; }
    json_skip_space(&p);
    if (p.pos != len) {
        json_error(&p, "unexpected text after the JSON value");
        json_free(doc);
        return -1;
    }
    doc->root = root;
    return 0;
}

void json_free(JsonDoc *doc) {
    JsonBlock *b = doc->blocks;
    while (b) {
        JsonBlock *next = b->next;
        free(b);
        b = next;
    }
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const JsonValue *json_get(const JsonValue *object, const char *key) {
    if (!object || object->type != JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    const JsonValue *found = NULL;  // the last duplicate wins, as in most readers
    for (const JsonValue *c = object->child; c; c = c->next)
        if (c->key_length == n && memcmp(c->key, key, n) == 0) found = c;
    return found;
}

const JsonValue *json_index(const JsonValue *array, int i) {
    if (!array || (array->type != JSON_ARRAY && array->type != JSON_OBJECT) || i < 0) return NULL;
    const JsonValue *c = array->child;
    while (c && i-- > 0) c = c->next;
    return c;
}

const char *json_get_string(const JsonValue *object, const char *key) {
    const JsonValue *v = json_get(object, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

int json_get_number(const JsonValue *object, const char *key, double *out) {
    const JsonValue *v = json_get(object, key);
    if (!v || v->type != JSON_NUMBER) return -1;
    *out = v->number;
    return 0;
}

int json_get_int(const JsonValue *object, const char *key, long long *out) {
    double d;
    if (json_get_number(object, key, &d) < 0) return -1;
    if (!(d >= -9.0e15 && d <= 9.0e15) || d != floor(d)) return -1;
    *out = (long long)d;
    return 0;
}

const char *json_type_name(JsonType t) {
    static const char *names[] = {"null", "false", "true", "number", "string", "array", "object"};
    return (unsigned)t < 7 ? names[t] : "?";
}

// ----------------------------------------------------------------------------
// JSON writer helpers

// Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one.
static int utf8_valid_length(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

// JSON string escaping, written once: quotes, backslashes and control characters escaped,
// bytes that are not UTF-8 replaced by U+FFFD so that the output is always valid JSON.
void buf_json_string(Buf *b, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    buf_append_char(b, '"');
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        if (c == '"') buf_append_str(b, "\\\""), i++;
        else if (c == '\\') buf_append_str(b, "\\\\"), i++;
        else if (c == '\n') buf_append_str(b, "\\n"), i++;
        else if (c == '\r') buf_append_str(b, "\\r"), i++;
        else if (c == '\t') buf_append_str(b, "\\t"), i++;
        else if (c < 0x20 || c == 0x7F) buf_printf(b, "\\u%04x", c), i++;
        else {
            int n = utf8_valid_length(u + i, len - i);
            if (n == 0) { buf_append_str(b, "\xEF\xBF\xBD"); i++; }  // U+FFFD for a byte that is not UTF-8
            else { buf_append(b, (const char *)u + i, (size_t)n); i += (size_t)n; }
        }
    }
    buf_append_char(b, '"');
}

void json_write_string(FILE *f, const char *s, size_t len) {
    Buf b = {0};
    buf_json_string(&b, s, len);
    fwrite(b.data, 1, b.len, f);
    buf_free(&b);
}

void json_write_cstring(FILE *f, const char *s) { json_write_string(f, s, strlen(s)); }

void json_write_number(FILE *f, double x) {
    if (!isfinite(x)) { fputs("null", f); return; }
    if (x == floor(x) && fabs(x) < 1e15) { fprintf(f, "%.0f", x); return; }
    char buf[64];
    for (int prec = 6; prec <= 17; prec++) {  // the shortest form that reads back to the same double
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    fputs(buf, f);
}

void json_write_number_array(FILE *f, const double *x, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        json_write_number(f, x[i]);
    }
    fputc(']', f);
}

void json_write_string_array(FILE *f, char *const *s, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        json_write_cstring(f, s[i]);
    }
    fputc(']', f);
}

// ----------------------------------------------------------------------------
// JSON Lines

int jsonl_open(JsonlReader *r, const char *path) {
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->f = fopen(path, "rb");
    if (!r->f) return errorf("%s: %s", path, strerror(errno));
    return 0;
}

int jsonl_next(JsonlReader *r, const JsonValue **record) {
    json_free(&r->doc);
    for (;;) {
        size_t n = 0;
        int c;
        while ((c = fgetc(r->f)) != EOF && c != '\n') {
            if (n + 2 > r->cap) {
                r->cap = r->cap ? r->cap * 2 : 4096;
                r->buf = xrealloc(r->buf, r->cap);
            }
            r->buf[n++] = (char)c;
        }
        // a read error (a folder given for a file, say) ends the file with an error, not quietly
        if (c == EOF && ferror(r->f)) return errorf("%s: read failed: %s", r->path, strerror(errno));
        if (c == EOF && n == 0) return 0;
        r->line++;
        if (!r->buf) r->buf = xrealloc(r->buf, r->cap = 4096);
        r->buf[n] = 0;
        size_t i = 0;
        while (i < n && (r->buf[i] == ' ' || r->buf[i] == '\t' || r->buf[i] == '\r')) i++;
        if (i == n) continue;  // blank line
        if (json_parse(&r->doc, r->buf, n) < 0) {
            char msg[sizeof srl_error];
            snprintf(msg, sizeof msg, "%s", srl_error);
            return errorf("%s:%ld: %s", r->path, r->line, msg);
        }
        *record = r->doc.root;
        return 1;
    }
}

void jsonl_close(JsonlReader *r) {
    json_free(&r->doc);
    if (r->f) fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

long jsonl_count(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return errorf("%s: %s", path, strerror(errno));
    long count = 0;
    int c, blank = 1;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') {
            if (!blank) count++;
            blank = 1;
        } else if (c != ' ' && c != '\t' && c != '\r') blank = 0;
    }
    if (!blank) count++;
    fclose(f);
    return count;
}

// ----------------------------------------------------------------------------
// Buf

void buf_reserve(Buf *b, size_t extra) {
    size_t need;
    if (size_add(b->len, extra + 1, &need) < 0) fatal("string too long");
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(Buf *b, const void *data, size_t len) {
    buf_reserve(b, len);
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

void buf_append_str(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_append_char(Buf *b, char c) { buf_append(b, &c, 1); }

void buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { buf_append(b, small, (size_t)n); return; }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

// "key": v, with v as %.6f, or null when it is not finite (JSON has no NaN); last: no comma after
void buf_json_number(Buf *b, const char *key, double v, int last) {
    if (isfinite(v)) buf_printf(b, "\"%s\": %.6f%s", key, v, last ? "" : ", ");
    else buf_printf(b, "\"%s\": null%s", key, last ? "" : ", ");
}

void buf_clear(Buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void buf_free(Buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

// ----------------------------------------------------------------------------
// Rng: splitmix64 (Steele, Lea, Flood 2014): state advances by a fixed odd constant and the
// output is a bijective mix of it, so every seed gives a full-period, well-mixed stream.

void rng_seed(Rng *r, uint64_t seed) { r->state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull; }

uint64_t rng_next(Rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t rng_u32(Rng *r) { return (uint32_t)(rng_next(r) >> 32); }

float rng_float(Rng *r) { return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f); }

double rng_double(Rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

int rng_int(Rng *r, int n) { return (int)(((rng_next(r) >> 32) * (uint64_t)n) >> 32); }

float rng_normal(Rng *r) {
    double u1 = rng_double(r), u2 = rng_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void rng_shuffle_ints(Rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = rng_int(r, i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

// ----------------------------------------------------------------------------
// time and progress

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void format_duration(char *out, size_t cap, double s) {
    if (!(s >= 0)) s = 0;
    if (s < 60) snprintf(out, cap, "%.1fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

void progress_start(Progress *p, const char *label, long total, const char *unit) {
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->base = 0;
    p->start = now_seconds();
    p->last_print = p->start;
}

void progress_resume(Progress *p, long already_done) { p->base = already_done; }

static void progress_print(Progress *p, long done, const char *extra, int final) {
    double t = now_seconds();
    double elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)(done - p->base) / elapsed : 0;
    char eta[32] = "", el[32];
    format_duration(el, sizeof el, elapsed);
    if (!final && p->total > 0 && rate > 0) {
        char d[24];
        format_duration(d, sizeof d, (double)(p->total - done) / rate);
        snprintf(eta, sizeof eta, " ETA %s", d);
    }
    if (p->total > 0)
        fprintf(stderr, "%s %ld/%ld (%.1f%%) %.1f %s/s%s%s%s%s\n", p->label, done, p->total,
                100.0 * (double)done / (double)p->total, rate, p->unit, final ? " in " : "", final ? el : eta,
                extra ? " " : "", extra ? extra : "");
    else
        fprintf(stderr, "%s %ld %.1f %s/s%s%s%s%s\n", p->label, done, rate, p->unit, final ? " in " : "",
                final ? el : "", extra ? " " : "", extra ? extra : "");
    fflush(stderr);
    p->last_print = t;
}

void progress_update(Progress *p, long done, const char *extra) {
    if (now_seconds() - p->last_print >= 1.0) progress_print(p, done, extra, 0);
}

void progress_print_now(Progress *p, long done, const char *extra) { progress_print(p, done, extra, 0); }

void progress_end(Progress *p, long done, const char *extra) { progress_print(p, done, extra, 1); }
