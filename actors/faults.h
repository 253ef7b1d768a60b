/* The [faults] section: host and link outages listed in the scenario ("w3@120s", "w7@300s..500s") and seeded
 * MTBF/MTTR outages of the workers' hosts. Parsing and checks only; the simulator turns hosts off and on, and the
 * platform generator writes link state profiles. Internal to actors/ (not installed). */
#ifndef BG_FAULTS_H
#define BG_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "bg_scenario.h"

typedef struct bg_fault { char name[128]; double down, up; } bg_fault_t;   /* up = INFINITY: never recovers */
typedef struct bg_faults { bg_fault_t *v; size_t n; } bg_faults_t;           /* sorted by (down, name) */

/* Parse a faults.hosts / faults.links value: comma-separated items NAME@T (down from T on) or NAME@T1..T2 (down
 * from T1, up again at T2), times in SimGrid's units (120s, 5m, 500ms; a unit is required, as for the platform
 * keys). One name may appear several times with intervals that neither overlap nor touch. key names the key in
 * errors ("faults.hosts = '...': expected ..."). Empty spec: n = 0. */
int bg_faults_parse(const char *spec, const char *key, bg_faults_t *out, bg_err_t *err);
void bg_faults_free(bg_faults_t *f);
/* The same check with the reason in why (for the key table's parse callback): 0, or -1 with why filled. */
int bg_faults_check_spec(const char *spec, char *why, size_t len);

/* t in seconds as the shortest text that reads back to t, without an exponent where one is not needed (100, 0.5,
 * 1e-09): for messages and state profiles. */
const char *bg_faults_time(double t, char *buf, size_t len);

/* Seeded MTBF/MTTR: the next (down, up) interval of worker rank i after time t0, from the stream state in *rng
 * (create it with bg_faults_mtbf_rng(seed, i): role BG_RNG_FAULTS, index i); exponential up-time mean mtbf,
 * down-time mean mttr. t0 < down < up. */
gsl_rng *bg_faults_mtbf_rng(uint64_t seed, size_t i);
void bg_faults_mtbf_next(gsl_rng *rng, double mtbf, double mttr, double t0, double *down, double *up);

/* After the platform is loaded: every name in sc's faults.hosts is a host of the platform, every faults.links name
 * a link (or, for a generated pair, both NAME_UP and NAME_DOWN); one-line error naming the key otherwise. */
int bg_faults_check(const bg_scenario_t *sc, bg_err_t *err);

#endif
