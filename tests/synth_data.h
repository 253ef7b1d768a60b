/* A small synthetic binary LIBSVM problem (10 features, 400 training and 100 test rows) written to a fresh
 * /tmp folder, and engines over it, shared by the method and engine tests. Header-only: each test program
 * includes it once, after cmocka.h; the engine helpers are static inline since not every program uses all. */
#ifndef BG_TEST_SYNTH_DATA_H
#define BG_TEST_SYNTH_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bg_common.h"
#include "bg_engine.h"

static char g_dir[64];
static char g_train[128], g_test[128];

/* Labels are sign(w.x (+ noise)), w = (1 x5, -0.5 x5); noise 0 gives the separable variant. */
static int synth_write(uint64_t seed, double noise)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/bg_synth_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    snprintf(g_train, sizeof g_train, "%s/train", g_dir);
    snprintf(g_test, sizeof g_test, "%s/test", g_dir);
    gsl_rng *r = bg_rng_stream(seed, 99, 0);
    for (int file = 0; file < 2; file++) {
        FILE *f = fopen(file ? g_test : g_train, "w");
        if (!f) {
            gsl_rng_free(r);
            return -1;
        }
        int rows = file ? 100 : 400;
        for (int i = 0; i < rows; i++) {
            double s = 0, v[10];
            for (int k = 0; k < 10; k++) {
                v[k] = gsl_rng_uniform(r) * 2 - 1;
                s += v[k] * (k < 5 ? 1.0 : -0.5);
            }
            if (noise > 0)
                s += noise * (gsl_rng_uniform(r) - 0.5);
            fprintf(f, "%d", s > 0 ? 1 : -1);
            for (int k = 0; k < 10; k++)
                fprintf(f, " %d:%.6f", k + 1, v[k]);
            fprintf(f, "\n");
        }
        fclose(f);
    }
    gsl_rng_free(r);
    return 0;
}

static int synth_remove(void **state)
{
    (void)state;
    unlink(g_train);
    unlink(g_test);
    rmdir(g_dir);
    return 0;
}

/* The defaults, with the synthetic files as training and test sets. */
static inline void synth_config(bg_config_t *c)
{
    bg_config_default(c);
    snprintf(c->train_path, sizeof c->train_path, "%s", g_train);
    snprintf(c->test_path, sizeof c->test_path, "%s", g_test);
}

/* An engine for c; a refused configuration fails the test with the engine's message. */
static inline bg_engine_t *make_engine(const bg_config_t *c)
{
    bg_engine_t *e;
    bg_err_t err;
    char buf[1024];
    if (bg_engine_new(c, &e, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    return e;
}

/* Run all rounds with the driver and return the final model (d floats, malloc'ed). */
static inline float *run_to_end(const bg_config_t *c, size_t *d)
{
    bg_engine_t *e = make_engine(c);
    bg_err_t err;
    assert_int_equal(bg_driver_run(e, NULL, NULL, NULL, &err), 0);
    *d = bg_engine_dim(e);
    float *x = malloc(*d * sizeof(float));
    memcpy(x, bg_engine_model(e), *d * sizeof(float));
    bg_engine_free(e);
    return x;
}

#endif
