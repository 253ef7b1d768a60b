/* Methods as two halves: what a worker does with fresh stochastic gradients and its own state (producing a
 * message), and what the server does with each worker's message and its per-worker state (producing the vector
 * the aggregator sees) and with the aggregate (producing the model update). */
#ifndef BG_METHOD_H
#define BG_METHOD_H

#include "bg_common.h"
#include "bg_data.h"
#include "bg_model.h"
#include "bg_compress.h"

typedef struct bg_method_cfg {
    char name[32];      /* byz-ef21-sgdm, mom-sgd */
    double lr;          /* server step size gamma */
    double eta;         /* momentum weight on the new gradient (beta = 1 - eta) */
    size_t batch;       /* minibatch size */
} bg_method_cfg_t;

/* What a worker's half may use: stochastic gradients on its own shard and its own compressor. */
typedef struct bg_worker_ctx {
    const bg_model_t *model;
    const bg_dataset_t *ds;
    const int *labels;          /* ds->y, or a relabelled copy for label flipping */
    bg_sampler_t *sampler;
    gsl_rng *rng;               /* minibatch stream */
    gsl_rng *crng;              /* compressor stream */
    const bg_compressor_t *comp;
    size_t *batch_idx;          /* scratch, batch entries */
    double flops;               /* work done this round, added by every call below */
    double last_loss;           /* minibatch loss of the last gradient */
} bg_worker_ctx_t;

/* grad = stochastic gradient at x on a fresh minibatch of b samples; charges b * flops_per_sample. */
void bg_worker_stoch_grad(bg_worker_ctx_t *ctx, const float *x, size_t b, float *grad);
/* out = C(x); charges the compressor's flops. */
int bg_worker_compress(bg_worker_ctx_t *ctx, const float *x, bg_msg_t *out);

typedef struct bg_method_ops {
    const char *name;
    const char *summary;
    int reconstructed;    /* rebuilt from papers/code rather than taken from a reference implementation */
    int (*worker_new)(const bg_method_cfg_t *cfg, size_t d, void **st);
    void (*worker_free)(void *st);
    /* One round at model x: fill out (the message to send). */
    int (*worker_round)(const bg_method_cfg_t *cfg, void *st, bg_worker_ctx_t *ctx, size_t round, const float *x,
                        bg_msg_t *out);
    int (*server_new)(const bg_method_cfg_t *cfg, size_t n, size_t d, void **st);
    void (*server_free)(void *st);
    /* The server-side vector worker i would have after msg, without changing the state. */
    void (*server_view)(const void *st, size_t i, const bg_msg_t *msg, float *out);
    /* Absorb worker i's message into the state and write its server-side vector. */
    void (*server_collect)(void *st, size_t i, const bg_msg_t *msg, float *view);
    /* The message that puts worker j's server-side vector at target (an omniscient attacker's inverse). */
    void (*server_inverse)(const void *st, size_t j, const float *target, bg_msg_t *out);
    /* Apply the aggregate: x <- x - lr * agg for the methods here. */
    void (*server_step)(const bg_method_cfg_t *cfg, void *st, const float *agg, float *x, size_t d);
} bg_method_ops_t;

extern const bg_method_ops_t *const bg_method_registry[];   /* NULL-terminated */
const bg_method_ops_t *bg_method_find(const char *name);

#endif
