/* Scenario loading: the learning keys (bg_config_keys) and the simulator's own keys below, one table each, drive
 * parsing, overrides, validation, `byzgrid keys` and the config block of summary.json. INI syntax is libinih's. */
#include "bg_scenario.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the simulator's keys */

static int parse_hosts(const bg_key_t *k, void *base, const char *v, char *why, size_t len)
{
    (void)k;
    bg_scenario_t *sc = base;
    if (strlen(v) >= sizeof sc->hosts_spec) {
        snprintf(why, len, "at most %zu characters", sizeof sc->hosts_spec - 1);
        return -1;
    }
    snprintf(sc->hosts_spec, sizeof sc->hosts_spec, "%s", v);
    return 0;
}

/* As written, or the default's expansion for the run's n ("w0..w19"). */
static void format_hosts(const bg_key_t *k, const void *base, char *buf, size_t len)
{
    (void)k;
    const bg_scenario_t *sc = base;
    if (sc->hosts_spec[0])
        snprintf(buf, len, "%s", sc->hosts_spec);
    else if (sc->learn.n > 1)
        snprintf(buf, len, "w0..w%zu", sc->learn.n - 1);
    else
        snprintf(buf, len, "w0");
}

#define AT(field) offsetof(bg_scenario_t, field), sizeof(((bg_scenario_t *)0)->field)

static const bg_key_word_t auto_word[] = {{"auto", -1}, {NULL, 0}};
static const bg_key_word_t default_word[] = {{"default", -1}, {NULL, 0}};
static const bg_key_word_t timings[] = {{"eavesdrop", 0}, {"oracle", 1}, {NULL, 0}};
static const bg_key_word_t models[] = {{"LV08", 0}, {"CM02", 0}, {NULL, 0}};

/* Column order as in bg_config_keys: section, name, type, field, default, help, min, max, flags, words, registry,
 * parse, format. */
static const bg_key_t sim_keys[] = {
    {"run", "name", BG_KEY_STRING, AT(name), "", "name of the run (output folder out/NAME; default: the file name)",
     NAN, NAN, BG_KEY_EMPTY_OK, NULL, NULL, NULL, NULL},
    {"run", "progress", BG_KEY_BOOL, AT(progress), "auto", "progress lines on stderr (auto: for runs over ~2 s)", NAN,
     NAN, 0, auto_word, NULL, NULL, NULL},
    {"run", "events", BG_KEY_BOOL, AT(events), "false",
     "write events.csv: every computation and message of every round with its simulated start, end and bytes "
     "(simulated runs only; for analysis/plot_timeline.py)",
     NAN, NAN, 0, NULL, NULL, NULL, NULL},
    {"attack", "timing", BG_KEY_CHOICE, AT(attack_oracle), "eavesdrop",
     "eavesdrop: omniscient attackers wait for the honest messages to exist; oracle: idealised, no wait", NAN, NAN, 0,
     timings, NULL, NULL, NULL},
    {"workers", "hosts", BG_KEY_CUSTOM, AT(hosts_spec), "",
     "worker hosts in rank order: list and ranges (w0..w9, w12); default w0..w{n-1}", NAN, NAN, 0, NULL, NULL,
     parse_hosts, format_hosts},
    {"workers", "server", BG_KEY_STRING, AT(server_host), "server", "host of the parameter server", NAN, NAN, 0,
     NULL, NULL, NULL, NULL},
    {"platform", "file", BG_KEY_PATH, AT(platform), "", "SimGrid platform XML", NAN, NAN, 0, NULL, NULL, NULL, NULL},
    {"platform", "network_model", BG_KEY_STRING, AT(network_model), "LV08",
     "SimGrid network model: LV08 (realistic TCP) or CM02 (analytic max-min)", NAN, NAN, 0, models, NULL, NULL, NULL},
    {"platform", "crosstraffic", BG_KEY_BOOL, AT(crosstraffic), "default",
     "model TCP ACK traffic (default: SimGrid's, on)", NAN, NAN, 0, default_word, NULL, NULL, NULL},
    {"platform", "tcp_gamma", BG_KEY_DOUBLE, AT(tcp_gamma), "default",
     "TCP window bound in bytes (0: no bound; default: SimGrid's)", 0, NAN, 0, default_word, NULL, NULL, NULL},
};
#define N_SIM_KEYS (sizeof sim_keys / sizeof sim_keys[0])

static const char *const sections[] = {"run", "data", "partition", "model", "method", "compressor", "downlink",
                                       "aggregator", "attack", "workers", "platform", NULL};

/* Every key in listing order: section by section, the learning keys of a section, then the simulator's. */
typedef struct key_list {
    size_t n;
    const bg_key_t *key[BG_SCENARIO_MAX_KEYS];
    unsigned char learning[BG_SCENARIO_MAX_KEYS];   /* stored in sc->learn (else in the scenario itself) */
} key_list_t;

static void list_keys(key_list_t *l)
{
    l->n = 0;
    for (size_t s = 0; sections[s]; s++)
        for (int learning = 1; learning >= 0; learning--) {
            const bg_key_t *t = learning ? bg_config_keys : sim_keys;
            const size_t nt = learning ? bg_config_n_keys : N_SIM_KEYS;
            for (size_t k = 0; k < nt && l->n < BG_SCENARIO_MAX_KEYS; k++)
                if (!strcmp(t[k].section, sections[s])) {
                    l->key[l->n] = &t[k];
                    l->learning[l->n++] = (unsigned char)learning;
                }
        }
}

const bg_key_t *bg_scenario_key(size_t i, int *learning)
{
    key_list_t l;
    list_keys(&l);
    if (i >= l.n)
        return NULL;
    *learning = l.learning[i];
    return l.key[i];
}

static long key_index(const key_list_t *l, const char *section, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->key[i]->section, section) && !strcmp(l->key[i]->name, name))
            return (long)i;
    return -1;
}

/* Where key k of the list is stored in sc (learning keys in sc->learn). */
static void *key_base(const key_list_t *l, size_t i, const bg_scenario_t *sc)
{
    return l->learning[i] ? (void *)&sc->learn : (void *)sc;
}

const char *bg_data_dir(void)
{
    static char buf[1024];
    const char *env = getenv("BYZGRID_DATA_DIR");
    if (env && *env)
        return env;
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/a9a.gz", BYZGRID_SOURCE_DATA_DIR);
    if (access(probe, R_OK) == 0)
        return BYZGRID_SOURCE_DATA_DIR;
    snprintf(buf, sizeof buf, "%s", BYZGRID_INSTALL_DATA_DIR);
    return buf;
}

typedef struct parse_ctx {
    bg_scenario_t *sc;
    bg_err_t *err;
    FILE *fp;
    const char *file;     /* file name for errors ("--set" for overrides) */
    long line;
    char dir[1024];       /* base for relative paths */
    int from;             /* BG_FROM_FILE or BG_FROM_SET */
    int failed;
} parse_ctx_t;

static int fail(parse_ctx_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(parse_ctx_t *c, int code, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    char buf[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    bg_err_set(c->err, code, c->file, c->line, "%s", buf);
    c->failed = 1;
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx_t *c = user;
    if (c->failed)
        return 1;   /* report only the first error */
    if (!section[0])
        return fail(c, BG_EINVAL, "key '%s' outside any [section]", name);
    size_t s = 0;
    while (sections[s] && strcmp(sections[s], section))
        s++;
    char list[600] = "";
    if (!sections[s]) {
        for (size_t i = 0; sections[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", sections[i]);
        return fail(c, BG_EINVAL, "unknown section [%s] (known: %s)", section, list);
    }
    key_list_t l;
    list_keys(&l);
    long idx = key_index(&l, section, name);
    if (idx < 0) {
        for (size_t i = 0; i < l.n; i++)
            if (!strcmp(l.key[i]->section, section))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "",
                         l.key[i]->name);
        return fail(c, BG_EINVAL, "unknown key '%s' in [%s] (known: %s)", name, section, list);
    }
    if (!value[0])
        return fail(c, BG_EINVAL, "%s.%s has no value", section, name);
    int rc = bg_key_set(l.key[idx], key_base(&l, (size_t)idx, c->sc), value, c->dir, c->err);
    if (rc) {
        /* the key table's message, placed at this line */
        snprintf(c->err->file, sizeof c->err->file, "%s", c->file);
        c->err->line = c->line;
        c->failed = 1;
        return 0;
    }
    c->sc->src[idx].from = c->from;
    c->sc->src[idx].line = c->line;
    return 1;
}

static char *reader(char *str, int num, void *stream)
{
    parse_ctx_t *c = stream;
    char *r = fgets(str, num, c->fp);
    if (r)
        c->line++;
    return r;
}

static void scenario_defaults(bg_scenario_t *sc)
{
    memset(sc, 0, sizeof *sc);
    bg_config_default(&sc->learn);
    bg_err_t err;
    if (bg_keys_defaults(sim_keys, N_SIM_KEYS, sc, &err))
        abort();   /* a default the table itself rejects: a bug, caught by test_scenario */
    snprintf(sc->learn.data_dir, sizeof sc->learn.data_dir, "%s", bg_data_dir());
}

/* "w0..w19, w25 edge3" -> names. A range a..b needs the same prefix and numeric suffixes. */
static int expand_hosts(bg_scenario_t *sc, bg_err_t *err)
{
    size_t n = sc->learn.n;
    free(sc->hosts);
    sc->hosts = calloc(n ? n : 1, sizeof *sc->hosts);
    if (!sc->hosts)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    sc->n_hosts = 0;
    if (!sc->hosts_spec[0]) {
        for (size_t i = 0; i < n; i++)
            snprintf(sc->hosts[i], BG_MAX_HOSTNAME, "w%zu", i);
        sc->n_hosts = n;
        return BG_OK;
    }
    char spec[4096];
    snprintf(spec, sizeof spec, "%s", sc->hosts_spec);
    char *save = NULL;
    int too_many = 0;
    size_t listed = 0;
    for (char *tok = strtok_r(spec, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        char *dots = strstr(tok, "..");
        if (!dots) {
            if (sc->n_hosts < n)
                snprintf(sc->hosts[sc->n_hosts++], BG_MAX_HOSTNAME, "%s", tok);
            else
                too_many = 1;
            listed++;
            continue;
        }
        *dots = '\0';
        const char *a = tok, *b = dots + 2;
        size_t pa = strcspn(a, "0123456789"), pb = strcspn(b, "0123456789");
        char *ea, *eb;
        long lo = strtol(a + pa, &ea, 10), hi = strtol(b + pb, &eb, 10);
        if (pa != pb || strncmp(a, b, pa) || !a[pa] || !b[pb] || *ea || *eb || hi < lo)
            return bg_err_set(err, BG_EINVAL, NULL, 0,
                              "workers.hosts: bad range '%s..%s' (expected e.g. w0..w19: same prefix, rising numbers)",
                              a, b);
        for (long v = lo; v <= hi; v++, listed++) {
            if (sc->n_hosts < n)
                snprintf(sc->hosts[sc->n_hosts++], BG_MAX_HOSTNAME, "%.*s%ld", (int)pa, a, v);
            else
                too_many = 1;
        }
    }
    if (too_many || sc->n_hosts != n)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "workers.hosts lists %zu hosts but workers.n = %zu", listed, n);
    return BG_OK;
}

void bg_scenario_locate(const bg_scenario_t *sc, bg_err_t *err)
{
    if (!err->key[0] || err->file[0])
        return;
    char section[64];
    const char *dot = strchr(err->key, '.');
    snprintf(section, sizeof section, "%.*s", dot ? (int)(dot - err->key) : 0, err->key);
    key_list_t l;
    list_keys(&l);
    long i = dot ? key_index(&l, section, dot + 1) : -1;
    snprintf(err->file, sizeof err->file, "%s", i >= 0 && sc->src[i].from == BG_FROM_SET ? "--set" : sc->path);
    /* A key that kept its default points at the scenario file itself. */
    err->line = i >= 0 && sc->src[i].from == BG_FROM_FILE ? sc->src[i].line : 0;
}

int bg_scenario_load(const char *path, const char *const *sets, size_t n_sets, bg_scenario_t *sc, bg_err_t *err)
{
    scenario_defaults(sc);
    snprintf(sc->path, sizeof sc->path, "%s", path);

    parse_ctx_t c = {.sc = sc, .err = err, .file = path, .from = BG_FROM_FILE};
    snprintf(c.dir, sizeof c.dir, "%s", path);
    char *slash = strrchr(c.dir, '/');
    if (slash)
        *slash = '\0';
    else
        c.dir[0] = '\0';
    c.fp = fopen(path, "r");
    if (!c.fp)
        return bg_err_set(err, BG_EIO, path, 0, "cannot open the scenario: %s", strerror(errno));
    ini_allow_multiline = false;   /* an indented line is a mistake, not a continuation */
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = 1 << 16;
    int rc = ini_parse_stream(reader, &c, handler, &c);
    fclose(c.fp);
    if (c.failed)
        return err->code;
    if (rc > 0)
        return bg_err_set(err, BG_EINVAL, path, rc, "malformed line (expected [section], key = value, or a ; comment)");
    if (rc < 0)
        return bg_err_set(err, BG_EIO, path, 0, "cannot read the scenario");

    for (size_t i = 0; i < n_sets; i++) {
        const char *s = sets[i];
        const char *dotp = strchr(s, '.'), *eq = strchr(s, '=');
        if (!dotp || !eq || dotp > eq)
            return bg_err_set(err, BG_EINVAL, "--set", 0, "'%s': expected section.key=value", s);
        char section[64], key[64];
        snprintf(section, sizeof section, "%.*s", (int)(dotp - s), s);
        snprintf(key, sizeof key, "%.*s", (int)(eq - dotp - 1), dotp + 1);
        parse_ctx_t o = {.sc = sc, .err = err, .file = "--set", .line = 0, .from = BG_FROM_SET};
        handler(&o, section, key, eq + 1);
        if (o.failed)
            return err->code;
    }
    if (!sc->name[0]) {   /* run.name defaults to the scenario's file name without .ini */
        const char *base = strrchr(path, '/');
        snprintf(sc->name, sizeof sc->name, "%s", base ? base + 1 : path);
        char *dot = strrchr(sc->name, '.');
        if (dot && dot != sc->name)
            *dot = '\0';
    }
    /* A method's natural compressor when the scenario names none (momentum SGD is the uncompressed baseline,
     * BR-CSGD/DIANA/MARINA/DASHA need an unbiased one). */
    key_list_t l;
    list_keys(&l);
    long ci = key_index(&l, "compressor", "name");
    const bg_method_ops_t *mops = bg_method_find(sc->learn.method.name);
    if (sc->src[ci].from == BG_FROM_DEFAULT && mops && mops->default_compressor) {
        snprintf(sc->learn.comp.name, sizeof sc->learn.comp.name, "%s", mops->default_compressor);
        sc->src[ci].from = BG_FROM_METHOD;
    }
    if (!sc->learn.dataset[0] && !sc->learn.train_path[0])
        return bg_err_set(err, BG_EINVAL, path, 0, "no data: set data.dataset (see byzgrid list) or data.train");
    if (!sc->platform[0])
        return bg_err_set(err, BG_EINVAL, path, 0, "no platform: set platform.file (e.g. ../platforms/star-hetero.xml)");
    int r = expand_hosts(sc, err);
    if (r) {
        bg_err_key(err, "workers.hosts");
        bg_scenario_locate(sc, err);
    }
    return r;
}

void bg_scenario_destroy(bg_scenario_t *sc)
{
    free(sc->hosts);
    sc->hosts = NULL;
    sc->n_hosts = 0;
}

void bg_scenario_print_keys(FILE *out)
{
    const char *cur = "";
    char allowed[256];
    key_list_t l;
    list_keys(&l);
    for (size_t i = 0; i < l.n; i++) {
        const bg_key_t *k = l.key[i];
        if (strcmp(cur, k->section)) {
            cur = k->section;
            fprintf(out, "  [%s]\n", cur);
        }
        bg_key_allowed(k, allowed, sizeof allowed);
        fprintf(out, "    %-16s %-14s %s%s%s%s\n", k->name, k->def, k->help, allowed[0] ? " [" : "", allowed,
                allowed[0] ? "]" : "");
    }
}

static const char *const from_names[] = {"default", "file", "--set", "method"};

void bg_scenario_write_config(bg_json_t *j, const bg_scenario_t *sc, const bg_config_t *learn)
{
    char buf[4200];
    key_list_t l;
    list_keys(&l);
    for (int pass = 0; pass < 2; pass++) {
        bg_json_begin(j, pass ? "config_source" : "config");
        const char *cur = NULL;
        for (size_t i = 0; i < l.n; i++) {
            const bg_key_t *k = l.key[i];
            if (!cur || strcmp(cur, k->section)) {
                if (cur)
                    bg_json_end(j);
                cur = k->section;
                bg_json_begin(j, cur);
            }
            if (pass) {
                bg_json_str(j, k->name, from_names[sc->src[i].from]);
                continue;
            }
            bg_key_format(k, l.learning[i] ? (const void *)learn : (const void *)sc, buf, sizeof buf);
            switch (bg_key_json_kind(k, buf)) {
            case BG_KEY_JSON_NUMBER:
                bg_json_raw(j, k->name, buf);
                break;
            case BG_KEY_JSON_BOOL:
                bg_json_bool(j, k->name, !strcmp(buf, "true"));
                break;
            case BG_KEY_JSON_ARRAY: {
                char arr[4300];
                snprintf(arr, sizeof arr, "[%s]", buf);
                bg_json_raw(j, k->name, arr);
                break;
            }
            default:
                bg_json_str(j, k->name, buf);
            }
        }
        if (cur)
            bg_json_end(j);
        bg_json_end(j);
    }
}
