/* Unit tests for the dataset reader (a9a facts, malformed and truncated input), the IID partition and the
 * epoch sampler. Temporary files live in a mkdtemp directory under /tmp that is removed at the end. */
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
#include <unistd.h>
#include <time.h>
#include <zlib.h>

#include "bg_data.h"

#include "tmp_dir.h"

#define A9A BG_TEST_DATA "/a9a.gz"
#define A9AT BG_TEST_DATA "/a9a.t.gz"

static int group_setup(void **state)
{
    (void)state;
    return tmpdir_make("data");
}

static int group_teardown(void **state)
{
    (void)state;
    return tmpdir_remove();
}

static const char *write_str(const char *s, char *buf, size_t blen)
{
    return tmp_write(buf, blen, s, strlen(s), 0);
}

/* Load expecting failure; checks the code and the reported line. */
static void expect_fail(const char *path, size_t nf, int code, long line)
{
    bg_dataset_t ds;
    bg_err_t err;
    bg_err_clear(&err);
    int rc = bg_dataset_load_libsvm(path, nf, &ds, &err);
    char msg[1400];
    if (rc != code || err.line != line)
        print_error("got rc=%d line=%ld: %s\n", rc, err.line, bg_err_format(&err, msg, sizeof msg));
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_int_equal(err.line, line);
    assert_true(strlen(err.msg) > 0);
    assert_null(ds.X);
    assert_null(ds.y);
    assert_int_equal(ds.n, 0);
}

static void test_a9a(void **state)
{
    (void)state;
    bg_dataset_t ds;
    bg_err_t err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = bg_dataset_load_libsvm(A9A, 0, &ds, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(rc, BG_OK);
    print_message("a9a.gz loaded in %.1f ms\n",
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
    assert_int_equal(ds.n, 32561);
    assert_int_equal(ds.d, 123);
    assert_int_equal(ds.n_classes, 2);
    size_t ones = 0;
    for (size_t i = 0; i < ds.n; i++) {
        assert_true(ds.y[i] == 0 || ds.y[i] == 1);
        ones += (size_t)ds.y[i];
    }
    assert_int_equal(ones, 7841);
    assert_int_equal(ds.n - ones, 24720);
    /* Line 19610 is the only sample with feature 123 (`zcat data/a9a.gz | grep -n ' 123:'`). */
    assert_true(ds.X[(19610 - 1) * ds.d + 122] == 1.0f);
    for (size_t i = 0; i < ds.n; i++)
        if (i != 19609)
            assert_true(ds.X[i * ds.d + 122] == 0.0f);
    /* First line of a9a: "-1 3:1 11:1 14:1 19:1 39:1 42:1 55:1 64:1 67:1 73:1 75:1 76:1 80:1 83:1" */
    static const int first[] = {3, 11, 14, 19, 39, 42, 55, 64, 67, 73, 75, 76, 80, 83};
    assert_int_equal(ds.y[0], 0);
    size_t nnz = 0;
    for (size_t j = 0; j < ds.d; j++)
        nnz += ds.X[j] != 0.0f;
    assert_int_equal(nnz, 14);
    for (size_t k = 0; k < 14; k++)
        assert_true(ds.X[first[k] - 1] == 1.0f);
    assert_string_equal(ds.source, A9A);

    bg_dataset_normalize_rows(&ds);
    for (size_t i = 0; i < ds.n; i++) {
        double n2 = bg_vec_norm2(ds.X + i * ds.d, ds.d);
        if (n2 > 0)
            assert_true(fabs(sqrt(n2) - 1.0) <= 1e-6);
    }
    bg_dataset_destroy(&ds);
    assert_null(ds.X);
    bg_dataset_destroy(&ds);   /* double free is harmless */
}

static void test_a9a_t(void **state)
{
    (void)state;
    bg_dataset_t ds;
    bg_err_t err;
    assert_int_equal(bg_dataset_load_libsvm(A9AT, 123, &ds, &err), BG_OK);
    assert_int_equal(ds.n, 16281);
    assert_int_equal(ds.d, 123);
    size_t ones = 0;
    for (size_t i = 0; i < ds.n; i++)
        ones += (size_t)ds.y[i];
    assert_int_equal(ones, 3846);
    bg_dataset_destroy(&ds);
    /* Without n_features the width is the largest index seen. */
    assert_int_equal(bg_dataset_load_libsvm(A9AT, 0, &ds, &err), BG_OK);
    assert_int_equal(ds.d, 122);
    bg_dataset_destroy(&ds);
}

/* Decompress a9a.t.gz to a plain file and check the reader gives the same dataset. */
static void test_plain_equals_gz(void **state)
{
    (void)state;
    gzFile g = gzopen(A9AT, "rb");
    assert_non_null(g);
    size_t cap = 2u << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int k;
    while ((k = gzread(g, buf + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)k;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    assert_int_equal(k, 0);
    gzclose(g);
    assert_int_equal(len, 1164628);
    char path[300];
    tmp_write(path, sizeof path, buf, len, 0);
    free(buf);

    bg_dataset_t a, b;
    bg_err_t err;
    assert_int_equal(bg_dataset_load_libsvm(A9AT, 123, &a, &err), BG_OK);
    assert_int_equal(bg_dataset_load_libsvm(path, 123, &b, &err), BG_OK);
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.d, b.d);
    assert_int_equal(a.n_classes, b.n_classes);
    assert_memory_equal(a.X, b.X, a.n * a.d * sizeof(float));
    assert_memory_equal(a.y, b.y, a.n * sizeof(int));
    bg_dataset_destroy(&a);
    bg_dataset_destroy(&b);
}

static void test_small_formats(void **state)
{
    (void)state;
    char p[300];
    bg_dataset_t ds;
    bg_err_t err;
    /* blank lines (also at the end, like w8a), CRLF, trailing spaces, a comment, qid, explicit zeros */
    write_str("\n+1 1:0.5 3:-2 \r\n\n-1 2:1e-1 qid:3 4:0 # comment\n   \n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm(p, 0, &ds, &err), BG_OK);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 4);
    assert_int_equal(ds.n_classes, 2);
    assert_int_equal(ds.y[0], 1);
    assert_int_equal(ds.y[1], 0);
    const float want[8] = {0.5f, 0, -2.0f, 0, 0, 0.1f, 0, 0};
    assert_memory_equal(ds.X, want, sizeof want);
    bg_dataset_destroy(&ds);

    /* no trailing newline; labels {2, 7} are binary: 7 -> 1 */
    write_str("7 1:1\n2 2:1\n7 1:3", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm(p, 5, &ds, &err), BG_OK);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.d, 5);
    assert_int_equal(ds.y[0], 1);
    assert_int_equal(ds.y[1], 0);
    assert_int_equal(ds.y[2], 1);
    assert_true(ds.X[2 * 5] == 3.0f);
    bg_dataset_destroy(&ds);

    /* multi-class integer labels kept as they are */
    write_str("0 1:1\n3 1:1\n1 2:1\n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm(p, 0, &ds, &err), BG_OK);
    assert_int_equal(ds.n_classes, 4);
    assert_int_equal(ds.y[1], 3);
    assert_int_equal(ds.y[2], 1);
    bg_dataset_destroy(&ds);

    /* a very long line (beyond the reader's first buffer) */
    size_t nf = 5000, cap = nf * 16 + 64, len = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    len += (size_t)snprintf(big + len, cap - len, "1");
    for (size_t j = 1; j <= nf; j++)
        len += (size_t)snprintf(big + len, cap - len, " %zu:%zu", j, j);
    len += (size_t)snprintf(big + len, cap - len, "\n0 7:1\n");
    tmp_write(p, sizeof p, big, len, 0);
    free(big);
    assert_int_equal(bg_dataset_load_libsvm(p, 0, &ds, &err), BG_OK);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, nf);
    assert_true(ds.X[nf - 1] == (float)nf);
    assert_true(ds.X[nf + 6] == 1.0f);
    bg_dataset_destroy(&ds);
}

static void test_bad_input(void **state)
{
    (void)state;
    char p[300];
    bg_dataset_t ds;
    bg_err_t err;

    bg_err_clear(&err);
    int rc = bg_dataset_load_libsvm(BG_TEST_DATA "/no_such_file.gz", 0, &ds, &err);
    assert_int_equal(rc, BG_EIO);
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.file, "no_such_file.gz"));
    assert_non_null(strstr(err.msg, "cannot open"));

    expect_fail(write_str("1 1:1\n0 2:1\n1 3:x\n", p, sizeof p), 0, BG_EFORMAT, 3);
    expect_fail(write_str("1 1:1\n\n0 2 1\n", p, sizeof p), 0, BG_EFORMAT, 3);
    expect_fail(write_str("1 1:1\nabc 2:1\n", p, sizeof p), 0, BG_EFORMAT, 2);
    expect_fail(write_str("1 1:1\n0 2:1:3\n", p, sizeof p), 0, BG_EFORMAT, 2);
    expect_fail(write_str("1 1:1\n0 -2:1\n", p, sizeof p), 0, BG_EFORMAT, 2);
    /* index beyond n_features: message names the index and the declared count */
    expect_fail(write_str("1 1:1\n0 2:1\n1 3:1 124:1\n", p, sizeof p), 123, BG_EFORMAT, 3);
    assert_int_equal(bg_dataset_load_libsvm(p, 123, &ds, &err), BG_EFORMAT);
    assert_non_null(strstr(err.msg, "124"));
    assert_non_null(strstr(err.msg, "123"));
    assert_string_equal(err.file, p);
    /* index 0 and non-increasing indices */
    expect_fail(write_str("1 1:1\n0 0:1 2:1\n", p, sizeof p), 0, BG_EFORMAT, 2);
    expect_fail(write_str("1 1:1 3:1 2:1\n", p, sizeof p), 0, BG_EFORMAT, 1);
    expect_fail(write_str("1 1:1 1:1\n", p, sizeof p), 0, BG_EFORMAT, 1);
    /* non-finite values and labels */
    expect_fail(write_str("1 1:1\n0 2:nan\n", p, sizeof p), 0, BG_EFORMAT, 2);
    expect_fail(write_str("1 1:1\n0 2:inf\n", p, sizeof p), 0, BG_EFORMAT, 2);
    expect_fail(write_str("1 1:1\n0 2:1e99\n", p, sizeof p), 0, BG_EFORMAT, 2);
    expect_fail(write_str("nan 1:1\n", p, sizeof p), 0, BG_EFORMAT, 1);
    /* labels neither binary nor class ids */
    expect_fail(write_str("1 1:1\n-1 1:1\n0.5 1:1\n", p, sizeof p), 0, BG_EFORMAT, 3);
    expect_fail(write_str("-1 1:1\n-1 2:1\n", p, sizeof p), 0, BG_EFORMAT, 1);
    /* empty files */
    expect_fail(write_str("", p, sizeof p), 0, BG_EFORMAT, 0);
    expect_fail(write_str("\n  \n\n", p, sizeof p), 0, BG_EFORMAT, 0);
}

/* Load with declared classes expecting failure at a line; the message must name the label and what is allowed. */
static void expect_fail_classes(const char *path, size_t nc, long line, const char *n1, const char *n2)
{
    bg_dataset_t ds;
    bg_err_t err;
    bg_err_clear(&err);
    memset(&ds, 0x5a, sizeof ds);
    int rc = bg_dataset_load_libsvm_classes(path, 0, nc, &ds, &err);
    char msg[1400];
    if (rc != BG_EFORMAT || err.line != line || !strstr(err.msg, n1) || (n2 && !strstr(err.msg, n2)))
        print_error("got rc=%d line=%ld: %s\n", rc, err.line, bg_err_format(&err, msg, sizeof msg));
    assert_int_equal(rc, BG_EFORMAT);
    assert_int_equal(err.line, line);
    assert_string_equal(err.file, path);
    assert_non_null(strstr(err.msg, n1));
    if (n2)
        assert_non_null(strstr(err.msg, n2));
    assert_null(strchr(err.msg, '\n'));
    assert_null(ds.X);
    assert_null(ds.y);
}

static void test_declared_classes(void **state)
{
    (void)state;
    char p[300];
    bg_dataset_t ds;
    bg_err_t err;

    /* binary: the reference mapping, a third distinct value is an error at its line */
    write_str("+1 1:1\n-1 2:1\n-1 1:2\n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm_classes(p, 0, 2, &ds, &err), BG_OK);
    assert_int_equal(ds.n_classes, 2);
    assert_int_equal(ds.y[0], 1);
    assert_int_equal(ds.y[1], 0);
    bg_dataset_destroy(&ds);
    expect_fail_classes(write_str("1 1:1\n-1 1:1\n\n0 2:1\n", p, sizeof p), 2, 4, "third", "two label values");
    /* in auto mode 0/1/2 are class ids; declared binary, the 2 is a third value */
    write_str("0 1:1\n1 1:1\n2 2:1\n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm_classes(p, 0, 0, &ds, &err), BG_OK);
    assert_int_equal(ds.n_classes, 3);
    bg_dataset_destroy(&ds);
    expect_fail_classes(p, 2, 3, "label 2", NULL);
    /* a single value: positive is class 1, anything else class 0 (not the max-label rule) */
    write_str("-1 1:1\n-1 2:1\n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm_classes(p, 0, 2, &ds, &err), BG_OK);
    assert_int_equal(ds.y[0], 0);
    assert_int_equal(ds.y[1], 0);
    bg_dataset_destroy(&ds);

    /* multi-class: class ids 0..C-1 only; the declared count wins even when the top class is absent */
    write_str("0 1:1\n1 2:1\n1 1:1\n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm_classes(p, 0, 5, &ds, &err), BG_OK);
    assert_int_equal(ds.n_classes, 5);
    assert_int_equal(ds.y[2], 1);
    bg_dataset_destroy(&ds);
    expect_fail_classes(write_str("0 1:1\n3 2:1\n", p, sizeof p), 3, 2, "label 3", "0 .. 2");
    expect_fail_classes(write_str("0 1:1\n1 2:1\n1.5 2:1\n", p, sizeof p), 3, 3, "label 1.5", "0 .. 2");
    expect_fail_classes(write_str("-1 1:1\n", p, sizeof p), 4, 1, "label -1", "0 .. 3");

    /* a feature index beyond the declared count, in the classes variant too */
    write_str("0 1:1\n2 5:1\n", p, sizeof p);
    assert_int_equal(bg_dataset_load_libsvm_classes(p, 4, 3, &ds, &err), BG_EFORMAT);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "5"));
    assert_non_null(strstr(err.msg, "beyond the 4 features"));

    /* one class is not a classification problem */
    assert_int_equal(bg_dataset_load_libsvm_classes(p, 0, 1, &ds, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "n_classes"));
    assert_null(ds.X);
}

/* A gzip file cut in half must be reported as corrupt, never read as a shorter dataset. */
static void test_truncated_gz(void **state)
{
    (void)state;
    FILE *f = fopen(A9AT, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 1000);
    rewind(f);
    char *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);

    char p[300];
    bg_dataset_t ds;
    bg_err_t err;
    const long cuts[] = {size / 2, size - 8, size - 1, 20};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        tmp_write(p, sizeof p, buf, (size_t)cuts[k], 0);
        bg_err_clear(&err);
        assert_int_equal(bg_dataset_load_libsvm(p, 123, &ds, &err), BG_EFORMAT);
        assert_null(ds.X);
        assert_string_equal(err.file, p);
        /* reported as a gzip problem, not as a malformed partial last line */
        assert_non_null(strstr(err.msg, "gzip"));
    }
    /* cut in the middle of every one of the first few hundred lines' worth of compressed bytes */
    for (long cut = size / 3; cut < size / 3 + 400; cut += 7) {
        tmp_write(p, sizeof p, buf, (size_t)cut, 0);
        assert_int_equal(bg_dataset_load_libsvm(p, 123, &ds, &err), BG_EFORMAT);
        assert_non_null(strstr(err.msg, "gzip"));
    }
    /* flipped bytes in the middle of the deflate stream */
    buf[size / 2] ^= 0x55;
    buf[size / 2 + 1] ^= 0xAA;
    tmp_write(p, sizeof p, buf, (size_t)size, 0);
    assert_int_equal(bg_dataset_load_libsvm(p, 123, &ds, &err), BG_EFORMAT);
    free(buf);
}

static void test_partition(void **state)
{
    (void)state;
    const size_t n = 1003, k = 11;
    bg_shard_t a[11] = {0}, b[11] = {0}, c[11] = {0};
    bg_err_t err;
    gsl_rng *r1 = bg_rng_stream(42, BG_RNG_PARTITION, 0);
    gsl_rng *r2 = bg_rng_stream(42, BG_RNG_PARTITION, 0);
    gsl_rng *r3 = bg_rng_stream(43, BG_RNG_PARTITION, 0);
    assert_int_equal(bg_partition_iid(n, k, r1, a, &err), BG_OK);
    assert_int_equal(bg_partition_iid(n, k, r2, b, &err), BG_OK);
    assert_int_equal(bg_partition_iid(n, k, r3, c, &err), BG_OK);

    int *seen = calloc(n, sizeof *seen);
    assert_non_null(seen);
    size_t total = 0, lo = n, hi = 0;
    int same_ab = 1, same_ac = 1;
    for (size_t s = 0; s < k; s++) {
        lo = a[s].n < lo ? a[s].n : lo;
        hi = a[s].n > hi ? a[s].n : hi;
        total += a[s].n;
        assert_int_equal(a[s].n, b[s].n);
        for (size_t i = 0; i < a[s].n; i++) {
            assert_true(a[s].idx[i] < n);
            seen[a[s].idx[i]]++;
            same_ab &= a[s].idx[i] == b[s].idx[i];
            same_ac &= a[s].idx[i] == c[s].idx[i];
        }
    }
    assert_int_equal(total, n);
    assert_true(hi - lo <= 1);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    assert_true(same_ab);
    assert_false(same_ac);
    for (size_t s = 0; s < k; s++) {
        bg_shard_destroy(&a[s]);
        bg_shard_destroy(&b[s]);
        bg_shard_destroy(&c[s]);
    }
    free(seen);

    /* too few samples for the shards, and one sample per shard exactly */
    bg_shard_t d[4] = {0};
    assert_int_equal(bg_partition_iid(3, 4, r1, d, &err), BG_ERANGE);
    assert_int_equal(err.code, BG_ERANGE);
    assert_int_equal(bg_partition_iid(4, 4, r1, d, &err), BG_OK);
    for (size_t s = 0; s < 4; s++) {
        assert_int_equal(d[s].n, 1);
        bg_shard_destroy(&d[s]);
    }
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    gsl_rng_free(r3);
}

static void test_sampler(void **state)
{
    (void)state;
    bg_shard_t shard = {.n = 37};
    shard.idx = malloc(shard.n * sizeof *shard.idx);
    assert_non_null(shard.idx);
    for (size_t i = 0; i < shard.n; i++)
        shard.idx[i] = 1000 + 3 * i;
    gsl_rng *r = bg_rng_stream(7, BG_RNG_WORKER, 3);
    bg_sampler_t s;
    assert_int_equal(bg_sampler_init(&s, &shard, r), BG_OK);
    assert_int_equal(s.epoch, 0);
    /* the sampler owns a copy */
    shard.idx[0] = 999999;

    /* batch 5 does not divide 37: epochs wrap in the middle of batches */
    const size_t b = 5, epochs = 4;
    size_t out[5], count[37] = {0}, drawn = 0, first_epoch[37];
    int differs = 0;
    while (drawn < epochs * shard.n) {
        size_t before = s.epoch;
        bg_sampler_next(&s, r, b, out);
        for (size_t k = 0; k < b && drawn < epochs * shard.n; k++, drawn++) {
            size_t v = out[k];
            assert_true(v >= 1000 && (v - 1000) % 3 == 0 && (v - 1000) / 3 < shard.n);
            count[(v - 1000) / 3]++;
            if (drawn < shard.n)
                first_epoch[drawn] = v;
            else if (drawn < 2 * shard.n)
                differs |= first_epoch[drawn - shard.n] != v;
            /* after each complete pass every index has been seen exactly once per pass */
            if ((drawn + 1) % shard.n == 0)
                for (size_t i = 0; i < shard.n; i++)
                    assert_int_equal(count[i], (drawn + 1) / shard.n);
        }
        assert_true(s.epoch >= before);
    }
    assert_int_equal(s.epoch, (epochs * shard.n + b - 1) / b * b / shard.n);
    assert_true(differs);   /* reshuffled between epochs */

    /* b larger than the shard */
    size_t *many = malloc(100 * sizeof *many);
    assert_non_null(many);
    bg_sampler_next(&s, r, 100, many);
    free(many);
    bg_sampler_destroy(&s);
    assert_null(s.perm);

    bg_shard_t empty = {0};
    assert_int_equal(bg_sampler_init(&s, &empty, r), BG_EINVAL);
    bg_sampler_destroy(&s);
    gsl_rng_free(r);
    free(shard.idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a9a),
        cmocka_unit_test(test_a9a_t),
        cmocka_unit_test(test_plain_equals_gz),
        cmocka_unit_test(test_small_formats),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_declared_classes),
        cmocka_unit_test(test_truncated_gz),
        cmocka_unit_test(test_partition),
        cmocka_unit_test(test_sampler),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
