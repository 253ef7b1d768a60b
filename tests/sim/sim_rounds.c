/* Round protocols under CM02 without cross traffic: the round ends and the per-round counts of a run with a deadline
 * or a quorum equal a hand computation. Each worker's broadcast, computation and upload times come from the
 * platform (route latency, bandwidth, TCP window bound, host speed) and the costs the in-process driver records; the
 * protocol is then played by hand: a round samples the idle workers, closes at the deadline or at the q-th arrival
 * (or when every sampled worker is in), and a worker whose message has not arrived is busy, not sampled again. */
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

#define NW 6
#define ROUNDS 30

static double rate(double bw, double lat, double gamma)
{
    return gamma > 0 ? fmin(bw, gamma / (2.0 * lat)) : bw;   /* SimGrid's TCP window bound */
}

/* Per round: the trace's selected and missing columns (run.eval_every = 1: one row per round). */
static void read_counts(const char *path, size_t *sel, size_t *miss)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_non_null(strstr(line, ",selected,participants,missing,late,late_dropped,skipped_rounds"));
    for (int r = 0; fgets(line, sizeof line, fp); r++) {
        char *col[20], *save = NULL;
        int nc = 0;
        for (char *c = strtok_r(line, ",", &save); c && nc < 20; c = strtok_r(NULL, ",", &save))
            col[nc++] = c;
        assert_int_equal(nc, 18);
        if (r > 0 && r <= ROUNDS) {
            sel[r - 1] = (size_t)atol(col[12]);
            miss[r - 1] = (size_t)atol(col[14]);
        }
    }
    fclose(fp);
}

static void test_protocol(void **state)
{
    (void)state;
    const char *mode = g_argv[1];
    const int deadline = !strcmp(mode, "deadline");
    /* Distinct links, so no two messages arrive at the same instant; with the deadline two workers are so slow that
     * their broadcast alone outlasts it. */
    const char *sets[] = {
        "platform.network_model=CM02", "platform.crosstraffic=false", "platform.topology=star",
        deadline ? "platform.worker_bw=100Mbps, 90Mbps, 80Mbps, 70Mbps, 100kbps, 80kbps"
                 : "platform.worker_bw=100Mbps, 30Mbps, 10Mbps, 3Mbps, 1Mbps, 300kbps",
        "platform.worker_lat=1ms, 2ms, 3ms, 4ms, 5ms, 6ms", "platform.server_speed=1e15f", "workers.n=6",
        "workers.hosts=w0..w5", "attack.f=0", "attack.name=none", "aggregator.pre=none", "aggregator.name=mean",
        "run.rounds=30", "run.eval_every=1", deadline ? "round.deadline_s=0.02" : "round.quorum=3",
    };
    const size_t n_sets = sizeof sets / sizeof *sets;
    bg_scenario_t sc;
    bg_err_t err;
    char buf[2048];
    if (bg_scenario_load(g_argv[2], sets, n_sets, &sc, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    /* The per-worker costs from the in-process driver, on the same scenario without the protocol (the driver has no
     * time for one); they do not depend on it. */
    bg_scenario_t plain;
    if (bg_scenario_load(g_argv[2], sets, n_sets - 1, &plain, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    bg_run_opts_t o = {.out_dir = NULL, .progress = 0, .record_rounds = 1};
    bg_run_result_t drv, sim;
    if (bg_driver_run_scenario(&plain, &o, &drv, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    bg_scenario_destroy(&plain);
    o.out_dir = mode;
    if (bg_sim_run(&sc, &o, &sim, &err))
        fail_msg("%s", bg_err_format(&err, buf, sizeof buf));
    assert_int_equal(sim.rounds, ROUNDS);

    const double gamma = sg_cfg_get_double("network/TCP-gamma");
    sg_host_t server = sg_host_by_name(sc.server_host);
    const double down_bytes = drv.final.bytes_down / (double)(drv.rounds * NW);
    /* Broadcast + computation + upload of worker i: its first message costs less (the momentum starts at the first
     * gradient, later ones are averaged in), then every message costs the same (Top-k: a fixed size). */
    double trip[NW][2];
    for (size_t i = 0; i < NW; i++) {
        sg_host_t h = sg_host_by_name(sc.hosts[i]);
        const double ld = sg_host_get_route_latency(server, h), lu = sg_host_get_route_latency(h, server);
        for (int later = 0; later < 2; later++)
            trip[i][later] = ld + down_bytes / rate(sg_host_get_route_bandwidth(server, h), ld, gamma) +
                             drv.worker_flops[later * NW + i] / sg_host_get_speed(h) + lu +
                             drv.msg_bytes[later * NW + i] / rate(sg_host_get_route_bandwidth(h, server), lu, gamma);
    }
    size_t sel[ROUNDS], miss[ROUNDS];
    char path[256];
    snprintf(path, sizeof path, "%s/trace.csv", mode);
    read_counts(path, sel, miss);

    double busy_until[NW], start = 0.0, max_rel = 0.0;
    size_t late_rounds = 0;
    int sent[NW] = {0};
    for (size_t i = 0; i < NW; i++)
        busy_until[i] = -1.0;
    for (size_t t = 0; t < ROUNDS; t++) {
        double arr[NW];
        size_t k = 0;
        for (size_t i = 0; i < NW; i++)
            if (busy_until[i] < start) {
                arr[k++] = busy_until[i] = start + trip[i][sent[i] > 0];
                sent[i]++;
            }
        for (size_t a = 1; a < k; a++)   /* arrival order */
            for (size_t b = a; b > 0 && arr[b - 1] > arr[b]; b--) {
                const double x = arr[b];
                arr[b] = arr[b - 1];
                arr[b - 1] = x;
            }
        const size_t q = deadline ? k : 3 < k ? 3 : k;
        double close = arr[q - 1];
        if (deadline && close > start + 0.02)
            close = start + 0.02;
        size_t ontime = 0;
        while (ontime < k && arr[ontime] <= close)
            ontime++;
        const double got = sim.round_end[t + 1];
        const double rel = fabs(got - close) / close;
        max_rel = fmax(max_rel, rel);
        if (rel > 1e-6)
            fail_msg("round %zu: simulated end %.12f s, hand computation %.12f s", t, got, close);
        if (sel[t] != k || miss[t] != k - ontime)
            fail_msg("round %zu: trace has %zu selected and %zu missing, hand computation %zu and %zu", t, sel[t],
                     miss[t], k, k - ontime);
        late_rounds += k > ontime;
        start = got;
    }
    /* The protocol did bind: messages missed rounds, and rounds were not all alike. */
    assert_true(late_rounds >= ROUNDS / 4);
    assert_true(sim.protocol.missing > 0 && sim.protocol.late > 0);
    /* Byz-EF21-SGDM's late increments were applied: every worker's g equals the server's g_i. */
    assert_true(sim.protocol.mirror_gap == 0.0);
    assert_true(sim.protocol.mirror_compared + sim.protocol.mirror_in_flight == NW);
    assert_true(sim.protocol.mirror_compared >= NW - 3);
    printf("%s: %d rounds, %zu with missing messages, %zu late messages in all, max relative error %.3g, "
           "mirror gap %g over %zu workers\n", mode, ROUNDS, late_rounds, sim.protocol.late, max_rel,
           sim.protocol.mirror_gap, sim.protocol.mirror_compared);
    bg_run_result_destroy(&drv);
    bg_run_result_destroy(&sim);
    bg_scenario_destroy(&sc);
}

int main(int argc, char **argv)
{
    simgrid_init(&argc, argv);
    if (argc < 3 || (strcmp(argv[1], "deadline") && strcmp(argv[1], "quorum"))) {
        fprintf(stderr, "usage: sim_rounds deadline|quorum SCENARIO\n");
        return 2;
    }
    g_argc = argc;
    g_argv = argv;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_protocol)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
