/* Byzantine attacks: data attacks that run the honest method (none, label flip, bit flip), blind targets
 * (zero, random, NaN payload, ROP) and omniscient targets computed from the honest server-side vectors. */
#include "bg_attack.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Coordinates per block: the honest chunks of a block stay in cache across the passes over them. */
#define ATK_BLOCK 256

/* ALIE z of Rammal et al.'s code, which scales the population variance. */
#define ALIE_Z_VARIANCE 1.06

/* MinMax / MinSum search ([S] minmax.py, after Shejwalkar & Houmansadr): start, tolerance. */
#define DEV_LAMBDA0 10.0
#define DEV_TOL 1e-5

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

/* Per-coordinate mean and deviation of one block of w coordinates starting at j0. Two passes: a one-pass
 * variance cancels when the honest vectors nearly agree, which is exactly when these attacks are interesting.
 * ss receives the sum of squared deviations; the caller picks the denominator. */
static void block_moments(const float *const *h, size_t nh, size_t j0, size_t w, double *mu, double *ss)
{
    for (size_t l = 0; l < w; l++)
        mu[l] = ss[l] = 0.0;
    for (size_t i = 0; i < nh; i++)
        for (size_t l = 0; l < w; l++)
            mu[l] += h[i][j0 + l];
    for (size_t l = 0; l < w; l++)
        mu[l] /= (double)nh;
    for (size_t i = 0; i < nh; i++)
        for (size_t l = 0; l < w; l++) {
            double t = h[i][j0 + l] - mu[l];
            ss[l] += t * t;
        }
}

static int have_honest(const bg_attack_ctx_t *c)
{
    return c->nh > 0 && c->honest != NULL;
}

static double zero_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    (void)nh;
    (void)d;
    return 0.0;
}

static double copy_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    (void)nh;
    return (double)d;
}

static double mean_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    return (double)nh * (double)d + 2.0 * (double)d;   /* sums, then a divide and a scale per coordinate */
}

/* ---------------------------------------------------------------- IPM */

static int ipm_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    if (!have_honest(c))
        return BG_EINVAL;
    scaled_mean(c->honest, c->nh, c->d, -a->cfg.eps, out);
    return BG_OK;
}

/* ---------------------------------------------------------------- ALIE */

/* Default ([S]): mu - z sigma, sigma with the (nh - 1) denominator as torch.std; with a single honest vector
 * sigma is taken as 0 (the target is then that vector). alie_variance ([R]): mu - z var, var the population
 * variance (denominator nh), as Rammal et al.'s code does (Gbar + mean(G_i - Gbar) - 1.06 var(G_i - Gbar) is
 * the same vector: the variance does not see the shift by Gbar). */
static int alie_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    if (!have_honest(c))
        return BG_EINVAL;
    const size_t nh = c->nh, d = c->d;
    double mu[ATK_BLOCK], ss[ATK_BLOCK];
    for (size_t j0 = 0; j0 < d; j0 += ATK_BLOCK) {
        size_t w = d - j0 < ATK_BLOCK ? d - j0 : ATK_BLOCK;
        block_moments(c->honest, nh, j0, w, mu, ss);
        for (size_t l = 0; l < w; l++) {
            double dev = a->cfg.alie_variance ? ss[l] / (double)nh : nh > 1 ? sqrt(ss[l] / (double)(nh - 1)) : 0.0;
            out[j0 + l] = (float)(mu[l] - a->z * dev);
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
static int sf_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    (void)a;
    if (!have_honest(c))
        return BG_EINVAL;
    scaled_mean(c->honest, c->nh, c->d, -1.0, out);
    return BG_OK;
}

/* ---------------------------------------------------------------- bit flip */

/* The worker's own honest message, negated value by value (indices untouched, so the wire size is that of
 * the honest message). Through EF21's server state this is Rammal et al.'s G_j -= C(grad - G_j). */
static void bf_message(const bg_attack_args_t *a, bg_msg_t *msg)
{
    (void)a;
    for (size_t k = 0; k < msg->nnz; k++)
        msg->val[k] = -msg->val[k];
}

/* ---------------------------------------------------------------- blind: zero, random, NaN payload */

static int zero_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    (void)a;
    memset(out, 0, c->d * sizeof *out);
    return BG_OK;
}

static int random_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    if (!c->rng)
        return BG_EINVAL;
    for (size_t l = 0; l < c->d; l++)
        out[l] = (float)gsl_ran_gaussian_ziggurat(c->rng, a->cfg.sigma);
    return BG_OK;
}

static double random_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    (void)nh;
    return 10.0 * (double)d;   /* a ziggurat draw is a handful of flops and a table look-up */
}

static int nan_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    const float v = (float)a->cfg.payload;
    for (size_t l = 0; l < c->d; l++)
        out[l] = v;
    return BG_OK;
}

/* ---------------------------------------------------------------- gaussian */

/* Noise around the honest mean, drawn per attacker. ByzFL's and byzpy's GAU ignore the honest values (a pure
 * N(mu, sigma^2) vector: that is `random` here); this omniscient variant is the one that stays inside the
 * honest cloud for small sigma, and is what [S]'s (broken) NO attack meant: an honest-looking vector plus
 * N(0, 0.5^2 I). */
static int gaussian_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    if (!have_honest(c) || !c->rng)
        return BG_EINVAL;
    scaled_mean(c->honest, c->nh, c->d, 1.0, out);
    for (size_t l = 0; l < c->d; l++)
        out[l] = (float)((double)out[l] + gsl_ran_gaussian_ziggurat(c->rng, a->cfg.sigma));
    return BG_OK;
}

static double gaussian_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    return mean_flops(a, nh, d) + random_flops(a, nh, d) + (double)d;
}

/* ---------------------------------------------------------------- mimic */

/* [S] MimicVariantAttacker: during warm-up, a running mean mu of the honest averages and one power-iteration
 * step per round on the honest scatter about mu, z <- normalise(sum_i ((h_i - mu).z)(h_i - mu)); the target
 * worker is the honest one with the largest h.z. After warm-up that worker is fixed and copied every round. */
typedef struct {
    size_t d, seen, target;
    int have_z;
    double *mu, *z, *step;
} mimic_st_t;

static void mimic_free(void *p)
{
    mimic_st_t *s = p;
    if (!s)
        return;
    free(s->mu);
    free(s->z);
    free(s->step);
    free(s);
}

static int mimic_new(const bg_attack_args_t *a, size_t d, void **st)
{
    (void)a;
    *st = NULL;
    mimic_st_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->d = d;
    s->mu = calloc(d ? d : 1, sizeof *s->mu);
    s->z = calloc(d ? d : 1, sizeof *s->z);
    s->step = calloc(d ? d : 1, sizeof *s->step);
    if (!s->mu || !s->z || !s->step) {
        mimic_free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

static int mimic_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    mimic_st_t *s = c->state;
    if (!have_honest(c) || !s || s->d != c->d)
        return BG_EINVAL;
    const size_t nh = c->nh, d = c->d;
    if (s->seen < a->cfg.mimic_warmup) {
        if (!s->have_z) {
            if (!c->rng)
                return BG_EINVAL;
            /* [S] draws z0 from a torch generator seeded with 0; here it is the attacker's own stream. */
            for (size_t l = 0; l < d; l++)
                s->z[l] = gsl_ran_gaussian_ziggurat(c->rng, 1.0);
            s->have_z = 1;
        }
        const double k = (double)s->seen;
        /* The round's honest average, summed row by row in worker order (step is scratch here). */
        for (size_t l = 0; l < d; l++)
            s->step[l] = 0.0;
        for (size_t i = 0; i < nh; i++)
            for (size_t l = 0; l < d; l++)
                s->step[l] += c->honest[i][l];
        for (size_t l = 0; l < d; l++) {
            s->mu[l] = (k * s->mu[l] + s->step[l] / (double)nh) / (k + 1.0);
            s->step[l] = 0.0;
        }
        for (size_t i = 0; i < nh; i++) {
            double w = 0.0;
            for (size_t l = 0; l < d; l++)
                w += (c->honest[i][l] - s->mu[l]) * s->z[l];
            for (size_t l = 0; l < d; l++)
                s->step[l] += w * (c->honest[i][l] - s->mu[l]);
        }
        double nrm = 0.0;
        for (size_t l = 0; l < d; l++)
            nrm += s->step[l] * s->step[l];
        nrm = sqrt(nrm);
        /* No scatter along z (a single honest worker, or all equal): keep the previous direction. */
        if (nrm > 0.0)
            for (size_t l = 0; l < d; l++)
                s->z[l] = s->step[l] / nrm;
        double best = -INFINITY;
        s->target = 0;
        for (size_t i = 0; i < nh; i++) {
            double p = 0.0;
            for (size_t l = 0; l < d; l++)
                p += c->honest[i][l] * s->z[l];
            if (p > best) {   /* first maximum wins; NaN products never do */
                best = p;
                s->target = i;
            }
        }
        s->seen++;
    }
    if (s->target >= nh)
        return BG_EINVAL;
    memcpy(out, c->honest[s->target], d * sizeof *out);
    return BG_OK;
}

/* ---------------------------------------------------------------- MinMax / MinSum */

/* m = mu - lambda sigma (sigma the unbiased per-coordinate std, [S]'s dev_type 'std'). With u_i = h_i - mu,
 * |h_i - m|^2 = |u_i|^2 + 2 lambda u_i.sigma + lambda^2 |sigma|^2, so one pass gives every distance the
 * search needs in O(nh) per step. The search is [S]'s: start at 10, step +-10/2, 10/4, ... while the last
 * success and the next trial differ by more than 1e-5; lambda = 0 (the mean) if nothing succeeds, at most
 * 20 if everything does. The constraint is convex in lambda and holds at 0, so the search brackets the
 * largest feasible lambda. */
static int dev_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out, int sum)
{
    (void)a;
    if (!have_honest(c))
        return BG_EINVAL;
    const size_t nh = c->nh, d = c->d;
    const float *const *h = c->honest;
    double *mu = malloc((d ? d : 1) * sizeof *mu), *sd = malloc((d ? d : 1) * sizeof *sd);
    double *aa = calloc(nh, sizeof *aa), *bb = calloc(nh, sizeof *bb), *dist = calloc(nh * nh, sizeof *dist);
    int rc = BG_OK;
    if (!mu || !sd || !aa || !bb || !dist) {
        rc = BG_ENOMEM;
        goto out;
    }
    double cc = 0.0;
    for (size_t j0 = 0; j0 < d; j0 += ATK_BLOCK) {
        size_t w = d - j0 < ATK_BLOCK ? d - j0 : ATK_BLOCK;
        block_moments(h, nh, j0, w, mu + j0, sd + j0);
        for (size_t l = 0; l < w; l++) {
            sd[j0 + l] = nh > 1 ? sqrt(sd[j0 + l] / (double)(nh - 1)) : 0.0;
            cc += sd[j0 + l] * sd[j0 + l];
        }
        for (size_t i = 0; i < nh; i++) {
            double sa = 0.0, sb = 0.0;
            for (size_t l = 0; l < w; l++) {
                double u = h[i][j0 + l] - mu[j0 + l];
                sa += u * u;
                sb += u * sd[j0 + l];
            }
            aa[i] += sa;
            bb[i] += sb;
            for (size_t k = i + 1; k < nh; k++) {
                double s = 0.0;
                for (size_t l = 0; l < w; l++) {
                    double t = (double)h[i][j0 + l] - h[k][j0 + l];
                    s += t * t;
                }
                dist[i * nh + k] += s;
            }
        }
    }
    double bound = 0.0;
    for (size_t i = 0; i < nh; i++) {
        double row = 0.0;
        for (size_t k = 0; k < nh; k++) {
            double v = i < k ? dist[i * nh + k] : dist[k * nh + i];
            row += v;
            if (!sum && v > bound)
                bound = v;
        }
        if (sum && row > bound)
            bound = row;
    }
    double lam = DEV_LAMBDA0, fail = DEV_LAMBDA0, succ = 0.0;
    while (fabs(succ - lam) > DEV_TOL) {
        double val = 0.0;
        for (size_t i = 0; i < nh; i++) {
            double di = aa[i] + 2.0 * lam * bb[i] + lam * lam * cc;
            val = sum ? val + di : (di > val ? di : val);
        }
        if (val <= bound) {
            succ = lam;
            lam += fail / 2.0;
        } else {
            lam -= fail / 2.0;
        }
        fail /= 2.0;
    }
    for (size_t l = 0; l < d; l++)
        out[l] = (float)(mu[l] - succ * sd[l]);
out:
    free(mu);
    free(sd);
    free(aa);
    free(bb);
    free(dist);
    return rc;
}

static int minmax_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    return dev_target(a, c, out, 0);
}

static int minsum_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    return dev_target(a, c, out, 1);
}

static double dev_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    double n = (double)nh, dd = (double)d;
    /* moments (4nd + 3d), u.u and u.sigma (5nd), pairwise distances (3 d n(n-1)/2), 21 search steps of 5n,
     * output 2d. */
    return 9.0 * n * dd + 5.0 * dd + 1.5 * dd * n * (n - 1.0) + 21.0 * 5.0 * n;
}

/* ---------------------------------------------------------------- ROP */

/* Relocated orthogonal perturbation ([R]): q = 0.9 q_prev + 0.1 Gbar with q_prev = Gbar at the first round
 * with an aggregate; d = the component of the all-ones vector orthogonal to q, normalised; target = d +
 * q_prev. It reads only the last aggregate, which the server applies openly, so it is blind here (it needs
 * no honest vector and sends without waiting for them); before any aggregate exists it sends 0. When the
 * all-ones vector is parallel to q (or q = 0) the perturbation is the normalised e_0 - proj_q(e_0), or
 * 1/sqrt(d) when q = 0; with d = 1 and q != 0 no orthogonal direction exists and the perturbation is 0. */
typedef struct {
    size_t d;
    int init;
    double *q, *qprev, *p;   /* q, the q of the previous round, scratch perturbation */
} rop_st_t;

static void rop_free(void *p)
{
    rop_st_t *s = p;
    if (!s)
        return;
    free(s->q);
    free(s->qprev);
    free(s->p);
    free(s);
}

static int rop_new(const bg_attack_args_t *a, size_t d, void **st)
{
    (void)a;
    *st = NULL;
    rop_st_t *s = calloc(1, sizeof *s);
    if (!s)
        return BG_ENOMEM;
    s->d = d;
    s->q = calloc(d ? d : 1, sizeof *s->q);
    s->qprev = calloc(d ? d : 1, sizeof *s->qprev);
    s->p = calloc(d ? d : 1, sizeof *s->p);
    if (!s->q || !s->qprev || !s->p) {
        rop_free(s);
        return BG_ENOMEM;
    }
    *st = s;
    return BG_OK;
}

/* p = v - (v.q / q.q) q for v = ones (e0 = 0) or e_0 (e0 = 1); returns |p|^2. */
static double rop_orth(const double *q, size_t d, int e0, double *p)
{
    double vq = 0.0, qq = 0.0;
    for (size_t l = 0; l < d; l++) {
        vq += e0 ? (l == 0 ? q[l] : 0.0) : q[l];
        qq += q[l] * q[l];
    }
    double r = qq > 0.0 ? vq / qq : 0.0, pp = 0.0;
    for (size_t l = 0; l < d; l++) {
        double v = e0 ? (l == 0 ? 1.0 : 0.0) : 1.0;
        p[l] = v - r * q[l];
        pp += p[l] * p[l];
    }
    return pp;
}

static int rop_target(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out)
{
    (void)a;
    rop_st_t *s = c->state;
    const size_t d = c->d;
    if (!s || s->d != d)
        return BG_EINVAL;
    if (!c->prev_agg) {
        memset(out, 0, d * sizeof *out);
        return BG_OK;
    }
    if (!s->init) {
        for (size_t l = 0; l < d; l++)
            s->q[l] = c->prev_agg[l];
        s->init = 1;
    }
    for (size_t l = 0; l < d; l++) {
        s->qprev[l] = s->q[l];
        s->q[l] = 0.9 * s->q[l] + 0.1 * (double)c->prev_agg[l];
    }
    /* Below |p|^2 = 1e-20 |v|^2 the vector v is taken as parallel to q (the direction would be rounding noise). */
    double pp = rop_orth(s->q, d, 0, s->p), inv = 0.0;
    if (pp > 1e-20 * (double)d) {
        inv = 1.0 / sqrt(pp);
    } else {
        pp = rop_orth(s->q, d, 1, s->p);
        inv = pp > 1e-20 ? 1.0 / sqrt(pp) : 0.0;
    }
    for (size_t l = 0; l < d; l++)
        out[l] = (float)(s->p[l] * inv + s->qprev[l]);
    return BG_OK;
}

static double rop_flops(const bg_attack_args_t *a, size_t nh, size_t d)
{
    (void)a;
    (void)nh;
    return 11.0 * (double)d;   /* q update (3d), dots (4d), projection and normalisation (4d) */
}

/* ---------------------------------------------------------------- registry */

static const char READS_NONE[] = "nothing: the worker's own data and the broadcast model";
static const char READS_HONEST[] = "the honest workers' server-side vectors of the round";

static const bg_attack_ops_t none_ops = {
    .name = "none",
    .summary = "no attack: Byzantine workers follow the protocol honestly",
    .kind = BG_ATK_DATA,
    .reads = READS_NONE,
    .flops = zero_flops,
};

static const bg_attack_ops_t lf_ops = {
    .name = "lf",
    .summary = "label flipping: honest training on labels y -> n_classes - 1 - y",
    .kind = BG_ATK_DATA,
    .reads = READS_NONE,
    .flips_labels = 1,
    .flops = zero_flops,
};

static const bg_attack_ops_t bf_ops = {
    .name = "bf",
    .summary = "bit flip: the worker's own honest message, negated",
    .kind = BG_ATK_DATA,
    .reads = "its own honest message (the worker's data and the broadcast model)",
    .message = bf_message,
    .flops = copy_flops,
};

static const bg_attack_ops_t ipm_ops = {
    .name = "ipm",
    .summary = "inner-product manipulation: -eps * mean(honest)",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .target = ipm_target,
    .flops = mean_flops,
};

static const bg_attack_ops_t alie_ops = {
    .name = "alie",
    .summary = "a little is enough: mu - z * std per coordinate (z from n and f unless set), or mu - z * var",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .target = alie_target,
    .flops = alie_flops,
};

static const bg_attack_ops_t sf_ops = {
    .name = "sf",
    .summary = "sign flip: -mean(honest)",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .target = sf_target,
    .flops = mean_flops,
};

static const bg_attack_ops_t mimic_ops = {
    .name = "mimic",
    .summary = "mimic: copies the honest worker most aligned with the scatter's top direction (fixed after warm-up)",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .state_new = mimic_new,
    .state_free = mimic_free,
    .target = mimic_target,
    .flops = copy_flops,   /* after warm-up; a warm-up round costs about 7 nh d */
};

static const bg_attack_ops_t minmax_ops = {
    .name = "minmax",
    .summary = "min-max: mu - lambda * std, largest lambda keeping max_i |h_i - m| within the honest diameter",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .target = minmax_target,
    .flops = dev_flops,
};

static const bg_attack_ops_t minsum_ops = {
    .name = "minsum",
    .summary = "min-sum: mu - lambda * std, largest lambda keeping sum_i |h_i - m|^2 within the honest maximum",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .target = minsum_target,
    .flops = dev_flops,
};

static const bg_attack_ops_t gaussian_ops = {
    .name = "gaussian",
    .summary = "gaussian: mean(honest) + N(0, sigma^2 I), drawn per attacker",
    .kind = BG_ATK_OMNISCIENT,
    .reads = READS_HONEST,
    .per_attacker = 1,
    .target = gaussian_target,
    .flops = gaussian_flops,
};

static const bg_attack_ops_t random_ops = {
    .name = "random",
    .summary = "random: N(0, sigma^2 I), drawn per attacker",
    .kind = BG_ATK_BLIND,
    .reads = "nothing: its own random stream",
    .per_attacker = 1,
    .target = random_target,
    .flops = random_flops,
};

static const bg_attack_ops_t zero_ops = {
    .name = "zero",
    .summary = "zero: the zero vector",
    .kind = BG_ATK_BLIND,
    .reads = "nothing",
    .target = zero_target,
    .flops = zero_flops,
};

static const bg_attack_ops_t nan_ops = {
    .name = "nan",
    .summary = "non-finite payload: every value is payload (NaN, +Inf or -Inf)",
    .kind = BG_ATK_BLIND,
    .reads = "nothing",
    .target = nan_target,
    .flops = zero_flops,
};

static const bg_attack_ops_t rop_ops = {
    .name = "rop",
    .summary = "relocated orthogonal perturbation: unit vector orthogonal to a momentum of aggregates, plus it",
    .kind = BG_ATK_BLIND,
    .reads = "the last aggregate the server applied (0 is sent before the first)",
    .state_new = rop_new,
    .state_free = rop_free,
    .target = rop_target,
    .flops = rop_flops,
};

const bg_attack_ops_t *const bg_attack_registry[] = {
    &none_ops, &ipm_ops, &alie_ops, &sf_ops, &lf_ops, &bf_ops, &mimic_ops, &minmax_ops, &minsum_ops,
    &gaussian_ops, &random_ops, &zero_ops, &nan_ops, &rop_ops, NULL,
};

BG_REGISTRY_DEFINE(bg_attacks, "attack", bg_attack_registry, bg_attack_ops_t, bg_attack_find)

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

static int args_err(bg_err_t *err, int code, const char *key, const char *fmt, const char *name, double v)
{
    bg_err_set(err, code, NULL, 0, fmt, name, v);
    bg_err_key(err, key);
    return code;
}

int bg_attack_args_init(bg_attack_args_t *a, const bg_attack_cfg_t *cfg, size_t n, size_t f, bg_err_t *err)
{
    memset(a, 0, sizeof *a);
    char name[sizeof cfg->name + 1];
    memcpy(name, cfg->name, sizeof cfg->name);
    name[sizeof cfg->name] = '\0';
    if (!bg_attack_find(name)) {
        bg_registry_unknown(&bg_attacks, name, err);
        bg_err_key(err, "attack.name");
        return BG_ENOTFOUND;
    }
    if (!isfinite(cfg->eps))
        return args_err(err, BG_ERANGE, "attack.eps", "attack %s: eps = %g must be finite", name, cfg->eps);
    if (!isnan(cfg->z) && !isfinite(cfg->z))
        return args_err(err, BG_ERANGE, "attack.z", "attack %s: z = %g must be finite (or NAN to derive it)", name,
                        cfg->z);
    if (cfg->alie_variance != 0 && cfg->alie_variance != 1)
        return args_err(err, BG_ERANGE, "attack.alie_variance",
                        "attack %s: alie_variance = %g must be 0 (std) or 1 (population variance)", name,
                        (double)cfg->alie_variance);
    if (!(isfinite(cfg->sigma) && cfg->sigma >= 0.0))
        return args_err(err, BG_ERANGE, "attack.sigma", "attack %s: sigma = %g must be finite and >= 0", name,
                        cfg->sigma);
    if (strcmp(name, "nan") == 0 && isfinite(cfg->payload))
        return args_err(err, BG_ERANGE, "attack.payload",
                        "attack %s: payload = %g must be non-finite (NAN, inf or -inf)", name, cfg->payload);
    if (strcmp(name, "mimic") == 0 && cfg->mimic_warmup < 1)
        return args_err(err, BG_ERANGE, "attack.mimic_warmup",
                        "attack %s: mimic_warmup = %g must be at least 1 (the target is chosen during warm-up)",
                        name, (double)cfg->mimic_warmup);
    if (f > n) {
        bg_err_set(err, BG_ERANGE, NULL, 0, "attack %s: f = %zu Byzantine workers out of n = %zu", name, f, n);
        bg_err_key(err, "attack.f");
        return BG_ERANGE;
    }
    a->cfg = *cfg;
    memcpy(a->cfg.name, name, sizeof a->cfg.name);
    a->cfg.name[sizeof a->cfg.name - 1] = '\0';
    a->n = n;
    a->f = f;
    if (!isnan(cfg->z))
        a->z = cfg->z;
    else
        a->z = cfg->alie_variance ? ALIE_Z_VARIANCE : bg_attack_alie_z(n, f);
    return BG_OK;
}
