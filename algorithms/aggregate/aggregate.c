/* Robust aggregators (mean, median, trimmed means, geometric median, Krum family, Bulyan, MeaMed, MDA, DnC,
 * MoNNA, centered clipping), pre-aggregators (NNM, bucketing, clipping, ARC) and the pipeline composing them. */
#include "bg_aggregate.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_randist.h>
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
#define NET_GROUP 16   /* rows sorted in registers by net_load_sort16_avx512 (Batcher's stages p < 16) */
#define PREFETCH_AHEAD 8   /* blocks (of LANES coordinates) between a row's prefetch and its use */

void bg_agg_args_default(bg_agg_args_t *a)
{
    a->f = 0;
    a->rfa_iters = 8;
    a->rfa_nu = 0.1;
    a->rfa_tol = 1e-6;
    a->krum_power = 2;
    a->krum_m = 0;
    a->cc_tau = 10.0;
    a->cc_iters = 3;
    a->bucket_s = 2;
    a->clip_tau = 1.0;
    a->dnc_iters = 1;
    a->dnc_sub_dim = 10000;
    a->dnc_filter_frac = 1.0;
    a->mda_max_subsets = 1e6;
    a->rng = NULL;
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
 * comparators whose outputs never reach positions lo..hi are dropped (only those order statistics are read).
 * sum_only: only the sum of positions lo..hi is read, so a comparator between two positions that are only
 * summed (it just swaps two addends) is dropped too: 11% of the trimmed mean's network at n = f * 5. */
static size_t net_build(size_t n, size_t lo, size_t hi, int sum_only, unsigned char *ca, unsigned char *cb)
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
    /* 0: never read; 1: only summed; 2: read as an exact order statistic. */
    unsigned char live[NET_MAX] = {0};
    for (size_t q = lo; q <= hi; q++)
        live[q] = sum_only ? 1 : 2;
    size_t kept = m;
    for (size_t c = m; c-- > 0;) {
        if ((live[ca[c]] || live[cb[c]]) && !(live[ca[c]] == 1 && live[cb[c]] == 1)) {
            live[ca[c]] = live[cb[c]] = 2;
            kept--;
            ca[kept] = ca[c];
            cb[kept] = cb[c];
        }
    }
    memmove(ca, ca + kept, m - kept);
    memmove(cb, cb + kept, m - kept);
    return m - kept;
}

#ifdef BG_AGG_X86
/* For AVX-512 at n > NET_AVX512_MIN_N: a bitonic sort (each merge opens with the "flip" comparators i,
 * 2p-1-i, then half-cleaners), whose merge steps at distances below 16 stay inside aligned 16-row groups and
 * run in registers (bit_apply_avx512). It has more comparators than Batcher's, but at n = 100 only 216 of them
 * (median) go through the L1 block against Batcher's 512 after the register sort of the 16-row groups, and
 * those block comparators are what costs: four 512-bit stores per 32 lanes, and Zen 4 retires one every two
 * cycles. Measured at n = 100, d = 1e6 (copy of the input 25-28 ms), median: Batcher through the block 110 ms,
 * with the register 16-row sorts 71-79 ms, this 62-69 ms. Rows >= n are +Inf as in net_build.
 * Pruned backwards the same way; a group pass is kept unless all its rows are dead or only summed. The
 * initial 16-row sorts (net_load_sort16_avx512) are not in the program. Returns the program length. */
static size_t bit_build(size_t n, size_t lo, size_t hi, int sum_only, unsigned char *ca, unsigned char *cb)
{
    size_t N = NET_GROUP, m = 0;
    while (N < n)
        N <<= 1;
    for (size_t p = NET_GROUP; p < N; p <<= 1) {
        for (size_t base = 0; base < N; base += 2 * p)
            for (size_t i = 0; i < p; i++)
                if (base + 2 * p - 1 - i < n) {
                    ca[m] = (unsigned char)(base + i);
                    cb[m] = (unsigned char)(base + 2 * p - 1 - i);
                    m++;
                }
        for (size_t k = p / 2; k >= NET_GROUP; k >>= 1)
            for (size_t a = 0; a + k < n; a++)
                if (!(a & k)) {
                    ca[m] = (unsigned char)a;
                    cb[m] = (unsigned char)(a + k);
                    m++;
                }
        for (size_t g = 0; g < n; g += NET_GROUP) {
            ca[m] = cb[m] = (unsigned char)g;
            m++;
        }
    }
    unsigned char live[NET_MAX] = {0};
    for (size_t q = lo; q <= hi; q++)
        live[q] = sum_only ? 1 : 2;
    size_t kept = m;
    for (size_t c = m; c-- > 0;) {
        int keep;
        size_t a = ca[c], b = cb[c], e = a;
        if (a != b) {
            keep = (live[a] || live[b]) && !(live[a] == 1 && live[b] == 1);
            b = a + 1;
            e = cb[c];
        } else {
            b = a + NET_GROUP < n ? a + NET_GROUP : n;
            int any = 0, all1 = 1;
            for (size_t q = a; q < b; q++) {
                any |= live[q] != 0;
                all1 &= live[q] == 1;
            }
            keep = any && !all1;
        }
        if (keep) {
            for (size_t q = a; q < b; q++)
                live[q] = 2;
            live[e] = 2;
            kept--;
            ca[kept] = ca[c];
            cb[kept] = cb[c];
        }
    }
    memmove(ca, ca + kept, m - kept);
    memmove(cb, cb + kept, m - kept);
    return m - kept;
}
#endif

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
/* Batcher's stages p < 16 sort each aligned group of 16 rows; they are 385 of the 897 comparators kept for
 * the median at n = 100. Done here in registers straight from the input rows, each costs two vector ops
 * instead of two loads, two stores and two ops through the L1 block (the store-forwarding chain that sets
 * net_apply's pace), and the block copy is folded in (rows >= n are +Inf, which no comparator moves). Any
 * sorting network gives the same order statistics, min and max being exact; only which of -0 and +0 lands
 * where can differ (as it already does between minps and the portable `x < y ? x : y`). */
#define NET_SORT16 \
    CX(0, 1) CX(2, 3) CX(4, 5) CX(6, 7) CX(8, 9) CX(10, 11) CX(12, 13) CX(14, 15) CX(0, 2) CX(1, 3) CX(4, 6) \
    CX(5, 7) CX(8, 10) CX(9, 11) CX(12, 14) CX(13, 15) CX(1, 2) CX(5, 6) CX(9, 10) CX(13, 14) CX(0, 4) CX(1, 5) \
    CX(2, 6) CX(3, 7) CX(8, 12) CX(9, 13) CX(10, 14) CX(11, 15) CX(2, 4) CX(3, 5) CX(10, 12) CX(11, 13) \
    CX(1, 2) CX(3, 4) CX(5, 6) CX(9, 10) CX(11, 12) CX(13, 14) CX(0, 8) CX(1, 9) CX(2, 10) CX(3, 11) CX(4, 12) \
    CX(5, 13) CX(6, 14) CX(7, 15) CX(4, 8) CX(5, 9) CX(6, 10) CX(7, 11) CX(2, 4) CX(3, 5) CX(6, 8) CX(7, 9) \
    CX(10, 12) CX(11, 13) CX(1, 2) CX(3, 4) CX(5, 6) CX(7, 8) CX(9, 10) CX(11, 12) CX(13, 14)

__attribute__((target("avx512f"))) static void net_load_sort16_avx512(const float *const *in, size_t j0, size_t n,
                                                                     float (*blk)[LANES])
{
#define CX(a, b)                                                                                                   \
    {                                                                                                              \
        __m512 t_ = _mm512_min_ps(v[a], v[b]);                                                                     \
        v[b] = _mm512_max_ps(v[a], v[b]);                                                                          \
        v[a] = t_;                                                                                                 \
    }
    const __m512 inf = _mm512_set1_ps(INFINITY);
    for (size_t g = 0; g < n; g += NET_GROUP) {
        size_t r = n - g < NET_GROUP ? n - g : NET_GROUP;
        for (size_t h = 0; h < LANES; h += 16) {
            __m512 v[NET_GROUP];
            for (size_t i = 0; i < NET_GROUP; i++)
                v[i] = i < r ? _mm512_loadu_ps(in[g + i] + j0 + h) : inf;
            NET_SORT16
            for (size_t i = 0; i < r; i++)
                _mm512_store_ps(blk[g + i] + h, v[i]);
        }
    }
#undef CX
}

/* The last four steps of a bitonic merge (half-cleaners at distances 8, 4, 2, 1) stay inside aligned groups of
 * 16 rows, so they run in registers like NET_SORT16. */
#define NET_HALFCLEAN16 \
    CX(0, 8) CX(1, 9) CX(2, 10) CX(3, 11) CX(4, 12) CX(5, 13) CX(6, 14) CX(7, 15) CX(0, 4) CX(1, 5) CX(2, 6) \
    CX(3, 7) CX(8, 12) CX(9, 13) CX(10, 14) CX(11, 15) CX(0, 2) CX(1, 3) CX(4, 6) CX(5, 7) CX(8, 10) CX(9, 11) \
    CX(12, 14) CX(13, 15) CX(0, 1) CX(2, 3) CX(4, 5) CX(6, 7) CX(8, 9) CX(10, 11) CX(12, 13) CX(14, 15)

/* bit_build's program on AVX-512 after net_load_sort16_avx512: ca[c] != cb[c] is a comparator through the L1
 * block, ca[c] == cb[c] the register half-cleaner pass on rows ca[c]..ca[c]+15 (those >= n are +Inf). */
__attribute__((target("avx512f"))) static void bit_apply_avx512(const unsigned char *ca, const unsigned char *cb,
                                                               size_t m, size_t n, float (*blk)[LANES])
{
#define CX(a, b)                                                                                                   \
    {                                                                                                              \
        __m512 t_ = _mm512_min_ps(v[a], v[b]);                                                                     \
        v[b] = _mm512_max_ps(v[a], v[b]);                                                                          \
        v[a] = t_;                                                                                                 \
    }
    const __m512 inf = _mm512_set1_ps(INFINITY);
    for (size_t c = 0; c < m; c++) {
        if (ca[c] != cb[c]) {
            float *p = blk[ca[c]], *q = blk[cb[c]];
            for (size_t l = 0; l < LANES; l += 16) {
                __m512 x = _mm512_load_ps(p + l), y = _mm512_load_ps(q + l);
                _mm512_store_ps(p + l, _mm512_min_ps(x, y));
                _mm512_store_ps(q + l, _mm512_max_ps(x, y));
            }
            continue;
        }
        size_t g = ca[c], r = n - g < NET_GROUP ? n - g : NET_GROUP;
        for (size_t h = 0; h < LANES; h += 16) {
            __m512 v[NET_GROUP];
            for (size_t i = 0; i < NET_GROUP; i++)
                v[i] = i < r ? _mm512_load_ps(blk[g + i] + h) : inf;
            NET_HALFCLEAN16
            for (size_t i = 0; i < r; i++)
                _mm512_store_ps(blk[g + i] + h, v[i]);
        }
    }
#undef CX
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

/* out[l] = (sum of blk[q][l] for q = lo..hi, in double, q ascending) * inv for l < w. The same adds in the same
 * order in every version, so they agree to the bit; the vector ones matter for trimmed means, where the sum
 * over n - 2t rows costs as much as the network when done two doubles at a time. */
static void block_sum_portable(float (*blk)[LANES], size_t lo, size_t hi, double inv, float *out, size_t w)
{
    double acc[LANES] = {0};
    for (size_t q = lo; q <= hi; q++)
        for (size_t l = 0; l < LANES; l++)
            acc[l] += blk[q][l];
    for (size_t l = 0; l < w; l++)
        out[l] = (float)(acc[l] * inv);
}

#ifdef BG_AGG_X86
__attribute__((target("avx"))) static void block_sum_avx(float (*blk)[LANES], size_t lo, size_t hi, double inv,
                                                         float *out, size_t w)
{
    __m256d a[LANES / 4];
    for (size_t k = 0; k < LANES / 4; k++)
        a[k] = _mm256_setzero_pd();
    for (size_t q = lo; q <= hi; q++)
        for (size_t k = 0; k < LANES / 4; k++)
            a[k] = _mm256_add_pd(a[k], _mm256_cvtps_pd(_mm_load_ps(blk[q] + 4 * k)));
    float o[LANES];
    const __m256d v = _mm256_set1_pd(inv);
    for (size_t k = 0; k < LANES / 4; k++)
        _mm_storeu_ps(o + 4 * k, _mm256_cvtpd_ps(_mm256_mul_pd(a[k], v)));
    memcpy(out, o, w * sizeof *out);
}

__attribute__((target("avx512f"))) static void block_sum_avx512(float (*blk)[LANES], size_t lo, size_t hi,
                                                               double inv, float *out, size_t w)
{
    __m512d a[LANES / 8];
    for (size_t k = 0; k < LANES / 8; k++)
        a[k] = _mm512_setzero_pd();
    for (size_t q = lo; q <= hi; q++)
        for (size_t k = 0; k < LANES / 8; k++)
            a[k] = _mm512_add_pd(a[k], _mm512_cvtps_pd(_mm256_load_ps(blk[q] + 8 * k)));
    float o[LANES];
    const __m512d v = _mm512_set1_pd(inv);
    for (size_t k = 0; k < LANES / 8; k++)
        _mm256_storeu_ps(o + 8 * k, _mm512_cvtpd_ps(_mm512_mul_pd(a[k], v)));
    memcpy(out, o, w * sizeof *out);
}
#endif

typedef void (*block_sum_fn)(float (*)[LANES], size_t, size_t, double, float *, size_t);

static block_sum_fn block_sum_pick(void)
{
#ifdef BG_AGG_X86
    if (__builtin_cpu_supports("avx512f"))
        return block_sum_avx512;
    if (__builtin_cpu_supports("avx"))
        return block_sum_avx;
#endif
    return block_sum_portable;
}

typedef void (*net_apply_fn)(const unsigned char *, const unsigned char *, size_t, float (*)[LANES]);

/* Below about 24 inputs a network layer has only a few comparators, so its chain of store, reload, min/max
 * sets the pace, and 512-bit reloads of 512-bit stores forward more slowly than two 256-bit ones: measured on
 * an AVX-512 EPYC (Zen 4) at d = 1e5, ns per 32-lane comparator AVX-512 / AVX: n = 8: 7.1 / 5.6, n = 20:
 * 3.4 / 2.8, n = 32: 2.3 / 2.9, n = 64: 2.0 / 2.9. Same bits either way (min and max are exact). */
#define NET_AVX512_MIN_N 24

static net_apply_fn net_apply_pick(size_t n)
{
#ifdef BG_AGG_X86
    if (n > NET_AVX512_MIN_N && __builtin_cpu_supports("avx512f"))
        return net_apply_avx512;
    if (__builtin_cpu_supports("avx"))
        return net_apply_avx;
    return net_apply_sse;
#else
    (void)n;
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
        unsigned char *ca = malloc(4 * NET_CAP);   /* Batcher's program, then bit_build's */
        if (!blk || !ca) {
            free(blk);
            free(ca);
            return BG_ENOMEM;
        }
        unsigned char *cb = ca + NET_CAP;
        size_t m = net_build(n, lo, hi, 1, ca, cb);
        net_apply_fn apply = net_apply_pick(n);
        block_sum_fn sum = block_sum_pick();
#ifdef BG_AGG_X86
        const int reg16 = n > NET_AVX512_MIN_N && __builtin_cpu_supports("avx512f");
        unsigned char *ca2 = ca + 2 * NET_CAP, *cb2 = ca + 3 * NET_CAP;
        size_t m2 = reg16 ? bit_build(n, lo, hi, 1, ca2, cb2) : 0;
#endif
        for (size_t j0 = 0; j0 < d; j0 += LANES) {
            size_t w = d - j0 < LANES ? d - j0 : LANES;
            if (w == LANES) {
                /* Constant size: vector moves, where a variable memcpy becomes a slow-starting rep movs. The
                 * n rows are n concurrent streams, more than the hardware prefetchers follow at n = 100, so
                 * the lines PREFETCH_AHEAD blocks on are asked for now (a prefetch never faults). */
                if (j0 + (PREFETCH_AHEAD + 1) * LANES <= d)
                    for (size_t i = 0; i < n; i++) {
                        const float *r = in[i] + j0 + PREFETCH_AHEAD * LANES;
                        __builtin_prefetch(r);
                        __builtin_prefetch(r + LANES / 2);
                    }
#ifdef BG_AGG_X86
                if (reg16) {
                    net_load_sort16_avx512(in, j0, n, blk);
                    bit_apply_avx512(ca2, cb2, m2, n, blk);
                    sum(blk, lo, hi, inv, out + j0, w);
                    continue;
                }
#endif
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
            sum(blk, lo, hi, inv, out + j0, w);
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

static int mean_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
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

static int cm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
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

static int cwtm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
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
static int rfa_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
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

/* ---------------------------------------------------------------- shared machinery for the newer rules */

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

/* Ascending by (dist, idx). Insertion sort below 64: a few hundred inline comparisons beat qsort's indirect
 * calls at this size. */
static void cand_sort(nnm_cand_t *c, size_t n)
{
    if (n <= 64) {
        for (size_t j = 1; j < n; j++) {
            nnm_cand_t x = c[j];
            size_t k = j;
            for (; k > 0 && nnm_cand_less(&x, &c[k - 1]); k--)
                c[k] = c[k - 1];
            c[k] = x;
        }
    } else {
        qsort(c, n, sizeof *c, nnm_cand_cmp);
    }
}

static int dbl_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* D[i n + j] = |x_i - x_j|^2 for all pairs, from a Gram matrix built in double by cblas_dsyrk over column
 * chunks converted from the float rows. A float Gram (ssyrk on an n x d copy, twice as fast) loses the
 * distances between nearly equal gradients to cancellation (d_ij << |x_i|^2), and the n x d copy is as large
 * as the input; the chunks need 512 KiB (n x max(256, 65536/n) doubles) and keep BLAS-3 reuse. Pairwise
 * cblas_sdot reads every row n/2 times: as fast at n = 20 but 2.5x slower at n = 100. */
static int pair_dist2(const float *const *in, size_t n, size_t d, double *D)
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

/* Cost charged for pair_dist2: n(n+1)/2 dot products of 2d flops, then 3 flops per pair. */
static double pair_dist2_flops(size_t n, size_t d)
{
    return (double)n * (double)n * (double)d + 3.0 * (double)n * (double)n;
}

/* out = mean of the rows of in flagged in mark, in index order (so ties in how they were chosen never change
 * the bits). */
static int mean_marked(const float *const *in, size_t n, size_t d, const unsigned char *mark, float *out)
{
    const float **p = malloc(n * sizeof *p);
    if (!p)
        return BG_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (mark[i])
            p[m++] = in[i];
    if (m == 0) {
        free(p);
        return BG_EINVAL;
    }
    mean_rows(p, m, d, out);
    free(p);
    return BG_OK;
}

/* The k values of a sorted column a (ascending) closest to its median m form a window [L, L + k). Moving the
 * window from [i, i + k) to [i + 1, i + k + 1) trades a[i] for a[i + k], a gain iff a[i + k] - m < m - a[i], i.e.
 * a[i] + a[i + k] < 2m; that sum never decreases with i, so L is the number of i < n - k where it holds (on
 * equal distance the lower value stays, as ties are broken in the reference). Counting instead of walking
 * two pointers has no data-dependent branch and vectorizes across lanes. Even length: m is the mean of the two
 * middle values, so 2m = their sum. */
static void window_lanes(float (*blk)[LANES], size_t n, size_t k, size_t w, float *out)
{
    double m2[LANES], s[LANES];
    size_t L[LANES];
    for (size_t l = 0; l < LANES; l++) {
        m2[l] = (double)blk[(n - 1) / 2][l] + (double)blk[n / 2][l];
        L[l] = 0;
        s[l] = 0.0;
    }
    for (size_t i = 0; i + k < n; i++)
        for (size_t l = 0; l < LANES; l++)
            L[l] += (size_t)((double)blk[i][l] + (double)blk[i + k][l] < m2[l]);
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < LANES; l++)
            s[l] += (i >= L[l] && i < L[l] + k) ? (double)blk[i][l] : 0.0;
    for (size_t l = 0; l < w; l++)
        out[l] = (float)(s[l] / (double)k);
}

static double window_mean(const float *a, size_t n, size_t k)
{
    double m2 = (double)a[(n - 1) / 2] + (double)a[n / 2];
    size_t L = 0;
    for (size_t i = 0; i + k < n; i++)
        L += (size_t)((double)a[i] + (double)a[i + k] < m2);
    double s = 0.0;
    for (size_t i = L; i < L + k; i++)
        s += a[i];
    return s / (double)k;
}

static int flt_cmp(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* out[j] = the mean of the k values of column j closest to its median (MeaMed, Bulyan's last step). Columns
 * are sorted LANES at a time by the full sorting network, as in order_mean; beyond NET_MAX, one qsort per
 * column. Inputs must be finite. */
static int median_window(const float *const *in, size_t n, size_t d, size_t k, float *out)
{
    if (n == 0 || k == 0 || k > n)
        return BG_EINVAL;
    if (n <= NET_MAX) {
        float(*blk)[LANES] = aligned_alloc(64, n * sizeof(float[LANES]));
        unsigned char *ca = malloc(2 * NET_CAP);
        if (!blk || !ca) {
            free(blk);
            free(ca);
            return BG_ENOMEM;
        }
        unsigned char *cb = ca + NET_CAP;
        size_t m = net_build(n, 0, n - 1, 0, ca, cb);
        net_apply_fn apply = net_apply_pick(n);
        for (size_t j0 = 0; j0 < d; j0 += LANES) {
            size_t w = d - j0 < LANES ? d - j0 : LANES;
            if (w == LANES) {
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
            window_lanes(blk, n, k, w, out + j0);
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
        qsort(col, n, sizeof *col, flt_cmp);
        out[j] = (float)window_mean(col, n, k);
    }
    free(col);
    return BG_OK;
}

static double median_window_flops(size_t n, size_t k, size_t d)
{
    /* A sort of each column (n log2 n comparisons), the median, the k-step window and its mean. */
    double nn = (double)n;
    return (nn * (nn > 1 ? log2(nn) : 1.0) + 3.0 * (double)k + 2.0) * (double)d;
}

/* ---------------------------------------------------------------- trimmed mean, MeaMed */

/* [S] trimmed_mean.py: b = f per side, lowered until a value remains. It differs from cwtm only where cwtm
 * refuses: tm accepts f >= n/2 (it then trims to the median, as [S] does), cwtm requires f < n/2. For f < n/2
 * the two give the same bits. */
static int tm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    size_t t = cwtm_trim(n, a->f);
    if (t == 0) {
        mean_rows(in, n, d, out);
        return BG_OK;
    }
    return order_mean(in, n, d, t, n - 1 - t, out);
}

static int meamed_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return median_window(in, n, d, n - a->f, out);
}

static double meamed_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    return median_window_flops(n, n > a->f ? n - a->f : 1, d);
}

/* ---------------------------------------------------------------- Krum, Multi-Krum, Bulyan */

static int krum_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (a->krum_power != 2 && a->krum_power != 4)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "krum_power = %d: the Krum score sums distances to the power 2 (textbook) or 4 ([S])",
                          a->krum_power);
    return BG_OK;
}

/* score[a] for the m candidates idx[0..m): the sum of the m - f - 2 smallest |x_a - x_b|^power over b != a
 * (textbook Krum, self excluded). When m <= f + 2 the textbook count is empty; the nearest one is used so
 * the rule still ranks (Krum's guarantee needs n > 2f + 2 anyway). tmp holds m doubles. */
static void krum_scores(const double *D, size_t n, const size_t *idx, size_t m, size_t f, int power, double *score,
                        double *tmp)
{
    size_t k = m > f + 2 ? m - f - 2 : 1;
    if (k > m - 1)
        k = m - 1;
    for (size_t p = 0; p < m; p++) {
        size_t q = 0;
        for (size_t b = 0; b < m; b++)
            if (b != p) {
                double x = D[idx[p] * n + idx[b]];
                tmp[q++] = power == 4 ? x * x : x;
            }
        qsort(tmp, q, sizeof *tmp, dbl_cmp);
        double s = 0.0;
        for (size_t t = 0; t < k; t++)
            s += tmp[t];
        score[p] = s;
    }
}

/* Average of the m best-scored vectors (m = 1: Krum). */
static int krum_select(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, size_t m, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (m > n)
        m = n;
    double *D = malloc(n * n * sizeof *D), *score = malloc(n * sizeof *score), *tmp = malloc(n * sizeof *tmp);
    size_t *idx = malloc(n * sizeof *idx);
    nnm_cand_t *c = malloc(n * sizeof *c);
    unsigned char *mark = calloc(n, 1);
    int rc = BG_ENOMEM;
    if (D && score && tmp && idx && c && mark && (rc = pair_dist2(in, n, d, D)) == BG_OK) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        krum_scores(D, n, idx, n, a->f, a->krum_power, score, tmp);
        for (size_t i = 0; i < n; i++) {
            c[i].dist = score[i];
            c[i].idx = i;
        }
        cand_sort(c, n);
        for (size_t q = 0; q < m; q++)
            mark[c[q].idx] = 1;
        rc = mean_marked(in, n, d, mark, out);
    }
    free(D);
    free(score);
    free(tmp);
    free(idx);
    free(c);
    free(mark);
    return rc;
}

static int krum_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return krum_select(a, in, n, d, 1, out);
}

static int multikrum_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return krum_select(a, in, n, d, a->krum_m ? a->krum_m : n - a->f, out);
}

static double krum_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    double nn = (double)n;
    /* Distances, n sorts of n - 1 scores, the copy of the winner. */
    return pair_dist2_flops(n, d) + nn * nn * (nn > 1 ? log2(nn) : 1.0) + (double)d;
}

static double multikrum_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    size_t m = a->krum_m ? a->krum_m : (n > a->f ? n - a->f : 1);
    return krum_flops(a, n, d) + (double)m * (double)d;
}

static int bulyan_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    if (n <= 4 * a->f)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "bulyan needs n > 4f: n = %zu, f = %zu", n, a->f);
    return krum_check(a, n, d, err);
}

/* El Mhamdi et al. 2018: theta = n - 2f vectors picked one by one as the Krum winner among those left (score
 * over the m left: the m - f - 2 nearest, self excluded; [S] counts the self-distance 0 among them, which is
 * not exposed), then per coordinate the mean of the theta - 2f values closest to the median of the picked.
 * Each row of distances is sorted once; a round walks the sorted rows skipping the picked, so the selection
 * costs n^2 per round instead of n^2 log n. The scores are the same sums in the same (ascending) order as
 * krum_scores would form. */
static int bulyan_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    const size_t f = a->f;
    if (n == 0 || n <= 4 * f)
        return BG_ERANGE;
    const size_t theta = n - 2 * f;
    double *D = malloc(n * n * sizeof *D);
    nnm_cand_t *ord = malloc(n * n * sizeof *ord);
    unsigned char *gone = calloc(n, 1);
    const float **sel = malloc(theta * sizeof *sel);
    int rc = BG_ENOMEM;
    if (D && ord && gone && sel && (rc = pair_dist2(in, n, d, D)) == BG_OK) {
        for (size_t p = 0; p < n; p++) {
            nnm_cand_t *o = ord + p * n;
            for (size_t j = 0; j < n; j++) {
                double x = D[p * n + j];
                o[j].dist = a->krum_power == 4 ? x * x : x;
                o[j].idx = j;
            }
            cand_sort(o, n);
        }
        for (size_t s = 0; s < theta; s++) {
            const size_t m = n - s;
            size_t k = m > f + 2 ? m - f - 2 : 1;
            if (k > m - 1)
                k = m - 1;
            size_t best = n;
            double bs = INFINITY;
            for (size_t p = 0; p < n; p++) {
                if (gone[p])
                    continue;
                const nnm_cand_t *o = ord + p * n;
                double sc = 0.0;
                for (size_t r = 0, t = 0; t < k; r++) {
                    size_t j = o[r].idx;
                    if (j == p || gone[j])
                        continue;
                    sc += o[r].dist;
                    t++;
                }
                if (best == n || sc < bs) {   /* ascending p: ties go to the lower index */
                    bs = sc;
                    best = p;
                }
            }
            sel[s] = in[best];
            gone[best] = 1;
        }
        rc = median_window(sel, theta, d, theta - 2 * f, out);
    }
    free(D);
    free(ord);
    free(gone);
    free(sel);
    return rc;
}

static double bulyan_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    size_t theta = n > 2 * a->f ? n - 2 * a->f : 1;
    double nn = (double)n;
    return pair_dist2_flops(n, d) + (double)theta * nn * nn * (nn > 1 ? log2(nn) : 1.0) +
           median_window_flops(theta, theta > 2 * a->f ? theta - 2 * a->f : 1, d);
}

/* ---------------------------------------------------------------- MoNNA */

/* ByzFL's MoNNA averages the n - f nearest neighbours of a trusted vector (the server's own, fixed index).
 * Here every input is anonymous and possibly Byzantine, so the pivot is the input whose n - f nearest
 * (itself included) have the smallest sum of Euclidean distances to it; ties to the lower index. */
static int monna_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    const size_t keep = n - a->f;
    double *D = malloc(n * n * sizeof *D), *row = malloc(n * sizeof *row);
    nnm_cand_t *c = malloc(n * sizeof *c);
    unsigned char *mark = calloc(n, 1);
    int rc = BG_ENOMEM;
    if (D && row && c && mark && (rc = pair_dist2(in, n, d, D)) == BG_OK) {
        size_t piv = 0;
        double best = INFINITY;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++)
                row[j] = sqrt(D[i * n + j]);
            qsort(row, n, sizeof *row, dbl_cmp);
            double s = 0.0;
            for (size_t q = 0; q < keep; q++)
                s += row[q];
            if (s < best) {
                best = s;
                piv = i;
            }
        }
        for (size_t j = 0; j < n; j++) {
            c[j].dist = D[piv * n + j];
            c[j].idx = j;
        }
        cand_sort(c, n);
        for (size_t q = 0; q < keep; q++)
            mark[c[q].idx] = 1;
        rc = mean_marked(in, n, d, mark, out);
    }
    free(D);
    free(row);
    free(c);
    free(mark);
    return rc;
}

static double monna_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    double nn = (double)n;
    return pair_dist2_flops(n, d) + nn * nn * (nn > 1 ? log2(nn) : 1.0) + (double)(n - a->f) * (double)d;
}

/* ---------------------------------------------------------------- MDA */

static double binom(size_t n, size_t k)
{
    if (k > n)
        return 0.0;
    if (k > n - k)
        k = n - k;
    double c = 1.0;
    for (size_t i = 1; i <= k; i++)
        c = c * (double)(n - k + i) / (double)i;
    return floor(c + 0.5);
}

static int mda_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)d;
    double c = binom(n, a->f);
    if (!(c <= a->mda_max_subsets))
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "mda: C(n, n - f) = C(%zu, %zu) = %.10g subsets exceeds mda_max_subsets = %g; lower f or "
                          "raise mda_max_subsets",
                          n, n - a->f, c, a->mda_max_subsets);
    return BG_OK;
}

typedef struct {
    const double *D;
    size_t n, k;
    size_t *cur, *best_set;
    double *pd;   /* pd[t]: squared diameter of cur[0..t) */
    double best;
} mda_ctx_t;

/* Depth-first over subsets in lexicographic order; a branch is cut as soon as its partial diameter reaches the
 * best (a superset is never smaller), and only a strictly smaller diameter replaces the best, so ties keep the
 * first subset in lexicographic order, as itertools.combinations in ByzFL does. */
static void mda_dfs(mda_ctx_t *x, size_t t, size_t start)
{
    if (t == x->k) {
        if (x->pd[t] < x->best) {
            x->best = x->pd[t];
            memcpy(x->best_set, x->cur, x->k * sizeof *x->cur);
        }
        return;
    }
    for (size_t i = start; i + (x->k - t) <= x->n; i++) {
        double dm = x->pd[t];
        for (size_t s = 0; s < t; s++) {
            double v = x->D[x->cur[s] * x->n + i];
            if (v > dm)
                dm = v;
        }
        if (dm >= x->best)
            continue;
        x->cur[t] = i;
        x->pd[t + 1] = dm;
        mda_dfs(x, t + 1, i + 1);
    }
}

/* Minimum-diameter averaging: the mean of the n - f inputs whose largest pairwise distance is smallest. */
static int mda_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    if (!(binom(n, a->f) <= a->mda_max_subsets))
        return BG_ERANGE;
    const size_t k = n - a->f;
    double *D = malloc(n * n * sizeof *D), *pd = malloc((k + 1) * sizeof *pd);
    size_t *cur = malloc(k * sizeof *cur), *bs = malloc(k * sizeof *bs);
    unsigned char *mark = calloc(n, 1);
    int rc = BG_ENOMEM;
    if (D && pd && cur && bs && mark && (rc = pair_dist2(in, n, d, D)) == BG_OK) {
        mda_ctx_t x = {D, n, k, cur, bs, pd, INFINITY};
        pd[0] = 0.0;
        mda_dfs(&x, 0, 0);
        if (x.best == INFINITY) {   /* every subset has an infinite diameter: keep the first */
            for (size_t q = 0; q < k; q++)
                bs[q] = q;
        }
        for (size_t q = 0; q < k; q++)
            mark[bs[q]] = 1;
        rc = mean_marked(in, n, d, mark, out);
    }
    free(D);
    free(pd);
    free(cur);
    free(bs);
    free(mark);
    return rc;
}

static double mda_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    /* Charged at the worst case: every subset visited, k pair lookups per new member. */
    size_t k = n > a->f ? n - a->f : 1;
    return pair_dist2_flops(n, d) + binom(n, a->f) * (double)k + (double)k * (double)d;
}

/* ---------------------------------------------------------------- DnC */

static size_t dnc_removed(const bg_agg_args_t *a)
{
    return (size_t)floor(a->dnc_filter_frac * (double)a->f);
}

static int dnc_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    if (a->dnc_iters < 1 || a->dnc_sub_dim < 1)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "dnc: dnc_iters = %zu and dnc_sub_dim = %zu must be >= 1",
                          a->dnc_iters, a->dnc_sub_dim);
    if (!(a->dnc_filter_frac >= 0.0) || !isfinite(a->dnc_filter_frac))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "dnc: dnc_filter_frac = %g must be a finite number >= 0",
                          a->dnc_filter_frac);
    size_t rm = dnc_removed(a);
    if ((double)a->dnc_iters * (double)rm >= (double)n)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "dnc: dnc_iters x floor(dnc_filter_frac x f) = %zu x %zu would remove all n = %zu inputs",
                          a->dnc_iters, rm, n);
    if (a->dnc_sub_dim < d && !a->rng)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "dnc: subsampling %zu of d = %zu coordinates needs the server's RNG stream (args.rng)",
                          a->dnc_sub_dim, d);
    return BG_OK;
}

static int uint_cmp(const void *pa, const void *pb)
{
    unsigned a = *(const unsigned *)pa, b = *(const unsigned *)pb;
    return (a > b) - (a < b);
}

/* Shejwalkar & Houmansadr 2021 (as in [S] dnc.py): per iteration, b random coordinates, centred; score
 * s_i = ((x_i - mu) . v)^2 with v the top right singular vector; the n - floor(frac f) lowest scores are kept;
 * the kept sets of all iterations are intersected and averaged on all coordinates. With C the centred n x b
 * sample and (lambda, u) the top eigenpair of C C^T, C v = sqrt(lambda) u, so s_i = lambda u_i^2: an exact
 * n x n eigenproblem (GSL) replaces the b-dimensional SVD. */
static int dnc_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    const size_t b = a->dnc_sub_dim < d ? a->dnc_sub_dim : d;
    if (b == 0 || a->dnc_iters == 0 || (b < d && !a->rng))
        return BG_EINVAL;
    const size_t rm = dnc_removed(a);
    if (a->dnc_iters * rm >= n)
        return BG_ERANGE;
    unsigned *cols = b < d ? malloc(d * sizeof *cols) : NULL;
    double *C = malloc(n * b * sizeof *C), *G = malloc(n * n * sizeof *G), *mu = malloc(b * sizeof *mu);
    nnm_cand_t *c = malloc(n * sizeof *c);
    unsigned char *good = malloc(n), *keep = malloc(n);
    gsl_matrix *ev = gsl_matrix_alloc(n, n);
    gsl_vector *eval = gsl_vector_alloc(n);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(n);
    int rc = BG_ENOMEM;
    if ((b < d && !cols) || !C || !G || !mu || !c || !good || !keep || !ev || !eval || !ws)
        goto done;
    memset(good, 1, n);
    for (size_t it = 0; it < a->dnc_iters; it++) {
        if (b < d) {
            /* Partial Fisher-Yates: the first b entries are a uniform sample without replacement. */
            for (size_t j = 0; j < d; j++)
                cols[j] = (unsigned)j;
            for (size_t j = 0; j < b; j++) {
                size_t r = j + gsl_rng_uniform_int(a->rng, d - j);
                unsigned t = cols[j];
                cols[j] = cols[r];
                cols[r] = t;
            }
            qsort(cols, b, sizeof *cols, uint_cmp);   /* ascending: the gathers walk memory forwards */
        }
        for (size_t l = 0; l < b; l++)
            mu[l] = 0.0;
        for (size_t i = 0; i < n; i++) {
            double *ci = C + i * b;
            if (cols)
                for (size_t l = 0; l < b; l++)
                    ci[l] = in[i][cols[l]];
            else
                for (size_t l = 0; l < b; l++)
                    ci[l] = in[i][l];
            for (size_t l = 0; l < b; l++)
                mu[l] += ci[l];
        }
        for (size_t l = 0; l < b; l++)
            mu[l] /= (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t l = 0; l < b; l++)
                C[i * b + l] -= mu[l];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)b, 1.0, C, (int)b, 0.0, G, (int)n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                G[i * n + j] = G[j * n + i];
        gsl_matrix_view gv = gsl_matrix_view_array(G, n, n);
        if (gsl_eigen_symmv(&gv.matrix, eval, ev, ws)) {
            rc = BG_EINVAL;
            goto done;
        }
        size_t top = 0;
        for (size_t i = 1; i < n; i++)
            if (gsl_vector_get(eval, i) > gsl_vector_get(eval, top))
                top = i;
        double lam = gsl_vector_get(eval, top);
        for (size_t i = 0; i < n; i++) {
            double u = gsl_matrix_get(ev, i, top);
            c[i].dist = lam * u * u;
            c[i].idx = i;
        }
        cand_sort(c, n);
        memset(keep, 0, n);
        for (size_t q = 0; q < n - rm; q++)
            keep[c[q].idx] = 1;
        for (size_t i = 0; i < n; i++)
            good[i] &= keep[i];
    }
    rc = mean_marked(in, n, d, good, out);
done:
    free(cols);
    free(C);
    free(G);
    free(mu);
    free(c);
    free(good);
    free(keep);
    if (ev)
        gsl_matrix_free(ev);
    if (eval)
        gsl_vector_free(eval);
    if (ws)
        gsl_eigen_symmv_free(ws);
    return rc;
}

static double dnc_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    double b = (double)(a->dnc_sub_dim < d ? a->dnc_sub_dim : d), nn = (double)n;
    /* Per iteration: gather and centre (3nb), the Gram (n^2 b), the eigenproblem (~10 n^3), a sort. Then the
     * mean of the kept. */
    return (double)a->dnc_iters * (3.0 * nn * b + nn * nn * b + 10.0 * nn * nn * nn + nn * log2(nn + 1.0)) +
           nn * (double)d;
}

/* ---------------------------------------------------------------- centered clipping */

static int cc_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (!(a->cc_tau > 0.0) || !isfinite(a->cc_tau))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "cc: cc_tau = %g must be a finite number > 0", a->cc_tau);
    if (a->cc_iters < 1)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "cc: cc_iters = %zu must be >= 1", a->cc_iters);
    return BG_OK;
}

static int cc_state_new(const bg_agg_args_t *a, size_t n, size_t d, void **st)
{
    (void)a;
    (void)n;
    *st = calloc(d, sizeof(double));   /* the centre starts at 0, as in [S] */
    return *st ? BG_OK : BG_ENOMEM;
}

static void cc_state_free(void *st)
{
    free(st);
}

/* Karimireddy et al. 2021: v <- v + (1/n) sum_i clip_tau(x_i - v), cc_iters times, v carried across calls in
 * the state (double, so a long run does not accumulate float rounding). Without a state (direct callers) the
 * centre starts at 0 every call. Each iteration is two passes: the n distances, then the weighted sum written
 * as v (1 - sum w / n) + (1/n) sum w_i x_i. */
static int cc_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (!(a->cc_tau > 0.0) || !isfinite(a->cc_tau))
        return BG_EINVAL;
    double *v = st ? st : calloc(d, sizeof *v);
    double *wt = malloc(n * sizeof *wt);
    if (!v || !wt) {
        if (!st)
            free(v);
        free(wt);
        return BG_ENOMEM;
    }
    double acc[MEAN_BLOCK];
    for (size_t it = 0; it < a->cc_iters; it++) {
        double sw = 0.0;
        for (size_t i = 0; i < n; i++) {
            double nr = sqrt(row_dist2(v, in[i], d));
            wt[i] = nr > a->cc_tau ? a->cc_tau / nr : 1.0;
            sw += wt[i];
        }
        const double keep = 1.0 - sw / (double)n;
        for (size_t j0 = 0; j0 < d; j0 += MEAN_BLOCK) {
            size_t w = d - j0 < MEAN_BLOCK ? d - j0 : MEAN_BLOCK;
            wsum(in, n, wt, j0, w, acc);
            for (size_t l = 0; l < w; l++)
                v[j0 + l] = v[j0 + l] * keep + acc[l] / (double)n;
        }
    }
    for (size_t j = 0; j < d; j++)
        out[j] = (float)v[j];
    if (!st)
        free(v);
    free(wt);
    return BG_OK;
}

static double cc_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    /* Per iteration: distances (3nd), weighted sum (2nd), the update (3d). */
    double nd = (double)n * (double)d;
    return (double)a->cc_iters * (5.0 * nd + 3.0 * (double)d);
}

/* ---------------------------------------------------------------- registry of aggregators */

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
    .summary = "coordinate-wise trimmed mean, f trimmed per side (requires f < n/2)",
    .needs_honest_majority = 1,
    .run = cwtm_run,
    .flops = cwtm_flops,
};

static const bg_aggregator_ops_t tm_ops = {
    .name = "tm",
    .summary = "trimmed mean as [S] tm: f trimmed per side, lowered until a value remains (accepts f >= n/2)",
    .needs_honest_majority = 0,
    .run = tm_run,
    .flops = cwtm_flops,
};

static int rfa_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (!(a->rfa_nu > 0.0) || !isfinite(a->rfa_nu))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "rfa: rfa_nu = %g must be a finite number > 0", a->rfa_nu);
    if (!(a->rfa_tol >= 0.0) || !isfinite(a->rfa_tol))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "rfa: rfa_tol = %g must be a finite number >= 0", a->rfa_tol);
    return BG_OK;
}

static const bg_aggregator_ops_t rfa_ops = {
    .name = "rfa",
    .summary = "smoothed geometric median (Weiszfeld from the mean, rfa_iters, rfa_nu, rfa_tol)",
    .needs_honest_majority = 1,
    .check = rfa_check,
    .run = rfa_run,
    .flops = rfa_flops,
};

static const bg_aggregator_ops_t krum_ops = {
    .name = "krum",
    .summary = "Krum: the input with the smallest sum of distances^krum_power to its n - f - 2 nearest",
    .needs_honest_majority = 1,
    .check = krum_check,
    .run = krum_run,
    .flops = krum_flops,
};

static const bg_aggregator_ops_t multikrum_ops = {
    .name = "multikrum",
    .summary = "Multi-Krum: mean of the krum_m best Krum scores (krum_m = 0: n - f)",
    .needs_honest_majority = 1,
    .check = krum_check,
    .run = multikrum_run,
    .flops = multikrum_flops,
};

static const bg_aggregator_ops_t cc_ops = {
    .name = "cc",
    .summary = "centered clipping: cc_iters steps of radius cc_tau from the previous output (starts at 0)",
    .needs_honest_majority = 1,
    .check = cc_check,
    .state_new = cc_state_new,
    .state_free = cc_state_free,
    .run = cc_run,
    .flops = cc_flops,
};

static const bg_aggregator_ops_t bulyan_ops = {
    .name = "bulyan",
    .summary = "Bulyan: n - 2f recursive Krum picks, then the n - 4f values nearest the median (needs n > 4f)",
    .needs_honest_majority = 1,
    .check = bulyan_check,
    .run = bulyan_run,
    .flops = bulyan_flops,
};

static const bg_aggregator_ops_t meamed_ops = {
    .name = "meamed",
    .summary = "mean around median: per coordinate, the mean of the n - f values nearest the median",
    .needs_honest_majority = 1,
    .run = meamed_run,
    .flops = meamed_flops,
};

static const bg_aggregator_ops_t mda_ops = {
    .name = "mda",
    .summary = "minimum-diameter averaging: exact search over the C(n, f) subsets (up to mda_max_subsets)",
    .needs_honest_majority = 1,
    .check = mda_check,
    .run = mda_run,
    .flops = mda_flops,
};

static const bg_aggregator_ops_t dnc_ops = {
    .name = "dnc",
    .summary = "Divide-and-Conquer: drop the outliers along the top singular vector of dnc_sub_dim coordinates",
    .needs_honest_majority = 1,
    .check = dnc_check,
    .run = dnc_run,
    .flops = dnc_flops,
};

static const bg_aggregator_ops_t monna_ops = {
    .name = "monna",
    .summary = "MoNNA: mean of the n - f nearest of the most central input (no trusted vector)",
    .needs_honest_majority = 1,
    .run = monna_run,
    .flops = monna_flops,
};

const bg_aggregator_ops_t *const bg_aggregator_registry[] = {
    &mean_ops, &cm_ops, &cwtm_ops, &tm_ops, &rfa_ops, &krum_ops, &multikrum_ops, &cc_ops, &bulyan_ops,
    &meamed_ops, &mda_ops, &dnc_ops, &monna_ops, NULL,
};

/* ---------------------------------------------------------------- pre-aggregators */

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
        mean_rows(in, n, d, out[0]);
        for (size_t i = 1; i < n; i++)
            memcpy(out[i], out[0], d * sizeof(float));
        return BG_OK;
    }
    const size_t keep = n - f;
    double *D = malloc(n * n * sizeof *D);
    nnm_cand_t *cand = malloc(n * sizeof *cand);
    float *W = calloc(n * n, sizeof *W);
    int rc = BG_ENOMEM;
    if (!D || !cand || !W || (rc = pair_dist2(in, n, d, D)) != BG_OK) {
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
        cand_sort(cand, n);
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
    return pair_dist2_flops(n, d) + nn * nn * log2(nn) + nn * (double)(n - a->f) * dd + nn * dd;
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
        mean_rows(p + lo, cnt, d, out[b]);
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
    nnm_cand_t *c = malloc(n * sizeof *c);
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
    cand_sort(c, n);
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

static const bg_preagg_ops_t bucket_ops = {
    .name = "bucketing",
    .summary = "shuffle, then the means of ceil(n / bucket_s) buckets (f Byzantine spoil at most f buckets)",
    .needs_honest_majority = 0,
    .check = bucket_check,
    .run = bucket_run,
    .flops = bucket_flops,
};

static const bg_preagg_ops_t clip_ops = {
    .name = "clip",
    .summary = "static clipping: every vector scaled to L2 norm <= clip_tau",
    .needs_honest_majority = 0,
    .check = clip_check,
    .run = clip_run,
    .flops = clip_flops,
};

static const bg_preagg_ops_t arc_ops = {
    .name = "arc",
    .summary = "adaptive robust clipping: the floor(2 (f/n)(n - f)) largest clipped to the next largest norm",
    .needs_honest_majority = 0,
    .run = arc_run,
    .flops = arc_flops,
};

const bg_preagg_ops_t *const bg_preagg_registry[] = {
    &none_pre_ops, &nnm_ops, &bucket_ops, &clip_ops, &arc_ops, NULL,
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

/* Rows the pre-aggregator hands on (at most): only bucketing reduces them. */
static size_t pre_rows_out(const bg_preagg_ops_t *p, const bg_agg_args_t *a, size_t n)
{
    return p == &bucket_ops ? bucket_count(n, a->bucket_s) : n;
}

/* The f the aggregator is run with after the pre-aggregator handed on n_out rows. Each Byzantine input spoils at
 * most one bucket, so f_b = min(f, n_out) (worst case, no credit for the shuffle); the other pre-aggregators
 * map row i to row i and keep f. */
static size_t agg_f(size_t f, size_t n_out)
{
    return f < n_out ? f : n_out;
}

int bg_robust_init(bg_robust_t *r, const char *pre, const char *agg, const bg_agg_args_t *a, size_t n, size_t d,
                   bg_err_t *err)
{
    memset(r, 0, sizeof *r);
    char known[512];
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
    if (is_identity_pre(p))
        p = NULL;
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
    if (2 * args.f >= n && p && p->needs_honest_majority)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n/2 = %g for %s", args.f, (double)n / 2.0,
                          p->name);
    int rc;
    if (p && p->check && (rc = p->check(&args, n, d, err)) != BG_OK)
        return rc;
    const size_t nb = pre_rows_out(p, &args, n);
    bg_agg_args_t gargs = args;
    gargs.f = agg_f(args.f, nb);
    if (2 * gargs.f >= nb && g->needs_honest_majority) {
        if (nb != n)
            return bg_err_set(err, BG_ERANGE, NULL, 0,
                              "f = %zu Byzantine inputs can spoil %zu of the %zu buckets (bucket_s = %zu); %s needs "
                              "fewer than half spoiled: lower f or bucket_s",
                              args.f, gargs.f, nb, args.bucket_s, g->name);
        return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n/2 = %g for %s", args.f, (double)n / 2.0,
                          g->name);
    }
    if (g->check && (rc = g->check(&gargs, nb, d, err)) != BG_OK)
        return rc;
    if (d > SIZE_MAX / sizeof(float) / n)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "aggregation scratch of %zu x %zu floats is too large", n, d);
    r->pre = p;
    r->agg = g;
    r->args = args;
    r->n = n;
    r->d = d;
    r->rows = malloc(n * sizeof *r->rows);
    r->kept = malloc(n * sizeof *r->kept);
    if (r->pre)
        r->buf = malloc(n * d * sizeof *r->buf);
    if (!r->rows || !r->kept || (r->pre && !r->buf) ||
        (p && p->state_new && p->state_new(&args, n, d, &r->pre_state) != BG_OK) ||
        (g->state_new && g->state_new(&gargs, nb, d, &r->agg_state) != BG_OK)) {
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
    if (r->pre_state && r->pre && r->pre->state_free)
        r->pre->state_free(r->pre_state);
    if (r->agg_state && r->agg && r->agg->state_free)
        r->agg->state_free(r->agg_state);
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

/* A NULL row counts as dropped too: a missing message is no more trustworthy than a poisoned one. Dropping k
 * rows keeps every check made at init valid: 2(f - k) < n - k, n - k > 4(f - k), C(n - k, f - k) <= C(n, f),
 * and with bucketing ceil((n - k)/s) >= ceil(n/s) - k. */
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
    args.f -= dropped;
    if (r->pre) {
        size_t n_out = m;
        int rc = r->pre->run(&args, r->pre_state, r->kept, m, r->d, r->rows, &n_out);
        if (rc != BG_OK)
            return rc;
        if (n_out == 0 || n_out > m)
            return BG_EINVAL;
        args.f = agg_f(args.f, n_out);
        return r->agg->run(&args, r->agg_state, (const float *const *)r->rows, n_out, r->d, out);
    }
    return r->agg->run(&args, r->agg_state, r->kept, m, r->d, out);
}

double bg_robust_flops(const bg_robust_t *r)
{
    size_t nb = pre_rows_out(r->pre, &r->args, r->n);
    bg_agg_args_t gargs = r->args;
    gargs.f = agg_f(r->args.f, nb);
    double fl = r->agg->flops(&gargs, nb, r->d);
    if (r->pre)
        fl += r->pre->flops(&r->args, r->n, r->d);
    return fl;
}
