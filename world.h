// world.h: the task world: instructions in plain English whose answers a program can check.
//
// A small closed universe in two kinds of family.
//
// The fact family (about 70 % of the tasks): a bestiary of 200 invented creatures, each with
// four traits that cannot be read off its name (color, home, food, size), stated in the
// pretraining corpus one creature at a time ("zorak is red.", "zorak lives in the river."),
// never as a list of the creatures that share a trait. A request asks for creatures under a
// conjunction of two traits: "Name two red creatures that live in the river." Answering is a
// search (which of 200 creatures are both?); checking an answer is one recalled fact per item
// and trait ("zorak: color red, need red: yes"), which the model learned by heart. That
// asymmetry is what lets a model judge its own answers better than it writes them.
//
// The form families (about 30 %): a lexicon of 240 words in 8 categories of 30, and the numbers
// 0-99; lists of words and of numbers under a count plus 1-4 more checkable constraints
// (category, first or last letter, length, case, order, separator, numeric range, parity, a
// closing word: the difficulty knob sets how many, how long the lists and how tight the
// ranges), and single-answer tasks (a word in capitals, first or last letter, number of letters,
// larger or smaller of two numbers, sorting 3-5 words, even or odd). Their checks (spelling,
// order, ranges over tokens) need the same computation as answering: a small model judges them
// about as badly as it answers them. They stay as the measured contrast.
// The same code
//   - generates the data sets of the default run (world_generate),
//   - grades any (instruction, response) with the additive 0-5 rubric (world_grade): it plays
//     the human rater, labels the EFT seed and scores evaluations, and never takes part in
//     the self-rewarding loop itself,
//   - writes the justification a judge should give (world_judgment): the EFT target.
// Instructions are rendered from a fixed phrase grammar and parsed back from their words
// alone, so the grader can also score instructions the model wrote itself; a text the grammar
// does not explain is "not a world instruction" (-1), never guessed at. The rules of the
// rubric and of the judgment are written once, at the top of world.c.
#ifndef SRL_WORLD_H
#define SRL_WORLD_H

#include <stdint.h>

#include "util.h"

// ----------------------------------------------------------------------------
// families

enum {
    WORLD_WORD_LIST,     // "List 3 animals that start with the letter b, separated by commas."
    WORLD_NUMBER_LIST,   // "Give four even numbers between 20 and 60 in increasing order."
    WORLD_CAPITALS,      // "Write the word bear in capital letters."
    WORLD_FIRST_LETTER,  // "What is the first letter of the word bear?"
    WORLD_LAST_LETTER,   // "What is the last letter of the word bear?"
    WORLD_LETTER_COUNT,  // "How many letters are in the word bear?"
    WORLD_LARGER,        // "Which is larger, 37 or 52?"
    WORLD_SMALLER,       // "Which is smaller, 37 or 52?"
    WORLD_SORT_WORDS,    // "Sort these words in alphabetical order: cat, bear, ant."
    WORLD_EVEN_ODD,      // "Is 37 even or odd?"
    WORLD_CREATURES,     // "Name two red creatures that live in the river."  (the fact family)
};
extern const char *const world_family_names[];  // "word_list", "number_list", ...
extern const int world_n_families;

// The two kinds of family: checked by recalled facts, or by the answer's form.
enum { WORLD_KIND_FACT, WORLD_KIND_FORM, WORLD_N_KINDS };
extern const char *const world_kind_names[];  // "fact", "form"
int world_family_kind(int family);            // WORLD_KIND_*; -1 for an unknown family

// ----------------------------------------------------------------------------
// the bestiary: the facts of the fact family. Fixed (the same for every --seed): the data seed
// draws requests, never the world's facts, so a fresh test set asks about the same creatures.

enum { WORLD_TRAIT_COLOR, WORLD_TRAIT_HOME, WORLD_TRAIT_FOOD, WORLD_TRAIT_SIZE, WORLD_N_TRAITS };

int world_n_creatures(void);
const char *world_creature_name(int i);          // "zorak": lowercase, 4-6 letters
int world_creature_trait(int i, int trait);      // the value index of a trait
int world_creature_index(const char *word);      // -1 when the word (any case) is not a creature
const char *world_trait_name(int trait);         // "color", "home", "food", "size"
int world_trait_n_values(int trait);
const char *world_trait_value(int trait, int v); // "red", "river", "fish", "small"

// ----------------------------------------------------------------------------
// generation

// pretrain.txt: the world told (facts, lists, requests, a few checked answers), or the corpus
// of M0's second stage (answers checked in the judge's manner, lists copied, creature facts)
enum { WORLD_CORPUS_FACTS, WORLD_CORPUS_CHECKS };

typedef struct {
    uint64_t seed;
    uint64_t test_seed;    // 0 (or seed): the held-out sets of seed; else test.jsonl and judge_test.jsonl
                           // drawn anew from test_seed (new requests over the same creatures and
                           // lexicon, none trained on), every other file the same bytes as seed's
    int difficulty;        // 1..5: how many constraints, how long the lists, how tight the ranges
    long pretrain_bytes;   // size of pretrain.txt
    int corpus;            // WORLD_CORPUS_FACTS (M0's first stage) or WORLD_CORPUS_CHECKS (its second)
    const char *avoid;     // with a test seed: text files (comma-separated) the fresh requests must not
                           // appear in, beside this pretrain.txt (the corpora M0 was trained on), or NULL
    int n_ift, n_eft, n_eft_eval, n_test, n_judge_test;
} WorldOptions;

void world_default_options(WorldOptions *o);

// The judge template the world's EFT sets use (and `srl run` judges with): the paper's additive
// 5-point rubric in few words. world_generate also writes it as judge_template.txt.
extern const char WORLD_JUDGE_TEMPLATE[];

// Writes pretrain.txt, ift_seed.jsonl, eft_seed.jsonl, eft_eval.jsonl, test.jsonl and
// judge_test.jsonl into out_dir (made if missing), each atomically. Same options -> byte-identical
// files. The instruction texts of test and judge_test (disjoint from each other) appear in no
// other file, and those of eft_eval in none of the training files (ift_seed, eft_seed,
// pretrain.txt). EFT scores are balanced over 0..5 by rejection sampling. Prints nothing.
int world_generate(const WorldOptions *o, const char *out_dir);  // -1 with srl_error

// ----------------------------------------------------------------------------
// grading

typedef struct {
    int score;            // 0..5
    int n_checks, n_met;  // checks and how many hold (single answers: 3 checks in a ladder, n_met
                          // counts those that hold before the first that fails)
    int exact;            // score == 5
    int extra;            // extra text or items present
    int repeat;           // a list answer names one item twice (extra; for creatures, a failed "Differ" check)
    int family;           // index into world_family_names
    int unsatisfiable;    // the instruction's constraints contradict each other
} WorldGrade;

// -1 (srl_error says why) when the instruction is not a world instruction.
int world_grade(const char *instruction, const char *response, WorldGrade *g);

// The judgment the judge should write: restated request, items, one line per check, the
// tally, and "Score: k" with k the grader's score. malloc'd; NULL (srl_error) when the
// instruction is not a world instruction.
char *world_judgment(const char *instruction, const char *response);

// ----------------------------------------------------------------------------
// lower level: the parsed form of an instruction (used by the tests and by tools)

enum { WORLD_LENGTH_ANY, WORLD_LENGTH_EXACTLY, WORLD_LENGTH_AT_MOST, WORLD_LENGTH_AT_LEAST };
enum { WORLD_CASE_ANY, WORLD_CASE_CAPITALS, WORLD_CASE_CAPITALIZED, WORLD_CASE_LOWER };
enum { WORLD_ORDER_ANY, WORLD_ORDER_UP, WORLD_ORDER_DOWN };  // alphabetical / increasing, and back
enum { WORLD_SEP_ANY, WORLD_SEP_COMMA, WORLD_SEP_SEMICOLON, WORLD_SEP_NEWLINE, WORLD_SEP_BAR };
enum { WORLD_PARITY_ANY, WORLD_PARITY_EVEN, WORLD_PARITY_ODD };

#define WORLD_WORD_MAX 24   // longest word a task can name, with its NUL
#define WORLD_SORT_MAX 6    // most words a sorting task can give

typedef struct {
    int family;
    // lists
    int count;                         // items asked for
    int category;                      // word lists: -1 any lexicon word, else a category
    char first_letter, last_letter;    // 0: no constraint
    int length_rule, length;           // WORLD_LENGTH_*
    int letter_case;                   // WORLD_CASE_*
    int order;                         // WORLD_ORDER_*
    int separator;                     // WORLD_SEP_*
    char closing[WORLD_WORD_MAX];      // "": no closing word
    int above, below;                  // number lists: strict bounds, -1 when absent
    int parity;                        // WORLD_PARITY_*
    // single-answer tasks
    char word[WORLD_WORD_MAX];         // the word asked about
    int x, y;                          // the numbers asked about
    int n_words;                       // sorting: the words to sort
    char words[WORLD_SORT_MAX][WORLD_WORD_MAX];
    // creatures
    int trait[WORLD_N_TRAITS];         // the value asked for each trait, -1 when not asked
} WorldTask;

void world_task_init(WorldTask *t);                            // no constraints, family word list
int world_task_equal(const WorldTask *a, const WorldTask *b);  // same constraints
int world_parse(const char *instruction, WorldTask *t);        // -1 with srl_error
// Renders t in words, every phrase chosen at random from the grammar. used (may be NULL) has
// world_n_phrases entries; used[i] is set to 1 when phrase i was used.
void world_render(const WorldTask *t, Rng *rng, Buf *out, unsigned char *used);
extern const int world_n_phrases;
// How many lexicon words (word lists) or numbers 0-99 (number lists) satisfy every per-item
// constraint; a list task is satisfiable when this is at least its count. Single-answer
// tasks: 1 when they have an answer, else 0.
int world_count_valid(const WorldTask *t);
void world_sample_task(Rng *rng, int difficulty, WorldTask *t);  // always satisfiable
// The fact family's request space is every pair of traits with a value each ("red" and
// "river"); about a third of these combinations are the IFT seed's, and the seed's creature
// requests come only from them (the loop's prompts and the held-out sets range over all).
int world_seed_combination(const WorldTask *t);  // 1 when a creature task's traits are the seed's
void world_gold_answer(const WorldTask *t, Rng *rng, Buf *out);  // a random valid answer, clean
int world_grade_task(const WorldTask *t, const char *response, WorldGrade *g);
char *world_judgment_task(const WorldTask *t, const char *response);

// The lexicon.
int world_lexicon_size(void);
const char *world_lexicon_word(int i);
int world_word_category(const char *word);  // category index, -1 when not a lexicon word (any case)
const char *world_category_name(int c);     // "animal", ...

#endif
