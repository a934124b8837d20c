// test_bf16.c: weights held as bf16 for inference (model_load_as, linear_forward_bf16).
//   1. each bf16 kernel against a float64 dot product on random shapes (tails included), at
//      the precision it states; bit-identical for 1 and 2 threads and alone or batched
//   2. the tiny bf16 model's logits against PyTorch's float64 forward of the same bf16 weights
//      (tests/ref: bf16.logits), with each kernel; mapped, copied (misaligned file) and rounded
//      (f32 file loaded as bf16) weights give the same bits
//   3. greedy generation: bf16 in memory against the same weights upcast to float32 (the tiny
//      model; with SRL_FIXTURES, stories260K converted to bf16)
//   4. memory: the accounting of Llama-3-8B's shape, and an 8B-shaped bf16 folder (a sparse
//      file: the header and no data) mapped without reading it, or refused with the numbers
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../model.h"
#include "../util.h"
#include "check.h"
#include "ref.h"

#define REF_DIR "tests/ref"

static const int kernels[2] = {BF16_KERNEL_PLAIN, BF16_KERNEL_AVX512};

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static void use_kernel(int k) {
    if (bf16_kernel_set(k) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// 1. the kernels against float64

// The bound each kernel states for |y - sum_i x_i w_i| (the sum in float64 of the float32 x,
// or of x rounded to bf16 for vdpbf16ps): float32 rounding along a lane of IN/16 additions,
// then the 4 levels of the tree, each at most 2^-24 of the sum of |terms|; doubled for margin.
static double accumulation_bound(int IN) { return 2.0 * (IN / 16.0 + 6.0) * ldexp(1.0, -24); }

static void test_kernels(void) {
    const int shapes[][3] = {{1, 48, 16}, {5, 100, 37}, {7, 173, 50}, {3, 1000, 9}, {9, 64, 130}};
    Rng rng;
    rng_seed(&rng, 5);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int N = shapes[s][0], IN = shapes[s][1], OUT = shapes[s][2];
        float *x = xmalloc((size_t)N * IN * sizeof(float));
        uint16_t *W = xmalloc((size_t)OUT * IN * sizeof(uint16_t));
        for (size_t i = 0; i < (size_t)N * IN; i++) x[i] = rng_normal(&rng);
        for (size_t i = 0; i < (size_t)OUT * IN; i++) W[i] = f32_to_bf16(0.1f * rng_normal(&rng));
        float *y = xmalloc((size_t)N * OUT * sizeof(float)), *y2 = xmalloc((size_t)N * OUT * sizeof(float));
        for (int ki = 0; ki < 2; ki++) {
            int k = kernels[ki];
            if (!bf16_kernel_available(k)) continue;
            use_kernel(k);
            set_threads(1);
            linear_forward_bf16(y, x, W, N, IN, OUT);
            double worst = 0, worst_exact_x = 0;
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OUT; o++) {
                    double ref = 0, ref_bx = 0, mag = 0;
                    for (int i = 0; i < IN; i++) {
                        double w = bf16_to_f32(W[(size_t)o * IN + i]), xv = x[(size_t)n * IN + i];
                        ref += xv * w;
                        ref_bx += (double)bf16_to_f32(f32_to_bf16((float)xv)) * w;
                        mag += fabs(xv * w);
                    }
                    double against = k == BF16_KERNEL_AVX512 ? ref_bx : ref;
                    double e = fabs(y[(size_t)n * OUT + o] - against) / mag;
                    double e_exact = fabs(y[(size_t)n * OUT + o] - ref) / mag;
                    if (e > worst) worst = e;
                    if (e_exact > worst_exact_x) worst_exact_x = e_exact;
                }
            CHECK(worst <= accumulation_bound(IN), "%s kernel, %dx%dx%d: error %.3g of sum|x w| exceeds its bound %.3g",
                  bf16_kernel_name(k), N, IN, OUT, worst, accumulation_bound(IN));
            // vdpbf16ps against the float32 x: the rounding of x to bf16, 2^-9 relative at most
            if (k == BF16_KERNEL_AVX512)
                CHECK(worst_exact_x <= ldexp(1.0, -9) + accumulation_bound(IN),
                      "%s kernel, %dx%dx%d: %.3g from the float32-x sum", bf16_kernel_name(k), N, IN, OUT, worst_exact_x);
            if (s == 2)
                printf("  %s kernel, %dx%dx%d: %.2e of sum|x w| from float64 (bound %.2e)%s\n", bf16_kernel_name(k), N,
                       IN, OUT, worst, accumulation_bound(IN), k == BF16_KERNEL_AVX512 ? " (x rounded to bf16)" : "");
            set_threads(2);
            linear_forward_bf16(y2, x, W, N, IN, OUT);
            CHECK(memcmp(y, y2, (size_t)N * OUT * sizeof(float)) == 0, "%s kernel: 1 and 2 threads give the same bits",
                  bf16_kernel_name(k));
            // each row alone equals its row in the batch
            int same = 1;
            for (int n = 0; n < N; n++) {
                linear_forward_bf16(y2, x + (size_t)n * IN, W, 1, IN, OUT);
                same &= memcmp(y2, y + (size_t)n * OUT, (size_t)OUT * sizeof(float)) == 0;
            }
            CHECK(same, "%s kernel, %dx%dx%d: a row alone gives the bits it gets in the batch", bf16_kernel_name(k), N, IN, OUT);
        }
        free(x), free(W), free(y), free(y2);
    }
    set_threads(2);
}

// ---------------------------------------------------------------------------------------------
// 2. the tiny bf16 model against PyTorch


static void load_as_or_die(Model *m, const char *path, int dtype) {
    if (model_load_as(m, path, dtype) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
}

// Logits (B*T, V) of B sequences of T tokens, each prefilled in its own cache slot.
static float *rows_logits(Model *m, const int *inputs, int B, int T) {
    KVCache cache;
    if (kv_cache_init(&cache, &m->config, B, T) < 0) fatal("%s", srl_error);
    int n = B * T;
    int *slots = xmalloc((size_t)n * sizeof(int)), *pos = xmalloc((size_t)n * sizeof(int));
    for (int r = 0; r < n; r++) slots[r] = r / T, pos[r] = r % T;
    float *logits = xmalloc((size_t)n * m->config.vocab_size * sizeof(float));
    model_forward_rows(m, &cache, n, inputs, slots, pos, NULL, logits);
    kv_cache_free(&cache);
    free(slots), free(pos);
    return logits;
}

// A copy of tests/ref/tiny_bf16 whose header is one byte longer: every tensor then starts at
// an odd address and cannot be read in place.
static char *misaligned_copy(const char *tmp) {
    char *text, *dir = path_join(tmp, "misaligned");
    size_t len, cfg_len;
    char *cfg;
    if (read_file(REF_DIR "/tiny_bf16/model.safetensors", &text, &len, 0) < 0 ||
        read_file(REF_DIR "/tiny_bf16/config.json", &cfg, &cfg_len, 0) < 0 || make_dirs(dir) < 0)
        fatal("%s", srl_error);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)text[i];
    char *out = xmalloc(len + 1);
    for (int i = 0; i < 8; i++) out[i] = (char)((n + 1) >> (8 * i));
    memcpy(out + 8, text + 8, n);
    out[8 + n] = ' ';
    memcpy(out + 9 + n, text + 8 + n, len - 8 - n);
    char *p = path_join(dir, "model.safetensors"), *c = path_join(dir, "config.json");
    if (write_file_atomic(p, out, len + 1) < 0 || write_file_atomic(c, cfg, cfg_len) < 0) fatal("%s", srl_error);
    free(p), free(c), free(out), free(text), free(cfg);
    return dir;
}

// 1 when the bf16 matrices of a and b hold the same bits.
static int same_matrices(const Model *a, const Model *b) {
    const Config *c = &a->config;
    size_t V = (size_t)c->vocab_size, C = (size_t)c->dim, F = (size_t)c->hidden_dim;
    size_t QD = (size_t)c->n_heads * c->head_dim, KVD = (size_t)c->n_kv_heads * c->head_dim;
    int same = memcmp(a->bf16.token_embedding, b->bf16.token_embedding, V * C * 2) == 0 &&
               memcmp(a->bf16.lm_head, b->bf16.lm_head, V * C * 2) == 0;
    for (int l = 0; l < c->n_layers; l++) {
        same &= memcmp(a->bf16.wq[l], b->bf16.wq[l], QD * C * 2) == 0 && memcmp(a->bf16.wk[l], b->bf16.wk[l], KVD * C * 2) == 0;
        same &= memcmp(a->bf16.wv[l], b->bf16.wv[l], KVD * C * 2) == 0 && memcmp(a->bf16.wo[l], b->bf16.wo[l], C * QD * 2) == 0;
        same &= memcmp(a->bf16.w_gate[l], b->bf16.w_gate[l], F * C * 2) == 0 && memcmp(a->bf16.w_up[l], b->bf16.w_up[l], F * C * 2) == 0;
        same &= memcmp(a->bf16.w_down[l], b->bf16.w_down[l], C * F * 2) == 0;
    }
    return same;
}

static void test_tiny_against_pytorch(const char *tmp) {
    size_t n, nv;
    float *inputs_f = ref_tensor("inputs", &n);
    int *inputs = xmalloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) inputs[i] = (int)inputs_f[i];
    float *ref = ref_tensor("bf16.logits", &nv);
    int B = 3, T = (int)n / 3;

    Model auto_f32, auto_bf16;
    load_as_or_die(&auto_f32, REF_DIR "/tiny", LOAD_AUTO);
    load_as_or_die(&auto_bf16, REF_DIR "/tiny_bf16", LOAD_AUTO);
    CHECK(!auto_f32.weights_bf16 && auto_bf16.weights_bf16, "auto: an F32 file stays float32, a BF16 file stays bf16");
    size_t matrices = model_param_count(&auto_bf16.config) - auto_bf16.n_params;
    CHECK(auto_bf16.bf16.n_mapped == matrices && auto_bf16.bf16.n_copied == 0,
          "every matrix of the bf16 file is read in place (%zu mapped, %zu copied, of %zu)", auto_bf16.bf16.n_mapped,
          auto_bf16.bf16.n_copied, matrices);
    model_free(&auto_f32);

    // the same weights mapped, copied from a misaligned file, and rounded from the f32 file
    Model copied, rounded;
    char *mis = misaligned_copy(tmp);
    load_as_or_die(&copied, mis, LOAD_AUTO);
    CHECK(copied.weights_bf16 && copied.bf16.n_copied == matrices && copied.bf16.n_mapped == 0,
          "a misaligned bf16 file is copied (%zu copied)", copied.bf16.n_copied);
    load_as_or_die(&rounded, REF_DIR "/tiny", LOAD_BF16);
    CHECK(rounded.weights_bf16 && rounded.bf16.n_copied == matrices, "an F32 file loaded as bf16 is rounded into memory");
    // (its norm weights stay float32, where the bf16 file has them rounded: only the matrices compare)
    CHECK(same_matrices(&rounded, &auto_bf16), "the F32 file's matrices rounded on load are the BF16 file's bits");

    // Tolerances, relative to the largest logit: the plain kernel keeps x in float32 and
    // differs from float64 by float32 rounding (as the f32 model, 1e-5); vdpbf16ps rounds every
    // activation entering a linear layer to bf16 (2^-9 relative each): measured 9.1e-3 here.
    const double tol[2] = {1e-5, 2e-2};
    for (int ki = 0; ki < 2; ki++) {
        int k = kernels[ki];
        if (!bf16_kernel_available(k)) {
            printf("  skip: the %s kernel does not run on this machine\n", bf16_kernel_name(k));
            continue;
        }
        use_kernel(k);
        float *mine = rows_logits(&auto_bf16, inputs, B, T);
        double d = max_rel_diff(mine, ref, nv, 1e-6);
        CHECK(d <= tol[ki], "%s kernel: bf16 logits differ from PyTorch's float64 by %.3g (tolerance %.0e)",
              bf16_kernel_name(k), d, tol[ki]);
        printf("  tiny bf16, %s kernel: logits within %.2e of PyTorch float64 (tolerance %.0e)\n", bf16_kernel_name(k), d, tol[ki]);
        float *from_copy = rows_logits(&copied, inputs, B, T);
        CHECK(memcmp(mine, from_copy, nv * sizeof(float)) == 0, "%s kernel: copied weights give the mapped ones' bits",
              bf16_kernel_name(k));
        set_threads(1);
        float *one = rows_logits(&auto_bf16, inputs, B, T);
        set_threads(2);
        CHECK(memcmp(mine, one, nv * sizeof(float)) == 0, "%s kernel: model logits the same for 1 and 2 threads",
              bf16_kernel_name(k));
        free(mine), free(from_copy), free(one);
    }
    model_free(&auto_bf16), model_free(&copied), model_free(&rounded);
    free(mis), free(inputs_f), free(inputs), free(ref);
}

// ---------------------------------------------------------------------------------------------
// 3. greedy generation: bf16 in memory against the same weights upcast to float32

// The index of the first token where a and b differ (n when none).
static int first_difference(const int *a, const int *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return i;
    return n;
}

static int *greedy(Model *m, const int *prompt, int plen, int n_new) {
    const int *prompts[1] = {prompt};
    int *out[1], out_len[1];
    GenerateConfig g = {.max_new_tokens = n_new, .temperature = 0.0f, .max_batch = 1};
    if (model_generate(m, 1, prompts, &plen, NULL, &g, out, out_len, NULL) < 0) fatal("%s", srl_error);
    int *ids = xcalloc((size_t)n_new, sizeof(int));
    memcpy(ids, out[0], (size_t)out_len[0] * sizeof(int));
    free(out[0]);
    return ids;
}

// min_same[k]: the tokens kernel k must agree on with the float32 model. Measured: the plain
// kernel, whose only difference is the order of float32 sums, agrees on all of them; vdpbf16ps,
// which rounds activations to bf16, on all 60 of the tiny model's and 185 of stories260K's 200
// (then a near tie goes the other way).
static void compare_greedy(const char *dir, const char *what, const int *prompt, int plen, int n_new, const int min_same[2]) {
    Model f32, bf16;
    load_as_or_die(&f32, dir, LOAD_F32);
    load_as_or_die(&bf16, dir, LOAD_BF16);
    int *want = greedy(&f32, prompt, plen, n_new);
    for (int ki = 0; ki < 2; ki++) {
        int k = kernels[ki];
        if (!bf16_kernel_available(k)) continue;
        use_kernel(k);
        int *got = greedy(&bf16, prompt, plen, n_new);
        int same = first_difference(want, got, n_new);
        CHECK(same >= min_same[ki], "%s, %s kernel: greedy output differs from the float32 upcast at token %d (expected >= %d)",
              what, bf16_kernel_name(k), same, min_same[ki]);
        printf("  %s, %s kernel: greedy %d tokens, the first %d equal to the float32 upcast's\n", what,
               bf16_kernel_name(k), n_new, same);
        free(got);
    }
    free(want);
    model_free(&f32), model_free(&bf16);
}

static void test_greedy(const char *tmp) {
    int prompt[4] = {1, 5, 9, 13};
    compare_greedy(REF_DIR "/tiny_bf16", "tiny bf16", prompt, 4, 60, (const int[2]){60, 60});
    const char *fx = fixtures_dir();
    if (!fx) {
        printf("  skip: SRL_FIXTURES unset, not testing stories260K in bf16\n");
        return;
    }
    char *bin = path_join(fx, "stories260K/stories260K.bin"), *dir = path_join(tmp, "stories_bf16");
    Model m;
    load_as_or_die(&m, bin, LOAD_F32);
    CHECK(model_save(&m, dir, 1) == 0, "stories260K converted to bf16: %s", srl_error);
    model_free(&m);
    int bos = 1;
    compare_greedy(dir, "stories260K bf16", &bos, 1, 200, (const int[2]){200, 150});
    free(bin), free(dir);
}

// ---------------------------------------------------------------------------------------------
// 4. memory

static Config llama3_8b(void) {
    Config c = {.vocab_size = 128256, .dim = 4096, .hidden_dim = 14336, .n_layers = 32, .n_heads = 32,
                .n_kv_heads = 8, .head_dim = 128, .max_seq_len = 8192, .norm_eps = 1e-5f, .rope_theta = 500000.0f,
                .bos_token_id = 128000, .n_eos = 1, .eos_token_ids = {128001}};
    return c;
}

// An 8B-shaped bf16 folder: config.json, and model.safetensors with the full header and the
// data left as a hole (a sparse file: no disk, no memory, zeros when read).
static char *sparse_8b_folder(const char *tmp, const Config *c) {
    char *dir = path_join(tmp, "llama3_8b_shape");
    if (make_dirs(dir) < 0) fatal("%s", srl_error);
    char *cfg = path_join(dir, "config.json");
    if (config_save_json(c, cfg, "bfloat16") < 0) fatal("%s", srl_error);
    const char *fmt[] = {"model.layers.%d.input_layernorm.weight", "model.layers.%d.self_attn.q_proj.weight",
                         "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight",
                         "model.layers.%d.self_attn.o_proj.weight", "model.layers.%d.post_attention_layernorm.weight",
                         "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight",
                         "model.layers.%d.mlp.down_proj.weight"};
    long long C = c->dim, F = c->hidden_dim, QD = (long long)c->n_heads * c->head_dim, KVD = (long long)c->n_kv_heads * c->head_dim;
    long long shapes[9][2] = {{C, 0}, {QD, C}, {KVD, C}, {KVD, C}, {C, QD}, {C, 0}, {F, C}, {F, C}, {C, F}};
    Buf h = {0};
    long long off = 0;
    buf_printf(&h, "{\"model.embed_tokens.weight\":{\"dtype\":\"BF16\",\"shape\":[%d,%lld],\"data_offsets\":[0,%lld]}",
               c->vocab_size, C, 2LL * c->vocab_size * C);
    off = 2LL * c->vocab_size * C;
    for (int l = 0; l < c->n_layers; l++)
        for (int t = 0; t < 9; t++) {
            char name[128];
            snprintf(name, sizeof name, fmt[t], l);
            long long numel = shapes[t][0] * (shapes[t][1] ? shapes[t][1] : 1);
            if (shapes[t][1])
                buf_printf(&h, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld,%lld],\"data_offsets\":[%lld,%lld]}", name,
                           shapes[t][0], shapes[t][1], off, off + 2 * numel);
            else
                buf_printf(&h, ",\"%s\":{\"dtype\":\"BF16\",\"shape\":[%lld],\"data_offsets\":[%lld,%lld]}", name,
                           shapes[t][0], off, off + 2 * numel);
            off += 2 * numel;
        }
    buf_printf(&h, ",\"model.norm.weight\":{\"dtype\":\"BF16\",\"shape\":[%lld],\"data_offsets\":[%lld,%lld]}", C, off, off + 2 * C);
    off += 2 * C;
    buf_printf(&h, ",\"lm_head.weight\":{\"dtype\":\"BF16\",\"shape\":[%d,%lld],\"data_offsets\":[%lld,%lld]}}",
               c->vocab_size, C, off, off + 2LL * c->vocab_size * C);
    off += 2LL * c->vocab_size * C;
    while (h.len % 8) buf_append_char(&h, ' ');
    char *path = path_join(dir, "model.safetensors");
    FILE *f = fopen(path, "wb");
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    int ok = f && fwrite(len8, 1, 8, f) == 8 && fwrite(h.data, 1, h.len, f) == h.len;
    if (f) fclose(f);
    if (!ok || truncate(path, (off_t)(8 + h.len + off)) != 0) fatal("%s: cannot write the sparse file", path);
    buf_free(&h), free(cfg), free(path);
    return dir;
}

static long rss_kib(void) {  // current resident set, from /proc/self/statm
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_memory(const char *tmp) {
    Config c = llama3_8b();
    // Llama-3-8B: 8,030,261,248 parameters, of which the norms are 2 L C + C = 266,240
    size_t n = model_param_count(&c), norms = 2 * 32 * 4096 + 4096;
    CHECK(n == 8030261248u, "Llama-3-8B has 8030261248 parameters (%zu)", n);
    size_t bf16 = model_bytes_weights(&c, 1), f32 = model_bytes_weights(&c, 0);
    CHECK(bf16 == 2 * (n - norms) + 4 * norms, "bf16 weights: 2 bytes a matrix weight, 4 a norm weight (%zu)", bf16);
    CHECK(f32 == 4 * n, "f32 weights: 4 bytes each (%zu)", f32);
    // generating one 4096-token sequence: the weights plus a KV cache of L x 4096 x 2 x KV*D floats (1 GiB)
    size_t gen = model_bytes_generate(&c, 1, 4096, 1);
    CHECK(gen - bf16 >= (1u << 30) && gen < (size_t)18 << 30, "8B bf16 generation needs %.2f GiB (< 18)", gen / 1073741824.0);
    // as float32, generation also packs a copy of every linear layer and the head (not the embedding)
    size_t gen32 = model_bytes_generate(&c, 1, 4096, 0), packed = 4 * (n - norms - (size_t)c.vocab_size * c.dim);
    CHECK(gen32 - gen == (f32 - bf16) + packed, "f32 generation counts the packed copy (%zu more than bf16)", gen32 - gen);
    printf("  Llama-3-8B: weights %.2f GiB as bf16 (%.2f as float32); generating 1 x 4096 needs %.2f GiB (%.2f as float32)\n",
           bf16 / 1073741824.0, f32 / 1073741824.0, gen / 1073741824.0, gen32 / 1073741824.0);

    char *dir = sparse_8b_folder(tmp, &c);
    size_t avail = memory_available();
    Model m;
    long before = rss_kib();
    int rc = model_load_as(&m, dir, LOAD_AUTO);
    long grew = rss_kib() - before;
    if (avail >= bf16) {
        CHECK(rc == 0, "the 8B-shaped bf16 folder loads (%s)", rc ? srl_error : "");
        if (rc == 0) {
            CHECK(m.weights_bf16 && m.bf16.n_mapped == n - norms && m.bf16.n_copied == 0,
                  "every 8B matrix is mapped in place (%zu mapped, %zu copied)", m.bf16.n_mapped, m.bf16.n_copied);
            CHECK(grew < 64 * 1024, "loading maps the 15 GiB without reading it: resident memory grew %ld KiB", grew);
            printf("  8B-shaped bf16 folder loaded, mapped in place: resident memory grew by %ld KiB\n", grew);
            model_free(&m);
        }
    } else {
        CHECK(rc < 0 && strstr(srl_error, "held as bf16") && strstr(srl_error, "needs 14.96 GiB"),
              "too little memory for 8B in bf16: refused with the numbers (%s)", srl_error);
        printf("  8B-shaped bf16 folder refused (%.2f GiB available): %s\n", avail / 1073741824.0, srl_error);
    }
    // as float32 it needs 29.92 GiB: refused before any allocation where that is more than
    // this machine has (a machine with that much would load it: not tried)
    if (avail && avail < f32) {
        rc = model_load_as(&m, dir, LOAD_F32);
        CHECK(rc < 0 && strstr(srl_error, "needs 29.92 GiB"), "8B as float32 is refused with the numbers (%s)", srl_error);
        printf("  as float32: %s\n", srl_error);
    }
    free(dir);
}

int main(void) {
    if (safetensors_open(&expected, REF_DIR "/expected.safetensors") < 0) {
        fprintf(stderr, "FAIL: %s (run from the project folder)\n", srl_error);
        return 1;
    }
    char tmp[] = "/tmp/srl_bf16_XXXXXX";
    if (!mkdtemp(tmp)) fatal("mkdtemp failed");
    printf("  bf16 kernels here: plain C%s (default: %s)\n",
           bf16_kernel_available(BF16_KERNEL_AVX512) ? ", avx512-bf16" : " only", bf16_kernel_name(bf16_kernel_get()));
#ifndef _OPENMP
    printf("  skip: built without OpenMP, the kernels' and the model's 1- and 2-thread results not compared\n");
#endif
    test_kernels();
    test_tiny_against_pytorch(tmp);
    test_greedy(tmp);
    test_memory(tmp);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmp);
    safetensors_close(&expected);
    return check_summary("test_bf16");
}
