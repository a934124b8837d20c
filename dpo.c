// dpo.c: next-token training (pretraining, SFT) and DPO: losses, batches, loops, checkpoints.
#define _GNU_SOURCE
#include "dpo.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

// ----------------------------------------------------------------------------
// sequence sets

void seqset_add(SeqSet *s, const int *ids, const unsigned char *mask, int len, const char *key) {
    s->ids = xrealloc(s->ids, (size_t)(s->n + 1) * sizeof(int *));
    s->mask = xrealloc(s->mask, (size_t)(s->n + 1) * sizeof(unsigned char *));
    s->lens = xrealloc(s->lens, (size_t)(s->n + 1) * sizeof(int));
    s->keys = xrealloc(s->keys, (size_t)(s->n + 1) * sizeof(char *));
    s->ids[s->n] = xmalloc((size_t)(len ? len : 1) * sizeof(int));
    s->mask[s->n] = xmalloc((size_t)(len ? len : 1));
    memcpy(s->ids[s->n], ids, (size_t)len * sizeof(int));
    memcpy(s->mask[s->n], mask, (size_t)len);
    s->lens[s->n] = len;
    s->keys[s->n] = key ? xstrdup(key) : NULL;
    s->n++;
}

void seqset_free(SeqSet *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->ids[i]);
        free(s->mask[i]);
        free(s->keys[i]);
    }
    free(s->ids), free(s->mask), free(s->lens), free(s->keys);
    memset(s, 0, sizeof *s);
}

static int seq_targets(const SeqSet *s, int i) {
    int n = 0;
    for (int t = 1; t < s->lens[i]; t++) n += s->mask[i][t] != 0;
    return n;
}

// The longest sequence of a set, less one: the T its batches can need.
static int longest(const SeqSet *s) {
    int t = 1;
    for (int i = 0; i < s->n; i++)
        if (s->lens[i] - 1 > t) t = s->lens[i] - 1;
    return t;
}

long seqset_target_count(const SeqSet *s) {
    long n = 0;
    for (int i = 0; i < s->n; i++) n += seq_targets(s, i);
    return n;
}

// ----------------------------------------------------------------------------
// batches: rows of a set become inputs (B, T) and targets (B, T), where T is the longest row
// minus one; the target at t is token t+1 when it is masked in, else -1 (no loss, and no
// softmax to compute); short rows are padded with token 0 and target -1.

typedef struct {
    int B, T;
    int *inputs, *targets;   // (B, T)
    float *weights;          // (B, T) loss weight of each target
    float *mask;             // (B, T) 1 where the target counts
    int cap;
} Batch;

static void batch_build(Batch *b, const SeqSet *s, const int *rows, int n_rows) {
    int T = 1;
    for (int r = 0; r < n_rows; r++)
        if (s->lens[rows[r]] - 1 > T) T = s->lens[rows[r]] - 1;
    if (n_rows * T > b->cap) {
        b->cap = n_rows * T;
        b->inputs = xrealloc(b->inputs, (size_t)b->cap * sizeof(int));
        b->targets = xrealloc(b->targets, (size_t)b->cap * sizeof(int));
        b->weights = xrealloc(b->weights, (size_t)b->cap * sizeof(float));
        b->mask = xrealloc(b->mask, (size_t)b->cap * sizeof(float));
    }
    b->B = n_rows;
    b->T = T;
    for (int r = 0; r < n_rows; r++) {
        const int *ids = s->ids[rows[r]];
        const unsigned char *mask = s->mask[rows[r]];
        int len = s->lens[rows[r]];
        for (int t = 0; t < T; t++) {
            int i = r * T + t;
            b->inputs[i] = t < len ? ids[t] : 0;
            int counts = t + 1 < len && mask[t + 1];
            b->targets[i] = counts ? ids[t + 1] : -1;
            b->mask[i] = counts ? 1.0f : 0.0f;
            b->weights[i] = 0.0f;
        }
    }
}

static void batch_free(Batch *b) {
    free(b->inputs), free(b->targets), free(b->weights), free(b->mask);
    memset(b, 0, sizeof *b);
}

// Loss weights for one micro-batch, normalized over the whole step: each of the step's
// sequences counts 1/n_seqs (per_sequence_mean) split over its targets, or each of the step's
// targets counts 1/n_targets.
static void batch_weights(Batch *b, const SeqSet *s, const int *rows, int per_sequence_mean, int step_seqs,
                          long step_targets) {
    for (int r = 0; r < b->B; r++) {
        int nt = seq_targets(s, rows[r]);
        float w = per_sequence_mean ? (nt ? 1.0f / ((float)nt * step_seqs) : 0.0f) : 1.0f / (float)step_targets;
        for (int t = 0; t < b->T; t++) b->weights[r * b->T + t] = b->mask[r * b->T + t] * w;
    }
}

double eval_lm_loss(Model *m, const SeqSet *set, int batch, int per_sequence_mean) {
    if (set->n == 0) return NAN;
    Batch b = {0};
    int *rows = xmalloc((size_t)batch * sizeof(int));
    long total_targets = seqset_target_count(set);
    double loss = 0.0;
    for (int i0 = 0; i0 < set->n; i0 += batch) {
        int n = set->n - i0 < batch ? set->n - i0 : batch;
        for (int r = 0; r < n; r++) rows[r] = i0 + r;
        batch_build(&b, set, rows, n);
        batch_weights(&b, set, rows, per_sequence_mean, set->n, total_targets ? total_targets : 1);
        model_forward(m, b.inputs, b.targets, b.B, b.T);
        loss += model_weighted_nll(m, b.weights, NULL);
    }
    free(rows);
    batch_free(&b);
    return loss;
}

void sequence_logprobs(Model *m, const SeqSet *set, int batch, double *out) {
    Batch b = {0};
    int *rows = xmalloc((size_t)batch * sizeof(int));
    for (int i0 = 0; i0 < set->n; i0 += batch) {
        int n = set->n - i0 < batch ? set->n - i0 : batch;
        for (int r = 0; r < n; r++) rows[r] = i0 + r;
        batch_build(&b, set, rows, n);
        model_forward(m, b.inputs, b.targets, b.B, b.T);
        model_sequence_logprobs(m, b.mask, out + i0);
    }
    free(rows);
    batch_free(&b);
}

// ----------------------------------------------------------------------------
// checkpoints: out_dir/checkpoints/step-NNNNNN/ holds the weights and the optimizer state;
// out_dir/checkpoints/latest names the newest complete one. The pointer changes only after
// the new checkpoint is fully written, so a crash at any moment leaves a usable one.

static char *checkpoint_dir(const char *out_dir, int step) {
    char name[64];
    snprintf(name, sizeof name, "checkpoints/step-%06d", step);
    return path_join(out_dir, name);
}

static void remove_dir_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = path_join(dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static int checkpoint_save(const Model *m, const char *out_dir, int step) {
    char *dir = checkpoint_dir(out_dir, step), *opt = path_join(dir, "optimizer.safetensors");
    // with LoRA, the adapters are what trains: they are the checkpoint (the base is frozen)
    int rc = m->lora ? lora_save(m, dir, "") : model_save(m, dir, 0);
    if (rc == 0) rc = model_save_optimizer(m, opt);
    free(opt);
    if (rc == 0) {
        char *latest = path_join(out_dir, "checkpoints/latest"), text[64];
        int len = snprintf(text, sizeof text, "%d\n", step);
        // the previous checkpoint goes once the pointer has moved
        char *old_text = NULL;
        size_t old_len;
        int old_step = -1;
        if (read_file(latest, &old_text, &old_len, 64) == 0) old_step = atoi(old_text);
        free(old_text);
        rc = write_file_atomic(latest, text, (size_t)len);
        if (rc == 0 && old_step >= 0 && old_step != step) {
            char *old_dir = checkpoint_dir(out_dir, old_step);
            remove_dir_files(old_dir);
            free(old_dir);
        }
        free(latest);
    }
    free(dir);
    return rc;
}

// The step of the latest checkpoint (loaded into m), or 0 when there is none.
static int checkpoint_resume(Model *m, const char *out_dir) {
    char *latest = path_join(out_dir, "checkpoints/latest"), *text;
    size_t len;
    int step = 0;
    if (read_file(latest, &text, &len, 64) == 0) {
        step = atoi(text);
        free(text);
        char *dir = checkpoint_dir(out_dir, step), *opt = path_join(dir, "optimizer.safetensors");
        if (m->lora) {
            if (model_lora_load(m, dir) < 0) fatal("resume: %s", srl_error);
        } else {
            Model saved;
            if (model_load(&saved, dir) < 0) fatal("resume: %s", srl_error);
            if (saved.n_params != m->n_params || saved.config.dim != m->config.dim ||
                saved.config.n_layers != m->config.n_layers || saved.config.vocab_size != m->config.vocab_size)
                fatal("resume: checkpoint %s does not match the model being trained", dir);
            model_copy_weights(m, &saved);
            model_free(&saved);
        }
        if (model_load_optimizer(m, opt) < 0) fatal("resume: %s", srl_error);
        fprintf(stderr, "resuming from %s (step %d)\n", dir, step);
        free(dir), free(opt);
    }
    free(latest);
    return step;
}

// The pointer goes first: a kill while the folders are being removed must not leave "latest"
// naming a half-removed checkpoint (a restart then trains again from the start, to the same
// result, since training is deterministic).
static void checkpoints_remove(const char *out_dir) {
    char *dir = path_join(out_dir, "checkpoints");
    char *latest = path_join(dir, "latest");
    unlink(latest);
    free(latest);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strncmp(e->d_name, "step-", 5) != 0) continue;
            char *p = path_join(dir, e->d_name);
            remove_dir_files(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

// The per-step log, train_log.jsonl: on resume, lines past the checkpoint's step are dropped
// (they will be written again), so an interrupted run ends with the same log as a clean one.
static FILE *log_open(const char *out_dir, int resume_step) {
    char *path = path_join(out_dir, "train_log.jsonl");
    Buf kept = {0};
    if (resume_step > 0) {
        JsonlReader r;
        if (jsonl_open(&r, path) == 0) {
            const JsonValue *rec;
            int rc;
            while ((rc = jsonl_next(&r, &rec)) > 0) {
                long long step;
                if (json_get_int(rec, "step", &step) == 0 && step < resume_step) {
                    // re-serialize is not needed: copy the raw line
                    buf_append_str(&kept, r.buf);
                    buf_append_char(&kept, '\n');
                }
            }
            jsonl_close(&r);
        }
    }
    if (write_file_atomic(path, kept.data ? kept.data : "", kept.len) < 0) fatal("%s", srl_error);
    buf_free(&kept);
    FILE *f = fopen(path, "ab");
    if (!f) fatal("%s: cannot open for appending", path);
    free(path);
    return f;
}

// The order of an epoch, from the seed alone: a random permutation of 0..n-1, cut into
// stretches of 16 batches whose sequences are sorted by length, so that a batch holds
// sequences of about the same length (less padding: a batch costs as much as its longest
// sequence); then the batches themselves are shuffled. batch_start[b] is where batch b begins.
static void epoch_order(int *order, int *batch_start, int n, int batch, const int *lens, uint64_t seed, int epoch) {
    Rng rng;
    rng_seed(&rng, seed * 1000003u + (uint64_t)epoch);
    for (int i = 0; i < n; i++) order[i] = i;
    rng_shuffle_ints(&rng, order, n);
    int stretch = 16 * batch;
    for (int s0 = 0; lens && s0 < n; s0 += stretch) {
        int s1 = s0 + stretch < n ? s0 + stretch : n;
        for (int i = s0 + 1; i < s1; i++) {  // insertion sort by length, longest first (stable)
            int x = order[i], j = i;
            while (j > s0 && lens[order[j - 1]] < lens[x]) order[j] = order[j - 1], j--;
            order[j] = x;
        }
    }
    int n_batches = (n + batch - 1) / batch;
    for (int b = 0; b < n_batches; b++) batch_start[b] = b * batch;
    rng_shuffle_ints(&rng, batch_start, n_batches);
}

// ----------------------------------------------------------------------------
// next-token training

// The next-token loss of rows of a set, forward and backward in micro-batches of at most
// `micro` rows, added to m's gradients: each target weighted as batch_weights says for a step of
// n_rows sequences (step_targets targets), times scale. Returns that weighted loss. The batch
// and the d_logprob buffer are the caller's, reused from call to call.
static double lm_accumulate(Model *m, const SeqSet *s, const int *rows, int n_rows, int micro, int per_sequence_mean,
                            long step_targets, float scale, Batch *b, float **d_logprob, size_t *d_cap) {
    double loss = 0.0;
    for (int r0 = 0; r0 < n_rows; r0 += micro) {
        int n = n_rows - r0 < micro ? n_rows - r0 : micro;
        batch_build(b, s, rows + r0, n);
        batch_weights(b, s, rows + r0, per_sequence_mean, n_rows, step_targets ? step_targets : 1);
        if (scale != 1.0f)
            for (int i = 0; i < b->B * b->T; i++) b->weights[i] *= scale;
        if ((size_t)(b->B * b->T) > *d_cap) *d_cap = (size_t)(b->B * b->T), *d_logprob = xrealloc(*d_logprob, *d_cap * sizeof(float));
        model_forward(m, b->inputs, b->targets, b->B, b->T);
        loss += model_weighted_nll(m, b->weights, *d_logprob);
        model_backward(m, *d_logprob);
    }
    return loss;
}

int train_lm(Model *m, const SeqSet *train, const SeqSet *heldout, const LMTrainConfig *cfg) {
    if (train->n == 0) return errorf("%s: no training sequences", cfg->label);
    int batch = cfg->batch_size > 0 ? cfg->batch_size : 16;
    if (batch > train->n) batch = train->n;
    int micro = cfg->micro_batch > 0 && cfg->micro_batch < batch ? cfg->micro_batch : batch;
    int steps_per_epoch = (train->n + batch - 1) / batch;
    int total = cfg->max_steps > 0 ? cfg->max_steps : cfg->epochs * steps_per_epoch;
    if (total < 1) total = 1;
    LRSchedule sched = {cfg->lr, cfg->lr_min, (int)(cfg->warmup * total + 0.5f), total, 0};
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, cfg->weight_decay};
    if (memory_check(model_bytes_train_model(m, micro, longest(train)), cfg->label) < 0) return -1;
    if (make_dirs(cfg->out_dir) < 0) return -1;
    int start = checkpoint_resume(m, cfg->out_dir);
    FILE *log = log_open(cfg->out_dir, start);
    int *order = xmalloc((size_t)train->n * sizeof(int)), *batch_start = xmalloc((size_t)steps_per_epoch * sizeof(int));
    float *d_logprob = NULL;
    size_t d_cap = 0;
    Batch b = {0};
    Progress progress;
    progress_start(&progress, cfg->label, total, "steps");
    progress_resume(&progress, start);
    long tokens_done = 0;
    double t_start = now_seconds();
    int order_epoch = -1, rc = 0;
    double last_loss = NAN, heldout_loss = NAN;
    for (int step = start; step < total; step++) {
        int epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
        if (epoch != order_epoch)
            epoch_order(order, batch_start, train->n, batch, train->lens, cfg->seed, epoch), order_epoch = epoch;
        const int *rows = order + batch_start[in_epoch];
        int n_rows = train->n - batch_start[in_epoch] < batch ? train->n - batch_start[in_epoch] : batch;
        long step_targets = 0;
        for (int r = 0; r < n_rows; r++) step_targets += seq_targets(train, rows[r]);
        model_zero_grad(m);
        double loss = lm_accumulate(m, train, rows, n_rows, micro, cfg->per_sequence_mean, step_targets, 1.0f, &b, &d_logprob,
                                    &d_cap);
        float norm = model_clip_grads(m, cfg->grad_clip);
        if (!isfinite(loss) || !isfinite(norm)) {
            rc = errorf("%s: step %d: the %s is not finite (loss %g, gradient norm %g); training stopped, the last "
                        "checkpoint in %s/checkpoints is kept", cfg->label, step, isfinite(loss) ? "gradient norm" : "loss",
                        loss, norm, cfg->out_dir);
            break;
        }
        float lr = lr_at_step(&sched, step);
        model_adamw_step(m, &adam, lr);
        tokens_done += step_targets;
        last_loss = loss;
        int evaluate = heldout && heldout->n > 0 &&
                       ((cfg->eval_every > 0 && (step + 1) % cfg->eval_every == 0) || step + 1 == total);
        if (evaluate) heldout_loss = eval_lm_loss(m, heldout, micro, cfg->per_sequence_mean);
        fprintf(log, "{\"step\": %d, \"epoch\": %d, \"loss\": %.6f, \"lr\": %.6g, \"grad_norm\": %.6f, \"targets\": %ld", step,
                epoch, loss, lr, norm, step_targets);
        if (evaluate) fprintf(log, ", \"heldout_loss\": %.6f", heldout_loss);
        fprintf(log, "}\n");
        fflush(log);
        if (!cfg->quiet) {
            char extra[160];
            double el = now_seconds() - t_start;
            snprintf(extra, sizeof extra, "loss %.4f%s lr %.2e %.0f tok/s", loss, "", lr, el > 0 ? tokens_done / el : 0);
            if (evaluate) {
                size_t l = strlen(extra);
                snprintf(extra + l, sizeof extra - l, " held-out %.4f", heldout_loss);
                progress_print_now(&progress, step + 1, extra);
            } else {
                progress_update(&progress, step + 1, extra);
            }
        }
        if (cfg->save_every > 0 && (step + 1) % cfg->save_every == 0 && step + 1 < total &&
            checkpoint_save(m, cfg->out_dir, step + 1) < 0) {
            rc = -1;
            break;
        }
    }
    if (!cfg->quiet && rc == 0) {
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4f held-out %.4f", last_loss, heldout_loss);
        progress_end(&progress, total, extra);
    }
    fclose(log);
    if (rc == 0) checkpoints_remove(cfg->out_dir);
    free(order), free(batch_start), free(d_logprob);
    batch_free(&b);
    return rc;
}

// ----------------------------------------------------------------------------
// DPO

// -log sigmoid(z) = log(1 + exp(-z)), computed without overflow for either sign of z.
static double neg_log_sigmoid(double z) { return z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z)); }

static double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)); }

double dpo_loss(const double *lp, const double *ref, const int *n_chosen_tokens, int P, float beta, float alpha,
                double *d_lp, DPOStats *stats) {
    if (stats) memset(stats, 0, sizeof *stats);
    double total = 0.0;
    for (int p = 0; p < P; p++) {
        double chosen_reward = beta * (lp[p] - ref[p]), rejected_reward = beta * (lp[P + p] - ref[P + p]);
        double z = chosen_reward - rejected_reward;
        int n = n_chosen_tokens[p] > 0 ? n_chosen_tokens[p] : 1;
        double loss = neg_log_sigmoid(z) + alpha * (-lp[p] / n);
        total += loss;
        if (d_lp) {
            // d(-log sigmoid(z))/dz = -sigmoid(-z); dz/dlp[c] = beta, dz/dlp[r] = -beta
            double g = -sigmoid(-z) * beta;
            d_lp[p] = (g - alpha / n) / P;
            d_lp[P + p] = -g / P;
        }
        if (stats) {
            stats->loss_sum += loss;
            stats->margin_sum += z;
            stats->chosen_reward_sum += chosen_reward;
            stats->rejected_reward_sum += rejected_reward;
            stats->chosen_logprob_sum += lp[p];
            stats->rejected_logprob_sum += lp[P + p];
            stats->correct += z > 0;
            stats->pairs++;
        }
    }
    return total / P;
}

int train_dpo(Model *m, const SeqSet *chosen, const SeqSet *rejected, const double *ref_chosen,
              const double *ref_rejected, const DPOTrainConfig *cfg) {
    int n = chosen->n;
    if (n == 0) return errorf("dpo: no pairs to train on");
    if (rejected->n != n) return errorf("dpo: %d chosen but %d rejected sequences", n, rejected->n);
    int batch = cfg->batch_size > 0 ? cfg->batch_size : 16;
    if (batch > n) batch = n;
    int micro = cfg->micro_batch > 0 && cfg->micro_batch < batch ? cfg->micro_batch : batch;
    int steps_per_epoch = (n + batch - 1) / batch, total = cfg->epochs * steps_per_epoch;
    if (total < 1) total = 1;
    LRSchedule sched = {cfg->lr, cfg->lr_min, (int)(cfg->warmup * total + 0.5f), total, 0};
    AdamWConfig adam = {0.9f, 0.95f, 1e-8f, cfg->weight_decay};
    int longest_pair = longest(chosen) > longest(rejected) ? longest(chosen) : longest(rejected);
    if (memory_check(model_bytes_train_model(m, 2 * micro, longest_pair), "dpo") < 0) return -1;
    // replay: its own shuffled order, cut into batches of replay_batch, cycled through by step
    const SeqSet *replay = cfg->replay && cfg->replay->n > 0 && cfg->replay_weight > 0 ? cfg->replay : NULL;
    int replay_batch = 0, replay_micro = 0, replay_batches = 0, replay_epoch = -1;
    int *replay_order = NULL, *replay_start = NULL;
    if (replay) {
        replay_batch = cfg->replay_batch > 0 ? cfg->replay_batch : batch;
        if (replay_batch > replay->n) replay_batch = replay->n;
        replay_micro = replay_batch < 2 * micro ? replay_batch : 2 * micro;
        replay_batches = (replay->n + replay_batch - 1) / replay_batch;
        if (memory_check(model_bytes_train_model(m, replay_micro, longest(replay)), "dpo replay") < 0) return -1;
        replay_order = xmalloc((size_t)replay->n * sizeof(int));
        replay_start = xmalloc((size_t)replay_batches * sizeof(int));
    }
    if (make_dirs(cfg->out_dir) < 0) return -1;
    int start = checkpoint_resume(m, cfg->out_dir);
    FILE *log = log_open(cfg->out_dir, start);
    // the pairs of a micro-batch as one set of 2P sequences: chosen first, then rejected
    SeqSet both = {0};
    both.n = 2 * n;
    both.ids = xmalloc((size_t)2 * n * sizeof(int *));
    both.mask = xmalloc((size_t)2 * n * sizeof(unsigned char *));
    both.lens = xmalloc((size_t)2 * n * sizeof(int));
    for (int i = 0; i < n; i++) {
        both.ids[i] = chosen->ids[i], both.mask[i] = chosen->mask[i], both.lens[i] = chosen->lens[i];
        both.ids[n + i] = rejected->ids[i], both.mask[n + i] = rejected->mask[i], both.lens[n + i] = rejected->lens[i];
    }
    int *order = xmalloc((size_t)n * sizeof(int)), *rows = xmalloc((size_t)2 * micro * sizeof(int));
    int *batch_start = xmalloc((size_t)steps_per_epoch * sizeof(int));
    int *n_chosen = xmalloc((size_t)micro * sizeof(int));
    double *lp = xmalloc((size_t)2 * micro * sizeof(double)), *ref = xmalloc((size_t)2 * micro * sizeof(double));
    double *d_lp = xmalloc((size_t)2 * micro * sizeof(double));
    float *d_logprob = NULL;
    size_t d_cap = 0;
    Batch b = {0};
    Progress progress;
    progress_start(&progress, "dpo", total, "steps");
    progress_resume(&progress, start);
    int order_epoch = -1, rc = 0;
    DPOStats last = {0};
    for (int step = start; step < total; step++) {
        int epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
        if (epoch != order_epoch) epoch_order(order, batch_start, n, batch, NULL, cfg->seed, epoch), order_epoch = epoch;
        const int *pairs = order + batch_start[in_epoch];
        int n_pairs = n - batch_start[in_epoch] < batch ? n - batch_start[in_epoch] : batch;
        model_zero_grad(m);
        DPOStats st = {0};
        for (int p0 = 0; p0 < n_pairs; p0 += micro) {
            int P = n_pairs - p0 < micro ? n_pairs - p0 : micro;
            for (int p = 0; p < P; p++) {
                int i = pairs[p0 + p];
                rows[p] = i, rows[P + p] = n + i;
                ref[p] = ref_chosen[i], ref[P + p] = ref_rejected[i];
                n_chosen[p] = seq_targets(chosen, i);
            }
            batch_build(&b, &both, rows, 2 * P);
            if ((size_t)(b.B * b.T) > d_cap) d_cap = (size_t)(b.B * b.T), d_logprob = xrealloc(d_logprob, d_cap * sizeof(float));
            model_forward(m, b.inputs, b.targets, b.B, b.T);
            model_sequence_logprobs(m, b.mask, lp);
            DPOStats part;
            dpo_loss(lp, ref, n_chosen, P, cfg->beta, cfg->nll_alpha, d_lp, &part);
            // dpo_loss averages over this micro-batch's P pairs; the step averages over n_pairs
            for (int r = 0; r < 2 * P; r++)
                for (int t = 0; t < b.T; t++) d_logprob[r * b.T + t] = (float)(d_lp[r] * P / n_pairs) * b.mask[r * b.T + t];
            model_backward(m, d_logprob);
            st.loss_sum += part.loss_sum, st.margin_sum += part.margin_sum;
            st.chosen_reward_sum += part.chosen_reward_sum, st.rejected_reward_sum += part.rejected_reward_sum;
            st.chosen_logprob_sum += part.chosen_logprob_sum, st.rejected_logprob_sum += part.rejected_logprob_sum;
            st.correct += part.correct, st.pairs += part.pairs;
        }
        // replay: + replay_weight * (mean over the replay batch of each sequence's mean NLL)
        double replay_loss = NAN;
        if (replay) {
            int e = step / replay_batches, k = step % replay_batches;
            // a seed of its own, so that the replay's order is not the pairs' order
            if (e != replay_epoch)
                epoch_order(replay_order, replay_start, replay->n, replay_batch, replay->lens, cfg->seed + 7919, e),
                    replay_epoch = e;
            const int *rrows = replay_order + replay_start[k];
            int n_rows = replay->n - replay_start[k] < replay_batch ? replay->n - replay_start[k] : replay_batch;
            replay_loss = lm_accumulate(m, replay, rrows, n_rows, replay_micro, 1, 0, cfg->replay_weight, &b, &d_logprob,
                                        &d_cap) / cfg->replay_weight;
        }
        float norm = model_clip_grads(m, cfg->grad_clip);
        double loss = st.loss_sum / st.pairs;
        if (!isfinite(loss) || !isfinite(norm)) {
            rc = errorf("dpo: step %d: the %s is not finite (loss %g, gradient norm %g); training stopped, the last "
                        "checkpoint in %s/checkpoints is kept", step, isfinite(loss) ? "gradient norm" : "loss", loss, norm,
                        cfg->out_dir);
            break;
        }
        float lr = lr_at_step(&sched, step);
        model_adamw_step(m, &adam, lr);
        last = st;
        fprintf(log,
                "{\"step\": %d, \"epoch\": %d, \"loss\": %.6f, \"margin\": %.6f, \"accuracy\": %.4f, \"chosen_logprob\": %.4f, "
                "\"rejected_logprob\": %.4f, \"chosen_reward\": %.6f, \"rejected_reward\": %.6f, \"lr\": %.6g, \"grad_norm\": "
                "%.6f, \"pairs\": %d",
                step, epoch, loss, st.margin_sum / st.pairs, (double)st.correct / st.pairs, st.chosen_logprob_sum / st.pairs,
                st.rejected_logprob_sum / st.pairs, st.chosen_reward_sum / st.pairs, st.rejected_reward_sum / st.pairs, lr,
                norm, st.pairs);
        if (replay) fprintf(log, ", \"replay_loss\": %.6f", replay_loss);  // its mean NLL, unweighted
        fprintf(log, "}\n");
        fflush(log);
        if (!cfg->quiet) {
            char extra[128];
            snprintf(extra, sizeof extra, "loss %.4f margin %.4f acc %.2f lr %.2e", loss, st.margin_sum / st.pairs,
                     (double)st.correct / st.pairs, lr);
            progress_update(&progress, step + 1, extra);
        }
        if (cfg->save_every > 0 && (step + 1) % cfg->save_every == 0 && step + 1 < total &&
            checkpoint_save(m, cfg->out_dir, step + 1) < 0) {
            rc = -1;
            break;
        }
    }
    if (!cfg->quiet && rc == 0 && last.pairs) {
        char extra[128];
        snprintf(extra, sizeof extra, "loss %.4f margin %.4f acc %.2f", last.loss_sum / last.pairs,
                 last.margin_sum / last.pairs, (double)last.correct / last.pairs);
        progress_end(&progress, total, extra);
    }
    fclose(log);
    if (rc == 0) checkpoints_remove(cfg->out_dir);
    free(both.ids), free(both.mask), free(both.lens);
    free(order), free(batch_start), free(rows), free(n_chosen), free(lp), free(ref), free(d_lp), free(d_logprob);
    free(replay_order), free(replay_start);
    batch_free(&b);
    return rc;
}
