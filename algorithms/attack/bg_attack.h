/* Byzantine attacks, of three kinds:
 *  - omniscient: reads the honest workers' server-side vectors of the round (what the aggregator will see) and
 *    returns the target every Byzantine worker wants its own server-side vector to be; the method then turns
 *    the target into the message that puts it there (Rammal et al.'s threat model);
 *  - blind: returns a target without reading anything honest (NaN payload, zero, random);
 *  - data: runs the honest method on its own shard (relabelled for label flipping) and may transform the
 *    outgoing message (bit flip). */
#ifndef BG_ATTACK_H
#define BG_ATTACK_H

#include "bg_common.h"
#include "bg_registry.h"
#include "bg_aggregate.h"
#include "bg_compress.h"

typedef enum { BG_ATK_DATA = 0, BG_ATK_BLIND = 1, BG_ATK_OMNISCIENT = 2 } bg_attack_kind_t;

typedef struct bg_attack_cfg {
    char name[32];
    double eps;          /* IPM scale */
    double z;            /* ALIE z; NAN: derived from n and f (std) or 1.06 (variance, [R]) */
    int alie_variance;   /* ALIE deviation: 0 unbiased std ([S], default), 1 population variance ([R]) */
    double sigma;        /* gaussian / random: standard deviation */
    size_t mimic_warmup; /* mimic: rounds of direction estimation before fixing the target */
    double payload;      /* nan-payload: the value sent, NAN or +-INFINITY */
} bg_attack_cfg_t;

typedef struct bg_attack_args {
    bg_attack_cfg_t cfg;
    size_t n, f;          /* total workers and Byzantine workers */
    double z;             /* resolved ALIE z */
} bg_attack_args_t;

/* What an attack may read in one round. */
typedef struct bg_attack_ctx {
    const float *const *honest;  /* nh honest server-side vectors (omniscient only; NULL otherwise) */
    size_t nh;
    size_t d;
    const float *prev_agg;       /* last aggregate the server applied, NULL before the first round */
    const float *own;            /* data attacks: the server-side vector of the attacker's honest message */
    size_t round;
    gsl_rng *rng;                /* the attacker's stream (one per attacker when per_attacker) */
    void *state;                 /* the attack's state across rounds (state_new), NULL when stateless */
} bg_attack_ctx_t;

typedef struct bg_attack_ops {
    const char *name;
    const char *summary;
    bg_attack_kind_t kind;
    const char *reads;   /* one line: what it may read ("honest server-side vectors of the round", ...) */
    int flips_labels;    /* data attack: trains on labels y -> n_classes-1-y */
    int per_attacker;    /* each Byzantine worker draws its own target (own stream); else one per round */
    int (*state_new)(const bg_attack_args_t *a, size_t d, void **st);   /* optional */
    void (*state_free)(void *st);
    /* Omniscient and blind attacks: out = the target server-side vector. */
    int (*target)(const bg_attack_args_t *a, bg_attack_ctx_t *c, float *out);
    /* Data attacks: transform the honest message in place (optional; bit flip negates it). */
    void (*message)(const bg_attack_args_t *a, bg_msg_t *msg);
    double (*flops)(const bg_attack_args_t *a, size_t nh, size_t d);
} bg_attack_ops_t;

extern const bg_attack_ops_t *const bg_attack_registry[];   /* NULL-terminated */
extern const bg_registry_t bg_attacks;
const bg_attack_ops_t *bg_attack_find(const char *name);
int bg_attack_args_init(bg_attack_args_t *a, const bg_attack_cfg_t *cfg, size_t n, size_t f, bg_err_t *err);
/* ALIE's z from n and f: s = floor(n/2 + 1) - f, z = Phi^-1((n - f - s) / (n - f)). */
double bg_attack_alie_z(size_t n, size_t f);

#endif
