/* Models: a registry of ops that compute the loss and gradient of a flat float parameter vector on a batch,
 * evaluate on a dataset, and report the flops a forward + backward pass costs per sample. */
#ifndef BG_MODEL_H
#define BG_MODEL_H

#include "bg_common.h"
#include "bg_registry.h"
#include "bg_data.h"

typedef enum { BG_REG_L2 = 0, BG_REG_NONCONVEX = 1 } bg_reg_t;

#define BG_MODEL_MAX_HIDDEN 8

typedef struct bg_model_cfg {
    char name[32];       /* "logreg", "softmax", "mlp", "cnn", "lenet5" */
    double lambda;       /* regularisation weight */
    bg_reg_t reg;        /* L2: (lambda/2)|w|^2; NONCONVEX: lambda * sum w^2/(1+w^2) */
    size_t n_hidden;     /* MLP: number of hidden layers (0..BG_MODEL_MAX_HIDDEN) */
    size_t hidden[BG_MODEL_MAX_HIDDEN]; /* MLP: their widths (ReLU after each) */
    size_t in_shape[3];  /* image models: channels, height, width of an input row (row = C*H*W, channel-major);
                          * all 0: taken from the dataset, or 1 x s x s when d_in = s*s */
} bg_model_cfg_t;

typedef struct bg_model bg_model_t;
struct bg_pool;   /* bg_pool.h */

typedef struct bg_model_ops {
    const char *name;
    const char *summary;
    /* d_in features, n_classes labels; fills m->dim */
    int (*init)(bg_model_t *m, size_t d_in, size_t n_classes, bg_err_t *err);
    /* Mean loss over the batch plus the regulariser; grad (dim floats, may be NULL) receives its gradient.
     * X, y: the dataset's rows and labels (y may be a relabelled copy, e.g. for label flipping). */
    double (*loss_grad)(const bg_model_t *m, const float *w, const float *X, const int *y, const size_t *idx,
                        size_t b, float *grad);
    /* Mean loss (with regulariser) and accuracy over all rows of ds. */
    void (*evaluate)(const bg_model_t *m, const float *w, const bg_dataset_t *ds, double *loss, double *acc);
    double (*flops_per_sample)(const bg_model_t *m);  /* forward + backward */
    void (*destroy)(bg_model_t *m);
    /* Initial parameters (NULL: all zero). Neural models use PyTorch's defaults, U(-1/sqrt(fan_in), ..) for
     * weights and biases, drawn from r in layer order, so a seed fixes the start. */
    void (*init_params)(const bg_model_t *m, gsl_rng *r, float *w);
    /* Bytes of scratch (activations, im2col buffers) a loss_grad call on a batch of b samples needs; NULL: 0. */
    size_t (*workspace_bytes)(const bg_model_t *m, size_t b);
    /* Optional: evaluate on the pool's threads, thread k using models[k] (copies of models[0], each with its own
     * scratch); the same numbers as evaluate (blocks of rows summed in their order whatever thread did them). */
    void (*evaluate_threads)(const bg_model_t *const *models, struct bg_pool *pool, const float *w,
                             const bg_dataset_t *ds, double *loss, double *acc);
} bg_model_ops_t;

struct bg_model {
    const bg_model_ops_t *ops;
    bg_model_cfg_t cfg;
    size_t d_in;
    size_t n_classes;
    size_t dim;          /* number of parameters */
    size_t n_layers;     /* parameter layout for per-layer compression: 0 means one layer of dim */
    const size_t *layers;/* n_layers sizes adding up to dim */
    const char *const *layer_names; /* n_layers names ("conv1.weight", ...), or NULL */
    void *priv;          /* may hold scratch reused across calls: calls on one model must not overlap */
};

extern const bg_model_ops_t *const bg_model_registry[];   /* NULL-terminated */
extern const bg_registry_t bg_models;
const bg_model_ops_t *bg_model_find(const char *name);
/* Look up cfg->name, init; BG_ENOTFOUND for an unknown name. */
int bg_model_init(const bg_model_cfg_t *cfg, size_t d_in, size_t n_classes, bg_model_t *out, bg_err_t *err);
void bg_model_destroy(bg_model_t *m);
/* Initial parameters: ops->init_params, or the zero vector (the reference code's a9a start). */
void bg_model_init_params(const bg_model_t *m, gsl_rng *r, float *w);
/* Scratch bytes for a batch of b (0 for models that keep none). */
size_t bg_model_workspace_bytes(const bg_model_t *m, size_t b);

/* loss_grad over n samples in chunks, so that models with per-sample scratch (workspace_bytes) keep it bounded
 * whatever n is (a full local gradient, a full-train-set metric). Chunk results are weighted by their sizes, so
 * the loss and gradient equal one call's up to rounding; models without scratch get one call. tmp: dim floats
 * of scratch (used only when chunking). */
double bg_model_loss_grad_all(const bg_model_t *m, const float *w, const float *X, const int *y, const size_t *idx,
                              size_t n, float *grad, float *tmp);

/* Model "logreg" with the L2 regulariser and lambda > 0 (strongly convex, so the minimiser is unique): the
 * minimiser of F(x) = (1/S) sum_s (1/|shard s|) sum_{i in shard s} loss_i(x) + (lambda/2)|x|^2 over the S given
 * shards (the honest objective), by Newton's method in double precision (GSL Cholesky) until |grad F| <= 1e-10
 * or 100 iterations (steps backtracked on F). x_opt receives m->dim doubles. A sample listed in several shards
 * counts once per shard. Errors: BG_EINVAL for another model, the non-convex regulariser, lambda = 0, no shards,
 * an empty shard, an index >= ds->n, ds->d != dim or a label other than 0/1; BG_ERANGE when dim > 4096 (the
 * Hessian is dim x dim) or when the Hessian cannot be factorised (non-finite data). */
int bg_logreg_optimum(const bg_model_t *m, const bg_dataset_t *ds, const bg_shard_t *shards, size_t n_shards,
                      double *x_opt, bg_err_t *err);

#endif
