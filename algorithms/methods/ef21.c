/* The EF21 family as worker/server halves: Byz-EF21-SGDM, Byz-EF21 and Byz-EF21-BC ([S], [R] and the
 * Byz-EF21-BC paper of [R]; docs/references.md), with the EF21 server and compressed-difference step that Byz-DM21 and Byz-VR-DM21 reuse. */
#include "method_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the EF21 server ----------------------------------------------------------------------------------- */

/* EF21 servers keep one vector per worker (g_i); the aggregator sees g_i + c_i.
 *
 * byz_state = LAST_HONEST reproduces [S] (server.py, update_gradient): the server keeps no state for Byzantine
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

int bg_ef21_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
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

void bg_ef21_server_free(void *st)
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

const float *bg_ef21_server_mirror(const void *st, size_t i)
{
    const server_ef_t *s = st;
    return s->g + i * s->d;
}

void bg_ef21_server_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const server_ef_t *s = st;
    if (ef_side_channel(s, i)) {
        memset(out, 0, s->d * sizeof(float));
        return;
    }
    memcpy(out, ef_state(s, i), s->d * sizeof(float));
    bg_msg_add_to(msg, 1.0f, out);
}

void bg_ef21_server_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
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
void bg_ef21_server_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const server_ef_t *s = st;
    bg_msg_set_dense(out, target);
    if (ef_side_channel(s, j))
        return;
    const float *gj = ef_state(s, j);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] -= gj[k];
}

void bg_ef21_server_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d)
{
    server_ef_t *s = st;
    bg_method_sgd_step(cfg, st, agg, x, d);
    s->round++;
    s->have_base = 0;
}

/* ---- the EF21 worker step ------------------------------------------------------------------------------ */

int bg_ef21_send(const bg_method_cfg_t *cfg, bg_method_worker_t *w, bg_worker_ctx_t *ctx, const float *target,
                 int first, bg_msg_t *out)
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

/* ---- Byz-EF21-SGDM and Byz-EF21 ------------------------------------------------------------------------ */

static int worker_ef21_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return bg_method_worker_new(d, BG_W_G, st);
}

static int worker_mom_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    return bg_method_worker_new(d, BG_W_A | BG_W_G, st);
}

/* Byz-EF21-SGDM: v <- s first (eta s under INIT_SCALED), then v <- (1 - eta) v + eta s; EF21 on v. */
static int ef21_sgdm_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
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
    return bg_ef21_send(cfg, w, ctx, w->a, first, out);
}

/* Byz-EF21 ([R] 4.1): EF21 on the full local gradient. */
static int ef21_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                             const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
    bg_worker_full_grad(ctx, x, w->s);
    const int first = !w->started;
    w->started = 1;
    return bg_ef21_send(cfg, w, ctx, w->s, first, out);
}

const bg_method_ops_t bg_method_ef21_sgdm = {
    .name = "byz-ef21-sgdm",
    .summary = "Byz-EF21-SGDM (compressed momentum filtering): worker momentum, EF21 compressed differences, "
               "server filters the g_i of all workers",
    .reconstructed = 0,
    .worker_new = worker_mom_new,
    .worker_free = bg_method_worker_free,
    .worker_round = ef21_sgdm_worker_round,
    BG_EF21_SERVER,
};

const bg_method_ops_t bg_method_byz_ef21 = {
    .name = "byz-ef21",
    .summary = "Byz-EF21: EF21 compressed differences of full local gradients, server filters the g_i",
    .reconstructed = 0,
    .worker_new = worker_ef21_new,
    .worker_free = bg_method_worker_free,
    .worker_round = ef21_worker_round,
    BG_EF21_SERVER,
};

/* ---- Byz-EF21-BC ([R] paper 4.5, reconstructed: not in the [R] code) --------------------------------- */

/* Uplink: Byz-EF21 on full local gradients, clean start (g_i = 0 on both sides, first message C(grad f_i)).
 * Downlink: the server keeps w, broadcasts b = C_down(x - w) and sets w += b; every worker applies the same b to
 * its copy and evaluates at w. Both copies start at w = 0 (whatever the engine put in the worker's buffer), so
 * the first broadcast is C_down(x^0). */
static int ef21bc_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                               const float *x, bg_msg_t *out)
{
    (void)round;
    bg_method_worker_t *w = st;
    bg_worker_full_grad(ctx, x, w->s);
    return bg_ef21_send(cfg, w, ctx, w->s, 0, out);   /* never `first`: cfg->init does not apply here */
}

static void ef21bc_worker_receive(const bg_method_cfg_t *cfg, void *wst, const bg_msg_t *down, float *model)
{
    (void)cfg;
    bg_method_worker_t *w = wst;
    if (!w->started) {
        memset(model, 0, w->d * sizeof(float));
        w->started = 1;
    }
    bg_msg_add_to(down, 1.0f, model);
}

static int ef21bc_server_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    (void)cfg;
    int rc = bg_method_shift_new(n, d, 1.0f, st);
    if (rc)
        return rc;
    bg_method_shift_t *s = *st;
    s->w = bg_method_vec_new(d);
    s->t = bg_method_vec_new(d);
    if (!s->w || !s->t) {
        bg_method_shift_free(s);
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
    bg_method_shift_t *s = st;
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
    .mirrored = 1,
    .worker_mirror = bg_method_worker_g,
    .server_mirror = bg_method_shift_mirror,
    .summary = "Byz-EF21-BC [R] (reconstructed): Byz-EF21 uplink on full local gradients, EF21-compressed "
               "model broadcast b = C_down(x - w), workers evaluate at w",
    .reconstructed = 1,
    .worker_models = 1,
    .worker_new = worker_ef21_new,
    .worker_free = bg_method_worker_free,
    .worker_round = ef21bc_worker_round,
    .server_new = ef21bc_server_new,
    .server_free = bg_method_shift_free,
    .server_view = bg_method_shift_view,
    .server_collect = bg_method_shift_collect,
    .server_inverse = bg_method_shift_inverse,
    .server_step = bg_method_sgd_step,
    .server_broadcast = ef21bc_broadcast,
    .worker_receive = ef21bc_worker_receive,
};
