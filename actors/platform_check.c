/* Platform validation with libxml2 before SimGrid 3.32 reads the file: no network, no external entity or DTD loaded,
 * no entity declarations at all (SimGrid's own parser reads no internal DTD subset), and byzgrid's own DTD of the
 * platform format 4.1 (platform_dtd below, written from SimGrid's documentation of the format; see
 * docs/references.md). Then the checks a DTD cannot express, each one a case that made SimGrid abort when tried. */
#include "platform_check.h"
#include "sgxml.h"

#include "bg_platform.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlerror.h>

/* The elements and attributes byzgrid accepts: SimGrid 3.32's platform grammar without its deprecated or
 * deployment-only parts (include, storage, random, model_prop, trace, trace_connect, actor, process), and with link
 * latency required (3.32 fails on a <link> without one). A zone either holds zones (zone, cluster, peer, links and
 * zone routes) or hosts (host, cabinet, router, links and routes): that split is checked in walk(). */
static const char platform_dtd[] =
    "<!ELEMENT platform (config*, (zone|AS|cluster|cabinet|peer)*)>\n"
    "<!ATTLIST platform version CDATA #REQUIRED>\n"
    "<!ELEMENT config (prop*)>\n"
    "<!ATTLIST config id CDATA #IMPLIED>\n"
    "<!ELEMENT prop EMPTY>\n"
    "<!ATTLIST prop id CDATA #REQUIRED value CDATA #REQUIRED>\n"
    "<!ELEMENT zone (prop*, (zone|AS|cluster|cabinet|peer|host|router|link|backbone|host_link)*,"
    " (route|bypassRoute|zoneRoute|ASroute|bypassZoneRoute|bypassASroute)*)>\n"
    "<!ATTLIST zone id CDATA #REQUIRED routing CDATA #REQUIRED>\n"
    "<!ELEMENT AS (prop*, (zone|AS|cluster|cabinet|peer|host|router|link|backbone|host_link)*,"
    " (route|bypassRoute|zoneRoute|ASroute|bypassZoneRoute|bypassASroute)*)>\n"
    "<!ATTLIST AS id CDATA #REQUIRED routing CDATA #REQUIRED>\n"
    "<!ELEMENT host (prop|disk)*>\n"
    "<!ATTLIST host id CDATA #REQUIRED speed CDATA #REQUIRED core CDATA #IMPLIED speed_file CDATA #IMPLIED"
    " availability_file CDATA #IMPLIED state_file CDATA #IMPLIED coordinates CDATA #IMPLIED pstate CDATA #IMPLIED>\n"
    "<!ELEMENT disk (prop*)>\n"
    "<!ATTLIST disk id CDATA #IMPLIED read_bw CDATA #REQUIRED write_bw CDATA #REQUIRED>\n"
    "<!ELEMENT host_link EMPTY>\n"
    "<!ATTLIST host_link id CDATA #REQUIRED up CDATA #REQUIRED down CDATA #REQUIRED>\n"
    "<!ELEMENT cluster (prop*)>\n"
    "<!ATTLIST cluster id CDATA #REQUIRED prefix CDATA #REQUIRED suffix CDATA #REQUIRED radical CDATA #REQUIRED"
    " speed CDATA #REQUIRED core CDATA #IMPLIED bw CDATA #REQUIRED lat CDATA #REQUIRED"
    " sharing_policy (SHARED|SPLITDUPLEX|FULLDUPLEX|FATPIPE) #IMPLIED"
    " topology (FLAT|TORUS|FAT_TREE|DRAGONFLY) #IMPLIED topo_parameters CDATA #IMPLIED"
    " bb_bw CDATA #IMPLIED bb_lat CDATA #IMPLIED bb_sharing_policy (SHARED|FATPIPE) #IMPLIED"
    " router_id CDATA #IMPLIED limiter_link CDATA #IMPLIED loopback_bw CDATA #IMPLIED loopback_lat CDATA #IMPLIED>\n"
    "<!ELEMENT cabinet EMPTY>\n"
    "<!ATTLIST cabinet id CDATA #REQUIRED prefix CDATA #REQUIRED suffix CDATA #REQUIRED radical CDATA #REQUIRED"
    " speed CDATA #REQUIRED bw CDATA #REQUIRED lat CDATA #REQUIRED>\n"
    "<!ELEMENT peer EMPTY>\n"
    "<!ATTLIST peer id CDATA #REQUIRED speed CDATA #REQUIRED bw_in CDATA #REQUIRED bw_out CDATA #REQUIRED"
    " lat CDATA #IMPLIED coordinates CDATA #IMPLIED speed_file CDATA #IMPLIED availability_file CDATA #IMPLIED"
    " state_file CDATA #IMPLIED>\n"
    "<!ELEMENT router EMPTY>\n"
    "<!ATTLIST router id CDATA #REQUIRED coordinates CDATA #IMPLIED>\n"
    "<!ELEMENT backbone EMPTY>\n"
    "<!ATTLIST backbone id CDATA #REQUIRED bandwidth CDATA #REQUIRED latency CDATA #REQUIRED>\n"
    "<!ELEMENT link (prop*)>\n"
    "<!ATTLIST link id CDATA #REQUIRED bandwidth CDATA #REQUIRED latency CDATA #REQUIRED"
    " bandwidth_file CDATA #IMPLIED latency_file CDATA #IMPLIED state_file CDATA #IMPLIED"
    " sharing_policy (SHARED|SPLITDUPLEX|FULLDUPLEX|FATPIPE|WIFI) #IMPLIED>\n"
    "<!ELEMENT link_ctn EMPTY>\n"
    "<!ATTLIST link_ctn id CDATA #REQUIRED direction (UP|DOWN|NONE) #IMPLIED>\n"
    "<!ELEMENT route (link_ctn*)>\n"
    "<!ATTLIST route src CDATA #REQUIRED dst CDATA #REQUIRED symmetrical (YES|NO|yes|no) #IMPLIED>\n"
    "<!ELEMENT bypassRoute (link_ctn*)>\n"
    "<!ATTLIST bypassRoute src CDATA #REQUIRED dst CDATA #REQUIRED>\n"
    "<!ELEMENT zoneRoute (link_ctn*)>\n"
    "<!ATTLIST zoneRoute src CDATA #REQUIRED dst CDATA #REQUIRED gw_src CDATA #REQUIRED gw_dst CDATA #REQUIRED"
    " symmetrical (YES|NO|yes|no) #IMPLIED>\n"
    "<!ELEMENT ASroute (link_ctn*)>\n"
    "<!ATTLIST ASroute src CDATA #REQUIRED dst CDATA #REQUIRED gw_src CDATA #REQUIRED gw_dst CDATA #REQUIRED"
    " symmetrical (YES|NO|yes|no) #IMPLIED>\n"
    "<!ELEMENT bypassZoneRoute (link_ctn*)>\n"
    "<!ATTLIST bypassZoneRoute src CDATA #REQUIRED dst CDATA #REQUIRED gw_src CDATA #REQUIRED"
    " gw_dst CDATA #REQUIRED>\n"
    "<!ELEMENT bypassASroute (link_ctn*)>\n"
    "<!ATTLIST bypassASroute src CDATA #REQUIRED dst CDATA #REQUIRED gw_src CDATA #REQUIRED gw_dst CDATA #REQUIRED>\n";

/* ---- names: a small open-addressing set of strings */
typedef struct {
    char **slot;
    size_t cap, n;
    int oom;
} nameset_t;

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int set_has(const nameset_t *s, const char *name)
{
    if (!s->cap)
        return 0;
    for (size_t i = hash_str(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i])
            return 0;
        if (!strcmp(s->slot[i], name))
            return 1;
    }
}

/* 1: added; 0: already there (or out of memory: s->oom). */
static int set_add(nameset_t *s, const char *name)
{
    if (s->oom)
        return 0;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) {
            s->oom = 1;
            return 0;
        }
        for (size_t k = 0; k < s->cap; k++)
            if (s->slot[k]) {
                size_t i = hash_str(s->slot[k]) & (cap - 1);
                while (slot[i])
                    i = (i + 1) & (cap - 1);
                slot[i] = s->slot[k];
            }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t i = hash_str(name) & (s->cap - 1);
    for (; s->slot[i]; i = (i + 1) & (s->cap - 1))
        if (!strcmp(s->slot[i], name))
            return 0;
    if (!(s->slot[i] = strdup(name))) {
        s->oom = 1;
        return 0;
    }
    s->n++;
    return 1;
}

static void set_free(nameset_t *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/* ---- the walk */
typedef struct {
    const char *name, *dir;
    bg_err_t *err;
    int rc;
    nameset_t nodes;     /* hosts, routers, zones (SimGrid's netpoints) */
    nameset_t links;     /* link names as SimGrid knows them: L, or L_UP and L_DOWN for SPLITDUPLEX */
    nameset_t split;     /* SPLITDUPLEX link ids */
    nameset_t routes;    /* routes declared, "zone node|src|dst" (both ways for a symmetrical one) */
    int generated;       /* clusters, cabinets or peers: their links and routers have generated names */
    long n_generated;
} check_t;

static char *get(xmlNodePtr n, const char *a)
{
    return (char *)xmlGetProp(n, (const xmlChar *)a);
}

/* `<host id="w3">`, `<route src="a" dst="b">` or `<platform>`. */
static void describe(xmlNodePtr n, char *buf, size_t len)
{
    char *id = get(n, "id"), *src = id ? NULL : get(n, "src"), *dst = id ? NULL : get(n, "dst");
    char a[80], b[80];
    if (id) {
        bg_xml_shown(id, a, sizeof a);
        snprintf(buf, len, "<%s id=\"%s\">", (const char *)n->name, a);
    } else if (src && dst) {
        bg_xml_shown(src, a, sizeof a);
        bg_xml_shown(dst, b, sizeof b);
        snprintf(buf, len, "<%s src=\"%s\" dst=\"%s\">", (const char *)n->name, a, b);
    } else {
        snprintf(buf, len, "<%s>", (const char *)n->name);
    }
    xmlFree(id);
    xmlFree(src);
    xmlFree(dst);
}

static int fail(check_t *c, xmlNodePtr n, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(check_t *c, xmlNodePtr n, int code, const char *fmt, ...)
{
    if (c->rc)
        return c->rc;
    char what[256], msg[600];
    describe(n, what, sizeof what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bg_err_set(c->err, code, c->name, xmlGetLineNo(n) > 0 ? xmlGetLineNo(n) : 0, "%s: %s", what, msg);
    return c->rc = code;
}

static const char *kind_name(bg_unit_kind_t k)
{
    return k == BG_UNIT_SPEED ? "speed" : k == BG_UNIT_BANDWIDTH ? "bandwidth" : "time";
}

/* One value of attribute attr; "0" alone is SimGrid's unit-less zero (latencies). */
static int one_value(check_t *c, xmlNodePtr n, const char *attr, const char *text, bg_unit_kind_t kind)
{
    char why[400], s[80];
    bg_xml_shown(text, s, sizeof s);
    double x;
    if (kind == BG_UNIT_TIME && !strcmp(text, "0"))
        return 0;
    if (bg_unit_parse(text, kind, &x, why, sizeof why))
        return fail(c, n, BG_EINVAL, "%s \"%s\" is not a valid %s: expected %s", attr, s, kind_name(kind), why);
    if (!isfinite(x))
        return fail(c, n, BG_EINVAL, "%s \"%s\" overflows a double", attr, s);
    return 0;
}

/* Attribute attr (absent: ok unless required) as one value, or a list split at any of seps. *count gets the number
 * of items. */
static int values(check_t *c, xmlNodePtr n, const char *attr, bg_unit_kind_t kind, const char *seps, int required,
                  int *count)
{
    char *v = get(n, attr);
    int rc = 0, k = 0;
    if (!v || !v[0]) {
        if (required || v)
            rc = fail(c, n, BG_EINVAL, "%s is empty: it needs a %s with its unit", attr, kind_name(kind));
        xmlFree(v);
        return rc;
    }
    for (char *p = v; !rc;) {
        size_t l = seps ? strcspn(p, seps) : strlen(p);
        char item[256];
        if (l >= sizeof item)
            rc = fail(c, n, BG_EINVAL, "%s: a value of %zu characters is too long", attr, l);
        else {
            bg_trim(p, l, item, sizeof item);
            rc = one_value(c, n, attr, item, kind);
        }
        k++;
        if (!p[l])
            break;
        p += l + 1;
    }
    xmlFree(v);
    if (count)
        *count = k;
    return rc;
}

/* A strict decimal integer in [lo, hi] (absent: ok, *out unchanged). */
static int int_attr(check_t *c, xmlNodePtr n, const char *attr, long lo, long hi, long *out)
{
    char *v = get(n, attr);
    if (!v)
        return 0;
    char *end, s[80];
    errno = 0;
    long x = strtol(v, &end, 10);
    int bad = end == v || *end || errno == ERANGE || x < lo || x > hi || !isdigit((unsigned char)v[v[0] == '-']);
    bg_xml_shown(v, s, sizeof s);
    xmlFree(v);
    if (bad)
        return fail(c, n, BG_EINVAL, "%s \"%s\" must be a whole number from %ld to %ld", attr, s, lo, hi);
    *out = x;
    return 0;
}

/* "1-4,6": SimGrid's radical syntax; adds the generated host names prefix<i>suffix to the node names. */
static int radical(check_t *c, xmlNodePtr n)
{
    char *r = get(n, "radical"), *prefix = get(n, "prefix"), *suffix = get(n, "suffix");
    int rc = 0;
    char s[80];
    bg_xml_shown(r, s, sizeof s);
    for (char *p = r; p && !rc;) {
        long a, b;
        char *end;
        errno = 0;
        a = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        b = a;
        if (a >= 0 && *end == '-') {
            char *q = end + 1;
            b = isdigit((unsigned char)*q) ? strtol(q, &end, 10) : -1;
        }
        if (a < 0 || b < a || errno == ERANGE || a > 2147483647L || b > 2147483647L || (*end && *end != ',')) {
            rc = fail(c, n, BG_EINVAL, "radical \"%s\" must list numbers and ranges a-b with a <= b, e.g. 0-3,5", s);
            break;
        }
        if ((c->n_generated += b - a + 1) > BG_PLATFORM_MAX_GENERATED) {
            rc = fail(c, n, BG_EINVAL, "radical \"%s\": clusters and cabinets declare more than %ld hosts", s,
                      BG_PLATFORM_MAX_GENERATED);
            break;
        }
        for (long i = a; i <= b && !rc; i++) {
            char host[600];
            snprintf(host, sizeof host, "%.250s%ld%.250s", prefix ? prefix : "", i, suffix ? suffix : "");
            if (!set_add(&c->nodes, host) && !c->nodes.oom) {
                bg_xml_shown(host, s, sizeof s);
                rc = fail(c, n, BG_EINVAL, "generates host \"%s\", a name already used by a host, router or zone", s);
            }
        }
        if (!*end)
            break;
        p = end + 1;
    }
    xmlFree(r);
    xmlFree(prefix);
    xmlFree(suffix);
    return rc;
}

/* The number of hosts a TORUS ("4,4,2"), FAT_TREE ("2;4,4;1,2;1,2": levels; downs; ups; counts) or DRAGONFLY
 * ("2,1;2,1;2,1;4": groups, chassis, routers with their link counts, nodes) cluster's topo_parameters need; -1 when
 * malformed. */
static long topo_hosts(const char *topo, const char *tp)
{
    long groups[4][64], len[4] = {0};
    int ng = 0;
    for (const char *p = tp;; p++) {
        if (ng >= 4)
            return -1;
        char *end;
        errno = 0;
        long x = isdigit((unsigned char)*p) ? strtol(p, &end, 10) : -1;
        if (x < 1 || errno == ERANGE || x > 1000000 || len[ng] >= 64)
            return -1;
        groups[ng][len[ng]++] = x;
        p = end;
        if (*p == ';')
            ng++;
        else if (*p != ',') {
            if (*p)
                return -1;
            ng++;
            break;
        }
    }
    long n = 1;
    if (!strcmp(topo, "TORUS")) {
        if (ng != 1)
            return -1;
        for (long i = 0; i < len[0]; i++)
            if ((n *= groups[0][i]) > BG_PLATFORM_MAX_GENERATED)
                return BG_PLATFORM_MAX_GENERATED + 1;
        return n;
    }
    if (!strcmp(topo, "FAT_TREE")) {
        long levels = groups[0][0];
        if (ng != 4 || len[0] != 1 || len[1] != levels || len[2] != levels || len[3] != levels)
            return -1;
        for (long i = 0; i < levels; i++)
            if ((n *= groups[1][i]) > BG_PLATFORM_MAX_GENERATED)
                return BG_PLATFORM_MAX_GENERATED + 1;
        return n;
    }
    if (ng != 4 || len[0] != 2 || len[1] != 2 || len[2] != 2 || len[3] != 1)   /* DRAGONFLY */
        return -1;
    for (int g = 0; g < 4; g++)
        if ((n *= groups[g][0]) > BG_PLATFORM_MAX_GENERATED)
            return BG_PLATFORM_MAX_GENERATED + 1;
    return n;
}

/* A profile file named by attr: present as a regular file, relative to the current folder or the platform's. */
static int profile(check_t *c, xmlNodePtr n, const char *attr)
{
    char *v = get(n, attr);
    if (!v || !v[0] || !c->dir) {
        xmlFree(v);
        return 0;
    }
    struct stat st;
    int ok = !stat(v, &st) && S_ISREG(st.st_mode);
    if (!ok && v[0] != '/') {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", c->dir, v);
        ok = !stat(path, &st) && S_ISREG(st.st_mode);
    }
    char s[200];
    bg_xml_shown(v, s, sizeof s);
    xmlFree(v);
    return ok ? 0 : fail(c, n, BG_EIO, "%s \"%s\" is not a readable file (looked in the current folder and the "
                                       "platform's)", attr, s);
}

static int is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* Add n's id to set (kind names the namespace for the message). */
static int unique(check_t *c, xmlNodePtr n, nameset_t *set, const char *kind)
{
    char *id = get(n, "id");
    int rc = 0;
    if (id && !id[0])
        rc = fail(c, n, BG_EINVAL, "id is empty");
    else if (id && !set_add(set, id) && !set->oom)
        rc = fail(c, n, BG_EINVAL, "id already names a %s in this file (SimGrid refuses duplicates)", kind);
    xmlFree(id);
    return rc;
}

/* First pass: every declaration, in document order (routes come after the declarations they use). */
static int declare(check_t *c, xmlNodePtr n)
{
    for (xmlNodePtr k = n->children; k && !c->rc; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (is(k, "host") || is(k, "router") || is(k, "zone") || is(k, "AS") || is(k, "cluster") ||
            is(k, "peer")) {
            if (unique(c, k, &c->nodes, "host, router or zone"))
                break;
        } else if (is(k, "link") || is(k, "backbone")) {
            char *pol = get(k, "sharing_policy"), *id = get(k, "id");
            int split = pol && (!strcmp(pol, "SPLITDUPLEX") || !strcmp(pol, "FULLDUPLEX"));
            if (split && id) {
                char up[600], down[600];
                snprintf(up, sizeof up, "%.500s_UP", id);
                snprintf(down, sizeof down, "%.500s_DOWN", id);
                if (!set_add(&c->split, id) || !set_add(&c->links, up) || !set_add(&c->links, down))
                    if (!c->links.oom && !c->split.oom)
                        fail(c, k, BG_EINVAL, "id already names a link in this file (SimGrid refuses duplicates)");
            } else {
                unique(c, k, &c->links, "link");
            }
            xmlFree(pol);
            xmlFree(id);
        }
        if (is(k, "cluster") || is(k, "cabinet") || is(k, "peer"))
            c->generated = 1;
        if (is(k, "cluster") || is(k, "cabinet"))
            radical(c, k);
        if (!c->rc)
            declare(c, k);
    }
    return c->rc;
}

/* A link named in a route or host_link: declared (unless clusters may have generated it), and split into UP/DOWN
 * exactly when it is SPLITDUPLEX. */
static int link_ref(check_t *c, xmlNodePtr n, const char *attr, const char *dir)
{
    char *id = get(n, attr);
    int rc = 0;
    char s[80];
    bg_xml_shown(id, s, sizeof s);
    if (id) {
        int updown = dir && (!strcmp(dir, "UP") || !strcmp(dir, "DOWN"));
        if (updown && !set_has(&c->split, id) && (set_has(&c->links, id) || !c->generated))
            rc = fail(c, n, BG_EINVAL, "direction=\"%s\" needs a SPLITDUPLEX link, and \"%s\" is not one", dir, s);
        else if (!updown && set_has(&c->split, id))
            rc = fail(c, n, BG_EINVAL, "\"%s\" is a SPLITDUPLEX link: name one direction (%s_UP or %s_DOWN, or "
                      "direction=\"UP\" or \"DOWN\" in <link_ctn>)", s, s, s);
        else if (!updown && !set_has(&c->links, id) && !c->generated)
            rc = fail(c, n, BG_EINVAL, "%s \"%s\" names no link of this file", attr, s);
    }
    xmlFree(id);
    return rc;
}

static int node_ref(check_t *c, xmlNodePtr n, const char *attr)
{
    char *v = get(n, attr);
    int rc = 0;
    if (v && !set_has(&c->nodes, v) && !c->generated) {
        char s[80];
        bg_xml_shown(v, s, sizeof s);
        rc = fail(c, n, BG_EINVAL, "%s \"%s\" names no host, router or zone of this file", attr, s);
    }
    xmlFree(v);
    return rc;
}

static const char *const routings[] = {"Cluster", "Dijkstra", "DijkstraCache", "Floyd", "Full", "None", "Vivaldi",
                                       "Wifi"};

/* Second pass: values and references. */
/* SimGrid aborts on a second route between the same two points of a zone ("The route between A and B already
 * exists"); a route is symmetrical (declares B to A too) unless symmetrical="NO". */
static int route_once(check_t *c, xmlNodePtr zone, xmlNodePtr r)
{
    char *src = get(r, "src"), *dst = get(r, "dst"), *sym = get(r, "symmetrical");
    const int both = !sym || !strcasecmp(sym, "yes");
    char key[2][600], a[80], b[80];
    snprintf(key[0], sizeof key[0], "%p|%.250s|%.250s", (void *)zone, src ? src : "", dst ? dst : "");
    snprintf(key[1], sizeof key[1], "%p|%.250s|%.250s", (void *)zone, dst ? dst : "", src ? src : "");
    bg_xml_shown(src, a, sizeof a);
    bg_xml_shown(dst, b, sizeof b);
    xmlFree(src);
    xmlFree(dst);
    xmlFree(sym);
    for (int w = 0; w < 1 + both; w++) {
        if (set_has(&c->routes, key[w]))
            return fail(c, r, BG_EINVAL, "a route from '%s' to '%s' is already declared in this zone (routes go both "
                        "ways unless symmetrical=\"NO\")", w ? b : a, w ? a : b);
        set_add(&c->routes, key[w]);
    }
    return 0;
}

static int walk(check_t *c, xmlNodePtr n)
{
    for (xmlNodePtr k = n->children; k && !c->rc; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (is(k, "config"))
            return fail(c, k, BG_EINVAL, "SimGrid options in the platform are not taken: give them with "
                                         "--cfg=option:value or the scenario's [platform] keys");
        if (is(k, "zone") || is(k, "AS")) {
            char *r = get(k, "routing");
            int known = 0;
            for (size_t i = 0; r && i < sizeof routings / sizeof routings[0]; i++)
                known |= !strcasecmp(r, routings[i]);
            char s[80];
            bg_xml_shown(r, s, sizeof s);
            xmlFree(r);
            if (!known)
                return fail(c, k, BG_EINVAL, "routing \"%s\" is not one of SimGrid's: Full, Floyd, Dijkstra, "
                                             "DijkstraCache, Cluster, None, Vivaldi, Wifi", s);
            /* A zone holds zones or hosts, not both (SimGrid: "Starting tag ... is not allowed here"). */
            const char *zonal = NULL, *leafy = NULL;
            for (xmlNodePtr e = k->children; e; e = e->next) {
                if (e->type != XML_ELEMENT_NODE)
                    continue;
                if (is(e, "zone") || is(e, "AS") || is(e, "cluster") || is(e, "peer") || is(e, "zoneRoute") ||
                    is(e, "ASroute") || is(e, "bypassZoneRoute") || is(e, "bypassASroute"))
                    zonal = zonal ? zonal : (const char *)e->name;
                if (is(e, "host") || is(e, "router") || is(e, "host_link") || is(e, "cabinet") || is(e, "route") ||
                    is(e, "bypassRoute"))
                    leafy = leafy ? leafy : (const char *)e->name;
            }
            if (zonal && leafy)
                return fail(c, k, BG_EINVAL, "holds both <%s> and <%s>: a zone holds either zones or hosts", zonal,
                            leafy);
        } else if (is(k, "host")) {
            int np = 0;
            long core = 1, pstate = 0;
            if (values(c, k, "speed", BG_UNIT_SPEED, ",", 1, &np) || int_attr(c, k, "core", 1, 1000000, &core) ||
                int_attr(c, k, "pstate", 0, np - 1, &pstate) || profile(c, k, "speed_file") ||
                profile(c, k, "availability_file") || profile(c, k, "state_file"))
                return c->rc;
        } else if (is(k, "disk")) {
            if (values(c, k, "read_bw", BG_UNIT_BANDWIDTH, NULL, 1, NULL) ||
                values(c, k, "write_bw", BG_UNIT_BANDWIDTH, NULL, 1, NULL))
                return c->rc;
        } else if (is(k, "link")) {
            if (values(c, k, "bandwidth", BG_UNIT_BANDWIDTH, ";,", 1, NULL) ||
                values(c, k, "latency", BG_UNIT_TIME, NULL, 1, NULL) || profile(c, k, "bandwidth_file") ||
                profile(c, k, "latency_file") || profile(c, k, "state_file"))
                return c->rc;
        } else if (is(k, "backbone")) {
            if (values(c, k, "bandwidth", BG_UNIT_BANDWIDTH, NULL, 1, NULL) ||
                values(c, k, "latency", BG_UNIT_TIME, NULL, 1, NULL))
                return c->rc;
        } else if (is(k, "cluster") || is(k, "cabinet")) {
            long core = 1;
            if (values(c, k, "speed", BG_UNIT_SPEED, is(k, "cluster") ? "," : NULL, 1, NULL) ||
                int_attr(c, k, "core", 1, 1000000, &core) || values(c, k, "bw", BG_UNIT_BANDWIDTH, NULL, 1, NULL) ||
                values(c, k, "lat", BG_UNIT_TIME, NULL, 1, NULL) ||
                values(c, k, "bb_bw", BG_UNIT_BANDWIDTH, NULL, 0, NULL) ||
                values(c, k, "bb_lat", BG_UNIT_TIME, NULL, 0, NULL) ||
                values(c, k, "limiter_link", BG_UNIT_BANDWIDTH, NULL, 0, NULL) ||
                values(c, k, "loopback_bw", BG_UNIT_BANDWIDTH, NULL, 0, NULL) ||
                values(c, k, "loopback_lat", BG_UNIT_TIME, NULL, 0, NULL))
                return c->rc;
            char *topo = get(k, "topology"), *tp = get(k, "topo_parameters");
            long need = topo && strcmp(topo, "FLAT") ? topo_hosts(topo, tp ? tp : "") : 0, have = 0;
            if (need > 0) {
                char *r = get(k, "radical");
                for (const char *p = r; p && *p;) {   /* already checked by radical() */
                    char *end;
                    long a = strtol(p, &end, 10), b = *end == '-' ? strtol(end + 1, &end, 10) : a;
                    have += b - a + 1;
                    p = *end == ',' ? end + 1 : "";
                }
                xmlFree(r);
            }
            char st[80], tt[80];
            bg_xml_shown(topo, tt, sizeof tt);
            bg_xml_shown(tp, st, sizeof st);
            xmlFree(topo);
            xmlFree(tp);
            if (need < 0)
                return fail(c, k, BG_EINVAL, "topo_parameters \"%s\" is not a %s description", st, tt);
            if (need > have)
                return fail(c, k, BG_EINVAL, "topo_parameters \"%s\" need %ld hosts and radical gives %ld", st, need,
                            have);
        } else if (is(k, "peer")) {
            if (values(c, k, "speed", BG_UNIT_SPEED, NULL, 1, NULL) ||
                values(c, k, "bw_in", BG_UNIT_BANDWIDTH, NULL, 1, NULL) ||
                values(c, k, "bw_out", BG_UNIT_BANDWIDTH, NULL, 1, NULL) ||
                values(c, k, "lat", BG_UNIT_TIME, NULL, 0, NULL) || profile(c, k, "speed_file") ||
                profile(c, k, "availability_file") || profile(c, k, "state_file"))
                return c->rc;
        } else if (is(k, "host_link")) {
            char *id = get(k, "id");
            int known = id && set_has(&c->nodes, id);
            xmlFree(id);
            if (!known && !c->generated)
                return fail(c, k, BG_EINVAL, "id names no host of this file");
            if (link_ref(c, k, "up", NULL) || link_ref(c, k, "down", NULL))
                return c->rc;
        } else if (is(k, "route") || is(k, "bypassRoute") || is(k, "zoneRoute") || is(k, "ASroute") ||
                   is(k, "bypassZoneRoute") || is(k, "bypassASroute")) {
            if (node_ref(c, k, "src") || node_ref(c, k, "dst") || node_ref(c, k, "gw_src") ||
                node_ref(c, k, "gw_dst"))
                return c->rc;
            if ((is(k, "route") || is(k, "zoneRoute") || is(k, "ASroute")) && route_once(c, n, k))
                return c->rc;
            for (xmlNodePtr l = k->children; l; l = l->next)
                if (is(l, "link_ctn")) {
                    char *dir = get(l, "direction");
                    int rc = link_ref(c, l, "id", dir);
                    xmlFree(dir);
                    if (rc)
                        return rc;
                }
            continue;
        }
        if (walk(c, k))
            return c->rc;
    }
    return c->rc;
}

/* Every element is one the DTD declares (a clearer message than the content model's). */
static int known_elements(check_t *c, xmlNodePtr n, xmlDtdPtr dtd)
{
    for (xmlNodePtr k = n->children; k && !c->rc; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (!xmlGetDtdElementDesc(dtd, k->name) || k->ns)
            return fail(c, k, BG_EFORMAT, "not an element of SimGrid's platform format that byzgrid takes (no "
                                          "deployment, trace, storage or include elements)");
        known_elements(c, k, dtd);
    }
    return c->rc;
}

static xmlDtdPtr dtd_once(void)
{
    xmlParserInputBufferPtr in =
        xmlParserInputBufferCreateMem(platform_dtd, (int)sizeof platform_dtd - 1, XML_CHAR_ENCODING_UTF8);
    return in ? xmlIOParseDTD(NULL, in, XML_CHAR_ENCODING_UTF8) : NULL;   /* frees in */
}

int bg_platform_check_buffer(const char *buf, size_t len, const char *name, const char *dir, bg_err_t *err)
{
    if (len > BG_PLATFORM_MAX_BYTES)
        return bg_err_set(err, BG_EFORMAT, name, 0, "larger than %u MiB: not taken as a platform",
                          BG_PLATFORM_MAX_BYTES >> 20);
    bg_xml_errors_t fe;
    bg_xml_capture(&fe);
    xmlDocPtr doc = NULL;
    int rc = bg_xml_read(buf, len, name, "platform", &fe, &doc, err);
    if (rc)
        goto done;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlDtdPtr dtd = dtd_once();
    xmlValidCtxtPtr v = xmlNewValidCtxt();
    if (!dtd || !v) {
        xmlFreeDtd(dtd);
        xmlFreeValidCtxt(v);
        rc = bg_err_set(err, BG_ENOMEM, name, 0, "out of memory validating the platform");
        goto done;
    }
    v->error = NULL;
    v->warning = NULL;
    check_t c = {.name = name, .dir = dir, .err = err};
    if (known_elements(&c, (xmlNodePtr)doc, dtd)) {
        xmlFreeValidCtxt(v);
        xmlFreeDtd(dtd);
        rc = c.rc;
        goto done;
    }
    int valid = xmlValidateDtd(v, doc, dtd);
    xmlFreeValidCtxt(v);
    xmlFreeDtd(dtd);
    if (!valid || fe.set) {
        rc = bg_err_set(err, BG_EFORMAT, name, fe.set ? fe.line : 0, "not a SimGrid 4.1 platform: %s",
                        fe.set ? fe.msg : "invalid");
        goto done;
    }
    /* Version: SimGrid 3.32 reads 4 (with a notice) to 4.1, compared as lround(100 * version). */
    if (!bg_xml_version_ok(root)) {
        char *ver = get(root, "version"), sv[80];
        bg_xml_shown(ver, sv, sizeof sv);
        xmlFree(ver);
        fail(&c, root, BG_EFORMAT, "version \"%s\" is not one SimGrid 3.32 reads (4 to 4.1): write version=\"4.1\"",
             sv);
    }
    if (!c.rc)
        declare(&c, root);
    if (!c.rc)
        walk(&c, root);
    if (!c.rc && (c.nodes.oom || c.links.oom || c.split.oom || c.routes.oom))
        bg_err_set(err, c.rc = BG_ENOMEM, name, 0, "out of memory checking the platform");
    rc = c.rc;
    set_free(&c.nodes);
    set_free(&c.links);
    set_free(&c.split);
    set_free(&c.routes);
done:
    xmlFreeDoc(doc);
    bg_xml_release();
    return rc;
}

int bg_platform_check_file(const char *path, bg_err_t *err)
{
    char *buf;
    size_t len;
    int rc = bg_xml_load(path, "platform", BG_PLATFORM_MAX_BYTES, &buf, &len, err);
    if (rc)
        return rc;
    const size_t pl = strlen(path);
    if ((pl >= 3 && !strcmp(path + pl - 3, ".so")) || (pl >= 6 && !strcmp(path + pl - 6, ".dylib"))) {
        /* SimGrid loads a platform library's code: only its header can be checked. */
        static const unsigned char elf[4] = {0x7f, 'E', 'L', 'F'}, macho[4] = {0xcf, 0xfa, 0xed, 0xfe};
        rc = len >= 4 && (!memcmp(buf, elf, 4) || !memcmp(buf, macho, 4))
                 ? BG_OK
                 : bg_err_set(err, BG_EFORMAT, path, 0, "named like a platform library but not one (no ELF or Mach-O "
                                                         "header)");
    } else {
        char dir[4096];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        if (slash == path)
            snprintf(dir, sizeof dir, "/");
        rc = bg_platform_check_buffer(buf, len, path, dir, err);
    }
    free(buf);
    return rc;
}
