/* Lookups and messages over a component family (bg_registry.h), so every family names its members, finds them
 * and reports an unknown name the same way. */
#include "bg_registry.h"

#include <stdio.h>
#include <string.h>

long bg_registry_find(const bg_registry_t *r, const char *name)
{
    for (size_t i = 0; r->name_at(i); i++)
        if (!strcmp(r->name_at(i), name))
            return (long)i;
    return -1;
}

const char *bg_registry_names(const bg_registry_t *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; r->name_at(i) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", r->name_at(i));
    return buf;
}

int bg_registry_unknown(const bg_registry_t *r, const char *name, bg_err_t *err)
{
    char known[600];
    return bg_err_set(err, BG_ENOTFOUND, NULL, 0, "unknown %s '%s' (known: %s)", r->family, name ? name : "(null)",
                      bg_registry_names(r, known, sizeof known));
}
