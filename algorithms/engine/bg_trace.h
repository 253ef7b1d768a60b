/* Run outputs: the trace CSV (one row per evaluation point, flushed as written so a killed run leaves a valid
 * prefix) and a small JSON writer for summaries written atomically (temp file + rename). */
#ifndef BG_TRACE_H
#define BG_TRACE_H

#include <stdio.h>
#include "bg_engine.h"

/* The columns, in order. The first seven are the stable interface (never renamed); new ones are appended.
 * grad_norm_sq and dist_to_opt are nan when not computed (see run.grad_norm, run.dist_to_opt); energy_j (joules
 * of the hosts the run uses, cumulative, at sim_time_s) is nan without simulated time (the in-process driver). */
#define BG_TRACE_HEADER "round,sim_time_s,bytes_up,bytes_down,train_loss,test_loss,test_acc,train_acc,dropped,grad_norm_sq,dist_to_opt,energy_j"

typedef struct bg_trace {
    FILE *fp;
    char path[1024];
    const char *extra_header;   /* columns appended after BG_TRACE_HEADER (set before opening), or NULL */
    char extra[256];            /* their values for the next row, comma-separated (the runner fills it) */
} bg_trace_t;

int bg_trace_open(bg_trace_t *t, const char *path, bg_err_t *err);
/* sim_time and energy_j NAN (the in-process driver) are written as "nan". */
int bg_trace_row(bg_trace_t *t, const bg_metrics_t *m, double sim_time, double energy_j);
void bg_trace_close(bg_trace_t *t);
/* Format one row (without newline) into buf; the driver and the simulator share it. */
void bg_trace_format(char *buf, size_t len, const bg_metrics_t *m, double sim_time, double energy_j);

/* Minimal JSON writer: objects, keys, scalars, with commas handled. */
typedef struct bg_json {
    FILE *fp;
    int depth;
    int first[32];
    char path[1024], tmp[1100];
} bg_json_t;

int bg_json_open(bg_json_t *j, const char *path, bg_err_t *err);   /* writes to path.tmp */
void bg_json_begin(bg_json_t *j, const char *key);                 /* key NULL at top level or in arrays */
void bg_json_end(bg_json_t *j);
void bg_json_begin_array(bg_json_t *j, const char *key);
void bg_json_end_array(bg_json_t *j);
void bg_json_str(bg_json_t *j, const char *key, const char *v);
void bg_json_num(bg_json_t *j, const char *key, double v);         /* NaN/Inf written as null */
void bg_json_int(bg_json_t *j, const char *key, long long v);
void bg_json_bool(bg_json_t *j, const char *key, int v);
void bg_json_raw(bg_json_t *j, const char *key, const char *text);   /* text is already JSON (a number, an array) */
int bg_json_commit(bg_json_t *j, bg_err_t *err);                   /* flush, fsync, rename into place */

#endif
