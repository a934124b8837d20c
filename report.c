// report.c: the report of a self-rewarding run: report.json, report.md, SVG charts, and the
// summary table. Everything is read back from the run folder's files (so a report can be
// redone at any time) and printed with fixed precision (so the same run gives the same bytes).
//
// Measured per model (SFT baseline, M1, M2, ...) on the held-out sets:
//   instruction following: accuracy (score 5: every constraint met) with a bootstrap
//   interval, mean rubric score, mean length; head-to-head against the model before it
//   (grader scores per item) and the paired bootstrap interval of the accuracy difference;
//   judging: pairwise accuracy, 5-best, exact match, Spearman, Kendall tau-b, parse rate.
// Measured per iteration, on policy (the grader looks at the loop's files afterwards; it never
// takes part in the loop): prompts made and kept, candidates, judgments, pairs kept and
// dropped, the judge's agreement with the grader on the candidates it scored, how often the
// chosen answer is better, equal or worse than the rejected one, and DPO's loss, margin and
// accuracy.
#define _GNU_SOURCE
#include "report.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "util.h"
#include "world.h"

#define MAX_MODELS 16

typedef struct {
    char name[16];
    int n;                   // items
    char **ids;
    double *score;           // grader score per item (-1: not gradeable)
    double *exact;           // 1 when score 5
    double accuracy, acc_lo, acc_hi, mean_score, mean_tokens;
    double repeat_share;   // answers naming one item twice
    double pairwise, five_best, exact_match, spearman, kendall, parse_rate;
    // the judge's outputs against the grader's judgments: agreeing line for line, and where
    // the first differing line is (the restated request, the restated answer, a check)
    double right_throughout, first_wrong_request, first_wrong_answer, first_wrong_check;
    // check by check: of the checks the grader fails, the share the judge fails too; of those
    // it passes, the share the judge passes too
    double fails_caught, passes_kept;
    // against the model before
    int wins, ties, losses;
    double diff, diff_lo, diff_hi;
    // per kind of family (fact, form): accuracy and its interval, and against the model before
    int *kind;               // per item: WORLD_KIND_*, -1 when not gradeable
    int kind_n[WORLD_N_KINDS];
    double kind_acc[WORLD_N_KINDS], kind_lo[WORLD_N_KINDS], kind_hi[WORLD_N_KINDS];
    double kind_diff[WORLD_N_KINDS], kind_diff_lo[WORLD_N_KINDS], kind_diff_hi[WORLD_N_KINDS];
    // at the loop's temperature: per item the share of its sampled answers scored 5 (NaN when
    // none was sampled), per kind the mean share, its interval, and the paired difference
    // against the model before
    int samples;
    double *sampled;         // (n)
    double kind_sampled[WORLD_N_KINDS], kind_sampled_lo[WORLD_N_KINDS], kind_sampled_hi[WORLD_N_KINDS];
    double kind_sampled_diff[WORLD_N_KINDS], kind_sampled_diff_lo[WORLD_N_KINDS], kind_sampled_diff_hi[WORLD_N_KINDS];
} ModelReport;

// The judge's metrics as srl eval writes them to metrics.json (the same keys go into
// report.json), each with the ModelReport field it is read into: one list for reading and
// writing, so a metric added to srl eval is added here once.
static const struct {
    const char *key;
    size_t offset;
} judge_metric_keys[] = {
    {"judge_pairwise", offsetof(ModelReport, pairwise)},
    {"judge_five_best", offsetof(ModelReport, five_best)},
    {"judge_exact", offsetof(ModelReport, exact_match)},
    {"judge_spearman", offsetof(ModelReport, spearman)},
    {"judge_kendall", offsetof(ModelReport, kendall)},
    {"judge_parse_rate", offsetof(ModelReport, parse_rate)},
    {"judge_right_throughout", offsetof(ModelReport, right_throughout)},
    {"judge_first_wrong_request", offsetof(ModelReport, first_wrong_request)},
    {"judge_first_wrong_answer", offsetof(ModelReport, first_wrong_answer)},
    {"judge_first_wrong_check", offsetof(ModelReport, first_wrong_check)},
    {"judge_fails_caught", offsetof(ModelReport, fails_caught)},
    {"judge_passes_kept", offsetof(ModelReport, passes_kept)},
};
enum { N_JUDGE_METRICS = (int)(sizeof judge_metric_keys / sizeof judge_metric_keys[0]) };

static double *judge_metric_field(ModelReport *r, int k) { return (double *)((char *)r + judge_metric_keys[k].offset); }

typedef struct {
    int generated, kept_prompts, candidates, samples, unparsed, pairs, tie, too_few, low_chosen;
    double onpolicy_pairwise, onpolicy_agree;   // judge vs grader on the loop's own candidates
    int onpolicy_pairs;
    JudgmentLines lines;                        // the judge's samples on them beside the grader's judgments
    int chosen_better, chosen_equal, chosen_worse;
    double candidate_accuracy, chosen_accuracy;
    int top_scored;           // candidates every judge sample scored 5
    double top_accuracy;      // the share of them that meet every constraint (beside candidate_accuracy)
    double dpo_loss, dpo_margin, dpo_accuracy;  // means over the last epoch's steps
    int dpo_steps;
    double *step_loss, *step_margin;
    GapResult gap, kind_gap[WORLD_N_KINDS];     // the generation-verification gap on the loop's prompts
} IterationReport;

// M1's gap on the held-out requests (eval/m1/gap.json, measured before the loop), per kind.
typedef struct {
    int present;
    GapResult all, kind[WORLD_N_KINDS];
} HeldOutGap;

static double read_metric(const JsonValue *root, const char *key) {
    double v;
    return json_get_number(root, key, &v) == 0 ? v : NAN;
}

static int load_json_file(const char *path, JsonDoc *doc, char **text) {
    size_t len;
    if (read_file(path, text, &len, 64u << 20) < 0) return -1;
    if (json_parse(doc, *text, len) < 0) {
        char msg[sizeof srl_error];
        snprintf(msg, sizeof msg, "%s", srl_error);
        free(*text);
        return errorf("%s: %s", path, msg);
    }
    return 0;
}

// The mean of x over r's items of kind k that have a value (x not NaN), with its bootstrap
// interval; returns how many items that is.
static int kind_mean_ci(const ModelReport *r, const double *x, int k, double *mean, double *lo, double *hi) {
    double *v = xmalloc((size_t)(r->n ? r->n : 1) * sizeof(double)), sum = 0;
    int m = 0;
    for (int i = 0; i < r->n; i++)
        if (r->kind[i] == k && !isnan(x[i])) sum += x[i], v[m++] = x[i];
    *mean = m ? sum / m : NAN;
    bootstrap_mean_ci(v, m, 2000, 7, 0.95, lo, hi);
    free(v);
    return m;
}

static int load_model_report(const char *run_dir, const char *name, ModelReport *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    char sub[64];
    snprintf(sub, sizeof sub, "eval/%s/metrics.json", name);
    char *path = path_join(run_dir, sub), *text;
    JsonDoc doc;
    if (load_json_file(path, &doc, &text) < 0) {
        free(path);
        return -1;
    }
    r->mean_score = read_metric(doc.root, "mean_score");
    r->mean_tokens = read_metric(doc.root, "mean_tokens");
    r->repeat_share = read_metric(doc.root, "repeat_share");
    for (int k = 0; k < N_JUDGE_METRICS; k++)
        *judge_metric_field(r, k) = read_metric(doc.root, judge_metric_keys[k].key);
    json_free(&doc);
    free(text);
    free(path);
    snprintf(sub, sizeof sub, "eval/%s/responses.jsonl", name);
    path = path_join(run_dir, sub);
    JsonlReader rd;
    if (jsonl_open(&rd, path) < 0) {
        free(path);
        return -1;
    }
    const JsonValue *rec;
    int rc, cap = 0;
    while ((rc = jsonl_next(&rd, &rec)) > 0) {
        const char *id = json_get_string(rec, "id");
        double s;
        if (r->n == cap) {  // arrays grow by doubling: a run's files hold thousands of records
            cap = grow_capacity(cap);
            r->ids = xrealloc(r->ids, (size_t)cap * sizeof(char *));
            r->score = xrealloc(r->score, (size_t)cap * sizeof(double));
            r->exact = xrealloc(r->exact, (size_t)cap * sizeof(double));
            r->kind = xrealloc(r->kind, (size_t)cap * sizeof(int));
            r->sampled = xrealloc(r->sampled, (size_t)cap * sizeof(double));
        }
        r->ids[r->n] = xstrdup(id ? id : "?");
        r->score[r->n] = json_get_number(rec, "score", &s) == 0 ? s : -1;
        r->exact[r->n] = r->score[r->n] == 5;
        double samples, perfect;
        int sampled = json_get_number(rec, "samples", &samples) == 0 && samples >= 1 && samples <= 1 << 20 &&
                      json_get_number(rec, "sampled_perfect", &perfect) == 0 && perfect >= 0 && perfect <= samples;
        r->sampled[r->n] = sampled ? perfect / samples : NAN;
        if (sampled) r->samples = (int)samples;
        const char *family = json_get_string(rec, "family");
        r->kind[r->n] = -1;
        for (int f = 0; family && f < world_n_families; f++)
            if (strcmp(family, world_family_names[f]) == 0) r->kind[r->n] = world_family_kind(f);
        r->n++;
    }
    jsonl_close(&rd);
    free(path);
    if (rc < 0) return -1;
    double sum = 0;
    for (int i = 0; i < r->n; i++) sum += r->exact[i];
    r->accuracy = r->n ? sum / r->n : NAN;
    bootstrap_mean_ci(r->exact, r->n, 2000, 7, 0.95, &r->acc_lo, &r->acc_hi);
    for (int k = 0; k < WORLD_N_KINDS; k++) {
        r->kind_n[k] = kind_mean_ci(r, r->exact, k, &r->kind_acc[k], &r->kind_lo[k], &r->kind_hi[k]);
        kind_mean_ci(r, r->sampled, k, &r->kind_sampled[k], &r->kind_sampled_lo[k], &r->kind_sampled_hi[k]);
    }
    return 0;
}

static void free_model_report(ModelReport *r) {
    for (int i = 0; i < r->n; i++) free(r->ids[i]);
    free(r->ids), free(r->score), free(r->exact), free(r->kind), free(r->sampled);
}

// Items of a, sorted by id (then by position, so that of two records with one id the first
// is found, as a scan in file order would): b's items are looked up by binary search when the
// two files do not list the same items in the same order.
typedef struct {
    const char *id;
    int index;
} IdIndex;

static int compare_id_index(const void *x, const void *y) {
    const IdIndex *a = x, *b = y;
    int c = strcmp(a->id, b->id);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static int find_id(const IdIndex *sorted, int n, const char *id) {
    int lo = 0, hi = n;  // the first entry whose id is >= id
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(sorted[mid].id, id) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && strcmp(sorted[lo].id, id) == 0 ? sorted[lo].index : -1;
}

// match[i]: the index in a of b's item i (by id), or -1.
static void match_by_id(char *const *ids_a, int n_a, char *const *ids_b, int n_b, int *match) {
    IdIndex *sorted = NULL;  // made the first time the two files' orders differ
    for (int i = 0; i < n_b; i++) {
        // the files list the same items in the same order; look further only when they do not
        match[i] = i < n_a && strcmp(ids_a[i], ids_b[i]) == 0 ? i : -1;
        if (match[i] >= 0) continue;
        if (!sorted) {
            sorted = xmalloc((size_t)(n_a ? n_a : 1) * sizeof *sorted);
            for (int k = 0; k < n_a; k++) sorted[k].id = ids_a[k], sorted[k].index = k;
            qsort(sorted, (size_t)n_a, sizeof *sorted, compare_id_index);
        }
        match[i] = find_id(sorted, n_a, ids_b[i]);
    }
    free(sorted);
}

void head_to_head(char *const *ids_a, const double *score_a, int n_a, char *const *ids_b, const double *score_b, int n_b,
                  uint64_t seed, HeadToHead *h) {
    memset(h, 0, sizeof *h);
    double *xa = xmalloc((size_t)(n_b ? n_b : 1) * sizeof(double)), *xb = xmalloc((size_t)(n_b ? n_b : 1) * sizeof(double));
    int *match = xmalloc((size_t)(n_b ? n_b : 1) * sizeof(int));
    match_by_id(ids_a, n_a, ids_b, n_b, match);
    for (int i = 0; i < n_b; i++) {
        int j = match[i];
        if (score_b[i] < 0 || j < 0) continue;
        if (score_b[i] > score_a[j]) h->wins++;
        else if (score_b[i] < score_a[j]) h->losses++;
        else h->ties++;
        xa[h->n] = score_a[j] == 5, xb[h->n] = score_b[i] == 5, h->n++;
    }
    bootstrap_paired_diff_ci(xb, xa, h->n, 2000, seed, 0.95, &h->diff, &h->diff_lo, &h->diff_hi);
    free(xa), free(xb), free(match);
}

// b against a, the model before it: over every item, and over the items of each kind (b's
// items of other kinds are given no score, so head_to_head leaves them out).
static void compare_models(const ModelReport *a, ModelReport *b) {
    HeadToHead h;
    head_to_head(a->ids, a->score, a->n, b->ids, b->score, b->n, 11, &h);
    b->wins = h.wins, b->ties = h.ties, b->losses = h.losses;
    b->diff = h.diff, b->diff_lo = h.diff_lo, b->diff_hi = h.diff_hi;
    double *score = xmalloc((size_t)(b->n ? b->n : 1) * sizeof(double));
    for (int k = 0; k < WORLD_N_KINDS; k++) {
        for (int i = 0; i < b->n; i++) score[i] = b->kind[i] == k ? b->score[i] : -1;
        head_to_head(a->ids, a->score, a->n, b->ids, score, b->n, 11, &h);
        b->kind_diff[k] = h.diff, b->kind_diff_lo[k] = h.diff_lo, b->kind_diff_hi[k] = h.diff_hi;
    }
    // the sampled shares, item by item: the paired bootstrap over the items both sampled
    int *match = xmalloc((size_t)(b->n ? b->n : 1) * sizeof(int));
    double *xa = xmalloc((size_t)(b->n ? b->n : 1) * sizeof(double)), *xb = xmalloc((size_t)(b->n ? b->n : 1) * sizeof(double));
    match_by_id(a->ids, a->n, b->ids, b->n, match);
    for (int k = 0; k < WORLD_N_KINDS; k++) {
        int m = 0;
        for (int i = 0; i < b->n; i++)
            if (b->kind[i] == k && match[i] >= 0 && !isnan(b->sampled[i]) && !isnan(a->sampled[match[i]]))
                xa[m] = a->sampled[match[i]], xb[m++] = b->sampled[i];
        bootstrap_paired_diff_ci(xb, xa, m, 2000, 11, 0.95, &b->kind_sampled_diff[k], &b->kind_sampled_diff_lo[k],
                                 &b->kind_sampled_diff_hi[k]);
    }
    free(score), free(match), free(xa), free(xb);
}

// eval/m1/gap.json, when the run measured it.
static void load_held_out_gap(const char *run_dir, HeldOutGap *g) {
    memset(g, 0, sizeof *g);
    char *path = path_join(run_dir, "eval/m1/gap.json"), *text;
    JsonDoc doc;
    if (file_exists(path) && load_json_file(path, &doc, &text) == 0) {
        g->present = 1;
        judge_gap_read(doc.root, "all_", &g->all);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "%s_", world_kind_names[k]);
            judge_gap_read(doc.root, prefix, &g->kind[k]);
        }
        json_free(&doc), free(text);
    }
    free(path);
}

// The loop's own candidates seen by the grader: per prompt, the judge's means against the
// grader's scores (pairwise accuracy over candidate pairs with different grader scores), the
// share of candidates whose rounded mean equals the grader's score, and the pairs' quality.
static void load_iteration_report(const char *run_dir, int t, int world_format, IterationReport *it) {
    memset(it, 0, sizeof *it);
    char sub[96];
    snprintf(sub, sizeof sub, "iter%d/prompts.stats.json", t);
    char *path = path_join(run_dir, sub), *text;
    JsonDoc doc;
    if (load_json_file(path, &doc, &text) == 0) {
        it->generated = (int)read_metric(doc.root, "generated");
        it->kept_prompts = (int)read_metric(doc.root, "kept");
        json_free(&doc), free(text);
    }
    free(path);
    snprintf(sub, sizeof sub, "iter%d/pairs.stats.json", t);
    path = path_join(run_dir, sub);
    if (load_json_file(path, &doc, &text) == 0) {
        it->pairs = (int)read_metric(doc.root, "kept");
        it->tie = (int)read_metric(doc.root, "dropped_tie");
        it->too_few = (int)read_metric(doc.root, "dropped_too_few");
        double low = read_metric(doc.root, "dropped_low_chosen");  // absent in runs made before --min-chosen
        it->low_chosen = isfinite(low) ? (int)low : 0;
        it->candidates = (int)read_metric(doc.root, "candidates");
        it->samples = (int)read_metric(doc.root, "judge_samples");
        it->unparsed = (int)read_metric(doc.root, "unparsed_samples");
        json_free(&doc), free(text);
    }
    free(path);
    // judgments: group by prompt id (the file is in prompt order, candidates together)
    snprintf(sub, sizeof sub, "iter%d/judgments.jsonl", t);
    path = path_join(run_dir, sub);
    JsonlReader rd;
    int n = 0, cap = 0, agree = 0, scored = 0, exact = 0, top_exact = 0;
    double *gold = NULL, *judge = NULL;
    unsigned char *ok = NULL;
    char **ids = NULL;
    int *kind = NULL;
    if (jsonl_open(&rd, path) == 0) {
        const JsonValue *rec;
        while (jsonl_next(&rd, &rec) > 0) {
            const char *id = json_get_string(rec, "id"), *prompt = json_get_string(rec, "prompt");
            const char *response = json_get_string(rec, "response");
            if (!id || !prompt || !response) continue;
            WorldGrade g;
            int gradeable = world_grade(prompt, response, &g) == 0;
            double mean;
            int has_mean = json_get_number(rec, "mean", &mean) == 0;
            if (n == cap) {
                cap = grow_capacity(cap);
                gold = xrealloc(gold, (size_t)cap * sizeof(double));
                judge = xrealloc(judge, (size_t)cap * sizeof(double));
                ok = xrealloc(ok, (size_t)cap);
                ids = xrealloc(ids, (size_t)cap * sizeof(char *));
                kind = xrealloc(kind, (size_t)cap * sizeof(int));
            }
            kind[n] = gradeable ? world_family_kind(g.family) : -1;
            gold[n] = gradeable ? g.score : NAN;
            judge[n] = has_mean ? mean : NAN;
            ok[n] = has_mean && gradeable;
            ids[n] = xstrdup(id);
            if (gradeable) exact += g.score == 5;
            if (ok[n]) scored++, agree += (int)lround(mean) == g.score;
            if (ok[n] && mean == 5.0) it->top_scored++, top_exact += g.score == 5;
            const JsonValue *texts = json_get(rec, "judgments");
            char *reference = world_format && gradeable && texts && texts->type == JSON_ARRAY ? world_judgment(prompt, response) : NULL;
            for (const JsonValue *x = reference ? texts->child : NULL; x; x = x->next)
                if (x->type == JSON_STRING) judgment_lines_add(&it->lines, x->string, reference);
            free(reference);
            n++;
        }
        jsonl_close(&rd);
    }
    free(path);
    it->candidate_accuracy = n ? (double)exact / n : NAN;
    it->top_accuracy = it->top_scored ? (double)top_exact / it->top_scored : NAN;
    it->onpolicy_agree = scored ? (double)agree / scored : NAN;
    // items: consecutive records of one prompt id whose instruction the grader understands
    JudgeItem *items = xcalloc((size_t)(n ? n : 1), sizeof(JudgeItem));
    int n_items = 0;
    for (int i0 = 0; i0 < n;) {
        int i1 = i0;
        while (i1 < n && strcmp(ids[i1], ids[i0]) == 0) i1++;
        if (!isnan(gold[i0])) items[n_items++] = (JudgeItem){i1 - i0, gold + i0, judge + i0, ok + i0};
        i0 = i1;
    }
    JudgeMetrics jm = {0};
    judge_metrics(items, n_items, &jm);
    it->onpolicy_pairwise = jm.pairwise_accuracy;
    it->onpolicy_pairs = jm.n_pairs;
    // the gap: over every prompt the grader understands, and per kind of family
    GapItem *gaps = xmalloc((size_t)(n ? n : 1) * sizeof(GapItem));
    for (int k = -1; k < WORLD_N_KINDS; k++) {
        int n_gaps = 0;
        for (int i0 = 0; i0 < n;) {
            int i1 = i0;
            while (i1 < n && strcmp(ids[i1], ids[i0]) == 0) i1++;
            if (kind[i0] >= 0 && (k < 0 || kind[i0] == k)) gaps[n_gaps++] = (GapItem){i1 - i0, judge + i0, gold + i0};
            i0 = i1;
        }
        judge_gap(gaps, n_gaps, 13 + (uint64_t)t, k < 0 ? &it->gap : &it->kind_gap[k]);
    }
    free(gaps);
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids), free(gold), free(judge), free(ok), free(items), free(kind);
    // pairs: chosen against rejected, by the grader
    snprintf(sub, sizeof sub, "iter%d/pairs.jsonl", t);
    path = path_join(run_dir, sub);
    int chosen_exact = 0, n_pairs = 0;
    if (jsonl_open(&rd, path) == 0) {
        const JsonValue *rec;
        while (jsonl_next(&rd, &rec) > 0) {
            const JsonValue *pr = json_get(rec, "prompt"), *ch = json_get(rec, "chosen"), *rj = json_get(rec, "rejected");
            const char *user = pr && pr->child ? json_get_string(pr->child, "content") : NULL;
            const char *cs = ch && ch->child ? json_get_string(ch->child, "content") : NULL;
            const char *rs = rj && rj->child ? json_get_string(rj->child, "content") : NULL;
            WorldGrade gc, gr;
            if (!user || !cs || !rs || world_grade(user, cs, &gc) < 0 || world_grade(user, rs, &gr) < 0) continue;
            n_pairs++;
            chosen_exact += gc.score == 5;
            if (gc.score > gr.score) it->chosen_better++;
            else if (gc.score == gr.score) it->chosen_equal++;
            else it->chosen_worse++;
        }
        jsonl_close(&rd);
    }
    free(path);
    it->chosen_accuracy = n_pairs ? (double)chosen_exact / n_pairs : NAN;
    // DPO: every step's loss and margin; the summary is the mean over the last epoch
    snprintf(sub, sizeof sub, "m%d/train_log.jsonl", t + 1);
    path = path_join(run_dir, sub);
    int last_epoch = -1, steps_cap = 0;
    if (jsonl_open(&rd, path) == 0) {
        const JsonValue *rec;
        while (jsonl_next(&rd, &rec) > 0) {
            double loss, margin, acc, epoch;
            if (json_get_number(rec, "loss", &loss) < 0 || json_get_number(rec, "margin", &margin) < 0) continue;
            json_get_number(rec, "accuracy", &acc);
            json_get_number(rec, "epoch", &epoch);
            if (it->dpo_steps == steps_cap) {
                steps_cap = grow_capacity(steps_cap);
                it->step_loss = xrealloc(it->step_loss, (size_t)steps_cap * sizeof(double));
                it->step_margin = xrealloc(it->step_margin, (size_t)steps_cap * sizeof(double));
            }
            it->step_loss[it->dpo_steps] = loss;
            it->step_margin[it->dpo_steps] = margin;
            it->dpo_steps++;
            if ((int)epoch != last_epoch) last_epoch = (int)epoch, it->dpo_loss = it->dpo_margin = it->dpo_accuracy = 0, n_pairs = 0;
            it->dpo_loss += loss, it->dpo_margin += margin, it->dpo_accuracy += acc, n_pairs++;
        }
        jsonl_close(&rd);
        if (n_pairs) it->dpo_loss /= n_pairs, it->dpo_margin /= n_pairs, it->dpo_accuracy /= n_pairs;
    }
    free(path);
}

// ----------------------------------------------------------------------------
// SVG charts: plain bars and lines, with axes, ticks and a legend

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"};

static void svg_begin(FILE *f, int w, int h, const char *title) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", w, h, w, h);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", w, h);
    fprintf(f, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", w / 2, title);
}

AxisTicks axis_ticks(double lo, double hi, int max_intervals) {
    static const double mantissas[] = {1, 2, 2.5, 5};
    if (!(hi > lo)) hi = lo + 1;
    double range = hi - lo;
    // from a step surely too small (at least max_intervals intervals of it fit in the range) upwards
    int e = (int)floor(log10(range / max_intervals)) - 1;
    for (;; e++)
        for (int k = 0; k < 4; k++) {
            double step = mantissas[k] * pow(10, e);
            // 1e-9: lo or hi a whole number of steps up to rounding (0.6 / 0.2 = 2.9999999999999996)
            double first = floor(lo / step + 1e-9), last = ceil(hi / step - 1e-9);
            if (last - first > max_intervals) continue;
            AxisTicks t = {.step = step, .first = first, .n = (int)(last - first)};
            t.lo = first * step, t.hi = last * step;
            // decimals that show the step exactly: 0.25 needs 2, 2.5 needs 1, 50 needs none
            t.decimals = e < 0 ? -e : 0;
            if (k == 2 && e <= 0) t.decimals++;
            return t;
        }
}

// Tick i's value is a whole multiple of the step, computed afresh (not summed) so it prints round.
void axis_tick_label(const AxisTicks *t, int i, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*f", t->decimals, (t->first + i) * t->step);
}

// The y axis of the plot area [x0, x1] x [y0 (top), y1 (bottom)], its ticks and gridlines, and
// the axes' names (x below the group labels, y turned along the axis).
static void svg_axes(FILE *f, int x0, int y0, int x1, int y1, const AxisTicks *t, const char *x_name, const char *y_name) {
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", x0, y1, x1, y1);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", x0, y0, x0, y1);
    for (int i = 0; i <= t->n; i++) {
        double y = y1 - (double)(y1 - y0) * i / t->n;
        char label[48];
        axis_tick_label(t, i, label, sizeof label);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x0, y, x1, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", x0 - 4, y + 4, label);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (x0 + x1) / 2, y1 + 34, x_name);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">%s</text>\n", 16,
            (y0 + y1) / 2, 16, (y0 + y1) / 2, y_name);
}

// The legend below the chart: a colour square and the series' name, each entry as wide as its
// name (about 7 pixels a character at font size 12), wrapping to a second row. A series with no
// points (n[s] 0; n NULL: all have some) is left out.
static void svg_legend(FILE *f, int w, int h, int x0, int n_series, const char *const *series, const int *n) {
    int x = x0 + 10, y = h - 30;
    for (int s = 0; s < n_series; s++) {
        if (n && n[s] == 0) continue;
        int width = 14 + 7 * (int)strlen(series[s]) + 16;
        if (x + width > w && x > x0 + 10) x = x0 + 10, y += 15;
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", x, y, palette[s % 7]);
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 14, y + 9, series[s]);
        x += width;
    }
}

// Ticks on at most this many intervals: a chart 250 pixels high reads well with 4 to 5.
enum { CHART_MAX_INTERVALS = 5 };

// Grouped bars: n_groups groups (labels) of n_series bars (series names), values[s][g] in
// [lo, hi] (widened to round ticks); optional error bars err_lo/err_hi (NULL: none).
static int svg_bars(const char *path, const char *title, const char *x_name, const char *y_name, int n_groups,
                    const char *const *labels, int n_series, const char *const *series, const double *values,
                    const double *err_lo, const double *err_hi, double lo, double hi) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    FILE *f = af.f;
    int w = 640, h = 360, x0 = 60, y0 = 40, x1 = w - 20, y1 = h - 70;
    AxisTicks t = axis_ticks(lo, hi, CHART_MAX_INTERVALS);
    lo = t.lo, hi = t.hi;
    svg_begin(f, w, h, title);
    svg_axes(f, x0, y0, x1, y1, &t, x_name, y_name);
    double group_w = (double)(x1 - x0) / n_groups, bar_w = group_w * 0.8 / n_series;
    for (int g = 0; g < n_groups; g++) {
        for (int s = 0; s < n_series; s++) {
            double v = values[s * n_groups + g];
            if (!isfinite(v)) continue;
            double frac = (v - lo) / (hi - lo);
            if (frac < 0) frac = 0;
            if (frac > 1) frac = 1;
            double x = x0 + g * group_w + group_w * 0.1 + s * bar_w, y = y1 - frac * (y1 - y0);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x, y, bar_w * 0.95,
                    y1 - y, palette[s % 7]);
            if (err_lo && err_hi && isfinite(err_lo[s * n_groups + g])) {
                double ylo = y1 - (err_lo[s * n_groups + g] - lo) / (hi - lo) * (y1 - y0);
                double yhi = y1 - (err_hi[s * n_groups + g] - lo) / (hi - lo) * (y1 - y0);
                double xm = x + bar_w * 0.475;
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n", xm, ylo, xm, yhi);
            }
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x0 + (g + 0.5) * group_w, y1 + 16, labels[g]);
    }
    if (n_series > 1) svg_legend(f, w, h, x0, n_series, series, NULL);
    fprintf(f, "</svg>\n");
    return atomic_commit(&af);
}

// Lines: n_series series of n[s] points each, point i at step i + 1, values in ys[s].
static int svg_lines(const char *path, const char *title, const char *y_name, int n_series, const char *const *series,
                     const int *n, double *const *ys) {
    double lo = INFINITY, hi = -INFINITY;
    int max_n = 1;
    for (int s = 0; s < n_series; s++) {
        if (n[s] > max_n) max_n = n[s];
        for (int i = 0; i < n[s]; i++)
            if (isfinite(ys[s][i])) {
                if (ys[s][i] < lo) lo = ys[s][i];
                if (ys[s][i] > hi) hi = ys[s][i];
            }
    }
    if (!isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-9) hi = lo + 1;
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    FILE *f = af.f;
    int w = 640, h = 360, x0 = 70, y0 = 40, x1 = w - 20, y1 = h - 70;
    AxisTicks t = axis_ticks(lo, hi, CHART_MAX_INTERVALS), xt = axis_ticks(1, max_n, CHART_MAX_INTERVALS);
    lo = t.lo, hi = t.hi;
    svg_begin(f, w, h, title);
    svg_axes(f, x0, y0, x1, y1, &t, "DPO step", y_name);
    for (int i = 0; i <= xt.n; i++) {   // the x axis: step numbers
        double x = x0 + (double)(x1 - x0) * i / xt.n;
        char label[48];
        axis_tick_label(&xt, i, label, sizeof label);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>\n", x, y1, x, y1 + 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, y1 + 16, label);
    }
    for (int s = 0; s < n_series; s++) {
        if (n[s] == 0) continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", palette[s % 7]);
        for (int i = 0; i < n[s]; i++) {
            double x = x0 + (i + 1 - xt.lo) / (xt.hi - xt.lo) * (x1 - x0);
            double y = y1 - (ys[s][i] - lo) / (hi - lo) * (y1 - y0);
            fprintf(f, "%.1f,%.1f ", x, y);
        }
        fprintf(f, "\"/>\n");
    }
    svg_legend(f, w, h, x0, n_series, series, n);
    fprintf(f, "</svg>\n");
    return atomic_commit(&af);
}

// ----------------------------------------------------------------------------
// the report

static const char *pct(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.1f", 100 * v);
    else snprintf(buf, cap, "-");
    return buf;
}

// The on-policy judgments check by check: one row per check name met in any iteration (every
// check together first), per iteration the share of the grader's failed checks the judge
// fails too and of its passed checks the judge passes too, with how many there were.
static void write_check_table(Buf *md, const IterationReport *its, int iterations) {
    const char *names[MAX_CHECK_NAMES];
    int n_names = 0, compared = 0;
    for (int t = 0; t < iterations; t++) {
        compared += its[t].lines.compared;
        for (int k = 0; k < its[t].lines.n_checks; k++) {
            const char *name = its[t].lines.checks[k].name;
            int seen = 0;
            for (int i = 0; i < n_names; i++) seen |= strcmp(names[i], name) == 0;
            if (!seen && n_names < MAX_CHECK_NAMES) names[n_names++] = name;
        }
    }
    if (compared == 0) return;
    buf_printf(md, "\nThe same judgments check by check: of the checks the grader fails, the share the judge fails too "
                   "(failed caught), and of those it passes, the share it passes too (passed kept); how many in "
                   "brackets. A judge that cannot check says yes throughout: it keeps every pass and catches no "
                   "failure.\n\n| check |");
    for (int t = 0; t < iterations; t++) buf_printf(md, " iteration %d: failed caught %% | passed kept %% |", t + 1);
    buf_printf(md, "\n|---|");
    for (int t = 0; t < iterations; t++) buf_printf(md, "---|---|");
    buf_printf(md, "\n");
    char a[16], b[16];
    for (int i = -1; i < n_names; i++) {
        buf_printf(md, "| %s |", i < 0 ? "every check" : names[i]);
        for (int t = 0; t < iterations; t++) {
            const CheckVerdicts *c = i < 0 ? &its[t].lines.all : judgment_lines_check(&its[t].lines, names[i]);
            if (!c) buf_printf(md, " - | - |");
            else
                buf_printf(md, " %s (%d) | %s (%d) |", pct(a, sizeof a, check_share(c->fails_caught, c->fails)), c->fails,
                           pct(b, sizeof b, check_share(c->passes_kept, c->passes)), c->passes);
        }
        buf_printf(md, "\n");
    }
}

// The held-out accuracy at the loop's temperature, per kind, when the run sampled it: what DPO
// trains is the distribution the loop draws its candidates from, and it can improve while the
// greedy answer (its mode) stays.
static void write_sampled_table(Buf *md, const ModelReport *models, int n_models) {
    if (n_models < 1 || !models[0].samples) return;
    char a[16], b[16], c[16];
    buf_printf(md, "\nAt the loop's temperature: %d answers to every request, drawn as the loop draws its candidates; the "
                   "share scored 5, and against the model before the paired bootstrap interval of the difference.\n\n| model |",
               models[0].samples);
    for (int k = 0; k < WORLD_N_KINDS; k++) buf_printf(md, " %s sampled %% [95%% CI] | %s vs previous [95%% CI] |", world_kind_names[k], world_kind_names[k]);
    buf_printf(md, "\n|---|");
    for (int k = 0; k < WORLD_N_KINDS; k++) buf_printf(md, "---|---|");
    buf_printf(md, "\n");
    for (int i = 0; i < n_models; i++) {
        const ModelReport *m = &models[i];
        buf_printf(md, "| %s |", m->name);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            buf_printf(md, " %s [%s, %s] |", pct(a, 16, m->kind_sampled[k]), pct(b, 16, m->kind_sampled_lo[k]), pct(c, 16, m->kind_sampled_hi[k]));
            if (i > 0) buf_printf(md, " %+.1f [%+.1f, %+.1f] |", 100 * m->kind_sampled_diff[k], 100 * m->kind_sampled_diff_lo[k],
                                  100 * m->kind_sampled_diff_hi[k]);
            else buf_printf(md, " - |");
        }
        buf_printf(md, "\n");
    }
}

static void gap_row(Buf *md, const char *set, const char *judge, const char *kind, const GapResult *r) {
    char a[16], b[16], c[16];
    if (r->prompts == 0) return;
    buf_printf(md, "| %s | %s | %s | %d | %s | %s | %+.1f [%+.1f, %+.1f] | %d | %s | %d / %d / %d |\n", set, judge, kind, r->prompts,
               pct(a, 16, r->top_perfect), pct(b, 16, r->any_perfect), 100 * r->gap, 100 * r->gap_lo, 100 * r->gap_hi, r->pairs,
               pct(c, 16, r->chosen_perfect), r->better, r->equal, r->worse);
}

// The generation-verification gap: M1 on the held-out requests before the loop, then each
// iteration's judge on the loop's own prompts.
static void write_gap_table(Buf *md, const HeldOutGap *held_out, const IterationReport *its, int iterations) {
    buf_printf(md, "\n## Can the model pick its own best answer? (the generation-verification gap)\n\n"
                   "Per request, N candidates at the loop's temperature, each judged K times by the model itself. The top "
                   "answer is the candidate with the highest mean judge score (ties broken at random); the gap is how much "
                   "more often it is perfect than a candidate is (Song et al. 2024, arXiv 2412.02674), with the paired "
                   "bootstrap interval; chosen is the pair's chosen answer (highest against lowest, ties dropped), set "
                   "against its rejected answer by the grader. Self-rewarding can only gain where the gap is positive.\n\n"
                   "| requests | judge | kind | requests counted | top answer perfect %% | any candidate perfect %% | gap, points "
                   "[95%% CI] | pairs | chosen perfect %% | chosen better / equal / worse |\n|---|---|---|---|---|---|---|---|---|---|\n");
    if (held_out->present) {
        gap_row(md, "held out, before the loop", "m1", "all", &held_out->all);
        for (int k = 0; k < WORLD_N_KINDS; k++) gap_row(md, "held out, before the loop", "m1", world_kind_names[k], &held_out->kind[k]);
    }
    for (int t = 0; t < iterations; t++) {
        char set[32], judge[16];
        snprintf(set, sizeof set, "iteration %d (its prompts)", t + 1);
        snprintf(judge, sizeof judge, "m%d", t + 1);
        gap_row(md, set, judge, "all", &its[t].gap);
        for (int k = 0; k < WORLD_N_KINDS; k++) gap_row(md, set, judge, world_kind_names[k], &its[t].kind_gap[k]);
    }
}

// "NAME": value, "NAME_ci_low": lo, "NAME_ci_high": hi, (a value with its 95 % interval)
static void json_number_ci(Buf *b, const char *name, double value, double lo, double hi) {
    char key[96];
    buf_json_number(b, name, value, 0);
    snprintf(key, sizeof key, "%s_ci_low", name);
    buf_json_number(b, key, lo, 0);
    snprintf(key, sizeof key, "%s_ci_high", name);
    buf_json_number(b, key, hi, 0);
}

int write_run_report(const char *run_dir, int iterations, const char *settings, int world_format, FILE *summary) {
    ModelReport models[MAX_MODELS];
    int n_models = 0;
    if (iterations + 2 > MAX_MODELS) return errorf("report: too many iterations (%d)", iterations);
    const char *names[MAX_MODELS];
    char name_buf[MAX_MODELS][16];
    snprintf(name_buf[0], 16, "sft");
    for (int t = 1; t <= iterations + 1; t++) snprintf(name_buf[t], 16, "m%d", t);
    for (int i = 0; i < iterations + 2; i++) {
        if (load_model_report(run_dir, name_buf[i], &models[n_models]) < 0) {
            for (int j = 0; j < n_models; j++) free_model_report(&models[j]);
            return -1;
        }
        names[n_models] = models[n_models].name;
        n_models++;
    }
    for (int i = 1; i < n_models; i++) compare_models(&models[i - 1], &models[i]);  // M1 vs SFT, M2 vs M1, ...
    IterationReport *its = xcalloc((size_t)(iterations ? iterations : 1), sizeof(IterationReport));
    for (int t = 1; t <= iterations; t++) load_iteration_report(run_dir, t, world_format, &its[t - 1]);
    HeldOutGap held_out;
    load_held_out_gap(run_dir, &held_out);

    // report.json
    Buf js = {0};
    buf_printf(&js, "{\n  \"settings\": %s,\n  \"models\": [\n", settings ? settings : "{}");
    for (int i = 0; i < n_models; i++) {
        const ModelReport *m = &models[i];
        buf_printf(&js, "    {\"name\": \"%s\", \"items\": %d, ", m->name, m->n);
        json_number_ci(&js, "accuracy", m->accuracy, m->acc_lo, m->acc_hi);
        buf_json_number(&js, "mean_score", m->mean_score, 0);
        buf_json_number(&js, "mean_tokens", m->mean_tokens, 0);
        buf_json_number(&js, "repeat_share", m->repeat_share, 0);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            char key[64];
            buf_printf(&js, "\"items_%s\": %d, ", world_kind_names[k], m->kind_n[k]);
            snprintf(key, sizeof key, "accuracy_%s", world_kind_names[k]);
            json_number_ci(&js, key, m->kind_acc[k], m->kind_lo[k], m->kind_hi[k]);
            if (m->samples) {
                snprintf(key, sizeof key, "sampled_accuracy_%s", world_kind_names[k]);
                json_number_ci(&js, key, m->kind_sampled[k], m->kind_sampled_lo[k], m->kind_sampled_hi[k]);
            }
        }
        if (m->samples) buf_printf(&js, "\"samples\": %d, ", m->samples);
        if (i > 0) {
            buf_printf(&js, "\"vs_previous\": {\"previous\": \"%s\", \"wins\": %d, \"ties\": %d, \"losses\": %d, ", models[i - 1].name,
                       m->wins, m->ties, m->losses);
            buf_json_number(&js, "win_rate", (m->wins + 0.5 * m->ties) / (double)(m->wins + m->ties + m->losses), 0);
            buf_json_number(&js, "accuracy_diff", m->diff, 0);
            buf_json_number(&js, "accuracy_diff_ci_low", m->diff_lo, 0);
            for (int k = 0; k < WORLD_N_KINDS; k++) {
                char key[64];
                snprintf(key, sizeof key, "accuracy_%s_diff", world_kind_names[k]);
                json_number_ci(&js, key, m->kind_diff[k], m->kind_diff_lo[k], m->kind_diff_hi[k]);
                if (m->samples && models[i - 1].samples) {
                    snprintf(key, sizeof key, "sampled_accuracy_%s_diff", world_kind_names[k]);
                    json_number_ci(&js, key, m->kind_sampled_diff[k], m->kind_sampled_diff_lo[k], m->kind_sampled_diff_hi[k]);
                }
            }
            buf_json_number(&js, "accuracy_diff_ci_high", m->diff_hi, 1);
            buf_printf(&js, "}, ");
        }
        for (int k = 0; k < N_JUDGE_METRICS; k++)
            buf_json_number(&js, judge_metric_keys[k].key, *judge_metric_field(&models[i], k), k + 1 == N_JUDGE_METRICS);
        buf_printf(&js, "}%s\n", i + 1 < n_models ? "," : "");
    }
    buf_printf(&js, "  ],\n  \"iterations\": [\n");
    for (int t = 0; t < iterations; t++) {
        const IterationReport *it = &its[t];
        buf_printf(&js,
                   "    {\"iteration\": %d, \"prompts_generated\": %d, \"prompts_kept\": %d, \"candidates\": %d, "
                   "\"judge_samples\": %d, \"judge_unparsed\": %d, \"pairs_kept\": %d, \"dropped_tie\": %d, "
                   "\"dropped_too_few\": %d, \"dropped_low_chosen\": %d, \"chosen_better\": %d, \"chosen_equal\": %d, "
                   "\"chosen_worse\": %d, ",
                   t + 1, it->generated, it->kept_prompts, it->candidates, it->samples, it->unparsed, it->pairs, it->tie,
                   it->too_few, it->low_chosen, it->chosen_better, it->chosen_equal, it->chosen_worse);
        buf_json_number(&js, "onpolicy_judge_pairwise", it->onpolicy_pairwise, 0);
        buf_json_number(&js, "onpolicy_judge_agreement", it->onpolicy_agree, 0);
        buf_json_number(&js, "candidate_accuracy", it->candidate_accuracy, 0);
        buf_json_number(&js, "chosen_accuracy", it->chosen_accuracy, 0);
        buf_printf(&js, "\"onpolicy_scored_5\": %d, ", it->top_scored);
        buf_json_number(&js, "onpolicy_scored_5_accuracy", it->top_accuracy, 0);
        buf_json_number(&js, "dpo_loss", it->dpo_loss, 0);
        buf_json_number(&js, "dpo_margin", it->dpo_margin, 0);
        buf_json_number(&js, "dpo_accuracy", it->dpo_accuracy, 0);
        judge_gap_json(&js, "gap_", &it->gap, 0);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "gap_%s_", world_kind_names[k]);
            judge_gap_json(&js, prefix, &it->kind_gap[k], 0);
        }
        judgment_lines_json(&js, "onpolicy_judgments_", &it->lines, 0);
        buf_printf(&js, "\"onpolicy_checks\": [");
        for (int k = 0; k < it->lines.n_checks; k++) {
            const CheckVerdicts *c = &it->lines.checks[k];
            buf_printf(&js, "%s{\"check\": ", k ? ", " : "");
            buf_json_string(&js, c->name, strlen(c->name));
            buf_printf(&js, ", \"fails\": %d, ", c->fails);
            buf_json_number(&js, "fails_caught", check_share(c->fails_caught, c->fails), 0);
            buf_printf(&js, "\"passes\": %d, ", c->passes);
            buf_json_number(&js, "passes_kept", check_share(c->passes_kept, c->passes), 1);
            buf_printf(&js, "}");
        }
        buf_printf(&js, "], ");
        buf_printf(&js, "\"dpo_steps\": %d}%s\n", it->dpo_steps, t + 1 < iterations ? "," : "");
    }
    buf_printf(&js, "  ]");
    if (held_out.present) {
        buf_printf(&js, ",\n  \"m1_held_out_gap\": {");
        judge_gap_json(&js, "all_", &held_out.all, 0);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            char prefix[16];
            snprintf(prefix, sizeof prefix, "%s_", world_kind_names[k]);
            judge_gap_json(&js, prefix, &held_out.kind[k], k + 1 == WORLD_N_KINDS);
        }
        buf_printf(&js, "}");
    }
    buf_printf(&js, "\n}\n");
    char *json_path = path_join(run_dir, "report.json");
    int rc = write_file_atomic(json_path, js.data, js.len);
    free(json_path);
    buf_free(&js);

    // report.md and the summary
    Buf md = {0};
    char a[16], b[16], c[16], d[16], e[16], g[16], h[16];
    buf_printf(&md, "# Self-rewarding run: %s\n\n", run_dir);
    if (settings) buf_printf(&md, "Settings: `%s`\n\n", settings);
    buf_printf(&md, "## Instruction following (held-out test set, graded by the world's grader)\n\n");
    buf_printf(&md, "| model | accuracy %% [95%% CI] | mean score | mean length (tokens) | an item repeated %% | vs previous: win rate %% | accuracy diff %% [95%% CI] |\n");
    buf_printf(&md, "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n_models; i++) {
        const ModelReport *m = &models[i];
        buf_printf(&md, "| %s | %s [%s, %s] | %.3f | %.1f | %s | ", m->name, pct(a, 16, m->accuracy), pct(b, 16, m->acc_lo),
                   pct(c, 16, m->acc_hi), m->mean_score, m->mean_tokens, pct(d, 16, m->repeat_share));
        if (i > 0)
            buf_printf(&md, "%s (%d/%d/%d) | %+.1f [%+.1f, %+.1f] |\n", pct(d, 16, (m->wins + 0.5 * m->ties) / (double)(m->wins + m->ties + m->losses)),
                       m->wins, m->ties, m->losses, 100 * m->diff, 100 * m->diff_lo, 100 * m->diff_hi);
        else buf_printf(&md, "- | - |\n");
    }
    buf_printf(&md, "\nBy kind of family: the fact family (creatures under two traits: answering is a search, checking "
                    "recalls one fact per item) and the form families (lists under spelling, order and range constraints, "
                    "single answers: checking needs the same work as answering). Against the model before: the paired "
                    "bootstrap interval of the accuracy difference on that kind's items.\n\n| model |");
    for (int k = 0; k < WORLD_N_KINDS; k++) buf_printf(&md, " %s %% [95%% CI] (items) | %s vs previous [95%% CI] |", world_kind_names[k], world_kind_names[k]);
    buf_printf(&md, "\n|---|");
    for (int k = 0; k < WORLD_N_KINDS; k++) buf_printf(&md, "---|---|");
    buf_printf(&md, "\n");
    for (int i = 0; i < n_models; i++) {
        const ModelReport *m = &models[i];
        buf_printf(&md, "| %s |", m->name);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            buf_printf(&md, " %s [%s, %s] (%d) |", pct(a, 16, m->kind_acc[k]), pct(b, 16, m->kind_lo[k]), pct(c, 16, m->kind_hi[k]), m->kind_n[k]);
            if (i > 0) buf_printf(&md, " %+.1f [%+.1f, %+.1f] |", 100 * m->kind_diff[k], 100 * m->kind_diff_lo[k], 100 * m->kind_diff_hi[k]);
            else buf_printf(&md, " - |");
        }
        buf_printf(&md, "\n");
    }
    write_sampled_table(&md, models, n_models);
    write_gap_table(&md, &held_out, its, iterations);
    buf_printf(&md, "\n## Judging (held-out judge set, against gold scores)\n\n");
    buf_printf(&md, "| model | pairwise %% | 5-best %% | exact %% | Spearman | Kendall tau-b | parsed %% | "
                    "right line for line %% | first wrong line: request / answer / a check %% | failed checks caught %% | "
                    "passed checks kept %% |\n"
                    "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < n_models; i++) {
        const ModelReport *m = &models[i];
        buf_printf(&md, "| %s | %s | %s | %s | %.3f | %.3f | %s | %s | ", m->name, pct(a, 16, m->pairwise), pct(b, 16, m->five_best),
                   pct(c, 16, m->exact_match), m->spearman, m->kendall, pct(d, 16, m->parse_rate), pct(e, 16, m->right_throughout));
        buf_printf(&md, "%s / %s / %s | %s | %s |\n", pct(a, 16, m->first_wrong_request), pct(b, 16, m->first_wrong_answer),
                   pct(c, 16, m->first_wrong_check), pct(d, 16, m->fails_caught), pct(e, 16, m->passes_kept));
    }
    buf_printf(&md, "\nThe two columns after parsed %% set each judgment beside the one the world's grader writes for the same "
                    "response (what a perfect judge says): the share that agrees line for line, and where the others "
                    "first differ: the restated request, the restated answer, or a check (the tally and the score "
                    "count as checks). The last two take the checks one by one: of the checks the grader fails, the "
                    "share the judge fails too, and of those it passes, the share the judge passes too (a judge that "
                    "says yes to everything keeps every pass and catches nothing).\n");
    buf_printf(&md, "\n## Iterations\n\n");
    buf_printf(&md, "| iteration | prompts made / kept | candidates | judge samples unparsed | pairs kept | dropped: tie / too few / chosen below --min-chosen | "
                    "on-policy judge pairwise %% | judge = grader %% | chosen better / equal / worse | candidate acc %% | chosen acc %% | "
                    "DPO loss | margin | reward acc %% |\n");
    buf_printf(&md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < iterations; t++) {
        const IterationReport *it = &its[t];
        buf_printf(&md, "| %d | %d / %d | %d | %d of %d | %d | %d / %d / %d | %s | %s | %d / %d / %d | %s | %s | %.4f | %.4f | %s |\n",
                   t + 1, it->generated, it->kept_prompts, it->candidates, it->unparsed, it->samples, it->pairs, it->tie,
                   it->too_few, it->low_chosen, pct(a, 16, it->onpolicy_pairwise), pct(b, 16, it->onpolicy_agree), it->chosen_better,
                   it->chosen_equal, it->chosen_worse, pct(c, 16, it->candidate_accuracy), pct(e, 16, it->chosen_accuracy),
                   it->dpo_loss, it->dpo_margin, pct(g, 16, it->dpo_accuracy));
    }
    buf_printf(&md, "\nThe judge on the loop's own candidates beside the grader: its samples against the grader's "
                    "judgments of the same candidates, line by line; and the candidates that every one of its samples "
                    "scored 5, with the share of them that meet every constraint (a judge that can tell a perfect "
                    "answer puts that share well above candidate acc):\n\n| iteration | samples compared | right line "
                    "for line %% | first wrong line: request / answer / a check %% | scored 5 | of them perfect %% | "
                    "candidate acc %% |\n|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < iterations; t++) {
        const JudgmentLines *l = &its[t].lines;
        buf_printf(&md, "| %d | %d | %s | %s / %s / %s | ", t + 1, l->compared, pct(a, 16, judgment_lines_share(l, l->right)),
                   pct(b, 16, judgment_lines_share(l, l->wrong_request)), pct(c, 16, judgment_lines_share(l, l->wrong_answer)),
                   pct(d, 16, judgment_lines_share(l, l->wrong_check)));
        buf_printf(&md, "%d | %s | %s |\n", its[t].top_scored, pct(a, 16, its[t].top_accuracy), pct(b, 16, its[t].candidate_accuracy));
    }
    write_check_table(&md, its, iterations);
    buf_printf(&md, "\nCharts: accuracy.svg, judge.svg, pairs.svg, dpo.svg.\n");
    char *md_path = path_join(run_dir, "report.md");
    if (rc == 0) rc = write_file_atomic(md_path, md.data, md.len);
    free(md_path);
    buf_free(&md);

    // charts
    double acc[MAX_MODELS], lo[MAX_MODELS], hi[MAX_MODELS], jm[3 * MAX_MODELS];
    for (int i = 0; i < n_models; i++) {
        acc[i] = models[i].accuracy, lo[i] = models[i].acc_lo, hi[i] = models[i].acc_hi;
        jm[i] = models[i].pairwise, jm[n_models + i] = models[i].five_best, jm[2 * n_models + i] = models[i].exact_match;
    }
    const char *acc_series[1] = {"accuracy"}, *judge_series[3] = {"pairwise", "5-best", "exact"};
    char *p1 = path_join(run_dir, "accuracy.svg"), *p2 = path_join(run_dir, "judge.svg");
    char *p3 = path_join(run_dir, "pairs.svg"), *p4 = path_join(run_dir, "dpo.svg");
    if (rc == 0)
        rc = svg_bars(p1, "Held-out accuracy (95% bootstrap CI)", "model", "share answered perfectly (score 5)", n_models, names,
                      1, acc_series, acc, lo, hi, 0, 1);
    if (rc == 0)
        rc = svg_bars(p2, "Judge against gold scores", "model (as the judge)", "share", n_models, names, 3, judge_series, jm,
                      NULL, NULL, 0, 1);
    if (iterations > 0) {
        double *pv = xmalloc((size_t)4 * iterations * sizeof(double));
        const char **iter_names = xmalloc((size_t)iterations * sizeof(char *));
        char (*iter_buf)[16] = xmalloc((size_t)iterations * 16);
        for (int t = 0; t < iterations; t++) {
            pv[t] = its[t].pairs, pv[iterations + t] = its[t].tie, pv[2 * iterations + t] = its[t].too_few;
            pv[3 * iterations + t] = its[t].low_chosen;
            snprintf(iter_buf[t], 16, "iteration %d", t + 1);
            iter_names[t] = iter_buf[t];
        }
        double top = 1;
        for (int i = 0; i < 4 * iterations; i++)
            if (pv[i] > top) top = pv[i];
        const char *pair_series[4] = {"kept", "dropped: tie", "dropped: too few scored", "dropped: chosen too low"};
        if (rc == 0)
            rc = svg_bars(p3, "Pairs per iteration", "self-rewarding iteration", "prompts", iterations, iter_names, 4, pair_series,
                          pv, NULL, NULL, 0, top * 1.1);
        int *counts = xmalloc((size_t)2 * iterations * sizeof(int));
        double **ys = xmalloc((size_t)2 * iterations * sizeof(double *));
        const char **line_names = xmalloc((size_t)2 * iterations * sizeof(char *));
        char (*line_buf)[32] = xmalloc((size_t)2 * iterations * 32);
        for (int t = 0; t < iterations; t++) {
            counts[2 * t] = counts[2 * t + 1] = its[t].dpo_steps;
            ys[2 * t] = its[t].step_loss, ys[2 * t + 1] = its[t].step_margin;
            snprintf(line_buf[2 * t], 32, "loss, it. %d", t + 1);
            snprintf(line_buf[2 * t + 1], 32, "margin, it. %d", t + 1);
            line_names[2 * t] = line_buf[2 * t], line_names[2 * t + 1] = line_buf[2 * t + 1];
        }
        if (rc == 0) rc = svg_lines(p4, "DPO loss and reward margin per step", "loss, margin", 2 * iterations, line_names, counts, ys);
        free(pv), free(iter_names), free(iter_buf), free(counts), free(ys), free(line_names), free(line_buf);
    }
    free(p1), free(p2), free(p3), free(p4);

    // the summary table
    if (summary) {
        fprintf(summary, "\n%-6s %8s %17s %7s %7s %7s %7s %9s %8s %8s %8s %9s\n", "model", "acc %", "95% CI", "fact %", "form %",
                "score", "length", "judge pw%", "5-best%", "exact%", "parsed%", "lines ok%");
        for (int i = 0; i < n_models; i++) {
            const ModelReport *m = &models[i];
            char ci[48], f1[16], f2[16];
            snprintf(ci, sizeof ci, "[%s, %s]", pct(b, 16, m->acc_lo), pct(c, 16, m->acc_hi));
            fprintf(summary, "%-6s %8s %17s %7s %7s %7.3f %7.1f %9s %8s %8s %8s %9s\n", m->name, pct(a, 16, m->accuracy), ci,
                    pct(f1, 16, m->kind_acc[WORLD_KIND_FACT]), pct(f2, 16, m->kind_acc[WORLD_KIND_FORM]), m->mean_score,
                    m->mean_tokens, pct(d, 16, m->pairwise), pct(e, 16, m->five_best), pct(g, 16, m->exact_match),
                    pct(h, 16, m->parse_rate), pct(b, 16, m->right_throughout));
        }
        for (int i = 1; i < n_models; i++) {
            const ModelReport *m = &models[i];
            fprintf(summary, "%s vs %s: accuracy %+.1f points [95%% CI %+.1f, %+.1f], wins/ties/losses %d/%d/%d", m->name,
                    models[i - 1].name, 100 * m->diff, 100 * m->diff_lo, 100 * m->diff_hi, m->wins, m->ties, m->losses);
            for (int k = 0; k < WORLD_N_KINDS; k++)
                fprintf(summary, "; %s %+.1f [%+.1f, %+.1f]", world_kind_names[k], 100 * m->kind_diff[k], 100 * m->kind_diff_lo[k],
                        100 * m->kind_diff_hi[k]);
            fprintf(summary, "\n");
            if (m->samples && models[i - 1].samples) {
                fprintf(summary, "%s vs %s at the loop's temperature (%d answers per request):", m->name, models[i - 1].name, m->samples);
                for (int k = 0; k < WORLD_N_KINDS; k++)
                    fprintf(summary, "%s %s %s%% -> %s%%, %+.1f [%+.1f, %+.1f]", k ? ";" : "", world_kind_names[k],
                            pct(a, 16, models[i - 1].kind_sampled[k]), pct(b, 16, m->kind_sampled[k]), 100 * m->kind_sampled_diff[k],
                            100 * m->kind_sampled_diff_lo[k], 100 * m->kind_sampled_diff_hi[k]);
                fprintf(summary, "\n");
            }
        }
        if (held_out.present) {
            fprintf(summary, "m1's gap on held-out requests, before the loop (its top-scored answer perfect vs any candidate):");
            for (int k = 0; k < WORLD_N_KINDS; k++) {
                const GapResult *r = &held_out.kind[k];
                fprintf(summary, "%s %s %+.1f points [%+.1f, %+.1f] (%s%% vs %s%%; chosen better/equal/worse %d/%d/%d)", k ? ";" : "",
                        world_kind_names[k], 100 * r->gap, 100 * r->gap_lo, 100 * r->gap_hi, pct(a, 16, r->top_perfect),
                        pct(b, 16, r->any_perfect), r->better, r->equal, r->worse);
            }
            fprintf(summary, "\n");
        }
        for (int t = 0; t < iterations; t++) {
            char low[48] = "";  // only when --min-chosen dropped some
            if (its[t].low_chosen) snprintf(low, sizeof low, ", %d chosen too low", its[t].low_chosen);
            fprintf(summary,
                    "iteration %d: %d prompts, %d pairs (%d ties, %d too few%s); on-policy judge pairwise %s%%; chosen "
                    "better/equal/worse %d/%d/%d; gap fact %+.1f [%+.1f, %+.1f], form %+.1f [%+.1f, %+.1f]; DPO loss %.4f margin %.4f\n",
                    t + 1, its[t].kept_prompts, its[t].pairs, its[t].tie, its[t].too_few, low,
                    pct(a, 16, its[t].onpolicy_pairwise), its[t].chosen_better, its[t].chosen_equal, its[t].chosen_worse,
                    100 * its[t].kind_gap[WORLD_KIND_FACT].gap, 100 * its[t].kind_gap[WORLD_KIND_FACT].gap_lo,
                    100 * its[t].kind_gap[WORLD_KIND_FACT].gap_hi, 100 * its[t].kind_gap[WORLD_KIND_FORM].gap,
                    100 * its[t].kind_gap[WORLD_KIND_FORM].gap_lo, 100 * its[t].kind_gap[WORLD_KIND_FORM].gap_hi, its[t].dpo_loss,
                    its[t].dpo_margin);
        }
    }
    for (int i = 0; i < n_models; i++) free_model_report(&models[i]);
    for (int t = 0; t < iterations; t++) free(its[t].step_loss), free(its[t].step_margin);
    free(its);
    return rc;
}
