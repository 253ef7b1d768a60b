/* A small pool of worker threads for loops whose iterations are independent: the caller's thread takes part, the
 * others sleep on a condition variable between loops (no spinning: a simulator shares its cores with other work).
 * Every iteration is run exactly once, by whichever thread takes it first; results must not depend on which. */
#ifndef BG_POOL_H
#define BG_POOL_H

#include <stddef.h>

typedef struct bg_pool bg_pool_t;

/* fn(ctx, i, tid): iteration i of a loop, on thread tid in [0, threads). */
typedef void (*bg_pool_fn)(void *ctx, size_t i, size_t tid);

/* threads >= 1 (1: no extra thread, loops run on the caller). NULL when out of memory. The threads start at the
 * first loop of two or more iterations (so that forking before that is safe); one that cannot start leaves
 * fewer, and the loops run on those. */
bg_pool_t *bg_pool_new(size_t threads);
void bg_pool_free(bg_pool_t *p);
/* The threads asked for (the caller's included). */
size_t bg_pool_threads(const bg_pool_t *p);
/* Iterations 0..n-1 over the pool's threads (at most n of them); returns when all are done. p NULL: on the caller. */
void bg_pool_for(bg_pool_t *p, size_t n, bg_pool_fn fn, void *ctx);

#endif
