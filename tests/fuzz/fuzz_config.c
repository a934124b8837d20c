// fuzz_config: model_load (model.h) on a model folder whose config.json is the input, beside
// the model.safetensors of a tiny valid model (written once per process).
//
// config.json decides every size srl allocates, so a hostile one must be refused before it
// costs anything: sizes out of range, heads that do not divide, products that overflow, a
// rope_scaling of the wrong shape, a vocabulary of four billion. It checks that model_load
// either fails with a message naming config.json or the folder, or loads a model whose config
// passes config_validate and whose every tensor matched the file (so only configs of the tiny
// model's shape can load). libFuzzer's -rss_limit_mb and -malloc_limit_mb catch
// a config that makes srl allocate before checking.
#include "fuzz.h"

static char *config_path;

static void setup(void) {
    if (config_path) return;
    fuzz_save_tiny_model(fuzz_scratch_dir());
    config_path = fuzz_scratch_path("config.json");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(config_path, data, size);
    Model m;
    if (model_load(&m, fuzz_scratch_dir()) < 0) {
        FUZZ_CHECK(strstr(srl_error, fuzz_scratch_dir()) != NULL, "the error names neither the file nor the folder: %s", srl_error);
        return;
    }
    FUZZ_CHECK(config_validate(&m.config) == 0, "a loaded config fails config_validate: %s", srl_error);
    // the file's tensors fix every shape: a config can differ only where the shapes do not show
    // (heads x head_dim, fewer layers than the file holds, a tied head, rope settings, ids)
    Config tiny;
    fuzz_tiny_config(&tiny);
    const Config *c = &m.config;
    FUZZ_CHECK(c->vocab_size == tiny.vocab_size && c->dim == tiny.dim && c->hidden_dim == tiny.hidden_dim &&
                   c->n_layers <= tiny.n_layers && c->n_heads * c->head_dim == tiny.n_heads * tiny.head_dim &&
                   c->n_kv_heads * c->head_dim == tiny.n_kv_heads * tiny.head_dim,
               "a config the file's shapes do not allow was loaded");
    model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
