/* The dataset catalogue: every built-in dataset is a registry entry that knows its files and how to split off a
 * test set, so `data.dataset = NAME` and `byzgrid list` read the same table; custom files go through bg_data_load. */
#include "bg_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int data_path(char *out, size_t len, const char *dir, const char *file, bg_err_t *err)
{
    int k = snprintf(out, len, "%s/%s", dir, file);
    if (k < 0 || (size_t)k >= len)
        return bg_err_keyed(err, "data.dataset",
                            bg_err_set(err, BG_EINVAL, NULL, 0, "the data directory path is too long"));
    return BG_OK;
}

/* Hold out a seeded share of the training set as the test set (datasets without a test file). */
static int hold_out(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    double fr = r->test_fraction;
    if (!(fr > 0 && fr < 1))
        return bg_err_keyed(err, "data.test_fraction", bg_err_set(err, BG_EINVAL, NULL, 0,
                     "data.test_fraction = %g: with no test file it must be in (0, 1)", fr));
    size_t n_test = (size_t)llround(fr * (double)train->n);
    if (n_test == 0 || n_test >= train->n)
        return bg_err_keyed(err, "data.test_fraction", bg_err_set(err, BG_ERANGE, NULL, 0,
                     "data.test_fraction = %g of %zu samples leaves an empty train or test set", fr, train->n));
    gsl_rng *g = bg_rng_stream(r->seed, BG_RNG_PARTITION, 1);
    if (!g)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    bg_dataset_t all = *train;
    memset(train, 0, sizeof *train);
    int rc = bg_dataset_split(&all, all.n - n_test, g, train, test, err);
    gsl_rng_free(g);
    bg_dataset_destroy(&all);
    return rc;
}

/* a9a and w8a: the bundled LIBSVM files at their published width; paths given next to the name replace them. */
static int load_libsvm_builtin(const bg_data_req_t *r, const char *train_file, const char *test_file, size_t width,
                               bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    char tr[1200], te[1200];
    int rc;
    size_t nf = r->n_features ? r->n_features : width;
    if ((rc = data_path(tr, sizeof tr, r->dir, train_file, err)) ||
        (rc = bg_dataset_load_libsvm_classes(r->train[0] ? r->train : tr, nf, r->n_classes, train, err)))
        return rc;
    if (test_file || r->test[0]) {
        if ((rc = data_path(te, sizeof te, r->dir, test_file ? test_file : "a9a.t.gz", err)))
            return rc;
        return bg_dataset_load_libsvm_classes(r->test[0] ? r->test : te, nf, r->n_classes, test, err);
    }
    return hold_out(r, train, test, err);
}

static int load_a9a(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    return load_libsvm_builtin(r, "a9a.gz", "a9a.t.gz", 123, train, test, err);
}

static int load_w8a(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    return load_libsvm_builtin(r, "w8a.gz", NULL, 300, train, test, err);
}

static int load_mnist(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    char tr[1200], trl[1200];
    int rc;
    if ((rc = data_path(tr, sizeof tr, r->dir, "mnist-t10k-images-idx3-ubyte.gz", err)) ||
        (rc = data_path(trl, sizeof trl, r->dir, "mnist-t10k-labels-idx1-ubyte.gz", err)) ||
        (rc = bg_dataset_load_idx_classes(tr, trl, r->n_classes ? r->n_classes : 10, train, err)))
        return rc;
    return hold_out(r, train, test, err);
}

static int load_fmnist(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    (void)r;
    int rc = bg_dataset_load_fmnist(1, train, err);
    return rc ? rc : bg_dataset_load_fmnist(0, test, err);
}

static int load_synthetic(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err)
{
    gsl_rng *g = bg_rng_stream(r->seed, BG_RNG_PARTITION, 2);
    if (!g)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    int rc = bg_dataset_synthetic(&r->synth, g, train, test, err);
    gsl_rng_free(g);
    return rc ? bg_err_keyed(err, "data.synth_zeta", rc) : BG_OK;
}

/* data.train (and data.test) given without a built-in name: LIBSVM, or IDX when label files are given. */
static int load_files(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, int *libsvm, bg_err_t *err)
{
    int rc;
    if (!r->train[0])
        return bg_err_keyed(err, "data.train", bg_err_set(err, BG_EINVAL, NULL, 0,
                     "no data: set data.dataset, or data.train (and data.test)"));
    *libsvm = !r->train_labels[0];
    rc = *libsvm ? bg_dataset_load_libsvm_classes(r->train, r->n_features, r->n_classes, train, err)
                 : bg_dataset_load_idx_classes(r->train, r->train_labels, r->n_classes, train, err);
    if (rc)
        return rc;
    if (!r->test[0])
        return hold_out(r, train, test, err);
    if (!*libsvm && !r->test_labels[0])
        return bg_err_keyed(err, "data.test_labels", bg_err_set(err, BG_EINVAL, NULL, 0,
                     "data.test is an IDX image file: set data.test_labels too"));
    size_t nf = r->n_features ? r->n_features : train->d;
    return *libsvm ? bg_dataset_load_libsvm_classes(r->test, nf, r->n_classes, test, err)
                   : bg_dataset_load_idx_classes(r->test, r->test_labels, r->n_classes, test, err);
}

/* Classes inferred from the labels (data.classes unset) are 0 .. largest label: a class without a single training
 * sample means a stray label (an IDX label of 200 among digits would make a 201-class model), so it is refused. */
static int check_inferred_classes(const bg_data_req_t *r, const bg_dataset_t *train, const bg_dataset_t *test,
                                  bg_err_t *err)
{
    /* the file that holds the labels: IDX keeps them apart from the images */
    const char *train_file = r->train_labels && r->train_labels[0] ? r->train_labels : train->source;
    const char *test_file = r->test_labels && r->test_labels[0] ? r->test_labels : test->source;
    const size_t C = train->n_classes;
    if (C == 1)
        return bg_err_keyed(err, "data.classes",
                            bg_err_set(err, BG_EFORMAT, train_file, 0, "every training label is 0: one class is "
                                       "not a classification problem (set data.classes to declare the others)"));
    if (C < 2 || !train->y)
        return BG_OK;
    unsigned char *seen = calloc(C, 1);
    if (!seen)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    for (size_t i = 0; i < train->n; i++)
        if (train->y[i] >= 0 && (size_t)train->y[i] < C)
            seen[train->y[i]] = 1;
    size_t empty = 0, first = 0;
    for (size_t c = C; c-- > 0;)
        if (!seen[c]) {
            empty++;
            first = c;
        }
    const int from_test = !seen[C - 1];   /* the largest label is only in the test file */
    free(seen);
    if (!empty)
        return BG_OK;
    if (from_test)
        return bg_err_keyed(err, "data.classes",
                            bg_err_set(err, BG_EFORMAT, test_file, 0,
                                       "label %zu has no training sample (the training labels stop below it): "
                                       "renumber the labels, or set data.classes = %zu to keep it", C - 1, C));
    return bg_err_keyed(err, "data.classes",
                        bg_err_set(err, BG_EFORMAT, train_file, 0,
                                   "labels 0 .. %zu make %zu classes, but %zu of them (the first: %zu) have no "
                                   "training sample: renumber the labels, or set data.classes = %zu to keep them",
                                   C - 1, C, empty, first, C));
}

static const bg_dataset_ops_t a9a_ops = {
    "a9a", "LIBSVM a9a (bundled): 32,561 train / 16,281 test, 123 binary features, 2 classes", 1, load_a9a};
static const bg_dataset_ops_t w8a_ops = {
    "w8a", "LIBSVM w8a (bundled): 49,749 samples, 300 features, 2 classes; no test file, so test_fraction is held out",
    1, load_w8a};
static const bg_dataset_ops_t mnist_ops = {
    "mnist", "MNIST test split (bundled, the train split is not available offline): 10,000 28x28 digits held out 8k/2k",
    0, load_mnist};
static const bg_dataset_ops_t fmnist_ops = {
    "fmnist",
    "Fashion-MNIST from the Debian package dataset-fashion-mnist: 60,000 train / 10,000 test 28x28, 10 classes", 0,
    load_fmnist};
static const bg_dataset_ops_t synthetic_ops = {
    "synthetic", "Gaussian-mixture binary task with group heterogeneity zeta and a computable optimum (data.synth_*)",
    0, load_synthetic};

const bg_dataset_ops_t *const bg_dataset_registry[] = {&a9a_ops, &w8a_ops, &mnist_ops, &fmnist_ops, &synthetic_ops,
                                                        NULL};

BG_REGISTRY_DEFINE(bg_datasets, "dataset", bg_dataset_registry, bg_dataset_ops_t, bg_dataset_find)

int bg_data_load(const char *name, const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, int *libsvm,
                 bg_err_t *err)
{
    int rc;
    *libsvm = 0;
    if (name && *name) {
        const bg_dataset_ops_t *ops = bg_dataset_find(name);
        if (!ops)
            return bg_err_keyed(err, "data.dataset", bg_registry_unknown(&bg_datasets, name, err));
        *libsvm = ops->libsvm;
        rc = ops->load(r, train, test, err);
    } else {
        rc = load_files(r, train, test, libsvm, err);
    }
    if (rc)
        return rc;
    if (test->d != train->d)
        return bg_err_set(err, BG_EFORMAT, test->source, 0,
                          "test set has %zu features but the training set has %zu (set data.features)", test->d,
                          train->d);
    /* Labels inferred from each file separately may disagree (a class missing from one): the larger wins. */
    size_t C = train->n_classes > test->n_classes ? train->n_classes : test->n_classes;
    train->n_classes = test->n_classes = C;
    return (name && *name) || r->n_classes ? BG_OK : check_inferred_classes(r, train, test, err);
}
