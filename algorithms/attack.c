/* Byzantine attacks: omniscient targets computed from the honest server-side vectors (IPM, ALIE, sign flip)
 * and the data attacks that only change what a Byzantine worker trains on (none, label flipping). */
#include "bg_attack.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Coordinates per block: the honest chunks of a block stay in cache across the passes over them. */
#define ATK_BLOCK 256

/* out = scale * mean(honest); double accumulation in worker order. */
static void scaled_mean(const float *const *h, size_t nh, size_t d, double scale, float *out)
{
    double acc[ATK_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += ATK_BLOCK) {
        size_t w = d - j0 < ATK_BLOCK ? d - j0 : ATK_BLOCK;
        for (size_t l = 0; l < w; l++)
            acc[l] = 0.0;
        for (size_t i = 0; i < nh; i++)
            for (size_t l = 0; l < w; l++)
                acc[l] += h[i][j0 + l];
        for (size_t l = 0; l < w; l++)
            out[j0 + l] = (float)(scale * (acc[l] / (double)nh));
    }
}

static double zero_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    (void)nh;
    (void)d;
    return 0.0;
}

static double mean_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    return (double)nh * (double)d + 2.0 * (double)d;   /* sums, then a divide and a scale per coordinate */
}

/* ---------------------------------------------------------------- IPM */

static int ipm_target(const bg_attack_args_t *a, const float *const *honest, size_t nh, size_t d, gsl_rng *r,
                      float *out)
{
    (void)r;
    if (nh == 0)
        return BG_EINVAL;
    scaled_mean(honest, nh, d, -a->cfg.eps, out);
    return BG_OK;
}

/* ---------------------------------------------------------------- ALIE */

/* mu - z sigma, sigma with the (nh - 1) denominator as torch.std; with a single honest vector sigma is taken
 * as 0 (the target is then that vector). Two passes per block: a one-pass variance cancels when the honest
 * vectors nearly agree, which is exactly when ALIE is interesting. */
static int alie_target(const bg_attack_args_t *a, const float *const *honest, size_t nh, size_t d, gsl_rng *r,
                       float *out)
{
    (void)r;
    if (nh == 0)
        return BG_EINVAL;
    double mu[ATK_BLOCK], ss[ATK_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += ATK_BLOCK) {
        size_t w = d - j0 < ATK_BLOCK ? d - j0 : ATK_BLOCK;
        for (size_t l = 0; l < w; l++)
            mu[l] = ss[l] = 0.0;
        for (size_t i = 0; i < nh; i++)
            for (size_t l = 0; l < w; l++)
                mu[l] += honest[i][j0 + l];
        for (size_t l = 0; l < w; l++)
            mu[l] /= (double)nh;
        for (size_t i = 0; i < nh; i++)
            for (size_t l = 0; l < w; l++) {
                double t = honest[i][j0 + l] - mu[l];
                ss[l] += t * t;
            }
        for (size_t l = 0; l < w; l++) {
            double sd = nh > 1 ? sqrt(ss[l] / (double)(nh - 1)) : 0.0;
            out[j0 + l] = (float)(mu[l] - a->z * sd);
        }
    }
    return BG_OK;
}

static double alie_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    /* Mean pass (nd), deviation pass (3nd: subtract, square, add), then divide, sqrt, scale, subtract. */
    return 4.0 * (double)nh * (double)d + 5.0 * (double)d;
}

/* ---------------------------------------------------------------- sign flip */

/* ByzFL's sign flip: the negated mean of the honest vectors. [S] instead negates one honest vector drawn at
 * random per Byzantine worker with Python's unseeded `random`; the mean is its reproducible expectation. */
static int sf_target(const bg_attack_args_t *a, const float *const *honest, size_t nh, size_t d, gsl_rng *r,
                     float *out)
{
    (void)a;
    (void)r;
    if (nh == 0)
        return BG_EINVAL;
    scaled_mean(honest, nh, d, -1.0, out);
    return BG_OK;
}

/* ---------------------------------------------------------------- registry */

static const bg_attack_ops_t none_ops = {
    .name = "none",
    .summary = "no attack: Byzantine workers follow the protocol honestly",
    .omniscient = 0,
    .flips_labels = 0,
    .target = NULL,
    .flops = zero_flops,
};

static const bg_attack_ops_t ipm_ops = {
    .name = "ipm",
    .summary = "inner-product manipulation: -eps * mean(honest)",
    .omniscient = 1,
    .flips_labels = 0,
    .target = ipm_target,
    .flops = mean_flops,
};

static const bg_attack_ops_t alie_ops = {
    .name = "alie",
    .summary = "a little is enough: mu - z * sigma per coordinate (z from n and f unless set)",
    .omniscient = 1,
    .flips_labels = 0,
    .target = alie_target,
    .flops = alie_flops,
};

static const bg_attack_ops_t sf_ops = {
    .name = "sf",
    .summary = "sign flip: -mean(honest)",
    .omniscient = 1,
    .flips_labels = 0,
    .target = sf_target,
    .flops = mean_flops,
};

static const bg_attack_ops_t lf_ops = {
    .name = "lf",
    .summary = "label flipping: honest training on labels y -> n_classes - 1 - y",
    .omniscient = 0,
    .flips_labels = 1,
    .target = NULL,
    .flops = zero_flops,
};

const bg_attack_ops_t *const bg_attack_registry[] = {
    &none_ops, &ipm_ops, &alie_ops, &sf_ops, &lf_ops, NULL,
};

const bg_attack_ops_t *bg_attack_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; bg_attack_registry[i]; i++)
        if (strcmp(bg_attack_registry[i]->name, name) == 0)
            return bg_attack_registry[i];
    return NULL;
}

/* s = floor(n/2 + 1) - f workers must be won over; z is the normal quantile that puts n - f - s honest
 * workers below the attack. The probability is clamped to [1/(2m), 1 - 1/(2m)] with m = n - f honest workers
 * (half a worker, the resolution of an empirical quantile over m values): outside (0, 1) the quantile is
 * infinite (f >= n/2 + 1, or no worker left to win over) and would turn the attack into a non-finite vector
 * that the server simply drops. With no honest worker z is 0. */
double bg_attack_alie_z(size_t n, size_t f)
{
    if (f >= n)
        return 0.0;
    double m = (double)(n - f);
    double s = (double)(n / 2 + 1) - (double)f;
    double p = (m - s) / m;
    double pmin = 0.5 / m;
    if (p < pmin)
        p = pmin;
    if (p > 1.0 - pmin)
        p = 1.0 - pmin;
    return gsl_cdf_ugaussian_Pinv(p);
}

int bg_attack_args_init(bg_attack_args_t *a, const bg_attack_cfg_t *cfg, size_t n, size_t f, bg_err_t *err)
{
    memset(a, 0, sizeof *a);
    char name[sizeof cfg->name + 1];
    memcpy(name, cfg->name, sizeof cfg->name);
    name[sizeof cfg->name] = '\0';
    if (!bg_attack_find(name)) {
        char known[256] = "";
        size_t len = 0;
        for (size_t i = 0; bg_attack_registry[i] && len < sizeof known; i++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                    bg_attack_registry[i]->name);
        return bg_err_set(err, BG_ENOTFOUND, NULL, 0, "unknown attack '%s' (known: %s)", name, known);
    }
    if (!isfinite(cfg->eps))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "attack %s: eps = %g must be finite", name, cfg->eps);
    if (!isnan(cfg->z) && !isfinite(cfg->z))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "attack %s: z = %g must be finite (or NAN to derive it)", name,
                          cfg->z);
    if (f > n)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "attack %s: f = %zu Byzantine workers out of n = %zu", name, f,
                          n);
    a->cfg = *cfg;
    memcpy(a->cfg.name, name, sizeof a->cfg.name);
    a->cfg.name[sizeof a->cfg.name - 1] = '\0';
    a->n = n;
    a->f = f;
    a->z = isnan(cfg->z) ? bg_attack_alie_z(n, f) : cfg->z;
    return BG_OK;
}
