/* Reading SimGrid's XML files (platforms, deployments) with libxml2 before SimGrid does: SimGrid 3.32 aborts the
 * process on what it cannot read, these checks turn it into one error naming file and line. Internal to actors/. */
#ifndef BG_SGXML_H
#define BG_SGXML_H

#include <libxml/tree.h>
#include <stddef.h>

#include "bg_common.h"

/* libxml2's first error while capturing (its line, its message made printable). */
typedef struct bg_xml_errors {
    int set;
    long line;
    char msg[400];
} bg_xml_errors_t;

/* Send libxml2's errors to e (the first one is kept) until bg_xml_release. */
void bg_xml_capture(bg_xml_errors_t *e);
void bg_xml_release(void);

/* The whole regular file at path (bg_open_regular: at most max_bytes, never blocking), NUL-terminated, into *buf
 * (free it) and *len; what names it in messages ("platform"). BG_OK, or BG_EIO / BG_EINVAL / BG_ENOMEM. */
int bg_xml_load(const char *path, const char *what, unsigned long long max_bytes, char **buf, size_t *len,
                bg_err_t *err);

/* Printable, bounded copy of a value for messages (control characters as '?', "..." when cut). */
void bg_xml_shown(const char *s, char *buf, size_t len);

/* Parse SimGrid XML text buf[0..len) named name, a `what` ("platform", "deployment") for messages: not empty, no NUL
 * byte, no <!ENTITY> (nothing to expand; SimGrid refuses an internal subset anyway), well-formed without network
 * access, root <platform>, preceded by SimGrid's DOCTYPE line. errors must be capturing (bg_xml_capture). BG_OK with
 * *doc to free with xmlFreeDoc, else BG_EFORMAT / BG_ENOMEM with err's file and line set. */
int bg_xml_read(const char *buf, size_t len, const char *name, const char *what, bg_xml_errors_t *errors,
                xmlDocPtr *doc, bg_err_t *err);

/* root's version attribute is one SimGrid 3.32 reads: 4 to 4.1. */
int bg_xml_version_ok(xmlNodePtr root);

#endif
