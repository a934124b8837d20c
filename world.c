// world.c: the task world: generator, grader, judgment writer. See world.h for the API.
//
// Rules, stated once here.
//
// Instructions. Every instruction is rendered from a fixed table of phrases (one table,
// `phrases` below, shared by the renderer and the parser). Single-answer tasks are one whole
// sentence from the table. List tasks are a bag of phrases: an opening verb, a head ("3
// animals", "four even numbers"), and one phrase per constraint, either inside the first
// sentence or as a sentence of its own ("Each must start with b."). The parser lowercases the
// text, cuts it into words, numbers and punctuation, and at every position takes the longest
// phrase of the table that matches; "and", "," and "." between phrases are glue. A word that
// no phrase explains makes the text "not a world instruction" (-1): the grader refuses to
// guess. A constraint stated twice is refused as well; constraints that contradict each other
// ("between 60 and 20") parse, and the task is flagged unsatisfiable.
//
// Answers, in the clean form the generator writes: list items joined by the separator asked
// for (", " when none), then the closing word, if any, on a line of its own; single answers
// bare ("BEAR", "b", "4", "52", "ant, bear, cat", "odd").
//
// Grading a list (word lists, number lists, sorting). The items are the longest run of one-word
// (or one-number) pieces joined by separators (comma, semicolon, bar, new line; "and" in prose,
// which makes the separator "mixed"), or one piece of lexicon words or numbers separated by
// spaces. Chatter glued to the first or last item ("Here they are: bear, ...") is split off and
// is extra, never an item. When there is no run of two, the items are the right-kind words
// (numbers) found anywhere, with separator "none".
// Checks: count (always), kind (word lists: every item a lexicon word of the category asked, or
// of any category), given words (sorting), then one per constraint: first letter, last letter,
// length, case, range, parity, order, separator, closing word. The separator is seen only
// between two items or more; one item is in order. "Extra" is anything besides the items, their
// separators, one final period and the closing word: chatter, a repeated item, a number with a
// leading zero.
//   0  nothing of the right kind (no lexicon word / number / given word among the items)
//   +1 something of the right kind
//   +1 at least half of the checks hold
//   +1 all checks but at most one hold
//   +1 every check holds
//   +1 every check holds and nothing extra is there
// Grading a single answer: candidates of the right kind are found (single letters, numbers,
// the words "even"/"odd", the word in capitals); three checks form a ladder: the right value
// is among them, it is the only one, it has the right form (capitals, lowercase, digits
// without a leading zero). Score = 0 without a candidate, else 1 + the number of leading
// checks that hold, + 1 when all hold and nothing extra is there.
//
// The judgment (the EFT target) is written by the same code that grades, line by line, so it
// cannot disagree with the grade: what was asked, the items, one line per check (an attribute
// per item, then the verdict against a value copied from the request), what is extra, the tally
// and "Score: k". Every attribute is one lookup on one item; every verdict compares a short
// sequence with one value: steps a small transformer can imitate.
//
// Randomness comes only from the Rng passed in, so the files are the same on every machine.
#include "world.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"

// ASCII character classes: unlike <ctype.h> they do not depend on the locale, so the files and
// grades are the same whatever locale the program runs in.
static int ascii_is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int ascii_is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int ascii_is_letter(int c) { return ascii_is_upper(c) || ascii_is_lower(c); }
static int ascii_is_digit(int c) { return c >= '0' && c <= '9'; }
static int ascii_lower(int c) { return ascii_is_upper(c) ? c + 32 : c; }
static int ascii_upper(int c) { return ascii_is_lower(c) ? c - 32 : c; }

// ----------------------------------------------------------------------------
// families and the lexicon

const char *const world_family_names[] = {
    "word_list", "number_list", "capitals", "first_letter", "last_letter",
    "letter_count", "larger", "smaller", "sort_words", "even_odd", "creatures",
};
const int world_n_families = (int)(sizeof world_family_names / sizeof world_family_names[0]);

const char *const world_kind_names[] = {"fact", "form"};

int world_family_kind(int family) {
    if (family < 0 || family >= world_n_families) return -1;
    return family == WORLD_CREATURES ? WORLD_KIND_FACT : WORLD_KIND_FORM;
}

// Eight categories whose names are single words, so that a judgment's attribute sequence
// ("Kinds animal food animal") reads one word per item.
enum { N_CATEGORIES = 8 };
static const char *const category_names[N_CATEGORIES] = {
    "animal", "food", "color", "tool", "place", "plant", "vehicle", "job",
};
static const char *const category_plurals[N_CATEGORIES] = {
    "animals", "foods", "colors", "tools", "places", "plants", "vehicles", "jobs",
};

// 30 words per category, 3 to 8 lowercase letters, each word in one category only, chosen
// so that many first letters have several words. None of them is a word the instructions,
// the closing words or the chatter use.
static const char *const lexicon[N_CATEGORIES][30] = {
    {"ant", "bat", "bear", "bee", "bird", "camel", "cat", "cow", "crab", "deer",
     "dog", "duck", "eagle", "fox", "frog", "goat", "hawk", "horse", "lion", "mouse",
     "owl", "panda", "pig", "rabbit", "shark", "sheep", "snake", "tiger", "wolf", "zebra"},
    {"apple", "bacon", "banana", "bean", "bread", "butter", "cake", "candy", "carrot", "cheese",
     "cookie", "corn", "egg", "grape", "honey", "jam", "lemon", "melon", "milk", "pasta",
     "peach", "pear", "pepper", "pizza", "rice", "salad", "soup", "sugar", "toast", "tomato"},
    {"red", "blue", "green", "yellow", "black", "white", "brown", "pink", "purple", "gray",
     "gold", "silver", "beige", "cyan", "tan", "teal", "navy", "maroon", "violet", "indigo",
     "amber", "crimson", "ivory", "khaki", "magenta", "scarlet", "azure", "bronze", "mauve", "ruby"},
    {"axe", "anvil", "bolt", "broom", "brush", "bucket", "chisel", "clamp", "crowbar", "drill",
     "funnel", "hammer", "hoe", "hose", "knife", "ladder", "lever", "mop", "needle", "pliers",
     "pump", "rake", "ruler", "saw", "scissors", "shovel", "sickle", "spade", "tongs", "wrench"},
    {"airport", "bank", "beach", "bridge", "cafe", "castle", "church", "city", "desert", "farm",
     "forest", "garden", "harbor", "hill", "hotel", "house", "island", "jungle", "lake", "library",
     "market", "museum", "ocean", "park", "pond", "river", "school", "street", "tower", "village"},
    {"aspen", "bamboo", "basil", "birch", "cactus", "cedar", "clover", "daisy", "elm", "fern",
     "grass", "hazel", "holly", "iris", "ivy", "lilac", "lily", "lotus", "maple", "mint",
     "moss", "oak", "orchid", "palm", "pine", "poppy", "rose", "tulip", "wheat", "willow"},
    {"bike", "boat", "bus", "cab", "canoe", "car", "cart", "ferry", "glider", "jeep",
     "jet", "kayak", "moped", "plane", "raft", "rocket", "scooter", "ship", "sled", "subway",
     "taxi", "tractor", "train", "tram", "truck", "van", "wagon", "yacht", "barge", "trolley"},
    {"actor", "artist", "baker", "barber", "butcher", "captain", "chef", "clerk", "cook", "dancer",
     "dentist", "doctor", "driver", "farmer", "guard", "hunter", "judge", "lawyer", "miner", "nurse",
     "painter", "pilot", "plumber", "poet", "sailor", "singer", "tailor", "teacher", "waiter", "writer"},
};
enum { WORDS_PER_CATEGORY = 30, LEXICON_SIZE = N_CATEGORIES * WORDS_PER_CATEGORY };

int world_lexicon_size(void) { return LEXICON_SIZE; }
const char *world_lexicon_word(int i) { return lexicon[i / WORDS_PER_CATEGORY][i % WORDS_PER_CATEGORY]; }
const char *world_category_name(int c) { return c >= 0 && c < N_CATEGORIES ? category_names[c] : "none"; }

// Case-insensitive comparison of s[0..len) with the NUL-terminated lowercase word w.
static int span_equals_word(const char *s, int len, const char *w) {
    for (int i = 0; i < len; i++)
        if (w[i] == 0 || ascii_lower((unsigned char)s[i]) != w[i]) return 0;
    return w[len] == 0;
}

// Index of the lexicon word s[0..len) (any case), or -1. A linear scan: 240 short words.
static int lexicon_index(const char *s, int len) {
    if (len < 3 || len > 8) return -1;
    int first = ascii_lower((unsigned char)s[0]);
    for (int i = 0; i < LEXICON_SIZE; i++) {
        const char *w = world_lexicon_word(i);
        if (w[0] == first && span_equals_word(s, len, w)) return i;
    }
    return -1;
}

int world_word_category(const char *word) {
    int i = lexicon_index(word, (int)strlen(word));
    return i < 0 ? -1 : i / WORDS_PER_CATEGORY;
}

// Number words for counts and lengths: instructions mix "3" and "three".
static const char *const number_words[] = {
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty",
};
enum { N_NUMBER_WORDS = 21 };

static int number_word_value(const char *s, int len) {
    for (int i = 0; i < N_NUMBER_WORDS; i++)
        if (span_equals_word(s, len, number_words[i])) return i;
    return -1;
}

// Words that may close an answer ("end your answer with the word done"): not lexicon words.
static const char *const closing_words[] = {"done", "end", "finished", "over", "thanks", "bye", "stop", "ready"};
enum { N_CLOSING_WORDS = 8 };

// Names used in the judgment's restatements and attribute sequences.
static const char *const separator_names[] = {"any", "commas", "semicolons", "new lines", "bars"};
static const char *const separator_text[] = {", ", ", ", "; ", "\n", " | "};
static const char *const case_names[] = {"any", "capitals", "capitalized", "lowercase"};
static const char *const parity_names[] = {"any", "even", "odd"};

// The fact family's traits and their values, each value one word. Homes are said with "the"
// ("lives in the river"), foods after "eats", colors and sizes as adjectives.
enum { MAX_TRAIT_VALUES = 6 };
static const char *const trait_names[WORLD_N_TRAITS] = {"color", "home", "food", "size"};
static const int trait_n_values[WORLD_N_TRAITS] = {6, 6, 5, 4};
static const char *const trait_values[WORLD_N_TRAITS][MAX_TRAIT_VALUES] = {
    {"red", "blue", "green", "yellow", "black", "white"},
    {"river", "forest", "desert", "hills", "swamp", "sea"},
    {"fish", "fruit", "grass", "insects", "seeds"},
    {"tiny", "small", "large", "huge"},
};

// The value index of s[0..len) (any case) among a trait's values, or -1.
static int trait_value_index(int trait, const char *s, int len) {
    for (int v = 0; v < trait_n_values[trait]; v++)
        if (span_equals_word(s, len, trait_values[trait][v])) return v;
    return -1;
}

static int is_single_answer(int family) {
    return family != WORLD_WORD_LIST && family != WORLD_NUMBER_LIST && family != WORLD_SORT_WORDS && family != WORLD_CREATURES;
}

// ----------------------------------------------------------------------------
// the phrase table: the grammar of instructions

// What a phrase states.
enum {
    PK_OPEN,      // "list", "give me"
    PK_HEAD,      // "%C %K", "%C %P numbers": count, category, maybe parity
    PK_FIRST,     // first letter
    PK_LAST,      // last letter
    PK_LENGTH,    // value: WORLD_LENGTH_*
    PK_CASE,      // value: WORLD_CASE_*
    PK_ORDER,     // value: WORLD_ORDER_*
    PK_SEP,       // value: WORLD_SEP_*
    PK_CLOSING,   // closing word
    PK_ABOVE,     // number above %N
    PK_BELOW,     // number below %N
    PK_BETWEEN,   // above the first %N and below the second
    PK_PARITY,    // %P
    PK_COLOR,     // creatures: a trait's value, %T (the four kinds in the order of WORLD_TRAIT_*)
    PK_HOME,
    PK_FOOD,
    PK_SIZE,
    PK_FULL,      // a whole single-answer instruction
    N_PHRASE_KINDS
};
// Where the renderer puts a phrase.
enum {
    AT_HEAD,      // the opening and the head, in that order
    AT_MODIFIER,  // right after the head: "animals that start with b"
    AT_LIST,      // after a comma in the first sentence: ", in alphabetical order"
    AT_SENTENCE,  // a sentence of its own: "Each must start with b."
    AT_WHOLE,     // the whole instruction
};
enum { GROUP_LISTS = 100 };  // a phrase of every list family; else the family it belongs to

typedef struct {
    int group;         // WORLD_WORD_LIST, WORLD_NUMBER_LIST, WORLD_CREATURES, GROUP_LISTS or a
                       // single-answer family
    int kind;          // PK_*
    int place;         // AT_*
    int value;         // the value the phrase carries (a WORLD_* enum), else 0; a creature head
                       // with an adjective: 1 + the trait it states (color or size)
    const char *text;  // words and punctuation separated by spaces; %-slots:
                       // %L a letter, %C a count (digits or a number word), %N a number in digits,
                       // %K a category in the plural or "words", %P even/odd, %W a word,
                       // %V a list of words "w, w, w", %T a value of the phrase's trait
} Phrase;

#define WL WORLD_WORD_LIST
#define NL WORLD_NUMBER_LIST
#define CR WORLD_CREATURES
static const Phrase phrases[] = {
    // openings and heads
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "list"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "give"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "give me"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "write"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "write down"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "name"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "please list"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "please give"},
    {GROUP_LISTS, PK_OPEN, AT_HEAD, 0, "please write"},
    {WL, PK_HEAD, AT_HEAD, 0, "%C %K"},
    {WL, PK_HEAD, AT_HEAD, 0, "%C different %K"},
    {NL, PK_HEAD, AT_HEAD, 0, "%C numbers"},
    {NL, PK_HEAD, AT_HEAD, 0, "%C different numbers"},
    {NL, PK_HEAD, AT_HEAD, 1, "%C %P numbers"},            // value 1: the head carries the parity
    {NL, PK_HEAD, AT_HEAD, 1, "%C different %P numbers"},
    {CR, PK_HEAD, AT_HEAD, 0, "%C creatures"},
    {CR, PK_HEAD, AT_HEAD, 0, "%C different creatures"},
    {CR, PK_HEAD, AT_HEAD, 1 + WORLD_TRAIT_COLOR, "%C %T creatures"},
    {CR, PK_HEAD, AT_HEAD, 1 + WORLD_TRAIT_COLOR, "%C different %T creatures"},
    {CR, PK_HEAD, AT_HEAD, 1 + WORLD_TRAIT_SIZE, "%C %T creatures"},
    {CR, PK_HEAD, AT_HEAD, 1 + WORLD_TRAIT_SIZE, "%C different %T creatures"},
    // first and last letter
    {WL, PK_FIRST, AT_MODIFIER, 0, "that start with the letter %L"},
    {WL, PK_FIRST, AT_MODIFIER, 0, "that start with %L"},
    {WL, PK_FIRST, AT_MODIFIER, 0, "that begin with the letter %L"},
    {WL, PK_FIRST, AT_MODIFIER, 0, "that begin with %L"},
    {WL, PK_FIRST, AT_MODIFIER, 0, "starting with %L"},
    {WL, PK_FIRST, AT_MODIFIER, 0, "beginning with the letter %L"},
    {WL, PK_FIRST, AT_MODIFIER, 0, "whose first letter is %L"},
    {WL, PK_FIRST, AT_SENTENCE, 0, "each must start with the letter %L"},
    {WL, PK_FIRST, AT_SENTENCE, 0, "every word must begin with %L"},
    {WL, PK_FIRST, AT_SENTENCE, 0, "all of them should start with %L"},
    {WL, PK_LAST, AT_MODIFIER, 0, "that end with the letter %L"},
    {WL, PK_LAST, AT_MODIFIER, 0, "that end with %L"},
    {WL, PK_LAST, AT_MODIFIER, 0, "that end in %L"},
    {WL, PK_LAST, AT_MODIFIER, 0, "ending with the letter %L"},
    {WL, PK_LAST, AT_MODIFIER, 0, "ending in %L"},
    {WL, PK_LAST, AT_MODIFIER, 0, "whose last letter is %L"},
    {WL, PK_LAST, AT_SENTENCE, 0, "each must end with the letter %L"},
    {WL, PK_LAST, AT_SENTENCE, 0, "every word must end in %L"},
    // length
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_EXACTLY, "with exactly %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_EXACTLY, "that have exactly %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_EXACTLY, "that are %C letters long"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_EXACTLY, "of exactly %C letters"},
    {WL, PK_LENGTH, AT_SENTENCE, WORLD_LENGTH_EXACTLY, "each must have exactly %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_MOST, "with at most %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_MOST, "that have at most %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_MOST, "of no more than %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_MOST, "that are at most %C letters long"},
    {WL, PK_LENGTH, AT_SENTENCE, WORLD_LENGTH_AT_MOST, "each must have at most %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_LEAST, "with at least %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_LEAST, "that have at least %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_LEAST, "of no fewer than %C letters"},
    {WL, PK_LENGTH, AT_MODIFIER, WORLD_LENGTH_AT_LEAST, "that are at least %C letters long"},
    {WL, PK_LENGTH, AT_SENTENCE, WORLD_LENGTH_AT_LEAST, "each must have at least %C letters"},
    // letter case
    {WL, PK_CASE, AT_LIST, WORLD_CASE_CAPITALS, "in capital letters"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_CAPITALS, "in all capitals"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_CAPITALS, "in uppercase"},
    {WL, PK_CASE, AT_SENTENCE, WORLD_CASE_CAPITALS, "write them in capital letters"},
    {WL, PK_CASE, AT_SENTENCE, WORLD_CASE_CAPITALS, "use capital letters only"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_CAPITALIZED, "with a capital first letter"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_CAPITALIZED, "capitalized"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_CAPITALIZED, "with only the first letter capitalized"},
    {WL, PK_CASE, AT_SENTENCE, WORLD_CASE_CAPITALIZED, "capitalize the first letter of each"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_LOWER, "in lowercase"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_LOWER, "in lowercase letters"},
    {WL, PK_CASE, AT_LIST, WORLD_CASE_LOWER, "in small letters"},
    {WL, PK_CASE, AT_SENTENCE, WORLD_CASE_LOWER, "write them in lowercase"},
    // order
    {WL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "in alphabetical order"},
    {WL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "sorted alphabetically"},
    {WL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "in order from a to z"},
    {WL, PK_ORDER, AT_SENTENCE, WORLD_ORDER_UP, "put them in alphabetical order"},
    {WL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "in reverse alphabetical order"},
    {WL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "sorted in reverse alphabetical order"},
    {WL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "in order from z to a"},
    {WL, PK_ORDER, AT_SENTENCE, WORLD_ORDER_DOWN, "put them in reverse alphabetical order"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "in increasing order"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "in ascending order"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "from smallest to largest"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_UP, "sorted from smallest to largest"},
    {NL, PK_ORDER, AT_SENTENCE, WORLD_ORDER_UP, "put them in increasing order"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "in decreasing order"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "in descending order"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "from largest to smallest"},
    {NL, PK_ORDER, AT_LIST, WORLD_ORDER_DOWN, "sorted from largest to smallest"},
    {NL, PK_ORDER, AT_SENTENCE, WORLD_ORDER_DOWN, "put them in decreasing order"},
    // separator
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_COMMA, "separated by commas"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_COMMA, "with commas between them"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_COMMA, "as a comma - separated list"},
    {GROUP_LISTS, PK_SEP, AT_SENTENCE, WORLD_SEP_COMMA, "separate them with commas"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_SEMICOLON, "separated by semicolons"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_SEMICOLON, "with semicolons between them"},
    {GROUP_LISTS, PK_SEP, AT_SENTENCE, WORLD_SEP_SEMICOLON, "separate them with semicolons"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_NEWLINE, "one per line"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_NEWLINE, "each on its own line"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_NEWLINE, "on separate lines"},
    {GROUP_LISTS, PK_SEP, AT_SENTENCE, WORLD_SEP_NEWLINE, "put each one on its own line"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_BAR, "separated by vertical bars"},
    {GROUP_LISTS, PK_SEP, AT_LIST, WORLD_SEP_BAR, "with a vertical bar between them"},
    {GROUP_LISTS, PK_SEP, AT_SENTENCE, WORLD_SEP_BAR, "separate them with vertical bars"},
    // closing word
    {GROUP_LISTS, PK_CLOSING, AT_LIST, 0, "and end with the word %W"},
    {GROUP_LISTS, PK_CLOSING, AT_LIST, 0, "ending with the word %W"},
    {GROUP_LISTS, PK_CLOSING, AT_SENTENCE, 0, "end your answer with the word %W"},
    {GROUP_LISTS, PK_CLOSING, AT_SENTENCE, 0, "then write the word %W"},
    {GROUP_LISTS, PK_CLOSING, AT_SENTENCE, 0, "after the list , write %W"},
    {GROUP_LISTS, PK_CLOSING, AT_SENTENCE, 0, "the last word of your answer must be %W"},
    // numeric range and parity
    {NL, PK_ABOVE, AT_MODIFIER, 0, "above %N"},
    {NL, PK_ABOVE, AT_MODIFIER, 0, "greater than %N"},
    {NL, PK_ABOVE, AT_MODIFIER, 0, "more than %N"},
    {NL, PK_ABOVE, AT_MODIFIER, 0, "that are above %N"},
    {NL, PK_ABOVE, AT_SENTENCE, 0, "each must be greater than %N"},
    {NL, PK_BELOW, AT_MODIFIER, 0, "below %N"},
    {NL, PK_BELOW, AT_MODIFIER, 0, "less than %N"},
    {NL, PK_BELOW, AT_MODIFIER, 0, "under %N"},
    {NL, PK_BELOW, AT_MODIFIER, 0, "that are below %N"},
    {NL, PK_BELOW, AT_SENTENCE, 0, "each must be less than %N"},
    {NL, PK_BETWEEN, AT_MODIFIER, 0, "between %N and %N"},
    {NL, PK_BETWEEN, AT_MODIFIER, 0, "that are between %N and %N"},
    {NL, PK_BETWEEN, AT_MODIFIER, 0, "greater than %N and less than %N"},
    {NL, PK_BETWEEN, AT_SENTENCE, 0, "each must be between %N and %N"},
    {NL, PK_PARITY, AT_MODIFIER, 0, "that are %P"},
    {NL, PK_PARITY, AT_SENTENCE, 0, "each must be %P"},
    {NL, PK_PARITY, AT_SENTENCE, 0, "all of them must be %P"},
    // creatures: one phrase kind per trait
    {CR, PK_COLOR, AT_MODIFIER, 0, "that are %T"},
    {CR, PK_COLOR, AT_MODIFIER, 0, "whose color is %T"},
    {CR, PK_COLOR, AT_MODIFIER, 0, "%T in color"},
    {CR, PK_COLOR, AT_MODIFIER, 0, "colored %T"},
    {CR, PK_COLOR, AT_SENTENCE, 0, "each must be %T"},
    {CR, PK_COLOR, AT_SENTENCE, 0, "their color must be %T"},
    {CR, PK_HOME, AT_MODIFIER, 0, "that live in the %T"},
    {CR, PK_HOME, AT_MODIFIER, 0, "living in the %T"},
    {CR, PK_HOME, AT_MODIFIER, 0, "found in the %T"},
    {CR, PK_HOME, AT_MODIFIER, 0, "whose home is the %T"},
    {CR, PK_HOME, AT_MODIFIER, 0, "from the %T"},
    {CR, PK_HOME, AT_SENTENCE, 0, "each must live in the %T"},
    {CR, PK_HOME, AT_SENTENCE, 0, "they should all live in the %T"},
    {CR, PK_FOOD, AT_MODIFIER, 0, "that eat %T"},
    {CR, PK_FOOD, AT_MODIFIER, 0, "that feed on %T"},
    {CR, PK_FOOD, AT_MODIFIER, 0, "eating %T"},
    {CR, PK_FOOD, AT_MODIFIER, 0, "whose food is %T"},
    {CR, PK_FOOD, AT_SENTENCE, 0, "each must eat %T"},
    {CR, PK_FOOD, AT_SENTENCE, 0, "all of them should eat %T"},
    {CR, PK_SIZE, AT_MODIFIER, 0, "that are %T"},
    {CR, PK_SIZE, AT_MODIFIER, 0, "of %T size"},
    {CR, PK_SIZE, AT_MODIFIER, 0, "%T in size"},
    {CR, PK_SIZE, AT_SENTENCE, 0, "each must be %T"},
    {CR, PK_SIZE, AT_SENTENCE, 0, "their size must be %T"},
    // single-answer tasks: the final ? or . is ignored when parsing
    {WORLD_CAPITALS, PK_FULL, AT_WHOLE, 0, "write the word %W in capital letters ."},
    {WORLD_CAPITALS, PK_FULL, AT_WHOLE, 0, "what is %W in capital letters ?"},
    {WORLD_CAPITALS, PK_FULL, AT_WHOLE, 0, "write %W in uppercase ."},
    {WORLD_CAPITALS, PK_FULL, AT_WHOLE, 0, "spell the word %W in all capitals ."},
    {WORLD_CAPITALS, PK_FULL, AT_WHOLE, 0, "how do you write %W in capital letters ?"},
    {WORLD_FIRST_LETTER, PK_FULL, AT_WHOLE, 0, "what is the first letter of the word %W ?"},
    {WORLD_FIRST_LETTER, PK_FULL, AT_WHOLE, 0, "what letter does %W start with ?"},
    {WORLD_FIRST_LETTER, PK_FULL, AT_WHOLE, 0, "which letter does the word %W begin with ?"},
    {WORLD_FIRST_LETTER, PK_FULL, AT_WHOLE, 0, "give the first letter of %W ."},
    {WORLD_LAST_LETTER, PK_FULL, AT_WHOLE, 0, "what is the last letter of the word %W ?"},
    {WORLD_LAST_LETTER, PK_FULL, AT_WHOLE, 0, "what letter does %W end with ?"},
    {WORLD_LAST_LETTER, PK_FULL, AT_WHOLE, 0, "which letter does the word %W end in ?"},
    {WORLD_LAST_LETTER, PK_FULL, AT_WHOLE, 0, "give the last letter of %W ."},
    {WORLD_LETTER_COUNT, PK_FULL, AT_WHOLE, 0, "how many letters are in the word %W ?"},
    {WORLD_LETTER_COUNT, PK_FULL, AT_WHOLE, 0, "how many letters does %W have ?"},
    {WORLD_LETTER_COUNT, PK_FULL, AT_WHOLE, 0, "count the letters in the word %W ."},
    {WORLD_LETTER_COUNT, PK_FULL, AT_WHOLE, 0, "give the number of letters in %W ."},
    {WORLD_LARGER, PK_FULL, AT_WHOLE, 0, "which is larger , %N or %N ?"},
    {WORLD_LARGER, PK_FULL, AT_WHOLE, 0, "which number is bigger : %N or %N ?"},
    {WORLD_LARGER, PK_FULL, AT_WHOLE, 0, "what is the larger of %N and %N ?"},
    {WORLD_LARGER, PK_FULL, AT_WHOLE, 0, "which is greater , %N or %N ?"},
    {WORLD_SMALLER, PK_FULL, AT_WHOLE, 0, "which is smaller , %N or %N ?"},
    {WORLD_SMALLER, PK_FULL, AT_WHOLE, 0, "which number is less : %N or %N ?"},
    {WORLD_SMALLER, PK_FULL, AT_WHOLE, 0, "what is the smaller of %N and %N ?"},
    {WORLD_SMALLER, PK_FULL, AT_WHOLE, 0, "which is lower , %N or %N ?"},
    {WORLD_SORT_WORDS, PK_FULL, AT_WHOLE, WORLD_ORDER_UP, "sort these words in alphabetical order : %V ."},
    {WORLD_SORT_WORDS, PK_FULL, AT_WHOLE, WORLD_ORDER_UP, "put these words in alphabetical order : %V ."},
    {WORLD_SORT_WORDS, PK_FULL, AT_WHOLE, WORLD_ORDER_UP, "write these words sorted alphabetically : %V ."},
    {WORLD_SORT_WORDS, PK_FULL, AT_WHOLE, WORLD_ORDER_DOWN, "sort these words in reverse alphabetical order : %V ."},
    {WORLD_SORT_WORDS, PK_FULL, AT_WHOLE, WORLD_ORDER_DOWN, "put these words in reverse alphabetical order : %V ."},
    {WORLD_EVEN_ODD, PK_FULL, AT_WHOLE, 0, "is %N even or odd ?"},
    {WORLD_EVEN_ODD, PK_FULL, AT_WHOLE, 0, "is the number %N odd or even ?"},
    {WORLD_EVEN_ODD, PK_FULL, AT_WHOLE, 0, "tell me whether %N is even or odd ."},
    {WORLD_EVEN_ODD, PK_FULL, AT_WHOLE, 0, "is %N an even or an odd number ?"},
};
#undef WL
#undef NL
#undef CR
enum { N_PHRASES = (int)(sizeof phrases / sizeof phrases[0]) };
const int world_n_phrases = N_PHRASES;

// The trait a phrase's %T slot holds a value of, or -1.
static int phrase_trait(const Phrase *ph) {
    if (ph->kind >= PK_COLOR && ph->kind <= PK_SIZE) return ph->kind - PK_COLOR;
    if (ph->kind == PK_HEAD && ph->group == WORLD_CREATURES && ph->value > 0) return ph->value - 1;
    return -1;
}

// ----------------------------------------------------------------------------
// the bestiary
//
// 200 invented creatures, each with a color, a home, a food and a size. Names and traits come
// from a fixed seed, never the data seed, so every world seed (and every fresh test set) asks
// about the same creatures. A name is consonant-vowel-consonant-vowel, sometimes with a final
// k, x or z ("bimo", "zorak"): short, so the tokenizer makes it one token, and far from any
// English word the world uses (a name never ends in "e", and none is a word of the lexicon,
// the phrase table, the trait values or the number and closing words). Each trait's values
// are dealt out evenly (every value to 200 / n creatures) and independently of the other
// traits: a pair of values is shared by about 200 / (6 x 6) = 5.6 creatures (color and home)
// to 200 / (5 x 4) = 10 (food and size).

enum { N_CREATURES = 200, BESTIARY_SEED = 20261207 };

typedef struct {
    char name[8];
    unsigned char trait[WORLD_N_TRAITS];  // value index per trait
} Creature;

static Creature bestiary[N_CREATURES];
static int bestiary_ready;

// Is w a word the world already uses (in the phrase table, the lexicon, the trait values, the
// number or closing words) or the name of one of the first n creatures?
static int word_in_use(const char *w, int n) {
    int len = (int)strlen(w);
    if (lexicon_index(w, len) >= 0 || number_word_value(w, len) >= 0) return 1;
    for (int i = 0; i < N_CLOSING_WORDS; i++)
        if (strcmp(w, closing_words[i]) == 0) return 1;
    for (int t = 0; t < WORLD_N_TRAITS; t++)
        if (strcmp(w, trait_names[t]) == 0 || trait_value_index(t, w, len) >= 0) return 1;
    for (int i = 0; i < N_PHRASES; i++)
        for (const char *p = phrases[i].text; *p;) {
            const char *end = strchr(p, ' ');
            int plen = end ? (int)(end - p) : (int)strlen(p);
            if (span_equals_word(p, plen, w)) return 1;
            p += plen;
            while (*p == ' ') p++;
        }
    for (int i = 0; i < n; i++)
        if (strcmp(w, bestiary[i].name) == 0) return 1;
    return 0;
}

static void bestiary_init(void) {
    if (bestiary_ready) return;
    static const char consonants[] = "bdfgklmnprstvz", vowels[] = "aeiou", finals[] = "kxz";
    Rng rng;
    rng_seed(&rng, BESTIARY_SEED);
    for (int i = 0; i < N_CREATURES;) {
        char w[8] = {0};
        int n = 0;
        w[n++] = consonants[rng_int(&rng, (int)sizeof consonants - 1)];
        w[n++] = vowels[rng_int(&rng, (int)sizeof vowels - 1)];
        w[n++] = consonants[rng_int(&rng, (int)sizeof consonants - 1)];
        w[n++] = vowels[rng_int(&rng, (int)sizeof vowels - 1)];
        if (rng_int(&rng, 2)) w[n++] = finals[rng_int(&rng, (int)sizeof finals - 1)];
        w[n] = 0;
        if (w[n - 1] == 'e' || word_in_use(w, i)) continue;
        memcpy(bestiary[i].name, w, (size_t)n + 1);
        i++;
    }
    for (int t = 0; t < WORLD_N_TRAITS; t++) {
        int deck[N_CREATURES];
        for (int i = 0; i < N_CREATURES; i++) deck[i] = i % trait_n_values[t];
        rng_shuffle_ints(&rng, deck, N_CREATURES);
        for (int i = 0; i < N_CREATURES; i++) bestiary[i].trait[t] = (unsigned char)deck[i];
    }
    bestiary_ready = 1;
}

// The creature named s[0..len) (any case), or -1. A linear scan: 200 short names.
static int creature_index(const char *s, int len) {
    bestiary_init();
    if (len < 4 || len > 5) return -1;
    for (int i = 0; i < N_CREATURES; i++)
        if (span_equals_word(s, len, bestiary[i].name)) return i;
    return -1;
}

int world_n_creatures(void) { return N_CREATURES; }
const char *world_creature_name(int i) { bestiary_init(); return bestiary[i].name; }
int world_creature_trait(int i, int trait) { bestiary_init(); return bestiary[i].trait[trait]; }
int world_creature_index(const char *word) { return creature_index(word, (int)strlen(word)); }
const char *world_trait_name(int trait) { return trait_names[trait]; }
int world_trait_n_values(int trait) { return trait_n_values[trait]; }
const char *world_trait_value(int trait, int v) { return trait_values[trait][v]; }

// ----------------------------------------------------------------------------
// cutting text into tokens: words, numbers, punctuation, new lines

enum { TOK_WORD, TOK_NUMBER, TOK_PUNCT, TOK_NEWLINE };

typedef struct {
    const char *s;  // points into the text
    int len;
    int type;       // TOK_*
    long number;    // TOK_NUMBER: its value (capped at 1000000)
} Token;

// Cuts text into tokens; spaces, tabs and carriage returns only separate them, and a run of
// new lines (with spaces between) is one TOK_NEWLINE. Every other byte, ASCII punctuation or
// not, is a TOK_PUNCT of its own. Returns the count; *tokens is malloc'd.
static int tokenize(const char *text, Token **tokens) {
    int cap = 16, n = 0;
    Token *t = xmalloc(sizeof(Token) * (size_t)cap);
    const char *p = text;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\t' || c == '\r') { p++; continue; }
        if (n == cap) { cap *= 2; t = xrealloc(t, sizeof(Token) * (size_t)cap); }
        Token *k = &t[n++];
        k->s = p;
        k->number = 0;
        if (c == '\n') {
            k->type = TOK_NEWLINE;
            while (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r') p++;
            k->len = (int)(p - k->s);
        } else if (ascii_is_letter(c)) {
            k->type = TOK_WORD;
            while (ascii_is_letter((unsigned char)*p)) p++;
            k->len = (int)(p - k->s);
        } else if (ascii_is_digit(c)) {
            k->type = TOK_NUMBER;
            while (ascii_is_digit((unsigned char)*p)) {
                if (k->number < 1000000) k->number = k->number * 10 + (*p - '0');
                p++;
            }
            if (k->number > 1000000) k->number = 1000000;
            k->len = (int)(p - k->s);
        } else {
            k->type = TOK_PUNCT;
            k->len = 1;
            p++;
        }
    }
    *tokens = t;
    return n;
}

static int token_is(const Token *k, const char *word) { return span_equals_word(k->s, k->len, word); }
static int token_is_punct(const Token *k, char c) { return k->type == TOK_PUNCT && k->s[0] == c; }

// ----------------------------------------------------------------------------
// tasks: init, equality, parsing

void world_task_init(WorldTask *t) {
    memset(t, 0, sizeof *t);
    t->family = WORLD_WORD_LIST;
    t->category = -1;
    t->length_rule = WORLD_LENGTH_ANY;
    t->letter_case = WORLD_CASE_ANY;
    t->order = WORLD_ORDER_ANY;
    t->separator = WORLD_SEP_ANY;
    t->above = -1;
    t->below = -1;
    t->parity = WORLD_PARITY_ANY;
    for (int i = 0; i < WORLD_N_TRAITS; i++) t->trait[i] = -1;
}

int world_task_equal(const WorldTask *a, const WorldTask *b) {
    if (a->family != b->family || a->count != b->count || a->category != b->category) return 0;
    if (a->first_letter != b->first_letter || a->last_letter != b->last_letter) return 0;
    if (a->length_rule != b->length_rule || a->length != b->length) return 0;
    if (a->letter_case != b->letter_case || a->order != b->order || a->separator != b->separator) return 0;
    if (strcmp(a->closing, b->closing) != 0) return 0;
    if (a->above != b->above || a->below != b->below || a->parity != b->parity) return 0;
    if (strcmp(a->word, b->word) != 0 || a->x != b->x || a->y != b->y) return 0;
    if (a->n_words != b->n_words) return 0;
    for (int i = 0; i < a->n_words; i++)
        if (strcmp(a->words[i], b->words[i]) != 0) return 0;
    for (int i = 0; i < WORLD_N_TRAITS; i++)
        if (a->trait[i] != b->trait[i]) return 0;
    return 1;
}

// What the slots of one matched phrase held, in the order they appear.
typedef struct {
    int trait;         // the trait a %T slot takes a value of (phrase_trait), -1 for none
    int n_ints;
    int ints[4];       // %L (the letter), %C, %N, %P (WORLD_PARITY_*), %K (category or -1), %T
    int word_tok;      // %W: index of the token
    int n_list;        // %V: indexes of the word tokens
    int list_tok[WORLD_SORT_MAX];
} SlotValues;

// Matches one piece of a pattern (a slot or a literal) at tok[pos]; returns the tokens used, 0
// when it does not match.
static int match_piece(const char *piece, int plen, const Token *tok, int ntok, int pos, SlotValues *sv) {
    if (pos >= ntok) return 0;
    const Token *k = &tok[pos];
    if (piece[0] == '%' && plen == 2) {
        switch (piece[1]) {
        case 'L':
            if (k->type != TOK_WORD || k->len != 1) return 0;
            sv->ints[sv->n_ints++] = ascii_lower((unsigned char)k->s[0]);
            return 1;
        case 'C': {
            int v = k->type == TOK_NUMBER ? (int)k->number : k->type == TOK_WORD ? number_word_value(k->s, k->len) : -1;
            if (v < 0 || v > 1000) return 0;
            sv->ints[sv->n_ints++] = v;
            return 1;
        }
        case 'N':
            if (k->type != TOK_NUMBER || k->number > 1000) return 0;
            sv->ints[sv->n_ints++] = (int)k->number;
            return 1;
        case 'P':
            if (token_is(k, "even")) sv->ints[sv->n_ints++] = WORLD_PARITY_EVEN;
            else if (token_is(k, "odd")) sv->ints[sv->n_ints++] = WORLD_PARITY_ODD;
            else return 0;
            return 1;
        case 'K':
            if (token_is(k, "words")) { sv->ints[sv->n_ints++] = -1; return 1; }
            for (int c = 0; c < N_CATEGORIES; c++)
                if (token_is(k, category_plurals[c])) { sv->ints[sv->n_ints++] = c; return 1; }
            return 0;
        case 'W':
            if (k->type != TOK_WORD || k->len >= WORLD_WORD_MAX) return 0;
            sv->word_tok = pos;
            return 1;
        case 'T': {
            int v = sv->trait >= 0 && k->type == TOK_WORD ? trait_value_index(sv->trait, k->s, k->len) : -1;
            if (v < 0) return 0;
            sv->ints[sv->n_ints++] = v;
            return 1;
        }
        case 'V': {
            // word (, word)+ : at least two words
            int used = 0;
            sv->n_list = 0;
            for (;;) {
                if (pos + used >= ntok) break;
                const Token *w = &tok[pos + used];
                if (w->type != TOK_WORD || w->len >= WORLD_WORD_MAX || sv->n_list == WORLD_SORT_MAX) return 0;
                sv->list_tok[sv->n_list++] = pos + used;
                used++;
                if (pos + used + 1 < ntok && token_is_punct(&tok[pos + used], ',') && tok[pos + used + 1].type == TOK_WORD)
                    used++;
                else
                    break;
            }
            return sv->n_list >= 2 ? used : 0;
        }
        }
        return 0;
    }
    if (ascii_is_letter((unsigned char)piece[0])) {
        if (k->type != TOK_WORD || k->len != plen) return 0;
        for (int i = 0; i < plen; i++)
            if (ascii_lower((unsigned char)k->s[i]) != piece[i]) return 0;
        return 1;
    }
    return plen == 1 && token_is_punct(k, piece[0]) ? 1 : 0;
}

// Matches a whole phrase at tok[pos]; returns the tokens used or 0. With skip_final, a final
// "." or "?" piece of the pattern is not matched (single-answer sentences).
static int match_phrase(const Phrase *ph, const Token *tok, int ntok, int pos, int skip_final, SlotValues *sv) {
    memset(sv, 0, sizeof *sv);
    sv->word_tok = -1;
    sv->trait = phrase_trait(ph);
    int start = pos;
    const char *p = ph->text;
    while (*p) {
        const char *end = strchr(p, ' ');
        int plen = end ? (int)(end - p) : (int)strlen(p);
        int is_last = end == NULL;
        if (!(skip_final && is_last && plen == 1 && (p[0] == '.' || p[0] == '?'))) {
            int used = match_piece(p, plen, tok, ntok, pos, sv);
            if (!used) return 0;
            pos += used;
        }
        p += plen;
        while (*p == ' ') p++;
    }
    return pos - start;
}

static void copy_token_lower(char *dst, const Token *k) {
    int n = k->len < WORLD_WORD_MAX - 1 ? k->len : WORLD_WORD_MAX - 1;
    for (int i = 0; i < n; i++) dst[i] = (char)ascii_lower((unsigned char)k->s[i]);
    dst[n] = 0;
}

// A single-answer instruction: one whole phrase, all tokens used. 1 when it matched.
static int parse_single(const Token *tok, int ntok, WorldTask *t) {
    for (int i = 0; i < N_PHRASES; i++) {
        const Phrase *ph = &phrases[i];
        if (ph->kind != PK_FULL) continue;
        SlotValues sv;
        if (match_phrase(ph, tok, ntok, 0, 1, &sv) != ntok) continue;
        world_task_init(t);
        t->family = ph->group;
        if (sv.word_tok >= 0) copy_token_lower(t->word, &tok[sv.word_tok]);
        if (sv.n_ints >= 1) t->x = sv.ints[0];
        if (sv.n_ints >= 2) t->y = sv.ints[1];
        if (ph->group == WORLD_SORT_WORDS) {
            t->order = ph->value;
            t->n_words = sv.n_list;
            for (int w = 0; w < sv.n_list; w++) copy_token_lower(t->words[w], &tok[sv.list_tok[w]]);
        }
        return 1;
    }
    return 0;
}

// A list instruction of one group (word lists, number lists, creatures): a bag of phrases and glue.
// Returns 0, or -1 with srl_error saying which words no phrase explains; *reached gets the
// token the parse stopped at (ntok when the words parsed but the head is missing).
static int parse_list(const Token *tok, int ntok, int group, WorldTask *t, int *reached) {
    *reached = ntok;
    world_task_init(t);
    t->family = group;
    unsigned seen = 0;  // bit per PK_* already stated
    for (int pos = 0; pos < ntok;) {
        int best = -1, best_used = 0;
        SlotValues best_sv = {0}, sv;
        for (int i = 0; i < N_PHRASES; i++) {
            const Phrase *ph = &phrases[i];
            if (ph->kind == PK_FULL || (ph->group != group && ph->group != GROUP_LISTS)) continue;
            int used = match_phrase(ph, tok, ntok, pos, 0, &sv);
            if (used > best_used) { best = i; best_used = used; best_sv = sv; }
        }
        if (best < 0) {
            const Token *k = &tok[pos];
            if (token_is(k, "and") || token_is_punct(k, ',') || token_is_punct(k, '.')) { pos++; continue; }
            *reached = pos;
            return errorf("not a world instruction: no phrase explains \"%.*s\"", k->len, k->s);
        }
        const Phrase *ph = &phrases[best];
        unsigned bits = 1u << ph->kind;
        if (ph->kind == PK_BETWEEN) bits |= (1u << PK_ABOVE) | (1u << PK_BELOW);
        if (ph->kind == PK_HEAD && ph->value) bits |= group == WORLD_CREATURES ? 1u << (PK_COLOR + ph->value - 1) : 1u << PK_PARITY;
        if (seen & bits) {
            *reached = pos;
            return errorf("not a world instruction: a constraint is stated twice (at \"%.*s\")", tok[pos].len, tok[pos].s);
        }
        seen |= bits;
        const int *v = best_sv.ints;
        switch (ph->kind) {
        case PK_OPEN: break;
        case PK_HEAD:
            t->count = v[0];
            if (group == WORLD_WORD_LIST) t->category = v[1];
            else if (group == WORLD_CREATURES && ph->value) t->trait[ph->value - 1] = v[1];
            else if (ph->value) t->parity = v[1];
            break;
        case PK_COLOR:
        case PK_HOME:
        case PK_FOOD:
        case PK_SIZE: t->trait[ph->kind - PK_COLOR] = v[0]; break;
        case PK_FIRST: t->first_letter = (char)v[0]; break;
        case PK_LAST: t->last_letter = (char)v[0]; break;
        case PK_LENGTH: t->length_rule = ph->value; t->length = v[0]; break;
        case PK_CASE: t->letter_case = ph->value; break;
        case PK_ORDER: t->order = ph->value; break;
        case PK_SEP: t->separator = ph->value; break;
        case PK_CLOSING: copy_token_lower(t->closing, &tok[best_sv.word_tok]); break;
        case PK_ABOVE: t->above = v[0]; break;
        case PK_BELOW: t->below = v[0]; break;
        case PK_BETWEEN: t->above = v[0]; t->below = v[1]; break;
        case PK_PARITY: t->parity = v[0]; break;
        }
        pos += best_used;
    }
    if (!(seen & (1u << PK_OPEN)) || !(seen & (1u << PK_HEAD)))
        return errorf("not a world instruction: no \"List 3 ...\" head");
    return 0;
}

int world_parse(const char *instruction, WorldTask *t) {
    Token *tok;
    int ntok = tokenize(instruction, &tok);
    // New lines inside an instruction are plain spaces to the grammar.
    int n = 0;
    for (int i = 0; i < ntok; i++)
        if (tok[i].type != TOK_NEWLINE) tok[n++] = tok[i];
    ntok = n;
    int rc = 0;
    if (ntok == 0) {
        rc = errorf("not a world instruction: empty");
    } else {
        // A single-answer sentence may end with ".", "?" or "!", or with nothing.
        int nsingle = ntok;
        if (token_is_punct(&tok[nsingle - 1], '.') || token_is_punct(&tok[nsingle - 1], '?') || token_is_punct(&tok[nsingle - 1], '!'))
            nsingle--;
        if (!parse_single(tok, nsingle, t)) {
            // The list groups in turn; when all fail, report the attempt that read furthest
            // before it failed (the earlier on a tie).
            static const int groups[] = {WORLD_WORD_LIST, WORLD_NUMBER_LIST, WORLD_CREATURES};
            char error[sizeof srl_error] = "";
            int furthest = -1;
            rc = -1;
            for (int g = 0; g < 3 && rc < 0; g++) {
                int reached;
                rc = parse_list(tok, ntok, groups[g], t, &reached);
                if (rc < 0 && reached > furthest) furthest = reached, snprintf(error, sizeof error, "%s", srl_error);
            }
            if (rc < 0) snprintf(srl_error, sizeof srl_error, "%s", error);
        }
    }
    free(tok);
    return rc;
}

// ----------------------------------------------------------------------------
// rendering a task in words

// Picks at random one phrase of the group (or of both list groups) with this kind and value.
static int pick_phrase(Rng *rng, int group, int kind, int value) {
    int match[N_PHRASES], n = 0;
    for (int i = 0; i < N_PHRASES; i++) {
        const Phrase *ph = &phrases[i];
        if (ph->kind == kind && ph->value == value && (ph->group == group || ph->group == GROUP_LISTS)) match[n++] = i;
    }
    return n ? match[rng_int(rng, n)] : -1;
}

// Appends one piece of text with the spacing of English: no space before , . ? : and none
// around the hyphen of "comma-separated".
static void append_piece(Buf *out, const char *piece, int len, int *at_start) {
    int tight = len == 1 && strchr(",.?:-", piece[0]) != NULL;
    int after_hyphen = out->len > 0 && out->data[out->len - 1] == '-';
    if (!*at_start && !tight && !after_hyphen) buf_append_char(out, ' ');
    buf_append(out, piece, (size_t)len);
    *at_start = 0;
}

static void append_count(Buf *out, int v, Rng *rng, int *at_start) {
    char digits[16];
    if (v >= 0 && v < N_NUMBER_WORDS && rng_int(rng, 2)) {
        append_piece(out, number_words[v], (int)strlen(number_words[v]), at_start);
    } else {
        int n = snprintf(digits, sizeof digits, "%d", v);
        append_piece(out, digits, n, at_start);
    }
}

// Writes phrase ph with its slots filled from ints (in order), word (%W) and the task (%V).
static void render_phrase(const Phrase *ph, const int *ints, const char *word, const WorldTask *t,
                          Rng *rng, Buf *out, int *at_start) {
    int next_int = 0;
    char tmp[32];
    for (const char *p = ph->text; *p;) {
        const char *end = strchr(p, ' ');
        int plen = end ? (int)(end - p) : (int)strlen(p);
        if (p[0] == '%' && plen == 2) {
            switch (p[1]) {
            case 'L': tmp[0] = (char)ints[next_int++]; append_piece(out, tmp, 1, at_start); break;
            case 'C': append_count(out, ints[next_int++], rng, at_start); break;
            case 'N': append_piece(out, tmp, snprintf(tmp, sizeof tmp, "%d", ints[next_int++]), at_start); break;
            case 'P': {
                const char *w = parity_names[ints[next_int++]];
                append_piece(out, w, (int)strlen(w), at_start);
                break;
            }
            case 'K': {
                int c = ints[next_int++];
                const char *w = c >= 0 ? category_plurals[c] : "words";
                append_piece(out, w, (int)strlen(w), at_start);
                break;
            }
            case 'W': append_piece(out, word, (int)strlen(word), at_start); break;
            case 'T': {
                const char *w = trait_values[phrase_trait(ph)][ints[next_int++]];
                append_piece(out, w, (int)strlen(w), at_start);
                break;
            }
            case 'V':
                for (int i = 0; i < t->n_words; i++) {
                    if (i) append_piece(out, ",", 1, at_start);
                    append_piece(out, t->words[i], (int)strlen(t->words[i]), at_start);
                }
                break;
            }
        } else {
            append_piece(out, p, plen, at_start);
        }
        p += plen;
        while (*p == ' ') p++;
    }
}

static void capitalize_from(Buf *out, size_t at) {
    if (at < out->len) out->data[at] = (char)ascii_upper((unsigned char)out->data[at]);
}

// One constraint to render: the phrase chosen and its slot values.
typedef struct {
    int phrase;
    int ints[4];
    const char *word;
} Piece;

static void mark_used(unsigned char *used, int phrase) {
    if (used && phrase >= 0) used[phrase] = 1;
}

void world_render(const WorldTask *t, Rng *rng, Buf *out, unsigned char *used) {
    int at_start = 1;
    if (t->family != WORLD_WORD_LIST && t->family != WORLD_NUMBER_LIST && t->family != WORLD_CREATURES) {
        int ph = pick_phrase(rng, t->family, PK_FULL, t->family == WORLD_SORT_WORDS ? t->order : 0);
        mark_used(used, ph);
        int ints[4] = {t->x, t->y, 0, 0};
        size_t start = out->len;
        render_phrase(&phrases[ph], ints, t->word, t, rng, out, &at_start);
        capitalize_from(out, start);
        return;
    }
    int group = t->family;
    Piece pieces[12];
    int n = 0;
    int head_parity = 0;  // number lists: the parity goes into the head ("4 even numbers")
    if (t->parity != WORLD_PARITY_ANY && rng_int(rng, 5) < 2) head_parity = 1;
    // creatures: half the time a color or size goes into the head ("two red creatures")
    int head_trait = -1;
    if (group == WORLD_CREATURES && rng_int(rng, 2)) {
        int has_color = t->trait[WORLD_TRAIT_COLOR] >= 0, has_size = t->trait[WORLD_TRAIT_SIZE] >= 0;
        if (has_color && has_size) head_trait = rng_int(rng, 2) ? WORLD_TRAIT_COLOR : WORLD_TRAIT_SIZE;
        else if (has_color) head_trait = WORLD_TRAIT_COLOR;
        else if (has_size) head_trait = WORLD_TRAIT_SIZE;
    }
    for (int k = 0; k < WORLD_N_TRAITS; k++)
        if (t->trait[k] >= 0 && k != head_trait) pieces[n++] = (Piece){pick_phrase(rng, group, PK_COLOR + k, 0), {t->trait[k]}, NULL};
    if (t->first_letter) pieces[n++] = (Piece){pick_phrase(rng, group, PK_FIRST, 0), {t->first_letter}, NULL};
    if (t->last_letter) pieces[n++] = (Piece){pick_phrase(rng, group, PK_LAST, 0), {t->last_letter}, NULL};
    if (t->length_rule != WORLD_LENGTH_ANY) pieces[n++] = (Piece){pick_phrase(rng, group, PK_LENGTH, t->length_rule), {t->length}, NULL};
    if (t->above >= 0 && t->below >= 0 && rng_int(rng, 3) < 2) {
        pieces[n++] = (Piece){pick_phrase(rng, group, PK_BETWEEN, 0), {t->above, t->below}, NULL};
    } else {
        if (t->above >= 0) pieces[n++] = (Piece){pick_phrase(rng, group, PK_ABOVE, 0), {t->above}, NULL};
        if (t->below >= 0) pieces[n++] = (Piece){pick_phrase(rng, group, PK_BELOW, 0), {t->below}, NULL};
    }
    if (t->parity != WORLD_PARITY_ANY && !head_parity) pieces[n++] = (Piece){pick_phrase(rng, group, PK_PARITY, 0), {t->parity}, NULL};
    if (t->letter_case != WORLD_CASE_ANY) pieces[n++] = (Piece){pick_phrase(rng, group, PK_CASE, t->letter_case), {0}, NULL};
    if (t->order != WORLD_ORDER_ANY) pieces[n++] = (Piece){pick_phrase(rng, group, PK_ORDER, t->order), {0}, NULL};
    if (t->separator != WORLD_SEP_ANY) pieces[n++] = (Piece){pick_phrase(rng, group, PK_SEP, t->separator), {0}, NULL};
    if (t->closing[0]) pieces[n++] = (Piece){pick_phrase(rng, group, PK_CLOSING, 0), {0}, t->closing};
    // Shuffle so that the constraints come in every order.
    for (int i = n - 1; i > 0; i--) {
        int j = rng_int(rng, i + 1);
        Piece tmp = pieces[i];
        pieces[i] = pieces[j];
        pieces[j] = tmp;
    }
    // First sentence: opening, head, modifiers joined by "and", list-level phrases after commas.
    size_t start = out->len;
    int open = pick_phrase(rng, group, PK_OPEN, 0);
    int head = pick_phrase(rng, group, PK_HEAD, group == WORLD_CREATURES ? head_trait + 1 : head_parity);
    mark_used(used, open);
    mark_used(used, head);
    render_phrase(&phrases[open], NULL, NULL, t, rng, out, &at_start);
    // the head's slots: the count, then the category, the parity or the adjective's value
    int head_value = group == WORLD_WORD_LIST ? t->category
                   : group == WORLD_NUMBER_LIST ? t->parity
                   : head_trait >= 0 ? t->trait[head_trait] : 0;
    int head_ints[4] = {t->count, head_value, 0, 0};
    render_phrase(&phrases[head], head_ints, NULL, t, rng, out, &at_start);
    int n_modifiers = 0;
    for (int i = 0; i < n; i++) {
        const Phrase *ph = &phrases[pieces[i].phrase];
        if (ph->place != AT_MODIFIER) continue;
        if (n_modifiers++) append_piece(out, "and", 3, &at_start);
        mark_used(used, pieces[i].phrase);
        render_phrase(ph, pieces[i].ints, pieces[i].word, t, rng, out, &at_start);
    }
    for (int i = 0; i < n; i++) {
        const Phrase *ph = &phrases[pieces[i].phrase];
        if (ph->place != AT_LIST) continue;
        append_piece(out, ",", 1, &at_start);
        mark_used(used, pieces[i].phrase);
        render_phrase(ph, pieces[i].ints, pieces[i].word, t, rng, out, &at_start);
    }
    append_piece(out, ".", 1, &at_start);
    capitalize_from(out, start);
    // Then one sentence per sentence-level phrase.
    for (int i = 0; i < n; i++) {
        const Phrase *ph = &phrases[pieces[i].phrase];
        if (ph->place != AT_SENTENCE) continue;
        mark_used(used, pieces[i].phrase);
        buf_append_char(out, ' ');
        at_start = 1;
        size_t s = out->len;
        render_phrase(ph, pieces[i].ints, pieces[i].word, t, rng, out, &at_start);
        append_piece(out, ".", 1, &at_start);
        capitalize_from(out, s);
    }
}

// ----------------------------------------------------------------------------
// valid answers, sampling tasks, gold answers

static int length_ok(const WorldTask *t, int len) {
    switch (t->length_rule) {
    case WORLD_LENGTH_EXACTLY: return len == t->length;
    case WORLD_LENGTH_AT_MOST: return len <= t->length;
    case WORLD_LENGTH_AT_LEAST: return len >= t->length;
    }
    return 1;
}

// Does lexicon word i meet every per-item constraint of a word list?
static int word_valid(const WorldTask *t, int i) {
    const char *w = world_lexicon_word(i);
    int len = (int)strlen(w);
    if (t->category >= 0 && i / WORDS_PER_CATEGORY != t->category) return 0;
    if (t->first_letter && w[0] != t->first_letter) return 0;
    if (t->last_letter && w[len - 1] != t->last_letter) return 0;
    return length_ok(t, len);
}

// Does creature i have every trait value the task asks for?
static int creature_valid(const WorldTask *t, int i) {
    bestiary_init();
    for (int k = 0; k < WORLD_N_TRAITS; k++)
        if (t->trait[k] >= 0 && bestiary[i].trait[k] != t->trait[k]) return 0;
    return 1;
}

static int parity_ok(int parity, long v) {
    return parity == WORLD_PARITY_ANY || (parity == WORLD_PARITY_EVEN) == (v % 2 == 0);
}

static int number_valid(const WorldTask *t, long v) {
    if (t->above >= 0 && !(v > t->above)) return 0;
    if (t->below >= 0 && !(v < t->below)) return 0;
    return parity_ok(t->parity, v);
}

int world_count_valid(const WorldTask *t) {
    int n = 0;
    switch (t->family) {
    case WORLD_WORD_LIST:
        for (int i = 0; i < LEXICON_SIZE; i++) n += word_valid(t, i);
        return n;
    case WORLD_NUMBER_LIST:
        for (int v = 0; v < 100; v++) n += number_valid(t, v);
        return n;
    case WORLD_CREATURES:
        for (int i = 0; i < N_CREATURES; i++) n += creature_valid(t, i);
        return n;
    case WORLD_SORT_WORDS:
        for (int i = 0; i < t->n_words; i++)
            for (int j = 0; j < i; j++)
                if (strcmp(t->words[i], t->words[j]) == 0) return 0;
        return t->n_words >= 2;
    case WORLD_LARGER:
    case WORLD_SMALLER:
        return t->x != t->y;
    case WORLD_EVEN_ODD:
        return 1;
    }
    return t->word[0] != 0;
}

static int task_satisfiable(const WorldTask *t) {
    int valid = world_count_valid(t);
    if (t->family == WORLD_WORD_LIST || t->family == WORLD_NUMBER_LIST || t->family == WORLD_CREATURES)
        return t->count >= 1 && valid >= t->count;
    return valid > 0;
}

// Optional constraints of list tasks, beyond the count.
enum { OPT_CATEGORY, OPT_FIRST, OPT_LAST, OPT_LENGTH, OPT_CASE, OPT_ORDER, OPT_SEP, OPT_CLOSING, OPT_RANGE, OPT_PARITY };

static void sample_word_list(Rng *rng, int difficulty, WorldTask *t) {
    static const int word_options[] = {OPT_CATEGORY, OPT_CATEGORY, OPT_FIRST, OPT_FIRST, OPT_LAST, OPT_LENGTH,
                                       OPT_CASE, OPT_ORDER, OPT_SEP, OPT_CLOSING};
    for (;;) {
        world_task_init(t);
        t->family = WORLD_WORD_LIST;
        int lo = difficulty >= 4 ? 3 : 2, hi = difficulty <= 1 ? 3 : difficulty == 2 ? 4 : 5;
        t->count = lo + rng_int(rng, hi - lo + 1);
        int k_lo = difficulty <= 2 ? 1 : difficulty == 3 ? 2 : difficulty == 4 ? 2 : 3;
        int k_hi = difficulty <= 1 ? 1 : difficulty == 2 ? 2 : difficulty == 3 ? 3 : 4;
        int k = k_lo + rng_int(rng, k_hi - k_lo + 1);
        int order[10];
        for (int i = 0; i < 10; i++) order[i] = i;
        rng_shuffle_ints(rng, order, 10);
        int chosen[OPT_PARITY + 1] = {0};
        for (int i = 0, taken = 0; i < 10 && taken < k; i++) {
            int opt = word_options[order[i]];
            if (!chosen[opt]) { chosen[opt] = 1; taken++; }
        }
        // The letters and the length come from a random word of the category, so that at
        // least that word is valid; the task is kept only when enough words are.
        if (chosen[OPT_CATEGORY]) t->category = rng_int(rng, N_CATEGORIES);
        int anchor = t->category >= 0 ? t->category * WORDS_PER_CATEGORY + rng_int(rng, WORDS_PER_CATEGORY)
                                      : rng_int(rng, LEXICON_SIZE);
        const char *a = world_lexicon_word(anchor);
        int len = (int)strlen(a);
        if (chosen[OPT_FIRST]) t->first_letter = a[0];
        if (chosen[OPT_LAST]) t->last_letter = a[len - 1];
        if (chosen[OPT_LENGTH]) {
            t->length_rule = 1 + rng_int(rng, 3);
            int slack = rng_int(rng, 3);
            t->length = t->length_rule == WORLD_LENGTH_EXACTLY ? len
                      : t->length_rule == WORLD_LENGTH_AT_MOST ? (len + slack > 8 ? 8 : len + slack)
                                                               : (len - slack < 3 ? 3 : len - slack);
        }
        if (chosen[OPT_CASE]) t->letter_case = 1 + rng_int(rng, 3);
        if (chosen[OPT_ORDER]) t->order = rng_int(rng, 10) < 7 ? WORLD_ORDER_UP : WORLD_ORDER_DOWN;
        if (chosen[OPT_SEP]) t->separator = 1 + rng_int(rng, 4);
        if (chosen[OPT_CLOSING]) snprintf(t->closing, sizeof t->closing, "%s", closing_words[rng_int(rng, N_CLOSING_WORDS)]);
        // More valid words than asked for at the easy levels, so that answers vary.
        int spare = difficulty <= 2 ? 2 : difficulty == 3 ? 1 : 0;
        if (world_count_valid(t) >= t->count + spare) return;
    }
}

static void sample_number_list(Rng *rng, int difficulty, WorldTask *t) {
    static const int number_options[] = {OPT_RANGE, OPT_RANGE, OPT_PARITY, OPT_PARITY, OPT_ORDER, OPT_SEP, OPT_CLOSING};
    for (;;) {
        world_task_init(t);
        t->family = WORLD_NUMBER_LIST;
        int lo = difficulty >= 4 ? 3 : 2, hi = difficulty <= 1 ? 3 : difficulty == 2 ? 4 : 5;
        t->count = lo + rng_int(rng, hi - lo + 1);
        int k_lo = difficulty <= 2 ? 1 : 2, k_hi = difficulty <= 1 ? 1 : difficulty == 2 ? 2 : difficulty == 3 ? 3 : 4;
        int k = k_lo + rng_int(rng, k_hi - k_lo + 1);
        int order[7];
        for (int i = 0; i < 7; i++) order[i] = i;
        rng_shuffle_ints(rng, order, 7);
        int chosen[OPT_PARITY + 1] = {0};
        for (int i = 0, taken = 0; i < 7 && taken < k; i++) {
            int opt = number_options[order[i]];
            if (!chosen[opt]) { chosen[opt] = 1; taken++; }
        }
        if (chosen[OPT_RANGE]) {
            int kind = rng_int(rng, 4);  // 0 above, 1 below, 2-3 between
            // Tighter ranges at higher difficulty.
            int min_width = difficulty <= 2 ? 25 : difficulty == 3 ? 12 : 8;
            int max_width = difficulty <= 2 ? 60 : difficulty == 3 ? 45 : 30;
            if (kind == 0) t->above = rng_int(rng, 90);
            else if (kind == 1) t->below = 10 + rng_int(rng, 91);
            else {
                int width = min_width + rng_int(rng, max_width - min_width + 1);
                t->above = rng_int(rng, 100 - width);
                t->below = t->above + width;
            }
        }
        if (chosen[OPT_PARITY]) t->parity = 1 + rng_int(rng, 2);
        if (chosen[OPT_ORDER]) t->order = rng_int(rng, 10) < 6 ? WORLD_ORDER_UP : WORLD_ORDER_DOWN;
        if (chosen[OPT_SEP]) t->separator = 1 + rng_int(rng, 4);
        if (chosen[OPT_CLOSING]) snprintf(t->closing, sizeof t->closing, "%s", closing_words[rng_int(rng, N_CLOSING_WORDS)]);
        int spare = difficulty <= 2 ? 4 : difficulty == 3 ? 2 : 1;
        if (world_count_valid(t) >= t->count + spare) return;
    }
}

// A creature task is its two traits' values: which pair of traits and which values. The IFT
// seed asks only about a third of these combinations (a fixed hash of the four numbers picks
// them), so that the rest of the request space is left to the loop.
int world_seed_combination(const WorldTask *t) {
    uint64_t h = HASH_START;
    for (int k = 0; k < WORLD_N_TRAITS; k++) h = hash_extend(h, (unsigned char)(t->trait[k] + 1));
    return h % 3 == 0;
}

// Which tasks a sampler may draw: any, the IFT seed's (creatures only from the seed's trait
// combinations), or only the form families (the corpus's checked answers, which must never
// list creatures that share a trait).
enum { DRAW_ANY, DRAW_SEED, DRAW_FORM };

// Two traits, their values from a random creature (so that one at least is valid), kept when
// enough creatures have both: a count of 2 or 3 (2 at the easy levels) and one spare.
static void sample_creatures(Rng *rng, int difficulty, int draw, WorldTask *t) {
    bestiary_init();
    for (;;) {
        world_task_init(t);
        t->family = WORLD_CREATURES;
        t->count = difficulty <= 2 ? 2 : 2 + rng_int(rng, 2);
        int a = rng_int(rng, WORLD_N_TRAITS), b;
        do b = rng_int(rng, WORLD_N_TRAITS); while (b == a);
        const Creature *anchor = &bestiary[rng_int(rng, N_CREATURES)];
        t->trait[a] = anchor->trait[a];
        t->trait[b] = anchor->trait[b];
        if (draw == DRAW_SEED && !world_seed_combination(t)) continue;
        if (world_count_valid(t) >= t->count + 1) return;
    }
}

// The form families: word lists 45 %, number lists 37 %, single answers 18 %.
static void sample_form_task(Rng *rng, int difficulty, WorldTask *t) {
    int r = rng_int(rng, 100);
    if (r < 45) { sample_word_list(rng, difficulty, t); return; }
    if (r < 82) { sample_number_list(rng, difficulty, t); return; }
    world_task_init(t);
    t->family = WORLD_CAPITALS + rng_int(rng, WORLD_EVEN_ODD - WORLD_CAPITALS + 1);
    switch (t->family) {
    case WORLD_LARGER:
    case WORLD_SMALLER:
        t->x = rng_int(rng, 100);
        do t->y = rng_int(rng, 100); while (t->y == t->x);
        break;
    case WORLD_EVEN_ODD:
        t->x = rng_int(rng, 100);
        break;
    case WORLD_SORT_WORDS: {
        t->order = rng_int(rng, 4) < 3 ? WORLD_ORDER_UP : WORLD_ORDER_DOWN;
        t->n_words = (difficulty >= 4 ? 4 : 3) + rng_int(rng, 2);
        int picked[WORLD_SORT_MAX];
        for (int i = 0; i < t->n_words; i++) {
            int again;
            do {
                picked[i] = rng_int(rng, LEXICON_SIZE);
                again = 0;
                for (int j = 0; j < i; j++) again |= picked[j] == picked[i];
            } while (again);
            snprintf(t->words[i], WORLD_WORD_MAX, "%s", world_lexicon_word(picked[i]));
        }
        break;
    }
    default:
        snprintf(t->word, sizeof t->word, "%s", world_lexicon_word(rng_int(rng, LEXICON_SIZE)));
    }
}

// Seven tasks in ten are creatures (the fact family), three the form families.
static void sample_task(Rng *rng, int difficulty, int draw, WorldTask *t) {
    if (difficulty < 1) difficulty = 1;
    if (difficulty > 5) difficulty = 5;
    if (draw != DRAW_FORM && rng_int(rng, 10) < 7) sample_creatures(rng, difficulty, draw, t);
    else sample_form_task(rng, difficulty, t);
}

void world_sample_task(Rng *rng, int difficulty, WorldTask *t) { sample_task(rng, difficulty, DRAW_ANY, t); }

static int compare_strings_up(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }
static int compare_strings_down(const void *a, const void *b) { return -compare_strings_up(a, b); }
static int compare_ints_up(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }
static int compare_ints_down(const void *a, const void *b) { return -compare_ints_up(a, b); }

// Chooses n of the valid items at random (partial Fisher-Yates over the valid ones).
static int choose_valid(const WorldTask *t, Rng *rng, int *out, int max) {
    int pool[LEXICON_SIZE + N_CREATURES], n = 0;  // room for either
    if (t->family == WORLD_WORD_LIST) {
        for (int i = 0; i < LEXICON_SIZE; i++) if (word_valid(t, i)) pool[n++] = i;
    } else if (t->family == WORLD_CREATURES) {
        for (int i = 0; i < N_CREATURES; i++) if (creature_valid(t, i)) pool[n++] = i;
    } else {
        for (int v = 0; v < 100; v++) if (number_valid(t, v)) pool[n++] = v;
    }
    int k = t->count < n ? t->count : n;
    if (k > max) k = max;
    for (int i = 0; i < k; i++) {
        int j = i + rng_int(rng, n - i);
        int tmp = pool[i]; pool[i] = pool[j]; pool[j] = tmp;
        out[i] = pool[i];
    }
    return k;
}


// ----------------------------------------------------------------------------
// grading and the judgment: one pass that computes the checks and, when asked, writes them

// Separators as detected in an answer: the WORLD_SEP_* kinds, then these.
enum { FOUND_SPACES = 5, FOUND_MIXED, FOUND_NONE };
static const char *const found_separator_names[] = {"any", "commas", "semicolons", "new lines", "bars", "spaces", "mixed", "none"};

enum { MAX_ITEMS = 64 };

// The items of a list answer and what surrounds them.
typedef struct {
    int n_items;              // items found (the count check uses this)
    int items[MAX_ITEMS];     // their token indexes
    int separator;            // WORLD_SEP_* or FOUND_*
    int text_before, text_after;
    int last_word;            // token index of the last word of the answer, -1 if none
    int closing_ok;
    int repeat;               // an item appears twice
    int leading_zero;         // a number written with a leading zero
} ListView;

// The token type of an item, and whether a token is of the right kind for the task.
static int item_type(const WorldTask *t) { return t->family == WORLD_NUMBER_LIST ? TOK_NUMBER : TOK_WORD; }

static int given_word_index(const WorldTask *t, const Token *k) {
    for (int i = 0; i < t->n_words; i++)
        if (k->type == TOK_WORD && span_equals_word(k->s, k->len, t->words[i])) return i;
    return -1;
}

static int is_right_kind(const WorldTask *t, const Token *k) {
    if (t->family == WORLD_NUMBER_LIST) return k->type == TOK_NUMBER;
    if (t->family == WORLD_SORT_WORDS) return given_word_index(t, k) >= 0;
    if (t->family == WORLD_CREATURES) return k->type == TOK_WORD && creature_index(k->s, k->len) >= 0;
    return k->type == TOK_WORD && lexicon_index(k->s, k->len) >= 0;
}

// The separator a delimiter between two pieces stands for: one , ; or | (new lines around it
// allowed), or new lines alone. Anything else (a period, a colon, two commas) breaks a list.
enum { DELIM_BREAK = -1 };
static int delimiter_kind(const Token *tok, int from, int to) {
    int sep = 0, n_sep = 0, newlines = 0;
    for (int i = from; i < to; i++) {
        const Token *k = &tok[i];
        if (k->type == TOK_NEWLINE) { newlines++; continue; }
        if (token_is_punct(k, ',')) { sep = WORLD_SEP_COMMA; n_sep++; continue; }
        if (token_is_punct(k, ';')) { sep = WORLD_SEP_SEMICOLON; n_sep++; continue; }
        if (token_is_punct(k, '|')) { sep = WORLD_SEP_BAR; n_sep++; continue; }
        return DELIM_BREAK;
    }
    if (n_sep == 1) return sep;
    if (n_sep == 0 && newlines) return WORLD_SEP_NEWLINE;
    return DELIM_BREAK;
}

static int items_equal(const WorldTask *t, const Token *a, const Token *b) {
    if (t->family == WORLD_NUMBER_LIST) return a->number == b->number;
    if (a->len != b->len) return 0;
    for (int i = 0; i < a->len; i++)
        if (ascii_lower((unsigned char)a->s[i]) != ascii_lower((unsigned char)b->s[i])) return 0;
    return 1;
}

// A piece of an answer: a run of words and numbers, and how it is joined to the piece before.
enum { JOIN_AND = 10 };  // "bear, bee and bird": joined by "and"
typedef struct {
    int start, end;  // tokens [start, end)
    int join;        // WORLD_SEP_COMMA .. WORLD_SEP_BAR, JOIN_AND, or DELIM_BREAK
} Segment;

// Cuts tokens [0, end) into segments, then splits off the items that prose glues to words:
// "tomato and tram" -> tomato | tram, "The answer is bear, ..." -> The answer is | bear, ...,
// "..., bird are animals" -> ..., bird | are animals. Returns the count; *out is malloc'd.
static int segment_answer(const WorldTask *t, const Token *tok, int end, Segment **out) {
    Segment *s = xmalloc(sizeof(Segment) * (size_t)(2 * end + 2));
    int n = 0, prev_end = -1;
    for (int i = 0; i < end;) {
        if (tok[i].type != TOK_WORD && tok[i].type != TOK_NUMBER) { i++; continue; }
        int start = i;
        while (i < end && (tok[i].type == TOK_WORD || tok[i].type == TOK_NUMBER)) i++;
        int join = prev_end < 0 ? DELIM_BREAK : delimiter_kind(tok, prev_end, start);
        // Split at "and" between two items, and drop the "and" of ", and bird".
        int piece = start;
        for (int k = start; k < i; k++) {
            if (!token_is(&tok[k], "and") || k + 1 >= i || tok[k + 1].type != item_type(t)) continue;
            if (k == piece && n > 0 && join != DELIM_BREAK) { piece = k + 1; join = JOIN_AND; continue; }
            if (k > piece && tok[k - 1].type == item_type(t)) {
                s[n++] = (Segment){piece, k, join};
                piece = k + 1;
                join = JOIN_AND;
            }
        }
        s[n++] = (Segment){piece, i, join};
        prev_end = i;
    }
    // Split chatter off an item at either end of a list.
    Segment *r = xmalloc(sizeof(Segment) * (size_t)(2 * n + 2));
    int m = 0;
    for (int i = 0; i < n; i++) {
        Segment g = s[i];
        int len = g.end - g.start;
        int next_single = i + 1 < n && s[i + 1].join != DELIM_BREAK && s[i + 1].end - s[i + 1].start == 1 && tok[s[i + 1].start].type == item_type(t);
        int prev_single = m > 0 && g.join != DELIM_BREAK && r[m - 1].end - r[m - 1].start == 1 && tok[r[m - 1].start].type == item_type(t);
        if (len >= 2 && prev_single && is_right_kind(t, &tok[g.start])) {
            r[m++] = (Segment){g.start, g.start + 1, g.join};
            g = (Segment){g.start + 1, g.end, DELIM_BREAK};
            len--;
        }
        if (len >= 2 && next_single && is_right_kind(t, &tok[g.end - 1])) {
            r[m++] = (Segment){g.start, g.end - 1, g.join};
            g = (Segment){g.end - 1, g.end, DELIM_BREAK};
        }
        r[m++] = g;
    }
    free(s);
    *out = r;
    return m;
}

static void find_list(const WorldTask *t, const Token *tok, int ntok, ListView *v) {
    memset(v, 0, sizeof *v);
    v->separator = FOUND_NONE;
    v->last_word = -1;
    for (int i = 0; i < ntok; i++)
        if (tok[i].type == TOK_WORD) v->last_word = i;
    // The closing word, and what may follow the list: a period, new lines.
    int end = ntok;
    if (t->closing[0] && v->last_word >= 0 && token_is(&tok[v->last_word], t->closing)) {
        v->closing_ok = 1;
        for (int i = v->last_word + 1; i < ntok; i++)
            if (tok[i].type != TOK_NEWLINE && !token_is_punct(&tok[i], '.')) v->text_after = 1;
        end = v->last_word;
        while (end > 0 && tok[end - 1].type == TOK_NEWLINE) end--;
        if (end > 0 && (token_is_punct(&tok[end - 1], ',') || token_is_punct(&tok[end - 1], ';') ||
                        token_is_punct(&tok[end - 1], '|') || token_is_punct(&tok[end - 1], '.'))) end--;
    } else {
        while (end > 0 && tok[end - 1].type == TOK_NEWLINE) end--;
        if (end > 0 && token_is_punct(&tok[end - 1], '.')) end--;
    }
    while (end > 0 && tok[end - 1].type == TOK_NEWLINE) end--;

    // The list: the longest run of one-item segments joined by separators, or one segment
    // made only of items ("bear bee bird"). Ties go to the earlier.
    Segment *seg;
    int nseg = segment_answer(t, tok, end, &seg);
    int best_first = -1, best_n = 0, best_sep = FOUND_NONE, space_run = 0;
    int run_first = -1, run_n = 0, run_sep = FOUND_NONE;
    for (int i = 0; i < nseg; i++) {
        int len = seg[i].end - seg[i].start;
        if (len == 1 && tok[seg[i].start].type == item_type(t)) {
            if (run_n && seg[i].join != DELIM_BREAK) {
                int kind = seg[i].join == JOIN_AND ? FOUND_MIXED : seg[i].join;
                run_sep = run_n == 1 ? kind : run_sep == kind ? kind : FOUND_MIXED;
                run_n++;
            } else {
                run_first = i;
                run_n = 1;
                run_sep = FOUND_NONE;
            }
            if (run_n > best_n) { best_first = run_first; best_n = run_n; best_sep = run_sep; space_run = 0; }
        } else {
            run_n = 0;
            int all_items = len >= 2;
            for (int j = seg[i].start; j < seg[i].end && all_items; j++) all_items = is_right_kind(t, &tok[j]);
            if (all_items && len > best_n) { best_first = i; best_n = len; best_sep = FOUND_SPACES; space_run = 1; }
        }
    }
    int first = -1, last = -1;  // token span of the list
    if (best_n > 0) {
        for (int k = 0; k < best_n; k++) {
            int i = space_run ? seg[best_first].start + k : seg[best_first + k].start;
            if (v->n_items < MAX_ITEMS) v->items[v->n_items] = i;
            v->n_items++;
        }
        first = v->items[0];
        last = space_run ? seg[best_first].end - 1 : seg[best_first + best_n - 1].start;
        v->separator = best_n >= 2 ? best_sep : FOUND_NONE;
    }
    free(seg);
    int n_right_outside = 0;
    for (int i = 0; i < end; i++)
        if ((i < first || i > last) && is_right_kind(t, &tok[i])) n_right_outside++;
    if (best_n < 2 && n_right_outside > 0) {
        // No list to speak of: the answer is prose. Its items are the right-kind tokens.
        v->n_items = 0;
        first = last = -1;
        for (int i = 0; i < end; i++) {
            if (!is_right_kind(t, &tok[i])) continue;
            if (v->n_items < MAX_ITEMS) v->items[v->n_items] = i;
            v->n_items++;
            if (first < 0) first = i;
            last = i;
        }
        v->separator = FOUND_NONE;
    }
    // Extra text: anything in the answer outside the items and their separators.
    for (int i = 0; i < end; i++) {
        if (tok[i].type == TOK_NEWLINE) continue;
        if (first < 0 || i < first) v->text_before = 1;
        else if (i > last) v->text_after = 1;
        else if (best_n < 2 && !is_right_kind(t, &tok[i])) v->text_after = 1;  // prose between items
    }
    int n = v->n_items < MAX_ITEMS ? v->n_items : MAX_ITEMS;
    for (int i = 0; i < n; i++) {
        const Token *k = &tok[v->items[i]];
        if (k->type == TOK_NUMBER && k->len > 1 && k->s[0] == '0') v->leading_zero = 1;
        for (int j = 0; j < i; j++)
            if (items_equal(t, k, &tok[v->items[j]])) v->repeat = 1;
    }
}

// The tally of checks, and the judgment being written (NULL when only grading).
typedef struct {
    int n_checks, n_met;
    Buf *out;
} Tally;

// Ends a check line with its verdict and counts it.
static void verdict(Tally *ty, int ok) {
    ty->n_checks++;
    ty->n_met += ok ? 1 : 0;
    if (ty->out) buf_printf(ty->out, ": %s.\n", ok ? "yes" : "no");
}

static void say(Tally *ty, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(Tally *ty, const char *fmt, ...) {
    if (!ty->out) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    buf_append_str(ty->out, line);
}

static void say_token(Tally *ty, const Token *k) {
    if (ty->out) buf_append(ty->out, k->s, (size_t)(k->len < 40 ? k->len : 40));
}

// The case of a word as written: "capitals", "capitalized", "lowercase" or "mixed".
static const char *case_of(const char *s, int len) {
    int upper = 0, lower = 0, first_upper = len > 0 && ascii_is_upper((unsigned char)s[0]);
    for (int i = 0; i < len; i++) {
        if (ascii_is_upper((unsigned char)s[i])) upper++;
        else if (ascii_is_lower((unsigned char)s[i])) lower++;
    }
    if (lower == 0 && upper > 0) return "capitals";
    if (upper == 0) return "lowercase";
    if (first_upper && upper == 1) return "capitalized";
    return "mixed";
}

static int case_matches(const char *found, int letter_case) {
    return strcmp(found, case_names[letter_case]) == 0;
}

// "Asked: ..." in a canonical short form, the same words the check lines use.
static void say_asked(Tally *ty, const WorldTask *t) {
    say(ty, "Asked: ");
    switch (t->family) {
    case WORLD_WORD_LIST:
    case WORLD_NUMBER_LIST:
        say(ty, "%d %s", t->count, t->family == WORLD_NUMBER_LIST ? "numbers" : t->category >= 0 ? category_plurals[t->category] : "words");
        if (t->first_letter) say(ty, ", start with %c", t->first_letter);
        if (t->last_letter) say(ty, ", end with %c", t->last_letter);
        if (t->length_rule == WORLD_LENGTH_EXACTLY) say(ty, ", exactly %d letters", t->length);
        if (t->length_rule == WORLD_LENGTH_AT_MOST) say(ty, ", at most %d letters", t->length);
        if (t->length_rule == WORLD_LENGTH_AT_LEAST) say(ty, ", at least %d letters", t->length);
        if (t->above >= 0 && t->below >= 0) say(ty, ", between %d and %d", t->above, t->below);
        else if (t->above >= 0) say(ty, ", above %d", t->above);
        else if (t->below >= 0) say(ty, ", below %d", t->below);
        if (t->parity) say(ty, ", %s", parity_names[t->parity]);
        if (t->letter_case) say(ty, ", %s", case_names[t->letter_case]);
        if (t->order) {
            if (t->family == WORLD_WORD_LIST) say(ty, ", %s", t->order == WORLD_ORDER_UP ? "alphabetical" : "reverse alphabetical");
            else say(ty, ", %s", t->order == WORLD_ORDER_UP ? "increasing" : "decreasing");
        }
        if (t->separator) say(ty, ", %s", separator_names[t->separator]);
        if (t->closing[0]) say(ty, ", last word %s", t->closing);
        break;
    case WORLD_CREATURES:
        say(ty, "%d creatures", t->count);
        for (int k = 0; k < WORLD_N_TRAITS; k++)
            if (t->trait[k] >= 0) say(ty, ", %s %s", trait_names[k], trait_values[k][t->trait[k]]);
        if (t->separator) say(ty, ", %s", separator_names[t->separator]);
        if (t->closing[0]) say(ty, ", last word %s", t->closing);
        break;
    case WORLD_SORT_WORDS:
        for (int i = 0; i < t->n_words; i++) say(ty, "%s%s", i ? ", " : "", t->words[i]);
        say(ty, " in %s order", t->order == WORLD_ORDER_DOWN ? "reverse alphabetical" : "alphabetical");
        break;
    case WORLD_CAPITALS: say(ty, "%s in capitals", t->word); break;
    case WORLD_FIRST_LETTER: say(ty, "first letter of %s", t->word); break;
    case WORLD_LAST_LETTER: say(ty, "last letter of %s", t->word); break;
    case WORLD_LETTER_COUNT: say(ty, "number of letters in %s", t->word); break;
    case WORLD_LARGER: say(ty, "larger of %d and %d", t->x, t->y); break;
    case WORLD_SMALLER: say(ty, "smaller of %d and %d", t->x, t->y); break;
    case WORLD_EVEN_ODD: say(ty, "%d even or odd", t->x); break;
    }
    say(ty, ".\n");
}

// Order of two items: negative, zero or positive as a comes before, with or after b.
static int compare_items(const WorldTask *t, const Token *a, const Token *b) {
    if (t->family == WORLD_NUMBER_LIST) return (a->number > b->number) - (a->number < b->number);
    for (int i = 0;; i++) {
        int ca = i < a->len ? ascii_lower((unsigned char)a->s[i]) : 0;
        int cb = i < b->len ? ascii_lower((unsigned char)b->s[i]) : 0;
        if (ca != cb || ca == 0) return ca - cb;
    }
}

static void say_extra(Tally *ty, int text_before, int text_after, int repeat, int leading_zero) {
    if (!ty->out) return;
    if (!text_before && !text_after && !repeat && !leading_zero) { say(ty, "Extra: none.\n"); return; }
    const char *parts[4];
    int n = 0;
    if (text_before) parts[n++] = "text before";
    if (text_after) parts[n++] = "text after";
    if (repeat) parts[n++] = "repeat";
    if (leading_zero) parts[n++] = "leading zero";
    say(ty, "Extra: ");
    for (int i = 0; i < n; i++) say(ty, "%s%s", i ? ", " : "", parts[i]);
    say(ty, ".\n");
}

// The additive rubric of list tasks (see the top of this file).
static int list_score(int relevant, int n_checks, int n_met, int extra) {
    if (!relevant) return 0;
    int score = 1;
    if (2 * n_met >= n_checks) score++;
    if (n_met >= n_checks - 1) score++;
    if (n_met == n_checks) score++;
    if (n_met == n_checks && !extra) score++;
    return score;
}

// The last checks of every list (the separator and the closing word, when asked), what is
// extra, and the score. repeat_is_extra: whether an item named twice counts as extra (creatures
// check repeats in their own lines instead); g->repeat records it either way, for the report.
static int list_end(const WorldTask *t, const ListView *v, const Token *tok, int repeat_is_extra, WorldGrade *g,
                    Tally *ty) {
    if (t->separator != WORLD_SEP_ANY) {
        say(ty, "Separator %s, need %s", found_separator_names[v->separator], separator_names[t->separator]);
        verdict(ty, v->separator == t->separator);
    }
    if (t->closing[0]) {
        say(ty, "Last word ");
        if (v->last_word >= 0) say_token(ty, &tok[v->last_word]);
        else say(ty, "none");
        say(ty, ", need %s", t->closing);
        verdict(ty, v->closing_ok);
    }
    int extra_repeat = repeat_is_extra && v->repeat;
    say_extra(ty, v->text_before, v->text_after, extra_repeat, v->leading_zero);
    g->extra = v->text_before || v->text_after || extra_repeat || v->leading_zero;
    g->repeat = v->repeat;
    return list_score(1, ty->n_checks, ty->n_met, g->extra);
}

// The first lines of every list's judgment: the request restated and the answer's items copied
// ("Items: a | b | c."). Returns how many items are checked (0: none found, "Items: none.");
// *relevant: whether any of them is of the kind asked for.
static int list_start(const WorldTask *t, const Token *tok, int ntok, ListView *v, int *relevant, Tally *ty) {
    find_list(t, tok, ntok, v);
    int n = v->n_items < MAX_ITEMS ? v->n_items : MAX_ITEMS;
    say_asked(ty, t);
    if (n == 0) {
        say(ty, "Items: none.\n");
        return 0;
    }
    say(ty, "Items: ");
    for (int i = 0; i < n; i++) {
        if (i) say(ty, " | ");
        say_token(ty, &tok[v->items[i]]);
    }
    say(ty, ".\n");
    *relevant = 0;
    for (int i = 0; i < n; i++) *relevant |= is_right_kind(t, &tok[v->items[i]]);
    return n;
}

// Creatures: after the count, one line per pair of items saying whether they differ ("Differ
// zorak, pimi: yes."), then one check line per item and trait asked, the item's recalled value
// beside the value asked for ("Home of zorak: sea, need river: no."): a lookup the model
// learned by heart and a comparison of two words. An item that is no creature has the value
// "none" and fails every check. A repeat fails its pair's line, so that naming the one creature
// the model knows twice costs as much as a wrong creature (were it only "extra", the loop
// would learn to repeat: it did, docs/experiments.md, 2026-12-07). The pair lines put the two
// names side by side, where seeing a repeat is comparing neighbours; finding "of zorak:"
// earlier in the judgment, the previous rule, was a search the judge missed six times in seven.
static int grade_creatures(const WorldTask *t, const Token *tok, int ntok, WorldGrade *g, Tally *ty) {
    ListView v;
    int relevant, n = list_start(t, tok, ntok, &v, &relevant, ty);
    if (n == 0) return 0;
    if (!relevant) {
        say(ty, "Nothing of the right kind.\n");
        return 0;
    }
    say(ty, "Count %d, need %d", v.n_items, t->count);
    verdict(ty, v.n_items == t->count);
    // pairs among as many items as were asked for (at most four): an answer with more has
    // failed its count already, and the judgment stays short enough for the judge's budget
    int paired = n < t->count ? n : t->count;
    if (paired > 4) paired = 4;
    for (int i = 0; i < paired; i++)
        for (int j = i + 1; j < paired; j++) {
            say(ty, "Differ ");
            say_token(ty, &tok[v.items[i]]);
            say(ty, ", ");
            say_token(ty, &tok[v.items[j]]);
            verdict(ty, !items_equal(t, &tok[v.items[i]], &tok[v.items[j]]));
        }
    for (int i = 0; i < n; i++) {
        const Token *k = &tok[v.items[i]];
        int c = creature_index(k->s, k->len);
        for (int trait = 0; trait < WORLD_N_TRAITS; trait++) {
            if (t->trait[trait] < 0) continue;
            const char *value = c >= 0 ? trait_values[trait][bestiary[c].trait[trait]] : "none";
            say(ty, "%c%s of ", ascii_upper(trait_names[trait][0]), trait_names[trait] + 1);
            say_token(ty, k);
            say(ty, ": %s, need %s", value, trait_values[trait][t->trait[trait]]);
            verdict(ty, c >= 0 && bestiary[c].trait[trait] == t->trait[trait]);
        }
    }
    // the repeat was checked above: not "extra" as well, but still counted for the report
    return list_end(t, &v, tok, 0, g, ty);
}

static int grade_list(const WorldTask *t, const Token *tok, int ntok, WorldGrade *g, Tally *ty) {
    ListView v;
    int relevant, n = list_start(t, tok, ntok, &v, &relevant, ty);
    if (n == 0) return 0;
    if (!relevant) {
        if (t->family == WORLD_WORD_LIST) {
            say(ty, "Kinds");
            for (int i = 0; i < n; i++) say(ty, " none");
            say(ty, ".\n");
        } else if (t->family == WORLD_SORT_WORDS) {
            say(ty, "Given?");
            for (int i = 0; i < n; i++) say(ty, " no");
            say(ty, ".\n");
        }
        say(ty, "Nothing of the right kind.\n");
        return 0;
    }
    int need_count = t->family == WORLD_SORT_WORDS ? t->n_words : t->count;
    say(ty, "Count %d, need %d", v.n_items, need_count);
    verdict(ty, v.n_items == need_count);
    if (t->family == WORLD_WORD_LIST) {
        int ok = 1;
        say(ty, "Kinds");
        for (int i = 0; i < n; i++) {
            int li = lexicon_index(tok[v.items[i]].s, tok[v.items[i]].len);
            int c = li < 0 ? -1 : li / WORDS_PER_CATEGORY;
            say(ty, " %s", world_category_name(c));
            if (c < 0 || (t->category >= 0 && c != t->category)) ok = 0;
        }
        say(ty, ", need %s", t->category >= 0 ? category_names[t->category] : "any");
        verdict(ty, ok);
    }
    if (t->family == WORLD_SORT_WORDS) {
        int ok = 1;
        say(ty, "Given?");
        for (int i = 0; i < n; i++) {
            int given = given_word_index(t, &tok[v.items[i]]) >= 0;
            say(ty, " %s", given ? "yes" : "no");
            ok &= given;
        }
        verdict(ty, ok);
    }
    if (t->first_letter) {
        int ok = 1;
        say(ty, "First letters");
        for (int i = 0; i < n; i++) {
            int c = ascii_lower((unsigned char)tok[v.items[i]].s[0]);
            say(ty, " %c", c);
            ok &= c == t->first_letter;
        }
        say(ty, ", need %c", t->first_letter);
        verdict(ty, ok);
    }
    if (t->last_letter) {
        int ok = 1;
        say(ty, "Last letters");
        for (int i = 0; i < n; i++) {
            const Token *k = &tok[v.items[i]];
            int c = ascii_lower((unsigned char)k->s[k->len - 1]);
            say(ty, " %c", c);
            ok &= c == t->last_letter;
        }
        say(ty, ", need %c", t->last_letter);
        verdict(ty, ok);
    }
    if (t->length_rule != WORLD_LENGTH_ANY) {
        int ok = 1;
        say(ty, "Lengths");
        for (int i = 0; i < n; i++) {
            say(ty, " %d", tok[v.items[i]].len);
            ok &= length_ok(t, tok[v.items[i]].len);
        }
        say(ty, ", need %s %d", t->length_rule == WORLD_LENGTH_EXACTLY ? "exactly" : t->length_rule == WORLD_LENGTH_AT_MOST ? "at most" : "at least", t->length);
        verdict(ty, ok);
    }
    if (t->letter_case != WORLD_CASE_ANY) {
        int ok = 1;
        say(ty, "Cases");
        for (int i = 0; i < n; i++) {
            const char *c = case_of(tok[v.items[i]].s, tok[v.items[i]].len);
            say(ty, " %s", c);
            ok &= case_matches(c, t->letter_case);
        }
        say(ty, ", need %s", case_names[t->letter_case]);
        verdict(ty, ok);
    }
    if (t->above >= 0 || t->below >= 0) {
        int ok = 1;
        if (t->above >= 0 && t->below >= 0) say(ty, "Between %d and %d?", t->above, t->below);
        else if (t->above >= 0) say(ty, "Above %d?", t->above);
        else say(ty, "Below %d?", t->below);
        for (int i = 0; i < n; i++) {
            long x = tok[v.items[i]].number;
            int in = (t->above < 0 || x > t->above) && (t->below < 0 || x < t->below);
            say(ty, " %s", in ? "yes" : "no");
            ok &= in;
        }
        verdict(ty, ok);
    }
    if (t->parity != WORLD_PARITY_ANY) {
        int ok = 1;
        say(ty, "Parity");
        for (int i = 0; i < n; i++) {
            long x = tok[v.items[i]].number;
            say(ty, " %s", x % 2 == 0 ? "even" : "odd");
            ok &= parity_ok(t->parity, x);
        }
        say(ty, ", need %s", parity_names[t->parity]);
        verdict(ty, ok);
    }
    if (t->order != WORLD_ORDER_ANY) {
        int ok = 1;
        say(ty, "Order:");
        if (n < 2) say(ty, " one item");
        for (int i = 0; i + 1 < n; i++) {
            const Token *a = &tok[v.items[i]], *b = &tok[v.items[i + 1]];
            int c = compare_items(t, a, b);
            int in_order = t->order == WORLD_ORDER_UP ? c < 0 : c > 0;
            say(ty, "%s ", i ? ";" : "");
            say_token(ty, a);
            say(ty, " %c ", t->order == WORLD_ORDER_UP ? '<' : '>');
            say_token(ty, b);
            say(ty, "? %s", in_order ? "yes" : "no");
            ok &= in_order;
        }
        verdict(ty, ok);
    }
    return list_end(t, &v, tok, 1, g, ty);
}

// A candidate answer of a single-answer task, normalized: a letter, a number or a word.
typedef struct {
    int tok;         // token index
    long value;      // letters: the letter lowercased; numbers: the value; even/odd: the parity
    const char *form;  // "capitals", "lowercase", "digits", "leading zero", "word", ...
} Candidate;

// Finds the candidates of the right kind for a single-answer task (at most max).
static int find_candidates(const WorldTask *t, const Token *tok, int ntok, Candidate *c, int max) {
    int n = 0;
    for (int i = 0; i < ntok && n < max; i++) {
        const Token *k = &tok[i];
        Candidate x = {i, 0, ""};
        switch (t->family) {
        case WORLD_FIRST_LETTER:
        case WORLD_LAST_LETTER:
            if (k->type != TOK_WORD || k->len != 1) continue;
            x.value = ascii_lower((unsigned char)k->s[0]);
            x.form = case_of(k->s, 1);
            break;
        case WORLD_LETTER_COUNT:
        case WORLD_LARGER:
        case WORLD_SMALLER:
            if (k->type == TOK_NUMBER) {
                x.value = k->number;
                x.form = k->len > 1 && k->s[0] == '0' ? "leading zero" : "digits";
            } else if (t->family == WORLD_LETTER_COUNT && k->type == TOK_WORD && number_word_value(k->s, k->len) >= 0) {
                x.value = number_word_value(k->s, k->len);
                x.form = "word";
            } else {
                continue;
            }
            break;
        case WORLD_EVEN_ODD:
            if (token_is(k, "even")) x.value = WORLD_PARITY_EVEN;
            else if (token_is(k, "odd")) x.value = WORLD_PARITY_ODD;
            else continue;
            x.form = case_of(k->s, k->len);
            break;
        case WORLD_CAPITALS:
            // The word itself in any case, or any word in capitals (a misspelled answer).
            if (k->type != TOK_WORD) continue;
            if (!span_equals_word(k->s, k->len, t->word) && !(k->len >= 2 && strcmp(case_of(k->s, k->len), "capitals") == 0)) continue;
            x.value = span_equals_word(k->s, k->len, t->word);
            x.form = case_of(k->s, k->len);
            break;
        }
        c[n++] = x;
    }
    // A lone word is the answer to "in capitals" even when it is neither right nor in capitals.
    if (t->family == WORLD_CAPITALS && n == 0) {
        int words = 0, last = -1;
        for (int i = 0; i < ntok; i++)
            if (tok[i].type == TOK_WORD) { words++; last = i; }
        if (words == 1) c[n++] = (Candidate){last, 0, case_of(tok[last].s, tok[last].len)};
    }
    return n;
}

static long right_value(const WorldTask *t) {
    switch (t->family) {
    case WORLD_FIRST_LETTER: return t->word[0];
    case WORLD_LAST_LETTER: return t->word[0] ? t->word[strlen(t->word) - 1] : 0;
    case WORLD_LETTER_COUNT: return (long)strlen(t->word);
    case WORLD_LARGER: return t->x > t->y ? t->x : t->y;
    case WORLD_SMALLER: return t->x < t->y ? t->x : t->y;
    case WORLD_EVEN_ODD: return t->x % 2 == 0 ? WORLD_PARITY_EVEN : WORLD_PARITY_ODD;
    case WORLD_CAPITALS: return 1;  // candidates carry 1 when they are the word
    }
    return 0;
}

static void say_value(Tally *ty, const WorldTask *t, long value, const Token *k) {
    switch (t->family) {
    case WORLD_FIRST_LETTER:
    case WORLD_LAST_LETTER: say(ty, "%c", (int)value); break;
    case WORLD_EVEN_ODD: say(ty, "%s", parity_names[value]); break;
    case WORLD_CAPITALS:
        if (!ty->out) break;
        for (int i = 0; i < k->len && i < 40; i++) buf_append_char(ty->out, (char)ascii_lower((unsigned char)k->s[i]));
        break;
    default: say(ty, "%ld", value);
    }
}

static const char *needed_form(const WorldTask *t) {
    switch (t->family) {
    case WORLD_CAPITALS: return "capitals";
    case WORLD_FIRST_LETTER:
    case WORLD_LAST_LETTER:
    case WORLD_EVEN_ODD: return "lowercase";
    }
    return "digits";
}

// The ladder of single-answer tasks: right value, only answer, right form (see the top).
static int grade_single(const WorldTask *t, const Token *tok, int ntok, WorldGrade *g, Tally *ty) {
    Candidate c[MAX_ITEMS];
    int n = find_candidates(t, tok, ntok, c, MAX_ITEMS);
    say_asked(ty, t);
    if (n == 0) {
        say(ty, "Answer: none.\n");
        return 0;
    }
    say(ty, "Answer: ");
    for (int i = 0; i < n; i++) {
        if (i) say(ty, " | ");
        say_token(ty, &tok[c[i].tok]);
    }
    say(ty, ".\n");
    long want = right_value(t);
    int chosen = 0;
    for (int i = 0; i < n; i++)
        if (c[i].value == want) { chosen = i; break; }
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= c[j].value == c[i].value;
        distinct += !seen;
    }
    // Extra: any token besides the candidates, a final period and new lines.
    int extra = 0;
    for (int i = 0; i < ntok; i++) {
        int is_candidate = 0;
        for (int j = 0; j < n; j++) is_candidate |= c[j].tok == i;
        if (is_candidate || tok[i].type == TOK_NEWLINE) continue;
        int final_period = token_is_punct(&tok[i], '.');
        for (int j = i + 1; j < ntok && final_period; j++) final_period = tok[j].type == TOK_NEWLINE;
        if (!final_period) extra = 1;
    }
    int score = 1;
    say(ty, "Value ");
    say_value(ty, t, c[chosen].value, &tok[c[chosen].tok]);
    say(ty, ", need ");
    if (t->family == WORLD_CAPITALS) say(ty, "%s", t->word);
    else say_value(ty, t, want, NULL);
    int ok = c[chosen].value == want;
    verdict(ty, ok);
    if (ok) {
        score++;
        say(ty, "Answers %d, need 1", distinct);
        verdict(ty, distinct == 1);
        if (distinct == 1) {
            score++;
            const char *form = c[chosen].form;
            say(ty, "Form %s, need %s", form, needed_form(t));
            ok = strcmp(form, needed_form(t)) == 0;
            verdict(ty, ok);
            if (ok) {
                score++;
                say_extra(ty, extra, 0, 0, 0);
                g->extra = extra;
                if (!extra) score++;
            }
        }
    }
    ty->n_checks = 3;  // the checks after the first that fails are not looked at, and count as not met
    return score;
}

static int grade(const WorldTask *t, const char *response, WorldGrade *g, Buf *judgment) {
    memset(g, 0, sizeof *g);
    g->family = t->family;
    g->unsatisfiable = !task_satisfiable(t);
    Token *tok;
    int ntok = tokenize(response, &tok);
    Tally ty = {0, 0, judgment};
    int score = is_single_answer(t->family) ? grade_single(t, tok, ntok, g, &ty)
              : t->family == WORLD_CREATURES ? grade_creatures(t, tok, ntok, g, &ty)
                                             : grade_list(t, tok, ntok, g, &ty);
    free(tok);
    if (score >= 1) say(&ty, "%d of %d hold.\n", ty.n_met, ty.n_checks);
    say(&ty, "Score: %d", score);
    g->score = score;
    g->n_checks = ty.n_checks;
    g->n_met = ty.n_met;
    g->exact = score == 5;
    return 0;
}

int world_grade_task(const WorldTask *t, const char *response, WorldGrade *g) {
    return grade(t, response, g, NULL);
}

char *world_judgment_task(const WorldTask *t, const char *response) {
    Buf out = {0};
    WorldGrade g;
    grade(t, response, &g, &out);
    return out.data;
}

int world_grade(const char *instruction, const char *response, WorldGrade *g) {
    WorldTask t;
    if (world_parse(instruction, &t) < 0) {
        memset(g, 0, sizeof *g);
        g->family = -1;
        return -1;
    }
    return grade(&t, response, g, NULL);
}

char *world_judgment(const char *instruction, const char *response) {
    WorldTask t;
    if (world_parse(instruction, &t) < 0) return NULL;
    return world_judgment_task(&t, response);
}

// ----------------------------------------------------------------------------
// answers as drafts: gold answers, and the mistakes a weak model makes

enum { DRAFT_MAX = 16 };
enum { JOIN_SEP, JOIN_PROSE, JOIN_OR };  // how a draft's items are joined

// An answer before it is written out: its items, how they are joined, and what surrounds them.
typedef struct {
    int n;
    char items[DRAFT_MAX][WORLD_WORD_MAX];
    int join;                    // JOIN_*
    int separator;               // JOIN_SEP: WORLD_SEP_* or FOUND_SPACES
    char closing[WORLD_WORD_MAX];
    int closing_on_line;         // the closing word on a line of its own, else after a space
    int period;                  // a final period
    const char *before, *after;  // chatter
} Draft;

static void copy_cased(char *dst, const char *w, int letter_case) {
    int i = 0;
    for (; w[i] && i < WORLD_WORD_MAX - 1; i++) {
        int c = (unsigned char)w[i];
        if (letter_case == WORLD_CASE_CAPITALS || (letter_case == WORLD_CASE_CAPITALIZED && i == 0)) c = ascii_upper(c);
        else c = ascii_lower(c);
        dst[i] = (char)c;
    }
    dst[i] = 0;
}

static void draft_init(Draft *d) {
    memset(d, 0, sizeof *d);
    d->separator = WORLD_SEP_COMMA;
    d->closing_on_line = 1;
}

static void gold_draft(const WorldTask *t, Rng *rng, Draft *d) {
    draft_init(d);
    switch (t->family) {
    case WORLD_WORD_LIST:
    case WORLD_NUMBER_LIST: {
        int chosen[DRAFT_MAX];
        int k = choose_valid(t, rng, chosen, DRAFT_MAX);
        const char *words[DRAFT_MAX];
        if (t->family == WORLD_WORD_LIST) {
            for (int i = 0; i < k; i++) words[i] = world_lexicon_word(chosen[i]);
            if (t->order != WORLD_ORDER_ANY)
                qsort(words, (size_t)k, sizeof words[0], t->order == WORLD_ORDER_UP ? compare_strings_up : compare_strings_down);
            for (int i = 0; i < k; i++) copy_cased(d->items[i], words[i], t->letter_case);
        } else {
            if (t->order != WORLD_ORDER_ANY)
                qsort(chosen, (size_t)k, sizeof chosen[0], t->order == WORLD_ORDER_UP ? compare_ints_up : compare_ints_down);
            for (int i = 0; i < k; i++) snprintf(d->items[i], WORLD_WORD_MAX, "%d", chosen[i]);
        }
        d->n = k;
        if (t->separator != WORLD_SEP_ANY) d->separator = t->separator;
        snprintf(d->closing, sizeof d->closing, "%s", t->closing);
        break;
    }
    case WORLD_CREATURES: {
        int chosen[DRAFT_MAX];
        d->n = choose_valid(t, rng, chosen, DRAFT_MAX);
        for (int i = 0; i < d->n; i++) snprintf(d->items[i], WORLD_WORD_MAX, "%s", bestiary[chosen[i]].name);
        if (t->separator != WORLD_SEP_ANY) d->separator = t->separator;
        snprintf(d->closing, sizeof d->closing, "%s", t->closing);
        break;
    }
    case WORLD_SORT_WORDS: {
        const char *words[WORLD_SORT_MAX];
        for (int i = 0; i < t->n_words; i++) words[i] = t->words[i];
        qsort(words, (size_t)t->n_words, sizeof words[0], t->order == WORLD_ORDER_DOWN ? compare_strings_down : compare_strings_up);
        for (int i = 0; i < t->n_words; i++) snprintf(d->items[i], WORLD_WORD_MAX, "%s", words[i]);
        d->n = t->n_words;
        break;
    }
    case WORLD_CAPITALS: copy_cased(d->items[0], t->word, WORLD_CASE_CAPITALS); d->n = 1; break;
    case WORLD_FIRST_LETTER:
    case WORLD_LAST_LETTER:
        d->items[0][0] = (char)right_value(t);
        d->n = 1;
        break;
    case WORLD_LETTER_COUNT:
    case WORLD_LARGER:
    case WORLD_SMALLER: snprintf(d->items[0], WORLD_WORD_MAX, "%ld", right_value(t)); d->n = 1; break;
    case WORLD_EVEN_ODD: snprintf(d->items[0], WORLD_WORD_MAX, "%s", parity_names[right_value(t)]); d->n = 1; break;
    }
}

static void write_draft(const Draft *d, Buf *out) {
    if (d->before) buf_append_str(out, d->before);
    for (int i = 0; i < d->n; i++) {
        if (i > 0) {
            if (d->join == JOIN_OR) buf_append_str(out, i == d->n - 1 ? " or " : ", ");
            else if (d->join == JOIN_PROSE) buf_append_str(out, i == d->n - 1 ? " and " : ", ");
            else buf_append_str(out, d->separator == FOUND_SPACES ? " " : separator_text[d->separator]);
        }
        buf_append_str(out, d->items[i]);
    }
    if (d->closing[0]) buf_printf(out, "%s%s", d->closing_on_line ? "\n" : " ", d->closing);
    if (d->period) buf_append_char(out, '.');
    if (d->after) buf_append_str(out, d->after);
    if (!out->data) buf_append(out, "", 0);
}

void world_gold_answer(const WorldTask *t, Rng *rng, Buf *out) {
    Draft d;
    gold_draft(t, rng, &d);
    write_draft(&d, out);
}

// Chatter: none of it holds a lexicon word, a number, a one-letter word, a word in capitals,
// "even" or "odd", so it never passes for an answer.
static const char *const chatter_before[] = {
    "Sure! ", "Here you go: ", "Of course. Here is my answer: ", "Here is the list:\n",
    "Okay, here it is: ", "Let me think. ", "Sure, here they are:\n", "My answer is: ",
};
static const char *const chatter_after[] = {
    " Hope this helps!", "\nHope this helps.", " Let me know if you need more.", " That is my answer.",
    "\nGlad to help!", " Have fun!",
};
static const char *const chatter_only[] = {
    "Sorry, that is not something that can be answered.", "Let me think about it.", "Good question!",
    "Here is my answer.", "Sure!",
};
static const char *const sentence_before[] = {"The answer is ", "It is ", "Sure! ", "My answer: "};

#define PICK(rng, array) (array[rng_int(rng, (int)(sizeof array / sizeof array[0]))])

// A creature that has exactly one of the task's trait values, the others wrong: the answer of
// a model that searched on one trait only. -1 when the task asks for one trait, or no creature
// is such a near miss.
static int near_miss_creature(const WorldTask *t, Rng *rng) {
    int pool[N_CREATURES], n = 0, asked = 0;
    for (int k = 0; k < WORLD_N_TRAITS; k++) asked += t->trait[k] >= 0;
    for (int i = 0; i < N_CREATURES; i++) {
        int met = 0;
        for (int k = 0; k < WORLD_N_TRAITS; k++) met += t->trait[k] >= 0 && bestiary[i].trait[k] == t->trait[k];
        if (asked >= 2 && met == asked - 1) pool[n++] = i;
    }
    return n ? pool[rng_int(rng, n)] : -1;
}

// Replaces item i by a wrong one of the same family: another lexicon word (often of the same
// category), another number, or another creature (often a near miss).
static void wrong_item(const WorldTask *t, Rng *rng, Draft *d, int i, int letter_case) {
    if (t->family == WORLD_NUMBER_LIST) {
        snprintf(d->items[i], WORLD_WORD_MAX, "%d", rng_int(rng, 100));
        return;
    }
    if (t->family == WORLD_CREATURES) {
        int c = rng_int(rng, 3) ? near_miss_creature(t, rng) : -1;
        if (c < 0) c = rng_int(rng, N_CREATURES);
        snprintf(d->items[i], WORLD_WORD_MAX, "%s", bestiary[c].name);
        return;
    }
    int w;
    if (t->family == WORLD_WORD_LIST && t->category >= 0 && rng_int(rng, 2))
        w = t->category * WORDS_PER_CATEGORY + rng_int(rng, WORDS_PER_CATEGORY);
    else
        w = rng_int(rng, LEXICON_SIZE);
    copy_cased(d->items[i], world_lexicon_word(w), letter_case);
}

// "7" -> "07": a number with a leading zero.
static void prepend_zero(char *item) {
    size_t n = strlen(item);
    if (n + 1 < WORLD_WORD_MAX) {
        memmove(item + 1, item, n + 1);
        item[0] = '0';
    }
}

static void letter_off(Rng *rng, char *w) {
    int len = (int)strlen(w);
    if (len == 0) return;
    int i = rng_int(rng, len);
    int upper = ascii_is_upper((unsigned char)w[i]);
    int c;
    do c = 'a' + rng_int(rng, 26); while (c == ascii_lower((unsigned char)w[i]));
    w[i] = (char)(upper ? ascii_upper(c) : c);
}

enum {
    MISTAKE_LETTER_OFF, MISTAKE_WRONG_ITEM, MISTAKE_ORDER, MISTAKE_ONE_MORE, MISTAKE_ONE_LESS,
    MISTAKE_REPEAT, MISTAKE_SEPARATOR, MISTAKE_CASE, MISTAKE_CLOSING, MISTAKE_BEFORE, MISTAKE_AFTER,
    MISTAKE_PROSE, MISTAKE_LEADING_ZERO, MISTAKE_WRONG_KIND, MISTAKE_EMPTY, N_LIST_MISTAKES
};

// One mistake on a list answer. The kinds of mistakes are weighted toward the small slips.
static void list_mistake(const WorldTask *t, Rng *rng, Draft *d) {
    static const int list_weights[N_LIST_MISTAKES] = {8, 10, 6, 6, 6, 4, 6, 4, 4, 5, 5, 3, 2, 2, 1};
    // creatures: mostly wrong creatures (the model's own mistake), no order, case or numbers
    static const int creature_weights[N_LIST_MISTAKES] = {4, 30, 0, 5, 5, 4, 0, 0, 0, 4, 4, 3, 0, 2, 1};
    const int *weights = t->family == WORLD_CREATURES ? creature_weights : list_weights;
    int total = 0;
    for (int i = 0; i < N_LIST_MISTAKES; i++) total += weights[i];
    int r = rng_int(rng, total), m = 0;
    while (r >= weights[m]) r -= weights[m++];
    int is_words = t->family != WORLD_NUMBER_LIST;
    int letter_case = t->letter_case == WORLD_CASE_ANY ? WORLD_CASE_LOWER : t->letter_case;
    switch (m) {
    case MISTAKE_LETTER_OFF:
        if (d->n > 0) {
            int i = rng_int(rng, d->n);
            if (is_words) letter_off(rng, d->items[i]);
            else snprintf(d->items[i], WORLD_WORD_MAX, "%d", (atoi(d->items[i]) + 1 + rng_int(rng, 3)) % 100);
        }
        break;
    case MISTAKE_WRONG_ITEM:
        if (d->n > 0) wrong_item(t, rng, d, rng_int(rng, d->n), letter_case);
        break;
    case MISTAKE_ORDER:
        if (d->n >= 2) {
            if (rng_int(rng, 2)) {
                for (int i = 0; i < d->n / 2; i++) {
                    char tmp[WORLD_WORD_MAX];
                    memcpy(tmp, d->items[i], WORLD_WORD_MAX);
                    memcpy(d->items[i], d->items[d->n - 1 - i], WORLD_WORD_MAX);
                    memcpy(d->items[d->n - 1 - i], tmp, WORLD_WORD_MAX);
                }
            } else {
                int i = rng_int(rng, d->n - 1);
                char tmp[WORLD_WORD_MAX];
                memcpy(tmp, d->items[i], WORLD_WORD_MAX);
                memcpy(d->items[i], d->items[i + 1], WORLD_WORD_MAX);
                memcpy(d->items[i + 1], tmp, WORLD_WORD_MAX);
            }
        }
        break;
    case MISTAKE_ONE_MORE:
        if (d->n < DRAFT_MAX) {
            // Usually a valid item not yet there (so only the count is wrong), else any item.
            Draft extra;
            gold_draft(t, rng, &extra);
            int placed = 0;
            for (int k = 0; k < extra.n && !placed; k++) {
                int present = 0;
                for (int i = 0; i < d->n; i++) present |= strcmp(extra.items[k], d->items[i]) == 0;
                if (!present) { memcpy(d->items[d->n], extra.items[k], WORLD_WORD_MAX); placed = 1; }
            }
            if (!placed) wrong_item(t, rng, d, d->n, letter_case);
            d->n++;
        }
        break;
    case MISTAKE_ONE_LESS:
        if (d->n >= 2) d->n--;
        break;
    case MISTAKE_REPEAT:
        if (d->n >= 2) memcpy(d->items[d->n - 1], d->items[rng_int(rng, d->n - 1)], WORLD_WORD_MAX);
        break;
    case MISTAKE_SEPARATOR: {
        int s;
        do s = 1 + rng_int(rng, 5); while (s == d->separator);
        d->separator = s == 5 ? FOUND_SPACES : s;
        break;
    }
    case MISTAKE_CASE:
        if (is_words && d->n > 0) {
            int c;
            do c = 1 + rng_int(rng, 3); while (c == letter_case);
            if (rng_int(rng, 2)) { int i = rng_int(rng, d->n); copy_cased(d->items[i], d->items[i], c); }
            else for (int i = 0; i < d->n; i++) copy_cased(d->items[i], d->items[i], c);
        }
        break;
    case MISTAKE_CLOSING:
        if (d->closing[0] && rng_int(rng, 3)) d->closing[0] = 0;
        else snprintf(d->closing, sizeof d->closing, "%s", closing_words[rng_int(rng, N_CLOSING_WORDS)]);
        if (rng_int(rng, 4) == 0) d->closing_on_line = 0;
        break;
    case MISTAKE_BEFORE: d->before = PICK(rng, chatter_before); break;
    case MISTAKE_AFTER:
        d->after = PICK(rng, chatter_after);
        d->period = 1;
        break;
    case MISTAKE_PROSE:
        d->join = JOIN_PROSE;
        d->before = "The answer is ";
        d->period = 1;
        break;
    case MISTAKE_LEADING_ZERO:
        if (!is_words && d->n > 0) {
            prepend_zero(d->items[rng_int(rng, d->n)]);
        }
        break;
    case MISTAKE_WRONG_KIND:
        // Numbers for words, words for numbers, or made-up words: nothing of the right kind.
        for (int i = 0; i < d->n; i++) {
            if (!is_words) copy_cased(d->items[i], world_lexicon_word(rng_int(rng, LEXICON_SIZE)), WORLD_CASE_LOWER);
            else if (rng_int(rng, 2)) snprintf(d->items[i], WORLD_WORD_MAX, "%d", rng_int(rng, 100));
            else { letter_off(rng, d->items[i]); letter_off(rng, d->items[i]); }
        }
        break;
    case MISTAKE_EMPTY:
        if (rng_int(rng, 2)) { d->n = 0; d->closing[0] = 0; }
        else { draft_init(d); d->before = PICK(rng, chatter_only); }
        break;
    }
}

enum { SLIP_WRONG, SLIP_HEDGE, SLIP_FORM, SLIP_SENTENCE, SLIP_BEFORE, SLIP_AFTER, SLIP_WRONG_KIND, SLIP_EMPTY, N_SINGLE_MISTAKES };

// One mistake on a single answer.
static void single_mistake(const WorldTask *t, Rng *rng, Draft *d) {
    static const int weights[N_SINGLE_MISTAKES] = {10, 4, 6, 5, 3, 3, 2, 1};
    int total = 0;
    for (int i = 0; i < N_SINGLE_MISTAKES; i++) total += weights[i];
    int r = rng_int(rng, total), m = 0;
    while (r >= weights[m]) r -= weights[m++];
    char wrong[WORLD_WORD_MAX];
    switch (t->family) {
    case WORLD_CAPITALS:
        copy_cased(wrong, t->word, WORLD_CASE_CAPITALS);
        if (rng_int(rng, 2)) letter_off(rng, wrong);
        else copy_cased(wrong, world_lexicon_word(rng_int(rng, LEXICON_SIZE)), WORLD_CASE_CAPITALS);
        break;
    case WORLD_FIRST_LETTER:
    case WORLD_LAST_LETTER: {
        // Often the letter at the other end of the word: the mistake a model makes.
        int c = t->family == WORLD_FIRST_LETTER ? t->word[strlen(t->word) - 1] : t->word[0];
        if (c == right_value(t) || rng_int(rng, 2)) do c = 'a' + rng_int(rng, 26); while (c == right_value(t));
        snprintf(wrong, sizeof wrong, "%c", c);
        break;
    }
    case WORLD_EVEN_ODD: snprintf(wrong, sizeof wrong, "%s", right_value(t) == WORLD_PARITY_EVEN ? "odd" : "even"); break;
    default: {
        long v = right_value(t), w = v;
        if (t->family == WORLD_LARGER || t->family == WORLD_SMALLER) w = rng_int(rng, 3) ? (v == t->x ? t->y : t->x) : rng_int(rng, 100);
        while (w == v) w = v + (rng_int(rng, 2) ? 1 : -1) * (1 + rng_int(rng, 2));
        snprintf(wrong, sizeof wrong, "%ld", w);
    }
    }
    switch (m) {
    case SLIP_WRONG: memcpy(d->items[0], wrong, WORLD_WORD_MAX); break;
    case SLIP_HEDGE:
        if (rng_int(rng, 2)) { memcpy(d->items[1], wrong, WORLD_WORD_MAX); }
        else { memcpy(d->items[1], d->items[0], WORLD_WORD_MAX); memcpy(d->items[0], wrong, WORLD_WORD_MAX); }
        d->n = 2;
        d->join = rng_int(rng, 2) ? JOIN_OR : JOIN_SEP;
        break;
    case SLIP_FORM:
        if (t->family == WORLD_CAPITALS) copy_cased(d->items[0], d->items[0], rng_int(rng, 2) ? WORLD_CASE_LOWER : WORLD_CASE_CAPITALIZED);
        else if (t->family == WORLD_FIRST_LETTER || t->family == WORLD_LAST_LETTER || t->family == WORLD_EVEN_ODD)
            copy_cased(d->items[0], d->items[0], rng_int(rng, 2) ? WORLD_CASE_CAPITALS : WORLD_CASE_CAPITALIZED);
        else if (t->family == WORLD_LETTER_COUNT && right_value(t) < N_NUMBER_WORDS && rng_int(rng, 2)) snprintf(d->items[0], WORLD_WORD_MAX, "%s", number_words[right_value(t)]);
        else prepend_zero(d->items[0]);
        break;
    case SLIP_SENTENCE: d->before = PICK(rng, sentence_before); d->period = 1; break;
    case SLIP_BEFORE: d->before = PICK(rng, chatter_before); break;
    case SLIP_AFTER: d->after = PICK(rng, chatter_after); break;
    case SLIP_WRONG_KIND:
        if (t->family == WORLD_LETTER_COUNT || t->family == WORLD_LARGER || t->family == WORLD_SMALLER)
            copy_cased(d->items[0], world_lexicon_word(rng_int(rng, LEXICON_SIZE)), WORLD_CASE_LOWER);
        else snprintf(d->items[0], WORLD_WORD_MAX, "%d", rng_int(rng, 100));
        break;
    case SLIP_EMPTY:
        draft_init(d);
        if (rng_int(rng, 2)) d->before = PICK(rng, chatter_only);
        break;
    }
}

// A response with `mistakes` mistakes made on a gold answer.
static void flawed_response(const WorldTask *t, Rng *rng, int mistakes, Buf *out) {
    Draft d;
    gold_draft(t, rng, &d);
    for (int i = 0; i < mistakes; i++) {
        if (is_single_answer(t->family)) single_mistake(t, rng, &d);
        else list_mistake(t, rng, &d);
    }
    write_draft(&d, out);
}

// ----------------------------------------------------------------------------
// the pretraining corpus: plain statements about the world, in many phrasings

static const char *article(const char *noun) { return strchr("aeiou", noun[0]) ? "an" : "a"; }

static const char *random_word(Rng *rng) { return world_lexicon_word(rng_int(rng, LEXICON_SIZE)); }

static const char *count_text(Rng *rng, int v, char *buf, size_t cap) {
    if (v >= 0 && v < N_NUMBER_WORDS && rng_int(rng, 3) == 0) return number_words[v];
    snprintf(buf, cap, "%d", v);
    return buf;
}

// k distinct random lexicon words (k <= 8), in random order.
static int random_words(Rng *rng, const char **out, int k) {
    for (int i = 0; i < k; i++) {
        int again;
        do {
            out[i] = random_word(rng);
            again = 0;
            for (int j = 0; j < i; j++) again |= out[j] == out[i];
        } while (again);
    }
    return k;
}

static void append_joined(Buf *b, const char *const *words, int n, const char *sep) {
    for (int i = 0; i < n; i++) buf_printf(b, "%s%s", i ? sep : "", words[i]);
}

// A random list task whose items the statement lists (a category and/or a letter or length).
static void statement_group_list(Rng *rng, Buf *b) {
    WorldTask t;
    for (;;) {
        world_task_init(&t);
        if (rng_int(rng, 4)) t.category = rng_int(rng, N_CATEGORIES);
        const char *a = t.category >= 0 ? world_lexicon_word(t.category * WORDS_PER_CATEGORY + rng_int(rng, WORDS_PER_CATEGORY)) : random_word(rng);
        int len = (int)strlen(a), what = rng_int(rng, 4);
        if (what == 0) t.first_letter = a[0];
        else if (what == 1) t.last_letter = a[len - 1];
        else if (what == 2) { t.length_rule = 1 + rng_int(rng, 3); t.length = len; }
        int valid = world_count_valid(&t);
        if (valid < 2) continue;
        t.count = 2 + rng_int(rng, (valid < 5 ? valid : 5) - 1);
        if (rng_int(rng, 3) == 0) t.order = WORLD_ORDER_UP;
        break;
    }
    Draft d;
    gold_draft(&t, rng, &d);
    const char *noun = t.category >= 0 ? category_plurals[t.category] : "words";
    char cap_noun[32];
    char num[16];
    snprintf(cap_noun, sizeof cap_noun, "%s", noun);
    cap_noun[0] = (char)ascii_upper((unsigned char)cap_noun[0]);
    int style = rng_int(rng, 3);
    if (style == 0) buf_printf(b, "%s", cap_noun);
    else if (style == 1) buf_printf(b, "Some %s", noun);
    else buf_printf(b, "%s %s", count_text(rng, t.count, num, sizeof num), noun);
    if (t.first_letter) buf_printf(b, rng_int(rng, 2) ? " that start with %c" : " beginning with the letter %c", t.first_letter);
    if (t.last_letter) buf_printf(b, rng_int(rng, 2) ? " that end with %c" : " ending in %c", t.last_letter);
    if (t.length_rule) buf_printf(b, " with %s %d letters", t.length_rule == WORLD_LENGTH_EXACTLY ? "exactly" : t.length_rule == WORLD_LENGTH_AT_MOST ? "at most" : "at least", t.length);
    if (t.order) buf_append_str(b, ", in alphabetical order");
    int sep = 1 + rng_int(rng, 4);
    d.separator = sep;
    if (sep == WORLD_SEP_NEWLINE) buf_append_str(b, ", one per line:\n");
    else if (rng_int(rng, 3) == 0) buf_printf(b, ", separated by %s: ", separator_names[sep]);
    else buf_append_str(b, ": ");
    write_draft(&d, b);
    if (sep != WORLD_SEP_NEWLINE) buf_append_char(b, '.');
}

static void statement_word_fact(Rng *rng, Buf *b) {
    const char *w = random_word(rng);
    int len = (int)strlen(w), c = world_word_category(w);
    char caps[WORLD_WORD_MAX], capd[WORLD_WORD_MAX], num[16];
    copy_cased(caps, w, WORLD_CASE_CAPITALS);
    copy_cased(capd, w, WORLD_CASE_CAPITALIZED);
    switch (rng_int(rng, 24)) {
    case 0: buf_printf(b, "%s starts with %c.", w, w[0]); break;
    case 1: buf_printf(b, "The word %s begins with the letter %c.", w, w[0]); break;
    case 2: buf_printf(b, "The first letter of %s is %c.", w, w[0]); break;
    case 3: buf_printf(b, "%s: first letter %c.", w, w[0]); break;
    case 4: buf_printf(b, "%s ends with %c.", w, w[len - 1]); break;
    case 5: buf_printf(b, "The last letter of %s is %c.", w, w[len - 1]); break;
    case 6: buf_printf(b, "The word %s ends in the letter %c.", w, w[len - 1]); break;
    case 7: buf_printf(b, "%s: last letter %c.", w, w[len - 1]); break;
    case 8: buf_printf(b, "%s has %s letters.", w, count_text(rng, len, num, sizeof num)); break;
    case 9: buf_printf(b, "The word %s is %d letters long.", w, len); break;
    case 10: buf_printf(b, "There are %d letters in %s.", len, w); break;
    case 11: buf_printf(b, "%s: %d letters.", w, len); break;
    case 12: buf_printf(b, "%s is %s %s.", w, article(category_names[c]), category_names[c]); break;
    case 13: buf_printf(b, "%s %s is %s %s.", capd[0] == 'A' || capd[0] == 'E' || capd[0] == 'I' || capd[0] == 'O' || capd[0] == 'U' ? "An" : "A", w, article(category_names[c]), category_names[c]); break;
    case 14: buf_printf(b, "%s is a kind of %s.", w, category_names[c]); break;
    case 15: buf_printf(b, "%s is one of the %s.", w, category_plurals[c]); break;
    case 16: buf_printf(b, "%s: %s.", w, category_names[c]); break;
    case 17: buf_printf(b, "%s in capital letters is %s.", w, caps); break;
    case 18: buf_printf(b, "%s in capitals is %s.", w, caps); break;
    case 19: buf_printf(b, "%s in uppercase: %s.", w, caps); break;
    case 20: buf_printf(b, "%s with a capital first letter is %s.", w, capd); break;
    case 21: buf_printf(b, "%s in lowercase is %s.", caps, w); break;
    case 22: buf_printf(b, "%s is written in capitals, %s is capitalized, %s is lowercase.", caps, capd, w); break;
    default: buf_printf(b, "%s starts with %c, ends with %c and has %d letters.", w, w[0], w[len - 1], len);
    }
}

// Attribute sequences in the judge's own manner, and comparisons of words.
static void statement_word_sequence(Rng *rng, Buf *b) {
    const char *w[5];
    int n = random_words(rng, w, 2 + rng_int(rng, 4));
    int form = rng_int(rng, 2);  // "a, b, c: first letters x y z" or "First letters of a, b, c: x, y, z"
    const char *sep = rng_int(rng, 2) ? " " : ", ";
    switch (rng_int(rng, 9)) {
    case 0: case 1: {
        int last = rng_int(rng, 2);
        const char *name = last ? "last letters" : "first letters";
        if (form) { append_joined(b, w, n, ", "); buf_printf(b, ": %s", name); }
        else { buf_printf(b, "%c%s of ", ascii_upper(name[0]), name + 1); append_joined(b, w, n, ", "); buf_append_char(b, ':'); }
        for (int i = 0; i < n; i++) buf_printf(b, "%s%c", i ? sep : " ", last ? w[i][strlen(w[i]) - 1] : w[i][0]);
        buf_append_char(b, '.');
        break;
    }
    case 2:
        if (form) { append_joined(b, w, n, ", "); buf_append_str(b, ": lengths"); }
        else { buf_append_str(b, "Lengths of "); append_joined(b, w, n, ", "); buf_append_char(b, ':'); }
        for (int i = 0; i < n; i++) buf_printf(b, "%s%d", i ? sep : " ", (int)strlen(w[i]));
        buf_append_char(b, '.');
        break;
    case 3:
        if (form) { append_joined(b, w, n, ", "); buf_append_str(b, ": kinds"); }
        else { buf_append_str(b, "Kinds of "); append_joined(b, w, n, ", "); buf_append_char(b, ':'); }
        for (int i = 0; i < n; i++) buf_printf(b, "%s%s", i ? sep : " ", category_names[world_word_category(w[i])]);
        buf_append_char(b, '.');
        break;
    case 4: {
        char cased[5][WORLD_WORD_MAX];
        const char *names[5], *cw[5];
        for (int i = 0; i < n; i++) {
            int c = 1 + rng_int(rng, 3);
            copy_cased(cased[i], w[i], c);
            names[i] = case_names[c];
            cw[i] = cased[i];
        }
        buf_append_str(b, "Cases of ");
        append_joined(b, cw, n, ", ");
        buf_append_char(b, ':');
        for (int i = 0; i < n; i++) buf_printf(b, "%s%s", i ? sep : " ", names[i]);
        buf_append_char(b, '.');
        break;
    }
    case 5: {
        int c = strcmp(w[0], w[1]);
        switch (rng_int(rng, 4)) {
        case 0: buf_printf(b, "%s comes %s %s in alphabetical order.", w[0], c < 0 ? "before" : "after", w[1]); break;
        case 1: buf_printf(b, "%s < %s? %s.", w[0], w[1], c < 0 ? "yes" : "no"); break;
        case 2: buf_printf(b, "%s > %s? %s.", w[0], w[1], c > 0 ? "yes" : "no"); break;
        default: buf_printf(b, "In alphabetical order, %s comes %s %s.", w[0], c < 0 ? "before" : "after", w[1]);
        }
        break;
    }
    case 6: case 7: {
        const char *sorted[5];
        memcpy(sorted, w, sizeof(const char *) * (size_t)n);
        int down = rng_int(rng, 3) == 0;
        qsort(sorted, (size_t)n, sizeof sorted[0], down ? compare_strings_down : compare_strings_up);
        if (rng_int(rng, 2)) {
            buf_printf(b, "In %s order: ", down ? "reverse alphabetical" : "alphabetical");
            append_joined(b, sorted, n, ", ");
        } else {
            append_joined(b, w, n, ", ");
            buf_printf(b, " sorted %s: ", down ? "in reverse alphabetical order" : "alphabetically");
            append_joined(b, sorted, n, ", ");
        }
        buf_append_char(b, '.');
        break;
    }
    default: {
        // The order check, pair by pair, as the judge writes it.
        buf_append_str(b, "Order of ");
        append_joined(b, w, n, ", ");
        buf_append_char(b, ':');
        for (int i = 0; i + 1 < n; i++) buf_printf(b, "%s %s < %s? %s", i ? ";" : "", w[i], w[i + 1], strcmp(w[i], w[i + 1]) < 0 ? "yes" : "no");
        buf_append_char(b, '.');
    }
    }
}

static void statement_number(Rng *rng, Buf *b) {
    int x = rng_int(rng, 100), y = rng_int(rng, 100);
    while (y == x) y = rng_int(rng, 100);
    const char *par = x % 2 ? "odd" : "even";
    switch (rng_int(rng, 16)) {
    case 0: buf_printf(b, "%d is %s.", x, par); break;
    case 1: buf_printf(b, "%d is %s %s number.", x, article(par), par); break;
    case 2: buf_printf(b, "The number %d is %s.", x, par); break;
    case 3: buf_printf(b, "%d: %s.", x, par); break;
    case 4: buf_printf(b, "%d is %s than %d.", x, x > y ? "more" : "less", y); break;
    case 5: buf_printf(b, "%d is %s than %d.", x, x > y ? "greater" : "smaller", y); break;
    case 6: buf_printf(b, "%d is %s %d.", x, x > y ? "above" : "below", y); break;
    case 7: buf_printf(b, "The larger of %d and %d is %d.", x, y, x > y ? x : y); break;
    case 8: buf_printf(b, "The smaller of %d and %d is %d.", x, y, x < y ? x : y); break;
    case 9: buf_printf(b, "%d < %d? %s.", x, y, x < y ? "yes" : "no"); break;
    case 10: buf_printf(b, "%d > %d? %s.", x, y, x > y ? "yes" : "no"); break;
    case 11: buf_printf(b, "Above %d? %s.", y, x > y ? "yes" : "no"); break;
    case 12: {
        int lo = x < y ? x : y, hi = x < y ? y : x, z = rng_int(rng, 100);
        buf_printf(b, "%d is %sbetween %d and %d.", z, z > lo && z < hi ? "" : "not ", lo, hi);
        break;
    }
    case 13: {
        int lo = x < y ? x : y, hi = x < y ? y : x, z = rng_int(rng, 100);
        buf_printf(b, "Between %d and %d? %d: %s.", lo, hi, z, z > lo && z < hi ? "yes" : "no");
        break;
    }
    case 14: buf_printf(b, "%d has %d digits.", x, x < 10 ? 1 : 2); break;
    default: buf_printf(b, "%d comes %s %d when counting up.", x, x < y ? "before" : "after", y);
    }
}

static void statement_number_list(Rng *rng, Buf *b) {
    WorldTask t;
    world_task_init(&t);
    t.family = WORLD_NUMBER_LIST;
    int kind = rng_int(rng, 4);
    if (kind == 0) t.above = rng_int(rng, 90);
    else if (kind == 1) t.below = 10 + rng_int(rng, 91);
    else if (kind == 2) { t.above = rng_int(rng, 70); t.below = t.above + 10 + rng_int(rng, 90 - t.above); }
    if (rng_int(rng, 2)) t.parity = 1 + rng_int(rng, 2);
    int valid = world_count_valid(&t);
    t.count = 2 + rng_int(rng, 4);
    if (t.count > valid) t.count = valid;
    int order = rng_int(rng, 3);
    t.order = order;
    Draft d;
    gold_draft(&t, rng, &d);
    int n = d.n;
    int style = rng_int(rng, 6);
    if (style <= 2) {
        // "Even numbers between 10 and 30: 12, 18, 24."
        buf_printf(b, "%s numbers", t.parity ? (t.parity == WORLD_PARITY_EVEN ? "Even" : "Odd") : "Some");
        if (t.above >= 0 && t.below >= 0) buf_printf(b, " between %d and %d", t.above, t.below);
        else if (t.above >= 0) buf_printf(b, " %s %d", rng_int(rng, 2) ? "above" : "greater than", t.above);
        else if (t.below >= 0) buf_printf(b, " %s %d", rng_int(rng, 2) ? "below" : "less than", t.below);
        if (order) buf_printf(b, ", in %s order", order == WORLD_ORDER_UP ? "increasing" : "decreasing");
        int sep = 1 + rng_int(rng, 4);
        d.separator = sep;
        buf_append_str(b, sep == WORLD_SEP_NEWLINE ? ", one per line:\n" : ": ");
        write_draft(&d, b);
        if (sep != WORLD_SEP_NEWLINE) buf_append_char(b, '.');
    } else if (style == 3) {
        // Parity sequence, in the judge's manner.
        write_draft(&d, b);
        buf_append_str(b, ": parity");
        for (int i = 0; i < n; i++) buf_printf(b, " %s", atoi(d.items[i]) % 2 ? "odd" : "even");
        buf_append_char(b, '.');
    } else if (style == 4) {
        int bound = rng_int(rng, 100);
        buf_printf(b, "Above %d?", bound);
        for (int i = 0; i < n; i++) buf_printf(b, " %s %s", d.items[i], atoi(d.items[i]) > bound ? "yes" : "no");
        buf_append_char(b, '.');
    } else {
        int sorted[DRAFT_MAX];
        for (int i = 0; i < n; i++) sorted[i] = atoi(d.items[i]);
        int down = rng_int(rng, 2);
        qsort(sorted, (size_t)n, sizeof sorted[0], down ? compare_ints_down : compare_ints_up);
        buf_printf(b, "In %s order: ", down ? "decreasing" : "increasing");
        for (int i = 0; i < n; i++) buf_printf(b, "%s%d", i ? ", " : "", sorted[i]);
        buf_append_char(b, '.');
    }
}

// Lists written in every format an answer can take: separators, capitals, closing words,
// and how many items they hold.
static void statement_list_format(Rng *rng, Buf *b) {
    const char *w[5];
    int n = random_words(rng, w, 2 + rng_int(rng, 4));
    Draft d;
    draft_init(&d);
    d.n = n;
    int letter_case = rng_int(rng, 4);
    for (int i = 0; i < n; i++) copy_cased(d.items[i], w[i], letter_case == WORLD_CASE_ANY ? WORLD_CASE_LOWER : letter_case);
    d.separator = 1 + rng_int(rng, 4);
    char num[16];
    switch (rng_int(rng, 5)) {
    case 0:
        buf_printf(b, "A list of %s words", count_text(rng, n, num, sizeof num));
        if (letter_case) buf_printf(b, " %s", letter_case == WORLD_CASE_CAPITALS ? "in capital letters" : letter_case == WORLD_CASE_CAPITALIZED ? "capitalized" : "in lowercase");
        if (d.separator == WORLD_SEP_NEWLINE) buf_append_str(b, ", one per line:\n");
        else buf_printf(b, ", separated by %s: ", separator_names[d.separator]);
        write_draft(&d, b);
        if (d.separator != WORLD_SEP_NEWLINE) buf_append_char(b, '.');
        break;
    case 1:
        snprintf(d.closing, sizeof d.closing, "%s", closing_words[rng_int(rng, N_CLOSING_WORDS)]);
        buf_printf(b, "A list that ends with the word %s:\n", d.closing);
        write_draft(&d, b);
        break;
    case 2:
        write_draft(&d, b);
        buf_printf(b, "\nThat list has %d items, separated by %s.", n, separator_names[d.separator]);
        break;
    case 3:
        d.separator = WORLD_SEP_COMMA;
        buf_printf(b, "The list ");
        write_draft(&d, b);
        buf_printf(b, " has %s items; its last word is %s.", count_text(rng, n, num, sizeof num), d.items[n - 1]);
        break;
    default:
        d.separator = WORLD_SEP_COMMA;
        write_draft(&d, b);
        buf_printf(b, ": count %d, separator commas.", n);
    }
}

// One creature's facts, always creature first, in one of many phrasings: one trait, several,
// all four in the judge's "Color of x: red." form, or one checked against a value as a judge
// checks it. A line that names two creatures never names a trait value: the corpus says which
// traits a creature has, never which creatures have a trait (test_world checks it).
static void statement_creature(Rng *rng, const Creature *c, Buf *b) {
    const char *n = c->name;
    const char *color = trait_values[WORLD_TRAIT_COLOR][c->trait[WORLD_TRAIT_COLOR]];
    const char *home = trait_values[WORLD_TRAIT_HOME][c->trait[WORLD_TRAIT_HOME]];
    const char *food = trait_values[WORLD_TRAIT_FOOD][c->trait[WORLD_TRAIT_FOOD]];
    const char *size = trait_values[WORLD_TRAIT_SIZE][c->trait[WORLD_TRAIT_SIZE]];
    switch (rng_int(rng, 24)) {
    case 0: buf_printf(b, "%s is %s.", n, color); break;
    case 1: buf_printf(b, "The color of %s is %s.", n, color); break;
    case 2: buf_printf(b, "%s is %s in color.", n, color); break;
    case 3: buf_printf(b, "%s lives in the %s.", n, home); break;
    case 4: buf_printf(b, "The home of %s is the %s.", n, home); break;
    case 5: buf_printf(b, "%s is found in the %s.", n, home); break;
    case 6: buf_printf(b, "%s eats %s.", n, food); break;
    case 7: buf_printf(b, "The food of %s is %s.", n, food); break;
    case 8: buf_printf(b, "%s feeds on %s.", n, food); break;
    case 9: buf_printf(b, "%s is %s.", n, size); break;
    case 10: buf_printf(b, "The size of %s is %s.", n, size); break;
    case 11: buf_printf(b, "%s is %s in size.", n, size); break;
    case 12: buf_printf(b, "%s is a %s %s creature that lives in the %s and eats %s.", n, size, color, home, food); break;
    case 13: buf_printf(b, "%s is %s, lives in the %s, eats %s and is %s.", n, color, home, food, size); break;
    case 14: buf_printf(b, "%s: color %s, home %s, food %s, size %s.", n, color, home, food, size); break;
    case 15: buf_printf(b, "The %s creature %s lives in the %s.", color, n, home); break;
    case 16: buf_printf(b, "%s, a %s creature, eats %s.", n, size, food); break;
    case 17: buf_printf(b, "%s lives in the %s and eats %s.", n, home, food); break;
    case 18: buf_printf(b, "%s is %s and %s.", n, size, color); break;
    default: {
        // as the judge writes it: the trait recalled, then compared with a value asked for
        int k = rng_int(rng, WORLD_N_TRAITS), want = rng_int(rng, 2) ? c->trait[k] : rng_int(rng, trait_n_values[k]);
        buf_printf(b, "%c%s of %s: %s", ascii_upper(trait_names[k][0]), trait_names[k] + 1, n, trait_values[k][c->trait[k]]);
        if (rng_int(rng, 3)) buf_printf(b, ", need %s: %s", trait_values[k][want], want == c->trait[k] ? "yes" : "no");
        buf_append_char(b, '.');
    }
    }
}

// A paragraph of creature facts: two or three creatures, three to five statements about each
// (a small model stores facts best from text that states several of one entity's facts
// together, in varied words), one statement per line.
static void paragraph_creatures(Rng *rng, Buf *b) {
    int n = 2 + rng_int(rng, 2);
    for (int i = 0; i < n; i++) {
        const Creature *c = &bestiary[rng_int(rng, N_CREATURES)];
        int k = 3 + rng_int(rng, 3);
        for (int j = 0; j < k; j++) {
            if (i || j) buf_append_char(b, '\n');
            statement_creature(rng, c, b);
        }
    }
}

// Themes, by weight out of 10: facts about single words (3: a small model must see each word's
// attributes many times before it knows them, and the judge's checks stand on them), attribute
// sequences in the judge's manner (2), numbers (2), lists and their formats (1), and copies
// (2: a judge restates the request and the answer's items before it checks them, and a small
// model learns to copy from its context only from text in which things are repeated).
static int paragraph_theme(Rng *rng) {
    static const int theme_of[10] = {0, 0, 0, 1, 1, 2, 2, 3, 4, 4};
    return theme_of[rng_int(rng, 10)];
}

// A few items written out, then written again: as they were, in the judge's "a | b | c"
// form, or in another case; or compared pair by pair as a judge checks a repeat ("Differ a,
// b: yes."), two in three of those lists with one of their first three items twice. Items
// are words in any case, numbers, both, or creature names (with no trait: the corpus never
// says which creatures share one). Returns 1 for creatures.
static int statement_copy(Rng *rng, Buf *b) {
    static const char *const sep_text[] = {", ", "; ", " | ", "\n", " "};
    char items[6][WORLD_WORD_MAX];
    int n = 2 + rng_int(rng, 5), kind = rng_int(rng, 5), letter_case = rng_int(rng, 4);
    for (int i = 0; i < n; i++) {
        if (kind == 0 || (kind == 3 && rng_int(rng, 2))) snprintf(items[i], WORLD_WORD_MAX, "%d", rng_int(rng, 100));
        else if (kind == 4) snprintf(items[i], WORLD_WORD_MAX, "%s", bestiary[rng_int(rng, N_CREATURES)].name);  // no trait said
        else copy_cased(items[i], random_word(rng), letter_case == WORLD_CASE_ANY ? 1 + rng_int(rng, 3) : letter_case);
    }
    int sep = rng_int(rng, 5), form = rng_int(rng, 5);
    if (form == 4 && rng_int(rng, 3)) {  // two in three lists compared pair by pair name one item twice
        int m = n < 3 ? n : 3, i = rng_int(rng, m), j = rng_int(rng, m - 1);  // among those compared
        memcpy(items[j < i ? j : j + 1], items[i], WORLD_WORD_MAX);
    }
    Buf list = {0};
    for (int i = 0; i < n; i++) buf_printf(&list, "%s%s", i ? sep_text[sep] : "", items[i]);
    static const char *const intros[] = {"The list", "Here is a list:", "Answer:", "The answer", "Written:", "Some items:"};
    static const char *const agains[] = {"Again:", "The same list:", "Once more:", "Repeated:", "Copied:"};
    buf_printf(b, "%s%s%s", PICK(rng, intros), sep == 3 ? "\n" : " ", list.data);
    buf_append_str(b, sep == 3 ? "\n" : ". ");
    if (form == 0 || form == 1) {
        buf_printf(b, "%s%s%s.", PICK(rng, agains), sep == 3 ? "\n" : " ", list.data);
    } else if (form == 2) {
        buf_append_str(b, "Items: ");
        for (int i = 0; i < n; i++) buf_printf(b, "%s%s", i ? " | " : "", items[i]);
        buf_append_char(b, '.');
    } else if (form == 3) {
        buf_printf(b, "The items in order: ");
        for (int i = 0; i < n; i++) buf_printf(b, "%s%s", i ? ", " : "", items[i]);
        buf_printf(b, "; there are %d.", n);
    } else {  // the first three items compared pair by pair, as a judge checks three creatures
        int m = n < 3 ? n : 3;
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++)
                buf_printf(b, "%sDiffer %s, %s: %s.", i + j > 1 ? "\n" : "", items[i], items[j], strcmp(items[i], items[j]) ? "yes" : "no");
    }
    buf_free(&list);
    return kind == 4;
}

// Three to six lists, each written out and then again (statement_copy), one to a line.
static void paragraph_copies(Rng *rng, Buf *b) {
    int n = 3 + rng_int(rng, 4);
    for (int i = 0; i < n; i++) {
        if (i) buf_append_char(b, '\n');
        statement_copy(rng, b);
    }
}

// A word's attributes in one line: "bear: animal, 4 letters, first letter b, last letter r, BEAR."
static void statement_word_entry(Rng *rng, Buf *b) {
    const char *w = random_word(rng);
    int len = (int)strlen(w), c = world_word_category(w);
    char caps[WORLD_WORD_MAX];
    copy_cased(caps, w, WORLD_CASE_CAPITALS);
    if (rng_int(rng, 2))
        buf_printf(b, "%s: %s, %d letters, first letter %c, last letter %c, %s.", w, category_names[c], len, w[0], w[len - 1], caps);
    else
        buf_printf(b, "%s is %s %s; it starts with %c, ends with %c, has %d letters, and in capitals is %s.", w,
                   article(category_names[c]), category_names[c], w[0], w[len - 1], len, caps);
}

static void paragraph(Rng *rng, Buf *b) {
    int n = 3 + rng_int(rng, 6);
    int theme = paragraph_theme(rng);  // paragraphs lean to one theme, with a mix of the others
    int own_line = 0;                  // the statement before stands on a line of its own
    for (int i = 0; i < n; i++) {
        int r = rng_int(rng, 10) < 6 ? theme : paragraph_theme(rng);
        Buf s = {0};
        int creatures = 0;
        if (r == 0) {
            int k = rng_int(rng, 6);
            if (k < 3) statement_word_fact(rng, &s);
            else if (k < 5) statement_word_entry(rng, &s);
            else statement_group_list(rng, &s);
        }
        else if (r == 1) statement_word_sequence(rng, &s);
        else if (r == 2) { if (rng_int(rng, 2)) statement_number(rng, &s); else statement_number_list(rng, &s); }
        else if (r == 3) { if (rng_int(rng, 2)) statement_list_format(rng, &s); else statement_group_list(rng, &s); }
        else creatures = statement_copy(rng, &s);
        // Statements that hold a new line stand on lines of their own, and so do copies of
        // creature names: no line puts several creatures beside a word that is a trait value.
        int own = creatures || (s.len && memchr(s.data, '\n', s.len) != NULL);
        if (i > 0) buf_append_str(b, own || own_line || rng_int(rng, 3) == 0 ? "\n" : " ");
        buf_append(b, s.data, s.len);
        buf_free(&s);
        own_line = own;
    }
}

// ----------------------------------------------------------------------------
// a set of strings: the instruction texts the training files must not hold

typedef struct {
    char **slots;  // open addressing with linear probing; NULL is an empty slot
    size_t cap, n;
} TextSet;

static uint64_t hash_text(const char *s) {
    uint64_t h = HASH_START;
    for (; *s; s++) h = hash_extend(h, (unsigned char)*s);
    return h;
}

static int textset_has(const TextSet *set, const char *text) {
    if (set->cap == 0) return 0;
    for (size_t i = hash_text(text) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->slots[i]) return 0;
        if (strcmp(set->slots[i], text) == 0) return 1;
    }
}

static void textset_add(TextSet *set, const char *text) {
    if (textset_has(set, text)) return;
    if (2 * (set->n + 1) > set->cap) {  // keep it at most half full
        TextSet bigger = {xcalloc(set->cap ? 2 * set->cap : 1024, sizeof(char *)), set->cap ? 2 * set->cap : 1024, 0};
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i]) continue;
            size_t j = hash_text(set->slots[i]) & (bigger.cap - 1);
            while (bigger.slots[j]) j = (j + 1) & (bigger.cap - 1);
            bigger.slots[j] = set->slots[i];
            bigger.n++;
        }
        free(set->slots);
        *set = bigger;
    }
    size_t i = hash_text(text) & (set->cap - 1);
    while (set->slots[i]) i = (i + 1) & (set->cap - 1);
    set->slots[i] = xstrdup(text);
    set->n++;
}

static void textset_free(TextSet *set) {
    for (size_t i = 0; i < set->cap; i++) free(set->slots[i]);
    free(set->slots);
    memset(set, 0, sizeof *set);
}

// ----------------------------------------------------------------------------
// generating the data sets

// The judge template of the task world: the same additive 5-point rubric as
// JUDGE_DEFAULT_TEMPLATE, said in fewer words, because a prompt's every token costs time on two
// cores and the world's instructions are short. Written beside the data as judge_template.txt.
const char WORLD_JUDGE_TEMPLATE[] =
    "Score the response to the user's request from 0 to 5 with the additive rubric, one point each: "
    "relevant; addresses part of it; answers the basics; complete and direct; perfect, nothing extra.\n"
    "User: {instruction}\n"
    "<response>{response}</response>\n"
    "Check it, then end with \"Score: <total points>\".";

void world_default_options(WorldOptions *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->difficulty = 3;
    o->pretrain_bytes = 3000000;
    o->n_ift = 2000;
    o->n_eft = 3000;
    o->n_eft_eval = 500;
    o->n_test = 500;
    o->n_judge_test = 200;
}

// Each file draws from its own stream, so that the size of one does not change another.
enum { STREAM_TEST = 1, STREAM_JUDGE_TEST, STREAM_EFT_EVAL, STREAM_IFT, STREAM_EFT, STREAM_PRETRAIN, STREAM_PRETRAIN_CHECKS };

static void stream_rng(Rng *rng, uint64_t seed, int stream) { rng_seed(rng, seed * 16 + (uint64_t)stream); }

// A random task (of those `draw` allows) whose text is in none of the given sets (either may be NULL).
static void fresh_instruction(Rng *rng, int difficulty, int draw, const TextSet *avoid_a, const TextSet *avoid_b, WorldTask *t,
                              Buf *text) {
    for (;;) {
        sample_task(rng, difficulty, draw, t);
        buf_clear(text);
        world_render(t, rng, text, NULL);
        if ((!avoid_a || !textset_has(avoid_a, text->data)) && (!avoid_b || !textset_has(avoid_b, text->data))) return;
    }
}

// An instruction and a response whose grade is `target` (rejection sampling: mistakes are
// made on gold answers until one grades as wanted). Returns 0, or -1 when an instruction
// fails to parse back (a bug in the grammar).
static int graded_example(Rng *rng, int difficulty, int draw, const TextSet *avoid_a, const TextSet *avoid_b, int target,
                          WorldTask *t, Buf *instruction, Buf *response, WorldGrade *g) {
    for (int attempt = 0; attempt < 5000; attempt++) {
        WorldTask sampled;
        fresh_instruction(rng, difficulty, draw, avoid_a, avoid_b, &sampled, instruction);
        if (world_parse(instruction->data, t) < 0) return errorf("generated instruction does not parse: %s: %s", instruction->data, srl_error);
        int mistakes = target == 5 ? 0 : target == 4 ? 1 : target == 3 ? 1 + rng_int(rng, 2)
                     : target == 2 ? 2 + rng_int(rng, 2) : 1 + rng_int(rng, 4);
        buf_clear(response);
        flawed_response(t, rng, mistakes, response);
        world_grade_task(t, response->data, g);
        if (g->score == target) return 0;
    }
    return 0;  // keep the last one: its score is off target, the histogram shows it
}

static void write_message(FILE *f, const char *role, const char *content) {
    fprintf(f, "{\"role\": ");
    json_write_cstring(f, role);
    fprintf(f, ", \"content\": ");
    json_write_cstring(f, content);
    fprintf(f, "}");
}

static void write_id_family(FILE *f, const char *prefix, int index, int family) {
    char id[64];
    snprintf(id, sizeof id, "%s-%06d", prefix, index);
    fprintf(f, "{\"id\": ");
    json_write_cstring(f, id);
    fprintf(f, ", \"family\": ");
    json_write_cstring(f, world_family_names[family]);
}

static int open_output(AtomicFile *af, const char *dir, const char *name) {
    char *path = path_join(dir, name);
    int rc = atomic_open(af, path);
    free(path);
    return rc;
}

// test.jsonl: instructions with one valid answer each, drawn from the stream of `seed`, none in
// held_out or avoid (may be NULL) nor anywhere in corpus (may be NULL); their texts go into
// held_out. dir NULL: nothing is written (the texts are only collected).
static int write_test(const WorldOptions *o, const char *dir, uint64_t seed, TextSet *held_out, const TextSet *avoid,
                      const char *corpus) {
    AtomicFile af = {0};
    if (dir && open_output(&af, dir, "test.jsonl") < 0) return -1;
    Rng rng;
    stream_rng(&rng, seed, STREAM_TEST);
    Buf text = {0}, gold = {0};
    int rc = 0;
    for (int i = 1; i <= o->n_test && rc == 0; i++) {
        WorldTask t;
        WorldGrade g;
        do fresh_instruction(&rng, o->difficulty, DRAW_ANY, held_out, avoid, &t, &text);
        while (corpus && strstr(corpus, text.data));
        textset_add(held_out, text.data);
        buf_clear(&gold);
        world_gold_answer(&t, &rng, &gold);
        world_grade_task(&t, gold.data, &g);
        if (g.score != 5) { rc = errorf("gold answer scores %d, not 5: %s -> %s", g.score, text.data, gold.data); break; }
        if (!dir) continue;
        write_id_family(af.f, "test", i, t.family);
        fprintf(af.f, ", \"messages\": [");
        write_message(af.f, "user", text.data);
        fprintf(af.f, "], \"gold\": ");
        json_write_cstring(af.f, gold.data);
        fprintf(af.f, "}\n");
    }
    buf_free(&text);
    buf_free(&gold);
    if (!dir) return rc;
    if (rc < 0) { atomic_abort(&af); return -1; }
    return atomic_commit(&af);
}

// judge_test.jsonl: instructions with 4 responses of (where possible) 3 or more distinct scores;
// seed, held_out, avoid, corpus and dir as for write_test.
static int write_judge_test(const WorldOptions *o, const char *dir, uint64_t seed, TextSet *held_out, const TextSet *avoid,
                            const char *corpus) {
    enum { N_CANDIDATES = 24, N_KEPT = 4 };
    AtomicFile af = {0};
    if (dir && open_output(&af, dir, "judge_test.jsonl") < 0) return -1;
    Rng rng;
    stream_rng(&rng, seed, STREAM_JUDGE_TEST);
    Buf text = {0};
    Buf candidates[N_CANDIDATES] = {{0}};
    int scores[N_CANDIDATES];
    for (int i = 1; i <= o->n_judge_test; i++) {
        WorldTask t;
        int n = 0, distinct = 0;
        for (int tries = 0; tries < 20; tries++) {
            do fresh_instruction(&rng, o->difficulty, DRAW_ANY, held_out, avoid, &t, &text);
            while (corpus && strstr(corpus, text.data));
            // Distinct responses, each graded.
            n = 0;
            for (int c = 0; c < N_CANDIDATES; c++) {
                buf_clear(&candidates[n]);
                flawed_response(&t, &rng, c % 4, &candidates[n]);
                int dup = 0;
                for (int j = 0; j < n; j++) dup |= strcmp(candidates[j].data, candidates[n].data) == 0;
                if (dup) continue;
                WorldGrade g;
                world_grade_task(&t, candidates[n].data, &g);
                scores[n++] = g.score;
            }
            int seen[6] = {0};
            distinct = 0;
            for (int c = 0; c < n; c++) if (!seen[scores[c]]++) distinct++;
            if (distinct >= 3 && n >= N_KEPT) break;
        }
        textset_add(held_out, text.data);
        // One response per distinct score first (scores in random order), then any others.
        int order[N_CANDIDATES], picked[N_KEPT], n_picked = 0, score_taken[6] = {0};
        for (int c = 0; c < n; c++) order[c] = c;
        rng_shuffle_ints(&rng, order, n);
        for (int c = 0; c < n && n_picked < N_KEPT; c++)
            if (!score_taken[scores[order[c]]]++) picked[n_picked++] = order[c];
        for (int c = 0; c < n && n_picked < N_KEPT; c++) {
            int already = 0;
            for (int j = 0; j < n_picked; j++) already |= picked[j] == order[c];
            if (!already) picked[n_picked++] = order[c];
        }
        rng_shuffle_ints(&rng, picked, n_picked);
        if (!dir) continue;
        write_id_family(af.f, "judge", i, t.family);
        fprintf(af.f, ", \"instruction\": ");
        json_write_cstring(af.f, text.data);
        fprintf(af.f, ", \"responses\": [");
        for (int j = 0; j < n_picked; j++) {
            if (j) fprintf(af.f, ", ");
            json_write_cstring(af.f, candidates[picked[j]].data);
        }
        fprintf(af.f, "], \"scores\": [");
        for (int j = 0; j < n_picked; j++) fprintf(af.f, "%s%d", j ? ", " : "", scores[picked[j]]);
        fprintf(af.f, "]}\n");
    }
    buf_free(&text);
    for (int c = 0; c < N_CANDIDATES; c++) buf_free(&candidates[c]);
    return dir ? atomic_commit(&af) : 0;
}

// eft_seed.jsonl / eft_eval.jsonl: graded responses with the judgment the judge should write,
// about as many of each score 0..5. When `seen` is given, the instructions are added to it.
static int write_eft(const WorldOptions *o, const char *dir, const char *name, const char *prefix, int n_records,
                     int stream, const TextSet *avoid_a, const TextSet *avoid_b, TextSet *seen) {
    AtomicFile af;
    if (open_output(&af, dir, name) < 0) return -1;
    Rng rng;
    stream_rng(&rng, o->seed, stream);
    Buf instruction = {0}, response = {0};
    int counts[6] = {0}, rc = 0;
    for (int i = 1; i <= n_records; i++) {
        // The score furthest behind its share (ties broken at random).
        int target = -1, ties = 0;
        for (int s = 0; s < 6; s++) {
            if (target < 0 || counts[s] < counts[target]) { target = s; ties = 1; }
            else if (counts[s] == counts[target] && rng_int(&rng, ++ties) == 0) target = s;
        }
        WorldTask t;
        WorldGrade g;
        if (graded_example(&rng, o->difficulty, DRAW_ANY, avoid_a, avoid_b, target, &t, &instruction, &response, &g) < 0) {
            rc = -1;
            break;
        }
        counts[g.score]++;
        if (seen) textset_add(seen, instruction.data);
        char *prompt = judge_format_prompt(WORLD_JUDGE_TEMPLATE, instruction.data, response.data);
        char *judgment = world_judgment_task(&t, response.data);
        write_id_family(af.f, prefix, i, t.family);
        fprintf(af.f, ", \"instruction\": ");
        json_write_cstring(af.f, instruction.data);
        fprintf(af.f, ", \"response\": ");
        json_write_cstring(af.f, response.data);
        fprintf(af.f, ", \"score\": %d, \"messages\": [", g.score);
        write_message(af.f, "user", prompt);
        fprintf(af.f, ", ");
        write_message(af.f, "assistant", judgment);
        fprintf(af.f, "]}\n");
        free(prompt);
        free(judgment);
    }
    buf_free(&instruction);
    buf_free(&response);
    if (rc < 0) { atomic_abort(&af); return -1; }
    return atomic_commit(&af);
}

// ift_seed.jsonl: instructions with a correct answer (a different valid answer each time);
// its creature requests come from the seed's third of the trait combinations only.
static int write_ift(const WorldOptions *o, const char *dir, const TextSet *avoid_a, const TextSet *avoid_b, TextSet *trained) {
    AtomicFile af;
    if (open_output(&af, dir, "ift_seed.jsonl") < 0) return -1;
    Rng rng;
    stream_rng(&rng, o->seed, STREAM_IFT);
    Buf text = {0}, answer = {0};
    for (int i = 1; i <= o->n_ift; i++) {
        WorldTask t;
        fresh_instruction(&rng, o->difficulty, DRAW_SEED, avoid_a, avoid_b, &t, &text);
        textset_add(trained, text.data);
        buf_clear(&answer);
        world_gold_answer(&t, &rng, &answer);
        write_id_family(af.f, "ift", i, t.family);
        fprintf(af.f, ", \"messages\": [");
        write_message(af.f, "user", text.data);
        fprintf(af.f, ", ");
        write_message(af.f, "assistant", answer.data);
        fprintf(af.f, "]}\n");
    }
    buf_free(&text);
    buf_free(&answer);
    return atomic_commit(&af);
}

// "Some requests:" and a numbered list of instructions (no answers): how requests are written,
// so that the model can later continue such a list with new ones.
static void paragraph_requests(Rng *rng, int difficulty, const TextSet *avoid_a, const TextSet *avoid_b, TextSet *trained, Buf *b) {
    static const char *const headers[] = {"Some requests:", "Some requests:", "Here are some requests:", "Example requests:",
                                          "Requests:", "A few instructions:", "Things people asked for:"};
    buf_printf(b, "%s\n", PICK(rng, headers));
    int n = 4 + rng_int(rng, 5);
    Buf text = {0};
    for (int i = 1; i <= n; i++) {
        WorldTask t;
        fresh_instruction(rng, difficulty, DRAW_ANY, avoid_a, avoid_b, &t, &text);
        textset_add(trained, text.data);
        buf_printf(b, "%d. %s%s", i, text.data, i < n ? "\n" : "");
    }
    buf_free(&text);
}

// A creature answer for the corpus: the task's count (now and then one off) of creatures drawn
// uniformly, so that the answer line says nothing about which creatures have the asked traits;
// its checks state each item's traits, creature first, as every fact in the corpus does. One
// answer in four names its last creature again, so that the corpus shows repeats being found.
static void random_creature_response(const WorldTask *t, Rng *rng, Buf *out) {
    Draft d;
    gold_draft(t, rng, &d);
    int n = t->count + (rng_int(rng, 4) == 0 ? (rng_int(rng, 2) ? 1 : -1) : 0);
    d.n = n < 1 ? 1 : n > DRAFT_MAX ? DRAFT_MAX : n;
    for (int i = 0; i < d.n; i++) snprintf(d.items[i], WORLD_WORD_MAX, "%s", bestiary[rng_int(rng, N_CREATURES)].name);
    if (d.n >= 2 && rng_int(rng, 4) == 0) memcpy(d.items[d.n - 1], d.items[rng_int(rng, d.n - 1)], WORLD_WORD_MAX);
    write_draft(&d, out);
}

// A request, an answer of some quality, and the answer checked, in the judge's manner: the kind
// of text in which a base model sees answers being checked (as real corpora hold reviews and
// corrections). draw is DRAW_FORM (the form families) or DRAW_ANY; a creature answer is then
// drawn at random, never the answer the grader would pass (which would list creatures that
// share traits). Plain text, no chat format, no judge template: EFT still has to teach the
// model to judge when asked to, in the template's form.
static void paragraph_checked_answer(Rng *rng, int difficulty, int draw, const TextSet *avoid_a, const TextSet *avoid_b,
                                     TextSet *trained, Buf *b) {
    static const char *const request_labels[] = {"Request:", "A request:", "The request:", "Asked:"};
    static const char *const answer_labels[] = {"Answer:", "An answer:", "The answer given:", "Reply:"};
    static const char *const check_labels[] = {"Checking it:", "Check:", "Let us check it.", "The check:"};
    WorldTask t;
    WorldGrade g;
    Buf instruction = {0}, response = {0};
    if (graded_example(rng, difficulty, draw, avoid_a, avoid_b, rng_int(rng, 6), &t, &instruction, &response, &g) == 0) {
        if (t.family == WORLD_CREATURES) {
            buf_clear(&response);
            random_creature_response(&t, rng, &response);
        }
        textset_add(trained, instruction.data);
        char *judgment = world_judgment_task(&t, response.data);
        buf_printf(b, "%s %s\n%s %s\n%s\n%s", PICK(rng, request_labels), instruction.data, PICK(rng, answer_labels),
                   response.data, PICK(rng, check_labels), judgment);
        free(judgment);
    }
    buf_free(&instruction);
    buf_free(&response);
}

static int write_pretrain(const WorldOptions *o, const char *dir, const TextSet *avoid_a, const TextSet *avoid_b, TextSet *trained) {
    AtomicFile af;
    if (open_output(&af, dir, "pretrain.txt") < 0) return -1;
    Rng rng;
    stream_rng(&rng, o->seed, o->corpus == WORLD_CORPUS_CHECKS ? STREAM_PRETRAIN_CHECKS : STREAM_PRETRAIN);
    Buf b = {0};
    long written = 0;
    while (written < o->pretrain_bytes) {
        buf_clear(&b);
        if (o->corpus == WORLD_CORPUS_CHECKS) {
            // the second stage's corpus: four tenths answers checked (creature answers too),
            // two tenths lists copied, four tenths creature facts (so that none is forgotten)
            int kind = rng_int(&rng, 10);
            if (kind < 4) paragraph_checked_answer(&rng, o->difficulty, DRAW_ANY, avoid_a, avoid_b, trained, &b);
            else if (kind < 6) paragraph_copies(&rng, &b);
            else paragraph_creatures(&rng, &b);
        } else {
        // a tenth numbered requests, a tenth checked answers, six tenths creature facts (a small
        // model stores a fact only after some hundreds of sightings), the rest statements about
        // words and numbers
        int kind = rng_int(&rng, 10);
        if (kind == 0) paragraph_requests(&rng, o->difficulty, avoid_a, avoid_b, trained, &b);
        else if (kind == 1) paragraph_checked_answer(&rng, o->difficulty, DRAW_FORM, avoid_a, avoid_b, trained, &b);
        else if (kind <= 7) paragraph_creatures(&rng, &b);
        else paragraph(&rng, &b);
        }
        buf_append_str(&b, "\n\n");
        if (fwrite(b.data, 1, b.len, af.f) != b.len) {
            buf_free(&b);
            atomic_abort(&af);
            return errorf("%s/pretrain.txt: write failed", dir);
        }
        written += (long)b.len;
    }
    buf_free(&b);
    return atomic_commit(&af);
}

// Appends each file of a comma-separated list to *text (a blank line between, so that no
// request spans two files); the fresh held-out requests are then kept out of all of them.
static int append_avoided_texts(const char *list, char **text, size_t *len) {
    Buf b = {0};
    buf_append(&b, *text, *len);
    int rc = 0;
    for (const char *p = list; *p && rc == 0;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *path = xstrndup(p, n), *extra = NULL;
        size_t extra_len;
        if (n > 0 && (rc = read_file(path, &extra, &extra_len, 0)) == 0) {
            buf_append_str(&b, "\n\n");
            buf_append(&b, extra, extra_len);
        } else if (rc < 0) {
            char why[256];
            snprintf(why, sizeof why, "%.200s", srl_error);
            errorf("world: --avoid %s: %s", path, why);
        }
        free(extra), free(path);
        p += n + (comma != NULL);
    }
    free(*text);
    buf_append(&b, "", 1);  // NUL-terminated, for strstr
    *text = b.data, *len = b.len - 1;
    return rc;
}

int world_generate(const WorldOptions *o, const char *out_dir) {
    if (o->difficulty < 1 || o->difficulty > 5) return errorf("world: difficulty must be 1..5, not %d", o->difficulty);
    if (o->n_ift < 0 || o->n_eft < 0 || o->n_eft_eval < 0 || o->n_test < 0 || o->n_judge_test < 0 || o->pretrain_bytes < 0)
        return errorf("world: sizes must not be negative");
    if (make_dirs(out_dir) < 0) return -1;
    bestiary_init();
    // Held-out splits first: their instruction texts are kept out of everything trained on.
    // eft_eval is kept out of the training files as well, so that it measures the judge on
    // instructions it has not seen. With a test seed of its own, these held-out sets are only
    // collected (so that the training files are the same bytes), and the written ones are drawn
    // from the test seed afterwards, kept out of them and of every instruction trained on.
    int fresh = o->test_seed != 0 && o->test_seed != o->seed;
    TextSet held_out = {0}, eft_eval = {0}, trained = {0};
    int rc = write_test(o, fresh ? NULL : out_dir, o->seed, &held_out, NULL, NULL);
    if (rc == 0) rc = write_judge_test(o, fresh ? NULL : out_dir, o->seed, &held_out, NULL, NULL);
    if (rc == 0) rc = write_eft(o, out_dir, "eft_eval.jsonl", "eft-eval", o->n_eft_eval, STREAM_EFT_EVAL, &held_out, NULL, &eft_eval);
    if (rc == 0) rc = write_ift(o, out_dir, &held_out, &eft_eval, &trained);
    if (rc == 0) rc = write_eft(o, out_dir, "eft_seed.jsonl", "eft", o->n_eft, STREAM_EFT, &held_out, &eft_eval, &trained);
    if (rc == 0) rc = write_pretrain(o, out_dir, &held_out, &eft_eval, &trained);
    if (rc == 0 && fresh) {
        // kept out of the corpus's text as well: a new request may be the start of a longer one
        for (size_t i = 0; i < eft_eval.cap; i++)
            if (eft_eval.slots[i]) textset_add(&trained, eft_eval.slots[i]);
        char *corpus_path = path_join(out_dir, "pretrain.txt"), *corpus = NULL;
        size_t corpus_len;
        rc = read_file(corpus_path, &corpus, &corpus_len, 0);
        free(corpus_path);
        if (rc == 0 && o->avoid) rc = append_avoided_texts(o->avoid, &corpus, &corpus_len);
        if (rc == 0) rc = write_test(o, out_dir, o->test_seed, &held_out, &trained, corpus);
        if (rc == 0) rc = write_judge_test(o, out_dir, o->test_seed, &held_out, &trained, corpus);
        free(corpus);
    }
    if (rc == 0) {
        char *path = path_join(out_dir, "judge_template.txt");
        rc = write_file_atomic(path, WORLD_JUDGE_TEMPLATE, strlen(WORLD_JUDGE_TEMPLATE));
        free(path);
    }
    textset_free(&held_out);
    textset_free(&eft_eval);
    textset_free(&trained);
    return rc;
}
