/* SimGrid's host energy plugin with the scenario's fixed idle and busy Watts: under CM02 each host's energy is
 * P_idle * T + (P_busy - P_idle) * busy_time, where busy_time is the flops the host executed over its speed (the
 * in-process driver records every worker's and the server's flops per round on the same seed). */
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
#include <xbt/log.h>

#include "bg_sim.h"

static int g_argc;
static char **g_argv;

static void check(const char *what, double got, double expect)
{
    const double rel = fabs(got - expect) / fmax(fabs(expect), 1e-12);
    printf("%-18s %.9f J, expected %.9f J (rel %.3g)\n", what, got, expect, rel);
    if (rel > 1e-6)
        fail_msg("%s: %.12g J, expected %.12g J", what, got, expect);
}

static void test_energy(void **state)
{
    (void)state;
    const char *sets[24];
    size_t n_sets = 0;
    for (int i = 2; i < g_argc && n_sets < 16; i++)
        sets[n_sets++] = g_argv[i];
    const double s_idle = 95, s_busy = 250, w_idle = 12.5, w_busy = 30;
    sets[n_sets++] = "platform.network_model=CM02";
    sets[n_sets++] = "platform.crosstraffic=false";
    sets[n_sets++] = "energy.server_idle_w=95";
    sets[n_sets++] = "energy.server_busy_w=250";
    sets[n_sets++] = "energy.worker_idle_w=12.5";
    sets[n_sets++] = "energy.worker_busy_w=30";
    bg_scenario_t sc;
    bg_err_t err;
    char buf[2048];
    if (bg_scenario_load(g_argv[1], sets, n_sets, &sc, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    bg_run_opts_t o = {.out_dir = NULL, .progress = 0, .record_rounds = 1};
    bg_run_result_t drv, sim;
    if (bg_driver_run_scenario(&sc, &o, &drv, &err) || bg_sim_run(&sc, &o, &sim, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    assert_true(isnan(drv.energy.total_j));
    assert_int_equal(sim.rounds, sc.learn.rounds);
    const size_t n = sc.learn.n, nh = n - sc.learn.f, R = sim.rounds;
    const double T = sim.sim_time;
    double busy = 0.0;
    for (size_t t = 0; t < R; t++)
        busy += drv.server_flops[t] / sg_host_get_speed(sg_host_by_name(sc.server_host));
    check("server", sim.energy.server_j, s_idle * T + (s_busy - s_idle) * busy);
    double honest = 0.0, byz = 0.0;
    for (size_t i = 0; i < n; i++) {
        sg_host_t h = sg_host_by_name(sc.hosts[i]);
        assert_int_equal(sg_host_core_count(h), 1);
        busy = 0.0;
        for (size_t t = 0; t < R; t++)
            busy += drv.worker_flops[t * n + i] / sg_host_get_speed(h);
        assert_true(busy > 0.0);
        *(i < nh ? &honest : &byz) += w_idle * T + (w_busy - w_idle) * busy;
    }
    check("honest workers", sim.energy.honest_j, honest);
    check("byzantine workers", sim.energy.byzantine_j, byz);
    assert_true(sim.energy.links_j == 0.0);   /* the platform gives its links no wattage_range */
    check("total", sim.energy.total_j, sim.energy.server_j + honest + byz);
    assert_true(sim.energy.worker_busy_w == w_busy && sim.energy.server_idle_w == s_idle);
    bg_run_result_destroy(&drv);
    bg_run_result_destroy(&sim);
    bg_scenario_destroy(&sc);
}

int main(int argc, char **argv)
{
    xbt_log_control_set("host_energy.thres:error link_energy.thres:warning");
    simgrid_init(&argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: sim_energy SCENARIO [section.key=value]...\n");
        return 2;
    }
    g_argc = argc;
    g_argv = argv;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_energy)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
