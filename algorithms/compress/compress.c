/* Messages (dense or sparse encodings with their exact wire size) and the compressors that produce them:
 * identity, Top-k (radix select), rand-k (Floyd sampling), scaled sign, QSGD and fp16, globally or per layer. */
#include "bg_compress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- messages */

int bg_msg_init(bg_msg_t *m, size_t d)
{
    memset(m, 0, sizeof *m);
    if (d == 0)
        return BG_EINVAL;
    /* Indices travel as u32 (and the header's count is u32). */
    if (d > UINT32_MAX)
        return BG_ERANGE;
    m->idx = malloc(d * sizeof *m->idx);
    m->val = calloc(d, sizeof *m->val);
    if (!m->idx || !m->val) {
        bg_msg_free(m);
        return BG_ENOMEM;
    }
    m->kind = BG_MSG_DENSE;
    m->d = d;
    m->nnz = d;
    m->cap = d;
    m->bytes = bg_msg_bytes_dense(d);
    return BG_OK;
}

void bg_msg_free(bg_msg_t *m)
{
    if (!m)
        return;
    free(m->idx);
    free(m->val);
    memset(m, 0, sizeof *m);
}

void bg_msg_set_dense(bg_msg_t *m, const float *x)
{
    m->kind = BG_MSG_DENSE;
    m->nnz = m->d;
    if (m->val != x)
        memcpy(m->val, x, m->d * sizeof *x);
    m->bytes = bg_msg_bytes_dense(m->d);
}

void bg_msg_add_to(const bg_msg_t *m, float scale, float *g)
{
    if (m->kind == BG_MSG_DENSE) {
        for (size_t i = 0; i < m->d; i++)
            g[i] += scale * m->val[i];
    } else {
        for (size_t j = 0; j < m->nnz; j++)
            g[m->idx[j]] += scale * m->val[j];
    }
}

void bg_msg_decode(const bg_msg_t *m, float *out)
{
    if (m->kind == BG_MSG_DENSE) {
        memcpy(out, m->val, m->d * sizeof *out);
    } else {
        memset(out, 0, m->d * sizeof *out);
        for (size_t j = 0; j < m->nnz; j++)
            out[m->idx[j]] = m->val[j];
    }
}

int bg_msg_all_finite(const bg_msg_t *m)
{
    return bg_vec_all_finite(m->val, m->nnz);
}

size_t bg_index_bytes(size_t d)
{
    /* d <= 1 still needs a byte on the wire: an encoding has no zero-width fields. */
    size_t b = 1;
    while (b < 8 && d > ((size_t)1 << (8 * b)))
        b++;
    return b;
}

double bg_msg_bytes_dense(size_t d)
{
    return (double)BG_MSG_HEADER_BYTES + 4.0 * (double)d;
}

double bg_msg_bytes_sparse(size_t d, size_t nnz)
{
    return (double)BG_MSG_HEADER_BYTES + (double)nnz * (4.0 + (double)bg_index_bytes(d));
}

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

/* ---------------------------------------------------------------- scope: global or per layer */

/* One stretch of the vector compressed on its own: the whole vector (global scope) or one layer. */
typedef struct seg {
    size_t off;   /* first global index */
    size_t d;     /* length */
    size_t k;     /* values kept (sparse compressors) */
} seg_t;

/* Values kept in a layer of d_l entries: cfg.k clamped to d_l (a small layer, e.g. a bias, keeps all of
 * itself rather than failing), else max(1, floor(ratio * d_l)) clamped to d_l ([S] Top-k's rule). */
static size_t layer_k(const bg_comp_cfg_t *cfg, size_t dl)
{
    if (cfg->k)
        return cfg->k < dl ? cfg->k : dl;
    double kd = floor(cfg->ratio * (double)dl);
    return kd < 1.0 ? 1 : kd > (double)dl ? dl : (size_t)kd;
}

static size_t n_segs(const bg_compressor_t *c)
{
    return c->cfg.per_layer && c->n_layers && c->layer_off ? c->n_layers : 1;
}

static seg_t seg_of(const bg_compressor_t *c, size_t l)
{
    seg_t s;
    if (n_segs(c) == 1) {
        s.off = 0;
        s.d = c->d;
        s.k = c->k;
    } else {
        s.off = c->layer_off[l];
        s.d = c->layer_off[l + 1] - s.off;
        s.k = layer_k(&c->cfg, s.d);
    }
    return s;
}

/* Compress x[0..s.d) (the segment's slice) into idx/val, which have room for s.d entries: writes global
 * indices s.off + i, strictly increasing, returns the entries written and adds the payload bytes. */
typedef size_t (*seg_fn)(const bg_compressor_t *c, const float *x, seg_t s, const bg_comp_rngs_t *r,
                         uint32_t *idx, float *val, double *payload);

/* Run f on every segment and assemble one message: one header, the payloads added up, indices global.
 * A message that lists every index is dense (its values are then in index order already). */
static int drive(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out, seg_fn f)
{
    if (out->cap < c->d)
        return BG_EINVAL;
    size_t m = 0, ns = n_segs(c);
    double payload = 0.0;
    for (size_t l = 0; l < ns; l++) {
        seg_t s = seg_of(c, l);
        /* m <= s.off (at most one entry per coordinate so far), so s.d entries fit from m on. */
        m += f(c, x + s.off, s, r, out->idx + m, out->val + m, &payload);
    }
    out->d = c->d;
    out->nnz = m;
    out->kind = m == c->d ? BG_MSG_DENSE : BG_MSG_SPARSE;
    out->bytes = (double)BG_MSG_HEADER_BYTES + payload;
    return BG_OK;
}

static double flops_sum(const bg_compressor_t *c, double (*f)(const bg_compressor_t *c, seg_t s))
{
    double t = 0.0;
    for (size_t l = 0, ns = n_segs(c); l < ns; l++)
        t += f(c, seg_of(c, l));
    return t;
}

/* Index-free encodings write every coordinate. */
static void dense_indices(uint32_t *idx, seg_t s)
{
    for (size_t i = 0; i < s.d; i++)
        idx[i] = (uint32_t)(s.off + i);
}

/* Sparse payload of k of d values: u32 value + ceil-byte index each, or the d dense values when smaller. */
static int sparse_is_dense(size_t d, size_t k)
{
    return 4.0 * (double)d < (double)k * (4.0 + (double)bg_index_bytes(d));
}

/* Sparse compressors refuse a per-layer ratio above 1 here (the global k > d check names k). */
static int check_ratio(const bg_compressor_t *c, bg_err_t *err)
{
    if (c->cfg.per_layer && c->cfg.k == 0 && c->cfg.ratio > 1.0)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "%s: ratio = %g keeps more than a whole layer (ratio must be in [0, 1])", c->ops->name,
                          c->cfg.ratio);
    return BG_OK;
}

/* ---------------------------------------------------------------- identity */

static int identity_init(bg_compressor_t *c, bg_err_t *err)
{
    (void)err;
    c->k = c->d;   /* identity keeps everything whatever k or ratio say */
    c->omega = 0.0;
    c->alpha = 1.0;
    return BG_OK;
}

static int identity_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    (void)r;
    if (out->cap < c->d)
        return BG_EINVAL;
    out->d = c->d;
    bg_msg_set_dense(out, x);   /* scope does not matter: per layer is the same bytes */
    return BG_OK;
}

static double identity_flops(const bg_compressor_t *c)
{
    (void)c;
    return 0.0;   /* a copy: memory traffic, no arithmetic */
}

static const bg_compressor_ops_t identity_ops = {
    .name = "identity",
    .summary = "no compression: the dense vector (16 + 4d bytes)",
    .biased = 0,
    .init = identity_init,
    .compress = identity_compress,
    .flops = identity_flops,
};

/* ---------------------------------------------------------------- top-k */

static int topk_init(bg_compressor_t *c, bg_err_t *err)
{
    size_t d = c->d;
    if (c->k == 0 || c->k > d)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "topk: k = %zu is not allowed for d = %zu (k must be in 1..%zu; set k or ratio <= 1)",
                          c->k, d, d);
    int rc = check_ratio(c, err);
    if (rc)
        return rc;
    /* |C(x) - x|^2 <= (1 - k_l/d_l) |x_l|^2 on every layer, so the worst layer bounds the whole. */
    c->alpha = 1.0;
    for (size_t l = 0, ns = n_segs(c); l < ns; l++) {
        seg_t s = seg_of(c, l);
        double a = (double)s.k / (double)s.d;
        if (a < c->alpha)
            c->alpha = a;
    }
    return BG_OK;
}

static size_t topk_seg(const bg_compressor_t *c, const float *x, seg_t s, const bg_comp_rngs_t *r, uint32_t *idx,
                       float *val, double *payload)
{
    (void)c;
    (void)r;
    size_t d = s.d, k = s.k;
    /* When k values plus their indices outweigh the dense slice, send it dense: same decoded vector, fewer
     * bytes (for k = d always; for d = 1000 as soon as k > 666). */
    int dense = sparse_is_dense(d, k);
    *payload += dense ? 4.0 * (double)d : (double)k * (4.0 + (double)bg_index_bytes(d));

    if (k == d) {
        memcpy(val, x, d * sizeof *x);
        dense_indices(idx, s);
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
            dense_indices(idx, s);
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
        dense_indices(idx, s);
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
    return drive(c, x, r, out, topk_seg);
}

static double topk_seg_flops(const bg_compressor_t *c, seg_t s)
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
    return flops_sum(c, topk_seg_flops);
}

static const bg_compressor_ops_t topk_ops = {
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
    int rc = check_ratio(c, err);
    if (rc)
        return rc;
    /* Per layer: scaled, E|C(x)-x|^2 = sum_l (d_l/k_l - 1)|x_l|^2 <= max_l(...) |x|^2; unscaled, the
     * expected contraction is the worst layer's k_l/d_l. */
    double om = 0.0, al = 1.0;
    for (size_t l = 0, ns = n_segs(c); l < ns; l++) {
        seg_t s = seg_of(c, l);
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

static size_t randk_seg(const bg_compressor_t *c, const float *x, seg_t s, const bg_comp_rngs_t *r, uint32_t *idx,
                        float *val, double *payload)
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
        dense = sparse_is_dense(d, k);
        *payload += dense ? 4.0 * (double)d : (double)k * (4.0 + (double)bg_index_bytes(d));
    }
    if (dense && k < d) {
        memset(val, 0, d * sizeof *val);
        for (size_t j = 0; j < k; j++)
            val[idx[j]] = (float)(scale * (double)x[idx[j]]);
        dense_indices(idx, s);
        return d;
    }
    for (size_t j = 0; j < k; j++) {
        val[j] = (float)(scale * (double)x[idx[j]]);
        idx[j] += (uint32_t)s.off;
    }
    return k;
}

static int randk_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    if (!r || !(c->cfg.shared_mask ? r->shared : r->own))
        return BG_EINVAL;
    return drive(c, x, r, out, randk_seg);
}

static double randk_seg_flops(const bg_compressor_t *c, seg_t s)
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
    return flops_sum(c, randk_seg_flops);
}

static const bg_compressor_ops_t randk_ops = {
    .name = "randk",
    .summary = "k uniform coordinates times d/k (unbiased, omega = d/k - 1); indices travel unless shared_mask",
    .biased = 0,
    .init = randk_init,
    .compress = randk_compress,
    .flops = randk_flops,
};

/* The same sampler without the d/k factor: contractive in expectation only (alpha = k/d), so biased. The
 * name "randk" with scaled = 0 resolves here, which keeps the engine's biased check honest. */
static const bg_compressor_ops_t randk_unscaled_ops = {
    .name = "randk-unscaled",
    .summary = "k uniform coordinates unscaled (biased, E|C(x)-x|^2 = (1 - k/d)|x|^2)",
    .biased = 1,
    .init = randk_init,
    .compress = randk_compress,
    .flops = randk_flops,
};

/* ---------------------------------------------------------------- scaled sign */

/* C(x) = (|x|_1 / d) sign(x) (Karimireddy et al. 2019, "Error feedback fixes SignSGD"): |C(x) - x|^2 =
 * |x|^2 - |x|_1^2 / d <= (1 - 1/d)|x|^2, so alpha = 1/d. One bit per coordinate cannot say 0, so sign(0) is
 * +1 (the identity above still holds: zeros add nothing to <C(x), x>). */
static int sign_init(bg_compressor_t *c, bg_err_t *err)
{
    (void)err;
    c->k = c->d;
    size_t dmax = 0;
    for (size_t l = 0, ns = n_segs(c); l < ns; l++) {
        seg_t s = seg_of(c, l);
        if (s.d > dmax)
            dmax = s.d;
    }
    c->alpha = 1.0 / (double)dmax;
    return BG_OK;
}

static size_t sign_seg(const bg_compressor_t *c, const float *x, seg_t s, const bg_comp_rngs_t *r, uint32_t *idx,
                       float *val, double *payload)
{
    (void)c;
    (void)r;
    double l1 = 0.0;
    for (size_t i = 0; i < s.d; i++)
        l1 += fabs((double)x[i]);
    float scale = (float)(l1 / (double)s.d);   /* the fp32 on the wire; NaN/Inf input makes it NaN/Inf */
    for (size_t i = 0; i < s.d; i++)
        val[i] = x[i] < 0.0f ? -scale : scale;
    dense_indices(idx, s);
    *payload += (double)((s.d + 7) / 8) + 4.0;
    return s.d;
}

static int sign_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    return drive(c, x, r, out, sign_seg);
}

static double sign_flops(const bg_compressor_t *c)
{
    return 2.0 * (double)c->d + (double)n_segs(c);   /* |x| sum, sign pick, one division per segment */
}

static const bg_compressor_ops_t sign_ops = {
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
    for (size_t l = 0, ns = n_segs(c); l < ns; l++) {
        double dl = (double)seg_of(c, l).d, sd = (double)s;
        double o = fmin(dl / (sd * sd), sqrt(dl) / sd);
        if (o > om)
            om = o;
    }
    c->omega = om;
    return BG_OK;
}

static size_t qsgd_seg(const bg_compressor_t *c, const float *x, seg_t s, const bg_comp_rngs_t *r, uint32_t *idx,
                       float *val, double *payload)
{
    size_t lv = c->cfg.levels;
    *payload += 4.0 + ceil((double)s.d * (1.0 + (double)qsgd_bits(lv)) / 8.0);
    dense_indices(idx, s);
    double n2 = sqrt(bg_vec_norm2(x, s.d));
    if (!isfinite(n2)) {
        /* A NaN or Inf anywhere: no level is meaningful; every value NaN keeps the poison visible. */
        for (size_t i = 0; i < s.d; i++)
            val[i] = NAN;
        return s.d;
    }
    /* Quantise against the norm as sent (fp32, rounded up so no level exceeds s): unbiased for that norm. */
    float nf = (float)n2;
    if ((double)nf < n2)
        nf = nextafterf(nf, INFINITY);
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
        val[i] = (float)(x[i] < 0.0f ? -q : q);
    }
    return s.d;
}

static int qsgd_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    if (!r || !r->own)
        return BG_EINVAL;
    return drive(c, x, r, out, qsgd_seg);
}

static double qsgd_flops(const bg_compressor_t *c)
{
    return 7.0 * (double)c->d;   /* norm (2), scale, floor, draw, compare, decode multiply */
}

static const bg_compressor_ops_t qsgd_ops = {
    .name = "qsgd",
    .summary = "stochastic quantisation to s levels of |x| (unbiased, omega = min(d/s^2, sqrt(d)/s))",
    .biased = 0,
    .init = qsgd_init,
    .compress = qsgd_compress,
    .flops = qsgd_flops,
};

/* ---------------------------------------------------------------- fp16 */

/* IEEE binary16 by hand (no dependence on _Float16 support): round to nearest, ties to even; magnitudes from
 * 65520 up (halfway past the largest half, 65504) become +-Inf as the format rounds them; below 2^-14 the
 * result is subnormal (step 2^-24), and at or below 2^-25 it is a signed zero; NaN stays a quiet NaN. */
static uint16_t float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u)
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u)
        return (uint16_t)(sign | 0x7C00u);
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
    /* Not contractive over all inputs (overflow to Inf); in the normal half range each value's relative error
     * is at most 2^-11. */
    c->alpha = NAN;
    return BG_OK;
}

static size_t fp16_seg(const bg_compressor_t *c, const float *x, seg_t s, const bg_comp_rngs_t *r, uint32_t *idx,
                       float *val, double *payload)
{
    (void)c;
    (void)r;
    for (size_t i = 0; i < s.d; i++)
        val[i] = half_to_float(float_to_half(x[i]));
    dense_indices(idx, s);
    *payload += 2.0 * (double)s.d;
    return s.d;
}

static int fp16_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    return drive(c, x, r, out, fp16_seg);
}

static double fp16_flops(const bg_compressor_t *c)
{
    return 2.0 * (double)c->d;   /* one conversion each way */
}

static const bg_compressor_ops_t fp16_ops = {
    .name = "fp16",
    .summary = "IEEE half precision, round to nearest even, overflow to Inf (16 + 2d bytes)",
    .biased = 1,
    .init = fp16_init,
    .compress = fp16_compress,
    .flops = fp16_flops,
};

/* ---------------------------------------------------------------- registry */

const bg_compressor_ops_t *const bg_compressor_registry[] = {
    &identity_ops, &topk_ops, &randk_ops, &randk_unscaled_ops, &sign_ops, &qsgd_ops, &fp16_ops, NULL,
};

const bg_compressor_ops_t *bg_compressor_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; bg_compressor_registry[i]; i++)
        if (strcmp(bg_compressor_registry[i]->name, name) == 0)
            return bg_compressor_registry[i];
    return NULL;
}

void bg_comp_cfg_default(bg_comp_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->name, "identity");
    cfg->k = 0;
    cfg->ratio = 0.1;
    cfg->scaled = 1;
    cfg->shared_mask = 0;
    cfg->levels = 16;
    cfg->per_layer = 0;
}

void bg_compressor_destroy(bg_compressor_t *c)
{
    if (!c)
        return;
    if (c->ops && c->ops->free)
        c->ops->free(c);
    free(c->layer_off);
    memset(c, 0, sizeof *c);
}

int bg_compressor_create(const bg_comp_cfg_t *cfg, size_t d, const size_t *layers, size_t n_layers,
                         bg_compressor_t *out, bg_err_t *err)
{
    memset(out, 0, sizeof *out);
    char name[sizeof cfg->name + 1];
    memcpy(name, cfg->name, sizeof cfg->name);
    name[sizeof cfg->name] = '\0';   /* a full-length name need not be terminated */
    const bg_compressor_ops_t *ops = bg_compressor_find(name);
    if (!ops) {
        char known[256] = "";
        size_t len = 0;
        for (size_t i = 0; bg_compressor_registry[i] && len < sizeof known; i++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                    bg_compressor_registry[i]->name);
        return bg_err_set(err, BG_ENOTFOUND, NULL, 0, "unknown compressor '%s' (known: %s)", name, known);
    }
    if (ops == &randk_ops && !cfg->scaled)
        ops = &randk_unscaled_ops;
    if (d == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: dimension d must be at least 1", ops->name);
    if (d > UINT32_MAX)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "%s: d = %zu exceeds the u32 index range", ops->name, d);
    if (!layers || n_layers == 0)
        n_layers = 1;
    else {
        size_t sum = 0;
        for (size_t l = 0; l < n_layers; l++) {
            if (layers[l] == 0)
                return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: layer %zu has size 0 (every layer needs >= 1 value)",
                                  ops->name, l);
            sum += layers[l];
        }
        if (sum != d)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "%s: the %zu layer sizes add up to %zu, not d = %zu (they must add up to d)", ops->name,
                              n_layers, sum, d);
    }

    size_t k = cfg->k;
    if (k == 0) {
        double ratio = cfg->ratio;
        if (!isfinite(ratio) || ratio < 0.0)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "%s: ratio = %g must be a finite fraction in [0, 1] when k is 0", ops->name, ratio);
        double kd = floor(ratio * (double)d);
        /* Clamp before converting: a ratio above 1 must reach init as k > d, not overflow. */
        k = kd < 1.0 ? 1 : kd > (double)d ? d + 1 : (size_t)kd;
    }
    out->layer_off = malloc((n_layers + 1) * sizeof *out->layer_off);
    if (!out->layer_off)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "%s: out of memory for %zu layer offsets", ops->name, n_layers);
    out->layer_off[0] = 0;
    for (size_t l = 0; l < n_layers; l++)
        out->layer_off[l + 1] = out->layer_off[l] + (layers && n_layers > 1 ? layers[l] : d);
    out->n_layers = n_layers;
    out->ops = ops;
    out->cfg = *cfg;
    snprintf(out->cfg.name, sizeof out->cfg.name, "%s", ops->name);
    if (ops == &randk_unscaled_ops)
        out->cfg.scaled = 0;
    out->d = d;
    out->omega = NAN;
    out->alpha = NAN;
    if (cfg->per_layer && n_layers > 1) {
        k = 0;
        for (size_t l = 0; l < n_layers; l++)
            k += layer_k(cfg, layers[l]);
    }
    out->k = k;
    int rc = ops->init ? ops->init(out, err) : BG_OK;
    if (rc != BG_OK)
        bg_compressor_destroy(out);
    return rc;
}
