/* Error codes, error messages and RNG streams shared by every module of the byzgrid library.
 * Library code never prints and never exits: it returns a negative BG_E* code and fills a bg_err_t. */
#ifndef BG_COMMON_H
#define BG_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

/* Error codes: one table gives the enum and the text bg_strerror returns (libuv's habit). */
#define BG_ERRNO_MAP(X)                                                                                             \
    X(EINVAL, -1, "invalid argument or configuration value")                                                      \
    X(ENOMEM, -2, "out of memory")                                                                                  \
    X(EIO, -3, "file missing, unreadable or unwritable")                                                            \
    X(EFORMAT, -4, "file readable but corrupt or malformed")                                                        \
    X(ENOTFOUND, -5, "unknown component, host or key")                                                              \
    X(ERANGE, -6, "value outside what the component allows")

enum {
    BG_OK = 0,
#define BG_ERRNO_ENUM(name, value, text) BG_##name = value,
    BG_ERRNO_MAP(BG_ERRNO_ENUM)
#undef BG_ERRNO_ENUM
};

/* The meaning of a BG_E* code ("success" for BG_OK, "unknown error" for anything else). */
const char *bg_strerror(int code);
/* fopen(path, "w") that never writes through a symbolic link (ELOOP instead): outputs go to the file named. */
FILE *bg_fopen_write(const char *path);

/* Where an error comes from: `file` and `line` are filled when a position in a user file is known. */
typedef struct bg_err {
    int code;
    char file[1024];
    long line;        /* 0 when unknown */
    char key[64];     /* configuration key responsible ("compressor.k"), "" when none: lets a scenario
                         loader point at the line that set it */
    char msg[768];
} bg_err_t;

/* Fill e (may be NULL) and return code. file may be NULL. */
int bg_err_set(bg_err_t *e, int code, const char *file, long line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Open an input file for reading: a regular file only (a FIFO, a device or a folder would block or never end; the
 * open itself does not block), of at most max_bytes (0: any size). *fd is open on BG_OK; otherwise BG_EIO (cannot
 * open) or BG_EINVAL, with one line naming path and what ("scenario", "LIBSVM file", "IDX images file"). */
int bg_open_regular(const char *path, const char *what, unsigned long long max_bytes, int *fd, bg_err_t *err);
void bg_err_clear(bg_err_t *e);
/* Name the configuration key behind an error already set (no-op when e is NULL or a key is already named). */
void bg_err_key(bg_err_t *e, const char *key);
/* bg_err_key, then return code: `return bg_err_keyed(err, "partition.k", bg_err_set(err, ...));` */
int bg_err_keyed(bg_err_t *e, const char *key, int code);
/* "file:line: msg", "file: msg" or "msg" into buf. */
const char *bg_err_format(const bg_err_t *e, char *buf, size_t len);

/* RNG stream roles: every consumer of randomness draws from its own stream derived from (seed, role, index). */
enum bg_rng_role {
    BG_RNG_PARTITION = 1,  /* dataset split */
    BG_RNG_WORKER = 2,     /* a worker's minibatch sampling (index = worker id) */
    BG_RNG_COMPRESS = 3,   /* a worker's compressor randomness (index = worker id) */
    BG_RNG_ATTACK = 4,     /* an attacker's randomness (index = worker id) */
    BG_RNG_SERVER = 5,     /* server-side randomness (bucketing, shared coins) */
    BG_RNG_INIT = 6,       /* model initialisation */
    BG_RNG_SHARED = 7,     /* randomness shared by all parties (shared masks, coins); index = round */
    BG_RNG_PLATFORM = 8,   /* generated platforms: drawn per-worker values and profiles; index = which value */
    BG_RNG_PLACEMENT = 9,  /* which worker hosts run the Byzantine ranks (attack.placement = random) */
    BG_RNG_FAULTS = 10,    /* seeded host outages (faults.mtbf_s, faults.mttr_s); index = worker rank */
    BG_RNG_ROUND = 11,     /* round protocols: the workers sampled in a round (index = round) */
    BG_RNG_TRAFFIC = 12    /* background traffic: a Poisson flow's arrivals (index = flow) */
};

/* A new gsl_rng (mt19937) seeded from a splitmix64 hash of (seed, role, index). Caller frees with gsl_rng_free. */
gsl_rng *bg_rng_stream(uint64_t seed, unsigned role, uint64_t index);
/* Re-seed an existing generator the same way (cheap per-round shared streams). */
void bg_rng_reseed(gsl_rng *r, uint64_t seed, unsigned role, uint64_t index);
uint64_t bg_rng_derive(uint64_t seed, unsigned role, uint64_t index);

/* Small vector helpers (float storage, double accumulation where it matters). */
double bg_vec_dot(const float *a, const float *b, size_t d);
double bg_vec_norm2(const float *a, size_t d);           /* squared Euclidean norm, double accumulation */
int bg_vec_all_finite(const float *a, size_t d);

#endif
