/* Values of the [platform] keys: SimGrid's units (the same tables and the same arithmetic as SimGrid 3.32's
 * xbt_parse_units.cpp, so a value computed here is the double SimGrid computes from the same text), and per-worker
 * values: a constant, a list cycled over the workers, or a seeded distribution. */
#include "bg_platform.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

/* A unit: its name and the multiplier, computed as SimGrid does (base value times 1000 or 1024 per prefix step). */
static int unit_factor(const char *u, bg_unit_kind_t kind, double *f)
{
    static const char *const si[] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    static const char *const si_long[] = {"", "kilo", "mega", "giga", "tera", "peta", "exa", "zeta", "yotta"};
    if (kind == BG_UNIT_TIME) {
        static const struct { const char *u; double f; } t[] = {{"w", 7 * 24 * 60 * 60}, {"d", 24 * 60 * 60},
            {"h", 60 * 60}, {"m", 60}, {"s", 1.0}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}, {"ps", 1e-12}};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            if (!strcmp(u, t[i].u)) {
                *f = t[i].f;
                return 0;
            }
        return -1;
    }
    const char *bases[2];
    double base_val[2];
    size_t nb;
    if (kind == BG_UNIT_SPEED) {
        bases[0] = "f", base_val[0] = 1.0, nb = 1;
    } else {
        bases[0] = "bps", base_val[0] = 0.125, bases[1] = "Bps", base_val[1] = 1.0, nb = 2;
    }
    for (size_t b = 0; b < nb; b++) {
        size_t bl = strlen(bases[b]), ul = strlen(u);
        if (ul < bl || strcmp(u + ul - bl, bases[b]))
            continue;
        for (int table = 0; table < 2; table++) {
            const char *const *pre = table ? bin : si;
            if (kind == BG_UNIT_SPEED && table)
                continue;   /* SimGrid has no binary prefixes for speeds */
            double v = base_val[b];
            for (size_t p = 0; p < 9; p++) {
                if (strlen(pre[p]) == ul - bl && !strncmp(u, pre[p], ul - bl)) {
                    *f = v;
                    return 0;
                }
                v *= table ? 1024.0 : 1000.0;
            }
        }
    }
    if (kind == BG_UNIT_SPEED) {   /* "flops", "megaflops", ... */
        double v = 1.0;
        for (size_t p = 0; p < 9; p++, v *= 1000.0) {
            char name[32];
            snprintf(name, sizeof name, "%sflops", si_long[p]);
            if (!strcmp(u, name)) {
                *f = v;
                return 0;
            }
        }
    }
    return -1;
}

static const char *unit_help(bg_unit_kind_t kind)
{
    switch (kind) {
    case BG_UNIT_SPEED:
        return "speed units: f, kf, Mf, Gf, Tf (flop/s), e.g. 2Gf";
    case BG_UNIT_BANDWIDTH:
        return "bandwidth units, case-sensitive: bps (bits/s) or Bps (bytes/s) with k, M, G, T or Ki, Mi, Gi, e.g. "
               "10Mbps, 1MBps";
    default:
        return "time units: s, ms, us, ns (no µ), m, h, e.g. 5ms, 20us";
    }
}

int bg_unit_parse(const char *text, bg_unit_kind_t kind, double *out, char *why, size_t len)
{
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || isspace((unsigned char)text[0])) {
        snprintf(why, len, "a number with its unit ('%s' does not start with a number; %s)", text, unit_help(kind));
        return -1;
    }
    if (errno == ERANGE || !isfinite(x)) {
        snprintf(why, len, "a finite number ('%s' is out of range)", text);
        return -1;
    }
    if (!*end) {
        snprintf(why, len, "a unit after '%s' (%s)", text, unit_help(kind));
        return -1;
    }
    if (isspace((unsigned char)*end)) {
        snprintf(why, len, "no space between number and unit in '%s' (%s)", text, unit_help(kind));
        return -1;
    }
    double f;
    if (unit_factor(end, kind, &f)) {
        double g;
        const char *other = kind != BG_UNIT_TIME && !unit_factor(end, BG_UNIT_TIME, &g) ? " (that is a time unit)"
                          : kind != BG_UNIT_BANDWIDTH && !unit_factor(end, BG_UNIT_BANDWIDTH, &g)
                              ? " (that is a bandwidth unit)"
                          : kind != BG_UNIT_SPEED && !unit_factor(end, BG_UNIT_SPEED, &g) ? " (that is a speed unit)"
                                                                                            : "";
        snprintf(why, len, "a known unit: '%s' in '%s'%s is not one (%s)", end, text, other, unit_help(kind));
        return -1;
    }
    x *= f;
    if (!isfinite(x)) {   /* 1e300Gf: finite as written, not once in flop/s */
        snprintf(why, len, "a finite number ('%s' is out of range)", text);
        return -1;
    }
    if (kind == BG_UNIT_TIME ? x < 0 : !(x > 0)) {
        snprintf(why, len, "%s ('%s')", kind == BG_UNIT_TIME ? "a latency >= 0" : kind == BG_UNIT_SPEED ? "a speed > 0"
                                                                                                        : "a bandwidth > 0",
                 text);
        return -1;
    }
    *out = x;
    return 0;
}

const char *bg_exact_number(double x, char *buf, size_t len)
{
    if (!buf || !len)
        return "";
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return buf;
}

/* Copy s without surrounding blanks into buf. */
void bg_trim(const char *s, size_t n, char *buf, size_t len)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    snprintf(buf, len, "%.*s", (int)n, s);
}

typedef enum { DIST_NONE, DIST_UNIFORM, DIST_LOGUNIFORM, DIST_LOGNORMAL } dist_t;

/* "name(a, b)": which distribution and its two arguments (text); DIST_NONE when spec is no call. */
static int parse_call(const char *spec, dist_t *d, char *a, char *b, size_t len, char *why, size_t wlen)
{
    static const struct { const char *name; dist_t d; } dists[] = {
        {"uniform", DIST_UNIFORM}, {"loguniform", DIST_LOGUNIFORM}, {"lognormal", DIST_LOGNORMAL}};
    const char *open = strchr(spec, '(');
    *d = DIST_NONE;
    if (!open)
        return 0;
    char name[32];
    bg_trim(spec, (size_t)(open - spec), name, sizeof name);
    for (size_t i = 0; i < sizeof dists / sizeof dists[0]; i++)
        if (!strcmp(name, dists[i].name))
            *d = dists[i].d;
    const char *close = strrchr(spec, ')');
    const char *comma = strchr(open, ',');
    if (*d == DIST_NONE || !close || close[1] || !comma || comma > close) {
        snprintf(why, wlen, "a constant, a list (1Mbps, 5Mbps) or uniform(a, b), loguniform(a, b), "
                            "lognormal(median, sigma)");
        return -1;
    }
    bg_trim(open + 1, (size_t)(comma - open - 1), a, len);
    bg_trim(comma + 1, (size_t)(close - comma - 1), b, len);
    return 0;
}

/* The drawn values' parameters: lo/hi (uniform, loguniform) or median/sigma (lognormal). */
static int dist_params(dist_t d, const char *a, const char *b, bg_unit_kind_t kind, double *p0, double *p1,
                       char *why, size_t len)
{
    if (bg_unit_parse(a, kind, p0, why, len))
        return -1;
    if (d == DIST_LOGNORMAL) {
        char *end;
        *p1 = strtod(b, &end);
        if (end == b || *end || !(*p1 >= 0) || !isfinite(*p1)) {
            snprintf(why, len, "lognormal(median, sigma) with a plain sigma >= 0 ('%s')", b);
            return -1;
        }
        if (!(*p0 > 0)) {
            snprintf(why, len, "a median > 0 in lognormal(median, sigma)");
            return -1;
        }
        return 0;
    }
    if (bg_unit_parse(b, kind, p1, why, len))
        return -1;
    if (*p1 < *p0 || (d == DIST_LOGUNIFORM && !(*p0 > 0))) {
        snprintf(why, len, "%s(a, b) with %sa <= b", d == DIST_UNIFORM ? "uniform" : "loguniform",
                 d == DIST_LOGUNIFORM ? "0 < " : "");
        return -1;
    }
    return 0;
}

static const char *base_unit(bg_unit_kind_t kind)
{
    return kind == BG_UNIT_SPEED ? "f" : kind == BG_UNIT_BANDWIDTH ? "Bps" : "s";
}

int bg_value_expand(const char *spec, bg_unit_kind_t kind, size_t n, uint64_t seed, unsigned stream,
                    char (*text)[BG_PLAT_VALUE], double *val, char *why, size_t len)
{
    dist_t d;
    char a[BG_PLAT_SPEC], b[BG_PLAT_SPEC];
    if (parse_call(spec, &d, a, b, sizeof a, why, len))
        return -1;
    if (d != DIST_NONE) {
        double p0, p1;
        if (dist_params(d, a, b, kind, &p0, &p1, why, len))
            return -1;
        gsl_rng *r = n ? bg_rng_stream(seed, BG_RNG_PLATFORM, stream) : NULL;
        if (n && !r) {
            snprintf(why, len, "memory for a random stream");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            double x = d == DIST_UNIFORM      ? p0 + (p1 - p0) * gsl_rng_uniform(r)
                     : d == DIST_LOGUNIFORM ? exp(log(p0) + (log(p1) - log(p0)) * gsl_rng_uniform(r))
                                            : p0 * exp(p1 * gsl_ran_ugaussian(r));
            if (kind != BG_UNIT_TIME && !(x > 0))
                x = p0;   /* cannot happen for valid parameters; keeps the platform loadable */
            char num[40];
            if (text)
                snprintf(text[i], BG_PLAT_VALUE, "%s%s", bg_exact_number(x, num, sizeof num), base_unit(kind));
            if (val)
                val[i] = x;
        }
        gsl_rng_free(r);
        return 0;
    }
    /* A list (one item: a constant), cycled over the workers. */
    size_t items = 0;
    for (const char *p = spec;; items++) {
        const char *c = strchr(p, ',');
        if (!c)
            break;
        p = c + 1;
    }
    items++;
    const char *p = spec;
    for (size_t k = 0; k < items; k++) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        char item[BG_PLAT_SPEC];
        bg_trim(p, l, item, sizeof item);
        double x;
        if (!item[0]) {
            snprintf(why, len, "a value%s (empty item in '%s')", items > 1 ? " per list item" : "", spec);
            return -1;
        }
        if (strlen(item) >= BG_PLAT_VALUE) {
            snprintf(why, len, "items shorter than %d characters", BG_PLAT_VALUE);
            return -1;
        }
        if (bg_unit_parse(item, kind, &x, why, len))
            return -1;
        for (size_t i = k; i < n; i += items) {
            if (text)
                snprintf(text[i], BG_PLAT_VALUE, "%s", item);
            if (val)
                val[i] = x;
        }
        p = c ? c + 1 : p + l;
    }
    return 0;
}

int bg_value_check(const char *spec, bg_unit_kind_t kind, char *why, size_t len)
{
    return bg_value_expand(spec, kind, 0, 0, 0, NULL, NULL, why, len);
}
