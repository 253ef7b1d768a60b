/* Tests of the synthetic heterogeneous dataset (sizes, balance, zeta's effect, determinism) and of the exact
 * logreg optimum (zero gradient in float and double, minimality, shard weighting against plain GD, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

#include "bg_config.h"
#include "bg_data.h"
#include "bg_model.h"

static bg_synth_cfg_t synth_cfg(size_t groups, size_t per, size_t n_test, size_t d, double sep, double zeta)
{
    bg_synth_cfg_t c = {.n_groups = groups, .per_group = per, .n_test = n_test, .d = d, .separation = sep,
                        .zeta = zeta};
    return c;
}

static int make(const bg_synth_cfg_t *c, uint64_t seed, bg_dataset_t *tr, bg_dataset_t *te, bg_err_t *err)
{
    gsl_rng *r = bg_rng_stream(seed, BG_RNG_PARTITION, 0);
    bg_err_clear(err);
    int rc = bg_dataset_synthetic(c, r, tr, te, err);
    gsl_rng_free(r);
    return rc;
}

/* Mean of rows [from, to) with label lab (-1: any) into m (double). */
static void row_mean(const bg_dataset_t *ds, size_t from, size_t to, int lab, double *m)
{
    size_t cnt = 0;
    memset(m, 0, ds->d * sizeof *m);
    for (size_t i = from; i < to; i++)
        if (lab < 0 || ds->y[i] == lab) {
            for (size_t j = 0; j < ds->d; j++)
                m[j] += ds->X[i * ds->d + j];
            cnt++;
        }
    for (size_t j = 0; j < ds->d; j++)
        m[j] /= (double)cnt;
}

static double dist(const double *a, const double *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += (a[j] - b[j]) * (a[j] - b[j]);
    return sqrt(s);
}

static void test_synth_sizes_balance(void **state)
{
    (void)state;
    bg_synth_cfg_t c = synth_cfg(5, 2000, 3000, 20, 2.0, 0.5);
    bg_dataset_t tr, te;
    bg_err_t err;
    assert_int_equal(make(&c, 1, &tr, &te, &err), BG_OK);
    assert_int_equal(tr.n, 10000);
    assert_int_equal(tr.d, 20);
    assert_int_equal(tr.n_classes, 2);
    assert_int_equal(te.n, 3000);
    assert_int_equal(te.d, 20);
    assert_int_equal(te.n_classes, 2);
    assert_int_equal(tr.shape[0] + tr.shape[1] + tr.shape[2], 0);
    size_t ones = 0, tones = 0;
    for (size_t i = 0; i < tr.n; i++) {
        assert_true(tr.y[i] == 0 || tr.y[i] == 1);
        ones += (size_t)tr.y[i];
    }
    for (size_t i = 0; i < te.n; i++)
        tones += (size_t)te.y[i];
    /* Bernoulli(1/2): 4 standard deviations */
    assert_true(fabs((double)ones / 10000 - 0.5) < 4 * 0.005);
    assert_true(fabs((double)tones / 3000 - 0.5) < 4 * 0.0092);
    assert_true(bg_vec_all_finite(tr.X, tr.n * tr.d));
    /* the two class means sit at +-mu, |2 mu| = separation */
    double m0[20], m1[20];
    row_mean(&tr, 0, tr.n, 0, m0);
    row_mean(&tr, 0, tr.n, 1, m1);
    assert_true(fabs(dist(m0, m1, 20) - 2.0) < 0.2);
    /* train without test */
    bg_dataset_t tr2;
    c.n_test = 0;
    assert_int_equal(make(&c, 1, &tr2, NULL, &err), BG_OK);
    assert_memory_equal(tr.X, tr2.X, tr.n * tr.d * sizeof *tr.X);   /* the test set is drawn last */
    bg_dataset_destroy(&tr2);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
}

/* Mean distance between the empirical means of all pairs of groups. */
static double group_spread(double zeta)
{
    enum { G = 5, P = 2000, D = 20 };
    bg_synth_cfg_t c = synth_cfg(G, P, 10, D, 2.0, zeta);
    bg_dataset_t tr, te;
    bg_err_t err;
    assert_int_equal(make(&c, 3, &tr, &te, &err), BG_OK);
    double m[G][D], s = 0;
    for (size_t g = 0; g < G; g++)
        row_mean(&tr, g * P, (g + 1) * P, -1, m[g]);
    for (size_t g = 0; g < G; g++)
        for (size_t h = g + 1; h < G; h++)
            s += dist(m[g], m[h], D) / (G * (G - 1) / 2);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
    return s;
}

static void test_synth_zeta(void **state)
{
    (void)state;
    double s0 = group_spread(0), s1 = group_spread(1), s3 = group_spread(3);
    /* zeta = 0: only sampling noise (about sqrt(2 d / P) = 0.14 plus the label mix) */
    assert_true(s0 < 0.3);
    assert_true(s0 < s1 && s1 < s3);
    /* random unit directions are about sqrt(2) apart */
    assert_true(s3 / 3 > 1.0 && s3 / 3 < 1.8);
}

static void test_synth_determinism(void **state)
{
    (void)state;
    bg_synth_cfg_t c = synth_cfg(3, 50, 40, 7, 2.0, 1.0);
    bg_dataset_t a, at, b, bt, o, ot;
    bg_err_t err;
    assert_int_equal(make(&c, 9, &a, &at, &err), BG_OK);
    assert_int_equal(make(&c, 9, &b, &bt, &err), BG_OK);
    assert_int_equal(make(&c, 10, &o, &ot, &err), BG_OK);
    assert_memory_equal(a.X, b.X, a.n * a.d * sizeof *a.X);
    assert_memory_equal(a.y, b.y, a.n * sizeof *a.y);
    assert_memory_equal(at.X, bt.X, at.n * at.d * sizeof *at.X);
    assert_memory_equal(at.y, bt.y, at.n * sizeof *at.y);
    assert_true(memcmp(a.X, o.X, a.n * a.d * sizeof *a.X) != 0);
    bg_dataset_destroy(&a);
    bg_dataset_destroy(&at);
    bg_dataset_destroy(&b);
    bg_dataset_destroy(&bt);
    bg_dataset_destroy(&o);
    bg_dataset_destroy(&ot);
}

static void test_synth_errors(void **state)
{
    (void)state;
    bg_dataset_t tr, te;
    bg_err_t err;
    const bg_synth_cfg_t bad[] = {
        synth_cfg(0, 10, 10, 3, 2, 0), synth_cfg(2, 0, 10, 3, 2, 0), synth_cfg(2, 10, 0, 3, 2, 0),
        synth_cfg(2, 10, 10, 0, 2, 0), synth_cfg(2, 10, 10, 3, -1, 0), synth_cfg(2, 10, 10, 3, NAN, 0),
        synth_cfg(2, 10, 10, 3, 2, -0.5), synth_cfg(2, 10, 10, 3, 2, INFINITY),
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        memset(&tr, 0x5a, sizeof tr);
        assert_int_equal(make(&bad[k], 1, &tr, &te, &err), BG_EINVAL);
        assert_null(tr.X);   /* zeroed: safe to free */
        assert_null(strchr(err.msg, '\n'));
        assert_true(strstr(err.msg, "must") || strstr(err.msg, ">= 1"));
        bg_dataset_destroy(&tr);
    }
    bg_synth_cfg_t c = synth_cfg(2, 10, 10, 3, 2, 0);
    assert_int_equal(make(&c, 1, &tr, &tr, &err), BG_EINVAL);
}

/* ---------------------------------------------------------------- optimum */

/* The weighted objective in double, written independently of the library: w_i = 1/(S n_s). */
static double ref_objective(const bg_dataset_t *ds, const bg_shard_t *sh, size_t S, double lambda, const double *x,
                            double *g)
{
    size_t d = ds->d;
    double F = 0;
    if (g)
        memset(g, 0, d * sizeof *g);
    for (size_t s = 0; s < S; s++)
        for (size_t k = 0; k < sh[s].n; k++) {
            const float *xi = ds->X + sh[s].idx[k] * d;
            double z = 0, w = 1.0 / (double)(S * sh[s].n), y = ds->y[sh[s].idx[k]];
            for (size_t j = 0; j < d; j++)
                z += x[j] * xi[j];
            double p = 1.0 / (1.0 + exp(-z));
            F += w * (y > 0 ? -log(p) : -log1p(-p));
            if (g)
                for (size_t j = 0; j < d; j++)
                    g[j] += w * (p - y) * xi[j];
        }
    for (size_t j = 0; j < d; j++) {
        F += 0.5 * lambda * x[j] * x[j];
        if (g)
            g[j] += lambda * x[j];
    }
    return F;
}

static void make_logreg(bg_model_t *m, size_t d, double lambda, bg_reg_t reg)
{
    bg_model_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.name, "logreg");
    cfg.lambda = lambda;
    cfg.reg = reg;
    bg_err_t err;
    assert_int_equal(bg_model_init(&cfg, d, 2, m, &err), BG_OK);
}

static void contiguous(size_t n, size_t S, bg_shard_t *sh)
{
    bg_partition_cfg_t pc;
    bg_partition_cfg_default(&pc);
    strcpy(pc.name, "contiguous");
    gsl_rng *r = bg_rng_stream(1, 1, 0);
    bg_err_t err;
    memset(sh, 0, S * sizeof *sh);
    assert_int_equal(bg_partition(&pc, NULL, n, 0, S, r, sh, &err), BG_OK);
    gsl_rng_free(r);
}

static void test_optimum_stationary(void **state)
{
    (void)state;
    enum { G = 4, P = 50, D = 5 };
    bg_synth_cfg_t c = synth_cfg(G, P, 10, D, 2.0, 1.0);
    bg_dataset_t tr, te;
    bg_err_t err;
    assert_int_equal(make(&c, 21, &tr, &te, &err), BG_OK);
    bg_model_t m;
    make_logreg(&m, D, 0.01, BG_REG_L2);
    bg_shard_t sh[G];
    contiguous(tr.n, G, sh);
    double x[D], g[D];
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, G, x, &err), BG_OK);
    double F = ref_objective(&tr, sh, G, 0.01, x, g);
    double gn = 0;
    for (size_t j = 0; j < D; j++)
        gn += g[j] * g[j];
    assert_true(sqrt(gn) < 1e-9);
    /* the model's own float gradient, averaged over shards */
    float xf[D], gs[D], gf[D] = {0};
    for (size_t j = 0; j < D; j++)
        xf[j] = (float)x[j];
    for (size_t s = 0; s < G; s++) {
        m.ops->loss_grad(&m, xf, tr.X, tr.y, sh[s].idx, sh[s].n, gs);
        for (size_t j = 0; j < D; j++)
            gf[j] += gs[j] / G;
    }
    assert_true(sqrt(bg_vec_norm2(gf, D)) < 1e-5);
    /* minimal against random perturbations at several scales */
    gsl_rng *r = bg_rng_stream(5, 1, 0);
    for (int t = 0; t < 60; t++) {
        double scale = t < 20 ? 1e-3 : t < 40 ? 1e-1 : 1.0, xp[D];
        for (size_t j = 0; j < D; j++)
            xp[j] = x[j] + scale * gsl_ran_gaussian(r, 1.0);
        assert_true(ref_objective(&tr, sh, G, 0.01, xp, NULL) >= F);
    }
    gsl_rng_free(r);
    for (size_t s = 0; s < G; s++)
        bg_shard_destroy(&sh[s]);
    bg_model_destroy(&m);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
}

/* Unequal shards: the optimum of the shard-weighted objective, not of the pooled one. Checked against plain
 * gradient descent in double with step 1/L, L bounding the Hessian. */
static void test_optimum_weighting(void **state)
{
    (void)state;
    enum { D = 4 };
    bg_synth_cfg_t c = synth_cfg(2, 100, 10, D, 2.0, 2.0);
    bg_dataset_t tr, te;
    bg_err_t err;
    assert_int_equal(make(&c, 33, &tr, &te, &err), BG_OK);
    double lambda = 0.1;
    bg_model_t m;
    make_logreg(&m, D, lambda, BG_REG_L2);
    /* shard 0: the first 20 samples (group 0), shard 1: the other 180 */
    size_t *all = malloc(tr.n * sizeof *all);
    for (size_t i = 0; i < tr.n; i++)
        all[i] = i;
    bg_shard_t two[2] = {{20, all}, {tr.n - 20, all + 20}}, one[1] = {{tr.n, all}};
    double xw[D], xp[D];
    assert_int_equal(bg_logreg_optimum(&m, &tr, two, 2, xw, &err), BG_OK);
    assert_int_equal(bg_logreg_optimum(&m, &tr, one, 1, xp, &err), BG_OK);
    assert_true(dist(xw, xp, D) > 1e-2);

    double L = lambda, x[D] = {0}, g[D];
    for (size_t s = 0; s < 2; s++)
        for (size_t k = 0; k < two[s].n; k++)
            L += 0.25 / (2.0 * (double)two[s].n) * bg_vec_norm2(tr.X + two[s].idx[k] * D, D);
    for (int it = 0; it < 20000; it++) {
        ref_objective(&tr, two, 2, lambda, x, g);
        for (size_t j = 0; j < D; j++)
            x[j] -= g[j] / L;
    }
    assert_true(dist(x, xw, D) < 1e-7);
    assert_true(dist(x, xp, D) > 1e-2);
    free(all);
    bg_model_destroy(&m);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
}

static void test_optimum_errors(void **state)
{
    (void)state;
    bg_synth_cfg_t c = synth_cfg(2, 20, 10, 3, 2.0, 0.0);
    bg_dataset_t tr, te;
    bg_err_t err;
    assert_int_equal(make(&c, 1, &tr, &te, &err), BG_OK);
    bg_shard_t sh[2];
    contiguous(tr.n, 2, sh);
    double x[5000];
    bg_model_t m;

    bg_model_cfg_t sc;
    memset(&sc, 0, sizeof sc);
    strcpy(sc.name, "softmax");
    sc.lambda = 0.1;
    assert_int_equal(bg_model_init(&sc, 3, 2, &m, &err), BG_OK);
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, 2, x, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "softmax"));
    bg_model_destroy(&m);

    make_logreg(&m, 3, 0.1, BG_REG_NONCONVEX);
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, 2, x, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "L2"));
    bg_model_destroy(&m);

    make_logreg(&m, 3, 0.0, BG_REG_L2);
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, 2, x, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "lambda"));
    bg_model_destroy(&m);

    make_logreg(&m, 3, 0.1, BG_REG_L2);
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, 0, x, &err), BG_EINVAL);
    bg_shard_t empty = {0, NULL};
    assert_int_equal(bg_logreg_optimum(&m, &tr, &empty, 1, x, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "shard 0"));
    bg_model_destroy(&m);

    make_logreg(&m, 4097, 0.1, BG_REG_L2);
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, 2, x, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "4096"));
    bg_model_destroy(&m);

    make_logreg(&m, 4, 0.1, BG_REG_L2);   /* width mismatch */
    assert_int_equal(bg_logreg_optimum(&m, &tr, sh, 2, x, &err), BG_EINVAL);
    bg_model_destroy(&m);

    for (size_t s = 0; s < 2; s++)
        bg_shard_destroy(&sh[s]);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_sizes_balance),
        cmocka_unit_test(test_synth_zeta),
        cmocka_unit_test(test_synth_determinism),
        cmocka_unit_test(test_synth_errors),
        cmocka_unit_test(test_optimum_stationary),
        cmocka_unit_test(test_optimum_weighting),
        cmocka_unit_test(test_optimum_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
