// fuzz_tokenizer_json: tokenizer_load_json (tokenizer.h) on a tokenizer.json holding the input.
//
// A Hugging Face tokenizer.json comes with every downloaded model. Its vocabulary, merges and
// added tokens become hash tables and per-id arrays, so ids must be checked (dense, in range, no
// duplicates) before they size an allocation or index one. When a file loads, the tokenizer
// must keep tokenizer.h's promises on fixed texts (fuzz.h: fuzz_check_tokenizer): encoding fails
// only for a byte with no token, decode(encode(x)) == x (up to the spaces ByteLevel
// add_prefix_space puts in), the streaming decoder agrees, both merge paths agree, and a saved
// copy loads back and encodes the same.
#include "fuzz.h"

static char *path, *saved_path;   // the input, and the tokenizer saved again

static void setup(void) {
    if (path) return;
    path = fuzz_scratch_path("tokenizer.json");
    saved_path = fuzz_scratch_path("saved.json");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(path, data, size);
    Tokenizer *t;
    if (tokenizer_load_json(&t, path) < 0) {
        FUZZ_CHECK(t == NULL && strstr(srl_error, path) != NULL, "the error does not name the file: %s", srl_error);
        return;
    }
    fuzz_check_tokenizer(t, saved_path);
    tokenizer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
