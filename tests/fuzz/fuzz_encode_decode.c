// fuzz_encode_decode: tokenizer_encode and tokenizer_decode (tokenizer.h) on the input as text.
//
// tokenizer.h promises decode(encode(x)) == x for every byte string x, invalid UTF-8 and NUL
// bytes included: a model's prompts, responses and judgments go through the tokenizer and must
// come back byte for byte. The tokenizers, made once per process:
//   - one srl trains (tokenizer_train, vocabulary 400, on a fixed text with letters, digits,
//     punctuation, non-Latin scripts and white space, and the default special tokens);
//   - with SRL_FIXTURES set, the real Llama 3 tokenizer ($SRL_FIXTURES/llama3/tokenizer.model),
//     whose 128,000 tokens and whole-piece rule reach much more of the encoder.
// For each, with and without allow_special (fuzz.h: fuzz_check_round_trip): the ids are tokens,
// special only when allowed; decode gives the input back exactly; the streaming decoder gives
// the same bytes; and the heap-based merge of long pieces gives the same ids as the simple one.
#include "fuzz.h"

static const char training_text[] =
    "The quick brown fox jumps over the lazy dog. It's 2024, and we'll see 12345 more!\n"
    "Don't stop: I'M here, you're there; they've gone. 3.14159 + 2.71828 = 5.85987\n"
    "    indented line\twith a tab\r\n\n\n"
    "caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c "
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xf0\x9f\x98\x80\xf0\x9f\x98\x81 \xd9\xa3\xd9\xa4\xd9\xa5\n"
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nList 3 animals.<|eot_id|>\n"
    "the the the and and and of of of to to to in in in is is is that that that\n";

static Tokenizer *tokenizers[2];
static int n_tokenizers;

static void setup(void) {
    if (n_tokenizers) return;
    if (tokenizer_train(&tokenizers[0], training_text, sizeof training_text - 1, 400, NULL, 0) < 0) {
        fprintf(stderr, "srl fuzz: tokenizer_train failed: %s\n", srl_error);
        abort();
    }
    n_tokenizers = 1;
    const char *fixtures = getenv("SRL_FIXTURES");
    if (fixtures && *fixtures) {
        char *path = path_join(fixtures, "llama3/tokenizer.model");
        if (tokenizer_load_tiktoken(&tokenizers[1], path) < 0) {
            fprintf(stderr, "srl fuzz: %s\n", srl_error);
            abort();
        }
        n_tokenizers = 2;
        free(path);
    }
}

static void check_input(const uint8_t *data, size_t size) {
    for (int i = 0; i < n_tokenizers; i++) {
        for (int allow_special = 0; allow_special < 2; allow_special++) {
            int n;
            int *ids = fuzz_check_round_trip(tokenizers[i], (const char *)data, size, allow_special, 0, &n);
            FUZZ_CHECK(ids, "a tokenizer with all 256 bytes failed to encode: %s", srl_error);
            free(ids);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
