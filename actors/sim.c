/* The simulated run: a server actor, honest and Byzantine worker actors on the scenario's hosts, exchanging
 * messages whose simulated size is their real encoding, and executing the flops each component reports. Every
 * actor ends on the server's finalize message, after the last round or when a round fails. */
#include "bg_sim.h"
#include "bg_trace.h"
#include "events.h"
#include "run_internal.h"

#include <errno.h>
#include <math.h>
#include <simgrid/actor.h>
#include <simgrid/comm.h>
#include <simgrid/cond.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <simgrid/mutex.h>
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
    double end_clock;             /* simulated time when the server left its round loop */
    double wall_start;
    int progress_shown;
    double progress_last;
} sim_ctx_t;

static sim_ctx_t S;

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

/* sg_actor_execute(flops) in round t, recorded as kind for worker (BG_EVENTS_SERVER for the server). */
static void execute(size_t t, long worker, bg_event_kind_t kind, double flops)
{
    const double start = simgrid_get_clock();
    if (flops > 0)
        sg_actor_execute(flops);
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

/* The server's wait for the n uploads of round t: one sg_comm_wait_all, or with events one sg_comm_wait_any per
 * message (the same simulated times; it learns when each message arrived). who is scratch for n indices. */
static void wait_uploads(size_t t, sg_comm_t *comms, size_t *who, size_t n)
{
    if (!S.events.fp) {
        sg_comm_wait_all(comms, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        who[i] = i;
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

/* Fault-free runs use the cheapest SimGrid calls: a blocking get (one simcall) and a detached put (no wait;
 * the payload is engine-owned and outlives the round). Blocking SimGrid calls abort the whole simulation on a
 * network failure, so a scenario with faults must switch these to *_async + sg_comm_wait_for. */
static const void *receive(size_t i, size_t t)
{
    const void *in = sg_mailbox_get(S.down[i]);
    if (in != FINALIZE)
        event_add(t, (long)i, BG_EV_DOWNLOAD, S.bcast_posted, simgrid_get_clock(), ((const bg_msg_t *)in)->bytes);
    return in;
}

static void send_message(size_t i, const void *msg, double bytes)
{
    event_upload_posted(i, bytes);
    sg_comm_detach(sg_mailbox_put_init(S.up[i], (void *)msg, (long long)bytes), NULL);
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
    /* Oracle mode: the same work as bg_engine_byz_round charges (honest views, the attack, the inverse), paid
     * without waiting; it does not change from round to round. */
    double oracle_flops = 0.0;
    if (S.oracle && S.omniscient) {
        const bg_config_t *c = bg_engine_config(S.e);
        const double d = (double)bg_engine_dim(S.e);
        bg_attack_args_t args;
        bg_attack_args_init(&args, &c->attack, S.n, c->f, NULL);
        oracle_flops = bg_attack_find(c->attack.name)->flops(&args, S.nh, bg_engine_dim(S.e)) + (double)S.nh * d + d;
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
            const double bytes = bg_msg_bytes_dense(bg_engine_dim(S.e));
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

static void evaluate_and_write(void)
{
    bg_metrics_t m;
    bg_engine_evaluate(S.e, &m);
    S.res->final = m;
    if (S.trace.fp && bg_trace_row(&S.trace, &m, simgrid_get_clock()) != BG_OK) {
        if (!S.failed)
            bg_err_set(S.err, BG_EIO, S.trace.path, 0, "cannot write the trace");
        sim_stop();
    } else {
        XBT_CVERB(byzgrid_server, "evaluation at round %zu%s: test_acc %.4f, test_loss %.4g", m.round,
                  S.trace.fp ? " written" : "", m.test_acc, m.test_loss);
    }
    bg_progress(S.opts, &S.progress_shown, S.wall_start, &S.progress_last, m.round, S.rounds, simgrid_get_clock(),
                &m);
}

/* Every worker is in (or on its way to) a receive on its own mailbox, and takes exactly one FINALIZE. Waiting for
 * all of them means that when the server ends, every actor has ended. */
static void finalize_workers(void)
{
    const size_t n = S.n;
    sg_comm_t *comms = malloc(n * sizeof *comms);
    xbt_assert(comms || n == 0, "out of memory");
    for (size_t i = 0; i < n; i++)
        comms[i] = sg_mailbox_put_async(S.down[i], (void *)FINALIZE, 0);
    XBT_CVERB(byzgrid_server, "finalize sent to %zu workers after %zu rounds%s", n, S.res->rounds,
              S.failed ? " (the run failed)" : "");
    sg_comm_wait_all(comms, n);
    free(comms);
}

static void server_actor(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const size_t n = S.n;
    sg_comm_t *comms = malloc(n * sizeof *comms);
    void **payloads = calloc(n, sizeof *payloads);
    size_t *who = malloc(n * sizeof *who);
    xbt_assert(comms && payloads && who, "out of memory");
    evaluate_and_write();
    for (size_t t = 0; t < S.rounds && !S.failed; t++) {
        const bg_msg_t *down;
        double bflops;
        bg_err_t err;
        if (bg_engine_broadcast(S.e, &down, &bflops, &err)) {
            sim_fail(&err);
            break;
        }
        execute(t, BG_EVENTS_SERVER, BG_EV_BROADCAST, bflops);
        S.bcast_posted = simgrid_get_clock();
        /* Post every get before waiting: a transfer starts only when both sides are posted (rendezvous).
         * The broadcast is detached: it stays untouched until every worker's reply is in. */
        for (size_t i = 0; i < n; i++)
            comms[i] = sg_mailbox_get_async(S.up[i], &payloads[i]);
        for (size_t i = 0; i < n; i++)
            sg_comm_detach(sg_mailbox_put_init(S.down[i], (void *)down, (long long)down->bytes), NULL);
        XBT_CVERB(byzgrid_server, "round %zu: broadcast sent (%.0f bytes to each of %zu workers, %.6g flops)", t,
                  down->bytes, n, bflops);
        wait_uploads(t, comms, who, n);
        XBT_CVERB(byzgrid_server, "round %zu: %zu messages received", t, n);
        if (S.failed)
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
        XBT_CVERB(byzgrid_server, "round %zu: aggregation done (%.6g flops)", t, flops);
        if (S.res->round_end)
            S.res->round_end[t + 1] = simgrid_get_clock();
        if (S.res->server_flops)
            S.res->server_flops[t] = flops;
        S.res->rounds = t + 1;
        if (bg_engine_is_eval_round(S.e, t + 1))
            evaluate_and_write();
    }
    /* The run's simulated time ends with the last round, not with the finalize messages that follow it. */
    S.end_clock = simgrid_get_clock();
    free(comms);
    free(payloads);
    free(who);
    finalize_workers();
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
    if (!sg_host_by_name(sc->server_host)) {
        bg_err_set(err, BG_ENOTFOUND, NULL, 0, "platform %s has no host '%s' (workers.server)", sc->platform,
                   sc->server_host);
        bg_err_key(err, "workers.server");
        return BG_ENOTFOUND;
    }
    for (size_t i = 0; i < sc->n_hosts; i++)
        if (!sg_host_by_name(sc->hosts[i])) {
            bg_err_set(err, BG_ENOTFOUND, NULL, 0,
                       "platform %s has no host '%s' for worker %zu (workers.hosts; it has %zu hosts)", sc->platform,
                       sc->hosts[i], i, sg_host_count());
            bg_err_key(err, sc->hosts_spec[0] ? "workers.hosts" : "workers.n");
            return BG_ENOTFOUND;
        }
    return BG_OK;
}

int bg_sim_run(const bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err)
{
    memset(res, 0, sizeof *res);
    memset(&S, 0, sizeof S);
    double t0 = bg_wall_clock();
    if (access(sc->platform, R_OK) != 0)
        return bg_err_set(err, BG_EIO, sc->platform, 0, "cannot read the platform: %s", strerror(errno));
    bg_engine_t *e = NULL;
    int rc = bg_engine_new(&sc->learn, &e, err);
    if (rc)
        return rc;
    configure_network(sc);
    simgrid_load_platform(sc->platform);
    if ((rc = check_hosts(sc, err))) {
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
    if ((rc = bg_run_result_init(res, S.rounds, n, o->record_rounds, 1))) {
        bg_engine_free(e);
        return bg_err_set(err, rc, NULL, 0, "out of memory");
    }
    if (o->out_dir && (rc = bg_outputs_open(o, &S.trace, err))) {
        bg_engine_free(e);
        return rc;
    }
    if (o->out_dir && sc->events) {
        S.up_posted = calloc(n ? n : 1, sizeof *S.up_posted);
        S.up_bytes = calloc(n ? n : 1, sizeof *S.up_bytes);
        xbt_assert(S.up_posted && S.up_bytes, "out of memory");
        if ((rc = bg_events_open(&S.events, o->out_dir, err))) {
            bg_trace_close(&S.trace);
            free(S.up_posted);
            free(S.up_bytes);
            bg_engine_free(e);
            return rc;
        }
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
    sg_actor_create("server", sg_host_by_name(sc->server_host), server_actor, 0, NULL);
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
    bg_events_close(&S.events);
    free(S.up_posted);
    free(S.up_bytes);
    rc = S.failed ? (err->code ? err->code : BG_EINVAL) : BG_OK;
    if (!rc && o->out_dir)
        rc = bg_summary_write(sc, e, o, res, "simulated", err);
    sg_cond_destroy(S.cond);
    sg_mutex_destroy(S.mutex);
    free(S.down);
    free(S.up);
    bg_engine_free(e);
    return rc;
}
