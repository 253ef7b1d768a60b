/* Forward + backward time of the neural models (cnn, lenet5, mlp) at one batch on one core, against the machine's
 * single-core sgemm roofline and PyTorch on the same networks (analysis/bench_cnn_torch.py, run from here).
 *
 *   bench_cnn [--verbose] [--no-torch] [--batch B] [--reps R] [--threads T]
 *
 * --threads T (default 1) gives OpenBLAS T threads for every call (roofline included) and PyTorch
 * torch.set_num_threads(T): equal threads on both sides. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* clock_gettime, popen under -std=c11 */
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_cblas.h>

#include "bg_model.h"
#include "blas_select.h"
#include "model_internal.h"

#include "bench_util.h"

void openblas_set_num_threads(int n);

#define MAX_REPS 400

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, dbl_cmp);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* GFLOP/s of an n x n x n sgemm, best of reps (the roofline the models are measured against: on a shared host a
 * median can be dragged down by a neighbour, and a low roof would flatter the models) and median. */
static double sgemm_roofline(int n, int reps, double *median_gf)
{
    *median_gf = NAN;
    float *A = malloc((size_t)n * n * sizeof *A), *B = malloc((size_t)n * n * sizeof *B),
          *C = malloc((size_t)n * n * sizeof *C);
    if (!A || !B || !C)
        return NAN;
    for (size_t i = 0; i < (size_t)n * n; i++) {
        A[i] = (float)(i % 7) * 0.1f;
        B[i] = (float)(i % 5) * 0.1f;
        C[i] = 0.0f;
    }
    double t[64];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A, n, B, n, 0.0f, C, n);
        t[r] = now() - t0;
    }
    free(A);
    free(B);
    free(C);
    double med = median(t, reps);   /* sorts t */
    *median_gf = 2.0 * n * (double)n * n / med / 1e9;
    return 2.0 * n * (double)n * n / t[0] / 1e9;
}

typedef struct {
    char name[16];
    double ms;
} torch_t;

/* Runs the PyTorch script and collects its "torch <model> <ms> <reps>" lines; returns how many (0: not run). */
static int run_torch(size_t batch, int threads, torch_t *out, int max)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/analysis/bench_cnn_torch.py --batch %zu --threads %d 2>&1",
             BG_SOURCE_DIR, batch, threads);
    FILE *f = popen(cmd, "r");
    if (!f) {
        printf("# PyTorch: could not run /usr/bin/python3; skipped\n");
        return 0;
    }
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        torch_t t;
        int reps;
        if (n < max && sscanf(line, "torch %15s %lf %d", t.name, &t.ms, &reps) == 3)
            out[n++] = t;
        else if (strstr(line, "not installed"))
            printf("# PyTorch: %s", line);
    }
    pclose(f);
    return n;
}

/* Median seconds of loss_grad on a fixed batch (after warm-up). */
static double time_model(const bg_model_t *m, const float *X, const int *y, const size_t *idx, size_t b, int reps)
{
    float *w = malloc(m->dim * sizeof *w), *g = malloc(m->dim * sizeof *g);
    gsl_rng *r = bg_rng_stream(1, BG_RNG_INIT, 0);
    bg_model_init_params(m, r, w);
    double t[MAX_REPS];
    for (int i = 0; i < 10; i++)
        m->ops->loss_grad(m, w, X, y, idx, b, g);
    for (int i = 0; i < reps; i++) {
        double t0 = now();
        m->ops->loss_grad(m, w, X, y, idx, b, g);
        t[i] = now() - t0;
    }
    gsl_rng_free(r);
    free(w);
    free(g);
    return median(t, reps);
}

/* Times each model's loss_grad at batch B (median ms into ms[]); prints a line per model when print. */
static int time_all(const char *const *models, int n, const float *X, const int *y, const size_t *idx, size_t B,
                    int reps, double roof, int print, double *ms)
{
    for (int k = 0; k < n; k++) {
        bg_model_cfg_t cfg = {.n_hidden = 2, .hidden = {256, 128}};
        snprintf(cfg.name, sizeof cfg.name, "%s", models[k]);
        bg_model_t m;
        bg_err_t err;
        if (bg_model_init(&cfg, 784, 10, &m, &err)) {
            fprintf(stderr, "bench_cnn: %s\n", err.msg);
            return 1;
        }
        double s = time_model(&m, X, y, idx, B, reps), fl = m.ops->flops_per_sample(&m) * (double)B;
        ms[k] = 1e3 * s;
        if (print)
            printf("%-8s %6zu %10.3f %10.1f %8.1f%% %10.1f\n", models[k], B, 1e3 * s, fl / s / 1e9,
                   100.0 * fl / s / 1e9 / roof, fl / 1e6);
        bg_model_destroy(&m);
    }
    return 0;
}

/* The cnn pipeline rebuilt from the layer functions with a timer around each step (the same code the model runs,
 * minus the parameter bookkeeping), plus the bare sgemm of each convolution for the GEMM share. */
enum { ST_C1F, ST_P1F, ST_C2F, ST_P2F, ST_FCF, ST_CE, ST_FCB, ST_P2B, ST_C2B, ST_P1B, ST_C1B, ST_N };
static const char *const st_name[ST_N] = {
    "conv1 fwd (im2col + sgemm)", "pool1+ReLU fwd", "conv2 fwd (im2col + sgemm)", "pool2+ReLU fwd",
    "flatten + fc1 + fc2 fwd", "softmax-CE", "fc2 + fc1 bwd + unflatten", "pool2 bwd", "conv2 bwd (dW, dX, col2im)",
    "pool1 bwd", "conv1 bwd (dW)"};

static void breakdown(const float *X, size_t d, size_t B, int reps)
{
    bg_nn_conv_t g1 = {1, 28, 28, 10, 5, 0, 24, 24}, g2 = {10, 12, 12, 20, 5, 0, 8, 8};
    size_t N1 = B * 576, N2 = B * 64;
    float *W1 = malloc(250 * 4), *b1 = calloc(10, 4), *W2 = malloc(5000 * 4), *b2 = calloc(20, 4);
    float *F1 = malloc(16000 * 4), *fb1 = calloc(50, 4), *F2 = malloc(500 * 4), *fb2 = calloc(10, 4);
    float *gW1 = calloc(250, 4), *gb1 = calloc(10, 4), *gW2 = calloc(5000, 4), *gb2 = calloc(20, 4);
    float *gF1 = calloc(16000, 4), *gfb1 = calloc(50, 4), *gF2 = calloc(500, 4), *gfb2 = calloc(10, 4);
    float *col1 = malloc(25 * N1 * 4), *z1 = malloc(10 * N1 * 4), *a1 = malloc(10 * B * 144 * 4),
          *da1 = malloc(10 * B * 144 * 4), *col2 = malloc(250 * N2 * 4), *z2 = malloc(20 * N2 * 4),
          *a2 = malloc(20 * B * 16 * 4), *da2 = malloc(20 * B * 16 * 4), *h0 = malloc(B * 320 * 4),
          *h1 = malloc(B * 50 * 4), *h2 = malloc(B * 10 * 4), *d1 = malloc(B * 320 * 4), *d0 = malloc(B * 320 * 4);
    const float **rows = malloc(B * sizeof *rows), **rows0 = malloc(B * sizeof *rows0);
    int *y = malloc(B * sizeof *y);
    float *gwt = malloc(5000 * 4);
    for (size_t i = 0; i < 250; i++)
        W1[i] = (float)((double)(i % 13) / 13.0 - 0.5) * 0.4f;
    for (size_t i = 0; i < 5000; i++)
        W2[i] = (float)((double)(i % 17) / 17.0 - 0.5) * 0.12f;
    for (size_t i = 0; i < 16000; i++)
        F1[i] = (float)((double)(i % 19) / 19.0 - 0.5) * 0.1f;
    for (size_t i = 0; i < 500; i++)
        F2[i] = (float)((double)(i % 11) / 11.0 - 0.5) * 0.2f;
    for (size_t i = 0; i < B; i++)
        y[i] = (int)(i % 10);
    static double t[ST_N][MAX_REPS];
    for (int r = -5; r < reps; r++) {
        double ts[ST_N + 1];
        int s = 0;
        ts[s++] = now();
        for (size_t i = 0; i < B; i++)
            rows0[i] = X + i * d;
        bg_nn_conv_forward(&g1, B, rows0, 784, W1, col1, z1);
        ts[s++] = now();
        bg_nn_pool_forward(10, B, 24, 24, z1, b1, a1);
        ts[s++] = now();
        for (size_t i = 0; i < B; i++)
            rows[i] = a1 + i * 144;
        bg_nn_conv_forward(&g2, B, rows, B * 144, W2, col2, z2);
        ts[s++] = now();
        bg_nn_pool_forward(20, B, 8, 8, z2, b2, a2);
        ts[s++] = now();
        for (size_t c = 0; c < 20; c++)
            for (size_t i = 0; i < B; i++)
                memcpy(h0 + i * 320 + c * 16, a2 + (c * B + i) * 16, 16 * 4);
        bg_nn_fc_forward(B, 320, 50, h0, F1, fb1, 1, h1);
        bg_nn_fc_forward(B, 50, 10, h1, F2, fb2, 0, h2);
        ts[s++] = now();
        bg_nn_softmax_ce(B, 10, h2, y, NULL, 1.0 / (double)B, h2);
        ts[s++] = now();
        bg_nn_fc_backward(B, 50, 10, h1, F2, h2, 1, gF2, gfb2, d1);
        bg_nn_fc_backward(B, 320, 50, h0, F1, d1, 0, gF1, gfb1, d0);
        for (size_t c = 0; c < 20; c++)
            for (size_t i = 0; i < B; i++)
                memcpy(da2 + (c * B + i) * 16, d0 + i * 320 + c * 16, 16 * 4);
        ts[s++] = now();
        bg_nn_pool_backward(20, B, 8, 8, a2, da2, z2, gb2);
        ts[s++] = now();
        bg_nn_conv_backward(&g2, B, rows, B * 144, W2, col2, z2, gW2, gwt, da1);
        ts[s++] = now();
        bg_nn_pool_backward(10, B, 24, 24, a1, da1, z1, gb1);
        ts[s++] = now();
        bg_nn_conv_backward(&g1, B, rows0, 784, W1, col1, z1, gW1, gwt, NULL);
        ts[s++] = now();
        if (r >= 0)
            for (int k = 0; k < ST_N; k++)
                t[k][r] = ts[k + 1] - ts[k];
    }
    /* the bare GEMMs of the two convolutions, same shapes and orientations */
    enum { G_C1F, G_C1W, G_C2F, G_C2W, G_C2X, G_N };
    static const char *const gname[G_N] = {"sgemm conv1 fwd (whole batch)", "sgemm conv1 dW^T", "sgemm conv2 fwd", "sgemm conv2 dW^T",
                                           "sgemm conv2 dX"};
    const double gfl[G_N] = {2.0 * 10 * 25 * N1, 2.0 * 10 * 25 * N1, 2.0 * 20 * 250 * N2, 2.0 * 20 * 250 * N2,
                             2.0 * 20 * 250 * N2};
    static double tg[G_N][MAX_REPS];
    for (int r = -3; r < reps; r++) {
        double ts[G_N + 1];
        ts[0] = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 10, (int)N1, 25, 1.0f, W1, 25, col1, (int)N1, 0.0f, z1,
                    (int)N1);
        ts[1] = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 25, 10, (int)N1, 1.0f, col1, (int)N1, z1, (int)N1, 0.0f,
                    gwt, 10);
        ts[2] = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 20, (int)N2, 250, 1.0f, W2, 250, col2, (int)N2, 0.0f,
                    z2, (int)N2);
        ts[3] = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 250, 20, (int)N2, 1.0f, col2, (int)N2, z2, (int)N2, 0.0f,
                    gwt, 20);
        ts[4] = now();
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 250, (int)N2, 20, 1.0f, W2, 250, z2, (int)N2, 0.0f, col2,
                    (int)N2);
        ts[5] = now();
        if (r >= 0)
            for (int k = 0; k < G_N; k++)
                tg[k][r] = ts[k + 1] - ts[k];
    }
    double tot = 0.0;
    printf("# cnn per-step breakdown at batch %zu (median ms of %d)\n", B, reps);
    for (int k = 0; k < ST_N; k++) {
        double ms = 1e3 * median(t[k], reps);
        tot += ms;
        printf("#   %-30s %8.3f ms\n", st_name[k], ms);
    }
    printf("#   %-30s %8.3f ms\n", "sum of steps", tot);
    for (int k = 0; k < G_N; k++) {
        double s = median(tg[k], reps);
        printf("#   %-30s %8.3f ms  %6.1f GFLOP/s\n", gname[k], 1e3 * s, gfl[k] / s / 1e9);
    }
    free(W1); free(b1); free(W2); free(b2); free(F1); free(fb1); free(F2); free(fb2);
    free(gW1); free(gb1); free(gW2); free(gb2); free(gF1); free(gfb1); free(gF2); free(gfb2);
    free(col1); free(z1); free(a1); free(da1); free(col2); free(z2); free(a2); free(da2);
    free(h0); free(h1); free(h2); free(d1); free(d0); free((void *)rows); free((void *)rows0); free(y); free(gwt);
}

int main(int argc, char **argv)
{
    bg_blas_select(argv, 1);   /* the kernels byzgrid runs on */
    int verbose = 0, torch = 1, reps = 60, threads = 1;
    size_t B = 64;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--no-torch"))
            torch = 0;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            B = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--verbose] [--no-torch] [--batch B] [--reps R (30..%d)] [--threads T]\n",
                    argv[0], MAX_REPS);
            return 2;
        }
    }
    if (B == 0 || reps < 1 || reps > MAX_REPS || threads < 1 || threads > 256) {
        fprintf(stderr, "bench_cnn: batch must be >= 1, reps in 1..%d and threads in 1..256\n", MAX_REPS);
        return 2;
    }
    openblas_set_num_threads(threads);   /* default one worker core, as the simulator charges it */
    double roof_med, roof = sgemm_roofline(2048, 7, &roof_med);
    char blas[512];
    printf("# %s, %d thread(s); PyTorch %d thread(s); random inputs in [0,1), fixed seed; median of %d after 10 "
           "warm-up\n", bg_blas_describe(blas, sizeof blas), threads, threads, reps);
    printf("sgemm 2048^3 (%d thread(s)): %.1f GFLOP/s best of 7 (median %.1f): the roofline below\n", threads, roof,
           roof_med);

    const size_t d = 784, n = B;
    float *X = malloc(n * d * sizeof *X);
    int *y = malloc(n * sizeof *y);
    size_t *idx = malloc(B * sizeof *idx);
    gsl_rng *r = bg_rng_stream(2026, BG_RNG_INIT, 1);
    for (size_t i = 0; i < n * d; i++)
        X[i] = (float)gsl_rng_uniform(r);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)gsl_rng_uniform_int(r, 10);
        idx[i] = i;
    }
    static const char *const models[] = {"cnn", "lenet5", "mlp"};
    double ours[3], again[3];
    printf("%-8s %6s %10s %10s %9s %10s\n", "model", "batch", "ms", "GFLOP/s", "%roof", "MFLOP/it");
    if (time_all(models, 3, X, y, idx, B, reps, roof, 1, ours))
        return 1;
    if (verbose)
        breakdown(X, d, B, reps);
    if (torch) {
        torch_t tt[8];
        int nt = run_torch(B, threads, tt, 8);
        if (nt > 0) {
            /* this machine's speed drifts over seconds (shared host): time ours again after torch and compare
             * torch with the slower of our two medians */
            if (time_all(models, 3, X, y, idx, B, reps, roof, 0, again))
                return 1;
            for (int i = 0; i < nt; i++)
                for (int k = 0; k < 3; k++)
                    if (!strcmp(tt[i].name, models[k])) {
                        double slow = ours[k] > again[k] ? ours[k] : again[k];
                        printf("torch    %-8s %8.3f ms   ours %.3f / %.3f ms (before / after)   torch/ours = %.2f\n",
                               models[k], tt[i].ms, ours[k], again[k], tt[i].ms / slow);
                    }
        }
    }
    gsl_rng_free(r);
    free(X);
    free(y);
    free(idx);
    return 0;
}
