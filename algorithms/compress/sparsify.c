/* The sparsifying compressors: Top-k (radix select, ties to the lower index) and rand-k (Floyd sampling, scaled
 * to be unbiased or not), each sending sparse (index, value) pairs or the dense slice when that is smaller. */
#include "compress_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- top-k */

/* For non-negative floats the IEEE bit pattern orders like the value, so |x| compares as an integer; NaN
 * (above +Inf) then ranks largest, which keeps a poisoned vector visibly poisoned after compression. */
static inline uint32_t abs_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u & 0x7FFFFFFFu;
}

/* Radix select: three digit passes (11, 10, 10 bits of the 31-bit |x| pattern) narrow the bit prefix of the
 * k-th largest |x|, stopping early once the whole candidate bucket is kept. The final pass keeps every entry
 * above that prefix and the lowest-index entries equal to it, so ties go to the lower index and the indices
 * come out strictly increasing without a sort. Worst case linear, no scratch beyond 8 KiB of stack. */
static void topk_select(const float *x, size_t d, size_t k, uint32_t *prefix_out, unsigned *shift_out,
                        size_t *need_out)
{
    static const unsigned shifts[3] = {20, 10, 0};
    static const unsigned widths[3] = {11, 10, 10};
    uint32_t hist[2048];
    uint32_t prefix = 0;     /* bits above `shift` of the k-th largest, once known */
    unsigned shift = 31;     /* prefix covers bits >= shift; 31: nothing fixed yet */
    size_t need = k;         /* entries still to take among those matching the prefix */

    for (int lev = 0; lev < 3; lev++) {
        unsigned s = shifts[lev], nb = 1u << widths[lev];
        memset(hist, 0, nb * sizeof hist[0]);
        if (lev == 0) {
            for (size_t i = 0; i < d; i++)
                hist[abs_bits(x[i]) >> s]++;
        } else {
            for (size_t i = 0; i < d; i++) {
                uint32_t a = abs_bits(x[i]);
                if ((a >> shift) == prefix)
                    hist[(a >> s) & (nb - 1)]++;
            }
        }
        /* Walk buckets from the largest down to the one holding the need-th largest. */
        size_t above = 0;
        uint32_t b = nb - 1;
        while (above + hist[b] < need)
            above += hist[b--];
        need -= above;
        prefix = lev == 0 ? b : (prefix << widths[lev]) | b;
        shift = s;
        if (need == hist[b])
            break;   /* the whole bucket is kept: no tie to resolve */
    }
    *prefix_out = prefix;
    *shift_out = shift;
    *need_out = need;
}

static int topk_init(bg_compressor_t *c, bg_err_t *err)
{
    size_t d = c->d;
    if (c->k == 0 || c->k > d)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "topk: k = %zu is not allowed for d = %zu (k must be in 1..%zu; set k or ratio <= 1)",
                          c->k, d, d);
    int rc = bg_comp_check_ratio(c, err);
    if (rc)
        return rc;
    /* |C(x) - x|^2 <= (1 - k_l/d_l) |x_l|^2 on every layer, so the worst layer bounds the whole. */
    c->alpha = 1.0;
    for (size_t l = 0, ns = bg_comp_n_segs(c); l < ns; l++) {
        bg_comp_seg_t s = bg_comp_seg_of(c, l);
        double a = (double)s.k / (double)s.d;
        if (a < c->alpha)
            c->alpha = a;
    }
    return BG_OK;
}

static size_t topk_seg(const bg_compressor_t *c, const float *x, bg_comp_seg_t s, const bg_comp_rngs_t *r,
                       uint32_t *idx, float *val, double *payload)
{
    (void)c;
    (void)r;
    size_t d = s.d, k = s.k;
    /* When k values plus their indices outweigh the dense slice, send it dense: same decoded vector, fewer
     * bytes (for k = d always; for d = 1000 as soon as k > 666). */
    int dense = bg_comp_sparse_is_dense(d, k);
    *payload += dense ? 4.0 * (double)d : (double)k * (4.0 + (double)bg_index_bytes(d));

    if (k == d) {
        memcpy(val, x, d * sizeof *x);
        bg_comp_dense_indices(idx, s);
        return d;
    }
    if (k == 1) {
        /* One pass; strict > keeps the lowest index among equal magnitudes. */
        size_t best = 0;
        uint32_t ba = abs_bits(x[0]);
        for (size_t i = 1; i < d; i++) {
            uint32_t a = abs_bits(x[i]);
            if (a > ba) {
                ba = a;
                best = i;
            }
        }
        if (dense) {   /* unreachable for k = 1 < d (4d >= 8 > 5 bytes), kept for symmetry */
            memset(val, 0, d * sizeof *val);
            val[best] = x[best];
            bg_comp_dense_indices(idx, s);
            return d;
        }
        idx[0] = (uint32_t)(s.off + best);
        val[0] = x[best];
        return 1;
    }

    uint32_t prefix;
    unsigned shift;
    size_t need;
    topk_select(x, d, k, &prefix, &shift, &need);
    if (dense) {
        for (size_t i = 0; i < d; i++) {
            uint32_t h = abs_bits(x[i]) >> shift;
            int keep = h > prefix || (h == prefix && need > 0 && need--);
            val[i] = keep ? x[i] : 0.0f;
        }
        bg_comp_dense_indices(idx, s);
        return d;
    }
    size_t m = 0;
    for (size_t i = 0; i < d && m < k; i++) {
        uint32_t h = abs_bits(x[i]) >> shift;
        if (h > prefix || (h == prefix && need > 0 && need--)) {
            idx[m] = (uint32_t)(s.off + i);
            val[m] = x[i];
            m++;
        }
    }
    return m;   /* == k by construction */
}

static int topk_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    return bg_comp_drive(c, x, r, out, topk_seg);
}

static double topk_seg_flops(const bg_compressor_t *c, bg_comp_seg_t s)
{
    (void)c;
    /* k = 1: d comparisons. Otherwise up to three histogram passes and one selection pass, one integer
     * operation per entry each (4d), plus the 4096 bucket visits; no sort (indices come out in order). */
    if (s.k == s.d)
        return 0.0;
    if (s.k == 1)
        return (double)s.d;
    return 4.0 * (double)s.d + 4096.0;
}

static double topk_flops(const bg_compressor_t *c)
{
    return bg_comp_flops_sum(c, topk_seg_flops);
}

const bg_compressor_ops_t bg_comp_topk_ops = {
    .name = "topk",
    .summary = "keep the k largest |x| (ties: lower index), sparse u32 value + ceil-byte index (dense if smaller)",
    .biased = 1,
    .init = topk_init,
    .compress = topk_compress,
    .flops = topk_flops,
};

/* ---------------------------------------------------------------- rand-k */

/* Sort n u32 keys below `bound`: insertion sort when short, else LSD radix on 11-bit digits through tmp (n
 * entries), only as many passes as bound needs; linear in n. */
static void sort_u32(uint32_t *a, size_t n, size_t bound, uint32_t *tmp)
{
    if (n <= 48) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > v) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    uint32_t cnt[2048];
    uint32_t *src = a, *dst = tmp;
    for (unsigned sh = 0; sh < 32 && ((uint64_t)(bound - 1) >> sh) != 0; sh += 11) {
        memset(cnt, 0, sizeof cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> sh) & 2047u]++;
        uint32_t sum = 0;
        for (size_t b = 0; b < 2048; b++) {
            uint32_t t = cnt[b];
            cnt[b] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> sh) & 2047u]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* A uniformly random k-subset of [0, n), sorted, into buf[0..k); buf has room for n entries and its tail is
 * the scratch. Floyd's algorithm (k draws) with an open-addressing set of H >= 2k slots in buf[k..) when
 * that fits, else (k > n/5 or so) selection sampling, whose O(n) is then O(k). The choice depends only on
 * (n, k), so parties sharing a stream draw the same subset. */
static void sample_sorted(gsl_rng *g, size_t n, size_t k, uint32_t *buf)
{
    if (k >= n) {
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint32_t)i;
        return;
    }
    unsigned lg = 1;
    while (((size_t)1 << lg) < 2 * k)
        lg++;
    size_t H = (size_t)1 << lg;
    if (H <= n - k) {
        uint32_t *tab = buf + k;
        for (size_t i = 0; i < H; i++)
            tab[i] = UINT32_MAX;   /* never an index: n <= UINT32_MAX */
        size_t m = 0;
        for (size_t j = n - k; j < n; j++) {
            uint32_t t = (uint32_t)gsl_rng_uniform_int(g, (unsigned long)(j + 1));
            /* Insert t; if already taken, take j instead (j is new: every earlier draw was < j). */
            size_t h = (size_t)(((uint64_t)t * 0x9E3779B97F4A7C15ULL) >> (64 - lg));
            while (tab[h] != UINT32_MAX && tab[h] != t)
                h = (h + 1) & (H - 1);
            if (tab[h] == t) {
                t = (uint32_t)j;
                h = (size_t)(((uint64_t)t * 0x9E3779B97F4A7C15ULL) >> (64 - lg));
                while (tab[h] != UINT32_MAX)
                    h = (h + 1) & (H - 1);
            }
            tab[h] = t;
            buf[m++] = t;
        }
        sort_u32(buf, k, n, buf + k);
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n && m < k; i++)
        if ((double)(n - i) * gsl_rng_uniform(g) < (double)(k - m))
            buf[m++] = (uint32_t)i;
}

static int randk_init(bg_compressor_t *c, bg_err_t *err)
{
    size_t d = c->d;
    if (c->k == 0 || c->k > d)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "%s: k = %zu is not allowed for d = %zu (k must be in 1..%zu; set k or ratio <= 1)",
                          c->ops->name, c->k, d, d);
    int rc = bg_comp_check_ratio(c, err);
    if (rc)
        return rc;
    /* Per layer: scaled, E|C(x)-x|^2 = sum_l (d_l/k_l - 1)|x_l|^2 <= max_l(...) |x|^2; unscaled, the
     * expected contraction is the worst layer's k_l/d_l. */
    double om = 0.0, al = 1.0;
    for (size_t l = 0, ns = bg_comp_n_segs(c); l < ns; l++) {
        bg_comp_seg_t s = bg_comp_seg_of(c, l);
        double r = (double)s.k / (double)s.d;
        if (1.0 / r - 1.0 > om)
            om = 1.0 / r - 1.0;
        if (r < al)
            al = r;
    }
    if (c->ops->biased) {
        c->omega = NAN;
        c->alpha = al;
    } else {
        c->omega = om;
        c->alpha = NAN;
    }
    return BG_OK;
}

static size_t randk_seg(const bg_compressor_t *c, const float *x, bg_comp_seg_t s, const bg_comp_rngs_t *r,
                        uint32_t *idx, float *val, double *payload)
{
    size_t d = s.d, k = s.k;
    gsl_rng *g = c->cfg.shared_mask ? r->shared : r->own;
    sample_sorted(g, d, k, idx);
    double scale = c->ops->biased ? 1.0 : (double)d / (double)k;
    int dense;
    if (c->cfg.shared_mask) {
        dense = 0;   /* the receiver knows the mask: 4k <= 4d always */
        *payload += 4.0 * (double)k;
    } else {
        dense = bg_comp_sparse_is_dense(d, k);
        *payload += dense ? 4.0 * (double)d : (double)k * (4.0 + (double)bg_index_bytes(d));
    }
    if (dense && k < d) {
        memset(val, 0, d * sizeof *val);
        for (size_t j = 0; j < k; j++)
            val[idx[j]] = bg_comp_to_f32(scale * (double)x[idx[j]]);
        bg_comp_dense_indices(idx, s);
        return d;
    }
    for (size_t j = 0; j < k; j++) {
        val[j] = bg_comp_to_f32(scale * (double)x[idx[j]]);
        idx[j] += (uint32_t)s.off;
    }
    return k;
}

static int randk_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    if (!r || !(c->cfg.shared_mask ? r->shared : r->own))
        return BG_EINVAL;
    return bg_comp_drive(c, x, r, out, randk_seg);
}

static double randk_seg_flops(const bg_compressor_t *c, bg_comp_seg_t s)
{
    /* The scaling multiply per kept value, plus sampling: about 4 operations per Floyd draw (draw, hash,
     * probe, store) and 2 per radix-sort pass entry, or one draw and compare per coordinate visited. */
    double k = (double)s.k, d = (double)s.d;
    double scale = c->ops->biased ? 0.0 : k;
    if (s.k == s.d)
        return scale;
    unsigned lg = 1;
    while (((size_t)1 << lg) < 2 * s.k)
        lg++;
    if (((size_t)1 << lg) <= s.d - s.k)
        return scale + 4.0 * k + 6.0 * k;
    return scale + 2.0 * d;
}

static double randk_flops(const bg_compressor_t *c)
{
    return bg_comp_flops_sum(c, randk_seg_flops);
}

const bg_compressor_ops_t bg_comp_randk_ops = {
    .name = "randk",
    .summary = "k uniform coordinates times d/k (unbiased, omega = d/k - 1); indices travel unless shared_mask",
    .biased = 0,
    .init = randk_init,
    .compress = randk_compress,
    .flops = randk_flops,
};

/* The same sampler without the d/k factor: contractive in expectation only (alpha = k/d), so biased. The
 * name "randk" with scaled = 0 resolves here, which keeps the engine's biased check honest. */
const bg_compressor_ops_t bg_comp_randk_unscaled_ops = {
    .name = "randk-unscaled",
    .summary = "k uniform coordinates unscaled (biased, E|C(x)-x|^2 = (1 - k/d)|x|^2)",
    .biased = 1,
    .init = randk_init,
    .compress = randk_compress,
    .flops = randk_flops,
};
