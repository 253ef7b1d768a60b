/* The method registry and the helpers every worker half charges its work through (gradients, compression).
 * The methods live one family a file: ef21.c, dm21.c, baselines.c, vr.c and rosdhb.c (list in method_internal.h). */
#include "method_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bg_worker_stoch_grad(bg_worker_ctx_t *ctx, const float *x, size_t b, float *grad)
{
    bg_sampler_next(ctx->sampler, ctx->rng, b, ctx->batch_idx);
    ctx->last_loss = ctx->model->ops->loss_grad(ctx->model, x, ctx->ds->X, ctx->labels, ctx->batch_idx, b, grad);
    ctx->flops += (double)b * ctx->model->ops->flops_per_sample(ctx->model);
}

void bg_worker_stoch_grad2(bg_worker_ctx_t *ctx, const float *x, const float *x_prev, size_t b, float *g,
                           float *g_prev)
{
    bg_sampler_next(ctx->sampler, ctx->rng, b, ctx->batch_idx);
    const bg_model_t *m = ctx->model;
    ctx->last_loss = m->ops->loss_grad(m, x, ctx->ds->X, ctx->labels, ctx->batch_idx, b, g);
    m->ops->loss_grad(m, x_prev, ctx->ds->X, ctx->labels, ctx->batch_idx, b, g_prev);
    ctx->flops += 2.0 * (double)b * m->ops->flops_per_sample(m);
}

void bg_worker_full_grad(bg_worker_ctx_t *ctx, const float *x, float *grad)
{
    const bg_model_t *m = ctx->model;
    ctx->last_loss = bg_model_loss_grad_all(m, x, ctx->ds->X, ctx->labels, ctx->shard->idx, ctx->shard->n, grad,
                                            ctx->scratch);
    ctx->flops += (double)ctx->shard->n * m->ops->flops_per_sample(m);
}

int bg_worker_compress(bg_worker_ctx_t *ctx, const float *x, bg_msg_t *out)
{
    ctx->flops += ctx->comp->ops->flops(ctx->comp);
    bg_comp_rngs_t r = {ctx->crng, ctx->shared};
    return ctx->comp->ops->compress(ctx->comp, x, &r, out);
}

const bg_method_ops_t *const bg_method_registry[] = {
    &bg_method_ef21_sgdm,
    &bg_method_mom_sgd,
    &bg_method_sgd,
    &bg_method_br_csgd,
    &bg_method_br_diana,
    &bg_method_ef_sgd,
    &bg_method_byz_ef21,
    &bg_method_byz_dm21,
    &bg_method_byz_vr_dm21,
    &bg_method_byz_vr_marina,
    &bg_method_byz_dasha_page,
    &bg_method_rosdhb,
    &bg_method_byz_ef21_bc,
    NULL,
};

BG_REGISTRY_DEFINE(bg_methods, "method", bg_method_registry, bg_method_ops_t, bg_method_find)

