/* What the two runners (simulator, in-process driver) share inside actors/: outputs, progress, result buffers.
 * Not installed: not part of the library's interface. */
#ifndef BG_RUN_INTERNAL_H
#define BG_RUN_INTERNAL_H

#include "bg_sim.h"
#include "bg_trace.h"

double bg_wall_clock(void);
int bg_make_dirs(const char *path);   /* mkdir -p */
int bg_outputs_open(const bg_run_opts_t *o, bg_trace_t *tr, bg_err_t *err);
int bg_summary_write(const bg_scenario_t *sc, const bg_engine_t *e, const bg_run_opts_t *o,
                     const bg_run_result_t *res, const char *mode, bg_err_t *err);
/* A progress line on stderr (run.progress); until_s > 0: the run also ends at that simulated time. */
void bg_progress(const bg_run_opts_t *o, int *shown, double start, double *last, size_t round, size_t rounds,
                 double sim_time, double until_s, const bg_metrics_t *m);
/* Zero res; with record, allocate the per-round arrays the runner fills (simulated: round_end; driver:
 * worker_flops and msg_bytes; both: server_flops). */
int bg_run_result_init(bg_run_result_t *res, size_t rounds, size_t n, int record, int simulated);

#endif
