// fuzz_ifeval: every IFEval checker (ifeval.c), strict and loose, on the input as a response.
//
// Responses are free text written by any model: the checkers walk them byte by byte through
// UTF-8, Punkt and the Treebank rules, so on every text:
//   - each verdict is FOLLOWED, NOT_FOLLOWED, NOT_CHECKED or REFUSED, the same when asked twice;
//   - the loose verdict is FOLLOWED whenever the strict one is (the response is one of the
//     eight variants);
//   - the counts are whole numbers no larger than the text (a sentence, a word, a capital word
//     each holds at least one byte of it).
// Linear-ish time is watched by libFuzzer's -timeout.
#include "../../ifeval.h"
#include "fuzz.h"

// One instruction per checker, with kwargs that exercise it.
static const char *const instructions[][2] = {
    {"keywords:existence", "{\"keywords\": [\"a\", \"the\"]}"},
    {"keywords:frequency", "{\"keyword\": \"ab\", \"frequency\": 2, \"relation\": \"at least\"}"},
    {"keywords:forbidden_words", "{\"forbidden_words\": [\"x\", \"yes\"]}"},
    {"keywords:letter_frequency", "{\"letter\": \"e\", \"let_frequency\": 3, \"let_relation\": \"less than\"}"},
    {"language:response_language", "{\"language\": \"fr\"}"},
    {"length_constraints:number_sentences", "{\"num_sentences\": 3, \"relation\": \"at least\"}"},
    {"length_constraints:number_paragraphs", "{\"num_paragraphs\": 2}"},
    {"length_constraints:number_words", "{\"num_words\": 5, \"relation\": \"less than\"}"},
    {"length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 2, \"nth_paragraph\": 2, \"first_word\": \"so\"}"},
    {"detectable_content:number_placeholders", "{\"num_placeholders\": 1}"},
    {"detectable_content:postscript", "{\"postscript_marker\": \"P.P.S\"}"},
    {"detectable_content:postscript", "{\"postscript_marker\": \"P.S.\"}"},
    {"detectable_content:postscript", "{\"postscript_marker\": \"Note.\"}"},
    {"detectable_format:number_bullet_lists", "{\"num_bullets\": 2}"},
    {"detectable_format:constrained_response", "{}"},
    {"detectable_format:number_highlighted_sections", "{\"num_highlights\": 1}"},
    {"detectable_format:multiple_sections", "{\"section_spliter\": \"Section\", \"num_sections\": 2}"},
    {"detectable_format:json_format", "{}"},
    {"detectable_format:title", "{}"},
    {"combination:two_responses", "{}"},
    {"combination:repeat_prompt", "{\"prompt_to_repeat\": \"Say it.\"}"},
    {"startend:end_checker", "{\"end_phrase\": \"Bye.\"}"},
    {"change_case:capital_word_frequency", "{\"capital_frequency\": 2, \"capital_relation\": \"at least\"}"},
    {"change_case:english_capital", "{}"},
    {"change_case:english_lowercase", "{}"},
    {"punctuation:no_comma", "{}"},
    {"startend:quotation", "{}"},
    {"multi-turn:constrained_start", "{\"starter\": \"I think\"}"},
    {"detectable_format:rephrase", "{\"original_message\": \"I am *happy*.\"}"},
    {"keywords:key_sentences", "{\"key_sentences\": [\"Hi.\"], \"num_sentences\": 1}"},
    {"detectable_content:rephrase_paragraph", "{\"original_paragraph\": \"a b c\", \"low\": 1, \"high\": 2}"},
};

static void check_input(const uint8_t *data, size_t size) {
    char *text = fuzz_cstring(data, size);
    size_t n = strlen(text);
    int words = ifeval_count_words(text), sentences = ifeval_count_sentences(text), capitals = ifeval_count_capital_words(text);
    FUZZ_CHECK(words >= 0 && (size_t)words <= n && sentences >= 0 && (size_t)sentences <= n && capitals >= 0 && (size_t)capitals <= n,
               "counts %d words, %d sentences, %d capitals in %zu bytes", words, sentences, capitals, n);
    for (size_t k = 0; k < sizeof instructions / sizeof instructions[0]; k++) {
        JsonDoc doc;
        FUZZ_CHECK(json_parse(&doc, instructions[k][1], strlen(instructions[k][1])) == 0, "kwargs %s", instructions[k][1]);
        IfevalInstruction ins;
        FUZZ_CHECK(ifeval_instruction_parse(instructions[k][0], doc.root, &ins) == 0, "%s", instructions[k][0]);
        json_free(&doc);
        int strict = ifeval_check_strict(&ins, text), loose = ifeval_check_loose(&ins, text);
        FUZZ_CHECK(strict >= IFEVAL_NOT_FOLLOWED && strict <= IFEVAL_REFUSED && loose >= IFEVAL_NOT_FOLLOWED && loose <= IFEVAL_REFUSED,
                   "%s: verdicts %d, %d", instructions[k][0], strict, loose);
        FUZZ_CHECK(ifeval_check_strict(&ins, text) == strict, "%s: a second strict check differs", instructions[k][0]);
        FUZZ_CHECK(strict != IFEVAL_FOLLOWED || loose == IFEVAL_FOLLOWED, "%s: strict followed, loose %d", instructions[k][0], loose);
        ifeval_instruction_free(&ins);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
