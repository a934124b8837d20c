// fuzz_world: world_grade and world_judgment (world.h) on an (instruction, response) pair.
//
// The grader plays the human rater: it reads instructions the model may have written itself and
// responses the model wrote, so both are arbitrary text. The input is split at its first NUL
// byte (or, when there is none, its first newline) into the instruction and the response. It
// checks that:
//   - world_grade and world_judgment agree on whether the instruction is a world instruction;
//     when it is not, srl_error says why;
//   - a grade is consistent: score in 0..5, 0 <= n_met <= n_checks, exact == (score == 5), a
//     known family; and grading again gives the same grade;
//   - the judgment ends with "Score: <score>" and the judge's own score parser reads that score
//     back from it (the judgment is the EFT training target).
#include "../../judge.h"
#include "../../world.h"
#include "fuzz.h"

static void check_input(const uint8_t *data, size_t size) {
    size_t cut = 0;
    while (cut < size && data[cut] != 0) cut++;
    if (cut == size) {
        cut = 0;
        while (cut < size && data[cut] != '\n') cut++;
    }
    char *instruction = fuzz_cstring(data, cut);
    char *response = fuzz_cstring(cut < size ? data + cut + 1 : data + size, cut < size ? size - cut - 1 : 0);

    WorldGrade g;
    int rc = world_grade(instruction, response, &g);
    char *judgment = world_judgment(instruction, response);
    FUZZ_CHECK((rc == 0) == (judgment != NULL), "world_grade and world_judgment disagree on the instruction");
    if (rc < 0) {
        FUZZ_CHECK(strstr(srl_error, "not a world instruction"), "a refusal without its reason: %s", srl_error);
        FUZZ_CHECK(g.family == -1, "a refused instruction has family %d", g.family);
    } else {
        FUZZ_CHECK(g.score >= 0 && g.score <= 5, "score %d", g.score);
        FUZZ_CHECK(g.n_met >= 0 && g.n_met <= g.n_checks, "%d of %d checks met", g.n_met, g.n_checks);
        FUZZ_CHECK(g.exact == (g.score == 5), "exact %d with score %d", g.exact, g.score);
        FUZZ_CHECK(g.family >= 0 && g.family < world_n_families, "family %d", g.family);
        WorldGrade again;
        FUZZ_CHECK(world_grade(instruction, response, &again) == 0 && memcmp(&again, &g, sizeof g) == 0, "grading is not repeatable");
        char ending[32];
        snprintf(ending, sizeof ending, "Score: %d", g.score);
        size_t len = strlen(judgment), end_len = strlen(ending);
        FUZZ_CHECK(len >= end_len && strcmp(judgment + len - end_len, ending) == 0, "the judgment does not end with \"%s\"", ending);
        double parsed;
        FUZZ_CHECK(judge_parse_score(judgment, &parsed) == JUDGE_SCORE_OK && parsed == g.score,
                   "the judge's parser does not read %d back from the judgment", g.score);
        WorldTask t;
        FUZZ_CHECK(world_parse(instruction, &t) == 0, "world_parse refuses what world_grade took");
        int valid = world_count_valid(&t), is_list = t.family == WORLD_WORD_LIST || t.family == WORLD_NUMBER_LIST;
        int satisfiable = is_list ? t.count >= 1 && valid >= t.count : valid > 0;
        FUZZ_CHECK(g.unsatisfiable == !satisfiable, "unsatisfiable is %d but world_count_valid gives %d", g.unsatisfiable, valid);
    }
    free(judgment);
    free(instruction);
    free(response);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
