/* Methods as two halves: what a worker does with fresh stochastic gradients and its own state (producing a
 * message), and what the server does with each worker's message and its per-worker state (producing the vector
 * the aggregator sees) and with the aggregate (producing the model update). Optional hooks compress the
 * downlink (Byz-EF21-BC) and let the server see the round's shared randomness (MARINA's coin). */
#ifndef BG_METHOD_H
#define BG_METHOD_H

#include "bg_common.h"
#include "bg_registry.h"
#include "bg_data.h"
#include "bg_model.h"
#include "bg_compress.h"

typedef enum { BG_BYZ_STATE_OWN = 0, BG_BYZ_STATE_LAST_HONEST = 1 } bg_byz_state_t;
typedef enum { BG_INIT_CLEAN = 0, BG_INIT_SIDE_CHANNEL = 1, BG_INIT_SCALED = 2 } bg_init_t;

typedef struct bg_method_cfg {
    char name[32];      /* see bg_method_registry */
    double lr;          /* server step size gamma (server_step receives the round's value under lr_schedule) */
    int lr_schedule;    /* 0: constant; 1: cosine from lr to lr * lr_min_ratio over the run's rounds */
    double lr_min_ratio;/* cosine: final lr as a fraction of lr */
    double eta;         /* momentum weight on the new gradient (beta = 1 - eta) */
    size_t batch;       /* minibatch size */
    double p;           /* MARINA / DASHA-PAGE: probability of a full-gradient round (0: auto = b / shard) */
    double server_beta; /* RoSDHB: server-side momentum beta */
    double alpha;       /* DIANA shift step (0: auto = 1 / (omega + 1)) */
    bg_byz_state_t byz_state;  /* server state of Byzantine workers: own (paper) or last honest ([S]) */
    bg_init_t init;     /* EF21-family initialisation: clean (default), [S] CNN side channel, [S] a9a scaled */
    /* Filled by the engine, read-only for methods: */
    size_t n, n_honest;
    const bg_compressor_t *comp;       /* the uplink compressor (omega, alpha, k) */
    const bg_compressor_t *down_comp;  /* the downlink compressor (Byz-EF21-BC), NULL otherwise */
} bg_method_cfg_t;

/* What a worker's half may use: stochastic or full gradients on its own shard, its own compressor, and the
 * round's shared randomness. Every call adds the flops it cost. */
typedef struct bg_worker_ctx {
    const bg_model_t *model;
    const bg_dataset_t *ds;
    const int *labels;          /* ds->y, or a relabelled copy for label flipping */
    const bg_shard_t *shard;
    bg_sampler_t *sampler;
    gsl_rng *rng;               /* minibatch stream */
    gsl_rng *crng;              /* compressor stream */
    gsl_rng *shared;            /* the round's shared stream: (seed, BG_RNG_SHARED, round), same for everyone */
    const bg_compressor_t *comp;
    size_t *batch_idx;          /* scratch, batch entries */
    float *scratch;             /* scratch, d floats */
    double flops;               /* work done this round, added by every call below */
    double last_loss;           /* minibatch loss of the last gradient */
} bg_worker_ctx_t;

/* grad = stochastic gradient at x on a fresh minibatch of b samples; charges b * flops_per_sample. */
void bg_worker_stoch_grad(bg_worker_ctx_t *ctx, const float *x, size_t b, float *grad);
/* The same fresh minibatch at two points (MARINA, DASHA-PAGE, STORM): g at x, g_prev at x_prev. */
void bg_worker_stoch_grad2(bg_worker_ctx_t *ctx, const float *x, const float *x_prev, size_t b, float *g,
                           float *g_prev);
/* grad = gradient of the worker's whole shard at x; charges shard size * flops_per_sample. */
void bg_worker_full_grad(bg_worker_ctx_t *ctx, const float *x, float *grad);
/* out = C(x) with the worker's compressor and streams; charges the compressor's flops. */
int bg_worker_compress(bg_worker_ctx_t *ctx, const float *x, bg_msg_t *out);

typedef struct bg_method_ops {
    const char *name;
    const char *summary;
    int reconstructed;    /* rebuilt from papers/code rather than taken from a reference implementation */
    int needs_unbiased;   /* refuses biased compressors (DIANA, MARINA, DASHA) */
    int worker_models;    /* the worker keeps its own model copy (compressed downlink) */
    int mirrored;         /* the server keeps a copy of per-worker state fed by the worker's increments (EF21
                           * family, DIANA, DASHA): a message lost or skipped would split the two copies */
    const char *default_compressor;  /* used when a scenario names none (NULL: the global default, topk) */
    int (*worker_new)(const bg_method_cfg_t *cfg, size_t d, void **st);
    void (*worker_free)(void *st);
    /* One round at model x: fill out (the message to send). */
    int (*worker_round)(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round, const float *x,
                        bg_msg_t *out);
    int (*server_new)(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st);
    void (*server_free)(void *st);
    /* Optional: called once per round before any view/collect, with the round's shared stream. */
    void (*server_begin_round)(void *st, size_t round, gsl_rng *shared);
    /* The server-side vector worker i would have after msg, without changing the state. */
    void (*server_view)(const void *st, size_t i, const bg_msg_t *msg, float *out);
    /* Absorb worker i's message into the state and write its server-side vector. */
    void (*server_collect)(void *st, size_t i, const bg_msg_t *msg, float *view);
    /* The message that puts worker j's server-side vector at target (an omniscient attacker's inverse). */
    void (*server_inverse)(const void *st, size_t j, const float *target, bg_msg_t *out);
    /* Apply the aggregate to x (x <- x - lr * agg for most methods). */
    void (*server_step)(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d);
    /* Optional downlink: the server's broadcast of x (default: x dense), and the worker's reconstruction of the
     * model it evaluates at (default: the dense values). The server's broadcast state and every worker's copy
     * stay equal, so one broadcast message serves every worker. */
    int (*server_broadcast)(const bg_method_cfg_t *cfg, void *st, const float *x, gsl_rng *shared, bg_msg_t *out,
                            double *flops);
    void (*worker_receive)(const bg_method_cfg_t *cfg, void *wst, const bg_msg_t *down, float *model);
    /* Mirrored methods: the worker's copy of the state the server mirrors, and the server's copy for worker i (d
     * floats each), for checking that the two stay equal. */
    const float *(*worker_mirror)(const void *wst);
    const float *(*server_mirror)(const void *sst, size_t i);
} bg_method_ops_t;

extern const bg_method_ops_t *const bg_method_registry[];   /* NULL-terminated */
extern const bg_registry_t bg_methods;
const bg_method_ops_t *bg_method_find(const char *name);

#endif
