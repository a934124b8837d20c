// report.h: the report of a self-rewarding run (report.json, report.md, SVG charts, and the
// summary table), made from the files in the run folder.
#ifndef SRL_REPORT_H
#define SRL_REPORT_H

#include <stdio.h>

// Reads run_dir's eval/ and iter*/ files, writes run_dir/report.json, report.md,
// accuracy.svg, judge.svg, pairs.svg and dpo.svg, and prints the summary table to summary
// (may be NULL). settings: a JSON object recorded in the report (may be NULL). -1 with
// srl_error when a file is missing or bad.
int write_run_report(const char *run_dir, int iterations, const char *settings, FILE *summary);

#endif
