/* The rounds of one run, as steps any runner can call: the in-process driver calls them in a loop, the SimGrid
 * actors call them from the hosts that do the work. Same steps, same order of maths, same numbers. */
#ifndef BG_ENGINE_H
#define BG_ENGINE_H

#include "bg_common.h"
#include "bg_data.h"
#include "bg_model.h"
#include "bg_compress.h"
#include "bg_aggregate.h"
#include "bg_attack.h"
#include "bg_method.h"
#include "bg_config.h"

typedef struct bg_metrics {
    size_t round;
    double bytes_up, bytes_down;     /* cumulative over all workers */
    double train_loss, train_acc;    /* NAN when not evaluated on the training set */
    double test_loss, test_acc;
    size_t dropped;                  /* non-finite inputs dropped by the aggregation so far */
    double grad_norm_sq;             /* |mean over honest workers of their full local gradients|^2, or NAN */
    double dist_to_opt;              /* |x - x*| for tasks with a known optimum, or NAN */
} bg_metrics_t;

/* Memory accounting of a run, measured (glibc mallinfo2 deltas) while the engine was built. */
typedef struct bg_memory {
    double state_bytes;      /* per-worker vectors: method worker and server states, aggregation inputs and
                              * buffers, attack views (message buffers are not counted: sparse messages
                              * touch only their k entries) */
    double dataset_bytes;    /* train + test rows and labels */
    double workspace_bytes;  /* the model's scratch for one minibatch */
} bg_memory_t;

typedef struct bg_engine bg_engine_t;

/* Loads data, splits it, builds every component; validates the whole configuration. */
int bg_engine_new(const bg_config_t *cfg, bg_engine_t **out, bg_err_t *err);
void bg_engine_free(bg_engine_t *e);

size_t bg_engine_dim(const bg_engine_t *e);
size_t bg_engine_n_honest(const bg_engine_t *e);
const bg_config_t *bg_engine_config(const bg_engine_t *e);
const float *bg_engine_model(const bg_engine_t *e);       /* x^t, the server's model */
double bg_engine_downlink_bytes(const bg_engine_t *e);    /* size of one dense model broadcast */
int bg_engine_attack_omniscient(const bg_engine_t *e);    /* Byzantine workers wait for honest messages */
/* Wire size of one crafted Byzantine message: dense (16 + 4d) or, with attack.wire = conform, the uplink
 * compressor's output size (which depends on d, k and the layout only); wire_flops (may be NULL) gets the flops
 * the encoding adds to the attacker's step (conform: the compressor's, dense: 0). */
double bg_engine_byz_msg_bytes(const bg_engine_t *e, double *wire_flops);
int bg_engine_attack_runs_method(const bg_engine_t *e);   /* Byzantine workers run the method (data attacks) */
int bg_engine_method_mirrored(const bg_engine_t *e);      /* per-worker server state fed by increments */
int bg_engine_worker_models(const bg_engine_t *e);        /* workers keep model copies (compressed downlink) */
/* Mirrored methods: the largest |worker copy - server copy| over the honest workers not flagged in skip (e.g. a
 * message still in flight), *compared of them; NAN for other methods. */
double bg_engine_mirror_gap(const bg_engine_t *e, const unsigned char *skip, size_t *compared);
double bg_engine_flops_per_sample(const bg_engine_t *e);
size_t bg_engine_train_size(const bg_engine_t *e);
size_t bg_engine_test_size(const bg_engine_t *e);
const bg_dataset_t *bg_engine_train(const bg_engine_t *e);
const bg_model_t *bg_engine_model_info(const bg_engine_t *e);
/* The shards (one per data-holding worker: n_honest, or n with data_all) in worker order. */
const bg_shard_t *bg_engine_shards(const bg_engine_t *e, size_t *n_shards);
const char *bg_engine_partition_name(const bg_engine_t *e);   /* partition.name, auto resolved */
void bg_engine_memory(const bg_engine_t *e, bg_memory_t *m);

/* The round steps. Each returns BG_OK or a BG_E* code and then fills err (may be NULL) with the round, the party
 * and the real cause in one sentence ("round 12: 20 of 20 aggregation inputs are NaN or Inf, ..."). */
/* Server, at the start of a round: the broadcast message (the model, dense unless the method compresses the
 * downlink). Engine-owned; valid until the next round's broadcast. *flops: the server's compute for it. */
int bg_engine_broadcast(bg_engine_t *e, const bg_msg_t **down, double *flops, bg_err_t *err);
/* Worker i (honest, or Byzantine with a data attack) computes its round message from the broadcast.
 * *msg points to the engine-owned message of worker i; *flops is the compute it cost. */
int bg_engine_worker_round(bg_engine_t *e, size_t i, const bg_msg_t *down, const bg_msg_t **msg, double *flops,
                           bg_err_t *err);
/* The same for the broadcast of an earlier round (round protocols: a slow worker answers the round it received). */
int bg_engine_worker_round_at(bg_engine_t *e, size_t i, const bg_msg_t *down, size_t round, const bg_msg_t **msg,
                              double *flops, bg_err_t *err);
/* Workers who[0..m) (honest, or Byzantine with a data attack) compute their messages of `round` from down, on
 * run.threads threads (OpenBLAS on one thread each meanwhile); flops[k] gets who[k]'s compute. The results are those
 * of bg_engine_worker_round_at called one after the other: each worker's maths touches only its own state, streams
 * and message, and each thread has its own model scratch. On failure, the first failing worker in list order. */
int bg_engine_workers_round(bg_engine_t *e, const size_t *who, size_t m, const bg_msg_t *down, size_t round,
                            double *flops, bg_err_t *err);
size_t bg_engine_threads(const bg_engine_t *e);                        /* run.threads, resolved */
const bg_msg_t *bg_engine_worker_msg(const bg_engine_t *e, size_t i);  /* worker i's current message */
/* Byzantine worker j's message for the round, for omniscient attacks (built from the honest messages already
 * produced: bg_engine_worker_round for every honest i of this round) and blind ones. */
int bg_engine_byz_round(bg_engine_t *e, size_t j, const bg_msg_t **msg, double *flops, bg_err_t *err);
/* Server: absorb all n messages of the round, aggregate, update x. *flops: the server's compute. */
int bg_engine_server_round(bg_engine_t *e, double *flops, bg_err_t *err);
/* Round protocols (the simulator's [round] and faults): before this round's bg_engine_byz_round and
 * bg_engine_server_round, which messages the server applies (apply[i] != 0; the array must live until
 * bg_engine_server_round), how many broadcasts it sent and how many uplink bytes reached it. The aggregator then
 * runs on the applied workers' server-side vectors with f unchanged; omniscient attackers see the applied honest
 * messages. If bg_engine_enough says they are too few, the round absorbs the messages (server states fed by
 * increments stay in step with the workers) but neither aggregates nor steps: a skipped round. */
void bg_engine_round_subset(bg_engine_t *e, const unsigned char *apply, size_t n_bcast, double bytes_up);
/* apply[i] flags: the worker's current message applies; its message held aside by bg_engine_hold applies. */
enum { BG_APPLY_CURRENT = 1, BG_APPLY_HELD = 2 };
int bg_engine_enough(const bg_engine_t *e, size_t m);
/* Keep worker i's current message aside until the next bg_engine_server_round applies it (a late message: the
 * worker may compute its next one meanwhile); its apply flag is then BG_APPLY_HELD, with BG_APPLY_CURRENT too if
 * the next one arrives in time for the same aggregation. */
int bg_engine_hold(bg_engine_t *e, size_t i);
size_t bg_engine_skipped(const bg_engine_t *e);   /* skipped rounds so far */
/* Metrics at the current round (not charged to anyone's time): bg_engine_counters, then bg_engine_evaluate_x of
 * the current model. */
int bg_engine_evaluate(bg_engine_t *e, bg_metrics_t *m);
/* The round and the cumulative counters (bytes, dropped inputs) as they stand; the model's metrics set to NAN. */
void bg_engine_counters(const bg_engine_t *e, bg_metrics_t *m);
/* The model's metrics (losses, accuracies, grad_norm_sq, dist_to_opt) of any parameter vector x of the engine's
 * dimension, e.g. a copy of an earlier model; m's round and counters are left as they are. */
int bg_engine_evaluate_x(bg_engine_t *e, const float *x, bg_metrics_t *m);
size_t bg_engine_round(const bg_engine_t *e);   /* rounds completed */
/* The server step size of round t (method.lr under method.lr_schedule). */
double bg_engine_lr(const bg_engine_t *e, size_t t);

/* The in-process driver: all rounds, calling cb at every evaluation point. cb returning non-zero stops. */
typedef int (*bg_eval_cb)(const bg_metrics_t *m, void *ud);
/* What a round cost: the flops each worker and the server executed and each uplink message's size. */
typedef struct bg_round_cost {
    size_t round;                  /* 0-based index of the round just done */
    const double *worker_flops;    /* n */
    const double *msg_bytes;       /* n */
    double server_flops;
} bg_round_cost_t;
typedef int (*bg_round_cb)(const bg_round_cost_t *c, void *ud);
/* rcb (may be NULL) is called after every round. */
int bg_driver_run(bg_engine_t *e, bg_eval_cb cb, bg_round_cb rcb, void *ud, bg_err_t *err);
/* True if round r (0-based count of completed rounds) is an evaluation point. */
int bg_engine_is_eval_round(const bg_engine_t *e, size_t r);

#endif
