// dpo.h: the training objectives of the method and their loops:
//   - next-token training on masked sequences: pretraining (every token) and supervised
//     fine-tuning (SFT: the assistant's tokens only), for IFT and EFT;
//   - Direct Preference Optimization (DPO) on (chosen, rejected) pairs, for each
//     self-rewarding iteration, with the optional NLL term of iterative RPO.
// Both loops log every step, print progress with rate and ETA, save checkpoints that a rerun
// resumes from exactly, and write the final model only when training has finished.
#ifndef SRL_DPO_H
#define SRL_DPO_H

#include <stdint.h>

#include "model.h"

// ----------------------------------------------------------------------------
// sequences with a target mask

typedef struct {
    int n;                   // number of sequences
    int **ids;               // ids[i]: the tokens of sequence i
    int *lens;               // lens[i]: its length
    unsigned char **mask;    // mask[i][t] = 1: token t is a training target (predicted from tokens < t)
    char **keys;             // keys[i]: where the sequence came from (a record id), may be NULL
} SeqSet;

void seqset_add(SeqSet *s, const int *ids, const unsigned char *mask, int len, const char *key);
void seqset_free(SeqSet *s);
long seqset_target_count(const SeqSet *s);

// ----------------------------------------------------------------------------
// next-token training (pretraining and SFT)

typedef struct {
    const char *label;       // "pretrain", "sft": for progress lines
    int epochs;              // passes over the data (ignored when max_steps > 0)
    int max_steps;           // optimizer steps, when > 0
    int batch_size;          // sequences per optimizer step
    int micro_batch;         // sequences per forward/backward; gradients accumulate (0: = batch)
    float lr, lr_min;        // peak and final learning rate (cosine decay after warmup)
    float warmup;            // warmup as a fraction of the steps
    float weight_decay, grad_clip;
    int per_sequence_mean;   // 1: each sequence's mean loss counts equally; 0: each token does
    uint64_t seed;           // data order
    int eval_every;          // steps between held-out evaluations (0: only at the end)
    int save_every;          // steps between checkpoints (0: none)
    const char *out_dir;     // checkpoints and train_log.jsonl go here
    int quiet;               // no progress lines
} LMTrainConfig;

// Trains m in place. Resumes from out_dir's latest checkpoint when there is one. heldout may
// be NULL. Returns 0, or -1 with srl_error (a non-finite loss stops training, naming the step).
// On return m's gradients are the last step's, after clipping (test_model compares them).
int train_lm(Model *m, const SeqSet *train, const SeqSet *heldout, const LMTrainConfig *cfg);
// The mean loss over a set (per token, or per sequence), in batches of `batch` sequences.
double eval_lm_loss(Model *m, const SeqSet *set, int batch, int per_sequence_mean);
// Summed log-probs of each sequence's target tokens: out (set->n).
void sequence_logprobs(Model *m, const SeqSet *set, int batch, double *out);

// ----------------------------------------------------------------------------
// DPO

typedef struct {
    double loss_sum;         // summed over pairs
    double margin_sum;       // reward margin beta*((lp_c - ref_c) - (lp_r - ref_r)), summed
    double chosen_reward_sum, rejected_reward_sum;   // beta*(lp - ref) of each side, summed
    double chosen_logprob_sum, rejected_logprob_sum; // policy log-probs, summed
    int correct;             // pairs whose margin is positive (reward accuracy)
    int pairs;
} DPOStats;

// Sigmoid DPO over P pairs, from the policy's summed response log-probs lp (2P: chosen pairs
// first, then rejected) and the frozen reference's ref (2P):
//   z_p = beta * ((lp[c] - ref[c]) - (lp[r] - ref[r]))
//   loss = mean_p [ -log sigmoid(z_p) + alpha * (-lp[c] / n_chosen_tokens[p]) ]
// alpha > 0 adds iterative RPO's length-normalized NLL on the chosen response. Returns the
// loss; d_lp (2P, may be NULL) receives dloss/dlp; stats (may be NULL) is filled.
double dpo_loss(const double *lp, const double *ref, const int *n_chosen_tokens, int P, float beta, float alpha,
                double *d_lp, DPOStats *stats);

typedef struct {
    float beta;              // 0.1
    float nll_alpha;         // 0: plain DPO; 1: iterative RPO's NLL term on the chosen
    int epochs;
    int batch_size;          // pairs per optimizer step
    int micro_batch;         // pairs per forward/backward (0: = batch)
    float lr, lr_min, warmup, weight_decay, grad_clip;
    uint64_t seed;
    int save_every;
    const char *out_dir;
    int quiet;
    // Replay: each step also trains on replay_batch sequences of `replay` (say the EFT data the
    // judge learned from) with the SFT loss, each sequence's mean NLL weighted replay_weight /
    // replay_batch, so that the judging is trained while DPO moves the answering. NULL: none.
    const SeqSet *replay;
    float replay_weight;
    int replay_batch;
} DPOTrainConfig;

// Trains m on pairs (chosen[i], rejected[i]) with the reference log-probs ref_chosen and
// ref_rejected (computed once, from the frozen model that made the pairs), plus the replay
// loss when cfg->replay is set. Logs every step to
// out_dir/train_log.jsonl; resumes from a checkpoint. -1 with srl_error. On return m's
// gradients are the last step's, after clipping (test_model compares them).
int train_dpo(Model *m, const SeqSet *chosen, const SeqSet *rejected, const double *ref_chosen,
              const double *ref_rejected, const DPOTrainConfig *cfg);

#endif
