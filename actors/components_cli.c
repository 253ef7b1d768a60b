/* `byzgrid aggregate | compress | attack`: one component at a time on CSV rows from stdin, so anyone can
 * cross-check byzgrid's definitions against another implementation (ByzFL, byzpy, a notebook). */
#include "bg_components_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "bg_aggregate.h"
#include "bg_attack.h"
#include "bg_compress.h"
#include "bg_config.h"

typedef bg_cli_rows_t rows_t;

/* The input, read in chunks: a FILE (stdin) or a buffer (tests, the fuzz harness). */
typedef struct src {
    FILE *f;
    const unsigned char *buf;
    size_t len, pos;
    unsigned char chunk[1 << 16];
    long line, col;   /* position of the byte last returned (1-based) */
} src_t;

static int next_byte(src_t *s)
{
    if (s->pos >= s->len) {
        if (!s->f)
            return EOF;
        s->len = fread(s->chunk, 1, sizeof s->chunk, s->f);
        s->pos = 0;
        s->buf = s->chunk;
        if (s->len == 0)
            return EOF;
    }
    return s->buf[s->pos++];
}

/* Room for `need` floats (amortised doubling, overflow-checked). */
static int grow(rows_t *r, size_t need)
{
    if (need <= r->cap)
        return 0;
    if (need > BG_CLI_MAX_VALUES)
        return -2;
    size_t cap = r->cap ? 2 * r->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > BG_CLI_MAX_VALUES)
        cap = BG_CLI_MAX_VALUES;
    float *nv = realloc(r->v, cap * sizeof(float));
    if (!nv)
        return -1;
    r->v = nv;
    r->cap = cap;
    return 0;
}

/* A byte as a message shows it: 'c', or 0xNN when it is not printable. */
static const char *show_byte(int c, char *buf, size_t len)
{
    if (c == EOF)
        snprintf(buf, len, "end of input");
    else if (c >= 0x20 && c < 0x7F)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "byte 0x%02x", (unsigned)c);
    return buf;
}

/* One value: a token as strtof reads it, whole (nan and inf allowed: hostile inputs are the point). Underflow
 * (1e-50: a subnormal or zero) is a number; overflow beyond the fp32 range is not. Returns 0 or -1 (why). */
static int parse_value(const char *tok, float *out, const char **why)
{
    char *end;
    errno = 0;
    float x = strtof(tok, &end);
    if (end == tok || *end) {
        *why = "is not a number";
        return -1;
    }
    if (errno == ERANGE && isinf(x)) {
        *why = "is outside the fp32 range (|x| <= 3.40282347e+38, or inf)";
        return -1;
    }
    *out = x;   /* ERANGE with a finite result: underflow, the nearest subnormal or zero */
    return 0;
}

int bg_cli_read_rows(FILE *in, const void *buf, size_t len, const char *name, bg_cli_rows_t *r, char *errbuf,
                     size_t errlen)
{
    memset(r, 0, sizeof *r);
    src_t *s = malloc(sizeof *s);
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return 1;
    }
    s->f = in;
    s->buf = in ? NULL : buf;
    s->len = in ? 0 : len;
    s->pos = 0;
    char tok[BG_CLI_MAX_TOKEN + 1], shown[32];
    long line = 1, col = 0;
    int status = 0, c = next_byte(s);
    col = 1;
#define ADVANCE()                                                                                                   \
    do {                                                                                                            \
        if (c == '\n') {                                                                                            \
            line++;                                                                                                 \
            col = 0;                                                                                                \
        }                                                                                                           \
        c = next_byte(s);                                                                                           \
        col++;                                                                                                      \
    } while (0)
#define FAIL(code, ...)                                                                                             \
    do {                                                                                                            \
        snprintf(errbuf, errlen, __VA_ARGS__);                                                                      \
        status = code;                                                                                              \
        goto done;                                                                                                  \
    } while (0)
    while (c != EOF) {
        /* Start of a line: blanks, then a comment, an empty line or a row. */
        while (c == ' ' || c == '\t' || c == '\r')
            ADVANCE();
        if (c == '#') {
            while (c != '\n' && c != EOF)
                ADVANCE();
        }
        if (c == '\n') {
            ADVANCE();
            continue;
        }
        if (c == EOF)
            break;
        size_t k = 0;
        for (;;) {
            /* One value: blanks, the token, blanks, then ',' or the end of the line. */
            while (c == ' ' || c == '\t')
                ADVANCE();
            const long tcol = col;
            size_t tl = 0;
            while (c != EOF && c != ',' && c != '\n' && c != ' ' && c != '\t' && c != '\r') {
                if (c < 0x20 || c >= 0x7F)
                    FAIL(2, "%s:%ld:%ld: unexpected %s in value %zu (expected comma-separated numbers)", name, line,
                         col, show_byte(c, shown, sizeof shown), k + 1);
                if (tl == BG_CLI_MAX_TOKEN)
                    FAIL(2, "%s:%ld:%ld: value %zu is longer than %d characters", name, line, tcol, k + 1,
                         BG_CLI_MAX_TOKEN);
                tok[tl++] = (char)c;
                ADVANCE();
            }
            tok[tl] = '\0';
            if (tl == 0)
                FAIL(2, "%s:%ld:%ld: value %zu is missing (expected a number, found %s)", name, line, tcol, k + 1,
                     show_byte(c, shown, sizeof shown));
            float x;
            const char *why;
            if (parse_value(tok, &x, &why))
                FAIL(2, "%s:%ld:%ld: value %zu '%s' %s", name, line, tcol, k + 1, tok, why);
            if (r->n > 0 && k >= r->d)
                FAIL(2, "%s:%ld:%ld: row has more than %zu values (the first row's length)", name, line, tcol, r->d);
            int g = grow(r, r->n * (r->n ? r->d : 0) + k + 1);
            if (g == -2)
                FAIL(2, "%s:%ld:%ld: more than %d values in all (the component commands' limit)", name, line, tcol,
                     BG_CLI_MAX_VALUES);
            if (g)
                FAIL(1, "%s:%ld: out of memory", name, line);
            r->v[r->n * (r->n ? r->d : 0) + k++] = x;
            while (c == ' ' || c == '\t' || c == '\r')
                ADVANCE();
            if (c == ',') {
                ADVANCE();
                continue;
            }
            if (c == '\n' || c == EOF)
                break;
            FAIL(2, "%s:%ld:%ld: unexpected %s after value %zu (expected ',' or the end of the line)", name, line, col,
                 show_byte(c, shown, sizeof shown), k);
        }
        if (r->n == 0)
            r->d = k;
        else if (k != r->d)
            FAIL(2, "%s:%ld: row has %zu values, the first row has %zu", name, line, k, r->d);
        r->n++;
        if (c == '\n')
            ADVANCE();
    }
#undef ADVANCE
#undef FAIL
    if (r->n == 0) {
        snprintf(errbuf, errlen, "%s: no rows (expected one vector per line, comma-separated)", name);
        status = 2;
    }
done:
    free(s);
    if (status) {
        free(r->v);
        memset(r, 0, sizeof *r);
    }
    return status;
}

static int read_rows(FILE *in, rows_t *r, char *errbuf, size_t errlen)
{
    return bg_cli_read_rows(in, NULL, 0, "stdin", r, errbuf, errlen);
}

static void print_row(const float *x, size_t d)
{
    for (size_t j = 0; j < d; j++)
        printf(j ? ",%.9g" : "%.9g", x[j]);
    printf("\n");
}

/* Options of a component command come from the scenario key table: --KEY VALUE for every key of the command's
 * section (dashes or underscores: --cc-tau 5 is aggregator.cc_tau = 5), plus a few short names. */
typedef struct alias {
    const char *opt;    /* option name without the dashes, underscores as dashes */
    const char *key;    /* section.key */
    const char *value;  /* a flag's value (the option takes none), or NULL */
} alias_t;

typedef struct command {
    const char *name, *section, *usage, *about;
    const alias_t *aliases;
} command_t;

static const bg_key_t *find_key(const char *section, const char *name)
{
    return bg_keys_find(bg_config_keys, bg_config_n_keys, section, name);
}

/* The options with this command's defaults (c as prepared by the command: some differ from a scenario's). */
static void print_help(const command_t *cmd, const bg_config_t *c)
{
    printf("usage: byzgrid %s %s\n%s\noptions (the scenario keys of [%s]; --a-b and --a_b are the same):\n", cmd->name,
           cmd->usage, cmd->about, cmd->section);
    char allowed[256], opt[64], def[256];
    for (const alias_t *a = cmd->aliases; a->opt; a++) {
        const char *dot = strchr(a->key, '.');
        char section[32];
        snprintf(section, sizeof section, "%.*s", (int)(dot - a->key), a->key);
        const bg_key_t *k = find_key(section, dot + 1);
        bg_key_format(k, c, def, sizeof def);
        if (a->value)
            printf("  --%-18s %s = %s\n", a->opt, a->key, a->value);
        else
            printf("  --%-18s %s: %s (%s)\n", a->opt, a->key, k->help, def[0] && strcmp(a->key, "attack.f") ? def
                                                                                                  : "required");
    }
    for (size_t i = 0; i < bg_config_n_keys; i++) {
        const bg_key_t *k = &bg_config_keys[i];
        if (strcmp(k->section, cmd->section))
            continue;
        char full[96];
        snprintf(full, sizeof full, "%s.%s", k->section, k->name);
        int aliased = 0;   /* listed above under its short name */
        for (const alias_t *a = cmd->aliases; a->opt; a++)
            aliased |= !a->value && !strcmp(a->key, full);
        if (aliased)
            continue;
        snprintf(opt, sizeof opt, "%s", k->name);
        for (char *p = opt; *p; p++)
            if (*p == '_')
                *p = '-';
        bg_key_allowed(k, allowed, sizeof allowed);
        bg_key_format(k, c, def, sizeof def);
        printf("  --%-18s %s (%s%s%s)\n", opt, k->help, def[0] ? def : "required", allowed[0] ? "; " : "", allowed);
    }
}

/* Parse argv[2..] into c. Returns 0, or the exit status (2 after printing the error, 0 after --help: *done). */
static int parse_options(const command_t *cmd, int argc, char **argv, bg_config_t *c, int *done)
{
    *done = 0;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            print_help(cmd, c);
            *done = 1;
            return 0;
        }
        if (strncmp(o, "--", 2) || !o[2]) {
            fprintf(stderr, "byzgrid: %s: unexpected '%s' (options are --KEY VALUE; see byzgrid %s --help)\n",
                    cmd->name, o, cmd->name);
            return 2;
        }
        char name[64], section[32], key[64];
        snprintf(name, sizeof name, "%s", o + 2);
        for (char *p = name; *p; p++)
            if (*p == '_')
                *p = '-';
        const char *value = NULL, *full = NULL;
        for (const alias_t *a = cmd->aliases; a->opt && !full; a++)
            if (!strcmp(a->opt, name)) {
                full = a->key;
                value = a->value;
            }
        if (full) {
            const char *dot = strchr(full, '.');
            snprintf(section, sizeof section, "%.*s", (int)(dot - full), full);
            snprintf(key, sizeof key, "%s", dot + 1);
        } else {
            snprintf(section, sizeof section, "%s", cmd->section);
            snprintf(key, sizeof key, "%s", name);
            for (char *p = key; *p; p++)
                if (*p == '-')
                    *p = '_';
        }
        const bg_key_t *k = find_key(section, key);
        if (!k) {
            fprintf(stderr, "byzgrid: %s: unknown option '%s' (see byzgrid %s --help)\n", cmd->name, o, cmd->name);
            return 2;
        }
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "byzgrid: %s needs a value (see byzgrid %s --help)\n", o, cmd->name);
                return 2;
            }
            value = argv[++i];
        }
        bg_err_t err;
        bg_err_clear(&err);
        if (bg_key_set(k, c, value, NULL, &err)) {
            char buf[1024];
            fprintf(stderr, "byzgrid: %s: %s: %s\n", cmd->name, o, bg_err_format(&err, buf, sizeof buf));
            return 2;
        }
    }
    return 0;
}

static const alias_t agg_aliases[] = {{"rule", "aggregator.name", NULL},
                                      {"name", "aggregator.name", NULL},
                                      {"f", "attack.f", NULL},
                                      {"seed", "run.seed", NULL},
                                      {NULL, NULL, NULL}};
static const command_t agg_cmd = {
    "aggregate", "aggregator", "--rule R --f F [--pre P] [options] < vectors.csv",
    "Reads n vectors (one comma-separated row each) from stdin and prints the aggregate as one row.\n"
    "Rows containing NaN or Inf are Byzantine by definition: they are dropped and f is reduced.\n"
    "Here the pre-aggregator defaults to none (a scenario's default is nnm).",
    agg_aliases};

static int cmd_aggregate(int argc, char **argv)
{
    bg_config_t c;
    bg_config_default(&c);
    snprintf(c.pre, sizeof c.pre, "none");
    c.agg[0] = '\0';
    c.f = SIZE_MAX;
    int done, st = parse_options(&agg_cmd, argc, argv, &c, &done);
    if (st || done)
        return st;
    if (!c.agg[0] || c.f == SIZE_MAX) {
        fprintf(stderr, "byzgrid: aggregate needs --rule NAME and --f N (a non-negative integer); see byzgrid list\n");
        return 2;
    }
    bg_agg_args_t a = c.agg_args;
    const char *rule = c.agg, *pre = c.pre;
    const uint64_t seed = c.seed;
    rows_t r;
    char eb[512];
    int rc = read_rows(stdin, &r, eb, sizeof eb);
    if (rc) {
        fprintf(stderr, "byzgrid: %s\n", eb);
        return rc;
    }
    a.f = c.f;
    a.rng = bg_rng_stream(seed, BG_RNG_SERVER, 0);
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
    if (!rows || !out) {
        fprintf(stderr, "byzgrid: aggregate: out of memory for %zu rows of %zu values\n", r.n, r.d);
        bg_robust_destroy(&rob);
        gsl_rng_free(a.rng);
        free(rows);
        free(out);
        free(r.v);
        return 1;
    }
    for (size_t i = 0; i < r.n; i++)
        rows[i] = r.v + i * r.d;
    size_t dropped = 0;
    rc = bg_robust_run(&rob, rows, out, &dropped);
    if (rc)
        fprintf(stderr, "byzgrid: aggregate: more than f = %zu rows are non-finite (%zu)\n", a.f, dropped);
    else
        print_row(out, r.d);
    bg_robust_destroy(&rob);
    gsl_rng_free(a.rng);
    free(rows);
    free(out);
    free(r.v);
    return rc ? 1 : 0;
}

static const alias_t comp_aliases[] = {{"seed", "run.seed", NULL},
                                       {"unscaled", "compressor.scaled", "false"},
                                       {NULL, NULL, NULL}};
static const command_t comp_cmd = {
    "compress", "compressor", "--name C [--k K | --ratio R] [options] < vectors.csv",
    "For every input row prints one row: the message's wire size in bytes, then the decoded compressed vector\n"
    "(d values). Random compressors draw from streams derived from --seed (row r uses round r of the shared\n"
    "stream). Boolean options take a value: --shared-mask true.",
    comp_aliases};

static int cmd_compress(int argc, char **argv)
{
    bg_config_t c;
    bg_config_default(&c);
    c.comp.name[0] = '\0';
    int done, st = parse_options(&comp_cmd, argc, argv, &c, &done);
    if (st || done)
        return st;
    bg_comp_cfg_t cfg = c.comp;
    const uint64_t seed = c.seed;
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
    bg_compressor_t comp;
    bg_err_t err;
    bg_err_clear(&err);
    rc = bg_compressor_init(&cfg, r.d, NULL, 0, &comp, &err);
    if (rc) {
        char buf[1024];
        fprintf(stderr, "byzgrid: compress: %s\n", bg_err_format(&err, buf, sizeof buf));
        free(r.v);
        return rc == BG_ENOMEM ? 1 : 2;
    }
    bg_msg_t m;
    float *dec = malloc(r.d * sizeof(float));
    gsl_rng *own = bg_rng_stream(seed, BG_RNG_COMPRESS, 0);
    gsl_rng *shared = bg_rng_stream(seed, BG_RNG_SHARED, 0);
    rc = bg_msg_init(&m, r.d);
    if (!rc && !dec)
        rc = BG_ENOMEM;
    for (size_t i = 0; !rc && i < r.n; i++) {
        bg_rng_reseed(shared, seed, BG_RNG_SHARED, i);
        bg_comp_rngs_t rr = {own, shared};
        rc = comp.ops->compress(&comp, r.v + i * r.d, &rr, &m);
        if (rc)
            break;
        bg_msg_decode(&m, dec);
        printf("%.0f,", m.bytes);
        print_row(dec, r.d);
    }
    if (rc)
        fprintf(stderr, "byzgrid: compress: failed with code %d\n", rc);
    bg_msg_destroy(&m);
    bg_compressor_destroy(&comp);
    gsl_rng_free(own);
    gsl_rng_free(shared);
    free(dec);
    free(r.v);
    return rc ? 1 : 0;
}

static const alias_t atk_aliases[] = {{"f", "attack.f", NULL}, {"seed", "run.seed", NULL}, {NULL, NULL, NULL}};
static const command_t atk_cmd = {
    "attack", "attack", "--name A --f F [options] < honest.csv",
    "Reads the honest vectors (one row each) and prints f rows: the vectors the Byzantine workers make the\n"
    "aggregator see. Omniscient and blind attacks only; data attacks (lf, bf, none) need a dataset and run in a\n"
    "scenario. There is no previous aggregate here, so rop sends 0. At most 100000 rows (--f) and 1e8 values.",
    atk_aliases};

static int cmd_attack(int argc, char **argv)
{
    bg_config_t c;
    bg_config_default(&c);
    c.attack.name[0] = '\0';
    c.f = 0;
    int done, status = parse_options(&atk_cmd, argc, argv, &c, &done);
    if (status || done)
        return status;
    bg_attack_cfg_t cfg = c.attack;
    const uint64_t seed = c.seed;
    if (!cfg.name[0] || c.f < 1) {
        fprintf(stderr, "byzgrid: attack needs --name NAME and --f N (a positive integer); see byzgrid list\n");
        return 2;
    }
    if (c.f > BG_CLI_MAX_ROWS) {
        fprintf(stderr, "byzgrid: attack: --f %zu is too large (the rows printed: at most %d)\n", c.f,
                BG_CLI_MAX_ROWS);
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
    size_t nf = c.f;
    if ((double)nf * (double)r.d > BG_CLI_MAX_OUT) {
        fprintf(stderr, "byzgrid: attack: --f %zu rows of d = %zu values is too much output (f x d at most %d)\n", nf,
                r.d, BG_CLI_MAX_OUT);
        free(r.v);
        return 2;
    }
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
    const float **rows = malloc(r.n * sizeof *rows);
    float *out = malloc(r.d * sizeof(float));
    for (size_t i = 0; i < r.n; i++)
        rows[i] = r.v + i * r.d;
    if (!rows || !out) {
        fprintf(stderr, "byzgrid: attack: out of memory for %zu rows of %zu values\n", r.n, r.d);
        free(rows);
        free(out);
        free(r.v);
        return 1;
    }
    /* Attacker j draws from its own stream (index n + j) and state; a shared attack computes one row for all.
     * One attacker's stream and state at a time, so memory does not grow with f. */
    for (size_t j = 0; j < nf && !rc; j++) {
        if (j == 0 || ops->per_attacker) {
            void *st = NULL;
            gsl_rng *rg = bg_rng_stream(seed, BG_RNG_ATTACK, r.n + j);
            if (!rg)
                rc = BG_ENOMEM;
            if (!rc && ops->state_new)
                rc = ops->state_new(&a, r.d, &st);
            if (!rc) {
                bg_attack_ctx_t ctx = {.honest = ops->kind == BG_ATK_OMNISCIENT ? rows : NULL, .nh = r.n, .d = r.d,
                                       .prev_agg = NULL, .own = NULL, .round = 0, .rng = rg, .state = st};
                rc = ops->target(&a, &ctx, out);
            }
            if (st && ops->state_free)
                ops->state_free(st);
            if (rg)
                gsl_rng_free(rg);
        }
        if (!rc)
            print_row(out, r.d);
    }
    if (rc)
        fprintf(stderr, "byzgrid: attack: '%s' failed with code %d\n", cfg.name, rc);
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
