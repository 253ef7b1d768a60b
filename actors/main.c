/* byzgrid command-line interface: run a scenario through the simulator (or the in-process driver), list the
 * components, explain the scenario keys. Errors are one line on stderr; exit 0 ok, 2 bad input, 1 failure. */
#include "bg_components_cli.h"
#include "blas_select.h"
#include "bg_scenario.h"
#include "bg_sim.h"
#include "run_internal.h"

#include <simgrid/engine.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xbt/log.h>

void openblas_set_num_threads(int n);   /* OpenBLAS: one thread, the simulator owns the parallelism story */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: byzgrid run SCENARIO.ini [--out DIR] [--set section.key=value]... [--driver]\n"
            "                   [--progress | --quiet] [--cfg=simgrid/option:value]... [--log=...]\n"
            "       byzgrid platform SCENARIO.ini [--out DIR] [--set section.key=value]...   the platform XML it runs on\n"
            "       byzgrid list            components: models, methods, compressors, aggregators, attacks, datasets\n"
            "       byzgrid keys            every scenario key: default, meaning, allowed values\n"
            "       byzgrid aggregate --rule R --f F [--pre P] < vectors.csv     one aggregation\n"
            "       byzgrid compress --name C [--k K] < vectors.csv               bytes + decoded vector\n"
            "       byzgrid attack --name A --f F < honest.csv                    Byzantine vectors\n"
            "                               (their options are the keys of [aggregator], [compressor], [attack]:\n"
            "                               --cc-tau 5 sets aggregator.cc_tau; byzgrid aggregate --help lists them)\n"
            "       byzgrid --version | --help\n"
            "\n"
            "byzgrid simulates Byzantine-robust, compressed distributed learning on a SimGrid platform: workers\n"
            "compute real gradients on real data, compress them, and send messages whose simulated size is their\n"
            "real encoding; Byzantine workers attack; the server filters with a robust aggregator.\n"
            "\n"
            "run options:\n"
            "  --out DIR        output folder (default out/NAME, NAME = run.name or the scenario's file name);\n"
            "                   writes trace.csv (one row per evaluation, flushed as it goes) and summary.json\n"
            "                   into DIR.running-XXXXXX beside it, renamed to DIR at the end (an earlier run in\n"
            "                   DIR stays until then, and is replaced whole). Ctrl-C (SIGINT) or SIGTERM stops at\n"
            "                   the next round boundary with\n"
            "                   both files written (summary.json says \"interrupted\": true), exit 130 / 143\n"
            "  --set S.K=V      override a scenario key, e.g. --set attack.name=alie --set run.rounds=500;\n"
            "                   summary.json's config lists every key as it ran and where it came from\n"
            "  --driver         run the same rounds in-process without SimGrid (no time columns; same maths)\n"
            "  --progress       progress lines on stderr every second (default: only for runs over ~2 s)\n"
            "  --quiet          no progress lines\n"
            "  --cfg=K:V        SimGrid option, e.g. --cfg=network/model:CM02 (the scenario's platform keys\n"
            "                   are applied first; see `byzgrid run X --cfg=help` for SimGrid's list)\n"
            "  --log=...        SimGrid logging: --log=byzgrid.thres:verbose prints every round's events\n"
            "                   (broadcast, messages and their sizes, aggregation, evaluation, finalize)\n"
            "\n"
            "platform: prints the SimGrid XML generated from [platform] (topology = star, racks, sites, fat-tree;\n"
            "  every run also writes it to its folder as platform.xml); for topology = file, the file itself;\n"
            "  --out DIR also writes DIR/platform.xml with the profile files it names (variability, faults.links)\n"
            "\n"
            "example:\n"
            "  byzgrid run scenarios/quickstart.ini\n"
            "  byzgrid platform scenarios/quickstart.ini --set platform.topology=racks --set platform.rack_size=4\n"
            "  byzgrid run scenarios/fmnist-cnn.ini --set partition.name=dirichlet --set attack.name=alie\n"
            "  byzgrid run scenarios/quickstart.ini --set round.deadline_s=0.3 --set \"faults.hosts=w3@20s..60s, w5@30s\"\n"
            "  /usr/bin/python3 analysis/plot_trace.py out/quickstart/trace.csv\n"
            "\n"
            "exit status: 0 success, 2 bad usage/scenario/data/platform, 1 failure during the run\n");
}

static void print_registry(const bg_registry_t *r)
{
    for (size_t i = 0; r->name_at(i); i++)
        printf("  %-16s %s\n", r->name_at(i), r->summary_at(i));
}

static int cmd_list(void)
{
    printf("models:\n");
    print_registry(&bg_models);
    printf("methods:\n");
    for (size_t i = 0; bg_method_registry[i]; i++)
        printf("  %-16s %s%s\n", bg_method_registry[i]->name, bg_method_registry[i]->summary,
               bg_method_registry[i]->reconstructed ? " [reconstructed]" : "");
    printf("compressors:\n");
    print_registry(&bg_compressors);
    printf("pre-aggregators:\n");
    print_registry(&bg_preaggregators);
    printf("aggregators:\n");
    print_registry(&bg_aggregators);
    printf("attacks (kind; what it may read):\n");
    for (size_t i = 0; bg_attack_registry[i]; i++) {
        const bg_attack_ops_t *a = bg_attack_registry[i];
        printf("  %-16s %s [%s]\n", a->name, a->summary,
               a->kind == BG_ATK_OMNISCIENT ? "omniscient" : a->kind == BG_ATK_BLIND ? "blind" : "data");
        printf("  %-16s reads: %s\n", "", a->reads);
    }
    printf("datasets (data.dataset; or data.train = a LIBSVM file, or IDX images with data.train_labels):\n");
    print_registry(&bg_datasets);
    printf("partitions (partition.name):\n");
    print_registry(&bg_partitions);
    return 0;
}

static int report(const bg_err_t *err, int code)
{
    char buf[2048];
    fprintf(stderr, "byzgrid: %s\n", bg_err_format(err, buf, sizeof buf));
    return code;
}

/* The scenario a command names, with its --set overrides (sets is freed): 0, or the exit code after one line. */
static int load_scenario(const char *cmd, const char *scenario, const char **sets, size_t n_sets, bg_scenario_t *sc,
                         bg_err_t *err)
{
    if (!scenario) {
        fprintf(stderr, "byzgrid: %s needs a scenario file (see byzgrid --help)\n", cmd);
        free(sets);
        return 2;
    }
    bg_err_clear(err);
    int rc = bg_scenario_load(scenario, sets, n_sets, sc, err);
    free(sets);
    if (rc) {
        bg_scenario_destroy(sc);
        return report(err, rc == BG_ENOMEM ? 1 : 2);
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *scenario = NULL, *out = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    int driver = 0, progress = -1;
    char cmdline[4096] = "byzgrid";
    for (int i = 1; i < argc; i++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") || !strcmp(a, "--set")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "byzgrid: %s needs a value (see byzgrid --help)\n", a);
                free(sets);
                return 2;
            }
            if (!strcmp(a, "--out"))
                out = argv[++i];
            else
                sets[n_sets++] = argv[++i];
        } else if (!strncmp(a, "--out=", 6)) {
            out = a + 6;
        } else if (!strncmp(a, "--set=", 6)) {
            sets[n_sets++] = a + 6;
        } else if (!strcmp(a, "--driver")) {
            driver = 1;

        } else if (!strcmp(a, "--progress")) {
            progress = 1;
        } else if (!strcmp(a, "--quiet")) {
            progress = 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "byzgrid: unknown option '%s' (see byzgrid --help)\n", a);
            free(sets);
            return 2;
        } else if (!scenario) {
            scenario = a;
        } else {
            fprintf(stderr, "byzgrid: one scenario per run ('%s' and '%s' given)\n", scenario, a);
            free(sets);
            return 2;
        }
    }
    bg_scenario_t sc;
    bg_err_t err;
    int rc = load_scenario("run", scenario, sets, n_sets, &sc, &err);
    if (rc)
        return rc;
    char outbuf[1024];
    if (!out) {
        /* run.name names a folder inside out/: a plain name, never a path. */
        const char *nm = sc.name;
        if (!nm[0] || strchr(nm, '/') || !strcmp(nm, ".") || !strcmp(nm, "..")) {
            bg_err_set(&err, BG_EINVAL, NULL, 0, "run.name '%s' must be a plain name (no '/', not '.' or '..'): it "
                       "names the output folder out/NAME; use --out for a folder elsewhere", nm);
            bg_err_key(&err, "run.name");
            bg_scenario_locate(&sc, &err);
            bg_scenario_destroy(&sc);
            return report(&err, 2);
        }
        snprintf(outbuf, sizeof outbuf, "out/%s", nm);
        out = outbuf;
    }
    bg_out_t od;
    if ((rc = bg_out_begin(&od, out, &err))) {
        bg_scenario_destroy(&sc);
        return report(&err, rc == BG_EIO ? 1 : 2);
    }
    out = od.final;
    if (progress == -1)
        progress = sc.progress;
    bg_run_opts_t o = {.out_dir = od.tmp, .progress = progress, .record_rounds = 0, .command_line = cmdline};
    bg_run_result_t res;
    rc = driver ? bg_driver_run_scenario(&sc, &o, &res, &err) : bg_sim_run(&sc, &o, &res, &err);
    if (rc) {
        bg_scenario_locate(&sc, &err);
        int started = res.setup_time > 0;
        const char *kept = bg_out_abandon(&od, started);
        if (kept && kept == od.tmp) {   /* an earlier run is in the output folder: this one's files are beside it */
            size_t l = strlen(err.msg);
            snprintf(err.msg + l, sizeof err.msg - l, " (this run's files: %.400s)", kept);
        }
        bg_run_result_destroy(&res);
        bg_scenario_destroy(&sc);
        return report(&err, (started || rc == BG_ENOMEM) ? 1 : 2);
    }
    if ((rc = bg_out_commit(&od, &err))) {
        bg_run_result_destroy(&res);
        bg_scenario_destroy(&sc);
        return report(&err, 1);
    }
    if (res.interrupted) {
        fprintf(stderr, "byzgrid: %s: interrupted by %s after %zu of %zu rounds; wrote %s/trace.csv and "
                "%s/summary.json (marked \"interrupted\": true)\n", sc.name, bg_signal_name(res.interrupted),
                res.rounds, sc.learn.rounds, out, out);
        rc = 128 + res.interrupted;
        bg_run_result_destroy(&res);
        bg_scenario_destroy(&sc);
        return rc;
    }
    char simbuf[64] = "";
    if (!driver)
        snprintf(simbuf, sizeof simbuf, ", simulated %.3f s", res.sim_time);
    char evbuf[1100] = "";
    if (!driver && sc.events)
        snprintf(evbuf, sizeof evbuf, ", %s/events.csv", out);
    fprintf(stderr, "byzgrid: %s: %zu rounds, test_acc %.4f, test_loss %.4f%s, %.2f s wall; wrote %s/trace.csv%s and "
            "%s/summary.json\n", sc.name, res.rounds, res.final.test_acc, res.final.test_loss, simbuf, res.wall_time,
            out, evbuf, out);
    bg_run_result_destroy(&res);
    bg_scenario_destroy(&sc);
    return 0;
}

/* Copy the file at path to stdout. */
static int print_file(const char *path, bg_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return bg_err_set(err, BG_EIO, path, 0, "cannot read the platform: %s", strerror(errno));
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, k, stdout);
    fclose(f);
    return BG_OK;
}

/* byzgrid platform SCENARIO [--out DIR] [--set k=v]...: the XML the run would load, on stdout; with --out also
 * written into DIR with its profile files, as a run writes them. */
static int cmd_platform(int argc, char **argv)
{
    const char *scenario = NULL, *out = NULL;
    const char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t n_sets = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc)
            sets[n_sets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6))
            sets[n_sets++] = argv[i] + 6;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && !scenario)
            scenario = argv[i];
        else {
            fprintf(stderr, "byzgrid: platform: unexpected '%s' (usage: byzgrid platform SCENARIO.ini [--out DIR] "
                            "[--set section.key=value]...)\n", argv[i]);
            free(sets);
            return 2;
        }
    }
    bg_scenario_t sc;
    bg_err_t err;
    int rc = load_scenario("platform", scenario, sets, n_sets, &sc, &err);
    if (rc)
        return rc;
    if (out) {
        char xml[1100];
        if (bg_make_dirs(out))
            rc = bg_err_set(&err, BG_EIO, out, 0, "cannot create the folder: %s", strerror(errno));
        else if (!(rc = bg_platform_prepare(&sc.plat, sc.platform, sc.learn.n, sc.learn.seed, out, xml, sizeof xml,
                                            &err)))
            rc = print_file(xml, &err);
    } else if (bg_platform_topology(&sc.plat, sc.platform) == BG_TOPO_FILE) {
        rc = print_file(sc.platform, &err);
    } else {
        rc = bg_platform_write(&sc.plat, sc.learn.n, sc.learn.seed, stdout, NULL, &err);
    }
    if (rc)
        bg_scenario_locate(&sc, &err);
    bg_scenario_destroy(&sc);
    return rc ? report(&err, rc == BG_ENOMEM ? 1 : 2) : 0;
}

/* SimGrid's reason in its abort output: the first line, without the "[0.000000] file:line: [cat/CRITICAL] " and
 * "Uncaught exception std::x: " prefixes. */
static void simgrid_reason(char *text)
{
    char *nl = strchr(text, '\n');
    if (nl)
        *nl = '\0';
    char *p = text, *q;
    if ((q = strstr(p, "CRITICAL] ")) || (q = strstr(p, "ERROR] ")))
        p = strchr(q, ']') + 2;
    if (!strncmp(p, "Uncaught exception ", 19) && (q = strstr(p + 19, ": ")))
        p = q + 2;
    memmove(text, p, strlen(p) + 1);
}

/* Each --cfg=... and --log=... option on its own, tried by simgrid_init in a forked child with its output captured
 * (SimGrid 3.32 aborts the process on a bad one, or dumps every config key): 0 when all pass, else one line, 2.
 * --cfg=help becomes SimGrid's --cfg-help (its option list, exit 0). */
static int check_simgrid_options(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--cfg=help")) {
            argv[i] = (char *)"--cfg-help";
            continue;
        }
        if (strncmp(argv[i], "--cfg=", 6) && strncmp(argv[i], "--log=", 6))
            continue;
        int p[2];
        if (pipe(p))
            continue;   /* cannot try it: SimGrid judges it */
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            close(p[0]);
            close(p[1]);
            continue;
        }
        if (pid == 0) {
            close(p[0]);
            dup2(p[1], 2);
            FILE *null = freopen("/dev/null", "w", stdout);
            (void)null;
            char *args[] = {argv[0], argv[i], NULL};
            int n = 2;
            simgrid_init(&n, args);
            _exit(0);
        }
        close(p[1]);
        char text[4096];
        size_t len = 0;
        ssize_t k;
        while ((k = read(p[0], text + len, sizeof text - 1 - len)) > 0 || (k < 0 && errno == EINTR))
            if (k > 0 && (len += (size_t)k) == sizeof text - 1)
                break;
        close(p[0]);
        text[len] = '\0';
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            continue;
        simgrid_reason(text);
        fprintf(stderr, "byzgrid: %s: %s (SimGrid refuses it; %s)\n", argv[i], text[0] ? text : "invalid",
                argv[i][2] == 'c' ? "`byzgrid run X --cfg=help` lists its options"
                                  : "e.g. --log=byzgrid.thres:verbose");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bg_blas_select(argv, argc > 1 && !strcmp(argv[1], "run"));   /* may re-execute once with better kernels */
    openblas_set_num_threads(1);
    if (argc < 2) {
        fprintf(stderr, "byzgrid: no command: run, platform, list, keys, aggregate, compress or attack (byzgrid --help "
                        "explains them)\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("%s\n", bg_version_string());
        return 0;
    }
    if (!strcmp(cmd, "list"))
        return cmd_list();
    if (!strcmp(cmd, "keys")) {
        printf("scenario keys ([section], key, default, meaning [allowed values]); paths are relative to the scenario\n"
               "file (with --set, to the current folder); --set section.key=value overrides any of them; summary.json\n"
               "lists every one as it ran:\n");
        bg_scenario_print_keys(stdout);
        return 0;
    }
    if (!strcmp(cmd, "platform"))
        return cmd_platform(argc, argv);
    if (!strcmp(cmd, "aggregate") || !strcmp(cmd, "compress") || !strcmp(cmd, "attack"))
        return bg_cli_components(argc, argv);
    if (!strcmp(cmd, "run")) {
        /* SimGrid's own configuration chatter is noise for users, and so are the energy plugins' lines (every
         * host's Joules at exit; summary.json has them); --log=... still overrides these. */
        xbt_log_control_set("xbt_cfg.thres:warning host_energy.thres:error link_energy.thres:warning "
                            "surf_parse.thres:warning");
        if (check_simgrid_options(argc, argv))
            return 2;
        simgrid_init(&argc, argv);
        bg_interrupt_install();   /* after simgrid_init, which installs SimGrid's own SIGINT handler */
        return cmd_run(argc, argv);
    }
    fprintf(stderr, "byzgrid: unknown command '%s' (expected run, platform, list, keys; see byzgrid --help)\n", cmd);
    return 2;
}
