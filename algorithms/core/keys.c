/* Parsing, checking and formatting of declared configuration keys (bg_keys.h). Every key of every table goes
 * through these few functions, so a scenario file, --set, the component CLI and summary.json agree on them. */
#include "bg_keys.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void *field(const bg_key_t *k, void *base) { return (char *)base + k->off; }
static const void *cfield(const bg_key_t *k, const void *base) { return (const char *)base + k->off; }

static const bg_key_word_t *word_named(const bg_key_t *k, const char *v)
{
    for (const bg_key_word_t *w = k->words; w && w->word; w++)
        if (!strcasecmp(w->word, v))
            return w;
    return NULL;
}

static int same_value(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static const bg_key_word_t *word_valued(const bg_key_t *k, double v)
{
    for (const bg_key_word_t *w = k->words; w && w->word; w++)
        if (same_value(w->value, v))
            return w;
    return NULL;
}

static int in_range(const bg_key_t *k, double x)
{
    if (!isnan(k->min) && ((k->flags & BG_KEY_MIN_OPEN) ? !(x > k->min) : !(x >= k->min)))
        return 0;
    if (!isnan(k->max) && ((k->flags & BG_KEY_MAX_OPEN) ? !(x < k->max) : !(x <= k->max)))
        return 0;
    return 1;
}

static const char *range_text(const bg_key_t *k, char *buf, size_t len)
{
    const int lo = !isnan(k->min), hi = !isnan(k->max);
    if (lo && hi)
        snprintf(buf, len, " in %c%g, %g%c", (k->flags & BG_KEY_MIN_OPEN) ? '(' : '[', k->min, k->max,
                 (k->flags & BG_KEY_MAX_OPEN) ? ')' : ']');
    else if (lo)
        snprintf(buf, len, " %s %g", (k->flags & BG_KEY_MIN_OPEN) ? ">" : ">=", k->min);
    else if (hi)
        snprintf(buf, len, " %s %g", (k->flags & BG_KEY_MAX_OPEN) ? "<" : "<=", k->max);
    else
        buf[0] = '\0';
    return buf;
}

/* "a, b or c" */
static const char *words_text(const bg_key_t *k, char *buf, size_t len)
{
    size_t used = 0, n = 0;
    buf[0] = '\0';
    while (k->words && k->words[n].word)
        n++;
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                                 k->words[i].word);
    return buf;
}

const char *bg_key_allowed(const bg_key_t *k, char *buf, size_t len)
{
    char r[64], w[192];
    range_text(k, r, sizeof r);
    words_text(k, w, sizeof w);
    const char *or = w[0] ? " or " : "";
    switch (k->type) {
    case BG_KEY_SIZE:
    case BG_KEY_U64:
        if (r[0] && !(k->min == 0 && isnan(k->max)))
            snprintf(buf, len, "an integer%s%s%s", r, or, w);
        else
            snprintf(buf, len, "a non-negative integer%s%s", or, w);
        break;
    case BG_KEY_DOUBLE:
        if (k->flags & BG_KEY_WORDS_ONLY)
            snprintf(buf, len, "%s", w);
        else
            snprintf(buf, len, "a number%s%s%s", r, or, w);
        break;
    case BG_KEY_BOOL:
        snprintf(buf, len, "%s%s", w[0] ? "true, false or " : "true or false", w);
        break;
    case BG_KEY_CHOICE:
        snprintf(buf, len, "%s", w);
        break;
    case BG_KEY_STRING:
        if (k->registry)
            snprintf(buf, len, "%s %s (byzgrid list)%s%s", strchr("aeiou", k->registry->family[0]) ? "an" : "a",
                     k->registry->family, or, w);
        else
            snprintf(buf, len, "%s", w);
        break;
    default:
        buf[0] = '\0';
    }
    return buf;
}

/* Digits only (no sign, no blanks), at most max. */
static int parse_uint(const char *v, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)v[0]))
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end)
        return -1;
    if (errno == ERANGE || x > max)
        return -2;   /* digits only, but too large */
    *out = x;
    return 0;
}

/* A finite number, written in full (no blanks around it). An underflow (1e-400) is the tiny value strtod gives,
 * as if written 0 or a subnormal; an overflow (1e400), inf and nan are refused. */
static int parse_double(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || isspace((unsigned char)v[0]) || !isfinite(x) ||
        (errno == ERANGE && fabs(x) > DBL_MIN))
        return -1;
    *out = x;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = 1;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int keyed(const bg_key_t *k, bg_err_t *err, int code)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", k->section, k->name);
    return bg_err_keyed(err, full, code);
}

static int bad(const bg_key_t *k, const char *v, bg_err_t *err, const char *what)
{
    char a[256];
    if (!what)
        what = bg_key_allowed(k, a, sizeof a);
    bg_err_set(err, BG_EINVAL, NULL, 0, "%s.%s = '%s': expected %s", k->section, k->name, v, what);
    return keyed(k, err, BG_EINVAL);
}

/* A component name the registry does not have: list what it has (and the key's words, e.g. auto). */
static int unknown(const bg_key_t *k, const char *v, bg_err_t *err)
{
    char known[600], ws[192];
    bg_registry_names(k->registry, known, sizeof known);
    if (k->words) {
        size_t l = strlen(known);
        snprintf(known + l, sizeof known - l, ", %s", words_text(k, ws, sizeof ws));
    }
    bg_err_set(err, BG_ENOTFOUND, NULL, 0, "unknown %s '%s' (known: %s)", k->registry->family, v, known);
    return keyed(k, err, BG_ENOTFOUND);
}

int bg_key_set(const bg_key_t *k, void *base, const char *v, const char *dir, bg_err_t *err)
{
    void *dst = field(k, base);
    const bg_key_word_t *w = word_named(k, v);
    switch (k->type) {
    case BG_KEY_SIZE:
    case BG_KEY_U64: {
        uint64_t x;
        const uint64_t top = k->type == BG_KEY_SIZE ? (uint64_t)SIZE_MAX / 2 : UINT64_MAX;
        int pr = w ? 0 : parse_uint(v, top, &x);
        if (w)
            x = (uint64_t)w->value;
        else if (pr == -2 && isnan(k->max)) {
            char why[96];
            snprintf(why, sizeof why, "an integer <= %llu (too large)", (unsigned long long)top);
            return bad(k, v, err, why);
        } else if (pr || !in_range(k, (double)x))
            return bad(k, v, err, NULL);
        if (k->type == BG_KEY_SIZE)
            *(size_t *)dst = (size_t)x;
        else
            *(uint64_t *)dst = x;
        return BG_OK;
    }
    case BG_KEY_DOUBLE: {
        double x;
        if (w)
            x = w->value;
        else if ((k->flags & BG_KEY_WORDS_ONLY) || parse_double(v, &x) || !in_range(k, x))
            return bad(k, v, err, NULL);
        *(double *)dst = x;
        return BG_OK;
    }
    case BG_KEY_BOOL: {
        int b;
        if (w)
            b = (int)w->value;
        else if (parse_bool(v, &b))
            return bad(k, v, err, NULL);
        *(int *)dst = b;
        return BG_OK;
    }
    case BG_KEY_CHOICE:
        if (!w)
            return bad(k, v, err, NULL);
        *(int *)dst = (int)w->value;
        return BG_OK;
    case BG_KEY_STRING:
        if (strlen(v) >= k->size) {
            char why[64];
            snprintf(why, sizeof why, "at most %zu characters", k->size - 1);
            return bad(k, v, err, why);
        }
        if (k->registry && !w && !(!v[0] && (k->flags & BG_KEY_EMPTY_OK)) && bg_registry_find(k->registry, v) < 0)
            return unknown(k, v, err);
        if (k->words && !k->registry) {   /* a fixed set of words, stored as written in the table */
            if (!w)
                return bad(k, v, err, NULL);
            v = w->word;
        }
        snprintf(dst, k->size, "%s", v);
        return BG_OK;
    case BG_KEY_PATH: {
        int n = (v[0] == '/' || !dir || !dir[0]) ? snprintf(dst, k->size, "%s", v)
                                                 : snprintf(dst, k->size, "%s/%s", dir, v);
        if (n < 0 || (size_t)n >= k->size)
            return bad(k, v, err, "a shorter path");
        return BG_OK;
    }
    case BG_KEY_CUSTOM: {
        char why[256] = "";
        if (k->parse(k, base, v, why, sizeof why))
            return bad(k, v, err, why);
        return BG_OK;
    }
    }
    return bad(k, v, err, "a known key type");
}

int bg_key_check(const bg_key_t *k, const void *base, bg_err_t *err)
{
    const void *src = cfield(k, base);
    char buf[256];
    double x;
    switch (k->type) {
    case BG_KEY_SIZE:
        x = (double)*(const size_t *)src;
        break;
    case BG_KEY_DOUBLE:
        x = *(const double *)src;
        if (!word_valued(k, x) && ((k->flags & BG_KEY_WORDS_ONLY) || !isfinite(x)))
            return bad(k, bg_key_format(k, base, buf, sizeof buf), err, NULL);
        break;
    case BG_KEY_BOOL:
    case BG_KEY_CHOICE: {
        int b = *(const int *)src;
        if (word_valued(k, (double)b) || (k->type == BG_KEY_BOOL && (b == 0 || b == 1)))
            return BG_OK;
        snprintf(buf, sizeof buf, "%d", b);
        return bad(k, buf, err, NULL);
    }
    case BG_KEY_STRING: {
        const char *s = src;
        if (k->registry && !word_named(k, s) && !(!s[0] && (k->flags & BG_KEY_EMPTY_OK)) &&
            bg_registry_find(k->registry, s) < 0)
            return unknown(k, s, err);
        if (k->words && !k->registry && !word_named(k, s))
            return bad(k, s, err, NULL);
        return BG_OK;
    }
    default:
        return BG_OK;
    }
    if (word_valued(k, x) || in_range(k, x))
        return BG_OK;
    return bad(k, bg_key_format(k, base, buf, sizeof buf), err, NULL);
}

const char *bg_key_format(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    const void *src = cfield(k, base);
    const bg_key_word_t *w;
    switch (k->type) {
    case BG_KEY_SIZE:
        if ((w = word_valued(k, (double)*(const size_t *)src)))
            snprintf(buf, len, "%s", w->word);
        else
            snprintf(buf, len, "%zu", *(const size_t *)src);
        break;
    case BG_KEY_U64:
        snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)src);
        break;
    case BG_KEY_DOUBLE:
        if ((w = word_valued(k, *(const double *)src)))
            snprintf(buf, len, "%s", w->word);
        else
            snprintf(buf, len, "%.10g", *(const double *)src);
        break;
    case BG_KEY_BOOL:
    case BG_KEY_CHOICE: {
        int b = *(const int *)src;
        if ((w = word_valued(k, (double)b)))
            snprintf(buf, len, "%s", w->word);
        else if (k->type == BG_KEY_BOOL)
            snprintf(buf, len, "%s", b ? "true" : "false");
        else
            snprintf(buf, len, "%d", b);
        break;
    }
    case BG_KEY_STRING:
    case BG_KEY_PATH:
        snprintf(buf, len, "%s", (const char *)src);
        break;
    case BG_KEY_CUSTOM:
        k->format(k, base, buf, len);
        break;
    }
    return buf;
}

bg_key_json_t bg_key_json_kind(const bg_key_t *k, const char *formatted)
{
    if (word_named(k, formatted) && k->type != BG_KEY_CHOICE)
        return BG_KEY_JSON_STRING;   /* a number's or a flag's word: auto, default, nan */
    switch (k->type) {
    case BG_KEY_SIZE:
    case BG_KEY_U64:
    case BG_KEY_DOUBLE:
        return BG_KEY_JSON_NUMBER;
    case BG_KEY_BOOL:
        return BG_KEY_JSON_BOOL;
    case BG_KEY_CUSTOM:
        /* a list of numbers, or a word such as in_shape's auto */
        return (k->flags & BG_KEY_NUMBERS) && (!formatted[0] || isdigit((unsigned char)formatted[0]))
                   ? BG_KEY_JSON_ARRAY
                   : BG_KEY_JSON_STRING;
    default:
        return BG_KEY_JSON_STRING;
    }
}

int bg_keys_defaults(const bg_key_t *keys, size_t n, void *base, bg_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = bg_key_set(&keys[i], base, keys[i].def, NULL, err);
        if (rc)
            return rc;
    }
    return BG_OK;
}

int bg_keys_check(const bg_key_t *keys, size_t n, const void *base, bg_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = bg_key_check(&keys[i], base, err);
        if (rc)
            return rc;
    }
    return BG_OK;
}

const bg_key_t *bg_keys_find(const bg_key_t *keys, size_t n, const char *section, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}
