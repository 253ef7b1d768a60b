/* Neural models: a multilayer perceptron ("mlp"), the reference code's CNNMNIST ("cnn") and LeNet-5 ("lenet5"),
 * assembled from the batch-wide layers of model_layers.c into one flat PyTorch-ordered parameter vector. */
#include "model_internal.h"
#include "bg_pool.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of a batch are processed in blocks of NN_BLOCK so the scratch is bounded whatever the batch (a
 * full-shard gradient would otherwise need hundreds of MB of im2col buffers). */
enum { NN_BLOCK = 256, NN_MAX_CONV = 2, NN_MAX_FC = BG_MODEL_MAX_HIDDEN + 1, NN_MAX_T = 2 * (NN_MAX_CONV + NN_MAX_FC) };

typedef struct {
    bg_nn_conv_t g;
    size_t hp, wp;        /* pooled size */
    size_t wo_off, bo_off;/* offsets of the weight and bias tensors in the parameter vector */
} nn_conv_t;

typedef struct {
    size_t in, out, wo_off, bo_off;
} nn_fc_t;

typedef struct {
    size_t n_conv, n_fc;
    nn_conv_t conv[NN_MAX_CONV];
    nn_fc_t fc[NN_MAX_FC];
    size_t layers[NN_MAX_T];
    const char *names[NN_MAX_T];
    char namebuf[NN_MAX_T][32];
    size_t fan_in[NN_MAX_T];
    int is_weight[NN_MAX_T];
    /* scratch, grown on demand (calls on one model never overlap) */
    void *ws;
    size_t ws_bytes;
    size_t ws_b;          /* batch the current carve-up serves */
    const float **rowp[NN_MAX_CONV]; /* per conv layer, its input's sample pointers (kept for the backward) */
    float *col[NN_MAX_CONV], *z[NN_MAX_CONV], *a[NN_MAX_CONV], *da[NN_MAX_CONV], *gwt[NN_MAX_CONV];
    float *h[NN_MAX_FC + 1]; /* h[0] input of the first FC layer, h[i] output of FC layer i-1 (last: logits) */
    float *dh[2];
} nn_t;

static size_t nn_fc_max(const nn_t *p)
{
    size_t mx = p->fc[0].in;
    for (size_t i = 0; i < p->n_fc; i++)
        mx = p->fc[i].out > mx ? p->fc[i].out : mx;
    return mx;
}

/* Scratch layout for a batch of B (in bytes, each piece 64-byte aligned); with base NULL only the size. */
static size_t nn_carve(nn_t *p, size_t B, char *base)
{
    size_t off = 0;
#define NN_TAKE(ptr, type, count)                                                                                  \
    do {                                                                                                           \
        if (base)                                                                                                  \
            (ptr) = (type *)(void *)(base + off);                                                                  \
        off += ((count) * sizeof(type) + 63) & ~(size_t)63;                                                        \
    } while (0)
    for (size_t l = 0; l < p->n_conv; l++) {
        const bg_nn_conv_t *g = &p->conv[l].g;
        size_t P = g->ho * g->wo, Pp = p->conv[l].hp * p->conv[l].wp;
        NN_TAKE(p->rowp[l], const float *, B);
        NN_TAKE(p->col[l], float, g->cin * g->k * g->k * bg_nn_conv_chunk(g, B) * P);
        NN_TAKE(p->z[l], float, g->cout * B * P);
        NN_TAKE(p->a[l], float, g->cout * B * Pp);
        NN_TAKE(p->da[l], float, g->cout * B * Pp);
        NN_TAKE(p->gwt[l], float, g->cout * g->cin * g->k * g->k);
    }
    NN_TAKE(p->h[0], float, B * p->fc[0].in);
    for (size_t i = 0; i < p->n_fc; i++)
        NN_TAKE(p->h[i + 1], float, B * p->fc[i].out);
    NN_TAKE(p->dh[0], float, B * nn_fc_max(p));
    NN_TAKE(p->dh[1], float, B * nn_fc_max(p));
#undef NN_TAKE
    return off;
}

static int nn_scratch(nn_t *p, size_t B)
{
    if (p->ws && p->ws_b == B)
        return 0;
    size_t need = nn_carve(p, B, NULL);
    if (need > p->ws_bytes) {
        void *q = aligned_alloc(64, need);
        if (!q)
            return -1;
        free(p->ws);
        p->ws = q;
        p->ws_bytes = need;
    }
    nn_carve(p, B, p->ws);
    p->ws_b = B;
    return 0;
}

/* Forward pass of B rows X[idx[i]] (idx NULL: rows 0..B-1) up to the logits p->h[n_fc]. */
static void nn_forward(nn_t *p, const float *w, const float *X, size_t d, const size_t *idx, size_t B)
{
    if (p->n_conv == 0) {
        for (size_t i = 0; i < B; i++)
            memcpy(p->h[0] + i * d, X + (idx ? idx[i] : i) * d, d * sizeof(float));
    } else {
        for (size_t i = 0; i < B; i++)
            p->rowp[0][i] = X + (idx ? idx[i] : i) * d;
        for (size_t l = 0; l < p->n_conv; l++) {
            const nn_conv_t *cv = &p->conv[l];
            const bg_nn_conv_t *g = &cv->g;
            size_t HW = g->h * g->w;
            if (l > 0)
                for (size_t i = 0; i < B; i++)
                    p->rowp[l][i] = p->a[l - 1] + i * HW;
            bg_nn_conv_forward(g, B, p->rowp[l], l ? B * HW : HW, w + cv->wo_off, p->col[l], p->z[l]);
            bg_nn_pool_forward(g->cout, B, g->ho, g->wo, p->z[l], w + cv->bo_off, p->a[l]);
        }
        /* flatten: C x (B x Pp) -> B x (C x Pp), PyTorch's per-sample order */
        const nn_conv_t *cv = &p->conv[p->n_conv - 1];
        size_t C = cv->g.cout, Pp = cv->hp * cv->wp;
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < B; i++)
                memcpy(p->h[0] + i * C * Pp + c * Pp, p->a[p->n_conv - 1] + (c * B + i) * Pp, Pp * sizeof(float));
    }
    for (size_t i = 0; i < p->n_fc; i++) {
        const nn_fc_t *f = &p->fc[i];
        bg_nn_fc_forward(B, f->in, f->out, p->h[i], w + f->wo_off, w + f->bo_off, i + 1 < p->n_fc, p->h[i + 1]);
    }
}

/* Backward from dlogits (already in p->dh[0]) into grad (accumulating). */
static void nn_backward(nn_t *p, const float *w, size_t B, float *grad)
{
    int cur = 0;
    for (size_t i = p->n_fc; i-- > 0;) {
        const nn_fc_t *f = &p->fc[i];
        int need_din = i > 0 || p->n_conv > 0;
        /* the input of layer i > 0 is a ReLU output; the first layer's input (pooled) has its mask applied by the
         * pool backward, and the MLP's first input is data */
        bg_nn_fc_backward(B, f->in, f->out, p->h[i], w + f->wo_off, p->dh[cur], i > 0, grad + f->wo_off,
                          grad + f->bo_off, need_din ? p->dh[1 - cur] : NULL);
        cur = 1 - cur;
    }
    if (p->n_conv == 0)
        return;
    const nn_conv_t *last = &p->conv[p->n_conv - 1];
    size_t C = last->g.cout, Pp = last->hp * last->wp;
    float *dl = p->da[p->n_conv - 1];
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < B; i++)
            memcpy(dl + (c * B + i) * Pp, p->dh[cur] + i * C * Pp + c * Pp, Pp * sizeof(float));
    for (size_t l = p->n_conv; l-- > 0;) {
        const nn_conv_t *cv = &p->conv[l];
        const bg_nn_conv_t *g = &cv->g;
        /* dz overwrites z once the window maxima have been recomputed from it */
        bg_nn_pool_backward(g->cout, B, g->ho, g->wo, p->a[l], p->da[l], p->z[l], grad + cv->bo_off);
        bg_nn_conv_backward(g, B, p->rowp[l], l ? B * g->h * g->w : g->h * g->w, w + cv->wo_off, p->col[l], p->z[l],
                            grad + cv->wo_off, p->gwt[l], l > 0 ? p->da[l - 1] : NULL);
    }
}

static double nn_reg(const bg_model_t *m, const float *w, float *grad)
{
    const nn_t *p = m->priv;
    double r = 0.0;
    size_t off = 0;
    for (size_t t = 0; t < m->n_layers; t++) {
        if (p->is_weight[t])
            r += bg_weights_reg(&m->cfg, w + off, p->layers[t], grad ? grad + off : NULL);
        off += p->layers[t];
    }
    return r;
}

/* As for softmax: neither a bad label nor a failed allocation can be reported through this signature, so both make
 * the loss and the whole gradient NaN. */
static double nn_fail(size_t dim, float *grad)
{
    if (grad)
        for (size_t j = 0; j < dim; j++)
            grad[j] = NAN;
    return NAN;
}

static double nn_loss_grad(const bg_model_t *m, const float *w, const float *X, const int *y, const size_t *idx,
                           size_t b, float *grad)
{
    nn_t *p = m->priv;
    size_t C = m->n_classes;
    for (size_t i = 0; i < b; i++)
        if (y[idx[i]] < 0 || (size_t)y[idx[i]] >= C)
            return nn_fail(m->dim, grad);
    if (grad)
        memset(grad, 0, m->dim * sizeof *grad);
    double loss = 0.0;
    if (b > 0) {
        size_t blk = b < NN_BLOCK ? b : NN_BLOCK;
        if (nn_scratch(p, blk))
            return nn_fail(m->dim, grad);
        for (size_t s = 0; s < b; s += blk) {
            size_t nr = b - s < blk ? b - s : blk;
            if (nr != p->ws_b)
                nn_carve(p, nr, p->ws);   /* a shorter last block fits in the same bytes */
            p->ws_b = nr;
            nn_forward(p, w, X, m->d_in, idx + s, nr);
            float *logits = p->h[p->n_fc];
            loss += bg_nn_softmax_ce(nr, C, logits, y, idx + s, 1.0 / (double)b, grad ? p->dh[0] : NULL);
            if (grad)
                nn_backward(p, w, nr, grad);
        }
        loss /= (double)b;
    }
    return loss + nn_reg(m, w, grad);
}

static void nn_evaluate_threads(const bg_model_t *const *ms, struct bg_pool *pool, const float *w,
                                const bg_dataset_t *ds, double *loss, double *acc);

/* Mean loss and accuracy over ds in blocks of NN_BLOCK rows: the threaded version on the caller's thread. */
static void nn_evaluate(const bg_model_t *m, const float *w, const bg_dataset_t *ds, double *loss, double *acc)
{
    const bg_model_t *ms[1] = {m};
    nn_evaluate_threads(ms, NULL, w, ds, loss, acc);
}

/* nn_evaluate's blocks on the pool's threads: block b's loss sum and correct count land in its own slot, and the
 * slots are added in block order, as nn_evaluate adds them. */
typedef struct nn_eval_job {
    const bg_model_t *const *ms;
    const float *w;
    const bg_dataset_t *ds;
    size_t blk;
    double *sl;
    size_t *cor;
} nn_eval_job_t;

static void nn_eval_block(void *ctx, size_t b, size_t tid)
{
    nn_eval_job_t *j = ctx;
    const bg_model_t *m = j->ms[tid];
    nn_t *p = m->priv;
    const bg_dataset_t *ds = j->ds;
    const size_t C = m->n_classes, d = m->d_in;
    const size_t s0 = b * j->blk, nr = ds->n - s0 < j->blk ? ds->n - s0 : j->blk;
    if (nr != p->ws_b)
        nn_carve(p, nr, p->ws);
    p->ws_b = nr;
    nn_forward(p, j->w, ds->X + s0 * d, d, NULL, nr);
    const float *z = p->h[p->n_fc];
    j->sl[b] = bg_nn_softmax_ce(nr, C, z, ds->y + s0, NULL, 1.0, NULL);
    size_t c = 0;
    for (size_t i = 0; i < nr; i++) {
        const float *zi = z + i * C;
        size_t am = 0;
        for (size_t k = 1; k < C; k++)
            if (zi[k] > zi[am])
                am = k;
        c += am == (size_t)ds->y[s0 + i];
    }
    j->cor[b] = c;
}

static void nn_evaluate_threads(const bg_model_t *const *ms, struct bg_pool *pool, const float *w,
                                const bg_dataset_t *ds, double *loss, double *acc)
{
    const bg_model_t *m = ms[0];
    const size_t C = m->n_classes, d = m->d_in, nt = bg_pool_threads(pool);
    double l = NAN, a = NAN;
    if (ds && ds->n > 0 && ds->d == d && ds->X && ds->y) {
        const size_t blk = ds->n < NN_BLOCK ? ds->n : NN_BLOCK, nb = (ds->n + blk - 1) / blk;
        nn_eval_job_t j = {ms, w, ds, blk, calloc(nb, sizeof(double)), calloc(nb, sizeof(size_t))};
        int bad = !j.sl || !j.cor;
        for (size_t k = 0; k < nt && !bad; k++)
            bad = nn_scratch(ms[k]->priv, blk) != 0;
        for (size_t i = 0; i < ds->n && !bad; i++)
            bad = ds->y[i] < 0 || (size_t)ds->y[i] >= C;
        if (!bad) {
            bg_pool_for(pool, nb, nn_eval_block, &j);
            double sum = 0.0;
            size_t correct = 0;
            for (size_t b = 0; b < nb; b++) {
                sum += j.sl[b];
                correct += j.cor[b];
            }
            l = sum / (double)ds->n + nn_reg(m, w, NULL);
            a = (double)correct / (double)ds->n;
        }
        free(j.sl);
        free(j.cor);
    }
    if (loss)
        *loss = l;
    if (acc)
        *acc = a;
}

/* Counted: the multiply-adds of every GEMM (2 flops each), forward and backward, as actually done: per
 * convolution layer with P = ho*wo outputs and K = cin*k*k, 2*cout*K*P forward, as much for the weight gradient
 * and, except for the first layer (no input gradient), as much for the input gradient; per FC layer 2*in*out
 * three times (twice for the MLP's first layer). Left out (under 1 % of the total for the bundled models):
 * bias adds, max-pool and ReLU compares, the col2im adds, the softmax and the per-batch regulariser. */
static double nn_flops_per_sample(const bg_model_t *m)
{
    const nn_t *p = m->priv;
    double f = 0.0;
    for (size_t l = 0; l < p->n_conv; l++) {
        const bg_nn_conv_t *g = &p->conv[l].g;
        f += (l == 0 ? 2.0 : 3.0) * 2.0 * (double)g->cout * (double)(g->cin * g->k * g->k) * (double)(g->ho * g->wo);
    }
    for (size_t i = 0; i < p->n_fc; i++)
        f += (i == 0 && p->n_conv == 0 ? 2.0 : 3.0) * 2.0 * (double)p->fc[i].in * (double)p->fc[i].out;
    return f;
}

static size_t nn_workspace_bytes(const bg_model_t *m, size_t b)
{
    /* with base NULL nn_carve only reads the geometry */
    return nn_carve(m->priv, b < NN_BLOCK ? b : NN_BLOCK, NULL);
}

/* PyTorch's defaults: kaiming_uniform(a = sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights, and the
 * bias uses the same bound; drawn tensor by tensor in layout order. */
static void nn_init_params(const bg_model_t *m, gsl_rng *r, float *w)
{
    const nn_t *p = m->priv;
    size_t off = 0;
    for (size_t t = 0; t < m->n_layers; t++) {
        double bound = 1.0 / sqrt((double)p->fan_in[t]);
        for (size_t j = 0; j < p->layers[t]; j++)
            w[off + j] = (float)((2.0 * gsl_rng_uniform(r) - 1.0) * bound);
        off += p->layers[t];
    }
}

static void nn_destroy(bg_model_t *m)
{
    nn_t *p = m->priv;
    if (p)
        free(p->ws);
    free(p);
    m->priv = NULL;
    m->layers = NULL;
    m->layer_names = NULL;
    m->n_layers = 0;
}

static void nn_add_tensor(nn_t *p, size_t *nt, size_t *off, const char *name, size_t size, size_t fan_in,
                          int is_weight, size_t *where)
{
    snprintf(p->namebuf[*nt], sizeof p->namebuf[*nt], "%s", name);
    p->names[*nt] = p->namebuf[*nt];
    p->layers[*nt] = size;
    p->fan_in[*nt] = fan_in;
    p->is_weight[*nt] = is_weight;
    *where = *off;
    *off += size;
    (*nt)++;
}

typedef struct {
    size_t cout, k, pad;
} conv_spec_t;

/* Builds the network: conv blocks (conv, max-pool 2, ReLU), then FC layers of widths fc_out (ReLU after all but
 * the last, which has n_classes outputs). */
static int nn_build(bg_model_t *m, const char *model, const size_t shape[3], const conv_spec_t *cs, size_t n_conv,
                    const size_t *hidden, size_t n_hidden, bg_err_t *err)
{
    size_t C = m->n_classes;
    if (C < 2)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "model '%s' needs a dataset with at least 2 classes, not %zu",
                          model, C);
    nn_t *p = calloc(1, sizeof *p);
    if (!p)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "model '%s': out of memory for its layer table", model);
    size_t nt = 0, off = 0;
    size_t c = shape[0], h = shape[1], wd = shape[2];
    char nm[32];
    for (size_t l = 0; l < n_conv; l++) {
        nn_conv_t *cv = &p->conv[l];
        size_t k = cs[l].k, pad = cs[l].pad;
        if (h + 2 * pad < k + 1 || wd + 2 * pad < k + 1) {
            size_t need = k + 1 > 2 * pad ? k + 1 - 2 * pad : 1;
            free(p);
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "model '%s': input %zux%zux%zu is too small: convolution %zu (kernel %zu, padding "
                              "%zu) followed by 2x2 max-pooling needs at least %zux%zu pixels there, it gets %zux%zu",
                              model, shape[0], shape[1], shape[2], l + 1, k, pad, need, need, h, wd);
        }
        cv->g = (bg_nn_conv_t){.cin = c, .h = h, .w = wd, .cout = cs[l].cout, .k = k, .pad = pad,
                               .ho = h + 2 * pad - k + 1, .wo = wd + 2 * pad - k + 1};
        cv->hp = cv->g.ho / 2;
        cv->wp = cv->g.wo / 2;
        /* CBLAS takes int sizes: the largest is the im2col matrix of a block */
        if ((double)(c * k * k) * (double)NN_BLOCK * (double)(cv->g.ho * cv->g.wo) > (double)INT_MAX) {
            free(p);
            return bg_err_set(err, BG_ERANGE, NULL, 0,
                              "model '%s': input %zux%zux%zu is too large for the im2col buffers (at most %d floats)",
                              model, shape[0], shape[1], shape[2], INT_MAX);
        }
        size_t fan = c * k * k;
        snprintf(nm, sizeof nm, "conv%zu.weight", l + 1);
        nn_add_tensor(p, &nt, &off, nm, cs[l].cout * fan, fan, 1, &cv->wo_off);
        snprintf(nm, sizeof nm, "conv%zu.bias", l + 1);
        nn_add_tensor(p, &nt, &off, nm, cs[l].cout, fan, 0, &cv->bo_off);
        c = cs[l].cout;
        h = cv->hp;
        wd = cv->wp;
    }
    p->n_conv = n_conv;
    size_t in = n_conv ? c * h * wd : m->d_in;
    p->n_fc = n_hidden + 1;
    for (size_t i = 0; i <= n_hidden; i++) {
        size_t out = i < n_hidden ? hidden[i] : C;
        if ((double)in * (double)out > (double)INT_MAX || (double)NN_BLOCK * (double)in > (double)INT_MAX) {
            free(p);
            return bg_err_set(err, BG_ERANGE, NULL, 0,
                              "model '%s': layer fc%zu (%zu -> %zu) is too large: in*out must be at most %d",
                              model, i + 1, in, out, INT_MAX);
        }
        p->fc[i].in = in;
        p->fc[i].out = out;
        snprintf(nm, sizeof nm, "fc%zu.weight", i + 1);
        nn_add_tensor(p, &nt, &off, nm, in * out, in, 1, &p->fc[i].wo_off);
        snprintf(nm, sizeof nm, "fc%zu.bias", i + 1);
        nn_add_tensor(p, &nt, &off, nm, out, in, 0, &p->fc[i].bo_off);
        in = out;
    }
    m->priv = p;
    m->dim = off;
    m->n_layers = nt;
    m->layers = p->layers;
    m->layer_names = p->names;
    return BG_OK;
}

/* The image shape: cfg->in_shape when set (its product must be d_in), else 1 x s x s when d_in = s*s. */
static int nn_shape(const bg_model_t *m, const char *model, size_t shape[3], bg_err_t *err)
{
    const size_t *s = m->cfg.in_shape;
    if (s[0] || s[1] || s[2]) {
        if (!s[0] || !s[1] || !s[2] || s[0] * s[1] * s[2] != m->d_in)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "model '%s': input shape %zux%zux%zu does not fit rows of %zu features: channels x "
                              "height x width must equal the row length", model, s[0], s[1], s[2], m->d_in);
        memcpy(shape, s, 3 * sizeof *shape);
        return BG_OK;
    }
    size_t r = (size_t)llround(sqrt((double)m->d_in));
    if (m->d_in == 0 || r * r != m->d_in)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "model '%s' needs image rows: %zu features is not a square, so set model.in_shape "
                          "(channels, height, width)", model, m->d_in);
    shape[0] = 1;
    shape[1] = shape[2] = r;
    return BG_OK;
}

static int mlp_init(bg_model_t *m, size_t d_in, size_t n_classes, bg_err_t *err)
{
    (void)n_classes;
    const bg_model_cfg_t *c = &m->cfg;
    if (c->n_hidden == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "model 'mlp' needs model.hidden (e.g. 128 or 256,128)");
    if (c->n_hidden > BG_MODEL_MAX_HIDDEN)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "model 'mlp' allows at most %d hidden layers, not %zu",
                          BG_MODEL_MAX_HIDDEN, c->n_hidden);
    for (size_t i = 0; i < c->n_hidden; i++)
        if (c->hidden[i] == 0)
            return bg_err_set(err, BG_EINVAL, NULL, 0, "model 'mlp': hidden layer %zu has width 0; widths must be >= 1",
                              i + 1);
    if (d_in == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "model 'mlp' needs at least one input feature");
    size_t shape[3] = {1, 1, d_in};
    return nn_build(m, "mlp", shape, NULL, 0, c->hidden, c->n_hidden, err);
}

static int cnn_init(bg_model_t *m, size_t d_in, size_t n_classes, bg_err_t *err)
{
    (void)d_in;
    (void)n_classes;
    size_t shape[3];
    int rc = nn_shape(m, "cnn", shape, err);
    if (rc)
        return rc;
    static const conv_spec_t cs[2] = {{10, 5, 0}, {20, 5, 0}};
    static const size_t hidden[1] = {50};
    return nn_build(m, "cnn", shape, cs, 2, hidden, 1, err);
}

static int lenet5_init(bg_model_t *m, size_t d_in, size_t n_classes, bg_err_t *err)
{
    (void)d_in;
    (void)n_classes;
    size_t shape[3];
    int rc = nn_shape(m, "lenet5", shape, err);
    if (rc)
        return rc;
    static const conv_spec_t cs[2] = {{6, 5, 2}, {16, 5, 0}};
    static const size_t hidden[2] = {120, 84};
    return nn_build(m, "lenet5", shape, cs, 2, hidden, 2, err);
}

const bg_model_ops_t bg_mlp_ops = {
    .name = "mlp",
    .summary = "multilayer perceptron: model.hidden widths with ReLU, softmax cross-entropy",
    .init = mlp_init,
    .loss_grad = nn_loss_grad,
    .evaluate = nn_evaluate,
    .evaluate_threads = nn_evaluate_threads,
    .flops_per_sample = nn_flops_per_sample,
    .destroy = nn_destroy,
    .init_params = nn_init_params,
    .workspace_bytes = nn_workspace_bytes,
};

/* The reference CNNMNIST without its Dropout2d and dropout: the gradients stay deterministic given the batch. */
const bg_model_ops_t bg_cnn_ops = {
    .name = "cnn",
    .summary = "reference CNNMNIST: conv5x5 10, pool, ReLU; conv5x5 20, pool, ReLU; FC 50 ReLU; FC (no dropout)",
    .init = cnn_init,
    .loss_grad = nn_loss_grad,
    .evaluate = nn_evaluate,
    .evaluate_threads = nn_evaluate_threads,
    .flops_per_sample = nn_flops_per_sample,
    .destroy = nn_destroy,
    .init_params = nn_init_params,
    .workspace_bytes = nn_workspace_bytes,
};

const bg_model_ops_t bg_lenet5_ops = {
    .name = "lenet5",
    .summary = "LeNet-5: conv5x5 6 pad 2, ReLU, pool; conv5x5 16, ReLU, pool; FC 120, 84 ReLU; FC",
    .init = lenet5_init,
    .loss_grad = nn_loss_grad,
    .evaluate = nn_evaluate,
    .evaluate_threads = nn_evaluate_threads,
    .flops_per_sample = nn_flops_per_sample,
    .destroy = nn_destroy,
    .init_params = nn_init_params,
    .workspace_bytes = nn_workspace_bytes,
};
