/* Scenario files: an INI file (parsed by libinih) joining the learning configuration, the platform and the
 * placement of server and workers on its hosts. Every error names the file and line that caused it. */
#ifndef BG_SCENARIO_H
#define BG_SCENARIO_H

#include "bg_engine.h"
#include "bg_platform.h"
#include "bg_trace.h"

#define BG_MAX_HOSTNAME 128
#define BG_SCENARIO_MAX_KEYS 256

enum { BG_FROM_DEFAULT = 0, BG_FROM_FILE, BG_FROM_SET, BG_FROM_METHOD };

/* attack.placement: which f of the worker hosts run the Byzantine ranks n - f .. n - 1. */
enum { BG_PLACE_LAST = 0, BG_PLACE_FIRST, BG_PLACE_FASTEST, BG_PLACE_SLOWEST, BG_PLACE_RANDOM, BG_PLACE_HOSTS };

typedef struct bg_scenario {
    bg_config_t learn;
    char path[1024];             /* the scenario file */
    char name[128];              /* run.name, default: file name without .ini */
    char platform[1024];         /* platform.file, resolved */
    bg_platform_spec_t plat;     /* platform.topology and the generated platform's keys */
    char network_model[16];      /* LV08 (default) or CM02 */
    int crosstraffic;            /* -1: SimGrid's default (on) */
    double tcp_gamma;            /* < 0: SimGrid's default */
    char server_host[BG_MAX_HOSTNAME];
    char (*hosts)[BG_MAX_HOSTNAME];  /* n worker hosts in rank order: worker i runs on hosts[i]; ranks n - f .. n - 1
                                      * are Byzantine; attack.placement decides which hosts those are */
    size_t n_hosts;
    char hosts_spec[4096];       /* workers.hosts as written ("" = w0..w{n-1}) */
    char deployment[1024];       /* workers.deployment, resolved ("" = none): a SimGrid deployment XML placing the
                                  * server and every rank (deployment.h); hosts[] and server_host come from it */
    char deploy_job[64];         /* the job name its actors carry */
    char traffic[4096];          /* traffic.flows as written ("" = none; traffic.h parses it) */
    long *deploy_line;           /* n + 1: the file line of rank i's actor, then the server's (NULL: no file) */
    int attack_oracle;           /* attack.timing: 0 eavesdrop (default), 1 oracle */
    int attack_placement;        /* attack.placement: BG_PLACE_* (which hosts run the Byzantine ranks) */
    char attack_hosts[4096];     /* attack.hosts as written (placement = hosts) */
    int placement_applied;       /* hosts[] is in rank order for attack.placement (0: fastest/slowest, no platform) */
    int progress;                /* run.progress: -1 auto, 0 off, 1 on */
    double until_s;              /* run.until_s: stop at this simulated time (0: no limit) */
    double eval_every_s;         /* run.eval_every_s: evaluate at k * this simulated time (0: off) */
    double target_acc;           /* run.target_acc: report when test_acc first reaches it (0: off) */
    /* [energy]: idle and busy Watts of the server's host and of every worker's host (the class's figures unless
     * overridden; NAN = the class's). */
    int server_class, worker_class;   /* bg_energy_class_t */
    double server_idle_w, server_busy_w, worker_idle_w, worker_busy_w;
    int events;                  /* run.events: write events.csv (simulated runs) */
    double relays;               /* run.relays: workers per relay actor (0: none; NAN: auto) */
    /* [round]: round protocols (all at their defaults: synchronous rounds, every worker, no deadline) */
    double participation;        /* (0, 1]: fraction of the workers sampled per round; > 1: that many workers */
    double deadline_s;           /* aggregate what arrived this long after the broadcast (0: no deadline) */
    size_t quorum;               /* aggregate after the first q messages (0: all of the round's workers) */
    int late_stale;              /* round.late: 0 drop, 1 stale (stateless methods; mirrored ones always stale) */
    double retry_s;              /* a worker whose upload failed (a link down) sends it again after this */
    double stall_s;              /* the run ends (exit 1) when no worker could be reached for this long */
    /* [faults] (faults.links lives in plat.link_faults: the platform generator writes its state profiles) */
    char faults_hosts[4096];     /* faults.hosts as written: NAME@T, NAME@T1..T2 items ("" = none; faults.h parses) */
    double faults_mtbf_s;        /* faults.mtbf_s: mean up-time of every worker's host (0: no seeded outages) */
    double faults_mttr_s;        /* faults.mttr_s: mean down-time (> 0 when faults_mtbf_s > 0) */
    /* Where every key's value came from, in bg_scenario_key order (for errors found after parsing, and for
     * summary.json): BG_FROM_DEFAULT, BG_FROM_FILE (at line), BG_FROM_SET (--set) or BG_FROM_METHOD (the method's
     * own compressor). */
    struct bg_scenario_src { int from; long line; } src[BG_SCENARIO_MAX_KEYS];
} bg_scenario_t;

/* Host power classes of the [energy] section, with their default idle and busy Watts. */
typedef enum { BG_ENERGY_SERVER = 0, BG_ENERGY_WORKSTATION, BG_ENERGY_EDGE } bg_energy_class_t;
/* The idle and busy Watts a scenario gives the server's host (server = 1) or a worker's host. */
void bg_scenario_power(const bg_scenario_t *sc, int server, double *idle_w, double *busy_w);
const char *bg_energy_class_name(int cls);

/* Parse path, then apply overrides "section.key=value" (from --set). Resolves relative paths against the
 * scenario file's directory and named datasets against the data directories. */
/* Host names as workers.hosts lists them ("w0..w3, server"): *out (free it) holds *n names; key names the list in
 * errors. */
int bg_host_list(const char *spec, const char *key, char (**out)[BG_MAX_HOSTNAME], size_t *n, bg_err_t *err);
int bg_scenario_load(const char *path, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err);
void bg_scenario_destroy(bg_scenario_t *sc);
/* Apply attack.placement to hosts[] (workers.hosts order on entry): the f chosen hosts get the Byzantine ranks
 * n - f .. n - 1 in their workers.hosts order, the others the honest ranks in workers.hosts order. fastest and
 * slowest need up_bw[i] (route bandwidth host i -> server, B/s) and speed[i] (flop/s) in workers.hosts order; with
 * NULL they are left unapplied (placement_applied = 0). bg_scenario_load applies the placements that need no
 * platform; the simulator calls this again with the platform's numbers. */
int bg_scenario_place(bg_scenario_t *sc, const double *up_bw, const double *speed, bg_err_t *err);
/* attack.placement as a word ("last", "fastest", ...). */
const char *bg_scenario_placement_name(const bg_scenario_t *sc);
/* Where key was set: fills err->file/line from the scenario if err->key names a key set in it. */
void bg_scenario_locate(const bg_scenario_t *sc, bg_err_t *err);
/* Every scenario key in the order `byzgrid keys` prints them: the learning keys (bg_config_keys, stored in
 * sc->learn, *learning = 1) and the simulator's (stored in the scenario itself). NULL past the end. */
const bg_key_t *bg_scenario_key(size_t i, int *learning);
/* Whether section.name was given (in the file or by --set) rather than left at its default. */
int bg_scenario_is_set(const bg_scenario_t *sc, const char *section, const char *name);
/* The first [round] or [faults] key that departs from the synchronous, fault-free round (quorum >= n and
 * participation = 1, or >= n, are the synchronous round), or NULL. */
const char *bg_scenario_protocol_key(const bg_scenario_t *sc);
/* Print every key with its default, allowed values and meaning (byzgrid keys). */
void bg_scenario_print_keys(FILE *out);
/* The "config" and "config_source" objects of summary.json: every key with its value (learning keys as the engine
 * resolved them in learn, e.g. partition.name = auto -> iid) and where it came from. */
void bg_scenario_write_config(bg_json_t *j, const bg_scenario_t *sc, const bg_config_t *learn);
/* Directory holding bundled datasets (BYZGRID_DATA_DIR, the source tree, or the install prefix). */
const char *bg_data_dir(void);

#endif
