/* Trace CSV rows and summary JSON. Rows are flushed one by one; summaries go to a temp file renamed into place,
 * so a reader never sees half a summary and a killed run keeps every row it produced. */
#include "bg_trace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bg_trace_open(bg_trace_t *t, const char *path, bg_err_t *err)
{
    snprintf(t->path, sizeof t->path, "%s", path);
    t->fp = bg_fopen_write(path);
    if (!t->fp)
        return bg_err_set(err, BG_EIO, path, 0, "cannot write the trace: %s", strerror(errno));
    if (t->extra_header)
        fprintf(t->fp, "%s,%s\n", BG_TRACE_HEADER, t->extra_header);
    else
        fputs(BG_TRACE_HEADER "\n", t->fp);
    fflush(t->fp);
    return BG_OK;
}

/* Fixed-point formats (%.9f, %.0f) of huge values would write hundreds of digits and be cut by the buffers: from
 * 1e15 on a value is written as the shortest %g that reads back to it (1e+300); smaller values keep their bytes. */
static void fmt_num(char *buf, size_t len, double v, const char *fmt)
{
    if (isnan(v)) {
        snprintf(buf, len, "nan");
    } else if (isfinite(v) && fabs(v) >= 1e15 && strchr(fmt, 'f')) {
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(buf, len, "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    } else {
        snprintf(buf, len, fmt, v);
    }
}

void bg_trace_format(char *buf, size_t len, const bg_metrics_t *m, double sim_time, double energy_j)
{
    char st[40], bu[40], bd[40], trl[40], tel[40], tea[40], tra[40], gn[40], dx[40], en[40];
    fmt_num(st, sizeof st, sim_time, "%.9f");
    fmt_num(bu, sizeof bu, m->bytes_up, "%.0f");
    fmt_num(bd, sizeof bd, m->bytes_down, "%.0f");
    fmt_num(trl, sizeof trl, m->train_loss, "%.9g");
    fmt_num(tel, sizeof tel, m->test_loss, "%.9g");
    fmt_num(tea, sizeof tea, m->test_acc, "%.6f");
    fmt_num(tra, sizeof tra, m->train_acc, "%.6f");
    fmt_num(gn, sizeof gn, m->grad_norm_sq, "%.9g");
    fmt_num(dx, sizeof dx, m->dist_to_opt, "%.9g");
    fmt_num(en, sizeof en, energy_j, "%.6f");
    snprintf(buf, len, "%zu,%s,%s,%s,%s,%s,%s,%s,%zu,%s,%s,%s", m->round, st, bu, bd, trl, tel, tea, tra, m->dropped, gn,
             dx, en);
}

int bg_trace_row(bg_trace_t *t, const bg_metrics_t *m, double sim_time, double energy_j)
{
    char buf[512];
    bg_trace_format(buf, sizeof buf, m, sim_time, energy_j);
    if (fprintf(t->fp, "%s%s%s\n", buf, t->extra_header ? "," : "", t->extra_header ? t->extra : "") < 0 ||
        fflush(t->fp) != 0)
        return BG_EIO;
    return BG_OK;
}

void bg_trace_close(bg_trace_t *t)
{
    if (t->fp)
        fclose(t->fp);
    t->fp = NULL;
}

/* ---- JSON ---- */

static void json_sep(bg_json_t *j, const char *key)
{
    if (j->depth > 0) {
        if (!j->first[j->depth])
            fputc(',', j->fp);
        j->first[j->depth] = 0;
        fputc('\n', j->fp);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->fp);
    }
    if (key) {
        fputc('"', j->fp);
        fputs(key, j->fp);
        fputs("\": ", j->fp);
    }
}

int bg_json_open(bg_json_t *j, const char *path, bg_err_t *err)
{
    memset(j, 0, sizeof *j);
    snprintf(j->path, sizeof j->path, "%s", path);
    snprintf(j->tmp, sizeof j->tmp, "%s.tmp", path);
    j->fp = bg_fopen_write(j->tmp);
    if (!j->fp)
        return bg_err_set(err, BG_EIO, j->tmp, 0, "cannot write the summary: %s", strerror(errno));
    return BG_OK;
}

static void json_open_scope(bg_json_t *j, const char *key, char c)
{
    json_sep(j, key);
    fputc(c, j->fp);
    if (j->depth < 31)
        j->depth++;
    j->first[j->depth] = 1;
}

static void json_close_scope(bg_json_t *j, char c)
{
    int empty = j->first[j->depth];
    j->depth--;
    if (!empty) {
        fputc('\n', j->fp);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->fp);
    }
    fputc(c, j->fp);
}

void bg_json_begin(bg_json_t *j, const char *key) { json_open_scope(j, key, '{'); }
void bg_json_end(bg_json_t *j) { json_close_scope(j, '}'); }
void bg_json_begin_array(bg_json_t *j, const char *key) { json_open_scope(j, key, '['); }
void bg_json_end_array(bg_json_t *j) { json_close_scope(j, ']'); }

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF), 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
        (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

/* Always valid JSON: a byte that is not part of well-formed UTF-8 (a Latin-1 file name) is written as U+FFFD. */
void bg_json_str(bg_json_t *j, const char *key, const char *v)
{
    json_sep(j, key);
    fputc('"', j->fp);
    for (const unsigned char *p = (const unsigned char *)v; *p;) {
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", j->fp);
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(j->fp, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(j->fp, "\\u%04x", *p);
        else
            fwrite(p, 1, n, j->fp);
        p += n;
    }
    fputc('"', j->fp);
}

void bg_json_num(bg_json_t *j, const char *key, double v)
{
    json_sep(j, key);
    if (isfinite(v))
        fprintf(j->fp, "%.10g", v);
    else
        fputs("null", j->fp);
}

void bg_json_int(bg_json_t *j, const char *key, long long v)
{
    json_sep(j, key);
    fprintf(j->fp, "%lld", v);
}

void bg_json_raw(bg_json_t *j, const char *key, const char *text)
{
    json_sep(j, key);
    fputs(text, j->fp);
}

void bg_json_bool(bg_json_t *j, const char *key, int v)
{
    json_sep(j, key);
    fputs(v ? "true" : "false", j->fp);
}

int bg_json_commit(bg_json_t *j, bg_err_t *err)
{
    fputc('\n', j->fp);
    int bad = fflush(j->fp) != 0 || fsync(fileno(j->fp)) != 0;
    bad |= fclose(j->fp) != 0;
    j->fp = NULL;
    if (bad || rename(j->tmp, j->path) != 0) {
        int e = errno;
        remove(j->tmp);
        return bg_err_set(err, BG_EIO, j->path, 0, "cannot write the summary: %s", strerror(e));
    }
    return BG_OK;
}
