/* A scenario through the in-process driver (byzgrid run --driver): the same rounds as the simulator, no SimGrid,
 * no time columns; the same trace.csv and summary.json. */
#include "bg_sim.h"
#include "bg_trace.h"
#include "run_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct driver_ud {
    bg_engine_t *e;
    const bg_run_opts_t *o;
    bg_run_result_t *res;
    bg_trace_t trace;
    size_t n, rounds;
    int shown, failed;
    double start, last;
    double target;
    bg_err_t *err;
} driver_ud_t;

static int driver_eval(const bg_metrics_t *m, void *p)
{
    driver_ud_t *u = p;
    u->res->final = *m;
    if (u->target > 0 && !u->res->target.reached && m->test_acc >= u->target)
        u->res->target = (struct bg_target){1, m->round, NAN, m->bytes_up, m->bytes_down, NAN};
    if (u->trace.fp && bg_trace_row(&u->trace, m, NAN, NAN) != BG_OK) {
        bg_err_set(u->err, BG_EIO, u->trace.path, 0, "cannot write the trace");
        u->failed = 1;
        return 1;
    }
    bg_progress(u->o, &u->shown, u->start, &u->last, m->round, u->rounds, NAN, 0.0, m);
    return 0;
}

static int driver_round(const bg_round_cost_t *c, void *p)
{
    driver_ud_t *u = p;
    u->res->rounds = c->round + 1;
    if (u->res->worker_flops) {
        memcpy(u->res->worker_flops + c->round * u->n, c->worker_flops, u->n * sizeof(double));
        memcpy(u->res->msg_bytes + c->round * u->n, c->msg_bytes, u->n * sizeof(double));
        u->res->server_flops[c->round] = c->server_flops;
    }
    if (bg_interrupted() && c->round + 1 < u->rounds) {
        /* A signal: stop at this round boundary with a row for the model as it is now (interrupt.c). */
        u->res->interrupted = bg_interrupted();
        bg_metrics_t m;
        bg_engine_evaluate(u->e, &m);
        driver_eval(&m, u);
        return 1;
    }
    return 0;
}

int bg_driver_run_scenario(const bg_scenario_t *sc, const bg_run_opts_t *o, bg_run_result_t *res, bg_err_t *err)
{
    memset(res, 0, sizeof *res);
    /* Keys about simulated time would silently change the trace's rows here: refuse them. */
    const char *timed = sc->until_s > 0           ? "run.until_s"
                        : sc->eval_every_s > 0    ? "run.eval_every_s"
                                                  : bg_scenario_protocol_key(sc);
    if (timed) {
        bg_err_set(err, BG_EINVAL, NULL, 0, "%s needs simulated time, which the in-process driver (--driver) does "
                   "not have", timed);
        bg_err_key(err, timed);
        return BG_EINVAL;
    }
    double t0 = bg_wall_clock();
    bg_engine_t *e = NULL;
    int rc = bg_engine_new(&sc->learn, &e, err);
    if (rc)
        return rc;
    driver_ud_t u = {.e = e, .o = o, .res = res, .n = sc->learn.n, .rounds = sc->learn.rounds, .last = -1,
                     .target = sc->target_acc, .err = err};
    if ((rc = bg_run_result_init(res, sc->learn.rounds, sc->learn.n, o->record_rounds, 0))) {
        bg_engine_free(e);
        return bg_err_set(err, rc, NULL, 0, "out of memory");
    }
    if (o->out_dir && (rc = bg_outputs_open(o, &u.trace, err))) {
        bg_engine_free(e);
        return rc;
    }
    res->setup_time = bg_wall_clock() - t0;
    u.start = bg_wall_clock();
    rc = bg_driver_run(e, driver_eval, driver_round, &u, err);
    res->wall_time = bg_wall_clock() - u.start;
    res->sim_time = NAN;
    res->energy = (struct bg_energy){NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, 0, 0};
    bg_trace_close(&u.trace);
    if (!rc && u.failed)
        rc = err->code;
    if (!rc && o->out_dir)
        rc = bg_summary_write(sc, e, o, res, "driver", err);
    bg_engine_free(e);
    return rc;
}
