/* Unit tests for the neural models (mlp, cnn, lenet5) and their layers: each layer and each model against a slow
 * double-precision reference (loss) and central finite differences of it (gradient), layout, init, errors, MNIST. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_cblas.h>

#include "bg_model.h"
#include "model_internal.h"

#define FD_H 1e-6
/* a ReLU pre-activation or a pooling gap closer than this to its kink makes central differences meaningless */
#define KINK 2e-5

/* ---------------------------------------------------------------- slow references (double, naive loops) */

/* Convolution of one sample in (cin x h x w) into out (cout x ho x wo), no bias. */
static void ref_conv(const double *in, size_t cin, size_t h, size_t w, const double *W, size_t cout, size_t k,
                     size_t pad, double *out)
{
    size_t ho = h + 2 * pad - k + 1, wo = w + 2 * pad - k + 1;
    for (size_t o = 0; o < cout; o++)
        for (size_t y = 0; y < ho; y++)
            for (size_t x = 0; x < wo; x++) {
                double s = 0.0;
                for (size_t c = 0; c < cin; c++)
                    for (size_t i = 0; i < k; i++)
                        for (size_t j = 0; j < k; j++) {
                            long iy = (long)(y + i) - (long)pad, ix = (long)(x + j) - (long)pad;
                            if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w)
                                continue;
                            s += W[((o * cin + c) * k + i) * k + j] * in[(c * h + (size_t)iy) * w + (size_t)ix];
                        }
                out[(o * ho + y) * wo + x] = s;
            }
}

/* ReLU(maxpool2(z) + bias) of one sample; *margin shrinks to the smallest distance to a kink seen. */
static void ref_pool(const double *z, size_t C, size_t ho, size_t wo, const double *bias, double *a, double *margin)
{
    size_t hp = ho / 2, wp = wo / 2;
    for (size_t c = 0; c < C; c++)
        for (size_t y = 0; y < hp; y++)
            for (size_t x = 0; x < wp; x++) {
                double v[4] = {z[(c * ho + 2 * y) * wo + 2 * x], z[(c * ho + 2 * y) * wo + 2 * x + 1],
                               z[(c * ho + 2 * y + 1) * wo + 2 * x], z[(c * ho + 2 * y + 1) * wo + 2 * x + 1]};
                double mx = v[0];
                for (int i = 1; i < 4; i++)
                    mx = v[i] > mx ? v[i] : mx;
                for (int i = 0; i < 4; i++)
                    if (v[i] != mx && mx - v[i] < *margin)
                        *margin = mx - v[i];
                double u = mx + (bias ? bias[c] : 0.0);
                if (fabs(u) < *margin)
                    *margin = fabs(u);
                a[(c * hp + y) * wp + x] = u > 0 ? u : 0;
            }
}

static void ref_fc(const double *in, size_t I, size_t O, const double *W, const double *b, int relu, double *out,
                   double *margin)
{
    for (size_t o = 0; o < O; o++) {
        double s = b[o];
        for (size_t i = 0; i < I; i++)
            s += W[o * I + i] * in[i];
        if (relu) {
            if (fabs(s) < *margin)
                *margin = fabs(s);
            s = s > 0 ? s : 0;
        }
        out[o] = s;
    }
}

static double ref_ce(const double *z, size_t C, int y)
{
    double mx = z[0], s = 0.0;
    for (size_t k = 1; k < C; k++)
        mx = z[k] > mx ? z[k] : mx;
    for (size_t k = 0; k < C; k++)
        s += exp(z[k] - mx);
    return log(s) + mx - z[y];
}

/* A network written out independently of model_nn.c: conv blocks then FC layers, parameters in PyTorch order. */
typedef struct {
    size_t n_conv, cout[2], k[2], pad[2];
    size_t n_hidden, hidden[4];
    size_t shape[3], C;
} net_t;

static double ref_net_loss(const net_t *n, const double *w, const float *X, const int *y, const size_t *idx, size_t b,
                           double lambda, double *margin)
{
    size_t d = n->shape[0] * n->shape[1] * n->shape[2];
    double *cur = malloc(4096 * 8), *nxt = malloc(4096 * 8), *zb = malloc(4096 * 8);
    assert_true(cur && nxt && zb);
    double loss = 0.0, reg = 0.0;
    for (size_t s = 0; s < b; s++) {
        for (size_t j = 0; j < d; j++)
            cur[j] = X[idx[s] * d + j];
        size_t c = n->shape[0], h = n->shape[1], wd = n->shape[2], off = 0;
        for (size_t l = 0; l < n->n_conv; l++) {
            size_t k = n->k[l], pad = n->pad[l], ho = h + 2 * pad - k + 1, wo = wd + 2 * pad - k + 1;
            ref_conv(cur, c, h, wd, w + off, n->cout[l], k, pad, zb);
            off += n->cout[l] * c * k * k;
            ref_pool(zb, n->cout[l], ho, wo, w + off, nxt, margin);
            off += n->cout[l];
            c = n->cout[l];
            h = ho / 2;
            wd = wo / 2;
            double *t = cur;
            cur = nxt;
            nxt = t;
        }
        size_t in = c * h * wd;
        for (size_t i = 0; i <= n->n_hidden; i++) {
            size_t out = i < n->n_hidden ? n->hidden[i] : n->C;
            ref_fc(cur, in, out, w + off, w + off + in * out, i < n->n_hidden, nxt, margin);
            off += in * out + out;
            in = out;
            double *t = cur;
            cur = nxt;
            nxt = t;
        }
        loss += ref_ce(cur, n->C, y[idx[s]]);
    }
    /* L2 over the weight tensors only */
    size_t c = n->shape[0], off = 0, h = n->shape[1], wd = n->shape[2];
    for (size_t l = 0; l < n->n_conv; l++) {
        size_t nw = n->cout[l] * c * n->k[l] * n->k[l];
        for (size_t j = 0; j < nw; j++)
            reg += 0.5 * w[off + j] * w[off + j];
        off += nw + n->cout[l];
        h = (h + 2 * n->pad[l] - n->k[l] + 1) / 2;
        wd = (wd + 2 * n->pad[l] - n->k[l] + 1) / 2;
        c = n->cout[l];
    }
    size_t in = n->n_conv ? c * h * wd : d;
    for (size_t i = 0; i <= n->n_hidden; i++) {
        size_t out = i < n->n_hidden ? n->hidden[i] : n->C;
        for (size_t j = 0; j < in * out; j++)
            reg += 0.5 * w[off + j] * w[off + j];
        off += in * out + out;
        in = out;
    }
    free(cur);
    free(nxt);
    free(zb);
    return loss / (double)b + lambda * reg;
}

/* ---------------------------------------------------------------- comparison helpers */

/* Norm-wise relative error of g against fd, and a per-coordinate check on every listed coordinate. */
static void check_close(const char *what, const float *g, const double *fd, size_t n)
{
    double num = 0.0, den = 0.0, inf = 0.0;
    for (size_t j = 0; j < n; j++) {
        num += (g[j] - fd[j]) * (g[j] - fd[j]);
        den += fd[j] * fd[j];
        inf = fabs(fd[j]) > inf ? fabs(fd[j]) : inf;
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    if (!(rel < 1e-3))
        print_error("%s: norm-wise relative error %g\n", what, rel);
    assert_true(rel < 1e-3);
    assert_true(den > 0.0);   /* a gradient of zero would check nothing */
    for (size_t j = 0; j < n; j++) {
        int ok = fabs(g[j] - fd[j]) <= 1e-2 * fabs(fd[j]) + 1e-4 * inf;
        if (!ok)
            print_error("%s: coordinate %zu: %g vs finite difference %g\n", what, j, (double)g[j], fd[j]);
        assert_true(ok);
    }
}

static void fill(gsl_rng *r, float *x, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)gsl_ran_gaussian(r, sd);
}

/* ---------------------------------------------------------------- layer tests */

/* L = sum R . conv(in; W) over a batch; FD of the double reference against gW and din. */
static void check_conv_layer(size_t pad)
{
    gsl_rng *r = bg_rng_stream(21 + pad, BG_RNG_INIT, 0);
    bg_nn_conv_t g = {.cin = 2, .h = 7, .w = 6, .cout = 3, .k = 3, .pad = pad};
    g.ho = g.h + 2 * pad - g.k + 1;
    g.wo = g.w + 2 * pad - g.k + 1;
    const size_t B = 2, HW = g.h * g.w, P = g.ho * g.wo, K = g.cin * g.k * g.k, nW = g.cout * K;
    float *x = malloc(g.cin * B * HW * sizeof *x), *W = malloc(nW * sizeof *W), *R = malloc(g.cout * B * P * 4);
    float *col = malloc(K * B * P * 4), *z = malloc(g.cout * B * P * 4), *gW = calloc(nW, 4),
          *din = malloc(g.cin * B * HW * 4);
    double *xd = malloc(g.cin * HW * 8), *Wd = malloc(nW * 8), *out = malloc(g.cout * P * 8);
    double *fdW = calloc(nW, 8), *fdx = calloc(g.cin * B * HW, 8);
    fill(r, x, g.cin * B * HW, 1.0);
    fill(r, W, nW, 0.5);
    fill(r, R, g.cout * B * P, 1.0);
    const float *rows[2] = {x, x + HW};   /* C x (B x HW): channel stride B*HW */
    bg_nn_conv_forward(&g, B, rows, B * HW, W, col, z);
    /* forward against the reference, sample by sample */
    for (size_t j = 0; j < nW; j++)
        Wd[j] = W[j];
    for (size_t b = 0; b < B; b++) {
        for (size_t c = 0; c < g.cin; c++)
            for (size_t j = 0; j < HW; j++)
                xd[c * HW + j] = x[(c * B + b) * HW + j];
        ref_conv(xd, g.cin, g.h, g.w, Wd, g.cout, g.k, pad, out);
        for (size_t o = 0; o < g.cout; o++)
            for (size_t j = 0; j < P; j++)
                assert_true(fabs(out[o * P + j] - z[(o * B + b) * P + j]) <= 1e-5 * (1 + fabs(out[o * P + j])));
    }
    float gwt[54];
    bg_nn_conv_backward(&g, B, rows, B * HW, W, col, R, gW, gwt, din);
    /* L is linear in W and in x: central differences of the double reference */
    for (size_t b = 0; b < B; b++) {
        for (size_t c = 0; c < g.cin; c++)
            for (size_t j = 0; j < HW; j++)
                xd[c * HW + j] = x[(c * B + b) * HW + j];
        for (size_t t = 0; t < nW + g.cin * HW; t++) {
            double *v = t < nW ? &Wd[t] : &xd[t - nW], keep = *v, lp = 0, lm = 0;
            for (int sgn = 0; sgn < 2; sgn++) {
                *v = keep + (sgn ? -FD_H : FD_H);
                ref_conv(xd, g.cin, g.h, g.w, Wd, g.cout, g.k, pad, out);
                double L = 0;
                for (size_t o = 0; o < g.cout; o++)
                    for (size_t j = 0; j < P; j++)
                        L += R[(o * B + b) * P + j] * out[o * P + j];
                *(sgn ? &lm : &lp) = L;
            }
            *v = keep;
            double fd = (lp - lm) / (2 * FD_H);
            if (t < nW)
                fdW[t] += fd;
            else
                fdx[((t - nW) / HW * B + b) * HW + (t - nW) % HW] = fd;
        }
    }
    check_close(pad ? "conv (padded) weight" : "conv weight", gW, fdW, nW);
    check_close(pad ? "conv (padded) input" : "conv input", din, fdx, g.cin * B * HW);
    free(x); free(W); free(R); free(col); free(z); free(gW); free(din);
    free(xd); free(Wd); free(out); free(fdW); free(fdx);
    gsl_rng_free(r);
}

static void test_layer_conv(void **state)
{
    (void)state;
    check_conv_layer(0);
    check_conv_layer(2);
    check_conv_layer(1);
}

/* A layer large enough that its im2col is built one sample at a time (bg_nn_conv_chunk < B): forward against the
 * reference, and the gradients against their closed forms (the layer is linear, so these are exact) in double. */
static void test_layer_conv_chunked(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(27, BG_RNG_INIT, 0);
    bg_nn_conv_t g = {.cin = 3, .h = 40, .w = 36, .cout = 4, .k = 5, .pad = 1};
    g.ho = g.h + 2 * g.pad - g.k + 1;
    g.wo = g.w + 2 * g.pad - g.k + 1;
    const size_t B = 3, HW = g.h * g.w, P = g.ho * g.wo, K = g.cin * g.k * g.k, nW = g.cout * K;
    assert_true(bg_nn_conv_chunk(&g, B) < B);
    float *x = malloc(g.cin * B * HW * 4), *W = malloc(nW * 4), *R = malloc(g.cout * B * P * 4),
          *col = malloc(K * bg_nn_conv_chunk(&g, B) * P * 4), *z = malloc(g.cout * B * P * 4), *gW = calloc(nW, 4),
          *gwt = malloc(nW * 4), *din = malloc(g.cin * B * HW * 4);
    double *xd = malloc(g.cin * HW * 8), *Wd = malloc(nW * 8), *out = malloc(g.cout * P * 8);
    double *rW = calloc(nW, 8), *rx = calloc(g.cin * B * HW, 8);
    fill(r, x, g.cin * B * HW, 1.0);
    fill(r, W, nW, 0.5);
    fill(r, R, g.cout * B * P, 1.0);
    const float *rows[3] = {x, x + HW, x + 2 * HW};
    bg_nn_conv_forward(&g, B, rows, B * HW, W, col, z);
    bg_nn_conv_backward(&g, B, rows, B * HW, W, col, R, gW, gwt, din);
    for (size_t j = 0; j < nW; j++)
        Wd[j] = W[j];
    for (size_t b = 0; b < B; b++) {
        for (size_t c = 0; c < g.cin; c++)
            for (size_t j = 0; j < HW; j++)
                xd[c * HW + j] = x[(c * B + b) * HW + j];
        ref_conv(xd, g.cin, g.h, g.w, Wd, g.cout, g.k, g.pad, out);
        for (size_t o = 0; o < g.cout; o++)
            for (size_t j = 0; j < P; j++)
                assert_true(fabs(out[o * P + j] - z[(o * B + b) * P + j]) <= 1e-4 * (1 + fabs(out[o * P + j])));
        /* dL/dW[o][c][i][j] = sum_y,x R[o][y][x] in[c][y+i-pad][x+j-pad]; dL/din likewise, scattered */
        for (size_t o = 0; o < g.cout; o++)
            for (size_t y = 0; y < g.ho; y++)
                for (size_t xx = 0; xx < g.wo; xx++) {
                    double rv = R[(o * B + b) * P + y * g.wo + xx];
                    for (size_t c = 0; c < g.cin; c++)
                        for (size_t i = 0; i < g.k; i++)
                            for (size_t j = 0; j < g.k; j++) {
                                long iy = (long)(y + i) - (long)g.pad, ix = (long)(xx + j) - (long)g.pad;
                                if (iy < 0 || ix < 0 || iy >= (long)g.h || ix >= (long)g.w)
                                    continue;
                                size_t q = (c * g.k + i) * g.k + j, pix = (size_t)iy * g.w + (size_t)ix;
                                rW[o * K + q] += rv * xd[c * HW + pix];
                                rx[(c * B + b) * HW + pix] += rv * Wd[o * K + q];
                            }
                }
    }
    check_close("chunked conv weight", gW, rW, nW);
    check_close("chunked conv input", din, rx, g.cin * B * HW);
    free(x); free(W); free(R); free(col); free(z); free(gW); free(gwt); free(din);
    free(xd); free(Wd); free(out); free(rW); free(rx);
    gsl_rng_free(r);
}

/* L = sum R . ReLU(maxpool(z) + bias), odd output sizes included (the last row/column gets zero gradient). */
static void test_layer_pool(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(31, BG_RNG_INIT, 0);
    const size_t C = 3, B = 2, ho = 5, wo = 7, hp = 2, wp = 3, n = C * B * ho * wo, np = C * B * hp * wp;
    float *z = malloc(n * 4), *a = malloc(np * 4), *R = malloc(np * 4), *dz = malloc(n * 4), bias[3], gb[3] = {0};
    double *zd = malloc(n * 8), *ad = malloc(np * 8), bd[3], *fd = malloc((n + C) * 8);
    double margin;
    do {
        fill(r, z, n, 1.0);
        fill(r, bias, C, 0.3);
        for (size_t j = 0; j < n; j++)
            zd[j] = z[j];
        for (size_t c = 0; c < C; c++)
            bd[c] = bias[c];
        margin = INFINITY;
        for (size_t c = 0; c < C; c++)   /* the reference pools one (channel, sample) image at a time */
            for (size_t b = 0; b < B; b++)
                ref_pool(zd + (c * B + b) * ho * wo, 1, ho, wo, &bd[c], ad, &margin);
    } while (margin < KINK);
    fill(r, R, np, 1.0);
    bg_nn_pool_forward(C, B, ho, wo, z, bias, a);
    /* forward against the reference */
    for (size_t c = 0; c < C; c++)
        for (size_t b = 0; b < B; b++) {
            double bb = bd[c], m = INFINITY;
            ref_pool(zd + (c * B + b) * ho * wo, 1, ho, wo, &bb, ad, &m);
            for (size_t j = 0; j < hp * wp; j++)
                assert_true(fabs(ad[j] - a[(c * B + b) * hp * wp + j]) <= 1e-6);
        }
    memcpy(dz, z, n * 4);   /* in place: z in, dz out */
    bg_nn_pool_backward(C, B, ho, wo, a, R, dz, gb);
    for (size_t t = 0; t < n + C; t++) {
        double *v = t < n ? &zd[t] : &bd[t - n], keep = *v, L[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            *v = keep + (sgn ? -FD_H : FD_H);
            L[sgn] = 0;
            for (size_t c = 0; c < C; c++)
                for (size_t b = 0; b < B; b++) {
                    double bb = bd[c], m = INFINITY;
                    ref_pool(zd + (c * B + b) * ho * wo, 1, ho, wo, &bb, ad, &m);
                    for (size_t j = 0; j < hp * wp; j++)
                        L[sgn] += R[(c * B + b) * hp * wp + j] * ad[j];
                }
        }
        *v = keep;
        fd[t] = (L[0] - L[1]) / (2 * FD_H);
    }
    check_close("max-pool + ReLU input", dz, fd, n);
    check_close("max-pool + ReLU bias", gb, fd + n, C);
    free(z); free(a); free(R); free(dz); free(zd); free(ad); free(fd);
    gsl_rng_free(r);
}

/* L = sum R . fc(relu(u)) with and without ReLU on the output: gradients wrt W, b and u. */
static void check_fc_layer(int relu)
{
    gsl_rng *r = bg_rng_stream(41 + (uint64_t)relu, BG_RNG_INIT, 0);
    const size_t B = 3, I = 6, O = 4, nW = O * I;
    float u[18], in[18], W[24], bias[4], out[12], R[12], gW[24] = {0}, gb[4] = {0}, din[18];
    double ind[18], Wd[24], bd[4], od[4], fd[24 + 4 + 18];
    double margin;
    do {
        fill(r, u, B * I, 1.0);
        fill(r, W, nW, 0.5);
        fill(r, bias, O, 0.3);
        margin = INFINITY;
        for (size_t j = 0; j < B * I; j++) {
            in[j] = u[j] > 0 ? u[j] : 0;
            margin = fabs(u[j]) < margin ? fabs(u[j]) : margin;
        }
        for (size_t j = 0; j < nW; j++)
            Wd[j] = W[j];
        for (size_t j = 0; j < O; j++)
            bd[j] = bias[j];
        for (size_t b = 0; b < B; b++) {
            for (size_t j = 0; j < I; j++)
                ind[j] = in[b * I + j];
            ref_fc(ind, I, O, Wd, bd, relu, od, &margin);
        }
    } while (margin < KINK);
    fill(r, R, B * O, 1.0);
    bg_nn_fc_forward(B, I, O, in, W, bias, relu, out);
    for (size_t b = 0; b < B; b++) {
        double m = INFINITY;
        for (size_t j = 0; j < I; j++)
            ind[j] = in[b * I + j];
        ref_fc(ind, I, O, Wd, bd, relu, od, &m);
        for (size_t o = 0; o < O; o++)
            assert_true(fabs(od[o] - out[b * O + o]) <= 1e-5 * (1 + fabs(od[o])));
    }
    float dout[12];   /* the backward takes the gradient wrt the pre-activation: the ReLU's mask is the caller's */
    for (size_t j = 0; j < B * O; j++)
        dout[j] = relu && !(out[j] > 0.0f) ? 0.0f : R[j];
    bg_nn_fc_backward(B, I, O, in, W, dout, 1, gW, gb, din);
    double ud[18];
    for (size_t j = 0; j < B * I; j++)
        ud[j] = u[j];
    for (size_t t = 0; t < nW + O + B * I; t++) {
        double *v = t < nW ? &Wd[t] : t < nW + O ? &bd[t - nW] : &ud[t - nW - O], keep = *v, L[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            *v = keep + (sgn ? -FD_H : FD_H);
            L[sgn] = 0;
            for (size_t b = 0; b < B; b++) {
                double m = INFINITY;
                for (size_t j = 0; j < I; j++)
                    ind[j] = ud[b * I + j] > 0 ? ud[b * I + j] : 0;
                ref_fc(ind, I, O, Wd, bd, relu, od, &m);
                for (size_t o = 0; o < O; o++)
                    L[sgn] += R[b * O + o] * od[o];
            }
        }
        *v = keep;
        fd[t] = (L[0] - L[1]) / (2 * FD_H);
    }
    check_close("fc weight", gW, fd, nW);
    check_close("fc bias", gb, fd + nW, O);
    check_close("fc input (through ReLU)", din, fd + nW + O, B * I);
    gsl_rng_free(r);
}

static void test_layer_fc(void **state)
{
    (void)state;
    check_fc_layer(0);
    check_fc_layer(1);
}

static void test_layer_softmax_ce(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(51, BG_RNG_INIT, 0);
    const size_t B = 4, C = 5;
    float z[20], dz[20];
    int y[4];
    double zd[20], fd[20];
    fill(r, z, B * C, 3.0);
    z[7] = 60.0f;   /* a large logit must not overflow */
    for (size_t i = 0; i < B; i++)
        y[i] = (int)gsl_rng_uniform_int(r, C);
    const double scale = 0.25;
    double L = bg_nn_softmax_ce(B, C, z, y, NULL, scale, dz);
    double Lr = 0;
    for (size_t j = 0; j < B * C; j++)
        zd[j] = z[j];
    for (size_t i = 0; i < B; i++)
        Lr += ref_ce(zd + i * C, C, y[i]);
    assert_true(fabs(L - Lr) <= 1e-9 * (1 + fabs(Lr)));
    for (size_t t = 0; t < B * C; t++) {
        double keep = zd[t], Lp = 0, Lm = 0;
        zd[t] = keep + FD_H;
        for (size_t i = 0; i < B; i++)
            Lp += ref_ce(zd + i * C, C, y[i]);
        zd[t] = keep - FD_H;
        for (size_t i = 0; i < B; i++)
            Lm += ref_ce(zd + i * C, C, y[i]);
        zd[t] = keep;
        fd[t] = scale * (Lp - Lm) / (2 * FD_H);
    }
    check_close("softmax cross-entropy", dz, fd, B * C);
    /* labels through idx, and dz may alias z */
    size_t idx[4] = {3, 2, 1, 0};
    int yr[4] = {y[3], y[2], y[1], y[0]};
    float z2[20];
    memcpy(z2, z, sizeof z);
    assert_true(fabs(bg_nn_softmax_ce(B, C, z2, yr, idx, scale, z2) - L) <= 1e-12 * (1 + fabs(L)));
    for (size_t j = 0; j < B * C; j++)
        assert_true(z2[j] == dz[j]);
    gsl_rng_free(r);
}

/* ---------------------------------------------------------------- model tests */

static void make(bg_model_t *m, const char *name, const net_t *n, double lambda)
{
    bg_model_cfg_t cfg = {.lambda = lambda, .reg = BG_REG_L2, .n_hidden = n->n_hidden};
    snprintf(cfg.name, sizeof cfg.name, "%s", name);
    memcpy(cfg.hidden, n->hidden, n->n_hidden * sizeof(size_t));
    if (strcmp(name, "mlp"))
        memcpy(cfg.in_shape, n->shape, sizeof n->shape);
    bg_err_t err;
    size_t d = n->shape[0] * n->shape[1] * n->shape[2];
    int rc = bg_model_init(&cfg, d, n->C, m, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, BG_OK);
}

/* Loss against the double reference and the gradient against its central differences, on every coordinate of
 * every tensor (the models are small) with norm-wise and per-coordinate tolerances. */
static void check_model(const char *name, const net_t *n, double lambda, uint64_t seed)
{
    gsl_rng *r = bg_rng_stream(seed, BG_RNG_INIT, 0);
    bg_model_t m;
    make(&m, name, n, lambda);
    size_t d = m.d_in, N = 5, b = 3, D = m.dim;
    float *X = malloc(N * d * 4), *w = malloc(D * 4), *g = malloc(D * 4);
    double *wd = malloc(D * 8), *fd = malloc(D * 8);
    int y[5];
    size_t idx[3] = {4, 1, 2};
    assert_true(X && w && g && wd && fd);
    double margin;
    int tries = 0;
    do {
        fill(r, X, N * d, 1.0);
        bg_model_init_params(&m, r, w);
        for (size_t j = 0; j < D; j++) {
            w[j] *= 2.0f;   /* larger than PyTorch's start so every layer has a gradient worth checking */
            wd[j] = w[j];
        }
        for (size_t i = 0; i < N; i++)
            y[i] = (int)gsl_rng_uniform_int(r, n->C);
        margin = INFINITY;
        ref_net_loss(n, wd, X, y, idx, b, lambda, &margin);
        assert_true(++tries < 200);
    } while (margin < KINK);
    double l = m.ops->loss_grad(&m, w, X, y, idx, b, g);
    double lr = ref_net_loss(n, wd, X, y, idx, b, lambda, &margin);
    if (!(fabs(l - lr) <= 1e-4 * fabs(lr)))
        print_error("%s: loss %.9g, reference %.9g\n", name, l, lr);
    assert_true(fabs(l - lr) <= 1e-4 * fabs(lr));
    assert_true(m.ops->loss_grad(&m, w, X, y, idx, b, NULL) == l);
    /* every coordinate of the small tensors, FD_SUB random ones of the large */
    enum { FD_SUB = 300 };
    size_t *pick = malloc(D * sizeof *pick), *all = malloc(D * sizeof *all), np = 0;
    float *gs = malloc(D * 4);
    double *fs = malloc(D * 8);
    assert_true(pick && all && gs && fs);
    char what[64];
    size_t off = 0;
    for (size_t t = 0; t < m.n_layers; t++) {   /* tensor by tensor, so a wrong layer is named */
        size_t nt = m.layers[t], ns = nt < FD_SUB ? nt : FD_SUB;
        for (size_t j = 0; j < nt; j++)
            all[j] = off + j;
        gsl_ran_choose(r, pick, ns, all, nt, sizeof *all);
        for (size_t q = 0; q < ns; q++) {
            size_t j = pick[q];
            double keep = wd[j], mg = INFINITY;
            wd[j] = keep + FD_H;
            double lp = ref_net_loss(n, wd, X, y, idx, b, lambda, &mg);
            wd[j] = keep - FD_H;
            double lm = ref_net_loss(n, wd, X, y, idx, b, lambda, &mg);
            wd[j] = keep;
            fd[np + q] = (lp - lm) / (2 * FD_H);
            gs[q] = g[j];
            fs[q] = fd[np + q];
            g[np + q] = g[j];   /* compact the checked coordinates at the front (np + q <= j) */
        }
        snprintf(what, sizeof what, "%s %s", name, m.layer_names[t]);
        check_close(what, gs, fs, ns);
        np += ns;
        off += nt;
    }
    free(pick);
    free(all);
    free(gs);
    free(fs);
    snprintf(what, sizeof what, "%s (all checked)", name);
    check_close(what, g, fd, np);
    free(X); free(w); free(g); free(wd); free(fd);
    bg_model_destroy(&m);
    gsl_rng_free(r);
}

static const net_t NET_MLP = {.n_hidden = 2, .hidden = {7, 5}, .shape = {1, 1, 20}, .C = 4};
static const net_t NET_CNN = {.n_conv = 2, .cout = {10, 20}, .k = {5, 5}, .pad = {0, 0}, .n_hidden = 1,
                              .hidden = {50}, .shape = {2, 16, 17}, .C = 3};
static const net_t NET_LENET = {.n_conv = 2, .cout = {6, 16}, .k = {5, 5}, .pad = {2, 0}, .n_hidden = 2,
                                .hidden = {120, 84}, .shape = {1, 12, 12}, .C = 3};

static void test_grad_mlp(void **state)
{
    (void)state;
    check_model("mlp", &NET_MLP, 0.0, 61);
    check_model("mlp", &NET_MLP, 0.2, 62);
}

static void test_grad_cnn(void **state)
{
    (void)state;
    check_model("cnn", &NET_CNN, 0.0, 71);
    check_model("cnn", &NET_CNN, 0.05, 72);
}

static void test_grad_lenet5(void **state)
{
    (void)state;
    check_model("lenet5", &NET_LENET, 0.0, 81);
    check_model("lenet5", &NET_LENET, 0.05, 82);
}

/* Batches above the internal block of rows (256) are cut in blocks: the result must be the batch mean. */
static void test_blocks_and_evaluate(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(91, BG_RNG_INIT, 0);
    net_t n = NET_CNN;
    n.shape[0] = 1;
    n.shape[1] = n.shape[2] = 16;
    bg_model_t m;
    make(&m, "cnn", &n, 0.0);
    size_t N = 600, d = m.d_in, D = m.dim;
    float *X = malloc(N * d * 4), *w = malloc(D * 4), *g = malloc(D * 4), *gi = malloc(D * 4);
    int *y = malloc(N * sizeof *y);
    size_t *idx = malloc(N * sizeof *idx);
    double *acc = calloc(D, 8);
    fill(r, X, N * d, 1.0);
    bg_model_init_params(&m, r, w);
    for (size_t i = 0; i < N; i++) {
        y[i] = (int)gsl_rng_uniform_int(r, 3);
        idx[i] = i;
    }
    double l = m.ops->loss_grad(&m, w, X, y, idx, N, g);
    double sl = 0.0;
    for (size_t s = 0; s < N; s += 100) {   /* pieces of 100 (one block each) */
        sl += 100.0 * m.ops->loss_grad(&m, w, X, y, idx + s, 100, gi);
        for (size_t j = 0; j < D; j++)
            acc[j] += 100.0 * gi[j];
    }
    assert_true(fabs(l - sl / N) <= 1e-5 * fabs(l));
    double num = 0, den = 0;
    for (size_t j = 0; j < D; j++) {
        num += (g[j] - acc[j] / N) * (g[j] - acc[j] / N);
        den += g[j] * g[j];
    }
    assert_true(sqrt(num / den) < 1e-5);
    /* evaluate = mean of the loss, accuracy of the first maximal logit */
    bg_dataset_t ds = {.n = N, .d = d, .n_classes = 3, .X = X, .y = y};
    double el, ea;
    m.ops->evaluate(&m, w, &ds, &el, &ea);
    assert_true(fabs(el - l) <= 1e-5 * fabs(l));
    assert_true(ea >= 0.0 && ea <= 1.0);
    y[N - 1] = 3;   /* out of range: NaN, for evaluate and loss_grad alike */
    m.ops->evaluate(&m, w, &ds, &el, &ea);
    assert_true(isnan(el) && isnan(ea));
    assert_true(isnan(m.ops->loss_grad(&m, w, X, y, idx + N - 2, 2, g)));
    for (size_t j = 0; j < D; j++)
        assert_true(isnan(g[j]));
    y[N - 1] = -1;
    assert_true(isnan(m.ops->loss_grad(&m, w, X, y, idx + N - 1, 1, NULL)));
    free(X); free(w); free(g); free(gi); free(y); free(idx); free(acc);
    bg_model_destroy(&m);
    gsl_rng_free(r);
}

static void test_layout_and_init(void **state)
{
    (void)state;
    static const char *const cnn_names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                            "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    static const size_t cnn_sizes[] = {250, 10, 5000, 20, 16000, 50, 500, 10};
    static const size_t cnn_fan[] = {25, 25, 250, 250, 320, 320, 50, 50};
    static const size_t lenet_sizes[] = {150, 6, 2400, 16, 48000, 120, 10080, 84, 840, 10};
    bg_err_t err;
    bg_model_cfg_t cfg = {.name = "cnn"};
    bg_model_t m, m2;
    assert_int_equal(bg_model_init(&cfg, 784, 10, &m, &err), BG_OK);
    assert_int_equal(m.dim, 21840);
    assert_int_equal(m.n_layers, 8);
    size_t sum = 0;
    for (size_t t = 0; t < 8; t++) {
        assert_string_equal(m.layer_names[t], cnn_names[t]);
        assert_int_equal(m.layers[t], cnn_sizes[t]);
        sum += m.layers[t];
    }
    assert_int_equal(sum, m.dim);
    /* hand count, per sample: conv1 2*10*25*576 = 288000 forward + as much for dW (no input gradient);
     * conv2 2*20*250*64 = 640000 forward, dW, dX; fc1 2*320*50 = 32000 x 3; fc2 2*50*10 = 1000 x 3 */
    assert_true(m.ops->flops_per_sample(&m) == 2.0 * 288000 + 3.0 * 640000 + 3.0 * 32000 + 3.0 * 1000);
    assert_true(m.ops->flops_per_sample(&m) == 2595000.0);
    /* workspace grows with the batch */
    size_t w1 = bg_model_workspace_bytes(&m, 1), w2 = bg_model_workspace_bytes(&m, 2),
           w64 = bg_model_workspace_bytes(&m, 64);
    assert_true(w1 > 0 && w1 < w2 && w2 < w64);
    assert_true(w64 > 64 * (10 * 576 + 10 * 144) * sizeof(float));   /* at least conv1's output and pooled */
    /* init: bounds per tensor, not all zero, deterministic by seed */
    float *w = malloc(m.dim * 4), *w2v = malloc(m.dim * 4);
    gsl_rng *r = bg_rng_stream(3, BG_RNG_INIT, 0), *r2 = bg_rng_stream(3, BG_RNG_INIT, 0);
    bg_model_init_params(&m, r, w);
    bg_model_init_params(&m, r2, w2v);
    assert_memory_equal(w, w2v, m.dim * 4);
    size_t off = 0;
    for (size_t t = 0; t < 8; t++) {
        double bound = 1.0 / sqrt((double)cnn_fan[t]), mx = 0;
        for (size_t j = 0; j < m.layers[t]; j++)
            mx = fabs(w[off + j]) > mx ? fabs(w[off + j]) : mx;
        assert_true(mx <= bound && mx > 0.5 * bound);
        off += m.layers[t];
    }
    bg_model_init_params(&m, r, w2v);
    assert_true(memcmp(w, w2v, m.dim * 4) != 0);
    free(w);
    free(w2v);
    gsl_rng_free(r);
    gsl_rng_free(r2);
    bg_model_destroy(&m);

    snprintf(cfg.name, sizeof cfg.name, "lenet5");
    assert_int_equal(bg_model_init(&cfg, 784, 10, &m2, &err), BG_OK);
    assert_int_equal(m2.n_layers, 10);
    sum = 0;
    for (size_t t = 0; t < 10; t++) {
        assert_int_equal(m2.layers[t], lenet_sizes[t]);
        sum += m2.layers[t];
    }
    assert_int_equal(sum, m2.dim);
    assert_string_equal(m2.layer_names[9], "fc3.bias");
    bg_model_destroy(&m2);

    bg_model_cfg_t mc = {.name = "mlp", .n_hidden = 2, .hidden = {256, 128}};
    assert_int_equal(bg_model_init(&mc, 784, 10, &m, &err), BG_OK);
    assert_int_equal(m.dim, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    assert_true(m.ops->flops_per_sample(&m) == 2.0 * 2 * 784 * 256 + 3.0 * 2 * (256 * 128 + 128 * 10));
    bg_model_destroy(&m);
}

static void test_bad_configs(void **state)
{
    (void)state;
    bg_err_t err;
    bg_model_t m;
    bg_model_cfg_t c = {.name = "mlp"};
    assert_int_equal(bg_model_init(&c, 784, 10, &m, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "model.hidden"));
    c.n_hidden = 2;
    c.hidden[0] = 4;
    assert_int_equal(bg_model_init(&c, 784, 10, &m, &err), BG_EINVAL);   /* a zero width */
    bg_model_cfg_t k = {.name = "cnn"};
    assert_int_equal(bg_model_init(&k, 100, 10, &m, &err), BG_EINVAL);  /* 10x10: conv2 gets 3x3 */
    assert_non_null(strstr(err.msg, "too small"));
    assert_int_equal(bg_model_init(&k, 785, 10, &m, &err), BG_EINVAL);  /* not a square */
    k.in_shape[0] = 3;
    k.in_shape[1] = 16;
    k.in_shape[2] = 16;
    assert_int_equal(bg_model_init(&k, 784, 10, &m, &err), BG_EINVAL);  /* shape does not fit d */
    assert_int_equal(bg_model_init(&k, 768, 10, &m, &err), BG_OK);
    assert_int_equal(m.layers[0], 10 * 3 * 25);
    bg_model_destroy(&m);
    bg_model_cfg_t l = {.name = "lenet5"};
    assert_int_equal(bg_model_init(&l, 64, 10, &m, &err), BG_EINVAL);   /* 8x8: conv2 gets 4x4 */
    assert_int_equal(bg_model_init(&l, 144, 1, &m, &err), BG_EINVAL);   /* one class */
    assert_int_equal(bg_model_init(&l, 144, 10, &m, &err), BG_OK);      /* 12x12 is the smallest sensible */
    bg_model_destroy(&m);
}

/* A short centralised SGD run on the bundled MNIST test file: 2000 rows to train, the next 1000 to test. */
static double train_mnist(const char *name, const bg_model_cfg_t *cfg, int steps, double lr)
{
    bg_dataset_t ds;
    bg_err_t err;
    int rc = bg_dataset_load_idx(BG_TEST_DATA "/mnist-t10k-images-idx3-ubyte.gz",
                                 BG_TEST_DATA "/mnist-t10k-labels-idx1-ubyte.gz", &ds, &err);
    if (rc)
        print_error("%s\n", err.msg);
    assert_int_equal(rc, BG_OK);
    bg_model_t m;
    assert_int_equal(bg_model_init(cfg, ds.d, 10, &m, &err), BG_OK);
    gsl_rng *r = bg_rng_stream(7, BG_RNG_INIT, 0);
    float *w = malloc(m.dim * 4), *g = malloc(m.dim * 4);
    bg_model_init_params(&m, r, w);
    size_t idx[32];
    for (int t = 0; t < steps; t++) {
        for (size_t i = 0; i < 32; i++)
            idx[i] = gsl_rng_uniform_int(r, 2000);
        double l = m.ops->loss_grad(&m, w, ds.X, ds.y, idx, 32, g);
        assert_true(isfinite(l));
        cblas_saxpy((int)m.dim, (float)-lr, g, 1, w, 1);
    }
    bg_dataset_t test = ds;
    test.n = 1000;
    test.X = ds.X + 2000 * ds.d;
    test.y = ds.y + 2000;
    double loss, acc;
    m.ops->evaluate(&m, w, &test, &loss, &acc);
    printf("# %s: %d SGD steps, test loss %.4f, accuracy %.4f\n", name, steps, loss, acc);
    free(w);
    free(g);
    gsl_rng_free(r);
    bg_model_destroy(&m);
    bg_dataset_destroy(&ds);
    return acc;
}

static void test_train_mnist(void **state)
{
    (void)state;
    bg_model_cfg_t mlp = {.name = "mlp", .n_hidden = 1, .hidden = {128}};
    assert_true(train_mnist("mlp", &mlp, 600, 0.1) > 0.85);
    bg_model_cfg_t cnn = {.name = "cnn"};
    assert_true(train_mnist("cnn", &cnn, 400, 0.1) > 0.85);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_conv),
        cmocka_unit_test(test_layer_conv_chunked),
        cmocka_unit_test(test_layer_pool),
        cmocka_unit_test(test_layer_fc),
        cmocka_unit_test(test_layer_softmax_ce),
        cmocka_unit_test(test_grad_mlp),
        cmocka_unit_test(test_grad_cnn),
        cmocka_unit_test(test_grad_lenet5),
        cmocka_unit_test(test_blocks_and_evaluate),
        cmocka_unit_test(test_layout_and_init),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_train_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
