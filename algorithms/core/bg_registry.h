/* Component families (models, methods, compressors, aggregators, attacks, datasets, partitions) seen through one
 * small interface: each family's NULL-terminated table of ops, named and summarised, for lookups and messages. */
#ifndef BG_REGISTRY_H
#define BG_REGISTRY_H

#include <stddef.h>

#include "bg_common.h"

typedef struct bg_registry {
    const char *family;                   /* "aggregator": used in messages */
    const char *(*name_at)(size_t i);     /* NULL past the end */
    const char *(*summary_at)(size_t i);
} bg_registry_t;

/* Index of name in r, or -1. */
long bg_registry_find(const bg_registry_t *r, const char *name);
/* "a, b, c" into buf. */
const char *bg_registry_names(const bg_registry_t *r, char *buf, size_t len);
/* BG_ENOTFOUND with "unknown <family> 'name' (known: a, b, c)" in err. */
int bg_registry_unknown(const bg_registry_t *r, const char *name, bg_err_t *err);

/* Defines `const bg_registry_t id` over `table`, a NULL-terminated array of pointers to ops_t structs that have
 * `name` and `summary` members, and `const ops_t *find(const char *name)` (NULL for an unknown or NULL name). */
#define BG_REGISTRY_DEFINE(id, family, table, ops_t, find)                                                          \
    static const char *id##_name_at(size_t i)                                                                       \
    {                                                                                                               \
        size_t k = 0;                                                                                               \
        while (table[k] && k < i)                                                                                   \
            k++;                                                                                                    \
        return table[k] ? table[k]->name : NULL;                                                                    \
    }                                                                                                               \
    static const char *id##_summary_at(size_t i) { return id##_name_at(i) ? table[i]->summary : NULL; }            \
    const bg_registry_t id = {family, id##_name_at, id##_summary_at};                                               \
    const ops_t *find(const char *name)                                                                             \
    {                                                                                                               \
        long i = name ? bg_registry_find(&id, name) : -1;                                                           \
        return i < 0 ? NULL : table[i];                                                                             \
    }

#endif
