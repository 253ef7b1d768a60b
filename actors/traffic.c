/* Background traffic: traffic.flows parsed into flows (traffic.h); the actors that run them are in sim.c. */
#include "traffic.h"

#include "bg_platform.h"
#include "bg_scenario.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BG_MAX_FLOWS 10000

/* Bytes with a unit: SimGrid's bandwidth units without the "ps" (5MB, 64KiB, 8Mb). */
static int parse_size(const char *t, double *out, char *why, size_t len)
{
    char buf[160];
    if (strlen(t) + 3 > sizeof buf || !*t || (t[strlen(t) - 1] != 'B' && t[strlen(t) - 1] != 'b')) {
        snprintf(why, len, "a size with a unit ('%.60s': B, kB, MB, GB, KiB, MiB or bits kb, Mb, e.g. 5MB)", t);
        return -1;
    }
    snprintf(buf, sizeof buf, "%sps", t);
    if (bg_unit_parse(buf, BG_UNIT_BANDWIDTH, out, why, len)) {
        snprintf(why, len, "a size > 0 with a unit ('%.60s': B, kB, MB, GB, KiB, MiB or bits kb, Mb, e.g. 5MB)", t);
        return -1;
    }
    return 0;
}

static int fail(bg_err_t *err, size_t item, const char *text, const char *fmt, const char *what)
{
    char shown[90];
    snprintf(shown, sizeof shown, "%.80s%s", text, strlen(text) > 80 ? "..." : "");
    bg_err_set(err, BG_EINVAL, NULL, 0, "traffic.flows item %zu ('%s'): ", item + 1, shown);
    size_t l = strlen(err->msg);
    snprintf(err->msg + l, sizeof err->msg - l, fmt, what);
    bg_err_key(err, "traffic.flows");
    return BG_EINVAL;
}

static int parse_item(char *item, size_t k, bg_flows_t *out, bg_err_t *err)
{
    char text[1024], why[300];
    bg_trim(item, strlen(item), text, sizeof text);
    char orig[sizeof text];   /* the item as written, for messages (text is cut up below) */
    memcpy(orig, text, sizeof orig);
    const char *usage = "expected 'constant FROM -> TO RATE', 'periodic FROM -> TO SIZE every PERIOD' or 'poisson "
                        "FROM -> TO SIZE N/s', each optionally followed by 'at T'%s";
    char *arrow = strstr(text, "->");
    if (!arrow)
        return fail(err, k, orig, usage, "");
    /* kind and FROM before the arrow, TO and the parameters after it */
    *arrow = '\0';
    char head[512], tail[512];
    bg_trim(text, strlen(text), head, sizeof head);
    bg_trim(arrow + 2, strlen(arrow + 2), tail, sizeof tail);
    char *sp = head + strcspn(head, " \t");
    if (!*sp)
        return fail(err, k, orig, usage, "");
    *sp++ = '\0';
    bg_flow_t f = {.item = k};
    if (!strcmp(head, "constant"))
        f.kind = BG_FLOW_CONSTANT;
    else if (!strcmp(head, "periodic"))
        f.kind = BG_FLOW_PERIODIC;
    else if (!strcmp(head, "poisson"))
        f.kind = BG_FLOW_POISSON;
    else
        return fail(err, k, head, "unknown kind '%s' (constant, periodic or poisson)", head);
    char from[512];
    bg_trim(sp, strlen(sp), from, sizeof from);
    /* TO is the first word after the arrow (a list has no blanks after its commas here: w0..w3,server) */
    char *words[8];
    size_t nw = 0;
    char *save = NULL;
    for (char *w = strtok_r(tail, " \t", &save); w && nw < 8; w = strtok_r(NULL, " \t", &save))
        words[nw++] = w;
    if (nw >= 2 && !strcmp(words[nw - 2], "at")) {
        if (bg_unit_parse(words[nw - 1], BG_UNIT_TIME, &f.start, why, sizeof why))
            return fail(err, k, words[nw - 1], "'at' takes %s", why);
        nw -= 2;
    }
    const size_t want = f.kind == BG_FLOW_CONSTANT ? 2 : f.kind == BG_FLOW_PERIODIC ? 4 : 3;
    if (nw != want || (f.kind == BG_FLOW_PERIODIC && strcmp(words[2], "every")))
        return fail(err, k, orig, usage, "");
    if (f.kind == BG_FLOW_CONSTANT) {
        if (bg_unit_parse(words[1], BG_UNIT_BANDWIDTH, &f.rate, why, sizeof why))
            return fail(err, k, words[1], "the rate needs %s", why);
    } else if (parse_size(words[1], &f.size, why, sizeof why)) {
        return fail(err, k, words[1], "the size needs %s", why);
    }
    if (f.kind == BG_FLOW_PERIODIC &&
        (bg_unit_parse(words[3], BG_UNIT_TIME, &f.period, why, sizeof why) || !(f.period > 0)))
        return fail(err, k, words[3], "'every' takes a time > 0 (%s)", "30s, 500ms");
    if (f.kind == BG_FLOW_POISSON) {
        char *end;
        f.lambda = strtod(words[2], &end);
        if (end == words[2] || strcmp(end, "/s") || !isfinite(f.lambda) || !(f.lambda > 0))
            return fail(err, k, words[2], "the arrival rate is a number > 0 of transfers per second: %s", "0.5/s");
    }
    char(*src)[BG_MAX_HOSTNAME] = NULL, (*dst)[BG_MAX_HOSTNAME] = NULL;
    size_t ns = 0, nd = 0;
    if (bg_host_list(from, "traffic.flows (FROM)", &src, &ns, err) ||
        bg_host_list(words[0], "traffic.flows (TO)", &dst, &nd, err)) {
        free(src);
        bg_err_key(err, "traffic.flows");
        return BG_EINVAL;
    }
    int rc = BG_OK;
    for (size_t a = 0; a < ns && !rc; a++)
        for (size_t b = 0; b < nd && !rc; b++) {
            if (!strcmp(src[a], dst[b]))
                continue;
            if (out->n >= BG_MAX_FLOWS) {
                rc = fail(err, k, orig, "more than %s flows in all (each FROM host to each TO host is one)", "10,000");
                break;
            }
            bg_flow_t *v = realloc(out->v, (out->n + 1) * sizeof *v);
            if (!v) {
                rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
                break;
            }
            out->v = v;
            out->v[out->n] = f;
            snprintf(out->v[out->n].from, sizeof f.from, "%s", src[a]);
            snprintf(out->v[out->n].to, sizeof f.to, "%s", dst[b]);
            out->n++;
        }
    free(src);
    free(dst);
    return rc;
}

int bg_flows_parse(const char *spec, bg_flows_t *out, bg_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(spec);
    char *copy = malloc(len + 1);
    if (!copy)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    memcpy(copy, spec, len + 1);
    int rc = BG_OK;
    size_t k = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ";", &save); item && !rc; item = strtok_r(NULL, ";", &save)) {
        char t[8];
        bg_trim(item, strlen(item), t, sizeof t);
        if (!t[0])
            continue;
        rc = parse_item(item, k++, out, err);
    }
    free(copy);
    if (rc)
        bg_flows_free(out);
    return rc;
}

void bg_flows_free(bg_flows_t *f)
{
    free(f->v);
    f->v = NULL;
    f->n = 0;
}
