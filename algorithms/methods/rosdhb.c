/* RoSDHB ([Q], Gupta et al.) as worker/server halves: one stochastic gradient on a shared global rand-k mask
 * (values only on the wire) and per-worker momentum kept by the server (as in [Q]'s code). */
#include "method_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    w->s = bg_method_vec_new(d);
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
    .server_step = bg_method_sgd_step,
};
