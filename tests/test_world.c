// test_world.c: the task world: lexicon, grammar (parse(render(t)) == t), grader rubric on
// tricky answers, judgments, and the generator (determinism, disjoint splits, balanced EFT).
//   cc -O2 -Wall -Wextra -o /tmp/test_world tests/test_world.c world.c judge.c util.c -lm
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../world.h"
#include "check.h"

// ----------------------------------------------------------------------------
// helpers

static int grade_of(const char *instruction, const char *response) {
    WorldGrade g;
    if (world_grade(instruction, response, &g) < 0) return -1;
    return g.score;
}

// Checks the score, and that the judgment ends with "Score: <score>".
static void expect_score(const char *instruction, const char *response, int want, int line) {
    int got = grade_of(instruction, response);
    check_report(got == want, __FILE__, line, "score %d, want %d: \"%s\" -> \"%s\"", got, want, instruction, response);
    char *j = world_judgment(instruction, response);
    char tail[32];
    snprintf(tail, sizeof tail, "Score: %d", want);
    size_t lj = j ? strlen(j) : 0, lt = strlen(tail);
    check_report(j && lj >= lt && strcmp(j + lj - lt, tail) == 0, __FILE__, line, "judgment should end with \"%s\":\n%s", tail, j ? j : "(null)");
    free(j);
}
#define EXPECT(instruction, response, score) expect_score(instruction, response, score, __LINE__)

static int count_words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int space = isspace((unsigned char)*s);
        if (!space && !in) n++;
        in = !space;
    }
    return n;
}

// ----------------------------------------------------------------------------
// the lexicon

static void test_lexicon(void) {
    int n = world_lexicon_size();
    CHECK(n >= 200 && n <= 260, "lexicon size %d", n);
    int per_letter[26] = {0}, per_category[8] = {0};
    for (int i = 0; i < n; i++) {
        const char *w = world_lexicon_word(i);
        int len = (int)strlen(w), ok = len >= 3 && len <= 8;
        for (int k = 0; k < len; k++) ok &= islower((unsigned char)w[k]) != 0;
        CHECK(ok, "lexicon word \"%s\" must be 3-8 lowercase letters", w);
        for (int j = 0; j < i; j++) CHECK(strcmp(w, world_lexicon_word(j)) != 0, "\"%s\" twice in the lexicon", w);
        int c = world_word_category(w);
        CHECK(c >= 0 && c < 8, "category of %s", w);
        if (c >= 0 && c < 8) per_category[c]++;
        per_letter[w[0] - 'a']++;
    }
    for (int c = 0; c < 8; c++) CHECK(per_category[c] >= 25 && per_category[c] <= 35, "category %s has %d words", world_category_name(c), per_category[c]);
    int letters_with_several = 0;
    for (int l = 0; l < 26; l++) letters_with_several += per_letter[l] >= 6;
    CHECK(letters_with_several >= 12, "only %d first letters have 6 or more words", letters_with_several);
    CHECK(world_word_category("BEAR") == 0 && world_word_category("Bear") == 0, "lookups ignore case");
    CHECK(world_word_category("unicorn") == -1 && world_word_category("") == -1, "unknown words have no category");
}

// ----------------------------------------------------------------------------
// the bestiary: 200 creatures with names that are no other word of the world, traits dealt evenly

static void test_bestiary(void) {
    int n = world_n_creatures();
    CHECK(n == 200, "200 creatures, got %d", n);
    int bad_names = 0;
    for (int i = 0; i < n; i++) {
        const char *w = world_creature_name(i);
        int len = (int)strlen(w), ok = len >= 4 && len <= 5 && w[len - 1] != 'e';
        for (int k = 0; k < len; k++) ok &= islower((unsigned char)w[k]) != 0;
        ok &= world_word_category(w) < 0 && world_creature_index(w) == i;
        for (int t = 0; t < WORLD_N_TRAITS; t++)
            for (int v = 0; v < world_trait_n_values(t); v++) ok &= strcmp(w, world_trait_value(t, v)) != 0;
        if (!ok && bad_names++ < 3) CHECK(0, "creature name \"%s\" (%d)", w, i);
    }
    CHECK(bad_names == 0, "%d bad creature names", bad_names);
    for (int t = 0; t < WORLD_N_TRAITS; t++) {
        int per_value[8] = {0}, nv = world_trait_n_values(t);
        for (int i = 0; i < n; i++) per_value[world_creature_trait(i, t)]++;
        for (int v = 0; v < nv; v++)
            CHECK(per_value[v] >= n / nv && per_value[v] <= n / nv + 1, "%s %s is dealt to %d creatures, not %d", world_trait_name(t),
                  world_trait_value(t, v), per_value[v], n / nv);
    }
    char upper[8];
    snprintf(upper, sizeof upper, "%s", world_creature_name(7));
    for (char *p = upper; *p; p++) *p = (char)toupper((unsigned char)*p);
    CHECK(world_creature_index(upper) == 7, "creature lookups ignore case");
    CHECK(world_creature_index("bear") < 0 && world_creature_index("") < 0 && world_creature_index("red") < 0, "bear, red: no creatures");
}

// The index of a creature with these two traits' values (want 1) or with only the first (want
// 0 for the second), the first such after `after`; -1 when there is none.
static int find_creature(int t1, int v1, int t2, int v2, int second_holds, int after) {
    for (int i = after + 1; i < world_n_creatures(); i++)
        if (world_creature_trait(i, t1) == v1 && (world_creature_trait(i, t2) == v2) == second_holds) return i;
    return -1;
}

// The fact family's grading, rubric point by rubric point, on "Name two red creatures that live
// in the river." (count, then a color and a home check per item: 5 checks for two items).
static void test_grade_creatures(void) {
    const char *req = "Name two red creatures that live in the river.";
    WorldTask t;
    CHECK(world_parse(req, &t) == 0 && t.family == WORLD_CREATURES && t.count == 2, "parse: %s", srl_error);
    int red = -1, river = -1;
    for (int v = 0; v < world_trait_n_values(WORLD_TRAIT_COLOR); v++) if (!strcmp(world_trait_value(WORLD_TRAIT_COLOR, v), "red")) red = v;
    for (int v = 0; v < world_trait_n_values(WORLD_TRAIT_HOME); v++) if (!strcmp(world_trait_value(WORLD_TRAIT_HOME, v), "river")) river = v;
    CHECK(t.trait[WORLD_TRAIT_COLOR] == red && t.trait[WORLD_TRAIT_HOME] == river && t.trait[WORLD_TRAIT_FOOD] < 0 &&
          t.trait[WORLD_TRAIT_SIZE] < 0, "fields: red, river, no food, no size");
    int v1 = find_creature(WORLD_TRAIT_COLOR, red, WORLD_TRAIT_HOME, river, 1, -1);
    int v2 = find_creature(WORLD_TRAIT_COLOR, red, WORLD_TRAIT_HOME, river, 1, v1);
    int v3 = find_creature(WORLD_TRAIT_COLOR, red, WORLD_TRAIT_HOME, river, 1, v2);
    int near = find_creature(WORLD_TRAIT_COLOR, red, WORLD_TRAIT_HOME, river, 0, -1);  // red, elsewhere
    int far = -1;                                                                       // neither red nor in the river
    for (int i = 0; i < world_n_creatures() && far < 0; i++)
        if (world_creature_trait(i, WORLD_TRAIT_COLOR) != red && world_creature_trait(i, WORLD_TRAIT_HOME) != river) far = i;
    CHECK(v1 >= 0 && v2 >= 0 && v3 >= 0 && near >= 0 && far >= 0, "the bestiary has 3 red river creatures, a near miss and a far one");
    if (v1 < 0 || v2 < 0 || v3 < 0 || near < 0 || far < 0) return;
    const char *a = world_creature_name(v1), *b = world_creature_name(v2), *c = world_creature_name(v3);
    const char *nm = world_creature_name(near), *fr = world_creature_name(far);
    char r[128];
#define RESP(...) (snprintf(r, sizeof r, __VA_ARGS__), r)
    EXPECT(req, RESP("%s, %s", a, b), 5);                 // every check, nothing extra
    EXPECT(req, RESP("%s, %s.", a, b), 5);                // a final period is not extra
    EXPECT(req, RESP("%s and %s", a, b), 5);              // prose joining is fine without a separator asked
    EXPECT(req, RESP("Sure! %s, %s", a, b), 4);           // every check, but chatter
    EXPECT(req, RESP("%s, %s", a, a), 3);                 // 5 of 6: a repeat fails its pair, as a near miss its home
    EXPECT("Name three red creatures that live in the river.", RESP("%s, %s, %s", a, a, a), 2);  // 7 of 10: three pairs
    EXPECT("Name three red creatures that live in the river.", RESP("%s, %s, %s", a, b, a), 3);  // 9 of 10: a and a apart
    EXPECT("Name three red creatures that live in the river.", RESP("%s, %s, %s", a, b, fr), 2);  // 8 of 10
    EXPECT(req, RESP("%s, %s", a, nm), 3);                // 4 of 5: one item elsewhere
    EXPECT(req, RESP("%s", a), 3);                        // 2 of 3: one item, both of its checks hold
    EXPECT(req, RESP("%s, %s, %s", a, b, c), 3);          // 6 of 7: one too many
    EXPECT(req, RESP("%s, bear", a), 2);                  // 3 of 5: bear is no creature
    EXPECT(req, RESP("%s, %s", nm, fr), 2);               // 3 of 6: the near miss is red, the far one nothing
    EXPECT(req, "bear, owl", 0);                          // nothing of the right kind
    EXPECT(req, "", 0);
    for (char *p = r + 0; RESP("%s, %s", a, b) && *p; p++) *p = (char)toupper((unsigned char)*p);
    EXPECT(req, r, 5);                                    // names in any case
    EXPECT("Name two red creatures that live in the river, separated by semicolons.", RESP("%s, %s", a, b), 3);  // 5 of 6
    EXPECT("Name two red creatures that live in the river, separated by semicolons.", RESP("%s; %s", a, b), 5);
    // the judgment, word for word
    char *j = world_judgment(req, RESP("%s, %s", a, nm));
    char want[1024];
    const char *nm_home = world_trait_value(WORLD_TRAIT_HOME, world_creature_trait(near, WORLD_TRAIT_HOME));
    snprintf(want, sizeof want,
             "Asked: 2 creatures, color red, home river.\nItems: %s | %s.\nCount 2, need 2: yes.\nDiffer %s, %s: yes.\n"
             "Color of %s: red, need red: yes.\nHome of %s: river, need river: yes.\n"
             "Color of %s: red, need red: yes.\nHome of %s: %s, need river: no.\nExtra: none.\n5 of 6 hold.\nScore: 3",
             a, nm, a, nm, a, a, nm, nm, nm_home);
    CHECK(j && strcmp(j, want) == 0, "creature judgment:\n%s\nwant:\n%s", j ? j : "(null)", want);
    free(j);
    j = world_judgment(req, "bear, zzzz");
    CHECK(j && strstr(j, "Nothing of the right kind.") && strstr(j, "Score: 0"), "no creature: %s", j ? j : "(null)");
    free(j);
    j = world_judgment(req, RESP("%s, %s", a, a));
    snprintf(want, sizeof want, "Count 2, need 2: yes.\nDiffer %s, %s: no.\nColor of %s: red, need red: yes.\n", a, a, a);
    CHECK(j && strstr(j, want) && strstr(j, "Extra: none.\n5 of 6 hold.\nScore: 3"), "a creature named twice fails its pair, and only that:\n%s",
          j ? j : "(null)");
    free(j);
    j = world_judgment(req, RESP("%s, bear", a));
    CHECK(j && strstr(j, "Color of bear: none, need red: no.\nHome of bear: none, need river: no."), "a word that is no creature has no traits: %s",
          j ? j : "(null)");
    free(j);
#undef RESP
    // every phrasing of a trait parses to the same task; a trait stated twice is refused
    const char *same[] = {"Give me 2 creatures that are red and that live in the river.", "List two creatures red in color living in the river.",
                          "Write 2 different red creatures found in the river.", "Name two creatures whose home is the river. Each must be red."};
    for (int i = 0; i < 4; i++) {
        WorldTask u;
        CHECK(world_parse(same[i], &u) == 0 && world_task_equal(&t, &u), "\"%s\" is the same request (%s)", same[i], srl_error);
    }
    CHECK(world_parse("Name two red creatures that are blue.", &t) < 0 && strstr(srl_error, "twice"), "two colors are refused: %s", srl_error);
    CHECK(world_parse("Name two creatures that are river.", &t) < 0, "a home is no color");
}

// ----------------------------------------------------------------------------
// the grammar

static const char *const some_closing[] = {"done", "end", "over", "thanks", "bye", "stop", "finished", "ready"};

// A random task: any legal value of every field, not only satisfiable ones.
static void random_task(Rng *rng, WorldTask *t) {
    world_task_init(t);
    t->family = rng_int(rng, world_n_families);
    if (t->family == WORLD_CREATURES) {
        t->count = 1 + rng_int(rng, 30);
        for (int k = 0; k < WORLD_N_TRAITS; k++)
            if (rng_int(rng, 2)) t->trait[k] = rng_int(rng, world_trait_n_values(k));
        if (rng_int(rng, 3) == 0) t->separator = 1 + rng_int(rng, 4);
        if (rng_int(rng, 3) == 0) snprintf(t->closing, sizeof t->closing, "%s", some_closing[rng_int(rng, 8)]);
        return;
    }
    if (t->family == WORLD_WORD_LIST || t->family == WORLD_NUMBER_LIST) {
        t->count = 1 + rng_int(rng, 30);
        if (t->family == WORLD_WORD_LIST) {
            t->category = rng_int(rng, 9) - 1;
            if (rng_int(rng, 3) == 0) t->first_letter = (char)('a' + rng_int(rng, 26));
            if (rng_int(rng, 3) == 0) t->last_letter = (char)('a' + rng_int(rng, 26));
            if (rng_int(rng, 3) == 0) { t->length_rule = 1 + rng_int(rng, 3); t->length = rng_int(rng, 25); }
            if (rng_int(rng, 3) == 0) t->letter_case = 1 + rng_int(rng, 3);
        } else {
            if (rng_int(rng, 2)) t->above = rng_int(rng, 101);
            if (rng_int(rng, 2)) t->below = rng_int(rng, 101);
            if (rng_int(rng, 2)) t->parity = 1 + rng_int(rng, 2);
        }
        if (rng_int(rng, 3) == 0) t->order = 1 + rng_int(rng, 2);
        if (rng_int(rng, 3) == 0) t->separator = 1 + rng_int(rng, 4);
        if (rng_int(rng, 3) == 0) snprintf(t->closing, sizeof t->closing, "%s", some_closing[rng_int(rng, 8)]);
        return;
    }
    switch (t->family) {
    case WORLD_LARGER:
    case WORLD_SMALLER:
        t->x = rng_int(rng, 1000);
        t->y = rng_int(rng, 1000);
        break;
    case WORLD_EVEN_ODD: t->x = rng_int(rng, 1000); break;
    case WORLD_SORT_WORDS:
        t->order = 1 + rng_int(rng, 2);
        t->n_words = 2 + rng_int(rng, WORLD_SORT_MAX - 1);
        for (int i = 0; i < t->n_words; i++) snprintf(t->words[i], WORLD_WORD_MAX, "%s", world_lexicon_word(rng_int(rng, world_lexicon_size())));
        break;
    default: {
        // Any word, also one that is not in the lexicon.
        if (rng_int(rng, 2)) {
            snprintf(t->word, sizeof t->word, "%s", world_lexicon_word(rng_int(rng, world_lexicon_size())));
        } else {
            int len = 2 + rng_int(rng, 10);
            for (int i = 0; i < len; i++) t->word[i] = (char)('a' + rng_int(rng, 26));
            t->word[len] = 0;
        }
    }
    }
}

static void test_grammar(void) {
    Rng rng;
    rng_seed(&rng, 7);
    unsigned char *used = calloc((size_t)world_n_phrases, 1);
    int failures = 0;
    for (int i = 0; i < 30000; i++) {
        WorldTask t, back;
        if (i % 2) random_task(&rng, &t);
        else world_sample_task(&rng, 1 + i % 5, &t);
        Buf text = {0};
        world_render(&t, &rng, &text, used);
        int ok = world_parse(text.data, &back) == 0 && world_task_equal(&t, &back);
        if (!ok && failures++ < 5) CHECK(0, "parse(render(t)) != t for \"%s\" (%s)", text.data, srl_error);
        buf_free(&text);
    }
    CHECK(failures == 0, "%d of 30000 renders did not parse back", failures);
    int unused = 0;
    for (int i = 0; i < world_n_phrases; i++) unused += !used[i];
    CHECK(unused == 0, "%d of %d phrases never rendered", unused, world_n_phrases);
    free(used);

    // Texts that are not world instructions are refused, never guessed at.
    WorldTask t;
    const char *refused[] = {
        "", "What is the meaning of life?", "List 3 animals and tell me a story.", "Write a poem about bears.",
        "List animals.", "Start with b.", "List 3 animals that start with b that start with c.",
        "Give 3 numbers above 10. Each must be greater than 20.", "Which is larger, 37 or 52 or 60?",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK(world_parse(refused[i], &t) < 0, "\"%s\" should not parse", refused[i]);
        WorldGrade g;
        CHECK(world_grade(refused[i], "bear", &g) == -1, "grading \"%s\" should fail", refused[i]);
        CHECK(world_judgment(refused[i], "bear") == NULL, "no judgment for \"%s\"", refused[i]);
    }
    CHECK(strstr(srl_error, "not a world instruction") != NULL, "the error says why: %s", srl_error);

    // The parse of a known text, field by field; case, new lines and a missing "?" do not matter.
    CHECK(world_parse("List 3 animals that start with the letter b, separated by commas.", &t) == 0, "parse");
    CHECK(t.family == WORLD_WORD_LIST && t.count == 3 && t.category == 0 && t.first_letter == 'b' &&
          t.separator == WORLD_SEP_COMMA && t.last_letter == 0 && t.order == WORLD_ORDER_ANY, "fields of a word list");
    CHECK(world_parse("GIVE FOUR EVEN NUMBERS BETWEEN 20 AND 60 IN INCREASING ORDER,\nSEPARATED BY SEMICOLONS.", &t) == 0, "parse in capitals");
    CHECK(t.family == WORLD_NUMBER_LIST && t.count == 4 && t.parity == WORLD_PARITY_EVEN && t.above == 20 && t.below == 60 &&
          t.order == WORLD_ORDER_UP && t.separator == WORLD_SEP_SEMICOLON, "fields of a number list");
    CHECK(world_parse("Which is larger, 37 or 52", &t) == 0 && t.family == WORLD_LARGER && t.x == 37 && t.y == 52, "fields of larger");
    CHECK(world_parse("Sort these words in alphabetical order: cat, bear, ant.", &t) == 0 && t.family == WORLD_SORT_WORDS &&
          t.n_words == 3 && strcmp(t.words[2], "ant") == 0 && t.order == WORLD_ORDER_UP, "fields of sorting");

    // Contradictions parse, and are flagged.
    WorldGrade g;
    CHECK(world_grade("Give 3 numbers between 60 and 20.", "30, 40, 50", &g) == 0 && g.unsatisfiable, "between 60 and 20 is unsatisfiable");
    CHECK(world_grade("List 3 animals that start with q.", "quail, quokka, quetzal", &g) == 0 && g.unsatisfiable, "no animal starts with q");
    CHECK(world_grade("List 3 animals that start with b.", "bear, bee, bird", &g) == 0 && !g.unsatisfiable, "b animals exist");
    // a repeated item is flagged (apart from the other extras), in any case and with any separator
    CHECK(world_grade("List 3 animals that start with b.", "bear, bee, bird", &g) == 0 && !g.repeat && !g.extra, "no repeat");
    CHECK(world_grade("List 3 animals that start with b.", "bear, bee, bear", &g) == 0 && g.repeat && g.extra && g.score == 4,
          "bear twice: a repeat, score %d", g.score);
    CHECK(world_grade("List 3 animals that start with b.", "Bear | bee | bear", &g) == 0 && g.repeat, "Bear and bear: a repeat");
    CHECK(world_grade("List 3 animals that start with b.", "Sure! bear, bee, bird", &g) == 0 && !g.repeat && g.extra,
          "chatter is extra, not a repeat");
    CHECK(world_grade("Give 3 numbers.", "12; 7; 12", &g) == 0 && g.repeat, "12 twice: a repeat");
    CHECK(world_grade("Is 94 even or odd?", "even", &g) == 0 && !g.repeat && g.score == 5, "a single answer has no repeat");

    // Every sampled task is satisfiable, at every difficulty.
    int unsatisfiable = 0;
    for (int i = 0; i < 20000; i++) {
        world_sample_task(&rng, 1 + i % 5, &t);
        int valid = world_count_valid(&t);
        if (t.family == WORLD_WORD_LIST || t.family == WORLD_NUMBER_LIST || t.family == WORLD_CREATURES) unsatisfiable += valid < t.count;
        else unsatisfiable += valid < 1;
    }
    CHECK(unsatisfiable == 0, "%d sampled tasks are unsatisfiable", unsatisfiable);
}

// ----------------------------------------------------------------------------
// the grader, rubric point by rubric point

static void test_grade_word_lists(void) {
    const char *b3 = "List 3 animals that start with the letter b, separated by commas.";  // 4 checks
    EXPECT(b3, "bear, bee, bird", 5);
    EXPECT(b3, "  bear ,bee,   bird  ", 5);                 // extra spaces
    EXPECT(b3, "bear, bee, bird.", 5);                       // trailing period
    EXPECT(b3, "Bear, BEE, bird", 5);                        // case is not asked
    EXPECT(b3, "bear, bee, bird\n", 5);
    EXPECT(b3, "Sure! Here are three: bear, bee, bird.", 4);   // chatter before
    EXPECT(b3, "bear, bee, bird. Hope this helps!", 4);       // chatter after
    EXPECT(b3, "bear, bee, bear", 4);                        // a repeat
    EXPECT(b3, "bear; bee; bird", 3);                        // wrong separator
    EXPECT(b3, "bear, cat, bee", 3);                         // one wrong first letter
    EXPECT(b3, "bear, bee", 3);                              // one too few
    EXPECT(b3, "bear, bee, bird, bat", 3);                   // one too many
    EXPECT(b3, "The animals are bear, bee and bird.", 3);    // inside a sentence: separator mixed
    EXPECT(b3, "bear, bee, bread", 3);                       // wrong kind for one item
    EXPECT(b3, "cat; dog; bee", 2);                          // 2 of 4 hold
    EXPECT(b3, "cat; bread", 1);                             // 0 of 4 hold, but a lexicon word
    EXPECT(b3, "", 0);                                       // empty
    EXPECT(b3, "   \n ", 0);
    EXPECT(b3, "Sorry, that is not something that can be answered.", 0);
    EXPECT(b3, "bexr, bxe, bzrd", 0);                        // no lexicon word
    EXPECT(b3, "12, 7, 30", 0);                              // numbers for words

    const char *caps = "Give 2 colors in capital letters, one per line, and end with the word done.";  // 5 checks
    EXPECT(caps, "RED\nBLUE\ndone", 5);
    EXPECT(caps, "RED\nBLUE\nDONE", 5);                      // the closing word's case does not matter
    EXPECT(caps, "RED\nBLUE\ndone.", 5);
    EXPECT(caps, "RED\nBLUE", 3);                            // missing closing word
    EXPECT(caps, "Red\nBLUE\ndone", 3);                      // one item not in capitals
    EXPECT(caps, "red, blue\ndone", 2);                      // case and separator: 3 of 5
    EXPECT(caps, "Here you go:\nRED\nBLUE\ndone", 4);

    const char *ordered = "Name 3 tools with at most 5 letters, in alphabetical order.";  // 4 checks
    EXPECT(ordered, "axe, drill, saw", 5);
    EXPECT(ordered, "saw, drill, axe", 3);
    EXPECT(ordered, "axe, hammer, saw", 3);                  // hammer has 6 letters
    EXPECT(ordered, "axe\ndrill\nsaw", 5);                   // any separator will do
    EXPECT(ordered, "axe drill saw", 5);
    EXPECT(ordered, "axe, drill, drill", 3);                 // drill < drill fails, and a repeat

    const char *words = "Write 2 words that end with t.";  // count, kind (lexicon words), last letter
    EXPECT(words, "cat, ant", 5);
    EXPECT(words, "cat, bnt", 3);                            // bnt is no word
}

static void test_grade_number_lists(void) {
    const char *even4 = "Give four even numbers between 20 and 60 in increasing order, separated by semicolons.";  // 5 checks
    EXPECT(even4, "22; 34; 48; 56", 5);
    EXPECT(even4, "22;34;48;56.", 5);
    EXPECT(even4, "22; 034; 48; 56", 4);                     // a leading zero is noted
    WorldGrade g;
    world_grade(even4, "22; 034; 48; 56", &g);
    CHECK(g.extra && g.n_met == g.n_checks, "a leading zero holds every check but counts as extra");
    EXPECT(even4, "Here are 4 numbers: 22; 34; 48; 56", 4);  // the 4 of the chatter is no item
    EXPECT(even4, "22; 34; 56; 48", 3);                      // order
    EXPECT(even4, "22; 48; 34; 57", 2);                      // order and parity
    EXPECT(even4, "22, 34, 48, 56", 3);                      // separator
    EXPECT(even4, "22; 34; 48; 66", 3);                      // range
    EXPECT(even4, "bear; bee", 0);                           // words for numbers
    EXPECT(even4, "the numbers are 22, 34, 48 and 56.", 3);  // prose: separator mixed
    CHECK(world_grade(even4, "22; 34; 48; 56", &g) == 0 && g.n_checks == 5 && g.exact, "5 checks, exact");
}

static void test_grade_single_answers(void) {
    const char *caps = "Write the word bear in capital letters.";
    EXPECT(caps, "BEAR", 5);
    EXPECT(caps, "BEAR.", 5);
    EXPECT(caps, "The word in capitals is BEAR.", 4);        // inside a sentence
    EXPECT(caps, "Bear", 3);                                 // right letters, wrong case
    EXPECT(caps, "bear", 3);
    EXPECT(caps, "BEAR or BEER", 2);                         // two answers
    EXPECT(caps, "BEER", 1);                                 // wrong
    EXPECT(caps, "", 0);

    const char *first = "What is the first letter of the word bear?";
    EXPECT(first, "b", 5);
    EXPECT(first, "The first letter is b.", 4);
    EXPECT(first, "B", 3);
    EXPECT(first, "b or r", 2);
    EXPECT(first, "r", 1);
    EXPECT(first, "bear", 0);                                // no letter at all
    EXPECT("What letter does bear end with?", "r", 5);

    const char *count = "How many letters are in the word bear?";
    EXPECT(count, "4", 5);
    EXPECT(count, "bear has 4 letters.", 4);
    EXPECT(count, "four", 3);                                // a number word: right value, wrong form
    EXPECT(count, "04", 3);                                  // a leading zero
    EXPECT(count, "5", 1);

    const char *larger = "Which is larger, 37 or 52?";
    EXPECT(larger, "52", 5);
    EXPECT(larger, "The larger is 52.", 4);
    EXPECT(larger, "52 is larger than 37.", 2);              // names both: two answers
    EXPECT(larger, "37", 1);
    EXPECT("Which is smaller, 37 or 52?", "37", 5);
    EXPECT("Which is smaller, 7 or 52?", "07", 3);

    const char *parity = "Is 37 even or odd?";
    EXPECT(parity, "odd", 5);
    EXPECT(parity, "37 is odd.", 4);
    EXPECT(parity, "Odd", 3);
    EXPECT(parity, "even", 1);
    EXPECT(parity, "odd or even", 2);

    const char *sort = "Sort these words in alphabetical order: cat, bear, ant.";  // count, given, order
    EXPECT(sort, "ant, bear, cat", 5);
    EXPECT(sort, "ant bear cat", 5);
    EXPECT(sort, "Sure! ant, bear, cat", 4);
    EXPECT(sort, "ant, cat, bear", 3);
    EXPECT(sort, "ant, bear", 3);
    EXPECT(sort, "dog, eagle", 0);                           // none of the given words
    EXPECT("Sort these words in reverse alphabetical order: cat, bear, ant.", "cat, bear, ant", 5);
}

// Random bytes and word soup never crash the parser or the grader (run under the sanitizers),
// and every judgment ends with its score.
static void test_robustness(void) {
    static const char *const soup[] = {"list", "3", "animals", "and", "bear", ",", ".", "\n", ";", "|", "07", "BEAR", "done",
                                       "start", "with", "b", "the", "letter", "even", "odd", "between", "20", "60", "?", ":", "\xc3\xa9", "and bee"};
    Rng rng;
    rng_seed(&rng, 3);
    int bad = 0;
    for (int i = 0; i < 3000; i++) {
        Buf a = {0}, b = {0};
        int n = rng_int(&rng, 40);
        for (int k = 0; k < n; k++) {
            if (rng_int(&rng, 4) == 0) buf_append_char(&a, (char)(1 + rng_int(&rng, 255)));
            else buf_printf(&a, "%s%s", soup[rng_int(&rng, (int)(sizeof soup / sizeof soup[0]))], rng_int(&rng, 2) ? " " : "");
            buf_printf(&b, "%s ", soup[rng_int(&rng, (int)(sizeof soup / sizeof soup[0]))]);
        }
        buf_append(&a, "", 0);
        buf_append(&b, "", 0);
        WorldTask t;
        world_sample_task(&rng, 3, &t);
        WorldGrade g;
        world_grade_task(&t, a.data, &g);
        char *j = world_judgment_task(&t, a.data);
        char tail[16];
        snprintf(tail, sizeof tail, "Score: %d", g.score);
        if (!j || g.score < 0 || g.score > 5 || strlen(j) < strlen(tail) || strcmp(j + strlen(j) - strlen(tail), tail) != 0) bad++;
        free(j);
        world_grade(b.data, a.data, &g);  // usually not an instruction; must not crash
        buf_free(&a);
        buf_free(&b);
    }
    CHECK(bad == 0, "%d random answers graded badly", bad);
}

// The judgment restates, lists items, one line per check, tallies, scores.
static void test_judgment_text(void) {
    char *j = world_judgment("List 3 animals that start with the letter b, separated by commas.", "bear, cat, bee");
    const char *want =
        "Asked: 3 animals, start with b, commas.\n"
        "Items: bear | cat | bee.\n"
        "Count 3, need 3: yes.\n"
        "Kinds animal animal animal, need animal: yes.\n"
        "First letters b c b, need b: no.\n"
        "Separator commas, need commas: yes.\n"
        "Extra: none.\n"
        "3 of 4 hold.\n"
        "Score: 3";
    CHECK(j && strcmp(j, want) == 0, "judgment:\n%s\nwant:\n%s", j ? j : "(null)", want);
    free(j);
    j = world_judgment("Give 3 odd numbers below 50 in decreasing order.", "41, 7, 33");
    CHECK(j && strstr(j, "Order: 41 > 7? yes; 7 > 33? no: no.\n") && strstr(j, "Below 50? yes yes yes: yes.\n") &&
          strstr(j, "Parity odd odd odd, need odd: yes.\n"), "number judgment:\n%s", j ? j : "(null)");
    free(j);
}

// Gold answers of sampled tasks always score 5; flawed ones spread over the scores.
static void test_gold_answers(void) {
    Rng rng;
    rng_seed(&rng, 11);
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        WorldTask t;
        world_sample_task(&rng, 1 + i % 5, &t);
        Buf gold = {0};
        world_gold_answer(&t, &rng, &gold);
        WorldGrade g;
        world_grade_task(&t, gold.data, &g);
        if (g.score != 5 && bad++ < 5) CHECK(0, "gold answer scores %d: %s", g.score, gold.data);
        buf_free(&gold);
    }
    CHECK(bad == 0, "%d gold answers do not score 5", bad);
}

// ----------------------------------------------------------------------------
// the generator

static char *read_all(const char *dir, const char *name, size_t *len) {
    char *path = path_join(dir, name), *data = NULL;
    if (read_file(path, &data, len, 0) < 0) data = NULL;
    free(path);
    return data;
}

static const char *const generated_files[] = {"pretrain.txt", "ift_seed.jsonl", "eft_seed.jsonl", "eft_eval.jsonl", "test.jsonl", "judge_test.jsonl"};
enum { N_GENERATED = 6 };

static void remove_dir(const char *dir) {
    for (int i = 0; i < N_GENERATED; i++) {
        char *p = path_join(dir, generated_files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

// Collects the "user" contents (or "instruction") of a JSONL file into a Buf of NUL-separated strings.
static int collect_instructions(const char *dir, const char *name, Buf *out, int *n) {
    char *path = path_join(dir, name);
    JsonlReader r;
    int rc = jsonl_open(&r, path);
    free(path);
    if (rc < 0) return -1;
    const JsonValue *rec;
    *n = 0;
    while ((rc = jsonl_next(&r, &rec)) == 1) {
        const char *s = json_get_string(rec, "instruction");
        if (!s) s = json_get_string(json_index(json_get(rec, "messages"), 0), "content");
        if (!s) { rc = -1; break; }
        buf_append(out, s, strlen(s) + 1);
        (*n)++;
    }
    jsonl_close(&r);
    return rc;
}

static int in_list(const Buf *list, int n, const char *s) {
    const char *p = list->data;
    for (int i = 0; i < n; i++, p += strlen(p) + 1)
        if (strcmp(p, s) == 0) return 1;
    return 0;
}

// Lines of a corpus that name two creatures or more and also a trait value: a line that could
// list creatures by a trait. The corpus must have none (facts are stated creature by creature).
static int lines_listing_creatures(const char *text) {
    int bad = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        int creatures = 0, values = 0;
        for (const char *p = line; p < end;) {
            while (p < end && !isalpha((unsigned char)*p)) p++;
            const char *w = p;
            while (p < end && isalpha((unsigned char)*p)) p++;
            char word[32];
            int len = (int)(p - w);
            if (len == 0 || len >= (int)sizeof word) continue;
            memcpy(word, w, (size_t)len);
            word[len] = 0;
            creatures += world_creature_index(word) >= 0;
            for (int t = 0; t < WORLD_N_TRAITS; t++)
                for (int v = 0; v < world_trait_n_values(t); v++) values += strcmp(word, world_trait_value(t, v)) == 0;
        }
        bad += creatures >= 2 && values > 0;
        line = *end ? end + 1 : end;
    }
    return bad;
}

// Lines "Color of zorak: red, need ..." (a check's statement of one creature's trait) whose
// value is not the creature's: the checks corpus must state every fact truly, as the facts
// corpus does, or the second stage would teach M0 wrong facts. Returns the count of wrong
// ones; *checked counts the lines read.
static int wrong_checked_facts(const char *text, int *checked) {
    int wrong = 0;
    *checked = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        char trait[16], name[32], value[32];
        if (sscanf(line, "%15[A-Za-z] of %31[a-z]: %31[a-z], need", trait, name, value) == 3) {
            trait[0] = (char)tolower((unsigned char)trait[0]);
            int c = world_creature_index(name), t = -1;
            for (int k = 0; k < WORLD_N_TRAITS; k++)
                if (strcmp(trait, world_trait_name(k)) == 0) t = k;
            if (c >= 0 && t >= 0) {
                (*checked)++;
                wrong += strcmp(value, world_trait_value(t, world_creature_trait(c, t))) != 0;
            }
        }
        line = *end ? end + 1 : end;
    }
    return wrong;
}

// How many "Differ x, x: no." lines a text holds: repeats found side by side.
static int repeats_found(const char *text) {
    int n = 0;
    for (const char *p = strstr(text, "\nDiffer "); p; p = strstr(p + 1, "\nDiffer ")) {
        char x[32], y[32], verdict[4];
        if (sscanf(p, "\nDiffer %31[a-z], %31[a-z]: %3[a-z]", x, y, verdict) == 3 && !strcmp(x, y) && !strcmp(verdict, "no")) n++;
    }
    return n;
}

// Creature requests of a file: how many come from the IFT seed's trait combinations, how many not.
static void count_seed_combinations(const char *dir, const char *name, int *seed, int *other) {
    char *path = path_join(dir, name);
    JsonlReader r;
    *seed = *other = 0;
    if (jsonl_open(&r, path) == 0) {
        const JsonValue *rec;
        while (jsonl_next(&r, &rec) == 1) {
            const char *ins = json_get_string(json_index(json_get(rec, "messages"), 0), "content");
            WorldTask t;
            if (!ins || world_parse(ins, &t) < 0 || t.family != WORLD_CREATURES) continue;
            if (world_seed_combination(&t)) (*seed)++;
            else (*other)++;
        }
        jsonl_close(&r);
    }
    free(path);
}

static void test_generator(void) {
    WorldOptions o;
    world_default_options(&o);
    o.seed = 5;
    o.n_ift = 300;
    o.n_eft = 1200;
    o.n_eft_eval = 120;
    o.n_test = 150;
    o.n_judge_test = 60;
    o.pretrain_bytes = 300000;
    char dir_a[256], dir_b[256];
    snprintf(dir_a, sizeof dir_a, "/tmp/test_world_%d_a", (int)getpid());
    snprintf(dir_b, sizeof dir_b, "/tmp/test_world_%d_b", (int)getpid());
    CHECK(world_generate(&o, dir_a) == 0, "generate: %s", srl_error);
    CHECK(world_generate(&o, dir_b) == 0, "generate again: %s", srl_error);
    for (int i = 0; i < N_GENERATED; i++) {
        size_t la = 0, lb = 0;
        char *a = read_all(dir_a, generated_files[i], &la), *b = read_all(dir_b, generated_files[i], &lb);
        CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "%s differs between two runs with the same seed", generated_files[i]);
        CHECK(la > 0, "%s is empty", generated_files[i]);
        free(a);
        free(b);
    }

    // EFT records: score == grade of (instruction, response), judgment ends with it, < 100 words.
    const char *eft_files[] = {"eft_seed.jsonl", "eft_eval.jsonl"};
    for (int f = 0; f < 2; f++) {
        char *path = path_join(dir_a, eft_files[f]);
        JsonlReader r;
        CHECK(jsonl_open(&r, path) == 0, "open %s", path);
        const JsonValue *rec;
        int hist[6] = {0}, n = 0, bad = 0, long_judgments = 0;
        while (jsonl_next(&r, &rec) == 1) {
            const char *ins = json_get_string(rec, "instruction"), *resp = json_get_string(rec, "response");
            const char *prompt = json_get_string(json_index(json_get(rec, "messages"), 0), "content");
            const char *judgment = json_get_string(json_index(json_get(rec, "messages"), 1), "content");
            long long score = -1;
            json_get_int(rec, "score", &score);
            if (!ins || !resp || !prompt || !judgment || score < 0 || score > 5) { bad++; continue; }
            WorldGrade g;
            int ok = world_grade(ins, resp, &g) == 0 && g.score == score;
            char tail[16];
            snprintf(tail, sizeof tail, "Score: %lld", score);
            ok &= strlen(judgment) >= strlen(tail) && strcmp(judgment + strlen(judgment) - strlen(tail), tail) == 0;
            ok &= strstr(prompt, ins) != NULL && strstr(prompt, "<response>") != NULL;
            char *again = world_judgment(ins, resp);
            ok &= again && strcmp(again, judgment) == 0;
            free(again);
            if (!ok && bad++ < 3) CHECK(0, "%s record %d: score %lld, instruction \"%s\", response \"%s\"", eft_files[f], n, score, ins, resp);
            long_judgments += count_words(judgment) > 120;  // 5 creatures under 2 traits: about 100 words, 160 tokens
            hist[score]++;
            n++;
        }
        jsonl_close(&r);
        free(path);
        CHECK(bad == 0, "%s: %d bad records", eft_files[f], bad);
        CHECK(long_judgments == 0, "%s: %d judgments of more than 120 words", eft_files[f], long_judgments);
        for (int s = 0; s < 6; s++)
            CHECK(hist[s] * 6 >= n * 9 / 10 && hist[s] * 6 <= n * 11 / 10, "%s: score %d has %d of %d records (not balanced)", eft_files[f], s, hist[s], n);
    }

    // Test and IFT answers score 5.
    {
        const char *files[] = {"test.jsonl", "ift_seed.jsonl"};
        for (int f = 0; f < 2; f++) {
            char *path = path_join(dir_a, files[f]);
            JsonlReader r;
            CHECK(jsonl_open(&r, path) == 0, "open %s", path);
            const JsonValue *rec;
            int bad = 0;
            while (jsonl_next(&r, &rec) == 1) {
                const JsonValue *messages = json_get(rec, "messages");
                const char *ins = json_get_string(json_index(messages, 0), "content");
                const char *answer = f == 0 ? json_get_string(rec, "gold") : json_get_string(json_index(messages, 1), "content");
                if (!ins || !answer || grade_of(ins, answer) != 5) bad++;
            }
            jsonl_close(&r);
            free(path);
            CHECK(bad == 0, "%s: %d answers do not score 5", files[f], bad);
        }
    }

    // judge_test: 4 responses, their gold scores, mostly 3 or more distinct scores.
    {
        char *path = path_join(dir_a, "judge_test.jsonl");
        JsonlReader r;
        CHECK(jsonl_open(&r, path) == 0, "open %s", path);
        const JsonValue *rec;
        int n = 0, three_distinct = 0, bad = 0;
        while (jsonl_next(&r, &rec) == 1) {
            const char *ins = json_get_string(rec, "instruction");
            const JsonValue *responses = json_get(rec, "responses"), *scores = json_get(rec, "scores");
            if (!ins || !responses || !scores || responses->count != 4 || scores->count != 4) { bad++; continue; }
            int seen[6] = {0}, distinct = 0;
            for (int i = 0; i < 4; i++) {
                const JsonValue *s = json_index(scores, i);
                const JsonValue *resp = json_index(responses, i);
                int score = s ? (int)s->number : -1;
                if (!resp || resp->type != JSON_STRING || score < 0 || score > 5 || grade_of(ins, resp->string) != score) { bad++; continue; }
                if (!seen[score]++) distinct++;
            }
            three_distinct += distinct >= 3;
            n++;
        }
        jsonl_close(&r);
        free(path);
        CHECK(bad == 0, "judge_test: %d bad responses", bad);
        CHECK(three_distinct * 10 >= n * 9, "judge_test: only %d of %d items have 3 distinct scores", three_distinct, n);
    }

    // Disjointness: held-out instructions appear in no training file, nor in each other.
    Buf test = {0}, judge = {0}, ift = {0}, eft = {0}, eft_eval = {0};
    int n_test, n_judge, n_ift, n_eft, n_eval;
    CHECK(collect_instructions(dir_a, "test.jsonl", &test, &n_test) == 0, "read test");
    CHECK(collect_instructions(dir_a, "judge_test.jsonl", &judge, &n_judge) == 0, "read judge_test");
    CHECK(collect_instructions(dir_a, "ift_seed.jsonl", &ift, &n_ift) == 0, "read ift");
    CHECK(collect_instructions(dir_a, "eft_seed.jsonl", &eft, &n_eft) == 0, "read eft");
    CHECK(collect_instructions(dir_a, "eft_eval.jsonl", &eft_eval, &n_eval) == 0, "read eft_eval");
    CHECK(n_test == o.n_test && n_judge == o.n_judge_test && n_ift == o.n_ift && n_eft == o.n_eft && n_eval == o.n_eft_eval, "record counts");
    size_t pretrain_len = 0;
    char *pretrain = read_all(dir_a, "pretrain.txt", &pretrain_len);
    CHECK(pretrain && (long)pretrain_len >= o.pretrain_bytes, "pretrain.txt has at least the bytes asked for");
    CHECK(pretrain && strstr(pretrain, "1. ") && strstr(pretrain, "requests:"), "pretrain.txt holds numbered request lists");
    CHECK(pretrain && lines_listing_creatures(pretrain) == 0, "pretrain.txt lists creatures by a trait on %d lines",
          pretrain ? lines_listing_creatures(pretrain) : -1);
    CHECK(pretrain && strstr(pretrain, "Color of "), "pretrain.txt states creatures' traits");
    int n_facts_checked = 0, wrong_facts = pretrain ? wrong_checked_facts(pretrain, &n_facts_checked) : -1;
    CHECK(wrong_facts == 0 && n_facts_checked > 0, "pretrain.txt states %d of %d checked facts wrongly", wrong_facts, n_facts_checked);
    // the IFT seed asks about its third of the trait combinations only; the test set about all
    int seed_ift, other_ift, seed_test, other_test;
    count_seed_combinations(dir_a, "ift_seed.jsonl", &seed_ift, &other_ift);
    count_seed_combinations(dir_a, "test.jsonl", &seed_test, &other_test);
    CHECK(seed_ift > o.n_ift / 2 && other_ift == 0, "IFT creature requests: %d from the seed's combinations, %d from others", seed_ift, other_ift);
    CHECK(seed_test > 0 && other_test > seed_test, "test creature requests: %d from the seed's combinations, %d from others", seed_test, other_test);
    int leaks = 0;
    const Buf *held[2] = {&test, &judge};
    int n_held[2] = {n_test, n_judge};
    for (int h = 0; h < 2; h++) {
        const char *p = held[h]->data;
        for (int i = 0; i < n_held[h]; i++, p += strlen(p) + 1) {
            int leak = in_list(&ift, n_ift, p) || in_list(&eft, n_eft, p) || in_list(&eft_eval, n_eval, p) ||
                       (pretrain && strstr(pretrain, p) != NULL) || (h == 0 && in_list(&judge, n_judge, p));
            for (const char *q = held[h]->data; q < p && !leak; q += strlen(q) + 1) leak = strcmp(q, p) == 0;  // unique within
            if (leak && leaks++ < 3) CHECK(0, "held-out instruction leaks: %s", p);
        }
    }
    CHECK(leaks == 0, "%d held-out instructions leak", leaks);
    free(pretrain);
    buf_free(&test);
    buf_free(&judge);
    buf_free(&ift);
    buf_free(&eft);
    buf_free(&eft_eval);

    // A fresh test set (--test-seed): every training file the same bytes, the held-out sets new,
    // and none of their requests in a training file, in the corpus, or in the first test set.
    {
        char dir_c[256];
        snprintf(dir_c, sizeof dir_c, "/tmp/test_world_%d_c", (int)getpid());
        WorldOptions f = o;
        f.test_seed = 9;
        CHECK(world_generate(&f, dir_c) == 0, "generate with a test seed: %s", srl_error);
        for (int i = 0; i < N_GENERATED; i++) {
            size_t la = 0, lc = 0;
            char *a = read_all(dir_a, generated_files[i], &la), *c = read_all(dir_c, generated_files[i], &lc);
            int held = strcmp(generated_files[i], "test.jsonl") == 0 || strcmp(generated_files[i], "judge_test.jsonl") == 0;
            int same = a && c && la == lc && memcmp(a, c, la) == 0;
            CHECK(held ? !same : same, "with a test seed, %s is %s", generated_files[i], held ? "drawn anew" : "the same bytes");
            free(a), free(c);
        }
        Buf fresh_test = {0}, fresh_judge = {0}, first_test = {0};
        int n_fresh, n_fresh_judge, n_first;
        CHECK(collect_instructions(dir_c, "test.jsonl", &fresh_test, &n_fresh) == 0, "read the fresh test");
        CHECK(collect_instructions(dir_c, "judge_test.jsonl", &fresh_judge, &n_fresh_judge) == 0, "read the fresh judge test");
        CHECK(collect_instructions(dir_a, "test.jsonl", &first_test, &n_first) == 0, "read the first test");
        Buf train_sets[3] = {{0}};
        int n_train[3];
        const char *train_files[3] = {"ift_seed.jsonl", "eft_seed.jsonl", "eft_eval.jsonl"};
        for (int i = 0; i < 3; i++) collect_instructions(dir_c, train_files[i], &train_sets[i], &n_train[i]);
        size_t corpus_len = 0;
        char *corpus = read_all(dir_c, "pretrain.txt", &corpus_len);
        int fresh_leaks = 0;
        const Buf *fresh_sets[2] = {&fresh_test, &fresh_judge};
        int n_fresh_sets[2] = {n_fresh, n_fresh_judge};
        for (int h = 0; h < 2; h++) {
            const char *p = fresh_sets[h]->data;
            for (int i = 0; i < n_fresh_sets[h]; i++, p += strlen(p) + 1) {
                int leak = in_list(&first_test, n_first, p) || (corpus && strstr(corpus, p) != NULL);
                for (int k = 0; k < 3; k++) leak |= in_list(&train_sets[k], n_train[k], p);
                if (leak && fresh_leaks++ < 3) CHECK(0, "a fresh held-out request was seen before: %s", p);
            }
        }
        CHECK(fresh_leaks == 0 && n_fresh == o.n_test, "%d of the fresh held-out requests were seen before", fresh_leaks);
        // --avoid: texts the fresh requests are kept out of as well (the corpora M0 was trained on):
        // with the first fresh request written to such a file, it is drawn no more; a missing
        // file is an error that names it
        {
            char avoid_path[256], dir_e[256];
            snprintf(avoid_path, sizeof avoid_path, "/tmp/test_world_%d_avoid.txt", (int)getpid());
            snprintf(dir_e, sizeof dir_e, "/tmp/test_world_%d_e", (int)getpid());
            FILE *af = fopen(avoid_path, "w");
            CHECK(af != NULL, "write %s", avoid_path);
            if (af) fprintf(af, "Some text.\n%s\n", fresh_test.data), fclose(af);
            WorldOptions g = f;
            g.avoid = avoid_path;
            CHECK(world_generate(&g, dir_e) == 0, "generate with --avoid: %s", srl_error);
            Buf avoided = {0};
            int n_avoided;
            CHECK(collect_instructions(dir_e, "test.jsonl", &avoided, &n_avoided) == 0, "read the test set drawn with --avoid");
            CHECK(n_avoided == o.n_test && !in_list(&avoided, n_avoided, fresh_test.data),
                  "with --avoid, the avoided request is not drawn (%d records)", n_avoided);
            buf_free(&avoided);
            g.avoid = "/nonexistent/corpus.txt";
            CHECK(world_generate(&g, dir_e) < 0 && strstr(srl_error, "/nonexistent/corpus.txt"), "a missing --avoid file: %s",
                  srl_error);
            remove(avoid_path);
            remove_dir(dir_e);
        }
        free(corpus);
        buf_free(&fresh_test), buf_free(&fresh_judge), buf_free(&first_test);
        for (int i = 0; i < 3; i++) buf_free(&train_sets[i]);
        remove_dir(dir_c);
    }

    // The second stage's corpus (--corpus checks): every other file the same bytes, the corpus
    // new; answers checked in the judge's manner with every fact true, lists copied, no line
    // listing creatures by a trait, and none of the held-out requests in it.
    {
        char dir_d[256];
        snprintf(dir_d, sizeof dir_d, "/tmp/test_world_%d_d", (int)getpid());
        WorldOptions k = o;
        k.corpus = WORLD_CORPUS_CHECKS;
        CHECK(world_generate(&k, dir_d) == 0, "generate the checks corpus: %s", srl_error);
        for (int i = 0; i < N_GENERATED; i++) {
            size_t la = 0, ld = 0;
            char *a = read_all(dir_a, generated_files[i], &la), *d = read_all(dir_d, generated_files[i], &ld);
            int corpus = strcmp(generated_files[i], "pretrain.txt") == 0;
            int same = a && d && la == ld && memcmp(a, d, la) == 0;
            CHECK(corpus ? !same : same, "with --corpus checks, %s is %s", generated_files[i], corpus ? "new" : "the same bytes");
            free(a), free(d);
        }
        size_t len = 0;
        char *checks = read_all(dir_d, "pretrain.txt", &len);
        int n_checked = 0, wrong = checks ? wrong_checked_facts(checks, &n_checked) : -1;
        CHECK(checks && (long)len >= k.pretrain_bytes, "the checks corpus has at least the bytes asked for");
        CHECK(wrong == 0 && n_checked > 100, "the checks corpus states %d of %d checked facts wrongly", wrong, n_checked);
        CHECK(checks && strstr(checks, "Items: ") && strstr(checks, " hold.") && strstr(checks, "Score: "),
              "the checks corpus holds checked answers");
        CHECK(checks && repeats_found(checks) > 0, "the checks corpus holds creature answers with a repeat, found");
        CHECK(checks && (strstr(checks, "Again:") || strstr(checks, "Repeated:")), "the checks corpus holds copied lists");
        CHECK(checks && lines_listing_creatures(checks) == 0, "the checks corpus lists creatures by a trait on %d lines",
              checks ? lines_listing_creatures(checks) : -1);
        Buf held_test = {0};
        int n_held_test, held_leaks = 0;
        CHECK(collect_instructions(dir_a, "test.jsonl", &held_test, &n_held_test) == 0, "read test");
        const char *p = held_test.data;
        for (int i = 0; i < n_held_test; i++, p += strlen(p) + 1) held_leaks += checks && strstr(checks, p) != NULL;
        CHECK(held_leaks == 0, "%d held-out requests are in the checks corpus", held_leaks);
        buf_free(&held_test);
        free(checks);
        remove_dir(dir_d);
    }

    // A bad option is refused.
    o.difficulty = 9;
    CHECK(world_generate(&o, dir_b) < 0 && strstr(srl_error, "difficulty"), "difficulty 9 is refused");
    remove_dir(dir_a);
    remove_dir(dir_b);
}

// The committed corpus (data/world/pretrain.txt, when make test runs from the repository) holds
// the same property as every generated one: no line lists creatures by a trait.
static void test_committed_corpus(void) {
    size_t len = 0;
    char *text = read_all("data/world", "pretrain.txt", &len);
    if (!text) {
        printf("skip: data/world/pretrain.txt not found (run from the repository), not checking the committed corpus\n");
        return;
    }
    CHECK(lines_listing_creatures(text) == 0, "data/world/pretrain.txt lists creatures by a trait on %d lines", lines_listing_creatures(text));
    free(text);
}

int main(void) {
    test_lexicon();
    test_bestiary();
    test_grammar();
    test_robustness();
    test_grade_word_lists();
    test_grade_number_lists();
    test_grade_single_answers();
    test_grade_creatures();
    test_judgment_text();
    test_gold_answers();
    test_generator();
    test_committed_corpus();
    return check_summary("test_world");
}
