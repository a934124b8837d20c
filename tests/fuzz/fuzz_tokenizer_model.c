// fuzz_tokenizer_model: tokenizer_load_tiktoken (tokenizer.h) on a tiktoken file (Llama 3's
// tokenizer.model format: one "base64(token bytes) rank" per line) holding the input.
//
// Ranks are ids, so they must be checked (in range, each once) before they index the per-id
// arrays; base64 must be decoded strictly; lines may end in \r\n or not at all. When a file
// loads, the tokenizer must keep tokenizer.h's promises on fixed texts (fuzz.h:
// fuzz_check_tokenizer): encoding fails only for a byte with no token, decode(encode(x)) == x,
// the streaming decoder agrees, both merge paths agree, and a saved tokenizer.json loads back
// and encodes the same.
#include "fuzz.h"

static char *path, *saved_path;   // the input, and the tokenizer saved again

static void setup(void) {
    if (path) return;
    path = fuzz_scratch_path("tokenizer.model");
    saved_path = fuzz_scratch_path("saved.json");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(path, data, size);
    Tokenizer *t;
    if (tokenizer_load_tiktoken(&t, path) < 0) {
        FUZZ_CHECK(t == NULL && strstr(srl_error, path) != NULL, "the error does not name the file: %s", srl_error);
        return;
    }
    FUZZ_CHECK(tokenizer_bos_id(t) >= 0 && tokenizer_eot_id(t) >= 0, "a tiktoken tokenizer without Llama 3's special tokens");
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
