// judge.h: LLM-as-a-Judge: the judge prompt, the score parser, preference pairs, judge metrics.
#ifndef SRL_JUDGE_H
#define SRL_JUDGE_H

#include <stddef.h>

// The default judge template: the paper's additive 5-point rubric in our own words, then the
// request and the response, then the instruction to justify and end with "Score: <points>".
// A template is any text holding the placeholders {instruction} and {response}, once each.
extern const char JUDGE_DEFAULT_TEMPLATE[];

// Checks that a template holds {instruction} and {response}; -1 with srl_error otherwise.
int judge_check_template(const char *template_text);

// The judge prompt: the template with its placeholders replaced. Returns a malloc'd string.
char *judge_format_prompt(const char *template_text, const char *instruction, const char *response);

#endif
