/* The variance-reduced methods of Rammal et al. as worker/server halves: Byz-VR-MARINA and Byz-DASHA-PAGE, both
 * driven by a coin drawn from the round's shared stream (as in [R]'s code; docs/references.md). */
#include "method_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------------------- */

/* The probability of a full-gradient round. The server has to draw the same coin as the workers but never sees a
 * shard, so the [R] notebook rule p = b / m_i can only be used when the engine writes it into cfg->p; with
 * cfg->p = 0 both sides fall back to p = 1 / (omega + 1), the MARINA paper's choice that makes a dense round
 * cost about as much as a compressed one on average (identity: p = 1). */
static double vr_prob(const bg_method_cfg_t *cfg)
{
    if (cfg->p > 0)
        return cfg->p < 1 ? cfg->p : 1.0;
    double omega = cfg->comp && isfinite(cfg->comp->omega) ? cfg->comp->omega : 0.0;
    return 1.0 / (omega + 1.0);
}

/* The shared coin is the FIRST draw of the round's shared stream on every side, so a shared-mask compressor that
 * draws after it sees the same state everywhere. Round 0 is always a full-gradient round ([R] starts from
 * g_i^0 = grad f_i(x^0)). */
static int vr_coin(const bg_method_cfg_t *cfg, size_t round, gsl_rng *shared)
{
    double u = gsl_rng_uniform(shared);
    return round == 0 || u < vr_prob(cfg);
}

/* Worker state shared by MARINA and DASHA-PAGE: the previous model (same minibatch at both points) and scratch. */
typedef struct {
    size_t d;
    int started;
    float *x_prev;
    float *h;        /* DASHA: the PAGE estimator h_i */
    float *g;        /* DASHA: the compressed estimate g_i mirrored by the server */
    float *a, *b;    /* scratch: gradients */
    float *t;        /* scratch: vector to compress */
} worker_vr_t;

static void worker_vr_free(void *st)
{
    worker_vr_t *w = st;
    if (!w)
        return;
    free(w->x_prev);
    free(w->h);
    free(w->g);
    free(w->a);
    free(w->b);
    free(w->t);
    free(w);
}

static int worker_vr_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    worker_vr_t *w = calloc(1, sizeof *w);
    if (!w)
        return BG_ENOMEM;
    w->d = d;
    w->x_prev = bg_method_vec_new(d);
    w->h = bg_method_vec_new(d);
    w->g = bg_method_vec_new(d);
    w->a = bg_method_vec_new(d);
    w->b = bg_method_vec_new(d);
    w->t = bg_method_vec_new(d);
    if (!w->x_prev || !w->h || !w->g || !w->a || !w->b || !w->t) {
        worker_vr_free(w);
        return BG_ENOMEM;
    }
    *st = w;
    return BG_OK;
}

/* ---- Byz-VR-MARINA ([R] 4.2) ------------------------------------------------------------------------- */

/* Coin 1: send grad f_i(x^t) dense. Coin 0: send C(grad f_{i,B}(x^t) - grad f_{i,B}(x^{t-1})) on one minibatch;
 * the server adds it to its previous aggregate g^{t-1}. (The [S] variant adds it to the worker's own g_i and
 * never sends dense rounds ([S] MarinaWorker): that is [R]'s no-sync variant, not this method.) */
static int marina_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                               const float *x, bg_msg_t *out)
{
    worker_vr_t *w = st;
    int coin = vr_coin(cfg, round, ctx->shared) || !w->started;
    int rc = BG_OK;
    if (coin) {
        bg_worker_full_grad(ctx, x, w->a);
        bg_msg_set_dense(out, w->a);
    } else {
        bg_worker_stoch_grad2(ctx, x, w->x_prev, cfg->batch, w->a, w->b);
        for (size_t k = 0; k < w->d; k++)
            w->t[k] = w->a[k] - w->b[k];
        ctx->flops += (double)w->d;
        rc = bg_worker_compress(ctx, w->t, out);
    }
    memcpy(w->x_prev, x, w->d * sizeof(float));
    w->started = 1;
    return rc;
}

typedef struct {
    bg_method_cfg_t cfg;
    size_t n, d;
    int coin;        /* this round's shared coin, from server_begin_round */
    float *g;        /* the previous aggregate g^{t-1} */
} server_marina_t;

static int marina_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    server_marina_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->cfg = *cfg;
    s->n = n;
    s->d = d;
    s->coin = 1;
    s->g = bg_method_vec_new(d);
    if (!s->g) {
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static void marina_server_free(void *st)
{
    server_marina_t *s = st;
    if (s)
        free(s->g);
    free(s);
}

static void marina_begin_round(void *st, size_t round, gsl_rng *shared)
{
    server_marina_t *s = st;
    s->coin = vr_coin(&s->cfg, round, shared);
}

static void marina_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    (void)i;
    const server_marina_t *s = st;
    if (s->coin) {
        bg_msg_decode(msg, out);
    } else {
        memcpy(out, s->g, s->d * sizeof(float));
        bg_msg_add_to(msg, 1.0f, out);
    }
}

static void marina_collect(void *st, size_t i, const bg_msg_t *msg, float *view) { marina_view(st, i, msg, view); }

static void marina_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    (void)j;
    const server_marina_t *s = st;
    bg_msg_set_dense(out, target);
    if (!s->coin)
        for (size_t k = 0; k < s->d; k++)
            out->val[k] -= s->g[k];
}

static void marina_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d)
{
    server_marina_t *s = st;
    memcpy(s->g, agg, d * sizeof(float));
    bg_method_sgd_step(cfg, st, agg, x, d);
}

const bg_method_ops_t bg_method_byz_vr_marina = {
    .name = "byz-vr-marina",
    .default_compressor = "randk",
    .summary = "Byz-VR-MARINA [R]: shared coin; dense full local gradients with probability p (always in round 0), "
               "else C(minibatch gradient difference) added to the previous aggregate",
    .reconstructed = 1,
    .needs_unbiased = 1,
    .worker_new = worker_vr_new,
    .worker_free = worker_vr_free,
    .worker_round = marina_worker_round,
    .server_new = marina_server_new,
    .server_free = marina_server_free,
    .server_begin_round = marina_begin_round,
    .server_view = marina_view,
    .server_collect = marina_collect,
    .server_inverse = marina_inverse,
    .server_step = marina_step,
};

/* ---- Byz-DASHA-PAGE ([R] 4.3) ------------------------------------------------------------------------ */

/* Round 0 sets h = g = grad f_i(x^0) and sends g dense, so the server's g_i (starting at 0) becomes g_i^0 as in
 * [R]'s initialisation (which [R] does not charge; we do). Later rounds: PAGE coin (shared), h' = full gradient
 * or h + minibatch difference, m = C(h' - h - a (g - h)), a = 1 / (2 omega + 1), g += m, h = h'. ([D]'s variant
 * sends 0 on reset rounds and has a server-vector bug ([D] DashaWorker); not reproduced.) */
static int dasha_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                              const float *x, bg_msg_t *out)
{
    worker_vr_t *w = st;
    const size_t d = w->d;
    int coin = vr_coin(cfg, round, ctx->shared);
    if (!w->started) {
        bg_worker_full_grad(ctx, x, w->h);
        memcpy(w->g, w->h, d * sizeof(float));
        bg_msg_set_dense(out, w->g);
        memcpy(w->x_prev, x, d * sizeof(float));
        w->started = 1;
        return BG_OK;
    }
    /* w->a = h' */
    if (coin) {
        bg_worker_full_grad(ctx, x, w->a);
    } else {
        bg_worker_stoch_grad2(ctx, x, w->x_prev, cfg->batch, w->a, w->b);
        for (size_t k = 0; k < d; k++)
            w->a[k] = w->h[k] + w->a[k] - w->b[k];
        ctx->flops += 2.0 * (double)d;
    }
    double omega = cfg->comp && isfinite(cfg->comp->omega) ? cfg->comp->omega : 0.0;
    const float a = (float)(1.0 / (2.0 * omega + 1.0));
    for (size_t k = 0; k < d; k++)
        w->t[k] = w->a[k] - w->h[k] - a * (w->g[k] - w->h[k]);
    ctx->flops += 4.0 * (double)d;
    int rc = bg_worker_compress(ctx, w->t, out);
    if (rc)
        return rc;
    bg_msg_add_to(out, 1.0f, w->g);
    ctx->flops += (double)out->nnz;
    memcpy(w->h, w->a, d * sizeof(float));
    memcpy(w->x_prev, x, d * sizeof(float));
    return BG_OK;
}

/* The server's g_i take every message in full (DASHA's g_i += m on both sides). */
static int dasha_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    (void)cfg;
    return bg_method_shift_new(n, d, 1.0f, st);
}

static const float *dasha_worker_mirror(const void *st) { return ((const worker_vr_t *)st)->g; }

const bg_method_ops_t bg_method_byz_dasha_page = {
    .name = "byz-dasha-page",
    .mirrored = 1,
    .worker_mirror = dasha_worker_mirror,
    .server_mirror = bg_method_shift_mirror,
    .default_compressor = "randk",
    .summary = "Byz-DASHA-PAGE [R]: PAGE estimator h_i with a shared coin, DASHA compressed momentum g_i kept by "
               "the server for every worker (round 0 sends g_i^0 dense)",
    .reconstructed = 1,
    .needs_unbiased = 1,
    .worker_new = worker_vr_new,
    .worker_free = worker_vr_free,
    .worker_round = dasha_worker_round,
    .server_new = dasha_server_new,
    .server_free = bg_method_shift_free,
    .server_view = bg_method_shift_view,
    .server_collect = bg_method_shift_collect,
    .server_inverse = bg_method_shift_inverse,
    .server_step = bg_method_sgd_step,
};
