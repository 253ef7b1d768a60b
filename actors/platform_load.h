/* Loading the run's platform (generated or the user's file) into SimGrid and recording what was loaded.
 * Internal to actors/ (not installed). */
#ifndef BG_PLATFORM_LOAD_H
#define BG_PLATFORM_LOAD_H

#include "bg_scenario.h"
#include "bg_trace.h"

/* Generate (or copy) the platform into out_dir (NULL: a temporary folder, removed after loading), load it, and
 * record every host's speed and link's bandwidth/latency as SimGrid holds them. */
int bg_platform_load(const bg_scenario_t *sc, const char *out_dir, bg_err_t *err);
/* "topology", "loaded" (the file SimGrid read), "hosts" [{name, speed_flops}], "links" [{name, bandwidth_Bps,
 * latency_s}] of the loaded platform, inside the summary's "platform" object. */
void bg_platform_write_json(bg_json_t *j);
/* A platform loaded by someone else (a program embedding jobs): record it for summary.json as `what`. */
void bg_platform_record(const char *what);
/* Hosts recorded (0: none yet). */
size_t bg_platform_loaded_hosts(void);
void bg_platform_forget(void);
/* After loading, before running: a route from server to each of hosts[0..n) and back. SimGrid 3.32 aborts the process
 * on a transfer without a route (an empty one, or a zone's own assertion), so the lookups run in a forked child with
 * its output silenced; the first pair without a route is one error naming what (the platform) and both hosts. */
int bg_platform_check_routes(const char *server, const char (*hosts)[BG_MAX_HOSTNAME], size_t n, const char *what,
                             bg_err_t *err);
/* 1 when the run's platform has a WiFi link (topology = file whose XML has sharing_policy="WIFI"; generated
 * platforms have none), found before loading: SimGrid 3.32's link energy plugin crashes on WiFi links. */
int bg_platform_has_wifi(const bg_scenario_t *sc);
/* 1 when the run's platform can turn hosts or links off by itself: a user's file (topology = file) with a
 * state_file attribute on any host, link or cluster (a text scan outside XML comments, before or after loading),
 * or a generated platform with faults.links (its state profiles). 0 otherwise. */
int bg_platform_has_state_file(const bg_scenario_t *sc);
/* The id of a WiFi link (found by bg_platform_has_wifi) on the route between hosts a and b either way, or NULL. */
const char *bg_platform_wifi_route(const char *a, const char *b);
/* 1 when the run's platform file may give a link a power draw: it is a shared library, cannot be read, or its
 * text names the link property SimGrid's energy plugin reads (wattage_range, or the older watt_range); 0 when it
 * cannot (every link then draws 0 W, so the plugin would only add 0 J), and for generated platforms. */
int bg_platform_file_links_powered(const bg_scenario_t *sc);

#endif
