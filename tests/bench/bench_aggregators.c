/* Median wall time per call of every aggregator (and NNM, bucketing, and the NNM + CM pipeline the paper's runs use)
 * against a plain copy (memcpy) of the n*d input floats, the floor no rule can beat: what each rule costs beyond
 * touching its input once. Cells: the paper's two settings first, n = 20 and f = 9 at a9a's d = 123 and the
 * Fashion-MNIST CNN's d = 21,840; then n in {20, 100}, d in {1e3, 1e5, 1e6} with f = n/5.
 *
 *   bench_aggregators [--paper] [RULE...]
 *
 * --paper: the two paper cells only. RULEs: only these rows (copy always; nnm+cm is named `nnm+cm`). Calls shorter
 * than 50 us are timed in groups (the `calls` column) so that the clock's resolution does not count. */
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
char *openblas_get_corename(void);

#define MAX_REPS 51
#define MIN_REPS 5
#define CELL_BUDGET 0.6   /* seconds of repetitions per (rule, n, d) after the first call */
#define MIN_SAMPLE 5e-5   /* seconds: shorter calls are timed in groups */

typedef struct {
    const bg_agg_args_t *a;
    const bg_aggregator_ops_t *g;   /* one of g, p */
    const bg_preagg_ops_t *p;
    bg_robust_t *rob;               /* or the whole pre + aggregator pipeline */
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
    if (j->rob)
        return bg_robust_run(j->rob, j->in, j->out, NULL);
    for (size_t i = 0; i < j->n; i++)   /* the copy baseline */
        memcpy(j->rows[i], j->in[i], j->d * sizeof(float));
    return BG_OK;
}

/* Median seconds per call: one untimed call (warm-up: first-touch of buffers, BLAS init) that also sizes the
 * repetitions, then as many timed samples as fit the budget (MIN_REPS..MAX_REPS), each of `calls` calls (enough
 * for MIN_SAMPLE seconds). */
static double time_job(job_t *j, int *reps_out, int *calls_out)
{
    double t[MAX_REPS + 1];
    double t0 = now();
    if (job_run(j) != BG_OK)
        return -1.0;
    double first = now() - t0;
    int calls = 1;
    if (first < 1e-2) {   /* a second warm-up call: the first one of a small cell is mostly cache misses */
        t0 = now();
        job_run(j);
        first = now() - t0;
    }
    if (first < MIN_SAMPLE)
        calls = first > 0.0 ? (int)(MIN_SAMPLE / first) + 1 : 1000;
    int reps = first > 0.0 ? (int)(CELL_BUDGET / (first * calls)) : MAX_REPS;
    if (reps < MIN_REPS)
        reps = MIN_REPS;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    for (int r = 1; r <= reps; r++) {
        t0 = now();
        for (int c = 0; c < calls; c++)
            job_run(j);
        t[r] = (now() - t0) / calls;
    }
    qsort(t + 1, (size_t)reps, sizeof t[0], dbl_cmp);
    *reps_out = reps;
    *calls_out = calls;
    return reps % 2 ? t[1 + reps / 2] : 0.5 * (t[reps / 2] + t[1 + reps / 2]);
}

/* Rules named on the command line only (all when none): a cell at n = 100, d = 1e6 takes seconds. */
static int wanted(int argc, char **argv, const char *name)
{
    int any = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        any = 1;
        if (!strcmp(argv[i], name))
            return 1;
    }
    return !any;
}

typedef struct {
    size_t n, d, f;
    const char *what;
} cell_t;

static void row(const char *name, const cell_t *c, double t, double tc, int reps, int calls)
{
    printf("%-10s %5zu %8zu %3zu %12.3e %8.2f %5d %6d  %s\n", name, c->n, c->d, c->f, t, t / tc, reps, calls, c->what);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bg_blas_select(argv, 1);
    openblas_set_num_threads(1);   /* one server core, as the simulator charges it */
    static const cell_t cells[] = {
        {20, 123, 9, "paper-a9a"},     {20, 21840, 9, "fmnist-cnn"}, {20, 1000, 4, ""},   {20, 100000, 4, ""},
        {20, 1000000, 4, ""},          {100, 1000, 20, ""},          {100, 100000, 20, ""}, {100, 1000000, 20, ""}};
    size_t ncells = sizeof cells / sizeof cells[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--paper"))
            ncells = 2;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--paper] [RULE...]\n", argv[0]);
            return 2;
        }
    }
    const double t_start = now();
    char blas[512];
    printf("# median seconds per call; x copy = time / time of copying the n*d input floats (memcpy per row); "
           "%s, 1 thread\n", bg_blas_describe(blas, sizeof blas));
    printf("%-10s %5s %8s %3s %12s %8s %5s %6s  %s\n", "rule", "n", "d", "f", "seconds", "x copy", "reps", "calls",
           "setting");
    for (size_t ci = 0; ci < ncells; ci++) {
        const cell_t *c = &cells[ci];
        size_t n = c->n, d = c->d;
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
        a.f = c->f;
        a.rng = bg_rng_stream(1, BG_RNG_SERVER, 0);
        job_t j = {.a = &a, .in = (const float *const *)rows, .rows = brows, .n = n, .d = d, .out = out};
        int reps, calls;
        double tc = time_job(&j, &reps, &calls);
        row("copy", c, tc, tc, reps, calls);
        for (size_t pi = 0; bg_preagg_registry[pi]; pi++) {
            const bg_preagg_ops_t *p = bg_preagg_registry[pi];
            if ((strcmp(p->name, "nnm") && strcmp(p->name, "bucketing")) || !wanted(argc, argv, p->name))
                continue;
            job_t jp = j;
            jp.p = p;
            double t = time_job(&jp, &reps, &calls);
            row(p->name, c, t, tc, reps, calls);
        }
        if (wanted(argc, argv, "nnm+cm")) {   /* the server's whole robust step in the paper's runs */
            bg_robust_t rob;
            bg_err_t err;
            if (bg_robust_init(&rob, "nnm", "cm", &a, n, d, &err) != BG_OK) {
                fprintf(stderr, "bench_aggregators: nnm+cm: %s\n", err.msg);
                return 1;
            }
            job_t jr = j;
            jr.rob = &rob;
            double t = time_job(&jr, &reps, &calls);
            row("nnm+cm", c, t, tc, reps, calls);
            bg_robust_destroy(&rob);
        }
        for (size_t ai = 0; bg_aggregator_registry[ai]; ai++) {
            const bg_aggregator_ops_t *g = bg_aggregator_registry[ai];
            if (!wanted(argc, argv, g->name))
                continue;
            bg_err_t err;
            if (g->check && g->check(&a, n, d, &err) != BG_OK) {
                printf("%-10s %5zu %8zu %3zu %12s  (refused: %s)\n", g->name, n, d, c->f, "-", err.msg);
                continue;
            }
            job_t jg = j;
            jg.g = g;
            if (g->state_new && g->state_new(&a, n, d, &jg.st) != BG_OK) {
                fprintf(stderr, "bench_aggregators: %s: no memory for its state\n", g->name);
                return 1;
            }
            double t = time_job(&jg, &reps, &calls);
            if (t < 0.0)
                printf("%-10s %5zu %8zu %3zu %12s  (run failed)\n", g->name, n, d, c->f, "-");
            else
                row(g->name, c, t, tc, reps, calls);
            if (g->state_free)
                g->state_free(jg.st);
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
