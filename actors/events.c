/* The events.csv writer (see events.h). Times are simulated seconds in the trace's format (%.9f), bytes are
 * the simulated message sizes (0 for computations). */
#include "events.h"

#include <errno.h>
#include <string.h>

static const char *const kind_names[] = {"compute", "upload", "download", "broadcast", "aggregate"};

int bg_events_open(bg_events_t *ev, const char *dir, bg_err_t *err)
{
    snprintf(ev->path, sizeof ev->path, "%s/events.csv", dir);
    ev->fp = fopen(ev->path, "w");
    if (!ev->fp || fputs(BG_EVENTS_HEADER "\n", ev->fp) < 0 || fflush(ev->fp) != 0) {
        int e = errno;
        bg_events_close(ev);
        return bg_err_set(err, BG_EIO, ev->path, 0, "cannot write the events file: %s", strerror(e));
    }
    return BG_OK;
}

int bg_events_row(bg_events_t *ev, size_t round, long worker, bg_event_kind_t kind, double start, double end,
                  double bytes)
{
    if (fprintf(ev->fp, "%zu,%ld,%s,%.9f,%.9f,%.0f\n", round, worker, kind_names[kind], start, end, bytes) < 0 ||
        fflush(ev->fp) != 0)
        return BG_EIO;
    return BG_OK;
}

void bg_events_close(bg_events_t *ev)
{
    if (ev->fp)
        fclose(ev->fp);
    ev->fp = NULL;
}
