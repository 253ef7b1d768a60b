/* Messages (dense or sparse encodings with their exact wire size) and the compressors that produce them.
 * Top-k selects by a radix select on the bits of |x|, so it is linear in d and needs no scratch memory. */
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

/* ---------------------------------------------------------------- identity */

static int identity_init(bg_compressor_t *c, size_t d, bg_err_t *err)
{
    (void)err;
    c->k = d;   /* identity keeps everything whatever k or ratio say */
    return BG_OK;
}

static int identity_compress(const bg_compressor_t *c, const float *x, gsl_rng *r, bg_msg_t *out)
{
    (void)r;
    if (out->cap < c->d)
        return BG_EINVAL;
    out->d = c->d;
    bg_msg_set_dense(out, x);
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

/* For non-negative floats the IEEE bit pattern orders like the value, so |x| compares as an integer; NaN
 * (above +Inf) then ranks largest, which keeps a poisoned vector visibly poisoned after compression. */
static inline uint32_t abs_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u & 0x7FFFFFFFu;
}

static int topk_init(bg_compressor_t *c, size_t d, bg_err_t *err)
{
    if (c->k == 0 || c->k > d)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "topk: k = %zu is not allowed for d = %zu (k must be in 1..%zu; set k or ratio <= 1)",
                          c->k, d, d);
    return BG_OK;
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

static int topk_compress(const bg_compressor_t *c, const float *x, gsl_rng *r, bg_msg_t *out)
{
    (void)r;
    size_t d = c->d, k = c->k;
    if (out->cap < d)
        return BG_EINVAL;
    out->d = d;
    /* When k values plus their indices outweigh the dense vector, send it dense: same decoded vector, fewer
     * bytes (for k = d always; for d = 1000 as soon as k > 666). */
    int dense = bg_msg_bytes_dense(d) < bg_msg_bytes_sparse(d, k);

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
        if (dense) {   /* d == 1 */
            out->kind = BG_MSG_DENSE;
            out->nnz = d;
            out->val[0] = x[0];
            out->bytes = bg_msg_bytes_dense(d);
            return BG_OK;
        }
        out->kind = BG_MSG_SPARSE;
        out->nnz = 1;
        out->idx[0] = (uint32_t)best;
        out->val[0] = x[best];
        out->bytes = bg_msg_bytes_sparse(d, 1);
        return BG_OK;
    }

    if (k == d) {
        out->kind = BG_MSG_DENSE;   /* dense is always smaller than d (index, value) pairs */
        out->nnz = d;
        memcpy(out->val, x, d * sizeof *x);
        out->bytes = bg_msg_bytes_dense(d);
        return BG_OK;
    }

    uint32_t prefix;
    unsigned shift;
    size_t need;
    topk_select(x, d, k, &prefix, &shift, &need);

    if (dense) {
        out->kind = BG_MSG_DENSE;
        out->nnz = d;
        for (size_t i = 0; i < d; i++) {
            uint32_t h = abs_bits(x[i]) >> shift;
            int keep = h > prefix || (h == prefix && need > 0 && need--);
            out->val[i] = keep ? x[i] : 0.0f;
        }
        out->bytes = bg_msg_bytes_dense(d);
        return BG_OK;
    }
    size_t m = 0;
    for (size_t i = 0; i < d && m < k; i++) {
        uint32_t h = abs_bits(x[i]) >> shift;
        if (h > prefix || (h == prefix && need > 0 && need--)) {
            out->idx[m] = (uint32_t)i;
            out->val[m] = x[i];
            m++;
        }
    }
    out->kind = BG_MSG_SPARSE;
    out->nnz = m;   /* == k by construction */
    out->bytes = bg_msg_bytes_sparse(d, m);
    return BG_OK;
}

static double topk_flops(const bg_compressor_t *c)
{
    /* k = 1: d comparisons. Otherwise up to three histogram passes and one selection pass, one integer
     * operation per entry each (4d), plus the 4096 bucket visits; no sort (indices come out in order). */
    if (c->k == 1)
        return (double)c->d;
    if (c->k == c->d)
        return 0.0;
    return 4.0 * (double)c->d + 4096.0;
}

static const bg_compressor_ops_t topk_ops = {
    .name = "topk",
    .summary = "keep the k largest |x| (ties: lower index), sparse u32 value + ceil-byte index (dense if smaller)",
    .biased = 1,
    .init = topk_init,
    .compress = topk_compress,
    .flops = topk_flops,
};

/* ---------------------------------------------------------------- registry */

const bg_compressor_ops_t *const bg_compressor_registry[] = {
    &identity_ops,
    &topk_ops,
    NULL,
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

int bg_compressor_create(const bg_comp_cfg_t *cfg, size_t d, bg_compressor_t *out, bg_err_t *err)
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
    if (d == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: dimension d must be at least 1", ops->name);
    if (d > UINT32_MAX)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "%s: d = %zu exceeds the u32 index range", ops->name, d);

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
    out->ops = ops;
    out->cfg = *cfg;
    memcpy(out->cfg.name, name, sizeof out->cfg.name);
    out->cfg.name[sizeof out->cfg.name - 1] = '\0';
    out->d = d;
    out->k = k;
    int rc = ops->init ? ops->init(out, d, err) : BG_OK;
    if (rc != BG_OK)
        out->ops = NULL;
    return rc;
}
