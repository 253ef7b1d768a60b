/* Internals shared by the aggregation files (not installed: the public API is bg_aggregate.h): the kernels the
 * rules are built from, and each rule's ops table, which aggregate.c gathers into the registries. */
#ifndef BG_AGGREGATE_INTERNAL_H
#define BG_AGGREGATE_INTERNAL_H

#include "bg_aggregate.h"

/* x86-64 kernels are chosen at run time (SSE is baseline, AVX/AVX-512 when present); -DBG_NO_SIMD builds the
 * portable versions only, which give the same results (checked by running the tests both ways). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(BG_NO_SIMD)
#define BG_AGG_X86 1
#endif

/* Coordinates per block: rows are read in chunks this long so the n chunks of a block stay in cache while
 * every output coordinate of the block is produced (one pass over the input, whatever n). */
#define BG_AGG_MEAN_BLOCK 256

/* aggregate_rows.c */
void bg_agg_wsum(const float *const *rows, size_t m, const double *wt, size_t j0, size_t w, double *acc);
double bg_agg_row_dist2(const double *z, const float *x, size_t w);
void bg_agg_mean_rows(const float *const *rows, size_t m, size_t d, float *out);

/* An input in a selection: its score and its index, the index breaking ties as the references do. */
typedef struct {
    double dist;
    size_t idx;
} bg_agg_cand_t;

void bg_agg_cand_sort(bg_agg_cand_t *c, size_t n);
int bg_agg_pair_dist2(const float *const *in, size_t n, size_t d, double *D);
double bg_agg_pair_dist2_flops(size_t n, size_t d);

/* aggregate_order.c; inputs must be finite (bg_robust_run drops the others). */
int bg_agg_order_mean(const float *const *in, size_t n, size_t d, size_t lo, size_t hi, float *out);
int bg_agg_median_window(const float *const *in, size_t n, size_t d, size_t k, float *out);
double bg_agg_median_window_flops(size_t n, size_t k, size_t d);

/* aggregate_pre.c */
size_t bg_agg_pre_rows_out(const bg_preagg_ops_t *p, const bg_agg_args_t *a, size_t n);

/* The rules, defined in the file of their family; aggregate.c lists them in the registries. */
extern const bg_aggregator_ops_t bg_agg_mean_ops, bg_agg_cm_ops, bg_agg_cwtm_ops, bg_agg_tm_ops, bg_agg_meamed_ops;
extern const bg_aggregator_ops_t bg_agg_rfa_ops, bg_agg_cc_ops;
extern const bg_aggregator_ops_t bg_agg_krum_ops, bg_agg_multikrum_ops, bg_agg_bulyan_ops, bg_agg_monna_ops,
    bg_agg_mda_ops, bg_agg_dnc_ops;
extern const bg_preagg_ops_t bg_preagg_none_ops, bg_preagg_nnm_ops, bg_preagg_bucketing_ops, bg_preagg_clip_ops,
    bg_preagg_arc_ops;

#endif
