/* Deployment files: SimGrid's standard <actor host=... function=...> XML placing byzgrid's actors
 * (byzgrid_server, byzgrid_worker, byzgrid_byzantine; first argument the job's name, then the worker's rank).
 * Read and checked here with libxml2 before SimGrid reads the file (SimGrid aborts on what it cannot use).
 * Internal to actors/ (not installed). */
#ifndef BG_DEPLOYMENT_H
#define BG_DEPLOYMENT_H

#include <stddef.h>

#include "bg_common.h"
#include "bg_scenario.h"

#define BG_DEPLOY_SERVER "byzgrid_server"
#define BG_DEPLOY_WORKER "byzgrid_worker"
#define BG_DEPLOY_BYZANTINE "byzgrid_byzantine"

/* Read the deployment at path and take the entries of job `job` (NULL: the file must name exactly one job, whose
 * name goes to job_out[64]). Checks: a SimGrid 4.1 deployment (DOCTYPE, <platform version>, <actor host function>
 * with <argument value> and <prop id value> children only); one byzgrid_server with the job's name as its only
 * argument; byzgrid_worker ranks exactly 0 .. n - f - 1 and byzgrid_byzantine ranks n - f .. n - 1 (n =
 * workers.n, f = attack.f), each once; no start_time or kill_time on them. foreign: 0 refuses actors of other
 * functions (byzgrid run), 1 lets them be (a program's own actors). Fills sc->hosts in rank order,
 * sc->server_host, and sc->deploy_line (n + 1 line numbers: rank i's, then the server's). BG_OK, or an error with
 * err's file and line set. */
int bg_deployment_read(const char *path, const char *job, int foreign, bg_scenario_t *sc, char *job_out,
                       bg_err_t *err);

#endif
