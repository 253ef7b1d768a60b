/* Messages (dense or sparse encodings with their exact wire size), and the scope driver that runs a compressor
 * over the whole vector or layer by layer and assembles the pieces into one message. */
#include "compress_internal.h"

#include <math.h>
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
        bg_msg_destroy(m);
        return BG_ENOMEM;
    }
    m->kind = BG_MSG_DENSE;
    m->d = d;
    m->nnz = d;
    m->cap = d;
    m->bytes = bg_msg_bytes_dense(d);
    return BG_OK;
}

void bg_msg_destroy(bg_msg_t *m)
{
    if (!m)
        return;
    free(m->idx);
    free(m->val);
    memset(m, 0, sizeof *m);
}

void bg_msg_copy(bg_msg_t *dst, const bg_msg_t *src)
{
    dst->kind = src->kind;
    dst->nnz = src->nnz;
    dst->bytes = src->bytes;
    memcpy(dst->val, src->val, src->nnz * sizeof *src->val);
    if (src->kind != BG_MSG_DENSE)
        memcpy(dst->idx, src->idx, src->nnz * sizeof *src->idx);
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

/* ---------------------------------------------------------------- scope: global or per layer */

size_t bg_comp_layer_k(const bg_comp_cfg_t *cfg, size_t dl)
{
    if (cfg->k)
        return cfg->k < dl ? cfg->k : dl;
    double kd = floor(cfg->ratio * (double)dl);
    return kd < 1.0 ? 1 : kd > (double)dl ? dl : (size_t)kd;
}

size_t bg_comp_n_segs(const bg_compressor_t *c)
{
    return c->cfg.per_layer && c->n_layers && c->layer_off ? c->n_layers : 1;
}

bg_comp_seg_t bg_comp_seg_of(const bg_compressor_t *c, size_t l)
{
    bg_comp_seg_t s;
    if (bg_comp_n_segs(c) == 1) {
        s.off = 0;
        s.d = c->d;
        s.k = c->k;
    } else {
        s.off = c->layer_off[l];
        s.d = c->layer_off[l + 1] - s.off;
        s.k = bg_comp_layer_k(&c->cfg, s.d);
    }
    return s;
}

int bg_comp_drive(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out,
                  bg_comp_seg_fn f)
{
    if (out->cap < c->d)
        return BG_EINVAL;
    size_t m = 0, ns = bg_comp_n_segs(c);
    double payload = 0.0;
    for (size_t l = 0; l < ns; l++) {
        bg_comp_seg_t s = bg_comp_seg_of(c, l);
        /* m <= s.off (at most one entry per coordinate so far), so s.d entries fit from m on. */
        m += f(c, x + s.off, s, r, out->idx + m, out->val + m, &payload);
    }
    out->d = c->d;
    out->nnz = m;
    out->kind = m == c->d ? BG_MSG_DENSE : BG_MSG_SPARSE;
    out->bytes = (double)BG_MSG_HEADER_BYTES + payload;
    return BG_OK;
}

double bg_comp_flops_sum(const bg_compressor_t *c, double (*f)(const bg_compressor_t *c, bg_comp_seg_t s))
{
    double t = 0.0;
    for (size_t l = 0, ns = bg_comp_n_segs(c); l < ns; l++)
        t += f(c, bg_comp_seg_of(c, l));
    return t;
}

void bg_comp_dense_indices(uint32_t *idx, bg_comp_seg_t s)
{
    for (size_t i = 0; i < s.d; i++)
        idx[i] = (uint32_t)(s.off + i);
}

int bg_comp_sparse_is_dense(size_t d, size_t k)
{
    return 4.0 * (double)d < (double)k * (4.0 + (double)bg_index_bytes(d));
}

int bg_comp_check_ratio(const bg_compressor_t *c, bg_err_t *err)
{
    if (c->cfg.per_layer && c->cfg.k == 0 && c->cfg.ratio > 1.0)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "%s: ratio = %g keeps more than a whole layer (ratio must be in [0, 1])", c->ops->name,
                          c->cfg.ratio);
    return BG_OK;
}
