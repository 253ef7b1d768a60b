/* Robust aggregation: pre-aggregators (NNM) map n vectors to n vectors, aggregators map n vectors to one.
 * Each reports the flops it costs so the server's host can be charged for it. */
#ifndef BG_AGGREGATE_H
#define BG_AGGREGATE_H

#include "bg_common.h"

typedef struct bg_agg_args {
    size_t f;            /* number of Byzantine inputs tolerated */
    size_t rfa_iters;    /* RFA: Weiszfeld iteration cap (default 8) */
    double rfa_nu;       /* RFA: smoothing (default 0.1) */
    double rfa_tol;      /* RFA: stop when the iterate moves less than tol * (1 + |z|) (default 1e-6) */
} bg_agg_args_t;

void bg_agg_args_default(bg_agg_args_t *a);

typedef struct bg_aggregator_ops {
    const char *name;
    const char *summary;
    int needs_honest_majority;   /* requires f < n/2 */
    int (*run)(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *out);
    double (*flops)(const bg_agg_args_t *a, size_t n, size_t d);
} bg_aggregator_ops_t;

typedef struct bg_preagg_ops {
    const char *name;
    const char *summary;
    int needs_honest_majority;
    /* out[i] (n vectors of d floats, caller-allocated) from in. */
    int (*run)(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, float *const *out);
    double (*flops)(const bg_agg_args_t *a, size_t n, size_t d);
} bg_preagg_ops_t;

extern const bg_aggregator_ops_t *const bg_aggregator_registry[];   /* NULL-terminated */
extern const bg_preagg_ops_t *const bg_preagg_registry[];           /* NULL-terminated; "none" included */
const bg_aggregator_ops_t *bg_aggregator_find(const char *name);
const bg_preagg_ops_t *bg_preagg_find(const char *name);

/* A pre-aggregator composed with an aggregator, with its scratch space. */
typedef struct bg_robust {
    const bg_preagg_ops_t *pre;      /* NULL or "none": identity */
    const bg_aggregator_ops_t *agg;
    bg_agg_args_t args;
    size_t n, d;
    float *buf;                      /* n*d scratch for the pre-aggregator output */
    float **rows;                    /* n row pointers */
    const float **kept;              /* n row pointers: inputs that are finite */
} bg_robust_t;

/* Validates f against n (f < n/2 where a rule needs it). */
int bg_robust_init(bg_robust_t *r, const char *pre, const char *agg, const bg_agg_args_t *a, size_t n, size_t d,
                   bg_err_t *err);
void bg_robust_free(bg_robust_t *r);
/* Non-finite inputs are Byzantine by definition: they are dropped and f is reduced by their number before the
 * rules run; *n_dropped (may be NULL) reports how many. If more than f inputs are non-finite, BG_ERANGE. */
int bg_robust_run(bg_robust_t *r, const float *const *in, float *out, size_t *n_dropped);
double bg_robust_flops(const bg_robust_t *r);

#endif
