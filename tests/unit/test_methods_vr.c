/* Byz-VR-MARINA, Byz-DASHA-PAGE, RoSDHB and Byz-EF21-BC: shared coins and masks agree everywhere, the server
 * states follow their recursions against slow references, and the degenerate cases reduce to gradient descent. */
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

#include <gsl/gsl_randist.h>

#include "synth_data.h"

static int write_data(void **state)
{
    (void)state;
    return synth_write(11, 0.3);
}

static void base_config(bg_config_t *c, const char *method)
{
    synth_config(c);
    snprintf(c->method.name, sizeof c->method.name, "%s", method);
    snprintf(c->comp.name, sizeof c->comp.name, "identity");
    snprintf(c->pre, sizeof c->pre, "none");
    snprintf(c->agg, sizeof c->agg, "mean");
    c->rounds = 25;
    c->eval_every = 25;
    c->n = 4;
    c->f = 0;
    c->method.batch = 4;
    c->method.lr = 0.5;
}

/* Slow reference: x <- x - lr * grad f(x) over the whole training set, gradients computed directly. */
static float *reference_gd(const bg_config_t *c, size_t *d_out)
{
    bg_dataset_t ds;
    bg_model_t m;
    bg_err_t err;
    assert_int_equal(bg_dataset_load_libsvm(c->train_path, 0, &ds, &err), 0);
    bg_dataset_normalize_rows(&ds);
    assert_int_equal(bg_model_init(&c->model, ds.d, ds.n_classes, &m, &err), 0);
    const size_t d = m.dim;
    float *x = calloc(d, sizeof(float)), *g = calloc(d, sizeof(float));
    size_t *idx = malloc(ds.n * sizeof(size_t));
    for (size_t i = 0; i < ds.n; i++)
        idx[i] = i;
    gsl_rng *irng = bg_rng_stream(c->seed, BG_RNG_INIT, 0);
    bg_model_init_params(&m, irng, x);
    gsl_rng_free(irng);
    for (size_t t = 0; t < c->rounds; t++) {
        m.ops->loss_grad(&m, x, ds.X, ds.y, idx, ds.n, g);
        for (size_t k = 0; k < d; k++)
            x[k] -= (float)c->method.lr * g[k];
    }
    free(g);
    free(idx);
    bg_model_destroy(&m);
    bg_dataset_destroy(&ds);
    *d_out = d;
    return x;
}

static void assert_close(const float *a, const float *b, size_t d, double rel)
{
    double diff = 0, norm = 0;
    for (size_t k = 0; k < d; k++) {
        diff += fabs((double)a[k] - b[k]);
        norm += fabs((double)b[k]);
    }
    assert_true(norm > 1e-3);
    if (!(diff <= rel * norm))
        fail_msg("relative L1 difference %g > %g", diff / norm, rel);
}

/* ---- MARINA --------------------------------------------------------------------------------------------- */

typedef struct {
    size_t n, rounds;
    double full;           /* flops of one full local gradient */
    int dense[64][8];      /* per round, per worker: a full-gradient round */
} coin_log_t;

static int log_round(const bg_round_cost_t *c, void *ud)
{
    coin_log_t *l = ud;
    for (size_t i = 0; i < l->n; i++)
        l->dense[c->round][i] = c->worker_flops[i] >= l->full;
    l->rounds = c->round + 1;
    return 0;
}

/* Full-gradient rounds (told apart by their cost: 100 samples against 2 * 4) happen on the same rounds on every
 * worker, round 0 is one, and the server draws the same coin: with a previous aggregate of all ones, the
 * server-side vector of a zero message is 0 on coin 1 and the ones on coin 0. */
static void test_marina_coin_shared(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c, "byz-vr-marina");
    c.method.p = 0.3;
    c.rounds = 40;
    bg_engine_t *e = make_engine(&c);
    coin_log_t l = {.n = c.n, .full = 100.0 * bg_engine_flops_per_sample(e)};
    bg_err_t err;
    assert_int_equal(bg_driver_run(e, NULL, log_round, &l, &err), 0);
    const size_t d = bg_engine_dim(e);
    bg_engine_free(e);
    assert_int_equal(l.rounds, 40);
    assert_true(l.dense[0][0]);
    size_t n_dense = 0;
    for (size_t t = 0; t < l.rounds; t++) {
        for (size_t i = 1; i < l.n; i++)
            assert_int_equal(l.dense[t][i], l.dense[t][0]);
        n_dense += (size_t)l.dense[t][0];
    }
    assert_true(n_dense > 3 && n_dense < 30);   /* p = 0.3 of 39 rounds, plus round 0 */

    const bg_method_ops_t *m = bg_method_find("byz-vr-marina");
    assert_non_null(m);
    bg_method_cfg_t cfg = {.lr = 0.1, .p = 0.3};
    void *srv;
    assert_int_equal(m->server_new(&cfg, c.n, d, &srv), 0);
    float *ones = malloc(d * sizeof(float)), *x = calloc(d, sizeof(float)), *view = malloc(d * sizeof(float));
    for (size_t k = 0; k < d; k++)
        ones[k] = 1.0f;
    m->server_step(&cfg, srv, ones, x, d);
    bg_msg_t zero;
    assert_int_equal(bg_msg_init(&zero, d), 0);
    gsl_rng *shared = bg_rng_stream(c.seed, BG_RNG_SHARED, 0);
    for (size_t t = 0; t < l.rounds; t++) {
        bg_rng_reseed(shared, c.seed, BG_RNG_SHARED, t);
        m->server_begin_round(srv, t, shared);
        m->server_view(srv, 0, &zero, view);
        assert_true(view[0] == (l.dense[t][0] ? 0.0f : 1.0f));
    }
    gsl_rng_free(shared);
    bg_msg_destroy(&zero);
    free(ones);
    free(x);
    free(view);
    m->server_free(srv);
}

/* With p = 1 and identity every round sends exact full local gradients: MARINA is gradient descent on the mean
 * of equal shards, i.e. on the whole training set. DASHA-PAGE with identity (a = 1) and p = 1 too. */
static void test_marina_dasha_p1_equal_gd(void **state)
{
    (void)state;
    bg_config_t c;
    size_t d, dr;
    base_config(&c, "byz-vr-marina");
    c.method.p = 1.0;
    float *ref = reference_gd(&c, &dr);
    float *x = run_to_end(&c, &d);
    assert_int_equal(d, dr);
    assert_close(x, ref, d, 1e-5);
    free(x);
    snprintf(c.method.name, sizeof c.method.name, "byz-dasha-page");
    x = run_to_end(&c, &d);
    assert_close(x, ref, d, 1e-5);
    free(x);
    /* p < 1: the minibatch rounds change the path, so the test can tell the difference */
    snprintf(c.method.name, sizeof c.method.name, "byz-vr-marina");
    c.method.p = 0.2;
    x = run_to_end(&c, &d);
    double diff = 0;
    for (size_t k = 0; k < d; k++)
        diff += fabs((double)x[k] - ref[k]);
    assert_true(diff > 1e-4);
    free(x);
    free(ref);
}

/* ---- DASHA-PAGE ---------------------------------------------------------------------------------------- */

/* A worker context of our own on the whole dataset, so a second copy with the same seeds draws the same
 * minibatches for the slow reference. */
typedef struct {
    bg_dataset_t ds;
    bg_model_t model;
    bg_shard_t shard;
    bg_sampler_t sampler;
    gsl_rng *rng, *crng, *shared;
    size_t batch_idx[8];
    float scratch[64];
    bg_worker_ctx_t ctx;
} fake_worker_t;

static void fake_worker_init(fake_worker_t *f, const bg_compressor_t *comp)
{
    bg_err_t err;
    bg_model_cfg_t mc = {.name = "logreg", .lambda = 0.001, .reg = BG_REG_L2};
    assert_int_equal(bg_dataset_load_libsvm(g_train, 0, &f->ds, &err), 0);
    assert_int_equal(bg_model_init(&mc, f->ds.d, f->ds.n_classes, &f->model, &err), 0);
    f->shard.n = 50;
    f->shard.idx = malloc(50 * sizeof(size_t));
    for (size_t i = 0; i < 50; i++)
        f->shard.idx[i] = 3 * i;
    f->rng = bg_rng_stream(5, BG_RNG_WORKER, 0);
    f->crng = bg_rng_stream(5, BG_RNG_COMPRESS, 0);
    f->shared = bg_rng_stream(5, BG_RNG_SHARED, 0);
    assert_int_equal(bg_sampler_init(&f->sampler, &f->shard, f->rng), 0);
    f->ctx = (bg_worker_ctx_t){.model = &f->model, .ds = &f->ds, .labels = f->ds.y, .shard = &f->shard,
                               .sampler = &f->sampler, .rng = f->rng, .crng = f->crng, .shared = f->shared,
                               .comp = comp, .batch_idx = f->batch_idx, .scratch = f->scratch};
}

static void fake_worker_free(fake_worker_t *f)
{
    bg_sampler_destroy(&f->sampler);
    gsl_rng_free(f->rng);
    gsl_rng_free(f->crng);
    gsl_rng_free(f->shared);
    free(f->shard.idx);
    bg_model_destroy(&f->model);
    bg_dataset_destroy(&f->ds);
}

/* A rand-k of our own (the tree's randk may not exist yet): k = 3 of 10 from the worker's own stream, scaled by
 * d/k, so omega = d/k - 1 and DASHA's a = 1 / (2 omega + 1) is not 1. */
static int test_randk_compress(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out)
{
    size_t chosen[10], all[10];
    for (size_t i = 0; i < c->d; i++)
        all[i] = i;
    gsl_ran_choose(r->own, chosen, c->k, all, c->d, sizeof(size_t));
    out->kind = BG_MSG_SPARSE;
    out->nnz = c->k;
    for (size_t i = 0; i < c->k; i++) {
        out->idx[i] = (uint32_t)chosen[i];
        out->val[i] = (float)((double)c->d / (double)c->k) * x[chosen[i]];
    }
    out->bytes = bg_msg_bytes_sparse(c->d, c->k);
    return BG_OK;
}

static double test_randk_flops(const bg_compressor_t *c) { return (double)c->d; }

static const bg_compressor_ops_t test_randk_ops = {
    .name = "test-randk", .biased = 0, .compress = test_randk_compress, .flops = test_randk_flops};

/* The server's g_i after every collect equals the worker's g, recomputed by a slow reference of the [R]
 * recursion (h, g, PAGE coin from the shared stream, a = 1 / (2 omega + 1)) on the same minibatches and the same
 * compressor draws. */
static void test_dasha_mirror(void **state)
{
    (void)state;
    bg_compressor_t comp = {.ops = &test_randk_ops, .d = 10, .k = 3, .omega = 10.0 / 3.0 - 1.0};
    fake_worker_t a, b;
    fake_worker_init(&a, &comp);
    fake_worker_init(&b, &comp);
    const size_t d = a.model.dim;
    assert_int_equal(d, 10);
    const bg_method_ops_t *m = bg_method_find("byz-dasha-page");
    assert_non_null(m);
    assert_true(m->needs_unbiased);
    bg_method_cfg_t cfg = {.lr = 0.3, .p = 0.25, .batch = 4, .comp = &comp};
    void *wst, *srv;
    assert_int_equal(m->worker_new(&cfg, d, &wst), 0);
    assert_int_equal(m->server_new(&cfg, 2, d, &srv), 0);
    bg_msg_t msg, c;
    assert_int_equal(bg_msg_init(&msg, d), 0);
    assert_int_equal(bg_msg_init(&c, d), 0);
    float x[10] = {0}, xp[10], h[10], g[10], hn[10], s1[10], s2[10], tv[10], view[10];
    const float alpha = (float)(1.0 / (2.0 * comp.omega + 1.0));
    int n_coin = 0;
    for (size_t t = 0; t < 30; t++) {
        bg_rng_reseed(a.shared, 5, BG_RNG_SHARED, t);
        bg_rng_reseed(b.shared, 5, BG_RNG_SHARED, t);
        assert_int_equal(m->worker_round(&cfg, wst, &a.ctx, t, x, &msg), 0);
        assert_int_equal(msg.nnz, t == 0 ? d : 3);   /* round 0: g^0 dense */
        m->server_collect(srv, 1, &msg, view);
        /* reference */
        int coin = gsl_rng_uniform(b.shared) < cfg.p;
        if (t == 0) {
            bg_worker_full_grad(&b.ctx, x, h);
            memcpy(g, h, sizeof g);
        } else {
            n_coin += coin;
            if (coin) {
                bg_worker_full_grad(&b.ctx, x, hn);
            } else {
                bg_worker_stoch_grad2(&b.ctx, x, xp, cfg.batch, s1, s2);
                for (size_t k = 0; k < d; k++)
                    hn[k] = h[k] + s1[k] - s2[k];
            }
            for (size_t k = 0; k < d; k++)
                tv[k] = hn[k] - h[k] - alpha * (g[k] - h[k]);
            bg_comp_rngs_t rr = {b.crng, b.shared};
            assert_int_equal(comp.ops->compress(&comp, tv, &rr, &c), 0);
            bg_msg_add_to(&c, 1.0f, g);
            memcpy(h, hn, sizeof h);
        }
        for (size_t k = 0; k < d; k++)
            assert_true(fabsf(view[k] - g[k]) <= 1e-5f * (1 + fabsf(g[k])));
        memcpy(xp, x, sizeof x);
        for (size_t k = 0; k < d; k++)
            x[k] -= (float)cfg.lr * view[k];
    }
    assert_true(n_coin > 0 && n_coin < 29);
    bg_msg_destroy(&msg);
    bg_msg_destroy(&c);
    m->worker_free(wst);
    m->server_free(srv);
    fake_worker_free(&a);
    fake_worker_free(&b);
}

/* MARINA against a slow reference, one worker with rand-3 of 10: the coin from the shared stream (worker and
 * server), dense full gradients on coin 1, g^{t-1} + C(minibatch difference) on coin 0 with the same minibatch
 * at x^t and x^{t-1}, and the server's g kept from the previous aggregate. */
static void test_marina_reference(void **state)
{
    (void)state;
    bg_compressor_t comp = {.ops = &test_randk_ops, .d = 10, .k = 3, .omega = 10.0 / 3.0 - 1.0};
    fake_worker_t a, b;
    fake_worker_init(&a, &comp);
    fake_worker_init(&b, &comp);
    const size_t d = a.model.dim;
    const bg_method_ops_t *m = bg_method_find("byz-vr-marina");
    assert_non_null(m);
    assert_true(m->needs_unbiased);
    bg_method_cfg_t cfg = {.lr = 0.3, .p = 0.3, .batch = 4, .comp = &comp};
    void *wst, *srv;
    assert_int_equal(m->worker_new(&cfg, d, &wst), 0);
    assert_int_equal(m->server_new(&cfg, 1, d, &srv), 0);
    gsl_rng *sshared = bg_rng_stream(5, BG_RNG_SHARED, 0);
    bg_msg_t msg, c;
    assert_int_equal(bg_msg_init(&msg, d), 0);
    assert_int_equal(bg_msg_init(&c, d), 0);
    float x[10] = {0}, xr[10] = {0}, xp[10], g[10], s1[10], s2[10], tv[10], view[10];
    int n_dense = 0;
    for (size_t t = 0; t < 30; t++) {
        bg_rng_reseed(a.shared, 5, BG_RNG_SHARED, t);
        bg_rng_reseed(b.shared, 5, BG_RNG_SHARED, t);
        bg_rng_reseed(sshared, 5, BG_RNG_SHARED, t);
        assert_int_equal(m->worker_round(&cfg, wst, &a.ctx, t, x, &msg), 0);
        m->server_begin_round(srv, t, sshared);
        m->server_collect(srv, 0, &msg, view);
        m->server_step(&cfg, srv, view, x, d);
        /* reference */
        int coin = gsl_rng_uniform(b.shared) < cfg.p || t == 0;
        n_dense += coin;
        assert_int_equal(msg.kind == BG_MSG_DENSE, coin);
        if (coin) {
            bg_worker_full_grad(&b.ctx, xr, g);
        } else {
            bg_worker_stoch_grad2(&b.ctx, xr, xp, cfg.batch, s1, s2);
            for (size_t k = 0; k < d; k++)
                tv[k] = s1[k] - s2[k];
            bg_comp_rngs_t rr = {b.crng, b.shared};
            assert_int_equal(comp.ops->compress(&comp, tv, &rr, &c), 0);
            bg_msg_add_to(&c, 1.0f, g);
        }
        memcpy(xp, xr, sizeof xr);
        for (size_t k = 0; k < d; k++) {
            assert_true(fabsf(view[k] - g[k]) <= 1e-5f * (1 + fabsf(g[k])));
            xr[k] -= (float)cfg.lr * g[k];
            assert_true(fabsf(x[k] - xr[k]) <= 1e-5f * (1 + fabsf(xr[k])));
        }
    }
    assert_true(n_dense > 1 && n_dense < 25);
    gsl_rng_free(sshared);
    bg_msg_destroy(&msg);
    bg_msg_destroy(&c);
    m->worker_free(wst);
    m->server_free(srv);
    fake_worker_free(&a);
    fake_worker_free(&b);
}

/* ---- RoSDHB ---------------------------------------------------------------------------------------------- */

/* Every honest message of a round carries the same k indices (the shared mask) and costs header + 4k bytes;
 * masks change between rounds. */
static void test_rosdhb_shared_mask(void **state)
{
    (void)state;
    bg_config_t c;
    base_config(&c, "rosdhb");
    snprintf(c.comp.name, sizeof c.comp.name, "topk");
    c.comp.k = 3;
    bg_engine_t *e = make_engine(&c);
    const size_t d = bg_engine_dim(e);
    uint32_t first[3], prev[3] = {0, 0, 0};
    int changed = 0;
    for (size_t t = 0; t < 10; t++) {
        const bg_msg_t *down, *msg;
        double fl;
        assert_int_equal(bg_engine_broadcast(e, &down, &fl, NULL), 0);
        for (size_t i = 0; i < c.n; i++) {
            assert_int_equal(bg_engine_worker_round(e, i, down, &msg, &fl, NULL), 0);
            assert_int_equal(msg->kind, BG_MSG_SPARSE);
            assert_int_equal(msg->nnz, 3);
            assert_true(msg->bytes == BG_MSG_HEADER_BYTES + 4.0 * 3);
            for (size_t k = 0; k < 3; k++) {
                assert_true(msg->idx[k] < d);
                if (k)
                    assert_true(msg->idx[k] > msg->idx[k - 1]);
            }
            if (i == 0)
                memcpy(first, msg->idx, sizeof first);
            else
                assert_memory_equal(first, msg->idx, sizeof first);
        }
        changed |= memcmp(first, prev, sizeof first) != 0 && t > 0;
        memcpy(prev, first, sizeof first);
        assert_int_equal(bg_engine_server_round(e, &fl, NULL), 0);
    }
    assert_true(changed);
    bg_engine_free(e);
}

/* m_i <- beta m_i + (1 - beta) decode(msg), per worker, against a slow reference on random sparse messages. */
static void test_rosdhb_momentum(void **state)
{
    (void)state;
    const bg_method_ops_t *m = bg_method_find("rosdhb");
    assert_non_null(m);
    bg_method_cfg_t cfg = {.lr = 0.1, .server_beta = 0.9};
    enum { D = 12, N = 3 };
    void *srv;
    assert_int_equal(m->server_new(&cfg, N, D, &srv), 0);
    bg_method_cfg_t bad = cfg;
    bad.server_beta = 1.0;
    void *srv2 = NULL;
    assert_int_equal(m->server_new(&bad, N, D, &srv2), BG_EINVAL);
    bg_msg_t msg;
    assert_int_equal(bg_msg_init(&msg, D), 0);
    double ref[N][D] = {{0}};
    float view[D], peek[D];
    gsl_rng *r = bg_rng_stream(9, 1, 0);
    for (int t = 0; t < 20; t++)
        for (size_t i = 0; i < N; i++) {
            msg.kind = BG_MSG_SPARSE;
            msg.nnz = 0;
            for (uint32_t k = 0; k < D; k++)
                if (gsl_rng_uniform(r) < 0.3) {
                    msg.idx[msg.nnz] = k;
                    msg.val[msg.nnz++] = (float)(gsl_rng_uniform(r) * 4 - 2);
                }
            double dense[D] = {0};
            for (size_t q = 0; q < msg.nnz; q++)
                dense[msg.idx[q]] = msg.val[q];
            for (size_t k = 0; k < D; k++)
                ref[i][k] = 0.9 * ref[i][k] + 0.1 * dense[k];
            m->server_view(srv, i, &msg, peek);
            m->server_collect(srv, i, &msg, view);
            assert_memory_equal(peek, view, sizeof view);
            for (size_t k = 0; k < D; k++)
                assert_true(fabs(view[k] - ref[i][k]) <= 1e-5);
        }
    gsl_rng_free(r);
    bg_msg_destroy(&msg);
    m->server_free(srv);
}

/* ---- EF21-BC --------------------------------------------------------------------------------------------- */

/* The worker's model copy is the sum of the broadcasts, and every broadcast is C_down(x - w) with w that same
 * sum: so the server's w and the workers' copies stay equal. Top-2 downlink (deterministic, biased). */
static void test_ef21bc_downlink_mirror(void **state)
{
    (void)state;
    enum { D = 10 };
    bg_err_t err;
    bg_comp_cfg_t cc;
    bg_comp_cfg_default(&cc);
    snprintf(cc.name, sizeof cc.name, "topk");
    cc.k = 2;
    bg_compressor_t down;
    assert_int_equal(bg_compressor_init(&cc, D, NULL, 0, &down, &err), 0);
    const bg_method_ops_t *m = bg_method_find("byz-ef21-bc");
    assert_non_null(m);
    assert_true(m->worker_models);
    bg_method_cfg_t cfg = {.lr = 0.1, .down_comp = &down};
    void *srv, *w1, *w2;
    assert_int_equal(m->server_new(&cfg, 2, D, &srv), 0);
    assert_int_equal(m->worker_new(&cfg, D, &w1), 0);
    assert_int_equal(m->worker_new(&cfg, D, &w2), 0);
    bg_msg_t b, expect;
    assert_int_equal(bg_msg_init(&b, D), 0);
    assert_int_equal(bg_msg_init(&expect, D), 0);
    float x[D], model1[D], model2[D], w[D] = {0}, diff[D], dec[D], dex[D];
    for (size_t k = 0; k < D; k++)
        model1[k] = model2[k] = 5.0f;   /* whatever the engine put there: the first receive starts from 0 */
    gsl_rng *r = bg_rng_stream(4, 1, 0), *shared = bg_rng_stream(4, BG_RNG_SHARED, 0);
    for (size_t k = 0; k < D; k++)
        x[k] = (float)(gsl_rng_uniform(r) * 2 - 1);
    for (int t = 0; t < 15; t++) {
        for (size_t k = 0; k < D; k++)
            x[k] += (float)(0.1 * (gsl_rng_uniform(r) - 0.5));
        double fl = 0;
        assert_int_equal(m->server_broadcast(&cfg, srv, x, shared, &b, &fl), 0);
        assert_true(fl > 0);
        assert_true(b.bytes == bg_msg_bytes_sparse(D, 2));
        for (size_t k = 0; k < D; k++)
            diff[k] = x[k] - w[k];
        bg_comp_rngs_t rr = {NULL, NULL};
        assert_int_equal(down.ops->compress(&down, diff, &rr, &expect), 0);
        bg_msg_decode(&b, dec);
        bg_msg_decode(&expect, dex);
        assert_memory_equal(dec, dex, sizeof dec);
        bg_msg_add_to(&b, 1.0f, w);
        m->worker_receive(&cfg, w1, &b, model1);
        m->worker_receive(&cfg, w2, &b, model2);
        assert_memory_equal(model1, w, sizeof w);
        assert_memory_equal(model2, w, sizeof w);
    }
    /* EF21 contracts: w tracks the slowly moving x */
    double e2 = 0, x2 = 0;
    for (size_t k = 0; k < D; k++) {
        e2 += (x[k] - w[k]) * (x[k] - w[k]);
        x2 += x[k] * x[k];
    }
    assert_true(e2 < 0.5 * x2);
    gsl_rng_free(r);
    gsl_rng_free(shared);
    bg_msg_destroy(&b);
    bg_msg_destroy(&expect);
    m->worker_free(w1);
    m->worker_free(w2);
    m->server_free(srv);
    bg_compressor_destroy(&down);
}

/* Identity on both links: workers hold x exactly (up to rounding), EF21 sends the exact full gradient, so the
 * run is gradient descent; and it equals byz-ef21 when that method is registered. */
static void test_ef21bc_identity_equals_gd(void **state)
{
    (void)state;
    bg_config_t c;
    size_t d, dr;
    base_config(&c, "byz-ef21-bc");
    float *ref = reference_gd(&c, &dr);
    float *x = run_to_end(&c, &d);
    assert_int_equal(d, dr);
    assert_close(x, ref, d, 1e-5);
    if (bg_method_find("byz-ef21")) {
        bg_config_t c2 = c;
        snprintf(c2.method.name, sizeof c2.method.name, "byz-ef21");
        float *x2 = run_to_end(&c2, &d);
        assert_close(x, x2, d, 1e-5);
        free(x2);
    }
    /* a Top-2 downlink changes the path (the test can fail) but still learns */
    snprintf(c.down_comp.name, sizeof c.down_comp.name, "topk");
    c.down_comp.k = 2;
    float *x3 = run_to_end(&c, &d);
    double diff = 0;
    for (size_t k = 0; k < d; k++)
        diff += fabs((double)x3[k] - ref[k]);
    assert_true(diff > 1e-4);
    free(x3);
    free(x);
    free(ref);
}

/* ---- inverses -------------------------------------------------------------------------------------------- */

/* For every method, collecting the inverse message puts worker j's server-side vector at the target, from a
 * non-trivial state (after a few collects and steps; MARINA on both coin values). */
static void test_inverses(void **state)
{
    (void)state;
    enum { D = 10, N = 3 };
    const char *names[] = {"byz-vr-marina", "byz-dasha-page", "rosdhb", "byz-ef21-bc"};
    gsl_rng *r = bg_rng_stream(21, 1, 0), *shared = bg_rng_stream(21, BG_RNG_SHARED, 0);
    bg_msg_t msg, inv;
    assert_int_equal(bg_msg_init(&msg, D), 0);
    assert_int_equal(bg_msg_init(&inv, D), 0);
    for (size_t q = 0; q < 4; q++) {
        const bg_method_ops_t *m = bg_method_find(names[q]);
        assert_non_null(m);
        bg_method_cfg_t cfg = {.lr = 0.1, .p = 0.5, .server_beta = 0.9};
        void *srv;
        assert_int_equal(m->server_new(&cfg, N, D, &srv), 0);
        float v[D], target[D], view[D], agg[D], x[D] = {0};
        int seen[2] = {0, 0};
        for (size_t t = 0; t < 12; t++) {
            if (m->server_begin_round) {
                bg_rng_reseed(shared, 21, BG_RNG_SHARED, t);
                m->server_begin_round(srv, t, shared);
            }
            for (size_t k = 0; k < D; k++) {
                v[k] = (float)(gsl_rng_uniform(r) - 0.5);
                target[k] = (float)(4 * gsl_rng_uniform(r) - 2);
                agg[k] = (float)(gsl_rng_uniform(r) - 0.5);
            }
            bg_msg_set_dense(&msg, v);
            m->server_collect(srv, 0, &msg, view);
            m->server_inverse(srv, 2, target, &inv);
            assert_int_equal(inv.kind, BG_MSG_DENSE);
            m->server_view(srv, 2, &inv, view);
            for (size_t k = 0; k < D; k++)
                assert_true(fabsf(view[k] - target[k]) <= 1e-5f * (1 + fabsf(target[k])));
            m->server_collect(srv, 2, &inv, view);
            for (size_t k = 0; k < D; k++)
                assert_true(fabsf(view[k] - target[k]) <= 1e-5f * (1 + fabsf(target[k])));
            /* MARINA: coin 1 iff the view of a zero message is 0 while the previous aggregate is not */
            bg_msg_t zero;
            assert_int_equal(bg_msg_init(&zero, D), 0);
            m->server_view(srv, 1, &zero, view);
            if (t > 0)
                seen[view[0] == 0.0f] = 1;
            bg_msg_destroy(&zero);
            m->server_step(&cfg, srv, agg, x, D);
        }
        if (q == 0)
            assert_true(seen[0] && seen[1]);
        m->server_free(srv);
    }
    gsl_rng_free(r);
    gsl_rng_free(shared);
    bg_msg_destroy(&msg);
    bg_msg_destroy(&inv);
}

/* The variance-reduced methods refuse a biased uplink compressor. */
static void test_needs_unbiased(void **state)
{
    (void)state;
    bg_config_t c;
    bg_engine_t *e;
    bg_err_t err;
    base_config(&c, "byz-vr-marina");
    snprintf(c.comp.name, sizeof c.comp.name, "topk");
    c.comp.k = 2;
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_EINVAL);
    assert_string_equal(err.key, "compressor.name");
    snprintf(c.method.name, sizeof c.method.name, "byz-dasha-page");
    assert_int_equal(bg_engine_new(&c, &e, &err), BG_EINVAL);
    snprintf(c.method.name, sizeof c.method.name, "rosdhb");
    assert_int_equal(bg_engine_new(&c, &e, &err), 0);
    bg_engine_free(e);
}

typedef struct {
    double first, last;
    int seen;
} loss_log_t;

static int log_loss(const bg_metrics_t *m, void *ud)
{
    loss_log_t *l = ud;
    if (!l->seen++)
        l->first = m->train_loss;
    l->last = m->train_loss;
    return 0;
}

/* Every method learns with the tree's own compressors (rand-2 scaled for the unbiased ones, top-2 otherwise, a
 * top-3 downlink for EF21-BC) under NNM + coordinate median. */
static void test_all_learn(void **state)
{
    (void)state;
    const char *names[] = {"byz-vr-marina", "byz-dasha-page", "rosdhb", "byz-ef21-bc"};
    for (size_t q = 0; q < 4; q++) {
        bg_config_t c;
        base_config(&c, names[q]);
        snprintf(c.comp.name, sizeof c.comp.name, q < 2 && bg_compressor_find("randk") ? "randk" : "topk");
        c.comp.k = 2;
        snprintf(c.down_comp.name, sizeof c.down_comp.name, "topk");
        c.down_comp.k = 3;
        snprintf(c.pre, sizeof c.pre, "nnm");
        snprintf(c.agg, sizeof c.agg, "cm");
        c.method.p = 0.2;
        c.method.lr = q == 2 ? 0.5 : 0.2;
        c.rounds = 150;
        c.eval_every = 150;
        if (q < 2 && !bg_compressor_find("randk"))
            continue;   /* needs an unbiased sparse compressor */
        bg_engine_t *e = make_engine(&c);
        loss_log_t l = {0};
        bg_err_t err;
        assert_int_equal(bg_driver_run(e, log_loss, NULL, &l, &err), 0);
        bg_engine_free(e);
        print_message("%s: train loss %.4f -> %.4f after %zu rounds\n", names[q], l.first, l.last, c.rounds);
        if (!(l.last < l.first - 0.05))
            fail_msg("%s: train loss %g -> %g", names[q], l.first, l.last);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marina_coin_shared),
        cmocka_unit_test(test_marina_dasha_p1_equal_gd),
        cmocka_unit_test(test_dasha_mirror),
        cmocka_unit_test(test_marina_reference),
        cmocka_unit_test(test_rosdhb_shared_mask),
        cmocka_unit_test(test_rosdhb_momentum),
        cmocka_unit_test(test_ef21bc_downlink_mirror),
        cmocka_unit_test(test_ef21bc_identity_equals_gd),
        cmocka_unit_test(test_inverses),
        cmocka_unit_test(test_needs_unbiased),
        cmocka_unit_test(test_all_learn),
    };
    return cmocka_run_group_tests(tests, write_data, synth_remove);
}
