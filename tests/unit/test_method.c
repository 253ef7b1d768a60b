/* Methods and the engine: EF21's worker and server states mirror each other, an attacker's inverse puts its
 * server-side vector exactly at the target, momentum follows its recursion, and with identity compression and
 * the mean Byz-EF21-SGDM follows the same trajectory as momentum SGD. */
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
    return synth_write(7, 0.0);
}

static void base_config(bg_config_t *c)
{
    synth_config(c);
    c->rounds = 30;
    c->eval_every = 10;
    c->n = 5;
    c->f = 0;
    c->method.batch = 4;
    c->method.lr = 0.5;
    c->method.eta = 0.3;
}

static void test_ef21_identity_mean_equals_momentum_sgd(void **state)
{
    (void)state;
    bg_config_t a, b;
    base_config(&a);
    snprintf(a.comp.name, sizeof a.comp.name, "identity");
    snprintf(a.pre, sizeof a.pre, "none");
    snprintf(a.agg, sizeof a.agg, "mean");
    b = a;
    snprintf(b.method.name, sizeof b.method.name, "mom-sgd");
    size_t d;
    float *xa = run_to_end(&a, &d), *xb = run_to_end(&b, &d);
    double diff = 0, norm = 0;
    for (size_t k = 0; k < d; k++) {
        diff += fabs((double)xa[k] - xb[k]);
        norm += fabs((double)xb[k]);
    }
    assert_true(norm > 1e-3);            /* the model moved */
    assert_true(diff <= 1e-5 * norm);    /* ...along the same path */
    free(xa);
    free(xb);
}

/* Worker and server states of EF21 must stay mirrored: the server's g_i after collecting worker i's messages
 * equals the worker's own g, which is the momentum's running estimate. Checked through views: with Top-k the
 * server view of each honest worker converges to its momentum. */
static void test_ef21_server_mirror_and_inverse(void **state)
{
    (void)state;
    const bg_method_ops_t *m = bg_method_find("byz-ef21-sgdm");
    assert_non_null(m);
    bg_method_cfg_t cfg = {.lr = 0.1, .eta = 0.5, .batch = 1};
    const size_t d = 8, n = 3;
    void *srv;
    assert_int_equal(m->server_new(&cfg, n, d, &srv), 0);
    bg_msg_t msg;
    assert_int_equal(bg_msg_init(&msg, d), 0);
    float g_worker[8] = {0}, view[8], target[8];
    gsl_rng *r = bg_rng_stream(3, 1, 0);
    for (int t = 0; t < 20; t++) {
        float c[8];
        for (size_t k = 0; k < d; k++)
            c[k] = (float)(gsl_rng_uniform(r) - 0.5);
        bg_msg_set_dense(&msg, c);
        for (size_t k = 0; k < d; k++)
            g_worker[k] += c[k];
        float peek[8];
        m->server_view(srv, 1, &msg, peek);
        m->server_collect(srv, 1, &msg, view);
        assert_memory_equal(peek, view, sizeof view);   /* view does not change state; collect does */
        for (size_t k = 0; k < d; k++)
            assert_true(fabsf(view[k] - g_worker[k]) <= 1e-5f);
    }
    /* inverse: the message that puts worker 2's server vector at target */
    for (size_t k = 0; k < d; k++)
        target[k] = (float)(10.0 * gsl_rng_uniform(r));
    bg_msg_t inv;
    assert_int_equal(bg_msg_init(&inv, d), 0);
    m->server_collect(srv, 2, &msg, view);   /* give worker 2 a non-zero state first */
    m->server_inverse(srv, 2, target, &inv);
    m->server_collect(srv, 2, &inv, view);
    for (size_t k = 0; k < d; k++)
        assert_true(fabsf(view[k] - target[k]) <= 1e-5f);
    bg_msg_destroy(&inv);
    bg_msg_destroy(&msg);
    gsl_rng_free(r);
    m->server_free(srv);
}

static void test_mom_sgd_inverse(void **state)
{
    (void)state;
    const bg_method_ops_t *m = bg_method_find("mom-sgd");
    assert_non_null(m);
    bg_method_cfg_t cfg = {.lr = 0.1, .eta = 0.5, .batch = 1};
    void *srv;
    assert_int_equal(m->server_new(&cfg, 2, 4, &srv), 0);
    bg_msg_t inv;
    assert_int_equal(bg_msg_init(&inv, 4), 0);
    float target[4] = {1, -2, 3, -4}, view[4];
    m->server_inverse(srv, 1, target, &inv);
    m->server_collect(srv, 1, &inv, view);
    assert_memory_equal(view, target, sizeof target);
    bg_msg_destroy(&inv);
    m->server_free(srv);
}

/* The momentum recursion: v_0 = s_0, v_t = (1 - eta) v_{t-1} + eta s_t, checked on mom-sgd's messages (identity
 * compressor) against gradients recomputed from the same minibatches. */
static void test_momentum_recursion(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c);
    c.n = 1;
    snprintf(c.method.name, sizeof c.method.name, "mom-sgd");
    snprintf(c.comp.name, sizeof c.comp.name, "identity");
    snprintf(c.pre, sizeof c.pre, "none");
    snprintf(c.agg, sizeof c.agg, "mean");
    bg_engine_t *e;
    bg_err_t err;
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    const size_t d = bg_engine_dim(e);
    /* A second engine with the same seed draws the same minibatches: use it to get raw gradients via eta = 1. */
    bg_config_t c1 = c;
    c1.method.eta = 1.0;
    bg_engine_t *e1;
    assert_int_equal(bg_engine_new(&c1, &e1, &err), 0);
    float *v = calloc(d, sizeof(float));
    for (int t = 0; t < 6; t++) {
        const bg_msg_t *msg, *raw, *down;
        double fl;
        /* both evaluate at the same x (the first engine's broadcast) */
        assert_int_equal(bg_engine_broadcast(e, &down, &fl, NULL), 0);
        assert_int_equal(bg_engine_worker_round(e, 0, down, &msg, &fl, NULL), 0);
        assert_int_equal(bg_engine_worker_round(e1, 0, down, &raw, &fl, NULL), 0);
        assert_true(fl > 0);
        for (size_t k = 0; k < d; k++) {
            v[k] = t == 0 ? raw->val[k] : (float)(1 - c.method.eta) * v[k] + (float)c.method.eta * raw->val[k];
            assert_true(fabsf(v[k] - msg->val[k]) <= 1e-6f * (1 + fabsf(v[k])));
        }
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
    }
    free(v);
    bg_engine_free(e);
    bg_engine_free(e1);
}

/* Cosine annealing: lr at the first round, lr * lr_min_ratio at the last, the mean of the two half-way, never
 * increasing; with lr_min_ratio = 1 the run is the constant-lr run bit for bit, with 0 it is not. */
static void test_lr_schedule(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c);
    c.rounds = 21;
    c.method.lr_schedule = 1;
    c.method.lr_min_ratio = 0.1;
    bg_engine_t *e;
    bg_err_t err;
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    assert_true(fabs(bg_engine_lr(e, 0) - 0.5) < 1e-15);
    assert_true(fabs(bg_engine_lr(e, 20) - 0.05) < 1e-15);
    assert_true(fabs(bg_engine_lr(e, 10) - 0.275) < 1e-12);
    for (size_t t = 1; t < 21; t++)
        assert_true(bg_engine_lr(e, t) <= bg_engine_lr(e, t - 1));
    bg_engine_free(e);

    size_t d;
    base_config(&c);
    float *x_const = run_to_end(&c, &d);
    c.method.lr_schedule = 1;
    c.method.lr_min_ratio = 1.0;
    float *x_one = run_to_end(&c, &d);
    assert_memory_equal(x_const, x_one, d * sizeof(float));
    c.method.lr_min_ratio = 0.0;
    float *x_cos = run_to_end(&c, &d);
    assert_memory_not_equal(x_const, x_cos, d * sizeof(float));
    free(x_const);
    free(x_one);
    free(x_cos);

    base_config(&c);
    c.method.lr_schedule = 2;
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_EINVAL);
    assert_string_equal(err.key, "method.lr_schedule");
    c.method.lr_schedule = 1;
    c.method.lr_min_ratio = 1.5;
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_EINVAL);
    assert_string_equal(err.key, "method.lr_min_ratio");
}

/* Bytes are the real encoding: Top-1 on d = 10 uplink is header + 4 + 1 per worker, downlink header + 4d. */
static void test_bytes_accounting(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c);
    c.comp.k = 1;
    c.rounds = 7;
    bg_engine_t *e;
    bg_err_t err;
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    assert_int_equal(bg_driver_run(e, NULL, NULL, NULL, &err), 0);
    bg_metrics_t m;
    bg_engine_evaluate(e, &m);
    assert_true(m.bytes_up == 7.0 * 5 * (BG_MSG_HEADER_BYTES + 4 + 1));
    assert_true(m.bytes_down == 7.0 * 5 * (BG_MSG_HEADER_BYTES + 4 * 10));
    bg_engine_free(e);
}

/* IPM with eps = 0.5 among n = 6 workers, the last f = 2 Byzantine, identity compression. */
static void ipm_config(bg_config_t *c)
{
    base_config(c);
    c->n = 6;
    c->f = 2;
    snprintf(c->attack.name, sizeof c->attack.name, "ipm");
    snprintf(c->comp.name, sizeof c->comp.name, "identity");
    c->attack.eps = 0.5;
}

/* Workers 0..3 answer the broadcast down; mean gets the mean of their messages. */
static void honest_mean(bg_engine_t *e, const bg_msg_t *down, size_t d, float *mean)
{
    const bg_msg_t *msg;
    double fl;
    memset(mean, 0, d * sizeof(float));
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(bg_engine_worker_round(e, i, down, &msg, &fl, NULL), 0);
        for (size_t k = 0; k < d; k++)
            mean[k] += msg->val[k] / 4.0f;
    }
}

/* Both attackers (4 and 5) send -eps * mean. */
static void assert_ipm_sent(bg_engine_t *e, const float *mean, size_t d)
{
    const bg_msg_t *msg;
    double fl;
    for (size_t j = 4; j < 6; j++) {
        assert_int_equal(bg_engine_byz_round(e, j, &msg, &fl, NULL), 0);
        for (size_t k = 0; k < d; k++)
            assert_true(fabsf(msg->val[k] + 0.5f * mean[k]) <= 1e-6f);
    }
}

/* An omniscient attack's vectors land exactly at the target: under IPM with mean aggregation and no
 * pre-aggregation, the aggregate is the convex mix of honest mean and -eps * honest mean. */
static void test_ipm_lands_on_target(void **state)
{
    (void)state;
    bg_config_t c;
    ipm_config(&c);
    snprintf(c.method.name, sizeof c.method.name, "mom-sgd");
    snprintf(c.pre, sizeof c.pre, "none");
    snprintf(c.agg, sizeof c.agg, "mean");
    bg_engine_t *e;
    bg_err_t err;
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    assert_true(bg_engine_attack_omniscient(e));
    const size_t d = bg_engine_dim(e);
    float *hmean = malloc(d * sizeof(float)), *x0 = malloc(d * sizeof(float));
    memcpy(x0, bg_engine_model(e), d * sizeof(float));
    const bg_msg_t *msg, *down;
    double fl;
    assert_int_equal(bg_engine_broadcast(e, &down, &fl, NULL), 0);
    honest_mean(e, down, d, hmean);
    assert_int_equal(bg_engine_worker_round(e, 4, down, &msg, &fl, NULL), BG_EINVAL);   /* attackers use byz_round */
    assert_ipm_sent(e, hmean, d);
    assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
    /* x1 = x0 - lr * (4 * hmean + 2 * (-0.5 hmean)) / 6 */
    for (size_t k = 0; k < d; k++) {
        float expect = x0[k] - (float)c.method.lr * (4.0f * hmean[k] - hmean[k]) / 6.0f;
        assert_true(fabsf(bg_engine_model(e)[k] - expect) <= 1e-5f);
    }
    free(hmean);
    free(x0);
    bg_engine_free(e);
}

/* The reference code's variant: with byz_state = last_honest an omniscient attack acts on the honest messages
 * (increments) and the attacker sends C(target) itself. IPM: -eps * mean of the decoded honest messages. */
static void test_ipm_on_increments_with_last_honest(void **state)
{
    (void)state;
    bg_config_t c;
    ipm_config(&c);
    c.method.byz_state = BG_BYZ_STATE_LAST_HONEST;
    bg_engine_t *e;
    bg_err_t err;
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    const size_t d = bg_engine_dim(e);
    float *mean = malloc(d * sizeof(float));
    const bg_msg_t *down;
    double fl;
    for (int t = 0; t < 3; t++) {
        assert_int_equal(bg_engine_broadcast(e, &down, &fl, NULL), 0);
        honest_mean(e, down, d, mean);
        assert_ipm_sent(e, mean, d);
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
    }
    free(mean);
    bg_engine_free(e);
}

static void test_config_errors(void **state)
{
    (void)state;
    bg_config_t c;
    bg_engine_t *e;
    bg_err_t err;
    base_config(&c);
    c.f = 5;
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.f");
    base_config(&c);
    c.method.eta = 0;
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_EINVAL);
    assert_string_equal(err.key, "method.eta");
    base_config(&c);
    c.comp.k = 11;   /* d = 10 */
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_ERANGE);
    assert_string_equal(err.key, "compressor.k");
    base_config(&c);
    c.n = 5;
    c.f = 2;         /* NNM + CM need f < n/2 = 2.5: ok */
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    bg_engine_free(e);
    c.n = 4;         /* f = 2 >= n/2 */
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.f");
    base_config(&c);
    snprintf(c.method.name, sizeof c.method.name, "nope");
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_ENOTFOUND);
    base_config(&c);
    snprintf(c.train_path, sizeof c.train_path, "/nonexistent/x");
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ef21_identity_mean_equals_momentum_sgd),
        cmocka_unit_test(test_ef21_server_mirror_and_inverse),
        cmocka_unit_test(test_mom_sgd_inverse),
        cmocka_unit_test(test_momentum_recursion),
        cmocka_unit_test(test_bytes_accounting),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_ipm_lands_on_target),
        cmocka_unit_test(test_ipm_on_increments_with_last_honest),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, write_data, synth_remove);
}
