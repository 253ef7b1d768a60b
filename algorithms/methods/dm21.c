/* The double-momentum methods as worker halves on the EF21 server: Byz-DM21 and its STORM variant Byz-VR-DM21
 * (paper-level readings of [D]; docs/references.md). */
#include "method_internal.h"

#include <string.h>

static int worker_dm_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return bg_method_worker_new(d, BG_W_A | BG_W_B | BG_W_G, st);
}

static int worker_vrdm_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return bg_method_worker_new(d, BG_W_A | BG_W_B | BG_W_G | BG_W_X | BG_W_SP, st);
}

/* Byz-DM21 (5.1, paper level): u <- (1 - eta) u + eta s; w <- (1 - eta) w + eta u; EF21 on w. Both momenta
 * start at the first gradient (u = w = s, as [D]'s first call), or u = eta s, w = eta u under INIT_SCALED. */
static int dm_finish(const bg_method_cfg_t *cfg, bg_method_worker_t *w, bg_worker_ctx_t *ctx, int first, bg_msg_t *out)
{
    if (first)
        bg_method_first_value(cfg, w->b, w->a, w->d);
    else
        bg_method_ema(ctx, w->b, w->a, cfg->eta, w->d);
    return bg_ef21_send(cfg, w, ctx, w->b, first, out);
}

static int dm21_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                             const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    const int first = !w->started;
    if (first)
        bg_method_first_value(cfg, w->a, w->s, w->d);
    else
        bg_method_ema(ctx, w->a, w->s, cfg->eta, w->d);
    w->started = 1;
    return dm_finish(cfg, w, ctx, first, out);
}

/* Byz-VR-DM21 (5.2, paper level): STORM on the same minibatch at x^t and x^{t-1},
 * u <- grad(x^t; xi) + (1 - eta)(u - grad(x^{t-1}; xi)), then the second EMA and EF21 as in Byz-DM21. */
static int vr_dm21_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
    const size_t d = w->d;
    const int first = !w->started;
    if (first) {
        bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
        bg_method_first_value(cfg, w->a, w->s, d);
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

const bg_method_ops_t bg_method_byz_dm21 = {
    .name = "byz-dm21",
    .summary = "Byz-DM21 (paper-level reading): double momentum (EMA of an EMA) with EF21 compressed "
               "differences, server filters the g_i",
    .reconstructed = 1,
    .worker_new = worker_dm_new,
    .worker_free = bg_method_worker_free,
    .worker_round = dm21_worker_round,
    BG_EF21_SERVER,
};

const bg_method_ops_t bg_method_byz_vr_dm21 = {
    .name = "byz-vr-dm21",
    .summary = "Byz-VR-DM21 (paper-level reading): STORM momentum on one minibatch at x^t and x^{t-1}, a "
               "second EMA, EF21 compressed differences, server filters the g_i",
    .reconstructed = 1,
    .worker_new = worker_vrdm_new,
    .worker_free = bg_method_worker_free,
    .worker_round = vr_dm21_worker_round,
    BG_EF21_SERVER,
};
