/* The quantising compressors, which keep every coordinate at fewer bits: scaled sign (1 bit + a scale), QSGD
 * (stochastic levels of the norm) and fp16 (IEEE half precision by hand). */
#include "compress_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- scaled sign */

/* C(x) = (|x|_1 / d) sign(x) (Karimireddy et al. 2019, "Error feedback fixes SignSGD"): |C(x) - x|^2 =
 * |x|^2 - |x|_1^2 / d <= (1 - 1/d)|x|^2, so alpha = 1/d. One bit per coordinate cannot say 0, so sign(0) is
 * +1 (the identity above still holds: zeros add nothing to <C(x), x>). */
static int sign_init(bg_compressor_t *c, bg_err_t *err)
{
    (void)err;
    c->k = c->d;
    size_t dmax = 0;
    for (size_t l = 0, ns = bg_comp_n_segs(c); l < ns; l++) {
        bg_comp_seg_t s = bg_comp_seg_of(c, l);
        if (s.d > dmax)
            dmax = s.d;
    }
    c->alpha = 1.0 / (double)dmax;
    return BG_OK;
}

static size_t sign_seg(const bg_compressor_t *c, const float *x, bg_comp_seg_t s, const bg_comp_rngs_t *r,
                       uint32_t *idx, float *val, double *payload)
{
    (void)c;
    (void)r;
    double l1 = 0.0;
    for (size_t i = 0; i < s.d; i++)
        l1 += fabs((double)x[i]);
    /* The fp32 on the wire (the mean of |x| cannot exceed FLT_MAX, bg_comp_to_f32 guards the rounding); NaN/Inf
     * input makes it NaN/Inf. */
    float scale = bg_comp_to_f32(l1 / (double)s.d);
    for (size_t i = 0; i < s.d; i++)
        val[i] = x[i] < 0.0f ? -scale : scale;
    bg_comp_dense_indices(idx, s);
    *payload += (double)((s.d + 7) / 8) + 4.0;
    return s.d;
}

static int sign_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    return bg_comp_drive(c, x, r, out, sign_seg);
}

static double sign_flops(const bg_compressor_t *c)
{
    return 2.0 * (double)c->d + (double)bg_comp_n_segs(c);   /* |x| sum, sign pick, one division per segment */
}

const bg_compressor_ops_t bg_comp_sign_ops = {
    .name = "sign",
    .summary = "scaled sign (|x|_1/d) sign(x): 1 bit per value + fp32 scale (contractive, alpha = 1/d)",
    .biased = 1,
    .init = sign_init,
    .compress = sign_compress,
    .flops = sign_flops,
};

/* ---------------------------------------------------------------- QSGD */

/* Alistarh et al. 2017: q_j = |x| sign(x_j) xi_j / s, xi_j = floor(s|x_j|/|x|) + Bernoulli(fraction).
 * Wire: fp32 norm, then per coordinate a sign bit and xi_j in b = ceil(log2(s+1)) bits, fixed width, packed
 * (no Elias code). */
static unsigned qsgd_bits(size_t s)
{
    unsigned b = 0;
    while (((uint64_t)1 << b) < (uint64_t)s + 1)
        b++;
    return b;
}

static int qsgd_init(bg_compressor_t *c, bg_err_t *err)
{
    size_t s = c->cfg.levels;
    if (s < 1 || s > ((size_t)1 << 24))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "qsgd: levels = %zu is not allowed (levels must be in 1..%zu)",
                          s, (size_t)1 << 24);
    c->k = c->d;
    double om = 0.0;
    for (size_t l = 0, ns = bg_comp_n_segs(c); l < ns; l++) {
        double dl = (double)bg_comp_seg_of(c, l).d, sd = (double)s;
        double o = fmin(dl / (sd * sd), sqrt(dl) / sd);
        if (o > om)
            om = o;
    }
    c->omega = om;
    return BG_OK;
}

static size_t qsgd_seg(const bg_compressor_t *c, const float *x, bg_comp_seg_t s, const bg_comp_rngs_t *r,
                       uint32_t *idx, float *val, double *payload)
{
    size_t lv = c->cfg.levels;
    *payload += 4.0 + ceil((double)s.d * (1.0 + (double)qsgd_bits(lv)) / 8.0);
    bg_comp_dense_indices(idx, s);
    double n2 = sqrt(bg_vec_norm2(x, s.d));
    if (!isfinite(n2)) {
        /* A NaN or Inf anywhere: no level is meaningful; every value NaN keeps the poison visible. */
        for (size_t i = 0; i < s.d; i++)
            val[i] = NAN;
        return s.d;
    }
    /* Quantise against the norm as sent (fp32, rounded up so no level exceeds s): unbiased for that norm. A
     * finite norm beyond the fp32 range (huge finite values) is sent as FLT_MAX: the levels then saturate at s,
     * so values decode to at most FLT_MAX in magnitude (biased there, but finite). */
    float nf = (float)n2;
    if ((double)nf < n2 && nf < FLT_MAX)
        nf = nextafterf(nf, INFINITY);
    if (!(nf <= FLT_MAX))
        nf = FLT_MAX;
    if (nf == 0.0f) {
        memset(val, 0, s.d * sizeof *val);
        return s.d;
    }
    double sd = (double)lv, step = (double)nf / sd;
    for (size_t i = 0; i < s.d; i++) {
        double a = fabs((double)x[i]) * sd / (double)nf;
        double lvl = floor(a);
        if (lvl >= sd)
            lvl = sd;
        else if (a > lvl && gsl_rng_uniform(r->own) < a - lvl)
            lvl += 1.0;
        double q = lvl * step;
        val[i] = bg_comp_to_f32(x[i] < 0.0f ? -q : q);
    }
    return s.d;
}

static int qsgd_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    if (!r || !r->own)
        return BG_EINVAL;
    return bg_comp_drive(c, x, r, out, qsgd_seg);
}

static double qsgd_flops(const bg_compressor_t *c)
{
    return 7.0 * (double)c->d;   /* norm (2), scale, floor, draw, compare, decode multiply */
}

const bg_compressor_ops_t bg_comp_qsgd_ops = {
    .name = "qsgd",
    .summary = "stochastic quantisation to s levels of |x| (unbiased, omega = min(d/s^2, sqrt(d)/s))",
    .biased = 0,
    .init = qsgd_init,
    .compress = qsgd_compress,
    .flops = qsgd_flops,
};

/* ---------------------------------------------------------------- fp16 */

/* IEEE binary16 by hand (no dependence on _Float16 support): round to nearest, ties to even; finite magnitudes
 * from 65520 up (halfway past the largest half, 65504) saturate to +-65504 rather than rounding to +-Inf as the
 * format would (finite input never decodes to Inf); below 2^-14 the result is subnormal (step 2^-24), and at or
 * below 2^-25 it is a signed zero; +-Inf stays +-Inf and NaN a quiet NaN. */
static uint16_t float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a == 0x7F800000u)
        return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x477FF000u)
        return (uint16_t)(sign | 0x7BFFu);   /* 65504: saturate */
    if (a >= 0x38800000u) {   /* normal half: rebias the exponent (127 - 15 = 112) and round 13 bits off */
        uint32_t t = a - 0x38000000u;
        uint32_t h = t >> 13, rem = t & 0x1FFFu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t e = a >> 23;
    if (e < 102)
        return sign;   /* below 2^-25: rounds to zero */
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    unsigned sh = 126 - e;   /* 14..24: units of 2^-24 */
    uint32_t h = m >> sh, rem = m & ((1u << sh) - 1u), half = 1u << (sh - 1);
    if (rem > half || (rem == half && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu, u;
    if (e == 0x1F) {
        u = sign | 0x7F800000u | (m << 13);
    } else if (e == 0) {
        float f = (float)m * 0x1p-24f;
        return sign ? -f : f;
    } else {
        u = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int fp16_init(bg_compressor_t *c, bg_err_t *err)
{
    (void)err;
    c->k = c->d;
    /* Not contractive over all inputs (values beyond 65504 saturate); in the normal half range each value's
     * relative error is at most 2^-11. */
    c->alpha = NAN;
    return BG_OK;
}

static size_t fp16_seg(const bg_compressor_t *c, const float *x, bg_comp_seg_t s, const bg_comp_rngs_t *r,
                       uint32_t *idx, float *val, double *payload)
{
    (void)c;
    (void)r;
    for (size_t i = 0; i < s.d; i++)
        val[i] = half_to_float(float_to_half(x[i]));
    bg_comp_dense_indices(idx, s);
    *payload += 2.0 * (double)s.d;
    return s.d;
}

static int fp16_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    return bg_comp_drive(c, x, r, out, fp16_seg);
}

static double fp16_flops(const bg_compressor_t *c)
{
    return 2.0 * (double)c->d;   /* one conversion each way */
}

const bg_compressor_ops_t bg_comp_fp16_ops = {
    .name = "fp16",
    .summary = "IEEE half precision, round to nearest even, saturating at +-65504 (16 + 2d bytes)",
    .biased = 1,
    .init = fp16_init,
    .compress = fp16_compress,
    .flops = fp16_flops,
};
