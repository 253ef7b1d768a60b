/* Median wall time per call of every aggregator (and NNM, bucketing) at n in {20, 100}, d in {1e3, 1e5, 1e6},
 * against a plain copy of the n*d floats: what each rule costs beyond touching its input once. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L   /* clock_gettime under -std=c11 */
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_aggregate.h"
#include "bg_config.h"
#include "blas_select.h"

#include "bench_util.h"

void openblas_set_num_threads(int n);

#define MAX_REPS 51
#define MIN_REPS 5
#define CELL_BUDGET 0.6   /* seconds of repetitions per (rule, n, d) after the first call */

typedef struct {
    const bg_agg_args_t *a;
    const bg_aggregator_ops_t *g;   /* one of g, p */
    const bg_preagg_ops_t *p;
    void *st;
    const float *const *in;
    float *const *rows;   /* pre-aggregator output, or the copy destination */
    size_t n, d;
    float *out;
} job_t;

static int job_run(job_t *j)
{
    if (j->g)
        return j->g->run(j->a, j->st, j->in, j->n, j->d, j->out);
    if (j->p) {
        size_t n_out;
        return j->p->run(j->a, j->st, j->in, j->n, j->d, j->rows, &n_out);
    }
    for (size_t i = 0; i < j->n; i++)   /* the copy baseline */
        memcpy(j->rows[i], j->in[i], j->d * sizeof(float));
    return BG_OK;
}

/* Median seconds per call: one untimed call (warm-up: first-touch of buffers, BLAS init) that also sizes the
 * repetitions, then as many timed calls as fit the budget (MIN_REPS..MAX_REPS). */
static double time_job(job_t *j, int *reps_out)
{
    double t[MAX_REPS + 1];
    double t0 = now();
    if (job_run(j) != BG_OK)
        return -1.0;
    t[0] = now() - t0;
    int reps = t[0] > 0.0 ? (int)(CELL_BUDGET / t[0]) : MAX_REPS;
    if (reps < MIN_REPS)
        reps = MIN_REPS;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    for (int r = 1; r <= reps; r++) {
        t0 = now();
        job_run(j);
        t[r] = now() - t0;
    }
    qsort(t + 1, (size_t)reps, sizeof t[0], dbl_cmp);
    *reps_out = reps;
    return reps % 2 ? t[1 + reps / 2] : 0.5 * (t[reps / 2] + t[1 + reps / 2]);
}

/* Rules named on the command line only (all when none): a cell at n = 100, d = 1e6 takes seconds. */
static int wanted(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    bg_blas_select(argv, 1);
    openblas_set_num_threads(1);   /* one server core, as the simulator charges it */
    static const size_t ns[] = {20, 100};
    static const size_t ds[] = {1000, 100000, 1000000};
    const double t_start = now();
    char blas[512];
    printf("# median seconds per call; ratio = time / time of copying the n*d floats; f = n/5; %s, 1 thread\n",
           bg_blas_describe(blas, sizeof blas));
    printf("%-10s %5s %8s %12s %8s %5s\n", "rule", "n", "d", "seconds", "x copy", "reps");
    for (size_t ni = 0; ni < 2; ni++)
        for (size_t di = 0; di < 3; di++) {
            size_t n = ns[ni], d = ds[di];
            float *data = malloc(n * d * sizeof *data), *buf = malloc(n * d * sizeof *buf);
            float **rows = malloc(n * sizeof *rows), **brows = malloc(n * sizeof *brows);
            float *out = malloc(d * sizeof *out);
            if (!data || !buf || !rows || !brows || !out) {
                fprintf(stderr, "bench_aggregators: out of memory at n = %zu, d = %zu\n", n, d);
                return 1;
            }
            uint64_t s = 0x9E3779B97F4A7C15ull ^ (n * 1000003u + d);
            for (size_t i = 0; i < n * d; i++) {   /* xorshift: gaussian-free filler, fast at 1e8 values */
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                data[i] = (float)((double)(s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
            }
            memset(buf, 0x3f, n * d * sizeof *buf);   /* fault the pages in before anything is timed (0 becomes calloc) */
            for (size_t i = 0; i < n; i++) {
                rows[i] = data + i * d;
                brows[i] = buf + i * d;
            }
            bg_agg_args_t a;
            bg_agg_args_default(&a);
            a.f = n / 5;
            a.rng = bg_rng_stream(1, BG_RNG_SERVER, 0);
            job_t j = {.a = &a, .in = (const float *const *)rows, .rows = brows, .n = n, .d = d, .out = out};
            int reps;
            double tc = time_job(&j, &reps);
            printf("%-10s %5zu %8zu %12.6f %8.2f %5d\n", "copy", n, d, tc, 1.0, reps);
            for (size_t pi = 0; bg_preagg_registry[pi]; pi++) {
                const bg_preagg_ops_t *p = bg_preagg_registry[pi];
                if ((strcmp(p->name, "nnm") && strcmp(p->name, "bucketing")) || !wanted(argc, argv, p->name))
                    continue;
                job_t jp = j;
                jp.p = p;
                double t = time_job(&jp, &reps);
                printf("%-10s %5zu %8zu %12.6f %8.2f %5d\n", p->name, n, d, t, t / tc, reps);
            }
            for (size_t ai = 0; bg_aggregator_registry[ai]; ai++) {
                const bg_aggregator_ops_t *g = bg_aggregator_registry[ai];
                if (!wanted(argc, argv, g->name))
                    continue;
                bg_err_t err;
                if (g->check && g->check(&a, n, d, &err) != BG_OK) {
                    printf("%-10s %5zu %8zu %12s  (refused: %s)\n", g->name, n, d, "-", err.msg);
                    continue;
                }
                job_t jg = j;
                jg.g = g;
                if (g->state_new && g->state_new(&a, n, d, &jg.st) != BG_OK) {
                    fprintf(stderr, "bench_aggregators: %s: no memory for its state\n", g->name);
                    return 1;
                }
                double t = time_job(&jg, &reps);
                if (t < 0.0)
                    printf("%-10s %5zu %8zu %12s  (run failed)\n", g->name, n, d, "-");
                else
                    printf("%-10s %5zu %8zu %12.6f %8.2f %5d\n", g->name, n, d, t, t / tc, reps);
                if (g->state_free)
                    g->state_free(jg.st);
                fflush(stdout);
            }
            gsl_rng_free(a.rng);
            free(data);
            free(buf);
            free(rows);
            free(brows);
            free(out);
        }
    printf("# total %.1f s\n", now() - t_start);
    return 0;
}
