// judge.c: LLM-as-a-Judge: the judge prompt, the score parser, preference pairs, judge metrics.
#include "judge.h"

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
