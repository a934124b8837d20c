// bench_model.c: the speed of srl's model on the configs and modes of ../shared/bench (the
// PyTorch peer), with random weights, printed as one JSON line with the peer's keys.
//
//   bench_model --config tiny|small|smollm135 --mode train|dpo|generate [--steps N] [--warmup N]
//
//   train     forward + cross-entropy + backward + AdamW; tokens/s = B*T per step
//   dpo       a DPO step on B pairs: policy forward+backward on 2B sequences (the reference
//             log-probs computed before, outside the timing), AdamW; pairs/s
//   generate  batch 1, greedy, KV cache: a 32-token prompt, then 127 single-token steps;
//             decode tokens/s
// Medians over the timed steps. FLOPs per token = 6 * matmul params + 12 * layers * T * dim
// (the peer's formula). peak_rss_mib is this process's peak resident memory.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dpo.h"
#include "../model.h"
#include "../util.h"

typedef struct {
    const char *name;
    int vocab, dim, layers, heads, kv_heads, hidden, seq, batch;
} BenchConfig;

static const BenchConfig configs[] = {
    {"tiny", 512, 128, 4, 4, 4, 384, 128, 8},
    {"small", 4096, 512, 8, 8, 4, 1408, 256, 4},
    {"smollm135", 49152, 576, 30, 9, 3, 1536, 256, 2},
};

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, compare_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv) {
    const char *config_name = "tiny", *mode = "train";
    int steps = 10, warmup = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--config") == 0) config_name = argv[i + 1];
        else if (strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
        else if (strcmp(argv[i], "--steps") == 0) steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--warmup") == 0) warmup = atoi(argv[i + 1]);
        else fatal("bench_model: unknown option %s", argv[i]);
    }
    if (steps < 1) steps = 1;
    const BenchConfig *bc = NULL;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        if (strcmp(configs[i].name, config_name) == 0) bc = &configs[i];
    if (!bc) fatal("bench_model: unknown config %s (tiny, small, smollm135)", config_name);
    Config c = {0};
    c.vocab_size = bc->vocab, c.dim = bc->dim, c.hidden_dim = bc->hidden, c.n_layers = bc->layers;
    c.n_heads = bc->heads, c.n_kv_heads = bc->kv_heads, c.head_dim = bc->dim / bc->heads;
    c.max_seq_len = 2048, c.norm_eps = 1e-5f, c.rope_theta = 10000.0f, c.bos_token_id = -1;
    Model m;
    model_init_random(&m, &c, 1);
    size_t sizes[N_PARAM_TENSORS];
    param_sizes(&c, sizes);
    double matmul_params = 0;
    for (int t = 0; t < N_PARAM_TENSORS; t++)
        if (param_tensor_decays[t] && t != 0) matmul_params += (double)sizes[t];  // the linear layers
    if (c.tied_embeddings) matmul_params += (double)sizes[0];
    int B = bc->batch, T = bc->seq;
    double flops_per_token = 6 * matmul_params + 12.0 * c.n_layers * T * c.dim;
    Rng rng;
    rng_seed(&rng, 2);
    double *times = xmalloc((size_t)(steps + warmup) * sizeof(double));
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, 0.1f};
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    char result[512];

    if (strcmp(mode, "train") == 0 || strcmp(mode, "dpo") == 0) {
        int dpo = strcmp(mode, "dpo") == 0;
        int rows = dpo ? 2 * B : B, N = rows * T;
        int *inputs = xmalloc((size_t)N * sizeof(int)), *targets = xmalloc((size_t)N * sizeof(int));
        float *weights = xmalloc((size_t)N * sizeof(float)), *d_logprob = xmalloc((size_t)N * sizeof(float));
        float *mask = xmalloc((size_t)N * sizeof(float));
        for (int i = 0; i < N; i++) inputs[i] = rng_int(&rng, c.vocab_size), targets[i] = rng_int(&rng, c.vocab_size);
        for (int i = 0; i < N; i++) weights[i] = 1.0f / N, mask[i] = (i % T) >= T / 2 - 1;
        double ref[64], lp[64], d_lp[64];
        int n_chosen[32];
        if (dpo) {  // the reference log-probs, once, before timing (as the peer does)
            model_forward(&m, inputs, targets, rows, T);
            model_sequence_logprobs(&m, mask, ref);
            for (int p = 0; p < B; p++) n_chosen[p] = T - (T / 2 - 1);
        }
        for (int s = 0; s < warmup + steps; s++) {
            double t0 = now_seconds();
            model_forward(&m, inputs, targets, rows, T);
            if (dpo) {
                model_sequence_logprobs(&m, mask, lp);
                dpo_loss(lp, ref, n_chosen, B, 0.1f, 0.0f, d_lp, NULL);
                for (int i = 0; i < N; i++) d_logprob[i] = mask[i] != 0 ? (float)d_lp[i / T] : 0.0f;
            } else {
                model_weighted_nll(&m, weights, d_logprob);
            }
            model_zero_grad(&m);
            model_backward(&m, d_logprob);
            model_adamw_step(&m, &adam, 1e-4f);
            times[s] = now_seconds() - t0;
        }
        double med = median(times + warmup, steps);
        double tok_s = N / med;
        if (dpo)
            snprintf(result, sizeof result, "\"pairs_per_s\": %.4g, \"tokens_per_s\": %.1f, \"step_s\": %.4f, \"gflops_per_s\": %.1f",
                     B / med, tok_s, med, flops_per_token * N / med / 1e9);
        else
            snprintf(result, sizeof result, "\"tokens_per_s\": %.1f, \"step_s\": %.4f, \"gflops_per_s\": %.1f", tok_s, med,
                     flops_per_token * N / med / 1e9);
        free(inputs), free(targets), free(weights), free(d_logprob), free(mask);
    } else if (strcmp(mode, "generate") == 0) {
        int prompt_len = 32, new_tokens = 128;
        int prompt[32];
        for (int i = 0; i < prompt_len; i++) prompt[i] = rng_int(&rng, c.vocab_size);
        KVCache cache;
        if (kv_cache_init(&cache, &c, 1, prompt_len + new_tokens) < 0) fatal("%s", srl_error);
        model_pack_weights(&m);  // as model_generate does
        float *logits = xmalloc((size_t)prompt_len * c.vocab_size * sizeof(float));
        int slots[32] = {0}, pos[32];
        for (int i = 0; i < prompt_len; i++) pos[i] = i;
        double *decode_times = xmalloc((size_t)(steps + warmup) * sizeof(double));
        for (int s = 0; s < warmup + steps; s++) {
            double t0 = now_seconds();
            unsigned char want[32] = {0};
            want[prompt_len - 1] = 1;
            model_forward_rows(&m, &cache, prompt_len, prompt, slots, pos, want, logits);
            double t1 = now_seconds();
            int token = 0;
            for (int step = 0; step < new_tokens - 1; step++) {
                int best = 0;
                for (int v = 1; v < c.vocab_size; v++)
                    if (logits[v] > logits[best]) best = v;
                token = best;
                int p = prompt_len + step, slot = 0;
                model_forward_rows(&m, &cache, 1, &token, &slot, &p, NULL, logits);
            }
            times[s] = t1 - t0;
            decode_times[s] = now_seconds() - t1;
        }
        double decode = median(decode_times + warmup, steps);
        snprintf(result, sizeof result, "\"decode_tokens_per_s\": %.1f, \"prefill_s\": %.4f, \"gflops_per_s\": %.1f",
                 (new_tokens - 1) / decode, median(times + warmup, steps),
                 2 * matmul_params * (new_tokens - 1) / decode / 1e9);
        kv_cache_free(&cache);
        free(logits), free(decode_times);
    } else {
        fatal("bench_model: unknown mode %s (train, dpo, generate)", mode);
    }
    printf("{\"bench\": \"srl\", \"config\": \"%s\", \"mode\": \"%s\", %s, \"peak_rss_mib\": %.0f, \"threads\": %d, "
           "\"params\": %zu, \"steps\": %d}\n",
           bc->name, mode, result, peak_rss_mib(), threads, m.n_params, steps);
    free(times);
    model_free(&m);
    return 0;
}
