/* Platforms generated from the scenario's [platform] keys: a SimGrid XML 4.1 file (star, racks, sites, fat-tree)
 * written as text, plus the profile files it names. Only loading touches SimGrid. Values are SimGrid's own units
 * (10Mbps, 1MBps, 5ms, 20us, 2Gf), checked here so that a mistake is a one-line error naming its key. */
#ifndef BG_PLATFORM_H
#define BG_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bg_common.h"

#define BG_PLAT_SPEC 256     /* a per-worker value: constant, list or distribution */
#define BG_PLAT_VALUE 64     /* a single value with its unit */

enum { BG_TOPO_AUTO = 0, BG_TOPO_STAR, BG_TOPO_RACKS, BG_TOPO_SITES, BG_TOPO_FAT_TREE, BG_TOPO_FILE };
enum { BG_VAR_NONE = 0, BG_VAR_PERIODIC, BG_VAR_RANDOM };
enum { BG_VAR_BW = 1, BG_VAR_SPEED = 2, BG_VAR_BOTH = 3 };

/* Unit families of SimGrid's XML. */
typedef enum { BG_UNIT_SPEED, BG_UNIT_BANDWIDTH, BG_UNIT_TIME } bg_unit_kind_t;

typedef struct bg_platform_spec {
    int topology;                                   /* BG_TOPO_* */
    char worker_speed[BG_PLAT_SPEC], worker_bw[BG_PLAT_SPEC], worker_bw_up[BG_PLAT_SPEC],
        worker_bw_down[BG_PLAT_SPEC], worker_lat[BG_PLAT_SPEC];   /* "" (up/down): worker_bw */
    char server_speed[BG_PLAT_VALUE], server_bw[BG_PLAT_VALUE], server_lat[BG_PLAT_VALUE];
    char backbone_bw[BG_PLAT_VALUE], backbone_lat[BG_PLAT_VALUE];
    size_t rack_size;
    char rack_uplink_bw[BG_PLAT_VALUE], rack_uplink_lat[BG_PLAT_VALUE];
    size_t sites, server_site;
    char wan_bw[BG_PLAT_VALUE], wan_lat[BG_PLAT_VALUE];
    char fat_tree[128];                             /* SimGrid topo_parameters, or "auto" */
    char bw_profile[1024], speed_profile[1024];     /* ratio profiles (resolved paths), "" = none */
    int variability;                                /* BG_VAR_NONE / PERIODIC / RANDOM */
    int variability_on;                             /* BG_VAR_BW / SPEED / BOTH */
    double variability_period, variability_amplitude;
    double link_idle_w, link_busy_w;                /* energy.link_*_w: wattage_range of generated links (0, 0: none) */
    char link_faults[4096];                         /* faults.links as written ("" = none): each named link gets a
                                                     * state profile <link id>.state (faults.h parses the list) */
} bg_platform_spec_t;

/* ---- values (platform_values.c) */
/* "10Mbps" -> 1250000 (B/s, flop/s or s) exactly as SimGrid computes it. 0, or -1 with why filled. A unit is
 * required; bandwidths and speeds must be > 0, times >= 0. */
int bg_unit_parse(const char *text, bg_unit_kind_t kind, double *out, char *why, size_t len);
/* The n characters at s without surrounding blanks, into buf (truncated to len). */
void bg_trim(const char *s, size_t n, char *buf, size_t len);
/* Check a per-worker value (constant, list "a, b, c", uniform(a, b), loguniform(a, b), lognormal(median, sigma)). */
int bg_value_check(const char *spec, bg_unit_kind_t kind, char *why, size_t len);
/* Expand a per-worker value for n workers: text[i] is what the XML gets (the item as written for constants and
 * lists, an exact number in base units for drawn values), val[i] its value. Draws use their own RNG stream
 * (seed, BG_RNG_PLATFORM, stream). */
int bg_value_expand(const char *spec, bg_unit_kind_t kind, size_t n, uint64_t seed, unsigned stream,
                    char (*text)[BG_PLAT_VALUE], double *val, char *why, size_t len);
/* Shortest "%.Ng" that reads back to x. */
const char *bg_exact_number(double x, char *buf, size_t len);

/* ---- generation (platform.c) */
/* The topology that will run: auto resolves to file when file is set, else star. */
int bg_platform_topology(const bg_platform_spec_t *p, const char *file);
const char *bg_platform_topology_name(int topology);
/* Write the generated XML to out. profile_dir: folder for the profile files the XML names (by file name, next to
 * the XML); NULL writes none (the XML still names them). Errors name their key (err->key). */
int bg_platform_write(const bg_platform_spec_t *p, size_t n, uint64_t seed, FILE *out, const char *profile_dir,
                      bg_err_t *err);
/* Generate (or for topology=file copy) the platform into dir/platform.xml and its profiles; xml gets the path of
 * the file to load. */
int bg_platform_prepare(const bg_platform_spec_t *p, const char *file, size_t n, uint64_t seed, const char *dir,
                        char *xml, size_t len, bg_err_t *err);
/* Remove the files bg_platform_prepare wrote into dir (used for temporary folders), then dir itself. */
void bg_platform_remove(const char *dir);

#endif
