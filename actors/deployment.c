/* Deployment files (deployment.h): libxml2 only, no SimGrid. */
#include "deployment.h"
#include "sgxml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest deployment file read (bytes): 1e6 workers at ~120 bytes each. */
#define BG_DEPLOY_MAX_BYTES (256u << 20)

static int is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static char *get(xmlNodePtr n, const char *a)
{
    return (char *)xmlGetProp(n, (const xmlChar *)a);
}

typedef struct {
    const char *path;
    bg_err_t *err;
    int rc;
} ctx_t;

static int fail(ctx_t *c, xmlNodePtr n, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(ctx_t *c, xmlNodePtr n, int code, const char *fmt, ...)
{
    char msg[600], what[200] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && is(n, "actor")) {
        char *h = get(n, "host"), *f = get(n, "function"), hs[80], fs[80];
        bg_xml_shown(h, hs, sizeof hs);
        bg_xml_shown(f, fs, sizeof fs);
        snprintf(what, sizeof what, "<actor host=\"%s\" function=\"%s\">: ", hs, fs);
        xmlFree(h);
        xmlFree(f);
    }
    bg_err_set(c->err, code, c->path, n ? xmlGetLineNo(n) : 0, "%s%s", what, msg);
    bg_err_key(c->err, "workers.deployment");
    return c->rc = code;
}

/* A rank argument: a decimal integer in [0, n). */
static int rank_of(const char *s, size_t n, size_t *out)
{
    if (!s || !*s)
        return 0;
    size_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > n)
            return 0;
        v = 10 * v + (size_t)(*p - '0');
    }
    *out = v;
    return v < n;
}

int bg_deployment_read(const char *path, const char *job, int foreign, bg_scenario_t *sc, char *job_out,
                       bg_err_t *err)
{
    size_t len = 0;
    char *buf;
    int lrc = bg_xml_load(path, "deployment", BG_DEPLOY_MAX_BYTES, &buf, &len, err);
    if (lrc)
        return bg_err_keyed(err, "workers.deployment", lrc);
    ctx_t c = {.path = path, .err = err};
    bg_xml_errors_t fe;
    bg_xml_capture(&fe);
    xmlDocPtr doc = NULL;
    c.rc = bg_xml_read(buf, len, path, "deployment", &fe, &doc, err);
    free(buf);
    const size_t n = sc->learn.n, f = sc->learn.f, nh = n - f;
    long *line = NULL;
    char (*hosts)[BG_MAX_HOSTNAME] = NULL;
    char name[64] = "";
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (c.rc) {
        bg_err_key(err, "workers.deployment");
        goto done;
    }
    if (!bg_xml_version_ok(root)) {
        fail(&c, root, BG_EFORMAT, "<platform> needs version=\"4.1\" (SimGrid 3.32 reads 4 to 4.1)");
        goto done;
    }
    line = calloc(n + 1, sizeof *line);
    hosts = calloc(n ? n : 1, sizeof *hosts);
    if (!line || !hosts) {
        fail(&c, NULL, BG_ENOMEM, "out of memory reading the deployment");
        goto done;
    }
    size_t servers = 0, workers = 0, byz = 0;
    for (xmlNodePtr a = root->children; a && !c.rc; a = a->next) {
        if (a->type != XML_ELEMENT_NODE)
            continue;
        if (!is(a, "actor")) {
            fail(&c, a, BG_EFORMAT, "<%.40s>: a deployment holds <actor> elements only", (const char *)a->name);
            break;
        }
        char *host = get(a, "host"), *fn = get(a, "function");
        const char *args[3] = {NULL, NULL, NULL};
        xmlChar *vals[3] = {NULL, NULL, NULL};
        size_t na = 0;
        int bad_child = 0;
        for (xmlNodePtr k = a->children; k; k = k->next) {
            if (k->type != XML_ELEMENT_NODE)
                continue;
            if (is(k, "argument")) {
                xmlChar *v = xmlGetProp(k, (const xmlChar *)"value");
                if (!v) {
                    bad_child = 1;
                } else if (na < 3) {
                    vals[na] = v;
                    args[na] = (const char *)v;
                } else {
                    xmlFree(v);
                }
                na++;
            } else if (!is(k, "prop")) {
                bad_child = 1;
            }
        }
        const int is_server = fn && !strcmp(fn, BG_DEPLOY_SERVER), is_worker = fn && !strcmp(fn, BG_DEPLOY_WORKER),
                  is_byz = fn && !strcmp(fn, BG_DEPLOY_BYZANTINE), ours = is_server || is_worker || is_byz;
        char *st = get(a, "start_time"), *kt = get(a, "kill_time");
        if (!host || !*host || !fn || !*fn)
            fail(&c, a, BG_EFORMAT, "an <actor> needs host and function attributes");
        else if (bad_child)
            fail(&c, a, BG_EFORMAT, "an <actor> holds <argument value=\"...\"/> and <prop id value/> only");
        else if (!ours && !foreign)
            fail(&c, a, BG_EINVAL, "not a byzgrid actor: byzgrid run deploys " BG_DEPLOY_SERVER ", " BG_DEPLOY_WORKER
                                   " and " BG_DEPLOY_BYZANTINE " only");
        else if (ours && (st || kt))
            fail(&c, a, BG_EINVAL, "start_time and kill_time do not apply to byzgrid's actors");
        else if (ours && (na < 1 || !args[0][0]))
            fail(&c, a, BG_EINVAL, "the first argument is the job's name");
        else if (ours && strlen(args[0]) >= sizeof name)
            fail(&c, a, BG_EINVAL, "job name longer than 63 characters");
        else if (ours && !job && name[0] && strcmp(name, args[0]))
            fail(&c, a, BG_EINVAL, "job '%.63s' after job '%s': this file names several jobs, byzgrid run takes one",
                 args[0], name);
        else if (ours && (!job || !strcmp(job, args[0]))) {
            snprintf(name, sizeof name, "%s", args[0]);
            if (strlen(host) >= BG_MAX_HOSTNAME) {
                fail(&c, a, BG_EINVAL, "host name longer than %d characters", BG_MAX_HOSTNAME - 1);
            } else if (is_server) {
                if (na != 1)
                    fail(&c, a, BG_EINVAL, BG_DEPLOY_SERVER " takes one argument, the job's name (%zu given)", na);
                else if (servers++)
                    fail(&c, a, BG_EINVAL, "a second " BG_DEPLOY_SERVER " for job '%s' (the first is on line %ld)",
                         name, line[n]);
                else {
                    snprintf(sc->server_host, sizeof sc->server_host, "%s", host);
                    line[n] = xmlGetLineNo(a);
                }
            } else {
                size_t r = 0;
                if (na != 2)
                    fail(&c, a, BG_EINVAL, "%s takes two arguments, the job's name and the worker's rank (%zu given)",
                         fn, na);
                else if (!rank_of(args[1], n, &r))
                    fail(&c, a, BG_EINVAL, "rank '%.20s' is not an integer in 0 .. %zu (workers.n = %zu)", args[1],
                         n ? n - 1 : 0, n);
                else if (is_worker && r >= nh)
                    fail(&c, a, BG_EINVAL, "rank %zu is a Byzantine rank (%zu .. %zu with workers.n = %zu, attack.f = "
                         "%zu): deploy it with " BG_DEPLOY_BYZANTINE, r, nh, n - 1, n, f);
                else if (is_byz && r < nh)
                    fail(&c, a, BG_EINVAL, "rank %zu is an honest rank (0 .. %zu with workers.n = %zu, attack.f = %zu): "
                         "Byzantine ranks are %zu .. %zu", r, nh ? nh - 1 : 0, n, f, nh, n - 1);
                else if (line[r])
                    fail(&c, a, BG_EINVAL, "rank %zu is deployed twice (also on line %ld)", r, line[r]);
                else {
                    snprintf(hosts[r], BG_MAX_HOSTNAME, "%s", host);
                    line[r] = xmlGetLineNo(a);
                    workers += is_worker;
                    byz += is_byz;
                }
            }
        }
        xmlFree(st);
        xmlFree(kt);
        xmlFree(host);
        xmlFree(fn);
        for (size_t i = 0; i < 3; i++)
            xmlFree(vals[i]);
    }
    if (!c.rc && !servers)
        fail(&c, root, BG_EINVAL, "no " BG_DEPLOY_SERVER " for job '%s'", job ? job : name[0] ? name : "(none)");
    if (!c.rc && (workers != nh || byz != f))
        fail(&c, root, BG_EINVAL, "%zu " BG_DEPLOY_WORKER " and %zu " BG_DEPLOY_BYZANTINE " actors for job '%s', but "
             "the scenario has %zu honest and %zu Byzantine workers (workers.n = %zu, attack.f = %zu)", workers, byz,
             name, nh, f, n, f);
    if (!c.rc) {
        free(sc->hosts);
        sc->hosts = hosts;
        sc->n_hosts = n;
        hosts = NULL;
        free(sc->deploy_line);
        sc->deploy_line = line;
        line = NULL;
        sc->placement_applied = 1;
        if (job_out)
            snprintf(job_out, 64, "%s", name);
    }
done:
    free(hosts);
    free(line);
    xmlFreeDoc(doc);
    bg_xml_release();
    return c.rc;
}
