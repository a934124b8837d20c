// dpo.h: the two training objectives of the method and their loops: supervised fine-tuning
// (SFT, for IFT and EFT) and Direct Preference Optimization (DPO, for each self-rewarding
// iteration), with the optional NLL term of iterative RPO.
#ifndef SRL_DPO_H
#define SRL_DPO_H

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

#endif
