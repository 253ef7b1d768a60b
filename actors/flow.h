/* Host-to-host transfers with an optional rate cap (flow.cpp, C++ behind C). Internal to actors/. */
#ifndef BG_FLOW_H
#define BG_FLOW_H

#include <simgrid/host.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Start a transfer of `bytes` from one host to another, capped at `rate` bytes/s (0: no cap); a handle. */
void *bg_flow_start(sg_host_t from, sg_host_t to, double bytes, double rate);
/* Start sending `bytes` on a mailbox (someone must receive it), capped at `rate` bytes/s (0: no cap): SimGrid 3.32
 * applies a rate to mailbox communications, not to host-to-host ones. A handle. */
void *bg_flow_put(const char *mailbox, double bytes, double rate);
/* Wait for it: 0 done, 1 failed (a host or link down on its route, or cancelled). */
int bg_flow_wait(void *h);
/* Bytes not sent yet. */
double bg_flow_remaining(void *h);
void bg_flow_release(void *h);

#ifdef __cplusplus
}
#endif

#endif
