/* Issue 12, numbers and data files: keys refuse overflow, ERANGE, NaN/Inf and out-of-range values with one line
 * naming the key (an underflow reads as the tiny number it is); data files must be regular files (a FIFO is refused
 * at once, never waited on); classes inferred from labels must all have training samples; huge trace values are
 * written in full; summary.json strings are valid UTF-8 whatever bytes a name holds; data messages say what they
 * mean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bg_config.h"
#include "bg_trace.h"
#include "tmp_dir.h"

static int setup(void **state)
{
    (void)state;
    return tmpdir_make("numbers");
}

static int teardown(void **state)
{
    (void)state;
    return tmpdir_remove();
}

static int set_key(bg_config_t *c, const char *section, const char *name, const char *v, bg_err_t *err)
{
    const bg_key_t *k = bg_keys_find(bg_config_keys, bg_config_n_keys, section, name);
    assert_non_null(k);
    bg_err_clear(err);
    return bg_key_set(k, c, v, NULL, err);
}

/* The value is refused with one line naming the key (and containing want). */
static void refused(const char *section, const char *name, const char *v, const char *want)
{
    bg_config_t c;
    bg_config_default(&c);
    bg_err_t err;
    char full[96];
    snprintf(full, sizeof full, "%s.%s", section, name);
    if (set_key(&c, section, name, v, &err) == BG_OK)
        fail_msg("%s = '%s' was accepted", full, v);
    assert_string_equal(err.key, full);
    assert_non_null(strstr(err.msg, full));
    assert_null(strchr(err.msg, '\n'));
    if (want && !strstr(err.msg, want))
        fail_msg("%s = '%s': '%s' lacks '%s'", full, v, err.msg, want);
}

static void test_keys_refuse(void **state)
{
    (void)state;
    refused("run", "rounds", "99999999999999999999999", "too large");
    refused("run", "rounds", "-1", "non-negative");
    refused("run", "seed", "18446744073709551616", "too large");
    refused("workers", "n", "1000001", "1e+06");
    refused("workers", "n", "0", NULL);
    refused("method", "lr", "1e400", NULL);
    refused("method", "lr", "nan", NULL);
    refused("method", "lr", "inf", NULL);
    refused("method", "lr", "-inf", NULL);
    refused("method", "lr", " 1", NULL);
    refused("method", "lr", "1 ", NULL);
    refused("method", "lr", "-0.1", "> 0");
    refused("compressor", "ratio", "0", "(0, 1]");
    refused("compressor", "ratio", "1.5", "(0, 1]");
    refused("method", "batch", "0", NULL);
    refused("model", "hidden", "99999999999999999999", NULL);
}

static void test_keys_accept(void **state)
{
    (void)state;
    bg_config_t c;
    bg_config_default(&c);
    bg_err_t err;
    /* an underflow is the tiny number it is (here 0, which synth_zeta allows) */
    assert_int_equal(set_key(&c, "data", "synth_zeta", "1e-400", &err), BG_OK);
    assert_true(c.synth.zeta == 0);
    assert_int_equal(set_key(&c, "workers", "n", "1000000", &err), BG_OK);
    assert_int_equal(c.n, 1000000);
    assert_int_equal(set_key(&c, "run", "seed", "18446744073709551615", &err), BG_OK);
    assert_true(c.seed == UINT64_MAX);
}

/* A FIFO as a LIBSVM or IDX file: refused at once (opening it for reading would wait for a writer forever). */
static void test_fifo_refused(void **state)
{
    (void)state;
    char fifo[300], lab[300];
    tmp_path(fifo, sizeof fifo, tmp_count++);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    bg_dataset_t ds;
    bg_err_t err;
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_load_libsvm(fifo, 0, &ds, &err), BG_EINVAL);
    assert_string_equal(err.file, fifo);
    assert_non_null(strstr(err.msg, "not a regular file"));
    tmp_path(lab, sizeof lab, tmp_count++);
    FILE *f = fopen(lab, "wb");
    fwrite("\0\0\x08\x01\0\0\0\x01\x00", 1, 9, f);   /* one label */
    fclose(f);
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_load_idx(fifo, lab, &ds, &err), BG_EINVAL);   /* images */
    assert_non_null(strstr(err.msg, "IDX images file is not a regular file"));
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_load_idx(lab, fifo, &ds, &err), BG_EINVAL);   /* labels */
    assert_non_null(strstr(err.msg, "IDX labels file is not a regular file"));
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_load_libsvm("/dev/zero", 0, &ds, &err), BG_EINVAL);
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_load_libsvm(tmpdir, 0, &ds, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "a folder"));
}

/* n 2x2 images with the given labels, as an IDX pair; paths returned in img and lab. */
static void write_idx(const unsigned char *labels, size_t n, char *img, char *lab, size_t len)
{
    tmp_path(img, len, tmp_count++);
    tmp_path(lab, len, tmp_count++);
    unsigned char hl[8] = {0, 0, 8, 1, 0, 0, 0, (unsigned char)n};
    unsigned char hi[16] = {0, 0, 8, 3, 0, 0, 0, (unsigned char)n, 0, 0, 0, 2, 0, 0, 0, 2};
    FILE *f = fopen(lab, "wb");
    fwrite(hl, 1, 8, f);
    fwrite(labels, 1, n, f);
    fclose(f);
    f = fopen(img, "wb");
    fwrite(hi, 1, 16, f);
    for (size_t i = 0; i < 4 * n; i++)
        fputc((int)(i * 29 % 256), f);
    fclose(f);
}

/* IDX labels 0, 1 and one stray 200: classes 2 .. 199 have no training sample, refused naming data.classes
 * (it used to make a 201-class model); declared classes keep them. */
static void test_inferred_classes(void **state)
{
    (void)state;
    unsigned char y[8] = {0, 1, 0, 1, 200, 1, 0, 1};
    char img[300], lab[300], timg[300], tlab[300];
    write_idx(y, 8, img, lab, sizeof img);
    write_idx(y, 4, timg, tlab, sizeof timg);   /* 0, 1, 0, 1 */
    bg_data_req_t r = {.dir = "", .train = img, .train_labels = lab, .test = timg, .test_labels = tlab,
                       .test_fraction = 0.2, .seed = 1};
    bg_dataset_t tr, te;
    int libsvm;
    bg_err_t err;
    bg_err_clear(&err);
    assert_int_equal(bg_data_load("", &r, &tr, &te, &libsvm, &err), BG_EFORMAT);
    assert_string_equal(err.key, "data.classes");
    assert_string_equal(err.file, lab);
    assert_non_null(strstr(err.msg, "labels 0 .. 200 make 201 classes, but 198 of them (the first: 2)"));
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
    r.n_classes = 201;
    assert_int_equal(bg_data_load("", &r, &tr, &te, &libsvm, &err), BG_OK);
    assert_int_equal(tr.n_classes, 201);
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
    /* the stray label only in the test file */
    r.n_classes = 0;
    r.train = timg;
    r.train_labels = tlab;
    r.test = img;
    r.test_labels = lab;
    bg_err_clear(&err);
    assert_int_equal(bg_data_load("", &r, &tr, &te, &libsvm, &err), BG_EFORMAT);
    assert_string_equal(err.file, lab);
    assert_non_null(strstr(err.msg, "label 200 has no training sample"));
    bg_dataset_destroy(&tr);
    bg_dataset_destroy(&te);
}

/* The messages that used to say too little or the wrong thing. */
static void test_data_messages(void **state)
{
    (void)state;
    bg_synth_cfg_t c = {.n_groups = 3, .per_group = 5, .d = 4, .n_test = 0, .separation = 1, .zeta = 0};
    gsl_rng *r = bg_rng_stream(1, BG_RNG_PARTITION, 2);
    bg_dataset_t tr, te;
    bg_err_t err;
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_synthetic(&c, r, &tr, &te, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "(got 3, 5, 4, 0)"));
    gsl_rng_free(r);
    /* a test file read at the training set's width: no feature count was declared */
    char p[300];
    tmp_path(p, sizeof p, tmp_count++);
    FILE *f = fopen(p, "w");
    fputs("1 1:1\n0 9:1\n", f);
    fclose(f);
    assert_int_equal(bg_dataset_load_libsvm(p, 4, &tr, &err), BG_EFORMAT);
    assert_int_equal(err.line, 2);
    assert_null(strstr(err.msg, "declared"));
    assert_non_null(strstr(err.msg, "feature index 9 is beyond the 4 features"));
    /* a NUL byte inside a line is refused at its line, not read as the end of the file */
    tmp_write(p, sizeof p, "1 1:1\n\0 2:1\n1 3:1\n", 18, 0);
    bg_err_clear(&err);
    assert_int_equal(bg_dataset_load_libsvm(p, 0, &tr, &err), BG_EFORMAT);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.msg, "NUL byte"));
}

/* trace.csv: huge values in full (they were cut by a 40-byte buffer), ordinary ones byte for byte as before. */
static void test_trace_huge(void **state)
{
    (void)state;
    bg_metrics_t m;
    memset(&m, 0, sizeof m);
    m.round = 3;
    m.bytes_up = 1e300;
    m.bytes_down = 76;
    m.train_loss = m.test_loss = m.grad_norm_sq = m.dist_to_opt = NAN;
    m.test_acc = 0.5;
    m.train_acc = 0.25;
    char row[1024], *cols[16];
    bg_trace_format(row, sizeof row, &m, 1.5e300, 2.5e30);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(row, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save))
        cols[n++] = t;
    assert_int_equal(n, 12);
    assert_true(strtod(cols[1], NULL) == 1.5e300);
    assert_true(strtod(cols[2], NULL) == 1e300);
    assert_true(strtod(cols[11], NULL) == 2.5e30);
    bg_trace_format(row, sizeof row, &m, 532.7570358, 12.5);
    assert_non_null(strstr(row, "3,532.757035800,1e+300,76,nan,nan,0.500000,0.250000,0,nan,nan,12.500000"));
}

/* Any bytes in a name give valid UTF-8 in summary.json: ill-formed sequences become U+FFFD, good ones stay. */
static void test_json_utf8(void **state)
{
    (void)state;
    char p[300];
    tmp_path(p, sizeof p, tmp_count++);
    bg_json_t j;
    bg_err_t err;
    assert_int_equal(bg_json_open(&j, p, &err), BG_OK);
    bg_json_begin(&j, NULL);
    bg_json_str(&j, "name", "a\xff" "b\xc3\xa9" "c\xc3" "d\xed\xa0\x80" "e\xe2\x82\xac" "\xf4\x90\x80\x80" "\xc0\xaf\x7f");
    bg_json_end(&j);
    assert_int_equal(bg_json_commit(&j, &err), BG_OK);
    {
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        char buf[512];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* a\ufffdb é c\ufffd d + 3 bytes of a surrogate, e €, 4 of a code point above U+10FFFF, 2 of an overlong, DEL */
        assert_non_null(strstr(buf, "\"a\\ufffdb\xc3\xa9" "c\\ufffdd\\ufffd\\ufffd\\ufffde\xe2\x82\xac"
                                    "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\u007f\""));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_refuse),      cmocka_unit_test(test_keys_accept),
        cmocka_unit_test(test_fifo_refused),     cmocka_unit_test(test_inferred_classes),
        cmocka_unit_test(test_data_messages),    cmocka_unit_test(test_trace_huge),
        cmocka_unit_test(test_json_utf8),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
