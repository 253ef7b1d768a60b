/* Scenario loading: a table of every key (type, destination, default, meaning) drives parsing, overrides,
 * validation and the key listing in --help, so the three can never disagree. INI syntax is libinih's. */
#include "bg_scenario.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { K_SIZE, K_U64, K_DOUBLE, K_BOOL, K_STR, K_PATH, K_SPECIAL } kind_t;

typedef struct key_def {
    const char *section, *name;
    kind_t kind;
    size_t off, len;          /* destination in bg_scenario_t */
    const char *def, *help;
} key_def_t;

#define F(field) offsetof(bg_scenario_t, field), sizeof(((bg_scenario_t *)0)->field)
#define NOF 0, 0

static const key_def_t keys[] = {
    {"run", "name", K_STR, F(name), "file name", "name of the run (output folder out/NAME)"},
    {"run", "seed", K_U64, F(learn.seed), "1", "master seed; every RNG stream derives from it"},
    {"run", "rounds", K_SIZE, F(learn.rounds), "1000", "synchronous rounds to run"},
    {"run", "eval_every", K_SIZE, F(learn.eval_every), "100", "evaluate every this many rounds (and at 0, end)"},
    {"run", "eval_train", K_BOOL, F(learn.eval_train), "true", "also evaluate on the full training set"},
    {"run", "progress", K_SPECIAL, NOF, "auto", "progress on stderr: auto (runs over ~2 s), on, off"},
    {"run", "grad_norm", K_SPECIAL, NOF, "auto",
     "grad_norm_sq column (full honest gradient): auto (on when one pass costs <= 2e10 flops), true, false"},
    {"run", "dist_to_opt", K_SPECIAL, NOF, "auto",
     "dist_to_opt column (|x - x*|, logreg + L2 only): auto (on for synthetic data), true, false"},
    {"data", "dataset", K_STR, F(learn.dataset), "",
     "built-in dataset: a9a, w8a, mnist, fmnist, synthetic (see byzgrid list); or give data.train"},
    {"data", "train", K_PATH, F(learn.train_path), "", "training file: LIBSVM (plain or .gz), or IDX images"},
    {"data", "train_labels", K_PATH, F(learn.train_labels), "", "IDX label file of data.train (makes it IDX)"},
    {"data", "test", K_PATH, F(learn.test_path), "", "test file (none: hold out data.test_fraction)"},
    {"data", "test_labels", K_PATH, F(learn.test_labels), "", "IDX label file of data.test"},
    {"data", "test_fraction", K_DOUBLE, F(learn.test_fraction), "0.2", "share held out as test set when there is no test file"},
    {"data", "features", K_SIZE, F(learn.n_features), "0", "LIBSVM feature count (0: largest index in train)"},
    {"data", "classes", K_SIZE, F(learn.n_classes), "0",
     "declared classes (0: from the data; LIBSVM with 0 or 2: binary +-1/0-1 labels)"},
    {"data", "normalize", K_SPECIAL, NOF, "auto", "scale rows to unit L2 norm: auto (LIBSVM yes, images no), true, false"},
    {"data", "holders", K_SPECIAL, NOF, "honest",
     "who holds data: honest (Byzantine data attacks reuse honest shards) or all (Byzantine get their own)"},
    {"data", "synth_per_worker", K_SIZE, F(learn.synth.per_group), "1000", "synthetic: training samples per worker"},
    {"data", "synth_test", K_SIZE, F(learn.synth.n_test), "2000", "synthetic: test samples"},
    {"data", "synth_dim", K_SIZE, F(learn.synth.d), "20", "synthetic: features"},
    {"data", "synth_separation", K_DOUBLE, F(learn.synth.separation), "2", "synthetic: distance between class means"},
    {"data", "synth_zeta", K_DOUBLE, F(learn.synth.zeta), "0", "synthetic: heterogeneity (spread of worker shifts; 0 = IID)"},
    {"partition", "name", K_SPECIAL, NOF, "auto",
     "iid, dirichlet, shards, cifar-ref, contiguous (auto: contiguous for synthetic, iid otherwise)"},
    {"partition", "alpha", K_DOUBLE, F(learn.partition.alpha), "0.5", "dirichlet: concentration (small = skewed)"},
    {"partition", "k", K_SIZE, F(learn.partition.k), "2", "shards: classes per worker"},
    {"partition", "size_sigma", K_DOUBLE, F(learn.partition.size_sigma), "0", "iid: lognormal sigma of unequal sizes (0: equal)"},
    {"partition", "min_size", K_SIZE, F(learn.partition.min_size), "1", "smallest shard allowed"},
    {"model", "name", K_STR, F(learn.model.name), "logreg", "model (see byzgrid list)"},
    {"model", "hidden", K_SPECIAL, NOF, "", "mlp: hidden layer widths, e.g. 128 or 256,128"},
    {"model", "in_shape", K_SPECIAL, NOF, "auto",
     "cnn/lenet5: input channels,height,width (auto: the IDX shape, or 1,s,s for s*s features)"},
    {"model", "lambda", K_DOUBLE, F(learn.model.lambda), "0.00056", "regularisation weight"},
    {"model", "reg", K_SPECIAL, NOF, "l2", "l2: (lambda/2)|w|^2; nonconvex: lambda sum w^2/(1+w^2)"},
    {"method", "name", K_STR, F(learn.method.name), "byz-ef21-sgdm", "method (see byzgrid list)"},
    {"method", "lr", K_DOUBLE, F(learn.method.lr), "0.05", "server step size gamma"},
    {"method", "lr_schedule", K_SPECIAL, NOF, "constant",
     "constant, or cosine: anneal lr to lr * lr_min_ratio over run.rounds (PyTorch's CosineAnnealingLR)"},
    {"method", "lr_min_ratio", K_DOUBLE, F(learn.method.lr_min_ratio), "0", "cosine: final lr as a fraction of lr"},
    {"method", "eta", K_DOUBLE, F(learn.method.eta), "0.1", "momentum weight on the new gradient (beta = 1 - eta)"},
    {"method", "batch", K_SIZE, F(learn.method.batch), "32", "minibatch size per worker and round"},
    {"method", "p", K_DOUBLE, F(learn.method.p), "0", "MARINA/DASHA-PAGE: full-gradient probability (0: auto)"},
    {"method", "server_beta", K_DOUBLE, F(learn.method.server_beta), "0.9", "RoSDHB: server momentum beta"},
    {"method", "alpha", K_DOUBLE, F(learn.method.alpha), "0", "BR-DIANA: shift step (0: 1/(omega+1))"},
    {"method", "byz_state", K_SPECIAL, NOF, "own",
     "server state of Byzantine workers: own (paper) or last_honest (reference code)"},
    {"method", "init", K_SPECIAL, NOF, "clean",
     "EF21 start: clean (g = 0), side_channel ([S] CNN), scaled ([S] a9a)"},
    {"compressor", "name", K_STR, F(learn.comp.name), "topk",
     "compressor (see byzgrid list); default: the method's own (identity for sgd/mom-sgd, randk for unbiased ones)"},
    {"compressor", "k", K_SIZE, F(learn.comp.k), "0", "values kept (0: use ratio)"},
    {"compressor", "ratio", K_DOUBLE, F(learn.comp.ratio), "0.1", "fraction of values kept when k = 0"},
    {"compressor", "scaled", K_BOOL, F(learn.comp.scaled), "true", "randk: scale kept values by d/k (unbiased)"},
    {"compressor", "shared_mask", K_BOOL, F(learn.comp.shared_mask), "false",
     "randk: one mask per round shared by all workers (indices do not travel)"},
    {"compressor", "levels", K_SIZE, F(learn.comp.levels), "16", "qsgd: quantisation levels s"},
    {"compressor", "scope", K_SPECIAL, NOF, "global", "global: one vector; layer: every layer on its own"},
    {"downlink", "name", K_STR, F(learn.down_comp.name), "identity",
     "downlink compressor (methods that compress the broadcast: byz-ef21-bc)"},
    {"downlink", "k", K_SIZE, F(learn.down_comp.k), "0", "downlink: values kept (0: use ratio)"},
    {"downlink", "ratio", K_DOUBLE, F(learn.down_comp.ratio), "0.1", "downlink: fraction kept when k = 0"},
    {"aggregator", "name", K_STR, F(learn.agg), "cm", "robust aggregator (see byzgrid list)"},
    {"aggregator", "pre", K_STR, F(learn.pre), "nnm", "pre-aggregator: nnm or none"},
    {"aggregator", "rfa_iters", K_SIZE, F(learn.agg_args.rfa_iters), "8", "RFA: Weiszfeld iteration cap"},
    {"aggregator", "rfa_nu", K_DOUBLE, F(learn.agg_args.rfa_nu), "0.1", "RFA: smoothing nu"},
    {"aggregator", "rfa_tol", K_DOUBLE, F(learn.agg_args.rfa_tol), "1e-6", "RFA: relative tolerance"},
    {"aggregator", "krum_power", K_SPECIAL, NOF, "2", "Krum score exponent on distances: 2, or 4 ([S] artifact)"},
    {"aggregator", "krum_m", K_SIZE, F(learn.agg_args.krum_m), "0", "Multi-Krum: vectors averaged (0: n - f)"},
    {"aggregator", "cc_tau", K_DOUBLE, F(learn.agg_args.cc_tau), "10", "centered clipping: radius"},
    {"aggregator", "cc_iters", K_SIZE, F(learn.agg_args.cc_iters), "3", "centered clipping: iterations"},
    {"aggregator", "bucket_s", K_SIZE, F(learn.agg_args.bucket_s), "2", "bucketing: bucket size"},
    {"aggregator", "clip_tau", K_DOUBLE, F(learn.agg_args.clip_tau), "1", "static clipping: norm bound"},
    {"aggregator", "dnc_iters", K_SIZE, F(learn.agg_args.dnc_iters), "1", "DnC: iterations"},
    {"aggregator", "dnc_sub_dim", K_SIZE, F(learn.agg_args.dnc_sub_dim), "10000", "DnC: coordinates sampled"},
    {"aggregator", "dnc_filter_frac", K_DOUBLE, F(learn.agg_args.dnc_filter_frac), "1", "DnC: filter fraction"},
    {"aggregator", "mda_max_subsets", K_DOUBLE, F(learn.agg_args.mda_max_subsets), "1e6",
     "MDA: refuse when C(n, n-f) exceeds this"},
    {"attack", "name", K_STR, F(learn.attack.name), "none", "attack of the Byzantine workers (see byzgrid list)"},
    {"attack", "f", K_SIZE, F(learn.f), "0", "number of Byzantine workers (the last f of workers.hosts)"},
    {"attack", "eps", K_DOUBLE, F(learn.attack.eps), "0.1", "IPM: epsilon"},
    {"attack", "z", K_SPECIAL, NOF, "auto", "ALIE: z (auto: from n and f; 1.06 with alie_dev = variance)"},
    {"attack", "alie_dev", K_SPECIAL, NOF, "std", "ALIE deviation: std ([S]) or variance ([R])"},
    {"attack", "sigma", K_DOUBLE, F(learn.attack.sigma), "0.5", "gaussian/random: standard deviation"},
    {"attack", "mimic_warmup", K_SIZE, F(learn.attack.mimic_warmup), "1", "mimic: warm-up rounds"},
    {"attack", "payload", K_SPECIAL, NOF, "nan", "nan attack: the value sent: nan, inf or -inf"},
    {"attack", "timing", K_SPECIAL, NOF, "eavesdrop",
     "eavesdrop: omniscient attackers wait for the honest messages to exist; oracle: idealised, no wait"},
    {"workers", "n", K_SIZE, F(learn.n), "20", "number of workers, Byzantine included"},
    {"workers", "hosts", K_SPECIAL, NOF, "w0..w{n-1}", "worker hosts in rank order: list and ranges (w0..w9, w12)"},
    {"workers", "server", K_STR, F(server_host), "server", "host of the parameter server"},
    {"platform", "file", K_PATH, F(platform), "", "SimGrid platform XML"},
    {"platform", "network_model", K_SPECIAL, NOF, "LV08", "LV08 (realistic TCP) or CM02 (analytic max-min)"},
    {"platform", "crosstraffic", K_SPECIAL, NOF, "default", "model TCP ACK traffic: true, false, default"},
    {"platform", "tcp_gamma", K_DOUBLE, F(tcp_gamma), "default", "TCP window bound in bytes (0: no bound)"},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

const char *bg_data_dir(void)
{
    static char buf[1024];
    const char *env = getenv("BYZGRID_DATA_DIR");
    if (env && *env)
        return env;
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/a9a.gz", BYZGRID_SOURCE_DATA_DIR);
    if (access(probe, R_OK) == 0)
        return BYZGRID_SOURCE_DATA_DIR;
    snprintf(buf, sizeof buf, "%s", BYZGRID_INSTALL_DATA_DIR);
    return buf;
}

typedef struct parse_ctx {
    bg_scenario_t *sc;
    bg_err_t *err;
    FILE *fp;
    const char *file;     /* file name for errors ("--set" for overrides) */
    long line;
    char dir[1024];       /* base for relative paths */
    int failed;
} parse_ctx_t;

static int fail(parse_ctx_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parse_ctx_t *c, int code, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    char buf[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bg_err_set(c->err, code, c->file, c->line, "%s", buf);
    c->failed = 1;
    return 0;
}

static void remember_line(parse_ctx_t *c, const char *section, const char *name)
{
    bg_scenario_t *sc = c->sc;
    char key[64];
    snprintf(key, sizeof key, "%s.%s", section, name);
    size_t i;
    for (i = 0; i < sc->n_lines; i++)
        if (strcmp(sc->lines[i].key, key) == 0)
            break;
    if (i == sc->n_lines) {
        if (sc->n_lines == sizeof sc->lines / sizeof sc->lines[0])
            return;
        sc->n_lines++;
    }
    snprintf(sc->lines[i].key, sizeof sc->lines[i].key, "%s", key);
    snprintf(sc->lines[i].file, sizeof sc->lines[i].file, "%s", c->file);
    sc->lines[i].line = c->line;
}

static void resolve_path(const parse_ctx_t *c, const char *v, char *out, size_t len)
{
    if (v[0] == '/' || !c->dir[0])
        snprintf(out, len, "%s", v);
    else
        snprintf(out, len, "%s/%s", c->dir, v);
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)v[0]))
        return -1;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x > (unsigned long long)SIZE_MAX / 2)
        return -1;
    *out = (size_t)x;
    return 0;
}

static int parse_double(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x))
        return -1;
    *out = x;
    return 0;
}

/* Component names are checked here, so the error points at the line that named them. */
static int check_component(parse_ctx_t *c, const char *section, const char *name, const char *v)
{
    const char *known = NULL;
    char list[512] = "";
#define LIST(reg)                                                                                                   \
    do {                                                                                                            \
        for (size_t i = 0; reg[i]; i++) {                                                                           \
            if (!strcmp(reg[i]->name, v))                                                                           \
                return 1;                                                                                           \
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", reg[i]->name);        \
        }                                                                                                           \
    } while (0)
    if (!strcmp(section, "data") && !strcmp(name, "dataset") && *v) {   /* "": the data.train/test paths */
        for (size_t i = 0; bg_dataset_names[i]; i++) {
            if (!strcmp(bg_dataset_names[i], v))
                return 1;
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", bg_dataset_names[i]);
        }
        return fail(c, BG_ENOTFOUND, "unknown dataset '%s' (built-in: %s; or give data.train and data.test paths)", v,
                    list);
    }
    if (strcmp(name, "name") && strcmp(name, "pre"))
        return 1;
    if (!strcmp(section, "model")) {
        known = "model";
        LIST(bg_model_registry);
    } else if (!strcmp(section, "method")) {
        known = "method";
        LIST(bg_method_registry);
    } else if (!strcmp(section, "compressor") || !strcmp(section, "downlink")) {
        known = "compressor";
        LIST(bg_compressor_registry);
    } else if (!strcmp(section, "aggregator") && !strcmp(name, "name")) {
        known = "aggregator";
        LIST(bg_aggregator_registry);
    } else if (!strcmp(section, "aggregator")) {
        known = "pre-aggregator";
        LIST(bg_preagg_registry);
    } else if (!strcmp(section, "attack")) {
        known = "attack";
        LIST(bg_attack_registry);
    } else {
        return 1;
    }
#undef LIST
    return fail(c, BG_ENOTFOUND, "unknown %s '%s' (known: %s)", known, v, list);
}

static int set_special(parse_ctx_t *c, const key_def_t *k, const char *v)
{
    bg_scenario_t *sc = c->sc;
    const char *n = k->name;
    if (!strcmp(k->section, "run") && !strcmp(n, "progress")) {
        int b;
        if (!strcasecmp(v, "auto"))
            sc->progress = -1;
        else if (parse_bool(v, &b) == 0)
            sc->progress = b;
        else
            return fail(c, BG_EINVAL, "run.progress = '%s': expected auto, on or off", v);
    } else if (!strcmp(k->section, "run") && (!strcmp(n, "grad_norm") || !strcmp(n, "dist_to_opt"))) {
        int b, *dst = n[0] == 'g' ? &sc->learn.grad_norm : &sc->learn.dist_opt;
        if (!strcasecmp(v, "auto"))
            *dst = -1;
        else if (parse_bool(v, &b) == 0)
            *dst = b;
        else
            return fail(c, BG_EINVAL, "run.%s = '%s': expected auto, true or false", n, v);
    } else if (!strcmp(n, "normalize")) {
        int b;
        if (!strcasecmp(v, "auto"))
            sc->learn.normalize = -1;
        else if (parse_bool(v, &b) == 0)
            sc->learn.normalize = b;
        else
            return fail(c, BG_EINVAL, "data.normalize = '%s': expected auto, true or false", v);
    } else if (!strcmp(n, "holders")) {
        if (!strcasecmp(v, "honest"))
            sc->learn.data_all = 0;
        else if (!strcasecmp(v, "all"))
            sc->learn.data_all = 1;
        else
            return fail(c, BG_EINVAL, "data.holders = '%s': expected honest or all", v);
    } else if (!strcmp(k->section, "partition") && !strcmp(n, "name")) {
        /* auto is resolved by the engine; other names are checked there (bg_partition names its key) */
        snprintf(sc->learn.partition.name, sizeof sc->learn.partition.name, "%s", strcasecmp(v, "auto") ? v : "");
    } else if (!strcmp(n, "lr_schedule")) {
        if (!strcasecmp(v, "constant"))
            sc->learn.method.lr_schedule = 0;
        else if (!strcasecmp(v, "cosine"))
            sc->learn.method.lr_schedule = 1;
        else
            return fail(c, BG_EINVAL, "method.lr_schedule = '%s': expected constant or cosine", v);
    } else if (!strcmp(n, "in_shape")) {
        size_t v3[3] = {0, 0, 0};
        if (strcasecmp(v, "auto")) {
            const char *p = v;
            for (int i = 0; i < 3; i++) {
                char *end;
                errno = 0;
                unsigned long long x = strtoull(p, &end, 10);
                if (end == p || errno || x == 0 || x > (1u << 20) || *p == '-' ||
                    (i < 2 ? *end != ',' : *end != '\0'))
                    return fail(c, BG_EINVAL, "model.in_shape = '%s': expected auto or channels,height,width, e.g. 1,28,28",
                                v);
                v3[i] = (size_t)x;
                p = end + 1;
            }
        }
        memcpy(sc->learn.model.in_shape, v3, sizeof v3);
    } else if (!strcmp(n, "hidden")) {
        size_t nh = 0;
        const char *p = v;
        while (*p) {
            char *end;
            errno = 0;
            unsigned long long w = strtoull(p, &end, 10);
            if (end == p || errno || w == 0 || w > (1u << 24) || *p == '-')
                return fail(c, BG_EINVAL, "model.hidden = '%s': expected widths >= 1 separated by commas, e.g. 256,128", v);
            if (nh == BG_MODEL_MAX_HIDDEN)
                return fail(c, BG_ERANGE, "model.hidden = '%s': at most %d hidden layers", v, BG_MODEL_MAX_HIDDEN);
            sc->learn.model.hidden[nh++] = (size_t)w;
            p = end;
            while (*p == ' ')
                p++;
            if (*p == ',')
                p++;
            else if (*p)
                return fail(c, BG_EINVAL, "model.hidden = '%s': expected widths >= 1 separated by commas, e.g. 256,128", v);
            while (*p == ' ')
                p++;
        }
        sc->learn.model.n_hidden = nh;
    } else if (!strcmp(n, "reg")) {
        if (!strcasecmp(v, "l2"))
            sc->learn.model.reg = BG_REG_L2;
        else if (!strcasecmp(v, "nonconvex"))
            sc->learn.model.reg = BG_REG_NONCONVEX;
        else
            return fail(c, BG_EINVAL, "model.reg = '%s': expected l2 or nonconvex", v);
    } else if (!strcmp(n, "z")) {
        if (!strcasecmp(v, "auto"))
            sc->learn.attack.z = NAN;
        else if (parse_double(v, &sc->learn.attack.z))
            return fail(c, BG_EINVAL, "attack.z = '%s': expected auto or a number", v);
    } else if (!strcmp(n, "scope")) {
        if (!strcasecmp(v, "global"))
            sc->learn.comp.per_layer = 0;
        else if (!strcasecmp(v, "layer"))
            sc->learn.comp.per_layer = 1;
        else
            return fail(c, BG_EINVAL, "compressor.scope = '%s': expected global or layer", v);
    } else if (!strcmp(n, "byz_state")) {
        if (!strcasecmp(v, "own"))
            sc->learn.method.byz_state = BG_BYZ_STATE_OWN;
        else if (!strcasecmp(v, "last_honest"))
            sc->learn.method.byz_state = BG_BYZ_STATE_LAST_HONEST;
        else
            return fail(c, BG_EINVAL, "method.byz_state = '%s': expected own or last_honest", v);
    } else if (!strcmp(n, "init")) {
        if (!strcasecmp(v, "clean"))
            sc->learn.method.init = BG_INIT_CLEAN;
        else if (!strcasecmp(v, "side_channel"))
            sc->learn.method.init = BG_INIT_SIDE_CHANNEL;
        else if (!strcasecmp(v, "scaled"))
            sc->learn.method.init = BG_INIT_SCALED;
        else
            return fail(c, BG_EINVAL, "method.init = '%s': expected clean, side_channel or scaled", v);
    } else if (!strcmp(n, "krum_power")) {
        if (!strcmp(v, "2"))
            sc->learn.agg_args.krum_power = 2;
        else if (!strcmp(v, "4"))
            sc->learn.agg_args.krum_power = 4;
        else
            return fail(c, BG_EINVAL, "aggregator.krum_power = '%s': expected 2 or 4", v);
    } else if (!strcmp(n, "alie_dev")) {
        if (!strcasecmp(v, "std"))
            sc->learn.attack.alie_variance = 0;
        else if (!strcasecmp(v, "variance"))
            sc->learn.attack.alie_variance = 1;
        else
            return fail(c, BG_EINVAL, "attack.alie_dev = '%s': expected std or variance", v);
    } else if (!strcmp(n, "payload")) {
        if (!strcasecmp(v, "nan"))
            sc->learn.attack.payload = NAN;
        else if (!strcasecmp(v, "inf"))
            sc->learn.attack.payload = INFINITY;
        else if (!strcasecmp(v, "-inf"))
            sc->learn.attack.payload = -INFINITY;
        else
            return fail(c, BG_EINVAL, "attack.payload = '%s': expected nan, inf or -inf", v);
    } else if (!strcmp(n, "timing")) {
        if (!strcasecmp(v, "eavesdrop"))
            sc->attack_oracle = 0;
        else if (!strcasecmp(v, "oracle"))
            sc->attack_oracle = 1;
        else
            return fail(c, BG_EINVAL, "attack.timing = '%s': expected eavesdrop or oracle", v);
    } else if (!strcmp(n, "hosts")) {
        snprintf(sc->hosts_spec, sizeof sc->hosts_spec, "%s", v);
    } else if (!strcmp(n, "network_model")) {
        if (strcasecmp(v, "LV08") && strcasecmp(v, "CM02"))
            return fail(c, BG_EINVAL, "platform.network_model = '%s': expected LV08 or CM02", v);
        snprintf(sc->network_model, sizeof sc->network_model, "%s", v);
        for (char *p = sc->network_model; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    } else if (!strcmp(n, "crosstraffic")) {
        int b;
        if (!strcasecmp(v, "default"))
            sc->crosstraffic = -1;
        else if (parse_bool(v, &b) == 0)
            sc->crosstraffic = b;
        else
            return fail(c, BG_EINVAL, "platform.crosstraffic = '%s': expected true, false or default", v);
    }
    return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx_t *c = user;
    if (c->failed)
        return 1;   /* report only the first error */
    const key_def_t *k = NULL;
    int section_known = 0;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!strcmp(keys[i].section, section)) {
            section_known = 1;
            if (!strcmp(keys[i].name, name)) {
                k = &keys[i];
                break;
            }
        }
    }
    if (!section[0])
        return fail(c, BG_EINVAL, "key '%s' outside any [section]", name);
    if (!section_known)
        return fail(c, BG_EINVAL,
                    "unknown section [%s] (known: run, data, model, method, compressor, downlink, aggregator, "
                    "attack, workers, platform)",
                    section);
    if (!k) {
        char list[512] = "";
        for (size_t i = 0; i < N_KEYS; i++)
            if (!strcmp(keys[i].section, section))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                         keys[i].name);
        return fail(c, BG_EINVAL, "unknown key '%s' in [%s] (known: %s)", name, section, list);
    }
    if (!value[0])
        return fail(c, BG_EINVAL, "%s.%s has no value", section, name);
    remember_line(c, section, name);
    char *dst = (char *)c->sc + k->off;
    switch (k->kind) {
    case K_SIZE:
        if (parse_size(value, (size_t *)dst))
            return fail(c, BG_EINVAL, "%s.%s = '%s': expected a non-negative integer", section, name, value);
        break;
    case K_U64: {
        size_t v;
        if (parse_size(value, &v))
            return fail(c, BG_EINVAL, "%s.%s = '%s': expected a non-negative integer", section, name, value);
        *(uint64_t *)dst = v;
        break;
    }
    case K_DOUBLE:
        if (parse_double(value, (double *)dst))
            return fail(c, BG_EINVAL, "%s.%s = '%s': expected a number", section, name, value);
        break;
    case K_BOOL:
        if (parse_bool(value, (int *)dst))
            return fail(c, BG_EINVAL, "%s.%s = '%s': expected true or false", section, name, value);
        break;
    case K_STR:
        if (strlen(value) >= k->len)
            return fail(c, BG_EINVAL, "%s.%s is too long (at most %zu characters)", section, name, k->len - 1);
        snprintf(dst, k->len, "%s", value);
        return check_component(c, section, name, value);
    case K_PATH:
        resolve_path(c, value, dst, k->len);
        break;
    case K_SPECIAL:
        return set_special(c, k, value);
    }
    return 1;
}

static char *reader(char *str, int num, void *stream)
{
    parse_ctx_t *c = stream;
    char *r = fgets(str, num, c->fp);
    if (r)
        c->line++;
    return r;
}

static void scenario_defaults(bg_scenario_t *sc)
{
    memset(sc, 0, sizeof *sc);
    bg_config_default(&sc->learn);
    snprintf(sc->learn.data_dir, sizeof sc->learn.data_dir, "%s", bg_data_dir());
    snprintf(sc->network_model, sizeof sc->network_model, "LV08");
    snprintf(sc->server_host, sizeof sc->server_host, "server");
    sc->crosstraffic = -1;
    sc->tcp_gamma = -1;
    sc->progress = -1;
}

/* "w0..w19, w25 edge3" -> names. A range a..b needs the same prefix and numeric suffixes. */
static int expand_hosts(bg_scenario_t *sc, bg_err_t *err)
{
    size_t n = sc->learn.n;
    free(sc->hosts);
    sc->hosts = calloc(n ? n : 1, sizeof *sc->hosts);
    if (!sc->hosts)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    sc->n_hosts = 0;
    if (!sc->hosts_spec[0]) {
        for (size_t i = 0; i < n; i++)
            snprintf(sc->hosts[i], BG_MAX_HOSTNAME, "w%zu", i);
        sc->n_hosts = n;
        return BG_OK;
    }
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", sc->hosts_spec);
    char *save = NULL;
    int too_many = 0;
    size_t listed = 0;
    for (char *tok = strtok_r(spec, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        char *dots = strstr(tok, "..");
        if (!dots) {
            if (sc->n_hosts < n)
                snprintf(sc->hosts[sc->n_hosts++], BG_MAX_HOSTNAME, "%s", tok);
            else
                too_many = 1;
            listed++;
            continue;
        }
        *dots = '\0';
        const char *a = tok, *b = dots + 2;
        size_t pa = strcspn(a, "0123456789"), pb = strcspn(b, "0123456789");
        char *ea, *eb;
        long lo = strtol(a + pa, &ea, 10), hi = strtol(b + pb, &eb, 10);
        if (pa != pb || strncmp(a, b, pa) || !a[pa] || !b[pb] || *ea || *eb || hi < lo)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "workers.hosts: bad range '%s..%s' (expected e.g. w0..w19: same prefix, rising numbers)",
                              a, b);
        for (long v = lo; v <= hi; v++, listed++) {
            if (sc->n_hosts < n)
                snprintf(sc->hosts[sc->n_hosts++], BG_MAX_HOSTNAME, "%.*s%ld", (int)pa, a, v);
            else
                too_many = 1;
        }
    }
    if (too_many || sc->n_hosts != n)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "workers.hosts lists %zu hosts but workers.n = %zu", listed, n);
    return BG_OK;
}

void bg_scenario_locate(const bg_scenario_t *sc, bg_err_t *err)
{
    if (!err->key[0] || err->file[0])
        return;
    for (size_t i = 0; i < sc->n_lines; i++)
        if (!strcmp(sc->lines[i].key, err->key)) {
            snprintf(err->file, sizeof err->file, "%s", sc->lines[i].file);
            err->line = sc->lines[i].line;
            return;
        }
    /* The key kept its default: point at the scenario file itself. */
    snprintf(err->file, sizeof err->file, "%s", sc->path);
    err->line = 0;
}

int bg_scenario_load(const char *path, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err)
{
    scenario_defaults(sc);
    snprintf(sc->path, sizeof sc->path, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(sc->name, sizeof sc->name, "%s", base);
    char *dot = strrchr(sc->name, '.');
    if (dot && dot != sc->name)
        *dot = '\0';

    parse_ctx_t c = {.sc = sc, .err = err, .file = path};
    snprintf(c.dir, sizeof c.dir, "%s", path);
    char *slash = strrchr(c.dir, '/');
    if (slash)
        *slash = '\0';
    else
        c.dir[0] = '\0';
    c.fp = fopen(path, "r");
    if (!c.fp)
        return bg_err_set(err, BG_EIO, path, 0, "cannot open the scenario: %s", strerror(errno));
    ini_allow_multiline = false;   /* an indented line is a mistake, not a continuation */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = 1 << 16;
    int rc = ini_parse_stream(reader, &c, handler, &c);
    fclose(c.fp);
    if (c.failed)
        return err->code;
    if (rc > 0)
        return bg_err_set(err, BG_EINVAL, path, rc, "malformed line (expected [section], key = value, or a ; comment)");
    if (rc < 0)
        return bg_err_set(err, BG_EIO, path, 0, "cannot read the scenario");

    for (size_t i = 0; i < n_sets; i++) {
        const char *s = sets[i];
        const char *dotp = strchr(s, '.'), *eq = strchr(s, '=');
        if (!dotp || !eq || dotp > eq)
            return bg_err_set(err, BG_EINVAL, "--set", 0, "'%s': expected section.key=value", s);
        char section[64], key[64];
        snprintf(section, sizeof section, "%.*s", (int)(dotp - s), s);
        snprintf(key, sizeof key, "%.*s", (int)(eq - dotp - 1), dotp + 1);
        parse_ctx_t o = {.sc = sc, .err = err, .file = "--set", .line = 0};
        handler(&o, section, key, eq + 1);
        if (o.failed)
            return err->code;
    }
    /* A method's natural compressor when the scenario names none (momentum SGD is the uncompressed baseline,
     * BR-CSGD/DIANA/MARINA/DASHA need an unbiased one). */
    int comp_named = 0;
    for (size_t i = 0; i < sc->n_lines; i++)
        comp_named |= !strcmp(sc->lines[i].key, "compressor.name");
    const bg_method_ops_t *mops = bg_method_find(sc->learn.method.name);
    if (!comp_named && mops && mops->default_compressor)
        snprintf(sc->learn.comp.name, sizeof sc->learn.comp.name, "%s", mops->default_compressor);
    if (!sc->learn.dataset[0] && !sc->learn.train_path[0])
        return bg_err_set(err, BG_EINVAL, path, 0, "no data: set data.dataset (a9a, w8a, mnist, fmnist, synthetic) or data.train");
    if (!sc->platform[0])
        return bg_err_set(err, BG_EINVAL, path, 0, "no platform: set platform.file (e.g. ../platforms/star-hetero.xml)");
    int r = expand_hosts(sc, err);
    if (r) {
        bg_err_key(err, "workers.hosts");
        bg_scenario_locate(sc, err);
    }
    return r;
}

void bg_scenario_free(bg_scenario_t *sc)
{
    free(sc->hosts);
    sc->hosts = NULL;
    sc->n_hosts = 0;
}

void bg_scenario_print_keys(FILE *out)
{
    const char *cur = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(cur, keys[i].section)) {
            cur = keys[i].section;
            fprintf(out, "  [%s]\n", cur);
        }
        fprintf(out, "    %-14s %-12s %s\n", keys[i].name, keys[i].def, keys[i].help);
    }
}
