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
/* The run's output folder (outdir.c): the run writes into `tmp`, a fresh folder beside `final`, renamed into place
 * by bg_out_commit. An existing `final` is replaced then, if it is a byzgrid run (trace.csv or summary.json, or
 * empty); anything else, and a symbolic link, is refused. */
typedef struct bg_out {
    char final[1024], tmp[1100];
    int existed, active;
} bg_out_t;
int bg_out_begin(bg_out_t *o, const char *final, bg_err_t *err);
int bg_out_commit(bg_out_t *o, bg_err_t *err);
/* A run that failed: keep = 0 removes its folder (nothing in it is worth keeping); keep = 1 leaves it, renamed to
 * `final` when there was no earlier run. Returns where its files are (NULL when removed). */
const char *bg_out_abandon(bg_out_t *o, int keep);

/* Interruption (interrupt.c): SIGINT, SIGTERM and SIGHUP ask the run to stop at its next round boundary; a second
 * one ends the process at once (exit 128 + signal, the trace keeps its flushed rows). */
void bg_interrupt_install(void);
int bg_interrupted(void);   /* the signal received, 0 if none */
const char *bg_signal_name(int sig);

int bg_run_result_init(bg_run_result_t *res, size_t rounds, size_t n, int record, int simulated);

#endif
