// report.h: the report of a self-rewarding run (report.json, report.md, SVG charts, and the
// summary table), made from the files in the run folder.
#ifndef SRL_REPORT_H
#define SRL_REPORT_H

#include <stdint.h>
#include <stdio.h>

// Head-to-head of model b against model a on the same held-out items, matched by id: wins,
// ties and losses by grader score (0..5), and the paired bootstrap interval of the accuracy
// difference b - a (accuracy: score 5). Items of b with a negative score (not gradeable) or
// without a match in a are left out; n counts the items compared.
typedef struct {
    int n, wins, ties, losses;
    double diff, diff_lo, diff_hi;
} HeadToHead;
void head_to_head(char *const *ids_a, const double *score_a, int n_a, char *const *ids_b, const double *score_b, int n_b,
                  uint64_t seed, HeadToHead *h);

// Reads run_dir's eval/ and iter*/ files, writes run_dir/report.json, report.md,
// accuracy.svg, judge.svg, pairs.svg and dpo.svg, and prints the summary table to summary
// (may be NULL). settings: a JSON object recorded in the report (may be NULL).
// world_format: the loop judged with the world's judge template, so its judgments can be set
// beside the grader's line by line (0: that table is left empty). -1 with srl_error when a
// file is missing or bad.
int write_run_report(const char *run_dir, int iterations, const char *settings, int world_format, FILE *summary);

#endif
