/* What every run shares whichever runner it uses: output folder, trace file, atomic summary.json, progress
 * lines on stderr and result buffers. */
#include "bg_sim.h"
#include "bg_trace.h"
#include "blas_select.h"
#include "platform_load.h"
#include "run_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


double bg_wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* mkdir -p */
int bg_make_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int bg_outputs_open(const bg_run_opts_t *o, bg_trace_t *tr, bg_err_t *err)
{
    if (bg_make_dirs(o->out_dir) != 0)
        return bg_err_set(err, BG_EIO, o->out_dir, 0, "cannot create the output folder: %s", strerror(errno));
    char path[1100];
    snprintf(path, sizeof path, "%s/trace.csv", o->out_dir);
    return bg_trace_open(tr, path, err);
}

int bg_run_result_init(bg_run_result_t *res, size_t rounds, size_t n, int record, int simulated)
{
    memset(res, 0, sizeof *res);
    if (!record)
        return BG_OK;
    /* Each runner records what it knows: the simulator the round ends in simulated time, the driver each
     * worker's flops and message sizes; both the server's flops. */
    res->server_flops = calloc(rounds + 1, sizeof(double));
    if (simulated) {
        res->round_end = calloc(rounds + 1, sizeof(double));
    } else {
        res->worker_flops = calloc(rounds * n + 1, sizeof(double));
        res->msg_bytes = calloc(rounds * n + 1, sizeof(double));
    }
    if (!res->server_flops || (simulated ? !res->round_end : !res->worker_flops || !res->msg_bytes)) {
        bg_run_result_destroy(res);
        return BG_ENOMEM;
    }
    return BG_OK;
}

void bg_run_result_destroy(bg_run_result_t *r)
{
    free(r->round_end);
    free(r->worker_flops);
    free(r->server_flops);
    free(r->msg_bytes);
    free(r->protocol.faults);
    r->protocol.faults = NULL;
    r->round_end = r->worker_flops = r->server_flops = r->msg_bytes = NULL;
}

void bg_progress(const bg_run_opts_t *o, int *shown, double start, double *last, size_t round, size_t rounds,
                 double sim_time, double until_s, const bg_metrics_t *m)
{
    if (!o || o->progress == 0)
        return;
    double now = bg_wall_clock(), el = now - start;
    double every = o->progress > 0 ? 1.0 : 2.0;
    /* The run ends at run.rounds or at run.until_s, whichever comes first: progress is measured against the one
     * nearer to its end so far. */
    double frac = rounds ? (double)round / (double)rounds : 1.0;
    const int by_time = until_s > 0 && !isnan(sim_time) && sim_time / until_s > frac;
    if (by_time)
        frac = sim_time / until_s;
    int done = frac >= 1.0;
    if (o->progress < 0 && el < 2.0 && !*shown)
        return;   /* auto: quick runs stay quiet */
    if (!done && *last >= 0 && now - *last < every)
        return;
    *last = now;
    *shown = 1;
    double eta = frac > 0 ? el * (1.0 - frac) / frac : NAN;
    char st[64] = "";
    if (by_time)
        snprintf(st, sizeof st, ", sim %.3f/%.6g s (%.0f%%)", sim_time, until_s, 100.0 * frac);
    else if (!isnan(sim_time))
        snprintf(st, sizeof st, ", sim %.3f s", sim_time);
    char eta_s[48] = "";
    if (!done && !isnan(eta))
        snprintf(eta_s, sizeof eta_s, ", ETA %.0f s", eta);
    fprintf(stderr, "byzgrid: round %zu/%zu (%.0f%%)%s, test_acc %.4f, test_loss %.4f, %.1f s elapsed%s\n", round,
            rounds, rounds ? 100.0 * (double)round / (double)rounds : 100.0, st, m->test_acc, m->test_loss, el, eta_s);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss;
}

int bg_summary_write(const bg_scenario_t *sc, const bg_engine_t *e, const bg_run_opts_t *o,
                     const bg_run_result_t *res, const char *mode, bg_err_t *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/summary.json", o->out_dir);
    bg_json_t j;
    int rc = bg_json_open(&j, path, err);
    if (rc)
        return rc;
    const bg_config_t *c = bg_engine_config(e);
    bg_json_begin(&j, NULL);
    bg_json_str(&j, "name", sc->name);
    bg_json_str(&j, "scenario", sc->path);
    bg_json_str(&j, "mode", mode);
    /* A run stopped by a signal at a round boundary: its rounds and final metrics are those of that moment. */
    bg_json_bool(&j, "interrupted", res->interrupted != 0);
    if (res->interrupted)
        bg_json_str(&j, "interrupted_by", bg_signal_name(res->interrupted));
    bg_json_str(&j, "version", bg_version_string());
    if (o->command_line)
        bg_json_str(&j, "command", o->command_line);
    bg_json_int(&j, "seed", (long long)c->seed);
    bg_scenario_write_config(&j, sc, c);
    bg_json_begin(&j, "resolved");
    bg_json_int(&j, "dim", (long long)bg_engine_dim(e));
    bg_json_int(&j, "n_honest", (long long)bg_engine_n_honest(e));
    bg_json_int(&j, "train_samples", (long long)bg_engine_train_size(e));
    bg_json_int(&j, "test_samples", (long long)bg_engine_test_size(e));
    bg_json_num(&j, "model_flops_per_sample", bg_engine_flops_per_sample(e));
    bg_json_num(&j, "downlink_bytes_per_worker", bg_engine_downlink_bytes(e));
    bg_json_bool(&j, "attack_omniscient", bg_engine_attack_omniscient(e));
    bg_json_end(&j);
    const bg_model_t *mi = bg_engine_model_info(e);
    bg_json_begin(&j, "model");
    bg_json_str(&j, "name", mi->ops->name);
    bg_json_int(&j, "parameters", (long long)mi->dim);
    bg_json_num(&j, "flops_per_sample", bg_engine_flops_per_sample(e));
    bg_json_begin_array(&j, "layers");
    for (size_t l = 0; l < (mi->n_layers ? mi->n_layers : 1); l++) {
        bg_json_begin(&j, NULL);
        bg_json_str(&j, "name", mi->layer_names ? mi->layer_names[l] : mi->n_layers ? "" : "weights");
        bg_json_int(&j, "size", (long long)(mi->n_layers ? mi->layers[l] : mi->dim));
        bg_json_end(&j);
    }
    bg_json_end_array(&j);
    bg_json_end(&j);
    /* Samples and label histogram per data-holding worker. */
    size_t ns;
    const bg_shard_t *sh = bg_engine_shards(e, &ns);
    const bg_dataset_t *tr = bg_engine_train(e);
    size_t C = tr->n_classes;
    size_t *counts = calloc(ns * (C ? C : 1), sizeof *counts);
    bg_json_begin(&j, "partition");
    bg_json_str(&j, "name", bg_engine_partition_name(e));
    bg_json_str(&j, "holders", c->data_all ? "all" : "honest");
    bg_json_int(&j, "classes", (long long)C);
    if (counts) {
        bg_partition_histogram(sh, ns, tr->y, C, counts);
        bg_json_begin_array(&j, "workers");
        for (size_t w = 0; w < ns; w++) {
            bg_json_begin(&j, NULL);
            bg_json_int(&j, "worker", (long long)w);
            bg_json_int(&j, "samples", (long long)sh[w].n);
            bg_json_begin_array(&j, "labels");
            for (size_t k = 0; k < C; k++)
                bg_json_int(&j, NULL, (long long)counts[w * C + k]);
            bg_json_end_array(&j);
            bg_json_end(&j);
        }
        bg_json_end_array(&j);
        free(counts);
    }
    bg_json_end(&j);
    bg_json_begin(&j, "platform");
    bg_json_str(&j, "file", sc->platform);
    if (!strcmp(mode, "simulated"))
        bg_platform_write_json(&j);
    bg_json_str(&j, "network_model", strcmp(mode, "simulated") ? "none (in-process driver)" : sc->network_model);
    if (sc->crosstraffic < 0)
        bg_json_str(&j, "crosstraffic", "default");
    else
        bg_json_bool(&j, "crosstraffic", sc->crosstraffic);
    if (sc->tcp_gamma >= 0)
        bg_json_num(&j, "tcp_gamma", sc->tcp_gamma);
    bg_json_str(&j, "server", sc->server_host);
    bg_json_begin_array(&j, "workers");
    for (size_t i = 0; i < sc->n_hosts; i++) {
        bg_json_begin(&j, NULL);
        bg_json_int(&j, "rank", (long long)i);
        bg_json_str(&j, "host", sc->hosts[i]);
        bg_json_bool(&j, "byzantine", i >= bg_engine_n_honest(e));
        bg_json_end(&j);
    }
    bg_json_end_array(&j);
    bg_json_str(&j, "attack_timing", sc->attack_oracle ? "oracle" : "eavesdrop");
    if (sc->placement_applied) {
        bg_json_str(&j, "attack_placement", bg_scenario_placement_name(sc));
    } else {
        char why[96];
        snprintf(why, sizeof why, "%s (not applied: the in-process driver has no platform)",
                 bg_scenario_placement_name(sc));
        bg_json_str(&j, "attack_placement", why);
    }
    bg_json_end(&j);
    bg_json_begin(&j, "final");
    bg_json_int(&j, "round", (long long)res->final.round);
    bg_json_num(&j, "test_acc", res->final.test_acc);
    bg_json_num(&j, "test_loss", res->final.test_loss);
    bg_json_num(&j, "train_loss", res->final.train_loss);
    bg_json_num(&j, "train_acc", res->final.train_acc);
    bg_json_num(&j, "bytes_up", res->final.bytes_up);
    bg_json_num(&j, "bytes_down", res->final.bytes_down);
    bg_json_int(&j, "dropped_inputs", (long long)res->final.dropped);
    bg_json_num(&j, "grad_norm_sq", res->final.grad_norm_sq);
    bg_json_num(&j, "dist_to_opt", res->final.dist_to_opt);
    bg_json_end(&j);
    if (sc->target_acc > 0) {
        /* The first evaluation with test_acc >= run.target_acc; null when none reached it. */
        const struct bg_target *tg = &res->target;
        bg_json_begin(&j, "target");
        bg_json_num(&j, "target_acc", sc->target_acc);
        /* bg_json_num writes NaN as null: every field is null when no evaluation reached the target. */
        const double no = NAN;
        bg_json_num(&j, "time_to_target_s", tg->reached ? tg->time_s : no);
        bg_json_num(&j, "rounds_to_target", tg->reached ? (double)tg->round : no);
        bg_json_num(&j, "bytes_to_target", tg->reached ? tg->bytes_up + tg->bytes_down : no);
        bg_json_num(&j, "bytes_up_to_target", tg->reached ? tg->bytes_up : no);
        bg_json_num(&j, "bytes_down_to_target", tg->reached ? tg->bytes_down : no);
        bg_json_num(&j, "energy_to_target_j", tg->reached ? tg->energy_j : no);
        bg_json_end(&j);
    }
    const struct bg_energy *en = &res->energy;
    bg_json_begin(&j, "energy");
    bg_json_num(&j, "total_j", en->total_j);
    bg_json_num(&j, "server_j", en->server_j);
    bg_json_num(&j, "honest_workers_j", en->honest_j);
    bg_json_num(&j, "byzantine_workers_j", en->byzantine_j);
    bg_json_num(&j, "links_j", en->links_j);
    bg_json_str(&j, "server_class", bg_energy_class_name(sc->server_class));
    bg_json_num(&j, "server_idle_w", en->server_idle_w);
    bg_json_num(&j, "server_busy_w", en->server_busy_w);
    bg_json_str(&j, "worker_class", bg_energy_class_name(sc->worker_class));
    bg_json_num(&j, "worker_idle_w", en->worker_idle_w);
    bg_json_num(&j, "worker_busy_w", en->worker_busy_w);
    bg_json_num(&j, "link_idle_w", en->link_idle_w);
    bg_json_num(&j, "link_busy_w", en->link_busy_w);
    bg_json_str(&j, "links_note",
                !isfinite(en->total_j) ? "no energy without simulated time (the in-process driver)"
                : en->links_embedded
                    ? "links_j is null: a job embedded in a program (bg_plugin.h) does not count links, which the "
                      "program's platform and traffic share (total_j counts the job's hosts only)"
                : en->links_off_proto
                    ? "links_j is null: the links draw power, but with round protocols or faults actors waiting for a "
                      "message are ended (a host crash, the run's end), which crashes SimGrid 3.32's link energy "
                      "plugin, so it is off (total_j counts the hosts only)"
                : !en->link_energy ? "links_j is null: the platform has WiFi links, on which SimGrid 3.32's link energy "
                                   "plugin crashes, so it is off (total_j counts the hosts only)"
                : en->links_from_file ? "links count the wattage_range properties of the platform file's links "
                                        "(0 W without one); energy.link_idle_w and link_busy_w apply to generated "
                                        "platforms only"
                : en->link_idle_w == 0 && en->link_busy_w == 0
                    ? "links not counted (energy.link_idle_w = link_busy_w = 0)"
                    : "every generated <link> has wattage_range = link_idle_w:link_busy_w; <backbone> tags (star's bb, "
                      "sites' LANs) and fat-tree's inner links count 0 W (SimGrid's XML gives them no property)");
    bg_json_end(&j);
    const struct bg_protocol *pr = &res->protocol;
    if (pr->on) {
        bg_json_begin(&j, "rounds");
        bg_json_num(&j, "participation", sc->participation);
        bg_json_num(&j, "deadline_s", sc->deadline_s);
        bg_json_int(&j, "quorum", (long long)sc->quorum);
        bg_json_str(&j, "late_messages", pr->late_applied ? "applied stale" : "dropped");
        if (pr->oracle_forced)
            bg_json_str(&j, "omniscient_attackers", "timed as attack.timing = oracle (some honest messages never come)");
        bg_json_int(&j, "selected", (long long)pr->selected);
        bg_json_int(&j, "participants", (long long)pr->applied);
        bg_json_int(&j, "missing", (long long)pr->missing);
        bg_json_int(&j, "late", (long long)pr->late);
        bg_json_int(&j, "late_dropped", (long long)pr->late_dropped);
        bg_json_int(&j, "skipped_rounds", (long long)pr->skipped);
        /* Mirrored methods (EF21 family, DIANA, DASHA): the worker's and the server's copies of the state the
         * increments feed, compared at the end (workers with a message still on its way are left out). */
        bg_json_num(&j, "mirror_max_abs_diff", pr->mirror_gap);
        bg_json_int(&j, "mirror_workers_compared", (long long)pr->mirror_compared);
        bg_json_int(&j, "mirror_workers_in_flight", (long long)pr->mirror_in_flight);
        bg_json_begin_array(&j, "faults");
        for (size_t k = 0; k < pr->n_faults; k++) {
            bg_json_begin(&j, NULL);
            bg_json_str(&j, pr->faults[k].link ? "link" : "host", pr->faults[k].name);
            bg_json_num(&j, "down_s", pr->faults[k].down);
            bg_json_num(&j, "up_s", pr->faults[k].up);   /* null: still down at the end */
            bg_json_end(&j);
        }
        bg_json_end_array(&j);
        bg_json_end(&j);
    }
    bg_json_begin(&j, "time");
    bg_json_num(&j, "sim_time_s", res->sim_time);
    bg_json_num(&j, "wall_time_s", res->wall_time);
    bg_json_num(&j, "setup_time_s", res->setup_time);
    bg_json_num(&j, "rounds_per_wall_second", res->wall_time > 0 ? (double)res->rounds / res->wall_time : NAN);
    bg_json_int(&j, "peak_rss_kib", peak_rss_kib());
    bg_json_end(&j);
    /* the BLAS the maths ran on: library, kernel set, and whether OpenBLAS, the user (OPENBLAS_CORETYPE) or byzgrid
     * (a better set for this CPU, see blas_select.h) chose it */
    bg_json_begin(&j, "blas");
    bg_json_str(&j, "library", bg_blas_library());
    bg_json_str(&j, "kernels", bg_blas_kernels());
    bg_json_str(&j, "coretype_from", bg_blas_coretype_from());
    bg_json_end(&j);
    bg_memory_t mem;
    bg_engine_memory(e, &mem);
    double rss = (double)peak_rss_kib() * 1024.0;
    bg_json_begin(&j, "memory");
    bg_json_num(&j, "peak_rss_bytes", rss);
    bg_json_num(&j, "state_bytes", mem.state_bytes);
    bg_json_num(&j, "dataset_bytes", mem.dataset_bytes);
    bg_json_num(&j, "model_workspace_bytes", mem.workspace_bytes);
    bg_json_num(&j, "rss_over_state", mem.state_bytes > 0 ? rss / mem.state_bytes : NAN);
    bg_json_end(&j);
    bg_json_end(&j);
    return bg_json_commit(&j, err);
}
