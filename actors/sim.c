/* The simulated run: a server actor, honest and Byzantine worker actors on the scenario's hosts, exchanging
 * messages whose simulated size is their real encoding, and executing the flops each component reports. Every
 * actor ends on the server's finalize message, after the last round or when a round fails. */
#include "bg_sim.h"
#include "bg_plugin.h"
#include "deployment.h"
#include "flow.h"
#include "traffic.h"
#include "bg_trace.h"
#include "platform_load.h"
#include "platform_check.h"
#include "events.h"
#include "faults.h"
#include "run_internal.h"

#include <ctype.h>
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <malloc.h>
#include <math.h>
#include <simgrid/actor.h>
#include <simgrid/barrier.h>
#include <simgrid/comm.h>
#include <simgrid/cond.h>
#include <simgrid/engine.h>
#include <simgrid/exec.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <simgrid/mutex.h>
#include <simgrid/link.h>
#include <simgrid/plugins/energy.h>
#include <simgrid/semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xbt/asserts.h>
#include <xbt/config.h>
#include <xbt/log.h>

/* Round events (broadcasts, messages with their bytes, aggregations with their flops, evaluations, finalize) are
 * logged at VERBOSE: `--log=byzgrid.thres:verbose` (or :debug) shows them, the default threshold (info) does not.
 * Not at DEBUG: SimGrid's log.h compiles DEBUG requests out of every build that defines NDEBUG (Release,
 * RelWithDebInfo). */
XBT_LOG_NEW_DEFAULT_CATEGORY(byzgrid, "byzgrid simulation");
XBT_LOG_NEW_SUBCATEGORY(byzgrid_server, byzgrid, "byzgrid server actor: broadcasts, aggregations, evaluations");
XBT_LOG_NEW_SUBCATEGORY(byzgrid_worker, byzgrid, "byzgrid worker actors (honest and Byzantine): messages");


typedef struct outage {
    sg_host_t host;
    const char *name;
    double down, up;              /* the next outage (up = INFINITY: for good) */
    int is_down, done;
    gsl_rng *rng;                 /* faults.mtbf_s: draws the next one; NULL for a listed outage */
    size_t rec;                   /* its entry in res->protocol.faults while down */
} outage_t;

typedef struct fault_plan {
    bg_faults_t listed;
    outage_t *o;
    size_t n;
} fault_plan_t;

/* One training job: its actors find it by the job name in their arguments (job_of). */
typedef struct sim_ctx {
    const bg_scenario_t *sc;
    const bg_run_opts_t *opts;
    bg_engine_t *e;
    bg_run_result_t *res;
    bg_err_t *err;
    size_t n, nh, rounds;
    int omniscient, oracle;
    /* Oracle mode: what an omniscient attacker's message costs, the same work and size as bg_engine_byz_round
     * charges (honest views, the attack, the inverse, the compression with attack.wire = conform), paid without
     * waiting; neither changes from round to round (oracle_cost). */
    double oracle_flops, oracle_bytes;
    sg_mailbox_t *down, *up;      /* per worker */
    sg_mutex_t mutex;
    sg_cond_t cond;
    size_t produced;              /* honest messages produced so far, all rounds */
    bg_trace_t trace;
    bg_events_t events;           /* events.fp NULL: run.events off, the hooks below do nothing */
    double bcast_posted;          /* events: when the server posted this round's broadcast */
    double *up_posted, *up_bytes; /* events: per worker, when its message of this round was posted, its size */
    int failed;
    int link_energy;             /* links are counted (no WiFi link) */
    int link_plugin;              /* SimGrid's link energy plugin runs (links counted, and some may draw power) */
    double end_clock;             /* simulated time when the server left its round loop */
    double wall_start;
    int progress_shown;
    double progress_last;
    /* Time as an axis (run.until_s, run.eval_every_s): a clock actor writes the rows at fixed simulated times from
     * a copy of the model the server holds, i.e. the last one whose aggregation had finished. */
    double until, every;
    int round_rows;               /* the server writes the round-based rows (run.eval_every) */
    int until_reached;            /* the clock actor ended the run at until_s: the server records nothing more */
    size_t rows, row_round;       /* trace rows written so far; the round of the last one */
    sg_sem_t clock_stop;          /* released by the server when it leaves its loop */
    float *held;                  /* the model the server holds, and its counters */
    bg_metrics_t held_counters;
    /* Energy: the distinct hosts the run uses and their role (0 server, 1 honest, 2 Byzantine). */
    sg_host_t *ehosts;
    int *erole;
    size_t n_ehosts;
    /* Relays (run.relays): relay r serves workers [r * per_relay, (r + 1) * per_relay). The server hands each round
     * to them through the barrier (twice per round: start, then all uploads in) and reads relay_cmd/relay_down. */
    size_t per_relay, n_relays;
    sg_bar_t relay_bar;
    int relay_finalize;           /* the relays' next job: 0 a round (relay_down, relay_round), 1 the finalize */
    const bg_msg_t *relay_down;
    size_t relay_round;
    /* Round protocols and faults (the proxy path, see proto_server). */
    int proto;
    int late_apply;               /* late messages are applied stale (mirrored method, or round.late = stale) */
    int poll;                     /* the platform file has state profiles: look at the hosts while waiting */
    int links_off_proto;          /* links draw power but the link energy plugin is off (proxy path) */
    struct proto_worker *pw;      /* n */
    unsigned char *apply;         /* n: messages the next aggregation applies */
    size_t *cand;                 /* n: scratch, the workers that can be sampled */
    sg_sem_t wake;                /* the server waits on it for arrivals, losses, recoveries */
    int server_waits;
    size_t cur_round;
    int round_open;
    size_t selected_now, ontime, lost_now;
    double arrived_bytes;         /* uplink bytes that reached the server since the last aggregation */
    struct snap *snaps;           /* broadcasts still referenced */
    struct proto_counts { size_t selected, applied, missing, late, late_dropped, skipped; } tot, iv;
    sg_actor_t fault_actor, server_actor, clock_actor;
    /* run.threads > 1: the workers' maths of a round is done at its broadcast, on several threads (the results are
     * those each worker would get alone at its receive, which is when the simulation charges their time). */
    int pre;
    size_t *pre_who;              /* n: scratch, the workers to compute */
    double *pre_flops;            /* n: worker i's compute, by rank */
    double *pre_tmp;              /* n: scratch */
    fault_plan_t fp;
    size_t proto_q;
    char name[64];                /* the job's name: its actors' first argument, its mailboxes' prefix */
    struct sim_ctx *next_job;
    int deployed;                 /* its actors exist: simgrid_run() drives it, job_finish() ends it */
    int embedded;                 /* a job of a program (bg_plugin.h), not of byzgrid run */
    int by_file;                  /* a deployment file starts its server and workers (deployment.h) */
    int started;                  /* its server actor has started */
    bg_flows_t flows;             /* traffic.flows */
    void **flow_h;                /* constant flows: the running transfer (NULL before its start) */
    double *flow_t0;              /* constant flows: when it started */
    sg_actor_t *flow_actor;       /* the flows' actors (killed at the job's end) */
    sg_actor_t *flow_receiver;    /* constant flows: the receiving actor (killed at the job's end) */
    size_t *flow_inflight;        /* periodic and Poisson flows: transfers started and not ended */
    int traffic_over;             /* the job has ended: transfers still in flight record nothing */
} sim_ctx_t;

/* The jobs of this simulation by name: a directory for the actors' entry points, whose arguments name their job
 * (SimGrid restarts an actor with its arguments, and a deployment file can only give strings). */
static sim_ctx_t *jobs;

static void job_register(sim_ctx_t *J)
{
    J->next_job = jobs;
    jobs = J;
}

static void job_unregister(sim_ctx_t *J)
{
    for (sim_ctx_t **p = &jobs; *p; p = &(*p)->next_job)
        if (*p == J) {
            *p = J->next_job;
            return;
        }
}

static sim_ctx_t *job_of(int argc, char **argv)
{
    xbt_assert(argc >= 2, "byzgrid actors take their job's name");
    for (sim_ctx_t *J = jobs; J; J = J->next_job)
        if (strcmp(J->name, argv[1]) == 0)
            return J;
    xbt_die("no byzgrid job named '%s'", argv[1]);
}

/* run.relays = auto: relays of BG_RELAY_WORKERS workers each from BG_RELAYS_FROM workers on. Below, the server
 * serves the workers itself: fewer actors and context switches, and its activity list is still short. */
#define BG_RELAYS_FROM 2000
#define BG_RELAY_WORKERS 128
/* From this many workers the actors' stacks have no guard page (bg_sim_run says why). */
#define BG_NO_GUARD_FROM 25000

/* Control messages are the addresses of these objects; nobody reads through them. SimGrid refuses NULL payloads,
 * and a pointer nothing else can alias needs no header in every message. */
static char finalize_tag;         /* server -> worker: leave the loop and end */
static char no_message_tag;       /* worker -> server: this round's step failed or was skipped, nothing to send */

#define FINALIZE ((const void *)&finalize_tag)
#define NO_MESSAGE ((const void *)&no_message_tag)

/* Stop the run at the end of the current round. Omniscient attackers may be waiting for honest messages that will
 * now never all exist: wake them so they can answer the server too. */
static void proto_notify(sim_ctx_t *J);

static void sim_stop(sim_ctx_t *J)
{
    J->failed = 1;
    if (J->proto)
        proto_notify(J);
    if (J->omniscient) {
        sg_mutex_lock(J->mutex);
        sg_cond_notify_all(J->cond);
        sg_mutex_unlock(J->mutex);
    }
}

/* A step failed (a worker's, an attacker's, or the server's); e says which, in which round and why. The first
 * failure's message is the one the user sees. */
static void sim_fail(sim_ctx_t *J, const bg_err_t *e)
{
    XBT_CVERB(byzgrid_worker, "failed: %s", e->msg);
    if (!J->failed)
        *J->err = *e;
    sim_stop(J);
}

/* ---- run.events: the hooks that write events.csv (events.h). With events off they cost one test. */

/* One row; a write failure stops the run like a trace write failure. */
static void event_add(sim_ctx_t *J, size_t round, long worker, bg_event_kind_t kind, double start, double end, double bytes)
{
    if (!J->events.fp)
        return;
    if (bg_events_row(&J->events, round, worker, kind, start, end, bytes) != BG_OK) {
        bg_err_t e;
        bg_err_set(&e, BG_EIO, J->events.path, 0, "cannot write the events file");
        bg_events_close(&J->events);   /* the first failure is the one reported; later rows are not attempted */
        sim_fail(J, &e);
    }
}

/* flops on the actor's host in round t, recorded as kind for worker (BG_EVENTS_SERVER for the server).
 * sg_actor_execute would also set the priority to 1, the default: one more simcall (a context switch to the
 * maestro and back) per execution, about a tenth of all simcalls at small n. */
static void execute(sim_ctx_t *J, size_t t, long worker, bg_event_kind_t kind, double flops)
{
    const double start = simgrid_get_clock();
    if (flops > 0) {
        const sg_error_t e = sg_exec_wait(sg_actor_exec_init(flops));
        xbt_assert(e == SG_OK, "execution failed (%d)", (int)e);
    }
    event_add(J, t, worker, kind, start, simgrid_get_clock(), 0.0);
}

/* The upload row is written by the server when the message arrives; the worker notes when it posted it. */
static void event_upload_posted(sim_ctx_t *J, size_t i, double bytes)
{
    if (!J->events.fp)
        return;
    J->up_posted[i] = simgrid_get_clock();
    J->up_bytes[i] = bytes;
}

/* The wait for the uploads of workers lo..lo+n-1 in round t (by the server, or by the relay of that slice): one
 * sg_comm_wait_all, or with events one sg_comm_wait_any per message (the same simulated times; it learns when each
 * message arrived). who is scratch for n indices.
 * Network failures: sg_comm_wait_all_for (timeout -1: none) returns instead of aborting the run as the blocking
 * sg_comm_wait_all would; sg_comm_wait_any still aborts (its _for variant releases every handle on a timeout in
 * SimGrid 3.32), to be replaced when faults exist. */
static void wait_uploads(sim_ctx_t *J, size_t t, sg_comm_t *comms, size_t *who, size_t lo, size_t n)
{
    if (!J->events.fp) {
        const size_t done = sg_comm_wait_all_for(comms, n, -1.0);
        xbt_assert(done == n, "%zu of %zu uploads arrived", done, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        who[i] = lo + i;
    for (size_t left = n; left > 0;) {
        const ssize_t k = sg_comm_wait_any(comms, left);
        xbt_assert(k >= 0 && (size_t)k < left, "sg_comm_wait_any returned %zd", k);
        const size_t i = who[k];
        event_add(J, t, (long)i, BG_EV_UPLOAD, J->up_posted[i], simgrid_get_clock(), J->up_bytes[i]);
        left--;
        comms[k] = comms[left];
        who[k] = who[left];
    }
}

static size_t worker_index(int argc, char **argv)
{
    xbt_assert(argc == 3, "worker actors take their job and index");
    return (size_t)strtoul(argv[2], NULL, 10);
}

/* Two ways to pass messages, with the same simulated times:
 * - without relays (small n), the cheapest SimGrid calls: a blocking get (one simcall) and detached puts (no
 *   wait). On paper-a9a (20 workers) *_async + sg_comm_wait_for everywhere measured 2,666 rounds/s against 3,157
 *   with these (bench_rounds, one run each; the machine is noisy), so they stay;
 * - with relays, *_async + sg_comm_wait_for (no timeout yet) and no detached comm: SimGrid 3.32 keeps every
 *   detached comm in flight in one engine-wide list and removes each one with a linear search when it ends,
 *   O(n^2) per round at scale, while a comm that is waited for only sits in the lists of its two actors.
 * Blocking calls abort the whole simulation on a network failure where sg_comm_wait_for returns an error code, so
 * faults will need the second way (or the first made async) whatever n. */
static const void *receive(sim_ctx_t *J, size_t i, size_t t)
{
    void *in = NULL;
    if (!J->n_relays) {
        in = sg_mailbox_get(J->down[i]);
    } else {
        const sg_error_t e = sg_comm_wait_for(sg_mailbox_get_async(J->down[i], &in), -1.0);
        xbt_assert(e == SG_OK, "worker %zu: receive failed (%d)", i, (int)e);
    }
    if (in != FINALIZE)
        event_add(J, t, (long)i, BG_EV_DOWNLOAD, J->bcast_posted, simgrid_get_clock(), ((const bg_msg_t *)in)->bytes);
    return in;
}

/* With relays the worker waits until its message is in: the next broadcast cannot come sooner (it follows every
 * upload), so the wait changes no simulated time. Without, the put is detached (the payload is engine-owned and
 * outlives the round). */
static void send_message(sim_ctx_t *J, size_t i, const void *msg, double bytes)
{
    event_upload_posted(J, i, bytes);
    if (!J->n_relays) {
        sg_comm_detach(sg_mailbox_put_init(J->up[i], (void *)msg, (long long)bytes), NULL);
        return;
    }
    const sg_error_t e = sg_comm_wait_for(sg_mailbox_put_async(J->up[i], (void *)msg, (long long)bytes), -1.0);
    xbt_assert(e == SG_OK, "worker %zu: send failed (%d)", i, (int)e);
}

/* The server waits for one message per worker every round, so a worker that has nothing to send still answers. */
static void send_nothing(sim_ctx_t *J, size_t i, size_t t)
{
    XBT_CVERB(byzgrid_worker, "round %zu: no message (the run stops), empty reply sent", t);
    send_message(J, i, NO_MESSAGE, 0.0);
}

/* Honest workers, and Byzantine ones whose attack trains on data (none, label flipping).
 * Every worker loops until the server's FINALIZE, whatever happened: a worker that ended on its own would leave
 * the server's next send or receive waiting forever. Round t is the t-th broadcast received. */
static void worker_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    size_t i = worker_index(argc, argv);
    const int tell = J->omniscient && i < J->nh;
    size_t t = 0;
    for (const void *in; (in = receive(J, i, t)) != FINALIZE; t++) {
        const bg_msg_t *down = in;
        XBT_CVERB(byzgrid_worker, "round %zu: broadcast received (%.0f bytes)", t, down->bytes);
        if (J->failed) {
            send_nothing(J, i, t);
            continue;
        }
        const bg_msg_t *msg;
        double flops;
        bg_err_t err;
        if (J->pre) {   /* computed with the others' at the broadcast (run.threads) */
            msg = bg_engine_worker_msg(J->e, i);
            flops = J->pre_flops[i];
        } else if (bg_engine_worker_round(J->e, i, down, &msg, &flops, &err)) {
            sim_fail(J, &err);
            send_nothing(J, i, t);
            continue;
        }
        execute(J, t, (long)i, BG_EV_COMPUTE, flops);
        if (tell && ++J->produced == J->nh * (t + 1)) {
            /* Every honest message of the round now exists in simulated time: colluders eavesdrop them from here.
             * Actors never run concurrently (one context at a time), so only the waking needs the mutex; taking
             * it here means a colluder between its check and its wait cannot miss the notification. */
            sg_mutex_lock(J->mutex);
            sg_cond_notify_all(J->cond);
            sg_mutex_unlock(J->mutex);
        }
        XBT_CVERB(byzgrid_worker, "round %zu: message sent (%.0f bytes, %.6g flops)", t, msg->bytes, flops);
        send_message(J, i, msg, msg->bytes);
    }
    XBT_CVERB(byzgrid_worker, "finalize received after %zu broadcasts", t);
}

/* Omniscient attackers wait until every honest message of the round exists, then send the message that puts
 * their server-side vector at the attack's target; blind attackers send at once. In oracle mode omniscient
 * attackers send at once too and the server fills in the content when it aggregates (the instant oracle). */
static void byzantine_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    size_t j = worker_index(argc, argv);
    const double oracle_flops = J->oracle_flops, oracle_bytes = J->oracle_bytes;
    size_t t = 0;
    for (const void *in; (in = receive(J, j, t)) != FINALIZE; t++) {
        XBT_CVERB(byzgrid_worker, "round %zu: broadcast received (%.0f bytes)", t, ((const bg_msg_t *)in)->bytes);
        if (J->failed) {
            send_nothing(J, j, t);
            continue;
        }
        if (J->oracle && J->omniscient) {
            execute(J, t, (long)j, BG_EV_COMPUTE, oracle_flops);
            const double bytes = oracle_bytes;   /* dense, or the honest size (attack.wire = conform) */
            XBT_CVERB(byzgrid_worker, "round %zu: message sent (%.0f bytes, %.6g flops; content filled by the server)",
                      t, bytes, oracle_flops);
            /* The content is filled in by the server; SimGrid refuses NULL payloads. */
            send_message(J, j, J, bytes);
            continue;
        }
        if (J->omniscient && J->produced < J->nh * (t + 1)) {
            sg_mutex_lock(J->mutex);
            while (!J->failed && J->produced < J->nh * (t + 1))
                sg_cond_wait(J->cond, J->mutex);
            sg_mutex_unlock(J->mutex);
            if (J->failed) {
                send_nothing(J, j, t);
                continue;
            }
        }
        const bg_msg_t *msg;
        double flops;
        bg_err_t err;
        if (bg_engine_byz_round(J->e, j, &msg, &flops, &err)) {
            sim_fail(J, &err);
            send_nothing(J, j, t);
            continue;
        }
        execute(J, t, (long)j, BG_EV_COMPUTE, flops);
        XBT_CVERB(byzgrid_worker, "round %zu: message sent (%.0f bytes, %.6g flops)", t, msg->bytes, flops);
        send_message(J, j, msg, msg->bytes);
    }
    XBT_CVERB(byzgrid_worker, "finalize received after %zu broadcasts", t);
}

/* Joules of the hosts the run uses, by role, and of every link, now; returns the total. Without the link energy
 * plugin (a platform with WiFi links: SimGrid 3.32 gives them no energy record, so reading one dereferences a null
 * pointer, and its C API cannot tell them apart) links_j is NAN and the total counts the hosts only. */
static double energy_now(sim_ctx_t *J, struct bg_energy *en)
{
    double role[3] = {0, 0, 0}, links = 0;
    sg_host_energy_update_all();
    for (size_t h = 0; h < J->n_ehosts; h++)
        role[J->erole[h]] += sg_host_get_consumed_energy(J->ehosts[h]);
    if (J->link_plugin) {
        sg_link_t *l = sg_link_list();
        for (size_t k = 0, nl = sg_link_count(); k < nl; k++)
            links += sg_link_get_consumed_energy(l[k]);
        free(l);
    }
    if (en) {
        en->server_j = role[0];
        en->honest_j = role[1];
        en->byzantine_j = role[2];
        en->links_j = J->link_energy ? links : NAN;
        en->total_j = role[0] + role[1] + role[2] + links;
    }
    return role[0] + role[1] + role[2] + links;
}

/* The run's end (the last round, or until_s): its simulated time and energy. */
static void record_end(sim_ctx_t *J, double t)
{
    J->end_clock = t;
    energy_now(J, &J->res->energy);
}

/* One trace row at simulated time t (the current clock): the final metrics so far, the target check, progress. */
static void write_row(sim_ctx_t *J, const bg_metrics_t *m, double t)
{
    const double ej = energy_now(J, NULL);
    J->res->final = *m;
    if (J->sc->target_acc > 0 && !J->res->target.reached && m->test_acc >= J->sc->target_acc)
        J->res->target = (struct bg_target){1, m->round, t, m->bytes_up, m->bytes_down, ej};
    if (J->proto) {   /* the round protocol's counts since the previous row */
        snprintf(J->trace.extra, sizeof J->trace.extra, "%zu,%zu,%zu,%zu,%zu,%zu", J->iv.selected, J->iv.applied,
                 J->iv.missing, J->iv.late, J->iv.late_dropped, J->iv.skipped);
        memset(&J->iv, 0, sizeof J->iv);
    }
    J->rows++;
    J->row_round = m->round;
    if (J->trace.fp && bg_trace_row(&J->trace, m, t, ej) != BG_OK) {
        if (!J->failed)
            bg_err_set(J->err, BG_EIO, J->trace.path, 0, "cannot write the trace");
        sim_stop(J);
    } else {
        XBT_CVERB(byzgrid_server, "evaluation at round %zu%s: test_acc %.4f, test_loss %.4g", m->round,
                  J->trace.fp ? " written" : "", m->test_acc, m->test_loss);
    }
    bg_progress(J->opts, &J->progress_shown, J->wall_start, &J->progress_last, m->round, J->rounds, t, J->until, m);
}

static void evaluate_and_write(sim_ctx_t *J)
{
    bg_metrics_t m;
    bg_engine_evaluate(J->e, &m);
    write_row(J, &m, simgrid_get_clock());
}

/* The model the server now holds (its aggregation has finished), for the clock actor's rows. */
static void hold_model(sim_ctx_t *J)
{
    memcpy(J->held, bg_engine_model(J->e), bg_engine_dim(J->e) * sizeof *J->held);
    bg_engine_counters(J->e, &J->held_counters);
}

/* Rows at k * eval_every_s, and the last one at until_s, each with the held model (evaluating costs no simulated
 * time). Ends when the server leaves its loop first, or ends the run at until_s. */
static void clock_run(sim_ctx_t *J)
{
    for (size_t k = 0;; k++) {
        double next = J->every > 0 ? (double)k * J->every : INFINITY;
        const int last = J->until > 0 && !(next < J->until);
        if (last)
            next = J->until;
        const double now = simgrid_get_clock();
        if (next > now && !sg_sem_acquire_timeout(J->clock_stop, next - now))
            return;   /* the server ended first */
        if (J->failed)
            return;
        bg_metrics_t m = J->held_counters;
        bg_engine_evaluate_x(J->e, J->held, &m);
        write_row(J, &m, next);
        if (last) {
            XBT_CVERB(byzgrid_server, "run.until_s = %g reached after %zu rounds", J->until, m.round);
            J->until_reached = 1;
            J->res->rounds = m.round;
            record_end(J, J->until);
            if (J->proto)
                proto_notify(J);   /* the server may be waiting for messages */
            return;
        }
    }
}

static void clock_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    (void)argc;
    (void)argv;
    clock_run(J);
    J->clock_actor = NULL;   /* ended: nobody may kill it any more */
}

/* Round t's aggregation (server_flops) has finished now: the held model, the records, the row if due. */
static void round_done_at(sim_ctx_t *J, size_t t, double server_flops)
{
    if (J->held)
        hold_model(J);
    if (J->res->round_end)
        J->res->round_end[t + 1] = simgrid_get_clock();
    if (J->res->server_flops)
        J->res->server_flops[t] = server_flops;
    J->res->rounds = t + 1;
    if (J->round_rows ? bg_engine_is_eval_round(J->e, t + 1) : t + 1 == J->rounds)
        evaluate_and_write(J);
}

/* A signal asked the run to stop (interrupt.c): the server leaves its loop at this round boundary, with a row for
 * the model it holds now unless the last row already has it. */
static int interrupted(sim_ctx_t *J)
{
    return bg_interrupted() && !J->failed && !J->until_reached;
}

static void interrupted_row(sim_ctx_t *J)
{
    if (interrupted(J) && (J->rows == 0 || J->row_round != J->res->rounds))
        evaluate_and_write(J);
}

/* The server left its round loop: the run's simulated time ends with the last round (or at until_s, recorded by the
 * clock actor), not with the finalize messages that follow; the clock actor stops. */
static void traffic_end(sim_ctx_t *J);

static void run_done(sim_ctx_t *J)
{
    traffic_end(J);
    if (!J->until_reached)
        record_end(J, simgrid_get_clock());
    if (J->clock_stop)
        sg_sem_release(J->clock_stop);
}

/* Every worker is in (or on its way to) a receive on its own mailbox, and takes exactly one FINALIZE. Waiting for
 * all of them means that when the sender (the server, or the relay of workers lo..lo+n-1) ends, they have ended. */
static void finalize_workers(sim_ctx_t *J, size_t lo, size_t n)
{
    sg_comm_t *comms = malloc((n ? n : 1) * sizeof *comms);
    xbt_assert(comms, "out of memory");
    for (size_t i = 0; i < n; i++)
        comms[i] = sg_mailbox_put_async(J->down[lo + i], (void *)FINALIZE, 0);
    const size_t done = sg_comm_wait_all_for(comms, n, -1.0);
    xbt_assert(done == n, "%zu of %zu finalize messages delivered", done, n);
    free(comms);
}

/* Post round t's gets for the uploads of workers lo..lo+n-1 before the broadcast to them, then wait for the
 * uploads. A transfer starts only when both sides are posted (rendezvous), hence every get before any wait. The
 * server leaves the broadcast untouched until every worker's reply is in. With relays comms holds 2n handles: the
 * gets, then the broadcast's puts, all done when the uploads are (a worker uploads after it received the
 * broadcast); without, the puts are detached (see receive). */
static void exchange(sim_ctx_t *J, size_t t, const bg_msg_t *down, sg_comm_t *comms, void **payloads, size_t *who, size_t lo,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        comms[i] = sg_mailbox_get_async(J->up[lo + i], &payloads[i]);
    if (!J->n_relays) {
        for (size_t i = 0; i < n; i++)
            sg_comm_detach(sg_mailbox_put_init(J->down[lo + i], (void *)down, (long long)down->bytes), NULL);
        wait_uploads(J, t, comms, who, lo, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        comms[n + i] = sg_mailbox_put_async(J->down[lo + i], (void *)down, (long long)down->bytes);
    wait_uploads(J, t, comms, who, lo, n);
    const size_t done = sg_comm_wait_all_for(comms + n, n, -1.0);
    xbt_assert(done == n, "%zu of %zu broadcast messages delivered", done, n);
}

/* A relay on the server's host (run.relays): one actor holding thousands of pending comms costs SimGrid 3.32 O(n)
 * per completion (each one is removed from the actor's activity list), O(n^2) per round; relays of a few hundred
 * workers each keep it linear. Synchronisation through the barrier takes no simulated time, and the relays post
 * the same comms at the same instant as the server would, so simulated times are unchanged. */
static void relay_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    const size_t r = worker_index(argc, argv);
    const size_t lo = r * J->per_relay, n = J->n - lo < J->per_relay ? J->n - lo : J->per_relay;
    sg_comm_t *comms = malloc(2 * n * sizeof *comms);
    void **payloads = calloc(n, sizeof *payloads);
    size_t *who = malloc(n * sizeof *who);
    xbt_assert(comms && payloads && who, "out of memory");
    for (;;) {
        sg_barrier_wait(J->relay_bar);   /* the server has a job for the relays */
        if (J->relay_finalize)
            break;
        exchange(J, J->relay_round, J->relay_down, comms, payloads, who, lo, n);
        sg_barrier_wait(J->relay_bar);   /* every upload of the round is in */
    }
    free(comms);
    free(payloads);
    free(who);
    finalize_workers(J, lo, n);
}

/* run.threads: the messages of round t of the workers in who[0..m) that run the method (honest, data attackers),
 * computed side by side now. A failure stops the run as a worker's own would. */
static void precompute(sim_ctx_t *J, size_t t, const bg_msg_t *down, const size_t *who, size_t m)
{
    size_t k = 0;
    for (size_t a = 0; a < m; a++) {
        const size_t i = who ? who[a] : a;   /* NULL: every rank */
        if (i < J->nh || bg_engine_attack_runs_method(J->e))
            J->pre_who[k++] = i;
    }
    bg_err_t err;
    if (bg_engine_workers_round(J->e, J->pre_who, k, down, t, J->pre_tmp, &err)) {
        sim_fail(J, &err);
        return;
    }
    for (size_t a = 0; a < k; a++)
        J->pre_flops[J->pre_who[a]] = J->pre_tmp[a];
}

/* ---- Round protocols and faults: the proxy path ------------------------------------------------------------------
 * Used when [round] asks for sampling, a deadline or a quorum, or when hosts or links can fail. Every worker has a
 * proxy actor on the server's host that sends it the broadcast and waits for its reply, each with one
 * *_async + sg_comm_wait_for (a failed transfer returns an error code; a blocking call or a wait_any would abort
 * the run), so no actor ever waits on more than one comm. The server hands out jobs through semaphores and waits
 * on a condition variable for arrivals, losses and recoveries, with the deadline as its timeout. With every
 * protocol key at its default and no fault, the same comms are posted at the same instants as on the direct path:
 * the same simulated times. */

/* One round's broadcast, kept until every worker it was sent to has taken it (a slow worker may receive it after
 * the next round's broadcast exists) or its transfer failed. */
typedef struct snap {
    bg_msg_t msg;
    size_t round;
    double posted;
    size_t refs;
    struct snap *next;
} snap_t;

typedef struct proto_worker {
    sg_sem_t job;                 /* released by the server: the proxy has a broadcast to send */
    snap_t *snap;                 /* the broadcast */
    sg_actor_t proxy, actor;      /* the worker's actor changes at every restart */
    sg_host_t host;
    int alive;                    /* the worker's actor runs (0 while its host is down) */
    int busy;                     /* a broadcast was sent and the reply has not arrived: not sampled again */
    int lost;                     /* counted as unreachable in the current round */
    int outbox;                   /* 0 nothing to send, 1 computing its message, 2 sending it */
    size_t round;                 /* the round its current message answers */
    double flops, bytes;
    const void *payload;
    int pre;                      /* its message of `round` was computed when it was sampled (run.threads) */
} proto_worker_t;

/* Wake the server if it waits. A semaphore, not a condition variable: SimGrid 3.32's sg_cond_wait_for left the
 * mutex owned by the notifier after a timeout (seen here: "Cannot release that mutex: you're not the owner"). Actors
 * never run concurrently, so the flag and the semaphore cannot race. */
static void proto_notify(sim_ctx_t *J)
{
    if (J->server_waits) {
        J->server_waits = 0;
        sg_sem_release(J->wake);
    }
}

static snap_t *snap_new(sim_ctx_t *J, const bg_msg_t *down, size_t round, size_t refs)
{
    snap_t *s = calloc(1, sizeof *s);
    xbt_assert(s && !bg_msg_init(&s->msg, bg_engine_dim(J->e)), "out of memory");
    bg_msg_set_dense(&s->msg, down->val);
    s->msg.bytes = down->bytes;
    s->round = round;
    s->posted = simgrid_get_clock();
    s->refs = refs;
    s->next = J->snaps;
    J->snaps = s;
    return s;
}

static void snap_release(sim_ctx_t *J, snap_t *s)
{
    if (--s->refs)
        return;
    for (snap_t **p = &J->snaps; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    bg_msg_destroy(&s->msg);
    free(s);
}

/* Worker i's message of the current round cannot arrive by this path (its broadcast or its upload failed, or its
 * host went down): without a deadline the server stops waiting for it. */
static void proto_lost(sim_ctx_t *J, size_t i)
{
    proto_worker_t *w = &J->pw[i];
    if (J->round_open && w->busy && w->round == J->cur_round && !w->lost) {
        w->lost = 1;
        J->lost_now++;
        proto_notify(J);
    }
}

/* Worker i's message reached the server: on time (its round is still open) or late. */
static void proto_arrival(sim_ctx_t *J, size_t i)
{
    proto_worker_t *w = &J->pw[i];
    event_add(J, w->round, (long)i, BG_EV_UPLOAD, J->up_posted ? J->up_posted[i] : 0.0, simgrid_get_clock(), w->bytes);
    w->busy = 0;
    J->arrived_bytes += w->bytes;
    if (J->round_open && w->round == J->cur_round) {
        J->apply[i] |= BG_APPLY_CURRENT;
        J->ontime++;
        if (w->lost) {
            w->lost = 0;
            J->lost_now--;
        }
    } else {
        J->tot.late++;
        J->iv.late++;
        if (J->late_apply) {
            /* Kept aside: the worker is free again and its next message must not overwrite this one. */
            if (i >= J->nh && !bg_engine_attack_runs_method(J->e)) {
                J->apply[i] |= BG_APPLY_CURRENT;   /* a crafted message: its content is made at the aggregation */
            } else {
                xbt_assert(!(J->apply[i] & BG_APPLY_HELD), "worker %zu: two late messages before one aggregation", i);
                xbt_assert(bg_engine_hold(J->e, i) == BG_OK, "out of memory");
                J->apply[i] |= BG_APPLY_HELD;
            }
        } else {
            J->tot.late_dropped++;
            J->iv.late_dropped++;
        }
    }
    proto_notify(J);
}

/* Worker i's proxy: send each broadcast it is given, then wait for the reply, re-posting the receive after a
 * failed transfer (the worker sends the same message again). Ends when the server kills it. */
static void proxy_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    const size_t i = worker_index(argc, argv);
    proto_worker_t *w = &J->pw[i];
    for (;;) {
        sg_sem_acquire(w->job);
        snap_t *s = w->snap;
        if (sg_comm_wait_for(sg_mailbox_put_async(J->down[i], s, (long long)s->msg.bytes), -1.0) != SG_OK) {
            XBT_CVERB(byzgrid_worker, "round %zu: the broadcast to worker %zu failed", s->round, i);
            snap_release(J, s);
            proto_lost(J, i);
            w->busy = 0;
            continue;
        }
        for (;;) {
            void *p = NULL;
            if (sg_comm_wait_for(sg_mailbox_get_async(J->up[i], &p), -1.0) == SG_OK) {
                proto_arrival(J, i);
                break;
            }
            XBT_CVERB(byzgrid_worker, "worker %zu: an upload failed, waiting for it again", i);
            proto_lost(J, i);
        }
    }
}

/* Send the message in the outbox until it goes through: after a failed transfer (a link down) wait round.retry_s.
 * If the host dies meanwhile, the restarted actor sends it again (proto_worker). */
static void proto_upload(sim_ctx_t *J, size_t i)
{
    proto_worker_t *w = &J->pw[i];
    event_upload_posted(J, i, w->bytes);
    while (sg_comm_wait_for(sg_mailbox_put_async(J->up[i], (void *)w->payload, (long long)w->bytes), -1.0) != SG_OK) {
        sg_actor_sleep_for(J->sc->retry_s);
        event_upload_posted(J, i, w->bytes);
    }
    w->outbox = 0;
}

static void proto_worker_exit(int failed, void *arg)
{
    (void)failed;
    ((proto_worker_t *)arg)->alive = 0;
}

/* A worker (honest, or Byzantine) on the proxy path. Its host may crash: SimGrid kills the actor and restarts it
 * (from the start, with the same arguments) when the host comes back. The method state lives on (a worker process
 * checkpoints it with the message it is about to send, as it must for EF21-family methods), so a restarted worker
 * first finishes what it was doing: it recomputes the message's cost if the crash interrupted the computation, then
 * sends the same message. */
static void proto_worker(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    const size_t i = worker_index(argc, argv);
    proto_worker_t *w = &J->pw[i];
    const int crafted = i >= J->nh && !bg_engine_attack_runs_method(J->e);
    w->actor = sg_actor_self();
    w->alive = 1;
    sg_actor_on_exit(proto_worker_exit, w);
    if (w->outbox == 1) {
        execute(J, w->round, (long)i, BG_EV_COMPUTE, w->flops);
        w->outbox = 2;
    }
    if (w->outbox == 2)
        proto_upload(J, i);
    for (;;) {
        void *in = NULL;
        if (sg_comm_wait_for(sg_mailbox_get_async(J->down[i], &in), -1.0) != SG_OK)
            continue;   /* the broadcast failed on its way; its proxy knows */
        snap_t *s = in;
        event_add(J, s->round, (long)i, BG_EV_DOWNLOAD, s->posted, simgrid_get_clock(), s->msg.bytes);
        const bg_msg_t *msg = NULL;
        double flops = 0.0;
        bg_err_t err;
        int rc = BG_OK;
        w->payload = J;   /* oracle attackers: the server fills the content in */
        if (crafted && J->oracle && J->omniscient) {
            w->bytes = J->oracle_bytes;
            flops = J->oracle_flops;
        } else if (w->pre) {   /* computed with the round's others when the server sampled them (run.threads) */
            w->pre = 0;
            msg = bg_engine_worker_msg(J->e, i);
            flops = J->pre_flops[i];
            w->payload = msg;
            w->bytes = msg->bytes;
        } else {
            rc = crafted ? bg_engine_byz_round(J->e, i, &msg, &flops, &err)
                         : bg_engine_worker_round_at(J->e, i, &s->msg, s->round, &msg, &flops, &err);
            if (!rc) {
                w->payload = msg;
                w->bytes = msg->bytes;
            }
        }
        w->round = s->round;
        snap_release(J, s);
        if (rc) {
            sim_fail(J, &err);
            continue;   /* the server ends the run and this actor */
        }
        w->flops = flops;
        w->outbox = 1;
        execute(J, w->round, (long)i, BG_EV_COMPUTE, flops);
        w->outbox = 2;
        proto_upload(J, i);
    }
}

/* Worker i can be sent a broadcast: its last message is in (a late one is held aside until applied) and its host is
 * up. */
static int available(sim_ctx_t *J, size_t i)
{
    return !J->pw[i].busy && sg_host_is_on(J->pw[i].host);
}

/* Sample this round's workers among the candidates (idle, host up): all of them, or round.participation of
 * workers.n (a fraction, rounded up, or a count) drawn with the round's own stream. Returns how many; they are
 * cand[0..k-1] in rank order. */
static size_t proto_sample(sim_ctx_t *J, size_t t)
{
    size_t nc = 0;
    for (size_t i = 0; i < J->n; i++)
        if (available(J, i))
            J->cand[nc++] = i;
    const double p = J->sc->participation;
    size_t k = p <= 1.0 ? (size_t)ceil(p * (double)J->n - 1e-9) : (size_t)p;
    if (k >= nc)
        return nc;
    gsl_rng *r = bg_rng_stream(bg_engine_config(J->e)->seed, BG_RNG_ROUND, t);
    xbt_assert(r, "out of memory");
    for (size_t a = 0; a < k; a++) {   /* a partial Fisher-Yates shuffle */
        const size_t b = a + (size_t)gsl_rng_uniform_int(r, (unsigned long)(nc - a));
        const size_t x = J->cand[a];
        J->cand[a] = J->cand[b];
        J->cand[b] = x;
    }
    gsl_rng_free(r);
    for (size_t a = 1; a < k; a++)   /* rank order: the order of the jobs does not matter, the record reads well */
        for (size_t b = a; b > 0 && J->cand[b - 1] > J->cand[b]; b--) {
            const size_t x = J->cand[b];
            J->cand[b] = J->cand[b - 1];
            J->cand[b - 1] = x;
        }
    return k;
}

/* Host outages that byzgrid does not schedule (state_file attributes in a user's platform file) are seen by looking:
 * a sampled worker of the open round whose host is down cannot answer it. */
static void poll_hosts(sim_ctx_t *J)
{
    if (!J->round_open)
        return;
    for (size_t a = 0; a < J->selected_now; a++)
        if (!sg_host_is_on(J->pw[J->cand[a]].host))
            proto_lost(J, J->cand[a]);
}

/* Wait until done() or the absolute time `until` (INFINITY: no limit), woken by proto_notify (and every
 * round.retry_s when outages come from the platform file). */
static void proto_wait(sim_ctx_t *J, int (*done)(sim_ctx_t *), double until)
{
    for (;;) {
        if (J->poll)
            poll_hosts(J);
        if (J->failed || J->until_reached || done(J))
            return;
        const double now = simgrid_get_clock();
        if (until <= now)
            return;
        const double wake = J->poll && now + J->sc->retry_s < until ? now + J->sc->retry_s : until;
        J->server_waits = 1;
        if (isinf(wake))
            sg_sem_acquire(J->wake);
        else
            sg_sem_acquire_timeout(J->wake, wake - now);
        J->server_waits = 0;
    }
}

static int round_done(sim_ctx_t *J)
{
    return J->ontime >= J->proto_q || (!(J->sc->deadline_s > 0) && J->ontime + J->lost_now >= J->selected_now);
}

static int someone_available(sim_ctx_t *J)
{
    for (size_t i = 0; i < J->n; i++)
        if (available(J, i))
            return 1;
    return 0;
}

static size_t fault_record(sim_ctx_t *J, const char *name, int link, double down);

/* The protocol's totals, and for mirrored methods whether every worker's copy equals the server's: a worker whose
 * message is computed but not delivered, or delivered but not yet applied, is left out (its copies differ by
 * exactly that message). */
static void proto_record(sim_ctx_t *J)
{
    struct bg_protocol *p = &J->res->protocol;
    p->on = 1;
    p->late_applied = J->late_apply;
    p->selected = J->tot.selected;
    p->applied = J->tot.applied;
    p->missing = J->tot.missing;
    p->late = J->tot.late;
    p->late_dropped = J->tot.late_dropped;
    p->skipped = J->tot.skipped;
    unsigned char *skip = calloc(J->n ? J->n : 1, 1);
    xbt_assert(skip, "out of memory");
    for (size_t i = 0; i < J->n; i++) {
        skip[i] = J->pw[i].outbox != 0 || J->apply[i] || J->pw[i].pre;   /* pre: computed, its broadcast on the way */
        p->mirror_in_flight += i < J->nh && skip[i];
    }
    p->mirror_gap = bg_engine_mirror_gap(J->e, skip, &p->mirror_compared);
    free(skip);
    /* Link outages are state profiles in the generated platform: those that began before the end. */
    bg_faults_t lf = {0};
    bg_err_t e;
    if (bg_faults_parse(J->sc->plat.link_faults, "faults.links", &lf, &e) == BG_OK)
        for (size_t k = 0; k < lf.n; k++)
            if (lf.v[k].down <= J->end_clock) {
                const size_t r = fault_record(J, lf.v[k].name, 1, lf.v[k].down);
                p->faults[r].up = lf.v[k].up <= J->end_clock ? lf.v[k].up : NAN;
            }
    bg_faults_free(&lf);
}

/* Round t's start on either path: the broadcast and its computation. 0 when the run stops here (the broadcast
 * failed, or run.until_s passed during it). */
static int round_start(sim_ctx_t *J, size_t t, const bg_msg_t **down)
{
    double flops;
    bg_err_t err;
    if (bg_engine_broadcast(J->e, down, &flops, &err)) {
        sim_fail(J, &err);
        return 0;
    }
    execute(J, t, BG_EVENTS_SERVER, BG_EV_BROADCAST, flops);
    return !J->until_reached;
}

/* The end of a run on the proxy path: every actor still there is ended (workers may be waiting for a broadcast,
 * retrying an upload, or down; proxies wait for a job or a reply). */
static void proto_end(sim_ctx_t *J)
{
    if (J->fault_actor)
        sg_actor_kill(J->fault_actor);
    for (size_t i = 0; i < J->n; i++) {
        if (J->pw[i].alive)
            sg_actor_kill(J->pw[i].actor);
        sg_actor_kill(J->pw[i].proxy);
    }
}

/* ---- Faults: worker hosts that crash and recover ------------------------------------------------------------------
 * faults.hosts lists outages, faults.mtbf_s / mttr_s draws them for every worker host; the fault actor (on the
 * server's host) applies them with sg_host_turn_off / sg_host_turn_on, which is what a SimGrid state profile does to
 * a host: its actors are killed and its transfers fail; a worker's actor is restarted (auto-restart) when its host
 * comes back. A host held down by several outages comes back when the last one ends. */

static int fault_plan_new(sim_ctx_t *J, const bg_scenario_t *sc, uint64_t seed, bg_err_t *err)
{
    int rc = bg_faults_parse(sc->faults_hosts, "faults.hosts", &J->fp.listed, err);
    if (rc)
        return rc;
    /* Distinct worker hosts, each with the stream of its first rank. */
    size_t nm = 0;
    unsigned char *first = calloc(J->n ? J->n : 1, 1);
    if (!first)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    if (sc->faults_mtbf_s > 0) {
        /* J->ehosts lists the distinct hosts in order of first use (server first): a worker host's first rank is
         * the first i with that host. */
        for (size_t i = 0; i < J->n; i++) {
            size_t k = 0;
            while (k < i && J->pw[k].host != J->pw[i].host)
                k++;
            if (k == i && J->pw[i].host != sg_host_by_name(sc->server_host)) {
                first[i] = 1;
                nm++;
            }
        }
    }
    J->fp.n = J->fp.listed.n + nm;
    J->fp.o = calloc(J->fp.n ? J->fp.n : 1, sizeof *J->fp.o);
    if (!J->fp.o) {
        free(first);
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    }
    size_t k = 0;
    for (size_t j = 0; j < J->fp.listed.n; j++, k++) {
        J->fp.o[k].host = sg_host_by_name(J->fp.listed.v[j].name);
        J->fp.o[k].name = J->fp.listed.v[j].name;
        J->fp.o[k].down = J->fp.listed.v[j].down;
        J->fp.o[k].up = J->fp.listed.v[j].up;
    }
    for (size_t i = 0; i < J->n; i++)
        if (first[i]) {
            outage_t *o = &J->fp.o[k++];
            o->host = J->pw[i].host;
            o->name = sg_host_get_name(o->host);
            o->rng = bg_faults_mtbf_rng(seed, i);
            if (!o->rng) {
                free(first);
                return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
            }
            bg_faults_mtbf_next(o->rng, sc->faults_mtbf_s, sc->faults_mttr_s, 0.0, &o->down, &o->up);
        }
    free(first);
    return BG_OK;
}

static void fault_plan_free(sim_ctx_t *J)
{
    for (size_t k = 0; k < J->fp.n; k++)
        if (J->fp.o[k].rng)
            gsl_rng_free(J->fp.o[k].rng);
    free(J->fp.o);
    bg_faults_free(&J->fp.listed);
    memset(&J->fp, 0, sizeof J->fp);
}

static size_t fault_record(sim_ctx_t *J, const char *name, int link, double down)
{
    struct bg_protocol *p = &J->res->protocol;
    struct bg_fault_event *v = realloc(p->faults, (p->n_faults + 1) * sizeof *v);
    xbt_assert(v, "out of memory");
    p->faults = v;
    snprintf(v[p->n_faults].name, sizeof v[p->n_faults].name, "%s", name);
    v[p->n_faults].link = link;
    v[p->n_faults].down = down;
    v[p->n_faults].up = NAN;
    return p->n_faults++;
}

/* The server's host is down: the run ends with an error, its trace kept; every actor is ended. */
static void server_crash(sim_ctx_t *J, const char *name, double t)
{
    bg_err_t e;
    char tb[64];
    bg_err_set(&e, BG_EINVAL, NULL, 0, "the server's host '%s' crashed at %s s (faults): the run ends after %zu rounds; "
               "trace.csv keeps its rows", name, bg_faults_time(t, tb, sizeof tb), J->res->rounds);
    sim_fail(J, &e);
    if (!J->until_reached)
        record_end(J, t);
    for (size_t i = 0; i < J->n; i++) {
        if (J->pw[i].alive)
            sg_actor_kill(J->pw[i].actor);
        sg_actor_kill(J->pw[i].proxy);
    }
    if (J->clock_actor)
        sg_actor_kill(J->clock_actor);
    sg_actor_kill(J->server_actor);
    J->fault_actor = NULL;
    sg_host_turn_off(sg_host_by_name(J->sc->server_host));   /* ends this actor too */
}

static int host_held_down(sim_ctx_t *J, sg_host_t h)
{
    for (size_t k = 0; k < J->fp.n; k++)
        if (J->fp.o[k].host == h && J->fp.o[k].is_down)
            return 1;
    return 0;
}

static void fault_run(sim_ctx_t *J);

static void fault_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    (void)argc;
    (void)argv;
    fault_run(J);
    J->fault_actor = NULL;   /* ended: nobody may kill it any more */
}

static void fault_run(sim_ctx_t *J)
{
    sg_host_t server = sg_host_by_name(J->sc->server_host);
    for (;;) {
        size_t best = J->fp.n;
        double tb = INFINITY;
        for (size_t k = 0; k < J->fp.n; k++) {
            const outage_t *o = &J->fp.o[k];
            const double t = o->done ? INFINITY : o->is_down ? o->up : o->down;
            if (t < tb) {
                tb = t;
                best = k;
            }
        }
        if (best == J->fp.n)
            return;   /* nothing more will happen */
        if (tb > simgrid_get_clock())
            sg_actor_sleep_until(tb);
        outage_t *o = &J->fp.o[best];
        if (!o->is_down) {
            if (o->host == server) {
                server_crash(J, o->name, tb);
                return;
            }
            XBT_CVERB(byzgrid_server, "host %s crashes", o->name);
            o->rec = fault_record(J, o->name, 0, tb);
            for (size_t i = 0; i < J->n; i++)
                if (J->pw[i].host == o->host)
                    proto_lost(J, i);
            if (sg_host_is_on(o->host))
                sg_host_turn_off(o->host);
            o->is_down = 1;
            if (isinf(o->up))
                o->done = 1;
        } else {
            o->is_down = 0;
            J->res->protocol.faults[o->rec].up = tb;
            if (!host_held_down(J, o->host)) {
                XBT_CVERB(byzgrid_server, "host %s recovers", o->name);
                sg_host_turn_on(o->host);
            }
            if (o->rng)
                bg_faults_mtbf_next(o->rng, J->sc->faults_mtbf_s, J->sc->faults_mttr_s, tb, &o->down, &o->up);
            else
                o->done = 1;
            proto_notify(J);
        }
    }
}

static void proto_server(sim_ctx_t *J)
{
    const bg_scenario_t *sc = J->sc;
    if (J->round_rows && !(J->every > 0))
        evaluate_and_write(J);
    for (size_t t = 0; t < J->rounds && !J->failed && !J->until_reached && !interrupted(J); t++) {
        const bg_msg_t *down;
        double flops;
        bg_err_t err;
        if (!round_start(J, t, &down))
            break;
        size_t k = proto_sample(J, t);
        if (!k) {   /* nobody to send to: wait for a reply or a recovery, at most round.stall_s */
            const double from = simgrid_get_clock();
            proto_wait(J, someone_available, from + sc->stall_s);
            if (J->failed || J->until_reached)
                break;
            if (!(k = proto_sample(J, t))) {
                bg_err_t e;
                bg_err_set(&e, BG_EINVAL, NULL, 0,
                           "round %zu: no worker could be reached from %.9g s to %.9g s (all busy or their hosts down; "
                           "round.stall_s = %g)", t, from, simgrid_get_clock(), sc->stall_s);
                sim_fail(J, &e);
                break;
            }
        }
        snap_t *snap = snap_new(J, down, t, k);
        if (J->pre) {
            precompute(J, t, down, J->cand, k);
            for (size_t a = 0; a < k; a++)
                J->pw[J->cand[a]].pre = J->cand[a] < J->nh || bg_engine_attack_runs_method(J->e);
        }
        J->cur_round = t;
        J->round_open = 1;
        J->selected_now = k;
        J->ontime = J->lost_now = 0;
        for (size_t a = 0; a < k; a++) {
            proto_worker_t *w = &J->pw[J->cand[a]];
            w->busy = 1;
            w->lost = 0;
            w->round = t;
            w->snap = snap;
            sg_sem_release(w->job);
        }
        XBT_CVERB(byzgrid_server, "round %zu: broadcast sent to %zu workers", t, k);
        J->proto_q = sc->quorum && sc->quorum < k ? sc->quorum : k;
        proto_wait(J, round_done, sc->deadline_s > 0 ? snap->posted + sc->deadline_s : INFINITY);
        J->round_open = 0;
        J->tot.selected += k;
        J->iv.selected += k;
        J->tot.missing += k - J->ontime;
        J->iv.missing += k - J->ontime;
        XBT_CVERB(byzgrid_server, "round %zu: closed with %zu of %zu messages", t, J->ontime, k);
        if (J->failed || J->until_reached)
            break;
        size_t m = 0;
        for (size_t i = 0; i < J->n; i++)
            m += J->apply[i] != 0;
        const size_t skipped = bg_engine_skipped(J->e);
        bg_engine_round_subset(J->e, J->apply, k, J->arrived_bytes);   /* before the attackers look at the round */
        if (J->oracle && J->omniscient && bg_engine_enough(J->e, m)) {
            const bg_msg_t *msg;
            for (size_t j = J->nh; j < J->n && !J->failed; j++)
                if (J->apply[j] && bg_engine_byz_round(J->e, j, &msg, &flops, &err))
                    sim_fail(J, &err);
            if (J->failed)
                break;
        }
        if (bg_engine_server_round(J->e, &flops, &err)) {
            sim_fail(J, &err);
            break;
        }
        memset(J->apply, 0, J->n);
        J->arrived_bytes = 0;
        if (bg_engine_skipped(J->e) != skipped) {
            J->tot.skipped++;
            J->iv.skipped++;
            XBT_CVERB(byzgrid_server, "round %zu: %zu messages are too few for the rule: round skipped", t, m);
        } else {
            J->tot.applied += m;
            J->iv.applied += m;
        }
        execute(J, t, BG_EVENTS_SERVER, BG_EV_AGGREGATE, flops);
        if (J->until_reached)
            break;
        round_done_at(J, t, flops);
    }
    interrupted_row(J);
    run_done(J);
    proto_record(J);
    proto_end(J);
}

static void server_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    J->server_actor = sg_actor_self();
    J->started = 1;
    if (J->proto) {
        proto_server(J);
        return;
    }
    (void)argc;
    (void)argv;
    const size_t n = J->n, m = J->n_relays ? 0 : n;   /* m: the workers the server serves itself */
    sg_comm_t *comms = malloc((m ? m : 1) * sizeof *comms);
    void **payloads = calloc(m ? m : 1, sizeof *payloads);
    size_t *who = malloc((m ? m : 1) * sizeof *who);
    xbt_assert(comms && payloads && who, "out of memory");
    if (J->round_rows && !(J->every > 0))   /* else the clock actor's row at time 0 is this one */
        evaluate_and_write(J);
    for (size_t t = 0; t < J->rounds && !J->failed && !J->until_reached && !interrupted(J); t++) {
        const bg_msg_t *down;
        bg_err_t err;
        if (!round_start(J, t, &down))
            break;
        if (J->pre)
            precompute(J, t, down, NULL, n);
        J->bcast_posted = simgrid_get_clock();
        XBT_CVERB(byzgrid_server, "round %zu: broadcast sent (%.0f bytes to each of %zu workers)", t, down->bytes, n);
        if (J->n_relays) {
            J->relay_down = down;
            J->relay_round = t;
            sg_barrier_wait(J->relay_bar);   /* the relays post the round's comms */
            sg_barrier_wait(J->relay_bar);   /* and every upload is in */
        } else {
            exchange(J, t, down, comms, payloads, who, 0, n);
        }
        XBT_CVERB(byzgrid_server, "round %zu: %zu messages received", t, n);
        if (J->failed || J->until_reached)
            break;
        const bg_msg_t *msg;
        double flops;
        if (J->oracle && J->omniscient) {
            for (size_t j = J->nh; j < n && !J->failed; j++) {
                if (bg_engine_byz_round(J->e, j, &msg, &flops, &err))
                    sim_fail(J, &err);
            }
            if (J->failed)
                break;
        }
        if (bg_engine_server_round(J->e, &flops, &err)) {
            sim_fail(J, &err);
            break;
        }
        execute(J, t, BG_EVENTS_SERVER, BG_EV_AGGREGATE, flops);
        if (J->until_reached)
            break;   /* past until_s: this round's model is not part of the run */
        XBT_CVERB(byzgrid_server, "round %zu: aggregation done (%.6g flops)", t, flops);
        round_done_at(J, t, flops);
    }
    interrupted_row(J);
    run_done(J);
    free(comms);
    free(payloads);
    free(who);
    XBT_CVERB(byzgrid_server, "finalize sent to %zu workers after %zu rounds%s", n, J->res->rounds,
              J->failed ? " (the run failed)" : "");
    if (J->n_relays) {
        J->relay_finalize = 1;
        sg_barrier_wait(J->relay_bar);   /* each relay sends its workers the finalize, then ends */
    } else {
        finalize_workers(J, 0, n);
    }
}

/* ---- Background traffic (traffic.flows, traffic.h) ----------------------------------------------------------------
 * One daemon actor per flow on its FROM host (daemons end with the job's last actor). A constant flow is one
 * transfer capped at its rate that never ends; periodic and Poisson flows start a transfer (its own daemon actor)
 * at each arrival. Transfers share the links with the job's messages under the network model. */

static void transfer_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    sg_actor_daemonize(sg_actor_self());
    xbt_assert(argc == 4, "transfer actors take their job, flow and number");
    const size_t k = (size_t)strtoul(argv[2], NULL, 10), no = (size_t)strtoul(argv[3], NULL, 10);
    const bg_flow_t *f = &J->flows.v[k];
    const double start = simgrid_get_clock();
    void *h = bg_flow_start(sg_host_by_name(f->from), sg_host_by_name(f->to), f->size, 0);
    const int failed = bg_flow_wait(h);
    bg_flow_release(h);
    J->flow_inflight[k]--;
    if (!failed && !J->traffic_over)
        event_add(J, no, (long)k, BG_EV_TRAFFIC, start, simgrid_get_clock(), f->size);
}

/* A constant flow's size: what it would send at its rate in 1e9 s (31 years), small enough that the bytes not yet
 * sent keep a precision well below a byte (1e18 would leave them to the nearest 128). */
#define BG_CONSTANT_FLOW_SECONDS 1e9

static void traffic_receiver(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    sg_actor_daemonize(sg_actor_self());
    char mb[160];
    snprintf(mb, sizeof mb, "%s/traffic-%s", J->name, argv[2]);
    void *data = NULL;
    sg_comm_wait(sg_mailbox_get_async(sg_mailbox_by_name(mb), &data));
}

/* Transfers of one periodic or Poisson flow in flight at once: past this, its arrivals outpace its route (an
 * overloaded M/G/inf queue grows without bound) and the run stops with an error. */
#define BG_MAX_INFLIGHT 1000

static void traffic_actor(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    sg_actor_daemonize(sg_actor_self());
    const size_t k = worker_index(argc, argv);
    const bg_flow_t *f = &J->flows.v[k];
    if (f->start > 0)
        sg_actor_sleep_for(f->start);
    if (f->kind == BG_FLOW_CONSTANT) {   /* a mailbox transfer (the rate cap needs one) and its receiver */
        char mb[160], rname[64];
        snprintf(mb, sizeof mb, "%s/traffic-%zu", J->name, k);
        snprintf(rname, sizeof rname, "traffic-%zu-receiver", k);
        char *rargv[] = {rname, J->name, argv[2]};
        J->flow_receiver[k] = sg_actor_create(rname, sg_host_by_name(f->to), traffic_receiver, 3, rargv);
        J->flow_t0[k] = simgrid_get_clock();
        J->flow_h[k] = bg_flow_put(mb, f->rate * BG_CONSTANT_FLOW_SECONDS, f->rate);
        bg_flow_wait(J->flow_h[k]);
        return;
    }
    gsl_rng *rng = f->kind == BG_FLOW_POISSON ? bg_rng_stream(J->sc->learn.seed, BG_RNG_TRAFFIC, k) : NULL;
    double next = f->start;
    for (size_t no = 0;; no++) {
        if (rng)
            next += gsl_ran_exponential(rng, 1.0 / f->lambda);
        else if (no)
            next += f->period;
        const double now = simgrid_get_clock();
        if (next > now)
            sg_actor_sleep_for(next - now);
        if (J->traffic_over)
            break;
        if (J->flow_inflight[k] >= BG_MAX_INFLIGHT) {   /* arrivals outpace the route: the run is meaningless */
            bg_err_t e;
            bg_err_set(&e, BG_EINVAL, NULL, 0, "traffic.flows item %zu (%s -> %s) has %d transfers in flight at %.3f "
                       "s: it offers more than its route carries (lower its size or rate)", f->item + 1, f->from,
                       f->to, BG_MAX_INFLIGHT, simgrid_get_clock());
            bg_err_key(&e, "traffic.flows");
            sim_fail(J, &e);
            break;
        }
        J->flow_inflight[k]++;
        char name[64], fk[32], nk[32];
        snprintf(name, sizeof name, "traffic-%zu-%zu", k, no);
        snprintf(fk, sizeof fk, "%zu", k);
        snprintf(nk, sizeof nk, "%zu", no);
        char *targv[] = {name, J->name, fk, nk};
        sg_actor_create(name, sg_host_by_name(f->from), transfer_actor, 4, targv);
    }
    if (rng)
        gsl_rng_free(rng);
}

/* The job's end: a row per constant flow with the bytes it sent, and its transfers released. */
static void traffic_end(sim_ctx_t *J)
{
    if (J->traffic_over || !J->flows.n)
        return;
    J->traffic_over = 1;
    for (size_t k = 0; k < J->flows.n; k++)
        if (J->flow_h[k]) {
            const double sent = J->flows.v[k].rate * BG_CONSTANT_FLOW_SECONDS - bg_flow_remaining(J->flow_h[k]);
            event_add(J, 0, (long)k, BG_EV_TRAFFIC, J->flow_t0[k], simgrid_get_clock(), sent);
        }
    for (size_t k = 0; k < J->flows.n; k++)   /* the flows end with the job (in a program, SimGrid goes on) */
        if (J->flow_actor[k])
            sg_actor_kill(J->flow_actor[k]);
    for (size_t k = 0; k < J->flows.n; k++)
        if (J->flow_receiver[k])
            sg_actor_kill(J->flow_receiver[k]);
}

static int traffic_setup(sim_ctx_t *J, const bg_scenario_t *sc, bg_err_t *err)
{
    if (!sc->traffic[0])
        return BG_OK;
    int rc = bg_flows_parse(sc->traffic, &J->flows, err);
    if (rc)
        return rc;
    for (size_t k = 0; k < J->flows.n; k++) {
        const bg_flow_t *f = &J->flows.v[k];
        const char *missing = !sg_host_by_name(f->from) ? f->from : !sg_host_by_name(f->to) ? f->to : NULL;
        if (missing) {
            bg_err_set(err, BG_ENOTFOUND, NULL, 0, "traffic.flows item %zu: the platform has no host '%s'",
                       f->item + 1, missing);
            return bg_err_keyed(err, "traffic.flows", BG_ENOTFOUND);
        }
    }
    /* The routes: one forked lookup per run of flows from the same host (a group item gives them in a row). */
    char (*to)[BG_MAX_HOSTNAME] = malloc(J->flows.n * sizeof *to);
    if (!to)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    for (size_t a = 0, b; a < J->flows.n && !rc; a = b) {
        for (b = a; b < J->flows.n && !strcmp(J->flows.v[b].from, J->flows.v[a].from); b++)
            snprintf(to[b - a], sizeof to[0], "%s", J->flows.v[b].to);
        rc = bg_platform_check_routes(J->flows.v[a].from, (const char (*)[BG_MAX_HOSTNAME])to, b - a, "the platform",
                                      err);
    }
    free(to);
    if (rc)
        return bg_err_keyed(err, "traffic.flows", rc);
    J->flow_h = calloc(J->flows.n, sizeof *J->flow_h);
    J->flow_t0 = calloc(J->flows.n, sizeof *J->flow_t0);
    J->flow_actor = calloc(J->flows.n, sizeof *J->flow_actor);
    J->flow_receiver = calloc(J->flows.n, sizeof *J->flow_receiver);
    J->flow_inflight = calloc(J->flows.n, sizeof *J->flow_inflight);
    if (!J->flow_h || !J->flow_t0 || !J->flow_actor || !J->flow_receiver || !J->flow_inflight)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    return BG_OK;
}

static void traffic_free(sim_ctx_t *J)
{
    for (size_t k = 0; J->flow_h && k < J->flows.n; k++)
        if (J->flow_h[k])
            bg_flow_release(J->flow_h[k]);
    free(J->flow_h);
    free(J->flow_t0);
    free(J->flow_actor);
    free(J->flow_receiver);
    free(J->flow_inflight);
    J->flow_receiver = NULL;
    J->flow_inflight = NULL;
    J->flow_h = NULL;
    J->flow_t0 = NULL;
    J->flow_actor = NULL;
    bg_flows_free(&J->flows);
}

/* ---- Deployment files: the functions a SimGrid deployment XML names (deployment.h) ---------------------------- */

static void deployed_server(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    xbt_assert(J->by_file, "job '%s' was not deployed from a file, yet its " BG_DEPLOY_SERVER " was started",
               J->name);
    server_actor(argc, argv);
}

static void deployed_worker(int argc, char **argv)
{
    sim_ctx_t *J = job_of(argc, argv);
    xbt_assert(J->by_file, "job '%s' was not deployed from a file, yet a worker of it was started", J->name);
    const size_t i = worker_index(argc, argv);
    if (J->proto) {
        sg_actor_set_auto_restart(sg_actor_self(), 1);   /* its host may crash and come back */
        proto_worker(argc, argv);
    } else if (i >= J->nh && !bg_engine_attack_runs_method(J->e)) {
        byzantine_actor(argc, argv);
    } else {
        worker_actor(argc, argv);
    }
}

static void register_functions(void)
{
    simgrid_register_function(BG_DEPLOY_SERVER, deployed_server);
    simgrid_register_function(BG_DEPLOY_WORKER, deployed_worker);
    simgrid_register_function(BG_DEPLOY_BYZANTINE, deployed_worker);
}

static int configure_network(const bg_scenario_t *sc)
{
    sg_cfg_set_string("network/model", sc->network_model);
    if (sc->crosstraffic >= 0)
        sg_cfg_set_boolean("network/crosstraffic", sc->crosstraffic ? "yes" : "no");
    if (sc->tcp_gamma >= 0)
        sg_cfg_set_double("network/TCP-gamma", sc->tcp_gamma);
    return BG_OK;
}

static int check_hosts(const bg_scenario_t *sc, bg_err_t *err)
{
    char what[1100];
    const int topo = bg_platform_topology(&sc->plat, sc->platform);
    if (topo == BG_TOPO_FILE)
        snprintf(what, sizeof what, "platform %s", sc->platform);
    else
        snprintf(what, sizeof what, "the generated %s platform", bg_platform_topology_name(topo));
    if (sc->deploy_line) {   /* hosts from a deployment file: point at its line */
        for (size_t i = 0; i <= sc->n_hosts; i++) {
            const char *h = i < sc->n_hosts ? sc->hosts[i] : sc->server_host;
            if (!sg_host_by_name(h)) {
                char who[64];
                if (i == sc->n_hosts)
                    snprintf(who, sizeof who, "%s", BG_DEPLOY_SERVER);
                else
                    snprintf(who, sizeof who, "%s rank %zu", i >= sc->n_hosts - sc->learn.f ? BG_DEPLOY_BYZANTINE
                                                                                            : BG_DEPLOY_WORKER, i);
                bg_err_set(err, BG_ENOTFOUND, sc->deployment, sc->deploy_line[i], "host '%s' of %s is not in %s "
                           "(it has %zu hosts)", h, who, what, sg_host_count());
                bg_err_key(err, "workers.deployment");
                return BG_ENOTFOUND;
            }
        }
    }
    if (!sg_host_by_name(sc->server_host)) {
        bg_err_set(err, BG_ENOTFOUND, NULL, 0, "%s has no host '%s' (workers.server)", what,
                   sc->server_host);
        bg_err_key(err, "workers.server");
        return BG_ENOTFOUND;
    }
    for (size_t i = 0; i < sc->n_hosts; i++)
        if (!sg_host_by_name(sc->hosts[i])) {
            bg_err_set(err, BG_ENOTFOUND, NULL, 0,
                       "%s has no host '%s' for worker %zu (workers.hosts; it has %zu hosts)", what,
                       sc->hosts[i], i, sg_host_count());
            bg_err_key(err, sc->hosts_spec[0] ? "workers.hosts" : "workers.n");
            return BG_ENOTFOUND;
        }
    /* SimGrid aborts mid-run on a transfer between hosts without a route: look every one up now. */
    int rc = bg_platform_check_routes(sc->server_host, (const char (*)[BG_MAX_HOSTNAME])sc->hosts, sc->n_hosts, what, err);
    if (rc)
        return bg_err_keyed(err, topo == BG_TOPO_FILE ? "platform.file" : "platform.topology", rc);
    /* SimGrid 3.32 aborts a transfer over a WiFi link unless each station's rate was set with the C++-only
     * Link::set_host_wifi_rate (the XML cannot set it): refuse such routes up front. */
    for (size_t i = 0; i < sc->n_hosts; i++) {
        const char *wl = bg_platform_wifi_route(sc->server_host, sc->hosts[i]);
        if (wl) {
            bg_err_set(err, BG_EINVAL, NULL, 0,
                       "%s: the route between '%s' and '%s' crosses the WiFi link '%s', which byzgrid cannot "
                       "simulate (SimGrid 3.32 sets a station's WiFi rate from C++ only)", what, sc->server_host,
                       sc->hosts[i], wl);
            bg_err_key(err, "platform.file");
            return BG_EINVAL;
        }
    }
    return BG_OK;
}

/* attack.placement = fastest | slowest: rank the worker hosts by their route bandwidth to the server (the
 * minimum over the route's links), then CPU speed. The other placements were applied when the scenario loaded. */
static int place_attackers(bg_scenario_t *sc, bg_err_t *err)
{
    if (sc->placement_applied)
        return BG_OK;
    const size_t n = sc->n_hosts;
    double *bw = malloc((n ? n : 1) * sizeof *bw), *speed = malloc((n ? n : 1) * sizeof *speed);
    xbt_assert(bw && speed, "out of memory");
    const_sg_host_t server = sg_host_by_name(sc->server_host);
    for (size_t i = 0; i < n; i++) {
        const_sg_host_t h = sg_host_by_name(sc->hosts[i]);
        bw[i] = sg_host_get_route_bandwidth(h, server);
        speed[i] = sg_host_get_speed(h);
    }
    int rc = bg_scenario_place(sc, bw, speed, err);
    free(bw);
    free(speed);
    return rc;
}

/* One use of a host by the run (the server, or a worker rank): for de-duplicating hosts in apply_powers. */
typedef struct host_use { sg_host_t h; size_t first; int role; } host_use_t;

static int by_host(const void *a, const void *b)
{
    const host_use_t *x = a, *y = b;
    if (x->h != y->h)
        return (uintptr_t)x->h < (uintptr_t)y->h ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static int by_first(const void *a, const void *b)
{
    const host_use_t *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Give the server's host and every worker's host the scenario's idle and busy Watts (the same for every pstate).
 * SimGrid 3.32's energy plugin reads wattage_per_state when a host is sealed, which happens again when the
 * platform is sealed at the start of simgrid_run, so properties set here (after loading, before running) apply
 * to any platform, a user's XML included. Links keep what the platform gives them (wattage_range; the C API has
 * no setter for link properties): 0 W without one. */
static int apply_powers(sim_ctx_t *J, const bg_scenario_t *sc, size_t nh, bg_err_t *err)
{
    const size_t n = sc->n_hosts;
    J->ehosts = calloc(n + 1, sizeof *J->ehosts);
    J->erole = calloc(n + 1, sizeof *J->erole);
    if (!J->ehosts || !J->erole)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    /* Distinct hosts in order of first use (server, then ranks), each with its lowest role: sorting by host keeps
     * this O(n log n), which matters at 100,000 workers. */
    host_use_t *use = malloc((n + 1) * sizeof *use);
    if (!use)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    for (size_t i = 0; i <= n; i++) {
        use[i].h = sg_host_by_name(i == 0 ? sc->server_host : sc->hosts[i - 1]);
        use[i].first = i;
        use[i].role = i == 0 ? 0 : i - 1 < nh ? 1 : 2;
    }
    qsort(use, n + 1, sizeof *use, by_host);
    size_t g = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i > 0 && use[i].h == use[g - 1].h) {   /* sorted by (host, first): the group's first use leads it */
            if (use[i].role < use[g - 1].role)
                use[g - 1].role = use[i].role;
            continue;
        }
        use[g++] = use[i];
    }
    qsort(use, g, sizeof *use, by_first);
    for (size_t k = 0; k < g; k++) {
        J->ehosts[k] = use[k].h;
        J->erole[k] = use[k].role;
    }
    J->n_ehosts = g;
    free(use);
    struct bg_energy *en = &J->res->energy;
    bg_scenario_power(sc, 1, &en->server_idle_w, &en->server_busy_w);
    bg_scenario_power(sc, 0, &en->worker_idle_w, &en->worker_busy_w);
    en->link_energy = J->link_energy;
    en->links_off_proto = J->links_off_proto;
    en->links_embedded = J->embedded;
    en->links_from_file = bg_platform_topology(&sc->plat, sc->platform) == BG_TOPO_FILE;
    en->link_idle_w = en->links_from_file ? NAN : sc->plat.link_idle_w;
    en->link_busy_w = en->links_from_file ? NAN : sc->plat.link_busy_w;
    char one[64], all[1024];
    for (size_t k = 0; k < J->n_ehosts; k++) {
        const int srv = J->erole[k] == 0;
        snprintf(one, sizeof one, "%.17g:%.17g", srv ? en->server_idle_w : en->worker_idle_w,
                 srv ? en->server_busy_w : en->worker_busy_w);
        all[0] = '\0';
        for (unsigned long p = 0, np = sg_host_get_nb_pstates(J->ehosts[k]); p < np; p++)
            if (snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", p ? "," : "", one) >=
                (int)(sizeof all - strlen(all)))
                return bg_err_set(err, BG_EINVAL, NULL, 0, "host %s has too many pstates for the energy plugin",
                                  sg_host_get_name(J->ehosts[k]));
        sg_host_set_property_value(J->ehosts[k], "wattage_per_state", all);
    }
    return BG_OK;
}

/* run.events: the upload bookkeeping the server's arrival times need, and events.csv itself. */
static int open_events(sim_ctx_t *J, const char *out_dir, size_t n, bg_err_t *err)
{
    J->up_posted = calloc(n ? n : 1, sizeof *J->up_posted);
    J->up_bytes = calloc(n ? n : 1, sizeof *J->up_bytes);
    if (!J->up_posted || !J->up_bytes)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    return bg_events_open(&J->events, out_dir, err);
}

static void oracle_cost(sim_ctx_t *J)
{
    const bg_config_t *c = bg_engine_config(J->e);
    const double d = (double)bg_engine_dim(J->e);
    bg_attack_args_t args;
    bg_attack_args_init(&args, &c->attack, J->n, c->f, NULL);
    double wire_flops;
    J->oracle_bytes = bg_engine_byz_msg_bytes(J->e, &wire_flops);
    J->oracle_flops = bg_attack_find(c->attack.name)->flops(&args, J->nh, bg_engine_dim(J->e)) + (double)J->nh * d + d +
                     wire_flops;
}

/* What the proxy path cannot simulate faithfully, refused with the key to change. */
static int proto_check(const bg_scenario_t *sc, const bg_engine_t *e, bg_err_t *err)
{
    const bg_config_t *c = bg_engine_config(e);
    const char *why = NULL, *key = NULL;
    if (bg_engine_worker_models(e)) {
        why = "its workers' model copies follow every compressed broadcast, and a worker that misses one would "
              "drift from the server's copy";
        key = "method.name";
    } else if (c->method.byz_state == BG_BYZ_STATE_LAST_HONEST) {
        why = "method.byz_state = last_honest ties the attackers' server state to the last honest worker's, which may "
              "be absent from a round";
        key = "method.byz_state";
    } else if (c->method.init != BG_INIT_CLEAN) {
        why = "a non-clean method.init primes the state in round 0, which a worker may miss";
        key = "method.init";
    }
    if (!why)
        return BG_OK;
    (void)sc;
    return bg_err_keyed(err, key, bg_err_set(err, BG_EINVAL, NULL, 0,
                                             "round protocols and faults cannot run %s with this %s: %s",
                                             c->method.name, key, why));
}

static int proto_setup(sim_ctx_t *J, const bg_scenario_t *sc, bg_err_t *err)
{
    const size_t n = J->n;
    J->pw = calloc(n ? n : 1, sizeof *J->pw);
    J->apply = calloc(n ? n : 1, 1);
    J->cand = malloc((n ? n : 1) * sizeof *J->cand);
    if (!J->pw || !J->apply || !J->cand)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        J->pw[i].job = sg_sem_init(0);
        J->pw[i].host = sg_host_by_name(sc->hosts[i]);
    }
    J->wake = sg_sem_init(0);
    J->poll = bg_platform_topology(&sc->plat, sc->platform) == BG_TOPO_FILE && bg_platform_has_state_file(sc);
    int rc = fault_plan_new(J, sc, bg_engine_config(J->e)->seed, err);
    if (rc)
        return rc;
    /* Increments must never be lost: mirrored methods apply late messages whatever round.late says. */
    J->late_apply = sc->late_stale || bg_engine_method_mirrored(J->e);
    /* Omniscient attackers cannot wait for "every honest message of the round": some never come. They are timed
     * as attack.timing = oracle, the content filled in at the aggregation from the messages applied. */
    if (J->omniscient) {
        J->res->protocol.oracle_forced = !J->oracle;
        J->oracle = 1;
    }
    return BG_OK;
}

static void proto_free(sim_ctx_t *J)
{
    fault_plan_free(J);
    if (J->pw)
        for (size_t i = 0; i < J->n; i++)
            if (J->pw[i].job)
                sg_sem_destroy(J->pw[i].job);
    while (J->snaps) {
        snap_t *s = J->snaps;
        J->snaps = s->next;
        bg_msg_destroy(&s->msg);
        free(s);
    }
    if (J->wake)
        sg_sem_destroy(J->wake);
    free(J->pw);
    free(J->apply);
    free(J->cand);
}

/* What `byzgrid run` does before the platform exists (a program embedding jobs does its own): check the user's
 * platform file, set SimGrid's network options, stack guards and energy plugins. */
static int sim_prepare(sim_ctx_t *J, bg_scenario_t *sc, const bg_run_opts_t *o, bg_err_t *err)
{
    /* A user's platform is checked before anything reads it (the WiFi and state_file scans below, SimGrid). */
    if (bg_platform_topology(&sc->plat, sc->platform) == BG_TOPO_FILE && sc->platform[0]) {
        int rc = bg_platform_check_file(sc->platform, err);
        if (rc)
            return bg_err_keyed(err, "platform.file", rc);
    }
    if (o->out_dir && bg_make_dirs(o->out_dir) != 0)
        return bg_err_set(err, BG_EIO, o->out_dir, 0, "cannot create the output folder: %s", strerror(errno));
    configure_network(sc);
    /* Each actor's stack takes two memory mappings with SimGrid's guard page (the stack and its protected page),
     * and Linux allows about 65,530 per process (vm.max_map_count): past ~30,000 actors SimGrid aborts with
     * "Failed to protect stack". Large runs go without guard pages (a stack overflow is then not caught; the
     * actors' frames are small). Read when the actors' stacks are made, so setting it here is in time. */
    if (sc->learn.n >= BG_NO_GUARD_FROM) {
        sg_cfg_set_int("contexts/guard-size", 0);
        /* Without a guard page a stack is one calloc (8 MiB). Once glibc's dynamic mmap threshold has risen past
         * that (it follows the largest block freed so far, up to 32 MiB), stacks come from freed heap memory that
         * calloc must clear: measured at 26,000 workers, 4.8 GB peak RSS and 14 s of setup against 1.6 GB and
         * 2.4 s with a fixed threshold, which keeps every stack a fresh, lazily mapped block. */
        mallopt(M_MMAP_THRESHOLD, 1 << 20);
    }
    /* Both energy plugins must exist before the platform does; the link one only without WiFi links (SimGrid
     * 3.32's plugin crashes on them). */
    sg_host_energy_plugin_init();
    J->link_energy = !bg_platform_has_wifi(sc);
    /* Round protocols or faults: the proxy path. quorum >= n and participation = 1 (or >= n) are the synchronous
     * round, which keeps the direct path and its outputs. */
    J->proto = bg_scenario_protocol_key(sc) || bg_platform_has_state_file(sc);
    /* A platform whose links draw 0 W (generated without link Watts, or a file with no wattage_range) needs no
     * plugin: links_j is 0 exactly. Running it anyway costs O(n^2) per round at scale: SimGrid 3.32's plugin
     * recomputes each route link's usage (a walk over every flow crossing it) at every start and end of a
     * transfer, and the server's link carries all n flows; at 20 workers it is about a sixth of the run (the
     * routes it looks up again at each start and end). */
    J->link_plugin = J->link_energy && (bg_platform_file_links_powered(sc) || sc->plat.link_idle_w != 0 ||
                                      sc->plat.link_busy_w != 0);
    /* The proxy path ends actors that wait on a receive nobody matched yet (at a host crash, at the run's end), and
     * SimGrid 3.32's link energy plugin then looks up the route of a comm without a sender and crashes: where links
     * draw power, they are not counted under it (links_j is null in summary.json, as with WiFi links). */
    if (J->proto && J->link_plugin) {
        J->link_plugin = J->link_energy = 0;
        J->links_off_proto = 1;
    }
    if (J->link_plugin)
        sg_link_energy_plugin_init();
    return bg_platform_load(sc, o->out_dir, err);
}

/* Once the platform is loaded: the job's engine (data, model, components), its checks against the platform, its
 * outputs and its actors, which the next simgrid_run() drives. t0: when the job's setup began (res->setup_time). */
static int job_setup(sim_ctx_t *J, bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err,
                     double t0)
{
    int rc;
    bg_engine_t *e = NULL;
    if ((rc = bg_engine_new(&sc->learn, &e, err)))
        return rc;
    if ((rc = check_hosts(sc, err)) || (rc = bg_faults_check(sc, err)) || (rc = place_attackers(sc, err)) ||
        (rc = traffic_setup(J, sc, err))) {
        bg_engine_free(e);
        return rc;
    }
    const size_t n = sc->learn.n;
    J->sc = sc;
    J->opts = o;
    J->e = e;
    J->res = res;
    J->err = err;
    J->n = n;
    J->nh = bg_engine_n_honest(e);
    J->rounds = sc->learn.rounds;
    J->omniscient = bg_engine_attack_omniscient(e);
    J->oracle = sc->attack_oracle;
    J->progress_last = -1;
    if (J->proto && (rc = proto_check(sc, e, err))) {
        bg_engine_free(e);
        return rc;
    }
    if (J->proto)
        J->trace.extra_header = "selected,participants,missing,late,late_dropped,skipped_rounds";
    J->until = sc->until_s;
    J->every = sc->eval_every_s;
    /* With run.eval_every_s the rows come at fixed times; round-based ones only if run.eval_every is set. */
    J->round_rows = !(J->every > 0) || bg_scenario_is_set(sc, "run", "eval_every");
    if ((rc = bg_run_result_init(res, J->rounds, n, o->record_rounds, 1))) {
        bg_engine_free(e);
        return bg_err_set(err, rc, NULL, 0, "out of memory");
    }
    if ((o->out_dir && (rc = bg_outputs_open(o, &J->trace, err))) || (rc = apply_powers(J, sc, J->nh, err)) ||
        (o->out_dir && sc->events && (rc = open_events(J, o->out_dir, n, err)))) {
        bg_trace_close(&J->trace);
        bg_events_close(&J->events);
        free(J->up_posted);
        free(J->up_bytes);
        free(J->ehosts);
        free(J->erole);
        bg_run_result_destroy(res);
        bg_engine_free(e);
        return rc;
    }
    if (J->until > 0 || J->every > 0) {
        J->held = malloc(bg_engine_dim(e) * sizeof *J->held);
        xbt_assert(J->held, "out of memory");
        hold_model(J);
        J->clock_stop = sg_sem_init(0);
    }
    J->down = malloc(n * sizeof *J->down);
    J->up = malloc(n * sizeof *J->up);
    xbt_assert(J->down && J->up, "out of memory");
    char name[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s/down-%zu", J->name, i);
        J->down[i] = sg_mailbox_by_name(name);
        snprintf(name, sizeof name, "%s/up-%zu", J->name, i);
        J->up[i] = sg_mailbox_by_name(name);
    }
    J->mutex = sg_mutex_init();
    J->cond = sg_cond_init();
    if (J->proto && (rc = proto_setup(J, sc, err))) {
        bg_trace_close(&J->trace);
        bg_events_close(&J->events);
        bg_run_result_destroy(res);
        bg_engine_free(e);
        return rc;
    }
    if (J->oracle && J->omniscient)   /* final here: the proxy path forces the oracle timing */
        oracle_cost(J);
    /* run.threads > 1: precompute each round's worker maths at its broadcast, except where a broadcast may fail (a
     * worker's state must only advance for a message it actually computes). */
    if (bg_engine_threads(e) > 1 && !(J->proto && (J->fp.n || J->poll || sc->plat.link_faults[0]))) {
        J->pre = 1;
        J->pre_who = malloc(n * sizeof *J->pre_who);
        J->pre_flops = calloc(n, sizeof *J->pre_flops);
        J->pre_tmp = calloc(n, sizeof *J->pre_tmp);
        xbt_assert(J->pre_who && J->pre_flops && J->pre_tmp, "out of memory");
    }
    J->per_relay = J->proto ? 0 : isnan(sc->relays) ? (n >= BG_RELAYS_FROM ? BG_RELAY_WORKERS : 0) : (size_t)sc->relays;
    J->n_relays = J->per_relay ? (n + J->per_relay - 1) / J->per_relay : 0;
    if (J->n_relays)
        J->relay_bar = sg_barrier_init((unsigned)J->n_relays + 1);
    char *jargv[] = {"server", J->name};
    if (!J->by_file)   /* else the deployment file's byzgrid_server */
        J->server_actor = sg_actor_create("server", sg_host_by_name(sc->server_host), server_actor, 2, jargv);
    jargv[0] = "clock";
    if (J->clock_stop)
        J->clock_actor = sg_actor_create("clock", sg_host_by_name(sc->server_host), clock_actor, 2, jargv);
    jargv[0] = "faults";
    if (J->proto && J->fp.n)
        J->fault_actor = sg_actor_create("faults", sg_host_by_name(sc->server_host), fault_actor, 2, jargv);
    for (size_t r = 0; r < J->n_relays; r++) {
        char idx[32], aname[64];
        snprintf(idx, sizeof idx, "%zu", r);
        snprintf(aname, sizeof aname, "relay-%zu", r);
        char *argv[] = {aname, J->name, idx};
        sg_actor_create(aname, sg_host_by_name(sc->server_host), relay_actor, 3, argv);
    }
    for (size_t i = 0; i < n; i++) {
        char idx[32], aname[64];
        snprintf(idx, sizeof idx, "%zu", i);
        const int byz = i >= J->nh;
        snprintf(aname, sizeof aname, "%s-%zu", byz ? "byzantine" : "worker", i);
        char *argv[] = {aname, J->name, idx};
        if (J->proto) {
            if (!J->by_file) {
                sg_actor_t a = sg_actor_create(aname, J->pw[i].host, proto_worker, 3, argv);
                sg_actor_set_auto_restart(a, 1);
            }
            snprintf(aname, sizeof aname, "proxy-%zu", i);
            J->pw[i].proxy = sg_actor_create(aname, sg_host_by_name(sc->server_host), proxy_actor, 3, argv);
            continue;
        }
        if (!J->by_file)   /* else the deployment file's byzgrid_worker / byzgrid_byzantine */
            sg_actor_create(aname, sg_host_by_name(sc->hosts[i]),
                            byz && !bg_engine_attack_runs_method(e) ? byzantine_actor : worker_actor, 3, argv);
    }
    for (size_t k = 0; k < J->flows.n; k++) {
        char idx[32], aname[64];
        snprintf(idx, sizeof idx, "%zu", k);
        snprintf(aname, sizeof aname, "traffic-%zu", k);
        char *argv[] = {aname, J->name, idx};
        J->flow_actor[k] = sg_actor_create(aname, sg_host_by_name(J->flows.v[k].from), traffic_actor, 3, argv);
    }
    res->setup_time = bg_wall_clock() - t0;
    J->wall_start = bg_wall_clock();
    J->deployed = 1;
    return BG_OK;
}

/* After simgrid_run(): the job's results, summary.json, and everything it holds freed (bar the scenario). */
static int job_finish(sim_ctx_t *J)
{
    const bg_scenario_t *sc = J->sc;
    const bg_run_opts_t *o = J->opts;
    bg_run_result_t *res = J->res;
    bg_err_t *err = J->err;
    bg_engine_t *e = J->e;
    int rc;
    if (J->by_file && !J->started && !J->failed) {
        bg_err_set(err, BG_EINVAL, NULL, 0, "job '%s': its %s never started (was the deployment file loaded with "
                   "simgrid_load_deployment before simgrid_run?)", J->name, BG_DEPLOY_SERVER);
        J->failed = 1;
    }
    res->interrupted = J->failed || J->until_reached || res->rounds >= J->rounds ? 0 : bg_interrupted();
    res->wall_time = bg_wall_clock() - J->wall_start;
    res->sim_time = J->end_clock;
    if (res->round_end)
        res->round_end[0] = 0.0;
    bg_trace_close(&J->trace);
    if (bg_events_close(&J->events) != BG_OK && !J->failed) {   /* the rows of the last instant */
        bg_err_set(err, BG_EIO, J->events.path, 0, "cannot write the events file");
        J->failed = 1;
    }
    free(J->up_posted);
    free(J->up_bytes);
    rc = J->failed ? (err->code ? err->code : BG_EINVAL) : BG_OK;
    if (!rc && o->out_dir)
        rc = bg_summary_write(sc, e, o, res, "simulated", err);
    sg_cond_destroy(J->cond);
    if (J->relay_bar)
        sg_barrier_destroy(J->relay_bar);
    sg_mutex_destroy(J->mutex);
    if (J->clock_stop)
        sg_sem_destroy(J->clock_stop);
    proto_free(J);
    traffic_free(J);
    free(J->pre_who);
    free(J->pre_flops);
    free(J->pre_tmp);
    free(J->held);
    free(J->ehosts);
    free(J->erole);
    free(J->down);
    free(J->up);
    bg_engine_free(e);
    return rc;
}

int bg_sim_run(bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err)
{
    sim_ctx_t *J = calloc(1, sizeof *J);
    if (!J)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    snprintf(J->name, sizeof J->name, "%s", sc->deployment[0] ? sc->deploy_job : "job");
    J->by_file = sc->deployment[0] != '\0';
    memset(res, 0, sizeof *res);
    const double t0 = bg_wall_clock();
    int rc = sim_prepare(J, sc, o, err);
    if (!rc) {
        job_register(J);
        rc = job_setup(J, sc, o, res, err, t0);
        if (rc)
            traffic_free(J);
        if (!rc) {
            if (J->by_file) {   /* checked when the scenario was read: SimGrid takes it as it is */
                register_functions();
                simgrid_load_deployment(sc->deployment);
            }
            bg_interrupt_install();   /* again: SimGrid's own SIGINT handler must not come back */
            simgrid_run();
            rc = job_finish(J);
        }
        job_unregister(J);
    }
    bg_platform_forget();
    free(J);
    return rc;
}

/* ---- The plugin API (bg_plugin.h) ---------------------------------------------------------------------------------- */

struct bg_job {
    sim_ctx_t ctx;                /* first: the job's context, registered under its name */
    bg_scenario_t sc;
    bg_run_opts_t opts;
    bg_run_result_t res;
    bg_err_t err;                 /* errors raised by its actors during the simulation */
    char out_dir[1024];
    double t0;
    int finished;
};

void bg_plugin_init(void)
{
    sg_host_energy_plugin_init();
    register_functions();
}

static int job_name_ok(const char *name)
{
    const size_t l = name ? strlen(name) : 0;
    if (l == 0 || l > 63)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-'))
            return 0;
    return 1;
}

int bg_job_create(const char *name, const char *scenario, const char *const *sets, size_t n_sets,
                  const char *out_dir, bg_job_t **job, bg_err_t *err)
{
    *job = NULL;
    bg_err_clear(err);
    if (!job_name_ok(name))
        return bg_err_set(err, BG_EINVAL, NULL, 0, "job name '%.80s': 1 to 63 characters of A-Z a-z 0-9 _ . -",
                          name ? name : "(null)");
    for (sim_ctx_t *o = jobs; o; o = o->next_job)
        if (!strcmp(o->name, name))
            return bg_err_set(err, BG_EINVAL, NULL, 0, "job name '%s' is already taken", name);
    if (out_dir && strlen(out_dir) >= sizeof ((bg_job_t *)0)->out_dir)
        return bg_err_set(err, BG_EINVAL, out_dir, 0, "output folder name too long");
    bg_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    j->t0 = bg_wall_clock();
    int rc = bg_scenario_load(scenario, sets, n_sets, &j->sc, err);
    if (rc) {
        bg_scenario_locate(&j->sc, err);
        bg_scenario_destroy(&j->sc);
        free(j);
        return rc;
    }
    if (out_dir)
        snprintf(j->out_dir, sizeof j->out_dir, "%s", out_dir);
    j->opts.out_dir = out_dir ? j->out_dir : NULL;
    j->opts.progress = 0;
    j->opts.command_line = "(embedded: bg_job_create)";
    snprintf(j->ctx.name, sizeof j->ctx.name, "%s", name);
    j->ctx.embedded = 1;
    job_register(&j->ctx);
    *job = j;
    return BG_OK;
}

int bg_job_use_deployment(bg_job_t *j, const char *path, bg_err_t *err)
{
    bg_err_clear(err);
    if (j->ctx.deployed || j->finished)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "job '%s' is already deployed", j->ctx.name);
    if (strlen(path) >= sizeof j->sc.deployment)
        return bg_err_set(err, BG_EINVAL, path, 0, "deployment file name too long");
    int rc = bg_deployment_read(path, j->ctx.name, 1, &j->sc, NULL, err);
    if (rc)
        return rc;
    snprintf(j->sc.deployment, sizeof j->sc.deployment, "%s", path);
    snprintf(j->sc.deploy_job, sizeof j->sc.deploy_job, "%s", j->ctx.name);
    return BG_OK;
}

int bg_job_deploy(bg_job_t *j, bg_err_t *err)
{
    bg_err_clear(err);
    sim_ctx_t *J = &j->ctx;
    if (J->deployed || j->finished)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "job '%s' is already deployed", J->name);
    if (sg_host_count() == 0)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "job '%s': no platform loaded (call simgrid_load_platform first)",
                          J->name);
    if (bg_platform_loaded_hosts() == 0)
        bg_platform_record("(loaded by the program)");
    /* The program owns the platform and SimGrid's options: links are not counted (they carry its traffic too),
     * and the round protocols follow the scenario's keys only. */
    J->link_energy = J->link_plugin = 0;
    J->proto = bg_scenario_protocol_key(&j->sc) != NULL;
    J->by_file = j->sc.deployment[0] != '\0';
    if (J->by_file && strcmp(j->sc.deploy_job, J->name)) {
        bg_err_set(err, BG_EINVAL, j->sc.deployment, 0, "job '%s': its scenario's workers.deployment places job '%s' "
                   "(use bg_job_use_deployment, or name the job '%s')", J->name, j->sc.deploy_job, j->sc.deploy_job);
        return BG_EINVAL;
    }
    memset(&j->res, 0, sizeof j->res);
    bg_err_clear(&j->err);
    int rc = job_setup(J, &j->sc, &j->opts, &j->res, &j->err, j->t0);
    if (rc) {
        traffic_free(J);
        bg_scenario_locate(&j->sc, &j->err);
        *err = j->err;
        j->finished = 1;   /* nothing to finish: job_setup freed what it made */
    }
    return rc;
}

int bg_job_finish(bg_job_t *j, bg_err_t *err)
{
    bg_err_clear(err);
    if (!j->ctx.deployed || j->finished)
        return bg_err_set(err, BG_EINVAL, NULL, 0, "job '%s' is not deployed, or already finished", j->ctx.name);
    j->finished = 1;
    const int rc = job_finish(&j->ctx);
    if (rc)
        *err = j->err;
    return rc;
}

const bg_run_result_t *bg_job_result(const bg_job_t *j)
{
    return &j->res;
}

const char *bg_job_name(const bg_job_t *j)
{
    return j->ctx.name;
}

const char *bg_job_scenario_name(const bg_job_t *j)
{
    return j->sc.name;
}

void bg_job_destroy(bg_job_t *j)
{
    if (!j)
        return;
    xbt_assert(!j->ctx.deployed || j->finished, "bg_job_destroy: job '%s' was deployed but not finished",
               j->ctx.name);
    job_unregister(&j->ctx);
    if (j->finished)
        bg_run_result_destroy(&j->res);
    bg_scenario_destroy(&j->sc);
    free(j);
    if (!jobs)
        bg_platform_forget();
}

