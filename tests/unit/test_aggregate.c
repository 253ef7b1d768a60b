/* Unit tests for the aggregators and NNM: each against a slow, obvious reference on random inputs (full sort
 * per column, qsort of distances, a long-run Weiszfeld), robustness to huge and non-finite inputs, f limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "bg_aggregate.h"

#define RTOL 1e-5

/* ---------------------------------------------------------------- inputs */

typedef struct {
    size_t n, d;
    float *data;
    float **rows;
} mat_t;

static mat_t mat_new(size_t n, size_t d)
{
    mat_t m = {n, d, calloc(n * d, sizeof(float)), malloc(n * sizeof(float *))};
    for (size_t i = 0; i < n; i++)
        m.rows[i] = m.data + i * d;
    return m;
}

static void mat_free(mat_t *m)
{
    free(m->data);
    free(m->rows);
}

/* kind 0: gaussian; 1: small integers (ties, duplicate columns); 2: a shared offset with small spread. */
static void fill(gsl_rng *r, mat_t *m, int kind)
{
    for (size_t i = 0; i < m->n * m->d; i++) {
        if (kind == 0)
            m->data[i] = (float)gsl_ran_gaussian(r, 1.0);
        else if (kind == 1)
            m->data[i] = (float)((long)gsl_rng_uniform_int(r, 5) - 2);
        else
            m->data[i] = (float)(3.0 + gsl_ran_gaussian(r, 0.05));
    }
    if (kind == 1 && m->n > 2)   /* exact duplicate vectors */
        memcpy(m->rows[m->n - 1], m->rows[0], m->d * sizeof(float));
}

static int close_to(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (1.0 + fabs(b));
}

static void assert_vec_close(const float *a, const double *b, size_t d, double tol)
{
    for (size_t j = 0; j < d; j++) {
        if (!close_to(a[j], b[j], tol))
            fail_msg("coordinate %zu: got %.9g, want %.9g", j, (double)a[j], b[j]);
    }
}

/* ---------------------------------------------------------------- slow references */

static int dbl_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void ref_mean(const float *const *in, size_t n, size_t d, double *out)
{
    for (size_t j = 0; j < d; j++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += in[i][j];
        out[j] = s / (double)n;
    }
}

/* Sort every column; mean of order statistics lo..hi. */
static void ref_order(const float *const *in, size_t n, size_t d, size_t lo, size_t hi, double *out)
{
    double *col = malloc(n * sizeof *col);
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = in[i][j];
        qsort(col, n, sizeof *col, dbl_cmp);
        double s = 0.0;
        for (size_t q = lo; q <= hi; q++)
            s += col[q];
        out[j] = s / (double)(hi - lo + 1);
    }
    free(col);
}

static void ref_cm(const float *const *in, size_t n, size_t d, double *out)
{
    ref_order(in, n, d, (n - 1) / 2, n / 2, out);
}

static void ref_cwtm(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    size_t t = f < n / 2 ? f : n / 2;   /* ALGORITHMS.md 8: min(floor(n/2), ceil(n f/n)) */
    while (t > 0 && n - 2 * t == 0)
        t--;
    ref_order(in, n, d, t, n - 1 - t, out);
}

typedef struct {
    double dist;
    size_t idx;
} cand_t;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand_t *a = pa, *b = pb;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void ref_nnm(const float *const *in, size_t n, size_t d, size_t f, double *out /* n x d */)
{
    cand_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++) {
                double t = (double)in[i][l] - in[j][l];
                s += t * t;
            }
            c[j].dist = s;
            c[j].idx = j;
        }
        qsort(c, n, sizeof *c, cand_cmp);
        for (size_t l = 0; l < d; l++) {
            double s = 0.0;
            for (size_t q = 0; q < n - f; q++)
                s += in[c[q].idx][l];
            out[i * d + l] = s / (double)(n - f);
        }
    }
    free(c);
}

/* Plain double Weiszfeld at smoothing nu from the mean, a fixed (long) number of iterations, no stopping. */
static void ref_rfa(const float *const *in, size_t n, size_t d, double nu, size_t iters, double *z)
{
    double *zn = malloc(d * sizeof *zn);
    ref_mean(in, n, d, z);
    for (size_t it = 0; it < iters; it++) {
        double sb = 0.0;
        memset(zn, 0, d * sizeof *zn);
        for (size_t k = 0; k < n; k++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++) {
                double t = z[l] - in[k][l];
                s += t * t;
            }
            double b = 1.0 / fmax(sqrt(s), nu);
            sb += b;
            for (size_t l = 0; l < d; l++)
                zn[l] += b * in[k][l];
        }
        for (size_t l = 0; l < d; l++)
            z[l] = zn[l] / sb;
    }
    free(zn);
}

/* ---------------------------------------------------------------- helpers */

static int run_agg(const char *pre, const char *agg, size_t f, const mat_t *m, float *out)
{
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.f = f;
    bg_robust_t r;
    bg_err_t err;
    int rc = bg_robust_init(&r, pre, agg, &a, m->n, m->d, &err);
    if (rc != BG_OK)
        return rc;
    rc = bg_robust_run(&r, (const float *const *)m->rows, out, NULL);
    bg_robust_free(&r);
    return rc;
}

static const size_t NS[] = {1, 2, 3, 4, 5, 8, 20, 21, 33, 64, 100, 128, 129, 150, 256, 257, 300};
static const size_t DS[] = {1, 5, 31, 32, 33, 123, 300};

/* ---------------------------------------------------------------- tests against references */

static void test_mean_cm_cwtm_vs_reference(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(7, BG_RNG_SERVER, 0);
    for (size_t ni = 0; ni < sizeof NS / sizeof NS[0]; ni++) {
        for (size_t di = 0; di < sizeof DS / sizeof DS[0]; di++) {
            size_t n = NS[ni], d = DS[di];
            mat_t m = mat_new(n, d);
            float *out = malloc(d * sizeof *out);
            double *ref = malloc(d * sizeof *ref);
            for (int kind = 0; kind < 3; kind++) {
                fill(r, &m, kind);
                const float *const *in = (const float *const *)m.rows;
                assert_int_equal(run_agg(NULL, "mean", 0, &m, out), BG_OK);
                ref_mean(in, n, d, ref);
                assert_vec_close(out, ref, d, RTOL);

                assert_int_equal(run_agg("none", "cm", 0, &m, out), BG_OK);
                ref_cm(in, n, d, ref);
                assert_vec_close(out, ref, d, RTOL);

                size_t fs[] = {0, 1, n / 4, (n - 1) / 2};
                for (size_t fi = 0; fi < 4; fi++) {
                    size_t f = fs[fi];
                    if (2 * f >= n)
                        continue;
                    assert_int_equal(run_agg(NULL, "cwtm", f, &m, out), BG_OK);
                    ref_cwtm(in, n, d, f, ref);
                    assert_vec_close(out, ref, d, RTOL);
                    assert_int_equal(run_agg(NULL, "cm", f, &m, out), BG_OK);
                    ref_cm(in, n, d, ref);
                    assert_vec_close(out, ref, d, RTOL);
                }
            }
            free(out);
            free(ref);
            mat_free(&m);
        }
    }
    gsl_rng_free(r);
}

static void test_cwtm_trim_rule(void **state)
{
    (void)state;
    /* n = 20, f = 9: mean of the two middle values; f = 8: mean of the middle four. */
    mat_t m = mat_new(20, 1);
    for (size_t i = 0; i < 20; i++)
        m.data[i] = (float)((i * 7) % 20);   /* a permutation of 0..19 */
    float out;
    assert_int_equal(run_agg(NULL, "cwtm", 9, &m, &out), BG_OK);
    assert_true(out == 9.5f);
    assert_int_equal(run_agg(NULL, "cwtm", 8, &m, &out), BG_OK);
    assert_true(out == 9.5f);
    m.data[0] = 1000.0f;   /* was 0: every middle order statistic moves up by one */
    assert_int_equal(run_agg(NULL, "cwtm", 9, &m, &out), BG_OK);
    assert_true(out == 10.5f);
    assert_int_equal(run_agg(NULL, "cm", 9, &m, &out), BG_OK);
    assert_true(out == 10.5f);
    assert_int_equal(run_agg(NULL, "cwtm", 0, &m, &out), BG_OK);
    assert_true(fabs(out - (190.0 + 1000.0) / 20.0) < 1e-4);
    mat_free(&m);
}

static void test_nnm_vs_reference(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(8, BG_RNG_SERVER, 0);
    static const size_t ns[] = {1, 2, 3, 5, 20, 21, 40};
    static const size_t ds[] = {1, 7, 123, 700};
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
            size_t n = ns[ni], d = ds[di];
            mat_t m = mat_new(n, d), y = mat_new(n, d);
            double *ref = malloc(n * d * sizeof *ref);
            for (int kind = 0; kind < 3; kind++) {
                fill(r, &m, kind);
                size_t fs[] = {0, 1, n / 4, (n - 1) / 2};
                for (size_t fi = 0; fi < 4; fi++) {
                    size_t f = fs[fi];
                    if (2 * f >= n)
                        continue;
                    const bg_preagg_ops_t *p = bg_preagg_find("nnm");
                    assert_non_null(p);
                    bg_agg_args_t a;
                    bg_agg_args_default(&a);
                    a.f = f;
                    assert_int_equal(p->run(&a, (const float *const *)m.rows, n, d, y.rows), BG_OK);
                    ref_nnm((const float *const *)m.rows, n, d, f, ref);
                    for (size_t i = 0; i < n; i++)
                        assert_vec_close(y.rows[i], ref + i * d, d, RTOL);
                    assert_true(p->flops(&a, n, d) > 0.0);
                }
            }
            free(ref);
            mat_free(&m);
            mat_free(&y);
        }
    }
    gsl_rng_free(r);
}

static void test_nnm_cm_pipeline_vs_reference(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(9, BG_RNG_SERVER, 0);
    size_t n = 20, d = 123;
    mat_t m = mat_new(n, d), y = mat_new(n, d);
    double *ref = malloc(n * d * sizeof *ref), *agg = malloc(d * sizeof *agg);
    float *out = malloc(d * sizeof *out);
    for (size_t f = 0; f < 10; f++) {
        fill(r, &m, 0);
        ref_nnm((const float *const *)m.rows, n, d, f, ref);
        for (size_t i = 0; i < n * d; i++)
            y.data[i] = (float)ref[i];
        ref_cm((const float *const *)y.rows, n, d, agg);
        assert_int_equal(run_agg("nnm", "cm", f, &m, out), BG_OK);
        assert_vec_close(out, agg, d, RTOL);
    }
    free(ref);
    free(agg);
    free(out);
    mat_free(&m);
    mat_free(&y);
    gsl_rng_free(r);
}

static void test_rfa_vs_long_weiszfeld(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(10, BG_RNG_SERVER, 0);
    static const size_t ns[] = {1, 2, 3, 7, 20};
    static const size_t ds[] = {1, 5, 50};
    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
            size_t n = ns[ni], d = ds[di];
            mat_t m = mat_new(n, d);
            float *out = malloc(d * sizeof *out);
            double *ref = malloc(d * sizeof *ref);
            for (int kind = 0; kind < 3; kind += 2) {
                fill(r, &m, kind);
                if (n > 3)   /* an outlier so the geometric median differs from the mean */
                    for (size_t l = 0; l < d; l++)
                        m.rows[1][l] += 50.0f;
                ref_rfa((const float *const *)m.rows, n, d, 0.1, 10000, ref);
                bg_agg_args_t a;
                bg_agg_args_default(&a);
                a.rfa_iters = 100000;
                a.rfa_tol = 1e-12;
                const bg_aggregator_ops_t *g = bg_aggregator_find("rfa");
                assert_int_equal(g->run(&a, (const float *const *)m.rows, n, d, out), BG_OK);
                assert_vec_close(out, ref, d, RTOL);
                /* The default cap (8 iterations) still lands near it, far from the pulled mean. */
                bg_agg_args_default(&a);
                assert_int_equal(g->run(&a, (const float *const *)m.rows, n, d, out), BG_OK);
                for (size_t l = 0; l < d; l++)
                    assert_true(fabs(out[l] - ref[l]) < 1.0);
            }
            free(out);
            free(ref);
            mat_free(&m);
        }
    }
    gsl_rng_free(r);
}

/* ---------------------------------------------------------------- robustness */

static void test_huge_outliers(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(11, BG_RNG_SERVER, 0);
    size_t n = 20, d = 200;
    mat_t m = mat_new(n, d);
    float *out = malloc(d * sizeof *out);
    for (size_t f = 1; f < 10; f++) {
        size_t h = n - f;
        fill(r, &m, 0);
        for (size_t i = h; i < n; i++)
            for (size_t l = 0; l < d; l++)
                m.rows[i][l] = (i % 2 ? 1e6f : -1e6f) * (l % 3 == 0 ? -1.0f : 1.0f);
        double *hm = malloc(d * sizeof *hm);
        ref_mean((const float *const *)m.rows, h, d, hm);
        double spread = 0.0;   /* largest distance of an honest vector from the honest mean */
        for (size_t i = 0; i < h; i++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++)
                s += (m.rows[i][l] - hm[l]) * (m.rows[i][l] - hm[l]);
            spread = fmax(spread, sqrt(s));
        }
        static const char *const aggs[] = {"cm", "cwtm"};
        for (int ai = 0; ai < 2; ai++) {
            assert_int_equal(run_agg(NULL, aggs[ai], f, &m, out), BG_OK);
            for (size_t l = 0; l < d; l++) {
                float lo = INFINITY, hi = -INFINITY;
                for (size_t i = 0; i < h; i++) {
                    lo = fminf(lo, m.rows[i][l]);
                    hi = fmaxf(hi, m.rows[i][l]);
                }
                assert_true(out[l] >= lo && out[l] <= hi);
            }
        }
        static const char *const all[] = {"cm", "cwtm", "rfa"};
        for (int ai = 0; ai < 3; ai++) {
            assert_int_equal(run_agg("nnm", all[ai], f, &m, out), BG_OK);
            double s = 0.0;
            for (size_t l = 0; l < d; l++)
                s += (out[l] - hm[l]) * (out[l] - hm[l]);
            assert_true(sqrt(s) <= spread);
        }
        free(hm);
    }
    free(out);
    mat_free(&m);
    gsl_rng_free(r);
}

static void test_f_limits(void **state)
{
    (void)state;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    assert_int_equal(a.rfa_iters, 8);
    assert_true(a.rfa_nu == 0.1 && a.rfa_tol == 1e-6 && a.f == 0);
    bg_robust_t r;
    bg_err_t err;
    a.f = 10;
    static const char *const rules[] = {"cm", "cwtm", "rfa"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bg_robust_init(&r, NULL, rules[i], &a, 20, 5, &err), BG_ERANGE);
        assert_non_null(strstr(err.msg, rules[i]));
        assert_non_null(strstr(err.msg, "f = 10"));
    }
    assert_int_equal(bg_robust_init(&r, "nnm", "mean", &a, 20, 5, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "nnm"));
    a.f = 9;
    assert_int_equal(bg_robust_init(&r, NULL, "cm", &a, 17, 5, &err), BG_ERANGE);
    assert_string_equal(err.msg, "f = 9 needs f < n/2 = 8.5 for cm");
    assert_int_equal(bg_robust_init(&r, NULL, "cm", &a, 19, 5, &err), BG_OK);
    bg_robust_free(&r);
    a.f = 10;   /* mean does not need a majority */
    assert_int_equal(bg_robust_init(&r, "none", "mean", &a, 20, 5, &err), BG_OK);
    assert_true(bg_robust_flops(&r) > 0.0);
    bg_robust_free(&r);
    a.f = 20;
    assert_int_equal(bg_robust_init(&r, "none", "mean", &a, 20, 5, &err), BG_ERANGE);

    a.f = 0;
    assert_int_equal(bg_robust_init(&r, "nope", "cm", &a, 20, 5, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nnm"));
    assert_int_equal(bg_robust_init(&r, NULL, "krumm", &a, 20, 5, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "krumm"));
    assert_non_null(strstr(err.msg, "cwtm"));
    a.rfa_nu = 0.0;
    assert_int_equal(bg_robust_init(&r, NULL, "rfa", &a, 20, 5, &err), BG_ERANGE);

    /* Registries. */
    assert_non_null(bg_preagg_find("none"));
    assert_non_null(bg_preagg_find("nnm"));
    static const char *const names[] = {"mean", "cm", "cwtm", "rfa"};
    for (int i = 0; i < 4; i++) {
        const bg_aggregator_ops_t *g = bg_aggregator_find(names[i]);
        assert_non_null(g);
        bg_agg_args_default(&a);
        a.f = 3;
        assert_true(g->flops(&a, 20, 100) > 0.0);
    }
    assert_null(bg_aggregator_find("nope"));
}

static void test_non_finite_inputs(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(12, BG_RNG_SERVER, 0);
    size_t n = 20, d = 77;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    static const char *const pres[] = {"none", "nnm"};
    static const char *const aggs[] = {"mean", "cm", "cwtm", "rfa"};
    mat_t m = mat_new(n, d);
    float *out = malloc(d * sizeof *out), *want = malloc(d * sizeof *want);
    for (size_t f = 1; f < 10; f++) {
        for (size_t nb = 0; nb <= f + 1 && nb <= n; nb++) {
            fill(r, &m, 0);
            /* nb rows at random positions get a non-finite entry (whole row for the first). */
            unsigned char *isbad = calloc(n, 1);
            for (size_t q = 0; q < nb;) {
                size_t i = gsl_rng_uniform_int(r, n);
                if (isbad[i])
                    continue;
                isbad[i] = 1;
                if (q == 0)
                    for (size_t l = 0; l < d; l++)
                        m.rows[i][l] = bad[q % 3];
                else
                    m.rows[i][gsl_rng_uniform_int(r, d)] = bad[q % 3];
                q++;
            }
            mat_t good = mat_new(n - nb, d);
            for (size_t i = 0, k = 0; i < n; i++)
                if (!isbad[i])
                    memcpy(good.rows[k++], m.rows[i], d * sizeof(float));
            for (int pi = 0; pi < 2; pi++)
                for (int ai = 0; ai < 4; ai++) {
                    bg_agg_args_t a;
                    bg_agg_args_default(&a);
                    a.f = f;
                    bg_robust_t rb;
                    bg_err_t err;
                    assert_int_equal(bg_robust_init(&rb, pres[pi], aggs[ai], &a, n, d, &err), BG_OK);
                    size_t dropped = 999;
                    int rc = bg_robust_run(&rb, (const float *const *)m.rows, out, &dropped);
                    assert_int_equal(dropped, nb);
                    bg_robust_free(&rb);
                    if (nb > f) {
                        assert_int_equal(rc, BG_ERANGE);
                        continue;
                    }
                    assert_int_equal(rc, BG_OK);
                    for (size_t l = 0; l < d; l++)
                        assert_true(isfinite(out[l]));
                    assert_int_equal(run_agg(pres[pi], aggs[ai], f - nb, &good, want), BG_OK);
                    assert_memory_equal(out, want, d * sizeof(float));
                }
            mat_free(&good);
            free(isbad);
        }
    }
    /* A NULL row counts as dropped. */
    fill(r, &m, 0);
    float *saved = m.rows[4];
    m.rows[4] = NULL;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.f = 2;
    bg_robust_t rb;
    bg_err_t err;
    assert_int_equal(bg_robust_init(&rb, "nnm", "cm", &a, n, d, &err), BG_OK);
    size_t dropped = 0;
    assert_int_equal(bg_robust_run(&rb, (const float *const *)m.rows, out, &dropped), BG_OK);
    assert_int_equal(dropped, 1);
    bg_robust_free(&rb);
    m.rows[4] = saved;
    free(out);
    free(want);
    mat_free(&m);
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_cm_cwtm_vs_reference),
        cmocka_unit_test(test_cwtm_trim_rule),
        cmocka_unit_test(test_nnm_vs_reference),
        cmocka_unit_test(test_nnm_cm_pipeline_vs_reference),
        cmocka_unit_test(test_rfa_vs_long_weiszfeld),
        cmocka_unit_test(test_huge_outliers),
        cmocka_unit_test(test_f_limits),
        cmocka_unit_test(test_non_finite_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
