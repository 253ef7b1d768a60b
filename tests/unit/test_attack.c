/* Unit tests for the attacks: every target against its defining identity (slow double references on random
 * honest vectors), the statistics of the random ones, determinism by stream seed, states, configuration errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "bg_attack.h"
#include "bg_config.h"

static bg_attack_cfg_t cfg_of(const char *name, double eps, double z)
{
    bg_attack_cfg_t c;
    bg_attack_cfg_default(&c);
    strcpy(c.name, name);
    c.eps = eps;
    c.z = z;
    return c;
}

static bg_attack_args_t args_of(const char *name, size_t n, size_t f)
{
    bg_attack_cfg_t c = cfg_of(name, 0.1, NAN);
    bg_attack_args_t a;
    bg_err_t err;
    assert_int_equal(bg_attack_args_init(&a, &c, n, f, &err), BG_OK);
    return a;
}

typedef struct {
    size_t nh, d;
    float *data;
    const float **rows;
    double *mu, *sd, *var;   /* per coordinate: mean, unbiased std, population variance */
} honest_t;

/* Honest vectors N(shift * l, spread^2) per coordinate l. */
static honest_t honest_make(gsl_rng *r, size_t nh, size_t d, double shift, double spread)
{
    honest_t h = {nh, d, malloc(nh * d * sizeof(float)), malloc(nh * sizeof(float *)), calloc(d, sizeof(double)),
                  calloc(d, sizeof(double)), calloc(d, sizeof(double))};
    for (size_t i = 0; i < nh; i++) {
        h.rows[i] = h.data + i * d;
        for (size_t l = 0; l < d; l++)
            h.data[i * d + l] = (float)(spread * gsl_ran_gaussian(r, 1.0) + shift * (double)l);
    }
    for (size_t l = 0; l < d; l++) {
        double s = 0.0, ss = 0.0;
        for (size_t i = 0; i < nh; i++)
            s += h.rows[i][l];
        h.mu[l] = s / (double)nh;
        for (size_t i = 0; i < nh; i++)
            ss += (h.rows[i][l] - h.mu[l]) * (h.rows[i][l] - h.mu[l]);
        h.sd[l] = nh > 1 ? sqrt(ss / (double)(nh - 1)) : 0.0;
        h.var[l] = ss / (double)nh;
    }
    return h;
}

static honest_t honest_new(gsl_rng *r, size_t nh, size_t d)
{
    return honest_make(r, nh, d, 0.3, 1.0);
}

static void honest_free(honest_t *h)
{
    free(h->data);
    free(h->rows);
    free(h->mu);
    free(h->sd);
    free(h->var);
}

static bg_attack_ctx_t ctx_of(const honest_t *h, gsl_rng *r, void *state, const float *prev, size_t round)
{
    bg_attack_ctx_t c = {.honest = h ? h->rows : NULL, .nh = h ? h->nh : 0, .d = h ? h->d : 0,
                         .prev_agg = prev, .own = NULL, .round = round, .rng = r, .state = state};
    return c;
}

static void test_alie_z(void **state)
{
    (void)state;
    assert_true(fabs(bg_attack_alie_z(20, 9) - 0.9085) < 1e-3);
    assert_true(fabs(bg_attack_alie_z(20, 8) - 0.6745) < 1e-3);
    /* Degenerate (n, f): finite, and no honest worker gives 0. */
    static const size_t cases[][2] = {{1, 0}, {2, 0}, {2, 1}, {3, 1}, {20, 0}, {20, 10}, {20, 11}, {20, 19},
                                      {20, 20}, {20, 25}, {0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_true(isfinite(bg_attack_alie_z(cases[i][0], cases[i][1])));
    assert_true(bg_attack_alie_z(20, 20) == 0.0);
    /* Past an honest majority the quantile is clamped at half a worker: z = Phi^-1(1 - 1/(2(n - f))). */
    assert_true(fabs(bg_attack_alie_z(20, 12) - 1.5341) < 1e-3);
}

static void test_args_init(void **state)
{
    (void)state;
    bg_attack_cfg_t d;
    bg_attack_cfg_default(&d);
    assert_string_equal(d.name, "none");
    assert_true(d.eps == 0.1 && isnan(d.z) && d.alie_variance == 0 && d.sigma == 0.5 && d.mimic_warmup == 1);
    assert_true(isnan(d.payload));

    bg_attack_args_t a;
    bg_err_t err;
    bg_attack_cfg_t c = cfg_of("alie", 0.1, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    assert_true(fabs(a.z - 0.9085) < 1e-3);
    assert_int_equal(a.n, 20);
    assert_int_equal(a.f, 9);
    c.alie_variance = 1;   /* [R]'s z */
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    assert_true(a.z == 1.06);
    c.z = 1.5;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    assert_true(a.z == 1.5);
    c.alie_variance = 2;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.alie_variance");
    c = cfg_of("alie", 0.1, INFINITY);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.z");
    c = cfg_of("ipm", INFINITY, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "eps"));
    assert_string_equal(err.key, "attack.eps");
    c = cfg_of("ipm", NAN, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    c = cfg_of("random", 0.1, NAN);
    c.sigma = -1.0;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.sigma");
    c.sigma = 0.0;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    c = cfg_of("nan", 0.1, NAN);
    c.payload = 3.0;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.payload");
    c.payload = -INFINITY;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_OK);
    c = cfg_of("mimic", 0.1, NAN);
    c.mimic_warmup = 0;
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ERANGE);
    assert_string_equal(err.key, "attack.mimic_warmup");
    c = cfg_of("minmaxx", 0.1, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 20, 9, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "minmaxx"));
    assert_non_null(strstr(err.msg, "alie"));
    assert_non_null(strstr(err.msg, "rop"));
    assert_string_equal(err.key, "attack.name");
    c = cfg_of("ipm", 0.1, NAN);
    assert_int_equal(bg_attack_args_init(&a, &c, 3, 4, &err), BG_ERANGE);
    assert_null(bg_attack_find("nope"));
    assert_null(bg_attack_find(NULL));
}

/* Every attack is described, and its kind matches the callbacks the engine will call. */
static void test_registry(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bg_attack_kind_t kind;
        int per_attacker, stateful;
    } want[] = {
        {"none", BG_ATK_DATA, 0, 0},          {"lf", BG_ATK_DATA, 0, 0},         {"bf", BG_ATK_DATA, 0, 0},
        {"ipm", BG_ATK_OMNISCIENT, 0, 0},     {"alie", BG_ATK_OMNISCIENT, 0, 0}, {"sf", BG_ATK_OMNISCIENT, 0, 0},
        {"mimic", BG_ATK_OMNISCIENT, 0, 1},   {"minmax", BG_ATK_OMNISCIENT, 0, 0},
        {"minsum", BG_ATK_OMNISCIENT, 0, 0},  {"gaussian", BG_ATK_OMNISCIENT, 1, 0},
        {"random", BG_ATK_BLIND, 1, 0},       {"zero", BG_ATK_BLIND, 0, 0},      {"nan", BG_ATK_BLIND, 0, 0},
        {"rop", BG_ATK_BLIND, 0, 1},
    };
    bg_attack_args_t a = args_of("ipm", 20, 9);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const bg_attack_ops_t *o = bg_attack_find(want[i].name);
        assert_non_null(o);
        assert_string_equal(o->name, want[i].name);
        assert_int_equal(o->kind, want[i].kind);
        assert_int_equal(o->per_attacker, want[i].per_attacker);
        assert_true(o->summary && o->summary[0] && o->reads && o->reads[0]);
        assert_int_equal(o->state_new != NULL, want[i].stateful);
        assert_int_equal(o->state_free != NULL, want[i].stateful);
        assert_int_equal(o->flips_labels, strcmp(o->name, "lf") == 0);
        assert_int_equal(o->message != NULL, strcmp(o->name, "bf") == 0);
        assert_int_equal(o->target != NULL, o->kind != BG_ATK_DATA);
        assert_non_null(o->flops);
        double fl = o->flops(&a, 11, 123);
        assert_true(fl >= 0.0 && isfinite(fl));
        if (o->kind == BG_ATK_OMNISCIENT)
            assert_true(fl > 0.0);
    }
    size_t count = 0;
    while (bg_attack_registry[count])
        count++;
    assert_int_equal(count, sizeof want / sizeof want[0]);
}

static void test_targets(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(3, BG_RNG_ATTACK, 0);
    static const size_t nhs[] = {1, 2, 11, 12, 50};
    static const size_t ds[] = {1, 123, 1000};
    for (size_t hi = 0; hi < sizeof nhs / sizeof nhs[0]; hi++) {
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
            size_t nh = nhs[hi], d = ds[di], n = nh + 9;
            honest_t h = honest_new(r, nh, d);
            float *out = malloc(d * sizeof *out);
            bg_attack_ctx_t c = ctx_of(&h, r, NULL, NULL, 0);

            bg_attack_args_t a = args_of("ipm", n, 9);
            assert_int_equal(bg_attack_find("ipm")->target(&a, &c, out), BG_OK);
            for (size_t l = 0; l < d; l++)
                assert_true(out[l] == (float)(-0.1 * h.mu[l]));

            a = args_of("sf", n, 9);
            assert_int_equal(bg_attack_find("sf")->target(&a, &c, out), BG_OK);
            for (size_t l = 0; l < d; l++)
                assert_true(out[l] == (float)(-h.mu[l]));

            a = args_of("alie", n, 9);
            assert_int_equal(bg_attack_find("alie")->target(&a, &c, out), BG_OK);
            for (size_t l = 0; l < d; l++) {
                double want = h.mu[l] - a.z * h.sd[l];
                assert_true(fabs(out[l] - want) <= 1e-6 * (1.0 + fabs(want)));
                assert_true(fabs(out[l] - h.mu[l]) <= fabs(a.z) * h.sd[l] * (1.0 + 1e-6) + 1e-6 * (1.0 + fabs(h.mu[l])));
            }

            /* [R]'s ALIE: mu - 1.06 * population variance. */
            bg_attack_cfg_t cv = cfg_of("alie", 0.1, NAN);
            cv.alie_variance = 1;
            assert_int_equal(bg_attack_args_init(&a, &cv, n, 9, NULL), BG_OK);
            assert_int_equal(bg_attack_find("alie")->target(&a, &c, out), BG_OK);
            for (size_t l = 0; l < d; l++) {
                double want = h.mu[l] - 1.06 * h.var[l];
                assert_true(fabs(out[l] - want) <= 1e-6 * (1.0 + fabs(want)));
            }
            free(out);
            honest_free(&h);
        }
    }
    /* No honest vector: nothing to attack with. */
    bg_attack_args_t a = args_of("ipm", 20, 9);
    float out[3];
    bg_attack_ctx_t c = {.honest = NULL, .nh = 0, .d = 3};
    static const char *const omni[] = {"ipm", "alie", "sf", "minmax", "minsum", "gaussian"};
    for (size_t i = 0; i < sizeof omni / sizeof omni[0]; i++)
        assert_int_equal(bg_attack_find(omni[i])->target(&a, &c, out), BG_EINVAL);
    gsl_rng_free(r);
}

/* Bit flip negates every carried value exactly and leaves indices and size alone, dense or sparse. */
static void test_bf(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(5, BG_RNG_ATTACK, 1);
    const bg_attack_ops_t *bf = bg_attack_find("bf");
    bg_attack_args_t a = args_of("bf", 20, 5);
    enum { D = 300 };
    float val[D], orig[D];
    uint32_t idx[D], oidx[D];
    for (int sparse = 0; sparse < 2; sparse++) {
        size_t nnz = sparse ? 17 : D;
        for (size_t k = 0; k < nnz; k++) {
            val[k] = orig[k] = (float)gsl_ran_gaussian(r, 3.0);
            idx[k] = oidx[k] = (uint32_t)(k * 7);
        }
        val[0] = orig[0] = 0.0f;
        bg_msg_t m = {.kind = sparse ? BG_MSG_SPARSE : BG_MSG_DENSE, .d = D, .nnz = nnz,
                      .idx = sparse ? idx : NULL, .val = val, .cap = D, .bytes = 1234.0};
        bf->message(&a, &m);
        for (size_t k = 0; k < nnz; k++) {
            assert_true(val[k] == -orig[k]);
            assert_true(idx[k] == oidx[k]);
        }
        assert_true(signbit(val[0]));
        assert_true(m.bytes == 1234.0 && m.nnz == nnz && m.d == D);
        bf->message(&a, &m);
        assert_memory_equal(val, orig, nnz * sizeof(float));
    }
    gsl_rng_free(r);
}

static void test_zero_nan(void **state)
{
    (void)state;
    enum { D = 77 };
    float out[D];
    bg_attack_ctx_t c = {.honest = NULL, .nh = 0, .d = D};
    bg_attack_args_t a = args_of("zero", 20, 5);
    for (size_t l = 0; l < D; l++)
        out[l] = 1.0f;
    assert_int_equal(bg_attack_find("zero")->target(&a, &c, out), BG_OK);
    for (size_t l = 0; l < D; l++)
        assert_true(out[l] == 0.0f);
    static const double payloads[] = {NAN, INFINITY, -INFINITY};
    for (int p = 0; p < 3; p++) {
        bg_attack_cfg_t cfg = cfg_of("nan", 0.1, NAN);
        cfg.payload = payloads[p];
        assert_int_equal(bg_attack_args_init(&a, &cfg, 20, 5, NULL), BG_OK);
        assert_int_equal(bg_attack_find("nan")->target(&a, &c, out), BG_OK);
        for (size_t l = 0; l < D; l++) {
            assert_false(isfinite(out[l]));
            if (p == 0)
                assert_true(isnan(out[l]));
            else
                assert_true(out[l] == (float)payloads[p]);
        }
        assert_false(bg_vec_all_finite(out, D));
    }
}

/* Random (N(0, sigma^2)) and gaussian (mean + N(0, sigma^2)): per attacker the noise has the right sample mean
 * and std (5-sigma bands), different attackers' streams give different vectors, equal streams equal ones. */
static void test_random_gaussian(void **state)
{
    (void)state;
    enum { D = 40000 };
    float *out = malloc(D * sizeof *out), *first = malloc(D * sizeof *first);
    gsl_rng *hr = bg_rng_stream(11, BG_RNG_WORKER, 0);
    honest_t h = honest_make(hr, 7, D, 0.0, 1.0);
    static const double sigmas[] = {0.5, 2.0};
    static const char *const names[] = {"random", "gaussian"};
    for (int nm = 0; nm < 2; nm++) {
        for (int si = 0; si < 2; si++) {
            bg_attack_cfg_t cfg = cfg_of(names[nm], 0.1, NAN);
            cfg.sigma = sigmas[si];
            bg_attack_args_t a;
            assert_int_equal(bg_attack_args_init(&a, &cfg, 10, 3, NULL), BG_OK);
            const bg_attack_ops_t *o = bg_attack_find(names[nm]);
            for (size_t j = 0; j < 3; j++) {
                gsl_rng *r = bg_rng_stream(42, BG_RNG_ATTACK, 7 + j);
                bg_attack_ctx_t c = ctx_of(&h, r, NULL, NULL, 0);
                if (o->kind == BG_ATK_BLIND)
                    c.honest = NULL;
                assert_int_equal(o->target(&a, &c, out), BG_OK);
                double s = 0.0, ss = 0.0;
                for (size_t l = 0; l < D; l++) {
                    double e = out[l] - (nm ? h.mu[l] : 0.0);
                    s += e;
                    ss += e * e;
                }
                double m = s / D, sd = sqrt(ss / D - m * m);
                assert_true(fabs(m) <= 5.0 * sigmas[si] / sqrt((double)D));
                assert_true(fabs(sd - sigmas[si]) <= 5.0 * sigmas[si] / sqrt(2.0 * D));   /* sd of sd ~ s/sqrt(2D) */
                if (j == 0) {
                    memcpy(first, out, D * sizeof *out);
                } else {
                    size_t same = 0;
                    for (size_t l = 0; l < D; l++)
                        same += out[l] == first[l];
                    assert_true(same < D / 100);
                }
                /* The same stream again: bit-identical. */
                gsl_rng_free(r);
                r = bg_rng_stream(42, BG_RNG_ATTACK, 7 + j);
                c.rng = r;
                float *again = malloc(D * sizeof *again);
                assert_int_equal(o->target(&a, &c, again), BG_OK);
                assert_memory_equal(again, out, D * sizeof *out);
                free(again);
                gsl_rng_free(r);
            }
        }
    }
    honest_free(&h);
    gsl_rng_free(hr);
    free(out);
    free(first);
}

/* Slow reference of [S]'s mimic: returns the index it copies after `rounds` rounds of honest sets. */
static size_t mimic_ref(const honest_t *hs, size_t rounds, size_t warmup, gsl_rng *r)
{
    size_t d = hs[0].d, nh = hs[0].nh, target = 0;
    double *mu = calloc(d, sizeof *mu), *z = malloc(d * sizeof *z), *st = malloc(d * sizeof *st);
    for (size_t l = 0; l < d; l++)
        z[l] = gsl_ran_gaussian_ziggurat(r, 1.0);
    for (size_t t = 0; t < rounds && t < warmup; t++) {
        const honest_t *h = &hs[t];
        for (size_t l = 0; l < d; l++)
            mu[l] = (t * mu[l] + h->mu[l]) / (t + 1.0);
        for (size_t l = 0; l < d; l++) {
            st[l] = 0.0;
            for (size_t i = 0; i < nh; i++) {
                double w = 0.0;
                for (size_t k = 0; k < d; k++)
                    w += (h->rows[i][k] - mu[k]) * z[k];
                st[l] += w * (h->rows[i][l] - mu[l]);
            }
        }
        double nrm = 0.0;
        for (size_t l = 0; l < d; l++)
            nrm += st[l] * st[l];
        for (size_t l = 0; l < d; l++)
            z[l] = st[l] / sqrt(nrm);
        double best = -INFINITY;
        for (size_t i = 0; i < nh; i++) {
            double p = 0.0;
            for (size_t l = 0; l < d; l++)
                p += h->rows[i][l] * z[l];
            if (p > best) {
                best = p;
                target = i;
            }
        }
    }
    free(mu);
    free(z);
    free(st);
    return target;
}

static void test_mimic(void **state)
{
    (void)state;
    enum { ROUNDS = 6, NH = 9, D = 40 };
    const bg_attack_ops_t *o = bg_attack_find("mimic");
    gsl_rng *hr = bg_rng_stream(17, BG_RNG_WORKER, 0);
    float out[D];
    for (int trial = 0; trial < 20; trial++) {
        honest_t hs[ROUNDS];
        for (size_t t = 0; t < ROUNDS; t++)
            hs[t] = honest_make(hr, NH, D, 0.05, 1.0 + 0.1 * trial);
        size_t warmup = 1 + (size_t)trial % 4;
        bg_attack_cfg_t cfg = cfg_of("mimic", 0.1, NAN);
        cfg.mimic_warmup = warmup;
        bg_attack_args_t a;
        assert_int_equal(bg_attack_args_init(&a, &cfg, NH + 4, 4, NULL), BG_OK);
        void *st = NULL;
        assert_int_equal(o->state_new(&a, D, &st), BG_OK);
        gsl_rng *r = bg_rng_stream(99, BG_RNG_ATTACK, (uint64_t)trial);
        size_t fixed = SIZE_MAX;
        for (size_t t = 0; t < ROUNDS; t++) {
            bg_attack_ctx_t c = ctx_of(&hs[t], r, st, NULL, t);
            assert_int_equal(o->target(&a, &c, out), BG_OK);
            size_t who = SIZE_MAX;
            for (size_t i = 0; i < NH; i++)
                if (memcmp(out, hs[t].rows[i], sizeof out) == 0)
                    who = i;
            assert_true(who != SIZE_MAX);   /* an exact copy of an honest vector */
            gsl_rng *rr = bg_rng_stream(99, BG_RNG_ATTACK, (uint64_t)trial);
            assert_int_equal(who, mimic_ref(hs, t + 1, warmup, rr));
            gsl_rng_free(rr);
            if (t + 1 == warmup)
                fixed = who;
            if (t + 1 > warmup)
                assert_int_equal(who, fixed);   /* fixed after warm-up */
        }
        o->state_free(st);
        gsl_rng_free(r);
        for (size_t t = 0; t < ROUNDS; t++)
            honest_free(&hs[t]);
    }
    gsl_rng_free(hr);
}

/* Reference constraint value of m = mu - lambda sd: max_i |h_i - m|^2 or sum_i |h_i - m|^2, and its bound. */
static double dev_value(const honest_t *h, double lam, int sum)
{
    double v = 0.0;
    for (size_t i = 0; i < h->nh; i++) {
        double s = 0.0;
        for (size_t l = 0; l < h->d; l++) {
            double t = h->rows[i][l] - (h->mu[l] - lam * h->sd[l]);
            s += t * t;
        }
        v = sum ? v + s : fmax(v, s);
    }
    return v;
}

static double dev_bound(const honest_t *h, int sum)
{
    double b = 0.0;
    for (size_t i = 0; i < h->nh; i++) {
        double row = 0.0;
        for (size_t k = 0; k < h->nh; k++) {
            double s = 0.0;
            for (size_t l = 0; l < h->d; l++) {
                double t = (double)h->rows[i][l] - h->rows[k][l];
                s += t * t;
            }
            row += s;
            b = sum ? b : fmax(b, s);
        }
        b = sum ? fmax(b, row) : b;
    }
    return b;
}

static void test_minmax_minsum(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(23, BG_RNG_WORKER, 0);
    static const size_t nhs[] = {2, 3, 5, 11, 20};
    static const size_t ds[] = {1, 2, 50, 300};
    double lam_seen[2] = {INFINITY, -INFINITY};
    for (int sum = 0; sum < 2; sum++) {
        const bg_attack_ops_t *o = bg_attack_find(sum ? "minsum" : "minmax");
        bg_attack_args_t a = args_of(o->name, 30, 5);
        for (size_t hi = 0; hi < sizeof nhs / sizeof nhs[0]; hi++)
            for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
                for (int rep = 0; rep < 3; rep++) {
                    size_t nh = nhs[hi], d = ds[di];
                    honest_t h = honest_make(r, nh, d, 0.0, 1.0);
                    float *out = malloc(d * sizeof *out);
                    bg_attack_ctx_t c = ctx_of(&h, NULL, NULL, NULL, 0);
                    assert_int_equal(o->target(&a, &c, out), BG_OK);
                    /* Recover lambda: out = mu - lambda sd, least squares over coordinates. */
                    double num = 0.0, den = 0.0;
                    for (size_t l = 0; l < d; l++) {
                        num += (h.mu[l] - out[l]) * h.sd[l];
                        den += h.sd[l] * h.sd[l];
                    }
                    double lam = num / den;
                    for (size_t l = 0; l < d; l++)
                        assert_true(fabs(out[l] - (h.mu[l] - lam * h.sd[l])) <= 1e-5 * (1.0 + fabs(out[l])));
                    assert_true(lam >= 0.0 && lam <= 20.0 + 1e-6);
                    double bound = dev_bound(&h, sum);
                    assert_true(dev_value(&h, lam, sum) <= bound * (1.0 + 1e-5));
                    /* Maximal within the search tolerance: a slightly larger lambda breaks the constraint. */
                    if (lam < 20.0 - 1e-4)
                        assert_true(dev_value(&h, lam + 1e-4, sum) > bound);
                    if (sum) {
                        /* sum_i |h_i - m|^2 = sum_i |h_i - mu|^2 + nh lambda^2 |sd|^2: the largest lambda is closed form. */
                        double s0 = dev_value(&h, 0.0, 1);
                        double want = fmin(sqrt((bound - s0) / ((double)nh * den)), 20.0);
                        assert_true(fabs(lam - want) <= 2e-5 * (1.0 + want));
                    }
                    lam_seen[0] = fmin(lam_seen[0], lam);
                    lam_seen[1] = fmax(lam_seen[1], lam);
                    free(out);
                    honest_free(&h);
                }
        /* One honest vector: no spread, the target is that vector. */
        honest_t h = honest_make(r, 1, 10, 0.3, 1.0);
        float out[10];
        bg_attack_ctx_t c = ctx_of(&h, NULL, NULL, NULL, 0);
        assert_int_equal(o->target(&a, &c, out), BG_OK);
        assert_memory_equal(out, h.rows[0], sizeof out);
        honest_free(&h);
    }
    /* The searches were not all trivially at an end of the range. */
    assert_true(lam_seen[0] > 0.0 && lam_seen[0] < lam_seen[1] && lam_seen[1] < 20.0);
    gsl_rng_free(r);
}

/* ROP: target - q_prev is a unit vector orthogonal to q, along the all-ones vector's orthogonal component. */
static void test_rop(void **state)
{
    (void)state;
    const bg_attack_ops_t *o = bg_attack_find("rop");
    bg_attack_args_t a = args_of("rop", 20, 5);
    gsl_rng *r = bg_rng_stream(31, BG_RNG_WORKER, 0);
    static const size_t ds[] = {1, 2, 7, 500};
    for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
        size_t d = ds[di];
        void *st = NULL;
        assert_int_equal(o->state_new(&a, d, &st), BG_OK);
        float *g = malloc(d * sizeof *g), *out = malloc(d * sizeof *out);
        double *q = malloc(d * sizeof *q), *qp = malloc(d * sizeof *qp);
        bg_attack_ctx_t c = {.honest = NULL, .nh = 0, .d = d, .prev_agg = NULL, .rng = NULL, .state = st};
        for (size_t l = 0; l < d; l++)
            out[l] = 5.0f;
        assert_int_equal(o->target(&a, &c, out), BG_OK);   /* no aggregate yet: 0, state untouched */
        for (size_t l = 0; l < d; l++)
            assert_true(out[l] == 0.0f);
        for (size_t t = 0; t < 6; t++) {
            for (size_t l = 0; l < d; l++)
                g[l] = (float)(gsl_ran_gaussian(r, 1.0) + 0.5);
            if (t == 4)   /* an aggregate along the all-ones vector */
                for (size_t l = 0; l < d; l++)
                    g[l] = 2.0f;
            for (size_t l = 0; l < d; l++) {
                qp[l] = t == 0 ? g[l] : q[l];
                q[l] = 0.9 * qp[l] + 0.1 * g[l];
            }
            c.prev_agg = g;
            c.round = t + 1;
            assert_int_equal(o->target(&a, &c, out), BG_OK);
            double dot = 0.0, nn = 0.0, qq = 0.0, on = 0.0, qo = 0.0;
            for (size_t l = 0; l < d; l++) {
                double p = out[l] - qp[l];
                dot += p * q[l];
                nn += p * p;
                qq += q[l] * q[l];
                on += p;
                qo += q[l];
            }
            if (d == 1) {
                assert_true(fabs(nn) <= 1e-10);   /* no orthogonal direction: q_prev itself */
                continue;
            }
            double scale = 1.0 + sqrt(qq);
            assert_true(fabs(sqrt(nn) - 1.0) <= 1e-5 * scale);
            assert_true(fabs(dot) <= 1e-5 * scale * sqrt(qq));
            /* Along ones - proj_q(ones): p.ones = |ones - proj|, i.e. d - (ones.q)^2/|q|^2, over its norm. */
            double perp2 = (double)d - qo * qo / qq;
            if (perp2 > 1e-6 * d)
                assert_true(fabs(on - sqrt(perp2)) <= 1e-4 * scale * sqrt((double)d));
        }
        o->state_free(st);
        free(g);
        free(out);
        free(q);
        free(qp);
    }
    gsl_rng_free(r);
}

/* Every target is a function of (honest vectors, previous aggregate, stream, state): two runs with equal
 * inputs give bit-identical outputs over several rounds; states are created and freed cleanly. */
static void test_determinism(void **state)
{
    (void)state;
    enum { NH = 6, D = 64, ROUNDS = 3 };
    gsl_rng *hr = bg_rng_stream(41, BG_RNG_WORKER, 0);
    honest_t hs[ROUNDS];
    for (size_t t = 0; t < ROUNDS; t++)
        hs[t] = honest_new(hr, NH, D);
    float outs[2][ROUNDS][D];
    for (size_t k = 0; bg_attack_registry[k]; k++) {
        const bg_attack_ops_t *o = bg_attack_registry[k];
        if (!o->target)
            continue;
        bg_attack_args_t a = args_of(o->name, NH + 3, 3);
        for (int run = 0; run < 2; run++) {
            void *st = NULL;
            if (o->state_new)
                assert_int_equal(o->state_new(&a, D, &st), BG_OK);
            gsl_rng *r = bg_rng_stream(7, BG_RNG_ATTACK, NH);
            for (size_t t = 0; t < ROUNDS; t++) {
                bg_attack_ctx_t c = ctx_of(&hs[t], r, st, t ? hs[t - 1].rows[0] : NULL, t);
                if (o->kind == BG_ATK_BLIND)
                    c.honest = NULL;
                assert_int_equal(o->target(&a, &c, outs[run][t]), BG_OK);
            }
            if (o->state_free)
                o->state_free(st);
            gsl_rng_free(r);
        }
        for (size_t t = 0; t < ROUNDS; t++)
            for (size_t l = 0; l < D; l++) {
                float x = outs[0][t][l], y = outs[1][t][l];
                assert_true(x == y || (isnan(x) && isnan(y)));
            }
    }
    for (size_t t = 0; t < ROUNDS; t++)
        honest_free(&hs[t]);
    gsl_rng_free(hr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alie_z),        cmocka_unit_test(test_args_init),
        cmocka_unit_test(test_registry),      cmocka_unit_test(test_targets),
        cmocka_unit_test(test_bf),            cmocka_unit_test(test_zero_nan),
        cmocka_unit_test(test_random_gaussian), cmocka_unit_test(test_mimic),
        cmocka_unit_test(test_minmax_minsum), cmocka_unit_test(test_rop),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
