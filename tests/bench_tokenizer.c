// bench_tokenizer.c: how fast the tokenizer loads, encodes, decodes and trains, one thread.
// Prints one JSON line per measurement:
//   {"bench":"tokenizer","what":"llama3_load","seconds":...}
//   {"bench":"tokenizer","what":"llama3_encode","mb_per_s":...,"bytes":...,"tokens":...}
// The Llama 3 measurements need the fixtures folder from SRL_FIXTURES (a skip line otherwise);
// training and encoding with the trained tokenizer need nothing.
// Build: cc -O2 -o bench_tokenizer tests/bench_tokenizer.c tokenizer.c util.c -lm
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer.h"
#include "../util.h"

// A few MB of English-like text, the same on every run: words from a list, capitalized after a
// full stop, with made-up words, commas, numbers, quotes, contractions, paragraphs and some
// non-ASCII words.
static char *make_text(size_t target, size_t *len) {
    static const char *words[] = {
        "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he",
        "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were", "their", "one",
        "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "model",
        "language", "training", "reward", "preference", "instruction", "following", "response", "judge", "iteration",
        "self-rewarding", "evaluation", "tokenizer", "example", "different", "however", "because", "through", "between",
        "important", "information", "question", "answer", "people", "government", "development", "understanding",
        "don't", "it's", "we're", "they'll", "I'm", "café", "naïve", "Zürich", "São", "Paulo", "résumé", "日本", "данные",
    };
    static const char *syllables[] = {
        "ka", "ri", "to", "men", "str", "al", "on", "ve", "qui", "ps", "lo", "nth", "ex", "ar", "ion", "ble", "cy", "dre", "um", "gh",
    };
    int n_words = (int)(sizeof words / sizeof words[0]), n_syllables = (int)(sizeof syllables / sizeof syllables[0]);
    Rng rng;
    rng_seed(&rng, 42);
    Buf b = {0};
    int capital = 1;
    while (b.len < target) {
        const char *w = words[rng_int(&rng, n_words)];
        int r = rng_int(&rng, 100);
        if (r < 3) buf_printf(&b, "%d", rng_int(&rng, 100000));
        else if (r < 23) {     // a made-up word of 1 to 4 syllables, so the vocabulary is not tiny
            for (int k = rng_int(&rng, 4); k >= 0; k--) buf_append_str(&b, syllables[rng_int(&rng, n_syllables)]);
        }
        else if (capital && w[0] >= 'a' && w[0] <= 'z') {
            buf_append_char(&b, (char)(w[0] - 32));
            buf_append_str(&b, w + 1);
        } else buf_append_str(&b, w);
        capital = 0;
        r = rng_int(&rng, 100);
        if (r < 6) buf_append_str(&b, ", ");
        else if (r < 12) {
            buf_append_str(&b, rng_int(&rng, 8) == 0 ? ".\n\n" : ". ");
            capital = 1;
        } else if (r < 13) buf_append_str(&b, " \"quoted\" ");
        else if (r < 14) buf_append_str(&b, " (see 3.2) ");
        else buf_append_char(&b, ' ');
    }
    *len = b.len;
    return b.data;
}

// Encodes the text (repeated until at least min_seconds passed) and prints the throughput.
static void bench_encode(const Tokenizer *t, const char *what, const char *text, size_t len) {
    int *ids = NULL, n = 0, runs = 0;
    double start = now_seconds(), elapsed;
    do {
        free(ids);
        if (tokenizer_encode(t, text, len, 0, &ids, &n) < 0) fatal("%s", srl_error);
        runs++;
        elapsed = now_seconds() - start;
    } while (elapsed < 1.0);
    printf("{\"bench\":\"tokenizer\",\"what\":\"%s_encode\",\"mb_per_s\":%.2f,\"bytes\":%zu,\"tokens\":%d,\"bytes_per_token\":%.3f}\n",
           what, (double)len * runs / elapsed / 1e6, len, n, (double)len / n);
    char *back;
    size_t back_len;
    runs = 0;
    start = now_seconds();
    do {
        if (tokenizer_decode(t, ids, n, &back, &back_len) < 0) fatal("%s", srl_error);
        if (back_len != len || memcmp(back, text, len) != 0) fatal("%s: decode(encode(text)) != text", what);
        free(back);
        runs++;
        elapsed = now_seconds() - start;
    } while (elapsed < 0.5);
    printf("{\"bench\":\"tokenizer\",\"what\":\"%s_decode\",\"mb_per_s\":%.2f}\n", what, (double)len * runs / elapsed / 1e6);
    free(ids);
    fflush(stdout);
}

int main(void) {
    size_t len;
    char *text = make_text(4u << 20, &len);
    const char *fixtures = getenv("SRL_FIXTURES");
    if (fixtures && *fixtures) {
        char *path = path_join(fixtures, "llama3/tokenizer.model");
        Tokenizer *t;
        double start = now_seconds();
        if (tokenizer_load(&t, path) < 0) fatal("%s", srl_error);
        printf("{\"bench\":\"tokenizer\",\"what\":\"llama3_load\",\"seconds\":%.4f}\n", now_seconds() - start);
        bench_encode(t, "llama3", text, len);
        tokenizer_free(t);
        free(path);
    } else {
        printf("{\"bench\":\"tokenizer\",\"skip\":\"SRL_FIXTURES unset, not measuring Llama 3 load and encode\"}\n");
    }

    Tokenizer *trained;
    double start = now_seconds();
    if (tokenizer_train(&trained, text, len, 4096, NULL, 0) < 0) fatal("%s", srl_error);
    printf("{\"bench\":\"tokenizer\",\"what\":\"train\",\"seconds\":%.3f,\"bytes\":%zu,\"vocab_size\":%d}\n", now_seconds() - start, len,
           tokenizer_vocab_size(trained));
    bench_encode(trained, "trained4096", text, len);
    tokenizer_free(trained);
    free(text);
    return 0;
}
