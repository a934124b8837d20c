// dpo.c: SFT and DPO: losses and training loops.
#include "dpo.h"

#include <math.h>
#include <string.h>

#include "model.h"
#include "util.h"

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
