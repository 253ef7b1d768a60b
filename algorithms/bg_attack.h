/* Byzantine attacks. An omniscient attack reads the honest workers' server-side vectors of the round (what the
 * aggregator will see) and returns the target vector every Byzantine worker wants its own server-side vector to
 * be; the method then turns the target into the message that puts it there (Rammal et al.'s threat model).
 * A data attack (label flipping, none) instead runs the honest method on relabelled or honest data. */
#ifndef BG_ATTACK_H
#define BG_ATTACK_H

#include "bg_common.h"

typedef struct bg_attack_cfg {
    char name[32];       /* none, ipm, alie, sf, lf */
    double eps;          /* IPM scale (default 0.1) */
    double z;            /* ALIE z; NAN: derived from n and f */
} bg_attack_cfg_t;

typedef struct bg_attack_args {
    bg_attack_cfg_t cfg;
    size_t n, f;          /* total workers and Byzantine workers */
    double z;             /* resolved ALIE z */
} bg_attack_args_t;

typedef struct bg_attack_ops {
    const char *name;
    const char *summary;
    int omniscient;      /* reads honest server-side vectors */
    int flips_labels;    /* data attack: trains on labels y -> n_classes-1-y */
    /* Omniscient: out = target from honest[0..nh-1]. r: the attacker's stream. */
    int (*target)(const bg_attack_args_t *a, const float *const *honest, size_t nh, size_t d, gsl_rng *r,
                  float *out);
    double (*flops)(const bg_attack_args_t *a, size_t nh, size_t d);
} bg_attack_ops_t;

extern const bg_attack_ops_t *const bg_attack_registry[];   /* NULL-terminated */
const bg_attack_ops_t *bg_attack_find(const char *name);
int bg_attack_args_init(bg_attack_args_t *a, const bg_attack_cfg_t *cfg, size_t n, size_t f, bg_err_t *err);
/* ALIE's z from n and f: s = floor(n/2 + 1) - f, z = Phi^-1((n - f - s) / (n - f)). */
double bg_attack_alie_z(size_t n, size_t f);

#endif
