/* Models: a registry of ops that compute the loss and gradient of a flat float parameter vector on a batch,
 * evaluate on a dataset, and report the flops a forward + backward pass costs per sample. */
#ifndef BG_MODEL_H
#define BG_MODEL_H

#include "bg_common.h"
#include "bg_data.h"

typedef enum { BG_REG_L2 = 0, BG_REG_NONCONVEX = 1 } bg_reg_t;

typedef struct bg_model_cfg {
    char name[32];       /* "logreg" */
    double lambda;       /* regularisation weight, default 0.00056 */
    bg_reg_t reg;        /* L2: (lambda/2)|w|^2; NONCONVEX: lambda * sum w^2/(1+w^2) */
} bg_model_cfg_t;

typedef struct bg_model bg_model_t;

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
    void (*free)(bg_model_t *m);
} bg_model_ops_t;

struct bg_model {
    const bg_model_ops_t *ops;
    bg_model_cfg_t cfg;
    size_t d_in;
    size_t n_classes;
    size_t dim;          /* number of parameters */
    size_t n_layers;     /* parameter layout for per-layer compression: 0 means one layer of dim */
    const size_t *layers;/* n_layers sizes adding up to dim */
    void *priv;
};

extern const bg_model_ops_t *const bg_model_registry[];   /* NULL-terminated */
const bg_model_ops_t *bg_model_find(const char *name);
/* Look up cfg->name, init; BG_ENOTFOUND for an unknown name. */
int bg_model_create(const bg_model_cfg_t *cfg, size_t d_in, size_t n_classes, bg_model_t *out, bg_err_t *err);
void bg_model_destroy(bg_model_t *m);
/* Default parameters: zero vector (the reference code's a9a start). */
void bg_model_init_params(const bg_model_t *m, gsl_rng *r, float *w);

#endif
