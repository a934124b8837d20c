// judge.h: LLM-as-a-Judge: the judge prompt, the score parser, preference pairs, judge metrics;
// and the filters a self-instructed request passes (gen-prompts).
#ifndef SRL_JUDGE_H
#define SRL_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"  // Buf

// The default judge template: the paper's additive 5-point rubric in our own words, then the
// request and the response, then the instruction to justify and end with "Score: <points>".
// A template is any text holding the placeholders {instruction} and {response}, once each.
extern const char JUDGE_DEFAULT_TEMPLATE[];

// Checks that a template holds {instruction} and {response}; -1 with srl_error otherwise.
int judge_check_template(const char *template_text);

// The judge prompt: the template with its placeholders replaced. Returns a malloc'd string.
char *judge_format_prompt(const char *template_text, const char *instruction, const char *response);

// ----------------------------------------------------------------------------
// the score parser

enum {
    JUDGE_SCORE_OK = 0,             // a score in 0..5 was read
    JUDGE_SCORE_MISSING = 1,        // no readable score: the sample is dropped
    JUDGE_SCORE_OUT_OF_RANGE = 2,   // a score was written but is outside 0..5 or not on the 5-point scale: dropped
};

// Reads the judge's score from its output. The LAST "Score:" label decides (the judge ends with
// its score); the full grammar and the cases it refuses are in judge.c. Returns a JUDGE_SCORE_*
// status; *score (may be NULL) gets the score when OK and NaN otherwise. Linear time.
int judge_parse_score(const char *text, double *score);
const char *judge_score_status_name(int status);       // "ok", "missing", "out_of_range"

// The mean of one candidate's judge samples: only samples whose status is JUDGE_SCORE_OK count.
// Returns how many counted; 0 means the candidate has no score (*mean is NaN), never a score of 0.
int judge_mean_score(const double *scores, const int *status, int n, double *mean);

// ----------------------------------------------------------------------------
// MT-Bench's single-answer grading (FastChat's llm_judge): a 1-10 rating written "Rating: [[k]]"

// FastChat's judge prompts for single-answer grading, as its data/judge_prompts.jsonl writes them
// (Apache-2.0): a system prompt and a user prompt with {question}, {answer}, {ref_answer_1}, ...
// The general and the reference-guided ("math") prompts, for the first turn and for the second.
typedef struct {
    const char *name;            // "single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"
    const char *system_prompt;
    const char *prompt_template;
} MtBenchJudgePrompt;
extern const MtBenchJudgePrompt MT_BENCH_JUDGE_PROMPTS[4];
enum { MT_BENCH_SINGLE = 0, MT_BENCH_SINGLE_MATH = 1, MT_BENCH_MULTI_TURN = 2, MT_BENCH_MULTI_TURN_MATH = 3 };

// The prompt with its placeholders ({question}, {answer}, {question_1}, {question_2}, {answer_1},
// {answer_2}, {ref_answer_1}, {ref_answer_2}) replaced by values[k] for names[k]; a placeholder not
// named is left as it is. Returns a malloc'd string.
char *mt_bench_format(const char *template_text, const char *const *names, const char *const *values, int n);

// Reads the judge's rating as FastChat does (grammar in judge.c): the first "[[number]]", else the
// first "[number]". JUDGE_SCORE_OK with *rating in 1..10; OUT_OF_RANGE for a number outside it;
// MISSING when there is none. *rating (may be NULL) is NaN unless OK. Linear time.
int judge_parse_rating(const char *text, double *rating);

// ----------------------------------------------------------------------------
// preference pairs

enum {
    JUDGE_PAIR_OK = 0,              // chosen and rejected are set
    JUDGE_PAIR_TIE = 1,             // the chosen would score the same as the rejected: the prompt is dropped
    JUDGE_PAIR_TOO_FEW = 2,         // fewer than 2 scored candidates: the prompt is dropped
    JUDGE_PAIR_LOW_CHOSEN = 3,      // the chosen's mean is below min_chosen: the prompt is dropped
};

typedef struct {
    int index;          // the candidate's index within its prompt (its id, never a position in some array)
    int scored;         // 0: no judge sample parsed, the candidate takes no part
    double mean;        // mean judge score (when scored)
    int length;         // response length in tokens or bytes (used by length control only)
} JudgedCandidate;

typedef struct {
    int status;                         // JUDGE_PAIR_*
    int chosen, rejected;               // candidate indexes when OK; -1 otherwise
    double score_chosen, score_rejected; // their means; on TIE the tied mean; NaN on TOO_FEW
} PairChoice;

// Picks one prompt's preference pair from its judged candidates (rule in judge.c): chosen is the
// highest mean, rejected the lowest; with length control (length_rho >= 0, Meta-Rewarding) chosen
// is the shortest candidate scoring within length_rho of the top. length_rho < 0: off.
// min_chosen > 0: a pair whose chosen mean is below it is dropped (LOW_CHOSEN); 0: off.
void judge_select_pair(const JudgedCandidate *c, int n, double length_rho, double min_chosen, PairChoice *out);
const char *judge_pair_status_name(int status);        // "ok", "tie", "too_few", "low_chosen"

// ----------------------------------------------------------------------------
// self-instruction: the filters a new request passes (gen-prompts)

#define PROMPT_MAX_WORDS 128   // words of a request compared by ROUGE-L; --max-words is at most this

enum {
    PROMPT_KEPT = 0,
    PROMPT_UNFINISHED,      // no newline after it (the budget ran out) or it does not end in '.' or '?'
    PROMPT_TOO_SHORT,       // fewer than min_words words
    PROMPT_TOO_LONG,        // more than max_words words
    PROMPT_BLACKLISTED,     // one of its words is on the blacklist (image, picture, draw, file, ...)
    PROMPT_DUPLICATE,       // the same words as a known request (ROUGE-L 1)
    PROMPT_SIMILAR,         // ROUGE-L above rouge_max against a known request
};

// The known requests (the seed set, then each one kept) as word hashes, for ROUGE-L.
typedef struct {
    uint64_t (*words)[PROMPT_MAX_WORDS];  // (cap, PROMPT_MAX_WORDS) each request's word hashes
    int *len;                             // (cap,) its word count
    int n, cap;
} PromptPool;

// A text's words: runs of ASCII letters and digits, lowercased, each as its 64-bit FNV-1a hash
// (so that ROUGE-L compares integers). At most cap words; returns how many.
int prompt_words(const char *text, uint64_t *words, int cap);
// ROUGE-L F1 of two word sequences: the longest common subsequence over their lengths.
// na, nb <= PROMPT_MAX_WORDS; 0 when either is empty.
double prompt_rouge_l(const uint64_t *a, int na, const uint64_t *b, int nb);
void prompt_pool_add(PromptPool *pool, const char *request);
void prompt_pool_free(PromptPool *pool);

// Filters one continuation of the numbered list: text is what the model wrote after "9.",
// trimmed in place to the request (the first line, spaces around it dropped; *request points
// into text). Returns PROMPT_KEPT or the first filter it fails, in the enum's order; the
// caller adds a kept request to the pool.
int prompt_filter(char *text, int min_words, int max_words, double rouge_max, const PromptPool *pool, char **request);
const char *prompt_verdict_name(int verdict);   // "kept", "unfinished", "too_short", ...

// ----------------------------------------------------------------------------
// measuring the judge against gold scores (held-out sets of ranked human replies)

// One instruction with n responses: their gold scores (higher is better), the judge's mean
// scores, and judge_ok[i] = 0 when the judge produced no score for response i.
typedef struct {
    int n;
    const double *gold;
    const double *judge;
    const unsigned char *judge_ok;
} JudgeItem;

// All shares are fractions in 0..1 (the caller prints percentages); NaN when nothing was counted.
// Items with no responses count in n_items only.
typedef struct {
    int n_items, n_responses, n_unscored;
    double pairwise_accuracy; int n_pairs;      // over pairs of one item's responses with different gold scores: share the judge orders the same way (a judge tie or an unscored response: not agreeing)
    double five_best;                           // share of items where the judge's top response is a gold-best one; ties at the judge's top earn |judge_top & gold_top| / |judge_top|
    double exact_match;                         // share of items whose judge order equals the gold order on every pair (ties must match ties; an unscored response: no match)
    double spearman; int n_spearman_items;      // mean Spearman rho over items; items with an unscored response or a constant side are skipped, not counted
    double kendall_tau_b; int n_kendall_items;  // mean Kendall tau-b over items, same skipping rule
    double parse_rate;                          // set by the caller from its sample counts; judge_metrics leaves it as passed in
} JudgeMetrics;

void judge_metrics(const JudgeItem *items, int n_items, JudgeMetrics *out);

// Where a judgment first departs from a reference judgment of the same response (the task
// world's grader writes the one a perfect judge would): the 0-based index of the first line
// that differs, or -1 when they agree line for line. Trailing white space and newlines at the
// end of either text are ignored; a line one text has and the other lacks is a difference.
int judge_first_difference(const char *judgment, const char *reference);

// One check of the world's judgment format, named by its line ("Count", "Kinds", "Between",
// "First letters", "Last word", ...; a check line ends in ": yes." or ": no."): the judge's
// verdicts beside the grader's on the same responses. A check line the judge left out, or
// wrote without a verdict, agrees with neither side.
typedef struct {
    char name[16];
    int fails, fails_caught;    // the grader's verdict is no; of them, the judge's is no too
    int passes, passes_kept;    // the grader's verdict is yes; of them, the judge's is yes too
} CheckVerdicts;
enum { MAX_CHECK_NAMES = 24 };

// Judgments set beside reference judgments: how many agree line for line and, for the others,
// whether the first differing line is the restated request (line 0), the restated answer
// (line 1) or a later one (a check, the tally, the score), the steps of the world's format;
// and check by check, whether the judge's verdict is the grader's (totals, and per check name
// for the first MAX_CHECK_NAMES names met).
typedef struct {
    int compared, right, wrong_request, wrong_answer, wrong_check;
    CheckVerdicts all;                       // every check together (its name left empty)
    int n_checks;
    CheckVerdicts checks[MAX_CHECK_NAMES];   // per check name, in the order first met
} JudgmentLines;
void judgment_lines_add(JudgmentLines *t, const char *judgment, const char *reference);
// count / t->compared (count: t->right, t->wrong_request, ...); NaN when nothing was compared.
double judgment_lines_share(const JudgmentLines *t, int count);
// The tally of the check named name, NULL when none was met.
const CheckVerdicts *judgment_lines_check(const JudgmentLines *t, const char *name);
// count / of (fails_caught / fails, passes_kept / passes); NaN when of is 0.
double check_share(int count, int of);
// "<prefix>compared": n, then "<prefix>right_throughout", "<prefix>first_wrong_request",
// "<prefix>first_wrong_answer", "<prefix>first_wrong_check" as shares (null when none), then
// "<prefix>fails_caught" and "<prefix>passes_kept" over every check.
void judgment_lines_json(Buf *b, const char *prefix, const JudgmentLines *t, int last);

// ----------------------------------------------------------------------------
// the generation-verification gap (Song et al. 2024, "Mind the Gap", arXiv 2412.02674)
//
// How much more often the judge's pick among a prompt's candidates is perfect (grader score 5)
// than a candidate is: the condition for self-rewarding to help. Near zero, the judge can only
// pass on the answers' own quality, and DPO on its pairs cannot improve them.

typedef struct {
    int n;                // candidates of one prompt
    const double *judge;  // (n) mean judge score, NaN when no sample of it parsed
    const double *grade;  // (n) the grader's score 0..5, NaN when the grader cannot grade it
} GapItem;

typedef struct {
    int prompts;                    // prompts counted: a judged and gradeable candidate at least
    double any_perfect;             // mean over them of the share of candidates that are perfect
    double top_perfect;             // share of them whose top answer is perfect: the candidate with the
                                    // highest mean judge score, ties broken at random with the seed
    double gap, gap_lo, gap_hi;     // top_perfect - any_perfect, paired bootstrap 95 % interval
    int pairs;                      // prompts where judge_select_pair makes a pair (no tie, 2 scored)
    double chosen_perfect;          // share of those pairs whose chosen answer is perfect
    double pair_any_perfect;        // mean share perfect among the candidates of those prompts
    int better, equal, worse;       // chosen against rejected, by the grader
} GapResult;

// Candidates that the grader cannot grade take no part (neither in the shares nor as picks).
void judge_gap(const GapItem *items, int n_items, uint64_t seed, GapResult *out);
// "<prefix>prompts": n, ..., "<prefix>gap": x, "<prefix>gap_lo": ... : every field of r, as JSON;
// and read back (a missing number is NaN, a missing count 0).
void judge_gap_json(Buf *b, const char *prefix, const GapResult *r, int last);
void judge_gap_read(const JsonValue *root, const char *prefix, GapResult *r);

// Correlations of two n-vectors; NaN when undefined (n < 2 or either side constant).
double pearson(const double *x, const double *y, int n);
double spearman_rho(const double *x, const double *y, int n);     // Pearson on ranks, ties get their average rank
double kendall_tau_b(const double *x, const double *y, int n);    // tie-corrected; O(n^2)

// ----------------------------------------------------------------------------
// bootstrap confidence intervals (percentile bootstrap; identical on every run for a given seed)

// The level (e.g. 0.95) interval of the mean of x from n_boot resamples. NaN bounds when n < 1,
// n_boot < 1 or level is not in (0, 1).
void bootstrap_mean_ci(const double *x, int n, int n_boot, uint64_t seed, double level, double *lo, double *hi);

// The interval of mean(a - b), item i of a and b resampled together (a paired comparison).
void bootstrap_paired_diff_ci(const double *a, const double *b, int n, int n_boot, uint64_t seed, double level,
                              double *mean_diff, double *lo, double *hi);

#endif
