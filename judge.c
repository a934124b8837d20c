// judge.c: LLM-as-a-Judge: the judge prompt, the score parser, preference pairs, judge metrics;
// and the filters a self-instructed request passes (gen-prompts).
#include "judge.h"

#include <ctype.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

// The rubric's facts are the paper's (Yuan et al. 2024, fig. 2); the words are ours. Everything
// fixed comes before {instruction}, so that the key/value cache of that prefix can be computed
// once and shared by every judgment.
const char JUDGE_DEFAULT_TEMPLATE[] =
    "Review the user's request and the response below, and score the response with this additive "
    "5-point system. Points add up; each point is earned only when the ones before it are earned.\n"
    "- 1 point if the response is relevant and gives some information related to the request.\n"
    "- 1 more point if it addresses a substantial part of the request, even if not all of it.\n"
    "- 1 more point if it usefully answers the basic elements of the request.\n"
    "- 1 more point if it is written from an assistant's point of view, answers the request directly "
    "and completely, and is well organized and helpful.\n"
    "- 1 more point if it fits the request perfectly, holds nothing beyond what was asked, and shows "
    "expert knowledge.\n"
    "\n"
    "User: {instruction}\n"
    "<response>{response}</response>\n"
    "\n"
    "Justify your total score in at most 100 words, then end with \"Score: <total points>\".";

static int count_occurrences(const char *text, const char *needle) {
    int n = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(text, needle); p; p = strstr(p + len, needle)) n++;
    return n;
}

int judge_check_template(const char *template_text) {
    int ni = count_occurrences(template_text, "{instruction}");
    int nr = count_occurrences(template_text, "{response}");
    if (ni != 1 || nr != 1)
        return errorf("judge template must hold {instruction} and {response} exactly once each (found %d and %d)", ni, nr);
    return 0;
}

char *judge_format_prompt(const char *template_text, const char *instruction, const char *response) {
    Buf out = {0};
    for (const char *p = template_text; *p;) {
        if (strncmp(p, "{instruction}", 13) == 0) {
            buf_append_str(&out, instruction);
            p += 13;
        } else if (strncmp(p, "{response}", 10) == 0) {
            buf_append_str(&out, response);
            p += 10;
        } else {
            buf_append_char(&out, *p++);
        }
    }
    if (!out.data) buf_append(&out, "", 0);
    return out.data;
}

// ----------------------------------------------------------------------------
// the score parser
//
// The judge is asked to end with "Score: <total points>". The grammar we read, at the LAST label:
//
//   label   the word "score" in any case, not glued to an ASCII letter or digit on either side
//           ("Subscore:" and "Scores:" are not labels), then blanks or markdown emphasis (* _),
//           then ':'. Only a colon separates: "Score - 4" and "Score = 4" are not read ('-' is
//           also a minus sign), and prose such as "the score is high" or "scores 4 points" has
//           no label at all.
//   value   after the colon: whitespace (newlines too) and emphasis; an optional '<', which then
//           needs its '>' (the template's own "<total points>" form); an optional '-', read only
//           to report a negative score as OUT_OF_RANGE; the number; an optional scale, "/ N",
//           "out of N" or "(out of N)", which must be 5 ("4/10" is OUT_OF_RANGE).
//   number  digits, optionally '.' and more digits, at most 15 digits in all; no sign, no
//           exponent. It must end cleanly: not run into an ASCII letter (4th, 1e3, 4five), into
//           ".digit" or ",digit" (4.5.6, 4,5), or into a non-ASCII character (4½, 4⁄5) other
//           than a few closing marks (” ’ » … 。 ， ） and no-break space).
//   after   "/digit" or "-digit" after the value (4/5/5, 3-4, <4>/10) is ambiguous: MISSING.
//
// The score must lie in 0..5. Free text may follow a clean value ("Score: 4. Good." reads 4).
// The last label decides even when its value is unreadable: a judge that ends with
// "Score: four" after an earlier "Score: 3" has not said 3, so that output is MISSING.

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_ascii_letter(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_word_char(unsigned char c) { return is_digit(c) || is_ascii_letter(c); }
static int is_blank(unsigned char c) { return c == ' ' || c == '\t'; }
static int is_space(unsigned char c) { return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_emphasis(unsigned char c) { return c == '*' || c == '_'; }

static const char *skip_blanks(const char *p) {
    while (is_blank((unsigned char)*p)) p++;
    return p;
}

static const char *skip_blanks_and_emphasis(const char *p) {
    while (is_blank((unsigned char)*p) || is_emphasis((unsigned char)*p)) p++;
    return p;
}

static const char *skip_space_and_emphasis(const char *p) {
    while (is_space((unsigned char)*p) || is_emphasis((unsigned char)*p)) p++;
    return p;
}

// Does text start with word (lowercase ASCII letters), in any case?
static int starts_with_word_ci(const char *text, const char *word) {
    for (; *word; text++, word++)
        if (((unsigned char)*text | 32) != (unsigned char)*word) return 0;   // NUL never matches a letter
    return 1;
}

// Where the value of the last score label starts (just after its colon), or NULL. Linear: the
// blanks skipped after one "score" cannot hold the start of the next.
static const char *find_last_label(const char *text) {
    const char *value = NULL;
    for (const char *p = text; *p; p++) {
        if (!starts_with_word_ci(p, "score")) continue;
        if (p > text && is_word_char((unsigned char)p[-1])) continue;
        const char *q = skip_blanks_and_emphasis(p + 5);
        if (*q == ':') value = q + 1;
    }
    return value;
}

// Reads digits ['.' digits] at p. At most 15 digits, so that mantissa / 10^k is one correctly
// rounded division of exact doubles: "3.7" reads as the double nearest 3.7. Returns the end, or
// NULL when p holds no such number or a longer one.
static const char *read_number(const char *p, double *value) {
    if (!is_digit((unsigned char)*p)) return NULL;
    uint64_t mantissa = 0;
    int digits = 0, fraction_digits = 0;
    for (; is_digit((unsigned char)*p); p++, digits++)
        if (digits < 15) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
    if (*p == '.' && is_digit((unsigned char)p[1])) {
        for (p++; is_digit((unsigned char)*p); p++, digits++, fraction_digits++)
            if (digits < 15) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
    }
    if (digits > 15) return NULL;
    double power_of_ten = 1;
    for (int i = 0; i < fraction_digits; i++) power_of_ten *= 10;
    *value = (double)mantissa / power_of_ten;
    return p;
}

// The non-ASCII characters that may directly follow a number: closing punctuation only.
static const char *const closing_marks[] = {
    "\xE2\x80\x9D", "\xE2\x80\x99", "\xC2\xBB", "\xE2\x80\xA6",   // ” ’ » …
    "\xE3\x80\x82", "\xEF\xBC\x8C", "\xEF\xBC\x89", "\xC2\xA0",   // 。 ， ） no-break space
};

// May a number end just before p? (See "number" in the grammar above.)
static int number_ends_cleanly(const char *p) {
    unsigned char c = (unsigned char)*p;
    if (is_ascii_letter(c)) return 0;
    if ((c == '.' || c == ',') && is_digit((unsigned char)p[1])) return 0;
    if (c >= 0x80) {
        for (size_t i = 0; i < sizeof closing_marks / sizeof closing_marks[0]; i++)
            if (strncmp(p, closing_marks[i], strlen(closing_marks[i])) == 0) return 1;
        return 0;
    }
    return 1;
}

// Reads an optional scale after a number: "/ N", "out of N", "(/ N)" or "(out of N)", blanks and
// emphasis allowed around the parts. Returns the end: p itself when no scale starts here
// (*has_scale 0); NULL when one starts but does not finish with a clean number.
static const char *read_scale(const char *p, int *has_scale, double *scale) {
    *has_scale = 0;
    const char *q = skip_blanks_and_emphasis(p);
    int parenthesized = *q == '(';
    if (parenthesized) q = skip_blanks_and_emphasis(q + 1);
    if (*q == '/') {
        q++;
    } else if (starts_with_word_ci(q, "out") && is_blank((unsigned char)q[3])) {
        q = skip_blanks(q + 3);
        if (!starts_with_word_ci(q, "of") || !(is_blank((unsigned char)q[2]) || is_digit((unsigned char)q[2]))) return p;
        q += 2;
    } else {
        return p;   // e.g. "Score: 4 (a good answer)": no scale
    }
    q = read_number(skip_blanks_and_emphasis(q), scale);
    if (!q || !number_ends_cleanly(q)) return NULL;
    if (parenthesized) {
        q = skip_blanks_and_emphasis(q);
        if (*q != ')') return NULL;
        q++;
    }
    *has_scale = 1;
    return q;
}

int judge_parse_score(const char *text, double *score) {
    if (score) *score = NAN;
    const char *p = find_last_label(text);
    if (!p) return JUDGE_SCORE_MISSING;
    p = skip_space_and_emphasis(p);
    int bracketed = *p == '<';
    if (bracketed) p = skip_blanks_and_emphasis(p + 1);
    int negative = *p == '-';
    if (negative) p++;
    double value;
    p = read_number(p, &value);
    if (!p || !number_ends_cleanly(p)) return JUDGE_SCORE_MISSING;
    int has_scale;
    double scale = 5;
    p = read_scale(p, &has_scale, &scale);
    if (!p) return JUDGE_SCORE_MISSING;
    if (bracketed) {
        p = skip_blanks_and_emphasis(p);
        if (*p != '>') return JUDGE_SCORE_MISSING;
        p++;
    }
    p = skip_blanks_and_emphasis(p);
    if ((*p == '/' || *p == '-') && is_digit((unsigned char)*skip_blanks(p + 1))) return JUDGE_SCORE_MISSING;
    if (negative || value > 5 || (has_scale && scale != 5)) return JUDGE_SCORE_OUT_OF_RANGE;
    if (score) *score = value;
    return JUDGE_SCORE_OK;
}

const char *judge_score_status_name(int status) {
    switch (status) {
    case JUDGE_SCORE_OK: return "ok";
    case JUDGE_SCORE_MISSING: return "missing";
    case JUDGE_SCORE_OUT_OF_RANGE: return "out_of_range";
    default: return "unknown";
    }
}

int judge_mean_score(const double *scores, const int *status, int n, double *mean) {
    double sum = 0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
        if (status[i] != JUDGE_SCORE_OK) continue;
        sum += scores[i];
        counted++;
    }
    *mean = counted ? sum / counted : NAN;
    return counted;
}

// ----------------------------------------------------------------------------
// MT-Bench's single-answer grading
//
// The prompts are FastChat's (lm-sys/FastChat, fastchat/llm_judge/data/judge_prompts.jsonl,
// Apache-2.0), byte for byte: the protocol is defined by these words, and a judge's ratings are
// comparable with MT-Bench's only under them.

#define MT_BENCH_RATE_LINE \
    "After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this " \
    "format: \"[[rating]]\", for example: \"Rating: [[5]]\"."
#define MT_BENCH_TWO_TURNS \
    "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n### Assistant A:\n{answer_1}\n\n" \
    "### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with User|>"

const MtBenchJudgePrompt MT_BENCH_JUDGE_PROMPTS[4] = {
    {"single-v1", "You are a helpful assistant.",
     "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
     "assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, "
     "relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a "
     "short explanation. Be as objective as possible. " MT_BENCH_RATE_LINE "\n\n[Question]\n{question}\n\n"
     "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"},
    {"single-math-v1", "You are a helpful assistant.",
     "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
     "assistant to the user question displayed below. Your evaluation should consider correctness and helpfulness. You "
     "will be given a reference answer and the assistant's answer. Begin your evaluation by comparing the assistant's "
     "answer with the reference answer. Identify and correct any mistakes. Be as objective as possible. " MT_BENCH_RATE_LINE
     "\n\n[Question]\n{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n"
     "[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"},
    {"single-v1-multi-turn",
     "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user "
     "question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, "
     "depth, creativity, and level of detail of the response. You evaluation should focus on the assistant's answer to "
     "the second user question. Begin your evaluation by providing a short explanation. Be as objective as possible. "
     MT_BENCH_RATE_LINE "\n\n",
     MT_BENCH_TWO_TURNS},
    {"single-math-v1-multi-turn",
     "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user "
     "question. Your evaluation should consider correctness and helpfulness. You will be given a reference answer and the "
     "assistant's answer. You evaluation should focus on the assistant's answer to the second question. Begin your "
     "evaluation by comparing the assistant's answer with the reference answer. Identify and correct any mistakes. Be as "
     "objective as possible. " MT_BENCH_RATE_LINE "\n\n",
     "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n{ref_answer_1}\n\n"
     "### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n<|The End of Reference Answer|>\n\n\n"
     MT_BENCH_TWO_TURNS},
};

char *mt_bench_format(const char *template_text, const char *const *names, const char *const *values, int n) {
    Buf out = {0};
    for (const char *p = template_text; *p;) {
        int k = -1;
        if (*p == '{')
            for (int i = 0; i < n && k < 0; i++) {
                size_t l = strlen(names[i]);
                if (strncmp(p + 1, names[i], l) == 0 && p[1 + l] == '}') k = i;
            }
        if (k < 0) {
            buf_append_char(&out, *p++);
            continue;
        }
        buf_append_str(&out, values[k]);
        p += strlen(names[k]) + 2;
    }
    if (!out.data) buf_append(&out, "", 0);
    return out.data;
}

// The rating parser. FastChat (common.py) searches its judgment with two regular expressions,
//   \[\[(\d+\.?\d*)\]\]   and, when that finds nothing,   \[(\d+\.?\d*)\]
// and reads the first match with ast.literal_eval. The grammar that follows from them:
//   rating   "[[" number "]]" anywhere, the FIRST one (not the last, unlike "Score:"); when the text
//            holds none, the first "[" number "]". No space inside the brackets ("[[ 8 ]]" is not
//            read as [[...]], nor as [...]); anything may come before or after.
//   number   ASCII digits, then optionally '.' and more digits ("7." is 7); at most 15 digits.
//            A whole number with a leading zero ("[[07]]") is one Python's literal_eval refuses:
//            MISSING here. FastChat's \d would also take other scripts' digits; srl reads ASCII.
// FastChat keeps any value it reads; MT-Bench's scale is 1 to 10, so srl reports a value outside it
// as OUT_OF_RANGE (dropped and counted) rather than averaging it in.

// Reads number "]" (and one more "]" when double) at p. Returns 1 and sets *value when it matches.
static int read_bracketed_rating(const char *p, int double_bracket, double *value, int *leading_zero) {
    uint64_t mantissa = 0;
    int digits = 0, fraction = 0, whole = 0;
    const char *q = p;
    for (; is_digit((unsigned char)*q); q++, digits++, whole++)
        if (digits < 15) mantissa = mantissa * 10 + (uint64_t)(*q - '0');
    if (whole == 0) return 0;
    int has_point = *q == '.';
    if (has_point)
        for (q++; is_digit((unsigned char)*q); q++, digits++, fraction++)
            if (digits < 15) mantissa = mantissa * 10 + (uint64_t)(*q - '0');
    if (*q != ']' || (double_bracket && q[1] != ']')) return 0;
    double scale = 1;
    for (int i = 0; i < fraction; i++) scale *= 10;
    *value = digits > 15 ? INFINITY : (double)mantissa / scale;
    *leading_zero = !has_point && whole > 1 && p[0] == '0';
    return 1;
}

int judge_parse_rating(const char *text, double *rating) {
    if (rating) *rating = NAN;
    double value = 0;
    int found = 0, leading_zero = 0;
    for (int pass = 0; pass < 2 && !found; pass++) {   // [[k]] first, then [k]
        int double_bracket = pass == 0;
        for (const char *p = text; *p && !found; p++) {
            if (p[0] != '[' || (double_bracket && p[1] != '[')) continue;
            found = read_bracketed_rating(p + 1 + double_bracket, double_bracket, &value, &leading_zero);
        }
    }
    if (!found || leading_zero) return JUDGE_SCORE_MISSING;
    if (!(value >= 1 && value <= 10)) return JUDGE_SCORE_OUT_OF_RANGE;
    if (rating) *rating = value;
    return JUDGE_SCORE_OK;
}

// ----------------------------------------------------------------------------
// preference pairs
//
// The rule, for one prompt's candidates:
//   - only scored candidates take part; fewer than 2: TOO_FEW;
//   - rejected = the lowest mean, chosen = the highest mean; equal means are broken by the lowest
//     candidate index, so the choice never depends on the order of the array;
//   - highest mean == lowest mean: TIE (there is no preference to learn);
//   - length control (length_rho >= 0, Meta-Rewarding): chosen is instead the SHORTEST of the
//     candidates with mean >= (1 - rho) * max + rho * min (equal lengths: the higher mean, then the
//     lowest index). rho = 0 admits only the top mean, rho = 1 every scored candidate. Rejected is
//     still the lowest mean; when the chosen's mean equals it: TIE.
//   - min_chosen > 0: a chosen whose mean is below min_chosen gives LOW_CHOSEN (with min_chosen 5
//     only an answer that every judge sample scored 5 is chosen; a judge whose top score is more
//     often right than its others then makes fewer, better pairs).
// The threshold comparisons allow 1e-9 so that a mean exactly on it is not lost to rounding.

void judge_select_pair(const JudgedCandidate *c, int n, double length_rho, double min_chosen, PairChoice *out) {
    out->status = JUDGE_PAIR_TOO_FEW;
    out->chosen = out->rejected = -1;
    out->score_chosen = out->score_rejected = NAN;

    const JudgedCandidate *best = NULL, *worst = NULL;
    int n_scored = 0;
    for (int i = 0; i < n; i++) {
        const JudgedCandidate *x = &c[i];
        if (!x->scored) continue;
        n_scored++;
        if (!best || x->mean > best->mean || (x->mean == best->mean && x->index < best->index)) best = x;
        if (!worst || x->mean < worst->mean || (x->mean == worst->mean && x->index < worst->index)) worst = x;
    }
    if (n_scored < 2) return;

    const JudgedCandidate *chosen = best;
    if (length_rho >= 0) {
        double threshold = (1 - length_rho) * best->mean + length_rho * worst->mean;
        chosen = NULL;   // best itself always qualifies, so this is set again below
        for (int i = 0; i < n; i++) {
            const JudgedCandidate *x = &c[i];
            if (!x->scored || x->mean < threshold - 1e-9) continue;
            if (!chosen || x->length < chosen->length ||
                (x->length == chosen->length &&
                 (x->mean > chosen->mean || (x->mean == chosen->mean && x->index < chosen->index))))
                chosen = x;
        }
    }

    out->score_chosen = chosen->mean;
    out->score_rejected = worst->mean;
    if (chosen->mean == worst->mean) {
        out->status = JUDGE_PAIR_TIE;
        return;
    }
    if (min_chosen > 0 && chosen->mean < min_chosen - 1e-9) {
        out->status = JUDGE_PAIR_LOW_CHOSEN;
        return;
    }
    out->status = JUDGE_PAIR_OK;
    out->chosen = chosen->index;
    out->rejected = worst->index;
}

const char *judge_pair_status_name(int status) {
    switch (status) {
    case JUDGE_PAIR_OK: return "ok";
    case JUDGE_PAIR_TIE: return "tie";
    case JUDGE_PAIR_TOO_FEW: return "too_few";
    case JUDGE_PAIR_LOW_CHOSEN: return "low_chosen";
    default: return "unknown";
    }
}

// ----------------------------------------------------------------------------
// self-instruction filters
//
// A new request is kept when the model finished it (a newline came before the token budget ran
// out) as a sentence ending in '.' or '?', it has min_words..max_words words, none of them on the
// blacklist (requests a text model cannot answer, as in Self-Instruct), and its ROUGE-L against
// every known request is at most rouge_max (0.7: near-duplicates add nothing to the pool).

static const char *const prompt_blacklist[] = {"image", "picture", "photo", "draw", "graph", "video", "file", "http",
                                               "www", "map", "plot", "chart", NULL};

// Words are hashed so that the dynamic program compares integers: every new request is compared
// with the whole pool (the seed set and the requests kept so far), and with word strings that
// comparison took about a quarter of gen-prompts' time. Two different words would have to
// collide in 64 bits to be confused.
int prompt_words(const char *text, uint64_t *words, int cap) {
    int n = 0;
    for (const char *p = text; *p && n < cap;) {
        while (*p && !is_word_char((unsigned char)*p)) p++;
        if (!*p) break;
        uint64_t h = HASH_START;
        for (; is_word_char((unsigned char)*p); p++) h = hash_extend(h, (unsigned char)(*p | 32));
        words[n++] = h;
    }
    return n;
}

// LCS by the row-by-row dynamic program: cur[j] = the LCS of a[0..i) and b[0..j).
// F1 = 2 P R / (P + R) with P = LCS / nb, R = LCS / na.
double prompt_rouge_l(const uint64_t *a, int na, const uint64_t *b, int nb) {
    if (na <= 0 || nb <= 0) return 0.0;
    if (na > PROMPT_MAX_WORDS) na = PROMPT_MAX_WORDS;
    if (nb > PROMPT_MAX_WORDS) nb = PROMPT_MAX_WORDS;
    int prev[PROMPT_MAX_WORDS + 1] = {0}, cur[PROMPT_MAX_WORDS + 1] = {0};
    for (int i = 1; i <= na; i++) {
        for (int j = 1; j <= nb; j++)
            cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        memcpy(prev, cur, (size_t)(nb + 1) * sizeof(int));
    }
    double lcs = prev[nb];
    if (lcs == 0) return 0.0;
    double precision = lcs / nb, recall = lcs / na;
    return 2 * precision * recall / (precision + recall);
}

void prompt_pool_add(PromptPool *pool, const char *request) {
    if (pool->n == pool->cap) {
        pool->cap = grow_capacity(pool->cap);
        pool->words = xrealloc(pool->words, (size_t)pool->cap * sizeof *pool->words);
        pool->len = xrealloc(pool->len, (size_t)pool->cap * sizeof *pool->len);
    }
    pool->len[pool->n] = prompt_words(request, pool->words[pool->n], PROMPT_MAX_WORDS);
    pool->n++;
}

void prompt_pool_free(PromptPool *pool) {
    free(pool->words), free(pool->len);
    memset(pool, 0, sizeof *pool);
}

int prompt_filter(char *text, int min_words, int max_words, double rouge_max, const PromptPool *pool, char **request) {
    char *nl = strchr(text, '\n');
    int finished = nl != NULL;
    if (nl) *nl = 0;
    char *start = text;
    while (*start == ' ') start++;
    size_t l = strlen(start);
    while (l > 0 && start[l - 1] == ' ') start[--l] = 0;
    *request = start;
    if (!finished || l == 0 || (start[l - 1] != '.' && start[l - 1] != '?')) return PROMPT_UNFINISHED;
    uint64_t words[PROMPT_MAX_WORDS];
    int nw = prompt_words(start, words, PROMPT_MAX_WORDS);
    if (nw < min_words) return PROMPT_TOO_SHORT;
    if (nw > max_words) return PROMPT_TOO_LONG;
    for (int b = 0; prompt_blacklist[b]; b++) {
        uint64_t banned = 0;
        if (prompt_words(prompt_blacklist[b], &banned, 1) != 1) continue;
        for (int w = 0; w < nw; w++)
            if (words[w] == banned) return PROMPT_BLACKLISTED;
    }
    // the scan stops at the first request above rouge_max; an exact copy seen before that is a duplicate
    double worst = 0;
    int same = 0;
    for (int q = 0; q < pool->n && worst <= rouge_max; q++) {
        double r = prompt_rouge_l(words, nw, pool->words[q], pool->len[q]);
        if (r > worst) worst = r;
        if (r >= 1.0) same = 1;
    }
    if (same) return PROMPT_DUPLICATE;
    if (worst > rouge_max) return PROMPT_SIMILAR;
    return PROMPT_KEPT;
}

const char *prompt_verdict_name(int verdict) {
    static const char *const names[] = {"kept", "unfinished", "too_short", "too_long", "blacklisted", "duplicate", "similar"};
    return verdict >= 0 && verdict <= PROMPT_SIMILAR ? names[verdict] : "unknown";
}

// Judgments are compared line by line, because each line of the world's judgment format is
// one step (the restated request, the restated answer, one check each, the tally, the score):
// the first line that differs names the step that went wrong first.
int judge_first_difference(const char *judgment, const char *reference) {
    size_t len_a = strlen(judgment), len_b = strlen(reference);
    while (len_a > 0 && isspace((unsigned char)judgment[len_a - 1])) len_a--;
    while (len_b > 0 && isspace((unsigned char)reference[len_b - 1])) len_b--;
    size_t a = 0, b = 0;
    for (int line = 0;; line++) {
        size_t end_a = a, end_b = b;  // one past the line's last character
        while (end_a < len_a && judgment[end_a] != '\n') end_a++;
        while (end_b < len_b && reference[end_b] != '\n') end_b++;
        if (end_a - a != end_b - b || memcmp(judgment + a, reference + b, end_a - a) != 0) return line;
        int more_a = end_a < len_a, more_b = end_b < len_b;
        if (!more_a && !more_b) return -1;
        if (more_a != more_b) return line + 1;
        a = end_a + 1, b = end_b + 1;
    }
}

// A line of the world's format as a check: its name (the first word, and the second when that
// is "letters" or "word", so that "First letters", "Last letters" and "Last word" stay apart;
// a trailing ':' or '?' dropped) and its verdict: 1 for a line ending ": yes.", 0 for ": no.",
// -1 for any other line. name gets "" when the line does not start with a letter.
static int check_line(const char *line, size_t len, char *name, size_t cap) {
    size_t n = 0;
    while (n < len && isalpha((unsigned char)line[n])) n++;
    if (n + 1 < len && line[n] == ' ') {
        size_t m = n + 1;
        while (m < len && isalpha((unsigned char)line[m])) m++;
        if ((m - n - 1 == 7 && memcmp(line + n + 1, "letters", 7) == 0) || (m - n - 1 == 4 && memcmp(line + n + 1, "word", 4) == 0))
            n = m;
    }
    if (n >= cap) n = cap - 1;
    memcpy(name, line, n);
    name[n] = 0;
    if (len >= 6 && memcmp(line + len - 6, ": yes.", 6) == 0) return 1;
    if (len >= 5 && memcmp(line + len - 5, ": no.", 5) == 0) return 0;
    return -1;
}

static void count_verdict(CheckVerdicts *c, int reference, int judged) {
    if (reference == 0) c->fails++, c->fails_caught += judged == 0;
    else c->passes++, c->passes_kept += judged == 1;
}

// The verdict of the first line of judgment (len characters), from offset *from on, whose
// check is named name (-1 when there is none, or it has no verdict); *from moves past that
// line when one is found.
static int next_verdict_named(const char *judgment, size_t len, size_t *from, const char *name) {
    char line_name[16];
    for (size_t j = *from; j < len;) {
        size_t line_len = strcspn(judgment + j, "\n");
        int verdict = check_line(judgment + j, line_len, line_name, sizeof line_name);
        j += line_len + (judgment[j + line_len] == '\n');
        if (strcmp(name, line_name) == 0) {
            *from = j;
            return verdict;
        }
    }
    return -1;
}

static int check_index(const JudgmentLines *t, const char *name) {
    for (int k = 0; k < t->n_checks; k++)
        if (strcmp(t->checks[k].name, name) == 0) return k;
    return -1;
}

const CheckVerdicts *judgment_lines_check(const JudgmentLines *t, const char *name) {
    int k = check_index(t, name);
    return k < 0 ? NULL : &t->checks[k];
}

// Check by check: every check line of the reference is paired with the judgment's next line
// of the same name (searching on from the last line paired), whose verdict it takes.
static void judgment_checks_add(JudgmentLines *t, const char *judgment, const char *reference) {
    char name[16];
    size_t from = 0, judgment_len = strlen(judgment);  // where the search in the judgment goes on from
    for (const char *r = reference; *r;) {
        size_t len = strcspn(r, "\n");
        int want = check_line(r, len, name, sizeof name);
        r += len + (r[len] == '\n');
        if (want < 0 || !name[0]) continue;
        int judged = next_verdict_named(judgment, judgment_len, &from, name);
        count_verdict(&t->all, want, judged);
        int k = check_index(t, name);
        if (k < 0 && t->n_checks < MAX_CHECK_NAMES) {
            k = t->n_checks++;
            memset(&t->checks[k], 0, sizeof t->checks[k]);
            snprintf(t->checks[k].name, sizeof t->checks[k].name, "%s", name);
        }
        if (k >= 0) count_verdict(&t->checks[k], want, judged);
    }
}

void judgment_lines_add(JudgmentLines *t, const char *judgment, const char *reference) {
    int line = judge_first_difference(judgment, reference);
    t->compared++;
    if (line < 0) t->right++;
    else if (line == 0) t->wrong_request++;
    else if (line == 1) t->wrong_answer++;
    else t->wrong_check++;
    judgment_checks_add(t, judgment, reference);
}

double judgment_lines_share(const JudgmentLines *t, int count) { return t->compared ? (double)count / t->compared : NAN; }

double check_share(int count, int of) { return of ? (double)count / of : NAN; }

void judgment_lines_json(Buf *b, const char *prefix, const JudgmentLines *t, int last) {
    char key[96];
    buf_printf(b, "\"%scompared\": %d, ", prefix, t->compared);
    snprintf(key, sizeof key, "%sright_throughout", prefix);
    buf_json_number(b, key, judgment_lines_share(t, t->right), 0);
    snprintf(key, sizeof key, "%sfirst_wrong_request", prefix);
    buf_json_number(b, key, judgment_lines_share(t, t->wrong_request), 0);
    snprintf(key, sizeof key, "%sfirst_wrong_answer", prefix);
    buf_json_number(b, key, judgment_lines_share(t, t->wrong_answer), 0);
    snprintf(key, sizeof key, "%sfirst_wrong_check", prefix);
    buf_json_number(b, key, judgment_lines_share(t, t->wrong_check), 0);
    snprintf(key, sizeof key, "%sfails_caught", prefix);
    buf_json_number(b, key, check_share(t->all.fails_caught, t->all.fails), 0);
    snprintf(key, sizeof key, "%spasses_kept", prefix);
    buf_json_number(b, key, check_share(t->all.passes_kept, t->all.passes), last);
}

// ----------------------------------------------------------------------------
// the generation-verification gap
//
// Per prompt i: s_i = the share of its candidates that are perfect, t_i = 1 when its top answer
// is perfect. gap = mean_i (t_i - s_i): the difference of two shares over the same prompts, so
// its interval is the bootstrap of the mean of the per-prompt differences.

void judge_gap(const GapItem *items, int n_items, uint64_t seed, GapResult *out) {
    memset(out, 0, sizeof *out);
    double *top = xmalloc((size_t)(n_items ? n_items : 1) * sizeof(double));
    double *share = xmalloc((size_t)(n_items ? n_items : 1) * sizeof(double));
    double chosen_sum = 0, pair_share_sum = 0;
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < n_items; i++) {
        const GapItem *it = &items[i];
        int gradeable = 0, perfect = 0, n_top = 0, top_perfect = 0;
        double best = -INFINITY;
        JudgedCandidate *jc = xmalloc((size_t)(it->n ? it->n : 1) * sizeof *jc);
        int n_jc = 0;
        for (int c = 0; c < it->n; c++) {
            if (isnan(it->grade[c])) continue;
            gradeable++, perfect += it->grade[c] == 5;
            if (isnan(it->judge[c])) continue;
            jc[n_jc++] = (JudgedCandidate){c, 1, it->judge[c], 0};
            // the top answer, ties broken by a reservoir draw: the k-th tied candidate replaces
            // the pick with probability 1/k, so each of the tied is the pick with equal chance
            if (it->judge[c] > best) best = it->judge[c], n_top = 1, top_perfect = it->grade[c] == 5;
            else if (it->judge[c] == best && rng_int(&rng, ++n_top) == 0) top_perfect = it->grade[c] == 5;
        }
        if (n_top > 0) {
            share[out->prompts] = (double)perfect / gradeable;
            top[out->prompts] = top_perfect;
            out->prompts++;
            PairChoice pc;
            judge_select_pair(jc, n_jc, -1, 0, &pc);
            if (pc.status == JUDGE_PAIR_OK) {
                double gc = it->grade[pc.chosen], gr = it->grade[pc.rejected];
                out->pairs++;
                chosen_sum += gc == 5;
                pair_share_sum += (double)perfect / gradeable;
                if (gc > gr) out->better++;
                else if (gc == gr) out->equal++;
                else out->worse++;
            }
        }
        free(jc);
    }
    double any = 0, t = 0;
    for (int i = 0; i < out->prompts; i++) any += share[i], t += top[i];
    out->any_perfect = out->prompts ? any / out->prompts : NAN;
    out->top_perfect = out->prompts ? t / out->prompts : NAN;
    bootstrap_paired_diff_ci(top, share, out->prompts, 2000, seed, 0.95, &out->gap, &out->gap_lo, &out->gap_hi);
    out->chosen_perfect = out->pairs ? chosen_sum / out->pairs : NAN;
    out->pair_any_perfect = out->pairs ? pair_share_sum / out->pairs : NAN;
    free(top), free(share);
}

// GapResult's fields as JSON keys: one table for writing and reading.
static const struct {
    const char *name;
    size_t offset;
    int is_count;  // an int field, else a double
} gap_fields[] = {
    {"prompts", offsetof(GapResult, prompts), 1},         {"pairs", offsetof(GapResult, pairs), 1},
    {"better", offsetof(GapResult, better), 1},           {"equal", offsetof(GapResult, equal), 1},
    {"worse", offsetof(GapResult, worse), 1},             {"any_perfect", offsetof(GapResult, any_perfect), 0},
    {"top_perfect", offsetof(GapResult, top_perfect), 0}, {"gap", offsetof(GapResult, gap), 0},
    {"gap_lo", offsetof(GapResult, gap_lo), 0},           {"gap_hi", offsetof(GapResult, gap_hi), 0},
    {"chosen_perfect", offsetof(GapResult, chosen_perfect), 0},
    {"pair_any_perfect", offsetof(GapResult, pair_any_perfect), 0},
};
enum { N_GAP_FIELDS = (int)(sizeof gap_fields / sizeof gap_fields[0]) };

void judge_gap_json(Buf *b, const char *prefix, const GapResult *r, int last) {
    char key[96];
    for (int i = 0; i < N_GAP_FIELDS; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, gap_fields[i].name);
        const char *field = (const char *)r + gap_fields[i].offset;
        if (gap_fields[i].is_count) buf_printf(b, "\"%s\": %d%s", key, *(const int *)field, last && i + 1 == N_GAP_FIELDS ? "" : ", ");
        else buf_json_number(b, key, *(const double *)field, last && i + 1 == N_GAP_FIELDS);
    }
}

void judge_gap_read(const JsonValue *root, const char *prefix, GapResult *r) {
    char key[96];
    for (int i = 0; i < N_GAP_FIELDS; i++) {
        snprintf(key, sizeof key, "%s%s", prefix, gap_fields[i].name);
        char *field = (char *)r + gap_fields[i].offset;
        double v;
        if (json_get_number(root, key, &v) < 0) v = NAN;
        if (gap_fields[i].is_count) *(int *)field = isfinite(v) ? (int)v : 0;
        else *(double *)field = v;
    }
}

// ----------------------------------------------------------------------------
// correlations

static int sign_of(double d) { return (d > 0) - (d < 0); }

static int is_constant(const double *x, int n) {
    for (int i = 1; i < n; i++)
        if (x[i] != x[0]) return 0;
    return 1;
}

double pearson(const double *x, const double *y, int n) {
    // Checked exactly, before any arithmetic: a constant vector's deviations from its computed mean
    // need not round to exactly 0.
    if (n < 2 || is_constant(x, n) || is_constant(y, n)) return NAN;
    double mean_x = 0, mean_y = 0;
    for (int i = 0; i < n; i++) {
        mean_x += x[i];
        mean_y += y[i];
    }
    mean_x /= n;
    mean_y /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[i] - mean_x, dy = y[i] - mean_y;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;   // rounding can carry |r| a hair past 1
}

typedef struct {
    double value;
    int index;
} ValueIndex;

static int compare_value_index(const void *pa, const void *pb) {
    const ValueIndex *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return a->index - b->index;
}

// Ranks 1..n of finite values; tied values share the average of the ranks they span
// ({10, 20, 20, 30} -> {1, 2.5, 2.5, 4}).
static void average_ranks(const double *x, int n, double *rank) {
    ValueIndex *sorted = xmalloc((size_t)n * sizeof *sorted);
    for (int i = 0; i < n; i++) sorted[i] = (ValueIndex){x[i], i};
    qsort(sorted, (size_t)n, sizeof *sorted, compare_value_index);
    for (int first = 0; first < n;) {
        int last = first;
        while (last + 1 < n && sorted[last + 1].value == sorted[first].value) last++;
        double shared_rank = (first + last) / 2.0 + 1;
        for (int k = first; k <= last; k++) rank[sorted[k].index] = shared_rank;
        first = last + 1;
    }
    free(sorted);
}

double spearman_rho(const double *x, const double *y, int n) {
    if (n < 2 || is_constant(x, n) || is_constant(y, n)) return NAN;
    double *rank_x = xmalloc((size_t)n * sizeof *rank_x);
    double *rank_y = xmalloc((size_t)n * sizeof *rank_y);
    average_ranks(x, n, rank_x);
    average_ranks(y, n, rank_y);
    double rho = pearson(rank_x, rank_y, n);
    free(rank_x);
    free(rank_y);
    return rho;
}

// tau_b = (concordant - discordant) / sqrt((n0 - ties_x) * (n0 - ties_y)) with n0 = n(n-1)/2 pairs.
// With sx, sy the signs of a pair's differences this is sum(sx * sy) / sqrt(sum(sx^2) * sum(sy^2)):
// a concordant pair adds 1, a discordant one -1, and a pair tied in x drops out of the x count.
double kendall_tau_b(const double *x, const double *y, int n) {
    long long sum_sign_products = 0, untied_x = 0, untied_y = 0;
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            int sx = sign_of(x[i] - x[j]), sy = sign_of(y[i] - y[j]);
            sum_sign_products += sx * sy;
            untied_x += sx != 0;
            untied_y += sy != 0;
        }
    }
    if (untied_x == 0 || untied_y == 0) return NAN;
    return (double)sum_sign_products / sqrt((double)untied_x * (double)untied_y);
}

// ----------------------------------------------------------------------------
// measuring the judge

// One item's five-best credit: the share of the judge's top responses (the scored ones sharing
// the highest judge score) that are gold-best. 0 when the judge scored none of them.
static double five_best_credit(const JudgeItem *it) {
    double gold_top = it->gold[0], judge_top = 0;
    int any_scored = 0;
    for (int i = 0; i < it->n; i++) {
        if (it->gold[i] > gold_top) gold_top = it->gold[i];
        if (it->judge_ok[i]) {
            if (!any_scored || it->judge[i] > judge_top) judge_top = it->judge[i];
            any_scored = 1;
        }
    }
    if (!any_scored) return 0;
    int n_judge_top = 0, n_judge_top_gold_best = 0;
    for (int i = 0; i < it->n; i++) {
        if (!it->judge_ok[i] || it->judge[i] != judge_top) continue;
        n_judge_top++;
        n_judge_top_gold_best += it->gold[i] == gold_top;
    }
    return (double)n_judge_top_gold_best / n_judge_top;
}

void judge_metrics(const JudgeItem *items, int n_items, JudgeMetrics *out) {
    double parse_rate = out->parse_rate;
    memset(out, 0, sizeof *out);
    out->parse_rate = parse_rate;
    out->n_items = n_items;

    int n_pairs_agreeing = 0, n_ranked_items = 0, n_exact = 0;
    double five_best_sum = 0, spearman_sum = 0, kendall_sum = 0;
    for (int t = 0; t < n_items; t++) {
        const JudgeItem *it = &items[t];
        out->n_responses += it->n;
        int unscored = 0;
        for (int i = 0; i < it->n; i++) unscored += !it->judge_ok[i];
        out->n_unscored += unscored;
        if (it->n == 0) continue;   // nothing to rank
        n_ranked_items++;

        // Pairwise accuracy and exact match look at every pair of this item's responses.
        int exact = unscored == 0;
        for (int i = 0; i < it->n; i++) {
            for (int j = i + 1; j < it->n; j++) {
                int both_scored = it->judge_ok[i] && it->judge_ok[j];
                int gold_order = sign_of(it->gold[i] - it->gold[j]);
                int judge_order = both_scored ? sign_of(it->judge[i] - it->judge[j]) : 0;
                int agree = both_scored && judge_order == gold_order;
                if (gold_order != 0) {
                    out->n_pairs++;
                    n_pairs_agreeing += agree;
                }
                if (!agree) exact = 0;
            }
        }
        n_exact += exact;
        five_best_sum += five_best_credit(it);

        if (unscored == 0) {
            double rho = spearman_rho(it->judge, it->gold, it->n);
            double tau = kendall_tau_b(it->judge, it->gold, it->n);
            if (!isnan(rho)) {
                spearman_sum += rho;
                out->n_spearman_items++;
            }
            if (!isnan(tau)) {
                kendall_sum += tau;
                out->n_kendall_items++;
            }
        }
    }
    out->pairwise_accuracy = out->n_pairs ? (double)n_pairs_agreeing / out->n_pairs : NAN;
    out->five_best = n_ranked_items ? five_best_sum / n_ranked_items : NAN;
    out->exact_match = n_ranked_items ? (double)n_exact / n_ranked_items : NAN;
    out->spearman = out->n_spearman_items ? spearman_sum / out->n_spearman_items : NAN;
    out->kendall_tau_b = out->n_kendall_items ? kendall_sum / out->n_kendall_items : NAN;
}

// ----------------------------------------------------------------------------
// bootstrap confidence intervals
//
// Percentile bootstrap: draw n_boot resamples of n items with replacement (util.h's Rng, seeded
// once, so the same inputs and seed give the same interval on every run and machine), take each
// resample's mean, sort the means m[0] <= ... <= m[n_boot - 1], and report
//     lo = m[floor((1 - level) / 2 * n_boot)],   hi = m[ceil((1 + level) / 2 * n_boot) - 1].
// Level 0.95 with 1000 resamples gives m[25] and m[974]: 25 means lie outside on each side.
// (The 1e-9 below keeps products like 0.975 * 1000 = 974.9999... on the intended index.)

static int compare_doubles(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void bootstrap_mean_ci(const double *x, int n, int n_boot, uint64_t seed, double level, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (n < 1 || n_boot < 1 || !(level > 0 && level < 1)) return;
    Rng rng;
    rng_seed(&rng, seed);
    double *means = xmalloc((size_t)n_boot * sizeof *means);
    for (int b = 0; b < n_boot; b++) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += x[rng_int(&rng, n)];
        means[b] = sum / n;
    }
    qsort(means, (size_t)n_boot, sizeof *means, compare_doubles);
    int lo_index = (int)floor((1 - level) / 2 * n_boot + 1e-9);
    int hi_index = (int)ceil((1 + level) / 2 * n_boot - 1e-9) - 1;
    if (lo_index > n_boot - 1) lo_index = n_boot - 1;
    if (hi_index < lo_index) hi_index = lo_index;
    *lo = means[lo_index];
    *hi = means[hi_index];
    free(means);
}

void bootstrap_paired_diff_ci(const double *a, const double *b, int n, int n_boot, uint64_t seed, double level,
                              double *mean_diff, double *lo, double *hi) {
    *mean_diff = *lo = *hi = NAN;
    if (n < 1) return;
    // Resampling the differences resamples each item's a and b together.
    double *diff = xmalloc((size_t)n * sizeof *diff);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        diff[i] = a[i] - b[i];
        sum += diff[i];
    }
    *mean_diff = sum / n;
    bootstrap_mean_ci(diff, n, n_boot, seed, level, lo, hi);
    free(diff);
}
