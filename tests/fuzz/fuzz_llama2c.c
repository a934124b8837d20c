// fuzz_llama2c: model_load (model.h) on a llama2.c checkpoint (.bin) holding the input.
//
// llama2.c's legacy format is seven int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len) and then raw float32 weights whose sizes follow from them: nothing in
// the file can be checked except that its size is exactly what the header implies. So the
// header must be validated (positive sizes, heads that divide, products that do not overflow)
// and the size compared before anything is allocated or copied. It checks that model_load
// either fails with a message naming the file, or loads a model whose config passes
// config_validate and whose weights are exactly the file's bytes after the header.
#include "fuzz.h"

static char *path;   // the file the input is written to

static void setup(void) {
    if (!path) path = fuzz_scratch_path("model.bin");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(path, data, size);
    Model m;
    if (model_load(&m, path) < 0) {
        FUZZ_CHECK(strstr(srl_error, path) != NULL, "the error does not name the file: %s", srl_error);
        return;
    }
    FUZZ_CHECK(config_validate(&m.config) == 0, "a loaded config fails config_validate: %s", srl_error);
    FUZZ_CHECK(m.config.rope_interleaved == 1, "llama2.c checkpoints pair adjacent elements in RoPE");
    // the file holds the weights and the (unused) RoPE tables, seq_len x head_dim floats, nothing else
    size_t n_rope = (size_t)m.config.max_seq_len * (size_t)m.config.head_dim;
    FUZZ_CHECK(size == 28 + 4 * (m.n_params + n_rope), "%zu bytes loaded as %zu parameters", size, m.n_params);
    // the weights come first in the file, token embedding first
    size_t n_embedding = (size_t)m.config.vocab_size * (size_t)m.config.dim;
    FUZZ_CHECK(28 + 4 * n_embedding <= size && memcmp(m.params.token_embedding, data + 28, 4 * n_embedding) == 0,
               "the token embedding is not the file's first tensor");
    model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
