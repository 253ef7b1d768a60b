/* events.csv (run.events = true): one row per simulated activity of a round, for timelines (Gantt charts).
 * Rows are written when the activity ends, so end_s never decreases down the file. Rows with the same end_s are
 * sorted by round, start_s, worker and kind: the order in which SimGrid completes simultaneous activities depends
 * on which actor posted them (the server or a relay, run.relays), the file does not. They are held until the
 * clock moves on, then written and flushed, so a killed run leaves a valid prefix. Not installed: the simulator's
 * own output. */
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
    BG_EV_AGGREGATE,  /* server: last message in -> aggregation and step done (the round's end) */
    BG_EV_TRAFFIC     /* background traffic (traffic.flows): one transfer; round = its number in the flow, worker =
                       * the flow's index; a constant flow has one row, at the job's end, with the bytes sent */
} bg_event_kind_t;

typedef struct bg_event_row {
    size_t round;
    long worker;
    int kind;
    double start, end, bytes;
} bg_event_row_t;

typedef struct bg_events {
    FILE *fp;         /* NULL: events are off */
    char path[1100];
    bg_event_row_t *held;   /* the rows ending at the current time, not written yet */
    size_t n_held, cap_held;
} bg_events_t;

/* Create dir/events.csv with its header. */
int bg_events_open(bg_events_t *ev, const char *dir, bg_err_t *err);
/* One row; BG_EIO when it (or a held row) cannot be written (the caller stops the run). */
int bg_events_row(bg_events_t *ev, size_t round, long worker, bg_event_kind_t kind, double start, double end,
                  double bytes);
/* Write the held rows and close the file (BG_EIO if the write fails). */
int bg_events_close(bg_events_t *ev);

#endif
