/* One run's state and its round steps (worker, omniscient attacker, server, evaluation), plus the in-process
 * driver. The SimGrid actors call the same steps, so both runners produce the same learning numbers. */
#include "bg_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include "bg_pool.h"

/* OpenBLAS's thread control, if the BLAS in use is OpenBLAS (weak: another CBLAS simply has none). */
extern void openblas_set_num_threads(int n) __attribute__((weak));

/* A configuration error: the message, and the key that caused it so the scenario loader can name its line. */
static int cfg_err(bg_err_t *err, const char *key, int code, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int cfg_err(bg_err_t *err, const char *key, int code, const char *file, long line, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bg_err_set(err, code, file, line, "%s", buf);
    bg_err_key(err, key);
    return code;
}

typedef struct worker {
    void *st;                 /* method's worker state */
    bg_sampler_t sampler;
    gsl_rng *rng, *crng, *srng;
    bg_worker_ctx_t ctx;
    size_t *batch_idx;
    float *scratch;
    float *model;             /* the worker's own model copy (compressed downlink), else NULL */
} worker_t;

struct bg_engine {
    bg_config_t cfg;
    size_t n, f, nh, d;
    bg_dataset_t train, test;
    bg_model_t model;
    bg_compressor_t comp, down_comp;
    int has_down_comp;
    const bg_method_ops_t *method;
    const bg_attack_ops_t *attack;
    bg_attack_args_t attack_args;
    bg_shard_t *shards;       /* nd shards, worker order; with nd = nh data-attack Byzantine j reuses j mod nh */
    size_t nd;                /* data-holding workers: nh, or n with data_all */
    float *scratch;           /* d: shared by all workers (their calls never overlap) */
    /* run.threads: thread k > 0 has its own model (its scratch: calls on one model must not overlap) and d floats of
     * scratch; thread 0 uses the engine's. */
    size_t threads;
    bg_pool_t *pool;          /* threads - 1 helper threads, NULL for one thread */
    bg_model_t *tmodel;       /* threads - 1 */
    float *tscratch;          /* (threads - 1) * d */
    int *trc;                 /* n: each worker's result in a parallel step */
    double *xopt;             /* d: the honest optimum when known (dist_to_opt), else NULL */
    int grad_norm;            /* compute grad_norm_sq at evaluation points */
    bg_memory_t mem;
    int *flipped;             /* labels for label flipping, NULL otherwise */
    worker_t *w;              /* n workers (omniscient Byzantine ones have no method state) */
    bg_msg_t *msgs;           /* n messages of the current round */
    void *server;             /* method's server state */
    bg_robust_t robust;
    float *views;             /* n*d: server-side vectors */
    const float **view_rows;
    float *agg;               /* d: the last aggregate */
    int have_agg;             /* agg holds a previous round's aggregate */
    float *x;                 /* d: the model */
    bg_msg_t down;            /* this round's broadcast */
    size_t down_round;        /* round the broadcast belongs to, SIZE_MAX if none */
    size_t begun_round;       /* round the server half last began (shared coin drawn), SIZE_MAX if none */
    gsl_rng *server_rng;      /* randomised aggregation rules */
    gsl_rng *server_shared;   /* the round's shared stream, server side */
    /* omniscient attack */
    float *hviews;            /* nh*d honest server-side vectors of the round */
    const float **hrows;
    float *target;            /* d */
    size_t target_round;      /* round the cached target belongs to, SIZE_MAX if none */
    size_t views_round;       /* round the honest views belong to, SIZE_MAX if none */
    double target_flops;
    gsl_rng **arng;           /* attack streams: one per Byzantine worker (index j - nh) */
    /* attack.wire = conform (NULL otherwise) */
    gsl_rng **wrng;           /* compressor streams: one per Byzantine worker (index j - nh) */
    float *inverse;           /* d: the dense inverse before compression */
    double byz_bytes;         /* wire size of a crafted Byzantine message */
    void **astate;            /* attack states: one, or one per attacker */
    /* round protocols (bg_engine_round_subset): the messages applied this round, NULL for all of them */
    const unsigned char *apply;
    size_t apply_bcast;       /* broadcasts sent this round */
    double apply_up;          /* uplink bytes that reached the server this round */
    const float **sub_rows;   /* n: the applied workers' server-side vectors */
    size_t skipped;           /* rounds without enough inputs for the rule (no aggregation, no step) */
    bg_msg_t *held;           /* n: a late message kept until the server applies it (allocated on first use) */
    unsigned char *is_held;   /* n */
    /* accounting */
    size_t round;
    double bytes_up, bytes_down;
    size_t dropped;
};

static int setup_worker(bg_engine_t *e, size_t i, bg_err_t *err)
{
    worker_t *w = &e->w[i];
    const bg_shard_t *shard = &e->shards[i < e->nd ? i : i % e->nh];
    w->rng = bg_rng_stream(e->cfg.seed, BG_RNG_WORKER, i);
    w->crng = bg_rng_stream(e->cfg.seed, BG_RNG_COMPRESS, i);
    w->srng = bg_rng_stream(e->cfg.seed, BG_RNG_SHARED, 0);
    w->batch_idx = malloc(e->cfg.method.batch * sizeof(size_t));
    w->scratch = e->scratch;
    if (e->method->worker_models)
        w->model = calloc(e->d, sizeof(float));
    if (!w->rng || !w->crng || !w->srng || !w->batch_idx || !w->scratch ||
        (e->method->worker_models && !w->model) || bg_sampler_init(&w->sampler, shard, w->rng))
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory setting up worker %zu", i);
    int rc = e->method->worker_new(&e->cfg.method, e->d, &w->st);
    if (rc)
        return bg_err_set(err, rc, NULL, 0, "out of memory for the state of worker %zu", i);
    w->ctx.model = &e->model;
    w->ctx.ds = &e->train;
    w->ctx.labels = (i >= e->nh && e->flipped) ? e->flipped : e->train.y;
    if (w->model)
        memcpy(w->model, e->x, e->d * sizeof(float));   /* every copy starts at x^0 */
    w->ctx.shard = shard;
    w->ctx.sampler = &w->sampler;
    w->ctx.rng = w->rng;
    w->ctx.crng = w->crng;
    w->ctx.shared = w->srng;
    w->ctx.comp = &e->comp;
    w->ctx.batch_idx = w->batch_idx;
    w->ctx.scratch = w->scratch;
    return BG_OK;
}

static int load_data(bg_engine_t *e, bg_err_t *err)
{
    const bg_config_t *c = &e->cfg;
    bg_data_req_t r = {
        .dir = c->data_dir,
        .train = c->train_path,
        .test = c->test_path,
        .train_labels = c->train_labels,
        .test_labels = c->test_labels,
        .n_features = c->n_features,
        .n_classes = c->n_classes,
        .test_fraction = c->test_fraction,
        .seed = c->seed,
        .synth = c->synth,
    };
    r.synth.n_groups = e->nd;
    int libsvm, rc = bg_data_load(c->dataset, &r, &e->train, &e->test, &libsvm, err);
    if (rc)
        return rc;
    e->cfg.normalize = c->normalize == 1 || (c->normalize < 0 && libsvm);   /* auto, resolved */
    if (e->cfg.normalize) {
        bg_dataset_normalize_rows(&e->train);
        bg_dataset_normalize_rows(&e->test);
    }
    return BG_OK;
}

/* Bytes the C library currently hands out (small blocks and mmapped ones): the memory accounting's ruler. */
static double heap_in_use(void)
{
    /* AddressSanitizer replaces malloc, so glibc's counters stay at zero: no accounting rather than a false one. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) && !defined(__SANITIZE_ADDRESS__)
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
#else
    return NAN;
#endif
}

static int setup_metrics(bg_engine_t *e, bg_err_t *err);

/* run.threads: auto is the online cores (at most one per worker); each extra thread gets a model of its own. */
static int setup_threads(bg_engine_t *e, const bg_model_cfg_t *mc, bg_err_t *err)
{
    size_t t = e->cfg.threads;
    if (t == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        t = c > 0 ? (size_t)c : 1;
    }
    if (t > e->n)
        t = e->n;
    if (t < 1)
        t = 1;
    e->cfg.threads = e->threads = t;   /* resolved */
    /* OpenBLAS on one thread: the parallelism is the workers' (its own threads would spin on the cores the workers'
     * threads need, and at these sizes it gains little: the server's NNM + CM took 0.34 s per 200 CNN rounds with one
     * thread and 0.39 s with two). */
    if (openblas_set_num_threads)
        openblas_set_num_threads(1);
    e->trc = calloc(e->n, sizeof *e->trc);
    if (!e->trc)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    if (t == 1)
        return BG_OK;
    if (!(e->pool = bg_pool_new(t)) || bg_pool_threads(e->pool) != t)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "cannot start %zu threads (run.threads)", t);
    e->tmodel = calloc(t - 1, sizeof *e->tmodel);
    e->tscratch = calloc((t - 1) * e->d, sizeof(float));
    if (!e->tmodel || !e->tscratch)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for %zu threads", t);
    for (size_t k = 0; k + 1 < t; k++) {
        int rc = bg_model_init(mc, e->train.d, e->train.n_classes, &e->tmodel[k], err);
        if (rc)
            return rc;
    }
    return BG_OK;
}

/* attack.wire = conform: each attacker compresses with its own stream, the one rank j would use as an honest
 * worker (BG_RNG_COMPRESS, j), so the attack streams stay as they are. The wire size of every built-in
 * compressor's output depends on d, k and the layout only, never on the values, so one probe gives the size an
 * attacker's message will have (what the simulator's oracle timing sends before the content exists). */
static int setup_conform(bg_engine_t *e)
{
    e->wrng = calloc(e->f, sizeof *e->wrng);
    e->inverse = calloc(e->d, sizeof(float));
    gsl_rng *probe = bg_rng_stream(e->cfg.seed, BG_RNG_COMPRESS, SIZE_MAX);
    bg_msg_t m = {0};
    int rc = !e->wrng || !e->inverse || !probe || bg_msg_init(&m, e->d) ? BG_ENOMEM : BG_OK;
    for (size_t j = 0; !rc && j < e->f; j++)
        if (!(e->wrng[j] = bg_rng_stream(e->cfg.seed, BG_RNG_COMPRESS, e->nh + j)))
            rc = BG_ENOMEM;
    if (!rc) {
        bg_comp_rngs_t r = {probe, probe};
        rc = e->comp.ops->compress(&e->comp, e->inverse, &r, &m);
        e->byz_bytes = m.bytes;
    }
    bg_msg_destroy(&m);
    if (probe)
        gsl_rng_free(probe);
    return rc;
}

/* The server step of round t (0-based): constant, or cosine annealing from lr at t = 0 to lr * lr_min_ratio at the
 * last round (t = rounds - 1), as PyTorch's CosineAnnealingLR with T_max = rounds - 1. */
double bg_engine_lr(const bg_engine_t *e, size_t t)
{
    const bg_config_t *c = &e->cfg;
    double lr = c->method.lr;
    if (c->method.lr_schedule != 1 || c->rounds < 2)
        return lr;
    double tt = (double)(t < c->rounds ? t : c->rounds - 1) / (double)(c->rounds - 1);
    double lo = lr * c->method.lr_min_ratio;
    return lo + 0.5 * (lr - lo) * (1.0 + cos(3.14159265358979323846 * tt));
}

int bg_engine_new(const bg_config_t *cfg, bg_engine_t **out, bg_err_t *err)
{
    *out = NULL;
    int rc = bg_config_check(cfg, err);
    if (rc)
        return rc;
    if (cfg->f >= cfg->n)
        return cfg_err(err, "attack.f", BG_ERANGE, NULL, 0, "attack.f = %zu must be smaller than workers.n = %zu",
                       cfg->f, cfg->n);
    const bg_method_ops_t *method = bg_method_find(cfg->method.name);   /* known: bg_config_check looked */

    bg_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    e->cfg = *cfg;
    e->cfg.agg_args.f = cfg->f;
    e->n = cfg->n;
    e->f = cfg->f;
    e->nh = cfg->n - cfg->f;
    e->method = method;
    e->target_round = SIZE_MAX;
    e->views_round = SIZE_MAX;
    e->nd = cfg->data_all ? e->n : e->nh;
    if ((rc = load_data(e, err)))
        goto fail;
    e->mem.dataset_bytes = (double)(e->train.n + e->test.n) * ((double)e->train.d * sizeof(float) + sizeof(int));
    bg_model_cfg_t mc = cfg->model;
    if (!mc.in_shape[0] && !mc.in_shape[1] && !mc.in_shape[2])
        memcpy(mc.in_shape, e->train.shape, sizeof mc.in_shape);   /* images: C x H x W from the IDX header */
    memcpy(e->cfg.model.in_shape, mc.in_shape, sizeof mc.in_shape);   /* auto, resolved */
    if ((rc = bg_model_init(&mc, e->train.d, e->train.n_classes, &e->model, err))) {
        bg_err_key(err, "model.name");
        goto fail;
    }
    e->d = e->model.dim;
    e->mem.workspace_bytes = (double)bg_model_workspace_bytes(&e->model, cfg->method.batch);
    if (!(e->scratch = calloc(e->d, sizeof(float)))) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
        goto fail;
    }
    if ((rc = bg_compressor_init(&cfg->comp, e->d, e->model.layers, e->model.n_layers, &e->comp, err))) {
        bg_err_key(err, rc == BG_ENOTFOUND ? "compressor.name" : cfg->comp.k ? "compressor.k" : "compressor.ratio");
        goto fail;
    }
    if (method->needs_unbiased && e->comp.ops->biased) {
        rc = cfg_err(err, "compressor.name", BG_EINVAL, NULL, 0,
                     "method %s needs an unbiased compressor (randk with scaled = true, qsgd, identity); %s is biased",
                     method->name, e->comp.ops->name);
        goto fail;
    }
    if (method->server_broadcast) {
        if ((rc = bg_compressor_init(&cfg->down_comp, e->d, e->model.layers, e->model.n_layers, &e->down_comp,
                                       err))) {
            bg_err_key(err, rc == BG_ENOTFOUND ? "downlink.name" : "downlink.k");
            goto fail;
        }
        e->has_down_comp = 1;
    }
    e->cfg.method.n = e->n;
    e->cfg.method.n_honest = e->nh;
    e->cfg.method.comp = &e->comp;
    e->cfg.method.down_comp = e->has_down_comp ? &e->down_comp : NULL;
    if ((rc = bg_attack_args_init(&e->attack_args, &cfg->attack, e->n, e->f, err))) {
        bg_err_key(err, rc == BG_ENOTFOUND ? "attack.name" : "attack.eps");
        goto fail;
    }
    e->attack = bg_attack_find(cfg->attack.name);
    e->cfg.attack.z = e->attack_args.z;   /* auto, resolved */
    e->server_rng = bg_rng_stream(cfg->seed, BG_RNG_SERVER, 0);
    e->server_shared = bg_rng_stream(cfg->seed, BG_RNG_SHARED, 0);
    if (!e->server_rng || !e->server_shared) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
        goto fail;
    }
    e->cfg.agg_args.rng = e->server_rng;
    double heap0 = heap_in_use();
    if ((rc = bg_robust_init(&e->robust, cfg->pre, cfg->agg, &e->cfg.agg_args, e->n, e->d, err))) {
        bg_err_key(err, rc == BG_ENOTFOUND ? (bg_preagg_find(cfg->pre) ? "aggregator.name" : "aggregator.pre")
                                           : "attack.f");
        goto fail;
    }

    double heap1 = heap_in_use();
    gsl_rng *prng = bg_rng_stream(cfg->seed, BG_RNG_PARTITION, 0);
    e->shards = calloc(e->nd, sizeof *e->shards);
    if (!prng || !e->shards) {
        if (prng)
            gsl_rng_free(prng);
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
        goto fail;
    }
    bg_partition_cfg_t pc = cfg->partition;
    if (!strcmp(pc.name, "auto"))
        snprintf(pc.name, sizeof pc.name, "%s", strcmp(cfg->dataset, "synthetic") ? "iid" : "contiguous");
    e->cfg.partition = pc;   /* auto, resolved */
    /* Equal IID shards keep the original cut (a seeded permutation in contiguous pieces, the reference code's
     * DistributedSampler), so runs from before partitions existed give the same numbers. */
    if (!strcmp(pc.name, "iid") && pc.size_sigma == 0 && pc.min_size <= 1)
        rc = bg_partition_iid(e->train.n, e->nd, prng, e->shards, err);
    else
        rc = bg_partition(&pc, e->train.y, e->train.n, e->train.n_classes, e->nd, prng, e->shards, err);
    gsl_rng_free(prng);
    if (rc) {
        /* parameter errors carry their key; the rest (too few samples for the workers) is the partition's or n's */
        bg_err_key(err, strcmp(cfg->partition.name, "auto") ? "partition.name" : "workers.n");
        goto fail;
    }

    /* A minibatch larger than a shard would repeat samples within one batch (the sampler wraps into the next
     * epoch): refused, naming the smallest shard. */
    for (size_t i = 0, small = 0; i < e->nd; i++) {
        if (e->shards[i].n < e->shards[small].n)
            small = i;
        if (i + 1 == e->nd && cfg->method.batch > e->shards[small].n) {
            rc = bg_err_keyed(err, "method.batch",
                              bg_err_set(err, BG_EINVAL, NULL, 0, "method.batch = %zu is larger than worker %zu's "
                                         "shard of %zu training samples (%zu samples over %zu data-holding workers): "
                                         "lower method.batch or workers.n", cfg->method.batch, small,
                                         e->shards[small].n, e->train.n, e->nd));
            goto fail;
        }
    }
    if (e->cfg.method.p == 0) {
        /* PAGE/MARINA's p = b / m_i ([R] notebooks), with the smallest shard so every worker's p <= 1. */
        size_t m = e->shards[0].n;
        for (size_t i = 1; i < e->nh; i++)
            if (e->shards[i].n < m)
                m = e->shards[i].n;
        e->cfg.method.p = fmin(1.0, (double)cfg->method.batch / (double)m);
    }
    if (e->attack->flips_labels && e->f > 0) {
        e->flipped = malloc(e->train.n * sizeof(int));
        if (!e->flipped) {
            rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
            goto fail;
        }
        for (size_t k = 0; k < e->train.n; k++)
            e->flipped[k] = (int)e->train.n_classes - 1 - e->train.y[k];
    }

    double heap2 = heap_in_use();
    e->w = calloc(e->n, sizeof *e->w);
    e->msgs = calloc(e->n, sizeof *e->msgs);
    e->views = malloc(e->n * e->d * sizeof(float));
    e->view_rows = malloc(e->n * sizeof *e->view_rows);
    e->sub_rows = malloc(e->n * sizeof *e->sub_rows);
    e->held = calloc(e->n, sizeof *e->held);
    e->is_held = calloc(e->n, 1);
    e->agg = calloc(e->d, sizeof(float));
    e->x = calloc(e->d, sizeof(float));
    e->hviews = malloc(e->nh * e->d * sizeof(float));
    e->hrows = malloc(e->nh * sizeof *e->hrows);
    e->target = calloc(e->d, sizeof(float));
    e->arng = calloc(e->f + 1, sizeof *e->arng);
    e->astate = calloc(e->f + 1, sizeof *e->astate);
    int arng_ok = e->arng && e->astate;
    for (size_t j = 0; arng_ok && j < e->f; j++)
        arng_ok = (e->arng[j] = bg_rng_stream(cfg->seed, BG_RNG_ATTACK, e->nh + j)) != NULL;
    /* Attackers send a compressed message with attack.wire = conform, and in the reference code's variant
     * (method.byz_state = last_honest: C(target)); otherwise the dense inverse. */
    if (arng_ok && (cfg->attack_wire == BG_WIRE_CONFORM || cfg->method.byz_state == BG_BYZ_STATE_LAST_HONEST) &&
        e->f > 0)
        arng_ok = setup_conform(e) == BG_OK;
    else
        e->byz_bytes = bg_msg_bytes_dense(e->d);
    if (!e->w || !e->msgs || !e->views || !e->view_rows || !e->sub_rows || !e->held || !e->is_held || !e->agg || !e->x || !e->hviews || !e->hrows ||
        !e->target || !arng_ok || bg_msg_init(&e->down, e->d)) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for n = %zu, d = %zu", e->n, e->d);
        goto fail;
    }
    /* Message buffers have room for a dense message but sparse ones touch only their k entries, so they are
     * left out of the state accounting (they would flatter the RSS ratio). */
    double heap_msgs = heap_in_use();
    for (size_t i = 0; i < e->n; i++) {
        e->view_rows[i] = e->views + i * e->d;
        if (bg_msg_init(&e->msgs[i], e->d)) {
            rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
            goto fail;
        }
    }
    heap_msgs = heap_in_use() - heap_msgs;
    for (size_t i = 0; i < e->nh; i++)
        e->hrows[i] = e->hviews + i * e->d;
    e->down_round = SIZE_MAX;
    e->begun_round = SIZE_MAX;
    if (e->f > 0 && e->attack->state_new) {
        size_t ns = e->attack->per_attacker ? e->f : 1;
        for (size_t j = 0; j < ns; j++)
            if ((rc = e->attack->state_new(&e->attack_args, e->d, &e->astate[j]))) {
                bg_err_set(err, rc, NULL, 0, "out of memory for the attack state");
                goto fail;
            }
    }
    gsl_rng *irng = bg_rng_stream(cfg->seed, BG_RNG_INIT, 0);
    if (irng) {
        bg_model_init_params(&e->model, irng, e->x);
        gsl_rng_free(irng);
    }
    for (size_t i = 0; i < e->n; i++) {
        if (i >= e->nh && e->attack->kind != BG_ATK_DATA)
            continue;
        if ((rc = setup_worker(e, i, err)))
            goto fail;
    }
    if ((rc = setup_threads(e, &mc, err)))
        goto fail;
    if ((rc = method->server_new(&e->cfg.method, e->n, e->d, &e->server))) {
        bg_err_set(err, rc, NULL, 0, "out of memory for the server state");
        goto fail;
    }
    e->mem.state_bytes = (heap1 - heap0) + (heap_in_use() - heap2) - heap_msgs;
    if ((rc = setup_metrics(e, err)))
        goto fail;
    *out = e;
    return BG_OK;
fail:
    bg_engine_free(e);
    return rc;
}

void bg_engine_free(bg_engine_t *e)
{
    if (!e)
        return;
    if (e->w) {
        for (size_t i = 0; i < e->n; i++) {
            worker_t *w = &e->w[i];
            if (w->st)
                e->method->worker_free(w->st);
            bg_sampler_destroy(&w->sampler);
            if (w->rng)
                gsl_rng_free(w->rng);
            if (w->crng)
                gsl_rng_free(w->crng);
            if (w->srng)
                gsl_rng_free(w->srng);
            free(w->batch_idx);
            free(w->model);
        }
        free(e->w);
    }
    if (e->msgs) {
        for (size_t i = 0; i < e->n; i++)
            bg_msg_destroy(&e->msgs[i]);
        free(e->msgs);
    }
    if (e->server)
        e->method->server_free(e->server);
    if (e->shards) {
        for (size_t i = 0; i < e->nd; i++)
            bg_shard_destroy(&e->shards[i]);
        free(e->shards);
    }
    bg_robust_destroy(&e->robust);
    if (e->model.ops)
        bg_model_destroy(&e->model);
    bg_dataset_destroy(&e->train);
    bg_dataset_destroy(&e->test);
    bg_pool_free(e->pool);
    if (e->tmodel) {
        for (size_t k = 0; k + 1 < e->threads; k++)
            if (e->tmodel[k].ops)
                bg_model_destroy(&e->tmodel[k]);
        free(e->tmodel);
    }
    free(e->tscratch);
    free(e->trc);
    free(e->scratch);
    free(e->xopt);
    free(e->flipped);
    free(e->views);
    free(e->view_rows);
    free(e->sub_rows);
    if (e->held)
        for (size_t i = 0; i < e->n; i++)
            bg_msg_destroy(&e->held[i]);
    free(e->held);
    free(e->is_held);
    free(e->agg);
    free(e->x);
    free(e->hviews);
    free(e->hrows);
    free(e->target);
    if (e->arng) {
        for (size_t j = 0; j < e->f; j++)
            if (e->arng[j])
                gsl_rng_free(e->arng[j]);
        free(e->arng);
    }
    if (e->wrng) {
        for (size_t j = 0; j < e->f; j++)
            if (e->wrng[j])
                gsl_rng_free(e->wrng[j]);
        free(e->wrng);
    }
    free(e->inverse);
    if (e->astate) {
        for (size_t j = 0; j < e->f; j++)
            if (e->astate[j] && e->attack && e->attack->state_free)
                e->attack->state_free(e->astate[j]);
        free(e->astate);
    }
    bg_msg_destroy(&e->down);
    if (e->server_rng)
        gsl_rng_free(e->server_rng);
    if (e->server_shared)
        gsl_rng_free(e->server_shared);
    if (e->comp.ops)
        bg_compressor_destroy(&e->comp);
    if (e->has_down_comp)
        bg_compressor_destroy(&e->down_comp);
    free(e);
}

size_t bg_engine_dim(const bg_engine_t *e) { return e->d; }
size_t bg_engine_n_honest(const bg_engine_t *e) { return e->nh; }
const bg_config_t *bg_engine_config(const bg_engine_t *e) { return &e->cfg; }
const float *bg_engine_model(const bg_engine_t *e) { return e->x; }
double bg_engine_downlink_bytes(const bg_engine_t *e) { return bg_msg_bytes_dense(e->d); }
int bg_engine_attack_omniscient(const bg_engine_t *e) { return e->f > 0 && e->attack->kind == BG_ATK_OMNISCIENT; }
int bg_engine_attack_runs_method(const bg_engine_t *e) { return e->attack->kind == BG_ATK_DATA; }
int bg_engine_method_mirrored(const bg_engine_t *e) { return e->method->mirrored; }
int bg_engine_worker_models(const bg_engine_t *e) { return e->method->worker_models; }

double bg_engine_mirror_gap(const bg_engine_t *e, const unsigned char *skip, size_t *compared)
{
    *compared = 0;
    if (!e->method->worker_mirror || !e->method->server_mirror)
        return NAN;
    double gap = 0.0;
    for (size_t i = 0; i < e->nh; i++) {
        if ((skip && skip[i]) || !e->w[i].st)
            continue;
        const float *a = e->method->worker_mirror(e->w[i].st), *b = e->method->server_mirror(e->server, i);
        for (size_t k = 0; k < e->d; k++) {
            const double g = fabs((double)a[k] - (double)b[k]);
            if (isnan(g) || g > gap)
                gap = g;   /* once NaN, the gap stays NaN */
        }
        ++*compared;
    }
    return gap;
}
double bg_engine_byz_msg_bytes(const bg_engine_t *e, double *wire_flops)
{
    if (wire_flops)
        *wire_flops = e->wrng ? e->comp.ops->flops(&e->comp) : 0.0;
    return e->byz_bytes;
}
double bg_engine_flops_per_sample(const bg_engine_t *e) { return e->model.ops->flops_per_sample(&e->model); }
size_t bg_engine_train_size(const bg_engine_t *e) { return e->train.n; }
size_t bg_engine_test_size(const bg_engine_t *e) { return e->test.n; }
size_t bg_engine_round(const bg_engine_t *e) { return e->round; }
const bg_dataset_t *bg_engine_train(const bg_engine_t *e) { return &e->train; }
const bg_model_t *bg_engine_model_info(const bg_engine_t *e) { return &e->model; }
void bg_engine_memory(const bg_engine_t *e, bg_memory_t *m) { *m = e->mem; }
const char *bg_engine_partition_name(const bg_engine_t *e) { return e->cfg.partition.name; }
const bg_shard_t *bg_engine_shards(const bg_engine_t *e, size_t *n_shards)
{
    *n_shards = e->nd;
    return e->shards;
}

/* The server half's view of the round's shared randomness (MARINA's coin) must exist before anyone asks for a
 * server-side vector: omniscient attackers do, before the server collects. */
static void begin_round(bg_engine_t *e)
{
    if (!e->method->server_begin_round || e->begun_round == e->round)
        return;
    bg_rng_reseed(e->server_shared, e->cfg.seed, BG_RNG_SHARED, e->round);
    e->method->server_begin_round(e->server, e->round, e->server_shared);
    e->begun_round = e->round;
}

int bg_engine_broadcast(bg_engine_t *e, const bg_msg_t **down, double *flops, bg_err_t *err)
{
    *flops = 0.0;
    if (e->down_round != e->round) {
        if (e->method->server_broadcast) {
            bg_rng_reseed(e->server_shared, e->cfg.seed, BG_RNG_SHARED, e->round);
            int rc = e->method->server_broadcast(&e->cfg.method, e->server, e->x, e->server_shared, &e->down, flops);
            if (rc)
                return bg_err_set(err, rc, NULL, 0, "round %zu: the server's %s broadcast failed: %s", e->round,
                                  e->method->name, bg_strerror(rc));
        } else {
            bg_msg_set_dense(&e->down, e->x);
        }
        e->down_round = e->round;
    }
    *down = &e->down;
    return BG_OK;
}

int bg_engine_worker_round(bg_engine_t *e, size_t i, const bg_msg_t *down, const bg_msg_t **msg, double *flops,
                           bg_err_t *err)
{
    return bg_engine_worker_round_at(e, i, down, e->round, msg, flops, err);
}

int bg_engine_worker_round_at(bg_engine_t *e, size_t i, const bg_msg_t *down, size_t round, const bg_msg_t **msg,
                              double *flops, bg_err_t *err)
{
    worker_t *w = &e->w[i];
    if (!w->st)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "worker %zu runs no method (an omniscient or blind attacker): "
                          "its round is bg_engine_byz_round", i);
    w->ctx.flops = 0.0;
    const float *x = down->val;
    if (w->model) {
        e->method->worker_receive(&e->cfg.method, w->st, down, w->model);
        x = w->model;
    }
    bg_rng_reseed(w->srng, e->cfg.seed, BG_RNG_SHARED, round);
    int rc = e->method->worker_round(&e->cfg.method, w->st, &w->ctx, round, x, &e->msgs[i]);
    if (!rc && i >= e->nh && e->attack->message)
        e->attack->message(&e->attack_args, &e->msgs[i]);
    *msg = &e->msgs[i];
    *flops = w->ctx.flops;
    if (rc)
        return bg_err_set(err, rc, NULL, 0, "round %zu: worker %zu's %s step failed: %s", round, i, e->method->name,
                          bg_strerror(rc));
    return BG_OK;
}

size_t bg_engine_threads(const bg_engine_t *e) { return e->threads; }

typedef struct worker_job {
    bg_engine_t *e;
    const size_t *who;
    const bg_msg_t *down;
    size_t round;
    double *flops;
} worker_job_t;

/* Worker who[k]'s round on thread tid, with that thread's model and scratch. */
static void worker_job(void *ctx, size_t k, size_t tid)
{
    worker_job_t *j = ctx;
    bg_engine_t *e = j->e;
    worker_t *w = &e->w[j->who[k]];
    w->ctx.model = tid ? &e->tmodel[tid - 1] : &e->model;
    w->ctx.scratch = tid ? e->tscratch + (tid - 1) * e->d : e->scratch;
    const bg_msg_t *msg;
    e->trc[k] = bg_engine_worker_round_at(e, j->who[k], j->down, j->round, &msg, &j->flops[k], NULL);
    w->ctx.model = &e->model;
    w->ctx.scratch = e->scratch;
}
const bg_msg_t *bg_engine_worker_msg(const bg_engine_t *e, size_t i) { return &e->msgs[i]; }

int bg_engine_workers_round(bg_engine_t *e, const size_t *who, size_t m, const bg_msg_t *down, size_t round,
                            double *flops, bg_err_t *err)
{
    for (size_t k = 0; k < m; k++)
        if (!e->w[who[k]].st)
            return bg_engine_worker_round_at(e, who[k], down, round, NULL, &flops[k], err);   /* its error */
    if (e->threads <= 1 || m <= 1) {
        for (size_t k = 0; k < m; k++) {
            const bg_msg_t *msg;
            int rc = bg_engine_worker_round_at(e, who[k], down, round, &msg, &flops[k], err);
            if (rc)
                return rc;
        }
        return BG_OK;
    }
    worker_job_t job = {e, who, down, round, flops};
    bg_pool_for(e->pool, m, worker_job, &job);
    for (size_t k = 0; k < m; k++)
        if (e->trc[k]) {   /* the first failing worker in list order, its message rebuilt on this thread */
            const int rc = e->trc[k];
            return bg_err_set(err, rc, NULL, 0, "round %zu: worker %zu's %s step failed: %s", round, who[k],
                              e->method->name, bg_strerror(rc));
        }
    return BG_OK;
}

int bg_engine_byz_round(bg_engine_t *e, size_t j, const bg_msg_t **msg, double *flops, bg_err_t *err)
{
    if (j < e->nh || e->attack->kind == BG_ATK_DATA)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "worker %zu is no attacker sending crafted messages: its round is "
                          "bg_engine_worker_round", j);
    const int omni = e->attack->kind == BG_ATK_OMNISCIENT;
    /* The reference code's variant (method.byz_state = last_honest, as in [S] server.py and attacks/): attacks act on
     * the honest *messages* (increments), the attacker sends C(target) with the uplink compressor, and the server
     * adds it to the last honest worker's state. Otherwise attacks act on what the aggregator sees. */
    const int increments = e->cfg.method.byz_state == BG_BYZ_STATE_LAST_HONEST;
    begin_round(e);
    const size_t slot = e->attack->per_attacker ? j - e->nh : 0;
    /* Colluders share one target per round unless the attack draws its own per attacker. */
    if (e->attack->per_attacker || e->target_round != e->round) {
        /* Under a round protocol the attacker sees the honest messages the server applies this round. */
        size_t nhv = 0;
        for (size_t i = 0; i < e->nh; i++) {
            if (e->apply && !e->apply[i])
                continue;
            if (omni && e->views_round != e->round) {
                const bg_msg_t *mi = !e->apply || (e->apply[i] & BG_APPLY_CURRENT) ? &e->msgs[i] : &e->held[i];
                if (increments)
                    bg_msg_decode(mi, e->hviews + nhv * e->d);
                else
                    e->method->server_view(e->server, i, mi, e->hviews + nhv * e->d);
            }
            nhv++;
        }
        if (omni)
            e->views_round = e->round;
        if (omni && nhv == 0)
            return bg_err_set(err, BG_EINVAL, NULL, 0, "round %zu: attacker %zu has no honest message to attack",
                              e->round, j);
        bg_attack_ctx_t c = {
            .honest = omni ? e->hrows : NULL,
            .nh = omni ? nhv : e->nh,
            .d = e->d,
            .prev_agg = e->have_agg ? e->agg : NULL,
            .own = NULL,
            .round = e->round,
            .rng = e->arng[slot],
            .state = e->astate[slot],
        };
        int rc = e->attack->target(&e->attack_args, &c, e->target);
        if (rc)
            return bg_err_set(err, rc, NULL, 0, "round %zu: attacker %zu's %s attack failed: %s", e->round, j,
                              e->attack->name, bg_strerror(rc));
        e->target_round = e->round;
        e->target_flops = e->attack->flops(&e->attack_args, omni ? nhv : e->nh, e->d) + (omni ? (double)nhv * e->d : 0.0);
    }
    double fl = e->target_flops + (double)e->d;
    if (increments) {
        bg_rng_reseed(e->server_shared, e->cfg.seed, BG_RNG_SHARED, e->round);
        bg_comp_rngs_t r = {e->arng[j - e->nh], e->server_shared};
        int rc = e->comp.ops->compress(&e->comp, e->target, &r, &e->msgs[j]);
        if (rc)
            return bg_err_set(err, rc, NULL, 0, "round %zu: attacker %zu's %s compression failed: %s", e->round, j,
                              e->comp.ops->name, bg_strerror(rc));
        fl += e->comp.ops->flops(&e->comp);
    } else {
        e->method->server_inverse(e->server, j, e->target, &e->msgs[j]);
        if (e->cfg.attack_wire == BG_WIRE_CONFORM) {
            /* The exact inverse, compressed as an honest message is: same format and size, and the server-side
             * vector only approaches the target (for EF21: g_j += C(target - g_j), a contraction). */
            bg_msg_decode(&e->msgs[j], e->inverse);
            bg_rng_reseed(e->server_shared, e->cfg.seed, BG_RNG_SHARED, e->round);
            bg_comp_rngs_t r = {e->wrng[j - e->nh], e->server_shared};
            int rc = e->comp.ops->compress(&e->comp, e->inverse, &r, &e->msgs[j]);
            if (rc)
                return bg_err_set(err, rc, NULL, 0, "round %zu: attacker %zu's %s compression failed: %s", e->round,
                                  j, e->comp.ops->name, bg_strerror(rc));
            fl += e->comp.ops->flops(&e->comp);
        }
    }
    *msg = &e->msgs[j];
    *flops = fl;
    return BG_OK;
}

/* Why the aggregation of this round failed, in words: too many non-finite inputs (and whether honest ones are
 * among them: then the model itself diverged), or the rule's own failure. */
static int aggregation_error(const bg_engine_t *e, int rc, size_t dropped, bg_err_t *err)
{
    if (dropped > e->f || dropped == e->n) {
        size_t bad_honest = 0;
        for (size_t i = 0; i < e->nh; i++)
            bad_honest += !bg_vec_all_finite(e->view_rows[i], e->d);
        if (bad_honest)
            return bg_err_set(err, rc, NULL, 0,
                              "round %zu: %zu of %zu aggregation inputs are NaN or Inf but only f = %zu may be dropped; "
                              "%zu of them from honest workers, so the model diverged (lower method.lr?)",
                              e->round, dropped, e->n, e->f, bad_honest);
        return bg_err_set(err, rc, NULL, 0,
                          "round %zu: %zu of %zu aggregation inputs are NaN or Inf but only f = %zu may be dropped",
                          e->round, dropped, e->n, e->f);
    }
    return bg_err_set(err, rc, NULL, 0, "round %zu: aggregation (%s + %s) failed: %s", e->round, e->cfg.pre, e->cfg.agg,
                      bg_strerror(rc));
}

void bg_engine_round_subset(bg_engine_t *e, const unsigned char *apply, size_t n_bcast, double bytes_up)
{
    e->apply = apply;
    e->apply_bcast = n_bcast;
    e->apply_up = bytes_up;
}

int bg_engine_enough(const bg_engine_t *e, size_t m) { return bg_robust_enough(&e->robust, m); }

int bg_engine_hold(bg_engine_t *e, size_t i)
{
    if (!e->held[i].val && bg_msg_init(&e->held[i], e->d))
        return BG_ENOMEM;
    bg_msg_copy(&e->held[i], &e->msgs[i]);
    e->is_held[i] = 1;
    return BG_OK;
}

size_t bg_engine_skipped(const bg_engine_t *e) { return e->skipped; }

int bg_engine_server_round(bg_engine_t *e, double *flops, bg_err_t *err)
{
    double fl = 0.0, up = 0.0;
    const unsigned char *apply = e->apply;
    e->apply = NULL;   /* the subset is this round's only */
    begin_round(e);
    size_t m = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (apply && !apply[i])
            continue;
        /* A late message held aside is absorbed first, then the worker's current one if it applies too (it came
         * later); the aggregator sees the worker's vector after both. */
        if (e->is_held[i]) {
            e->is_held[i] = 0;
            e->method->server_collect(e->server, i, &e->held[i], e->views + i * e->d);
            fl += (double)e->held[i].nnz;
            up += e->held[i].bytes;
        }
        if (!apply || (apply[i] & BG_APPLY_CURRENT)) {
            e->method->server_collect(e->server, i, &e->msgs[i], e->views + i * e->d);
            fl += (double)e->msgs[i].nnz;
            up += e->msgs[i].bytes;
        }
        e->sub_rows[m++] = e->views + i * e->d;
    }
    const double down = apply ? (double)e->apply_bcast * e->down.bytes : (double)e->n * e->down.bytes;
    if (apply)
        up = e->apply_up;
    if (apply && !bg_robust_enough(&e->robust, m)) {
        /* Too few inputs for the rule with f unchanged: no aggregation and no step this round. The messages were
         * absorbed all the same, so per-worker server states fed by increments stay equal to the workers'. */
        e->skipped++;
        e->bytes_up += up;
        e->bytes_down += down;
        e->round++;
        *flops = fl;
        return BG_OK;
    }
    size_t dropped = 0;
    int rc = apply ? bg_robust_run_m(&e->robust, e->sub_rows, m, e->agg, &dropped)
                   : bg_robust_run(&e->robust, e->view_rows, e->agg, &dropped);
    if (rc)
        return aggregation_error(e, rc, dropped, err);
    e->dropped += dropped;
    e->have_agg = 1;
    fl += apply ? bg_robust_flops_m(&e->robust, m) : bg_robust_flops(&e->robust);
    bg_method_cfg_t mc = e->cfg.method;
    mc.lr = bg_engine_lr(e, e->round);
    e->method->server_step(&mc, e->server, e->agg, e->x, e->d);
    fl += 2.0 * (double)e->d;
    e->bytes_up += up;
    e->bytes_down += down;
    e->round++;
    *flops = fl;
    return BG_OK;
}

/* The metrics that need set-up: whether grad_norm_sq is affordable, and the honest optimum x* when the task
 * has one we can compute (logreg + L2, by Newton). Neither is charged to simulated time. */
static int setup_metrics(bg_engine_t *e, bg_err_t *err)
{
    double honest = 0.0;
    for (size_t i = 0; i < e->nh; i++)
        honest += (double)e->shards[i].n;
    double pass = honest * e->model.ops->flops_per_sample(&e->model);
    e->grad_norm = e->cfg.grad_norm > 0 || (e->cfg.grad_norm < 0 && pass <= 2e10);
    e->cfg.grad_norm = e->grad_norm;   /* auto, resolved */
    int want = e->cfg.dist_opt > 0 || (e->cfg.dist_opt < 0 && !strcmp(e->cfg.dataset, "synthetic") &&
                                       !strcmp(e->model.ops->name, "logreg") && e->cfg.model.reg == BG_REG_L2 &&
                                       e->cfg.model.lambda > 0);
    e->cfg.dist_opt = want;   /* auto, resolved */
    if (!want)
        return BG_OK;
    if (!(e->xopt = malloc(e->d * sizeof *e->xopt)))
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    int rc = bg_logreg_optimum(&e->model, &e->train, e->shards, e->nh, e->xopt, err);
    if (rc)
        bg_err_key(err, "run.dist_to_opt");
    return rc;
}

/* |(1/nh) sum_i grad f_i(x)|^2 over the honest workers' own shards (unweighted by shard size: the quantity the
 * theory bounds), accumulated in double. */
static double honest_grad_norm_sq(bg_engine_t *e, const float *x)
{
    double *acc = calloc(e->d, sizeof *acc);
    float *g = malloc(e->d * sizeof *g);
    double r = NAN;
    if (acc && g) {
        for (size_t i = 0; i < e->nh; i++) {
            bg_model_loss_grad_all(&e->model, x, e->train.X, e->train.y, e->shards[i].idx, e->shards[i].n, g,
                                   e->scratch);
            for (size_t j = 0; j < e->d; j++)
                acc[j] += g[j];
        }
        r = 0.0;
        for (size_t j = 0; j < e->d; j++) {
            double v = acc[j] / (double)e->nh;
            r += v * v;
        }
    }
    free(acc);
    free(g);
    return r;
}

/* The model's evaluation, on run.threads threads where the model can (the same numbers), OpenBLAS on one thread
 * each meanwhile. */
static void model_evaluate(bg_engine_t *e, const float *x, const bg_dataset_t *ds, double *loss, double *acc)
{
    if (e->threads <= 1 || !e->model.ops->evaluate_threads) {
        e->model.ops->evaluate(&e->model, x, ds, loss, acc);
        return;
    }
    const bg_model_t *ms[64];
    const size_t nt = e->threads < 64 ? e->threads : 64;
    ms[0] = &e->model;
    for (size_t k = 1; k < nt; k++)
        ms[k] = &e->tmodel[k - 1];
    e->model.ops->evaluate_threads(ms, e->pool, x, ds, loss, acc);
}

void bg_engine_counters(const bg_engine_t *e, bg_metrics_t *m)
{
    m->round = e->round;
    m->bytes_up = e->bytes_up;
    m->bytes_down = e->bytes_down;
    m->dropped = e->dropped;
    m->train_loss = m->train_acc = m->test_loss = m->test_acc = m->grad_norm_sq = m->dist_to_opt = NAN;
}

int bg_engine_evaluate_x(bg_engine_t *e, const float *x, bg_metrics_t *m)
{
    m->grad_norm_sq = e->grad_norm ? honest_grad_norm_sq(e, x) : NAN;
    m->dist_to_opt = NAN;
    if (e->xopt) {
        double s2 = 0.0;
        for (size_t j = 0; j < e->d; j++) {
            double v = (double)x[j] - e->xopt[j];
            s2 += v * v;
        }
        m->dist_to_opt = sqrt(s2);
    }
    model_evaluate(e, x, &e->test, &m->test_loss, &m->test_acc);
    if (e->cfg.eval_train)
        model_evaluate(e, x, &e->train, &m->train_loss, &m->train_acc);
    else
        m->train_loss = m->train_acc = NAN;
    return BG_OK;
}

int bg_engine_evaluate(bg_engine_t *e, bg_metrics_t *m)
{
    bg_engine_counters(e, m);
    return bg_engine_evaluate_x(e, e->x, m);
}

int bg_engine_is_eval_round(const bg_engine_t *e, size_t r)
{
    return r == 0 || r % e->cfg.eval_every == 0 || r == e->cfg.rounds;
}
