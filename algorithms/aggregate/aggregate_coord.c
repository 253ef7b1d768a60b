/* Coordinate-wise aggregators: mean, median (cm), trimmed means (cwtm, tm) and MeaMed, each a thin rule over the
 * order-statistic kernels of aggregate_order.c. */
#include "aggregate_internal.h"

static int mean_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    (void)a;
    if (n == 0)
        return BG_EINVAL;
    bg_agg_mean_rows(in, n, d, out);
    return BG_OK;
}

static double mean_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    return (double)n * (double)d + (double)d;   /* n-1 adds and one divide per coordinate */
}

static int cm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    /* Even n: mean of the lower and upper medians (torch-free [S] definition). */
    return bg_agg_order_mean(in, n, d, (n - 1) / 2, n / 2, out);
}

static double cm_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    (void)a;
    /* A median selection costs about 3n comparisons per coordinate (quickselect's average), plus the
     * average of the two middle values. */
    return 3.0 * (double)n * (double)d + 2.0 * (double)d;
}

/* Trim per side as in [S] (cwtm.py): t = min(floor(n/2), ceil(n * f/n)) = f, lowered until a value
 * remains. */
static size_t cwtm_trim(size_t n, size_t f)
{
    size_t t = f < n / 2 ? f : n / 2;
    if (n - 2 * t == 0)
        t = (n - 1) / 2;
    return t;
}

/* [S] trimmed_mean.py: b = f per side, lowered until a value remains. It differs from cwtm only where cwtm
 * refuses: tm accepts f >= n/2 (it then trims to the median, as [S] does), cwtm requires f < n/2. cwtm is tm
 * behind that check, so for f < n/2 the two give the same bits. */
static int tm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    size_t t = cwtm_trim(n, a->f);
    if (t == 0) {
        bg_agg_mean_rows(in, n, d, out);
        return BG_OK;
    }
    return bg_agg_order_mean(in, n, d, t, n - 1 - t, out);
}

static int cwtm_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return tm_run(a, st, in, n, d, out);
}

static double cwtm_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    size_t t = n ? cwtm_trim(n, a->f) : 0;
    if (t == 0)
        return mean_flops(a, n, d);
    /* Two selections (~3n comparisons per coordinate together, as the second works on the remainder), then
     * the mean of the n - 2t kept values. */
    return 3.0 * (double)n * (double)d + (double)(n - 2 * t) * (double)d + (double)d;
}

static int meamed_run(const bg_agg_args_t *a, void *st, const float *const *in, size_t n, size_t d, float *out)
{
    (void)st;
    if (n == 0)
        return BG_EINVAL;
    if (2 * a->f >= n)
        return BG_ERANGE;
    return bg_agg_median_window(in, n, d, n - a->f, out);
}

static double meamed_flops(const bg_agg_args_t *a, size_t n, size_t d)
{
    return bg_agg_median_window_flops(n, n > a->f ? n - a->f : 1, d);
}

const bg_aggregator_ops_t bg_agg_mean_ops = {
    .name = "mean",
    .summary = "coordinate-wise mean (not robust)",
    .needs_honest_majority = 0,
    .run = mean_run,
    .flops = mean_flops,
};

const bg_aggregator_ops_t bg_agg_cm_ops = {
    .name = "cm",
    .summary = "coordinate-wise median (even n: mean of the two middle values)",
    .needs_honest_majority = 1,
    .run = cm_run,
    .flops = cm_flops,
};

const bg_aggregator_ops_t bg_agg_cwtm_ops = {
    .name = "cwtm",
    .summary = "coordinate-wise trimmed mean, f trimmed per side (requires f < n/2)",
    .needs_honest_majority = 1,
    .run = cwtm_run,
    .flops = cwtm_flops,
};

const bg_aggregator_ops_t bg_agg_tm_ops = {
    .name = "tm",
    .summary = "trimmed mean as [S] tm: f trimmed per side, lowered until a value remains (accepts f >= n/2)",
    .needs_honest_majority = 0,
    .run = tm_run,
    .flops = cwtm_flops,
};

const bg_aggregator_ops_t bg_agg_meamed_ops = {
    .name = "meamed",
    .summary = "mean around median: per coordinate, the mean of the n - f values nearest the median",
    .needs_honest_majority = 1,
    .run = meamed_run,
    .flops = meamed_flops,
};
