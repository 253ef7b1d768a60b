/* The exact minimiser of the honest L2-regularised logistic-regression objective over given shards, so traces can
 * report optimality gaps F(x) - F* and distances |x - x*| instead of raw losses. Newton's method in double. */
#include "bg_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#define OPT_MAX_DIM 4096
#define OPT_MAX_ITER 100
#define OPT_TOL 1e-10
/* Rows per dsyrk call when building the Hessian: big enough for BLAS efficiency, small enough for the cache. */
#define OPT_BLOCK 256

typedef struct {
    const bg_dataset_t *ds;
    const bg_shard_t *shards;
    size_t n_shards, d;
    double lambda;
    double *rows;   /* OPT_BLOCK x d scratch for the Hessian */
} problem_t;

/* Same formula as model.c's bce_logits: stable for any z. */
static double bce(double z, double y, double *sig)
{
    double e = exp(-fabs(z));
    *sig = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    return log1p(e) + (z > 0 ? z : 0.0) - y * z;
}

/* F(x), its gradient g and, when H is non-NULL, its Hessian (lower triangle filled). Every sample i of shard s
 * weighs 1/(S |shard s|), so a sample listed in two shards counts twice, as it does for the workers. */
static double objective(const problem_t *p, const double *x, double *g, double *H)
{
    size_t d = p->d, S = p->n_shards, nb = 0;
    double F = 0.0;
    memset(g, 0, d * sizeof *g);
    if (H)
        memset(H, 0, d * d * sizeof *H);
    for (size_t s = 0; s < S; s++) {
        const bg_shard_t *sh = &p->shards[s];
        double w = 1.0 / ((double)S * (double)sh->n);
        for (size_t k = 0; k < sh->n; k++) {
            size_t i = sh->idx[k];
            const float *xi = p->ds->X + i * d;
            double z = 0.0, sig;
            for (size_t j = 0; j < d; j++)
                z += x[j] * (double)xi[j];
            double yi = (double)p->ds->y[i];
            F += w * bce(z, yi, &sig);
            double c = w * (sig - yi);
            for (size_t j = 0; j < d; j++)
                g[j] += c * (double)xi[j];
            if (H) {
                double h = sqrt(w * sig * (1.0 - sig));
                double *row = p->rows + nb * d;
                for (size_t j = 0; j < d; j++)
                    row[j] = h * (double)xi[j];
                if (++nb == OPT_BLOCK) {
                    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)nb, 1.0, p->rows, (int)d, 1.0,
                                H, (int)d);
                    nb = 0;
                }
            }
        }
    }
    if (H && nb)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)nb, 1.0, p->rows, (int)d, 1.0, H, (int)d);
    double xx = 0.0;
    for (size_t j = 0; j < d; j++) {
        xx += x[j] * x[j];
        g[j] += p->lambda * x[j];
        if (H)
            H[j * d + j] += p->lambda;
    }
    return F + 0.5 * p->lambda * xx;
}

static double norm(const double *v, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++)
        s += v[j] * v[j];
    return sqrt(s);
}

int bg_logreg_optimum(const bg_model_t *m, const bg_dataset_t *ds, const bg_shard_t *shards, size_t n_shards,
                      double *x_opt, bg_err_t *err)
{
    if (!m || !m->ops || !ds || !x_opt)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "bg_logreg_optimum: need a model, a dataset and an output vector");
    if (strcmp(m->ops->name, "logreg") != 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "the exact optimum is only computed for model 'logreg', not '%s'", m->ops->name);
    if (m->cfg.reg != BG_REG_L2)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "the exact optimum needs the L2 regulariser: with the non-convex one the minimiser is not "
                          "unique");
    if (!(m->cfg.lambda > 0 && isfinite(m->cfg.lambda)))
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "the exact optimum needs lambda > 0 (strong convexity), not %g", m->cfg.lambda);
    if (!shards || n_shards == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "the exact optimum needs at least one shard");
    size_t d = m->dim;
    if (d > OPT_MAX_DIM)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "the exact optimum needs a %zu x %zu Hessian: at most %d parameters are allowed", d, d,
                          OPT_MAX_DIM);
    if (ds->d != d || !ds->X || !ds->y)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "dataset of %zu features does not fit model 'logreg' of %zu parameters", ds->d, d);
    for (size_t s = 0; s < n_shards; s++) {
        if (shards[s].n == 0 || !shards[s].idx)
            return bg_err_set(err, BG_EINVAL, NULL, 0, "shard %zu is empty: every shard needs at least one sample", s);
        for (size_t k = 0; k < shards[s].n; k++)
            if (shards[s].idx[k] >= ds->n)
                return bg_err_set(err, BG_EINVAL, NULL, 0,
                                  "shard %zu holds index %zu: indices must be below the dataset size %zu", s,
                                  shards[s].idx[k], ds->n);
    }
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] != 0 && ds->y[i] != 1)
            return bg_err_set(err, BG_EINVAL, NULL, 0, "sample %zu has label %d: logreg labels must be 0 or 1", i,
                              ds->y[i]);

    problem_t p = {.ds = ds, .shards = shards, .n_shards = n_shards, .d = d, .lambda = m->cfg.lambda};
    double *x = calloc(d, sizeof *x), *g = malloc(d * sizeof *g), *H = malloc(d * d * sizeof *H),
           *dx = malloc(d * sizeof *dx), *xn = malloc(d * sizeof *xn), *gn = malloc(d * sizeof *gn);
    p.rows = malloc(OPT_BLOCK * d * sizeof *p.rows);
    int rc = BG_OK;
    if (!x || !g || !H || !dx || !xn || !gn || !p.rows) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for a %zu x %zu Hessian", d, d);
        goto done;
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    for (int it = 0; it < OPT_MAX_ITER; it++) {
        double F = objective(&p, x, g, H), gnorm = norm(g, d);
        if (gnorm <= OPT_TOL)
            break;
        gsl_matrix_view Hv = gsl_matrix_view_array(H, d, d);
        gsl_vector_view gv = gsl_vector_view_array(g, d), dv = gsl_vector_view_array(dx, d);
        /* H >= lambda I, so Cholesky can only fail on non-finite data. */
        if (gsl_linalg_cholesky_decomp1(&Hv.matrix) || gsl_linalg_cholesky_solve(&Hv.matrix, &gv.vector, &dv.vector)) {
            rc = bg_err_set(err, BG_ERANGE, NULL, 0,
                            "the Hessian could not be factorised at Newton step %d: the data has non-finite values", it);
            break;
        }
        double slope = 0.0;
        for (size_t j = 0; j < d; j++) {
            dx[j] = -dx[j];
            slope += g[j] * dx[j];
        }
        /* Backtracking keeps far starts safe; near the optimum F stops resolving decreases, so a step that lowers
         * the gradient norm is accepted as well. */
        double t = 1.0;
        for (int h = 0; h < 60; h++, t *= 0.5) {
            for (size_t j = 0; j < d; j++)
                xn[j] = x[j] + t * dx[j];
            double Fn = objective(&p, xn, gn, NULL);
            if (Fn <= F + 1e-4 * t * slope || norm(gn, d) < gnorm)
                break;
        }
        memcpy(x, xn, d * sizeof *x);
    }
    gsl_set_error_handler(old);
    if (rc == BG_OK)
        memcpy(x_opt, x, d * sizeof *x);
done:
    free(x);
    free(g);
    free(H);
    free(dx);
    free(xn);
    free(gn);
    free(p.rows);
    return rc;
}
