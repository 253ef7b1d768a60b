/* Unit tests for messages and compressors: Top-k against a full-sort reference on random vectors (with ties,
 * k = 1, k = d), the contraction bound, exact byte sizes, and configuration errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "bg_compress.h"

/* ---------------------------------------------------------------- slow reference */

static const float *ref_x;

static int ref_cmp(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    float fa = fabsf(ref_x[a]), fb = fabsf(ref_x[b]);
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return (a > b) - (a < b);
}

static int idx_cmp(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

/* Decoded Top-k by sorting every index by (|x| descending, index ascending). */
static void ref_topk(const float *x, size_t d, size_t k, float *dec, size_t *sel)
{
    size_t *ord = malloc(d * sizeof *ord);
    for (size_t i = 0; i < d; i++)
        ord[i] = i;
    ref_x = x;
    qsort(ord, d, sizeof *ord, ref_cmp);
    memcpy(sel, ord, k * sizeof *sel);
    qsort(sel, k, sizeof *sel, idx_cmp);
    memset(dec, 0, d * sizeof *dec);
    for (size_t j = 0; j < k; j++)
        dec[sel[j]] = x[sel[j]];
    free(ord);
}

static void make_topk(size_t d, size_t k, bg_compressor_t *c)
{
    bg_comp_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.name, "topk");
    cfg.k = k;
    bg_err_t err;
    assert_int_equal(bg_compressor_create(&cfg, d, NULL, 0, c, &err), BG_OK);
    assert_int_equal(c->k, k);
}

/* Compress x with Top-k and compare to the reference: same decoded vector, indices strictly increasing and
 * equal to the reference set, the smaller encoding chosen, the exact byte count. */
static void check_topk(const float *x, size_t d, size_t k)
{
    bg_compressor_t c;
    make_topk(d, k, &c);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, d), BG_OK);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    float *dec = malloc(d * sizeof *dec), *ref = malloc(d * sizeof *ref);
    size_t *sel = malloc(k * sizeof *sel);
    ref_topk(x, d, k, ref, sel);
    bg_msg_decode(&m, dec);
    assert_memory_equal(dec, ref, d * sizeof *dec);
    double dense = bg_msg_bytes_dense(d), sparse = bg_msg_bytes_sparse(d, k);
    assert_int_equal(m.d, d);
    if (dense < sparse) {
        assert_int_equal(m.kind, BG_MSG_DENSE);
        assert_int_equal(m.nnz, d);
        assert_true(m.bytes == dense);
    } else {
        assert_int_equal(m.kind, BG_MSG_SPARSE);
        assert_int_equal(m.nnz, k);
        assert_true(m.bytes == sparse);
        for (size_t j = 0; j < k; j++) {
            assert_int_equal(m.idx[j], sel[j]);
            if (j)
                assert_true(m.idx[j] > m.idx[j - 1]);
            assert_memory_equal(&m.val[j], &x[sel[j]], sizeof(float));
        }
    }
    /* Contraction: |C(x) - x|^2 <= (1 - k/d) |x|^2. */
    double e = 0.0, nx = 0.0;
    for (size_t i = 0; i < d; i++) {
        double t = (double)dec[i] - x[i];
        e += t * t;
        nx += (double)x[i] * x[i];
    }
    assert_true(e <= (1.0 - (double)k / (double)d) * nx * (1.0 + 1e-12) + 1e-300);
    assert_true(c.ops->flops(&c) >= 0.0);
    free(dec);
    free(ref);
    free(sel);
    bg_msg_free(&m);
    bg_compressor_destroy(&c);
}

enum { GEN_GAUSS, GEN_TIES, GEN_NEAR, GEN_SPARSE };

static void gen(gsl_rng *r, int kind, float *x, size_t d)
{
    for (size_t i = 0; i < d; i++) {
        switch (kind) {
        case GEN_GAUSS:
            x[i] = (float)gsl_ran_gaussian(r, 1.0);
            break;
        case GEN_TIES:   /* a handful of magnitudes, both signs: ties everywhere */
            x[i] = (float)((long)gsl_rng_uniform_int(r, 7) - 3);
            break;
        case GEN_NEAR: { /* within a few ulps of +-1: every radix level and exact ties are needed */
            uint32_t u = 0x3F800000u + (uint32_t)gsl_rng_uniform_int(r, 5000);
            float v;
            memcpy(&v, &u, sizeof v);
            x[i] = gsl_rng_uniform(r) < 0.5 ? -v : v;
            break;
        }
        default:         /* mostly zeros (both signs), some denormals, some large */
            {
                double u = gsl_rng_uniform(r);
                x[i] = u < 0.6 ? (u < 0.3 ? 0.0f : -0.0f) : u < 0.8 ? 1e-40f * (float)(u - 0.7)
                                                                     : (float)gsl_ran_gaussian(r, 1e20);
            }
        }
    }
}

static void test_topk_random(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(42, BG_RNG_COMPRESS, 0);
    static const size_t dims[] = {1, 2, 3, 7, 64, 123, 257, 1000, 4099, 70000};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t d = dims[di];
        float *x = malloc(d * sizeof *x);
        size_t ks[] = {1, 2, d / 10, d / 2, (2 * d) / 3, (2 * d) / 3 + 1, d - 1, d};
        for (int kind = GEN_GAUSS; kind <= GEN_SPARSE; kind++) {
            gen(r, kind, x, d);
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                size_t k = ks[ki];
                if (k == 0 || k > d)
                    continue;
                if (d >= 70000 && k > 2 && k != d / 10 && k != d)
                    continue;   /* the reference sort is the slow part */
                check_topk(x, d, k);
            }
        }
        free(x);
    }
    gsl_rng_free(r);
}

static void test_topk_ties_lower_index(void **state)
{
    (void)state;
    const float x[] = {1, -3, 2, 3, -3, 0, 3};
    bg_compressor_t c;
    make_topk(7, 2, &c);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, 7), BG_OK);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_int_equal(m.kind, BG_MSG_SPARSE);
    assert_int_equal(m.nnz, 2);
    assert_int_equal(m.idx[0], 1);
    assert_int_equal(m.idx[1], 3);
    assert_true(m.val[0] == -3.0f && m.val[1] == 3.0f);
    bg_compressor_destroy(&c);

    make_topk(7, 1, &c);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_int_equal(m.nnz, 1);
    assert_int_equal(m.idx[0], 1);
    bg_msg_free(&m);
    bg_compressor_destroy(&c);
}

static void test_topk_nan_is_kept(void **state)
{
    (void)state;
    float x[50];
    for (int i = 0; i < 50; i++)
        x[i] = (float)i;
    x[3] = NAN;
    for (size_t k = 1; k <= 3; k++) {
        bg_compressor_t c;
        make_topk(50, k, &c);
        bg_msg_t m;
        assert_int_equal(bg_msg_init(&m, 50), BG_OK);
        assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
        assert_false(bg_msg_all_finite(&m));
        bg_msg_free(&m);
        bg_compressor_destroy(&c);
    }
}

static void test_bytes(void **state)
{
    (void)state;
    assert_int_equal(bg_index_bytes(1), 1);
    assert_int_equal(bg_index_bytes(123), 1);
    assert_int_equal(bg_index_bytes(256), 1);
    assert_int_equal(bg_index_bytes(257), 2);
    assert_int_equal(bg_index_bytes(1000), 2);
    assert_int_equal(bg_index_bytes(65536), 2);
    assert_int_equal(bg_index_bytes(65537), 3);
    assert_int_equal(bg_index_bytes((size_t)1 << 24), 3);
    assert_int_equal(bg_index_bytes(((size_t)1 << 24) + 1), 4);
    assert_int_equal(bg_index_bytes(11000000), 3);
    assert_true(bg_msg_bytes_dense(123) == 16 + 492);
    assert_true(bg_msg_bytes_sparse(123, 1) == 21);
    assert_true(bg_msg_bytes_sparse(1000, 10) == 16 + 10 * 6);

    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)sin(i);
    bg_compressor_t c;
    bg_msg_t m;
    make_topk(123, 1, &c);
    assert_int_equal(bg_msg_init(&m, 123), BG_OK);
    assert_true(m.bytes == 16 + 492);   /* a fresh message is a dense zero vector */
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_true(m.bytes == 21);
    bg_msg_free(&m);
    bg_compressor_destroy(&c);

    make_topk(1000, 100, &c);
    assert_int_equal(bg_msg_init(&m, 1000), BG_OK);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_int_equal(m.kind, BG_MSG_SPARSE);
    assert_true(m.bytes == 16 + 100 * 6);
    bg_msg_free(&m);
    bg_compressor_destroy(&c);

    bg_comp_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.name, "identity");
    bg_err_t err;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 123);
    assert_int_equal(bg_msg_init(&m, 123), BG_OK);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_int_equal(m.kind, BG_MSG_DENSE);
    assert_true(m.bytes == 16 + 492);
    assert_memory_equal(m.val, x, 123 * sizeof(float));
    assert_true(c.ops->flops(&c) == 0.0);
    assert_true(c.omega == 0.0 && c.alpha == 1.0);
    bg_msg_free(&m);
    bg_compressor_destroy(&c);
}

static void test_create_errors(void **state)
{
    (void)state;
    bg_comp_cfg_t cfg;
    bg_compressor_t c;
    bg_err_t err;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.name, "topk");
    cfg.k = 124;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_ERANGE);
    assert_int_equal(err.code, BG_ERANGE);
    assert_non_null(strstr(err.msg, "k = 124"));
    assert_non_null(strstr(err.msg, "d = 123"));
    assert_non_null(strstr(err.msg, "1..123"));

    cfg.k = 0;
    cfg.ratio = 1.5;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_ERANGE);
    cfg.ratio = NAN;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_EINVAL);
    cfg.ratio = 0.1;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 12);
    assert_true(fabs(c.alpha - 12.0 / 123.0) < 1e-15 && isnan(c.omega));
    bg_compressor_destroy(&c);
    cfg.ratio = 0.001;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 1);
    bg_compressor_destroy(&c);
    cfg.ratio = 1.0;
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 123);
    bg_compressor_destroy(&c);

    strcpy(cfg.name, "randk-nope");
    assert_int_equal(bg_compressor_create(&cfg, 123, NULL, 0, &c, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "randk-nope"));
    assert_non_null(strstr(err.msg, "identity"));
    assert_non_null(strstr(err.msg, "topk"));

    assert_non_null(bg_compressor_find("topk"));
    assert_null(bg_compressor_find("nope"));
    size_t count = 0;
    while (bg_compressor_registry[count])
        count++;
    assert_true(count >= 2);
}

static void test_msg_ops(void **state)
{
    (void)state;
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, 10), BG_OK);
    assert_int_equal(m.kind, BG_MSG_DENSE);
    assert_int_equal(m.nnz, 10);
    for (int i = 0; i < 10; i++)
        assert_true(m.val[i] == 0.0f);
    float g[10], out[10], x[10];
    for (int i = 0; i < 10; i++) {
        g[i] = (float)i;
        x[i] = (float)(2 * i + 1);
    }
    bg_msg_set_dense(&m, x);
    bg_msg_decode(&m, out);
    assert_memory_equal(out, x, sizeof x);
    bg_msg_add_to(&m, 0.5f, g);
    for (int i = 0; i < 10; i++)
        assert_true(g[i] == (float)i + 0.5f * (float)(2 * i + 1));

    m.kind = BG_MSG_SPARSE;
    m.nnz = 3;
    m.idx[0] = 1;
    m.idx[1] = 4;
    m.idx[2] = 9;
    m.val[0] = 2.0f;
    m.val[1] = -1.0f;
    m.val[2] = 8.0f;
    m.bytes = bg_msg_bytes_sparse(10, 3);
    for (int i = 0; i < 10; i++)
        out[i] = 99.0f;
    bg_msg_decode(&m, out);
    const float want[10] = {0, 2, 0, 0, -1, 0, 0, 0, 0, 8};
    assert_memory_equal(out, want, sizeof want);
    for (int i = 0; i < 10; i++)
        g[i] = 1.0f;
    bg_msg_add_to(&m, -2.0f, g);
    for (int i = 0; i < 10; i++)
        assert_true(g[i] == 1.0f - 2.0f * want[i]);
    assert_true(bg_msg_all_finite(&m));
    m.val[2] = INFINITY;
    assert_false(bg_msg_all_finite(&m));
    bg_msg_free(&m);
    bg_msg_free(&m);   /* freeing twice is harmless */
    assert_int_equal(bg_msg_init(&m, 0), BG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_random),
        cmocka_unit_test(test_topk_ties_lower_index),
        cmocka_unit_test(test_topk_nan_is_kept),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_msg_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
