/* The error-feedback family and its stateless baselines as worker/server halves: Byz-EF21-SGDM, momentum SGD,
 * SGD, BR-CSGD, BR-DIANA, EF-SGD, Byz-EF21, Byz-DM21 and Byz-VR-DM21 (ALGORITHMS.md sections 2-6, 12). */
#include "bg_method.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- server halves ------------------------------------------------------------------------------------- */

/* EF21 servers keep one vector per worker (g_i); the aggregator sees g_i + c_i.
 *
 * byz_state = LAST_HONEST reproduces [S] (ALGORITHMS.md 2.2 step 4): the server keeps no state for Byzantine
 * ranks; their message is added to the PRE-update state of honest rank nh - 1 and nothing is stored. Since the
 * engine collects ranks in order, collect(nh - 1) saves that pre-update state in `base` for the Byzantine
 * ranks collected after it; view and inverse called before collect(nh - 1) read g_{nh-1} itself, which is the
 * same vector. `base` is dropped at the step, so the next round starts from g_{nh-1} again.
 *
 * init != CLEAN reproduces [S]'s first call: in round 0 an honest worker's vector is 0 for the aggregator
 * (stored 0 + message 0), but its state is primed through the store() side channel. The worker ships the
 * state it primed (s^0 dense for SIDE_CHANNEL, C((1-beta) s^0) for SCALED) in its round-0 message, billed as an
 * empty message; the server takes it as g_i and shows 0. Byzantine ranks never use the side channel (they do
 * not call store() in [S]), so their round-0 message is an ordinary one; a data-attack Byzantine worker running
 * the method therefore gets its primed state counted as a message in round 0 (no [S] equivalent is known). */
typedef struct {
    size_t n, nh, d;
    bg_byz_state_t byz_state;
    bg_init_t init;
    size_t round;    /* rounds stepped */
    int have_base;   /* base holds g_{nh-1} before this round's collect */
    float *g;        /* n*d */
    float *base;     /* d, LAST_HONEST only */
} server_ef_t;

static int server_ef_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    server_ef_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    /* Direct callers may leave n_honest unset: then every rank is honest. */
    s->nh = (cfg->n_honest > 0 && cfg->n_honest <= n) ? cfg->n_honest : n;
    s->byz_state = cfg->byz_state;
    s->init = cfg->init;
    s->g = calloc(n * d, sizeof(float));
    s->base = calloc(d, sizeof(float));
    if (!s->g || !s->base) {
        free(s->g);
        free(s->base);
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static void server_ef_free(void *st)
{
    server_ef_t *s = st;
    if (s) {
        free(s->g);
        free(s->base);
    }
    free(s);
}

static int ef_shared_state(const server_ef_t *s, size_t i)
{
    return i >= s->nh && s->byz_state == BG_BYZ_STATE_LAST_HONEST;
}

/* The stored vector rank i's message is added to. */
static const float *ef_state(const server_ef_t *s, size_t i)
{
    if (ef_shared_state(s, i))
        return s->have_base ? s->base : s->g + (s->nh - 1) * s->d;
    return s->g + i * s->d;
}

static int ef_side_channel(const server_ef_t *s, size_t i)
{
    return s->init != BG_INIT_CLEAN && s->round == 0 && i < s->nh;
}

static void server_ef_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const server_ef_t *s = st;
    if (ef_side_channel(s, i)) {
        memset(out, 0, s->d * sizeof(float));
        return;
    }
    memcpy(out, ef_state(s, i), s->d * sizeof(float));
    bg_msg_add_to(msg, 1.0f, out);
}

static void server_ef_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    server_ef_t *s = st;
    if (i == s->nh - 1 && s->nh < s->n && s->byz_state == BG_BYZ_STATE_LAST_HONEST) {
        memcpy(s->base, s->g + i * s->d, s->d * sizeof(float));
        s->have_base = 1;
    }
    if (ef_side_channel(s, i)) {
        bg_msg_decode(msg, s->g + i * s->d);
        memset(view, 0, s->d * sizeof(float));
        return;
    }
    if (ef_shared_state(s, i)) {
        memcpy(view, ef_state(s, i), s->d * sizeof(float));
        bg_msg_add_to(msg, 1.0f, view);
        return;
    }
    float *gi = s->g + i * s->d;
    bg_msg_add_to(msg, 1.0f, gi);
    memcpy(view, gi, s->d * sizeof(float));
}

/* In a side-channel round the vector of an honest rank is 0 whatever it sends, so no message reaches a target
 * there; the dense target is returned (inverse is only used for Byzantine ranks, which never take that path). */
static void server_ef_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const server_ef_t *s = st;
    bg_msg_set_dense(out, target);
    if (ef_side_channel(s, j))
        return;
    const float *gj = ef_state(s, j);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] -= gj[k];
}

static void server_ef_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d)
{
    server_ef_t *s = st;
    const float lr = (float)cfg->lr;
    for (size_t k = 0; k < d; k++)
        x[k] -= lr * agg[k];
    s->round++;
    s->have_base = 0;
}

/* Stateless servers aggregate the decoded messages themselves. */
typedef struct {
    size_t n, d;
} server_plain_t;

static int server_plain_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    (void)cfg;
    server_plain_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    *st = s;
    return BG_OK;
}

static void server_plain_free(void *st) { free(st); }

static void server_plain_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    (void)st;
    (void)i;
    bg_msg_decode(msg, out);
}

static void server_plain_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    server_plain_view(st, i, msg, view);
}

static void server_plain_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    (void)st;
    (void)j;
    bg_msg_set_dense(out, target);
}

static void server_sgd_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d)
{
    (void)st;
    const float lr = (float)cfg->lr;
    for (size_t k = 0; k < d; k++)
        x[k] -= lr * agg[k];
}

/* DIANA: the server keeps every worker's shift h_i; the aggregator sees h_i + c_i, then h_i += alpha c_i. */
typedef struct {
    size_t n, d;
    float alpha;
    float *h;        /* n*d */
} server_diana_t;

/* alpha = cfg.alpha, or the textbook 1 / (omega + 1) of the uplink compressor ([S] uses 1/w = 0.01). */
static int diana_alpha(const bg_method_cfg_t *cfg, float *alpha)
{
    double a = cfg->alpha;
    if (a == 0.0) {
        if (!cfg->comp || !isfinite(cfg->comp->omega) || cfg->comp->omega < 0)
            return BG_EINVAL;
        a = 1.0 / (cfg->comp->omega + 1.0);
    }
    if (!(a > 0.0 && a <= 1.0))
        return BG_EINVAL;
    *alpha = (float)a;
    return BG_OK;
}

static int server_diana_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    float alpha;
    int rc = diana_alpha(cfg, &alpha);
    if (rc)
        return rc;
    server_diana_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    s->alpha = alpha;
    s->h = calloc(n * d, sizeof(float));
    if (!s->h) {
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static void server_diana_free(void *st)
{
    server_diana_t *s = st;
    if (s)
        free(s->h);
    free(s);
}

static void server_diana_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const server_diana_t *s = st;
    memcpy(out, s->h + i * s->d, s->d * sizeof(float));
    bg_msg_add_to(msg, 1.0f, out);
}

static void server_diana_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    server_diana_t *s = st;
    server_diana_view(s, i, msg, view);
    bg_msg_add_to(msg, s->alpha, s->h + i * s->d);
}

static void server_diana_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const server_diana_t *s = st;
    const float *hj = s->h + j * s->d;
    bg_msg_set_dense(out, target);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] -= hj[k];
}

/* ---- worker halves --------------------------------------------------------------------------------------- */

/* One state for every worker half here; each method allocates only the vectors it uses. */
enum { W_A = 1, W_B = 2, W_G = 4, W_X = 8, W_SP = 16 };

typedef struct {
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
} worker_t;

static void worker_free(void *st)
{
    worker_t *w = st;
    if (!w)
        return;
    free(w->s);
    free(w->t);
    free(w->a);
    free(w->b);
    free(w->g);
    free(w->xprev);
    free(w->sp);
    free(w);
}

static int worker_alloc(size_t d, unsigned mask, void **st)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return BG_ENOMEM;
    w->d = d;
    w->s = calloc(d, sizeof(float));
    w->t = calloc(d, sizeof(float));
    int ok = w->s && w->t;
    if (mask & W_A)
        ok = ok && (w->a = calloc(d, sizeof(float)));
    if (mask & W_B)
        ok = ok && (w->b = calloc(d, sizeof(float)));
    if (mask & W_G)
        ok = ok && (w->g = calloc(d, sizeof(float)));
    if (mask & W_X)
        ok = ok && (w->xprev = calloc(d, sizeof(float)));
    if (mask & W_SP)
        ok = ok && (w->sp = calloc(d, sizeof(float)));
    if (!ok) {
        worker_free(w);
        return BG_ENOMEM;
    }
    *st = w;
    return BG_OK;
}

static int worker_plain_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return worker_alloc(d, 0, st);
}

static int worker_a_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return worker_alloc(d, W_A, st);
}

static int worker_ef21_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return worker_alloc(d, W_G, st);
}

static int worker_mom_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return worker_alloc(d, W_A | W_G, st);
}

static int worker_dm_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return worker_alloc(d, W_A | W_B | W_G, st);
}

static int worker_vrdm_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return worker_alloc(d, W_A | W_B | W_G | W_X | W_SP, st);
}

static int worker_diana_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    float alpha;
    int rc = diana_alpha(cfg, &alpha);
    if (rc)
        return rc;
    rc = worker_alloc(d, W_A, st);
    if (!rc)
        ((worker_t *)*st)->alpha = alpha;
    return rc;
}

/* y <- (1 - eta) y + eta x */
static void ema(bg_worker_ctx_t *ctx, float *y, const float *x, double eta, size_t d)
{
    const float a = (float)(1.0 - eta), b = (float)eta;
    for (size_t k = 0; k < d; k++)
        y[k] = a * y[k] + b * x[k];
    ctx->flops += 3.0 * (double)d;
}

/* y <- scale * x: the first value of a momentum (scale 1 when clean, 1 - beta = eta under INIT_SCALED). */
static void first_value(const bg_method_cfg_t *cfg, float *y, const float *x, size_t d)
{
    const float scale = cfg->init == BG_INIT_SCALED ? (float)cfg->eta : 1.0f;
    for (size_t k = 0; k < d; k++)
        y[k] = scale * x[k];
}

/* EF21: c = C(target - g); g += c; send c. In the first round a non-clean init primes g instead and ships the
 * primed state billed as an empty message (see server_ef_t): SIDE_CHANNEL g = target (uncompressed),
 * SCALED g = C(target) (the caller has already scaled target's momentum by 1 - beta). */
static int ef21_send(const bg_method_cfg_t *cfg, worker_t *w, bg_worker_ctx_t *ctx, const float *target, int first,
                     bg_msg_t *out)
{
    const size_t d = w->d;
    if (first && cfg->init == BG_INIT_SIDE_CHANNEL) {
        memcpy(w->g, target, d * sizeof(float));
        bg_msg_set_dense(out, w->g);
        out->bytes = bg_msg_bytes_sparse(d, 0);
        return BG_OK;
    }
    if (first && cfg->init == BG_INIT_SCALED) {
        int rc = bg_worker_compress(ctx, target, out);
        if (rc)
            return rc;
        memset(w->g, 0, d * sizeof(float));
        bg_msg_add_to(out, 1.0f, w->g);
        out->bytes = bg_msg_bytes_sparse(d, 0);
        return BG_OK;
    }
    for (size_t k = 0; k < d; k++)
        w->t[k] = target[k] - w->g[k];
    ctx->flops += (double)d;
    int rc = bg_worker_compress(ctx, w->t, out);
    if (rc)
        return rc;
    bg_msg_add_to(out, 1.0f, w->g);
    ctx->flops += (double)out->nnz;
    return BG_OK;
}

/* Byz-EF21-SGDM: v <- s first (eta s under INIT_SCALED), then v <- (1 - eta) v + eta s; EF21 on v. */
static int ef21_sgdm_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                  const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    const int first = !w->started;
    if (first)
        first_value(cfg, w->a, w->s, w->d);
    else
        ema(ctx, w->a, w->s, cfg->eta, w->d);
    w->started = 1;
    return ef21_send(cfg, w, ctx, w->a, first, out);
}

/* Momentum SGD: v <- s first (ALGORITHMS.md 2.4), then the EMA; send C(v) (identity: uncompressed). */
static int mom_sgd_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    if (!w->started)
        memcpy(w->a, w->s, w->d * sizeof(float));
    else
        ema(ctx, w->a, w->s, cfg->eta, w->d);
    w->started = 1;
    return bg_worker_compress(ctx, w->a, out);
}

/* SGD and BR-CSGD: send C(s). */
static int sgd_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                            const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    return bg_worker_compress(ctx, w->s, out);
}

/* BR-DIANA: c = C(s - h); h += alpha c; send c (the server vector h + c is unbiased for s). */
static int diana_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                              const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    for (size_t k = 0; k < w->d; k++)
        w->t[k] = w->s[k] - w->a[k];
    ctx->flops += (double)w->d;
    int rc = bg_worker_compress(ctx, w->t, out);
    if (rc)
        return rc;
    bg_msg_add_to(out, w->alpha, w->a);
    ctx->flops += 2.0 * (double)out->nnz;
    return BG_OK;
}

/* EF-SGD: u = s + e; c = C(u); e = u - c; send c. The server adds c once ([S] adds it twice, a bug). */
static int ef_sgd_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                               const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    for (size_t k = 0; k < w->d; k++)
        w->t[k] = w->s[k] + w->a[k];
    ctx->flops += (double)w->d;
    int rc = bg_worker_compress(ctx, w->t, out);
    if (rc)
        return rc;
    memcpy(w->a, w->t, w->d * sizeof(float));
    bg_msg_add_to(out, -1.0f, w->a);
    ctx->flops += (double)out->nnz;
    return BG_OK;
}

/* Byz-EF21 ([R] 4.1): EF21 on the full local gradient. */
static int ef21_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                             const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_full_grad(ctx, x, w->s);
    const int first = !w->started;
    w->started = 1;
    return ef21_send(cfg, w, ctx, w->s, first, out);
}

/* Byz-DM21 (5.1, paper level): u <- (1 - eta) u + eta s; w <- (1 - eta) w + eta u; EF21 on w. Both momenta
 * start at the first gradient (u = w = s, as [D]'s first call), or u = eta s, w = eta u under INIT_SCALED. */
static int dm_finish(const bg_method_cfg_t *cfg, worker_t *w, bg_worker_ctx_t *ctx, int first, bg_msg_t *out)
{
    if (first)
        first_value(cfg, w->b, w->a, w->d);
    else
        ema(ctx, w->b, w->a, cfg->eta, w->d);
    return ef21_send(cfg, w, ctx, w->b, first, out);
}

static int dm21_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                             const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    const int first = !w->started;
    if (first)
        first_value(cfg, w->a, w->s, w->d);
    else
        ema(ctx, w->a, w->s, cfg->eta, w->d);
    w->started = 1;
    return dm_finish(cfg, w, ctx, first, out);
}

/* Byz-VR-DM21 (5.2, paper level): STORM on the same minibatch at x^t and x^{t-1},
 * u <- grad(x^t; xi) + (1 - eta)(u - grad(x^{t-1}; xi)), then the second EMA and EF21 as in Byz-DM21. */
static int vr_dm21_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                const float *x, bg_msg_t *out)
{
    (void)round;
    worker_t *w = st;
    const size_t d = w->d;
    const int first = !w->started;
    if (first) {
        bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
        first_value(cfg, w->a, w->s, d);
    } else {
        bg_worker_stoch_grad2(ctx, x, w->xprev, cfg->batch, w->s, w->sp);
        const float beta = (float)(1.0 - cfg->eta);
        for (size_t k = 0; k < d; k++)
            w->a[k] = w->s[k] + beta * (w->a[k] - w->sp[k]);
        ctx->flops += 3.0 * (double)d;
    }
    w->started = 1;
    memcpy(w->xprev, x, d * sizeof(float));
    return dm_finish(cfg, w, ctx, first, out);
}

/* ---- the methods ----------------------------------------------------------------------------------------- */

#define EF_SERVER                                                                                            \
    .server_new = server_ef_new, .server_free = server_ef_free, .server_view = server_ef_view,              \
    .server_collect = server_ef_collect, .server_inverse = server_ef_inverse, .server_step = server_ef_step
#define PLAIN_SERVER                                                                                         \
    .server_new = server_plain_new, .server_free = server_plain_free, .server_view = server_plain_view,     \
    .server_collect = server_plain_collect, .server_inverse = server_plain_inverse,                          \
    .server_step = server_sgd_step

const bg_method_ops_t bg_method_ef21_sgdm = {
    .name = "byz-ef21-sgdm",
    .summary = "Byz-EF21-SGDM (compressed momentum filtering): worker momentum, EF21 compressed differences, "
               "server filters the g_i of all workers",
    .reconstructed = 0,
    .worker_new = worker_mom_new,
    .worker_free = worker_free,
    .worker_round = ef21_sgdm_worker_round,
    EF_SERVER,
};

const bg_method_ops_t bg_method_mom_sgd = {
    .name = "mom-sgd",
    .default_compressor = "identity",
    .summary = "momentum SGD baseline: workers send their Polyak momentum C(v) (identity: uncompressed), "
               "server aggregates the messages",
    .reconstructed = 0,
    .worker_new = worker_a_new,
    .worker_free = worker_free,
    .worker_round = mom_sgd_worker_round,
    PLAIN_SERVER,
};

const bg_method_ops_t bg_method_sgd = {
    .name = "sgd",
    .default_compressor = "identity",
    .summary = "SGD baseline: workers send C(s) of a fresh minibatch gradient (identity: uncompressed), "
               "server aggregates the messages",
    .reconstructed = 0,
    .worker_new = worker_plain_new,
    .worker_free = worker_free,
    .worker_round = sgd_worker_round,
    PLAIN_SERVER,
};

const bg_method_ops_t bg_method_br_csgd = {
    .name = "br-csgd",
    .default_compressor = "randk",
    .summary = "BR-CSGD: workers send C(s) with an unbiased compressor, server aggregates the messages",
    .reconstructed = 0,
    .needs_unbiased = 1,
    .worker_new = worker_plain_new,
    .worker_free = worker_free,
    .worker_round = sgd_worker_round,
    PLAIN_SERVER,
};

const bg_method_ops_t bg_method_br_diana = {
    .name = "br-diana",
    .default_compressor = "randk",
    .summary = "BR-DIANA: workers send C(s - h) and shift h += alpha c (alpha = 1/(omega+1) unless set), "
               "server aggregates h_i + c_i",
    .reconstructed = 0,
    .needs_unbiased = 1,
    .worker_new = worker_diana_new,
    .worker_free = worker_free,
    .worker_round = diana_worker_round,
    .server_new = server_diana_new,
    .server_free = server_diana_free,
    .server_view = server_diana_view,
    .server_collect = server_diana_collect,
    .server_inverse = server_diana_inverse,
    .server_step = server_sgd_step,
};

const bg_method_ops_t bg_method_ef_sgd = {
    .name = "ef-sgd",
    .summary = "EF-SGD (the [S] 'EF-Sto-SIGNSGD'): workers send C(s + e) and keep the error e, "
               "server aggregates the messages (no x2)",
    .reconstructed = 0,
    .worker_new = worker_a_new,
    .worker_free = worker_free,
    .worker_round = ef_sgd_worker_round,
    PLAIN_SERVER,
};

const bg_method_ops_t bg_method_byz_ef21 = {
    .name = "byz-ef21",
    .summary = "Byz-EF21: EF21 compressed differences of full local gradients, server filters the g_i",
    .reconstructed = 0,
    .worker_new = worker_ef21_new,
    .worker_free = worker_free,
    .worker_round = ef21_worker_round,
    EF_SERVER,
};

const bg_method_ops_t bg_method_byz_dm21 = {
    .name = "byz-dm21",
    .summary = "Byz-DM21 (paper-level reading): double momentum (EMA of an EMA) with EF21 compressed "
               "differences, server filters the g_i",
    .reconstructed = 1,
    .worker_new = worker_dm_new,
    .worker_free = worker_free,
    .worker_round = dm21_worker_round,
    EF_SERVER,
};

const bg_method_ops_t bg_method_byz_vr_dm21 = {
    .name = "byz-vr-dm21",
    .summary = "Byz-VR-DM21 (paper-level reading): STORM momentum on one minibatch at x^t and x^{t-1}, a "
               "second EMA, EF21 compressed differences, server filters the g_i",
    .reconstructed = 1,
    .worker_new = worker_vrdm_new,
    .worker_free = worker_free,
    .worker_round = vr_dm21_worker_round,
    EF_SERVER,
};
