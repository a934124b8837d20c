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

// A chart axis with round ticks over [lo, hi]: the step is 1, 2, 2.5 or 5 x 10^k, the smallest
// that spans the values in at most max_intervals steps, and the axis runs from lo rounded down
// to hi rounded up to whole steps. Ticks are (first + i) * step for i = 0..n; decimals shows
// them exactly (0.25: 2). hi <= lo is taken as [lo, lo + 1].
typedef struct {
    double lo, hi, step, first;  // first: lo / step, a whole number
    int n, decimals;             // intervals (n + 1 ticks), digits after the point in labels
} AxisTicks;
AxisTicks axis_ticks(double lo, double hi, int max_intervals);
void axis_tick_label(const AxisTicks *t, int i, char *buf, size_t cap);   // tick i as the chart prints it

// Reads run_dir's eval/ and iter*/ files, writes run_dir/report.json, report.md,
// accuracy.svg, judge.svg, pairs.svg and dpo.svg, and prints the summary table to summary
// (may be NULL). settings: a JSON object recorded in the report (may be NULL).
// world_format: the loop judged with the world's judge template, so its judgments can be set
// beside the grader's line by line (0: that table is left empty). -1 with srl_error when a
// file is missing or bad.
int write_run_report(const char *run_dir, int iterations, const char *settings, int world_format, FILE *summary);

#endif
