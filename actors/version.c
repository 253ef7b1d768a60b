/* Versions of byzgrid and of the libraries it runs on, for summaries and `byzgrid --version`. */
#include "bg_sim.h"

#include <gsl/gsl_version.h>
#include <simgrid/engine.h> /* brings the declaration macros version.h needs */
#include <simgrid/version.h>
#include <stdio.h>
#include <zlib.h>

const char *bg_version_string(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "byzgrid %s (SimGrid %d.%d.%d, GSL %s, zlib %s)", BYZGRID_VERSION,
             SIMGRID_VERSION_MAJOR, SIMGRID_VERSION_MINOR, SIMGRID_VERSION_PATCH, GSL_VERSION, zlibVersion());
    return buf;
}
