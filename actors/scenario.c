/* Scenario loading: the learning keys (bg_config_keys) and the simulator's own keys below, one table each, drive
 * parsing, overrides, validation, `byzgrid keys` and the config block of summary.json. INI syntax is libinih's. */
#include "bg_scenario.h"
#include "deployment.h"
#include "traffic.h"
#include "faults.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <ini.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define BG_SCENARIO_MAX_LINE 16384          /* characters in a line, newline included */
#define BG_SCENARIO_MAX_BYTES (1 << 20)     /* a scenario file's size */

/* ---------------------------------------------------------------- the simulator's keys */

static int parse_hosts(const bg_key_t *k, void *base, const char *v, char *why, size_t len)
{
    (void)k;
    bg_scenario_t *sc = base;
    if (strlen(v) >= sizeof sc->hosts_spec) {
        snprintf(why, len, "at most %zu characters", sizeof sc->hosts_spec - 1);
        return -1;
    }
    snprintf(sc->hosts_spec, sizeof sc->hosts_spec, "%s", v);
    return 0;
}

/* As written, or the default's expansion for the run's n ("w0..w19"). */
static void format_hosts(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    (void)k;
    const bg_scenario_t *sc = base;
    if (sc->hosts_spec[0])
        snprintf(buf, len, "%s", sc->hosts_spec);
    else if (sc->learn.n > 1)
        snprintf(buf, len, "w0..w%zu", sc->learn.n - 1);
    else
        snprintf(buf, len, "w0");
}

/* [platform] values in SimGrid's units: worker_* keys take a constant, a list or a distribution, the others one
 * value; the unit family follows the name (…speed: flop/s, …lat: time, else bandwidth). */
static int parse_plat_value(const bg_key_t *k, void *base, const char *v, char *why, size_t len)
{
    const bg_unit_kind_t kind = strstr(k->name, "speed") ? BG_UNIT_SPEED
                              : strstr(k->name, "lat")   ? BG_UNIT_TIME
                                                         : BG_UNIT_BANDWIDTH;
    char *dst = (char *)base + k->off;
    if (strlen(v) >= k->size) {
        snprintf(why, len, "at most %zu characters", k->size - 1);
        return -1;
    }
    if (!v[0] && !k->def[0]) {   /* worker_bw_up/down: "" = worker_bw */
        dst[0] = '\0';
        return 0;
    }
    double x;
    if (!strncmp(k->name, "worker_", 7) ? bg_value_check(v, kind, why, len) : bg_unit_parse(v, kind, &x, why, len))
        return -1;
    snprintf(dst, k->size, "%s", v);
    return 0;
}

static void format_plat_value(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    snprintf(buf, len, "%s", (const char *)base + k->off);
}

/* faults.hosts, faults.links: the list as written, its syntax checked (faults.h); names are checked once the
 * platform is loaded. */
static int parse_faults(const bg_key_t *k, void *base, const char *v, char *why, size_t len)
{
    if (strlen(v) >= k->size) {
        snprintf(why, len, "at most %zu characters", k->size - 1);
        return -1;
    }
    if (bg_faults_check_spec(v, why, len))
        return -1;
    snprintf((char *)base + k->off, k->size, "%s", v);
    return 0;
}

static void format_faults(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    snprintf(buf, len, "%s", (const char *)base + k->off);
}

#define AT(field) offsetof(bg_scenario_t, field), sizeof(((bg_scenario_t *)0)->field)
#define PV(name, field, def, help)                                                                                  \
    {"platform", name, BG_KEY_CUSTOM, AT(plat.field), def, help, NAN, NAN, 0, NULL, NULL, parse_plat_value,          \
     format_plat_value}

static const bg_key_word_t auto_word[] = {{"auto", -1}, {NULL, 0}};
static const bg_key_word_t default_word[] = {{"default", -1}, {NULL, 0}};
static const bg_key_word_t timings[] = {{"eavesdrop", 0}, {"oracle", 1}, {NULL, 0}};
static const bg_key_word_t lates[] = {{"drop", 0}, {"stale", 1}, {NULL, 0}};
static const bg_key_word_t models[] = {{"LV08", 0}, {"CM02", 0}, {NULL, 0}};
static const bg_key_word_t topologies[] = {{"auto", BG_TOPO_AUTO}, {"star", BG_TOPO_STAR}, {"racks", BG_TOPO_RACKS},
                                           {"sites", BG_TOPO_SITES}, {"fat-tree", BG_TOPO_FAT_TREE},
                                           {"file", BG_TOPO_FILE}, {NULL, 0}};
static const bg_key_word_t variabilities[] = {{"none", BG_VAR_NONE}, {"periodic", BG_VAR_PERIODIC},
                                              {"random", BG_VAR_RANDOM}, {NULL, 0}};
static const bg_key_word_t var_targets[] = {{"bw", BG_VAR_BW}, {"speed", BG_VAR_SPEED}, {"both", BG_VAR_BOTH},
                                            {NULL, 0}};
static const bg_key_word_t placements[] = {{"last", BG_PLACE_LAST},       {"first", BG_PLACE_FIRST},
                                           {"fastest", BG_PLACE_FASTEST}, {"slowest", BG_PLACE_SLOWEST},
                                           {"random", BG_PLACE_RANDOM},   {"hosts", BG_PLACE_HOSTS},
                                           {NULL, 0}};
static const bg_key_word_t energy_classes[] = {{"server", BG_ENERGY_SERVER}, {"workstation", BG_ENERGY_WORKSTATION},
                                               {"edge", BG_ENERGY_EDGE}, {NULL, 0}};
static const bg_key_word_t class_word[] = {{"class", NAN}, {NULL, 0}};
static const bg_key_word_t auto_nan[] = {{"auto", NAN}, {NULL, 0}};

/* Idle and busy Watts of each class: round figures of the order of published measurements (docs/reference.md,
 * "Energy", gives the sources), not the figures of any one machine. */
static const struct { const char *name; double idle_w, busy_w; } power_classes[] = {
    [BG_ENERGY_SERVER] = {"server", 100.0, 200.0},
    [BG_ENERGY_WORKSTATION] = {"workstation", 40.0, 120.0},
    [BG_ENERGY_EDGE] = {"edge", 3.0, 6.0},
};

const char *bg_energy_class_name(int cls) { return power_classes[cls].name; }

void bg_scenario_power(const bg_scenario_t *sc, int server, double *idle_w, double *busy_w)
{
    const int cls = server ? sc->server_class : sc->worker_class;
    const double idle = server ? sc->server_idle_w : sc->worker_idle_w;
    const double busy = server ? sc->server_busy_w : sc->worker_busy_w;
    *idle_w = isnan(idle) ? power_classes[cls].idle_w : idle;
    *busy_w = isnan(busy) ? power_classes[cls].busy_w : busy;
}

/* Column order as in bg_config_keys: section, name, type, field, default, help, min, max, flags, words, registry,
 * parse, format. */
static const bg_key_t sim_keys[] = {
    {"run", "name", BG_KEY_STRING, AT(name), "", "name of the run (output folder out/NAME; default: the file name)",
     NAN, NAN, BG_KEY_EMPTY_OK, NULL, NULL, NULL, NULL},
    {"run", "progress", BG_KEY_BOOL, AT(progress), "auto", "progress lines on stderr (auto: for runs over ~2 s)", NAN,
     NAN, 0, auto_word, NULL, NULL, NULL},
    {"run", "until_s", BG_KEY_DOUBLE, AT(until_s), "0",
     "stop at this simulated time (s): the last trace row is written at exactly this time with the model whose "
     "aggregation had finished by then; run.rounds stays a cap; 0: no limit; simulator only",
     0, NAN, 0, NULL, NULL, NULL, NULL},
    {"run", "eval_every_s", BG_KEY_DOUBLE, AT(eval_every_s), "0",
     "evaluate at simulated times k * this (s), k = 0, 1, ...: each row holds the model whose aggregation had "
     "finished by then; round-based rows (run.eval_every) are then off unless run.eval_every is set; the end row "
     "is kept; 0: off; simulator only",
     0, NAN, 0, NULL, NULL, NULL, NULL},
    {"run", "target_acc", BG_KEY_DOUBLE, AT(target_acc), "0",
     "summary.json's target block: time, rounds, bytes and energy at the first evaluation with test_acc >= this "
     "(null if never); 0: off", 0, 1, 0, NULL, NULL, NULL, NULL},
    {"run", "events", BG_KEY_BOOL, AT(events), "false",
     "write events.csv: every computation and message of every round with its simulated start, end and bytes "
     "(simulated runs only; for analysis/plot_timeline.py)",
     NAN, NAN, 0, NULL, NULL, NULL, NULL},
    {"run", "relays", BG_KEY_DOUBLE, AT(relays), "auto",
     "workers per relay actor: relays on the server's host post the broadcasts and wait for the uploads of a slice "
     "of the workers each, so that no actor holds thousands of pending messages (SimGrid's cost per message grows "
     "with that number); simulated times and outputs are the same; auto: 128 per relay from 2,000 workers on, none "
     "below; 0: none; N: at most N workers per relay (rounded down), whatever n",
     0, BG_MAX_WORKERS, 0, auto_nan, NULL, NULL, NULL},
    {"round", "participation", BG_KEY_DOUBLE, AT(participation), "1",
     "workers sampled per round among those idle and up (seeded by run.seed, a new sample every round): a fraction "
     "in (0, 1] of workers.n (rounded up), or a count > 1; 1: every worker",
     1e-9, BG_MAX_WORKERS, 0, NULL, NULL, NULL, NULL},
    {"round", "deadline_s", BG_KEY_DOUBLE, AT(deadline_s), "0",
     "the server aggregates what arrived by this many seconds after it posted the broadcast; later messages are "
     "late (round.late); 0: no deadline (wait for every sampled worker that is reachable)",
     0, NAN, 0, NULL, NULL, NULL, NULL},
    {"round", "quorum", BG_KEY_SIZE, AT(quorum), "0",
     "the server aggregates after the first q messages of the round (Byzantine ones count); 0: all of them",
     0, NAN, 0, NULL, NULL, NULL, NULL},
    {"round", "late", BG_KEY_CHOICE, AT(late_stale), "drop",
     "a message arriving after its round closed, for methods whose server keeps no per-worker state fed by "
     "increments: drop it, or apply it stale at the next aggregation; EF21-family, DIANA and DASHA messages are "
     "always applied stale (losing one would split the worker's and the server's copies)",
     NAN, NAN, 0, lates, NULL, NULL, NULL},
    {"round", "retry_s", BG_KEY_DOUBLE, AT(retry_s), "1",
     "a worker whose upload failed (a link down) sends the same message again after this many seconds, until it "
     "goes through", 1e-9, NAN, 0, NULL, NULL, NULL, NULL},
    {"round", "stall_s", BG_KEY_DOUBLE, AT(stall_s), "3600",
     "round protocols and faults: the run ends with an error when the server could reach no worker (all crashed "
     "or busy) for this many simulated seconds",
     1e-9, NAN, 0, NULL, NULL, NULL, NULL},
    {"attack", "timing", BG_KEY_CHOICE, AT(attack_oracle), "eavesdrop",
     "eavesdrop: omniscient attackers wait for the honest messages to exist; oracle: idealised, no wait", NAN, NAN, 0,
     timings, NULL, NULL, NULL},
    {"attack", "placement", BG_KEY_CHOICE, AT(attack_placement), "last",
     "which worker hosts run the Byzantine ranks: last/first f of workers.hosts, the f fastest/slowest uploaders "
     "(route bandwidth to the server; ties: CPU speed, then list order), random (run.seed), or hosts (attack.hosts)",
     NAN, NAN, 0, placements, NULL, NULL, NULL},
    {"attack", "hosts", BG_KEY_STRING, AT(attack_hosts), "",
     "placement = hosts: the f Byzantine hosts, a subset of workers.hosts (same list syntax)", NAN, NAN,
     BG_KEY_EMPTY_OK, NULL, NULL, NULL, NULL},
    {"workers", "hosts", BG_KEY_CUSTOM, AT(hosts_spec), "",
     "worker hosts in rank order: list and ranges (w0..w9, w12); default w0..w{n-1}", NAN, NAN, 0, NULL, NULL,
     parse_hosts, format_hosts},
    {"workers", "server", BG_KEY_STRING, AT(server_host), "server", "host of the parameter server", NAN, NAN, 0,
     NULL, NULL, NULL, NULL},
    {"workers", "deployment", BG_KEY_PATH, AT(deployment), "",
     "SimGrid deployment XML placing the job's actors instead of workers.hosts and workers.server: byzgrid_server "
     "(argument: a job name), byzgrid_worker and byzgrid_byzantine (the job name, then the rank); docs/plugin.md",
     NAN, NAN, 0, NULL, NULL, NULL, NULL},
    {"platform", "topology", BG_KEY_CHOICE, AT(plat.topology), "auto",
     "network: auto (file when platform.file is set, else star), or generated star, racks, sites, fat-tree; file",
     NAN, NAN, 0, topologies, NULL, NULL, NULL},
    {"platform", "file", BG_KEY_PATH, AT(platform), "", "SimGrid platform XML (topology = file)", NAN, NAN, 0, NULL,
     NULL, NULL, NULL},
    PV("worker_speed", worker_speed, "1Gf",
       "worker CPU speed: a value (2Gf), a list cycled over workers (1Gf, 4Gf), uniform(a, b), loguniform(a, b) or "
       "lognormal(median, sigma), seeded by run.seed"),
    PV("worker_bw", worker_bw, "100Mbps", "worker access-link bandwidth (both directions), as worker_speed: 10Mbps, "
       "1MBps, lists, distributions"),
    PV("worker_bw_up", worker_bw_up, "", "worker upload bandwidth (default: worker_bw); differs from "
       "worker_bw_down: two one-way links"),
    PV("worker_bw_down", worker_bw_down, "", "worker download bandwidth (default: worker_bw)"),
    PV("worker_lat", worker_lat, "1ms", "worker access-link latency (5ms, 20us), as worker_speed"),
    PV("server_speed", server_speed, "20Gf", "server CPU speed"),
    PV("server_bw", server_bw, "1Gbps", "server access-link bandwidth (SPLITDUPLEX)"),
    PV("server_lat", server_lat, "50us", "server access-link latency"),
    PV("backbone_bw", backbone_bw, "10Gbps", "backbone bandwidth (star, racks: core; sites: each site's LAN; "
       "fat-tree: server to tree)"),
    PV("backbone_lat", backbone_lat, "100us", "backbone latency"),
    {"platform", "rack_size", BG_KEY_SIZE, AT(plat.rack_size), "8", "racks: workers per top-of-rack switch", 1, NAN,
     0, NULL, NULL, NULL, NULL},
    PV("rack_uplink_bw", rack_uplink_bw, "1Gbps", "racks: bandwidth of each rack's uplink to the core "
       "(oversubscribed when rack_size x worker_bw exceeds it)"),
    PV("rack_uplink_lat", rack_uplink_lat, "100us", "racks: latency of each rack's uplink"),
    {"platform", "sites", BG_KEY_SIZE, AT(plat.sites), "2", "sites: number of sites (data centres, regions)", 1,
     NAN, 0, NULL, NULL, NULL, NULL},
    PV("wan_bw", wan_bw, "100Mbps", "sites: bandwidth of each site's WAN link"),
    PV("wan_lat", wan_lat, "20ms", "sites: latency of each site's WAN link"),
    {"platform", "server_site", BG_KEY_SIZE, AT(plat.server_site), "0", "sites: the site holding the server", 0, NAN,
     0, NULL, NULL, NULL, NULL},
    {"platform", "fat_tree", BG_KEY_STRING, AT(plat.fat_tree), "auto",
     "fat-tree: SimGrid topo_parameters 'levels;downs;ups;counts' (e.g. 2;4,4;1,2;1,2) or auto", NAN, NAN, 0, NULL,
     NULL, NULL, NULL},
    {"platform", "worker_bw_profile", BG_KEY_PATH, AT(plat.bw_profile), "",
     "profile of bandwidth ratios ('time ratio' lines, optional PERIODICITY p) applied to every worker link", NAN,
     NAN, 0, NULL, NULL, NULL, NULL},
    {"platform", "worker_speed_profile", BG_KEY_PATH, AT(plat.speed_profile), "",
     "profile of speed ratios ('time ratio' lines, optional PERIODICITY p) applied to every worker", NAN, NAN, 0,
     NULL, NULL, NULL, NULL},
    {"platform", "variability", BG_KEY_CHOICE, AT(plat.variability), "none",
     "generated worker variability: periodic (1 then 1 - amplitude, each half a period) or random (a level in "
     "[1 - amplitude, 1] per period, seeded)", NAN, NAN, 0, variabilities, NULL, NULL, NULL},
    {"platform", "variability_on", BG_KEY_CHOICE, AT(plat.variability_on), "bw",
     "what varies: worker link bandwidth, worker speed or both", NAN, NAN, 0, var_targets, NULL, NULL, NULL},
    {"platform", "variability_period", BG_KEY_DOUBLE, AT(plat.variability_period), "20",
     "variability period in seconds", 0, NAN, BG_KEY_MIN_OPEN, NULL, NULL, NULL, NULL},
    {"platform", "variability_amplitude", BG_KEY_DOUBLE, AT(plat.variability_amplitude), "0.5",
     "variability depth: the lowest ratio is 1 - amplitude", 0, 1, BG_KEY_MAX_OPEN, NULL, NULL, NULL, NULL},
    {"platform", "network_model", BG_KEY_STRING, AT(network_model), "LV08",
     "SimGrid network model: LV08 (realistic TCP) or CM02 (analytic max-min)", NAN, NAN, 0, models, NULL, NULL, NULL},
    {"platform", "crosstraffic", BG_KEY_BOOL, AT(crosstraffic), "default",
     "model TCP ACK traffic (default: SimGrid's, on)", NAN, NAN, 0, default_word, NULL, NULL, NULL},
    {"platform", "tcp_gamma", BG_KEY_DOUBLE, AT(tcp_gamma), "default",
     "TCP window bound in bytes (0: no bound; default: SimGrid's)", 0, NAN, 0, default_word, NULL, NULL, NULL},
    {"energy", "server_class", BG_KEY_CHOICE, AT(server_class), "server",
     "power class of the server's host: server 100/200 W, workstation 40/120 W, edge 3/6 W (idle/busy)", NAN, NAN,
     0, energy_classes, NULL, NULL, NULL},
    {"energy", "worker_class", BG_KEY_CHOICE, AT(worker_class), "workstation",
     "power class of every worker's host (the same classes)", NAN, NAN, 0, energy_classes, NULL, NULL, NULL},
    {"energy", "server_idle_w", BG_KEY_DOUBLE, AT(server_idle_w), "class",
     "idle Watts of the server's host (class: energy.server_class's)", 0, NAN, 0, class_word, NULL, NULL, NULL},
    {"energy", "server_busy_w", BG_KEY_DOUBLE, AT(server_busy_w), "class",
     "Watts of the server's host with every core busy", 0, NAN, 0, class_word, NULL, NULL, NULL},
    {"energy", "worker_idle_w", BG_KEY_DOUBLE, AT(worker_idle_w), "class",
     "idle Watts of each worker's host (class: energy.worker_class's)", 0, NAN, 0, class_word, NULL, NULL, NULL},
    {"energy", "worker_busy_w", BG_KEY_DOUBLE, AT(worker_busy_w), "class",
     "Watts of each worker's host with every core busy", 0, NAN, 0, class_word, NULL, NULL, NULL},
    {"energy", "link_idle_w", BG_KEY_DOUBLE, AT(plat.link_idle_w), "0",
     "Watts of every generated link with no traffic (both 0: links not counted). Written as the link's "
     "wattage_range = idle:busy for SimGrid's link energy plugin, whose power is idle + (busy - idle) * used "
     "bandwidth / bandwidth, sampled at each start and end of a transfer crossing the link and charged for the time "
     "since the link's previous sample (the last at the run's end). Not on <backbone> tags (star's bb, sites' "
     "site<s>_lan) nor fat-tree's inner links (SimGrid's XML takes no link property there); topology = file keeps "
     "its XML's wattage_range; no link energy on platforms with WiFi links", 0, NAN, 0, NULL, NULL, NULL, NULL},
    {"energy", "link_busy_w", BG_KEY_DOUBLE, AT(plat.link_busy_w), "0",
     "Watts of every generated link carrying traffic at its full bandwidth (see energy.link_idle_w)", 0, NAN, 0,
     NULL, NULL, NULL, NULL},
    {"traffic", "flows", BG_KEY_STRING, AT(traffic), "",
     "background transfers sharing the links, items separated by ';': constant FROM -> TO RATE | periodic FROM -> TO "
     "SIZE every PERIOD | poisson FROM -> TO SIZE N/s, each optionally 'at T' (its start); FROM and TO are hosts or "
     "lists (w0..w3,server; no blanks in TO); seeded by run.seed; docs/plugin.md",
     NAN, NAN, BG_KEY_EMPTY_OK, NULL, NULL, NULL, NULL},
    {"faults", "hosts", BG_KEY_CUSTOM, AT(faults_hosts), "",
     "host outages: comma-separated items NAME@T (down from T on, never back) or NAME@T1..T2 (down from T1, up "
     "again at T2), times with a SimGrid unit (120s, 5m, 500ms); one name may repeat with intervals apart; NAME is "
     "a host of the platform (w3, server)", NAN, NAN, 0, NULL, NULL, parse_faults, format_faults},
    {"faults", "links", BG_KEY_CUSTOM, AT(plat.link_faults), "",
     "link outages, same syntax (l_w3@100s..200s); generated platforms only: each named link gets a state profile "
     "<id>.state next to platform.xml (l_w3: both directions; l_w3_UP, l_w3_DOWN: one); with platform.topology = "
     "file, put state_file on the link in your XML", NAN, NAN, 0, NULL, NULL, parse_faults, format_faults},
    {"faults", "mtbf_s", BG_KEY_DOUBLE, AT(faults_mtbf_s), "0",
     "seeded outages: every worker's host (not the server's) alternates up-times drawn from an exponential of this "
     "mean (s) and down-times of mean faults.mttr_s, from run.seed (one stream per worker rank); 0: off", 0, NAN, 0,
     NULL, NULL, NULL, NULL},
    {"faults", "mttr_s", BG_KEY_DOUBLE, AT(faults_mttr_s), "0",
     "mean down-time (s) of the seeded outages; must be > 0 when faults.mtbf_s > 0 (ignored when it is 0)", 0, NAN,
     0, NULL, NULL, NULL, NULL},
};
#define N_SIM_KEYS (sizeof sim_keys / sizeof sim_keys[0])

static const char *const sections[] = {"run", "data", "partition", "model", "method", "compressor", "downlink",
                                       "aggregator", "attack", "workers", "round", "platform", "energy", "faults", "traffic",
                                       NULL};

/* Every key in listing order: section by section, the learning keys of a section, then the simulator's. */
typedef struct key_list {
    size_t n;
    const bg_key_t *key[BG_SCENARIO_MAX_KEYS];
    unsigned char learning[BG_SCENARIO_MAX_KEYS];   /* stored in sc->learn (else in the scenario itself) */
} key_list_t;

static void list_keys(key_list_t *l)
{
    l->n = 0;
    for (size_t s = 0; sections[s]; s++)
        for (int learning = 1; learning >= 0; learning--) {
            const bg_key_t *t = learning ? bg_config_keys : sim_keys;
            const size_t nt = learning ? bg_config_n_keys : N_SIM_KEYS;
            for (size_t k = 0; k < nt && l->n < BG_SCENARIO_MAX_KEYS; k++)
                if (!strcmp(t[k].section, sections[s])) {
                    l->key[l->n] = &t[k];
                    l->learning[l->n++] = (unsigned char)learning;
                }
        }
}

const bg_key_t *bg_scenario_key(size_t i, int *learning)
{
    key_list_t l;
    list_keys(&l);
    if (i >= l.n)
        return NULL;
    *learning = l.learning[i];
    return l.key[i];
}

static long key_index(const key_list_t *l, const char *section, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->key[i]->section, section) && !strcmp(l->key[i]->name, name))
            return (long)i;
    return -1;
}

/* Where key k of the list is stored in sc (learning keys in sc->learn). */
static void *key_base(const key_list_t *l, size_t i, const bg_scenario_t *sc)
{
    return l->learning[i] ? (void *)&sc->learn : (void *)sc;
}

const char *bg_data_dir(void)
{
    static char buf[1024];
    const char *env = getenv("BYZGRID_DATA_DIR");
    if (env && *env)
        return env;
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/a9a.gz", BYZGRID_SOURCE_DATA_DIR);
    if (access(probe, R_OK) == 0)
        return BYZGRID_SOURCE_DATA_DIR;
    snprintf(buf, sizeof buf, "%s", BYZGRID_INSTALL_DATA_DIR);
    return buf;
}

typedef struct parse_ctx {
    bg_scenario_t *sc;
    bg_err_t *err;
    FILE *fp;
    const char *file;     /* file name for errors ("--set" for overrides) */
    long line;
    char dir[1024];       /* base for relative paths */
    int from;             /* BG_FROM_FILE or BG_FROM_SET */
    int failed;
    char *buf;            /* reader's line (getline) */
    size_t cap;
} parse_ctx_t;

static int fail(parse_ctx_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parse_ctx_t *c, int code, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    char buf[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bg_err_set(c->err, code, c->file, c->line, "%s", buf);
    c->failed = 1;
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx_t *c = user;
    if (c->failed)
        return 1;   /* report only the first error */
    if (!section[0])
        return fail(c, BG_EINVAL, "key '%s' outside any [section]", name);
    size_t s = 0;
    while (sections[s] && strcmp(sections[s], section))
        s++;
    char list[600] = "";
    if (!sections[s]) {
        for (size_t i = 0; sections[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", sections[i]);
        return fail(c, BG_EINVAL, "unknown section [%s] (known: %s)", section, list);
    }
    key_list_t l;
    list_keys(&l);
    long idx = key_index(&l, section, name);
    if (idx < 0) {
        for (size_t i = 0; i < l.n; i++)
            if (!strcmp(l.key[i]->section, section))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                         l.key[i]->name);
        return fail(c, BG_EINVAL, "unknown key '%s' in [%s] (known: %s)", name, section, list);
    }
    if (!value[0])
        return fail(c, BG_EINVAL, "%s.%s has no value", section, name);
    int rc = bg_key_set(l.key[idx], key_base(&l, (size_t)idx, c->sc), value, c->dir, c->err);
    if (rc) {
        /* the key table's message, placed at this line */
        snprintf(c->err->file, sizeof c->err->file, "%s", c->file);
        c->err->line = c->line;
        c->failed = 1;
        return 0;
    }
    c->sc->src[idx].from = c->from;
    c->sc->src[idx].line = c->line;
    return 1;
}

/* inih reads through this one whole line at a time (fgets would hand it a long line in pieces, each counted as a
 * line): a line that does not fit inih's buffer of num bytes, or that holds a NUL byte, stops the parse with one
 * error naming it. */
static char *reader(char *str, int num, void *stream)
{
    parse_ctx_t *c = stream;
    if (c->failed)
        return NULL;
    ssize_t n = getline(&c->buf, &c->cap, c->fp);
    if (n < 0)
        return NULL;   /* end of file (a read error: ferror, after the parse) */
    c->line++;
    if (strlen(c->buf) != (size_t)n) {
        fail(c, BG_EFORMAT, "a NUL byte in the line (a scenario is a text file)");
        return NULL;
    }
    if (n - (c->buf[n - 1] == '\n') > num - 3) {   /* inih wants room for '\r', '\n' and '\0' */
        fail(c, BG_EINVAL, "line longer than %d characters", num - 3);
        return NULL;
    }
    memcpy(str, c->buf, (size_t)n + 1);
    return str;
}

static void scenario_defaults(bg_scenario_t *sc)
{
    memset(sc, 0, sizeof *sc);
    bg_config_default(&sc->learn);
    bg_err_t err;
    if (bg_keys_defaults(sim_keys, N_SIM_KEYS, sc, &err))
        abort();   /* a default the table itself rejects: a bug, caught by test_scenario */
    snprintf(sc->learn.data_dir, sizeof sc->learn.data_dir, "%s", bg_data_dir());
}

/* "w0..w19, w25 edge3" -> names. A range a..b needs the same prefix and numeric suffixes. Fills at most max names
 * into out (*count of them) and counts every name listed (*listed); key names the list in errors. */
static int expand_names(const char *spec_in, const char *key, char (*out)[BG_MAX_HOSTNAME], size_t max,
                        size_t *count, size_t *listed, bg_err_t *err)
{
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", spec_in);
    char *save = NULL;
    *count = *listed = 0;
    for (char *tok = strtok_r(spec, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        char *dots = strstr(tok, "..");
        if (!dots) {
            if (*count < max)
                snprintf(out[(*count)++], BG_MAX_HOSTNAME, "%s", tok);
            ++*listed;
            continue;
        }
        *dots = '\0';
        const char *a = tok, *b = dots + 2;
        size_t pa = strcspn(a, "0123456789"), pb = strcspn(b, "0123456789");
        char *ea, *eb;
        errno = 0;   /* digits only (strcspn stopped at the first), so no sign; ERANGE: too many digits */
        unsigned long long lo = strtoull(a + pa, &ea, 10), hi = strtoull(b + pb, &eb, 10);
        if (pa != pb || strncmp(a, b, pa) || !a[pa] || !b[pb] || *ea || *eb || errno == ERANGE || hi < lo)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "%s: bad range '%s..%s' (expected e.g. w0..w19: same prefix, rising numbers)", key, a,
                              b);
        if (hi - lo >= BG_MAX_WORKERS || *listed + (hi - lo) >= BG_MAX_WORKERS)
            return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: '%s..%s' makes more than %d hosts (the most workers a "
                              "run may have)", key, a, b, BG_MAX_WORKERS);
        for (unsigned long long v = lo; v <= hi; v++, ++*listed)
            if (*count < max)
                snprintf(out[(*count)++], BG_MAX_HOSTNAME, "%.*s%llu", (int)pa, a, v);
    }
    return BG_OK;
}

int bg_host_list(const char *spec, const char *key, char (**out)[BG_MAX_HOSTNAME], size_t *n, bg_err_t *err)
{
    size_t count, listed;
    *out = NULL;
    *n = 0;
    int rc = expand_names(spec, key, NULL, 0, &count, &listed, err);
    if (rc)
        return rc;
    if (!listed)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "%s: no host named", key);
    *out = calloc(listed, sizeof **out);
    if (!*out)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    expand_names(spec, key, *out, listed, &count, &listed, err);
    *n = count;
    return BG_OK;
}

static int expand_hosts(bg_scenario_t *sc, bg_err_t *err)
{
    size_t n = sc->learn.n;
    free(sc->hosts);
    sc->hosts = calloc(n ? n : 1, sizeof *sc->hosts);
    if (!sc->hosts)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    sc->n_hosts = 0;
    if (!sc->hosts_spec[0]) {
        for (size_t i = 0; i < n; i++)
            snprintf(sc->hosts[i], BG_MAX_HOSTNAME, "w%zu", i);
        sc->n_hosts = n;
        return BG_OK;
    }
    size_t listed;
    int rc = expand_names(sc->hosts_spec, "workers.hosts", sc->hosts, n, &sc->n_hosts, &listed, err);
    if (rc)
        return rc;
    if (listed != n)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "workers.hosts lists %zu hosts but workers.n = %zu", listed, n);
    return BG_OK;
}

/* ---------------------------------------------------------------- attacker placement */

const char *bg_scenario_placement_name(const bg_scenario_t *sc)
{
    for (const bg_key_word_t *w = placements; w->word; w++)
        if ((int)w->value == sc->attack_placement)
            return w->word;
    return "?";
}

/* A host's rank key for fastest (or, negated, slowest): upload bandwidth, then CPU speed, then list order. */
typedef struct place_key {
    double bw, speed;
    size_t i;
} place_key_t;

static int cmp_place(const void *pa, const void *pb)
{
    const place_key_t *a = pa, *b = pb;
    if (a->bw != b->bw)
        return a->bw > b->bw ? -1 : 1;
    if (a->speed != b->speed)
        return a->speed > b->speed ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* chosen[i] = 1 for the f hosts (workers.hosts order) that attack.placement = hosts names. */
static int chosen_by_name(const bg_scenario_t *sc, unsigned char *chosen, bg_err_t *err)
{
    const size_t n = sc->n_hosts, f = sc->learn.f;
    char (*names)[BG_MAX_HOSTNAME] = calloc(f, sizeof *names);
    if (!names)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    size_t count, listed;
    int rc = expand_names(sc->attack_hosts, "attack.hosts", names, f, &count, &listed, err);
    if (!rc && listed != f)
        rc = bg_err_set(err, BG_EINVAL, NULL, 0, "attack.hosts lists %zu hosts but attack.f = %zu", listed, f);
    for (size_t k = 0; !rc && k < count; k++) {
        size_t i = 0;
        while (i < n && strcmp(sc->hosts[i], names[k]))
            i++;
        if (i == n)
            rc = bg_err_set(err, BG_EINVAL, NULL, 0, "attack.hosts: '%s' is not one of workers.hosts", names[k]);
        else if (chosen[i])
            rc = bg_err_set(err, BG_EINVAL, NULL, 0, "attack.hosts: '%s' is listed twice", names[k]);
        else
            chosen[i] = 1;
    }
    free(names);
    return rc;
}

int bg_scenario_place(bg_scenario_t *sc, const double *up_bw, const double *speed, bg_err_t *err)
{
    const size_t n = sc->n_hosts, f = sc->learn.f;
    const int p = sc->attack_placement;
    sc->placement_applied = 1;
    if (p == BG_PLACE_LAST || f == 0 || f >= n)
        return BG_OK;   /* f >= n is the engine's error (attack.f) */
    if ((p == BG_PLACE_FASTEST || p == BG_PLACE_SLOWEST) && (!up_bw || !speed)) {
        sc->placement_applied = 0;
        return BG_OK;
    }
    unsigned char *chosen = calloc(n, 1);
    size_t *order = malloc(n * sizeof *order);
    place_key_t *keys = p == BG_PLACE_FASTEST || p == BG_PLACE_SLOWEST ? malloc(n * sizeof *keys) : NULL;
    char (*placed)[BG_MAX_HOSTNAME] = malloc(n * sizeof *placed);
    int rc = !chosen || !order || !placed || ((p == BG_PLACE_FASTEST || p == BG_PLACE_SLOWEST) && !keys)
                 ? bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory")
                 : BG_OK;
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        if (p == BG_PLACE_FIRST) {
            memset(chosen, 1, f);
        } else if (p == BG_PLACE_RANDOM) {
            gsl_rng *r = bg_rng_stream(sc->learn.seed, BG_RNG_PLACEMENT, 0);
            if (!r) {
                rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
            } else {
                size_t *pick = order;   /* gsl_ran_choose keeps the source order; order is free until the end */
                size_t *all = malloc(n * sizeof *all);
                if (!all) {
                    rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
                } else {
                    for (size_t i = 0; i < n; i++)
                        all[i] = i;
                    gsl_ran_choose(r, pick, f, all, n, sizeof *all);
                    for (size_t k = 0; k < f; k++)
                        chosen[pick[k]] = 1;
                    free(all);
                }
                gsl_rng_free(r);
            }
        } else if (p == BG_PLACE_HOSTS) {
            rc = chosen_by_name(sc, chosen, err);
        } else {
            const double sign = p == BG_PLACE_FASTEST ? 1.0 : -1.0;
            for (size_t i = 0; i < n; i++)
                keys[i] = (place_key_t){sign * up_bw[i], sign * speed[i], i};
            qsort(keys, n, sizeof *keys, cmp_place);
            for (size_t k = 0; k < f; k++)
                chosen[keys[k].i] = 1;
        }
    }
    if (!rc) {
        size_t r = 0;
        for (int byz = 0; byz <= 1; byz++)
            for (size_t i = 0; i < n; i++)
                if (chosen[i] == byz)
                    memcpy(placed[r++], sc->hosts[i], BG_MAX_HOSTNAME);
        memcpy(sc->hosts, placed, n * sizeof *placed);
    } else {
        bg_err_key(err, "attack.hosts");
    }
    free(chosen);
    free(order);
    free(keys);
    free(placed);
    return rc;
}

void bg_scenario_locate(const bg_scenario_t *sc, bg_err_t *err)
{
    if (!err->key[0] || err->file[0])
        return;
    char section[64];
    const char *dot = strchr(err->key, '.');
    snprintf(section, sizeof section, "%.*s", dot ? (int)(dot - err->key) : 0, err->key);
    key_list_t l;
    list_keys(&l);
    long i = dot ? key_index(&l, section, dot + 1) : -1;
    snprintf(err->file, sizeof err->file, "%s", i >= 0 && sc->src[i].from == BG_FROM_SET ? "--set" : sc->path);
    /* A key that kept its default points at the scenario file itself. */
    err->line = i >= 0 && sc->src[i].from == BG_FROM_FILE ? sc->src[i].line : 0;
}

/* The [faults] keys together (each list's syntax was checked as it was read). */
/* traffic.flows: its syntax (the hosts and routes are checked against the platform). */
static int check_traffic(const bg_scenario_t *sc, bg_err_t *err)
{
    if (!sc->traffic[0])
        return BG_OK;
    bg_flows_t f;
    int rc = bg_flows_parse(sc->traffic, &f, err);
    bg_flows_free(&f);
    return rc;
}

static int check_faults(const bg_scenario_t *sc, bg_err_t *err)
{
    if (sc->plat.link_faults[0] && bg_platform_topology(&sc->plat, sc->platform) == BG_TOPO_FILE)
        return bg_err_keyed(err, "faults.links",
                            bg_err_set(err, BG_EINVAL, NULL, 0, "faults.links is for generated platforms only: with "
                                       "platform.topology = file, put state_file=\"...\" on the link in your "
                                       "platform XML"));
    if (sc->faults_mtbf_s > 0 && !(sc->faults_mttr_s > 0))
        return bg_err_keyed(err, "faults.mttr_s",
                            bg_err_set(err, BG_EINVAL, NULL, 0, "faults.mtbf_s = %g needs faults.mttr_s > 0 (the mean "
                                       "down-time of a worker's host, in seconds)", sc->faults_mtbf_s));
    return BG_OK;
}

int bg_scenario_load(const char *path, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err)
{
    scenario_defaults(sc);
    snprintf(sc->path, sizeof sc->path, "%s", path);

    parse_ctx_t c = {.sc = sc, .err = err, .file = path, .from = BG_FROM_FILE};
    snprintf(c.dir, sizeof c.dir, "%s", path);
    char *slash = strrchr(c.dir, '/');
    if (slash)
        *slash = '\0';
    else
        c.dir[0] = '\0';
    /* A regular file of bounded size: a FIFO, a device (/dev/zero) or a folder would block or never end. */
    int fd, orc = bg_open_regular(path, "scenario", BG_SCENARIO_MAX_BYTES, &fd, err);
    if (orc)
        return orc;
    c.fp = fdopen(fd, "r");
    if (!c.fp) {
        close(fd);
        return bg_err_set(err, BG_ENOMEM, path, 0, "cannot open the scenario: %s", strerror(errno));
    }
    ini_allow_multiline = false;   /* an indented line is a mistake, not a continuation */
    ini_use_stack = false;
    ini_allow_realloc = false;     /* one buffer of ini_max_line bytes; reader() refuses longer lines */
    ini_max_line = ini_initial_alloc = BG_SCENARIO_MAX_LINE + 3;
    int rc = ini_parse_stream(reader, &c, handler, &c);
    const int read_error = ferror(c.fp);
    fclose(c.fp);
    free(c.buf);
    if (c.failed)
        return err->code;
    if (read_error)
        return bg_err_set(err, BG_EIO, path, 0, "cannot read the scenario");
    if (rc > 0)
        return bg_err_set(err, BG_EINVAL, path, rc, "malformed line (expected [section], key = value, or a ; comment)");
    if (rc < 0)
        return bg_err_set(err, BG_EIO, path, 0, "cannot read the scenario");

    for (size_t i = 0; i < n_sets; i++) {
        const char *s = sets[i];
        const char *dotp = strchr(s, '.'), *eq = strchr(s, '=');
        if (!dotp || !eq || dotp > eq)
            return bg_err_set(err, BG_EINVAL, "--set", 0, "'%s': expected section.key=value", s);
        char section[64], key[64];
        snprintf(section, sizeof section, "%.*s", (int)(dotp - s), s);
        snprintf(key, sizeof key, "%.*s", (int)(eq - dotp - 1), dotp + 1);
        parse_ctx_t o = {.sc = sc, .err = err, .file = "--set", .line = 0, .from = BG_FROM_SET};
        if (!getcwd(o.dir, sizeof o.dir))   /* --set paths are relative to where the command runs */
            o.dir[0] = '\0';
        handler(&o, section, key, eq + 1);
        if (o.failed)
            return err->code;
    }
    if (!sc->name[0]) {   /* run.name defaults to the scenario's file name without .ini */
        const char *base = strrchr(path, '/');
        snprintf(sc->name, sizeof sc->name, "%s", base ? base + 1 : path);
        char *dot = strrchr(sc->name, '.');
        if (dot && dot != sc->name)
            *dot = '\0';
    }
    /* A method's natural compressor when the scenario names none (momentum SGD is the uncompressed baseline,
     * BR-CSGD/DIANA/MARINA/DASHA need an unbiased one). */
    key_list_t l;
    list_keys(&l);
    long ci = key_index(&l, "compressor", "name");
    const bg_method_ops_t *mops = bg_method_find(sc->learn.method.name);
    if (sc->src[ci].from == BG_FROM_DEFAULT && mops && mops->default_compressor) {
        snprintf(sc->learn.comp.name, sizeof sc->learn.comp.name, "%s", mops->default_compressor);
        sc->src[ci].from = BG_FROM_METHOD;
    }
    if (!sc->learn.dataset[0] && !sc->learn.train_path[0])
        return bg_err_set(err, BG_EINVAL, path, 0, "no data: set data.dataset (see byzgrid list) or data.train");
    int r = expand_hosts(sc, err);
    if (r) {
        bg_err_key(err, "workers.hosts");
        bg_scenario_locate(sc, err);
        return r;
    }
    if (sc->deployment[0]) {
        static const char *const placed[][2] = {{"workers", "hosts"}, {"workers", "server"}, {"attack", "placement"},
                                                {"attack", "hosts"}};
        for (size_t k = 0; k < sizeof placed / sizeof placed[0]; k++)
            if (bg_scenario_is_set(sc, placed[k][0], placed[k][1])) {
                bg_err_set(err, BG_EINVAL, NULL, 0, "%s.%s and workers.deployment both place actors: the deployment "
                           "file names every host, keep one of them", placed[k][0], placed[k][1]);
                bg_err_key(err, "workers.deployment");
                bg_scenario_locate(sc, err);
                return BG_EINVAL;
            }
        r = bg_deployment_read(sc->deployment, NULL, 0, sc, sc->deploy_job, err);
        if (!r && ((r = check_faults(sc, err)) || (r = check_traffic(sc, err))))
            bg_scenario_locate(sc, err);
        return r;
    }
    if (sc->attack_placement == BG_PLACE_HOSTS && !sc->attack_hosts[0])
        r = bg_err_keyed(err, "attack.placement",
                         bg_err_set(err, BG_EINVAL, NULL, 0, "attack.placement = hosts needs attack.hosts"));
    else if (sc->attack_placement != BG_PLACE_HOSTS && sc->attack_hosts[0])
        r = bg_err_keyed(err, "attack.hosts",
                         bg_err_set(err, BG_EINVAL, NULL, 0, "attack.hosts is only used with attack.placement = hosts "
                                    "(it is %s)", bg_scenario_placement_name(sc)));
    else
        r = bg_scenario_place(sc, NULL, NULL, err);   /* fastest and slowest wait for the platform */
    if (!r && !(r = check_faults(sc, err)))
        r = check_traffic(sc, err);
    if (r)
        bg_scenario_locate(sc, err);
    return r;
}

int bg_scenario_is_set(const bg_scenario_t *sc, const char *section, const char *name)
{
    key_list_t l;
    list_keys(&l);
    long i = key_index(&l, section, name);
    return i >= 0 && (sc->src[i].from == BG_FROM_FILE || sc->src[i].from == BG_FROM_SET);
}

void bg_scenario_destroy(bg_scenario_t *sc)
{
    free(sc->deploy_line);
    sc->deploy_line = NULL;
    free(sc->hosts);
    sc->hosts = NULL;
    sc->n_hosts = 0;
}

void bg_scenario_print_keys(FILE *out)
{
    const char *cur = "";
    char allowed[256];
    key_list_t l;
    list_keys(&l);
    int wn = 0, wd = 0;   /* column widths: the longest name and default */
    for (size_t i = 0; i < l.n; i++) {
        wn = (int)fmax(wn, strlen(l.key[i]->name));
        wd = (int)fmax(wd, strlen(l.key[i]->def));
    }
    for (size_t i = 0; i < l.n; i++) {
        const bg_key_t *k = l.key[i];
        if (strcmp(cur, k->section)) {
            cur = k->section;
            fprintf(out, "  [%s]\n", cur);
        }
        bg_key_allowed(k, allowed, sizeof allowed);
        fprintf(out, "    %-*s %-*s %s%s%s%s\n", wn, k->name, wd, k->def, k->help, allowed[0] ? " [" : "", allowed,
                allowed[0] ? "]" : "");
    }
}

static const char *const from_names[] = {"default", "file", "--set", "method"};

void bg_scenario_write_config(bg_json_t *j, const bg_scenario_t *sc, const bg_config_t *learn)
{
    char buf[4200];
    key_list_t l;
    list_keys(&l);
    for (int pass = 0; pass < 2; pass++) {
        bg_json_begin(j, pass ? "config_source" : "config");
        const char *cur = NULL;
        for (size_t i = 0; i < l.n; i++) {
            const bg_key_t *k = l.key[i];
            if (!cur || strcmp(cur, k->section)) {
                if (cur)
                    bg_json_end(j);
                cur = k->section;
                bg_json_begin(j, cur);
            }
            if (pass) {
                bg_json_str(j, k->name, from_names[sc->src[i].from]);
                continue;
            }
            bg_key_format(k, l.learning[i] ? (const void *)learn : (const void *)sc, buf, sizeof buf);
            switch (bg_key_json_kind(k, buf)) {
            case BG_KEY_JSON_NUMBER:
                bg_json_raw(j, k->name, buf);
                break;
            case BG_KEY_JSON_BOOL:
                bg_json_bool(j, k->name, !strcmp(buf, "true"));
                break;
            case BG_KEY_JSON_ARRAY: {
                char arr[4300];
                snprintf(arr, sizeof arr, "[%s]", buf);
                bg_json_raw(j, k->name, arr);
                break;
            }
            default:
                bg_json_str(j, k->name, buf);
            }
        }
        if (cur)
            bg_json_end(j);
        bg_json_end(j);
    }
}

const char *bg_scenario_protocol_key(const bg_scenario_t *sc)
{
    const double n = (double)sc->learn.n, p = sc->participation;
    if (p < 1.0 || (p > 1.0 && p < n))
        return "round.participation";
    if (sc->deadline_s > 0)
        return "round.deadline_s";
    if (sc->quorum > 0 && (double)sc->quorum < n)
        return "round.quorum";
    if (sc->faults_hosts[0])
        return "faults.hosts";
    if (sc->faults_mtbf_s > 0)
        return "faults.mtbf_s";
    if (sc->plat.link_faults[0])
        return "faults.links";
    return NULL;
}
