/* Synthetic binary classification whose heterogeneity across groups (workers) is one knob, zeta: each group's
 * inputs are shifted along its own random direction, so zeta = 0 is IID and larger zeta moves group means apart. */
#include "bg_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

/* A uniformly random direction of the given length (normalised Gaussian vector). */
static void random_direction(gsl_rng *r, double *v, size_t d, double len)
{
    double n2;
    do {
        n2 = 0.0;
        for (size_t j = 0; j < d; j++) {
            v[j] = gsl_ran_gaussian_ziggurat(r, 1.0);
            n2 += v[j] * v[j];
        }
    } while (n2 == 0.0);
    double s = len / sqrt(n2);
    for (size_t j = 0; j < d; j++)
        v[j] *= s;
}

static void draw_sample(gsl_rng *r, const double *mu, const double *shift, double zeta, size_t d, float *x, int *y)
{
    int pos = gsl_rng_uniform(r) < 0.5;
    double sgn = pos ? 1.0 : -1.0;
    for (size_t j = 0; j < d; j++)
        x[j] = (float)(sgn * mu[j] + zeta * shift[j] + gsl_ran_gaussian_ziggurat(r, 1.0));
    *y = pos;
}

static int alloc_ds(bg_dataset_t *ds, size_t n, size_t d)
{
    memset(ds, 0, sizeof *ds);
    ds->X = malloc(n * d * sizeof *ds->X);
    ds->y = malloc(n * sizeof *ds->y);
    if (!ds->X || !ds->y) {
        bg_dataset_destroy(ds);
        return BG_ENOMEM;
    }
    ds->n = n;
    ds->d = d;
    ds->n_classes = 2;
    return BG_OK;
}

int bg_dataset_synthetic(const bg_synth_cfg_t *c, gsl_rng *r, bg_dataset_t *train, bg_dataset_t *test,
                         bg_err_t *err)
{
    if (!c || !r || !train || train == test)
        return bg_err_set(err, BG_EINVAL, NULL, 0,
                          "bg_dataset_synthetic: need a configuration, a generator and a train dataset (test "
                          "may be NULL, but not the same dataset)");
    memset(train, 0, sizeof *train);
    if (test)
        memset(test, 0, sizeof *test);
    if (c->n_groups == 0 || c->per_group == 0 || c->d == 0 || (test && c->n_test == 0)) {
        char nt[32] = "";
        if (test)
            snprintf(nt, sizeof nt, ", %zu", c->n_test);
        return bg_err_set(err, BG_EINVAL, NULL, 0, "synthetic data needs n_groups, per_group, d%s all >= 1 (got %zu, "
                          "%zu, %zu%s)", test ? " and n_test" : "", c->n_groups, c->per_group, c->d, nt);
    }
    if (!(c->separation >= 0 && isfinite(c->separation)))
        return bg_err_set(err, BG_EINVAL, NULL, 0, "synthetic separation %g is not allowed: it must be finite and >= 0",
                          c->separation);
    if (!(c->zeta >= 0 && isfinite(c->zeta)))
        return bg_err_set(err, BG_EINVAL, NULL, 0, "synthetic zeta %g is not allowed: it must be finite and >= 0",
                          c->zeta);
    size_t d = c->d, n = c->n_groups * c->per_group, nt = test ? c->n_test : 0;
    /* 2^31 rows x features keeps every index and byte count far from overflow. */
    if (c->per_group > ((size_t)1 << 31) / c->n_groups || n > ((size_t)1 << 31) / d || nt > ((size_t)1 << 31) / d)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "synthetic data of %zu x %zu samples and %zu features is too large: at most 2^31 values",
                          c->n_groups, c->per_group, d);

    double *mu = malloc(d * sizeof *mu), *shift = malloc(c->n_groups * d * sizeof *shift);
    int rc = BG_OK;
    if (!mu || !shift || alloc_ds(train, n, d) || (test && alloc_ds(test, nt, d))) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for %zu synthetic samples of %zu features", n + nt, d);
        goto done;
    }
    /* Draw order is part of the contract (same seed, same data): mu, the group shifts, train, test. */
    random_direction(r, mu, d, c->separation / 2.0);
    for (size_t g = 0; g < c->n_groups; g++)
        random_direction(r, shift + g * d, d, 1.0);
    for (size_t g = 0, i = 0; g < c->n_groups; g++)
        for (size_t k = 0; k < c->per_group; k++, i++)
            draw_sample(r, mu, shift + g * d, c->zeta, d, train->X + i * d, train->y + i);
    snprintf(train->source, sizeof train->source, "synthetic(groups=%zu, zeta=%g)", c->n_groups, c->zeta);
    if (test) {
        for (size_t i = 0; i < nt; i++) {
            size_t g = gsl_rng_uniform_int(r, c->n_groups);
            draw_sample(r, mu, shift + g * d, c->zeta, d, test->X + i * d, test->y + i);
        }
        snprintf(test->source, sizeof test->source, "synthetic(groups=%zu, zeta=%g) test", c->n_groups, c->zeta);
    }
done:
    free(mu);
    free(shift);
    if (rc) {
        bg_dataset_destroy(train);
        if (test)
            bg_dataset_destroy(test);
    }
    return rc;
}
