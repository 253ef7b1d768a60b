/* Variance-reduced and bidirectional baselines: Byz-VR-MARINA, Byz-DASHA-PAGE (Rammal et al.), RoSDHB (server
 * momentum on a shared rand-k mask) and Byz-EF21-BC (EF21 on both links). Each is a worker and a server half. */
#include "bg_method.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------------------- */

static float *vec_new(size_t d) { return calloc(d ? d : 1, sizeof(float)); }

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
    float *g;        /* DASHA: the compressed estimate g_i mirrored by the server; EF21-BC: EF21 state */
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
    w->x_prev = vec_new(d);
    w->h = vec_new(d);
    w->g = vec_new(d);
    w->a = vec_new(d);
    w->b = vec_new(d);
    w->t = vec_new(d);
    if (!w->x_prev || !w->h || !w->g || !w->a || !w->b || !w->t) {
        worker_vr_free(w);
        return BG_ENOMEM;
    }
    *st = w;
    return BG_OK;
}

static void server_sgd_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d)
{
    (void)st;
    const float lr = (float)cfg->lr;
    for (size_t k = 0; k < d; k++)
        x[k] -= lr * agg[k];
}

/* ---- server keeping one vector per worker (DASHA's g_i, EF21's g_i) ---------------------------------- */

typedef struct {
    size_t n, d;
    float *g;        /* n*d */
    /* Byz-EF21-BC downlink */
    float *w;        /* d: the model every worker holds */
    float *t;        /* d: scratch */
} server_g_t;

static void server_g_free(void *st)
{
    server_g_t *s = st;
    if (!s)
        return;
    free(s->g);
    free(s->w);
    free(s->t);
    free(s);
}

static int server_g_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    (void)cfg;
    server_g_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    s->g = calloc(n * d + 1, sizeof(float));
    if (!s->g) {
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static void server_g_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const server_g_t *s = st;
    memcpy(out, s->g + i * s->d, s->d * sizeof(float));
    bg_msg_add_to(msg, 1.0f, out);
}

static void server_g_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    server_g_t *s = st;
    float *gi = s->g + i * s->d;
    bg_msg_add_to(msg, 1.0f, gi);
    memcpy(view, gi, s->d * sizeof(float));
}

static void server_g_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const server_g_t *s = st;
    const float *gj = s->g + j * s->d;
    bg_msg_set_dense(out, target);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] -= gj[k];
}

/* ---- Byz-VR-MARINA ([R] 4.2) ------------------------------------------------------------------------- */

/* Coin 1: send grad f_i(x^t) dense. Coin 0: send C(grad f_{i,B}(x^t) - grad f_{i,B}(x^{t-1})) on one minibatch;
 * the server adds it to its previous aggregate g^{t-1}. (The [S] variant adds it to the worker's own g_i and
 * never sends dense rounds, ALGORITHMS.md 3.5: that is the no-sync structure, not this method.) */
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
    s->g = vec_new(d);
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
    server_sgd_step(cfg, st, agg, x, d);
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
 * sends 0 on reset rounds and has a server-vector bug, ALGORITHMS.md 3.7; not reproduced.) */
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

const bg_method_ops_t bg_method_byz_dasha_page = {
    .name = "byz-dasha-page",
    .default_compressor = "randk",
    .summary = "Byz-DASHA-PAGE [R]: PAGE estimator h_i with a shared coin, DASHA compressed momentum g_i kept by "
               "the server for every worker (round 0 sends g_i^0 dense)",
    .reconstructed = 1,
    .needs_unbiased = 1,
    .worker_new = worker_vr_new,
    .worker_free = worker_vr_free,
    .worker_round = dasha_worker_round,
    .server_new = server_g_new,
    .server_free = server_g_free,
    .server_view = server_g_view,
    .server_collect = server_g_collect,
    .server_inverse = server_g_inverse,
    .server_step = server_sgd_step,
};

/* ---- RoSDHB ([Q] 5.3) -------------------------------------------------------------------------------- */

/* [Q]'s honest client takes one SGD step and sends the masked update Delta = -eta_c grad; the server steps
 * theta + gamma_s R. We send the gradient side instead, (d/k) grad on the mask, and step x - lr R: for the
 * odd, scale-equivariant aggregators (CWTM, the paper's) this is the same trajectory with lr = gamma_s eta_c
 * (0.8 * 0.7 on CIFAR), and the server-side vectors keep the gradient sign every attack assumes. */
typedef struct {
    size_t d, k;
    uint32_t *perm;  /* identity permutation of 0..d-1, restored after every draw */
    uint32_t *swap;  /* k swap partners of the partial Fisher-Yates shuffle */
    float *s;        /* scratch: stochastic gradient */
} worker_rosdhb_t;

static void rosdhb_worker_free(void *st)
{
    worker_rosdhb_t *w = st;
    if (!w)
        return;
    free(w->perm);
    free(w->swap);
    free(w->s);
    free(w);
}

static size_t rosdhb_k(const bg_method_cfg_t *cfg, size_t d)
{
    size_t k = cfg->comp && cfg->comp->k ? cfg->comp->k : d;
    return k < d ? k : d;
}

static int rosdhb_worker_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    worker_rosdhb_t *w = calloc(1, sizeof *w);
    if (!w)
        return BG_ENOMEM;
    w->d = d;
    w->k = rosdhb_k(cfg, d);
    w->perm = malloc((d ? d : 1) * sizeof(uint32_t));
    w->swap = malloc((w->k ? w->k : 1) * sizeof(uint32_t));
    w->s = vec_new(d);
    if (!w->perm || !w->swap || !w->s) {
        rosdhb_worker_free(w);
        return BG_ENOMEM;
    }
    for (size_t i = 0; i < d; i++)
        w->perm[i] = (uint32_t)i;
    *st = w;
    return BG_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The round's global mask: the first k entries of a shared partial Fisher-Yates shuffle, sorted. Every party
 * draws it from the same shared stream, so the indices never travel. */
static void rosdhb_mask(worker_rosdhb_t *w, gsl_rng *shared, uint32_t *idx)
{
    for (size_t i = 0; i < w->k; i++) {
        size_t j = i + gsl_rng_uniform_int(shared, w->d - i);
        w->swap[i] = (uint32_t)j;
        uint32_t t = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = t;
    }
    memcpy(idx, w->perm, w->k * sizeof(uint32_t));
    for (size_t i = w->k; i-- > 0;) {
        size_t j = w->swap[i];
        uint32_t t = w->perm[i];
        w->perm[i] = w->perm[j];
        w->perm[j] = t;
    }
    qsort(idx, w->k, sizeof(uint32_t), cmp_u32);
}

static int rosdhb_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                               const float *x, bg_msg_t *out)
{
    (void)round;
    worker_rosdhb_t *w = st;
    rosdhb_mask(w, ctx->shared, out->idx);
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    const float scale = (float)((double)w->d / (double)w->k);
    for (size_t i = 0; i < w->k; i++)
        out->val[i] = scale * w->s[out->idx[i]];
    out->kind = BG_MSG_SPARSE;
    out->nnz = w->k;
    out->bytes = (double)BG_MSG_HEADER_BYTES + 4.0 * (double)w->k;   /* values only: the mask is shared */
    ctx->flops += 3.0 * (double)w->k + (double)w->k * log2((double)w->k + 1.0);
    return BG_OK;
}

typedef struct {
    size_t n, d;
    float beta;
    float *m;        /* n*d: per-worker server momentum */
} server_rosdhb_t;

static void rosdhb_server_free(void *st)
{
    server_rosdhb_t *s = st;
    if (s)
        free(s->m);
    free(s);
}

static int rosdhb_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    if (!(cfg->server_beta >= 0 && cfg->server_beta < 1))
        return BG_EINVAL;   /* the inverse divides by 1 - beta */
    server_rosdhb_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    s->beta = (float)cfg->server_beta;
    s->m = calloc(n * d + 1, sizeof(float));
    if (!s->m) {
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static void rosdhb_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const server_rosdhb_t *s = st;
    const float *mi = s->m + i * s->d;
    for (size_t k = 0; k < s->d; k++)
        out[k] = s->beta * mi[k];
    bg_msg_add_to(msg, 1.0f - s->beta, out);
}

static void rosdhb_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    server_rosdhb_t *s = st;
    rosdhb_view(st, i, msg, view);
    memcpy(s->m + i * s->d, view, s->d * sizeof(float));
}

/* An omniscient attacker may send anything: its message is dense (d values), not restricted to the mask. */
static void rosdhb_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const server_rosdhb_t *s = st;
    const float *mj = s->m + j * s->d;
    const float inv = 1.0f / (1.0f - s->beta);
    bg_msg_set_dense(out, target);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] = (target[k] - s->beta * mj[k]) * inv;
}

const bg_method_ops_t bg_method_rosdhb = {
    .name = "rosdhb",
    .summary = "RoSDHB [Q]: one stochastic gradient on a shared global rand-k mask (values only on the wire), "
               "server-side per-worker momentum m_i with server_beta",
    .reconstructed = 1,
    .worker_new = rosdhb_worker_new,
    .worker_free = rosdhb_worker_free,
    .worker_round = rosdhb_worker_round,
    .server_new = rosdhb_server_new,
    .server_free = rosdhb_server_free,
    .server_view = rosdhb_view,
    .server_collect = rosdhb_collect,
    .server_inverse = rosdhb_inverse,
    .server_step = server_sgd_step,
};

/* ---- Byz-EF21-BC ([R] paper 4.5, reconstructed: not in the [R] code) --------------------------------- */

/* Uplink: Byz-EF21 on full local gradients, clean start (g_i = 0 on both sides, first message C(grad f_i)).
 * Downlink: the server keeps w, broadcasts b = C_down(x - w) and sets w += b; every worker applies the same b to
 * its copy and evaluates at w. Both copies start at w = 0 (whatever the engine put in the worker's buffer), so
 * the first broadcast is C_down(x^0). */
static int ef21bc_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                               const float *x, bg_msg_t *out)
{
    (void)cfg;
    (void)round;
    worker_vr_t *w = st;
    bg_worker_full_grad(ctx, x, w->a);
    for (size_t k = 0; k < w->d; k++)
        w->t[k] = w->a[k] - w->g[k];
    ctx->flops += (double)w->d;
    int rc = bg_worker_compress(ctx, w->t, out);
    if (rc)
        return rc;
    bg_msg_add_to(out, 1.0f, w->g);
    ctx->flops += (double)out->nnz;
    return BG_OK;
}

static void ef21bc_worker_receive(const bg_method_cfg_t *cfg, void *wst, const bg_msg_t *down, float *model)
{
    (void)cfg;
    worker_vr_t *w = wst;
    if (!w->started) {
        memset(model, 0, w->d * sizeof(float));
        w->started = 1;
    }
    bg_msg_add_to(down, 1.0f, model);
}

static int ef21bc_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    int rc = server_g_new(cfg, n, d, st);
    if (rc)
        return rc;
    server_g_t *s = *st;
    s->w = vec_new(d);
    s->t = vec_new(d);
    if (!s->w || !s->t) {
        server_g_free(s);
        *st = NULL;
        return BG_ENOMEM;
    }
    return BG_OK;
}

/* The downlink compressor's randomness comes from the round's shared stream (the broadcast is one message for
 * every worker, so nothing is lost by the workers being able to reproduce it). */
static int ef21bc_broadcast(const bg_method_cfg_t *cfg, void *st, const float *x, gsl_rng *shared, bg_msg_t *out,
                            double *flops)
{
    server_g_t *s = st;
    const bg_compressor_t *c = cfg->down_comp;
    if (!c)
        return BG_EINVAL;
    for (size_t k = 0; k < s->d; k++)
        s->t[k] = x[k] - s->w[k];
    bg_comp_rngs_t r = {shared, shared};
    int rc = c->ops->compress(c, s->t, &r, out);
    if (rc)
        return rc;
    bg_msg_add_to(out, 1.0f, s->w);
    *flops = (double)s->d + c->ops->flops(c) + (double)out->nnz;
    return BG_OK;
}

const bg_method_ops_t bg_method_byz_ef21_bc = {
    .name = "byz-ef21-bc",
    .summary = "Byz-EF21-BC [R] (reconstructed): Byz-EF21 uplink on full local gradients, EF21-compressed "
               "model broadcast b = C_down(x - w), workers evaluate at w",
    .reconstructed = 1,
    .worker_models = 1,
    .worker_new = worker_vr_new,
    .worker_free = worker_vr_free,
    .worker_round = ef21bc_worker_round,
    .server_new = ef21bc_server_new,
    .server_free = server_g_free,
    .server_view = server_g_view,
    .server_collect = server_g_collect,
    .server_inverse = server_g_inverse,
    .server_step = server_sgd_step,
    .server_broadcast = ef21bc_broadcast,
    .worker_receive = ef21bc_worker_receive,
};
