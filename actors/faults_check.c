/* The [faults] lists checked against the loaded platform: every listed name is one of its hosts or links (the
 * SimGrid half of faults.h; faults.c parses without SimGrid). */
#include "faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simgrid/host.h>
#include <simgrid/link.h>

/* Whether the loaded platform has a link of that name (sg_link_by_name throws on an unknown name). */
static int has_link(sg_link_t *links, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sg_link_get_name(links[i]), name))
            return 1;
    return 0;
}

int bg_faults_check(const bg_scenario_t *sc, bg_err_t *err)
{
    bg_faults_t f;
    int rc = bg_faults_parse(sc->faults_hosts, "faults.hosts", &f, err);
    for (size_t k = 0; !rc && k < f.n; k++)
        if (!sg_host_by_name(f.v[k].name))
            rc = bg_err_keyed(err, "faults.hosts",
                              bg_err_set(err, BG_ENOTFOUND, NULL, 0, "faults.hosts: the platform has no host '%s' "
                                         "(it has %zu hosts)", f.v[k].name, sg_host_count()));
    bg_faults_free(&f);
    if (rc || (rc = bg_faults_parse(sc->plat.link_faults, "faults.links", &f, err)) || !f.n)
        return rc;
    sg_link_t *links = sg_link_list();
    const size_t nl = sg_link_count();
    for (size_t k = 0; !rc && k < f.n; k++) {
        char up[160], down[160];
        snprintf(up, sizeof up, "%s_UP", f.v[k].name);
        snprintf(down, sizeof down, "%s_DOWN", f.v[k].name);
        if (!has_link(links, nl, f.v[k].name) && !(has_link(links, nl, up) && has_link(links, nl, down)))
            rc = bg_err_keyed(err, "faults.links",
                              bg_err_set(err, BG_ENOTFOUND, NULL, 0, "faults.links: the platform has no link '%s'",
                                         f.v[k].name));
    }
    free(links);
    bg_faults_free(&f);
    return rc;
}
