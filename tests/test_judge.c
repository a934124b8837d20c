// test_judge.c: the pure parts of the judge: the score parser, the mean of a candidate's samples,
// pair selection with and without length control, judge metrics against gold scores, and
// bootstrap confidence intervals; the round ticks of the report's charts.
// Build: cc -O2 -Wall -Wextra -o test_judge tests/test_judge.c judge.c util.c -lm
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "../judge.h"
#include "../report.h"
#include "../util.h"

// ----------------------------------------------------------------------------
// the score parser

typedef struct {
    const char *text;
    int status;
    double score;   // expected when status is OK
} ScoreCase;

static const ScoreCase score_cases[] = {
    // the forms the template asks for, and their usual variations
    {"Score: 4", JUDGE_SCORE_OK, 4},
    {"Score: 4.5", JUDGE_SCORE_OK, 4.5},
    {"Score: 3.7", JUDGE_SCORE_OK, 3.7},                     // the double nearest 3.7, exactly
    {"score: 4/5", JUDGE_SCORE_OK, 4},
    {"Score: 4 / 5", JUDGE_SCORE_OK, 4},
    {"Score: 4/5.0", JUDGE_SCORE_OK, 4},
    {"Score: 5/5", JUDGE_SCORE_OK, 5},
    {"Score: 2.5 out of 5.", JUDGE_SCORE_OK, 2.5},
    {"Score: 4 (out of 5)", JUDGE_SCORE_OK, 4},
    {"Score:4", JUDGE_SCORE_OK, 4},
    {"score : 4", JUDGE_SCORE_OK, 4},
    {"SCORE: 2", JUDGE_SCORE_OK, 2},
    {"Score:\n4", JUDGE_SCORE_OK, 4},
    {"Score:\t\t 4", JUDGE_SCORE_OK, 4},
    {"Score: 4.", JUDGE_SCORE_OK, 4},                        // a sentence's period, not a decimal point
    {"Score: 4...", JUDGE_SCORE_OK, 4},
    {"Score: 4, because it is complete.", JUDGE_SCORE_OK, 4},
    {"Score: 4 points", JUDGE_SCORE_OK, 4},
    {"Score: 4 - a solid answer", JUDGE_SCORE_OK, 4},
    {"Score: 4 (a good answer)", JUDGE_SCORE_OK, 4},
    {"Score: 4 out there", JUDGE_SCORE_OK, 4},               // "out" not followed by "of": no scale
    {"Score: 0", JUDGE_SCORE_OK, 0},
    {"Score: 5.0", JUDGE_SCORE_OK, 5},
    {"Score: 0004", JUDGE_SCORE_OK, 4},
    {"Final Score: 5", JUDGE_SCORE_OK, 5},
    {"### Score: 3/5", JUDGE_SCORE_OK, 3},
    {"The response is relevant and complete.\nScore: 3\nThanks!", JUDGE_SCORE_OK, 3},
    // markdown around the label and the number
    {"**Score:** 4", JUDGE_SCORE_OK, 4},
    {"**Score**: 4", JUDGE_SCORE_OK, 4},
    {"*Score*: _4_", JUDGE_SCORE_OK, 4},
    {"__Score__: **4**", JUDGE_SCORE_OK, 4},
    {"**Score: 4**", JUDGE_SCORE_OK, 4},
    {"Score: **4**/5", JUDGE_SCORE_OK, 4},
    // the template's own placeholder form
    {"Score: <4>", JUDGE_SCORE_OK, 4},
    {"Score: <4/5>", JUDGE_SCORE_OK, 4},
    {"Score: <4", JUDGE_SCORE_MISSING, 0},                   // could mean "below 4"
    {"Score: <total points>", JUDGE_SCORE_MISSING, 0},
    {"Score: <4>/10", JUDGE_SCORE_MISSING, 0},
    // several labels: the last one decides, even when it is unreadable or out of range
    {"Score: 2\nOn reflection it is better.\nScore: 5", JUDGE_SCORE_OK, 5},
    {"Score: 7 was a typo. Score: 3", JUDGE_SCORE_OK, 3},
    {"Score: 3 ... Score: 7", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 3 ... Score: four", JUDGE_SCORE_MISSING, 0},
    {"Score: 4\n\nScore breakdown follows.", JUDGE_SCORE_OK, 4},   // "Score breakdown" has no colon
    {"Score: 4. It scores 4 points; the score is high.", JUDGE_SCORE_OK, 4},
    // prose, other separators, and words that merely contain "score"
    {"the score is high", JUDGE_SCORE_MISSING, 0},
    {"This response scores 4 points.", JUDGE_SCORE_MISSING, 0},
    {"SCORE - 4", JUDGE_SCORE_MISSING, 0},
    {"score = 4", JUDGE_SCORE_MISSING, 0},
    {"Scores: 4", JUDGE_SCORE_MISSING, 0},
    {"Subscore: 4", JUDGE_SCORE_MISSING, 0},
    {"HighScore: 4", JUDGE_SCORE_MISSING, 0},
    {"Score\xEF\xBC\x9A" "4", JUDGE_SCORE_MISSING, 0},       // full-width colon
    {"", JUDGE_SCORE_MISSING, 0},
    {"4", JUDGE_SCORE_MISSING, 0},
    // written but not a readable number
    {"Score: four", JUDGE_SCORE_MISSING, 0},
    {"Score: ", JUDGE_SCORE_MISSING, 0},
    {"Score:", JUDGE_SCORE_MISSING, 0},
    {"Score: 1e3", JUDGE_SCORE_MISSING, 0},
    {"Score: 4e", JUDGE_SCORE_MISSING, 0},
    {"Score: 0x4", JUDGE_SCORE_MISSING, 0},
    {"Score: 4.5.6", JUDGE_SCORE_MISSING, 0},
    {"Score: 4,5", JUDGE_SCORE_MISSING, 0},
    {"Score: .5", JUDGE_SCORE_MISSING, 0},
    {"Score: +4", JUDGE_SCORE_MISSING, 0},
    {"Score: 4th", JUDGE_SCORE_MISSING, 0},
    {"Score: 4points", JUDGE_SCORE_MISSING, 0},
    {"Score: nan", JUDGE_SCORE_MISSING, 0},
    {"Score: NaN", JUDGE_SCORE_MISSING, 0},
    {"Score: inf", JUDGE_SCORE_MISSING, 0},
    {"Score: -inf", JUDGE_SCORE_MISSING, 0},
    {"Score: 3-4", JUDGE_SCORE_MISSING, 0},                  // a range
    {"Score: 3 - 4", JUDGE_SCORE_MISSING, 0},
    {"Score: 4/5/5", JUDGE_SCORE_MISSING, 0},
    {"Score: 4/", JUDGE_SCORE_MISSING, 0},
    {"Score: 4 (/5", JUDGE_SCORE_MISSING, 0},
    {"Score: 4 out of five", JUDGE_SCORE_MISSING, 0},
    {"Score: 1234567890123456", JUDGE_SCORE_MISSING, 0},     // 16 digits
    // written, readable, but not a score on the 5-point scale
    {"Score: -1", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: -0", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 7", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 10", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 5.01", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 4/10", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 6/5", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 4 out of 10", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 4 (out of 10)", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: **4**/10", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Score: 123456789012345", JUDGE_SCORE_OUT_OF_RANGE, 0}, // 15 digits
    // non-ASCII around the score
    {"\xE2\x80\x9CScore: 4\xE2\x80\x9D", JUDGE_SCORE_OK, 4},           // “Score: 4”
    {"\xE2\x86\x92 Score: 4 \xE2\x9C\x93", JUDGE_SCORE_OK, 4},         // → Score: 4 ✓
    {"\xC2\xABScore: 3\xC2\xBB", JUDGE_SCORE_OK, 3},                   // «Score: 3»
    {"Score: 4\xE3\x80\x82", JUDGE_SCORE_OK, 4},                       // 4。
    {"Score: 4\xE2\x80\xA6", JUDGE_SCORE_OK, 4},                       // 4…
    {"Score: 4\xC2\xA0points", JUDGE_SCORE_OK, 4},                     // no-break space
    {"R\xC3\xA9ponse correcte. Score: 2", JUDGE_SCORE_OK, 2},
    {"Score: 4\xC2\xBD", JUDGE_SCORE_MISSING, 0},                      // 4½
    {"Score: 4\xE2\x81\x84" "5", JUDGE_SCORE_MISSING, 0},              // 4⁄5 with the fraction slash
    {"Score: \xEF\xBC\x94", JUDGE_SCORE_MISSING, 0},                   // full-width 4
    {"Score: 4\xC3\xA9", JUDGE_SCORE_MISSING, 0},                      // 4é
    {"Scor\xC3\xA9: 4", JUDGE_SCORE_MISSING, 0},
};

static void test_score_table(void) {
    int n = (int)(sizeof score_cases / sizeof score_cases[0]);
    CHECK(n >= 40, "the table holds %d cases", n);
    for (int i = 0; i < n; i++) {
        const ScoreCase *sc = &score_cases[i];
        double score = -123;
        int status = judge_parse_score(sc->text, &score);
        CHECK(status == sc->status, "\"%s\": status %s, expected %s", sc->text, judge_score_status_name(status),
              judge_score_status_name(sc->status));
        if (sc->status == JUDGE_SCORE_OK) CHECK(score == sc->score, "\"%s\": score %g, expected %g", sc->text, score, sc->score);
        else CHECK(isnan(score), "\"%s\": a score that is not OK is NaN, got %g", sc->text, score);
    }
    CHECK(judge_parse_score("Score: 4", NULL) == JUDGE_SCORE_OK, "a NULL score pointer is allowed");
    CHECK(strcmp(judge_score_status_name(JUDGE_SCORE_OK), "ok") == 0, "status name ok");
    CHECK(strcmp(judge_score_status_name(JUDGE_SCORE_MISSING), "missing") == 0, "status name missing");
    CHECK(strcmp(judge_score_status_name(JUDGE_SCORE_OUT_OF_RANGE), "out_of_range") == 0, "status name out_of_range");
}

// Builds prefix + `repeat` copies of unit + suffix in one malloc'd string.
static char *repeated(const char *prefix, const char *unit, int repeat, const char *suffix) {
    Buf b = {0};
    buf_append_str(&b, prefix);
    for (int i = 0; i < repeat; i++) buf_append_str(&b, unit);
    buf_append_str(&b, suffix);
    return b.data;
}

// Megabyte-sized outputs, built to punish a parser that rescans: the whole test must stay fast.
static void test_score_long_inputs(void) {
    struct {
        const char *prefix, *unit;
        int repeat;
        const char *suffix;
        int status;
        double score;
    } cases[] = {
        {"", "x", 1 << 20, "\nScore: 4", JUDGE_SCORE_OK, 4},
        {"", "x", 1 << 20, "Score: 4", JUDGE_SCORE_MISSING, 0},             // "xxxScore" is one word
        {"", "Score: 1 ", 1 << 17, "Score: 5", JUDGE_SCORE_OK, 5},
        {"", "score", 1 << 18, "", JUDGE_SCORE_MISSING, 0},
        {"", "score ", 1 << 18, ": 4", JUDGE_SCORE_OK, 4},               // ends in "score : 4", a label
        {"Score:", " *", 1 << 19, "4", JUDGE_SCORE_OK, 4},
        {"Score", "*", 1 << 20, ": 3", JUDGE_SCORE_OK, 3},
        {"Score: ", "0", 1 << 20, "4", JUDGE_SCORE_MISSING, 0},          // a million digits: too long
        {"Score: 4.", "5", 1 << 20, "", JUDGE_SCORE_MISSING, 0},
        {"", "Score:", 1 << 17, "", JUDGE_SCORE_MISSING, 0},
        {"", "\xE2\x9C\x93 Score ", 1 << 17, "Score: 2", JUDGE_SCORE_OK, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = repeated(cases[i].prefix, cases[i].unit, cases[i].repeat, cases[i].suffix);
        double score;
        int status = judge_parse_score(text, &score);
        CHECK(status == cases[i].status, "long case %zu: status %s", i, judge_score_status_name(status));
        if (cases[i].status == JUDGE_SCORE_OK) CHECK(score == cases[i].score, "long case %zu: score %g", i, score);
        free(text);
    }
}

static void test_mean_score(void) {
    double scores[] = {4, 123, 5, 3, -7};
    int status[] = {JUDGE_SCORE_OK, JUDGE_SCORE_MISSING, JUDGE_SCORE_OK, JUDGE_SCORE_OK, JUDGE_SCORE_OUT_OF_RANGE};
    double mean;
    CHECK(judge_mean_score(scores, status, 5, &mean) == 3, "three samples count");
    CHECK(mean == 4, "mean of 4, 5, 3 is 4, got %g", mean);
    int none[] = {JUDGE_SCORE_MISSING, JUDGE_SCORE_OUT_OF_RANGE};
    CHECK(judge_mean_score(scores, none, 2, &mean) == 0 && isnan(mean), "no OK sample: 0 counted, mean NaN");
    CHECK(judge_mean_score(scores, status, 0, &mean) == 0 && isnan(mean), "no samples at all: 0 counted");
}

// ----------------------------------------------------------------------------
// pair selection

static void check_pair(int line, const JudgedCandidate *c, int n, double rho, int status, int chosen, int rejected) {
    PairChoice p;
    judge_select_pair(c, n, rho, 0, &p);
    int ok = p.status == status && p.chosen == chosen && p.rejected == rejected;
    check_report(ok, __FILE__, line, "rho %g: got %s chosen %d rejected %d, expected %s chosen %d rejected %d", rho,
                 judge_pair_status_name(p.status), p.chosen, p.rejected, judge_pair_status_name(status), chosen, rejected);
}

static void test_select_pair(void) {
    const int OK = JUDGE_PAIR_OK, TIE = JUDGE_PAIR_TIE, TOO_FEW = JUDGE_PAIR_TOO_FEW;
    const double OFF = -1;

    // index, scored, mean, length
    JudgedCandidate basic[] = {{0, 1, 3, 10}, {1, 1, 5, 10}, {2, 1, 1, 10}, {3, 1, 4, 10}};
    check_pair(__LINE__, basic, 4, OFF, OK, 1, 2);
    PairChoice p;
    judge_select_pair(basic, 4, OFF, 0, &p);
    CHECK(p.score_chosen == 5 && p.score_rejected == 1, "pair scores 5 and 1, got %g and %g", p.score_chosen, p.score_rejected);

    // min_chosen: a pair is kept only when its chosen mean reaches it (a mean exactly on it counts)
    judge_select_pair(basic, 4, OFF, 5, &p);
    CHECK(p.status == OK && p.chosen == 1 && p.rejected == 2, "min_chosen 5, top 5: kept, got %s",
          judge_pair_status_name(p.status));
    JudgedCandidate below[] = {{0, 1, 4.6666666666666670, 10}, {1, 1, 2, 10}, {2, 1, 3, 10}};
    judge_select_pair(below, 3, OFF, 5, &p);
    CHECK(p.status == JUDGE_PAIR_LOW_CHOSEN && p.chosen == -1 && p.rejected == -1 && p.score_chosen > 4.6,
          "min_chosen 5, top 4.67: dropped as low_chosen, got %s", judge_pair_status_name(p.status));
    judge_select_pair(below, 3, OFF, 14.0 / 3.0, &p);
    CHECK(p.status == OK && p.chosen == 0 && p.rejected == 1, "min_chosen 14/3, top 4.67: kept, got %s",
          judge_pair_status_name(p.status));
    // a tie stays a tie whatever min_chosen says; length control chooses first, then the threshold
    judge_select_pair((JudgedCandidate[]){{0, 1, 2, 10}, {1, 1, 2, 10}}, 2, OFF, 5, &p);
    CHECK(p.status == TIE, "min_chosen with tied candidates: tie, got %s", judge_pair_status_name(p.status));
    JudgedCandidate lc_min[] = {{0, 1, 5, 300}, {1, 1, 4.5, 100}, {2, 1, 1, 20}};
    judge_select_pair(lc_min, 3, 0.25, 5, &p);
    CHECK(p.status == JUDGE_PAIR_LOW_CHOSEN, "length control picks 4.5, min_chosen 5 drops it, got %s",
          judge_pair_status_name(p.status));

    // ties at the top go to the lowest candidate index, not the first position
    JudgedCandidate top_tie[] = {{7, 1, 5, 10}, {3, 1, 2, 10}, {2, 1, 5, 10}, {9, 1, 3, 10}};
    check_pair(__LINE__, top_tie, 4, OFF, OK, 2, 3);
    // ties at the bottom likewise
    JudgedCandidate bottom_tie[] = {{0, 1, 4, 10}, {5, 1, 1, 10}, {4, 1, 1, 10}, {1, 1, 3, 10}};
    check_pair(__LINE__, bottom_tie, 4, OFF, OK, 0, 4);

    // all tied: no preference to learn
    JudgedCandidate all_tied[] = {{0, 1, 4, 10}, {1, 1, 4, 20}, {2, 1, 4, 5}};
    check_pair(__LINE__, all_tied, 3, OFF, TIE, -1, -1);
    check_pair(__LINE__, all_tied, 3, 0.5, TIE, -1, -1);
    judge_select_pair(all_tied, 3, OFF, 0, &p);
    CHECK(p.score_chosen == 4 && p.score_rejected == 4, "a tie reports the tied mean");

    // unscored candidates take no part, whatever their mean holds
    JudgedCandidate some_missing[] = {{0, 1, 3, 10}, {1, 0, NAN, 10}, {2, 1, 4, 10}, {3, 0, 5, 10}, {4, 0, 0, 10}};
    check_pair(__LINE__, some_missing, 5, OFF, OK, 2, 0);
    JudgedCandidate one_scored[] = {{0, 0, 5, 10}, {1, 1, 3, 10}, {2, 0, 1, 10}};
    check_pair(__LINE__, one_scored, 3, OFF, TOO_FEW, -1, -1);
    judge_select_pair(one_scored, 3, OFF, 0, &p);
    CHECK(isnan(p.score_chosen) && isnan(p.score_rejected), "too few: scores NaN");
    JudgedCandidate none_scored[] = {{0, 0, 5, 10}, {1, 0, 3, 10}};
    check_pair(__LINE__, none_scored, 2, OFF, TOO_FEW, -1, -1);
    JudgedCandidate single[] = {{0, 1, 5, 10}};
    check_pair(__LINE__, single, 1, OFF, TOO_FEW, -1, -1);
    check_pair(__LINE__, single, 1, 0.5, TOO_FEW, -1, -1);
    check_pair(__LINE__, NULL, 0, OFF, TOO_FEW, -1, -1);

    // Length control. means 5, 4.5, 3, 1; lengths 300, 100, 50, 20.
    JudgedCandidate lc[] = {{0, 1, 5, 300}, {1, 1, 4.5, 100}, {2, 1, 3, 50}, {3, 1, 1, 20}};
    check_pair(__LINE__, lc, 4, OFF, OK, 0, 3);     // off: the top
    check_pair(__LINE__, lc, 4, 0, OK, 0, 3);       // rho 0: threshold 5, only the top qualifies
    check_pair(__LINE__, lc, 4, 0.25, OK, 1, 3);    // threshold 0.75*5 + 0.25*1 = 4: {5, 4.5}, shortest 4.5
    check_pair(__LINE__, lc, 4, 0.5, OK, 2, 3);     // threshold 3 (a mean exactly on it counts): shortest 3
    check_pair(__LINE__, lc, 4, 1, TIE, -1, -1);    // rho 1: all qualify, the shortest is the rejected itself
    judge_select_pair(lc, 4, 0.25, 0, &p);
    CHECK(p.score_chosen == 4.5 && p.score_rejected == 1, "length control reports the chosen's own mean");

    // rho 0 with a tie at the top: the shorter of the top ones, whatever its index
    JudgedCandidate lc_top_tie[] = {{0, 1, 5, 300}, {1, 1, 5, 200}, {2, 1, 2, 10}};
    check_pair(__LINE__, lc_top_tie, 3, 0, OK, 1, 2);
    check_pair(__LINE__, lc_top_tie, 3, OFF, OK, 0, 2);
    // equal lengths: the higher mean, then the lowest index
    JudgedCandidate lc_same_length[] = {{4, 1, 4, 50}, {3, 1, 4.5, 50}, {1, 1, 4.5, 50}, {0, 1, 5, 90}, {2, 1, 1, 10}};
    check_pair(__LINE__, lc_same_length, 5, 0.5, OK, 1, 2);
    // rho 1 where the shortest is not the worst: every candidate qualifies
    JudgedCandidate lc_all[] = {{0, 1, 5, 300}, {1, 1, 2, 20}, {2, 1, 1, 80}};
    check_pair(__LINE__, lc_all, 3, 1, OK, 1, 2);
    // a mean exactly on the threshold whose computed value rounds above it:
    // 0.3 * 5 + 0.7 * 0 = 1.5000000000000002 in doubles, the mean 1.5 still qualifies
    JudgedCandidate lc_boundary[] = {{0, 1, 5, 100}, {1, 1, 1.5, 10}, {2, 1, 0, 50}};
    check_pair(__LINE__, lc_boundary, 3, 0.7, OK, 1, 2);
    // unscored short candidates are never chosen
    JudgedCandidate lc_unscored[] = {{0, 1, 5, 300}, {1, 0, 5, 1}, {2, 1, 4, 100}, {3, 1, 1, 200}};
    check_pair(__LINE__, lc_unscored, 4, 0.5, OK, 2, 3);

    CHECK(strcmp(judge_pair_status_name(OK), "ok") == 0 && strcmp(judge_pair_status_name(TIE), "tie") == 0 &&
          strcmp(judge_pair_status_name(TOO_FEW), "too_few") == 0, "pair status names");
}

// ----------------------------------------------------------------------------
// correlations and judge metrics

static void test_correlations(void) {
    // Spearman with ties on both sides, by hand:
    //   x = {4, 4, 3, 5, 2}  ranks {3.5, 3.5, 2, 5, 1}   (the two 4s share ranks 3 and 4)
    //   y = {3, 2, 2, 5, 1}  ranks {4, 2.5, 2.5, 5, 1}   (the two 2s share ranks 2 and 3)
    //   both rank means are 3; deviations dx = {.5, .5, -1, 2, -2}, dy = {1, -.5, -.5, 2, -2}
    //   sum dx*dy = .5 - .25 + .5 + 4 + 4 = 8.75, sum dx^2 = 9.5, sum dy^2 = 9.5
    //   rho = 8.75 / 9.5 = 35/38
    double x[] = {4, 4, 3, 5, 2}, y[] = {3, 2, 2, 5, 1};
    double rho = spearman_rho(x, y, 5);
    CHECK(fabs(rho - 35.0 / 38.0) < 1e-12, "spearman with ties %.15f, expected 35/38", rho);
    // Kendall tau-b on the same data, by hand: of the 10 pairs, (0,1) is tied in x only and (1,2)
    // in y only; the other 8 are all concordant. tau_b = (8 - 0) / sqrt((10 - 1) * (10 - 1)) = 8/9.
    double tau = kendall_tau_b(x, y, 5);
    CHECK(fabs(tau - 8.0 / 9.0) < 1e-12, "kendall tau-b with ties %.15f, expected 8/9", tau);
    // With discordant pairs: x = {1, 2, 2, 3}, y = {2, 1, 3, 3}.
    //   pairs (0,1) -, (0,2) +, (0,3) +, (1,2) tied in x, (1,3) +, (2,3) tied in y
    //   concordant 3, discordant 1, untied in x 5, untied in y 5: tau_b = 2/5.
    //   ranks x {1, 2.5, 2.5, 4}, y {2, 1, 3.5, 3.5}; dx {-1.5, 0, 0, 1.5}, dy {-.5, -1.5, 1, 1}
    //   sum dx*dy = .75 + 1.5 = 2.25, sum dx^2 = 4.5, sum dy^2 = .25 + 2.25 + 1 + 1 = 4.5: rho = 0.5.
    double x2[] = {1, 2, 2, 3}, y2[] = {2, 1, 3, 3};
    CHECK(fabs(kendall_tau_b(x2, y2, 4) - 0.4) < 1e-12, "kendall with a discordant pair %.15f", kendall_tau_b(x2, y2, 4));
    CHECK(fabs(spearman_rho(x2, y2, 4) - 0.5) < 1e-12, "spearman with a discordant pair %.15f", spearman_rho(x2, y2, 4));
    // reversed order: -1 for both
    double up[] = {1, 2, 3, 4}, down[] = {8, 6, 4, 2};
    CHECK(spearman_rho(up, down, 4) == -1 && kendall_tau_b(up, down, 4) == -1, "reversed order gives -1");
    CHECK(fabs(pearson(up, down, 4) + 1) < 1e-15, "pearson of a reversed line is -1");
    // undefined
    double constant[] = {3, 3, 3, 3};
    CHECK(isnan(spearman_rho(constant, up, 4)) && isnan(spearman_rho(up, constant, 4)), "spearman of a constant side is NaN");
    CHECK(isnan(kendall_tau_b(constant, up, 4)) && isnan(kendall_tau_b(up, constant, 4)), "kendall of a constant side is NaN");
    CHECK(isnan(pearson(constant, up, 4)), "pearson of a constant side is NaN");
    CHECK(isnan(spearman_rho(up, down, 1)) && isnan(kendall_tau_b(up, down, 1)), "one value: NaN");
    double tenths[] = {0.1, 0.1, 0.1};
    CHECK(isnan(pearson(tenths, up, 3)), "a constant that does not average exactly is still constant");
}

static void test_metrics(void) {
    // A: gold {3,2,1}, judge {5,4,4}. Pairs: (0,1) agree, (0,2) agree, (1,2) judge tie: 2 of 3.
    //    Not an exact match. Judge top {0} is gold-best: 1. Spearman sqrt(3)/2, Kendall 2/sqrt(6):
    //    judge ranks {3, 1.5, 1.5}, gold ranks {3, 2, 1}: sum dxdy 1.5, sum dx^2 1.5, sum dy^2 2;
    //    sign sum 2, untied judge pairs 2, untied gold pairs 3.
    double ga[] = {3, 2, 1}, ja[] = {5, 4, 4};
    unsigned char oka[] = {1, 1, 1};
    // B: gold {5,4,4,1}, judge {4,4,4,2}. Judge top {0,1,2}, gold-best {0}: credit 1/3.
    //    Pairs with different gold: (0,1) no, (0,2) no, (0,3) yes, (1,3) yes, (2,3) yes: 3 of 5.
    //    Judge ranks {3,3,3,1}, gold ranks {4,2.5,2.5,1}: sum dxdy 3, sum dx^2 3, sum dy^2 4.5:
    //    Spearman 3/sqrt(13.5) = sqrt(2/3). Kendall: sign sum 3, untied 3 and 5: 3/sqrt(15).
    double gb[] = {5, 4, 4, 1}, jb[] = {4, 4, 4, 2};
    unsigned char okb[] = {1, 1, 1, 1};
    // C: gold {2,1,3}, judge {1,?,4} with response 1 unscored. Pairs: (0,1) unscored: no,
    //    (0,2) agree, (1,2) unscored: no: 1 of 3. Judge top among scored {2} is gold-best: 1.
    //    Not an exact match; skipped by Spearman and Kendall.
    double gc[] = {2, 1, 3}, jc[] = {1, 99, 4};
    unsigned char okc[] = {1, 0, 1};
    // D: gold {3,3,1}, judge {4.5,4.5,2}: ties match ties, an exact match; 2 of 2 pairs; the judge
    //    top {0,1} is all gold-best: 1. Spearman 1, Kendall 1.
    double gd[] = {3, 3, 1}, jd[] = {4.5, 4.5, 2};
    unsigned char okd[] = {1, 1, 1};
    // E: gold {1,2}, judge {3,3}: the pair is a judge tie: 0 of 1. Judge top {0,1}, gold-best {1}:
    //    1/2. The judge is constant: skipped by Spearman and Kendall.
    double ge[] = {1, 2}, je[] = {3, 3};
    unsigned char oke[] = {1, 1};
    // F: no responses: counted in n_items only.
    // G: gold {1,2}, nothing scored: 0 of 1 pair, five-best credit 0, no exact match, skipped.
    double gg[] = {1, 2}, jg[] = {0, 0};
    unsigned char okg[] = {0, 0};
    JudgeItem items[] = {
        {3, ga, ja, oka}, {4, gb, jb, okb}, {3, gc, jc, okc}, {3, gd, jd, okd}, {2, ge, je, oke}, {0, NULL, NULL, NULL}, {2, gg, jg, okg},
    };
    JudgeMetrics m;
    m.parse_rate = 0.75;
    judge_metrics(items, 7, &m);
    CHECK(m.n_items == 7, "n_items %d", m.n_items);
    CHECK(m.n_responses == 17, "n_responses %d", m.n_responses);
    CHECK(m.n_unscored == 3, "n_unscored %d", m.n_unscored);
    CHECK(m.n_pairs == 15, "n_pairs %d", m.n_pairs);
    CHECK(fabs(m.pairwise_accuracy - 8.0 / 15.0) < 1e-12, "pairwise accuracy %.15f, expected 8/15", m.pairwise_accuracy);
    double five_best = (1 + 1.0 / 3 + 1 + 1 + 0.5 + 0) / 6;
    CHECK(fabs(m.five_best - five_best) < 1e-12, "five-best %.15f, expected %.15f", m.five_best, five_best);
    CHECK(fabs(m.exact_match - 1.0 / 6) < 1e-12, "exact match %.15f, expected 1/6", m.exact_match);
    CHECK(m.n_spearman_items == 3 && m.n_kendall_items == 3, "correlation items %d %d, expected 3 3", m.n_spearman_items,
          m.n_kendall_items);
    double spearman = (sqrt(3) / 2 + sqrt(2.0 / 3) + 1) / 3;
    double kendall = (2 / sqrt(6) + 3 / sqrt(15) + 1) / 3;
    CHECK(fabs(m.spearman - spearman) < 1e-12, "spearman %.15f, expected %.15f", m.spearman, spearman);
    CHECK(fabs(m.kendall_tau_b - kendall) < 1e-12, "kendall %.15f, expected %.15f", m.kendall_tau_b, kendall);
    CHECK(m.parse_rate == 0.75, "parse_rate is left as passed in");

    // Nothing to measure: NaN shares, zero counts.
    judge_metrics(items + 5, 1, &m);
    CHECK(m.n_items == 1 && m.n_pairs == 0 && isnan(m.pairwise_accuracy) && isnan(m.five_best) && isnan(m.exact_match) &&
          isnan(m.spearman) && isnan(m.kendall_tau_b), "an empty item gives NaN shares");
    // A perfect judge.
    judge_metrics(items + 3, 1, &m);
    CHECK(m.pairwise_accuracy == 1 && m.five_best == 1 && m.exact_match == 1 && m.spearman == 1 && m.kendall_tau_b == 1,
          "a judge that matches gold scores 1 everywhere");
}

// ----------------------------------------------------------------------------
// bootstrap

static void test_bootstrap(void) {
    double lo, hi, lo2, hi2, diff;
    double threes[50];
    for (int i = 0; i < 50; i++) threes[i] = 3;
    bootstrap_mean_ci(threes, 50, 1000, 1, 0.95, &lo, &hi);
    CHECK(lo == 3 && hi == 3, "a constant vector: [3, 3], got [%g, %g]", lo, hi);
    double tenths[7] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    bootstrap_mean_ci(tenths, 7, 500, 1, 0.9, &lo, &hi);
    CHECK(lo == hi && fabs(lo - 0.1) < 1e-15, "a constant vector of 0.1: zero width at 0.1, got [%.17g, %.17g]", lo, hi);

    Rng rng;
    rng_seed(&rng, 42);
    double x[200], mean = 0;
    for (int i = 0; i < 200; i++) {
        x[i] = 2 + rng_normal(&rng);
        mean += x[i];
    }
    mean /= 200;
    bootstrap_mean_ci(x, 200, 2000, 7, 0.95, &lo, &hi);
    CHECK(lo < mean && mean < hi, "the interval [%g, %g] holds the mean %g", lo, hi, mean);
    CHECK(hi - lo > 0.1 && hi - lo < 0.5, "width %g is about 4 standard errors (0.28)", hi - lo);
    bootstrap_mean_ci(x, 200, 2000, 7, 0.95, &lo2, &hi2);
    CHECK(lo2 == lo && hi2 == hi, "the same seed gives identical bounds");
    bootstrap_mean_ci(x, 200, 2000, 8, 0.95, &lo2, &hi2);
    CHECK(lo2 != lo || hi2 != hi, "another seed gives other bounds");

    // The documented percentile rule, replayed: the same Rng draws, sorted, indices 25 and 974.
    {
        int n = 20, n_boot = 1000;
        double means[1000];
        rng_seed(&rng, 99);
        for (int b = 0; b < n_boot; b++) {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += x[rng_int(&rng, n)];
            means[b] = sum / n;
        }
        // insertion sort: small and obviously right
        for (int i = 1; i < n_boot; i++)
            for (int j = i; j > 0 && means[j - 1] > means[j]; j--) {
                double t = means[j];
                means[j] = means[j - 1];
                means[j - 1] = t;
            }
        bootstrap_mean_ci(x, n, n_boot, 99, 0.95, &lo, &hi);
        CHECK(lo == means[25] && hi == means[974], "level 0.95 of 1000 resamples is m[25], m[974]");
        bootstrap_mean_ci(x, n, n_boot, 99, 0.9, &lo, &hi);
        CHECK(lo == means[50] && hi == means[949], "level 0.9 of 1000 resamples is m[50], m[949]");
    }

    // Coverage: over 200 samples of 30 standard normals, the 95% interval should hold the true
    // mean 0 about 93-95% of the time (the percentile bootstrap runs a little narrow for small n).
    int covered = 0;
    for (int t = 0; t < 200; t++) {
        double s[30];
        for (int i = 0; i < 30; i++) s[i] = rng_normal(&rng);
        bootstrap_mean_ci(s, 30, 400, (uint64_t)t, 0.95, &lo, &hi);
        covered += lo <= 0 && 0 <= hi;
    }
    CHECK(covered >= 170 && covered <= 198, "coverage %d of 200", covered);

    // paired differences
    bootstrap_paired_diff_ci(x, x, 200, 1000, 3, 0.95, &diff, &lo, &hi);
    CHECK(diff == 0 && lo == 0 && hi == 0, "identical vectors: difference 0 in [0, 0], got %g [%g, %g]", diff, lo, hi);
    double a[5] = {3, 4, 5, 2, 1}, b[5] = {2, 3, 4, 1, 0};
    bootstrap_paired_diff_ci(a, b, 5, 1000, 3, 0.95, &diff, &lo, &hi);
    CHECK(diff == 1 && lo == 1 && hi == 1, "a constant difference of 1: [1, 1], got %g [%g, %g]", diff, lo, hi);
    // Pairing matters: a and b vary a lot but their difference does not, so the paired interval
    // is far narrower than the two unpaired ones.
    double pa[100], pb[100], d[100];
    for (int i = 0; i < 100; i++) {
        pa[i] = 10 * rng_normal(&rng);
        pb[i] = pa[i] - 0.5 + 0.1 * rng_normal(&rng);
        d[i] = pa[i] - pb[i];
    }
    bootstrap_paired_diff_ci(pa, pb, 100, 1000, 5, 0.95, &diff, &lo, &hi);
    CHECK(lo < diff && diff < hi && hi - lo < 0.1 && lo > 0.4 && hi < 0.6, "paired difference %g in [%g, %g]", diff, lo, hi);
    bootstrap_mean_ci(d, 100, 1000, 5, 0.95, &lo2, &hi2);
    CHECK(lo2 == lo && hi2 == hi, "the paired interval is the interval of the differences");

    // undefined inputs
    bootstrap_mean_ci(x, 0, 1000, 1, 0.95, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi), "no items: NaN bounds");
    bootstrap_mean_ci(x, 10, 1000, 1, 1.0, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi), "level 1: NaN bounds");
    bootstrap_mean_ci(x, 10, 0, 1, 0.95, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi), "no resamples: NaN bounds");
    bootstrap_paired_diff_ci(a, b, 0, 1000, 3, 0.95, &diff, &lo, &hi);
    CHECK(isnan(diff) && isnan(lo) && isnan(hi), "paired, no items: NaN");
    bootstrap_mean_ci(x, 10, 1, 1, 0.95, &lo, &hi);
    CHECK(lo == hi && !isnan(lo), "one resample: both bounds are its mean");
}

// ----------------------------------------------------------------------------
// JSON strings written by srl (report settings hold user paths): escaped so that any byte
// string reads back as valid JSON, the same text where it was UTF-8.

static void test_json_string_escaping(void) {
    const char raw[] = "runs/\"quoted\" \\dir\n\ttab \x01 caf\xC3\xA9 bad\xFF end";
    Buf b = {0};
    buf_append_str(&b, "{\"path\": ");
    buf_json_string(&b, raw, sizeof raw - 1);
    buf_append_str(&b, "}");
    JsonDoc doc;
    int rc = json_parse(&doc, b.data, b.len);
    CHECK(rc == 0, "an escaped string must parse: %s (%s)", rc == 0 ? "" : srl_error, b.data);
    if (rc == 0) {
        const char *back = json_get_string(doc.root, "path");
        const char *want = "runs/\"quoted\" \\dir\n\ttab \x01 caf\xC3\xA9 bad\xEF\xBF\xBD end";  // 0xFF becomes U+FFFD
        CHECK(back && strcmp(back, want) == 0, "the string must read back unchanged, got \"%s\"", back ? back : "(null)");
        json_free(&doc);
    }
    buf_free(&b);
}

// ----------------------------------------------------------------------------
// head-to-head by id: the same counts whatever order the second file lists its items in

// ----------------------------------------------------------------------------
// the report's chart axes: round ticks (1, 2, 2.5, 5 x 10^k), worked out by hand below

static void test_axis_ticks(void) {
    static const struct {
        double lo, hi;
        const char *ticks;  // the labels the chart prints, space-separated
        const char *why;
    } cases[] = {
        // a share: 0.1 would take 10 intervals, 0.2 takes 5
        {0, 1, "0.0 0.2 0.4 0.6 0.8 1.0", "accuracy's [0, 1]"},
        // DPO's loss and margin: 0.25 takes 10 steps (-0.5..2.0 would be -2..8), 0.5 takes -1..4
        {-0.41, 1.772, "-0.5 0.0 0.5 1.0 1.5 2.0", "a loss and a margin"},
        // pairs' 212 x 1.1 = 233.2: 25 takes 0..10 (10 intervals), 50 takes 0..5
        {0, 233.2, "0 50 100 150 200 250", "counts of pairs"},
        // 0.3 / 0.02 = 14.999999999999998 and 0.3 / 0.05 = 5.999999999999999: rounding must not
        // add a step below; 0.02 takes 15..28 (13), 0.025 12..22 (10), 0.05 6..11 (5)
        {0.3, 0.55, "0.30 0.35 0.40 0.45 0.50 0.55", "ends on whole steps up to rounding"},
        // 0.2 takes 0..6 (6 intervals), 0.25 takes 0..5: two decimals for 0.25
        {0, 1.1, "0.00 0.25 0.50 0.75 1.00 1.25", "a step of 2.5 x 10^-1"},
        // DPO's x axis, steps 1 to 30: 5 takes 0..6 (6), 10 takes 0..3
        {1, 30, "0 10 20 30", "step numbers"},
        // 1 takes -7..-3, 4 intervals (0.5 would take 8)
        {-7, -3, "-7 -6 -5 -4 -3", "negative values"},
        // a flat series: [1, 2]
        {1, 1, "1.0 1.2 1.4 1.6 1.8 2.0", "one value"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        AxisTicks t = axis_ticks(cases[c].lo, cases[c].hi, 5);
        char got[256] = "", label[48];
        for (int i = 0; i <= t.n; i++) {
            axis_tick_label(&t, i, label, sizeof label);
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", label);
        }
        CHECK(strcmp(got, cases[c].ticks) == 0, "%s [%g, %g]: ticks %s, want %s", cases[c].why, cases[c].lo, cases[c].hi, got,
              cases[c].ticks);
        // (0.30000000000000004 holds 0.3: a whole step's multiple is rounded too)
        double slack = 1e-9 * t.step;
        CHECK(t.lo <= cases[c].lo + slack && t.hi >= cases[c].hi - slack && t.n <= 5,
              "%s: axis [%.17g, %.17g] in %d intervals must hold [%g, %g] in 5", cases[c].why, t.lo, t.hi, t.n, cases[c].lo,
              cases[c].hi);
    }
}

static void test_head_to_head(void) {
    char *ids_a[] = {"t1", "t2", "t3", "t4", "t5"};
    double score_a[] = {5, 3, 5, 0, 2};
    // b: t1 better? no (5 vs 5: tie); t2 5 vs 3 win; t3 4 vs 5 loss; t4 -1 (not gradeable: left
    // out); t5 5 vs 2 win; t9 has no match in a (left out)
    char *ids_same[] = {"t1", "t2", "t3", "t4", "t5", "t9"};
    double score_same[] = {5, 5, 4, -1, 5, 5};
    char *ids_shuffled[] = {"t9", "t5", "t3", "t1", "t4", "t2"};
    double score_shuffled[] = {5, 5, 4, 5, -1, 5};
    HeadToHead h1, h2;
    head_to_head(ids_a, score_a, 5, ids_same, score_same, 6, 7, &h1);
    head_to_head(ids_a, score_a, 5, ids_shuffled, score_shuffled, 6, 7, &h2);
    CHECK(h1.n == 4 && h1.wins == 2 && h1.ties == 1 && h1.losses == 1, "in order: n %d, %d/%d/%d, want 4, 2/1/1", h1.n,
          h1.wins, h1.ties, h1.losses);
    CHECK(h2.n == 4 && h2.wins == 2 && h2.ties == 1 && h2.losses == 1, "shuffled: n %d, %d/%d/%d, want 4, 2/1/1", h2.n,
          h2.wins, h2.ties, h2.losses);
    // accuracy (score 5): a has t1, t3 among the compared (2 of 4); b has t1, t2, t5 (3 of 4)
    CHECK(fabs(h1.diff - 0.25) < 1e-12, "accuracy difference %.4f, want 0.25", h1.diff);
}

// ----------------------------------------------------------------------------
// where a judgment first departs from the grader's: line by line

static void test_first_difference(void) {
    const char *ref = "Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5";
    struct {
        const char *judgment;
        int want;
    } cases[] = {
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5", -1},
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5\n", -1},   // trailing newline
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5  \n\n", -1},
        {"Asked: 2 words, start with b.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5", 0},
        {"Asked: 2 words, start with p.\nItems: pear | pug.\nCount 2, need 2: yes.\nScore: 5", 1},
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: no.\nScore: 3", 2},
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 4", 3},
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.", 3},                  // a line short
        {"Asked: 2 words, start with p.\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5\nThanks.", 4}, // a line more
        {"Asked: 2 words, start with p.\nItems: pear | pig.\n\nCount 2, need 2: yes.\nScore: 5", 2},     // an empty line
        {"Asked: 2 words, start with p.", 1},
        {"", 0},
        {"Asked: 2 words, start with p.\r\nItems: pear | pig.\nCount 2, need 2: yes.\nScore: 5", 0},    // CR is a character
    };
    JudgmentLines tally = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = judge_first_difference(cases[i].judgment, ref);
        CHECK(got == cases[i].want, "case %zu: first difference at line %d, want %d", i, got, cases[i].want);
        judgment_lines_add(&tally, cases[i].judgment, ref);
    }
    // the cases' first differences: -1 three times, line 0 three, line 1 two, later lines five
    CHECK(tally.compared == 13 && tally.right == 3 && tally.wrong_request == 3 && tally.wrong_answer == 2 &&
              tally.wrong_check == 5,
          "tally %d: right %d, request %d, answer %d, check %d; want 13: 3, 3, 2, 5", tally.compared, tally.right,
          tally.wrong_request, tally.wrong_answer, tally.wrong_check);
    CHECK(judge_first_difference("", "") == -1, "two empty judgments agree");
    CHECK(judge_first_difference("\n\n", " ") == -1, "white space only: both empty");
    CHECK(judge_first_difference("a\nb", "a\nc") == 1, "second line differs");
}

// Check by check: each reference check line paired with the judgment's next line of the same
// name; a missing line or one without a verdict agrees with neither side.
static void test_check_verdicts(void) {
    const char *ref = "Asked: 2 words, start with p, end with r.\nItems: pear | pig.\nCount 2, need 2: yes.\n"
                      "First letters p p, need p: yes.\nLast letters r g, need r: no.\nOrder: pear < pig? yes: yes.\n"
                      "Last word pig, need done: no.\nExtra: none.\n2 of 4 hold.\nScore: 2";
    JudgmentLines t = {0};
    // 1. the reference itself: 3 passes kept, 2 fails caught
    judgment_lines_add(&t, ref, ref);
    CHECK(t.all.passes == 3 && t.all.passes_kept == 3 && t.all.fails == 2 && t.all.fails_caught == 2,
          "self: passes %d kept %d, fails %d caught %d; want 3 3 2 2", t.all.passes, t.all.passes_kept, t.all.fails,
          t.all.fails_caught);
    // 2. a yes-sayer with other items: "Last letters" and "Last word" stay apart, both missed;
    //    the first letters line is lost ("no"), the order line has no verdict, Count is kept
    judgment_lines_add(&t, "Asked: 2 words.\nItems: pea | pit.\nCount 2, need 2: yes.\nFirst letters p b, need p: no.\n"
                           "Last letters r r, need r: yes.\nOrder: pea < pit? yes\nLast word pig, need done: yes.\nScore: 5",
                       ref);
    CHECK(t.all.passes == 6 && t.all.passes_kept == 4 && t.all.fails == 4 && t.all.fails_caught == 2,
          "after the yes-sayer: passes %d kept %d, fails %d caught %d; want 6 4 4 2", t.all.passes, t.all.passes_kept,
          t.all.fails, t.all.fails_caught);
    // 3. lines out of order: the search goes on from the last line paired, so once Count (written
    //    after First letters here) is paired, First letters is not found; the last three are absent
    judgment_lines_add(&t, "Asked: x.\nItems: x.\nFirst letters p p, need p: yes.\nCount 2, need 2: yes.\nScore: 5", ref);
    CHECK(t.all.passes == 9 && t.all.passes_kept == 5 && t.all.fails == 6 && t.all.fails_caught == 2,
          "after the shuffled one: passes %d kept %d, fails %d caught %d; want 9 5 6 2", t.all.passes, t.all.passes_kept,
          t.all.fails, t.all.fails_caught);
    // per name, in the order first met: Count, First letters, Last letters, Order, Last word
    const char *names[] = {"Count", "First letters", "Last letters", "Order", "Last word"};
    int passes[] = {3, 3, 0, 3, 0}, kept[] = {3, 1, 0, 1, 0}, fails[] = {0, 0, 3, 0, 3}, caught[] = {0, 0, 1, 0, 1};
    CHECK(t.n_checks == 5, "%d check names, want 5", t.n_checks);
    for (int k = 0; k < 5 && k < t.n_checks; k++) {
        const CheckVerdicts *c = &t.checks[k];
        CHECK(strcmp(c->name, names[k]) == 0 && c->passes == passes[k] && c->passes_kept == kept[k] && c->fails == fails[k] &&
                  c->fails_caught == caught[k],
              "check %d: %s passes %d kept %d fails %d caught %d; want %s %d %d %d %d", k, c->name, c->passes, c->passes_kept,
              c->fails, c->fails_caught, names[k], passes[k], kept[k], fails[k], caught[k]);
    }
    CHECK(fabs(check_share(t.all.fails_caught, t.all.fails) - 2.0 / 6) < 1e-12, "share caught %.4f, want 1/3",
          check_share(t.all.fails_caught, t.all.fails));
    CHECK(isnan(check_share(0, 0)), "a share of nothing is NaN");
    // a reference without checks (a bare score) counts nothing
    JudgmentLines u = {0};
    judgment_lines_add(&u, "Score: 5", "Items: none.\nNothing of the right kind.\nScore: 0");
    CHECK(u.all.passes == 0 && u.all.fails == 0 && u.n_checks == 0, "no checks: %d %d %d", u.all.passes, u.all.fails, u.n_checks);
}

// The self-instruction filters on hand-made continuations: each filter once, their order,
// whole-word blacklist matching, and ROUGE-L against the pool by hand.
static void test_prompt_filter(void) {
    uint64_t a[8], b[8];
    int na = prompt_words("a b c d", a, 8), nb = prompt_words("A, c; d e!", b, 8);
    CHECK(na == 4 && nb == 4, "words: %d and %d, want 4 and 4", na, nb);
    // LCS a c d = 3 of 4 each: P = R = 0.75
    CHECK(fabs(prompt_rouge_l(a, na, b, nb) - 0.75) < 1e-12, "ROUGE-L %.6f, want 0.75", prompt_rouge_l(a, na, b, nb));
    nb = prompt_words("a b c one two three", b, 8);
    na = prompt_words("a b c", a, 8);
    // LCS 3: P = 3/6, R = 3/3, F1 = 2/3
    CHECK(fabs(prompt_rouge_l(a, na, b, nb) - 2.0 / 3) < 1e-12, "ROUGE-L %.6f, want 2/3", prompt_rouge_l(a, na, b, nb));
    CHECK(prompt_rouge_l(a, na, b, 0) == 0.0, "ROUGE-L with an empty text is 0");
    CHECK(prompt_words("x y z", a, 2) == 2, "at most cap words");

    PromptPool pool = {0};
    prompt_pool_add(&pool, "Write down three different words that start with b.");
    struct {
        const char *text;
        double rouge_max;
        int want;
        const char *request;   // the trimmed request, when checked
    } cases[] = {
        {"Name three tools that are made of wood.\n", 0.7, PROMPT_KEPT, "Name three tools that are made of wood."},
        {"  Name three tools that are made of wood.  \n10. more", 0.7, PROMPT_KEPT, "Name three tools that are made of wood."},
        {"Name three tools that are made of wood.", 0.7, PROMPT_UNFINISHED, NULL},   // the budget ran out
        {"Name three tools that are made of\n", 0.7, PROMPT_UNFINISHED, NULL},
        {"   \n", 0.7, PROMPT_UNFINISHED, ""},
        {"Name three tools?\n", 0.7, PROMPT_TOO_SHORT, "Name three tools?"},
        {"Draw three tools that are made of wood.\n", 0.7, PROMPT_BLACKLISTED, NULL},
        {"Describe the IMAGE of a red car.\n", 0.7, PROMPT_BLACKLISTED, NULL},
        {"Open the drawer and name three tools.\n", 0.7, PROMPT_KEPT, NULL},           // "drawer" is not "draw"
        {"Draw\n", 0.7, PROMPT_UNFINISHED, NULL},                                       // unfinished comes first
        {"Draw it.\n", 0.7, PROMPT_TOO_SHORT, NULL},                                    // then the length
        {"write down three different words, that start with B?\n", 0.7, PROMPT_DUPLICATE, NULL},
        {"Write down three different words that start with c.\n", 0.7, PROMPT_SIMILAR, NULL},   // 8 of 9: 0.889
        {"Write down three different words that start with c.\n", 0.9, PROMPT_KEPT, NULL},
        {"one two three four five six seven eight nine ten one two three four five six seven eight nine ten "
         "one two three four five six seven eight nine ten one two three four five six seven eight nine ten x.\n",
         0.7, PROMPT_TOO_LONG, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = strdup(cases[i].text), *request = NULL;
        int got = prompt_filter(text, 4, 40, cases[i].rouge_max, &pool, &request);
        CHECK(got == cases[i].want, "case %zu: %s, want %s", i, prompt_verdict_name(got), prompt_verdict_name(cases[i].want));
        if (cases[i].request)
            CHECK(request && strcmp(request, cases[i].request) == 0, "case %zu: request \"%s\", want \"%s\"", i,
                  request ? request : "(null)", cases[i].request);
        free(text);
    }
    // a kept request joins the pool: the same request again is a duplicate
    prompt_pool_add(&pool, "Name three tools that are made of wood.");
    char again[] = "Name three tools, that are made of wood?\n", *request;
    CHECK(prompt_filter(again, 4, 40, 0.7, &pool, &request) == PROMPT_DUPLICATE, "a pooled request comes back as a duplicate");
    for (int i = 0; i < 100; i++) prompt_pool_add(&pool, "Give two numbers.");
    CHECK(pool.n == 102 && pool.cap >= 102 && pool.len[101] == 3, "the pool grows: %d requests", pool.n);
    prompt_pool_free(&pool);
    CHECK(strcmp(prompt_verdict_name(PROMPT_SIMILAR), "similar") == 0 && strcmp(prompt_verdict_name(99), "unknown") == 0,
          "verdict names");
}

// The generation-verification gap on hand-made prompts (N: no judge sample parsed / not gradeable):
//   A judge 5 3 4 2, grades 5 2 5 1: share 2/4; top is candidate 0, perfect; pair 0 over 3: better
//   B judge 4 4 N 1, grades 2 5 5 2: share 2/4; top a tie of 0 (grade 2) and 1 (grade 5), so perfect
//     half the time; pair 0 (the first of the tied) over 3: equal
//   C judge 3 3,     grades 1 5:     share 1/2; top a tie, perfect half the time; no pair (tie)
//   D judge 2 5 4,   grades N 1 5:   share 1/2 (candidate 0 is not gradeable and takes no part);
//     top is 1, not perfect; pair 1 over 2: worse
//   E judge N N,     grades 5 5:     nothing judged, not counted
// So 4 prompts, any perfect 0.5, top perfect 0.5 on average over seeds (1, 1/2, 1/2, 0), pairs 3,
// chosen perfect 1/3, better/equal/worse 1/1/1.
static void test_gap(void) {
    const double N = NAN;
    const double ja[] = {5, 3, 4, 2}, ga[] = {5, 2, 5, 1}, jb[] = {4, 4, N, 1}, gb[] = {2, 5, 5, 2};
    const double jcc[] = {3, 3}, gc[] = {1, 5}, jd[] = {2, 5, 4}, gd[] = {N, 1, 5}, je[] = {N, N}, ge[] = {5, 5};
    GapItem items[] = {{4, ja, ga}, {4, jb, gb}, {2, jcc, gc}, {3, jd, gd}, {2, je, ge}};
    GapResult r;
    judge_gap(items, 5, 1, &r);
    CHECK(r.prompts == 4, "gap: 4 prompts counted, got %d", r.prompts);
    CHECK(fabs(r.any_perfect - 0.5) < 1e-12, "gap: any perfect 0.5, got %g", r.any_perfect);
    CHECK(r.pairs == 3 && r.better == 1 && r.equal == 1 && r.worse == 1, "gap: 3 pairs, 1/1/1 better/equal/worse, got %d, %d/%d/%d",
          r.pairs, r.better, r.equal, r.worse);
    CHECK(fabs(r.chosen_perfect - 1.0 / 3) < 1e-12 && fabs(r.pair_any_perfect - 0.5) < 1e-12,
          "gap: chosen perfect 1/3 and 0.5 perfect among the paired prompts' candidates, got %g, %g", r.chosen_perfect,
          r.pair_any_perfect);
    double top_sum = 0;
    int quarters_only = 1;
    for (int seed = 1; seed <= 4000; seed++) {
        judge_gap(items, 5, (uint64_t)seed, &r);
        top_sum += r.top_perfect;
        quarters_only &= r.top_perfect == 0.25 || r.top_perfect == 0.5 || r.top_perfect == 0.75;
        quarters_only &= fabs(r.gap - (r.top_perfect - 0.5)) < 1e-12;
    }
    CHECK(quarters_only, "gap: top perfect is 1/4, 1/2 or 3/4 (A yes, D no, B and C by the draw) and gap = top - 0.5");
    CHECK(fabs(top_sum / 4000 - 0.5) < 0.02, "gap: ties broken evenly, top perfect 0.5 on average over seeds, got %.4f", top_sum / 4000);
    // F and G: the judge finds the one perfect answer of four every time: gap 0.75, interval [0.75, 0.75]
    const double jf[] = {5, 1, 1, 1}, gf[] = {5, 2, 2, 2}, jg[] = {1, 5, 1, 1}, gg[] = {1, 5, 1, 1};
    GapItem sure[] = {{4, jf, gf}, {4, jg, gg}};
    judge_gap(sure, 2, 3, &r);
    CHECK(fabs(r.gap - 0.75) < 1e-12 && fabs(r.gap_lo - 0.75) < 1e-12 && fabs(r.gap_hi - 0.75) < 1e-12 && r.better == 2,
          "gap: a judge that always finds the perfect answer: gap 0.75 [0.75, 0.75], got %g [%g, %g]", r.gap, r.gap_lo, r.gap_hi);
    judge_gap(NULL, 0, 1, &r);
    CHECK(r.prompts == 0 && isnan(r.gap) && isnan(r.any_perfect), "gap: no prompts gives NaN, not 0");
}

// ----------------------------------------------------------------------------
// MT-Bench's rating parser (FastChat's "[[rating]]" format)

static const ScoreCase rating_cases[] = {
    // FastChat's own examples: the form its judge prompt asks for ("Rating: [[5]]"), at the end of
    // an explanation as its judges write them
    {"Rating: [[5]]", JUDGE_SCORE_OK, 5},
    {"The assistant's answer is accurate and well organized, though it could cite sources.\n\nRating: [[8]]", JUDGE_SCORE_OK, 8},
    {"The response contains a calculation error (it should be 7, not 8).\n\nRating: [[3]]", JUDGE_SCORE_OK, 3},
    {"Rating: [[10]]", JUDGE_SCORE_OK, 10},
    {"Rating: [[1]]", JUDGE_SCORE_OK, 1},
    {"Rating: [[7.5]]", JUDGE_SCORE_OK, 7.5},
    {"Rating: [[8.]]", JUDGE_SCORE_OK, 8},                      // \d+\.?\d*: "8." is 8.0 to literal_eval
    {"[[6]]", JUDGE_SCORE_OK, 6},
    {"**Rating: [[9]]**", JUDGE_SCORE_OK, 9},
    // the FIRST [[k]] decides (re.search), not the last
    {"Rating: [[4]]\nOn reflection: Rating: [[6]]", JUDGE_SCORE_OK, 4},
    {"I would not give [[2]] here. Rating: [[7]]", JUDGE_SCORE_OK, 2},
    {"[[[8]]]", JUDGE_SCORE_OK, 8},                             // the leftmost match starts at the second '['
    // no [[k]]: the first [k] (FastChat's backup pattern), even a citation mark
    {"Rating: [7]", JUDGE_SCORE_OK, 7},
    {"As noted in [2], the answer is wrong. Rating: 9", JUDGE_SCORE_OK, 2},
    {"Rating: [5] and [[x]]", JUDGE_SCORE_OK, 5},
    {"Rating: [3.5]", JUDGE_SCORE_OK, 3.5},
    // nothing FastChat's patterns read
    {"Rating: 8", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[ 8 ]]", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[eight]]", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[rating]]", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[-3]]", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[8/10]]", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[.5]]", JUDGE_SCORE_MISSING, 0},
    {"Rating: [[8]", JUDGE_SCORE_OK, 8},                        // not [[8]], but [8] is there
    {"Rating: [[07]]", JUDGE_SCORE_MISSING, 0},                 // literal_eval refuses a leading zero
    {"Score: 4", JUDGE_SCORE_MISSING, 0},
    {"", JUDGE_SCORE_MISSING, 0},
    {"Rating: [\xD9\xA8]", JUDGE_SCORE_MISSING, 0},              // Arabic-Indic 8: srl reads ASCII digits
    // read, but not on MT-Bench's 1-10 scale (FastChat would keep them; srl counts them apart)
    {"Rating: [[0]]", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Rating: [[11]]", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Rating: [[10.5]]", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Rating: [0.5]", JUDGE_SCORE_OUT_OF_RANGE, 0},
    {"Rating: [[1234567890123456]]", JUDGE_SCORE_OUT_OF_RANGE, 0},
};

static void test_rating_table(void) {
    int n = (int)(sizeof rating_cases / sizeof rating_cases[0]);
    for (int i = 0; i < n; i++) {
        const ScoreCase *c = &rating_cases[i];
        double rating = -123;
        int status = judge_parse_rating(c->text, &rating);
        int ok = status == c->status && (status == JUDGE_SCORE_OK ? rating == c->score : isnan(rating));
        CHECK(ok, "rating of \"%s\": status %d rating %g, expected %d %g", c->text, status, rating, c->status, c->score);
    }
    // linear time on a long hostile text: many '[' with no rating
    size_t len = 1 << 20;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++) text[i] = i % 3 ? '[' : '1';
    text[len] = 0;
    CHECK(judge_parse_rating(text, NULL) == JUDGE_SCORE_MISSING, "a megabyte of '[1[[' has no rating");
    free(text);
    // FastChat's prompts, filled in: every placeholder replaced, the rating line kept
    const char *names[] = {"question", "answer", "ref_answer_1"}, *values[] = {"What is 2+2?", "4", "4"};
    char *p = mt_bench_format(MT_BENCH_JUDGE_PROMPTS[MT_BENCH_SINGLE_MATH].prompt_template, names, values, 3);
    CHECK(strstr(p, "[Question]\nWhat is 2+2?\n\n[The Start of Reference Answer]\n4\n[The End of Reference Answer]") != NULL &&
              strstr(p, "for example: \"Rating: [[5]]\".") != NULL && !strchr(p, '{'),
          "single-math-v1 filled in: %s", p);
    free(p);
    const char *names2[] = {"question_1", "question_2", "answer_1", "answer_2"}, *values2[] = {"Q1", "Q2", "A1", "A2"};
    p = mt_bench_format(MT_BENCH_JUDGE_PROMPTS[MT_BENCH_MULTI_TURN].prompt_template, names2, values2, 4);
    CHECK(strcmp(p, "<|The Start of Assistant A's Conversation with User|>\n\n### User:\nQ1\n\n### Assistant A:\nA1\n\n### User:\nQ2\n\n"
                    "### Assistant A:\nA2\n\n<|The End of Assistant A's Conversation with User|>") == 0,
          "single-v1-multi-turn filled in: %s", p);
    free(p);
}

int main(void) {
    test_score_table();
    test_rating_table();
    test_score_long_inputs();
    test_mean_score();
    test_select_pair();
    test_correlations();
    test_metrics();
    test_bootstrap();
    test_json_string_escaping();
    test_head_to_head();
    test_axis_ticks();
    test_first_difference();
    test_check_verdicts();
    test_prompt_filter();
    test_gap();
    return check_summary("test_judge");
}
