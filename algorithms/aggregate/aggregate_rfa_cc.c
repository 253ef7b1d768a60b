/* Aggregators that iterate on a centre kept in double: RFA (smoothed Weiszfeld geometric median) and centered
 * clipping, whose centre carries over from one round to the next. */
#include "aggregate_internal.h"

#include <math.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- RFA */

static int rfa_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (!(a->rfa_nu > 0.0) || !isfinite(a->rfa_nu))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "rfa: rfa_nu = %g must be a finite number > 0", a->rfa_nu);
    if (!(a->rfa_tol >= 0.0) || !isfinite(a->rfa_tol))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "rfa: rfa_tol = %g must be a finite number >= 0", a->rfa_tol);
    return BG_OK;
}

/* Smoothed Weiszfeld. The reference code [S] starts at z0 = 0; this starts at the coordinate-wise mean
 * instead: from 0 the 8-iteration cap is spent travelling towards the data, and when the cap binds the result
 * stays biased towards 0. Weights alpha_k = 1/n cancel in the ratio and are left out. */
static int rfa_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    const double nu = a->rfa_nu, tol = a->rfa_tol;
    if (!(nu > 0.0) || !isfinite(nu) || !(tol >= 0.0) || !isfinite(tol))
        return BG_EINVAL;
    double *z = malloc(d * sizeof *z);
    double *zn = malloc(d * sizeof *zn);
    double *dist2 = malloc(n * sizeof *dist2);
    double *beta = malloc(n * sizeof *beta);
    if (!z || !zn || !dist2 || !beta) {
        free(z);
        free(zn);
        free(dist2);
        free(beta);
        return BG_ENOMEM;
    }
    /* One pass over the input per iteration: each block of the new iterate is finished while the block's rows
     * are still in cache, so the distances to it (the next iteration's weights) are accumulated right there.
     * Start at the mean, kept in double so the iteration does not start from a rounded point. */
    double znorm2 = 0.0;
    for (size_t k = 0; k < n; k++)
        dist2[k] = 0.0;
    for (size_t j0 = 0; j0 < d; j0 += BG_AGG_MEAN_BLOCK) {
        size_t w = d - j0 < BG_AGG_MEAN_BLOCK ? d - j0 : BG_AGG_MEAN_BLOCK;
        bg_agg_wsum(in, n, NULL, j0, w, z + j0);
        for (size_t l = 0; l < w; l++) {
            z[j0 + l] /= (double)n;
            znorm2 += z[j0 + l] * z[j0 + l];
        }
        if (a->rfa_iters > 0)
            for (size_t k = 0; k < n; k++)
                dist2[k] += bg_agg_row_dist2(z + j0, in[k] + j0, w);
    }
    for (size_t it = 0; it < a->rfa_iters; it++) {
        const int last = it + 1 == a->rfa_iters;
        double sb = 0.0;
        for (size_t k = 0; k < n; k++) {
            double dk = sqrt(dist2[k]);
            beta[k] = 1.0 / (dk > nu ? dk : nu);
            sb += beta[k];
            dist2[k] = 0.0;
        }
        const double zn_old = sqrt(znorm2);
        double move2 = 0.0;
        znorm2 = 0.0;
        for (size_t j0 = 0; j0 < d; j0 += BG_AGG_MEAN_BLOCK) {
            size_t w = d - j0 < BG_AGG_MEAN_BLOCK ? d - j0 : BG_AGG_MEAN_BLOCK;
            double *acc = zn + j0;
            bg_agg_wsum(in, n, beta, j0, w, acc);
            for (size_t l = 0; l < w; l++) {
                acc[l] /= sb;
                double t = acc[l] - z[j0 + l];
                move2 += t * t;
                znorm2 += acc[l] * acc[l];
            }
            if (!last)
                for (size_t k = 0; k < n; k++)
                    dist2[k] += bg_agg_row_dist2(acc, in[k] + j0, w);
        }
        double *tmp = z;
        z = zn;
        zn = tmp;
        if (sqrt(move2) <= tol * (1.0 + zn_old))
            break;
    }
    for (size_t j = 0; j < d; j++)
        out[j] = (float)z[j];
    free(z);
    free(zn);
    free(dist2);
    free(beta);
    return BG_OK;
}

static double rfa_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    /* Start: the mean (nd). Each iteration, charged at the cap: distances to z (3nd), the weighted sum (2nd),
     * z's norm, the divide and the move (5d). */
    double nd = (double)n * (double)d;
    return nd + (double)a->rfa_iters * (5.0 * nd + 5.0 * (double)d);
}

const bg_aggregator_ops_t bg_agg_rfa_ops = {
    .name = "rfa",
    .summary = "smoothed geometric median (Weiszfeld from the mean, rfa_iters, rfa_nu, rfa_tol)",
    .needs_honest_majority = 1,
    .check = rfa_check,
    .run = rfa_run,
    .flops = rfa_flops,
};

/* ---------------------------------------------------------------- centered clipping */

static int cc_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (!(a->cc_tau > 0.0) || !isfinite(a->cc_tau))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "cc: cc_tau = %g must be a finite number > 0", a->cc_tau);
    if (a->cc_iters < 1)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "cc: cc_iters = %zu must be >= 1", a->cc_iters);
    return BG_OK;
}

static int cc_state_new(const bg_agg_args_t *a, size_t n, size_t d, void **st)
{
    (void)a;
    (void)n;
    *st = calloc(d, sizeof(double));   /* the centre starts at 0, as in [S] */
    return *st ? BG_OK : BG_ENOMEM;
}

static void cc_state_free(void *st)
{
    free(st);
}

/* Karimireddy et al. 2021: v <- v + (1/n) sum_i clip_tau(x_i - v), cc_iters times, v carried across calls in
 * the state (double, so a long run does not accumulate float rounding). Without a state (direct callers) the
 * centre starts at 0 every call. Each iteration is two passes: the n distances, then the weighted sum written
 * as v (1 - sum w / n) + (1/n) sum w_i x_i. */
static int cc_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (!(a->cc_tau > 0.0) || !isfinite(a->cc_tau))
        return BG_EINVAL;
    double *v = st ? st : calloc(d, sizeof *v);
    double *wt = malloc(n * sizeof *wt);
    if (!v || !wt) {
        if (!st)
            free(v);
        free(wt);
        return BG_ENOMEM;
    }
    double acc[BG_AGG_MEAN_BLOCK];
    for (size_t it = 0; it < a->cc_iters; it++) {
        double sw = 0.0;
        for (size_t i = 0; i < n; i++) {
            double nr = sqrt(bg_agg_row_dist2(v, in[i], d));
            wt[i] = nr > a->cc_tau ? a->cc_tau / nr : 1.0;
            sw += wt[i];
        }
        const double keep = 1.0 - sw / (double)n;
        for (size_t j0 = 0; j0 < d; j0 += BG_AGG_MEAN_BLOCK) {
            size_t w = d - j0 < BG_AGG_MEAN_BLOCK ? d - j0 : BG_AGG_MEAN_BLOCK;
            bg_agg_wsum(in, n, wt, j0, w, acc);
            for (size_t l = 0; l < w; l++)
                v[j0 + l] = v[j0 + l] * keep + acc[l] / (double)n;
        }
    }
    for (size_t j = 0; j < d; j++)
        out[j] = (float)v[j];
    if (!st)
        free(v);
    free(wt);
    return BG_OK;
}

static double cc_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    /* Per iteration: distances (3nd), weighted sum (2nd), the update (3d). */
    double nd = (double)n * (double)d;
    return (double)a->cc_iters * (5.0 * nd + 3.0 * (double)d);
}

const bg_aggregator_ops_t bg_agg_cc_ops = {
    .name = "cc",
    .summary = "centered clipping: cc_iters steps of radius cc_tau from the previous output (starts at 0)",
    .needs_honest_majority = 1,
    .check = cc_check,
    .state_new = cc_state_new,
    .state_free = cc_state_free,
    .run = cc_run,
    .flops = cc_flops,
};
