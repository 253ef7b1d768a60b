/* The in-process driver: every round's steps in a loop on one thread, no simulator. It uses only the engine's
 * public step API, exactly as the SimGrid actors do, which is what makes the two runners' numbers equal. */
#include "bg_engine.h"

#include <stdlib.h>

int bg_driver_run(bg_engine_t *e, bg_eval_cb cb, bg_round_cb rcb, void *ud, bg_err_t *err)
{
    bg_metrics_t m;
    const bg_msg_t *msg;
    double *wf = calloc(bg_engine_config(e)->n, sizeof(double)), *mb = calloc(bg_engine_config(e)->n, sizeof(double));
    int rc = BG_OK;
    if (!wf || !mb) {
        rc = bg_err_set(err, BG_ENOMEM, NULL, 0, "out of memory");
        goto done;
    }
    bg_engine_evaluate(e, &m);
    if (cb && cb(&m, ud))
        goto done;
    const size_t n = bg_engine_config(e)->n, nh = bg_engine_n_honest(e), rounds = bg_engine_config(e)->rounds;
    const int byz_msgs = nh < n && !bg_engine_attack_runs_method(e);
    for (size_t t = bg_engine_round(e); t < rounds; t++) {
        const bg_msg_t *down;
        double bf;
        if ((rc = bg_engine_broadcast(e, &down, &bf, err)))
            goto done;
        for (size_t i = 0; i < n; i++) {
            if (i >= nh && byz_msgs)
                continue;
            if ((rc = bg_engine_worker_round(e, i, down, &msg, &wf[i], err)))
                goto done;
            mb[i] = msg->bytes;
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
    return rc;
}
