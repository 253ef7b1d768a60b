/* Timing helpers shared by the benchmark programs. Header-only; the including file defines _POSIX_C_SOURCE
 * (clock_gettime under -std=c11) before its first system header. */
#ifndef BG_BENCH_UTIL_H
#define BG_BENCH_UTIL_H

#include <time.h>

/* Seconds on the monotonic clock. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort order on doubles (for medians of repeated timings). */
static int dbl_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

#endif
