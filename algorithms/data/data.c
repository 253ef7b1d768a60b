/* LIBSVM/svmlight reader (plain or gzip through zlib), row normalisation, IID partition and epoch samplers.
 * The reader parses into a sparse buffer first so the dense width can be the largest index seen. */
#include "bg_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <gsl/gsl_randist.h>

/* Indices above this are surely a typo: a dense row that wide would not fit in memory anyway. */
#define BG_MAX_FEATURE_INDEX 100000000L

typedef struct {
    /* sparse rows: entries row_ptr[i] .. row_ptr[i+1]-1 of col/val */
    size_t n, cap_rows, cap_label;
    size_t *row_ptr;
    double *label;
    size_t nnz, cap_col, cap_val;
    uint32_t *col;   /* 0-based */
    float *val;
    size_t max_col;  /* largest 1-based index seen */
} sparse_t;

static void sparse_free(sparse_t *s)
{
    free(s->row_ptr);
    free(s->label);
    free(s->col);
    free(s->val);
    memset(s, 0, sizeof *s);
}

/* Geometric growth keeps the reader linear in the file size. Returns the (possibly moved) block, or NULL with
 * the old block still valid. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *q = realloc(p, nc * elem);
    if (q)
        *cap = nc;
    return q;
}

/* Make room for one more sample (row_ptr needs n+2 slots: the row's start and the running end). */
static int sparse_reserve_row(sparse_t *s)
{
    size_t *rp = grow(s->row_ptr, &s->cap_rows, s->n + 2, sizeof *rp);
    if (!rp)
        return -1;
    s->row_ptr = rp;
    double *lb = grow(s->label, &s->cap_label, s->n + 1, sizeof *lb);
    if (!lb)
        return -1;
    s->label = lb;
    return 0;
}

static int sparse_reserve_entry(sparse_t *s)
{
    uint32_t *c = grow(s->col, &s->cap_col, s->nnz + 1, sizeof *c);
    if (!c)
        return -1;
    s->col = c;
    float *v = grow(s->val, &s->cap_val, s->nnz + 1, sizeof *v);
    if (!v)
        return -1;
    s->val = v;
    return 0;
}

/* Copy a token for an error message: tokens end at whitespace and are clipped so messages stay readable. */
static const char *token_str(const char *t, char *buf, size_t len)
{
    size_t k = 0;
    while (t[k] && t[k] != ' ' && t[k] != '\t' && t[k] != '\n' && t[k] != '\r' && k + 1 < len)
        k++;
    memcpy(buf, t, k);
    buf[k] = '\0';
    return buf;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Parse one non-blank line into s. Returns BG_OK or an error filled in err. */
static int parse_line(char *p, const char *path, long lineno, size_t n_features, sparse_t *s, bg_err_t *err)
{
    char tok[64];
    char *end;

    errno = 0;
    double label = strtod(p, &end);
    if (end == p || !(*end == '\0' || is_space(*end)))
        return bg_err_set(err, BG_EFORMAT, path, lineno,
                          "malformed label '%s': a line must start with a numeric label followed by "
                          "'index:value' pairs", token_str(p, tok, sizeof tok));
    if (!isfinite(label))
        return bg_err_set(err, BG_EFORMAT, path, lineno, "label '%s' is not a finite number",
                          token_str(p, tok, sizeof tok));

    if (sparse_reserve_row(s))
        return bg_err_set(err, BG_ENOMEM, path, lineno, "out of memory while reading sample %zu", s->n + 1);

    size_t first = s->nnz;
    long prev = 0;
    p = end;
    for (;;) {
        while (is_space(*p))
            p++;
        if (*p == '\0' || *p == '#')   /* svmlight allows a trailing comment */
            break;
        char *t = p;
        if (strncmp(p, "qid:", 4) == 0) {   /* ranking query ids carry no feature: skip them */
            p += 4;
            while (*p && !is_space(*p))
                p++;
            continue;
        }
        if (*p < '0' || *p > '9')
            goto bad_token;
        errno = 0;
        long idx = strtol(p, &end, 10);
        if (end == p || *end != ':')
            goto bad_token;
        if (errno == ERANGE || idx > BG_MAX_FEATURE_INDEX)
            return bg_err_set(err, BG_EFORMAT, path, lineno,
                              "feature index in token '%s' is too large: at most %ld is allowed",
                              token_str(t, tok, sizeof tok), BG_MAX_FEATURE_INDEX);
        if (idx == 0)
            return bg_err_set(err, BG_EFORMAT, path, lineno,
                              "feature index 0 in token '%s': indices are 1-based (1, 2, ...)",
                              token_str(t, tok, sizeof tok));
        if (idx <= prev)
            return bg_err_set(err, BG_EFORMAT, path, lineno,
                              "feature index %ld follows index %ld: indices on a line must be strictly increasing",
                              idx, prev);
        if (n_features > 0 && (size_t)idx > n_features)
            return bg_err_set(err, BG_EFORMAT, path, lineno,
                              "feature index %ld is beyond the %zu features this file is read with (data.features, "
                              "or the training data's width)", idx, n_features);
        p = end + 1;
        float v = strtof(p, &end);
        if (end == p || !(*end == '\0' || is_space(*end)))
            goto bad_token;
        if (!isfinite(v))
            return bg_err_set(err, BG_EFORMAT, path, lineno,
                              "value in token '%s' is not a finite number", token_str(t, tok, sizeof tok));
        p = end;
        prev = idx;
        if (v == 0.0f)
            continue;
        if (sparse_reserve_entry(s))
            return bg_err_set(err, BG_ENOMEM, path, lineno, "out of memory while reading sample %zu", s->n + 1);
        s->col[s->nnz] = (uint32_t)(idx - 1);
        s->val[s->nnz] = v;
        s->nnz++;
        continue;
    bad_token:
        return bg_err_set(err, BG_EFORMAT, path, lineno,
                          "malformed token '%s': expected 'index:value' with a positive integer index and a "
                          "finite number", token_str(t, tok, sizeof tok));
    }
    if ((size_t)prev > s->max_col)
        s->max_col = (size_t)prev;
    s->row_ptr[s->n] = first;
    s->label[s->n] = label;
    s->n++;
    s->row_ptr[s->n] = s->nnz;
    return BG_OK;
}

/* Binary files map to {0,1} by the reference rule; multi-class files must already be 0-based class ids. */
typedef struct {
    size_t n_distinct;     /* capped at 3 */
    double v[2];
    int all_class_ids;     /* every label so far a non-negative integer */
    long first_bad_line;   /* first line whose label is not a class id */
    double first_bad;
    long third_line;       /* line where a third distinct label appeared */
    double third;
    double max;
    double limit;          /* largest class id allowed */
} labels_t;

static void labels_see(labels_t *L, double y, long lineno)
{
    if (L->n_distinct < 3) {
        size_t k;
        for (k = 0; k < L->n_distinct; k++)
            if (L->v[k] == y)
                break;
        if (k == L->n_distinct) {
            if (k < 2)
                L->v[k] = y;
            else {
                L->third_line = lineno;
                L->third = y;
            }
            L->n_distinct++;
        }
    }
    if (L->all_class_ids && !(y >= 0 && y == floor(y) && y <= L->limit)) {
        L->all_class_ids = 0;
        L->first_bad_line = lineno;
        L->first_bad = y;
    }
    if (y > L->max)
        L->max = y;
}

static int read_sparse(const char *path, size_t n_features, sparse_t *s, labels_t *L, bg_err_t *err)
{
    int fd, orc = bg_open_regular(path, "LIBSVM file", 0, &fd, err);
    if (orc)
        return orc;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return bg_err_set(err, BG_ENOMEM, path, 0, "out of memory while opening the dataset");
    }
    gzbuffer(f, 1 << 17);

    size_t cap = 1 << 12, len = 0;
    char *line = malloc(cap);
    if (!line) {
        gzclose(f);
        return bg_err_set(err, BG_ENOMEM, path, 0, "out of memory while opening the dataset");
    }
    long lineno = 0;
    int rc = BG_OK;
    for (;;) {
        /* Lines have no length limit: keep reading into a doubled buffer until the newline shows up. */
        const z_off_t at = gztell(f);
        char *got = gzgets(f, line + len, (int)(cap - len > INT_MAX ? INT_MAX : cap - len));
        if (got) {
            const size_t part = strlen(line + len);
            if (at >= 0 && gztell(f) - at != (z_off_t)part) {   /* gzgets read past a NUL byte */
                rc = bg_err_set(err, BG_EFORMAT, path, lineno + 1, "a NUL byte in the line (not a LIBSVM text file)");
                break;
            }
            len += part;
            if (len > 0 && line[len - 1] != '\n' && len + 1 == cap) {
                char *bigger = realloc(line, cap * 2);
                if (!bigger) {
                    rc = bg_err_set(err, BG_ENOMEM, path, lineno + 1, "out of memory for a long line");
                    break;
                }
                line = bigger;
                cap *= 2;
                continue;
            }
        }
        /* zlib treats a truncated stream as a soft error (Z_BUF_ERROR) and still hands out the partial last
         * line, so the status must be checked before trusting any line that lacks its newline. */
        if (!got || len == 0 || line[len - 1] != '\n') {
            int zerr;
            const char *zmsg = gzerror(f, &zerr);
            size_t plen = strlen(path);
            if (strncmp(zmsg, path, plen) == 0 && strncmp(zmsg + plen, ": ", 2) == 0)
                zmsg += plen + 2;   /* zlib prefixes the path, which the error already carries */
            if (zerr == Z_ERRNO) {
                rc = bg_err_set(err, BG_EIO, path, 0, "read error: %s", zmsg);
                break;
            }
            if (zerr != Z_OK && zerr != Z_STREAM_END) {
                rc = bg_err_set(err, BG_EFORMAT, path, lineno + 1,
                                "corrupt or truncated gzip data (%s)", zmsg);
                break;
            }
            if (len == 0)
                break;   /* clean end of file */
        }
        lineno++;
        char *p = line;
        while (is_space(*p))
            p++;
        if (*p != '\0' && *p != '#') {
            rc = parse_line(p, path, lineno, n_features, s, err);
            if (rc)
                break;
            labels_see(L, s->label[s->n - 1], lineno);
        }
        len = 0;
        if (!got)
            break;
    }
    free(line);
    if (gzclose(f) != Z_OK && rc == BG_OK)
        rc = bg_err_set(err, BG_EIO, path, 0, "error closing the dataset file");
    return rc;
}

int bg_dataset_load_libsvm(const char *path, size_t n_features, bg_dataset_t *out, bg_err_t *err)
{
    return bg_dataset_load_libsvm_classes(path, n_features, 0, out, err);
}

/* Check the labels seen against the declared classes; *binary tells whether the reference 0/1 mapping applies. */
static int check_labels(const labels_t *L, size_t n_classes, const char *path, int *binary, bg_err_t *err)
{
    if (n_classes == 0) {
        /* Undeclared: two distinct values are binary, anything else must already be class ids. */
        *binary = L->n_distinct == 2;
        if (L->n_distinct != 2 && !L->all_class_ids) {
            /* Point at the first line from which the labels can no longer be read either way. */
            long line = L->first_bad_line;
            double bad = L->first_bad;
            if (L->n_distinct > 2 && L->third_line > line) {
                line = L->third_line;
                bad = L->third;
            }
            return bg_err_set(err, BG_EFORMAT, path, line,
                              "label %g is not allowed here: labels must take exactly two distinct values or be "
                              "class ids 0, 1, 2, ...", bad);
        }
        return BG_OK;
    }
    if (n_classes == 2) {
        *binary = 1;
        if (L->n_distinct > 2)
            return bg_err_set(err, BG_EFORMAT, path, L->third_line,
                              "label %g is a third distinct value (after %g and %g): a binary dataset allows only "
                              "two label values", L->third, L->v[0], L->v[1]);
        return BG_OK;
    }
    *binary = 0;
    if (L->first_bad_line > 0)
        return bg_err_set(err, BG_EFORMAT, path, L->first_bad_line,
                          "label %g is not a class id: with %zu declared classes labels must be integers 0 .. %zu",
                          L->first_bad, n_classes, n_classes - 1);
    return BG_OK;
}

int bg_dataset_load_libsvm_classes(const char *path, size_t n_features, size_t n_classes, bg_dataset_t *out,
                                   bg_err_t *err)
{
    if (!out || !path)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "bg_dataset_load_libsvm: path and out must not be NULL");
    memset(out, 0, sizeof *out);
    if (n_classes == 1 || n_classes > (size_t)INT_MAX)
        return bg_err_set(err, BG_EINVAL, path, 0,
                          "cannot read with %zu declared classes: n_classes must be 0 (from the labels), 2 (binary) "
                          "or 3 .. %d", n_classes, INT_MAX);

    sparse_t s = {0};
    /* A declared class count makes the class-id check stricter: ids must also stay below it. */
    labels_t L = {.all_class_ids = 1, .max = -HUGE_VAL,
                  .limit = n_classes >= 3 ? (double)(n_classes - 1) : (double)(INT_MAX - 1)};
    int rc = read_sparse(path, n_features, &s, &L, err);
    if (rc)
        goto done;
    if (s.n == 0) {
        rc = bg_err_set(err, BG_EFORMAT, path, 0, "the file holds no samples (it is empty or only blank lines)");
        goto done;
    }
    size_t d = n_features ? n_features : s.max_col;
    if (d == 0) {
        rc = bg_err_set(err, BG_EFORMAT, path, 0,
                        "no sample has a feature: give n_features or add 'index:value' pairs");
        goto done;
    }
    int binary;
    rc = check_labels(&L, n_classes, path, &binary, err);
    if (rc)
        goto done;
    if (s.n > SIZE_MAX / sizeof(float) / d) {
        rc = bg_err_set(err, BG_ENOMEM, path, 0, "a dense %zu x %zu matrix does not fit in memory", s.n, d);
        goto done;
    }
    out->X = calloc(s.n * d, sizeof *out->X);
    out->y = malloc(s.n * sizeof *out->y);
    if (!out->X || !out->y) {
        rc = bg_err_set(err, BG_ENOMEM, path, 0, "out of memory for a dense %zu x %zu matrix", s.n, d);
        goto done;
    }
    for (size_t i = 0; i < s.n; i++) {
        float *row = out->X + i * d;
        for (size_t k = s.row_ptr[i]; k < s.row_ptr[i + 1]; k++)
            row[s.col[k]] = s.val[k];
    }
    if (binary && L.n_distinct == 2) {
        double hi = L.v[0] > L.v[1] ? L.v[0] : L.v[1];
        for (size_t i = 0; i < s.n; i++)
            out->y[i] = s.label[i] == hi;
        out->n_classes = 2;
    } else if (binary) {
        /* One value only (e.g. a test file holding one class): "is the max" would make -1 the positive class,
         * so a positive value is class 1 and anything else class 0. */
        for (size_t i = 0; i < s.n; i++)
            out->y[i] = s.label[i] > 0;
        out->n_classes = 2;
    } else {
        for (size_t i = 0; i < s.n; i++)
            out->y[i] = (int)s.label[i];
        out->n_classes = n_classes ? n_classes : (size_t)L.max + 1;
    }
    out->n = s.n;
    out->d = d;
    snprintf(out->source, sizeof out->source, "%s", path);

done:
    sparse_free(&s);
    if (rc)
        bg_dataset_destroy(out);
    return rc;
}

void bg_dataset_normalize_rows(bg_dataset_t *ds)
{
    if (!ds || !ds->X)
        return;
    for (size_t i = 0; i < ds->n; i++) {
        float *row = ds->X + i * ds->d;
        double nrm = sqrt(bg_vec_norm2(row, ds->d));
        if (nrm > 0.0) {
            double inv = 1.0 / nrm;
            for (size_t j = 0; j < ds->d; j++)
                row[j] = (float)(row[j] * inv);
        }
    }
}

void bg_dataset_destroy(bg_dataset_t *ds)
{
    if (!ds)
        return;
    free(ds->X);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

int bg_partition_iid(size_t n_samples, size_t n_shards, gsl_rng *r, bg_shard_t *shards, bg_err_t *err)
{
    if (!r || !shards || n_shards == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "bg_partition_iid: need a generator and at least one shard");
    if (n_samples < n_shards)
        return bg_err_set(err, BG_ERANGE, NULL, 0,
                          "cannot split %zu samples into %zu shards: every shard needs at least one sample",
                          n_samples, n_shards);
    size_t *perm = malloc(n_samples * sizeof *perm);
    if (!perm)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for a permutation of %zu samples", n_samples);
    for (size_t i = 0; i < n_samples; i++)
        perm[i] = i;
    gsl_ran_shuffle(r, perm, n_samples, sizeof *perm);

    size_t base = n_samples / n_shards, extra = n_samples % n_shards, pos = 0;
    for (size_t s = 0; s < n_shards; s++) {
        size_t len = base + (s < extra);
        shards[s].idx = malloc(len * sizeof *shards[s].idx);
        if (!shards[s].idx) {
            for (size_t k = 0; k < s; k++)
                bg_shard_destroy(&shards[k]);
            free(perm);
            return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory for shard %zu", s);
        }
        memcpy(shards[s].idx, perm + pos, len * sizeof *perm);
        shards[s].n = len;
        pos += len;
    }
    free(perm);
    return BG_OK;
}

void bg_shard_destroy(bg_shard_t *s)
{
    if (!s)
        return;
    free(s->idx);
    s->idx = NULL;
    s->n = 0;
}

int bg_sampler_init(bg_sampler_t *s, const bg_shard_t *shard, gsl_rng *r)
{
    if (!s)
        return BG_EINVAL;
    memset(s, 0, sizeof *s);
    if (!shard || !r || shard->n == 0 || !shard->idx)
        return BG_EINVAL;   /* an empty shard would make next() spin forever */
    s->perm = malloc(shard->n * sizeof *s->perm);
    if (!s->perm)
        return BG_ENOMEM;
    memcpy(s->perm, shard->idx, shard->n * sizeof *s->perm);
    s->n = shard->n;
    gsl_ran_shuffle(r, s->perm, s->n, sizeof *s->perm);
    return BG_OK;
}

/* The reshuffle happens as soon as the last index of a pass is handed out, so `epoch` always counts completed
 * passes and a caller can evaluate right after the batch that finished one. */
void bg_sampler_next(bg_sampler_t *s, gsl_rng *r, size_t b, size_t *out)
{
    for (size_t k = 0; k < b; k++) {
        out[k] = s->perm[s->pos++];
        if (s->pos == s->n) {
            gsl_ran_shuffle(r, s->perm, s->n, sizeof *s->perm);
            s->pos = 0;
            s->epoch++;
        }
    }
}

void bg_sampler_destroy(bg_sampler_t *s)
{
    if (!s)
        return;
    free(s->perm);
    memset(s, 0, sizeof *s);
}
