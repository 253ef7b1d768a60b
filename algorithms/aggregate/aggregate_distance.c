/* Aggregators that keep whole inputs chosen by their pairwise distances (Krum, Multi-Krum, Bulyan, MoNNA, MDA) or
 * by a spectral outlier score (DnC), then average what they kept. */
#include "aggregate_internal.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_eigen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int dbl_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* out = mean of the rows of in flagged in mark, in index order (so ties in how they were chosen never change
 * the bits). */
static int mean_marked(const float *const *in, size_t n, size_t d, const unsigned char *mark, float *out)
{
    const float **p = malloc(n * sizeof *p);
    if (!p)
        return BG_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (mark[i])
            p[m++] = in[i];
    if (m == 0) {
        free(p);
        return BG_EINVAL;
    }
    bg_agg_mean_rows(p, m, d, out);
    free(p);
    return BG_OK;
}

/* out = mean of the m inputs of smallest score, ties to the lower index (as the references break them). c and
 * mark are n entries of scratch, mark all 0. */
static int mean_best(const float *const *in, size_t n, size_t d, const double *score, size_t m, bg_agg_cand_t *c,
                     unsigned char *mark, float *out)
{
    for (size_t i = 0; i < n; i++) {
        c[i].dist = score[i];
        c[i].idx = i;
    }
    bg_agg_cand_sort(c, n);
    for (size_t q = 0; q < m; q++)
        mark[c[q].idx] = 1;
    return mean_marked(in, n, d, mark, out);
}

/* ---------------------------------------------------------------- Krum, Multi-Krum, Bulyan */

static int krum_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)n;
    (void)d;
    if (a->krum_power != 2 && a->krum_power != 4)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "krum_power = %d: the Krum score sums distances to the power 2 (textbook) or 4 ([S])",
                          a->krum_power);
    return BG_OK;
}

/* score[a] for the m candidates idx[0..m): the sum of the m - f - 2 smallest |x_a - x_b|^power over b != a
 * (textbook Krum, self excluded). When m <= f + 2 the textbook count is empty; the nearest one is used so
 * the rule still ranks (Krum's guarantee needs n > 2f + 2 anyway). tmp holds m doubles. */
static void krum_scores(const double *D, size_t n, const size_t *idx, size_t m, size_t f, int power, double *score,
                        double *tmp)
{
    size_t k = m > f + 2 ? m - f - 2 : 1;
    if (k > m - 1)
        k = m - 1;
    for (size_t p = 0; p < m; p++) {
        size_t q = 0;
        for (size_t b = 0; b < m; b++)
            if (b != p) {
                double x = D[idx[p] * n + idx[b]];
                tmp[q++] = power == 4 ? x * x : x;
            }
        qsort(tmp, q, sizeof *tmp, dbl_cmp);
        double s = 0.0;
        for (size_t t = 0; t < k; t++)
            s += tmp[t];
        score[p] = s;
    }
}

/* Average of the m best-scored vectors (m = 1: Krum). */
static int krum_select(const bg_agg_args_t *a, const float *const *in, size_t n, size_t d, size_t m, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (m > n)
        m = n;
    double *D = malloc(n * n * sizeof *D), *score = malloc(n * sizeof *score), *tmp = malloc(n * sizeof *tmp);
    size_t *idx = malloc(n * sizeof *idx);
    bg_agg_cand_t *c = malloc(n * sizeof *c);
    unsigned char *mark = calloc(n, 1);
    int rc = BG_ENOMEM;
    if (D && score && tmp && idx && c && mark && (rc = bg_agg_pair_dist2(in, n, d, D)) == BG_OK) {
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        krum_scores(D, n, idx, n, a->f, a->krum_power, score, tmp);
        rc = mean_best(in, n, d, score, m, c, mark, out);
    }
    free(D);
    free(score);
    free(tmp);
    free(idx);
    free(c);
    free(mark);
    return rc;
}

static int krum_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return krum_select(a, in, n, d, 1, out);
}

static int multikrum_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return krum_select(a, in, n, d, a->krum_m ? a->krum_m : n - a->f, out);
}

static double krum_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    double nn = (double)n;
    /* Distances, n sorts of n - 1 scores, the copy of the winner. */
    return bg_agg_pair_dist2_flops(n, d) + nn * nn * (nn > 1 ? log2(nn) : 1.0) + (double)d;
}

static double multikrum_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    size_t m = a->krum_m ? a->krum_m : (n > a->f ? n - a->f : 1);
    return krum_flops(a, n, d) + (double)m * (double)d;
}

static int bulyan_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    if (n <= 4 * a->f)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "bulyan needs n > 4f: n = %zu, f = %zu", n, a->f);
    return krum_check(a, n, d, err);
}

/* El Mhamdi et al. 2018: theta = n - 2f vectors picked one by one as the Krum winner among those left (score
 * over the m left: the m - f - 2 nearest, self excluded; [S] counts the self-distance 0 among them, which is
 * not exposed), then per coordinate the mean of the theta - 2f values closest to the median of the picked.
 * Each row of distances is sorted once; a round walks the sorted rows skipping the picked, so the selection
 * costs n^2 per round instead of n^2 log n. The scores are the same sums in the same (ascending) order as
 * krum_scores would form. */
static int bulyan_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    const size_t f = a->f;
    if (n == 0 || n <= 4 * f)
        return BG_ERANGE;
    const size_t theta = n - 2 * f;
    double *D = malloc(n * n * sizeof *D);
    bg_agg_cand_t *ord = malloc(n * n * sizeof *ord);
    unsigned char *gone = calloc(n, 1);
    const float **sel = malloc(theta * sizeof *sel);
    int rc = BG_ENOMEM;
    if (D && ord && gone && sel && (rc = bg_agg_pair_dist2(in, n, d, D)) == BG_OK) {
        for (size_t p = 0; p < n; p++) {
            bg_agg_cand_t *o = ord + p * n;
            for (size_t j = 0; j < n; j++) {
                double x = D[p * n + j];
                o[j].dist = a->krum_power == 4 ? x * x : x;
                o[j].idx = j;
            }
            bg_agg_cand_sort(o, n);
        }
        for (size_t s = 0; s < theta; s++) {
            const size_t m = n - s;
            size_t k = m > f + 2 ? m - f - 2 : 1;
            if (k > m - 1)
                k = m - 1;
            size_t best = n;
            double bs = INFINITY;
            for (size_t p = 0; p < n; p++) {
                if (gone[p])
                    continue;
                const bg_agg_cand_t *o = ord + p * n;
                double sc = 0.0;
                for (size_t r = 0, t = 0; t < k; r++) {
                    size_t j = o[r].idx;
                    if (j == p || gone[j])
                        continue;
                    sc += o[r].dist;
                    t++;
                }
                if (best == n || sc < bs) {   /* ascending p: ties go to the lower index */
                    bs = sc;
                    best = p;
                }
            }
            sel[s] = in[best];
            gone[best] = 1;
        }
        rc = bg_agg_median_window(sel, theta, d, theta - 2 * f, out);
    }
    free(D);
    free(ord);
    free(gone);
    free(sel);
    return rc;
}

static double bulyan_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    size_t theta = n > 2 * a->f ? n - 2 * a->f : 1;
    double nn = (double)n;
    return bg_agg_pair_dist2_flops(n, d) + (double)theta * nn * nn * (nn > 1 ? log2(nn) : 1.0) +
           bg_agg_median_window_flops(theta, theta > 2 * a->f ? theta - 2 * a->f : 1, d);
}

/* ---------------------------------------------------------------- MoNNA */

/* ByzFL's MoNNA averages the n - f nearest neighbours of a trusted vector (the server's own, fixed index).
 * Here every input is anonymous and possibly Byzantine, so the pivot is the input whose n - f nearest
 * (itself included) have the smallest sum of Euclidean distances to it; ties to the lower index. */
static int monna_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    const size_t keep = n - a->f;
    double *D = malloc(n * n * sizeof *D), *row = malloc(n * sizeof *row);
    bg_agg_cand_t *c = malloc(n * sizeof *c);
    unsigned char *mark = calloc(n, 1);
    int rc = BG_ENOMEM;
    if (D && row && c && mark && (rc = bg_agg_pair_dist2(in, n, d, D)) == BG_OK) {
        size_t piv = 0;
        double best = INFINITY;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++)
                row[j] = sqrt(D[i * n + j]);
            qsort(row, n, sizeof *row, dbl_cmp);
            double s = 0.0;
            for (size_t q = 0; q < keep; q++)
                s += row[q];
            if (s < best) {
                best = s;
                piv = i;
            }
        }
        rc = mean_best(in, n, d, D + piv * n, keep, c, mark, out);
    }
    free(D);
    free(row);
    free(c);
    free(mark);
    return rc;
}

static double monna_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    double nn = (double)n;
    return bg_agg_pair_dist2_flops(n, d) + nn * nn * (nn > 1 ? log2(nn) : 1.0) + (double)(n - a->f) * (double)d;
}

/* ---------------------------------------------------------------- MDA */

static double binom(size_t n, size_t k)
{
    if (k > n)
        return 0.0;
    if (k > n - k)
        k = n - k;
    double c = 1.0;
    for (size_t i = 1; i <= k; i++)
        c = c * (double)(n - k + i) / (double)i;
    return floor(c + 0.5);
}

static int mda_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    (void)d;
    double c = binom(n, a->f);
    if (!(c <= a->mda_max_subsets))
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "mda: C(n, n - f) = C(%zu, %zu) = %.10g subsets exceeds mda_max_subsets = %g; lower f or "
                          "raise mda_max_subsets",
                          n, n - a->f, c, a->mda_max_subsets);
    return BG_OK;
}

typedef struct {
    const double *D;
    size_t n, k;
    size_t *cur, *best_set;
    double *pd;   /* pd[t]: squared diameter of cur[0..t) */
    double best;
} mda_ctx_t;

/* Depth-first over subsets in lexicographic order; a branch is cut as soon as its partial diameter reaches the
 * best (a superset is never smaller), and only a strictly smaller diameter replaces the best, so ties keep the
 * first subset in lexicographic order, as itertools.combinations in ByzFL does. */
static void mda_dfs(mda_ctx_t *x, size_t t, size_t start)
{
    if (t == x->k) {
        if (x->pd[t] < x->best) {
            x->best = x->pd[t];
            memcpy(x->best_set, x->cur, x->k * sizeof *x->cur);
        }
        return;
    }
    for (size_t i = start; i + (x->k - t) <= x->n; i++) {
        double dm = x->pd[t];
        for (size_t s = 0; s < t; s++) {
            double v = x->D[x->cur[s] * x->n + i];
            if (v > dm)
                dm = v;
        }
        if (dm >= x->best)
            continue;
        x->cur[t] = i;
        x->pd[t + 1] = dm;
        mda_dfs(x, t + 1, i + 1);
    }
}

/* Minimum-diameter averaging: the mean of the n - f inputs whose largest pairwise distance is smallest. */
static int mda_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    if (!(binom(n, a->f) <= a->mda_max_subsets))
        return BG_ERANGE;
    const size_t k = n - a->f;
    double *D = malloc(n * n * sizeof *D), *pd = malloc((k + 1) * sizeof *pd);
    size_t *cur = malloc(k * sizeof *cur), *bs = malloc(k * sizeof *bs);
    unsigned char *mark = calloc(n, 1);
    int rc = BG_ENOMEM;
    if (D && pd && cur && bs && mark && (rc = bg_agg_pair_dist2(in, n, d, D)) == BG_OK) {
        mda_ctx_t x = {D, n, k, cur, bs, pd, INFINITY};
        pd[0] = 0.0;
        mda_dfs(&x, 0, 0);
        if (x.best == INFINITY) {   /* every subset has an infinite diameter: keep the first */
            for (size_t q = 0; q < k; q++)
                bs[q] = q;
        }
        for (size_t q = 0; q < k; q++)
            mark[bs[q]] = 1;
        rc = mean_marked(in, n, d, mark, out);
    }
    free(D);
    free(pd);
    free(cur);
    free(bs);
    free(mark);
    return rc;
}

static double mda_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    /* Charged at the worst case: every subset visited, k pair lookups per new member. */
    size_t k = n > a->f ? n - a->f : 1;
    return bg_agg_pair_dist2_flops(n, d) + binom(n, a->f) * (double)k + (double)k * (double)d;
}

/* ---------------------------------------------------------------- DnC */

static size_t dnc_removed(const bg_agg_args_t *a)
{
    return (size_t)floor(a->dnc_filter_frac * (double)a->f);
}

static int dnc_check(const bg_agg_args_t *a, size_t n, size_t d, bg_err_t *err)
{
    if (a->dnc_iters < 1 || a->dnc_sub_dim < 1)
        return bg_err_set(err, BG_ERANGE, NULL, 0, "dnc: dnc_iters = %zu and dnc_sub_dim = %zu must be >= 1",
                          a->dnc_iters, a->dnc_sub_dim);
    if (!(a->dnc_filter_frac >= 0.0) || !isfinite(a->dnc_filter_frac))
        return bg_err_set(err, BG_ERANGE, NULL, 0, "dnc: dnc_filter_frac = %g must be a finite number >= 0",
                          a->dnc_filter_frac);
    size_t rm = dnc_removed(a);
    if ((double)a->dnc_iters * (double)rm >= (double)n)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "dnc: dnc_iters x floor(dnc_filter_frac x f) = %zu x %zu would remove all n = %zu inputs",
                          a->dnc_iters, rm, n);
    if (a->dnc_sub_dim < d && !a->rng)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "dnc: subsampling %zu of d = %zu coordinates needs the server's RNG stream (args.rng)",
                          a->dnc_sub_dim, d);
    return BG_OK;
}

static int uint_cmp(const void *pa, const void *pb)
{
    unsigned a = *(const unsigned *)pa, b = *(const unsigned *)pb;
    return (a > b) - (a < b);
}

/* Shejwalkar & Houmansadr 2021 (as in [S] dnc.py): per iteration, b random coordinates, centred; score
 * s_i = ((x_i - mu) . v)^2 with v the top right singular vector; the n - floor(frac f) lowest scores are kept;
 * the kept sets of all iterations are intersected and averaged on all coordinates. With C the centred n x b
 * sample and (lambda, u) the top eigenpair of C C^T, C v = sqrt(lambda) u, so s_i = lambda u_i^2: an exact
 * n x n eigenproblem (GSL) replaces the b-dimensional SVD. */
static int dnc_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    const size_t b = a->dnc_sub_dim < d ? a->dnc_sub_dim : d;
    if (b == 0 || a->dnc_iters == 0 || (b < d && !a->rng))
        return BG_EINVAL;
    const size_t rm = dnc_removed(a);
    if (a->dnc_iters * rm >= n)
        return BG_ERANGE;
    unsigned *cols = b < d ? malloc(d * sizeof *cols) : NULL;
    double *C = malloc(n * b * sizeof *C), *G = malloc(n * n * sizeof *G), *mu = malloc(b * sizeof *mu);
    bg_agg_cand_t *c = malloc(n * sizeof *c);
    unsigned char *good = malloc(n), *keep = malloc(n);
    gsl_matrix *ev = gsl_matrix_alloc(n, n);
    gsl_vector *eval = gsl_vector_alloc(n);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(n);
    int rc = BG_ENOMEM;
    if ((b < d && !cols) || !C || !G || !mu || !c || !good || !keep || !ev || !eval || !ws)
        goto done;
    memset(good, 1, n);
    for (size_t it = 0; it < a->dnc_iters; it++) {
        if (b < d) {
            /* Partial Fisher-Yates: the first b entries are a uniform sample without replacement. */
            for (size_t j = 0; j < d; j++)
                cols[j] = (unsigned)j;
            for (size_t j = 0; j < b; j++) {
                size_t r = j + gsl_rng_uniform_int(a->rng, d - j);
                unsigned t = cols[j];
                cols[j] = cols[r];
                cols[r] = t;
            }
            qsort(cols, b, sizeof *cols, uint_cmp);   /* ascending: the gathers walk memory forwards */
        }
        for (size_t l = 0; l < b; l++)
            mu[l] = 0.0;
        for (size_t i = 0; i < n; i++) {
            double *ci = C + i * b;
            if (cols)
                for (size_t l = 0; l < b; l++)
                    ci[l] = in[i][cols[l]];
            else
                for (size_t l = 0; l < b; l++)
                    ci[l] = in[i][l];
            for (size_t l = 0; l < b; l++)
                mu[l] += ci[l];
        }
        for (size_t l = 0; l < b; l++)
            mu[l] /= (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t l = 0; l < b; l++)
                C[i * b + l] -= mu[l];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)b, 1.0, C, (int)b, 0.0, G, (int)n);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                G[i * n + j] = G[j * n + i];
        gsl_matrix_view gv = gsl_matrix_view_array(G, n, n);
        if (gsl_eigen_symmv(&gv.matrix, eval, ev, ws)) {
            rc = BG_EINVAL;
            goto done;
        }
        size_t top = 0;
        for (size_t i = 1; i < n; i++)
            if (gsl_vector_get(eval, i) > gsl_vector_get(eval, top))
                top = i;
        double lam = gsl_vector_get(eval, top);
        for (size_t i = 0; i < n; i++) {
            double u = gsl_matrix_get(ev, i, top);
            c[i].dist = lam * u * u;
            c[i].idx = i;
        }
        bg_agg_cand_sort(c, n);
        memset(keep, 0, n);
        for (size_t q = 0; q < n - rm; q++)
            keep[c[q].idx] = 1;
        for (size_t i = 0; i < n; i++)
            good[i] &= keep[i];
    }
    rc = mean_marked(in, n, d, good, out);
done:
    free(cols);
    free(C);
    free(G);
    free(mu);
    free(c);
    free(good);
    free(keep);
    if (ev)
        gsl_matrix_free(ev);
    if (eval)
        gsl_vector_free(eval);
    if (ws)
        gsl_eigen_symmv_free(ws);
    return rc;
}

static double dnc_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    double b = (double)(a->dnc_sub_dim < d ? a->dnc_sub_dim : d), nn = (double)n;
    /* Per iteration: gather and centre (3nb), the Gram (n^2 b), the eigenproblem (~10 n^3), a sort. Then the
     * mean of the kept. */
    return (double)a->dnc_iters * (3.0 * nn * b + nn * nn * b + 10.0 * nn * nn * nn + nn * log2(nn + 1.0)) +
           nn * (double)d;
}

/* ---------------------------------------------------------------- ops */

const bg_aggregator_ops_t bg_agg_krum_ops = {
    .name = "krum",
    .summary = "Krum: the input with the smallest sum of distances^krum_power to its n - f - 2 nearest",
    .needs_honest_majority = 1,
    .check = krum_check,
    .run = krum_run,
    .flops = krum_flops,
};

const bg_aggregator_ops_t bg_agg_multikrum_ops = {
    .name = "multikrum",
    .summary = "Multi-Krum: mean of the krum_m best Krum scores (krum_m = 0: n - f)",
    .needs_honest_majority = 1,
    .check = krum_check,
    .run = multikrum_run,
    .flops = multikrum_flops,
};

const bg_aggregator_ops_t bg_agg_bulyan_ops = {
    .name = "bulyan",
    .summary = "Bulyan: n - 2f recursive Krum picks, then the n - 4f values nearest the median (needs n > 4f)",
    .needs_honest_majority = 1,
    .check = bulyan_check,
    .run = bulyan_run,
    .flops = bulyan_flops,
};

const bg_aggregator_ops_t bg_agg_monna_ops = {
    .name = "monna",
    .summary = "MoNNA: mean of the n - f nearest of the most central input (no trusted vector)",
    .needs_honest_majority = 1,
    .run = monna_run,
    .flops = monna_flops,
};

const bg_aggregator_ops_t bg_agg_mda_ops = {
    .name = "mda",
    .summary = "minimum-diameter averaging: exact search over the C(n, f) subsets (up to mda_max_subsets)",
    .needs_honest_majority = 1,
    .check = mda_check,
    .run = mda_run,
    .flops = mda_flops,
};

const bg_aggregator_ops_t bg_agg_dnc_ops = {
    .name = "dnc",
    .summary = "Divide-and-Conquer: drop the outliers along the top singular vector of dnc_sub_dim coordinates",
    .needs_honest_majority = 1,
    .check = dnc_check,
    .run = dnc_run,
    .flops = dnc_flops,
};
