/* Round protocols in the engine: the server applies a subset of the messages with f unchanged. For a mirrored
 * method (Byz-EF21-SGDM) a message applied rounds late still leaves every worker's g equal to the server's g_i,
 * whatever the sequence of late arrivals, while a message never applied splits them (the check can fail); too few
 * inputs for the rule skip the round: no step, but the increments are absorbed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_config.h"
#include "bg_engine.h"

#include "synth_data.h"

static int write_data(void **state)
{
    (void)state;
    return synth_write(31, 0.3);
}

enum { N = 7, F = 2 };

static bg_engine_t *rounds_engine(size_t f, const char *agg)
{
    bg_config_t c;
    synth_config(&c);
    snprintf(c.method.name, sizeof c.method.name, "byz-ef21-sgdm");
    snprintf(c.comp.name, sizeof c.comp.name, "topk");
    c.comp.k = 3;
    snprintf(c.attack.name, sizeof c.attack.name, "%s", f ? "gaussian" : "none");
    snprintf(c.pre, sizeof c.pre, "none");
    snprintf(c.agg, sizeof c.agg, "%s", agg);
    c.n = N;
    c.f = f;
    c.rounds = 60;
    c.method.batch = 8;
    c.method.lr = 0.5;
    return make_engine(&c);
}

/* Rounds where each idle honest worker computes from the broadcast and each message is applied at the round its
 * seeded arrival falls in (0 to 3 rounds late); a worker with a message pending computes nothing new. drop_one:
 * worker 1's first message due from round 5 on is never applied (the worker goes idle). Returns the final gap. */
static double late_rounds(int drop_one, size_t *compared)
{
    bg_engine_t *e = rounds_engine(0, "mean");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    int due[N];
    unsigned char apply[N], pending[N];
    for (size_t i = 0; i < N; i++)
        due[i] = -1;
    size_t late = 0;
    for (int t = 0; t < 60; t++) {
        const bg_msg_t *down, *msg;
        double fl;
        bg_err_t err;
        assert_int_equal(bg_engine_broadcast(e, &down, &fl, &err), BG_OK);
        for (size_t i = 0; i < N; i++)
            if (due[i] < 0) {
                assert_int_equal(bg_engine_worker_round_at(e, i, down, (size_t)t, &msg, &fl, &err), BG_OK);
                due[i] = t + (int)gsl_rng_uniform_int(r, 4);
                late += due[i] > t;
            }
        size_t m = 0;
        for (size_t i = 0; i < N; i++) {
            apply[i] = due[i] == t;
            if (drop_one == 1 && i == 1 && t >= 5 && apply[i]) {
                drop_one = 2;
                apply[i] = 0;
                due[i] = -1;
                continue;
            }
            m += apply[i];
            if (apply[i])
                due[i] = -1;
        }
        bg_engine_round_subset(e, apply, N, 0.0);
        assert_int_equal(bg_engine_server_round(e, &fl, &err), BG_OK);
        (void)m;
    }
    assert_true(late > 50);   /* the sequence did have late messages */
    assert_true(drop_one != 1);
    /* the messages still on their way arrive: one more aggregation applies them, then every copy is compared */
    for (size_t i = 0; i < N; i++)
        pending[i] = due[i] >= 0;
    const bg_msg_t *down;
    double fl;
    bg_err_t err;
    assert_int_equal(bg_engine_broadcast(e, &down, &fl, &err), BG_OK);
    bg_engine_round_subset(e, pending, 0, 0.0);
    assert_int_equal(bg_engine_server_round(e, &fl, &err), BG_OK);
    const double gap = bg_engine_mirror_gap(e, NULL, compared);
    assert_int_equal(*compared, N);
    gsl_rng_free(r);
    bg_engine_free(e);
    return gap;
}

static void test_late_increments_keep_copies_equal(void **state)
{
    (void)state;
    size_t compared = 0;
    const double gap = late_rounds(0, &compared);
    assert_true(compared >= 1);
    assert_true(gap == 0.0);
}

static void test_lost_increment_splits_copies(void **state)
{
    (void)state;
    size_t compared = 0;
    const double gap = late_rounds(1, &compared);
    assert_true(compared >= 1);
    assert_true(gap > 0.0);
}

/* n = 7, f = 2 with the coordinate-wise median: 2f + 1 = 5 inputs are enough, 4 are not; a skipped round leaves x
 * as it was but absorbs the increments. */
static void test_too_few_skip_the_round(void **state)
{
    (void)state;
    bg_engine_t *e = rounds_engine(F, "cm");
    assert_false(bg_engine_enough(e, 4));
    assert_true(bg_engine_enough(e, 5));
    assert_true(bg_engine_enough(e, N));
    const size_t d = bg_engine_dim(e);
    float *x0 = malloc(d * sizeof(float));
    const bg_msg_t *down, *msg;
    double fl;
    bg_err_t err;
    unsigned char apply[N] = {1, 1, 1, 0, 0, 0, 1};   /* 3 honest + 1 Byzantine: 4 < 5 */
    assert_int_equal(bg_engine_broadcast(e, &down, &fl, &err), BG_OK);
    for (size_t i = 0; i < N - F; i++)
        assert_int_equal(bg_engine_worker_round(e, i, down, &msg, &fl, &err), BG_OK);
    for (size_t j = N - F; j < N; j++)
        assert_int_equal(bg_engine_byz_round(e, j, &msg, &fl, &err), BG_OK);
    memcpy(x0, bg_engine_model(e), d * sizeof(float));
    bg_engine_round_subset(e, apply, N, 0.0);
    assert_int_equal(bg_engine_server_round(e, &fl, &err), BG_OK);
    assert_int_equal(bg_engine_skipped(e), 1);
    assert_int_equal(bg_engine_round(e), 1);
    assert_memory_equal(x0, bg_engine_model(e), d * sizeof(float));
    unsigned char skip[N] = {0, 0, 0, 1, 1, 0, 0};   /* workers 3 and 4 hold an unapplied message */
    size_t compared = 0;
    assert_true(bg_engine_mirror_gap(e, skip, &compared) == 0.0);
    assert_int_equal(compared, 3);
    /* the next round with 5 inputs (3 and 4's messages, stale, plus three fresh ones) aggregates and steps */
    unsigned char apply2[N] = {1, 1, 1, 1, 1, 0, 0};
    assert_int_equal(bg_engine_broadcast(e, &down, &fl, &err), BG_OK);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(bg_engine_worker_round(e, i, down, &msg, &fl, &err), BG_OK);
    bg_engine_round_subset(e, apply2, N, 0.0);
    assert_int_equal(bg_engine_server_round(e, &fl, &err), BG_OK);
    assert_int_equal(bg_engine_skipped(e), 1);
    assert_true(memcmp(x0, bg_engine_model(e), d * sizeof(float)) != 0);
    assert_true(bg_engine_mirror_gap(e, NULL, &compared) == 0.0);
    assert_int_equal(compared, N - F);
    free(x0);
    bg_engine_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_increments_keep_copies_equal),
        cmocka_unit_test(test_lost_increment_splits_copies),
        cmocka_unit_test(test_too_few_skip_the_round),
    };
    return cmocka_run_group_tests(tests, write_data, synth_remove);
}
