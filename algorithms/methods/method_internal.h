/* Internals shared by the method files: the worker state most worker halves keep, the server halves several
 * families reuse (per-worker shift, EF21's per-worker g_i) and the plain SGD step; the ops the registry lists. */
#ifndef BG_METHOD_INTERNAL_H
#define BG_METHOD_INTERNAL_H

#include "bg_method.h"

/* ---- shared halves (halves.c) ------------------------------------------------------------------------- */

/* d zeroed floats; d = 0 still gets a valid pointer, so NULL always means out of memory. */
float *bg_method_vec_new(size_t d);

/* One worker state for the EF21 family and the baselines; each method allocates only the vectors it uses. */
enum { BG_W_A = 1, BG_W_B = 2, BG_W_G = 4, BG_W_X = 8, BG_W_SP = 16 };

typedef struct bg_method_worker {
    size_t d;
    int started;
    float alpha;     /* DIANA shift step */
    float *s;        /* scratch: the fresh gradient */
    float *t;        /* scratch: the vector to compress */
    float *a;        /* v (momentum), u (first momentum), h (DIANA shift) or e (EF-SGD error) */
    float *b;        /* w (second momentum) */
    float *g;        /* EF21 estimate mirrored by the server */
    float *xprev;    /* the model of the previous round (STORM) */
    float *sp;       /* scratch: gradient at xprev on the same minibatch */
} bg_method_worker_t;

/* s and t always, plus the vectors named in mask (BG_W_*), all zero. */
int bg_method_worker_new(size_t d, unsigned mask, void **st);
void bg_method_worker_free(void *st);

/* The mirrored vectors: the worker's g (EF21 family) or a (DIANA's shift h); a shift server's h_i. */
const float *bg_method_worker_g(const void *st);
const float *bg_method_worker_a(const void *st);
const float *bg_method_shift_mirror(const void *st, size_t i);
const float *bg_ef21_server_mirror(const void *st, size_t i);

/* y <- (1 - eta) y + eta x */
void bg_method_ema(bg_worker_ctx_t *ctx, float *y, const float *x, double eta, size_t d);
/* y <- scale * x: the first value of a momentum (scale 1 when clean, 1 - beta = eta under INIT_SCALED). */
void bg_method_first_value(const bg_method_cfg_t *cfg, float *y, const float *x, size_t d);

/* x <- x - lr * agg, the server step of every method without server-side momentum. */
void bg_method_sgd_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d);

/* A server keeping one vector h_i per worker: the aggregator sees h_i + c_i, then h_i += alpha c_i. DIANA's
 * shift uses its alpha; DASHA's and EF21-BC's g_i take the message in full (alpha = 1). */
typedef struct bg_method_shift {
    size_t n, d;
    float alpha;
    float *h;        /* n*d */
    /* Byz-EF21-BC downlink (NULL otherwise) */
    float *w;        /* d: the model every worker holds */
    float *t;        /* d: scratch */
} bg_method_shift_t;

int bg_method_shift_new(size_t n, size_t d, float alpha, void **st);
void bg_method_shift_free(void *st);
void bg_method_shift_view(const void *st, size_t i, const bg_msg_t *msg, float *out);
void bg_method_shift_collect(void *st, size_t i, const bg_msg_t *msg, float *view);
void bg_method_shift_inverse(const void *st, size_t j, const float *target, bg_msg_t *out);

/* ---- the EF21 halves (ef21.c), also behind Byz-DM21 and Byz-VR-DM21 ------------------------------------ */

/* EF21: c = C(target - g); g += c; send c. In the first round a non-clean init primes g instead and ships the
 * primed state billed as an empty message (see ef21.c): SIDE_CHANNEL g = target (uncompressed),
 * SCALED g = C(target) (the caller has already scaled target's momentum by 1 - beta). */
int bg_ef21_send(const bg_method_cfg_t *cfg, bg_method_worker_t *w, bg_worker_ctx_t *ctx, const float *target,
                 int first, bg_msg_t *out);

/* The server filtering every worker's g_i, with [S]'s Byzantine-state and initialisation options. */
int bg_ef21_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st);
void bg_ef21_server_free(void *st);
void bg_ef21_server_view(const void *st, size_t i, const bg_msg_t *msg, float *out);
void bg_ef21_server_collect(void *st, size_t i, const bg_msg_t *msg, float *view);
void bg_ef21_server_inverse(const void *st, size_t j, const float *target, bg_msg_t *out);
void bg_ef21_server_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d);

#define BG_EF21_SERVER                                                                                       \
    .server_new = bg_ef21_server_new, .server_free = bg_ef21_server_free, .server_view = bg_ef21_server_view, \
    .server_collect = bg_ef21_server_collect, .server_inverse = bg_ef21_server_inverse,                      \
    .server_step = bg_ef21_server_step, .mirrored = 1, .worker_mirror = bg_method_worker_g,                     \
    .server_mirror = bg_ef21_server_mirror

/* ---- the methods, in the registry's order (method.c) -------------------------------------------------- */

extern const bg_method_ops_t bg_method_ef21_sgdm;         /* ef21.c */
extern const bg_method_ops_t bg_method_mom_sgd;           /* baselines.c */
extern const bg_method_ops_t bg_method_sgd;               /* baselines.c */
extern const bg_method_ops_t bg_method_br_csgd;           /* baselines.c */
extern const bg_method_ops_t bg_method_br_diana;          /* baselines.c */
extern const bg_method_ops_t bg_method_ef_sgd;            /* baselines.c */
extern const bg_method_ops_t bg_method_byz_ef21;          /* ef21.c */
extern const bg_method_ops_t bg_method_byz_dm21;          /* dm21.c */
extern const bg_method_ops_t bg_method_byz_vr_dm21;       /* dm21.c */
extern const bg_method_ops_t bg_method_byz_vr_marina;     /* vr.c */
extern const bg_method_ops_t bg_method_byz_dasha_page;    /* vr.c */
extern const bg_method_ops_t bg_method_rosdhb;            /* rosdhb.c */
extern const bg_method_ops_t bg_method_byz_ef21_bc;       /* ef21.c */

#endif
