/* Trace CSV rows and summary JSON. Rows are flushed one by one; summaries go to a temp file renamed into place,
 * so a reader never sees half a summary and a killed run keeps every row it produced. */
#include "bg_trace.h"

#include <errno.h>
#include <math.h>
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

static void fmt_num(char *buf, size_t len, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, len, "nan");
    else
        snprintf(buf, len, fmt, v);
}

void bg_trace_format(char *buf, size_t len, const bg_metrics_t *m, double sim_time, double energy_j)
{
    char st[40], trl[40], tel[40], tea[40], tra[40], gn[40], dx[40], en[40];
    fmt_num(st, sizeof st, sim_time, "%.9f");
    fmt_num(trl, sizeof trl, m->train_loss, "%.9g");
    fmt_num(tel, sizeof tel, m->test_loss, "%.9g");
    fmt_num(tea, sizeof tea, m->test_acc, "%.6f");
    fmt_num(tra, sizeof tra, m->train_acc, "%.6f");
    fmt_num(gn, sizeof gn, m->grad_norm_sq, "%.9g");
    fmt_num(dx, sizeof dx, m->dist_to_opt, "%.9g");
    fmt_num(en, sizeof en, energy_j, "%.6f");
    snprintf(buf, len, "%zu,%s,%.0f,%.0f,%s,%s,%s,%s,%zu,%s,%s,%s", m->round, st, m->bytes_up, m->bytes_down, trl, tel,
             tea, tra, m->dropped, gn, dx, en);
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

void bg_json_str(bg_json_t *j, const char *key, const char *v)
{
    json_sep(j, key);
    fputc('"', j->fp);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(j->fp, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(j->fp, "\\u%04x", *p);
        else
            fputc(*p, j->fp);
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
