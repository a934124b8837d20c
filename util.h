// util.h: the small pieces every part of srl shares.
//
//   errors        one message buffer; parsers return -1 and leave the reason in srl_error,
//                 so the same code can serve the CLI (print and exit), tests (assert the
//                 message) and fuzzers (never exit)
//   memory        allocation that checks for failure and for size overflow
//   files         whole-file reads, read-only mmap, atomic writes (temp name, fsync, rename)
//   JSON          a reader (a tree of values in one arena) and a few writing helpers
//   JSON Lines    one record per line, errors name the file and the line
//   Buf           a growable byte string
//   Rng           a seeded generator (splitmix64), the same numbers on every machine
//   time          a monotonic clock and progress lines with rate and ETA
#ifndef SRL_UTIL_H
#define SRL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// ----------------------------------------------------------------------------
// errors

extern char srl_error[1024];                              // the last error's message
int errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   // sets srl_error, returns -1
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn)); // "srl: ..." on stderr, exit(1)
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   // "srl: warning: ..." on stderr

// ----------------------------------------------------------------------------
// memory: these exit with a message when memory runs out; sizes are checked first

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
int grow_capacity(int cap);                                 // the next capacity of a growing array: doubles
char *xstrndup(const char *s, size_t n);
int size_mul(size_t a, size_t b, size_t *out);            // -1 on overflow
int size_add(size_t a, size_t b, size_t *out);            // -1 on overflow

// ----------------------------------------------------------------------------
// hashing: 64-bit FNV-1a, one byte at a time, so that the hash of s[0..n+1) is
// hash_extend(hash of s[0..n), s[n]) and every prefix of a string is hashed in one pass

#define HASH_START 1469598103934665603ull
static inline uint64_t hash_extend(uint64_t h, unsigned char byte) { return (h ^ byte) * 1099511628211ull; }

// ----------------------------------------------------------------------------
// files

// Reads a whole file into a NUL-terminated buffer (*len excludes the NUL). Refuses files larger
// than max_bytes (0: no limit beyond memory). Returns -1 with srl_error naming the path.
int read_file(const char *path, char **data, size_t *len, size_t max_bytes);

typedef struct {
    const unsigned char *data;  // the file's bytes, read-only
    size_t size;
} MappedFile;
int map_file(const char *path, MappedFile *mf);           // -1 with srl_error naming the path
void unmap_file(MappedFile *mf);

// Atomic writes: everything goes to "<path>.tmp.<pid>" in the same folder; atomic_commit
// flushes, fsyncs, renames it over path and fsyncs the folder, so a reader sees either the
// old file or the whole new one, never a half-written one.
typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4200];
} AtomicFile;
int atomic_open(AtomicFile *af, const char *path);        // -1 with srl_error
int atomic_commit(AtomicFile *af);                        // -1 with srl_error (the temp file is removed)
void atomic_abort(AtomicFile *af);                        // closes and removes the temp file
int write_file_atomic(const char *path, const void *data, size_t len);

int make_dirs(const char *path);                          // mkdir -p; -1 with srl_error
int file_exists(const char *path);
int dir_exists(const char *path);
char *path_join(const char *dir, const char *name);       // malloc'd "dir/name"

// ----------------------------------------------------------------------------
// JSON reader: the whole document becomes a tree of JsonValue in one arena.
// Bounded: nesting depth at most JSON_MAX_DEPTH, a string at most JSON_MAX_STRING bytes;
// every node and string is made from input bytes, so memory stays proportional to the input.

#define JSON_MAX_DEPTH 128
#define JSON_MAX_STRING (256u << 20)

typedef enum { JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    int count;              // array or object: number of children
    size_t length;          // string: byte length of the decoded UTF-8 (it may hold NUL bytes)
    double number;          // number
    const char *string;     // string: decoded UTF-8, NUL-terminated
    const char *key;        // member of an object: its key, decoded, NUL-terminated
    size_t key_length;
    JsonValue *child;       // array or object: first child
    JsonValue *next;        // next sibling
};

typedef struct JsonBlock JsonBlock;
typedef struct {
    JsonValue *root;
    JsonBlock *blocks;      // node arena (a list of blocks)
    char *strings;          // one pool for all decoded strings and keys
} JsonDoc;

int json_parse(JsonDoc *doc, const char *text, size_t len);   // -1 with srl_error "line L, column C: ..."
void json_free(JsonDoc *doc);
const JsonValue *json_get(const JsonValue *object, const char *key);   // NULL when absent or not an object
const JsonValue *json_index(const JsonValue *array, int i);            // NULL when out of range
const char *json_get_string(const JsonValue *object, const char *key); // NULL when absent or not a string
int json_get_number(const JsonValue *object, const char *key, double *out); // -1 when absent or not a number
int json_get_int(const JsonValue *object, const char *key, long long *out); // -1 when absent, not a number or not an integer
const char *json_type_name(JsonType t);

// JSON writer helpers: strings are escaped; bytes that are not valid UTF-8 become U+FFFD.
void json_write_string(FILE *f, const char *s, size_t len);
void json_write_cstring(FILE *f, const char *s);
void json_write_number(FILE *f, double x);                // shortest round-trip form; non-finite as null
// [x0, x1, ...] of n numbers (each as json_write_number) or of n strings
void json_write_number_array(FILE *f, const double *x, int n);
void json_write_string_array(FILE *f, char *const *s, int n);

// ----------------------------------------------------------------------------
// JSON Lines: one JSON value per line; blank lines are skipped.

typedef struct {
    FILE *f;
    char path[4096];
    long line;              // line number of the record last returned (1-based)
    char *buf;
    size_t cap;
    JsonDoc doc;
} JsonlReader;
int jsonl_open(JsonlReader *r, const char *path);         // -1 with srl_error
int jsonl_next(JsonlReader *r, const JsonValue **record); // 1 a record, 0 end, -1 error "path:line: ..."
void jsonl_close(JsonlReader *r);
long jsonl_count(const char *path);                       // number of non-blank lines, -1 on error

// ----------------------------------------------------------------------------
// Buf: a growable byte string, always NUL-terminated

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} Buf;
void buf_reserve(Buf *b, size_t extra);
void buf_append(Buf *b, const void *data, size_t len);
void buf_append_str(Buf *b, const char *s);
void buf_append_char(Buf *b, char c);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_json_string(Buf *b, const char *s, size_t len);               // "s", escaped as JSON
void buf_json_number(Buf *b, const char *key, double v, int last); // "key": v (null when not finite)
void buf_clear(Buf *b);
void buf_free(Buf *b);

// ----------------------------------------------------------------------------
// Rng: splitmix64. Deterministic from the seed on every platform and thread count.

typedef struct {
    uint64_t state;
} Rng;
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
uint32_t rng_u32(Rng *r);
float rng_float(Rng *r);                                  // uniform in [0, 1)
double rng_double(Rng *r);                                // uniform in [0, 1)
int rng_int(Rng *r, int n);                               // uniform in [0, n), n > 0
float rng_normal(Rng *r);                                 // standard normal (Box-Muller)
void rng_shuffle_ints(Rng *r, int *a, int n);             // Fisher-Yates

// ----------------------------------------------------------------------------
// time and progress

double now_seconds(void);                                 // monotonic clock

// A progress line on stderr, at most one per second (and one at the end):
//   "<label> 120/480 (25.0%) 35.2 <unit>/s ETA 10s <extra>"
typedef struct {
    char label[64];
    char unit[24];
    long total;
    long base;               // work already done before start (a resumed job): not in the rate
    double start;
    double last_print;
} Progress;
void progress_start(Progress *p, const char *label, long total, const char *unit);
void progress_resume(Progress *p, long already_done);  // after progress_start, for a resumed job
void progress_update(Progress *p, long done, const char *extra);   // extra may be NULL
void progress_print_now(Progress *p, long done, const char *extra);  // a line now, whatever the time
void progress_end(Progress *p, long done, const char *extra);
void format_duration(char *out, size_t cap, double seconds);       // "1h02m", "3m05s", "12.3s"

#endif
