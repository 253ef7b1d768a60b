/* Methods: Byz-EF21-SGDM (worker Polyak momentum, EF21-compressed differences, server keeps g_i for every worker)
 * and uncompressed momentum SGD as the baseline. Each is a worker half and a server half (see bg_method.h). */
#include "bg_method.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bg_worker_stoch_grad(bg_worker_ctx_t *ctx, const float *x, size_t b, float *grad)
{
    bg_sampler_next(ctx->sampler, ctx->rng, b, ctx->batch_idx);
    ctx->last_loss = ctx->model->ops->loss_grad(ctx->model, x, ctx->ds->X, ctx->labels, ctx->batch_idx, b, grad);
    ctx->flops += (double)b * ctx->model->ops->flops_per_sample(ctx->model);
}

int bg_worker_compress(bg_worker_ctx_t *ctx, const float *x, bg_msg_t *out)
{
    ctx->flops += ctx->comp->ops->flops(ctx->comp);
    return ctx->comp->ops->compress(ctx->comp, x, ctx->crng, out);
}

/* ---- shared server halves ---------------------------------------------------------------------------- */

/* Stateful servers keep one vector per worker (EF21's g_i); the aggregator sees g_i + c_i. */
typedef struct {
    size_t n, d;
    float *g;        /* n*d */
} server_ef_t;

static int server_ef_new(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st)
{
    (void)cfg;
    server_ef_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    s->g = calloc(n * d, sizeof(float));
    if (!s->g) {
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static void server_ef_free(void *st)
{
    server_ef_t *s = st;
    if (s)
        free(s->g);
    free(s);
}

static void server_ef_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const server_ef_t *s = st;
    memcpy(out, s->g + i * s->d, s->d * sizeof(float));
    bg_msg_add_to(msg, 1.0f, out);
}

static void server_ef_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    server_ef_t *s = st;
    float *gi = s->g + i * s->d;
    bg_msg_add_to(msg, 1.0f, gi);
    memcpy(view, gi, s->d * sizeof(float));
}

static void server_ef_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const server_ef_t *s = st;
    const float *gj = s->g + j * s->d;
    bg_msg_set_dense(out, target);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] -= gj[k];
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

/* ---- worker state shared by the momentum methods ----------------------------------------------------- */

typedef struct {
    size_t d;
    int started;
    float *v;        /* Polyak momentum (EMA weight eta on the new gradient) */
    float *g;        /* EF21 estimate mirrored by the server (unused by mom-sgd) */
    float *s;        /* scratch: stochastic gradient */
    float *t;        /* scratch: vector to compress */
} worker_mom_t;

static int worker_mom_new(const bg_method_cfg_t *cfg, size_t d, void **st)
{
    (void)cfg;
    worker_mom_t *w = calloc(1, sizeof *w);
    if (!w)
        return BG_ENOMEM;
    w->d = d;
    w->v = calloc(d, sizeof(float));
    w->g = calloc(d, sizeof(float));
    w->s = calloc(d, sizeof(float));
    w->t = calloc(d, sizeof(float));
    if (!w->v || !w->g || !w->s || !w->t) {
        free(w->v);
        free(w->g);
        free(w->s);
        free(w->t);
        free(w);
        return BG_ENOMEM;
    }
    *st = w;
    return BG_OK;
}

static void worker_mom_free(void *st)
{
    worker_mom_t *w = st;
    if (!w)
        return;
    free(w->v);
    free(w->g);
    free(w->s);
    free(w->t);
    free(w);
}

/* v <- s on the first round (the momentum starts at the first gradient, ALGORITHMS.md 2.4), then
 * v <- (1 - eta) v + eta s. */
static void momentum_update(const bg_method_cfg_t *cfg, worker_mom_t *w, bg_worker_ctx_t *ctx, const float *x)
{
    bg_worker_stoch_grad(ctx, x, cfg->batch, w->s);
    if (!w->started) {
        memcpy(w->v, w->s, w->d * sizeof(float));
        w->started = 1;
    } else {
        const float a = (float)(1.0 - cfg->eta), b = (float)cfg->eta;
        for (size_t k = 0; k < w->d; k++)
            w->v[k] = a * w->v[k] + b * w->s[k];
        ctx->flops += 3.0 * (double)w->d;
    }
}

/* Byz-EF21-SGDM: c = C(v - g); g += c; send c. g starts at 0 on both sides (clean EF21, ALGORITHMS.md 2.4). */
static int ef21_sgdm_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                  const float *x, bg_msg_t *out)
{
    (void)round;
    worker_mom_t *w = st;
    momentum_update(cfg, w, ctx, x);
    for (size_t k = 0; k < w->d; k++)
        w->t[k] = w->v[k] - w->g[k];
    ctx->flops += (double)w->d;
    int rc = bg_worker_compress(ctx, w->t, out);
    if (rc)
        return rc;
    bg_msg_add_to(out, 1.0f, w->g);
    ctx->flops += (double)out->nnz;
    return BG_OK;
}

/* Momentum SGD: send C(v) (identity by default, so the baseline is uncompressed). */
static int mom_sgd_worker_round(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round,
                                const float *x, bg_msg_t *out)
{
    (void)round;
    worker_mom_t *w = st;
    momentum_update(cfg, w, ctx, x);
    return bg_worker_compress(ctx, w->v, out);
}

static const bg_method_ops_t method_ef21_sgdm = {
    .name = "byz-ef21-sgdm",
    .summary = "Byz-EF21-SGDM (compressed momentum filtering): worker momentum, EF21 compressed differences, "
               "server filters the g_i of all workers",
    .reconstructed = 0,
    .worker_new = worker_mom_new,
    .worker_free = worker_mom_free,
    .worker_round = ef21_sgdm_worker_round,
    .server_new = server_ef_new,
    .server_free = server_ef_free,
    .server_view = server_ef_view,
    .server_collect = server_ef_collect,
    .server_inverse = server_ef_inverse,
    .server_step = server_sgd_step,
};

static const bg_method_ops_t method_mom_sgd = {
    .name = "mom-sgd",
    .summary = "momentum SGD baseline: workers send their Polyak momentum C(v) (identity: uncompressed), "
               "server aggregates the messages",
    .reconstructed = 0,
    .worker_new = worker_mom_new,
    .worker_free = worker_mom_free,
    .worker_round = mom_sgd_worker_round,
    .server_new = server_plain_new,
    .server_free = server_plain_free,
    .server_view = server_plain_view,
    .server_collect = server_plain_collect,
    .server_inverse = server_plain_inverse,
    .server_step = server_sgd_step,
};

const bg_method_ops_t *const bg_method_registry[] = {&method_ef21_sgdm, &method_mom_sgd, NULL};

const bg_method_ops_t *bg_method_find(const char *name)
{
    for (size_t i = 0; bg_method_registry[i]; i++)
        if (strcmp(bg_method_registry[i]->name, name) == 0)
            return bg_method_registry[i];
    return NULL;
}
