/* Worker and server halves that several method families share: the worker state, the momentum updates, the
 * per-worker shift server (DIANA's h_i, DASHA's and EF21-BC's g_i) and the plain SGD step. */
#include "method_internal.h"

#include <stdlib.h>
#include <string.h>

float *bg_method_vec_new(size_t d) { return calloc(d ? d : 1, sizeof(float)); }

/* ---- worker state ------------------------------------------------------------------------------------ */

void bg_method_worker_free(void *st)
{
    bg_method_worker_t *w = st;
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

int bg_method_worker_new(size_t d, unsigned mask, void **st)
{
    bg_method_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return BG_ENOMEM;
    w->d = d;
    w->s = calloc(d, sizeof(float));
    w->t = calloc(d, sizeof(float));
    int ok = w->s && w->t;
    if (mask & BG_W_A)
        ok = ok && (w->a = calloc(d, sizeof(float)));
    if (mask & BG_W_B)
        ok = ok && (w->b = calloc(d, sizeof(float)));
    if (mask & BG_W_G)
        ok = ok && (w->g = calloc(d, sizeof(float)));
    if (mask & BG_W_X)
        ok = ok && (w->xprev = calloc(d, sizeof(float)));
    if (mask & BG_W_SP)
        ok = ok && (w->sp = calloc(d, sizeof(float)));
    if (!ok) {
        bg_method_worker_free(w);
        return BG_ENOMEM;
    }
    *st = w;
    return BG_OK;
}

void bg_method_ema(bg_worker_ctx_t *ctx, float *y, const float *x, double eta, size_t d)
{
    const float a = (float)(1.0 - eta), b = (float)eta;
    for (size_t k = 0; k < d; k++)
        y[k] = a * y[k] + b * x[k];
    ctx->flops += 3.0 * (double)d;
}

void bg_method_first_value(const bg_method_cfg_t *cfg, float *y, const float *x, size_t d)
{
    const float scale = cfg->init == BG_INIT_SCALED ? (float)cfg->eta : 1.0f;
    for (size_t k = 0; k < d; k++)
        y[k] = scale * x[k];
}

/* ---- servers ----------------------------------------------------------------------------------------- */

void bg_method_sgd_step(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d)
{
    (void)st;
    const float lr = (float)cfg->lr;
    for (size_t k = 0; k < d; k++)
        x[k] -= lr * agg[k];
}

int bg_method_shift_new(size_t n, size_t d, float alpha, void **st)
{
    bg_method_shift_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->n = n;
    s->d = d;
    s->alpha = alpha;
    s->h = calloc(n * d + 1, sizeof(float));
    if (!s->h) {
        free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

void bg_method_shift_free(void *st)
{
    bg_method_shift_t *s = st;
    if (!s)
        return;
    free(s->h);
    free(s->w);
    free(s->t);
    free(s);
}

void bg_method_shift_view(const void *st, size_t i, const bg_msg_t *msg, float *out)
{
    const bg_method_shift_t *s = st;
    memcpy(out, s->h + i * s->d, s->d * sizeof(float));
    bg_msg_add_to(msg, 1.0f, out);
}

/* With alpha = 1 the stored h_i + c_i is computed exactly as the view was, so the two stay bit-equal. */
void bg_method_shift_collect(void *st, size_t i, const bg_msg_t *msg, float *view)
{
    bg_method_shift_t *s = st;
    bg_method_shift_view(s, i, msg, view);
    bg_msg_add_to(msg, s->alpha, s->h + i * s->d);
}

void bg_method_shift_inverse(const void *st, size_t j, const float *target, bg_msg_t *out)
{
    const bg_method_shift_t *s = st;
    const float *hj = s->h + j * s->d;
    bg_msg_set_dense(out, target);
    for (size_t k = 0; k < s->d; k++)
        out->val[k] -= hj[k];
}

const float *bg_method_worker_g(const void *st) { return ((const bg_method_worker_t *)st)->g; }
const float *bg_method_worker_a(const void *st) { return ((const bg_method_worker_t *)st)->a; }
const float *bg_method_shift_mirror(const void *st, size_t i)
{
    const bg_method_shift_t *s = st;
    return s->h + i * s->d;
}
