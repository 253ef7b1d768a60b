/* The learning configuration of a run and its key table: every scenario key of the learning side is declared once
 * in config.c (type, storage, default, range, help), and that table gives the defaults, parsing and validation. */
#ifndef BG_CONFIG_H
#define BG_CONFIG_H

#include "bg_common.h"
#include "bg_keys.h"
#include "bg_data.h"
#include "bg_model.h"
#include "bg_compress.h"
#include "bg_aggregate.h"
#include "bg_attack.h"
#include "bg_method.h"

/* attack.wire: how a Byzantine worker that crafts its message (omniscient or blind attacks) encodes it when the
 * server keeps its own state (method.byz_state = own). DENSE: the exact inverse (the dense message that puts its
 * server-side vector at the target this round: the strongest attacker, 16 + 4d bytes). CONFORM: that inverse
 * compressed with the uplink compressor, so the message has the honest messages' format and size and the
 * server-side vector only approaches the target (EF21 contraction). */
enum { BG_WIRE_DENSE = 0, BG_WIRE_CONFORM = 1 };

/* The most workers a run may have (workers.n, and the hosts a workers.hosts range may list): ten times the largest
 * run measured (docs/design-notes.md, 100,000 workers). */
#define BG_MAX_WORKERS 1000000

/* The learning half of a scenario (the simulator adds platform and placement). */
typedef struct bg_config {
    uint64_t seed;
    size_t rounds;           /* rounds to run */
    size_t eval_every;       /* evaluate every this many rounds (and at 0 and at the end) */
    size_t threads;          /* run.threads: threads for the workers' local work (0 = auto: the online cores) */
    int eval_train;          /* also evaluate on the full training set */
    size_t n, f;             /* workers, of which the last f are Byzantine */
    /* Data. dataset names a built-in (see bg_dataset_registry) whose files are looked up in data_dir; "" means the
     * paths below. */
    char dataset[32];
    char data_dir[1024];     /* bundled data files (a9a.gz, w8a.gz, mnist-t10k-*.gz) */
    char train_path[512];    /* LIBSVM file, or IDX images with train_labels */
    char test_path[512];     /* "" : hold out test_fraction of the training set (seeded) */
    char train_labels[512];  /* IDX label files: set these to read IDX */
    char test_labels[512];
    size_t n_features;       /* LIBSVM: 0 infers; an index beyond a declared count is an error */
    size_t n_classes;        /* declared classes (0: from the data); a label outside is an error */
    double test_fraction;    /* hold-out share when there is no test file */
    int normalize;           /* L2-normalise rows: 1, 0, or -1 = auto (LIBSVM yes, images and synthetic no) */
    bg_synth_cfg_t synth;    /* dataset = synthetic (n_groups and n_test are set from the run) */
    bg_partition_cfg_t partition;
    int data_all;            /* 0: the honest workers hold the data (data-attack Byzantine j reuses shard
                              * j mod n_honest); 1: all n workers get shards, Byzantine ones their own */
    int grad_norm;           /* grad_norm_sq metric: 1, 0, -1 = auto (on when one pass costs <= 2e10 flops) */
    int dist_opt;            /* dist_to_opt metric: 1, 0, -1 = auto (on for synthetic data) */
    bg_model_cfg_t model;
    bg_method_cfg_t method;
    bg_comp_cfg_t comp;
    bg_comp_cfg_t down_comp; /* downlink compressor, for methods that compress the broadcast (Byz-EF21-BC) */
    char pre[32];            /* pre-aggregator: nnm or none */
    char agg[32];            /* aggregator */
    bg_agg_args_t agg_args;  /* .f is set from f */
    bg_attack_cfg_t attack;
    int attack_wire;         /* BG_WIRE_DENSE or BG_WIRE_CONFORM: what a crafting attacker's message looks like */
} bg_config_t;


/* The learning keys, in the order `byzgrid keys` prints them (section by section). */
extern const bg_key_t bg_config_keys[];
extern const size_t bg_config_n_keys;

/* Every default of the key table (data_dir and the engine-filled fields stay empty). */
void bg_config_default(bg_config_t *c);
/* Check every key's value against its declared range and words; the error names the key. */
int bg_config_check(const bg_config_t *c, bg_err_t *err);

/* The defaults of one family's part of the configuration (the same table's values). */
void bg_agg_args_default(bg_agg_args_t *a);
void bg_attack_cfg_default(bg_attack_cfg_t *a);
void bg_comp_cfg_default(bg_comp_cfg_t *c);
void bg_partition_cfg_default(bg_partition_cfg_t *p);

#endif
