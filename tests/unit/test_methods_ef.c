/* The EF21 family and its baselines (method_ef.c) against slow obvious references of their recursions, driven
 * on the same minibatches through sibling engines, plus the server-half properties omniscient attacks rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bg_engine.h"

#include "synth_data.h"

static int write_data(void **state)
{
    (void)state;
    return synth_write(11, 0.3);
}

#define N_TRAIN 400

static void base_config(bg_config_t *c, const char *method)
{
    synth_config(c);
    snprintf(c->method.name, sizeof c->method.name, "%s", method);
    c->rounds = 30;
    c->eval_every = 10;
    c->n = 1;
    c->f = 0;
    c->method.batch = 4;
    c->method.lr = 0.5;
    c->method.eta = 0.3;
    snprintf(c->pre, sizeof c->pre, "none");
    snprintf(c->agg, sizeof c->agg, "mean");
}

/* A sibling engine running plain SGD with the identity compressor and the same seed: its worker 0 draws the same
 * minibatches, so its message is the raw gradient the method under test saw. */
static bg_engine_t *raw_engine(const bg_config_t *c, size_t batch)
{
    bg_config_t r = *c;
    snprintf(r.method.name, sizeof r.method.name, "sgd");
    snprintf(r.comp.name, sizeof r.comp.name, "identity");
    r.comp.k = 0;
    r.method.batch = batch;
    return make_engine(&r);
}

/* Worker 0's message of engine e at model x, decoded into out. */
static void worker_at(bg_engine_t *e, const float *x, float *out, double *flops)
{
    const size_t d = bg_engine_dim(e);
    bg_msg_t xm;
    assert_int_equal(bg_msg_init(&xm, d), 0);
    bg_msg_set_dense(&xm, x);
    const bg_msg_t *msg;
    double fl;
    assert_int_equal(bg_engine_worker_round(e, 0, &xm, &msg, &fl, NULL), 0);
    bg_msg_decode(msg, out);
    if (flops)
        *flops = fl;
    bg_msg_destroy(&xm);
}

/* Top-k by magnitude, the obvious way: k passes, each taking the largest remaining |x_i| (lowest index on ties). */
static void ref_topk(const float *x, size_t d, size_t k, float *out)
{
    char *taken = calloc(d, 1);
    memset(out, 0, d * sizeof(float));
    for (size_t r = 0; r < k; r++) {
        size_t best = d;
        for (size_t i = 0; i < d; i++)
            if (!taken[i] && (best == d || fabsf(x[i]) > fabsf(x[best])))
                best = i;
        taken[best] = 1;
        out[best] = x[best];
    }
    free(taken);
}

/* rand-k comes with the compressor rewrite; until it is registered the tests that need it skip (or fall back to
 * the identity, which is also unbiased) rather than fail on a missing component. */
static int have_randk(void) { return bg_compressor_find("randk") != NULL; }

static int close_vec(const float *a, const float *b, size_t d, float tol)
{
    for (size_t k = 0; k < d; k++)
        if (!(fabsf(a[k] - b[k]) <= tol * (1.0f + fabsf(b[k]))))
            return 0;
    return 1;
}

enum { M_SGDM, M_EF21, M_DM21, M_VRDM21 };

/* EF21 family against its reference recursion with Top-k (k = 3): the message equals C(target - g) of the
 * reference, and the server's vector -- recovered from the step, x^t - x^{t+1} = lr * g_0 with one worker and the
 * mean -- equals the worker's reference g after every round (the EF21 mirror). */
static void check_ef_family(const char *name, int which, bg_init_t init)
{
    bg_config_t c;
    base_config(&c, name);
    c.comp.k = 3;
    c.method.init = init;
    bg_engine_t *e = make_engine(&c);
    const size_t d = bg_engine_dim(e), k = 3;
    bg_engine_t *r = raw_engine(&c, which == M_EF21 ? N_TRAIN : c.method.batch);
    bg_engine_t *r2 = which == M_VRDM21 ? raw_engine(&c, c.method.batch) : NULL;
    const float eta = (float)c.method.eta, beta = 1.0f - eta, lr = (float)c.method.lr;
    const float sc = init == BG_INIT_SCALED ? eta : 1.0f;
    float *x = malloc(d * sizeof(float)), *xprev = calloc(d, sizeof(float));
    float *s = malloc(d * sizeof(float)), *sp = malloc(d * sizeof(float));
    float *u = calloc(d, sizeof(float)), *w = calloc(d, sizeof(float)), *g = calloc(d, sizeof(float));
    float *tgt = malloc(d * sizeof(float)), *diff = malloc(d * sizeof(float)), *cref = malloc(d * sizeof(float));
    float *msg = malloc(d * sizeof(float)), *view = malloc(d * sizeof(float)), *expect = malloc(d * sizeof(float));
    double moved = 0;
    for (int t = 0; t < 12; t++) {
        memcpy(x, bg_engine_model(e), d * sizeof(float));
        double fl;
        worker_at(r, x, s, NULL);
        if (r2)
            worker_at(r2, t ? xprev : x, sp, NULL);   /* the same minibatch at x^{t-1} */
        const bg_msg_t *m;
        bg_msg_t xm;
        assert_int_equal(bg_msg_init(&xm, d), 0);
        bg_msg_set_dense(&xm, x);
        assert_int_equal(bg_engine_worker_round(e, 0, &xm, &m, &fl, NULL), 0);
        bg_msg_destroy(&xm);
        assert_true(fl > 0);
        if (which == M_EF21)
            assert_true(fl >= N_TRAIN * bg_engine_flops_per_sample(e));   /* full local gradient */
        bg_msg_decode(m, msg);
        const int first = t == 0;
        for (size_t i = 0; i < d; i++) {
            switch (which) {
            case M_SGDM:
                u[i] = first ? sc * s[i] : beta * u[i] + eta * s[i];
                tgt[i] = u[i];
                break;
            case M_EF21:
                tgt[i] = s[i];
                break;
            case M_DM21:
                u[i] = first ? sc * s[i] : beta * u[i] + eta * s[i];
                w[i] = first ? sc * u[i] : beta * w[i] + eta * u[i];
                tgt[i] = w[i];
                break;
            default:
                u[i] = first ? sc * s[i] : s[i] + beta * (u[i] - sp[i]);
                w[i] = first ? sc * u[i] : beta * w[i] + eta * u[i];
                tgt[i] = w[i];
            }
        }
        if (first && init == BG_INIT_SIDE_CHANNEL) {
            memcpy(g, tgt, d * sizeof(float));
            assert_true(close_vec(msg, g, d, 1e-5f));      /* the primed state rides along... */
            assert_true(m->bytes == BG_MSG_HEADER_BYTES);   /* ...billed as an empty message */
            memset(expect, 0, d * sizeof(float));
        } else if (first && init == BG_INIT_SCALED) {
            ref_topk(tgt, d, k, g);
            assert_true(close_vec(msg, g, d, 1e-5f));
            assert_true(m->bytes == BG_MSG_HEADER_BYTES);
            memset(expect, 0, d * sizeof(float));
        } else {
            for (size_t i = 0; i < d; i++)
                diff[i] = tgt[i] - g[i];
            ref_topk(diff, d, k, cref);
            assert_true(close_vec(msg, cref, d, 1e-5f));
            assert_true(m->nnz == k);
            for (size_t i = 0; i < d; i++)
                g[i] += cref[i];
            memcpy(expect, g, d * sizeof(float));
        }
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
        const float *xn = bg_engine_model(e);
        for (size_t i = 0; i < d; i++) {
            view[i] = (x[i] - xn[i]) / lr;
            moved += fabs((double)view[i]);
        }
        assert_true(close_vec(view, expect, d, 2e-4f));
        memcpy(xprev, x, d * sizeof(float));
    }
    assert_true(moved > 1e-3);
    free(x);
    free(xprev);
    free(s);
    free(sp);
    free(u);
    free(w);
    free(g);
    free(tgt);
    free(diff);
    free(cref);
    free(msg);
    free(view);
    free(expect);
    bg_engine_free(e);
    bg_engine_free(r);
    if (r2)
        bg_engine_free(r2);
}

static void test_ef21_sgdm_reference(void **state)
{
    (void)state;
    check_ef_family("byz-ef21-sgdm", M_SGDM, BG_INIT_CLEAN);
    check_ef_family("byz-ef21-sgdm", M_SGDM, BG_INIT_SIDE_CHANNEL);
    check_ef_family("byz-ef21-sgdm", M_SGDM, BG_INIT_SCALED);
}

static void test_byz_ef21_reference(void **state)
{
    (void)state;
    check_ef_family("byz-ef21", M_EF21, BG_INIT_CLEAN);
    check_ef_family("byz-ef21", M_EF21, BG_INIT_SIDE_CHANNEL);
}

static void test_dm21_reference(void **state)
{
    (void)state;
    check_ef_family("byz-dm21", M_DM21, BG_INIT_CLEAN);
    check_ef_family("byz-dm21", M_DM21, BG_INIT_SCALED);
}

static void test_vr_dm21_reference(void **state)
{
    (void)state;
    check_ef_family("byz-vr-dm21", M_VRDM21, BG_INIT_CLEAN);
    check_ef_family("byz-vr-dm21", M_VRDM21, BG_INIT_SIDE_CHANNEL);
}

/* EF-SGD with Top-3: c = topk(s + e), e = s + e - c; the error identity e + sent = u holds every round, and over
 * the run the sent messages plus the final error add up to the sum of the gradients. */
static void test_ef_sgd_reference(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c, "ef-sgd");
    c.comp.k = 3;
    bg_engine_t *e = make_engine(&c), *r = raw_engine(&c, c.method.batch);
    const size_t d = bg_engine_dim(e);
    const float lr = (float)c.method.lr;
    float *x = malloc(d * sizeof(float)), *s = malloc(d * sizeof(float)), *msg = malloc(d * sizeof(float));
    float *err = calloc(d, sizeof(float)), *u = malloc(d * sizeof(float)), *cref = malloc(d * sizeof(float));
    double *sum_s = calloc(d, sizeof(double)), *sum_c = calloc(d, sizeof(double));
    for (int t = 0; t < 15; t++) {
        memcpy(x, bg_engine_model(e), d * sizeof(float));
        worker_at(r, x, s, NULL);
        worker_at(e, x, msg, NULL);
        for (size_t i = 0; i < d; i++)
            u[i] = s[i] + err[i];
        ref_topk(u, d, 3, cref);
        assert_true(close_vec(msg, cref, d, 1e-5f));
        for (size_t i = 0; i < d; i++) {
            err[i] = u[i] - msg[i];
            assert_true(fabsf(err[i] + msg[i] - u[i]) <= 1e-6f * (1 + fabsf(u[i])));
            sum_s[i] += s[i];
            sum_c[i] += msg[i];
        }
        double fl;
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
        for (size_t i = 0; i < d; i++)   /* the server adds the message once (no [S] doubling) */
            assert_true(fabsf((x[i] - bg_engine_model(e)[i]) / lr - msg[i]) <= 2e-4f * (1 + fabsf(msg[i])));
    }
    for (size_t i = 0; i < d; i++)
        assert_true(fabs(sum_c[i] + err[i] - sum_s[i]) <= 1e-4 * (1 + fabs(sum_s[i])));
    free(x);
    free(s);
    free(msg);
    free(err);
    free(u);
    free(cref);
    free(sum_s);
    free(sum_c);
    bg_engine_free(e);
    bg_engine_free(r);
}

/* SGD / BR-CSGD send C(s): with the identity, exactly the raw minibatch gradient. */
static void test_sgd_and_csgd_send_gradient(void **state)
{
    (void)state;
    const char *names[] = {"sgd", "br-csgd"};
    for (int n = 0; n < 2; n++) {
        bg_config_t c;
        base_config(&c, names[n]);
        snprintf(c.comp.name, sizeof c.comp.name, "identity");
        bg_engine_t *e = make_engine(&c), *r = raw_engine(&c, c.method.batch);
        const size_t d = bg_engine_dim(e);
        float *x = malloc(d * sizeof(float)), *s = malloc(d * sizeof(float)), *msg = malloc(d * sizeof(float));
        for (int t = 0; t < 5; t++) {
            memcpy(x, bg_engine_model(e), d * sizeof(float));
            worker_at(r, x, s, NULL);
            worker_at(e, x, msg, NULL);
            assert_memory_equal(s, msg, d * sizeof(float));
            double fl;
            assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
        }
        free(x);
        free(s);
        free(msg);
        bg_engine_free(e);
        bg_engine_free(r);
    }
}

/* BR-DIANA with the identity and alpha = 0.3: c = s - h, h += 0.3 c, and the server vector h + c is s. */
static void test_diana_reference(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c, "br-diana");
    snprintf(c.comp.name, sizeof c.comp.name, "identity");
    c.method.alpha = 0.3;
    bg_engine_t *e = make_engine(&c), *r = raw_engine(&c, c.method.batch);
    const size_t d = bg_engine_dim(e);
    const float lr = (float)c.method.lr;
    float *x = malloc(d * sizeof(float)), *s = malloc(d * sizeof(float)), *msg = malloc(d * sizeof(float));
    float *h = calloc(d, sizeof(float));
    for (int t = 0; t < 10; t++) {
        memcpy(x, bg_engine_model(e), d * sizeof(float));
        worker_at(r, x, s, NULL);
        worker_at(e, x, msg, NULL);
        for (size_t i = 0; i < d; i++) {
            assert_true(fabsf(msg[i] - (s[i] - h[i])) <= 1e-5f * (1 + fabsf(s[i])));
            h[i] += 0.3f * msg[i];
        }
        double fl;
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
        for (size_t i = 0; i < d; i++)
            assert_true(fabsf((x[i] - bg_engine_model(e)[i]) / lr - s[i]) <= 2e-4f * (1 + fabsf(s[i])));
    }
    free(x);
    free(s);
    free(msg);
    free(h);
    bg_engine_free(e);
    bg_engine_free(r);
}

/* DIANA's shift learns the gradient: at a fixed x with full-batch gradients and rand-3 (scaled, unbiased),
 * alpha = 1/(omega + 1) gives E|h - grad|^2 a contraction of 1 - alpha per round, so h -> grad f_i(x). */
static void test_diana_shift_converges(void **state)
{
    (void)state;
    if (!have_randk())
        skip();
    bg_config_t c;
    base_config(&c, "br-diana");
    snprintf(c.comp.name, sizeof c.comp.name, "randk");
    c.comp.k = 3;
    c.comp.scaled = 1;
    c.method.batch = N_TRAIN;
    bg_engine_t *e = make_engine(&c), *r = raw_engine(&c, N_TRAIN);
    const size_t d = bg_engine_dim(e);
    const float alpha = 3.0f / (float)d;   /* omega = d/k - 1 */
    float *x = malloc(d * sizeof(float)), *grad = malloc(d * sizeof(float)), *msg = malloc(d * sizeof(float));
    float *h = calloc(d, sizeof(float));
    memcpy(x, bg_engine_model(e), d * sizeof(float));
    for (size_t i = 0; i < d; i++)
        x[i] += 0.3f * (float)((int)(i % 3) - 1);   /* away from 0 so the gradient is not tiny */
    worker_at(r, x, grad, NULL);
    double gn = 0, dist = 0;
    for (size_t i = 0; i < d; i++)
        gn += (double)grad[i] * grad[i];
    assert_true(gn > 1e-6);
    for (int t = 0; t < 300; t++) {
        worker_at(e, x, msg, NULL);
        for (size_t i = 0; i < d; i++)
            h[i] += alpha * msg[i];
        if (t == 0) {   /* one step is far from converged: the test can fail */
            dist = 0;
            for (size_t i = 0; i < d; i++)
                dist += ((double)h[i] - grad[i]) * ((double)h[i] - grad[i]);
            assert_true(dist > 1e-2 * gn);
        }
    }
    dist = 0;
    for (size_t i = 0; i < d; i++)
        dist += ((double)h[i] - grad[i]) * ((double)h[i] - grad[i]);
    assert_true(dist <= 1e-8 * gn);
    free(x);
    free(grad);
    free(msg);
    free(h);
    bg_engine_free(e);
    bg_engine_free(r);
}

static const char *const all_methods[] = {"byz-ef21-sgdm", "mom-sgd", "sgd", "br-csgd", "br-diana",
                                          "ef-sgd", "byz-ef21", "byz-dm21", "byz-vr-dm21"};
#define N_METHODS (sizeof all_methods / sizeof all_methods[0])

static int is_ef21_family(const char *name)
{
    return !strcmp(name, "byz-ef21-sgdm") || !strcmp(name, "byz-ef21") || !strcmp(name, "byz-dm21") ||
           !strcmp(name, "byz-vr-dm21");
}

static void random_msg(gsl_rng *r, bg_msg_t *m, size_t d)
{
    float v[16];
    for (size_t k = 0; k < d; k++)
        v[k] = (float)(gsl_rng_uniform(r) * 2 - 1);
    bg_msg_set_dense(m, v);
}

/* For every method (and both Byzantine-state modes of the EF21 family): after some rounds of arbitrary messages,
 * the inverse message puts rank j's server-side vector exactly at the target, and view agrees with collect. */
static void test_inverse_every_method(void **state)
{
    (void)state;
    const size_t d = 6, n = 4;
    gsl_rng *r = bg_rng_stream(5, 1, 0);
    bg_msg_t m, inv;
    assert_int_equal(bg_msg_init(&m, d), 0);
    assert_int_equal(bg_msg_init(&inv, d), 0);
    for (size_t mi = 0; mi < N_METHODS; mi++) {
        const bg_method_ops_t *ops = bg_method_find(all_methods[mi]);
        assert_non_null(ops);
        for (int mode = 0; mode < (is_ef21_family(all_methods[mi]) ? 2 : 1); mode++) {
            bg_method_cfg_t cfg = {.lr = 0.1, .eta = 0.5, .batch = 1, .alpha = 0.25, .n = n, .n_honest = 3,
                                   .byz_state = mode ? BG_BYZ_STATE_LAST_HONEST : BG_BYZ_STATE_OWN};
            void *srv;
            assert_int_equal(ops->server_new(&cfg, n, d, &srv), 0);
            float x[6] = {0}, agg[6] = {0}, view[6], peek[6], target[6];
            for (int t = 0; t < 4; t++) {
                for (size_t j = 0; j < n; j++) {
                    if (j == n - 1) {   /* the Byzantine rank hits a target */
                        for (size_t k = 0; k < d; k++)
                            target[k] = (float)(5 * gsl_rng_uniform(r) - 2);
                        ops->server_inverse(srv, j, target, &inv);
                        ops->server_view(srv, j, &inv, peek);
                        ops->server_collect(srv, j, &inv, view);
                        for (size_t k = 0; k < d; k++) {
                            assert_true(fabsf(view[k] - target[k]) <= 1e-5f);
                            assert_true(peek[k] == view[k]);
                        }
                    } else {
                        random_msg(r, &m, d);
                        ops->server_view(srv, j, &m, peek);
                        ops->server_collect(srv, j, &m, view);
                        assert_memory_equal(peek, view, sizeof view);
                    }
                }
                ops->server_step(&cfg, srv, agg, x, d);
            }
            ops->server_free(srv);
        }
    }
    bg_msg_destroy(&m);
    bg_msg_destroy(&inv);
    gsl_rng_free(r);
}

/* byz_state = LAST_HONEST ([S]): with n = 3 and n_honest = 2, a Byzantine message lands on the pre-update state
 * of honest rank 1, never changes it, and the server keeps nothing for rank 2. OWN keeps rank 2's own state. */
static void test_byz_state_last_honest(void **state)
{
    (void)state;
    const size_t d = 4, n = 3;
    for (int mi = 0; mi < 4; mi++) {
        const char *name = (const char *[]){"byz-ef21-sgdm", "byz-ef21", "byz-dm21", "byz-vr-dm21"}[mi];
        const bg_method_ops_t *ops = bg_method_find(name);
        assert_non_null(ops);
        bg_method_cfg_t cfg = {.lr = 1.0, .eta = 0.5, .batch = 1, .n = n, .n_honest = 2,
                               .byz_state = BG_BYZ_STATE_LAST_HONEST};
        void *srv;
        assert_int_equal(ops->server_new(&cfg, n, d, &srv), 0);
        bg_msg_t m0, m1, mb, zero;
        bg_msg_init(&m0, d);
        bg_msg_init(&m1, d);
        bg_msg_init(&mb, d);
        bg_msg_init(&zero, d);
        float a0[4] = {1, 2, 3, 4}, a1[4] = {10, 20, 30, 40}, b[4] = {-5, 0.5f, 7, 1}, v[4], x[4] = {0};
        float g1[4] = {0};   /* honest rank 1's state, by hand */
        bg_msg_set_dense(&m0, a0);
        bg_msg_set_dense(&m1, a1);
        bg_msg_set_dense(&mb, b);
        for (int t = 0; t < 3; t++) {
            ops->server_view(srv, 2, &mb, v);   /* before rank 1 is collected: its current state */
            for (size_t k = 0; k < d; k++)
                assert_true(v[k] == g1[k] + b[k]);
            ops->server_collect(srv, 0, &m0, v);
            ops->server_collect(srv, 1, &m1, v);
            for (size_t k = 0; k < d; k++)
                assert_true(v[k] == g1[k] + a1[k]);
            ops->server_collect(srv, 2, &mb, v);   /* after: still the pre-update state */
            for (size_t k = 0; k < d; k++)
                assert_true(v[k] == g1[k] + b[k]);
            for (size_t k = 0; k < d; k++)
                g1[k] += a1[k];
            ops->server_view(srv, 1, &zero, v);   /* the Byzantine message did not touch rank 1 */
            for (size_t k = 0; k < d; k++)
                assert_true(v[k] == g1[k]);
            ops->server_step(&cfg, srv, v, x, d);
        }
        ops->server_free(srv);
        /* OWN: rank 2 accumulates its own messages. */
        cfg.byz_state = BG_BYZ_STATE_OWN;
        assert_int_equal(ops->server_new(&cfg, n, d, &srv), 0);
        for (int t = 0; t < 3; t++) {
            ops->server_collect(srv, 1, &m1, v);
            ops->server_collect(srv, 2, &mb, v);
            for (size_t k = 0; k < d; k++)
                assert_true(fabsf(v[k] - (float)(t + 1) * b[k]) <= 1e-6f);
            ops->server_step(&cfg, srv, v, x, d);
        }
        ops->server_free(srv);
        bg_msg_destroy(&m0);
        bg_msg_destroy(&m1);
        bg_msg_destroy(&mb);
        bg_msg_destroy(&zero);
    }
}

/* Through the engine, IPM with the identity, the mean and no pre-aggregation. OWN: every Byzantine server-side
 * vector lands on the target -eps * mean(honest vectors), so x^{t+1} = x^t - lr (sum honest + f target) / n.
 * LAST_HONEST (the reference code): the attack acts on the honest increments, m = -eps * mean(increments), and
 * lands on the last honest worker's previous state: x^{t+1} = x^t - lr (sum honest + f (g_last^t + m)) / n. */
static void test_last_honest_engine_ipm(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        bg_config_t c;
        base_config(&c, "byz-ef21-sgdm");
        c.n = 5;
        c.f = 2;
        c.method.byz_state = mode ? BG_BYZ_STATE_LAST_HONEST : BG_BYZ_STATE_OWN;
        snprintf(c.comp.name, sizeof c.comp.name, "identity");
        snprintf(c.attack.name, sizeof c.attack.name, "ipm");
        c.attack.eps = 0.5;
        bg_engine_t *e = make_engine(&c);
        const size_t d = bg_engine_dim(e), nh = 3;
        float *hsum = calloc(d, sizeof(float)), *x = malloc(d * sizeof(float));
        float *g = calloc(nh * d, sizeof(float)), *isum = calloc(d, sizeof(float)), *glast = calloc(d, sizeof(float));
        bg_msg_t xm;
        assert_int_equal(bg_msg_init(&xm, d), 0);
        for (int t = 0; t < 4; t++) {
            memcpy(x, bg_engine_model(e), d * sizeof(float));
            bg_msg_set_dense(&xm, x);
            memset(hsum, 0, d * sizeof(float));
            memset(isum, 0, d * sizeof(float));
            memcpy(glast, g + (nh - 1) * d, d * sizeof(float));
            const bg_msg_t *m;
            double fl;
            for (size_t i = 0; i < nh; i++) {
                assert_int_equal(bg_engine_worker_round(e, i, &xm, &m, &fl, NULL), 0);
                bg_msg_add_to(m, 1.0f, g + i * d);
                bg_msg_add_to(m, 1.0f, isum);
                for (size_t k = 0; k < d; k++)
                    hsum[k] += g[i * d + k];
            }
            for (size_t j = nh; j < c.n; j++)
                assert_int_equal(bg_engine_byz_round(e, j, &m, &fl, NULL), 0);
            assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
            for (size_t k = 0; k < d; k++) {
                const float target = mode ? glast[k] - 0.5f * isum[k] / (float)nh : -0.5f * hsum[k] / (float)nh;
                const float expect = x[k] - (float)c.method.lr * (hsum[k] + 2.0f * target) / 5.0f;
                assert_true(fabsf(bg_engine_model(e)[k] - expect) <= 1e-5f * (1 + fabsf(expect)));
            }
        }
        bg_msg_destroy(&xm);
        free(hsum);
        free(x);
        free(g);
        free(isum);
        free(glast);
        bg_engine_free(e);
    }
}

/* Methods that need an unbiased compressor refuse Top-k at creation (key compressor.name), accept rand-k. */
static void test_needs_unbiased(void **state)
{
    (void)state;
    const char *names[] = {"br-csgd", "br-diana"};
    for (int i = 0; i < 2; i++) {
        const bg_method_ops_t *ops = bg_method_find(names[i]);
        assert_non_null(ops);
        assert_int_equal(ops->needs_unbiased, 1);
        bg_config_t c;
        base_config(&c, names[i]);
        c.comp.k = 3;
        bg_engine_t *e;
        bg_err_t err;
        assert_int_equal(bg_engine_new(&c, &e, &err), BG_EINVAL);
        assert_string_equal(err.key, "compressor.name");
        snprintf(c.comp.name, sizeof c.comp.name, have_randk() ? "randk" : "identity");
        c.comp.scaled = 1;
        e = make_engine(&c);
        bg_engine_free(e);
    }
    for (size_t i = 0; i < N_METHODS; i++) {   /* the others take Top-k */
        const bg_method_ops_t *ops = bg_method_find(all_methods[i]);
        if (!strcmp(all_methods[i], "br-csgd") || !strcmp(all_methods[i], "br-diana"))
            continue;
        assert_int_equal(ops->needs_unbiased, 0);
    }
    /* DIANA without alpha needs the compressor's omega. */
    bg_method_cfg_t cfg = {.lr = 0.1, .eta = 0.5, .batch = 1};
    void *st;
    assert_int_equal(bg_method_find("br-diana")->worker_new(&cfg, 4, &st), BG_EINVAL);
    assert_int_equal(bg_method_find("br-diana")->server_new(&cfg, 2, 4, &st), BG_EINVAL);
}

/* Every method runs a whole run through the driver with sensible components and moves the model. */
static void test_every_method_runs(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_METHODS; i++) {
        bg_config_t c;
        base_config(&c, all_methods[i]);
        c.n = 4;
        c.comp.k = 3;
        if (!strcmp(all_methods[i], "br-csgd") || !strcmp(all_methods[i], "br-diana")) {
            snprintf(c.comp.name, sizeof c.comp.name, have_randk() ? "randk" : "identity");
            c.comp.scaled = 1;
        }
        bg_engine_t *e = make_engine(&c);
        const size_t d = bg_engine_dim(e);
        float *x0 = malloc(d * sizeof(float));
        memcpy(x0, bg_engine_model(e), d * sizeof(float));
        bg_err_t err;
        assert_int_equal(bg_driver_run(e, NULL, NULL, NULL, &err), 0);
        double moved = 0;
        for (size_t k = 0; k < d; k++) {
            assert_true(isfinite(bg_engine_model(e)[k]));
            moved += fabs((double)bg_engine_model(e)[k] - x0[k]);
        }
        assert_true(moved > 1e-3);
        free(x0);
        bg_engine_free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ef21_sgdm_reference),
        cmocka_unit_test(test_byz_ef21_reference),
        cmocka_unit_test(test_dm21_reference),
        cmocka_unit_test(test_vr_dm21_reference),
        cmocka_unit_test(test_ef_sgd_reference),
        cmocka_unit_test(test_sgd_and_csgd_send_gradient),
        cmocka_unit_test(test_diana_reference),
        cmocka_unit_test(test_diana_shift_converges),
        cmocka_unit_test(test_inverse_every_method),
        cmocka_unit_test(test_byz_state_last_honest),
        cmocka_unit_test(test_last_honest_engine_ipm),
        cmocka_unit_test(test_needs_unbiased),
        cmocka_unit_test(test_every_method_runs),
    };
    return cmocka_run_group_tests(tests, write_data, synth_remove);
}
