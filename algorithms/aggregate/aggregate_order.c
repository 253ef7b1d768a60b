/* The order-statistic kernels under cm, cwtm, tm, MeaMed and Bulyan: per coordinate, the mean of chosen order
 * statistics or of the values nearest the median, by sorting networks (SIMD picked at run time) or selection. */
#include "aggregate_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef BG_AGG_X86
#include <immintrin.h>
#endif

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

/* Coordinates j0..j0+w of the n rows into the block, a short last block padded with zeros (lanes never written
 * out). A full block copies a constant size: vector moves, where a variable memcpy becomes a slow-starting rep
 * movs. */
static inline void block_load(const float *const *in, size_t n, size_t j0, size_t w, float (*blk)[LANES])
{
    if (w == LANES) {
        for (size_t i = 0; i < n; i++)
            memcpy(blk[i], in[i] + j0, sizeof blk[i]);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(blk[i], in[i] + j0, w * sizeof(float));
        for (size_t l = w; l < LANES; l++)
            blk[i][l] = 0.0f;
    }
}

/* out[j] = mean of the order statistics lo..hi of {in[i][j]}: the median (lo, hi the middle one or two) and
 * the trimmed mean (lo = t, hi = n-1-t) are both this. Inputs must be finite (bg_robust_run ensures it). */
int bg_agg_order_mean(const float *const *in, size_t n, size_t d, size_t lo, size_t hi, float *out)
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
                /* The n rows are n concurrent streams, more than the hardware prefetchers follow at n = 100, so
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
            }
            block_load(in, n, j0, w, blk);
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
 * are sorted LANES at a time by the full sorting network, as in bg_agg_order_mean; beyond NET_MAX, one qsort per
 * column. Inputs must be finite. */
int bg_agg_median_window(const float *const *in, size_t n, size_t d, size_t k, float *out)
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
            block_load(in, n, j0, w, blk);
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

double bg_agg_median_window_flops(size_t n, size_t k, size_t d)
{
    /* A sort of each column (n log2 n comparisons), the median, the k-step window and its mean. */
    double nn = (double)n;
    return (nn * (nn > 1 ? log2(nn) : 1.0) + 3.0 * (double)k + 2.0) * (double)d;
}
