/* The [faults] section: outage lists (NAME@T, NAME@T1..T2) parsed and checked, and seeded MTBF/MTTR intervals.
 * SimGrid-free (the scenario reader and its fuzz harness use it); faults_check.c checks the names against the
 * loaded platform. */
#include "faults.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#define ITEM_HELP "items NAME@T or NAME@T1..T2 separated by commas, e.g. w3@120s, w7@300s..500s"


static int parse_time(const char *text, const char *item, double *t, char *why, size_t len)
{
    if (!text[0]) {
        snprintf(why, len, ITEM_HELP " ('%s' lacks a time)", item);
        return -1;
    }
    if (text[0] == '-') {
        snprintf(why, len, "times >= 0 ('%s')", item);
        return -1;
    }
    return bg_unit_parse(text, BG_UNIT_TIME, t, why, len);
}

/* One item "NAME@T" or "NAME@T1..T2" into f. */
static int parse_item(const char *item, bg_fault_t *f, char *why, size_t len)
{
    const char *at = strchr(item, '@');
    if (!at) {
        snprintf(why, len, ITEM_HELP " ('%s' has no @)", item);
        return -1;
    }
    char name[sizeof f->name + 1], times[256];   /* one more: a longer name is refused, not cut */
    bg_trim(item, (size_t)(at - item), name, sizeof name);
    bg_trim(at + 1, strlen(at + 1), times, sizeof times);
    if (!name[0] || strlen(name) >= sizeof f->name || strpbrk(name, " \t@")) {
        snprintf(why, len, ITEM_HELP " ('%s': %s)", item,
                 !name[0] ? "no name before @" : strchr(name, '@') ? "one @ per item" : strlen(name) >= sizeof f->name
                     ? "name too long" : "no blank inside a name");
        return -1;
    }
    memcpy(f->name, name, strlen(name) + 1);
    char *dots = strstr(times, "..");
    if (!dots) {
        f->up = INFINITY;
        return parse_time(times, item, &f->down, why, len);
    }
    *dots = '\0';
    char t1[256], t2[256];
    bg_trim(times, strlen(times), t1, sizeof t1);
    bg_trim(dots + 2, strlen(dots + 2), t2, sizeof t2);
    if (parse_time(t1, item, &f->down, why, len) || parse_time(t2, item, &f->up, why, len))
        return -1;
    if (!(f->up > f->down)) {
        snprintf(why, len, "T1 < T2 in '%s'", item);
        return -1;
    }
    return 0;
}

static int cmp_name_down(const void *pa, const void *pb)
{
    const bg_fault_t *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return (a->down > b->down) - (a->down < b->down);
}

static int cmp_down_name(const void *pa, const void *pb)
{
    const bg_fault_t *a = pa, *b = pb;
    if (a->down != b->down)
        return a->down < b->down ? -1 : 1;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return (a->up > b->up) - (a->up < b->up);
}

const char *bg_faults_time(double t, char *buf, size_t len)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, t);
        if (strtod(buf, NULL) == t && !strchr(buf, 'e'))
            return buf;
    }
    return bg_exact_number(t, buf, len);
}

/* "100s..300s" or "100s" (never up again), in seconds. */
static const char *interval(const bg_fault_t *f, char *buf, size_t len)
{
    char a[40], b[40];
    if (isinf(f->up))
        snprintf(buf, len, "%ss", bg_faults_time(f->down, a, sizeof a));
    else
        snprintf(buf, len, "%ss..%ss", bg_faults_time(f->down, a, sizeof a), bg_faults_time(f->up, b, sizeof b));
    return buf;
}

/* Parse spec into out; 0, -1 with why filled (bad value), or -2 (out of memory). */
static int parse(const char *spec, bg_faults_t *out, char *why, size_t len)
{
    out->v = NULL;
    out->n = 0;
    char all[256];
    bg_trim(spec, strlen(spec), all, sizeof all);
    if (!all[0])
        return 0;
    size_t items = 1;
    for (const char *p = spec; (p = strchr(p, ',')); p++)
        items++;
    out->v = calloc(items, sizeof *out->v);
    if (!out->v)
        return -2;
    const char *p = spec;
    for (size_t k = 0; k < items; k++) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        char item[512];
        bg_trim(p, l, item, sizeof item);
        if (!item[0]) {
            snprintf(why, len, ITEM_HELP " (an empty item)");
            bg_faults_free(out);
            return -1;
        }
        if (parse_item(item, &out->v[out->n], why, len)) {
            bg_faults_free(out);
            return -1;
        }
        out->n++;
        p = c ? c + 1 : p + l;
    }
    /* One name's intervals must be apart: sorted by name and time, each must end before the next begins. */
    qsort(out->v, out->n, sizeof *out->v, cmp_name_down);
    for (size_t k = 0; k + 1 < out->n; k++) {
        const bg_fault_t *a = &out->v[k], *b = &out->v[k + 1];
        if (!strcmp(a->name, b->name) && !(b->down > a->up)) {
            char ia[100], ib[100];
            snprintf(why, len, "intervals of one name that neither overlap nor touch (%s@%s and %s@%s; join them "
                               "into one)", a->name, interval(a, ia, sizeof ia), b->name, interval(b, ib, sizeof ib));
            bg_faults_free(out);
            return -1;
        }
    }
    qsort(out->v, out->n, sizeof *out->v, cmp_down_name);
    return 0;
}

int bg_faults_parse(const char *spec, const char *key, bg_faults_t *out, bg_err_t *err)
{
    char why[600];
    int rc = parse(spec ? spec : "", out, why, sizeof why);
    if (rc == -2)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    if (rc)
        return bg_err_keyed(err, key, bg_err_set(err, BG_EINVAL, NULL, 0, "%s = '%s': expected %s", key, spec, why));
    return BG_OK;
}

int bg_faults_check_spec(const char *spec, char *why, size_t len)
{
    bg_faults_t f;
    int rc = parse(spec, &f, why, len);
    if (rc == -2)
        snprintf(why, len, "a shorter list (out of memory)");
    bg_faults_free(&f);
    return rc ? -1 : 0;
}

void bg_faults_free(bg_faults_t *f)
{
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

gsl_rng *bg_faults_mtbf_rng(uint64_t seed, size_t i)
{
    return bg_rng_stream(seed, BG_RNG_FAULTS, (uint64_t)i);
}

void bg_faults_mtbf_next(gsl_rng *rng, double mtbf, double mttr, double t0, double *down, double *up)
{
    double d = t0 + gsl_ran_exponential(rng, mtbf);
    if (!(d > t0))
        d = nextafter(t0, INFINITY);   /* a draw of exactly 0: keep the interval strictly after t0 */
    double u = d + gsl_ran_exponential(rng, mttr);
    if (!(u > d))
        u = nextafter(d, INFINITY);
    *down = d;
    *up = u;
}
