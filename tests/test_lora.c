// test_lora.c: LoRA adapters (model.c) against things we did not write.
//   1. the PyTorch reference (tests/ref/lora_expected.safetensors, made by make_reference.py):
//      W x + (alpha / r) B A x on every linear layer of a GQA model and a plain multi-head one:
//      logits, loss, every adapter gradient, and the adapters after 3 clipped AdamW steps; the
//      base gets no gradient and does not move
//   2. a bf16 base: the same adapters on the bf16-rounded weights (the backward through the
//      frozen bf16 matrices), with each bf16 kernel at the precision it states
//   3. generation: the KV-cache forward of an adapted model equals its training forward
//   4. PEFT's format: tensor names and shapes checked by hand; the reference's PEFT folders
//      (written by Python) read; a round trip identical; a merged model's logits equal base +
//      adapter's within float rounding; hostile adapter files refused with the file named
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model.h"
#include "../util.h"
#include "check.h"
#include "ref.h"

#define REF_DIR "tests/ref"

static JsonDoc settings;
static char *settings_text;

static double setting(const char *key) {
    double v = 0;
    if (json_get_number(settings.root, key, &v) < 0) {
        fprintf(stderr, "FAIL: settings.json has no %s\n", key);
        exit(1);
    }
    return v;
}

static void load_as_or_die(Model *m, const char *path, int dtype) {
    if (model_load_as(m, path, dtype) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
}

// One adapter tensor of the model beside the reference's tensor of the same PEFT name. The
// walk over every adapter tensor is written once, here: tensor i of n_adapter_tensors, layer by
// layer, target by target, A before B.
typedef struct {
    char name[160];       // the PEFT name
    float *mine;          // (rows, cols) the model's tensor, inside the LoRAParams walked
    float *ref;           // (numel) the reference's "<prefix><name>", to free
    size_t rows, cols, numel;
} AdapterPair;

static int n_adapter_tensors(const Model *m) { return m->config.n_layers * N_LORA_TARGETS * 2; }

static AdapterPair adapter_pair(const Model *m, const LoRAParams *p, const char *prefix, int i) {
    AdapterPair a;
    int which = i % 2, t = i / 2 % N_LORA_TARGETS, l = i / (2 * N_LORA_TARGETS);
    lora_tensor_name(a.name, sizeof a.name, t, which, l);
    char ref_name[200];
    snprintf(ref_name, sizeof ref_name, "%s%s", prefix, a.name);
    a.mine = lora_tensor(m, p, t, which, l, &a.rows, &a.cols);
    a.ref = ref_tensor(ref_name, &a.numel);
    return a;
}

// Attaches adapters with the reference's r and alpha on all seven targets, holding the
// reference's initial values "<case>.init.<PEFT name>".
static void attach_reference_adapters(Model *m, const char *ref_case) {
    float *r = ref_tensor("r", NULL), *alpha = ref_tensor("alpha", NULL);
    LoRAConfig lc = {(int)r[0], alpha[0], (1u << N_LORA_TARGETS) - 1};
    free(r), free(alpha);
    if (model_lora_init(m, &lc, 1) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.init.", ref_case);
    for (int i = 0; i < n_adapter_tensors(m); i++) {
        AdapterPair a = adapter_pair(m, &m->lora_params, prefix, i);
        CHECK(a.numel == a.rows * a.cols, "%s%s: %zu values, the model's tensor %zu x %zu", prefix, a.name, a.numel, a.rows,
              a.cols);
        if (a.numel == a.rows * a.cols) memcpy(a.mine, a.ref, a.numel * sizeof(float));
        free(a.ref);
    }
}

// Every adapter tensor of p against the reference's "<prefix><PEFT name>"; returns the worst
// relative difference.
static double compare_adapters(const Model *m, const LoRAParams *p, const char *prefix, double tol, const char *what) {
    double worst = 0;
    int n = n_adapter_tensors(m);
    for (int i = 0; i < n; i++) {
        AdapterPair a = adapter_pair(m, p, prefix, i);
        int fits = a.mine && a.numel == a.rows * a.cols;
        CHECK(fits, "%s: %s has %zu values", what, a.name, a.numel);
        if (fits) {
            double d = max_rel_diff(a.mine, a.ref, a.numel, 1e-6);
            CHECK(d <= tol, "%s: %s differs from PyTorch by %.3g (relative to its largest value)", what, a.name, d);
            if (d > worst) worst = d;
        }
        free(a.ref);
    }
    printf("  %s: %d tensors, worst relative difference %.2e\n", what, n, worst);
    return worst;
}

// Forward with the reference batch; returns the loss, d_logprob (n) filled.
static float reference_forward(Model *m, const int *inputs, const int *targets, const float *weights, int n, float *d_logprob) {
    model_forward(m, inputs, targets, 3, n / 3);
    return model_weighted_nll(m, weights, d_logprob);
}

// 1. logits, loss, adapter gradients, 3 AdamW steps
static void test_reference_case(const char *ref_case, const char *base_dir) {
    char name[128];
    Model m;
    load_as_or_die(&m, base_dir, LOAD_F32);
    float *base_before = xmalloc(m.n_params * sizeof(float));
    memcpy(base_before, m.params_memory, m.n_params * sizeof(float));
    attach_reference_adapters(&m, ref_case);
    size_t n, nv;
    int *inputs = ref_ints("inputs", &n), *targets = ref_ints("targets", NULL);
    float *weights = ref_tensor("weights", NULL), *d_logprob = xmalloc(n * sizeof(float));
    snprintf(name, sizeof name, "%s.logits", ref_case);
    float *logits = ref_tensor(name, &nv);
    snprintf(name, sizeof name, "%s.loss", ref_case);
    float *loss = ref_tensor(name, NULL);
    float my_loss = reference_forward(&m, inputs, targets, weights, (int)n, d_logprob);
    double d = max_rel_diff(m.acts.logits, logits, nv, 1e-6);
    CHECK(d <= 1e-5, "%s: logits differ from PyTorch by %.3g relative", ref_case, d);
    CHECK(close_rel(my_loss, loss[0], 1e-5, 1e-6), "%s: loss %.8f, PyTorch %.8f", ref_case, my_loss, loss[0]);
    printf("  %s: logits within %.2e, loss %.7f vs %.7f\n", ref_case, d, my_loss, loss[0]);
    model_zero_grad(&m);
    model_backward(&m, d_logprob);
    CHECK(m.grads_memory == NULL, "%s: the frozen base has no gradient memory", ref_case);
    snprintf(name, sizeof name, "%s.grad.", ref_case);
    compare_adapters(&m, &m.lora_grads, name, 1e-4, "adapter gradients");

    // 3 AdamW steps, clipped at the reference's max_norm
    AdamWConfig cfg = {(float)setting("beta1"), (float)setting("beta2"), (float)setting("eps"), (float)setting("weight_decay")};
    LRSchedule sched = {(float)setting("lr_max"), (float)setting("min_lr"), (int)setting("warmup_steps"),
                        (int)setting("total_steps"), 0};
    int steps = (int)setting("adamw_steps");
    snprintf(name, sizeof name, "%s.max_norm", ref_case);
    float *max_norm = ref_tensor(name, NULL);
    snprintf(name, sizeof name, "%s.adamw.loss", ref_case);
    float *ref_losses = ref_tensor(name, NULL);
    snprintf(name, sizeof name, "%s.adamw.grad_norm", ref_case);
    float *ref_norms = ref_tensor(name, NULL);
    for (int step = 0; step < steps; step++) {
        float l = reference_forward(&m, inputs, targets, weights, (int)n, d_logprob);
        model_zero_grad(&m);
        model_backward(&m, d_logprob);
        float norm = model_clip_grads(&m, max_norm[0]);
        model_adamw_step(&m, &cfg, lr_at_step(&sched, step));
        CHECK(close_rel(l, ref_losses[step], 1e-5, 1e-6), "%s step %d: loss %.7f, PyTorch %.7f", ref_case, step, l, ref_losses[step]);
        CHECK(close_rel(norm, ref_norms[step], 1e-5, 1e-6), "%s step %d: grad norm %.7f, PyTorch %.7f", ref_case, step, norm,
              ref_norms[step]);
    }
    snprintf(name, sizeof name, "%s.adamw.", ref_case);
    compare_adapters(&m, &m.lora_params, name, 1e-4, "adapters after 3 AdamW steps");
    CHECK(memcmp(base_before, m.params_memory, m.n_params * sizeof(float)) == 0, "%s: the base did not move", ref_case);
    free(inputs), free(targets), free(weights), free(d_logprob), free(logits), free(loss), free(max_norm), free(ref_losses),
        free(ref_norms), free(base_before);
    model_free(&m);
}

// 2. a bf16 base: logits and adapter gradients through the frozen bf16 weights, with each kernel
static void test_bf16_base(void) {
    size_t n, nv;
    int *inputs = ref_ints("inputs", &n), *targets = ref_ints("targets", NULL);
    float *weights = ref_tensor("weights", NULL), *d_logprob = xmalloc(n * sizeof(float));
    float *logits = ref_tensor("bf16.logits", &nv), *loss = ref_tensor("bf16.loss", NULL);
    int kernels[2] = {BF16_KERNEL_PLAIN, BF16_KERNEL_AVX512};
    for (int ki = 0; ki < 2; ki++) {
        if (bf16_kernel_set(kernels[ki]) < 0) {
            printf("  skip: the %s kernel does not run here\n", bf16_kernel_name(kernels[ki]));
            continue;
        }
        // the plain kernel keeps x in float32 (the reference's precision); vdpbf16ps rounds x to
        // bf16 first, about 2^-9 relative per product
        double tol_logits = ki == 0 ? 1e-5 : 2e-2, tol_grads = ki == 0 ? 1e-4 : 5e-2;
        Model m;
        load_as_or_die(&m, REF_DIR "/tiny_bf16", LOAD_BF16);
        CHECK(m.weights_bf16, "tiny_bf16 held as bf16");
        attach_reference_adapters(&m, "gqa");
        float my_loss = reference_forward(&m, inputs, targets, weights, (int)n, d_logprob);
        double d = max_rel_diff(m.acts.logits, logits, nv, 1e-6);
        CHECK(d <= tol_logits, "bf16 base (%s): logits differ from PyTorch by %.3g", bf16_kernel_name(kernels[ki]), d);
        CHECK(close_rel(my_loss, loss[0], tol_logits, 1e-6), "bf16 base: loss %.7f, PyTorch %.7f", my_loss, loss[0]);
        model_zero_grad(&m);
        model_backward(&m, d_logprob);
        char what[96];
        snprintf(what, sizeof what, "bf16 base, %s kernel: logits within %.2e; adapter gradients", bf16_kernel_name(kernels[ki]), d);
        compare_adapters(&m, &m.lora_grads, "bf16.grad.", tol_grads, what);
        model_free(&m);
    }
    bf16_kernel_set(BF16_KERNEL_PLAIN);
    free(inputs), free(targets), free(weights), free(d_logprob), free(logits), free(loss);
}

// 3. the KV-cache forward of an adapted model gives the training forward's logits, bit for bit
static void test_cache_matches_training(void) {
    Model m;
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    attach_reference_adapters(&m, "gqa");
    size_t n;
    int *inputs = ref_ints("inputs", &n);
    int T = (int)n / 3, V = m.config.vocab_size;
    model_forward(&m, inputs, NULL, 3, T);
    KVCache cache;
    if (kv_cache_init(&cache, &m.config, 1, T) < 0) exit(1);
    int *slots = xcalloc((size_t)T, sizeof(int)), *pos = xmalloc((size_t)T * sizeof(int));
    for (int t = 0; t < T; t++) pos[t] = t;
    float *logits = xmalloc((size_t)T * V * sizeof(float));
    int row = 1;
    model_forward_rows(&m, &cache, T, inputs + row * T, slots, pos, NULL, logits);
    CHECK(memcmp(logits, m.acts.logits + (size_t)row * T * V, (size_t)T * V * sizeof(float)) == 0,
          "adapted model: the cache forward's logits equal the training forward's");
    printf("  adapted model: KV-cache forward equals the training forward (%d positions)\n", T);
    kv_cache_free(&cache);
    free(slots), free(pos), free(logits), free(inputs);
    model_free(&m);
}

// 4. PEFT's format: the tensor names by hand, the reference's PEFT folders (written by
// make_reference.py), a round trip, a merge, and hostile adapter files
static void test_peft_names(void) {
    Model m;
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    LoRAConfig lc = {4, 8, (1u << N_LORA_TARGETS) - 1};
    if (model_lora_init(&m, &lc, 1) < 0) exit(1);
    // written out by hand from peft's naming (PeftModel wraps LlamaForCausalLM as base_model.model)
    // and shapes (lora_A: Linear(in, r), lora_B: Linear(r, out)) for C 48, H*D 64, KV*D 32, F 80
    static const struct {
        int t, which, layer;
        const char *name;
        size_t rows, cols;
    } table[] = {
        {LORA_Q, 0, 0, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", 4, 48},
        {LORA_Q, 1, 0, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", 64, 4},
        {LORA_K, 1, 1, "base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight", 32, 4},
        {LORA_V, 0, 1, "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", 4, 48},
        {LORA_O, 0, 0, "base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight", 4, 64},
        {LORA_O, 1, 1, "base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight", 48, 4},
        {LORA_GATE, 1, 0, "base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight", 80, 4},
        {LORA_UP, 0, 1, "base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", 4, 48},
        {LORA_DOWN, 0, 0, "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight", 4, 80},
        {LORA_DOWN, 1, 1, "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", 48, 4},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char name[160];
        size_t rows, cols;
        lora_tensor_name(name, sizeof name, table[i].t, table[i].which, table[i].layer);
        lora_tensor(&m, &m.lora_params, table[i].t, table[i].which, table[i].layer, &rows, &cols);
        CHECK(strcmp(name, table[i].name) == 0, "PEFT name %s, expected %s", name, table[i].name);
        CHECK(rows == table[i].rows && cols == table[i].cols, "%s: shape [%zu, %zu], PEFT's [%zu, %zu]", name, rows, cols,
              table[i].rows, table[i].cols);
    }
    printf("  PEFT tensor names and shapes: %zu checked by hand\n", sizeof table / sizeof table[0]);
    model_free(&m);
}

// The reference's PEFT folders load as written by Python (their names and shapes are PEFT's),
// alone and as a model path naming its base.
static void test_peft_reference_folders(void) {
    const char *cases[2][3] = {{"gqa", REF_DIR "/tiny", REF_DIR "/lora_gqa"}, {"mha", REF_DIR "/tiny_mha", REF_DIR "/lora_mha"}};
    for (int c = 0; c < 2; c++) {
        Model m, via_path;
        load_as_or_die(&m, cases[c][1], LOAD_F32);
        CHECK(model_lora_load(&m, cases[c][2]) == 0, "%s loads: %s", cases[c][2], srl_error);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%s.init.", cases[c][0]);
        compare_adapters(&m, &m.lora_params, prefix, 0, "adapters read from the reference's PEFT folder");
        CHECK(m.lora_config.r == 4 && m.lora_config.alpha == 8.0f && m.lora_config.targets == (1u << N_LORA_TARGETS) - 1,
              "%s: r %d alpha %g", cases[c][2], m.lora_config.r, (double)m.lora_config.alpha);
        load_as_or_die(&via_path, cases[c][2], LOAD_F32);
        CHECK(via_path.lora && memcmp(via_path.lora_memory, m.lora_memory, m.n_lora * sizeof(float)) == 0 &&
                  memcmp(via_path.params_memory, m.params_memory, m.n_params * sizeof(float)) == 0,
              "%s as a model path: its base (base_model_name_or_path) with the adapter", cases[c][2]);
        model_free(&m), model_free(&via_path);
    }
}

static char *tmp_dir(void) {
    char templ[] = "/tmp/srl_lora_XXXXXX";
    if (!mkdtemp(templ)) exit(1);
    return xstrdup(templ);
}

// Round trip: saved and read back, identical; the merged model's logits equal base + adapter's.
static void test_peft_round_trip_and_merge(void) {
    Model m, back;
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    LoRAConfig lc = {3, 5, 1u << LORA_Q | 1u << LORA_V | 1u << LORA_DOWN};
    if (model_lora_init(&m, &lc, 7) < 0) exit(1);
    for (size_t i = 0; i < m.n_lora; i++) m.lora_memory[i] = (float)sin(1.0 + i) * 0.2f;  // B nonzero too
    char *dir = tmp_dir(), *sub = path_join(dir, "adapter");
    CHECK(lora_save(&m, sub, "tests/ref/tiny") == 0, "lora_save: %s", srl_error);
    char *cpath = path_join(sub, "adapter_config.json"), *text;
    size_t len;
    JsonDoc doc;
    if (read_file(cpath, &text, &len, 0) < 0 || json_parse(&doc, text, len) < 0) exit(1);
    const JsonValue *tm = json_get(doc.root, "target_modules");
    double r = 0, alpha = 0;
    json_get_number(doc.root, "r", &r), json_get_number(doc.root, "lora_alpha", &alpha);
    const char *type = json_get_string(doc.root, "peft_type"), *task = json_get_string(doc.root, "task_type");
    CHECK(type && strcmp(type, "LORA") == 0 && task && strcmp(task, "CAUSAL_LM") == 0 && r == 3 && alpha == 5,
          "adapter_config.json: peft_type LORA, task_type CAUSAL_LM, r 3, lora_alpha 5");
    CHECK(tm && tm->count == 3 && strcmp(json_index(tm, 0)->string, "down_proj") == 0 &&
              strcmp(json_index(tm, 1)->string, "q_proj") == 0 && strcmp(json_index(tm, 2)->string, "v_proj") == 0,
          "adapter_config.json: target_modules [down_proj, q_proj, v_proj]");
    json_free(&doc), free(text);
    load_as_or_die(&back, REF_DIR "/tiny", LOAD_F32);
    CHECK(model_lora_load(&back, sub) == 0, "read back: %s", srl_error);
    CHECK(back.lora && back.n_lora == m.n_lora && memcmp(back.lora_memory, m.lora_memory, m.n_lora * sizeof(float)) == 0 &&
              back.lora_config.targets == lc.targets && back.lora_config.r == 3 && back.lora_config.alpha == 5.0f,
          "the adapters read back are identical");
    // merged: W + (alpha / r) B A, against base + adapter
    size_t n;
    int *inputs = ref_ints("inputs", &n);
    int T = (int)n / 3;
    size_t nv = (size_t)n * m.config.vocab_size;
    model_forward(&m, inputs, NULL, 3, T);
    float *adapted = xmalloc(nv * sizeof(float));
    memcpy(adapted, m.acts.logits, nv * sizeof(float));
    Model base;
    load_as_or_die(&base, REF_DIR "/tiny", LOAD_F32);
    model_forward(&base, inputs, NULL, 3, T);
    double apart = max_rel_diff(base.acts.logits, adapted, nv, 1e-6);
    CHECK(model_lora_merge(&back) == 0 && !back.lora, "merged and detached");
    model_forward(&back, inputs, NULL, 3, T);
    double d = max_rel_diff(back.acts.logits, adapted, nv, 1e-6);
    CHECK(d < 1e-5 && apart > 1e-2, "merged logits within %.2e of base + adapter (which differ from the base's by %.3f)", d, apart);
    printf("  round trip identical; merged logits within %.2e of base + adapter (the base's differ by %.3f)\n", d, apart);
    free(inputs), free(adapted), free(cpath), free(sub), free(dir);
    model_free(&m), model_free(&back), model_free(&base);
}

// An adapter made with lc_saved, its config replaced by one made with lc_claimed: loading it
// must fail with srl_error naming `file` and containing `what`.
static void hostile_case(const char *dir, const LoRAConfig *lc_saved, const LoRAConfig *lc_claimed, const char *config_text,
                         const char *file, const char *what) {
    Model m;
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    model_lora_init(&m, lc_saved, 1);
    lora_save(&m, dir, "tests/ref/tiny");
    char *cpath = path_join(dir, "adapter_config.json");
    if (lc_claimed) {
        Model c;
        load_as_or_die(&c, REF_DIR "/tiny", LOAD_F32);
        char *other = path_join(dir, "claimed");
        model_lora_init(&c, lc_claimed, 1);
        lora_save(&c, other, "tests/ref/tiny");
        char *from = path_join(other, "adapter_config.json"), *text;
        size_t len;
        if (read_file(from, &text, &len, 0) < 0 || write_file_atomic(cpath, text, len) < 0) exit(1);
        free(text), free(from), free(other);
        model_free(&c);
    }
    if (config_text && write_file_atomic(cpath, config_text, strlen(config_text)) < 0) exit(1);
    model_free(&m);
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    int rc = model_lora_load(&m, dir);
    CHECK(rc < 0 && strstr(srl_error, file) && strstr(srl_error, what) && !m.lora,
          "hostile adapter (%s): refused naming %s (got: %s)", what, file, rc < 0 ? srl_error : "loaded");
    model_free(&m);
    free(cpath);
}

static void test_peft_hostile(void) {
    char *dir = tmp_dir(), *sub = path_join(dir, "a");
    unsigned all = (1u << N_LORA_TARGETS) - 1;
    LoRAConfig r4 = {4, 8, all}, r2 = {2, 8, all}, q_only = {4, 8, 1u << LORA_Q};
    hostile_case(sub, &r2, &r4, NULL, "adapter_model.safetensors", "shape");
    hostile_case(sub, &q_only, &r4, NULL, "adapter_model.safetensors", "k_proj.lora_A.weight is missing");
    hostile_case(sub, &r4, &q_only, NULL, "adapter_model.safetensors", "holds 28 tensors");
    hostile_case(sub, &r4, NULL, "{\"peft_type\": \"IA3\", \"r\": 4}", "adapter_config.json", "LORA");
    hostile_case(sub, &r4, NULL, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"], \"use_dora\": true}",
                 "adapter_config.json", "use_dora");
    hostile_case(sub, &r4, NULL, "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"lm_head\"]}",
                 "adapter_config.json", "lm_head");
    hostile_case(sub, &r4, NULL, "{\"peft_type\": \"LORA\", \"r\": 1e12, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}",
                 "adapter_config.json", "r is not");
    hostile_case(sub, &r4, NULL, "{\"peft_type\": \"LORA\", \"r\": 4, ", "adapter_config.json", "");
    // a truncated tensor file
    Model m;
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    model_lora_init(&m, &r4, 1);
    lora_save(&m, sub, "tests/ref/tiny");
    model_free(&m);
    char *tpath = path_join(sub, "adapter_model.safetensors");
    if (truncate(tpath, 1000) != 0) exit(1);
    load_as_or_die(&m, REF_DIR "/tiny", LOAD_F32);
    CHECK(model_lora_load(&m, sub) < 0 && strstr(srl_error, "adapter_model.safetensors") && !m.lora,
          "a truncated adapter_model.safetensors is refused, named (%s)", srl_error);
    model_free(&m);
    printf("  hostile adapters: wrong shapes, a missing tensor, extra tensors, bad configs, a truncated file: refused, named\n");
    free(tpath), free(sub), free(dir);
}

int main(void) {
    size_t len;
    if (read_file(REF_DIR "/settings.json", &settings_text, &len, 0) < 0 || json_parse(&settings, settings_text, len) < 0 ||
        safetensors_open(&expected, REF_DIR "/lora_expected.safetensors") < 0) {
        fprintf(stderr, "FAIL: %s (run from the project folder)\n", srl_error);
        return 1;
    }
    test_reference_case("gqa", REF_DIR "/tiny");
    test_reference_case("mha", REF_DIR "/tiny_mha");
    test_bf16_base();
    test_cache_matches_training();
    test_peft_names();
    test_peft_reference_folders();
    test_peft_round_trip_and_merge();
    test_peft_hostile();
    safetensors_close(&expected);
    json_free(&settings);
    free(settings_text);
    return check_summary("test_lora");
}
