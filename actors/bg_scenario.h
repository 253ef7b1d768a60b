/* Scenario files: an INI file (parsed by libinih) joining the learning configuration, the platform and the
 * placement of server and workers on its hosts. Every error names the file and line that caused it. */
#ifndef BG_SCENARIO_H
#define BG_SCENARIO_H

#include "bg_engine.h"
#include "bg_trace.h"

#define BG_MAX_HOSTNAME 128
#define BG_SCENARIO_MAX_KEYS 256

enum { BG_FROM_DEFAULT = 0, BG_FROM_FILE, BG_FROM_SET, BG_FROM_METHOD };

typedef struct bg_scenario {
    bg_config_t learn;
    char path[1024];             /* the scenario file */
    char name[128];              /* run.name, default: file name without .ini */
    char platform[1024];         /* platform.file, resolved */
    char network_model[16];      /* LV08 (default) or CM02 */
    int crosstraffic;            /* -1: SimGrid's default (on) */
    double tcp_gamma;            /* < 0: SimGrid's default */
    char server_host[BG_MAX_HOSTNAME];
    char (*hosts)[BG_MAX_HOSTNAME];  /* n worker hosts; worker i runs on hosts[i]; the last f are Byzantine */
    size_t n_hosts;
    char hosts_spec[4096];       /* workers.hosts as written ("" = w0..w{n-1}) */
    int attack_oracle;           /* attack.timing: 0 eavesdrop (default), 1 oracle */
    int progress;                /* run.progress: -1 auto, 0 off, 1 on */
    int events;                  /* run.events: write events.csv (simulated runs) */
    /* Where every key's value came from, in bg_scenario_key order (for errors found after parsing, and for
     * summary.json): BG_FROM_DEFAULT, BG_FROM_FILE (at line), BG_FROM_SET (--set) or BG_FROM_METHOD (the method's
     * own compressor). */
    struct bg_scenario_src { int from; long line; } src[BG_SCENARIO_MAX_KEYS];
} bg_scenario_t;

/* Parse path, then apply overrides "section.key=value" (from --set). Resolves relative paths against the
 * scenario file's directory and named datasets against the data directories. */
int bg_scenario_load(const char *path, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err);
void bg_scenario_destroy(bg_scenario_t *sc);
/* Where key was set: fills err->file/line from the scenario if err->key names a key set in it. */
void bg_scenario_locate(const bg_scenario_t *sc, bg_err_t *err);
/* Every scenario key in the order `byzgrid keys` prints them: the learning keys (bg_config_keys, stored in
 * sc->learn, *learning = 1) and the simulator's (stored in the scenario itself). NULL past the end. */
const bg_key_t *bg_scenario_key(size_t i, int *learning);
/* Print every key with its default, allowed values and meaning (byzgrid keys). */
void bg_scenario_print_keys(FILE *out);
/* The "config" and "config_source" objects of summary.json: every key with its value (learning keys as the engine
 * resolved them in learn, e.g. partition.name = auto -> iid) and where it came from. */
void bg_scenario_write_config(bg_json_t *j, const bg_scenario_t *sc, const bg_config_t *learn);
/* Directory holding bundled datasets (BYZGRID_DATA_DIR, the source tree, or the install prefix). */
const char *bg_data_dir(void);

#endif
