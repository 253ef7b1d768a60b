/* Robust aggregation: pre-aggregators (NNM) map n vectors to n vectors, aggregators map n vectors to one.
 * Each reports the flops it costs so the server's host can be charged for it. */
#ifndef BG_AGGREGATE_H
#define BG_AGGREGATE_H

#include "bg_common.h"
#include "bg_registry.h"

typedef struct bg_agg_args {
    size_t f;            /* number of Byzantine inputs tolerated */
    size_t rfa_iters;    /* RFA: Weiszfeld iteration cap */
    double rfa_nu;       /* RFA: smoothing */
    double rfa_tol;      /* RFA: stop when the iterate moves less than tol * (1 + |z|) */
    int krum_power;      /* Krum/Multi-Krum score: sum of distances to this power: 2 (textbook, default) or 4
                            (the [S] artifact: it squares distances already squared) */
    size_t krum_m;       /* Multi-Krum: number of vectors averaged (0: n - f) */
    double cc_tau;       /* centered clipping radius */
    size_t cc_iters;     /* centered clipping iterations per call */
    size_t bucket_s;     /* bucketing: bucket size */
    double clip_tau;     /* static clipping: L2 norm bound */
    size_t dnc_iters;    /* DnC: iterations */
    size_t dnc_sub_dim;  /* DnC: coordinates subsampled */
    double dnc_filter_frac; /* DnC: removes filter_frac * f vectors per iteration */
    double mda_max_subsets; /* MDA: refuses when C(n, n - f) exceeds this */
    gsl_rng *rng;        /* the server's stream for randomised rules (bucketing, DnC); set by the caller */
} bg_agg_args_t;


typedef struct bg_aggregator_ops {
    const char *name;
    const char *summary;
    int needs_honest_majority;   /* requires f < n/2 */
    /* Optional: stricter validation of (n, f, d) with a clear message (Bulyan n > 4f, MDA's subset count). */
    int (*check)(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err);
    /* Optional state kept across rounds (centered clipping's centre); NULL for stateless rules.
     * Sized for at most n inputs: run may be called with fewer (non-finite inputs dropped). */
    int (*state_new)(const bg_agg_args_t *a, size_t n, size_t d, void **st);
    void (*state_free)(void *st);
    int (*run)(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out);
    double (*flops)(const bg_agg_args_t *a, size_t n, size_t d);
} bg_aggregator_ops_t;

typedef struct bg_preagg_ops {
    const char *name;
    const char *summary;
    int needs_honest_majority;
    int (*check)(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err);   /* optional */
    int (*state_new)(const bg_agg_args_t *a, size_t n, size_t d, void **st);   /* optional */
    void (*state_free)(void *st);
    /* out[i] (n vectors of d floats, caller-allocated) from in. A pre-aggregator that reduces the count
     * (bucketing) writes fewer rows and returns their number through *n_out. */
    int (*run)(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *const *out,
               size_t *n_out);
    double (*flops)(const bg_agg_args_t *a, size_t n, size_t d);
} bg_preagg_ops_t;

extern const bg_aggregator_ops_t *const bg_aggregator_registry[];   /* NULL-terminated */
extern const bg_preagg_ops_t *const bg_preagg_registry[];           /* NULL-terminated; "none" included */
extern const bg_registry_t bg_aggregators, bg_preaggregators;
const bg_aggregator_ops_t *bg_aggregator_find(const char *name);
const bg_preagg_ops_t *bg_preagg_find(const char *name);

/* A pre-aggregator composed with an aggregator, with its scratch space. */
typedef struct bg_robust {
    const bg_preagg_ops_t *pre;      /* NULL or "none": identity */
    const bg_aggregator_ops_t *agg;
    bg_agg_args_t args;
    size_t n, d;
    void *pre_state, *agg_state;     /* the rules' own state, when they keep one */
    float *buf;                      /* n*d scratch for the pre-aggregator output */
    float **rows;                    /* n row pointers */
    const float **kept;              /* n row pointers: inputs that are finite */
} bg_robust_t;

/* Validates f against n (f < n/2 where a rule needs it). a: the rules' arguments (defaults: bg_agg_args_default
 * in bg_config.h, the scenario key table's values). */
int bg_robust_init(bg_robust_t *r, const char *pre, const char *agg, const bg_agg_args_t *a, size_t n, size_t d,
                   bg_err_t *err);
void bg_robust_destroy(bg_robust_t *r);
/* Non-finite inputs are Byzantine by definition: they are dropped and f is reduced by their number before the
 * rules run; *n_dropped (may be NULL) reports how many. If more than f inputs are non-finite, BG_ERANGE. */
int bg_robust_run(bg_robust_t *r, const float *const *in, float *out, size_t *n_dropped);
double bg_robust_flops(const bg_robust_t *r);
/* Round protocols: the first m <= n inputs only (the workers present this round), f unchanged. */
int bg_robust_run_m(bg_robust_t *r, const float *const *in, size_t m, float *out, size_t *n_dropped);
double bg_robust_flops_m(const bg_robust_t *r, size_t m);
/* Whether m present inputs are enough with f unchanged: m >= 2f + 1 and the rule's own conditions at m. */
int bg_robust_enough(const bg_robust_t *r, size_t m);

#endif
