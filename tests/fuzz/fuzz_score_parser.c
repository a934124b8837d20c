// fuzz_score_parser: judge_parse_score (judge.h) on the input as a C string.
//
// The judge's output is free text written by the model being trained: anything at all. The
// parser decides which samples count, so its contract must hold on every text:
//   - the status is JUDGE_SCORE_OK, _MISSING or _OUT_OF_RANGE, and has a name;
//   - OK gives a score in 0..5; any other status leaves NaN in *score;
//   - passing score = NULL gives the same status (the parser does not depend on it);
//   - the LAST label decides: the text after an earlier "Score: 2" line parses the same when it
//     has a label of its own (else as 2), and the text followed by a "Score: 3" line parses as 3.
// Linear time is the parser's promise too; libFuzzer's -timeout and slow-unit reports watch it.
#include <math.h>

#include "../../judge.h"
#include "fuzz.h"

static int parse(const char *text, double *score) {
    int status = judge_parse_score(text, score);
    FUZZ_CHECK(status == JUDGE_SCORE_OK || status == JUDGE_SCORE_MISSING || status == JUDGE_SCORE_OUT_OF_RANGE, "status %d",
               status);
    FUZZ_CHECK(strcmp(judge_score_status_name(status), "unknown") != 0, "status %d has no name", status);
    if (status == JUDGE_SCORE_OK) FUZZ_CHECK(*score >= 0 && *score <= 5, "score %g outside 0..5", *score);
    else FUZZ_CHECK(isnan(*score), "status %s left %g in *score", judge_score_status_name(status), *score);
    FUZZ_CHECK(judge_parse_score(text, NULL) == status, "the status depends on whether a score is asked for");
    return status;
}

static void check_input(const uint8_t *data, size_t size) {
    char *text = fuzz_cstring(data, size);
    double score = -1;
    int status = parse(text, &score);

    // an earlier label never overrides the last one
    Buf b = {0};
    buf_append_str(&b, "Score: 2\n");
    buf_append_str(&b, text);
    double score_prefixed = -1;
    int status_prefixed = parse(b.data, &score_prefixed);
    if (status == JUDGE_SCORE_MISSING)   // no label (then the 2 counts) or an unreadable last one
        FUZZ_CHECK(status_prefixed == JUDGE_SCORE_MISSING || (status_prefixed == JUDGE_SCORE_OK && score_prefixed == 2),
                   "an earlier label gave %s", judge_score_status_name(status_prefixed));
    else
        FUZZ_CHECK(status_prefixed == status && (status != JUDGE_SCORE_OK || score_prefixed == score),
                   "an earlier label changed the result from %s to %s", judge_score_status_name(status),
                   judge_score_status_name(status_prefixed));

    // a last label at the end, on a line of its own, always decides
    buf_clear(&b);
    buf_append_str(&b, text);
    buf_append_str(&b, "\nScore: 3");
    double score_appended = -1;
    FUZZ_CHECK(parse(b.data, &score_appended) == JUDGE_SCORE_OK && score_appended == 3,
               "a final \"Score: 3\" line was not read as 3");
    buf_free(&b);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
