/* Partitions of a labelled dataset over workers: IID (equal or lognormal sizes), Dirichlet label skew,
 * k classes per worker, the reference code's CIFAR split, and contiguous blocks; plus a label histogram. */
#include "bg_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

/* Dirichlet draws are repeated until every worker reaches min_size; past this many the parameters are hopeless. */
#define DIRICHLET_TRIES 1000
#define UNASSIGNED ((size_t)-1)

void bg_partition_histogram(const bg_shard_t *shards, size_t n_shards, const int *y, size_t n_classes,
                            size_t *counts)
{
    if (!counts)
        return;
    memset(counts, 0, n_shards * n_classes * sizeof *counts);
    if (!shards || !y)
        return;
    for (size_t s = 0; s < n_shards; s++)
        for (size_t i = 0; i < shards[s].n; i++) {
            int c = y[shards[s].idx[i]];
            if (c >= 0 && (size_t)c < n_classes)   /* labels outside the classes are not counted */
                counts[s * n_classes + (size_t)c]++;
        }
}

static size_t *iota(size_t n)
{
    size_t *p = malloc((n ? n : 1) * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = i;
    return p;
}

/* Sizes that add up to total, each >= lo, the part above lo shared in proportion to w (largest remainders). */
static void proportional_sizes(const double *w, size_t n, size_t total, size_t lo, size_t *size, double *frac)
{
    double sum = 0.0;
    for (size_t s = 0; s < n; s++)
        sum += w[s];
    size_t rest = total - n * lo, given = 0;
    for (size_t s = 0; s < n; s++) {
        double share = (double)rest * w[s] / sum;
        size_t fl = (size_t)floor(share);
        if (fl > rest)
            fl = rest;
        size[s] = fl;
        given += fl;
        frac[s] = share - (double)fl;
    }
    /* Hand out what flooring left over, largest fractional part first (ties to the lower worker). */
    while (given < rest) {
        size_t best = 0;
        for (size_t s = 1; s < n; s++)
            if (frac[s] > frac[best])
                best = s;
        size[best]++;
        frac[best] = -1.0;
        given++;
    }
    while (given > rest) {   /* cannot happen with exact arithmetic; guards against rounding up */
        for (size_t s = 0; s < n && given > rest; s++)
            if (size[s] > 0) {
                size[s]--;
                given--;
            }
    }
    for (size_t s = 0; s < n; s++)
        size[s] += lo;
}

/* Every partition fills owner[i] = shard of sample i (or UNASSIGNED) for n samples of C classes over S shards of at
 * least lo samples each; bg_partition checks the parameters first, then builds the shards from owner. */
#define PART_ARGS                                                                                                   \
    const bg_partition_cfg_t *cfg, const int *y, size_t n, size_t C, size_t S, size_t lo, gsl_rng *r,             \
        size_t *owner, bg_err_t *err

static int part_iid(PART_ARGS)
{
    (void)y;
    (void)C;
    (void)err;
    size_t *perm = iota(n), *size = malloc(S * sizeof *size);
    double *w = malloc(2 * S * sizeof *w);
    if (!perm || !size || !w) {
        free(perm);
        free(size);
        free(w);
        return BG_ENOMEM;
    }
    gsl_ran_shuffle(r, perm, n, sizeof *perm);
    if (cfg->size_sigma > 0) {
        /* FedLab's unbalanced split draws lognormal(log(n/S), sigma); the location cancels in the proportions. */
        for (size_t s = 0; s < S; s++)
            w[s] = gsl_ran_lognormal(r, 0.0, cfg->size_sigma);
        proportional_sizes(w, S, n, lo, size, w + S);
    } else {
        for (size_t s = 0; s < S; s++)
            size[s] = n / S + (s < n % S);
    }
    size_t pos = 0;
    for (size_t s = 0; s < S; s++)
        for (size_t k = 0; k < size[s]; k++)
            owner[perm[pos++]] = s;
    free(perm);
    free(size);
    free(w);
    return BG_OK;
}

/* Indices of each class in ascending order: by_class[start[c] .. start[c+1]) (a stable counting sort). */
static int group_by_class(const int *y, size_t n, size_t C, size_t **by_class, size_t **start)
{
    size_t *b = malloc((n ? n : 1) * sizeof *b), *st = calloc(C + 1, sizeof *st);
    if (!b || !st) {
        free(b);
        free(st);
        return BG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        st[(size_t)y[i] + 1]++;
    for (size_t c = 0; c < C; c++)
        st[c + 1] += st[c];
    size_t *fill = malloc((C ? C : 1) * sizeof *fill);
    if (!fill) {
        free(b);
        free(st);
        return BG_ENOMEM;
    }
    memcpy(fill, st, C * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        b[fill[y[i]]++] = i;
    free(fill);
    *by_class = b;
    *start = st;
    return BG_OK;
}

/* For every class, worker proportions ~ Dirichlet(alpha) cut the shuffled class at floor(n_c * cumsum(p)) (the
 * Hsu et al. / FedLab recipe), redrawn while a worker falls below lo. */
static int part_dirichlet(PART_ARGS)
{
    size_t *by_class = NULL, *start = NULL;
    if (group_by_class(y, n, C, &by_class, &start))
        return BG_ENOMEM;
    double *alpha = malloc(S * sizeof *alpha), *p = malloc(S * sizeof *p);
    size_t *count = malloc(S * sizeof *count);
    int rc = BG_OK;
    if (!alpha || !p || !count) {
        rc = BG_ENOMEM;
        goto done;
    }
    for (size_t s = 0; s < S; s++)
        alpha[s] = cfg->alpha;
    size_t worst = 0;
    for (int t = 0; t < DIRICHLET_TRIES; t++) {
        memset(count, 0, S * sizeof *count);
        for (size_t c = 0; c < C; c++) {
            size_t *cls = by_class + start[c], nc = start[c + 1] - start[c];
            if (nc == 0)
                continue;
            gsl_ran_shuffle(r, cls, nc, sizeof *cls);
            gsl_ran_dirichlet(r, S, alpha, p);
            double cum = 0.0;
            size_t from = 0;
            for (size_t s = 0; s < S; s++) {
                cum += p[s];
                size_t to = s + 1 == S ? nc : (size_t)floor(cum * (double)nc);
                if (to > nc)
                    to = nc;
                if (to < from)
                    to = from;
                for (size_t k = from; k < to; k++)
                    owner[cls[k]] = s;
                count[s] += to - from;
                from = to;
            }
        }
        worst = 0;
        for (size_t s = 1; s < S; s++)
            if (count[s] < count[worst])
                worst = s;
        if (count[worst] >= lo)
            goto done;
    }
    rc = bg_err_keyed(err, "partition.alpha", bg_err_set(err, BG_ERANGE, NULL, 0,
                    "dirichlet partition with alpha %g left worker %zu with %zu samples after %d draws: every "
                    "worker needs at least %zu; raise alpha, use fewer workers or lower min_size",
                    cfg->alpha, worst, count[worst], DIRICHLET_TRIES, lo));
done:
    free(by_class);
    free(start);
    free(alpha);
    free(p);
    free(count);
    return rc;
}

/* Worker s holds classes order[(s*k + j) mod C], j < k: distinct within a worker since k <= C, and every class is
 * held because S*k >= C. A class's shuffled samples are cut evenly (sizes differ by <= 1) among its holders. */
static int part_shards(PART_ARGS)
{
    (void)lo;
    (void)err;
    const size_t k = cfg->k;
    size_t *by_class = NULL, *start = NULL;
    if (group_by_class(y, n, C, &by_class, &start))
        return BG_ENOMEM;
    size_t *order = iota(C), *holders = calloc(C, sizeof *holders), *seen = calloc(C, sizeof *seen);
    if (!order || !holders || !seen) {
        free(by_class);
        free(start);
        free(order);
        free(holders);
        free(seen);
        return BG_ENOMEM;
    }
    gsl_ran_shuffle(r, order, C, sizeof *order);
    for (size_t s = 0; s < S; s++)
        for (size_t j = 0; j < k; j++)
            holders[order[(s * k + j) % C]]++;
    for (size_t c = 0; c < C; c++)
        gsl_ran_shuffle(r, by_class + start[c], start[c + 1] - start[c], sizeof *by_class);
    for (size_t s = 0; s < S; s++)
        for (size_t j = 0; j < k; j++) {
            size_t c = order[(s * k + j) % C], nc = start[c + 1] - start[c], h = holders[c], q = seen[c]++;
            /* piece q of h: [q*nc/h, (q+1)*nc/h) */
            size_t from = q * nc / h, to = (q + 1) * nc / h;
            for (size_t i = from; i < to; i++)
                owner[by_class[start[c] + i]] = s;
        }
    free(by_class);
    free(start);
    free(order);
    free(holders);
    free(seen);
    return BG_OK;
}

/* [S]'s non-IID CIFAR split (dataloader/dataloader.py): a label-sorted block of half a shard plus half a shard
 * from the shuffled remainder. */
static int part_cifar_ref(PART_ARGS)
{
    (void)cfg;
    (void)lo;
    (void)err;
    size_t *sorted = NULL, *start = NULL;
    if (group_by_class(y, n, C, &sorted, &start))
        return BG_ENOMEM;
    size_t half = n / S / 2, base = S * half;
    for (size_t s = 0; s < S; s++)
        for (size_t i = s * half; i < (s + 1) * half; i++)
            owner[sorted[i]] = s;
    size_t *rest = sorted + base;
    gsl_ran_shuffle(r, rest, n - base, sizeof *rest);
    for (size_t s = 0; s < S; s++)
        for (size_t i = s * half; i < (s + 1) * half; i++)
            owner[rest[i]] = s;
    free(sorted);
    free(start);
    return BG_OK;
}

static int part_contiguous(PART_ARGS)
{
    (void)cfg, (void)y, (void)C, (void)lo, (void)r, (void)err;
    for (size_t s = 0, pos = 0; s < S; s++)
        for (size_t k = 0, len = n / S + (s < n % S); k < len; k++)
            owner[pos++] = s;
    return BG_OK;
}

/* Parameter checks that need the data's shape (the scenario's key table has already checked plain ranges). */
static int check_shards(const bg_partition_cfg_t *cfg, size_t n, size_t C, size_t S, bg_err_t *err)
{
    (void)n;
    if (cfg->k == 0 || cfg->k > C)
        return bg_err_keyed(err, "partition.k", bg_err_set(err, BG_EINVAL, NULL, 0,
                          "shards k = %zu classes per worker is not allowed: it must be 1 .. %zu (n_classes)",
                          cfg->k, C));
    if (cfg->k * S < C)
        return bg_err_keyed(err, "partition.k", bg_err_set(err, BG_EINVAL, NULL, 0,
                          "shards k = %zu over %zu workers holds only %zu of %zu classes: k must be at least %zu "
                          "so every sample is used", cfg->k, S, cfg->k * S, C, (C + S - 1) / S));
    return BG_OK;
}

static int check_iid(const bg_partition_cfg_t *cfg, size_t n, size_t C, size_t S, bg_err_t *err)
{
    (void)n, (void)C, (void)S;
    if (!(cfg->size_sigma >= 0 && isfinite(cfg->size_sigma)))
        return bg_err_keyed(err, "partition.size_sigma", bg_err_set(err, BG_EINVAL, NULL, 0,
                          "size_sigma %g is not allowed: it must be a finite number >= 0 (0 = equal sizes)",
                          cfg->size_sigma));
    return BG_OK;
}

static int check_dirichlet(const bg_partition_cfg_t *cfg, size_t n, size_t C, size_t S, bg_err_t *err)
{
    (void)n, (void)C, (void)S;
    if (!(cfg->alpha > 0 && isfinite(cfg->alpha)))
        return bg_err_keyed(err, "partition.alpha",
                     bg_err_set(err, BG_EINVAL, NULL, 0, "dirichlet alpha %g is not allowed: it must be finite and > 0",
                          cfg->alpha));
    return BG_OK;
}

static int check_cifar_ref(const bg_partition_cfg_t *cfg, size_t n, size_t C, size_t S, bg_err_t *err)
{
    (void)cfg, (void)C;
    if (n / S / 2 == 0)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "cifar-ref needs at least 2 samples per worker: %zu samples over %zu workers", n, S);
    return BG_OK;
}

static const bg_partition_ops_t iid_ops = {
    "iid", "seeded equal shards; partition.size_sigma > 0 gives lognormal unequal sizes", 0, check_iid, part_iid};
static const bg_partition_ops_t dirichlet_ops = {
    "dirichlet", "label skew: class proportions over workers ~ Dirichlet(partition.alpha)", 1, check_dirichlet,
    part_dirichlet};
static const bg_partition_ops_t shards_ops = {
    "shards", "partition.k classes per worker, each class split evenly among its holders", 1, check_shards,
    part_shards};
static const bg_partition_ops_t cifar_ref_ops = {
    "cifar-ref", "the reference code's CIFAR split: half one sorted class block, half IID", 1, check_cifar_ref,
    part_cifar_ref};
static const bg_partition_ops_t contiguous_ops = {
    "contiguous", "unshuffled contiguous blocks (synthetic data: worker g gets group g)", 0, NULL, part_contiguous};

const bg_partition_ops_t *const bg_partition_registry[] = {&iid_ops, &dirichlet_ops, &shards_ops, &cifar_ref_ops,
                                                            &contiguous_ops, NULL};

BG_REGISTRY_DEFINE(bg_partitions, "partition", bg_partition_registry, bg_partition_ops_t, bg_partition_find)

int bg_partition(const bg_partition_cfg_t *cfg, const int *y, size_t n_samples, size_t n_classes, size_t n_shards,
                 gsl_rng *r, bg_shard_t *shards, bg_err_t *err)
{
    if (!cfg || !r || !shards)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "bg_partition: need a configuration, a generator and shards");
    const char *name = cfg->name;
    const bg_partition_ops_t *ops = bg_partition_find(name);
    if (!ops)
        return bg_err_keyed(err, "partition.name", bg_registry_unknown(&bg_partitions, name, err));
    if (n_shards == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "cannot partition over 0 workers: at least one is needed");
    size_t lo = cfg->min_size ? cfg->min_size : 1;
    if (n_samples < n_shards)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "cannot split %zu samples over %zu workers: every worker needs at least one sample",
                          n_samples, n_shards);
    if (lo > n_samples / n_shards)
        return bg_err_keyed(err, "partition.min_size", bg_err_set(err, BG_ERANGE, NULL, 0,
                          "min_size %zu is too large: %zu samples over %zu workers allow at most %zu per worker",
                          lo, n_samples, n_shards, n_samples / n_shards));
    if (ops->labels) {
        if (!y || n_classes == 0)
            return bg_err_set(err, BG_EINVAL, NULL, 0, "partition '%s' needs labels and at least one class", name);
        for (size_t i = 0; i < n_samples; i++)
            if (y[i] < 0 || (size_t)y[i] >= n_classes)
                return bg_err_set(err, BG_EINVAL, NULL, 0,
                                  "sample %zu has label %d: labels must be 0 .. %zu", i, y[i], n_classes - 1);
    }
    int rc;
    if (ops->check && (rc = ops->check(cfg, n_samples, n_classes, n_shards, err)))
        return rc;

    size_t *owner = malloc(n_samples * sizeof *owner), *size = calloc(n_shards, sizeof *size);
    if (!owner || !size) {
        free(owner);
        free(size);
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory partitioning %zu samples", n_samples);
    }
    for (size_t i = 0; i < n_samples; i++)
        owner[i] = UNASSIGNED;
    rc = ops->assign(cfg, y, n_samples, n_classes, n_shards, lo, r, owner, err);
    if (rc == BG_ENOMEM)
        bg_err_set(err, rc, NULL, 0, "out of memory partitioning %zu samples", n_samples);
    if (rc)
        goto done;

    for (size_t i = 0; i < n_samples; i++)
        if (owner[i] != UNASSIGNED)
            size[owner[i]]++;
    for (size_t s = 0; s < n_shards; s++)
        if (size[s] < lo) {
            rc = bg_err_set(err, BG_ERANGE, NULL, 0,
                            "partition '%s' gives worker %zu only %zu samples: every worker needs at least %zu "
                            "(min_size)", name, s, size[s], lo);
            goto done;
        }
    for (size_t s = 0; s < n_shards; s++) {
        shards[s].n = 0;
        shards[s].idx = malloc(size[s] * sizeof *shards[s].idx);
        if (!shards[s].idx) {
            for (size_t k = 0; k <= s; k++)
                bg_shard_destroy(&shards[k]);
            rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for worker %zu's %zu indices", s, size[s]);
            goto done;
        }
    }
    /* Scanning samples in order leaves every shard sorted ascending. */
    for (size_t i = 0; i < n_samples; i++)
        if (owner[i] != UNASSIGNED) {
            bg_shard_t *sh = &shards[owner[i]];
            sh->idx[sh->n++] = i;
        }
done:
    free(owner);
    free(size);
    return rc;
}
