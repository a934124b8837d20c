// test_tokenizer.c: the byte-level BPE tokenizer: pre-tokenizers, training, saving and loading,
// round trips, chat template, streaming decode, bad input; and, with SRL_FIXTURES, Meta's own
// Llama 3 test vectors and a real Hugging Face tokenizer.json.
// Build: cc -O2 -Wall -Wextra -o test_tokenizer tests/test_tokenizer.c tokenizer.c util.c -lm
#define _DEFAULT_SOURCE     // mkdtemp
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "../tokenizer.h"
#include "../unicode_table.h"
#include "../util.h"

// ----------------------------------------------------------------------------
// helpers

static int encode(const Tokenizer *t, const char *s, size_t len, int allow_special, int **ids) {
    int n = -1;
    if (tokenizer_encode(t, s, len, allow_special, ids, &n) < 0) {
        fprintf(stderr, "encode failed: %s\n", srl_error);
        *ids = NULL;
        return -1;
    }
    return n;
}

// decode(encode(s)) == s, byte for byte
static int round_trips(const Tokenizer *t, const char *s, size_t len) {
    int *ids, n = encode(t, s, len, 0, &ids);
    if (n < 0) return 0;
    char *back;
    size_t back_len;
    int ok = tokenizer_decode(t, ids, n, &back, &back_len) == 0 && back_len == len && memcmp(back, s, len) == 0;
    if (ok) free(back);
    free(ids);
    return ok;
}

static int same_ids(const int *a, int na, const int *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

static int is_true(const JsonValue *v) { return v && v->type == JSON_TRUE; }

// The bytes end in the middle of a UTF-8 character: a lead byte wanting more bytes than follow it,
// followed only by continuation bytes.
static int ends_mid_character(const unsigned char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = s[n - back];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
        return need > back;
    }
    return 0;
}

// Checks that the pattern splits text into exactly the expected pieces (a NULL-terminated list).
static void check_pieces(int line, int pattern, const char *text, const char *const *expected) {
    size_t len = strlen(text), ends[64];
    int n = pretokenize(pattern, text, len, ends, 64), n_expected = 0;
    while (expected[n_expected]) n_expected++;
    int ok = n == n_expected;
    size_t start = 0;
    for (int i = 0; ok && i < n; i++) {
        size_t piece_len = ends[i] - start;
        ok = piece_len == strlen(expected[i]) && memcmp(text + start, expected[i], piece_len) == 0;
        start = ends[i];
    }
    check_report(ok, __FILE__, line, "%s pattern: \"%s\" did not split into the expected %d pieces (got %d)",
                 pattern == PRETOKENIZE_GPT2 ? "GPT-2" : "Llama 3", text, n_expected, n);
}
#define PIECES(pattern, text, ...) check_pieces(__LINE__, pattern, text, (const char *const[]){__VA_ARGS__, NULL})

// A random byte string of up to max bytes: ASCII words and digits, white space runs, apostrophe
// contractions, punctuation, multi-byte UTF-8, and random bytes (so often invalid UTF-8).
static size_t random_text(Rng *r, char *out, size_t max) {
    static const char *parts[] = {
        "the", "The", " cat", "HELLO", "'s", "'LL", "'re", "don't", "I'm", "12345", "٣٤", "3.14", " ", "   ", "\n", "\n\n", "\r\n",
        "\t", " \n ", "...", "!?", " $x", "_a", "(", "é", "héllo", "wörld", "中文", "日本語", "😀", "\xc2\xa0", "\xe3\x80\x80", "ſ",
    };
    int n_parts = (int)(sizeof parts / sizeof parts[0]);
    size_t len = 0, target = (size_t)rng_int(r, (int)max);
    while (len < target) {
        int kind = rng_int(r, 10);
        if (kind < 6) {
            const char *p = parts[rng_int(r, n_parts)];
            size_t n = strlen(p);
            if (len + n > max) break;
            memcpy(out + len, p, n);
            len += n;
        } else if (kind < 8) {
            out[len++] = (char)(rng_int(r, 95) + 32);    // printable ASCII
        } else if (kind < 9) {
            int run = rng_int(r, 40);                      // a long run of one white space character
            char c = " \n\t"[rng_int(r, 3)];
            for (int k = 0; k < run && len < max; k++) out[len++] = c;
        } else {
            out[len++] = (char)rng_int(r, 256);            // any byte at all
        }
    }
    return len;
}

// decode(encode(x)) == x for count random byte strings
static void check_random_round_trips(const Tokenizer *t, const char *name, int count, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    char buf[600];
    int failures = 0;
    for (int i = 0; i < count; i++) {
        size_t len = random_text(&r, buf, sizeof buf);
        if (!round_trips(t, buf, len)) failures++;
    }
    CHECK(failures == 0, "%s: %d of %d random byte strings did not round-trip", name, failures, count);
}

// Text for training: English-like sentences built from a word list and made-up words.
static char *training_text(size_t target, size_t *len) {
    static const char *words[] = {
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "was", "with", "on", "model", "reward", "judge", "response",
        "language", "training", "instruction", "preference", "don't", "it's", "we're", "café", "naïve", "日本", "2024", "3.5",
    };
    static const char *syllables[] = {"ka", "ri", "to", "men", "str", "al", "on", "ve", "qui", "ion", "ble", "um"};
    Rng r;
    rng_seed(&r, 7);
    Buf b = {0};
    while (b.len < target) {
        if (rng_int(&r, 4) == 0)
            for (int k = rng_int(&r, 3); k >= 0; k--) buf_append_str(&b, syllables[rng_int(&r, 12)]);
        else buf_append_str(&b, words[rng_int(&r, (int)(sizeof words / sizeof words[0]))]);
        int p = rng_int(&r, 20);
        buf_append_str(&b, p == 0 ? ".\n\n" : p == 1 ? ", " : p == 2 ? "! " : " ");
    }
    *len = b.len;
    return b.data;
}

static char *temp_dir(void) {
    char templ[] = "/tmp/srl_test_tokenizer_XXXXXX";
    char *d = mkdtemp(templ);
    if (!d) fatal("mkdtemp failed");
    return xstrdup(d);
}

static void write_text(const char *dir, const char *name, const char *content, size_t len) {
    char *path = path_join(dir, name);
    if (write_file_atomic(path, content, len) < 0) fatal("%s", srl_error);
    free(path);
}

// Loading dir/name fails, and srl_error contains expected.
static void check_load_fails(int line, const char *dir, const char *name, const char *content, const char *expected) {
    write_text(dir, name, content, strlen(content));
    char *path = path_join(dir, name);
    Tokenizer *t = NULL;
    srl_error[0] = 0;
    int rc = tokenizer_load(&t, path);
    check_report(rc == -1 && t == NULL, __FILE__, line, "loading %s should fail", name);
    check_report(contains(srl_error, expected), __FILE__, line, "error for %s should mention \"%s\", got \"%s\"", name, expected, srl_error);
    check_report(contains(srl_error, path), __FILE__, line, "error for %s should name the file, got \"%s\"", name, srl_error);
    if (t) tokenizer_free(t);
    unlink(path);
    free(path);
}
#define LOAD_FAILS(dir, name, content, expected) check_load_fails(__LINE__, dir, name, content, expected)

// ----------------------------------------------------------------------------
// pre-tokenizers (the expected pieces were checked against Python's regex module)

static void test_pretokenizers(void) {
    const int L = PRETOKENIZE_LLAMA3, G = PRETOKENIZE_GPT2;
    // Llama 3: contractions in any case (and the long s), then each branch of the pattern
    PIECES(L, "I'LL he's", "I", "'LL", " he", "'s");
    PIECES(L, "She'D we'Ve THEY'RE it'\xc5\xbf", "She", "'D", " we", "'Ve", " THEY", "'RE", " it", "'\xc5\xbf");
    PIECES(L, "don't", "don", "'t");
    PIECES(L, "$hello _abc", "$hello", " _", "abc");      // one non-letter joins the letters after it
    PIECES(L, "_abc($x", "_abc", "($", "x");
    PIECES(L, "\tfoo", "\tfoo");
    PIECES(L, "\xc2\xa0" "foo", "\xc2\xa0" "foo");          // a no-break space joins them too
    PIECES(L, "12345", "123", "45");                     // numbers: at most three digits
    PIECES(L, "\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6 7", "\xd9\xa3\xd9\xa4\xd9\xa5", "\xd9\xa6", " ", "7");   // Arabic-Indic digits
    PIECES(L, "1a2b", "1", "a", "2", "b");
    PIECES(L, "Hi...\n\nYo", "Hi", "...\n\n", "Yo");     // punctuation keeps the newlines after it
    PIECES(L, "...\n\n", "...\n\n");
    PIECES(L, "a ...\n", "a", " ...\n");
    PIECES(L, " ? !", " ?", " !");
    PIECES(L, "a\n\n\nb", "a", "\n\n\n", "b");            // newline runs
    PIECES(L, "a\n\n  b", "a", "\n\n", " ", " b");
    PIECES(L, "x\n \n y", "x", "\n \n", " y");
    PIECES(L, "hello\r\nworld", "hello", "\r\n", "world");
    PIECES(L, "a   b", "a", "  ", " b");                  // white space before a non-space
    PIECES(L, " 123", " ", "123");
    PIECES(L, "end   ", "end", "   ");                    // trailing white space
    PIECES(L, "h\xc3\xa9llo w\xc3\xb6rld", "h\xc3\xa9llo", " w\xc3\xb6rld");
    PIECES(L, "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe7\xac\xa6 \xe6\xb5\x8b\xe8\xaf\x95", "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\xe7\xac\xa6",
           " \xe6\xb5\x8b\xe8\xaf\x95");
    // invalid UTF-8: each bad byte is a character of class "other", and keeps its byte
    PIECES(L, "ab\xff\xfe" "cd", "ab", "\xff\xfe", "cd");
    PIECES(L, "\xff" "abc", "\xff" "abc");
    PIECES(L, "x\xe4\xb8 y", "x", "\xe4\xb8", " y");     // a cut-off 3-byte sequence

    // GPT-2: lower-case contractions only, unbounded digit runs, no newline rule
    PIECES(G, "I'LL he's", "I", "'", "LL", " he", "'s");
    PIECES(G, "don't", "don", "'t");
    PIECES(G, "$hello _abc", "$", "hello", " _", "abc");
    PIECES(G, "12345", "12345");
    PIECES(G, " 123", " 123");
    PIECES(G, "Hi...\n\nYo", "Hi", "...", "\n", "\n", "Yo");
    PIECES(G, "a\n\n  b", "a", "\n\n ", " b");
    PIECES(G, "a   b", "a", "  ", " b");
    PIECES(G, "end   ", "end", "   ");
    PIECES(G, "hello\r\nworld", "hello", "\r", "\n", "world");
    PIECES(G, "\tfoo", "\t", "foo");
    PIECES(G, "h\xc3\xa9llo w\xc3\xb6rld", "h\xc3\xa9llo", " w\xc3\xb6rld");
    PIECES(G, "ab\xff\xfe" "cd", "ab", "\xff\xfe", "cd");

    // the generated Unicode table is sorted and its ranges do not overlap
    int sorted = 1;
    for (int i = 0; i < UNICODE_RANGE_COUNT; i++) {
        if (unicode_ranges[i].first > unicode_ranges[i].last) sorted = 0;
        if (i > 0 && unicode_ranges[i].first <= unicode_ranges[i - 1].last) sorted = 0;
    }
    CHECK(sorted, "unicode_ranges must be sorted and disjoint");
    CHECK(pretokenize(L, "", 0, NULL, 0) == 0, "empty text has no pieces");
}

// ----------------------------------------------------------------------------
// The trainer against byte-pair encoding done the slow, obvious way: before every merge, count
// every adjacent pair of every word (weighted by how often the word occurs), merge the most
// frequent (ties: the smaller left id, then the smaller right id; a merge whose bytes are
// already a token reuses it), rewrite the words left to right. The text is lowercase words and
// single spaces, so its pieces are " word" (and the first word bare) under either pattern.
// The trainer keeps its counts up to date incrementally; this caught it losing every pair whose
// count had once fallen (so "color" was never learned in the task world's corpus).
enum { REF_MAX_WORDS = 1024, REF_MAX_LEN = 16, REF_MAX_TOKENS = 640 };
typedef struct {
    int n_words, word_len[REF_MAX_WORDS], word_count[REF_MAX_WORDS];
    int word[REF_MAX_WORDS][REF_MAX_LEN];  // each distinct piece as token ids
    int n_tokens, token_len[REF_MAX_TOKENS];
    unsigned char token[REF_MAX_TOKENS][REF_MAX_LEN];
    long pair_count[REF_MAX_TOKENS][REF_MAX_TOKENS];
} RefBPE;

static void ref_add_piece(RefBPE *r, const char *s, int len) {
    for (int w = 0; w < r->n_words; w++) {
        int same = r->word_len[w] == len;
        for (int k = 0; k < len && same; k++) same = r->word[w][k] == (unsigned char)s[k];
        if (same) { r->word_count[w]++; return; }
    }
    int w = r->n_words++;
    r->word_len[w] = len, r->word_count[w] = 1;
    for (int k = 0; k < len; k++) r->word[w][k] = (unsigned char)s[k];
}

// One merge; 0 when no pair is left.
static int ref_merge(RefBPE *r) {
    memset(r->pair_count, 0, sizeof r->pair_count);
    for (int w = 0; w < r->n_words; w++)
        for (int k = 0; k + 1 < r->word_len[w]; k++) r->pair_count[r->word[w][k]][r->word[w][k + 1]] += r->word_count[w];
    int a = -1, b = -1;
    long best = 0;
    for (int i = 0; i < r->n_tokens; i++)  // in id order, so the first maximum has the smaller ids
        for (int j = 0; j < r->n_tokens; j++)
            if (r->pair_count[i][j] > best) best = r->pair_count[i][j], a = i, b = j;
    if (best == 0) return 0;
    int la = r->token_len[a], lb = r->token_len[b], c = -1;
    unsigned char joined[2 * REF_MAX_LEN];
    memcpy(joined, r->token[a], (size_t)la), memcpy(joined + la, r->token[b], (size_t)lb);
    for (int t = 0; t < r->n_tokens && c < 0; t++)
        if (r->token_len[t] == la + lb && memcmp(r->token[t], joined, (size_t)(la + lb)) == 0) c = t;
    if (c < 0) {
        c = r->n_tokens++;
        memcpy(r->token[c], joined, (size_t)(la + lb)), r->token_len[c] = la + lb;
    }
    for (int w = 0; w < r->n_words; w++) {
        int j = 0;
        for (int k = 0; k < r->word_len[w];) {
            if (k + 1 < r->word_len[w] && r->word[w][k] == a && r->word[w][k + 1] == b) r->word[w][j++] = c, k += 2;
            else r->word[w][j++] = r->word[w][k++];
        }
        r->word_len[w] = j;
    }
    return 1;
}

static void test_training_reference(void) {
    static const char *stems[] = {"co", "lor", "ra", "ko", "vi", "or"};  // at most 2 x (6 + 36 + 216) pieces
    Rng rng;
    rng_seed(&rng, 3);
    Buf text = {0};
    for (int i = 0; i < 6000; i++) {
        if (i) buf_append_char(&text, ' ');
        int parts = 1 + rng_int(&rng, 3);
        for (int k = 0; k < parts; k++) buf_append_str(&text, stems[rng_int(&rng, 6)]);
    }
    RefBPE *r = xcalloc(1, sizeof *r);
    r->n_tokens = 256;
    for (int b = 0; b < 256; b++) r->token[b][0] = (unsigned char)b, r->token_len[b] = 1;
    for (size_t i = 0; i < text.len;) {
        size_t j = i + 1;
        while (j < text.len && text.data[j] != ' ') j++;
        ref_add_piece(r, text.data + i, (int)(j - i));
        i = j;
    }
    const int vocab = 600, n_special = tokenizer_default_special_count;
    while (r->n_tokens < vocab - n_special && ref_merge(r)) {}
    Tokenizer *t;
    CHECK(tokenizer_train(&t, text.data, text.len, vocab, NULL, 0) == 0, "training on the reference text: %s", srl_error);
    int same = tokenizer_vocab_size(t) == r->n_tokens + n_special, first_diff = -1;
    for (int id = 256; id < r->n_tokens && same; id++) {
        const char *bytes;
        size_t len;
        if (tokenizer_token_bytes(t, id, &bytes, &len) < 0 || (int)len != r->token_len[id] || memcmp(bytes, r->token[id], len) != 0)
            same = 0, first_diff = id;
    }
    CHECK(same, "the trainer's %d tokens are the reference BPE's %d (first difference at id %d)", tokenizer_vocab_size(t) - n_special,
          r->n_tokens, first_diff);
    tokenizer_free(t);
    buf_free(&text);
    free(r);
}

// training, saving, loading back, chat template, streaming

static void test_training(void) {
    size_t len;
    char *text = training_text(300000, &len);
    Tokenizer *t, *t2;
    CHECK(tokenizer_train(&t, text, len, 800, NULL, 0) == 0, "training works: %s", srl_error);
    CHECK(tokenizer_vocab_size(t) == 800, "vocab size %d, expected 800", tokenizer_vocab_size(t));
    // layout: bytes, merges, then the default special tokens at the end
    const char *b;
    size_t blen;
    CHECK(tokenizer_token_bytes(t, 'A', &b, &blen) == 0 && blen == 1 && b[0] == 'A', "id 65 is the byte 'A'");
    CHECK(strcmp(tokenizer_token_string(t, ' '), "\xc4\xa0") == 0, "the space byte is spelled \"\xc4\xa0\"");
    CHECK(tokenizer_bos_id(t) == 794 && tokenizer_eos_id(t) == 795 && tokenizer_eot_id(t) == 798, "special ids %d %d %d",
          tokenizer_bos_id(t), tokenizer_eos_id(t), tokenizer_eot_id(t));
    CHECK(tokenizer_token_id(t, "<|pad|>") == 799 && tokenizer_is_special(t, 799), "<|pad|> is the last token");
    CHECK(tokenizer_token_id(t, "<|start_header_id|>") == 796, "<|start_header_id|> id");
    int *ids, n = encode(t, " the model", 10, 0, &ids);
    CHECK(n == 2, "\" the model\" should be two tokens after training, got %d", n);
    free(ids);
    check_random_round_trips(t, "trained", 3000, 11);

    // deterministic: the same training gives the same file, byte for byte
    char *dir = temp_dir(), *p1 = path_join(dir, "a.json"), *p2 = path_join(dir, "b.json");
    CHECK(tokenizer_train(&t2, text, len, 800, NULL, 0) == 0, "training again works");
    CHECK(tokenizer_save_json(t, p1) == 0 && tokenizer_save_json(t2, p2) == 0, "saving works: %s", srl_error);
    char *j1 = NULL, *j2 = NULL;
    size_t l1 = 0, l2 = 1;
    int read_ok = read_file(p1, &j1, &l1, 0) == 0 && read_file(p2, &j2, &l2, 0) == 0;
    CHECK(read_ok, "read back the saved files: %s", srl_error);
    CHECK(read_ok && l1 == l2 && memcmp(j1, j2, l1) == 0, "training twice must give byte-identical tokenizer.json");
    CHECK(read_ok && contains(j1, "\"ignore_merges\": true") && contains(j1, "\"type\": \"Split\"") && contains(j1, "[\"\xc4\xa0\", \"t\"]"),
          "saved JSON has ignore_merges, the Split pre-tokenizer and pair-form merges");
    free(j1);
    free(j2);
    tokenizer_free(t2);

    // read back: the same encodings
    CHECK(tokenizer_load(&t2, p1) == 0, "the saved tokenizer.json loads: %s", srl_error);
    if (t2) {
        CHECK(tokenizer_vocab_size(t2) == 800 && tokenizer_eot_id(t2) == 798, "reloaded vocab size and specials");
        Rng r;
        rng_seed(&r, 5);
        char buf[600];
        int differ = 0;
        for (int i = 0; i < 2000; i++) {
            size_t l = random_text(&r, buf, sizeof buf);
            int *a, *c, na = encode(t, buf, l, 1, &a), nc = encode(t2, buf, l, 1, &c);
            differ += !same_ids(a, na, c, nc);
            free(a);
            free(c);
        }
        int *a, *c, na = encode(t, text, len, 0, &a), nc = encode(t2, text, len, 0, &c);
        differ += !same_ids(a, na, c, nc);
        free(a);
        free(c);
        CHECK(differ == 0, "the reloaded tokenizer encodes %d texts differently", differ);
        // and the folder form finds tokenizer.json
        char *folder_json = path_join(dir, "tokenizer.json");
        CHECK(rename(p1, folder_json) == 0, "rename");
        Tokenizer *t3;
        CHECK(tokenizer_load(&t3, dir) == 0 && tokenizer_vocab_size(t3) == 800, "loading the folder finds tokenizer.json");
        tokenizer_free(t3);
        unlink(folder_json);
        free(folder_json);
        tokenizer_free(t2);
    }
    unlink(p2);
    rmdir(dir);
    free(p1);
    free(p2);
    free(dir);

    // special tokens in the training text are not learned from, and only come out when allowed
    n = encode(t, "<|eot_id|>", 10, 1, &ids);
    CHECK(n == 1 && ids[0] == 798, "allow_special: <|eot_id|> is one token");
    free(ids);
    n = encode(t, "<|eot_id|>", 10, 0, &ids);
    int has_special = 0;
    for (int i = 0; i < n; i++) has_special |= tokenizer_is_special(t, ids[i]);
    CHECK(n > 1 && !has_special, "without allow_special, <|eot_id|> is plain text");
    free(ids);

    // absurd sizes and bad special tokens
    Tokenizer *bad = NULL;
    CHECK(tokenizer_train(&bad, text, len, 261, NULL, 0) == -1 && bad == NULL && contains(srl_error, "261"),
          "261 tokens cannot hold 256 bytes and 6 specials: %s", srl_error);
    CHECK(tokenizer_train(&bad, text, len, 2000000, NULL, 0) == -1 && contains(srl_error, "1,000,000"), "2,000,000 tokens is too many: %s",
          srl_error);
    CHECK(tokenizer_train(&bad, text, len, -5, NULL, 0) == -1, "a negative vocabulary size is refused");
    const char *twice[] = {"<|a|>", "<|a|>"};
    CHECK(tokenizer_train(&bad, text, len, 300, twice, 2) == -1 && contains(srl_error, "twice"), "duplicate specials: %s", srl_error);
    const char *empty[] = {""};
    CHECK(tokenizer_train(&bad, text, len, 300, empty, 1) == -1 && contains(srl_error, "empty"), "empty special: %s", srl_error);
    CHECK(tokenizer_train(&bad, text, len, 262, NULL, 0) == 0 && tokenizer_vocab_size(bad) == 262, "262 = 256 bytes + 6 specials works");
    tokenizer_free(bad);
    // a tiny text runs out of pairs before the vocabulary is full
    CHECK(tokenizer_train(&bad, "ab ab", 5, 1000, NULL, 0) == 0 && tokenizer_vocab_size(bad) < 300, "training stops when no pair is left");
    CHECK(round_trips(bad, "ab ab abc", 9), "the small tokenizer round-trips");
    tokenizer_free(bad);
    CHECK(tokenizer_train(&bad, "", 0, 300, NULL, 0) == 0 && tokenizer_vocab_size(bad) == 262, "empty text: bytes and specials only");
    tokenizer_free(bad);

    // chat template: structure and mask
    ChatMessage conv[2] = {{"user", "  Hello there!\n"}, {"assistant", "Hi. <|eot_id|>"}};
    unsigned char *mask;
    CHECK(chat_encode(t, conv, 2, 0, &ids, &mask, &n) == 0, "chat_encode works: %s", srl_error);
    // expected: bos, [start user end "\n\n" content eot] per message
    int *part, np, bos = 794, start = 796, end = 797, eot = 798;
    int expect[256], ne = 0, mask_from = 0, mask_to = 0;
    expect[ne++] = bos;
    for (int m = 0; m < 2; m++) {
        expect[ne++] = start;
        np = encode(t, conv[m].role, strlen(conv[m].role), 0, &part);
        for (int i = 0; i < np; i++) expect[ne++] = part[i];
        free(part);
        expect[ne++] = end;
        np = encode(t, "\n\n", 2, 0, &part);
        for (int i = 0; i < np; i++) expect[ne++] = part[i];
        free(part);
        const char *trimmed = m == 0 ? "Hello there!" : "Hi. <|eot_id|>";
        if (m == 1) mask_from = ne;
        np = encode(t, trimmed, strlen(trimmed), 0, &part);
        for (int i = 0; i < np; i++) expect[ne++] = part[i];
        free(part);
        expect[ne++] = eot;
        mask_to = ne;
    }
    CHECK(same_ids(ids, n, expect, ne), "chat tokens: got %d, expected %d, in the llama-3-instruct layout", n, ne);
    int mask_ok = 1;
    for (int i = 0; i < n && i < ne; i++) mask_ok &= mask[i] == (i >= mask_from && i < mask_to);
    CHECK(mask_ok, "the mask is 1 exactly on the assistant content and its <|eot_id|>");
    int specials_in_content = 0;
    for (int i = mask_from; i < mask_to - 1; i++) specials_in_content += tokenizer_is_special(t, ids[i]);
    CHECK(specials_in_content == 0, "special-token text in a message stays plain text");
    free(ids);
    free(mask);
    int *ids2;
    CHECK(chat_encode(t, conv, 2, 1, &ids2, &mask, &n) == 0 && n > ne && same_ids(ids2, ne, expect, ne) && ids2[ne] == start,
          "with a generation prompt, the conversation is followed by <|start_header_id|>");
    np = encode(t, "assistant", 9, 0, &part);
    int *newlines, n_newlines = encode(t, "\n\n", 2, 0, &newlines);
    free(newlines);
    int prompt_ok = n == ne + 2 + np + n_newlines && ids2[ne + 1 + np] == end;
    for (int i = ne; i < n; i++) prompt_ok &= mask[i] == 0;
    CHECK(prompt_ok, "the generation prompt is <|start_header_id|>assistant<|end_header_id|>\\n\\n, masked 0");
    free(part);
    free(ids2);
    free(mask);
    const char *other[] = {"<|x|>"};
    CHECK(tokenizer_train(&bad, text, 100000, 300, other, 1) == 0, "training with other specials");
    CHECK(chat_encode(bad, conv, 2, 1, &ids2, &mask, &n) == -1 && contains(srl_error, "<|begin_of_text|>"),
          "chat_encode without the special tokens fails clearly: %s", srl_error);
    tokenizer_free(bad);

    // streaming decode: never half a character, and exactly decode's bytes in the end
    const char *stream_text = "Zürich, café, 日本語 and 😀! \xff\xfe bad bytes, then \xe6\x97 a cut-off character";
    n = encode(t, stream_text, strlen(stream_text), 0, &ids);
    StreamDecoder sd;
    stream_decoder_init(&sd);
    char out[4096], chunk[512];
    size_t total = 0;
    int whole = 1;
    for (int i = 0; i < n; i++) {
        size_t k = stream_decoder_push(&sd, t, ids[i], chunk, sizeof chunk);
        memcpy(out + total, chunk, k);
        total += k;
        if (ends_mid_character((const unsigned char *)out, total)) whole = 0;
    }
    total += stream_decoder_flush(&sd, out + total, 4);
    CHECK(whole, "no chunk ends in the middle of a character");
    CHECK(!sd.failed && total == strlen(stream_text) && memcmp(out, stream_text, total) == 0, "streamed bytes equal the text");
    stream_decoder_init(&sd);
    CHECK(stream_decoder_push(&sd, t, 99999, chunk, sizeof chunk) == 0 && sd.failed, "an unknown id fails the stream");
    stream_decoder_init(&sd);
    CHECK(stream_decoder_push(&sd, t, ids[0], chunk, 0) == 0 && sd.failed && contains(srl_error, "too small"), "too small a buffer");
    free(ids);

    // decode and parse errors
    char *back;
    size_t back_len;
    int bad_ids[2] = {5, 800};
    CHECK(tokenizer_decode(t, bad_ids, 2, &back, &back_len) == -1 && contains(srl_error, "800"), "decoding an unknown id fails: %s", srl_error);
    bad_ids[1] = -3;
    CHECK(tokenizer_decode(t, bad_ids, 2, &back, &back_len) == -1, "decoding a negative id fails");
    CHECK(tokenizer_parse_ids("1 2\n 30\n", 8, &ids, &n) == 0 && n == 3 && ids[2] == 30, "parse ids");
    free(ids);
    CHECK(tokenizer_parse_ids("1 x2 3", 6, &ids, &n) == -1 && contains(srl_error, "x2"), "a bad id is named: %s", srl_error);
    CHECK(tokenizer_parse_ids("99999999999", 11, &ids, &n) == -1, "an id too large for int fails");

    tokenizer_free(t);
    free(text);
}

// ----------------------------------------------------------------------------
// bad files

static void test_bad_files(void) {
    char *dir = temp_dir();
    const char *ok_pre = "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}";
    char json[2048];

    // a minimal good file first: it loads, merges work, and a byte with no token is an error
    snprintf(json, sizeof json, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}, %s}", ok_pre);
    write_text(dir, "good.json", json, strlen(json));
    char *good = path_join(dir, "good.json");
    Tokenizer *t;
    CHECK(tokenizer_load(&t, good) == 0, "the minimal tokenizer.json loads: %s", srl_error);
    int *ids, n = encode(t, "abba", 4, 0, &ids);
    CHECK(n == 3 && ids[0] == 2 && ids[1] == 1 && ids[2] == 0, "abba -> ab b a");
    free(ids);
    CHECK(tokenizer_encode(t, "abc", 3, 0, &ids, &n) == -1 && contains(srl_error, "0x63"), "no token for 'c': %s", srl_error);
    tokenizer_free(t);
    snprintf(json, sizeof json, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [[\"a\", \"b\"]]}, %s}", ok_pre);
    write_text(dir, "good.json", json, strlen(json));
    CHECK(tokenizer_load(&t, good) == 0 && encode(t, "ab", 2, 0, &ids) == 1 && ids[0] == 2, "merges in the pair form");
    free(ids);
    tokenizer_free(t);
    unlink(good);
    free(good);

    // ByteLevel add_prefix_space: "a" is encoded as " a" (and decodes so, as in Hugging Face's library)
    const char *prefix_json = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"\\u0120\": 1, \"\\u0120a\": 2}, \"merges\": [\"\\u0120 a\"]}, "
                              "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true}}";
    write_text(dir, "prefix.json", prefix_json, strlen(prefix_json));
    char *prefix_path = path_join(dir, "prefix.json");
    CHECK(tokenizer_load(&t, prefix_path) == 0, "add_prefix_space file loads: %s", srl_error);
    if (t) {
        n = encode(t, "a", 1, 0, &ids);
        CHECK(n == 1 && ids[0] == 2, "with add_prefix_space, \"a\" is \" a\"");
        free(ids);
        tokenizer_free(t);
    }
    unlink(prefix_path);
    free(prefix_path);
    // the GPT-2 pattern may also come as a Split before ByteLevel(use_regex false)
    Buf split = {0};
    buf_append_str(&split, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"1\": 1}, \"merges\": []}, \"pre_tokenizer\": {\"type\": "
                           "\"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"");
    for (const char *c = pretokenize_pattern_gpt2; *c; c++) {
        if (*c == '\\') buf_append_char(&split, '\\');
        buf_append_char(&split, *c);
    }
    buf_append_str(&split, "\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                           "\"use_regex\": false}]}}");
    write_text(dir, "split.json", split.data, split.len);
    char *split_path = path_join(dir, "split.json");
    CHECK(tokenizer_load(&t, split_path) == 0, "Split with the GPT-2 pattern loads: %s", srl_error);
    tokenizer_free(t);
    unlink(split_path);
    free(split_path);
    buf_free(&split);

    // truncated and malformed JSON
    snprintf(json, sizeof json, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}, %s}", ok_pre);
    json[40] = 0;
    LOAD_FAILS(dir, "truncated.json", json, "not valid JSON");
    LOAD_FAILS(dir, "malformed.json", "{\"model\": {\"vocab\": {\"a\": 0,}}}", "not valid JSON");
    LOAD_FAILS(dir, "array.json", "[1, 2]", "the top level is not an object");
    LOAD_FAILS(dir, "top.json", "{\"version\": \"1.0\"}", "no \"model\" object");
    // unsupported kinds of tokenizer
    LOAD_FAILS(dir, "wordpiece.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", "model type \"WordPiece\" is not supported");
    LOAD_FAILS(dir, "unigram.json", "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}", "model type \"Unigram\"");
    const char *formats[][2] = {
        {"{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}, %s}", "byte_fallback"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"NFKC\"}, %s}",
         "normalizer type \"NFKC\" is not supported"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"WordPiece\"}, %s}",
         "decoder type \"WordPiece\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a zz\"]}, %s}", "token \"zz\" is not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}, %s}", "\"ab\", the merge of \"a\" and \"b\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"ab\"]}, %s}", "not two tokens separated by one space"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\", \"a b\"]}, %s}", "repeats"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}, %s}", "duplicate id 0"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}, \"merges\": []}, %s}", "duplicate token"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999}, \"merges\": []}, %s}", "is not an integer from 0 to"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}, \"merges\": []}, %s}", "is not an integer from 0 to"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 0, \"content\": \"<s>\"}], %s}",
         "in model.vocab, not \"<s>\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1, \"content\": \"<s>\"}, "
         "{\"id\": 2, \"content\": \"<s>\"}], %s}",
         "duplicate added token"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}, %s}", "model.merges is missing"},
    };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        snprintf(json, sizeof json, formats[i][0], ok_pre);
        char name[32];
        snprintf(name, sizeof name, "bad%zu.json", i);
        LOAD_FAILS(dir, name, json, formats[i][1]);
    }
    LOAD_FAILS(dir, "pre1.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Metaspace\"}}",
               "pre_tokenizer type \"Metaspace\" is not supported");
    LOAD_FAILS(dir, "pre2.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": null}",
               "pre_tokenizer is null");
    LOAD_FAILS(dir, "pre3.json",
               "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
               "[{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s+\"}, \"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}}",
               "Split pattern");

    // tiktoken rank files
    LOAD_FAILS(dir, "base64.model", "YQ== 0\n!!!! 1\n", "line 2: \"!!!!\" is not valid base64");
    LOAD_FAILS(dir, "norank.model", "YQ== 0\nYg==\n", "line 2: missing rank");
    LOAD_FAILS(dir, "textrank.model", "YQ== 0\nYg== x1\n", "line 2: rank \"x1\" is not a number");
    LOAD_FAILS(dir, "bigrank.model", "YQ== 0\nYg== 7\n", "rank 7 is out of range");
    LOAD_FAILS(dir, "hugerank.model", "YQ== 0\nYg== 99999999999999999999999\n", "out of range");
    LOAD_FAILS(dir, "duprank.model", "YQ== 0\nYg== 0\n", "rank 0 appears twice");
    LOAD_FAILS(dir, "dupbytes.model", "YQ== 0\nYQ== 1\n", "duplicate token");
    LOAD_FAILS(dir, "padding.model", "YQ=a 0\n", "not valid base64");
    LOAD_FAILS(dir, "empty.model", "\n\n", "no tokens");
    LOAD_FAILS(dir, "spm.model", "\x0a\x0b\x0a\x05<unk>\x15\x01\x02", "binary");
    // a small good rank file: bytes a, b and the token "ab"
    write_text(dir, "small.model", "YQ== 0\nYg== 1\nYWI= 2\n", 21);
    char *small = path_join(dir, "small.model");
    CHECK(tokenizer_load(&t, small) == 0 && tokenizer_vocab_size(t) == 3 + 256, "a small rank file loads: %s", srl_error);
    if (t) {
        n = encode(t, "abab", 4, 0, &ids);
        CHECK(n == 2 && ids[0] == 2 && ids[1] == 2, "abab is not a token: merges give ab ab");
        free(ids);
        n = encode(t, "aab", 3, 0, &ids);
        CHECK(n == 2 && ids[0] == 0 && ids[1] == 2, "aab -> a ab");
        free(ids);
        CHECK(tokenizer_bos_id(t) == 3 && tokenizer_eot_id(t) == 12 && tokenizer_token_id(t, "<|reserved_special_token_5|>") == 13,
              "Llama 3 special tokens follow the ranks");
        tokenizer_free(t);
    }
    unlink(small);
    free(small);

    // paths
    char *missing = path_join(dir, "nothing.json");
    CHECK(tokenizer_load(&t, missing) == -1 && contains(srl_error, missing), "a missing file is named: %s", srl_error);
    free(missing);
    CHECK(tokenizer_load(&t, dir) == -1 && contains(srl_error, "neither tokenizer.json nor tokenizer.model"), "empty folder: %s", srl_error);
    rmdir(dir);
    free(dir);
}

// Damages a copy of good[0..len) with a few random edits: overwrite a byte, delete or repeat a
// stretch, cut the end. Returns the new length (out has room for 2 * len + 16).
static size_t damage(Rng *r, const char *good, size_t len, char *out) {
    static const char syntax[] = "{}[]\":,0123456789 \\-.eE\n=";
    memcpy(out, good, len);
    for (int edits = 1 + rng_int(r, 4); edits > 0 && len > 2; edits--) {
        size_t at = (size_t)rng_int(r, (int)len), span = 1 + (size_t)rng_int(r, 8);
        if (span > len - at) span = len - at;
        switch (rng_int(r, 5)) {
        case 0: out[at] = (char)rng_int(r, 256); break;
        case 1: out[at] = syntax[rng_int(r, (int)sizeof syntax - 1)]; break;
        case 2: memmove(out + at, out + at + span, len - at - span); len -= span; break;
        case 3: if (len + span <= 2 * len) { memmove(out + at + span, out + at, len - at); len += span; } break;
        default: len = at; break;
        }
    }
    return len;
}

// Hostile files: randomly damaged tokenizer.json and rank files either load or fail with a
// message; nothing crashes, hangs or leaks (run under -fsanitize=address,undefined to see).
static void test_damaged_files(void) {
    char *dir = temp_dir(), *path = path_join(dir, "damaged");
    size_t len;
    char *text = training_text(20000, &len);
    Tokenizer *t;
    if (tokenizer_train(&t, text, len, 320, NULL, 0) < 0 || tokenizer_save_json(t, path) < 0) fatal("%s", srl_error);
    tokenizer_free(t);
    free(text);
    char *good_json, *bad;
    size_t json_len;
    if (read_file(path, &good_json, &json_len, 0) < 0) fatal("%s", srl_error);
    const char *good_ranks = "YQ== 0\nYg== 1\nYWI= 2\nYw== 3\nYWJj 4\nIA== 5\nIGFiYw== 6\nIGE= 7\n";
    bad = xmalloc(2 * json_len + 16);
    Rng r;
    rng_seed(&r, 99);
    int loaded = 0, failed_with_message = 0, tries = 600;
    for (int i = 0; i < tries; i++) {
        size_t n = i % 2 ? damage(&r, good_json, json_len, bad) : damage(&r, good_ranks, strlen(good_ranks), bad);
        if (write_file_atomic(path, bad, n) < 0) fatal("%s", srl_error);
        srl_error[0] = 0;
        if (tokenizer_load(&t, path) == 0) {
            loaded++;
            char sample[300];
            size_t l = random_text(&r, sample, sizeof sample);
            int *ids, n_ids;
            if (tokenizer_encode(t, sample, l, 1, &ids, &n_ids) == 0) {
                char *back;
                size_t back_len;
                if (tokenizer_decode(t, ids, n_ids, &back, &back_len) == 0) free(back);
                free(ids);
            }
            tokenizer_free(t);
        } else {
            failed_with_message += srl_error[0] != 0 && t == NULL;
        }
    }
    CHECK(loaded + failed_with_message == tries, "damaged files: %d loaded, %d failed with a message, of %d", loaded, failed_with_message, tries);
    free(bad);
    free(good_json);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
}

// ----------------------------------------------------------------------------
// fixtures: Meta's vectors with the real tokenizer.model

static int json_ids(const JsonValue *array, int *out, int cap) {
    int n = 0;
    for (const JsonValue *c = array ? array->child : NULL; c && n < cap; c = c->next) out[n++] = (int)c->number;
    return n;
}

static void test_llama3(const char *fixtures) {
    char *folder = path_join(fixtures, "llama3"), *vectors_path = path_join(folder, "meta_vectors.json");
    Tokenizer *t;
    // how long the load takes is measured by make bench (bench_tokenizer), not asserted here
    if (tokenizer_load(&t, folder) < 0) {   // the folder holds tokenizer.model
        CHECK(0, "loading %s: %s", folder, srl_error);
        free(folder);
        free(vectors_path);
        return;
    }
    CHECK(tokenizer_vocab_size(t) == 128256, "Llama 3 vocab size %d", tokenizer_vocab_size(t));
    CHECK(tokenizer_bos_id(t) == 128000 && tokenizer_eos_id(t) == 128001 && tokenizer_eot_id(t) == 128009, "Llama 3 special ids");
    CHECK(tokenizer_token_id(t, "<|start_header_id|>") == 128006 && tokenizer_token_id(t, "<|end_header_id|>") == 128007 &&
              tokenizer_token_id(t, "<|reserved_special_token_2|>") == 128004 && tokenizer_token_id(t, "<|reserved_special_token_4|>") == 128008 &&
              tokenizer_token_id(t, "<|reserved_special_token_5|>") == 128010 && tokenizer_token_id(t, "<|reserved_special_token_250|>") == 128255,
          "Llama 3 special names follow meta-llama/llama3 tokenizer.py");

    char *text;
    size_t len;
    JsonDoc doc;
    if (read_file(vectors_path, &text, &len, 0) < 0 || json_parse(&doc, text, len) < 0) fatal("%s", srl_error);
    int want[256], n_want, *ids, n;
    for (const JsonValue *v = json_get(doc.root, "encode")->child; v; v = v->next) {
        const JsonValue *s = json_get(v, "text");
        n_want = json_ids(json_get(v, "ids"), want, 256);
        n = encode(t, s->string, s->length, 0, &ids);
        int got[256], ng = 0;
        if (is_true(json_get(v, "bos"))) got[ng++] = tokenizer_bos_id(t);
        for (int i = 0; i < n && ng < 250; i++) got[ng++] = ids[i];
        if (is_true(json_get(v, "eos"))) got[ng++] = tokenizer_eos_id(t);
        CHECK(same_ids(got, ng, want, n_want), "Meta encode vector \"%s\"", s->string);
        free(ids);
    }
    for (const JsonValue *v = json_get(doc.root, "decode")->child; v; v = v->next) {
        const JsonValue *s = json_get(v, "text");
        n_want = json_ids(json_get(v, "ids"), want, 256);
        char *back;
        size_t back_len;
        CHECK(tokenizer_decode(t, want, n_want, &back, &back_len) == 0 && back_len == s->length && memcmp(back, s->string, back_len) == 0,
              "Meta decode vector \"%s\"", s->string);
        free(back);
    }
    for (const JsonValue *v = json_get(doc.root, "encode_message")->child; v; v = v->next) {
        ChatMessage m = {json_get_string(v, "role"), json_get_string(v, "content")};
        n_want = json_ids(json_get(v, "ids"), want, 256);
        CHECK(chat_encode(t, &m, 1, 0, &ids, NULL, &n) == 0, "chat_encode one message");
        CHECK(n >= 1 && ids[0] == 128000 && same_ids(ids + 1, n - 1, want, n_want), "Meta encode_message vector (after <|begin_of_text|>)");
        free(ids);
    }
    for (const JsonValue *v = json_get(doc.root, "encode_dialog_prompt")->child; v; v = v->next) {
        ChatMessage m[16];
        int nm = 0;
        for (const JsonValue *c = json_get(v, "dialog")->child; c && nm < 16; c = c->next)
            m[nm++] = (ChatMessage){json_get_string(c, "role"), json_get_string(c, "content")};
        n_want = json_ids(json_get(v, "ids"), want, 256);
        unsigned char *mask;
        CHECK(chat_encode(t, m, nm, 1, &ids, &mask, &n) == 0 && same_ids(ids, n, want, n_want), "Meta encode_dialog_prompt vector");
        int zero = 1;
        for (int i = 0; i < n; i++) zero &= mask[i] == 0;
        CHECK(zero, "no assistant message, so the mask is all 0");
        free(ids);
        free(mask);
    }
    json_free(&doc);
    free(text);

    // every token that is one pre-token encodes to itself (the whole-piece rule); without the
    // rule, plain merges miss exactly 588 of them (the README's count)
    int single = 0, self = 0, merges_miss = 0;
    Tokenizer *plain;
    CHECK(tokenizer_load(&plain, folder) == 0, "load again");
    tokenizer_set_ignore_merges(plain, 0);
    for (int id = 0; id < 128000; id++) {
        const char *b;
        size_t blen;
        tokenizer_token_bytes(t, id, &b, &blen);
        if (pretokenize(PRETOKENIZE_LLAMA3, b, blen, NULL, 0) != 1) continue;
        single++;
        n = encode(t, b, blen, 0, &ids);
        self += n == 1 && ids[0] == id;
        free(ids);
        n = encode(plain, b, blen, 0, &ids);
        merges_miss += !(n == 1 && ids[0] == id);
        free(ids);
    }
    CHECK(single > 120000 && self == single, "%d of %d one-piece tokens encode to themselves", self, single);
    CHECK(merges_miss == 588, "without the whole-piece rule %d tokens are unreachable, expected 588", merges_miss);
    tokenizer_free(plain);

    // special tokens only when allowed
    n = encode(t, "<|eot_id|>", 10, 1, &ids);
    CHECK(n == 1 && ids[0] == 128009, "allow_special: <|eot_id|> -> 128009");
    free(ids);
    n = encode(t, "<|begin_of_text|>Hi<|eot_id|>", 29, 0, &ids);
    int specials = 0;
    for (int i = 0; i < n; i++) specials += ids[i] >= 128000;
    CHECK(n > 3 && specials == 0, "without allow_special, special-token text is plain text");
    free(ids);
    int *hi, n_hi = encode(t, "Hi", 2, 0, &hi);
    n = encode(t, "<|begin_of_text|>Hi<|eot_id|>", 29, 1, &ids);
    CHECK(n_hi == 1 && n == 3 && ids[0] == 128000 && ids[1] == hi[0] && ids[2] == 128009, "allow_special: <|begin_of_text|>Hi<|eot_id|>");
    free(ids);
    free(hi);

    check_random_round_trips(t, "llama3", 3000, 21);

    // long pieces: the heap merge gives what the simple scan gives
    Rng r;
    rng_seed(&r, 3);
    int differ = 0;
    char buf[2000];
    for (int i = 0; i < 200; i++) {
        size_t l = 0;
        int kind = rng_int(&r, 3);
        while (l < sizeof buf - 4) buf[l++] = kind == 0 ? (char)('a' + rng_int(&r, 26)) : kind == 1 ? " ab"[rng_int(&r, 3)] : "-=_"[rng_int(&r, 3)];
        int *a, *c, na, nc;
        tokenizer_long_piece_bytes = 1 << 30;
        na = encode(t, buf, l, 0, &a);
        tokenizer_long_piece_bytes = 0;
        nc = encode(t, buf, l, 0, &c);
        tokenizer_long_piece_bytes = 64;
        differ += !same_ids(a, na, c, nc);
        free(a);
        free(c);
    }
    CHECK(differ == 0, "heap and scan merging differ on %d long texts", differ);

    // saved as tokenizer.json (merges derived from the ranks) and read back: the same encodings
    char *dir = temp_dir(), *json_path = path_join(dir, "llama3.json");
    CHECK(tokenizer_save_json(t, json_path) == 0, "saving Llama 3 as tokenizer.json: %s", srl_error);
    Tokenizer *t2;
    if (tokenizer_load(&t2, json_path) == 0) {
        CHECK(tokenizer_vocab_size(t2) == 128256 && tokenizer_eot_id(t2) == 128009, "reloaded Llama 3 JSON");
        differ = 0;
        rng_seed(&r, 8);
        for (int i = 0; i < 2000; i++) {
            size_t l = random_text(&r, buf, 600);
            int *a, *c, na = encode(t, buf, l, 1, &a), nc = encode(t2, buf, l, 1, &c);
            differ += !same_ids(a, na, c, nc);
            free(a);
            free(c);
        }
        CHECK(differ == 0, "Llama 3 from tokenizer.json encodes %d of 2000 texts differently", differ);
        tokenizer_free(t2);
    } else {
        CHECK(0, "reloading the saved Llama 3 tokenizer.json: %s", srl_error);
    }
    unlink(json_path);
    rmdir(dir);
    free(json_path);
    free(dir);
    tokenizer_free(t);
    free(folder);
    free(vectors_path);
}

// ----------------------------------------------------------------------------
// fixtures: a real GPT-2 style tokenizer.json (no ignore_merges: plain merges)

static void test_hf_json(const char *fixtures) {
    char *path = path_join(fixtures, "hf_tokenizer/tokenizer.json");
    Tokenizer *t;
    if (tokenizer_load(&t, path) < 0) {
        CHECK(0, "loading %s: %s", path, srl_error);
        free(path);
        return;
    }
    CHECK(tokenizer_vocab_size(t) == 783, "vocab size %d, expected 783", tokenizer_vocab_size(t));
    CHECK(tokenizer_token_id(t, "<|endoftext|>") == 0 && tokenizer_is_special(t, 0), "<|endoftext|> is special token 0");

    // Every vocabulary string that is a single GPT-2 pre-token encodes to its own id: each token
    // was made by a merge, and merging its bytes in rank order rebuilds it. (A token spanning
    // several pre-tokens cannot come out of one, so for those only the round trip holds.)
    char *text;
    size_t len;
    JsonDoc doc;
    if (read_file(path, &text, &len, 0) < 0 || json_parse(&doc, text, len) < 0) fatal("%s", srl_error);
    int single = 0, self = 0, multi = 0, multi_ok = 0;
    for (const JsonValue *v = json_get(json_get(doc.root, "model"), "vocab")->child; v; v = v->next) {
        int id = (int)v->number;
        if (tokenizer_is_special(t, id)) continue;
        const char *b;
        size_t blen;
        tokenizer_token_bytes(t, id, &b, &blen);
        CHECK(tokenizer_token_id(t, v->key) == id, "token_id(\"%s\") == %d", v->key, id);
        if (pretokenize(PRETOKENIZE_GPT2, b, blen, NULL, 0) == 1) {
            int *ids, n = encode(t, b, blen, 0, &ids);
            single++;
            self += n == 1 && ids[0] == id;
            free(ids);
        } else {
            multi++;
            multi_ok += round_trips(t, b, blen);
        }
    }
    CHECK(single > 700 && self == single, "%d of %d one-piece vocabulary strings encode to their own id", self, single);
    CHECK(multi_ok == multi, "%d of %d multi-piece vocabulary strings round-trip", multi_ok, multi);
    json_free(&doc);
    free(text);

    int *ids, n = encode(t, "Hi<|endoftext|>", 15, 1, &ids);
    CHECK(n >= 2 && ids[n - 1] == 0, "allow_special: <|endoftext|> -> 0");
    free(ids);
    n = encode(t, "<|endoftext|>", 13, 0, &ids);
    CHECK(n > 1, "without allow_special it is plain text");
    free(ids);
    const char *sample = "Self-Rewarding Language Models: the model judges its own responses.\n\nIt's 2024!";
    CHECK(round_trips(t, sample, strlen(sample)), "sample text round-trips");
    check_random_round_trips(t, "hf_tokenizer", 2000, 31);
    CHECK(tokenizer_bos_id(t) == -1, "no <|begin_of_text|> in this tokenizer");
    ChatMessage m = {"user", "hi"};
    unsigned char *mask;
    CHECK(chat_encode(t, &m, 1, 1, &ids, &mask, &n) == -1 && contains(srl_error, "<|begin_of_text|>"),
          "chat template needs Llama 3 special tokens: %s", srl_error);
    tokenizer_free(t);
    free(path);
}

int main(void) {
    (void)close_rel;        // check.h's float helpers are not needed here
    (void)max_rel_diff;
    test_pretokenizers();
    test_training();
    test_training_reference();
    test_bad_files();
    test_damaged_files();
    const char *fixtures = fixtures_dir();
    if (fixtures) {
        test_llama3(fixtures);
        test_hf_json(fixtures);
    } else {
        printf("skip: SRL_FIXTURES unset, not testing Meta's Llama 3 vectors and the Hugging Face tokenizer.json fixture\n");
    }
    return check_summary("test_tokenizer");
}
