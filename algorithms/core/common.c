/* Error reporting, RNG stream derivation and the few vector reductions every module shares.
 * Streams are derived by hashing (seed, role, index) so no two consumers ever share a generator. */
#include "bg_common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bg_err_set(bg_err_t *e, int code, const char *file, long line, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->line = line;
    e->key[0] = '\0';
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *bg_strerror(int code)
{
    switch (code) {
    case BG_OK:
        return "success";
#define BG_ERRNO_TEXT(name, value, text)                                                                            \
    case BG_##name:                                                                                                 \
        return text;
        BG_ERRNO_MAP(BG_ERRNO_TEXT)
#undef BG_ERRNO_TEXT
    default:
        return "unknown error";
    }
}

void bg_err_key(bg_err_t *e, const char *key)
{
    if (e && !e->key[0])
        snprintf(e->key, sizeof e->key, "%s", key);
}

int bg_err_keyed(bg_err_t *e, const char *key, int code)
{
    bg_err_key(e, key);
    return code;
}

void bg_err_clear(bg_err_t *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

const char *bg_err_format(const bg_err_t *e, char *buf, size_t len)
{
    if (e->file[0] && e->line > 0)
        snprintf(buf, len, "%s:%ld: %s", e->file, e->line, e->msg);
    else if (e->file[0])
        snprintf(buf, len, "%s: %s", e->file, e->msg);
    else
        snprintf(buf, len, "%s", e->msg);
    return buf;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t bg_rng_derive(uint64_t seed, unsigned role, uint64_t index)
{
    uint64_t s = seed;
    uint64_t a = splitmix64(&s);
    s = a ^ ((uint64_t)role * 0xD6E8FEB86659FD93ULL);
    uint64_t b = splitmix64(&s);
    s = b ^ (index * 0xA0761D6478BD642FULL);
    return splitmix64(&s);
}

void bg_rng_reseed(gsl_rng *r, uint64_t seed, unsigned role, uint64_t index)
{
    uint64_t h = bg_rng_derive(seed, role, index);
    /* mt19937 takes 32 bits of seed; fold the hash so both halves count. 0 would select GSL's default seed. */
    unsigned long s = (unsigned long)((h ^ (h >> 32)) & 0xFFFFFFFFULL);
    gsl_rng_set(r, s ? s : 0x5EED);
}

gsl_rng *bg_rng_stream(uint64_t seed, unsigned role, uint64_t index)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        bg_rng_reseed(r, seed, role, index);
    return r;
}

double bg_vec_dot(const float *a, const float *b, size_t d)
{
    double s = 0.0;
    for (size_t i = 0; i < d; i++)
        s += (double)a[i] * b[i];
    return s;
}

double bg_vec_norm2(const float *a, size_t d)
{
    return bg_vec_dot(a, a, d);
}

int bg_vec_all_finite(const float *a, size_t d)
{
    for (size_t i = 0; i < d; i++)
        if (!isfinite(a[i]))
            return 0;
    return 1;
}

FILE *bg_fopen_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f)
        close(fd);
    return f;
}

int bg_open_regular(const char *path, const char *what, unsigned long long max_bytes, int *fd, bg_err_t *err)
{
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (*fd < 0)
        return bg_err_set(err, BG_EIO, path, 0, "cannot open the %s: %s", what, strerror(errno));
    struct stat st;
    const char *bad = fstat(*fd, &st)          ? strerror(errno)
                      : S_ISDIR(st.st_mode)    ? "is a folder"
                      : !S_ISREG(st.st_mode)   ? "is not a regular file (a FIFO or a device would block or never end)"
                                               : NULL;
    if (!bad && max_bytes && (unsigned long long)st.st_size > max_bytes) {
        close(*fd);
        *fd = -1;
        return bg_err_set(err, BG_EINVAL, path, 0, "the %s is larger than %llu MiB", what, max_bytes >> 20);
    }
    if (bad) {
        close(*fd);
        *fd = -1;
        return bg_err_set(err, BG_EINVAL, path, 0, "the %s %s", what, bad);
    }
    int fl = fcntl(*fd, F_GETFL);   /* back to blocking reads (no difference for a regular file) */
    if (fl >= 0)
        fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
    return BG_OK;
}
