/* events.csv (run.events = true): one row per simulated activity of a round, for timelines (Gantt charts).
 * Rows are written when the activity ends, so end_s never decreases down the file, and flushed one by one, so a
 * killed run leaves a valid prefix. Not installed: the simulator's own output. */
#ifndef BG_EVENTS_H
#define BG_EVENTS_H

#include <stddef.h>
#include <stdio.h>

#include "bg_common.h"

#define BG_EVENTS_HEADER "round,worker,kind,start_s,end_s,bytes"
#define BG_EVENTS_SERVER (-1L)   /* the worker column of the server's rows */

typedef enum bg_event_kind {
    BG_EV_COMPUTE,    /* a worker's local step (its sg_actor_execute) */
    BG_EV_UPLOAD,     /* a worker's message: posted -> received by the server */
    BG_EV_DOWNLOAD,   /* the broadcast to one worker: posted by the server -> received by the worker */
    BG_EV_BROADCAST,  /* server: round start -> broadcast posted (the downlink's own computation) */
    BG_EV_AGGREGATE   /* server: last message in -> aggregation and step done (the round's end) */
} bg_event_kind_t;

typedef struct bg_events {
    FILE *fp;         /* NULL: events are off */
    char path[1100];
} bg_events_t;

/* Create dir/events.csv with its header. */
int bg_events_open(bg_events_t *ev, const char *dir, bg_err_t *err);
/* One row; BG_EIO when it cannot be written (the caller stops the run). */
int bg_events_row(bg_events_t *ev, size_t round, long worker, bg_event_kind_t kind, double start, double end,
                  double bytes);
void bg_events_close(bg_events_t *ev);

#endif
