/* The batch-wide layers the neural models are built from: convolution (im2col + one sgemm, with run-time AVX2
 * row copies), fused max-pool + ReLU, fully connected, and softmax cross-entropy. Declared in model_internal.h. */
#include "model_internal.h"

#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>

/* Runs are short (wo = 8..28 floats): a library call per run cost more than the copy (0.3 ms of conv2's im2col
 * per cnn batch, measured), and gcc turns a copy loop back into a memmove call; NN_NO_LIBCALL keeps it a loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NN_NO_LIBCALL
#endif

static inline void copy_run(float *restrict d, const float *restrict s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

static inline void add_run(float *restrict d, const float *restrict s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; j++)
            d[i + j] += s[i + j];
    for (; i < n; i++)
        d[i] += s[i];
}

/* Unpadded convolutions copy (and add back) ho rows of wo floats per (channel, kernel offset, sample); with wo a
 * compile-time constant the inner loop unrolls into a few vector moves, where the generic loop spent most of its
 * time in loop control (conv2 of cnn: 8-float rows). The sizes of the bundled models get their own case. */
static inline void rows_copy_k(float *restrict d, const float *restrict s, size_t w, size_t ho, size_t wo)
{
    for (size_t oy = 0; oy < ho; oy++)
        for (size_t x = 0; x < wo; x++)
            d[oy * wo + x] = s[oy * w + x];
}

NN_NO_LIBCALL static void rows_copy(float *restrict d, const float *restrict s, size_t w, size_t ho, size_t wo)
{
    switch (wo) {
    case 8: rows_copy_k(d, s, w, ho, 8); break;
    case 10: rows_copy_k(d, s, w, ho, 10); break;
    case 24: rows_copy_k(d, s, w, ho, 24); break;
    case 28: rows_copy_k(d, s, w, ho, 28); break;
    default: rows_copy_k(d, s, w, ho, wo); break;
    }
}

/* All four loads before the four stores: gcc then vectorises the group (it left the plain += loop scalar,
 * unable to rule out that d and s overlap). */
static inline void rows_add_k(float *restrict d, const float *restrict s, size_t w, size_t ho, size_t wo)
{
    for (size_t oy = 0; oy < ho; oy++, d += w, s += wo) {
        size_t x = 0;
        for (; x + 4 <= wo; x += 4) {
            float a0 = d[x] + s[x], a1 = d[x + 1] + s[x + 1], a2 = d[x + 2] + s[x + 2], a3 = d[x + 3] + s[x + 3];
            d[x] = a0;
            d[x + 1] = a1;
            d[x + 2] = a2;
            d[x + 3] = a3;
        }
        for (; x < wo; x++)
            d[x] += s[x];
    }
}

static void rows_add(float *restrict d, const float *restrict s, size_t w, size_t ho, size_t wo)
{
    switch (wo) {
    case 8: rows_add_k(d, s, w, ho, 8); break;
    case 10: rows_add_k(d, s, w, ho, 10); break;
    case 24: rows_add_k(d, s, w, ho, 24); break;
    case 28: rows_add_k(d, s, w, ho, 28); break;
    default: rows_add_k(d, s, w, ho, wo); break;
    }
}

/* The same row copies and adds with 256-bit moves, chosen at run time (the library is built for plain x86-64):
 * the im2col and col2im rows are store-bound and SSE2 moved half as much per instruction. Pure data movement and
 * one IEEE add per element in the same order (no FMA is enabled), so results are bit-identical to the generic
 * path. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(NN_NO_AVX2)
#include <immintrin.h>
#define NN_HAVE_AVX2_PATH 1
#define NN_AVX2 __attribute__((target("avx2")))

NN_AVX2 static inline void rows_copy_avx2_k(float *restrict d, const float *restrict s, size_t w, size_t ho,
                                            size_t wo)
{
    for (size_t oy = 0; oy < ho; oy++, d += wo, s += w) {
        size_t x = 0;
        for (; x + 8 <= wo; x += 8)
            _mm256_storeu_ps(d + x, _mm256_loadu_ps(s + x));
        for (; x < wo; x++)
            d[x] = s[x];
    }
}

NN_AVX2 static inline void rows_add_avx2_k(float *restrict d, const float *restrict s, size_t w, size_t ho,
                                           size_t wo)
{
    for (size_t oy = 0; oy < ho; oy++, d += w, s += wo) {
        size_t x = 0;
        for (; x + 8 <= wo; x += 8)
            _mm256_storeu_ps(d + x, _mm256_add_ps(_mm256_loadu_ps(d + x), _mm256_loadu_ps(s + x)));
        for (; x < wo; x++)
            d[x] += s[x];
    }
}

/* pad = 0 only: every run is a whole output row */
NN_AVX2 NN_NO_LIBCALL static void im2col_avx2(const bg_nn_conv_t *g, size_t b0, size_t nb, const float *const *in,
                                              size_t cs, float *col)
{
    size_t k = g->k, w = g->w, ho = g->ho, wo = g->wo, P = ho * wo;
    float *dst = col;
    for (size_t c = 0; c < g->cin; c++)
        for (size_t ki = 0; ki < k; ki++)
            for (size_t kj = 0; kj < k; kj++)
                for (size_t b = b0; b < b0 + nb; b++, dst += P) {
                    const float *src = in[b] + c * cs + ki * w + kj;
                    switch (wo) {
                    case 8: rows_copy_avx2_k(dst, src, w, ho, 8); break;
                    case 10: rows_copy_avx2_k(dst, src, w, ho, 10); break;
                    case 24: rows_copy_avx2_k(dst, src, w, ho, 24); break;
                    default: rows_copy_avx2_k(dst, src, w, ho, wo); break;
                    }
                }
}

NN_AVX2 static void col2im_add_avx2(const bg_nn_conv_t *g, size_t b0, size_t nb, size_t B, const float *col,
                                    float *din)
{
    size_t k = g->k, w = g->w, ho = g->ho, wo = g->wo, P = ho * wo, HW = g->h * w;
    const float *s = col;
    for (size_t c = 0; c < g->cin; c++)
        for (size_t ki = 0; ki < k; ki++)
            for (size_t kj = 0; kj < k; kj++)
                for (size_t b = b0; b < b0 + nb; b++, s += P) {
                    float *d = din + (c * B + b) * HW + ki * w + kj;
                    switch (wo) {
                    case 8: rows_add_avx2_k(d, s, w, ho, 8); break;
                    case 10: rows_add_avx2_k(d, s, w, ho, 10); break;
                    case 24: rows_add_avx2_k(d, s, w, ho, 24); break;
                    default: rows_add_avx2_k(d, s, w, ho, wo); break;
                    }
                }
}

/* libgcc fills the CPU model at start-up, so this is one load per chunk and no shared state of ours */
static int nn_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#else
#define NN_HAVE_AVX2_PATH 0
#endif

/* The output columns ox in [x0, x1) whose input column ox + kj - pad lies inside 0..w-1 (the rest read padding). */
static inline void inside_cols(const bg_nn_conv_t *g, size_t kj, size_t *x0, size_t *x1)
{
    size_t lo = kj < g->pad ? g->pad - kj : 0;
    size_t hi = g->w + g->pad > kj ? g->w + g->pad - kj : 0;
    if (hi > g->wo)
        hi = g->wo;
    *x0 = lo > hi ? hi : lo;
    *x1 = hi;
}

/* im2col of samples b0..b0+nb-1 into col (K x nb*P). The sample pointers let the first convolution read dataset
 * rows in place (no gather, no transpose); inner runs are whole output rows, so with pad = 0 every run is a plain
 * copy of wo floats. */
NN_NO_LIBCALL static void im2col(const bg_nn_conv_t *g, size_t b0, size_t nb, const float *const *in, size_t cs, float *col)
{
    size_t k = g->k;
    float *dst = col;
#if NN_HAVE_AVX2_PATH
    if (g->pad == 0 && nn_avx2()) {
        im2col_avx2(g, b0, nb, in, cs, col);
        return;
    }
#endif
    if (g->pad == 0) {
        for (size_t c = 0; c < g->cin; c++)
            for (size_t ki = 0; ki < k; ki++)
                for (size_t kj = 0; kj < k; kj++)
                    for (size_t b = b0; b < b0 + nb; b++, dst += g->ho * g->wo)
                        rows_copy(dst, in[b] + c * cs + ki * g->w + kj, g->w, g->ho, g->wo);
        return;
    }
    for (size_t c = 0; c < g->cin; c++)
        for (size_t ki = 0; ki < k; ki++)
            for (size_t kj = 0; kj < k; kj++) {
                size_t x0, x1;
                inside_cols(g, kj, &x0, &x1);
                for (size_t b = b0; b < b0 + nb; b++) {
                    const float *src = in[b] + c * cs;
                    for (size_t oy = 0; oy < g->ho; oy++, dst += g->wo) {
                        size_t iy = oy + ki;
                        if (iy < g->pad || iy - g->pad >= g->h) {
                            memset(dst, 0, g->wo * sizeof *dst);
                            continue;
                        }
                        const float *s = src + (iy - g->pad) * g->w + (kj + x0 - g->pad);
                        if (x0)   /* padding columns only: no call on the common path */
                            memset(dst, 0, x0 * sizeof *dst);
                        copy_run(dst + x0, s, x1 - x0);
                        if (x1 < g->wo)
                            memset(dst + x1, 0, (g->wo - x1) * sizeof *dst);
                    }
                }
            }
}

/* The transpose of im2col: adds col (K x nb*P) into samples b0..b0+nb-1 of din (cin x B*h*w). */
static void col2im_add(const bg_nn_conv_t *g, size_t b0, size_t nb, size_t B, const float *col, float *din)
{
    size_t k = g->k, HW = g->h * g->w;
    const float *s = col;
#if NN_HAVE_AVX2_PATH
    if (g->pad == 0 && nn_avx2()) {
        col2im_add_avx2(g, b0, nb, B, col, din);
        return;
    }
#endif
    if (g->pad == 0) {
        for (size_t c = 0; c < g->cin; c++)
            for (size_t ki = 0; ki < k; ki++)
                for (size_t kj = 0; kj < k; kj++)
                    for (size_t b = b0; b < b0 + nb; b++, s += g->ho * g->wo)
                        rows_add(din + (c * B + b) * HW + ki * g->w + kj, s, g->w, g->ho, g->wo);
        return;
    }
    for (size_t c = 0; c < g->cin; c++)
        for (size_t ki = 0; ki < k; ki++)
            for (size_t kj = 0; kj < k; kj++) {
                size_t x0, x1;
                inside_cols(g, kj, &x0, &x1);
                for (size_t b = b0; b < b0 + nb; b++) {
                    float *dimg = din + (c * B + b) * HW;
                    for (size_t oy = 0; oy < g->ho; oy++, s += g->wo) {
                        size_t iy = oy + ki;
                        if (iy < g->pad || iy - g->pad >= g->h)
                            continue;
                        add_run(dimg + (iy - g->pad) * g->w + (kj + x0 - g->pad), s + x0, x1 - x0);
                    }
                }
            }
}

/* The im2col matrix of the whole batch (4 MB for conv2 of cnn at batch 64) does not fit in cache: built once and
 * streamed by three sgemms it cost more than its arithmetic. So it is built a chunk of samples at a time (about
 * NN_CHUNK_BYTES, L2-sized), consumed while hot, and rebuilt in the backward pass. */
#define NN_CHUNK_BYTES (384u * 1024u)

size_t bg_nn_conv_chunk(const bg_nn_conv_t *g, size_t B)
{
    size_t per = g->cin * g->k * g->k * g->ho * g->wo * sizeof(float), c = NN_CHUNK_BYTES / per;
    return c < 1 ? 1 : c > B ? B : c;
}

void bg_nn_conv_forward(const bg_nn_conv_t *g, size_t B, const float *const *in, size_t cs, const float *W,
                        float *col, float *z)
{
    size_t P = g->ho * g->wo, N = B * P, K = g->cin * g->k * g->k, ch = bg_nn_conv_chunk(g, B);
    for (size_t b0 = 0; b0 < B; b0 += ch) {
        size_t nb = B - b0 < ch ? B - b0 : ch;
        im2col(g, b0, nb, in, cs, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->cout, (int)(nb * P), (int)K, 1.0f, W, (int)K,
                    col, (int)(nb * P), 0.0f, z + b0 * P, (int)N);
    }
}

/* The weight gradient is taken transposed, gWt = col . dz^T (K x cout), then added back: OpenBLAS runs this
 * orientation of the long-K product faster (conv1 of cnn at batch 64: 0.43 vs 0.57 ms; conv2: 0.50 vs 0.65). */
void bg_nn_conv_backward(const bg_nn_conv_t *g, size_t B, const float *const *in, size_t cs, const float *W,
                         float *col, const float *dz, float *gW, float *gwt, float *din)
{
    size_t P = g->ho * g->wo, N = B * P, K = g->cin * g->k * g->k, ch = bg_nn_conv_chunk(g, B);
    for (size_t b0 = 0; b0 < B; b0 += ch) {
        size_t nb = B - b0 < ch ? B - b0 : ch, n = nb * P;
        im2col(g, b0, nb, in, cs, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)K, (int)g->cout, (int)n, 1.0f, col, (int)n,
                    dz + b0 * P, (int)N, b0 ? 1.0f : 0.0f, gwt, (int)g->cout);
        if (!din)
            continue;
        /* col is consumed: reuse it for dcol = W^T . dz, then scatter-add it back (col2im) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)n, (int)g->cout, 1.0f, W, (int)K,
                    dz + b0 * P, (int)N, 0.0f, col, (int)n);
        /* cleared chunk by chunk, just before the adds, while it fits in cache (samples of other chunks are
         * never touched by this one's col2im) */
        for (size_t c = 0; c < g->cin; c++)
            memset(din + (c * B + b0) * g->h * g->w, 0, nb * g->h * g->w * sizeof *din);
        col2im_add(g, b0, nb, B, col, din);
    }
    for (size_t o = 0; o < g->cout; o++)
        for (size_t q = 0; q < K; q++)
            gW[o * K + q] += gwt[q * g->cout + o];
}

/* The window maximum in one fixed order of operations: the backward pass recomputes it bit for bit. */
static inline float max4(float v0, float v1, float v2, float v3)
{
    float m01 = v1 > v0 ? v1 : v0, m23 = v3 > v2 ? v3 : v2;
    return m23 > m01 ? m23 : m01;
}

void bg_nn_pool_forward(size_t C, size_t B, size_t ho, size_t wo, const float *z, const float *bias, float *a)
{
    size_t hp = ho / 2, wp = wo / 2;
    for (size_t c = 0; c < C; c++) {
        float bc = bias[c];
        for (size_t b = 0; b < B; b++) {
            const float *zi = z + (c * B + b) * ho * wo;
            float *ai = a + (c * B + b) * hp * wp;
            for (size_t py = 0; py < hp; py++) {
                const float *r0 = zi + 2 * py * wo, *r1 = r0 + wo;
                float *ar = ai + py * wp;
                for (size_t px = 0; px < wp; px++) {
                    float m = max4(r0[2 * px], r0[2 * px + 1], r1[2 * px], r1[2 * px + 1]) + bc;
                    ar[px] = m > 0.0f ? m : 0.0f;
                }
            }
        }
    }
}

static inline float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Branch-free: with random data every compare is a coin flip, and the branchy version with a stored argmax
 * measured 1 ms per cnn batch for pool1 alone. */
void bg_nn_pool_backward(size_t C, size_t B, size_t ho, size_t wo, const float *a, const float *da, float *zdz,
                         float *gbias)
{
    size_t hp = ho / 2, wp = wo / 2;
    for (size_t c = 0; c < C; c++) {
        float sb = 0.0f;
        for (size_t b = 0; b < B; b++) {
            const float *ai = a + (c * B + b) * hp * wp, *gi = da + (c * B + b) * hp * wp;
            float *zi = zdz + (c * B + b) * ho * wo;
            for (size_t py = 0; py < hp; py++) {
                float *r0 = zi + 2 * py * wo, *r1 = r0 + wo;
                const float *ar = ai + py * wp, *gr = gi + py * wp;
                for (size_t px = 0; px < wp; px++) {
                    float v0 = r0[2 * px], v1 = r0[2 * px + 1], v2 = r1[2 * px], v3 = r1[2 * px + 1];
                    float m = max4(v0, v1, v2, v3);
                    /* bit masks, not ?: on floats, which the compiler turned into mispredicted branches */
                    uint32_t live = ar[px] > 0.0f;
                    uint32_t e0 = v0 == m, e1 = !e0 & (v1 == m), e2 = !(e0 | e1) & (v2 == m), e3 = !(e0 | e1 | e2);
                    uint32_t gb;
                    memcpy(&gb, &gr[px], sizeof gb);
                    gb &= -live;
                    sb += bits_float(gb);
                    r0[2 * px] = bits_float(gb & -e0);
                    r0[2 * px + 1] = bits_float(gb & -e1);
                    r1[2 * px] = bits_float(gb & -e2);
                    r1[2 * px + 1] = bits_float(gb & -e3);
                }
                if (wo & 1)
                    r0[wo - 1] = r1[wo - 1] = 0.0f;
            }
            if (ho & 1)
                memset(zi + (ho - 1) * wo, 0, wo * sizeof *zi);
        }
        gbias[c] += sb;
    }
}

void bg_nn_fc_forward(size_t B, size_t I, size_t O, const float *in, const float *W, const float *bias, int relu,
                      float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)O, (int)I, 1.0f, in, (int)I, W, (int)I, 0.0f,
                out, (int)O);
    for (size_t i = 0; i < B; i++) {
        float *o = out + i * O;
        if (relu)
            for (size_t j = 0; j < O; j++) {
                float v = o[j] + bias[j];
                o[j] = v > 0.0f ? v : 0.0f;
            }
        else
            for (size_t j = 0; j < O; j++)
                o[j] += bias[j];
    }
}

void bg_nn_fc_backward(size_t B, size_t I, size_t O, const float *in, const float *W, const float *dout,
                       int relu_in, float *gW, float *gb, float *din)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)O, (int)I, (int)B, 1.0f, dout, (int)O, in, (int)I,
                1.0f, gW, (int)I);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < O; j++)
            gb[j] += dout[i * O + j];
    if (!din)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)I, (int)O, 1.0f, dout, (int)O, W, (int)I,
                0.0f, din, (int)I);
    if (relu_in)
        for (size_t i = 0; i < B * I; i++)
            din[i] = in[i] > 0.0f ? din[i] : 0.0f;
}

/* One pass per row: log-sum-exp shifted by the row maximum (no overflow, no log 0), and the softmax written
 * straight into dz. */
double bg_nn_softmax_ce(size_t B, size_t C, const float *z, const int *y, const size_t *idx, double scale,
                        float *dz)
{
    double loss = 0.0;
    for (size_t i = 0; i < B; i++) {
        const float *zi = z + i * C;
        int yi = y[idx ? idx[i] : i];
        float mx = zi[0];
        for (size_t k = 1; k < C; k++)
            mx = zi[k] > mx ? zi[k] : mx;
        double s = 0.0;
        for (size_t k = 0; k < C; k++)
            s += exp((double)zi[k] - (double)mx);
        double zy = zi[yi];
        loss += log(s) + (double)mx - zy;
        if (dz) {
            float *di = dz + i * C;
            double inv = scale / s;
            for (size_t k = 0; k < C; k++)
                di[k] = (float)(exp((double)zi[k] - (double)mx) * inv - (k == (size_t)yi ? scale : 0.0));
        }
    }
    return loss;
}
