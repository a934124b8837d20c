// test_model.c: the Llama core against things we did not write.
//   1. the PyTorch reference (tests/ref, made by tests/make_reference.py): logits, loss,
//      summed log-probs, every gradient, gradient clipping, 3 AdamW steps clipped and unclipped,
//      the tied head, bf16 and sharded files, an F16 file with plain multi-head attention and
//      a hidden size past the matmul kernel's 256-wide block, a llama2.c file with interleaved
//      RoPE (and that file saved as a Hugging Face folder); the training glue (dpo.c: one step of train_lm
//      and train_dpo, whole and in micro-batches) against the reference's gradients
//   2. finite differences of an independent double-precision forward written here
//   3. generation: the KV-cache forward equals the training forward bit for bit; sampling
//      (temperature, top-p) against the exact distribution, by a chi-square test
//   4. determinism: 20 training steps give identical weights for 1 and 2 threads
//   5. the real stories260K checkpoint (SRL_FIXTURES): greedy output, and again after
//      conversion to a Hugging Face folder
// Bad checkpoint files are in test_checkpoint_errors.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../dpo.h"
#include "../model.h"
#include "../util.h"
#include "check.h"
#include "ref.h"

#define REF_DIR "tests/ref"

static double settings_number(const JsonValue *root, const char *key) {
    double v = 0;
    if (json_get_number(root, key, &v) < 0) {
        fprintf(stderr, "FAIL: settings.json has no %s\n", key);
        exit(1);
    }
    return v;
}

static void load_or_die(Model *m, const char *path) {
    if (model_load(m, path) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
}

// Compares every gradient (or weight) tensor of the model with the reference tensors named
// prefix + name, plus w2 times those named prefix2 + name when prefix2 is not NULL (gradients are
// linear in the loss: the gradient of a sum of two reference losses).
static void compare_tensor_sum(const Model *m, const Params *p, const char *prefix, const char *prefix2, double w2, double tol,
                               const char *what) {
    int n = model_tensor_count(m);
    double worst = 0;
    char worst_name[128] = "";
    for (int i = 0; i < n; i++) {
        char name[128], ref_name[160];
        model_tensor_name(m, i, name, sizeof name);
        snprintf(ref_name, sizeof ref_name, "%s%s", prefix, name);
        size_t numel, ref_numel, numel2;
        float *mine = model_tensor_by_name(m, p, name, &numel);
        float *ref = ref_tensor(ref_name, &ref_numel);
        if (prefix2) {
            snprintf(ref_name, sizeof ref_name, "%s%s", prefix2, name);
            float *ref2 = ref_tensor(ref_name, &numel2);
            CHECK(numel2 == ref_numel, "%s: %s%s has %zu values, %s%s %zu", what, prefix, name, ref_numel, prefix2, name, numel2);
            for (size_t j = 0; j < ref_numel && j < numel2; j++) ref[j] = (float)((double)ref[j] + w2 * ref2[j]);
            free(ref2);
        }
        CHECK(mine && numel == ref_numel, "%s: %s has %zu values, reference %zu", what, name, numel, ref_numel);
        if (mine && numel == ref_numel) {
            double d = max_rel_diff(mine, ref, numel, 1e-6);
            CHECK(d <= tol, "%s: %s differs from the reference by %.3g (relative to its largest value)", what, name, d);
            if (d > worst) worst = d, snprintf(worst_name, sizeof worst_name, "%s", name);
        }
        free(ref);
    }
    printf("  %s: %d tensors, worst relative difference %.2e (%s)\n", what, n, worst, worst_name);
}

static void compare_tensors(const Model *m, const Params *p, const char *prefix, double tol, const char *what) {
    compare_tensor_sum(m, p, prefix, NULL, 0, tol, what);
}

// ---------------------------------------------------------------------------------------------
// 1. the PyTorch reference

static void test_reference_forward_backward(void) {
    Model m;
    load_or_die(&m, REF_DIR "/tiny");
    size_t n, nv;
    int *inputs = ref_ints("inputs", &n), *targets = ref_ints("targets", NULL);
    float *weights = ref_tensor("weights", NULL), *mask = ref_tensor("mask", NULL);
    float *logits = ref_tensor("logits", &nv), *loss = ref_tensor("loss", NULL), *seq = ref_tensor("seq_logprob", NULL);
    int B = 3, T = (int)n / 3;
    model_forward(&m, inputs, targets, B, T);
    double d = max_rel_diff(m.acts.logits, logits, nv, 1e-6);
    CHECK(d <= 1e-5, "logits differ from PyTorch by %.3g relative", d);
    float *d_logprob = xmalloc(n * sizeof(float));
    float my_loss = model_weighted_nll(&m, weights, d_logprob);
    CHECK(close_rel(my_loss, loss[0], 1e-5, 1e-6), "loss %.8f, PyTorch %.8f", my_loss, loss[0]);
    double my_seq[3];
    model_sequence_logprobs(&m, mask, my_seq);
    for (int b = 0; b < B; b++)
        CHECK(close_rel(my_seq[b], seq[b], 1e-5, 1e-6), "summed log-prob of row %d: %.8f, PyTorch %.8f", b, my_seq[b], seq[b]);
    printf("  forward: logits within %.2e, loss %.7f vs %.7f\n", d, my_loss, loss[0]);
    model_zero_grad(&m);
    model_backward(&m, d_logprob);
    compare_tensors(&m, &m.grads, "grad.", 1e-4, "gradients");
    free(inputs), free(targets), free(weights), free(mask), free(logits), free(loss), free(seq), free(d_logprob);
    model_free(&m);
}

static JsonDoc settings;
static char *settings_text;

static void settings_open(void) {
    size_t len;
    if (read_file(REF_DIR "/settings.json", &settings_text, &len, 0) < 0 || json_parse(&settings, settings_text, len) < 0) {
        fprintf(stderr, "FAIL: settings.json: %s\n", srl_error);
        exit(1);
    }
}

// AdamW steps on the main batch against the reference's: clipped at settings' max_norm_key
// (prefix "adamw.": every step clipped) or not (prefix "adamw_unclipped.": no step clipped;
// with every step clipped, a clip coefficient off by a constant factor would pass, since AdamW
// is invariant to a constant rescale of its gradients).
static void test_reference_adamw(const char *prefix, const char *max_norm_key) {
    const JsonValue *s = settings.root;
    AdamWConfig cfg = {(float)settings_number(s, "beta1"), (float)settings_number(s, "beta2"),
                       (float)settings_number(s, "eps"), (float)settings_number(s, "weight_decay")};
    LRSchedule sched = {(float)settings_number(s, "lr_max"), (float)settings_number(s, "min_lr"),
                        (int)settings_number(s, "warmup_steps"), (int)settings_number(s, "total_steps"), 0};
    float max_norm = (float)settings_number(s, max_norm_key);
    int steps = (int)settings_number(s, "adamw_steps");
    Model m;
    load_or_die(&m, REF_DIR "/tiny");
    size_t n;
    char name[64];
    int *inputs = ref_ints("inputs", &n), *targets = ref_ints("targets", NULL);
    float *weights = ref_tensor("weights", NULL);
    snprintf(name, sizeof name, "%sloss", prefix);
    float *ref_loss = ref_tensor(name, NULL);
    snprintf(name, sizeof name, "%sgrad_norm", prefix);
    float *ref_norm = ref_tensor(name, NULL);
    float *ref_lr = ref_tensor("adamw.lr", NULL);
    float *d_logprob = xmalloc(n * sizeof(float));
    int clipped = 0;
    for (int step = 0; step < steps; step++) {
        model_forward(&m, inputs, targets, 3, (int)n / 3);
        float loss = model_weighted_nll(&m, weights, d_logprob);
        model_zero_grad(&m);
        model_backward(&m, d_logprob);
        float norm = model_clip_grads(&m, max_norm);
        clipped += norm > max_norm;
        float lr = lr_at_step(&sched, step);
        model_adamw_step(&m, &cfg, lr);
        CHECK(close_rel(loss, ref_loss[step], 1e-5, 1e-6), "%s step %d: loss %.7f, PyTorch %.7f", prefix, step, loss, ref_loss[step]);
        CHECK(close_rel(norm, ref_norm[step], 1e-5, 1e-6), "%s step %d: grad norm %.7f, PyTorch %.7f", prefix, step, norm,
              ref_norm[step]);
        CHECK(close_rel(lr, ref_lr[step], 1e-6, 1e-9), "step %d: lr %.8f, PyTorch %.8f", step, lr, ref_lr[step]);
    }
    int unclipped = strcmp(prefix, "adamw_unclipped.") == 0;
    CHECK(clipped == (unclipped ? 0 : steps), "%s: %d of %d steps clipped", prefix, clipped, steps);
    char what[96];
    snprintf(what, sizeof what, "weights after %d AdamW steps, %s", steps, unclipped ? "unclipped" : "clipped");
    compare_tensors(&m, &m.params, prefix, 1e-4, what);
    free(inputs), free(targets), free(weights), free(ref_loss), free(ref_norm), free(ref_lr), free(d_logprob);
    model_free(&m);
}

// Gradient clipping against torch.nn.utils.clip_grad_norm_ on the main gradients: the norm, the
// clipped gradients themselves, and the coefficient (srl's clipped over srl's unclipped
// gradients, so the gradients' own float32 error drops out); above the norm, nothing changes.
static void test_reference_clipping(void) {
    float max_norm = (float)settings_number(settings.root, "clip_max_norm");
    float unclipped_max_norm = (float)settings_number(settings.root, "unclipped_max_norm");
    Model m;
    load_or_die(&m, REF_DIR "/tiny");
    size_t n;
    int *inputs = ref_ints("inputs", &n), *targets = ref_ints("targets", NULL);
    float *weights = ref_tensor("weights", NULL), *ref_norm = ref_tensor("clip.grad_norm", NULL);
    float *ref_coef = ref_tensor("clip.coef", NULL), *d_logprob = xmalloc(n * sizeof(float));
    model_forward(&m, inputs, targets, 3, (int)n / 3);
    model_weighted_nll(&m, weights, d_logprob);
    model_zero_grad(&m);
    model_backward(&m, d_logprob);
    float *raw = xmalloc(m.n_params * sizeof(float));
    memcpy(raw, m.grads_memory, m.n_params * sizeof(float));
    float norm = model_clip_grads(&m, unclipped_max_norm);
    CHECK(close_rel(norm, ref_norm[0], 1e-5, 1e-6), "gradient norm %.7f, clip_grad_norm_ %.7f", norm, ref_norm[0]);
    CHECK(memcmp(raw, m.grads_memory, m.n_params * sizeof(float)) == 0,
          "clipping at max_norm %g above the norm %g leaves the gradients bit for bit", unclipped_max_norm, norm);
    norm = model_clip_grads(&m, max_norm);
    double dot = 0, sq = 0;
    for (size_t i = 0; i < m.n_params; i++) dot += (double)m.grads_memory[i] * raw[i], sq += (double)raw[i] * raw[i];
    double coef = dot / sq;
    CHECK(close_rel(coef, ref_coef[0], 1e-6, 1e-9), "clip coefficient %.9f, clip_grad_norm_'s %.9f", coef, ref_coef[0]);
    compare_tensors(&m, &m.grads, "clip.grad.", 1e-5, "clipped gradients");
    printf("  clipping: norm %.6f (PyTorch %.6f), coefficient %.8f (PyTorch %.8f)\n", norm, ref_norm[0], coef, ref_coef[0]);
    free(inputs), free(targets), free(weights), free(ref_norm), free(ref_coef), free(d_logprob), free(raw);
    model_free(&m);
}

static void test_reference_dpo(void) {
    Model m;
    load_or_die(&m, REF_DIR "/tiny");
    size_t n;
    int *inputs = ref_ints("dpo.inputs", &n), *targets = ref_ints("dpo.targets", NULL);
    float *mask = ref_tensor("dpo.mask", NULL), *ref_lp = ref_tensor("dpo.ref_logprob", NULL);
    float *lp_expected = ref_tensor("dpo.logprob", NULL), *loss1 = ref_tensor("dpo.loss", NULL);
    float *loss0 = ref_tensor("dpo.loss_alpha0", NULL), *margin = ref_tensor("dpo.margin", NULL);
    int rows = 4, P = 2, T = (int)n / rows;
    model_forward(&m, inputs, targets, rows, T);
    double lp[4], ref[4], d_lp[4];
    model_sequence_logprobs(&m, mask, lp);
    for (int i = 0; i < rows; i++) {
        ref[i] = ref_lp[i];
        CHECK(close_rel(lp[i], lp_expected[i], 1e-5, 1e-6), "DPO row %d log-prob %.7f, PyTorch %.7f", i, lp[i], lp_expected[i]);
    }
    int n_chosen[2] = {0, 0};
    for (int p = 0; p < P; p++)
        for (int t = 0; t < T; t++) n_chosen[p] += mask[p * T + t] != 0;
    DPOStats st;
    double l0 = dpo_loss(lp, ref, n_chosen, P, 0.1f, 0.0f, NULL, &st);
    CHECK(close_rel(l0, loss0[0], 1e-5, 1e-6), "DPO loss (alpha 0) %.7f, PyTorch %.7f", l0, loss0[0]);
    CHECK(close_rel(st.margin_sum / P, (margin[0] + margin[1]) / 2, 1e-5, 1e-6), "mean margin %.7f vs %.7f",
          st.margin_sum / P, (margin[0] + margin[1]) / 2);
    double l1 = dpo_loss(lp, ref, n_chosen, P, 0.1f, 1.0f, d_lp, &st);
    CHECK(close_rel(l1, loss1[0], 1e-5, 1e-6), "DPO+NLL loss %.7f, PyTorch %.7f", l1, loss1[0]);
    float *d_logprob = xmalloc(n * sizeof(float));
    for (int i = 0; i < rows; i++)
        for (int t = 0; t < T; t++) d_logprob[i * T + t] = mask[i * T + t] != 0 ? (float)d_lp[i] : 0.0f;
    model_zero_grad(&m);
    model_backward(&m, d_logprob);
    compare_tensors(&m, &m.grads, "dpo.grad.", 1e-4, "DPO gradients");
    free(inputs), free(targets), free(mask), free(ref_lp), free(lp_expected), free(loss1), free(loss0), free(margin);
    free(d_logprob);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------------
// 1b. the training glue (dpo.c) against the reference: one optimizer step of train_lm and of
// train_dpo, on the whole batch and in micro-batches. The step's gradients stay in m->grads
// (grad_clip 0: not clipped). They are what is compared, not the updated weights: a first
// AdamW step is invariant to the gradients' scale, and a scaling bug is nothing but a scale.

// The reference's (B, T) rows as sequences: row b is inputs[b, 0..n-1] then targets[b, n-1],
// where n is one past its last masked position; token t + 1 is a target where mask[b, t] is 1.
static void ref_rows_to_seqset(SeqSet *s, const int *inputs, const int *targets, const float *mask, int row0, int rows, int T) {
    int ids[64];
    unsigned char tmask[64];
    for (int b = row0; b < row0 + rows; b++) {
        int n = 0;
        for (int t = 0; t < T; t++)
            if (mask[b * T + t] != 0) n = t + 1;
        for (int t = 0; t < n; t++) ids[t] = inputs[b * T + t], tmask[t + 1] = mask[b * T + t] != 0;
        ids[n] = targets[b * T + n - 1];
        tmask[0] = 0;
        seqset_add(s, ids, tmask, n + 1, NULL);
    }
}

// A number from the first line of dir/train_log.jsonl (the first step's).
static double first_step_logged(const char *dir, const char *key) {
    char *path = path_join(dir, "train_log.jsonl"), *text = NULL;
    size_t len = 0;
    double v = NAN;
    JsonDoc doc;
    if (read_file(path, &text, &len, 0) == 0) {
        char *nl = strchr(text, '\n');
        if (json_parse(&doc, text, nl ? (size_t)(nl - text) : len) == 0) {
            if (json_get_number(doc.root, key, &v) < 0) v = NAN;
            json_free(&doc);
        }
    }
    CHECK(!isnan(v), "%s holds a %s", path, key);
    free(text), free(path);
    return v;
}

// Removes a training folder that holds only its log (checkpoints go when training ends).
static void remove_train_dir(const char *dir) {
    char *path = path_join(dir, "train_log.jsonl");
    remove(path);
    CHECK(rmdir(dir) == 0, "%s holds nothing but its log", dir);
    free(path);
}

// Micro-batching must not change a step's gradients beyond float rounding: the whole batch's
// step (first) keeps a copy of its gradients in *whole; every later one is compared with it.
static void same_grads_as_whole(const Model *m, float **whole, int first, const char *what) {
    if (first) {
        free(*whole);
        *whole = xmalloc(m->n_params * sizeof(float));
        memcpy(*whole, m->grads_memory, m->n_params * sizeof(float));
        return;
    }
    double d = max_rel_diff(m->grads_memory, *whole, m->n_params, 1e-6);
    CHECK(d <= 1e-6, "%s: gradients differ from the whole batch's by %.3g (float rounding only)", what, d);
}

// train_lm, one step over the reference's 3 rows (12, 12 and 9 tokens: batch_build pads the
// third), in micro-batches of 3, 2 + 1 and 1 + 1 + 1. The per-token mean's reference is grad.*
// (weights = mask / sum(mask)); the per-sequence mean's is seqmean.grad.*, from torch's
// cross_entropy and loss.backward().
static void test_reference_train_lm(int per_sequence_mean) {
    size_t n;
    int *inputs = ref_ints("inputs", &n), *targets = ref_ints("targets", NULL);
    float *mask = ref_tensor("mask", NULL), *ref_loss = ref_tensor(per_sequence_mean ? "seqmean.loss" : "loss", NULL);
    int B = 3, T = (int)n / B;
    SeqSet set = {0};
    ref_rows_to_seqset(&set, inputs, targets, mask, 0, B, T);
    CHECK(set.lens[0] == T + 1 && set.lens[2] < T + 1, "the rows have different lengths (%d, %d)", set.lens[0], set.lens[2]);
    float *whole = NULL;
    for (int micro = B; micro >= 1; micro--) {
        Model m;
        load_or_die(&m, REF_DIR "/tiny");
        char dir[] = "/tmp/srl_glue_XXXXXX", what[96];
        CHECK(mkdtemp(dir) != NULL, "temp folder");
        LMTrainConfig cfg = {.label = "sft", .max_steps = 1, .batch_size = B, .micro_batch = micro, .lr = 1e-3f,
                             .lr_min = 1e-3f, .per_sequence_mean = per_sequence_mean, .seed = 1, .out_dir = dir, .quiet = 1};
        CHECK(train_lm(&m, &set, NULL, &cfg) == 0, "train_lm: %s", srl_error);
        double loss = first_step_logged(dir, "loss");
        remove_train_dir(dir);
        CHECK(close_rel(loss, ref_loss[0], 1e-5, 1e-6), "train_lm (%s mean, micro-batch %d): loss %.6f, PyTorch %.6f",
              per_sequence_mean ? "per-sequence" : "per-token", micro, loss, ref_loss[0]);
        snprintf(what, sizeof what, "train_lm step, %s mean, micro-batch %d", per_sequence_mean ? "per-sequence" : "per-token",
                 micro);
        compare_tensors(&m, &m.grads, per_sequence_mean ? "seqmean.grad." : "grad.", 1e-5, what);
        same_grads_as_whole(&m, &whole, micro == B, what);
        model_free(&m);
    }
    free(whole), free(inputs), free(targets), free(mask), free(ref_loss);
    seqset_free(&set);
}

// train_dpo, one step over the reference's 2 pairs, in micro-batches of 2 and of 1 + 1, against
// dpo.grad.* (beta 0.1, NLL weight 1, each pair's loss averaged over the step); then with the
// replay of the 3 SFT rows at weight 0.5, against dpo.grad.* + 0.5 seqmean.grad.*.
static void test_reference_train_dpo(void) {
    size_t n;
    int *inputs = ref_ints("dpo.inputs", &n), *targets = ref_ints("dpo.targets", NULL);
    float *mask = ref_tensor("dpo.mask", NULL), *ref_lp = ref_tensor("dpo.ref_logprob", NULL);
    float *ref_loss = ref_tensor("dpo.loss", NULL), *ref_seqmean = ref_tensor("seqmean.loss", NULL);
    int P = 2, T = (int)n / (2 * P);
    SeqSet chosen = {0}, rejected = {0}, replay = {0};
    ref_rows_to_seqset(&chosen, inputs, targets, mask, 0, P, T);
    ref_rows_to_seqset(&rejected, inputs, targets, mask, P, P, T);
    double ref_c[2] = {ref_lp[0], ref_lp[1]}, ref_r[2] = {ref_lp[2], ref_lp[3]};
    size_t ns;
    int *s_inputs = ref_ints("inputs", &ns), *s_targets = ref_ints("targets", NULL);
    float *s_mask = ref_tensor("mask", NULL);
    ref_rows_to_seqset(&replay, s_inputs, s_targets, s_mask, 0, 3, (int)ns / 3);
    float beta = (float)settings_number(settings.root, "dpo_beta"), alpha = (float)settings_number(settings.root, "dpo_alpha");
    float *whole = NULL;
    for (int with_replay = 0; with_replay < 2; with_replay++)
        for (int micro = P; micro >= 1; micro--) {
            Model m;
            load_or_die(&m, REF_DIR "/tiny");
            char dir[] = "/tmp/srl_glue_XXXXXX", what[96];
            CHECK(mkdtemp(dir) != NULL, "temp folder");
            DPOTrainConfig cfg = {.beta = beta, .nll_alpha = alpha, .epochs = 1, .batch_size = P, .micro_batch = micro,
                                  .lr = 1e-3f, .lr_min = 1e-3f, .seed = 1, .out_dir = dir, .quiet = 1,
                                  .replay = with_replay ? &replay : NULL, .replay_weight = 0.5f, .replay_batch = 3};
            CHECK(train_dpo(&m, &chosen, &rejected, ref_c, ref_r, &cfg) == 0, "train_dpo: %s", srl_error);
            snprintf(what, sizeof what, "train_dpo step, micro-batch %d%s", micro, with_replay ? ", replay weight 0.5" : "");
            if (with_replay) {
                double replay_loss = first_step_logged(dir, "replay_loss");
                CHECK(close_rel(replay_loss, ref_seqmean[0], 1e-5, 1e-6), "%s: replay loss %.6f, PyTorch %.6f", what,
                      replay_loss, ref_seqmean[0]);
            }
            double loss = first_step_logged(dir, "loss");
            remove_train_dir(dir);
            CHECK(close_rel(loss, ref_loss[0], 1e-5, 1e-6), "%s: loss %.6f, PyTorch %.6f", what, loss, ref_loss[0]);
            compare_tensor_sum(&m, &m.grads, "dpo.grad.", with_replay ? "seqmean.grad." : NULL, 0.5, 1e-5, what);
            same_grads_as_whole(&m, &whole, micro == P, what);
            model_free(&m);
        }
    free(whole), free(inputs), free(targets), free(mask), free(ref_lp), free(ref_loss), free(ref_seqmean);
    free(s_inputs), free(s_targets), free(s_mask);
    seqset_free(&chosen), seqset_free(&rejected), seqset_free(&replay);
}

static void test_reference_tied_bf16_sharded(void) {
    // tied head
    Model m;
    load_or_die(&m, REF_DIR "/tiny_tied");
    CHECK(m.config.tied_embeddings == 1, "tiny_tied loads as tied");
    size_t n, nv;
    int *inputs = ref_ints("tied.inputs", &n), *targets = ref_ints("tied.targets", NULL);
    float *weights = ref_tensor("tied.weights", NULL), *logits = ref_tensor("tied.logits", &nv);
    float *loss = ref_tensor("tied.loss", NULL);
    model_forward(&m, inputs, targets, 3, (int)n / 3);
    double d = max_rel_diff(m.acts.logits, logits, nv, 1e-6);
    CHECK(d <= 1e-5, "tied logits differ by %.3g", d);
    float *d_logprob = xmalloc(n * sizeof(float));
    float l = model_weighted_nll(&m, weights, d_logprob);
    CHECK(close_rel(l, loss[0], 1e-5, 1e-6), "tied loss %.7f, PyTorch %.7f", l, loss[0]);
    model_zero_grad(&m);
    model_backward(&m, d_logprob);
    compare_tensors(&m, &m.grads, "tied.grad.", 1e-4, "tied gradients");
    free(inputs), free(targets), free(weights), free(logits), free(loss), free(d_logprob);
    model_free(&m);

    // bf16 weights, computed in fp32
    inputs = ref_ints("inputs", &n);
    targets = ref_ints("targets", NULL);
    load_or_die(&m, REF_DIR "/tiny_bf16");
    logits = ref_tensor("bf16.logits", &nv);
    model_forward(&m, inputs, targets, 3, (int)n / 3);
    d = max_rel_diff(m.acts.logits, logits, nv, 1e-6);
    CHECK(d <= 1e-5, "bf16-file logits differ by %.3g", d);
    printf("  bf16 file: logits within %.2e\n", d);
    free(logits);
    model_free(&m);

    // shards give exactly the single-file model
    Model single, sharded;
    load_or_die(&single, REF_DIR "/tiny");
    load_or_die(&sharded, REF_DIR "/tiny_sharded");
    CHECK(single.n_params == sharded.n_params &&
              memcmp(single.params_memory, sharded.params_memory, single.n_params * sizeof(float)) == 0,
          "sharded folder loads the same weights as the single file");
    model_free(&single);
    model_free(&sharded);
    free(inputs), free(targets);
}

// ---------------------------------------------------------------------------------------------
// 2. finite differences of an independent double-precision forward (written here, plainly)

typedef struct {
    const Config *c;
    double *w;          // all parameters, in the Params order
    size_t off[N_PARAM_TENSORS];
} DoubleModel;

static double dm_rope_inv_freq(const Config *c, int i) {
    double f = 1.0 / pow(c->rope_theta, 2.0 * i / c->head_dim);
    if (c->rope_llama3) {
        double lw = c->rope_original_max_pos / (double)c->rope_low_freq_factor;
        double hw = c->rope_original_max_pos / (double)c->rope_high_freq_factor;
        double wl = 2 * M_PI / f;
        if (wl > lw) f /= c->rope_factor;
        else if (wl >= hw) {
            double sm = (c->rope_original_max_pos / wl - c->rope_low_freq_factor) /
                        (c->rope_high_freq_factor - c->rope_low_freq_factor);
            f = (1 - sm) * f / c->rope_factor + sm * f;
        }
    }
    return f;
}

static void dm_rmsnorm(double *out, const double *x, const double *w, int C, double eps) {
    double ss = 0;
    for (int i = 0; i < C; i++) ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / C + eps);
    for (int i = 0; i < C; i++) out[i] = x[i] * r * w[i];
}

static void dm_linear(double *y, const double *x, const double *W, int in, int out) {
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += W[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static void dm_rope(double *v, int n_heads, int D, int pos, const Config *c) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < D / 2; i++) {
            int ia = c->rope_interleaved ? 2 * i : i, ib = c->rope_interleaved ? 2 * i + 1 : i + D / 2;
            double ang = pos * dm_rope_inv_freq(c, i), a = v[h * D + ia], b = v[h * D + ib];
            v[h * D + ia] = a * cos(ang) - b * sin(ang);
            v[h * D + ib] = a * sin(ang) + b * cos(ang);
        }
}

// loss = -sum weights[b,t] log p(targets[b,t])
static double dm_loss(const DoubleModel *dm, const int *inputs, const int *targets, const float *weights, int B, int T) {
    const Config *c = dm->c;
    int C = c->dim, F = c->hidden_dim, V = c->vocab_size, H = c->n_heads, KV = c->n_kv_heads, D = c->head_dim;
    int QD = H * D, KVD = KV * D;
    const double *emb = dm->w + dm->off[0], *head = c->tied_embeddings ? emb : dm->w + dm->off[11];
    double *x = calloc((size_t)T * C, 8), *q = calloc((size_t)T * QD, 8), *k = calloc((size_t)T * KVD, 8);
    double *v = calloc((size_t)T * KVD, 8), *h = calloc(C > F ? C : F, 8), *a = calloc(QD, 8), *o = calloc(C, 8);
    double *g = calloc(F, 8), *u = calloc(F, 8), *lg = calloc(V, 8), *sc = calloc(T, 8);
    double loss = 0;
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) memcpy(x + (size_t)t * C, emb + (size_t)inputs[b * T + t] * C, C * 8);
        for (int l = 0; l < c->n_layers; l++) {
            for (int t = 0; t < T; t++) {
                dm_rmsnorm(h, x + (size_t)t * C, dm->w + dm->off[1] + (size_t)l * C, C, c->norm_eps);
                dm_linear(q + (size_t)t * QD, h, dm->w + dm->off[2] + (size_t)l * QD * C, C, QD);
                dm_linear(k + (size_t)t * KVD, h, dm->w + dm->off[3] + (size_t)l * KVD * C, C, KVD);
                dm_linear(v + (size_t)t * KVD, h, dm->w + dm->off[4] + (size_t)l * KVD * C, C, KVD);
                dm_rope(q + (size_t)t * QD, H, D, t, c);
                dm_rope(k + (size_t)t * KVD, KV, D, t, c);
            }
            for (int t = 0; t < T; t++) {
                for (int hh = 0; hh < H; hh++) {
                    int kvh = hh / (H / KV);
                    double mx = -1e300, sum = 0;
                    for (int s = 0; s <= t; s++) {
                        double d = 0;
                        for (int i = 0; i < D; i++) d += q[(size_t)t * QD + hh * D + i] * k[(size_t)s * KVD + kvh * D + i];
                        sc[s] = d / sqrt(D);
                        if (sc[s] > mx) mx = sc[s];
                    }
                    for (int s = 0; s <= t; s++) sum += sc[s] = exp(sc[s] - mx);
                    for (int i = 0; i < D; i++) {
                        double acc = 0;
                        for (int s = 0; s <= t; s++) acc += sc[s] / sum * v[(size_t)s * KVD + kvh * D + i];
                        a[hh * D + i] = acc;
                    }
                }
                dm_linear(o, a, dm->w + dm->off[5] + (size_t)l * C * QD, QD, C);
                for (int i = 0; i < C; i++) x[(size_t)t * C + i] += o[i];
                dm_rmsnorm(h, x + (size_t)t * C, dm->w + dm->off[6] + (size_t)l * C, C, c->norm_eps);
                dm_linear(g, h, dm->w + dm->off[7] + (size_t)l * F * C, C, F);
                dm_linear(u, h, dm->w + dm->off[8] + (size_t)l * F * C, C, F);
                for (int i = 0; i < F; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
                dm_linear(o, g, dm->w + dm->off[9] + (size_t)l * C * F, F, C);
                for (int i = 0; i < C; i++) x[(size_t)t * C + i] += o[i];
            }
        }
        for (int t = 0; t < T; t++) {
            if (weights[b * T + t] == 0) continue;
            dm_rmsnorm(h, x + (size_t)t * C, dm->w + dm->off[10], C, c->norm_eps);
            dm_linear(lg, h, head, C, V);
            double mx = -1e300, sum = 0;
            for (int i = 0; i < V; i++) if (lg[i] > mx) mx = lg[i];
            for (int i = 0; i < V; i++) sum += exp(lg[i] - mx);
            loss -= weights[b * T + t] * (lg[targets[b * T + t]] - mx - log(sum));
        }
    }
    free(x), free(q), free(k), free(v), free(h), free(a), free(o), free(g), free(u), free(lg), free(sc);
    return loss;
}

// T = 7 checks every tensor on a sequence shorter than any block of the kernels; T = 300
// runs past the matmul tiles and the attention blocks, where a long-sequence bug would hide
// from the PyTorch reference (T = 11).
static void test_finite_differences(int tied, int interleaved, int T) {
    Config c = {0};
    c.vocab_size = 23, c.dim = 16, c.hidden_dim = 24, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2;
    c.head_dim = 6, c.max_seq_len = T < 64 ? 64 : T, c.norm_eps = 1e-5f, c.rope_theta = 10000.0f, c.tied_embeddings = tied;
    c.rope_interleaved = interleaved, c.bos_token_id = -1;
    Model m;
    model_init_random(&m, &c, 7);
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t i = 0; i < m.n_params; i++) m.params_memory[i] += 0.3f * rng_normal(&rng);  // not tiny weights
    int B = 2;
    int *inputs = xmalloc((size_t)B * T * sizeof(int)), *targets = xmalloc((size_t)B * T * sizeof(int));
    float *weights = xmalloc((size_t)B * T * sizeof(float)), *d_logprob = xmalloc((size_t)B * T * sizeof(float));
    for (int i = 0; i < B * T; i++) {
        inputs[i] = rng_int(&rng, c.vocab_size);
        targets[i] = rng_int(&rng, c.vocab_size);
        weights[i] = (i % T) < 2 ? 0.0f : 1.0f / (float)(B * (T - 2));
    }
    model_forward(&m, inputs, targets, B, T);
    model_weighted_nll(&m, weights, d_logprob);
    if (T > 64) {
        // and at this length the KV-cache prefill gives the training forward's logits, bit for bit
        int V = c.vocab_size, *slots = xmalloc((size_t)T * sizeof(int)), *pos = xmalloc((size_t)T * sizeof(int));
        float *logits = xmalloc((size_t)T * V * sizeof(float)), *train_logits = xmalloc((size_t)T * V * sizeof(float));
        memcpy(train_logits, m.acts.logits, (size_t)T * V * sizeof(float));
        KVCache cache;
        CHECK(kv_cache_init(&cache, &c, 1, T) == 0, "kv cache: %s", srl_error);
        for (int t = 0; t < T; t++) slots[t] = 0, pos[t] = t;
        model_forward_rows(&m, &cache, T, inputs, slots, pos, NULL, logits);
        CHECK(memcmp(logits, train_logits, (size_t)T * V * sizeof(float)) == 0,
              "at %d positions the prefill logits equal the training forward bit for bit", T);
        kv_cache_free(&cache);
        free(slots), free(pos), free(logits), free(train_logits);
        model_forward(&m, inputs, targets, B, T);  // the activations the backward needs
    }
    model_zero_grad(&m);
    model_backward(&m, d_logprob);

    DoubleModel dm = {&c, xmalloc(m.n_params * sizeof(double)), {0}};
    size_t sizes[N_PARAM_TENSORS], off = 0;
    param_sizes(&c, sizes);
    for (int t = 0; t < N_PARAM_TENSORS; t++) dm.off[t] = off, off += sizes[t];
    for (size_t i = 0; i < m.n_params; i++) dm.w[i] = m.params_memory[i];
    int checked = 0, bad = 0;
    double worst = 0;
    for (int t = 0; t < N_PARAM_TENSORS; t++) {
        for (int sample = 0; sample < 4 && sizes[t] > 0; sample++) {
            size_t i = dm.off[t] + (size_t)rng_int(&rng, (int)sizes[t]);
            double saved = dm.w[i], h = 1e-5;
            dm.w[i] = saved + h;
            double up = dm_loss(&dm, inputs, targets, weights, B, T);
            dm.w[i] = saved - h;
            double down = dm_loss(&dm, inputs, targets, weights, B, T);
            dm.w[i] = saved;
            double fd = (up - down) / (2 * h), analytic = m.grads_memory[i];
            double err = fabs(fd - analytic) / (fabs(fd) > 1e-3 ? fabs(fd) : 1e-3);
            if (err > worst) worst = err;
            checked++;
            if (err > 2e-3) bad++;
            CHECK(err <= 2e-3, "finite difference (%s%s, T %d) of %s[%zu]: %.8f, backward %.8f", tied ? "tied" : "untied",
                  interleaved ? ", interleaved RoPE" : "", T, param_tensor_names[t], i - dm.off[t], fd, analytic);
        }
    }
    printf("  finite differences (%s%s, %d positions): %d parameters over every tensor, worst relative error %.1e\n",
           tied ? "tied head" : "untied head", interleaved ? ", interleaved RoPE" : "", T, checked, worst);
    free(dm.w), free(inputs), free(targets), free(weights), free(d_logprob);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------------
// 3. generation: the KV-cache path computes the same numbers as the training forward

static void test_cache_matches_training(void) {
    Model m;
    load_or_die(&m, REF_DIR "/tiny");
    size_t n;
    int *inputs = ref_ints("inputs", &n);
    int T = (int)n / 3, V = m.config.vocab_size;
    model_forward(&m, inputs, NULL, 3, T);
    float *train_logits = xmalloc((size_t)3 * T * V * sizeof(float));
    memcpy(train_logits, m.acts.logits, (size_t)3 * T * V * sizeof(float));
    KVCache cache;
    kv_cache_init(&cache, &m.config, 3, T);
    float *logits = xmalloc((size_t)3 * T * V * sizeof(float));
    // sequence 0 as one prompt chunk; sequences 1 and 2 decoded together, one token at a time
    int slots[64], pos[64];
    for (int t = 0; t < T; t++) slots[t] = 0, pos[t] = t;
    model_forward_rows(&m, &cache, T, inputs, slots, pos, NULL, logits);
    CHECK(memcmp(logits, train_logits, (size_t)T * V * sizeof(float)) == 0, "prefill logits equal the training forward bit for bit");
    int same = 1;
    for (int t = 0; t < T; t++) {
        int toks[2] = {inputs[T + t], inputs[2 * T + t]}, sl[2] = {1, 2}, ps[2] = {t, t};
        float out[2 * 256];
        model_forward_rows(&m, &cache, 2, toks, sl, ps, NULL, out);
        for (int b = 0; b < 2; b++)
            if (memcmp(out + (size_t)b * V, train_logits + ((size_t)(b + 1) * T + t) * V, (size_t)V * sizeof(float)) != 0) same = 0;
    }
    CHECK(same, "token-by-token decoding of two sequences together equals the training forward bit for bit");
    kv_cache_free(&cache);

    // model_generate: a sequence gives the same tokens alone or batched with others
    int prompt_a[5] = {1, 5, 9, 13, 2}, prompt_b[3] = {1, 5, 9};
    const int *prompts[3] = {prompt_a, prompt_b, prompt_a};
    int lens[3] = {5, 3, 5};
    uint64_t seeds[3] = {42, 7, 42};
    GenerateConfig g = {.max_new_tokens = 20, .temperature = 0.8f, .top_p = 0.9f, .max_batch = 3};
    int *out[3], out_lens[3];
    CHECK(model_generate(&m, 3, prompts, lens, seeds, &g, out, out_lens, NULL) == 0, "generate runs");
    int *alone[1], alone_len[1];
    g.max_batch = 1;
    model_generate(&m, 1, prompts, lens, seeds, &g, alone, alone_len, NULL);
    CHECK(out_lens[0] == alone_len[0] && memcmp(out[0], alone[0], (size_t)alone_len[0] * sizeof(int)) == 0,
          "sampled output is the same alone and batched");
    CHECK(out_lens[0] == out_lens[2] && memcmp(out[0], out[2], (size_t)out_lens[0] * sizeof(int)) == 0,
          "the same prompt and seed give the same output (second one reuses the cached prefix)");
    for (int i = 0; i < 3; i++) free(out[i]);
    free(alone[0]);
    free(inputs), free(train_logits), free(logits);
    model_free(&m);
}

// Sampling against the distribution it should draw from. For temperature T and top-p the
// exact distribution is q = softmax(l / T) cut to the nucleus, the smallest set of most likely
// tokens whose mass reaches top_p (a token is in it when the tokens more likely than it hold
// less than top_p: Hugging Face's TopPLogitsWarper), renormalized; computed here in double.
static int nucleus_distribution(const float *logits, int V, double temperature, double top_p, double *q,
                                double *margin) {
    double max = logits[0], sum = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > max) max = logits[v];
    double p[64];
    for (int v = 0; v < V; v++) sum += p[v] = exp((logits[v] - max) / temperature);
    for (int v = 0; v < V; v++) p[v] /= sum;
    double kept = 0;
    *margin = 1;
    for (int v = 0; v < V; v++) {
        double above = 0;  // the mass of the tokens more likely than v
        for (int u = 0; u < V; u++)
            if (p[u] > p[v]) above += p[u];
        q[v] = top_p >= 1 || above < top_p ? p[v] : 0;
        kept += q[v];
        if (top_p < 1 && fabs(above - top_p) < *margin) *margin = fabs(above - top_p);
    }
    int n = 0;
    for (int v = 0; v < V; v++) q[v] /= kept, n += q[v] > 0;
    return n;
}

// The chi-square survival function for even degrees of freedom 2m has a closed form,
// P(X > x) = exp(-x/2) sum_{i<m} (x/2)^i / i!; its bound at probability alpha is found by
// bisection. For odd df the next even df is used: its bound is larger (a chi-square with more
// degrees of freedom is stochastically larger), so the test stays on the safe side.
static double chi_square_bound(int df, double alpha) {
    int m = (df + 1) / 2;
    double lo = 0, hi = 1000;
    for (int it = 0; it < 200; it++) {
        double x = (lo + hi) / 2, term = 1, sf = 0;
        for (int i = 0; i < m; i++) sf += term, term *= x / 2 / (i + 1);
        sf *= exp(-x / 2);
        if (sf > alpha) lo = x;
        else hi = x;
    }
    return hi;
}

// 10^5 draws of sample_token per setting; the chi-square statistic over the nucleus must stay
// below the bound that a correct sampler exceeds with probability 1e-6 (every expected count is
// at least 400, so the chi-square approximation holds), and tokens outside the nucleus must
// never come. The logits are in no particular order of id, and no token's "mass above" lies
// within 1e-3 of top_p, so float32 rounding cannot move the nucleus' edge.
static void test_sampling_distribution(void) {
    static const float logits[16] = {0.35f, -1.5f, 1.9f, -0.4f, 0.8f, -2.1f, 1.1f, 0.1f,
                                     -0.95f, 1.6f, -0.15f, 0.6f, -1.8f, 1.3f, -0.7f, -1.25f};
    static const float settings_t[4][2] = {{1.0f, 1.0f}, {0.7f, 0.9f}, {1.4f, 0.6f}, {0.5f, 0.75f}};
    enum { V = 16, N = 100000 };
    for (int si = 0; si < 4; si++) {
        float temp = settings_t[si][0], top_p = settings_t[si][1];
        double q[V], margin;
        int k = nucleus_distribution(logits, V, temp, top_p, q, &margin);
        CHECK(margin > 1e-3, "T %.1f top-p %.2f: the nucleus' edge is %.2g from top_p", temp, top_p, margin);
        long counts[V] = {0};
        Rng rng;
        rng_seed(&rng, 100 + si);
        for (int i = 0; i < N; i++) {
            float l[V];
            memcpy(l, logits, sizeof l);
            int t = sample_token(l, V, temp, top_p, &rng);
            if (t >= 0 && t < V) counts[t]++;
        }
        double chi2 = 0, min_expected = N;
        long outside = 0, total = 0;
        for (int v = 0; v < V; v++) {
            total += counts[v];
            if (q[v] == 0) {
                outside += counts[v];
                continue;
            }
            double e = N * q[v];
            chi2 += (counts[v] - e) * (counts[v] - e) / e;
            if (e < min_expected) min_expected = e;
        }
        double bound = chi_square_bound(k - 1, 1e-6);
        CHECK(total == N, "every draw is a token id (%ld of %d)", total, N);
        CHECK(min_expected >= 400, "T %.1f top-p %.2f: every expected count is large (%.0f)", temp, top_p, min_expected);
        CHECK(outside == 0, "T %.1f top-p %.2f: %ld draws outside the nucleus of %d tokens", temp, top_p, outside, k);
        CHECK(chi2 < bound, "T %.1f top-p %.2f: chi-square %.1f over %d tokens, bound %.1f (df %d, p 1e-6)", temp, top_p, chi2,
              k, bound, k - 1);
        printf("  sampling T %.1f top-p %.2f: %d draws, nucleus %d of %d tokens, none outside, chi-square %.1f < %.1f "
               "(df %d, p 1e-6)\n", temp, top_p, N, k, V, chi2, bound, k - 1);
    }
    // temperature 0: the argmax, the lowest id among tied maxima
    float tied[5] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f};
    Rng rng;
    rng_seed(&rng, 1);
    CHECK(sample_token(tied, 5, 0.0f, 0.9f, &rng) == 1, "temperature 0 takes the argmax, the lowest id on ties");
}

// ---------------------------------------------------------------------------------------------
// 4. determinism over thread counts

static void train_steps(Model *m, int steps) {
    int B = 4, T = 32, N = B * T;
    int *inputs = xmalloc(N * sizeof(int)), *targets = xmalloc(N * sizeof(int));
    float *w = xmalloc(N * sizeof(float)), *d = xmalloc(N * sizeof(float));
    Rng rng;
    rng_seed(&rng, 3);
    AdamWConfig cfg = {0.9f, 0.95f, 1e-8f, 0.1f};
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < N; i++) {
            inputs[i] = rng_int(&rng, m->config.vocab_size);
            targets[i] = (inputs[i] * 7 + 3) % m->config.vocab_size;
            w[i] = 1.0f / N;
        }
        model_forward(m, inputs, targets, B, T);
        model_weighted_nll(m, w, d);
        model_zero_grad(m);
        model_backward(m, d);
        model_clip_grads(m, 1.0f);
        model_adamw_step(m, &cfg, 3e-3f);
    }
    free(inputs), free(targets), free(w), free(d);
}

static void test_thread_determinism(void) {
#ifdef _OPENMP
    Config c = {0};
    c.vocab_size = 97, c.dim = 64, c.hidden_dim = 160, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2;
    c.head_dim = 16, c.max_seq_len = 64, c.norm_eps = 1e-5f, c.rope_theta = 10000.0f, c.bos_token_id = -1;
    Model a, b;
    model_init_random(&a, &c, 5);
    model_init_random(&b, &c, 5);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    train_steps(&a, 20);
    omp_set_num_threads(2);
    train_steps(&b, 20);
    omp_set_num_threads(saved);
    CHECK(memcmp(a.params_memory, b.params_memory, a.n_params * sizeof(float)) == 0,
          "20 training steps give bit-identical weights with 1 and 2 threads");
    char dir_a[] = "/tmp/srl_det_aXXXXXX", dir_b[] = "/tmp/srl_det_bXXXXXX";
    if (mkdtemp(dir_a) && mkdtemp(dir_b) && model_save(&a, dir_a, 0) == 0 && model_save(&b, dir_b, 0) == 0) {
        char *pa = path_join(dir_a, "model.safetensors"), *pb = path_join(dir_b, "model.safetensors");
        char *da, *db;
        size_t la, lb;
        CHECK(read_file(pa, &da, &la, 0) == 0 && read_file(pb, &db, &lb, 0) == 0 && la == lb && memcmp(da, db, la) == 0,
              "and byte-identical checkpoints");
        free(da), free(db), free(pa), free(pb);
    }
    model_free(&a);
    model_free(&b);
    printf("  determinism: 20 steps with 1 and 2 threads compared\n");
#else
    printf("  skip: built without OpenMP, not testing thread-count determinism\n");
#endif
}

// DPO with replay (dpo.c: train_dpo, cfg.replay): each step also trains on a batch of the
// replay set with the SFT loss. The replay set here shares nothing with the pairs, so its
// loss falls a long way only when the replay is on; the step log records the replay loss.
static void random_sequences(SeqSet *s, Rng *rng, int n, int len, int prompt_len, const char *key) {
    int ids[64];
    unsigned char mask[64];
    for (int i = 0; i < n; i++) {
        for (int t = 0; t < len; t++) ids[t] = 3 + (int)(rng_u32(rng) % 94), mask[t] = t >= prompt_len;
        seqset_add(s, ids, mask, len, key);
    }
}

static void test_dpo_replay(void) {
    Config c = {0};
    c.vocab_size = 97, c.dim = 64, c.hidden_dim = 160, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2;
    c.head_dim = 16, c.max_seq_len = 64, c.norm_eps = 1e-5f, c.rope_theta = 10000.0f, c.bos_token_id = -1;
    Rng rng;
    rng_seed(&rng, 11);
    SeqSet chosen = {0}, rejected = {0}, replay = {0};
    random_sequences(&chosen, &rng, 4, 12, 6, "pair");
    random_sequences(&rejected, &rng, 4, 12, 6, "pair");
    random_sequences(&replay, &rng, 8, 24, 1, "replay");
    double replay_loss[2], start_loss = 0;
    for (int on = 0; on < 2; on++) {
        Model m;
        model_init_random(&m, &c, 5);
        if (!on) start_loss = eval_lm_loss(&m, &replay, 8, 1);
        double ref_c[4], ref_r[4];
        sequence_logprobs(&m, &chosen, 4, ref_c);
        sequence_logprobs(&m, &rejected, 4, ref_r);
        char dir[] = "/tmp/srl_replay_XXXXXX";
        CHECK(mkdtemp(dir) != NULL, "temp folder");
        DPOTrainConfig cfg = {.beta = 0.1f, .epochs = 30, .batch_size = 4, .lr = 1e-2f, .lr_min = 1e-2f,
                              .grad_clip = 1.0f, .seed = 1, .out_dir = dir, .quiet = 1,
                              .replay = &replay, .replay_weight = on ? 1.0f : 0.0f, .replay_batch = 4};
        CHECK(train_dpo(&m, &chosen, &rejected, ref_c, ref_r, &cfg) == 0, "DPO with replay %s: %s", on ? "on" : "off", srl_error);
        replay_loss[on] = eval_lm_loss(&m, &replay, 8, 1);
        char *log_path = path_join(dir, "train_log.jsonl"), *text = NULL;
        size_t len = 0;
        CHECK(read_file(log_path, &text, &len, 0) == 0, "read %s", log_path);
        int logged = text && strstr(text, "\"replay_loss\": ") != NULL;
        CHECK(logged == on, "the step log has a replay_loss exactly when the replay is on (on %d, logged %d)", on, logged);
        remove(log_path);
        rmdir(dir);
        free(text), free(log_path);
        model_free(&m);
    }
    CHECK(replay_loss[1] < replay_loss[0] - 1.0, "replay loss after DPO with the replay %.3f, without %.3f (start %.3f)",
          replay_loss[1], replay_loss[0], start_loss);
    printf("  DPO replay: the replay set's loss %.3f at the start, %.3f after DPO without it, %.3f with it\n", start_loss,
           replay_loss[0], replay_loss[1]);
    seqset_free(&chosen), seqset_free(&rejected), seqset_free(&replay);
}

// ---------------------------------------------------------------------------------------------
// m (read from a llama2.c file, interleaved RoPE) saved as a Hugging Face folder in a fresh
// temporary folder `dir` and read back into hf, which must use the rotate-half layout.
static void save_and_reload_hf(const Model *m, char *dir, Model *hf) {
    CHECK(mkdtemp(dir) != NULL, "temp folder");
    CHECK(model_save(m, dir, 0) == 0, "save as a Hugging Face folder: %s", srl_error);
    load_or_die(hf, dir);
    CHECK(hf->config.rope_interleaved == 0, "the saved folder uses the rotate-half layout");
}

// Removes what save_and_reload_hf wrote, and the folder, which must then be empty.
static void remove_saved_hf(const char *dir) {
    const char *files[] = {"model.safetensors", "config.json", "generation_config.json"};
    for (int i = 0; i < 3; i++) {
        char *path = path_join(dir, files[i]);
        unlink(path);
        free(path);
    }
    CHECK(rmdir(dir) == 0, "%s holds nothing but the saved model", dir);
}

// 5. the real stories260K checkpoint

static int *expected_greedy_ids(const char *dir, int *n) {
    char *path = path_join(dir, "stories260K/expected_greedy_200_ids.json"), *text;
    size_t len;
    JsonDoc doc;
    if (read_file(path, &text, &len, 0) < 0 || json_parse(&doc, text, len) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
    const JsonValue *ids = json_get(doc.root, "generated_ids");
    int *out = xmalloc((size_t)(ids ? ids->count : 1) * sizeof(int));
    *n = 0;
    for (const JsonValue *v = ids ? ids->child : NULL; v; v = v->next) out[(*n)++] = (int)v->number;
    json_free(&doc);
    free(text);
    free(path);
    return out;
}

static void greedy_check(Model *m, const int *expected, int n, const char *what) {
    int bos = 1;
    const int *prompts[1] = {&bos};
    int lens[1] = {1}, *out[1], out_len[1];
    GenerateConfig g = {.max_new_tokens = n, .temperature = 0.0f, .max_batch = 1};
    CHECK(model_generate(m, 1, prompts, lens, NULL, &g, out, out_len, NULL) == 0, "generate %s", what);
    int match = out_len[0] == n;
    int first_diff = -1;
    for (int i = 0; i < n && i < out_len[0]; i++)
        if (out[0][i] != expected[i]) {
            match = 0;
            first_diff = i;
            break;
        }
    CHECK(match, "%s: greedy output from BOS equals llama2.c's 200 ids (first difference at %d)", what, first_diff);
    free(out[0]);
}

static void test_stories260k(void) {
    const char *dir = fixtures_dir();
    if (!dir) {
        printf("  skip: SRL_FIXTURES unset, not testing the stories260K checkpoint\n");
        return;
    }
    int n;
    int *expected_ids = expected_greedy_ids(dir, &n);
    CHECK(n == 200, "expected_greedy_200_ids.json holds 200 ids (%d)", n);
    char *bin = path_join(dir, "stories260K/stories260K.bin");
    Model m;
    load_or_die(&m, bin);
    CHECK(m.config.dim == 64 && m.config.n_layers == 5 && m.config.n_kv_heads == 4 && m.config.tied_embeddings,
          "stories260K header read");
    greedy_check(&m, expected_ids, n, "stories260K.bin");
    char tmp[] = "/tmp/srl_stories_XXXXXX";
    Model hf;
    save_and_reload_hf(&m, tmp, &hf);
    greedy_check(&hf, expected_ids, n, "converted Hugging Face folder");
    remove_saved_hf(tmp);
    model_free(&hf);
    model_free(&m);
    free(bin);
    free(expected_ids);
    printf("  stories260K: greedy 200 ids checked, before and after conversion\n");
}

// A second reference file beside the main one: the batch stored under a prefix ("wide.",
// "interleaved.") and PyTorch's logits and loss on it. It stands in `expected` (which
// compare_tensors reads) until ref_batch_close puts the main reference back.
typedef struct {
    SafeTensors main_ref;
    int *inputs, *targets;          // (B * T)
    float *weights, *logits, *loss; // (B * T), (B * T * V), (1)
    size_t n, nv;
    int B, T;
} RefBatch;

static void ref_batch_open(RefBatch *rb, const char *file, const char *prefix) {
    rb->main_ref = expected;
    if (safetensors_open(&expected, file) < 0) {
        fprintf(stderr, "FAIL: %s\n", srl_error);
        exit(1);
    }
    char name[64];
    snprintf(name, sizeof name, "%sinputs", prefix), rb->inputs = ref_ints(name, &rb->n);
    snprintf(name, sizeof name, "%stargets", prefix), rb->targets = ref_ints(name, NULL);
    snprintf(name, sizeof name, "%sweights", prefix), rb->weights = ref_tensor(name, NULL);
    snprintf(name, sizeof name, "%slogits", prefix), rb->logits = ref_tensor(name, &rb->nv);
    snprintf(name, sizeof name, "%sloss", prefix), rb->loss = ref_tensor(name, NULL);
    rb->B = 3, rb->T = (int)rb->n / 3;
}

static void ref_batch_close(RefBatch *rb) {
    free(rb->inputs), free(rb->targets), free(rb->weights), free(rb->logits), free(rb->loss);
    safetensors_close(&expected);
    expected = rb->main_ref;
}

// m's logits, loss and every gradient (under prefix + "grad.") on the batch, against PyTorch's.
static void check_ref_batch(Model *m, const RefBatch *rb, const char *prefix, const char *label) {
    model_forward(m, rb->inputs, rb->targets, rb->B, rb->T);
    double d = max_rel_diff(m->acts.logits, rb->logits, rb->nv, 1e-6);
    CHECK(d <= 1e-5, "%s: logits differ from PyTorch by %.3g relative", label, d);
    float *d_logprob = xmalloc(rb->n * sizeof(float));
    float my_loss = model_weighted_nll(m, rb->weights, d_logprob);
    CHECK(close_rel(my_loss, rb->loss[0], 1e-5, 1e-6), "%s: loss %.8f, PyTorch %.8f", label, my_loss, rb->loss[0]);
    printf("  %s: logits within %.2e, loss %.7f vs %.7f\n", label, d, my_loss, rb->loss[0]);
    model_zero_grad(m);
    model_backward(m, d_logprob);
    char grads[64], what[128];
    snprintf(grads, sizeof grads, "%sgrad.", prefix);
    snprintf(what, sizeof what, "%s gradients", label);
    compare_tensors(m, &m->grads, grads, 1e-4, what);
    free(d_logprob);
}

// The wide model (tests/ref/wide_f16): an F16 file, plain multi-head attention, hidden 264 (past
// the matmul kernel's 256-wide inner block): logits, loss and every gradient against PyTorch.
static void test_reference_wide_f16(void) {
    RefBatch rb;
    ref_batch_open(&rb, REF_DIR "/expected_wide.safetensors", "wide.");
    Model m;
    load_or_die(&m, REF_DIR "/wide_f16");
    CHECK(m.config.n_heads == m.config.n_kv_heads && m.config.dim > 256, "the wide model: %d heads, %d kv heads, hidden %d",
          m.config.n_heads, m.config.n_kv_heads, m.config.dim);
    check_ref_batch(&m, &rb, "wide.", "wide F16 model (multi-head, hidden past 256)");
    model_free(&m);
    ref_batch_close(&rb);
}

// The interleaved model (tests/ref/interleaved.bin): a llama2.c checkpoint, whose RoPE pairs
// elements (2i, 2i + 1), plain multi-head attention: logits, loss and every gradient against
// PyTorch's complex-number RoPE; then saved as a Hugging Face folder (q and k rows reordered for
// the rotate-half layout) and read back: the same logits again.
static void test_reference_interleaved(void) {
    RefBatch rb;
    ref_batch_open(&rb, REF_DIR "/expected_interleaved.safetensors", "interleaved.");
    Model m;
    load_or_die(&m, REF_DIR "/interleaved.bin");
    CHECK(m.config.rope_interleaved && m.config.n_heads == m.config.n_kv_heads && !m.config.tied_embeddings,
          "the interleaved model: interleaved %d, %d heads, %d kv heads, tied %d", m.config.rope_interleaved, m.config.n_heads,
          m.config.n_kv_heads, m.config.tied_embeddings);
    check_ref_batch(&m, &rb, "interleaved.", "interleaved RoPE (llama2.c file, multi-head)");

    char dir[] = "/tmp/srl_interleaved_XXXXXX";
    Model hf;
    save_and_reload_hf(&m, dir, &hf);
    model_forward(&hf, rb.inputs, rb.targets, rb.B, rb.T);
    double dh = max_rel_diff(hf.acts.logits, rb.logits, rb.nv, 1e-6);
    CHECK(dh <= 1e-5, "interleaved model saved as a Hugging Face folder: logits differ from PyTorch by %.3g relative", dh);
    printf("  the same model saved as a Hugging Face folder (rotate-half): logits within %.2e\n", dh);
    remove_saved_hf(dir);
    model_free(&hf);
    model_free(&m);
    ref_batch_close(&rb);
}

int main(void) {
    if (safetensors_open(&expected, REF_DIR "/expected.safetensors") < 0) {
        fprintf(stderr, "FAIL: %s (run from the project folder)\n", srl_error);
        return 1;
    }
    settings_open();
    test_reference_forward_backward();
    test_reference_clipping();
    test_reference_adamw("adamw.", "max_norm");
    test_reference_adamw("adamw_unclipped.", "unclipped_max_norm");
    test_reference_dpo();
    test_reference_train_lm(0);
    test_reference_train_lm(1);
    test_reference_train_dpo();
    test_reference_tied_bf16_sharded();
    test_reference_wide_f16();
    test_reference_interleaved();
    test_finite_differences(0, 0, 7);
    test_finite_differences(1, 1, 7);
    test_finite_differences(0, 0, 300);
    test_cache_matches_training();
    test_sampling_distribution();
    test_thread_determinism();
    test_dpo_replay();
    test_stories260k();
    safetensors_close(&expected);
    json_free(&settings);
    free(settings_text);
    return check_summary("test_model");
}
