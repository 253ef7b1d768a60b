/* Loading the run's platform into SimGrid: generate it (or copy the user's file) into the output folder, or into a
 * temporary folder removed right after loading when there is none; then record every host's speed and every
 * link's bandwidth and latency as SimGrid holds them, for summary.json. */
#include "platform_load.h"
#include "platform_check.h"

#include <ctype.h>
#include <errno.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xbt/dynar.h>

typedef struct loaded_res {
    char *name;
    double a, b;   /* hosts: speed; links: bandwidth, latency */
} loaded_res_t;

/* One engine per process, so one loaded platform. */
static struct {
    int topology;
    char file[1100];
    size_t n_hosts, n_links;
    loaded_res_t *hosts, *links;
} L;

static void forget(void)
{
    for (size_t i = 0; i < L.n_hosts; i++)
        free(L.hosts[i].name);
    for (size_t i = 0; i < L.n_links; i++)
        free(L.links[i].name);
    free(L.hosts);
    free(L.links);
    memset(&L, 0, sizeof L);
}

static int cmp_res(const void *a, const void *b)
{
    return strcmp(((const loaded_res_t *)a)->name, ((const loaded_res_t *)b)->name);
}

static void record(void)
{
    forget();
    sg_host_t *hs = sg_host_list();
    size_t nh = sg_host_count();
    L.hosts = calloc(nh ? nh : 1, sizeof *L.hosts);
    for (size_t i = 0; L.hosts && i < nh; i++) {
        L.hosts[L.n_hosts].name = strdup(sg_host_get_name(hs[i]));
        L.hosts[L.n_hosts++].a = sg_host_get_speed(hs[i]);
    }
    free(hs);
    sg_link_t *ls = sg_link_list();
    size_t nl = sg_link_count();
    L.links = calloc(nl ? nl : 1, sizeof *L.links);
    for (size_t i = 0; L.links && i < nl; i++) {
        const char *name = sg_link_get_name(ls[i]);
        if (!strncmp(name, "__", 2))   /* SimGrid's internal loopback */
            continue;
        L.links[L.n_links].name = strdup(name);
        L.links[L.n_links].a = sg_link_get_bandwidth(ls[i]);
        L.links[L.n_links++].b = sg_link_get_latency(ls[i]);
    }
    free(ls);
    qsort(L.hosts, L.n_hosts, sizeof *L.hosts, cmp_res);
    qsort(L.links, L.n_links, sizeof *L.links, cmp_res);
}

int bg_platform_load(const bg_scenario_t *sc, const char *out_dir, bg_err_t *err)
{
    char tmp[1024] = "", xml[1100];
    const char *dir = out_dir;
    const int topo = bg_platform_topology(&sc->plat, sc->platform);
    if (!dir && topo != BG_TOPO_FILE) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/byzgrid-platform-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmp))
            return bg_err_set(err, BG_EIO, tmp, 0, "cannot create a temporary folder: %s", strerror(errno));
        dir = tmp;
    }
    int rc = bg_platform_prepare(&sc->plat, sc->platform, sc->learn.n, sc->learn.seed, dir, xml, sizeof xml, err);
    /* Whatever SimGrid reads is checked first (a user's file again: it may have changed since bg_sim_run checked it;
     * a generated one for what the keys could still get wrong): SimGrid aborts on any mistake. */
    if (!rc)
        rc = bg_platform_check_file(xml, err);
    if (!rc)
        simgrid_load_platform(xml);
    if (tmp[0])
        bg_platform_remove(tmp);
    if (rc)
        return rc;
    record();
    L.topology = topo;
    if (topo == BG_TOPO_FILE)
        snprintf(L.file, sizeof L.file, "%s", sc->platform);
    else if (out_dir)
        snprintf(L.file, sizeof L.file, "%s", xml);
    else
        snprintf(L.file, sizeof L.file, "(temporary, removed after loading)");
    return BG_OK;
}

void bg_platform_write_json(bg_json_t *j)
{
    bg_json_str(j, "topology", bg_platform_topology_name(L.topology));
    bg_json_str(j, "loaded", L.file);
    bg_json_begin_array(j, "hosts");
    for (size_t i = 0; i < L.n_hosts; i++) {
        bg_json_begin(j, NULL);
        bg_json_str(j, "name", L.hosts[i].name);
        bg_json_num(j, "speed_flops", L.hosts[i].a);
        bg_json_end(j);
    }
    bg_json_end_array(j);
    bg_json_begin_array(j, "links");
    for (size_t i = 0; i < L.n_links; i++) {
        bg_json_begin(j, NULL);
        bg_json_str(j, "name", L.links[i].name);
        bg_json_num(j, "bandwidth_Bps", L.links[i].a);
        bg_json_num(j, "latency_s", L.links[i].b);
        bg_json_end(j);
    }
    bg_json_end_array(j);
}

void bg_platform_record(const char *what)
{
    record();
    L.topology = BG_TOPO_FILE;
    snprintf(L.file, sizeof L.file, "%s", what);
}

size_t bg_platform_loaded_hosts(void)
{
    return L.n_hosts;
}

void bg_platform_forget(void)
{
    forget();
}

/* Child side of bg_platform_check_routes: before each lookup, its index on fd (2i: server to hosts[i], 2i + 1:
 * back); an empty route ends the child with status 3, a SimGrid abort with a signal; all found: -1, status 0. */
static void child_routes(int fd, const char *server, const char (*hosts)[BG_MAX_HOSTNAME], size_t n)
{
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
    }
    sg_host_t s = sg_host_by_name(server);
    xbt_dynar_t route = xbt_dynar_new(sizeof(sg_link_t), NULL);
    for (size_t i = 0; i < n; i++) {
        sg_host_t h = sg_host_by_name(hosts[i]);
        if (h == s)
            continue;
        for (long dir = 0; dir < 2; dir++) {
            long k = (long)(2 * i) + dir;
            if (write(fd, &k, sizeof k) != (ssize_t)sizeof k)
                _exit(4);
            xbt_dynar_reset(route);
            sg_host_get_route(dir ? h : s, dir ? s : h, route);
            if (xbt_dynar_is_empty(route))
                _exit(3);
        }
    }
    long done = -1;
    _exit(write(fd, &done, sizeof done) == (ssize_t)sizeof done ? 0 : 4);
}

int bg_platform_check_routes(const char *server, const char (*hosts)[BG_MAX_HOSTNAME], size_t n, const char *what,
                             bg_err_t *err)
{
    int p[2];
    if (pipe(p))
        return bg_err_set(err, BG_EIO, NULL, 0, "cannot check the platform's routes: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return bg_err_set(err, BG_EIO, NULL, 0, "cannot check the platform's routes: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        child_routes(p[1], server, hosts, n);
    }
    close(p[1]);
    long last = -2, k;
    ssize_t got;
    while ((got = read(p[0], &k, sizeof k)) == (ssize_t)sizeof k || (got < 0 && errno == EINTR))
        if (got > 0)
            last = k;
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && last == -1)
        return BG_OK;
    if (last < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 4))
        return bg_err_set(err, BG_EIO, NULL, 0, "%s: cannot check its routes (the checking process failed)", what);
    const size_t i = (size_t)last / 2;
    const char *a = last % 2 ? hosts[i] : server, *b = last % 2 ? server : hosts[i];
    return bg_err_set(err, BG_EINVAL, NULL, 0, "%s has no route from '%s' to '%s' (SimGrid %s)", what, a, b,
                      WIFEXITED(st) ? "would abort at the first transfer" : "aborts looking it up");
}

/* Ids of the WiFi links of the platform file (bg_platform_has_wifi), for bg_platform_wifi_route. */
static struct {
    size_t n;
    char **id;
} W;

/* The value of attribute name in the tag text [p, end), or NULL; *len gets its length. */
static const char *attr(const char *p, const char *end, const char *name, size_t *len)
{
    const size_t nl = strlen(name);
    for (; p + nl < end; p++) {
        if (strncmp(p, name, nl) || !isspace((unsigned char)p[-1]))
            continue;
        const char *q = p + nl;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q >= end || *q++ != '=')
            continue;
        while (q < end && isspace((unsigned char)*q))
            q++;
        if (q >= end || (*q != '"' && *q != '\''))
            continue;
        const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
        if (!close)
            return NULL;
        *len = (size_t)(close - q - 1);
        return q + 1;
    }
    return NULL;
}

/* The whole file at path, NUL-terminated (NULL: unreadable or out of memory; *oom tells which). */
static char *read_text(const char *path, int *oom)
{
    *oom = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, k;
    char *text = malloc(cap + 1);
    while (text && (k = fread(text + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            char *more = realloc(text, 2 * cap + 1);
            if (!more) {
                free(text);
                text = NULL;
                break;
            }
            text = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (!text) {
        *oom = 1;
        return NULL;
    }
    text[len] = '\0';
    return text;
}

int bg_platform_has_wifi(const bg_scenario_t *sc)
{
    for (size_t i = 0; i < W.n; i++)
        free(W.id[i]);
    free(W.id);
    memset(&W, 0, sizeof W);
    if (bg_platform_topology(&sc->plat, sc->platform) != BG_TOPO_FILE)
        return 0;
    int oom;
    char *text = read_text(sc->platform, &oom);
    if (!text)
        return oom;   /* unreadable: bg_platform_prepare reports it; out of memory: assume the worst, the run only
                       * loses its link energy */
    /* Every <link ...> tag whose sharing_policy is WIFI (SimGrid's only spelling). */
    int wifi = 0;
    for (const char *p = strstr(text, "<link"); p; p = strstr(p + 1, "<link")) {
        if (!isspace((unsigned char)p[5]))
            continue;
        const char *end = strchr(p, '>');
        if (!end)
            break;
        size_t vl = 0, il = 0;
        const char *v = attr(p + 5, end, "sharing_policy", &vl), *id = attr(p + 5, end, "id", &il);
        if (!v || vl != 4 || strncmp(v, "WIFI", 4))
            continue;
        wifi = 1;
        char **more = id ? realloc(W.id, (W.n + 1) * sizeof *W.id) : NULL;
        if (more) {
            W.id = more;
            if ((W.id[W.n] = strndup(id, il)))
                W.n++;
        }
    }
    free(text);
    return wifi;
}

const char *bg_platform_wifi_route(const char *a, const char *b)
{
    if (!W.n)
        return NULL;
    const char *hit = NULL;
    xbt_dynar_t route = xbt_dynar_new(sizeof(sg_link_t), NULL);
    for (int dir = 0; dir < 2 && !hit; dir++) {
        xbt_dynar_reset(route);
        sg_host_get_route(sg_host_by_name(dir ? b : a), sg_host_by_name(dir ? a : b), route);
        for (unsigned long k = 0; k < xbt_dynar_length(route) && !hit; k++) {
            const char *name = sg_link_get_name(xbt_dynar_get_as(route, k, sg_link_t));
            for (size_t i = 0; i < W.n && !hit; i++)
                if (!strcmp(name, W.id[i]))
                    hit = W.id[i];
        }
    }
    xbt_dynar_free(&route);
    return hit;
}

int bg_platform_has_state_file(const bg_scenario_t *sc)
{
    if (bg_platform_topology(&sc->plat, sc->platform) != BG_TOPO_FILE)
        return sc->plat.link_faults[0] != '\0';   /* the generator writes state_file for faults.links only */
    int oom;
    char *text = read_text(sc->platform, &oom);
    if (!text)
        return oom;   /* unreadable: bg_platform_prepare reports it; out of memory: assume faults */
    /* Any tag outside comments with a state_file attribute (host, link, cluster, ...). */
    int found = 0;
    for (const char *p = strchr(text, '<'); p && !found; p = strchr(p + 1, '<')) {
        if (!strncmp(p, "<!--", 4)) {
            const char *close = strstr(p + 4, "-->");
            if (!close)
                break;
            p = close + 2;
            continue;
        }
        const char *end = strchr(p, '>');
        if (!end)
            break;
        size_t vl = 0;
        found = attr(p + 1, end, "state_file", &vl) != NULL;
        p = end - 1;
    }
    free(text);
    return found;
}

int bg_platform_file_links_powered(const bg_scenario_t *sc)
{
    if (bg_platform_topology(&sc->plat, sc->platform) != BG_TOPO_FILE)
        return 0;
    const size_t pl = strlen(sc->platform);
    if ((pl >= 3 && !strcmp(sc->platform + pl - 3, ".so")) || (pl >= 6 && !strcmp(sc->platform + pl - 6, ".dylib")))
        return 1;   /* SimGrid loads a platform library's code, which may set any property */
    int oom;
    char *text = read_text(sc->platform, &oom);
    if (!text)
        return 1;   /* unreadable (bg_platform_prepare reports it) or out of memory: keep the plugin */
    /* SimGrid 3.32's plugin reads wattage_range, or the older watt_range; without either a link draws 0 W. The
     * search is over the whole text (comments and hosts' properties included): a false hit only keeps the plugin. */
    const int powered = strstr(text, "watt_range") || strstr(text, "wattage_range");
    free(text);
    return powered;
}
