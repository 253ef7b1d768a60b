/* Row kernels the rules share: weighted sums and distances to a centre kept in double (AVX picked at run time),
 * means, the pairwise distance matrix, and the (distance, index) sort that fixes how ties fall. */
#include "aggregate_internal.h"

#include <gsl/gsl_cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef BG_AGG_X86
#include <immintrin.h>
#endif

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

void bg_agg_wsum(const float *const *rows, size_t m, const double *wt, size_t j0, size_t w, double *acc)
{
#ifdef BG_AGG_X86
    if (__builtin_cpu_supports("avx")) {
        wsum_avx(rows, m, wt, j0, w, acc);
        return;
    }
#endif
    wsum_portable(rows, m, wt, j0, w, acc);
}

double bg_agg_row_dist2(const double *z, const float *x, size_t w)
{
#ifdef BG_AGG_X86
    if (__builtin_cpu_supports("avx"))
        return dist2_avx(z, x, w);
#endif
    return dist2_portable(z, x, w);
}

/* out = mean of m rows; double accumulation in row order, so the result does not depend on blocking. */
void bg_agg_mean_rows(const float *const *rows, size_t m, size_t d, float *out)
{
    double acc[BG_AGG_MEAN_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += BG_AGG_MEAN_BLOCK) {
        size_t w = d - j0 < BG_AGG_MEAN_BLOCK ? d - j0 : BG_AGG_MEAN_BLOCK;
        bg_agg_wsum(rows, m, NULL, j0, w, acc);
        for (size_t l = 0; l < w; l++)
            out[j0 + l] = (float)(acc[l] / (double)m);
    }
}

static int cand_less(const bg_agg_cand_t *a, const bg_agg_cand_t *b)
{
    return a->dist < b->dist || (a->dist == b->dist && a->idx < b->idx);   /* ties: lower index, as Python's */
}

static int cand_cmp(const void *pa, const void *pb)
{
    return cand_less(pa, pb) ? -1 : cand_less(pb, pa) ? 1 : 0;
}

/* Ascending by (dist, idx). Insertion sort below 64: a few hundred inline comparisons beat qsort's indirect
 * calls at this size. */
void bg_agg_cand_sort(bg_agg_cand_t *c, size_t n)
{
    if (n <= 64) {
        for (size_t j = 1; j < n; j++) {
            bg_agg_cand_t x = c[j];
            size_t k = j;
            for (; k > 0 && cand_less(&x, &c[k - 1]); k--)
                c[k] = c[k - 1];
            c[k] = x;
        }
    } else {
        qsort(c, n, sizeof *c, cand_cmp);
    }
}

/* D[i n + j] = |x_i - x_j|^2 for all pairs, from a Gram matrix built in double by cblas_dsyrk over column
 * chunks converted from the float rows. A float Gram (ssyrk on an n x d copy, twice as fast) loses the
 * distances between nearly equal gradients to cancellation (d_ij << |x_i|^2), and the n x d copy is as large
 * as the input; the chunks need 512 KiB (n x max(256, 65536/n) doubles) and keep BLAS-3 reuse. Pairwise
 * cblas_sdot reads every row n/2 times: as fast at n = 20 but 2.5x slower at n = 100. */
int bg_agg_pair_dist2(const float *const *in, size_t n, size_t d, double *D)
{
    size_t chunk = 65536 / n;
    if (chunk < 256)
        chunk = 256;
    if (chunk > d)
        chunk = d;
    double *X = malloc(n * chunk * sizeof *X);
    if (!X)
        return BG_ENOMEM;
    memset(D, 0, n * n * sizeof *D);
    for (size_t j0 = 0; j0 < d; j0 += chunk) {
        size_t w = d - j0 < chunk ? d - j0 : chunk;
        for (size_t i = 0; i < n; i++) {
            const float *r = in[i] + j0;
            double *x = X + i * w;
            for (size_t l = 0; l < w; l++)
                x[l] = r[l];
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)w, 1.0, X, (int)w, 1.0, D, (int)n);
    }
    free(X);
    /* The upper triangle is read once and overwritten; the diagonal is cleared last. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double dij = D[i * n + i] + D[j * n + j] - 2.0 * D[i * n + j];
            if (isnan(dij))
                dij = INFINITY;   /* only reachable by direct callers passing non-finite rows */
            else if (dij < 0.0)
                dij = 0.0;
            D[i * n + j] = D[j * n + i] = dij;
        }
    for (size_t i = 0; i < n; i++)
        D[i * n + i] = 0.0;
    return BG_OK;
}

/* Cost charged for bg_agg_pair_dist2: n(n+1)/2 dot products of 2d flops, then 3 flops per pair. */
double bg_agg_pair_dist2_flops(size_t n, size_t d)
{
    return (double)n * (double)n * (double)d + 3.0 * (double)n * (double)n;
}
