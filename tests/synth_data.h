/* A small synthetic binary LIBSVM problem (10 features, 400 training and 100 test rows) written to a fresh
 * /tmp folder, shared by the method and engine tests. Header-only: each test program includes it once. */
#ifndef BG_TEST_SYNTH_DATA_H
#define BG_TEST_SYNTH_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bg_common.h"

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

#endif
