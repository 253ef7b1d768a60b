/* Generated platforms: the [platform] keys become a SimGrid XML 4.1 file written as text (star, racks, sites,
 * fat-tree), with the profile files it names written next to it. Link names and routes are described in
 * platforms/README.md. */
#include "bg_platform.h"
#include "faults.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const topo_names[] = {"auto", "star", "racks", "sites", "fat-tree", "file"};

const char *bg_platform_topology_name(int t)
{
    return t >= 0 && t <= BG_TOPO_FILE ? topo_names[t] : "?";
}

int bg_platform_topology(const bg_platform_spec_t *p, const char *file)
{
    if (p->topology != BG_TOPO_AUTO)
        return p->topology;
    return file && file[0] ? BG_TOPO_FILE : BG_TOPO_STAR;
}

/* ---------------------------------------------------------------- ratio profiles */

typedef struct profile {
    size_t n;
    double *t, *v;     /* event times (s) and ratios */
    double period;     /* PERIODICITY, 0 = none */
} profile_t;

static void profile_free(profile_t *p)
{
    free(p->t);
    free(p->v);
    memset(p, 0, sizeof *p);
}

static int profile_add(profile_t *p, double t, double v)
{
    double *nt = realloc(p->t, (p->n + 1) * sizeof *nt);
    if (!nt)
        return -1;
    p->t = nt;
    double *nv = realloc(p->v, (p->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    p->v = nv;
    p->t[p->n] = t;
    p->v[p->n++] = v;
    return 0;
}

/* A user's profile of ratios: "time ratio" lines (times non-decreasing, ratios > 0), an optional "PERIODICITY p",
 * blank lines and # comments. */
static int profile_read(const char *path, const char *key, profile_t *p, bg_err_t *err)
{
    memset(p, 0, sizeof *p);
    FILE *f = fopen(path, "r");
    if (!f)
        return bg_err_keyed(err, key, bg_err_set(err, BG_EIO, NULL, 0, "%s: cannot open the profile %s: %s", key,
                                                 path, strerror(errno)));
    char line[512];
    long ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        char *s = line + strspn(line, " \t");
        if (!*s || *s == '\n' || *s == '#')
            continue;
        double a, b;
        char extra;
        if (sscanf(s, "PERIODICITY %lf %c", &a, &extra) == 1) {
            if (!(a > 0) || (p->n && a < p->t[p->n - 1])) {
                fclose(f);
                profile_free(p);
                return bg_err_keyed(err, key, bg_err_set(err, BG_EFORMAT, path, ln,
                                                         "%s: PERIODICITY must be > 0 and >= the last time", key));
            }
            p->period = a;
            continue;
        }
        if (sscanf(s, "%lf %lf %c", &a, &b, &extra) != 2 || !(a >= 0) || !(b > 0) || !isfinite(a) || !isfinite(b) ||
            (p->n && a < p->t[p->n - 1]) || p->period > 0) {
            fclose(f);
            profile_free(p);
            return bg_err_keyed(err, key, bg_err_set(err, BG_EFORMAT, path, ln,
                                                     "%s: expected 'time ratio' (time >= 0 and not decreasing, "
                                                     "ratio > 0) or 'PERIODICITY p' as the last line", key));
        }
        if (profile_add(p, a, b)) {
            fclose(f);
            profile_free(p);
            return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
        }
    }
    fclose(f);
    if (!p->n)
        return bg_err_keyed(err, key, bg_err_set(err, BG_EFORMAT, path, 0, "%s: the profile has no 'time ratio' line",
                                                 key));
    return BG_OK;
}

#define RANDOM_STEPS 64

/* The generated variability of worker i: periodic = a square wave (1 for half a period, 1 - amplitude for the
 * other half, repeating); random = a new level uniform in [1 - amplitude, 1] every period, 64 levels repeating. */
static int profile_generate(const bg_platform_spec_t *sp, uint64_t seed, unsigned stream, profile_t *p)
{
    memset(p, 0, sizeof *p);
    const double P = sp->variability_period, a = sp->variability_amplitude;
    if (sp->variability == BG_VAR_PERIODIC) {
        p->period = P;
        return profile_add(p, 0.0, 1.0) || profile_add(p, P / 2, 1.0 - a) ? BG_ENOMEM : BG_OK;
    }
    gsl_rng *r = bg_rng_stream(seed, BG_RNG_PLATFORM, stream);
    if (!r)
        return BG_ENOMEM;
    for (size_t k = 0; k < RANDOM_STEPS; k++)
        if (profile_add(p, (double)k * P, 1.0 - a * gsl_rng_uniform(r))) {
            gsl_rng_free(r);
            return BG_ENOMEM;
        }
    gsl_rng_free(r);
    p->period = RANDOM_STEPS * P;
    return BG_OK;
}

/* Write dir/name with the profile's ratios times scale. */
static int profile_write(const profile_t *p, double scale, const char *dir, const char *name, bg_err_t *err)
{
    if (!dir)
        return BG_OK;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = bg_fopen_write(path);
    if (!f)
        return bg_err_set(err, BG_EIO, path, 0, "cannot write the profile: %s", strerror(errno));
    char a[40], b[40];
    for (size_t k = 0; k < p->n; k++)
        fprintf(f, "%s %s\n", bg_exact_number(p->t[k], a, sizeof a), bg_exact_number(p->v[k] * scale, b, sizeof b));
    if (p->period > 0)
        fprintf(f, "PERIODICITY %s\n", bg_exact_number(p->period, a, sizeof a));
    if (fclose(f) != 0)
        return bg_err_set(err, BG_EIO, path, 0, "cannot write the profile");
    return BG_OK;
}

/* ---------------------------------------------------------------- the resolved values */

typedef char value_t[BG_PLAT_VALUE];

typedef struct gen {
    const bg_platform_spec_t *sp;
    size_t n;
    uint64_t seed;
    FILE *out;
    const char *dir;             /* profile folder (NULL: do not write them) */
    value_t *speed, *up, *down, *lat;
    double *bw_up, *bw_down;
    profile_t bw_prof, speed_prof;   /* from files or the periodic wave (shared by every worker) */
    int bw_var, speed_var;       /* which worker resources vary */
    bg_faults_t lf;              /* faults.links */
    unsigned char *lf_used;      /* lf.v[k] named a link that was written */
    int rc;                      /* first error of a state profile written by a void writer */
    bg_err_t *err;
} gen_t;

static int bad_value(bg_err_t *err, const char *key, const char *v, const char *why)
{
    char full[64];
    snprintf(full, sizeof full, "platform.%s", key);
    return bg_err_keyed(err, full, bg_err_set(err, BG_EINVAL, NULL, 0, "%s = '%s': expected %s", full, v, why));
}

static int expand(gen_t *g, const char *key, const char *spec, bg_unit_kind_t kind, unsigned stream, value_t *text,
                  double *val)
{
    char why[400];
    if (bg_value_expand(spec, kind, g->n, g->seed, stream, text, val, why, sizeof why))
        return bad_value(g->err, key, spec, why);
    return BG_OK;
}

/* One value (server, backbone, uplinks), checked. */
static int single(gen_t *g, const char *key, const char *v, bg_unit_kind_t kind)
{
    char why[400];
    double x;
    if (bg_unit_parse(v, kind, &x, why, sizeof why))
        return bad_value(g->err, key, v, why);
    return BG_OK;
}

static int resolve(gen_t *g)
{
    const bg_platform_spec_t *p = g->sp;
    const size_t n = g->n ? g->n : 1;
    g->speed = calloc(n, sizeof *g->speed);
    g->up = calloc(n, sizeof *g->up);
    g->down = calloc(n, sizeof *g->down);
    g->lat = calloc(n, sizeof *g->lat);
    g->bw_up = calloc(n, sizeof *g->bw_up);
    g->bw_down = calloc(n, sizeof *g->bw_down);
    if (!g->speed || !g->up || !g->down || !g->lat || !g->bw_up || !g->bw_down)
        return bg_err_set(g->err, BG_ENOMEM, NULL, 0, "out of memory");
    int rc;
    if ((rc = expand(g, "worker_speed", p->worker_speed, BG_UNIT_SPEED, 1, g->speed, NULL)) ||
        (rc = expand(g, "worker_lat", p->worker_lat, BG_UNIT_TIME, 5, g->lat, NULL)) ||
        (rc = expand(g, "worker_bw", p->worker_bw, BG_UNIT_BANDWIDTH, 2, g->up, g->bw_up)))
        return rc;
    memcpy(g->down, g->up, n * sizeof *g->up);
    memcpy(g->bw_down, g->bw_up, n * sizeof *g->bw_up);
    if (p->worker_bw_up[0] &&
        (rc = expand(g, "worker_bw_up", p->worker_bw_up, BG_UNIT_BANDWIDTH, 3, g->up, g->bw_up)))
        return rc;
    if (p->worker_bw_down[0] &&
        (rc = expand(g, "worker_bw_down", p->worker_bw_down, BG_UNIT_BANDWIDTH, 4, g->down, g->bw_down)))
        return rc;
    if ((rc = single(g, "server_speed", p->server_speed, BG_UNIT_SPEED)) ||
        (rc = single(g, "server_bw", p->server_bw, BG_UNIT_BANDWIDTH)) ||
        (rc = single(g, "server_lat", p->server_lat, BG_UNIT_TIME)) ||
        (rc = single(g, "backbone_bw", p->backbone_bw, BG_UNIT_BANDWIDTH)) ||
        (rc = single(g, "backbone_lat", p->backbone_lat, BG_UNIT_TIME)) ||
        (rc = single(g, "rack_uplink_bw", p->rack_uplink_bw, BG_UNIT_BANDWIDTH)) ||
        (rc = single(g, "rack_uplink_lat", p->rack_uplink_lat, BG_UNIT_TIME)) ||
        (rc = single(g, "wan_bw", p->wan_bw, BG_UNIT_BANDWIDTH)) ||
        (rc = single(g, "wan_lat", p->wan_lat, BG_UNIT_TIME)))
        return rc;
    if ((rc = bg_faults_parse(p->link_faults, "faults.links", &g->lf, g->err)))
        return rc;
    if (!(g->lf_used = calloc(g->lf.n ? g->lf.n : 1, 1)))
        return bg_err_set(g->err, BG_ENOMEM, NULL, 0, "out of memory");
    /* Variability: a profile file wins over the generated one for its resource. */
    if (p->bw_profile[0]) {
        if ((rc = profile_read(p->bw_profile, "platform.worker_bw_profile", &g->bw_prof, g->err)))
            return rc;
        g->bw_var = 1;
    }
    if (p->speed_profile[0]) {
        if ((rc = profile_read(p->speed_profile, "platform.worker_speed_profile", &g->speed_prof, g->err)))
            return rc;
        g->speed_var = 1;
    }
    if (p->variability != BG_VAR_NONE) {
        if (!g->bw_var && (p->variability_on & BG_VAR_BW))
            g->bw_var = 2;
        if (!g->speed_var && (p->variability_on & BG_VAR_SPEED))
            g->speed_var = 2;
        if (p->variability == BG_VAR_PERIODIC) {
            if (g->bw_var == 2 && profile_generate(p, g->seed, 0, &g->bw_prof))
                return bg_err_set(g->err, BG_ENOMEM, NULL, 0, "out of memory");
            if (g->speed_var == 2 && profile_generate(p, g->seed, 0, &g->speed_prof))
                return bg_err_set(g->err, BG_ENOMEM, NULL, 0, "out of memory");
        }
    }
    return BG_OK;
}

static void gen_free(gen_t *g)
{
    free(g->speed);
    free(g->up);
    free(g->down);
    free(g->lat);
    free(g->bw_up);
    free(g->bw_down);
    profile_free(&g->bw_prof);
    profile_free(&g->speed_prof);
    bg_faults_free(&g->lf);
    free(g->lf_used);
}

/* Random variability draws one profile per worker resource: streams 100 + 3i (bw up), + 1 (bw down), + 2 (speed). */
static int worker_profile(gen_t *g, size_t i, int which, double scale, const char *name)
{
    const int var = which == 2 ? g->speed_var : g->bw_var;
    const profile_t *shared = which == 2 ? &g->speed_prof : &g->bw_prof;
    if (var == 2 && g->sp->variability == BG_VAR_RANDOM) {
        profile_t p;
        if (profile_generate(g->sp, g->seed, 100 + 3 * (unsigned)i + (unsigned)which, &p))
            return bg_err_set(g->err, BG_ENOMEM, NULL, 0, "out of memory");
        int rc = profile_write(&p, scale, g->dir, name, g->err);
        profile_free(&p);
        return rc;
    }
    return profile_write(shared, scale, g->dir, name, g->err);
}

/* ---------------------------------------------------------------- XML */

static void host(gen_t *g, const char *ind, const char *id, const char *speed, const char *speed_file)
{
    fprintf(g->out, "%s<host id=\"%s\" speed=\"%s\"%s%s%s/>\n", ind, id, speed, speed_file ? " speed_file=\"" : "",
            speed_file ? speed_file : "", speed_file ? "\"" : "");
}

/* End a <link> element opened by the caller: with energy.link_idle_w or link_busy_w set, it gets the property
 * wattage_range = "idle:busy" that SimGrid's link energy plugin reads (SimGrid 3.32's C API cannot set a link's
 * properties, and its <backbone> and <cluster> tags give links none). */
static int powered(const gen_t *g)
{
    return g->sp->link_idle_w != 0 || g->sp->link_busy_w != 0;
}

static void link_end(gen_t *g, const char *ind)
{
    const bg_platform_spec_t *p = g->sp;
    if (!powered(g)) {
        fprintf(g->out, "/>\n");
        return;
    }
    char idle[32], busy[32];
    fprintf(g->out, ">\n%s  <prop id=\"wattage_range\" value=\"%s:%s\"/>\n%s</link>\n", ind,
            bg_exact_number(p->link_idle_w, idle, sizeof idle), bg_exact_number(p->link_busy_w, busy, sizeof busy),
            ind);
}

/* Whether the full-duplex link id is written as two plain links id_UP and id_DOWN rather than one SPLITDUPLEX
 * link: with link powers (see duplex()), or when faults.links names it or one of its directions (SimGrid 3.32
 * aborts, "Unknown event!", when a SPLITDUPLEX link has a state profile). */
static int as_pair(const gen_t *g, const char *id)
{
    if (powered(g))
        return 1;
    const size_t l = strlen(id);
    for (size_t k = 0; k < g->lf.n; k++) {
        const char *name = g->lf.v[k].name;
        if (!strncmp(name, id, l) && (!name[l] || !strcmp(name + l, "_UP") || !strcmp(name + l, "_DOWN")))
            return 1;
    }
    return 0;
}

/* Write dir/name with the state profile's "time 0|1" lines (times as written in faults.links, in seconds). */
static int state_write(const profile_t *p, const char *dir, const char *name, bg_err_t *err)
{
    if (!dir)
        return BG_OK;
    char path[1400], t[40];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = bg_fopen_write(path);
    if (!f)
        return bg_err_set(err, BG_EIO, path, 0, "cannot write the state profile: %s", strerror(errno));
    for (size_t k = 0; k < p->n; k++)
        fprintf(f, "%s %d\n", bg_faults_time(p->t[k], t, sizeof t), p->v[k] > 0);
    if (fclose(f) != 0)
        return bg_err_set(err, BG_EIO, path, 0, "cannot write the state profile");
    return BG_OK;
}

/* The state_file attribute of link id ("" when faults.links names neither id nor base, the pair id belongs to),
 * its outages merged into the profile <id>.state: "0 1" (when up at first), "T1 0", "T2 1", ... One file per link:
 * SimGrid 3.32 refuses to read one profile file for two links. */
static const char *state_attr(gen_t *g, const char *id, const char *base, char *buf, size_t len)
{
    buf[0] = '\0';
    profile_t p = {0};
    double d = 0, u = -1;   /* the outage being merged (u < 0: none yet) */
    int bad = 0;
    for (size_t k = 0; k <= g->lf.n && !bad; k++) {   /* lf.v is sorted by time; k == n flushes the last one */
        const bg_fault_t *f = k < g->lf.n ? &g->lf.v[k] : NULL;
        if (f && strcmp(f->name, id) && (!base || strcmp(f->name, base)))
            continue;
        if (f)
            g->lf_used[k] = 1;
        if (f && u >= 0 && f->down <= u) {   /* overlaps or touches the outage being merged (id and base) */
            u = fmax(u, f->up);
            continue;
        }
        if (u >= 0)
            bad = (p.n == 0 && d > 0 && profile_add(&p, 0.0, 1.0)) || profile_add(&p, d, 0.0) ||
                  (isfinite(u) && profile_add(&p, u, 1.0));
        if (f)
            d = f->down, u = f->up;
    }
    if (bad) {
        profile_free(&p);
        if (!g->rc)
            g->rc = bg_err_set(g->err, BG_ENOMEM, NULL, 0, "out of memory");
        return buf;
    }
    if (!p.n)
        return buf;
    char name[160];
    snprintf(name, sizeof name, "%s.state", id);
    int rc = state_write(&p, g->dir, name, g->err);
    if (rc && !g->rc)
        g->rc = rc;
    profile_free(&p);
    snprintf(buf, len, " state_file=\"%s\"", name);
    return buf;
}

/* A full-duplex link id: one SPLITDUPLEX link (SimGrid makes id_UP and id_DOWN), or with link powers two plain
 * links id_UP and id_DOWN, because SimGrid 3.32 keeps a SPLITDUPLEX link's properties on the pair, where the
 * energy plugin never looks, not on its two halves. Same capacities and routes either way. */
static void duplex(gen_t *g, const char *ind, const char *id, const char *bw, const char *lat)
{
    if (!as_pair(g, id)) {
        fprintf(g->out, "%s<link id=\"%s\" bandwidth=\"%s\" latency=\"%s\" sharing_policy=\"SPLITDUPLEX\"/>\n", ind, id,
                bw, lat);
        return;
    }
    for (int d = 0; d < 2; d++) {
        char half[160], st[200];
        snprintf(half, sizeof half, "%s_%s", id, d ? "DOWN" : "UP");
        fprintf(g->out, "%s<link id=\"%s\" bandwidth=\"%s\" latency=\"%s\"%s", ind, half, bw, lat,
                state_attr(g, half, id, st, sizeof st));
        link_end(g, ind);
    }
}

/* Worker i: host w<i>, its access link l_w<i> (SPLITDUPLEX when both directions have the same bandwidth, else,
 * or with link powers or outages (as_pair()), two links l_w<i>_UP and l_w<i>_DOWN), with their profiles. */
static int worker(gen_t *g, const char *ind, size_t i)
{
    char id[32], lid[40], sfile[64] = "", f_up[64] = "", f_down[64] = "";
    snprintf(id, sizeof id, "w%zu", i);
    snprintf(lid, sizeof lid, "l_w%zu", i);
    int rc;
    if (g->speed_var) {
        if (g->speed_var == 2 && g->sp->variability == BG_VAR_RANDOM) {
            snprintf(sfile, sizeof sfile, "w%zu.speed", i);
            if ((rc = worker_profile(g, i, 2, 1.0, sfile)))
                return rc;
        } else {
            snprintf(sfile, sizeof sfile, "workers.speed");   /* written once, by bg_platform_write */
        }
    }
    host(g, ind, id, g->speed[i], sfile[0] ? sfile : NULL);
    /* Both directions alike: one SPLITDUPLEX link (two plain ones with link powers, see duplex()), one profile. */
    /* Two links never share a profile file (SimGrid 3.32 refuses to read one twice); alike links get alike
     * profiles (the up stream for both). */
    const int same = !strcmp(g->up[i], g->down[i]) && g->bw_up[i] == g->bw_down[i], split = same && !as_pair(g, lid);
    if (g->bw_var) {
        snprintf(f_up, sizeof f_up, split ? "l_%s.bw" : "l_%s_UP.bw", id);
        snprintf(f_down, sizeof f_down, split ? "l_%s.bw" : "l_%s_DOWN.bw", id);
        if ((rc = worker_profile(g, i, 0, g->bw_up[i], f_up)) ||
            (!split && (rc = worker_profile(g, i, same ? 0 : 1, g->bw_down[i], f_down))))
            return rc;
    }
    char st_up[200], st_down[200], up_id[48], down_id[48];
    snprintf(up_id, sizeof up_id, "%s_UP", lid);
    snprintf(down_id, sizeof down_id, "%s_DOWN", lid);
    if (split) {
        fprintf(g->out, "%s<link id=\"l_%s\" bandwidth=\"%s\" latency=\"%s\" sharing_policy=\"SPLITDUPLEX\"%s%s%s", ind,
                id, g->up[i], g->lat[i], f_up[0] ? " bandwidth_file=\"" : "", f_up, f_up[0] ? "\"" : "");
        link_end(g, ind);
    } else {
        fprintf(g->out, "%s<link id=\"l_%s_UP\" bandwidth=\"%s\" latency=\"%s\"%s%s%s%s", ind, id, g->up[i], g->lat[i],
                f_up[0] ? " bandwidth_file=\"" : "", f_up, f_up[0] ? "\"" : "", state_attr(g, up_id, lid, st_up, sizeof st_up));
        link_end(g, ind);
        fprintf(g->out, "%s<link id=\"l_%s_DOWN\" bandwidth=\"%s\" latency=\"%s\"%s%s%s%s", ind, id, g->down[i],
                g->lat[i], f_down[0] ? " bandwidth_file=\"" : "", f_down, f_down[0] ? "\"" : "",
                state_attr(g, down_id, lid, st_down, sizeof st_down));
        link_end(g, ind);
    }
    fprintf(g->out, "%s<host_link id=\"%s\" up=\"l_%s_UP\" down=\"l_%s_DOWN\"/>\n", ind, id, id, id);
    return BG_OK;
}

static void server(gen_t *g, const char *ind)
{
    const bg_platform_spec_t *p = g->sp;
    host(g, ind, "server", p->server_speed, NULL);
    duplex(g, ind, "l_server", p->server_bw, p->server_lat);
    fprintf(g->out, "%s<host_link id=\"server\" up=\"l_server_UP\" down=\"l_server_DOWN\"/>\n", ind);
}

static int gen_star(gen_t *g)
{
    fprintf(g->out, "  <zone id=\"star\" routing=\"Cluster\">\n");
    server(g, "    ");
    for (size_t i = 0; i < g->n; i++) {
        int rc = worker(g, "    ", i);
        if (rc)
            return rc;
    }
    fprintf(g->out, "    <backbone id=\"bb\" bandwidth=\"%s\" latency=\"%s\"/>\n", g->sp->backbone_bw,
            g->sp->backbone_lat);
    fprintf(g->out, "  </zone>\n");
    return BG_OK;
}

/* One-way route between child zones a and b of the root (gateways ga, gb: hosts inside them): links[k] with its
 * direction (NULL: a plain link). */
static void zone_route(gen_t *g, const char *a, const char *ga, const char *b, const char *gb,
                       const char *const *links, const char *const *dirs, size_t nl)
{
    fprintf(g->out, "    <zoneRoute src=\"%s\" dst=\"%s\" gw_src=\"%s\" gw_dst=\"%s\" symmetrical=\"NO\">\n", a, b, ga,
            gb);
    for (size_t k = 0; k < nl; k++) {
        if (dirs[k])
            fprintf(g->out, "      <link_ctn id=\"%s\" direction=\"%s\"/>\n", links[k], dirs[k]);
        else
            fprintf(g->out, "      <link_ctn id=\"%s\"/>\n", links[k]);
    }
    fprintf(g->out, "    </zoneRoute>\n");
}

/* A gateway host of a child zone (SimGrid 3.32's XML Cluster zones give a <router> no route, so a host stands in
 * for the switch; it runs nothing): traffic entering the zone takes link `in`, leaving it link `out`. */
static void gateway(gen_t *g, const char *id, const char *in, const char *out, const char *bw, const char *lat)
{
    char st[200];
    fprintf(g->out, "      <host id=\"%s\" speed=\"1f\"/>\n", id);
    fprintf(g->out, "      <link id=\"%s\" bandwidth=\"%s\" latency=\"%s\"%s", in, bw, lat,
            state_attr(g, in, NULL, st, sizeof st));
    link_end(g, "      ");
    fprintf(g->out, "      <link id=\"%s\" bandwidth=\"%s\" latency=\"%s\"%s", out, bw, lat,
            state_attr(g, out, NULL, st, sizeof st));
    link_end(g, "      ");
    fprintf(g->out, "      <host_link id=\"%s\" up=\"%s\" down=\"%s\"/>\n", id, in, out);
}

/* The server alone in zone "core", its own gateway; its access link l_server and the backbone bb are declared in
 * the root zone and named by the routes out of the core. */
static void core_zone(gen_t *g, int with_bb)
{
    const bg_platform_spec_t *p = g->sp;
    fprintf(g->out, "    <zone id=\"core\" routing=\"Cluster\">\n");
    host(g, "      ", "server", p->server_speed, NULL);
    fprintf(g->out, "    </zone>\n");
    duplex(g, "    ", "l_server", p->server_bw, p->server_lat);
    if (with_bb) {
        char st[200];
        fprintf(g->out, "    <link id=\"bb\" bandwidth=\"%s\" latency=\"%s\"%s", p->backbone_bw, p->backbone_lat,
                state_attr(g, "bb", NULL, st, sizeof st));
        link_end(g, "    ");
    }
}

/* The two routes between the core and zone z (gateway gz): server -> l_server_UP, bb -> z; z -> bb,
 * l_server_DOWN -> server. */
static void core_routes(gen_t *g, const char *z, const char *gz)
{
    const int pw = as_pair(g, "l_server");   /* two plain links l_server_UP / _DOWN instead of one SPLITDUPLEX */
    const char *out[] = {pw ? "l_server_UP" : "l_server", "bb"}, *out_dir[] = {pw ? NULL : "UP", NULL};
    const char *in[] = {"bb", pw ? "l_server_DOWN" : "l_server"}, *in_dir[] = {NULL, pw ? NULL : "DOWN"};
    zone_route(g, "core", "server", z, gz, out, out_dir, 2);
    zone_route(g, z, gz, "core", "server", in, in_dir, 2);
}

/* racks: rack r = zone rack<r> with workers rR .. rR+R-1 and its top-of-rack switch rack<r>_tor, whose uplink is
 * rack<r>_down (core to rack) and rack<r>_up (rack to core). */
static int gen_racks(gen_t *g)
{
    const bg_platform_spec_t *p = g->sp;
    const size_t R = p->rack_size, racks = (g->n + R - 1) / R;
    fprintf(g->out, "  <zone id=\"racks\" routing=\"Full\">\n");
    core_zone(g, 1);
    for (size_t r = 0; r < racks; r++) {
        char tor[32], in[32], out[32];
        snprintf(tor, sizeof tor, "rack%zu_tor", r);
        snprintf(in, sizeof in, "rack%zu_down", r);
        snprintf(out, sizeof out, "rack%zu_up", r);
        fprintf(g->out, "    <zone id=\"rack%zu\" routing=\"Cluster\">\n", r);
        gateway(g, tor, in, out, p->rack_uplink_bw, p->rack_uplink_lat);
        for (size_t i = r * R; i < g->n && i < (r + 1) * R; i++) {
            int rc = worker(g, "      ", i);
            if (rc)
                return rc;
        }
        fprintf(g->out, "    </zone>\n");
    }
    for (size_t r = 0; r < racks; r++) {
        char zone[32], tor[32];
        snprintf(zone, sizeof zone, "rack%zu", r);
        snprintf(tor, sizeof tor, "rack%zu_tor", r);
        core_routes(g, zone, tor);
    }
    fprintf(g->out, "  </zone>\n");
    return BG_OK;
}

/* sites: site s = zone site<s> holding workers i with i * sites / n == s (and the server in site server_site) on
 * the LAN backbone site<s>_lan; its gateway site<s>_gw reaches the LAN only (both its host links are site<s>_lan,
 * which a route then crosses once); the WAN link wan<s> (SPLITDUPLEX) joins the site to the others. */
static int gen_sites(gen_t *g)
{
    const bg_platform_spec_t *p = g->sp;
    const size_t k = p->sites;
    fprintf(g->out, "  <zone id=\"sites\" routing=\"Full\">\n");
    size_t i = 0;
    for (size_t s = 0; s < k; s++) {
        fprintf(g->out, "    <zone id=\"site%zu\" routing=\"Cluster\">\n", s);
        fprintf(g->out, "      <host id=\"site%zu_gw\" speed=\"1f\"/>\n", s);
        fprintf(g->out, "      <host_link id=\"site%zu_gw\" up=\"site%zu_lan\" down=\"site%zu_lan\"/>\n", s, s, s);
        if (s == p->server_site)
            server(g, "      ");
        for (; i < g->n && i * k / g->n == s; i++) {
            int rc = worker(g, "      ", i);
            if (rc)
                return rc;
        }
        fprintf(g->out, "      <backbone id=\"site%zu_lan\" bandwidth=\"%s\" latency=\"%s\"/>\n    </zone>\n", s,
                p->backbone_bw, p->backbone_lat);
    }
    for (size_t s = 0; s < k; s++)
    {
        char wan[32];
        snprintf(wan, sizeof wan, "wan%zu", s);
        duplex(g, "    ", wan, p->wan_bw, p->wan_lat);
    }
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            if (a == b)
                continue;
            char za[32], zb[32], ga[32], gb[32], la[32], lb[32];
            snprintf(za, sizeof za, "site%zu", a);
            snprintf(zb, sizeof zb, "site%zu", b);
            snprintf(ga, sizeof ga, "site%zu_gw", a);
            snprintf(gb, sizeof gb, "site%zu_gw", b);
            snprintf(la, sizeof la, "wan%zu", a);
            snprintf(lb, sizeof lb, "wan%zu", b);
            const int pa = as_pair(g, la), pb = as_pair(g, lb);   /* see duplex() */
            snprintf(la, sizeof la, pa ? "wan%zu_UP" : "wan%zu", a);
            snprintf(lb, sizeof lb, pb ? "wan%zu_DOWN" : "wan%zu", b);
            const char *links[] = {la, lb}, *dirs[] = {pa ? NULL : "UP", pb ? NULL : "DOWN"};
            zone_route(g, za, ga, zb, gb, links, dirs, 2);
        }
    fprintf(g->out, "  </zone>\n");
    return BG_OK;
}

/* fat-tree: SimGrid's cluster tag (one speed, bandwidth and latency for every leaf). Leaves w0..w{L-1}; the server
 * (zone "core") enters the tree at its last leaf w{L-1}, which runs no worker, through the backbone bb. */
static int gen_fat_tree(gen_t *g)
{
    const bg_platform_spec_t *p = g->sp;
    const char *uniform[][2] = {{"worker_speed", p->worker_speed}, {"worker_bw", p->worker_bw},
                                {"worker_lat", p->worker_lat}};
    for (size_t k = 0; k < 3; k++)
        if (strchr(uniform[k][1], ',') || strchr(uniform[k][1], '('))
            return bad_value(g->err, uniform[k][0], uniform[k][1],
                             "one value with topology = fat-tree (SimGrid's cluster tag gives every leaf the same "
                             "speed, bandwidth and latency; use star, racks or sites for heterogeneous workers)");
    if (p->worker_bw_up[0] || p->worker_bw_down[0])
        return bad_value(g->err, p->worker_bw_up[0] ? "worker_bw_up" : "worker_bw_down",
                         p->worker_bw_up[0] ? p->worker_bw_up : p->worker_bw_down,
                         "no asymmetric links with topology = fat-tree (use star, racks or sites)");
    if (g->bw_var || g->speed_var)
        return bad_value(g->err, "topology", "fat-tree",
                         "no variability or profiles with a fat-tree (SimGrid's cluster tag takes none)");
    /* topo_parameters "levels;downs;ups;counts": the leaves are the product of the downs. */
    char params[128];
    size_t leaves = 1;
    if (!strcmp(p->fat_tree, "auto")) {
        size_t k = 1;
        while (k * k < g->n + 1)
            k++;
        snprintf(params, sizeof params, "2;%zu,%zu;1,2;1,1", k, k);
        leaves = k * k;
    } else {
        snprintf(params, sizeof params, "%s", p->fat_tree);
        unsigned long levels;
        char *s = params, *end;
        levels = strtoul(s, &end, 10);
        int ok = end != s && *end == ';' && levels >= 1 && levels <= 16;
        for (unsigned long l = 0; ok && l < levels; l++) {
            s = end + 1;
            unsigned long d = strtoul(s, &end, 10);
            ok = end != s && d >= 1 && (*end == (l + 1 < levels ? ',' : ';'));
            leaves *= d;
        }
        for (int part = 0; ok && part < 2; part++)
            for (unsigned long l = 0; ok && l < levels; l++) {
                s = end + 1;
                unsigned long d = strtoul(s, &end, 10);
                ok = end != s && d >= 1 && (*end == (l + 1 < levels ? ',' : part ? '\0' : ';'));
            }
        if (!ok)
            return bad_value(g->err, "fat_tree", p->fat_tree,
                             "SimGrid's topo_parameters 'levels;downs;ups;counts', e.g. 2;4,4;1,2;1,2 (16 leaves), "
                             "or auto");
        snprintf(params, sizeof params, "%s", p->fat_tree);
        if (leaves < g->n + 1) {
            char why[200];
            snprintf(why, sizeof why, "at least workers.n + 1 = %zu leaves (it has %zu; the last leaf is the server's "
                                      "entry)", g->n + 1, leaves);
            return bad_value(g->err, "fat_tree", p->fat_tree, why);
        }
    }
    fprintf(g->out, "  <zone id=\"fattree\" routing=\"Full\">\n");
    core_zone(g, 1);
    fprintf(g->out, "    <cluster id=\"ft\" prefix=\"w\" suffix=\"\" radical=\"0-%zu\" speed=\"%s\" bw=\"%s\" lat=\"%s\" "
                    "topology=\"FAT_TREE\" topo_parameters=\"%s\" sharing_policy=\"SPLITDUPLEX\"/>\n",
            leaves - 1, g->speed[0], g->up[0], g->lat[0], params);
    char gw[32];
    snprintf(gw, sizeof gw, "w%zu", leaves - 1);
    core_routes(g, "ft", gw);
    fprintf(g->out, "  </zone>\n");
    return BG_OK;
}

int bg_platform_write(const bg_platform_spec_t *p, size_t n, uint64_t seed, FILE *out, const char *profile_dir,
                      bg_err_t *err)
{
    gen_t g = {.sp = p, .n = n, .seed = seed, .out = out, .dir = profile_dir, .err = err};
    int topo = bg_platform_topology(p, NULL);
    int rc = resolve(&g);
    if (!rc && p->topology == BG_TOPO_RACKS && p->rack_size == 0)
        rc = bad_value(err, "rack_size", "0", "at least 1 worker per rack");
    if (!rc && p->topology == BG_TOPO_SITES && p->server_site >= p->sites) {
        char v[32], why[64];
        snprintf(v, sizeof v, "%zu", p->server_site);
        snprintf(why, sizeof why, "a site number below platform.sites = %zu", p->sites);
        rc = bad_value(err, "server_site", v, why);
    }
    if (!rc && g.speed_var && !(g.speed_var == 2 && p->variability == BG_VAR_RANDOM))
        rc = profile_write(&g.speed_prof, 1.0, profile_dir, "workers.speed", err);
    if (rc) {
        gen_free(&g);
        return rc;
    }
    fprintf(out, "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n");
    fprintf(out, "<!-- byzgrid generated platform: topology %s, %zu workers, seed %llu. Server host 'server', workers "
                 "w0..w%zu. -->\n", bg_platform_topology_name(topo), n, (unsigned long long)seed, n ? n - 1 : 0);
    fprintf(out, "<platform version=\"4.1\">\n");
    switch (topo) {
    case BG_TOPO_RACKS:
        rc = gen_racks(&g);
        break;
    case BG_TOPO_SITES:
        rc = gen_sites(&g);
        break;
    case BG_TOPO_FAT_TREE:
        rc = gen_fat_tree(&g);
        break;
    default:
        rc = gen_star(&g);
    }
    fprintf(out, "</platform>\n");
    if (!rc)
        rc = g.rc;
    for (size_t k = 0; !rc && k < g.lf.n; k++)
        if (!g.lf_used[k])
            rc = bg_err_keyed(err, "faults.links",
                              bg_err_set(err, BG_EINVAL, NULL, 0, "faults.links: the generated %s platform has no link "
                                         "'%s' that can go down (l_w<i>, l_server; racks: rack<r>_up, rack<r>_down, "
                                         "bb; sites: wan<s>; fat-tree: bb; _UP or _DOWN after a pair's name for one "
                                         "direction; <backbone> tags and fat-tree's cluster links take no state "
                                         "profile)", bg_platform_topology_name(topo), g.lf.v[k].name));
    gen_free(&g);
    return rc;
}

/* ---------------------------------------------------------------- files */

static int copy_file(const char *from, const char *to, bg_err_t *err)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return bg_err_set(err, BG_EIO, from, 0, "cannot read the platform: %s", strerror(errno));
    FILE *out = bg_fopen_write(to);
    if (!out) {
        fclose(in);
        return bg_err_set(err, BG_EIO, to, 0, "cannot write the platform copy: %s", strerror(errno));
    }
    char buf[65536];
    size_t k;
    int bad = 0;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
        bad |= fwrite(buf, 1, k, out) != k;
    bad |= ferror(in);
    fclose(in);
    bad |= fclose(out) != 0;
    return bad ? bg_err_set(err, BG_EIO, to, 0, "cannot copy the platform %s", from) : BG_OK;
}

int bg_platform_prepare(const bg_platform_spec_t *p, const char *file, size_t n, uint64_t seed, const char *dir,
                        char *xml, size_t len, bg_err_t *err)
{
    if (bg_platform_topology(p, file) == BG_TOPO_FILE) {
        if (!file[0])
            return bg_err_keyed(err, "platform.file",
                                bg_err_set(err, BG_EINVAL, NULL, 0,
                                           "platform.topology = file needs platform.file (a SimGrid platform XML)"));
        if (access(file, R_OK) != 0)
            return bg_err_keyed(err, "platform.file", bg_err_set(err, BG_EIO, file, 0, "cannot read the platform: %s",
                                                                 strerror(errno)));
        snprintf(xml, len, "%s", file);   /* loaded where it is: its own profile files resolve next to it */
        if (!dir)
            return BG_OK;
        char copy[1400];
        snprintf(copy, sizeof copy, "%s/platform.xml", dir);
        return copy_file(file, copy, err);
    }
    snprintf(xml, len, "%s/platform.xml", dir);
    FILE *f = bg_fopen_write(xml);
    if (!f)
        return bg_err_set(err, BG_EIO, xml, 0, "cannot write the platform: %s", strerror(errno));
    int rc = bg_platform_write(p, n, seed, f, dir, err);
    if (fclose(f) != 0 && !rc)
        rc = bg_err_set(err, BG_EIO, xml, 0, "cannot write the platform");
    return rc;
}

void bg_platform_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
