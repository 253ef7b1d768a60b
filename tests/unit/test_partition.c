/* Tests of the labelled partitions (iid, dirichlet, shards, cifar-ref, contiguous) and of the label histogram:
 * sizes, coverage, label skew, determinism by seed and the one-sentence errors. */
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

#define MAXS 64

static void free_shards(bg_shard_t *sh, size_t S)
{
    for (size_t s = 0; s < S; s++)
        bg_shard_destroy(&sh[s]);
}

/* Labels 0..C-1, per_class of each, in a seeded random order (so a partition cannot rely on sorted input). */
static int *balanced_labels(size_t C, size_t per_class, uint64_t seed)
{
    size_t n = C * per_class;
    int *y = malloc(n * sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = (int)(i / per_class);
    gsl_rng *r = bg_rng_stream(seed, 99, 0);
    gsl_ran_shuffle(r, y, n, sizeof *y);
    gsl_rng_free(r);
    return y;
}

static int run(const char *name, double alpha, size_t k, double sigma, size_t min_size, const int *y, size_t n,
               size_t C, size_t S, uint64_t seed, bg_shard_t *sh, bg_err_t *err)
{
    bg_partition_cfg_t cfg;
    bg_partition_cfg_default(&cfg);
    strcpy(cfg.name, name);
    cfg.alpha = alpha;
    cfg.k = k;
    cfg.size_sigma = sigma;
    cfg.min_size = min_size;
    memset(sh, 0, S * sizeof *sh);
    gsl_rng *r = bg_rng_stream(seed, BG_RNG_PARTITION, 0);
    bg_err_clear(err);
    int rc = bg_partition(&cfg, y, n, C, S, r, sh, err);
    gsl_rng_free(r);
    return rc;
}

/* Indices in range, strictly ascending in each shard, no sample in two shards. Returns how many were used. */
static size_t check_disjoint(const bg_shard_t *sh, size_t S, size_t n)
{
    unsigned char *used = calloc(n, 1);
    assert_non_null(used);
    size_t total = 0;
    for (size_t s = 0; s < S; s++) {
        assert_true(sh[s].n > 0);
        for (size_t k = 0; k < sh[s].n; k++) {
            size_t i = sh[s].idx[k];
            assert_true(i < n);
            if (k > 0)
                assert_true(sh[s].idx[k - 1] < i);
            assert_int_equal(used[i], 0);
            used[i] = 1;
            total++;
        }
    }
    free(used);
    return total;
}

static int same_shards(const bg_shard_t *a, const bg_shard_t *b, size_t S)
{
    for (size_t s = 0; s < S; s++)
        if (a[s].n != b[s].n || memcmp(a[s].idx, b[s].idx, a[s].n * sizeof *a[s].idx) != 0)
            return 0;
    return 1;
}

/* Same seed, same shards; another seed, other shards. */
static void check_determinism(const char *name, double alpha, size_t k, double sigma, const int *y, size_t n,
                              size_t C, size_t S)
{
    bg_shard_t a[MAXS], b[MAXS], c[MAXS];
    bg_err_t err;
    assert_int_equal(run(name, alpha, k, sigma, 1, y, n, C, S, 11, a, &err), BG_OK);
    assert_int_equal(run(name, alpha, k, sigma, 1, y, n, C, S, 11, b, &err), BG_OK);
    assert_int_equal(run(name, alpha, k, sigma, 1, y, n, C, S, 12, c, &err), BG_OK);
    assert_true(same_shards(a, b, S));
    assert_false(same_shards(a, c, S));
    free_shards(a, S);
    free_shards(b, S);
    free_shards(c, S);
}

/* The histogram against a count made the other way round: for every sample, find its shard. */
static void check_histogram(const bg_shard_t *sh, size_t S, const int *y, size_t n, size_t C, size_t *counts)
{
    bg_partition_histogram(sh, S, y, C, counts);
    size_t *owner = malloc(n * sizeof *owner), *ref = calloc(S * C, sizeof *ref);
    assert_non_null(owner);
    assert_non_null(ref);
    for (size_t i = 0; i < n; i++)
        owner[i] = SIZE_MAX;
    for (size_t s = 0; s < S; s++)
        for (size_t k = 0; k < sh[s].n; k++)
            owner[sh[s].idx[k]] = s;
    for (size_t i = 0; i < n; i++)
        if (owner[i] != SIZE_MAX)
            ref[owner[i] * C + (size_t)y[i]]++;
    assert_memory_equal(ref, counts, S * C * sizeof *ref);
    free(owner);
    free(ref);
}

static void test_defaults(void **state)
{
    (void)state;
    bg_partition_cfg_t c;
    memset(&c, 0xff, sizeof c);
    bg_partition_cfg_default(&c);
    assert_string_equal(c.name, "iid");
    assert_true(c.alpha == 0.5);
    assert_int_equal(c.k, 2);
    assert_true(c.size_sigma == 0.0);
    assert_int_equal(c.min_size, 1);
}

static void test_iid_equal(void **state)
{
    (void)state;
    size_t n = 1003, C = 3, S = 10;
    int *y = balanced_labels(C, 1000, 1);
    bg_shard_t sh[MAXS];
    bg_err_t err;
    assert_int_equal(run("iid", 0, 0, 0, 1, y, n, C, S, 5, sh, &err), BG_OK);
    assert_int_equal(check_disjoint(sh, S, n), n);
    for (size_t s = 0; s < S; s++)
        assert_true(sh[s].n == 100 || sh[s].n == 101);
    size_t counts[MAXS * 3];
    check_histogram(sh, S, y, n, C, counts);
    free_shards(sh, S);
    check_determinism("iid", 0, 0, 0, y, n, C, S);
    free(y);
}

/* Coefficient of variation of the shard sizes. */
static double size_cv(const bg_shard_t *sh, size_t S)
{
    double m = 0, v = 0;
    for (size_t s = 0; s < S; s++)
        m += (double)sh[s].n / (double)S;
    for (size_t s = 0; s < S; s++)
        v += ((double)sh[s].n - m) * ((double)sh[s].n - m) / (double)S;
    return sqrt(v) / m;
}

static void test_iid_unbalanced(void **state)
{
    (void)state;
    size_t n = 10000, C = 2, S = 20;
    int *y = balanced_labels(C, n / C, 2);
    bg_shard_t sh[MAXS];
    bg_err_t err;
    const double sigma[2] = {0.3, 1.5};
    double cv[2] = {0, 0};   /* summed over the seeds */
    for (uint64_t seed = 0; seed < 10; seed++)
        for (int k = 0; k < 2; k++) {
            assert_int_equal(run("iid", 0, 0, sigma[k], 50, y, n, C, S, seed, sh, &err), BG_OK);
            assert_int_equal(check_disjoint(sh, S, n), n);
            for (size_t s = 0; s < S; s++)
                assert_true(sh[s].n >= 50);
            cv[k] += size_cv(sh, S);
            free_shards(sh, S);
        }
    /* lognormal(0, 0.3) has a CV of about 0.31; sigma 1.5 is far more spread out (the floor caps it a little). */
    assert_true(cv[0] / 10 > 0.15 && cv[0] / 10 < 0.5);
    assert_true(cv[1] > 2 * cv[0]);
    /* A huge min_size pins every worker to exactly n/S. */
    assert_int_equal(run("iid", 0, 0, 2.0, n / S, y, n, C, S, 3, sh, &err), BG_OK);
    for (size_t s = 0; s < S; s++)
        assert_int_equal(sh[s].n, n / S);
    free_shards(sh, S);
    check_determinism("iid", 0, 0, 1.0, y, n, C, S);
    free(y);
}

/* Mean over workers of the entropy (nats) of their label distribution. */
static double mean_entropy(const size_t *counts, size_t S, size_t C)
{
    double sum = 0;
    for (size_t s = 0; s < S; s++) {
        double tot = 0, h = 0;
        for (size_t c = 0; c < C; c++)
            tot += (double)counts[s * C + c];
        for (size_t c = 0; c < C; c++)
            if (counts[s * C + c]) {
                double p = (double)counts[s * C + c] / tot;
                h -= p * log(p);
            }
        sum += h;
    }
    return sum / (double)S;
}

static void test_dirichlet(void **state)
{
    (void)state;
    size_t C = 10, n = 6000, S = 20;
    int *y = balanced_labels(C, n / C, 3);
    const double alphas[] = {0.1, 0.5, 100};
    double H[3];
    size_t counts[MAXS * 10];
    bg_shard_t sh[MAXS];
    bg_err_t err;
    for (int a = 0; a < 3; a++) {
        H[a] = 0;
        for (uint64_t seed = 0; seed < 5; seed++) {
            assert_int_equal(run("dirichlet", alphas[a], 0, 0, 10, y, n, C, S, seed, sh, &err), BG_OK);
            assert_int_equal(check_disjoint(sh, S, n), n);   /* every sample exactly once */
            for (size_t s = 0; s < S; s++)
                assert_true(sh[s].n >= 10);
            check_histogram(sh, S, y, n, C, counts);
            H[a] += mean_entropy(counts, S, C) / 5;
            free_shards(sh, S);
        }
    }
    /* log(10) = 2.30 for uniform labels; alpha 100 is nearly there, small alpha concentrates on few classes. */
    assert_true(H[2] > 2.25);
    assert_true(H[0] < H[1] && H[1] < H[2]);
    assert_true(H[0] < 1.2);
    check_determinism("dirichlet", 0.5, 0, 0, y, n, C, S);
    free(y);
}

static size_t classes_held(const size_t *counts, size_t s, size_t C)
{
    size_t k = 0;
    for (size_t c = 0; c < C; c++)
        k += counts[s * C + c] > 0;
    return k;
}

static void test_shards(void **state)
{
    (void)state;
    size_t C = 10, n = 6000;
    int *y = balanced_labels(C, n / C, 4);
    size_t counts[MAXS * 10];
    bg_shard_t sh[MAXS];
    bg_err_t err;
    const size_t ks[] = {1, 2, 10};
    const size_t Ss[] = {20, 7, 13};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            size_t k = ks[a], S = Ss[b];
            if (k * S < C)
                continue;
            assert_int_equal(run("shards", 0, k, 0, 1, y, n, C, S, 7, sh, &err), BG_OK);
            assert_int_equal(check_disjoint(sh, S, n), n);
            check_histogram(sh, S, y, n, C, counts);
            for (size_t s = 0; s < S; s++) {
                assert_int_equal(classes_held(counts, s, C), k);
                /* a class's samples are cut evenly among its holders */
                for (size_t c = 0; c < C; c++)
                    for (size_t t = 0; t < S; t++)
                        if (counts[s * C + c] && counts[t * C + c]) {
                            size_t u = counts[s * C + c], v = counts[t * C + c];
                            assert_true(u <= v + 1 && v <= u + 1);
                        }
            }
            if (k == 1 && S == 20)   /* every class held by exactly two workers */
                for (size_t s = 0; s < S; s++)
                    assert_int_equal(sh[s].n, 300);
            free_shards(sh, S);
        }
    /* A class with fewer samples than holders leaves some holders without it (documented): k = 1, S = 20, class 9
     * has 1 sample, so one of its two holders would be empty. */
    int *y2 = malloc(5401 * sizeof *y2);
    for (size_t i = 0; i < 5400; i++)
        y2[i] = (int)(i % 9);
    y2[5400] = 9;
    assert_int_equal(run("shards", 0, 1, 0, 1, y2, 5401, C, 20, 7, sh, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "worker"));
    assert_non_null(strstr(err.msg, "min_size"));
    /* with k = 2 it survives, and the worker sharing class 9 holds one class only for that reason */
    assert_int_equal(run("shards", 0, 2, 0, 1, y2, 5401, C, 20, 7, sh, &err), BG_OK);
    assert_int_equal(check_disjoint(sh, 20, 5401), 5401);
    check_histogram(sh, 20, y2, 5401, C, counts);
    size_t fewer = 0;
    for (size_t s = 0; s < 20; s++) {
        size_t h = classes_held(counts, s, C);
        assert_true(h == 2 || h == 1);
        fewer += h == 1;
    }
    assert_true(fewer == 3);   /* class 9 has 4 holders with k = 2 and S = 20, and 1 sample */
    free_shards(sh, 20);
    free(y2);
    check_determinism("shards", 0, 2, 0, y, n, C, 20);
    free(y);
}

static void test_cifar_ref(void **state)
{
    (void)state;
    size_t C = 10, n = 50000, S = 20;
    int *y = balanced_labels(C, 5000, 5);
    size_t counts[MAXS * 10];
    bg_shard_t sh[MAXS];
    bg_err_t err;
    assert_int_equal(run("cifar-ref", 0, 0, 0, 1, y, n, C, S, 123, sh, &err), BG_OK);
    assert_int_equal(check_disjoint(sh, S, n), n);
    check_histogram(sh, S, y, n, C, counts);
    /* indices of each class in ascending order: the stable label sort */
    size_t *pos = malloc(n * sizeof *pos), seen[10] = {0};
    for (size_t i = 0; i < n; i++)
        pos[i] = seen[y[i]]++;
    for (size_t s = 0; s < S; s++) {
        assert_int_equal(sh[s].n, 2500);
        size_t own = s / 4, rest = 0;
        assert_int_equal(counts[s * C + own], 1250);
        for (size_t c = 0; c < 5; c++)
            if (c != own)
                assert_int_equal(counts[s * C + c], 0);
        for (size_t c = 5; c < 10; c++)
            rest += counts[s * C + c];
        assert_int_equal(rest, 1250);
        /* the block is [s*1250, (s+1)*1250) of the sorted order: ranks (s%4)*1250 .. within class s/4 */
        for (size_t k = 0; k < sh[s].n; k++) {
            size_t i = sh[s].idx[k];
            if ((size_t)y[i] == own)
                assert_true(pos[i] >= (s % 4) * 1250 && pos[i] < (s % 4 + 1) * 1250);
        }
    }
    free(pos);
    free_shards(sh, S);
    check_determinism("cifar-ref", 0, 0, 0, y, n, C, S);
    free(y);
}

static void test_contiguous(void **state)
{
    (void)state;
    size_t n = 1003, S = 10;
    bg_shard_t sh[MAXS], sh2[MAXS];
    bg_err_t err;
    assert_int_equal(run("contiguous", 0, 0, 0, 1, NULL, n, 0, S, 1, sh, &err), BG_OK);
    assert_int_equal(run("contiguous", 0, 0, 0, 1, NULL, n, 0, S, 2, sh2, &err), BG_OK);
    assert_true(same_shards(sh, sh2, S));   /* no randomness at all */
    size_t next = 0;
    for (size_t s = 0; s < S; s++) {
        assert_int_equal(sh[s].n, s < 3 ? 101 : 100);
        for (size_t k = 0; k < sh[s].n; k++)
            assert_int_equal(sh[s].idx[k], next++);
    }
    assert_int_equal(next, n);
    free_shards(sh, S);
    free_shards(sh2, S);
}

/* Random shards that overlap and skip samples, to be sure the histogram does not assume a partition. */
static void test_histogram_random(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(77, 1, 0);
    size_t n = 500, C = 7, S = 9;
    int *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = (int)gsl_rng_uniform_int(r, C);
    bg_shard_t sh[MAXS];
    for (size_t s = 0; s < S; s++) {
        sh[s].n = gsl_rng_uniform_int(r, 80);
        sh[s].idx = malloc((sh[s].n + 1) * sizeof *sh[s].idx);
        for (size_t k = 0; k < sh[s].n; k++)
            sh[s].idx[k] = gsl_rng_uniform_int(r, n);
    }
    size_t *counts = malloc(S * C * sizeof *counts);
    bg_partition_histogram(sh, S, y, C, counts);
    for (size_t s = 0; s < S; s++)
        for (size_t c = 0; c < C; c++) {
            size_t ref = 0;
            for (size_t k = 0; k < sh[s].n; k++)
                ref += (size_t)y[sh[s].idx[k]] == c;
            assert_int_equal(counts[s * C + c], ref);
        }
    free(counts);
    free_shards(sh, S);
    free(y);
    gsl_rng_free(r);
}

static void expect_err(int rc, int code, const bg_err_t *err, const char *n1, const char *n2)
{
    assert_int_equal(rc, code);
    assert_int_equal(err->code, code);
    assert_null(strchr(err->msg, '\n'));
    if (n1)
        assert_non_null(strstr(err->msg, n1));
    if (n2)
        assert_non_null(strstr(err->msg, n2));
}

static void test_errors(void **state)
{
    (void)state;
    size_t C = 10, n = 600;
    int *y = balanced_labels(C, n / C, 6);
    bg_shard_t sh[MAXS];
    bg_err_t err;
    expect_err(run("dirichlett", 0.5, 2, 0, 1, y, n, C, 10, 1, sh, &err), BG_ENOTFOUND, &err, "dirichlett", "known: iid, dirichlet");
    expect_err(run("dirichlet", 0, 2, 0, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "alpha", "> 0");
    expect_err(run("dirichlet", -1, 2, 0, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "alpha", NULL);
    expect_err(run("dirichlet", NAN, 2, 0, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "alpha", NULL);
    expect_err(run("shards", 0.5, 0, 0, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "k = 0", "1 .. 10");
    expect_err(run("shards", 0.5, 11, 0, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "k = 11", "1 .. 10");
    expect_err(run("shards", 0.5, 1, 0, 1, y, n, C, 5, 1, sh, &err), BG_EINVAL, &err, "k must be at least 2", NULL);
    expect_err(run("iid", 0.5, 2, -1, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "size_sigma", NULL);
    expect_err(run("iid", 0.5, 2, 0, 1, y, 5, C, 6, 1, sh, &err), BG_ERANGE, &err, "5 samples over 6 workers", NULL);
    expect_err(run("iid", 0.5, 2, 0, 61, y, n, C, 10, 1, sh, &err), BG_ERANGE, &err, "min_size 61", "at most 60");
    expect_err(run("iid", 0.5, 2, 0, 1, y, n, C, 0, 1, sh, &err), BG_EINVAL, &err, "0 workers", NULL);
    expect_err(run("cifar-ref", 0.5, 2, 0, 1, y, 30, C, 20, 1, sh, &err), BG_ERANGE, &err, "cifar-ref", NULL);
    /* hopeless Dirichlet: 20 workers, 2 classes, tiny alpha, 25 of 30 samples each required */
    expect_err(run("dirichlet", 0.01, 2, 0, 25, y, n, 10, 20, 1, sh, &err), BG_ERANGE, &err, "worker", "alpha 0.01");
    /* a label outside the declared classes */
    int saved = y[17];
    y[17] = 10;
    expect_err(run("dirichlet", 0.5, 2, 0, 1, y, n, C, 10, 1, sh, &err), BG_EINVAL, &err, "sample 17", "0 .. 9");
    y[17] = saved;
    /* parameter errors name their scenario key; a key-less error leaves it to the caller */
    run("dirichlett", 0.5, 2, 0, 1, y, n, C, 10, 1, sh, &err);
    assert_string_equal(err.key, "partition.name");
    run("dirichlet", 0, 2, 0, 1, y, n, C, 10, 1, sh, &err);
    assert_string_equal(err.key, "partition.alpha");
    run("shards", 0.5, 11, 0, 1, y, n, C, 10, 1, sh, &err);
    assert_string_equal(err.key, "partition.k");
    run("iid", 0.5, 2, -1, 1, y, n, C, 10, 1, sh, &err);
    assert_string_equal(err.key, "partition.size_sigma");
    run("iid", 0.5, 2, 0, 61, y, n, C, 10, 1, sh, &err);
    assert_string_equal(err.key, "partition.min_size");
    run("iid", 0.5, 2, 0, 1, y, 5, C, 6, 1, sh, &err);
    assert_string_equal(err.key, "");
    free(y);
}

/* The older IID entry point still cuts a permutation into near-equal pieces. */
static void test_partition_iid_compat(void **state)
{
    (void)state;
    bg_shard_t sh[MAXS];
    memset(sh, 0, sizeof sh);
    gsl_rng *r = bg_rng_stream(1, 1, 0);
    bg_err_t err;
    assert_int_equal(bg_partition_iid(1003, 10, r, sh, &err), BG_OK);
    size_t tot = 0;
    for (size_t s = 0; s < 10; s++) {
        assert_true(sh[s].n == 100 || sh[s].n == 101);
        tot += sh[s].n;
    }
    assert_int_equal(tot, 1003);
    free_shards(sh, 10);
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_iid_equal),
        cmocka_unit_test(test_iid_unbalanced),
        cmocka_unit_test(test_dirichlet),
        cmocka_unit_test(test_shards),
        cmocka_unit_test(test_cifar_ref),
        cmocka_unit_test(test_contiguous),
        cmocka_unit_test(test_histogram_random),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_partition_iid_compat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
