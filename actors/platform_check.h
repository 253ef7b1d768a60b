/* Platform validation before SimGrid reads a file (SimGrid-free: libxml2 only). SimGrid 3.32 aborts the process on
 * any platform it cannot use (parse errors, unknown units, duplicate names) and some mistakes only abort mid-run
 * (zero or NaN bandwidths, zero speeds): this check turns each of them into one error naming file, line and element.
 * Internal to actors/ (not installed). */
#ifndef BG_PLATFORM_CHECK_H
#define BG_PLATFORM_CHECK_H

#include <stddef.h>

#include "bg_common.h"

/* Largest platform file read (bytes). */
#define BG_PLATFORM_MAX_BYTES (64u << 20)
/* Most hosts the clusters and cabinets of one file may declare together. */
#define BG_PLATFORM_MAX_GENERATED 1000000L

/* Check the platform file at path: a regular file of at most BG_PLATFORM_MAX_BYTES (opened without blocking, so a
 * FIFO or a device is refused, not waited on), then bg_platform_check_buffer with the file's folder. A platform
 * library (.so, .dylib) is only checked to be a regular file with a library header. BG_OK, or BG_EIO / BG_EFORMAT /
 * BG_EINVAL / BG_ENOMEM with err's file, line and message set. */
int bg_platform_check_file(const char *path, bg_err_t *err);
/* Check the XML text buf[0..len) named name (for messages): well-formed, byzgrid's DTD of SimGrid's platform format
 * 4.1 (platform/platform_dtd in platform_check.c), SimGrid's DOCTYPE line, version 4 to 4.1, units and values
 * (speeds and bandwidths positive and finite, latencies finite and >= 0, cores, pstates, radicals), names unique
 * (hosts, routers and zones share one namespace, links another), links and hosts named by routes declared, profile
 * files present (dir: the folder relative names resolve in besides the current one; NULL skips that check). */
int bg_platform_check_buffer(const char *buf, size_t len, const char *name, const char *dir, bg_err_t *err);

#endif
