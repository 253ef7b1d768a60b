/* The simulated run: a server actor, honest and Byzantine worker actors on the scenario's hosts, exchanging
 * messages whose simulated size is their real encoding, and executing the flops each component reports. Every
 * actor ends on the server's finalize message, after the last round or when a round fails. */
#include "bg_sim.h"
#include "bg_trace.h"
#include "platform_load.h"
#include "events.h"
#include "run_internal.h"

#include <errno.h>
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


/* One simulation per process (SimGrid allows one engine), so the actors share this context. */
typedef struct sim_ctx {
    const bg_scenario_t *sc;
    const bg_run_opts_t *opts;
    bg_engine_t *e;
    bg_run_result_t *res;
    bg_err_t *err;
    size_t n, nh, rounds;
    int omniscient, oracle;
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
} sim_ctx_t;

static sim_ctx_t S;

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
static void sim_stop(void)
{
    S.failed = 1;
    if (S.omniscient) {
        sg_mutex_lock(S.mutex);
        sg_cond_notify_all(S.cond);
        sg_mutex_unlock(S.mutex);
    }
}

/* A step failed (a worker's, an attacker's, or the server's); e says which, in which round and why. The first
 * failure's message is the one the user sees. */
static void sim_fail(const bg_err_t *e)
{
    XBT_CVERB(byzgrid_worker, "failed: %s", e->msg);
    if (!S.failed)
        *S.err = *e;
    sim_stop();
}

/* ---- run.events: the hooks that write events.csv (events.h). With events off they cost one test. */

/* One row; a write failure stops the run like a trace write failure. */
static void event_add(size_t round, long worker, bg_event_kind_t kind, double start, double end, double bytes)
{
    if (!S.events.fp)
        return;
    if (bg_events_row(&S.events, round, worker, kind, start, end, bytes) != BG_OK) {
        bg_err_t e;
        bg_err_set(&e, BG_EIO, S.events.path, 0, "cannot write the events file");
        bg_events_close(&S.events);   /* the first failure is the one reported; later rows are not attempted */
        sim_fail(&e);
    }
}

/* flops on the actor's host in round t, recorded as kind for worker (BG_EVENTS_SERVER for the server).
 * sg_actor_execute would also set the priority to 1, the default: one more simcall (a context switch to the
 * maestro and back) per execution, about a tenth of all simcalls at small n. */
static void execute(size_t t, long worker, bg_event_kind_t kind, double flops)
{
    const double start = simgrid_get_clock();
    if (flops > 0) {
        const sg_error_t e = sg_exec_wait(sg_actor_exec_init(flops));
        xbt_assert(e == SG_OK, "execution failed (%d)", (int)e);
    }
    event_add(t, worker, kind, start, simgrid_get_clock(), 0.0);
}

/* The upload row is written by the server when the message arrives; the worker notes when it posted it. */
static void event_upload_posted(size_t i, double bytes)
{
    if (!S.events.fp)
        return;
    S.up_posted[i] = simgrid_get_clock();
    S.up_bytes[i] = bytes;
}

/* The wait for the uploads of workers lo..lo+n-1 in round t (by the server, or by the relay of that slice): one
 * sg_comm_wait_all, or with events one sg_comm_wait_any per message (the same simulated times; it learns when each
 * message arrived). who is scratch for n indices.
 * Network failures: sg_comm_wait_all_for (timeout -1: none) returns instead of aborting the run as the blocking
 * sg_comm_wait_all would; sg_comm_wait_any still aborts (its _for variant releases every handle on a timeout in
 * SimGrid 3.32), to be replaced when faults exist. */
static void wait_uploads(size_t t, sg_comm_t *comms, size_t *who, size_t lo, size_t n)
{
    if (!S.events.fp) {
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
        event_add(t, (long)i, BG_EV_UPLOAD, S.up_posted[i], simgrid_get_clock(), S.up_bytes[i]);
        left--;
        comms[k] = comms[left];
        who[k] = who[left];
    }
}

static size_t worker_index(int argc, char **argv)
{
    xbt_assert(argc == 2, "worker actors take their index");
    return (size_t)strtoul(argv[1], NULL, 10);
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
static const void *receive(size_t i, size_t t)
{
    void *in = NULL;
    if (!S.n_relays) {
        in = sg_mailbox_get(S.down[i]);
    } else {
        const sg_error_t e = sg_comm_wait_for(sg_mailbox_get_async(S.down[i], &in), -1.0);
        xbt_assert(e == SG_OK, "worker %zu: receive failed (%d)", i, (int)e);
    }
    if (in != FINALIZE)
        event_add(t, (long)i, BG_EV_DOWNLOAD, S.bcast_posted, simgrid_get_clock(), ((const bg_msg_t *)in)->bytes);
    return in;
}

/* With relays the worker waits until its message is in: the next broadcast cannot come sooner (it follows every
 * upload), so the wait changes no simulated time. Without, the put is detached (the payload is engine-owned and
 * outlives the round). */
static void send_message(size_t i, const void *msg, double bytes)
{
    event_upload_posted(i, bytes);
    if (!S.n_relays) {
        sg_comm_detach(sg_mailbox_put_init(S.up[i], (void *)msg, (long long)bytes), NULL);
        return;
    }
    const sg_error_t e = sg_comm_wait_for(sg_mailbox_put_async(S.up[i], (void *)msg, (long long)bytes), -1.0);
    xbt_assert(e == SG_OK, "worker %zu: send failed (%d)", i, (int)e);
}

/* The server waits for one message per worker every round, so a worker that has nothing to send still answers. */
static void send_nothing(size_t i, size_t t)
{
    XBT_CVERB(byzgrid_worker, "round %zu: no message (the run stops), empty reply sent", t);
    send_message(i, NO_MESSAGE, 0.0);
}

/* Honest workers, and Byzantine ones whose attack trains on data (none, label flipping).
 * Every worker loops until the server's FINALIZE, whatever happened: a worker that ended on its own would leave
 * the server's next send or receive waiting forever. Round t is the t-th broadcast received. */
static void worker_actor(int argc, char **argv)
{
    size_t i = worker_index(argc, argv);
    const int tell = S.omniscient && i < S.nh;
    size_t t = 0;
    for (const void *in; (in = receive(i, t)) != FINALIZE; t++) {
        const bg_msg_t *down = in;
        XBT_CVERB(byzgrid_worker, "round %zu: broadcast received (%.0f bytes)", t, down->bytes);
        if (S.failed) {
            send_nothing(i, t);
            continue;
        }
        const bg_msg_t *msg;
        double flops;
        bg_err_t err;
        if (bg_engine_worker_round(S.e, i, down, &msg, &flops, &err)) {
            sim_fail(&err);
            send_nothing(i, t);
            continue;
        }
        execute(t, (long)i, BG_EV_COMPUTE, flops);
        if (tell && ++S.produced == S.nh * (t + 1)) {
            /* Every honest message of the round now exists in simulated time: colluders eavesdrop them from here.
             * Actors never run concurrently (one context at a time), so only the waking needs the mutex; taking
             * it here means a colluder between its check and its wait cannot miss the notification. */
            sg_mutex_lock(S.mutex);
            sg_cond_notify_all(S.cond);
            sg_mutex_unlock(S.mutex);
        }
        XBT_CVERB(byzgrid_worker, "round %zu: message sent (%.0f bytes, %.6g flops)", t, msg->bytes, flops);
        send_message(i, msg, msg->bytes);
    }
    XBT_CVERB(byzgrid_worker, "finalize received after %zu broadcasts", t);
}

/* Omniscient attackers wait until every honest message of the round exists, then send the message that puts
 * their server-side vector at the attack's target; blind attackers send at once. In oracle mode omniscient
 * attackers send at once too and the server fills in the content when it aggregates (the instant oracle). */
static void byzantine_actor(int argc, char **argv)
{
    size_t j = worker_index(argc, argv);
    /* Oracle mode: the same work and size as bg_engine_byz_round charges (honest views, the attack, the inverse,
     * the compression with attack.wire = conform), paid without waiting; neither changes from round to round. */
    double oracle_flops = 0.0, oracle_bytes = 0.0;
    if (S.oracle && S.omniscient) {
        const bg_config_t *c = bg_engine_config(S.e);
        const double d = (double)bg_engine_dim(S.e);
        bg_attack_args_t args;
        bg_attack_args_init(&args, &c->attack, S.n, c->f, NULL);
        double wire_flops;
        oracle_bytes = bg_engine_byz_msg_bytes(S.e, &wire_flops);
        oracle_flops = bg_attack_find(c->attack.name)->flops(&args, S.nh, bg_engine_dim(S.e)) + (double)S.nh * d + d +
                       wire_flops;
    }
    size_t t = 0;
    for (const void *in; (in = receive(j, t)) != FINALIZE; t++) {
        XBT_CVERB(byzgrid_worker, "round %zu: broadcast received (%.0f bytes)", t, ((const bg_msg_t *)in)->bytes);
        if (S.failed) {
            send_nothing(j, t);
            continue;
        }
        if (S.oracle && S.omniscient) {
            execute(t, (long)j, BG_EV_COMPUTE, oracle_flops);
            const double bytes = oracle_bytes;   /* dense, or the honest size (attack.wire = conform) */
            XBT_CVERB(byzgrid_worker, "round %zu: message sent (%.0f bytes, %.6g flops; content filled by the server)",
                      t, bytes, oracle_flops);
            /* The content is filled in by the server; SimGrid refuses NULL payloads. */
            send_message(j, &S, bytes);
            continue;
        }
        if (S.omniscient && S.produced < S.nh * (t + 1)) {
            sg_mutex_lock(S.mutex);
            while (!S.failed && S.produced < S.nh * (t + 1))
                sg_cond_wait(S.cond, S.mutex);
            sg_mutex_unlock(S.mutex);
            if (S.failed) {
                send_nothing(j, t);
                continue;
            }
        }
        const bg_msg_t *msg;
        double flops;
        bg_err_t err;
        if (bg_engine_byz_round(S.e, j, &msg, &flops, &err)) {
            sim_fail(&err);
            send_nothing(j, t);
            continue;
        }
        execute(t, (long)j, BG_EV_COMPUTE, flops);
        XBT_CVERB(byzgrid_worker, "round %zu: message sent (%.0f bytes, %.6g flops)", t, msg->bytes, flops);
        send_message(j, msg, msg->bytes);
    }
    XBT_CVERB(byzgrid_worker, "finalize received after %zu broadcasts", t);
}

/* Joules of the hosts the run uses, by role, and of every link, now; returns the total. Without the link energy
 * plugin (a platform with WiFi links: SimGrid 3.32 gives them no energy record, so reading one dereferences a null
 * pointer, and its C API cannot tell them apart) links_j is NAN and the total counts the hosts only. */
static double energy_now(struct bg_energy *en)
{
    double role[3] = {0, 0, 0}, links = 0;
    sg_host_energy_update_all();
    for (size_t h = 0; h < S.n_ehosts; h++)
        role[S.erole[h]] += sg_host_get_consumed_energy(S.ehosts[h]);
    if (S.link_plugin) {
        sg_link_t *l = sg_link_list();
        for (size_t k = 0, nl = sg_link_count(); k < nl; k++)
            links += sg_link_get_consumed_energy(l[k]);
        free(l);
    }
    if (en) {
        en->server_j = role[0];
        en->honest_j = role[1];
        en->byzantine_j = role[2];
        en->links_j = S.link_energy ? links : NAN;
        en->total_j = role[0] + role[1] + role[2] + links;
    }
    return role[0] + role[1] + role[2] + links;
}

/* The run's end (the last round, or until_s): its simulated time and energy. */
static void record_end(double t)
{
    S.end_clock = t;
    energy_now(&S.res->energy);
}

/* One trace row at simulated time t (the current clock): the final metrics so far, the target check, progress. */
static void write_row(const bg_metrics_t *m, double t)
{
    const double ej = energy_now(NULL);
    S.res->final = *m;
    if (S.sc->target_acc > 0 && !S.res->target.reached && m->test_acc >= S.sc->target_acc)
        S.res->target = (struct bg_target){1, m->round, t, m->bytes_up, m->bytes_down, ej};
    if (S.trace.fp && bg_trace_row(&S.trace, m, t, ej) != BG_OK) {
        if (!S.failed)
            bg_err_set(S.err, BG_EIO, S.trace.path, 0, "cannot write the trace");
        sim_stop();
    } else {
        XBT_CVERB(byzgrid_server, "evaluation at round %zu%s: test_acc %.4f, test_loss %.4g", m->round,
                  S.trace.fp ? " written" : "", m->test_acc, m->test_loss);
    }
    bg_progress(S.opts, &S.progress_shown, S.wall_start, &S.progress_last, m->round, S.rounds, t, S.until, m);
}

static void evaluate_and_write(void)
{
    bg_metrics_t m;
    bg_engine_evaluate(S.e, &m);
    write_row(&m, simgrid_get_clock());
}

/* The model the server now holds (its aggregation has finished), for the clock actor's rows. */
static void hold_model(void)
{
    memcpy(S.held, bg_engine_model(S.e), bg_engine_dim(S.e) * sizeof *S.held);
    bg_engine_counters(S.e, &S.held_counters);
}

/* Rows at k * eval_every_s, and the last one at until_s, each with the held model (evaluating costs no simulated
 * time). Ends when the server leaves its loop first, or ends the run at until_s. */
static void clock_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (size_t k = 0;; k++) {
        double next = S.every > 0 ? (double)k * S.every : INFINITY;
        const int last = S.until > 0 && !(next < S.until);
        if (last)
            next = S.until;
        const double now = simgrid_get_clock();
        if (next > now && !sg_sem_acquire_timeout(S.clock_stop, next - now))
            return;   /* the server ended first */
        if (S.failed)
            return;
        bg_metrics_t m = S.held_counters;
        bg_engine_evaluate_x(S.e, S.held, &m);
        write_row(&m, next);
        if (last) {
            XBT_CVERB(byzgrid_server, "run.until_s = %g reached after %zu rounds", S.until, m.round);
            S.until_reached = 1;
            S.res->rounds = m.round;
            record_end(S.until);
            return;
        }
    }
}

/* Every worker is in (or on its way to) a receive on its own mailbox, and takes exactly one FINALIZE. Waiting for
 * all of them means that when the sender (the server, or the relay of workers lo..lo+n-1) ends, they have ended. */
static void finalize_workers(size_t lo, size_t n)
{
    sg_comm_t *comms = malloc((n ? n : 1) * sizeof *comms);
    xbt_assert(comms, "out of memory");
    for (size_t i = 0; i < n; i++)
        comms[i] = sg_mailbox_put_async(S.down[lo + i], (void *)FINALIZE, 0);
    const size_t done = sg_comm_wait_all_for(comms, n, -1.0);
    xbt_assert(done == n, "%zu of %zu finalize messages delivered", done, n);
    free(comms);
}

/* Post round t's gets for the uploads of workers lo..lo+n-1 before the broadcast to them, then wait for the
 * uploads. A transfer starts only when both sides are posted (rendezvous), hence every get before any wait. The
 * server leaves the broadcast untouched until every worker's reply is in. With relays comms holds 2n handles: the
 * gets, then the broadcast's puts, all done when the uploads are (a worker uploads after it received the
 * broadcast); without, the puts are detached (see receive). */
static void exchange(size_t t, const bg_msg_t *down, sg_comm_t *comms, void **payloads, size_t *who, size_t lo,
                     size_t n)
{
    for (size_t i = 0; i < n; i++)
        comms[i] = sg_mailbox_get_async(S.up[lo + i], &payloads[i]);
    if (!S.n_relays) {
        for (size_t i = 0; i < n; i++)
            sg_comm_detach(sg_mailbox_put_init(S.down[lo + i], (void *)down, (long long)down->bytes), NULL);
        wait_uploads(t, comms, who, lo, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        comms[n + i] = sg_mailbox_put_async(S.down[lo + i], (void *)down, (long long)down->bytes);
    wait_uploads(t, comms, who, lo, n);
    const size_t done = sg_comm_wait_all_for(comms + n, n, -1.0);
    xbt_assert(done == n, "%zu of %zu broadcast messages delivered", done, n);
}

/* A relay on the server's host (run.relays): one actor holding thousands of pending comms costs SimGrid 3.32 O(n)
 * per completion (each one is removed from the actor's activity list), O(n^2) per round; relays of a few hundred
 * workers each keep it linear. Synchronisation through the barrier takes no simulated time, and the relays post
 * the same comms at the same instant as the server would, so simulated times are unchanged. */
static void relay_actor(int argc, char **argv)
{
    const size_t r = worker_index(argc, argv);
    const size_t lo = r * S.per_relay, n = S.n - lo < S.per_relay ? S.n - lo : S.per_relay;
    sg_comm_t *comms = malloc(2 * n * sizeof *comms);
    void **payloads = calloc(n, sizeof *payloads);
    size_t *who = malloc(n * sizeof *who);
    xbt_assert(comms && payloads && who, "out of memory");
    for (;;) {
        sg_barrier_wait(S.relay_bar);   /* the server has a job for the relays */
        if (S.relay_finalize)
            break;
        exchange(S.relay_round, S.relay_down, comms, payloads, who, lo, n);
        sg_barrier_wait(S.relay_bar);   /* every upload of the round is in */
    }
    free(comms);
    free(payloads);
    free(who);
    finalize_workers(lo, n);
}

static void server_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const size_t n = S.n, m = S.n_relays ? 0 : n;   /* m: the workers the server serves itself */
    sg_comm_t *comms = malloc((m ? m : 1) * sizeof *comms);
    void **payloads = calloc(m ? m : 1, sizeof *payloads);
    size_t *who = malloc((m ? m : 1) * sizeof *who);
    xbt_assert(comms && payloads && who, "out of memory");
    if (S.round_rows && !(S.every > 0))   /* else the clock actor's row at time 0 is this one */
        evaluate_and_write();
    for (size_t t = 0; t < S.rounds && !S.failed && !S.until_reached; t++) {
        const bg_msg_t *down;
        double bflops;
        bg_err_t err;
        if (bg_engine_broadcast(S.e, &down, &bflops, &err)) {
            sim_fail(&err);
            break;
        }
        execute(t, BG_EVENTS_SERVER, BG_EV_BROADCAST, bflops);
        if (S.until_reached)
            break;
        S.bcast_posted = simgrid_get_clock();
        XBT_CVERB(byzgrid_server, "round %zu: broadcast sent (%.0f bytes to each of %zu workers, %.6g flops)", t,
                  down->bytes, n, bflops);
        if (S.n_relays) {
            S.relay_down = down;
            S.relay_round = t;
            sg_barrier_wait(S.relay_bar);   /* the relays post the round's comms */
            sg_barrier_wait(S.relay_bar);   /* and every upload is in */
        } else {
            exchange(t, down, comms, payloads, who, 0, n);
        }
        XBT_CVERB(byzgrid_server, "round %zu: %zu messages received", t, n);
        if (S.failed || S.until_reached)
            break;
        const bg_msg_t *msg;
        double flops;
        if (S.oracle && S.omniscient) {
            for (size_t j = S.nh; j < n && !S.failed; j++) {
                if (bg_engine_byz_round(S.e, j, &msg, &flops, &err))
                    sim_fail(&err);
            }
            if (S.failed)
                break;
        }
        if (bg_engine_server_round(S.e, &flops, &err)) {
            sim_fail(&err);
            break;
        }
        execute(t, BG_EVENTS_SERVER, BG_EV_AGGREGATE, flops);
        if (S.until_reached)
            break;   /* past until_s: this round's model is not part of the run */
        XBT_CVERB(byzgrid_server, "round %zu: aggregation done (%.6g flops)", t, flops);
        if (S.held)
            hold_model();
        if (S.res->round_end)
            S.res->round_end[t + 1] = simgrid_get_clock();
        if (S.res->server_flops)
            S.res->server_flops[t] = flops;
        S.res->rounds = t + 1;
        if (S.round_rows ? bg_engine_is_eval_round(S.e, t + 1) : t + 1 == S.rounds)
            evaluate_and_write();
    }
    /* The run's simulated time ends with the last round (or at until_s, recorded by the clock actor), not with the
     * finalize messages that follow it. */
    if (!S.until_reached)
        record_end(simgrid_get_clock());
    if (S.clock_stop)
        sg_sem_release(S.clock_stop);
    free(comms);
    free(payloads);
    free(who);
    XBT_CVERB(byzgrid_server, "finalize sent to %zu workers after %zu rounds%s", n, S.res->rounds,
              S.failed ? " (the run failed)" : "");
    if (S.n_relays) {
        S.relay_finalize = 1;
        sg_barrier_wait(S.relay_bar);   /* each relay sends its workers the finalize, then ends */
    } else {
        finalize_workers(0, n);
    }
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
static int apply_powers(const bg_scenario_t *sc, size_t nh, bg_err_t *err)
{
    const size_t n = sc->n_hosts;
    S.ehosts = calloc(n + 1, sizeof *S.ehosts);
    S.erole = calloc(n + 1, sizeof *S.erole);
    if (!S.ehosts || !S.erole)
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
        S.ehosts[k] = use[k].h;
        S.erole[k] = use[k].role;
    }
    S.n_ehosts = g;
    free(use);
    struct bg_energy *en = &S.res->energy;
    bg_scenario_power(sc, 1, &en->server_idle_w, &en->server_busy_w);
    bg_scenario_power(sc, 0, &en->worker_idle_w, &en->worker_busy_w);
    en->link_energy = S.link_energy;
    en->links_from_file = bg_platform_topology(&sc->plat, sc->platform) == BG_TOPO_FILE;
    en->link_idle_w = en->links_from_file ? NAN : sc->plat.link_idle_w;
    en->link_busy_w = en->links_from_file ? NAN : sc->plat.link_busy_w;
    char one[64], all[1024];
    for (size_t k = 0; k < S.n_ehosts; k++) {
        const int srv = S.erole[k] == 0;
        snprintf(one, sizeof one, "%.17g:%.17g", srv ? en->server_idle_w : en->worker_idle_w,
                 srv ? en->server_busy_w : en->worker_busy_w);
        all[0] = '\0';
        for (unsigned long p = 0, np = sg_host_get_nb_pstates(S.ehosts[k]); p < np; p++)
            if (snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", p ? "," : "", one) >=
                (int)(sizeof all - strlen(all)))
                return bg_err_set(err, BG_EINVAL, NULL, 0, "host %s has too many pstates for the energy plugin",
                                  sg_host_get_name(S.ehosts[k]));
        sg_host_set_property_value(S.ehosts[k], "wattage_per_state", all);
    }
    return BG_OK;
}

/* run.events: the upload bookkeeping the server's arrival times need, and events.csv itself. */
static int open_events(const char *out_dir, size_t n, bg_err_t *err)
{
    S.up_posted = calloc(n ? n : 1, sizeof *S.up_posted);
    S.up_bytes = calloc(n ? n : 1, sizeof *S.up_bytes);
    if (!S.up_posted || !S.up_bytes)
        return bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
    return bg_events_open(&S.events, out_dir, err);
}

int bg_sim_run(bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err)
{
    memset(res, 0, sizeof *res);
    memset(&S, 0, sizeof S);
    double t0 = bg_wall_clock();
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
    S.link_energy = !bg_platform_has_wifi(sc);
    /* A platform whose links draw 0 W (generated without link Watts, or a file with no wattage_range) needs no
     * plugin: links_j is 0 exactly. Running it anyway costs O(n^2) per round at scale: SimGrid 3.32's plugin
     * recomputes each route link's usage (a walk over every flow crossing it) at every start and end of a
     * transfer, and the server's link carries all n flows; at 20 workers it is about a sixth of the run (the
     * routes it looks up again at each start and end). */
    S.link_plugin = S.link_energy && (bg_platform_file_links_powered(sc) || sc->plat.link_idle_w != 0 ||
                                      sc->plat.link_busy_w != 0);
    if (S.link_plugin)
        sg_link_energy_plugin_init();
    int rc = bg_platform_load(sc, o->out_dir, err);
    if (rc)
        return rc;
    bg_engine_t *e = NULL;
    if ((rc = bg_engine_new(&sc->learn, &e, err)))
        return rc;
    if ((rc = check_hosts(sc, err)) || (rc = place_attackers(sc, err))) {
        bg_engine_free(e);
        return rc;
    }
    const size_t n = sc->learn.n;
    S.sc = sc;
    S.opts = o;
    S.e = e;
    S.res = res;
    S.err = err;
    S.n = n;
    S.nh = bg_engine_n_honest(e);
    S.rounds = sc->learn.rounds;
    S.omniscient = bg_engine_attack_omniscient(e);
    S.oracle = sc->attack_oracle;
    S.progress_last = -1;
    S.until = sc->until_s;
    S.every = sc->eval_every_s;
    /* With run.eval_every_s the rows come at fixed times; round-based ones only if run.eval_every is set. */
    S.round_rows = !(S.every > 0) || bg_scenario_is_set(sc, "run", "eval_every");
    if ((rc = bg_run_result_init(res, S.rounds, n, o->record_rounds, 1))) {
        bg_engine_free(e);
        return bg_err_set(err, rc, NULL, 0, "out of memory");
    }
    if ((o->out_dir && (rc = bg_outputs_open(o, &S.trace, err))) || (rc = apply_powers(sc, S.nh, err)) ||
        (o->out_dir && sc->events && (rc = open_events(o->out_dir, n, err)))) {
        bg_trace_close(&S.trace);
        bg_events_close(&S.events);
        free(S.up_posted);
        free(S.up_bytes);
        free(S.ehosts);
        free(S.erole);
        bg_run_result_destroy(res);
        bg_engine_free(e);
        return rc;
    }
    if (S.until > 0 || S.every > 0) {
        S.held = malloc(bg_engine_dim(e) * sizeof *S.held);
        xbt_assert(S.held, "out of memory");
        hold_model();
        S.clock_stop = sg_sem_init(0);
    }
    S.down = malloc(n * sizeof *S.down);
    S.up = malloc(n * sizeof *S.up);
    xbt_assert(S.down && S.up, "out of memory");
    char name[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "down-%zu", i);
        S.down[i] = sg_mailbox_by_name(name);
        snprintf(name, sizeof name, "up-%zu", i);
        S.up[i] = sg_mailbox_by_name(name);
    }
    S.mutex = sg_mutex_init();
    S.cond = sg_cond_init();
    S.per_relay = isnan(sc->relays) ? (n >= BG_RELAYS_FROM ? BG_RELAY_WORKERS : 0) : (size_t)sc->relays;
    S.n_relays = S.per_relay ? (n + S.per_relay - 1) / S.per_relay : 0;
    if (S.n_relays)
        S.relay_bar = sg_barrier_init((unsigned)S.n_relays + 1);
    sg_actor_create("server", sg_host_by_name(sc->server_host), server_actor, 0, NULL);
    if (S.clock_stop)
        sg_actor_create("clock", sg_host_by_name(sc->server_host), clock_actor, 0, NULL);
    for (size_t r = 0; r < S.n_relays; r++) {
        char idx[32], aname[64];
        snprintf(idx, sizeof idx, "%zu", r);
        snprintf(aname, sizeof aname, "relay-%zu", r);
        char *argv[] = {aname, idx};
        sg_actor_create(aname, sg_host_by_name(sc->server_host), relay_actor, 2, argv);
    }
    for (size_t i = 0; i < n; i++) {
        char idx[32], aname[64];
        snprintf(idx, sizeof idx, "%zu", i);
        const int byz = i >= S.nh;
        snprintf(aname, sizeof aname, "%s-%zu", byz ? "byzantine" : "worker", i);
        char *argv[] = {aname, idx};
        sg_actor_create(aname, sg_host_by_name(sc->hosts[i]),
                        byz && !bg_engine_attack_runs_method(e) ? byzantine_actor : worker_actor, 2, argv);
    }
    res->setup_time = bg_wall_clock() - t0;
    S.wall_start = bg_wall_clock();
    simgrid_run();
    res->wall_time = bg_wall_clock() - S.wall_start;
    res->sim_time = S.end_clock;
    if (res->round_end)
        res->round_end[0] = 0.0;
    bg_trace_close(&S.trace);
    if (bg_events_close(&S.events) != BG_OK && !S.failed) {   /* the rows of the last instant */
        bg_err_set(err, BG_EIO, S.events.path, 0, "cannot write the events file");
        S.failed = 1;
    }
    free(S.up_posted);
    free(S.up_bytes);
    rc = S.failed ? (err->code ? err->code : BG_EINVAL) : BG_OK;
    if (!rc && o->out_dir)
        rc = bg_summary_write(sc, e, o, res, "simulated", err);
    bg_platform_forget();
    sg_cond_destroy(S.cond);
    if (S.relay_bar)
        sg_barrier_destroy(S.relay_bar);
    sg_mutex_destroy(S.mutex);
    if (S.clock_stop)
        sg_sem_destroy(S.clock_stop);
    free(S.held);
    free(S.ehosts);
    free(S.erole);
    free(S.down);
    free(S.up);
    bg_engine_free(e);
    return rc;
}
