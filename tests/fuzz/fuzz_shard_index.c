// fuzz_shard_index: model_load (model.h) on a model folder whose model.safetensors.index.json
// is the input.
//
// Big checkpoints come in shards, and the index says which shard holds which tensor. The index
// names files, so it is where a hostile checkpoint would try "../../etc/passwd" or a thousand
// copies of one shard. The folder holds, besides the index, the config.json of a tiny model
// and two shard files that both hold all of its tensors (the index may map each tensor to
// either), written once per process. It checks that model_load either fails with a message
// or loads a model of exactly the tiny config, and that nothing leaks or overruns either way.
#include "fuzz.h"

static char *index_path;

static void setup(void) {
    if (index_path) return;
    fuzz_save_tiny_model(fuzz_scratch_dir());
    char *single = fuzz_scratch_path("model.safetensors");
    char *shards[2] = {fuzz_scratch_path("model-00001-of-00002.safetensors"),
                       fuzz_scratch_path("model-00002-of-00002.safetensors")};
    for (int i = 0; i < 2; i++) fuzz_copy_file(single, shards[i]);
    unlink(single);   // else the loader reads it and never looks at the index
    free(single);
    free(shards[0]);
    free(shards[1]);
    index_path = fuzz_scratch_path("model.safetensors.index.json");
}

static void check_input(const uint8_t *data, size_t size) {
    fuzz_write_file(index_path, data, size);
    Model m;
    if (model_load(&m, fuzz_scratch_dir()) < 0) {
        FUZZ_CHECK(srl_error[0], "model_load failed without a message");
        return;
    }
    Config want;
    fuzz_tiny_config(&want);
    FUZZ_CHECK(m.config.vocab_size == want.vocab_size && m.config.dim == want.dim && m.config.n_layers == want.n_layers,
               "a model of another shape was loaded");
    FUZZ_CHECK(m.params_memory && m.n_params > 0, "a loaded model without weights");
    model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
