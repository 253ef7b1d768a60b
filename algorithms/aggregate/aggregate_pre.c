/* Pre-aggregators, n vectors to n (bucketing: fewer) vectors before the aggregator: none, nearest-neighbour
 * mixing, bucketing, static clipping and adaptive robust clipping. */
#include "aggregate_internal.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int none_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *const *out,
                    size_t *n_out)
{
    (void)a;
    (void)st;
    *n_out = n;
    for (size_t i = 0; i < n; i++)
        if (out[i] != in[i])
            memcpy(out[i], in[i], d * sizeof(float));
    return BG_OK;
}

static double none_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    (void)n;
    (void)d;
    return 0.0;
}

/* y_i = the mean of the rows x_j with W[i][j] != 0 (= 1/keep), for all i at once as Y = W X: one single-precision
 * matrix product per column chunk, at BLAS-3 speed where row-by-row sums cost n (n - f) d adds from memory.
 * The rows are separate pointers, so each chunk is gathered into a contiguous n x w buffer (and the result
 * scattered back); both stay in L2. The K dimension (n) is never split, so the bits do not depend on the
 * chunking, and single-threaded OpenBLAS gives the same bits every run. Float accumulation of keep terms:
 * relative error below keep * 2^-24, inside the 1e-5 the tests hold it to for the n this is used at.
 * The weights scale each term before the sum, so inputs near FLT_MAX do not overflow it. Needs finite
 * inputs: a zero weight times Inf would spread NaN to every output. */
static int nnm_means_gemm(const float *W, const float *const *in, size_t n, size_t d, float *const *out)
{
    size_t chunk = 32768 / n;   /* 128 KiB per buffer */
    if (chunk < 64)
        chunk = 64;
    if (chunk > d)
        chunk = d;
    float *X = malloc(2 * n * chunk * sizeof *X);
    if (!X)
        return BG_ENOMEM;
    float *Y = X + n * chunk;
    for (size_t j0 = 0; j0 < d; j0 += chunk) {
        size_t w = d - j0 < chunk ? d - j0 : chunk;
        for (size_t i = 0; i < n; i++)
            memcpy(X + i * w, in[i] + j0, w * sizeof *X);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)w, (int)n, 1.0f, W, (int)n, X, (int)w,
                    0.0f, Y, (int)w);
        for (size_t i = 0; i < n; i++)
            memcpy(out[i] + j0, Y + i * w, w * sizeof *Y);
    }
    free(X);
    return BG_OK;
}

/* The same means row by row in double, for inputs with non-finite values (zero weights skip those rows). */
static int nnm_means_rows(const float *W, const float *const *in, size_t n, size_t d, size_t keep,
                          float *const *out)
{
    const float **sel = malloc(n * keep * sizeof *sel);
    if (!sel)
        return BG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0, q = 0; j < n; j++)
            if (W[i * n + j] != 0.0f)
                sel[i * keep + q++] = in[j];
    /* All y_i block by block, so each input chunk is read from memory once for all n means. */
    double acc[BG_AGG_MEAN_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += BG_AGG_MEAN_BLOCK) {
        size_t w = d - j0 < BG_AGG_MEAN_BLOCK ? d - j0 : BG_AGG_MEAN_BLOCK;
        for (size_t i = 0; i < n; i++) {
            bg_agg_wsum(sel + i * keep, keep, NULL, j0, w, acc);
            float *o = out[i] + j0;
            for (size_t l = 0; l < w; l++)
                o[l] = (float)(acc[l] / (double)keep);
        }
    }
    free(sel);
    return BG_OK;
}

/* Nearest-neighbour mixing: y_i = the mean of the n - f inputs nearest x_i (itself included). */
static int nnm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *const *out,
                   size_t *n_out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    *n_out = n;
    const size_t f = a->f;
    if (2 * f >= n)
        return BG_ERANGE;
    if (f == 0) {
        /* Every vector's n nearest are all n vectors. */
        bg_agg_mean_rows(in, n, d, out[0]);
        for (size_t i = 1; i < n; i++)
            memcpy(out[i], out[0], d * sizeof(float));
        return BG_OK;
    }
    const size_t keep = n - f;
    double *D = malloc(n * n * sizeof *D);
    bg_agg_cand_t *cand = malloc(n * sizeof *cand);
    float *W = calloc(n * n, sizeof *W);
    int rc = BG_ENOMEM;
    if (!D || !cand || !W || (rc = bg_agg_pair_dist2(in, n, d, D)) != BG_OK) {
        free(D);
        free(cand);
        free(W);
        return rc;
    }
    /* W[i][j] = 1/keep when x_j is among the keep nearest x_i: the selection depends on how distance ties fell,
     * the sums below do not (they run over j in index order whatever the weights). */
    const float wt = (float)(1.0 / (double)keep);
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            cand[j].dist = D[i * n + j];
            cand[j].idx = j;
            if (isinf(cand[j].dist))
                finite = 0;
        }
        bg_agg_cand_sort(cand, n);
        for (size_t q = 0; q < keep; q++)
            W[i * n + cand[q].idx] = wt;
    }
    free(D);
    free(cand);
    rc = finite ? nnm_means_gemm(W, in, n, d, out) : nnm_means_rows(W, in, n, d, keep, out);
    free(W);
    return rc;
}

static double nnm_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    double nn = (double)n, dd = (double)d;
    if (a->f == 0)
        return nn * dd + dd;   /* one mean, copied */
    /* Gram and distances; n sorts of n candidates (n^2 log2 n comparisons); n means of n - f rows. */
    return bg_agg_pair_dist2_flops(n, d) + nn * nn * log2(nn) + nn * (double)(n - a->f) * dd + nn * dd;
}

static int bucket_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (a->bucket_s < 1)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "bucketing: bucket_s = %zu must be >= 1", a->bucket_s);
    if (!a->rng)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "bucketing needs the server's RNG stream (args.rng) to shuffle");
    return BG_OK;
}

static size_t bucket_count(size_t n, size_t s)
{
    return s ? (n + s - 1) / s : n;
}

/* Karimireddy et al. 2022 ([S] --bucketing): shuffle, then the means of ceil(n/s) buckets of s consecutive
 * inputs (the last one smaller when s does not divide n). */
static int bucket_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *const *out,
                      size_t *n_out)
{
    (void)st;
    if (n == 0 || a->bucket_s < 1 || !a->rng)
        return BG_EINVAL;
    size_t *perm = malloc(n * sizeof *perm);
    const float **p = malloc(n * sizeof *p);
    if (!perm || !p) {
        free(perm);
        free(p);
        return BG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    gsl_ran_shuffle(a->rng, perm, n, sizeof *perm);
    for (size_t i = 0; i < n; i++)
        p[i] = in[perm[i]];
    const size_t s = a->bucket_s, T = bucket_count(n, s);
    for (size_t b = 0; b < T; b++) {
        size_t lo = b * s, cnt = n - lo < s ? n - lo : s;
        bg_agg_mean_rows(p + lo, cnt, d, out[b]);
    }
    *n_out = T;
    free(perm);
    free(p);
    return BG_OK;
}

static double bucket_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    return (double)n * (double)d + (double)bucket_count(n, a->bucket_s) * (double)d;
}

static int clip_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (!(a->clip_tau > 0.0) || !isfinite(a->clip_tau))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "clip: clip_tau = %g must be a finite number > 0", a->clip_tau);
    return BG_OK;
}

static void scale_row(const float *x, size_t d, double c, float *y)
{
    if (c == 1.0) {
        if (y != x)
            memcpy(y, x, d * sizeof *y);
        return;
    }
    for (size_t j = 0; j < d; j++)
        y[j] = (float)((double)x[j] * c);
}

/* x * min(1, tau / |x|): a zero vector stays zero. */
static double clip_factor(double norm, double tau)
{
    return norm > tau ? tau / norm : 1.0;
}

static int clip_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *const *out,
                    size_t *n_out)
{
    (void)st;
    if (!(a->clip_tau > 0.0))
        return BG_EINVAL;
    for (size_t i = 0; i < n; i++)
        scale_row(in[i], d, clip_factor(sqrt(bg_vec_norm2(in[i], d)), a->clip_tau), out[i]);
    *n_out = n;
    return BG_OK;
}

static double clip_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    return 3.0 * (double)n * (double)d;
}

/* Adaptive robust clipping, Allouah et al. 2024 (as ByzFL and byzpy): k = floor(2 (f/n) (n - f)) inputs of
 * largest norm are clipped to the norm of the (k+1)-th largest; the others are unchanged. */
static size_t arc_k(size_t n, size_t f)
{
    if (n == 0)
        return 0;
    size_t k = f < n ? (2 * f * (n - f)) / n : 0;
    return k < n ? k : n - 1;
}

static int arc_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *const *out,
                   size_t *n_out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    bg_agg_cand_t *c = malloc(n * sizeof *c);
    if (!c)
        return BG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        c[i].dist = sqrt(bg_vec_norm2(in[i], d));
        c[i].idx = i;
    }
    double *norm = malloc(n * sizeof *norm);
    if (!norm) {
        free(c);
        return BG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        norm[i] = c[i].dist;
    bg_agg_cand_sort(c, n);
    const double thr = c[n - arc_k(n, a->f) - 1].dist;
    for (size_t i = 0; i < n; i++)
        scale_row(in[i], d, clip_factor(norm[i], thr), out[i]);
    *n_out = n;
    free(c);
    free(norm);
    return BG_OK;
}

static double arc_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    return 3.0 * (double)n * (double)d + (double)arc_k(n, a->f) * (double)d;
}

/* Rows the pre-aggregator hands on (at most): only bucketing reduces them. */
size_t bg_agg_pre_rows_out(const bg_preagg_ops_t *p, const bg_agg_args_t *a, size_t n)
{
    return p == &bg_preagg_bucketing_ops ? bucket_count(n, a->bucket_s) : n;
}

const bg_preagg_ops_t bg_preagg_none_ops = {
    .name = "none",
    .summary = "no pre-aggregation",
    .needs_honest_majority = 0,
    .run = none_run,
    .flops = none_flops,
};

const bg_preagg_ops_t bg_preagg_nnm_ops = {
    .name = "nnm",
    .summary = "nearest-neighbour mixing: each vector becomes the mean of its n - f nearest",
    .needs_honest_majority = 1,
    .run = nnm_run,
    .flops = nnm_flops,
};

const bg_preagg_ops_t bg_preagg_bucketing_ops = {
    .name = "bucketing",
    .summary = "shuffle, then the means of ceil(n / bucket_s) buckets (f Byzantine spoil at most f buckets)",
    .needs_honest_majority = 0,
    .check = bucket_check,
    .run = bucket_run,
    .flops = bucket_flops,
};

const bg_preagg_ops_t bg_preagg_clip_ops = {
    .name = "clip",
    .summary = "static clipping: every vector scaled to L2 norm <= clip_tau",
    .needs_honest_majority = 0,
    .check = clip_check,
    .run = clip_run,
    .flops = clip_flops,
};

const bg_preagg_ops_t bg_preagg_arc_ops = {
    .name = "arc",
    .summary = "adaptive robust clipping: the floor(2 (f/n)(n - f)) largest clipped to the next largest norm",
    .needs_honest_majority = 0,
    .run = arc_run,
    .flops = arc_flops,
};
