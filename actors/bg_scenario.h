/* Scenario files: an INI file (parsed by libinih) joining the learning configuration, the platform and the
 * placement of server and workers on its hosts. Every error names the file and line that caused it. */
#ifndef BG_SCENARIO_H
#define BG_SCENARIO_H

#include "bg_engine.h"

#define BG_MAX_HOSTNAME 128

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
    /* line numbers of the keys, for errors found after parsing (0: not set in the file) */
    struct bg_scenario_line { char key[64]; long line; char file[1024]; } lines[96];
    size_t n_lines;
} bg_scenario_t;

/* Parse path, then apply overrides "section.key=value" (from --set). Resolves relative paths against the
 * scenario file's directory and named datasets against the data directories. */
int bg_scenario_load(const char *path, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err);
void bg_scenario_free(bg_scenario_t *sc);
/* Where key was set: fills err->file/line from the scenario if err->key names a key set in it. */
void bg_scenario_locate(const bg_scenario_t *sc, bg_err_t *err);
/* Print every key with its meaning and default (for --help and docs). */
void bg_scenario_print_keys(FILE *out);
/* Directory holding bundled datasets (BYZGRID_DATA_DIR, the source tree, or the install prefix). */
const char *bg_data_dir(void);

#endif
