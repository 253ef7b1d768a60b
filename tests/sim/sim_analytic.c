/* Under CM02 with cross traffic off, the simulated time of every round must equal the analytic formula built
 * from the platform (route latencies, bandwidths, TCP window bound, host speeds) and the costs the components
 * report (flops, message sizes, recorded by the in-process driver on the same seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <simgrid/engine.h>
#include <simgrid/host.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xbt/config.h>

#include "bg_sim.h"

static int g_argc;
static char **g_argv;

static double rate(double bw, double lat, double gamma)
{
    /* SimGrid bounds a flow by the TCP window: gamma / (2 * route latency). */
    return gamma > 0 ? fmin(bw, gamma / (2.0 * lat)) : bw;
}

static void test_round_times(void **state)
{
    (void)state;
    const char *sets[16];
    size_t n_sets = 0;
    for (int i = 2; i < g_argc && n_sets < 12; i++)
        sets[n_sets++] = g_argv[i];
    sets[n_sets++] = "platform.network_model=CM02";
    sets[n_sets++] = "platform.crosstraffic=false";
    bg_scenario_t sc;
    bg_err_t err;
    char buf[2048];
    int rc = bg_scenario_load(g_argv[1], sets, n_sets, &sc, &err);
    if (rc)
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));

    bg_run_opts_t o = {.out_dir = NULL, .progress = 0, .record_rounds = 1};
    bg_run_result_t drv, sim;
    rc = bg_driver_run_scenario(&sc, &o, &drv, &err);
    if (rc)
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    rc = bg_sim_run(&sc, &o, &sim, &err);
    if (rc)
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    assert_int_equal(sim.rounds, sc.learn.rounds);
    assert_int_equal(drv.rounds, sc.learn.rounds);

    const size_t n = sc.learn.n, f = sc.learn.f, nh = n - f;
    const int omni = !strcmp(sc.learn.attack.name, "ipm") || !strcmp(sc.learn.attack.name, "alie") ||
                     !strcmp(sc.learn.attack.name, "sf");
    const double gamma = sg_cfg_get_double("network/TCP-gamma");
    sg_host_t server = sg_host_by_name(sc.server_host);
    const double s_speed = sg_host_get_speed(server);
    double server_bw_sum = 0.0;
    /* Each direction has its own route (asymmetric access links: uploads at the up rate). */
    double *lat = calloc(n, sizeof(double)), *r = calloc(n, sizeof(double)), *speed = calloc(n, sizeof(double));
    double *lat_up = calloc(n, sizeof(double)), *r_up = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        sg_host_t h = sg_host_by_name(sc.hosts[i]);
        lat[i] = sg_host_get_route_latency(server, h);
        r[i] = rate(sg_host_get_route_bandwidth(server, h), lat[i], gamma);
        lat_up[i] = sg_host_get_route_latency(h, server);
        r_up[i] = rate(sg_host_get_route_bandwidth(h, server), lat_up[i], gamma);
        speed[i] = sg_host_get_speed(h);
        server_bw_sum += r[i];
    }
    /* The closed form below has no link sharing: it holds while no shared link (the server's, a rack uplink, a WAN
     * link) is a bottleneck, which star-hetero.xml and the generated settings of the ctest entries guarantee (their
     * worker links add up to less than each shared link). */
    const double down_bytes = drv.final.bytes_down / (double)(drv.rounds * n);
    double max_rel = 0.0;
    for (size_t t = 0; t < sim.rounds; t++) {
        double ready_h = 0.0, arrive = 0.0;
        double *ready = calloc(n, sizeof(double)), *down = calloc(n, sizeof(double));
        for (size_t i = 0; i < n; i++) {
            down[i] = lat[i] + down_bytes / r[i];
            ready[i] = down[i] + drv.worker_flops[t * n + i] / speed[i];
            if (i < nh)
                ready_h = fmax(ready_h, ready[i]);
        }
        for (size_t i = 0; i < n; i++) {
            double rd = ready[i];
            if (omni && i >= nh)   /* colluders wait until every honest message exists */
                rd = fmax(down[i], ready_h) + drv.worker_flops[t * n + i] / speed[i];
            arrive = fmax(arrive, rd + lat_up[i] + drv.msg_bytes[t * n + i] / r_up[i]);
        }
        double expect = arrive + drv.server_flops[t] / s_speed;
        double got = sim.round_end[t + 1] - sim.round_end[t];
        double rel = fabs(got - expect) / expect;
        if (rel > max_rel)
            max_rel = rel;
        if (rel > 1e-6)
            fail_msg("round %zu: simulated %.12f s, analytic %.12f s (rel %.3g)", t, got, expect, rel);
        free(ready);
        free(down);
    }
    printf("%zu rounds, max relative error %.3g, sum of route rates %.4g B/s\n", sim.rounds, max_rel,
           server_bw_sum);
    /* Learning columns agree too. */
    assert_true(fabs(sim.final.test_acc - drv.final.test_acc) == 0.0);
    free(lat);
    free(r);
    free(lat_up);
    free(r_up);
    free(speed);
    bg_run_result_destroy(&drv);
    bg_run_result_destroy(&sim);
    bg_scenario_destroy(&sc);
}

int main(int argc, char **argv)
{
    simgrid_init(&argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: sim_analytic SCENARIO [section.key=value]...\n");
        return 2;
    }
    g_argc = argc;
    g_argv = argv;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_times)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
