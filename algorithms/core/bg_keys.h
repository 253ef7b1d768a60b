/* Declarative tables of configuration keys: each key is declared once (section, name, type, where it is stored,
 * default, allowed range or words, help) and the same entry drives parsing, defaults, validation and output. */
#ifndef BG_KEYS_H
#define BG_KEYS_H

#include <stddef.h>

#include "bg_common.h"
#include "bg_registry.h"

typedef enum {
    BG_KEY_SIZE,     /* size_t; min/max bound it */
    BG_KEY_U64,      /* uint64_t */
    BG_KEY_DOUBLE,   /* double, finite; min/max bound it; words may name special values (auto -> NAN) */
    BG_KEY_BOOL,     /* int 0/1 from true/false/yes/no/on/off/1/0; words may add others (auto -> -1) */
    BG_KEY_CHOICE,   /* int: one of the words, stored as its value */
    BG_KEY_STRING,   /* char array; a registry restricts it to component names, words without one to themselves */
    BG_KEY_PATH,     /* char array; relative paths are resolved against the scenario's folder */
    BG_KEY_CUSTOM    /* parse/format callbacks (lists such as model.hidden) */
} bg_key_type_t;

/* A word the key accepts in place of a number, and the value it stands for (choices: the only values). */
typedef struct bg_key_word {
    const char *word;
    double value;
} bg_key_word_t;

enum {
    BG_KEY_MIN_OPEN = 1u << 0,   /* min is excluded: value > min */
    BG_KEY_MAX_OPEN = 1u << 1,   /* max is excluded: value < max */
    BG_KEY_WORDS_ONLY = 1u << 2, /* a DOUBLE that takes only its words (attack.payload) */
    BG_KEY_EMPTY_OK = 1u << 3,   /* a STRING that may be empty (its default means "not set") */
    BG_KEY_NUMBERS = 1u << 4     /* a CUSTOM key whose value is a comma-separated list of numbers (or a word) */
};

typedef struct bg_key bg_key_t;
struct bg_key {
    const char *section, *name;
    bg_key_type_t type;
    size_t off, size;            /* the field in the configuration struct */
    const char *def;             /* the default, written as a scenario would write it */
    const char *help;
    double min, max;             /* numeric bounds (NAN: none) */
    unsigned flags;
    const bg_key_word_t *words;  /* NULL-terminated ({NULL, 0}) */
    const bg_registry_t *registry;
    /* BG_KEY_CUSTOM: parse into base (0, or fill why and return -1) and format what base holds. */
    int (*parse)(const bg_key_t *k, void *base, const char *v, char *why, size_t len);
    void (*format)(const bg_key_t *k, const void *base, char *buf, size_t len);
};

/* Store v into base's field (dir: folder for relative paths, may be NULL). On error returns BG_EINVAL or
 * BG_ENOTFOUND and fills err with "section.key = 'v': what is allowed" (no position; the caller knows it). */
int bg_key_set(const bg_key_t *k, void *base, const char *v, const char *dir, bg_err_t *err);
/* Check the stored value against the declared range and words (for structs filled by hand). Names the key. */
int bg_key_check(const bg_key_t *k, const void *base, bg_err_t *err);
/* The stored value as a scenario would write it ("auto", "0.1", "cm", "256,128"). */
const char *bg_key_format(const bg_key_t *k, const void *base, char *buf, size_t len);
/* The allowed values in words ("(0, 1]", "constant | cosine", "an aggregator"), "" when anything goes. */
const char *bg_key_allowed(const bg_key_t *k, char *buf, size_t len);

/* Whether a value bg_key_format wrote is a JSON number, boolean or string (BG_KEY_NUMBERS lists: the inside of a
 * JSON array; a word such as auto is a string). */
typedef enum { BG_KEY_JSON_STRING, BG_KEY_JSON_NUMBER, BG_KEY_JSON_BOOL, BG_KEY_JSON_ARRAY } bg_key_json_t;
bg_key_json_t bg_key_json_kind(const bg_key_t *k, const char *formatted);

/* Apply every default of a table (n keys) to base. Returns BG_OK; a default that does not parse is a bug. */
int bg_keys_defaults(const bg_key_t *keys, size_t n, void *base, bg_err_t *err);
/* Check every key of a table against what base holds; the first error names its key. */
int bg_keys_check(const bg_key_t *keys, size_t n, const void *base, bg_err_t *err);
const bg_key_t *bg_keys_find(const bg_key_t *keys, size_t n, const char *section, const char *name);

#endif
