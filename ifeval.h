// ifeval.h: IFEval (Zhou et al. 2023, "Instruction-Following Evaluation for Large Language
// Models", arXiv 2311.07911): the verifiable instructions, their checkers, the strict and loose
// verdicts and the four scores. The rules are written once at the top of ifeval.c.
#ifndef SRL_IFEVAL_H
#define SRL_IFEVAL_H

#include <stddef.h>

#include "util.h"

// A verdict. NOT_CHECKED: the checker needs what srl does not carry (language identification);
// it is counted apart, never guessed. REFUSED: the official checker raises an error on this
// response (only the rephrase checker, which no IFEval prompt uses).
enum { IFEVAL_NOT_FOLLOWED = 0, IFEVAL_FOLLOWED = 1, IFEVAL_NOT_CHECKED = 2, IFEVAL_REFUSED = 3 };
enum { IFEVAL_LESS_THAN = 0, IFEVAL_AT_LEAST = 1 };

// One instruction with its arguments (the "kwargs" of IFEval's input data).
typedef struct {
    int kind;                   // index into the table of instruction ids (ifeval_kind_name)
    int relation;               // IFEVAL_LESS_THAN or IFEVAL_AT_LEAST, for the kinds that compare a count
    long count;                 // the number compared with (words, sentences, paragraphs, ...)
    long nth;                   // nth_paragraph (1-based)
    long low, high;             // rephrase_paragraph: bounds on the words in common
    char *text;                 // the one string argument (keyword, end phrase, marker, ...); NULL when none
    char **words;               // (n_words) keywords, forbidden words or key sentences
    int n_words;
} IfevalInstruction;

// Parses an instruction id ("punctuation:no_comma") and its kwargs object (NULL: none). Keys whose
// value is null are ignored, as IFEval's loader passes them on as "not given". Returns -1 with
// srl_error naming what is missing or wrong.
int ifeval_instruction_parse(const char *id, const JsonValue *kwargs, IfevalInstruction *out);
void ifeval_instruction_free(IfevalInstruction *ins);

int ifeval_kind_count(void);
const char *ifeval_kind_name(int kind);        // "punctuation:no_comma", ...
int ifeval_kind_in_registry(int kind);         // 0 for the four checkers IFEval's registry leaves out

// The checker on the text as given (IFEval's check_following): FOLLOWED, NOT_FOLLOWED,
// NOT_CHECKED or REFUSED.
int ifeval_follows(const IfevalInstruction *ins, const char *response);
// Strict: an empty (all white space) response follows nothing; else ifeval_follows.
int ifeval_check_strict(const IfevalInstruction *ins, const char *response);
// Loose: FOLLOWED when the strict check passes on any of the eight variants (the response, its
// first line removed, its last line removed, both, and each of those with every '*' removed);
// NOT_CHECKED when no variant passes and some non-empty one was not checked.
int ifeval_check_loose(const IfevalInstruction *ins, const char *response);

// The counts behind the length checkers, exposed for the tests.
int ifeval_count_words(const char *text);       // runs of word characters (\w+)
int ifeval_count_sentences(const char *text);   // NLTK's Punkt algorithm, without trained parameters
int ifeval_count_capital_words(const char *text);   // NLTK word tokens written in capitals

// ----------------------------------------------------------------------------
// the data set and the scores

typedef struct {
    long key;
    char *prompt;
    int n;                      // instructions
    IfevalInstruction *ins;     // (n)
} IfevalPrompt;

typedef struct {
    IfevalPrompt *items;        // (n) in file order
    int n;
    int n_instructions;         // over all prompts
} IfevalSet;

// Reads IFEval's input data (JSON Lines: key, prompt, instruction_id_list, kwargs). -1 with
// srl_error "path:line: ..." on any bad record; nothing is half read.
int ifeval_read(const char *path, IfevalSet *set);
void ifeval_set_free(IfevalSet *set);

// Pairs a responses file ({"prompt", "response"} per line) with the set: responses[i] (malloc'd,
// NULL when none) is the response whose prompt is prompt i's, byte for byte. A response whose
// prompt matches none is paired with the prompt on the same line number when that prompt has no
// response of its own (IFEval's released GPT-4 responses differ from its input data in one
// prompt's wording); *n_by_line counts those, *n_unused the responses left over. -1 with
// srl_error on a bad file or line.
int ifeval_read_responses(const IfevalSet *set, const char *path, char **responses, int *n_by_line, int *n_unused);

// Scores over a set. Index 0 is strict, 1 loose. "Checked" prompts have no NOT_CHECKED
// instruction; the bounds count every unchecked instruction as not followed (low) or as followed
// (high), over all prompts and instructions.
typedef struct {
    int n_prompts, n_instructions, n_missing;   // n_missing: prompts without a response (scored as empty)
    int prompts_checked[2], prompts_followed[2], prompts_followed_high[2];
    int instructions_checked[2], instructions_followed[2], instructions_unchecked[2];
    int n_english_unchecked;                    // english_capital / english_lowercase: only the case was checked
    int *kind_total;                            // (kinds) instructions of each kind
    int *kind_followed[2];                      // (kinds) of them followed
    int *kind_unchecked[2];                     // (kinds) of them not checked
} IfevalScores;

// verdicts (out, set->n_instructions x 2): verdict [strict, loose] of every instruction in order.
// responses[i] may be NULL (missing: scored as an empty response).
void ifeval_score(const IfevalSet *set, char *const *responses, unsigned char *verdicts, IfevalScores *s);
void ifeval_scores_free(IfevalScores *s);
// Shares in 0..1 (NaN when nothing counted): prompt- and instruction-level accuracy over the
// checked ones, and the low and high bounds over all.
double ifeval_prompt_accuracy(const IfevalScores *s, int loose);
double ifeval_instruction_accuracy(const IfevalScores *s, int loose);
void ifeval_bounds(const IfevalScores *s, int loose, double *prompt_lo, double *prompt_hi, double *instr_lo, double *instr_hi);

#endif
