/* Messages and compressors. A message carries either d dense values or nnz (index, value) pairs; its wire size
 * is the exact size of that encoding (header + values + indices in the fewest bytes that address d). */
#ifndef BG_COMPRESS_H
#define BG_COMPRESS_H

#include "bg_common.h"
#include "bg_registry.h"

/* Header of every message: u8 encoding tag, u8 flags, u16 reserved, u32 round, u32 sender, u32 count. */
#define BG_MSG_HEADER_BYTES 16

typedef enum { BG_MSG_DENSE = 0, BG_MSG_SPARSE = 1 } bg_msg_kind_t;

typedef struct bg_msg {
    bg_msg_kind_t kind;
    size_t d;           /* dimension of the vector it encodes */
    size_t nnz;         /* values carried: d when dense */
    uint32_t *idx;      /* nnz indices, strictly increasing (sparse only) */
    float *val;         /* nnz values (dense: d values) */
    size_t cap;         /* allocated length of idx/val */
    double bytes;       /* wire size of the encoding */
} bg_msg_t;

int bg_msg_init(bg_msg_t *m, size_t d);        /* capacity d, dense zero message */
void bg_msg_destroy(bg_msg_t *m);
void bg_msg_set_dense(bg_msg_t *m, const float *x);   /* copies x; bytes = dense size */
void bg_msg_copy(bg_msg_t *dst, const bg_msg_t *src);  /* same d; dst has the capacity (bg_msg_init) */
void bg_msg_add_to(const bg_msg_t *m, float scale, float *g);   /* g += scale * decode(m) */
void bg_msg_decode(const bg_msg_t *m, float *out);               /* out = decode(m) */
int bg_msg_all_finite(const bg_msg_t *m);
/* Bytes needed to address an index in [0, d): 1 for d <= 256, 2 for d <= 65536, ... */
size_t bg_index_bytes(size_t d);
double bg_msg_bytes_dense(size_t d);
double bg_msg_bytes_sparse(size_t d, size_t nnz);

typedef struct bg_comp_cfg {
    char name[32];      /* "identity", "topk", "randk", "sign", "qsgd", "fp16" */
    size_t k;           /* values kept (0: use ratio) */
    double ratio;       /* fraction kept when k == 0 */
    int scaled;         /* randk: multiply the kept values by d/k (unbiased) */
    int shared_mask;    /* randk: the mask comes from the round's shared stream, so indices do not travel */
    size_t levels;      /* qsgd: quantisation levels s */
    int per_layer;      /* scope: compress every layer on its own (k per layer from ratio, or k), else global */
} bg_comp_cfg_t;

/* The randomness a compressor may use: the worker's own stream, and the round's stream shared by every
 * party (re-seeded each round from (seed, BG_RNG_SHARED, round)). Either may be NULL when unused. */
typedef struct bg_comp_rngs {
    gsl_rng *own;
    gsl_rng *shared;
} bg_comp_rngs_t;

typedef struct bg_compressor bg_compressor_t;

typedef struct bg_compressor_ops {
    const char *name;
    const char *summary;
    int biased;         /* contractive (biased) or unbiased */
    int (*init)(bg_compressor_t *c, bg_err_t *err);   /* validate cfg against d and the layers (k <= d, ...) */
    void (*destroy)(bg_compressor_t *c);              /* optional */
    int (*compress)(const bg_compressor_t *c, const float *x, const bg_comp_rngs_t *r, bg_msg_t *out);
    double (*flops)(const bg_compressor_t *c);
} bg_compressor_ops_t;

struct bg_compressor {
    const bg_compressor_ops_t *ops;
    bg_comp_cfg_t cfg;
    size_t d;
    size_t k;           /* resolved number of values kept (summed over layers when per layer) */
    size_t n_layers;    /* parameter layout: layer l holds [layer_off[l], layer_off[l+1]) */
    size_t *layer_off;  /* n_layers + 1 offsets */
    double omega;       /* unbiased: E|C(x) - x|^2 <= omega |x|^2 (0 for identity); NAN when biased */
    double alpha;       /* contractive: |C(x) - x|^2 <= (1 - alpha) |x|^2; NAN when not contractive */
    void *priv;
};

extern const bg_compressor_ops_t *const bg_compressor_registry[];   /* NULL-terminated */
extern const bg_registry_t bg_compressors;
const bg_compressor_ops_t *bg_compressor_find(const char *name);
/* layers: n_layers sizes adding up to d (NULL, 0: one layer). */
int bg_compressor_init(const bg_comp_cfg_t *cfg, size_t d, const size_t *layers, size_t n_layers,
                         bg_compressor_t *out, bg_err_t *err);
void bg_compressor_destroy(bg_compressor_t *c);

#endif
