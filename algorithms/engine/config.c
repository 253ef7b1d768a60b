/* The learning keys of a scenario, each declared once: section, name, type, field of bg_config_t, default, allowed
 * range or words, help. Parsing, defaults, validation, `byzgrid keys` and summary.json all read this table. */
#include "bg_config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- keys that are lists */

/* model.hidden: widths >= 1 separated by commas ("" = no hidden layer). */
static int parse_hidden(const bg_key_t *k, void *base, const char *v, char *why, size_t len)
{
    (void)k;
    bg_model_cfg_t *m = &((bg_config_t *)base)->model;
    size_t nh = 0, w[BG_MODEL_MAX_HIDDEN];
    for (const char *p = v; *p;) {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p || errno || x == 0 || x > (1u << 24) || *p == '-') {
            snprintf(why, len, "widths >= 1 separated by commas, e.g. 256,128");
            return -1;
        }
        if (nh == BG_MODEL_MAX_HIDDEN) {
            snprintf(why, len, "at most %d hidden layers", BG_MODEL_MAX_HIDDEN);
            return -1;
        }
        w[nh++] = (size_t)x;
        for (p = end; *p == ' '; p++) {
        }
        if (*p == ',')
            p++;
        else if (*p) {
            snprintf(why, len, "widths >= 1 separated by commas, e.g. 256,128");
            return -1;
        }
        while (*p == ' ')
            p++;
    }
    memcpy(m->hidden, w, nh * sizeof *w);
    m->n_hidden = nh;
    return 0;
}

static void format_hidden(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    (void)k;
    const bg_model_cfg_t *m = &((const bg_config_t *)base)->model;
    size_t used = 0;
    buf[0] = '\0';
    for (size_t l = 0; l < m->n_hidden && used < len; l++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", l ? "," : "", m->hidden[l]);
}

/* model.in_shape: auto, or channels,height,width. */
static int parse_in_shape(const bg_key_t *k, void *base, const char *v, char *why, size_t len)
{
    (void)k;
    size_t s[3] = {0, 0, 0};
    if (strcasecmp(v, "auto")) {
        const char *p = v;
        for (int i = 0; i < 3; i++) {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(p, &end, 10);
            if (end == p || errno || x == 0 || x > (1u << 20) || *p == '-' || (i < 2 ? *end != ',' : *end != '\0')) {
                snprintf(why, len, "auto or channels,height,width, e.g. 1,28,28");
                return -1;
            }
            s[i] = (size_t)x;
            p = end + 1;
        }
    }
    memcpy(((bg_config_t *)base)->model.in_shape, s, sizeof s);
    return 0;
}

static void format_in_shape(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    (void)k;
    const size_t *s = ((const bg_config_t *)base)->model.in_shape;
    if (!s[0] && !s[1] && !s[2])
        snprintf(buf, len, "auto");
    else
        snprintf(buf, len, "%zu,%zu,%zu", s[0], s[1], s[2]);
}

/* ---------------------------------------------------------------- the table */

#define AT(field) offsetof(bg_config_t, field), sizeof(((bg_config_t *)0)->field)

static const bg_key_word_t auto_word[] = {{"auto", -1}, {NULL, 0}};
static const bg_key_word_t auto_zero[] = {{"auto", 0}, {NULL, 0}};
static const bg_key_word_t auto_nan[] = {{"auto", NAN}, {NULL, 0}};
static const bg_key_word_t holders[] = {{"honest", 0}, {"all", 1}, {NULL, 0}};
static const bg_key_word_t regs[] = {{"l2", BG_REG_L2}, {"nonconvex", BG_REG_NONCONVEX}, {NULL, 0}};
static const bg_key_word_t schedules[] = {{"constant", 0}, {"cosine", 1}, {NULL, 0}};
static const bg_key_word_t byz_states[] = {
    {"own", BG_BYZ_STATE_OWN}, {"last_honest", BG_BYZ_STATE_LAST_HONEST}, {NULL, 0}};
static const bg_key_word_t inits[] = {
    {"clean", BG_INIT_CLEAN}, {"side_channel", BG_INIT_SIDE_CHANNEL}, {"scaled", BG_INIT_SCALED}, {NULL, 0}};
static const bg_key_word_t scopes[] = {{"global", 0}, {"layer", 1}, {NULL, 0}};
static const bg_key_word_t krum_powers[] = {{"2", 2}, {"4", 4}, {NULL, 0}};
static const bg_key_word_t alie_devs[] = {{"std", 0}, {"variance", 1}, {NULL, 0}};
static const bg_key_word_t wires[] = {{"dense", BG_WIRE_DENSE}, {"conform", BG_WIRE_CONFORM}, {NULL, 0}};
static const bg_key_word_t payloads[] = {{"nan", NAN}, {"inf", INFINITY}, {"-inf", -INFINITY}, {NULL, 0}};

/* The column order: section, name, type, field, default, help, min, max, flags, words, registry, parse, format. */
#define SIZE(s, n, f, def, lo, help) {s, n, BG_KEY_SIZE, AT(f), def, help, lo, NAN, 0, NULL, NULL, NULL, NULL}
/* An iteration count with a cap, so no value makes a run (or `byzgrid aggregate`) loop for ever. */
#define ITERS(s, n, f, def, help) {s, n, BG_KEY_SIZE, AT(f), def, help, 1, BG_MAX_ITERS, 0, NULL, NULL, NULL, NULL}
#define BG_MAX_ITERS 10000
#define DBL(s, n, f, def, lo, hi, fl, w, help) {s, n, BG_KEY_DOUBLE, AT(f), def, help, lo, hi, fl, w, NULL, NULL, NULL}
#define BOOL(s, n, f, def, w, help) {s, n, BG_KEY_BOOL, AT(f), def, help, NAN, NAN, 0, w, NULL, NULL, NULL}
#define CHOICE(s, n, f, def, w, help) {s, n, BG_KEY_CHOICE, AT(f), def, help, NAN, NAN, 0, w, NULL, NULL, NULL}
#define NAME(s, n, f, def, reg, w, fl, help) {s, n, BG_KEY_STRING, AT(f), def, help, NAN, NAN, fl, w, &reg, NULL, NULL}
#define PATH(s, n, f, help) {s, n, BG_KEY_PATH, AT(f), "", help, NAN, NAN, 0, NULL, NULL, NULL, NULL}
#define LIST(s, n, f, def, p, fm, help)                                                                             \
    {s, n, BG_KEY_CUSTOM, AT(f), def, help, NAN, NAN, BG_KEY_NUMBERS, NULL, NULL, p, fm}
#define OPEN BG_KEY_MIN_OPEN
#define NONE NAN

const bg_key_t bg_config_keys[] = {
    {"run", "seed", BG_KEY_U64, AT(seed), "1", "master seed; every RNG stream derives from it", NONE, NONE, 0, NULL,
     NULL, NULL, NULL},
    SIZE("run", "rounds", rounds, "1000", 0, "rounds to run (synchronous unless [round] or [faults] say otherwise)"),
    SIZE("run", "eval_every", eval_every, "100", 1, "evaluate every this many rounds (and at 0, end)"),
    {"run", "threads", BG_KEY_SIZE, AT(threads), "auto",
     "threads for the honest workers' local work of a round (gradients, momentum, compression), computed side by "
     "side between simulation steps (OpenBLAS stays on one thread): the run's budget of cores; results are "
     "bit-identical for any number; auto: the machine's online cores; 1: one core",
     0, NAN, 0, auto_zero, NULL, NULL, NULL},
    BOOL("run", "eval_train", eval_train, "true", NULL, "also evaluate on the full training set"),
    BOOL("run", "grad_norm", grad_norm, "auto", auto_word,
         "grad_norm_sq column (full honest gradient; auto: on when one pass costs <= 2e10 flops)"),
    BOOL("run", "dist_to_opt", dist_opt, "auto", auto_word,
         "dist_to_opt column (|x - x*|, logreg + L2 only; auto: on for synthetic data)"),

    NAME("data", "dataset", dataset, "", bg_datasets, NULL, BG_KEY_EMPTY_OK,
         "built-in dataset; none: give data.train (and data.test)"),
    PATH("data", "train", train_path, "training file: LIBSVM (plain or .gz), or IDX images"),
    PATH("data", "train_labels", train_labels, "IDX label file of data.train (makes it IDX)"),
    PATH("data", "test", test_path, "test file (none: hold out data.test_fraction)"),
    PATH("data", "test_labels", test_labels, "IDX label file of data.test"),
    DBL("data", "test_fraction", test_fraction, "0.2", 0, 1, OPEN | BG_KEY_MAX_OPEN, NULL,
        "share held out as test set when there is no test file"),
    SIZE("data", "features", n_features, "0", 0, "LIBSVM feature count (0: largest index in train)"),
    SIZE("data", "classes", n_classes, "0", 0,
         "declared classes (0: from the data; LIBSVM with 0 or 2: binary +-1/0-1 labels)"),
    BOOL("data", "normalize", normalize, "auto", auto_word,
         "scale rows to unit L2 norm (auto: LIBSVM yes, images no)"),
    CHOICE("data", "holders", data_all, "honest", holders,
           "who holds data: honest (Byzantine data attacks reuse honest shards) or all (Byzantine get their own)"),
    SIZE("data", "synth_per_worker", synth.per_group, "1000", 1, "synthetic: training samples per worker"),
    SIZE("data", "synth_test", synth.n_test, "2000", 1, "synthetic: test samples"),
    SIZE("data", "synth_dim", synth.d, "20", 1, "synthetic: features"),
    DBL("data", "synth_separation", synth.separation, "2", 0, NONE, 0, NULL, "synthetic: distance between class means"),
    DBL("data", "synth_zeta", synth.zeta, "0", 0, NONE, 0, NULL,
        "synthetic: heterogeneity (spread of worker shifts; 0 = IID)"),

    NAME("partition", "name", partition.name, "auto", bg_partitions, auto_word, 0,
         "how samples are split over workers (auto: contiguous for synthetic data, iid otherwise)"),
    DBL("partition", "alpha", partition.alpha, "0.5", 0, NONE, OPEN, NULL, "dirichlet: concentration (small = skewed)"),
    SIZE("partition", "k", partition.k, "2", 1, "shards: classes per worker"),
    DBL("partition", "size_sigma", partition.size_sigma, "0", 0, NONE, 0, NULL,
        "iid: lognormal sigma of unequal sizes (0: equal)"),
    SIZE("partition", "min_size", partition.min_size, "1", 1, "smallest shard allowed"),

    NAME("model", "name", model.name, "logreg", bg_models, NULL, 0, "model the workers train"),
    LIST("model", "hidden", model, "", parse_hidden, format_hidden, "mlp: hidden layer widths, e.g. 128 or 256,128"),
    LIST("model", "in_shape", model, "auto", parse_in_shape, format_in_shape,
         "cnn/lenet5: input channels,height,width (auto: the IDX shape, or 1,s,s for s*s features)"),
    DBL("model", "lambda", model.lambda, "0.00056", 0, NONE, 0, NULL, "regularisation weight"),
    CHOICE("model", "reg", model.reg, "l2", regs, "l2: (lambda/2)|w|^2; nonconvex: lambda sum w^2/(1+w^2)"),

    NAME("method", "name", method.name, "byz-ef21-sgdm", bg_methods, NULL, 0,
         "training method (worker and server halves)"),
    DBL("method", "lr", method.lr, "0.05", 0, NONE, OPEN, NULL, "server step size gamma"),
    CHOICE("method", "lr_schedule", method.lr_schedule, "constant", schedules,
           "cosine anneals lr to lr * lr_min_ratio over run.rounds (PyTorch's CosineAnnealingLR)"),
    DBL("method", "lr_min_ratio", method.lr_min_ratio, "0", 0, 1, 0, NULL, "cosine: final lr as a fraction of lr"),
    DBL("method", "eta", method.eta, "0.1", 0, 1, OPEN, NULL, "momentum weight on the new gradient (beta = 1 - eta)"),
    SIZE("method", "batch", method.batch, "32", 1, "minibatch size per worker and round"),
    DBL("method", "p", method.p, "0", 0, 1, 0, NULL, "MARINA/DASHA-PAGE: full-gradient probability (0: auto)"),
    DBL("method", "server_beta", method.server_beta, "0.9", 0, 1, BG_KEY_MAX_OPEN, NULL,
        "RoSDHB: server momentum beta"),
    DBL("method", "alpha", method.alpha, "0", 0, 1, 0, NULL, "BR-DIANA: shift step (0: 1/(omega+1))"),
    CHOICE("method", "byz_state", method.byz_state, "own", byz_states,
           "server state of Byzantine workers: own (paper) or last_honest (reference code)"),
    CHOICE("method", "init", method.init, "clean", inits,
           "EF21 start: clean (g = 0), side_channel ([S] CNN), scaled ([S] a9a)"),

    NAME("compressor", "name", comp.name, "topk", bg_compressors, NULL, 0,
         "uplink compressor; unset: the method's own (identity for sgd/mom-sgd, randk for unbiased ones)"),
    SIZE("compressor", "k", comp.k, "0", 0, "values kept (0: use ratio)"),
    DBL("compressor", "ratio", comp.ratio, "0.1", 0, 1, OPEN, NULL, "fraction of values kept when k = 0"),
    BOOL("compressor", "scaled", comp.scaled, "true", NULL, "randk: scale kept values by d/k (unbiased)"),
    BOOL("compressor", "shared_mask", comp.shared_mask, "false", NULL,
         "randk: one mask per round shared by all workers (indices do not travel)"),
    SIZE("compressor", "levels", comp.levels, "16", 1, "qsgd: quantisation levels s"),
    CHOICE("compressor", "scope", comp.per_layer, "global", scopes,
           "global: one vector; layer: every layer on its own"),

    NAME("downlink", "name", down_comp.name, "identity", bg_compressors, NULL, 0,
         "downlink compressor (methods that compress the broadcast: byz-ef21-bc)"),
    SIZE("downlink", "k", down_comp.k, "0", 0, "downlink: values kept (0: use ratio)"),
    DBL("downlink", "ratio", down_comp.ratio, "0.1", 0, 1, OPEN, NULL, "downlink: fraction kept when k = 0"),
    BOOL("downlink", "scaled", down_comp.scaled, "true", NULL, "downlink randk: scale kept values by d/k (unbiased)"),
    SIZE("downlink", "levels", down_comp.levels, "16", 1, "downlink qsgd: quantisation levels s"),

    NAME("aggregator", "name", agg, "cm", bg_aggregators, NULL, 0, "robust aggregator"),
    NAME("aggregator", "pre", pre, "nnm", bg_preaggregators, NULL, 0,
         "pre-aggregator (none: aggregate the inputs as they are)"),
    ITERS("aggregator", "rfa_iters", agg_args.rfa_iters, "8", "RFA: Weiszfeld iteration cap"),
    DBL("aggregator", "rfa_nu", agg_args.rfa_nu, "0.1", 0, NONE, OPEN, NULL, "RFA: smoothing nu"),
    DBL("aggregator", "rfa_tol", agg_args.rfa_tol, "1e-6", 0, NONE, 0, NULL, "RFA: relative tolerance"),
    CHOICE("aggregator", "krum_power", agg_args.krum_power, "2", krum_powers,
           "Krum score exponent on distances (4: the [S] artifact)"),
    SIZE("aggregator", "krum_m", agg_args.krum_m, "0", 0, "Multi-Krum: vectors averaged (0: n - f)"),
    DBL("aggregator", "cc_tau", agg_args.cc_tau, "10", 0, NONE, OPEN, NULL, "centered clipping: radius"),
    ITERS("aggregator", "cc_iters", agg_args.cc_iters, "3", "centered clipping: iterations"),
    SIZE("aggregator", "bucket_s", agg_args.bucket_s, "2", 1, "bucketing: bucket size"),
    DBL("aggregator", "clip_tau", agg_args.clip_tau, "1", 0, NONE, OPEN, NULL, "static clipping: norm bound"),
    ITERS("aggregator", "dnc_iters", agg_args.dnc_iters, "1", "DnC: iterations"),
    SIZE("aggregator", "dnc_sub_dim", agg_args.dnc_sub_dim, "10000", 1, "DnC: coordinates sampled"),
    DBL("aggregator", "dnc_filter_frac", agg_args.dnc_filter_frac, "1", 0, NONE, 0, NULL, "DnC: filter fraction"),
    DBL("aggregator", "mda_max_subsets", agg_args.mda_max_subsets, "1e6", 1, 1e9, 0, NULL,
        "MDA: refuse when C(n, n-f) exceeds this"),

    NAME("attack", "name", attack.name, "none", bg_attacks, NULL, 0, "attack of the Byzantine workers"),
    SIZE("attack", "f", f, "0", 0,
         "number of Byzantine workers: ranks n - f .. n - 1 (attack.placement picks their hosts)"),
    DBL("attack", "eps", attack.eps, "0.1", NONE, NONE, 0, NULL, "IPM: epsilon"),
    DBL("attack", "z", attack.z, "auto", NONE, NONE, 0, auto_nan,
        "ALIE: z (auto: from n and f; 1.06 with alie_dev = variance)"),
    CHOICE("attack", "alie_dev", attack.alie_variance, "std", alie_devs, "ALIE deviation: std ([S]) or variance ([R])"),
    DBL("attack", "sigma", attack.sigma, "0.5", 0, NONE, 0, NULL, "gaussian/random: standard deviation"),
    SIZE("attack", "mimic_warmup", attack.mimic_warmup, "1", 0, "mimic: warm-up rounds"),
    DBL("attack", "payload", attack.payload, "nan", NONE, NONE, BG_KEY_WORDS_ONLY, payloads,
        "nan attack: the value every coordinate carries"),
    CHOICE("attack", "wire", attack_wire, "dense", wires,
           "crafted Byzantine messages: dense = the exact inverse, 16 + 4d bytes (the paper's strongest attacker; "
           "on slow links it sets the round time); conform = that inverse compressed like an honest message "
           "(same format and size; use it for timing studies)"),

    {"workers", "n", BG_KEY_SIZE, AT(n), "20", "number of workers, Byzantine included", 1, BG_MAX_WORKERS, 0, NULL,
     NULL, NULL, NULL},
};
const size_t bg_config_n_keys = sizeof bg_config_keys / sizeof bg_config_keys[0];

void bg_config_default(bg_config_t *c)
{
    memset(c, 0, sizeof *c);
    bg_err_t err;
    if (bg_keys_defaults(bg_config_keys, bg_config_n_keys, c, &err))
        abort();   /* a default the table itself rejects: a bug, caught by test_config */
}

int bg_config_check(const bg_config_t *c, bg_err_t *err)
{
    return bg_keys_check(bg_config_keys, bg_config_n_keys, c, err);
}

/* The family defaults: the matching part of a default configuration (so they cannot disagree with the table). */
static bg_config_t defaults(void)
{
    bg_config_t c;
    bg_config_default(&c);
    return c;
}

void bg_agg_args_default(bg_agg_args_t *a) { *a = defaults().agg_args; }
void bg_attack_cfg_default(bg_attack_cfg_t *a) { *a = defaults().attack; }

/* A compressor or partition used on its own has no method or dataset to choose for it: identity, iid. */
void bg_comp_cfg_default(bg_comp_cfg_t *cc)
{
    *cc = defaults().comp;
    snprintf(cc->name, sizeof cc->name, "identity");
}

void bg_partition_cfg_default(bg_partition_cfg_t *p)
{
    *p = defaults().partition;
    snprintf(p->name, sizeof p->name, "iid");
}
