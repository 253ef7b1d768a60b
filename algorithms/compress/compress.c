/* The compressor registry (name lookup, defaults, create/destroy with the layer layout and k resolved) and the
 * identity compressor that is its default. */
#include "compress_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- identity */

static int identity_init(bg_compressor_t *c, bg_err_t *err)
{
    (void)err;
    c->k = c->d;   /* identity keeps everything whatever k or ratio say */
    c->omega = 0.0;
    c->alpha = 1.0;
    return BG_OK;
}

static int identity_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    (void)r;
    if (out->cap < c->d)
        return BG_EINVAL;
    out->d = c->d;
    bg_msg_set_dense(out, x);   /* scope does not matter: per layer is the same bytes */
    return BG_OK;
}

static double identity_flops(const bg_compressor_t *c)
{
    (void)c;
    return 0.0;   /* a copy: memory traffic, no arithmetic */
}

const bg_compressor_ops_t bg_comp_identity_ops = {
    .name = "identity",
    .summary = "no compression: the dense vector (16 + 4d bytes)",
    .biased = 0,
    .init = identity_init,
    .compress = identity_compress,
    .flops = identity_flops,
};

/* ---------------------------------------------------------------- registry */

const bg_compressor_ops_t *const bg_compressor_registry[] = {
    &bg_comp_identity_ops, &bg_comp_topk_ops, &bg_comp_randk_ops, &bg_comp_randk_unscaled_ops, &bg_comp_sign_ops,
    &bg_comp_qsgd_ops, &bg_comp_fp16_ops, NULL,
};

BG_REGISTRY_DEFINE(bg_compressors, "compressor", bg_compressor_registry, bg_compressor_ops_t, bg_compressor_find)

void bg_compressor_destroy(bg_compressor_t *c)
{
    if (!c)
        return;
    if (c->ops && c->ops->destroy)
        c->ops->destroy(c);
    free(c->layer_off);
    memset(c, 0, sizeof *c);
}

int bg_compressor_init(const bg_comp_cfg_t *cfg, size_t d, const size_t *layers, size_t n_layers,
                         bg_compressor_t *out, bg_err_t *err)
{
    memset(out, 0, sizeof *out);
    char name[sizeof cfg->name + 1];
    memcpy(name, cfg->name, sizeof cfg->name);
    name[sizeof cfg->name] = '\0';   /* a full-length name need not be terminated */
    const bg_compressor_ops_t *ops = bg_compressor_find(name);
    if (!ops)
        return bg_registry_unknown(&bg_compressors, name, err);
    if (ops == &bg_comp_randk_ops && !cfg->scaled)
        ops = &bg_comp_randk_unscaled_ops;
    if (d == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: dimension d must be at least 1", ops->name);
    if (d > UINT32_MAX)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "%s: d = %zu exceeds the u32 index range", ops->name, d);
    if (!layers || n_layers == 0)
        n_layers = 1;
    else {
        size_t sum = 0;
        for (size_t l = 0; l < n_layers; l++) {
            if (layers[l] == 0)
                return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: layer %zu has size 0 (every layer needs >= 1 value)",
                                  ops->name, l);
            sum += layers[l];
        }
        if (sum != d)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "%s: the %zu layer sizes add up to %zu, not d = %zu (they must add up to d)", ops->name,
                              n_layers, sum, d);
    }

    size_t k = cfg->k;
    if (k == 0) {
        double ratio = cfg->ratio;
        if (!isfinite(ratio) || ratio < 0.0)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "%s: ratio = %g must be a finite fraction in [0, 1] when k is 0", ops->name, ratio);
        double kd = floor(ratio * (double)d);
        /* Clamp before converting: a ratio above 1 must reach init as k > d, not overflow. */
        k = kd < 1.0 ? 1 : kd > (double)d ? d + 1 : (size_t)kd;
    }
    out->layer_off = malloc((n_layers + 1) * sizeof *out->layer_off);
    if (!out->layer_off)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "%s: out of memory for %zu layer offsets", ops->name, n_layers);
    out->layer_off[0] = 0;
    for (size_t l = 0; l < n_layers; l++)
        out->layer_off[l + 1] = out->layer_off[l] + (layers && n_layers > 1 ? layers[l] : d);
    out->n_layers = n_layers;
    out->ops = ops;
    out->cfg = *cfg;
    snprintf(out->cfg.name, sizeof out->cfg.name, "%s", ops->name);
    if (ops == &bg_comp_randk_unscaled_ops)
        out->cfg.scaled = 0;
    out->d = d;
    out->omega = NAN;
    out->alpha = NAN;
    if (cfg->per_layer && n_layers > 1) {
        k = 0;
        for (size_t l = 0; l < n_layers; l++)
            k += bg_comp_layer_k(cfg, layers[l]);
    }
    out->k = k;
    int rc = ops->init ? ops->init(out, err) : BG_OK;
    if (rc != BG_OK)
        bg_compressor_destroy(out);
    return rc;
}
