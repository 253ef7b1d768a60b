/* Background traffic ([traffic] flows): other tenants' transfers sharing the links with a training job.
 * Internal to actors/ (not installed). */
#ifndef BG_TRAFFIC_H
#define BG_TRAFFIC_H

#include <stddef.h>

#include "bg_common.h"

typedef enum { BG_FLOW_CONSTANT, BG_FLOW_PERIODIC, BG_FLOW_POISSON } bg_flow_kind_t;

/* One flow between two hosts (a group item "a..b -> s" gives one flow per pair). */
typedef struct bg_flow {
    int kind;
    char from[128], to[128];
    double rate;       /* constant: bytes/s the transfer is capped at */
    double size;       /* periodic, poisson: bytes per transfer */
    double period;     /* periodic: seconds between transfer starts */
    double lambda;     /* poisson: transfers per second */
    double start;      /* first transfer (periodic, constant) or arrivals from (poisson), seconds */
    size_t item;       /* the item of traffic.flows it comes from (0-based) */
} bg_flow_t;

typedef struct bg_flows {
    bg_flow_t *v;
    size_t n;
} bg_flows_t;

/* Parse traffic.flows: items separated by ';', each
 *     constant FROM -> TO RATE [at T]
 *     periodic FROM -> TO SIZE every PERIOD [at T]
 *     poisson  FROM -> TO SIZE RATE/s [at T]
 * FROM and TO are host names or lists/ranges as workers.hosts takes them (w0..w3, server); every FROM host sends
 * to every TO host other than itself. RATE is a SimGrid bandwidth (10Mbps), SIZE bytes with a unit (B, kB, MB,
 * KiB, MiB; or bits: kb, Mb), PERIOD and T SimGrid times (30s, 500ms), RATE/s arrivals per second. At most
 * 10,000 flows. BG_OK, or BG_EINVAL with one line in err naming the item. */
int bg_flows_parse(const char *spec, bg_flows_t *out, bg_err_t *err);
void bg_flows_free(bg_flows_t *f);

#endif
