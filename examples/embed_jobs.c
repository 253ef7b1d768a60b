/* A SimGrid program with byzgrid training jobs inside it (docs/plugin.md).
 *
 *   embed_jobs PLATFORM.xml [--deployment FILE] [--bulk FROM:TO:BYTES] [--target ACC] NAME=SCENARIO[:OUT_DIR] ...
 *              [--cfg=... --log=...]
 *
 * It loads the platform, optionally starts its own actor that sends BYTES from host FROM to host TO again and
 * again for as long as the jobs run (other tenants' bulk traffic on the same links), deploys every job (on the hosts
 * its scenario names, or where the deployment FILE puts the actors of that job's name), runs the simulation, and prints each job's rounds, simulated time, final test accuracy
 * and time to ACC. Each job writes OUT_DIR/trace.csv and summary.json (default out/NAME).
 *
 * Everything here is public API: SimGrid's C API and byzgrid's bg_plugin.h. */
#include <bg_plugin.h>

#include <simgrid/actor.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <xbt/log.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JOBS 16

static double bulk_bytes;
static size_t bulk_sent;

/* The other tenant: one transfer after another, FROM to TO. Daemons end when the last non-daemon actor (the jobs')
 * has ended, so this loop needs no stopping condition. */
static void bulk_sender(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sg_actor_daemonize(sg_actor_self());
    sg_mailbox_t mb = sg_mailbox_by_name("bulk");
    static char payload;
    for (;;) {
        sg_mailbox_put(mb, &payload, (long long)bulk_bytes);
        bulk_sent++;
    }
}

static void bulk_receiver(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    sg_actor_daemonize(sg_actor_self());
    sg_mailbox_t mb = sg_mailbox_by_name("bulk");
    for (;;)
        sg_mailbox_get(mb);
}

static int usage(const char *msg)
{
    fprintf(stderr, "embed_jobs: %s (usage: embed_jobs PLATFORM.xml [--deployment FILE] [--bulk FROM:TO:BYTES] "
            "[--target ACC] NAME=SCENARIO[:OUT_DIR] ...)\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    /* The energy plugin lists every host's Joules at exit and warns about hosts without power data: quiet by
     * default (summary.json has the jobs' energy); a --log=host_energy.thres:info option still overrides it. */
    xbt_log_control_set("host_energy.thres:error");
    simgrid_init(&argc, argv);   /* takes --cfg=... and --log=... out of argv */
    bg_plugin_init();            /* before the platform: the host energy plugin */

    const char *platform = NULL, *deployment = NULL;
    char bulk_from[128] = "", bulk_to[128] = "";
    double target = 0;
    bg_job_t *jobs[MAX_JOBS];
    size_t n = 0;
    bg_err_t err;
    char buf[2048];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bulk") && i + 1 < argc) {
            if (sscanf(argv[++i], "%127[^:]:%127[^:]:%lf", bulk_from, bulk_to, &bulk_bytes) != 3 ||
                !(bulk_bytes > 0))
                return usage("--bulk takes FROM:TO:BYTES");
        } else if (!strcmp(argv[i], "--deployment") && i + 1 < argc) {
            deployment = argv[++i];
        } else if (!strcmp(argv[i], "--target") && i + 1 < argc) {
            target = atof(argv[++i]);
        } else if (!platform) {
            platform = argv[i];
        } else {
            char spec[2048], out[2100];
            snprintf(spec, sizeof spec, "%s", argv[i]);
            char *eq = strchr(spec, '=');
            if (!eq || n == MAX_JOBS)
                return usage("a job is NAME=SCENARIO[:OUT_DIR], at most 16 of them");
            *eq = '\0';
            char *scenario = eq + 1, *colon = strrchr(scenario, ':');
            if (colon)
                *colon = '\0';
            snprintf(out, sizeof out, colon ? "%s" : "out/%s", colon ? colon + 1 : spec);
            char set[64];
            const char *sets[1] = {set};
            snprintf(set, sizeof set, "run.target_acc=%.17g", target);
            if (bg_job_create(spec, scenario, sets, target > 0 ? 1 : 0, out, &jobs[n], &err)) {
                fprintf(stderr, "embed_jobs: %s\n", bg_err_format(&err, buf, sizeof buf));
                return 2;
            }
            n++;
        }
    }
    if (!platform || n == 0)
        return usage("a platform and at least one job are needed");

    simgrid_load_platform(platform);
    if (bulk_from[0]) {
        sg_host_t from = sg_host_by_name(bulk_from), to = sg_host_by_name(bulk_to);
        if (!from || !to)
            return usage("--bulk names a host the platform does not have");
        sg_actor_create("bulk-sender", from, bulk_sender, 0, NULL);
        sg_actor_create("bulk-receiver", to, bulk_receiver, 0, NULL);
    }
    for (size_t k = 0; k < n; k++)
        if ((deployment && bg_job_use_deployment(jobs[k], deployment, &err)) || bg_job_deploy(jobs[k], &err)) {
            fprintf(stderr, "embed_jobs: job %s: %s\n", bg_job_name(jobs[k]), bg_err_format(&err, buf, sizeof buf));
            return 2;
        }
    if (deployment)   /* once, after the jobs know their hosts: it starts their server and worker actors */
        simgrid_load_deployment(deployment);

    simgrid_run();

    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        if (bg_job_finish(jobs[k], &err)) {
            fprintf(stderr, "embed_jobs: job %s: %s\n", bg_job_name(jobs[k]), bg_err_format(&err, buf, sizeof buf));
            rc = 1;
        } else {
            const bg_run_result_t *r = bg_job_result(jobs[k]);
            printf("%s: %zu rounds, simulated %.3f s, test_acc %.4f", bg_job_name(jobs[k]), r->rounds, r->sim_time,
                   r->final.test_acc);
            if (target > 0 && r->target.reached)
                printf(", %.4g reached at %.3f s (round %zu)", target, r->target.time_s, r->target.round);
            else if (target > 0)
                printf(", %.4g not reached", target);
            printf("\n");
        }
        bg_job_destroy(jobs[k]);
    }
    if (bulk_from[0])
        printf("bulk: %zu transfers of %.0f bytes from %s to %s\n", bulk_sent, bulk_bytes, bulk_from, bulk_to);
    return rc;
}
