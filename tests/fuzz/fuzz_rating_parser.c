// fuzz_rating_parser: judge_parse_rating (judge.h), MT-Bench's "[[k]]" rating, on the input as a
// C string. A judge's output is free text; on every text:
//   - the status is OK, MISSING or OUT_OF_RANGE; OK gives a rating in 1..10, the others NaN;
//   - the same status without a place for the rating;
//   - the FIRST [[k]] decides: "Rating: [[7]]" put before the text makes it 7.
#include <math.h>

#include "../../judge.h"
#include "fuzz.h"

static void check_input(const uint8_t *data, size_t size) {
    char *text = fuzz_cstring(data, size);
    double rating = -1;
    int status = judge_parse_rating(text, &rating);
    FUZZ_CHECK(status == JUDGE_SCORE_OK || status == JUDGE_SCORE_MISSING || status == JUDGE_SCORE_OUT_OF_RANGE, "status %d", status);
    if (status == JUDGE_SCORE_OK) FUZZ_CHECK(rating >= 1 && rating <= 10, "rating %g outside 1..10", rating);
    else FUZZ_CHECK(isnan(rating), "status %d left %g", status, rating);
    FUZZ_CHECK(judge_parse_rating(text, NULL) == status, "the status depends on whether a rating is asked for");
    Buf b = {0};
    buf_append_str(&b, "Rating: [[7]]\n");
    buf_append_str(&b, text);
    double first = -1;
    FUZZ_CHECK(judge_parse_rating(b.data, &first) == JUDGE_SCORE_OK && first == 7, "a leading [[7]] did not decide");
    buf_free(&b);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_watch_allocations();
    check_input(data, size);
    fuzz_check_allocations(size);
    return 0;
}
