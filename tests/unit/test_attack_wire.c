/* attack.wire: a crafting attacker's message is the exact dense inverse (dense) or that inverse compressed like an
 * honest message (conform). Through the engine with Byz-EF21-SGDM, Top-k and IPM: dense messages put the
 * attacker's server-side vector on the target every round; conform messages have the honest messages' nnz and
 * bytes, equal C(target - g_j), and contract g_j towards the round's target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_config.h"
#include "bg_engine.h"

#include "synth_data.h"

static int write_data(void **state)
{
    (void)state;
    return synth_write(23, 0.3);
}

enum { N = 5, F = 2, NH = N - F, K = 3 };

static void wire_config(bg_config_t *c, int wire)
{
    synth_config(c);
    snprintf(c->method.name, sizeof c->method.name, "byz-ef21-sgdm");
    snprintf(c->comp.name, sizeof c->comp.name, "topk");
    c->comp.k = K;
    snprintf(c->attack.name, sizeof c->attack.name, "ipm");
    c->attack.eps = 0.5;
    snprintf(c->pre, sizeof c->pre, "none");
    snprintf(c->agg, sizeof c->agg, "mean");
    c->n = N;
    c->f = F;
    c->rounds = 20;
    c->method.batch = 8;
    c->method.lr = 0.5;
    c->attack_wire = wire;
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

static double dist2(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return s;
}

/* Rounds of the engine, tracking by hand what the server keeps (clean EF21: g_i = the sum of i's messages) and the
 * IPM target -eps * mean(g_i + c_i) over the honest workers. */
static void run_wire(int wire)
{
    bg_config_t c;
    wire_config(&c, wire);
    bg_engine_t *e = make_engine(&c);
    const size_t d = bg_engine_dim(e);
    assert_true(K < d);
    float *g = calloc(N * d, sizeof(float)), *target = malloc(d * sizeof(float)), *want = malloc(d * sizeof(float));
    float *diff = malloc(d * sizeof(float)), *dec = malloc(d * sizeof(float));
    bg_msg_t xm;
    assert_int_equal(bg_msg_init(&xm, d), 0);
    double shrink = 0;   /* sum over rounds and attackers of the distance removed */
    for (size_t t = 0; t < c.rounds; t++) {
        bg_msg_set_dense(&xm, bg_engine_model(e));
        const bg_msg_t *m;
        double fl, honest_bytes = -1;
        size_t honest_nnz = 0;
        for (size_t i = 0; i < NH; i++) {
            assert_int_equal(bg_engine_worker_round(e, i, &xm, &m, &fl, NULL), 0);
            bg_msg_add_to(m, 1.0f, g + i * d);
            honest_nnz = m->nnz;
            honest_bytes = m->bytes;
            assert_int_equal(honest_nnz, K);
        }
        for (size_t k = 0; k < d; k++) {
            float s = 0;
            for (size_t i = 0; i < NH; i++)
                s += g[i * d + k];
            target[k] = -0.5f * s / (float)NH;
        }
        for (size_t j = NH; j < N; j++) {
            float *gj = g + j * d;
            const double before = dist2(gj, target, d);
            assert_int_equal(bg_engine_byz_round(e, j, &m, &fl, NULL), 0);
            bg_msg_decode(m, dec);
            if (wire == BG_WIRE_DENSE) {
                assert_int_equal(m->nnz, d);
                assert_true(m->bytes == bg_msg_bytes_dense(d));
                assert_true(m->bytes > honest_bytes);
                assert_true(bg_engine_byz_msg_bytes(e, NULL) == m->bytes);
                bg_msg_add_to(m, 1.0f, gj);
                double tn = 0;
                for (size_t k = 0; k < d; k++)
                    tn += (double)target[k] * target[k];
                assert_true(dist2(gj, target, d) <= 1e-10 * (1 + tn + before));
            } else {
                /* The honest format and size, and the EF21 step C(target - g_j). */
                assert_int_equal(m->nnz, honest_nnz);
                assert_int_equal(m->kind, BG_MSG_SPARSE);
                assert_true(m->bytes == honest_bytes);
                assert_true(bg_engine_byz_msg_bytes(e, NULL) == honest_bytes);
                for (size_t k = 0; k < d; k++)
                    diff[k] = target[k] - gj[k];
                ref_topk(diff, d, K, want);
                for (size_t k = 0; k < d; k++)
                    assert_true(fabsf(dec[k] - want[k]) <= 1e-6f * (1 + fabsf(want[k])));
                bg_msg_add_to(m, 1.0f, gj);
                /* Top-k contraction: |g' - T|^2 <= (1 - k/d) |g - T|^2 for the round's target T. */
                const double after = dist2(gj, target, d);
                assert_true(after <= (1.0 - (double)K / (double)d) * before * (1 + 1e-5) + 1e-12);
                shrink += before - after;
            }
        }
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
    }
    if (wire == BG_WIRE_CONFORM)
        assert_true(shrink > 0);
    bg_msg_destroy(&xm);
    free(g);
    free(target);
    free(want);
    free(diff);
    free(dec);
    bg_engine_free(e);
}

static void test_dense(void **state)
{
    (void)state;
    run_wire(BG_WIRE_DENSE);
}

static void test_conform(void **state)
{
    (void)state;
    run_wire(BG_WIRE_CONFORM);
}

/* A fixed target: the method's inverse followed by the uplink compressor (the two calls a conform attacker makes)
 * drive the EF21 server's g_j to the target geometrically, whereas one dense inverse lands on it at once. */
static void test_fixed_target_contraction(void **state)
{
    (void)state;
    const size_t d = 40, n = 2, j = 1;
    const bg_method_ops_t *ops = bg_method_find("byz-ef21-sgdm");
    bg_comp_cfg_t cc;
    bg_comp_cfg_default(&cc);
    snprintf(cc.name, sizeof cc.name, "topk");
    cc.k = 4;
    bg_compressor_t comp;
    bg_err_t err;
    assert_int_equal(bg_compressor_init(&cc, d, NULL, 0, &comp, &err), 0);
    bg_method_cfg_t mc = {.lr = 0.1, .eta = 0.5, .batch = 1, .n = n, .n_honest = 1, .comp = &comp};
    void *srv;
    assert_int_equal(ops->server_new(&mc, n, d, &srv), 0);
    gsl_rng *r = bg_rng_stream(3, 1, 0);
    float target[40], view[40], x[40] = {0};
    for (size_t k = 0; k < d; k++)
        target[k] = (float)(4 * gsl_rng_uniform(r) - 2);
    bg_msg_t inv, out;
    assert_int_equal(bg_msg_init(&inv, d), 0);
    assert_int_equal(bg_msg_init(&out, d), 0);
    bg_comp_rngs_t rr = {r, r};
    double prev = 0;
    for (size_t k = 0; k < d; k++)
        prev += (double)target[k] * target[k];
    const double first = prev;
    for (int t = 0; t < 60; t++) {
        ops->server_inverse(srv, j, target, &inv);
        float dense[40];
        bg_msg_decode(&inv, dense);
        assert_int_equal(comp.ops->compress(&comp, dense, &rr, &out), 0);
        assert_int_equal(out.nnz, 4);
        ops->server_collect(srv, j, &out, view);
        const double now = dist2(view, target, d);
        assert_true(now <= (1.0 - 4.0 / 40.0) * prev * (1 + 1e-5) + 1e-12);
        prev = now;
        ops->server_step(&mc, srv, view, x, d);
    }
    assert_true(prev < 1e-4 * first);
    ops->server_free(srv);
    bg_msg_destroy(&inv);
    bg_msg_destroy(&out);
    bg_compressor_destroy(&comp);
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_conform),
        cmocka_unit_test(test_fixed_target_contraction),
    };
    return cmocka_run_group_tests(tests, write_data, synth_remove);
}
