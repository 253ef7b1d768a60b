/* Unit tests for the attacks: IPM, ALIE and sign flip against their formulas on random honest vectors,
 * ALIE's z for the paper's (n, f), degenerate z, and configuration errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "bg_attack.h"

static bg_attack_cfg_t cfg_of(const char *name, double eps, double z)
{
    bg_attack_cfg_t c;
    memset(&c, 0, sizeof c);
    strcpy(c.name, name);
    c.eps = eps;
    c.z = z;
    return c;
}

typedef struct {
    size_t nh, d;
    float *data;
    const float **rows;
    double *mu, *sd;
} honest_t;

static honest_t honest_new(gsl_rng *r, size_t nh, size_t d)
{
    honest_t h = {nh, d, malloc(nh * d * sizeof(float)), malloc(nh * sizeof(float *)), calloc(d, sizeof(double)),
                  calloc(d, sizeof(double))};
    for (size_t i = 0; i < nh; i++) {
        h.rows[i] = h.data + i * d;
        for (size_t l = 0; l < d; l++)
            h.data[i * d + l] = (float)(gsl_ran_gaussian(r, 1.0) + 0.3 * (double)l);
    }
    for (size_t l = 0; l < d; l++) {
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < nh; i++)
            s += h.rows[i][l];
        h.mu[l] = s / (double)nh;
        for (size_t i = 0; i < nh; i++)
            ss += (h.rows[i][l] - h.mu[l]) * (h.rows[i][l] - h.mu[l]);
        h.sd[l] = nh > 1 ? sqrt(ss / (double)(nh - 1)) : 0.0;
    }
    return h;
}

static void honest_free(honest_t *h)
{
    free(h->data);
    free(h->rows);
    free(h->mu);
    free(h->sd);
}

static void test_alie_z(void **state)
{
    (void)state;
    assert_true(fabs(bg_attack_alie_z(20, 9) - 0.9085) < 1e-3);
    assert_true(fabs(bg_attack_alie_z(20, 8) - 0.6745) < 1e-3);
    /* Degenerate (n, f): finite, and no honest worker gives 0. */
    static const size_t cases[][2] = {{1, 0}, {2, 0}, {2, 1}, {3, 1}, {20, 0}, {20, 10}, {20, 11}, {20, 19},
                                      {20, 20}, {20, 25}, {0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_true(isfinite(bg_attack_alie_z(cases[i][0], cases[i][1])));
    assert_true(bg_attack_alie_z(20, 20) == 0.0);
    /* Past an honest majority the quantile is clamped at half a worker: z = Phi^-1(1 - 1/(2(n - f))). */
    assert_true(fabs(bg_attack_alie_z(20, 12) - 1.5341) < 1e-3);
}

static void test_args_init(void **state)
{
    (void)state;
    bg_attack_args_t a;
    bg_err_t err;
    bg_attack_cfg_t c = cfg_of("alie", 0.1, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    assert_true(fabs(a.z - 0.9085) < 1e-3);
    assert_int_equal(a.n, 20);
    assert_int_equal(a.f, 9);
    c.z = 1.06;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    assert_true(a.z == 1.06);
    c.z = INFINITY;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    c = cfg_of("ipm", INFINITY, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "eps"));
    c = cfg_of("ipm", NAN, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    c = cfg_of("minmaxx", 0.1, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "minmaxx"));
    assert_non_null(strstr(err.msg, "alie"));
    assert_non_null(strstr(err.msg, "lf"));

    const bg_attack_ops_t *none = bg_attack_find("none"), *lf = bg_attack_find("lf");
    assert_non_null(none);
    assert_non_null(lf);
    assert_false(none->omniscient);
    assert_false(none->flips_labels);
    assert_null(none->target);
    assert_false(lf->omniscient);
    assert_true(lf->flips_labels);
    assert_null(lf->target);
    static const char *const omni[] = {"ipm", "alie", "sf"};
    for (int i = 0; i < 3; i++) {
        const bg_attack_ops_t *o = bg_attack_find(omni[i]);
        assert_non_null(o);
        assert_true(o->omniscient);
        assert_false(o->flips_labels);
        assert_non_null(o->target);
        assert_true(o->flops(&a, 11, 123) > 0.0);
    }
    assert_null(bg_attack_find("nope"));
    size_t count = 0;
    while (bg_attack_registry[count])
        count++;
    assert_true(count >= 5);
}

static void test_targets(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(3, BG_RNG_ATTACK, 0);
    static const size_t nhs[] = {1, 2, 11, 12, 50};
    static const size_t ds[] = {1, 123, 1000};
    for (size_t hi = 0; hi < sizeof nhs / sizeof nhs[0]; hi++) {
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
            size_t nh = nhs[hi], d = ds[di], n = nh + 9;
            honest_t h = honest_new(r, nh, d);
            float *out = malloc(d * sizeof *out);
            bg_attack_args_t a;
            bg_err_t err;

            bg_attack_cfg_t c = cfg_of("ipm", 0.1, NAN);
            assert_int_equal(bg_attack_args_init(&a, &c, n, 9, &err), BG_OK);
            const bg_attack_ops_t *ipm = bg_attack_find("ipm");
            assert_int_equal(ipm->target(&a, h.rows, nh, d, r, out), BG_OK);
            for (size_t l = 0; l < d; l++)
                assert_true(out[l] == (float)(-0.1 * h.mu[l]));

            c = cfg_of("sf", 0.1, NAN);
            assert_int_equal(bg_attack_args_init(&a, &c, n, 9, &err), BG_OK);
            assert_int_equal(bg_attack_find("sf")->target(&a, h.rows, nh, d, r, out), BG_OK);
            for (size_t l = 0; l < d; l++)
                assert_true(out[l] == (float)(-h.mu[l]));

            c = cfg_of("alie", 0.1, NAN);
            assert_int_equal(bg_attack_args_init(&a, &c, n, 9, &err), BG_OK);
            assert_int_equal(bg_attack_find("alie")->target(&a, h.rows, nh, d, r, out), BG_OK);
            for (size_t l = 0; l < d; l++) {
                double want = h.mu[l] - a.z * h.sd[l];
                assert_true(fabs(out[l] - want) <= 1e-6 * (1.0 + fabs(want)));
                assert_true(fabs(out[l] - h.mu[l]) <= fabs(a.z) * h.sd[l] * (1.0 + 1e-6) + 1e-6 * (1.0 + fabs(h.mu[l])));
            }
            free(out);
            honest_free(&h);
        }
    }
    /* No honest vector: nothing to attack with. */
    bg_attack_args_t a;
    bg_attack_cfg_t c = cfg_of("ipm", 0.1, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, NULL), BG_OK);
    float out[3];
    assert_int_equal(bg_attack_find("ipm")->target(&a, NULL, 0, 3, NULL, out), BG_EINVAL);
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alie_z),
        cmocka_unit_test(test_args_init),
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
