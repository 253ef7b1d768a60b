/* byzgrid as a SimGrid plugin: training jobs inside a simulation that a program of its own sets up and runs.
 *
 *     simgrid_init(&argc, argv);
 *     bg_plugin_init();                                  // before the platform: the host energy plugin
 *     bg_job_t *a;
 *     bg_err_t err;
 *     if (bg_job_create("a", "scenario.ini", NULL, 0, "out/a", &a, &err)) ... // one line: bg_err_format
 *     simgrid_load_platform("platform.xml");             // the program's platform, with its own actors
 *     if (bg_job_deploy(a, &err)) ...                    // the job's actors on the scenario's hosts
 *     simgrid_run();                                     // drives every actor, the jobs' and the program's
 *     if (bg_job_finish(a, &err)) ...                    // summary.json; bg_job_result(a)
 *     bg_job_destroy(a);
 *
 * Several jobs may share one simulation (each with its own name, hosts or not, and outputs). A job keeps all its
 * state in its bg_job_t; its actors find it by the job name they are started with. docs/plugin.md has the details:
 * what of the scenario applies (the platform.* keys do not: the program loads the platform and sets SimGrid's
 * options), energy on shared hosts, errors. */
#ifndef BG_PLUGIN_H
#define BG_PLUGIN_H

#include "bg_common.h"
#include "bg_sim.h"

#include <stddef.h>

typedef struct bg_job bg_job_t;

/* Call once after simgrid_init() and before the platform is loaded: byzgrid reports energy through SimGrid's host
 * energy plugin, which must exist before the hosts do; also registers the deployment-file functions
 * byzgrid_server, byzgrid_worker and byzgrid_byzantine. */
void bg_plugin_init(void);

/* A job named `name` (1 to 63 characters of [A-Za-z0-9_.-], unique among the live jobs) from a scenario file with
 * key=value overrides (as `byzgrid run --set`; sets may be NULL when n_sets is 0). out_dir: the folder for its
 * trace.csv and summary.json (created; earlier files there are overwritten), or NULL to write nothing. The
 * scenario is read and checked here; the data are loaded at bg_job_deploy. */
int bg_job_create(const char *name, const char *scenario, const char *const *sets, size_t n_sets,
                  const char *out_dir, bg_job_t **job, bg_err_t *err);

/* Place the job's actors with a SimGrid deployment file instead of the scenario's workers.hosts / workers.server:
 * its <actor function="byzgrid_server"> with the job's name as argument, and byzgrid_worker / byzgrid_byzantine
 * with the job's name and the worker's rank (honest ranks 0 .. n - f - 1, Byzantine n - f .. n - 1, each once).
 * Actors of other functions in the file (the program's own) are left alone. Call before bg_job_deploy; after it,
 * the program calls simgrid_load_deployment(path) once (bg_plugin_init registered byzgrid's functions). */
int bg_job_use_deployment(bg_job_t *job, const char *path, bg_err_t *err);

/* After the platform is loaded and before simgrid_run(): check the scenario's hosts (workers.hosts,
 * workers.server) against the platform, load the data, build the components, open the outputs and create the
 * job's actors, which start with the simulation. A job is deployed once. */
int bg_job_deploy(bg_job_t *job, bg_err_t *err);

/* After simgrid_run() has returned: the job's results and summary.json. Non-zero when the job failed during the
 * simulation (err says why; its trace.csv keeps the rows written so far). */
int bg_job_finish(bg_job_t *job, bg_err_t *err);

/* The job's results (rounds, simulated and wall time, final metrics, energy, time to target); valid once
 * bg_job_finish has returned, until bg_job_destroy. */
const bg_run_result_t *bg_job_result(const bg_job_t *job);

/* The job's name, and its scenario's name (run.name). */
const char *bg_job_name(const bg_job_t *job);
const char *bg_job_scenario_name(const bg_job_t *job);

/* Free a job (NULL: nothing). A deployed job must be finished first, after simgrid_run(). */
void bg_job_destroy(bg_job_t *job);

#endif
