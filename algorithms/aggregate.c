/* Robust aggregators (mean, coordinate-wise median, trimmed mean, smoothed geometric median), the NNM
 * pre-aggregator, and the pipeline that drops non-finite (hence Byzantine) inputs before running them. */
#include "bg_aggregate.h"

#include <gsl/gsl_cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* x86-64 kernels are chosen at run time (SSE is baseline, AVX/AVX-512 when present); -DBG_NO_SIMD builds the
 * portable versions only, which give the same results (checked by running the tests both ways). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(BG_NO_SIMD)
#define BG_AGG_X86 1
#include <immintrin.h>
#endif

/* Coordinates per block: rows are read in chunks this long so the n chunks of a block stay in cache while
 * every output coordinate of the block is produced (one pass over the input, whatever n). */
#define MEAN_BLOCK 256

/* Coordinate-wise order statistics: LANES coordinates at once through a sorting network, the lanes as the
 * inner (vector) dimension, so a comparator is one vector min and max and there are no branches to
 * mispredict. Measured at d = 1e5: n = 128 by network 35 ms, n = 129 by per-column quickselect 270 ms; n = 200
 * by network 60 ms. Beyond NET_MAX, quickselect's ~3n comparisons per column against the network's
 * ~n log^2 n / 4 close the gap, and the block would no longer fit in L1. */
#define LANES 32
#define NET_MAX 256
#define NET_CAP 3840   /* Batcher's network for 256 inputs has 3839 comparators */

void bg_agg_args_default(bg_agg_args_t *a)
{
    a->f = 0;
    a->rfa_iters = 8;
    a->rfa_nu = 0.1;
    a->rfa_tol = 1e-6;
}

/* ---------------------------------------------------------------- helpers */

/* acc[l] = sum over q of wt[q] * rows[q][j0 + l] for l < w (wt NULL: all weights 1), q ascending. Every lane
 * adds the same terms in the same order on both paths, so the AVX and portable versions agree to the bit. */
static void wsum_portable(const float *const *rows, size_t m, const double *wt, size_t j0, size_t w, double *acc)
{
    for (size_t l = 0; l < w; l++)
        acc[l] = 0.0;
    for (size_t q = 0; q < m; q++) {
        const float *r = rows[q] + j0;
        if (wt) {
            const double b = wt[q];
            for (size_t l = 0; l < w; l++)
                acc[l] += b * (double)r[l];
        } else {
            for (size_t l = 0; l < w; l++)
                acc[l] += r[l];
        }
    }
}

/* s = sum over l < w of (z[l] - x[l])^2 as 8 interleaved partial sums combined pairwise (the AVX layout, which
 * the portable version copies so both give the same bits), then the tail in order. */
static double dist2_portable(const double *z, const float *x, size_t w)
{
    double p[8] = {0};
    size_t l = 0;
    for (; l + 8 <= w; l += 8)
        for (size_t k = 0; k < 8; k++) {
            double t = z[l + k] - (double)x[l + k];
            p[k] += t * t;
        }
    double s = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
    for (; l < w; l++) {
        double t = z[l] - (double)x[l];
        s += t * t;
    }
    return s;
}

#ifdef BG_AGG_X86
/* Sixteen coordinates in four registers while every row streams past: the accumulators never touch memory. */
__attribute__((target("avx"))) static void wsum_avx(const float *const *rows, size_t m, const double *wt, size_t j0,
                                                   size_t w, double *acc)
{
    size_t l = 0;
    for (; l + 16 <= w; l += 16) {
        __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t q = 0; q < m; q++) {
            const float *r = rows[q] + j0 + l;
            __m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(r)), x1 = _mm256_cvtps_pd(_mm_loadu_ps(r + 4));
            __m256d x2 = _mm256_cvtps_pd(_mm_loadu_ps(r + 8)), x3 = _mm256_cvtps_pd(_mm_loadu_ps(r + 12));
            if (wt) {
                __m256d b = _mm256_set1_pd(wt[q]);
                x0 = _mm256_mul_pd(b, x0);
                x1 = _mm256_mul_pd(b, x1);
                x2 = _mm256_mul_pd(b, x2);
                x3 = _mm256_mul_pd(b, x3);
            }
            a0 = _mm256_add_pd(a0, x0);
            a1 = _mm256_add_pd(a1, x1);
            a2 = _mm256_add_pd(a2, x2);
            a3 = _mm256_add_pd(a3, x3);
        }
        _mm256_storeu_pd(acc + l, a0);
        _mm256_storeu_pd(acc + l + 4, a1);
        _mm256_storeu_pd(acc + l + 8, a2);
        _mm256_storeu_pd(acc + l + 12, a3);
    }
    if (l < w)
        wsum_portable(rows, m, wt, j0 + l, w - l, acc + l);
}

__attribute__((target("avx"))) static double dist2_avx(const double *z, const float *x, size_t w)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0;
    size_t l = 0;
    for (; l + 8 <= w; l += 8) {
        __m256d t0 = _mm256_sub_pd(_mm256_loadu_pd(z + l), _mm256_cvtps_pd(_mm_loadu_ps(x + l)));
        __m256d t1 = _mm256_sub_pd(_mm256_loadu_pd(z + l + 4), _mm256_cvtps_pd(_mm_loadu_ps(x + l + 4)));
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(t0, t0));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(t1, t1));
    }
    double p[4];
    _mm256_storeu_pd(p, _mm256_add_pd(a0, a1));
    double s = (p[0] + p[1]) + (p[2] + p[3]);
    for (; l < w; l++) {
        double t = z[l] - (double)x[l];
        s += t * t;
    }
    return s;
}
#endif

static void wsum(const float *const *rows, size_t m, const double *wt, size_t j0, size_t w, double *acc)
{
#ifdef BG_AGG_X86
    if (__builtin_cpu_supports("avx")) {
        wsum_avx(rows, m, wt, j0, w, acc);
        return;
    }
#endif
    wsum_portable(rows, m, wt, j0, w, acc);
}

static double row_dist2(const double *z, const float *x, size_t w)
{
#ifdef BG_AGG_X86
    if (__builtin_cpu_supports("avx"))
        return dist2_avx(z, x, w);
#endif
    return dist2_portable(z, x, w);
}

/* out = mean of m rows; double accumulation in row order, so the result does not depend on blocking. */
static void mean_rows(const float *const *rows, size_t m, size_t d, float *out)
{
    double acc[MEAN_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += MEAN_BLOCK) {
        size_t w = d - j0 < MEAN_BLOCK ? d - j0 : MEAN_BLOCK;
        wsum(rows, m, NULL, j0, w, acc);
        for (size_t l = 0; l < w; l++)
            out[j0 + l] = (float)(acc[l] / (double)m);
    }
}

/* Batcher's odd-even merge sort for the next power of two, restricted to comparators inside [0, n): the
 * padding would hold +Inf, which never moves, so those comparators are no-ops. Then, walking backwards,
 * comparators whose outputs never reach positions lo..hi are dropped (only those order statistics are read). */
static size_t net_build(size_t n, size_t lo, size_t hi, unsigned char *ca, unsigned char *cb)
{
    size_t N = 1, m = 0;
    while (N < n)
        N <<= 1;
    for (size_t p = 1; p < N; p <<= 1)
        for (size_t k = p; k >= 1; k >>= 1)
            for (size_t j = k % p; j + k < N; j += 2 * k)
                for (size_t i = 0; i < k && i + j + k < n; i++)
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
                        ca[m] = (unsigned char)(i + j);
                        cb[m] = (unsigned char)(i + j + k);
                        m++;
                    }
    unsigned char live[NET_MAX] = {0};
    for (size_t q = lo; q <= hi; q++)
        live[q] = 1;
    size_t kept = m;
    for (size_t c = m; c-- > 0;) {
        if (live[ca[c]] || live[cb[c]]) {
            live[ca[c]] = live[cb[c]] = 1;
            kept--;
            ca[kept] = ca[c];
            cb[kept] = cb[c];
        }
    }
    memmove(ca, ca + kept, m - kept);
    memmove(cb, cb + kept, m - kept);
    return m - kept;
}

/* One comparator = min and max of two rows of LANES values. GCC does not turn `x < y ? x : y` into minps
 * (which computes exactly that) while float comparisons may trap (-ftrapping-math), so x86 gets intrinsics:
 * SSE is baseline on x86-64, AVX or AVX-512 is picked at run time when the CPU has it. */
#ifdef BG_AGG_X86
static void net_apply_sse(const unsigned char *ca, const unsigned char *cb, size_t m, float (*blk)[LANES])
{
    for (size_t c = 0; c < m; c++) {
        float *p = blk[ca[c]], *q = blk[cb[c]];
        for (size_t l = 0; l < LANES; l += 4) {
            __m128 x = _mm_load_ps(p + l), y = _mm_load_ps(q + l);
            _mm_store_ps(p + l, _mm_min_ps(x, y));
            _mm_store_ps(q + l, _mm_max_ps(x, y));
        }
    }
}

__attribute__((target("avx"))) static void net_apply_avx(const unsigned char *ca, const unsigned char *cb, size_t m,
                                                         float (*blk)[LANES])
{
    for (size_t c = 0; c < m; c++) {
        float *p = blk[ca[c]], *q = blk[cb[c]];
        for (size_t l = 0; l < LANES; l += 8) {
            __m256 x = _mm256_load_ps(p + l), y = _mm256_load_ps(q + l);
            _mm256_store_ps(p + l, _mm256_min_ps(x, y));
            _mm256_store_ps(q + l, _mm256_max_ps(x, y));
        }
    }
}

__attribute__((target("avx512f"))) static void net_apply_avx512(const unsigned char *ca, const unsigned char *cb,
                                                               size_t m, float (*blk)[LANES])
{
    for (size_t c = 0; c < m; c++) {
        float *p = blk[ca[c]], *q = blk[cb[c]];
        for (size_t l = 0; l < LANES; l += 16) {
            __m512 x = _mm512_load_ps(p + l), y = _mm512_load_ps(q + l);
            _mm512_store_ps(p + l, _mm512_min_ps(x, y));
            _mm512_store_ps(q + l, _mm512_max_ps(x, y));
        }
    }
}
#else
static void net_apply_scalar(const unsigned char *ca, const unsigned char *cb, size_t m, float (*blk)[LANES])
{
    for (size_t c = 0; c < m; c++) {
        float *restrict p = blk[ca[c]];
        float *restrict q = blk[cb[c]];
        for (size_t l = 0; l < LANES; l++) {
            float x = p[l], y = q[l];
            p[l] = x < y ? x : y;
            q[l] = x < y ? y : x;
        }
    }
}
#endif

typedef void (*net_apply_fn)(const unsigned char *, const unsigned char *, size_t, float (*)[LANES]);

static net_apply_fn net_apply_pick(void)
{
#ifdef BG_AGG_X86
    if (__builtin_cpu_supports("avx512f"))
        return net_apply_avx512;
    if (__builtin_cpu_supports("avx"))
        return net_apply_avx;
    return net_apply_sse;
#else
    return net_apply_scalar;
#endif
}

static inline float med3(float a, float b, float c)
{
    if (a < b)
        return b < c ? b : (a < c ? c : a);
    return a < c ? a : (b < c ? c : b);
}

/* Rearrange a[0..n) so that a[k] is the k-th smallest, smaller-or-equal values before, larger-or-equal
 * after. Three-way partitioning keeps runs of equal values (common after NNM) linear. */
static void select_nth(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        float p = med3(a[lo], a[lo + (hi - lo) / 2], a[hi]);
        size_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            float v = a[i];
            if (v < p) {
                a[i++] = a[lt];
                a[lt++] = v;
            } else if (v > p) {
                a[i] = a[gt];
                a[gt] = v;
                if (gt == 0)
                    break;
                gt--;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt - 1;
        else if (k > gt)
            lo = gt + 1;
        else
            return;
    }
}

/* out[j] = mean of the order statistics lo..hi of {in[i][j]}: the median (lo, hi the middle one or two) and
 * the trimmed mean (lo = t, hi = n-1-t) are both this. Inputs must be finite (bg_robust_run ensures it). */
static int order_mean(const float *const *in, size_t n, size_t d, size_t lo, size_t hi, float *out)
{
    const double inv = 1.0 / (double)(hi - lo + 1);
    if (n <= NET_MAX) {
        /* Heap, not stack: up to 40 KiB, and SimGrid actors may run on 64 KiB stacks. */
        size_t blk_bytes = n * sizeof(float[LANES]);   /* a multiple of 64: aligned_alloc's size rule */
        float(*blk)[LANES] = aligned_alloc(64, blk_bytes);
        unsigned char *ca = malloc(2 * NET_CAP);
        if (!blk || !ca) {
            free(blk);
            free(ca);
            return BG_ENOMEM;
        }
        unsigned char *cb = ca + NET_CAP;
        size_t m = net_build(n, lo, hi, ca, cb);
        net_apply_fn apply = net_apply_pick();
        for (size_t j0 = 0; j0 < d; j0 += LANES) {
            size_t w = d - j0 < LANES ? d - j0 : LANES;
            if (w == LANES) {
                /* Constant size: vector moves, where a variable memcpy becomes a slow-starting rep movs. */
                for (size_t i = 0; i < n; i++)
                    memcpy(blk[i], in[i] + j0, sizeof blk[i]);
            } else {
                for (size_t i = 0; i < n; i++) {
                    memcpy(blk[i], in[i] + j0, w * sizeof(float));
                    for (size_t l = w; l < LANES; l++)
                        blk[i][l] = 0.0f;
                }
            }
            apply(ca, cb, m, blk);
            double acc[LANES] = {0};
            for (size_t q = lo; q <= hi; q++)
                for (size_t l = 0; l < LANES; l++)
                    acc[l] += blk[q][l];
            for (size_t l = 0; l < w; l++)
                out[j0 + l] = (float)(acc[l] * inv);
        }
        free(blk);
        free(ca);
        return BG_OK;
    }
    float *col = malloc(n * sizeof *col);
    if (!col)
        return BG_ENOMEM;
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = in[i][j];
        select_nth(col, n, lo);                    /* col[lo..n) >= the lo-th */
        select_nth(col + lo, n - lo, hi - lo);     /* col[lo..hi] = order statistics lo..hi */
        double s = 0.0;
        for (size_t q = lo; q <= hi; q++)
            s += col[q];
        out[j] = (float)(s * inv);
    }
    free(col);
    return BG_OK;
}

/* ---------------------------------------------------------------- aggregators */

static int mean_run(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *out)
{
    (void)a;
    if (n == 0)
        return BG_EINVAL;
    mean_rows(in, n, d, out);
    return BG_OK;
}

static double mean_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    return (double)n * (double)d + (double)d;   /* n-1 adds and one divide per coordinate */
}

static int cm_run(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    /* Even n: mean of the lower and upper medians (torch-free [S] definition). */
    return order_mean(in, n, d, (n - 1) / 2, n / 2, out);
}

static double cm_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    /* A median selection costs about 3n comparisons per coordinate (quickselect's average), plus the
     * average of the two middle values. */
    return 3.0 * (double)n * (double)d + 2.0 * (double)d;
}

/* Trim per side: ALGORITHMS.md section 8, t = min(floor(n/2), ceil(n * f/n)) = f, lowered until a value
 * remains. */
static size_t cwtm_trim(size_t n, size_t f)
{
    size_t t = f < n / 2 ? f : n / 2;
    if (n - 2 * t == 0)
        t = (n - 1) / 2;
    return t;
}

static int cwtm_run(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    size_t t = cwtm_trim(n, a->f);
    if (t == 0) {
        mean_rows(in, n, d, out);
        return BG_OK;
    }
    return order_mean(in, n, d, t, n - 1 - t, out);
}

static double cwtm_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    size_t t = n ? cwtm_trim(n, a->f) : 0;
    if (t == 0)
        return mean_flops(a, n, d);
    /* Two selections (~3n comparisons per coordinate together, as the second works on the remainder), then
     * the mean of the n - 2t kept values. */
    return 3.0 * (double)n * (double)d + (double)(n - 2 * t) * (double)d + (double)d;
}

/* Smoothed Weiszfeld. The reference code [S] starts at z0 = 0; this starts at the coordinate-wise mean
 * instead: from 0 the 8-iteration cap is spent travelling towards the data, and when the cap binds the result
 * stays biased towards 0. Weights alpha_k = 1/n cancel in the ratio and are left out. */
static int rfa_run(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    const double nu = a->rfa_nu, tol = a->rfa_tol;
    if (!(nu > 0.0) || !isfinite(nu) || !(tol >= 0.0) || !isfinite(tol))
        return BG_EINVAL;
    double *z = malloc(d * sizeof *z);
    double *zn = malloc(d * sizeof *zn);
    double *dist2 = malloc(n * sizeof *dist2);
    double *beta = malloc(n * sizeof *beta);
    if (!z || !zn || !dist2 || !beta) {
        free(z);
        free(zn);
        free(dist2);
        free(beta);
        return BG_ENOMEM;
    }
    /* One pass over the input per iteration: each block of the new iterate is finished while the block's rows
     * are still in cache, so the distances to it (the next iteration's weights) are accumulated right there.
     * Start at the mean, kept in double so the iteration does not start from a rounded point. */
    double znorm2 = 0.0;
    for (size_t k = 0; k < n; k++)
        dist2[k] = 0.0;
    for (size_t j0 = 0; j0 < d; j0 += MEAN_BLOCK) {
        size_t w = d - j0 < MEAN_BLOCK ? d - j0 : MEAN_BLOCK;
        wsum(in, n, NULL, j0, w, z + j0);
        for (size_t l = 0; l < w; l++) {
            z[j0 + l] /= (double)n;
            znorm2 += z[j0 + l] * z[j0 + l];
        }
        if (a->rfa_iters > 0)
            for (size_t k = 0; k < n; k++)
                dist2[k] += row_dist2(z + j0, in[k] + j0, w);
    }
    for (size_t it = 0; it < a->rfa_iters; it++) {
        const int last = it + 1 == a->rfa_iters;
        double sb = 0.0;
        for (size_t k = 0; k < n; k++) {
            double dk = sqrt(dist2[k]);
            beta[k] = 1.0 / (dk > nu ? dk : nu);
            sb += beta[k];
            dist2[k] = 0.0;
        }
        const double zn_old = sqrt(znorm2);
        double move2 = 0.0;
        znorm2 = 0.0;
        for (size_t j0 = 0; j0 < d; j0 += MEAN_BLOCK) {
            size_t w = d - j0 < MEAN_BLOCK ? d - j0 : MEAN_BLOCK;
            double *acc = zn + j0;
            wsum(in, n, beta, j0, w, acc);
            for (size_t l = 0; l < w; l++) {
                acc[l] /= sb;
                double t = acc[l] - z[j0 + l];
                move2 += t * t;
                znorm2 += acc[l] * acc[l];
            }
            if (!last)
                for (size_t k = 0; k < n; k++)
                    dist2[k] += row_dist2(acc, in[k] + j0, w);
        }
        double *tmp = z;
        z = zn;
        zn = tmp;
        if (sqrt(move2) <= tol * (1.0 + zn_old))
            break;
    }
    for (size_t j = 0; j < d; j++)
        out[j] = (float)z[j];
    free(z);
    free(zn);
    free(dist2);
    free(beta);
    return BG_OK;
}

static double rfa_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    /* Start: the mean (nd). Each iteration, charged at the cap: distances to z (3nd), the weighted sum (2nd),
     * z's norm, the divide and the move (5d). */
    double nd = (double)n * (double)d;
    return nd + (double)a->rfa_iters * (5.0 * nd + 5.0 * (double)d);
}

static const bg_aggregator_ops_t mean_ops = {
    .name = "mean",
    .summary = "coordinate-wise mean (not robust)",
    .needs_honest_majority = 0,
    .run = mean_run,
    .flops = mean_flops,
};

static const bg_aggregator_ops_t cm_ops = {
    .name = "cm",
    .summary = "coordinate-wise median (even n: mean of the two middle values)",
    .needs_honest_majority = 1,
    .run = cm_run,
    .flops = cm_flops,
};

static const bg_aggregator_ops_t cwtm_ops = {
    .name = "cwtm",
    .summary = "coordinate-wise trimmed mean, f trimmed per side",
    .needs_honest_majority = 1,
    .run = cwtm_run,
    .flops = cwtm_flops,
};

static const bg_aggregator_ops_t rfa_ops = {
    .name = "rfa",
    .summary = "smoothed geometric median (Weiszfeld from the mean, rfa_iters, rfa_nu, rfa_tol)",
    .needs_honest_majority = 1,
    .run = rfa_run,
    .flops = rfa_flops,
};

const bg_aggregator_ops_t *const bg_aggregator_registry[] = {
    &mean_ops,
    &cm_ops,
    &cwtm_ops,
    &rfa_ops,
    NULL,
};

/* ---------------------------------------------------------------- pre-aggregators */

static int none_run(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *const *out)
{
    (void)a;
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

typedef struct {
    double dist;
    size_t idx;
} nnm_cand_t;

static int nnm_cand_less(const nnm_cand_t *a, const nnm_cand_t *b)
{
    return a->dist < b->dist || (a->dist == b->dist && a->idx < b->idx);   /* ties: lower index, as Python's */
}

static int nnm_cand_cmp(const void *pa, const void *pb)
{
    return nnm_cand_less(pa, pb) ? -1 : nnm_cand_less(pb, pa) ? 1 : 0;
}

/* Nearest-neighbour mixing. The Gram matrix is built in double by cblas_dsyrk over column chunks converted
 * from the float rows. A float Gram (ssyrk on an n x d copy, twice as fast) loses the distances between nearly
 * equal gradients to cancellation (d_ij << |x_i|^2), and the n x d copy is as large as the input; the chunks
 * need 512 KiB (n x max(256, 65536/n) doubles) and keep BLAS-3 reuse. Pairwise cblas_sdot reads every row n/2 times: as
 * fast at n = 20 (measured ~equal at d = 1e4 and 1e6) but 2.5x slower at n = 100. */
static int nnm_run(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *const *out)
{
    if (n == 0)
        return BG_EINVAL;
    const size_t f = a->f;
    if (2 * f >= n)
        return BG_ERANGE;
    if (f == 0) {
        /* Every vector's n nearest are all n vectors. */
        mean_rows(in, n, d, out[0]);
        for (size_t i = 1; i < n; i++)
            memcpy(out[i], out[0], d * sizeof(float));
        return BG_OK;
    }
    const size_t keep = n - f;
    size_t chunk = 65536 / n;
    if (chunk < 256)
        chunk = 256;
    if (chunk > d)
        chunk = d;
    double *G = calloc(n * n, sizeof *G);
    double *X = malloc(n * chunk * sizeof *X);
    nnm_cand_t *cand = malloc(n * sizeof *cand);
    const float **sel = malloc(n * keep * sizeof *sel);
    unsigned char *mark = malloc(n);
    if (!G || !X || !cand || !sel || !mark) {
        free(G);
        free(X);
        free(cand);
        free(sel);
        free(mark);
        return BG_ENOMEM;
    }
    for (size_t j0 = 0; j0 < d; j0 += chunk) {
        size_t w = d - j0 < chunk ? d - j0 : chunk;
        for (size_t i = 0; i < n; i++) {
            const float *r = in[i] + j0;
            double *x = X + i * w;
            for (size_t l = 0; l < w; l++)
                x[l] = r[l];
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)w, 1.0, X, (int)w, 1.0, G, (int)n);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double dij;
            if (j == i) {
                dij = 0.0;
            } else {
                size_t p = i < j ? i : j, q = i < j ? j : i;
                dij = G[p * n + p] + G[q * n + q] - 2.0 * G[p * n + q];
                if (isnan(dij))
                    dij = INFINITY;   /* only reachable by direct callers passing non-finite rows */
                else if (dij < 0.0)
                    dij = 0.0;
            }
            cand[j].dist = dij;
            cand[j].idx = j;
        }
        if (n <= 64) {
            /* Insertion sort: a few hundred inline comparisons beat qsort's indirect calls at this size. */
            for (size_t j = 1; j < n; j++) {
                nnm_cand_t c = cand[j];
                size_t k = j;
                for (; k > 0 && nnm_cand_less(&c, &cand[k - 1]); k--)
                    cand[k] = cand[k - 1];
                cand[k] = c;
            }
        } else {
            qsort(cand, n, sizeof *cand, nnm_cand_cmp);
        }
        /* Sum in index order: with f = 0 this is exactly the mean, and the result does not depend on how the
         * distance ties fell. */
        memset(mark, 0, n);
        for (size_t q = 0; q < keep; q++)
            mark[cand[q].idx] = 1;
        const float **s = sel + i * keep;
        for (size_t j = 0, q = 0; j < n; j++)
            if (mark[j])
                s[q++] = in[j];
    }
    free(G);
    free(X);
    free(cand);
    free(mark);
    /* All y_i block by block, so each input chunk is read from memory once for all n means. */
    double acc[MEAN_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += MEAN_BLOCK) {
        size_t w = d - j0 < MEAN_BLOCK ? d - j0 : MEAN_BLOCK;
        for (size_t i = 0; i < n; i++) {
            wsum(sel + i * keep, keep, NULL, j0, w, acc);
            float *o = out[i] + j0;
            for (size_t l = 0; l < w; l++)
                o[l] = (float)(acc[l] / (double)keep);
        }
    }
    free(sel);
    return BG_OK;
}

static double nnm_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    double nn = (double)n, dd = (double)d;
    if (a->f == 0)
        return nn * dd + dd;   /* one mean, copied */
    /* Gram: n(n+1)/2 dot products of 2d flops (~n^2 d); distances 3n^2; n sorts of n candidates
     * (n^2 log2 n comparisons); n means of n - f rows. */
    return nn * nn * dd + 3.0 * nn * nn + nn * nn * log2(nn) + nn * (double)(n - a->f) * dd + nn * dd;
}

static const bg_preagg_ops_t none_pre_ops = {
    .name = "none",
    .summary = "no pre-aggregation",
    .needs_honest_majority = 0,
    .run = none_run,
    .flops = none_flops,
};

static const bg_preagg_ops_t nnm_ops = {
    .name = "nnm",
    .summary = "nearest-neighbour mixing: each vector becomes the mean of its n - f nearest",
    .needs_honest_majority = 1,
    .run = nnm_run,
    .flops = nnm_flops,
};

const bg_preagg_ops_t *const bg_preagg_registry[] = {
    &none_pre_ops,
    &nnm_ops,
    NULL,
};

const bg_aggregator_ops_t *bg_aggregator_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; bg_aggregator_registry[i]; i++)
        if (strcmp(bg_aggregator_registry[i]->name, name) == 0)
            return bg_aggregator_registry[i];
    return NULL;
}

const bg_preagg_ops_t *bg_preagg_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; bg_preagg_registry[i]; i++)
        if (strcmp(bg_preagg_registry[i]->name, name) == 0)
            return bg_preagg_registry[i];
    return NULL;
}

/* ---------------------------------------------------------------- pipeline */

static int is_identity_pre(const bg_preagg_ops_t *p)
{
    return !p || p == &none_pre_ops;
}

int bg_robust_init(bg_robust_t *r, const char *pre, const char *agg, const bg_agg_args_t *a, size_t n, size_t d,
                   bg_err_t *err)
{
    memset(r, 0, sizeof *r);
    char known[256];
    size_t len;
    const bg_preagg_ops_t *p = NULL;
    if (pre && pre[0]) {
        p = bg_preagg_find(pre);
        if (!p) {
            known[0] = '\0';
            len = 0;
            for (size_t i = 0; bg_preagg_registry[i] && len < sizeof known; i++)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                        bg_preagg_registry[i]->name);
            return bg_err_set(err, BG_ENOTFOUND, NULL, 0, "unknown pre-aggregator '%s' (known: %s)", pre, known);
        }
    }
    const bg_aggregator_ops_t *g = bg_aggregator_find(agg);
    if (!g) {
        known[0] = '\0';
        len = 0;
        for (size_t i = 0; bg_aggregator_registry[i] && len < sizeof known; i++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                    bg_aggregator_registry[i]->name);
        return bg_err_set(err, BG_ENOTFOUND, NULL, 0, "unknown aggregator '%s' (known: %s)", agg ? agg : "(null)",
                          known);
    }
    bg_agg_args_t args;
    if (a)
        args = *a;
    else
        bg_agg_args_default(&args);
    if (n == 0 || d == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "aggregation needs n >= 1 and d >= 1 (n = %zu, d = %zu)", n, d);
    if (args.f >= n)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n = %zu: at least one input must be honest",
                          args.f, n);
    if (2 * args.f >= n) {
        const char *who = NULL;
        if (p && p->needs_honest_majority)
            who = p->name;
        else if (g->needs_honest_majority)
            who = g->name;
        if (who)
            return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n/2 = %g for %s", args.f, (double)n / 2.0,
                              who);
    }
    if (g == &rfa_ops) {
        if (!(args.rfa_nu > 0.0) || !isfinite(args.rfa_nu))
            return bg_err_set(err, BG_ERANGE, NULL, 0, "rfa: rfa_nu = %g must be a finite number > 0", args.rfa_nu);
        if (!(args.rfa_tol >= 0.0) || !isfinite(args.rfa_tol))
            return bg_err_set(err, BG_ERANGE, NULL, 0, "rfa: rfa_tol = %g must be a finite number >= 0",
                              args.rfa_tol);
    }
    if (d > SIZE_MAX / sizeof(float) / n)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "aggregation scratch of %zu x %zu floats is too large", n, d);
    r->pre = is_identity_pre(p) ? NULL : p;
    r->agg = g;
    r->args = args;
    r->n = n;
    r->d = d;
    r->rows = malloc(n * sizeof *r->rows);
    r->kept = malloc(n * sizeof *r->kept);
    if (r->pre)
        r->buf = malloc(n * d * sizeof *r->buf);
    if (!r->rows || !r->kept || (r->pre && !r->buf)) {
        bg_robust_free(r);
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for aggregation scratch (%zu x %zu floats)", n, d);
    }
    for (size_t i = 0; i < n; i++)
        r->rows[i] = r->buf ? r->buf + i * d : NULL;
    return BG_OK;
}

void bg_robust_free(bg_robust_t *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->rows);
    free(r->kept);
    memset(r, 0, sizeof *r);
}

/* Finiteness by exponent bits, OR-reduced per chunk: vectorizes (isfinite's early exit per value does not),
 * and still stops at the first bad chunk. */
static int row_finite(const float *x, size_t d)
{
    for (size_t j0 = 0; j0 < d; j0 += 1024) {
        size_t w = d - j0 < 1024 ? d - j0 : 1024;
        uint32_t bad = 0;
        for (size_t l = 0; l < w; l++) {
            uint32_t u;
            memcpy(&u, &x[j0 + l], sizeof u);
            bad |= (uint32_t)((u & 0x7F800000u) == 0x7F800000u);
        }
        if (bad)
            return 0;
    }
    return 1;
}

/* A NULL row counts as dropped too: a missing message is no more trustworthy than a poisoned one. */
int bg_robust_run(bg_robust_t *r, const float *const *in, float *out, size_t *n_dropped)
{
    size_t m = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (in[i] && row_finite(in[i], r->d))
            r->kept[m++] = in[i];
    }
    size_t dropped = r->n - m;
    if (n_dropped)
        *n_dropped = dropped;
    if (dropped > r->args.f || m == 0)
        return BG_ERANGE;
    bg_agg_args_t args = r->args;
    args.f -= dropped;   /* 2f < n implies 2(f - k) < n - k: the rules stay valid */
    if (r->pre) {
        int rc = r->pre->run(&args, r->kept, m, r->d, r->rows);
        if (rc != BG_OK)
            return rc;
        return r->agg->run(&args, (const float *const *)r->rows, m, r->d, out);
    }
    return r->agg->run(&args, r->kept, m, r->d, out);
}

double bg_robust_flops(const bg_robust_t *r)
{
    double fl = r->agg->flops(&r->args, r->n, r->d);
    if (r->pre)
        fl += r->pre->flops(&r->args, r->n, r->d);
    return fl;
}
