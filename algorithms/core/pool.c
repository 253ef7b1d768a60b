/* The thread pool behind run.threads (bg_pool.h). One loop at a time: the caller publishes it under the mutex,
 * wakes the helpers, takes iterations itself from a shared counter, and waits until every helper has left it. */
#include "bg_pool.h"

#include <pthread.h>
#include <stdlib.h>

struct bg_pool {
    size_t want;              /* threads asked for, the caller's included */
    size_t n;                 /* threads running, the caller's included (1 until the first loop starts the others) */
    int started;
    pthread_t *th;            /* n - 1 helpers */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;        /* loops published so far */
    size_t busy;              /* helpers still in the current loop */
    int quit;
    /* the current loop */
    bg_pool_fn fn;
    void *ctx;
    size_t iters, width;      /* iterations; threads taking part (<= n) */
    size_t next;              /* next iteration to take (atomic) */
};

typedef struct helper { bg_pool_t *p; size_t tid; } helper_t;

static void take(bg_pool_t *p, size_t tid)
{
    for (size_t i; (i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->iters;)
        p->fn(p->ctx, i, tid);
}

static void *helper_main(void *arg)
{
    helper_t h = *(helper_t *)arg;
    free(arg);
    bg_pool_t *p = h.p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        const int part = h.tid < p->width;
        pthread_mutex_unlock(&p->mu);
        if (part)
            take(p, h.tid);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bg_pool_t *bg_pool_new(size_t threads)
{
    bg_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->want = threads ? threads : 1;
    p->n = 1;
    p->th = calloc(p->want, sizeof *p->th);
    if (!p->th || pthread_mutex_init(&p->mu, NULL) || pthread_cond_init(&p->go, NULL) ||
        pthread_cond_init(&p->done, NULL)) {
        free(p->th);
        free(p);
        return NULL;
    }
    return p;
}

/* The helpers, at the first loop: a process that forks before (byzgrid checks a platform's routes in a child, where
 * SimGrid may abort) has no other thread then, so no lock can be held in the child by a thread that does not exist
 * there. A helper that cannot start leaves fewer threads: the loops give the same results on any number. */
static void start(bg_pool_t *p)
{
    p->started = 1;
    for (size_t k = 1; k < p->want; k++) {
        helper_t *h = malloc(sizeof *h);
        if (h) {
            *h = (helper_t){p, k};
            if (pthread_create(&p->th[k], NULL, helper_main, h) == 0) {
                p->n = k + 1;
                continue;
            }
            free(h);
        }
        break;
    }
}

size_t bg_pool_threads(const bg_pool_t *p) { return p ? p->want : 1; }

void bg_pool_for(bg_pool_t *p, size_t n, bg_pool_fn fn, void *ctx)
{
    if (p && !p->started && n > 1)
        start(p);
    if (!p || p->n == 1 || n <= 1) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->iters = n;
    p->width = n < p->n ? n : p->n;
    p->next = 0;
    p->busy = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    take(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void bg_pool_free(bg_pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (size_t k = 1; k < p->n; k++)
        pthread_join(p->th[k], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->th);
    free(p);
}
