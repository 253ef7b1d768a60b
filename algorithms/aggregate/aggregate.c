/* The aggregation pipeline (bg_robust_*: non-finite inputs dropped, then a pre-aggregator, then an aggregator)
 * and the registries naming every rule; the rules are in the other aggregate_*.c files. */
#include "aggregate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- registries */

const bg_aggregator_ops_t *const bg_aggregator_registry[] = {
    &bg_agg_mean_ops, &bg_agg_cm_ops, &bg_agg_cwtm_ops, &bg_agg_tm_ops, &bg_agg_rfa_ops, &bg_agg_krum_ops,
    &bg_agg_multikrum_ops, &bg_agg_cc_ops, &bg_agg_bulyan_ops, &bg_agg_meamed_ops, &bg_agg_mda_ops, &bg_agg_dnc_ops,
    &bg_agg_monna_ops, NULL,
};

const bg_preagg_ops_t *const bg_preagg_registry[] = {
    &bg_preagg_none_ops, &bg_preagg_nnm_ops, &bg_preagg_bucketing_ops, &bg_preagg_clip_ops, &bg_preagg_arc_ops, NULL,
};

BG_REGISTRY_DEFINE(bg_aggregators, "aggregator", bg_aggregator_registry, bg_aggregator_ops_t, bg_aggregator_find)
BG_REGISTRY_DEFINE(bg_preaggregators, "pre-aggregator", bg_preagg_registry, bg_preagg_ops_t, bg_preagg_find)

/* ---------------------------------------------------------------- pipeline */

static int is_identity_pre(const bg_preagg_ops_t *p)
{
    return !p || p == &bg_preagg_none_ops;
}

/* The f the aggregator is run with after the pre-aggregator handed on n_out rows. Each Byzantine input spoils at
 * most one bucket, so f_b = min(f, n_out) (worst case, no credit for the shuffle); the other pre-aggregators
 * map row i to row i and keep f. */
static size_t agg_f(size_t f, size_t n_out)
{
    return f < n_out ? f : n_out;
}

int bg_robust_init(bg_robust_t *r, const char *pre, const char *agg, const bg_agg_args_t *a, size_t n, size_t d,
                   bg_err_t *err)
{
    memset(r, 0, sizeof *r);
    const bg_preagg_ops_t *p = NULL;
    if (pre && pre[0]) {
        p = bg_preagg_find(pre);
        if (!p)
            return bg_registry_unknown(&bg_preaggregators, pre, err);
    }
    const bg_aggregator_ops_t *g = bg_aggregator_find(agg);
    if (!g)
        return bg_registry_unknown(&bg_aggregators, agg, err);
    if (is_identity_pre(p))
        p = NULL;
    if (!a)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "bg_robust_init needs the rules' arguments (bg_agg_args_default)");
    bg_agg_args_t args = *a;
    if (n == 0 || d == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "aggregation needs n >= 1 and d >= 1 (n = %zu, d = %zu)", n, d);
    if (args.f >= n)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n = %zu: at least one input must be honest",
                          args.f, n);
    if (2 * args.f >= n && p && p->needs_honest_majority)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n/2 = %g for %s", args.f, (double)n / 2.0,
                          p->name);
    int rc;
    if (p && p->check && (rc = p->check(&args, n, d, err)) != BG_OK)
        return rc;
    const size_t nb = bg_agg_pre_rows_out(p, &args, n);
    bg_agg_args_t gargs = args;
    gargs.f = agg_f(args.f, nb);
    if (2 * gargs.f >= nb && g->needs_honest_majority) {
        if (nb != n)
            return bg_err_set(err, BG_ERANGE, NULL, 0,
                              "f = %zu Byzantine inputs can spoil %zu of the %zu buckets (bucket_s = %zu); %s needs "
                              "fewer than half spoiled: lower f or bucket_s",
                              args.f, gargs.f, nb, args.bucket_s, g->name);
        return bg_err_set(err, BG_ERANGE, NULL, 0, "f = %zu needs f < n/2 = %g for %s", args.f, (double)n / 2.0,
                          g->name);
    }
    if (g->check && (rc = g->check(&gargs, nb, d, err)) != BG_OK)
        return rc;
    if (d > SIZE_MAX / sizeof(float) / n)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "aggregation scratch of %zu x %zu floats is too large", n, d);
    r->pre = p;
    r->agg = g;
    r->args = args;
    r->n = n;
    r->d = d;
    r->rows = malloc(n * sizeof *r->rows);
    r->kept = malloc(n * sizeof *r->kept);
    if (r->pre)
        r->buf = malloc(n * d * sizeof *r->buf);
    if (!r->rows || !r->kept || (r->pre && !r->buf) ||
        (p && p->state_new && p->state_new(&args, n, d, &r->pre_state) != BG_OK) ||
        (g->state_new && g->state_new(&gargs, nb, d, &r->agg_state) != BG_OK)) {
        bg_robust_destroy(r);
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for aggregation scratch (%zu x %zu floats)", n, d);
    }
    for (size_t i = 0; i < n; i++)
        r->rows[i] = r->buf ? r->buf + i * d : NULL;
    return BG_OK;
}

void bg_robust_destroy(bg_robust_t *r)
{
    if (!r)
        return;
    if (r->pre_state && r->pre && r->pre->state_free)
        r->pre->state_free(r->pre_state);
    if (r->agg_state && r->agg && r->agg->state_free)
        r->agg->state_free(r->agg_state);
    free(r->buf);
    free(r->rows);
    free(r->kept);
    memset(r, 0, sizeof *r);
}

/* Finiteness by exponent bits, OR-reduced per chunk: vectorizes (isfinite's early exit per value does not),
 * and still stops at the first bad chunk. */
static int row_finite(const float *x, size_t d)
{
    for (size_t j0 = 0; j0 < d; j0 += 1024) {
        size_t w = d - j0 < 1024 ? d - j0 : 1024;
        uint32_t bad = 0;
        for (size_t l = 0; l < w; l++) {
            uint32_t u;
            memcpy(&u, &x[j0 + l], sizeof u);
            bad |= (uint32_t)((u & 0x7F800000u) == 0x7F800000u);
        }
        if (bad)
            return 0;
    }
    return 1;
}

/* A NULL row counts as dropped too: a missing message is no more trustworthy than a poisoned one. Dropping k
 * rows keeps every check made at init valid: 2(f - k) < n - k, n - k > 4(f - k), C(n - k, f - k) <= C(n, f),
 * and with bucketing ceil((n - k)/s) >= ceil(n/s) - k. */
int bg_robust_run(bg_robust_t *r, const float *const *in, float *out, size_t *n_dropped)
{
    return bg_robust_run_m(r, in, r->n, out, n_dropped);
}

int bg_robust_run_m(bg_robust_t *r, const float *const *in, size_t n, float *out, size_t *n_dropped)
{
    size_t m = 0;
    if (n > r->n)
        return BG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (in[i] && row_finite(in[i], r->d))
            r->kept[m++] = in[i];
    }
    size_t dropped = n - m;
    if (n_dropped)
        *n_dropped = dropped;
    if (dropped > r->args.f || m == 0)
        return BG_ERANGE;
    bg_agg_args_t args = r->args;
    args.f -= dropped;
    if (r->pre) {
        size_t n_out = m;
        int rc = r->pre->run(&args, r->pre_state, r->kept, m, r->d, r->rows, &n_out);
        if (rc != BG_OK)
            return rc;
        if (n_out == 0 || n_out > m)
            return BG_EINVAL;
        args.f = agg_f(args.f, n_out);
        return r->agg->run(&args, r->agg_state, (const float *const *)r->rows, n_out, r->d, out);
    }
    return r->agg->run(&args, r->agg_state, r->kept, m, r->d, out);
}

/* m inputs with f unchanged: at least 2f + 1 of them (an honest majority among those present, whatever the rule),
 * and every condition bg_robust_init checks for the rule at n, now at m. */
int bg_robust_enough(const bg_robust_t *r, size_t m)
{
    const size_t f = r->args.f;
    if (m == 0 || m > r->n || m < 2 * f + 1)
        return 0;
    if (m == r->n)
        return 1;
    bg_err_t quiet;
    if (r->pre && r->pre->check && r->pre->check(&r->args, m, r->d, &quiet) != BG_OK)
        return 0;
    const size_t nb = bg_agg_pre_rows_out(r->pre, &r->args, m);
    bg_agg_args_t gargs = r->args;
    gargs.f = agg_f(f, nb);
    if (2 * gargs.f >= nb && r->agg->needs_honest_majority)
        return 0;
    return !(r->agg->check && r->agg->check(&gargs, nb, r->d, &quiet) != BG_OK);
}

double bg_robust_flops(const bg_robust_t *r) { return bg_robust_flops_m(r, r->n); }

double bg_robust_flops_m(const bg_robust_t *r, size_t n)
{
    size_t nb = bg_agg_pre_rows_out(r->pre, &r->args, n);
    bg_agg_args_t gargs = r->args;
    gargs.f = agg_f(r->args.f, nb);
    double fl = r->agg->flops(&gargs, nb, r->d);
    if (r->pre)
        fl += r->pre->flops(&r->args, n, r->d);
    return fl;
}
