/* Unit tests for the model registry, logreg and softmax: loss against a slow double-precision reference, gradient
 * against central finite differences, evaluate() against per-row loss_grad, and a centralised fit on a9a. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_randist.h>

#include "bg_model.h"

/* The obvious formula, in double: -[y log s + (1-y) log(1-s)] with s = 1/(1+exp(-z)), plus the regulariser
 * exactly as bg_model.h states it. Fine for the moderate logits the tests use. */
static double ref_loss(const double *w, const float *X, const int *y, const size_t *idx, size_t b, size_t d,
                       double lambda, bg_reg_t reg)
{
    double l = 0.0;
    for (size_t i = 0; i < b; i++) {
        double z = 0.0;
        for (size_t j = 0; j < d; j++)
            z += w[j] * (double)X[idx[i] * d + j];
        double s = 1.0 / (1.0 + exp(-z));
        l += y[idx[i]] ? -log(s) : -log(1.0 - s);
    }
    l /= (double)b;
    double r = 0.0;
    for (size_t j = 0; j < d; j++)
        r += reg == BG_REG_L2 ? 0.5 * w[j] * w[j] : w[j] * w[j] / (1.0 + w[j] * w[j]);
    return l + lambda * r;
}

typedef struct {
    size_t n, d;
    float *X;
    int *y;
} rdata_t;

static rdata_t make_data(gsl_rng *r, size_t n, size_t d, double scale)
{
    rdata_t D = {n, d, malloc(n * d * sizeof(float)), malloc(n * sizeof(int))};
    assert_non_null(D.X);
    assert_non_null(D.y);
    for (size_t i = 0; i < n * d; i++)
        D.X[i] = (float)(scale * gsl_ran_gaussian(r, 1.0));
    for (size_t i = 0; i < n; i++)
        D.y[i] = gsl_rng_uniform(r) < 0.4;
    return D;
}

static void free_data(rdata_t *D)
{
    free(D->X);
    free(D->y);
}

static void make_model(bg_model_t *m, size_t d, double lambda, bg_reg_t reg)
{
    bg_model_cfg_t cfg = {.name = "logreg", .lambda = lambda, .reg = reg};
    bg_err_t err;
    assert_int_equal(bg_model_init(&cfg, d, 2, m, &err), BG_OK);
    assert_int_equal(m->dim, d);
}

/* A loss for the slow references: the rows idx[0..b) of D, C classes (softmax only), the regulariser. */
typedef struct {
    const rdata_t *D;
    const size_t *idx;
    size_t b, C;
    double lambda;
    bg_reg_t reg;
} problem_t;

typedef double ref_loss_fn(const problem_t *p, const double *w);

static double ref_logreg_at(const problem_t *p, const double *w)
{
    return ref_loss(w, p->D->X, p->D->y, p->idx, p->b, p->D->d, p->lambda, p->reg);
}

/* At trials random points (entries N(0, w_sd^2), then a batch of p.b rows drawn with replacement, both from r):
 * the model's loss is the reference's within loss_tol (relative) and the same number without the gradient, and
 * its gradient is within 1e-3 (relative L2) of the reference's central differences. */
static void check_loss_grad(const bg_model_t *m, gsl_rng *r, problem_t p, ref_loss_fn *ref, double w_sd, int trials,
                            double loss_tol)
{
    const size_t dim = m->dim, n = p.D->n, b = p.b;
    float *w = malloc(dim * sizeof *w), *g = malloc(dim * sizeof *g);
    double *wd = malloc(dim * sizeof *wd);
    size_t *idx = malloc(b * sizeof *idx);
    assert_true(w && g && wd && idx);
    p.idx = idx;
    for (int trial = 0; trial < trials; trial++) {
        for (size_t j = 0; j < dim; j++) {
            w[j] = (float)gsl_ran_gaussian(r, w_sd);
            wd[j] = w[j];
        }
        for (size_t i = 0; i < b; i++)
            idx[i] = gsl_rng_uniform_int(r, n);

        double l = m->ops->loss_grad(m, w, p.D->X, p.D->y, idx, b, g);
        double lr = ref(&p, wd);
        if (fabs(l - lr) > loss_tol * (1.0 + fabs(lr)))
            print_error("%s loss %.10g vs reference %.10g\n", m->ops->name, l, lr);
        assert_true(fabs(l - lr) <= loss_tol * (1.0 + fabs(lr)));
        /* loss without gradient is the same number */
        assert_true(m->ops->loss_grad(m, w, p.D->X, p.D->y, idx, b, NULL) == l);

        double num = 0.0, den = 0.0;
        for (size_t j = 0; j < dim; j++) {
            const double h = 1e-5;
            double keep = wd[j];
            wd[j] = keep + h;
            double lp = ref(&p, wd);
            wd[j] = keep - h;
            double lm = ref(&p, wd);
            wd[j] = keep;
            double fd = (lp - lm) / (2.0 * h);
            num += (g[j] - fd) * (g[j] - fd);
            den += fd * fd;
        }
        double rel = sqrt(num) / sqrt(den);
        if (rel >= 1e-3)
            print_error("%s reg=%d b=%zu C=%zu rel=%g\n", m->ops->name, (int)p.reg, b, p.C, rel);
        assert_true(rel < 1e-3);
    }
    free(w);
    free(g);
    free(wd);
    free(idx);
}

static void check_grad(bg_reg_t reg, double lambda, size_t b)
{
    gsl_rng *r = bg_rng_stream(11 + b, BG_RNG_INIT, (uint64_t)reg);
    const size_t n = 40, d = 17;
    rdata_t D = make_data(r, n, d, 0.7);
    bg_model_t m;
    make_model(&m, d, lambda, reg);
    const problem_t p = {.D = &D, .b = b, .lambda = lambda, .reg = reg};
    check_loss_grad(&m, r, p, ref_logreg_at, reg == BG_REG_L2 ? 0.5 : 1.2, 5, 1e-6);
    bg_model_destroy(&m);
    free_data(&D);
    gsl_rng_free(r);
}

static void test_grad_l2(void **state)
{
    (void)state;
    check_grad(BG_REG_L2, 0.3, 1);
    check_grad(BG_REG_L2, 0.3, 7);
    check_grad(BG_REG_L2, 0.00056, 7);
    check_grad(BG_REG_L2, 0.0, 1);
}

static void test_grad_nonconvex(void **state)
{
    (void)state;
    check_grad(BG_REG_NONCONVEX, 0.5, 1);
    check_grad(BG_REG_NONCONVEX, 0.5, 7);
    check_grad(BG_REG_NONCONVEX, 0.1, 7);
}

/* Large logits must neither overflow nor lose the linear tail of the loss. */
static void test_extreme_logits(void **state)
{
    (void)state;
    bg_model_t m;
    make_model(&m, 2, 0.0, BG_REG_L2);
    const float X[4] = {1.0f, 0.0f, -1.0f, 0.0f};
    const int y[2] = {0, 0};
    const float w[2] = {800.0f, 0.0f};
    float g[2];
    size_t i0 = 0, i1 = 1;
    double l0 = m.ops->loss_grad(&m, w, X, y, &i0, 1, g);   /* z = 800, y = 0: loss 800, grad x */
    assert_true(fabs(l0 - 800.0) <= 1e-9);
    assert_true(fabs(g[0] - 1.0f) <= 1e-7f && g[1] == 0.0f);
    double l1 = m.ops->loss_grad(&m, w, X, y, &i1, 1, g);   /* z = -800, y = 0: loss ~ 0 */
    assert_true(l1 >= 0.0 && l1 < 1e-300);
    assert_true(fabs(g[0]) <= 1e-30f);
    /* empty batch: only the regulariser */
    bg_model_destroy(&m);
    make_model(&m, 2, 2.0, BG_REG_L2);
    const float w2[2] = {1.0f, -3.0f};
    assert_true(fabs(m.ops->loss_grad(&m, w2, X, y, NULL, 0, g) - 10.0) <= 1e-12);
    assert_true(g[0] == 2.0f && g[1] == -6.0f);
    bg_model_destroy(&m);
}

static void test_evaluate(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(5, BG_RNG_INIT, 0);
    const size_t n = 5000, d = 31;   /* n above evaluate's block of rows */
    rdata_t D = make_data(r, n, d, 0.4);
    for (int reg = 0; reg < 2; reg++) {
        bg_model_t m;
        make_model(&m, d, 0.01, (bg_reg_t)reg);
        float *w = malloc(d * sizeof *w);
        assert_non_null(w);
        for (size_t j = 0; j < d; j++)
            w[j] = (float)gsl_ran_gaussian(r, 0.5);
        bg_dataset_t ds = {.n = n, .d = d, .n_classes = 2, .X = D.X, .y = D.y};
        double loss, acc;
        m.ops->evaluate(&m, w, &ds, &loss, &acc);

        double sl = 0.0;
        size_t correct = 0;
        for (size_t i = 0; i < n; i++) {
            sl += m.ops->loss_grad(&m, w, D.X, D.y, &i, 1, NULL);
            correct += (bg_vec_dot(w, D.X + i * d, d) > 0.0) == (D.y[i] == 1);
        }
        sl /= (double)n;
        assert_true(fabs(loss - sl) <= 1e-5 * fabs(sl));
        assert_true(fabs(acc - (double)correct / (double)n) <= 1.0 / (double)n + 1e-12);
        assert_true(acc > 0.3 && acc < 0.7);

        /* a dataset of the wrong width is not silently evaluated */
        ds.d = d - 1;
        m.ops->evaluate(&m, w, &ds, &loss, &acc);
        assert_true(isnan(loss) && isnan(acc));
        free(w);
        bg_model_destroy(&m);
    }
    free_data(&D);
    gsl_rng_free(r);
}

static void test_registry(void **state)
{
    (void)state;
    assert_non_null(bg_model_registry[0]);
    assert_ptr_equal(bg_model_find("logreg"), bg_model_registry[0]);
    assert_null(bg_model_find("resnet20"));
    assert_null(bg_model_find(NULL));
    size_t k = 0;
    while (bg_model_registry[k]) {
        assert_non_null(bg_model_registry[k]->summary);
        k++;
    }
    assert_true(k >= 1);

    bg_model_t m;
    bg_err_t err;
    bg_model_cfg_t cfg = {.name = "mlp9", .lambda = 0.00056, .reg = BG_REG_L2};
    assert_int_equal(bg_model_init(&cfg, 123, 2, &m, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "mlp9"));
    assert_non_null(strstr(err.msg, "logreg"));
    bg_model_destroy(&m);   /* safe after a failed create */

    snprintf(cfg.name, sizeof cfg.name, "logreg");
    assert_int_equal(bg_model_init(&cfg, 123, 10, &m, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "10"));
    assert_null(m.ops);
    cfg.lambda = -1.0;
    assert_int_equal(bg_model_init(&cfg, 123, 2, &m, &err), BG_EINVAL);
    cfg.lambda = NAN;
    assert_int_equal(bg_model_init(&cfg, 123, 2, &m, &err), BG_EINVAL);
    cfg.lambda = 0.00056;
    cfg.reg = (bg_reg_t)7;
    assert_int_equal(bg_model_init(&cfg, 123, 2, &m, &err), BG_EINVAL);
    cfg.reg = BG_REG_L2;

    assert_int_equal(bg_model_init(&cfg, 123, 2, &m, &err), BG_OK);
    assert_int_equal(m.dim, 123);
    assert_int_equal(m.d_in, 123);
    assert_true(m.ops->flops_per_sample(&m) >= 4.0 * 123);
    float w[123];
    memset(w, 0xff, sizeof w);
    bg_model_init_params(&m, NULL, w);
    for (size_t j = 0; j < 123; j++)
        assert_true(w[j] == 0.0f);
    bg_model_destroy(&m);
    assert_null(m.ops);
}

/* Full-batch gradient descent with Nesterov momentum on normalised a9a, as a centralised sanity check of the
 * loader + model together: a centralised scikit-learn fit of the same model (rows L2-normalised, no bias,
 * lambda = 0.00056) reaches 84.60 % test accuracy. */
static void test_a9a_fit(void **state)
{
    (void)state;
    bg_dataset_t tr, te;
    bg_err_t err;
    assert_int_equal(bg_dataset_load_libsvm(BG_TEST_DATA "/a9a.gz", 0, &tr, &err), BG_OK);
    assert_int_equal(bg_dataset_load_libsvm(BG_TEST_DATA "/a9a.t.gz", 123, &te, &err), BG_OK);
    bg_dataset_normalize_rows(&tr);
    bg_dataset_normalize_rows(&te);
    bg_model_t m;
    make_model(&m, tr.d, 0.00056, BG_REG_L2);

    size_t *all = malloc(tr.n * sizeof *all);
    float *w = malloc(m.dim * sizeof *w), *v = malloc(m.dim * sizeof *v), *p = malloc(m.dim * sizeof *p),
          *g = malloc(m.dim * sizeof *g);
    assert_true(all && w && v && p && g);
    for (size_t i = 0; i < tr.n; i++)
        all[i] = i;
    bg_model_init_params(&m, NULL, w);
    memset(v, 0, m.dim * sizeof *v);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const int steps = 200;
    const float step = 8.0f, mom = 0.9f;
    double first = 0.0, last = 0.0;
    for (int t = 0; t < steps; t++) {
        for (size_t j = 0; j < m.dim; j++)
            p[j] = w[j] + mom * v[j];
        double l = m.ops->loss_grad(&m, p, tr.X, tr.y, all, tr.n, g);
        if (t == 0)
            first = l;
        last = l;
        for (size_t j = 0; j < m.dim; j++) {
            v[j] = mom * v[j] - step * g[j];
            w[j] += v[j];
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double tl, ta, el, ea;
    m.ops->evaluate(&m, w, &tr, &tl, &ta);
    m.ops->evaluate(&m, w, &te, &el, &ea);
    print_message("a9a fit: %d steps in %.2f s, loss %.4f -> %.4f, train objective %.4f acc %.4f, test acc %.4f\n",
                  steps, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9, first, last,
                  tl, ta, ea);
    assert_true(fabs(first - log(2.0)) <= 1e-6);
    assert_true(tl < 0.37);   /* sklearn's optimum objective is 0.3657 */
    assert_true(ea >= 0.84);
    assert_true(ta >= 0.84);

    free(all);
    free(w);
    free(v);
    free(p);
    free(g);
    bg_model_destroy(&m);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
}

/* ---------------------------------------------------------------- softmax */

/* The obvious formula, in double: logits z = W x + b, loss -log(exp(z_y) / sum_k exp(z_k)) without any shift
 * (the tests keep logits moderate), plus the regulariser on W only. w holds W (C x d, row-major) then b. */
static double ref_softmax_loss(const double *w, const float *X, const int *y, const size_t *idx, size_t b,
                               size_t d, size_t C, double lambda, bg_reg_t reg)
{
    double l = 0.0;
    for (size_t i = 0; i < b; i++) {
        const float *x = X + idx[i] * d;
        double s = 0.0, zy = 0.0;
        for (size_t k = 0; k < C; k++) {
            double z = w[C * d + k];
            for (size_t j = 0; j < d; j++)
                z += w[k * d + j] * (double)x[j];
            s += exp(z);
            if ((int)k == y[idx[i]])
                zy = z;
        }
        l += -log(exp(zy) / s);
    }
    if (b > 0)
        l /= (double)b;
    double r = 0.0;
    for (size_t j = 0; j < C * d; j++)
        r += reg == BG_REG_L2 ? 0.5 * w[j] * w[j] : w[j] * w[j] / (1.0 + w[j] * w[j]);
    return l + lambda * r;
}

static void make_softmax(bg_model_t *m, size_t d, size_t C, double lambda, bg_reg_t reg)
{
    bg_model_cfg_t cfg = {.name = "softmax", .lambda = lambda, .reg = reg};
    bg_err_t err;
    assert_int_equal(bg_model_init(&cfg, d, C, m, &err), BG_OK);
    assert_int_equal(m->dim, C * (d + 1));
}

static void relabel(gsl_rng *r, rdata_t *D, size_t C)
{
    for (size_t i = 0; i < D->n; i++)
        D->y[i] = (int)gsl_rng_uniform_int(r, C);
}

static double ref_softmax_at(const problem_t *p, const double *w)
{
    return ref_softmax_loss(w, p->D->X, p->D->y, p->idx, p->b, p->D->d, p->C, p->lambda, p->reg);
}

/* Logits are float sums of 13 products (sgemm), the reference sums in double: the loss agrees to 1e-5. */
static void check_softmax_grad(bg_reg_t reg, double lambda, size_t b, size_t C)
{
    gsl_rng *r = bg_rng_stream(29 + b + 100 * C, BG_RNG_INIT, (uint64_t)reg);
    const size_t n = 40, d = 13;
    rdata_t D = make_data(r, n, d, 0.7);
    relabel(r, &D, C);
    bg_model_t m;
    make_softmax(&m, d, C, lambda, reg);
    const problem_t p = {.D = &D, .b = b, .C = C, .lambda = lambda, .reg = reg};
    check_loss_grad(&m, r, p, ref_softmax_at, reg == BG_REG_L2 ? 0.4 : 1.0, 4, 1e-5);
    bg_model_destroy(&m);
    free_data(&D);
    gsl_rng_free(r);
}

static void test_softmax_grad_l2(void **state)
{
    (void)state;
    const size_t bs[2] = {1, 7}, Cs[2] = {3, 10};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            check_softmax_grad(BG_REG_L2, 0.3, bs[i], Cs[k]);
    check_softmax_grad(BG_REG_L2, 0.0, 7, 3);
    check_softmax_grad(BG_REG_L2, 0.00056, 7, 2);
}

static void test_softmax_grad_nonconvex(void **state)
{
    (void)state;
    const size_t bs[2] = {1, 7}, Cs[2] = {3, 10};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++)
            check_softmax_grad(BG_REG_NONCONVEX, 0.5, bs[i], Cs[k]);
}

/* A batch larger than the model's internal block of rows must give the sample-weighted mean of its parts. */
static void test_softmax_blocks(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(3, BG_RNG_INIT, 1);
    const size_t n = 300, d = 9, C = 4, b = 2100, b1 = 700;
    rdata_t D = make_data(r, n, d, 0.6);
    relabel(r, &D, C);
    bg_model_t m;
    make_softmax(&m, d, C, 0.0, BG_REG_L2);
    size_t dim = m.dim, *idx = malloc(b * sizeof *idx);
    float *w = malloc(dim * sizeof *w), *g = malloc(dim * sizeof *g), *g1 = malloc(dim * sizeof *g1),
          *g2 = malloc(dim * sizeof *g2);
    assert_true(idx && w && g && g1 && g2);
    for (size_t j = 0; j < dim; j++)
        w[j] = (float)gsl_ran_gaussian(r, 0.5);
    for (size_t i = 0; i < b; i++)
        idx[i] = gsl_rng_uniform_int(r, n);
    double l = m.ops->loss_grad(&m, w, D.X, D.y, idx, b, g);
    double l1 = m.ops->loss_grad(&m, w, D.X, D.y, idx, b1, g1);
    double l2 = m.ops->loss_grad(&m, w, D.X, D.y, idx + b1, b - b1, g2);
    double lm = (l1 * (double)b1 + l2 * (double)(b - b1)) / (double)b;
    assert_true(fabs(l - lm) <= 1e-9 * fabs(lm));
    double num = 0.0, den = 0.0;
    for (size_t j = 0; j < dim; j++) {
        double gm = ((double)g1[j] * (double)b1 + (double)g2[j] * (double)(b - b1)) / (double)b;
        num += (g[j] - gm) * (g[j] - gm);
        den += gm * gm;
    }
    assert_true(den > 0.0 && sqrt(num / den) < 1e-5);
    free(idx);
    free(w);
    free(g);
    free(g1);
    free(g2);
    bg_model_destroy(&m);
    free_data(&D);
    gsl_rng_free(r);
}

/* Logits of +-1000 must neither overflow nor lose the linear part of the loss; bad labels give NaN, not a number. */
static void test_softmax_extreme_logits(void **state)
{
    (void)state;
    bg_model_t m;
    make_softmax(&m, 1, 3, 0.0, BG_REG_L2);
    const float X[1] = {1.0f};
    int y[1] = {2};
    const float w[6] = {1000.0f, 0.0f, -1000.0f, 0.0f, 0.0f, 0.0f};   /* W = (1000, 0, -1000)^T, b = 0 */
    float g[6];
    size_t i0 = 0;
    /* z = (1000, 0, -1000), y = 2: loss = 2000 + log(1 + e^-1000 + e^-2000) = 2000 */
    double l = m.ops->loss_grad(&m, w, X, y, &i0, 1, g);
    assert_true(fabs(l - 2000.0) <= 1e-9);
    const float want[6] = {1.0f, 0.0f, -1.0f, 1.0f, 0.0f, -1.0f};
    for (int j = 0; j < 6; j++)
        assert_true(fabs(g[j] - want[j]) <= 1e-7f);
    y[0] = 0;
    l = m.ops->loss_grad(&m, w, X, y, &i0, 1, g);
    assert_true(l >= 0.0 && l < 1e-300);
    y[0] = 3;
    assert_true(isnan(m.ops->loss_grad(&m, w, X, y, &i0, 1, g)));
    for (int j = 0; j < 6; j++)
        assert_true(isnan(g[j]));
    y[0] = -1;
    assert_true(isnan(m.ops->loss_grad(&m, w, X, y, &i0, 1, NULL)));
    bg_model_destroy(&m);

    /* empty batch: only the regulariser, on W and not on b */
    make_softmax(&m, 1, 2, 2.0, BG_REG_L2);
    const float w2[4] = {1.0f, -3.0f, 5.0f, 7.0f};
    assert_true(fabs(m.ops->loss_grad(&m, w2, X, y, NULL, 0, g) - 10.0) <= 1e-12);
    assert_true(g[0] == 2.0f && g[1] == -6.0f && g[2] == 0.0f && g[3] == 0.0f);
    bg_model_destroy(&m);
}

static void test_softmax_evaluate(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(17, BG_RNG_INIT, 0);
    const size_t n = 2500, d = 19, C = 5;   /* n spans several of evaluate's blocks, the last one partial */
    rdata_t D = make_data(r, n, d, 0.5);
    relabel(r, &D, C);
    for (int reg = 0; reg < 2; reg++) {
        bg_model_t m;
        make_softmax(&m, d, C, 0.01, (bg_reg_t)reg);
        float *w = malloc(m.dim * sizeof *w);
        assert_non_null(w);
        for (size_t j = 0; j < m.dim; j++)
            w[j] = (float)gsl_ran_gaussian(r, 0.5);
        bg_dataset_t ds = {.n = n, .d = d, .n_classes = C, .X = D.X, .y = D.y};
        double loss, acc;
        m.ops->evaluate(&m, w, &ds, &loss, &acc);

        double sl = 0.0;
        size_t correct = 0;
        for (size_t i = 0; i < n; i++) {
            sl += m.ops->loss_grad(&m, w, D.X, D.y, &i, 1, NULL);
            size_t am = 0;
            double zmax = -INFINITY;
            for (size_t k = 0; k < C; k++) {
                double z = w[C * d + k];
                for (size_t j = 0; j < d; j++)
                    z += (double)w[k * d + j] * (double)D.X[i * d + j];
                if (z > zmax) {
                    zmax = z;
                    am = k;
                }
            }
            correct += am == (size_t)D.y[i];
        }
        sl /= (double)n;
        assert_true(fabs(loss - sl) <= 1e-6 * fabs(sl));
        /* a near-tie may be decided differently by float and double logits */
        assert_true(fabs(acc - (double)correct / (double)n) <= 2.0 / (double)n + 1e-12);
        assert_true(acc > 0.05 && acc < 0.5);   /* random labels: near 1/C */

        ds.d = d - 1;
        m.ops->evaluate(&m, w, &ds, &loss, &acc);
        assert_true(isnan(loss) && isnan(acc));
        ds.d = d;
        D.y[n - 1] = (int)C;
        m.ops->evaluate(&m, w, &ds, &loss, &acc);
        assert_true(isnan(loss) && isnan(acc));
        D.y[n - 1] = 0;
        free(w);
        bg_model_destroy(&m);
    }
    free_data(&D);
    gsl_rng_free(r);
}

static void test_softmax_create(void **state)
{
    (void)state;
    assert_non_null(bg_model_find("softmax"));
    assert_non_null(bg_model_find("softmax")->summary);
    bg_model_t m;
    bg_err_t err;
    bg_model_cfg_t cfg = {.name = "softmax", .lambda = 0.00056, .reg = BG_REG_L2};
    assert_int_equal(bg_model_init(&cfg, 20, 1, &m, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "softmax"));
    assert_non_null(strstr(err.msg, "at least 2 classes"));
    assert_null(m.ops);
    assert_int_equal(bg_model_init(&cfg, 20, 0, &m, &err), BG_EINVAL);
    assert_int_equal(bg_model_init(&cfg, 0, 3, &m, &err), BG_EINVAL);
    assert_int_equal(bg_model_init(&cfg, (size_t)1 << 40, 3, &m, &err), BG_ERANGE);
    /* the registry's unknown-name message lists every model */
    snprintf(cfg.name, sizeof cfg.name, "mlp9");
    assert_int_equal(bg_model_init(&cfg, 20, 3, &m, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "softmax"));
    snprintf(cfg.name, sizeof cfg.name, "softmax");

    const size_t Cs[3] = {2, 3, 10};
    for (int t = 0; t < 3; t++) {
        size_t C = Cs[t], d = 784;
        assert_int_equal(bg_model_init(&cfg, d, C, &m, &err), BG_OK);
        assert_int_equal(m.dim, C * (d + 1));
        assert_int_equal(m.d_in, d);
        assert_int_equal(m.n_classes, C);
        assert_int_equal(m.n_layers, 2);
        assert_non_null(m.layers);
        assert_int_equal(m.layers[0], C * d);
        assert_int_equal(m.layers[1], C);
        assert_int_equal(m.layers[0] + m.layers[1], m.dim);
        double f = m.ops->flops_per_sample(&m);
        assert_true(f >= 4.0 * (double)(C * d) && f <= 4.0 * (double)(C * d) + 20.0 * (double)C);
        bg_model_destroy(&m);
        assert_null(m.ops);
        assert_null(m.layers);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_l2),
        cmocka_unit_test(test_grad_nonconvex),
        cmocka_unit_test(test_extreme_logits),
        cmocka_unit_test(test_evaluate),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_a9a_fit),
        cmocka_unit_test(test_softmax_create),
        cmocka_unit_test(test_softmax_grad_l2),
        cmocka_unit_test(test_softmax_grad_nonconvex),
        cmocka_unit_test(test_softmax_blocks),
        cmocka_unit_test(test_softmax_extreme_logits),
        cmocka_unit_test(test_softmax_evaluate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
