/* Datasets held in memory as dense float rows, their partition over workers, and minibatch sampling.
 * Readers accept plain or gzip files (zlib detects which) and report file and line on malformed input. */
#ifndef BG_DATA_H
#define BG_DATA_H

#include "bg_common.h"
#include "bg_registry.h"

typedef struct bg_dataset {
    size_t n;           /* samples */
    size_t d;           /* features per sample */
    size_t n_classes;   /* labels are 0..n_classes-1 */
    float *X;           /* n*d, row-major */
    int *y;             /* n labels */
    size_t shape[3];    /* image data: channels, height, width (IDX: 1, rows, cols); all 0 for tabular data */
    char source[512];   /* file it came from */
} bg_dataset_t;

/* Read a LIBSVM/svmlight file (1-based indices, `label idx:val ...`, blank lines skipped).
 * n_features = 0: the largest index seen; otherwise an index > n_features is an error (file:line).
 * Binary labels are mapped like the reference code: y = 1 if label == max label, else 0 (n_classes = 2).
 * Errors: BG_EIO (missing/unreadable), BG_EFORMAT (malformed line, truncated gzip, empty file). */
int bg_dataset_load_libsvm(const char *path, size_t n_features, bg_dataset_t *out, bg_err_t *err);
/* The same with declared classes. n_classes = 0 or 2 with binary labels: the mapping above, and a third distinct
 * label value is a BG_EFORMAT error at its file:line. n_classes = 0 with labels that are not two distinct values:
 * class ids, n_classes = largest + 1. n_classes = 2 with one distinct value: positive = 1, else 0 (the max-label rule
 * would make an all -1 test file positive). n_classes >= 3: labels must be integers 0..n_classes-1 (anything else
 * is BG_EFORMAT at file:line naming the label and the allowed range) and out->n_classes = n_classes.
 * n_classes = 1 is BG_EINVAL. */
int bg_dataset_load_libsvm_classes(const char *path, size_t n_features, size_t n_classes, bg_dataset_t *out,
                                   bg_err_t *err);
/* Scale every row to unit L2 norm (rows of norm 0 are left alone). */
void bg_dataset_normalize_rows(bg_dataset_t *ds);
void bg_dataset_destroy(bg_dataset_t *ds);

/* A worker's shard: indices into a dataset. */
typedef struct bg_shard {
    size_t n;
    size_t *idx;
} bg_shard_t;

/* IID split: a seeded permutation of 0..n_samples-1 cut into n_shards contiguous pieces whose sizes differ by
 * at most one. shards must point to n_shards zeroed structs. Errors: BG_ERANGE when a shard would be empty. */
int bg_partition_iid(size_t n_samples, size_t n_shards, gsl_rng *r, bg_shard_t *shards, bg_err_t *err);
void bg_shard_destroy(bg_shard_t *s);

/* Partitions of a labelled dataset over n_shards workers (all seeded by r; same seed, same shards):
 *  "iid"        a seeded permutation cut into pieces; sizes equal (differ by <= 1) or, with size_sigma > 0,
 *               proportional to lognormal(0, size_sigma) draws (FedLab's unbalanced split), each >= min_size;
 *  "dirichlet"  label skew: for every class, proportions over workers ~ Dirichlet(alpha), redrawn (bounded
 *               number of tries, then BG_ERANGE) until every shard has >= min_size samples;
 *  "shards"     k distinct classes per worker (classes assigned round-robin over a seeded class order so every
 *               class is held), each class's samples split evenly among the workers holding it; needs
 *               k * n_shards >= n_classes (else BG_EINVAL). A worker holds fewer than k classes only when a class
 *               has fewer samples than holders;
 *  "cifar-ref"  the reference code's split ([S] dataloader.py): per = n_samples / n_shards, half = per / 2;
 *               sort indices by label (stable), shard i gets the sorted block [i*half, (i+1)*half) plus half
 *               samples drawn without replacement from the seeded shuffle of the remainder [n_shards*half, n)
 *               (shard i takes shuffled positions [i*half, (i+1)*half)); samples beyond 2*n_shards*half are unused;
 *  "contiguous" unshuffled equal contiguous blocks (synthetic data generated group by group).
 * y may be NULL for "iid" and "contiguous". min_size 0 counts as 1. Every other partition uses each sample exactly
 * once. shards: n_shards zeroed structs; indices in each shard are sorted ascending. Errors (one sentence, with the
 * key in err via bg_err_key by the caller): BG_ENOTFOUND unknown name, BG_EINVAL bad parameter, BG_ERANGE a shard
 * would be empty or below min_size (message names the worker). */
typedef struct bg_partition_cfg {
    char name[32];       /* a bg_partition_registry name */
    double alpha;        /* dirichlet concentration, > 0 */
    size_t k;            /* shards: classes per worker, 1..n_classes */
    double size_sigma;   /* iid: lognormal sigma of unequal sizes; 0 (default) = equal */
    size_t min_size;     /* smallest allowed shard */
} bg_partition_cfg_t;
/* A partition: whether it needs labels, an optional check of its parameters against the data's shape, and the
 * assignment of every sample to a shard (owner[i] = shard, or (size_t)-1 for unused samples; each shard gets at
 * least lo samples). The registry is NULL-terminated; `byzgrid list` prints it. */
typedef struct bg_partition_ops {
    const char *name;
    const char *summary;
    int labels;
    int (*check)(const bg_partition_cfg_t *cfg, size_t n_samples, size_t n_classes, size_t n_shards, bg_err_t *err);
    int (*assign)(const bg_partition_cfg_t *cfg, const int *y, size_t n_samples, size_t n_classes, size_t n_shards,
                  size_t lo, gsl_rng *r, size_t *owner, bg_err_t *err);
} bg_partition_ops_t;
extern const bg_partition_ops_t *const bg_partition_registry[];
extern const bg_registry_t bg_partitions;
const bg_partition_ops_t *bg_partition_find(const char *name);
int bg_partition(const bg_partition_cfg_t *cfg, const int *y, size_t n_samples, size_t n_classes, size_t n_shards,
                 gsl_rng *r, bg_shard_t *shards, bg_err_t *err);
/* counts: n_shards x n_classes, row-major; counts[s*n_classes + c] = samples of class c in shard s. */
void bg_partition_histogram(const bg_shard_t *shards, size_t n_shards, const int *y, size_t n_classes,
                            size_t *counts);

/* Synthetic binary classification with a controllable heterogeneity: n_groups groups of per_group samples each,
 * generated group by group (so "contiguous" gives worker g group g). Labels are +-1 with probability 1/2 (stored
 * 0/1); x = y_pm * mu + zeta * s_g + noise, with mu a fixed random direction of norm separation/2, s_g a random
 * unit direction per group, noise N(0, I_d). zeta = 0 is IID. The test set draws n_test samples from the same
 * mixture (group chosen uniformly); test may be NULL (n_test ignored). Draw order, fixed: mu, the group directions,
 * train, test. Errors: BG_EINVAL for zero sizes or negative/non-finite parameters. */
typedef struct bg_synth_cfg {
    size_t n_groups, per_group, n_test, d;
    double separation;   /* distance between the class means */
    double zeta;         /* heterogeneity */
} bg_synth_cfg_t;
int bg_dataset_synthetic(const bg_synth_cfg_t *c, gsl_rng *r, bg_dataset_t *train, bg_dataset_t *test,
                         bg_err_t *err);

/* Minibatches drawn without replacement from a shard, reshuffled each epoch (a DataLoader with shuffle=True).
 * The sampler keeps its own copy of the shard's indices. */
typedef struct bg_sampler {
    size_t n;
    size_t *perm;
    size_t pos;
    size_t epoch;
} bg_sampler_t;

int bg_sampler_init(bg_sampler_t *s, const bg_shard_t *shard, gsl_rng *r);
/* Writes b dataset indices to out (b may exceed the shard: it wraps into the next epoch). */
void bg_sampler_next(bg_sampler_t *s, gsl_rng *r, size_t b, size_t *out);
void bg_sampler_destroy(bg_sampler_t *s);

/* --- IDX (MNIST format) images and labels --- */

/* Read an IDX image file (magic 0x00000803: unsigned bytes, n x rows x cols) and its IDX label file (magic 0x00000801:
 * unsigned bytes, n), plain or gzip. Rows become floats pixel/255 in [0, 1], d = rows*cols, y = the label bytes,
 * n_classes = largest label + 1 (<= 256 by the format). Errors name the file and the byte offset or item count:
 * BG_EIO (missing/unreadable), BG_EFORMAT (wrong magic, counts that differ between the files, truncated data,
 * corrupt gzip, rows*cols = 0 or > 2^24, zero items). On error out is zeroed (safe to free). */
int bg_dataset_load_idx(const char *images, const char *labels, bg_dataset_t *out, bg_err_t *err);
/* The same with declared classes (n_classes >= 2): a label byte >= n_classes is BG_EFORMAT naming the label file,
 * the item index and its byte offset. n_classes = 0 behaves as bg_dataset_load_idx. */
int bg_dataset_load_idx_classes(const char *images, const char *labels, size_t n_classes, bg_dataset_t *out,
                                bg_err_t *err);
/* Seeded random split into two copies: n_first samples chosen uniformly without replacement go to first, the rest
 * to second; both keep the original sample order and in->n_classes. Errors: BG_ERANGE unless 0 < n_first < n.
 * On error both outputs are zeroed. */
int bg_dataset_split(const bg_dataset_t *in, size_t n_first, gsl_rng *r, bg_dataset_t *first, bg_dataset_t *second,
                     bg_err_t *err);
/* Fashion-MNIST as installed by the Debian package dataset-fashion-mnist: "/usr/share/datasets/fashion-mnist". */
const char *bg_fmnist_dir(void);
/* Load the train (60000) or t10k (10000) split from bg_fmnist_dir(); a missing file is BG_EIO with a message naming
 * the package. The _dir variant reads {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz from another folder. */
int bg_dataset_load_fmnist(int train, bg_dataset_t *out, bg_err_t *err);
int bg_dataset_load_fmnist_dir(const char *dir, int train, bg_dataset_t *out, bg_err_t *err);


/* --- the dataset catalogue --- */

/* What a dataset's loader may use: the folder of bundled files, paths that replace a built-in's files (or give a
 * custom dataset), declared features and classes, the hold-out share for datasets without a test file, the master
 * seed of the hold-out split, and the synthetic task's parameters (n_groups: the data-holding workers). */
typedef struct bg_data_req {
    const char *dir;
    const char *train, *test, *train_labels, *test_labels;   /* "" when not given */
    size_t n_features, n_classes;
    double test_fraction;
    uint64_t seed;
    bg_synth_cfg_t synth;
} bg_data_req_t;

/* A built-in dataset: loads train and test sets (test held out when it has no test file). libsvm: its rows are
 * L2-normalised unless the scenario says otherwise. The registry is NULL-terminated; `byzgrid list` prints it. */
typedef struct bg_dataset_ops {
    const char *name;
    const char *summary;
    int libsvm;
    int (*load)(const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, bg_err_t *err);
} bg_dataset_ops_t;
extern const bg_dataset_ops_t *const bg_dataset_registry[];
extern const bg_registry_t bg_datasets;
const bg_dataset_ops_t *bg_dataset_find(const char *name);
/* Load the named built-in, or with name "" the files of r (LIBSVM, or IDX when train_labels is set); check that
 * train and test agree in width and share one class count. *libsvm tells whether rows are LIBSVM rows. */
int bg_data_load(const char *name, const bg_data_req_t *r, bg_dataset_t *train, bg_dataset_t *test, int *libsvm,
                 bg_err_t *err);

#endif
