// pipeline.c: the self-rewarding method of Yuan et al. 2024 ("Self-Rewarding Language Models",
// arXiv 2401.10020; ../shared/spec/self-rewarding.md), stage by stage in the paper's order. Read
// top to bottom, this file is the method:
//
//   stage                                          paper                   function
//   1. SFT baseline: M0 on the IFT seed            §2.1 (IFT data)         stage_sft
//   2. EFT data: judgments of ranked replies       §2.1 (EFT data)         stage_eft_prep_ranked,
//      (or of the SFT baseline's own graded answers)                       stage_eft_prep_world
//   M1: M0 (or the SFT baseline) on IFT + EFT      §2.1, §3.1              stage_sft (run_pipeline)
//   3. self-instruction creation: new prompts,     §2.2                    self_instruct_prompt,
//      8-shot (6 seed + 2 new requests)                                    stage_gen_prompts
//   4. N candidate responses per prompt            §2.2                    stage_gen_responses
//   5. LLM-as-a-Judge: K judgments per candidate   §2.2                    judge_responses, stage_judge
//   6. preference pairs: best and worst judged     §2.3                    stage_pairs
//   7. DPO: Mt+1 from Mt on the pairs              §2.3                    stage_dpo
//   8. evaluation: instruction following, judge    §3.1 (evaluation)       eval_instructions, eval_judge,
//      metrics, the generation-verification gap                            eval_gap
//   9. the iteration Mt -> Mt+1, and the run       §2.4                    run_iteration, run_pipeline
//
// The tools the stages share (stage outputs, chat data, generation through the chat template)
// close the file. srl.c holds the command line: one command per stage, and `srl run`.
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipeline.h"
#include "report.h"

// the tools the stages share, defined at the end of the file (each -1 with srl_error)
static int error_in(const char *what);
static int error_at(const char *path, long line);
static void adapter_base_name(const char *model_path, char *out, size_t cap);
static int save_model_folder(const Model *m, const char *dir, const Tokenizer *tok, const char *what, const char *base);
static int load_stage_model(Model *m, const char *model_path, const LoRAFlags *f);
static int prepare_training(Model *m, const char *model_path, const LoRAFlags *f, uint64_t seed);
static int load_chat_files(const Tokenizer *tok, const char *files, int max_len, SeqSet *set);
static void split_heldout(SeqSet *all, double fraction, SeqSet *train, SeqSet *heldout);
static void strings_free(char **s, int n);
static int read_requests(const char *path, char ***ids, char ***requests);
static int chat_generate(Model *m, const Tokenizer *tok, const char *const *requests, int n, const uint64_t *seeds,
                         float temperature, float top_p, int max_new, int batch, const char *label, char **texts,
                         int *n_tokens);
static void repeat_requests(char *const *ids, char *const *texts, int n, int per, uint64_t seed, const char *purpose,
                            const char ***requests, uint64_t **seeds);
static int load_model_and_tokenizer(Model *m, Tokenizer **tok, const char *model_path);
static int judge_responses(Model *m, const Tokenizer *tok, const char *template_text, const char *const *instructions,
                           const char *const *responses, const char *const *keys, const int *key_index, int n, int k,
                           float temperature, uint64_t seed, const char *purpose, int max_new, int batch, Judgments *out);
static void judgments_free(Judgments *j);

// ----------------------------------------------------------------------------
// 1. The SFT baseline (paper §2.1, IFT data; spec stage 3): M0 fine-tuned on the IFT seed, the
// loss on the assistant's tokens only. M1 (below, in run_pipeline) is the same stage on IFT + EFT.

LMTrainConfig lm_config(const TrainFlags *f, const char *label, const char *out, int per_sequence, int quiet) {
    LMTrainConfig c = {0};
    c.label = label, c.epochs = f->epochs, c.max_steps = f->steps, c.batch_size = f->batch;
    c.micro_batch = f->micro_batch, c.lr = (float)f->lr, c.lr_min = (float)f->lr_min, c.warmup = (float)f->warmup;
    c.weight_decay = (float)f->weight_decay, c.grad_clip = (float)f->grad_clip, c.per_sequence_mean = per_sequence;
    c.seed = f->seed, c.eval_every = f->eval_every, c.save_every = f->save_every, c.out_dir = out, c.quiet = quiet;
    return c;
}

// SFT of the model at model_path on one or more chat files (comma-separated), into out.
int stage_sft(const char *model_path, const char *tok_path, const char *data, const char *out, const TrainFlags *f,
              int max_len, int per_sequence, const LoRAFlags *lora) {
    Model m;
    if (load_stage_model(&m, model_path, lora) < 0) return -1;
    int rc = prepare_training(&m, model_path, lora, f->seed);
    char base[4096];
    adapter_base_name(model_path, base, sizeof base);
    Tokenizer *tok = rc == 0 ? tokenizer_for_model(tok_path, model_path) : NULL;
    if (!tok) rc = -1;
    if (max_len <= 0) max_len = m.config.max_seq_len;
    SeqSet all = {0}, train = {0}, heldout = {0};
    if (rc == 0) rc = load_chat_files(tok, data, max_len, &all);
    if (rc == 0) {
        split_heldout(&all, f->heldout, &train, &heldout);
        fprintf(stderr, "sft: %d sequences (%ld target tokens) for training, %d held out\n", train.n,
                seqset_target_count(&train), heldout.n);
        LMTrainConfig lc = lm_config(f, "sft", out, per_sequence, 0);
        rc = train_lm(&m, &train, &heldout, &lc) < 0 ? -1 : save_model_folder(&m, out, tok, "sft", base);
    }
    seqset_free(&all), seqset_free(&train), seqset_free(&heldout);
    model_free(&m);
    if (tok) tokenizer_free(tok);
    return rc;
}

// ----------------------------------------------------------------------------
// 2. EFT data (paper §2.1, EFT data; spec stage 2): examples that teach the model to judge, the
// judge template as the request and a justification ending in "Score: N" as the answer. The
// paper's construction on human-ranked replies, or the task world's graded ones.

typedef struct {
    char *instruction, *response, *judgment;
    int score;
    char *id;
} EftExample;

static int write_eft_records(const char *path, const char *template_text, EftExample *ex, const int *order, int n) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    for (int i = 0; i < n; i++) {
        const EftExample *e = &ex[order[i]];
        char *prompt = judge_format_prompt(template_text, e->instruction, e->response);
        fprintf(af.f, "{\"id\": ");
        json_write_cstring(af.f, e->id);
        fprintf(af.f, ", \"instruction\": ");
        json_write_cstring(af.f, e->instruction);
        fprintf(af.f, ", \"response\": ");
        json_write_cstring(af.f, e->response);
        fprintf(af.f, ", \"score\": %d, \"messages\": [{\"role\": \"user\", \"content\": ", e->score);
        json_write_cstring(af.f, prompt);
        fprintf(af.f, "}, {\"role\": \"assistant\", \"content\": ");
        json_write_cstring(af.f, e->judgment);
        fprintf(af.f, "}]}\n");
        free(prompt);
    }
    return atomic_commit(&af);
}

// "The most common score is downsampled": examples of the most frequent score are cut to the
// count of the second most frequent one (keeping the first ones in order). Returns the count
// kept; keep[i] says which.
static int downsample_top_score(const EftExample *ex, int n, unsigned char *keep) {
    int counts[6] = {0};
    for (int i = 0; i < n; i++) counts[ex[i].score]++;
    int top = 0;
    for (int s = 1; s < 6; s++)
        if (counts[s] > counts[top]) top = s;
    int second = 0;
    for (int s = 0; s < 6; s++)
        if (s != top && counts[s] > second) second = counts[s];
    int seen = 0, kept = 0;
    for (int i = 0; i < n; i++) {
        keep[i] = ex[i].score != top || seen++ < second;
        kept += keep[i];
    }
    return kept;
}

static void eft_free(EftExample *ex, int n) {
    for (int i = 0; i < n; i++) free(ex[i].instruction), free(ex[i].response), free(ex[i].judgment), free(ex[i].id);
    free(ex);
}

// Human-ranked replies, one per response of a ranked record ({"id", "instruction", "responses",
// "ranks"}), in file order; prompt_of[i] numbers the records.
typedef struct {
    int n, n_prompts;
    char **instr, **resp, **keys;   // (n)
    int *rank, *prompt_of, *key_index;   // (n) human rank (0 = best), record number, index in the record
    int skipped_empty, skipped_too_long, prompts_too_few;
} RankedReplies;

static void ranked_replies_free(RankedReplies *r) {
    for (int i = 0; i < r->n; i++) free(r->instr[i]), free(r->resp[i]), free(r->keys[i]);
    free(r->instr), free(r->resp), free(r->keys), free(r->rank), free(r->prompt_of), free(r->key_index);
    memset(r, 0, sizeof *r);
}

// Reads a ranked-candidates file (srl prepare-oasst writes one). A reply that is empty (all white
// space) is skipped and counted; any other fault is an error naming the file and line.
static int read_ranked_replies(const char *path, RankedReplies *out) {
    memset(out, 0, sizeof *out);
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, cap = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const char *id = json_get_string(rec, "id"), *instruction = json_get_string(rec, "instruction");
        const JsonValue *rs = json_get(rec, "responses"), *rk = json_get(rec, "ranks");
        if (!id || !instruction || !rs || rs->type != JSON_ARRAY) {
            rc = errorf("%s:%ld: a ranked record needs \"id\", \"instruction\" (strings) and \"responses\" (a list of strings)", path, r.line);
            break;
        }
        if (!rk || rk->type != JSON_ARRAY || rk->count != rs->count) {
            rc = errorf("%s:%ld: a ranked record needs \"ranks\": the human ranking of each response, one number per response in "
                        "the same order, 0 for the best (srl prepare-oasst takes them from the trees' \"rank\" fields)", path, r.line);
            break;
        }
        if (!instruction[strspn(instruction, " \t\r\n")]) {
            rc = errorf("%s:%ld: the instruction is empty", path, r.line);
            break;
        }
        int j = 0;
        for (const JsonValue *a = rs->child, *b = rk->child; a && b; a = a->next, b = b->next, j++) {
            if (a->type != JSON_STRING || b->type != JSON_NUMBER || b->number != floor(b->number) || b->number < 0 || b->number > 1e6) {
                rc = errorf("%s:%ld: response %d must be a string and its rank a whole number from 0", path, r.line, j + 1);
                break;
            }
            if (!a->string[strspn(a->string, " \t\r\n")]) {
                out->skipped_empty++;
                continue;
            }
            if (out->n == cap) {
                cap = grow_capacity(cap);
                out->instr = xrealloc(out->instr, (size_t)cap * sizeof(char *));
                out->resp = xrealloc(out->resp, (size_t)cap * sizeof(char *));
                out->keys = xrealloc(out->keys, (size_t)cap * sizeof(char *));
                out->rank = xrealloc(out->rank, (size_t)cap * sizeof(int));
                out->prompt_of = xrealloc(out->prompt_of, (size_t)cap * sizeof(int));
                out->key_index = xrealloc(out->key_index, (size_t)cap * sizeof(int));
            }
            int i = out->n++;
            out->instr[i] = xstrdup(instruction), out->resp[i] = xstrdup(a->string), out->keys[i] = xstrdup(id);
            out->rank[i] = (int)b->number, out->prompt_of[i] = out->n_prompts, out->key_index[i] = j;
        }
        if (rc < 0) break;
        out->n_prompts++;
    }
    jsonl_close(&r);
    if (rc < 0) ranked_replies_free(out);
    return rc < 0 ? -1 : 0;
}

// Drops the replies whose judge prompt leaves no room for max_new tokens in the model's context
// (counted), then the prompts left with fewer than two replies (counted): nothing is cut, nothing
// is fatal.
static int drop_unfit_replies(const Model *m, const Tokenizer *tok, const char *template_text, int max_new, RankedReplies *r) {
    unsigned char *keep = xmalloc((size_t)(r->n ? r->n : 1));
    for (int i = 0; i < r->n; i++) {
        char *prompt = judge_format_prompt(template_text, r->instr[i], r->resp[i]);
        ChatMessage msg = {"user", prompt};
        int *ids, len;
        int rc = chat_encode(tok, &msg, 1, 1, &ids, NULL, &len);
        free(prompt);
        if (rc < 0) {
            free(keep);
            return -1;
        }
        free(ids);
        keep[i] = len + max_new <= m->config.max_seq_len;
        r->skipped_too_long += !keep[i];
    }
    for (int i0 = 0; i0 < r->n;) {   // a prompt needs two replies left to be ranked
        int i1 = i0, kept = 0;
        while (i1 < r->n && r->prompt_of[i1] == r->prompt_of[i0]) kept += keep[i1++];
        if (kept < 2) {
            r->prompts_too_few++;
            for (int i = i0; i < i1; i++) keep[i] = 0;
        }
        i0 = i1;
    }
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        if (!keep[i]) {
            free(r->instr[i]), free(r->resp[i]), free(r->keys[i]);
            continue;
        }
        r->instr[n] = r->instr[i], r->resp[n] = r->resp[i], r->keys[n] = r->keys[i];
        r->rank[n] = r->rank[i], r->prompt_of[n] = r->prompt_of[i], r->key_index[n] = r->key_index[i];
        n++;
    }
    r->n = n;
    free(keep);
    return 0;
}

// The held-out prompts with all their replies and human ranks, as judge data ({"id",
// "instruction", "responses", "ranks"}: srl eval --judge-data scores a judge against the ranks).
static int write_ranked_eval(const char *path, const RankedReplies *r, int every) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    for (int i0 = 0; i0 < r->n;) {
        int i1 = i0;
        while (i1 < r->n && r->prompt_of[i1] == r->prompt_of[i0]) i1++;
        if (every > 0 && r->prompt_of[i0] % every == every - 1) {
            fprintf(af.f, "{\"id\": ");
            json_write_cstring(af.f, r->keys[i0]);
            fprintf(af.f, ", \"instruction\": ");
            json_write_cstring(af.f, r->instr[i0]);
            fprintf(af.f, ", \"responses\": [");
            for (int i = i0; i < i1; i++) {
                if (i > i0) fprintf(af.f, ", ");
                json_write_cstring(af.f, r->resp[i]);
            }
            fprintf(af.f, "], \"ranks\": [");
            for (int i = i0; i < i1; i++) fprintf(af.f, "%s%d", i > i0 ? ", " : "", r->rank[i]);
            fprintf(af.f, "]}\n");
        }
        i0 = i1;
    }
    return atomic_commit(&af);
}

// The paper's construction (Open Assistant): the SFT baseline judges every human-ranked reply
// (K samples); a prompt's judgments are kept when the order of the judge's mean scores agrees
// with the human ranking; each kept reply gives one example (the judge's first parsed
// judgment); the most common score is downsampled; prompts are split into train and eval, and
// the eval prompts are also written with all their replies and ranks, as judge data.
int stage_eft_prep_ranked(Model *m, const Tokenizer *tok, const char *candidates_path, const char *template_text,
                          const char *out_dir, const EftPrepConfig *cfg) {
    int k = cfg->samples, max_new = cfg->judge_max_new;
    RankedReplies rr;
    if (read_ranked_replies(candidates_path, &rr) < 0) return -1;
    if (drop_unfit_replies(m, tok, template_text, max_new, &rr) < 0) {
        ranked_replies_free(&rr);
        return -1;
    }
    if (rr.skipped_empty || rr.skipped_too_long || rr.prompts_too_few)
        warnf("%s: skipped %d empty replies, %d replies whose judge prompt leaves no room for %d new tokens in the model's %d "
              "positions, and %d prompts left with fewer than two replies",
              candidates_path, rr.skipped_empty, rr.skipped_too_long, max_new, m->config.max_seq_len, rr.prompts_too_few);
    int n = rr.n, n_prompts = rr.n_prompts;
    char **instr = rr.instr, **resp = rr.resp, **keys = rr.keys;
    int *rank = rr.rank, *prompt_of = rr.prompt_of, *key_index = rr.key_index;
    Judgments jd;
    if (judge_responses(m, tok, template_text, (const char *const *)instr, (const char *const *)resp, (const char *const *)keys,
                        key_index, n, k, 0.7f, cfg->seed, "eft-prep", max_new, cfg->batch, &jd) < 0) {
        ranked_replies_free(&rr);
        return -1;
    }
    EftExample *ex = xcalloc((size_t)(n ? n : 1), sizeof(EftExample));
    int *ex_prompt = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    int n_ex = 0, agreed = 0;
    for (int i0 = 0; i0 < n;) {
        int i1 = i0;
        while (i1 < n && prompt_of[i1] == prompt_of[i0]) i1++;
        int agree = i1 - i0 >= 2;
        for (int a = i0; a < i1 && agree; a++) {
            if (jd.n_scored[a] == 0) agree = 0;
            for (int b = i0; b < i1 && agree; b++)
                if (rank[a] < rank[b] && !(jd.mean[a] > jd.mean[b])) agree = 0;
        }
        if (agree) {
            agreed++;
            for (int a = i0; a < i1; a++) {
                int s = 0;
                while (jd.status[a * k + s] != JUDGE_SCORE_OK) s++;
                char id[160];
                snprintf(id, sizeof id, "%s-r%d", keys[a], key_index[a]);
                ex_prompt[n_ex] = prompt_of[a];
                ex[n_ex++] = (EftExample){xstrdup(instr[a]), xstrdup(resp[a]), xstrdup(jd.texts[a * k + s]),
                                          (int)lround(jd.scores[a * k + s]), xstrdup(id)};
            }
        }
        i0 = i1;
    }
    unsigned char *keep = xmalloc((size_t)(n_ex ? n_ex : 1));
    downsample_top_score(ex, n_ex, keep);
    int *train = xmalloc((size_t)(n_ex ? n_ex : 1) * sizeof(int)), *eval = xmalloc((size_t)(n_ex ? n_ex : 1) * sizeof(int));
    int n_train = 0, n_eval = 0, every = cfg->eval_fraction > 0 ? (int)(1.0 / cfg->eval_fraction + 0.5) : 0;
    for (int i = 0; i < n_ex; i++) {
        if (!keep[i]) continue;
        if (every > 0 && ex_prompt[i] % every == every - 1) eval[n_eval++] = i;  // split by prompt
        else train[n_train++] = i;
    }
    fprintf(stderr, "eft-prep: %d of %d prompts judged in the human order; %d train and %d eval examples\n", agreed, n_prompts,
            n_train, n_eval);
    char *tp = path_join(out_dir, "eft_train.jsonl"), *ep = path_join(out_dir, "eft_eval.jsonl");
    char *rp = path_join(out_dir, "eft_eval_ranked.jsonl");
    int rc = make_dirs(out_dir);
    if (rc == 0) rc = write_eft_records(tp, template_text, ex, train, n_train);
    if (rc == 0) rc = write_eft_records(ep, template_text, ex, eval, n_eval);
    if (rc == 0) rc = write_ranked_eval(rp, &rr, every);
    free(tp), free(ep), free(rp);
    free(ex_prompt), free(keep), free(train), free(eval);
    ranked_replies_free(&rr);
    eft_free(ex, n_ex);
    judgments_free(&jd);
    return rc < 0 ? -1 : 0;
}

// Writes path: the file first, then the file second (a newline between when first does not end
// with one).
static int concat_files(const char *path, const char *first, const char *second) {
    char *a, *b;
    size_t a_len, b_len;
    if (read_file(first, &a, &a_len, 0) < 0) return -1;
    if (read_file(second, &b, &b_len, 0) < 0) {
        free(a);
        return -1;
    }
    Buf both = {0};
    buf_append(&both, a, a_len);
    if (a_len && a[a_len - 1] != '\n') buf_append_char(&both, '\n');
    buf_append(&both, b, b_len);
    int rc = write_file_atomic(path, both.data ? both.data : "", both.len);
    buf_free(&both);
    free(a), free(b);
    return rc < 0 ? -1 : 0;
}

// Task world: the SFT baseline answers the EFT seed's instructions (samples at T 0.7); the
// world's grader writes the judgment of each answer (standing in for the human raters who
// rank replies in the paper), the most common score is downsampled, and the result joins the
// world's synthetic EFT seed. The model then learns to judge its own kind of answers.
int stage_eft_prep_world(Model *m, const Tokenizer *tok, const char *data_dir, const char *template_text,
                         const char *out_dir, const EftPrepConfig *cfg) {
    int n_prompts = cfg->n_prompts, samples = cfg->answers;
    char *seed_path = path_join(data_dir, "eft_seed.jsonl");
    char **ids, **instructions;
    int n_all = read_requests(seed_path, &ids, &instructions);
    if (n_all < 0) {
        free(seed_path);
        return -1;
    }
    // distinct instructions, in file order, up to n_prompts
    char **uniq = xmalloc((size_t)(n_all ? n_all : 1) * sizeof(char *)), **uniq_ids = xmalloc((size_t)(n_all ? n_all : 1) * sizeof(char *));
    int n = 0;
    for (int i = 0; i < n_all && n < n_prompts; i++) {
        int dup = 0;
        for (int j = 0; j < n && !dup; j++) dup = strcmp(uniq[j], instructions[i]) == 0;
        if (!dup) uniq[n] = instructions[i], uniq_ids[n] = ids[i], n++;
    }
    int total = n * samples;
    const char **requests;
    uint64_t *seeds;
    repeat_requests(uniq_ids, uniq, n, samples, cfg->seed, "eft-prep", &requests, &seeds);
    char **texts = xcalloc((size_t)(total ? total : 1), sizeof(char *));
    int rc = chat_generate(m, tok, requests, total, seeds, 0.7f, LOOP_TOP_P, cfg->answer_max_new, cfg->batch, "eft-prep", texts, NULL);
    EftExample *ex = xcalloc((size_t)(total ? total : 1), sizeof(EftExample));
    int n_ex = 0;
    for (int i = 0; i < total && rc == 0; i++) {
        WorldGrade g;
        char *judgment = world_judgment(requests[i], texts[i]);
        if (!judgment || world_grade(requests[i], texts[i], &g) < 0) {
            free(judgment);
            continue;
        }
        char id[96];
        snprintf(id, sizeof id, "%s-own%d", uniq_ids[i / samples], i % samples);
        ex[n_ex++] = (EftExample){xstrdup(requests[i]), xstrdup(texts[i]), judgment, g.score, xstrdup(id)};
    }
    unsigned char *keep = xmalloc((size_t)(n_ex ? n_ex : 1));
    int kept = downsample_top_score(ex, n_ex, keep);
    int *order = xmalloc((size_t)(n_ex ? n_ex : 1) * sizeof(int)), n_order = 0;
    for (int i = 0; i < n_ex; i++)
        if (keep[i]) order[n_order++] = i;
    int hist[6] = {0};
    for (int i = 0; i < n_order; i++) hist[ex[order[i]].score]++;
    if (rc == 0)
        fprintf(stderr, "eft-prep: %d own answers graded, %d kept after downsampling the most common score (0..5: %d %d %d %d %d "
                "%d)\n", n_ex, kept, hist[0], hist[1], hist[2], hist[3], hist[4], hist[5]);
    char *own_path = path_join(out_dir, "eft_own.jsonl"), *train_path = path_join(out_dir, "eft_train.jsonl");
    if (rc == 0) rc = make_dirs(out_dir);
    if (rc == 0) rc = write_eft_records(own_path, template_text, ex, order, n_order);
    // eft_train.jsonl: the world's synthetic EFT seed, then the graded own answers
    if (rc == 0) rc = concat_files(train_path, seed_path, own_path);
    free(own_path), free(train_path), free(seed_path);
    for (int i = 0; i < total; i++) free(texts[i]);
    for (int i = 0; i < n_all; i++) free(ids[i]), free(instructions[i]);
    eft_free(ex, n_ex);
    free(ids), free(instructions), free(uniq), free(uniq_ids), free(requests), free(seeds), free(texts), free(keep), free(order);
    return rc < 0 ? -1 : 0;
}

// ----------------------------------------------------------------------------
// 3. Self-instruction creation (paper §2.2, spec stage 4): new prompts by 8-shot prompting. Each
// stage of an iteration reads and writes JSON Lines; every record carries its prompt id (and
// candidate index), and records are matched by those keys, never by position.

// The tokens whose text holds a newline: generation of one numbered instruction stops there.
static int newline_tokens(const Tokenizer *tok, int **out) {
    int V = tokenizer_vocab_size(tok), n = 0;
    *out = xmalloc((size_t)V * sizeof(int));
    for (int id = 0; id < V; id++) {
        const char *bytes;
        size_t len;
        if (tokenizer_token_bytes(tok, id, &bytes, &len) == 0 && memchr(bytes, '\n', len)) (*out)[n++] = id;
    }
    return n;
}

// prompts.jsonl: {"id": "<id_prefix>-00001", "prompt": ...} per kept request.
static int write_prompts(const char *path, const char *id_prefix, char *const *kept, int n) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    for (int i = 0; i < n; i++) {
        fprintf(af.f, "{\"id\": \"%s-%05d\", \"prompt\": ", id_prefix, i + 1);
        json_write_cstring(af.f, kept[i]);
        fprintf(af.f, "}\n");
    }
    return atomic_commit(&af);
}

// The self-instruct prompt, the paper's central idea: "Some requests:" and a numbered list of
// shots_seed + shots_pool demonstrations drawn with rng, shots_seed from the seed set, then
// shots_pool from the n_made requests made so far (while there are fewer, the seed set fills
// in), left open at the next number, where the model writes a new request:
//   Some requests:
//   1. <seed request>
//   ...
//   7. <request made so far>
//   8. <request made so far>
//   9.
static void self_instruct_prompt(const GenPromptsConfig *cfg, char *const *seeds, int n_seeds, char *const *made, int n_made,
                                 Rng *rng, Buf *text) {
    buf_append_str(text, "Some requests:\n");
    int n_pool = n_made < cfg->shots_pool ? n_made : cfg->shots_pool;
    int n_shots = cfg->shots_seed + cfg->shots_pool, shot = 1;
    for (int d = 0; d < n_shots; d++) {
        const char *demo = d >= cfg->shots_seed && d - cfg->shots_seed < n_pool ? made[rng_int(rng, n_made)]
                                                                               : seeds[rng_int(rng, n_seeds)];
        buf_printf(text, "%d. %s\n", shot++, demo);
    }
    buf_printf(text, "%d.", shot);
}

// The tokens that end one generated request: every token whose text holds a newline, then the
// end of turn and the end of text.
static int request_stop_ids(const Tokenizer *tok, int **stops) {
    int n = newline_tokens(tok, stops);
    int eot = tokenizer_eot_id(tok), eos = tokenizer_eos_id(tok);
    if (eot >= 0) *stops = xrealloc(*stops, (size_t)(n + 2) * sizeof(int)), (*stops)[n++] = eot;
    if (eos >= 0) *stops = xrealloc(*stops, (size_t)(n + 2) * sizeof(int)), (*stops)[n++] = eos;
    return n;
}

// One round's batch of self-instruct prompts, each encoded after a beginning-of-text token, and
// each one's sampling seed. Prompt j of round r draws its demonstrations from its own stream,
// item_seed(seed, "gen-prompts", id_prefix, r * 4096 + j), among the seeds and the n_made
// requests made so far. Returns 0, or -1 with no prompt left allocated.
static int encode_round(const Model *m, const Tokenizer *tok, const GenPromptsConfig *cfg, const char *id_prefix, int round,
                        char *const *seeds, int n_seeds, char *const *made, int n_made, int **prompts, int *lens,
                        uint64_t *gen_seeds) {
    int bos = tokenizer_bos_id(tok) >= 0 ? tokenizer_bos_id(tok) : m->config.bos_token_id;
    for (int j = 0; j < cfg->batch; j++) {
        Rng rng;
        rng_seed(&rng, item_seed(cfg->seed, "gen-prompts", id_prefix, (long)round * 4096 + j));
        Buf text = {0};
        self_instruct_prompt(cfg, seeds, n_seeds, made, n_made, &rng, &text);
        int *ids, n;
        int rc = tokenizer_encode(tok, text.data, text.len, 0, &ids, &n);
        buf_free(&text);
        if (rc < 0) {
            for (int i = 0; i < j; i++) free(prompts[i]);
            return -1;
        }
        prompts[j] = xmalloc((size_t)(n + 1) * sizeof(int));
        prompts[j][0] = bos;
        memcpy(prompts[j] + 1, ids, (size_t)n * sizeof(int));
        lens[j] = n + 1;
        gen_seeds[j] = rng_next(&rng);
        free(ids);
    }
    return 0;
}

// One generated continuation through the filters (prompt_filter): kept, and added to the pool
// of known requests, or counted in st by what dropped it.
static void keep_request(char *text, const GenPromptsConfig *cfg, PromptPool *pool, char **kept, PromptStats *st) {
    st->generated++;
    char *request;
    switch (prompt_filter(text, cfg->min_words, cfg->max_words, cfg->rouge_max, pool, &request)) {
    case PROMPT_UNFINISHED: st->unfinished++; break;
    case PROMPT_TOO_SHORT: st->too_short++; break;
    case PROMPT_TOO_LONG: st->too_long++; break;
    case PROMPT_BLACKLISTED: st->blacklisted++; break;
    case PROMPT_DUPLICATE: st->duplicate++; break;
    case PROMPT_SIMILAR: st->similar++; break;
    default:
        kept[st->kept++] = xstrdup(request);
        prompt_pool_add(pool, request);
    }
}

// The round's outputs decoded and filtered in batch order until n_prompts are kept (the rest
// are not looked at); the round's prompts and outputs freed. -1 when an output does not decode.
static int keep_round(const Tokenizer *tok, const GenPromptsConfig *cfg, int **prompts, int **outs, const int *out_lens,
                      PromptPool *pool, char **kept, PromptStats *st) {
    int rc = 0;
    for (int j = 0; j < cfg->batch; j++) {
        char *text;
        size_t len;
        int decoded = rc == 0 && tokenizer_decode(tok, outs[j], out_lens[j], &text, &len) == 0;
        free(outs[j]);
        free(prompts[j]);
        if (!decoded) {
            rc = -1;
            continue;
        }
        if (st->kept < cfg->n_prompts) keep_request(text, cfg, pool, kept, st);
        free(text);
    }
    return rc;
}

// Self-instruction creation: the model continues a numbered list of 8 example requests (6
// from the seed set, 2 from those made so far) at "9."; new requests pass the filters. Rounds
// of cfg->batch prompts run until n_prompts are kept (or a round limit, with a warning).
int stage_gen_prompts(Model *m, const Tokenizer *tok, const char *seed_path, const char *out_path,
                      const char *id_prefix, const GenPromptsConfig *cfg, PromptStats *st) {
    memset(st, 0, sizeof *st);
    char **seed_ids, **seeds;
    int n_seeds = read_requests(seed_path, &seed_ids, &seeds);
    if (n_seeds < 0) return -1;
    if (n_seeds < cfg->shots_seed + cfg->shots_pool) {
        strings_free(seed_ids, n_seeds), strings_free(seeds, n_seeds);
        return errorf("gen-prompts: %s has only %d requests", seed_path, n_seeds);
    }
    // the pool of known requests, for ROUGE-L: the seeds, then every new one
    PromptPool pool = {0};
    for (int i = 0; i < n_seeds; i++) prompt_pool_add(&pool, seeds[i]);
    char **kept = xmalloc((size_t)(cfg->n_prompts + 1) * sizeof(char *));
    int *stops, n_stops = request_stop_ids(tok, &stops);
    GenerateConfig g = {.max_new_tokens = cfg->max_new, .temperature = cfg->temperature, .top_p = cfg->top_p,
                        .stop_ids = stops, .n_stop = n_stops, .include_stop = 1, .max_batch = cfg->batch};
    int **prompts = xmalloc((size_t)cfg->batch * sizeof(int *)), *lens = xmalloc((size_t)cfg->batch * sizeof(int));
    int **outs = xmalloc((size_t)cfg->batch * sizeof(int *)), *out_lens = xmalloc((size_t)cfg->batch * sizeof(int));
    uint64_t *gen_seeds = xmalloc((size_t)cfg->batch * sizeof(uint64_t));
    Progress progress;
    progress_start(&progress, "gen-prompts", cfg->n_prompts, "prompts");
    char extra[96];
    int max_rounds = 20 + 20 * (cfg->n_prompts / cfg->batch + 1), rc = 0;
    for (int round = 0; round < max_rounds && st->kept < cfg->n_prompts && rc == 0; round++) {
        rc = encode_round(m, tok, cfg, id_prefix, round, seeds, n_seeds, kept, st->kept, prompts, lens, gen_seeds);
        if (rc < 0) break;
        if (model_generate(m, cfg->batch, (const int *const *)prompts, lens, gen_seeds, &g, outs, out_lens, NULL) < 0) {
            rc = error_in("gen-prompts");
            for (int j = 0; j < cfg->batch; j++) free(prompts[j]);
            break;
        }
        rc = keep_round(tok, cfg, prompts, outs, out_lens, &pool, kept, st);
        snprintf(extra, sizeof extra, "(%d generated)", st->generated);
        progress_update(&progress, st->kept, extra);
    }
    snprintf(extra, sizeof extra, "(%d generated)", st->generated);
    progress_end(&progress, st->kept, extra);
    if (rc == 0 && st->kept < cfg->n_prompts) warnf("gen-prompts: kept %d of the %d prompts asked for", st->kept, cfg->n_prompts);
    if (rc == 0) rc = write_prompts(out_path, id_prefix, kept, st->kept);
    strings_free(kept, st->kept);
    strings_free(seed_ids, n_seeds), strings_free(seeds, n_seeds);
    free(stops);
    prompt_pool_free(&pool);
    free(prompts), free(lens), free(outs), free(out_lens), free(gen_seeds);
    return rc;
}

// ----------------------------------------------------------------------------
// 4. Candidate responses (paper §2.2, spec stage 5): N sampled responses to every new prompt.

// Appends copies of (id, text) at index n of the parallel arrays ids and texts (capacity *cap).
static void id_text_append(char ***ids, char ***texts, int n, int *cap, const char *id, const char *text) {
    if (n == *cap) {
        *cap = grow_capacity(*cap);
        *ids = xrealloc(*ids, (size_t)*cap * sizeof(char *));
        *texts = xrealloc(*texts, (size_t)*cap * sizeof(char *));
    }
    (*ids)[n] = xstrdup(id), (*texts)[n] = xstrdup(text);
}

// The end of a reader of (id, text) records: n, or after an error (rc < 0) -1 with both freed.
static int id_texts_done(int rc, int n, char ***ids, char ***texts) {
    if (rc >= 0) return n;
    strings_free(*ids, n), strings_free(*texts, n);
    *ids = NULL, *texts = NULL;
    return -1;
}

// The records of a prompts file: {"id", "prompt"}. The count, or -1 (nothing left allocated).
static int read_prompts(const char *path, char ***ids, char ***prompts) {
    *ids = NULL, *prompts = NULL;
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, n = 0, cap = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const char *id = json_get_string(rec, "id"), *prompt = json_get_string(rec, "prompt");
        if (!id || !prompt) {
            rc = errorf("%s:%ld: a prompt record needs string \"id\" and \"prompt\"", path, r.line);
            break;
        }
        id_text_append(ids, prompts, n++, &cap, id, prompt);
    }
    jsonl_close(&r);
    return id_texts_done(rc, n, ids, prompts);
}

// N candidate responses per prompt, sampled.
int stage_gen_responses(Model *m, const Tokenizer *tok, const char *prompts_path, const char *out_path, int n_cand,
                        float temperature, float top_p, int max_new, int batch, uint64_t seed) {
    char **ids, **prompts;
    int n = read_prompts(prompts_path, &ids, &prompts);
    if (n < 0) return -1;
    int total = n * n_cand;
    const char **requests;
    uint64_t *seeds;
    repeat_requests(ids, prompts, n, n_cand, seed, "candidate", &requests, &seeds);
    char **texts = xcalloc((size_t)(total ? total : 1), sizeof(char *));
    int *tokens = xcalloc((size_t)(total ? total : 1), sizeof(int));
    int rc = chat_generate(m, tok, requests, total, seeds, temperature, top_p, max_new, batch, "gen-responses", texts, tokens);
    AtomicFile af;
    if (rc == 0) rc = atomic_open(&af, out_path);
    for (int i = 0; i < n && rc == 0; i++)
        for (int c = 0; c < n_cand; c++) {
            fprintf(af.f, "{\"id\": ");
            json_write_cstring(af.f, ids[i]);
            fprintf(af.f, ", \"candidate\": %d, \"prompt\": ", c);
            json_write_cstring(af.f, prompts[i]);
            fprintf(af.f, ", \"response\": ");
            json_write_cstring(af.f, texts[i * n_cand + c]);
            fprintf(af.f, ", \"tokens\": %d}\n", tokens[i * n_cand + c]);
        }
    if (rc == 0) rc = atomic_commit(&af);
    for (int i = 0; i < total; i++) free(texts[i]);
    strings_free(ids, n), strings_free(prompts, n);
    free(requests), free(seeds), free(texts), free(tokens);
    return rc < 0 ? -1 : 0;
}

// ----------------------------------------------------------------------------
// 5. LLM-as-a-Judge (paper §2.2, spec stage 6): K sampled judgments of every candidate, parsed
// into scores and averaged.

static void judgments_free(Judgments *j) {
    for (int i = 0; i < j->n * j->k; i++) free(j->texts[i]);
    free(j->texts), free(j->scores), free(j->status), free(j->mean), free(j->n_scored);
    memset(j, 0, sizeof *j);
}

// Sample s of response i is seeded by (seed, purpose, keys[i], key_index[i], s): a judgment does
// not depend on the batch or the position it was computed in.
static int judge_responses(Model *m, const Tokenizer *tok, const char *template_text, const char *const *instructions,
                           const char *const *responses, const char *const *keys, const int *key_index, int n, int k,
                           float temperature, uint64_t seed, const char *purpose, int max_new, int batch, Judgments *out) {
    memset(out, 0, sizeof *out);
    out->n = n, out->k = k;
    int total = n * k;
    char **prompts = xmalloc((size_t)(total ? total : 1) * sizeof(char *));
    uint64_t *seeds = xmalloc((size_t)(total ? total : 1) * sizeof(uint64_t));
    for (int i = 0; i < n; i++)
        for (int s = 0; s < k; s++) {
            prompts[i * k + s] = judge_format_prompt(template_text, instructions[i], responses[i]);
            seeds[i * k + s] = item_seed(seed, purpose, keys[i], (long)key_index[i] * 1024 + s);
        }
    out->texts = xcalloc((size_t)(total ? total : 1), sizeof(char *));
    int rc = chat_generate(m, tok, (const char *const *)prompts, total, seeds, temperature, LOOP_TOP_P, max_new, batch, purpose,
                           out->texts, NULL);
    for (int i = 0; i < total; i++) free(prompts[i]);
    free(prompts), free(seeds);
    if (rc < 0) {
        free(out->texts);
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->scores = xmalloc((size_t)(total ? total : 1) * sizeof(double));
    out->status = xmalloc((size_t)(total ? total : 1) * sizeof(int));
    out->mean = xmalloc((size_t)(n ? n : 1) * sizeof(double));
    out->n_scored = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    for (int i = 0; i < total; i++) out->status[i] = judge_parse_score(out->texts[i], &out->scores[i]);
    for (int i = 0; i < n; i++) out->n_scored[i] = judge_mean_score(out->scores + i * k, out->status + i * k, k, &out->mean[i]);
    return 0;
}

// One record per (prompt id, candidate): a candidates.jsonl or judgments.jsonl line.
typedef struct {
    char *id, *prompt, *response;
    int candidate, tokens;
    double mean;             // judge's mean score (judgments only; NaN: unscored)
    int n_scored, n_samples;
} CandidateRecord;

static void candidate_records_free(CandidateRecord *r, int n) {
    for (int i = 0; i < n; i++) free(r[i].id), free(r[i].prompt), free(r[i].response);
    free(r);
}

// The records of a candidates or judgments file: the count, or -1 (nothing left allocated).
static int read_candidates(const char *path, CandidateRecord **out) {
    *out = NULL;
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, n = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const char *id = json_get_string(rec, "id"), *prompt = json_get_string(rec, "prompt");
        const char *response = json_get_string(rec, "response");
        long long cand, tokens = 0;
        if (!id || !prompt || !response || json_get_int(rec, "candidate", &cand) < 0) {
            rc = errorf("%s:%ld: a candidate record needs \"id\", \"candidate\", \"prompt\" and \"response\"", path, r.line);
            break;
        }
        json_get_int(rec, "tokens", &tokens);
        *out = xrealloc(*out, (size_t)(n + 1) * sizeof **out);
        CandidateRecord *c = &(*out)[n++];
        c->id = xstrdup(id), c->prompt = xstrdup(prompt), c->response = xstrdup(response);
        c->candidate = (int)cand, c->tokens = (int)tokens;
        double mean;
        c->mean = json_get_number(rec, "mean", &mean) == 0 ? mean : NAN;
        long long k = 0;
        json_get_int(rec, "n_scored", &k);
        c->n_scored = (int)k;
        const JsonValue *sc = json_get(rec, "scores");
        c->n_samples = sc && sc->type == JSON_ARRAY ? sc->count : 0;
    }
    jsonl_close(&r);
    if (rc < 0) {
        candidate_records_free(*out, n);
        *out = NULL;
        return -1;
    }
    return n;
}

// LLM-as-a-Judge on every candidate: K sampled judgments, parsed, averaged.
int stage_judge(Model *m, const Tokenizer *tok, const char *template_text, const char *candidates_path,
                const char *out_path, int k, float temperature, int max_new, int batch, uint64_t seed) {
    CandidateRecord *c;
    int n = read_candidates(candidates_path, &c);
    if (n < 0) return -1;
    const char **instr = xmalloc((size_t)(n ? n : 1) * sizeof(char *)), **resp = xmalloc((size_t)(n ? n : 1) * sizeof(char *));
    const char **keys = xmalloc((size_t)(n ? n : 1) * sizeof(char *));
    int *key_index = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++) instr[i] = c[i].prompt, resp[i] = c[i].response, keys[i] = c[i].id, key_index[i] = c[i].candidate;
    Judgments j;
    int rc = judge_responses(m, tok, template_text, instr, resp, keys, key_index, n, k, temperature, seed, "judge", max_new,
                             batch, &j);
    AtomicFile af;
    if (rc == 0) rc = atomic_open(&af, out_path);
    for (int i = 0; i < n && rc == 0; i++) {
        fprintf(af.f, "{\"id\": ");
        json_write_cstring(af.f, c[i].id);
        fprintf(af.f, ", \"candidate\": %d, \"prompt\": ", c[i].candidate);
        json_write_cstring(af.f, c[i].prompt);
        fprintf(af.f, ", \"response\": ");
        json_write_cstring(af.f, c[i].response);
        fprintf(af.f, ", \"tokens\": %d, \"scores\": ", c[i].tokens);
        json_write_number_array(af.f, j.scores + (size_t)i * k, k);
        fprintf(af.f, ", \"status\": [");
        for (int s = 0; s < k; s++) fprintf(af.f, "%s\"%s\"", s ? ", " : "", judge_score_status_name(j.status[i * k + s]));
        fprintf(af.f, "], \"mean\": ");
        json_write_number(af.f, j.mean[i]);
        fprintf(af.f, ", \"n_scored\": %d, \"judgments\": ", j.n_scored[i]);
        json_write_string_array(af.f, j.texts + (size_t)i * k, k);
        fprintf(af.f, "}\n");
    }
    if (rc == 0) rc = atomic_commit(&af);
    judgments_free(&j);
    candidate_records_free(c, n);
    free(instr), free(resp), free(keys), free(key_index);
    return rc < 0 ? -1 : 0;
}

// ----------------------------------------------------------------------------
// 6. Preference pairs (paper §2.3, spec stage 7): per prompt, the best-judged candidate chosen,
// the worst rejected.

static int compare_candidate_keys(const void *a, const void *b) {
    const CandidateRecord *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->candidate - y->candidate;
}

// Per prompt: the highest mean score chosen, the lowest rejected (with optional length
// control); ties and prompts with fewer than two scored candidates dropped and counted.
// An empty response (the model ended its turn at once) takes no part, whatever its score:
// DPO refuses a pair with an empty side, and a pair is no place to teach "say something".
// With grader_control, the world's grader scores the candidates instead of the judge: the
// control run that shows what DPO could do with a perfect judge (never the default).
// min_chosen > 0 also drops (and counts) a pair whose chosen mean score is below it: with
// min_chosen 5 only answers that every judge sample scored 5 are chosen.
int stage_pairs(const char *judgments_path, const char *out_path, double length_rho, double min_chosen,
                int grader_control, PairStats *st) {
    memset(st, 0, sizeof *st);
    CandidateRecord *c;
    int n = read_candidates(judgments_path, &c);
    if (n < 0) return -1;
    qsort(c, (size_t)n, sizeof *c, compare_candidate_keys);
    AtomicFile af;
    if (atomic_open(&af, out_path) < 0) {
        candidate_records_free(c, n);
        return -1;
    }
    for (int i0 = 0; i0 < n;) {
        int i1 = i0;
        while (i1 < n && strcmp(c[i1].id, c[i0].id) == 0) i1++;
        int k = i1 - i0;
        JudgedCandidate *jc = xmalloc((size_t)k * sizeof *jc);
        for (int i = 0; i < k; i++) {
            CandidateRecord *r = &c[i0 + i];
            jc[i].index = r->candidate;
            jc[i].length = r->tokens;
            if (grader_control) {
                WorldGrade g;
                jc[i].scored = world_grade(r->prompt, r->response, &g) == 0;
                jc[i].mean = jc[i].scored ? g.score : NAN;
            } else {
                jc[i].scored = r->n_scored > 0 && isfinite(r->mean);
                jc[i].mean = r->mean;
            }
            if (r->response[0] == 0 && jc[i].scored) jc[i].scored = 0, st->empty_candidates++;
            st->candidates++;
            st->unscored_candidates += !jc[i].scored;
            st->samples += r->n_samples;
            st->unparsed_samples += r->n_samples - r->n_scored;
        }
        PairChoice pc;
        judge_select_pair(jc, k, length_rho, min_chosen, &pc);
        st->prompts++;
        if (pc.status == JUDGE_PAIR_TIE) st->tie++;
        else if (pc.status == JUDGE_PAIR_TOO_FEW) st->too_few++;
        else if (pc.status == JUDGE_PAIR_LOW_CHOSEN) st->low_chosen++;
        else {
            st->kept++;
            const CandidateRecord *ch = NULL, *rj = NULL;
            for (int i = i0; i < i1; i++) {
                if (c[i].candidate == pc.chosen) ch = &c[i];
                if (c[i].candidate == pc.rejected) rj = &c[i];
            }
            fprintf(af.f, "{\"id\": ");
            json_write_cstring(af.f, c[i0].id);
            fprintf(af.f, ", \"prompt\": [{\"role\": \"user\", \"content\": ");
            json_write_cstring(af.f, c[i0].prompt);
            fprintf(af.f, "}], \"chosen\": [{\"role\": \"assistant\", \"content\": ");
            json_write_cstring(af.f, ch->response);
            fprintf(af.f, "}], \"rejected\": [{\"role\": \"assistant\", \"content\": ");
            json_write_cstring(af.f, rj->response);
            fprintf(af.f, "}], \"score_chosen\": ");
            json_write_number(af.f, pc.score_chosen);
            fprintf(af.f, ", \"score_rejected\": ");
            json_write_number(af.f, pc.score_rejected);
            fprintf(af.f, ", \"chosen_candidate\": %d, \"rejected_candidate\": %d}\n", pc.chosen, pc.rejected);
        }
        free(jc);
        i0 = i1;
    }
    candidate_records_free(c, n);
    return atomic_commit(&af) < 0 ? -1 : 0;
}

int write_pair_stats(const char *path, const PairStats *st) {
    char text[512];
    int len = snprintf(text, sizeof text,
                       "{\"prompts\": %d, \"kept\": %d, \"dropped_tie\": %d, \"dropped_too_few\": %d, \"dropped_low_chosen\": %d, \"candidates\": %d, "
                       "\"unscored_candidates\": %d, \"empty_candidates\": %d, \"judge_samples\": %d, "
                       "\"unparsed_samples\": %d}\n",
                       st->prompts, st->kept, st->tie, st->too_few, st->low_chosen, st->candidates, st->unscored_candidates,
                       st->empty_candidates, st->samples, st->unparsed_samples);
    return write_file_atomic(path, text, (size_t)len) < 0 ? -1 : 0;
}

// ----------------------------------------------------------------------------
// 7. DPO (paper §2.3, spec stage 8): the next model Mt+1 trained on the pairs, Mt the frozen
// reference.

// Preference pairs (TRL format) as chosen and rejected token sequences, each the prompt and
// one response through the chat template, the response's tokens as targets.
// Returns the pairs read, or -1 (chosen and rejected may hold some: the caller frees them).
static int load_pairs(const Tokenizer *tok, const char *path, int max_len, SeqSet *chosen, SeqSet *rejected) {
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, skipped = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const JsonValue *pr = json_get(rec, "prompt"), *ch = json_get(rec, "chosen"), *rj = json_get(rec, "rejected");
        const char *id = json_get_string(rec, "id");
        const char *user = pr && pr->type == JSON_ARRAY && pr->child ? json_get_string(pr->child, "content")
                                                                     : json_get_string(rec, "prompt");
        const char *cs = ch && ch->type == JSON_ARRAY && ch->child ? json_get_string(ch->child, "content")
                                                                   : json_get_string(rec, "chosen");
        const char *rs = rj && rj->type == JSON_ARRAY && rj->child ? json_get_string(rj->child, "content")
                                                                   : json_get_string(rec, "rejected");
        if (!id || !user || !cs || !rs) {
            rc = errorf("%s:%ld: a preference record needs \"id\", \"prompt\", \"chosen\" and \"rejected\"", path, r.line);
            break;
        }
        if (!*cs || !*rs) {
            rc = errorf("%s:%ld: a preference record has an empty response", path, r.line);
            break;
        }
        ChatMessage mc[2] = {{"user", user}, {"assistant", cs}}, mr[2] = {{"user", user}, {"assistant", rs}};
        int *ic, *ir, nc, nr;
        unsigned char *kc, *kr;
        if (chat_encode(tok, mc, 2, 0, &ic, &kc, &nc) < 0) {
            rc = error_at(path, r.line);
            break;
        }
        if (chat_encode(tok, mr, 2, 0, &ir, &kr, &nr) < 0) {
            free(ic), free(kc);
            rc = error_at(path, r.line);
            break;
        }
        if (nc > max_len || nr > max_len) skipped++;
        else {
            seqset_add(chosen, ic, kc, nc, id);
            seqset_add(rejected, ir, kr, nr, id);
        }
        free(ic), free(ir), free(kc), free(kr);
    }
    jsonl_close(&r);
    if (rc < 0) return -1;
    if (skipped) warnf("%s: %d pairs longer than %d tokens were skipped", path, skipped, max_len);
    return chosen->n;
}

// DPO from the model that made the pairs: its log-probs (the frozen reference) are computed
// once, stored beside the pairs in out_dir/reference_logprobs.jsonl, then the policy trains.
// replay_files (comma-separated chat files, or NULL): trained on beside the pairs (cfg's weight).
// The reference's summed log-probs of every chosen and rejected response, into ref_c and ref_r:
// read back from ref_path when a run interrupted after computing them wrote it (and every id
// matches), else computed by m and written there.
static int dpo_reference_logprobs(Model *m, const SeqSet *chosen, const SeqSet *rejected, const char *ref_path,
                                  int batch_eval, double *ref_c, double *ref_r) {
    int have = 0;
    if (file_exists(ref_path)) {  // computed before an interruption: read back, keyed by id
        JsonlReader r;
        if (jsonl_open(&r, ref_path) < 0) return -1;
        const JsonValue *rec;
        int rc;
        while ((rc = jsonl_next(&r, &rec)) > 0 && have < chosen->n) {
            const char *id = json_get_string(rec, "id");
            if (!id || strcmp(id, chosen->keys[have]) != 0 || json_get_number(rec, "ref_chosen", &ref_c[have]) < 0 ||
                json_get_number(rec, "ref_rejected", &ref_r[have]) < 0)
                break;
            have++;
        }
        jsonl_close(&r);
        if (have != chosen->n) have = 0;  // stale: compute again
    }
    if (have) return 0;
    fprintf(stderr, "dpo: reference log-probs of %d pairs\n", chosen->n);
    sequence_logprobs(m, chosen, batch_eval, ref_c);
    sequence_logprobs(m, rejected, batch_eval, ref_r);
    AtomicFile af;
    if (atomic_open(&af, ref_path) < 0) return -1;
    for (int i = 0; i < chosen->n; i++) {
        fprintf(af.f, "{\"id\": ");
        json_write_cstring(af.f, chosen->keys[i]);
        // the shortest form that reads back to the same double: a DPO resumed from a checkpoint
        // reads these back and must train exactly as the uninterrupted run did
        fprintf(af.f, ", \"ref_chosen\": ");
        json_write_number(af.f, ref_c[i]);
        fprintf(af.f, ", \"ref_rejected\": ");
        json_write_number(af.f, ref_r[i]);
        fprintf(af.f, "}\n");
    }
    return atomic_commit(&af) < 0 ? -1 : 0;
}

// No usable pairs: nothing to learn from, so the next model is this one, and an empty log says so.
static int dpo_keep_model(const Model *m, const Tokenizer *tok, const char *pairs_path, const char *out_dir, const char *base) {
    warnf("dpo: %s holds no usable pairs; the model is kept unchanged", pairs_path);
    char *log = path_join(out_dir, "train_log.jsonl");
    int rc = write_file_atomic(log, "", 0);
    free(log);
    return rc < 0 ? -1 : save_model_folder(m, out_dir, tok, "dpo (no pairs)", base);
}

int stage_dpo(const char *model_path, const char *pairs_path, const char *replay_files, const char *out_dir,
              const DPOTrainConfig *cfg, int batch_eval, const LoRAFlags *lora) {
    Model m;
    if (load_stage_model(&m, model_path, lora) < 0) return -1;
    char base[4096];
    adapter_base_name(model_path, base, sizeof base);
    Tokenizer *tok = tokenizer_for_model(NULL, model_path);
    SeqSet chosen = {0}, rejected = {0}, replay = {0};
    int rc = tok ? 0 : -1;
    if (rc == 0) rc = load_pairs(tok, pairs_path, m.config.max_seq_len, &chosen, &rejected) < 0 ? -1 : 0;
    if (rc == 0) rc = make_dirs(out_dir);
    if (rc == 0 && chosen.n == 0) {
        rc = dpo_keep_model(&m, tok, pairs_path, out_dir, base);
        seqset_free(&chosen), seqset_free(&rejected);
        tokenizer_free(tok);
        model_free(&m);
        return rc;
    }
    if (rc == 0 && replay_files) {  // read before the reference log-probs, so that a bad file fails at once
        rc = load_chat_files(tok, replay_files, m.config.max_seq_len, &replay);
        if (rc == 0)
            fprintf(stderr, "dpo: %d replay sequences beside the pairs, weight %g\n", replay.n, (double)cfg->replay_weight);
    }
    char *ref_path = path_join(out_dir, "reference_logprobs.jsonl");
    double *ref_c = xmalloc((size_t)(chosen.n ? chosen.n : 1) * sizeof(double));
    double *ref_r = xmalloc((size_t)(chosen.n ? chosen.n : 1) * sizeof(double));
    if (rc == 0) rc = dpo_reference_logprobs(&m, &chosen, &rejected, ref_path, batch_eval, ref_c, ref_r);
    // the reference was the model as loaded (base plus its adapter, if any); now the policy trains
    if (rc == 0) rc = prepare_training(&m, model_path, lora, cfg->seed);
    if (rc == 0) {
        DPOTrainConfig c = *cfg;
        c.out_dir = out_dir;
        c.replay = replay.n > 0 ? &replay : NULL;
        rc = train_dpo(&m, &chosen, &rejected, ref_c, ref_r, &c) < 0 ? -1 : save_model_folder(&m, out_dir, tok, "dpo", base);
    }
    free(ref_path), free(ref_c), free(ref_r);
    seqset_free(&chosen), seqset_free(&rejected), seqset_free(&replay);
    if (tok) tokenizer_free(tok);
    model_free(&m);
    return rc;
}

// ----------------------------------------------------------------------------
// 8. Evaluation (paper §3.1, evaluation metrics): instruction following on test.jsonl (the
// world's grader standing in for AlpacaEval), the judge on judge_test.jsonl (against gold
// scores or human ranks), and the generation-verification gap (can a model pick its own best
// answer? judge_gap in judge.c has the measure; here the candidates and judgments are made).

void instruction_eval_free(InstructionEval *e) {
    for (int i = 0; i < e->n; i++) free(e->ids[i]), free(e->instructions[i]), free(e->responses[i]);
    free(e->ids), free(e->instructions), free(e->responses), free(e->scores), free(e->tokens), free(e->families);
    free(e->sampled_perfect);
    memset(e, 0, sizeof *e);
}

// responses.jsonl: every request, the response and its grade.
static int write_instruction_eval(const char *out_path, const InstructionEval *e) {
    AtomicFile af;
    if (atomic_open(&af, out_path) < 0) return -1;
    for (int i = 0; i < e->n; i++) {
        fprintf(af.f, "{\"id\": ");
        json_write_cstring(af.f, e->ids[i]);
        fprintf(af.f, ", \"instruction\": ");
        json_write_cstring(af.f, e->instructions[i]);
        fprintf(af.f, ", \"response\": ");
        json_write_cstring(af.f, e->responses[i]);
        if (e->scores[i] >= 0)
            fprintf(af.f, ", \"score\": %d, \"family\": \"%s\", \"tokens\": %d", e->scores[i],
                    world_family_names[e->families[i]], e->tokens[i]);
        else fprintf(af.f, ", \"score\": null, \"tokens\": %d", e->tokens[i]);
        if (e->samples && e->scores[i] >= 0) fprintf(af.f, ", \"samples\": %d, \"sampled_perfect\": %d", e->samples, e->sampled_perfect[i]);
        fprintf(af.f, "}\n");
    }
    return atomic_commit(&af) < 0 ? -1 : 0;
}

// cfg->samples answers to every graded request at cfg->temperature, each seeded by its request's
// id and its number (as the loop's candidates are), graded: e->sampled_perfect, sampled_accuracy.
static int sample_instructions(Model *m, const Tokenizer *tok, const InstructionEvalConfig *cfg, InstructionEval *e) {
    int s = cfg->samples, graded = 0;
    e->samples = s;
    e->sampled_perfect = xcalloc((size_t)(e->n ? e->n : 1), sizeof(int));
    // the graded requests only: the grader scores no other kind
    char **ids = xmalloc((size_t)(e->n ? e->n : 1) * sizeof(char *)), **asks = xmalloc((size_t)(e->n ? e->n : 1) * sizeof(char *));
    int *item = xmalloc((size_t)(e->n ? e->n : 1) * sizeof(int));
    for (int i = 0; i < e->n; i++)
        if (e->scores[i] >= 0) ids[graded] = e->ids[i], asks[graded] = e->instructions[i], item[graded++] = i;
    int total = graded * s;
    const char **requests;
    uint64_t *seeds;
    repeat_requests(ids, asks, graded, s, cfg->seed, "eval-sample", &requests, &seeds);
    char **texts = xcalloc((size_t)(total ? total : 1), sizeof(char *));
    int rc = chat_generate(m, tok, requests, total, seeds, cfg->temperature, cfg->top_p, cfg->max_new, cfg->batch,
                           "eval-sampled", texts, NULL);
    double perfect = 0;
    for (int k = 0; k < total && rc == 0; k++) {
        WorldGrade g;
        int ok = world_grade(requests[k], texts[k], &g) == 0 && g.score == 5;
        e->sampled_perfect[item[k / s]] += ok, perfect += ok;
        free(texts[k]);
    }
    e->sampled_accuracy = graded && s ? perfect / ((double)graded * s) : NAN;
    free(ids), free(asks), free(item), free(requests), free(seeds), free(texts);
    return rc < 0 ? -1 : 0;
}

// Greedy responses to every request of test_path, graded by the world's grader, and
// cfg->samples sampled ones per request; written to out_path (JSON Lines, one per item) when given.
int eval_instructions(Model *m, const Tokenizer *tok, const char *test_path, const InstructionEvalConfig *cfg,
                      const char *out_path, InstructionEval *e) {
    memset(e, 0, sizeof *e);
    e->n = read_requests(test_path, &e->ids, &e->instructions);
    if (e->n < 0) {
        memset(e, 0, sizeof *e);
        return -1;
    }
    e->responses = xcalloc((size_t)(e->n ? e->n : 1), sizeof(char *));
    e->tokens = xcalloc((size_t)(e->n ? e->n : 1), sizeof(int));
    e->scores = xcalloc((size_t)(e->n ? e->n : 1), sizeof(int));
    e->families = xcalloc((size_t)(e->n ? e->n : 1), sizeof(int));
    if (chat_generate(m, tok, (const char *const *)e->instructions, e->n, NULL, 0.0f, 1.0f, cfg->max_new, cfg->batch, "eval",
                      e->responses, e->tokens) < 0) {
        instruction_eval_free(e);
        return -1;
    }
    int graded = 0;
    double sum = 0, exact = 0, tokens = 0, repeats = 0;
    for (int i = 0; i < e->n; i++) {
        WorldGrade g;
        if (world_grade(e->instructions[i], e->responses[i], &g) < 0) {
            e->scores[i] = -1, e->families[i] = -1;
            continue;
        }
        e->scores[i] = g.score, e->families[i] = g.family;
        graded++, sum += g.score, exact += g.score == 5, tokens += e->tokens[i], repeats += g.repeat;
    }
    e->accuracy = graded ? exact / graded : NAN;
    e->mean_score = graded ? sum / graded : NAN;
    e->mean_tokens = graded ? tokens / graded : NAN;
    e->repeat_share = graded ? repeats / graded : NAN;
    e->sampled_accuracy = NAN;
    if ((cfg->samples > 0 && sample_instructions(m, tok, cfg, e) < 0) || (out_path && write_instruction_eval(out_path, e) < 0)) {
        instruction_eval_free(e);
        return -1;
    }
    return 0;
}

void print_instruction_eval(const char *name, const InstructionEval *e) {
    int graded = 0;
    for (int i = 0; i < e->n; i++) graded += e->scores[i] >= 0;
    if (graded == 0) {   // the grader knows only the task world's instructions
        printf("%s: no accuracy: none of the %d requests is a task-world instruction, the only kind the world's grader "
               "scores\n", name, e->n);
        return;
    }
    if (graded < e->n)
        printf("%s: %d of the %d requests are not task-world instructions: not graded, left out\n", name, e->n - graded, e->n);
    printf("%s: accuracy %.1f%% (%d items), mean score %.3f, mean length %.1f tokens, an item repeated in %.1f%%\n", name,
           100 * e->accuracy, e->n, e->mean_score, e->mean_tokens, 100 * e->repeat_share);
    // per family: which kinds of instruction the model follows
    Buf b = {0};
    for (int f = 0; f < world_n_families; f++) {
        int n = 0, exact = 0;
        for (int i = 0; i < e->n; i++)
            if (e->scores[i] >= 0 && e->families[i] == f) n++, exact += e->scores[i] == 5;
        if (n) buf_printf(&b, " %s %d/%d", world_family_names[f], exact, n);
    }
    if (b.len) printf("  by family (exact/items):%s\n", b.data);
    buf_clear(&b);
    for (int k = 0; k < WORLD_N_KINDS; k++) {
        int n = 0, exact = 0;
        for (int i = 0; i < e->n; i++)
            if (e->scores[i] >= 0 && world_family_kind(e->families[i]) == k) n++, exact += e->scores[i] == 5;
        if (n) buf_printf(&b, "%s %s %.1f%% (%d/%d)", b.len ? "," : "", world_kind_names[k], 100.0 * exact / n, exact, n);
    }
    if (b.len) printf("  by kind:%s\n", b.data);
    if (e->samples) {
        buf_clear(&b);
        for (int k = 0; k < WORLD_N_KINDS; k++) {
            int n = 0, perfect = 0;
            for (int i = 0; i < e->n; i++)
                if (e->scores[i] >= 0 && world_family_kind(e->families[i]) == k) n += e->samples, perfect += e->sampled_perfect[i];
            if (n) buf_printf(&b, ", %s %.1f%% (%d/%d)", world_kind_names[k], 100.0 * perfect / n, perfect, n);
        }
        printf("  sampled (%d answers per request): accuracy %.1f%%%s\n", e->samples, 100 * e->sampled_accuracy, b.data ? b.data : "");
    }
    buf_free(&b);
}

// A judge test set (judge_test.jsonl): items, each an instruction with several responses and
// their gold scores (or human ranks, kept as gold = -rank), flattened to one row per response.
typedef struct {
    int n_items, n_resp;
    char **item_ids;         // (n_items) each item's "id" ("?" when it has none)
    char **instr, **resp;    // (n_resp) each response, and its item's instruction
    int *item_of;            // (n_resp) the response's item
    int *index_in_item;      // (n_resp) its index among its item's responses
    double *gold;            // (n_resp) its gold score, higher is better
    int cap, items_cap;      // allocated rows, items
} JudgeData;

static void judge_data_free(JudgeData *d) {
    strings_free(d->instr, d->n_resp), strings_free(d->resp, d->n_resp), strings_free(d->item_ids, d->n_items);
    free(d->item_of), free(d->index_in_item), free(d->gold);
    memset(d, 0, sizeof *d);
}

// Appends response `index` of the item being read (the next item, d->n_items).
static void judge_data_add_response(JudgeData *d, const char *instruction, const char *response, int index, double gold) {
    if (d->n_resp == d->cap) {
        d->cap = grow_capacity(d->cap);
        d->instr = xrealloc(d->instr, (size_t)d->cap * sizeof(char *));
        d->resp = xrealloc(d->resp, (size_t)d->cap * sizeof(char *));
        d->item_of = xrealloc(d->item_of, (size_t)d->cap * sizeof(int));
        d->index_in_item = xrealloc(d->index_in_item, (size_t)d->cap * sizeof(int));
        d->gold = xrealloc(d->gold, (size_t)d->cap * sizeof(double));
    }
    int i = d->n_resp++;
    d->instr[i] = xstrdup(instruction), d->resp[i] = xstrdup(response);
    d->item_of[i] = d->n_items, d->index_in_item[i] = index, d->gold[i] = gold;
}

// One record {"id", "instruction", "responses", "scores" or "ranks"} (line `line` of path) added
// as an item and its responses.
static int judge_data_add_record(JudgeData *d, const JsonValue *rec, const char *path, long line) {
    const char *instruction = json_get_string(rec, "instruction");
    const JsonValue *rs = json_get(rec, "responses"), *sc = json_get(rec, "scores");
    int ranked = !sc && (sc = json_get(rec, "ranks")) != NULL;   // human ranks, 0 the best: gold = -rank
    if (!instruction || !rs || !sc || rs->type != JSON_ARRAY || sc->type != JSON_ARRAY || rs->count != sc->count)
        return errorf("%s:%ld: a judge record needs \"instruction\", and \"responses\" with \"scores\" (gold, higher is better) "
                      "or \"ranks\" (human ranks, 0 the best) of equal length", path, line);
    const JsonValue *a = rs->child, *b = sc->child;
    for (int j = 0; a && b; a = a->next, b = b->next, j++) {
        if (a->type != JSON_STRING || b->type != JSON_NUMBER)
            return errorf("%s:%ld: responses must be strings, scores numbers", path, line);
        judge_data_add_response(d, instruction, a->string, j, ranked ? 0.0 - b->number : b->number);
    }
    if (d->n_items == d->items_cap)
        d->items_cap = grow_capacity(d->items_cap), d->item_ids = xrealloc(d->item_ids, (size_t)d->items_cap * sizeof(char *));
    const char *id = json_get_string(rec, "id");
    d->item_ids[d->n_items++] = xstrdup(id ? id : "?");
    return 0;
}

static int read_judge_data(const char *path, JudgeData *d) {
    memset(d, 0, sizeof *d);
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc;
    while ((rc = jsonl_next(&r, &rec)) > 0)
        if ((rc = judge_data_add_record(d, rec, path, r.line)) < 0) break;
    jsonl_close(&r);
    if (rc < 0) judge_data_free(d);
    return rc < 0 ? -1 : 0;
}

// The judge's mean scores against the gold ones, item by item (judge_metrics), and the share of
// its k samples per response that parsed.
static void judge_eval_metrics(const JudgeData *d, const Judgments *j, int k, JudgeEval *je) {
    JudgeItem *items = xcalloc((size_t)(d->n_items ? d->n_items : 1), sizeof(JudgeItem));
    unsigned char *ok = xmalloc((size_t)(d->n_resp ? d->n_resp : 1));
    for (int i = 0; i < d->n_resp; i++) ok[i] = j->n_scored[i] > 0;
    for (int i = 0; i < d->n_resp; i++) {
        JudgeItem *it = &items[d->item_of[i]];
        if (it->n == 0) it->gold = d->gold + i, it->judge = j->mean + i, it->judge_ok = ok + i;
        it->n++;
    }
    je->n_samples = d->n_resp * k;
    for (int i = 0; i < d->n_resp * k; i++) je->n_parsed += j->status[i] == JUDGE_SCORE_OK;
    je->metrics.parse_rate = je->n_samples ? (double)je->n_parsed / je->n_samples : NAN;
    judge_metrics(items, d->n_items, &je->metrics);
    free(items), free(ok);
}

// Every sample set beside the judgment the grader writes of the same task-world response (line
// by line, judgment_lines_add). The grader's judgments are in the format the world's judge
// template asks for; under another template a line-by-line comparison would only measure the
// format, so none is made.
static void judge_eval_lines(const JudgeData *d, const Judgments *j, int k, const char *template_text, JudgeEval *je) {
    if (strcmp(template_text, WORLD_JUDGE_TEMPLATE) != 0) return;
    for (int i = 0; i < d->n_resp; i++) {
        char *reference = world_judgment(d->instr[i], d->resp[i]);
        if (!reference) continue;  // not a task-world instruction: nothing to compare with
        for (int s = 0; s < k; s++) judgment_lines_add(&je->lines, j->texts[i * k + s], reference);
        free(reference);
    }
}

// judgments.jsonl: per response its item's id, its index, gold and mean scores, and the samples.
static int write_judge_eval(const char *path, const JudgeData *d, const Judgments *j, int k) {
    AtomicFile af;
    if (atomic_open(&af, path) < 0) return -1;
    for (int i = 0; i < d->n_resp; i++) {
        fprintf(af.f, "{\"id\": ");
        json_write_cstring(af.f, d->item_ids[d->item_of[i]]);
        fprintf(af.f, ", \"response_index\": %d, \"gold\": ", d->index_in_item[i]);
        json_write_number(af.f, d->gold[i]);
        fprintf(af.f, ", \"mean\": ");
        json_write_number(af.f, j->mean[i]);
        fprintf(af.f, ", \"scores\": ");
        json_write_number_array(af.f, j->scores + (size_t)i * k, k);
        fprintf(af.f, ", \"judgments\": ");
        json_write_string_array(af.f, j->texts + (size_t)i * k, k);
        fprintf(af.f, "}\n");
    }
    return atomic_commit(&af);
}

// The judge on judge_test.jsonl: k sampled judgments of every response, their means set
// against the gold scores. A sample is seeded by the item's id and the response's index.
int eval_judge(Model *m, const Tokenizer *tok, const char *template_text, const char *path, int k, float temperature,
               uint64_t seed, int max_new, int batch, const char *out_path, JudgeEval *je) {
    memset(je, 0, sizeof *je);
    JudgeData d;
    if (read_judge_data(path, &d) < 0) return -1;
    const char **keys = xmalloc((size_t)(d.n_resp ? d.n_resp : 1) * sizeof(char *));
    for (int i = 0; i < d.n_resp; i++) keys[i] = d.item_ids[d.item_of[i]];
    Judgments j;
    int rc = judge_responses(m, tok, template_text, (const char *const *)d.instr, (const char *const *)d.resp, keys,
                             d.index_in_item, d.n_resp, k, temperature, seed, "judge-eval", max_new, batch, &j);
    free(keys);
    if (rc < 0) {
        judge_data_free(&d);
        return -1;
    }
    judge_eval_metrics(&d, &j, k, je);
    judge_eval_lines(&d, &j, k, template_text, je);
    if (out_path) rc = write_judge_eval(out_path, &d, &j, k);
    judgments_free(&j);
    judge_data_free(&d);
    return rc < 0 ? -1 : 0;
}

void print_judge_eval(const char *name, const JudgeEval *j) {
    const JudgeMetrics *m = &j->metrics;
    printf("%s judge: pairwise %.1f%%, 5-best %.1f%%, exact %.1f%%, Spearman %.3f, Kendall %.3f, parsed %.1f%%\n", name,
           100 * m->pairwise_accuracy, 100 * m->five_best, 100 * m->exact_match, m->spearman, m->kendall_tau_b,
           100 * m->parse_rate);
    const JudgmentLines *l = &j->lines;
    if (l->compared > 0)
        printf("  against the grader's judgments (%d): right line for line %.1f%%; first wrong line: the request %.1f%%, "
               "the answer %.1f%%, a check %.1f%%\n",
               l->compared, 100 * judgment_lines_share(l, l->right), 100 * judgment_lines_share(l, l->wrong_request),
               100 * judgment_lines_share(l, l->wrong_answer), 100 * judgment_lines_share(l, l->wrong_check));
    if (l->all.fails + l->all.passes > 0)
        printf("  check by check: of the checks the grader fails, the judge fails %.1f%% (%d); of those it passes, the "
               "judge passes %.1f%% (%d)\n",
               100 * check_share(l->all.fails_caught, l->all.fails), l->all.fails,
               100 * check_share(l->all.passes_kept, l->all.passes), l->all.passes);
}

// GapItems of the instructions whose family is of `kind` (-1: every gradeable instruction).
static int gap_items_of_kind(const int *family, int n, int kind, int per, const double *judge, const double *grade, GapItem *out) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (family[i] >= 0 && (kind < 0 || world_family_kind(family[i]) == kind)) out[m++] = (GapItem){per, judge + (size_t)i * per, grade + (size_t)i * per};
    return m;
}

// N candidates of every request of test_path at the loop's temperature, each judged K times by
// the model itself, beside the grader's scores. One record per candidate goes to out_path.
int eval_gap(Model *m, const Tokenizer *tok, const char *template_text, const char *test_path, const GapConfig *cfg,
             const char *out_path, GapEval *ge) {
    char **ids, **instructions;
    int n = read_requests(test_path, &ids, &instructions);
    if (n < 0) return -1;
    int n_all = n;
    if (cfg->max_items > 0 && n > cfg->max_items) n = cfg->max_items;
    int per = cfg->candidates, total = n * per;
    const char **requests;
    uint64_t *seeds;
    repeat_requests(ids, instructions, n, per, cfg->seed, "gap-candidate", &requests, &seeds);
    const char **keys = xmalloc((size_t)(total ? total : 1) * sizeof(char *));  // each candidate's judgments: its request's
    int *index = xmalloc((size_t)(total ? total : 1) * sizeof(int));             // id and its number
    for (int k = 0; k < total; k++) keys[k] = ids[k / per], index[k] = k % per;
    char **responses = xcalloc((size_t)(total ? total : 1), sizeof(char *));
    Judgments j = {0};
    int rc = chat_generate(m, tok, requests, total, seeds, cfg->temperature, LOOP_TOP_P, cfg->max_new, cfg->batch, "gap candidates",
                           responses, NULL);
    if (rc == 0)
        rc = judge_responses(m, tok, template_text, requests, (const char *const *)responses, keys, index, total,
                             cfg->judge_samples, cfg->judge_temperature, cfg->seed, "gap-judge", cfg->judge_max_new, cfg->batch, &j);
    if (rc < 0) {
        strings_free(responses, total), strings_free(ids, n_all), strings_free(instructions, n_all);
        free(requests), free(keys), free(index), free(seeds);
        return -1;
    }
    double *grade = xmalloc((size_t)(total ? total : 1) * sizeof(double));
    int *family = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++) {
        WorldTask t;
        family[i] = world_parse(instructions[i], &t) == 0 ? t.family : -1;
        for (int c = 0; c < per; c++) {
            WorldGrade g;
            grade[i * per + c] = family[i] >= 0 && world_grade_task(&t, responses[i * per + c], &g) == 0 ? g.score : NAN;
        }
    }
    GapItem *items = xmalloc((size_t)(n ? n : 1) * sizeof(GapItem));
    int m_items = gap_items_of_kind(family, n, -1, per, j.mean, grade, items);
    judge_gap(items, m_items, cfg->seed, &ge->all);
    for (int k = 0; k < WORLD_N_KINDS; k++) {
        m_items = gap_items_of_kind(family, n, k, per, j.mean, grade, items);
        judge_gap(items, m_items, cfg->seed, &ge->kind[k]);
    }
    AtomicFile af;
    if (out_path && (rc = atomic_open(&af, out_path)) == 0) {
        for (int i = 0; i < total; i++) {
            fprintf(af.f, "{\"id\": ");
            json_write_cstring(af.f, keys[i]);
            fprintf(af.f, ", \"candidate\": %d, \"prompt\": ", index[i]);
            json_write_cstring(af.f, requests[i]);
            fprintf(af.f, ", \"response\": ");
            json_write_cstring(af.f, responses[i]);
            fprintf(af.f, ", \"grade\": ");
            json_write_number(af.f, grade[i]);
            fprintf(af.f, ", \"mean\": ");
            json_write_number(af.f, j.mean[i]);
            fprintf(af.f, ", \"scores\": ");
            json_write_number_array(af.f, j.scores + (size_t)i * j.k, j.k);
            fprintf(af.f, ", \"judgments\": ");
            json_write_string_array(af.f, j.texts + (size_t)i * j.k, j.k);
            fprintf(af.f, "}\n");
        }
        rc = atomic_commit(&af);
    }
    judgments_free(&j);
    strings_free(responses, total), strings_free(ids, n_all), strings_free(instructions, n_all);
    free(requests), free(keys), free(index), free(seeds), free(grade), free(family), free(items);
    return rc < 0 ? -1 : 0;
}

static void print_gap_line(const char *label, const GapResult *r) {
    if (r->prompts == 0) return;
    printf("  %-5s %4d prompts: judge's top answer perfect %.1f%%, any candidate %.1f%%: gap %+.1f points [%+.1f, %+.1f]; "
           "%d pairs, chosen perfect %.1f%%, chosen better/equal/worse %d/%d/%d\n",
           label, r->prompts, 100 * r->top_perfect, 100 * r->any_perfect, 100 * r->gap, 100 * r->gap_lo, 100 * r->gap_hi, r->pairs,
           100 * r->chosen_perfect, r->better, r->equal, r->worse);
}

void print_gap_eval(const char *name, const GapEval *ge) {
    printf("%s generation-verification gap (its own candidates, judged by itself):\n", name);
    print_gap_line("all", &ge->all);
    for (int k = 0; k < WORLD_N_KINDS; k++) print_gap_line(world_kind_names[k], &ge->kind[k]);
}

// gap.json: the gap over all instructions ("all_"), and per kind ("fact_", "form_").
int write_gap_json(const char *path, const GapEval *ge) {
    Buf b = {0};
    buf_append_str(&b, "{");
    judge_gap_json(&b, "all_", &ge->all, 0);
    for (int k = 0; k < WORLD_N_KINDS; k++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "%s_", world_kind_names[k]);
        judge_gap_json(&b, prefix, &ge->kind[k], k + 1 == WORLD_N_KINDS);
    }
    buf_append_str(&b, "}\n");
    int rc = write_file_atomic(path, b.data, b.len);
    buf_free(&b);
    return rc < 0 ? -1 : 0;
}

// ----------------------------------------------------------------------------
// 9. The iteration (paper §2.4, spec stage 9) and the whole run: SFT baseline, EFT data, M1, the
// gap, T iterations Mt -> Mt+1, every model evaluated, the report. Every stage is resumable: a
// finished one is skipped.

static char *run_path(const RunConfig *rc, const char *name) { return path_join(rc->out, name); }

// --stop-after NAME ends the run once that stage is done (to test resuming; to look at a stage):
// 1 when the run stops here.
static int stop_if(const RunConfig *rc, const char *stage) {
    if (rc->stop_after && strcmp(rc->stop_after, stage) == 0) {
        fprintf(stderr, "stopping after %s, as asked (run again to go on)\n", stage);
        return 1;
    }
    return 0;
}

static char *data_path(const RunConfig *rc, const char *name) { return path_join(rc->data, name); }

// metrics.json of one evaluated model: instruction following and the judge's metrics.
static int write_eval_metrics(const char *path, const char *name, const InstructionEval *e, const JudgeEval *je) {
    Buf b = {0};
    const JudgeMetrics *jm = &je->metrics;
    buf_printf(&b, "{\"model\": \"%s\", ", name);
    buf_json_number(&b, "accuracy", e->accuracy, 0);
    buf_json_number(&b, "mean_score", e->mean_score, 0);
    buf_json_number(&b, "mean_tokens", e->mean_tokens, 0);
    buf_json_number(&b, "repeat_share", e->repeat_share, 0);
    buf_printf(&b, "\"items\": %d, \"samples\": %d, ", e->n, e->samples);
    buf_json_number(&b, "sampled_accuracy", e->sampled_accuracy, 0);
    buf_json_number(&b, "judge_pairwise", jm->pairwise_accuracy, 0);
    buf_json_number(&b, "judge_five_best", jm->five_best, 0);
    buf_json_number(&b, "judge_exact", jm->exact_match, 0);
    buf_json_number(&b, "judge_spearman", jm->spearman, 0);
    buf_json_number(&b, "judge_kendall", jm->kendall_tau_b, 0);
    buf_json_number(&b, "judge_parse_rate", jm->parse_rate, 0);
    judgment_lines_json(&b, "judge_", &je->lines, 1);  // the judge samples beside the grader's judgments
    buf_printf(&b, "}\n");
    int rc = write_file_atomic(path, b.data, b.len);
    buf_free(&b);
    return rc < 0 ? -1 : 0;
}

// Evaluates one model into out/eval/<name>/ (skipped when its metrics.json exists).
static int run_eval_model(const RunConfig *rc, const char *name, const char *model_dir, const char *template_text) {
    char sub[128];
    snprintf(sub, sizeof sub, "eval/%s", name);
    char *dir = run_path(rc, sub), *metrics = path_join(dir, "metrics.json");
    if (file_exists(metrics)) {
        free(dir), free(metrics);
        return 0;
    }
    Model m;
    Tokenizer *tok;
    if (make_dirs(dir) < 0 || load_model_and_tokenizer(&m, &tok, model_dir) < 0) {
        free(dir), free(metrics);
        return -1;
    }
    char *test = path_join(rc->eval_data, "test.jsonl"), *judge_test = path_join(rc->eval_data, "judge_test.jsonl");
    char *responses = path_join(dir, "responses.jsonl"), *judgments = path_join(dir, "judgments.jsonl");
    InstructionEval e;
    JudgeEval je;
    InstructionEvalConfig ic = {.max_new = rc->max_new, .batch = rc->batch, .samples = rc->eval_samples,
                                .temperature = rc->candidate_temperature, .top_p = LOOP_TOP_P, .seed = rc->seed};
    int err = eval_instructions(&m, tok, test, &ic, responses, &e);
    if (err == 0) {
        err = eval_judge(&m, tok, template_text, judge_test, rc->eval_judge_samples, 0.7f, rc->seed, rc->judge_max_new,
                         rc->batch, judgments, &je);
        if (err == 0) err = write_eval_metrics(metrics, name, &e, &je);
        if (err == 0) print_instruction_eval(name, &e), print_judge_eval(name, &je);
        instruction_eval_free(&e);
    }
    free(test), free(judge_test), free(responses), free(judgments), free(dir), free(metrics);
    tokenizer_free(tok);
    model_free(&m);
    return err;
}

// M1's gap on test.jsonl into OUT/eval/m1/gap.json (skipped when that exists).
static int run_gap(const RunConfig *rc, const char *model_dir, const char *template_text) {
    char *dir = run_path(rc, "eval/m1"), *json = path_join(dir, "gap.json"), *records = path_join(dir, "gap.jsonl");
    int err = 0;
    if (!file_exists(json)) {
        fprintf(stderr, "== the gap: M1 judging its own candidates of the held-out requests\n");
        Model m;
        Tokenizer *tok;
        err = make_dirs(dir) < 0 || load_model_and_tokenizer(&m, &tok, model_dir) < 0 ? -1 : 0;
        if (err == 0) {
            GapConfig gc = {.candidates = rc->n_candidates, .temperature = rc->candidate_temperature,
                            .judge_samples = rc->judge_samples, .judge_temperature = rc->judge_temperature,
                            .max_new = rc->max_new, .judge_max_new = rc->judge_max_new, .batch = rc->batch,
                            .max_items = rc->gap_items, .seed = rc->seed};
            char *test = path_join(rc->eval_data, "test.jsonl");
            GapEval ge;
            err = eval_gap(&m, tok, template_text, test, &gc, records, &ge);
            if (err == 0) err = write_gap_json(json, &ge);
            if (err == 0) print_gap_eval("m1", &ge);
            free(test);
            tokenizer_free(tok);
            model_free(&m);
        }
    }
    free(dir), free(json), free(records);
    return err;
}

// An iteration's new prompts (by the prompt model with Mt's tokenizer) and prompts.stats.json.
static int run_prompts(const RunConfig *rc, int t, const char *pm, const Tokenizer *tok, const char *prompts,
                       const char *prompt_stats) {
    char *ift = data_path(rc, "ift_seed.jsonl");
    Model m;
    if (model_load(&m, pm) < 0) {
        free(ift);
        return -1;
    }
    GenPromptsConfig gc = GEN_PROMPTS_DEFAULTS;
    gc.n_prompts = rc->n_prompts, gc.batch = rc->batch, gc.rouge_max = rc->rouge_max, gc.seed = rc->seed + (uint64_t)t;
    PromptStats st;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "it%d", t);
    int err = stage_gen_prompts(&m, tok, ift, prompts, prefix, &gc, &st);
    if (err == 0) {
        Buf b = {0};
        buf_printf(&b,
                   "{\"generated\": %d, \"kept\": %d, \"unfinished\": %d, \"too_short\": %d, \"too_long\": %d, "
                   "\"blacklisted\": %d, \"duplicate\": %d, \"near_duplicate\": %d}\n",
                   st.generated, st.kept, st.unfinished, st.too_short, st.too_long, st.blacklisted, st.duplicate, st.similar);
        err = write_file_atomic(prompt_stats, b.data, b.len) < 0 ? -1 : 0;
        buf_free(&b);
    }
    model_free(&m);
    free(ift);
    return err;
}

// An iteration's pairs and pairs.stats.json, from its judgments.
static int run_pairs(const RunConfig *rc, const char *judgments, const char *pairs, const char *pair_stats) {
    PairStats st;
    if (stage_pairs(judgments, pairs, rc->length_rho, rc->min_chosen, rc->grader_pairs, &st) < 0 ||
        write_pair_stats(pair_stats, &st) < 0)
        return -1;
    fprintf(stderr, "pairs: %d prompts, %d kept, %d ties, %d too few scored", st.prompts, st.kept, st.tie, st.too_few);
    if (rc->min_chosen > 0) fprintf(stderr, ", %d with the chosen below %g", st.low_chosen, rc->min_chosen);
    fprintf(stderr, "\n");
    return 0;
}

// One iteration Mt -> Mt+1 (paper §2.4): new prompts, Mt's candidates, Mt's judgments of them,
// pairs, DPO. Each step is skipped when its output exists. 1 when --stop-after stopped it.
static int run_iteration(const RunConfig *rc, int t, const char *template_text) {
    char name[64];
    snprintf(name, sizeof name, "iter%d", t);
    char *dir = run_path(rc, name);
    char model_name[32], next_name[32];
    snprintf(model_name, sizeof model_name, "m%d", t);
    snprintf(next_name, sizeof next_name, "m%d", t + 1);
    char *model_dir = run_path(rc, model_name), *next_dir = run_path(rc, next_name);
    char *prompts = path_join(dir, "prompts.jsonl"), *cands = path_join(dir, "candidates.jsonl");
    char *judgments = path_join(dir, "judgments.jsonl"), *pairs = path_join(dir, "pairs.jsonl");
    char *pair_stats = path_join(dir, "pairs.stats.json"), *prompt_stats = path_join(dir, "prompts.stats.json");
    char stage[32];
    Tokenizer *tok = NULL;
    int err = make_dirs(dir);
    if (err < 0) goto done;
    fprintf(stderr, "== iteration %d: %s -> %s\n", t, model_name, next_name);
    if (!(tok = tokenizer_for_model(NULL, model_dir))) {
        err = -1;
        goto done;
    }
    if (!file_exists(prompts) || !file_exists(prompt_stats)) {
        err = run_prompts(rc, t, rc->prompt_model ? rc->prompt_model : model_dir, tok, prompts, prompt_stats);
        if (err < 0) goto done;
    }
    snprintf(stage, sizeof stage, "prompts%d", t);
    if ((err = stop_if(rc, stage))) goto done;
    if (!file_exists(cands) || !file_exists(judgments)) {
        Model m;
        if ((err = model_load(&m, model_dir)) < 0) goto done;
        if (!file_exists(cands))
            err = stage_gen_responses(&m, tok, prompts, cands, rc->n_candidates, rc->candidate_temperature, LOOP_TOP_P, rc->max_new,
                                      rc->batch, rc->seed + (uint64_t)t);
        snprintf(stage, sizeof stage, "candidates%d", t);
        if (err == 0) err = stop_if(rc, stage);
        if (err == 0 && !file_exists(judgments))
            err = stage_judge(&m, tok, template_text, cands, judgments, rc->judge_samples, rc->judge_temperature,
                              rc->judge_max_new, rc->batch, rc->seed + (uint64_t)t);
        model_free(&m);
        if (err) goto done;
    }
    snprintf(stage, sizeof stage, "judgments%d", t);
    if ((err = stop_if(rc, stage))) goto done;
    if (!file_exists(pairs) || !file_exists(pair_stats))
        if ((err = run_pairs(rc, judgments, pairs, pair_stats)) < 0) goto done;
    snprintf(stage, sizeof stage, "pairs%d", t);
    if ((err = stop_if(rc, stage))) goto done;
    if (!stage_done(next_dir)) {
        DPOTrainConfig d = rc->dpo;
        d.seed = rc->seed + (uint64_t)t;
        char *eft_train = run_path(rc, "eft/eft_train.jsonl");
        err = stage_dpo(model_dir, pairs, d.replay_weight > 0 ? eft_train : NULL, next_dir, &d, 32, &rc->lora);
        free(eft_train);
        if (err < 0) goto done;
    }
    err = stop_if(rc, next_name);
done:
    if (tok) tokenizer_free(tok);
    free(prompt_stats);
    free(dir), free(model_dir), free(next_dir), free(prompts), free(cands), free(judgments), free(pairs), free(pair_stats);
    return err;
}

// The run's report: report.md, report.json and the charts, from every stage's files.
static int run_report(const RunConfig *rc, const char *template_text) {
    Buf settings = {0};
    // the paths are the user's: escaped, so that a quote or backslash in one keeps report.json valid
    buf_append_str(&settings, "{\"base\": ");
    buf_json_string(&settings, rc->base, strlen(rc->base));
    buf_append_str(&settings, ", \"data\": ");
    buf_json_string(&settings, rc->data, strlen(rc->data));
    buf_append_str(&settings, ", \"eval_data\": ");
    buf_json_string(&settings, rc->eval_data, strlen(rc->eval_data));
    buf_printf(&settings,
               ", \"m1\": \"%s\", \"iterations\": %d, \"prompts\": %d, \"candidates\": %d, "
               "\"judge_samples\": %d, \"judge_temperature\": %g, \"candidate_temperature\": %g, \"length_rho\": %g, \"grader_pairs\": %s, \"beta\": %g, \"nll_alpha\": %g, "
               "\"dpo_lr\": %g, \"dpo_epochs\": %d, \"dpo_replay\": %g, \"min_chosen\": %g, \"seed\": %llu}",
               rc->m1_mode, rc->iterations, rc->n_prompts, rc->n_candidates, rc->judge_samples, (double)rc->judge_temperature, (double)rc->candidate_temperature, rc->length_rho,
               rc->grader_pairs ? "true" : "false", rc->dpo.beta, rc->dpo.nll_alpha, rc->dpo.lr, rc->dpo.epochs,
               (double)rc->dpo.replay_weight, rc->min_chosen, (unsigned long long)rc->seed);
    int err = write_run_report(rc->out, rc->iterations, settings.data, strcmp(template_text, WORLD_JUDGE_TEMPLATE) == 0, stdout);
    buf_free(&settings);
    if (err < 0) return -1;
    printf("report: %s/report.md (and report.json, accuracy.svg, judge.svg, pairs.svg, dpo.svg)\n", rc->out);
    return 0;
}

// EFT data from the SFT baseline's own answers to the world's EFT seed (stage_eft_prep_world).
static int run_eft(const RunConfig *rc, const char *sft_dir, const char *eft_dir, const char *template_text) {
    Model m;
    Tokenizer *tok;
    if (load_model_and_tokenizer(&m, &tok, sft_dir) < 0) return -1;
    EftPrepConfig ec = EFT_PREP_DEFAULTS;
    ec.n_prompts = rc->eft_prompts, ec.answers = rc->eft_answers, ec.answer_max_new = rc->max_new;
    ec.batch = rc->batch, ec.seed = rc->seed;
    int err = stage_eft_prep_world(&m, tok, rc->data, template_text, eft_dir, &ec);
    tokenizer_free(tok);
    model_free(&m);
    return err;
}

// The whole run (spec "Models": SFT baseline, M1, M2, ...), every stage skipped when its output
// exists, so that a rerun goes on where an interrupted one stopped. 1 when --stop-after stopped it.
int run_pipeline(const RunConfig *cfg) {
    RunConfig copy = *cfg, *rc = &copy;
    if (make_dirs(rc->out) < 0) return -1;
    double t0 = now_seconds();
    char *template_text;
    {
        char *default_template = data_path(rc, "judge_template.txt");
        template_text = read_template(rc->template_path ? rc->template_path : (file_exists(default_template) ? default_template : NULL));
        free(default_template);
        if (!template_text) return -1;
    }
    char *ift = data_path(rc, "ift_seed.jsonl"), *sft_dir = run_path(rc, "sft"), *eft_dir = run_path(rc, "eft");
    char *eft_train = path_join(eft_dir, "eft_train.jsonl"), *m1_dir = run_path(rc, "m1");
    if (!rc->prompt_model) rc->prompt_model = rc->base;
    int err = 0;
    // 1. the SFT baseline
    if (!stage_done(sft_dir)) {
        fprintf(stderr, "== SFT baseline: %s + IFT seed\n", rc->base);
        if ((err = stage_sft(rc->base, NULL, ift, sft_dir, &rc->ift, 0, 1, &rc->lora)) < 0) goto done;
    }
    if ((err = stop_if(rc, "sft"))) goto done;
    // 2. EFT data
    if (!file_exists(eft_train)) {
        fprintf(stderr, "== EFT data from the SFT baseline's own answers\n");
        if ((err = run_eft(rc, sft_dir, eft_dir, template_text)) < 0) goto done;
    }
    if ((err = stop_if(rc, "eft"))) goto done;
    // 3. M1
    if (!stage_done(m1_dir)) {
        Buf files = {0};
        buf_printf(&files, "%s,%s", ift, eft_train);
        int joint = strcmp(rc->m1_mode, "joint") == 0;
        fprintf(stderr, "== M1: %s + IFT + EFT\n", joint ? rc->base : "SFT baseline");
        err = stage_sft(joint ? rc->base : sft_dir, NULL, files.data, m1_dir, &rc->m1, 0, 1, &rc->lora);
        buf_free(&files);
        if (err < 0) goto done;
    }
    if ((err = stop_if(rc, "m1"))) goto done;
    // 3b. before the loop: can M1 pick its own best answer? Its generation-verification gap on
    // the held-out requests, with the loop's N, K and temperatures
    if ((err = run_gap(rc, m1_dir, template_text)) < 0) goto done;
    if ((err = stop_if(rc, "gap"))) goto done;
    // 4. self-rewarding iterations
    for (int t = 1; t <= rc->iterations; t++)
        if ((err = run_iteration(rc, t, template_text))) goto done;
    // 5. evaluation
    fprintf(stderr, "== evaluation\n");
    if ((err = run_eval_model(rc, "sft", sft_dir, template_text)) < 0) goto done;
    for (int t = 1; t <= rc->iterations + 1 && err == 0; t++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", t);
        char *dir = run_path(rc, name);
        err = run_eval_model(rc, name, dir, template_text);
        free(dir);
    }
    if (err < 0) goto done;
    // 6. the report
    if ((err = run_report(rc, template_text)) < 0) goto done;
    fflush(stdout);  // the summary first: with both streams in one file, stderr would land inside it
    fprintf(stderr, "run finished in %.1fs\n", now_seconds() - t0);
done:
    free(template_text), free(ift), free(sft_dir), free(eft_dir), free(eft_train), free(m1_dir);
    return err;
}

// ----------------------------------------------------------------------------
// the tools the stages share. Each returns -1 with srl_error naming the file and what is wrong.

// srl_error prefixed by where it happened ("what: why"), -1. (errorf cannot read srl_error while
// it writes it.)
static int error_in(const char *what) {
    char why[sizeof srl_error];
    snprintf(why, sizeof why, "%s", srl_error);
    return errorf("%s: %s", what, why);
}

// error_in at a line of a file ("path:line: why").
static int error_at(const char *path, long line) {
    char at[4200];
    snprintf(at, sizeof at, "%s:%ld", path, line);
    return error_in(at);
}

// stage outputs: a folder counts as finished only when its srl_done.json exists, and that
// file is written last, after every other output is in place.
int stage_done(const char *dir) {
    char *p = path_join(dir, "srl_done.json");
    int done = file_exists(p);
    free(p);
    return done;
}

int stage_mark_done(const char *dir, const char *what) {
    char *p = path_join(dir, "srl_done.json");
    char text[256];
    int n = snprintf(text, sizeof text, "{\"stage\": \"%s\"}\n", what);
    int rc = write_file_atomic(p, text, (size_t)n);
    free(p);
    return rc < 0 ? -1 : 0;
}

// tokenizer_config.json beside a folder's tokenizer.json (Hugging Face's AutoTokenizer reads the
// special tokens and the chat template from it), model_max_length the model's context.
int save_tokenizer_config(const Tokenizer *t, const Model *m, const char *dir) {
    char *p = path_join(dir, "tokenizer_config.json");
    int rc = tokenizer_save_hf_config(t, m->config.max_seq_len, p);
    free(p);
    return rc;
}

// A folder's tokenizer: tokenizer.json and tokenizer_config.json.
int save_tokenizer_files(const Tokenizer *t, const Model *m, const char *dir) {
    char *p = path_join(dir, "tokenizer.json");
    int rc = tokenizer_save_json(t, p);
    free(p);
    return rc < 0 ? -1 : save_tokenizer_config(t, m, dir);
}

// The base an adapter trained from model_path names: the base of model_path when that is an
// adapter folder itself, else model_path, as an absolute path (the adapter is read from anywhere).
static void adapter_base_name(const char *model_path, char *out, size_t cap) {
    char base[4096];
    const char *b = lora_adapter_base(model_path, base, sizeof base) == 1 ? base : model_path;
    char *abs = realpath(b, NULL);
    snprintf(out, cap, "%s", abs ? abs : b);
    free(abs);
}

// Saves a trained model folder with its tokenizer, then marks it done. With LoRA adapters the
// folder holds them in PEFT's format (naming base), else the whole model.
static int save_model_folder(const Model *m, const char *dir, const Tokenizer *tok, const char *what, const char *base) {
    if (m->lora ? lora_save(m, dir, base) : model_save(m, dir, 0)) return -1;
    if (tok && save_tokenizer_files(tok, m, dir) < 0) return -1;
    return stage_mark_done(dir, what);
}

// The model a training stage starts from, before training: with LoRA the base keeps its file's
// dtype (an adapter folder brings its adapter along), else every weight is float32.
static int load_stage_model(Model *m, const char *model_path, const LoRAFlags *f) {
    return model_load_as(m, model_path, f->r > 0 ? LOAD_AUTO : LOAD_F32) < 0 ? -1 : 0;
}

// Readies m to train: with LoRA, the adapter it brought (when its options agree) or fresh
// adapters seeded by seed; without, an adapter it brought is merged into the weights.
static int prepare_training(Model *m, const char *model_path, const LoRAFlags *f, uint64_t seed) {
    if (f->r == 0) return model_lora_merge(m) < 0 ? -1 : 0;
    LoRAConfig lc = {f->r, (float)f->alpha, 0};
    if (lora_targets_parse(f->targets, &lc.targets) < 0) return error_in("--lora-targets");
    if (m->lora) {
        const LoRAConfig *has = &m->lora_config;
        if (has->r != lc.r || has->alpha != lc.alpha || has->targets != lc.targets)
            return errorf("%s carries a LoRA adapter of rank %d, alpha %g: train it on with those --lora-* options (and its "
                          "targets), or merge it first with srl merge", model_path, has->r, (double)has->alpha);
        return 0;
    }
    return model_lora_init(m, &lc, seed) < 0 ? -1 : 0;
}

// chat data: JSON Lines records with "messages" [{"role", "content"}...] become token sequences
// through the chat template, with the assistant's tokens as the training targets.
// The messages of a record (an array of {"role", "content"} objects). Returns the count, or
// -1 with srl_error naming the file and line.
static int record_messages(const JsonValue *rec, const char *path, long line, ChatMessage *out, int cap) {
    const JsonValue *msgs = json_get(rec, "messages");
    if (!msgs || msgs->type != JSON_ARRAY || msgs->count == 0)
        return errorf("%s:%ld: a record needs a non-empty \"messages\" array", path, line);
    int n = 0;
    for (const JsonValue *m = msgs->child; m; m = m->next) {
        const char *role = json_get_string(m, "role"), *content = json_get_string(m, "content");
        if (!role || !content) return errorf("%s:%ld: message %d needs string \"role\" and \"content\"", path, line, n + 1);
        if (n == cap) return errorf("%s:%ld: more than %d messages", path, line, cap);
        out[n].role = role;
        out[n].content = content;
        n++;
    }
    return n;
}

// Reads chat records into set; sequences longer than max_len tokens are skipped and counted.
// On an error the set holds the records read before it (the caller frees it).
static int load_chat_set(const Tokenizer *tok, const char *path, int max_len, SeqSet *set) {
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, skipped = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        ChatMessage msgs[64];
        int n = record_messages(rec, path, r.line, msgs, 64);
        if (n < 0) {
            rc = -1;
            break;
        }
        int *ids, n_ids;
        unsigned char *mask;
        if (chat_encode(tok, msgs, n, 0, &ids, &mask, &n_ids) < 0) {
            rc = error_at(path, r.line);
            break;
        }
        if (n_ids > max_len) skipped++;
        else seqset_add(set, ids, mask, n_ids, json_get_string(rec, "id"));
        free(ids);
        free(mask);
    }
    jsonl_close(&r);
    if (rc < 0) return -1;
    if (skipped) warnf("%s: %d records longer than %d tokens were skipped", path, skipped, max_len);
    return 0;
}

// load_chat_set over a comma-separated list of files, into one set.
static int load_chat_files(const Tokenizer *tok, const char *files, int max_len, SeqSet *set) {
    char *list = xstrdup(files);
    int rc = 0;
    for (char *file = strtok(list, ","); file && rc == 0; file = strtok(NULL, ",")) rc = load_chat_set(tok, file, max_len, set);
    free(list);
    return rc;
}

// Splits a set: every k-th sequence (by position) goes to the held-out part.
static void split_heldout(SeqSet *all, double fraction, SeqSet *train, SeqSet *heldout) {
    int every = fraction > 0 ? (int)(1.0 / fraction + 0.5) : 0;
    for (int i = 0; i < all->n; i++) {
        SeqSet *dst = every > 0 && i % every == every - 1 ? heldout : train;
        seqset_add(dst, all->ids[i], all->mask[i], all->lens[i], all->keys[i]);
    }
}

// The instruction and response of a record, in any of the accepted forms.
int record_instruction_response(const JsonValue *rec, const char **instruction, const char **response) {
    *instruction = json_get_string(rec, "instruction");
    *response = json_get_string(rec, "response");
    if (!*instruction) *instruction = json_get_string(rec, "prompt");
    if (!*response) *response = json_get_string(rec, "completion");
    const JsonValue *msgs = json_get(rec, "messages");
    for (const JsonValue *m = msgs && msgs->type == JSON_ARRAY ? msgs->child : NULL; m; m = m->next) {
        const char *role = json_get_string(m, "role"), *content = json_get_string(m, "content");
        if (!role || !content) continue;
        if (strcmp(role, "user") == 0 && !*instruction) *instruction = content;
        if (strcmp(role, "assistant") == 0 && !*response) *response = content;
    }
    return *instruction && *response ? 0 : -1;
}

static void strings_free(char **s, int n) {
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

// Reads the first user message (and the id) of each record of a chat file: the count, or -1
// (nothing left allocated).
static int read_requests(const char *path, char ***ids, char ***requests) {
    *ids = NULL, *requests = NULL;
    JsonlReader r;
    if (jsonl_open(&r, path) < 0) return -1;
    const JsonValue *rec;
    int rc, n = 0, cap = 0;
    while ((rc = jsonl_next(&r, &rec)) > 0) {
        const char *instruction = json_get_string(rec, "instruction"), *response;
        if (!instruction) record_instruction_response(rec, &instruction, &response);
        if (!instruction) {
            rc = errorf("%s:%ld: no user message or instruction in the record", path, r.line);
            break;
        }
        const char *id = json_get_string(rec, "id");
        char fallback[32];
        snprintf(fallback, sizeof fallback, "line-%ld", r.line);
        id_text_append(ids, requests, n++, &cap, id ? id : fallback, instruction);
    }
    jsonl_close(&r);
    return id_texts_done(rc, n, ids, requests);
}

// generation through the chat template
// The stop tokens of a model: its config's eos ids plus the tokenizer's end-of-turn and
// end-of-text tokens.
int stop_tokens(const Model *m, const Tokenizer *t, int *out, int cap) {
    int n = 0;
    for (int i = 0; i < m->config.n_eos && n < cap; i++) out[n++] = m->config.eos_token_ids[i];
    int extra[2] = {t ? tokenizer_eot_id(t) : -1, t ? tokenizer_eos_id(t) : -1};
    for (int i = 0; i < 2; i++) {
        int dup = extra[i] < 0;
        for (int j = 0; j < n; j++) dup |= out[j] == extra[i];
        if (!dup && n < cap) out[n++] = extra[i];
    }
    return n;
}

// Each of n requests `per` times (copy c of request i at i * per + c) and each copy's sampling
// seed, item_seed(seed, purpose, ids[i], c): an answer depends on its request and number, never
// on the batch it is decoded in. *requests and *seeds are malloc'd (the texts are not copied).
static void repeat_requests(char *const *ids, char *const *texts, int n, int per, uint64_t seed, const char *purpose,
                            const char ***requests, uint64_t **seeds) {
    size_t total = (size_t)n * (size_t)per;
    *requests = xmalloc((total ? total : 1) * sizeof(char *));
    *seeds = xmalloc((total ? total : 1) * sizeof(uint64_t));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < per; c++)
            (*requests)[(size_t)i * per + c] = texts[i], (*seeds)[(size_t)i * per + c] = item_seed(seed, purpose, ids[i], c);
}

// Responses to n single-turn requests: each request goes through the chat template with the
// assistant's header opened; generation stops at the end-of-turn token. seeds[i] makes
// response i reproducible on its own. texts (malloc'd) and token counts are returned; on an
// error none is left allocated.
static int chat_generate(Model *m, const Tokenizer *tok, const char *const *requests, int n, const uint64_t *seeds,
                         float temperature, float top_p, int max_new, int batch, const char *label, char **texts,
                         int *n_tokens) {
    int **prompts = xcalloc((size_t)(n ? n : 1), sizeof(int *)), *lens = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    int **outs = xcalloc((size_t)(n ? n : 1), sizeof(int *)), *out_lens = xmalloc((size_t)(n ? n : 1) * sizeof(int));
    int rc = 0, n_texts = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        ChatMessage msg = {"user", requests[i]};
        if (chat_encode(tok, &msg, 1, 1, &prompts[i], NULL, &lens[i]) < 0) rc = -1, prompts[i] = NULL;
        // checked before any generation, so that a run fails at once rather than hours in; a
        // prompt is never cut, since a cut request or judge template would be another task
        else if (lens[i] + max_new > m->config.max_seq_len)
            rc = errorf("%s: request %d is %d tokens with the chat template, which leaves no room for %d new ones in the "
                        "model's %d positions (a shorter prompt or judge template, or fewer new tokens, is needed)",
                        label, i + 1, lens[i], max_new, m->config.max_seq_len);
    }
    int stops[MAX_EOS_IDS + 2];
    GenerateConfig g = {.max_new_tokens = max_new, .temperature = temperature, .top_p = top_p, .max_batch = batch,
                        .progress = 1, .progress_label = label};
    g.n_stop = stop_tokens(m, tok, stops, MAX_EOS_IDS + 2);
    g.stop_ids = stops;
    if (rc == 0 && model_generate(m, n, (const int *const *)prompts, lens, seeds, &g, outs, out_lens, NULL) < 0) {
        rc = error_in(label);
        memset(outs, 0, (size_t)(n ? n : 1) * sizeof(int *));
    }
    for (int i = 0; i < n && rc == 0; i++) {
        size_t len;
        if (tokenizer_decode(tok, outs[i], out_lens[i], &texts[i], &len) < 0) rc = -1;
        else n_texts++;
        if (n_tokens) n_tokens[i] = out_lens[i];
    }
    if (rc < 0)
        for (int i = 0; i < n_texts; i++) free(texts[i]), texts[i] = NULL;
    for (int i = 0; i < n; i++) free(outs[i]), free(prompts[i]);
    free(outs), free(out_lens), free(prompts), free(lens);
    return rc;
}

// A seed for one generation: from the run's seed, what it is for, the record's key (a prompt
// id, never a position) and an index (candidate, sample). The same on every run and in any
// batch, different for every generation.
uint64_t item_seed(uint64_t seed, const char *purpose, const char *key, long index) {
    uint64_t h = HASH_START;  // FNV-1a over purpose and key
    for (const char *p = purpose; *p; p++) h = hash_extend(h, (unsigned char)*p);
    h = hash_extend(h, 0xFF);
    for (const char *p = key ? key : ""; *p; p++) h = hash_extend(h, (unsigned char)*p);
    Rng r;
    rng_seed(&r, seed ^ h ^ ((uint64_t)index * 0x9E3779B97F4A7C15ull));
    return rng_next(&r);
}

// The judge template at path (NULL: the built-in one), checked; NULL with srl_error.
char *read_template(const char *path) {
    if (!path) return xstrdup(JUDGE_DEFAULT_TEMPLATE);
    char *text;
    size_t len;
    if (read_file(path, &text, &len, 1 << 20) < 0) return NULL;
    if (judge_check_template(text) < 0) {
        free(text);
        error_in(path);
        return NULL;
    }
    return text;
}

// The tokenizer for a model: tokenizer_path when given, else the model folder's own (an adapter
// folder without one: its base's). A llama2.c .bin file holds none. NULL with srl_error.
Tokenizer *tokenizer_for_model(const char *tokenizer_path, const char *model_path) {
    const char *path = tokenizer_path;
    char base[4096];
    if (!path) {
        if (!model_path || !dir_exists(model_path)) {
            errorf("no tokenizer: %s is a file, not a model folder with a tokenizer.json beside the weights (srl convert "
                   "--from %s --to DIR makes the folder; put the tokenizer.json in it)", model_path ? model_path : "the model",
                   model_path ? model_path : "FILE");
            return NULL;
        }
        path = model_path;
        char *tj = path_join(model_path, "tokenizer.json"), *tm = path_join(model_path, "tokenizer.model");
        if (!file_exists(tj) && !file_exists(tm) && lora_adapter_base(model_path, base, sizeof base) == 1) path = base;
        free(tj), free(tm);
    }
    Tokenizer *t;
    return tokenizer_load(&t, path) < 0 ? NULL : t;
}

// A model folder and its tokenizer, for the stages that generate (float32 or the file's dtype as
// model_load reads it). -1 with srl_error, nothing left loaded.
static int load_model_and_tokenizer(Model *m, Tokenizer **tok, const char *model_path) {
    if (model_load(m, model_path) < 0) return -1;
    if (!(*tok = tokenizer_for_model(NULL, model_path))) {
        model_free(m);
        return -1;
    }
    return 0;
}
