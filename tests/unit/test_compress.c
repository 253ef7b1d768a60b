/* Unit tests for messages and compressors: Top-k against a full-sort reference, the defining property of every
 * other compressor checked statistically (unbiasedness, omega, alpha), exact byte sizes, scope, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "bg_compress.h"
#include "bg_config.h"

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
    assert_int_equal(bg_compressor_init(&cfg, d, NULL, 0, c, &err), BG_OK);
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
    bg_msg_destroy(&m);
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
    bg_msg_destroy(&m);
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
        bg_msg_destroy(&m);
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
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);

    make_topk(1000, 100, &c);
    assert_int_equal(bg_msg_init(&m, 1000), BG_OK);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_int_equal(m.kind, BG_MSG_SPARSE);
    assert_true(m.bytes == 16 + 100 * 6);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);

    bg_comp_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.name, "identity");
    bg_err_t err;
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 123);
    assert_int_equal(bg_msg_init(&m, 123), BG_OK);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    assert_int_equal(m.kind, BG_MSG_DENSE);
    assert_true(m.bytes == 16 + 492);
    assert_memory_equal(m.val, x, 123 * sizeof(float));
    assert_true(c.ops->flops(&c) == 0.0);
    assert_true(c.omega == 0.0 && c.alpha == 1.0);
    bg_msg_destroy(&m);
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
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_ERANGE);
    assert_int_equal(err.code, BG_ERANGE);
    assert_non_null(strstr(err.msg, "k = 124"));
    assert_non_null(strstr(err.msg, "d = 123"));
    assert_non_null(strstr(err.msg, "1..123"));

    cfg.k = 0;
    cfg.ratio = 1.5;
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_ERANGE);
    cfg.ratio = NAN;
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_EINVAL);
    cfg.ratio = 0.1;
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 12);
    assert_true(fabs(c.alpha - 12.0 / 123.0) < 1e-15 && isnan(c.omega));
    bg_compressor_destroy(&c);
    cfg.ratio = 0.001;
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 1);
    bg_compressor_destroy(&c);
    cfg.ratio = 1.0;
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_OK);
    assert_int_equal(c.k, 123);
    bg_compressor_destroy(&c);

    strcpy(cfg.name, "randk-nope");
    assert_int_equal(bg_compressor_init(&cfg, 123, NULL, 0, &c, &err), BG_ENOTFOUND);
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
    bg_msg_destroy(&m);
    bg_msg_destroy(&m);   /* freeing twice is harmless */
    assert_int_equal(bg_msg_init(&m, 0), BG_EINVAL);
}


/* ---------------------------------------------------------------- the other compressors */

static void mk(bg_compressor_t *c, const char *name, size_t d, const size_t *layers, size_t nl, size_t k,
               double ratio, int scaled, int shared, size_t levels, int per_layer)
{
    bg_comp_cfg_t cfg;
    bg_comp_cfg_default(&cfg);
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    cfg.k = k;
    cfg.ratio = ratio;
    cfg.scaled = scaled;
    cfg.shared_mask = shared;
    cfg.levels = levels;
    cfg.per_layer = per_layer;
    bg_err_t err;
    int rc = bg_compressor_init(&cfg, d, layers, nl, c, &err);
    if (rc)
        fail_msg("create %s: %s", name, err.msg);
}

static double norm2(const float *x, size_t d)
{
    double s = 0.0;
    for (size_t i = 0; i < d; i++)
        s += (double)x[i] * x[i];
    return s;
}

static double err2(const float *a, const float *x, size_t d)
{
    double s = 0.0;
    for (size_t i = 0; i < d; i++) {
        double t = (double)a[i] - x[i];
        s += t * t;
    }
    return s;
}

static void gauss(gsl_rng *r, float *x, size_t d)
{
    for (size_t i = 0; i < d; i++)
        x[i] = (float)gsl_ran_gaussian(r, 1.0);
}

static void check_sorted(const bg_msg_t *m)
{
    if (m->kind == BG_MSG_SPARSE)
        for (size_t j = 0; j < m->nnz; j++) {
            assert_true(m->idx[j] < m->d);
            if (j)
                assert_true(m->idx[j] > m->idx[j - 1]);
        }
    else
        assert_int_equal(m->nnz, m->d);
}

static void test_registry_flags(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int biased;
    } want[] = {{"identity", 0}, {"topk", 1}, {"randk", 0}, {"randk-unscaled", 1},
                {"sign", 1},     {"qsgd", 0}, {"fp16", 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const bg_compressor_ops_t *o = bg_compressor_find(want[i].name);
        assert_non_null(o);
        assert_int_equal(o->biased, want[i].biased);
        assert_non_null(o->summary);
    }
    bg_comp_cfg_t cfg;
    bg_comp_cfg_default(&cfg);
    assert_string_equal(cfg.name, "identity");
    assert_true(cfg.k == 0 && cfg.ratio == 0.1 && cfg.scaled == 1 && cfg.shared_mask == 0 && cfg.levels == 16 &&
                cfg.per_layer == 0);

    bg_compressor_t c;
    mk(&c, "randk", 100, NULL, 0, 10, 0, 1, 0, 16, 0);
    assert_string_equal(c.ops->name, "randk");
    assert_false(c.ops->biased);
    assert_true(fabs(c.omega - 9.0) < 1e-12 && isnan(c.alpha));
    bg_compressor_destroy(&c);
    /* scaled = 0 resolves to the biased ops, so the engine's unbiased-only check sees it. */
    mk(&c, "randk", 100, NULL, 0, 10, 0, 0, 0, 16, 0);
    assert_string_equal(c.ops->name, "randk-unscaled");
    assert_true(c.ops->biased);
    assert_true(fabs(c.alpha - 0.1) < 1e-12 && isnan(c.omega));
    bg_compressor_destroy(&c);
    mk(&c, "randk-unscaled", 100, NULL, 0, 10, 0, 1, 0, 16, 0);
    assert_true(c.ops->biased && c.cfg.scaled == 0);
    bg_compressor_destroy(&c);
    mk(&c, "sign", 100, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    assert_true(fabs(c.alpha - 0.01) < 1e-15 && isnan(c.omega) && c.k == 100);
    bg_compressor_destroy(&c);
    mk(&c, "qsgd", 100, NULL, 0, 0, 0.1, 1, 0, 4, 0);
    assert_true(fabs(c.omega - fmin(100.0 / 16.0, 10.0 / 4.0)) < 1e-12 && isnan(c.alpha));   /* sqrt(d)/s wins */
    bg_compressor_destroy(&c);
    mk(&c, "fp16", 100, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    assert_true(isnan(c.alpha) && isnan(c.omega));
    assert_true(c.ops->flops(&c) > 0.0);
    bg_compressor_destroy(&c);
    bg_compressor_destroy(&c);   /* twice is harmless */
}

/* Scaled rand-k: every coordinate's mean over many draws within 5 standard errors of x, inclusion counts
 * binomial(N, k/d), and the mean squared error matching omega |x|^2 = (d/k - 1)|x|^2 to 5 %. Both sampling
 * paths: Floyd (k small) and selection sampling (k > d/5). */
static void test_randk_unbiased(void **state)
{
    (void)state;
    const size_t d = 30, N = 20000, ks[] = {4, 20};
    gsl_rng *xr = bg_rng_stream(1, BG_RNG_INIT, 0), *own = bg_rng_stream(1, BG_RNG_COMPRESS, 0);
    bg_comp_rngs_t r = {own, NULL};
    float x[30], dec[30];
    double sum[30], cnt[30];
    for (size_t ki = 0; ki < 2; ki++) {
        size_t k = ks[ki];
        bg_compressor_t c;
        mk(&c, "randk", d, NULL, 0, k, 0, 1, 0, 16, 0);
        gauss(xr, x, d);
        memset(sum, 0, sizeof sum);
        memset(cnt, 0, sizeof cnt);
        double e = 0.0, nx = norm2(x, d);
        bg_msg_t m;
        assert_int_equal(bg_msg_init(&m, d), BG_OK);
        for (size_t t = 0; t < N; t++) {
            assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
            assert_int_equal(m.kind, BG_MSG_SPARSE);
            assert_int_equal(m.nnz, k);
            assert_true(m.bytes == 16 + 5.0 * k);
            check_sorted(&m);
            for (size_t j = 0; j < k; j++) {
                assert_true(m.val[j] == (float)((double)x[m.idx[j]] * d / k));
                cnt[m.idx[j]] += 1.0;
            }
            bg_msg_decode(&m, dec);
            for (size_t i = 0; i < d; i++)
                sum[i] += dec[i];
            e += err2(dec, x, d);
        }
        double p = (double)k / d;
        for (size_t i = 0; i < d; i++) {
            double se = fabs(x[i]) * sqrt(1.0 / p - 1.0) / sqrt((double)N);
            assert_true(fabs(sum[i] / N - x[i]) <= 5.0 * se + 1e-6);
            assert_true(fabs(cnt[i] - N * p) <= 5.0 * sqrt(N * p * (1 - p)));
        }
        e /= N;
        assert_true(e <= c.omega * nx * 1.05);
        assert_true(e >= c.omega * nx * 0.95);
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
    }
    gsl_rng_free(xr);
    gsl_rng_free(own);
}

/* Every k-subset equally likely (chi-square over all subsets), on both sampling paths. */
static void test_randk_subsets_uniform(void **state)
{
    (void)state;
    static const size_t cases[][2] = {{8, 2}, {5, 3}, {12, 3}};
    gsl_rng *own = bg_rng_stream(5, BG_RNG_COMPRESS, 1);
    bg_comp_rngs_t r = {own, NULL};
    for (size_t ci = 0; ci < 3; ci++) {
        size_t d = cases[ci][0], k = cases[ci][1];
        bg_compressor_t c;
        mk(&c, "randk", d, NULL, 0, k, 0, 1, 0, 16, 0);
        float x[12];
        for (size_t i = 0; i < d; i++)
            x[i] = 1.0f;
        static double hist[4096];
        memset(hist, 0, sizeof hist);
        size_t N = 30000, nsub = 0;
        bg_msg_t m;
        assert_int_equal(bg_msg_init(&m, d), BG_OK);
        float dec[12];
        for (size_t t = 0; t < N; t++) {
            assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
            bg_msg_decode(&m, dec);
            unsigned mask = 0, pop = 0;
            for (size_t i = 0; i < d; i++)
                if (dec[i] != 0.0f) {
                    mask |= 1u << i;
                    pop++;
                }
            assert_int_equal(pop, k);
            hist[mask] += 1.0;
        }
        for (unsigned mask = 0; mask < (1u << d); mask++)
            nsub += (size_t)__builtin_popcount(mask) == k;
        double expct = (double)N / nsub, chi = 0.0;
        for (unsigned mask = 0; mask < (1u << d); mask++)
            if ((size_t)__builtin_popcount(mask) == k)
                chi += (hist[mask] - expct) * (hist[mask] - expct) / expct;
        /* df = nsub - 1 (<= 219); mean df, sd sqrt(2 df): 6 sd is far in the tail. */
        double df = (double)nsub - 1.0;
        assert_true(chi <= df + 6.0 * sqrt(2.0 * df));
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
    }
    gsl_rng_free(own);
}

static void test_randk_unscaled_contraction(void **state)
{
    (void)state;
    const size_t d = 50, k = 7, N = 20000;
    gsl_rng *xr = bg_rng_stream(2, BG_RNG_INIT, 0), *own = bg_rng_stream(2, BG_RNG_COMPRESS, 0);
    bg_comp_rngs_t r = {own, NULL};
    float x[50], dec[50];
    gauss(xr, x, d);
    bg_compressor_t c;
    mk(&c, "randk", d, NULL, 0, k, 0, 0, 0, 16, 0);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, d), BG_OK);
    double e = 0.0, nx = norm2(x, d);
    for (size_t t = 0; t < N; t++) {
        assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
        for (size_t j = 0; j < m.nnz; j++)
            assert_true(m.val[j] == x[m.idx[j]]);
        bg_msg_decode(&m, dec);
        double et = err2(dec, x, d);
        assert_true(et <= nx);
        e += et;
    }
    e /= N;
    assert_true(fabs(e - (1.0 - c.alpha) * nx) <= 0.03 * nx);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);
    gsl_rng_free(xr);
    gsl_rng_free(own);
}

/* Large d, small k (the O(k) path): distinct sorted indices, and repeated calls stay fast. */
static void test_randk_large(void **state)
{
    (void)state;
    const size_t d = 2000000, k = 50;
    float *x = malloc(d * sizeof *x);
    for (size_t i = 0; i < d; i++)
        x[i] = (float)(i % 97) - 48.0f;
    gsl_rng *own = bg_rng_stream(3, BG_RNG_COMPRESS, 0);
    bg_comp_rngs_t r = {own, NULL};
    bg_compressor_t c;
    mk(&c, "randk", d, NULL, 0, k, 0, 1, 0, 16, 0);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, d), BG_OK);
    for (int t = 0; t < 2000; t++) {
        assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
        assert_int_equal(m.nnz, k);
        check_sorted(&m);
    }
    assert_true(m.bytes == 16 + 50.0 * (4 + 3));
    assert_true(c.ops->flops(&c) < 20.0 * k);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);
    gsl_rng_free(own);
    free(x);
}

/* Two workers with different own streams but the same shared stream pick the same mask, and pay 4k; the next
 * round's mask differs. Without shared_mask they differ and pay for indices. */
static void test_shared_mask(void **state)
{
    (void)state;
    const size_t d = 1000, k = 10;
    float x[1000];
    for (size_t i = 0; i < d; i++)
        x[i] = (float)sin((double)i) + 2.0f;
    gsl_rng *o1 = bg_rng_stream(9, BG_RNG_COMPRESS, 1), *o2 = bg_rng_stream(9, BG_RNG_COMPRESS, 2);
    gsl_rng *s1 = bg_rng_stream(9, BG_RNG_SHARED, 0), *s2 = bg_rng_stream(9, BG_RNG_SHARED, 0);
    bg_compressor_t c, ci;
    mk(&c, "randk", d, NULL, 0, k, 0, 1, 1, 16, 0);
    mk(&ci, "randk", d, NULL, 0, k, 0, 1, 0, 16, 0);
    bg_msg_t a, b;
    assert_int_equal(bg_msg_init(&a, d), BG_OK);
    assert_int_equal(bg_msg_init(&b, d), BG_OK);
    uint32_t prev[10];
    for (uint64_t round = 0; round < 5; round++) {
        bg_rng_reseed(s1, 9, BG_RNG_SHARED, round);
        bg_rng_reseed(s2, 9, BG_RNG_SHARED, round);
        bg_comp_rngs_t r1 = {o1, s1}, r2 = {o2, s2};
        assert_int_equal(c.ops->compress(&c, x, &r1, &a), BG_OK);
        assert_int_equal(c.ops->compress(&c, x, &r2, &b), BG_OK);
        assert_int_equal(a.nnz, k);
        assert_memory_equal(a.idx, b.idx, k * sizeof *a.idx);
        assert_memory_equal(a.val, b.val, k * sizeof *a.val);
        assert_true(a.bytes == 16 + 4.0 * k);
        check_sorted(&a);
        if (round)
            assert_memory_not_equal(a.idx, prev, k * sizeof *a.idx);
        memcpy(prev, a.idx, sizeof prev);

        assert_int_equal(ci.ops->compress(&ci, x, &r1, &a), BG_OK);
        assert_int_equal(ci.ops->compress(&ci, x, &r2, &b), BG_OK);
        assert_memory_not_equal(a.idx, b.idx, k * sizeof *a.idx);
        assert_true(a.bytes == 16 + 10.0 * (4 + 2));
    }
    /* The shared mode needs the shared stream, the independent one its own. */
    bg_comp_rngs_t only_own = {o1, NULL}, only_shared = {NULL, s1};
    assert_int_equal(c.ops->compress(&c, x, &only_own, &a), BG_EINVAL);
    assert_int_equal(ci.ops->compress(&ci, x, &only_shared, &a), BG_EINVAL);
    assert_int_equal(ci.ops->compress(&ci, x, NULL, &a), BG_EINVAL);
    bg_msg_destroy(&a);
    bg_msg_destroy(&b);
    bg_compressor_destroy(&c);
    bg_compressor_destroy(&ci);
    gsl_rng_free(o1);
    gsl_rng_free(o2);
    gsl_rng_free(s1);
    gsl_rng_free(s2);
}

/* Same seeds, same messages; another seed, another message. */
static void test_determinism(void **state)
{
    (void)state;
    const char *names[] = {"randk", "qsgd"};
    float x[200];
    for (size_t i = 0; i < 200; i++)
        x[i] = (float)cos(0.3 * (double)i);
    for (size_t ni = 0; ni < 2; ni++) {
        bg_compressor_t c;
        mk(&c, names[ni], 200, NULL, 0, 0, 0.1, 1, 0, 4, 0);
        bg_msg_t m[3];
        for (int t = 0; t < 3; t++) {
            assert_int_equal(bg_msg_init(&m[t], 200), BG_OK);
            gsl_rng *own = bg_rng_stream(t == 2 ? 12 : 11, BG_RNG_COMPRESS, 0);
            bg_comp_rngs_t r = {own, NULL};
            assert_int_equal(c.ops->compress(&c, x, &r, &m[t]), BG_OK);
            gsl_rng_free(own);
        }
        assert_int_equal(m[0].nnz, m[1].nnz);
        assert_memory_equal(m[0].val, m[1].val, m[0].nnz * sizeof(float));
        if (m[0].kind == BG_MSG_SPARSE)
            assert_memory_equal(m[0].idx, m[1].idx, m[0].nnz * sizeof(uint32_t));
        assert_true(m[0].bytes == m[1].bytes);
        assert_memory_not_equal(m[0].val, m[2].val, m[0].nnz * sizeof(float));
        for (int t = 0; t < 3; t++)
            bg_msg_destroy(&m[t]);
        bg_compressor_destroy(&c);
    }
}

/* QSGD: unbiased (mean within 5 standard errors, the per-draw variance of coordinate j being at most
 * (|x| / s)^2 / 4), E|C(x) - x|^2 <= omega |x|^2, every value a multiple of |x|/s no larger than |x|. */
static void test_qsgd(void **state)
{
    (void)state;
    static const size_t levels[] = {1, 4, 16};
    const size_t d = 64, N = 20000;
    gsl_rng *xr = bg_rng_stream(4, BG_RNG_INIT, 0), *own = bg_rng_stream(4, BG_RNG_COMPRESS, 0);
    bg_comp_rngs_t r = {own, NULL};
    float x[64], dec[64];
    double sum[64];
    for (size_t li = 0; li < 3; li++) {
        size_t s = levels[li];
        bg_compressor_t c;
        mk(&c, "qsgd", d, NULL, 0, 0, 0.1, 1, 0, s, 0);
        assert_true(fabs(c.omega - fmin((double)d / (s * s), sqrt((double)d) / s)) < 1e-12);
        gauss(xr, x, d);
        x[5] = 0.0f;
        double nx = norm2(x, d), nrm = sqrt(nx), e = 0.0;
        memset(sum, 0, sizeof sum);
        bg_msg_t m;
        assert_int_equal(bg_msg_init(&m, d), BG_OK);
        for (size_t t = 0; t < N; t++) {
            assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
            assert_int_equal(m.kind, BG_MSG_DENSE);
            bg_msg_decode(&m, dec);
            for (size_t i = 0; i < d; i++) {
                double lv = fabs(dec[i]) * s / nrm;
                assert_true(fabs(lv - round(lv)) < 1e-4);
                assert_true(lv <= s + 1e-4);
                assert_true(dec[i] == 0.0f || (dec[i] < 0) == (x[i] < 0));
                sum[i] += dec[i];
            }
            assert_true(dec[5] == 0.0f);
            e += err2(dec, x, d);
        }
        for (size_t i = 0; i < d; i++) {
            double se = nrm / s / 2.0 / sqrt((double)N);
            assert_true(fabs(sum[i] / N - x[i]) <= 5.0 * se + 1e-6);
        }
        assert_true(e / N <= c.omega * nx * 1.05);
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
    }
    /* A zero vector quantises to zeros. */
    bg_compressor_t c;
    mk(&c, "qsgd", d, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, d), BG_OK);
    memset(x, 0, sizeof x);
    assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
    for (size_t i = 0; i < d; i++)
        assert_true(m.val[i] == 0.0f);
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_EINVAL);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);
    gsl_rng_free(xr);
    gsl_rng_free(own);
}

/* Scaled sign: the known example, and on random vectors |C(x) - x|^2 = |x|^2 - |x|_1^2/d <= (1 - 1/d)|x|^2. */
static void test_sign(void **state)
{
    (void)state;
    const float x4[4] = {1, -2, 0, 3};
    bg_compressor_t c;
    mk(&c, "sign", 4, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, 4), BG_OK);
    assert_int_equal(c.ops->compress(&c, x4, NULL, &m), BG_OK);
    const float want[4] = {1.5f, -1.5f, 1.5f, 1.5f};
    assert_int_equal(m.kind, BG_MSG_DENSE);
    assert_memory_equal(m.val, want, sizeof want);
    assert_true(m.bytes == 16 + 1 + 4);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);

    gsl_rng *xr = bg_rng_stream(6, BG_RNG_INIT, 0);
    static const size_t dims[] = {1, 7, 8, 9, 100, 1001};
    for (size_t di = 0; di < 6; di++) {
        size_t d = dims[di];
        float *x = malloc(d * sizeof *x), *dec = malloc(d * sizeof *dec);
        mk(&c, "sign", d, NULL, 0, 0, 0.1, 1, 0, 16, 0);
        assert_int_equal(bg_msg_init(&m, d), BG_OK);
        for (int t = 0; t < 20; t++) {
            gauss(xr, x, d);
            if (t % 2)
                for (size_t i = 0; i < d; i++)
                    x[i] = x[i] * x[i] * x[i];   /* heavier tails: far from the 1/d worst case either way */
            assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
            bg_msg_decode(&m, dec);
            double l1 = 0.0, nx = norm2(x, d), e = err2(dec, x, d);
            for (size_t i = 0; i < d; i++)
                l1 += fabs(x[i]);
            assert_true(fabs(e - (nx - l1 * l1 / d)) <= 1e-5 * nx);
            assert_true(e <= (1.0 - c.alpha) * nx * (1.0 + 1e-6));
            assert_true(m.bytes == 16.0 + (double)((d + 7) / 8) + 4.0);
        }
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
        free(x);
        free(dec);
    }
    /* The worst case is tight: a one-hot vector. */
    float oh[10] = {0};
    oh[3] = 5.0f;
    float dec[10];
    mk(&c, "sign", 10, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    assert_int_equal(bg_msg_init(&m, 10), BG_OK);
    assert_int_equal(c.ops->compress(&c, oh, NULL, &m), BG_OK);
    bg_msg_decode(&m, dec);
    assert_true(fabs(err2(dec, oh, 10) - (1.0 - c.alpha) * 25.0) < 1e-5);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);
    gsl_rng_free(xr);
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* fp16 against values worked out by hand, and (when the compiler has _Float16) against its conversions on
 * every half, every midpoint between neighbouring halves and a million random bit patterns. */
static void test_fp16(void **state)
{
    (void)state;
    static const float in[] = {
        1.0f, -2.5f, 65504.0f, 65519.0f, 65520.0f, -1e6f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-24f,
        0x1p-25f, 1.5f * 0x1p-25f, 3 * 0x1p-25f, 0x1p-14f, 0x1p-14f - 0x1p-25f, -0.0f, 0.1f, 1e-30f, INFINITY,
        0x1p-26f, 65503.0f, 2049.0f, 2051.0f};
    static const float want[] = {
        1.0f, -2.5f, 65504.0f, 65504.0f, 65504.0f, -65504.0f, 1.0f, 1.0f + 0x1p-9f, 0x1p-24f,
        0.0f, 0x1p-24f, 2 * 0x1p-24f, 0x1p-14f, 0x1p-14f, -0.0f, 0.0999755859375f, 0.0f, INFINITY,
        0.0f, 65504.0f, 2048.0f, 2052.0f};
    const size_t n = sizeof in / sizeof in[0];
    bg_compressor_t c;
    mk(&c, "fp16", n, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    bg_msg_t m;
    assert_int_equal(bg_msg_init(&m, n), BG_OK);
    assert_int_equal(c.ops->compress(&c, in, NULL, &m), BG_OK);
    assert_true(m.bytes == 16.0 + 2.0 * n);
    for (size_t i = 0; i < n; i++)
        if (to_bits(m.val[i]) != to_bits(want[i]))
            fail_msg("fp16(%a) = %a, want %a", (double)in[i], (double)m.val[i], (double)want[i]);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);

    float nanv[1] = {NAN};
    mk(&c, "fp16", 1, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    assert_int_equal(bg_msg_init(&m, 1), BG_OK);
    assert_int_equal(c.ops->compress(&c, nanv, NULL, &m), BG_OK);
    assert_true(isnan(m.val[0]));
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);

#ifdef __FLT16_MAX__
    const size_t N = 1u << 20;
    float *x = malloc(N * sizeof *x);
    mk(&c, "fp16", N, NULL, 0, 0, 0.1, 1, 0, 16, 0);
    assert_int_equal(bg_msg_init(&m, N), BG_OK);
    /* Every finite half and the midpoint above it (ties, both directions of rounding). */
    size_t cnt = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        uint16_t hb = (uint16_t)h;
        _Float16 v;
        memcpy(&v, &hb, sizeof v);
        float f = (float)v;
        if (!isfinite(f))
            continue;
        x[cnt++] = f;
        if ((h & 0x7FFFu) < 0x7BFFu) {
            uint16_t nb = (uint16_t)(h + 1);
            _Float16 w;
            memcpy(&w, &nb, sizeof w);
            x[cnt++] = (float)(((double)f + (double)(float)w) / 2.0);
        }
    }
    gsl_rng *br = bg_rng_stream(8, BG_RNG_INIT, 0);
    while (cnt < N)
        x[cnt++] = from_bits((uint32_t)gsl_rng_get(br));
    assert_int_equal(c.ops->compress(&c, x, NULL, &m), BG_OK);
    for (size_t i = 0; i < N; i++) {
        float ref = (float)(_Float16)x[i];
        if (isinf(ref) && isfinite(x[i]))
            ref = copysignf(65504.0f, x[i]);   /* finite input saturates instead of overflowing */
        if (isnan(ref)) {
            assert_true(isnan(m.val[i]));
            continue;
        }
        if (to_bits(m.val[i]) != to_bits(ref))
            fail_msg("fp16(%a) = %a, _Float16 says %a", (double)x[i], (double)m.val[i], (double)ref);
    }
    gsl_rng_free(br);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);
    free(x);
#endif
}

/* Exact wire sizes for small known cases, global and per layer. */
static void test_bytes_new(void **state)
{
    (void)state;
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)sin(i);
    gsl_rng *own = bg_rng_stream(1, BG_RNG_COMPRESS, 0), *sh = bg_rng_stream(1, BG_RNG_SHARED, 0);
    bg_comp_rngs_t r = {own, sh};
    static const size_t L2[] = {200, 800}, L3[] = {100, 23};
    static const struct {
        const char *name;
        size_t d, k, levels;
        int shared, per_layer;
        const size_t *layers;
        size_t nl;
        double bytes;
    } cases[] = {
        {"randk", 1000, 10, 16, 0, 0, NULL, 0, 16 + 10 * 6},
        {"randk", 1000, 10, 16, 1, 0, NULL, 0, 16 + 10 * 4},
        {"randk", 1000, 700, 16, 0, 0, NULL, 0, 16 + 4000},   /* dense is smaller than 700 pairs */
        {"randk", 1000, 1000, 16, 1, 0, NULL, 0, 16 + 4000},
        {"sign", 123, 0, 16, 0, 0, NULL, 0, 16 + 16 + 4},
        {"qsgd", 123, 0, 16, 0, 0, NULL, 0, 16 + 4 + 93},    /* 123 * (1 + 5) bits = 92.25 bytes */
        {"qsgd", 123, 0, 1, 0, 0, NULL, 0, 16 + 4 + 31},     /* 123 * 2 bits */
        {"qsgd", 123, 0, 15, 0, 0, NULL, 0, 16 + 4 + 77},    /* 4 level bits: 123 * 5 bits = 76.9 */
        {"fp16", 123, 0, 16, 0, 0, NULL, 0, 16 + 246},
        {"sign", 123, 0, 16, 0, 1, L3, 2, 16 + (13 + 4) + (3 + 4)},
        {"qsgd", 123, 0, 16, 0, 1, L3, 2, 16 + (4 + 75) + (4 + 18)},   /* 600 bits, 138 bits -> 17.25 */
        {"topk", 1000, 0, 16, 0, 1, L2, 2, 16 + 20 * 5 + 80 * 6},       /* index width from d_l: 1 and 2 */
        {"randk", 1000, 0, 16, 0, 1, L2, 2, 16 + 20 * 5 + 80 * 6},
        {"randk", 1000, 0, 16, 1, 1, L2, 2, 16 + 4 * 100},
        {"topk", 1000, 0, 16, 0, 0, L2, 2, 16 + 100 * 6},               /* layers given, global scope */
        {"identity", 1000, 0, 16, 0, 1, L2, 2, 16 + 4000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bg_compressor_t c;
        mk(&c, cases[i].name, cases[i].d, cases[i].layers, cases[i].nl, cases[i].k, 0.1, 1, cases[i].shared,
           cases[i].levels, cases[i].per_layer);
        bg_msg_t m;
        assert_int_equal(bg_msg_init(&m, cases[i].d), BG_OK);
        assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
        if (m.bytes != cases[i].bytes)
            fail_msg("case %zu (%s): %g bytes, want %g", i, cases[i].name, m.bytes, cases[i].bytes);
        check_sorted(&m);
        assert_true(c.ops->flops(&c) >= 0.0);
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
    }
    gsl_rng_free(own);
    gsl_rng_free(sh);
}

/* Per-layer scope is the same as compressing every slice on its own, in order, from the same streams: same
 * decoded vector, bytes = one header + the slices' payloads, indices global and increasing. */
static void test_per_layer_equals_slices(void **state)
{
    (void)state;
    static const size_t L[] = {37, 1, 200, 62};
    const size_t d = 300, nl = 4;
    static const struct {
        const char *name;
        int scaled, shared;
        size_t k;
    } cases[] = {{"topk", 1, 0, 0},  {"randk", 1, 0, 0}, {"randk", 0, 0, 0}, {"randk", 1, 1, 0},
                 {"randk", 1, 0, 5}, {"sign", 1, 0, 0},  {"qsgd", 1, 0, 0},  {"fp16", 1, 0, 0},
                 {"identity", 1, 0, 0}};
    gsl_rng *xr = bg_rng_stream(10, BG_RNG_INIT, 0);
    float x[300], whole[300], part[300];
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        gauss(xr, x, d);
        bg_compressor_t c;
        mk(&c, cases[ci].name, d, L, nl, cases[ci].k, 0.1, cases[ci].scaled, cases[ci].shared, 16, 1);
        if (!strcmp(cases[ci].name, "topk") || !strcmp(cases[ci].name, "randk"))
            assert_int_equal(c.k, cases[ci].k ? 5 + 1 + 5 + 5 : 3 + 1 + 20 + 6);
        gsl_rng *o = bg_rng_stream(10, BG_RNG_COMPRESS, 0), *s = bg_rng_stream(10, BG_RNG_SHARED, 3);
        bg_comp_rngs_t r = {o, s};
        bg_msg_t m;
        assert_int_equal(bg_msg_init(&m, d), BG_OK);
        assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
        check_sorted(&m);
        bg_msg_decode(&m, whole);
        bg_rng_reseed(o, 10, BG_RNG_COMPRESS, 0);
        bg_rng_reseed(s, 10, BG_RNG_SHARED, 3);
        double bytes = BG_MSG_HEADER_BYTES;
        for (size_t l = 0, off = 0; l < nl; off += L[l], l++) {
            bg_compressor_t cl;
            mk(&cl, cases[ci].name, L[l], NULL, 0, cases[ci].k ? (cases[ci].k < L[l] ? cases[ci].k : L[l]) : 0,
               0.1, cases[ci].scaled, cases[ci].shared, 16, 0);
            bg_msg_t ml;
            assert_int_equal(bg_msg_init(&ml, L[l]), BG_OK);
            assert_int_equal(cl.ops->compress(&cl, x + off, &r, &ml), BG_OK);
            bg_msg_decode(&ml, part + off);
            bytes += ml.bytes - BG_MSG_HEADER_BYTES;
            bg_msg_destroy(&ml);
            bg_compressor_destroy(&cl);
        }
        assert_memory_equal(whole, part, sizeof whole);
        if (m.bytes != bytes)
            fail_msg("%s per layer: %g bytes, slices say %g", cases[ci].name, m.bytes, bytes);
        bg_msg_destroy(&m);
        bg_compressor_destroy(&c);
        gsl_rng_free(o);
        gsl_rng_free(s);
    }
    gsl_rng_free(xr);
}

/* A NaN in the input never crashes and is never laundered into finite values where it is transmitted:
 * identity, fp16, topk and rand-k (when the coordinate is drawn) carry it as is; sign and qsgd, whose scale
 * is a norm of the whole vector, make every value NaN. */
static void test_nan_input(void **state)
{
    (void)state;
    const char *names[] = {"identity", "topk", "randk", "sign", "qsgd", "fp16"};
    float x[50];
    for (int i = 0; i < 50; i++)
        x[i] = (float)i - 20.0f;
    x[3] = NAN;
    gsl_rng *o = bg_rng_stream(1, BG_RNG_COMPRESS, 0);
    bg_comp_rngs_t r = {o, NULL};
    for (size_t ni = 0; ni < 6; ni++) {
        for (int pl = 0; pl < 2; pl++) {
            static const size_t L[] = {10, 40};
            bg_compressor_t c;
            mk(&c, names[ni], 50, L, 2, 0, 1.0, 1, 0, 16, pl);   /* ratio 1: rand-k draws every coordinate */
            bg_msg_t m;
            float dec[50];
            assert_int_equal(bg_msg_init(&m, 50), BG_OK);
            assert_int_equal(c.ops->compress(&c, x, &r, &m), BG_OK);
            bg_msg_decode(&m, dec);
            assert_true(isnan(dec[3]));
            int all = !strcmp(names[ni], "sign") || !strcmp(names[ni], "qsgd");
            size_t end = pl ? 10 : 50;   /* per layer, only the poisoned layer's scale is NaN */
            for (size_t i = 0; i < 50; i++)
                if (i != 3)
                    assert_true((all && i < end) ? isnan(dec[i]) : !isnan(dec[i]));
            bg_msg_destroy(&m);
            bg_compressor_destroy(&c);
        }
    }
    gsl_rng_free(o);
}

/* Property: finite input never decodes to a non-finite value, whatever its magnitude (every compressor, global and
 * per layer, scaled and unscaled rand-k, small and large k, several qsgd levels): rows of +-FLT_MAX, huge values
 * mixed with tiny and subnormal ones, all-subnormal rows, and random finite bit patterns. Huge finite values
 * saturate (randk's d/k scale, qsgd's norm, sign's mean, fp16's range) instead of becoming Inf or NaN. */
static void test_extreme_finite(void **state)
{
    (void)state;
    const char *names[] = {"identity", "topk", "randk", "randk-unscaled", "sign", "qsgd", "fp16"};
    enum { D = 64, ROWS = 7 };
    static const size_t L[] = {5, 59};
    static const size_t levels[] = {1, 16, (size_t)1 << 24};
    float x[ROWS][D], dec[D];
    gsl_rng *br = bg_rng_stream(12, BG_RNG_INIT, 0);
    for (size_t i = 0; i < D; i++) {
        x[0][i] = FLT_MAX;                                    /* all +FLT_MAX */
        x[1][i] = i % 2 ? -FLT_MAX : FLT_MAX;                 /* alternating signs */
        x[2][i] = i % 3 == 0 ? FLT_MAX : i % 3 == 1 ? 1e-30f : 0x1p-149f;   /* huge, tiny, smallest subnormal */
        x[3][i] = (i % 2 ? -1.0f : 1.0f) * 0x1p-140f * (float)(i + 1);      /* all subnormal */
        x[4][i] = i == 7 ? -FLT_MAX : 0.0f;                   /* one huge among zeros */
        x[5][i] = (float)(3e38 / (double)(i + 1));            /* a decaying huge row */
        uint32_t u;
        do
            u = (uint32_t)gsl_rng_get(br);
        while ((u & 0x7F800000u) == 0x7F800000u);          /* random finite bit patterns */
        memcpy(&x[6][i], &u, sizeof u);
    }
    gsl_rng *o = bg_rng_stream(3, BG_RNG_COMPRESS, 0), *sh = bg_rng_stream(3, BG_RNG_SHARED, 0);
    bg_comp_rngs_t r = {o, sh};
    size_t checked = 0;
    for (size_t ni = 0; ni < sizeof names / sizeof names[0]; ni++)
        for (int pl = 0; pl < 2; pl++)
            for (size_t k = 1; k <= D; k += D - 1)
                for (size_t lv = 0; lv < 3; lv++)
                    for (int shared = 0; shared < 2; shared++) {
                        bg_compressor_t c;
                        mk(&c, names[ni], D, L, 2, k, 0.1, 1, shared, levels[lv], pl);
                        bg_msg_t m;
                        assert_int_equal(bg_msg_init(&m, D), BG_OK);
                        for (size_t row = 0; row < ROWS; row++) {
                            assert_int_equal(c.ops->compress(&c, x[row], &r, &m), BG_OK);
                            bg_msg_decode(&m, dec);
                            for (size_t i = 0; i < D; i++)
                                if (!isfinite(dec[i]))
                                    fail_msg("%s (k = %zu, levels = %zu, layer = %d, shared = %d), row %zu: "
                                             "value %zu = %a from finite %a",
                                             names[ni], k, levels[lv], pl, shared, row, i, (double)dec[i],
                                             (double)x[row][i]);
                            checked++;
                        }
                        bg_msg_destroy(&m);
                        bg_compressor_destroy(&c);
                    }
    assert_true(checked == 7 * 2 * 2 * 3 * 2 * ROWS);
    /* Saturation, not zeroing: rand-k keeping 1 of 64 +FLT_MAX values sends FLT_MAX (64 FLT_MAX saturated). */
    bg_compressor_t c;
    bg_msg_t m;
    mk(&c, "randk", D, NULL, 0, 1, 0.1, 1, 0, 16, 0);
    assert_int_equal(bg_msg_init(&m, D), BG_OK);
    assert_int_equal(c.ops->compress(&c, x[0], &r, &m), BG_OK);
    assert_int_equal(m.nnz, 1);
    assert_true(m.val[0] == FLT_MAX);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&c);
    gsl_rng_free(o);
    gsl_rng_free(sh);
    gsl_rng_free(br);
}

static void test_create_errors_new(void **state)
{
    (void)state;
    bg_comp_cfg_t cfg;
    bg_compressor_t c;
    bg_err_t err;
    bg_comp_cfg_default(&cfg);
    static const size_t bad_sum[] = {10, 20}, zero[] = {30, 0};
    assert_int_equal(bg_compressor_init(&cfg, 31, bad_sum, 2, &c, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "add up to 30"));
    assert_null(c.ops);
    assert_null(c.layer_off);
    assert_int_equal(bg_compressor_init(&cfg, 30, zero, 2, &c, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "layer 1"));

    strcpy(cfg.name, "qsgd");
    cfg.levels = 0;
    assert_int_equal(bg_compressor_init(&cfg, 30, NULL, 0, &c, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "levels = 0"));
    assert_null(c.layer_off);

    strcpy(cfg.name, "randk");
    cfg.levels = 16;
    cfg.k = 31;
    assert_int_equal(bg_compressor_init(&cfg, 30, NULL, 0, &c, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "k = 31"));
    cfg.k = 0;
    cfg.ratio = 1.5;
    cfg.per_layer = 1;
    assert_int_equal(bg_compressor_init(&cfg, 30, bad_sum, 2, &c, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "ratio = 1.5"));
    /* A per-layer k larger than a layer keeps that whole layer. */
    cfg.ratio = 0.1;
    cfg.k = 15;
    assert_int_equal(bg_compressor_init(&cfg, 30, bad_sum, 2, &c, &err), BG_OK);
    assert_int_equal(c.k, 10 + 15);
    assert_int_equal(c.n_layers, 2);
    assert_true(c.layer_off[0] == 0 && c.layer_off[1] == 10 && c.layer_off[2] == 30);
    assert_true(fabs(c.omega - (20.0 / 15.0 - 1.0)) < 1e-12);
    bg_compressor_destroy(&c);
    assert_null(c.ops);
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
        cmocka_unit_test(test_registry_flags),
        cmocka_unit_test(test_randk_unbiased),
        cmocka_unit_test(test_randk_subsets_uniform),
        cmocka_unit_test(test_randk_unscaled_contraction),
        cmocka_unit_test(test_randk_large),
        cmocka_unit_test(test_shared_mask),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_qsgd),
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_fp16),
        cmocka_unit_test(test_bytes_new),
        cmocka_unit_test(test_per_layer_equals_slices),
        cmocka_unit_test(test_nan_input),
        cmocka_unit_test(test_extreme_finite),
        cmocka_unit_test(test_create_errors_new),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
