/* The SimGrid layer's entry points: run a scenario through the simulator (server, honest and Byzantine worker
 * actors on the scenario's hosts) or through the in-process driver, writing trace.csv and summary.json. */
#ifndef BG_SIM_H
#define BG_SIM_H

#include "bg_engine.h"
#include "bg_scenario.h"

typedef struct bg_run_opts {
    const char *out_dir;      /* NULL: write nothing */
    int progress;             /* -1 auto (runs over ~2 s wall time), 0 off, 1 on */
    int record_rounds;        /* fill bg_run_result_t's per-round arrays */
    const char *command_line; /* recorded in summary.json */
} bg_run_opts_t;

typedef struct bg_run_result {
    size_t rounds;            /* rounds completed */
    int interrupted;          /* the signal that stopped the run at a round boundary (SIGINT ...), 0 if none */
    double sim_time;          /* simulated seconds (NAN for the driver) */
    double wall_time;         /* real seconds spent in the rounds (setup excluded) */
    double setup_time;        /* real seconds for loading data and building components */
    /* When bg_run_opts_t.record_rounds is set (NULL otherwise): */
    double *round_end;        /* simulator: rounds+1 simulated end times (round_end[0] = start) */
    double *worker_flops;     /* driver: rounds*n flops per worker per round */
    double *server_flops;     /* both: rounds flops of the server per round */
    double *msg_bytes;        /* driver: rounds*n uplink message sizes */
    bg_metrics_t final;
    /* Simulator: joules of the hosts the run uses, by role, and of every link, at sim_time (NAN for the driver);
     * a host shared by several roles counts once, for the server, else for the honest workers. */
    struct bg_energy {
        double server_j, honest_j, byzantine_j, links_j, total_j;
        double server_idle_w, server_busy_w, worker_idle_w, worker_busy_w;   /* the Watts applied */
        double link_idle_w, link_busy_w;   /* energy.link_*_w written into a generated platform (NAN: its file's) */
        int link_energy;                   /* 0: no link energy plugin (WiFi links), links_j is NAN */
        int links_from_file;               /* topology = file: the links' Watts are the XML's wattage_range */
        int links_off_proto;               /* links not counted: round protocols / faults (see sim.c) */
        int links_embedded;                /* links not counted: a job embedded in a program (bg_plugin.h) */
    } energy;
    /* Round protocols and faults (the simulator's proxy path; on = 0 otherwise): totals over the run. */
    struct bg_protocol {
        int on, late_applied;
        int oracle_forced;                 /* omniscient attackers timed as attack.timing = oracle */
        size_t selected, applied, missing, late, late_dropped, skipped;
        double mirror_gap;                 /* mirrored methods: max |worker copy - server copy| at the end */
        size_t mirror_compared, mirror_in_flight;
        struct bg_fault_event { char name[128]; int link; double down, up; } *faults;   /* as applied */
        size_t n_faults;
    } protocol;
    /* run.target_acc: the first evaluation with test_acc >= target (reached 0: none). Bytes up + down. */
    struct bg_target {
        int reached;
        size_t round;
        double time_s, bytes_up, bytes_down, energy_j;
    } target;
} bg_run_result_t;

/* Simulated run. simgrid_init() must have been called (it strips --cfg/--log from argv); one per process.
 * Once the platform is loaded it applies attack.placement = fastest | slowest to sc->hosts (rank order). */
int bg_sim_run(bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err);
/* The same rounds without SimGrid (no time): the in-process driver. */
int bg_driver_run_scenario(const bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err);
void bg_run_result_destroy(bg_run_result_t *r);

const char *bg_version_string(void);

#endif
