// fuzz.h: what srl's libFuzzer targets share.
//
// Most of srl's parsers read files, not buffers (a checkpoint is mmap'd, a tokenizer read whole),
// so a target writes each input into a file and hands the library its path. Each fuzzer process
// gets one scratch folder for that, on a RAM disk when there is one (/dev/shm), made on first use
// and removed at exit; a crash leaves it behind, holding the input that crashed.
//
// A broken contract is a crash: FUZZ_CHECK prints what was expected and calls abort(), which
// libFuzzer reports and saves like any other crash.
#ifndef SRL_FUZZ_H
#define SRL_FUZZ_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../model.h"
#include "../../tokenizer.h"
#include "../../util.h"

#define FUZZ_CHECK(cond, ...)                                                        \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: broken contract: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                            \
            fprintf(stderr, "\n(srl_error: %s)\n", srl_error);                       \
            abort();                                                                 \
        }                                                                            \
    } while (0)

// ----------------------------------------------------------------------------
// bounded memory: what srl allocates must be in proportion to what it was given
//
// A file that claims huge sizes must be refused before srl allocates for them. libFuzzer's
// -rss_limit_mb catches only allocations that are large in absolute terms; a 4 KB input that
// makes srl allocate 2 MB is the same bug at a smaller scale, and at the scale of a real file it
// is gigabytes. So the targets watch every allocation (through AddressSanitizer's malloc hook)
// between fuzz_watch_allocations() and fuzz_check_allocations(), and the largest single one must
// stay within FUZZ_ALLOC_FACTOR times the input, or FUZZ_ALLOC_FLOOR for small inputs: tables
// whose size has a fixed ceiling may be allocated whatever the input (a tiktoken tokenizer's
// first pair table is 1 MiB; the table of a model's tensors, 12 per layer for up to 1024
// layers, is 1.1 MB).
#define FUZZ_ALLOC_FACTOR 64
#define FUZZ_ALLOC_FLOOR ((size_t)2 << 20)

#include <sanitizer/allocator_interface.h>

static size_t fuzz_largest_allocation;

static inline void fuzz_malloc_hook(const volatile void *ptr, size_t size) {
    (void)ptr;
    if (size > fuzz_largest_allocation) fuzz_largest_allocation = size;
}

static inline void fuzz_free_hook(const volatile void *ptr) { (void)ptr; }

static inline void fuzz_watch_allocations(void) {
    static int installed;
    if (!installed) installed = __sanitizer_install_malloc_and_free_hooks(fuzz_malloc_hook, fuzz_free_hook) > 0;
    fuzz_largest_allocation = 0;
}

static inline void fuzz_check_allocations(size_t input_size) {
    size_t bound = input_size < FUZZ_ALLOC_FLOOR / FUZZ_ALLOC_FACTOR ? FUZZ_ALLOC_FLOOR : FUZZ_ALLOC_FACTOR * input_size;
    FUZZ_CHECK(fuzz_largest_allocation <= bound, "one allocation of %zu bytes for an input of %zu bytes (bound %zu)",
               fuzz_largest_allocation, input_size, bound);
}

// ----------------------------------------------------------------------------
// files

static char fuzz_scratch[512];

// Removes the scratch folder and what is in it (one level: the targets make no subfolders).
static inline void fuzz_remove_scratch(void) {
    DIR *d = opendir(fuzz_scratch);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", fuzz_scratch, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(fuzz_scratch);
}

// This process's scratch folder, made on the first call.
static inline const char *fuzz_scratch_dir(void) {
    if (fuzz_scratch[0]) return fuzz_scratch;
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = dir_exists("/dev/shm") ? "/dev/shm" : "/tmp";
    snprintf(fuzz_scratch, sizeof fuzz_scratch, "%s/srl-fuzz-XXXXXX", base);
    if (!mkdtemp(fuzz_scratch)) {
        perror("srl fuzz: cannot make a scratch folder");
        abort();
    }
    atexit(fuzz_remove_scratch);
    return fuzz_scratch;
}

// "<scratch>/name", malloc'd once by the caller and kept for the life of the process.
static inline char *fuzz_scratch_path(const char *name) { return path_join(fuzz_scratch_dir(), name); }

// Replaces the file at path with the bytes given (a failure here is the machine's, not srl's).
static inline void fuzz_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

// The input as a NUL-terminated string (the bytes after a NUL in it are not seen by C strings).
static inline char *fuzz_cstring(const uint8_t *data, size_t size) {
    char *s = xmalloc(size + 1);
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

// The tiny model the model_load targets pair with their input: small enough that a whole load
// takes microseconds, with every feature the loader checks (grouped-query attention, head_dim
// not equal to hidden_size / heads, two layers, an untied head).
static inline void fuzz_tiny_config(Config *c) {
    memset(c, 0, sizeof *c);
    c->vocab_size = 16;
    c->dim = 8;
    c->hidden_dim = 12;
    c->n_layers = 2;
    c->n_heads = 2;
    c->n_kv_heads = 1;
    c->head_dim = 6;
    c->max_seq_len = 32;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->bos_token_id = 1;
    c->eos_token_ids[0] = 2;
    c->n_eos = 1;
}

// Writes the tiny model (config.json and model.safetensors, F32) into dir.
static inline void fuzz_save_tiny_model(const char *dir) {
    Config c;
    fuzz_tiny_config(&c);
    Model m;
    model_init_random(&m, &c, 1234);
    if (model_save(&m, dir, 0) < 0) {
        fprintf(stderr, "srl fuzz: cannot save the tiny model: %s\n", srl_error);
        abort();
    }
    model_free(&m);
}

// Copies a file whole (the targets' fixed files are small).
static inline void fuzz_copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    if (read_file(from, &data, &len, 0) < 0) {
        fprintf(stderr, "srl fuzz: %s\n", srl_error);
        abort();
    }
    fuzz_write_file(to, data, len);
    free(data);
}

// ----------------------------------------------------------------------------
// checks on a tokenizer (one loaded from the input, or a fixed one)

// Is decoded the text, or (for a ByteLevel add_prefix_space tokenizer, which puts a space
// before each stretch of plain text) the text with some spaces put in?
static inline int fuzz_same_but_spaces(const char *decoded, size_t decoded_len, const char *text, size_t len, int prefix_space) {
    if (!prefix_space) return decoded_len == len && memcmp(decoded, text, len) == 0;
    size_t i = 0, j = 0;
    while (i < decoded_len) {
        if (j < len && decoded[i] == text[j]) i++, j++;
        else if (decoded[i] == ' ') i++;
        else return 0;
    }
    return j == len;
}

// Decodes ids token by token with the streaming decoder; the bytes must be decoded's.
static inline void fuzz_check_stream_decode(const Tokenizer *t, const int *ids, int n, const char *decoded, size_t decoded_len) {
    size_t cap = (size_t)tokenizer_max_token_bytes(t) + 4;
    char *piece = xmalloc(cap);
    Buf streamed = {0};
    StreamDecoder d;
    stream_decoder_init(&d);
    for (int i = 0; i < n; i++) buf_append(&streamed, piece, stream_decoder_push(&d, t, ids[i], piece, cap));
    buf_append(&streamed, piece, stream_decoder_flush(&d, piece, cap));
    FUZZ_CHECK(!d.failed, "the stream decoder failed");
    FUZZ_CHECK(streamed.len == decoded_len && memcmp(streamed.data, decoded, decoded_len) == 0,
               "the stream decoder's bytes differ from tokenizer_decode's");
    buf_free(&streamed);
    free(piece);
}

// Encodes text and checks what tokenizer.h promises: the only possible failure is a byte with no
// token; ids are tokens, special ones only with allow_special; decoding gives the text back, all
// at once and streamed; and the short-piece and long-piece merge paths give the same ids.
// Returns the ids (malloc'd) and their count, or NULL when the encoding failed.
static inline int *fuzz_check_round_trip(const Tokenizer *t, const char *text, size_t len, int allow_special, int prefix_space,
                                         int *n_out) {
    int *ids, n;
    if (tokenizer_encode(t, text, len, allow_special, &ids, &n) < 0) {
        FUZZ_CHECK(strstr(srl_error, "has no token for the byte"), "tokenizer_encode failed: %s", srl_error);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *bytes;
        size_t token_len;
        FUZZ_CHECK(tokenizer_token_bytes(t, ids[i], &bytes, &token_len) == 0, "encode gave id %d, not a token", ids[i]);
        FUZZ_CHECK(allow_special || !tokenizer_is_special(t, ids[i]), "a special token (%d) without allow_special", ids[i]);
    }
    char *decoded;
    size_t decoded_len;
    FUZZ_CHECK(tokenizer_decode(t, ids, n, &decoded, &decoded_len) == 0, "decode refused encode's ids: %s", srl_error);
    FUZZ_CHECK(decoded[decoded_len] == 0, "decode's text is not NUL-terminated");
    FUZZ_CHECK(fuzz_same_but_spaces(decoded, decoded_len, text, len, prefix_space),
               "decode(encode(x)) != x (%zu bytes in, %zu out, allow_special %d)", len, decoded_len, allow_special);
    fuzz_check_stream_decode(t, ids, n, decoded, decoded_len);
    free(decoded);
    // every piece through the heap-based merge (merge_long) must give what merge_short gives
    int saved = tokenizer_long_piece_bytes, *ids_long, n_long;
    tokenizer_long_piece_bytes = 0;
    int rc = tokenizer_encode(t, text, len, allow_special, &ids_long, &n_long);
    tokenizer_long_piece_bytes = saved;
    FUZZ_CHECK(rc == 0 && n_long == n && memcmp(ids_long, ids, (size_t)n * sizeof *ids) == 0,
               "the long-piece merge gives other ids than the short-piece merge");
    free(ids_long);
    *n_out = n;
    return ids;
}

typedef struct {
    const char *text;
    size_t len;
} FuzzText;
#define FUZZ_TEXT(s) {s, sizeof s - 1}

// Fixed texts that touch every branch of both pre-tokenizers, special tokens, invalid UTF-8,
// a NUL byte and a piece long enough for merge_long.
static const FuzzText fuzz_texts[] = {
    FUZZ_TEXT("Hello world! It's 2024: don't STOP, I'LL go 12345 times."),
    FUZZ_TEXT("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
    FUZZ_TEXT("<s> </s> <unk> <|endoftext|> [CLS]"),
    FUZZ_TEXT("caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xd9\xa3\xd9\xa4 e\xcc\x81"),
    FUZZ_TEXT("\xff\xfe\x80 \xc3 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82"),
    FUZZ_TEXT("  \n\n\t x  \r\n  y   \n"),
    FUZZ_TEXT("a\0b \0 \x01\x1f\x7f"),
    FUZZ_TEXT("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"),
    FUZZ_TEXT(""),
};
#define FUZZ_N_TEXTS ((int)(sizeof fuzz_texts / sizeof fuzz_texts[0]))

// Does t put a space before plain text (ByteLevel add_prefix_space)? Any single byte that
// encodes as plain text shows it; some bytes may lack a token, or be an added token of their own.
static inline int fuzz_adds_prefix_space(const Tokenizer *t) {
    int yes = 0;
    for (int b = 0; b < 256 && !yes; b++) {
        char c = (char)b;
        int *ids, n;
        if (c == ' ' || tokenizer_encode(t, &c, 1, 0, &ids, &n) < 0) continue;
        char *text;
        size_t len;
        if (tokenizer_decode(t, ids, n, &text, &len) == 0) {
            yes = len == 2 && text[0] == ' ';
            free(text);
        }
        free(ids);
    }
    return yes;
}

// The vocabulary API agrees with itself: every id below vocab_size is a token or not, its
// display string finds it again, and the well-known ids are tokens.
static inline void fuzz_check_vocabulary(const Tokenizer *t) {
    int n = tokenizer_vocab_size(t);
    FUZZ_CHECK(n >= 1, "vocab_size %d", n);
    for (int id = 0; id < n && id < 4096; id++) {
        const char *bytes, *shown = tokenizer_token_string(t, id);
        size_t len;
        int is_token = tokenizer_token_bytes(t, id, &bytes, &len) == 0;
        FUZZ_CHECK(is_token == (shown != NULL), "token_bytes and token_string disagree on id %d", id);
        if (!is_token) continue;
        FUZZ_CHECK(len >= 1 && (int)len <= tokenizer_max_token_bytes(t), "token %d has %zu bytes", id, len);
        int found = tokenizer_token_id(t, shown);
        if (found >= 0) FUZZ_CHECK(strcmp(tokenizer_token_string(t, found), shown) == 0, "token_id(\"%s\") is another token", shown);
    }
    int known[3] = {tokenizer_bos_id(t), tokenizer_eos_id(t), tokenizer_eot_id(t)};
    for (int i = 0; i < 3; i++) FUZZ_CHECK(known[i] == -1 || tokenizer_token_string(t, known[i]), "a well-known id is no token");
    const char *bytes;
    size_t len;
    FUZZ_CHECK(tokenizer_token_bytes(t, -1, &bytes, &len) < 0 && tokenizer_token_bytes(t, n, &bytes, &len) < 0,
               "ids out of range are tokens");
}

// All the checks on a tokenizer: the vocabulary, then every fixed text with and without
// special tokens; then, when save_path is given, the tokenizer is saved as tokenizer.json and
// loaded back, and must have the same tokens and encode every text to the same ids.
static inline void fuzz_check_tokenizer(const Tokenizer *t, const char *save_path) {
    fuzz_check_vocabulary(t);
    int prefix_space = fuzz_adds_prefix_space(t);
    int *ids[FUZZ_N_TEXTS][2], n_ids[FUZZ_N_TEXTS][2];
    for (int i = 0; i < FUZZ_N_TEXTS; i++)
        for (int special = 0; special < 2; special++)
            ids[i][special] = fuzz_check_round_trip(t, fuzz_texts[i].text, fuzz_texts[i].len, special, prefix_space, &n_ids[i][special]);
    Tokenizer *reloaded = NULL;
    if (save_path) {
        FUZZ_CHECK(tokenizer_save_json(t, save_path) == 0, "tokenizer_save_json failed: %s", srl_error);
        FUZZ_CHECK(tokenizer_load_json(&reloaded, save_path) == 0, "a saved tokenizer does not load: %s", srl_error);
        FUZZ_CHECK(tokenizer_vocab_size(reloaded) == tokenizer_vocab_size(t), "the reloaded tokenizer has another size");
        for (int id = 0; id < tokenizer_vocab_size(t); id++) {
            const char *bytes, *bytes_again;
            size_t len, len_again;
            int is_token = tokenizer_token_bytes(t, id, &bytes, &len) == 0;
            FUZZ_CHECK(is_token == (tokenizer_token_bytes(reloaded, id, &bytes_again, &len_again) == 0) &&
                           (!is_token || (len == len_again && memcmp(bytes, bytes_again, len) == 0)) &&
                           tokenizer_is_special(t, id) == tokenizer_is_special(reloaded, id),
                       "token %d changed through tokenizer_save_json and tokenizer_load_json", id);
        }
    }
    for (int i = 0; i < FUZZ_N_TEXTS; i++) {
        for (int special = 0; special < 2; special++) {
            if (reloaded && ids[i][special]) {
                int *again, n_again;
                FUZZ_CHECK(tokenizer_encode(reloaded, fuzz_texts[i].text, fuzz_texts[i].len, special, &again, &n_again) == 0 &&
                               n_again == n_ids[i][special] && memcmp(again, ids[i][special], (size_t)n_again * sizeof(int)) == 0,
                           "the saved and reloaded tokenizer encodes text %d differently", i);
                free(again);
            }
            free(ids[i][special]);
        }
    }
    tokenizer_free(reloaded);
}

#endif
