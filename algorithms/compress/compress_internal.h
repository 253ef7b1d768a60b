/* Internals shared by the compressor files (message.c, compress.c, sparsify.c, quantise.c): the scope driver
 * that runs a compressor globally or layer by layer into one message, and the ops the registry lists. */
#ifndef BG_COMPRESS_INTERNAL_H
#define BG_COMPRESS_INTERNAL_H

#include <float.h>
#include <math.h>

#include "bg_compress.h"

/* A value computed in double and sent as fp32: a finite value beyond the fp32 range saturates to +-FLT_MAX
 * (never +-Inf), so finite input never decodes to a non-finite vector; NaN and +-Inf pass through (the poison
 * of a non-finite input stays visible). */
static inline float bg_comp_to_f32(double v)
{
    if (v > (double)FLT_MAX && v < INFINITY)
        return FLT_MAX;
    if (v < -(double)FLT_MAX && v > -INFINITY)
        return -FLT_MAX;
    return (float)v;
}

/* ---------------------------------------------------------------- scope: global or per layer (message.c) */

/* One stretch of the vector compressed on its own: the whole vector (global scope) or one layer. */
typedef struct bg_comp_seg {
    size_t off;   /* first global index */
    size_t d;     /* length */
    size_t k;     /* values kept (sparse compressors) */
} bg_comp_seg_t;

/* Values kept in a layer of d_l entries: cfg.k clamped to d_l (a small layer, e.g. a bias, keeps all of
 * itself rather than failing), else max(1, floor(ratio * d_l)) clamped to d_l ([S] Top-k's rule). */
size_t bg_comp_layer_k(const bg_comp_cfg_t *cfg, size_t dl);
size_t bg_comp_n_segs(const bg_compressor_t *c);
bg_comp_seg_t bg_comp_seg_of(const bg_compressor_t *c, size_t l);

/* Compress x[0..s.d) (the segment's slice) into idx/val, which have room for s.d entries: writes global
 * indices s.off + i, strictly increasing, returns the entries written and adds the payload bytes. */
typedef size_t (*bg_comp_seg_fn)(const bg_compressor_t *c, const float *x, bg_comp_seg_t s,
                                 const bg_comp_rngs_t *r, uint32_t *idx, float *val, double *payload);

/* Run f on every segment and assemble one message: one header, the payloads added up, indices global.
 * A message that lists every index is dense (its values are then in index order already). */
int bg_comp_drive(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out,
                  bg_comp_seg_fn f);
double bg_comp_flops_sum(const bg_compressor_t *c, double (*f)(const bg_compressor_t *c, bg_comp_seg_t s));

/* Index-free encodings write every coordinate. */
void bg_comp_dense_indices(uint32_t *idx, bg_comp_seg_t s);
/* Sparse payload of k of d values: u32 value + ceil-byte index each, or the d dense values when smaller. */
int bg_comp_sparse_is_dense(size_t d, size_t k);
/* Sparse compressors refuse a per-layer ratio above 1 here (the global k > d check names k). */
int bg_comp_check_ratio(const bg_compressor_t *c, bg_err_t *err);

/* ---------------------------------------------------------------- the compressors */

extern const bg_compressor_ops_t bg_comp_identity_ops;                           /* compress.c */
extern const bg_compressor_ops_t bg_comp_topk_ops, bg_comp_randk_ops;            /* sparsify.c */
extern const bg_compressor_ops_t bg_comp_randk_unscaled_ops;                     /* sparsify.c */
extern const bg_compressor_ops_t bg_comp_sign_ops, bg_comp_qsgd_ops, bg_comp_fp16_ops;   /* quantise.c */

#endif
