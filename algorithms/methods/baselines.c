/* The baselines the EF21 family is compared against, as worker/server halves: SGD, momentum SGD, BR-CSGD,
 * BR-DIANA and EF-SGD (after [S] and [R]; docs/references.md). */
#include "method_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- server halves ------------------------------------------------------------------------------------- */

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

/* DIANA: the server keeps every worker's shift h_i; the aggregator sees h_i + c_i, then h_i += alpha c_i. */
static int server_diana_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    float alpha;
    int rc = diana_alpha(cfg, &alpha);
    if (rc)
        return rc;
    return bg_method_shift_new(n, d, alpha, st);
}

/* ---- worker halves --------------------------------------------------------------------------------------- */

static int worker_plain_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return bg_method_worker_new(d, 0, st);
}

static int worker_a_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return bg_method_worker_new(d, BG_W_A, st);
}

static int worker_diana_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    float alpha;
    int rc = diana_alpha(cfg, &alpha);
    if (rc)
        return rc;
    rc = bg_method_worker_new(d, BG_W_A, st);
    if (!rc)
        ((bg_method_worker_t *)*st)->alpha = alpha;
    return rc;
}

/* Momentum SGD: v <- s first (the clean start, as for byz-ef21-sgdm), then the EMA; send C(v) (identity: uncompressed). */
static int mom_sgd_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    if (!w->started)
        memcpy(w->a, w->s, w->d * sizeof(float));
    else
        bg_method_ema(ctx, w->a, w->s, cfg->eta, w->d);
    w->started = 1;
    return bg_worker_compress(ctx, w->a, out);
}

/* SGD and BR-CSGD: send C(s). */
static int sgd_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                            const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    return bg_worker_compress(ctx, w->s, out);
}

/* BR-DIANA: c = C(s - h); h += alpha c; send c (the server vector h + c is unbiased for s). */
static int diana_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                              const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
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
    bg_method_worker_t *w = st;
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

/* ---- the methods ----------------------------------------------------------------------------------------- */

#define PLAIN_SERVER                                                                                         \
    .server_new = server_plain_new, .server_free = server_plain_free, .server_view = server_plain_view,     \
    .server_collect = server_plain_collect, .server_inverse = server_plain_inverse,                          \
    .server_step = bg_method_sgd_step

const bg_method_ops_t bg_method_mom_sgd = {
    .name = "mom-sgd",
    .default_compressor = "identity",
    .summary = "momentum SGD baseline: workers send their Polyak momentum C(v) (identity: uncompressed), "
               "server aggregates the messages",
    .reconstructed = 0,
    .worker_new = worker_a_new,
    .worker_free = bg_method_worker_free,
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
    .worker_free = bg_method_worker_free,
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
    .worker_free = bg_method_worker_free,
    .worker_round = sgd_worker_round,
    PLAIN_SERVER,
};

const bg_method_ops_t bg_method_br_diana = {
    .name = "br-diana",
    .mirrored = 1,
    .worker_mirror = bg_method_worker_a,
    .server_mirror = bg_method_shift_mirror,
    .default_compressor = "randk",
    .summary = "BR-DIANA: workers send C(s - h) and shift h += alpha c (alpha = 1/(omega+1) unless set), "
               "server aggregates h_i + c_i",
    .reconstructed = 0,
    .needs_unbiased = 1,
    .worker_new = worker_diana_new,
    .worker_free = bg_method_worker_free,
    .worker_round = diana_worker_round,
    .server_new = server_diana_new,
    .server_free = bg_method_shift_free,
    .server_view = bg_method_shift_view,
    .server_collect = bg_method_shift_collect,
    .server_inverse = bg_method_shift_inverse,
    .server_step = bg_method_sgd_step,
};

const bg_method_ops_t bg_method_ef_sgd = {
    .name = "ef-sgd",
    .summary = "EF-SGD (the [S] 'EF-Sto-SIGNSGD'): workers send C(s + e) and keep the error e, "
               "server aggregates the messages (no x2)",
    .reconstructed = 0,
    .worker_new = worker_a_new,
    .worker_free = bg_method_worker_free,
    .worker_round = ef_sgd_worker_round,
    PLAIN_SERVER,
};
