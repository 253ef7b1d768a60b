/* Datasets held in memory as dense float rows, their partition over workers, and minibatch sampling.
 * Readers accept plain or gzip files (zlib detects which) and report file and line on malformed input. */
#ifndef BG_DATA_H
#define BG_DATA_H

#include "bg_common.h"

typedef struct bg_dataset {
    size_t n;           /* samples */
    size_t d;           /* features per sample */
    size_t n_classes;   /* labels are 0..n_classes-1 */
    float *X;           /* n*d, row-major */
    int *y;             /* n labels */
    char source[512];   /* file it came from */
} bg_dataset_t;

/* Read a LIBSVM/svmlight file (1-based indices, `label idx:val ...`, blank lines skipped).
 * n_features = 0: the largest index seen; otherwise an index > n_features is an error (file:line).
 * Binary labels are mapped like the reference code: y = 1 if label == max label, else 0 (n_classes = 2).
 * Errors: BG_EIO (missing/unreadable), BG_EFORMAT (malformed line, truncated gzip, empty file). */
int bg_dataset_load_libsvm(const char *path, size_t n_features, bg_dataset_t *out, bg_err_t *err);
/* Scale every row to unit L2 norm (rows of norm 0 are left alone). */
void bg_dataset_normalize_rows(bg_dataset_t *ds);
void bg_dataset_free(bg_dataset_t *ds);

/* A worker's shard: indices into a dataset. */
typedef struct bg_shard {
    size_t n;
    size_t *idx;
} bg_shard_t;

/* IID split: a seeded permutation of 0..n_samples-1 cut into n_shards contiguous pieces whose sizes differ by
 * at most one. shards must point to n_shards zeroed structs. Errors: BG_ERANGE when a shard would be empty. */
int bg_partition_iid(size_t n_samples, size_t n_shards, gsl_rng *r, bg_shard_t *shards, bg_err_t *err);
void bg_shard_free(bg_shard_t *s);

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
void bg_sampler_free(bg_sampler_t *s);

/* --- IDX (MNIST format) images and labels --- */

/* Read an IDX image file (magic 0x00000803: unsigned bytes, n x rows x cols) and its IDX label file (magic 0x00000801:
 * unsigned bytes, n), plain or gzip. Rows become floats pixel/255 in [0, 1], d = rows*cols, y = the label bytes,
 * n_classes = largest label + 1 (<= 256 by the format). Errors name the file and the byte offset or item count:
 * BG_EIO (missing/unreadable), BG_EFORMAT (wrong magic, counts that differ between the files, truncated data,
 * corrupt gzip, rows*cols = 0 or > 2^24, zero items). On error out is zeroed (safe to free). */
int bg_dataset_load_idx(const char *images, const char *labels, bg_dataset_t *out, bg_err_t *err);
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

#endif
