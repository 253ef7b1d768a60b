/* The in-process driver: every round's steps in a loop (the workers' on run.threads threads), no simulator. It uses only the engine's
 * public step API, exactly as the SimGrid actors do, which is what makes the two runners' numbers equal. */
#include "bg_engine.h"

#include <stdlib.h>

int bg_driver_run(bg_engine_t *e, bg_eval_cb cb, bg_round_cb rcb, void *ud, bg_err_t *err)
{
    bg_metrics_t m;
    const bg_msg_t *msg;
    const size_t nn = bg_engine_config(e)->n;
    double *wf = calloc(nn, sizeof(double)), *mb = calloc(nn, sizeof(double)), *fl = calloc(nn, sizeof(double));
    size_t *who = calloc(nn, sizeof *who);
    int rc = BG_OK;
    if (!wf || !mb || !fl || !who) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
        goto done;
    }
    bg_engine_evaluate(e, &m);
    if (cb && cb(&m, ud))
        goto done;
    const size_t n = bg_engine_config(e)->n, nh = bg_engine_n_honest(e), rounds = bg_engine_config(e)->rounds;
    const int byz_msgs = nh < n && !bg_engine_attack_runs_method(e);
    size_t nw = 0;   /* the workers that run the method: honest, and Byzantine with a data attack */
    for (size_t i = 0; i < n; i++)
        if (i < nh || !byz_msgs)
            who[nw++] = i;
    for (size_t t = bg_engine_round(e); t < rounds; t++) {
        const bg_msg_t *down;
        double bf;
        if ((rc = bg_engine_broadcast(e, &down, &bf, err)))
            goto done;
        if ((rc = bg_engine_workers_round(e, who, nw, down, t, fl, err)))
            goto done;
        for (size_t k = 0; k < nw; k++) {
            wf[who[k]] = fl[k];
            mb[who[k]] = bg_engine_worker_msg(e, who[k])->bytes;
        }
        if (byz_msgs)
            for (size_t j = nh; j < n; j++) {
                if ((rc = bg_engine_byz_round(e, j, &msg, &wf[j], err)))
                    goto done;
                mb[j] = msg->bytes;
            }
        double sf;
        if ((rc = bg_engine_server_round(e, &sf, err)))
            goto done;
        if (rcb) {
            bg_round_cost_t c = {t, wf, mb, sf + bf};
            if (rcb(&c, ud))
                goto done;
        }
        if (bg_engine_is_eval_round(e, bg_engine_round(e))) {
            bg_engine_evaluate(e, &m);
            if (cb && cb(&m, ud))
                goto done;
        }
    }
done:
    free(wf);
    free(mb);
    free(fl);
    free(who);
    return rc;
}
