/* check.h: the unit tests' harness. Each test file defines tests as functions calling CHECK(),
 * lists them in main with RUN(), and ends with `return check_report();`, which prints
 * "N passed, N failed" and returns non-zero on any failure. */
#ifndef FN_CHECK_H
#define FN_CHECK_H

#include <stdio.h>
#include <string.h>
#include <math.h>

static int check_passed, check_failed, check_cur_failed;
static const char *check_cur = "";

#define CHECK(cond) do { if (!(cond)) { \
        fprintf(stderr, "  FAIL %s: %s:%d: %s\n", check_cur, __FILE__, __LINE__, #cond); \
        check_cur_failed = 1; } } while (0)
#define CHECKF(cond, ...) do { if (!(cond)) { \
        fprintf(stderr, "  FAIL %s: %s:%d: %s: ", check_cur, __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); check_cur_failed = 1; } } while (0)
#define CHECK_NEAR(a, b, tol) CHECKF(fabs((double)(a) - (double)(b)) <= (tol), "%g vs %g", (double)(a), (double)(b))

#define RUN(fn) do { check_cur = #fn; check_cur_failed = 0; fn(); \
        if (check_cur_failed) { check_failed++; printf("not ok %s\n", #fn); } \
        else { check_passed++; printf("ok %s\n", #fn); } fflush(stdout); } while (0)

static inline int check_report(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
