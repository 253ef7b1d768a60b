/* Unit tests for the aggregators and NNM: each against a slow, obvious reference on random inputs (full sort
 * per column, qsort of distances, a long-run Weiszfeld), robustness to huge and non-finite inputs, f limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "bg_aggregate.h"
#include "bg_config.h"

#define RTOL 1e-5
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- inputs */

typedef struct {
    size_t n, d;
    float *data;
    float **rows;
} mat_t;

static mat_t mat_new(size_t n, size_t d)
{
    mat_t m = {n, d, calloc(n * d, sizeof(float)), malloc(n * sizeof(float *))};
    for (size_t i = 0; i < n; i++)
        m.rows[i] = m.data + i * d;
    return m;
}

static void mat_free(mat_t *m)
{
    free(m->data);
    free(m->rows);
}

/* kind 0: gaussian; 1: small integers (ties, duplicate columns); 2: a shared offset with small spread. */
static void fill(gsl_rng *r, mat_t *m, int kind)
{
    for (size_t i = 0; i < m->n * m->d; i++) {
        if (kind == 0)
            m->data[i] = (float)gsl_ran_gaussian(r, 1.0);
        else if (kind == 1)
            m->data[i] = (float)((long)gsl_rng_uniform_int(r, 5) - 2);
        else
            m->data[i] = (float)(3.0 + gsl_ran_gaussian(r, 0.05));
    }
    if (kind == 1 && m->n > 2)   /* exact duplicate vectors */
        memcpy(m->rows[m->n - 1], m->rows[0], m->d * sizeof(float));
}

static int close_to(double a, double b, double tol)
{
    return fabs(a - b) <= tol * (1.0 + fabs(b));
}

/* The first coordinate where a is not close to b, or d. */
static size_t vec_far(const float *a, const double *b, size_t d, double tol)
{
    size_t j = 0;
    while (j < d && close_to(a[j], b[j], tol))
        j++;
    return j;
}

static void assert_vec_close(const float *a, const double *b, size_t d, double tol)
{
    size_t j = vec_far(a, b, d, tol);
    if (j < d)
        fail_msg("coordinate %zu: got %.9g, want %.9g", j, (double)a[j], b[j]);
}

/* ---------------------------------------------------------------- slow references */

static int dbl_cmp(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static void ref_mean(const float *const *in, size_t n, size_t d, double *out)
{
    for (size_t j = 0; j < d; j++) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += in[i][j];
        out[j] = s / (double)n;
    }
}

/* Sort every column; mean of order statistics lo..hi. */
static void ref_order(const float *const *in, size_t n, size_t d, size_t lo, size_t hi, double *out)
{
    double *col = malloc(n * sizeof *col);
    for (size_t j = 0; j < d; j++) {
        for (size_t i = 0; i < n; i++)
            col[i] = in[i][j];
        qsort(col, n, sizeof *col, dbl_cmp);
        double s = 0.0;
        for (size_t q = lo; q <= hi; q++)
            s += col[q];
        out[j] = s / (double)(hi - lo + 1);
    }
    free(col);
}

static void ref_cm(const float *const *in, size_t n, size_t d, double *out)
{
    ref_order(in, n, d, (n - 1) / 2, n / 2, out);
}

/* cwtm, and tm at any f < n. */
static void ref_trimmed(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    size_t t = f < n / 2 ? f : n / 2;   /* [S] cwtm.py: min(floor(n/2), ceil(n f/n)) */
    while (t > 0 && n - 2 * t == 0)
        t--;
    ref_order(in, n, d, t, n - 1 - t, out);
}

typedef struct {
    double dist;
    size_t idx;
} cand_t;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand_t *a = pa, *b = pb;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void ref_nnm(const float *const *in, size_t n, size_t d, size_t f, double *out /* n x d */)
{
    cand_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++) {
                double t = (double)in[i][l] - in[j][l];
                s += t * t;
            }
            c[j].dist = s;
            c[j].idx = j;
        }
        qsort(c, n, sizeof *c, cand_cmp);
        for (size_t l = 0; l < d; l++) {
            double s = 0.0;
            for (size_t q = 0; q < n - f; q++)
                s += in[c[q].idx][l];
            out[i * d + l] = s / (double)(n - f);
        }
    }
    free(c);
}

/* Plain double Weiszfeld at smoothing nu from the mean, a fixed (long) number of iterations, no stopping. */
static void ref_rfa(const float *const *in, size_t n, size_t d, double nu, size_t iters, double *z)
{
    double *zn = malloc(d * sizeof *zn);
    ref_mean(in, n, d, z);
    for (size_t it = 0; it < iters; it++) {
        double sb = 0.0;
        memset(zn, 0, d * sizeof *zn);
        for (size_t k = 0; k < n; k++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++) {
                double t = z[l] - in[k][l];
                s += t * t;
            }
            double b = 1.0 / fmax(sqrt(s), nu);
            sb += b;
            for (size_t l = 0; l < d; l++)
                zn[l] += b * in[k][l];
        }
        for (size_t l = 0; l < d; l++)
            z[l] = zn[l] / sb;
    }
    free(zn);
}


/* ---------------------------------------------------------------- references for the newer rules */

static double ref_d2(const float *x, const float *y, size_t d)
{
    double s = 0.0;
    for (size_t l = 0; l < d; l++) {
        double t = (double)x[l] - y[l];
        s += t * t;
    }
    return s;
}

static void ref_mean_of(const float *const *in, const size_t *idx, size_t k, size_t d, double *out)
{
    for (size_t l = 0; l < d; l++) {
        double s = 0.0;
        for (size_t q = 0; q < k; q++)
            s += in[idx[q]][l];
        out[l] = s / (double)k;
    }
}

static int size_cmp(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

/* Krum score of candidate p among the m rows idx: sum of the m - f - 2 (at least 1) smallest
 * |x_p - x_q|^power over q != p. */
static double ref_krum_score(const float *const *in, const size_t *idx, size_t m, size_t p, size_t f, int power,
                             size_t d)
{
    double *v = malloc(m * sizeof *v);
    size_t q = 0;
    for (size_t b = 0; b < m; b++)
        if (b != p) {
            double x = ref_d2(in[idx[p]], in[idx[b]], d);
            v[q++] = power == 4 ? x * x : x;
        }
    qsort(v, q, sizeof *v, dbl_cmp);
    size_t k = m > f + 2 ? m - f - 2 : 1;
    if (k > q)
        k = q;
    double s = 0.0;
    for (size_t t = 0; t < k; t++)
        s += v[t];
    free(v);
    return s;
}

static void ref_multikrum(const float *const *in, size_t n, size_t d, size_t f, int power, size_t m, double *out)
{
    size_t *all = malloc(n * sizeof *all);
    cand_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++)
        all[i] = i;
    for (size_t i = 0; i < n; i++) {
        c[i].dist = ref_krum_score(in, all, n, i, f, power, d);
        c[i].idx = i;
    }
    qsort(c, n, sizeof *c, cand_cmp);
    size_t *sel = malloc(m * sizeof *sel);
    for (size_t q = 0; q < m; q++)
        sel[q] = c[q].idx;
    qsort(sel, m, sizeof *sel, size_cmp);
    ref_mean_of(in, sel, m, d, out);
    free(all);
    free(c);
    free(sel);
}

typedef struct {
    double dist, val;
} dv_t;

static int dv_cmp(const void *pa, const void *pb)
{
    const dv_t *a = pa, *b = pb;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return (a->val > b->val) - (a->val < b->val);
}

/* Per coordinate: the median, every value's distance to it, a full sort by (distance, value), the first k. */
static void ref_meamed(const float *const *in, size_t n, size_t d, size_t k, double *out)
{
    double *med = malloc(d * sizeof *med);
    ref_cm(in, n, d, med);
    dv_t *v = malloc(n * sizeof *v);
    for (size_t l = 0; l < d; l++) {
        for (size_t i = 0; i < n; i++) {
            v[i].val = in[i][l];
            v[i].dist = fabs(v[i].val - med[l]);
        }
        qsort(v, n, sizeof *v, dv_cmp);
        double s = 0.0;
        for (size_t q = 0; q < k; q++)
            s += v[q].val;
        out[l] = s / (double)k;
    }
    free(v);
    free(med);
}

static void ref_bulyan(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    size_t theta = n - 2 * f, m = n;
    size_t *left = malloc(n * sizeof *left);
    const float **sel = malloc(theta * sizeof *sel);
    for (size_t i = 0; i < n; i++)
        left[i] = i;
    for (size_t s = 0; s < theta; s++) {
        size_t best = 0;
        double bs = INFINITY;
        for (size_t p = 0; p < m; p++) {
            double sc = ref_krum_score(in, left, m, p, f, 2, d);
            if (sc < bs) {
                bs = sc;
                best = p;
            }
        }
        sel[s] = in[left[best]];
        for (size_t p = best; p + 1 < m; p++)
            left[p] = left[p + 1];
        m--;
    }
    ref_meamed(sel, theta, d, theta - 2 * f, out);
    free(left);
    free(sel);
}

/* Every subset of n - f rows as a bit mask (n <= 16); diameter by direct distances. */
static void ref_mda(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    double best = INFINITY;
    unsigned bm = 0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if ((size_t)__builtin_popcount(mask) != n - f)
            continue;
        double diam = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if ((mask >> i & 1) && (mask >> j & 1))
                    diam = fmax(diam, ref_d2(in[i], in[j], d));
        if (diam < best) {
            best = diam;
            bm = mask;
        }
    }
    size_t idx[32], k = 0;
    for (size_t i = 0; i < n; i++)
        if (bm >> i & 1)
            idx[k++] = i;
    ref_mean_of(in, idx, k, d, out);
}

static void ref_monna(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    double best = INFINITY;
    size_t piv = 0;
    double *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            r[j] = sqrt(ref_d2(in[i], in[j], d));
        qsort(r, n, sizeof *r, dbl_cmp);
        double s = 0.0;
        for (size_t q = 0; q < n - f; q++)
            s += r[q];
        if (s < best) {
            best = s;
            piv = i;
        }
    }
    cand_t *c = malloc(n * sizeof *c);
    for (size_t j = 0; j < n; j++) {
        c[j].dist = ref_d2(in[piv], in[j], d);
        c[j].idx = j;
    }
    qsort(c, n, sizeof *c, cand_cmp);
    size_t *sel = malloc(n * sizeof *sel);
    for (size_t q = 0; q < n - f; q++)
        sel[q] = c[q].idx;
    qsort(sel, n - f, sizeof *sel, size_cmp);
    ref_mean_of(in, sel, n - f, d, out);
    free(r);
    free(c);
    free(sel);
}

/* DnC on all d coordinates (d >= n), one iteration: the top right singular vector by GSL's SVD of the centred
 * d x n transpose (the left singular vectors of C^T are C's right singular vectors). */
static void ref_dnc(const float *const *in, size_t n, size_t d, size_t rm, double *out)
{
    gsl_matrix *A = gsl_matrix_alloc(d, n), *V = gsl_matrix_alloc(n, n);
    gsl_vector *S = gsl_vector_alloc(n), *w = gsl_vector_alloc(n);
    double *mu = malloc(d * sizeof *mu);
    ref_mean(in, n, d, mu);
    for (size_t l = 0; l < d; l++)
        for (size_t i = 0; i < n; i++)
            gsl_matrix_set(A, l, i, in[i][l] - mu[l]);
    gsl_linalg_SV_decomp(A, V, S, w);   /* A <- U, singular values descending */
    cand_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        double p = 0.0;
        for (size_t l = 0; l < d; l++)
            p += (in[i][l] - mu[l]) * gsl_matrix_get(A, l, 0);
        c[i].dist = p * p;
        c[i].idx = i;
    }
    qsort(c, n, sizeof *c, cand_cmp);
    size_t *sel = malloc(n * sizeof *sel);
    for (size_t q = 0; q < n - rm; q++)
        sel[q] = c[q].idx;
    qsort(sel, n - rm, sizeof *sel, size_cmp);
    ref_mean_of(in, sel, n - rm, d, out);
    gsl_matrix_free(A);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    gsl_vector_free(w);
    free(mu);
    free(c);
    free(sel);
}

/* L iterations of v <- v + (1/n) sum clip_tau(x_i - v), v updated in place. */
static void ref_cc(const float *const *in, size_t n, size_t d, double tau, size_t L, double *v)
{
    double *u = malloc(d * sizeof *u), *acc = malloc(d * sizeof *acc);
    for (size_t it = 0; it < L; it++) {
        memset(acc, 0, d * sizeof *acc);
        for (size_t i = 0; i < n; i++) {
            double s = 0.0;
            for (size_t l = 0; l < d; l++) {
                u[l] = in[i][l] - v[l];
                s += u[l] * u[l];
            }
            double c = sqrt(s) > tau ? tau / sqrt(s) : 1.0;
            for (size_t l = 0; l < d; l++)
                acc[l] += c * u[l];
        }
        for (size_t l = 0; l < d; l++)
            v[l] += acc[l] / (double)n;
    }
    free(u);
    free(acc);
}

/* ---------------------------------------------------------------- helpers */

static int run_agg(const char *pre, const char *agg, size_t f, const mat_t *m, float *out)
{
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.f = f;
    a.rng = bg_rng_stream(99, BG_RNG_SERVER, 0);   /* same draws on every call */
    bg_robust_t r;
    bg_err_t err;
    int rc = bg_robust_init(&r, pre, agg, &a, m->n, m->d, &err);
    if (rc == BG_OK) {
        rc = bg_robust_run(&r, (const float *const *)m->rows, out, NULL);
        bg_robust_destroy(&r);
    }
    gsl_rng_free(a.rng);
    return rc;
}

/* Huge outliers: rows h..n-1 of m become +-1e6 (sign by row and coordinate); hm gets the mean of the h honest
 * rows and the return value is the largest distance of an honest row from it. */
static double plant_outliers(mat_t *m, size_t h, double *hm)
{
    const size_t n = m->n, d = m->d;
    for (size_t i = h; i < n; i++)
        for (size_t l = 0; l < d; l++)
            m->rows[i][l] = (i % 2 ? 1e6f : -1e6f) * (l % 3 == 0 ? -1.0f : 1.0f);
    ref_mean((const float *const *)m->rows, h, d, hm);
    double spread = 0.0;
    for (size_t i = 0; i < h; i++) {
        double s = 0.0;
        for (size_t l = 0; l < d; l++)
            s += (m->rows[i][l] - hm[l]) * (m->rows[i][l] - hm[l]);
        spread = fmax(spread, sqrt(s));
    }
    return spread;
}

/* ---------------------------------------------------------------- sweeps over random inputs */

/* One check on an input of the given kind (see fill); it may change the input. */
typedef void input_check_fn(mat_t *m, int kind, const void *ctx);

/* Every n of ns and d of ds (in that nesting), filled in turn with the kinds 0, kind_step, ... < 3 from r, each
 * handed to check. */
static void sweep_inputs(gsl_rng *r, const size_t *ns, size_t n_ns, const size_t *ds, size_t n_ds, int kind_step,
                         input_check_fn *check, const void *ctx)
{
    for (size_t ni = 0; ni < n_ns; ni++)
        for (size_t di = 0; di < n_ds; di++) {
            mat_t m = mat_new(ns[ni], ds[di]);
            for (int kind = 0; kind < 3; kind += kind_step) {
                fill(r, &m, kind);
                check(&m, kind, ctx);
            }
            mat_free(&m);
        }
}

/* The f values tried at n, in order (small n repeats some); returns how many. */
enum { FS_HALF, FS_QUARTER, FS_QUARTER_BELOW, FS_PAST_HALF };

static size_t f_values(int list, size_t n, size_t fs[6])
{
    const size_t v[][6] = {{0, 1, (n - 1) / 2}, {0, 1, n / 4, (n - 1) / 2}, {0, 1, (n - 1) / 4, (n - 1) / 2},
                           {0, 1, n / 4, (n - 1) / 2, n / 2, n - 1}};
    static const size_t len[] = {3, 4, 4, 6};
    memcpy(fs, v[list], sizeof v[list]);
    return len[list];
}

/* A reference given the rule's f (the references of rules without one ignore it). */
typedef void ref_fn(const float *const *in, size_t n, size_t d, size_t f, double *out);

static void ref_mean_f(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    (void)f;
    ref_mean(in, n, d, out);
}

static void ref_cm_f(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    (void)f;
    ref_cm(in, n, d, out);
}

static void ref_meamed_f(const float *const *in, size_t n, size_t d, size_t f, double *out)
{
    ref_meamed(in, n, d, n - f, out);
}

/* A rule against its reference, run through bg_robust_init (pre NULL: none) at every f of the sweep that when
 * accepts (when NULL: f < n/2) or, once set, at f = 0 only, once per input and ahead of the f values. */
typedef struct {
    const char *pre, *agg;
    ref_fn *ref;
    int (*when)(size_t n, size_t f, int kind);
    double tol;   /* relative, per coordinate; 0: the reference rounded to float, bit for bit */
    int once;
    const char *twin;   /* if set, a rule that gives the same bits where f < n/2 and refuses with BG_ERANGE elsewhere */
} rule_case_t;

typedef struct {
    int fs;   /* FS_* */
    const rule_case_t *cases;
    size_t n_cases;
} rule_sweep_t;

static void check_rule(const rule_case_t *c, const mat_t *m, size_t f, int kind, float *out, double *ref, float *tw)
{
    const size_t n = m->n, d = m->d;
    assert_int_equal(run_agg(c->pre, c->agg, f, m, out), BG_OK);
    c->ref((const float *const *)m->rows, n, d, f, ref);
    if (c->tol == 0.0) {
        for (size_t j = 0; j < d; j++)
            assert_true(out[j] == (float)ref[j]);
        return;
    }
    size_t j = vec_far(out, ref, d, c->tol);
    if (j < d)
        fail_msg("%s (pre %s), n = %zu, d = %zu, f = %zu, kind %d, coordinate %zu: got %.9g, want %.9g", c->agg,
                 c->pre ? c->pre : "NULL", n, d, f, kind, j, (double)out[j], ref[j]);
    if (c->twin) {
        int rc = run_agg(c->pre, c->twin, f, m, tw);
        if (2 * f < n) {
            assert_int_equal(rc, BG_OK);
            assert_memory_equal(out, tw, d * sizeof(float));
        } else {
            assert_int_equal(rc, BG_ERANGE);
        }
    }
}

static void check_rules(mat_t *m, int kind, const void *ctx)
{
    const rule_sweep_t *s = ctx;
    const size_t n = m->n, d = m->d;
    float *out = malloc(d * sizeof *out), *tw = malloc(d * sizeof *tw);
    double *ref = malloc(d * sizeof *ref);
    for (size_t ci = 0; ci < s->n_cases; ci++)
        if (s->cases[ci].once)
            check_rule(&s->cases[ci], m, 0, kind, out, ref, tw);
    size_t fs[6], nf = f_values(s->fs, n, fs);
    for (size_t fi = 0; fi < nf; fi++)
        for (size_t ci = 0; ci < s->n_cases; ci++) {
            const rule_case_t *c = &s->cases[ci];
            if (!c->once && (c->when ? c->when(n, fs[fi], kind) : 2 * fs[fi] < n))
                check_rule(c, m, fs[fi], kind, out, ref, tw);
        }
    free(out);
    free(tw);
    free(ref);
}

/* Every case at every f of fs on every input of the sweep (see sweep_inputs). */
static void sweep_rules(gsl_rng *r, const size_t *ns, size_t n_ns, const size_t *ds, size_t n_ds, int kind_step,
                        int fs, const rule_case_t *cases, size_t n_cases)
{
    const rule_sweep_t s = {fs, cases, n_cases};
    sweep_inputs(r, ns, n_ns, ds, n_ds, kind_step, check_rules, &s);
}

static const size_t NS[] = {1, 2, 3, 4, 5, 8, 20, 21, 33, 64, 100, 128, 129, 150, 256, 257, 300};
static const size_t DS[] = {1, 5, 31, 32, 33, 123, 300};

/* ---------------------------------------------------------------- tests against references */

static void test_mean_cm_cwtm_vs_reference(void **state)
{
    (void)state;
    static const rule_case_t cases[] = {
        {.agg = "mean", .ref = ref_mean_f, .tol = RTOL, .once = 1},
        {.pre = "none", .agg = "cm", .ref = ref_cm_f, .tol = RTOL, .once = 1},
        {.agg = "cwtm", .ref = ref_trimmed, .tol = RTOL},
        {.agg = "cm", .ref = ref_cm_f, .tol = RTOL},
    };
    gsl_rng *r = bg_rng_stream(7, BG_RNG_SERVER, 0);
    sweep_rules(r, NS, LEN(NS), DS, LEN(DS), 1, FS_QUARTER, cases, LEN(cases));
    gsl_rng_free(r);
}

/* The median is two order statistics of floats averaged in double, so the network (in registers for the
 * first 16-row stages on AVX-512, through the L1 block after) must give the reference's bits exactly, not
 * just within RTOL: a comparator dropped or misordered shows up here even when the value lands close. */
static void test_cm_exact_bits(void **state)
{
    (void)state;
    static const size_t ns[] = {17, 33, 48, 63, 100, 128, 200};
    static const size_t ds[] = {64, 300};
    static const rule_case_t cases[] = {{.pre = "none", .agg = "cm", .ref = ref_cm_f, .tol = 0.0, .once = 1}};
    gsl_rng *r = bg_rng_stream(11, BG_RNG_SERVER, 0);
    /* f = 0 once per input: the f list goes unused */
    sweep_rules(r, ns, LEN(ns), ds, LEN(ds), 1, FS_HALF, cases, LEN(cases));
    gsl_rng_free(r);
}

static void test_cwtm_trim_rule(void **state)
{
    (void)state;
    /* n = 20, f = 9: mean of the two middle values; f = 8: mean of the middle four. */
    mat_t m = mat_new(20, 1);
    for (size_t i = 0; i < 20; i++)
        m.data[i] = (float)((i * 7) % 20);   /* a permutation of 0..19 */
    float out;
    assert_int_equal(run_agg(NULL, "cwtm", 9, &m, &out), BG_OK);
    assert_true(out == 9.5f);
    assert_int_equal(run_agg(NULL, "cwtm", 8, &m, &out), BG_OK);
    assert_true(out == 9.5f);
    m.data[0] = 1000.0f;   /* was 0: every middle order statistic moves up by one */
    assert_int_equal(run_agg(NULL, "cwtm", 9, &m, &out), BG_OK);
    assert_true(out == 10.5f);
    assert_int_equal(run_agg(NULL, "cm", 9, &m, &out), BG_OK);
    assert_true(out == 10.5f);
    assert_int_equal(run_agg(NULL, "cwtm", 0, &m, &out), BG_OK);
    assert_true(fabs(out - (190.0 + 1000.0) / 20.0) < 1e-4);
    mat_free(&m);
}

static void check_nnm(mat_t *m, int kind, const void *ctx)
{
    (void)kind;
    (void)ctx;
    const size_t n = m->n, d = m->d;
    mat_t y = mat_new(n, d);
    double *ref = malloc(n * d * sizeof *ref);
    size_t fs[6], nf = f_values(FS_QUARTER, n, fs);
    for (size_t fi = 0; fi < nf; fi++) {
        size_t f = fs[fi];
        if (2 * f >= n)
            continue;
        const bg_preagg_ops_t *p = bg_preagg_find("nnm");
        assert_non_null(p);
        bg_agg_args_t a;
        bg_agg_args_default(&a);
        a.f = f;
        size_t n_out = 0;
        assert_int_equal(p->run(&a, NULL, (const float *const *)m->rows, n, d, y.rows, &n_out), BG_OK);
        assert_int_equal(n_out, n);
        ref_nnm((const float *const *)m->rows, n, d, f, ref);
        for (size_t i = 0; i < n; i++)
            assert_vec_close(y.rows[i], ref + i * d, d, RTOL);
        assert_true(p->flops(&a, n, d) > 0.0);
    }
    free(ref);
    mat_free(&y);
}

static void test_nnm_vs_reference(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 2, 3, 5, 20, 21, 40};
    static const size_t ds[] = {1, 7, 123, 700};
    gsl_rng *r = bg_rng_stream(8, BG_RNG_SERVER, 0);
    sweep_inputs(r, ns, LEN(ns), ds, LEN(ds), 1, check_nnm, NULL);
    gsl_rng_free(r);
}

/* The means go through one matrix product per column chunk of about 32768 / n coordinates: sizes that span
 * several chunks and a ragged tail, the same bits on a second run, and the row-by-row fallback when an input
 * is not finite (a zero weight times Inf in the product would turn every output into NaN). */
static void test_nnm_chunks_and_fallback(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(18, BG_RNG_SERVER, 0);
    static const size_t ns[] = {7, 21, 100};
    static const size_t ds[] = {4700, 3001, 701};
    const bg_preagg_ops_t *p = bg_preagg_find("nnm");
    assert_non_null(p);
    for (size_t k = 0; k < 3; k++) {
        size_t n = ns[k], d = ds[k];
        mat_t m = mat_new(n, d), y = mat_new(n, d), y2 = mat_new(n, d);
        double *ref = malloc(n * d * sizeof *ref);
        for (int kind = 0; kind < 3; kind++) {
            fill(r, &m, kind);
            bg_agg_args_t a;
            bg_agg_args_default(&a);
            a.f = n / 5 ? n / 5 : 1;
            size_t n_out = 0;
            assert_int_equal(p->run(&a, NULL, (const float *const *)m.rows, n, d, y.rows, &n_out), BG_OK);
            assert_int_equal(p->run(&a, NULL, (const float *const *)m.rows, n, d, y2.rows, &n_out), BG_OK);
            assert_memory_equal(y.data, y2.data, n * d * sizeof(float));
            ref_nnm((const float *const *)m.rows, n, d, a.f, ref);
            for (size_t i = 0; i < n; i++)
                assert_vec_close(y.rows[i], ref + i * d, d, RTOL);
        }
        free(ref);
        mat_free(&m);
        mat_free(&y);
        mat_free(&y2);
    }
    /* n = 5, f = 1, row 4 all +Inf: rows 0..3 keep each other only, so their outputs are the finite mean of
     * rows 0..3. */
    size_t n = 5, d = 300;
    mat_t m = mat_new(n, d), y = mat_new(n, d);
    fill(r, &m, 0);
    for (size_t l = 0; l < d; l++)
        m.rows[4][l] = INFINITY;
    double *ref = malloc(d * sizeof *ref);
    ref_mean((const float *const *)m.rows, 4, d, ref);
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.f = 1;
    size_t n_out = 0;
    assert_int_equal(p->run(&a, NULL, (const float *const *)m.rows, n, d, y.rows, &n_out), BG_OK);
    for (size_t i = 0; i < 4; i++)
        assert_vec_close(y.rows[i], ref, d, RTOL);
    free(ref);
    mat_free(&m);
    mat_free(&y);
    gsl_rng_free(r);
}

static void test_nnm_cm_pipeline_vs_reference(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(9, BG_RNG_SERVER, 0);
    size_t n = 20, d = 123;
    mat_t m = mat_new(n, d), y = mat_new(n, d);
    double *ref = malloc(n * d * sizeof *ref), *agg = malloc(d * sizeof *agg);
    float *out = malloc(d * sizeof *out);
    for (size_t f = 0; f < 10; f++) {
        fill(r, &m, 0);
        ref_nnm((const float *const *)m.rows, n, d, f, ref);
        for (size_t i = 0; i < n * d; i++)
            y.data[i] = (float)ref[i];
        ref_cm((const float *const *)y.rows, n, d, agg);
        assert_int_equal(run_agg("nnm", "cm", f, &m, out), BG_OK);
        assert_vec_close(out, agg, d, RTOL);
    }
    free(ref);
    free(agg);
    free(out);
    mat_free(&m);
    mat_free(&y);
    gsl_rng_free(r);
}

static void check_rfa(mat_t *m, int kind, const void *ctx)
{
    (void)kind;
    (void)ctx;
    const size_t n = m->n, d = m->d;
    float *out = malloc(d * sizeof *out);
    double *ref = malloc(d * sizeof *ref);
    if (n > 3)   /* an outlier so the geometric median differs from the mean */
        for (size_t l = 0; l < d; l++)
            m->rows[1][l] += 50.0f;
    ref_rfa((const float *const *)m->rows, n, d, 0.1, 10000, ref);
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.rfa_iters = 100000;
    a.rfa_tol = 1e-12;
    const bg_aggregator_ops_t *g = bg_aggregator_find("rfa");
    assert_int_equal(g->run(&a, NULL, (const float *const *)m->rows, n, d, out), BG_OK);
    assert_vec_close(out, ref, d, RTOL);
    /* The default cap (8 iterations) still lands near it, far from the pulled mean. */
    bg_agg_args_default(&a);
    assert_int_equal(g->run(&a, NULL, (const float *const *)m->rows, n, d, out), BG_OK);
    for (size_t l = 0; l < d; l++)
        assert_true(fabs(out[l] - ref[l]) < 1.0);
    free(out);
    free(ref);
}

static void test_rfa_vs_long_weiszfeld(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 2, 3, 7, 20};
    static const size_t ds[] = {1, 5, 50};
    gsl_rng *r = bg_rng_stream(10, BG_RNG_SERVER, 0);
    sweep_inputs(r, ns, LEN(ns), ds, LEN(ds), 2, check_rfa, NULL);
    gsl_rng_free(r);
}

/* ---------------------------------------------------------------- robustness */

static void test_huge_outliers(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(11, BG_RNG_SERVER, 0);
    size_t n = 20, d = 200;
    mat_t m = mat_new(n, d);
    float *out = malloc(d * sizeof *out);
    for (size_t f = 1; f < 10; f++) {
        size_t h = n - f;
        fill(r, &m, 0);
        double *hm = malloc(d * sizeof *hm);
        double spread = plant_outliers(&m, h, hm);
        static const char *const aggs[] = {"cm", "cwtm"};
        for (int ai = 0; ai < 2; ai++) {
            assert_int_equal(run_agg(NULL, aggs[ai], f, &m, out), BG_OK);
            for (size_t l = 0; l < d; l++) {
                float lo = INFINITY, hi = -INFINITY;
                for (size_t i = 0; i < h; i++) {
                    lo = fminf(lo, m.rows[i][l]);
                    hi = fmaxf(hi, m.rows[i][l]);
                }
                assert_true(out[l] >= lo && out[l] <= hi);
            }
        }
        static const char *const all[] = {"cm", "cwtm", "rfa"};
        for (int ai = 0; ai < 3; ai++) {
            assert_int_equal(run_agg("nnm", all[ai], f, &m, out), BG_OK);
            double s = 0.0;
            for (size_t l = 0; l < d; l++)
                s += (out[l] - hm[l]) * (out[l] - hm[l]);
            assert_true(sqrt(s) <= spread);
        }
        free(hm);
    }
    free(out);
    mat_free(&m);
    gsl_rng_free(r);
}

static void test_f_limits(void **state)
{
    (void)state;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    assert_int_equal(a.rfa_iters, 8);
    assert_true(a.rfa_nu == 0.1 && a.rfa_tol == 1e-6 && a.f == 0);
    assert_true(a.krum_power == 2 && a.krum_m == 0 && a.cc_tau == 10.0 && a.cc_iters == 3 && a.bucket_s == 2);
    assert_true(a.clip_tau == 1.0 && a.dnc_iters == 1 && a.dnc_sub_dim == 10000 && a.dnc_filter_frac == 1.0);
    assert_true(a.mda_max_subsets == 1e6 && a.rng == NULL);
    bg_robust_t r;
    bg_err_t err;
    a.f = 10;
    static const char *const rules[] = {"cm", "cwtm", "rfa"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(bg_robust_init(&r, NULL, rules[i], &a, 20, 5, &err), BG_ERANGE);
        assert_non_null(strstr(err.msg, rules[i]));
        assert_non_null(strstr(err.msg, "f = 10"));
    }
    assert_int_equal(bg_robust_init(&r, "nnm", "mean", &a, 20, 5, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "nnm"));
    a.f = 9;
    assert_int_equal(bg_robust_init(&r, NULL, "cm", &a, 17, 5, &err), BG_ERANGE);
    assert_string_equal(err.msg, "f = 9 needs f < n/2 = 8.5 for cm");
    assert_int_equal(bg_robust_init(&r, NULL, "cm", &a, 19, 5, &err), BG_OK);
    bg_robust_destroy(&r);
    a.f = 10;   /* mean does not need a majority */
    assert_int_equal(bg_robust_init(&r, "none", "mean", &a, 20, 5, &err), BG_OK);
    assert_true(bg_robust_flops(&r) > 0.0);
    bg_robust_destroy(&r);
    a.f = 20;
    assert_int_equal(bg_robust_init(&r, "none", "mean", &a, 20, 5, &err), BG_ERANGE);

    a.f = 0;
    assert_int_equal(bg_robust_init(&r, "nope", "cm", &a, 20, 5, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nnm"));
    assert_int_equal(bg_robust_init(&r, NULL, "krumm", &a, 20, 5, &err), BG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "krumm"));
    assert_non_null(strstr(err.msg, "cwtm"));
    a.rfa_nu = 0.0;
    assert_int_equal(bg_robust_init(&r, NULL, "rfa", &a, 20, 5, &err), BG_ERANGE);

    /* Registries. */
    assert_non_null(bg_preagg_find("none"));
    assert_non_null(bg_preagg_find("nnm"));
    static const char *const names[] = {"mean", "cm", "cwtm", "rfa"};
    for (int i = 0; i < 4; i++) {
        const bg_aggregator_ops_t *g = bg_aggregator_find(names[i]);
        assert_non_null(g);
        bg_agg_args_default(&a);
        a.f = 3;
        assert_true(g->flops(&a, 20, 100) > 0.0);
    }
    assert_null(bg_aggregator_find("nope"));
}

static void test_non_finite_inputs(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(12, BG_RNG_SERVER, 0);
    size_t n = 20, d = 77;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    mat_t m = mat_new(n, d);
    float *out = malloc(d * sizeof *out), *want = malloc(d * sizeof *want);
    size_t runs = 0;
    static const size_t fs[] = {1, 2, 4, 9};
    for (size_t fi = 0; fi < 4; fi++) {
        size_t f = fs[fi];
        for (size_t nb = 0; nb <= f + 1 && nb <= n; nb++) {
            fill(r, &m, 0);
            /* nb rows at random positions get a non-finite entry (whole row for the first). */
            unsigned char *isbad = calloc(n, 1);
            for (size_t q = 0; q < nb;) {
                size_t i = gsl_rng_uniform_int(r, n);
                if (isbad[i])
                    continue;
                isbad[i] = 1;
                if (q == 0)
                    for (size_t l = 0; l < d; l++)
                        m.rows[i][l] = bad[q % 3];
                else
                    m.rows[i][gsl_rng_uniform_int(r, d)] = bad[q % 3];
                q++;
            }
            mat_t good = mat_new(n - nb, d);
            for (size_t i = 0, k = 0; i < n; i++)
                if (!isbad[i])
                    memcpy(good.rows[k++], m.rows[i], d * sizeof(float));
            for (size_t pi = 0; bg_preagg_registry[pi]; pi++)
                for (size_t ai = 0; bg_aggregator_registry[ai]; ai++) {
                    const char *pn = bg_preagg_registry[pi]->name, *an = bg_aggregator_registry[ai]->name;
                    bg_agg_args_t a;
                    bg_agg_args_default(&a);
                    a.f = f;
                    a.rng = bg_rng_stream(99, BG_RNG_SERVER, 0);
                    bg_robust_t rb;
                    bg_err_t err;
                    if (bg_robust_init(&rb, pn, an, &a, n, d, &err) != BG_OK) {
                        /* Only the documented limits may refuse: bulyan n > 4f, bucketing's f < n_out/2. */
                        assert_true(strstr(err.msg, "bulyan") || strstr(err.msg, "buckets"));
                        gsl_rng_free(a.rng);
                        continue;
                    }
                    size_t dropped = 999;
                    int rc = bg_robust_run(&rb, (const float *const *)m.rows, out, &dropped);
                    assert_int_equal(dropped, nb);
                    bg_robust_destroy(&rb);
                    gsl_rng_free(a.rng);
                    runs++;
                    if (nb > f) {
                        assert_int_equal(rc, BG_ERANGE);
                        continue;
                    }
                    assert_int_equal(rc, BG_OK);
                    for (size_t l = 0; l < d; l++)
                        assert_true(isfinite(out[l]));
                    assert_int_equal(run_agg(pn, an, f - nb, &good, want), BG_OK);
                    assert_memory_equal(out, want, d * sizeof(float));
                }
            mat_free(&good);
            free(isbad);
        }
    }
    assert_true(runs > 1000);
    /* A NULL row counts as dropped. */
    fill(r, &m, 0);
    float *saved = m.rows[4];
    m.rows[4] = NULL;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.f = 2;
    bg_robust_t rb;
    bg_err_t err;
    assert_int_equal(bg_robust_init(&rb, "nnm", "cm", &a, n, d, &err), BG_OK);
    size_t dropped = 0;
    assert_int_equal(bg_robust_run(&rb, (const float *const *)m.rows, out, &dropped), BG_OK);
    assert_int_equal(dropped, 1);
    bg_robust_destroy(&rb);
    m.rows[4] = saved;
    free(out);
    free(want);
    mat_free(&m);
    gsl_rng_free(r);
}


/* ---------------------------------------------------------------- newer rules against references */

static const bg_aggregator_ops_t *agg_ops(const char *name)
{
    const bg_aggregator_ops_t *g = bg_aggregator_find(name);
    assert_non_null(g);
    return g;
}

static int f_below_n(size_t n, size_t f, int kind)
{
    (void)kind;
    return f < n;
}

static void test_tm_vs_reference(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 2, 3, 5, 20, 21, 64, 129, 300};
    static const size_t ds[] = {1, 33, 123};
    static const rule_case_t cases[] = {   /* cwtm is tm where f < n/2: the documented equivalence */
        {.agg = "tm", .ref = ref_trimmed, .when = f_below_n, .tol = RTOL, .twin = "cwtm"},
    };
    gsl_rng *r = bg_rng_stream(20, BG_RNG_SERVER, 0);
    sweep_rules(r, ns, LEN(ns), ds, LEN(ds), 1, FS_PAST_HALF, cases, LEN(cases));
    gsl_rng_free(r);
}

static void check_krum_family(mat_t *m, int kind, const void *ctx)
{
    (void)kind;
    (void)ctx;
    const size_t n = m->n, d = m->d;
    const float *const *in = (const float *const *)m->rows;
    float *out = malloc(d * sizeof *out);
    double *ref = malloc(d * sizeof *ref);
    size_t fs[6], nf = f_values(FS_HALF, n, fs);
    for (size_t fi = 0; fi < nf; fi++) {
        size_t f = fs[fi];
        if (2 * f >= n)
            continue;
        for (int power = 2; power <= 4; power += 2) {
            bg_agg_args_t a;
            bg_agg_args_default(&a);
            a.f = f;
            a.krum_power = power;
            assert_int_equal(agg_ops("krum")->run(&a, NULL, in, n, d, out), BG_OK);
            ref_multikrum(in, n, d, f, power, 1, ref);
            assert_vec_close(out, ref, d, RTOL);
            static const size_t ms[] = {0, 3, 1000};
            for (size_t mi = 0; mi < 3; mi++) {
                a.krum_m = ms[mi];
                size_t mm = ms[mi] == 0 ? n - f : ms[mi] < n ? ms[mi] : n;
                assert_int_equal(agg_ops("multikrum")->run(&a, NULL, in, n, d, out), BG_OK);
                ref_multikrum(in, n, d, f, power, mm, ref);
                assert_vec_close(out, ref, d, RTOL);
            }
        }
    }
    free(out);
    free(ref);
}

static void test_krum_family_vs_reference(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 3, 5, 8, 20, 33};
    static const size_t ds[] = {1, 7, 50};
    gsl_rng *r = bg_rng_stream(21, BG_RNG_SERVER, 0);
    sweep_inputs(r, ns, LEN(ns), ds, LEN(ds), 1, check_krum_family, NULL);
    gsl_rng_free(r);
}

/* Bulyan needs n > 4f (so also f < n/2); its reference's repeated Krum is slow past n = 64. */
static int bulyan_fits(size_t n, size_t f, int kind)
{
    (void)kind;
    return n > 4 * f && n <= 64;
}

static void test_meamed_bulyan_vs_reference(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 2, 3, 5, 9, 13, 20, 21, 64, 257, 300};
    static const size_t ds[] = {1, 7, 33, 70};
    static const rule_case_t cases[] = {
        {.agg = "meamed", .ref = ref_meamed_f, .tol = RTOL},
        {.agg = "bulyan", .ref = ref_bulyan, .when = bulyan_fits, .tol = RTOL},
    };
    gsl_rng *r = bg_rng_stream(22, BG_RNG_SERVER, 0);
    sweep_rules(r, ns, LEN(ns), ds, LEN(ds), 1, FS_QUARTER_BELOW, cases, LEN(cases));
    gsl_rng_free(r);
}

/* Integer data (kind 1) ties diameters: MDA's mask and the reference's lexicographic order differ. */
static int mda_untied(size_t n, size_t f, int kind)
{
    return 2 * f < n && kind != 1;
}

static void test_mda_monna_vs_reference(void **state)
{
    (void)state;
    static const size_t ns[] = {1, 2, 3, 5, 8, 11, 14};
    static const size_t ds[] = {1, 5, 40};
    static const rule_case_t cases[] = {
        {.agg = "monna", .ref = ref_monna, .tol = RTOL},
        {.agg = "mda", .ref = ref_mda, .when = mda_untied, .tol = RTOL},
    };
    gsl_rng *r = bg_rng_stream(23, BG_RNG_SERVER, 0);
    sweep_rules(r, ns, LEN(ns), ds, LEN(ds), 1, FS_HALF, cases, LEN(cases));
    gsl_rng_free(r);
}

static void test_dnc_vs_reference(void **state)
{
    (void)state;
    static const size_t ns[] = {3, 5, 20};
    static const size_t ds[] = {20, 57, 123};
    static const rule_case_t cases[] = {
        {.agg = "dnc", .ref = ref_dnc, .tol = RTOL},   /* d <= sub_dim: no sampling */
    };
    gsl_rng *r = bg_rng_stream(24, BG_RNG_SERVER, 0);
    sweep_rules(r, ns, LEN(ns), ds, LEN(ds), 2, FS_HALF, cases, LEN(cases));
    /* Robustness with subsampling: f inputs shifted along every coordinate are the ones removed. */
    size_t n = 20, d = 5000, f = 4;
    mat_t m = mat_new(n, d);
    fill(r, &m, 0);
    for (size_t i = n - f; i < n; i++)
        for (size_t l = 0; l < d; l++)
            m.rows[i][l] += 3.0f;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    a.f = f;
    a.dnc_sub_dim = 100;
    a.rng = bg_rng_stream(5, BG_RNG_SERVER, 0);
    float *out = malloc(d * sizeof *out);
    double *hm = malloc(d * sizeof *hm);
    assert_int_equal(agg_ops("dnc")->run(&a, NULL, (const float *const *)m.rows, n, d, out), BG_OK);
    ref_mean((const float *const *)m.rows, n - f, d, hm);
    assert_vec_close(out, hm, d, RTOL);
    a.dnc_iters = 3;   /* intersection of three kept sets: still only honest rows */
    assert_int_equal(agg_ops("dnc")->run(&a, NULL, (const float *const *)m.rows, n, d, out), BG_OK);
    for (size_t l = 0; l < d; l++)
        assert_true(fabs(out[l]) < 1.5);
    gsl_rng_free(a.rng);
    free(out);
    free(hm);
    mat_free(&m);
    gsl_rng_free(r);
}

static void test_cc_vs_reference(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(25, BG_RNG_SERVER, 0);
    static const size_t ns[] = {1, 3, 20};
    static const size_t ds[] = {1, 7, 300};
    static const double taus[] = {0.5, 10.0};
    for (size_t ni = 0; ni < 3; ni++)
        for (size_t di = 0; di < 3; di++)
            for (size_t ti = 0; ti < 2; ti++)
                for (size_t L = 1; L <= 3; L += 2) {
                    size_t n = ns[ni], d = ds[di];
                    mat_t m = mat_new(n, d);
                    float *out = malloc(d * sizeof *out);
                    double *v = calloc(d, sizeof *v);
                    bg_agg_args_t a;
                    bg_agg_args_default(&a);
                    a.f = (n - 1) / 2;
                    a.cc_tau = taus[ti];
                    a.cc_iters = L;
                    bg_robust_t rb;
                    bg_err_t err;
                    assert_int_equal(bg_robust_init(&rb, NULL, "cc", &a, n, d, &err), BG_OK);
                    for (int call = 0; call < 3; call++) {   /* the centre is carried from call to call */
                        fill(r, &m, call == 2 ? 2 : 0);
                        assert_int_equal(bg_robust_run(&rb, (const float *const *)m.rows, out, NULL), BG_OK);
                        ref_cc((const float *const *)m.rows, n, d, taus[ti], L, v);
                        assert_vec_close(out, v, d, RTOL);
                    }
                    bg_robust_destroy(&rb);
                    free(out);
                    free(v);
                    mat_free(&m);
                }
    gsl_rng_free(r);
}

static void test_bucketing_clip_arc_vs_reference(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(26, BG_RNG_SERVER, 0);
    static const size_t ns[] = {1, 2, 5, 20, 21};
    const size_t d = 17;
    for (size_t ni = 0; ni < 5; ni++) {
        size_t n = ns[ni];
        mat_t m = mat_new(n, d), y = mat_new(n, d);
        fill(r, &m, 0);
        const float *const *in = (const float *const *)m.rows;
        size_t ss[] = {1, 2, 3, n};
        for (size_t si = 0; si < 4; si++) {
            size_t s = ss[si], nout = 0;
            bg_agg_args_t a;
            bg_agg_args_default(&a);
            a.bucket_s = s;
            a.rng = bg_rng_stream(5, BG_RNG_SERVER, n);
            assert_int_equal(bg_preagg_find("bucketing")->run(&a, NULL, in, n, d, y.rows, &nout), BG_OK);
            assert_int_equal(nout, (n + s - 1) / s);
            /* Reference: the same stream shuffles 0..n-1 the same way (gsl_ran_shuffle on size_t). */
            gsl_rng_free(a.rng);
            a.rng = bg_rng_stream(5, BG_RNG_SERVER, n);
            size_t *perm = malloc(n * sizeof *perm);
            for (size_t i = 0; i < n; i++)
                perm[i] = i;
            gsl_ran_shuffle(a.rng, perm, n, sizeof *perm);
            double *ref = malloc(d * sizeof *ref), *tot = calloc(d, sizeof *tot);
            for (size_t b = 0; b < nout; b++) {
                size_t cnt = n - b * s < s ? n - b * s : s;
                ref_mean_of(in, perm + b * s, cnt, d, ref);
                assert_vec_close(y.rows[b], ref, d, RTOL);
                for (size_t l = 0; l < d; l++)
                    tot[l] += (double)cnt * y.rows[b][l];
            }
            ref_mean(in, n, d, ref);   /* property: every input lands in exactly one bucket */
            for (size_t l = 0; l < d; l++)
                tot[l] /= (double)n;
            for (size_t l = 0; l < d; l++)
                assert_true(fabs(tot[l] - ref[l]) <= 1e-5 * (1.0 + fabs(ref[l])));
            gsl_rng_free(a.rng);
            free(perm);
            free(ref);
            free(tot);
        }
        /* Static clipping and ARC. */
        double *norm = malloc(n * sizeof *norm);
        cand_t *c = malloc(n * sizeof *c);
        for (size_t i = 0; i < n; i++) {
            for (size_t l = 0; l < d; l++)
                m.rows[i][l] *= (float)(i + 1) * 0.2f;   /* spread the norms */
            norm[i] = sqrt(ref_d2(m.rows[i], (float[17]){0}, d));
            c[i].dist = norm[i];
            c[i].idx = i;
        }
        qsort(c, n, sizeof *c, cand_cmp);
        double want[17];
        for (size_t fi = 0; fi < 4; fi++) {
            size_t f = (size_t[]){0, 1, n / 4, (n - 1) / 2}[fi], nout = 0;
            bg_agg_args_t a;
            bg_agg_args_default(&a);
            a.f = f;
            a.clip_tau = 1.5;
            assert_int_equal(bg_preagg_find("clip")->run(&a, NULL, in, n, d, y.rows, &nout), BG_OK);
            assert_int_equal(nout, n);
            for (size_t i = 0; i < n; i++) {
                double k = norm[i] > 1.5 ? 1.5 / norm[i] : 1.0;
                for (size_t l = 0; l < d; l++)
                    want[l] = k * m.rows[i][l];
                assert_vec_close(y.rows[i], want, d, RTOL);
            }
            assert_int_equal(bg_preagg_find("arc")->run(&a, NULL, in, n, d, y.rows, &nout), BG_OK);
            size_t kc = (size_t)floor(2.0 * (double)f / (double)n * (double)(n - f));
            double thr = c[n - kc - 1].dist;
            for (size_t i = 0; i < n; i++) {
                double k = norm[i] > thr ? thr / norm[i] : 1.0;
                for (size_t l = 0; l < d; l++)
                    want[l] = k * m.rows[i][l];
                assert_vec_close(y.rows[i], want, d, RTOL);
            }
        }
        free(norm);
        free(c);
        mat_free(&m);
        mat_free(&y);
    }
    gsl_rng_free(r);
}

/* Every pre-aggregator composes with every aggregator: init accepts, the output is finite, flops are charged. */
static void test_every_pair_composes(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(27, BG_RNG_SERVER, 0);
    const size_t n = 30, d = 64, f = 2;
    mat_t m = mat_new(n, d);
    float *out = malloc(d * sizeof *out);
    size_t pairs = 0;
    for (size_t pi = 0; bg_preagg_registry[pi]; pi++)
        for (size_t ai = 0; bg_aggregator_registry[ai]; ai++) {
            fill(r, &m, (int)(pairs % 3));
            bg_agg_args_t a;
            bg_agg_args_default(&a);
            a.f = f;
            a.rng = r;
            bg_robust_t rb;
            bg_err_t err;
            int rc = bg_robust_init(&rb, bg_preagg_registry[pi]->name, bg_aggregator_registry[ai]->name, &a, n, d,
                                    &err);
            if (rc != BG_OK)
                fail_msg("%s + %s: %s", bg_preagg_registry[pi]->name, bg_aggregator_registry[ai]->name, err.msg);
            double fl = bg_robust_flops(&rb);
            assert_true(fl > 0.0 && isfinite(fl));
            for (int call = 0; call < 2; call++) {
                assert_int_equal(bg_robust_run(&rb, (const float *const *)m.rows, out, NULL), BG_OK);
                for (size_t l = 0; l < d; l++)
                    assert_true(isfinite(out[l]));
            }
            bg_robust_destroy(&rb);
            pairs++;
        }
    assert_true(pairs >= 5 * 13);
    free(out);
    mat_free(&m);
    gsl_rng_free(r);
}

/* f huge outliers never drag any robust rule, with any pre-aggregator, further from the honest mean than three
 * times the honest spread (the mean is the control: it is dragged away). */
static void test_outliers_every_rule(void **state)
{
    (void)state;
    gsl_rng *r = bg_rng_stream(28, BG_RNG_SERVER, 0);
    const size_t n = 20, d = 200;
    mat_t m = mat_new(n, d);
    float *out = malloc(d * sizeof *out);
    double *hm = malloc(d * sizeof *hm);
    size_t checked = 0;
    for (size_t f = 1; f <= 4; f++) {
        size_t h = n - f;
        fill(r, &m, 0);
        double spread = plant_outliers(&m, h, hm);
        for (size_t pi = 0; bg_preagg_registry[pi]; pi++)
            for (size_t ai = 0; bg_aggregator_registry[ai]; ai++) {
                const char *pn = bg_preagg_registry[pi]->name, *an = bg_aggregator_registry[ai]->name;
                int rc = run_agg(pn, an, f, &m, out);
                if (rc == BG_ERANGE && !strcmp(an, "bulyan"))
                    continue;
                assert_int_equal(rc, BG_OK);
                double s = 0.0;
                for (size_t l = 0; l < d; l++)
                    s += (out[l] - hm[l]) * (out[l] - hm[l]);
                if (!strcmp(an, "mean")) {   /* the control: only robust pre-aggregators save it */
                    if (f % 2 && (!strcmp(pn, "none") || !strcmp(pn, "bucketing")))   /* odd: no cancelling */
                        assert_true(sqrt(s) > 1e3);
                    continue;
                }
                if (!(sqrt(s) <= 3.0 * spread))
                    fail_msg("%s + %s, f = %zu: %g from the honest mean, spread %g", pn, an, f, sqrt(s), spread);
                checked++;
            }
    }
    assert_true(checked > 150);
    free(out);
    free(hm);
    mat_free(&m);
    gsl_rng_free(r);
}

static void test_new_limits(void **state)
{
    (void)state;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    bg_robust_t r;
    bg_err_t err;
    a.f = 9;
    assert_int_equal(bg_robust_init(&r, NULL, "bulyan", &a, 20, 5, &err), BG_ERANGE);
    assert_string_equal(err.msg, "bulyan needs n > 4f: n = 20, f = 9");
    a.f = 4;
    assert_int_equal(bg_robust_init(&r, NULL, "bulyan", &a, 17, 5, &err), BG_OK);
    bg_robust_destroy(&r);
    a.f = 10;
    assert_int_equal(bg_robust_init(&r, NULL, "mda", &a, 30, 5, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "C(30, 20) = 30045015"));
    assert_non_null(strstr(err.msg, "mda_max_subsets"));
    a.mda_max_subsets = 1e8;
    assert_int_equal(bg_robust_init(&r, NULL, "mda", &a, 30, 5, &err), BG_OK);
    bg_robust_destroy(&r);
    bg_agg_args_default(&a);
    a.f = 3;
    a.krum_power = 3;
    assert_int_equal(bg_robust_init(&r, NULL, "krum", &a, 20, 5, &err), BG_ERANGE);
    assert_non_null(strstr(err.msg, "krum_power = 3"));
    a.krum_power = 2;
    /* Bucketing needs the RNG; with it, f = 5 of n = 20 in buckets of 2 may spoil half of the 10 buckets. */
    assert_int_equal(bg_robust_init(&r, "bucketing", "cm", &a, 20, 5, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "RNG"));
    a.rng = bg_rng_stream(1, BG_RNG_SERVER, 0);
    a.f = 5;
    assert_int_equal(bg_robust_init(&r, "bucketing", "cm", &a, 20, 5, &err), BG_ERANGE);
    assert_string_equal(err.msg, "f = 5 Byzantine inputs can spoil 5 of the 10 buckets (bucket_s = 2); cm needs fewer "
                                 "than half spoiled: lower f or bucket_s");
    assert_int_equal(bg_robust_init(&r, "bucketing", "mean", &a, 20, 5, &err), BG_OK);
    bg_robust_destroy(&r);
    a.f = 4;
    assert_int_equal(bg_robust_init(&r, "bucketing", "cm", &a, 20, 5, &err), BG_OK);
    bg_robust_destroy(&r);
    gsl_rng_free(a.rng);
    a.rng = NULL;
    assert_int_equal(bg_robust_init(&r, NULL, "dnc", &a, 20, 20000, &err), BG_EINVAL);
    assert_non_null(strstr(err.msg, "dnc"));
    assert_int_equal(bg_robust_init(&r, NULL, "dnc", &a, 20, 500, &err), BG_OK);   /* no sampling: no RNG */
    bg_robust_destroy(&r);
    a.dnc_iters = 5;
    assert_int_equal(bg_robust_init(&r, NULL, "dnc", &a, 20, 500, &err), BG_ERANGE);
    bg_agg_args_default(&a);
    a.cc_tau = 0.0;
    assert_int_equal(bg_robust_init(&r, NULL, "cc", &a, 20, 5, &err), BG_ERANGE);
    bg_agg_args_default(&a);
    a.clip_tau = -1.0;
    assert_int_equal(bg_robust_init(&r, "clip", "mean", &a, 20, 5, &err), BG_ERANGE);
    /* Every rule is registered with a summary and charges flops. */
    size_t na = 0, np = 0;
    for (size_t i = 0; bg_aggregator_registry[i]; i++, na++) {
        bg_agg_args_default(&a);
        a.f = 3;
        assert_true(strlen(bg_aggregator_registry[i]->summary) > 10);
        assert_true(bg_aggregator_registry[i]->flops(&a, 20, 100) > 0.0);
    }
    for (size_t i = 0; bg_preagg_registry[i]; i++, np++)
        assert_non_null(bg_preagg_registry[i]->summary);
    assert_int_equal(na, 13);
    assert_int_equal(np, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_cm_cwtm_vs_reference),
        cmocka_unit_test(test_cm_exact_bits),
        cmocka_unit_test(test_cwtm_trim_rule),
        cmocka_unit_test(test_nnm_vs_reference),
        cmocka_unit_test(test_nnm_chunks_and_fallback),
        cmocka_unit_test(test_nnm_cm_pipeline_vs_reference),
        cmocka_unit_test(test_rfa_vs_long_weiszfeld),
        cmocka_unit_test(test_huge_outliers),
        cmocka_unit_test(test_f_limits),
        cmocka_unit_test(test_non_finite_inputs),
        cmocka_unit_test(test_tm_vs_reference),
        cmocka_unit_test(test_krum_family_vs_reference),
        cmocka_unit_test(test_meamed_bulyan_vs_reference),
        cmocka_unit_test(test_mda_monna_vs_reference),
        cmocka_unit_test(test_dnc_vs_reference),
        cmocka_unit_test(test_cc_vs_reference),
        cmocka_unit_test(test_bucketing_clip_arc_vs_reference),
        cmocka_unit_test(test_every_pair_composes),
        cmocka_unit_test(test_outliers_every_rule),
        cmocka_unit_test(test_new_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
