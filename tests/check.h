// check.h: the assertions of srl's C tests. Each test program includes this, calls CHECK and
// friends, and ends with `return check_summary("name");`: it prints the number of checks and
// failures and exits non-zero when any failed. A failed check prints file:line and the values.
#ifndef SRL_CHECK_H
#define SRL_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_count = 0, check_failed = 0;

static inline void check_report(int ok, const char *file, int line, const char *fmt, ...) {
    check_count++;
    if (ok) return;
    check_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// CHECK(condition, "printf-style message", ...): the message says what was expected.
#define CHECK(cond, ...) check_report((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

// Relative closeness of two numbers: |a - b| <= tol * max(|a|, |b|, floor).
static inline int close_rel(double a, double b, double tol, double floor_) {
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    if (scale < floor_) scale = floor_;
    return fabs(a - b) <= tol * scale && !isnan(a) && !isnan(b);
}

// The largest |a[i] - b[i]| over n values, relative to the largest |b[i]| (at least floor_).
static inline double max_rel_diff(const float *a, const float *b, size_t n, double floor_) {
    double worst = 0, scale = floor_;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst || isnan(d)) worst = isnan(d) ? INFINITY : d;
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    return worst / scale;
}

static inline int check_summary(const char *name) {
    if (check_failed) fprintf(stderr, "%s: %d of %d checks FAILED\n", name, check_failed, check_count);
    else printf("%s: all %d checks passed\n", name, check_count);
    return check_failed ? 1 : 0;
}

// The fixtures folder from SRL_FIXTURES, or NULL (the caller then prints that it skips).
static inline const char *fixtures_dir(void) {
    const char *d = getenv("SRL_FIXTURES");
    return d && *d ? d : NULL;
}

#endif
