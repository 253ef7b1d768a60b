/* `byzgrid aggregate | compress | attack`: one component at a time on CSV rows from stdin, so anyone can
 * cross-check byzgrid's definitions against another implementation (ByzFL, byzpy, a notebook). */
#include "bg_components_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_aggregate.h"
#include "bg_attack.h"
#include "bg_compress.h"

typedef struct rows {
    size_t n, d, cap;
    float *v;           /* n*d */
} rows_t;

/* Read CSV rows of numbers (nan/inf allowed: hostile inputs are the point). All rows must have d values. */
static int read_rows(FILE *in, rows_t *r, char *errbuf, size_t errlen)
{
    memset(r, 0, sizeof *r);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\n' || *p == '\0' || *p == '#')
            continue;
        size_t k = 0;
        for (;;) {
            char *end;
            errno = 0;
            float x = strtof(p, &end);
            if (end == p || errno == ERANGE) {
                snprintf(errbuf, errlen, "stdin:%ld: value %zu is not a number (expected comma-separated numbers)",
                         lineno, k + 1);
                free(line);
                free(r->v);
                return 2;
            }
            if (r->n == 0) {
                if (k >= r->cap) {
                    r->cap = r->cap ? 2 * r->cap : 64;
                    float *nv = realloc(r->v, r->cap * sizeof(float));
                    if (!nv) {
                        free(line);
                        free(r->v);
                        snprintf(errbuf, errlen, "out of memory");
                        return 1;
                    }
                    r->v = nv;
                }
            } else if (k >= r->d) {
                snprintf(errbuf, errlen, "stdin:%ld: row has more than %zu values (the first row's length)", lineno,
                         r->d);
                free(line);
                free(r->v);
                return 2;
            } else if ((r->n + 1) * r->d > r->cap) {
                r->cap = 2 * (r->n + 1) * r->d;
                float *nv = realloc(r->v, r->cap * sizeof(float));
                if (!nv) {
                    free(line);
                    free(r->v);
                    snprintf(errbuf, errlen, "out of memory");
                    return 1;
                }
                r->v = nv;
            }
            r->v[r->n * (r->d ? r->d : 0) + k] = x;
            k++;
            p = end;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '\n' || *p == '\r' || *p == '\0')
                break;
            snprintf(errbuf, errlen, "stdin:%ld: unexpected '%c' after value %zu", lineno, *p, k);
            free(line);
            free(r->v);
            return 2;
        }
        if (r->n == 0)
            r->d = k;
        else if (k != r->d) {
            snprintf(errbuf, errlen, "stdin:%ld: row has %zu values, the first row has %zu", lineno, k, r->d);
            free(line);
            free(r->v);
            return 2;
        }
        r->n++;
    }
    free(line);
    if (r->n == 0) {
        snprintf(errbuf, errlen, "stdin: no rows (expected one vector per line, comma-separated)");
        free(r->v);
        return 2;
    }
    return 0;
}

static void print_row(const float *x, size_t d)
{
    for (size_t j = 0; j < d; j++)
        printf(j ? ",%.9g" : "%.9g", x[j]);
    printf("\n");
}

static int need_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "byzgrid: %s needs a value (see byzgrid %s --help)\n", argv[i], argv[1]);
        return 0;
    }
    return 1;
}

static int parse_num(const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    if (end == v || *end || errno) {
        fprintf(stderr, "byzgrid: %s = '%s': expected a number\n", opt, v);
        return 0;
    }
    return 1;
}

static int cmd_aggregate(int argc, char **argv)
{
    const char *rule = NULL, *pre = "none";
    double f = -1, seed = 1, v;
    bg_agg_args_t a;
    bg_agg_args_default(&a);
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help")) {
            printf("usage: byzgrid aggregate --rule R --f F [--pre P] [--seed S] [--rfa-iters N] [--rfa-nu X]\n"
                   "       [--rfa-tol X] [--krum-power 2|4] [--krum-m M] [--cc-tau X] [--cc-iters N]\n"
                   "       [--bucket-s S] [--clip-tau X] [--dnc-iters N] [--dnc-sub-dim N] [--dnc-filter-frac X]\n"
                   "       [--mda-max-subsets X] < vectors.csv\n"
                   "Reads n vectors (one comma-separated row each) from stdin and prints the aggregate as one row.\n"
                   "Rows containing NaN or Inf are Byzantine by definition: they are dropped and f is reduced.\n");
            return 0;
        }
        if (!need_value(argc, argv, i))
            return 2;
        const char *val = argv[++i];
        if (!strcmp(o, "--rule"))
            rule = val;
        else if (!strcmp(o, "--pre"))
            pre = val;
        else if (!parse_num(o, val, &v))
            return 2;
        else if (!strcmp(o, "--f"))
            f = v;
        else if (!strcmp(o, "--seed"))
            seed = v;
        else if (!strcmp(o, "--rfa-iters"))
            a.rfa_iters = (size_t)v;
        else if (!strcmp(o, "--rfa-nu"))
            a.rfa_nu = v;
        else if (!strcmp(o, "--rfa-tol"))
            a.rfa_tol = v;
        else if (!strcmp(o, "--krum-power"))
            a.krum_power = (int)v;
        else if (!strcmp(o, "--krum-m"))
            a.krum_m = (size_t)v;
        else if (!strcmp(o, "--cc-tau"))
            a.cc_tau = v;
        else if (!strcmp(o, "--cc-iters"))
            a.cc_iters = (size_t)v;
        else if (!strcmp(o, "--bucket-s"))
            a.bucket_s = (size_t)v;
        else if (!strcmp(o, "--clip-tau"))
            a.clip_tau = v;
        else if (!strcmp(o, "--dnc-iters"))
            a.dnc_iters = (size_t)v;
        else if (!strcmp(o, "--dnc-sub-dim"))
            a.dnc_sub_dim = (size_t)v;
        else if (!strcmp(o, "--dnc-filter-frac"))
            a.dnc_filter_frac = v;
        else if (!strcmp(o, "--mda-max-subsets"))
            a.mda_max_subsets = v;
        else {
            fprintf(stderr, "byzgrid: aggregate: unknown option '%s' (see byzgrid aggregate --help)\n", o);
            return 2;
        }
    }
    if (!rule || f < 0 || f != floor(f)) {
        fprintf(stderr, "byzgrid: aggregate needs --rule NAME and --f N (a non-negative integer); see byzgrid list\n");
        return 2;
    }
    rows_t r;
    char eb[512];
    int rc = read_rows(stdin, &r, eb, sizeof eb);
    if (rc) {
        fprintf(stderr, "byzgrid: %s\n", eb);
        return rc;
    }
    a.f = (size_t)f;
    a.rng = bg_rng_stream((uint64_t)seed, BG_RNG_SERVER, 0);
    bg_robust_t rob;
    bg_err_t err;
    bg_err_clear(&err);
    rc = bg_robust_init(&rob, pre, rule, &a, r.n, r.d, &err);
    if (rc) {
        char buf[1024];
        fprintf(stderr, "byzgrid: aggregate: %s\n", bg_err_format(&err, buf, sizeof buf));
        gsl_rng_free(a.rng);
        free(r.v);
        return rc == BG_ENOMEM ? 1 : 2;
    }
    const float **rows = malloc(r.n * sizeof *rows);
    float *out = malloc(r.d * sizeof(float));
    for (size_t i = 0; i < r.n; i++)
        rows[i] = r.v + i * r.d;
    size_t dropped = 0;
    rc = bg_robust_run(&rob, rows, out, &dropped);
    if (rc)
        fprintf(stderr, "byzgrid: aggregate: more than f = %zu rows are non-finite (%zu)\n", a.f, dropped);
    else
        print_row(out, r.d);
    bg_robust_free(&rob);
    gsl_rng_free(a.rng);
    free(rows);
    free(out);
    free(r.v);
    return rc ? 1 : 0;
}

static int cmd_compress(int argc, char **argv)
{
    bg_comp_cfg_t cfg;
    bg_comp_cfg_default(&cfg);
    cfg.name[0] = '\0';
    double seed = 1, v;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help")) {
            printf("usage: byzgrid compress --name C [--k K | --ratio R] [--unscaled] [--shared-mask] [--levels S]\n"
                   "       [--seed S] < vectors.csv\n"
                   "For every input row prints one row: the message's wire size in bytes, then the decoded\n"
                   "compressed vector (d values). Random compressors draw from streams derived from --seed\n"
                   "(row r uses round r of the shared stream).\n");
            return 0;
        }
        if (!strcmp(o, "--unscaled")) {
            cfg.scaled = 0;
            continue;
        }
        if (!strcmp(o, "--shared-mask")) {
            cfg.shared_mask = 1;
            continue;
        }
        if (!need_value(argc, argv, i))
            return 2;
        const char *val = argv[++i];
        if (!strcmp(o, "--name")) {
            snprintf(cfg.name, sizeof cfg.name, "%s", val);
            continue;
        }
        if (!parse_num(o, val, &v))
            return 2;
        if (!strcmp(o, "--k"))
            cfg.k = (size_t)v;
        else if (!strcmp(o, "--ratio"))
            cfg.ratio = v;
        else if (!strcmp(o, "--levels"))
            cfg.levels = (size_t)v;
        else if (!strcmp(o, "--seed"))
            seed = v;
        else {
            fprintf(stderr, "byzgrid: compress: unknown option '%s' (see byzgrid compress --help)\n", o);
            return 2;
        }
    }
    if (!cfg.name[0]) {
        fprintf(stderr, "byzgrid: compress needs --name NAME (see byzgrid list)\n");
        return 2;
    }
    rows_t r;
    char eb[512];
    int rc = read_rows(stdin, &r, eb, sizeof eb);
    if (rc) {
        fprintf(stderr, "byzgrid: %s\n", eb);
        return rc;
    }
    bg_compressor_t c;
    bg_err_t err;
    bg_err_clear(&err);
    rc = bg_compressor_create(&cfg, r.d, NULL, 0, &c, &err);
    if (rc) {
        char buf[1024];
        fprintf(stderr, "byzgrid: compress: %s\n", bg_err_format(&err, buf, sizeof buf));
        free(r.v);
        return rc == BG_ENOMEM ? 1 : 2;
    }
    bg_msg_t m;
    float *dec = malloc(r.d * sizeof(float));
    gsl_rng *own = bg_rng_stream((uint64_t)seed, BG_RNG_COMPRESS, 0);
    gsl_rng *shared = bg_rng_stream((uint64_t)seed, BG_RNG_SHARED, 0);
    rc = bg_msg_init(&m, r.d);
    for (size_t i = 0; !rc && i < r.n; i++) {
        bg_rng_reseed(shared, (uint64_t)seed, BG_RNG_SHARED, i);
        bg_comp_rngs_t rr = {own, shared};
        rc = c.ops->compress(&c, r.v + i * r.d, &rr, &m);
        if (rc)
            break;
        bg_msg_decode(&m, dec);
        printf("%.0f,", m.bytes);
        print_row(dec, r.d);
    }
    if (rc)
        fprintf(stderr, "byzgrid: compress: failed with code %d\n", rc);
    bg_msg_free(&m);
    bg_compressor_destroy(&c);
    gsl_rng_free(own);
    gsl_rng_free(shared);
    free(dec);
    free(r.v);
    return rc ? 1 : 0;
}

static int cmd_attack(int argc, char **argv)
{
    bg_attack_cfg_t cfg;
    bg_attack_cfg_default(&cfg);
    cfg.name[0] = '\0';
    double f = -1, seed = 1, v;
    const char *agg = NULL;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help")) {
            printf("usage: byzgrid attack --name A --f F [--eps X] [--z X] [--alie-dev std|variance] [--sigma X]\n"
                   "       [--payload nan|inf|-inf] [--mimic-warmup N] [--aggregator R] [--seed S] < honest.csv\n"
                   "Reads the honest vectors (one row each) and prints f rows: the vectors the Byzantine workers\n"
                   "make the aggregator see. Omniscient and blind attacks only; data attacks (lf, bf, none) need a\n"
                   "dataset and run in a scenario. There is no previous aggregate here, so rop sends 0.\n");
            return 0;
        }
        if (!need_value(argc, argv, i))
            return 2;
        const char *val = argv[++i];
        if (!strcmp(o, "--name")) {
            snprintf(cfg.name, sizeof cfg.name, "%s", val);
            continue;
        }
        if (!strcmp(o, "--aggregator")) {
            agg = val;
            continue;
        }
        if (!strcmp(o, "--alie-dev")) {
            if (strcmp(val, "std") && strcmp(val, "variance")) {
                fprintf(stderr, "byzgrid: attack: --alie-dev must be std or variance\n");
                return 2;
            }
            cfg.alie_variance = !strcmp(val, "variance");
            continue;
        }
        if (!parse_num(o, val, &v))
            return 2;
        if (!strcmp(o, "--f"))
            f = v;
        else if (!strcmp(o, "--eps"))
            cfg.eps = v;
        else if (!strcmp(o, "--z"))
            cfg.z = v;
        else if (!strcmp(o, "--sigma"))
            cfg.sigma = v;
        else if (!strcmp(o, "--payload"))
            cfg.payload = v;
        else if (!strcmp(o, "--mimic-warmup"))
            cfg.mimic_warmup = (size_t)v;
        else if (!strcmp(o, "--seed"))
            seed = v;
        else {
            fprintf(stderr, "byzgrid: attack: unknown option '%s' (see byzgrid attack --help)\n", o);
            return 2;
        }
    }
    if (!cfg.name[0] || f < 1 || f != floor(f)) {
        fprintf(stderr, "byzgrid: attack needs --name NAME and --f N (a positive integer); see byzgrid list\n");
        return 2;
    }
    const bg_attack_ops_t *ops = bg_attack_find(cfg.name);
    if (ops && ops->kind == BG_ATK_DATA) {
        fprintf(stderr, "byzgrid: attack: '%s' is a data attack (it trains on data); run it in a scenario\n",
                cfg.name);
        return 2;
    }
    rows_t r;
    char eb[512];
    int rc = read_rows(stdin, &r, eb, sizeof eb);
    if (rc) {
        fprintf(stderr, "byzgrid: %s\n", eb);
        return rc;
    }
    size_t nf = (size_t)f;
    bg_attack_args_t a;
    bg_err_t err;
    bg_err_clear(&err);
    rc = bg_attack_args_init(&a, &cfg, r.n + nf, nf, &err);
    if (rc) {
        char buf[1024];
        fprintf(stderr, "byzgrid: attack: %s\n", bg_err_format(&err, buf, sizeof buf));
        free(r.v);
        return 2;
    }
    a.agg_name = agg;
    const float **rows = malloc(r.n * sizeof *rows);
    float *out = malloc(r.d * sizeof(float));
    for (size_t i = 0; i < r.n; i++)
        rows[i] = r.v + i * r.d;
    size_t ns = ops->per_attacker ? nf : 1;
    void **st = calloc(ns, sizeof *st);
    gsl_rng **rg = calloc(ns, sizeof *rg);
    for (size_t j = 0; j < ns && !rc; j++) {
        rg[j] = bg_rng_stream((uint64_t)seed, BG_RNG_ATTACK, r.n + j);
        if (ops->state_new)
            rc = ops->state_new(&a, r.d, &st[j]);
    }
    for (size_t j = 0; j < nf && !rc; j++) {
        size_t s = ops->per_attacker ? j : 0;
        if (j == 0 || ops->per_attacker) {
            bg_attack_ctx_t c = {.honest = ops->kind == BG_ATK_OMNISCIENT ? rows : NULL, .nh = r.n, .d = r.d,
                                 .prev_agg = NULL, .own = NULL, .round = 0, .rng = rg[s], .state = st[s]};
            rc = ops->target(&a, &c, out);
        }
        if (!rc)
            print_row(out, r.d);
    }
    if (rc)
        fprintf(stderr, "byzgrid: attack: '%s' failed with code %d\n", cfg.name, rc);
    for (size_t j = 0; j < ns; j++) {
        if (st[j] && ops->state_free)
            ops->state_free(st[j]);
        if (rg[j])
            gsl_rng_free(rg[j]);
    }
    free(st);
    free(rg);
    free(rows);
    free(out);
    free(r.v);
    return rc ? 1 : 0;
}

int bg_cli_components(int argc, char **argv)
{
    if (!strcmp(argv[1], "aggregate"))
        return cmd_aggregate(argc, argv);
    if (!strcmp(argv[1], "compress"))
        return cmd_compress(argc, argv);
    if (!strcmp(argv[1], "attack"))
        return cmd_attack(argc, argv);
    return -1;
}
