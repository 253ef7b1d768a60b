/* The events.csv writer (see events.h). Times are simulated seconds in the trace's format (%.9f), bytes are
 * the simulated message sizes (0 for computations). */
#include "events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"compute", "upload", "download", "broadcast", "aggregate", "traffic"};

int bg_events_open(bg_events_t *ev, const char *dir, bg_err_t *err)
{
    snprintf(ev->path, sizeof ev->path, "%s/events.csv", dir);
    ev->fp = bg_fopen_write(ev->path);
    if (!ev->fp || fputs(BG_EVENTS_HEADER "\n", ev->fp) < 0 || fflush(ev->fp) != 0) {
        int e = errno;
        bg_events_close(ev);
        return bg_err_set(err, BG_EIO, ev->path, 0, "cannot write the events file: %s", strerror(e));
    }
    return BG_OK;
}

static int cmp_row(const void *pa, const void *pb)
{
    const bg_event_row_t *a = pa, *b = pb;
    if (a->round != b->round)
        return a->round < b->round ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->worker != b->worker)
        return a->worker < b->worker ? -1 : 1;
    return (a->kind > b->kind) - (a->kind < b->kind);
}

/* Write the held rows (they share one end time) in their canonical order. */
static int write_held(bg_events_t *ev)
{
    if (ev->n_held == 0)
        return BG_OK;
    qsort(ev->held, ev->n_held, sizeof *ev->held, cmp_row);
    for (size_t k = 0; k < ev->n_held; k++) {
        const bg_event_row_t *r = &ev->held[k];
        if (fprintf(ev->fp, "%zu,%ld,%s,%.9f,%.9f,%.0f\n", r->round, r->worker, kind_names[r->kind], r->start,
                    r->end, r->bytes) < 0)
            return BG_EIO;
    }
    ev->n_held = 0;
    return fflush(ev->fp) != 0 ? BG_EIO : BG_OK;
}

int bg_events_row(bg_events_t *ev, size_t round, long worker, bg_event_kind_t kind, double start, double end,
                  double bytes)
{
    if (ev->n_held > 0 && ev->held[0].end != end && write_held(ev) != BG_OK)
        return BG_EIO;
    if (ev->n_held == ev->cap_held) {
        const size_t cap = ev->cap_held ? 2 * ev->cap_held : 64;
        bg_event_row_t *p = realloc(ev->held, cap * sizeof *p);
        if (!p)
            return BG_EIO;
        ev->held = p;
        ev->cap_held = cap;
    }
    ev->held[ev->n_held++] = (bg_event_row_t){round, worker, (int)kind, start, end, bytes};
    return BG_OK;
}

int bg_events_close(bg_events_t *ev)
{
    int rc = BG_OK;
    if (ev->fp) {
        rc = write_held(ev);
        if (fclose(ev->fp) != 0)
            rc = BG_EIO;
    }
    ev->fp = NULL;
    free(ev->held);
    ev->held = NULL;
    ev->n_held = ev->cap_held = 0;
    return rc;
}
