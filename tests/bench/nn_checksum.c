/* Fingerprint of the neural models' outputs (loss, gradient, evaluate) on fixed random inputs: a performance change
 * to the layers must leave every printed hash unchanged, since running experiments rely on bit-identical results. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_model.h"

/* FNV-1a over raw bytes: any changed bit of any float or double changes the hash. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* nn_checksum --loop MODEL REPS: only repeats MODEL's loss_grad at batch 64 (a steady target for a profiler). */
static int loop(const char *model, long reps, const float *X, const int *y, const size_t *idx)
{
    bg_model_cfg_t cfg = {.n_hidden = 2, .hidden = {256, 128}};
    snprintf(cfg.name, sizeof cfg.name, "%s", model);
    bg_model_t m;
    bg_err_t err;
    if (bg_model_init(&cfg, 784, 10, &m, &err)) {
        fprintf(stderr, "nn_checksum: %s\n", err.msg);
        return 1;
    }
    float *w = malloc(m.dim * sizeof *w), *g = malloc(m.dim * sizeof *g);
    gsl_rng *wr = bg_rng_stream(99, BG_RNG_INIT, 0);
    bg_model_init_params(&m, wr, w);
    gsl_rng_free(wr);
    double s = 0.0;
    for (long i = 0; i < reps; i++)
        s += m.ops->loss_grad(&m, w, X, y, idx, 64, g);
    printf("%s: %ld reps, mean loss %g\n", model, reps, s / (double)reps);
    free(w);
    free(g);
    bg_model_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    enum { N = 600, D = 784, C = 10 };
    float *X = malloc((size_t)N * D * sizeof *X);
    int *y = malloc(N * sizeof *y);
    size_t *idx = malloc(N * sizeof *idx);
    if (!X || !y || !idx)
        return 1;
    gsl_rng *r = bg_rng_stream(4242, BG_RNG_INIT, 7);
    /* MNIST-like: about half the pixels exactly 0, so pooling windows tie (all four maxima equal) */
    for (size_t i = 0; i < (size_t)N * D; i++)
        X[i] = gsl_rng_uniform(r) < 0.5 ? 0.0f : (float)gsl_rng_uniform(r);
    for (size_t i = 0; i < N; i++)
        y[i] = (int)gsl_rng_uniform_int(r, C);
    for (size_t i = 0; i < N; i++)   /* a shuffled, repeating index list (like minibatch sampling) */
        idx[i] = gsl_rng_uniform_int(r, N);
    if (argc == 4 && !strcmp(argv[1], "--loop"))
        return loop(argv[2], atol(argv[3]), X, y, idx);
    bg_dataset_t ds = {.n = 300, .d = D, .n_classes = C, .X = X + 100 * D, .y = y + 100};
    static const char *const models[] = {"cnn", "lenet5", "mlp"};
    static const double lambdas[] = {0.0, 1e-3};
    static const size_t batches[] = {64, 300, 64, 1, 257};
    uint64_t all = 1469598103934665603ull;
    for (int mi = 0; mi < 3; mi++)
        for (int li = 0; li < 2; li++) {
            bg_model_cfg_t cfg = {.lambda = lambdas[li], .n_hidden = 2, .hidden = {256, 128}};
            snprintf(cfg.name, sizeof cfg.name, "%s", models[mi]);
            bg_model_t m;
            bg_err_t err;
            if (bg_model_init(&cfg, D, C, &m, &err)) {
                fprintf(stderr, "nn_checksum: %s\n", err.msg);
                return 1;
            }
            float *w = malloc(m.dim * sizeof *w), *g = malloc(m.dim * sizeof *g);
            gsl_rng *wr = bg_rng_stream(99, BG_RNG_INIT, (uint64_t)mi);
            bg_model_init_params(&m, wr, w);
            gsl_rng_free(wr);
            uint64_t h = 1469598103934665603ull;
            size_t off = 0;
            for (size_t bi = 0; bi < sizeof batches / sizeof *batches; bi++) {
                size_t b = batches[bi];
                double loss = m.ops->loss_grad(&m, w, X, y, idx + off, b, g);
                off = (off + b) % (N - 300);
                h = fnv(h, &loss, sizeof loss);
                h = fnv(h, g, m.dim * sizeof *g);
                double l2 = m.ops->loss_grad(&m, w, X, y, idx + off, b, NULL);
                h = fnv(h, &l2, sizeof l2);
            }
            double el, ea;
            m.ops->evaluate(&m, w, &ds, &el, &ea);
            h = fnv(h, &el, sizeof el);
            h = fnv(h, &ea, sizeof ea);
            bg_dataset_t d64 = ds;
            d64.n = 64;
            m.ops->evaluate(&m, w, &d64, &el, &ea);
            h = fnv(h, &el, sizeof el);
            h = fnv(h, &ea, sizeof ea);
            printf("%-7s lambda=%-6g %016llx\n", models[mi], lambdas[li], (unsigned long long)h);
            all = fnv(all, &h, sizeof h);
            free(w);
            free(g);
            bg_model_destroy(&m);
        }
    printf("all            %016llx\n", (unsigned long long)all);
    gsl_rng_free(r);
    free(X);
    free(y);
    free(idx);
    return 0;
}
